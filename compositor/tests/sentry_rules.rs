//! Sentry's rules and actions in a real session: a crash loop is a critical anomaly, an OOM
//! kill in a capsule's memory cgroup is an `oom_kill` event (event-driven, while the capsule
//! goes on running) and an anomaly, a manifest that quarantines a crash loop leaves the capsule
//! holding only `display.window` and refusing to start until it is released, and a busy loop
//! saturating the CPU gets its cgroup CPU quota lowered.
//!
//! The OOM and throttle tests need the capsule's cgroup (memory and cpu controllers): where the
//! session cannot give it one (not root, no cgroup filesystem) they fail and say so.

mod common;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{wait_for, Session};
use exo_shell::{
    capsule::CapsuleInfo,
    control::Request,
    sentry::{ActionKind, AnomalyKind, Event, EventKind, Severity},
    CapabilitySet,
};

/// A directory of capsules for one test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nexq-rules-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn add(&self, name: &str, manifest: &str) -> &Self {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Capsule.toml"), manifest).unwrap();
        self
    }

    fn session(&self) -> Session {
        Session::start(&["--system-capsules", self.0.to_str().unwrap()])
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Stops the named capsules when the test ends, pass or fail: the session's compositor is
/// killed without a shutdown, and busy loops left behind would slow every later test.
struct StopOnDrop<'a>(&'a Session, &'a [&'a str]);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        for name in self.1 {
            let _ = self.0.request(&Request::CapsuleStop {
                name: name.to_string(),
            });
        }
        let running = |name: &str| {
            let list = self.0.request(&Request::Capsules).ok();
            let list: Vec<CapsuleInfo> = list
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            list.iter().any(|c| c.name == name && c.pid.is_some())
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && self.1.iter().any(|n| running(n)) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `[capsule]` with `exec` (a shell script), autostarted, plus `rest` (more tables).
fn manifest(name: &str, script: &str, restart: &str, rest: &str) -> String {
    format!(
        "[capsule]\nname = \"{name}\"\nversion = \"1\"\nexec = [\"sh\", \"-c\", {script:?}]\nautostart = true\nrestart = \"{restart}\"\n\n{rest}"
    )
}

/// Runs the real exoctl (built next to nexquelium) against the session.
fn exoctl(session: &Session, args: &[&str]) -> (bool, String, String) {
    let path = std::path::Path::new(env!("CARGO_BIN_EXE_nexquelium")).with_file_name("exoctl");
    assert!(
        path.is_file(),
        "{} does not exist: build it with `cargo build -p exo-shell --bin exoctl`",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in session.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run exoctl");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

/// The capsule's events, through `exoctl events --json`.
fn events(session: &Session, capsule: &str) -> Vec<Event> {
    let (ok, out, err) = exoctl(
        session,
        &["events", "--json", "--capsule", capsule, "--limit", "10000"],
    );
    assert!(ok, "exoctl events: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event ({e}): {l}")))
        .collect()
}

fn anomalies(events: &[Event]) -> Vec<(AnomalyKind, Severity)> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Anomaly { anomaly, .. } => Some((anomaly, e.severity)),
            _ => None,
        })
        .collect()
}

