//! Tests for `gating`: the table and the visibility rule.

use super::*;

fn caps(list: &str) -> CapabilitySet {
    CapabilitySet::parse_list(list).unwrap()
}

#[test]
fn ordinary_set_is_exactly_the_documented_one() {
    for name in [
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
    ] {
        assert_eq!(gate_for_interface(name), Some(Gate::Ordinary), "{name}");
    }
    assert_eq!(ORDINARY_GLOBALS.len(), 20);
}

#[test]
fn privileged_globals_need_their_capability() {
    let expected = [
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
    for (name, capability) in expected {
        assert_eq!(
            gate_for_interface(name),
            Some(Gate::Requires(capability)),
            "{name}"
        );
        let granted = caps(&format!("display.window,{capability}"));
        assert!(client_may_see(name, granted), "{name} with {granted}");
        assert!(!client_may_see(name, caps("display.window")), "{name}");
        // The capability alone, without a connection right, shows nothing.
        assert!(!client_may_see(name, capability.into()), "{name}");
        let mut all_but = CapabilitySet::all();
        all_but.remove(capability);
        assert!(!client_may_see(name, all_but), "{name}");
    }
    assert_eq!(PRIVILEGED_GLOBALS.len(), expected.len());
}

#[test]
fn no_interface_is_listed_twice() {
    let mut names: Vec<&str> = ORDINARY_GLOBALS.to_vec();
    names.extend(PRIVILEGED_GLOBALS.iter().map(|(name, _)| *name));
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count);
}

#[test]
fn capabilities_without_globals_gate_nothing() {
    for capability in [
        Capability::DisplayWindow,
        Capability::DisplayFullscreen,
        Capability::SentryObserve,
        Capability::SentryControl,
        Capability::NetConnect,
    ] {
        assert!(
            PRIVILEGED_GLOBALS.iter().all(|&(_, c)| c != capability),
            "{capability}"
        );
    }
}

#[test]
fn ordinary_globals_need_display_window() {
    for name in ORDINARY_GLOBALS {
        assert!(client_may_see(name, caps("display.window")), "{name}");
        assert!(!client_may_see(name, CapabilitySet::empty()), "{name}");
        let mut all_but = CapabilitySet::all();
        all_but.remove(Capability::DisplayWindow);
        assert!(!client_may_see(name, all_but), "{name}");
    }
}

#[test]
fn unclassified_globals_are_hidden_from_everyone() {
    for name in [
        "zwp_tablet_manager_v2",
        "wp_security_context_manager_v1",
        "zwp_idle_inhibit_manager_v1",
        "ext_idle_notifier_v1",
        "xwayland_shell_v1",
        "wl_drm",
        "WL_COMPOSITOR",
        "wl_compositor ",
        "",
    ] {
        assert_eq!(gate_for_interface(name), None, "{name:?}");
        assert!(!client_may_see(name, CapabilitySet::all()), "{name:?}");
    }
}
