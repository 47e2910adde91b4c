/**
 * The runtime names, defined once: where a resolved scope came from. The
 * container runtimes are the ones a cgroup path or a runtime's API can
 * name; a plan's `target.runtime` adds `host` and `pid`. The cgroup reader
 * (src/discovery/proc/cgroup.ts), the resolved scope (src/discovery/scope.ts)
 * and the plan type all use these; the JSON schema's enum is checked
 * against them by test/plan/drift.test.ts.
 *
 * Pure data: no I/O.
 */

/**
 * The container runtimes. `cri` is a Kubernetes container under the
 * cgroupfs driver, whose path (`/kubepods/…/pod<uid>/<id>`) does not say
 * which CRI runtime runs it.
 */
export const CONTAINER_RUNTIMES = {
  docker: "Docker Engine",
  podman: "Podman",
  containerd: "containerd",
  crio: "CRI-O",
  cri: "a Kubernetes CRI runtime the cgroup path does not name",
} as const satisfies Record<string, string>;

/** A container runtime. */
export type ContainerRuntime = keyof typeof CONTAINER_RUNTIMES;

/** Every container runtime name, in definition order. */
export const CONTAINER_RUNTIME_NAMES = Object.keys(CONTAINER_RUNTIMES) as ContainerRuntime[];

/** Where a scope came from: `host`, `pid`, or a container runtime. */
export const PLAN_RUNTIME_NAMES = ["host", "pid", ...CONTAINER_RUNTIME_NAMES] as const;

/** Where a scope came from, as a plan's `target.runtime`. */
export type PlanRuntime = "host" | "pid" | ContainerRuntime;

/**
 * The scope kinds a target writes as `KIND/…` (`docker/web`, `k8s/ns/pod`,
 * `pid/123`): every container runtime that has a client (not `cri`, which
 * names no client), then `k8s` (a pod, found through its runtime's labels)
 * and `pid`. `host` is written alone. src/dsl/target-spec.ts, the CLI's
 * target sniffing and `checkImage`'s inline targets use this list.
 */
export const SCOPE_PREFIXES = [...CONTAINER_RUNTIME_NAMES.filter((r): r is Exclude<ContainerRuntime, "cri"> => r !== "cri"), "k8s", "pid"] as const;

/** A scope kind written `KIND/…`. */
export type ScopePrefix = (typeof SCOPE_PREFIXES)[number];
