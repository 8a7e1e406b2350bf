//! Tests for `restart`: backoff, resets, the failure limit and each policy.

use proptest::prelude::*;

use super::*;

const FAIL: ExitKind = ExitKind::Failure(ExitFailure::Code(1));

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn delay(decision: RestartDecision) -> Duration {
    match decision {
        RestartDecision::Restart { after } => after,
        other => panic!("expected a restart, got {other:?}"),
    }
}

#[test]
fn backoff_doubles_from_200ms_to_30s() {
    let expected = [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000];
    for (attempt, want) in expected.into_iter().enumerate() {
        assert_eq!(backoff(attempt as u32), ms(want), "attempt {attempt}");
    }
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
}

#[test]
fn quick_exits_follow_the_backoff_sequence() {
    // `always` with clean exits: never counted as failures, so the sequence runs to the cap.
    let mut tracker = RestartTracker::new();
    let mut now = Duration::ZERO;
    let mut delays = Vec::new();
    for _ in 0..12 {
        now += ms(50);
        let after = delay(tracker.on_exit(RestartPolicy::Always, ExitKind::Success, ms(50), now));
        delays.push(after.as_millis());
        now += after;
    }
    assert_eq!(
        delays,
        [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000, 30000]
    );
    assert_eq!(tracker.restarts(), 12);
}

#[test]
fn failures_spread_out_follow_the_backoff_sequence_too() {
    // Each run lasts 59 s: too short to reset the backoff, too long for 5 failures in 60 s.
    let mut tracker = RestartTracker::new();
    let mut now = Duration::ZERO;
    let mut delays = Vec::new();
    for _ in 0..10 {
        now += secs(59);
        let after = delay(tracker.on_exit(RestartPolicy::OnFailure, FAIL, secs(59), now));
        delays.push(after.as_millis());
        now += after;
    }
    assert_eq!(
        delays,
        [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000]
    );
}

#[test]
fn a_minute_of_uptime_resets_the_backoff() {
    let mut tracker = RestartTracker::new();
    let mut now = secs(1);
    for want in [200, 400, 800] {
        assert_eq!(
            delay(tracker.on_exit(RestartPolicy::Always, FAIL, ms(10), now)),
            ms(want)
        );
        now += secs(30);
    }
    now += secs(60);
    assert_eq!(
        delay(tracker.on_exit(RestartPolicy::Always, FAIL, secs(60), now)),
        ms(200)
    );
    now += secs(1);
    assert_eq!(
        delay(tracker.on_exit(RestartPolicy::Always, FAIL, secs(1), now)),
        ms(400)
    );
}

#[test]
fn five_failures_within_a_minute_fail() {
    let mut tracker = RestartTracker::new();
    let mut now = secs(100);
    for _ in 0..4 {
        now += secs(2);
        delay(tracker.on_exit(RestartPolicy::OnFailure, FAIL, secs(1), now));
    }
    now += secs(2);
    let decision = tracker.on_exit(
        RestartPolicy::OnFailure,
        ExitKind::Failure(ExitFailure::Signal(11)),
        secs(1),
        now,
    );
    let RestartDecision::Fail { reason } = decision else {
        panic!("expected Fail, got {decision:?}");
    };
    assert_eq!(reason, "failed 5 times within 60 s (last: signal 11 (SIGSEGV))");
    assert!(tracker.is_failed());
    assert_eq!(tracker.failure_reason(), Some(reason.as_str()));
    assert_eq!(tracker.restarts(), 4);
    // Stays failed until the user starts it again.
    now += secs(600);
    assert!(matches!(
        tracker.on_exit(RestartPolicy::Always, ExitKind::Success, secs(600), now),
        RestartDecision::Fail { .. }
    ));
    tracker.reset();
    assert!(!tracker.is_failed());
    assert_eq!(tracker.restarts(), 0);
    now += secs(1);
    assert_eq!(
        delay(tracker.on_exit(RestartPolicy::OnFailure, FAIL, secs(1), now)),
        ms(200)
    );
}

#[test]
fn five_failures_spread_over_more_than_a_minute_do_not_fail() {
    let mut tracker = RestartTracker::new();
    for i in 0..20u64 {
        // One failure every 16 s: at most 4 in any 60 s window.
        let now = secs(16 * i);
        let decision = tracker.on_exit(RestartPolicy::Always, FAIL, secs(10), now);
        assert!(
            matches!(decision, RestartDecision::Restart { .. }),
            "{i}: {decision:?}"
        );
    }
}

