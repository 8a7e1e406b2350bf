//! Resource samples of running capsules, once a second, only while someone wants them (a
//! `samples` subscriber, or a capsule the rules watch): the timer exists only then, so an idle
//! session stays idle.
//!
//! A capsule with a cgroup is read from it: memory (`memory.current` / `memory.usage_in_bytes`)
//! and its limit, CPU (`cpu.stat` / `cpuacct.usage`, else the CPU time of the processes in the
//! group), tasks (`pids.current`) and memory pressure (`memory.pressure`, cgroup v2). Without a
//! cgroup, the processes of its session (every capsule leads its own) are read from `/proc`.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use exo_shell::{control::Pushed, sentry::Sample};
use smithay::reexports::calloop::{
    timer::{TimeoutAction, Timer},
    RegistrationToken,
};

use crate::state::State;

/// How often samples are taken.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct Sampler {
    timer: Option<RegistrationToken>,
    /// The previous CPU reading of each capsule: when, CPU nanoseconds, its process.
    previous: HashMap<String, (Instant, u64, u32)>,
    /// Capsules the rules want sampled (a capsule under suspicion), besides the subscribers'.
    pub for_rules: BTreeSet<String>,
}

/// What one reading found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    pub pids: u64,
    pub memory_pressure: Option<f64>,
}

impl State {
    /// Starts the sampling timer if someone wants samples and it is not running.
    pub fn ensure_sampling(&mut self) {
        if self.nexq.sentry.sampler.timer.is_some() || !self.sampling_wanted() {
            return;
        }
        // A baseline now, so the first samples a second later have a CPU figure.
        self.take_samples();
        let token = self
            .nexq
            .loop_handle
            .insert_source(Timer::from_duration(SAMPLE_INTERVAL), |_, _, state| {
                state.sample_tick()
            });
        match token {
            Ok(token) => self.nexq.sentry.sampler.timer = Some(token),
            Err(err) => tracing::warn!(%err, "cannot start the resource sampler"),
        }
    }

    fn sampling_wanted(&self) -> bool {
        !self.nexq.sentry.sample_subscribers().is_empty() || !self.nexq.sentry.sampler.for_rules.is_empty()
    }

    fn sample_tick(&mut self) -> TimeoutAction {
        if !self.sampling_wanted() {
            let sampler = &mut self.nexq.sentry.sampler;
            sampler.timer = None;
            sampler.previous.clear();
            return TimeoutAction::Drop;
        }
        let samples = self.take_samples();
        for (id, wanted) in self.nexq.sentry.sample_subscribers() {
            for sample in &samples {
                if wanted.as_ref().is_none_or(|w| *w == sample.capsule) {
                    let line = Pushed::Sample(sample.clone()).to_line();
                    self.nexq.sentry.push(id, &line);
                }
            }
        }
        self.samples_taken(&samples);
        TimeoutAction::ToDuration(SAMPLE_INTERVAL)
    }

    /// Every batch of samples goes to the rules, after the subscribers have theirs.
    fn samples_taken(&mut self, samples: &[Sample]) {
        self.sentry_samples(samples);
    }

