//! Capsules end to end: manifests from a directory, autostart, logs, restart with backoff and
//! failure, stop with SIGTERM/SIGKILL, graphical capsules owning their windows, capabilities
//! deciding the globals a capsule sees, grant and revoke, and what the kernel keeps them from.

mod common;

use std::{path::PathBuf, time::Duration};

use common::{require_program, wait_for, Session};
use exo_shell::{
    capsule::{CapsuleInfo, CapsuleStatus},
    control::{CapsuleLogs, Request, RunInfo},
};

/// A directory of capsules written for one test.
struct CapsuleDir(PathBuf);

impl CapsuleDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("nexq-capsules-{}-{tag}", std::process::id()));
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

impl Drop for CapsuleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn capsules(session: &Session) -> Vec<CapsuleInfo> {
    serde_json::from_value(session.request(&Request::Capsules).expect("capsules")).expect("capsule list")
}

fn capsule(session: &Session, name: &str) -> CapsuleInfo {
    capsules(session)
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capsule {name}"))
}

fn logs(session: &Session, name: &str) -> String {
    let value = session
        .request(&Request::Logs {
            name: name.into(),
            tail_bytes: None,
        })
        .expect("logs");
    serde_json::from_value::<CapsuleLogs>(value)
        .expect("logs reply")
        .text
}

fn wait_state(session: &Session, name: &str, state: &str) -> CapsuleInfo {
    wait_for(
        Duration::from_secs(15),
        &format!("capsule {name} to be {state}"),
        || {
            let c = capsule(session, name);
            (c.status.state() == state).then_some(c)
        },
    )
}

fn run(session: &Session, name: &str, caps: &[&str], argv: &[&str]) -> RunInfo {
    let value = session
        .request(&Request::Run {
            name: Some(name.into()),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            argv: argv.iter().map(|a| a.to_string()).collect(),
        })
        .expect("run");
    serde_json::from_value(value).expect("run reply")
}

const HELLO: &str = r#"
[capsule]
name = "hello"
version = "0.1.0"
exec = ["sh", "-c", "echo 'Hello, Exosphere!'"]
autostart = true
"#;

#[test]
fn autostarted_capsule_runs_and_its_output_is_logged() {
    let dir = CapsuleDir::new("hello");
    dir.add("hello", HELLO);
    let session = dir.session();
    let info = wait_state(&session, "hello", "exited");
    assert_eq!(
        info.status,
        CapsuleStatus::Exited {
            code: Some(0),
            signal: None
        }
    );
    assert!(
        logs(&session, "hello").contains("Hello, Exosphere!"),
        "log: {:?}",
        logs(&session, "hello")
    );
}

#[test]
fn no_autostart_starts_nothing_and_start_runs_it() {
    let dir = CapsuleDir::new("noauto");
    dir.add("hello", HELLO);
    let session = Session::start(&["--system-capsules", dir.0.to_str().unwrap(), "--no-autostart"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(capsule(&session, "hello").status, CapsuleStatus::Stopped);
    session
        .request(&Request::CapsuleStart { name: "hello".into() })
        .expect("start");
    wait_state(&session, "hello", "exited");
}

#[test]
fn an_invalid_manifest_is_listed_with_its_error_and_the_session_runs() {
    let dir = CapsuleDir::new("invalid");
    dir.add("hello", HELLO).add(
        "broken",
        "[capsule]\nname = \"broken\"\nversion = \"1\"\nexec = [\"true\"]\nrestart = \"sometimes\"\n",
    );
    let mut session = dir.session();
    let broken = capsule(&session, "broken");
    let CapsuleStatus::Invalid { error } = &broken.status else {
        panic!("broken is {:?}", broken.status)
    };
    assert!(
        error.contains("Capsule.toml:5:"),
        "error does not name file and line: {error}"
    );
    assert!(
        error.contains("capsule.restart"),
        "error does not name the key: {error}"
    );
    wait_state(&session, "hello", "exited");
    assert!(session
        .request(&Request::CapsuleStart {
            name: "broken".into()
        })
        .is_err());
    session.assert_alive();
}

#[test]
fn a_failing_capsule_is_restarted_with_backoff_then_marked_failed() {
    let dir = CapsuleDir::new("failing");
    dir.add(
        "crashy",
        "[capsule]\nname = \"crashy\"\nversion = \"1\"\nexec = [\"sh\", \"-c\", \"echo boom; exit 3\"]\nautostart = true\nrestart = \"on-failure\"\n",
    );
    let session = dir.session();
    // 0.2 + 0.4 + 0.8 + 1.6 s of backoff, then the fifth failure within 60 s gives up.
    let info = wait_state(&session, "crashy", "failed");
    assert!(
        info.restarts >= 4,
        "only {} restarts before failing",
        info.restarts
    );
    assert!(logs(&session, "crashy").matches("boom").count() >= 5);
    // A user start clears the failure record and runs it again.
    session
        .request(&Request::CapsuleStart {
            name: "crashy".into(),
        })
        .expect("start");
    wait_for(Duration::from_secs(5), "a new run", || {
        (logs(&session, "crashy").matches("boom").count() >= 6).then_some(())
    });
}

#[test]
fn stop_terminates_and_a_capsule_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = CapsuleDir::new("stop");
    let session = dir.session();
    let polite = run(&session, "polite", &[], &["sleep", "1000"]);
    let stubborn = run(
        &session,
        "stubborn",
        &[],
        &["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
    );
    wait_for(Duration::from_secs(5), "stubborn to trap TERM", || {
        logs(&session, "stubborn").contains("ready").then_some(())
    });
    session
        .request(&Request::CapsuleStop {
            name: "polite".into(),
        })
        .expect("stop");
    session
        .request(&Request::CapsuleStop {
            name: "stubborn".into(),
        })
        .expect("stop");
    wait_state(&session, "polite", "stopped");
    assert_eq!(
        capsule(&session, "stubborn").status.state(),
        "running",
        "SIGTERM must not kill it"
    );
    wait_state(&session, "stubborn", "stopped");
    for pid in [polite.pid, stubborn.pid] {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} left behind"
        );
    }
}

