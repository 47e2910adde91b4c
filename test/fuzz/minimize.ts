/**
 * Shrinks a crashing mutant towards its seed: reverts as many changed bytes
 * as possible (ddmin-style: halves, then quarters, … then single bytes) and
 * cuts the file as short as it can, while `stillCrashes` holds. The result
 * is the smallest difference from a known-good fixture that still shows the
 * bug, which is what a regression file and a bug report need.
 */

/** A minimised reproducer and its remaining differences from the seed. */
export interface Minimized {
  readonly bytes: Uint8Array;
  /** `0xOFF: old -> new` for every byte still differing from the seed (at most 64 listed). */
  readonly diff: string[];
}

/** Bounded work: a minimisation never runs the predicate more than this many times. */
const MAX_TRIES = 4000;

export async function minimize(seed: Uint8Array, crashing: Uint8Array, stillCrashes: (bytes: Uint8Array) => Promise<boolean>): Promise<Minimized> {
  let current = crashing.slice();
  let tries = 0;
  const attempt = async (candidate: Uint8Array): Promise<boolean> => {
    if (tries++ >= MAX_TRIES) return false;
    return stillCrashes(candidate);
  };

  // 1. Revert changed bytes to the seed's, in shrinking chunks.
  let changed = differing(seed, current);
  for (let chunk = Math.max(1, changed.length >> 1); changed.length > 0; chunk = chunk >> 1 || 1) {
    let progress = false;
    for (let start = 0; start < changed.length; ) {
      const candidate = current.slice();
      for (const at of changed.slice(start, start + chunk)) candidate[at] = seed[at] ?? 0;
      if (await attempt(candidate)) {
        current = candidate;
        changed = differing(seed, current);
        progress = true;
      } else {
        start += chunk;
      }
    }
    if (chunk === 1 && !progress) break;
    if (tries >= MAX_TRIES) break;
  }

  // 2. Cut the tail as far as the crash allows (binary search over the length).
  let lo = 0;
  let hi = current.length;
  while (lo < hi && tries < MAX_TRIES) {
    const mid = (lo + hi) >> 1;
    if (await attempt(current.slice(0, mid))) hi = mid;
    else lo = mid + 1;
  }
  if (hi < current.length) current = current.slice(0, hi);

  const diff = differing(seed, current)
    .slice(0, 64)
    .map((at) => `0x${at.toString(16)}: 0x${(seed[at] ?? 0).toString(16)} -> 0x${(current[at] ?? 0).toString(16)}`);
  if (current.length !== seed.length) diff.push(`length ${seed.length} -> ${current.length}`);
  return { bytes: current, diff };
}

function differing(a: Uint8Array, b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < b.length && i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
