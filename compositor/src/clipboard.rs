//! The clipboard between capsules (DESIGN.md §4.7).
//!
//! Smithay keeps one clipboard selection and one primary selection per seat and offers them to
//! the client with keyboard focus. On top of that, every selection has an **owner**: the capsule
//! whose focused client set it, or "host" for the host clients (one owner together). A focused
//! client is offered a selection only when it has the same owner, when it holds
//! `clipboard.manage`, or when a clipboard manager (data-control, also `clipboard.manage`) set
//! the selection. Otherwise its data device gets no offer at all while it is focused, so no
//! capsule can read another capsule's clipboard by being clicked on.
//!
//! Moving data across takes the trusted gesture, as in Qubes OS:
//!
//! - **copy** (`clipboard-copy`, Super+Shift+C): the compositor reads the focused client's
//!   current clipboard (a text type) through a pipe, event-driven and capped at
//!   `[limits] clipboard_kib`, into a buffer only it holds;
//! - **paste** (`clipboard-paste`, Super+Shift+V): that buffer becomes the clipboard of the
//!   client focused now, offered by the compositor itself, and the buffer is gone: one copy,
//!   one paste. The pasted selection belongs to the capsule it was pasted into.

use std::{
    os::fd::{AsFd, OwnedFd},
    sync::Arc,
    time::Duration,
};

use exo_shell::Capability;
use smithay::{
    reexports::{
        calloop::{
            generic::Generic,
            timer::{TimeoutAction, Timer},
            Interest, Mode, PostAction, RegistrationToken,
        },
        wayland_protocols::wp::primary_selection::zv1::server::zwp_primary_selection_source_v1::ZwpPrimarySelectionSourceV1,
        wayland_server::{protocol::wl_data_source::WlDataSource, Client, Resource},
    },
    wayland::selection::{
        data_device::{
            current_data_device_selection_userdata, request_data_device_client_selection,
            set_data_device_focus, set_data_device_selection,
        },
        primary_selection::set_primary_focus,
        SelectionSource, SelectionTarget,
    },
};

use crate::{
    handlers::manager_selection::ManagerSelections,
    state::{ClientIdentity, ClientState, State},
};

/// The text types the gesture copies from (in order of preference) and offers on paste.
pub const TEXT_MIME_TYPES: [&str; 5] = [
    "text/plain;charset=utf-8",
    "UTF8_STRING",
    "text/plain",
    "STRING",
    "TEXT",
];

/// How long a copy may take before it is given up.
const COPY_TIMEOUT: Duration = Duration::from_secs(5);

/// Who a selection belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The host clients, all together.
    Host,
    Capsule(String),
    /// A clipboard manager (data-control): what it sets is for whoever is focused.
    Manager,
}

impl Owner {
    pub fn of(identity: &ClientIdentity) -> Owner {
        match &identity.capsule {
            Some(name) => Owner::Capsule(name.clone()),
            None => Owner::Host,
        }
    }
}

/// Whether a selection owned by `selection` may be offered to a focused client that is `client`
/// and (`manages`) holds `clipboard.manage`.
pub fn may_offer(selection: Option<&Owner>, client: &Owner, manages: bool) -> bool {
    match selection {
        _ if manages => true,
        None | Some(Owner::Manager) => true,
        Some(owner) => owner == client,
    }
}

/// A selection the compositor offers as its own (Smithay's "compositor selection").
#[derive(Debug, Clone)]
pub enum OwnSelection {
    /// What the paste gesture put there.
    Bytes(Arc<[u8]>),
    /// A clipboard manager's source, set without keyboard focus (`handlers::manager_selection`).
    Clipboard(WlDataSource),
    /// The same for the primary selection.
    Primary(ZwpPrimarySelectionSourceV1),
}

/// Bytes taken by the copy gesture, waiting for a paste.
#[derive(Debug, Clone)]
pub struct Held {
    pub bytes: Arc<[u8]>,
    pub from: Owner,
}

/// The compositor's clipboard state.
#[derive(Debug, Default)]
pub struct Clipboard {
    clipboard_owner: Option<Owner>,
    primary_owner: Option<Owner>,
    /// The mime types of the current clipboard selection.
    clipboard_mimes: Vec<String>,
    /// What the copy gesture took, until a paste uses it.
    pub held: Option<Held>,
    /// A copy in progress: its pipe and its timeout.
    copying: Option<(RegistrationToken, RegistrationToken)>,
    /// Clipboard managers' sources offered as the compositor's own selections.
    pub managed: ManagerSelections,
}

impl Clipboard {
    /// The owner of the current clipboard selection.
    pub fn clipboard_owner(&self) -> Option<&Owner> {
        self.clipboard_owner.as_ref()
    }

    /// Record who owns the selection of `target` now (and, for the clipboard, its types).
    pub fn set_owner(&mut self, target: SelectionTarget, owner: Option<Owner>, mimes: Vec<String>) {
        match target {
            SelectionTarget::Clipboard => {
                self.clipboard_owner = owner;
                self.clipboard_mimes = mimes;
            }
            SelectionTarget::Primary => self.primary_owner = owner,
        }
    }
}

