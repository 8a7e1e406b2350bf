//! A small QMP client (QEMU Machine Protocol: JSON lines over a unix socket).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

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
        let greeting = qmp.read_message()?;
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
            Some(json!({ "filename": abs.to_str().context("path is not UTF-8")?, "format": "png" })),
        )?;
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
