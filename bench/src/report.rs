//! Results: median and min–max over repetitions, the ratio Nexquelium/peer, the printed table and
//! `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Stable key, e.g. `load16_cpu_per_frame`.
    pub key: String,
    /// Row label, e.g. `load K=16: CPU ms / output frame`.
    pub label: String,
    pub higher_is_better: bool,
}

/// What one compositor scored on one metric over the repetitions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub samples: Vec<f64>,
    /// Set when the compositor cannot do it (e.g. Weston and screencopy) or it failed.
    pub note: Option<String>,
}

/// All results of a run: compositor name → metric key → cell.
#[derive(Debug, Default)]
pub struct Results {
    pub compositors: Vec<String>,
    pub metrics: Vec<Metric>,
    pub cells: BTreeMap<(String, String), Cell>,
    /// Background load per compositor: (max percent of the machine busy with other work during a
    /// measured window, max 1-minute load average).
    pub background: BTreeMap<String, (f64, f64)>,
}

impl Results {
    pub fn metric(&mut self, key: &str, label: &str, higher_is_better: bool) {
        if !self.metrics.iter().any(|m| m.key == key) {
            self.metrics.push(Metric {
                key: key.into(),
                label: label.into(),
                higher_is_better,
            });
        }
    }

    pub fn push(&mut self, comp: &str, key: &str, value: f64) {
        self.cells
            .entry((comp.into(), key.into()))
            .or_default()
            .samples
            .push(value);
    }

    pub fn note(&mut self, comp: &str, key: &str, note: &str) {
        self.cells.entry((comp.into(), key.into())).or_default().note = Some(note.into());
    }

    pub fn background(&mut self, comp: &str, percent: f64, load: f64) {
        let e = self.background.entry(comp.into()).or_insert((0.0, 0.0));
        e.0 = e.0.max(percent);
        e.1 = e.1.max(load);
    }

    fn cell(&self, comp: &str, key: &str) -> Option<&Cell> {
        self.cells.get(&(comp.to_string(), key.to_string()))
    }

    fn median_of(&self, comp: &str, key: &str) -> Option<f64> {
        median(&self.cell(comp, key)?.samples)
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

pub fn min_max(v: &[f64]) -> Option<(f64, f64)> {
    let mut it = v.iter().copied().filter(|x| x.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x))))
}

/// `ours / peer` as text: `1.00` when both are zero, `inf` when only the peer is zero.
pub fn ratio_text(ours: Option<f64>, peer: Option<f64>) -> String {
    match (ours, peer) {
        (Some(a), Some(0.0)) => if a == 0.0 { "1.00" } else { "inf" }.into(),
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "—".into(),
    }
}

/// A number with about three significant digits.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `median (min–max)`, just the median with one sample, or the note.
pub fn cell_text(cell: Option<&Cell>) -> String {
    let Some(cell) = cell else { return "—".into() };
    match (median(&cell.samples), min_max(&cell.samples)) {
        (Some(m), Some((lo, hi))) if cell.samples.len() > 1 => {
            format!("{} ({}–{})", num(m), num(lo), num(hi))
        }
        (Some(m), _) => num(m),
        _ => cell.note.clone().unwrap_or_else(|| "—".into()),
    }
}

/// Header and rows: metric, each compositor's cell, then `<first>/<peer>` for every other one.
pub fn table_rows(r: &Results) -> (Vec<String>, Vec<Vec<String>>) {
    let ours = r.compositors.first().cloned().unwrap_or_default();
    let peers = &r.compositors[1.min(r.compositors.len())..];
    let mut header = vec!["metric".to_string()];
    header.extend(r.compositors.iter().cloned());
    header.extend(peers.iter().map(|p| format!("{ours}/{p}")));
    let rows = r
        .metrics
        .iter()
        .map(|m| {
            let dir = if m.higher_is_better { "↑" } else { "↓" };
            let mut row = vec![format!("{} {dir}", m.label)];
            row.extend(r.compositors.iter().map(|c| cell_text(r.cell(c, &m.key))));
            row.extend(
                peers
                    .iter()
                    .map(|p| ratio_text(r.median_of(&ours, &m.key), r.median_of(p, &m.key))),
            );
            row
        })
        .collect();
    (header, rows)
}

/// The table in aligned columns for the terminal.
pub fn render_text(r: &Results) -> String {
    let (header, rows) = table_rows(r);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - c.chars().count();
            if i == 0 {
                let _ = write!(s, "{c}{}", " ".repeat(pad));
            } else {
                let _ = write!(s, "  {}{c}", " ".repeat(pad));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&header);
    for row in &rows {
        out.push_str(&line(row));
    }
    out.push_str(&background_text(r));
    out
}

