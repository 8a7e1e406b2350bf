//! Runs the `exoctl` binary against a fake control server on a Unix socket
//! to check the request lines it sends and what it prints.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use serde_json::{json, Value};

// The capsule commands; tests/exoctl/ is not a test crate of its own.
#[path = "exoctl/capsules.rs"]
mod capsules;

/// A temp directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// A fresh empty directory under the system temp dir.
fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("exoctl-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// A server that answers request lines with canned replies, in order, then
/// hangs up; it returns the lines it read.
struct FakeServer {
    dir: PathBuf,
    socket: PathBuf,
    thread: JoinHandle<Vec<String>>,
}

impl FakeServer {
    /// Answers one request with `reply`.
    fn start(reply: Value) -> FakeServer {
        FakeServer::script(vec![reply])
    }

    /// Answers the first request with `replies[0]`, the second with `replies[1]`, …
    fn script(replies: Vec<Value>) -> FakeServer {
        let dir = temp_dir();
        let socket = dir.join("wayland-9.control");
        let listener = UnixListener::bind(&socket).expect("bind fake server");
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut stream = stream;
            let mut lines = Vec::new();
            for reply in replies {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("read request") == 0 {
                    break;
                }
                lines.push(line);
                stream
                    .write_all(format!("{reply}\n").as_bytes())
                    .expect("write reply");
            }
            lines
        });
        FakeServer { dir, socket, thread }
    }

    /// The request lines exoctl sent, parsed.
    fn requests(self) -> Vec<Value> {
        let lines = self.thread.join().expect("server thread");
        std::fs::remove_dir_all(&self.dir).ok();
        lines
            .iter()
            .map(|line| {
                assert!(line.ends_with('\n'), "requests are newline-terminated: {line:?}");
                assert_eq!(line.matches('\n').count(), 1, "one line: {line:?}");
                serde_json::from_str(line).expect("request is JSON")
            })
            .collect()
    }

    /// The one request line exoctl sent, parsed.
    fn request(self) -> Value {
        let mut requests = self.requests();
        assert_eq!(requests.len(), 1, "one request: {requests:?}");
        requests.remove(0)
    }

    fn socket(&self) -> String {
        self.socket.to_str().expect("utf-8 path").to_string()
    }
}

fn exoctl(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exoctl"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NEXQUELIUM_CONTROL")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("run exoctl")
}

/// Runs `exoctl --socket <server's> args…` in the server's directory.
fn exoctl_at(server: &FakeServer, args: &[&str]) -> Output {
    let socket = server.socket();
    let mut full = vec!["--socket", socket.as_str()];
    full.extend_from_slice(args);
    exoctl(&full, &server.dir)
}

/// Runs exoctl against a fake server answering `reply`; returns the request it sent and its stdout.
fn run_ok(args: &[&str], reply: Value) -> (Value, String) {
    let server = FakeServer::start(reply);
    let out = exoctl_at(&server, args);
    assert!(
        out.status.success(),
        "exoctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        server.request(),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
    )
}

fn sample_windows() -> Value {
    json!([
        {"id": 1, "title": "~: bash", "app_id": "foot", "x": 0, "y": 30, "width": 1280, "height": 770,
         "workspace": 1, "focused": true, "maximized": true, "fullscreen": false, "minimized": false,
         "capsule": null},
        {"id": 22, "title": "Notes", "app_id": "org.example.Editor", "x": -5, "y": 40, "width": 640, "height": 480,
         "workspace": 3, "focused": false, "maximized": false, "fullscreen": false, "minimized": false,
         "capsule": "notes"},
        // From a compositor that does not send `capsule` yet.
        {"id": 23, "title": "x", "app_id": "xterm", "x": 0, "y": 0, "width": 10, "height": 10,
         "workspace": 1, "focused": false, "maximized": false, "fullscreen": false, "minimized": true}
    ])
}

