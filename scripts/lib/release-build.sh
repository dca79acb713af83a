# shellcheck shell=bash
# The release build that scripts/bench.sh measures and scripts/hot-symbols.sh lists the hot code
# of. Source it (after common.sh); do not run it.

# Builds into $TARGET/release (TARGET set by the caller): music-gateway-slim, the two-process
# stack's gateway; music-service; music-gateway (the service in-process) and music-bench.
# The service and the slim gateway are built as their Dockerfiles build them (`-p`), not as part
# of the workspace: cargo unifies the dependencies' features over the packages of one build,
# which changes the symbol names that link/hot-symbols.txt lists (about half of the service's
# differ between the two). The in-process gateway and music-bench come from the workspace build.
# cargo keeps every build's artifacts, so switching between them later only copies.
build_release_binaries() {
    log "cargo build --release -p music-gateway --no-default-features (-> music-gateway-slim)"
    cargo build --release -p music-gateway --no-default-features
    cp -f "$TARGET/release/music-gateway" "$TARGET/release/music-gateway-slim"
    log "cargo build --release --workspace"
    cargo build --release --workspace
    log "cargo build --release -p music-service"
    cargo build --release -p music-service
}
