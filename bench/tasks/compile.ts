/**
 * Task (f): `compile()` of a spec of 100 probes across 10 running containers
 * (issue 4), on the tests' own dockerd (test/support/dockerd.ts), with the
 * bench image `probec-bench-sleep` (bench/docker.ts).
 *
 * The spec ({@link compileSpec}) gives each container an alias and 10
 * probes on its libc: uprobe, uretprobe, uprobe+ret with filters, str()
 * fields and latency, a count, and a glob. probec is timed in 5 fresh Node
 * processes (modules imported before the clock), from the call to the plan,
 * with the real resolver (docker API, /proc, ELF reads). Target ≤ 300 ms.
 */
import { ensureDockerd, TEST_DOCKER_HOST } from "../../test/support/dockerd.js";
import { ensureBenchImage, withContainers } from "../docker.js";
import { printTask, type Row } from "../table.js";
import { medianMs, probecRow } from "./rows.js";

/** The 10 probes written for one container, through the alias `c<i>`. */
function probesFor(i: number): string {
  const c = `c${i}`;
  return `let ${c} = docker/probec-bench-compile-${i}

uprobe ${c}:libc:malloc {
  size = arg0
}

uretprobe ${c}:libc:malloc {
  ptr = retval
}

uprobe+ret ${c}:libc:getaddrinfo {
  where retval != 0
  host = str(arg0, 255)
  rc = retval as i32
  latency
  container
  format "{container}: getaddrinfo({host}) failed with {rc} after {latency} ns"
}

uprobe ${c}:libc:free {
  where arg0 != 0 && pid % 2 == 0
  p = arg0
}

uprobe+ret ${c}:libc:calloc {
  n = arg0
  size = arg1
  latency
}

uprobe ${c}:libc:open {
  path = str(arg0, 128)
  flags = arg1 as i32
}

uretprobe ${c}:libc:read {
  where retval < 0
  rc = retval
}

uprobe ${c}:libc:write {
  fd = arg0 as i32
  n = arg2
  comm
}

uprobe ${c}:libc:malloc {
  count by comm
}

uprobe ${c}:libc:getaddrinf* {
  tid
  timestamp
}
`;
}

/** The spec: `containers` aliases of 10 probes each. */
export function compileSpec(containers: number): string {
  return `# probec bench (f): ${containers * 10} probes across ${containers} containers\n\n${Array.from({ length: containers }, (_, i) => probesFor(i + 1)).join("\n")}`;
}

const skipped = (print: (line: string) => void, title: string, reason: string): void => {
  print(`\n${title}\n${"=".repeat(title.length)}\n  skipped: ${reason}`);
};

const firstLines = (error: unknown): string => (error instanceof Error ? error.message.split("\n").slice(0, 3).join(" / ") : String(error));

/** Task (f): compile() of 100 probes across 10 containers, cold. */
export async function compileTask(print: (line: string) => void, count = 10): Promise<void> {
  const title = `(f) compile() of ${count * 10} probes across ${count} containers, cold`;
  try {
    await ensureDockerd();
    ensureBenchImage();
  } catch (error) {
    return skipped(print, title, `dockerd: ${firstLines(error)}`);
  }
  const names = Array.from({ length: count }, (_, i) => `probec-bench-compile-${i + 1}`);
  const source = compileSpec(count);
  let started = false;
  const began = performance.now();
  try {
    await withContainers(names, () => {
      started = true;
      const setupS = ((performance.now() - began) / 1000).toFixed(1);
      const describe = (a: unknown): string => {
        const r = a as { probes?: number; entries?: number; points?: number; errors?: string[] } | undefined;
        if (r?.errors !== undefined && r.errors.length > 0) return `DIAGNOSTICS: ${r.errors.slice(0, 2).join(" / ")}`;
        return r?.entries === undefined ? `no answer (${JSON.stringify(a)})` : `${r.probes} probes → ${r.entries} plan entries, ${r.points} attach points`;
      };
      const probec: Row = {
        ...probecRow(
          `probec compile(spec of ${count * 10} probes)`,
          "fresh process",
          "probec-compile",
          { path: "", source, host: TEST_DOCKER_HOST },
          5,
          describe,
        ),
        bytesHow: "rchar",
      };
      printTask(
        print,
        `${title} (setup: ${count} containers started in ${setupS} s)`,
        [probec],
        [{ what: "probec compile() cold median (call to plan)", value: medianMs(probec), limit: 300, unit: "ms" }],
      );
    });
  } catch (error) {
    if (started) throw error;
    skipped(print, title, `setup failed: ${firstLines(error)}`);
  }
}
