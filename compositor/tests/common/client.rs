//! A small Wayland client for out-of-process tests: a real `wayland-client` connection to a
//! [`Session`](super::Session)'s socket that records every event the compositor sends, so tests
//! can assert on what a client actually sees.
//!
//! Usage sketch: `let mut c = Client::connect(&session.socket_path());`, then
//! `let win = c.map_toplevel("title", 300, 200, Format::Argb8888, 0xff_20_80_c0);`, then
//! `let mark = c.mark();`, some requests, and `c.wait_toplevel_configure(mark, &win.toplevel, …)`
//! or the general `c.wait_event(mark, "what", |e| …)` matching on `e.object` and `e.kind`.
//!
//! Every event lands in [`State::events`] as an [`Event`] (receiving object + [`Ev`]); the log is
//! never trimmed, so use [`Client::mark`] to look only at events after a point. All waiting goes
//! through [`Client::dispatch_until`], which reads the socket with a timeout ([`TIMEOUT`]) and
//! panics with the compositor's protocol error, if there is one, instead of hanging.

use std::{
    io::Write,
    ops::RangeInclusive,
    os::{
        fd::{AsFd, AsRawFd},
        unix::net::UnixStream,
    },
    path::Path,
    time::{Duration, Instant},
};

use wayland_client::{
    backend::{ObjectId, WaylandError},
    globals::{registry_queue_init, GlobalList, GlobalListContents},
    protocol::{
        wl_buffer::{self, WlBuffer},
        wl_callback::{self, WlCallback},
        wl_compositor::WlCompositor,
        wl_keyboard::{self, WlKeyboard},
        wl_output::{self, WlOutput},
        wl_pointer::{self, WlPointer},
        wl_region::WlRegion,
        wl_registry::{self, WlRegistry},
        wl_seat::{self, WlSeat},
        wl_shm::{self, WlShm},
        wl_shm_pool::WlShmPool,
        wl_surface::{self, WlSurface},
    },
    Connection, Dispatch, EventQueue, Proxy, QueueHandle,
};
use wayland_protocols::{
    wp::{
        fractional_scale::v1::client::{
            wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
            wp_fractional_scale_v1::{self, WpFractionalScaleV1},
        },
        presentation_time::client::{
            wp_presentation::{self, WpPresentation},
            wp_presentation_feedback::{self, WpPresentationFeedback},
        },
        single_pixel_buffer::v1::client::wp_single_pixel_buffer_manager_v1::WpSinglePixelBufferManagerV1,
        viewporter::client::{wp_viewport::WpViewport, wp_viewporter::WpViewporter},
    },
    xdg::{
        decoration::zv1::client::{
            zxdg_decoration_manager_v1::ZxdgDecorationManagerV1,
            zxdg_toplevel_decoration_v1::{self, ZxdgToplevelDecorationV1},
        },
        shell::client::{
            xdg_popup::{self, XdgPopup},
            xdg_positioner::{self, XdgPositioner},
            xdg_surface::{self, XdgSurface},
            xdg_toplevel::{self, XdgToplevel},
            xdg_wm_base::{self, XdgWmBase},
        },
    },
};
use wayland_protocols_wlr::layer_shell::v1::client::{
    zwlr_layer_shell_v1::ZwlrLayerShellV1,
    zwlr_layer_surface_v1::{self, ZwlrLayerSurfaceV1},
};

/// How long any wait for the compositor may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One event from the compositor and the client object that received it.
#[derive(Debug)]
pub struct Event {
    pub object: ObjectId,
    pub kind: Ev,
}

/// The events the toolkit records, wrapped per interface.
#[derive(Debug)]
pub enum Ev {
    Registry(wl_registry::Event),
    Callback(wl_callback::Event),
    Buffer(wl_buffer::Event),
    Surface(wl_surface::Event),
    Shm(wl_shm::Event),
    Output(wl_output::Event),
    Seat(wl_seat::Event),
    Pointer(wl_pointer::Event),
    Keyboard(wl_keyboard::Event),
    WmBase(xdg_wm_base::Event),
    XdgSurface(xdg_surface::Event),
    Toplevel(xdg_toplevel::Event),
    Popup(xdg_popup::Event),
    Decoration(zxdg_toplevel_decoration_v1::Event),
    FractionalScale(wp_fractional_scale_v1::Event),
    Presentation(wp_presentation::Event),
    Feedback(wp_presentation_feedback::Event),
    LayerSurface(zwlr_layer_surface_v1::Event),
}

/// The dispatch state: the event log.
#[derive(Debug, Default)]
pub struct State {
    pub events: Vec<Event>,
}

/// One connection with its event queue, globals and the core objects every test needs.
pub struct Client {
    pub conn: Connection,
    pub queue: EventQueue<State>,
    pub qh: QueueHandle<State>,
    pub globals: GlobalList,
    pub state: State,
    pub compositor: WlCompositor,
    pub shm: WlShm,
    pub wm_base: XdgWmBase,
}

/// An xdg toplevel: its surface and both role objects.
#[derive(Debug, Clone)]
pub struct Toplevel {
    pub surface: WlSurface,
    pub xdg_surface: XdgSurface,
    pub toplevel: XdgToplevel,
}

/// An xdg popup: its surface and both role objects.
#[derive(Debug, Clone)]
pub struct Popup {
    pub surface: WlSurface,
    pub xdg_surface: XdgSurface,
    pub popup: XdgPopup,
}

/// An xdg_popup.configure: the position relative to the parent's window geometry, and the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PopupConfigure {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

/// An xdg_toplevel.configure as the client received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToplevelConfigure {
    pub width: i32,
    pub height: i32,
    pub states: Vec<xdg_toplevel::State>,
}

impl ToplevelConfigure {
    pub fn activated(&self) -> bool {
        self.states.contains(&xdg_toplevel::State::Activated)
    }
}

/// The seat with a pointer and a keyboard already requested.
#[derive(Debug, Clone)]
pub struct SeatDevices {
    pub seat: WlSeat,
    pub pointer: WlPointer,
    pub keyboard: WlKeyboard,
}

/// Decode the `states` array of xdg_toplevel.configure (native-endian u32 values).
pub fn toplevel_states(raw: &[u8]) -> Vec<xdg_toplevel::State> {
    raw.chunks_exact(4)
        .filter_map(|c| xdg_toplevel::State::try_from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).ok())
        .collect()
}

