//! wl_compositor, wl_subcompositor, wl_shm, viewporter and single-pixel buffers: surface commits
//! are where windows get mapped and where oversized buffers are refused.

use smithay::{
    backend::renderer::utils::{
        on_commit_buffer_handler, RendererSurfaceState, RendererSurfaceStateUserData,
    },
    delegate_shm, delegate_single_pixel_buffer, delegate_viewporter,
    desktop::PopupKind,
    reexports::wayland_server::{
        protocol::{wl_buffer::WlBuffer, wl_surface::WlSurface},
        Client, DisplayHandle, Resource,
    },
    wayland::{
        buffer::BufferHandler,
        compositor::{
            add_destruction_hook, get_children, get_parent, is_sync_subsurface, with_states,
            BufferAssignment, CompositorClientState, CompositorHandler, CompositorState, SurfaceAttributes,
        },
        shell::xdg::XdgToplevelSurfaceData,
        shm::{with_buffer_contents, ShmHandler, ShmState},
    },
};

use crate::{
    limits,
    state::{ClientState, State},
};

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, buffer: &WlBuffer) {
        self.nexq.replaced_buffers.forget(&buffer.id());
        // The client is still known while it is connected (its limits go with it otherwise).
        if let Some(data) = buffer.client().as_ref().and_then(|c| c.get_data::<ClientState>()) {
            data.limits.remove_shm_buffer(&buffer.id());
        }
    }
}

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.nexq.shm_state
    }
}

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.nexq.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        // Every client is inserted with ClientState, by the socket listener and the test fixture.
        &client
            .get_data::<ClientState>()
            .expect("every client carries ClientState")
            .compositor_state
    }

    fn new_surface(&mut self, surface: &WlSurface) {
        let Some(client) = surface.client() else { return };
        let Some(data) = client.get_data::<ClientState>() else {
            return;
        };
        if let Err(err) = data.limits.add_surface() {
            tracing::warn!(%err, "disconnecting client");
            let limit = crate::limits::MAX_SURFACES_PER_CLIENT as u64;
            self.record_flood(&client, "surfaces", limit + 1, limit);
            post_no_memory(&self.nexq.display_handle, &client, &err.to_string());
            return;
        }
        // Smithay's renderer state goes first in the surface's data map, a list searched by type
        // from its start: every frame and every commit look it up several times, and
        // `on_commit_buffer_handler` would add it at the first commit, behind the shell's entries.
        with_states(surface, |states| {
            states
                .data_map
                .insert_if_missing_threadsafe(|| RendererSurfaceStateUserData::new(Default::default()))
        });
        add_destruction_hook(surface, |state: &mut State, surface| {
            if let Some(client) = surface.client() {
                if let Some(data) = client.get_data::<ClientState>() {
                    data.limits.remove_surface();
                }
            }
            // What `on_commit_buffer_handler` does for the state it inserts itself: the
            // buffer is let go and the textures freed now, not when the surface's data drops.
            with_states(surface, |states| {
                if let Some(data) = states.data_map.get::<RendererSurfaceStateUserData>() {
                    *data.lock().unwrap_or_else(|e| e.into_inner()) = RendererSurfaceState::default();
                }
            });
            state.touch_surface_destroyed(surface);
        });
    }

    fn commit(&mut self, surface: &WlSurface) {
        super::protocol_fixes::apply_child_positions(surface);
        let committed = committed_shm_buffer(surface);
        let max_side = self.nexq.config.limits.surface_size as i32;
        if let Some(err) = committed
            .as_ref()
            .and_then(|b| (b.width > max_side || b.height > max_side).then_some(b))
            .map(|b| limits::buffer_too_large(b.width, b.height, max_side))
        {
            tracing::warn!(%err, "refusing buffer");
            if let (Some(b), Some(client)) = (&committed, surface.client()) {
                let side = b.width.max(b.height).max(0) as u64;
                self.record_flood(&client, "buffer_size", side, max_side as u64);
            }
            surface.post_error(
                smithay::reexports::wayland_server::protocol::wl_surface::Error::InvalidSize,
                err,
            );
            return;
        }
        if let (Some(b), Some(client)) = (&committed, surface.client()) {
            let limit = self.nexq.config.limits.shm_bytes();
            let counted = client
                .get_data::<ClientState>()
                .map(|d| d.limits.add_shm_buffer(b.buffer.id(), b.bytes, limit));
            if let Some(Err(err)) = counted {
                tracing::warn!(%err, "disconnecting client");
                self.record_flood(&client, "shm_bytes", err.used, err.limit);
                post_no_memory(&self.nexq.display_handle, &client, &err.to_string());
                return;
            }
        }
        // The buffer this commit replaces is released with the next frame (`replaced`).
        self.nexq.replaced_buffers.hold(surface);
        on_commit_buffer_handler::<Self>(surface);

        // Whether this commit may have changed what is under the pointer: anything but a
        // mapped window committing in place away from the pointer (a frame of an animation,
        // say) may have.
        let mut pointer_may_change = true;
        // Whether the commit may have changed what `Space::refresh` tracks (which outputs each
        // surface overlaps): anything but a window's lone surface committing in place.
        let mut space_may_change = true;
        // The window whose toplevel surface this is (a toplevel is the root of its tree).
        let mut own_window = None;
        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(id) = self.nexq.window_id_for_surface(&root) {
                if root == *surface {
                    own_window = Some(id);
                }
                if let Some(window) = self.nexq.windows.get(&id) {
                    let before = crate::labels::window_geometry(window).loc;
                    let bbox_before = self.nexq.drawn_box(window);
                    window.on_commit();
                    let shift = crate::labels::remember_geometry(window).loc - before;
                    let in_place = shift.x == 0 && shift.y == 0 && self.nexq.drawn_box(window) == bbox_before;
                    if in_place {
                        let at = self.nexq.pointer.current_location();
                        pointer_may_change = self.nexq.covers(id, at.x, at.y);
                        space_may_change = root != *surface || !get_children(surface).is_empty();
                    }
                    self.keep_surface_in_place(id, shift);
                }
            }
        }
        // A mapped toplevel that commits without a buffer unmaps (xdg-shell).
        if let Some(id) = own_window {
            let has_buffer = smithay::backend::renderer::utils::with_renderer_surface_state(surface, |s| {
                s.buffer().is_some()
            });
            if has_buffer == Some(false) {
                self.unmap_window(id);
                pointer_may_change = true;
                space_may_change = true;
            }
        }

        self.map_or_configure_toplevel(surface);
        self.nexq.popups.commit(surface);
        self.ensure_popup_configure(surface);
        self.layer_commit(surface);
        // A surface that grew, shrank, unmapped or moved a subsurface may have changed what is
        // under the pointer; tell the client now, before it reads the replies to later requests.
        if pointer_may_change {
            self.refresh_pointer_focus();
        }
        if space_may_change {
            self.nexq.space_changed = true;
        }
        self.queue_redraw_after_commit();
    }
}

