//! The compositor's state and the protocol handlers: surfaces, shm buffers, xdg toplevels
//! (mapped in a cascade when their first buffer arrives) and the output global.

use anyhow::Result;
use smithay::{
    backend::renderer::utils::on_commit_buffer_handler,
    delegate_compositor, delegate_output, delegate_shm, delegate_xdg_shell,
    desktop::{Space, Window},
    input::{SeatHandler, SeatState},
    output::{Mode, Output, PhysicalProperties, Subpixel},
    reexports::{
        calloop::LoopHandle,
        wayland_server::{
            backend::{ClientData, ClientId, DisconnectReason},
            protocol::{wl_buffer::WlBuffer, wl_seat::WlSeat, wl_surface::WlSurface},
            Client, DisplayHandle,
        },
    },
    utils::{Serial, Transform},
    wayland::{
        buffer::BufferHandler,
        compositor::{with_states, CompositorClientState, CompositorHandler, CompositorState},
        output::{OutputHandler, OutputManagerState},
        shell::xdg::{
            PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
            XdgToplevelSurfaceData,
        },
        shm::{ShmHandler, ShmState},
    },
};

use crate::frame::{Canvas, Redraw};

pub struct Floor {
    pub display: DisplayHandle,
    pub loop_handle: LoopHandle<'static, Floor>,
    pub space: Space<Window>,
    pub output: Output,
    pub canvas: Canvas,
    pub redraw: Redraw,
    compositor: CompositorState,
    xdg_shell: XdgShellState,
    shm: ShmState,
    /// xdg-shell asks for seat handling (grabs); no seat is offered.
    seats: SeatState<Floor>,
    _outputs: OutputManagerState,
    /// Toplevels mapped so far: where the next one goes in the cascade.
    mapped: i32,
}

impl Floor {
    pub fn new(
        display: &DisplayHandle,
        loop_handle: LoopHandle<'static, Floor>,
        (width, height): (i32, i32),
        frames: bool,
    ) -> Result<Self> {
        let output = Output::new(
            "FLOOR-1".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Exosphere".into(),
                model: "smithay-floor".into(),
            },
        );
        let mode = Mode {
            size: (width, height).into(),
            refresh: 60_000,
        };
        output.change_current_state(Some(mode), Some(Transform::Normal), None, Some((0, 0).into()));
        output.set_preferred(mode);
        output.create_global::<Floor>(display);
        let mut space = Space::default();
        space.map_output(&output, (0, 0));
        Ok(Self {
            display: display.clone(),
            loop_handle,
            space,
            canvas: Canvas::new(&output, frames)?,
            output,
            redraw: Redraw::default(),
            compositor: CompositorState::new::<Floor>(display),
            xdg_shell: XdgShellState::new::<Floor>(display),
            shm: ShmState::new::<Floor>(display, []),
            seats: SeatState::new(),
            _outputs: OutputManagerState::new_with_xdg_output::<Floor>(display),
            mapped: 0,
        })
    }

    /// The window whose toplevel surface is `surface`.
    fn window_for(&self, surface: &WlSurface) -> Option<Window> {
        self.space
            .elements()
            .find(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
            .cloned()
    }
}

#[derive(Default)]
pub struct ClientState {
    compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _: ClientId) {}
    fn disconnected(&self, _: ClientId, _: DisconnectReason) {}
}

impl CompositorHandler for Floor {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client
            .get_data::<ClientState>()
            .expect("every client is inserted with a ClientState")
            .compositor
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);
        if let Some(window) = self.window_for(surface) {
            window.on_commit();
            let initial_sent = with_states(surface, |states| {
                states
                    .data_map
                    .get::<XdgToplevelSurfaceData>()
                    .is_some_and(|d| d.lock().is_ok_and(|d| d.initial_configure_sent))
            });
            if !initial_sent {
                if let Some(toplevel) = window.toplevel() {
                    toplevel.send_configure();
                }
            }
        }
        self.queue_redraw();
    }
}

impl BufferHandler for Floor {
    fn buffer_destroyed(&mut self, _: &WlBuffer) {}
}

impl ShmHandler for Floor {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}

impl XdgShellHandler for Floor {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg_shell
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        // A cascade, 32 pixels a step, as Nexquelium places new windows by default (room left
        // above and to the left for `--frames`' title bar and border).
        let step = 32 * (self.mapped % 16);
        self.mapped += 1;
        self.space
            .map_element(Window::new_wayland_window(surface), (64 + step, 64 + step), false);
    }

    fn new_popup(&mut self, _: PopupSurface, _: PositionerState) {}

    fn grab(&mut self, _: PopupSurface, _: WlSeat, _: Serial) {}

    fn reposition_request(&mut self, _: PopupSurface, _: PositionerState, _: u32) {}

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        if let Some(window) = self.window_for(surface.wl_surface()) {
            self.space.unmap_elem(&window);
            self.queue_redraw();
        }
    }
}

impl SeatHandler for Floor {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Floor> {
        &mut self.seats
    }
}

impl OutputHandler for Floor {}

delegate_compositor!(Floor);
delegate_shm!(Floor);
delegate_xdg_shell!(Floor);
delegate_output!(Floor);
