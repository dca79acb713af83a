//! Compiles `proto/` with protox (a pure-Rust protobuf compiler, so no system
//! `protoc` is needed) and writes the descriptor set that gRPC reflection
//! serves and the gateway builds its `/v1` routes and OpenAPI document from.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/music/v1/music.proto";
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files([proto])?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    // Encoded by protox itself rather than through prost-types, which has no
    // room for extension options: the `google.api.http` rules (and the
    // comments, which the OpenAPI document shows) must survive.
    std::fs::write(
        out_dir.join("music_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
