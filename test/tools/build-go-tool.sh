#!/bin/sh
# Builds the Go test tool test/tools/NAME into OUT (default: build/NAME of
# the checkout) when a source of it (*.go, go.mod, go.sum) is newer than the
# binary, with the machine's Go (scripts/go-path.sh). Modules it requires
# come from the Go module proxy; a failure leaves the log beside OUT.
#   sh test/tools/build-go-tool.sh NAME [OUT]
set -eu
name=$1
tools=$(cd "$(dirname "$0")" && pwd)
here="$tools/$name"
root=$(cd "$tools/../.." && pwd)
out=${2:-$root/build/$name}
fresh=1
for f in "$here"/*.go "$here/go.mod" "$here/go.sum"; do
  [ -e "$f" ] || continue
  [ -x "$out" ] && [ ! "$f" -nt "$out" ] || fresh=0
done
[ "$fresh" = 1 ] && exit 0
go=$("$root/scripts/go-path.sh")
mkdir -p "$(dirname "$out")"
cd "$here"
if ! GOTOOLCHAIN=local CGO_ENABLED=0 "$go" build -trimpath -o "$out.tmp" . 2>"$out.log"; then
  echo "$name: build failed (modules it requires come from the Go module proxy); see $out.log" >&2
  rm -f "$out.tmp"
  exit 1
fi
mv "$out.tmp" "$out"
rm -f "$out.log"