impl Client {
    /// Connect to a compositor socket and bind wl_compositor, wl_shm and xdg_wm_base.
    pub fn connect(socket: &Path) -> Client {
        let stream =
            UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, queue) = registry_queue_init::<State>(&conn).expect("initial registry roundtrip");
        let qh = queue.handle();
        let compositor = globals.bind(&qh, 1..=6, ()).expect("wl_compositor global");
        let shm = globals.bind(&qh, 1..=1, ()).expect("wl_shm global");
        let wm_base = globals.bind(&qh, 1..=6, ()).expect("xdg_wm_base global");
        let mut client = Client {
            conn,
            queue,
            qh,
            globals,
            state: State::default(),
            compositor,
            shm,
            wm_base,
        };
        client.roundtrip(); // receive wl_shm.format and the like
        client
    }

    /// Whether the compositor advertises a global with this interface name.
    pub fn has_global(&self, interface: &str) -> bool {
        self.globals
            .contents()
            .with_list(|list| list.iter().any(|g| g.interface == interface))
    }

    /// Bind a global by its proxy type (panics with the interface name when it is missing).
    pub fn bind<I>(&self, versions: RangeInclusive<u32>) -> I
    where
        I: Proxy + 'static,
        State: Dispatch<I, ()>,
    {
        self.globals
            .bind(&self.qh, versions, ())
            .unwrap_or_else(|e| panic!("bind {}: {e}", I::interface().name))
    }

    /// Index of the next event to arrive: pass it to [`Client::wait_event`] / [`Client::events_since`].
    pub fn mark(&self) -> usize {
        self.state.events.len()
    }

    pub fn events_since(&self, mark: usize) -> &[Event] {
        &self.state.events[mark.min(self.state.events.len())..]
    }

    /// Panic with the compositor's protocol error if it sent one, else with `err`.
    fn fail(&self, err: impl std::fmt::Display) -> ! {
        match self.conn.protocol_error() {
            Some(e) => panic!("wayland protocol error: {e}"),
            None => panic!("wayland connection failed: {err}"),
        }
    }

    /// Flush requests, then read and dispatch events for at most `timeout`.
    pub fn dispatch_timeout(&mut self, timeout: Duration) {
        if let Err(e) = self.queue.flush() {
            self.fail(e);
        }
        match self.queue.dispatch_pending(&mut self.state) {
            Ok(0) => {}
            Ok(_) => return,
            Err(e) => self.fail(e),
        }
        if let Some(guard) = self.queue.prepare_read() {
            let mut pfd = libc::pollfd {
                fd: guard.connection_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd for the duration of the call.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready > 0 {
                match guard.read() {
                    Ok(_) => {}
                    Err(WaylandError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => self.fail(e),
                }
            }
        }
        if let Err(e) = self.queue.dispatch_pending(&mut self.state) {
            self.fail(e);
        }
    }

    /// Dispatch events until `check` returns Some, failing after [`TIMEOUT`].
    pub fn dispatch_until<T>(&mut self, what: &str, mut check: impl FnMut(&State) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(v) = check(&self.state) {
                return v;
            }
            let now = Instant::now();
            assert!(now < deadline, "timed out after {TIMEOUT:?} waiting for {what}");
            self.dispatch_timeout((deadline - now).min(Duration::from_millis(500)));
        }
    }

    /// Wait for the first event at or after `mark` for which `f` returns Some.
    pub fn wait_event<T>(&mut self, mark: usize, what: &str, mut f: impl FnMut(&Event) -> Option<T>) -> T {
        self.dispatch_until(what, |s| {
            s.events[mark.min(s.events.len())..].iter().find_map(&mut f)
        })
    }

    /// A wl_display.sync round trip (with a timeout): everything sent before it has been
    /// processed by the compositor and every event it sent in reply has been dispatched.
    pub fn roundtrip(&mut self) {
        let cb: WlCallback = self.conn.display().sync(&self.qh, ());
        let mark = self.mark();
        let id = cb.id();
        self.wait_event(mark, "wl_display.sync done", |e| {
            (e.object == id && matches!(e.kind, Ev::Callback(wl_callback::Event::Done { .. }))).then_some(())
        });
    }

    pub fn surface(&self) -> WlSurface {
        self.compositor.create_surface(&self.qh, ())
    }

    /// A `width`x`height` shm buffer of one colour. `pixel` is the 32-bit value of the format
    /// (0xAARRGGBB for ARGB8888/XRGB8888), stored little-endian as wl_shm requires.
    pub fn shm_buffer(&self, width: i32, height: i32, format: wl_shm::Format, pixel: u32) -> WlBuffer {
        self.shm_buffer_with(width, height, format, |_, _| pixel)
    }

    /// A `width`x`height` shm buffer whose pixel at (x, y) is `pixel_at(x, y)`, as
    /// [`Client::shm_buffer`].
    pub fn shm_buffer_with(
        &self,
        width: i32,
        height: i32,
        format: wl_shm::Format,
        pixel_at: impl Fn(i32, i32) -> u32,
    ) -> WlBuffer {
        let stride = width * 4;
        let size = (stride * height) as usize;
        let fd = rustix::fs::memfd_create(c"nexq-test-buffer", rustix::fs::MemfdFlags::CLOEXEC)
            .expect("memfd_create");
        let mut file = std::fs::File::from(fd);
        let bytes: Vec<u8> = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| pixel_at(x, y).to_le_bytes())
            .collect();
        file.write_all(&bytes).expect("fill shm buffer");
        let pool: WlShmPool = self.shm.create_pool(file.as_fd(), size as i32, &self.qh, ());
        let buffer = pool.create_buffer(0, width, height, stride, format, &self.qh, ());
        pool.destroy();
        buffer
    }

    /// Attach `buffer` (or nothing), damage all of it, commit and flush, so that the request
    /// is on its way before the caller polls the control socket (a round trip makes sure).
    pub fn attach_commit(&self, surface: &WlSurface, buffer: Option<&WlBuffer>) {
        surface.attach(buffer, 0, 0);
        if buffer.is_some() {
            surface.damage_buffer(0, 0, i32::MAX, i32::MAX);
        }
        surface.commit();
        if let Err(e) = self.conn.flush() {
            self.fail(e);
        }
    }

    /// A surface with the xdg_toplevel role, a title and app id; nothing committed yet.
    pub fn create_toplevel(&self, title: &str) -> Toplevel {
        let surface = self.surface();
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg_surface.get_toplevel(&self.qh, ());
        toplevel.set_title(title.into());
        toplevel.set_app_id("nexq-test".into());
        Toplevel {
            surface,
            xdg_surface,
            toplevel,
        }
    }

    /// Wait for an xdg_surface.configure on `xdg_surface` at or after `mark`; returns its serial.
    pub fn wait_configure(&mut self, mark: usize, xdg_surface: &XdgSurface) -> u32 {
        let id = xdg_surface.id();
        self.wait_event(mark, "xdg_surface.configure", |e| match &e.kind {
            Ev::XdgSurface(xdg_surface::Event::Configure { serial }) if e.object == id => Some(*serial),
            _ => None,
        })
    }

    /// All xdg_toplevel.configure events for `toplevel` at or after `mark`, in order.
    pub fn toplevel_configures(&self, mark: usize, toplevel: &XdgToplevel) -> Vec<ToplevelConfigure> {
        let id = toplevel.id();
        self.events_since(mark)
            .iter()
            .filter(|e| e.object == id)
            .filter_map(|e| match &e.kind {
                Ev::Toplevel(xdg_toplevel::Event::Configure {
                    width,
                    height,
                    states,
                }) => Some(ToplevelConfigure {
                    width: *width,
                    height: *height,
                    states: toplevel_states(states),
                }),
                _ => None,
            })
            .collect()
    }

    /// Wait for an xdg_toplevel.configure at or after `mark` that satisfies `pred`.
    pub fn wait_toplevel_configure(
        &mut self,
        mark: usize,
        toplevel: &XdgToplevel,
        what: &str,
        mut pred: impl FnMut(&ToplevelConfigure) -> bool,
    ) -> ToplevelConfigure {
        let id = toplevel.id();
        self.wait_event(mark, what, |e| match &e.kind {
            Ev::Toplevel(xdg_toplevel::Event::Configure {
                width,
                height,
                states,
            }) if e.object == id => {
                let c = ToplevelConfigure {
                    width: *width,
                    height: *height,
                    states: toplevel_states(states),
                };
                pred(&c).then_some(c)
            }
            _ => None,
        })
    }

    /// The initial configure dance without a buffer: commit, wait for the configure, ack it.
    /// Returns the toplevel configure that came with it.
    pub fn initial_configure(&mut self, win: &Toplevel) -> ToplevelConfigure {
        let mark = self.mark();
        win.surface.commit();
        let serial = self.wait_configure(mark, &win.xdg_surface);
        win.xdg_surface.ack_configure(serial);
        self.toplevel_configures(mark, &win.toplevel)
            .pop()
            .expect("xdg_toplevel.configure precedes xdg_surface.configure")
    }

    /// Create a toplevel, do the initial configure dance, then attach a `width`x`height` buffer
    /// of one colour and commit, so the compositor maps it. Ends with a round trip.
    pub fn map_toplevel(
        &mut self,
        title: &str,
        width: i32,
        height: i32,
        format: wl_shm::Format,
        pixel: u32,
    ) -> Toplevel {
        let win = self.create_toplevel(title);
        self.initial_configure(&win);
        let buffer = self.shm_buffer(width, height, format, pixel);
        self.attach_commit(&win.surface, Some(&buffer));
        self.roundtrip();
        win
    }

    /// A positioner for a `width`x`height` popup placed at `anchor_rect` (x, y, w, h) with the
    /// given anchor and gravity and no constraint adjustment; adjust it further as needed.
    pub fn positioner(
        &self,
        (width, height): (i32, i32),
        (x, y, w, h): (i32, i32, i32, i32),
        anchor: xdg_positioner::Anchor,
        gravity: xdg_positioner::Gravity,
    ) -> XdgPositioner {
        let positioner = self.wm_base.create_positioner(&self.qh, ());
        positioner.set_size(width, height);
        positioner.set_anchor_rect(x, y, w, h);
        positioner.set_anchor(anchor);
        positioner.set_gravity(gravity);
        positioner
    }

    /// Create a popup of `parent` and do its initial configure dance: commit, wait for the
    /// configure, ack it, attach a buffer of the configured size in one colour and commit.
    /// Ends with a round trip; returns the popup and the configure it got.
    pub fn map_popup(
        &mut self,
        parent: &XdgSurface,
        positioner: &XdgPositioner,
        format: wl_shm::Format,
        pixel: u32,
    ) -> (Popup, PopupConfigure) {
        let surface = self.surface();
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let popup = xdg_surface.get_popup(Some(parent), positioner, &self.qh, ());
        let mark = self.mark();
        surface.commit();
        let serial = self.wait_configure(mark, &xdg_surface);
        let id = popup.id();
        let configure = self
            .events_since(mark)
            .iter()
            .filter(|e| e.object == id)
            .find_map(|e| match e.kind {
                Ev::Popup(xdg_popup::Event::Configure { x, y, width, height }) => {
                    Some(PopupConfigure { x, y, width, height })
                }
                _ => None,
            })
            .expect("xdg_popup.configure precedes the first xdg_surface.configure");
        xdg_surface.ack_configure(serial);
        let buffer = self.shm_buffer(configure.width, configure.height, format, pixel);
        self.attach_commit(&surface, Some(&buffer));
        self.roundtrip();
        (
            Popup {
                surface,
                xdg_surface,
                popup,
            },
            configure,
        )
    }

    /// Bind wl_seat and request its pointer and keyboard (the compositor has both).
    pub fn seat_devices(&mut self) -> SeatDevices {
        let seat: WlSeat = self.bind(1..=7);
        let pointer = seat.get_pointer(&self.qh, ());
        let keyboard = seat.get_keyboard(&self.qh, ());
        self.roundtrip();
        SeatDevices {
            seat,
            pointer,
            keyboard,
        }
    }
}

