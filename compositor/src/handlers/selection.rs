//! wl_data_device_manager and primary selection: clipboard and drag-and-drop between clients.

use smithay::{
    delegate_data_device, delegate_primary_selection,
    input::Seat,
    reexports::wayland_server::protocol::{wl_data_source::WlDataSource, wl_surface::WlSurface},
    wayland::selection::{
        data_device::{ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler},
        primary_selection::{PrimarySelectionHandler, PrimarySelectionState},
        SelectionHandler,
    },
};

use crate::state::State;

impl SelectionHandler for State {
    type SelectionUserData = ();
}

impl DataDeviceHandler for State {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.nexq.data_device_state
    }
}

impl ClientDndGrabHandler for State {
    fn started(&mut self, _source: Option<WlDataSource>, _icon: Option<WlSurface>, _seat: Seat<Self>) {}
    fn dropped(&mut self, _target: Option<WlSurface>, _validated: bool, _seat: Seat<Self>) {}
}

// The compositor never starts drags itself, so the server-side hooks keep their defaults.
impl ServerDndGrabHandler for State {}

impl PrimarySelectionHandler for State {
    fn primary_selection_state(&self) -> &PrimarySelectionState {
        &self.nexq.primary_selection_state
    }
}

delegate_data_device!(State);
delegate_primary_selection!(State);
