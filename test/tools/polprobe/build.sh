#!/bin/sh
# Builds the network policy tests' probe (test/tools/polprobe) into $1
# (default: build/polprobe of the checkout) when its source is newer than
# the binary. Standard library only: no module proxy needed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${1:-$root/build/polprobe}
fresh=1
for f in "$here/main.go" "$here/go.mod"; do
  [ -x "$out" ] && [ ! "$f" -nt "$out" ] || fresh=0
done
[ "$fresh" = 1 ] && exit 0
go=$("$root/scripts/go-path.sh")
mkdir -p "$(dirname "$out")"
cd "$here"
if ! GOTOOLCHAIN=local CGO_ENABLED=0 "$go" build -trimpath -o "$out.tmp" . 2>"$out.log"; then
  echo "polprobe: build failed; see $out.log" >&2
  rm -f "$out.tmp"
  exit 1
fi
mv "$out.tmp" "$out"
rm -f "$out.log"
