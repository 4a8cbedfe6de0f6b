#!/bin/sh
# Prints the path of kube-router built from its Go module at a pinned release,
# building it once into ${WEFT_CACHE:-/var/cache/weft}/kube-router/VERSION/
# (only bench/policy-reference needs it, so scripts/setup.sh does not call this).
#
#   KUBE_ROUTER_VERSION   the release (default v2.1.0)
#   WEFT_CACHE            the cache root (default /var/cache/weft)
#
# The module comes from the Go module proxy (GOPROXY). v2.1.0 is the newest
# v2 release proxy.golang.org serves: later tags (v2.2.1, v2.4.1, v2.5.0)
# answer "403 Forbidden: This module version is not available". The bench
# runs only its network policy controller (iptables + ipset), which needs
# the iptables, iptables-save/-restore and ipset commands at run time
# (Debian: iptables, ipset). The build runs niced with -p 2 to share the machine.
set -eu
VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
MODULE=github.com/cloudnativelabs/kube-router/v2
CACHE=${WEFT_CACHE:-/var/cache/weft}/kube-router/$VERSION
BIN=$CACHE/kube-router
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi

fail() { echo "kube-router.sh: $*" >&2; exit 1; }
GO=$(sh "$(dirname "$0")/go-path.sh")
. "$(dirname "$0")/go-module-source.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local

echo "kube-router.sh: building kube-router $VERSION into $BIN (once; takes several minutes)" >&2
module_source "$MODULE" "$VERSION" "$work"
nice -n 10 "$GO" build -trimpath -p 2 -ldflags "-s -w -X $MODULE/pkg/version.Version=$VERSION" -o "$work/kube-router" ./cmd/kube-router \
  || fail "go build of $MODULE@$VERSION failed (see the lines above)"
mkdir -p "$CACHE"
echo "$MODULE@$VERSION as released" >"$CACHE/BUILD"
mv "$work/kube-router" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
echo "$BIN"
