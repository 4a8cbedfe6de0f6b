#!/bin/sh
# Prints the path of a Node.js >= 24 binary, or fails with one line on stderr.
root=$(cd "$(dirname "$0")/.." && pwd)
local_node=$(ls "$root"/.tools/node/node_modules/node-linux-*/bin/node 2>/dev/null | head -n 1)
if [ -n "$local_node" ] && [ -x "$local_node" ]; then echo "$local_node"; exit 0; fi
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 24 ]; then command -v node; exit 0; fi
fi
echo "weft: Node.js 24 or newer is needed; run scripts/setup.sh to install it" >&2
exit 1