/// The owner and whether it manages the clipboard, for a client.
fn client_owner(client: &Client) -> (Owner, bool) {
    match client.get_data::<ClientState>() {
        Some(data) => (
            Owner::of(&data.identity),
            data.caps().contains(Capability::ClipboardManage),
        ),
        None => (Owner::Host, false),
    }
}

/// Data-control sources belong to clipboard managers. Smithay keeps the source kind private;
/// its `Debug` names it.
fn is_data_control(source: &SelectionSource) -> bool {
    format!("{source:?}").contains("DataControl")
}

impl State {
    /// The client with keyboard focus.
    fn focused_client(&self) -> Option<Client> {
        let focus = self.nexq.seat.get_keyboard()?.current_focus()?;
        self.nexq.display_handle.get_client(focus.0.id()).ok()
    }

    /// Point the clipboard and primary selection at the focused client, or at nobody when its
    /// owner may not see them.
    pub fn update_selection_focus(&mut self) {
        let client = self.focused_client();
        self.selection_focus_to(client);
    }

    /// [`Self::update_selection_focus`] for a given focused client. Smithay calls
    /// `focus_changed` with the keyboard locked, so there the focus cannot be asked for.
    pub fn selection_focus_to(&mut self, client: Option<Client>) {
        let dh = self.nexq.display_handle.clone();
        let allowed = |owner: Option<&Owner>| {
            client.clone().filter(|c| {
                let (who, manages) = client_owner(c);
                may_offer(owner, &who, manages)
            })
        };
        let clipboard = allowed(self.nexq.clipboard.clipboard_owner.as_ref());
        let primary = allowed(self.nexq.clipboard.primary_owner.as_ref());
        set_data_device_focus(&dh, &self.nexq.seat, clipboard);
        set_primary_focus(&dh, &self.nexq.seat, primary);
    }

    /// A client (the focused one, or a clipboard manager) set a selection: remember its owner,
    /// then re-check who is offered it once Smithay has installed it.
    pub fn selection_set(&mut self, ty: SelectionTarget, source: Option<&SelectionSource>) {
        let owner = match source {
            None => None,
            Some(s) if is_data_control(s) => Some(Owner::Manager),
            Some(_) => Some(
                self.focused_client()
                    .map(|c| client_owner(&c).0)
                    .unwrap_or(Owner::Host),
            ),
        };
        let mimes = source.map(|s| s.mime_types()).unwrap_or_default();
        self.nexq.clipboard.set_owner(ty, owner, mimes);
        // Not now: Smithay offers the *old* selection to a newly focused client, and it is
        // replaced only after this handler returns.
        self.nexq
            .loop_handle
            .insert_idle(|state| state.update_selection_focus());
    }

