//! What the x86_64 and the arm64 boot tests share: the repository, one VM at a time, the
//! timings log, and the end of the serial console for failure messages.

use std::{
    path::PathBuf,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use exo_vm::Vm;

/// The line Nexquelium prints when the Sentry dashboard shows (compositor/src/handlers/layer_shell.rs).
pub const DASHBOARD_MAPPED: &str = "nexquelium: dashboard mapped";
/// Boot to the dashboard under TCG (firmware and GRUB included) takes tens of seconds; leave
/// room for a loaded machine.
pub const BOOT: Duration = Duration::from_secs(300);

pub fn repo() -> PathBuf {
    exo_vm::build::default_repo()
}

/// Held for the whole of a test that boots a VM: two TCG guests on two cores would only slow
/// each other past their timeouts.
pub fn one_vm_at_a_time() -> MutexGuard<'static, ()> {
    static VM: Mutex<()> = Mutex::new(());
    // A failed test poisons the lock; the next one may still run.
    VM.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A timing for the test log (a benchmark, not an assertion): printed, and appended to
/// target/exosphere/boot-tests/timings.log, which `./x test` and `./x test-arm64` show.
pub fn record(what: &str, took: Duration) {
    let line = format!("{what}: {:.1} s", took.as_secs_f64());
    eprintln!("benchmark: {line}");
    let dir = repo().join("target/exosphere/boot-tests");
    let _ = std::fs::create_dir_all(&dir);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("timings.log"))
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()));
    if let Err(err) = written {
        eprintln!("cannot append to timings.log: {err}");
    }
}

/// What went wrong, with the end of the serial console.
pub fn console_tail(vm: &Vm) -> String {
    exo_vm::qemu::last_lines(&vm.serial_text(), 60)
}

/// A boot with `exo.run=hello` ended: the greeting is on the console, QEMU exited 0, and the
/// graphical session never started.
pub fn assert_hello_ran(vm: &Vm, status: std::process::ExitStatus) {
    let console = vm.serial_text();
    assert!(
        console.contains("Hello, Exosphere!"),
        "the hello capsule's greeting is not on the console:\n{}",
        console_tail(vm)
    );
    assert!(
        status.success(),
        "QEMU exited with {status}:\n{}",
        console_tail(vm)
    );
    assert!(
        !console.contains(DASHBOARD_MAPPED),
        "exo.run=hello started the graphical session too"
    );
}