/// Sentry's actions: (action, by, reason).
fn actions(events: &[Event]) -> Vec<(ActionKind, String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Action { action, by, reason } => Some((*action, by.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

/// Waits until the capsule's events satisfy `f`; the timeout message lists them.
fn wait_events(session: &Session, capsule: &str, what: &str, f: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let seen = events(session, capsule);
        if f(&seen) {
            return seen;
        }
        if Instant::now() > deadline {
            let lines: Vec<String> = seen.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
            panic!(
                "timed out waiting for {what}; events of {capsule}:\n{}",
                lines.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn caps(list: &str) -> CapabilitySet {
    CapabilitySet::parse_list(list).unwrap()
}

fn capsule(session: &Session, name: &str) -> CapsuleInfo {
    let list: Vec<CapsuleInfo> =
        serde_json::from_value(session.request(&Request::Capsules).expect("capsules")).expect("capsule list");
    list.into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capsule {name}"))
}

fn wait_state(session: &Session, name: &str, state: &str) -> CapsuleInfo {
    wait_for(Duration::from_secs(30), &format!("{name} to be {state}"), || {
        let c = capsule(session, name);
        (c.status.state() == state).then_some(c)
    })
}

/// The capsule's cgroup directory in the v1 hierarchy of `controller` (or the v2 group).
fn cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("read /proc/PID/cgroup");
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        if controllers.split(',').any(|c| c == controller) && path.contains("exosphere-") {
            return PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"));
        }
        if controllers.is_empty() && path.contains("exosphere-") {
            let dir = PathBuf::from(format!("/sys/fs/cgroup{path}"));
            if dir.join("cpu.max").exists() {
                return dir;
            }
        }
    }
    panic!("the capsule (pid {pid}) is in no {controller} cgroup of its own:\n{text}")
}

/// Fails (does not skip) when the capsule did not get the cgroup controller a test needs.
fn require_controller(info: &CapsuleInfo, what: &str) {
    assert!(
        info.confinement.contains(what),
        "capsule {} has no cgroup with {what:?} (confinement: {:?}); this test needs a memory and \
         cpu cgroup: run it as root on a machine with cgroups (./x test does)",
        info.name,
        info.confinement
    );
}

#[test]
fn a_crash_loop_is_a_critical_anomaly_in_exoctl_events() {
    let dir = TempDir::new("crashloop");
    dir.add("crashy", &manifest("crashy", "exit 3", "on-failure", ""));
    let session = dir.session();
    let events = wait_events(&session, "crashy", "a crash_loop anomaly", |e| {
        !anomalies(e).is_empty()
    });
    assert_eq!(anomalies(&events), [(AnomalyKind::CrashLoop, Severity::Critical)]);
    let anomaly = events.iter().find(|e| e.kind.name() == "anomaly").unwrap();
    let EventKind::Anomaly { evidence, .. } = &anomaly.kind else {
        unreachable!()
    };
    assert!(evidence.contains("3 abnormal exits"), "{evidence}");
    // It came after the third abnormal exit, not before.
    let exits_before = events
        .iter()
        .take_while(|e| e.seq < anomaly.seq)
        .filter(|e| e.kind.name() == "capsule_exited")
        .count();
    assert_eq!(exits_before, 3, "{events:?}");
    // The default policy only notifies: no action, and the supervisor goes on to `failed`.
    wait_state(&session, "crashy", "failed");
    let events = self::events(&session, "crashy");
    assert!(actions(&events).is_empty(), "{events:?}");
    assert_eq!(anomalies(&events).len(), 1, "reported once: {events:?}");
}

const ALLOCATE: &str = "import sys; n = int(sys.argv[1]) << 20; b = bytearray(n); b[::4096] = b'x' * len(b[::4096]); print('allocated', n >> 20)";

#[test]
fn an_oom_kill_in_the_memory_cgroup_is_an_event_and_an_anomaly() {
    let dir = TempDir::new("oom");
    // The shell (the capsule's process) survives the kill of its python child: the event can
    // only come from the kernel's notification, not from the capsule's exit.
    let script = format!("python3 -c \"{ALLOCATE}\" 300; echo python ended $?; exec sleep 1000");
    dir.add(
        "hungry",
        &manifest("hungry", &script, "never", "[resources]\nmemory_max = \"64M\"\n"),
    );
    let session = dir.session();
    let _stop = StopOnDrop(&session, &["hungry"]);
    let info = wait_state(&session, "hungry", "running");
    require_controller(&info, "memory 64M");
    let events = wait_events(&session, "hungry", "an oom_kill event and anomaly", |e| {
        e.iter().any(|e| e.kind == EventKind::OomKill) && !anomalies(e).is_empty()
    });
    let kills: Vec<&Event> = events.iter().filter(|e| e.kind == EventKind::OomKill).collect();
    assert_eq!(kills.len(), 1, "one kill, recorded once: {events:?}");
    assert_eq!(kills[0].severity, Severity::Warning);
    assert_eq!(anomalies(&events), [(AnomalyKind::OomKill, Severity::Warning)]);
    // Still running: it was the notification.
    assert_eq!(capsule(&session, "hungry").status.state(), "running");
    assert!(
        !events.iter().any(|e| e.kind.name() == "capsule_exited"),
        "{events:?}"
    );

    // Its exit does not record the kill a second time.
    session
        .request(&Request::CapsuleStop {
            name: "hungry".into(),
        })
        .unwrap();
    wait_state(&session, "hungry", "stopped");
    let events = wait_events(&session, "hungry", "its stop", |e| {
        e.iter().any(|e| e.kind.name() == "capsule_stopped")
    });
    let kills = events.iter().filter(|e| e.kind == EventKind::OomKill).count();
    assert_eq!(kills, 1, "{events:?}");
}

#[test]
fn a_quarantined_capsule_keeps_only_display_window_until_released() {
    let dir = TempDir::new("quarantine");
    let rest = "[permissions]\nrequired = [\"display.window\", \"sentry.observe\", \"display.layer\"]\n\n\
                [sentry]\ncrash_loop_exits = 2\n\n[sentry.actions]\ncrash_loop = \"quarantine\"\n";
    dir.add("shady", &manifest("shady", "exit 7", "on-failure", rest));
    let session = dir.session();
    let events = wait_events(&session, "shady", "a quarantine action", |e| {
        !actions(e).is_empty()
    });
    let taken = actions(&events);
    assert_eq!(taken.len(), 1, "{events:?}");
    let (action, by, reason) = &taken[0];
    assert_eq!((*action, by.as_str()), (ActionKind::Quarantine, "sentry"));
    assert!(reason.starts_with("crash_loop: 2 abnormal exits"), "{reason}");
    let action_event = events.iter().find(|e| e.kind.name() == "action").unwrap();
    assert_eq!(action_event.severity, Severity::Critical);

    let info = wait_state(&session, "shady", "stopped");
    assert!(info.quarantined, "{info:?}");
    assert_eq!(info.capabilities, caps("display.window"));
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::CapsuleStopped { by: "sentry".into() }));
    // No more restarts: the restart timer went with the quarantine.
    let started = |e: &[Event]| e.iter().filter(|e| e.kind.name() == "capsule_started").count();
    let before = started(&events);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(started(&self::events(&session, "shady")), before);

    // Refused to start, by the control socket and by exoctl.
    let err = session
        .request(&Request::CapsuleStart { name: "shady".into() })
        .unwrap_err();
    assert!(err.to_string().contains("quarantined"), "{err}");
    let (ok, _, err) = exoctl(&session, &["start", "shady"]);
    assert!(!ok && err.contains("quarantined"), "{err}");
    assert_eq!(capsule(&session, "shady").status.state(), "stopped");

    // Released: its capabilities are back; it is not started by the release.
    let (ok, _, err) = exoctl(&session, &["release", "shady"]);
    assert!(ok, "{err}");
    let info = capsule(&session, "shady");
    assert!(!info.quarantined);
    assert_eq!(
        info.capabilities,
        caps("display.window,display.layer,sentry.observe")
    );
    assert_eq!(info.status.state(), "stopped");
    let events = self::events(&session, "shady");
    assert!(
        actions(&events)
            .iter()
            .any(|(a, by, _)| *a == ActionKind::Release && by == "user"),
        "{events:?}"
    );
    session
        .request(&Request::CapsuleStart { name: "shady".into() })
        .expect("a released capsule starts");
}

#[test]
fn a_busy_loop_saturating_the_cpu_is_throttled_in_its_cgroup() {
    let dir = TempDir::new("throttle");
    // A low threshold: on a loaded machine the loop may get little more than a tenth of a CPU.
    let rest = "[sentry]\ncpu_percent = 3\ncpu_secs = 2\nthrottle_cpu = \"20%\"\n";
    dir.add(
        "spinner",
        &manifest("spinner", "while :; do :; done", "never", rest),
    );
    let session = dir.session();
    let _stop = StopOnDrop(&session, &["spinner"]);
    let info = wait_state(&session, "spinner", "running");
    require_controller(&info, "cpu");
    let cpu = cgroup_dir(info.pid.unwrap(), "cpu");
    let quota_file = ["cpu.cfs_quota_us", "cpu.max"]
        .iter()
        .map(|f| cpu.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no CPU quota file in {}", cpu.display()));
    let read = || std::fs::read_to_string(&quota_file).unwrap();
    let before = read();
    assert!(
        before.trim() == "-1" || before.starts_with("max"),
        "no limit at first: {before}"
    );

    let events = wait_events(&session, "spinner", "a throttle action", |e| {
        !actions(e).is_empty()
    });
    assert_eq!(
        anomalies(&events),
        [(AnomalyKind::CpuSaturation, Severity::Warning)]
    );
    let taken = actions(&events);
    let (action, by, reason) = &taken[0];
    assert_eq!((*action, by.as_str()), (ActionKind::Throttle, "sentry"));
    assert!(reason.contains("lowered to 20%"), "{reason}");
    let after = read();
    assert!(
        after.trim() == "20000" || after.starts_with("20000 "),
        "quota in {}: {after}",
        quota_file.display()
    );
    // The quota holds: it now uses about a fifth of a CPU.
    let usage = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|v| v.parse().unwrap())
            .collect();
        fields.iter().sum::<u64>()
    };
    let pid = info.pid.unwrap();
    let t0 = usage(pid);
    std::thread::sleep(Duration::from_secs(2));
    let ticks = usage(pid) - t0;
    assert!(ticks <= 80, "{ticks} ticks in 2 s under a 20% quota");
}

/// `examples/hostile_client`, built for this test (a stale one would test old code).
fn hostile_client() -> String {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .to_path_buf();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "-p",
            "nexquelium",
            "--example",
            "hostile_client",
        ])
        .args(["--profile", profile, "--target-dir"])
        .arg(profile_dir.parent().unwrap())
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .status()
        .expect("run cargo");
    assert!(built.success(), "cannot build examples/hostile_client.rs");
    profile_dir.join("examples/hostile_client").display().to_string()
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a capsule process this test's session started.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn a_focused_window_that_does_not_answer_pings_is_unresponsive() {
    let dir = TempDir::new("ping");
    let client = hostile_client();
    let rest = "[permissions]\nrequired = [\"display.window\"]\n\n[sentry]\nunresponsive_secs = 1\n";
    let exec = format!("exec {client} title stuck");
    dir.add("stuck", &manifest("stuck", &exec, "never", rest));
    let session = dir.session();
    let _stop = StopOnDrop(&session, &["stuck"]);
    let windows = session.wait_windows(1, Duration::from_secs(20));
    assert!(windows[0].focused, "{windows:?}");
    let pid = capsule(&session, "stuck").pid.unwrap();
    let unresponsive = |e: &[Event]| {
        e.iter()
            .filter(|e| matches!(&e.kind, EventKind::Unresponsive { window } if window == "stuck"))
            .count()
    };
    // Focus pinged it and it answered. Stopped, it cannot answer the ping of the next key
    // press (pings are at least 3 s apart).
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(unresponsive(&events(&session, "stuck")), 0);
    signal(pid, libc::SIGSTOP);
    session.key("a");
    let events = wait_events(&session, "stuck", "an unresponsive event", |e| {
        unresponsive(e) == 1
    });
    let event = events.iter().find(|e| e.kind.name() == "unresponsive").unwrap();
    assert_eq!(event.severity, Severity::Notice);
    assert_eq!(
        anomalies(&events),
        [(AnomalyKind::Unresponsive, Severity::Notice)]
    );
    // Going on: it answers the ping, which re-arms the rule; stuck again, it is reported again.
    signal(pid, libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(3200));
    signal(pid, libc::SIGSTOP);
    session.key("a");
    let events = wait_events(&session, "stuck", "a second unresponsive event", |e| {
        unresponsive(e) == 2
    });
    signal(pid, libc::SIGCONT);
    assert_eq!(anomalies(&events).len(), 2, "{events:?}");
}

