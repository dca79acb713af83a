# shellcheck shell=bash
# The bench's peer: grpc-gateway (v1, Go) in front of music-service, so that music-bench's
# peer-2proc scenario puts our gateway and the best-known one side by side on the same service and
# store (issue 14). Source it after common.sh and test-deps.sh (with_cache_lock) with CACHE set (an
# absolute directory), then call ensure_grpc_gateway_peer, which sets PEER_BIN.
#
# Everything comes from Debian (bookworm): Go 1.19, protoc, protoc-gen-go 1.3.5 (github.com/golang/
# protobuf, gRPC stubs through plugins=grpc), protoc-gen-grpc-gateway 1.6.4 and the libraries they
# generate code for, under /usr/share/gocode. No Go module can be downloaded here, so the build is
# in GOPATH mode: the code generated from proto/music/v1 goes to
# $CACHE/grpc-gateway-peer/gopath/src/music/v1, and bench/peer/main.go (the few lines that put the
# generated handlers on an HTTP server) is built against it and /usr/share/gocode. The binary is
# rebuilt only when main.go, the protos or this file change (a hash kept next to it).
#
# The protos are fed to protoc with proto3's `optional` keyword dropped: both generators predate it
# and protoc refuses to run them on a file that has it. The field numbers and types stay, so the
# bytes on the wire are the same; the peer only cannot tell an unset album title from an empty one.
# They have no go_package option: the M mappings below name the Go packages instead (ours, and
# Debian's for google/api and the well-known types).

GRPC_GATEWAY_PEER_PACKAGES=(
    golang-go
    protobuf-compiler
    golang-goprotobuf-dev
    golang-grpc-gateway
    golang-github-grpc-ecosystem-grpc-gateway-dev
    golang-google-grpc-dev
    golang-google-genproto-dev
)

ensure_grpc_gateway_peer() {
    local root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    local missing=() package
    for package in "${GRPC_GATEWAY_PEER_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$package")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    fi
    with_cache_lock _build_grpc_gateway_peer "$root"
    # shellcheck disable=SC2034 # used by the sourcing script
    PEER_BIN=$CACHE/grpc-gateway-peer/bin/grpc-gateway-peer
}

_build_grpc_gateway_peer() {
    local root=$1 dir=$CACHE/grpc-gateway-peer
    local bin=$dir/bin/grpc-gateway-peer stamp=$dir/bin/grpc-gateway-peer.sha256 hash
    hash=$(cd "$root" && cat bench/peer/main.go proto/music/v1/*.proto proto/google/api/*.proto \
        scripts/lib/grpc-gateway-peer.sh | sha256sum | cut -d' ' -f1)
    if [[ -x $bin && -f $stamp && $(<"$stamp") == "$hash" ]]; then
        return 0
    fi
    log "building the grpc-gateway peer (Go, GOPATH mode) into $dir"
    rm -rf "$dir/proto" "$dir/gopath/src/music"
    mkdir -p "$dir/proto/music/v1" "$dir/gopath/src" "$dir/gocache" "$dir/bin"
    cp -r "$root/proto/google" "$dir/proto/"
    local proto
    for proto in "$root"/proto/music/v1/*.proto; do
        sed 's/^\([[:space:]]*\)optional /\1/' "$proto" >"$dir/proto/music/v1/$(basename "$proto")"
    done
    local m=() name
    for proto in "$dir"/proto/music/v1/*.proto; do
        m+=("Mmusic/v1/$(basename "$proto")=music/v1")
    done
    for name in annotations http; do
        m+=("Mgoogle/api/$name.proto=google.golang.org/genproto/googleapis/api/annotations")
    done
    m+=("Mgoogle/protobuf/timestamp.proto=github.com/golang/protobuf/ptypes/timestamp")
    local mappings
    mappings=$(
        IFS=,
        printf '%s' "${m[*]}"
    )
    (cd "$dir/proto" && protoc -I . -I /usr/include \
        --go_out="plugins=grpc,$mappings:$dir/gopath/src" \
        --grpc-gateway_out="logtostderr=true,$mappings:$dir/gopath/src" \
        music/v1/*.proto) || die "protoc (protoc-gen-go, protoc-gen-grpc-gateway) failed"
    (cd "$root/bench/peer" && env GO111MODULE=off GOFLAGS= GOPATH="$dir/gopath:/usr/share/gocode" \
        GOCACHE="$dir/gocache" go build -trimpath -o "$bin.new" .) || die "go build of bench/peer failed"
    mv -f "$bin.new" "$bin"
    printf '%s\n' "$hash" >"$stamp"
}
