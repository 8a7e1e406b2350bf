//! smithay-floor with real clients from Debian: wayland-info (wayland-utils) reads its globals
//! and output mode; weston-simple-shm (weston) maps an animated xdg toplevel and keeps drawing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Floor {
    child: Child,
    runtime: PathBuf,
}

impl Floor {
    fn start(name: &str, size: &str, extra: &[&str]) -> Floor {
        let runtime = std::env::temp_dir().join(format!("smithay-floor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&runtime);
        std::fs::create_dir_all(&runtime).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_smithay-floor"))
            .args(["--socket", "wayland-floor", "--size", size])
            .args(extra)
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::null())
            .spawn()
            .expect("smithay-floor starts");
        let floor = Floor { child, runtime };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !floor.socket().exists() {
            assert!(Instant::now() < deadline, "no Wayland socket within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        floor
    }

    fn socket(&self) -> PathBuf {
        self.runtime.join("wayland-floor")
    }

    fn client(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("WAYLAND_DISPLAY", "wayland-floor");
        c
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.runtime);
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn require(program: &str) {
    assert!(
        Path::new("/usr/bin").join(program).exists(),
        "{program} is missing: `./x test` installs it (weston, wayland-utils)"
    );
}

#[test]
fn wayland_info_sees_the_globals_and_the_output_mode() {
    require("wayland-info");
    let mut floor = Floor::start("info", "640x480", &[]);
    let out = floor.client("wayland-info").output().unwrap();
    let info = text(&out);
    assert!(out.status.success(), "wayland-info failed:\n{info}");
    for global in [
        "wl_compositor",
        "wl_shm",
        "xdg_wm_base",
        "wl_output",
        "zxdg_output_manager_v1",
    ] {
        assert!(info.contains(global), "no {global} in:\n{info}");
    }
    assert!(
        info.contains("width: 640 px, height: 480 px"),
        "the output mode is not 640x480:\n{info}"
    );
    assert!(floor.alive(), "smithay-floor exited");
}

#[test]
fn weston_simple_shm_keeps_drawing() {
    keeps_drawing(&[]);
}

#[test]
fn weston_simple_shm_keeps_drawing_with_frames() {
    keeps_drawing(&["--frames"]);
}

fn keeps_drawing(extra: &[&str]) {
    require("weston-simple-shm");
    let mut floor = Floor::start(
        if extra.is_empty() { "shm" } else { "shm-frames" },
        "1280x720",
        extra,
    );
    let mut client = floor
        .client("weston-simple-shm")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It exits at once on a missing global or a protocol error; paced by frame callbacks, it
    // draws until it is stopped.
    std::thread::sleep(Duration::from_secs(2));
    let early = client.try_wait().unwrap();
    let _ = client.kill();
    let out = client.wait_with_output().unwrap();
    assert!(
        early.is_none(),
        "weston-simple-shm exited ({early:?}):\n{}",
        text(&out)
    );
    assert!(floor.alive(), "smithay-floor exited");
}

#[test]
fn a_bad_size_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_smithay-floor"))
        .args(["--size", "12x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("\"12x\" is not WIDTHxHEIGHT"),
        "{}",
        text(&out)
    );
}
