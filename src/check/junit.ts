/**
 * A check result as JUnit XML, the format CI systems (GitHub Actions
 * reporters, GitLab, Jenkins) render as test results: one `<testcase>` per
 * target of each probe, a `<failure>` for each that is missing or invalid,
 * the sites found in `<system-out>`.
 */
import type { CheckResult, TargetCheck } from "./check.js";

/** Renders `result` as a JUnit XML document. */
export function checkResultToJunit(result: CheckResult): string {
  const failures = result.checks.filter((c) => c.status !== "found").length;
  const errors = result.problems.reduce((n, p) => n + p.diagnostics.filter((d) => d.severity === "error").length, 0);
  const tests = result.checks.length + errors;
  const suite = `probec check ${result.image.path}${result.image.platform === undefined ? "" : ` (${result.image.platform})`}`;
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="probec check" tests="${tests}" failures="${failures}" errors="${errors}">`,
    `  <testsuite name="${attr(suite)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0">`,
  ];
  for (const check of result.checks) lines.push(...testcase(check));
  for (const problem of result.problems) {
    for (const d of problem.diagnostics.filter((x) => x.severity === "error")) {
      const where = `${problem.file}:${d.location.start.line}:${d.location.start.column}`;
      lines.push(`    <testcase classname="${attr(problem.file)}" name="${attr(where)}">`);
      lines.push(`      <error message="${attr(d.message)}">${text([d.message, ...d.hints.map((h) => `hint: ${h}`)].join("\n"))}</error>`);
      lines.push("    </testcase>");
    }
  }
  if (result.notes.length > 0) lines.push(`    <system-out>${text(result.notes.map((n) => `note: ${n}`).join("\n"))}</system-out>`);
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}

function testcase(check: TargetCheck): string[] {
  const file = check.source === undefined ? "" : ` file="${attr(check.source.file)}" line="${check.source.line}"`;
  const open = `    <testcase classname="${attr(check.probe)}" name="${attr(check.target)}"${file}>`;
  const found = check.sites.map(
    (s) =>
      `${check.object?.path ?? ""} ${s.name} offset 0x${s.fileOffset.toString(16)}${s.semaphoreOffset === undefined ? "" : ` semaphore 0x${s.semaphoreOffset.toString(16)}`}${s.args === undefined ? "" : ` args ${s.args.join(" ") || "none"}`}`,
  );
  if (check.status === "found") {
    return found.length === 0 ? [open.replace(/>$/, " />")] : [open, `      <system-out>${text(found.join("\n"))}</system-out>`, "    </testcase>"];
  }
  const message = check.message ?? check.status;
  const body = [message, ...check.hints.map((h) => `hint: ${h}`)].join("\n");
  return [open, `      <failure message="${attr(message)}" type="${check.status}">${text(body)}</failure>`, "    </testcase>"];
}

/** XML 1.0 forbids most control characters even escaped; names from a hostile image may hold them. */
function clean(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd");
}

function text(value: string): string {
  return clean(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function attr(value: string): string {
  return text(value).replace(/"/g, "&quot;").replace(/\n/g, "&#10;");
}
