#!/usr/bin/env bash
# Runs the benchmark: builds the release binaries and prints one table (see BENCHMARKS.md).
#
#   bash scripts/bench.sh [--skip-peer] [music-bench flags, e.g. --duration-secs 5 --skip-dynamodb-local]
#
# 1. Installs what it needs when missing: wrk (Debian package), and, unless --skip-dynamodb-local
#    is given, Java 17 and DynamoDB Local into ${MUSIC_TEST_CACHE:-$HOME/.cache/music-api}
#    (the same cache and code as scripts/test.sh). Unless --skip-peer is given (this script's own
#    flag, not passed on), the peer-2proc scenario's grpc-gateway (Go, Debian packages) is built
#    into the same cache and handed to music-bench as --grpc-gateway-peer (see
#    scripts/lib/grpc-gateway-peer.sh).
# 2. cargo build --release: the slim gateway (copied to music-gateway-slim, the two-process
#    stack's gateway), the workspace (music-gateway, music-bench), then music-service on its own
#    as its Dockerfile builds it (scripts/lib/release-build.sh).
# 3. Runs target/release/music-bench, which starts every process it measures on loopback ports
#    and stops them when it ends, however it ends. A full run takes about 5 minutes.
#
#   bash scripts/bench.sh soak [soak flags, e.g. --minutes 10 --load-fraction 0.5]
#
# The soak (issue 5): gateway + service on the embedded store in a file, a mixed open-loop load at
# half the capacity it measures first, one row per minute (req/s, errors, p50/p99/p99.9, RSS, CPU)
# and the verdicts (RSS growth after warm-up < 10 %, zero errors, p99 stable). It needs neither wrk
# nor DynamoDB Local, so step 1 is skipped; with the defaults it takes about 11½ minutes.
# `target/release/music-bench soak --help` lists its flags.
#
#   bash scripts/bench.sh instructions [flags, e.g. --secs 20]
#
# Instructions per request of each process (the ceiling, the service, the pure gateway, the
# in-process gateway, and unless --skip-peer is given the peer, grpc-gateway), counted by valgrind's
# callgrind: repeatable to a fraction of a percent on a busy machine, for judging a change to the
# code (BENCHMARKS.md). Installs wrk and valgrind when missing (Debian packages) and builds the peer
# as above, no DynamoDB Local; about two and a half minutes after the build.
# `target/release/music-bench instructions --help` lists its flags.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/test-deps.sh
source scripts/lib/test-deps.sh
# shellcheck source=scripts/lib/grpc-gateway-peer.sh
source scripts/lib/grpc-gateway-peer.sh
# shellcheck source=scripts/lib/release-build.sh
source scripts/lib/release-build.sh

CACHE=${MUSIC_TEST_CACHE:-$HOME/.cache/music-api}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"

soak=0
[[ ${1:-} == soak ]] && soak=1
instructions=0
[[ ${1:-} == instructions ]] && instructions=1
skip_ddb=$((soak || instructions))
skip_peer=$soak
args=()
for arg in "$@"; do
    [[ $arg == --skip-dynamodb-local ]] && skip_ddb=1
    if [[ $arg == --skip-peer ]]; then
        skip_peer=1
    else
        args+=("$arg")
    fi
done
if [[ $soak -eq 0 ]]; then
    command -v wrk >/dev/null 2>&1 || apt_install wrk
fi
if [[ $instructions -eq 1 && -z ${MUSIC_BENCH_VALGRIND:-} && ! " ${args[*]} " =~ " --valgrind" ]]; then
    # music-bench takes callgrind_control from valgrind's folder.
    valgrind=$(command -v valgrind || true)
    if [[ -z $valgrind || ! -x $(dirname "$valgrind")/callgrind_control ]]; then
        apt_install valgrind
        valgrind=$(command -v valgrind)
    fi
    # After the subcommand, which is args[0].
    args=("${args[0]}" --valgrind "$valgrind" "${args[@]:1}")
fi
if [[ $skip_ddb -eq 0 ]]; then
    ensure_java
    ensure_dynamodb_local
    args=(--java "$JAVA" --dynamodb-local-dir "$DDB_DIR" "${args[@]}")
fi
if [[ $skip_peer -eq 0 ]]; then
    ensure_grpc_gateway_peer
    if [[ $instructions -eq 1 ]]; then
        args=("${args[0]}" --grpc-gateway-peer "$PEER_BIN" "${args[@]:1}")
    else
        args=(--grpc-gateway-peer "$PEER_BIN" "${args[@]}")
    fi
fi

# The two-process stack's gateway is the slim build the Dockerfile deploys (no service linked
# in), and its service is built as its Dockerfile builds it (scripts/lib/release-build.sh).
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
build_release_binaries

exec "$TARGET/release/music-bench" "${args[@]}"
