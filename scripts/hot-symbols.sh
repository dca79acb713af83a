#!/usr/bin/env bash
# Writes link/hot-symbols.txt: the functions that start-up and a request run, which a release
# build links first (link/symbol_order.rs; what it bought: BENCHMARKS.md, "What was changed",
# "the hot code linked first").
#
#   bash scripts/hot-symbols.sh
#
# 1. Builds the release binaries as scripts/bench.sh does (scripts/lib/release-build.sh).
# 2. Copies music-service, the slim gateway and the in-process gateway into
#    target/hot-symbols/, drops the copies from the page cache and sets the disk's readahead to
#    0 (put back on exit): from then on a page of their code is in memory only if it has run.
# 3. Starts the two-process stack (service on the in-memory store, slim gateway), then the
#    in-process gateway, and sends each the tutorial's calls, /v1 calls and two seconds of wrk
#    load on each GetItem route; then reads which pages of the code are in memory
#    (scripts/lib/hot_symbols.py) and writes the union of the functions on them.
#
# Root (directly or through sudo -n) is needed only to set the readahead of the disk that holds
# target/ (/sys/dev/block/MAJ:MIN/queue/read_ahead_kb). The list's first line is the `rustc -V`
# it was written with: the names carry hashes of the build, so run it again after a toolchain or
# dependency update (the build warns when the toolchain differs). Run it again on the binaries it
# produced to tighten the list a little (fewer cold neighbours on each hot page: 23,070 -> 22,491
# names in the last two passes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/release-build.sh
source scripts/lib/release-build.sh

command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v nm >/dev/null 2>&1 || apt_install binutils

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
mkdir -p "$TARGET"
# The readahead of the block device under target/, found before the build so that a layout this
# cannot handle fails at once: for a partition the setting is its disk's.
majmin=$(findmnt -no MAJ:MIN --target "$TARGET" | head -1 | tr -d "[:space:]")
queue=/sys/dev/block/$majmin/queue
[[ -d $queue ]] || queue=/sys/dev/block/$majmin/../queue
READAHEAD=$queue/read_ahead_kb
[[ -f $READAHEAD ]] || die "no readahead setting for the device of $TARGET ($majmin): not a block device?"
saved_readahead=$(cat "$READAHEAD")
[[ $saved_readahead -ne 0 ]] || warn "$READAHEAD is already 0 (an earlier run killed before it put it back?)"
as_root true || die "setting $READAHEAD needs root or passwordless sudo"

build_release_binaries

WORK=$TARGET/hot-symbols
rm -rf "$WORK" && mkdir -p "$WORK"
for bin in music-service music-gateway-slim music-gateway; do
    cp "$TARGET/release/$bin" "$WORK/$bin"
done
python3 - "$WORK"/music-* <<'PY'
import os, sys
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY

pids=()
set_readahead() { echo "$1" | as_root tee "$READAHEAD" >/dev/null; }
cleanup() {
    set_readahead "$saved_readahead"
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
set_readahead 0

export RUST_LOG=warn
# Starts a program in the background, its output in $WORK/NAME.log; its pid is appended to pids.
start() {
    local name=$1
    shift
    "${PDEATHSIG[@]}" "$WORK/$name" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    pids+=("$!")
}
wait_ready() {
    for _ in $(seq 100); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "$1") == 200 ]] && return 0
        sleep 0.1
    done
    die "$1 did not answer 200 within 10 s"
}
# The tutorial's calls, the /v1 ones and some load, against the gateway at $1.
exercise() {
    local base=$1/Test/DemoResourceMusic
    local song=(-H 'table: Music' -H 'artist: No One You Know' -H 'songtitle: Call Me Today')
    local v1=$1/v1/tables/Music/artists/No%20One%20You%20Know/songs/Call%20Me%20Today
    curl -sf -X PUT "$base/DemoResourceMusicTable" -H 'table: Music' >/dev/null
    curl -sf -X PUT "$base/DemoResourceMusicItem" "${song[@]}" -H 'albumtitle: Somewhat Famous' >/dev/null
    curl -sf "$base/DemoResourceMusicItem" "${song[@]}" >/dev/null
    curl -sf -X POST "$base/DemoResourceMusicItem" "${song[@]}" -H 'albumtitle: Louder Than Ever' >/dev/null
    curl -sf "$v1" >/dev/null
    curl -sf "$1/v1/tables/Music/artists/No%20One%20You%20Know/songs" >/dev/null
    wrk -t2 -c16 -d2s "${song[@]}" "$base/DemoResourceMusicItem" >/dev/null
    wrk -t2 -c16 -d2s "$v1" >/dev/null
}
collect() {
    python3 "$ROOT/scripts/lib/hot_symbols.py" "$1" >>"$WORK/hot.txt"
}

service=127.0.0.1:$(free_port) service_admin=127.0.0.1:$(free_port)
gateway=127.0.0.1:$(free_port) gateway_admin=127.0.0.1:$(free_port)
log "two processes: music-service, music-gateway-slim"
start music-service --listen "$service" --admin-listen "$service_admin" --in-memory
wait_ready "http://$service_admin/readyz"
start music-gateway-slim --listen "$gateway" --admin-listen "$gateway_admin" --upstream "http://$service"
wait_ready "http://$gateway_admin/readyz"
exercise "http://$gateway"
collect "${pids[0]}"
collect "${pids[1]}"
kill "${pids[@]}" 2>/dev/null || true
wait "${pids[@]}" 2>/dev/null || true
pids=()

log "in-process: music-gateway"
gateway=127.0.0.1:$(free_port) gateway_admin=127.0.0.1:$(free_port)
start music-gateway --listen "$gateway" --admin-listen "$gateway_admin" --in-memory
wait_ready "http://$gateway_admin/readyz"
exercise "http://$gateway"
collect "${pids[0]}"

# The first line names the toolchain, which link/symbol_order.rs compares with the build's
# (lld reads a line that starts with `#` as a comment).
{
    echo "# rustc $(rustc -V | sed 's/^rustc //')"
    awk '!seen[$0]++' "$WORK/hot.txt"
} >"$ROOT/link/hot-symbols.txt"
log "link/hot-symbols.txt: $(wc -l <"$ROOT/link/hot-symbols.txt") functions"
