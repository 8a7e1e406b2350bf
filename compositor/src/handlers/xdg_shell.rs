//! xdg_wm_base (toplevels and popups) and xdg-decoration: every toplevel gets a server-side
//! frame, popups are kept on screen, and client requests go through the layout policy.

use smithay::{
    delegate_xdg_decoration,
    desktop::{
        find_popup_root_surface, get_popup_toplevel_coords, PopupKeyboardGrab, PopupKind, PopupPointerGrab,
        PopupUngrabStrategy, Window,
    },
    input::{pointer::Focus, Seat},
    reexports::{
        wayland_protocols::xdg::{
            decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode as DecorationMode,
            shell::server::xdg_toplevel,
        },
        wayland_server::{
            protocol::{wl_output::WlOutput, wl_seat::WlSeat},
            Resource,
        },
    },
    utils::Serial,
    wayland::shell::xdg::{
        decoration::XdgDecorationHandler, PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler,
        XdgShellState,
    },
};

use crate::{
    focus::KeyboardFocusTarget,
    grabs::GrabKind,
    state::{ClientState, State},
};

impl XdgShellHandler for State {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.nexq.xdg_shell_state
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        // Smithay lets a client give the toplevel role again to a wl_surface whose toplevel is
        // still alive; tracking that second toplevel would show one surface as two windows.
        let wl_surface = surface.wl_surface();
        let duplicate = self
            .nexq
            .unmapped
            .iter()
            .chain(self.nexq.windows.values())
            .any(|w| w.toplevel().is_some_and(|t| t.wl_surface() == wl_surface));
        if duplicate {
            tracing::warn!("ignoring a second xdg_toplevel for a surface that already has one");
            return;
        }
        // Per-client window limit (DESIGN.md §4.8): one too many disconnects the client.
        if let Some(client) = Resource::client(wl_surface) {
            let max = self.nexq.config.limits.windows;
            let counted = client.get_data::<ClientState>().map(|d| d.limits.add_window(max));
            if let Some(Err(err)) = counted {
                tracing::warn!(%err, "disconnecting client");
                self.record_flood(&client, "windows", u64::from(max) + 1, u64::from(max));
                super::compositor::post_no_memory(&self.nexq.display_handle, &client, &err.to_string());
                return;
            }
        }
        // Mapped (placed, focused) on its first buffer commit, see handlers/compositor.rs.
        let window = Window::new_wayland_window(surface);
        crate::labels::attach_decor(&window);
        self.nexq.unmapped.push(window);
    }

    fn new_popup(&mut self, surface: PopupSurface, _positioner: PositionerState) {
        self.unconstrain_popup(&surface);
        if let Err(err) = self.nexq.popups.track_popup(PopupKind::from(surface)) {
            tracing::warn!(%err, "cannot track popup");
        }
    }

    fn reposition_request(&mut self, surface: PopupSurface, positioner: PositionerState, token: u32) {
        surface.with_pending_state(|state| {
            state.geometry = positioner.get_geometry();
            state.positioner = positioner;
        });
        self.unconstrain_popup(&surface);
        surface.send_repositioned(token);
    }

    fn grab(&mut self, surface: PopupSurface, seat: WlSeat, serial: Serial) {
        if self.is_locked() {
            // Input belongs to the lock surface while the session is locked.
            surface.send_popup_done();
            return;
        }
        let Some(seat) = Seat::<State>::from_resource(&seat) else {
            return;
        };
        let kind = PopupKind::Xdg(surface);
        let Ok(root) = find_popup_root_surface(&kind) else {
            return;
        };
        let root = KeyboardFocusTarget(root);
        let mut grab = match self.nexq.popups.grab_popup(root, kind, &seat, serial) {
            Ok(grab) => grab,
            Err(err) => {
                tracing::debug!(?err, "popup grab refused");
                return;
            }
        };
        if let Some(keyboard) = seat.get_keyboard() {
            if keyboard.is_grabbed()
                && !(keyboard.has_grab(serial) || keyboard.has_grab(grab.previous_serial().unwrap_or(serial)))
            {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            keyboard.set_focus(self, grab.current_grab(), serial);
            keyboard.set_grab(self, PopupKeyboardGrab::new(&grab), serial);
        }
        if let Some(pointer) = seat.get_pointer() {
            if pointer.is_grabbed()
                && !(pointer.has_grab(serial)
                    || pointer.has_grab(grab.previous_serial().unwrap_or_else(|| grab.serial())))
            {
                grab.ungrab(PopupUngrabStrategy::All);
                return;
            }
            pointer.set_grab(self, PopupPointerGrab::new(&grab), serial, Focus::Keep);
        }
    }

    fn move_request(&mut self, surface: ToplevelSurface, seat: WlSeat, serial: Serial) {
        self.client_grab_request(&surface, &seat, serial, GrabKind::Move);
    }

    fn resize_request(
        &mut self,
        surface: ToplevelSurface,
        seat: WlSeat,
        serial: Serial,
        edges: xdg_toplevel::ResizeEdge,
    ) {
        self.client_grab_request(
            &surface,
            &seat,
            serial,
            GrabKind::Resize(crate::grabs::edges_from_xdg(edges)),
        );
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) {
            self.nexq.layout.set_maximized(&id, true);
            self.nexq.sync_space();
            self.queue_redraw();
        } else {
            self.set_unmapped_state(&surface, xdg_toplevel::State::Maximized, true);
        }
        // The protocol wants a configure in reply even when nothing changed.
        if surface.is_initial_configure_sent() {
            surface.send_configure();
        }
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) {
            self.nexq.layout.set_maximized(&id, false);
            self.nexq.sync_space();
            self.queue_redraw();
        } else {
            self.set_unmapped_state(&surface, xdg_toplevel::State::Maximized, false);
        }
        if surface.is_initial_configure_sent() {
            surface.send_configure();
        }
    }

    fn fullscreen_request(&mut self, surface: ToplevelSurface, _output: Option<WlOutput>) {
        if let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) {
            self.nexq.layout.set_fullscreen(&id, true);
            self.nexq.sync_space();
            self.queue_redraw();
        } else {
            self.set_unmapped_state(&surface, xdg_toplevel::State::Fullscreen, true);
        }
        if surface.is_initial_configure_sent() {
            surface.send_configure();
        }
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) {
            self.nexq.layout.set_fullscreen(&id, false);
            self.nexq.sync_space();
            self.queue_redraw();
        } else {
            self.set_unmapped_state(&surface, xdg_toplevel::State::Fullscreen, false);
        }
        if surface.is_initial_configure_sent() {
            surface.send_configure();
        }
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) {
            self.nexq.layout.minimize(&id);
            self.apply_focus();
        }
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        // Compare the xdg_toplevel objects: ToplevelSurface equality only compares wl_surfaces,
        // and an ignored duplicate toplevel (see new_toplevel) must not take the window along.
        let same = |w: &Window| {
            w.toplevel()
                .is_some_and(|t| t.xdg_toplevel() == surface.xdg_toplevel())
        };
        let tracked = self
            .nexq
            .unmapped
            .iter()
            .chain(self.nexq.windows.values())
            .any(same);
        if tracked {
            if let Some(data) = Resource::client(surface.wl_surface())
                .as_ref()
                .and_then(|c| c.get_data::<ClientState>())
            {
                data.limits.remove_window();
            }
        }
        self.nexq.unmapped.retain(|w| !same(w));
        let id = self.nexq.windows.iter().find(|(_, w)| same(w)).map(|(id, _)| *id);
        if let Some(id) = id {
            self.remove_window(id);
        }
    }

    fn client_pong(&mut self, client: smithay::wayland::shell::xdg::ShellClient) {
        self.sentry_pong(&client);
    }

    fn popup_destroyed(&mut self, _surface: PopupSurface) {
        // Leave the popup now, while its wl_surface still exists to be left.
        self.nexq.popups.cleanup();
        self.refresh_pointer_focus();
        self.queue_redraw();
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        warn_hidden_title(&surface);
        self.nexq.labels_epoch += 1;
        self.foreign_toplevel_changed(&surface);
        self.queue_redraw();
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        self.foreign_toplevel_changed(&surface);
    }
}

