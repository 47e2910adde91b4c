#!/usr/bin/env bash
# Makes, once per machine, the clean Debian root that test/install/ installs
# the packed probec into: `debootstrap --variant=minbase bookworm` from the
# Debian mirror this machine's apt already uses, so it holds only Debian's
# essential packages (no compiler, no libelf, no libbpf; the test checks).
# The tests never write to it: they mount an overlay on top (in-root.sh).
#
#   test/install/make-rootfs.sh      prints the root's path, creating it if missing
#
# Cached outside the repository ($PROBEC_TEST_ROOTFS, default
# /var/cache/probec-test-rootfs) so CI pays for debootstrap once per machine;
# a `.complete` file marks a finished root, a flock serialises concurrent runs.
set -euo pipefail

cache=${PROBEC_TEST_ROOTFS:-/var/cache/probec-test-rootfs}
suite=bookworm
root=$cache/$suite-minbase

if [[ -f $root/.complete ]]; then
  echo "$root"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "make-rootfs.sh: debootstrap needs root (it creates $root)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  echo "make-rootfs.sh: needs debootstrap (apt-get install debootstrap; scripts/bootstrap.sh installs it)" >&2
  exit 1
fi

# The mirror apt uses for $suite: a deb822 stanza (URIs: + Suites:) or a one-line `deb URI suite ...`.
shopt -s nullglob
sources=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
mirror=$(
  cat "${sources[@]}" 2>/dev/null |
    awk -v suite="$suite" '
      function has(list, word,   n, parts, i) { n = split(list, parts, /[ \t]+/); for (i = 1; i <= n; i++) if (parts[i] == word) return 1; return 0 }
      /^[ \t]*$/ { if (uris != "" && has(suites, suite)) { print uris; exit } uris = ""; suites = ""; next }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); split($0, u, /[ \t]+/); uris = u[1]; next }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0; next }
      /^deb[ \t]/ { sub(/\[[^]]*\][ \t]*/, ""); if ($3 == suite) { print $2; exit } }
      END { if (uris != "" && has(suites, suite)) print uris }' | head -n 1 || true
)
if [[ -z $mirror ]]; then
  echo "make-rootfs.sh: no apt source for $suite in /etc/apt/sources.list*; set one up (e.g. http://deb.debian.org/debian)" >&2
  exit 1
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -f $root/.complete ]]; then # another run made it while this one waited
  echo "$root"
  exit 0
fi

# A half-made root from a killed run is discarded; --one-file-system never follows a mount left inside it.
rm -rf --one-file-system "$root"
keyring=()
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
echo "make-rootfs.sh: debootstrap --variant=minbase $suite $root $mirror (once per machine)" >&2
log=$cache/debootstrap.log
# Its own mount namespace: the /proc and /sys debootstrap mounts inside the root vanish with it, even if it is killed.
if ! unshare --mount --propagation private debootstrap --variant=minbase "${keyring[@]}" "$suite" "$root" "$mirror" >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "make-rootfs.sh: debootstrap failed (full log: $log)" >&2
  exit 1
fi
touch "$root/.complete"
echo "$root"
