#!/bin/sh
# Builds the libcni test client into $1 (default: build/cniclient of the
# checkout) when its source is newer than the binary. libcni comes from the
# Go module proxy at the version go.mod pins (Debian's is 1.1, which has no
# STATUS or GC).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/build/cniclient}
fresh=1
for f in "$here/main.go" "$here/go.mod" "$here/go.sum"; do
  [ -x "$out" ] && [ ! "$f" -nt "$out" ] || fresh=0
done
[ "$fresh" = 1 ] && exit 0
go=$("$root/scripts/go-path.sh")
mkdir -p "$(dirname "$out")"
cd "$here"
if ! "$go" build -trimpath -o "$out.tmp" . 2>"$out.log"; then
  echo "cniclient: build failed (needs the Go module proxy for github.com/containernetworking/cni); see $out.log" >&2
  rm -f "$out.tmp"
  exit 1
fi
mv "$out.tmp" "$out"
rm -f "$out.log"
