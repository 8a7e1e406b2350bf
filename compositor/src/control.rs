//! The control socket server: JSON lines on a 0600 Unix socket (protocol types and the
//! documentation live in `exo_shell::control` and `docs/control-protocol.md`). A bad request
//! gets an error reply; the connection and the compositor stay up. Connections are served by
//! `sentry::conn`, which also serves the capsules' control channels with the same requests,
//! limited by the capsule's `sentry.observe` / `sentry.control`.

use std::{
    io::{ErrorKind, Read},
    os::unix::{
        fs::PermissionsExt,
        net::{UnixListener, UnixStream},
    },
    path::{Path, PathBuf},
};

use anyhow::Context;
use exo_shell::control::{
    parse_request, Access, ButtonState as CtlButtonState, CapsuleLogs, DashboardInfo, OutputInfo,
    PointerButton, Reply, Request, RunInfo, ScreenshotInfo, SessionAction, VersionInfo, WindowInfo, XrayInfo,
    DEFAULT_EVENTS_LIMIT, PROTOCOL_VERSION,
};
use exo_shell::{
    keys::KeyCombo,
    sentry::{ActionKind, EventKind, Severity},
    Capability, CapabilitySet,
};
use smithay::{
    backend::input::{ButtonState, KeyState},
    reexports::calloop::{generic::Generic, Interest, LoopHandle, Mode, PostAction},
};

use crate::{
    input::{BTN_LEFT, BTN_MIDDLE, BTN_RIGHT},
    sentry::{ConnId, Peer},
    state::State,
};

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
            let pid = cred.pid.as_raw_nonzero().get();
            if let Some(capsule) = state.nexq.supervisor.process_owner(pid, cred.uid.as_raw()) {
                tracing::warn!(pid, %capsule, "refused a control connection from a capsule");
                state.record_event(
                    Some(&capsule),
                    Severity::Warning,
                    EventKind::Refused {
                        what: "control socket".into(),
                        capability: Capability::SentryObserve.to_string(),
                    },
                );
                return;
            }
        }
        Err(err) => {
            tracing::warn!(%err, "cannot read the control peer's credentials; refused");
            return;
        }
    }
    if let Err(err) = state.nexq.sentry.add_conn(stream, Peer::User) {
        tracing::warn!(%err, "cannot serve a control connection");
    }
}

/// Answers one request line of connection `id` (`None` for a blank line).
pub fn handle_line(state: &mut State, id: ConnId, line: &[u8]) -> Option<Reply> {
    let reply = match std::str::from_utf8(line) {
        Ok(text) if text.trim().is_empty() => return None,
        Ok(text) => match parse_request(text) {
            Ok(request) => handle(state, id, request),
            Err(err) => Reply::Error(err.to_string()),
        },
        Err(_) => Reply::Error("request is not valid UTF-8".into()),
    };
    Some(reply)
}

fn handle(state: &mut State, id: ConnId, request: Request) -> Reply {
    let Some(peer) = state.nexq.sentry.conn(id).map(|c| c.peer.clone()) else {
        return Reply::Error("the connection is closed".into());
    };
    if let Peer::Capsule(capsule) = &peer {
        if let Err(message) = capsule_may(state, capsule, &request) {
            state.record_event(
                Some(capsule),
                Severity::Warning,
                EventKind::ControlRefused {
                    request: request.name().into(),
                },
            );
            return Reply::Error(message);
        }
    }
    match run(state, id, &peer, request) {
        Ok(value) => Reply::Ok(value),
        Err(err) => Reply::Error(format!("{err:#}")),
    }
}

/// Whether a capsule's channel may send `request`: observing needs `sentry.observe` (which a
/// channel exists for), actions `sentry.control` too; input, screenshots and `run` are for the
/// user's socket only. A capsule never grants itself anything.
fn capsule_may(state: &State, capsule: &str, request: &Request) -> Result<(), String> {
    let caps = state
        .nexq
        .supervisor
        .capsules
        .get(capsule)
        .map(|c| c.caps)
        .unwrap_or_default();
    let name = request.name();
    match request.access() {
        Access::UserOnly => Err(format!("{name} is not available to capsules")),
        _ if !caps.contains(Capability::SentryObserve) => Err(format!("{name} needs sentry.observe")),
        Access::Control if !caps.contains(Capability::SentryControl) => {
            Err(format!("{name} needs sentry.control"))
        }
        Access::Control => match request {
            Request::Grant { name, .. } if name == capsule => {
                Err("a capsule cannot grant capabilities to itself".into())
            }
            _ => Ok(()),
        },
        Access::Observe => Ok(()),
    }
}

fn to_value<T: serde::Serialize>(value: T) -> anyhow::Result<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}

/// Records that `peer` had an action done to capsule `name`.
fn record_action(state: &mut State, peer: &Peer, name: &str, action: ActionKind, reason: String) {
    state.record_event(
        Some(name),
        Severity::Notice,
        EventKind::Action {
            action,
            by: peer.who().to_string(),
            reason,
        },
    );
}

