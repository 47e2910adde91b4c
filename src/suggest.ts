/**
 * "Did you mean …?": the candidates nearest to a mistyped name, by
 * Damerau–Levenshtein distance (a transposition such as `lsit` → `list`
 * counts as one edit). Pure.
 */

/** Edit distance between `a` and `b`, counting insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  const at = (i: number, j: number): number => d[i * cols + j] ?? 0;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * Up to `limit` candidates within a distance that scales with the name's
 * length (a third of it, at least 1), nearest first. Never the name itself:
 * a lookup that failed for `postgres` must not ask "did you mean
 * `postgres`?" (issue 10), whatever other rule made it fail.
 */
export function nearest(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const threshold = Math.max(1, Math.floor(name.length / 3));
  const scored: [string, number][] = [];
  const seen = new Set<string>();
  for (const candidate of candidates) {
    if (seen.has(candidate) || candidate === name) continue;
    seen.add(candidate);
    if (Math.abs(candidate.length - name.length) > threshold) continue;
    const distance = editDistance(name, candidate);
    if (distance <= threshold) scored.push([candidate, distance]);
  }
  return scored
    .sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))
    .slice(0, limit)
    .map(([candidate]) => candidate);
}
