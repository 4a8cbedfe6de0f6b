#!/bin/sh
# Builds the pinned Kubernetes release from its Go modules: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kube-proxy and agnhost.
#
# The pin and everything it depends on is the build module in
# scripts/kubernetes/ (go.mod, go.sum): it requires k8s.io/kubernetes and
# replaces each k8s.io/* staging module with its published v0.x twin, which is
# why a plain `go install k8s.io/kubernetes/cmd/...@v1.x` cannot do this.
#
# Binaries are cached outside the checkout, in
#   ${WEFT_CACHE:-/var/cache/weft}/kubernetes/<version>/bin/
# so a fresh clone on the same machine reuses them. They are rebuilt only when
# the build module (go.mod, go.sum) or the Go toolchain changes; the stamp file
# beside bin/ records what they were built from.
#
# Prints the bin directory on stdout when done; progress goes to stderr.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mod="$root/scripts/kubernetes"
say() { echo "kubernetes: $*" >&2; }
die() { echo "kubernetes: $*" >&2; exit 1; }

# The machine's Go. Debian's /usr/bin/go (1.19) is too old for Kubernetes, so
# /usr/local/go comes first; the go.mod's `go` line is what the release needs.
go=/usr/local/go/bin/go
[ -x "$go" ] || go=$(command -v go || true)
[ -n "$go" ] || die "no Go toolchain found (looked for /usr/local/go/bin/go and go in PATH); install Go $(sed -n 's/^go //p' "$mod/go.mod") or newer"
need=$(sed -n 's/^go //p' "$mod/go.mod")
have=$(GOTOOLCHAIN=local "$go" env GOVERSION | sed 's/^go//')
# Versions compare field by field: the oldest of the two must be what we need.
oldest=$(printf '%s\n%s\n' "$need" "$have" | sort -t. -k1,1n -k2,2n -k3,3n | head -1)
[ "$oldest" = "$need" ] || die "$go is Go $have; the pinned release needs Go $need or newer (install it, or build with GOTOOLCHAIN=go$need from the module proxy)"

version=$(sed -n 's/^[[:space:]]*\(require \)\?k8s.io\/kubernetes \(v[0-9][0-9.]*\).*/\2/p' "$mod/go.mod")
[ -n "$version" ] || die "$mod/go.mod does not require k8s.io/kubernetes vX.Y.Z"
cache="${WEFT_CACHE:-/var/cache/weft}/kubernetes/$version"
stamp=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -c1-16)-go$have
tools=$(sed -n 's/^\t\(k8s.io\/kubernetes\/[^ ]*\)$/\1/p' "$mod/go.mod")

current() { [ -f "$cache/stamp" ] && [ "$(cat "$cache/stamp")" = "$stamp" ]; }
if current; then
  echo "$cache/bin"
  exit 0
fi
# One build at a time per cache: a second checkout's setup waits for the
# first one's build and then finds it current.
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
  say "another build of Kubernetes $version is running; waiting for it"
  flock 9
fi
if current; then
  echo "$cache/bin"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
cd "$mod"
# Fetch first, so an unreachable module proxy is one clear error naming the
# module that could not be had, not a wall of compiler output.
say "fetching Kubernetes $version modules from $("$go" env GOPROXY)"
t0=$(date +%s)
errors=$(mktemp)
if ! "$go" list -deps $tools >/dev/null 2>"$errors"; then
  missing=$(grep -o '[a-zA-Z0-9./_-]*@v[0-9][^: ]*' "$errors" | head -1)
  first=$(grep -v '^go: downloading' "$errors" | head -1)
  rm -f "$errors"
  die "cannot download ${missing:-the modules of k8s.io/kubernetes $version} from the Go module proxy ($("$go" env GOPROXY)): $first
kubernetes: the lab's control plane needs these binaries; check network access to the proxy (or set GOPROXY), then run scripts/setup.sh again"
fi
rm -f "$errors"
say "modules ready in $(( $(date +%s) - t0 ))s"

# One package at a time: the machine has 2 cores, and each build after the
# first reuses the compiled packages the binaries share.
tmp=$(mktemp -d "$cache/bin.new.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
for pkg in $tools; do
  name=$(basename "$pkg")
  t=$(date +%s)
  say "building $name ..."
  "$go" build -trimpath -ldflags="-s -w" -o "$tmp/$name" "$pkg" || die "building $name ($pkg@$version) failed; see the output above"
  say "built $name in $(( $(date +%s) - t ))s ($(du -h "$tmp/$name" | cut -f1))"
done
rm -rf "$cache/bin"
mv "$tmp" "$cache/bin"
trap - EXIT
echo "$stamp" >"$cache/stamp"
say "Kubernetes $version built in $(( $(date +%s) - t0 ))s into $cache/bin"
echo "$cache/bin"
