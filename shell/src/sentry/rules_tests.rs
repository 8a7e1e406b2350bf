//! Tests for `rules` on events: each rule fires at its threshold, not below it, and once per
//! condition. The helpers here serve `rules_sample_tests` and `rules_proptests` too.

use super::*;

pub(super) const S: u64 = 1000;
pub(super) const MIB: u64 = 1 << 20;

/// `demo` with a 100 MiB memory limit and no CPU limit.
pub(super) fn rules() -> Rules {
    let mut rules = Rules::new();
    let resources = Resources {
        memory_max: Some(100 * MIB),
        ..Resources::default()
    };
    rules.configure("demo", Thresholds::default(), resources);
    rules
}

pub(super) fn exit(code: i32) -> EventKind {
    EventKind::CapsuleExited {
        code: Some(code),
        signal: None,
    }
}

pub(super) fn started() -> EventKind {
    EventKind::CapsuleStarted { pid: 42 }
}

pub(super) fn refused() -> EventKind {
    EventKind::Refused {
        what: "zwlr_screencopy_manager_v1".into(),
        capability: "display.capture".into(),
    }
}

pub(super) fn sample(time_ms: u64, memory_bytes: u64, cpu_percent: f64) -> Sample {
    Sample {
        time_ms,
        capsule: "demo".into(),
        memory_bytes,
        memory_limit_bytes: None,
        cpu_percent,
        pids: 1,
        memory_pressure: None,
    }
}

pub(super) fn anomalies(findings: &[Finding]) -> Vec<AnomalyKind> {
    findings.iter().map(|f| f.anomaly).collect()
}

/// Feeds `kind` at each time, collecting the findings.
pub(super) fn feed(
    rules: &mut Rules,
    kind: &EventKind,
    times: impl IntoIterator<Item = u64>,
) -> Vec<Finding> {
    times
        .into_iter()
        .flat_map(|t| rules.event("demo", kind, t))
        .collect()
}

/// One sample a second from `from` for `secs` seconds (inclusive), all alike.
pub(super) fn samples(rules: &mut Rules, from: u64, secs: u64, memory: u64, cpu: f64) -> Vec<Finding> {
    (0..=secs)
        .flat_map(|i| rules.sample(&sample(from + i * S, memory, cpu)))
        .collect()
}

