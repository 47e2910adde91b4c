/**
 * A flame graph as a standalone SVG, from folded stacks: the picture
 * `flamegraph.pl` draws (Brendan Gregg, "The Flame Graph", CACM 59(6),
 * 2016): one box per frame, callers below callees, the root ("all") at the
 * bottom, each box as wide as the samples that passed through it, siblings
 * sorted by name so that the x axis means nothing but share of samples.
 *
 * probec's own, small and tested, rather than a dependency: the npm flame
 * graph packages draw in a browser (d3-flame-graph, react components) or
 * shell out to Perl; none writes an SVG offline in Node. The output is
 * static (titles give each box's name, count and share on hover) and is
 * valid XML whatever the frame names hold: names are escaped, characters
 * XML 1.0 forbids are replaced with U+FFFD.
 *
 * Pure: no `node:*`.
 */
import { parseFolded, type FoldedStack } from "./folded.js";

/** Drawing options; the defaults are flamegraph.pl's. */
export interface FlameGraphOptions {
  /** Title drawn at the top (default "Flame Graph"). */
  readonly title?: string;
  /** Image width in pixels (default 1200). */
  readonly width?: number;
  /** Height of one frame row (default 16). */
  readonly frameHeight?: number;
  /** Boxes narrower than this many pixels are left out, with their children (default 0.1). */
  readonly minWidth?: number;
  /** What one count is, for titles ("samples", "calls"; default "samples"). */
  readonly countName?: string;
}

interface Node {
  readonly name: string;
  count: number;
  readonly children: Map<string, Node>;
}

const PAD_X = 10;
const PAD_TOP = 36;
const PAD_BOTTOM = 10;
const FONT_SIZE = 12;
/** Average glyph width of 12px Verdana as a share of the font size, flamegraph.pl's `$fontwidth`. */
const FONT_WIDTH = 0.59;

/** Renders folded text (or parsed stacks) as an SVG document. */
export function renderFlameGraph(folded: string | readonly FoldedStack[], options: FlameGraphOptions = {}): string {
  const stacks = typeof folded === "string" ? parseFolded(folded) : folded;
  const width = options.width ?? 1200;
  const frameHeight = options.frameHeight ?? 16;
  const minWidth = options.minWidth ?? 0.1;
  const countName = options.countName ?? "samples";
  const root: Node = { name: "all", count: 0, children: new Map() };
  let depth = 0;
  for (const stack of stacks) {
    if (!(stack.count > 0)) continue;
    root.count += stack.count;
    let node = root;
    for (const frame of stack.frames) {
      let child = node.children.get(frame);
      if (child === undefined) {
        child = { name: frame, count: 0, children: new Map() };
        node.children.set(frame, child);
      }
      child.count += stack.count;
      node = child;
    }
    depth = Math.max(depth, stack.frames.length);
  }
  const height = PAD_TOP + (depth + 1) * frameHeight + PAD_BOTTOM;
  const scale = root.count === 0 ? 0 : (width - 2 * PAD_X) / root.count;
  const boxes: string[] = [];
  const draw = (node: Node, x: number, level: number): void => {
    const w = node.count * scale;
    if (w < minWidth) return;
    const y = height - PAD_BOTTOM - (level + 1) * frameHeight;
    boxes.push(box(node, x, y, w, frameHeight, root.count, countName));
    let childX = x;
    for (const child of [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      draw(child, childX, level + 1);
      childX += child.count * scale;
    }
  };
  if (root.count > 0) draw(root, PAD_X, 0);
  const title = escapeXml(options.title ?? "Flame Graph");
  return [
    `<?xml version="1.0" encoding="UTF-8" standalone="no"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f8"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-family="Verdana" font-size="17">${title}</text>`,
    `<g font-family="Verdana" font-size="${FONT_SIZE}">`,
    ...boxes,
    `</g>`,
    `</svg>`,
    "",
  ].join("\n");
}

function box(node: Node, x: number, y: number, w: number, h: number, total: number, countName: string): string {
  const name = escapeXml(node.name);
  const share = ((100 * node.count) / total).toFixed(2);
  const fits = Math.floor(w / (FONT_SIZE * FONT_WIDTH));
  // flamegraph.pl's rule: no label under three characters' room, else truncated with "..".
  const label = fits < 3 ? "" : node.name.length <= fits ? node.name : `${node.name.slice(0, fits - 2)}..`;
  return (
    `<g><title>${name} (${node.count} ${countName}, ${share}%)</title>` +
    `<rect x="${fixed(x)}" y="${y}" width="${fixed(w)}" height="${h - 1}" rx="2" ry="2" fill="${color(node.name)}"/>` +
    (label === "" ? "" : `<text x="${fixed(x + 3)}" y="${y + h - 5}">${escapeXml(label)}</text>`) +
    `</g>`
  );
}

function fixed(n: number): string {
  return n.toFixed(2);
}

/** A warm colour from the name's hash, so one function has one colour across graphs (flamegraph.pl's "hot" palette ranges). */
function color(name: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  const v1 = (h >>> 0) / 0xffffffff;
  const v2 = ((h >>> 8) & 0xffff) / 0xffff;
  return `rgb(${205 + Math.round(50 * v2)},${Math.round(230 * v1)},${Math.round(55 * v2)})`;
}

/** `s` as XML character data or attribute text: the five specials escaped, characters XML 1.0 forbids replaced. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c] as string);
}
