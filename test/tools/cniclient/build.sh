#!/bin/sh
# Builds the libcni test client into $1 (default: build/cniclient of the
# checkout) when its source is newer. libcni comes from the Go module proxy
# at the version go.mod pins (Debian's is 1.1, which has no STATUS or GC).
exec sh "$(dirname "$0")/../build-go-tool.sh" cniclient "$@"
