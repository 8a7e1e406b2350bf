//! `exoctl top`: a live per-capsule table of memory, CPU and tasks, from the `samples` stream
//! and the `capsules` list, redrawn every second (`--once`: one table, then exit).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;

use exo_shell::control::{CapsuleInfo, ControlClient, Pushed, Request};
use exo_shell::sentry::Sample;

use super::print::{format_uptime, table_lines};

/// How long `--once` waits for a sample of every running capsule.
const ONCE_WAIT: Duration = Duration::from_secs(4);
const REDRAW: Duration = Duration::from_secs(1);
/// How often `--once` looks at the capsule list again while it waits.
const ONCE_POLL: Duration = Duration::from_millis(250);

/// `512`, `12.5K`, `300.0M`, `1.2G`.
pub(crate) fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["K", "M", "G", "T"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1}{}", UNITS[unit])
}

/// The table's lines: one row per capsule, with its latest sample if it runs.
pub(crate) fn table(capsules: &[CapsuleInfo], samples: &BTreeMap<String, Sample>) -> Vec<String> {
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = capsules
        .iter()
        .map(|c| {
            let sample = samples.get(&c.name).filter(|_| c.pid.is_some());
            let state = if c.quarantined {
                format!("{} (quarantined)", c.status.state())
            } else {
                c.status.state().to_string()
            };
            let limit = sample.and_then(|s| {
                let limit = s.memory_limit_bytes?;
                let share = s.memory_bytes as f64 * 100.0 / limit.max(1) as f64;
                Some(format!("{} ({share:.0}%)", format_bytes(limit)))
            });
            vec![
                c.name.clone(),
                state,
                c.pid.map_or_else(dash, |p| p.to_string()),
                sample.map_or_else(dash, |s| format!("{:.1}", s.cpu_percent)),
                sample.map_or_else(dash, |s| format_bytes(s.memory_bytes)),
                limit.unwrap_or_else(dash),
                sample.map_or_else(dash, |s| s.pids.to_string()),
                c.restarts.to_string(),
                c.uptime_s.map_or_else(dash, format_uptime),
            ]
        })
        .collect();
    table_lines(
        &[
            "name", "state", "pid", "cpu%", "memory", "limit", "tasks", "restarts", "uptime",
        ],
        &rows,
    )
}

fn capsules(client: &mut ControlClient) -> anyhow::Result<Vec<CapsuleInfo>> {
    let value = client.request(&Request::Capsules)?;
    serde_json::from_value(value).context("unexpected reply to the capsules request")
}

/// Takes in pushed samples until `deadline`.
fn gather(
    client: &mut ControlClient,
    samples: &mut BTreeMap<String, Sample>,
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(());
        }
        if let Some(Pushed::Sample(sample)) = client.next_pushed_within(deadline - now)? {
            samples.insert(sample.capsule.clone(), sample);
        }
    }
}

pub(crate) fn run(client: &mut ControlClient, once: bool) -> anyhow::Result<u8> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    client.request(&Request::Samples {
        capsule: None,
        stop: false,
    })?;
    let mut samples: BTreeMap<String, Sample> = BTreeMap::new();
    if once {
        // Until every running capsule (as the list says now: they come and go) has a sample.
        let deadline = Instant::now() + ONCE_WAIT;
        let mut list = capsules(client)?;
        while Instant::now() < deadline {
            let complete = list
                .iter()
                .filter(|c| c.pid.is_some())
                .all(|c| samples.get(&c.name).is_some_and(|s| s.time_ms >= since));
            if complete {
                break;
            }
            gather(client, &mut samples, (Instant::now() + ONCE_POLL).min(deadline))?;
            list = capsules(client)?;
        }
        for line in table(&list, &samples) {
            super::events::out(&line)?;
        }
        return Ok(0);
    }
    loop {
        let started = Instant::now();
        let list = capsules(client)?;
        samples.retain(|name, _| list.iter().any(|c| c.pid.is_some() && &c.name == name));
        // Clear the screen and draw from its top.
        let mut text = String::from("\x1b[H\x1b[2J");
        for line in table(&list, &samples) {
            text.push_str(&line);
            text.push('\n');
        }
        super::events::out(text.trim_end())?;
        gather(client, &mut samples, started + REDRAW)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_shell::capsule::CapsuleStatus;

    #[test]
    fn bytes_for_people() {
        assert_eq!(format_bytes(512), "512");
        assert_eq!(format_bytes(12 * 1024 + 512), "12.5K");
        assert_eq!(format_bytes(300 << 20), "300.0M");
        assert_eq!(format_bytes(3 << 30), "3.0G");
    }

    #[test]
    fn the_table_shows_samples_of_running_capsules() {
        let info = |name: &str, pid: Option<u32>| CapsuleInfo {
            name: name.into(),
            status: match pid {
                Some(pid) => CapsuleStatus::Running { pid, since_ms: 0 },
                None => CapsuleStatus::Stopped,
            },
            pid,
            uptime_s: pid.map(|_| 75),
            restarts: 1,
            capabilities: Default::default(),
            confinement: String::new(),
            color: String::new(),
            source: String::new(),
            quarantined: false,
        };
        let mut samples = BTreeMap::new();
        samples.insert(
            "web".to_string(),
            Sample {
                time_ms: 1,
                capsule: "web".into(),
                memory_bytes: 32 << 20,
                memory_limit_bytes: Some(128 << 20),
                cpu_percent: 12.25,
                pids: 3,
                memory_pressure: None,
            },
        );
        let lines = table(&[info("web", Some(7)), info("idle", None)], &samples);
        assert_eq!(
            lines,
            [
                "name  state    pid  cpu%  memory  limit         tasks  restarts  uptime",
                "web   running  7    12.2  32.0M   128.0M (25%)  3      1         1m15s",
                "idle  stopped  -    -     -       -             -      1         -",
            ]
        );
    }
}
