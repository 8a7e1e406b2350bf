//! The Wayland side: globals (compositor, wl_shm, wlr-layer-shell, seat, and viewporter +
//! fractional-scale-v1 and cursor-shape where offered), creating the three layer surfaces, and
//! smithay-client-toolkit's handlers, which turn configures, scale changes, frame callbacks and
//! input into changes of the [`App`]'s views.

use anyhow::Context;
use smithay_client_toolkit::{
    compositor::{CompositorHandler, CompositorState},
    delegate_compositor, delegate_keyboard, delegate_layer, delegate_output, delegate_pointer,
    delegate_registry, delegate_seat, delegate_shm,
    output::{OutputHandler, OutputState},
    reexports::protocols::wp::{
        cursor_shape::v1::client::wp_cursor_shape_device_v1::{Shape, WpCursorShapeDeviceV1},
        fractional_scale::v1::client::{
            wp_fractional_scale_manager_v1::WpFractionalScaleManagerV1,
            wp_fractional_scale_v1::{self, WpFractionalScaleV1},
        },
        viewporter::client::{wp_viewport::WpViewport, wp_viewporter::WpViewporter},
    },
    registry::{ProvidesRegistryState, RegistryState},
    registry_handlers,
    seat::{
        keyboard::{KeyEvent, KeyboardHandler, Keysym, Modifiers, RawModifiers},
        pointer::{cursor_shape::CursorShapeManager, PointerEvent, PointerEventKind, PointerHandler},
        Capability, SeatHandler, SeatState,
    },
    shell::{
        wlr_layer::{
            Anchor, KeyboardInteractivity, Layer, LayerShell, LayerShellHandler, LayerSurface,
            LayerSurfaceConfigure,
        },
        WaylandSurface,
    },
    shm::{slot::SlotPool, Shm, ShmHandler},
};
use wayland_client::{
    globals::GlobalList,
    protocol::{wl_keyboard, wl_output, wl_pointer, wl_seat, wl_surface},
    Connection, Dispatch, QueueHandle,
};

use crate::app::App;
use crate::surface::{LayerView, ViewKind};
use crate::ui::{launcher, panel};

/// Where the launcher sits below the top edge, in logical pixels.
const LAUNCHER_TOP: i32 = 60;

/// The globals and seat objects the dashboard uses.
pub struct Wl {
    pub qh: QueueHandle<App>,
    registry: RegistryState,
    seat: SeatState,
    output: OutputState,
    compositor: CompositorState,
    layer_shell: LayerShell,
    shm: Shm,
    pub pool: SlotPool,
    viewporter: Option<WpViewporter>,
    fractional: Option<WpFractionalScaleManagerV1>,
    cursor_shape: Option<CursorShapeManager>,
    pointer: Option<wl_pointer::WlPointer>,
    cursor_device: Option<WpCursorShapeDeviceV1>,
    /// The serial of the pointer's last enter, for setting the cursor.
    enter_serial: Option<u32>,
    /// The shape last set: a hand or the arrow.
    cursor_hand: Option<bool>,
    keyboard: Option<wl_keyboard::WlKeyboard>,
}

impl Wl {
    pub fn new(globals: &GlobalList, qh: &QueueHandle<App>) -> anyhow::Result<Wl> {
        let compositor = CompositorState::bind(globals, qh).context("wl_compositor is not offered")?;
        let layer_shell = LayerShell::bind(globals, qh).context(
            "zwlr_layer_shell_v1 is not offered: the dashboard needs the display.layer capability",
        )?;
        let shm = Shm::bind(globals, qh).context("wl_shm is not offered")?;
        let pool = SlotPool::new(1280 * 800 * 4, &shm).context("cannot create a wl_shm pool")?;
        Ok(Wl {
            qh: qh.clone(),
            registry: RegistryState::new(globals),
            seat: SeatState::new(globals, qh),
            output: OutputState::new(globals, qh),
            viewporter: globals.bind(qh, 1..=1, ()).ok(),
            fractional: globals.bind(qh, 1..=1, ()).ok(),
            cursor_shape: CursorShapeManager::bind(globals, qh).ok(),
            compositor,
            layer_shell,
            shm,
            pool,
            pointer: None,
            cursor_device: None,
            enter_serial: None,
            cursor_hand: None,
            keyboard: None,
        })
    }