/// Implements `Dispatch` for interfaces whose events are simply appended to the log.
macro_rules! record_events {
    ($($iface:ty => $variant:ident),* $(,)?) => {$(
        impl Dispatch<$iface, ()> for State {
            fn event(
                state: &mut Self,
                proxy: &$iface,
                event: <$iface as Proxy>::Event,
                _: &(),
                _: &Connection,
                _: &QueueHandle<Self>,
            ) {
                state.events.push(Event { object: proxy.id(), kind: Ev::$variant(event) });
            }
        }
    )*};
}

record_events! {
    WlCallback => Callback,
    WlBuffer => Buffer,
    WlSurface => Surface,
    WlShm => Shm,
    WlOutput => Output,
    WlSeat => Seat,
    WlPointer => Pointer,
    WlKeyboard => Keyboard,
    XdgSurface => XdgSurface,
    XdgToplevel => Toplevel,
    XdgPopup => Popup,
    ZxdgToplevelDecorationV1 => Decoration,
    WpFractionalScaleV1 => FractionalScale,
    WpPresentation => Presentation,
    WpPresentationFeedback => Feedback,
    ZwlrLayerSurfaceV1 => LayerSurface,
}

// Interfaces without events.
wayland_client::delegate_noop!(State: WlCompositor);
wayland_client::delegate_noop!(State: WlShmPool);
wayland_client::delegate_noop!(State: WlRegion);
wayland_client::delegate_noop!(State: XdgPositioner);
wayland_client::delegate_noop!(State: ZxdgDecorationManagerV1);
wayland_client::delegate_noop!(State: WpFractionalScaleManagerV1);
wayland_client::delegate_noop!(State: WpViewporter);
wayland_client::delegate_noop!(State: WpViewport);
wayland_client::delegate_noop!(State: WpSinglePixelBufferManagerV1);
wayland_client::delegate_noop!(State: ZwlrLayerShellV1);

