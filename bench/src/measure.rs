//! Sampling `/proc`: per-process CPU time and context switches, the machine's CPU counters, load
//! average and facts. The parsers are pure functions over the file text (unit-tested on fixtures);
//! the `sample_*` functions read the files.

use std::fs;

/// Clock ticks per second (`USER_HZ`) for utime/stime in `/proc/PID/stat`.
pub fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime (in clock ticks) from the text of a `/proc/PID[/task/TID]/stat` file. The command
/// name (field 2) may contain spaces and parentheses, so fields are counted after the last ')'.
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10)
    // cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15): indices 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Time spent on a CPU, in nanoseconds: the first field of a `/proc/PID[/task/TID]/schedstat`
/// file (kernels with `CONFIG_SCHED_INFO`).
pub fn parse_schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// voluntary + nonvoluntary context switches from the text of a `/proc/PID/task/TID/status` file.
pub fn parse_status_ctxt_switches(text: &str) -> Option<u64> {
    let v = parse_status_field(text, "voluntary_ctxt_switches")?;
    let n = parse_status_field(text, "nonvoluntary_ctxt_switches")?;
    Some(v + n)
}

/// The first number of a `Key:   value [kB]` line of a `/proc/PID/status` file.
pub fn parse_status_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        v.split_whitespace().next()?.parse().ok()
    })
}

/// The machine's aggregate CPU counters from the `cpu ` line of `/proc/stat` (clock ticks, summed
/// over all CPUs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MachineCpu {
    /// user+nice+system+idle+iowait+irq+softirq+steal.
    pub total: u64,
    /// idle+iowait.
    pub idle: u64,
}

pub fn parse_proc_stat_cpu(text: &str) -> Option<MachineCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if v.len() < 5 {
        return None;
    }
    Some(MachineCpu {
        total: v.iter().sum(),
        idle: v[3] + v[4],
    })
}

/// The 1-minute load average from `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn parse_cpu_model(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "model name").then(|| v.trim().to_string())
    })
}

/// CPU time and context switches of every thread of a process at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcSample {
    pub cpu_ticks: u64,
    /// The same CPU time in nanoseconds, when every thread had a readable `schedstat`.
    pub cpu_ns: Option<u64>,
    pub ctxt_switches: u64,
}

impl ProcSample {
    /// Milliseconds of CPU used since `earlier`: from the nanosecond counters when both samples
    /// have them, else from clock ticks (10 ms resolution at the usual 100 Hz).
    pub fn cpu_ms_since(&self, earlier: &ProcSample) -> f64 {
        match (self.cpu_ns, earlier.cpu_ns) {
            (Some(now), Some(then)) => now.saturating_sub(then) as f64 / 1e6,
            _ => self.cpu_ticks.saturating_sub(earlier.cpu_ticks) as f64 * 1000.0 / clock_ticks_per_sec(),
        }
    }
}

/// Sums utime+stime, schedstat run time and context switches over `/proc/PID/task/*` (threads
/// that exited during a window are not counted).
pub fn sample_process(pid: u32) -> Option<ProcSample> {
    let mut s = ProcSample {
        cpu_ns: Some(0),
        ..ProcSample::default()
    };
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let dir = entry.path();
        let schedstat = match fs::read_to_string(dir.join("schedstat")) {
            Ok(text) => Some(text),
            // A kernel without schedstat: clock ticks only, for the whole sample.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir.join("stat").exists() => None,
            Err(_) => continue, // the thread exited between listing and reading
        };
        let (Ok(stat), Ok(status)) = (
            fs::read_to_string(dir.join("stat")),
            fs::read_to_string(dir.join("status")),
        ) else {
            continue; // the thread exited between listing and reading
        };
        s.cpu_ticks += parse_stat_cpu_ticks(&stat).unwrap_or(0);
        let ns = schedstat.as_deref().and_then(parse_schedstat_ns);
        s.cpu_ns = s.cpu_ns.zip(ns).map(|(a, b)| a + b);
        s.ctxt_switches += parse_status_ctxt_switches(&status).unwrap_or(0);
    }
    Some(s)
}

/// utime+stime of a whole process (the thread group's totals in `/proc/PID/stat`).
pub fn process_cpu_ticks(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| parse_stat_cpu_ticks(&t))
        .unwrap_or(0)
}

/// Peak resident set size (VmHWM) of a process in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    parse_status_field(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?, "VmHWM")
}

pub fn sample_machine() -> MachineCpu {
    fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_proc_stat_cpu(&t))
        .unwrap_or_default()
}

pub fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| parse_loadavg(&t))
        .unwrap_or(f64::NAN)
}

