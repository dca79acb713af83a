# shellcheck shell=bash
# Starts and stops DynamoDB Local (in memory) on free loopback ports. Source it after common.sh and
# after ensure_java / ensure_dynamodb_local (it uses JAVA and DDB_DIR); call ddb_stop_all from an
# EXIT trap. The JVMs are children of the calling shell: call ddb_launch directly, not in $(...).

DDB_PIDS=()
DDB_START_TIMEOUT=${DDB_START_TIMEOUT:-60}
# C1-only JIT and the serial GC halve the JVM's start-up CPU (about 3.3 s to 1.6 s here), which
# matters on 2 cores; a test emulator needs no peak throughput. Override with
# MUSIC_TEST_DYNAMODB_JAVA_OPTS (split on spaces).
read -r -a DDB_JAVA_OPTS <<<"${MUSIC_TEST_DYNAMODB_JAVA_OPTS--XX:TieredStopAtLevel=1 -XX:+UseSerialGC}"

declare -A _DDB_PID=() _DDB_PORT=() _DDB_FLAGS=()

# ddb_launch NAME [EXTRA_FLAG...]: starts one instance in the background on a free port, logging to
# $DDB_LOG_DIR/NAME.log. Launch all instances first, then ddb_await each: the JVMs start in parallel.
ddb_launch() {
    local name=$1
    shift
    local port pid
    port=$(free_port)
    (
        cd "$DDB_DIR" || exit 1
        exec "${PDEATHSIG[@]}" "$JAVA" "${DDB_JAVA_OPTS[@]}" -Djava.library.path=DynamoDBLocal_lib -jar DynamoDBLocal.jar \
            -inMemory -sharedDb -port "$port" "$@"
    ) >"$DDB_LOG_DIR/$name.log" 2>&1 </dev/null &
    pid=$!
    DDB_PIDS+=("$pid")
    _DDB_PID[$name]=$pid
    _DDB_PORT[$name]=$port
    _DDB_FLAGS[$name]="$*"
}

# ddb_await NAME RESULT_VAR: waits until the instance answers ListTables (relaunching it on another
# port if its port was taken meanwhile) and stores its endpoint, http://127.0.0.1:PORT, in RESULT_VAR.
ddb_await() {
    local name=$1 result_var=$2 log="$DDB_LOG_DIR/$1.log" attempt
    local -a flags
    read -r -a flags <<<"${_DDB_FLAGS[$name]}"
    for attempt in 1 2 3; do
        if _ddb_wait_ready "${_DDB_PID[$name]}" "${_DDB_PORT[$name]}"; then
            printf -v "$result_var" 'http://127.0.0.1:%s' "${_DDB_PORT[$name]}"
            return 0
        fi
        _ddb_stop "${_DDB_PID[$name]}"
        if ((attempt == 3)) || ! grep -qi 'address already in use' "$log"; then
            break
        fi
        warn "DynamoDB Local ($name): port ${_DDB_PORT[$name]} was taken, retrying on another"
        ddb_launch "$name" "${flags[@]}"
    done
    printf '%s\n' "--- last lines of $log:" >&2
    tail -n 30 "$log" >&2 || true
    die "DynamoDB Local ($name) did not answer within ${DDB_START_TIMEOUT}s (log: $log)"
}

# Ready means: the port answers a real (unsigned but well-formed) ListTables request, and it is our
# JVM that listens there (not some other process that took the port first).
_ddb_wait_ready() {
    local pid=$1 port=$2 body
    local deadline=$((SECONDS + DDB_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        _ddb_alive "$pid" || return 1
        if body=$(ddb_request "http://127.0.0.1:$port" ListTables '{}' 2>/dev/null) \
            && [[ $body == *TableNames* ]] && _ddb_listens "$pid" "$port"; then
            return 0
        fi
        sleep 0.25
    done
    return 1
}

# True if process PID holds the listening TCP socket of PORT (read from /proc, no ss/lsof needed).
_ddb_listens() {
    local pid=$1 inode
    local -a inodes
    # /proc/net/tcp{,6}: field 2 is ADDR:PORT in hex, field 4 the state (0A = LISTEN), field 10 the inode.
    mapfile -t inodes < <(awk -v port="$(printf ':%04X' "$2")" \
        '$4 == "0A" && substr($2, length($2) - 4) == port { print $10 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    for inode in "${inodes[@]}"; do
        # shellcheck disable=SC2010 # the fd links are kernel-made names, safe to grep
        ls -l "/proc/$pid/fd" 2>/dev/null | grep -qF "socket:[$inode]" && return 0
    done
    return 1
}

# ddb_request ENDPOINT OPERATION JSON_BODY: one DynamoDB JSON-protocol call; prints the response body.
# DynamoDB Local checks that an Authorization header is present, not the signature.
ddb_request() {
    curl -sS --max-time 5 -X POST "$1/" \
        -H "X-Amz-Target: DynamoDB_20120810.$2" \
        -H 'Content-Type: application/x-amz-json-1.0' \
        -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
        --data "$3"
}

# The version DynamoDB Local printed at start-up ("Version: 3.3.1").
ddb_version() {
    sed -n 's/^Version:[[:space:]]*//p' "$DDB_LOG_DIR/$1.log" | head -n 1
}

# True while PID runs (an exited child stays a zombie until waited for; kill -0 would say it is alive).
_ddb_alive() {
    local stat state
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    state=${stat##*) }
    [[ ${state%% *} != Z ]]
}

_ddb_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        _ddb_alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

ddb_stop_all() {
    local pid
    for pid in "${DDB_PIDS[@]}"; do
        _ddb_stop "$pid"
    done
    DDB_PIDS=()
}
