/**
 * Which scopes `--follow` can track, and which containers each one means.
 * A probe file is followed as a whole: each container that starts and
 * matches gets the whole file compiled for it alone (the same compile step
 * as without --follow, src/follow/container.ts), so what is attached to it
 * is exactly what `probec run` would attach to that container.
 *
 * Followed:
 *
 * - a named container of docker or podman (`docker/web`: the container
 *   called so, whichever id it has after a restart or a re-creation);
 * - a selector scope (src/discovery/select.ts): `docker/SELECTOR`,
 *   `docker/*`, `podman/SELECTOR`, `containerd/[NS/]SELECTOR` and
 *   `k8s/NAMESPACE/SELECTOR[/CONTAINER,…]` (pods of containerd's CRI or of
 *   Docker), decided by the same {@link scopeMatcher} as without --follow.
 */
import { UsageError } from "../errors.js";
import { checkProbeFile, parseProbeFile, parseTargetSpec, type SelectorScope } from "../dsl/index.js";
import { splitTarget } from "../dsl/target-spec.js";
import { scopeMatcher, type ContainerInfo } from "../discovery/select.js";
import type { ClientRuntime } from "../discovery/runtimes/registry.js";
import type { PlanAggregation } from "../plan/index.js";

/** A scope that `--follow` tracks: which runtimes to watch, and which of their containers match. */
export interface FollowedScope {
  /** As written (`docker/web`, `k8s/shop/app=web/app`), for messages. */
  readonly text: string;
  /** The runtimes whose containers it can pick, in the order they are asked (k8s: containerd, then docker). */
  readonly runtimes: readonly ClientRuntime[];
  /** The selector scope; undefined for a named container. */
  readonly selector: SelectorScope | undefined;
  /** Whether a container (as the runtime describes it, with its pod's labels) is one the scope means. */
  matches(container: ContainerInfo): boolean;
  /**
   * The file's `interval` and `option mapkeys`, for the session's first
   * plan: the attacher sizes its aggregation map and its report timer from
   * that plan alone, before any container is added (issue 15).
   */
  readonly aggregation?: PlanAggregation;
}

/**
 * The one scope every target of the file shares.
 *
 * @throws UsageError for a file with errors (the first one, at its line),
 *   a scope that cannot be followed, or targets naming two scopes.
 */
export function followedScope(source: string, file: string): FollowedScope {
  const parsed = parseProbeFile(source, file);
  const checked = checkProbeFile(parsed.ast);
  const error = [...parsed.diagnostics, ...checked.diagnostics].find((d) => d.severity === "error");
  if (error !== undefined) throw new UsageError(`${file}:${error.location.start.line}:${error.location.start.column}: ${error.message}`, [...error.hints]);
  let scope: FollowedScope | undefined;
  for (const { text, loc } of checked.probes.flatMap((p) => p.targets)) {
    const split = splitTarget(text);
    if (typeof split === "string") continue; // the checks above report it
    if (scope !== undefined && scope.text !== split.scope) {
      throw new UsageError(`--follow: the file's targets name two scopes, ${scope.text} and ${split.scope}; a followed file has one`, [
        "split the file, and run one probec per scope",
      ]);
    }
    try {
      scope ??= scopeOf(text, split.scope);
    } catch (error) {
      // A malformed selector: said at its target, as compile() says it.
      if (!(error instanceof UsageError)) throw error;
      throw new UsageError(`${file}:${loc.start.line}:${loc.start.column}: ${error.message}`, [...error.hints]);
    }
  }
  if (scope === undefined)
    throw new UsageError(`--follow: ${file} has no target to follow`, ["give the probes a container target such as docker/web:exe:main"]);
  return checked.aggregation === undefined ? scope : { ...scope, aggregation: checked.aggregation };
}

function scopeOf(target: string, text: string): FollowedScope {
  const scope = parseTargetSpec(target).scope;
  if (scope.kind === "select") {
    const matches = scopeMatcher(scope);
    return { text, runtimes: scope.runtime === "k8s" ? ["containerd", "docker"] : [scope.runtime], selector: scope, matches };
  }
  if (scope.kind === "docker" || scope.kind === "podman") {
    const ref = scope.ref;
    const runtime = scope.kind;
    return {
      text,
      runtimes: [runtime],
      selector: undefined,
      matches: (c) => c.runtime === runtime && (c.name === ref || c.id === ref || (ref.length >= 12 && /^[0-9a-f]+$/.test(ref) && c.id.startsWith(ref))),
    };
  }
  throw new UsageError(`--follow: ${target}: a ${scope.kind} scope names processes that are there now; it cannot be followed`, [
    "follow a container by name (docker/web, podman/web) or by labels (docker/app=web, docker/*, containerd/k8s.io/app=web, k8s/NAMESPACE/app=web/CONTAINER)",
    "or run without --follow to attach to the processes there now",
  ]);
}

/** `text` with its scope replaced by `scope` (`docker/web:libc:malloc` → `docker/<id>:libc:malloc`). */
export function retarget(text: string, scope: string): string {
  const split = splitTarget(text);
  if (typeof split === "string") return text;
  if (split.object === undefined) return scope;
  const object = split.object.includes(":") ? `"${split.object}"` : split.object;
  return split.location === undefined ? `${scope}:${object}` : `${scope}:${object}:${split.location}`;
}
