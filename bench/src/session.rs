//! Nexquelium-only figures: the full session (the repository's capsules, the Sentry dashboard
//! among them) idle with the dashboard shown and hidden, and the boot-to-dashboard times the
//! last `./x test` recorded.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail, Context, Result};

use crate::{
    compositors::{Launcher, Running},
    measure,
    report::Results,
};

/// The line Nexquelium prints when the dashboard capsule's overlay first shows.
const DASHBOARD_MAPPED: &str = "nexquelium: dashboard mapped";
/// Sentry samples a newly started capsule for its first 30 s (`SUSPICION_MS`, docs/sentry.md):
/// the idle session is measured after that.
const SUSPICION: Duration = Duration::from_secs(32);

pub fn declare_metrics(r: &mut Results) {
    r.metric(
        "session_shown_wakeups",
        "full session, dashboard shown: compositor wakeups per s (Nexquelium only)",
        false,
    );
    r.metric(
        "session_shown_dashboard_cpu",
        "full session, dashboard shown: dashboard CPU ms per s (Nexquelium only)",
        false,
    );
    r.metric(
        "session_hidden_wakeups",
        "full session, dashboard hidden: compositor wakeups per s (Nexquelium only)",
        false,
    );
    r.metric(
        "session_hidden_dashboard_wakeups",
        "full session, dashboard hidden: dashboard wakeups per s (Nexquelium only)",
        false,
    );
    r.metric(
        "session_hidden_cpu",
        "full session, dashboard hidden: compositor CPU ms per s (Nexquelium only)",
        false,
    );
}

/// Lengths of the session's windows: settle, shown, hidden.
pub struct SessionWindows {
    pub settle: Duration,
    pub shown: Duration,
    pub hidden: Duration,
}

/// A full session whose hidden window is being measured in the background.
pub struct Background {
    comp: Running,
    hidden: std::thread::JoinHandle<Result<(Rates, Rates)>>,
}

/// Starts a full session and measures it with the dashboard shown; then hides the dashboard
/// through the control socket and returns, leaving a thread to measure the hidden window (after
/// Sentry's first 30 s). The session is idle then, so the other compositors are measured
/// meanwhile; [`Background::finish`] collects the figures.
pub fn start(launcher: &Launcher, tag: &str, win: &SessionWindows, r: &mut Results) -> Result<Background> {
    let comp = launcher.start_session(tag)?;
    let dashboard = match measure_shown(launcher, &comp, tag, win, r) {
        Ok(pid) => pid,
        Err(e) => {
            comp.stop();
            return Err(e);
        }
    };
    let (pid, launched, settle, window) = (comp.pid(), comp.launched, win.settle, win.hidden);
    let hidden = std::thread::spawn(move || {
        std::thread::sleep(settle);
        if let Some(left) = (launched + SUSPICION).checked_duration_since(Instant::now()) {
            std::thread::sleep(left);
        }
        sample_pair(pid, dashboard, window)
    });
    Ok(Background { comp, hidden })
}

impl Background {
    /// Waits for the hidden window to end, stops the session and records its figures.
    pub fn finish(self, r: &mut Results) -> Result<()> {
        let sampled = self.hidden.join();
        self.comp.stop();
        let (comp, dash) = sampled.map_err(|_| anyhow!("the session's sampling thread panicked"))??;
        let name = "nexquelium";
        r.push(name, "session_hidden_wakeups", comp.wakeups);
        r.push(name, "session_hidden_dashboard_wakeups", dash.wakeups);
        r.push(name, "session_hidden_cpu", comp.cpu_ms);
        Ok(())
    }
}

/// Waits for the dashboard, measures the session with it shown and hides it; returns the
/// dashboard's pid.
fn measure_shown(
    launcher: &Launcher,
    comp: &Running,
    tag: &str,
    win: &SessionWindows,
    r: &mut Results,
) -> Result<u32> {
    let name = "nexquelium";
    let log = launcher.work_dir.join(format!("nexquelium-session-{tag}.log"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains(DASHBOARD_MAPPED)) {
        if Instant::now() > deadline {
            bail!("the dashboard did not show within 30 s (see {})", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let dashboard = dashboard_pid(comp.pid()).context("no sentry-dashboard process in the session")?;
    let control = comp.runtime_dir.join("wayland-bench.control");

    std::thread::sleep(win.settle);
    let (shown_comp, shown_dash) = sample_pair(comp.pid(), dashboard, win.shown)?;
    r.push(name, "session_shown_wakeups", shown_comp.wakeups);
    r.push(name, "session_shown_dashboard_cpu", shown_dash.cpu_ms);

    control_request(&control, r#"{"request":"dashboard","action":"hide"}"#)?;
    Ok(dashboard)
}

/// Per-second rates over a window.
struct Rates {
    wakeups: f64,
    cpu_ms: f64,
}

fn sample_pair(comp: u32, dashboard: u32, window: Duration) -> Result<(Rates, Rates)> {
    let a0 = measure::sample_process(comp).context("the compositor exited")?;
    let b0 = measure::sample_process(dashboard).context("the dashboard exited")?;
    let t = Instant::now();
    std::thread::sleep(window);
    let a1 = measure::sample_process(comp).context("the compositor exited")?;
    let b1 = measure::sample_process(dashboard).context("the dashboard exited")?;
    let secs = t.elapsed().as_secs_f64();
    let rates = |x0: &measure::ProcSample, x1: &measure::ProcSample| Rates {
        wakeups: x1.ctxt_switches.saturating_sub(x0.ctxt_switches) as f64 / secs,
        cpu_ms: x1.cpu_ms_since(x0) / secs,
    };
    Ok((rates(&a0, &a1), rates(&b0, &b1)))
}

/// The session's dashboard: a `sentry-dashboard` process among the compositor's descendants.
fn dashboard_pid(session: u32) -> Option<u32> {
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split_whitespace().nth(1)?.parse().ok()
    };
    let descends = |mut pid: u32| {
        for _ in 0..16 {
            match parent_of(pid) {
                Some(p) if p == session => return true,
                Some(p) if p > 1 => pid = p,
                _ => return false,
            }
        }
        false
    };
    std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sentry-dashboar")
                && descends(pid)
        })
}

/// One request on the control socket; an error reply is an error.
fn control_request(socket: &Path, line: &str) -> Result<String> {
    let mut stream =
        UnixStream::connect(socket).with_context(|| format!("connecting to {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    if !reply.starts_with(r#"{"ok""#) {
        bail!("{line} answered {}", reply.trim());
    }
    Ok(reply)
}

/// The boot timings the last `./x test` wrote (`target/exosphere/boot-tests/timings.log`), with
/// the file's modification time; `None` when there are none.
pub fn boot_timings(repo: &Path) -> Option<(String, Vec<String>)> {
    let path = repo.join("target/exosphere/boot-tests/timings.log");
    let text = std::fs::read_to_string(&path).ok()?;
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    if lines.is_empty() {
        return None;
    }
    let when = std::process::Command::new("date")
        .args(["-u", "-r"])
        .arg(&path)
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Some((when, lines))
}
