//! Sentry over the control protocol, end to end: the event history and live events on the
//! socket and through the real `exoctl`, lifecycle events of a crash-looping capsule, refused
//! binds, floods and protocol errors, resource samples, the capsules' control channels (observe
//! versus control), a follower that does not read, and an event log that keeps every event a
//! client saw when the compositor is killed with SIGKILL.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{wait_for, Session};
use exo_shell::{
    capsule::CapsuleInfo,
    control::{ControlClient, DashboardAction, Pushed, Request},
    sentry::{Event, EventKind, Severity},
};

/// A directory of capsules (or an event log) for one test, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nexq-sentry-{}-{tag}", std::process::id()));
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

    fn session(&self, extra: &[&str]) -> Session {
        let mut args = vec!["--system-capsules", self.0.to_str().unwrap()];
        args.extend_from_slice(extra);
        Session::start(&args)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real exoctl binary, built next to nexquelium by `cargo test --workspace`.
fn exoctl_path() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_nexquelium")).with_file_name("exoctl");
    let hint = "build it with `cargo build -p exo-shell --bin exoctl` (cargo test --workspace does)";
    assert!(path.is_file(), "{} does not exist: {hint}", path.display());
    path
}

/// Runs the real exoctl against the session; returns (success, stdout, stderr).
fn exoctl(session: &Session, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(exoctl_path());
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in session.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run exoctl");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

fn events_request(capsule: Option<&str>, follow: bool) -> Request {
    Request::Events {
        since_seq: None,
        capsule: capsule.map(str::to_owned),
        kinds: vec![],
        min_severity: None,
        limit: Some(100_000),
        follow,
    }
}

fn history(session: &Session, request: &Request) -> Vec<Event> {
    serde_json::from_value(session.request(request).expect("events")).expect("event list")
}

fn capsule(session: &Session, name: &str) -> CapsuleInfo {
    let list: Vec<CapsuleInfo> =
        serde_json::from_value(session.request(&Request::Capsules).expect("capsules")).expect("capsule list");
    list.into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capsule {name}"))
}

fn wait_state(session: &Session, name: &str, state: &str) -> CapsuleInfo {
    wait_for(Duration::from_secs(15), &format!("{name} to be {state}"), || {
        let c = capsule(session, name);
        (c.status.state() == state).then_some(c)
    })
}

fn run(session: &Session, name: &str, caps: &[&str], argv: &[&str]) {
    let capabilities = caps.iter().map(|c| c.to_string()).collect();
    let argv = argv.iter().map(|a| a.to_string()).collect();
    let name = Some(name.into());
    session
        .request(&Request::Run {
            name,
            capabilities,
            argv,
        })
        .expect("run");
}

fn logs(session: &Session, name: &str) -> String {
    let (name, tail_bytes) = (name.into(), None);
    let value = session
        .request(&Request::Logs { name, tail_bytes })
        .expect("logs");
    value["text"].as_str().unwrap_or_default().to_string()
}

/// A connection following events on a thread of its own, keeping every event it receives.
struct Follower {
    seen: Arc<Mutex<Vec<Event>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Follower {
    fn start(control: &Path, request: Request) -> Follower {
        let mut client = ControlClient::connect(control).expect("connect");
        client.request(&request).expect("follow events");
        client.set_timeout(None).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        let thread = std::thread::spawn(move || {
            // Until the compositor goes away.
            while let Ok(Some(pushed)) = client.next_pushed() {
                if let Pushed::Event(event) = pushed {
                    keep.lock().unwrap().push(event);
                }
            }
        });
        Follower { seen, thread }
    }

    fn seen(&self) -> Vec<Event> {
        self.seen.lock().unwrap().clone()
    }

    fn wait_until(&self, what: &str, f: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        wait_for(Duration::from_secs(15), what, || {
            let seen = self.seen();
            f(&seen).then_some(seen)
        })
    }
}

#[test]
fn events_history_filters_and_follow_over_the_socket_and_exoctl() {
    let dir = TempDir::new("history");
    let session = dir.session(&[]);
    let all = Follower::start(&session.control, events_request(None, true));
    let only_warnings = Follower::start(
        &session.control,
        Request::Events {
            since_seq: None,
            capsule: None,
            kinds: vec![],
            min_severity: Some(Severity::Warning),
            limit: Some(0),
            follow: true,
        },
    );

    // The dashboard starts visible: the secure key Super+D hides it, exoctl shows it again.
    session.key("super+d");
    let (ok, out, err) = exoctl(&session, &["dashboard", "show"]);
    assert!(ok, "{err}");
    assert_eq!(out, "dashboard visible\n");
    let reply = session
        .request(&Request::Dashboard {
            action: DashboardAction::Toggle,
        })
        .unwrap();
    assert_eq!(reply, serde_json::json!({"visible": false}));
    let seen = all.wait_until("three dashboard events", |e| e.len() >= 3);
    let visible: Vec<bool> = seen
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Dashboard { visible } => Some(visible),
            _ => None,
        })
        .collect();
    assert_eq!(visible, [false, true, false]);
    assert!(seen.windows(2).all(|w| w[1].seq == w[0].seq + 1), "{seen:?}");

    // The history is what was pushed; filters apply to both.
    let kinds = |kinds: &[&str], since_seq| Request::Events {
        since_seq,
        capsule: None,
        kinds: kinds.iter().map(|k| k.to_string()).collect(),
        min_severity: None,
        limit: None,
        follow: false,
    };
    assert_eq!(history(&session, &kinds(&["dashboard"], None)), seen);
    assert_eq!(history(&session, &kinds(&[], Some(seen[1].seq))), seen[2..]);
    assert!(history(&session, &kinds(&["anomaly"], None)).is_empty());
    assert!(only_warnings.seen().is_empty(), "{:?}", only_warnings.seen());

    // A capsule refused on the control socket is a warning, pushed to the warnings follower.
    let (x, socket) = (exoctl_path(), session.control.clone());
    let argv = [
        x.to_str().unwrap(),
        "--socket",
        socket.to_str().unwrap(),
        "version",
    ];
    run(&session, "prober", &[], &argv);
    wait_state(&session, "prober", "exited");
    if rustix::process::getuid().is_root() {
        // As root the capsule has its own uid and does not even reach the 0700 runtime dir.
    } else {
        let warned = only_warnings.wait_until("a refused event", |e| !e.is_empty());
        assert!(matches!(&warned[0].kind, EventKind::Refused { what, .. } if what == "control socket"));
    }

    // exoctl: JSON lines, and lines for people.
    let (ok, out, err) = exoctl(&session, &["events", "--json", "--kind", "dashboard"]);
    assert!(ok, "{err}");
    let lines: Vec<Event> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON event"))
        .collect();
    assert_eq!(lines, seen);
    let (ok, out, _) = exoctl(&session, &["events", "--capsule", "prober", "--limit", "1"]);
    assert!(ok && out.lines().count() == 1, "{out}");
    assert!(
        out.contains(" prober ") && out.contains("exited with code"),
        "{out}"
    );
    let (ok, _, err) = exoctl(&session, &["events", "--kind", "crash"]);
    assert!(!ok && err.contains("invalid value 'crash'"), "{err}");
    let (ok, out, _) = exoctl(&session, &["xray", "on"]);
    assert!(ok && out == "x-ray on\n", "{out}");
    let (ok, _, err) = exoctl(&session, &["release", "prober"]);
    assert!(!ok && err.contains("prober is not quarantined"), "{err}");
    assert!(!capsule(&session, "prober").quarantined);
}

