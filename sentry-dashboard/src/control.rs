//! The control channel: one connection to the compositor's control protocol (v2), either the
//! pre-connected socket a capsule with `sentry.observe` inherits (`EXOSPHERE_CONTROL_FD`) or a
//! socket path (`--socket`, `NEXQUELIUM_CONTROL`, `$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control`).
//!
//! Requests are written from the event loop's thread; a background thread reads lines and hands
//! them to the event loop through a calloop channel, which wakes it. Replies come in request
//! order, so [`ControlLink`] keeps a queue of what each pending reply answers; pushed lines
//! (`{"event":…}`, `{"sample":…}`) are told apart by their key.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::{bail, Context};
use calloop::channel::{Channel, Sender};
use exo_shell::{
    control::WindowInfo,
    sentry::event::{Event, Sample},
};
use serde_json::{json, Value};

/// The environment variable naming the inherited control channel's file descriptor.
pub const CONTROL_FD_ENV: &str = "EXOSPHERE_CONTROL_FD";

/// Where the control channel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlSource {
    /// An inherited, already connected socket (a capsule's channel).
    Fd(RawFd),
    /// A control socket to connect to.
    Path(PathBuf),
}

impl ControlSource {
    /// `--socket` first, then `EXOSPHERE_CONTROL_FD`, then `NEXQUELIUM_CONTROL` and the socket
    /// next to the Wayland display. `None` when there is nothing to connect to.
    pub fn find(socket: Option<PathBuf>) -> anyhow::Result<Option<ControlSource>> {
        if let Some(path) = socket {
            return Ok(Some(ControlSource::Path(path)));
        }
        if let Some(value) = std::env::var_os(CONTROL_FD_ENV).filter(|v| !v.is_empty()) {
            let text = value.to_string_lossy();
            let fd: RawFd = text
                .trim()
                .parse()
                .ok()
                .filter(|fd| *fd >= 0)
                .with_context(|| format!("{CONTROL_FD_ENV}={text:?} is not a file descriptor number"))?;
            return Ok(Some(ControlSource::Fd(fd)));
        }
        Ok(exo_shell::control::control_socket_path_from_env()
            .ok()
            .map(ControlSource::Path))
    }

    fn open(&self) -> anyhow::Result<UnixStream> {
        match self {
            ControlSource::Path(path) => UnixStream::connect(path)
                .with_context(|| format!("cannot connect to the control socket {}", path.display())),
            ControlSource::Fd(fd) => {
                // SAFETY: fcntl(F_GETFD) only reads the descriptor's flags; it fails with EBADF
                // for a number that is not open, which is checked before taking ownership.
                if unsafe { libc::fcntl(*fd, libc::F_GETFD) } < 0 {
                    bail!("{CONTROL_FD_ENV}={fd} is not an open file descriptor");
                }
                // SAFETY: the descriptor is open (checked above) and was handed to this process
                // for exactly this use; nothing else in the process owns or closes it.
                let owned = unsafe { OwnedFd::from_raw_fd(*fd) };
                // Keep it out of anything this process might start.
                // SAFETY: sets a flag on a descriptor we own.
                unsafe { libc::fcntl(*fd, libc::F_SETFD, libc::FD_CLOEXEC) };
                Ok(UnixStream::from(owned))
            }
        }
    }
}

/// What a pending reply answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Version,
    Capsules,
    Windows,
    /// `windows` with `follow`: an error means the compositor cannot push the list.
    FollowWindows,
    Events,
    Samples,
    /// Ending the samples subscription while the dashboard is hidden.
    SamplesStop,
    Dashboard,
    /// An action a person asked for (stop, start, revoke, …), described for error messages.
    Action(String),
}

/// One line from the compositor.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Reply(Result<Value, String>),
    Event(Box<Event>),
    Sample(Sample),
    /// The window list, pushed when it changed (`windows` with `follow`).
    Windows(Vec<WindowInfo>),
    /// A line that could not be read; the message says what was wrong.
    Malformed(String),
    /// The connection ended (the compositor went away or closed it).
    Closed(String),
}

