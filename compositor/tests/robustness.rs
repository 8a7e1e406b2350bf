//! Misbehaving clients: each one is dealt with (protocol error, disconnect or limit) while the
//! compositor and a well-behaved client (weston-simple-shm, which animates) keep running.

mod common;

use std::{
    io::{ErrorKind, Read, Write},
    os::{fd::AsFd, unix::net::UnixStream},
    time::{Duration, Instant},
};

use common::{wait_for, Session};
use exo_shell::control::WindowInfo;
use nexquelium::limits::{MAX_BUFFER_SIDE, MAX_SURFACES_PER_CLIENT};
use wayland_client::{
    backend::protocol::ProtocolError,
    backend::WaylandError,
    delegate_noop,
    globals::{registry_queue_init, GlobalList, GlobalListContents},
    protocol::{
        wl_buffer::WlBuffer, wl_compositor::WlCompositor, wl_registry::WlRegistry, wl_shm, wl_shm::WlShm,
        wl_shm_pool::WlShmPool, wl_surface::WlSurface,
    },
    Connection, Dispatch, DispatchError, EventQueue, Proxy, QueueHandle,
};
use wayland_protocols::xdg::shell::client::{
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::XdgToplevel,
    xdg_wm_base::{self, XdgWmBase},
};

const TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------------------------
// The well-behaved witness: weston-simple-shm must keep animating through every test.

/// A session with weston-simple-shm mapped; returns its window.
fn session_with_witness() -> (Session, WindowInfo) {
    let mut session = Session::start(&[]);
    session.spawn("weston-simple-shm", &[]);
    let witness = session.wait_windows(1, TIMEOUT).remove(0);
    (session, witness)
}

/// The compositor runs and answers, the witness window is still listed, and the session still
/// draws: the witness's content changes between two screenshots.
fn assert_session_healthy(session: &mut Session, witness: &WindowInfo) {
    session.assert_alive();
    let windows = session.windows();
    let w = windows
        .iter()
        .find(|w| w.id == witness.id)
        .unwrap_or_else(|| panic!("the simple-shm window vanished: {windows:?}"));
    let first = session.screenshot();
    assert!(
        first.count_not(common::BACKGROUND, w.x, w.y, w.width, w.height) > 0,
        "the simple-shm window is not drawn"
    );
    wait_for(TIMEOUT, "the simple-shm window to keep animating", || {
        let next = session.screenshot();
        (next.count_changed(&first, w.x, w.y, w.width, w.height) > 100).then_some(())
    });
}