/// Global additions and removals after the initial roundtrip; `GlobalList` tracks them itself.
impl Dispatch<WlRegistry, GlobalListContents> for State {
    fn event(
        state: &mut Self,
        proxy: &WlRegistry,
        event: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        state.events.push(Event {
            object: proxy.id(),
            kind: Ev::Registry(event),
        });
    }
}

/// Pings are answered at once so the compositor never considers a test client hung.
impl Dispatch<XdgWmBase, ()> for State {
    fn event(
        state: &mut Self,
        proxy: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            proxy.pong(serial);
        }
        state.events.push(Event {
            object: proxy.id(),
            kind: Ev::WmBase(event),
        });
    }
}

/// Input and selection protocols (pointer constraints, relative pointer, cursor shape,
/// text-input-v3, xdg-activation, wl_data_device, primary selection) and helpers for input
/// events. Their events are not in [`Ev`]: each object bound here gets a [`Log`] as user data and
/// its events land there, so these `Dispatch` impls never clash with `()`-data ones.
pub mod input {
    use std::{
        io::{Read, Write},
        os::fd::AsRawFd,
        sync::{Arc, Mutex},
        time::Instant,
    };

    use wayland_client::{
        backend::ObjectId,
        event_created_child,
        protocol::{
            wl_data_device::{self, WlDataDevice},
            wl_data_device_manager::WlDataDeviceManager,
            wl_data_offer::{self, WlDataOffer},
            wl_data_source::{self, WlDataSource},
            wl_keyboard, wl_pointer, wl_shm,
            wl_surface::WlSurface,
        },
        Connection, Dispatch, Proxy, QueueHandle, WEnum,
    };
    use wayland_protocols::{
        wp::{
            cursor_shape::v1::client::{
                wp_cursor_shape_device_v1::WpCursorShapeDeviceV1,
                wp_cursor_shape_manager_v1::WpCursorShapeManagerV1,
            },
            pointer_constraints::zv1::client::{
                zwp_confined_pointer_v1::{self, ZwpConfinedPointerV1},
                zwp_locked_pointer_v1::{self, ZwpLockedPointerV1},
                zwp_pointer_constraints_v1::ZwpPointerConstraintsV1,
            },
            primary_selection::zv1::client::{
                zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
                zwp_primary_selection_device_v1::{self, ZwpPrimarySelectionDeviceV1},
                zwp_primary_selection_offer_v1::{self, ZwpPrimarySelectionOfferV1},
                zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1},
            },
            relative_pointer::zv1::client::{
                zwp_relative_pointer_manager_v1::ZwpRelativePointerManagerV1,
                zwp_relative_pointer_v1::{self, ZwpRelativePointerV1},
            },
            text_input::zv3::client::{
                zwp_text_input_manager_v3::ZwpTextInputManagerV3,
                zwp_text_input_v3::{self, ZwpTextInputV3},
            },
        },
        xdg::activation::v1::client::{
            xdg_activation_token_v1::{self, XdgActivationTokenV1},
            xdg_activation_v1::XdgActivationV1,
        },
    };

    use exo_shell::control::{PointerButton, Request, WindowInfo};

    use super::{
        super::{wait_for, Session},
        Client, Ev, Event, SeatDevices, State, Toplevel, TIMEOUT,
    };

    /// What a data source (clipboard or primary) writes for every `send`, then closes the fd.
    pub const SOURCE_BYTES: &[u8] = b"selection bytes from the source client";

    /// The events recorded in a [`Log`].
    #[derive(Debug)]
    pub enum In {
        Locked,
        Unlocked,
        Confined,
        Unconfined,
        /// zwp_relative_pointer_v1.relative_motion: dx, dy, dx_unaccel, dy_unaccel.
        Relative(f64, f64, f64, f64),
        /// zwp_text_input_v3.enter / leave with the surface.
        TextEnter(ObjectId),
        TextLeave(ObjectId),
        /// zwp_text_input_v3.commit_string and done (its serial).
        TextCommit(Option<String>),
        TextDone(u32),
        /// xdg_activation_token_v1.done.
        Token(String),
        Selection(Option<WlDataOffer>),
        PrimarySelection(Option<ZwpPrimarySelectionOfferV1>),
        /// A source was asked for this mime type (and wrote [`SOURCE_BYTES`]).
        Sent(String),
        Cancelled,
    }

    /// Events with the object that received them; clones share one log.
    #[derive(Debug, Clone, Default)]
    pub struct Log(Arc<Mutex<Vec<(ObjectId, In)>>>);

    impl Log {
        fn push(&self, id: ObjectId, e: In) {
            self.0.lock().unwrap().push((id, e));
        }
        /// Index of the next entry, for [`Client::wait_log`] and [`Log::find_all`].
        pub fn mark(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub fn find<T>(&self, mark: usize, mut f: impl FnMut(&ObjectId, &In) -> Option<T>) -> Option<T> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .skip(mark)
                .find_map(|(id, e)| f(id, e))
        }
        pub fn find_all<T>(&self, mark: usize, mut f: impl FnMut(&ObjectId, &In) -> Option<T>) -> Vec<T> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .skip(mark)
                .filter_map(|(id, e)| f(id, e))
                .collect()
        }
    }

    /// Mime types announced on an offer (its user data), filled by its `offer` events.
    #[derive(Debug, Default)]
    pub struct Mimes(pub Mutex<Vec<String>>);

    macro_rules! silent {
        ($($iface:ty),* $(,)?) => {$(
            impl Dispatch<$iface, Log> for State {
                fn event(_: &mut State, _: &$iface, _: <$iface as Proxy>::Event, _: &Log, _: &Connection, _: &QueueHandle<State>) {}
            }
        )*};
    }

    silent!(
        ZwpPointerConstraintsV1,
        ZwpRelativePointerManagerV1,
        WpCursorShapeManagerV1,
        WpCursorShapeDeviceV1,
        ZwpTextInputManagerV3,
        XdgActivationV1,
        WlDataDeviceManager,
        ZwpPrimarySelectionDeviceManagerV1,
    );

    /// The offers a device announces are created by the compositor (`data_offer` events).
    macro_rules! children {
        (WlDataDevice) => {
            event_created_child!(State, WlDataDevice, [
                wl_data_device::EVT_DATA_OFFER_OPCODE => (WlDataOffer, Mimes::default())
            ]);
        };
        (ZwpPrimarySelectionDeviceV1) => {
            event_created_child!(State, ZwpPrimarySelectionDeviceV1, [
                zwp_primary_selection_device_v1::EVT_DATA_OFFER_OPCODE => (ZwpPrimarySelectionOfferV1, Mimes::default())
            ]);
        };
        ($other:ident) => {};
    }

    /// Interfaces whose events go to the log; `$conv` maps an event to `Option<In>`.
    macro_rules! logged {
        ($($iface:ident => |$ev:ident| $conv:expr;)*) => {$(
            impl Dispatch<$iface, Log> for State {
                fn event(
                    _: &mut State,
                    proxy: &$iface,
                    $ev: <$iface as Proxy>::Event,
                    log: &Log,
                    _: &Connection,
                    _: &QueueHandle<State>,
                ) {
                    let e: Option<In> = $conv;
                    if let Some(e) = e {
                        log.push(proxy.id(), e);
                    }
                }
                children!($iface);
            }
        )*};
    }

    fn answer(fd: std::os::fd::OwnedFd) {
        std::fs::File::from(fd)
            .write_all(SOURCE_BYTES)
            .expect("write selection pipe");
    }

    logged! {
        ZwpLockedPointerV1 => |e| match e {
            zwp_locked_pointer_v1::Event::Locked => Some(In::Locked),
            zwp_locked_pointer_v1::Event::Unlocked => Some(In::Unlocked),
            _ => None,
        };
        ZwpConfinedPointerV1 => |e| match e {
            zwp_confined_pointer_v1::Event::Confined => Some(In::Confined),
            zwp_confined_pointer_v1::Event::Unconfined => Some(In::Unconfined),
            _ => None,
        };
        ZwpRelativePointerV1 => |e| match e {
            zwp_relative_pointer_v1::Event::RelativeMotion { dx, dy, dx_unaccel, dy_unaccel, .. } =>
                Some(In::Relative(dx, dy, dx_unaccel, dy_unaccel)),
            _ => None,
        };
        ZwpTextInputV3 => |e| match e {
            zwp_text_input_v3::Event::Enter { surface } => Some(In::TextEnter(surface.id())),
            zwp_text_input_v3::Event::Leave { surface } => Some(In::TextLeave(surface.id())),
            zwp_text_input_v3::Event::CommitString { text } => Some(In::TextCommit(text)),
            zwp_text_input_v3::Event::Done { serial } => Some(In::TextDone(serial)),
            _ => None,
        };
        XdgActivationTokenV1 => |e| match e {
            xdg_activation_token_v1::Event::Done { token } => Some(In::Token(token)),
            _ => None,
        };
        WlDataDevice => |e| match e {
            wl_data_device::Event::Selection { id } => Some(In::Selection(id)),
            _ => None,
        };
        ZwpPrimarySelectionDeviceV1 => |e| match e {
            zwp_primary_selection_device_v1::Event::Selection { id } => Some(In::PrimarySelection(id)),
            _ => None,
        };
        WlDataSource => |e| match e {
            wl_data_source::Event::Send { mime_type, fd } => {
                answer(fd);
                Some(In::Sent(mime_type))
            }
            wl_data_source::Event::Cancelled => Some(In::Cancelled),
            _ => None,
        };
        ZwpPrimarySelectionSourceV1 => |e| match e {
            zwp_primary_selection_source_v1::Event::Send { mime_type, fd } => {
                answer(fd);
                Some(In::Sent(mime_type))
            }
            zwp_primary_selection_source_v1::Event::Cancelled => Some(In::Cancelled),
            _ => None,
        };
    }

    impl Dispatch<WlDataOffer, Mimes> for State {
        fn event(
            _: &mut State,
            _: &WlDataOffer,
            e: wl_data_offer::Event,
            m: &Mimes,
            _: &Connection,
            _: &QueueHandle<State>,
        ) {
            if let wl_data_offer::Event::Offer { mime_type } = e {
                m.0.lock().unwrap().push(mime_type);
            }
        }
    }

    impl Dispatch<ZwpPrimarySelectionOfferV1, Mimes> for State {
        fn event(
            _: &mut State,
            _: &ZwpPrimarySelectionOfferV1,
            e: zwp_primary_selection_offer_v1::Event,
            m: &Mimes,
            _: &Connection,
            _: &QueueHandle<State>,
        ) {
            if let zwp_primary_selection_offer_v1::Event::Offer { mime_type } = e {
                m.0.lock().unwrap().push(mime_type);
            }
        }
    }

    impl Mimes {
        /// The mime types of an offer created by a data device of this module.
        pub fn of<I: Proxy>(offer: &I) -> Vec<String> {
            offer
                .data::<Mimes>()
                .expect("offer with Mimes data")
                .0
                .lock()
                .unwrap()
                .clone()
        }
    }

    /// wl_keyboard.key events in `events`: (evdev code, pressed, serial).
    pub fn key_events(events: &[Event]) -> Vec<(u32, bool, u32)> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                Ev::Keyboard(wl_keyboard::Event::Key {
                    key, state, serial, ..
                }) => Some((
                    *key,
                    *state == WEnum::Value(wl_keyboard::KeyState::Pressed),
                    *serial,
                )),
                _ => None,
            })
            .collect()
    }

    impl Client {
        /// Bind a global of this module's interfaces with `log` as its user data.
        pub fn bind_logged<I>(&self, log: &Log, versions: std::ops::RangeInclusive<u32>) -> I
        where
            I: Proxy + 'static,
            State: Dispatch<I, Log>,
        {
            self.globals
                .bind(&self.qh, versions, log.clone())
                .unwrap_or_else(|e| panic!("bind {}: {e}", I::interface().name))
        }

        /// Dispatch until `f` matches a `log` entry at or after `mark`.
        pub fn wait_log<T>(
            &mut self,
            log: &Log,
            mark: usize,
            what: &str,
            mut f: impl FnMut(&ObjectId, &In) -> Option<T>,
        ) -> T {
            self.dispatch_until(what, |_| log.find(mark, &mut f))
        }

        /// Wait for wl_keyboard.enter on `surface` at or after `mark`; returns its serial.
        pub fn keyboard_enter(&mut self, mark: usize, surface: &WlSurface) -> u32 {
            let id = surface.id();
            self.wait_event(mark, "wl_keyboard.enter", |e| match &e.kind {
                Ev::Keyboard(wl_keyboard::Event::Enter { serial, surface, .. }) if surface.id() == id => {
                    Some(*serial)
                }
                _ => None,
            })
        }

        /// Surface-local positions of the wl_pointer.motion events at or after `mark`.
        pub fn pointer_motions(&self, mark: usize) -> Vec<(f64, f64)> {
            self.events_since(mark)
                .iter()
                .filter_map(|e| match &e.kind {
                    Ev::Pointer(wl_pointer::Event::Motion {
                        surface_x, surface_y, ..
                    }) => Some((*surface_x, *surface_y)),
                    _ => None,
                })
                .collect()
        }
    }

    /// Read a pipe to its end, failing after [`TIMEOUT`] instead of blocking forever.
    pub fn read_to_end(reader: &mut std::io::PipeReader) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "pipe not closed after {TIMEOUT:?}; read {out:?}");
            let mut pfd = libc::pollfd {
                fd: reader.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(500) as i32) } > 0 {
                let mut buf = [0u8; 4096];
                match reader.read(&mut buf).expect("read pipe") {
                    0 => return out,
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
        }
    }
    /// Content colour of [`App`] windows (ARGB8888).
    pub const APP_FILL: u32 = 0xff_20_80_c0;

    /// A client with its seat devices (requested before mapping), a [`Log`] for the objects it
    /// binds with [`Client::bind_logged`], and one mapped toplevel filled with [`APP_FILL`].
    pub struct App {
        pub c: Client,
        pub log: Log,
        pub dev: SeatDevices,
        pub win: Toplevel,
        pub title: String,
    }

    impl App {
        pub fn new(s: &Session, title: &str, width: i32, height: i32) -> App {
            let mut c = Client::connect(&s.socket_path());
            let dev = c.seat_devices();
            let win = c.map_toplevel(title, width, height, wl_shm::Format::Argb8888, APP_FILL);
            App {
                c,
                log: Log::default(),
                dev,
                win,
                title: title.into(),
            }
        }

        /// The window as the compositor's `windows` request reports it.
        pub fn info(&self, s: &Session) -> WindowInfo {
            window(s, &self.title)
        }

        /// Move the pointer to global (x, y) and wait for wl_pointer.enter on the window:
        /// (serial, surface x, surface y).
        pub fn enter_at(&mut self, s: &Session, x: f64, y: f64) -> (u32, f64, f64) {
            let mark = self.c.mark();
            s.pointer_move(x, y);
            let id = self.win.surface.id();
            self.c.wait_event(mark, "wl_pointer.enter", |e| match &e.kind {
                Ev::Pointer(wl_pointer::Event::Enter {
                    serial,
                    surface,
                    surface_x,
                    surface_y,
                }) if surface.id() == id => Some((*serial, *surface_x, *surface_y)),
                _ => None,
            })
        }

        /// Click on a part of this (unfocused) window that `others` do not cover; returns the
        /// serial of the wl_keyboard.enter the click brings.
        pub fn focus_by_click(&mut self, s: &Session, others: &[&App]) -> u32 {
            let others: Vec<WindowInfo> = others.iter().map(|o| o.info(s)).collect();
            let (x, y) = spot(&self.info(s), &others);
            let mark = self.c.mark();
            s.pointer_move(x, y);
            click(s);
            let serial = self.c.keyboard_enter(mark, &self.win.surface);
            assert_eq!(focused_title(s), self.title);
            serial
        }
    }

    /// The mapped window with this title, once the compositor lists it.
    pub fn window(s: &Session, title: &str) -> WindowInfo {
        wait_for(TIMEOUT, &format!("window {title:?} in `windows`"), || {
            s.windows().into_iter().find(|w| w.title == title)
        })
    }

    /// The title of the one focused window.
    pub fn focused_title(s: &Session) -> String {
        let windows = s.windows();
        let focused: Vec<_> = windows.iter().filter(|w| w.focused).collect();
        assert_eq!(
            focused.len(),
            1,
            "exactly one focused window expected: {windows:?}"
        );
        focused[0].title.clone()
    }

    /// A left click at the pointer's position.
    pub fn click(s: &Session) {
        s.request(&Request::PointerButton {
            button: PointerButton::Left,
            state: None,
        })
        .expect("pointer_button request");
    }

    /// A point on `target`'s content that no frame of `others` (border 2, title bar 24) covers.
    pub fn spot(target: &WindowInfo, others: &[WindowInfo]) -> (f64, f64) {
        let covered = |x: i32, y: i32| {
            others.iter().any(|o| {
                (o.x - 2..o.x + o.width + 2).contains(&x) && (o.y - 26..o.y + o.height + 2).contains(&y)
            })
        };
        for y in (target.y + 5..target.y + target.height - 5).step_by(7) {
            for x in (target.x + 5..target.x + target.width - 5).step_by(7) {
                if !covered(x, y) {
                    return (x as f64, y as f64);
                }
            }
        }
        panic!("{target:?} is covered by {others:?}");
    }
}

