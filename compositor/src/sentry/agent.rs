//! Sentry's agent: the rules of `exo_shell::sentry` fed with every recorded event and every
//! resource sample, and the actions their findings call for, carried out on the capsules.
//!
//! * [`State::record_event`] hands each event to [`Rules::observe`]; findings are queued and
//!   carried out from an idle callback at the end of the event-loop iteration, never inside
//!   the code that recorded the event (the supervisor is often half-way through a state change
//!   then, and an action records events of its own).
//! * Each finding records its `anomaly` event, then its action is carried out and, if it was,
//!   the `action` event (`by: "sentry"`) is recorded; an action that cannot be carried out (no
//!   cgroup, no cpu controller) is logged and has no `action` event.
//! * After every event and every batch of samples the capsules the rules want sampled
//!   ([`Rules::wanting_samples`]) become `sampler.for_rules`; the sampling timer runs only
//!   while that set or a `samples` subscriber needs it.
//!
//! Actions (see docs/sentry.md): `restart` is the supervisor's restart; `throttle` lowers the
//! cgroup's CPU quota; `freeze` freezes the cgroup (v1 freezer, v2 `cgroup.freeze`), or stops
//! the process group with SIGSTOP without a freezer; `kill` SIGKILLs every process (through
//! the cgroup, else the process group) as a stop by Sentry: no restart; `quarantine` revokes
//! every capability but `display.window`, stops it and refuses to start it until `release`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use anyhow::{bail, Context};
use exo_shell::{
    capsule::{CapsuleStatus, Manifest},
    sentry::{ActionKind, Event, EventKind, Finding, Rules, Sample},
    Capability, CapabilitySet,
};

use crate::{capsules::supervisor::Running, state::State};

/// Sentry's rules and what its actions must remember.
#[derive(Debug, Default)]
pub struct Agent {
    pub rules: Rules,
    /// Findings not carried out yet (see the module documentation).
    pending: VecDeque<Finding>,
    scheduled: bool,
    /// What each quarantined capsule held, given back by `release`.
    held: BTreeMap<String, CapabilitySet>,
    /// The OOM notifications of running capsules.
    pub(super) oom: super::oom::Watches,
    /// Pings of capsule clients awaiting their pong.
    pub(super) pings: super::ping::Pings,
}

/// Thaws a capsule frozen by Sentry (cgroup freezer, or SIGSTOP without one), so that a stop's
/// SIGTERM reaches it (and, on cgroup v1, even SIGKILL).
pub fn thaw(run: &mut Running) {
    if !std::mem::take(&mut run.frozen) {
        return;
    }
    if let Some(cgroup) = &run.plan.cgroup {
        if let Err(err) = cgroup.freeze(false) {
            tracing::debug!(%err, "cannot thaw the capsule's cgroup");
        }
    }
    crate::capsules::supervisor::signal_group(run.pid, libc::SIGCONT);
}

impl State {
    /// The thresholds of a capsule whose manifest was loaded or is being started.
    pub fn sentry_configure(&mut self, manifest: &Manifest) {
        self.nexq.sentry.agent.rules.configure_manifest(manifest);
    }

    /// Feeds a just-recorded event to the rules (called by [`State::record_event`]).
    pub(super) fn sentry_observe(&mut self, event: &Event) {
        if event.capsule.is_none() {
            return;
        }
        let findings = self.nexq.sentry.agent.rules.observe(event);
        self.queue_findings(findings);
        self.rule_sampling();
    }

    /// Feeds a batch of samples to the rules.
    pub(super) fn sentry_samples(&mut self, samples: &[Sample]) {
        for sample in samples {
            tracing::trace!(?sample, "sample for the rules");
            let findings = self.nexq.sentry.agent.rules.sample(sample);
            self.queue_findings(findings);
        }
        self.rule_sampling();
    }

    /// The rules' wish list becomes the sampler's; the timer starts if it is not running (and
    /// stops by itself once nobody wants samples).
    fn rule_sampling(&mut self) {
        let wanted: BTreeSet<String> = self
            .nexq
            .sentry
            .agent
            .rules
            .wanting_samples()
            .map(str::to_owned)
            .collect();
        let sampler = &mut self.nexq.sentry.sampler;
        if wanted != sampler.for_rules {
            tracing::debug!(?wanted, "capsules sampled for the rules");
            sampler.for_rules = wanted;
        }
        self.ensure_sampling();
    }

    fn queue_findings(&mut self, findings: Vec<Finding>) {
        if findings.is_empty() {
            return;
        }
        let agent = &mut self.nexq.sentry.agent;
        agent.pending.extend(findings);
        if !agent.scheduled {
            agent.scheduled = true;
            self.nexq
                .loop_handle
                .insert_idle(|state| state.carry_out_findings());
        }
    }

    /// Records and carries out every queued finding (and those their actions lead to).
    fn carry_out_findings(&mut self) {
        while let Some(finding) = self.nexq.sentry.agent.pending.pop_front() {
            tracing::info!("sentry: {finding}");
            let capsule = finding.capsule.clone();
            self.record_event(Some(&capsule), finding.severity, finding.anomaly_event());
            let Some(EventKind::Action { action, by, reason }) = finding.action_event() else {
                continue;
            };
            match self.carry_out(&capsule, action, &finding) {
                Ok(done) => {
                    let reason = format!("{reason}; {done}");
                    let kind = EventKind::Action { action, by, reason };
                    self.record_event(Some(&capsule), finding.severity, kind);
                }
                Err(err) => {
                    tracing::warn!(capsule = %capsule, ?action, "sentry cannot carry out its action: {err:#}")
                }
            }
        }
        self.nexq.sentry.agent.scheduled = false;
        // Events recorded from an idle callback: publish now rather than on the next wakeup.
        self.nexq.sentry.publish();
    }

