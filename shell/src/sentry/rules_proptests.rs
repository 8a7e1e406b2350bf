//! Property tests for `rules`: no anomaly without the inputs that justify it.

use proptest::prelude::*;

use super::tests::*;
use super::*;

/// An input for the property tests: an event or a sample, some time after the previous one.
#[derive(Debug, Clone)]
enum Input {
    Exit(i32),
    Start,
    Refused,
    Memory(u64),
    Cpu(f64),
}

fn input() -> impl Strategy<Value = (u64, Input)> {
    let kind = prop_oneof![
        (0..3i32).prop_map(Input::Exit),
        Just(Input::Start),
        Just(Input::Refused),
        (0..=120u64).prop_map(Input::Memory),
        (0.0..200.0f64).prop_map(Input::Cpu),
        (85.0..100.0f64).prop_map(Input::Cpu),
        (85.0..100.0f64).prop_map(Input::Cpu),
    ];
    // Mostly a second or so apart (runs and loops build up), sometimes a long pause.
    let dt = prop_oneof![8 => 0..3_000u64, 1 => 3_000..90_000u64];
    (dt, kind)
}

proptest! {
    /// Every finding is justified by the inputs: enough abnormal exits or refusals within the
    /// window, a sample over the memory threshold, a CPU run as long as the window.
    #[test]
    fn no_anomaly_without_the_inputs_that_justify_it(inputs in prop::collection::vec(input(), 0..200)) {
        let mut r = rules();
        let t0 = Thresholds::default();
        let (mut now, mut exits, mut refusals) = (0u64, Vec::new(), Vec::new());
        // The oracle's CPU run: consecutive samples at or above 90%, at most 5 s apart.
        let (mut last_sample, mut cpu_since) = (None::<u64>, None::<u64>);
        let within = |times: &[u64], now: u64, secs: u32| {
            times.iter().filter(|&&t| now - t <= u64::from(secs) * S).count() as u32
        };
        for (dt, input) in inputs {
            now += dt;
            let mut cpu_sample = |cpu: f64| {
                if last_sample.is_some_and(|last| now - last > 5 * S) {
                    cpu_since = None;
                }
                last_sample = Some(now);
                cpu_since = if cpu >= 90.0 { cpu_since.or(Some(now)) } else { None };
            };
            let found = match input {
                Input::Exit(code) => {
                    if code != 0 {
                        exits.push(now);
                    }
                    r.event("demo", &exit(code), now)
                }
                Input::Start => {
                    (last_sample, cpu_since) = (None, None);
                    r.event("demo", &started(), now)
                }
                Input::Refused => {
                    refusals.push(now);
                    r.event("demo", &refused(), now)
                }
                Input::Memory(mib) => {
                    cpu_sample(0.0);
                    let found = r.sample(&sample(now, mib * MIB, 0.0));
                    prop_assert!(found.iter().all(|f| f.anomaly != AnomalyKind::MemoryHigh || mib >= 90));
                    found
                }
                Input::Cpu(cpu) => {
                    cpu_sample(cpu);
                    r.sample(&sample(now, 0, cpu))
                }
            };
            for f in found {
                match f.anomaly {
                    AnomalyKind::CrashLoop => prop_assert!(within(&exits, now, t0.crash_loop_secs) >= t0.crash_loop_exits),
                    AnomalyKind::RefusedCapability => prop_assert!(within(&refusals, now, t0.refused_secs) >= t0.refused_count),
                    AnomalyKind::CpuSaturation => prop_assert!(now - cpu_since.unwrap() >= u64::from(t0.cpu_secs) * S),
                    AnomalyKind::MemoryHigh => {}
                    other => prop_assert!(false, "{other:?} without its input"),
                }
                if f.action == ActionKind::Quarantine {
                    prop_assert!(within(&refusals, now, t0.refused_secs) >= t0.refused_quarantine);
                } else {
                    prop_assert_eq!(f.action, t0.actions.action(f.anomaly));
                }
            }
        }
    }

    /// Memory high is reported at most once per crossing: between two reports there is a
    /// sample below the re-arm level (85%).
    #[test]
    fn memory_high_is_once_per_crossing(levels in prop::collection::vec(0..=120u64, 1..100)) {
        let mut r = rules();
        let mut rearmed = true;
        for (i, mib) in levels.into_iter().enumerate() {
            let found = r.sample(&sample(i as u64 * S, mib * MIB, 0.0));
            let reported = !found.is_empty();
            prop_assert_eq!(reported, rearmed && mib >= 90, "{} MiB", mib);
            if reported { rearmed = false; }
            if mib < 85 { rearmed = true; }
        }
    }
}
