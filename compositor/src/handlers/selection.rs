//! wl_data_device_manager and primary selection: clipboard and drag-and-drop between clients.
//! Who may see a selection is decided in `clipboard`.

use std::os::fd::OwnedFd;

use smithay::{
    input::Seat,
    reexports::{
        wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_device_manager_v1::ZwpPrimarySelectionDeviceManagerV1,
        wayland_server::{
            delegate_dispatch, delegate_global_dispatch,
            protocol::{
                wl_data_device_manager::WlDataDeviceManager, wl_data_source::WlDataSource,
                wl_surface::WlSurface,
            },
        },
    },
    wayland::selection::{
        data_device::{ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler},
        primary_selection::{PrimaryDeviceManagerGlobalData, PrimarySelectionHandler, PrimarySelectionState},
        SelectionHandler, SelectionSource, SelectionTarget,
    },
};

use crate::{clipboard::OwnSelection, state::State};

impl SelectionHandler for State {
    /// A selection the compositor offers itself: a trusted paste (see `clipboard`) or a
    /// clipboard manager's source (see `manager_selection`).
    type SelectionUserData = OwnSelection;

    fn new_selection(&mut self, ty: SelectionTarget, source: Option<SelectionSource>, _seat: Seat<Self>) {
        self.cancel_managed(ty);
        self.selection_set(ty, source.as_ref());
    }

    fn send_selection(
        &mut self,
        _ty: SelectionTarget,
        mime_type: String,
        fd: OwnedFd,
        _seat: Seat<Self>,
        user_data: &OwnSelection,
    ) {
        match user_data {
            OwnSelection::Bytes(bytes) => self.send_compositor_selection(fd, bytes),
            managed => self.send_managed_selection(managed, mime_type, fd),
        }
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

// As `delegate_data_device!` and `delegate_primary_selection!`, except for the devices and
// sources, which `manager_selection` dispatches (and passes on to Smithay).
delegate_global_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_dispatch!(State: [WlDataDeviceManager: ()] => DataDeviceState);
delegate_global_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: PrimaryDeviceManagerGlobalData] => PrimarySelectionState);
delegate_dispatch!(State: [ZwpPrimarySelectionDeviceManagerV1: ()] => PrimarySelectionState);
