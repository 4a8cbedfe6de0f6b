#!/bin/sh
# The whole suite: typecheck, unit tests beside the code, then the root and
# namespace tests under test/integration. Node's test runner prints the summary.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "typecheck: tsc"
node_modules/.bin/tsc -p tsconfig.json
# The lab runs the bundled agent and the compiled plugin and port server:
# rebuild them when a source changed (each is skipped when it is current).
sh scripts/node.sh --disable-warning=ExperimentalWarning scripts/build.ts
sh scripts/node.sh --disable-warning=ExperimentalWarning scripts/bundle.ts
unit=$(find src -name '*.test.ts' | sort)
integration=$(find test/integration -name '*.test.ts' | sort)
# The host's own namespace must come out as it went in (scripts/host-state.sh).
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
sh scripts/host-state.sh >"$state/before"
status=0
# shellcheck disable=SC2086
sh scripts/node.sh --disable-warning=ExperimentalWarning --test --test-concurrency=1 \
  --test-reporter=spec $unit $integration || status=$?
sh scripts/host-state.sh >"$state/after"
if ! diff -u "$state/before" "$state/after" >"$state/diff"; then
  echo "host namespace: the suite changed the host's own network state (tests must act only in namespaces they make):" >&2
  cat "$state/diff" >&2
  exit 1
fi
echo "host namespace: unchanged (nftables, links, addresses, routes, rules, namespaces, sysctls, mounts)"
exit "$status"
