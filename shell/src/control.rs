//! The control socket protocol, version 2: JSON lines over a Unix socket.
//!
//! The client writes one request object per line, e.g.
//! `{"request":"screenshot","path":"/tmp/s.png"}`; the compositor answers
//! each with one line, `{"ok":<value>}` or `{"error":"<message>"}`, in
//! order. A connection that subscribed (`events` or `windows` with `follow`,
//! `samples`) also receives pushed lines, `{"event":<Event>}`,
//! `{"windows":[<WindowInfo>…]}` and `{"sample":<Sample>}`, between the replies. Capsules holding `sentry.observe` get a pre-connected
//! channel instead of the socket ([`CONTROL_FD_ENV`]). See
//! `docs/control-protocol.md` for the full description.

use std::collections::VecDeque;
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
use crate::sentry::event::{Event, Sample, Severity};
use crate::sentry::log::{EventFilter, EVENT_KINDS};

/// The protocol version [`VersionInfo::protocol`] reports.
pub const PROTOCOL_VERSION: u32 = 2;

/// Overrides the control socket path.
pub const CONTROL_ENV: &str = "NEXQUELIUM_CONTROL";

/// In a capsule holding `sentry.observe`: the number of its inherited, already connected
/// control channel.
pub const CONTROL_FD_ENV: &str = "EXOSPHERE_CONTROL_FD";

/// How many events an `events` request returns when it gives no `limit`.
pub const DEFAULT_EVENTS_LIMIT: u32 = 100;

/// Every request name, for error messages.
pub const REQUEST_NAMES: &[&str] = &[
    "version",
    "outputs",
    "windows",
    "screenshot",
    "output_create",
    "output_remove",
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
    "events",
    "samples",
    "release",
    "xray",
    "dashboard",
    "session",
];

/// The requests without arguments: any field besides `request` is an error.
const NO_FIELD_REQUESTS: &[&str] = &["version", "outputs", "capsules"];

/// A request line, tagged by its `request` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Reply: [`VersionInfo`].
    Version,
    /// Reply: a list of [`OutputInfo`].
    Outputs,
    /// Reply: a list of [`WindowInfo`], all workspaces. With `follow`, the
    /// whole list is pushed as `{"windows":[…]}` whenever it changes (at most
    /// once per compositor loop iteration), so a panel need not poll.
    Windows {
        #[serde(default, skip_serializing_if = "is_false")]
        follow: bool,
    },
    /// Write a PNG of an output (all of them side by side if `output` is
    /// absent) to `path`, an absolute path the compositor opens. Reply:
    /// [`ScreenshotInfo`].
    Screenshot {
        path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<String>,
    },
    /// Add a virtual output of `width`x`height` pixels right of the others
    /// (headless backend only). Reply: its [`OutputInfo`].
    OutputCreate { width: i32, height: i32 },
    /// Take an output away as if its display were unplugged (headless backend
    /// only; never the last one). Reply: null.
    OutputRemove { name: String },
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
    /// Sentry's event history, filtered: the newest `limit` (default
    /// [`DEFAULT_EVENTS_LIMIT`]) matching events, oldest first. Reply: a list
    /// of [`Event`]. With `follow`, every later matching event is pushed as
    /// `{"event":…}` on this connection.
    Events {
        /// Only events with a greater `seq`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since_seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capsule: Option<String>,
        /// Only these kinds (`"anomaly"`, `"capsule_exited"`, …).
        #[serde(
            default,
            skip_serializing_if = "Vec::is_empty",
            deserialize_with = "event_kinds"
        )]
        kinds: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_severity: Option<Severity>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        #[serde(default, skip_serializing_if = "is_false")]
        follow: bool,
    },
    /// Subscribe to resource samples of every running capsule (or just
    /// `capsule`), pushed as `{"sample":…}` once a second; with `stop`, end
    /// this connection's subscription. Reply: null.
    Samples {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capsule: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        stop: bool,
    },
    /// Release a quarantined capsule. Reply: null.
    Release { name: String },
    /// Turn X-ray on or off (toggle it without `on`). Reply: [`XrayInfo`].
    Xray {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on: Option<bool>,
    },
    /// Show, hide or toggle the Sentry dashboard. Reply: [`DashboardInfo`].
    Dashboard { action: DashboardAction },
    /// End the session (`quit`: capsules are stopped, then the compositor exits), or reboot or
    /// power off the machine (only under exo-init). Reply: null.
    Session { action: SessionAction },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `kinds` of an `events` request: known event kind names only.
fn event_kinds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    use serde::de::Error as _;
    let kinds = Vec::<String>::deserialize(deserializer)?;
    match kinds.iter().find(|k| !EVENT_KINDS.contains(&k.as_str())) {
        Some(bad) => Err(D::Error::custom(format!(
            "unknown event kind \"{bad}\"; expected some of {}",
            EVENT_KINDS.join(", ")
        ))),
        None => Ok(kinds),
    }
}

/// What a `dashboard` request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DashboardAction {
    Show,
    Hide,
    Toggle,
}

