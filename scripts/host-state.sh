#!/bin/sh
# The host namespace's network state, as text to compare before and after
# the suite: nftables, links, addresses, routes, rules, network namespaces,
# a few sysctls and the mounts. Tests build everything in namespaces of
# their own and must leave this unchanged (docs/DESIGN.md). Lifetimes and
# counters are left out: they move on their own.
set -u
echo "## nft"; nft list ruleset 2>&1
echo "## links"; ip -o link show | sed -E 's/^[0-9]+: //; s/ state [A-Z]+//; s/\\.*$//' | sort
echo "## addresses"; ip -o addr show | sed -E 's/^[0-9]+: //; s/ (valid|preferred)_lft [^ ]+//g; s/\\.*$//' | sort
echo "## routes"; ip -4 route show table all | sort; ip -6 route show table all 2>/dev/null | sed -E 's/ expires [0-9]+sec//' | sort
echo "## rules"; ip rule show
echo "## netns"; ip netns list | sort
echo "## sysctls"
for k in net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.bridge.bridge-nf-call-iptables; do
  printf '%s = %s\n' "$k" "$(sysctl -n "$k" 2>/dev/null || echo absent)"
done
# Mounts where weft or its lab could put one (other mounts come and go with the machine's own tools).
echo "## mounts"; cut -d' ' -f2,3 /proc/self/mounts | grep -E '^/(run|var|etc|opt|tmp|sys/fs/bpf)(/| )' | sort
