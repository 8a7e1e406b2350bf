//! `hostile_client`: a real Wayland client that attacks Nexquelium from inside a capsule, for
//! `tests/hostile.rs` (issue 4, "the hostile-client suite").
//!
//! It connects through `WAYLAND_SOCKET` (the one connection a capsule gets, fd 3), performs the
//! attack named by `argv[1]` and prints one machine-readable line per outcome on stdout, which
//! the supervisor writes to the capsule's log:
//!
//! ```text
//! ATTACK <what>: REFUSED (<why>)
//! ATTACK <what>: SUCCEEDED (<what it got>)
//! ```
//!
//! `STEP <what>` lines mark progress the test waits for; `VICTIM` lines come from the helper
//! modes that play the attacked party. Setup failures print `ERROR <why>` and exit 1. A client
//! whose connection the compositor closes while it only waits exits 0.
//!
//! Attacks (each stays alive where the test inspects the screen, until stopped or 120 s):
//!
//! * `bind <interface> <version> [name]` — bind a global. A capsule has exactly one
//!   connection, and the first failed bind is a protocol error that ends it, so guessing name
//!   after name is not possible within one run. Instead the test looks up the real global name
//!   as a host client with every capability and passes it: the best guess there is. The client
//!   reports whether the interface is advertised to it (`STEP bind … advertised=`), binds the
//!   advertised name if there is one, else the given name (else the first name the registry
//!   skipped), and reports the outcome of a round trip.
//! * `connect <path>…` — connect to Unix sockets (the public Wayland socket, the control
//!   socket) and, if that works, speak the protocol; SUCCEEDED only when the other end answers.
//! * `title <title>` — map a toplevel with a forged title.
//! * `cover` — map a toplevel with a subsurface over its own title bar and a popup over
//!   everything above the window (other windows' title bars included).
//! * `fullscreen` — go fullscreen and paint a fake desktop (the default background colour).
//! * `clipboard-own <secret>` (victim) — set the selection to `secret` and serve it.
//! * `clipboard-read` — once focus comes back after losing it, read whatever selection is
//!   offered.
//! * `activation` — map two windows; once unfocused, activate them with self-made tokens (no
//!   serial; a stale serial). `activation-focused` is the positive control: a token made with
//!   the serial of the focus it holds.
//! * `keys` — count key events while focused, while unfocused, and report once refocused.
//! * `windows <n>`, `surfaces <n>`, `shm <bytes>`, `buffer <width> <height>` — exceed the
//!   per-client limits (a modest count is the positive control).

use std::{
    collections::HashMap,
    io::{Read, Write},
    os::{
        fd::{AsFd, AsRawFd},
        unix::net::UnixStream,
    },
    time::{Duration, Instant},
};

use wayland_client::{
    backend::{ObjectId, WaylandError},
    event_created_child,
    protocol::{
        wl_buffer::WlBuffer,
        wl_callback::{self, WlCallback},
        wl_compositor::WlCompositor,
        wl_data_device::{self, WlDataDevice},
        wl_data_device_manager::WlDataDeviceManager,
        wl_data_offer::{self, WlDataOffer},
        wl_data_source::{self, WlDataSource},
        wl_keyboard::{self, WlKeyboard},
        wl_pointer::WlPointer,
        wl_registry::{self, WlRegistry},
        wl_seat::WlSeat,
        wl_shm::{self, WlShm},
        wl_shm_pool::WlShmPool,
        wl_subcompositor::WlSubcompositor,
        wl_subsurface::WlSubsurface,
        wl_surface::WlSurface,
    },
    Connection, Dispatch, DispatchError, EventQueue, Proxy, QueueHandle,
};
use wayland_protocols::{
    ext::{
        data_control::v1::client::ext_data_control_manager_v1::ExtDataControlManagerV1,
        foreign_toplevel_list::v1::client::{
            ext_foreign_toplevel_handle_v1::ExtForeignToplevelHandleV1,
            ext_foreign_toplevel_list_v1::{self, ExtForeignToplevelListV1},
        },
        session_lock::v1::client::ext_session_lock_manager_v1::ExtSessionLockManagerV1,
    },
    wp::viewporter::client::{wp_viewport::WpViewport, wp_viewporter::WpViewporter},
    xdg::{
        activation::v1::client::{
            xdg_activation_token_v1::{self, XdgActivationTokenV1},
            xdg_activation_v1::XdgActivationV1,
        },
        shell::client::{
            xdg_popup::XdgPopup,
            xdg_positioner::{Anchor, Gravity, XdgPositioner},
            xdg_surface::{self, XdgSurface},
            xdg_toplevel::{self, XdgToplevel},
            xdg_wm_base::{self, XdgWmBase},
        },
    },
};
use wayland_protocols_misc::zwp_virtual_keyboard_v1::client::zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1;
use wayland_protocols_wlr::{
    data_control::v1::client::zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
    foreign_toplevel::v1::client::{
        zwlr_foreign_toplevel_handle_v1::ZwlrForeignToplevelHandleV1,
        zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
    },
    layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1,
    screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1,
};