#[test]
fn a_crash_looping_capsule_shows_exited_restarting_and_failed_in_exoctl_events() {
    let dir = TempDir::new("crashloop");
    dir.add(
        "crashy",
        "[capsule]\nname = \"crashy\"\nversion = \"1\"\nexec = [\"sh\", \"-c\", \"exit 3\"]\nautostart = true\nrestart = \"on-failure\"\n",
    );
    let session = dir.session(&[]);
    wait_state(&session, "crashy", "failed");
    let (ok, out, err) = exoctl(&session, &["events", "--json", "--capsule", "crashy"]);
    assert!(ok, "{err}");
    let events: Vec<Event> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON event"))
        .collect();
    let count = |name: &str| events.iter().filter(|e| e.kind.name() == name).count();
    assert_eq!(count("capsule_started"), 5, "{out}");
    assert_eq!(count("capsule_exited"), 5, "{out}");
    assert_eq!(count("capsule_restarting"), 4, "{out}");
    assert_eq!(count("capsule_failed"), 1, "{out}");
    let exited = events.iter().find(|e| e.kind.name() == "capsule_exited").unwrap();
    assert_eq!(
        exited.kind,
        EventKind::CapsuleExited {
            code: Some(3),
            signal: None
        }
    );
    assert_eq!(exited.severity, Severity::Warning);
    let last = events.last().unwrap();
    assert!(
        matches!(&last.kind, EventKind::CapsuleFailed { reason } if reason.contains("exit code 3")),
        "{last:?}"
    );
    assert_eq!(last.severity, Severity::Critical);
    let attempts: Vec<u32> = events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::CapsuleRestarting { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let (ok, out, _) = exoctl(
        &session,
        &["events", "--capsule", "crashy", "--min-severity", "critical"],
    );
    // The supervisor's failure, and Sentry's crash-loop anomaly (tests/sentry_rules.rs).
    assert!(
        ok && out.lines().count() == 2 && out.contains("critical  crashy        failed: "),
        "{out}"
    );
}

#[test]
fn samples_are_pushed_to_subscribers_and_exoctl_top_shows_them() {
    let dir = TempDir::new("samples");
    let session = dir.session(&[]);
    run(&session, "sleeper", &[], &["sleep", "1000"]);
    let mut client = ControlClient::connect(&session.control).unwrap();
    let reply = client
        .request(&Request::Samples {
            capsule: Some("sleeper".into()),
            stop: false,
        })
        .unwrap();
    assert!(reply.is_null());
    for _ in 0..2 {
        match client.next_pushed().expect("a sample") {
            Some(Pushed::Sample(s)) => {
                assert_eq!(s.capsule, "sleeper");
                assert!(s.pids >= 1 && s.memory_bytes > 0, "{s:?}");
                assert!(s.cpu_percent < 50.0, "{s:?}");
            }
            other => panic!("expected a sample, got {other:?}"),
        }
    }
    assert!(client
        .request(&Request::Samples {
            capsule: Some("nobody".into()),
            stop: false,
        })
        .is_err());
    // Unsubscribed, the connection gets no more samples.
    let reply = client
        .request(&Request::Samples {
            capsule: None,
            stop: true,
        })
        .unwrap();
    assert!(reply.is_null());
    let late = client
        .next_pushed_within(Duration::from_millis(2500))
        .expect("read");
    assert!(late.is_none(), "a sample after stop: {late:?}");
    let (ok, out, err) = exoctl(&session, &["top", "--once"]);
    assert!(ok, "{err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("sleeper"))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "running", "{out}");
    assert_ne!(cells[4], "-", "no memory figure: {out}");
}

#[test]
fn control_channels_observe_with_sentry_observe_and_act_only_with_sentry_control() {
    let dir = TempDir::new("channels");
    let session = dir.session(&[]);
    let exoctl = exoctl_path();
    let x = exoctl.to_str().unwrap();
    run(&session, "victim", &[], &["sleep", "1000"]);
    // Without sentry.observe: no channel.
    run(
        &session,
        "plain",
        &[],
        &["sh", "-c", "echo FD=${EXOSPHERE_CONTROL_FD:-none}"],
    );
    wait_state(&session, "plain", "exited");
    assert!(logs(&session, "plain").contains("FD=none"));

    // sentry.observe: reads state, is refused an action (and that is recorded).
    let script = format!(
        "echo NQ=${{NEXQUELIUM_CONTROL:-none}}; {x} capsules --json; {x} stop victim; echo rc=$?; {x} key super+q; echo rc=$?"
    );
    run(&session, "watcher", &["sentry.observe"], &["sh", "-c", &script]);
    wait_state(&session, "watcher", "exited");
    let log = logs(&session, "watcher");
    assert!(log.contains("NQ=none"), "{log}");
    let listed = log
        .lines()
        .find(|l| l.starts_with('['))
        .unwrap_or_else(|| panic!("no capsule list: {log}"));
    let listed: Vec<CapsuleInfo> = serde_json::from_str(listed).expect("capsule list");
    assert!(listed.iter().any(|c| c.name == "victim"), "{log}");
    assert!(
        log.contains("exoctl: capsule_stop needs sentry.control\nrc=1"),
        "{log}"
    );
    assert!(
        log.contains("exoctl: key is not available to capsules\nrc=1"),
        "{log}"
    );
    assert_eq!(capsule(&session, "victim").status.state(), "running");
    let refused: Vec<String> = history(&session, &events_request(Some("watcher"), false))
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ControlRefused { request } => {
                assert_eq!(e.severity, Severity::Warning);
                Some(request)
            }
            _ => None,
        })
        .collect();
    assert_eq!(refused, ["capsule_stop", "key"]);

    // sentry.control: may stop another capsule; the stop says who asked.
    let control = ["sentry.observe", "sentry.control"];
    run(&session, "controller", &control, &[x, "stop", "victim"]);
    wait_state(&session, "victim", "stopped");
    let controller = wait_state(&session, "controller", "exited");
    assert_eq!(
        controller.status,
        exo_shell::capsule::CapsuleStatus::Exited {
            code: Some(0),
            signal: None
        },
        "{}",
        logs(&session, "controller")
    );
    let victim = history(&session, &events_request(Some("victim"), false));
    assert!(
        victim.iter().any(|e| e.kind
            == EventKind::CapsuleStopped {
                by: "controller".into()
            }),
        "{victim:?}"
    );
}

