/**
 * Target specs: `SCOPE:OBJECT:LOCATION` (docs/design.md, "Targets").
 *
 *     docker/zookeeper:libzookeeper_mt:zoo_set2
 *     pid/1234:libc:malloc@@GLIBC_2.2.5
 *     k8s/default/web-7d4b9/nginx:exe:ngx_http_*
 *     docker/pg:postgres:postgresql:query__start     (USDT: provider:name)
 *     host:/usr/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo
 *     web:libc                                       (a bare container name)
 *
 * SCOPE and OBJECT never contain `:`; everything after the second `:` is the
 * LOCATION, which may (a USDT `provider:name`). Pure: no I/O.
 */
import { UsageError } from "../errors.js";

/** Where the processes are. */
export type Scope =
  | { readonly kind: "docker" | "podman"; readonly ref: string }
  | { readonly kind: "containerd"; readonly namespace: string | undefined; readonly id: string }
  | { readonly kind: "crio"; readonly id: string }
  | { readonly kind: "k8s"; readonly namespace: string; readonly pod: string; readonly container: string | undefined }
  | { readonly kind: "pid"; readonly pid: number }
  | { readonly kind: "host" }
  /** A bare name, looked up across the runtimes present. */
  | { readonly kind: "name"; readonly name: string };

/** A parsed target spec; OBJECT and LOCATION are optional (`probec list docker/web`). */
export interface TargetSpec {
  readonly text: string;
  readonly scope: Scope;
  /** A library name (`libc`, `libssl.so.3`), an absolute path inside the scope, or `exe`. */
  readonly object: string | undefined;
  /** A symbol, glob, `sym+0x10`, address, or USDT `provider:name`. */
  readonly location: string | undefined;
}

const RUNTIMES = ["docker", "podman", "containerd", "crio", "k8s", "pid", "host"] as const;

/** Parses a target spec, throwing a {@link UsageError} that names the spec and shows the accepted forms. */
export function parseTargetSpec(text: string): TargetSpec {
  const first = text.indexOf(":");
  const scopeText = first < 0 ? text : text.slice(0, first);
  const rest = first < 0 ? undefined : text.slice(first + 1);
  const second = rest === undefined ? -1 : rest.indexOf(":");
  const object = rest === undefined ? undefined : second < 0 ? rest : rest.slice(0, second);
  const location = rest === undefined || second < 0 ? undefined : rest.slice(second + 1);
  if (object === "") throw bad(text, "the object between the first two ':' is empty");
  if (location === "") throw bad(text, "the location after the second ':' is empty");
  return { text, scope: parseScope(scopeText, text), object, location };
}

function parseScope(scope: string, text: string): Scope {
  if (scope === "") throw bad(text, "the scope before the first ':' is empty");
  if (scope === "host") return { kind: "host" };
  const slash = scope.indexOf("/");
  if (slash < 0) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(scope)) throw bad(text, `"${scope}" is not a container name`);
    return { kind: "name", name: scope };
  }
  const kind = scope.slice(0, slash);
  const parts = scope.slice(slash + 1).split("/");
  if (parts.some((p) => p === "")) throw bad(text, `"${scope}" has an empty part`);
  switch (kind) {
    case "docker":
    case "podman":
      if (parts.length !== 1) throw bad(text, `${kind} scopes are ${kind}/NAME or ${kind}/ID`);
      return { kind, ref: parts[0] as string };
    case "containerd":
      if (parts.length > 2) throw bad(text, "containerd scopes are containerd/ID or containerd/NAMESPACE/ID");
      return parts.length === 2 ? { kind, namespace: parts[0], id: parts[1] as string } : { kind, namespace: undefined, id: parts[0] as string };
    case "crio":
      if (parts.length !== 1) throw bad(text, "crio scopes are crio/ID");
      return { kind, id: parts[0] as string };
    case "k8s":
      if (parts.length < 2 || parts.length > 3) throw bad(text, "k8s scopes are k8s/NAMESPACE/POD or k8s/NAMESPACE/POD/CONTAINER");
      return { kind, namespace: parts[0] as string, pod: parts[1] as string, container: parts[2] };
    case "pid": {
      const pid = parts.length === 1 && /^[1-9][0-9]{0,9}$/.test(parts[0] as string) ? Number(parts[0]) : NaN;
      if (!Number.isSafeInteger(pid) || pid > 4194304) throw bad(text, `"${parts.join("/")}" is not a process id`);
      return { kind, pid };
    }
    default:
      throw bad(text, `unknown scope kind "${kind}"`);
  }
}

function bad(text: string, why: string): UsageError {
  return new UsageError(`target "${text}": ${why}`, [
    `write SCOPE[:OBJECT[:LOCATION]], where SCOPE is ${RUNTIMES.map((r) => (r === "host" ? r : `${r}/…`)).join(", ")} or a container name`,
  ]);
}