/// wl_subcompositor: subsurfaces of one colour (used by the label tests).
pub mod subsurface {
    use wayland_client::protocol::{
        wl_shm, wl_subcompositor::WlSubcompositor, wl_subsurface::WlSubsurface, wl_surface::WlSurface,
    };

    use super::{Client, State};

    wayland_client::delegate_noop!(State: WlSubcompositor);
    wayland_client::delegate_noop!(State: WlSubsurface);

    impl Client {
        /// A subsurface of `parent` at (x, y) with a `width`x`height` ARGB8888 buffer of one
        /// colour, committed; in the default sync mode it shows with the parent's next commit.
        pub fn subsurface(
            &self,
            parent: &WlSurface,
            (x, y): (i32, i32),
            (width, height): (i32, i32),
            pixel: u32,
        ) -> (WlSurface, WlSubsurface) {
            let subcompositor: WlSubcompositor = self.bind(1..=1);
            let surface = self.surface();
            let subsurface = subcompositor.get_subsurface(&surface, parent, &self.qh, ());
            subsurface.set_position(x, y);
            let buffer = self.shm_buffer(width, height, wl_shm::Format::Argb8888, pixel);
            self.attach_commit(&surface, Some(&buffer));
            (surface, subsurface)
        }
    }
}

/// Privileged protocols (data control wlr/ext, virtual keyboard, ext-foreign-toplevel-list,
/// ext-session-lock, input-method v2, keyboard-shortcuts-inhibit). Objects bound here get a
/// [`PLog`] as user data and their events land there (offers keep their mime types in
/// [`Mimes`](super::input::Mimes), foreign-toplevel handles their state in [`Handle`]).
pub mod privileged {
    use std::{
        io::Write,
        os::{fd::OwnedFd, unix::fs::FileExt},
        sync::{Arc, Mutex},
    };