#[test]
fn a_follower_that_does_not_read_is_dropped_and_the_session_goes_on() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::UnixStream;
    let dir = TempDir::new("lazy");
    let mut session = dir.session(&[]);
    let mut lazy = UnixStream::connect(&session.control).unwrap();
    lazy.write_all(b"{\"request\":\"events\",\"limit\":0,\"follow\":true}\n")
        .unwrap();
    // Many events, pipelined from a connection that does read its replies.
    const EVENTS: usize = 30_000;
    let toggler = UnixStream::connect(&session.control).unwrap();
    let mut writer = toggler.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let line = b"{\"request\":\"dashboard\",\"action\":\"toggle\"}\n";
        for _ in 0..EVENTS {
            writer.write_all(line).unwrap();
        }
    });
    let replies = BufReader::new(toggler).lines().take(EVENTS).count();
    sending.join().unwrap();
    assert_eq!(replies, EVENTS);
    // Far behind, the lazy follower was dropped: what it can still read ends early.
    lazy.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut unread = String::new();
    lazy.read_to_string(&mut unread)
        .expect("the end of the connection, not a timeout");
    let pushed = unread.lines().filter(|l| l.starts_with("{\"event\"")).count();
    assert!(pushed < EVENTS, "the lazy follower got all {pushed} events");
    session.assert_alive();
}