    /// The copy gesture: read the focused client's clipboard (a text type) into the compositor.
    pub fn clipboard_copy(&mut self) {
        let Some(client) = self.focused_client() else {
            tracing::info!("clipboard copy: nothing is focused");
            return;
        };
        let (owner, manages) = client_owner(&client);
        if !may_offer(self.nexq.clipboard.clipboard_owner.as_ref(), &owner, manages) {
            tracing::info!(
                ?owner,
                "clipboard copy: the focused client has no clipboard of its own"
            );
            return;
        }
        // A selection the compositor itself offers (an earlier paste) is copied directly.
        let own = current_data_device_selection_userdata(&self.nexq.seat).map(|own| own.clone());
        if let Some(OwnSelection::Bytes(bytes)) = own {
            self.nexq.clipboard.held = Some(Held { bytes, from: owner });
            return;
        }
        let mimes = &self.nexq.clipboard.clipboard_mimes;
        let Some(mime) = TEXT_MIME_TYPES.iter().find(|m| mimes.iter().any(|x| x == *m)) else {
            tracing::info!(?mimes, "clipboard copy: no text in the clipboard");
            return;
        };
        let (reader, writer) = match std::io::pipe() {
            Ok(pipe) => pipe,
            Err(err) => {
                tracing::warn!(%err, "clipboard copy: cannot make a pipe");
                return;
            }
        };
        let reader = OwnedFd::from(reader);
        if let Err(err) = rustix::io::ioctl_fionbio(&reader, true) {
            tracing::warn!(%err, "clipboard copy: cannot make the pipe non-blocking");
            return;
        }
        let writer = OwnedFd::from(writer);
        match &own {
            // A clipboard manager's source, offered by the compositor: ask the source directly.
            Some(managed) => self.send_managed_selection(managed, mime.to_string(), writer),
            None => {
                if let Err(err) =
                    request_data_device_client_selection(&self.nexq.seat, mime.to_string(), writer)
                {
                    tracing::info!(%err, "clipboard copy: cannot read the clipboard");
                    return;
                }
            }
        }
        self.cancel_copy();
        let cap = self.nexq.config.limits.clipboard_bytes();
        let mut bytes = Vec::new();
        let read = self.nexq.loop_handle.insert_source(
            Generic::new(reader, Interest::READ, Mode::Level),
            move |_, fd, state| {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match rustix::io::read(fd.as_fd(), &mut buf) {
                        Ok(0) => {
                            tracing::info!(len = bytes.len(), "clipboard copied");
                            state.nexq.clipboard.held = Some(Held {
                                bytes: std::mem::take(&mut bytes).into(),
                                from: owner.clone(),
                            });
                            state.finish_copy();
                            return Ok(PostAction::Remove);
                        }
                        Ok(n) if bytes.len() + n > cap => {
                            tracing::warn!(cap, "clipboard copy: the selection is over the size limit");
                            state.finish_copy();
                            return Ok(PostAction::Remove);
                        }
                        Ok(n) => bytes.extend_from_slice(&buf[..n]),
                        Err(rustix::io::Errno::AGAIN) => return Ok(PostAction::Continue),
                        Err(rustix::io::Errno::INTR) => {}
                        Err(err) => {
                            tracing::warn!(%err, "clipboard copy failed");
                            state.finish_copy();
                            return Ok(PostAction::Remove);
                        }
                    }
                }
            },
        );
        let Ok(read) = read else {
            tracing::warn!("clipboard copy: cannot watch the pipe");
            return;
        };
        let timeout =
            self.nexq
                .loop_handle
                .insert_source(Timer::from_duration(COPY_TIMEOUT), |_, _, state| {
                    tracing::warn!("clipboard copy: the source did not answer in time");
                    state.cancel_copy();
                    TimeoutAction::Drop
                });
        match timeout {
            Ok(timeout) => self.nexq.clipboard.copying = Some((read, timeout)),
            Err(_) => self.nexq.loop_handle.remove(read),
        }
    }

    /// A copy ended by itself: drop its timeout (its pipe source removes itself).
    fn finish_copy(&mut self) {
        if let Some((_, timeout)) = self.nexq.clipboard.copying.take() {
            self.nexq.loop_handle.remove(timeout);
        }
    }

    fn cancel_copy(&mut self) {
        if let Some((read, timeout)) = self.nexq.clipboard.copying.take() {
            self.nexq.loop_handle.remove(read);
            self.nexq.loop_handle.remove(timeout);
        }
    }

    /// The paste gesture: what the copy took becomes the clipboard of the focused client, once.
    pub fn clipboard_paste(&mut self) {
        let Some(client) = self.focused_client() else {
            tracing::info!("clipboard paste: nothing is focused");
            return;
        };
        let Some(held) = self.nexq.clipboard.held.take() else {
            tracing::info!("clipboard paste: nothing was copied");
            return;
        };
        let (owner, _) = client_owner(&client);
        tracing::info!(from = ?held.from, to = ?owner, len = held.bytes.len(), "clipboard pasted");
        let mimes: Vec<String> = TEXT_MIME_TYPES.iter().map(|m| m.to_string()).collect();
        self.nexq.clipboard.clipboard_owner = Some(owner);
        self.nexq.clipboard.clipboard_mimes = mimes.clone();
        let dh = self.nexq.display_handle.clone();
        self.cancel_managed(SelectionTarget::Clipboard);
        set_data_device_selection(&dh, &self.nexq.seat, mimes, OwnSelection::Bytes(held.bytes));
        self.update_selection_focus();
    }

    /// A client reads a selection the compositor offers: write the bytes without blocking.
    pub fn send_compositor_selection(&mut self, fd: OwnedFd, bytes: &Arc<[u8]>) {
        if let Err(err) = rustix::io::ioctl_fionbio(&fd, true) {
            tracing::warn!(%err, "clipboard: cannot make the reader's pipe non-blocking");
            return;
        }
        let bytes = bytes.clone();
        let mut written = 0;
        let source = Generic::new(fd, Interest::WRITE, Mode::Level);
        let inserted = self.nexq.loop_handle.insert_source(source, move |_, fd, _| {
            while written < bytes.len() {
                match rustix::io::write(fd.as_fd(), &bytes[written..]) {
                    Ok(n) => written += n,
                    Err(rustix::io::Errno::AGAIN) => return Ok(PostAction::Continue),
                    Err(rustix::io::Errno::INTR) => {}
                    Err(err) => {
                        tracing::debug!(%err, "clipboard: the reader went away");
                        return Ok(PostAction::Remove);
                    }
                }
            }
            Ok(PostAction::Remove)
        });
        if inserted.is_err() {
            tracing::warn!("clipboard: cannot watch the reader's pipe");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_stay_with_their_owner() {
        let a = Owner::Capsule("a".into());
        let b = Owner::Capsule("b".into());
        assert!(may_offer(Some(&a), &a, false));
        assert!(!may_offer(Some(&a), &b, false));
        assert!(!may_offer(Some(&a), &Owner::Host, false));
        assert!(!may_offer(Some(&Owner::Host), &b, false));
        assert!(may_offer(Some(&Owner::Host), &Owner::Host, false));
        // clipboard.manage sees everything; what a manager sets is for everyone.
        assert!(may_offer(Some(&a), &b, true));
        assert!(may_offer(Some(&Owner::Manager), &b, false));
        // No selection: telling a client so reveals nothing.
        assert!(may_offer(None, &b, false));
    }
}
