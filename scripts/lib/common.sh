# shellcheck shell=bash
# Small helpers shared by scripts/test.sh and .ci/run. Source it; do not run it.

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through non-interactive sudo.
as_root() {
    if [[ ${EUID:-$(id -u)} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root (or passwordless sudo) to run: $*"
    fi
}

# apt-get install, non-interactively, without recommends (no Docker engine with docker-compose,
# no X11 with a JRE). `apt-get update` runs once per script run, and only when something is missing.
_APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: $*"
    log "apt-get install $*"
    if [[ $_APT_UPDATED -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
        _APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        || die "apt-get install $* failed"
}

# Prints a TCP port that is free on 127.0.0.1 right now.
free_port() {
    # DynamoDB Local binds every interface, so look for a port free on all of them.
    python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])'
}

# Prefix for commands started in the background: the child gets SIGTERM when this shell dies, even
# by SIGKILL, when no trap can run (setpriv --pdeathsig, util-linux >= 2.33).
PDEATHSIG=()
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
    # shellcheck disable=SC2034 # used by the sourcing scripts
    PDEATHSIG=(setpriv --pdeathsig TERM --)
fi
