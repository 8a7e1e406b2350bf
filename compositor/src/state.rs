//! The compositor state: `State` splits the backend from the session (`Nexq`) so backend code
//! can borrow the session mutably while it holds its own renderer.

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use exo_shell::{config::Config, layout::Layout};
use smithay::{
    desktop::{PopupManager, Space, Window},
    input::{pointer::CursorImageStatus, Seat, SeatState},
    reexports::{
        calloop::{LoopHandle, LoopSignal},
        wayland_server::{
            backend::{ClientData, ClientId, DisconnectReason, GlobalId},
            DisplayHandle,
        },
    },
    utils::{Clock, Monotonic},
    wayland::{
        compositor::{CompositorClientState, CompositorState},
        cursor_shape::CursorShapeManagerState,
        foreign_toplevel_list::{ForeignToplevelHandle, ForeignToplevelListState},
        fractional_scale::FractionalScaleManagerState,
        input_method::InputMethodManagerState,
        keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitState,
        output::OutputManagerState,
        pointer_constraints::PointerConstraintsState,
        presentation::PresentationState,
        relative_pointer::RelativePointerManagerState,
        selection::{
            data_device::DataDeviceState, ext_data_control, primary_selection::PrimarySelectionState,
            wlr_data_control,
        },
        session_lock::SessionLockManagerState,
        shell::{
            wlr_layer::WlrLayerShellState,
            xdg::{decoration::XdgDecorationState, XdgShellState},
        },
        shm::ShmState,
        single_pixel_buffer::SinglePixelBufferState,
        text_input::TextInputManagerState,
        viewporter::ViewporterState,
        virtual_keyboard::VirtualKeyboardManagerState,
        xdg_activation::XdgActivationState,
    },
};

use crate::{
    backend::Backend, keyboard_map::KeyboardMap, limits::ClientLimits,
    protocols::screencopy::ScreencopyManagerState, redraw::RedrawState, screencopy_queue::PendingScreencopy,
};

/// Stable identity of a toplevel window, used by the layout policy and the control socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(pub u64);

/// Who is on the other end of a Wayland connection: known from the socket it came in on,
/// never from anything the client says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The capsule's name, or None for a host client on the public socket.
    pub capsule: Option<String>,
    /// The label colour (the capsule's, or neutral for host clients).
    pub color: exo_shell::config::Color,
}

impl Default for ClientIdentity {
    fn default() -> Self {
        Self {
            capsule: None,
            color: exo_shell::config::Color {
                r: 0x55,
                g: 0x55,
                b: 0x55,
            },
        }
    }
}

/// Per-client data attached to every Wayland connection.
#[derive(Debug)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
    pub limits: ClientLimits,
    pub identity: ClientIdentity,
    /// Capabilities granted to this client; changed live by grant/revoke.
    pub caps: std::sync::Mutex<exo_shell::CapabilitySet>,
    /// Reports a capsule's protocol-error disconnection to Sentry.
    pub sentry: crate::sentry::ClientReporter,
}

impl Default for ClientState {
    /// A client with every capability: for tests and conformance runs, never for real clients.
    fn default() -> Self {
        Self::new(ClientIdentity::default(), exo_shell::CapabilitySet::all())
    }
}

impl ClientState {
    pub fn new(identity: ClientIdentity, caps: exo_shell::CapabilitySet) -> Self {
        Self {
            compositor_state: CompositorClientState::default(),
            limits: ClientLimits::default(),
            identity,
            caps: std::sync::Mutex::new(caps),
            sentry: Default::default(),
        }
    }

    pub fn caps(&self) -> exo_shell::CapabilitySet {
        // A poisoned lock only means a panic elsewhere; the set itself is always valid.
        *self.caps.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        // A protocol error is where refused requests end up (a bind of a hidden global, an
        // exceeded limit): record it with who the client is.
        match &reason {
            DisconnectReason::ProtocolError(err) => {
                tracing::warn!(
                    capsule = %self.identity.capsule.as_deref().unwrap_or("(host)"),
                    interface = %err.object_interface,
                    code = err.code,
                    "client disconnected after a protocol error: {}",
                    err.message
                );
                self.sentry.disconnected(err, self.caps());
            }
            DisconnectReason::ConnectionClosed => tracing::debug!(?client_id, "client disconnected"),
        }
    }
}

pub struct State {
    pub backend: Backend,
    pub nexq: Nexq,
}

/// Everything the session owns apart from the backend.
pub struct Nexq {
    pub display_handle: DisplayHandle,
    pub loop_handle: LoopHandle<'static, State>,
    pub loop_signal: LoopSignal,
    pub clock: Clock<Monotonic>,
    pub socket_name: String,
    pub control_path: Option<PathBuf>,
    pub config: Config,
    pub config_path: Option<PathBuf>,

