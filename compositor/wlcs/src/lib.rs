//! The WLCS server integration: the WLCS runner loads this library, starts a Nexquelium for every
//! test and drives it with real libwayland clients.
//!
//! The compositor is the real one, built by `State::new` exactly as the binary builds it, and runs
//! on its own thread (`server.rs`). WLCS calls arrive on the test's thread; each becomes a
//! [`Command`] sent over a calloop channel, and the call returns once the compositor has carried
//! it out and flushed its clients, so a following client roundtrip sees the result.

mod server;

use std::{
    os::{
        fd::{AsRawFd, OwnedFd},
        unix::net::UnixStream,
    },
    sync::{
        atomic::{AtomicU32, Ordering},
        mpsc,
    },
    thread::JoinHandle,
};

use smithay::{
    reexports::calloop::channel::Sender,
    utils::{Logical, Point},
};
use wayland_sys::{
    client::{wayland_client_handle, wl_display, wl_proxy},
    common::{wl_fixed_t, wl_fixed_to_double},
    ffi_dispatch,
};
use wlcs::{
    extension_list,
    ffi_display_server_api::{WlcsExtensionDescriptor, WlcsIntegrationDescriptor, WlcsServerIntegration},
    ffi_wrappers::wlcs_server,
    wlcs_server_integration, Wlcs,
};

wlcs_server_integration!(NexqWlcs);

/// Every global Nexquelium advertises to a client with every capability, at the version it
/// advertises (`wayland-info` against `nexquelium --host-caps all`). WLCS tests what the
/// compositor advertises; a test whose extension is neither advertised nor listed here is
/// skipped, and one whose extension is listed but missing fails.
static EXTENSIONS: &[WlcsExtensionDescriptor] = extension_list!(
    ("wl_compositor", 5),
    ("wl_subcompositor", 1),
    ("wl_shm", 2),
    ("wl_seat", 9),
    ("wl_output", 4),
    ("wl_data_device_manager", 3),
    ("xdg_wm_base", 6),
    ("zxdg_decoration_manager_v1", 1),
    ("zwlr_layer_shell_v1", 4),
    ("zxdg_output_manager_v1", 3),
    ("zwp_primary_selection_device_manager_v1", 1),
    ("wp_viewporter", 1),
    ("wp_fractional_scale_manager_v1", 1),
    ("wp_presentation", 2),
    ("wp_single_pixel_buffer_manager_v1", 1),
    ("xdg_activation_v1", 1),
    ("wp_cursor_shape_manager_v1", 2),
    ("zwp_pointer_constraints_v1", 1),
    ("zwp_relative_pointer_manager_v1", 1),
    ("zwp_text_input_manager_v3", 1),
    ("zwlr_screencopy_manager_v1", 3),
    ("zwlr_data_control_manager_v1", 2),
    ("ext_data_control_manager_v1", 1),
    ("ext_session_lock_manager_v1", 1),
    ("zwp_virtual_keyboard_manager_v1", 1),
    ("zwp_input_method_manager_v2", 1),
    ("ext_foreign_toplevel_list_v1", 1),
    ("zwp_keyboard_shortcuts_inhibit_manager_v1", 1),
);

static DESCRIPTOR: WlcsIntegrationDescriptor = WlcsIntegrationDescriptor {
    version: 1,
    num_extensions: EXTENSIONS.len(),
    supported_extensions: EXTENSIONS.as_ptr(),
};

/// What the test thread asks of the compositor thread.
#[derive(Debug)]
pub(crate) enum Command {
    /// Insert a client on the server end of a socket pair; `client_fd` is the client end's fd
    /// number, which is how WLCS names the client later (`wl_display_get_fd`).
    NewClient {
        stream: UnixStream,
        client_fd: i32,
    },
    /// Put the window geometry of a client's toplevel at a global position (WLCS positions
    /// windows by their geometry: a surface with a geometry offset lands that much up-left).
    PositionWindow {
        client_fd: i32,
        surface_id: u32,
        location: Point<i32, Logical>,
    },
    PointerMoveAbsolute(Point<f64, Logical>),
    PointerMoveRelative(Point<f64, Logical>),
    PointerButton {
        button: u32,
        pressed: bool,
    },
    /// Touch points are numbered by the WLCS touch device that makes them.
    TouchDown(u32, Point<f64, Logical>),
    TouchMove(u32, Point<f64, Logical>),
    TouchUp(u32),
    Stop,
}

/// A command and where to report that it is done.
pub(crate) struct Request {
    pub command: Command,
    pub done: mpsc::SyncSender<()>,
}

/// The channel to a running compositor thread.
#[derive(Clone)]
struct Link(Sender<Request>);

impl Link {
    /// Send a command and wait until the compositor has carried it out. A compositor thread that
    /// is gone (it panicked) makes this a no-op; the test then fails on what it observes.
    fn call(&self, command: Command) {
        let (done, wait) = mpsc::sync_channel(1);
        if self.0.send(Request { command, done }).is_ok() {
            let _ = wait.recv();
        }
    }
}