impl DashboardAction {
    /// Whether the dashboard is visible after this action, from whether it was before.
    pub fn apply(self, visible: bool) -> bool {
        match self {
            DashboardAction::Show => true,
            DashboardAction::Hide => false,
            DashboardAction::Toggle => !visible,
        }
    }
}

/// What a `session` request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionAction {
    Quit,
    Reboot,
    Poweroff,
}

/// Who may send a request on a capsule's control channel (the user's socket may send all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reads state: needs `sentry.observe` (which every channel has).
    Observe,
    /// Changes capsules or the session: needs `sentry.control` too.
    Control,
    /// Input, screenshots and `run`: the user's socket only, never a capsule.
    UserOnly,
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
    /// The output the window is on (the one holding its centre); empty from compositors that
    /// predate outputs in this reply.
    #[serde(default)]
    pub output: String,
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

/// Reply to `xray`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct XrayInfo {
    /// Whether X-ray is on now.
    pub xray: bool,
}

/// Reply to `dashboard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardInfo {
    /// Whether the dashboard is visible now.
    pub visible: bool,
}

/// A line the compositor pushes to a subscribed connection: `{"event":…}`, `{"windows":[…]}`
/// or `{"sample":…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Pushed {
    Event(Event),
    Windows(Vec<WindowInfo>),
    Sample(Sample),
}

impl Pushed {
    /// The line, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| r#"{"error":"internal error: cannot encode"}"#.into())
    }
}

/// Any line from the compositor: a reply, or a pushed line.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerLine {
    Reply(Reply),
    Pushed(Pushed),
}

