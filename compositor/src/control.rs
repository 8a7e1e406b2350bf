//! The control socket server: JSON lines on a 0600 Unix socket (protocol types and the
//! documentation live in `exo_shell::control` and `docs/control-protocol.md`). A bad request
//! gets an error reply; the connection and the compositor stay up.

use std::{
    io::{ErrorKind, Read, Write},
    os::unix::{
        fs::PermissionsExt,
        net::{UnixListener, UnixStream},
    },
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use exo_shell::control::{
    parse_request, ButtonState as CtlButtonState, CapsuleLogs, OutputInfo, PointerButton, Reply, Request,
    RunInfo, ScreenshotInfo, VersionInfo, WindowInfo, PROTOCOL_VERSION,
};
use exo_shell::{keys::KeyCombo, Capability, CapabilitySet};
use smithay::{
    backend::input::{ButtonState, KeyState},
    reexports::calloop::{generic::Generic, Interest, LoopHandle, Mode, PostAction},
};

use crate::{
    input::{BTN_LEFT, BTN_MIDDLE, BTN_RIGHT},
    state::State,
};

/// A request line longer than this is refused and the connection closed.
const MAX_LINE: usize = 1 << 20;
/// How long a reply may wait for a client that does not read: then the connection is dropped
/// (the event loop, and with it the whole session, is blocked while a reply is written).
const REPLY_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

pub fn control_socket_path(runtime_dir: &Path, socket_name: &str) -> PathBuf {
    runtime_dir.join(format!("{socket_name}.control"))
}

/// Bind the socket (mode 0600) and serve it from the event loop.
pub fn listen(handle: &LoopHandle<'static, State>, path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        // A live compositor would answer; a stale socket from a crash is removed.
        if UnixStream::connect(path).is_ok() {
            anyhow::bail!("{} is in use by another compositor", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("cannot remove stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("cannot bind {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot chmod 0600 {}", path.display()))?;
    listener.set_nonblocking(true)?;
    handle
        .insert_source(
            Generic::new(listener, Interest::READ, Mode::Level),
            |_, listener, state| {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => accept(state, stream),
                        Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                        Err(err) => {
                            tracing::warn!(%err, "control accept failed");
                            break;
                        }
                    }
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("cannot serve the control socket: {err}"))?;
    Ok(())
}

fn accept(state: &mut State, stream: UnixStream) {
    // Capsules never get the control socket: refuse any process that belongs to one.
    match rustix::net::sockopt::socket_peercred(&stream) {
        Ok(cred) => {
            if state
                .nexq
                .supervisor
                .owns_process(cred.pid.as_raw_nonzero().get(), cred.uid.as_raw())
            {
                tracing::warn!(
                    pid = cred.pid.as_raw_nonzero().get(),
                    "refused a control connection from a capsule"
                );
                return;
            }
        }
        Err(err) => {
            tracing::warn!(%err, "cannot read the control peer's credentials; refused");
            return;
        }
    }
    if let Err(err) = stream
        .set_nonblocking(true)
        .and_then(|()| stream.set_write_timeout(Some(REPLY_WRITE_TIMEOUT)))
    {
        tracing::warn!(%err, "control connection setup failed");
        return;
    }
    let mut buffer: Vec<u8> = Vec::new();
    let inserted = state.nexq.loop_handle.insert_source(
        Generic::new(stream, Interest::READ, Mode::Level),
        move |_, stream, state| {
            // SAFETY: the stream is not dropped or replaced while we use it here.
            let stream = unsafe { stream.get_mut() };
            Ok(serve(state, stream, &mut buffer))
        },
    );
    if let Err(err) = inserted {
        tracing::warn!(%err, "cannot watch control connection");
    }
}

fn serve(state: &mut State, stream: &mut UnixStream, buffer: &mut Vec<u8>) -> PostAction {
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return PostAction::Remove,
            Ok(n) => {
                buffer.extend_from_slice(&chunk[..n]);
                // Serve what is here before reading on: a client that writes without pause
                // must neither keep the event loop here nor grow the buffer without bound.
                if buffer.len() > MAX_LINE {
                    break;
                }
            }
            Err(err) if err.kind() == ErrorKind::WouldBlock => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return PostAction::Remove,
        }
    }
    while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = buffer.drain(..=end).collect();
        let reply = match std::str::from_utf8(&line[..end]) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => match parse_request(text) {
                Ok(request) => handle(state, request),
                Err(err) => Reply::Error(err.to_string()),
            },
            Err(_) => Reply::Error("request is not valid UTF-8".into()),
        };
        if write_reply(stream, &reply).is_err() {
            return PostAction::Remove;
        }
    }
    if buffer.len() > MAX_LINE {
        let _ = write_reply(
            stream,
            &Reply::Error(format!("request line longer than {MAX_LINE} bytes")),
        );
        return PostAction::Remove;
    }
    PostAction::Continue
}

fn write_reply(stream: &mut UnixStream, reply: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(reply).map_err(std::io::Error::other)?;
    line.push(b'\n');
    // Replies are small; block for them so a slow reader still gets a whole line.
    stream.set_nonblocking(false)?;
    let result = stream.write_all(&line);
    stream.set_nonblocking(true)?;
    result
}

fn handle(state: &mut State, request: Request) -> Reply {
    match run(state, request) {
        Ok(value) => Reply::Ok(value),
        Err(err) => Reply::Error(format!("{err:#}")),
    }
}

fn to_value<T: serde::Serialize>(value: T) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}