#[test]
fn windows_prints_a_table() {
    let (request, stdout) = run_ok(&["windows"], json!({ "ok": sample_windows() }));
    assert_eq!(request, json!({"request": "windows"}));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["id", "ws", "focused", "state", "geometry", "capsule", "app_id", "title"]
    );
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        [
            "1",
            "1",
            "yes",
            "maximized",
            "1280x770@0,30",
            "-",
            "foot",
            "~:",
            "bash"
        ]
    );
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        [
            "22",
            "3",
            "no",
            "-",
            "640x480@-5,40",
            "notes",
            "org.example.Editor",
            "Notes"
        ]
    );
    assert_eq!(
        lines[3].split_whitespace().collect::<Vec<_>>(),
        ["23", "1", "no", "minimized", "10x10@0,0", "-", "xterm", "x"]
    );
    // Columns line up.
    assert_eq!(lines[0].find("geometry"), lines[1].find("1280x770"));
    assert_eq!(lines[0].find("capsule"), lines[2].find("notes"));
}

#[test]
fn json_prints_the_reply_value() {
    let (_, stdout) = run_ok(&["--json", "windows"], json!({ "ok": sample_windows() }));
    assert_eq!(stdout.lines().count(), 1, "one JSON array: {stdout}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).expect("json"),
        sample_windows()
    );
    let version = json!({"protocol": 1, "compositor": "nexquelium", "version": "0.1.0"});
    let (_, stdout) = run_ok(&["version", "--json"], json!({ "ok": version }));
    assert_eq!(serde_json::from_str::<Value>(&stdout).expect("json"), version);
}

#[test]
fn version_and_outputs_for_people() {
    let version = json!({"protocol": 1, "compositor": "nexquelium", "version": "0.1.0"});
    let (request, stdout) = run_ok(&["version"], json!({ "ok": version }));
    assert_eq!(request, json!({"request": "version"}));
    assert_eq!(stdout, "nexquelium 0.1.0 (control protocol 1)\n");
    let output = json!([{"name": "HEADLESS-1", "make": "Smithay", "model": "Headless", "width": 2560, "height": 1600,
        "refresh_mhz": 60000, "scale": 2.0, "x": 0, "y": 0, "logical_width": 1280, "logical_height": 800}]);
    let (request, stdout) = run_ok(&["outputs"], json!({ "ok": output }));
    assert_eq!(request, json!({"request": "outputs"}));
    let row: Vec<&str> = stdout.lines().nth(1).expect("a row").split_whitespace().collect();
    assert_eq!(
        row,
        [
            "HEADLESS-1",
            "2560x1600@60.000Hz",
            "2",
            "1280x800@0,0",
            "Smithay",
            "Headless"
        ]
    );
}

#[test]
fn screenshot_sends_an_absolute_path() {
    let server = FakeServer::start(json!({"ok": {"path": "/x/shot.png", "width": 1280, "height": 800}}));
    let socket = server.socket.to_str().expect("utf-8").to_string();
    let out = exoctl(
        &[
            "--socket",
            &socket,
            "screenshot",
            "shot.png",
            "--output",
            "HEADLESS-1",
        ],
        &server.dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "wrote /x/shot.png (1280x800)\n"
    );
    let expected = server.dir.canonicalize().expect("dir").join("shot.png");
    let request = server.request();
    assert_eq!(request["request"], "screenshot");
    assert_eq!(request["output"], "HEADLESS-1");
    // getcwd() reports the physical directory, which is what canonicalize() gives.
    assert_eq!(request["path"].as_str().map(PathBuf::from), Some(expected));
}

