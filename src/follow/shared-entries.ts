/**
 * One helper entry per distinct binary and probe, shared by every followed
 * container that runs that binary (issue 14): the first such container's
 * compiled entry is added (`add`), the next ones only add their mount
 * namespaces to it (`filter`), so N replicas of one image cost one uprobe
 * per point, not N. A container that stops takes its namespaces out; the
 * last one to go removes the entry (`remove`), which detaches it.
 *
 * Same binary: the inode, size, mtime, build-id and path in the container,
 * never the device, which overlayfs makes different per container while the
 * inode is the image layer's (PITFALLS 21); the same rule as the compiler's
 * entries for a selector's containers (src/compile/from-resolution.ts). A
 * file a container copied up or replaced is another inode, so another
 * entry. The probe is the same when its id, text and points are.
 *
 * An added entry belongs to no container in particular: its own mount
 * namespace (`target.mntNs`) is {@link NO_NAMESPACE}, which no task has,
 * and its pid filter is empty, so that exactly the namespaces given with
 * `filter` decide which hits are kept. Were it the first container's, that
 * namespace and those pids would stay in the entry after the container
 * stopped (the helper cannot take them out), and a later process that got
 * the number again (namespace inodes and pids are reused, lowest first)
 * would be traced though it matches nothing.
 */
import type { Attachment, FollowCommands } from "../attach/attach.js";
import type { AttachStatus } from "../attach/status.js";
import type { PlanContainer, PlanProbe } from "../plan/index.js";

/**
 * A mount-namespace number no task has: namespace inodes are 32-bit
 * (`struct ns_common.inum` is an `unsigned int`), and the helper compares
 * 64-bit values.
 */
export const NO_NAMESPACE = 2 ** 32;

/** What a container got: its entries (new or shared), the points covering it, and how many of its new entries failed. */
export interface Joined {
  readonly entries: readonly number[];
  readonly points: number;
  readonly failed: number;
}

/** The helper's commands and statuses the table drives (an attachment started with `attachFollowing`). */
export type EntryCommands = Pick<FollowCommands, "addProbes" | "removeEntries" | "filterEntry"> & Pick<Attachment, "statuses">;

interface SharedEntry {
  readonly index: number;
  readonly key: string;
  /** Points attached (what a container joining it is covered by). */
  readonly points: number;
  /** Each container in it, by the session's key, with its mount namespaces. */
  readonly members: Map<string, readonly number[]>;
}

/** The entries of a followed session, shared by binary; one container joins and leaves at a time (the caller serialises). */
export class SharedEntries {
  private readonly byKey = new Map<string, SharedEntry>();
  /** Cookies are unique in the session: each added entry's are moved past the ones before. */
  private nextCookie = 1;

  constructor(private readonly helper: EntryCommands) {}

  /** Entries now attached, for tests and status: index → containers in it. */
  get entries(): ReadonlyMap<number, readonly string[]> {
    return new Map([...this.byKey.values()].map((e) => [e.index, [...e.members.keys()]]));
  }

  /**
   * Attaches the entries compiled for one container (`member`): each joins
   * the entry of its binary and probe when there is one, else is added.
   */
  async join(member: string, probes: readonly PlanProbe[]): Promise<Joined> {
    const entries: number[] = [];
    let points = 0;
    const fresh = new Map<string, { probe: PlanProbe; containers: PlanContainer[] }>();
    for (const probe of probes) {
      const key = sharingKey(probe);
      const shared = this.byKey.get(key);
      if (shared !== undefined) {
        const containers = containersOf(probe);
        await this.helper.filterEntry(shared.index, containers, []);
        this.addMember(shared, member, containers);
        entries.push(shared.index);
        points += shared.points;
        continue;
      }
      // Two entries of one container on one binary (its processes in two mount namespaces): one entry for both.
      const pending = fresh.get(key);
      if (pending !== undefined) pending.containers.push(...containersOf(probe));
      else fresh.set(key, { probe, containers: containersOf(probe) });
    }
    if (fresh.size === 0) return { entries, points, failed: 0 };
    const keys = [...fresh.keys()];
    const from = this.helper.statuses.length;
    const added = await this.helper.addProbes([...fresh.values()].map(({ probe, containers }) => this.unowned(probe, containers)));
    const statuses = this.helper.statuses.slice(from);
    const failedEntries = new Set(added.failed.map((f) => f.entry));
    const dead: number[] = [];
    for (const [k, index] of added.entries.entries()) {
      const key = keys[k] as string;
      const { probe, containers } = fresh.get(key) as { probe: PlanProbe; containers: PlanContainer[] };
      const attached = pointsOf(index, probe, statuses);
      // An entry with no point attached serves nobody: removed now, so that the next container of its binary tries again.
      if (attached === 0) {
        dead.push(index);
        continue;
      }
      await this.helper.filterEntry(index, containers, []);
      const shared: SharedEntry = { index, key, points: attached, members: new Map() };
      this.addMember(shared, member, containers);
      this.byKey.set(key, shared);
      entries.push(index);
      points += attached;
    }
    if (dead.length > 0) await this.helper.removeEntries(dead);
    return { entries, points, failed: failedEntries.size };
  }

