//! The one table saying which Wayland global needs which capability.
//!
//! Every global the compositor creates is looked up here by its interface
//! name before a client may see it. Deny by default: an interface that is
//! not in the table is *unclassified* and hidden from every capsule, so a
//! new protocol stays invisible until someone decides which capability
//! grants it. Even the ordinary globals need [`Capability::DisplayWindow`]:
//! without it a capsule gets no Wayland connection at all.

use crate::capability::{Capability, CapabilitySet};

/// What a client needs to see one global.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gate {
    /// Part of the ordinary client set: [`Capability::DisplayWindow`] is enough.
    Ordinary,
    /// [`Capability::DisplayWindow`] and this capability.
    Requires(Capability),
}

/// The ordinary client set, exactly as `display.window` is documented.
pub const ORDINARY_GLOBALS: [&str; 20] = [
    "wl_compositor",
    "wl_subcompositor",
    "wl_shm",
    "wl_seat",
    "wl_output",
    "zxdg_output_manager_v1",
    "wl_data_device_manager",
    "zwp_primary_selection_device_manager_v1",
    "xdg_wm_base",
    "zxdg_decoration_manager_v1",
    "wp_viewporter",
    "wp_fractional_scale_manager_v1",
    "wp_presentation",
    "wp_single_pixel_buffer_manager_v1",
    "xdg_activation_v1",
    "wp_cursor_shape_manager_v1",
    "zwp_pointer_constraints_v1",
    "zwp_relative_pointer_manager_v1",
    "zwp_text_input_manager_v3",
    "zwp_linux_dmabuf_v1",
];

/// The privileged globals and the capability each needs (on top of `display.window`).
pub const PRIVILEGED_GLOBALS: [(&str, Capability); 17] = [
    ("zwlr_layer_shell_v1", Capability::DisplayLayer),
    ("zwlr_screencopy_manager_v1", Capability::DisplayCapture),
    ("ext_image_copy_capture_manager_v1", Capability::DisplayCapture),
    (
        "ext_output_image_capture_source_manager_v1",
        Capability::DisplayCapture,
    ),
    ("zwlr_export_dmabuf_manager_v1", Capability::DisplayCapture),
    ("zwlr_foreign_toplevel_manager_v1", Capability::DisplayToplevels),
    ("ext_foreign_toplevel_list_v1", Capability::DisplayToplevels),
    ("zwlr_output_manager_v1", Capability::DisplayOutput),
    ("zwlr_gamma_control_manager_v1", Capability::DisplayOutput),
    ("zwlr_output_power_manager_v1", Capability::DisplayOutput),
    ("ext_session_lock_manager_v1", Capability::DisplayLock),
    ("zwlr_virtual_pointer_manager_v1", Capability::InputInject),
    ("zwp_virtual_keyboard_manager_v1", Capability::InputInject),
    ("zwp_input_method_manager_v2", Capability::InputMethod),
    (
        "zwp_keyboard_shortcuts_inhibit_manager_v1",
        Capability::InputInhibit,
    ),
    ("zwlr_data_control_manager_v1", Capability::ClipboardManage),
    ("ext_data_control_manager_v1", Capability::ClipboardManage),
];

/// How `interface` is gated, or `None` when it is unclassified (hidden from every capsule).
pub fn gate_for_interface(interface: &str) -> Option<Gate> {
    if ORDINARY_GLOBALS.contains(&interface) {
        return Some(Gate::Ordinary);
    }
    PRIVILEGED_GLOBALS
        .iter()
        .find(|(name, _)| *name == interface)
        .map(|&(_, capability)| Gate::Requires(capability))
}

/// Whether a client holding `caps` may see (and bind) the global `interface`.
///
/// False for everything without [`Capability::DisplayWindow`], and false for
/// unclassified interfaces whatever the capabilities.
pub fn client_may_see(interface: &str, caps: CapabilitySet) -> bool {
    if !caps.contains(Capability::DisplayWindow) {
        return false;
    }
    match gate_for_interface(interface) {
        Some(Gate::Ordinary) => true,
        Some(Gate::Requires(capability)) => caps.contains(capability),
        None => false,
    }
}

#[cfg(test)]
#[path = "gating_tests.rs"]
mod tests;