    pub space: Space<Window>,
    pub popups: PopupManager,
    /// The layer surfaces (panels, backgrounds, overlays) and where they are.
    pub layers: crate::layers::LayerSurfaces,
    pub layout: Layout<WindowId>,
    pub windows: HashMap<WindowId, Window>,
    pub next_window_id: u64,
    /// Toplevels created but not yet mapped (no buffer committed yet).
    pub unmapped: Vec<Window>,
    /// The outputs, side by side; the first is the primary one.
    pub outputs: crate::outputs::Outputs,
    pub redraw: RedrawState,
    /// The armed frame timer (see `redraw`).
    pub frame_timer: crate::redraw::FrameTimer,
    /// Renders that failed in a row; each failure is tried again on the frame timer.
    pub failed_renders: crate::redraw::FailedRenders,
    /// Buffers replaced by commits since the last frame, released with it (see `replaced`).
    pub replaced_buffers: crate::replaced::ReplacedBuffers,
    /// Something other than a window's in-place commit changed the scene since the last frame,
    /// so the next frame refreshes the pointer focus (commits refresh it themselves).
    pub pointer_scene_changed: bool,
    /// A frame was asked for since the last `Space::refresh` (which sends the surfaces' output
    /// enter/leave events): something may have changed what the Space tracks.
    pub space_changed: bool,
    /// Bumped when a window's title or the appearance changes, so that labels need not
    /// compare either each frame to know they are unchanged.
    pub labels_epoch: u64,
    pub pending_screencopies: Vec<PendingScreencopy>,
    pub supervisor: crate::capsules::supervisor::Supervisor,
    /// Sentry: the event hub and log, control connections, the sampler.
    pub sentry: crate::sentry::Sentry,

    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    pub xdg_decoration_state: XdgDecorationState,
    pub layer_shell_state: WlrLayerShellState,
    pub shm_state: ShmState,
    pub seat_state: SeatState<State>,
    pub output_manager_state: OutputManagerState,
    pub data_device_state: DataDeviceState,
    pub primary_selection_state: PrimarySelectionState,
    pub viewporter_state: ViewporterState,
    pub fractional_scale_state: FractionalScaleManagerState,
    pub presentation_state: PresentationState,
    pub single_pixel_buffer_state: SinglePixelBufferState,
    pub xdg_activation_state: XdgActivationState,
    pub cursor_shape_state: CursorShapeManagerState,
    pub pointer_constraints_state: PointerConstraintsState,
    pub relative_pointer_state: RelativePointerManagerState,
    pub text_input_state: TextInputManagerState,
    pub screencopy_state: ScreencopyManagerState,

    // Privileged protocols, each gated by a capability (see `exo_shell::gating`). Where Smithay's
    // state does not own a removable global, the global's id is kept next to it, so that
    // `reannounce_globals` can replace the global on a live grant.
    pub wlr_data_control_state: wlr_data_control::DataControlState,
    pub ext_data_control_state: ext_data_control::DataControlState,
    pub virtual_keyboard_state: VirtualKeyboardManagerState,
    pub input_method_state: InputMethodManagerState,
    /// Whether Smithay counts an input method as bound (see `handlers::input_method`).
    pub input_method_bound: bool,
    pub foreign_toplevel_state: ForeignToplevelListState,
    pub foreign_toplevel_global: GlobalId,
    /// The ext-foreign-toplevel-list handle of every mapped window.
    pub foreign_toplevels: HashMap<WindowId, ForeignToplevelHandle>,
    pub session_lock_state: SessionLockManagerState,
    pub session_lock_global: GlobalId,
    pub session_lock: crate::handlers::session_lock::LockState,
    pub shortcuts_inhibit_state: KeyboardShortcutsInhibitState,
    pub shortcuts_inhibit_global: GlobalId,

    pub seat: Seat<State>,
    /// The seat's pointer, kept: `Seat::get_pointer` clones a handle (and its tracing span) and
    /// returns an `Option` on every call, though the seat always has its pointer.
    pub pointer: smithay::input::pointer::PointerHandle<State>,
    /// Which key types which symbol in the seat's keymap, for `exoctl key|type`: made on first
    /// use from the seat's keymap and dropped when the keymap changes (see [`State::keyboard_map`]).
    pub keyboard_map: Option<KeyboardMap>,
    pub cursor_status: CursorImageStatus,
    /// Keys whose press was consumed by a binding: their release is swallowed too.
    pub suppressed_keys: Vec<u32>,
    /// X-ray mode: every surface shows its owner (DESIGN.md §4.4; see `labels`).
    pub xray: bool,
    /// Clipboard policy between capsules and the trusted copy/paste gesture.
    pub clipboard: crate::clipboard::Clipboard,
}

impl Nexq {
    /// The primary output's refresh interval: every output is drawn on its clock.
    pub fn frame_interval(&self) -> Duration {
        let refresh_mhz = self
            .outputs
            .primary()
            .current_mode()
            .map(|m| m.refresh)
            .filter(|r| *r > 0)
            .unwrap_or(60_000);
        Duration::from_nanos(1_000_000_000_000 / refresh_mhz as u64)
    }

    /// The primary output's area in global logical coordinates.
    pub fn primary_rect(&self) -> smithay::utils::Rectangle<i32, smithay::utils::Logical> {
        crate::outputs::logical_rect(self.outputs.primary())
    }

    pub fn alloc_window_id(&mut self) -> WindowId {
        self.next_window_id += 1;
        WindowId(self.next_window_id)
    }
}

/// What `State::new` needs to know that does not come from the backend.
pub struct SessionOptions {
    pub socket: Option<String>,
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub control: bool,
}

pub type ClientDataArc = Arc<ClientState>;
