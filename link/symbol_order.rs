//! Build script of the two binaries (music-service, music-gateway): a release
//! build links the functions that start-up and a request run first in the
//! text, in the order of `link/hot-symbols.txt`, so that they share as few
//! pages as possible.
//!
//! Why: the idle memory of the two processes is mostly their code pages, and
//! the kernel maps a binary's text a large folio at a time (BENCHMARKS.md,
//! "Idle RSS"). Spread over the whole text, the code a request runs keeps
//! most of it resident; packed together, a few folios hold it.
//! `scripts/hot-symbols.sh` writes the list from the binaries themselves
//! (which pages of the text a started and exercised process has touched).
//!
//! The linker does the work (lld's `--symbol-ordering-file`; Rust links with
//! its own lld on x86_64-unknown-linux-gnu by default since 1.90), so the
//! script only passes the file on, and only when the build links with that
//! lld: the target, the toolchain's `gcc-ld/ld.lld`, and no flag that picks
//! another linker. A name the list has and the binary lacks (a renamed
//! function) is skipped without a warning from the linker. Whole lists go
//! stale, though: the names carry hashes of each crate's build (toolchain,
//! dependency versions, features, profile), so the list's first line records
//! the `rustc -V` it was written with and the script warns when the build's
//! differs. A stale list costs memory, never a build. `MUSIC_NO_SYMBOL_ORDER=1`
//! builds without it.

use std::{env, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rerun-if-env-changed=MUSIC_NO_SYMBOL_ORDER");
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dir = manifest.join("../link");
    // The directory, not the file: a path that does not exist would rerun
    // this script, and relink, on every build.
    println!("cargo:rerun-if-changed={}", dir.display());
    let opted_out = env::var("MUSIC_NO_SYMBOL_ORDER").is_ok_and(|v| !v.is_empty() && v != "0");
    // `release` (opt-level 3) only: the names of any other profile's build differ.
    let release = env::var("OPT_LEVEL").as_deref() == Ok("3");
    if opted_out || !release || !links_with_rust_lld() {
        return;
    }
    let list = dir.join("hot-symbols.txt");
    let Ok(text) = std::fs::read_to_string(&list) else {
        return;
    };
    let written_with = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("# rustc "));
    let building_with = rustc_version().unwrap_or_default();
    if written_with != Some(building_with.as_str()) {
        println!(
            "cargo:warning=link/hot-symbols.txt was written by rustc {}, this build is rustc \
             {building_with}: few of its names will match, so the binaries keep more code \
             resident; run scripts/hot-symbols.sh to write it again",
            written_with.unwrap_or("(not named: its first line is not `# rustc VERSION`)")
        );
    }
    // Two arguments rather than `-Wl,`, which would split a path at its commas.
    println!("cargo:rustc-link-arg-bins=-Xlinker");
    println!(
        "cargo:rustc-link-arg-bins=--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg-bins=-Xlinker");
    println!("cargo:rustc-link-arg-bins=--no-warn-symbol-ordering");
}

/// Whether rustc will link with the lld it ships, which reads the list; GNU ld
/// would fail the link on the option.
fn links_with_rust_lld() -> bool {
    if env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return false;
    }
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let picks_a_linker = ["linker", "fuse-ld", "link-self-contained"];
    if picks_a_linker.iter().any(|flag| flags.contains(flag)) {
        return false;
    }
    let Some(sysroot) = rustc(&["--print", "sysroot"]) else {
        return false;
    };
    PathBuf::from(sysroot)
        .join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld")
        .exists()
}

/// `rustc -V` without the leading `rustc `, e.g. `1.95.0 (59807616e 2026-04-14)`.
fn rustc_version() -> Option<String> {
    rustc(&["-V"]).map(|v| v.trim_start_matches("rustc ").to_owned())
}

fn rustc(args: &[&str]) -> Option<String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
