#!/bin/sh
# Builds the network policy's reference, sigs.k8s.io/kube-network-policies
# (the pinned version below), from the Go module proxy into
#   ${WEFT_CACHE:-/var/cache/weft}/kube-network-policies/<version>/bin/
# outside the checkout, and prints the binary's path. A no-op when built.
set -eu
version=v0.8.0
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${WEFT_CACHE:-/var/cache/weft}/kube-network-policies/$version/bin"
if [ -x "$bin/kube-network-policies" ]; then
  echo "$bin/kube-network-policies"
  exit 0
fi
go=$("$root/scripts/go-path.sh")
mkdir -p "$bin"
# The module's main package is its cmd/ directory, so go install names the binary "cmd".
if ! GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$bin" "$go" install "sigs.k8s.io/kube-network-policies/cmd@$version" >"$bin/../build.log" 2>&1; then
  echo "kube-network-policies: build failed; see $bin/../build.log" >&2
  exit 1
fi
mv "$bin/cmd" "$bin/kube-network-policies"
echo "$bin/kube-network-policies"
