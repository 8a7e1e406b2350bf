//! The control socket protocol, version 1: JSON lines over a Unix socket.
//!
//! The client writes one request object per line, e.g.
//! `{"request":"screenshot","path":"/tmp/s.png"}`; the compositor answers
//! each with one line, `{"ok":<value>}` or `{"error":"<message>"}`, in
//! order. See `docs/control-protocol.md` for the full description.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use thiserror::Error;

pub use crate::capsule::{CapsuleInfo, CapsuleStatus};

/// The protocol version [`VersionInfo::protocol`] reports.
pub const PROTOCOL_VERSION: u32 = 1;

/// Overrides the control socket path.
pub const CONTROL_ENV: &str = "NEXQUELIUM_CONTROL";

/// Every request name, for error messages.
pub const REQUEST_NAMES: &[&str] = &[
    "version",
    "outputs",
    "windows",
    "screenshot",
    "key",
    "type",
    "pointer_move",
    "pointer_button",
    "capsules",
    "capsule_start",
    "capsule_stop",
    "capsule_restart",
    "grant",
    "revoke",
    "logs",
    "run",
];

/// The requests without arguments: any field besides `request` is an error.
const NO_FIELD_REQUESTS: &[&str] = &["version", "outputs", "windows", "capsules"];

/// A request line, tagged by its `request` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Reply: [`VersionInfo`].
    Version,
    /// Reply: a list of [`OutputInfo`].
    Outputs,
    /// Reply: a list of [`WindowInfo`], all workspaces.
    Windows,
    /// Write a PNG of an output (the first one if `output` is absent) to
    /// `path`, an absolute path the compositor opens. Reply: [`ScreenshotInfo`].
    Screenshot {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// Press and release a key combination such as `super+q`. Reply: null.
    Key { combo: String },
    /// Type text with the current keymap. Reply: null.
    Type { text: String },
    /// Move the pointer to global logical coordinates. Reply: null.
    PointerMove { x: f64, y: f64 },
    /// Press, release, or (without `state`) click a button. Reply: null.
    PointerButton {
        button: PointerButton,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<ButtonState>,
    },
    /// Reply: a list of [`CapsuleInfo`], every capsule the supervisor knows
    /// (from manifests and from `run`).
    Capsules,
    /// Start a stopped, exited or failed capsule (clearing its restart
    /// backoff and counters). Reply: null.
    CapsuleStart { name: String },
    /// Stop a capsule; the restart policy does not restart it. Reply: null.
    CapsuleStop { name: String },
    /// Stop a capsule if it runs, then start it. Reply: null.
    CapsuleRestart { name: String },
    /// Add `capability` (a dotted name like `net.connect`) to what a capsule
    /// holds. Reply: null.
    Grant { name: String, capability: String },
    /// Take `capability` away from a capsule. Reply: null.
    Revoke { name: String, capability: String },
    /// A capsule's log (its stdout and stderr): the whole of it, or only the
    /// last `tail_bytes` bytes. Reply: [`CapsuleLogs`].
    Logs {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tail_bytes: Option<u64>,
    },
    /// Start `argv` as a new capsule named `name` (a name derived from the
    /// program if absent) holding exactly `capabilities`. `argv` must not be
    /// empty. Reply: [`RunInfo`].
    Run {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        capabilities: Vec<String>,
        #[serde(deserialize_with = "non_empty_argv")]
        argv: Vec<String>,
    },
}

/// `argv` of a `run` request: at least the program, which is not `""`.
fn non_empty_argv<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error as _;
    let argv = Vec::<String>::deserialize(deserializer)?;
    match argv.first() {
        None => Err(D::Error::custom(
            "`argv` is empty; expected the program and its arguments, like [\"foot\", \"--server\"]",
        )),
        Some(program) if program.is_empty() => Err(D::Error::custom(
            "`argv[0]` must be a program name or path, found an empty string",
        )),
        Some(_) => Ok(argv),
    }
}

/// A pointer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointerButton {
    Left,
    Right,
    Middle,
}

impl PointerButton {
    /// The Linux input event code (`BTN_LEFT` etc.) compositors send to clients.
    pub fn evdev_code(self) -> u32 {
        match self {
            PointerButton::Left => 0x110,
            PointerButton::Right => 0x111,
            PointerButton::Middle => 0x112,
        }
    }
}

/// Press or release; a missing state in a request means both (a click).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ButtonState {
    Press,
    Release,
}

/// A reply line: exactly `{"ok": value}` or `{"error": "message"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    Ok(Value),
    Error(String),
}

/// Reply to `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// [`PROTOCOL_VERSION`].
    pub protocol: u32,
    /// `"nexquelium"`.
    pub compositor: String,
    /// The compositor's crate version.
    pub version: String,
}

