//! One capsule's rule state: what the rules remember between inputs (recent abnormal exits,
//! refused requests, the current CPU run, which conditions are already reported), so each
//! ongoing condition is reported once. Times are the inputs' own milliseconds; nothing here
//! reads a clock.

use std::collections::{BTreeSet, VecDeque};

use super::event::{AnomalyKind, EventKind, Sample, Severity};
use super::rules::Finding;
use super::thresholds::{anomaly_severity, Thresholds};
use crate::capsule::{ExitKind, Resources};
use crate::sentry::ActionKind;

/// How long a capsule stays under suspicion (and sampled) after it starts or after an
/// unresponsive, flood or OOM event.
pub const SUSPICION_MS: u64 = 30_000;
/// Samples further apart than this do not make one CPU run (sampling stopped in between).
pub const MAX_SAMPLE_GAP_MS: u64 = 5_000;
/// OOM kills closer than this to the previous one are the same condition (one anomaly).
pub const OOM_COALESCE_MS: u64 = 10_000;
/// Memory high re-arms below `memory_percent` minus this many points (at most half of it).
pub const MEMORY_REARM_POINTS: u32 = 5;
/// Memory within this many points below `memory_percent` (at most half of it) keeps the
/// capsule sampled.
pub const MEMORY_NEAR_POINTS: u32 = 10;

fn secs_ms(secs: u32) -> u64 {
    u64::from(secs) * 1000
}

/// `percent` lowered by `points`, but never by more than half of it.
fn below(percent: u32, points: u32) -> u32 {
    percent - points.min(percent / 2)
}

/// Drops the times more than `window` ms before `now`.
fn prune(times: &mut VecDeque<u64>, now: u64, window: u64) {
    while times.front().is_some_and(|&t| now.saturating_sub(t) > window) {
        times.pop_front();
    }
}

/// `470 MiB`, `1.5 GiB`, `64 KiB`.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else if bytes >= MIB {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// Consecutive samples at or above the CPU threshold.
#[derive(Debug, Clone, Copy)]
struct CpuRun {
    since: u64,
    sum: f64,
    samples: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Watcher {
    name: String,
    pub(crate) thresholds: Thresholds,
    /// The CPU it may use, in % of one CPU: `resources.cpu_max`, else one CPU.
    cpu_allowance: u32,
    /// `resources.memory_max`, for samples that carry no limit.
    memory_max: Option<u64>,
    /// The latest time of any input.
    now: u64,
    running: bool,
    /// A stop was requested: the exit it causes is not a crash.
    stopping: bool,
    /// The abnormal exit counted by the previous input, withdrawn if a stop follows it.
    retractable_exit: Option<u64>,
    exits: VecDeque<u64>,
    crash_loop: bool,
    last_oom: Option<u64>,
    folded_ooms: u32,
    memory_high: bool,
    memory_near: bool,
    last_sample: Option<u64>,
    cpu_run: Option<CpuRun>,
    cpu_saturated: bool,
    unresponsive: BTreeSet<String>,
    refused: VecDeque<u64>,
    /// 0: re-armed; 1: reported; 2: escalated to quarantine.
    refused_level: u8,
    flooded: BTreeSet<String>,
    suspect_until: u64,
}

impl Watcher {
    pub(crate) fn new(name: &str, thresholds: Thresholds, resources: Resources) -> Watcher {
        Watcher {
            name: name.to_string(),
            thresholds,
            cpu_allowance: resources.cpu_max_percent.unwrap_or(100),
            memory_max: resources.memory_max,
            now: 0,
            running: false,
            stopping: false,
            retractable_exit: None,
            exits: VecDeque::new(),
            crash_loop: false,
            last_oom: None,
            folded_ooms: 0,
            memory_high: false,
            memory_near: false,
            last_sample: None,
            cpu_run: None,
            cpu_saturated: false,
            unresponsive: BTreeSet::new(),
            refused: VecDeque::new(),
            refused_level: 0,
            flooded: BTreeSet::new(),
            suspect_until: 0,
        }
    }

    /// New thresholds and limits (a reloaded manifest); what was seen so far is kept.
    pub(crate) fn configure(&mut self, thresholds: Thresholds, resources: Resources) {
        self.thresholds = thresholds;
        self.cpu_allowance = resources.cpu_max_percent.unwrap_or(100);
        self.memory_max = resources.memory_max;
    }

    pub(crate) fn wants_samples(&self) -> bool {
        let cpu_building = self.cpu_run.is_some() && !self.cpu_saturated;
        self.running && (self.suspect_until > self.now || cpu_building || self.memory_near)
    }

    /// The memory use that would be `memory_high`, when it has a limit.
    pub(crate) fn memory_threshold_bytes(&self) -> Option<u64> {
        let limit = u128::from(self.memory_max?);
        let bytes = (limit * u128::from(self.thresholds.memory_percent)).div_ceil(100);
        u64::try_from(bytes).ok()
    }

