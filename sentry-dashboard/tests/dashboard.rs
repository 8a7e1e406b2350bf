//! The dashboard in a real session: a headless `nexquelium` with demo capsules and the real
//! `sentry-dashboard`, checked through screenshots (pixels and OCR with tesseract) and driven
//! with synthetic pointer input over the control socket, as a person would use it.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const AQUARIUM: &str = r##"[capsule]
name = "aquarium"
version = "0.1.0"
exec = ["sleep", "100000"]
autostart = true
restart = "never"
color = "#2a9d8f"

[permissions]
required = []
"##;

const DRIFTWOOD: &str = r#"[capsule]
name = "driftwood"
version = "0.1.0"
exec = ["sleep", "100000"]
autostart = false

[permissions]
required = []
"#;

const WAIT: Duration = Duration::from_secs(20);

fn demo_capsules() -> CapsuleDir {
    let dir = CapsuleDir::new();
    dir.add("aquarium", AQUARIUM);
    dir.add("driftwood", DRIFTWOOD);
    dir
}

/// Waits until the panel and the dashboard overlay are on screen.
fn wait_drawn(session: &Session) -> Image {
    wait_for(WAIT, "the panel and the dashboard on screen", || {
        let shot = session.screenshot();
        // The empty middle of the panel, and the dashboard's left margin below it.
        let panel = shot.count(PANEL_BG, 560, 2, 160, 24) == 160 * 24;
        let dashboard = shot.count(DASHBOARD_BG, 0, PANEL as u32 + 2, 12, 700) == 12 * 700;
        (panel && dashboard).then_some(shot)
    })
}

/// A session with the demo capsules (aquarium running) and the dashboard as a host client.
fn session_with_dashboard() -> (Session, u32, CapsuleDir) {
    let dir = demo_capsules();
    let mut session = Session::start(&dir);
    wait_for(WAIT, "aquarium running", || {
        (session.capsule_state("aquarium").as_deref() == Some("running")).then_some(())
    });
    let pid = session.start_dashboard();
    (session, pid, dir)
}

/// Where OCR read `word` in `area` (the first match).
fn find_word(shot: &Image, area: Area, word: &str) -> Option<Word> {
    shot.ocr_words(area).into_iter().find(|w| w.text.contains(word))
}

#[test]
fn the_panel_reserves_its_height_and_the_dashboard_lists_the_capsules() {
    require_program("foot");
    let (mut session, dashboard, _dir) = session_with_dashboard();
    let shot = wait_drawn(&session);
    let text = shot.ocr_text(Area::ALL);
    for word in ["sentry", "aquarium", "driftwood", "running", "stopped", "session"] {
        assert!(
            text.contains(word),
            "OCR of the dashboard lacks {word:?}:\n{text}"
        );
    }

    // A window mapped now is laid out below the panel: maximized, its title bar starts at the
    // panel's lower edge (content = panel + 24 px title + 2 px border, instead of 26).
    session.request(
        json!({"request": "run", "name": "term", "capabilities": ["display.window"], "argv": ["foot"]}),
    );
    wait_for(WAIT, "the terminal window", || {
        (!session.windows().is_empty()).then_some(())
    });
    session.request(json!({"request": "key", "combo": "super+m"}));
    let window = wait_for(WAIT, "the terminal maximized", || {
        session.windows().into_iter().find(|w| w["maximized"] == true)
    });
    let y = window["y"].as_i64().unwrap();
    assert!(
        y >= PANEL as i64 + 24,
        "a maximized window at y={y} overlaps the {PANEL}-pixel panel: {window}"
    );

    // The panel names the focused window's capsule (from `windows`, polled once a second).
    wait_for(WAIT, "the panel naming the terminal's capsule", || {
        session
            .screenshot()
            .ocr_text(Area::PANEL)
            .contains("[term]")
            .then_some(())
    });
    session.assert_alive();
    assert!(session.client_alive(dashboard), "the dashboard exited");
}