/// One entry of the reply to `outputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputInfo {
    pub name: String,
    pub make: String,
    pub model: String,
    /// Current mode in physical pixels.
    pub width: i32,
    pub height: i32,
    /// Refresh rate in mHz (60000 = 60 Hz).
    pub refresh_mhz: u32,
    pub scale: f64,
    /// Position in global logical coordinates.
    pub x: i32,
    pub y: i32,
    pub logical_width: i32,
    pub logical_height: i32,
}

/// One entry of the reply to `windows`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInfo {
    pub id: u64,
    pub title: String,
    pub app_id: String,
    /// Global logical coordinates.
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
    pub workspace: u8,
    pub focused: bool,
    pub maximized: bool,
    pub fullscreen: bool,
    pub minimized: bool,
    /// The capsule the window's client belongs to; null for host clients.
    #[serde(default)]
    pub capsule: Option<String>,
}

/// Reply to `logs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapsuleLogs {
    /// The capsule.
    pub name: String,
    /// The log file on the compositor's machine.
    pub path: String,
    /// The requested part of the log, as UTF-8 (invalid bytes replaced by U+FFFD).
    pub text: String,
}

/// Reply to `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The new capsule's name, for `capsules`, `logs`, `capsule_stop` and so on.
    pub name: String,
    /// Its process.
    pub pid: u32,
}

/// Reply to `screenshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenshotInfo {
    /// The file written.
    pub path: String,
    /// Image size in pixels.
    pub width: u32,
    pub height: u32,
}

/// A line that is not a valid request or reply, or no socket to talk to.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ControlError {
    #[error("empty request line")]
    Empty,
    #[error("malformed JSON at column {column}: {message}")]
    MalformedJson { column: usize, message: String },
    #[error("a request must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error("missing field `request` (the request name: one of {})", REQUEST_NAMES.join(", "))]
    MissingRequestName,
    #[error("field `request` must be a string, found {0}")]
    RequestNameNotString(&'static str),
    #[error("unknown request \"{0}\"; expected one of {names}", names = REQUEST_NAMES.join(", "))]
    UnknownRequest(String),
    /// A known request with bad fields: `message` in `request` request.
    #[error("{message} in {request} request")]
    InvalidRequest { request: String, message: String },
    #[error("malformed reply from the compositor: {0}")]
    MalformedReply(String),
    #[error("cannot find the control socket: {0}")]
    NoSocketPath(String),
}

/// "an array", "a string", … for error messages.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Parses one request line, with messages meant for the client's user.
pub fn parse_request(line: &str) -> Result<Request, ControlError> {
    if line.trim().is_empty() {
        return Err(ControlError::Empty);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| ControlError::MalformedJson {
        column: e.column(),
        message: json_message(&e),
    })?;
    let Value::Object(fields) = &value else {
        return Err(ControlError::NotAnObject(json_kind(&value)));
    };
    let name = match fields.get("request") {
        None => return Err(ControlError::MissingRequestName),
        Some(Value::String(name)) => name.clone(),
        Some(other) => return Err(ControlError::RequestNameNotString(json_kind(other))),
    };
    if !REQUEST_NAMES.contains(&name.as_str()) {
        return Err(ControlError::UnknownRequest(name));
    }
    // serde ignores extra fields on unit variants even with deny_unknown_fields.
    if NO_FIELD_REQUESTS.contains(&name.as_str()) {
        if let Some(extra) = fields.keys().find(|k| *k != "request") {
            let message = format!("unknown field `{extra}`, there are no fields");
            return Err(ControlError::InvalidRequest {
                request: name,
                message,
            });
        }
    }
    serde_json::from_value(value).map_err(|e| ControlError::InvalidRequest {
        request: name,
        message: json_message(&e),
    })
}

/// Parses one reply line.
pub fn parse_reply(line: &str) -> Result<Reply, ControlError> {
    serde_json::from_str(line).map_err(|e| {
        let shown: String = line.trim().chars().take(200).collect();
        ControlError::MalformedReply(format!("{} in {shown:?}", json_message(&e)))
    })
}

impl Request {
    /// The value of the `request` field.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Version => "version",
            Request::Outputs => "outputs",
            Request::Windows => "windows",
            Request::Screenshot { .. } => "screenshot",
            Request::Key { .. } => "key",
            Request::Type { .. } => "type",
            Request::PointerMove { .. } => "pointer_move",
            Request::PointerButton { .. } => "pointer_button",
            Request::Capsules => "capsules",
            Request::CapsuleStart { .. } => "capsule_start",
            Request::CapsuleStop { .. } => "capsule_stop",
            Request::CapsuleRestart { .. } => "capsule_restart",
            Request::Grant { .. } => "grant",
            Request::Revoke { .. } => "revoke",
            Request::Logs { .. } => "logs",
            Request::Run { .. } => "run",
        }
    }

    /// The request as one JSON line, without the newline. Fails for
    /// non-finite pointer coordinates, which JSON cannot carry, and for a
    /// `run` without a program, which [`parse_request`] would refuse.
    pub fn to_line(&self) -> anyhow::Result<String> {
        match self {
            Request::PointerMove { x, y } if !x.is_finite() || !y.is_finite() => {
                bail!("pointer coordinates must be finite numbers, got {x}, {y}");
            }
            Request::Run { argv, .. } if argv.first().is_none_or(|p| p.is_empty()) => {
                bail!("run needs a program to run (argv is empty or starts with \"\")");
            }
            _ => {}
        }
        Ok(serde_json::to_string(self)?)
    }
}

