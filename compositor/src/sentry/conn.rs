//! Control connections: the user's control-socket connections and the capsules' control
//! channels, served alike. Requests are read from the event loop and answered by
//! `control::handle_line`; every reply and pushed line goes through the connection's output
//! buffer, written without blocking (a writable-watch drains what the socket does not take at
//! once). The event loop never waits for a client:
//!
//! - a client whose unread replies pass [`PAUSE_AT`] is not served further requests until it
//!   has read them down to [`RESUME_AT`]; if it reads nothing for [`STALL_TIMEOUT`] meanwhile,
//!   it is disconnected;
//! - a subscriber with more than [`PUSH_BUFFER`] unread when a line is pushed is disconnected.

use std::{
    collections::BTreeSet,
    io::{ErrorKind, Read, Write},
    os::unix::net::UnixStream,
    time::Duration,
};

use exo_shell::{
    control::{Pushed, WindowInfo},
    sentry::{log::EventFilter, Event},
};
use smithay::reexports::calloop::{
    generic::Generic,
    timer::{TimeoutAction, Timer},
    Interest, Mode, PostAction,
};

use super::Sentry;
use crate::state::State;

/// A connection's number, never reused within a session.
pub type ConnId = u64;

/// A request line longer than this is refused and the connection closed.
pub const MAX_LINE: usize = 1 << 20;
/// Unread output at which a connection's requests wait until it reads.
pub const PAUSE_AT: usize = 256 << 10;
/// Unread output below which a paused connection is served again.
pub const RESUME_AT: usize = 64 << 10;
/// How long a paused connection may read nothing before it is dropped.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(1);
/// Output a subscriber may leave unread before a pushed line drops its connection.
pub const PUSH_BUFFER: usize = 1 << 20;
/// Output no connection may leave unread (one reply can be a whole log).
pub const REPLY_BUFFER: usize = 64 << 20;

/// Who is on the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A connection to the control socket (only the user's own, non-capsule processes).
    User,
    /// A capsule's control channel.
    Capsule(String),
}

impl Peer {
    /// Who did something, for events: `"user"` or the capsule's name.
    pub fn who(&self) -> &str {
        match self {
            Peer::User => "user",
            Peer::Capsule(name) => name,
        }
    }
}

pub struct Conn {
    pub peer: Peer,
    stream: UnixStream,
    /// Output the socket has not taken yet.
    out: Vec<u8>,
    /// Bytes the socket has taken so far (progress, for the stall timeout).
    written: u64,
    /// Input not yet answered.
    input: Vec<u8>,
    /// A writable-watch is registered (output is pending).
    watching: bool,
    /// Requests wait until the client reads its replies (no read-watch meanwhile).
    paused: bool,
    /// The client sent all it will (end of stream, or a line too long).
    ended: bool,
    /// Close once the output is written.
    closing: bool,
    /// Events matching this are pushed (`events` with `follow`).
    pub follow: Option<EventFilter>,
    /// Samples are pushed: of every capsule (`Some(None)`) or of one.
    pub samples: Option<Option<String>>,
    /// The window list this connection last got (`windows` with `follow`): a changed list is
    /// pushed.
    pub windows: Option<Vec<WindowInfo>>,
}

impl Sentry {
    /// Serves `stream` as a control connection for `peer` from the event loop.
    pub fn add_conn(&mut self, stream: UnixStream, peer: Peer) -> std::io::Result<ConnId> {
        stream.set_nonblocking(true)?;
        self.next_conn += 1;
        let id = self.next_conn;
        self.conns.insert(
            id,
            Conn {
                peer,
                stream,
                out: Vec::new(),
                written: 0,
                input: Vec::new(),
                watching: false,
                paused: false,
                ended: false,
                closing: false,
                follow: None,
                samples: None,
                windows: None,
            },
        );
        if !self.watch_readable(id) {
            self.conns.remove(&id);
            return Err(std::io::Error::other("cannot watch the connection"));
        }
        Ok(id)
    }

