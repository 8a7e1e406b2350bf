//! The services: starting them in order, running their `ready` commands,
//! restarting them with backoff, and reporting their states on the console
//! and in `<run dir>/status`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::{BackoffConfig, Config, Restart, ServiceConfig};
use crate::log::say;
use crate::services::{seconds, Backoff, Decision, Exit, State};
use crate::spawn::{display_argv, spawn};

/// Exit status reported when a program could not be started at all.
const SPAWN_FAILED: Exit = Exit::Code(127);

struct Service {
    config: ServiceConfig,
    env: BTreeMap<String, String>,
    state: State,
    pid: Option<i32>,
    backoff: Backoff,
    started_at: Instant,
    /// Bumped at every start, so late exits of an earlier run's helpers are ignored.
    generation: u64,
    /// Has been ready at least once: dependents may start.
    ready_once: bool,
    restarts: u32,
    last_exit: Option<Exit>,
}

/// Whose process a pid is.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Main {
        service: usize,
        generation: u64,
    },
    Ready {
        service: usize,
        generation: u64,
        step: usize,
    },
}

pub struct Supervisor {
    services: Vec<Service>,
    owners: HashMap<i32, Owner>,
    /// Indices in the order they were first started.
    start_order: Vec<usize>,
    status_path: PathBuf,
    backoff_config: BackoffConfig,
    /// Set when a service became ready (the power button may have appeared).
    pub became_ready: bool,
}

impl Supervisor {
    /// `config.services` must be in start order (as [`Config::parse`] returns them).
    pub fn new(config: &Config, base_env: &BTreeMap<String, String>, run_dir: &Path) -> Supervisor {
        let services = config
            .services
            .iter()
            .map(|c| {
                let mut env = base_env.clone();
                env.extend(c.env.iter().map(|(k, v)| (k.clone(), v.clone())));
                Service {
                    config: c.clone(),
                    env,
                    state: State::Waiting,
                    pid: None,
                    backoff: Backoff::new(config.restart),
                    started_at: Instant::now(),
                    generation: 0,
                    ready_once: false,
                    restarts: 0,
                    last_exit: None,
                }
            })
            .collect();
        Supervisor {
            services,
            owners: HashMap::new(),
            start_order: Vec::new(),
            status_path: run_dir.join("status"),
            backoff_config: config.restart,
            became_ready: false,
        }
    }

    /// Starts what is due: waiting services whose `after` are ready, and
    /// restarts whose backoff has passed.
    pub fn tick(&mut self, now: Instant) {
        let mut changed = false;
        for i in 0..self.services.len() {
            let due = match self.services[i].state {
                State::Waiting => self.services[i].config.after.iter().all(|dep| {
                    self.services
                        .iter()
                        .any(|s| &s.config.name == dep && s.ready_once)
                }),
                State::Backoff(at) => at <= now,
                _ => false,
            };
            if due {
                self.start(i, now);
                changed = true;
            }
        }
        if changed {
            self.write_status();
        }
    }

