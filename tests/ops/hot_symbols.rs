//! `scripts/lib/hot_symbols.py`, which `scripts/hot-symbols.sh` runs to list
//! the code a release build links first, read on a real running service: it
//! lists functions that ran, in the binary's address order, fewer than the
//! binary has, and refuses a process that is not there with a message.
//! (The list's effect on memory is a benchmark's to show: BENCHMARKS.md.)

use std::{collections::HashMap, path::Path, process::Command};

use music_testkit::{Program, program};

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/lib/hot_symbols.py")
}

/// `nm`'s text symbols of `exe`: (address, name), in address order.
fn text_symbols(exe: &Path) -> Vec<(u64, String)> {
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(exe)
        .output()
        .expect("nm runs (binutils)");
    assert!(out.status.success(), "nm {}", exe.display());
    let mut symbols: Vec<(u64, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let address = u64::from_str_radix(fields.next()?, 16).ok()?;
            let kind = fields.next()?;
            let name = fields.next()?;
            matches!(kind, "t" | "T").then(|| (address, name.to_owned()))
        })
        .collect();
    symbols.sort();
    symbols
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hot_symbol_reader_lists_the_functions_a_running_service_ran_in_address_order() {
    let service = Program::service(&["--in-memory"]).await;
    let out = Command::new("python3")
        .arg(script())
        .arg(service.pid().to_string())
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hot_symbols.py failed: {stderr}");
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();

    let all = text_symbols(&program::binary("music-service"));
    // The service's `main` and the allocator's entry have run by the time it listens.
    for ran in ["13music_service4main", "__rust_alloc"] {
        assert!(
            listed.iter().any(|name| name.contains(ran)),
            "{ran} is not among the {} functions listed",
            listed.len()
        );
    }
    assert!(
        !listed.is_empty() && listed.len() < all.len(),
        "{} of the binary's {} functions listed: the reader must pick, not list all",
        listed.len(),
        all.len()
    );
    // In the binary's order, the order the linker is then given (names the
    // binary has more than once, local C functions, left out of the check).
    let mut index = HashMap::new();
    for (i, (_, name)) in all.iter().enumerate() {
        index
            .entry(name.as_str())
            .and_modify(|at: &mut Option<usize>| *at = None)
            .or_insert(Some(i));
    }
    let mut positions = Vec::new();
    for name in &listed {
        match index.get(name.as_str()) {
            Some(Some(at)) => positions.push(*at),
            Some(None) => {}
            None => panic!("{name} is listed but is not a function of the binary"),
        }
    }
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "the names come in address order, each once"
    );
}

#[test]
fn the_hot_symbol_reader_names_a_process_that_is_not_there() {
    // Beyond the kernel's pid_max (at most 2^22): no process has it.
    let out = Command::new("python3")
        .arg(script())
        .arg("4194305")
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert!(
        stderr.contains("no process 4194305"),
        "the message names the process: {stderr}"
    );
    assert!(
        !stderr.contains("Traceback"),
        "a message, not a traceback: {stderr}"
    );
}