/// Share (percent of all CPUs) of the machine that was busy with something other than the
/// measured processes between two machine samples; `ours_ticks` is the CPU the compositor and
/// our clients used in the window.
pub fn background_percent(a: MachineCpu, b: MachineCpu, ours_ticks: u64) -> f64 {
    let total = b.total.saturating_sub(a.total);
    if total == 0 {
        return 0.0;
    }
    let busy = total.saturating_sub(b.idle.saturating_sub(a.idle));
    100.0 * busy.saturating_sub(ours_ticks) as f64 / total as f64
}

/// CPU model, core count and kernel release of this machine.
pub fn machine_facts() -> (String, usize, String) {
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| parse_cpu_model(&t))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    (model, cores, kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (sway (x) y) S 1 4242 4242 0 -1 4194560 2270 0 0 0 153 47 0 0 20 0 3 0 \
                        1234 123456789 3000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";

    const STATUS: &str = "Name:\tsway\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  300000 kB\n\
                          VmHWM:\t   41236 kB\nVmRSS:\t   40000 kB\nThreads:\t3\n\
                          voluntary_ctxt_switches:\t1200\nnonvoluntary_ctxt_switches:\t34\n";

    #[test]
    fn stat_utime_plus_stime_with_parens_in_comm() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(153 + 47));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn schedstat_run_time() {
        assert_eq!(parse_schedstat_ns("123456789 2014768 41\n"), Some(123_456_789));
        assert_eq!(parse_schedstat_ns(""), None);
        assert_eq!(parse_schedstat_ns("x 1 2"), None);
    }

    #[test]
    fn cpu_ms_from_nanoseconds_or_ticks() {
        let at = |ticks, ns| ProcSample {
            cpu_ticks: ticks,
            cpu_ns: ns,
            ctxt_switches: 0,
        };
        assert_eq!(at(7, Some(5_500_000)).cpu_ms_since(&at(6, Some(1_000_000))), 4.5);
        let ticks_ms = 1000.0 / clock_ticks_per_sec();
        assert_eq!(at(7, None).cpu_ms_since(&at(5, Some(1))), 2.0 * ticks_ms);
        assert_eq!(at(7, Some(9)).cpu_ms_since(&at(5, None)), 2.0 * ticks_ms);
    }

    #[test]
    fn status_fields() {
        assert_eq!(parse_status_ctxt_switches(STATUS), Some(1234));
        assert_eq!(parse_status_field(STATUS, "VmHWM"), Some(41236));
        assert_eq!(parse_status_field(STATUS, "Threads"), Some(3));
        assert_eq!(parse_status_field(STATUS, "VmSwap"), None);
        assert_eq!(
            parse_status_ctxt_switches("Name:\tx\nvoluntary_ctxt_switches:\t1\n"),
            None
        );
    }

    #[test]
    fn proc_stat_cpu_line() {
        let text = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\nintr 1 2\n";
        assert_eq!(
            parse_proc_stat_cpu(text),
            Some(MachineCpu {
                total: 1181,
                idle: 1020
            })
        );
        assert_eq!(parse_proc_stat_cpu("cpu0 1 2 3 4 5\n"), None);
    }

    #[test]
    fn background_share() {
        let a = MachineCpu {
            total: 1000,
            idle: 800,
        };
        let b = MachineCpu {
            total: 1200,
            idle: 900,
        };
        // 200 ticks elapsed, 100 busy, 40 of them ours: 60 / 200 = 30 %.
        assert!((background_percent(a, b, 40) - 30.0).abs() < 1e-9);
        assert_eq!(background_percent(a, a, 0), 0.0);
        assert_eq!(background_percent(a, b, 500), 0.0);
    }

    #[test]
    fn loadavg_and_cpuinfo() {
        assert_eq!(parse_loadavg("0.52 0.40 0.33 2/345 6789\n"), Some(0.52));
        let cpuinfo =
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n\
                       processor\t: 1\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            parse_cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
    }

    #[test]
    fn samples_this_process() {
        let s = sample_process(std::process::id()).unwrap();
        assert!(s.ctxt_switches > 0);
        // Spin until this process has used 20 ms of CPU by its own account (a preempted
        // thread takes longer, not less); where the kernel has schedstat, that account is in ns.
        let t = std::time::Instant::now();
        let later = loop {
            std::hint::black_box((0..10_000u64).sum::<u64>());
            let now = sample_process(std::process::id()).unwrap();
            if now.cpu_ms_since(&s) >= 20.0 || t.elapsed() > std::time::Duration::from_secs(10) {
                break now;
            }
        };
        assert!(later.cpu_ms_since(&s) >= 20.0, "{later:?} after {s:?}");
        if std::path::Path::new("/proc/self/schedstat").exists() {
            assert!(later.cpu_ns.is_some(), "{later:?}");
        }
        assert!(peak_rss_kib(std::process::id()).unwrap() > 0);
        assert!(sample_machine().total > 0);
    }
}
