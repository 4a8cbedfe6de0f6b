#!/bin/sh
# Builds the network policy tests' probe into $1 (default: build/polprobe of
# the checkout) when its source is newer. Standard library only.
exec sh "$(dirname "$0")/../build-go-tool.sh" polprobe "$@"
