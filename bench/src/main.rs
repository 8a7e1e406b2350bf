//! exo-bench: Nexquelium against Weston, Sway and cage — headless, pixman, 1280x720 — with the
//! same workloads, interleaved in one run. See docs/benchmarks.md.

mod client;
mod compositors;
mod measure;
mod report;
mod session;
mod workload;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use compositors::{Kind, Launcher};
use report::Results;

#[derive(Parser)]
#[command(
    name = "exo-bench",
    about = "Benchmark Nexquelium against Weston, Sway and cage (headless, pixman, 1280x720)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Repetitions; the compositor order is rotated each repetition.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Smoke run: one repetition and short windows.
    #[arg(long)]
    quick: bool,
    /// The Nexquelium binary (a release build).
    #[arg(long, default_value = "target/release/nexquelium")]
    nexquelium: PathBuf,
    /// Compositors to run, comma-separated (nexquelium,weston,sway,cage,smithay-floor); Nexquelium
    /// comes first.
    #[arg(long, value_delimiter = ',', default_value = "nexquelium,weston,sway,cage")]
    only: Vec<String>,
    /// Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks.md")]
    doc: PathBuf,
    /// Print the table only; do not write the markdown report.
    #[arg(long)]
    no_doc: bool,
    /// Also measure Nexquelium with its windows stacked as cage shows them (`placement =
    /// "centre"`): its K=4 and K=16 loads again, in an instance of its own each repetition
    /// (about 70 s more).
    #[arg(long)]
    stacked: bool,
    /// Also run `smithay-floor` (bench/floor, next to the Nexquelium binary): a minimal Smithay
    /// compositor, the cost of the stack Nexquelium is built on (about 100 s more).
    #[arg(long)]
    floor: bool,
    /// Do not install missing Debian packages (weston sway cage xwayland grim) with apt-get.
    #[arg(long)]
    no_install: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// The Wayland test client: one xdg_toplevel with a SIZE×SIZE XRGB8888 shm buffer.
    Client {
        /// Compositor socket (absolute path).
        #[arg(long)]
        socket: PathBuf,
        #[arg(long, default_value_t = 256)]
        size: u32,
        /// Rewrite every pixel each frame, full damage, paced by frame callbacks.
        #[arg(long)]
        animate: bool,
        /// Store the number of frame callbacks received (u64 LE) in this file after each one.
        #[arg(long)]
        count_file: Option<PathBuf>,
    },
}

/// Lengths of the measured windows.
#[derive(Clone, Copy)]
struct Windows {
    settle: Duration,
    idle: Duration,
    warmup: Duration,
    load: Duration,
    screencopy: Duration,
    /// Launches per repetition timed to the first round trip (the last one also runs the
    /// workloads): start-up is one short sample, easily thrown by the shared machine.
    launches: usize,
}

impl Windows {
    fn new(quick: bool) -> Self {
        let s = Duration::from_secs_f64;
        if quick {
            Windows {
                settle: s(1.0),
                idle: s(3.0),
                warmup: s(0.5),
                load: s(3.0),
                screencopy: s(2.0),
                launches: 1,
            }
        } else {
            Windows {
                settle: s(2.0),
                idle: s(10.0),
                warmup: s(1.0),
                load: s(10.0),
                screencopy: s(5.0),
                launches: 5,
            }
        }
    }
}

const LOADS: [usize; 3] = [1, 4, 16];
/// Loads run again with Nexquelium's windows stacked (K=1 shows the same picture either way).
const STACKED_LOADS: [usize; 2] = [4, 16];

/// The full session's windows: a long hidden window, since its target is under one wakeup in
/// ten seconds on average.
fn session_windows(quick: bool) -> session::SessionWindows {
    let s = Duration::from_secs_f64;
    if quick {
        session::SessionWindows {
            settle: s(1.0),
            shown: s(3.0),
            hidden: s(5.0),
        }
    } else {
        session::SessionWindows {
            settle: s(2.0),
            shown: s(5.0),
            // A whole minute, so that the panel clock's tick is averaged as the target says.
            hidden: s(60.0),
        }
    }
}
const CLIENT_SIZE: u32 = 256;

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(Cmd::Client {
        socket,
        size,
        animate,
        count_file,
    }) = &cli.cmd
    {
        return client::run(socket, *size, *animate, count_file.as_deref());
    }
    bench(&cli)
}