/// `examples/hostile_client`, built for this test (a stale one would test old code).
fn attacker() -> String {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
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

#[test]
fn refused_binds_floods_and_protocol_errors_are_events() {
    let dir = TempDir::new("hostile");
    let session = dir.session(&[]);
    let (attacker, window) = (attacker(), ["display.window"]);
    run(
        &session,
        "intruder",
        &window,
        &[&attacker, "bind", "zwlr_layer_shell_v1", "1"],
    );
    run(&session, "hog", &window, &[&attacker, "surfaces", "1000"]);
    let kinds = |name: &str, n: usize| {
        wait_for(Duration::from_secs(15), &format!("events of {name}"), || {
            let events = history(&session, &events_request(Some(name), false));
            let found: Vec<EventKind> = events
                .into_iter()
                .map(|e| e.kind)
                // Lifecycle, and Sentry's anomalies (tests/sentry_rules.rs), aside.
                .filter(|k| !k.name().starts_with("capsule_") && k.name() != "anomaly")
                .collect();
            (found.len() >= n).then_some(found)
        })
    };
    let refused = EventKind::Refused {
        what: "zwlr_layer_shell_v1".into(),
        capability: "display.layer".into(),
    };
    assert_eq!(kinds("intruder", 1), [refused]);
    let hog = kinds("hog", 2);
    let flood = EventKind::Flood {
        what: "surfaces".into(),
        count: 513,
        limit: 512,
    };
    assert_eq!(hog[0], flood);
    assert!(
        matches!(&hog[1], EventKind::ProtocolError { interface, code: 2, .. } if interface == "wl_display"),
        "{hog:?}"
    );
}

/// Every line of the event log (and the rotated file, if any).
fn logged(path: &Path) -> Vec<Event> {
    let rotated = PathBuf::from(format!("{}.1", path.display()));
    [rotated, path.to_path_buf()]
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect()
}

#[test]
fn every_event_a_client_saw_is_in_the_log_after_sigkill_and_numbering_goes_on() {
    let dir = TempDir::new("sigkill");
    let log = dir.0.join("state/sentry.jsonl");
    let log_arg = log.to_str().unwrap().to_string();
    let session = dir.session(&["--sentry-log", &log_arg]);
    let follower = Follower::start(&session.control, events_request(None, true));
    // Events as fast as the compositor takes them, from a second connection.
    let mut toggler = ControlClient::connect(&session.control).unwrap();
    let producer = std::thread::spawn(move || {
        let toggle = Request::Dashboard {
            action: DashboardAction::Toggle,
        };
        let mut acknowledged = 0u64;
        while toggler.request(&toggle).is_ok() {
            acknowledged += 1;
        }
        acknowledged
    });
    follower.wait_until("300 events", |e| e.len() >= 300);
    // SAFETY: kill(2) on the compositor this test started.
    assert_eq!(unsafe { libc::kill(session.pid() as i32, libc::SIGKILL) }, 0);
    let acknowledged = producer.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !follower.thread.is_finished() {
        assert!(Instant::now() < deadline, "the follower did not see the end");
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = follower.seen();
    assert!(
        seen.len() >= 300 && acknowledged >= 300,
        "{} seen, {acknowledged} acknowledged",
        seen.len()
    );
    let on_disk = logged(&log);
    let missing: Vec<u64> = seen
        .iter()
        .filter(|e| !on_disk.contains(e))
        .map(|e| e.seq)
        .collect();
    assert!(missing.is_empty(), "seen but not in the log: {missing:?}");
    drop(session);

    // The next compositor on the same log has the history and numbers on.
    let last = on_disk.iter().map(|e| e.seq).max().unwrap();
    let session = dir.session(&["--sentry-log", &log_arg]);
    let history = history(&session, &events_request(None, false));
    assert!(seen.iter().all(|e| history.contains(e)));
    session.key("super+d");
    let newest = wait_for(Duration::from_secs(5), "the new event", || {
        logged(&log).into_iter().rfind(|e| e.seq > last)
    });
    assert_eq!(newest.seq, last + 1);
    assert!(matches!(newest.kind, EventKind::Dashboard { .. }));
}

/// The next pushed window list within `wait`, skipping other pushed lines.
fn next_window_list(
    client: &mut ControlClient,
    wait: Duration,
) -> Option<Vec<exo_shell::control::WindowInfo>> {
    let deadline = Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match client.next_pushed_within(left).expect("read the control socket") {
            Some(Pushed::Windows(list)) => return Some(list),
            Some(_) => {}
            None => return None,
        }
    }
    None
}

/// Pushed lists until one satisfies `f`.
fn wait_window_list(
    client: &mut ControlClient,
    what: &str,
    f: impl Fn(&[exo_shell::control::WindowInfo]) -> bool,
) -> Vec<exo_shell::control::WindowInfo> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("no pushed window list {what}"));
        if let Some(list) = next_window_list(client, left).filter(|l| f(l)) {
            return list;
        }
    }
}