/// Parses a line from the compositor, telling replies and pushed lines apart by their key.
pub fn parse_server_line(line: &str) -> Result<ServerLine, ControlError> {
    let start = line.trim_start();
    let pushed = [r#"{"event""#, r#"{"windows""#, r#"{"sample""#]
        .iter()
        .any(|key| start.starts_with(key));
    if pushed {
        if let Ok(p) = serde_json::from_str::<Pushed>(line) {
            return Ok(ServerLine::Pushed(p));
        }
    }
    match parse_reply(line) {
        Ok(reply) => Ok(ServerLine::Reply(reply)),
        Err(err) => match serde_json::from_str::<Pushed>(line) {
            Ok(p) => Ok(ServerLine::Pushed(p)),
            Err(_) => Err(err),
        },
    }
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
            Request::Windows { .. } => "windows",
            Request::Screenshot { .. } => "screenshot",
            Request::OutputCreate { .. } => "output_create",
            Request::OutputRemove { .. } => "output_remove",
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
            Request::Events { .. } => "events",
            Request::Samples { .. } => "samples",
            Request::Release { .. } => "release",
            Request::Xray { .. } => "xray",
            Request::Dashboard { .. } => "dashboard",
            Request::Session { .. } => "session",
        }
    }

    /// Who may send it on a capsule's control channel.
    pub fn access(&self) -> Access {
        match self {
            Request::Version
            | Request::Outputs
            | Request::Windows { .. }
            | Request::Capsules
            | Request::Events { .. }
            | Request::Samples { .. }
            | Request::Logs { .. } => Access::Observe,
            Request::CapsuleStart { .. }
            | Request::CapsuleStop { .. }
            | Request::CapsuleRestart { .. }
            | Request::Grant { .. }
            | Request::Revoke { .. }
            | Request::Release { .. }
            | Request::Xray { .. }
            | Request::Dashboard { .. }
            | Request::Session { .. } => Access::Control,
            Request::Screenshot { .. }
            | Request::OutputCreate { .. }
            | Request::OutputRemove { .. }
            | Request::Key { .. }
            | Request::Type { .. }
            | Request::PointerMove { .. }
            | Request::PointerButton { .. }
            | Request::Run { .. } => Access::UserOnly,
        }
    }

    /// The filter of an `events` request (`None` for other requests).
    pub fn event_filter(&self) -> Option<EventFilter> {
        match self {
            Request::Events {
                since_seq,
                capsule,
                kinds,
                min_severity,
                ..
            } => Some(EventFilter {
                since_seq: *since_seq,
                capsule: capsule.clone(),
                kinds: kinds.clone(),
                min_severity: *min_severity,
            }),
            _ => None,
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

/// A blocking client: one connection, requests answered in order. Lines pushed to a
/// subscribed connection that arrive while it waits for a reply are kept for
/// [`ControlClient::next_pushed`].
#[derive(Debug)]
pub struct ControlClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    timeout: Option<Duration>,
    pushed: VecDeque<Pushed>,
    /// A line read only in part when a read timed out.
    partial: Vec<u8>,
}

const CLOSED: &str = "the compositor closed the connection without replying";

impl ControlClient {
    /// Connects to the socket at `path`, with [`DEFAULT_REPLY_TIMEOUT`].
    pub fn connect(path: impl AsRef<Path>) -> io::Result<ControlClient> {
        ControlClient::from_stream(UnixStream::connect(path)?)
    }

    /// A client on an already connected stream (a capsule's channel), with
    /// [`DEFAULT_REPLY_TIMEOUT`].
    pub fn from_stream(stream: UnixStream) -> io::Result<ControlClient> {
        let writer = stream.try_clone()?;
        let mut client = ControlClient {
            reader: BufReader::new(stream),
            writer,
            timeout: None,
            pushed: VecDeque::new(),
            partial: Vec::new(),
        };
        client.set_timeout(Some(DEFAULT_REPLY_TIMEOUT))?;
        Ok(client)
    }

    /// The channel a capsule inherited, named by `$EXOSPHERE_CONTROL_FD`; `Ok(None)` when the
    /// variable is unset. The descriptor is taken over (and made close-on-exec), so call this
    /// once per process.
    pub fn from_inherited_fd() -> io::Result<Option<ControlClient>> {
        use std::os::fd::{FromRawFd, OwnedFd, RawFd};
        let Some(value) = std::env::var_os(CONTROL_FD_ENV).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let text = value.to_string_lossy();
        let fd: RawFd = text.trim().parse().ok().filter(|fd| *fd > 2).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{CONTROL_FD_ENV}={text:?} is not a file descriptor number"),
            )
        })?;
        // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags; it fails with EBADF for a
        // number that is not open, which is checked before taking ownership.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{CONTROL_FD_ENV}={fd} is not an open file descriptor"),
            ));
        }
        // SAFETY: sets a flag on the descriptor, so programs this one starts do not inherit it.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: the descriptor is open (checked above) and was handed to this process for
        // exactly this use; the caller promises to take it once.
        let stream = UnixStream::from(unsafe { OwnedFd::from_raw_fd(fd) });
        ControlClient::from_stream(stream).map(Some)
    }

    /// Sets how long to wait for a reply (`None` waits forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(timeout)?;
        self.timeout = timeout;
        Ok(())
    }

    /// Sends `request` and waits for its reply; an error reply becomes `Err` with its message.
    pub fn request(&mut self, request: &Request) -> anyhow::Result<Value> {
        let mut line = request.to_line()?;
        line.push('\n');
        match self.writer.write_all(line.as_bytes()) {
            Ok(()) => {}
            Err(e) if is_hangup(&e) => bail!(CLOSED),
            Err(e) => bail!("cannot send the request: {e}"),
        }
        loop {
            match self.read_line()? {
                None => bail!(CLOSED),
                Some(ServerLine::Pushed(p)) => self.pushed.push_back(p),
                Some(ServerLine::Reply(reply)) => return reply.into_result().map_err(anyhow::Error::msg),
            }
        }
    }

    /// The next pushed line (kept from earlier, or read now, waiting up to the timeout);
    /// `Ok(None)` when the compositor closed the connection. A reply that nobody waits for
    /// is an error.
    pub fn next_pushed(&mut self) -> anyhow::Result<Option<Pushed>> {
        if let Some(p) = self.pushed.pop_front() {
            return Ok(Some(p));
        }
        match self.read_line()? {
            None => Ok(None),
            Some(ServerLine::Pushed(p)) => Ok(Some(p)),
            Some(ServerLine::Reply(reply)) => {
                bail!("unexpected reply from the compositor: {}", reply.to_line())
            }
        }
    }

    /// Like [`ControlClient::next_pushed`], waiting at most `wait`: `Ok(None)` when nothing
    /// came in time. The end of the connection is an error here.
    pub fn next_pushed_within(&mut self, wait: Duration) -> anyhow::Result<Option<Pushed>> {
        if let Some(p) = self.pushed.pop_front() {
            return Ok(Some(p));
        }
        let timeout = self.timeout;
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let line = self.read_line();
        self.reader.get_ref().set_read_timeout(timeout)?;
        match line {
            Ok(None) => bail!("the compositor closed the connection"),
            Ok(Some(ServerLine::Pushed(p))) => Ok(Some(p)),
            Ok(Some(ServerLine::Reply(reply))) => {
                bail!("unexpected reply from the compositor: {}", reply.to_line())
            }
            Err(e) if e.downcast_ref::<TimedOut>().is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One line from the compositor, `None` at the end of the connection.
    fn read_line(&mut self) -> anyhow::Result<Option<ServerLine>> {
        match self.reader.read_until(b'\n', &mut self.partial) {
            Ok(0) => Ok(None),
            Ok(_) if !self.partial.ends_with(b"\n") => Ok(None),
            Ok(_) => {
                let bytes = std::mem::take(&mut self.partial);
                let line = String::from_utf8_lossy(&bytes);
                Ok(Some(parse_server_line(&line)?))
            }
            Err(e) if is_hangup(&e) => Ok(None),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(TimedOut(self.timeout.map_or(0, |t| t.as_secs())).into())
            }
            Err(e) => bail!("cannot read from the compositor: {e}"),
        }
    }
}

/// No line within the timeout.
#[derive(Debug, Error)]
#[error("no reply from the compositor within {0} s")]
struct TimedOut(u64);

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
