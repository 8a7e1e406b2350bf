//! Tests for `rules` on samples: memory high, CPU saturation, and when samples are wanted.

use super::tests::*;
use super::*;
use crate::sentry::watcher::SUSPICION_MS;

#[test]
fn memory_high_fires_at_its_share_of_the_limit_with_hysteresis() {
    let mut r = rules();
    assert!(
        samples(&mut r, 0, 5, 89 * MIB, 0.0).is_empty(),
        "89% is below 90%"
    );
    let found = r.sample(&sample(10 * S, 90 * MIB, 0.0));
    assert_eq!(anomalies(&found), [AnomalyKind::MemoryHigh]);
    assert_eq!(
        found[0].evidence,
        "memory 90 MiB is 90% of its 100 MiB limit (threshold 90%)"
    );
    assert!(
        samples(&mut r, 11 * S, 5, 99 * MIB, 0.0).is_empty(),
        "still high: no duplicate"
    );
    // Dipping to 86% is within the 5-point hysteresis: the same condition.
    assert!(r.sample(&sample(20 * S, 86 * MIB, 0.0)).is_empty());
    assert!(r.sample(&sample(21 * S, 95 * MIB, 0.0)).is_empty());
    // Below 85% re-arms it.
    assert!(r.sample(&sample(22 * S, 84 * MIB, 0.0)).is_empty());
    assert_eq!(
        anomalies(&r.sample(&sample(23 * S, 91 * MIB, 0.0))),
        [AnomalyKind::MemoryHigh]
    );
}

#[test]
fn memory_high_uses_the_samples_limit_and_needs_one() {
    let mut r = Rules::new();
    assert!(
        samples(&mut r, 0, 3, u64::MAX / 2, 0.0).is_empty(),
        "no limit, no rule"
    );
    let mut s = sample(10 * S, 3 * MIB, 0.0);
    s.memory_limit_bytes = Some(4 * MIB);
    assert!(r.sample(&s).is_empty(), "75%");
    let custom = Thresholds {
        memory_percent: 75,
        ..Thresholds::default()
    };
    r.configure("demo", custom, Resources::default());
    s.time_ms += S;
    assert_eq!(anomalies(&r.sample(&s)), [AnomalyKind::MemoryHigh]);
}

#[test]
fn cpu_saturation_needs_every_sample_high_for_the_whole_window() {
    let mut r = rules();
    assert!(samples(&mut r, 0, 9, 0, 95.0).is_empty(), "9 s is not 10 s");
    let found = r.sample(&sample(10 * S, 0, 99.0));
    assert_eq!(anomalies(&found), [AnomalyKind::CpuSaturation]);
    assert_eq!(
        (found[0].action, found[0].severity),
        (ActionKind::Throttle, Severity::Warning)
    );
    assert_eq!(
        found[0].evidence,
        "CPU at or above 90% (90% of one CPU) in every sample for 10 s (average 95%)"
    );
    assert!(
        samples(&mut r, 11 * S, 30, 0, 100.0).is_empty(),
        "still saturated: no duplicate"
    );

    // One sample below the threshold breaks the run; so does a gap in sampling.
    let mut r = rules();
    assert!(samples(&mut r, 0, 6, 0, 100.0).is_empty());
    assert!(r.sample(&sample(7 * S, 0, 89.9)).is_empty());
    assert!(samples(&mut r, 8 * S, 9, 0, 100.0).is_empty());
    let mut r = rules();
    assert!(samples(&mut r, 0, 6, 0, 100.0).is_empty());
    assert!(
        samples(&mut r, 20 * S, 9, 0, 100.0).is_empty(),
        "a 14 s gap starts a new run"
    );
    assert_eq!(
        anomalies(&r.sample(&sample(30 * S, 0, 100.0))),
        [AnomalyKind::CpuSaturation]
    );
    // NaN is no evidence of anything.
    let mut r = rules();
    assert!(samples(&mut r, 0, 20, 0, f64::NAN).is_empty());
}

#[test]
fn the_cpu_threshold_is_a_share_of_the_capsules_allowance() {
    let limited = |cpu_max| Resources {
        cpu_max_percent: Some(cpu_max),
        ..Resources::default()
    };
    let mut r = Rules::new();
    r.configure("demo", Thresholds::default(), limited(400));
    assert!(
        samples(&mut r, 0, 20, 0, 100.0).is_empty(),
        "one busy thread of four CPUs"
    );
    assert_eq!(
        anomalies(&samples(&mut r, 30 * S, 10, 0, 370.0)),
        [AnomalyKind::CpuSaturation]
    );
    let mut r = Rules::new();
    r.configure("demo", Thresholds::default(), limited(50));
    let found = samples(&mut r, 0, 10, 0, 48.0);
    assert_eq!(anomalies(&found), [AnomalyKind::CpuSaturation]);
    assert!(
        found[0]
            .evidence
            .contains("at or above 45% (90% of its cpu_max of 50%)"),
        "{}",
        found[0].evidence
    );
}

#[test]
fn samples_are_wanted_only_under_suspicion() {
    let mut r = rules();
    assert!(!r.wants_samples("demo"), "not running");
    assert!(!r.wants_samples("nobody"));
    r.event("demo", &started(), 0);
    assert!(r.wants_samples("demo"), "its first 30 s");
    assert_eq!(r.wanting_samples().collect::<Vec<_>>(), ["demo"]);
    r.sample(&sample(SUSPICION_MS, 10 * MIB, 1.0));
    assert!(!r.wants_samples("demo"), "a quiet capsule is left alone");
    assert_eq!(r.wanting_samples().count(), 0);

    r.sample(&sample(40 * S, 10 * MIB, 99.0));
    assert!(r.wants_samples("demo"), "a CPU run is building up");
    samples(&mut r, 41 * S, 10, 10 * MIB, 99.0);
    assert!(!r.wants_samples("demo"), "reported: no need to keep watching");
    r.sample(&sample(52 * S, 82 * MIB, 1.0));
    assert!(r.wants_samples("demo"), "memory near its threshold");
    r.sample(&sample(53 * S, 50 * MIB, 1.0));
    assert!(!r.wants_samples("demo"));

    r.event("demo", &EventKind::Unresponsive { window: "w".into() }, 60 * S);
    assert!(r.wants_samples("demo"), "hung: is it spinning?");
    r.event("demo", &exit(1), 61 * S);
    assert!(!r.wants_samples("demo"), "nothing to sample");
}
