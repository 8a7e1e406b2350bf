//! The supervisor: capsules from manifests, started at session start when they ask for it,
//! restarted by their policy with backoff, stopped with SIGTERM then SIGKILL, every child
//! reaped. Process work runs from the compositor's event loop (SIGCHLD, timers).

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::Child,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use exo_shell::{
    capsule::{
        discover, CapsuleDirs, CapsuleInfo, CapsuleStatus, ExitKind, Manifest, ManifestError,
        RestartDecision, RestartPolicy, RestartTracker,
    },
    sentry::{EventKind, Severity},
    Capability, CapabilitySet,
};
use smithay::reexports::{
    calloop::{
        signals::{Signal, Signals},
        timer::{TimeoutAction, Timer},
        RegistrationToken,
    },
    wayland_server::{backend::protocol::ProtocolError, Client},
};

use super::{
    confine::{self, ConfinementPlan},
    launch::launch,
};
use crate::{
    sentry::{ConnId, Peer},
    state::{ClientIdentity, ClientState, State},
};

/// How long a stopped capsule gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

pub struct Running {
    pub child: Child,
    pub pid: u32,
    pub started: Instant,
    pub client: Option<Client>,
    /// A duplicate of our end of its Wayland socket: shutting it down wakes the display so a
    /// client we disconnected is cleaned up at once, even if it sends nothing more.
    socket: Option<std::os::unix::net::UnixStream>,
    pub plan: ConfinementPlan,
    /// Set when the user (or shutdown) asked it to stop: its exit is not a failure.
    stopping: bool,
    /// Start again once it has exited (a restart request).
    start_after_exit: bool,
    /// Who asked it to stop (`"user"`, a capsule's name, `"sentry"`), for the event.
    stopped_by: String,
    /// Its control channel (`sentry.observe`), served like a control-socket connection.
    pub control: Option<ConnId>,
    /// Frozen by Sentry (cgroup freezer or SIGSTOP); thawed when it is stopped.
    pub frozen: bool,
    kill_timer: Option<RegistrationToken>,
}

pub struct Capsule {
    pub source: PathBuf,
    pub manifest: Result<Manifest, ManifestError>,
    /// What it holds now: the manifest's set, changed by grant/revoke.
    pub caps: CapabilitySet,
    pub tracker: RestartTracker,
    pub status: CapsuleStatus,
    pub running: Option<Running>,
    pub confinement: String,
    /// Held to `display.window` by Sentry until a person releases it (set by Sentry's
    /// quarantine action).
    pub quarantined: bool,
    restart_timer: Option<RegistrationToken>,
}

impl Capsule {
    fn new(source: PathBuf, manifest: Result<Manifest, ManifestError>) -> Self {
        let (caps, status) = match &manifest {
            Ok(m) => (m.capabilities, CapsuleStatus::Stopped),
            Err(err) => (
                CapabilitySet::empty(),
                CapsuleStatus::Invalid {
                    error: err.to_string(),
                },
            ),
        };
        Self {
            source,
            manifest,
            caps,
            tracker: RestartTracker::new(),
            status,
            running: None,
            confinement: String::new(),
            quarantined: false,
            restart_timer: None,
        }
    }
}

pub struct Supervisor {
    pub capsules: BTreeMap<String, Capsule>,
    /// Logs live here, inside the compositor's private runtime directory.
    pub log_dir: PathBuf,
    /// Capsule runtime directories (XDG_RUNTIME_DIR, in memory): traversable (0711) but not
    /// listable.
    pub runtime_base: PathBuf,
    /// Capsule homes, kept across sessions (see [`super::home`]).
    pub homes: PathBuf,
    pub started: Instant,
    adhoc_count: u32,
}

impl Supervisor {
    pub fn new(log_dir: PathBuf, runtime_base: PathBuf, homes: PathBuf) -> Self {
        Self {
            capsules: BTreeMap::new(),
            log_dir,
            runtime_base,
            homes,
            started: Instant::now(),
            adhoc_count: 0,
        }
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.log_dir.join(format!("{name}.log"))
    }

    /// Whether a process (by pid and uid, from SO_PEERCRED) belongs to a capsule: it runs under
    /// a capsule's uid or in a capsule's session (every capsule leads its own session).
    pub fn owns_process(&self, pid: i32, uid: u32) -> bool {
        self.process_owner(pid, uid).is_some()
    }