    use wayland_client::{
        backend::ObjectId, event_created_child, protocol::wl_keyboard, Connection, Dispatch, Proxy,
        QueueHandle,
    };
    use wayland_protocols::{
        ext::{
            data_control::v1::client::{
                ext_data_control_device_v1::{self, ExtDataControlDeviceV1},
                ext_data_control_manager_v1::ExtDataControlManagerV1,
                ext_data_control_offer_v1::{self, ExtDataControlOfferV1},
                ext_data_control_source_v1::{self, ExtDataControlSourceV1},
            },
            foreign_toplevel_list::v1::client::{
                ext_foreign_toplevel_handle_v1::{self, ExtForeignToplevelHandleV1},
                ext_foreign_toplevel_list_v1::{self, ExtForeignToplevelListV1},
            },
            session_lock::v1::client::{
                ext_session_lock_manager_v1::ExtSessionLockManagerV1,
                ext_session_lock_surface_v1::{self, ExtSessionLockSurfaceV1},
                ext_session_lock_v1::{self, ExtSessionLockV1},
            },
        },
        wp::keyboard_shortcuts_inhibit::zv1::client::{
            zwp_keyboard_shortcuts_inhibit_manager_v1::ZwpKeyboardShortcutsInhibitManagerV1,
            zwp_keyboard_shortcuts_inhibitor_v1::{self, ZwpKeyboardShortcutsInhibitorV1},
        },
    };
    use wayland_protocols_misc::{
        zwp_input_method_v2::client::{
            zwp_input_method_manager_v2::ZwpInputMethodManagerV2,
            zwp_input_method_v2::{self, ZwpInputMethodV2},
        },
        zwp_virtual_keyboard_v1::client::{
            zwp_virtual_keyboard_manager_v1::ZwpVirtualKeyboardManagerV1,
            zwp_virtual_keyboard_v1::ZwpVirtualKeyboardV1,
        },
    };
    use wayland_protocols_wlr::data_control::v1::client::{
        zwlr_data_control_device_v1::{self, ZwlrDataControlDeviceV1},
        zwlr_data_control_manager_v1::ZwlrDataControlManagerV1,
        zwlr_data_control_offer_v1::{self, ZwlrDataControlOfferV1},
        zwlr_data_control_source_v1::{self, ZwlrDataControlSourceV1},
    };

