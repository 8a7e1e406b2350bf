//! ext_session_lock_manager_v1: a locker client (swaylock and the like) locks the session.
//! Gated by `display.lock`.
//!
//! While locked, only lock surfaces are drawn (over black, so nothing else shows before the
//! locker draws) and only they get input: `surface_under` finds nothing else, keyboard focus is
//! held on the lock surface whatever asks for it, bindings do nothing (secure keys are swallowed,
//! the rest go to the locker, see `input.rs`), click-to-focus is off, popup grabs are refused
//! and the grabs active when the lock came are ended. `locked` is sent
//! after the first frame rendered that way. Unlocking gives the desktop back: focus, pointer and
//! picture. A locker that dies leaves the session locked; another locker may then take over.
//!
//! Smithay's `SessionLockManagerState` keeps no handle on the global it creates, so it is created
//! with a filter nobody passes and the visible global is ours ([`LockManagerGlobal`]), which
//! `reannounce_globals` can replace. Requests on the lock object go through [`Dispatch`] here
//! first: Smithay unlocks on any `unlock_and_destroy` (even one it answers with a protocol
//! error) and takes lock surfaces from any lock, so only the holder gets that far (and unlocks
//! only once `locked` was sent): a refused locker can neither unlock nor claim the output before
//! the holder does.

use smithay::{
    backend::renderer::element::Id,
    output::Output,
    reexports::{
        wayland_protocols::ext::session_lock::v1::server::{
            ext_session_lock_manager_v1::ExtSessionLockManagerV1,
            ext_session_lock_surface_v1::ExtSessionLockSurfaceV1,
            ext_session_lock_v1::{self, ExtSessionLockV1},
        },
        wayland_server::{
            backend::{ClientId, GlobalId},
            delegate_dispatch, delegate_global_dispatch,
            protocol::{wl_output::WlOutput, wl_surface::WlSurface},
            Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
        },
    },
    utils::{Logical, Point, SERIAL_COUNTER},
    wayland::session_lock::{
        ExtLockSurfaceUserData, LockSurface, SessionLockHandler, SessionLockManagerGlobalData,
        SessionLockManagerState, SessionLockState, SessionLocker,
    },
};

use crate::{
    capsules::gate::client_caps,
    focus::KeyboardFocusTarget,
    state::{Nexq, State},
};

const INTERFACE: &str = "ext_session_lock_manager_v1";

/// The session lock as the compositor sees it.
#[derive(Debug)]
pub struct LockState {
    locked: bool,
    /// The lock object of the client holding the lock; dead once that client is gone.
    lock: Option<ExtSessionLockV1>,
    /// The confirmation, sent once a frame without client content was rendered.
    pending: Option<SessionLocker>,
    /// Each lock surface with the output it covers.
    surfaces: Vec<(LockSurface, Output)>,
    /// The black backdrop's render element id (kept, so an unchanged backdrop is no damage).
    backdrop: Id,
}

impl Default for LockState {
    fn default() -> Self {
        Self {
            locked: false,
            lock: None,
            pending: None,
            surfaces: Vec::new(),
            backdrop: Id::new(),
        }
    }
}

impl LockState {
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// The lock surfaces still alive, oldest first.
    pub fn surfaces(&self) -> impl Iterator<Item = &LockSurface> {
        self.surfaces.iter().map(|(s, _)| s).filter(|s| s.alive())
    }

    /// The live lock surface covering `output`, if its locker made one.
    pub fn surface_on(&self, output: &Output) -> Option<&LockSurface> {
        self.surfaces
            .iter()
            .find(|(s, o)| o == output && s.alive())
            .map(|(s, _)| s)
    }

    pub fn backdrop_id(&self) -> &Id {
        &self.backdrop
    }
}

/// Data of our ext_session_lock_manager_v1 global (see the module documentation).
pub struct LockManagerGlobal;

impl GlobalDispatch<ExtSessionLockManagerV1, LockManagerGlobal> for State {
    fn bind(
        _state: &mut Self,
        _dh: &DisplayHandle,
        _client: &Client,
        resource: New<ExtSessionLockManagerV1>,
        _global_data: &LockManagerGlobal,
        data_init: &mut DataInit<'_, Self>,
    ) {
        // The same user data Smithay's own global gives; its requests go to Smithay.
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _global_data: &LockManagerGlobal) -> bool {
        exo_shell::gating::client_may_see(INTERFACE, client_caps(&client))
    }
}

/// Smithay's state (its own global hidden from everyone) and our gated global.
pub fn create(dh: &DisplayHandle) -> (SessionLockManagerState, GlobalId) {
    let state = SessionLockManagerState::new::<State, _>(dh, |_| false);
    (state, create_global(dh))
}

fn create_global(dh: &DisplayHandle) -> GlobalId {
    dh.create_global::<State, ExtSessionLockManagerV1, _>(1, LockManagerGlobal)
}

/// A live grant of `display.lock`: a new global, the old one removed.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let old = std::mem::replace(&mut state.nexq.session_lock_global, create_global(&dh));
    dh.remove_global::<State>(old);
}

impl SessionLockHandler for State {
    fn lock_state(&mut self) -> &mut SessionLockManagerState {
        &mut self.nexq.session_lock_state
    }