    /// Carries out `action` on `name`; says what was done, for the action event's reason.
    fn carry_out(&mut self, name: &str, action: ActionKind, finding: &Finding) -> anyhow::Result<String> {
        match action {
            ActionKind::Restart => {
                self.capsule_stop_by(name, true, "sentry")?;
                Ok("restarting".into())
            }
            ActionKind::Throttle => {
                let percent = self.nexq.sentry.agent.rules.thresholds(name).throttle_cpu_percent;
                let run = self.running(name)?;
                let cgroup = run.plan.cgroup.as_ref().context("it has no cgroup")?;
                match cgroup
                    .throttle_cpu(percent)
                    .context("cannot lower its CPU limit")?
                {
                    Some(now) => Ok(format!("CPU limit lowered to {now}% of one CPU")),
                    None => Ok(format!("its CPU limit already is at most {percent}% of one CPU")),
                }
            }
            ActionKind::Freeze => {
                let run = self.running_mut(name)?;
                let how = match run.plan.cgroup.as_ref().map(|c| c.freeze(true)) {
                    Some(Ok(())) => "cgroup frozen",
                    Some(Err(err)) if err.kind() == std::io::ErrorKind::TimedOut => {
                        "cgroup freezing (not every process stopped within 2 s)"
                    }
                    other => {
                        if let Some(Err(err)) = other {
                            tracing::debug!(%err, "no cgroup freezer; SIGSTOP instead");
                        }
                        crate::capsules::supervisor::signal_group(run.pid, libc::SIGSTOP);
                        "processes stopped with SIGSTOP (no cgroup freezer)"
                    }
                };
                run.frozen = true;
                Ok(how.into())
            }
            ActionKind::Kill => self.capsule_kill(name),
            ActionKind::Quarantine => self.capsule_quarantine(name),
            other => bail!("{other:?} is not an action of Sentry's policy ({finding})"),
        }
    }

    fn running(&self, name: &str) -> anyhow::Result<&Running> {
        let capsule = self.nexq.supervisor.capsules.get(name);
        capsule
            .and_then(|c| c.running.as_ref())
            .with_context(|| format!("capsule {name} is not running"))
    }

    fn running_mut(&mut self, name: &str) -> anyhow::Result<&mut Running> {
        let capsule = self.nexq.supervisor.capsules.get_mut(name);
        capsule
            .and_then(|c| c.running.as_mut())
            .with_context(|| format!("capsule {name} is not running"))
    }

    /// SIGKILL to every process of the capsule, as a stop by Sentry: its restart policy does
    /// not apply; it stays stopped until started again. A capsule between restarts (a crash
    /// loop) just stays stopped.
    fn capsule_kill(&mut self, name: &str) -> anyhow::Result<String> {
        let how = match self.running_mut(name) {
            Ok(run) => {
                thaw(run);
                let by_cgroup = run.plan.cgroup.as_ref().is_some_and(|c| c.kill_all().is_ok());
                if !by_cgroup {
                    crate::capsules::supervisor::signal_group(run.pid, libc::SIGKILL);
                }
                if by_cgroup {
                    "every process of its cgroup killed"
                } else {
                    "its process group killed"
                }
            }
            Err(_) => "no process to kill; it stays stopped",
        };
        // Before the exit is reaped: it is a stop (no restart), by Sentry.
        self.capsule_stop_by(name, false, "sentry")?;
        Ok(how.into())
    }

    /// Revokes every capability but `display.window` (kept if it had it), stops it, and
    /// refuses to start it until [`State::capsule_release`].
    fn capsule_quarantine(&mut self, name: &str) -> anyhow::Result<String> {
        let capsule = self
            .nexq
            .supervisor
            .capsules
            .get_mut(name)
            .with_context(|| format!("no capsule named {name:?}"))?;
        let held = capsule.caps;
        if !capsule.quarantined {
            capsule.quarantined = true;
            self.nexq.sentry.agent.held.insert(name.to_string(), held);
        }
        for cap in held.into_iter().filter(|c| *c != Capability::DisplayWindow) {
            self.capsule_set_capability(name, cap, false)?;
        }
        let was = self.nexq.supervisor.capsules.get(name).map(|c| c.status.clone());
        self.capsule_stop_by(name, false, "sentry")?;
        let left = self.nexq.supervisor.capsules.get(name).map_or(held, |c| c.caps);
        let stopped = match was {
            Some(CapsuleStatus::Running { .. }) => "stopping",
            Some(CapsuleStatus::Backoff { .. }) => "stopped between restarts",
            _ => "not running",
        };
        Ok(format!(
            "{stopped}; held to [{left}] until released (had [{held}])"
        ))
    }

    /// Releases a quarantined capsule: what it held before is granted again. It is not
    /// started; a person (or the dashboard) starts it.
    pub fn capsule_release(&mut self, name: &str) -> anyhow::Result<()> {
        let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) else {
            bail!("no capsule named {name:?}")
        };
        anyhow::ensure!(capsule.quarantined, "capsule {name} is not quarantined");
        capsule.quarantined = false;
        let held = self.nexq.sentry.agent.held.remove(name).unwrap_or_default();
        for cap in held {
            self.capsule_set_capability(name, cap, true)?;
        }
        Ok(())
    }
}
