/**
 * Which scopes `--follow` can track, and how one target is re-aimed at one
 * container. A probe file is followed as a whole: each container that
 * starts and matches gets the whole file compiled for it alone (the same
 * compile step as without --follow, its targets' scope replaced by the
 * container's id), so what is attached to it is exactly what `probec run`
 * would attach to that container by name.
 *
 * Followed today: a named container of docker or podman (`docker/web`: the
 * container called so, whichever id it has after a restart or a
 * re-creation). Selectors (`docker/app=web`, `k8s/NS/SELECTOR`) come with
 * their scope syntax (src/discovery/select.ts) and plug in here through
 * {@link FollowedScope.matches}.
 */
import { UsageError } from "../errors.js";
import { checkProbeFile, parseProbeFile, parseTargetSpec } from "../dsl/index.js";
import { splitTarget } from "../dsl/target-spec.js";

/** A scope that `--follow` tracks: which runtime to watch, and which of its containers match. */
export interface FollowedScope {
  /** As written (`docker/web`), for messages. */
  readonly text: string;
  readonly runtime: "docker" | "podman";
  /** Whether a container (by its id and name, as the runtime reports them) is one the scope means. */
  matches(container: { readonly id: string; readonly name: string | undefined }): boolean;
}

/** The one scope every target of the file shares; a UsageError naming the target otherwise. */
export function followedScope(source: string, file: string): FollowedScope {
  const parsed = parseProbeFile(source, file);
  const checked = checkProbeFile(parsed.ast);
  const texts = new Set<string>();
  for (const probe of checked.probes) for (const target of probe.targets) texts.add(target.text);
  let scope: FollowedScope | undefined;
  for (const text of texts) {
    const split = splitTarget(text);
    if (typeof split === "string") continue; // compile() reports it
    const spec = parseTargetSpec(text);
    if (spec.scope.kind !== "docker" && spec.scope.kind !== "podman") {
      throw new UsageError(
        `--follow: ${text}: only a container named by its runtime can be followed today (docker/NAME, podman/NAME), not a ${spec.scope.kind} scope`,
        [
          "name the container: docker/web:exe:main follows the container called web across restarts",
          "or run without --follow to attach to the processes there now",
        ],
      );
    }
    const ref = spec.scope.ref;
    if (scope !== undefined && scope.text !== split.scope) {
      throw new UsageError(`--follow: the file's targets name two scopes, ${scope.text} and ${split.scope}; a followed file has one`, [
        "split the file, and run one probec per scope",
      ]);
    }
    scope ??= {
      text: split.scope,
      runtime: spec.scope.kind,
      matches: (c) => c.name === ref || c.id === ref || (ref.length >= 12 && /^[0-9a-f]+$/.test(ref) && c.id.startsWith(ref)),
    };
  }
  if (scope === undefined)
    throw new UsageError(`--follow: ${file} has no target to follow`, ["give the probes a container target such as docker/web:exe:main"]);
  return scope;
}

/** `text` with its scope replaced by `scope` (`docker/web:libc:malloc` → `docker/<id>:libc:malloc`). */
export function retarget(text: string, scope: string): string {
  const split = splitTarget(text);
  if (typeof split === "string") return text;
  if (split.object === undefined) return scope;
  const object = split.object.includes(":") ? `"${split.object}"` : split.object;
  return split.location === undefined ? `${scope}:${object}` : `${scope}:${object}:${split.location}`;
}