fn run(state: &mut State, id: ConnId, peer: &Peer, request: Request) -> anyhow::Result<serde_json::Value> {
    let requested = || "requested over the control protocol".to_string();
    match request {
        Request::Version => to_value(VersionInfo {
            protocol: PROTOCOL_VERSION,
            compositor: "nexquelium".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }),
        Request::Outputs => to_value(state.nexq.outputs.iter().map(output_info).collect::<Vec<_>>()),
        Request::Windows { follow } => {
            let windows = window_infos(state);
            if follow {
                if let Some(conn) = state.nexq.sentry.conn_mut(id) {
                    conn.windows = Some(windows.clone());
                }
            }
            to_value(windows)
        }
        Request::Screenshot { path, output } => {
            let output = match output {
                Some(name) => Some(output_named(state, &name)?),
                None => None,
            };
            let path = PathBuf::from(path);
            anyhow::ensure!(
                path.is_absolute(),
                "screenshot path {} must be absolute",
                path.display()
            );
            // One output, or all of them side by side.
            let frame = match &output {
                Some(output) => state.backend.capture(&mut state.nexq, output, true)?,
                None => state.backend.capture_all(&mut state.nexq, true)?,
            };
            frame.write_png(&path)?;
            to_value(ScreenshotInfo {
                path: path.display().to_string(),
                width: frame.width,
                height: frame.height,
            })
        }
        Request::OutputCreate { width, height } => {
            let output = create_virtual_output(state, width, height)?;
            to_value(output_info(&output))
        }
        Request::OutputRemove { name } => {
            virtual_outputs_only(state, "output_remove")?;
            let output = output_named(state, &name)?;
            anyhow::ensure!(
                state.remove_output(&output),
                "{name} is the last output; the session needs one"
            );
            Ok(serde_json::Value::Null)
        }
        Request::Key { combo } => {
            let combo: KeyCombo = combo.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let keys = state.keyboard_map()?.for_combo(&combo)?;
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
            let map = state.keyboard_map()?;
            let presses = text
                .chars()
                .map(|c| map.for_char(c))
                .collect::<Result<Vec<_>, _>>()?;
            let shift = map.for_name("Shift_L")?.keycode;
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
            record_action(state, peer, &name, ActionKind::Start, requested());
            Ok(serde_json::Value::Null)
        }
        Request::CapsuleStop { name } => {
            state.capsule_stop_by(&name, false, peer.who())?;
            record_action(state, peer, &name, ActionKind::Stop, requested());
            Ok(serde_json::Value::Null)
        }
        Request::CapsuleRestart { name } => {
            state.capsule_stop_by(&name, true, peer.who())?;
            record_action(state, peer, &name, ActionKind::Restart, requested());
            Ok(serde_json::Value::Null)
        }
        Request::Grant { name, capability } => {
            let cap: Capability = capability.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            state.capsule_set_capability(&name, cap, true)?;
            record_action(state, peer, &name, ActionKind::Grant, format!("granted {cap}"));
            Ok(serde_json::Value::Null)
        }
        Request::Revoke { name, capability } => {
            let cap: Capability = capability.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            state.capsule_set_capability(&name, cap, false)?;
            record_action(state, peer, &name, ActionKind::Revoke, format!("revoked {cap}"));
            Ok(serde_json::Value::Null)
        }
        Request::Release { name } => {
            state.capsule_release(&name)?;
            record_action(
                state,
                peer,
                &name,
                ActionKind::Release,
                "released from quarantine".into(),
            );
            Ok(serde_json::Value::Null)
        }
        ref events @ Request::Events { limit, follow, .. } => {
            let filter = events.event_filter().unwrap_or_default();
            let limit = limit.unwrap_or(DEFAULT_EVENTS_LIMIT) as usize;
            // What the history shows must be durable, and a new follower must not get an
            // event again that the history already has.
            state.nexq.sentry.publish();
            let history = state.nexq.sentry.log.query(&filter, limit);
            if follow {
                if let Some(conn) = state.nexq.sentry.conn_mut(id) {
                    conn.follow = Some(filter);
                }
            }
            to_value(history)
        }
        Request::Samples { stop: true, .. } => {
            // The sampler's timer ends itself once nobody needs samples.
            if let Some(conn) = state.nexq.sentry.conn_mut(id) {
                conn.samples = None;
            }
            Ok(serde_json::Value::Null)
        }
        Request::Samples { capsule, .. } => {
            if let Some(name) = &capsule {
                anyhow::ensure!(
                    state.nexq.supervisor.capsules.contains_key(name),
                    "no capsule named {name:?}"
                );
            }
            if let Some(conn) = state.nexq.sentry.conn_mut(id) {
                conn.samples = Some(capsule);
            }
            state.ensure_sampling();
            Ok(serde_json::Value::Null)
        }
        Request::Xray { on } => to_value(XrayInfo {
            xray: state.xray_set(on),
        }),
        Request::Dashboard { action } => to_value(DashboardInfo {
            visible: state.dashboard_set(action),
        }),
        Request::Session { action } => {
            if action != SessionAction::Quit {
                ask_init(action)?;
                tracing::info!(by = peer.who(), ?action, "asked exo-init to end the session");
                return Ok(serde_json::Value::Null);
            }
            tracing::info!(by = peer.who(), "session quit requested");
            // After this reply has gone out: then the capsules are stopped and the loop ends.
            state
                .nexq
                .loop_handle
                .insert_idle(|state| state.nexq.loop_signal.stop());
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

/// The output called `name`, or an error listing the outputs there are.
fn output_named(state: &State, name: &str) -> anyhow::Result<smithay::output::Output> {
    state.nexq.outputs.by_name(name).cloned().ok_or_else(|| {
        let names: Vec<String> = state.nexq.outputs.iter().map(|o| o.name()).collect();
        anyhow::anyhow!("no output named {name:?} (outputs: {})", names.join(", "))
    })
}

/// Outputs are added and removed by hand only where they are virtual: the headless backend.
fn virtual_outputs_only(state: &State, request: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        matches!(state.backend, crate::backend::Backend::Headless(_)),
        "{request} needs the headless backend; the {} backend's outputs follow its displays",
        state.backend.name()
    );
    Ok(())
}

/// The most outputs `output_create` makes a session have.
const MAX_OUTPUTS: usize = 16;

/// A new headless output right of the others, named HEADLESS-N with the first free N, at the
/// primary output's scale and refresh rate.
fn create_virtual_output(
    state: &mut State,
    width: i32,
    height: i32,
) -> anyhow::Result<smithay::output::Output> {
    virtual_outputs_only(state, "output_create")?;
    anyhow::ensure!(
        (64..=16384).contains(&width) && (64..=16384).contains(&height),
        "output size {width}x{height}: both sides must be in 64..=16384"
    );
    anyhow::ensure!(
        state.nexq.outputs.len() < MAX_OUTPUTS,
        "the session has {MAX_OUTPUTS} outputs already"
    );
    let name = (1..)
        .map(|n| format!("HEADLESS-{n}"))
        .find(|name| state.nexq.outputs.by_name(name).is_none())
        .expect("a free name among unboundedly many");
    let primary = state.nexq.outputs.primary();
    let spec = crate::init::OutputSpec {
        width,
        height,
        scale: primary.current_scale().fractional_scale(),
        refresh_hz: primary
            .current_mode()
            .map_or(60.0, |m| f64::from(m.refresh) / 1000.0),
    };
    let output = crate::init::create_output(&state.nexq.display_handle, &name, spec);
    state.add_output(output.clone());
    Ok(output)
}

fn output_info(output: &smithay::output::Output) -> OutputInfo {
    let mode = output.current_mode();
    let logical = crate::outputs::logical_rect(output);
    let props = output.physical_properties();
    OutputInfo {
        name: output.name(),
        make: props.make,
        model: props.model,
        width: mode.map(|m| m.size.w).unwrap_or(0),
        height: mode.map(|m| m.size.h).unwrap_or(0),
        refresh_mhz: mode.map(|m| m.refresh.max(0) as u32).unwrap_or(0),
        scale: output.current_scale().fractional_scale(),
        x: logical.loc.x,
        y: logical.loc.y,
        logical_width: logical.size.w,
        logical_height: logical.size.h,
    }
}

pub(crate) fn window_infos(state: &State) -> Vec<WindowInfo> {
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
                output: output_of(state, info.rect),
            })
        })
        .collect()
}