  /** Takes `member` out of every entry it is in; entries it was the last of are removed. */
  async leave(member: string): Promise<void> {
    const emptied: SharedEntry[] = [];
    for (const shared of this.byKey.values()) {
      const namespaces = shared.members.get(member);
      if (namespaces === undefined) continue;
      shared.members.delete(member);
      if (shared.members.size === 0) emptied.push(shared);
      else await this.helper.filterEntry(shared.index, [], namespaces);
    }
    for (const shared of emptied) this.byKey.delete(shared.key);
    if (emptied.length > 0) await this.helper.removeEntries(emptied.map((e) => e.index));
  }

  private addMember(shared: SharedEntry, member: string, containers: readonly PlanContainer[]): void {
    const namespaces = new Set([...(shared.members.get(member) ?? []), ...containers.map((c) => c.mntNs)]);
    shared.members.set(member, [...namespaces]);
  }

  /** The entry as added: owned by no namespace and no pid (see the top of this file), its containers named, its cookies the session's next. */
  private unowned(probe: PlanProbe, containers: readonly PlanContainer[]): PlanProbe {
    const base = this.nextCookie - 1;
    let highest = 0;
    const points = probe.points.map((point) => {
      highest = Math.max(highest, point.cookie);
      return { ...point, cookie: point.cookie + base, pairedWith: point.pairedWith === null ? null : point.pairedWith + base };
    });
    this.nextCookie = base + highest + 1;
    const { mntNs: _more, ...filter } = probe.filter ?? { kind: "container" as const, containerId: null, cgroupPaths: [], pids: [] };
    return {
      ...probe,
      points,
      target: { ...probe.target, mntNs: NO_NAMESPACE, containers: [...containers] },
      filter: { ...filter, pids: [] },
    };
  }
}

/** The mount namespaces a compiled entry serves, each with its container. */
function containersOf(probe: PlanProbe): PlanContainer[] {
  const t = probe.target;
  if (t.containers !== undefined) return t.containers.map((c) => ({ ...c }));
  const namespaces = [t.mntNs, ...(probe.filter?.mntNs ?? [])];
  return namespaces.map((mntNs) => ({
    mntNs,
    containerId: t.containerId ?? "",
    containerName: t.containerName,
    ...(t.pod === undefined ? {} : { pod: t.pod }),
  }));
}

/** What makes two compiled entries one: the probe, and the binary by inode and content, not by device (PITFALLS 21). */
export function sharingKey(probe: PlanProbe): string {
  const b = probe.binary;
  return JSON.stringify([
    probe.id,
    probe.kind,
    probe.specText,
    probe.strategy,
    b.ino,
    b.size,
    b.mtimeNs,
    b.buildId,
    b.containerPath,
    probe.points.map((p) => [p.side, p.fileOffset, p.refCtrOffset]),
  ]);
}

/** Points the helper attached for entry `index`: its `attached` status, else its points less those that failed. */
function pointsOf(index: number, probe: PlanProbe, statuses: readonly AttachStatus[]): number {
  let failedPoints = 0;
  for (const s of statuses) {
    if (Number(s.entry) !== index) continue;
    if (s.type === "attached") return Number(s.points);
    if (s.type === "failed") {
      if (s.cookie === null || s.cookie === undefined) return 0;
      failedPoints++;
    }
  }
  return Math.max(0, probe.points.length - failedPoints);
}