#[test]
fn stop_on_a_capsule_row_stops_that_capsule() {
    let (session, _dashboard, _dir) = session_with_dashboard();
    let shot = wait_drawn(&session);
    let words = shot.ocr_words(Area::TABLE);
    let row = words
        .iter()
        .find(|w| w.text.contains("aquarium"))
        .unwrap_or_else(|| panic!("no aquarium row in {words:?}"));
    let (_, row_y) = row.center();
    let stop = words
        .iter()
        .find(|w| w.text == "stop" && (w.center().1 - row_y).abs() < 10.0)
        .unwrap_or_else(|| panic!("no Stop button on the aquarium row (y {row_y}) in {words:?}"));
    let (x, y) = stop.center();
    session.pointer_click(x, y);
    wait_for(WAIT, "aquarium stopped", || {
        (session.capsule_state("aquarium").as_deref() == Some("stopped")).then_some(())
    });
    // Off the button again, so its hover highlight does not hide its label from OCR.
    session.request(json!({"request": "pointer_move", "x": 640.0, "y": 700.0}));
    // The row now offers Start instead.
    let mut last = Vec::new();
    let found = try_for(WAIT, || {
        last = session.screenshot().ocr_words(Area::TABLE);
        last.iter()
            .any(|w| w.text == "start" && (w.center().1 - row_y).abs() < 10.0)
            .then_some(())
    });
    let right: Vec<&Word> = last.iter().filter(|w| w.x > 900.0).collect();
    assert!(
        found.is_some(),
        "no Start button on the aquarium row (y {row_y}) in {right:?}"
    );
}

#[test]
fn super_space_opens_the_launcher_and_it_starts_a_capsule() {
    let (session, _dashboard, _dir) = session_with_dashboard();
    let shot = wait_drawn(&session);
    assert!(
        find_word(&shot, Area::PANEL, "launch").is_some(),
        "a Launch button on the panel"
    );
    // The secure launcher key: the compositor records a `launcher` event the dashboard follows.
    session.request(json!({"request": "key", "combo": "super+space"}));
    let (row_y, words) = wait_for(WAIT, "the launcher listing driftwood", || {
        let shot = session.screenshot();
        let words = shot.ocr_words(Area {
            x: 400,
            y: 60,
            w: 480,
            h: 440,
        });
        let row = words.iter().find(|w| w.text.contains("driftwood"))?;
        Some((row.center().1, words.clone()))
    });
    let start = words
        .iter()
        .find(|w| w.text == "start" && (w.center().1 - row_y).abs() < 10.0)
        .unwrap_or_else(|| panic!("no Start button for driftwood in {words:?}"));
    let (x, y) = start.center();
    session.pointer_click(x, y);
    wait_for(WAIT, "driftwood running", || {
        (session.capsule_state("driftwood").as_deref() == Some("running")).then_some(())
    });
}

#[test]
fn the_panel_button_hides_the_dashboard_and_an_idle_dashboard_uses_no_cpu() {
    let (mut session, dashboard, _dir) = session_with_dashboard();
    let shot = wait_drawn(&session);
    let button = find_word(&shot, Area::PANEL, "dashboard").expect("a Dashboard button on the panel");
    let (x, y) = button.center();
    session.pointer_click(x, y);
    wait_for(WAIT, "the desktop instead of the dashboard", || {
        let shot = session.screenshot();
        (shot.count(DESKTOP, 0, PANEL as u32 + 2, 12, 700) == 12 * 700).then_some(())
    });
    // Move the pointer off our surfaces and let everything settle, then measure.
    session.request(json!({"request": "pointer_move", "x": 640.0, "y": 500.0}));
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_time(dashboard);
    std::thread::sleep(Duration::from_secs(4));
    let used = cpu_time(dashboard) - before;
    let share = used.as_secs_f64() / 4.0 * 100.0;
    eprintln!("idle dashboard (panel only): {used:?} of CPU in 4 s = {share:.2} % of one CPU");
    assert!(share < 5.0, "the idle dashboard used {share:.2} % of a CPU");
    session.assert_alive();
    assert!(session.client_alive(dashboard), "the dashboard exited");
}

