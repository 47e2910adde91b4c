/**
 * Reads a flame graph SVG back with a real XML parser (Python's
 * xml.etree, as test/cli-check.test.ts does for JUnit XML): a document
 * that is not well-formed fails here.
 */
import { execFileSync } from "node:child_process";

/** One frame box of a flame graph. */
export interface Box {
  title: string;
  width: number;
  y: number;
}

/** The SVG parsed by xml.etree: each box's title, width and row. */
export function parseSvg(svg: string): Box[] {
  const script = `
import json, sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.fromstring(sys.stdin.buffer.read())
out = []
for g in root.iter("{http://www.w3.org/2000/svg}g"):
    t = g.find("s:title", ns)
    r = g.find("s:rect", ns)
    if t is None or r is None: continue
    out.append({"title": t.text, "width": float(r.get("width")), "y": float(r.get("y"))})
print(json.dumps(out))
`;
  return JSON.parse(execFileSync("python3", ["-c", script], { input: svg, encoding: "utf8" })) as Box[];
}