#[test]
fn crash_loop_needs_enough_abnormal_exits_within_the_window() {
    let mut r = rules();
    assert!(
        feed(&mut r, &exit(1), [0, 10 * S]).is_empty(),
        "two exits are not a loop"
    );
    let found = feed(&mut r, &exit(1), [20 * S]);
    assert_eq!(found.len(), 1);
    let f = &found[0];
    assert_eq!(
        (f.anomaly, f.severity, f.action),
        (AnomalyKind::CrashLoop, Severity::Critical, ActionKind::Notify)
    );
    assert_eq!(
        f.evidence,
        "3 abnormal exits in 20 s (threshold: 3 within 60 s; last: exit code 1)"
    );
    assert_eq!(f.capsule, "demo");

    // Spread wider than the window: never three within 60 s.
    let mut r = rules();
    assert!(feed(&mut r, &exit(1), [0, 31 * S, 62 * S, 93 * S, 124 * S]).is_empty());

    // Clean exits are not crashes; signals are.
    let mut r = rules();
    assert!(feed(&mut r, &exit(0), (0..10).map(|i| i * S)).is_empty());
    let killed = EventKind::CapsuleExited {
        code: None,
        signal: Some(11),
    };
    let found = feed(&mut r, &killed, [11 * S, 12 * S, 13 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::CrashLoop]);
    assert!(
        found[0].evidence.ends_with("last: signal 11 (SIGSEGV))"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn an_ongoing_crash_loop_is_reported_once_and_rearms_after_a_quiet_window() {
    let mut r = rules();
    let found = feed(&mut r, &exit(1), (0..20).map(|i| i * 5 * S));
    assert_eq!(found.len(), 1, "one loop, one anomaly: {found:?}");
    // 61 s without an abnormal exit ends it; the next loop is new.
    let found = feed(&mut r, &exit(1), [156 * S, 157 * S, 158 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::CrashLoop]);
}

#[test]
fn a_requested_stop_is_not_a_crash_in_either_order() {
    let stop = EventKind::CapsuleStopped { by: "user".into() };
    let mut r = rules();
    for i in 0..5 {
        let t = i * 4 * S;
        assert!(r.event("demo", &started(), t).is_empty());
        assert!(r.event("demo", &stop, t + S).is_empty());
        let sigterm = EventKind::CapsuleExited {
            code: None,
            signal: Some(15),
        };
        assert!(r.event("demo", &sigterm, t + 2 * S).is_empty(), "stop first");
        assert!(r.event("demo", &started(), t + 3 * S).is_empty());
        assert!(r.event("demo", &exit(143), t + 3 * S + 500).is_empty());
        assert!(
            r.event("demo", &stop, t + 3 * S + 500).is_empty(),
            "exit first, then stop"
        );
    }
}

#[test]
fn oom_kills_are_reported_once_per_burst() {
    let mut r = rules();
    let found = feed(&mut r, &EventKind::OomKill, [0, 2 * S, 9 * S, 15 * S]);
    assert_eq!(
        found.len(),
        1,
        "kills less than 10 s apart are one condition: {found:?}"
    );
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(
        found[0].evidence,
        "the kernel's OOM killer killed a process of it (memory limit 100 MiB)"
    );
    let found = feed(&mut r, &EventKind::OomKill, [26 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::OomKill]);
    assert!(
        found[0]
            .evidence
            .ends_with("; 3 more OOM kills since the last report"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn unresponsive_is_once_per_window_until_it_answers() {
    let mut r = rules();
    let hung = |w: &str| EventKind::Unresponsive { window: w.into() };
    let found = feed(&mut r, &hung("editor"), [0, 5 * S, 10 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::Unresponsive]);
    assert_eq!(found[0].severity, Severity::Notice);
    assert_eq!(
        found[0].evidence,
        "window \"editor\" did not answer a ping within 5 s"
    );
    assert_eq!(feed(&mut r, &hung("prefs"), [11 * S]).len(), 1, "another window");
    r.responsive("demo", "editor");
    assert_eq!(
        feed(&mut r, &hung("editor"), [20 * S]).len(),
        1,
        "answered, then hung again"
    );
    r.event("demo", &started(), 30 * S);
    assert_eq!(feed(&mut r, &hung("prefs"), [31 * S]).len(), 1, "a new run");
}

#[test]
fn refused_requests_notify_then_quarantine() {
    let mut r = rules();
    assert!(
        feed(&mut r, &refused(), (0..4).map(|i| i * S)).is_empty(),
        "4 of 5"
    );
    let found = feed(&mut r, &refused(), [4 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::RefusedCapability]);
    assert_eq!(
        (found[0].severity, found[0].action),
        (Severity::Warning, ActionKind::Notify)
    );
    assert_eq!(
        found[0].evidence,
        "5 refused requests within 60 s (last: zwlr_screencopy_manager_v1, which needs display.capture)"
    );
    let control = EventKind::ControlRefused {
        request: "capsule_stop".into(),
    };
    assert!(
        feed(&mut r, &control, (5..24).map(|i| i * S)).is_empty(),
        "24 of 25"
    );
    let found = feed(&mut r, &control, [24 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::RefusedCapability]);
    assert_eq!(
        (found[0].severity, found[0].action),
        (Severity::Critical, ActionKind::Quarantine)
    );
    assert!(
        found[0].evidence.contains("(last: control request capsule_stop)"),
        "{}",
        found[0].evidence
    );
    assert!(
        feed(&mut r, &refused(), (25..80).map(|i| i * S)).is_empty(),
        "no repeats"
    );
    // A quiet minute re-arms it.
    assert!(feed(&mut r, &refused(), (141..145).map(|i| i * S)).is_empty());
    assert_eq!(feed(&mut r, &refused(), [145 * S]).len(), 1);

    // Spread thinner than 5 a minute: nothing. With refused_quarantine = 0: never quarantined.
    let mut r = rules();
    assert!(feed(&mut r, &refused(), (0..100).map(|i| i * 16 * S)).is_empty());
    let lenient = Thresholds {
        refused_quarantine: 0,
        ..Thresholds::default()
    };
    r.configure("demo", lenient, Resources::default());
    let found = feed(&mut r, &refused(), (2000..2100).map(|i| i * S));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].action, ActionKind::Notify);
}

#[test]
fn floods_are_once_per_limit_per_run() {
    let mut r = rules();
    let flood = |what: &str| EventKind::Flood {
        what: what.into(),
        count: 32,
        limit: 32,
    };
    let found = feed(&mut r, &flood("windows"), [0, S, 2 * S]);
    assert_eq!(anomalies(&found), [AnomalyKind::WindowFlood]);
    assert_eq!(found[0].evidence, "hit its windows limit (32 of 32)");
    assert_eq!(feed(&mut r, &flood("surfaces"), [3 * S]).len(), 1);
    r.event("demo", &started(), 4 * S);
    assert_eq!(feed(&mut r, &flood("windows"), [5 * S]).len(), 1);
}

#[test]
fn findings_become_anomaly_and_action_events() {
    let mut r = rules();
    let cpu = samples(&mut r, 0, 10, 0, 100.0).remove(0);
    assert_eq!(
        cpu.anomaly_event(),
        EventKind::Anomaly {
            anomaly: AnomalyKind::CpuSaturation,
            evidence: cpu.evidence.clone()
        }
    );
    let Some(EventKind::Action { action, by, reason }) = cpu.action_event() else {
        panic!("throttle is an action")
    };
    assert_eq!((action, by.as_str()), (ActionKind::Throttle, "sentry"));
    assert_eq!(reason, format!("cpu_saturation: {}", cpu.evidence));
    assert!(cpu
        .to_string()
        .starts_with("demo: cpu_saturation (warning, throttle): CPU at"));
    let oom = r.event("demo", &EventKind::OomKill, 20 * S).remove(0);
    assert_eq!(oom.action_event(), None, "notify is the anomaly alone");
}

#[test]
fn events_feed_by_capsule_and_sentrys_own_are_ignored() {
    let mut r = Rules::new();
    let event = |capsule: Option<&str>, kind: EventKind, time_ms| Event {
        seq: 1,
        time_ms,
        capsule: capsule.map(str::to_string),
        severity: Severity::Warning,
        kind,
    };
    for t in 0..10 {
        assert!(
            r.observe(&event(None, exit(1), t * S)).is_empty(),
            "the session itself"
        );
        let anomaly = EventKind::Anomaly {
            anomaly: AnomalyKind::CrashLoop,
            evidence: "e".into(),
        };
        assert!(r.observe(&event(Some("x"), anomaly, t * S)).is_empty());
    }
    // An unconfigured capsule (`exoctl run`) gets the defaults.
    let found: Vec<_> = (0..3)
        .flat_map(|t| r.observe(&event(Some("run-1"), exit(2), t * S)))
        .collect();
    assert_eq!(anomalies(&found), [AnomalyKind::CrashLoop]);
    assert_eq!(r.thresholds("run-1"), Thresholds::default());
    r.forget("run-1");
    assert!(!r.wants_samples("run-1"));
}

#[test]
fn configured_policy_and_thresholds_apply_and_state_survives_a_reload() {
    let mut r = rules();
    let mut t = Thresholds {
        crash_loop_exits: 2,
        ..Thresholds::default()
    };
    t.actions.crash_loop = ActionKind::Quarantine;
    assert!(feed(&mut r, &exit(1), [0]).is_empty());
    r.configure("demo", t, Resources::default());
    let found = feed(&mut r, &exit(1), [S]);
    assert_eq!(found[0].action, ActionKind::Quarantine);
    assert_eq!(r.thresholds("demo"), t);
    assert_eq!(
        r.memory_threshold_bytes("demo"),
        None,
        "the reload dropped the limit"
    );
    assert_eq!(rules().memory_threshold_bytes("demo"), Some(90 * MIB));
}