#[test]
fn the_dashboard_request_and_super_d_hide_and_show_it() {
    let (session, _dashboard, _dir) = session_with_dashboard();
    wait_drawn(&session);
    match session.raw(json!({"request": "dashboard", "action": "hide"})) {
        Err(e) if e.starts_with("unknown request") => {
            eprintln!("skipped: this compositor has no `dashboard` request yet ({e})");
            return;
        }
        Err(e) => panic!("dashboard hide failed: {e}"),
        Ok(reply) => assert_eq!(reply["visible"], false, "{reply}"),
    }
    let desktop = |session: &Session| {
        let shot = session.screenshot();
        shot.count(DESKTOP, 0, PANEL as u32 + 2, 12, 700) == 12 * 700
    };
    wait_for(WAIT, "the dashboard hidden", || desktop(&session).then_some(()));
    // Super+D is the compositor's secure key for the same toggle.
    session.request(json!({"request": "key", "combo": "super+d"}));
    wait_drawn(&session);
    session.request(json!({"request": "key", "combo": "super+d"}));
    wait_for(WAIT, "the dashboard hidden by Super+D", || {
        desktop(&session).then_some(())
    });
}

#[test]
fn it_runs_as_a_capsule_on_its_own_control_channel() {
    let dir = demo_capsules();
    let probe = Session::start(&dir);
    if probe.protocol() < 2 {
        eprintln!("skipped: the compositor speaks control protocol 1 (no capsule control channels yet)");
        return;
    }
    drop(probe);
    dir.add(
        "sentry-dashboard",
        &format!(
            r#"[capsule]
name = "sentry-dashboard"
version = "0.1.0"
exec = [{:?}]
autostart = true
restart = "on-failure"

[permissions]
required = ["display.window", "display.layer", "sentry.observe", "sentry.control"]
"#,
            dashboard_bin().display().to_string()
        ),
    );
    let session = Session::start(&dir);
    let shot = wait_drawn(&session);
    let text = shot.ocr_text(Area::TABLE);
    for word in ["aquarium", "driftwood", "sentry-dashboard"] {
        assert!(
            text.contains(word),
            "OCR of the capsule's dashboard lacks {word:?}:\n{text}"
        );
    }
    assert_eq!(
        session.capsule_state("sentry-dashboard").as_deref(),
        Some("running")
    );

    // The dashboard crashes: the session goes on, and the supervisor starts it again.
    let pid_of = |session: &Session| {
        let list = session.request(json!({"request": "capsules"}));
        list.as_array()
            .and_then(|l| l.iter().find(|c| c["name"] == "sentry-dashboard"))
            .and_then(|c| c["pid"].as_u64())
    };
    let crashed = pid_of(&session).expect("the dashboard's pid");
    // SAFETY: kill(2) on the dashboard capsule this test started.
    assert_eq!(unsafe { libc::kill(crashed as libc::pid_t, libc::SIGKILL) }, 0);
    wait_for(WAIT, "the dashboard restarted by its policy", || {
        pid_of(&session).filter(|pid| *pid != crashed)
    });
    let mut session = session;
    session.assert_alive();
    let shot = wait_drawn(&session);
    assert!(
        find_word(&shot, Area::PANEL, "launch").is_some(),
        "the restarted dashboard draws its panel again"
    );
}

/// OCR preprocessings for the event feed: the red channel alone, in which critical (red)
/// text stands out from the card as well as white, grey and yellow text does.
const FEED_OCR: [&[&str]; 2] = [
    &["-channel", "R", "-separate", "-negate", "-scale", "300%"],
    &[
        "-channel",
        "R",
        "-separate",
        "-negate",
        "-scale",
        "300%",
        "-threshold",
        "50%",
    ],
];

