#!/bin/sh
# Runs Node.js 24 or newer: the system's when it is new enough, otherwise the
# one scripts/setup.sh installed into .tools/node from the npm registry.
root=$(cd "$(dirname "$0")/.." && pwd)
exec "$("$root/scripts/node-path.sh")" "$@"