/// Parses one line of the control channel.
pub fn parse_line(line: &str) -> Incoming {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return Incoming::Malformed(format!("{e} in {:?}", truncate(line))),
    };
    let Value::Object(mut map) = value else {
        return Incoming::Malformed(format!("not an object: {:?}", truncate(line)));
    };
    if let Some(event) = map.remove("event") {
        return match serde_json::from_value(event) {
            Ok(e) => Incoming::Event(Box::new(e)),
            Err(e) => Incoming::Malformed(format!("bad event ({e}) in {:?}", truncate(line))),
        };
    }
    if let Some(sample) = map.remove("sample") {
        return match serde_json::from_value(sample) {
            Ok(s) => Incoming::Sample(s),
            Err(e) => Incoming::Malformed(format!("bad sample ({e}) in {:?}", truncate(line))),
        };
    }
    if let Some(windows) = map.remove("windows") {
        return match serde_json::from_value(windows) {
            Ok(w) => Incoming::Windows(w),
            Err(e) => Incoming::Malformed(format!("bad window list ({e}) in {:?}", truncate(line))),
        };
    }
    if let Some(ok) = map.remove("ok") {
        return Incoming::Reply(Ok(ok));
    }
    match map.remove("error") {
        Some(Value::String(message)) => Incoming::Reply(Err(message)),
        _ => Incoming::Malformed(format!("neither reply nor push: {:?}", truncate(line))),
    }
}

fn truncate(line: &str) -> String {
    line.trim().chars().take(160).collect()
}

/// The writing half of the channel and the queue of replies still to come.
#[derive(Debug)]
pub struct ControlLink {
    writer: UnixStream,
    pending: VecDeque<Pending>,
}

impl ControlLink {
    /// Opens the channel and starts the reader thread; lines arrive on the returned channel.
    pub fn open(source: &ControlSource) -> anyhow::Result<(ControlLink, Channel<Incoming>)> {
        let stream = source.open()?;
        let reader = stream.try_clone().context("cannot clone the control socket")?;
        let (sender, channel) = calloop::channel::channel();
        std::thread::Builder::new()
            .name("control-reader".into())
            .spawn(move || read_lines(reader, sender))
            .context("cannot start the control reader thread")?;
        Ok((
            ControlLink {
                writer: stream,
                pending: VecDeque::new(),
            },
            channel,
        ))
    }

    /// Sends one request; its reply will be matched to `what`.
    pub fn send(&mut self, request: Value, what: Pending) -> anyhow::Result<()> {
        let mut line = serde_json::to_string(&request)?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .context("cannot write to the control channel")?;
        self.pending.push_back(what);
        Ok(())
    }

    /// What the next reply answers (`None`: a reply nobody asked for).
    pub fn take_pending(&mut self) -> Option<Pending> {
        self.pending.pop_front()
    }

    /// Whether a request of this kind is still waiting for its reply.
    pub fn is_pending(&self, what: &Pending) -> bool {
        self.pending.contains(what)
    }
}

/// The reader thread: one [`Incoming`] per line until the connection ends.
fn read_lines(stream: UnixStream, sender: Sender<Incoming>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        let incoming = match reader.read_line(&mut line) {
            Ok(0) => Incoming::Closed("the compositor closed the control channel".into()),
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => parse_line(&line),
            Err(e) => Incoming::Closed(format!("cannot read the control channel: {e}")),
        };
        let closed = matches!(incoming, Incoming::Closed(_));
        if sender.send(incoming).is_err() || closed {
            return;
        }
    }
}

/// The requests the dashboard sends (protocol v2, `docs/control-protocol.md`).
pub mod request {
    use super::*;

    pub fn version() -> Value {
        json!({"request": "version"})
    }
    pub fn capsules() -> Value {
        json!({"request": "capsules"})
    }
    pub fn windows() -> Value {
        json!({"request": "windows"})
    }
    /// The window list, then the whole list again whenever it changes.
    pub fn follow_windows() -> Value {
        json!({"request": "windows", "follow": true})
    }
    /// The recent history, then every later event pushed on this connection.
    pub fn follow_events(limit: usize) -> Value {
        json!({"request": "events", "limit": limit, "follow": true})
    }
    pub fn samples() -> Value {
        json!({"request": "samples"})
    }
    pub fn samples_stop() -> Value {
        json!({"request": "samples", "stop": true})
    }
    /// `action`: `show`, `hide` or `toggle`.
    pub fn dashboard(action: &str) -> Value {
        json!({"request": "dashboard", "action": action})
    }
    pub fn session(action: &str) -> Value {
        json!({"request": "session", "action": action})
    }
    pub fn start(name: &str) -> Value {
        json!({"request": "capsule_start", "name": name})
    }
    pub fn stop(name: &str) -> Value {
        json!({"request": "capsule_stop", "name": name})
    }
    pub fn restart(name: &str) -> Value {
        json!({"request": "capsule_restart", "name": name})
    }
    pub fn release(name: &str) -> Value {
        json!({"request": "release", "name": name})
    }
    pub fn revoke(name: &str, capability: &str) -> Value {
        json!({"request": "revoke", "name": name, "capability": capability})
    }
}

