#!/bin/sh
# The whole suite: typecheck, unit tests beside the code, then the root and
# namespace tests under test/integration. Node's test runner prints the summary.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "typecheck: tsc"
node_modules/.bin/tsc -p tsconfig.json
# The lab runs the bundled agent: rebuild it when a source changed.
sh scripts/node.sh --disable-warning=ExperimentalWarning scripts/bundle.ts
unit=$(find src -name '*.test.ts' | sort)
integration=$(find test/integration -name '*.test.ts' | sort)
# shellcheck disable=SC2086
exec sh scripts/node.sh --disable-warning=ExperimentalWarning --test --test-concurrency=1 \
  --test-reporter=spec $unit $integration