fn run(state: &mut State, request: Request) -> anyhow::Result<serde_json::Value> {
    match request {
        Request::Version => to_value(VersionInfo {
            protocol: PROTOCOL_VERSION,
            compositor: "nexquelium".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }),
        Request::Outputs => to_value(vec![output_info(state)]),
        Request::Windows => to_value(window_infos(state)),
        Request::Screenshot { path, output } => {
            if let Some(name) = output {
                anyhow::ensure!(name == state.nexq.output.name(), "no output named {name:?}");
            }
            let path = PathBuf::from(path);
            anyhow::ensure!(
                path.is_absolute(),
                "screenshot path {} must be absolute",
                path.display()
            );
            let frame = state.backend.capture(&mut state.nexq, true)?;
            frame.write_png(&path)?;
            to_value(ScreenshotInfo {
                path: path.display().to_string(),
                width: frame.width,
                height: frame.height,
            })
        }
        Request::Key { combo } => {
            let combo: KeyCombo = combo.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let keys = state.nexq.keyboard_map.for_combo(&combo)?;
            for key in &keys {
                state.keyboard_key(*key, KeyState::Pressed);
            }
            for key in keys.iter().rev() {
                state.keyboard_key(*key, KeyState::Released);
            }
            Ok(serde_json::Value::Null)
        }
        Request::Type { text } => {
            // Look every character up first so that nothing is typed when one is impossible.
            let presses = text
                .chars()
                .map(|c| state.nexq.keyboard_map.for_char(c))
                .collect::<Result<Vec<_>, _>>()?;
            let shift = state.nexq.keyboard_map.for_name("Shift_L")?.keycode;
            for press in presses {
                if press.shift {
                    state.keyboard_key(shift, KeyState::Pressed);
                }
                state.keyboard_key(press.keycode, KeyState::Pressed);
                state.keyboard_key(press.keycode, KeyState::Released);
                if press.shift {
                    state.keyboard_key(shift, KeyState::Released);
                }
            }
            Ok(serde_json::Value::Null)
        }
        Request::Capsules => to_value(state.capsule_infos()),
        Request::CapsuleStart { name } => {
            state.capsule_user_start(&name)?;
            Ok(serde_json::Value::Null)
        }
        Request::CapsuleStop { name } => {
            state.capsule_stop(&name, false)?;
            Ok(serde_json::Value::Null)
        }
        Request::CapsuleRestart { name } => {
            state.capsule_stop(&name, true)?;
            Ok(serde_json::Value::Null)
        }
        Request::Grant { name, capability } => {
            let cap: Capability = capability.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            state.capsule_set_capability(&name, cap, true)?;
            Ok(serde_json::Value::Null)
        }
        Request::Revoke { name, capability } => {
            let cap: Capability = capability.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            state.capsule_set_capability(&name, cap, false)?;
            Ok(serde_json::Value::Null)
        }
        Request::Logs { name, tail_bytes } => {
            anyhow::ensure!(
                state.nexq.supervisor.capsules.contains_key(&name),
                "no capsule named {name:?}"
            );
            let path = state.nexq.supervisor.log_path(&name);
            let text = read_tail(&path, tail_bytes.unwrap_or(u64::MAX))?;
            to_value(CapsuleLogs {
                name,
                path: path.display().to_string(),
                text,
            })
        }
        Request::Run {
            name,
            capabilities,
            argv,
        } => {
            let mut caps = CapabilitySet::empty();
            for c in &capabilities {
                caps.insert(c.parse::<Capability>().map_err(|e| anyhow::anyhow!("{e}"))?);
            }
            let (name, pid) = state.capsule_run(name, caps, argv)?;
            to_value(RunInfo { name, pid })
        }
        Request::PointerMove { x, y } => {
            anyhow::ensure!(
                x.is_finite() && y.is_finite(),
                "pointer position must be finite numbers"
            );
            state.pointer_motion_absolute((x, y).into());
            Ok(serde_json::Value::Null)
        }
        Request::PointerButton {
            button,
            state: button_state,
        } => {
            let code = match button {
                PointerButton::Left => BTN_LEFT,
                PointerButton::Right => BTN_RIGHT,
                PointerButton::Middle => BTN_MIDDLE,
            };
            match button_state {
                Some(CtlButtonState::Press) => state.pointer_button(code, ButtonState::Pressed),
                Some(CtlButtonState::Release) => state.pointer_button(code, ButtonState::Released),
                None => {
                    state.pointer_button(code, ButtonState::Pressed);
                    state.pointer_button(code, ButtonState::Released);
                }
            }
            Ok(serde_json::Value::Null)
        }
    }
}