#[test]
fn a_graphical_capsule_owns_its_window() {
    require_program("weston-simple-shm");
    let dir = CapsuleDir::new("window");
    let session = dir.session();
    run(&session, "shm", &["display.window"], &["weston-simple-shm"]);
    let windows = session.wait_windows(1, Duration::from_secs(10));
    assert_eq!(windows[0].capsule.as_deref(), Some("shm"));
}

#[test]
fn a_capsule_without_display_window_has_no_wayland_connection() {
    require_program("wayland-info");
    let dir = CapsuleDir::new("nodisplay");
    let session = dir.session();
    run(
        &session,
        "blind",
        &[],
        &[
            "sh",
            "-c",
            "echo socket=${WAYLAND_SOCKET:-none}; wayland-info; echo rc=$?",
        ],
    );
    wait_state(&session, "blind", "exited");
    let log = logs(&session, "blind");
    assert!(log.contains("socket=none"), "{log}");
    assert!(
        !log.contains("rc=0"),
        "wayland-info connected without display.window: {log}"
    );
}

/// The interfaces wayland-info prints, as seen by a capsule with `caps`.
fn interfaces_seen(session: &Session, name: &str, caps: &[&str]) -> String {
    run(session, name, caps, &["wayland-info"]);
    wait_state(session, name, "exited");
    logs(session, name)
}

#[test]
fn a_capsule_sees_exactly_the_globals_its_capabilities_allow() {
    require_program("wayland-info");
    let dir = CapsuleDir::new("globals");
    let session = dir.session();
    let plain = interfaces_seen(&session, "plain", &["display.window"]);
    assert!(plain.contains("'xdg_wm_base'"), "{plain}");
    assert!(
        !plain.contains("zwlr_layer_shell_v1"),
        "layer shell visible without display.layer"
    );
    assert!(
        !plain.contains("zwlr_screencopy_manager_v1"),
        "screencopy visible without display.capture"
    );
    let panel = interfaces_seen(&session, "panel", &["display.window", "display.layer"]);
    assert!(panel.contains("zwlr_layer_shell_v1"), "{panel}");
    assert!(!panel.contains("zwlr_screencopy_manager_v1"));
}

