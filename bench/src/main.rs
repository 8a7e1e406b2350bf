//! exo-bench: Nexquelium against Weston, Sway and cage — headless, pixman, 1280x720 — with the
//! same workloads, interleaved in one run. See docs/benchmarks.md.

mod client;
mod compositors;
mod measure;
mod report;
mod session;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use compositors::{Kind, Launcher, Running};
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
    /// Compositors to run, comma-separated (nexquelium,weston,sway,cage); Nexquelium comes first.
    #[arg(long, value_delimiter = ',', default_value = "nexquelium,weston,sway,cage")]
    only: Vec<String>,
    /// Markdown report to write.
    #[arg(long, default_value = "docs/benchmarks.md")]
    doc: PathBuf,
    /// Print the table only; do not write the markdown report.
    #[arg(long)]
    no_doc: bool,
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

fn declare_metrics(r: &mut Results) {
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
    for k in STACKED_LOADS {
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
    let mut kinds = Vec::new();
    for name in &cli.only {
        kinds.push(Kind::parse(name).with_context(|| format!("unknown compositor {name:?}"))?);
    }
    kinds.sort_by_key(|k| Kind::ALL.iter().position(|a| a == k));
    kinds.dedup();
    if kinds.contains(&Kind::Nexquelium) && !cli.nexquelium.exists() {
        bail!(
            "{} not found: build it with `cargo build --release -p nexquelium`",
            cli.nexquelium.display()
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
    declare_metrics(&mut results);
    let started = Instant::now();
    for rep in 0..reps {
        let mut order = kinds.clone();
        order.rotate_left(rep % kinds.len());
        for kind in order {
            eprintln!(
                "exo-bench: repetition {}/{reps}: {} ({:.0} s elapsed)",
                rep + 1,
                kind.name(),
                started.elapsed().as_secs_f64()
            );
            if let Err(e) = bench_one(&launcher, kind, &format!("r{rep}"), win, &mut results) {
                eprintln!("exo-bench: {}: {e:#}", kind.name());
            }
            if kind == Kind::Nexquelium {
                eprintln!("exo-bench: nexquelium with stacked windows (about 25 s)");
                if let Err(e) = bench_stacked(&launcher, &format!("r{rep}"), win, &mut results) {
                    eprintln!("exo-bench: nexquelium with stacked windows: {e:#}");
                }
            }
            // Once: its hidden minute is long, and its figures barely vary.
            if kind == Kind::Nexquelium && rep == 0 {
                eprintln!("exo-bench: nexquelium as a full session (about 100 s)");
                let session_win = session_windows(cli.quick);
                if let Err(e) = session::run(&launcher, &format!("r{rep}"), &session_win, &mut results) {
                    eprintln!("exo-bench: nexquelium full session: {e:#}");
                }
            }
        }
    }
    let duration_s = started.elapsed().as_secs_f64();
    // The stacked rows compare with the peers' own load figures, which draw their usual picture.
    for k in STACKED_LOADS {
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

/// A test client process and the file where it counts frame callbacks.
struct TestClient {
    child: Child,
    count_file: PathBuf,
}

impl TestClient {
    fn spawn(socket: &Path, dir: &Path, name: &str, animate: bool) -> Result<Self> {
        let count_file = dir.join(format!("{name}.count"));
        let _ = std::fs::remove_file(&count_file);
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("client")
            .arg("--socket")
            .arg(socket)
            .arg("--size")
            .arg(CLIENT_SIZE.to_string());
        cmd.arg("--count-file").arg(&count_file);
        if animate {
            cmd.arg("--animate");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        Ok(TestClient { child, count_file })
    }

    fn frames(&self) -> u64 {
        client::read_count(&self.count_file)
    }

    fn stop(mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// Waits until every client has had a frame callback (cage shows only the newest toplevel, so
/// the others may never get one: give up after `timeout`).
fn wait_first_frames(clients: &[TestClient], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if clients.iter().all(|c| c.frames() > 0) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

struct Window {
    start: Instant,
    comp: measure::ProcSample,
    machine: measure::MachineCpu,
    clients_ticks: u64,
}

impl Window {
    fn open(pid: u32, clients: &[TestClient]) -> Result<Self> {
        Ok(Window {
            start: Instant::now(),
            comp: measure::sample_process(pid).context("the compositor exited")?,
            machine: measure::sample_machine(),
            clients_ticks: clients
                .iter()
                .map(|c| measure::process_cpu_ticks(c.child.id()))
                .sum(),
        })
    }

    /// (seconds, compositor CPU ms, compositor context switches); records the background load.
    fn close(self, pid: u32, clients: &[TestClient], r: &mut Results, comp: &str) -> Result<(f64, f64, f64)> {
        let comp_now = measure::sample_process(pid).context("the compositor exited")?;
        let machine = measure::sample_machine();
        let secs = self.start.elapsed().as_secs_f64();
        let clients_ticks: u64 = clients
            .iter()
            .map(|c| measure::process_cpu_ticks(c.child.id()))
            .sum();
        let comp_ticks = comp_now.cpu_ticks.saturating_sub(self.comp.cpu_ticks);
        let ours = comp_ticks + clients_ticks.saturating_sub(self.clients_ticks);
        r.background(
            comp,
            measure::background_percent(self.machine, machine, ours),
            measure::loadavg(),
        );
        let cpu_ms = comp_now.cpu_ms_since(&self.comp);
        let ctxt = comp_now.ctxt_switches.saturating_sub(self.comp.ctxt_switches) as f64;
        Ok((secs, cpu_ms, ctxt))
    }
}

fn bench_one(launcher: &Launcher, kind: Kind, tag: &str, win: Windows, r: &mut Results) -> Result<()> {
    for i in 1..win.launches {
        let comp = launcher.start(kind, &format!("{tag}-launch{i}"))?;
        let synced = client::wait_for_sync(|| comp.socket(), Duration::from_secs(15));
        let elapsed = comp.launched.elapsed();
        comp.stop();
        synced?;
        r.push(kind.name(), "startup_ms", elapsed.as_secs_f64() * 1000.0);
    }
    let comp = launcher.start(kind, tag)?;
    let result = run_workloads(&comp, win, r);
    comp.stop();
    result
}

/// What one load window measured.
struct Load {
    /// Compositor CPU ms per output frame; `None` when no client saw a frame.
    cpu_per_frame: Option<f64>,
    /// Frame callbacks received by all clients together per second.
    client_fps: f64,
}

/// `k` animated clients on `socket`: after their first frames and the warm-up, one measured
/// window of the compositor `pid` (its background load recorded under `name`).
fn measure_load(
    pid: u32,
    socket: &Path,
    dir: &Path,
    k: usize,
    win: Windows,
    r: &mut Results,
    name: &str,
) -> Result<Load> {
    let clients: Vec<TestClient> = (0..k)
        .map(|i| TestClient::spawn(socket, dir, &format!("load{k}-{i}"), true))
        .collect::<Result<_>>()?;
    wait_first_frames(&clients, Duration::from_secs(5));
    std::thread::sleep(win.warmup);
    let before: Vec<u64> = clients.iter().map(TestClient::frames).collect();
    let measured = Window::open(pid, &clients).and_then(|w| {
        std::thread::sleep(win.load);
        w.close(pid, &clients, r, name)
    });
    let deltas: Vec<u64> = clients
        .iter()
        .zip(&before)
        .map(|(c, b)| c.frames().saturating_sub(*b))
        .collect();
    for c in clients {
        c.stop();
    }
    let (secs, cpu_ms, _) = measured?;
    // Output frames: every repaint sends a frame callback to each visible client, so the client
    // with the most callbacks saw (about) every output frame.
    let output_frames = deltas.iter().copied().max().unwrap_or(0);
    let total: u64 = deltas.iter().sum();
    Ok(Load {
        cpu_per_frame: (output_frames > 0).then(|| cpu_ms / output_frames as f64),
        client_fps: total as f64 / secs,
    })
}

/// Nexquelium placing every window in the middle (see `Launcher::start_stacked`): the loads of
/// [`STACKED_LOADS`] again, with the picture cage shows.
fn bench_stacked(launcher: &Launcher, tag: &str, win: Windows, r: &mut Results) -> Result<()> {
    let comp = launcher.start_stacked(tag)?;
    let result = (|| {
        let socket = client::wait_for_sync(|| comp.socket(), Duration::from_secs(15))?;
        let dir = launcher.work_dir.join("nexquelium-stacked-clients");
        std::fs::create_dir_all(&dir)?;
        for k in STACKED_LOADS {
            let load = measure_load(comp.pid(), &socket, &dir, k, win, r, "nexquelium")?;
            match load.cpu_per_frame {
                Some(ms) => r.push("nexquelium", &format!("stacked{k}_cpu"), ms),
                None => r.note("nexquelium", &format!("stacked{k}_cpu"), "no frames"),
            }
        }
        Ok(())
    })();
    comp.stop();
    result
}

fn run_workloads(comp: &Running, win: Windows, r: &mut Results) -> Result<()> {
    let name = comp.kind.name();
    let pid = comp.pid();
    let dir = comp
        .runtime_dir
        .parent()
        .unwrap_or(Path::new("/tmp"))
        .join(format!("{name}-clients"));
    std::fs::create_dir_all(&dir)?;

    // (1) startup: launch → first successful sync round trip.
    let socket = client::wait_for_sync(|| comp.socket(), Duration::from_secs(15))?;
    r.push(name, "startup_ms", comp.launched.elapsed().as_secs_f64() * 1000.0);

    // (2) idle with one static window.
    let t = Instant::now();
    let idle_client = TestClient::spawn(&socket, &dir, "static", false)?;
    if wait_first_frames(std::slice::from_ref(&idle_client), Duration::from_secs(5)) {
        r.push(name, "first_frame_ms", t.elapsed().as_secs_f64() * 1000.0);
    } else {
        r.note(name, "first_frame_ms", "no frame");
    }
    std::thread::sleep(win.settle);
    let w = Window::open(pid, &[])?;
    std::thread::sleep(win.idle);
    let (secs, cpu_ms, ctxt) = w.close(pid, &[], r, name)?;
    r.push(name, "idle_cpu", cpu_ms / secs);
    r.push(name, "idle_wakeups", ctxt / secs);
    idle_client.stop();

    // (3) load: K animated clients.
    for k in LOADS {
        let load = measure_load(pid, &socket, &dir, k, win, r, name)?;
        match load.cpu_per_frame {
            Some(ms) => r.push(name, &format!("load{k}_cpu"), ms),
            None => r.note(name, &format!("load{k}_cpu"), "no frames"),
        }
        r.push(name, &format!("load{k}_fps"), load.client_fps);
    }

    // (5) screencopy with grim, back to back.
    if comp.kind.has_screencopy() {
        let t = Instant::now();
        let mut ok = 0u32;
        let mut failed = 0u32;
        while t.elapsed() < win.screencopy {
            let status = Command::new("grim")
                .args(["-t", "ppm", "-"])
                .env("WAYLAND_DISPLAY", &socket)
                .env("XDG_RUNTIME_DIR", &comp.runtime_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            if status.success() {
                ok += 1;
            } else {
                failed += 1;
                if ok == 0 && failed >= 3 {
                    break;
                }
            }
        }
        if ok > 0 {
            r.push(name, "screencopy", ok as f64 / t.elapsed().as_secs_f64());
        } else {
            r.note(name, "screencopy", "failed");
        }
    } else {
        r.note(name, "screencopy", "n/a");
    }

    // (4) peak RSS over the whole lifetime.
    if let Some(kib) = measure::peak_rss_kib(pid) {
        r.push(name, "peak_rss", kib as f64 / 1024.0);
    }
    Ok(())
}
