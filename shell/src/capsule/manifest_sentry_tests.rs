//! Tests for the `[sentry]` table: every key, its bounds, and located errors.

use std::path::Path;

use super::super::{parse_manifest, Manifest, ManifestError};
use crate::sentry::{ActionKind, AnomalyKind, Thresholds};

const PATH: &str = "/etc/exosphere/capsules/term/Capsule.toml";

/// A minimal manifest (5 lines) followed by `sentry`, which starts on line 6.
fn parse(sentry: &str) -> Result<Manifest, ManifestError> {
    let text = format!("[capsule]\nname = \"term\"\nversion = \"1\"\nexec = [\"foot\"]\n\n{sentry}");
    parse_manifest(&text, Path::new(PATH), 2)
}

/// `sentry` (top-level keys, so on line 1) followed by a minimal manifest.
fn parse_first(sentry: &str) -> Result<Manifest, ManifestError> {
    let text = format!("{sentry}[capsule]\nname = \"term\"\nversion = \"1\"\nexec = [\"foot\"]\n");
    parse_manifest(&text, Path::new(PATH), 2)
}

/// The error for `sentry`, checked to be located at `line:column`.
fn error_at(sentry: &str, line: usize, column: usize) -> String {
    let err = parse(sentry).expect_err("should be rejected").to_string();
    let prefix = format!("{PATH}:{line}:{column}: ");
    assert!(err.starts_with(&prefix), "{err:?} should start with {prefix:?}");
    err[prefix.len()..].to_string()
}

const KEYS: &str = "crash_loop_exits, crash_loop_secs, memory_percent, cpu_percent, cpu_secs, \
    unresponsive_secs, refused_count, refused_secs, refused_quarantine, throttle_cpu, actions";

#[test]
fn absent_or_empty_means_the_defaults() {
    assert_eq!(parse("").unwrap().sentry, Thresholds::default());
    assert_eq!(parse("[sentry]\n").unwrap().sentry, Thresholds::default());
    assert_eq!(parse("[sentry.actions]\n").unwrap().sentry, Thresholds::default());
}

#[test]
fn every_key_parses() {
    let text = r#"[sentry]
crash_loop_exits = 4
crash_loop_secs = 120
memory_percent = 80
cpu_percent = 75
cpu_secs = 30
unresponsive_secs = 10
refused_count = 3
refused_secs = 30
refused_quarantine = 0
throttle_cpu = "150%"

[sentry.actions]
crash_loop = "quarantine"
oom_kill = "restart"
memory_high = "kill"
cpu_saturation = "notify"
unresponsive = "freeze"
refused_capability = "quarantine"
window_flood = "throttle"
"#;
    let t = parse(text).unwrap().sentry;
    assert_eq!((t.crash_loop_exits, t.crash_loop_secs), (4, 120));
    assert_eq!((t.memory_percent, t.cpu_percent, t.cpu_secs), (80, 75, 30));
    assert_eq!(t.unresponsive_secs, 10);
    assert_eq!(
        (t.refused_count, t.refused_secs, t.refused_quarantine),
        (3, 30, 0)
    );
    assert_eq!(t.throttle_cpu_percent, 150);
    let a = t.actions;
    assert_eq!(a.action(AnomalyKind::CrashLoop), ActionKind::Quarantine);
    assert_eq!(a.action(AnomalyKind::OomKill), ActionKind::Restart);
    assert_eq!(a.action(AnomalyKind::MemoryHigh), ActionKind::Kill);
    assert_eq!(a.action(AnomalyKind::CpuSaturation), ActionKind::Notify);
    assert_eq!(a.action(AnomalyKind::Unresponsive), ActionKind::Freeze);
    assert_eq!(a.action(AnomalyKind::RefusedCapability), ActionKind::Quarantine);
    assert_eq!(a.action(AnomalyKind::WindowFlood), ActionKind::Throttle);
}

#[test]
fn unset_keys_keep_their_defaults_and_inline_tables_work() {
    let text = "sentry = { memory_percent = 70, actions = { cpu_saturation = \"kill\" } }\n";
    let t = parse_first(text).unwrap().sentry;
    let mut expected = Thresholds {
        memory_percent: 70,
        ..Thresholds::default()
    };
    expected.actions.cpu_saturation = ActionKind::Kill;
    assert_eq!(t, expected);
}

#[test]
fn integers_are_bounded_and_typed() {
    let cases = [
        ("crash_loop_exits", "0", "an integer from 1 to 1000"),
        ("crash_loop_exits", "1001", "an integer from 1 to 1000"),
        ("crash_loop_secs", "86401", "an integer from 1 to 86400"),
        ("memory_percent", "0", "an integer from 1 to 100"),
        ("memory_percent", "101", "an integer from 1 to 100"),
        ("cpu_percent", "-5", "an integer from 1 to 100"),
        ("cpu_secs", "3601", "an integer from 1 to 3600"),
        ("unresponsive_secs", "0", "an integer from 1 to 600"),
        ("refused_count", "0", "an integer from 1 to 86400"),
        ("refused_secs", "99999999999", "an integer from 1 to 86400"),
        ("refused_quarantine", "-1", "an integer from 0 to 86400"),
    ];
    for (key, value, what) in cases {
        let line = format!("[sentry]\n{key} = {value}\n");
        let column = key.len() + 4;
        assert_eq!(
            error_at(&line, 7, column),
            format!("sentry.{key}: expected {what}, found {value}")
        );
    }
    let msg = error_at("[sentry]\nmemory_percent = \"90%\"\n", 7, 18);
    assert_eq!(
        msg,
        "sentry.memory_percent: expected an integer from 1 to 100, found a string"
    );
    let msg = error_at("[sentry]\ncpu_secs = 1.5\n", 7, 12);
    assert_eq!(
        msg,
        "sentry.cpu_secs: expected an integer from 1 to 3600, found a float"
    );
}

