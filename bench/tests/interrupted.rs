//! An `exo-bench` run stopped half-way (Ctrl+C, SIGTERM) stops the compositors it started
//! before it exits. They run in process groups of their own, out of the terminal's reach, and
//! the ones not being measured are paused with SIGSTOP: left behind, they would stay forever.
//!
//! Runs Nexquelium's debug build from target/debug (`cargo build --workspace --bins`, or the
//! `cargo test --workspace` that `./x test` runs), as root like `./x bench`. This test process
//! is a child subreaper, so whatever exo-bench leaves behind becomes our child and is seen.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// exo-bench, stopped (SIGTERM, then SIGKILL 10 s later) should the test fail while it runs.
struct Bench(Child);

impl Drop for Bench {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: signals our own child.
            unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Children of this process still alive, as `(pid, name)`; the dead ones are reaped first.
fn live_children() -> Vec<(i32, String)> {
    // SAFETY: reaps exited children without blocking; we keep no handles to them.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    let me = std::process::id().to_string();
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let pid = entry.file_name().to_string_lossy().parse().unwrap_or(0);
        if pid > 0 && field("PPid:") == me && !field("State:").starts_with('Z') {
            live.push((pid, field("Name:")));
        }
    }
    live
}

#[test]
fn a_sigterm_mid_run_stops_every_compositor_it_started_before_exiting() {
    let nexquelium = repo().join("target/debug/nexquelium");
    assert!(
        nexquelium.exists(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins)",
        nexquelium.display()
    );
    // SAFETY: marks this process as a subreaper; no memory is involved.
    assert_eq!(
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) },
        0
    );
    let mut bench = Bench(
        Command::new(env!("CARGO_BIN_EXE_exo-bench"))
            .args([
                "--quick",
                "--only",
                "nexquelium",
                "--no-doc",
                "--no-install",
                "--nexquelium",
            ])
            .arg(&nexquelium)
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting exo-bench"),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stderr = BufReader::new(bench.0.stderr.take().expect("piped stderr"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str, timeout: Duration| {
        let deadline = Instant::now() + timeout;
        while let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            seen.push(line);
            if seen.last().is_some_and(|l| l.contains(needle)) {
                return;
            }
        }
        panic!("no {needle:?} from exo-bench within {timeout:?}; it printed {seen:#?}");
    };

    if !is_root() {
        wait_for("run as root", Duration::from_secs(10));
        return;
    }
    // Nexquelium's full session (with its capsules) and the bare instance are both up by then,
    // and the bare one has been paused and resumed.
    wait_for("all idle", Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(1));
    // SAFETY: signals our own child.
    unsafe { libc::kill(bench.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = bench.0.try_wait().expect("waiting for exo-bench") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "exo-bench still runs 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = live_children();
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            for (pid, _) in &left {
                // SAFETY: signals processes that are our children (we are their subreaper).
                unsafe {
                    libc::kill(*pid, libc::SIGCONT);
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
            panic!("still running 10 s after exo-bench exited (now killed): {left:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("stopping the compositors", Duration::from_secs(5));
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "exo-bench should exit with 128+SIGTERM once it has stopped the compositors"
    );
}