/// The name of the output a window with this rectangle is on (see `Layout::screen_of`).
fn output_of(state: &State, rect: exo_shell::geometry::Rect) -> String {
    let centre = rect.center();
    let nexq = &state.nexq;
    nexq.outputs
        .at((f64::from(centre.x), f64::from(centre.y)).into())
        .unwrap_or_else(|| nexq.outputs.primary())
        .name()
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

/// Reboot and power off belong to exo-init (docs/exo-init.md): SIGINT to PID 1 reboots, SIGUSR1
/// powers off; init then stops this session first. Outside exo-init (EXO_INIT unset) refused.
fn ask_init(action: SessionAction) -> anyhow::Result<()> {
    let (what, signal) = match action {
        SessionAction::Reboot => ("reboot", libc::SIGINT),
        _ => ("power off", libc::SIGUSR1),
    };
    anyhow::ensure!(
        std::env::var("EXO_INIT").is_ok_and(|v| v == "1"),
        "{what} needs exo-init, and this session does not run under it"
    );
    // SAFETY: kill(2) with a valid signal number has no memory-safety requirements.
    let rc = unsafe { libc::kill(1, signal) };
    anyhow::ensure!(
        rc == 0,
        "cannot ask exo-init to {what}: {}",
        std::io::Error::last_os_error()
    );
    Ok(())
}
