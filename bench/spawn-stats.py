#!/usr/bin/env python3
"""Runs a peer command (or a pipeline) repeatedly and reports, per run, what
Node cannot see of a child: its peak RSS and the bytes it read.

Usage: spawn-stats.py '<json>' where the JSON is
  {"stages": [["readelf", "-n", "/x.so"], ["grep", "foo"]],  # a pipeline
   "stdout": "null" | "capture",   # where the last stage writes
   "warmup": 2, "runs": 20, "budgetS": 5, "timeoutS": 60}
and prints one JSON object: {"runs": [{"wallMs", "maxRssKiB", "rchar",
"status"}], "timedOut", "output"}.

Why Python: wait4(2) gives each child's rusage (ru_maxrss, the true peak RSS
of a fresh process), and waitid(WNOWAIT) keeps the child a zombie so that
/proc/<pid>/io (rchar: bytes returned by read(2)/pread(2), page cache or not)
can still be read after it has done all its reading. Node's child_process
exposes neither.
"""
import json
import os
import signal
import sys
import tempfile
import threading
import time


def run_once(stages, stdout_mode, timeout_s):
    """One run of the pipeline; returns (wall ms, max ru_maxrss KiB, rchar of each stage, statuses, output, timed out)."""
    pids, fds_to_close = [], []
    out_file = tempfile.TemporaryFile() if stdout_mode == "capture" else None
    null_fd = os.open(os.devnull, os.O_RDWR)
    prev_read = None
    start = time.perf_counter_ns()
    for i, argv in enumerate(stages):
        last = i == len(stages) - 1
        actions = []
        if prev_read is not None:
            actions.append((os.POSIX_SPAWN_DUP2, prev_read, 0))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, null_fd, 0))
        if last:
            actions.append((os.POSIX_SPAWN_DUP2, out_file.fileno() if out_file else null_fd, 1))
            next_read = None
        else:
            next_read, write_end = os.pipe()
            actions.append((os.POSIX_SPAWN_DUP2, write_end, 1))
        actions.append((os.POSIX_SPAWN_DUP2, null_fd, 2))
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setpgroup=0 if i == 0 else pids[0])
        pids.append(pid)
        if prev_read is not None:
            os.close(prev_read)
        if next_read is not None:
            os.close(write_end)
        prev_read = next_read
    timed_out = threading.Event()

    def kill():
        timed_out.set()
        try:
            os.killpg(pids[0], signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    # Wait for every stage to exit, but leave them zombies so /proc/<pid>/io stays readable.
    for pid in pids:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    wall_ms = (time.perf_counter_ns() - start) / 1e6
    timer.cancel()
    rchar, statuses, max_rss = [], [], 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/io") as f:
                rchar.append(int(next(l for l in f if l.startswith("rchar:")).split()[1]))
        except (OSError, StopIteration):
            rchar.append(None)
        _, status, usage = os.wait4(pid, 0)
        statuses.append(os.waitstatus_to_exitcode(status))
        max_rss = max(max_rss, usage.ru_maxrss)
    os.close(null_fd)
    output = None
    if out_file is not None:
        out_file.seek(0)
        output = out_file.read().decode("utf-8", "replace")
        out_file.close()
    return wall_ms, max_rss, rchar, statuses, output, timed_out.is_set()


def main():
    spec = json.loads(sys.argv[1])
    stages, mode = spec["stages"], spec.get("stdout", "null")
    warmup, runs = spec.get("warmup", 1), spec.get("runs", 10)
    budget_s, timeout_s = spec.get("budgetS", 10), spec.get("timeoutS", 60)
    result = {"runs": [], "timedOut": False, "output": None}
    for _ in range(warmup):
        *_, output, timed_out = run_once(stages, mode, timeout_s)
        if timed_out:
            result["timedOut"] = True
            print(json.dumps(result))
            return
    begun = time.monotonic()
    # Hyperfine-style: `runs` runs, or fewer when the budget runs out (at least one).
    while len(result["runs"]) < runs and (not result["runs"] or time.monotonic() - begun < budget_s):
        wall, rss, rchar, statuses, output, timed_out = run_once(stages, mode, timeout_s)
        if timed_out:
            result["timedOut"] = True
            break
        result["runs"].append({"wallMs": wall, "maxRssKiB": rss, "rchar": rchar, "status": statuses})
        result["output"] = output
    print(json.dumps(result))


if __name__ == "__main__":
    main()
