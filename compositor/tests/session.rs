//! The compositor process as a user sees it: config errors at start, config reload on SIGHUP,
//! an idle session that does not wake up, and the socket names it announces.

mod common;

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use common::{wait_for, Session, BACKGROUND};

fn write_config(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("nexq-session-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn bad_config_at_start_exits_nonzero_naming_file_line_and_key() {
    let dir = scratch("bad");
    let path = write_config(&dir, "[keyboard]\nlayout = \"us\"\nrepeat_rate = \"fast\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_nexquelium"))
        .args(["--backend", "headless", "--config"])
        .arg(&path)
        .env("XDG_RUNTIME_DIR", &dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "nexquelium started with a bad config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!("{}:3:", path.display());
    assert!(
        stderr.contains(&expected),
        "stderr does not name {expected}: {stderr}"
    );
    assert!(
        stderr.contains("keyboard.repeat_rate"),
        "stderr does not name the key: {stderr}"
    );
}

#[test]
fn missing_explicit_config_is_an_error_naming_it() {
    let dir = scratch("missing");
    let path = dir.join("nope.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_nexquelium"))
        .args(["--backend", "headless", "--config"])
        .arg(&path)
        .env("XDG_RUNTIME_DIR", &dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}

#[test]
fn sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_bad_file() {
    let dir = scratch("reload");
    let path = write_config(&dir, "[appearance]\nbackground = \"#102030\"\n");
    let mut session = Session::start(&["--config", path.to_str().unwrap()]);
    let corner = |s: &Session| {
        let shot = s.screenshot();
        let p = shot.pixel(shot.width - 5, shot.height - 5);
        [p[0], p[1], p[2]]
    };
    assert_eq!(corner(&session), [0x10, 0x20, 0x30]);
    let hup = |s: &Session| {
        // SAFETY: plain kill(2) on our own child process.
        assert_eq!(unsafe { libc::kill(s.pid() as i32, libc::SIGHUP) }, 0);
    };

    std::fs::write(&path, "[appearance]\nbackground = \"not a colour\"\n").unwrap();
    hup(&session);
    std::thread::sleep(Duration::from_millis(300));
    session.assert_alive();
    assert_eq!(
        corner(&session),
        [0x10, 0x20, 0x30],
        "a bad file must keep the running config"
    );

    std::fs::write(&path, "[appearance]\nbackground = \"#405060\"\n").unwrap();
    hup(&session);
    wait_for(Duration::from_secs(5), "the new background", || {
        (corner(&session) == [0x40, 0x50, 0x60]).then_some(())
    });
}

/// Context switches of the compositor's main thread: each wake-up of the event loop is one.
fn wakeups(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .filter(|l| l.starts_with("voluntary_ctxt_switches") || l.starts_with("nonvoluntary_ctxt_switches"))
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn an_idle_session_does_not_wake_up() {
    let session = Session::start(&[]);
    // Let start-up work (first frame, its frame timer) finish.
    session.screenshot();
    std::thread::sleep(Duration::from_millis(500));
    let before = wakeups(session.pid());
    std::thread::sleep(Duration::from_secs(2));
    let after = wakeups(session.pid());
    // A 60 Hz timer would add ~120; allow a couple for the scheduler.
    assert!(
        after - before <= 3,
        "idle compositor woke up {} times in 2 s",
        after - before
    );
}

#[test]
fn default_background_fills_an_empty_output_of_the_requested_size() {
    let session = Session::start(&["--size", "800x600"]);
    let shot = session.screenshot();
    assert_eq!((shot.width, shot.height), (800, 600));
    // Everything but the cursor in the top-left corner is the background.
    assert_eq!(shot.count_not(BACKGROUND, 40, 40, 760, 560), 0);
}

#[test]
fn writing_the_config_file_reloads_it_without_a_signal() {
    let dir = scratch("inotify");
    let path = write_config(&dir, "[appearance]\nbackground = \"#102030\"\n");
    let mut session = Session::start(&["--config", path.to_str().unwrap()]);
    let corner = |s: &Session| {
        let shot = s.screenshot();
        let p = shot.pixel(shot.width - 5, shot.height - 5);
        [p[0], p[1], p[2]]
    };
    assert_eq!(corner(&session), [0x10, 0x20, 0x30]);
    std::fs::write(&path, "[appearance]\nbackground = 7\n").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    session.assert_alive();
    assert_eq!(
        corner(&session),
        [0x10, 0x20, 0x30],
        "a bad file must keep the running config"
    );
    // Editors often write a new file and rename it over the old one.
    let tmp = dir.join("config.toml.new");
    std::fs::write(&tmp, "[appearance]\nbackground = \"#405060\"\n").unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    wait_for(Duration::from_secs(5), "the new background", || {
        (corner(&session) == [0x40, 0x50, 0x60]).then_some(())
    });
}

#[test]
fn session_quit_stops_the_capsules_and_exits_cleanly_and_reboot_needs_exo_init() {
    use exo_shell::control::{Request, RunInfo, SessionAction};
    let mut session = Session::start(&[]);
    let run: RunInfo = serde_json::from_value(
        session
            .request(&Request::Run {
                name: Some("lingers".into()),
                capabilities: vec![],
                argv: vec!["sleep".into(), "600".into()],
            })
            .expect("run"),
    )
    .expect("run reply");
    let refused = session
        .request(&Request::Session {
            action: SessionAction::Reboot,
        })
        .expect_err("reboot outside exo-init");
    assert!(refused.to_string().contains("exo-init"), "{refused}");
    session.assert_alive();

    session
        .request(&Request::Session {
            action: SessionAction::Quit,
        })
        .expect("quit");
    let status = session.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "the compositor exited with {status}");
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", run.pid)).unwrap_or_default();
    assert!(
        stat.is_empty()
            || stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
        "the capsule still runs after the session ended: {stat}"
    );
}

#[test]
fn sigterm_ends_the_session_and_capsules_get_sigterm_first() {
    use exo_shell::control::{Request, RunInfo};
    let dir = scratch("term");
    let marker = dir.join("got-term");
    // Capsules run under their own uid: let it write the marker.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut session = Session::start(&[]);
    // The capsule answers SIGTERM by leaving a marker: proof it was asked, not killed.
    let script = format!(
        "trap 'echo term > {}; exit 0' TERM; while :; do sleep 0.1; done",
        marker.display()
    );
    let run: RunInfo = serde_json::from_value(
        session
            .request(&Request::Run {
                name: Some("polite".into()),
                capabilities: vec![],
                argv: vec!["sh".into(), "-c".into(), script],
            })
            .expect("run"),
    )
    .expect("run reply");
    // A program that does not reset its signal mask (shells do) must not inherit the
    // compositor's, which blocks the signals its event loop takes: SIGTERM would never arrive.
    let plain: RunInfo = serde_json::from_value(
        session
            .request(&Request::Run {
                name: Some("plain".into()),
                capabilities: vec![],
                argv: vec!["sleep".into(), "600".into()],
            })
            .expect("run"),
    )
    .expect("run reply");
    std::thread::sleep(Duration::from_millis(300));
    let status = std::fs::read_to_string(format!("/proc/{}/status", plain.pid)).unwrap();
    let blocked = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .map(str::trim)
        .unwrap();
    assert!(
        blocked.chars().all(|c| c == '0'),
        "a capsule starts with signals blocked: SigBlk {blocked}"
    );
    // SAFETY: plain kill(2) on our own child process.
    assert_eq!(unsafe { libc::kill(session.pid() as i32, libc::SIGTERM) }, 0);
    let status = session.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "the compositor exited with {status} on SIGTERM");
    assert!(
        marker.exists(),
        "capsule {} did not get SIGTERM before the compositor exited",
        run.pid
    );
}

