#!/usr/bin/env bash
# Brings a fresh Debian machine (as root) to the point where probec's tests,
# demo and benchmarks run: the Debian packages they use, `npm ci`, the build.
# Idempotent and quick when everything is already there.
#
#   scripts/bootstrap.sh          packages for tests and the demo, npm ci, build
#   scripts/bootstrap.sh --bench  also the peers the benchmark compares against
set -euo pipefail
cd "$(dirname "$0")/.."

# readelf (differential tests), python3 (a real binary with USDT probes for the demo and tests),
# docker.io and podman (container tests start their own dockerd, containerd and podman service;
# procps gives dockerd the `ps` its /top needs), musl-tools (a test builds a real musl program),
# zstd (the image tests compress layers with it).
# The native helper (npm run build:native, native/Makefile): clang and llvm for the BPF program, make
# and gcc, and the static libbpf, libelf and zlib of libbpf-dev, libelf-dev and zlib1g-dev (linked in,
# so the binary needs only libc); the arm64 one (npm run build:native:arm64) with Debian's cross gcc
# and the arm64 -dev packages, which are Multi-Arch: same and install beside the amd64 ones.
# systemtap-sdt-dev gives the attach tests <sys/sdt.h> for their USDT programs; g++ builds C++ fixtures.
# debootstrap makes the clean Debian root test/install/ installs the packed package into.
packages=(binutils python3 docker.io procps podman musl musl-tools musl-dev zstd
  clang llvm libbpf-dev libelf-dev zlib1g-dev systemtap-sdt-dev make gcc g++ debootstrap)
# The real software test/examples compiles and fires the examples against: Debian's PostgreSQL 15
# server (run on a Unix socket), libzookeeper_mt and python3.11 (libstapsdt is not in Debian: a C stand-in).
packages+=(postgresql-15 libzookeeper-mt2 python3.11)
# The C++ corpora test/symbolize/itanium-demangle.test.ts compares the demangler with c++filt on:
# LLVM 14's static libraries (llvm-14-dev, only a Recommends of llvm, which --no-install-recommends skips)
# and ICU's (libicu72).
packages+=(llvm-14-dev libicu72)
# golang-go: test/golang builds the Go test program (fixtures/go) with it, for amd64 and cross for arm64.
packages+=(golang-go)
native_arches=("$(node -p process.arch)")
if [[ "$(dpkg --print-architecture)" == amd64 ]]; then
  native_arches+=(arm64)
  packages+=(gcc-aarch64-linux-gnu libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64)
  if [[ $(id -u) -eq 0 ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64 # apt-get update below fetches its package lists
  fi
fi
if [[ "${1:-}" == "--bench" ]]; then
  # bpftrace -l and tplist-bpfcc are the peers `npm run bench` measures beside probec;
  # elfutils' eu-addr2line is a peer of the symbolizer task (o), beside binutils' addr2line and llvm-symbolizer.
  packages+=(bpftrace bpfcc-tools elfutils)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "probec bootstrap: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "probec bootstrap: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when node_modules is missing or older than the lock file.
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "probec bootstrap: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

npm run --silent build

# The native helpers, prebuilds/linux-<arch>/probec-attach for this machine's architecture and, on
# amd64, arm64 (both are packed into the npm package): make rebuilds whatever is older than its
# sources, and a failed build fails the bootstrap.
for arch in "${native_arches[@]}"; do
  if ! make -q --no-print-directory -C native ARCH="$arch" 2>/dev/null; then
    echo "probec bootstrap: building the native helper for $arch" >&2
    log=$(mktemp)
    if ! make -s -C native -j2 ARCH="$arch" >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      echo "probec bootstrap: building the native helper for $arch failed (output above; make -C native ARCH=$arch)" >&2
      exit 1
    fi
    rm -f "$log"
  fi
done

# Legacy uprobe attachment (probec-attach --mode legacy, and its tests) writes tracefs.
if [[ $(id -u) -eq 0 && -d /sys/kernel/tracing && ! -e /sys/kernel/tracing/uprobe_events ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing
fi
