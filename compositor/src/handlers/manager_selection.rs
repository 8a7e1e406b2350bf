//! Selections that a clipboard manager sets through wl_data_device or the primary selection
//! without keyboard focus.
//!
//! Smithay 0.7 drops `set_selection` from a client that has no keyboard focus. That is the rule
//! for ordinary clients and stays so: a capsule cannot take over the clipboard from the
//! background. A client holding `clipboard.manage` may set the selection at any time through
//! data-control anyway, so the same request through the core protocols is accepted from it too
//! (as the protocols themselves allow). Smithay's per-seat selection cannot be handed such a
//! source, so the compositor offers it as a selection of its own ([`OwnSelection::Clipboard`]
//! or [`OwnSelection::Primary`]) and passes every read on to the client's source; the source is
//! sent `cancelled` when another selection replaces it, and the selection is cleared when the
//! source is destroyed.

use std::{collections::HashMap, os::fd::AsFd};

use exo_shell::Capability;
use smithay::{
    reexports::{
        wayland_protocols::wp::primary_selection::zv1::server::{
            zwp_primary_selection_device_v1::{self, ZwpPrimarySelectionDeviceV1 as PrimaryDevice},
            zwp_primary_selection_source_v1::{self, ZwpPrimarySelectionSourceV1 as PrimarySource},
        },
        wayland_server::{
            backend::{ClientId, ObjectId},
            protocol::{
                wl_data_device::{self, WlDataDevice},
                wl_data_source::{self, WlDataSource},
            },
            Client, DataInit, Dispatch, DisplayHandle, Resource,
        },
    },
    utils::IsAlive,
    wayland::selection::{
        data_device::{
            clear_data_device_selection, set_data_device_selection, with_source_metadata, DataDeviceState,
            DataDeviceUserData, DataSourceUserData,
        },
        primary_selection::{
            clear_primary_selection, set_primary_selection, PrimaryDeviceUserData, PrimarySelectionState,
            PrimarySourceUserData,
        },
        SelectionTarget,
    },
};

use crate::{
    clipboard::{OwnSelection, Owner},
    state::{ClientState, State},
};

/// The sources of clipboard managers that the compositor offers as its own selections.
#[derive(Debug, Default)]
pub struct ManagerSelections {
    clipboard: Option<WlDataSource>,
    primary: Option<PrimarySource>,
    /// The mime types offered on each primary-selection source of a clipboard manager (Smithay
    /// keeps them private), until the source is destroyed.
    primary_mimes: HashMap<ObjectId, Vec<String>>,
}

/// Whether `client` holds `clipboard.manage`.
fn manages(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|data| data.caps().contains(Capability::ClipboardManage))
}

impl State {
    /// Whether the client that owns `object` has keyboard focus.
    fn has_keyboard_focus(&self, object: &ObjectId) -> bool {
        self.nexq
            .seat
            .get_keyboard()
            .is_some_and(|k| k.client_of_object_has_focus(object))
    }

    /// A clipboard manager set the clipboard (`Some`) or cleared it (`None`) without focus.
    fn set_managed_clipboard(&mut self, source: Option<WlDataSource>) {
        self.cancel_managed(SelectionTarget::Clipboard);
        let dh = self.nexq.display_handle.clone();
        let clipboard = &mut self.nexq.clipboard;
        match source {
            Some(source) => {
                let mimes = with_source_metadata(&source, |m| m.mime_types.clone()).unwrap_or_default();
                clipboard.set_owner(SelectionTarget::Clipboard, Some(Owner::Manager), mimes.clone());
                clipboard.managed.clipboard = Some(source.clone());
                set_data_device_selection(&dh, &self.nexq.seat, mimes, OwnSelection::Clipboard(source));
            }
            None => {
                clipboard.set_owner(SelectionTarget::Clipboard, None, Vec::new());
                clear_data_device_selection(&dh, &self.nexq.seat);
            }
        }
        self.update_selection_focus();
    }

    /// A clipboard manager set the primary selection (`Some`) or cleared it (`None`) without
    /// focus.
    fn set_managed_primary(&mut self, source: Option<PrimarySource>) {
        self.cancel_managed(SelectionTarget::Primary);
        let dh = self.nexq.display_handle.clone();
        let clipboard = &mut self.nexq.clipboard;
        match source {
            Some(source) => {
                let mimes = clipboard
                    .managed
                    .primary_mimes
                    .get(&source.id())
                    .cloned()
                    .unwrap_or_default();
                clipboard.set_owner(SelectionTarget::Primary, Some(Owner::Manager), mimes.clone());
                clipboard.managed.primary = Some(source.clone());
                set_primary_selection(&dh, &self.nexq.seat, mimes, OwnSelection::Primary(source));
            }
            None => {
                clipboard.set_owner(SelectionTarget::Primary, None, Vec::new());
                clear_primary_selection(&dh, &self.nexq.seat);
            }
        }
        self.update_selection_focus();
    }