    /// The capsule a process (by pid and uid) belongs to, as in [`Supervisor::owns_process`].
    pub fn process_owner(&self, pid: i32, uid: u32) -> Option<String> {
        let session = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                // Fields after the parenthesised command name: state ppid pgrp session …
                let rest = stat.rsplit_once(')')?.1;
                rest.split_whitespace().nth(3)?.parse::<u32>().ok()
            });
        self.capsules
            .iter()
            .filter_map(|(name, c)| Some((name, c.running.as_ref()?)))
            .find(|(_, run)| {
                run.plan
                    .uid_gid
                    .is_some_and(|(capsule_uid, _)| capsule_uid == uid)
                    || session == Some(run.pid)
            })
            .map(|(name, _)| name.clone())
    }
}

fn exit_status_parts(status: std::process::ExitStatus) -> (Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    (status.code(), status.signal())
}

impl State {
    /// Discover manifests, watch SIGCHLD, and start the autostart capsules.
    pub fn start_supervisor(&mut self, dirs: &CapsuleDirs, autostart: bool) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.nexq.supervisor.log_dir)
            .with_context(|| format!("cannot create {}", self.nexq.supervisor.log_dir.display()))?;
        let base = &self.nexq.supervisor.runtime_base;
        std::fs::create_dir_all(base).with_context(|| format!("cannot create {}", base.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o711))?;

        let signals =
            Signals::new(&[Signal::SIGCHLD]).map_err(|e| anyhow::anyhow!("cannot watch SIGCHLD: {e}"))?;
        self.nexq
            .loop_handle
            .insert_source(signals, |_, _, state| state.reap_capsules())
            .map_err(|e| anyhow::anyhow!("cannot watch SIGCHLD: {e}"))?;

        for found in discover(dirs) {
            match &found.manifest {
                Ok(manifest) => self.sentry_configure(manifest),
                Err(err) => tracing::warn!(capsule = %found.name, "invalid manifest, skipped: {err}"),
            }
            self.nexq
                .supervisor
                .capsules
                .insert(found.name.clone(), Capsule::new(found.source, found.manifest));
        }
        tracing::info!(count = self.nexq.supervisor.capsules.len(), "capsules discovered");
        if autostart {
            let names: Vec<String> = self
                .nexq
                .supervisor
                .capsules
                .iter()
                .filter(|(_, c)| c.manifest.as_ref().is_ok_and(|m| m.autostart))
                .map(|(n, _)| n.clone())
                .collect();
            for name in names {
                if let Err(err) = self.capsule_start(&name) {
                    tracing::warn!(capsule = %name, "autostart failed: {err:#}");
                }
            }
        }
        Ok(())
    }

    /// Start a capsule that is not running (a user start also forgets earlier failures).
    pub fn capsule_start(&mut self, name: &str) -> anyhow::Result<u32> {
        let sup = &mut self.nexq.supervisor;
        let log = sup.log_path(name);
        let runtime_dir = sup.runtime_base.join(name);
        let home = sup.homes.join(name);
        let since_ms = sup.now().as_millis() as u64;
        let Some(capsule) = sup.capsules.get_mut(name) else {
            bail!("no capsule named {name:?}")
        };
        if let Some(run) = &capsule.running {
            bail!("capsule {name} is already running (pid {})", run.pid);
        }
        anyhow::ensure!(
            !capsule.quarantined,
            "capsule {name} is quarantined by Sentry; release it first (exoctl release {name})"
        );
        let manifest = match &capsule.manifest {
            Ok(m) => m.clone(),
            Err(err) => bail!("capsule {name} has an invalid manifest: {err}"),
        };
        if let Some(token) = capsule.restart_timer.take() {
            self.nexq.loop_handle.remove(token);
        }
        let launched = match launch(&manifest, capsule.caps, &runtime_dir, &home, &log) {
            Ok(l) => l,
            Err(err) => {
                let reason = format!("{err:#}");
                capsule.status = CapsuleStatus::Failed {
                    reason: reason.clone(),
                };
                self.record_event(
                    Some(name),
                    Severity::Critical,
                    EventKind::CapsuleFailed { reason },
                );
                return Err(err);
            }
        };
        let pid = launched.child.id();
        let socket = launched.wayland.as_ref().and_then(|s| s.try_clone().ok());
        let client = match launched.wayland {
            Some(stream) => {
                let identity = ClientIdentity {
                    capsule: Some(name.to_string()),
                    color: manifest.color,
                };
                let data = Arc::new(ClientState::new(identity, capsule.caps));
                data.sentry.connect(name, &self.nexq.sentry);
                match self.nexq.display_handle.insert_client(stream, data) {
                    Ok(client) => Some(client),
                    Err(err) => {
                        tracing::warn!(capsule = name, %err, "cannot register the capsule's Wayland connection");
                        None
                    }
                }
            }
            None => None,
        };
        let control = launched.control.and_then(|stream| {
            self.nexq
                .sentry
                .add_conn(stream, Peer::Capsule(name.to_string()))
                .map_err(
                    |err| tracing::warn!(capsule = name, %err, "cannot serve the capsule's control channel"),
                )
                .ok()
        });
        capsule.confinement = confine::describe(&launched.plan);
        capsule.status = CapsuleStatus::Running { pid, since_ms };
        capsule.running = Some(Running {
            child: launched.child,
            pid,
            started: Instant::now(),
            client,
            socket,
            plan: launched.plan,
            stopping: false,
            start_after_exit: false,
            stopped_by: String::new(),
            control,
            frozen: false,
            kill_timer: None,
        });
        tracing::info!(capsule = name, pid, confinement = %capsule.confinement, "capsule started");
        self.sentry_configure(&manifest);
        self.oom_watch(name);
        self.record_event(Some(name), Severity::Info, EventKind::CapsuleStarted { pid });
        Ok(pid)
    }

    /// A user start: clears the failure record first.
    pub fn capsule_user_start(&mut self, name: &str) -> anyhow::Result<u32> {
        if let Some(c) = self.nexq.supervisor.capsules.get_mut(name) {
            c.tracker.reset();
        }
        self.capsule_start(name)
    }

    /// A stop (or restart) the user asked for; see [`State::capsule_stop_by`].
    pub fn capsule_stop(&mut self, name: &str, then_start: bool) -> anyhow::Result<()> {
        self.capsule_stop_by(name, then_start, "user")
    }

    /// SIGTERM to the capsule's process group, SIGKILL after the grace period. `by` says who
    /// asked (`"user"`, a capsule's name, `"sentry"`), for the `capsule_stopped` event.
    pub fn capsule_stop_by(&mut self, name: &str, then_start: bool, by: &str) -> anyhow::Result<()> {
        let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) else {
            bail!("no capsule named {name:?}")
        };
        if let Some(token) = capsule.restart_timer.take() {
            self.nexq.loop_handle.remove(token);
        }
        let Some(run) = capsule.running.as_mut() else {
            if matches!(capsule.status, CapsuleStatus::Backoff { .. }) {
                capsule.status = CapsuleStatus::Stopped;
                let by = by.to_string();
                self.record_event(Some(name), Severity::Info, EventKind::CapsuleStopped { by });
            }
            if then_start {
                if let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) {
                    capsule.tracker.reset();
                }
                self.capsule_start(name)?;
            }
            return Ok(());
        };
        if !run.stopping {
            run.stopped_by = by.to_string();
        }
        run.stopping = true;
        // The last request wins: a stop after a restart request (Sentry's, a person's) stops.
        run.start_after_exit = then_start;
        signal_group(run.pid, libc::SIGTERM);
        crate::sentry::agent::thaw(run);
        if run.kill_timer.is_none() {
            let pid = run.pid;
            let owned = name.to_string();
            let token = self
                .nexq
                .loop_handle
                .insert_source(Timer::from_duration(STOP_GRACE), move |_, _, state| {
                    let still = state
                        .nexq
                        .supervisor
                        .capsules
                        .get(&owned)
                        .and_then(|c| c.running.as_ref())
                        .is_some_and(|r| r.pid == pid);
                    if still {
                        tracing::info!(capsule = %owned, "did not stop within the grace period; SIGKILL");
                        signal_group(pid, libc::SIGKILL);
                    }
                    TimeoutAction::Drop
                })
                .ok();
            run.kill_timer = token;
        }
        Ok(())
    }

    /// Reap every exited capsule and decide what happens next.
    pub fn reap_capsules(&mut self) {
        let mut exited = Vec::new();
        for (name, capsule) in &mut self.nexq.supervisor.capsules {
            if let Some(run) = capsule.running.as_mut() {
                match run.child.try_wait() {
                    Ok(Some(status)) => exited.push((name.clone(), status)),
                    Ok(None) => {}
                    Err(err) => tracing::warn!(capsule = %name, %err, "cannot query the capsule process"),
                }
            }
        }
        for (name, status) in exited {
            self.capsule_exited(&name, status);
        }
    }

    fn capsule_exited(&mut self, name: &str, status: std::process::ExitStatus) {
        let now = self.nexq.supervisor.now();
        let since_ms = now.as_millis() as u64;
        let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) else {
            return;
        };
        let Some(mut run) = capsule.running.take() else {
            return;
        };
        if let Some(token) = run.kill_timer.take() {
            self.nexq.loop_handle.remove(token);
        }
        if let Some(id) = run.control.take() {
            self.nexq.sentry.close_conn(id);
        }
        // The whole group goes with its leader: nothing of a stopped capsule keeps running.
        signal_group(run.pid, libc::SIGKILL);
        if let Some(client) = run.client.take() {
            if let Some(data) = client.get_data::<ClientState>() {
                data.sentry.silence();
            }
            client.kill(
                &self.nexq.display_handle,
                ProtocolError {
                    code: 0,
                    object_id: 1,
                    object_interface: "wl_display".into(),
                    message: "capsule exited".into(),
                },
            );
        }
        if let Some(cgroup) = run.plan.cgroup.take() {
            // Kills not recorded yet are recorded now, before its `capsule_exited`.
            self.oom_unwatch(name, &cgroup);
            if let Err(err) = cgroup.remove() {
                tracing::debug!(capsule = name, %err, "cannot remove the capsule's cgroup");
            }
        }
        let (code, signal) = exit_status_parts(status);
        tracing::info!(capsule = name, ?code, ?signal, "capsule exited");
        let abnormal = !run.stopping && !ExitKind::from(status).is_success();
        let severity = if abnormal {
            Severity::Warning
        } else {
            Severity::Info
        };
        self.record_event(Some(name), severity, EventKind::CapsuleExited { code, signal });
        let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) else {
            return;
        };
        if run.stopping {
            capsule.status = CapsuleStatus::Stopped;
            let by = std::mem::take(&mut run.stopped_by);
            let start = run.start_after_exit;
            if start {
                capsule.tracker.reset();
            }
            self.record_event(Some(name), Severity::Info, EventKind::CapsuleStopped { by });
            if start {
                if let Err(err) = self.capsule_start(name) {
                    tracing::warn!(capsule = name, "restart failed: {err:#}");
                }
            }
            return;
        }
        let policy = capsule
            .manifest
            .as_ref()
            .map(|m| m.restart)
            .unwrap_or(RestartPolicy::Never);
        let decision = capsule
            .tracker
            .on_exit(policy, ExitKind::from(status), run.started.elapsed(), now);
        match decision {
            RestartDecision::Stop => capsule.status = CapsuleStatus::Exited { code, signal },
            RestartDecision::Fail { reason } => {
                tracing::warn!(capsule = name, %reason, "capsule failed; not restarted until started again");
                capsule.status = CapsuleStatus::Failed {
                    reason: reason.clone(),
                };
                self.record_event(
                    Some(name),
                    Severity::Critical,
                    EventKind::CapsuleFailed { reason },
                );
            }
            RestartDecision::Restart { after } => {
                capsule.status = CapsuleStatus::Backoff {
                    restart_in_ms: after.as_millis() as u64,
                };
                let attempt = capsule.tracker.restarts();
                let owned = name.to_string();
                capsule.restart_timer = self
                    .nexq
                    .loop_handle
                    .insert_source(Timer::from_duration(after), move |_, _, state| {
                        if let Some(c) = state.nexq.supervisor.capsules.get_mut(&owned) {
                            c.restart_timer = None;
                            if matches!(c.status, CapsuleStatus::Backoff { .. }) {
                                if let Err(err) = state.capsule_start(&owned) {
                                    tracing::warn!(capsule = %owned, "restart failed: {err:#}");
                                }
                            }
                        }
                        TimeoutAction::Drop
                    })
                    .ok();
                let _ = since_ms;
                let delay_ms = after.as_millis() as u64;
                self.record_event(
                    Some(name),
                    Severity::Notice,
                    EventKind::CapsuleRestarting { attempt, delay_ms },
                );
            }
        }
    }

    /// An ad-hoc capsule from the control socket (`exoctl run`): never restarted.
    pub fn capsule_run(
        &mut self,
        name: Option<String>,
        caps: CapabilitySet,
        argv: Vec<String>,
    ) -> anyhow::Result<(String, u32)> {
        anyhow::ensure!(!argv.is_empty() && !argv[0].is_empty(), "run needs a program");
        let sup = &mut self.nexq.supervisor;
        let name = match name {
            Some(n) => n,
            None => loop {
                sup.adhoc_count += 1;
                let candidate = format!("run-{}", sup.adhoc_count);
                if !sup.capsules.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        anyhow::ensure!(
            !name.is_empty()
                && name.len() <= exo_shell::capsule::manifest::MAX_NAME_LEN
                && !name.starts_with('-')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "capsule name {name:?} must be 1 to {} characters of a-z, 0-9 and '-'",
            exo_shell::capsule::manifest::MAX_NAME_LEN
        );
        if let Some(existing) = sup.capsules.get(&name) {
            anyhow::ensure!(existing.running.is_none(), "capsule {name} is already running");
        }
        let manifest = Manifest {
            name: name.clone(),
            version: "0".into(),
            description: "started with exoctl run".into(),
            exec: argv,
            autostart: false,
            restart: RestartPolicy::Never,
            color: exo_shell::capsule::derived_color(&name),
            capabilities: caps,
            resources: Default::default(),
            env: Default::default(),
            sentry: Default::default(),
            path: PathBuf::from("(exoctl run)"),
        };
        sup.capsules.insert(
            name.clone(),
            Capsule::new(PathBuf::from("(exoctl run)"), Ok(manifest)),
        );
        let pid = self.capsule_start(&name)?;
        Ok((name, pid))
    }

    /// Grant or revoke a capability live. A grant re-announces the globals it opens; a revoke
    /// disconnects the capsule's Wayland client (objects bound under the old set must stop
    /// working, and a disconnect is the one way that holds for every protocol).
    pub fn capsule_set_capability(
        &mut self,
        name: &str,
        cap: Capability,
        granted: bool,
    ) -> anyhow::Result<()> {
        let Some(capsule) = self.nexq.supervisor.capsules.get_mut(name) else {
            bail!("no capsule named {name:?}")
        };
        let changed = if granted {
            capsule.caps.insert(cap)
        } else {
            capsule.caps.remove(cap)
        };
        if !changed {
            return Ok(());
        }
        let caps = capsule.caps;
        let client = capsule.running.as_ref().and_then(|r| r.client.clone());
        if !granted && cap == Capability::SentryObserve {
            // Its control channel goes with the capability.
            if let Some(id) = capsule.running.as_mut().and_then(|r| r.control.take()) {
                self.nexq.sentry.close_conn(id);
            }
        }
        let socket = capsule
            .running
            .as_ref()
            .and_then(|r| r.socket.as_ref())
            .and_then(|s| s.try_clone().ok());
        if let Some(client) = client {
            if let Some(data) = client.get_data::<ClientState>() {
                *data.caps.lock().unwrap_or_else(|e| e.into_inner()) = caps;
            }
            if !granted {
                if let Some(data) = client.get_data::<ClientState>() {
                    data.sentry.silence();
                }
                client.kill(
                    &self.nexq.display_handle,
                    ProtocolError {
                        code: 0,
                        object_id: 1,
                        object_interface: "wl_display".into(),
                        message: format!("capability {cap} was revoked"),
                    },
                );
                if let Some(socket) = socket {
                    let _ = socket.shutdown(std::net::Shutdown::Both);
                }
            }
        }
        if granted {
            self.reannounce_globals(cap);
            // Window decoration (badges, the fullscreen label strip) and the clipboard policy
            // depend on capabilities too.
            self.nexq.sync_space();
            self.update_selection_focus();
            self.queue_redraw();
        }
        tracing::info!(capsule = name, %cap, granted, "capability changed");
        Ok(())
    }

    /// Replace the globals gated by `cap`, so clients that may now see them get `global` events.
    fn reannounce_globals(&mut self, cap: Capability) {
        use crate::capsules::gate::filter_for;
        let dh = self.nexq.display_handle.clone();
        match cap {
            Capability::DisplayLayer => {
                let new = smithay::wayland::shell::wlr_layer::WlrLayerShellState::new_with_filter::<State, _>(
                    &dh,
                    filter_for("zwlr_layer_shell_v1"),
                );
                let old = std::mem::replace(&mut self.nexq.layer_shell_state, new);
                dh.remove_global::<State>(old.shell_global());
            }
            Capability::DisplayCapture => {
                let new = crate::protocols::screencopy::ScreencopyManagerState::new::<State>(
                    &dh,
                    filter_for("zwlr_screencopy_manager_v1"),
                );
                let old = std::mem::replace(&mut self.nexq.screencopy_state, new);
                dh.remove_global::<State>(old.global());
            }
            Capability::DisplayToplevels => crate::handlers::foreign_toplevel::reannounce(self),
            Capability::DisplayLock => crate::handlers::session_lock::reannounce(self),
            Capability::InputInject => crate::handlers::virtual_keyboard::reannounce(self),
            Capability::InputMethod => crate::handlers::input_method::reannounce(self),
            Capability::InputInhibit => crate::handlers::shortcuts_inhibit::reannounce(self),
            Capability::ClipboardManage => crate::handlers::data_control::reannounce(self),
            _ => {}
        }
    }

    pub fn capsule_infos(&self) -> Vec<CapsuleInfo> {
        let sup = &self.nexq.supervisor;
        sup.capsules
            .iter()
            .map(|(name, c)| CapsuleInfo {
                name: name.clone(),
                status: c.status.clone(),
                pid: c.running.as_ref().map(|r| r.pid),
                uptime_s: c.running.as_ref().map(|r| r.started.elapsed().as_secs()),
                restarts: c.tracker.restarts(),
                capabilities: c.caps,
                confinement: if c.running.is_some() {
                    c.confinement.clone()
                } else {
                    String::new()
                },
                color: c
                    .manifest
                    .as_ref()
                    .map(|m| format!("#{:02x}{:02x}{:02x}", m.color.r, m.color.g, m.color.b))
                    .unwrap_or_default(),
                source: c.source.display().to_string(),
                quarantined: c.quarantined,
            })
            .collect()
    }

    /// Stop every capsule at session end: SIGTERM, a grace period, then SIGKILL; all reaped.
    pub fn shutdown_capsules(&mut self) {
        let pids: Vec<u32> = self
            .nexq
            .supervisor
            .capsules
            .values()
            .filter_map(|c| c.running.as_ref().map(|r| r.pid))
            .collect();
        for pid in &pids {
            signal_group(*pid, libc::SIGTERM);
        }
        let running: Vec<String> = self
            .nexq
            .supervisor
            .capsules
            .iter()
            .filter(|(_, c)| c.running.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for name in running {
            let by = "session".to_string();
            self.record_event(Some(&name), Severity::Info, EventKind::CapsuleStopped { by });
        }
        // The event loop has ended: no idle callback will publish these.
        self.nexq.sentry.publish();
        let deadline = Instant::now() + STOP_GRACE;
        for capsule in self.nexq.supervisor.capsules.values_mut() {
            if let Some(run) = capsule.running.as_mut() {
                while Instant::now() < deadline && matches!(run.child.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if matches!(run.child.try_wait(), Ok(None)) {
                    signal_group(run.pid, libc::SIGKILL);
                    let _ = run.child.wait();
                }
                if let Some(cgroup) = run.plan.cgroup.take() {
                    let _ = cgroup.remove();
                }
            }
        }
    }
}

/// Signal a capsule's whole process group (it leads its own session), or the leader alone if
/// the group is gone.
pub(crate) fn signal_group(pid: u32, sig: i32) {
    // SAFETY: kill(2) with a pid we spawned; no memory is involved.
    unsafe {
        if libc::kill(-(pid as i32), sig) != 0 {
            libc::kill(pid as i32, sig);
        }
    }
}