impl State {
    /// Keep a popup inside the output: the positioner's constraint adjustment decides how.
    pub fn unconstrain_popup(&self, popup: &PopupSurface) {
        let Ok(root) = find_popup_root_surface(&PopupKind::Xdg(popup.clone())) else {
            return;
        };
        // The parent's origin in global coordinates: a toplevel's content or a layer surface.
        let parent_origin = if let Some(id) = self.nexq.window_id_for_surface(&root) {
            let Some(content) = self.nexq.content_of(id) else {
                return;
            };
            let geo_loc = self
                .nexq
                .windows
                .get(&id)
                .map(|w| w.geometry().loc)
                .unwrap_or_default();
            smithay::utils::Point::from((content.x, content.y)) - geo_loc
        } else {
            let layers = &self.nexq.layers;
            let Some(origin) = layers.find(&root).and_then(|layer| layers.origin(layer)) else {
                return;
            };
            origin
        };
        // Kept on the output the parent's origin is on.
        let output = self.nexq.outputs.at_or_primary(parent_origin.to_f64());
        let mut target = crate::outputs::logical_rect(output);
        target.loc -= parent_origin;
        target.loc -= get_popup_toplevel_coords(&PopupKind::Xdg(popup.clone()));
        popup.with_pending_state(|state| {
            state.geometry = state.positioner.get_unconstrained_geometry(target);
        });
    }
}