    /// Another selection replaces a clipboard manager's source: tell the source it is no longer
    /// the selection. Called before any new selection of `target` is installed.
    pub fn cancel_managed(&mut self, target: SelectionTarget) {
        let managed = &mut self.nexq.clipboard.managed;
        match target {
            SelectionTarget::Clipboard => {
                if let Some(source) = managed.clipboard.take().filter(|s| s.alive()) {
                    source.cancelled();
                }
            }
            SelectionTarget::Primary => {
                if let Some(source) = managed.primary.take().filter(|s| s.alive()) {
                    source.cancelled();
                }
            }
        }
    }

    /// A reader asks for a clipboard manager's selection: its source writes into `fd`.
    pub fn send_managed_selection(&self, selection: &OwnSelection, mime_type: String, fd: impl AsFd) {
        match selection {
            OwnSelection::Clipboard(source) if source.alive() => source.send(mime_type, fd.as_fd()),
            OwnSelection::Primary(source) if source.alive() => source.send(mime_type, fd.as_fd()),
            // A destroyed source has cleared its selection already; the reader sees end of file.
            _ => {}
        }
    }
}

impl Dispatch<WlDataDevice, DataDeviceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &WlDataDevice,
        request: wl_data_device::Request,
        data: &DataDeviceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let wl_data_device::Request::SetSelection { source, .. } = &request {
            if !state.has_keyboard_focus(&resource.id()) && manages(client) {
                state.set_managed_clipboard(source.clone());
                return;
            }
        }
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(state: &mut State, client: ClientId, resource: &WlDataDevice, data: &DataDeviceUserData) {
        <DataDeviceState as Dispatch<WlDataDevice, DataDeviceUserData, State>>::destroyed(
            state, client, resource, data,
        )
    }
}

impl Dispatch<WlDataSource, DataSourceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &WlDataSource,
        request: wl_data_source::Request,
        data: &DataSourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(state: &mut State, client: ClientId, resource: &WlDataSource, data: &DataSourceUserData) {
        <DataDeviceState as Dispatch<WlDataSource, DataSourceUserData, State>>::destroyed(
            state, client, resource, data,
        );
        if state.nexq.clipboard.managed.clipboard.as_ref() == Some(resource) {
            state.set_managed_clipboard(None);
        }
    }
}

impl Dispatch<PrimaryDevice, PrimaryDeviceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &PrimaryDevice,
        request: zwp_primary_selection_device_v1::Request,
        data: &PrimaryDeviceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let zwp_primary_selection_device_v1::Request::SetSelection { source, .. } = &request {
            if !state.has_keyboard_focus(&resource.id()) && manages(client) {
                state.set_managed_primary(source.clone());
                return;
            }
        }
        <PrimarySelectionState as Dispatch<PrimaryDevice, PrimaryDeviceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &PrimaryDevice,
        data: &PrimaryDeviceUserData,
    ) {
        <PrimarySelectionState as Dispatch<PrimaryDevice, PrimaryDeviceUserData, State>>::destroyed(
            state, client, resource, data,
        )
    }
}

impl Dispatch<PrimarySource, PrimarySourceUserData> for State {
    fn request(
        state: &mut State,
        client: &Client,
        resource: &PrimarySource,
        request: zwp_primary_selection_source_v1::Request,
        data: &PrimarySourceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        if let zwp_primary_selection_source_v1::Request::Offer { mime_type } = &request {
            if manages(client) {
                let mimes = state.nexq.clipboard.managed.primary_mimes.entry(resource.id());
                mimes.or_default().push(mime_type.clone());
            }
        }
        <PrimarySelectionState as Dispatch<PrimarySource, PrimarySourceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        )
    }

    fn destroyed(
        state: &mut State,
        client: ClientId,
        resource: &PrimarySource,
        data: &PrimarySourceUserData,
    ) {
        <PrimarySelectionState as Dispatch<PrimarySource, PrimarySourceUserData, State>>::destroyed(
            state, client, resource, data,
        );
        state.nexq.clipboard.managed.primary_mimes.remove(&resource.id());
        if state.nexq.clipboard.managed.primary.as_ref() == Some(resource) {
            state.set_managed_primary(None);
        }
    }
}
