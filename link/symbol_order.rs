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
//! lld on x86_64-unknown-linux-gnu by default since 1.90), so the script only
//! passes the file on, and only for that target. A name the list has and the binary lacks (other features, a
//! renamed function) is skipped without a warning, so a stale list costs
//! memory, never a build. `MUSIC_NO_SYMBOL_ORDER=1` builds without it, for
//! a toolchain configured to link with GNU ld, which does not read the file.

use std::{env, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=MUSIC_NO_SYMBOL_ORDER");
    let release = env::var("PROFILE").as_deref() == Ok("release");
    let lld_by_default = env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu");
    if !release || !lld_by_default || env::var_os("MUSIC_NO_SYMBOL_ORDER").is_some() {
        return;
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let list = manifest.join("../link/hot-symbols.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    if !list.exists() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        list.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
