/**
 * Aligned plain-text tables: a header row, columns padded to their widest
 * cell, two spaces between columns, no trailing spaces. Numbers right-aligned.
 */

/** One column: its header and whether its cells align right. */
export interface Column {
  readonly header: string;
  readonly align?: "left" | "right";
}

/** Renders `rows` under `columns`. The last left-aligned column is not padded. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        if (columns[i]?.align === "right") return cell.padStart(width);
        return i === cells.length - 1 ? cell : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join("\n") + "\n";
}
