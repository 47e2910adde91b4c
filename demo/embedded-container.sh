#!/usr/bin/env bash
# The demo's embedded container: runs COMMAND in its own mount, PID and
# network namespaces, on an overlay root whose read-only lower layer is
# ROOTFS, with no container runtime at all.
#
#   demo/embedded-container.sh --pid-file FILE ROOTFS COMMAND [ARGS...]
#
# It stays in the foreground until COMMAND exits or it is sent SIGINT or
# SIGTERM; it then stops COMMAND and removes its overlay's upper and work
# directories. FILE receives COMMAND's PID as the host sees it (in the
# container COMMAND is PID 1). Needs root.
#
# How it is built, from the outside in:
#   1. `unshare --mount --propagation private`: a mount namespace of its own,
#      so that the overlay below is never visible on the host and disappears
#      with the namespace's last process, whatever kills it.
#   2. In there: `mount -t overlay` (lower ROOTFS, upper and work in a
#      temporary directory), the layout Docker's overlay2 uses.
#   3. `unshare --pid --net --fork --kill-child --mount-proc --root MERGED`:
#      a new PID namespace (COMMAND is its PID 1), an empty network namespace
#      (only a loopback that is down: name lookups fail at once), a fresh
#      /proc for that PID namespace, and a chroot into the overlay.
#      --kill-child: when the waiting `unshare` dies, COMMAND gets SIGKILL.
# Each `unshare` also gets SIGKILL when its parent dies (setpriv
# --pdeathsig), so that a demo killed with SIGKILL leaves nothing running.
set -euo pipefail

if [[ "${1:-}" == "--inside" ]]; then
  # Step 2, run inside the private mount namespace of step 1.
  shift
  state=$1 rootfs=$2
  shift 2
  mount -t overlay probec-demo -o "lowerdir=$rootfs,upperdir=$state/upper,workdir=$state/work" "$state/merged"
  mkdir -p "$state/merged/proc" # where --mount-proc mounts the new /proc (in the upper layer if ROOTFS lacks it)
  exec setpriv --pdeathsig KILL unshare --pid --net --fork --kill-child --mount-proc --root "$state/merged" -- "$@"
fi

usage() {
  echo "usage: $0 --pid-file FILE ROOTFS COMMAND [ARGS...]" >&2
  exit 2
}
[[ "${1:-}" == "--pid-file" && $# -ge 4 ]] || usage
pid_file=$2 rootfs=$(readlink -f "$3")
shift 3
[[ -d "$rootfs" && -x "$rootfs/$1" ]] || { echo "$0: $rootfs$1 is not an executable in the root filesystem $rootfs" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "$0: namespaces and overlay mounts need root: run the demo as root" >&2; exit 2; }

state=$(mktemp -d /tmp/probec-demo-container.XXXXXX)
mkdir "$state/upper" "$state/work" "$state/merged"
outer="" child=""
cleanup() {
  # `unshare --fork` blocks SIGINT and SIGTERM while it waits, so ask COMMAND
  # (PID 1 of its namespace: it only gets the signals it handles) to stop,
  # and if it has not within 2 s, SIGKILL the waiting unshare: --kill-child
  # then kills COMMAND. The namespaces and their mounts go with the last process.
  if [[ -n "$outer" ]]; then
    [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null
    for _ in $(seq 40); do kill -0 "$outer" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$outer" 2>/dev/null || true
    wait "$outer" 2>/dev/null || true
  fi
  rm -rf "$state"
  rm -f "$pid_file"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

setpriv --pdeathsig KILL unshare --mount --propagation private -- "$0" --inside "$state" "$rootfs" "$@" &
outer=$!

# COMMAND's host PID: the only child of the inner unshare (same PID as the outer one, which exec'd it).
for _ in $(seq 100); do
  # Before the exec the outer process is setpriv or this script; after it, its child is
  # unshare's fork, which is COMMAND once it has chrooted (its root is the overlay).
  found=$(cat "/proc/$outer/task/$outer/children" 2>/dev/null || true)
  found=${found%% *}
  if [[ -n "$found" && $(readlink "/proc/$outer/exe" 2>/dev/null) == */unshare && $(readlink "/proc/$found/root" 2>/dev/null) == "$state/merged" ]]; then
    child=$found
    echo "$child" > "$pid_file"
    break
  fi
  kill -0 "$outer" 2>/dev/null || break
  sleep 0.05
done
[[ -s "$pid_file" ]] || { echo "$0: the container did not start" >&2; exit 1; }

wait "$outer" || true
outer=""