#[test]
fn placement_from_the_config_centres_new_windows_and_follows_a_reload() {
    let dir = scratch("placement");
    let path = write_config(&dir, "[layout]\nplacement = \"centre\"\n");
    let mut session = Session::start(&["--config", path.to_str().unwrap()]);
    session.spawn("weston-simple-shm", &[]);
    let first = session.wait_windows(1, Duration::from_secs(10));
    session.spawn("weston-simple-shm", &[]);
    let both = session.wait_windows(2, Duration::from_secs(10));
    let at = |w: &exo_shell::control::WindowInfo| (w.x, w.y, w.width, w.height);
    assert_eq!(at(&both[0]), at(&both[1]), "centred over each other: {both:?}");
    assert_eq!(at(&both[0]), at(&first[0]));

    // The new background shows when the reload has happened.
    std::fs::write(
        &path,
        "[layout]\nplacement = \"cascade\"\n[appearance]\nbackground = \"#405060\"\n",
    )
    .unwrap();
    // SAFETY: plain kill(2) on our own child process.
    assert_eq!(unsafe { libc::kill(session.pid() as i32, libc::SIGHUP) }, 0);
    wait_for(Duration::from_secs(5), "the reload", || {
        let shot = session.screenshot();
        let p = shot.pixel(shot.width - 5, shot.height - 5);
        ([p[0], p[1], p[2]] == [0x40, 0x50, 0x60]).then_some(())
    });
    session.spawn("weston-simple-shm", &[]);
    let all = session.wait_windows(3, Duration::from_secs(10));
    let (x, y, ..) = at(&first[0]);
    assert!(
        all.iter().any(|w| (w.x, w.y) == (x + 32, y + 32)),
        "the third window cascades from the top one: {all:?}"
    );
}
