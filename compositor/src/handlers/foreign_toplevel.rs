//! ext_foreign_toplevel_list_v1: a handle per mapped toplevel (title, app id, `closed` when it
//! goes away), for task bars and window switchers. Gated by `display.toplevels`.
//!
//! The title a handle carries is the one the trusted label shows (`[capsule] title` for capsule
//! windows, the sanitised title for host windows), so a list client cannot be fooled by a
//! title that imitates another capsule.

use smithay::{
    delegate_foreign_toplevel_list,
    desktop::Window,
    reexports::wayland_server::{backend::GlobalId, DisplayHandle, Resource},
    wayland::{
        compositor::with_states,
        foreign_toplevel_list::{ForeignToplevelListHandler, ForeignToplevelListState},
        shell::xdg::{ToplevelSurface, XdgToplevelSurfaceData},
    },
};

use crate::{
    capsules::gate::filter_for,
    state::{ClientState, State, WindowId},
};

impl ForeignToplevelListHandler for State {
    fn foreign_toplevel_list_state(&mut self) -> &mut ForeignToplevelListState {
        &mut self.nexq.foreign_toplevel_state
    }
}

delegate_foreign_toplevel_list!(State);

pub fn create(dh: &DisplayHandle) -> ForeignToplevelListState {
    ForeignToplevelListState::new_with_filter::<State>(dh, filter_for("ext_foreign_toplevel_list_v1"))
}

/// A live grant of `display.toplevels`: a new global whose binds are served by the one
/// `ForeignToplevelListState` (the handles live there), the old global removed. The state made
/// only to create the global is dropped; it holds no handles.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let global: GlobalId = create(&dh).global();
    let old = std::mem::replace(&mut state.nexq.foreign_toplevel_global, global);
    dh.remove_global::<State>(old);
}

/// The label title and the app id of a window.
fn title_and_app_id(window: &Window) -> (String, String) {
    let Some(toplevel) = window.toplevel() else {
        return Default::default();
    };
    let (title, app_id) = with_states(toplevel.wl_surface(), |states| {
        states
            .data_map
            .get::<XdgToplevelSurfaceData>()
            .and_then(|d| {
                d.lock().ok().map(|d| {
                    (
                        d.title.clone().unwrap_or_default(),
                        d.app_id.clone().unwrap_or_default(),
                    )
                })
            })
            .unwrap_or_default()
    });
    let capsule = toplevel.wl_surface().client().and_then(|c| {
        c.get_data::<ClientState>()
            .and_then(|d| d.identity.capsule.clone())
    });
    let title = match capsule {
        Some(name) => exo_shell::capsule::label_text(&name, &title),
        None => exo_shell::capsule::sanitize_title(&title),
    };
    (title, exo_shell::capsule::sanitize_title(&app_id))
}

impl State {
    /// A window was mapped: announce it to every list client.
    pub fn foreign_toplevel_opened(&mut self, id: WindowId) {
        let Some(window) = self.nexq.windows.get(&id) else {
            return;
        };
        let (title, app_id) = title_and_app_id(window);
        let handle = self
            .nexq
            .foreign_toplevel_state
            .new_toplevel::<State>(title, app_id);
        self.nexq.foreign_toplevels.insert(id, handle);
    }

    /// A toplevel changed its title or app id: update its handle (no-op when nothing changed).
    pub fn foreign_toplevel_changed(&mut self, surface: &ToplevelSurface) {
        let Some(id) = self.nexq.window_id_for_surface(surface.wl_surface()) else {
            return;
        };
        let (Some(window), Some(handle)) = (self.nexq.windows.get(&id), self.nexq.foreign_toplevels.get(&id))
        else {
            return;
        };
        let (title, app_id) = title_and_app_id(window);
        if handle.title() == title && handle.app_id() == app_id {
            return;
        }
        handle.send_title(&title);
        handle.send_app_id(&app_id);
        handle.send_done();
    }

    /// A window went away: its handles get `closed`.
    pub fn foreign_toplevel_closed(&mut self, id: WindowId) {
        if let Some(handle) = self.nexq.foreign_toplevels.remove(&id) {
            self.nexq.foreign_toplevel_state.remove_toplevel(&handle);
        }
    }
}
