//! The compositor's life: config, event loop, backend, sockets, then dispatch until stopped.

use std::{io::Write, path::PathBuf};

use anyhow::Context;
use exo_shell::config::Config;
use smithay::reexports::{calloop::EventLoop, wayland_server::Display};

use crate::{
    backend::{drm::DrmBackend, Backend},
    cli::{BackendKind, Cli},
    init::{create_output, insert_display, listen_socket, OutputSpec},
    state::State,
};

/// Make sure XDG_RUNTIME_DIR names a private directory; create one under /tmp if it is unset
/// (root shells and CI often have none).
fn ensure_runtime_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let dir = PathBuf::from(format!(
        "/tmp/nexquelium-runtime-{}",
        rustix::process::getuid().as_raw()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    // SAFETY: called before any thread is started.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    tracing::info!(dir = %dir.display(), "XDG_RUNTIME_DIR was unset; using a private directory");
    Ok(dir)
}

/// SIGTERM (exo-init stopping the session, `kill`) and SIGINT (Ctrl-C) end the session cleanly:
/// the event loop stops, then every capsule gets SIGTERM through the supervisor.
fn watch_termination(handle: &smithay::reexports::calloop::LoopHandle<'static, State>) -> anyhow::Result<()> {
    use smithay::reexports::calloop::signals::{Signal, Signals};
    let signals = Signals::new(&[Signal::SIGTERM, Signal::SIGINT])
        .map_err(|err| anyhow::anyhow!("cannot watch SIGTERM: {err}"))?;
    handle
        .insert_source(signals, |event, _, state| {
            tracing::info!(signal = ?event.signal(), "stopping the session");
            state.nexq.loop_signal.stop();
        })
        .map_err(|err| anyhow::anyhow!("cannot watch SIGTERM: {err}"))?;
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, config_path) = Config::load_or_default(cli.config.as_deref())?;
    let runtime_dir = ensure_runtime_dir()?;
    let backend_kind = cli.backend();

    let mut event_loop: EventLoop<'static, State> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let display: Display<State> = Display::new().context("cannot create the Wayland display")?;
    let dh = display.handle();

    let spec = OutputSpec {
        width: cli.size.0,
        height: cli.size.1,
        scale: cli.scale,
        refresh_hz: cli.refresh,
    };
    let (backend, outputs) = match backend_kind {
        BackendKind::Headless => {
            let outputs = (1..=cli.outputs)
                .map(|n| create_output(&dh, &format!("HEADLESS-{n}"), spec))
                .collect();
            (Backend::Headless(Box::default()), outputs)
        }
        BackendKind::Drm => {
            let mut backend =
                DrmBackend::open(&event_loop.handle(), cli.mode).context("the DRM backend cannot start")?;
            let outputs = backend
                .start(|name| create_output(&dh, name, spec))
                .context("the DRM backend cannot start")?;
            (Backend::Drm(Box::new(backend)), outputs)
        }
        #[cfg(feature = "winit")]
        BackendKind::Winit => {
            let output = create_output(&dh, "WINIT-1", spec);
            let backend = crate::backend::winit::WinitBackend::new(&event_loop.handle(), &output)?;
            (Backend::Winit(Box::new(backend)), vec![output])
        }
        #[cfg(not(feature = "winit"))]
        BackendKind::Winit => anyhow::bail!(
            "this nexquelium was built without the winit backend (cargo feature `winit`, on by \
             default): build it with `cargo build --release -p nexquelium`, or choose \
             --backend headless or drm"
        ),
    };
    if cli.outputs > 1 && backend_kind != BackendKind::Headless {
        tracing::warn!("--outputs is for the headless backend; the {backend_kind:?} backend has its own");
    }

    let display = insert_display(&event_loop, display)?;
    let socket_name = listen_socket(
        &event_loop,
        &display,
        cli.socket.as_deref(),
        cli.host_caps.unwrap_or(config.session.host_capabilities),
    )?;
    let mut state = State::new(
        &event_loop,
        dh,
        backend,
        outputs,
        config,
        config_path,
        socket_name.clone(),
    )?;
    state.update_usable_area();
    let sentry = &state.nexq.config.sentry;
    let log_path = cli
        .sentry_log
        .clone()
        .or_else(|| sentry.log.clone())
        .or_else(exo_shell::sentry::log::default_log_path);
    let max_bytes = sentry.log_max_bytes();
    state.open_event_log(log_path.as_deref(), max_bytes);

    let control_path = crate::control::control_socket_path(&runtime_dir, &socket_name);
    crate::control::listen(&event_loop.handle(), &control_path)?;
    state.nexq.control_path = Some(control_path.clone());
    crate::reload::watch_sighup(&event_loop.handle())?;
    watch_termination(&event_loop.handle())?;
    crate::reload::watch_config_file(&event_loop.handle(), state.nexq.config_path.clone())?;

    // SAFETY: no other thread exists yet that could read the environment concurrently.
    unsafe {
        std::env::set_var("WAYLAND_DISPLAY", &socket_name);
        std::env::set_var("NEXQUELIUM_CONTROL", &control_path);
        std::env::remove_var("DISPLAY");
    }
    let mut stdout = std::io::stdout();
    writeln!(stdout, "WAYLAND_DISPLAY={socket_name}")?;
    writeln!(stdout, "NEXQUELIUM_CONTROL={}", control_path.display())?;
    stdout.flush()?;
    tracing::info!(socket = %socket_name, backend = state.backend.name(), "Nexquelium is ready");

    let dirs = exo_shell::capsule::CapsuleDirs::default_for(cli.system_capsules.clone());
    state.start_supervisor(&dirs, !cli.no_autostart)?;

    if !cli.command.is_empty() {
        crate::spawn::spawn(&cli.command);
    }
    state.queue_redraw();
    // Idle callbacks run after a dispatch returns, and the first dispatch would block until an
    // event arrives: flush the ones queued during start-up (the first frame among them) now.
    let ran = event_loop
        .dispatch(Some(std::time::Duration::ZERO), &mut state)
        .and_then(|()| {
            state.after_dispatch();
            event_loop.run(None, &mut state, |state| state.after_dispatch())
        })
        .context("event loop failed");
    // Also when the loop failed: capsules are not left running without their compositor.
    state.shutdown_capsules();
    let _ = std::fs::remove_file(&control_path);
    ran
}
