#!/usr/bin/env bash
# Installs a packed probec into the clean Debian root (make-rootfs.sh) the way
# a user would, then uses it there: `npm install -g probec-*.tgz`,
# `probec list`, and `probec trace` on a real process started in that root.
# Every result is a file in OUT_DIR; install.test.ts asserts on them.
#
#   in-root.sh ROOTFS TARBALL OUT_DIR
#
# It runs in its own mount and network namespaces (it re-executes itself
# under unshare): the root is an overlay whose writable layer is a tmpfs, so
# the cached root is never modified and everything vanishes when this exits;
# with no network at all, the install proves that nothing is downloaded.
#
# What is put into the root, and why (the root has Debian's essential
# packages only; bookworm's nodejs is 18, probec needs 20):
#   /usr/local/bin/node        this machine's node binary (bind-mounted, read-only); its libraries
#                              (libc, libstdc++, libgcc_s) are the root's own bookworm ones
#   /usr/local/lib/node_modules/npm   this machine's npm (bind-mounted, read-only)
#   /root/.npm                 this machine's npm cache under an overlay (read-only below): probec's
#                              dependencies come from it, `npm install --offline`, never a registry
#   /proc /sys /dev            the host's (bind): probec finds processes in /proc and the attacher
#                              needs the kernel's BPF and uprobes
set -euo pipefail

if [[ -z ${PROBEC_IN_ROOT_SCRATCH:-} ]]; then
  # Outside the namespaces: the scratch mount point, removed once the namespaces (and the tmpfs on it) are gone.
  scratch=$(mktemp -d /tmp/probec-in-root.XXXXXX)
  status=0
  PROBEC_IN_ROOT_SCRATCH=$scratch unshare --mount --propagation private --net "$0" "$@" || status=$?
  rmdir "$scratch"
  exit "$status"
fi

rootfs=$1 tarball=$2 out=$3
scratch=$PROBEC_IN_ROOT_SCRATCH
node_bin=$(command -v node)
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")") # .../node_modules/npm
npm_cache=$(npm config get cache)

mount -t tmpfs -o size=512m probec-in-root "$scratch"
mkdir -p "$scratch"/{upper,work,merged,cache-upper,cache-work}
root=$scratch/merged
mount -t overlay overlay -o "lowerdir=$rootfs,upperdir=$scratch/upper,workdir=$scratch/work" "$root"

for fs in proc sys dev; do mount --rbind "/$fs" "$root/$fs"; done
mkdir -p "$root/usr/local/lib/node_modules/npm" "$root/root/.npm" "$root/out"
touch "$root/usr/local/bin/node"
mount --bind "$node_bin" "$root/usr/local/bin/node"
mount -o remount,bind,ro "$root/usr/local/bin/node"
mount --bind "$npm_dir" "$root/usr/local/lib/node_modules/npm"
mount -o remount,bind,ro "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
mount -t overlay overlay -o "lowerdir=$npm_cache,upperdir=$scratch/cache-upper,workdir=$scratch/cache-work" "$root/root/.npm"
mount --bind "$out" "$root/out"
cp "$tarball" "$root/tmp/probec.tgz"

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin LANG=C.UTF-8 "$@"
}

# Before anything is installed: what the root has (the test asserts no compiler, no libelf, no libbpf).
in_root dpkg-query -W -f '${Package}\n' >"$out/packages.txt"
in_root sh -c 'for c in cc gcc clang make ld; do command -v "$c"; done; find / -xdev \( -name "libelf*" -o -name "libbpf*" \) -print' >"$out/toolchain.txt" || true
in_root node --version >"$out/node-version.txt" 2>&1 || true

# The install, as a user types it (plus --offline: this namespace has no network anyway).
set +e
in_root npm install -g --offline --no-audit --no-fund --no-update-notifier /tmp/probec.tgz >"$out/npm-install.log" 2>&1
echo $? >"$out/npm-install.rc"
in_root sh -c 'ls "$(npm root -g)"/probec/prebuilds/*/probec-attach' >"$out/prebuilds.txt" 2>&1

triplet=$(in_root dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || in_root sh -c 'ls -d /usr/lib/*-linux-gnu | head -n 1 | xargs basename')
in_root probec list "/usr/lib/$triplet/libc.so.6" malloc --functions >"$out/list.txt" 2>&1
echo $? >"$out/list.rc"

# A real process in the root (perl-base is essential, so it is there): it mallocs ten 1000-byte strings every 20 ms.
# chroot and env exec, so $! is perl's pid (a shell function here would fork a subshell first).
chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin perl -e 'while (1) { my @a = map { "x" x 1000 } 1 .. 10; select(undef, undef, undef, 0.02) }' &
target=$!
sleep 0.3
# The chroot's pid is the host's (no PID namespace), which is the pid BPF sees.
echo "$target" >"$out/target.pid"
in_root timeout 60 probec trace "uprobe pid/$target:libc:malloc { size = arg0 }" --count 3 --json >"$out/trace.jsonl" 2>"$out/trace.err"
echo $? >"$out/trace.rc"
kill "$target"
wait "$target" 2>/dev/null
exit 0