/// How long a client that the test inspects stays mapped at most.
const LINGER: Duration = Duration::from_secs(120);
/// How long any wait for the compositor or for the test may take.
const WAIT: Duration = Duration::from_secs(30);

const BLUE: u32 = 0xff_20_40_c0;
const GREEN: u32 = 0xff_00_ff_00;
const RED: u32 = 0xff_ff_00_00;
/// The default desktop background, #1d2b3a: the fake desktop.
const DESKTOP: u32 = 0xff_1d_2b_3a;

/// Everything the compositor tells us that an attack looks at.
#[derive(Default)]
struct State {
    globals: Vec<(u32, String, u32)>,
    /// Unacknowledged xdg_surface.configure serials.
    configures: HashMap<ObjectId, u32>,
    /// The last xdg_toplevel.configure of each toplevel: size and states.
    toplevels: HashMap<ObjectId, (i32, i32, Vec<xdg_toplevel::State>)>,
    /// wl_keyboard.enter events: (surface, serial, keys already pressed).
    enters: Vec<(ObjectId, u32, usize)>,
    focus: Option<ObjectId>,
    keys_focused: usize,
    keys_unfocused: Vec<u32>,
    /// Mime types of each data offer, and the latest selection.
    offers: HashMap<ObjectId, Vec<String>>,
    selection: Option<WlDataOffer>,
    selection_events: usize,
    /// What a data source we own serves.
    serve: Vec<u8>,
    token: Option<String>,
    done_callbacks: Vec<ObjectId>,
}

struct App {
    conn: Connection,
    queue: EventQueue<State>,
    qh: QueueHandle<State>,
    registry: WlRegistry,
    st: State,
}

/// A mapped (or about to be mapped) toplevel.
struct Top {
    surface: WlSurface,
    xdg: XdgSurface,
    toplevel: XdgToplevel,
}

type Res<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(attack) = args.first().cloned() else {
        println!("ERROR usage: hostile_client <attack> [args…]");
        std::process::exit(2);
    };
    let rest = &args[1..];
    if attack == "connect" {
        for path in rest {
            attack_connect(path);
        }
        return;
    }
    let mut app = match App::connect() {
        Ok(app) => app,
        Err(e) => {
            println!("ERROR cannot connect to the compositor: {e}");
            std::process::exit(1);
        }
    };
    let arg = |i: usize| rest.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let result = match attack.as_str() {
        "bind" => app.attack_bind(&arg(0), num(1).max(1) as u32, arg(2).parse().ok()),
        "title" => app.attack_title(&arg(0)),
        "cover" => app.attack_cover(),
        "fullscreen" => app.attack_fullscreen(),
        "clipboard-own" => app.victim_clipboard(&arg(0)),
        "clipboard-read" => app.attack_clipboard_read(),
        "activation" => app.attack_activation(false),
        "activation-focused" => app.attack_activation(true),
        "keys" => app.attack_keys(),
        "windows" => app.attack_windows(num(0) as usize),
        "surfaces" => app.attack_surfaces(num(0) as usize),
        "shm" => app.attack_shm(num(0)),
        "buffer" => app.attack_buffer(num(0) as i32, num(1) as i32),
        other => Err(format!("unknown attack {other:?}")),
    };
    if let Err(e) = result {
        println!("ERROR {attack}: {e}");
        std::process::exit(1);
    }
}

impl App {
    fn connect() -> Res<App> {
        let conn = Connection::connect_to_env().map_err(|e| e.to_string())?;
        let queue = conn.new_event_queue();
        let qh = queue.handle();
        let registry = conn.display().get_registry(&qh, ());
        let mut app = App {
            conn,
            queue,
            qh,
            registry,
            st: State::default(),
        };
        app.roundtrip()?;
        Ok(app)
    }

    /// The compositor's reason for an error: its protocol error if it sent one. libwayland
    /// reports errors on wl_display itself only as an errno, which names the error code.
    fn why(&self, err: impl Errno + std::fmt::Display) -> String {
        match (self.conn.protocol_error(), err.errno()) {
            (Some(p), _) => format!(
                "protocol error: {}#{} code {}: {}",
                p.object_interface, p.object_id, p.code, p.message
            ),
            (None, Some(libc::EINVAL)) => format!("wl_display.error invalid_object ({err})"),
            (None, Some(libc::ENOMEM)) => format!("wl_display.error no_memory ({err})"),
            _ => err.to_string(),
        }
    }