/// The dashboard's event feed: below its "Events" heading (found by OCR in the left margin),
/// as wide as the time, severity, capsule and the start of the description, and as high as
/// the newest 16 rows (OCR is slow on a busy machine).
fn feed_area(shot: &Image) -> Option<Area> {
    let margin = Area {
        x: 0,
        y: PANEL as u32,
        w: 160,
        h: HEIGHT - PANEL as u32,
    };
    let heading = find_word(shot, margin, "events")?;
    let y = (heading.y + heading.h) as u32 + 2;
    Some(Area {
        x: 0,
        y,
        w: 640,
        h: (HEIGHT - y).min(320),
    })
}

/// Runs the real `exoctl` (built next to the dashboard) against the session's control socket.
fn exoctl(session: &Session, args: &[&str]) -> String {
    let path = dashboard_bin().with_file_name("exoctl");
    assert!(
        path.is_file(),
        "{} does not exist: build it with `cargo build -p exo-shell --bins`",
        path.display()
    );
    let out = std::process::Command::new(&path)
        .arg("--socket")
        .arg(&session.control)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run exoctl");
    assert!(
        out.status.success(),
        "exoctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_crash_looping_capsule_fails_and_its_crash_loop_anomaly_is_in_the_feed() {
    let dir = demo_capsules();
    dir.add(
        "pelican",
        r#"[capsule]
name = "pelican"
version = "0.1.0"
exec = ["sh", "-c", "exit 3"]
autostart = true
restart = "on-failure"

[permissions]
required = []
"#,
    );
    let mut session = Session::start(&dir);
    let dashboard = session.start_dashboard();
    let shot = wait_drawn(&session);
    let feed = feed_area(&shot).expect("an \"Events\" heading on the dashboard");

    // Five abnormal exits in a row: the supervisor gives up on it.
    wait_for(WAIT, "pelican failed", || {
        (session.capsule_state("pelican").as_deref() == Some("failed")).then_some(())
    });

    // Sentry saw the loop: a critical crash_loop anomaly about pelican in `exoctl events`.
    let out = exoctl(
        &session,
        &["events", "--json", "--capsule", "pelican", "--limit", "10000"],
    );
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event ({e}): {l}")))
        .collect();
    let anomaly = events
        .iter()
        .find(|e| e["kind"] == "anomaly" && e["anomaly"] == "crash_loop")
        .unwrap_or_else(|| panic!("no crash_loop anomaly in exoctl events:\n{out}"));
    assert_eq!(anomaly["capsule"], "pelican", "{anomaly}");
    assert_eq!(anomaly["severity"], "critical", "{anomaly}");
    assert!(
        events.iter().any(|e| e["kind"] == "capsule_failed"),
        "no capsule_failed event in exoctl events:\n{out}"
    );

    // The feed shows it: one row reading "pelican" and "anomaly crash loop: …".
    let mut last = Vec::new();
    // Each OCR of the feed takes seconds (tens on a loaded machine): allow a few.
    let found = try_for(Duration::from_secs(60), || {
        last = session.screenshot().ocr_words_using(feed, &FEED_OCR);
        let on_row = |word: &str, y: f64| {
            last.iter()
                .any(|w| w.text.contains(word) && (w.center().1 - y).abs() < 10.0)
        };
        last.iter()
            .filter(|w| w.text.contains("crash"))
            .find(|w| {
                let y = w.center().1;
                on_row("anomaly", y) && on_row("loop", y) && on_row("pelican", y)
            })
            .cloned()
    });
    let texts: Vec<(&str, i64)> = last
        .iter()
        .map(|w| (w.text.as_str(), w.center().1 as i64))
        .collect();
    assert!(
        found.is_some(),
        "no \"pelican … anomaly crash loop\" row in the event feed; OCR read (word, y): {texts:?}"
    );
    session.assert_alive();
    assert!(session.client_alive(dashboard), "the dashboard exited");
}
