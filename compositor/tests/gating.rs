//! Capability gating of globals, seen by real clients: hidden globals are neither listed nor
//! bindable by guessing, and every global the compositor creates is classified.

mod common;

use std::{
    os::unix::net::UnixStream,
    process::{Command, Stdio},
};

use common::{require_program, Session};
use exo_shell::gating::gate_for_interface;
use wayland_client::{
    protocol::{wl_registry, wl_registry::WlRegistry},
    Connection, Dispatch, QueueHandle,
};

/// The interfaces `wayland-info` lists for a host client of this session.
fn listed_interfaces(session: &Session) -> Vec<String> {
    require_program("wayland-info");
    let mut cmd = Command::new("wayland-info");
    cmd.stdin(Stdio::null()).stderr(Stdio::null());
    for (k, v) in session.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run wayland-info");
    assert!(out.status.success(), "wayland-info failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("interface: '").nth(1))
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_created_global_is_classified_by_the_gating_table() {
    let session = Session::start(&["--host-caps", "all"]);
    let interfaces = listed_interfaces(&session);
    assert!(interfaces.len() >= 20, "wayland-info listed only {interfaces:?}");
    let unclassified: Vec<_> = interfaces
        .iter()
        .filter(|i| gate_for_interface(i).is_none())
        .collect();
    assert!(
        unclassified.is_empty(),
        "globals not in exo_shell::gating (classify them before shipping): {unclassified:?}"
    );
}

#[test]
fn default_host_clients_see_only_the_ordinary_set() {
    let session = Session::start(&["--host-caps", "display.window"]);
    let interfaces = listed_interfaces(&session);
    for hidden in ["zwlr_layer_shell_v1", "zwlr_screencopy_manager_v1"] {
        assert!(
            !interfaces.iter().any(|i| i == hidden),
            "{hidden} is visible: {interfaces:?}"
        );
    }
    for ordinary in ["wl_compositor", "xdg_wm_base", "wl_seat", "wp_presentation"] {
        assert!(
            interfaces.iter().any(|i| i == ordinary),
            "{ordinary} missing: {interfaces:?}"
        );
    }
}

#[test]
fn one_granted_capability_shows_exactly_its_globals() {
    let session = Session::start(&["--host-caps", "display.window,display.layer"]);
    let interfaces = listed_interfaces(&session);
    assert!(interfaces.iter().any(|i| i == "zwlr_layer_shell_v1"));
    assert!(!interfaces.iter().any(|i| i == "zwlr_screencopy_manager_v1"));
}

struct Registry;

impl Dispatch<WlRegistry, ()> for Registry {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1, ()>
    for Registry
{
    fn event(
        _: &mut Self,
        _: &wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1,
        _: <wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1 as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

#[test]
fn hidden_globals_cannot_be_bound_by_guessing_their_name() {
    use wayland_protocols_wlr::layer_shell::v1::client::zwlr_layer_shell_v1::ZwlrLayerShellV1;
    let session = Session::start(&["--host-caps", "display.window"]);
    // Global names are small integers; try every plausible one on a fresh connection.
    for name in 1..=64u32 {
        let stream = UnixStream::connect(session.socket_path()).expect("connect");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let mut queue = conn.new_event_queue::<Registry>();
        let qh = queue.handle();
        let registry = conn.display().get_registry(&qh, ());
        let _layer: ZwlrLayerShellV1 = registry.bind(name, 1, &qh, ());
        let result = queue.roundtrip(&mut Registry);
        assert!(
            result.is_err() || conn.protocol_error().is_some(),
            "binding zwlr_layer_shell_v1 as global name {name} succeeded for a client without display.layer"
        );
    }
    let mut session = session;
    session.assert_alive();
}

#[test]
fn host_caps_none_refuses_host_clients() {
    let session = Session::start(&["--host-caps", "none"]);
    let stream = UnixStream::connect(session.socket_path()).expect("connect");
    let conn = Connection::from_socket(stream).expect("wayland connection");
    let mut queue = conn.new_event_queue::<Registry>();
    let _registry = conn.display().get_registry(&queue.handle(), ());
    assert!(
        queue.roundtrip(&mut Registry).is_err(),
        "a host client got a connection with no capabilities"
    );
}

#[test]
fn host_capabilities_come_from_the_config_and_the_flag_overrides_them() {
    let dir = std::env::temp_dir().join(format!("nexq-gating-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        "[session]\nhost_capabilities = \"display.window,display.layer\"\n",
    )
    .unwrap();
    let from_config = Session::start(&["--config", path.to_str().unwrap()]);
    let interfaces = listed_interfaces(&from_config);
    assert!(
        interfaces.iter().any(|i| i == "zwlr_layer_shell_v1"),
        "{interfaces:?}"
    );
    assert!(!interfaces.iter().any(|i| i == "zwlr_screencopy_manager_v1"));
    let overridden = Session::start(&[
        "--config",
        path.to_str().unwrap(),
        "--host-caps",
        "display.window",
    ]);
    assert!(!listed_interfaces(&overridden)
        .iter()
        .any(|i| i == "zwlr_layer_shell_v1"));
    let _ = std::fs::remove_dir_all(&dir);
}
