//! `sentry-dashboard`: the panel, dashboard and launcher of an Exosphere session. Runs as a
//! system capsule (its control channel is the inherited `EXOSPHERE_CONTROL_FD`) or from a host
//! shell (`--socket PATH`, `NEXQUELIUM_CONTROL`).

use std::path::PathBuf;

use anyhow::Context;
use calloop::EventLoop;
use calloop_wayland_source::WaylandSource;
use clap::Parser;
use sentry_dashboard::app::App;
use sentry_dashboard::control::{ControlLink, ControlSource, CONTROL_FD_ENV};
use sentry_dashboard::wayland::Wl;
use tracing_subscriber::EnvFilter;
use wayland_client::{globals::registry_queue_init, Connection};

/// The Sentry dashboard: a panel (workspaces, the focused window's capsule, alerts, clock,
/// session menu), the dashboard overlay (capsules, resource sparklines, events, actions) and a
/// launcher, as wlr-layer-shell surfaces.
#[derive(Debug, Parser)]
#[command(version, about, after_help = AFTER_HELP)]
struct Cli {
    /// Control socket to connect to (default: the inherited EXOSPHERE_CONTROL_FD, else
    /// $NEXQUELIUM_CONTROL, else $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Start with the dashboard hidden (it is shown at start otherwise, as the compositor
    /// assumes).
    #[arg(long)]
    hidden: bool,
}

const AFTER_HELP: &str = "Environment:
  EXOSPHERE_CONTROL_FD  the control channel a capsule with sentry.observe inherits
  NEXQUELIUM_CONTROL    the control socket, when run from a host shell
  EXO_INIT=1            running under exo-init: the session menu offers reboot and power off
  RUST_LOG              log filter (default: warn,egui=error)";

/// Warnings, but not egui's debug-build layout notes ("changed id between passes"), which say
/// nothing to a user.
const DEFAULT_LOG: &str = "warn,egui=error";

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();

    let (link, channel) = match ControlSource::find(cli.socket)? {
        Some(source) => {
            let (link, channel) = ControlLink::open(&source)?;
            (Some(link), Some(channel))
        }
        None => {
            tracing::warn!(
                "no control channel ({CONTROL_FD_ENV}, --socket, NEXQUELIUM_CONTROL): showing the panel only"
            );
            (None, None)
        }
    };

    // WAYLAND_SOCKET (a capsule's pre-connected socket) or WAYLAND_DISPLAY.
    let conn = Connection::connect_to_env().context("cannot connect to the Wayland compositor")?;
    let (globals, queue) = registry_queue_init(&conn).context("cannot read the Wayland globals")?;
    let qh = queue.handle();
    let mut event_loop: EventLoop<'static, App> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let handle = event_loop.handle();
    WaylandSource::new(conn, queue)
        .insert(handle.clone())
        .map_err(|e| anyhow::anyhow!("cannot watch the Wayland connection: {e}"))?;
    if let Some(channel) = channel {
        handle
            .insert_source(channel, |event, _, app: &mut App| {
                if let calloop::channel::Event::Msg(incoming) = event {
                    app.incoming(incoming);
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot watch the control channel: {e}"))?;
    }

    let wl = Wl::new(&globals, &qh)?;
    let under_exo_init = std::env::var("EXO_INIT").is_ok_and(|v| v == "1");
    let mut app = App::new(wl, handle, link, under_exo_init, !cli.hidden);
    app.start()?;
    let signal = event_loop.get_signal();
    event_loop
        .run(None, &mut app, |app| {
            app.after_dispatch();
            if app.exit.is_some() {
                signal.stop();
            }
        })
        .context("event loop failed")?;
    match app.exit.take() {
        Some(reason) => Err(reason),
        None => Ok(()),
    }
}