/// Read from a raw connection until the compositor closes it (EOF or reset).
fn assert_closed_by_compositor(raw: &mut UnixStream) {
    raw.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut buf = [0u8; 4096];
    loop {
        match raw.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {} // the error event, or anything queued before it
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("unexpected error reading the dropped connection: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the compositor did not close the connection"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A small private Wayland client on wayland-client 0.31.

#[derive(Default)]
struct App {
    configured: bool,
}

impl Dispatch<WlRegistry, GlobalListContents> for App {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: wayland_client::protocol::wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<XdgWmBase, ()> for App {
    fn event(
        _: &mut Self,
        wm_base: &XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for App {
    fn event(
        app: &mut Self,
        xdg_surface: &XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg_surface.ack_configure(serial);
            app.configured = true;
        }
    }
}

delegate_noop!(App: WlCompositor);
delegate_noop!(App: WlShmPool);
delegate_noop!(App: ignore WlSurface);
delegate_noop!(App: ignore WlShm);
delegate_noop!(App: ignore WlBuffer);
delegate_noop!(App: ignore XdgToplevel);

struct Client {
    conn: Connection,
    queue: EventQueue<App>,
    qh: QueueHandle<App>,
    globals: GlobalList,
    app: App,
    /// A second descriptor of the same socket, for raw writes and for watching it close.
    raw: UnixStream,
}

struct Toplevel {
    surface: WlSurface,
    _xdg_surface: XdgSurface,
    _toplevel: XdgToplevel,
}

impl Client {
    fn connect(session: &Session) -> Client {
        let stream = UnixStream::connect(session.socket_path()).expect("connect to the Wayland socket");
        let raw = stream.try_clone().unwrap();
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, queue) = registry_queue_init::<App>(&conn).expect("registry");
        let qh = queue.handle();
        Client {
            conn,
            queue,
            qh,
            globals,
            app: App::default(),
            raw,
        }
    }

    fn roundtrip(&mut self) -> Result<usize, DispatchError> {
        self.queue.roundtrip(&mut self.app)
    }

    fn compositor(&self) -> WlCompositor {
        self.globals.bind(&self.qh, 4..=6, ()).expect("wl_compositor")
    }

    fn wm_base(&self) -> XdgWmBase {
        self.globals.bind(&self.qh, 1..=6, ()).expect("xdg_wm_base")
    }

    /// A wl_shm buffer backed by a memfd of `width`×`height` ARGB8888 pixels; `fill` writes the
    /// pixels, otherwise the file stays sparse (no memory is used).
    fn shm_buffer(&self, width: i32, height: i32, fill: Option<[u8; 4]>) -> WlBuffer {
        let stride = width * 4;
        let size = stride as u64 * height as u64;
        let fd = rustix::fs::memfd_create(c"nexq-robustness", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        let mut file = std::fs::File::from(fd);
        match fill {
            Some(bgra) => file.write_all(&bgra.repeat((width * height) as usize)).unwrap(),
            None => file.set_len(size).unwrap(),
        }
        let shm: WlShm = self.globals.bind(&self.qh, 1..=1, ()).expect("wl_shm");
        let pool = shm.create_pool(
            file.as_fd(),
            i32::try_from(size).expect("pool size"),
            &self.qh,
            (),
        );
        let buffer = pool.create_buffer(0, width, height, stride, wl_shm::Format::Argb8888, &self.qh, ());
        pool.destroy();
        buffer
    }

    /// Create an xdg toplevel, wait for its configure and map it with a solid buffer.
    fn map_toplevel(&mut self, title: &str, width: i32, height: i32) -> Toplevel {
        let surface = self.compositor().create_surface(&self.qh, ());
        let xdg_surface = self.wm_base().get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg_surface.get_toplevel(&self.qh, ());
        toplevel.set_title(title.into());
        surface.commit();
        while !self.app.configured {
            self.queue
                .blocking_dispatch(&mut self.app)
                .expect("wait for configure");
        }
        let buffer = self.shm_buffer(width, height, Some([0x20, 0xc0, 0x40, 0xff]));
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        self.roundtrip().expect("roundtrip after mapping");
        Toplevel {
            surface,
            _xdg_surface: xdg_surface,
            _toplevel: toplevel,
        }
    }

    /// The protocol error the compositor sent, after the connection failed.
    fn expect_protocol_error(&mut self, result: Result<usize, DispatchError>) -> ProtocolError {
        assert!(result.is_err(), "the misbehaving client was not disconnected");
        self.conn
            .protocol_error()
            .unwrap_or_else(|| panic!("disconnected without a protocol error: {result:?}"))
    }
}

fn wait_title_gone(session: &Session, title: &str) {
    wait_for(TIMEOUT, &format!("window {title:?} to go away"), || {
        let windows = session.windows();
        (!windows.iter().any(|w| w.title == title)).then_some(())
    });
}

fn wait_title_mapped(session: &Session, title: &str) {
    wait_for(TIMEOUT, &format!("window {title:?} to map"), || {
        session.windows().iter().any(|w| w.title == title).then_some(())
    });
}

// ---------------------------------------------------------------------------------------------

#[test]
fn garbage_bytes_disconnect_only_that_client() {
    let (mut session, witness) = session_with_witness();
    let mut raw = UnixStream::connect(session.socket_path()).unwrap();
    // Pseudo-random bytes (xorshift), starting with an all-0xff header: no object has id
    // 0xffffffff, so the very first message is invalid.
    let mut garbage = vec![0xffu8; 4096];
    let mut x: u32 = 0x9e37_79b9;
    for b in garbage.iter_mut().skip(8) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    // The compositor may close while we are still writing; that is fine.
    let _ = raw.write_all(&garbage);
    assert_closed_by_compositor(&mut raw);
    assert_session_healthy(&mut session, &witness);
}

#[test]
fn protocol_error_is_reported_and_disconnects_the_client() {
    let (mut session, witness) = session_with_witness();
    let mut client = Client::connect(&session);
    let title = "robustness-bad-scale";
    let toplevel = client.map_toplevel(title, 150, 90);
    wait_title_mapped(&session, title);
    // A buffer scale of 0 is a protocol error (wl_surface.error.invalid_scale).
    toplevel.surface.set_buffer_scale(0);
    toplevel.surface.commit();
    let result = client.roundtrip();
    let error = client.expect_protocol_error(result);
    assert_eq!(error.object_interface, "wl_surface", "{error:?}");
    assert_eq!(error.object_id, toplevel.surface.id().protocol_id(), "{error:?}");
    assert_eq!(
        error.code, 0,
        "expected wl_surface.error.invalid_scale: {error:?}"
    );
    assert_closed_by_compositor(&mut client.raw);
    wait_title_gone(&session, title);
    assert_session_healthy(&mut session, &witness);
}

#[test]
fn a_second_toplevel_for_one_surface_does_not_duplicate_the_window() {
    let (mut session, witness) = session_with_witness();
    let mut client = Client::connect(&session);
    let title = "robustness-one-surface";
    let toplevel = client.map_toplevel(title, 180, 110);
    wait_title_mapped(&session, title);
    // get_xdg_surface + get_toplevel again for the same, already mapped, wl_surface.
    let second = client
        .wm_base()
        .get_xdg_surface(&toplevel.surface, &client.qh, ());
    let again = second.get_toplevel(&client.qh, ());
    again.set_title("robustness-duplicate".into());
    toplevel.surface.commit();
    let _ = client.roundtrip();
    toplevel.surface.commit();
    let _ = client.roundtrip();
    let windows = session.windows();
    let ours: Vec<u64> = windows
        .iter()
        .filter(|w| w.id != witness.id)
        .map(|w| w.id)
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one wl_surface became several windows: {windows:?}"
    );
    if client.conn.protocol_error().is_none() {
        // Tolerated instead of refused: destroying the extra role objects must not take the
        // original window with it.
        again.destroy();
        second.destroy();
        client
            .roundtrip()
            .expect("roundtrip after destroying the extra toplevel");
        toplevel.surface.commit();
        client.roundtrip().expect("roundtrip after a commit");
        let windows = session.windows();
        let now: Vec<u64> = windows
            .iter()
            .filter(|w| w.id != witness.id)
            .map(|w| w.id)
            .collect();
        assert_eq!(
            now, ours,
            "the original window went away with the duplicate: {windows:?}"
        );
    } else {
        assert_closed_by_compositor(&mut client.raw);
    }
    assert_session_healthy(&mut session, &witness);
}

#[test]
fn disconnect_in_the_middle_of_a_commit_leaves_no_ghost_window() {
    let (mut session, witness) = session_with_witness();
    let mut client = Client::connect(&session);
    let title = "robustness-half-commit";
    let toplevel = client.map_toplevel(title, 200, 120);
    wait_title_mapped(&session, title);
    // A new buffer is attached (sent whole), then only 5 of the 8 bytes of a wl_surface.commit
    // header are written, in pieces, before the socket is closed.
    let buffer = client.shm_buffer(200, 120, Some([0xff, 0x00, 0xff, 0xff]));
    toplevel.surface.attach(Some(&buffer), 0, 0);
    client.conn.flush().expect("flush the attach");
    let id = toplevel.surface.id().protocol_id();
    client.raw.write_all(&id.to_ne_bytes()[..2]).unwrap();
    client.raw.write_all(&id.to_ne_bytes()[2..]).unwrap();
    let opcode_and_size: u32 = (8 << 16) | 6; // wl_surface.commit: opcode 6, 8 bytes
    client.raw.write_all(&opcode_and_size.to_ne_bytes()[..1]).unwrap();
    drop(toplevel);
    drop(client);
    wait_title_gone(&session, title);
    let windows = session.windows();
    assert_eq!(windows.len(), 1, "ghost windows left: {windows:?}");
    assert_session_healthy(&mut session, &witness);
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status")
}

#[test]
fn buffer_on_an_xdg_surface_without_a_role_is_unconfigured_buffer() {
    let (mut session, witness) = session_with_witness();
    let mut client = Client::connect(&session);
    let surface = client.compositor().create_surface(&client.qh, ());
    let xdg_surface = client.wm_base().get_xdg_surface(&surface, &client.qh, ());
    let buffer = client.shm_buffer(64, 64, None);
    // No get_toplevel, so no configure can have come: attaching is the error, not committing.
    surface.attach(Some(&buffer), 0, 0);
    let result = client.roundtrip();
    let error = client.expect_protocol_error(result);
    assert_eq!(error.object_interface, "xdg_surface", "{error:?}");
    assert_eq!(error.object_id, xdg_surface.id().protocol_id(), "{error:?}");
    assert_eq!(
        error.code, 3,
        "expected xdg_surface.error.unconfigured_buffer: {error:?}"
    );
    assert_closed_by_compositor(&mut client.raw);
    assert_session_healthy(&mut session, &witness);
}

#[test]
fn oversized_buffer_is_refused_with_a_protocol_error() {
    let (mut session, witness) = session_with_witness();
    let mut client = Client::connect(&session);
    let title = "robustness-huge-buffer";
    let toplevel = client.map_toplevel(title, 160, 100);
    wait_title_mapped(&session, title);
    // 16384×16384 ARGB8888: 1 GiB, sparse in the memfd.
    let side = 2 * MAX_BUFFER_SIDE;
    let huge = client.shm_buffer(side, side, None);
    toplevel.surface.attach(Some(&huge), 0, 0);
    toplevel.surface.damage_buffer(0, 0, side, side);
    toplevel.surface.commit();
    let result = client.roundtrip();
    let error = client.expect_protocol_error(result);
    assert_eq!(error.object_interface, "wl_surface", "{error:?}");
    assert_eq!(error.code, 2, "expected wl_surface.error.invalid_size: {error:?}");
    assert_closed_by_compositor(&mut client.raw);
    drop(client);
    wait_title_gone(&session, title);
    assert_session_healthy(&mut session, &witness);
    let rss = vm_rss_kib(session.pid());
    assert!(
        rss < 500 * 1024,
        "compositor RSS is {rss} KiB after the huge buffer"
    );
}

#[test]
fn surface_flood_hits_the_per_client_limit_and_other_clients_are_fine() {
    let (mut session, witness) = session_with_witness();
    let mut flood = Client::connect(&session);
    let compositor = flood.compositor();
    // 1,000 surfaces in batches; every batch is flushed whole, then a roundtrip tells whether
    // the compositor accepted it. Batches up to the limit must pass, the next one must fail.
    const BATCH: usize = 50;
    let mut surfaces = Vec::new();
    let mut refused = None;
    for batch in 0..1000 / BATCH {
        for _ in 0..BATCH {
            surfaces.push(compositor.create_surface(&flood.qh, ()));
        }
        let result = flood.roundtrip();
        let created = (batch + 1) * BATCH;
        if created <= MAX_SURFACES_PER_CLIENT {
            result.unwrap_or_else(|e| panic!("disconnected at {created} surfaces: {e}"));
        } else {
            refused = Some(result);
            break;
        }
    }
    let result = refused.expect("1,000 surfaces were accepted");
    // wl_display.error(no_memory): wayland-client's Rust backend reports it as a protocol error,
    // its libwayland backend as ENOMEM (libwayland maps wl_display errors to errno values). A
    // plain disconnect without the error event would be EPIPE or ECONNRESET.
    match (flood.conn.protocol_error(), &result) {
        (Some(error), _) => {
            assert_eq!(error.object_interface, "wl_display", "{error:?}");
            assert_eq!(error.code, 2, "expected wl_display.error.no_memory: {error:?}");
        }
        (None, Err(DispatchError::Backend(WaylandError::Io(e)))) => {
            assert_eq!(
                e.raw_os_error(),
                Some(libc::ENOMEM),
                "expected no_memory, got {e}"
            );
        }
        (None, other) => panic!("the flooding client was not refused with no_memory: {other:?}"),
    }
    assert_closed_by_compositor(&mut flood.raw);
    drop(surfaces);
    drop(flood);

    let mut modest = Client::connect(&session);
    let compositor = modest.compositor();
    let surfaces: Vec<WlSurface> = (0..100)
        .map(|_| compositor.create_surface(&modest.qh, ()))
        .collect();
    modest.roundtrip().expect("100 surfaces are fine");
    surfaces[99].commit();
    modest.roundtrip().expect("still connected");
    assert!(modest.conn.protocol_error().is_none());
    assert_session_healthy(&mut session, &witness);
}

// ---------------------------------------------------------------------------------------------
// The control socket.

fn read_line(stream: &mut UnixStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte)? {
            0 => return Ok(String::from_utf8_lossy(&line).into_owned()),
            _ if byte[0] == b'\n' => return Ok(String::from_utf8_lossy(&line).into_owned()),
            _ => line.push(byte[0]),
        }
    }
}

fn error_reply(line: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("reply {line:?} is not JSON: {e}"));
    let fields = value
        .as_object()
        .unwrap_or_else(|| panic!("reply {line:?} is not an object"));
    assert_eq!(fields.len(), 1, "reply {line:?}");
    fields["error"]
        .as_str()
        .unwrap_or_else(|| panic!("reply {line:?} is not an error"))
        .to_string()
}

#[test]
fn control_socket_survives_garbage_lines() {
    let (mut session, witness) = session_with_witness();
    let mut conn = UnixStream::connect(&session.control).unwrap();
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();

    conn.write_all(b"this is not json\n").unwrap();
    let reply = read_line(&mut conn).unwrap();
    assert!(!error_reply(&reply).is_empty());

    conn.write_all(b"{\"request\":\"format-the-disk\"}\n").unwrap();
    let reply = read_line(&mut conn).unwrap();
    let message = error_reply(&reply);
    assert!(message.contains("format-the-disk"), "{message}");

    // The same connection still works after errors.
    conn.write_all(b"{\"request\":\"version\"}\n").unwrap();
    let reply: serde_json::Value = serde_json::from_str(&read_line(&mut conn).unwrap()).unwrap();
    assert_eq!(reply["ok"]["compositor"], "nexquelium", "{reply}");

    // 2 MiB without a newline: refused with an error and the connection closed.
    let writer = {
        let mut conn = conn.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..32 {
                if conn.write_all(&chunk).is_err() {
                    break; // closed by the compositor
                }
            }
        })
    };
    let reply = read_line(&mut conn).expect("an error reply for the overlong line");
    let message = error_reply(&reply);
    assert!(message.contains("longer"), "{message}");
    let closed = match conn.read(&mut [0u8; 16]) {
        Ok(0) => true,
        Err(e) => e.kind() == ErrorKind::ConnectionReset,
        Ok(_) => false,
    };
    assert!(closed, "the connection stayed open after the overlong line");
    writer.join().unwrap();

    // A new connection is served.
    let version = session
        .request(&exo_shell::control::Request::Version)
        .expect("version");
    assert_eq!(version["compositor"], "nexquelium");
    assert_session_healthy(&mut session, &witness);
}

#[test]
fn control_client_that_never_reads_its_replies_does_not_stall_the_session() {
    let (mut session, witness) = session_with_witness();
    let conn = UnixStream::connect(&session.control).unwrap();
    // Requests keep coming but the replies are never read: once the socket buffer is full the
    // compositor must give up on this connection rather than block on it.
    let writer = {
        let mut conn = conn.try_clone().unwrap();
        std::thread::spawn(move || {
            let line = b"{\"request\":\"version\"}\n".repeat(1000);
            for _ in 0..200 {
                if conn.write_all(&line).is_err() {
                    return true; // closed by the compositor
                }
            }
            false
        })
    };
    let started = Instant::now();
    let mut probe = exo_shell::control::ControlClient::connect(&session.control).unwrap();
    probe.set_timeout(Some(Duration::from_secs(10))).unwrap();
    probe
        .request(&exo_shell::control::Request::Version)
        .expect("version while another client floods");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "version took {:?}",
        started.elapsed()
    );
    assert!(writer.join().unwrap(), "the flooding connection was never closed");
    drop(conn);
    assert_session_healthy(&mut session, &witness);
}