    /// The next time [`Supervisor::tick`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.services
            .iter()
            .filter_map(|s| match s.state {
                State::Backoff(at) => Some(at),
                _ => None,
            })
            .min()
    }

    fn start(&mut self, i: usize, now: Instant) {
        let s = &mut self.services[i];
        s.generation += 1;
        s.started_at = now;
        if let Some(dir) = s.env.get("XDG_RUNTIME_DIR") {
            if let Err(e) = crate::mounts::make_dir(Path::new(dir), 0o700) {
                say!("{}: cannot create XDG_RUNTIME_DIR {dir}: {e}", s.config.name);
            }
        }
        match spawn(&s.config.exec, &s.env, false) {
            Ok(pid) => {
                say!(
                    "starting {} (pid {pid}): {}",
                    s.config.name,
                    display_argv(&s.config.exec)
                );
                s.pid = Some(pid);
                s.state = State::Starting;
                let generation = s.generation;
                self.owners.insert(
                    pid,
                    Owner::Main {
                        service: i,
                        generation,
                    },
                );
                if !self.start_order.contains(&i) {
                    self.start_order.push(i);
                }
                self.run_ready_step(i, 0);
            }
            Err(e) => {
                say!(
                    "cannot start {}: {}: {e}",
                    s.config.name,
                    display_argv(&s.config.exec)
                );
                self.main_exited(i, SPAWN_FAILED, now);
            }
        }
    }

    /// Runs ready command `step` of service `i`, or marks it ready when none is left.
    fn run_ready_step(&mut self, i: usize, mut step: usize) {
        let s = &mut self.services[i];
        while let Some(argv) = s.config.ready.get(step) {
            match spawn(argv, &s.env, false) {
                Ok(pid) => {
                    say!("{}: ready command: {}", s.config.name, display_argv(argv));
                    let generation = s.generation;
                    self.owners.insert(
                        pid,
                        Owner::Ready {
                            service: i,
                            generation,
                            step,
                        },
                    );
                    return;
                }
                Err(e) => {
                    say!(
                        "{}: cannot run ready command {}: {e}; going on",
                        s.config.name,
                        display_argv(argv)
                    );
                    step += 1;
                }
            }
        }
        s.state = State::Running;
        s.ready_once = true;
        self.became_ready = true;
        if !s.config.ready.is_empty() {
            say!("{} is ready", s.config.name);
        }
    }

    /// A child exited; returns false when it was none of ours (an orphan).
    pub fn child_exited(&mut self, pid: i32, exit: Exit, now: Instant) -> bool {
        let Some(owner) = self.owners.remove(&pid) else {
            return false;
        };
        match owner {
            Owner::Main { service, generation } if self.services[service].generation == generation => {
                self.main_exited(service, exit, now);
            }
            Owner::Ready {
                service,
                generation,
                step,
            } => {
                let s = &self.services[service];
                if s.generation == generation && s.state == State::Starting {
                    if !exit.success() {
                        let argv = display_argv(&s.config.ready[step]);
                        say!(
                            "{}: ready command {argv} exited with {exit}; going on",
                            s.config.name
                        );
                    }
                    self.run_ready_step(service, step + 1);
                }
            }
            Owner::Main { .. } => {}
        }
        self.write_status();
        true
    }

    fn main_exited(&mut self, i: usize, exit: Exit, now: Instant) {
        let s = &mut self.services[i];
        s.pid = None;
        s.last_exit = Some(exit);
        let name = s.config.name.clone();
        if s.state == State::Stopping {
            s.state = State::Stopped;
            say!("{name} stopped ({exit})");
            return;
        }
        match s.backoff.on_exit(s.config.restart, exit, s.started_at, now) {
            Decision::Restart(delay) => {
                s.state = State::Backoff(now + delay);
                s.restarts += 1;
                say!("{name} exited with {exit}; restarting in {}", seconds(delay));
            }
            Decision::Failed => {
                s.state = State::Failed;
                let b = self.backoff_config;
                say!(
                    "{name} failed: exited {} times within {} (last: {exit}); not restarting",
                    b.max_failures,
                    seconds(b.failure_window)
                );
            }
            Decision::Stop => {
                s.state = State::Stopped;
                let policy = s.config.restart;
                let why = if policy == Restart::Never {
                    "restart = never"
                } else {
                    "restart = on-failure"
                };
                say!("{name} exited with {exit}; not restarting ({why})");
            }
        }
        if matches!(self.services[i].state, State::Failed | State::Stopped) && !self.services[i].ready_once {
            for s in &self.services {
                if s.state == State::Waiting && s.config.after.contains(&name) {
                    say!(
                        "{} will not start: it comes after {name}, which is {}",
                        s.config.name,
                        self.services[i].state.word()
                    );
                }
            }
        }
    }

    /// Stops every restart; returns the running services in reverse start
    /// order (name, pid) for the shutdown.
    pub fn begin_shutdown(&mut self) -> Vec<(String, i32)> {
        for s in &mut self.services {
            if matches!(s.state, State::Waiting | State::Backoff(_)) {
                s.state = State::Stopped;
            }
        }
        let mut out = Vec::new();
        for &i in self.start_order.iter().rev() {
            let s = &mut self.services[i];
            if let Some(pid) = s.pid {
                s.state = State::Stopping;
                out.push((s.config.name.clone(), pid));
            }
        }
        self.write_status();
        out
    }

    /// Whether `pid` is still the main process of a service.
    pub fn is_running(&self, pid: i32) -> bool {
        self.services.iter().any(|s| s.pid == Some(pid))
    }

    /// The status file's text: one line per service.
    pub fn status_text(&self) -> String {
        let mut text = String::new();
        for s in &self.services {
            let pid = s.pid.map_or("-".to_string(), |p| p.to_string());
            let last = s.last_exit.map_or("-".to_string(), |e| e.to_string());
            text.push_str(&format!(
                "{:<16} {:<9} pid={:<7} restarts={:<3} last-exit={last}\n",
                s.config.name,
                s.state.word(),
                pid,
                s.restarts
            ));
        }
        text
    }

    /// Writes `<run dir>/status` (atomically: a temporary file renamed over it).
    pub fn write_status(&self) {
        let Some(dir) = self.status_path.parent() else {
            return;
        };
        let tmp = dir.join(".status.tmp");
        let result = crate::mounts::make_dir(dir, 0o755)
            .and_then(|()| std::fs::write(&tmp, self.status_text()))
            .and_then(|()| std::fs::rename(&tmp, &self.status_path));
        if let Err(e) = result {
            say!("cannot write {}: {e}", self.status_path.display());
        }
    }
}