    /// Creates a layer surface of `kind` and commits it without a buffer; it is drawn once the
    /// compositor configures it. `panel_height` is the panel's surface height (taller while its
    /// menu is open).
    pub fn create_view(&self, kind: ViewKind, panel_height: u32) -> LayerView {
        let qh = &self.qh;
        let surface = self.compositor.create_surface(qh);
        let (viewport, fractional) = match (&self.viewporter, &self.fractional) {
            (Some(viewporter), Some(manager)) => (
                Some(viewporter.get_viewport(&surface, qh, ())),
                Some(manager.get_fractional_scale(&surface, qh, ())),
            ),
            _ => (None, None),
        };
        let (layer, namespace) = match kind {
            ViewKind::Panel => (Layer::Top, "exosphere-panel"),
            ViewKind::Dashboard => (Layer::Overlay, "exosphere-dashboard"),
            ViewKind::Launcher => (Layer::Overlay, "exosphere-launcher"),
        };
        let layer = self
            .layer_shell
            .create_layer_surface(qh, surface, layer, Some(namespace), None);
        match kind {
            ViewKind::Panel => {
                layer.set_anchor(Anchor::TOP | Anchor::LEFT | Anchor::RIGHT);
                layer.set_size(0, panel_height);
                // Windows keep out of the bar, not out of the menu below it.
                layer.set_exclusive_zone(panel::HEIGHT as i32);
                layer.set_keyboard_interactivity(KeyboardInteractivity::None);
            }
            ViewKind::Dashboard => {
                // Anchored everywhere with no zone of its own: the area the panel leaves.
                layer.set_anchor(Anchor::all());
                layer.set_size(0, 0);
                layer.set_exclusive_zone(0);
                layer.set_keyboard_interactivity(KeyboardInteractivity::OnDemand);
            }
            ViewKind::Launcher => {
                layer.set_anchor(Anchor::TOP);
                layer.set_margin(LAUNCHER_TOP, 0, 0, 0);
                layer.set_size(launcher::WIDTH, launcher::HEIGHT);
                layer.set_keyboard_interactivity(KeyboardInteractivity::Exclusive);
            }
        }
        layer.commit();
        LayerView::new(kind, layer, viewport, fractional)
    }

    /// Shows an arrow or a hand over our surfaces (only when that changes).
    pub fn set_cursor(&mut self, hand: bool) {
        if self.cursor_hand == Some(hand) {
            return;
        }
        if let (Some(device), Some(serial)) = (&self.cursor_device, self.enter_serial) {
            device.set_shape(serial, if hand { Shape::Pointer } else { Shape::Default });
            self.cursor_hand = Some(hand);
        }
    }
}

impl CompositorHandler for App {
    fn scale_factor_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        surface: &wl_surface::WlSurface,
        factor: i32,
    ) {
        if let Some(view) = self.views.find_mut(surface) {
            view.set_int_scale(factor);
        }
    }

    fn transform_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: wl_output::Transform,
    ) {
    }

    fn frame(&mut self, _: &Connection, _: &QueueHandle<Self>, surface: &wl_surface::WlSurface, _: u32) {
        if let Some(view) = self.views.find_mut(surface) {
            view.frame_done();
        }
    }

    fn surface_enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }

    fn surface_leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
}

impl OutputHandler for App {
    fn output_state(&mut self) -> &mut OutputState {
        &mut self.wl.output
    }
    fn new_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn update_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn output_destroyed(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
}

impl LayerShellHandler for App {
    fn closed(&mut self, _: &Connection, _: &QueueHandle<Self>, layer: &LayerSurface) {
        self.view_closed(layer.wl_surface());
    }

