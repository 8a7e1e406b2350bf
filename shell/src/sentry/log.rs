//! The event log: every Sentry event as one JSON line, appended to a file that survives the
//! compositor. By default `$XDG_STATE_HOME/exosphere/sentry.jsonl` (`~/.local/state/…` when
//! `XDG_STATE_HOME` is unset).
//!
//! - **Durable before published:** [`EventLog::append`] writes the line, [`EventLog::sync`]
//!   waits until what was appended is on disk (one fsync for a batch of events). The compositor
//!   publishes an event only after that, so whatever a client has seen is on disk even if the
//!   compositor is killed the next instant.
//! - **Bounded:** when the file would grow past its size limit it is renamed to
//!   `sentry.jsonl.1` (replacing the older one) and a new file is started: at most two files.
//! - **Reread at start:** both files are read back as history, and numbering continues after
//!   the highest `seq` found. A torn last line (a crash in the middle of a write, which was then
//!   never acknowledged) is skipped with a warning and cut off; an unreadable line elsewhere is
//!   skipped with a warning. Neither costs the rest of the log.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::event::{Event, EventKind, Severity};

/// The log file's name in its directory.
pub const LOG_FILE_NAME: &str = "sentry.jsonl";
/// The default size limit of one log file, in KiB (`[sentry] log_max_kib`).
pub const DEFAULT_LOG_MAX_KIB: u32 = 2048;
/// Without a file, how many events are kept in memory.
pub const MEMORY_HISTORY: usize = 10_000;

/// Every `kind` tag of [`EventKind`], for filters and their error messages.
pub const EVENT_KINDS: [&str; 15] = [
    "capsule_started",
    "capsule_exited",
    "capsule_restarting",
    "capsule_failed",
    "capsule_stopped",
    "oom_kill",
    "unresponsive",
    "protocol_error",
    "refused",
    "flood",
    "anomaly",
    "action",
    "control_refused",
    "dashboard",
    "launcher",
];

/// `$XDG_STATE_HOME/exosphere/sentry.jsonl`, else `~/.local/state/exosphere/sentry.jsonl`.
pub fn default_log_path() -> Option<PathBuf> {
    log_path_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

/// [`default_log_path`] for given variable values.
fn log_path_from(
    state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    // The XDG spec says to ignore relative values.
    let base = match state_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => dir,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?)
            .join(".local")
            .join("state"),
    };
    Some(base.join("exosphere").join(LOG_FILE_NAME))
}

/// The rotated (older) file next to `path`: `sentry.jsonl.1`.
pub fn rotated_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".1");
    PathBuf::from(name)
}

/// Which events a client asks for (the `events` request's filters); empty fields match all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events with a greater `seq`.
    pub since_seq: Option<u64>,
    /// Only events about this capsule.
    pub capsule: Option<String>,
    /// Only these kinds (tags such as `"anomaly"`); empty means every kind.
    pub kinds: Vec<String>,
    /// Only events at least this severe.
    pub min_severity: Option<Severity>,
}

impl EventFilter {
    pub fn matches(&self, event: &Event) -> bool {
        self.since_seq.is_none_or(|s| event.seq > s)
            && self
                .capsule
                .as_deref()
                .is_none_or(|c| event.capsule.as_deref() == Some(c))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == event.kind.name()))
            && self.min_severity.is_none_or(|s| event.severity >= s)
    }
}

/// The open log file.
#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: File,
    /// Bytes in the file: where the next line starts.
    size: u64,
    max_bytes: u64,
    /// Lines were written since the last sync.
    dirty: bool,
}

/// The event log: the file (if any) and the history read from it, in memory.
#[derive(Debug)]
pub struct EventLog {
    file: Option<LogFile>,
    next_seq: u64,
    history: VecDeque<Event>,
    /// How many of the oldest events in `history` are in the rotated file.
    rotated: usize,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::in_memory()
    }
}

/// What reading one file back found.
struct Reread {
    events: Vec<Event>,
    /// Where the last complete line ends (the file is cut there when it is the current one).
    good_len: u64,
    len: u64,
}