    pub(crate) fn responsive(&mut self, window: &str) {
        self.unresponsive.remove(window);
    }

    fn finding(&self, anomaly: AnomalyKind, evidence: String) -> Finding {
        Finding {
            capsule: self.name.clone(),
            anomaly,
            severity: anomaly_severity(anomaly),
            evidence,
            action: self.thresholds.actions.action(anomaly),
        }
    }

    fn suspect(&mut self, t: u64) {
        self.suspect_until = self.suspect_until.max(t.saturating_add(SUSPICION_MS));
    }

    pub(crate) fn event(&mut self, kind: &EventKind, t: u64) -> Vec<Finding> {
        self.now = self.now.max(t);
        let retractable = self.retractable_exit.take();
        let mut found = Vec::new();
        match kind {
            EventKind::CapsuleStarted { .. } => self.started(t),
            EventKind::CapsuleExited { code, signal } => {
                self.running = false;
                if !std::mem::take(&mut self.stopping) {
                    self.exited(ExitKind::from_parts(*code, *signal), t, &mut found);
                }
            }
            EventKind::CapsuleStopped { .. } => {
                self.running = false;
                match retractable {
                    Some(at) => {
                        // The exit just counted was this stop's doing, not a crash.
                        if let Some(i) = self.exits.iter().rposition(|&e| e == at) {
                            self.exits.remove(i);
                        }
                    }
                    None => self.stopping = true,
                }
            }
            EventKind::CapsuleFailed { .. } => self.running = false,
            EventKind::OomKill => self.oom(t, &mut found),
            EventKind::Unresponsive { window } => {
                self.suspect(t);
                if self.unresponsive.insert(window.clone()) {
                    let secs = self.thresholds.unresponsive_secs;
                    let evidence = format!("window \"{window}\" did not answer a ping within {secs} s");
                    found.push(self.finding(AnomalyKind::Unresponsive, evidence));
                }
            }
            EventKind::Refused { what, capability } => {
                self.refused(&format!("{what}, which needs {capability}"), t, &mut found)
            }
            EventKind::ControlRefused { request } => {
                self.refused(&format!("control request {request}"), t, &mut found)
            }
            EventKind::Flood { what, count, limit } => {
                self.suspect(t);
                if self.flooded.insert(what.clone()) {
                    let evidence = format!("hit its {what} limit ({count} of {limit})");
                    found.push(self.finding(AnomalyKind::WindowFlood, evidence));
                }
            }
            // Restarts are counted through the exits; protocol errors disconnect the client
            // (and surface as exits or floods if they repeat); the rest are Sentry's outputs.
            EventKind::CapsuleRestarting { .. }
            | EventKind::ProtocolError { .. }
            | EventKind::Anomaly { .. }
            | EventKind::Action { .. }
            | EventKind::Dashboard { .. }
            | EventKind::Launcher => {}
        }
        found
    }

    /// A new run: conditions of the previous process end with it; exits and refusals count on.
    fn started(&mut self, t: u64) {
        self.running = true;
        self.stopping = false;
        self.memory_high = false;
        self.memory_near = false;
        self.last_sample = None;
        self.cpu_run = None;
        self.cpu_saturated = false;
        self.unresponsive.clear();
        self.flooded.clear();
        self.suspect(t);
    }

    fn exited(&mut self, exit: ExitKind, t: u64, found: &mut Vec<Finding>) {
        let ExitKind::Failure(failure) = exit else {
            return;
        };
        let (needed, secs) = (self.thresholds.crash_loop_exits, self.thresholds.crash_loop_secs);
        prune(&mut self.exits, t, secs_ms(secs));
        if self.exits.is_empty() {
            // A whole window without an abnormal exit: the loop, if any, is over.
            self.crash_loop = false;
        }
        self.exits.push_back(t);
        // Only the latest `needed` matter; a capsule cannot grow this without bound.
        while self.exits.len() > needed as usize {
            self.exits.pop_front();
        }
        self.retractable_exit = Some(t);
        if !self.crash_loop && self.exits.len() >= needed as usize {
            self.crash_loop = true;
            let n = self.exits.len();
            let span = t.saturating_sub(self.exits.front().copied().unwrap_or(t)) / 1000;
            let evidence = format!(
                "{n} abnormal exits in {span} s (threshold: {needed} within {secs} s; last: {failure})"
            );
            found.push(self.finding(AnomalyKind::CrashLoop, evidence));
        }
    }