#[test]
fn restart_kill_and_freeze_actions_on_busy_loops() {
    let dir = TempDir::new("actions");
    for (name, action) in [("again", "restart"), ("doomed", "kill"), ("icy", "freeze")] {
        let rest = format!(
            "[sentry]\ncpu_percent = 3\ncpu_secs = 1\n\n[sentry.actions]\ncpu_saturation = \"{action}\"\n"
        );
        dir.add(name, &manifest(name, "while :; do :; done", "always", &rest));
    }
    let session = dir.session();
    let _stop = StopOnDrop(&session, &["again", "doomed", "icy"]);
    let first_pid = wait_state(&session, "again", "running").pid.unwrap();
    require_controller(&capsule(&session, "icy"), "freezer");
    let taken = |name: &str, action: ActionKind| {
        let events = wait_events(&session, name, &format!("a {action:?} action"), |e| {
            !actions(e).is_empty()
        });
        let (done, by, _) = &actions(&events)[0];
        assert_eq!((*done, by.as_str()), (action, "sentry"), "{events:?}");
        events
    };

    // Restart: stopped by Sentry, started again as a new process.
    taken("again", ActionKind::Restart);
    let events = wait_events(&session, "again", "its second start", |e| {
        e.iter().filter(|e| e.kind.name() == "capsule_started").count() >= 2
    });
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::CapsuleStopped { by: "sentry".into() }));
    let info = wait_state(&session, "again", "running");
    assert_ne!(info.pid, Some(first_pid));

    // Kill: SIGKILL, and it stays stopped although its policy is `always`.
    taken("doomed", ActionKind::Kill);
    wait_state(&session, "doomed", "stopped");
    let events = wait_events(&session, "doomed", "its stop", |e| {
        e.iter().any(|e| e.kind.name() == "capsule_stopped")
    });
    assert!(events.iter().any(|e| e.kind
        == EventKind::CapsuleExited {
            code: None,
            signal: Some(libc::SIGKILL)
        }));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(capsule(&session, "doomed").status.state(), "stopped");

    // Freeze: the freezer holds it; a stop thaws it, so it ends at once (frozen v1 tasks
    // would not even die of the SIGKILL after the grace period).
    let pid = capsule(&session, "icy").pid.unwrap();
    let state_file = cgroup_dir(pid, "freezer").join("freezer.state");
    taken("icy", ActionKind::Freeze);
    assert_eq!(std::fs::read_to_string(&state_file).unwrap().trim(), "FROZEN");
    let started = Instant::now();
    session
        .request(&Request::CapsuleStop { name: "icy".into() })
        .unwrap();
    wait_state(&session, "icy", "stopped");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}
