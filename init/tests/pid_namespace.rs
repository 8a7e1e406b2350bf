//! exo-init as PID 1 of a PID namespace: reaping, restart backoff, signals and
//! the shutdown sequence, and `exo.run`. Needs root and util-linux `unshare`.

mod common;

use common::{capsules_with_hello, Init, Scratch, BIN};
use std::process::Command;
use std::time::Duration;

#[test]
fn orphans_are_reaped() {
    let dir = Scratch::new("reap");
    let mut init = Init::start(
        &dir,
        r#"
[shutdown]
grace = 0.5

# Five background children outlive this shell: they become init's orphans,
# note their parent pid, and exit.
[[service]]
name = "orphans"
restart = "never"
exec = ["sh", "-c", "for i in 1 2 3 4 5; do sh -c 'sleep 0.2; cut -d\" \" -f4 /proc/$$/stat >> @DIR@/ppids' & done; exit 0"]

# Later, count zombies in the namespace, then ask init to power off.
[[service]]
name = "checker"
restart = "never"
exec = ["sh", "-c", "sleep 1; n=0; for f in /proc/[0-9]*/stat; do s=$(cut -d' ' -f3 $f 2>/dev/null); [ \"$s\" = Z ] && n=$((n+1)); done; echo zombies=$n > @DIR@/zombies; kill -USR1 1"]
"#,
        &["--cmdline", ""],
    );
    init.wait_for_file(&dir, "zombies", "zombies=");
    let ended = init.wait();
    let ppids: Vec<String> = dir.read("ppids").lines().map(str::to_string).collect();
    assert_eq!(
        ppids, ["1"; 5],
        "the orphans were not children of init:\n{}",
        ended.console
    );
    assert_eq!(dir.read("zombies").trim(), "zombies=0", "{}", ended.console);
    ended.assert_in_order(&["exo-init: orphans exited with status 0; not restarting (restart = never)"]);
    assert_eq!(ended.signal(), Some(libc::SIGINT), "{}", ended.console);
}

#[test]
fn failing_service_backs_off_then_fails() {
    let dir = Scratch::new("backoff");
    let mut init = Init::start(
        &dir,
        r#"
[shutdown]
grace = 0.5

[restart]
initial_delay = 0.1
max_delay = 0.4
max_failures = 5

[[service]]
name = "flaky"
exec = ["sh", "-c", "echo flaky-ran; exit 3"]
"#,
        &["--cmdline", ""],
    );
    init.wait_for_file(&dir, "run/status", "failed");
    let elapsed = init.elapsed();
    let status = dir.read("run/status");
    init.signal(libc::SIGTERM);
    let ended = init.wait();
    ended.assert_in_order(&[
        "exo-init: starting flaky",
        "exo-init: flaky exited with status 3; restarting in 0.1 s",
        "exo-init: flaky exited with status 3; restarting in 0.2 s",
        "exo-init: flaky exited with status 3; restarting in 0.4 s",
        "exo-init: flaky exited with status 3; restarting in 0.4 s",
        "exo-init: flaky failed: exited 5 times within 60 s (last: status 3); not restarting",
        "exo-init: power off requested (SIGTERM",
        "exo-init: powering off",
    ]);
    assert_eq!(
        ended.console.lines().filter(|l| *l == "flaky-ran").count(),
        5,
        "{}",
        ended.console
    );
    // The delays add up to 1.1 s.
    assert!(
        elapsed >= Duration::from_millis(1100),
        "failed after only {elapsed:?}"
    );
    let line = status
        .lines()
        .find(|l| l.starts_with("flaky "))
        .unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        ["flaky", "failed", "pid=-", "restarts=4", "last-exit=status", "3"],
        "{status}"
    );
    assert_eq!(ended.signal(), Some(libc::SIGINT));
}

const ORDERED_SERVICES: &str = r#"
[shutdown]
grace = 1

[[service]]
name = "first"
exec = ["sh", "-c", "trap 'echo first >> @DIR@/stops; exit 0' TERM; while :; do sleep 0.05; done"]
ready = [["sh", "-c", "sleep 0.3; touch @DIR@/first-ready"]]

[[service]]
name = "second"
after = ["first"]
exec = ["sh", "-c", "test -f @DIR@/first-ready && echo yes > @DIR@/second-saw-ready; trap 'echo second >> @DIR@/stops; exit 0' TERM; while :; do sleep 0.05; done"]

# Ignores SIGTERM: only the SIGKILL step ends it.
[[service]]
name = "stubborn"
after = ["second"]
exec = ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"]
"#;