impl Reply {
    /// A success reply carrying `value` serialized to JSON.
    pub fn ok(value: impl Serialize) -> Reply {
        match serde_json::to_value(value) {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Error(format!("internal error: cannot encode reply: {e}")),
        }
    }

    pub fn error(message: impl std::fmt::Display) -> Reply {
        Reply::Error(message.to_string())
    }

    /// The reply as one JSON line, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"error":"internal error: cannot encode reply"}"#.to_string())
    }

    pub fn into_result(self) -> Result<Value, String> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Error(e) => Err(e),
        }
    }
}

impl From<Result<Value, String>> for Reply {
    fn from(r: Result<Value, String>) -> Reply {
        match r {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Error(e),
        }
    }
}

/// The socket for a Wayland display: `$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control`
/// (a display given as an absolute path gets `.control` appended directly).
pub fn control_socket_path_for(runtime_dir: &Path, wayland_display: &str) -> PathBuf {
    let mut name = OsString::from(runtime_dir.join(wayland_display));
    name.push(".control");
    PathBuf::from(name)
}

/// `$NEXQUELIUM_CONTROL`, else `$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control`.
pub fn control_socket_path_from_env() -> Result<PathBuf, ControlError> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    socket_path_from(var(CONTROL_ENV), var("XDG_RUNTIME_DIR"), var("WAYLAND_DISPLAY"))
}

/// [`control_socket_path_from_env`] for given (non-empty) variable values.
fn socket_path_from(
    control: Option<OsString>,
    runtime_dir: Option<OsString>,
    display: Option<OsString>,
) -> Result<PathBuf, ControlError> {
    if let Some(path) = control {
        return Ok(PathBuf::from(path));
    }
    let display = display.map(|d| d.to_string_lossy().into_owned());
    // libwayland lets WAYLAND_DISPLAY be an absolute path, which needs no runtime dir.
    if let Some(d) = display.as_deref().filter(|d| d.starts_with('/')) {
        return Ok(control_socket_path_for(Path::new("/"), d));
    }
    match (runtime_dir, display) {
        (Some(dir), Some(d)) => Ok(control_socket_path_for(Path::new(&dir), &d)),
        (dir, d) => {
            let missing = match (dir.is_none(), d.is_none()) {
                (true, true) => "XDG_RUNTIME_DIR and WAYLAND_DISPLAY are",
                (true, false) => "XDG_RUNTIME_DIR is",
                _ => "WAYLAND_DISPLAY is",
            };
            Err(ControlError::NoSocketPath(format!(
                "{CONTROL_ENV} is not set, and {missing} not set either"
            )))
        }
    }
}

/// How long [`ControlClient::request`] waits for a reply by default.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A blocking client: one connection, requests answered in order.
#[derive(Debug)]
pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    timeout: Option<Duration>,
}

impl ControlClient {
    /// Connects to the socket at `path`, with [`DEFAULT_REPLY_TIMEOUT`].
    pub fn connect(path: impl AsRef<Path>) -> io::Result<ControlClient> {
        let stream = UnixStream::connect(path)?;
        let writer = stream.try_clone()?;
        let mut client = ControlClient {
            reader: BufReader::new(stream),
            writer,
            timeout: None,
        };
        client.set_timeout(Some(DEFAULT_REPLY_TIMEOUT))?;
        Ok(client)
    }

    /// Sets how long to wait for a reply (`None` waits forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// Sends `request` and waits for its reply; an error reply becomes `Err` with its message.
    pub fn request(&mut self, request: &Request) -> anyhow::Result<Value> {
        const CLOSED: &str = "the compositor closed the connection without replying";
        let mut line = request.to_line()?;
        line.push('\n');
        match self.writer.write_all(line.as_bytes()) {
            Ok(()) => {}
            Err(e) if is_hangup(&e) => bail!(CLOSED),
            Err(e) => bail!("cannot send the request: {e}"),
        }
        let mut reply = String::new();
        match self.reader.read_line(&mut reply) {
            Ok(0) => bail!(CLOSED),
            Ok(_) => {}
            Err(e) if is_hangup(&e) => bail!(CLOSED),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                let secs = self.timeout.map_or(0, |t| t.as_secs());
                bail!("no reply from the compositor within {secs} s")
            }
            Err(e) => bail!("cannot read the reply: {e}"),
        }
        parse_reply(&reply)?.into_result().map_err(anyhow::Error::msg)
    }
}

/// True for errors that mean the other end went away.
fn is_hangup(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