    use super::{input::Mimes, Client, Ev, State};

    /// What a data-control source writes for every `send`, then closes the fd.
    pub const MANAGER_BYTES: &[u8] = b"selection bytes from the clipboard manager";

    /// The events recorded in a [`PLog`].
    #[derive(Debug)]
    pub enum P {
        WlrSelection(Option<ZwlrDataControlOfferV1>),
        WlrPrimary(Option<ZwlrDataControlOfferV1>),
        ExtSelection(Option<ExtDataControlOfferV1>),
        ExtPrimary(Option<ExtDataControlOfferV1>),
        /// A data-control device was told the manager is gone.
        DeviceFinished,
        /// A data-control source was asked for this mime type (and wrote [`MANAGER_BYTES`]).
        Sent(String),
        Cancelled,
        /// ext_foreign_toplevel_list_v1.toplevel (the handle's state is its [`Handle`]).
        Toplevel(ExtForeignToplevelHandleV1),
        ListFinished,
        Locked,
        LockFinished,
        LockConfigure {
            serial: u32,
            width: u32,
            height: u32,
        },
        Activate,
        Deactivate,
        /// zwp_input_method_v2.surrounding_text's text.
        Surrounding(String),
        ImDone,
        Unavailable,
        InhibitActive,
        InhibitInactive,
    }

    /// Events with the object that received them; clones share one log.
    #[derive(Debug, Clone, Default)]
    pub struct PLog(Arc<Mutex<Vec<(ObjectId, P)>>>);

