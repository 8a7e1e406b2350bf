//! A small QMP client (QEMU Machine Protocol: JSON lines over a unix socket).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::qemu::GPU_ID;

/// The `screendump` arguments: PNG to `filename`; with a head, of that output of the virtio-gpu
/// (`device` [`GPU_ID`], which QEMU requires alongside `head`).
pub fn screendump_args(filename: &str, head: Option<u32>) -> Value {
    let mut a = json!({ "filename": filename, "format": "png" });
    if let Some(head) = head {
        a["device"] = json!(GPU_ID);
        a["head"] = json!(head);
    }
    a
}

pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// Asynchronous events received while waiting for command replies.
    pub events: Vec<Value>,
}

impl Qmp {
    /// Connects to `socket`, retrying until `timeout` (QEMU creates the socket shortly after
    /// it starts), reads the greeting and negotiates capabilities.
    pub fn connect(socket: &Path, timeout: Duration) -> Result<Qmp> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e).with_context(|| format!("connecting to QMP {}", socket.display())),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let writer = stream.try_clone()?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
            events: Vec::new(),
        };
        // Events can come first: the socket serves one client at a time, and an event QEMU
        // sends while it has not yet seen the previous client go (a RESUME right after boot,
        // seen in a boot test) reaches the new one ahead of its greeting.
        let greeting = loop {
            let message = qmp.read_message()?;
            if message.get("event").is_none() {
                break message;
            }
            qmp.events.push(message);
        };
        if greeting.get("QMP").is_none() {
            bail!("{}: not a QMP greeting: {greeting}", socket.display());
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).context("reading from QMP")?;
        if n == 0 {
            bail!("QMP connection closed (QEMU exited?)");
        }
        serde_json::from_str(&line).with_context(|| format!("QMP sent invalid JSON: {line:?}"))
    }

    /// Runs a command and returns its `return` value; a QMP `error` is an error naming the
    /// command.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut line = serde_json::to_string(&msg)?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .with_context(|| format!("sending QMP {command}"))?;
        loop {
            let reply = self.read_message()?;
            if reply.get("event").is_some() {
                self.events.push(reply);
                continue;
            }
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                bail!("QMP {command} failed: {}", e["desc"].as_str().unwrap_or("?"));
            }
            bail!("unexpected QMP reply to {command}: {reply}");
        }
    }

    /// `screendump` of the primary display as PNG to `path` (made absolute: QEMU writes it).
    pub fn screendump(&mut self, path: &Path) -> Result<()> {
        let abs = std::path::absolute(path)?;
        self.execute(
            "screendump",
            Some(screendump_args(abs.to_str().context("path is not UTF-8")?, None)),
        )?;
        Ok(())
    }

    /// `screendump` of output `head` of the virtio-gpu (device id [`GPU_ID`]) as PNG to `path`.
    /// QEMU fails for a head the device does not have ("Device gpu (head N) is not bound to a
    /// QemuConsole") and when there is no such device (e.g. `-vga std`); a head the guest has
    /// not enabled gives QEMU's 640×480 placeholder.
    pub fn screendump_head(&mut self, path: &Path, head: u32) -> Result<()> {
        let abs = std::path::absolute(path)?;
        self.execute(
            "screendump",
            Some(screendump_args(
                abs.to_str().context("path is not UTF-8")?,
                Some(head),
            )),
        )
        .with_context(|| {
            let needs = match head {
                0 => String::new(),
                h => format!(" --outputs {} or more", u64::from(h) + 1),
            };
            format!("screendump of head {head} (needs a VM started with --vga virtio{needs})")
        })?;
        Ok(())
    }

    /// Presses the keys in order, holds them `hold_ms`, releases them in reverse order.
    pub fn send_key(&mut self, qcodes: &[&str], hold_ms: u32) -> Result<()> {
        let keys: Vec<Value> = qcodes
            .iter()
            .map(|k| json!({ "type": "qcode", "data": k }))
            .collect();
        self.execute("send-key", Some(json!({ "keys": keys, "hold-time": hold_ms })))?;
        Ok(())
    }

    /// `input-send-event` with the given events.
    pub fn input_events(&mut self, events: Vec<Value>) -> Result<()> {
        self.execute("input-send-event", Some(json!({ "events": events })))?;
        Ok(())
    }

    /// A key press or release (for holding a modifier across other input).
    pub fn key_event(&mut self, qcode: &str, down: bool) -> Result<()> {
        self.input_events(vec![json!({
            "type": "key",
            "data": { "down": down, "key": { "type": "qcode", "data": qcode } }
        })])
    }

    /// Absolute pointer position, both axes in 0..=32767 (the virtio tablet's range).
    pub fn pointer_abs(&mut self, x: u32, y: u32) -> Result<()> {
        self.input_events(vec![
            json!({ "type": "abs", "data": { "axis": "x", "value": x.min(32767) } }),
            json!({ "type": "abs", "data": { "axis": "y", "value": y.min(32767) } }),
        ])
    }

    /// A mouse button press or release: "left", "middle", "right", ...
    pub fn button(&mut self, button: &str, down: bool) -> Result<()> {
        self.input_events(vec![
            json!({ "type": "btn", "data": { "down": down, "button": button } }),
        ])
    }

    pub fn system_powerdown(&mut self) -> Result<()> {
        self.execute("system_powerdown", None).map(|_| ())
    }

    pub fn quit(&mut self) -> Result<()> {
        self.execute("quit", None).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screendump_arguments() {
        assert_eq!(
            screendump_args("/o/shot.png", None),
            json!({ "filename": "/o/shot.png", "format": "png" })
        );
        let a = screendump_args("/o/shot-1.png", Some(1));
        assert_eq!(
            a,
            json!({ "filename": "/o/shot-1.png", "format": "png", "device": "gpu", "head": 1 })
        );
        assert_eq!(a["head"].as_u64(), Some(1), "head must be a JSON number: {a}");
    }

    /// A fresh socket path for the test `name` of this process.
    fn socket_path(name: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("exo-vm-qmp-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// Plays QEMU's side of a connection: writes `lines` in turn, each after reading one line
    /// from the client when `await_request` is set for it.
    fn peer(socket: &Path, lines: Vec<(&'static str, bool)>) -> std::thread::JoinHandle<()> {
        let listener = std::os::unix::net::UnixListener::bind(socket).expect("bind the socket");
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut writer = stream;
            for (line, await_request) in lines {
                if await_request {
                    let mut request = String::new();
                    reader.read_line(&mut request).expect("read a request");
                }
                writeln!(writer, "{line}").expect("write");
            }
        })
    }

    #[test]
    fn an_event_ahead_of_the_greeting_is_kept_and_the_greeting_still_read() {
        let socket = socket_path("event-first");
        let qemu = peer(
            &socket,
            vec![
                (
                    r#"{"event":"RESUME","timestamp":{"seconds":1,"microseconds":2}}"#,
                    false,
                ),
                (r#"{"QMP":{"version":{},"capabilities":[]}}"#, false),
                (r#"{"return":{}}"#, true),
            ],
        );
        let qmp = Qmp::connect(&socket, Duration::from_secs(5)).expect("connect");
        assert_eq!(qmp.events.len(), 1);
        assert_eq!(qmp.events[0]["event"], "RESUME");
        qemu.join().expect("peer");
        let _ = std::fs::remove_file(&socket);
    }

    #[test]
    fn a_peer_that_is_not_qmp_is_named() {
        let socket = socket_path("not-qmp");
        let qemu = peer(&socket, vec![(r#"{"hello":1}"#, false)]);
        let err = Qmp::connect(&socket, Duration::from_secs(5))
            .err()
            .expect("not QMP");
        assert!(err.to_string().contains("not a QMP greeting"), "{err:#}");
        qemu.join().expect("peer");
        let _ = std::fs::remove_file(&socket);
    }
}