    /// Flush, then read and dispatch events for at most `timeout`.
    fn dispatch_once(&mut self, timeout: Duration) -> Res<()> {
        self.queue.flush().map_err(|e| self.why(e))?;
        if self
            .queue
            .dispatch_pending(&mut self.st)
            .map_err(|e| self.why(e))?
            > 0
        {
            return Ok(());
        }
        if let Some(guard) = self.queue.prepare_read() {
            let mut pfd = libc::pollfd {
                fd: guard.connection_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut pfd, 1, ms) } > 0 {
                match guard.read() {
                    Ok(_) => {}
                    Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(self.why(e)),
                }
            }
        }
        self.queue
            .dispatch_pending(&mut self.st)
            .map_err(|e| self.why(e))?;
        Ok(())
    }

    /// Dispatch until `done` holds (true) or `timeout` passes (false).
    fn wait(&mut self, timeout: Duration, done: impl Fn(&State) -> bool) -> Res<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&self.st) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            self.dispatch_once((deadline - now).min(Duration::from_millis(200)))?;
        }
    }

    /// Stay connected (the test looks at the screen) until the capsule is stopped. The
    /// compositor closing the connection (session end) is not an error here.
    fn linger(&mut self) -> Res<()> {
        if let Err(e) = self.wait(LINGER, |_| false) {
            println!("STEP connection ended: {e}");
        }
        Ok(())
    }

    /// A wl_display.sync round trip with a timeout.
    fn roundtrip(&mut self) -> Res<()> {
        let cb: WlCallback = self.conn.display().sync(&self.qh, ());
        let id = cb.id();
        if self.wait(WAIT, |s| s.done_callbacks.contains(&id))? {
            Ok(())
        } else {
            Err("no reply to wl_display.sync".into())
        }
    }

    fn global(&self, interface: &str) -> Option<(u32, u32)> {
        self.st
            .globals
            .iter()
            .find(|g| g.1 == interface)
            .map(|g| (g.0, g.2))
    }

    /// Bind an ordinary global (the display.window set) by type.
    fn bind<I>(&self, max_version: u32) -> Res<I>
    where
        I: Proxy + 'static,
        State: Dispatch<I, ()>,
    {
        let name = I::interface().name;
        let (global, version) = self.global(name).ok_or(format!("no {name} global"))?;
        Ok(self.registry.bind(global, version.min(max_version), &self.qh, ()))
    }

    fn shm_buffer(&self, shm: &WlShm, w: i32, h: i32, argb: u32) -> Res<WlBuffer> {
        let size = (w * h * 4) as usize;
        let fd = rustix::fs::memfd_create(c"hostile-buffer", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| e.to_string())?;
        let mut file = std::fs::File::from(fd);
        file.write_all(&argb.to_le_bytes().repeat(size / 4))
            .map_err(|e| e.to_string())?;
        let pool: WlShmPool = shm.create_pool(file.as_fd(), size as i32, &self.qh, ());
        let buffer = pool.create_buffer(0, w, h, w * 4, wl_shm::Format::Argb8888, &self.qh, ());
        pool.destroy();
        Ok(buffer)
    }

    fn wait_configure(&mut self, xdg: &XdgSurface) -> Res<Option<u32>> {
        let id = xdg.id();
        let got = self.wait(WAIT, |s| s.configures.contains_key(&id))?;
        Ok(got.then(|| self.st.configures.remove(&id)).flatten())
    }

    /// A toplevel with `title`, configured and shown with a `w`x`h` buffer of `argb`.
    fn map_toplevel(&mut self, title: &str, w: i32, h: i32, argb: u32) -> Res<Top> {
        let top = self.new_toplevel(title)?;
        top.surface.commit();
        let serial = self
            .wait_configure(&top.xdg)?
            .ok_or("no configure for the toplevel")?;
        top.xdg.ack_configure(serial);
        top.xdg.set_window_geometry(0, 0, w, h);
        let shm: WlShm = self.bind(1)?;
        let buffer = self.shm_buffer(&shm, w, h, argb)?;
        top.surface.attach(Some(&buffer), 0, 0);
        top.surface.damage_buffer(0, 0, w, h);
        top.surface.commit();
        self.roundtrip()?;
        Ok(top)
    }

    fn new_toplevel(&mut self, title: &str) -> Res<Top> {
        let compositor: WlCompositor = self.bind(6)?;
        let wm: XdgWmBase = self.bind(6)?;
        let surface = compositor.create_surface(&self.qh, ());
        let xdg = wm.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg.get_toplevel(&self.qh, ());
        toplevel.set_title(title.into());
        toplevel.set_app_id("hostile-client".into());
        Ok(Top {
            surface,
            xdg,
            toplevel,
        })
    }

    /// Seat devices: the keyboard (for focus and keys) and a data device.
    fn seat(&mut self) -> Res<(WlSeat, WlKeyboard, WlDataDevice)> {
        let seat: WlSeat = self.bind(7)?;
        let keyboard = seat.get_keyboard(&self.qh, ());
        let _pointer: WlPointer = seat.get_pointer(&self.qh, ());
        let manager: WlDataDeviceManager = self.bind(3)?;
        let device = manager.get_data_device(&seat, &self.qh, ());
        self.roundtrip()?;
        Ok((seat, keyboard, device))
    }

    // -----------------------------------------------------------------------------------------

    fn attack_bind(&mut self, interface: &str, version: u32, given: Option<u32>) -> Res<()> {
        let advertised = self.global(interface).map(|(n, _)| n);
        let skipped = {
            let names: Vec<u32> = self.st.globals.iter().map(|g| g.0).collect();
            (1..).find(|n| !names.contains(n)).unwrap_or(1)
        };
        let name = advertised.or(given).unwrap_or(skipped);
        println!(
            "STEP bind {interface}: advertised={}",
            advertised.map_or("no".to_string(), |n| n.to_string())
        );
        let (r, qh) = (&self.registry, &self.qh);
        match interface {
            "zwlr_layer_shell_v1" => {
                let _: ZwlrLayerShellV1 = r.bind(name, version, qh, ());
            }
            "zwlr_screencopy_manager_v1" => {
                let _: ZwlrScreencopyManagerV1 = r.bind(name, version, qh, ());
            }
            "zwlr_data_control_manager_v1" => {
                let _: ZwlrDataControlManagerV1 = r.bind(name, version, qh, ());
            }
            "ext_data_control_manager_v1" => {
                let _: ExtDataControlManagerV1 = r.bind(name, version, qh, ());
            }
            "zwp_virtual_keyboard_manager_v1" => {
                let _: ZwpVirtualKeyboardManagerV1 = r.bind(name, version, qh, ());
            }
            "zwlr_foreign_toplevel_manager_v1" => {
                let _: ZwlrForeignToplevelManagerV1 = r.bind(name, version, qh, ());
            }
            "ext_foreign_toplevel_list_v1" => {
                let _: ExtForeignToplevelListV1 = r.bind(name, version, qh, ());
            }
            "ext_session_lock_manager_v1" => {
                let _: ExtSessionLockManagerV1 = r.bind(name, version, qh, ());
            }
            other => return Err(format!("bind: no client binding for {other}")),
        }
        let what = format!("bind {interface} name={name} version={version}");
        match self.roundtrip() {
            Ok(()) => println!("ATTACK {what}: SUCCEEDED (bound, no protocol error)"),
            Err(e) => println!("ATTACK {what}: REFUSED ({e})"),
        }
        Ok(())
    }

    fn attack_title(&mut self, title: &str) -> Res<()> {
        self.map_toplevel(title, 300, 150, BLUE)?;
        println!("STEP mapped");
        println!("ATTACK title {title:?}: MAPPED (the label is the compositor's to draw)");
        self.linger()
    }

    fn attack_cover(&mut self) -> Res<()> {
        let (w, h) = (300, 200);
        let top = self.new_toplevel("cover")?;
        top.surface.commit();
        let serial = self.wait_configure(&top.xdg)?.ok_or("no configure")?;
        top.xdg.ack_configure(serial);
        top.xdg.set_window_geometry(0, 0, w, h);
        let compositor: WlCompositor = self.bind(6)?;
        let shm: WlShm = self.bind(1)?;
        // A subsurface 60 px over the title bar and 50 px past either side of the content.
        let sub: WlSubcompositor = self.bind(1)?;
        let green = compositor.create_surface(&self.qh, ());
        let subsurface: WlSubsurface = sub.get_subsurface(&green, &top.surface, &self.qh, ());
        subsurface.set_position(-50, -60);
        let buffer = self.shm_buffer(&shm, w + 100, 120, GREEN)?;
        green.attach(Some(&buffer), 0, 0);
        green.damage_buffer(0, 0, i32::MAX, i32::MAX);
        green.commit();
        let buffer = self.shm_buffer(&shm, w, h, BLUE)?;
        top.surface.attach(Some(&buffer), 0, 0);
        top.surface.damage_buffer(0, 0, w, h);
        top.surface.commit();
        self.roundtrip()?;

        // A popup 2600x1500 ending at the top of the content: over this window's title bar
        // and everything above it, whatever the window's position on the 1280x720 output.
        let (pw, ph) = (2600, 1500);
        let wm: XdgWmBase = self.bind(6)?;
        let positioner: XdgPositioner = wm.create_positioner(&self.qh, ());
        positioner.set_size(pw, ph);
        positioner.set_anchor_rect(0, 0, 1, 1);
        positioner.set_anchor(Anchor::TopLeft);
        positioner.set_gravity(Gravity::BottomRight);
        positioner.set_offset(-pw / 2, -ph);
        let red = compositor.create_surface(&self.qh, ());
        let pxdg = wm.get_xdg_surface(&red, &self.qh, ());
        let _popup: XdgPopup = pxdg.get_popup(Some(&top.xdg), &positioner, &self.qh, ());
        red.commit();
        let serial = self.wait_configure(&pxdg)?.ok_or("no popup configure")?;
        pxdg.ack_configure(serial);
        pxdg.set_window_geometry(0, 0, pw, ph);
        // A small buffer stretched by wp_viewport: no 15 MB of shared memory for one colour.
        let viewporter: WpViewporter = self.bind(1)?;
        let viewport: WpViewport = viewporter.get_viewport(&red, &self.qh, ());
        viewport.set_destination(pw, ph);
        let buffer = self.shm_buffer(&shm, 4, 4, RED)?;
        red.attach(Some(&buffer), 0, 0);
        red.damage_buffer(0, 0, 4, 4);
        red.commit();
        self.roundtrip()?;
        println!("STEP mapped");
        println!("ATTACK cover: MAPPED (green subsurface at -50,-60; red popup over everything above)");
        self.linger()
    }

    fn attack_fullscreen(&mut self) -> Res<()> {
        // Mapped first, then fullscreen: like a video player going fullscreen on a key press.
        let top = self.map_toplevel("fake desktop", 640, 480, DESKTOP)?;
        top.toplevel.set_fullscreen(None);
        let shm: WlShm = self.bind(1)?;
        let id = top.toplevel.id();
        let mut drawn = (640, 480);
        let deadline = Instant::now() + LINGER;
        let give_up = Instant::now() + Duration::from_secs(3);
        let mut reported = false;
        while Instant::now() < deadline {
            if let Err(e) = self.dispatch_once(Duration::from_millis(200)) {
                if reported {
                    println!("STEP connection ended: {e}");
                    return Ok(());
                }
                return Err(e);
            }
            if let Some(serial) = self.st.configures.remove(&top.xdg.id()) {
                top.xdg.ack_configure(serial);
                let (w, h, _) = self.st.toplevels.get(&id).cloned().unwrap_or_default();
                let size = if w > 0 && h > 0 { (w, h) } else { drawn };
                top.xdg.set_window_geometry(0, 0, size.0, size.1);
                if size != drawn {
                    // Repaint at every new size: whatever room it gets is fake desktop.
                    let buffer = self.shm_buffer(&shm, size.0, size.1, DESKTOP)?;
                    top.surface.attach(Some(&buffer), 0, 0);
                    top.surface.damage_buffer(0, 0, size.0, size.1);
                    drawn = size;
                }
                top.surface.commit();
            }
            let fullscreen = self
                .st
                .toplevels
                .get(&id)
                .is_some_and(|t| t.2.contains(&xdg_toplevel::State::Fullscreen));
            if !reported && (fullscreen || Instant::now() > give_up) {
                reported = true;
                let (w, h) = drawn;
                if fullscreen {
                    println!("ATTACK fullscreen: SUCCEEDED (fullscreen at {w}x{h})");
                } else {
                    println!("ATTACK fullscreen: REFUSED (still {w}x{h} without the fullscreen state)");
                }
                println!("STEP mapped");
            }
        }
        Ok(())
    }

    fn victim_clipboard(&mut self, secret: &str) -> Res<()> {
        let (_seat, _keyboard, device) = self.seat()?;
        let top = self.map_toplevel("clipboard owner", 300, 200, BLUE)?;
        let sid = top.surface.id();
        if !self.wait(WAIT, |s| s.focus.as_ref() == Some(&sid))? {
            return Err("never focused".into());
        }
        let serial = self.st.enters.last().map(|e| e.1).unwrap_or_default();
        let manager: WlDataDeviceManager = self.bind(3)?;
        let source: WlDataSource = manager.create_data_source(&self.qh, ());
        source.offer("text/plain;charset=utf-8".into());
        source.offer("text/plain".into());
        self.st.serve = secret.as_bytes().to_vec();
        device.set_selection(Some(&source), serial);
        self.roundtrip()?;
        println!("VICTIM clipboard-own: selection set");
        self.linger()
    }

    fn attack_clipboard_read(&mut self) -> Res<()> {
        let (_seat, _keyboard, _device) = self.seat()?;
        self.map_toplevel("clipboard reader", 300, 200, BLUE)?;
        // Focus on mapping, then lose it, then get it back by the user's click.
        if !self.wait(WAIT, |s| !s.enters.is_empty())? {
            return Err("never focused".into());
        }
        println!("STEP focused");
        if !self.wait(WAIT, |s| s.focus.is_none())? {
            return Err("never lost focus".into());
        }
        println!("STEP unfocused");
        if !self.wait(WAIT, |s| s.enters.len() >= 2)? {
            return Err("never focused again".into());
        }
        println!("STEP refocused");
        self.wait(Duration::from_secs(2), |_| false)?;
        let Some(offer) = self.st.selection.clone() else {
            println!(
                "ATTACK clipboard-read: REFUSED (no selection offered; {} selection events)",
                self.st.selection_events
            );
            return self.linger();
        };
        let mimes = self.st.offers.get(&offer.id()).cloned().unwrap_or_default();
        let Some(mime) = mimes.iter().find(|m| m.starts_with("text/plain")).cloned() else {
            println!("ATTACK clipboard-read: REFUSED (offer without text: {mimes:?})");
            return self.linger();
        };
        let (mut reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
        offer.receive(mime.clone(), writer.as_fd());
        self.queue.flush().map_err(|e| self.why(e))?;
        drop(writer);
        let mut data = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd: reader.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut pfd, 1, 100) } > 0 {
                let mut buf = [0u8; 4096];
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => data.extend_from_slice(&buf[..n]),
                }
            }
            self.dispatch_once(Duration::from_millis(10))?;
        }
        if data.is_empty() {
            println!("ATTACK clipboard-read: REFUSED (offer {mime} gave no data)");
        } else {
            let text = String::from_utf8_lossy(&data);
            println!("ATTACK clipboard-read: SUCCEEDED (read {text:?} as {mime})");
        }
        self.linger()
    }

    fn attack_activation(&mut self, while_focused: bool) -> Res<()> {
        let (seat, _keyboard, _device) = self.seat()?;
        let activation: XdgActivationV1 = self.bind(1)?;
        let first = self.map_toplevel("first", 300, 200, BLUE)?;
        let second = self.map_toplevel("second", 300, 200, BLUE)?;
        let sid = second.surface.id();
        if !self.wait(WAIT, |s| s.focus.as_ref() == Some(&sid))? {
            return Err("the second window was never focused".into());
        }
        let stale = self.st.enters.last().map(|e| e.1).unwrap_or_default();
        println!("STEP focused second");
        let attempt = |app: &mut App, what: &str, serial: Option<u32>| -> Res<()> {
            let token: XdgActivationTokenV1 = activation.get_activation_token(&app.qh, ());
            if let Some(serial) = serial {
                token.set_serial(serial, &seat);
            }
            token.set_surface(&second.surface);
            token.commit();
            app.st.token = None;
            if !app.wait(WAIT, |s| s.token.is_some())? {
                return Err("no activation token".into());
            }
            let enters = app.st.enters.len();
            activation.activate(app.st.token.clone().unwrap_or_default(), &first.surface);
            let fid = first.surface.id();
            if app.wait(Duration::from_secs(1), |s| s.focus.as_ref() == Some(&fid))? {
                println!("ATTACK activation {what}: SUCCEEDED (the first window got focus)");
            } else {
                let moved = app.st.enters.len() > enters;
                println!("ATTACK activation {what}: REFUSED (focus did not come to the first window; enters since: {moved})");
            }
            Ok(())
        };
        if while_focused {
            attempt(self, "with-current-serial", Some(stale))?;
        } else {
            if !self.wait(WAIT, |s| s.focus.is_none())? {
                return Err("never lost focus".into());
            }
            println!("STEP unfocused");
            attempt(self, "no-serial", None)?;
            attempt(self, "stale-serial", Some(stale))?;
        }
        println!("STEP done");
        self.linger()
    }

    fn attack_keys(&mut self) -> Res<()> {
        self.seat()?;
        self.map_toplevel("keys", 300, 200, BLUE)?;
        if !self.wait(WAIT, |s| s.focus.is_some())? {
            return Err("never focused".into());
        }
        println!("STEP focused");
        if !self.wait(WAIT, |s| s.focus.is_none())? {
            return Err("never lost focus".into());
        }
        println!("STEP unfocused keys_while_focused={}", self.st.keys_focused);
        if !self.wait(WAIT, |s| s.focus.is_some())? {
            return Err("never focused again".into());
        }
        let pressed = self.st.enters.last().map(|e| e.2).unwrap_or_default();
        let keys = &self.st.keys_unfocused;
        if keys.is_empty() && pressed == 0 {
            println!("ATTACK keys: REFUSED (0 key events while unfocused)");
        } else {
            println!(
                "ATTACK keys: SUCCEEDED ({} key events while unfocused: {keys:?}; {pressed} keys pressed at enter)",
                keys.len()
            );
        }
        self.linger()
    }

    fn attack_windows(&mut self, n: usize) -> Res<()> {
        let compositor: WlCompositor = self.bind(6)?;
        let wm: XdgWmBase = self.bind(6)?;
        let shm: WlShm = self.bind(1)?;
        let mut windows = Vec::new();
        for i in 0..n {
            let surface = compositor.create_surface(&self.qh, ());
            let xdg = wm.get_xdg_surface(&surface, &self.qh, ());
            let toplevel = xdg.get_toplevel(&self.qh, ());
            toplevel.set_title(format!("hoard {i}"));
            surface.commit();
            let xid = xdg.id();
            let configured = self.wait(Duration::from_secs(3), |s| s.configures.contains_key(&xid));
            match configured {
                Err(e) => {
                    println!("ATTACK windows {n}: REFUSED (window {i}: {e})");
                    return Ok(());
                }
                Ok(false) => {
                    println!("ATTACK windows {n}: REFUSED (window {i} was never configured)");
                    return self.linger();
                }
                Ok(true) => {}
            }
            let serial = self.st.configures.remove(&xid).unwrap_or_default();
            xdg.ack_configure(serial);
            let buffer = self.shm_buffer(&shm, 48, 32, BLUE)?;
            surface.attach(Some(&buffer), 0, 0);
            surface.commit();
            if let Err(e) = self.roundtrip() {
                println!("ATTACK windows {n}: REFUSED (window {i}: {e})");
                return Ok(());
            }
            windows.push((surface, xdg, toplevel));
        }
        println!("ATTACK windows {n}: SUCCEEDED (all {n} mapped)");
        self.linger()
    }

    fn attack_surfaces(&mut self, n: usize) -> Res<()> {
        let compositor: WlCompositor = self.bind(6)?;
        let mut surfaces = Vec::new();
        while surfaces.len() < n {
            for _ in 0..50.min(n - surfaces.len()) {
                surfaces.push(compositor.create_surface(&self.qh, ()));
            }
            if let Err(e) = self.roundtrip() {
                println!("ATTACK surfaces {n}: REFUSED (at {}: {e})", surfaces.len());
                return Ok(());
            }
        }
        println!("ATTACK surfaces {n}: SUCCEEDED (all {n} created)");
        self.linger()
    }

    fn attack_shm(&mut self, bytes: u64) -> Res<()> {
        // Pools of up to 256 MiB, each holding one buffer 8192 px wide (the largest side
        // allowed) committed on a surface without a role, so it is held but never drawn.
        // memfds are sparse: this costs address space, not memory.
        const ROW: u64 = 8192 * 4;
        let pool_size = (bytes.min(256 << 20) / ROW).max(1) * ROW;
        let (pool_len, rows) = (pool_size as i32, (pool_size / ROW) as i32);
        let shm: WlShm = self.bind(1)?;
        let compositor: WlCompositor = self.bind(6)?;
        let mut held = Vec::new();
        let mut total = 0u64;
        while total < bytes {
            let fd = rustix::fs::memfd_create(c"hostile-shm", rustix::fs::MemfdFlags::CLOEXEC)
                .map_err(|e| e.to_string())?;
            rustix::fs::ftruncate(&fd, pool_size).map_err(|e| e.to_string())?;
            let pool: WlShmPool = shm.create_pool(fd.as_fd(), pool_len, &self.qh, ());
            let buffer =
                pool.create_buffer(0, 8192, rows, ROW as i32, wl_shm::Format::Argb8888, &self.qh, ());
            let surface = compositor.create_surface(&self.qh, ());
            surface.attach(Some(&buffer), 0, 0);
            surface.commit();
            total += pool_size;
            held.push((fd, pool, buffer, surface));
            if let Err(e) = self.roundtrip() {
                println!("ATTACK shm {bytes}: REFUSED (at {total} bytes: {e})");
                return Ok(());
            }
        }
        println!(
            "ATTACK shm {bytes}: SUCCEEDED ({total} bytes in {} pools)",
            held.len()
        );
        self.linger()
    }

    fn attack_buffer(&mut self, w: i32, h: i32) -> Res<()> {
        let top = self.map_toplevel("buffer", 64, 64, BLUE)?;
        let shm: WlShm = self.bind(1)?;
        let buffer = self.shm_buffer(&shm, w, h, BLUE)?;
        top.surface.attach(Some(&buffer), 0, 0);
        top.surface.damage_buffer(0, 0, w, h);
        top.surface.commit();
        match self.roundtrip() {
            Ok(()) => println!("ATTACK buffer {w}x{h}: SUCCEEDED (committed)"),
            Err(e) => {
                println!("ATTACK buffer {w}x{h}: REFUSED ({e})");
                return Ok(());
            }
        }
        self.linger()
    }
}

