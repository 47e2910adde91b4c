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
 *
 * Selector scopes (issue 14) pick containers by label, with Kubernetes'
 * label selector syntax (src/dsl/label-selector.ts):
 *
 *     docker/app=web                     containers labelled app=web
 *     docker/com.docker.compose.service=web
 *     docker/*                           every running container
 *     containerd/k8s.io/app=web          (NAMESPACE/ optional: every namespace)
 *     k8s/shop/app=web/nginx,sidecar     pods by their labels, then containers by name
 *     k8s/shop/"tier in (api,worker)"/nginx   a quoted selector (NAMESPACE `*`: every one)
 *
 * A scope segment holding `,`, spaces, `(`, `)` or `:` is quoted with the
 * same rule as a quoted OBJECT: `"…"`, nothing escaped, no `"` inside. A
 * segment is a selector when it holds `=`, `!`, `<`, `>`, `,`, `(` or a
 * space, or is quoted; an unquoted plain word stays a name (`docker/web`,
 * `k8s/shop/web-7d4b9`), so the bare-key selector `canary` is written
 * quoted: `docker/"canary"`.
 * Pure: no I/O.
 */
import { UsageError } from "../errors.js";
import { parseLabelSelector, type LabelSelector } from "./label-selector.js";
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
  | { readonly kind: "name"; readonly name: string }
  | SelectorScope;

/** A scope that picks any number of containers by label (issue 14); `*` picks every one. */
export interface SelectorScope {
  readonly kind: "select";
  readonly runtime: "docker" | "podman" | "containerd" | "k8s";
  /** The scope as written, for messages. */
  readonly text: string;
  /** k8s: the pod namespace, or undefined for `*` (every namespace); containerd: its namespace, undefined for every one. */
  readonly namespace: string | undefined;
  /** The label selector (pod labels for k8s, container labels otherwise), or undefined for `*` / a named pod. */
  readonly selector: LabelSelector | undefined;
  /** k8s: a pod named instead of selected (`k8s/NS/POD/A,B`, or POD in every namespace). */
  readonly pod: string | undefined;
  /** k8s: the container names to keep (`/nginx,sidecar`), or undefined for every app container of the pod. */
  readonly containers: readonly string[] | undefined;
}

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
  const first = scopeEnd(text);
  if (first === -2) return "a quoted scope segment has no closing '\"'";
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

/** The index of the first `:` outside a quoted scope segment; the length when there is none; -2 for an unclosed quote. */
function scopeEnd(text: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' && (quoted || i === 0 || text[i - 1] === "/")) quoted = !quoted;
    else if (c === ":" && !quoted) return i;
  }
  return quoted ? -2 : -1;
}

/** The scope's `/`-separated segments, each marked quoted or not; quotes removed. */
function segments(scope: string): { text: string; quoted: boolean }[] | string {
  const out: { text: string; quoted: boolean }[] = [];
  let i = 0;
  for (;;) {
    if (scope[i] === '"') {
      const close = scope.indexOf('"', i + 1);
      if (close < 0) return "a quoted scope segment has no closing '\"'";
      out.push({ text: scope.slice(i + 1, close), quoted: true });
      i = close + 1;
      if (i < scope.length && scope[i] !== "/")
        return `after the quoted segment "${out[out.length - 1]?.text ?? ""}", expected '/' or the end, not "${scope.slice(i)}"`;
    } else {
      const slash = scope.indexOf("/", i);
      const end = slash < 0 ? scope.length : slash;
      const part = scope.slice(i, end);
      if (part.includes('"')) return `the segment "${part}" holds a '"': quote the whole segment ("…")`;
      out.push({ text: part, quoted: false });
      i = end;
    }
    if (i >= scope.length) return out;
    i++; // the '/'
  }
}

