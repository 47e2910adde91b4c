/**
 * `probec resolve SCOPE`: what a scope is, without probing anything: the
 * runtime, the container's id and name, every process (pid here and in its
 * namespaces), their roots, the overlay layers, and the objects they map.
 */
import { UsageError, listRunningContainers, parseTargetSpec, resolveScope, type ResolvedScope } from "../../index.js";
import { scopeNamespaces, type ScopeNamespace } from "../internal.js";
import { EXIT, type CliIo } from "../io.js";
import { renderTable } from "../table.js";

/** Parsed arguments of `probec resolve`. */
export interface ResolveArgs {
  /** The scope; undefined means every running container. */
  readonly scope: string | undefined;
  readonly json: boolean;
}

/** Runs `probec resolve`; returns the exit code. */
export async function resolveCommand(args: ResolveArgs, io: CliIo): Promise<number> {
  if (args.scope === undefined) return resolveAll(args, io);
  const spec = parseTargetSpec(args.scope);
  if (spec.object !== undefined) {
    throw new UsageError(`"${args.scope}" is a target, not a scope`, [`resolve the scope alone: probec resolve ${args.scope.split(":")[0]}`]);
  }
  const scope = await resolveScope(spec.scope);
  const views = scopeNamespaces(scope);
  if (args.json) io.stdout.write(`${JSON.stringify(toJson(scope, views), null, 2)}\n`);
  else io.stdout.write(render(scope, views));
  return EXIT.ok;
}

/** Every running container on the machine, whatever its runtime (`listRunningContainers`: cgroups, named by every runtime of the registry that answers). */
async function resolveAll(args: ResolveArgs, io: CliIo): Promise<number> {
  const rows = (await listRunningContainers()).map((c) => ({
    runtime: c.runtime,
    id: c.id,
    name: c.name,
    ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
    pids: c.processes.map((p) => p.pid),
    nsPid: c.processes.map((p) => p.nsPid),
  }));
  if (args.json) {
    io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else if (rows.length > 0) {
    io.stdout.write(
      renderTable(
        [{ header: "RUNTIME" }, { header: "CONTAINER" }, { header: "NAME" }, { header: "PIDS" }],
        // A 64-hex id is shown as docker shows it, by 12 digits; containerd's chosen ids in full.
        rows.map((r) => [r.runtime, /^[0-9a-f]{64}$/.test(r.id) ? r.id.slice(0, 12) : r.id, r.name ?? "-", r.pids.join(",")]),
      ),
    );
  } else {
    io.stderr.write("probec: no process on this machine belongs to a container\n");
  }
  return rows.length > 0 ? EXIT.ok : EXIT.noMatch;
}

function render(scope: ResolvedScope, views: readonly ScopeNamespace[]): string {
  const head = [
    ["runtime", scope.runtime],
    ...(scope.containerId === undefined ? [] : [["container", `${scope.containerId}${scope.containerName === undefined ? "" : ` (${scope.containerName})`}`]]),
    // A selector scope (docker/app=web): one line per container it picked.
    ...(scope.containers ?? []).map((c) => ["container", `${c.id}${selectedName(c)}`]),
    ...scope.layers.map((layer, i) => [i === 0 ? "layers" : "", layer]),
    ...views.map((v) => ["root", `${v.root} (mount namespace ${v.mntNs})`]),
  ];
  let out = head.map(([k, v]) => `${(k ?? "").padEnd(10)}${v ?? ""}`).join("\n") + "\n";
  if (scope.processes.length > 0) {
    out += `\n${renderTable(
      [{ header: "PID", align: "right" }, { header: "NSPID" }, { header: "COMM" }, { header: "MNT NS", align: "right" }],
      scope.processes.map((p) => [String(p.pid), p.nsPid.join(","), p.comm, String(p.mntNs)]),
    )}`;
  }
  for (const v of views) {
    out += `\nmapped by pid ${v.pid}:\n${renderTable(
      [{ header: "PATH" }, { header: "INODE", align: "right" }, { header: "STATE" }, { header: "OPEN THROUGH" }],
      v.objects.map((o) => [o.path, String(o.inode), o.kind === "memfd" ? "memfd" : o.deleted ? "deleted" : "-", o.mapFiles]),
    )}`;
  }
  return out;
}

/** ` (NAME)`, or ` (NAMESPACE/POD/CONTAINER)` for a pod's, or "" when it has no name. */
function selectedName(c: NonNullable<ResolvedScope["containers"]>[number]): string {
  if (c.pod !== undefined) return ` (${c.pod.namespace}/${c.pod.name}/${c.pod.container})`;
  return c.name === undefined ? "" : ` (${c.name})`;
}

function toJson(scope: ResolvedScope, views: readonly ScopeNamespace[]): unknown {
  return {
    runtime: scope.runtime,
    containerId: scope.containerId ?? null,
    containerName: scope.containerName ?? null,
    ...(scope.containers === undefined
      ? {}
      : {
          containers: scope.containers.map((c) => ({
            runtime: c.runtime,
            id: c.id,
            name: c.name ?? null,
            ...(c.runtimeNamespace === undefined ? {} : { namespace: c.runtimeNamespace }),
            ...(c.pod === undefined ? {} : { pod: { namespace: c.pod.namespace, name: c.pod.name, container: c.pod.container } }),
            labels: c.labels,
            mntNs: c.mntNs,
            pids: c.processes.map((p) => p.pid),
          })),
        }),
    labels: scope.labels,
    layers: scope.layers,
    processes: scope.processes.map((p) => ({ pid: p.pid, nsPid: p.nsPid, comm: p.comm, mntNs: p.mntNs, pidNs: p.pidNs })),
    namespaces: views.map((v) => ({
      mntNs: v.mntNs,
      pid: v.pid,
      root: v.root,
      objects: v.objects.map((o) => ({
        path: o.path,
        inode: o.inode.toString(),
        dev: o.dev,
        kind: o.kind,
        deleted: o.deleted,
        mapFiles: o.mapFiles,
      })),
    })),
  };
}