impl State {
    /// Toplevels are configured on their first commit and mapped once they attach a buffer.
    fn map_or_configure_toplevel(&mut self, surface: &WlSurface) {
        let Some(pos) = self
            .nexq
            .unmapped
            .iter()
            .position(|w| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
        else {
            return;
        };
        let window = self.nexq.unmapped[pos].clone();
        window.on_commit();
        crate::labels::remember_geometry(&window);
        let Some(toplevel) = window.toplevel() else { return };
        let initial_sent = with_states(surface, |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .map(|d| d.lock().map(|d| d.initial_configure_sent).unwrap_or(true))
                .unwrap_or(true)
        });
        if !initial_sent {
            toplevel.with_pending_state(|state| {
                state.decoration_mode = Some(
                    smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode::ServerSide,
                );
            });
            toplevel.send_configure();
            // xdg-shell wants the initial commit without a buffer. A client that attaches one
            // anyway (WLCS's surface builders do; Mir accepts it) is mapped right away below
            // instead of staying invisible until it happens to commit again.
        }
        let has_buffer = with_states(surface, |states| {
            matches!(
                states.cached_state.get::<SurfaceAttributes>().current().buffer,
                Some(BufferAssignment::NewBuffer(_))
            )
        }) || smithay::backend::renderer::utils::with_renderer_surface_state(surface, |s| {
            s.buffer().is_some()
        })
        .unwrap_or(false);
        if has_buffer {
            self.nexq.unmapped.remove(pos);
            self.map_window(window);
        }
    }