struct NexqWlcs {
    server: Option<(Link, JoinHandle<()>)>,
}

impl Wlcs for NexqWlcs {
    type Pointer = PointerDevice;
    type Touch = TouchDevice;

    fn new() -> Self {
        init_logging();
        NexqWlcs { server: None }
    }

    fn start(&mut self) {
        match server::start() {
            Ok((sender, thread)) => self.server = Some((Link(sender), thread)),
            Err(err) => eprintln!("nexquelium-wlcs: cannot start the compositor: {err:#}"),
        }
    }

    fn stop(&mut self) {
        if let Some((link, thread)) = self.server.take() {
            link.call(Command::Stop);
            drop(link);
            if thread.join().is_err() {
                eprintln!("nexquelium-wlcs: the compositor thread panicked");
            }
        }
    }

    fn create_client_socket(&self) -> std::io::Result<OwnedFd> {
        let Some((link, _)) = &self.server else {
            return Err(std::io::Error::other("the compositor is not running"));
        };
        let (client_end, server_end) = UnixStream::pair()?;
        link.call(Command::NewClient {
            stream: server_end,
            client_fd: client_end.as_raw_fd(),
        });
        Ok(client_end.into())
    }

    fn position_window_absolute(&self, display: *mut wl_display, surface: *mut wl_proxy, x: i32, y: i32) {
        let Some((link, _)) = &self.server else { return };
        // SAFETY: WLCS passes a live wl_display and a live wl_surface proxy of that display; the
        // runner has libwayland-client loaded, which is what the handle resolves the calls in.
        let (client_fd, surface_id) = unsafe {
            (
                ffi_dispatch!(wayland_client_handle(), wl_display_get_fd, display),
                ffi_dispatch!(wayland_client_handle(), wl_proxy_get_id, surface),
            )
        };
        link.call(Command::PositionWindow {
            client_fd,
            surface_id,
            location: (x, y).into(),
        });
    }

    // WLCS 1.5.0 dereferences what these return: hand out a device even with no server (its
    // calls then do nothing) rather than None.
    fn create_pointer(&mut self) -> Option<PointerDevice> {
        Some(PointerDevice(self.server.as_ref().map(|(l, _)| l.clone())))
    }

    fn create_touch(&mut self) -> Option<TouchDevice> {
        static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);
        Some(TouchDevice {
            link: self.server.as_ref().map(|(l, _)| l.clone()),
            slot: NEXT_SLOT.fetch_add(1, Ordering::Relaxed),
        })
    }

    fn get_descriptor(&self) -> &WlcsIntegrationDescriptor {
        &DESCRIPTOR
    }
}

fn fixed_point(x: wl_fixed_t, y: wl_fixed_t) -> Point<f64, Logical> {
    (wl_fixed_to_double(x), wl_fixed_to_double(y)).into()
}

/// The seat's pointer, as WLCS drives it. The seat has one pointer whatever the number of
/// devices WLCS creates, as with real hardware.
struct PointerDevice(Option<Link>);

impl PointerDevice {
    fn call(&self, command: Command) {
        if let Some(link) = &self.0 {
            link.call(command);
        }
    }
}

impl wlcs::Pointer for PointerDevice {
    fn move_absolute(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.call(Command::PointerMoveAbsolute(fixed_point(x, y)));
    }

    fn move_relative(&mut self, dx: wl_fixed_t, dy: wl_fixed_t) {
        self.call(Command::PointerMoveRelative(fixed_point(dx, dy)));
    }

    fn button_up(&mut self, button: i32) {
        self.call(Command::PointerButton {
            button: button as u32,
            pressed: false,
        });
    }

    fn button_down(&mut self, button: i32) {
        self.call(Command::PointerButton {
            button: button as u32,
            pressed: true,
        });
    }
}

/// One touch point on the seat's touch device.
struct TouchDevice {
    link: Option<Link>,
    slot: u32,
}

impl TouchDevice {
    fn call(&self, command: Command) {
        if let Some(link) = &self.link {
            link.call(command);
        }
    }
}

/// WLCS 1.5.0 passes touch coordinates as plain integers although the header types them
/// `wl_fixed_t` (its `Touch::down_at(int, int)` hands them on unconverted, and Mir's own
/// integration reads them as `int`), unlike pointer coordinates, which it converts.
fn int_point(x: wl_fixed_t, y: wl_fixed_t) -> Point<f64, Logical> {
    (f64::from(x), f64::from(y)).into()
}

impl wlcs::Touch for TouchDevice {
    fn touch_down(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.call(Command::TouchDown(self.slot, int_point(x, y)));
    }

    fn touch_move(&mut self, x: wl_fixed_t, y: wl_fixed_t) {
        self.call(Command::TouchMove(self.slot, int_point(x, y)));
    }

    fn touch_up(&mut self) {
        self.call(Command::TouchUp(self.slot));
    }
}

/// Compositor logs go to stderr when `NEXQ_WLCS_LOG` holds a tracing filter (e.g. `debug`).
fn init_logging() {
    if let Ok(filter) = std::env::var("NEXQ_WLCS_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}