/** Whether a segment is a label selector (or `*`) rather than a name. */
function isSelector(s: { text: string; quoted: boolean }): boolean {
  return s.quoted || s.text === "*" || /[=!<>,( ]/.test(s.text);
}

function selectorOf(s: { text: string; quoted: boolean }): LabelSelector | undefined {
  return s.text === "*" && !s.quoted ? undefined : parseLabelSelector(s.text);
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
  const segs = segments(scope.slice(slash + 1));
  if (typeof segs === "string") throw bad(text, segs);
  if (segs.some((p) => p.text === "" && !p.quoted)) throw bad(text, `"${scope}" has an empty part`);
  const parts = segs.map((p) => p.text);
  if (kind !== "docker" && kind !== "podman" && kind !== "containerd" && kind !== "k8s" && segs.some((p) => p.quoted)) {
    throw bad(text, `${kind} scopes take no quoted part`);
  }
  switch (kind) {
    case "docker":
    case "podman":
      if (parts.length !== 1) throw bad(text, `${kind} scopes are ${kind}/NAME or ${kind}/ID, ${kind}/SELECTOR or ${kind}/*`);
      if (isSelector(segs[0] as { text: string; quoted: boolean })) {
        return {
          kind: "select",
          runtime: kind,
          text: scope,
          namespace: undefined,
          selector: selectorOf(segs[0] as { text: string; quoted: boolean }),
          pod: undefined,
          containers: undefined,
        };
      }
      return { kind, ref: parts[0] as string };
    case "containerd": {
      if (parts.length > 2) throw bad(text, "containerd scopes are containerd/ID, containerd/NAMESPACE/ID or containerd/[NAMESPACE/]SELECTOR");
      const last = segs[segs.length - 1] as { text: string; quoted: boolean };
      if (isSelector(last)) {
        return {
          kind: "select",
          runtime: kind,
          text: scope,
          namespace: parts.length === 2 ? parts[0] : undefined,
          selector: selectorOf(last),
          pod: undefined,
          containers: undefined,
        };
      }
      return parts.length === 2 ? { kind, namespace: parts[0], id: parts[1] as string } : { kind, namespace: undefined, id: parts[0] as string };
    }
    case "crio":
      if (parts.length !== 1) throw bad(text, "crio scopes are crio/ID");
      return { kind, id: parts[0] as string };
    case "k8s": {
      if (parts.length < 2 || parts.length > 3) {
        throw bad(text, "k8s scopes are k8s/NAMESPACE/POD[/CONTAINER] or k8s/NAMESPACE/SELECTOR[/CONTAINER[,CONTAINER…]], NAMESPACE * for all");
      }
      const [ns, pod, names] = segs as [{ text: string; quoted: boolean }, { text: string; quoted: boolean }, { text: string; quoted: boolean } | undefined];
      const containers = names?.text.split(",").map((n) => n.trim());
      if (containers?.some((n) => n === "")) throw bad(text, `the container list "${names?.text}" has an empty name`);
      if (!isSelector(ns) && !isSelector(pod) && (containers === undefined || containers.length === 1)) {
        return { kind, namespace: ns.text, pod: pod.text, container: containers?.[0] };
      }
      if (ns.quoted || (isSelector(ns) && ns.text !== "*")) throw bad(text, `the namespace "${ns.text}" is a name or *, not a selector`);
      return {
        kind: "select",
        runtime: kind,
        text: scope,
        namespace: ns.text === "*" ? undefined : ns.text,
        selector: isSelector(pod) ? selectorOf(pod) : undefined,
        pod: isSelector(pod) ? undefined : pod.text,
        containers,
      };
    }
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
    `write SCOPE[:OBJECT[:LOCATION]], where SCOPE is ${RUNTIMES.map((r) => (r === "host" ? r : `${r}/…`)).join(", ")} or a container name, and an OBJECT holding ':' is quoted ("/memfd:NAME"); a selector holding ',', spaces or parentheses is quoted too: k8s/NS/"tier in (api,worker)"/CONTAINER`,
  ]);
}
