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
 * SCOPE never contains `:`; everything after the OBJECT's `:` is the
 * LOCATION, which may (a USDT `provider:name`). An OBJECT whose name holds a
 * `:` is written in double quotes (PITFALLS 32): libstapsdt's memfd
 *
 *     pid/4242:"/memfd:libstapsdt:salp-demo":salp-demo:p1
 *     pid/4242:"memfd:libstapsdt:*":salp-demo:p1        (every such memfd)
 *     pid/4242:"/tmp/salp-demo-*.so":salp-demo:p1       (a glob over mapped paths)
 *
 * The quotes are not part of the object; nothing inside them is escaped
 * (a `"` cannot be written, and no mapped path a user names needs one).
 * Pure: no I/O.
 */
import { UsageError } from "../errors.js";
import { SCOPE_PREFIXES } from "../plan/runtimes.js";

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
  /**
   * A library or executable name (`libc`, `libssl.so.3`, `postgres`), an
   * absolute path inside the scope, `memfd:NAME`, or `exe`; unquoted. May
   * be a glob (`/tmp/salp-demo-*.so`) over the objects a process maps.
   */
  readonly object: string | undefined;
  /** A symbol, glob, `sym+0x10`, address, or USDT `provider:name`. */
  readonly location: string | undefined;
}

const RUNTIMES = [...SCOPE_PREFIXES, "host"] as const;

/** Parses a target spec, throwing a {@link UsageError} that names the spec and shows the accepted forms. */
export function parseTargetSpec(text: string): TargetSpec {
  const split = splitTarget(text);
  if (typeof split === "string") throw bad(text, split);
  return { text, scope: parseScope(split.scope, text), object: split.object, location: split.location };
}

/** A target text cut into its parts, unchecked beyond the cut itself. */
export interface TargetParts {
  readonly scope: string;
  /** The object, without its quotes. */
  readonly object: string | undefined;
  readonly location: string | undefined;
}

/**
 * Cuts `SCOPE[:OBJECT[:LOCATION]]` at its colons, honouring a quoted OBJECT.
 * Returns why it cannot (an empty part, an unclosed quote) as a string, so
 * that the DSL reports it as a diagnostic and the CLI as a usage error.
 */
export function splitTarget(text: string): TargetParts | string {
  const first = text.indexOf(":");
  const scope = first < 0 ? text : text.slice(0, first);
  if (first < 0) return { scope, object: undefined, location: undefined };
  const rest = text.slice(first + 1);
  let object: string;
  let after: string;
  if (rest.startsWith('"')) {
    const close = rest.indexOf('"', 1);
    if (close < 0) return "the quoted object has no closing '\"'";
    object = rest.slice(1, close);
    after = rest.slice(close + 1);
    if (object === "") return 'the quoted object "" is empty';
    if (after !== "" && !after.startsWith(":")) return `after the quoted object "${object}", expected ':' or the end, not "${after}"`;
  } else {
    const second = rest.indexOf(":");
    object = second < 0 ? rest : rest.slice(0, second);
    after = second < 0 ? "" : rest.slice(second);
    if (object === "") return "the object between the first two ':' is empty";
  }
  if (after === "") return { scope, object, location: undefined };
  const location = after.slice(1);
  if (location === "") return rest.startsWith('"') ? `the location after the quoted object "${object}" is empty` : "the location after the second ':' is empty";
  return { scope, object, location };
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
    `write SCOPE[:OBJECT[:LOCATION]], where SCOPE is ${RUNTIMES.map((r) => (r === "host" ? r : `${r}/…`)).join(", ")} or a container name, and an OBJECT holding ':' is quoted ("/memfd:NAME")`,
  ]);
}