#[test]
fn sigusr1_powers_off_in_order() {
    let dir = Scratch::new("poweroff");
    let mut init = Init::start(&dir, ORDERED_SERVICES, &["--cmdline", ""]);
    init.wait_for_file(&dir, "run/status", "stubborn         running");
    init.signal(libc::SIGUSR1);
    let ended = init.wait();
    assert_eq!(
        dir.read("second-saw-ready"),
        "yes\n",
        "second started before first was ready"
    );
    assert_eq!(
        dir.read("stops"),
        "second\nfirst\n",
        "services not stopped in reverse order"
    );
    ended.assert_in_order(&[
        "exo-init: starting first",
        "exo-init: first is ready",
        "exo-init: starting second",
        "exo-init: starting stubborn",
        "exo-init: power off requested (SIGUSR1",
        "exo-init: shutting down for power off",
        "exo-init: stopping stubborn",
        "exo-init: stubborn did not stop within 1 s; going on",
        "exo-init: stopping second",
        "exo-init: second stopped (status 0)",
        "exo-init: stopping first",
        "exo-init: first stopped (status 0)",
        "exo-init: sending SIGTERM to all processes",
        "exo-init: sending SIGKILL to all processes",
        "exo-init: syncing file systems",
        "exo-init: powering off",
    ]);
    // Inside a PID namespace, reboot(RB_POWER_OFF) ends init as if by SIGINT.
    assert_eq!(ended.signal(), Some(libc::SIGINT), "{}", ended.console);
}

#[test]
fn sigint_reboots() {
    let dir = Scratch::new("reboot");
    let mut init = Init::start(
        &dir,
        "[shutdown]\ngrace = 1\n[[service]]\nname = \"idle\"\nexec = [\"sleep\", \"60\"]\n",
        &["--cmdline", ""],
    );
    init.wait_for_file(&dir, "run/status", "idle             running");
    init.signal(libc::SIGINT);
    let ended = init.wait();
    ended.assert_in_order(&[
        "exo-init: reboot requested (SIGINT",
        "exo-init: shutting down for reboot",
        "exo-init: stopping idle",
        "exo-init: idle stopped (signal 15 (SIGTERM))",
        "exo-init: rebooting",
    ]);
    // reboot(RB_AUTOBOOT) in a PID namespace ends init as if by SIGHUP.
    assert_eq!(ended.signal(), Some(libc::SIGHUP), "{}", ended.console);
}

#[test]
fn exo_run_runs_the_hello_capsule_then_powers_off() {
    let dir = Scratch::new("hello");
    let capsules = capsules_with_hello(&dir);
    let init = Init::start(
        &dir,
        "[[service]]\nname = \"never\"\nexec = [\"touch\", \"@DIR@/service-ran\"]\n",
        &[
            "--cmdline",
            "console=ttyS0 quiet exo.run=hello",
            "--capsules-dir",
            capsules.to_str().unwrap(),
        ],
    );
    let ended = init.wait();
    ended.assert_in_order(&[
        "exo-init: running capsule hello",
        "Hello, Exosphere!\n",
        "exo-init: hello exited with status 0",
        "exo-init: shutting down for power off",
        "exo-init: powering off",
    ]);
    assert!(!dir.path("service-ran").exists(), "services ran in exo.run mode");
    assert_eq!(ended.signal(), Some(libc::SIGINT), "{}", ended.console);
}

#[test]
fn exo_run_of_an_unknown_capsule_says_so_and_powers_off() {
    let dir = Scratch::new("nocapsule");
    let capsules = capsules_with_hello(&dir);
    let cmdline = dir.path("cmdline");
    std::fs::write(&cmdline, "exo.run=nope\n").unwrap();
    let init = Init::start(
        &dir,
        "",
        &[
            "--cmdline-file",
            cmdline.to_str().unwrap(),
            "--capsules-dir",
            capsules.to_str().unwrap(),
        ],
    );
    let ended = init.wait();
    ended.assert_in_order(&[
        "exo-init: exo.run=nope: there is no capsule \"nope\"",
        "exo-init: powering off",
    ]);
    assert_eq!(ended.signal(), Some(libc::SIGINT), "{}", ended.console);
}

#[test]
fn a_bad_config_is_reported_and_init_keeps_running() {
    let dir = Scratch::new("badconfig");
    let mut init = Init::start(
        &dir,
        "[[service]]\nname = \"x\"\nexec = [\"true\"]\nrestart = \"sometimes\"\n",
        &["--cmdline", "", "leftover-kernel-arg"],
    );
    init.wait_for_file(&dir, "console.log", "starting no services");
    init.signal(libc::SIGPWR);
    let ended = init.wait();
    let config = dir.path("init.toml");
    ended.assert_in_order(&[
        "exo-init: ignoring argument `leftover-kernel-arg`",
        &format!(
            "exo-init: {}:4:11: service[0].restart: expected one of",
            config.display()
        ),
        "exo-init: power off requested (SIGPWR",
        "exo-init: powering off",
    ]);
    assert_eq!(ended.signal(), Some(libc::SIGINT));
}

#[test]
fn outside_pid_1_only_help_and_check_run() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--no-mount"));

    let refused = Command::new(BIN).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not PID 1"));

    let unknown = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`--bogus`"));

    let dir = Scratch::new("check");
    std::fs::write(dir.path("init.toml"), "[[service]]\nname = \"a\"\nexec = 1\n").unwrap();
    let check = Command::new(BIN)
        .args(["--check", "--cmdline", "", "--config"])
        .arg(dir.path("init.toml"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("init.toml:3:8: service[0].exec: expected"));
}
