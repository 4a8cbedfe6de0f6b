# Sourced by the scripts that build a Go program from its module at a
# release (flannel.sh, kube-router.sh): module_source MODULE VERSION DIR
# downloads MODULE@VERSION through the Go module proxy and leaves a writable
# copy of its source in DIR/src, then changes into it. Needs GO and fail()
# from the caller.
module_source() {
  if ! "$GO" mod download -json "$1@$2" >"$3/download.json" 2>"$3/download.err"; then
    fail "cannot download $1@$2 from the Go module proxy ($("$GO" env GOPROXY)): $(grep -o '"Error": ".*"' "$3/download.json" || cat "$3/download.err"); check the network or set GOPROXY"
  fi
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' "$3/download.json")
  [ -d "$dir" ] || fail "go mod download printed no module directory for $1@$2"
  cp -R "$dir" "$3/src"
  chmod -R u+w "$3/src"
  cd "$3/src"
}