    /// Registers the read-watch that serves the connection's requests.
    fn watch_readable(&mut self, id: ConnId) -> bool {
        let Some(reader) = self.conns.get(&id).and_then(|c| c.stream.try_clone().ok()) else {
            return false;
        };
        self.handle
            .insert_source(
                Generic::new(reader, Interest::READ, Mode::Level),
                move |_, stream, state| {
                    // SAFETY: the stream is not dropped or replaced while we use it here.
                    let stream = unsafe { stream.get_mut() };
                    Ok(readable(state, id, stream))
                },
            )
            .is_ok()
    }

    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    pub fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(&id)
    }

    /// The connections following events that `event` matches.
    pub(super) fn followers_of(&self, event: &Event) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.follow.as_ref().is_some_and(|f| f.matches(event)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether any connection follows the window list.
    pub fn follows_windows(&self) -> bool {
        self.conns.values().any(|c| c.windows.is_some())
    }

    /// Pushes `now` to every connection following the window list that last got another one.
    pub fn push_windows(&mut self, now: &[WindowInfo]) {
        let stale: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.windows.as_deref().is_some_and(|sent| sent != now))
            .map(|(id, _)| *id)
            .collect();
        if stale.is_empty() {
            return;
        }
        let line = Pushed::Windows(now.to_vec()).to_line();
        for id in stale {
            if let Some(conn) = self.conns.get_mut(&id) {
                conn.windows = Some(now.to_vec());
            }
            self.push(id, &line);
        }
    }

    /// The connections subscribed to samples, and which capsules they want (`None`: all).
    pub fn sample_subscribers(&self) -> Vec<(ConnId, Option<String>)> {
        self.conns
            .iter()
            .filter_map(|(id, c)| c.samples.clone().map(|s| (*id, s)))
            .collect()
    }

    /// The capsules someone wants samples of; `None` when someone wants them all.
    pub fn sampled_capsules(&self) -> Option<BTreeSet<String>> {
        let mut names = BTreeSet::new();
        for (_, wanted) in self.sample_subscribers() {
            names.insert(wanted?);
        }
        Some(names)
    }

    /// Queues a reply line.
    pub fn reply(&mut self, id: ConnId, line: &str) {
        self.send(id, line, REPLY_BUFFER);
    }

    /// Queues a pushed line; a subscriber too far behind is dropped.
    pub fn push(&mut self, id: ConnId, line: &str) {
        self.send(id, line, PUSH_BUFFER);
    }

    fn send(&mut self, id: ConnId, line: &str, limit: usize) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        conn.out.extend_from_slice(line.as_bytes());
        conn.out.push(b'\n');
        if !conn.watching && write_out(conn).is_err() {
            self.close_conn(id);
            return;
        }
        if conn.out.len() > limit {
            tracing::warn!(
                conn = id,
                peer = conn.peer.who(),
                unread = conn.out.len(),
                "dropping a control connection that does not read"
            );
            self.close_conn(id);
            return;
        }
        if !conn.out.is_empty() && !conn.watching {
            self.watch_writable(id);
        }
    }

    /// Registers a writable-watch that drains the connection's output.
    fn watch_writable(&mut self, id: ConnId) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        let Ok(writer) = conn.stream.try_clone() else {
            self.close_conn(id);
            return;
        };
        conn.watching = true;
        let inserted = self.handle.insert_source(
            Generic::new(writer, Interest::WRITE, Mode::Level),
            move |_, _, state| Ok(writable(state, id)),
        );
        if inserted.is_err() {
            self.close_conn(id);
        }
    }

    /// Drops the connection if it reads nothing for [`STALL_TIMEOUT`] while paused (or while
    /// its last output waits to be read).
    fn watch_stall(&mut self, id: ConnId) {
        let Some(mut mark) = self.conns.get(&id).map(|c| c.written) else {
            return;
        };
        let timer = Timer::from_duration(STALL_TIMEOUT);
        let inserted = self.handle.insert_source(timer, move |_, _, state| {
            let sentry = &mut state.nexq.sentry;
            match sentry.conns.get(&id) {
                Some(conn) if (conn.paused || conn.closing) && conn.written == mark => {
                    tracing::warn!(
                        conn = id,
                        peer = conn.peer.who(),
                        "dropping a control connection that does not read its replies"
                    );
                    sentry.close_conn(id);
                    TimeoutAction::Drop
                }
                Some(conn) if conn.paused || conn.closing => {
                    mark = conn.written;
                    TimeoutAction::ToDuration(STALL_TIMEOUT)
                }
                _ => TimeoutAction::Drop,
            }
        });
        if inserted.is_err() {
            self.close_conn(id);
        }
    }

    /// Closes a connection now, unwritten output and all. Its event sources notice (the socket
    /// is shut down, so they wake) and remove themselves.
    pub fn close_conn(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.remove(&id) {
            let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The client sent all it will: close once its output is written.
    fn close_after_output(&mut self, id: ConnId) {
        match self.conns.get_mut(&id) {
            Some(conn) if !conn.out.is_empty() => {
                conn.closing = true;
                self.watch_stall(id);
            }
            Some(_) => self.close_conn(id),
            None => {}
        }
    }
}

/// Writes what the socket takes without blocking.
fn write_out(conn: &mut Conn) -> std::io::Result<()> {
    let mut written = 0;
    while written < conn.out.len() {
        match conn.stream.write(&conn.out[written..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.out.drain(..written);
    conn.written += written as u64;
    Ok(())
}

/// Answers the complete request lines received, until the client has too many replies
/// unread; returns whether it stopped for that (the connection is then paused).
fn answer(state: &mut State, id: ConnId) -> bool {
    loop {
        let Some(conn) = state.nexq.sentry.conn_mut(id) else {
            return false;
        };
        if conn.out.len() > PAUSE_AT {
            return true;
        }
        let Some(end) = conn.input.iter().position(|b| *b == b'\n') else {
            break;
        };
        let line: Vec<u8> = conn.input.drain(..=end).collect();
        if let Some(reply) = crate::control::handle_line(state, id, &line[..end]) {
            state.nexq.sentry.reply(id, &reply.to_line());
        }
    }
    let sentry = &mut state.nexq.sentry;
    if let Some(conn) = sentry.conn_mut(id) {
        if conn.input.len() > MAX_LINE {
            conn.input.clear();
            conn.ended = true;
            let reply =
                exo_shell::control::Reply::Error(format!("request line longer than {MAX_LINE} bytes"));
            sentry.reply(id, &reply.to_line());
        }
    }
    false
}

/// After answering: pause, finish, or go on reading. Returns whether to keep reading.
fn after_answering(state: &mut State, id: ConnId, paused: bool) -> bool {
    let sentry = &mut state.nexq.sentry;
    let Some(conn) = sentry.conn_mut(id) else {
        return false;
    };
    if paused {
        conn.paused = true;
        sentry.watch_stall(id);
        false
    } else if conn.ended {
        // Whatever is left without a newline is not a request.
        sentry.close_after_output(id);
        false
    } else {
        true
    }
}

/// The client sent something: read it and answer.
fn readable(state: &mut State, id: ConnId, stream: &mut UnixStream) -> PostAction {
    let Some(conn) = state.nexq.sentry.conn_mut(id) else {
        return PostAction::Remove;
    };
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => {
                conn.ended = true;
                break;
            }
            Ok(n) => {
                conn.input.extend_from_slice(&chunk[..n]);
                // Serve what is here before reading on: a client that writes without pause
                // must neither keep the event loop here nor grow the buffer without bound.
                if conn.input.len() > MAX_LINE {
                    break;
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                conn.ended = true;
                break;
            }
        }
    }
    let paused = answer(state, id);
    // Level-triggered: a paused or finished connection stays readable, so the watch goes (a
    // resumed connection gets a new one).
    if after_answering(state, id, paused) {
        PostAction::Continue
    } else {
        PostAction::Remove
    }
}

/// The socket takes output again: write what it takes, and serve a paused client that has
/// caught up.
fn writable(state: &mut State, id: ConnId) -> PostAction {
    let sentry = &mut state.nexq.sentry;
    let Some(conn) = sentry.conn_mut(id) else {
        return PostAction::Remove;
    };
    if write_out(conn).is_err() {
        sentry.close_conn(id);
        return PostAction::Remove;
    }
    if conn.paused && conn.out.len() <= RESUME_AT {
        conn.paused = false;
        let paused = answer(state, id);
        if after_answering(state, id, paused) && !state.nexq.sentry.watch_readable(id) {
            state.nexq.sentry.close_conn(id);
        }
    }
    let sentry = &mut state.nexq.sentry;
    let Some(conn) = sentry.conn_mut(id) else {
        return PostAction::Remove;
    };
    if write_out(conn).is_err() {
        sentry.close_conn(id);
        return PostAction::Remove;
    }
    if !conn.out.is_empty() {
        return PostAction::Continue;
    }
    conn.watching = false;
    if conn.closing {
        sentry.close_conn(id);
    }
    PostAction::Remove
}