    fn ensure_popup_configure(&mut self, surface: &WlSurface) {
        if let Some(PopupKind::Xdg(popup)) = self.nexq.popups.find_popup(surface) {
            if !popup.is_initial_configure_sent() {
                if let Err(err) = popup.send_configure() {
                    tracing::warn!(?err, "initial popup configure failed");
                }
            }
        }
    }

    fn layer_commit(&mut self, surface: &WlSurface) {
        let Some(layer) = self.nexq.layers.find(surface).cloned() else {
            return;
        };
        if !crate::layers::initial_configure_sent(surface) {
            // The reply to the initial commit: the size this commit's state gets.
            self.arrange_layers();
            layer.layer_surface().send_configure();
        }
        // Places every layer surface again (this one's state changed, and so may the zones).
        self.update_usable_area();
        let has_buffer =
            smithay::backend::renderer::utils::with_renderer_surface_state(surface, |s| s.buffer().is_some());
        if has_buffer == Some(true) {
            self.focus_new_layer(&layer);
        }
    }
}

/// Send wl_display.error(no_memory) and disconnect, like libwayland's `wl_client_post_no_memory`.
/// `Client::kill` alone closes the connection without telling the client why.
pub(crate) fn post_no_memory(dh: &DisplayHandle, client: &Client, message: &str) {
    use smithay::reexports::wayland_server::{backend::protocol::ProtocolError, protocol::__interfaces};
    const NO_MEMORY: u32 = 2;
    let handle = dh.backend_handle();
    match handle.object_for_protocol_id(client.id(), &__interfaces::WL_DISPLAY_INTERFACE, 1) {
        Ok(display) => handle.post_error(
            display,
            NO_MEMORY,
            std::ffi::CString::new(message.replace('\0', "")).unwrap_or_default(),
        ),
        Err(_) => client.kill(
            dh,
            ProtocolError {
                code: NO_MEMORY,
                object_id: 1,
                object_interface: "wl_display".into(),
                message: message.into(),
            },
        ),
    }
}

/// A shm buffer a commit attaches: its size in pixels and in bytes.
struct CommittedShm {
    buffer: WlBuffer,
    width: i32,
    height: i32,
    bytes: u64,
}

/// The shm buffer this commit attaches, if any: checked against the limits (surface size,
/// shared memory) before anything imports it.
fn committed_shm_buffer(surface: &WlSurface) -> Option<CommittedShm> {
    with_states(surface, |states| {
        let mut attrs = states.cached_state.get::<SurfaceAttributes>();
        match attrs.current().buffer.as_ref() {
            Some(BufferAssignment::NewBuffer(buffer)) => {
                with_buffer_contents(buffer, |_, _, data| CommittedShm {
                    buffer: buffer.clone(),
                    width: data.width,
                    height: data.height,
                    bytes: u64::from(data.stride.unsigned_abs()) * u64::from(data.height.unsigned_abs()),
                })
                .ok()
            }
            _ => None,
        }
    })
}

// wl_compositor and wl_subcompositor are delegated in `protocol_fixes`.
delegate_shm!(State);
delegate_viewporter!(State);
delegate_single_pixel_buffer!(State);