/// Reads the events of `path` (a missing file has none), noting what it skips in `warnings`.
fn reread(path: &Path, warnings: &mut Vec<String>) -> io::Result<Reread> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let good_len = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    if good_len < bytes.len() {
        warnings.push(format!(
            "{}: skipped a torn last line ({} bytes, never acknowledged)",
            path.display(),
            bytes.len() - good_len
        ));
    }
    let mut events = Vec::new();
    for (n, line) in bytes[..good_len].split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(line) {
            Ok(event) => events.push(event),
            Err(e) => warnings.push(format!(
                "{}:{}: skipped an unreadable event: {e}",
                path.display(),
                n + 1
            )),
        }
    }
    Ok(Reread {
        events,
        good_len: good_len as u64,
        len: bytes.len() as u64,
    })
}

/// fsync a directory, so a rename or a new file in it is durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

impl EventLog {
    /// A log without a file: numbering from 1, the last [`MEMORY_HISTORY`] events kept.
    pub fn in_memory() -> EventLog {
        EventLog {
            file: None,
            next_seq: 1,
            history: VecDeque::new(),
            rotated: 0,
        }
    }

    /// Opens (creating it and its directory if needed) the log at `path`, rotating it at
    /// `max_bytes`, and reads back its history. The warnings say what was skipped.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<(EventLog, Vec<String>)> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !dir.exists() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)?;
            }
        }
        let mut warnings = Vec::new();
        let old = reread(&rotated_path(path), &mut warnings)?;
        let current = reread(path, &mut warnings)?;
        let file = open_append(path)?;
        if current.good_len < current.len {
            // Cut the torn line off, so the next event starts a line of its own.
            file.set_len(current.good_len)?;
            file.sync_all()?;
        }
        let next_seq = old
            .events
            .iter()
            .chain(&current.events)
            .map(|e| e.seq)
            .max()
            .map_or(1, |s| s + 1);
        let rotated = old.events.len();
        let history: VecDeque<Event> = old.events.into_iter().chain(current.events).collect();
        let log = EventLog {
            file: Some(LogFile {
                path: path.to_path_buf(),
                file,
                size: current.good_len,
                max_bytes: max_bytes.max(1),
                dirty: false,
            }),
            next_seq,
            history,
            rotated,
        };
        Ok((log, warnings))
    }

    /// The log file, if the log has one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// The `seq` the next event gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Every event in the log (both files), oldest first.
    pub fn history(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.history.iter()
    }

    /// The newest `limit` events matching `filter`, oldest first.
    pub fn query(&self, filter: &EventFilter, limit: usize) -> Vec<Event> {
        let mut found: Vec<Event> = self
            .history
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .take(limit)
            .cloned()
            .collect();
        found.reverse();
        found
    }

    /// Numbers the event and writes it; [`EventLog::sync`] makes it durable. The event is
    /// returned even when writing failed (it is then kept in memory only, and the error says
    /// why).
    pub fn append(
        &mut self,
        time_ms: u64,
        capsule: Option<String>,
        severity: Severity,
        kind: EventKind,
    ) -> (Event, io::Result<()>) {
        let event = Event {
            seq: self.next_seq,
            time_ms,
            capsule,
            severity,
            kind,
        };
        self.next_seq += 1;
        let written = self.write(&event);
        self.history.push_back(event.clone());
        if self.file.is_none() && self.history.len() > MEMORY_HISTORY {
            self.history.pop_front();
        }
        (event, written)
    }

    /// Waits until every event appended so far is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(log) if log.dirty => {
                log.file.sync_data()?;
                log.dirty = false;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn write(&mut self, event: &Event) -> io::Result<()> {
        let Some(log) = self.file.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        if log.size > 0 && log.size + line.len() as u64 > log.max_bytes {
            if log.dirty {
                // What is still unsynced must be durable in the file it was written to.
                log.file.sync_data()?;
                log.dirty = false;
            }
            let rotated = rotated_path(&log.path);
            std::fs::rename(&log.path, &rotated)?;
            log.file = open_append(&log.path)?;
            log.size = 0;
            sync_dir(&log.path)?;
            // What was in the older file is gone; the file just rotated is the older one now.
            let current = self.history.len() - self.rotated;
            self.history.drain(..self.rotated);
            self.rotated = current;
        }
        match log.file.write_all(&line) {
            Ok(()) => {
                log.size += line.len() as u64;
                log.dirty = true;
                Ok(())
            }
            Err(e) => {
                // Never leave half a line for the next event to be glued to.
                let _ = log.file.set_len(log.size);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentry::event::EventKind;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("exo-sentry-log-{}-{tag}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn started(log: &mut EventLog, capsule: &str, pid: u32) -> Event {
        let (event, written) = log.append(
            1000 + u64::from(pid),
            Some(capsule.into()),
            Severity::Info,
            EventKind::CapsuleStarted { pid },
        );
        written.unwrap();
        log.sync().unwrap();
        event
    }

    fn lines(path: &Path) -> Vec<Event> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn the_default_path_follows_xdg_state_home() {
        let p = log_path_from(Some("/state".into()), Some("/home/u".into()));
        assert_eq!(p.unwrap(), Path::new("/state/exosphere/sentry.jsonl"));
        let p = log_path_from(None, Some("/home/u".into()));
        assert_eq!(
            p.unwrap(),
            Path::new("/home/u/.local/state/exosphere/sentry.jsonl")
        );
        let p = log_path_from(Some("relative".into()), Some("/home/u".into()));
        assert_eq!(
            p.unwrap(),
            Path::new("/home/u/.local/state/exosphere/sentry.jsonl")
        );
        assert_eq!(log_path_from(None, None), None);
        assert_eq!(
            rotated_path(Path::new("/s/sentry.jsonl")),
            Path::new("/s/sentry.jsonl.1")
        );
    }

    #[test]
    fn events_are_numbered_written_as_lines_and_reread_with_seq_continuing() {
        let dir = TempDir::new("reread");
        let path = dir.0.join("state/exosphere/sentry.jsonl");
        let (mut log, warnings) = EventLog::open(&path, 1 << 20).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(log.next_seq(), 1);
        let a = started(&mut log, "a", 1);
        let b = started(&mut log, "b", 2);
        assert_eq!((a.seq, b.seq), (1, 2));
        assert_eq!(lines(&path), vec![a.clone(), b.clone()]);
        drop(log);

        let (mut log, warnings) = EventLog::open(&path, 1 << 20).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(log.history().cloned().collect::<Vec<_>>(), vec![a, b]);
        assert_eq!(started(&mut log, "c", 3).seq, 3);
        assert_eq!(lines(&path).len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_cut_off_and_the_rest_kept() {
        let dir = TempDir::new("torn");
        let path = dir.0.join("sentry.jsonl");
        let (mut log, _) = EventLog::open(&path, 1 << 20).unwrap();
        let a = started(&mut log, "a", 1);
        let b = started(&mut log, "b", 2);
        drop(log);
        // A crash in the middle of writing event 3, and a line spoiled by hand before it.
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.insert_str(0, "not json\n");
        text.push_str(r#"{"seq":3,"time_ms":5,"sev"#);
        std::fs::write(&path, text).unwrap();

        let (mut log, warnings) = EventLog::open(&path, 1 << 20).unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("torn last line"), "{warnings:?}");
        assert!(warnings[1].contains("sentry.jsonl:1:"), "{warnings:?}");
        assert_eq!(
            log.history().cloned().collect::<Vec<_>>(),
            vec![a.clone(), b.clone()]
        );
        // Numbering goes on after the last complete event, on a line of its own.
        let c = started(&mut log, "c", 3);
        assert_eq!(c.seq, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n') && !text.contains("\"sev{"), "{text}");
        drop(log);
        let (log, _) = EventLog::open(&path, 1 << 20).unwrap();
        assert_eq!(log.history().cloned().collect::<Vec<_>>(), vec![a, b, c]);
    }

    #[test]
    fn the_log_rotates_at_its_size_and_keeps_one_older_file() {
        let dir = TempDir::new("rotate");
        let path = dir.0.join("sentry.jsonl");
        let one_line = serde_json::to_vec(&Event {
            seq: 10,
            time_ms: 1010,
            capsule: Some("x".into()),
            severity: Severity::Info,
            kind: EventKind::CapsuleStarted { pid: 10 },
        })
        .unwrap()
        .len() as u64
            + 1;
        // Room for three lines per file.
        let (mut log, _) = EventLog::open(&path, one_line * 3).unwrap();
        let events: Vec<Event> = (10..20).map(|pid| started(&mut log, "x", pid)).collect();
        // 10 events, 3 per file: the current file has the 10th, the older one 7 to 9.
        assert_eq!(lines(&path), events[9..].to_vec());
        assert_eq!(lines(&rotated_path(&path)), events[6..9].to_vec());
        assert_eq!(log.history().cloned().collect::<Vec<_>>(), events[6..].to_vec());
        assert!(!dir.0.join("sentry.jsonl.2").exists());
        drop(log);
        let (mut log, _) = EventLog::open(&path, one_line * 3).unwrap();
        assert_eq!(log.history().cloned().collect::<Vec<_>>(), events[6..].to_vec());
        assert_eq!(started(&mut log, "x", 20).seq, 11);
    }

    #[test]
    fn queries_filter_and_return_the_newest_oldest_first() {
        let mut log = EventLog::in_memory();
        started(&mut log, "a", 1);
        started(&mut log, "b", 2);
        let (exited, _) = log.append(
            5,
            Some("a".into()),
            Severity::Warning,
            EventKind::CapsuleExited {
                code: Some(1),
                signal: None,
            },
        );
        started(&mut log, "a", 3);
        let seqs = |f: &EventFilter, limit| log.query(f, limit).iter().map(|e| e.seq).collect::<Vec<_>>();
        assert_eq!(seqs(&EventFilter::default(), 100), [1, 2, 3, 4]);
        assert_eq!(seqs(&EventFilter::default(), 2), [3, 4]);
        let only_a = EventFilter {
            capsule: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(seqs(&only_a, 100), [1, 3, 4]);
        let since = EventFilter {
            since_seq: Some(2),
            ..Default::default()
        };
        assert_eq!(seqs(&since, 100), [3, 4]);
        let warnings = EventFilter {
            min_severity: Some(Severity::Warning),
            ..Default::default()
        };
        assert_eq!(log.query(&warnings, 100), vec![exited]);
        let kinds = EventFilter {
            kinds: vec!["capsule_exited".into(), "dashboard".into()],
            ..Default::default()
        };
        assert_eq!(seqs(&kinds, 100), [3]);
    }

    #[test]
    fn without_a_file_memory_is_bounded() {
        let mut log = EventLog::in_memory();
        for pid in 0..(MEMORY_HISTORY as u32 + 5) {
            log.append(0, None, Severity::Info, EventKind::CapsuleStarted { pid })
                .1
                .unwrap();
        }
        assert_eq!(log.history().len(), MEMORY_HISTORY);
        assert_eq!(log.history().next().unwrap().seq, 6);
        assert_eq!(log.path(), None);
    }

    #[test]
    fn every_kind_tag_is_listed() {
        let kinds = [
            EventKind::CapsuleStarted { pid: 1 },
            EventKind::CapsuleExited {
                code: None,
                signal: None,
            },
            EventKind::CapsuleRestarting {
                attempt: 1,
                delay_ms: 1,
            },
            EventKind::CapsuleFailed { reason: "r".into() },
            EventKind::CapsuleStopped { by: "u".into() },
            EventKind::OomKill,
            EventKind::Unresponsive { window: "w".into() },
            EventKind::ProtocolError {
                interface: "i".into(),
                code: 0,
                message: "m".into(),
            },
            EventKind::Refused {
                what: "w".into(),
                capability: "c".into(),
            },
            EventKind::Flood {
                what: "w".into(),
                count: 1,
                limit: 1,
            },
            EventKind::Anomaly {
                anomaly: crate::sentry::AnomalyKind::CrashLoop,
                evidence: "e".into(),
            },
            EventKind::Action {
                action: crate::sentry::ActionKind::Kill,
                by: "b".into(),
                reason: "r".into(),
            },
            EventKind::ControlRefused { request: "r".into() },
            EventKind::Dashboard { visible: true },
            EventKind::Launcher,
        ];
        let names: Vec<&str> = kinds.iter().map(EventKind::name).collect();
        assert_eq!(names, EVENT_KINDS);
    }
}