fn output_info(state: &State) -> OutputInfo {
    let output = &state.nexq.output;
    let mode = output.current_mode();
    let logical = state.nexq.output_logical_rect();
    let props = output.physical_properties();
    OutputInfo {
        name: output.name(),
        make: props.make,
        model: props.model,
        width: mode.map(|m| m.size.w).unwrap_or(0),
        height: mode.map(|m| m.size.h).unwrap_or(0),
        refresh_mhz: mode.map(|m| m.refresh.max(0) as u32).unwrap_or(0),
        scale: output.current_scale().fractional_scale(),
        x: 0,
        y: 0,
        logical_width: logical.size.w,
        logical_height: logical.size.h,
    }
}

fn window_infos(state: &State) -> Vec<WindowInfo> {
    let nexq = &state.nexq;
    let focused = nexq.layout.focused().copied();
    let mut ids: Vec<_> = nexq.windows.keys().copied().collect();
    ids.sort();
    ids.into_iter()
        .filter_map(|id| {
            let window = nexq.windows.get(&id)?;
            let info = nexq.layout.window_info(&id)?;
            let content = nexq.content_of(id)?;
            let (title, app_id) = window
                .toplevel()
                .map(|t| {
                    smithay::wayland::compositor::with_states(t.wl_surface(), |states| {
                        states
                            .data_map
                            .get::<smithay::wayland::shell::xdg::XdgToplevelSurfaceData>()
                            .and_then(|d| {
                                d.lock().ok().map(|d| {
                                    (
                                        d.title.clone().unwrap_or_default(),
                                        d.app_id.clone().unwrap_or_default(),
                                    )
                                })
                            })
                            .unwrap_or_default()
                    })
                })
                .unwrap_or_default();
            Some(WindowInfo {
                id: id.0,
                title,
                app_id,
                x: content.x,
                y: content.y,
                width: content.w,
                height: content.h,
                workspace: info.workspace,
                focused: focused == Some(id),
                maximized: info.maximized,
                fullscreen: info.fullscreen,
                minimized: info.minimized,
                capsule: window_capsule(state, window),
            })
        })
        .collect()
}

/// The last `max` bytes of a log file (a missing log is empty: the capsule never wrote).
fn read_tail(path: &Path, max: u64) -> anyhow::Result<String> {
    use std::io::{Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(String::new()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The capsule that owns a window, from its client's connection (None for host clients).
fn window_capsule(state: &State, window: &smithay::desktop::Window) -> Option<String> {
    let surface = window.toplevel()?.wl_surface().clone();
    let client = state
        .nexq
        .display_handle
        .get_client(smithay::reexports::wayland_server::Resource::id(&surface))
        .ok()?;
    client
        .get_data::<crate::state::ClientState>()?
        .identity
        .capsule
        .clone()
}
