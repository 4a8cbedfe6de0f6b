#!/bin/sh
# Installs everything weft, its tests and its benchmarks need, then builds.
# Idempotent: each step checks first and does nothing when already done.
# Needs root (apt-get) and network access to Debian's archive and npm.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "setup: $*"; }

# 1. Debian packages: the kernel tools the agent, plugin and lab drive, the
#    real peers the tests and benchmarks run against, and the C compiler the
#    plugin's executable is built with (QuickJS and its host, scripts/build.ts).
pkgs="iproute2 nftables iputils-ping procps util-linux kmod ca-certificates
  containernetworking-plugins etcd-server etcd-client iperf3 dnsperf conntrack
  podman runc conmon busybox-static debootstrap openssl curl bind9-dnsutils dnsmasq-base
  iptables ipset gpgv xz-utils gcc libc6-dev"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: missing packages:$missing; run as root" >&2; exit 1; }
  say "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 1b. The lab's busybox image: Debian 13's busybox-static, whose wget has
#     its timeout (Debian 12's crashes on `wget -T`; scripts/busybox.sh says
#     more), fetched once into the cache outside the checkout.
sh "$root/scripts/busybox.sh" >/dev/null

# 2. Node.js 24 LTS from the npm registry when the system's is older. The
#    platform package carries the binary itself, so no install script runs.
if ! "$root/scripts/node-path.sh" >/dev/null 2>&1; then
  case $(uname -m) in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  say "installing Node.js 24 (node-linux-$arch) into .tools/node"
  mkdir -p .tools/node
  npm install --silent --no-save --no-audit --no-fund --prefix .tools/node "node-linux-$arch@24" >/dev/null
fi
node=$("$root/scripts/node-path.sh")

# 3. npm dependencies, when package.json or the lock file changed since.
stamp=node_modules/.weft-installed
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  say "installing npm dependencies"
  if [ -f package-lock.json ]; then
    npm ci --silent --no-audit --no-fund >/dev/null
  else
    npm install --silent --no-audit --no-fund >/dev/null
  fi
  touch "$stamp"
fi

# 4. The pinned Kubernetes release (kube-apiserver, kube-controller-manager,
#    kube-scheduler, kubectl, kube-proxy, agnhost), built from its Go modules
#    into a cache outside the checkout; a no-op when the cache is current.
sh "$root/scripts/kubernetes.sh" >/dev/null

# 5. The build: the self-contained CNI plugin executable and the agent bundle.
"$node" --disable-warning=ExperimentalWarning scripts/build.ts
"$node" --disable-warning=ExperimentalWarning scripts/bundle.ts

# 6. The libcni test client (test/tools/cniclient), which the tests and
#    benchmarks drive the plugin with. The demo does not need it, so a failed
#    build (no Go, no module proxy) warns and carries on; the tests that use
#    it then fail naming the missing build/cniclient.
if ! sh test/tools/cniclient/build.sh; then
  say "warning: the libcni test client is not built; npm run demo works without it, the tests do not"
fi

# 7. The network policy tests' probe (test/tools/polprobe: TCP, UDP and SCTP
#    over raw sockets), standard library only; like the libcni client, a
#    failed build warns and the tests that need it name build/polprobe.
if ! sh test/tools/polprobe/build.sh; then
  say "warning: the network policy test probe is not built; npm run demo works without it, the policy tests do not"
fi