fn background_text(r: &Results) -> String {
    let mut s = String::from(
        "background (max during measured windows, % of all CPUs busy with other work; max loadavg-1):",
    );
    for c in &r.compositors {
        if let Some((p, l)) = r.background.get(c) {
            let _ = write!(s, " {c} {p:.1}% / {l:.2};");
        }
    }
    s.push('\n');
    s
}

/// The table as GitHub markdown.
pub fn render_markdown_table(r: &Results) -> String {
    let (header, rows) = table_rows(r);
    let mut s = format!("| {} |\n", header.join(" | "));
    s.push_str(&format!(
        "|{}\n",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
            .collect::<String>()
    ));
    for row in rows {
        s.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    s
}

/// Facts that head the report.
pub struct RunInfo {
    pub date: String,
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
    pub reps: usize,
    pub quick: bool,
    pub duration_s: f64,
}

/// The generated section of `docs/benchmarks.md`.
pub fn render_results_markdown(r: &Results, info: &RunInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Latest run\n");
    let _ = writeln!(
        s,
        "- date: {}\n- machine: {}, {} cores, Linux {}\n- repetitions: {}{} (interleaved, order rotated each \
         repetition); the run took {:.0} s\n",
        info.date,
        info.cpu_model,
        info.cores,
        info.kernel,
        info.reps,
        if info.quick { " (`--quick`: shorter windows)" } else { "" },
        info.duration_s
    );
    s.push_str("Cells are `median (min–max)` over the repetitions; ↓ lower is better, ↑ higher is better; the ratio \
                columns divide the medians.\n\n");
    s.push_str(&render_markdown_table(r));
    s.push('\n');
    s.push_str(&background_text(r));
    s
}

/// The boot-to-dashboard times the last `./x test` recorded, for the report.
pub fn render_boot_timings(boot: Option<&(String, Vec<String>)>) -> String {
    let mut s = String::from("## Boot to the dashboard in QEMU (Nexquelium only)\n\n");
    match boot {
        Some((when, lines)) => {
            let _ = writeln!(
                s,
                "Recorded by the boot tests of the last `./x test` on this machine ({when}; debug \
                 binaries, QEMU TCG, no KVM), not in this run:\n"
            );
            for line in lines {
                let _ = writeln!(s, "- {line}");
            }
        }
        None => s.push_str(
            "No boot timings: run `./x test` first (its boot tests write \
             `target/exosphere/boot-tests/timings.log`).\n",
        ),
    }
    s
}

/// Where the hand-written part of `docs/benchmarks.md` starts (profiles, the fixes tried with
/// their figures, the floors of the targets not met): a rerun keeps everything from here on.
pub const KEPT_MARKER: &str =
    "<!-- Hand-written below this line: exo-bench keeps it when it rewrites the file. -->";

/// The hand-written part of an existing report, marker included; a stub when there is none.
pub fn kept_part(existing: Option<&str>) -> String {
    match existing.and_then(|doc| doc.find(KEPT_MARKER).map(|at| &doc[at..])) {
        Some(kept) => kept.to_string(),
        None => format!("{KEPT_MARKER}\n\n## Profiles, fixes and floors\n\nNot written yet.\n"),
    }
}

/// The fixed part of `docs/benchmarks.md` (the run's results follow it).
pub const METHOD: &str = r#"# Benchmarks: Nexquelium against Weston, Sway and cage

Generated by `exo-bench` (`bench/`, run with `./x bench`; `exo-bench --help`). Do not edit the
results by hand: rerun the benchmark. The analysis at the end (profiles, fixes, floors) is
written by hand; a rerun keeps it.

## Method

Every compositor runs headless with the pixman renderer at 1280x720, **interleaved in one run**:
each repetition starts and stops every compositor once, in an order rotated by one each
repetition. A repetition has three phases: (a) each compositor in turn is launched (start-up and
static window, 1 below) and then paused with SIGSTOP to its process group, so that the next one
starts on a quiet machine; (b) all are resumed (SIGCONT) and measured idle over the same window
(2 below: idle compositors barely use the CPU, and each window counts only its own compositor's
wakeups and CPU time); (c) each in turn, alone (the others stay paused), runs the loads and
screencopy and is stopped (3–5 below). Cells give the median and the min–max over the repetitions; the ratio columns divide
Nexquelium's median by the peer's. These machines are shared: compare ratios, not absolute times.

- Nexquelium: `target/release/nexquelium --backend headless --size 1280x720 --no-autostart
  --host-caps all --socket wayland-bench`, as root, own 0700 `XDG_RUNTIME_DIR`. `./x bench` builds
  it with `cargo build --release --no-default-features`: without the nested winit backend, which
  a headless run never uses (as Weston loads only its headless backend's module).
- Weston 10: `weston --backend=headless-backend.so --use-pixman --width=1280 --height=720
  --idle-time=0` (desktop shell with its panel).
- Sway 1.7: `sway -c <config>` whose config holds only `output HEADLESS-1 mode 1280x720` (no bar, no
  background).
- cage 0.1.4: `cage -- sleep 100000` (cage needs an application; `sleep` is not a Wayland client;
  cage will not start without the Xwayland binary, so `xwayland` is installed; it stays unstarted).
- smithay-floor (only with `--floor`; `bench/floor`, built with Nexquelium, same Smithay): the
  least a Smithay 0.7 compositor does to show xdg toplevels: wl_compositor, wl_shm, xdg-shell,
  one output drawn by Smithay's damage tracker with pixman, frames paced at 60 Hz as Nexquelium
  paces them, windows cascaded 32 px apart; no title bars, borders, cursor, input or capsules.
  It is not a peer: its figures are the cost of the stack Nexquelium is built on.
- Sway and cage get `WLR_BACKENDS=headless WLR_RENDERER=pixman WLR_LIBINPUT_NO_DEVICES=1`. The peers
  run as the unprivileged system user `exobench` (sway refuses root) with their own 0700
  `XDG_RUNTIME_DIR`; the environment is cleared to PATH, HOME, XDG_RUNTIME_DIR, XDG_CONFIG_HOME,
  LANG (and the WLR variables).

The test client is `exo-bench client` (wayland-client 0.31, xdg-shell): one xdg_toplevel with a
256x256 XRGB8888 wl_shm buffer (4 buffers in one pool). It connects to the socket by path and,
after every frame callback, stores the number received so far in a count file the harness reads.
The clients and `grim` run as root and connect to each compositor's socket by its path.

What each figure measures:

1. **startup**: from `spawn()` of the compositor to the first successful `wl_display.sync` round
   trip on its socket (the harness polls every millisecond for the socket, connects and does a
   round trip). Each repetition launches each compositor 5 times (`--quick`: once), the last
   launch being the one the workloads below run in; the cell gives the median and range of all
   launches. **static window**: from spawning the static client to its first frame callback
   (includes the client's own exec and connection).
2. **idle** (all compositors of the repetition at once, phase b): the static window stays;
   after 2 s to settle, 10 s are measured: compositor CPU time
   (run time in nanoseconds summed over `/proc/PID/task/*/schedstat`; where a kernel has no
   schedstat, utime+stime from `/proc/PID/task/*/stat` at clock-tick resolution, 10 ms) per
   second of wall time, and wakeups = context switches (voluntary + nonvoluntary, summed over
   `/proc/PID/task/*/status`) per second. Only the compositor process is counted (not Weston's
   `weston-desktop-shell` child).
3. **load K** (K = 1, 4, 16): K client processes with `--animate`, each rewriting every pixel of its
   buffer each frame, attaching it with full damage, paced by frame callbacks. After all have had a
   frame callback (at most 5 s) and 1 s of warm-up, 10 s are measured. *CPU ms per output frame* =
   compositor CPU time ÷ output frames, where output frames are counted by proxy as the largest
   number of frame callbacks any one client received in the window (a repaint sends one to every
   visible client; cage shows only the newest toplevel, so the sum ÷ K would undercount it).
   *Client frames per s* = frame callbacks received by all K clients together ÷ seconds.
4. **peak RSS**: `VmHWM` of the compositor process at the end of its lifetime (after all
   workloads).
5. **screencopy**: `grim -t ppm -` (output discarded) run back to back for 5 s; successful captures
   per second. Weston 10 has no wlr-screencopy: n/a.

6. **full session** (Nexquelium only, its own instance started before the first repetition;
   one sample, so its cells have no range):
   `nexquelium` without `--no-autostart`, so it starts the repository's capsules (`hello` and
   the Sentry dashboard, a capsule with its own uid, network namespace and cgroup; the
   `sentry-dashboard` binary is taken from the Nexquelium binary's directory). Once
   Nexquelium prints `nexquelium: dashboard mapped` and 2 s have passed, 5 s are measured with
   the dashboard shown (compositor wakeups per s, and the dashboard process's CPU ms per s: it
   redraws its sparklines from the once-a-second resource samples); then the dashboard is
   hidden with the control request `dashboard hide`, and once Sentry's rules have stopped
   sampling the new capsules (they watch a capsule for its first 30 s, docs/sentry.md; the
   harness waits until 32 s after launch) a whole minute is measured
   (compositor and dashboard wakeups, compositor CPU), so that the panel clock's one tick a
   minute is averaged in, as the target says. The first repetition runs meanwhile (the hidden
   session is idle: it does not load the machine, and what is measured is its own wakeups); the
   session is stopped after that repetition.
7. **stacked windows** (only with `--stacked`; Nexquelium only, its own instance right after
   the bare one is stopped in phase c of every repetition): `nexquelium --no-autostart --config <file>` whose file holds only
   `[layout] placement = "centre"`, so every new window opens in the middle of the output and
   the K windows of one size cover each other exactly, as cage shows them (cage shows only the
   newest toplevel). The K=4 and K=16 loads are measured again as in 3; the peers' cells in those
   rows are their K=4 and K=16 figures from 3, so the ratios compare Nexquelium drawing cage's
   picture with what each peer drew. Its background load is recorded with the bare instance's
   (the background line's `nexquelium`).

**Background load**: for each measured idle and load window the harness records the share of
the machine's CPU time (`/proc/stat`, all CPUs) that was busy with something other than the
compositor and our clients, and the 1-minute load average at its end; the report gives the
maximum per compositor. A high figure marks a noisy run.

`--quick` runs one repetition with windows of 1 s settle, 3 s idle, 0.5 s warm-up, 3 s load and 2 s
screencopy (full session: 1 s settle, 3 s shown, 5 s hidden).
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 5.0]), Some(5.0));
        assert_eq!(median(&[]), None);
        assert_eq!(min_max(&[3.0, 1.0, 2.0]), Some((1.0, 3.0)));
        assert_eq!(min_max(&[]), None);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio_text(Some(1.0), Some(2.0)), "0.50");
        assert_eq!(ratio_text(Some(0.0), Some(0.0)), "1.00");
        assert_eq!(ratio_text(Some(1.0), Some(0.0)), "inf");
        assert_eq!(ratio_text(None, Some(1.0)), "—");
        assert_eq!(ratio_text(Some(1.0), None), "—");
    }

    #[test]
    fn numbers() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.12345), "0.123");
        assert_eq!(num(1.2345), "1.23");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(1234.5), "1234");
    }

    fn sample() -> Results {
        let mut r = Results {
            compositors: vec!["nexq".into(), "weston".into(), "sway".into()],
            ..Default::default()
        };
        r.metric("startup", "startup ms", false);
        r.metric("shots", "captures/s", true);
        for (c, v) in [
            ("nexq", [10.0, 12.0, 11.0]),
            ("weston", [20.0, 22.0, 24.0]),
            ("sway", [40.0, 40.0, 40.0]),
        ] {
            for x in v {
                r.push(c, "startup", x);
            }
        }
        r.push("nexq", "shots", 30.0);
        r.push("sway", "shots", 15.0);
        r.note("weston", "shots", "n/a");
        r.background("nexq", 3.0, 0.5);
        r.background("nexq", 1.0, 0.7);
        r
    }

    #[test]
    fn table_cells_and_ratio_columns() {
        let (header, rows) = table_rows(&sample());
        assert_eq!(
            header,
            ["metric", "nexq", "weston", "sway", "nexq/weston", "nexq/sway"]
        );
        assert_eq!(
            rows[0],
            [
                "startup ms ↓",
                "11.0 (10.0–12.0)",
                "22.0 (20.0–24.0)",
                "40.0 (40.0–40.0)",
                "0.50",
                "0.28"
            ]
        );
        assert_eq!(rows[1], ["captures/s ↑", "30.0", "n/a", "15.0", "—", "2.00"]);
    }

    #[test]
    fn a_rerun_keeps_the_hand_written_part() {
        let old = format!("# old\n| table |\n{KEPT_MARKER}\n\n## Profiles\n\nperf says X.\n");
        assert_eq!(
            kept_part(Some(&old)),
            format!("{KEPT_MARKER}\n\n## Profiles\n\nperf says X.\n")
        );
        assert!(kept_part(Some("# no marker")).starts_with(KEPT_MARKER));
        assert!(kept_part(None).contains("Not written yet"));
    }

    #[test]
    fn text_and_markdown() {
        let r = sample();
        let text = render_text(&r);
        assert!(text.lines().next().unwrap().starts_with("metric"));
        assert!(text.contains("nexq 3.0% / 0.70;"));
        let md = render_markdown_table(&r);
        assert!(md.starts_with("| metric | nexq | weston | sway | nexq/weston | nexq/sway |\n|---|---:|"));
        assert_eq!(md.lines().count(), 4);
        let info = RunInfo {
            date: "2026-11-27".into(),
            cpu_model: "Test CPU".into(),
            cores: 2,
            kernel: "6.1.0".into(),
            reps: 3,
            quick: false,
            duration_s: 600.0,
        };
        let doc = render_results_markdown(&r, &info);
        assert!(doc.contains("- machine: Test CPU, 2 cores, Linux 6.1.0"));
        assert!(doc.contains("| captures/s ↑ | 30.0 | n/a | 15.0 | — | 2.00 |"));
    }
}