    impl PLog {
        fn push(&self, id: ObjectId, e: P) {
            self.0.lock().unwrap().push((id, e));
        }
        pub fn mark(&self) -> usize {
            self.0.lock().unwrap().len()
        }
        pub fn find<T>(&self, mark: usize, mut f: impl FnMut(&ObjectId, &P) -> Option<T>) -> Option<T> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .skip(mark)
                .find_map(|(id, e)| f(id, e))
        }
        pub fn find_all<T>(&self, mark: usize, mut f: impl FnMut(&ObjectId, &P) -> Option<T>) -> Vec<T> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .skip(mark)
                .filter_map(|(id, e)| f(id, e))
                .collect()
        }
    }

    /// What a foreign-toplevel handle has announced: pending values and those as of its last
    /// `done`.
    #[derive(Debug, Default, Clone)]
    pub struct HandleState {
        pub identifier: String,
        pub title: String,
        pub app_id: String,
        pub done_title: Option<String>,
        pub done_app_id: Option<String>,
        pub dones: usize,
        pub closed: bool,
    }

    /// User data of a foreign-toplevel handle.
    #[derive(Debug, Default)]
    pub struct Handle(pub Mutex<HandleState>);

    impl Handle {
        pub fn of(handle: &ExtForeignToplevelHandleV1) -> HandleState {
            handle
                .data::<Handle>()
                .expect("handle with Handle data")
                .0
                .lock()
                .unwrap()
                .clone()
        }
    }

    macro_rules! silent {
        ($($iface:ty),* $(,)?) => {$(
            impl Dispatch<$iface, PLog> for State {
                fn event(_: &mut State, _: &$iface, _: <$iface as Proxy>::Event, _: &PLog, _: &Connection, _: &QueueHandle<State>) {}
            }
        )*};
    }

    silent!(
        ZwlrDataControlManagerV1,
        ExtDataControlManagerV1,
        ZwpVirtualKeyboardManagerV1,
        ZwpVirtualKeyboardV1,
        ExtSessionLockManagerV1,
        ZwpInputMethodManagerV2,
        ZwpKeyboardShortcutsInhibitManagerV1,
    );

    macro_rules! children {
        (ZwlrDataControlDeviceV1) => {
            event_created_child!(State, ZwlrDataControlDeviceV1, [
                zwlr_data_control_device_v1::EVT_DATA_OFFER_OPCODE => (ZwlrDataControlOfferV1, Mimes::default())
            ]);
        };
        (ExtDataControlDeviceV1) => {
            event_created_child!(State, ExtDataControlDeviceV1, [
                ext_data_control_device_v1::EVT_DATA_OFFER_OPCODE => (ExtDataControlOfferV1, Mimes::default())
            ]);
        };
        (ExtForeignToplevelListV1) => {
            event_created_child!(State, ExtForeignToplevelListV1, [
                ext_foreign_toplevel_list_v1::EVT_TOPLEVEL_OPCODE => (ExtForeignToplevelHandleV1, Handle::default())
            ]);
        };
        ($other:ident) => {};
    }

    macro_rules! logged {
        ($($iface:ident => |$ev:ident| $conv:expr;)*) => {$(
            impl Dispatch<$iface, PLog> for State {
                fn event(
                    _: &mut State,
                    proxy: &$iface,
                    $ev: <$iface as Proxy>::Event,
                    log: &PLog,
                    _: &Connection,
                    _: &QueueHandle<State>,
                ) {
                    let e: Option<P> = $conv;
                    if let Some(e) = e {
                        log.push(proxy.id(), e);
                    }
                }
                children!($iface);
            }
        )*};
    }

    fn answer(fd: OwnedFd) {
        std::fs::File::from(fd)
            .write_all(MANAGER_BYTES)
            .expect("write selection pipe");
    }

    logged! {
        ZwlrDataControlDeviceV1 => |e| match e {
            zwlr_data_control_device_v1::Event::Selection { id } => Some(P::WlrSelection(id)),
            zwlr_data_control_device_v1::Event::PrimarySelection { id } => Some(P::WlrPrimary(id)),
            zwlr_data_control_device_v1::Event::Finished => Some(P::DeviceFinished),
            _ => None,
        };
        ExtDataControlDeviceV1 => |e| match e {
            ext_data_control_device_v1::Event::Selection { id } => Some(P::ExtSelection(id)),
            ext_data_control_device_v1::Event::PrimarySelection { id } => Some(P::ExtPrimary(id)),
            ext_data_control_device_v1::Event::Finished => Some(P::DeviceFinished),
            _ => None,
        };
        ZwlrDataControlSourceV1 => |e| match e {
            zwlr_data_control_source_v1::Event::Send { mime_type, fd } => {
                answer(fd);
                Some(P::Sent(mime_type))
            }
            zwlr_data_control_source_v1::Event::Cancelled => Some(P::Cancelled),
            _ => None,
        };
        ExtDataControlSourceV1 => |e| match e {
            ext_data_control_source_v1::Event::Send { mime_type, fd } => {
                answer(fd);
                Some(P::Sent(mime_type))
            }
            ext_data_control_source_v1::Event::Cancelled => Some(P::Cancelled),
            _ => None,
        };
        ExtForeignToplevelListV1 => |e| match e {
            ext_foreign_toplevel_list_v1::Event::Toplevel { toplevel } => Some(P::Toplevel(toplevel)),
            ext_foreign_toplevel_list_v1::Event::Finished => Some(P::ListFinished),
            _ => None,
        };
        ExtSessionLockV1 => |e| match e {
            ext_session_lock_v1::Event::Locked => Some(P::Locked),
            ext_session_lock_v1::Event::Finished => Some(P::LockFinished),
            _ => None,
        };
        ExtSessionLockSurfaceV1 => |e| match e {
            ext_session_lock_surface_v1::Event::Configure { serial, width, height } =>
                Some(P::LockConfigure { serial, width, height }),
            _ => None,
        };
        ZwpInputMethodV2 => |e| match e {
            zwp_input_method_v2::Event::Activate => Some(P::Activate),
            zwp_input_method_v2::Event::Deactivate => Some(P::Deactivate),
            zwp_input_method_v2::Event::SurroundingText { text, .. } => Some(P::Surrounding(text)),
            zwp_input_method_v2::Event::Done => Some(P::ImDone),
            zwp_input_method_v2::Event::Unavailable => Some(P::Unavailable),
            _ => None,
        };
        ZwpKeyboardShortcutsInhibitorV1 => |e| match e {
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Active => Some(P::InhibitActive),
            zwp_keyboard_shortcuts_inhibitor_v1::Event::Inactive => Some(P::InhibitInactive),
            _ => None,
        };
    }

    impl Dispatch<ZwlrDataControlOfferV1, Mimes> for State {
        fn event(
            _: &mut State,
            _: &ZwlrDataControlOfferV1,
            e: zwlr_data_control_offer_v1::Event,
            m: &Mimes,
            _: &Connection,
            _: &QueueHandle<State>,
        ) {
            if let zwlr_data_control_offer_v1::Event::Offer { mime_type } = e {
                m.0.lock().unwrap().push(mime_type);
            }
        }
    }

    impl Dispatch<ExtDataControlOfferV1, Mimes> for State {
        fn event(
            _: &mut State,
            _: &ExtDataControlOfferV1,
            e: ext_data_control_offer_v1::Event,
            m: &Mimes,
            _: &Connection,
            _: &QueueHandle<State>,
        ) {
            if let ext_data_control_offer_v1::Event::Offer { mime_type } = e {
                m.0.lock().unwrap().push(mime_type);
            }
        }
    }

    impl Dispatch<ExtForeignToplevelHandleV1, Handle> for State {
        fn event(
            _: &mut State,
            _: &ExtForeignToplevelHandleV1,
            e: ext_foreign_toplevel_handle_v1::Event,
            h: &Handle,
            _: &Connection,
            _: &QueueHandle<State>,
        ) {
            let mut h = h.0.lock().unwrap();
            match e {
                ext_foreign_toplevel_handle_v1::Event::Identifier { identifier } => h.identifier = identifier,
                ext_foreign_toplevel_handle_v1::Event::Title { title } => h.title = title,
                ext_foreign_toplevel_handle_v1::Event::AppId { app_id } => h.app_id = app_id,
                ext_foreign_toplevel_handle_v1::Event::Done => {
                    h.done_title = Some(h.title.clone());
                    h.done_app_id = Some(h.app_id.clone());
                    h.dones += 1;
                }
                ext_foreign_toplevel_handle_v1::Event::Closed => h.closed = true,
                _ => {}
            }
        }
    }

    impl Client {
        /// Bind a global of this module's interfaces with `log` as its user data.
        pub fn bind_plogged<I>(&self, log: &PLog, versions: std::ops::RangeInclusive<u32>) -> I
        where
            I: Proxy + 'static,
            State: Dispatch<I, PLog>,
        {
            self.globals
                .bind(&self.qh, versions, log.clone())
                .unwrap_or_else(|e| panic!("bind {}: {e}", I::interface().name))
        }

        /// Dispatch until `f` matches a `log` entry at or after `mark`.
        pub fn wait_plog<T>(
            &mut self,
            log: &PLog,
            mark: usize,
            what: &str,
            mut f: impl FnMut(&ObjectId, &P) -> Option<T>,
        ) -> T {
            self.dispatch_until(what, |_| log.find(mark, &mut f))
        }

        /// A copy (in a new memfd) of the xkb keymap the compositor sent to this client's
        /// wl_keyboard, and its size: what a virtual keyboard uploads to type in the same layout.
        pub fn keymap_copy(&mut self) -> (OwnedFd, u32) {
            let (fd, size) = self.dispatch_until("wl_keyboard.keymap", |s| {
                s.events.iter().rev().find_map(|e| match &e.kind {
                    Ev::Keyboard(wl_keyboard::Event::Keymap { fd, size, .. }) => {
                        Some((fd.try_clone().expect("dup keymap fd"), *size))
                    }
                    _ => None,
                })
            });
            let mut bytes = vec![0u8; size as usize];
            std::fs::File::from(fd)
                .read_exact_at(&mut bytes, 0)
                .expect("read the keymap");
            let copy = rustix::fs::memfd_create(c"nexq-test-keymap", rustix::fs::MemfdFlags::CLOEXEC)
                .expect("memfd_create");
            let mut file = std::fs::File::from(copy);
            file.write_all(&bytes).expect("write keymap copy");
            (file.into(), size)
        }
    }
}
