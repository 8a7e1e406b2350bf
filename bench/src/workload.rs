//! The workloads of one repetition: each compositor is launched (start-up, first frame of a
//! static window) while the others are paused, all of them are measured idle together, then each
//! in turn runs the loads and screencopy alone while the others stay paused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::compositors::{Kind, Launcher, Running};
use crate::report::Results;
use crate::{client, measure, Windows, CLIENT_SIZE, LOADS, STACKED_LOADS};

/// A test client process and the file where it counts frame callbacks.
pub struct TestClient {
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

    fn pid(&self) -> u32 {
        self.child.id()
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

/// One measured window of a compositor. `others` are the processes whose CPU time is ours, not
/// background (the test clients; other compositors measured at the same time).
struct Window {
    start: Instant,
    comp: measure::ProcSample,
    machine: measure::MachineCpu,
    others_ticks: u64,
}

fn ticks_of(pids: &[u32]) -> u64 {
    pids.iter().map(|&pid| measure::process_cpu_ticks(pid)).sum()
}

impl Window {
    fn open(pid: u32, others: &[u32]) -> Result<Self> {
        Ok(Window {
            start: Instant::now(),
            comp: measure::sample_process(pid).context("the compositor exited")?,
            machine: measure::sample_machine(),
            others_ticks: ticks_of(others),
        })
    }

    /// (seconds, compositor CPU ms, compositor context switches); records the background load.
    fn close(self, pid: u32, others: &[u32], r: &mut Results, comp: &str) -> Result<(f64, f64, f64)> {
        let comp_now = measure::sample_process(pid).context("the compositor exited")?;
        let machine = measure::sample_machine();
        let secs = self.start.elapsed().as_secs_f64();
        let comp_ticks = comp_now.cpu_ticks.saturating_sub(self.comp.cpu_ticks);
        let ours = comp_ticks + ticks_of(others).saturating_sub(self.others_ticks);
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

/// A compositor launched for one repetition, with its static window.
pub struct Launched {
    comp: Running,
    socket: PathBuf,
    /// Where its test clients keep their logs and count files.
    dir: PathBuf,
    idle_client: Option<TestClient>,
}

impl Launched {
    pub fn kind(&self) -> Kind {
        self.comp.kind
    }

    /// Pauses the compositor while others are launched or measured.
    pub fn pause(&self) {
        self.comp.pause();
    }

    /// Stops the compositor (and the static client if it still runs).
    pub fn stop(mut self) {
        if let Some(c) = self.idle_client.take() {
            c.stop();
        }
        self.comp.stop();
    }
}

/// Start-up: `win.launches - 1` launches timed to the first round trip and stopped, then the
/// launch that stays, timed the same way, and its static window timed to its first frame
/// callback. The caller pauses it before launching the next compositor.
pub fn launch(launcher: &Launcher, kind: Kind, tag: &str, win: Windows, r: &mut Results) -> Result<Launched> {
    for i in 1..win.launches {
        start_timed(launcher, kind, &format!("{tag}-launch{i}"), r)?
            .0
            .stop();
    }
    let (comp, socket) = start_timed(launcher, kind, tag, r)?;
    let dir = comp
        .runtime_dir
        .parent()
        .unwrap_or(Path::new("/tmp"))
        .join(format!("{}-clients", kind.name()));
    let mut launched = Launched {
        comp,
        socket,
        dir,
        idle_client: None,
    };
    match static_window(&launched, r) {
        Ok(client) => launched.idle_client = Some(client),
        Err(e) => {
            launched.stop();
            return Err(e);
        }
    }
    Ok(launched)
}

/// Starts `kind` and records the time from launch to its first round trip; returns it with its
/// socket, or stops it and returns the error.
fn start_timed(launcher: &Launcher, kind: Kind, tag: &str, r: &mut Results) -> Result<(Running, PathBuf)> {
    let comp = launcher.start(kind, tag)?;
    match client::wait_for_sync(|| comp.socket(), Duration::from_secs(15)) {
        Ok(socket) => {
            r.push(
                kind.name(),
                "startup_ms",
                comp.launched.elapsed().as_secs_f64() * 1000.0,
            );
            Ok((comp, socket))
        }
        Err(e) => {
            comp.stop();
            Err(e)
        }
    }
}

/// The static window of `l`, with the time from spawning it to its first frame callback.
fn static_window(l: &Launched, r: &mut Results) -> Result<TestClient> {
    let name = l.comp.kind.name();
    std::fs::create_dir_all(&l.dir)?;
    let t = Instant::now();
    let client = TestClient::spawn(&l.socket, &l.dir, "static", false)?;
    if wait_first_frames(std::slice::from_ref(&client), Duration::from_secs(5)) {
        r.push(name, "first_frame_ms", t.elapsed().as_secs_f64() * 1000.0);
    } else {
        r.note(name, "first_frame_ms", "no frame");
    }
    Ok(client)
}

/// Idle: every launched compositor, resumed, with its static window; after the settle time all
/// are measured over the same window (an idle compositor barely uses the CPU, and what each
/// measures is its own wakeups and CPU time). The static clients are then stopped and every
/// compositor paused again.
pub fn measure_idle(all: &mut [Launched], win: Windows, r: &mut Results) {
    for l in all.iter() {
        l.comp.resume();
    }
    std::thread::sleep(win.settle);
    let pids: Vec<u32> = all.iter().map(|l| l.comp.pid()).collect();
    let others = |pid: u32| -> Vec<u32> { pids.iter().copied().filter(|&p| p != pid).collect() };
    let windows: Vec<Result<Window>> = pids.iter().map(|&pid| Window::open(pid, &others(pid))).collect();
    std::thread::sleep(win.idle);
    for (l, w) in all.iter_mut().zip(windows) {
        let name = l.comp.kind.name();
        let pid = l.comp.pid();
        match w.and_then(|w| w.close(pid, &others(pid), r, name)) {
            Ok((secs, cpu_ms, ctxt)) => {
                r.push(name, "idle_cpu", cpu_ms / secs);
                r.push(name, "idle_wakeups", ctxt / secs);
            }
            Err(e) => eprintln!("exo-bench: {name} idle: {e:#}"),
        }
        if let Some(c) = l.idle_client.take() {
            c.stop();
        }
    }
    for l in all.iter() {
        l.comp.pause();
    }
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
    let client_pids: Vec<u32> = clients.iter().map(TestClient::pid).collect();
    let measured = Window::open(pid, &client_pids).and_then(|w| {
        std::thread::sleep(win.load);
        w.close(pid, &client_pids, r, name)
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
pub fn bench_stacked(launcher: &Launcher, tag: &str, win: Windows, r: &mut Results) -> Result<()> {
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

/// The loads and screencopy of one compositor, resumed for them (the caller keeps the others
/// paused), then its peak RSS. The caller stops it afterwards.
pub fn run_loads(l: &Launched, win: Windows, r: &mut Results) -> Result<()> {
    l.comp.resume();
    let name = l.comp.kind.name();
    let pid = l.comp.pid();
    for k in LOADS {
        let load = measure_load(pid, &l.socket, &l.dir, k, win, r, name)?;
        match load.cpu_per_frame {
            Some(ms) => r.push(name, &format!("load{k}_cpu"), ms),
            None => r.note(name, &format!("load{k}_cpu"), "no frames"),
        }
        r.push(name, &format!("load{k}_fps"), load.client_fps);
    }

    if l.comp.kind.has_screencopy() {
        screencopy(l, win, r)?;
    } else {
        r.note(name, "screencopy", "n/a");
    }

    // Peak RSS over the whole lifetime.
    if let Some(kib) = measure::peak_rss_kib(pid) {
        r.push(name, "peak_rss", kib as f64 / 1024.0);
    }
    Ok(())
}

/// `grim` run back to back for the screencopy window; successful captures per second.
fn screencopy(l: &Launched, win: Windows, r: &mut Results) -> Result<()> {
    let name = l.comp.kind.name();
    let t = Instant::now();
    let mut ok = 0u32;
    let mut failed = 0u32;
    while t.elapsed() < win.screencopy {
        let status = Command::new("grim")
            .args(["-t", "ppm", "-"])
            .env("WAYLAND_DISPLAY", &l.socket)
            .env("XDG_RUNTIME_DIR", &l.comp.runtime_dir)
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
    Ok(())
}