    fn lock(&mut self, confirmation: SessionLocker) {
        let lock = &mut self.nexq.session_lock;
        if lock.locked && lock.lock.as_ref().is_some_and(|l| l.is_alive()) {
            // Someone holds the lock: dropping the confirmation sends `finished`.
            tracing::info!("refusing a second session lock");
            return;
        }
        let replacing = lock.locked;
        // Already locked with a frame shown: the new locker takes over at once.
        let shown = lock.locked && lock.pending.is_none();
        lock.locked = true;
        lock.lock = Some(confirmation.ext_session_lock().clone());
        lock.surfaces.retain(|(s, _)| s.alive());
        if shown {
            lock.pending = None;
            confirmation.lock();
        } else {
            lock.pending = Some(confirmation);
        }
        if replacing {
            // The previous locker is gone; Smithay still counts its output as locked and would
            // refuse the new locker's surface, so its state starts afresh (one more hidden
            // global; a rare event).
            let dh = self.nexq.display_handle.clone();
            self.nexq.session_lock_state = SessionLockManagerState::new::<State, _>(&dh, |_| false);
        } else {
            self.end_grabs_for_lock();
        }
        tracing::info!("session locked");
        self.focus_lock_surface();
        self.queue_redraw();
    }

    fn unlock(&mut self) {
        self.end_lock();
    }

    fn new_surface(&mut self, surface: LockSurface, output: WlOutput) {
        // The lock surface covers its output (Smithay sends the configure after this). An output
        // that is already gone gets the primary one's size; the surface shows nowhere.
        let output = Output::from_resource(&output).unwrap_or_else(|| self.nexq.outputs.primary().clone());
        let size = crate::outputs::logical_rect(&output).size;
        surface.with_pending_state(|state| {
            state.size = Some((size.w.max(1) as u32, size.h.max(1) as u32).into());
        });
        self.nexq.session_lock.surfaces.push((surface, output));
        self.focus_lock_surface();
        self.queue_redraw();
    }
}

// Smithay's delegation, except for the lock object (below).
delegate_global_dispatch!(State: [ExtSessionLockManagerV1: SessionLockManagerGlobalData] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockManagerV1: ()] => SessionLockManagerState);
delegate_dispatch!(State: [ExtSessionLockSurfaceV1: ExtLockSurfaceUserData] => SessionLockManagerState);

impl Dispatch<ExtSessionLockV1, SessionLockState> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &ExtSessionLockV1,
        request: ext_session_lock_v1::Request,
        data: &SessionLockState,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let lock = &state.nexq.session_lock;
        let holder = lock.lock.as_ref() == Some(resource);
        let confirmed = holder && lock.pending.is_none();
        let abandons = holder && !confirmed && matches!(request, ext_session_lock_v1::Request::Destroy);
        if matches!(request, ext_session_lock_v1::Request::GetLockSurface { .. }) && !holder {
            resource.post_error(
                ext_session_lock_v1::Error::DuplicateOutput,
                "the output is locked by another lock (this one got `finished`)",
            );
            return;
        }
        if matches!(request, ext_session_lock_v1::Request::UnlockAndDestroy) && !confirmed {
            resource.post_error(
                ext_session_lock_v1::Error::InvalidUnlock,
                "this lock does not hold the session (refused, or `locked` not sent yet)",
            );
            return;
        }
        <SessionLockManagerState as Dispatch<ExtSessionLockV1, SessionLockState, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        if abandons {
            // Destroyed before `locked`: the locker gave up, so the session is not locked.
            state.end_lock();
        }
    }

    fn destroyed(state: &mut Self, client: ClientId, resource: &ExtSessionLockV1, data: &SessionLockState) {
        <SessionLockManagerState as Dispatch<ExtSessionLockV1, SessionLockState, State>>::destroyed(
            state, client, resource, data,
        );
    }
}

impl Nexq {
    /// Where keyboard focus must go while locked: the first lock surface, or nowhere.
    pub fn lock_focus(&self) -> Option<KeyboardFocusTarget> {
        self.session_lock
            .surfaces()
            .next()
            .map(|s| KeyboardFocusTarget(s.wl_surface().clone()))
    }

    /// The lock surface under a point (each sits at its output's origin).
    pub fn lock_surface_under(&self, pos: Point<f64, Logical>) -> Option<(WlSurface, Point<f64, Logical>)> {
        let output = self.outputs.at(pos)?;
        let surface = self.session_lock.surface_on(output)?;
        Some((surface.wl_surface().clone(), output.current_location().to_f64()))
    }
}

impl State {
    pub fn is_locked(&self) -> bool {
        self.nexq.session_lock.is_locked()
    }

    fn focus_lock_surface(&mut self) {
        let target = self.nexq.lock_focus();
        self.set_keyboard_focus(target);
    }

    /// Popup and move/resize grabs started before the lock would keep sending input to clients.
    fn end_grabs_for_lock(&mut self) {
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.now_ms();
        if let Some(keyboard) = self.nexq.seat.get_keyboard() {
            if keyboard.is_grabbed() {
                keyboard.unset_grab(self);
            }
        }
        let pointer = self.nexq.pointer.clone();
        if pointer.is_grabbed() {
            pointer.unset_grab(self, serial, time);
        }
    }

    /// The session is unlocked (or a lock was abandoned before it took effect): the desktop
    /// comes back.
    fn end_lock(&mut self) {
        let lock = &mut self.nexq.session_lock;
        lock.locked = false;
        lock.lock = None;
        lock.pending = None;
        lock.surfaces.clear();
        tracing::info!("session unlocked");
        self.apply_focus();
        self.queue_redraw();
    }

    /// Called after a frame was rendered: a pending lock is confirmed (`locked`) now that the
    /// output shows no client content.
    pub fn session_lock_frame_rendered(&mut self) {
        if let Some(confirmation) = self.nexq.session_lock.pending.take() {
            confirmation.lock();
        }
    }
}
