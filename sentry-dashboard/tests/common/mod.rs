//! Test harness: a real headless `nexquelium` with its own capsules directory, the real
//! `sentry-dashboard` against it, control requests as raw JSON lines (so v2 requests work
//! whether or not `exo_shell::control::Request` knows them yet), screenshots and OCR.
//! The session part is the minimal copy of `compositor/tests/common/mod.rs`.
#![allow(dead_code)] // each test uses a different part of the harness

pub mod image;

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 800;
/// The panel's height (its exclusive zone) in logical pixels.
pub const PANEL: i32 = 28;
/// `ui::theme::DASHBOARD_BG` and `PANEL_BG`.
pub const DASHBOARD_BG: [u8; 3] = [0x1b, 0x22, 0x2b];
pub const PANEL_BG: [u8; 3] = [0x16, 0x1b, 0x22];
/// The compositor's default background.
pub const DESKTOP: [u8; 3] = [0x1d, 0x2b, 0x3a];

/// The dashboard binary under test.
pub fn dashboard_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sentry-dashboard"))
}

/// The compositor: `$NEXQUELIUM_BIN`, else the `nexquelium` next to the dashboard, which
/// `cargo test --workspace` builds (as `compositor/tests/real_clients.rs` finds `exoctl`).
pub fn nexquelium_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NEXQUELIUM_BIN") {
        return PathBuf::from(path);
    }
    let path = dashboard_bin().with_file_name("nexquelium");
    assert!(
        path.is_file(),
        "{} does not exist: build it first with `cargo build -p nexquelium` (or run \
         `cargo test --workspace`, which builds it), or set NEXQUELIUM_BIN",
        path.display()
    );
    path
}

fn private_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sentry-dash-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod test dir");
    dir
}

/// A capsules directory with manifests written into it.
pub struct CapsuleDir(pub PathBuf);

impl CapsuleDir {
    pub fn new() -> CapsuleDir {
        CapsuleDir(private_dir("capsules"))
    }

    pub fn add(&self, name: &str, manifest: &str) {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).expect("capsule dir");
        std::fs::write(dir.join("Capsule.toml"), manifest).expect("write manifest");
    }
}

impl Drop for CapsuleDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Session {
    child: Child,
    pub runtime: PathBuf,
    pub socket: String,
    pub control: PathBuf,
    clients: Vec<Child>,
}

impl Session {
    /// A headless 1280×800 session whose system capsules are `capsules`.
    pub fn start(capsules: &CapsuleDir) -> Session {
        let runtime = private_dir("rt");
        let socket = "wayland-dash".to_string();
        let size = format!("{WIDTH}x{HEIGHT}");
        let mut child = Command::new(nexquelium_bin())
            .args(["--backend", "headless", "--socket", &socket, "--size", &size])
            // The dashboard runs as a host client in most tests and needs layer-shell.
            .args(["--host-caps", "all", "--system-capsules"])
            .arg(&capsules.0)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env("XDG_CONFIG_HOME", runtime.join("config"))
            .env("XDG_STATE_HOME", runtime.join("state"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nexquelium");
        let stdout = child.stdout.take().expect("piped stdout");
        let control = BufReader::new(stdout)
            .lines()
            .map(|line| line.expect("read nexquelium stdout"))
            .find_map(|line| line.strip_prefix("NEXQUELIUM_CONTROL=").map(PathBuf::from))
            .expect("nexquelium printed no NEXQUELIUM_CONTROL line");
        Session {
            child,
            runtime,
            socket,
            control,
            clients: Vec::new(),
        }
    }

    /// Starts the dashboard as a host client of this session (its control channel is the
    /// user's socket, given with `--socket`). Returns its process id.
    pub fn start_dashboard(&mut self) -> u32 {
        let child = Command::new(dashboard_bin())
            .arg("--socket")
            .arg(&self.control)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("WAYLAND_DISPLAY", &self.socket)
            .env_remove("NEXQUELIUM_CONTROL")
            .env_remove("EXOSPHERE_CONTROL_FD")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,egui=error".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sentry-dashboard");
        let pid = child.id();
        self.clients.push(child);
        pid
    }

    /// Sends one request line and returns its reply (`Err` with the message of an error
    /// reply).
    pub fn raw(&self, request: Value) -> Result<Value, String> {
        let stream = UnixStream::connect(&self.control).expect("connect to the control socket");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        writeln!(writer, "{request}").expect("send request");
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).expect("read reply");
        let mut reply: Value = serde_json::from_str(&line).expect("reply is JSON");
        if let Some(ok) = reply.get_mut("ok") {
            return Ok(ok.take());
        }
        Err(reply["error"].as_str().unwrap_or("?").to_string())
    }

    pub fn request(&self, request: Value) -> Value {
        let what = request.to_string();
        self.raw(request).unwrap_or_else(|e| panic!("{what} failed: {e}"))
    }

    pub fn protocol(&self) -> u64 {
        self.request(json!({"request": "version"}))["protocol"]
            .as_u64()
            .unwrap_or(0)
    }

    pub fn capsule_state(&self, name: &str) -> Option<String> {
        let list = self.request(json!({"request": "capsules"}));
        list.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["status"]["state"].as_str().map(String::from))
    }

    pub fn windows(&self) -> Vec<Value> {
        match self.request(json!({"request": "windows"})) {
            Value::Array(list) => list,
            other => panic!("windows reply {other}"),
        }
    }

    pub fn pointer_click(&self, x: f64, y: f64) {
        self.request(json!({"request": "pointer_move", "x": x, "y": y}));
        self.request(json!({"request": "pointer_button", "button": "left"}));
    }

    pub fn screenshot(&self) -> Image {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.runtime.join(format!("shot-{n}.png"));
        self.request(json!({"request": "screenshot", "path": path.display().to_string()}));
        Image::load(&path)
    }

    /// The compositor still runs.
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("try_wait").is_none(),
            "nexquelium exited"
        );
    }

    /// Whether the client with this pid is still running.
    pub fn client_alive(&mut self, pid: u32) -> bool {
        self.clients
            .iter_mut()
            .find(|c| c.id() == pid)
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for c in &mut self.clients {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime);
    }
}

pub use image::{require_program, Area, Image, Word};

impl Area {
    pub const ALL: Area = Area {
        x: 0,
        y: 0,
        w: WIDTH,
        h: HEIGHT,
    };
    pub const PANEL: Area = Area {
        x: 0,
        y: 0,
        w: WIDTH,
        h: PANEL as u32,
    };
    /// The dashboard's capsule table (the upper part of the overlay).
    pub const TABLE: Area = Area {
        x: 0,
        y: PANEL as u32,
        w: WIDTH,
        h: 330,
    };
}

/// Poll `f` until it returns Some or the timeout passes (then None).
pub fn try_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Poll `f` until it returns Some or the timeout passes.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// CPU time (user + system) a process has used, from /proc.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / hz)
}
