//! A new client's first requests are answered in the event-loop iteration that accepts it
//! (`init::listen_socket`), not after that iteration's idle work (at start-up, the first frame).

use std::{
    io::{Read, Write},
    os::unix::net::UnixStream,
    time::Duration,
};

use exo_shell::{config::Config, CapabilitySet};
use nexquelium::{
    backend::Backend,
    init::{create_output, insert_display, listen_socket, OutputSpec},
    state::State,
};
use smithay::reexports::{calloop::EventLoop, wayland_server::Display};

/// A Wayland message header: object id, then size << 16 | opcode (native endian).
fn header(object: u32, opcode: u16, size: u16) -> [u8; 8] {
    let mut h = [0; 8];
    h[..4].copy_from_slice(&object.to_ne_bytes());
    h[4..].copy_from_slice(&((u32::from(size) << 16) | u32::from(opcode)).to_ne_bytes());
    h
}

#[test]
fn a_new_clients_round_trip_is_answered_in_the_iteration_that_accepts_it() {
    let runtime = std::env::temp_dir().join(format!("nexquelium-accept-test-{}", std::process::id()));
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    // SAFETY: this test binary has this one test, and no other thread runs yet.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", &runtime) };

    let mut event_loop: EventLoop<'static, State> = EventLoop::try_new().expect("event loop");
    let display: Display<State> = Display::new().expect("display");
    let dh = display.handle();
    let output = create_output(&dh, "ACCEPT-1", OutputSpec::default());
    let display = insert_display(&event_loop, display).expect("insert display");
    let name = listen_socket(
        &event_loop,
        &display,
        Some("wayland-accept"),
        CapabilitySet::all(),
    )
    .expect("listen");
    let mut state = State::new(
        &event_loop,
        dh,
        Backend::Headless(Box::default()),
        vec![output],
        Config::default(),
        None,
        name.clone(),
    )
    .expect("State::new");

    // Connect and send wl_display.sync(new_id 2) before the compositor has accepted anything.
    let mut stream = UnixStream::connect(runtime.join(&name)).expect("connect");
    let mut sync = header(1, 0, 12).to_vec();
    sync.extend_from_slice(&2u32.to_ne_bytes());
    stream.write_all(&sync).expect("send sync");

    // One iteration accepts the client; the reply must already be on its way.
    event_loop
        .dispatch(Some(Duration::ZERO), &mut state)
        .expect("dispatch");
    stream.set_nonblocking(true).expect("nonblocking");
    let mut reply = [0u8; 64];
    let n = match stream.read(&mut reply) {
        Ok(n) => n,
        Err(err) => panic!("no reply after the iteration that accepted the client: {err}"),
    };
    assert!(n >= 12, "a whole message: {n} bytes");
    assert_eq!(
        reply[..8],
        header(2, 0, 12),
        "the first event is wl_callback(2).done"
    );
    let _ = std::fs::remove_dir_all(&runtime);
}
