#!/bin/sh
# Prints the path of a Go toolchain >= 1.24 (what the Kubernetes build and the
# libcni test client need), or fails with one line on stderr. Debian 12's
# golang-go is 1.19, so a newer Go in /usr/local/go wins over the one in PATH.
for go in /usr/local/go/bin/go "$(command -v go 2>/dev/null)"; do
  [ -n "$go" ] && [ -x "$go" ] || continue
  minor=$("$go" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
  if [ -n "$minor" ] && [ "$minor" -ge 24 ]; then echo "$go"; exit 0; fi
done
echo "weft: Go 1.24 or newer is needed (found: $(go version 2>/dev/null || echo none)); install it into /usr/local/go" >&2
exit 1
