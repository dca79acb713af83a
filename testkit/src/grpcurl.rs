//! The real grpcurl, as users call the service: through reflection, no
//! proto files.
//!
//! Owns: [`find`], [`run`], [`Run`].

use std::process::{Command, Stdio};

use crate::env::is_ci;

/// The grpcurl binary: `$GRPCURL`, else `grpcurl` on PATH; `None` (with a
/// note) when there is none, and a panic then under `CI=true`.
pub fn find() -> Option<String> {
    let candidate = std::env::var("GRPCURL").unwrap_or_else(|_| "grpcurl".into());
    let works = Command::new(&candidate)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if works {
        return Some(candidate);
    }
    if is_ci() {
        panic!(
            "grpcurl not found (set GRPCURL or use scripts/test.sh); under CI=true it is required"
        );
    }
    eprintln!("note: grpcurl not found; skipping (scripts/test.sh installs it)");
    None
}

/// One grpcurl run to its end.
#[derive(Debug, Clone)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `grpcurl` with `args` (blocking: a short run) and collects what it printed.
pub fn run(grpcurl: &str, args: &[&str]) -> Run {
    let output = Command::new(grpcurl)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("grpcurl runs");
    Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
