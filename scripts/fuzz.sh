#!/usr/bin/env bash
# Fuzzes the gateway's request-to-parameters step and route matching, and the service's input
# checks, with cargo fuzz (libFuzzer). Fails on the first crash, panic, timeout or leak.
#
#   bash scripts/fuzz.sh [target…]          (default: every target in fuzz/fuzz_targets)
#
# 1. Installs cargo-fuzz (cargo install --locked, into cargo's bin folder) when it is missing.
# 2. Builds the targets once: release with debug assertions (so overflows panic), AddressSanitizer.
#    cargo fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# 3. Replays each target's committed corpus, fuzz/corpus/<target> (-runs=0).
# 4. Fuzzes each target for at most MUSIC_FUZZ_RUNS runs or MUSIC_FUZZ_SECONDS seconds, whichever
#    comes first (default 500000 runs, 15 s). New inputs go to a scratch corpus, so the committed
#    one only changes by hand; a crashing input is kept in fuzz/artifacts/<target>/ with the
#    command that replays it.
#
# About 2.5 minutes to build from nothing on two cores, then well under a minute: CI (.ci/run) runs it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh

CARGO_FUZZ_VERSION=0.13.2
RUNS=${MUSIC_FUZZ_RUNS:-500000}
SECONDS_PER_TARGET=${MUSIC_FUZZ_SECONDS:-15}
export RUSTC_BOOTSTRAP=1

started=$SECONDS
if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" \
        || die "cargo install cargo-fuzz failed"
fi

cd fuzz
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
[[ ${#targets[@]} -gt 0 ]] || die "no fuzz targets found"

# The same options for build and run, so that run does not rebuild.
build=(-O --debug-assertions)
log "$(cargo fuzz --version); $(cargo --version); building ${targets[*]}"
cargo fuzz build "${build[@]}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
    corpus=corpus/$target
    [[ -d $corpus ]] || die "no committed corpus at fuzz/$corpus"
    log "$target: replaying $(find "$corpus" -type f | wc -l) committed inputs"
    cargo fuzz run "${build[@]}" "$target" "$corpus" -- -runs=0
    log "$target: fuzzing (at most $RUNS runs or ${SECONDS_PER_TARGET}s)"
    mkdir -p "$scratch/$target"
    # The scratch corpus comes first: libFuzzer writes what it finds there.
    cargo fuzz run "${build[@]}" "$target" "$scratch/$target" "$corpus" -- \
        -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
        -print_final_stats=1
done

log "fuzzing passed: ${targets[*]}, no crashes ($((SECONDS - started))s)"