#[test]
fn input_requests() {
    let ok = json!({"ok": null});
    let cases: &[(&[&str], Value)] = &[
        (&["key", "Super+Q"], json!({"request": "key", "combo": "super+q"})),
        (
            &["key", "ctrl+shift+t"],
            json!({"request": "key", "combo": "ctrl+shift+t"}),
        ),
        (&["key", "enter"], json!({"request": "key", "combo": "return"})),
        (
            &["type", "-hello world"],
            json!({"request": "type", "text": "-hello world"}),
        ),
        (
            &["pointer", "move", "10.5", "-5"],
            json!({"request": "pointer_move", "x": 10.5, "y": -5.0}),
        ),
        (
            &["pointer", "click"],
            json!({"request": "pointer_button", "button": "left"}),
        ),
        (
            &["pointer", "click", "middle"],
            json!({"request": "pointer_button", "button": "middle"}),
        ),
        (
            &["pointer", "press", "right"],
            json!({"request": "pointer_button", "button": "right", "state": "press"}),
        ),
        (
            &["pointer", "release", "left"],
            json!({"request": "pointer_button", "button": "left", "state": "release"}),
        ),
    ];
    for (args, expected) in cases {
        let (request, stdout) = run_ok(args, ok.clone());
        assert_eq!(&request, expected, "exoctl {args:?}");
        assert_eq!(stdout, "", "nothing printed on success");
    }
}

#[test]
fn bad_key_combo_fails_before_connecting() {
    let tmp = TempDir(temp_dir());
    let dir = tmp.0.clone();
    let out = exoctl(&["--socket", "/nonexistent/s", "key", "super+blah"], &dir);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "exoctl: invalid key combination \"super+blah\": unknown key \"blah\"\n"
    );
}

#[test]
fn error_reply_exits_non_zero() {
    let server = FakeServer::start(json!({"error": "no output named \"X\""}));
    let socket = server.socket.to_str().expect("utf-8").to_string();
    let out = exoctl(
        &["--socket", &socket, "screenshot", "/tmp/s.png", "--output", "X"],
        &server.dir,
    );
    server.request();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "exoctl: no output named \"X\"\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_socket_is_a_clear_error() {
    let tmp = TempDir(temp_dir());
    let dir = tmp.0.clone();
    let out = exoctl(&["--socket", "/nonexistent/wayland-1.control", "windows"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "exoctl: cannot connect to /nonexistent/wayland-1.control: No such file or directory \
         (is nexquelium running? set NEXQUELIUM_CONTROL)\n"
    );
    let out = exoctl(&["windows"], &dir);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("exoctl: cannot find the control socket: NEXQUELIUM_CONTROL is not set"),
        "{stderr}"
    );
    assert!(stderr.contains("XDG_RUNTIME_DIR and WAYLAND_DISPLAY"), "{stderr}");
}

#[test]
fn socket_comes_from_the_environment() {
    let server = FakeServer::start(json!({"ok": []}));
    let out = Command::new(env!("CARGO_BIN_EXE_exoctl"))
        .args(["--json", "outputs"])
        .env("NEXQUELIUM_CONTROL", &server.socket)
        .output()
        .expect("run exoctl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");
    assert_eq!(server.request(), json!({"request": "outputs"}));

    let server = FakeServer::start(json!({"ok": []}));
    let dir = server.socket.parent().expect("dir").to_path_buf();
    let out = Command::new(env!("CARGO_BIN_EXE_exoctl"))
        .args(["--json", "windows"])
        .env_remove("NEXQUELIUM_CONTROL")
        .env("XDG_RUNTIME_DIR", &dir)
        .env("WAYLAND_DISPLAY", "wayland-9")
        .output()
        .expect("run exoctl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.request(), json!({"request": "windows"}));
}

#[test]
fn help_everywhere() {
    let tmp = TempDir(temp_dir());
    let dir = tmp.0.clone();
    for args in [
        &["--help"][..],
        &["windows", "--help"],
        &["screenshot", "--help"],
        &["key", "--help"],
        &["pointer", "--help"],
        &["pointer", "move", "--help"],
        &["pointer", "click", "--help"],
        &["capsules", "--help"],
        &["run", "--help"],
        &["start", "--help"],
        &["stop", "--help"],
        &["restart", "--help"],
        &["grant", "--help"],
        &["revoke", "--help"],
        &["logs", "--help"],
    ] {
        let out = exoctl(args, &dir);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage: exoctl"),
            "{args:?}"
        );
    }
    let out = exoctl(&["pointer", "click", "sideways"], &dir);
    assert_eq!(out.status.code(), Some(2), "clap usage error");
}
