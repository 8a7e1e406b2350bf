//! xdg_surface.unconfigured_buffer: a buffer attached to a wl_surface that has an xdg_surface
//! but no xdg role yet (no toplevel or popup, so no configure can have been sent) is a protocol
//! error on that xdg_surface. Smithay 0.7 does not check it, and neither its API nor
//! wayland-server's leads from the wl_surface to the xdg_surface: the xdg_surface made by
//! `xdg_wm_base.get_xdg_surface` is recorded on its wl_surface here (see `protocol_fixes`),
//! and `wl_surface.attach` is checked against it.

use std::sync::Mutex;

use smithay::{
    reexports::{
        wayland_protocols::xdg::shell::server::xdg_surface::{self, XdgSurface},
        wayland_server::{
            backend::ClientId,
            protocol::wl_surface::{self, WlSurface},
            Client, DataInit, Dispatch, DisplayHandle, New, Resource,
        },
    },
    wayland::compositor::{get_role, with_states, CompositorState, SurfaceUserData},
};

use crate::state::State;

/// The xdg_surface of a wl_surface, once `get_xdg_surface` made one.
#[derive(Debug, Default)]
struct XdgSurfaceOf(Mutex<Option<XdgSurface>>);

/// The protocol id of a new xdg_surface. wayland-server keeps a new object's id private until
/// Smithay initialises it, but prints it (`xdg_surface@ID[client]`).
pub fn new_object_id(new: &New<XdgSurface>) -> Option<u32> {
    let printed = format!("{new:?}");
    let at = printed.find("xdg_surface@")? + "xdg_surface@".len();
    let digits: String = printed[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// After Smithay made the xdg_surface with protocol id `id` for `surface`: record it.
pub fn record(client: &Client, dh: &DisplayHandle, surface: &WlSurface, id: Option<u32>) {
    let Some(xdg) = id.and_then(|id| client.object_from_protocol_id::<XdgSurface>(dh, id).ok()) else {
        tracing::warn!(surface = ?surface.id(), "the new xdg_surface cannot be found");
        return;
    };
    with_states(surface, |states| {
        let of = states.data_map.get_or_insert_threadsafe(XdgSurfaceOf::default);
        *of.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(xdg);
    });
}

/// The xdg_surface to raise unconfigured_buffer on, if attaching a buffer to `surface` is one.
fn unconfigured(surface: &WlSurface) -> Option<XdgSurface> {
    if get_role(surface).is_some() {
        return None;
    }
    with_states(surface, |states| {
        let of = states.data_map.get::<XdgSurfaceOf>()?;
        let xdg = of.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        xdg.filter(|x| x.is_alive())
    })
}

impl Dispatch<WlSurface, SurfaceUserData> for State {
    fn request(
        state: &mut Self,
        client: &Client,
        resource: &WlSurface,
        request: wl_surface::Request,
        data: &SurfaceUserData,
        dh: &DisplayHandle,
        data_init: &mut DataInit<'_, Self>,
    ) {
        if let wl_surface::Request::Attach { buffer: Some(_), .. } = &request {
            if let Some(xdg) = unconfigured(resource) {
                xdg.post_error(
                    xdg_surface::Error::UnconfiguredBuffer,
                    "a buffer was attached before the xdg_surface got a role and its first configure",
                );
                return;
            }
        }
        <CompositorState as Dispatch<WlSurface, SurfaceUserData, State>>::request(
            state, client, resource, request, data, dh, data_init,
        );
    }

    fn destroyed(state: &mut Self, client: ClientId, resource: &WlSurface, data: &SurfaceUserData) {
        <CompositorState as Dispatch<WlSurface, SurfaceUserData, State>>::destroyed(
            state, client, resource, data,
        );
    }
}
