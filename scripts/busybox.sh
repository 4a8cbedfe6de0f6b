#!/bin/sh
# Prints the path of the busybox the lab's `busybox` image runs, fetching it
# once into ${WEFT_CACHE:-/var/cache/weft}/busybox/bin/busybox (VERSION
# beside it names the Debian package it came from).
#
# Why not Debian 12's busybox-static, which the lab's own launch machinery
# uses (scripts/setup.sh installs it): Debian built busybox without wget's
# timeout before 1:1.36.1-5, so in 12's 1.35 `wget -T 1` crashes
# (SIGSEGV) and `wget --timeout=1` is an unknown option, where the busybox
# image's wget times out. The Kubernetes NetworkPolicy tutorial tests
# every policy with `wget --spider --timeout=1`. Debian 13 (trixie) builds
# it with the option; its busybox-static is one static executable, so it
# runs on Debian 12 as it is.
#
# The package is the one pinned below (amd64), checked against its SHA-256.
# Debian removes superseded packages from its pool, so when the pinned one
# is gone (or on another architecture) the current trixie busybox-static is
# used instead, found through trixie's index: its InRelease, checked with
# gpgv against Debian's archive keyring (one good signature from a key
# there is enough, as for apt), names the SHA-256 of the package list,
# which names the package's. Only from Debian's archive (DEBIAN_MIRROR,
# default http://deb.debian.org/debian).
#
#   WEFT_CACHE   the cache root (default /var/cache/weft)
set -eu
PIN_VERSION=1:1.37.0-6+b9
PIN_SHA256=598a3fd92bdafc34cd81196b2952ad36e910e47a4ecf162f8ce5e8e262598e53
# The first Debian version built with wget's timeout (see above).
MIN_VERSION=1:1.36.1-5
SUITE=trixie
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TOP=${WEFT_CACHE:-/var/cache/weft}/busybox
DIR=$TOP/bin
BIN=$DIR/busybox

fail() { echo "busybox.sh: $*" >&2; exit 1; }

if [ -x "$BIN" ] && [ -f "$DIR/VERSION" ] && dpkg --compare-versions "$(cat "$DIR/VERSION")" ge "$MIN_VERSION"; then
  echo "$BIN"
  exit 0
fi

arch=$(dpkg --print-architecture)
mkdir -p "$DIR"
# Beside the cache rather than in /tmp, which may be mounted noexec; unique, so two setups at once do not collide.
work=$(mktemp -d "$TOP/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# $1 URL, $2 file: 0 when fetched, 1 when the archive says it is not there (404), otherwise a failure.
fetch() {
  code=$(curl -sSL --max-time 300 -o "$2" -w '%{http_code}' "$1") || fail "cannot download $1 (is Debian's archive reachable?)"
  case $code in
    200) return 0 ;;
    404) return 1 ;;
    *) fail "$1: HTTP $code" ;;
  esac
}

# The pool path of a Debian version (the epoch is not part of file names).
debfile() { printf 'pool/main/b/busybox/busybox-static_%s_%s.deb\n' "${1#*:}" "$arch"; }

version=$PIN_VERSION
sha=$PIN_SHA256
file=$(debfile "$version")
if [ "$arch" != amd64 ] || ! fetch "$MIRROR/$file" "$work/busybox.deb"; then
  if [ "$arch" = amd64 ]; then why="busybox-static $PIN_VERSION is no longer in the archive"; else why="no package is pinned for $arch"; fi
  echo "busybox.sh: $why; looking busybox-static up in $SUITE's index" >&2
  keyring=""
  for k in /usr/share/keyrings/debian-archive-keyring.gpg /usr/share/keyrings/debian-archive-keyring.pgp; do
    [ -r "$k" ] && keyring=$k && break
  done
  [ -n "$keyring" ] || fail "no Debian archive keyring to check $SUITE's index with (apt-get install debian-archive-keyring)"
  fetch "$MIRROR/dists/$SUITE/InRelease" "$work/InRelease" || fail "$MIRROR/dists/$SUITE/InRelease: not found"
  # gpgv fails when any signature is by a key the keyring lacks (a newer release's): count the good ones instead.
  gpgv --status-fd 3 --keyring "$keyring" --output "$work/Release" "$work/InRelease" 3>"$work/gpgv.status" 2>"$work/gpgv.err" || :
  if ! grep -q '^\[GNUPG:\] VALIDSIG ' "$work/gpgv.status" || grep -q '^\[GNUPG:\] BADSIG ' "$work/gpgv.status"; then
    fail "$SUITE's InRelease has no good signature from $keyring: $(tail -n 1 "$work/gpgv.err")"
  fi
  grep -q "^Codename: $SUITE\$" "$work/Release" || fail "the InRelease served for $SUITE is not $SUITE's"
  list=main/binary-$arch/Packages.xz
  want=$(awk -v f="$list" '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 } s && $3 == f { print $1 }' "$work/Release")
  [ -n "$want" ] || fail "$SUITE's Release names no $list"
  # By its hash: a mirror that syncs between the two downloads cannot mix two versions of the index.
  fetch "$MIRROR/dists/$SUITE/main/binary-$arch/by-hash/SHA256/$want" "$work/Packages.xz" \
    || fetch "$MIRROR/dists/$SUITE/$list" "$work/Packages.xz" || fail "$MIRROR/dists/$SUITE/$list: not found"
  [ "$(sha256sum "$work/Packages.xz" | cut -d' ' -f1)" = "$want" ] || fail "$list does not match the SHA-256 in $SUITE's Release"
  stanza=$(xz -dc "$work/Packages.xz" | awk '/^Package: busybox-static$/ { p = 1 } p && /^$/ { exit } p')
  version=$(printf '%s\n' "$stanza" | sed -n 's/^Version: //p')
  file=$(printf '%s\n' "$stanza" | sed -n 's/^Filename: //p')
  sha=$(printf '%s\n' "$stanza" | sed -n 's/^SHA256: //p')
  [ -n "$version" ] && [ -n "$file" ] && [ -n "$sha" ] || fail "$SUITE's index has no busybox-static for $arch"
  dpkg --compare-versions "$version" ge "$MIN_VERSION" || fail "$SUITE's busybox-static is $version, older than $MIN_VERSION"
  fetch "$MIRROR/$file" "$work/busybox.deb" || fail "$MIRROR/$file: not found"
fi
[ "$(sha256sum "$work/busybox.deb" | cut -d' ' -f1)" = "$sha" ] || fail "$file does not match its SHA-256 $sha"
dpkg-deb -x "$work/busybox.deb" "$work/root"
[ -x "$work/root/usr/bin/busybox" ] || fail "$file holds no usr/bin/busybox"
"$work/root/usr/bin/busybox" true || fail "busybox $version from $file does not run on this machine"
cp "$work/root/usr/bin/busybox" "$work/busybox"
mv "$work/busybox" "$BIN"
echo "$version" >"$work/VERSION"
mv "$work/VERSION" "$DIR/VERSION"
echo "busybox.sh: busybox-static $version from Debian $SUITE in $BIN" >&2
echo "$BIN"
