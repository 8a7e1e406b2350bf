//! wl_data_device_manager and primary selection: clipboard and drag-and-drop between clients.
//! Who may see a selection is decided in `clipboard`.

use std::{os::fd::OwnedFd, sync::Arc};

use smithay::{
    delegate_data_device, delegate_primary_selection,
    input::Seat,
    reexports::wayland_server::protocol::{wl_data_source::WlDataSource, wl_surface::WlSurface},
    wayland::selection::{
        data_device::{ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler},
        primary_selection::{PrimarySelectionHandler, PrimarySelectionState},
        SelectionHandler, SelectionSource, SelectionTarget,
    },
};

use crate::state::State;

impl SelectionHandler for State {
    /// The bytes of a selection the compositor offers (a trusted paste, see `clipboard`).
    type SelectionUserData = Arc<[u8]>;

    fn new_selection(&mut self, ty: SelectionTarget, source: Option<SelectionSource>, _seat: Seat<Self>) {
        self.selection_set(ty, source.as_ref());
    }

    fn send_selection(
        &mut self,
        _ty: SelectionTarget,
        _mime_type: String,
        fd: OwnedFd,
        _seat: Seat<Self>,
        user_data: &Arc<[u8]>,
    ) {
        self.send_compositor_selection(fd, user_data);
    }
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
