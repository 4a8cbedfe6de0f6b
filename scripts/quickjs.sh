#!/bin/sh
# Prints the directory of the QuickJS engine the CNI plugin is built on
# (quickjs.h, libqjs.a and the qjsc compiler), fetching and building it
# once into ${WEFT_CACHE:-/var/cache/weft}/quickjs/VERSION.
#
# Why QuickJS: the plugin is a process a runtime starts for every pod, and
# its start is most of its cost. The same TypeScript compiled by Bun into
# a 110 MB executable took 5-7 ms of CPU to start (JavaScriptCore, its
# threads, ~1,000 page faults); QuickJS with the plugin's bytecode linked
# in is a 2.4 MB static executable that starts in about 1 ms
# (bench/plugin-binary).
#
# The source is quickjs-ng (https://github.com/quickjs-ng/quickjs), as the
# crates.io package rquickjs-sys vendors it: this machine reaches crates.io
# and not GitHub. The package is pinned by version and SHA-256; only its
# quickjs/ directory (MIT) is used, built with the system's C compiler.
#
#   WEFT_CACHE   the cache root (default /var/cache/weft)
set -eu
CRATE=rquickjs-sys
CRATE_VERSION=0.14.0
CRATE_SHA256=cee271d0eeba64f0915b846cb7ae02e16faf3dfdffdca91731101d9d30fe3423
# The quickjs-ng release that crate vendors (quickjs.h, QJS_VERSION_*).
QJS_VERSION=0.16.2
URL=${CRATES_MIRROR:-https://static.crates.io/crates}/$CRATE/$CRATE-$CRATE_VERSION.crate
TOP=${WEFT_CACHE:-/var/cache/weft}/quickjs
DIR=$TOP/$QJS_VERSION

fail() { echo "quickjs.sh: $*" >&2; exit 1; }

# SOURCE names the package it was built from: another pin builds again.
if [ -f "$DIR/libqjs.a" ] && [ -x "$DIR/qjsc" ] && [ -f "$DIR/quickjs.h" ] && [ "$(cat "$DIR/SOURCE" 2>/dev/null)" = "$CRATE-$CRATE_VERSION $CRATE_SHA256" ]; then
  echo "$DIR"
  exit 0
fi
command -v cc >/dev/null || fail "no C compiler (cc); install gcc and libc6-dev"

mkdir -p "$TOP"
# Beside the cache rather than in /tmp, which may be mounted noexec; unique, so two setups at once do not collide.
work=$(mktemp -d "$TOP/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

echo "quickjs.sh: fetching $CRATE $CRATE_VERSION (quickjs-ng $QJS_VERSION) from $URL" >&2
curl -fsSL --retry 3 -o "$work/src.crate" "$URL" || fail "could not fetch $URL (is crates.io reachable?)"
got=$(sha256sum "$work/src.crate" | cut -d' ' -f1)
[ "$got" = "$CRATE_SHA256" ] || fail "$URL has SHA-256 $got, not the pinned $CRATE_SHA256; nothing was built"
tar -xzf "$work/src.crate" -C "$work" "$CRATE-$CRATE_VERSION/quickjs"
src=$work/$CRATE-$CRATE_VERSION/quickjs
grep -q "define QJS_VERSION_MINOR $(echo "$QJS_VERSION" | cut -d. -f2)\$" "$src/quickjs.h" || fail "$CRATE $CRATE_VERSION does not vendor quickjs-ng $QJS_VERSION"

echo "quickjs.sh: building quickjs-ng $QJS_VERSION (about 20 s)" >&2
out=$work/out
mkdir -p "$out"
# The flags of quickjs-ng's own CMake build (Release).
CFLAGS="-std=gnu11 -O2 -funsigned-char -D_GNU_SOURCE -DQUICKJS_NG_BUILD -DNDEBUG -fPIC"
for f in quickjs libregexp libunicode dtoa; do
  # shellcheck disable=SC2086
  cc $CFLAGS -c "$src/$f.c" -o "$out/$f.o" &
done
# shellcheck disable=SC2086
cc $CFLAGS -c "$src/quickjs-libc.c" -o "$out/quickjs-libc.o" &
# shellcheck disable=SC2086
cc $CFLAGS -c "$src/qjsc.c" -o "$out/qjsc.o" &
wait
for f in quickjs libregexp libunicode dtoa quickjs-libc qjsc; do [ -f "$out/$f.o" ] || fail "compiling $f.c failed"; done
ar rcs "$out/libqjs.a" "$out/quickjs.o" "$out/libregexp.o" "$out/libunicode.o" "$out/dtoa.o"
cc -o "$out/qjsc" "$out/qjsc.o" "$out/quickjs-libc.o" "$out/libqjs.a" -lm -lpthread -ldl
cp "$src/quickjs.h" "$src/LICENSE" "$out/"
printf '%s\n' "$QJS_VERSION" > "$out/VERSION"
printf '%s\n' "$CRATE-$CRATE_VERSION $CRATE_SHA256" > "$out/SOURCE"
rm -f "$out"/*.o
rm -rf "$DIR"
mv "$out" "$DIR"
echo "$DIR"
