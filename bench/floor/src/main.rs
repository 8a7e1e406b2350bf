//! smithay-floor: the least a Smithay 0.7 compositor does to show xdg toplevels — wl_compositor,
//! wl_shm, xdg_wm_base and one headless 1280x720 output drawn with pixman through Smithay's
//! damage tracker, frames paced at 60 Hz the way Nexquelium paces them. No title bars, borders,
//! cursor, input, layers or capsules.
//!
//! `exo-bench --floor` runs it next to Nexquelium with the same workloads: what it costs per
//! frame is the cost of the stack Nexquelium is built on (Smithay, wayland-rs, calloop, pixman),
//! the floor under Nexquelium's own figures. See docs/benchmarks.md.

mod decor;
mod frame;
mod state;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use smithay::reexports::{
    calloop::{generic::Generic, EventLoop, Interest, Mode, PostAction},
    wayland_server::Display,
};
use smithay::wayland::socket::ListeningSocketSource;

use state::{ClientState, Floor};

#[derive(Parser)]
#[command(
    name = "smithay-floor",
    about = "A minimal Smithay 0.7 compositor (headless, pixman): the floor exo-bench measures under Nexquelium"
)]
struct Cli {
    /// Socket name in $XDG_RUNTIME_DIR.
    #[arg(long, default_value = "wayland-floor")]
    socket: String,
    /// Output size, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    size: (i32, i32),
    /// Also draw what Nexquelium draws besides the client surfaces: a title bar and a border
    /// per window and a pointer image (see decor.rs).
    #[arg(long)]
    frames: bool,
}

fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let bad = || format!("{s:?} is not WIDTHxHEIGHT (for example 1280x720)");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let (w, h): (i32, i32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(1..=8192).contains(&w) || !(1..=8192).contains(&h) {
        return Err(format!("{s:?}: each side must be 1 to 8192 pixels"));
    }
    Ok((w, h))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        bail!("XDG_RUNTIME_DIR is not set: it is where the Wayland socket is made");
    }
    let mut event_loop: EventLoop<'static, Floor> =
        EventLoop::try_new().context("cannot create the event loop")?;
    let display: Display<Floor> = Display::new().context("cannot create the Wayland display")?;
    let mut floor = Floor::new(&display.handle(), event_loop.handle(), cli.size, cli.frames)?;

    let source = ListeningSocketSource::with_name(&cli.socket)
        .with_context(|| format!("cannot listen on Wayland socket {:?}", cli.socket))?;
    event_loop
        .handle()
        .insert_source(source, |stream, _, floor| {
            if let Err(err) = floor
                .display
                .insert_client(stream, Arc::new(ClientState::default()))
            {
                eprintln!("smithay-floor: cannot add client: {err}");
            }
        })
        .map_err(|err| anyhow::anyhow!("cannot watch the Wayland socket: {err}"))?;
    event_loop
        .handle()
        .insert_source(
            Generic::new(display, Interest::READ, Mode::Level),
            |_, display, floor| {
                // SAFETY: the display is not dropped while the source is registered.
                unsafe { display.get_mut().dispatch_clients(floor)? };
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("cannot watch the Wayland display: {err}"))?;

    println!("WAYLAND_DISPLAY={}", cli.socket);
    loop {
        event_loop
            .dispatch(None, &mut floor)
            .context("the event loop failed")?;
        floor.space.refresh();
        if let Err(err) = floor.display.flush_clients() {
            eprintln!("smithay-floor: flushing clients: {err}");
        }
    }
}