#[test]
fn policies_decide_which_exits_restart() {
    let cases = [
        (RestartPolicy::Never, ExitKind::Success, false),
        (RestartPolicy::Never, FAIL, false),
        (RestartPolicy::OnFailure, ExitKind::Success, false),
        (RestartPolicy::OnFailure, FAIL, true),
        (
            RestartPolicy::OnFailure,
            ExitKind::Failure(ExitFailure::Signal(9)),
            true,
        ),
        (RestartPolicy::Always, ExitKind::Success, true),
        (RestartPolicy::Always, FAIL, true),
    ];
    for (policy, exit, restarts) in cases {
        let decision = RestartTracker::new().on_exit(policy, exit, secs(1), secs(5));
        let expected = if restarts {
            RestartDecision::Restart { after: ms(200) }
        } else {
            RestartDecision::Stop
        };
        assert_eq!(decision, expected, "{policy} after {exit}");
    }
}

#[test]
fn never_stops_even_after_many_failures() {
    let mut tracker = RestartTracker::new();
    for i in 0..10 {
        let decision = tracker.on_exit(RestartPolicy::Never, FAIL, ms(5), ms(10 * i));
        assert_eq!(decision, RestartDecision::Stop);
    }
    assert!(!tracker.is_failed());
}

#[test]
fn exit_kinds_from_wait_results() {
    assert_eq!(ExitKind::from_parts(Some(0), None), ExitKind::Success);
    assert_eq!(
        ExitKind::from_parts(Some(3), None),
        ExitKind::Failure(ExitFailure::Code(3))
    );
    assert_eq!(
        ExitKind::from_parts(None, Some(15)),
        ExitKind::Failure(ExitFailure::Signal(15))
    );
    assert_eq!(
        ExitKind::from_parts(None, Some(15)).to_string(),
        "signal 15 (SIGTERM)"
    );
    assert_eq!(ExitKind::from_parts(Some(2), None).to_string(), "exit code 2");
    let status = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .status()
        .expect("sh runs");
    assert_eq!(ExitKind::from(status), ExitKind::Failure(ExitFailure::Code(7)));
}

#[test]
fn restart_policy_names() {
    for policy in RestartPolicy::ALL {
        assert_eq!(policy.as_str().parse::<RestartPolicy>().unwrap(), policy);
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(json, format!("\"{policy}\""));
    }
    assert_eq!(RestartPolicy::default(), RestartPolicy::Never);
    assert_eq!(
        "on_failure".parse::<RestartPolicy>().unwrap_err().to_string(),
        "unknown restart policy \"on_failure\"; expected one of \"never\", \"on-failure\", \"always\""
    );
}

fn exit_kind() -> impl Strategy<Value = ExitKind> {
    prop_oneof![
        Just(ExitKind::Success),
        (1i32..255).prop_map(|c| ExitKind::Failure(ExitFailure::Code(c))),
        (1i32..32).prop_map(|s| ExitKind::Failure(ExitFailure::Signal(s))),
    ]
}

fn policy() -> impl Strategy<Value = RestartPolicy> {
    prop_oneof![
        Just(RestartPolicy::Never),
        Just(RestartPolicy::OnFailure),
        Just(RestartPolicy::Always)
    ]
}

proptest! {
    /// Whatever happens: delays stay within 0.2..=30 s, never restarts nothing,
    /// and no 60 s window ever holds more than 5 failures that were restarted.
    #[test]
    fn decisions_stay_within_bounds(
        runs in prop::collection::vec((exit_kind(), 0u64..120_000), 1..60),
        policy in policy(),
    ) {
        let mut tracker = RestartTracker::new();
        let mut now = Duration::ZERO;
        let mut restarted_failures: Vec<Duration> = Vec::new();
        for (exit, uptime_ms) in runs {
            let uptime = ms(uptime_ms);
            now += uptime;
            match tracker.on_exit(policy, exit, uptime, now) {
                RestartDecision::Restart { after } => {
                    prop_assert!(policy != RestartPolicy::Never);
                    prop_assert!(policy == RestartPolicy::Always || !exit.is_success());
                    prop_assert!(after >= INITIAL_BACKOFF && after <= MAX_BACKOFF);
                    if uptime >= STABLE_UPTIME {
                        prop_assert_eq!(after, INITIAL_BACKOFF);
                    }
                    if !exit.is_success() {
                        restarted_failures.push(now);
                        let recent = restarted_failures
                            .iter()
                            .filter(|&&t| now - t <= FAILURE_WINDOW)
                            .count();
                        prop_assert!(recent < MAX_FAILURES);
                    }
                    now += after;
                }
                RestartDecision::Stop => {
                    prop_assert!(
                        policy == RestartPolicy::Never
                            || (policy == RestartPolicy::OnFailure && exit.is_success())
                    );
                }
                RestartDecision::Fail { .. } => {
                    prop_assert!(tracker.is_failed());
                    break;
                }
            }
        }
    }
}
