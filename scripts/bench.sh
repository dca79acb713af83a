#!/usr/bin/env bash
# Runs the benchmark: builds the release binaries and prints one table (see BENCHMARKS.md).
#
#   bash scripts/bench.sh [music-bench flags, e.g. --duration-secs 5 --skip-dynamodb-local]
#
# 1. Installs what it needs when missing: wrk (Debian package), and, unless --skip-dynamodb-local
#    is given, Java 17 and DynamoDB Local into ${MUSIC_TEST_CACHE:-$HOME/.cache/music-api}
#    (the same cache and code as scripts/test.sh).
# 2. cargo build --release --workspace (music-service, music-gateway, music-bench).
# 3. Runs target/release/music-bench, which starts every process it measures on loopback ports
#    and stops them when it ends, however it ends. A full run takes about 5 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/test-deps.sh
source scripts/lib/test-deps.sh

CACHE=${MUSIC_TEST_CACHE:-$HOME/.cache/music-api}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
command -v wrk >/dev/null 2>&1 || apt_install wrk

args=("$@")
skip_ddb=0
for arg in "$@"; do
    [[ $arg == --skip-dynamodb-local ]] && skip_ddb=1
done
if [[ $skip_ddb -eq 0 ]]; then
    ensure_java
    ensure_dynamodb_local
    args=(--java "$JAVA" --dynamodb-local-dir "$DDB_DIR" "${args[@]}")
fi

log "cargo build --release --workspace"
cargo build --release --workspace

exec "${CARGO_TARGET_DIR:-$ROOT/target}/release/music-bench" "${args[@]}"