/// Record (once per toplevel) a title with characters the label strips: bidi controls,
/// zero-width and other invisible characters are how a client tries to forge a label.
fn warn_hidden_title(surface: &ToplevelSurface) {
    use exo_shell::capsule::sanitize_title;
    use smithay::{
        reexports::wayland_server::Resource,
        wayland::{compositor::with_states, shell::xdg::XdgToplevelSurfaceData},
    };
    struct HiddenTitleWarned;
    let stripped = |c: char| !c.is_whitespace() && sanitize_title(c.encode_utf8(&mut [0; 4])).is_empty();
    let (title, first) = with_states(surface.wl_surface(), |states| {
        let title = states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|d| d.lock().ok().and_then(|d| d.title.clone()))
            .unwrap_or_default();
        let hidden = title.chars().take(4096).any(stripped);
        let first = hidden && states.data_map.insert_if_missing_threadsafe(|| HiddenTitleWarned);
        (title, first)
    });
    if first {
        let client = surface.wl_surface().client();
        let data = client.as_ref().and_then(|c| c.get_data::<ClientState>());
        tracing::warn!(
            capsule = %data.and_then(|d| d.identity.capsule.as_deref()).unwrap_or("(host)"),
            sanitised = %sanitize_title(&title),
            "refused hidden characters in a window title (stripped from the label)"
        );
    }
}

impl XdgDecorationHandler for State {
    fn new_decoration(&mut self, toplevel: ToplevelSurface) {
        toplevel.with_pending_state(|state| state.decoration_mode = Some(DecorationMode::ServerSide));
    }

    fn request_mode(&mut self, toplevel: ToplevelSurface, _mode: DecorationMode) {
        // Exosphere always draws the frame: the compositor's label must not be removable.
        toplevel.with_pending_state(|state| state.decoration_mode = Some(DecorationMode::ServerSide));
        // The protocol wants an xdg_surface.configure in reply even when the mode is unchanged.
        if toplevel.is_initial_configure_sent() {
            toplevel.send_configure();
        }
    }

    fn unset_mode(&mut self, toplevel: ToplevelSurface) {
        toplevel.with_pending_state(|state| state.decoration_mode = Some(DecorationMode::ServerSide));
        // The protocol wants an xdg_surface.configure in reply even when the mode is unchanged.
        if toplevel.is_initial_configure_sent() {
            toplevel.send_configure();
        }
    }
}

// xdg_wm_base is delegated in `protocol_fixes`.
delegate_xdg_decoration!(State);