    /// Reads every running capsule that someone wants. The first reading of a capsule (or of
    /// a new process of it) is only the baseline its CPU figure is measured from: the capsule
    /// has its first sample a tick later.
    fn take_samples(&mut self) -> Vec<Sample> {
        let wanted = self.nexq.sentry.sampled_capsules().map(|mut names| {
            names.extend(self.nexq.sentry.sampler.for_rules.iter().cloned());
            names
        });
        let mut targets: Vec<(String, u32, Vec<PathBuf>)> = Vec::new();
        for (name, capsule) in &self.nexq.supervisor.capsules {
            let Some(run) = &capsule.running else { continue };
            if wanted.as_ref().is_some_and(|w| !w.contains(name)) {
                continue;
            }
            let paths = run.plan.cgroup.as_ref().map(|c| c.paths()).unwrap_or_default();
            targets.push((name.clone(), run.pid, paths));
        }
        let mut table: Option<Vec<ProcStat>> = None;
        let now = Instant::now();
        let time_ms = super::hub::now_ms();
        let sampler = &mut self.nexq.sentry.sampler;
        sampler
            .previous
            .retain(|name, _| targets.iter().any(|(n, _, _)| n == name));
        let mut samples = Vec::new();
        for (name, pid, paths) in targets {
            let usage = read_cgroup(&paths)
                .unwrap_or_else(|| session_usage(pid, table.get_or_insert_with(proc_table)));
            let previous = sampler.previous.insert(name.clone(), (now, usage.cpu_ns, pid));
            let Some(cpu_percent) = previous.filter(|(_, _, p)| *p == pid).map(|(then, cpu, _)| {
                let wall = now.duration_since(then).as_nanos().max(1) as f64;
                usage.cpu_ns.saturating_sub(cpu) as f64 * 100.0 / wall
            }) else {
                continue;
            };
            samples.push(Sample {
                time_ms,
                capsule: name,
                memory_bytes: usage.memory_bytes,
                memory_limit_bytes: usage.memory_limit_bytes,
                cpu_percent: (cpu_percent * 10.0).round() / 10.0,
                pids: usage.pids,
                memory_pressure: usage.memory_pressure,
            });
        }
        samples
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A memory limit as the kernel writes it: `max` (v2) or a huge number (v1) mean none.
fn parse_limit(text: &str) -> Option<u64> {
    text.trim().parse::<u64>().ok().filter(|n| *n < (1 << 62))
}

/// `some avg10=1.50 avg60=…` of a PSI file: the `some avg10` figure.
pub fn parse_pressure(text: &str) -> Option<f64> {
    let some = text.lines().find(|l| l.starts_with("some "))?;
    some.split_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// `usage_usec` of a v2 `cpu.stat`, in nanoseconds.
fn parse_cpu_stat(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|us| us * 1000)
}

/// Reads a capsule's cgroup directories (v2: one; v1: one per hierarchy); `None` without any.
fn read_cgroup(paths: &[PathBuf]) -> Option<Usage> {
    if paths.is_empty() {
        return None;
    }
    let mut usage = Usage::default();
    let mut cpu = None;
    let mut procs: Vec<u32> = Vec::new();
    let mut pids = None;
    for dir in paths {
        if let Some(m) =
            read_u64(&dir.join("memory.current")).or_else(|| read_u64(&dir.join("memory.usage_in_bytes")))
        {
            usage.memory_bytes = m;
            usage.memory_limit_bytes = std::fs::read_to_string(dir.join("memory.max"))
                .or_else(|_| std::fs::read_to_string(dir.join("memory.limit_in_bytes")))
                .ok()
                .and_then(|t| parse_limit(&t));
        }
        if let Ok(text) = std::fs::read_to_string(dir.join("memory.pressure")) {
            usage.memory_pressure = parse_pressure(&text);
        }
        cpu = cpu
            .or_else(|| {
                std::fs::read_to_string(dir.join("cpu.stat"))
                    .ok()
                    .and_then(|t| parse_cpu_stat(&t))
            })
            .or_else(|| read_u64(&dir.join("cpuacct.usage")));
        pids = pids.or_else(|| read_u64(&dir.join("pids.current")));
        if procs.is_empty() {
            if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                procs = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            }
        }
    }
    usage.pids = pids.unwrap_or(procs.len() as u64);
    usage.cpu_ns = cpu.unwrap_or_else(|| {
        // No CPU accounting in the group (v1 without cpuacct): the processes' own times.
        procs
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|t| parse_stat(&t))
            .map(|s| s.cpu_ns)
            .sum()
    });
    Some(usage)
}

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    pub session: u32,
    /// utime + stime + cutime + cstime (its own and its reaped children's).
    pub cpu_ns: u64,
    pub rss_bytes: u64,
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

/// Parses one `/proc/<pid>/stat` line.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_whitespace().next()?.parse().ok()?;
    // After the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice threads itrealvalue starttime vsize rss …
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let ticks: u64 = (11..=14).map(|i| num(i).unwrap_or(0)).sum();
    Some(ProcStat {
        pid,
        session: num(3)? as u32,
        cpu_ns: ticks * (1_000_000_000 / clock_ticks()),
        rss_bytes: num(21).unwrap_or(0) * page_size(),
    })
}

/// Every process's stat.
fn proc_table() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter_map(|t| parse_stat(&t))
        .collect()
}

/// The processes of the session `leader` leads.
fn session_usage(leader: u32, table: &[ProcStat]) -> Usage {
    let members = table.iter().filter(|p| p.session == leader || p.pid == leader);
    let mut usage = Usage::default();
    for p in members {
        usage.memory_bytes += p.rss_bytes;
        usage.cpu_ns += p.cpu_ns;
        usage.pids += 1;
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_command_names() {
        let line = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 10 5 20 0 1 0 123 1000000 300 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!((stat.pid, stat.session), (4242, 4242));
        assert_eq!(stat.cpu_ns, 215 * (1_000_000_000 / clock_ticks()));
        assert_eq!(stat.rss_bytes, 300 * page_size());
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_process_is_found_in_the_proc_table() {
        let me = std::process::id();
        let table = proc_table();
        let mine = table.iter().find(|p| p.pid == me).expect("own process listed");
        assert!(mine.rss_bytes > 0);
        let usage = session_usage(mine.session, &table);
        assert!(usage.pids >= 1 && usage.memory_bytes >= mine.rss_bytes);
    }

    #[test]
    fn kernel_files_parse() {
        assert_eq!(
            parse_pressure("some avg10=1.50 avg60=0.20 avg300=0.00 total=5\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
            Some(1.5)
        );
        assert_eq!(parse_pressure(""), None);
        assert_eq!(
            parse_cpu_stat("usage_usec 2500\nuser_usec 2000\n"),
            Some(2_500_000)
        );
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("67108864\n"), Some(64 << 20));
    }
}