#[test]
fn the_window_list_is_pushed_when_it_changes_and_not_while_nothing_does() {
    use common::client::Client;
    use wayland_client::protocol::wl_shm::Format;

    let session = Session::start(&[]);
    let mut follower = ControlClient::connect(&session.control).expect("connect");
    let first = follower
        .request(&Request::Windows { follow: true })
        .expect("windows with follow");
    assert_eq!(first, serde_json::json!([]), "no window yet");
    assert_eq!(
        next_window_list(&mut follower, Duration::from_millis(500)),
        None,
        "nothing changed, yet a list was pushed"
    );

    let mut c = Client::connect(&session.socket_path());
    let win = c.map_toplevel("followed", 200, 100, Format::Xrgb8888, 0xff_33_66_99);
    let list = wait_window_list(&mut follower, "with the new window focused", |l| {
        l.iter().any(|w| w.title == "followed" && w.focused)
    });
    assert_eq!(list.len(), 1, "{list:?}");
    // Once the window has settled, nothing more is pushed while nothing changes.
    let mut settled = false;
    for _ in 0..10 {
        if next_window_list(&mut follower, Duration::from_millis(500)).is_none() {
            settled = true;
            break;
        }
    }
    assert!(settled, "the window list kept being pushed with nothing changing");

    win.toplevel.set_title("renamed".into());
    win.surface.commit();
    c.roundtrip();
    wait_window_list(&mut follower, "with the new title", |l| {
        l.iter().any(|w| w.title == "renamed")
    });

    drop(win);
    drop(c);
    wait_window_list(&mut follower, "without the window once its client left", |l| {
        l.is_empty()
    });
}