    fn configure(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        layer: &LayerSurface,
        configure: LayerSurfaceConfigure,
        _: u32,
    ) {
        if let Some(view) = self.views.find_mut(layer.wl_surface()) {
            let (w, h) = configure.new_size;
            let (w, h) = match view.kind {
                ViewKind::Launcher => (
                    if w == 0 { launcher::WIDTH } else { w },
                    if h == 0 { launcher::HEIGHT } else { h },
                ),
                // Anchored to both sides the compositor decides the width; 0 would be a bug.
                _ => (w.max(1), h.max(1)),
            };
            view.configure(w, h);
        }
    }
}

impl SeatHandler for App {
    fn seat_state(&mut self) -> &mut SeatState {
        &mut self.wl.seat
    }

    fn new_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}

    fn new_capability(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        seat: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard && self.wl.keyboard.is_none() {
            match self.wl.seat.get_keyboard(qh, &seat, None) {
                Ok(keyboard) => self.wl.keyboard = Some(keyboard),
                Err(e) => tracing::warn!(%e, "no keyboard"),
            }
        }
        if capability == Capability::Pointer && self.wl.pointer.is_none() {
            match self.wl.seat.get_pointer(qh, &seat) {
                Ok(pointer) => {
                    self.wl.cursor_device = self
                        .wl
                        .cursor_shape
                        .as_ref()
                        .map(|m| m.get_shape_device(&pointer, qh));
                    self.wl.pointer = Some(pointer);
                }
                Err(e) => tracing::warn!(%e, "no pointer"),
            }
        }
    }

    fn remove_capability(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard {
            if let Some(keyboard) = self.wl.keyboard.take() {
                keyboard.release();
            }
        }
        if capability == Capability::Pointer {
            if let Some(device) = self.wl.cursor_device.take() {
                device.destroy();
            }
            if let Some(pointer) = self.wl.pointer.take() {
                pointer.release();
            }
        }
    }

    fn remove_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
}

impl KeyboardHandler for App {
    fn enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        surface: &wl_surface::WlSurface,
        _: u32,
        _: &[u32],
        _: &[Keysym],
    ) {
        self.views.set_keyboard_focus(Some(surface));
    }

    fn leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: &wl_surface::WlSurface,
        _: u32,
    ) {
        self.views.set_keyboard_focus(None);
    }

    fn press_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.views.key(&event, true);
    }

    fn repeat_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.views.key(&event, true);
    }

    fn release_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.views.key(&event, false);
    }

    fn update_modifiers(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        modifiers: Modifiers,
        _: RawModifiers,
        _: u32,
    ) {
        self.views.set_modifiers(modifiers);
    }
}

impl PointerHandler for App {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        for event in events {
            if let PointerEventKind::Enter { serial } = event.kind {
                self.wl.enter_serial = Some(serial);
                // A new enter needs its own set_shape.
                self.wl.cursor_hand = None;
                self.wl.set_cursor(false);
            }
            if let Some(view) = self.views.find_mut(&event.surface) {
                if view.input.pointer(event) {
                    view.dirty = true;
                }
            }
        }
    }
}

impl ShmHandler for App {
    fn shm_state(&mut self) -> &mut Shm {
        &mut self.wl.shm
    }
}

impl ProvidesRegistryState for App {
    fn registry(&mut self) -> &mut RegistryState {
        &mut self.wl.registry
    }
    registry_handlers![OutputState, SeatState];
}

impl Dispatch<WpFractionalScaleV1, ()> for App {
    fn event(
        app: &mut App,
        proxy: &WpFractionalScaleV1,
        event: wp_fractional_scale_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<App>,
    ) {
        if let wp_fractional_scale_v1::Event::PreferredScale { scale } = event {
            if let Some(view) = app.views.find_fractional_mut(proxy) {
                view.set_fractional_scale(scale);
            }
        }
    }
}

// These have no events.
wayland_client::delegate_noop!(App: ignore WpViewporter);
wayland_client::delegate_noop!(App: ignore WpViewport);
wayland_client::delegate_noop!(App: ignore WpFractionalScaleManagerV1);

delegate_compositor!(App);
delegate_output!(App);
delegate_shm!(App);
delegate_seat!(App);
delegate_keyboard!(App);
delegate_pointer!(App);
delegate_layer!(App);
delegate_registry!(App);