    fn oom(&mut self, t: u64, found: &mut Vec<Finding>) {
        self.suspect(t);
        let ongoing = self
            .last_oom
            .is_some_and(|last| t.saturating_sub(last) < OOM_COALESCE_MS);
        self.last_oom = Some(t);
        if ongoing {
            self.folded_ooms += 1;
            return;
        }
        let mut evidence = "the kernel's OOM killer killed a process of it".to_string();
        if let Some(limit) = self.memory_max {
            evidence += &format!(" (memory limit {})", human_bytes(limit));
        }
        match std::mem::take(&mut self.folded_ooms) {
            0 => {}
            n => evidence += &format!("; {n} more OOM kills since the last report"),
        }
        found.push(self.finding(AnomalyKind::OomKill, evidence));
    }

    fn refused(&mut self, what: &str, t: u64, found: &mut Vec<Finding>) {
        let Thresholds {
            refused_count: count,
            refused_secs: secs,
            refused_quarantine: quarantine,
            ..
        } = self.thresholds;
        prune(&mut self.refused, t, secs_ms(secs));
        if self.refused.is_empty() {
            self.refused_level = 0;
        }
        self.refused.push_back(t);
        while self.refused.len() > count.max(quarantine) as usize {
            self.refused.pop_front();
        }
        let n = self.refused.len();
        if self.refused_level < 1 && n >= count as usize {
            self.refused_level = 1;
            let evidence = format!("{n} refused requests within {secs} s (last: {what})");
            found.push(self.finding(AnomalyKind::RefusedCapability, evidence));
        }
        if quarantine > 0 && self.refused_level < 2 && n >= quarantine as usize {
            self.refused_level = 2;
            let evidence =
                format!("{n} refused requests within {secs} s (last: {what}); quarantined until released");
            found.push(Finding {
                severity: Severity::Critical,
                action: ActionKind::Quarantine,
                ..self.finding(AnomalyKind::RefusedCapability, evidence)
            });
        }
    }

    pub(crate) fn sample(&mut self, sample: &Sample) -> Vec<Finding> {
        let t = sample.time_ms;
        self.now = self.now.max(t);
        self.retractable_exit = None;
        let mut found = Vec::new();
        self.memory(sample, &mut found);
        self.cpu(sample, &mut found);
        found
    }

    fn memory(&mut self, sample: &Sample, found: &mut Vec<Finding>) {
        let Some(limit) = sample.memory_limit_bytes.or(self.memory_max).filter(|&l| l > 0) else {
            self.memory_near = false;
            return;
        };
        let percent = self.thresholds.memory_percent;
        // Compare used × 100 with limit × percent: exact, no rounding at the threshold.
        let used = u128::from(sample.memory_bytes) * 100;
        let at = |p: u32| u128::from(limit) * u128::from(p);
        if used >= at(percent) {
            if !self.memory_high {
                self.memory_high = true;
                let evidence = format!(
                    "memory {} is {}% of its {} limit (threshold {percent}%)",
                    human_bytes(sample.memory_bytes),
                    used / u128::from(limit),
                    human_bytes(limit),
                );
                found.push(self.finding(AnomalyKind::MemoryHigh, evidence));
            }
        } else if used < at(below(percent, MEMORY_REARM_POINTS)) {
            self.memory_high = false;
        }
        self.memory_near = !self.memory_high && used >= at(below(percent, MEMORY_NEAR_POINTS));
    }

    fn cpu(&mut self, sample: &Sample, found: &mut Vec<Finding>) {
        let t = sample.time_ms;
        if self
            .last_sample
            .is_some_and(|last| t.saturating_sub(last) > MAX_SAMPLE_GAP_MS)
        {
            self.cpu_run = None;
        }
        self.last_sample = Some(t);
        let threshold = f64::from(self.cpu_allowance) * f64::from(self.thresholds.cpu_percent) / 100.0;
        // NaN compares false: a broken sample is a low one.
        if sample.cpu_percent < threshold || sample.cpu_percent.is_nan() {
            self.cpu_run = None;
            self.cpu_saturated = false;
            return;
        }
        let run = self.cpu_run.get_or_insert(CpuRun {
            since: t,
            sum: 0.0,
            samples: 0,
        });
        run.sum += sample.cpu_percent;
        run.samples += 1;
        let run = *run;
        let secs = self.thresholds.cpu_secs;
        if !self.cpu_saturated && t.saturating_sub(run.since) >= secs_ms(secs) {
            self.cpu_saturated = true;
            let allowance = match self.cpu_allowance {
                100 => "one CPU".to_string(),
                p => format!("its cpu_max of {p}%"),
            };
            let evidence = format!(
                "CPU at or above {threshold:.0}% ({}% of {allowance}) in every sample for {} s (average {:.0}%)",
                self.thresholds.cpu_percent,
                t.saturating_sub(run.since) / 1000,
                run.sum / f64::from(run.samples),
            );
            found.push(self.finding(AnomalyKind::CpuSaturation, evidence));
        }
    }
}