#[test]
fn grant_announces_a_global_and_revoke_disconnects() {
    require_program("wayland-info");
    let dir = CapsuleDir::new("grant");
    let session = dir.session();
    // A long-lived client: weston-simple-shm, so that revoke has a connection to cut.
    run(&session, "live", &["display.window"], &["weston-simple-shm"]);
    session.wait_windows(1, Duration::from_secs(10));
    session
        .request(&Request::Grant {
            name: "live".into(),
            capability: "display.capture".into(),
        })
        .expect("grant");
    assert!(capsule(&session, "live")
        .capabilities
        .contains(exo_shell::Capability::DisplayCapture));
    session
        .request(&Request::Revoke {
            name: "live".into(),
            capability: "display.capture".into(),
        })
        .expect("revoke");
    // The capsule's connection is cut: its window goes away and the process exits.
    wait_for(Duration::from_secs(10), "the window to go", || {
        session.windows().is_empty().then_some(())
    });
    wait_for(Duration::from_secs(10), "the capsule to end", || {
        (capsule(&session, "live").status.state() != "running").then_some(())
    });
    assert!(session
        .request(&Request::Grant {
            name: "live".into(),
            capability: "display.teleport".into()
        })
        .is_err());
}

#[test]
fn capsules_reach_neither_the_public_socket_nor_the_control_socket() {
    require_program("python3");
    let dir = CapsuleDir::new("reach");
    let session = dir.session();
    let script = "import socket,sys\nfor p in sys.argv[1:]:\n    s=socket.socket(socket.AF_UNIX)\n    try:\n        s.connect(p); print('CONNECTED', p)\n    except OSError as e:\n        print('REFUSED', p, e.errno)\n";
    let public = session.socket_path();
    run(
        &session,
        "prober",
        &["display.window"],
        &[
            "python3",
            "-c",
            script,
            public.to_str().unwrap(),
            session.control.to_str().unwrap(),
        ],
    );
    wait_state(&session, "prober", "exited");
    let log = logs(&session, "prober");
    // Running as root, capsules get their own uid and cannot enter the 0700 runtime directory;
    // as an ordinary user they share the uid, and the control socket refuses them by SO_PEERCRED.
    if rustix::process::getuid().is_root() {
        assert!(
            !log.contains("CONNECTED"),
            "a capsule reached a compositor socket: {log}"
        );
    }
    let mut session = session;
    session.assert_alive();
    assert!(
        log.contains("REFUSED") || log.contains("CONNECTED"),
        "prober did not run: {log}"
    );
}

#[test]
fn super_return_starts_the_terminal_capsule() {
    require_program("foot");
    let dir = CapsuleDir::new("superreturn");
    dir.add(
        "terminal",
        "[capsule]\nname = \"terminal\"\nversion = \"1\"\nexec = [\"foot\"]\n\n[permissions]\nrequired = [\"display.window\"]\n",
    );
    let session = dir.session();
    assert_eq!(capsule(&session, "terminal").status, CapsuleStatus::Stopped);
    session.key("super+return");
    let windows = session.wait_windows(1, Duration::from_secs(15));
    assert_eq!(windows[0].capsule.as_deref(), Some("terminal"));
    // A second press does not start a second one.
    session.key("super+return");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        capsules(&session)
            .iter()
            .filter(|c| c.status.state() == "running")
            .count(),
        1
    );
}

/// Whether process `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn capsules_die_with_the_compositor_and_the_next_one_sweeps_their_children() {
    let dir = CapsuleDir::new("orphans");
    dir.add(
        "orphans",
        r#"[capsule]
name = "orphans"
version = "1"
exec = ["sh", "-c", "sleep 600 & echo child=$!; exec sleep 601"]
autostart = true
restart = "never"
"#,
    );
    let session = dir.session();
    let info = wait_state(&session, "orphans", "running");
    let main = info.pid.expect("pid of the running capsule");
    let child: u32 = wait_for(Duration::from_secs(10), "the child's pid in the log", || {
        logs(&session, "orphans")
            .lines()
            .find_map(|l| l.strip_prefix("child=")?.trim().parse().ok())
    });
    assert!(!gone(main) && !gone(child), "both run before the compositor dies");

    // SAFETY: kill(2) on the compositor this test started.
    assert_eq!(
        unsafe { libc::kill(session.pid() as libc::pid_t, libc::SIGKILL) },
        0
    );
    wait_for(
        Duration::from_secs(5),
        "the capsule to die with the compositor",
        || gone(main).then_some(()),
    );
    assert!(
        !gone(child),
        "the capsule's own child lives on in its cgroup until swept"
    );
    drop(session);

    // The next compositor starts the capsule again and first kills what the dead one left.
    let session = dir.session();
    let again = wait_state(&session, "orphans", "running");
    assert_ne!(again.pid, Some(main));
    wait_for(Duration::from_secs(5), "the orphaned child to be killed", || {
        gone(child).then_some(())
    });
}