/// Whether an error reply says the compositor does not know the request at all (a v1
/// compositor, or a capsule channel that does not offer it).
pub fn is_unknown_request(message: &str) -> bool {
    message.starts_with("unknown request") || message.contains("not available to capsules")
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_shell::sentry::event::EventKind;

    #[test]
    fn lines_are_told_apart_by_their_key() {
        assert_eq!(parse_line(r#"{"ok":null}"#), Incoming::Reply(Ok(Value::Null)));
        assert_eq!(
            parse_line(r#"{"error":"no capsule named \"x\""}"#),
            Incoming::Reply(Err("no capsule named \"x\"".into()))
        );
        let Incoming::Event(event) = parse_line(
            r#"{"event":{"seq":7,"time_ms":1,"capsule":"demo","severity":"warning","kind":"capsule_exited","code":1,"signal":null}}"#,
        ) else {
            panic!("not an event");
        };
        assert_eq!(event.seq, 7);
        assert!(matches!(
            event.kind,
            EventKind::CapsuleExited { code: Some(1), .. }
        ));
        let Incoming::Sample(sample) = parse_line(
            r#"{"sample":{"time_ms":5,"capsule":"demo","memory_bytes":1024,"cpu_percent":3.5,"pids":2}}"#,
        ) else {
            panic!("not a sample");
        };
        assert_eq!(sample.memory_bytes, 1024);
        assert!(matches!(parse_line("{"), Incoming::Malformed(_)));
        assert!(matches!(parse_line("[1]"), Incoming::Malformed(_)));
        assert!(matches!(
            parse_line(r#"{"event":{"seq":1}}"#),
            Incoming::Malformed(_)
        ));
    }

    #[test]
    fn replies_match_requests_in_order_over_a_real_socket() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let (mut link, channel) = ControlLink::open(&ControlSource::Fd({
            use std::os::fd::IntoRawFd;
            ours.into_raw_fd()
        }))
        .unwrap();
        link.send(request::capsules(), Pending::Capsules).unwrap();
        link.send(request::stop("demo"), Pending::Action("stop demo".into()))
            .unwrap();
        let mut peer = BufReader::new(theirs.try_clone().unwrap());
        let mut line = String::new();
        peer.read_line(&mut line).unwrap();
        assert_eq!(line, "{\"request\":\"capsules\"}\n");
        let mut writer = theirs;
        writer
            .write_all(b"{\"ok\":[]}\n{\"sample\":{\"time_ms\":5,\"capsule\":\"demo\",\"memory_bytes\":1,\"cpu_percent\":0.0,\"pids\":1}}\n{\"error\":\"nope\"}\n")
            .unwrap();
        drop(writer);
        drop(peer);
        let mut got = Vec::new();
        let mut event_loop = calloop::EventLoop::<Vec<Incoming>>::try_new().unwrap();
        event_loop
            .handle()
            .insert_source(channel, |event, _, got: &mut Vec<Incoming>| {
                if let calloop::channel::Event::Msg(m) = event {
                    got.push(m);
                }
            })
            .unwrap();
        while got.len() < 4 {
            event_loop
                .dispatch(Some(std::time::Duration::from_secs(5)), &mut got)
                .unwrap();
        }
        assert_eq!(got[0], Incoming::Reply(Ok(json!([]))));
        assert_eq!(link.take_pending(), Some(Pending::Capsules));
        assert!(matches!(got[1], Incoming::Sample(_)));
        assert_eq!(got[2], Incoming::Reply(Err("nope".into())));
        assert_eq!(link.take_pending(), Some(Pending::Action("stop demo".into())));
        assert!(matches!(got[3], Incoming::Closed(_)));
    }

    #[test]
    fn a_bad_control_fd_is_an_error_naming_it() {
        let err = ControlSource::Fd(9999).open().unwrap_err().to_string();
        assert!(err.contains("9999"), "{err}");
    }

    #[test]
    fn unknown_requests_are_recognised() {
        assert!(is_unknown_request(
            "unknown request \"events\"; expected one of version, outputs"
        ));
        assert!(!is_unknown_request("no capsule named \"x\""));
    }
}
