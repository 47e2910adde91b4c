#!/usr/bin/env bash
# `npm run demo`: probec on real binaries, then real probes on a running
# service, with the commands a user would type. (Bootstrapped by the predemo
# script; the probes need root, a kernel with BPF and uprobes, and the
# native helper: `npm run build:native`.)
#
#   1. What probec finds in binaries of this machine (no process needed).
#   2. The demo service (demo/service.c, its library demo/libdemo.c) in our
#      embedded container (demo/embedded-container.sh): its own mount, PID
#      and network namespaces on an overlay root, no runtime to install.
#      probec resolves it by its host PID and traces it for a few seconds
#      with demo/demo.probe.
#   3. With Docker installed: the same service in a Docker container, on the
#      tests' own dockerd (test/support/dockerd.ts), traced as docker/probec-demo.
#
# Everything it starts is stopped on exit, Ctrl-C included: the embedded
# container (its namespaces and mounts go with its last process), the Docker
# container, and the build directory. `DEMO_SECONDS` sets each trace's length.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-4}
probec() { node dist/src/cli/main.js "$@"; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
title() { printf '\n\033[1;4m%s\033[0m\n' "$*"; }

work=$(mktemp -d /tmp/probec-demo.XXXXXX)
container_pid="" docker_started=""
cleanup() {
  if [[ -n "$container_pid" ]]; then
    kill -TERM "$container_pid" 2>/dev/null || true
    wait "$container_pid" 2>/dev/null || true
  fi
  [[ -n "$docker_started" ]] && DOCKER_HOST=$docker_started docker rm -f probec-demo >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# probec run/trace end normally on Ctrl-C (they detach and print their summary), so bash runs no
# INT trap after them; the service got the same SIGINT and stopped, which is what this checks.
service_running() { kill -0 "$container_pid" 2>/dev/null || { echo "(the embedded container has stopped: interrupted)"; exit 130; }; }

# ---------------------------------------------------------------- 1. binaries

title "1. Where probes can go, in binaries of this machine"
# Debian's own python3 is built with USDT probes (and semaphores).
python=$(readlink -f /usr/bin/python3)
say probec list "$python" "python:function__*"
probec list "$python" "python:function__*"
node=$(readlink -f "$(command -v node)")
say probec list "$node" "uv_run" --functions
probec list "$node" "uv_run" --functions

# ---------------------------------------------------------------- 2. the embedded container

title "2. A service in probec's embedded container"
[[ $(id -u) -eq 0 ]] || { echo "the rest of the demo starts namespaces and attaches uprobes: run it as root" >&2; exit 2; }

# The service and its library, built here; the rootfs holds them plus what ldd says they load.
build=$work/build rootfs=$work/rootfs
mkdir -p "$build" "$rootfs/usr/bin" "$rootfs/usr/lib/probec-demo"
say gcc -O2 -g -fPIC -shared -o libdemo.so demo/libdemo.c
gcc -O2 -g -fPIC -shared -o "$build/libdemo.so" demo/libdemo.c
say gcc -O2 -g -o probec-demo-service demo/service.c -L. -ldemo -Wl,-rpath,/usr/lib/probec-demo
gcc -O2 -g -o "$build/probec-demo-service" demo/service.c -L"$build" -ldemo -Wl,-rpath,/usr/lib/probec-demo
cp "$build/probec-demo-service" "$rootfs/usr/bin/"
cp "$build/libdemo.so" "$rootfs/usr/lib/probec-demo/"
# ldd lines: "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)".
for lib in $(LD_LIBRARY_PATH=$build ldd "$build/probec-demo-service" | awk '$2 == "=>" && $3 ~ /^\// && $1 != "libdemo.so" {print $3} $1 ~ /^\// {print $1}'); do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done

say demo/embedded-container.sh --pid-file service.pid rootfs /usr/bin/probec-demo-service '&'
demo/embedded-container.sh --pid-file "$work/service.pid" "$rootfs" /usr/bin/probec-demo-service &
container_pid=$!
for _ in $(seq 100); do [[ -s "$work/service.pid" ]] && break; sleep 0.05; done
[[ -s "$work/service.pid" ]] || { echo "the embedded container did not start" >&2; exit 1; }
pid=$(cat "$work/service.pid")
echo "(the service is PID 1 in its namespaces; the host knows it as PID $pid)"

say probec resolve "pid/$pid"
probec resolve "pid/$pid"
say probec list "pid/$pid:exe"
probec list "pid/$pid:exe"

# demo/demo.probe names its scope SCOPE: this copy names the running service.
sed "s|= SCOPE\$|= pid/$pid|" demo/demo.probe > "$work/demo.probe"
say cat demo.probe
cat "$work/demo.probe"
say probec run demo.probe --duration "$seconds"
probec run "$work/demo.probe" --duration "$seconds"
service_running
say probec trace "'uretprobe pid/$pid:libdemo:demo_handle { where retval != 0  status = retval as i32 }'" --count 2 --duration 10
probec trace "uretprobe pid/$pid:libdemo:demo_handle { where retval != 0  status = retval as i32 }" --count 2 --duration 10
service_running

# ---------------------------------------------------------------- 3. Docker

if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  echo; echo "(Docker is not installed: skipping the same service in a Docker container)"
  exit 0
fi
title "3. The same service in a Docker container"
# The tests' own daemon (its socket, data root and lock file: test/support/dockerd.ts), started if silent.
host=$(node --input-type=module -e "import { ensureDockerd } from './dist/test/support/dockerd.js'; process.stdout.write(await ensureDockerd());")
export DOCKER_HOST=$host
docker_started=$host
# One image per build of the service: reused while the sources and the host's libc do not change.
image=probec-demo:$(tar -C "$rootfs" -c --sort=name --mtime=@0 --owner=0 --group=0 . | sha256sum | cut -c1-12)
if ! docker image inspect "$image" >/dev/null 2>&1; then
  say "tar -C rootfs -c . | docker import - $image"
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
fi
docker rm -f probec-demo >/dev/null 2>&1 || true
say docker run -d --network none --name probec-demo "$image" /usr/bin/probec-demo-service
docker run -d --network none --name probec-demo "$image" /usr/bin/probec-demo-service >/dev/null
sed "s|= SCOPE\$|= docker/probec-demo|" demo/demo.probe > "$work/demo-docker.probe"
say grep "'^let'" demo.probe
grep '^let' "$work/demo-docker.probe"
say probec run demo.probe --duration "$seconds"
probec run "$work/demo-docker.probe" --duration "$seconds"
