use super::*;
use exo_shell::sentry::event::{AnomalyKind, Severity};

fn row(json: &str) -> CapsuleRow {
    serde_json::from_str(json).expect("capsule row")
}

fn event(seq: u64, time_ms: u64, capsule: &str, kind: EventKind) -> Event {
    Event {
        seq,
        time_ms,
        capsule: Some(capsule.into()),
        severity: Severity::Warning,
        kind,
    }
}

fn window(id: u64, workspace: u8, focused: bool, capsule: Option<&str>) -> WindowInfo {
    WindowInfo {
        id,
        title: format!("w{id}"),
        app_id: String::new(),
        x: 0,
        y: 0,
        width: 10,
        height: 10,
        workspace,
        focused,
        maximized: false,
        fullscreen: false,
        minimized: false,
        capsule: capsule.map(String::from),
        output: "HEADLESS-1".into(),
    }
}

const TERMINAL: &str = r##"{"name":"terminal","status":{"state":"running","pid":1234,"since_ms":5021},"pid":1234,"uptime_s":192,"restarts":0,"capabilities":["display.window","net.connect"],"confinement":"uid 60001, no network","color":"#4a90d9","source":"/etc/x/Capsule.toml"}"##;

#[test]
fn a_v1_capsules_entry_reads_without_quarantined_and_a_v2_one_with_it() {
    let v1 = row(TERMINAL);
    assert_eq!(v1.name, "terminal");
    assert!(!v1.quarantined);
    assert!(v1.is_running());
    assert_eq!(v1.rgb(), [0x4a, 0x90, 0xd9]);
    assert_eq!(v1.state_text(), "running");
    let v2 = row(&TERMINAL.replace("\"restarts\"", "\"quarantined\":true,\"future\":1,\"restarts\""));
    assert!(v2.quarantined);
    assert_eq!(v2.state_text(), "running, quarantined");
}

