//! Test harness: a real `nexquelium --backend headless` process, real clients started against
//! it, and screenshots through the control socket decoded for pixel assertions.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use exo_shell::control::{ControlClient, Request, WindowInfo};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The background colour of the default config, #1d2b3a.
pub const BACKGROUND: [u8; 3] = [0x1d, 0x2b, 0x3a];

pub struct Session {
    child: Child,
    pub runtime: PathBuf,
    pub socket: String,
    pub control: PathBuf,
    clients: Vec<Child>,
}

/// A private 0700 runtime directory per session, so tests run in parallel without clashing.
fn private_dir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nexq-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create runtime dir");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod runtime dir");
    dir
}

/// `--no-autostart` unless the test brings its own capsules: the repository's capsules autostart
/// the Sentry dashboard, whose panel and overlay would cover what these tests look at.
fn no_repo_autostart(args: &[&str]) -> &'static [&'static str] {
    if args.contains(&"--system-capsules") || args.contains(&"--no-autostart") {
        &[]
    } else {
        &["--no-autostart"]
    }
}

/// Fail (not skip) when a program the suite needs is missing: `./x test` installs them.
pub fn require_program(name: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed; run ./x test (it installs the Debian packages)"
    );
}

impl Session {
    pub fn start(args: &[&str]) -> Session {
        let runtime = private_dir("rt");
        let socket = "wayland-test".to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexquelium"));
        cmd.args(["--backend", "headless", "--socket", &socket]);
        // Protocol tests drive privileged tools (grim, layer shells) from host clients; a test
        // that passes its own config decides host capabilities there.
        if !args.contains(&"--host-caps") && !args.contains(&"--config") {
            cmd.args(["--host-caps", "all"]);
        }
        cmd.args(no_repo_autostart(args));
        cmd.args(args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env("XDG_CONFIG_HOME", runtime.join("config"))
            // Sentry's event log goes to $XDG_STATE_HOME/exosphere: one per session.
            .env("XDG_STATE_HOME", runtime.join("state"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start nexquelium");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut control = None;
        for line in lines.by_ref() {
            let line = line.expect("read nexquelium stdout");
            if let Some(path) = line.strip_prefix("NEXQUELIUM_CONTROL=") {
                control = Some(PathBuf::from(path));
                break;
            }
        }
        let control = control.expect("nexquelium printed no NEXQUELIUM_CONTROL line");
        Session {
            child,
            runtime,
            socket,
            control,
            clients: Vec::new(),
        }
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("XDG_RUNTIME_DIR", self.runtime.display().to_string()),
            ("WAYLAND_DISPLAY", self.socket.clone()),
            ("NEXQUELIUM_CONTROL", self.control.display().to_string()),
        ]
    }

    pub fn socket_path(&self) -> PathBuf {
        self.runtime.join(&self.socket)
    }

    /// Start a real client against this session; it is killed when the session ends.
    pub fn spawn(&mut self, program: &str, args: &[&str]) {
        require_program(program);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        // GTK and foot want a HOME and a writable cache; keep them inside the runtime dir.
        cmd.env("HOME", &self.runtime)
            .env("XDG_CACHE_HOME", self.runtime.join("cache"));
        cmd.env("GDK_BACKEND", "wayland")
            .env("GSK_RENDERER", "cairo")
            .env("NO_AT_BRIDGE", "1");
        self.clients
            .push(cmd.spawn().unwrap_or_else(|e| panic!("start {program}: {e}")));
    }

    pub fn request(&self, request: &Request) -> anyhow::Result<serde_json::Value> {
        let mut client = ControlClient::connect(&self.control)?;
        client.request(request)
    }

    pub fn windows(&self) -> Vec<WindowInfo> {
        let value = self
            .request(&Request::Windows { follow: false })
            .expect("windows request");
        serde_json::from_value(value).expect("windows reply")
    }

    /// Wait until at least `n` windows are mapped.
    pub fn wait_windows(&self, n: usize, timeout: Duration) -> Vec<WindowInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            let windows = self.windows();
            if windows.len() >= n {
                return windows;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} windows within {timeout:?}, have {windows:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn screenshot(&self) -> Image {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.runtime.join(format!("shot-{n}.png"));
        self.request(&Request::Screenshot {
            path: path.display().to_string(),
            output: None,
        })
        .expect("screenshot request");
        Image::load(&path)
    }

    pub fn key(&self, combo: &str) {
        self.request(&Request::Key { combo: combo.into() })
            .expect("key request");
    }

    pub fn type_text(&self, text: &str) {
        self.request(&Request::Type { text: text.into() })
            .expect("type request");
    }

    pub fn pointer_move(&self, x: f64, y: f64) {
        self.request(&Request::PointerMove { x, y })
            .expect("pointer move");
    }

    /// The compositor's process id (for signals and /proc checks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The compositor process still runs and still answers.
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("try_wait").is_none(),
            "nexquelium exited"
        );
        self.request(&Request::Version)
            .expect("nexquelium stopped answering");
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

/// An RGBA image decoded from a PNG.
#[derive(Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl Image {
    pub fn load(path: &Path) -> Image {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let decoder = png::Decoder::new(std::io::BufReader::new(file));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("png frame");
        buf.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            other => panic!("unexpected PNG colour type {other:?} in {}", path.display()),
        };
        Image {
            width: info.width,
            height: info.height,
            rgba,
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }

    /// How many pixels in the rectangle differ from `rgb`.
    pub fn count_not(&self, rgb: [u8; 3], x: i32, y: i32, w: i32, h: i32) -> usize {
        let mut n = 0;
        for yy in y.max(0)..(y + h).min(self.height as i32) {
            for xx in x.max(0)..(x + w).min(self.width as i32) {
                let p = self.pixel(xx as u32, yy as u32);
                if p[..3] != rgb {
                    n += 1;
                }
            }
        }
        n
    }

    /// How many pixels in the rectangle differ between two images.
    pub fn count_changed(&self, other: &Image, x: i32, y: i32, w: i32, h: i32) -> usize {
        let mut n = 0;
        for yy in y.max(0)..(y + h).min(self.height as i32) {
            for xx in x.max(0)..(x + w).min(self.width as i32) {
                if self.pixel(xx as u32, yy as u32) != other.pixel(xx as u32, yy as u32) {
                    n += 1;
                }
            }
        }
        n
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
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub mod client;

/// The file `Session::start_logged` sends the compositor's stderr (its tracing log) to.
const COMPOSITOR_LOG: &str = "nexquelium.stderr";

impl Session {
    /// Like [`Session::start`], with the compositor's log (stderr) kept for
    /// [`Session::compositor_log`] instead of passed through to the test's output.
    pub fn start_logged(args: &[&str]) -> Session {
        let runtime = private_dir("rt");
        let socket = "wayland-test".to_string();
        let log = std::fs::File::create(runtime.join(COMPOSITOR_LOG)).expect("create compositor log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nexquelium"));
        cmd.args(["--backend", "headless", "--socket", &socket]);
        if !args.contains(&"--host-caps") {
            cmd.args(["--host-caps", "all"]);
        }
        cmd.args(no_repo_autostart(args));
        cmd.args(args)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .env("XDG_CONFIG_HOME", runtime.join("config"))
            // Sentry's event log goes to $XDG_STATE_HOME/exosphere: one per session.
            .env("XDG_STATE_HOME", runtime.join("state"))
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("start nexquelium");
        let stdout = child.stdout.take().expect("piped stdout");
        let control = BufReader::new(stdout)
            .lines()
            .map(|line| line.expect("read nexquelium stdout"))
            .find_map(|line| line.strip_prefix("NEXQUELIUM_CONTROL=").map(PathBuf::from));
        let Some(control) = control else {
            let log = std::fs::read_to_string(runtime.join(COMPOSITOR_LOG)).unwrap_or_default();
            panic!("nexquelium printed no NEXQUELIUM_CONTROL line; its log:\n{log}");
        };
        Session {
            child,
            runtime,
            socket,
            control,
            clients: Vec::new(),
        }
    }

    /// What the compositor has logged so far (empty unless started with `start_logged`),
    /// without terminal colour codes.
    pub fn compositor_log(&self) -> String {
        let raw = std::fs::read_to_string(self.runtime.join(COMPOSITOR_LOG)).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI: ESC [ parameters final-byte.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }
}

impl Session {
    /// Wait for the compositor to exit by itself; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        wait_for(timeout, "the compositor to exit", || {
            self.child.try_wait().ok().flatten()
        })
    }
}
