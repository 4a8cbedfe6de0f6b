#!/bin/sh
# Prints the path of flanneld built from its Go module at a pinned release,
# building it once into ${WEFT_CACHE:-/var/cache/weft}/flannel/VERSION/ (only
# bench/flannel needs it, so scripts/setup.sh does not call this).
#
#   FLANNEL_VERSION   the release (default v0.28.10)
#   WEFT_CACHE        the cache root (default /var/cache/weft)
#
# The module comes from the Go module proxy (GOPROXY). flanneld's main
# package links every backend; the cloud-only tencentvpc backend needs
# github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc, whose zip
# proxy.golang.org refuses ("403 Forbidden: This module version is not
# available"). When that module cannot be downloaded, the build drops that
# one backend's import from a copy of main.go and says so; vxlan and the
# kube subnet manager are untouched. CGO is on for amd64 as flannel's
# Makefile has it (its udp backend is C there), off elsewhere; it needs a C
# compiler (Debian: gcc). The build runs with -p 1 to share the machine.
set -eu
VERSION=${FLANNEL_VERSION:-v0.28.10}
MODULE=github.com/flannel-io/flannel
CACHE=${WEFT_CACHE:-/var/cache/weft}/flannel/$VERSION
BIN=$CACHE/flanneld
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

fail() { echo "flannel.sh: $*" >&2; exit 1; }
GO=$(sh "$(dirname "$0")/go-path.sh")
. "$(dirname "$0")/go-module-source.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0
if [ "$("$GO" env GOARCH)" = amd64 ]; then
  command -v gcc >/dev/null || fail "building flanneld on amd64 needs a C compiler (its udp backend uses cgo); install gcc (apt-get install gcc)"
  CGO_ENABLED=1
fi

echo "flannel.sh: building flanneld $VERSION into $BIN (once; takes a few minutes)" >&2
module_source "$MODULE" "$VERSION" "$work"

note="$MODULE@$VERSION as released"
if ! "$GO" mod download github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc 2>"$work/tencent.err"; then
  echo "flannel.sh: leaving out flannel's tencentvpc backend: $(tail -n 2 "$work/tencent.err" | tr '\n' ' ')" >&2
  sed -i '\|"github.com/flannel-io/flannel/pkg/backend/tencentvpc"|d' main.go
  note="$MODULE@$VERSION without the tencentvpc backend (its SDK module is not served: $(tail -n 2 "$work/tencent.err" | tr '\n' ' '))"
fi
"$GO" build -trimpath -p 1 -ldflags "-s -w -X $MODULE/pkg/version.Version=$VERSION" -o "$work/flanneld" . \
  || fail "go build of $MODULE@$VERSION failed (see the lines above)"
mkdir -p "$CACHE"
echo "$note" >"$CACHE/BUILD"
mv "$work/flanneld" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
echo "$BIN"