#[test]
fn throttle_cpu_is_a_percentage_bounded_by_the_cpus() {
    for bad in ["0%", "201%", "50", "half"] {
        let msg = error_at(&format!("[sentry]\nthrottle_cpu = \"{bad}\"\n"), 7, 16);
        assert_eq!(
            msg,
            format!(
                "sentry.throttle_cpu: expected a percentage like \"50%\" from 1% to 200% (100% per CPU; 2 CPUs), found \"{bad}\""
            )
        );
    }
    assert!(error_at("[sentry]\nthrottle_cpu = 50\n", 7, 16).ends_with("found an integer"));
}

#[test]
fn unknown_keys_suggest_the_one_meant() {
    let msg = error_at("[sentry]\nmemory_pct = 80\n", 7, 1);
    assert_eq!(
        msg,
        format!("sentry.memory_pct: unknown key, did you mean memory_percent? (expected one of {KEYS})")
    );
    let msg = error_at("[sentry]\ncrash_loop_count = 2\n", 7, 1);
    assert!(
        msg.starts_with("sentry.crash_loop_count: unknown key, did you mean crash_loop_exits?"),
        "{msg}"
    );
    let msg = error_at("[sentry]\nthrottle = \"50%\"\n", 7, 1);
    assert!(
        msg.starts_with("sentry.throttle: unknown key, did you mean throttle_cpu?"),
        "{msg}"
    );
    let msg = error_at("[sentry]\nbanana = 1\n", 7, 1);
    assert_eq!(
        msg,
        format!("sentry.banana: unknown key (expected one of {KEYS})")
    );
    let msg = error_at("[sentry.thresholds]\n", 6, 9);
    assert!(
        msg.starts_with("sentry.thresholds: unknown key (expected one of"),
        "{msg}"
    );
    let err = parse_first("sentry = 3\n").unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{PATH}:1:10: sentry: expected a table, found an integer")
    );
}

#[test]
fn actions_are_checked() {
    let msg = error_at("[sentry.actions]\ncpu_saturaton = \"notify\"\n", 7, 1);
    assert_eq!(
        msg,
        "sentry.actions.cpu_saturaton: unknown key, did you mean cpu_saturation? (expected one of \
         crash_loop, oom_kill, memory_high, cpu_saturation, unresponsive, refused_capability, window_flood)"
    );
    let msg = error_at("[sentry.actions]\ncpu_saturation = \"throtle\"\n", 7, 18);
    assert_eq!(
        msg,
        "sentry.actions.cpu_saturation: expected one of \"notify\", \"restart\", \"throttle\", \"freeze\", \
         \"kill\", \"quarantine\", found \"throtle\" (did you mean \"throttle\"?)"
    );
    let msg = error_at("[sentry.actions]\nmemory_high = \"stop\"\n", 7, 15);
    assert!(
        msg.ends_with("found \"stop\""),
        "people's actions are not policies: {msg}"
    );
    let msg = error_at("[sentry.actions]\ncrash_loop = \"throttle\"\n", 7, 14);
    assert_eq!(
        msg,
        "sentry.actions.crash_loop: expected one of \"notify\", \"kill\", \"quarantine\" (a crash-looping \
         capsule is between restarts: there is nothing to restart, throttle or freeze), found \"throttle\""
    );
    let msg = error_at("[sentry.actions]\noom_kill = 1\n", 7, 12);
    assert!(
        msg.starts_with("sentry.actions.oom_kill: expected one of \"notify\","),
        "{msg}"
    );
    assert!(msg.ends_with("found an integer"), "{msg}");
    let msg = error_at("[sentry]\nactions = \"notify\"\n", 7, 11);
    assert_eq!(
        msg,
        "sentry.actions: expected a table like { cpu_saturation = \"throttle\" }, found a string"
    );
}

#[test]
fn quarantine_must_come_after_the_first_report() {
    let msg = error_at("[sentry]\nrefused_count = 10\nrefused_quarantine = 10\n", 8, 22);
    assert_eq!(
        msg,
        "sentry.refused_quarantine: expected 0 (never) or more than refused_count (10), found 10"
    );
    let msg = error_at("[sentry]\nrefused_count = 30\n", 7, 17);
    assert_eq!(
        msg,
        "sentry.refused_count: 30 is not less than refused_quarantine (25 by default); raise \
         refused_quarantine, or set it to 0 to never quarantine"
    );
    let t = parse("[sentry]\nrefused_quarantine = 0\nrefused_count = 100\n")
        .unwrap()
        .sentry;
    assert_eq!((t.refused_count, t.refused_quarantine), (100, 0));
    let t = parse("[sentry]\nrefused_count = 30\nrefused_quarantine = 31\n")
        .unwrap()
        .sentry;
    assert_eq!((t.refused_count, t.refused_quarantine), (30, 31));
}

#[test]
fn the_documented_example_parses() {
    let doc = include_str!("../../../docs/sentry.md");
    let example = doc
        .split("## Example\n\n```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/sentry.md has an example");
    let path = Path::new("/etc/exosphere/capsules/builder/Capsule.toml");
    let m = parse_manifest(example, path, 4).unwrap_or_else(|e| panic!("{e}"));
    let t = m.sentry;
    assert_eq!((t.memory_percent, t.cpu_secs, t.refused_quarantine), (80, 60, 0));
    assert_eq!(t.actions.action(AnomalyKind::CpuSaturation), ActionKind::Notify);
    assert_eq!(t.actions.action(AnomalyKind::MemoryHigh), ActionKind::Restart);
    assert_eq!(t.crash_loop_exits, Thresholds::default().crash_loop_exits);
}