/// Ctrl+C, SIGTERM or SIGHUP stop the compositors before exo-bench exits: they run in process
/// groups of their own, which the terminal's Ctrl+C does not reach, and some are paused. Must
/// run before any other thread starts, since threads inherit the blocked signals (children do
/// not: std clears the mask before exec).
fn stop_compositors_on_signals() -> Result<()> {
    // SAFETY: an empty set filled with three valid signals, blocked in this (the only) thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            bail!("cannot block SIGINT, SIGTERM and SIGHUP");
        }
        set
    };
    std::thread::spawn(move || {
        let mut sig = 0;
        // SAFETY: waits for one of the signals of `set`, which every thread has blocked.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            return;
        }
        eprintln!("exo-bench: signal {sig}: stopping the compositors, no report written");
        compositors::stop_all(Duration::from_secs(3));
        std::process::exit(128 + sig);
    });
    Ok(())
}

fn declare_metrics(r: &mut Results, stacked: bool) {
    r.metric("startup_ms", "startup: launch → first wl_display.sync, ms", false);
    r.metric(
        "first_frame_ms",
        "static window: client start → first frame callback, ms",
        false,
    );
    r.metric("idle_cpu", "idle: CPU ms per s", false);
    r.metric("idle_wakeups", "idle: wakeups (context switches) per s", false);
    for k in LOADS {
        r.metric(
            &format!("load{k}_cpu"),
            &format!("load K={k}: CPU ms per output frame"),
            false,
        );
        r.metric(
            &format!("load{k}_fps"),
            &format!("load K={k}: client frames per s (all clients)"),
            true,
        );
    }
    for k in STACKED_LOADS.iter().filter(|_| stacked) {
        r.metric(
            &format!("stacked{k}_cpu"),
            &format!(
                "load K={k}, Nexquelium's windows stacked (placement = \"centre\"; peers: their K={k} figures above): CPU ms per output frame"
            ),
            false,
        );
    }
    r.metric("peak_rss", "peak RSS (VmHWM), MiB", false);
    r.metric("screencopy", "screencopy: grim captures per s", true);
    session::declare_metrics(r);
}

