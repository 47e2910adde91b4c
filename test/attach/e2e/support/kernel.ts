/**
 * What the kernel holds for an attacher, seen from outside it, for the
 * tests that prove nothing is left behind (PITFALLS 28):
 *
 *  - the helper processes (`probec-attach`) a process started, from /proc;
 *  - the BPF links a process holds open: `link_id` in /proc/<pid>/fdinfo/<fd>
 *    (the kernel's bpf_link_show_fdinfo), and whether a link id still
 *    exists anywhere (BPF_LINK_GET_FD_BY_ID, through python's ctypes: no
 *    bpftool needed);
 *  - the legacy tracefs uprobe events (`uprobe_events`), mounting tracefs at
 *    /sys/kernel/tracing when nothing has mounted it yet.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The name the helper runs under (its comm). */
export const HELPER_COMM = "probec-attach";

/** Pids of the `probec-attach` processes whose parent is `parent`. */
export function helperPidsOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (comm === HELPER_COMM && ppid === parent) out.push(Number(entry));
    } catch {
      // It exited while we looked.
    }
  }
  return out;
}

/** Whether `pid` still exists (a zombie counts as gone: it holds no files). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The ids of the BPF links `pid` has open (fds whose fdinfo has a `link_id`). */
export function bpfLinkIds(pid: number): number[] {
  const ids: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== "anon_inode:bpf_link") continue;
      const m = /^link_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, "utf8"));
      if (m !== null) ids.push(Number(m[1]));
    } catch {
      // Closed while we looked.
    }
  }
  return ids.sort((a, b) => a - b);
}

/**
 * The ids among `ids` that still name a BPF link anywhere on the machine:
 * BPF_LINK_GET_FD_BY_ID (bpf command 30, `union bpf_attr` starting with
 * the u32 link_id) answers ENOENT for a link that is gone.
 */
export function existingBpfLinks(ids: readonly number[]): number[] {
  if (ids.length === 0) return [];
  const script = [
    "import ctypes, os, sys",
    "libc = ctypes.CDLL(None, use_errno=True)",
    "SYS_bpf, BPF_LINK_GET_FD_BY_ID = 321, 30",
    "found = []",
    "for arg in sys.argv[1:]:",
    "    attr = (ctypes.c_uint32 * 4)(int(arg), 0, 0, 0)",
    "    fd = libc.syscall(SYS_bpf, BPF_LINK_GET_FD_BY_ID, ctypes.byref(attr), ctypes.sizeof(attr))",
    "    if fd >= 0:",
    "        found.append(arg); os.close(fd)",
    "    elif ctypes.get_errno() != 2:",
    "        sys.exit(f'BPF_LINK_GET_FD_BY_ID {arg}: {os.strerror(ctypes.get_errno())}')",
    "print(' '.join(found))",
  ].join("\n");
  const out = execFileSync("/usr/bin/python3.11", ["-c", script, ...ids.map(String)], { encoding: "utf8" }).trim();
  return out === "" ? [] : out.split(" ").map(Number);
}

/** Where tracefs is mounted, mounting it at /sys/kernel/tracing when it is nowhere. */
export function tracefs(): string {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  for (const line of mounts) {
    const [before, after] = line.split(" - ");
    if (after?.startsWith("tracefs ")) return before!.split(" ")[4]!;
  }
  for (const line of mounts) {
    const [before, after] = line.split(" - ");
    if (after?.startsWith("debugfs ") && existsSync(`${before!.split(" ")[4]}/tracing/uprobe_events`)) return `${before!.split(" ")[4]}/tracing`;
  }
  execFileSync("mount", ["-t", "tracefs", "tracefs", "/sys/kernel/tracing"]);
  return "/sys/kernel/tracing";
}

/** The lines of uprobe_events: `p:GROUP/EVENT PATH:0xOFFSET…` or `r:…`. */
export function uprobeEvents(): string[] {
  return readFileSync(`${tracefs()}/uprobe_events`, "utf8")
    .split("\n")
    .filter((l) => l !== "");
}

/** The uprobe_events lines of probec's group (`probec/…`, native/PROTOCOL.md). */
export function probecUprobeEvents(): string[] {
  return uprobeEvents().filter((l) => /^[pr](?::\d+)?:probec\//.test(l));
}

/**
 * probec's legacy events whose attacher is gone: `probec/pc_<pid>_…` where
 * no process `<pid>` runs any more (a helper that died without detaching;
 * the next helper to start removes them, native/PROTOCOL.md).
 */
export function orphanedProbecEvents(): string[] {
  return probecUprobeEvents().filter((l) => {
    const pid = /^[pr](?::\d+)?:probec\/pc_(\d+)_/.exec(l)?.[1];
    return pid !== undefined && !alive(Number(pid));
  });
}
