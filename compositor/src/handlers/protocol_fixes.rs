//! Requests Smithay 0.7 handles differently from the protocol text, checked or handled here
//! before Smithay sees them (found by WLCS, see compositor/wlcs). Everything else about
//! wl_compositor and xdg_wm_base is delegated to Smithay as `delegate_compositor!` and
//! `delegate_xdg_shell!` would.
//!
//! - `wl_subsurface.set_position` takes effect when the *parent's* state is applied, for
//!   desynchronized subsurfaces too; Smithay applies it with the subsurface's own commit.
//! - `xdg_wm_base.get_xdg_surface` on a wl_surface that has another role, or that has a buffer
//!   attached or committed, is a protocol error; Smithay accepts both.
//! - `wl_surface.attach` on an xdg_surface without a role is `unconfigured_buffer`
//!   (`unconfigured_buffer`, which dispatches wl_surface).
//! - `xdg_positioner.set_anchor_rect` with a zero width or height is valid (only negative sizes
//!   are an error); Smithay raises invalid_input.

use smithay::{
    backend::renderer::utils::with_renderer_surface_state,
    reexports::{
        wayland_protocols::xdg::shell::server::{
            xdg_popup::XdgPopup,
            xdg_positioner::{self, XdgPositioner},
            xdg_surface::XdgSurface,
            xdg_toplevel::XdgToplevel,
            xdg_wm_base::{self, XdgWmBase},
        },
        wayland_server::{
            backend::ClientId,
            delegate_dispatch, delegate_global_dispatch,
            protocol::{
                wl_callback::WlCallback,
                wl_compositor::WlCompositor,
                wl_region::WlRegion,
                wl_subcompositor::WlSubcompositor,
                wl_subsurface::{self, WlSubsurface},
                wl_surface::WlSurface,
            },
            Client, DataInit, Dispatch, DisplayHandle, Resource,
        },
    },
    utils::{Logical, Point},
    wayland::{
        compositor::{
            add_pre_commit_hook, get_parent, get_role, with_states, BufferAssignment, Cacheable,
            CompositorHandler, CompositorState, RegionUserData, SubsurfaceCachedState, SubsurfaceUserData,
            SurfaceAttributes,
        },
        shell::xdg::{
            XdgPositionerUserData, XdgShellState, XdgShellSurfaceUserData, XdgSurfaceUserData,
            XdgWmBaseUserData, XDG_POPUP_ROLE, XDG_TOPLEVEL_ROLE,
        },
    },
};

use super::unconfigured_buffer;
use crate::state::State;

delegate_global_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_global_dispatch!(State: [WlSubcompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlCompositor: ()] => CompositorState);
delegate_dispatch!(State: [WlRegion: RegionUserData] => CompositorState);
delegate_dispatch!(State: [WlCallback: ()] => CompositorState);
delegate_dispatch!(State: [WlSubcompositor: ()] => CompositorState);

delegate_global_dispatch!(State: [XdgWmBase: ()] => XdgShellState);
delegate_dispatch!(State: [XdgPopup: XdgShellSurfaceUserData] => XdgShellState);
delegate_dispatch!(State: [XdgSurface: XdgSurfaceUserData] => XdgShellState);
delegate_dispatch!(State: [XdgToplevel: XdgShellSurfaceUserData] => XdgShellState);

/// Subsurface positions requested with `wl_subsurface.set_position`, in the parent's
/// double-buffered state from the parent's commit on, current once its state is applied.
#[derive(Debug, Default)]
struct ChildPositions(Vec<(WlSurface, Point<i32, Logical>)>);

impl ChildPositions {
    fn add(&mut self, positions: Vec<(WlSurface, Point<i32, Logical>)>) {
        for (child, location) in positions {
            self.0.retain(|(c, _)| *c != child);
            self.0.push((child, location));
        }
    }
}

impl Cacheable for ChildPositions {
    fn commit(&mut self, _dh: &DisplayHandle) -> Self {
        ChildPositions(std::mem::take(&mut self.0))
    }

    fn merge_into(self, into: &mut Self, _dh: &DisplayHandle) {
        into.add(self.0);
    }
}

/// Positions requested since the parent's last own commit (`wl_surface.commit` on it).
#[derive(Debug, Default)]
struct RequestedPositions(std::sync::Mutex<Vec<(WlSurface, Point<i32, Logical>)>>);

impl Dispatch<WlSubsurface, SubsurfaceUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &WlSubsurface,
        request: wl_subsurface::Request,
        data: &SubsurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let wl_subsurface::Request::SetPosition { x, y } = request {
            let child = data.surface();
            let Some(parent) = get_parent(child) else { return };
            let scale = state.client_compositor_state(client).client_scale();
            // Client coordinates are logical ones times the client's scale (1 unless overridden).
            let location = Point::<i32, Logical>::from((
                (f64::from(x) / scale).round() as i32,
                (f64::from(y) / scale).round() as i32,
            ));
            // Kept aside until the parent itself commits: Smithay also commits the pending state
            // of synchronized subsurfaces when an ancestor commits, which must not take these.
            let first = with_states(&parent, |states| {
                let first = states
                    .data_map
                    .insert_if_missing_threadsafe(RequestedPositions::default);
                let mut requested = states
                    .data_map
                    .get::<RequestedPositions>()
                    .map(|r| r.0.lock().unwrap_or_else(|e| e.into_inner()));
                if let Some(requested) = requested.as_mut() {
                    requested.retain(|(c, _)| c != child);
                    requested.push((child.clone(), location));
                }
                first
            });
            if first {
                add_pre_commit_hook::<State, _>(&parent, |_, _, surface| {
                    with_states(surface, |states| {
                        let requested = states
                            .data_map
                            .get::<RequestedPositions>()
                            .map(|r| std::mem::take(&mut *r.0.lock().unwrap_or_else(|e| e.into_inner())))
                            .unwrap_or_default();
                        if !requested.is_empty() {
                            let mut positions = states.cached_state.get::<ChildPositions>();
                            positions.pending().add(requested);
                        }
                    });
                });
            }
            return;
        }
        <CompositorState as Dispatch<WlSubsurface, SubsurfaceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
    }

    fn destroyed(state: &mut Self, client: ClientId, resource: &WlSubsurface, data: &SubsurfaceUserData) {
        forget_child_position(data.surface());
        <CompositorState as Dispatch<WlSubsurface, SubsurfaceUserData, State>>::destroyed(
            state, client, resource, data,
        );
    }
}