fn bench(cli: &Cli) -> Result<()> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        bail!(
            "run as root: peers are started as the unprivileged user {}",
            compositors::USER
        );
    }
    stop_compositors_on_signals()?;
    let mut kinds = Vec::new();
    for name in &cli.only {
        kinds.push(Kind::parse(name).with_context(|| format!("unknown compositor {name:?}"))?);
    }
    if cli.floor {
        kinds.push(Kind::Floor);
    }
    kinds.sort_by_key(|k| Kind::ALL.iter().position(|a| a == k));
    kinds.dedup();
    if kinds.contains(&Kind::Nexquelium) && !cli.nexquelium.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p nexquelium`",
            cli.nexquelium.display()
        );
    }
    let floor = cli.nexquelium.with_file_name("smithay-floor");
    if kinds.contains(&Kind::Floor) && !floor.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p smithay-floor`",
            floor.display()
        );
    }
    if !cli.no_install {
        compositors::ensure_packages()?;
    }
    let peer_ids = compositors::ensure_user()?;
    let work_dir = PathBuf::from(format!("/tmp/exo-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work_dir)?;
    let launcher = Launcher {
        nexquelium: std::fs::canonicalize(&cli.nexquelium)?,
        work_dir,
        peer_ids,
    };
    let reps = if cli.quick { 1 } else { cli.reps.max(1) };
    let win = Windows::new(cli.quick);

    let mut results = Results {
        compositors: kinds.iter().map(|k| k.name().to_string()).collect(),
        ..Default::default()
    };
    declare_metrics(&mut results, cli.stacked);
    let started = Instant::now();
    // The full session first: once its dashboard is hidden it idles, and its long hidden window
    // is measured while the first repetition runs.
    let mut session = None;
    if kinds.contains(&Kind::Nexquelium) {
        eprintln!(
            "exo-bench: nexquelium as a full session (about 15 s, then its idle minute runs alongside)"
        );
        match session::start(&launcher, "r0", &session_windows(cli.quick), &mut results) {
            Ok(background) => session = Some(background),
            Err(e) => eprintln!("exo-bench: nexquelium full session: {e:#}"),
        }
    }
    for rep in 0..reps {
        let mut order = kinds.clone();
        order.rotate_left(rep % kinds.len());
        let tag = format!("r{rep}");
        repetition(&launcher, &order, &tag, win, cli.stacked, &mut results, |what| {
            eprintln!(
                "exo-bench: repetition {}/{reps}: {what} ({:.0} s elapsed)",
                rep + 1,
                started.elapsed().as_secs_f64()
            )
        });
        if let Some(background) = session.take() {
            if let Err(e) = background.finish(&mut results) {
                eprintln!("exo-bench: nexquelium full session: {e:#}");
            }
        }
    }
    let duration_s = started.elapsed().as_secs_f64();
    // The stacked rows compare with the peers' own load figures, which draw their usual picture.
    for k in STACKED_LOADS.iter().filter(|_| cli.stacked) {
        for peer in kinds.iter().filter(|kind| **kind != Kind::Nexquelium) {
            let load = (peer.name().to_string(), format!("load{k}_cpu"));
            if let Some(cell) = results.cells.get(&load).cloned() {
                results
                    .cells
                    .insert((peer.name().to_string(), format!("stacked{k}_cpu")), cell);
            }
        }
    }
    print!("{}", report::render_text(&results));

    if !cli.no_doc {
        let (cpu_model, cores, kernel) = measure::machine_facts();
        let date = Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let info = report::RunInfo {
            date,
            cpu_model,
            cores,
            kernel,
            reps,
            quick: cli.quick,
            duration_s,
        };
        let boot = session::boot_timings(Path::new("."));
        let existing = std::fs::read_to_string(&cli.doc).ok();
        let doc = format!(
            "{}\n{}\n{}\n{}",
            report::METHOD,
            report::render_results_markdown(&results, &info),
            report::render_boot_timings(boot.as_ref()),
            report::kept_part(existing.as_deref())
        );
        std::fs::write(&cli.doc, doc).with_context(|| format!("writing {}", cli.doc.display()))?;
        eprintln!("exo-bench: wrote {}", cli.doc.display());
    }
    let _ = std::fs::remove_dir_all(&launcher.work_dir);
    Ok(())
}

/// One repetition: each compositor in `order` is launched while the ones before it are paused;
/// all are measured idle together; then each in turn, alone, runs the loads and screencopy and
/// is stopped (with `stacked`, Nexquelium's stacked instance right after it).
fn repetition(
    launcher: &Launcher,
    order: &[Kind],
    tag: &str,
    win: Windows,
    stacked: bool,
    r: &mut Results,
    progress: impl Fn(&str),
) {
    let mut launched = Vec::new();
    for &kind in order {
        progress(&format!("launching {}", kind.name()));
        match workload::launch(launcher, kind, tag, win, r) {
            Ok(l) => {
                l.pause();
                launched.push(l);
            }
            Err(e) => eprintln!("exo-bench: {}: {e:#}", kind.name()),
        }
    }
    progress("all idle");
    workload::measure_idle(&mut launched, win, r);
    for l in launched {
        let kind = l.kind();
        progress(&format!("{} under load", kind.name()));
        if let Err(e) = workload::run_loads(&l, win, r) {
            eprintln!("exo-bench: {}: {e:#}", kind.name());
        }
        l.stop();
        if kind == Kind::Nexquelium && stacked {
            progress("nexquelium with stacked windows");
            if let Err(e) = workload::bench_stacked(launcher, tag, win, r) {
                eprintln!("exo-bench: nexquelium with stacked windows: {e:#}");
            }
        }
    }
}
