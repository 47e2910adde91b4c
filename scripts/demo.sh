#!/usr/bin/env bash
# `npm run demo`: what probec finds in real binaries on this machine, with
# the same commands a user would type. (Bootstrapped by the predemo script.)
set -euo pipefail
cd "$(dirname "$0")/.."
probec() { node dist/src/cli/main.js "$@"; }
say() { printf '\n\033[1m$ probec %s\033[0m\n' "$*"; }

# Debian's own python3 is built with USDT probes (and semaphores); a pyenv shim is a shell script.
python=$(readlink -f /usr/bin/python3)
say list "$python"
probec list "$python"
say list "$python" "python:function__entry" --json
probec list "$python" "python:function__entry" --json
say list "$python" _PyEval_EvalFrameDefault --functions
probec list "$python" _PyEval_EvalFrameDefault --functions

libstdcxx=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64|libstdc\+\+\.so\.6 \(libc6,AArch64/ {print $NF; exit}')
if [[ -n "$libstdcxx" ]]; then
  say list "$libstdcxx" "libstdcxx:*"
  probec list "$libstdcxx" "libstdcxx:*"
fi

for jvm in /usr/lib/jvm/*/lib/server/libjvm.so; do
  [[ -f "$jvm" ]] || continue
  say list "$jvm" "hotspot:gc__*"
  probec list "$jvm" "hotspot:gc__*"
  echo "($(probec list "$jvm" --json | grep -c '"provider"') USDT sites in all)"
  break
done

say list /usr/bin/node uv_run --functions
probec list "$(readlink -f "$(command -v node)")" uv_run --functions

# Targets: the same questions asked of a running process, in its own view of the world.
/usr/bin/python3.11 -c 'import time; time.sleep(30)' &
target=$!
trap 'kill $target 2>/dev/null' EXIT
sleep 0.3
say resolve "pid/$target"
probec resolve "pid/$target" | head -n 12
say list "pid/$target:libc" getaddrinfo --functions
probec list "pid/$target:libc" getaddrinfo --functions
say list "pid/$target:exe" "python:function__*"
probec list "pid/$target:exe" "python:function__*"

# The probe language: compile a probe file for that process into an AttachPlan, and show how.
spec=$(mktemp --suffix=.probe)
trap 'kill $target 2>/dev/null; rm -f "$spec"' EXIT
cat > "$spec" <<PROBE
let py = pid/$target
uprobe+ret py:libc:malloc {
  size = arg0
  latency
  where arg0 > 1024
}
usdt py:exe:python:function__entry {
  file = str(arg0)
  line = arg2 as i32
}
PROBE
say compile "$spec" --explain
probec compile "$spec" --explain