#[test]
fn states_read_as_words() {
    let exited = row(r#"{"name":"a","status":{"state":"exited","code":3,"signal":null}}"#);
    assert_eq!(exited.state_text(), "exited (3)");
    assert!(!exited.is_active());
    let killed = row(r#"{"name":"a","status":{"state":"exited","code":null,"signal":9}}"#);
    assert_eq!(killed.state_text(), "killed (signal 9)");
    let backoff = row(r#"{"name":"a","status":{"state":"backoff","restart_in_ms":400}}"#);
    assert_eq!(backoff.state_text(), "backoff (0.4 s)");
    assert!(backoff.is_active());
    let failed = row(r#"{"name":"a","status":{"state":"failed","reason":"too many"}}"#);
    assert_eq!(failed.state_detail(), Some("too many"));
    assert_eq!(failed.rgb(), [0x60, 0x60, 0x60], "no colour: grey");
}

#[test]
fn uptime_counts_on_locally_and_only_while_running() {
    let mut model = Model::new(0);
    let t0 = Instant::now();
    let stopped = row(r#"{"name":"b","status":{"state":"stopped"},"uptime_s":null}"#);
    model.set_capsules(vec![row(TERMINAL), stopped], t0);
    let later = t0 + Duration::from_secs(65);
    assert_eq!(model.uptime_s(&model.capsules[0], later), Some(192 + 65));
    assert_eq!(model.uptime_s(&model.capsules[1], later), None);
    assert_eq!(format_uptime(192 + 65), "4m17s");
}

#[test]
fn a_capsule_list_that_only_aged_is_no_change() {
    let mut model = Model::new(0);
    let now = Instant::now();
    assert!(model.set_capsules(vec![row(TERMINAL)], now));
    let older = row(&TERMINAL.replace("192", "200"));
    assert!(
        !model.set_capsules(vec![older], now),
        "uptime alone changes nothing"
    );
    let stopped = row(&TERMINAL.replace(
        r#"{"state":"running","pid":1234,"since_ms":5021}"#,
        r#"{"state":"stopped"}"#,
    ));
    assert!(model.set_capsules(vec![stopped], now));
}

#[test]
fn the_focused_window_sets_the_current_workspace_and_panel_changes_are_noticed() {
    let mut model = Model::new(0);
    assert_eq!(model.workspaces(), vec![1, 2, 3, 4]);
    assert!(model.set_windows(vec![
        window(1, 1, false, None),
        window(2, 6, true, Some("terminal"))
    ]));
    assert_eq!(model.current_workspace, 6);
    assert_eq!(model.workspaces(), vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        model.focused_window().and_then(|w| w.capsule.as_deref()),
        Some("terminal")
    );
    // The same windows again (positions may move): nothing the panel shows changed.
    let mut moved = window(1, 1, false, None);
    moved.x = 40;
    assert!(!model.set_windows(vec![moved, window(2, 6, true, Some("terminal"))]));
    // No focused window: the workspace stays.
    assert!(model.set_windows(vec![]));
    assert_eq!(model.current_workspace, 6);
}

#[test]
fn anomalies_after_start_count_as_alerts_and_repeats_are_dropped() {
    let mut model = Model::new(1_000);
    let anomaly = || EventKind::Anomaly {
        anomaly: AnomalyKind::CrashLoop,
        evidence: "5 exits in 10 s".into(),
    };
    let effect = model.push_events([
        event(1, 500, "a", anomaly()),
        event(2, 1_500, "a", anomaly()),
        event(
            3,
            1_600,
            "a",
            EventKind::CapsuleExited {
                code: Some(1),
                signal: None,
            },
        ),
    ]);
    assert_eq!(
        model.alerts, 1,
        "the anomaly before start is history, not an alert"
    );
    assert!(effect.refresh_capsules);
    assert_eq!(effect.dashboard, None);
    // History overlapping what was already pushed.
    let effect = model.push_events([event(2, 1_500, "a", anomaly())]);
    assert_eq!(model.alerts, 1);
    assert_eq!(model.events.len(), 3);
    assert!(!effect.refresh_capsules);
    assert_eq!(model.recent_anomalies("a"), 2);
    let effect = model.push_events([event(4, 2_000, "a", EventKind::Dashboard { visible: false })]);
    assert_eq!(effect.dashboard, Some(false));
    assert!(!effect.refresh_capsules);
}

#[test]
fn the_feed_and_sparklines_are_bounded() {
    let mut model = Model::new(0);
    model.push_events(
        (1..=FEED_LEN as u64 + 10).map(|seq| event(seq, seq, "a", EventKind::CapsuleStarted { pid: 1 })),
    );
    assert_eq!(model.events.len(), FEED_LEN);
    assert_eq!(model.events.front().map(|e| e.seq), Some(11));
    for i in 0..SERIES_LEN as u64 + 5 {
        model.push_sample(Sample {
            time_ms: i * 1000,
            capsule: "a".into(),
            memory_bytes: 2 * 1024 * 1024,
            memory_limit_bytes: None,
            cpu_percent: 12.5,
            pids: 3,
            memory_pressure: None,
        });
    }
    let series = &model.samples["a"];
    assert_eq!(series.memory.len(), SERIES_LEN);
    assert_eq!(series.memory.back(), Some(&[(SERIES_LEN + 4) as f64, 2.0]));
    assert_eq!(series.cpu.back().map(|p| p[1]), Some(12.5));
    // A capsule that disappears loses its sparklines.
    model.set_capsules(vec![row(TERMINAL)], Instant::now());
    assert!(model.samples.is_empty());
}

#[test]
fn events_describe_themselves_for_people() {
    assert_eq!(
        describe(&EventKind::CapsuleExited {
            code: Some(1),
            signal: None
        }),
        "exited with code 1"
    );
    assert_eq!(
        describe(&EventKind::Anomaly {
            anomaly: AnomalyKind::CrashLoop,
            evidence: "5 exits".into()
        }),
        "anomaly crash loop: 5 exits"
    );
    assert_eq!(describe(&EventKind::OomKill), "killed by the OOM killer");
}

#[test]
fn sizes_colours_and_badges() {
    assert_eq!(format_bytes(512), "512 B");
    assert_eq!(format_bytes(1536), "1.5 KiB");
    assert_eq!(format_bytes(3 * 1024 * 1024), "3.0 MiB");
    assert_eq!(format_uptime(5), "5s");
    assert_eq!(format_uptime(3725), "1h02m");
    assert_eq!(parse_hex_color("#ff0080"), Some([255, 0, 128]));
    assert_eq!(parse_hex_color("ff0080"), None);
    assert_eq!(parse_hex_color("#ff00"), None);
    assert_eq!(badge(Capability::NetConnect), "net");
}