/// The errno behind a connection error, if there is one.
trait Errno {
    fn errno(&self) -> Option<i32>;
}

impl Errno for WaylandError {
    fn errno(&self) -> Option<i32> {
        match self {
            WaylandError::Io(e) => e.raw_os_error(),
            WaylandError::Protocol(_) => None,
        }
    }
}

impl Errno for DispatchError {
    fn errno(&self) -> Option<i32> {
        match self {
            DispatchError::Backend(e) => e.errno(),
            DispatchError::BadMessage { .. } => None,
        }
    }
}

/// Connect to a Unix socket and, if that works, see whether the other end answers.
fn attack_connect(path: &str) {
    let what = format!("connect {path}");
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => return println!("ATTACK {what}: REFUSED ({e})"),
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    if path.ends_with(".control") {
        let _ = stream.write_all(b"{\"request\":\"version\"}\n");
        let mut reply = [0u8; 512];
        return match stream.read(&mut reply) {
            Ok(n) if n > 0 => println!(
                "ATTACK {what}: SUCCEEDED (reply {:?})",
                String::from_utf8_lossy(&reply[..n])
            ),
            Ok(_) => println!("ATTACK {what}: REFUSED (connected, closed without a reply)"),
            Err(e) => println!("ATTACK {what}: REFUSED (connected, no reply: {e})"),
        };
    }
    // A Wayland socket: a registry round trip with a fresh connection.
    let result = (|| -> Res<usize> {
        let conn = Connection::from_socket(stream).map_err(|e| e.to_string())?;
        let mut queue = conn.new_event_queue::<State>();
        let _registry = conn.display().get_registry(&queue.handle(), ());
        let mut st = State::default();
        queue.roundtrip(&mut st).map_err(|e| e.to_string())?;
        Ok(st.globals.len())
    })();
    match result {
        Ok(n) => println!("ATTACK {what}: SUCCEEDED ({n} globals listed)"),
        Err(e) => println!("ATTACK {what}: REFUSED (connected, then {e})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Event handling.

impl Dispatch<WlRegistry, ()> for State {
    fn event(
        st: &mut State,
        _: &WlRegistry,
        e: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        match e {
            wl_registry::Event::Global {
                name,
                interface,
                version,
            } => st.globals.push((name, interface, version)),
            wl_registry::Event::GlobalRemove { name } => st.globals.retain(|g| g.0 != name),
            _ => {}
        }
    }
}

impl Dispatch<WlCallback, ()> for State {
    fn event(
        st: &mut State,
        cb: &WlCallback,
        e: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let wl_callback::Event::Done { .. } = e {
            st.done_callbacks.push(cb.id());
        }
    }
}

impl Dispatch<XdgWmBase, ()> for State {
    fn event(
        _: &mut State,
        wm: &XdgWmBase,
        e: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = e {
            wm.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for State {
    fn event(
        st: &mut State,
        xdg: &XdgSurface,
        e: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let xdg_surface::Event::Configure { serial } = e {
            st.configures.insert(xdg.id(), serial);
        }
    }
}

impl Dispatch<XdgToplevel, ()> for State {
    fn event(
        st: &mut State,
        t: &XdgToplevel,
        e: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let xdg_toplevel::Event::Configure {
            width,
            height,
            states,
        } = e
        {
            let states = states
                .chunks_exact(4)
                .filter_map(|c| {
                    xdg_toplevel::State::try_from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).ok()
                })
                .collect();
            st.toplevels.insert(t.id(), (width, height, states));
        }
    }
}

impl Dispatch<WlKeyboard, ()> for State {
    fn event(
        st: &mut State,
        _: &WlKeyboard,
        e: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        match e {
            wl_keyboard::Event::Enter {
                serial,
                surface,
                keys,
            } => {
                st.enters.push((surface.id(), serial, keys.len() / 4));
                st.focus = Some(surface.id());
            }
            wl_keyboard::Event::Leave { .. } => st.focus = None,
            wl_keyboard::Event::Key { key, .. } => {
                if st.focus.is_some() {
                    st.keys_focused += 1;
                } else {
                    st.keys_unfocused.push(key);
                }
            }
            _ => {}
        }
    }
}

impl Dispatch<WlDataDevice, ()> for State {
    fn event(
        st: &mut State,
        _: &WlDataDevice,
        e: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let wl_data_device::Event::Selection { id } = e {
            st.selection_events += 1;
            st.selection = id;
        }
    }

    event_created_child!(State, WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (WlDataOffer, ())
    ]);
}

impl Dispatch<WlDataOffer, ()> for State {
    fn event(
        st: &mut State,
        offer: &WlDataOffer,
        e: wl_data_offer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let wl_data_offer::Event::Offer { mime_type } = e {
            st.offers.entry(offer.id()).or_default().push(mime_type);
        }
    }
}

impl Dispatch<WlDataSource, ()> for State {
    fn event(
        st: &mut State,
        _: &WlDataSource,
        e: wl_data_source::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let wl_data_source::Event::Send { fd, .. } = e {
            let _ = std::fs::File::from(fd).write_all(&st.serve);
        }
    }
}

impl Dispatch<XdgActivationTokenV1, ()> for State {
    fn event(
        st: &mut State,
        _: &XdgActivationTokenV1,
        e: xdg_activation_token_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
        if let xdg_activation_token_v1::Event::Done { token } = e {
            st.token = Some(token);
        }
    }
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn event(
        _: &mut State,
        _: &ZwlrForeignToplevelManagerV1,
        _: zwlr_foreign_toplevel_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
    }

    event_created_child!(State, ZwlrForeignToplevelManagerV1, [
        zwlr_foreign_toplevel_manager_v1::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, ())
    ]);
}

impl Dispatch<ExtForeignToplevelListV1, ()> for State {
    fn event(
        _: &mut State,
        _: &ExtForeignToplevelListV1,
        _: ext_foreign_toplevel_list_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<State>,
    ) {
    }

    event_created_child!(State, ExtForeignToplevelListV1, [
        ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ExtForeignToplevelHandleV1, ())
    ]);
}

wayland_client::delegate_noop!(State: WlCompositor);
wayland_client::delegate_noop!(State: WlSubcompositor);
wayland_client::delegate_noop!(State: WlSubsurface);
wayland_client::delegate_noop!(State: WlShmPool);
wayland_client::delegate_noop!(State: WlDataDeviceManager);
wayland_client::delegate_noop!(State: XdgPositioner);
wayland_client::delegate_noop!(State: WpViewporter);
wayland_client::delegate_noop!(State: WpViewport);
wayland_client::delegate_noop!(State: XdgActivationV1);
wayland_client::delegate_noop!(State: ZwlrLayerShellV1);
wayland_client::delegate_noop!(State: ZwlrScreencopyManagerV1);
wayland_client::delegate_noop!(State: ZwlrDataControlManagerV1);
wayland_client::delegate_noop!(State: ExtDataControlManagerV1);
wayland_client::delegate_noop!(State: ZwpVirtualKeyboardManagerV1);
wayland_client::delegate_noop!(State: ExtSessionLockManagerV1);
wayland_client::delegate_noop!(State: ignore WlShm);
wayland_client::delegate_noop!(State: ignore WlBuffer);
wayland_client::delegate_noop!(State: ignore WlSurface);
wayland_client::delegate_noop!(State: ignore WlSeat);
wayland_client::delegate_noop!(State: ignore WlPointer);
wayland_client::delegate_noop!(State: ignore XdgPopup);
wayland_client::delegate_noop!(State: ignore ZwlrForeignToplevelHandleV1);
wayland_client::delegate_noop!(State: ignore ExtForeignToplevelHandleV1);