/// `surface`'s state was just applied: put its subsurfaces where the state says, and itself where
/// its parent's says (a synchronized child's state can be applied after its parent's in the same
/// transaction, and would otherwise bring back its old position). Called first thing from
/// `CompositorHandler::commit`, which Smithay calls when a surface's state is applied.
pub fn apply_child_positions(surface: &WlSurface) {
    let positions = |parent: &WlSurface| {
        with_states(parent, |states| {
            states.cached_state.get::<ChildPositions>().current().0.clone()
        })
    };
    for (child, location) in positions(surface) {
        set_subsurface_location(&child, surface, location);
    }
    if let Some(parent) = get_parent(surface) {
        if let Some((_, location)) = positions(&parent).into_iter().find(|(c, _)| c == surface) {
            set_subsurface_location(surface, &parent, location);
        }
    }
}

fn set_subsurface_location(child: &WlSurface, parent: &WlSurface, location: Point<i32, Logical>) {
    if !child.is_alive() || get_parent(child).as_ref() != Some(parent) {
        return;
    }
    with_states(child, |states| {
        let mut cached = states.cached_state.get::<SubsurfaceCachedState>();
        // Pending too: the child's own next commit copies pending over current.
        cached.pending().location = location;
        cached.current().location = location;
    });
}

/// A wl_subsurface went away: a new one for the same wl_surface starts at (0, 0).
fn forget_child_position(child: &WlSurface) {
    let Some(parent) = get_parent(child) else { return };
    with_states(&parent, |states| {
        if let Some(requested) = states.data_map.get::<RequestedPositions>() {
            requested
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(c, _)| c != child);
        }
        let mut positions = states.cached_state.get::<ChildPositions>();
        positions.pending().0.retain(|(c, _)| c != child);
        positions.current().0.retain(|(c, _)| c != child);
    });
}

impl Dispatch<XdgWmBase, XdgWmBaseUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &XdgWmBase,
        request: xdg_wm_base::Request,
        data: &XdgWmBaseUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let mut made = None;
        if let xdg_wm_base::Request::GetXdgSurface { surface, id } = &request {
            if let Some((error, message)) = xdg_surface_refused(surface) {
                resource.post_error(error, message);
                return;
            }
            made = Some((surface.clone(), unconfigured_buffer::new_object_id(id)));
        }
        <XdgShellState as Dispatch<XdgWmBase, XdgWmBaseUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
        if let Some((surface, id)) = made {
            unconfigured_buffer::record(client, dh, &surface, id);
        }
    }

    fn destroyed(state: &mut Self, client: ClientId, resource: &XdgWmBase, data: &XdgWmBaseUserData) {
        <XdgShellState as Dispatch<XdgWmBase, XdgWmBaseUserData, State>>::destroyed(
            state, client, resource, data,
        );
    }
}

/// Why a wl_surface cannot become an xdg_surface, if it cannot. A surface that was an xdg
/// toplevel or popup before may become one again (the role stays with the wl_surface).
fn xdg_surface_refused(surface: &WlSurface) -> Option<(xdg_wm_base::Error, &'static str)> {
    match get_role(surface) {
        Some(XDG_TOPLEVEL_ROLE) | Some(XDG_POPUP_ROLE) => None,
        Some(_) => Some((
            xdg_wm_base::Error::Role,
            "the wl_surface already has another role",
        )),
        None => {
            let attached = with_states(surface, |states| {
                matches!(
                    states.cached_state.get::<SurfaceAttributes>().pending().buffer,
                    Some(BufferAssignment::NewBuffer(_))
                )
            });
            let committed = with_renderer_surface_state(surface, |s| s.buffer().is_some()).unwrap_or(false);
            (attached || committed).then_some((
                xdg_wm_base::Error::InvalidSurfaceState,
                "the wl_surface has a buffer attached or committed",
            ))
        }
    }
}

impl Dispatch<XdgPositioner, XdgPositionerUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &XdgPositioner,
        request: xdg_positioner::Request,
        data: &XdgPositionerUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        let request = match request {
            // Smithay keeps no empty anchor rectangle: a 1-pixel one is the closest (the same
            // anchor point except on the right and bottom edges, one pixel further).
            xdg_positioner::Request::SetAnchorRect { x, y, width, height } if width >= 0 && height >= 0 => {
                xdg_positioner::Request::SetAnchorRect {
                    x,
                    y,
                    width: width.max(1),
                    height: height.max(1),
                }
            }
            request => request,
        };
        <XdgShellState as Dispatch<XdgPositioner, XdgPositionerUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
    }
}
