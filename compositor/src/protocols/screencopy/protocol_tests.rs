//! In-process protocol tests: a smithay server and a wayland-client client talking over a
//! socket pair, pumped by hand on one thread.

use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::{wl_buffer, wl_surface::WlSurface};
use smithay::reexports::wayland_server::{Client, Display};
use smithay::utils::{Physical, Rectangle, Size, Transform};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{CompositorClientState, CompositorHandler, CompositorState};
use smithay::wayland::output::OutputHandler;
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{delegate_compositor, delegate_output, delegate_shm};

use wayland_client::protocol::{wl_buffer as c_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{Connection, EventQueue, QueueHandle, WEnum};
use wayland_protocols_wlr::screencopy::v1::client::{
    zwlr_screencopy_frame_v1 as c_frame, zwlr_screencopy_manager_v1 as c_manager,
};

use super::{ScreencopyFrame, ScreencopyHandler, ScreencopyManagerState};

// ---- server ----

struct Server {
    compositor: CompositorState,
    shm: ShmState,
    _screencopy: ScreencopyManagerState,
    frames: Vec<ScreencopyFrame>,
}

#[derive(Default)]
struct ServerClientData {
    compositor: CompositorClientState,
}
impl ClientData for ServerClientData {
    fn initialized(&self, _: ClientId) {}
    fn disconnected(&self, _: ClientId, _: DisconnectReason) {}
}

impl CompositorHandler for Server {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }
    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client.get_data::<ServerClientData>().unwrap().compositor
    }
    fn commit(&mut self, _: &WlSurface) {}
}
impl BufferHandler for Server {
    fn buffer_destroyed(&mut self, _: &wl_buffer::WlBuffer) {}
}
impl ShmHandler for Server {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}
impl OutputHandler for Server {}
impl ScreencopyHandler for Server {
    fn frame(&mut self, frame: ScreencopyFrame) {
        self.frames.push(frame);
    }
}
delegate_compositor!(Server);
delegate_shm!(Server);
delegate_output!(Server);
crate::delegate_screencopy!(Server);

// ---- client ----

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Buffer(WEnum<wl_shm::Format>, u32, u32, u32),
    BufferDone,
    Flags(u32),
    Damage(u32, u32, u32, u32),
    Ready(u32, u32, u32),
    Failed,
}

#[derive(Default)]
struct ClientState {
    globals: Vec<(u32, String, u32)>,
    events: Vec<(u32, Ev)>,
}

impl wayland_client::Dispatch<wl_registry::WlRegistry, ()> for ClientState {
    fn event(
        state: &mut Self,
        _: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        {
            state.globals.push((name, interface, version));
        }
    }
}
macro_rules! ignore_events {
    ($($iface:ty),*) => {$(
        impl wayland_client::Dispatch<$iface, ()> for ClientState {
            fn event(_: &mut Self, _: &$iface, _: <$iface as wayland_client::Proxy>::Event,
                _: &(), _: &Connection, _: &QueueHandle<Self>) {}
        }
    )*};
}
ignore_events!(
    wl_shm::WlShm,
    wl_shm_pool::WlShmPool,
    c_buffer::WlBuffer,
    wl_output::WlOutput,
    c_manager::ZwlrScreencopyManagerV1
);
impl wayland_client::Dispatch<c_frame::ZwlrScreencopyFrameV1, u32> for ClientState {
    fn event(
        state: &mut Self,
        _: &c_frame::ZwlrScreencopyFrameV1,
        event: c_frame::Event,
        tag: &u32,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let ev = match event {
            c_frame::Event::Buffer {
                format,
                width,
                height,
                stride,
            } => Ev::Buffer(format, width, height, stride),
            c_frame::Event::BufferDone => Ev::BufferDone,
            c_frame::Event::Flags { flags } => Ev::Flags(u32::from(flags)),
            c_frame::Event::Damage { x, y, width, height } => Ev::Damage(x, y, width, height),
            c_frame::Event::Ready {
                tv_sec_hi,
                tv_sec_lo,
                tv_nsec,
            } => Ev::Ready(tv_sec_hi, tv_sec_lo, tv_nsec),
            c_frame::Event::Failed => Ev::Failed,
            other => panic!("unexpected event {other:?}"),
        };
        state.events.push((*tag, ev));
    }
}

// ---- harness ----

struct Harness {
    display: Display<Server>,
    server: Server,
    output: Output,
    conn: Connection,
    queue: EventQueue<ClientState>,
    client: ClientState,
    shm: wl_shm::WlShm,
    manager: c_manager::ZwlrScreencopyManagerV1,
    wl_output: wl_output::WlOutput,
}

impl Harness {
    fn new(mode: (i32, i32), scale: f64) -> Self {
        let display = Display::<Server>::new().unwrap();
        let dh = display.handle();
        let server = Server {
            compositor: CompositorState::new::<Server>(&dh),
            shm: ShmState::new::<Server>(&dh, [super::wl_shm::Format::Abgr8888]),
            _screencopy: ScreencopyManagerState::new::<Server>(&dh, |_| true),
            frames: Vec::new(),
        };
        let output = Output::new(
            "TEST-1".into(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "test".into(),
                model: "test".into(),
            },
        );
        let mode = Mode {
            size: mode.into(),
            refresh: 60_000,
        };
        output.change_current_state(
            Some(mode),
            Some(Transform::Normal),
            Some(Scale::Fractional(scale)),
            Some((0, 0).into()),
        );
        output.set_preferred(mode);
        output.create_global::<Server>(&dh);

        let (server_sock, client_sock) = UnixStream::pair().unwrap();
        display
            .handle()
            .insert_client(server_sock, Arc::new(ServerClientData::default()))
            .unwrap();
        let conn = Connection::from_socket(client_sock).unwrap();
        let queue = conn.new_event_queue();
        let qh = queue.handle();
        let registry = conn.display().get_registry(&qh, ());

        let mut display = display;
        let mut server = server;
        let mut queue = queue;
        let mut client = ClientState::default();
        pump(&mut display, &mut server, &conn, &mut queue, &mut client);
        let find = |iface: &str| client.globals.iter().find(|g| g.1 == iface).cloned().unwrap();
        let shm = registry.bind(find("wl_shm").0, 1, &qh, ());
        let wl_output = registry.bind(find("wl_output").0, 4, &qh, ());
        let g = find("zwlr_screencopy_manager_v1");
        assert_eq!(g.2, 3);
        let manager = registry.bind(g.0, 3, &qh, ());
        let mut h = Harness {
            display,
            server,
            output,
            conn,
            queue,
            client,
            shm,
            manager,
            wl_output,
        };
        h.pump();
        h
    }

    fn qh(&self) -> QueueHandle<ClientState> {
        self.queue.handle()
    }

    fn pump(&mut self) {
        pump(
            &mut self.display,
            &mut self.server,
            &self.conn,
            &mut self.queue,
            &mut self.client,
        );
    }

    fn events(&mut self, tag: u32) -> Vec<Ev> {
        self.client
            .events
            .iter()
            .filter(|e| e.0 == tag)
            .map(|e| e.1.clone())
            .collect()
    }

    /// An shm buffer backed by a memfd.
    fn buffer(&mut self, w: i32, h: i32, stride: i32, format: wl_shm::Format) -> (c_buffer::WlBuffer, File) {
        let fd = unsafe { libc::memfd_create(c"screencopy-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let len = stride * h;
        file.set_len(len as u64).unwrap();
        let qh = self.qh();
        let pool = self.shm.create_pool(file.as_fd(), len, &qh, ());
        let buffer = pool.create_buffer(0, w, h, stride, format, &qh, ());
        pool.destroy();
        (buffer, file)
    }

    fn protocol_error(&self) -> Option<(u32, String)> {
        self.conn.protocol_error().map(|e| (e.code, e.object_interface))
    }
}

/// Exchanges messages until both sides are idle (everything is in-process
/// and non-blocking, so a few rounds are enough).
fn pump(
    display: &mut Display<Server>,
    server: &mut Server,
    conn: &Connection,
    queue: &mut EventQueue<ClientState>,
    client: &mut ClientState,
) {
    for _ in 0..4 {
        let _ = conn.flush();
        display.dispatch_clients(server).unwrap();
        display.flush_clients().unwrap();
        if let Some(guard) = queue.prepare_read() {
            let _ = guard.read();
        }
        let _ = queue.dispatch_pending(client);
    }
}

/// Source image where pixel (x, y) = [x, y, 0x77, 0xFF].
fn source(size: Size<i32, Physical>) -> Vec<u8> {
    let mut v = Vec::new();
    for y in 0..size.h {
        for x in 0..size.w {
            v.extend_from_slice(&[x as u8, y as u8, 0x77, 0xFF]);
        }
    }
    v
}

#[test]
fn capture_output_copy_and_ready() {
    let mut h = Harness::new((64, 32), 1.0);
    let qh = h.qh();
    let frame = h.manager.capture_output(1, &h.wl_output, &qh, 1);
    h.pump();
    assert_eq!(
        h.events(1),
        vec![
            Ev::Buffer(WEnum::Value(wl_shm::Format::Argb8888), 64, 32, 256),
            Ev::BufferDone
        ]
    );

    // Larger stride than advertised, xrgb: accepted.
    let (buffer, file) = h.buffer(64, 32, 300, wl_shm::Format::Xrgb8888);
    frame.copy(&buffer);
    h.pump();
    assert!(h.protocol_error().is_none());
    assert_eq!(h.server.frames.len(), 1);

    let sc = h.server.frames.pop().unwrap();
    assert_eq!(sc.region(), Rectangle::from_size((64, 32).into()));
    assert!(!sc.with_damage());
    assert!(sc.overlay_cursor());
    assert_eq!(sc.output(), &h.output);
    let size = Size::from((64, 32));
    sc.copy_from(&source(size), 64 * 4, size).unwrap();
    sc.submit(Duration::new((3u64 << 32) | 5, 42), &[]);
    h.pump();
    assert_eq!(h.events(1)[2..], [Ev::Flags(0), Ev::Ready(3, 5, 42)]);

    let mut row = vec![0u8; 256];
    file.read_exact_at(&mut row, 300 * 7).unwrap();
    assert_eq!(&row[..8], &[0, 7, 0x77, 0xFF, 1, 7, 0x77, 0xFF]);
    assert_eq!(&row[63 * 4..], &[63, 7, 0x77, 0xFF]);
}

#[test]
fn capture_region_with_damage() {
    let mut h = Harness::new((200, 100), 2.0);
    let qh = h.qh();
    // Logical 100x50 output; the region is clipped at the right edge.
    let frame = h
        .manager
        .capture_output_region(0, &h.wl_output, 90, 10, 20, 5, &qh, 2);
    h.pump();
    assert_eq!(
        h.events(2),
        vec![
            Ev::Buffer(WEnum::Value(wl_shm::Format::Argb8888), 20, 10, 80),
            Ev::BufferDone
        ]
    );
    let (buffer, file) = h.buffer(20, 10, 80, wl_shm::Format::Argb8888);
    frame.copy_with_damage(&buffer);
    h.pump();
    let sc = h.server.frames.pop().unwrap();
    assert_eq!(sc.region(), Rectangle::new((180, 20).into(), (20, 10).into()));
    assert!(sc.with_damage());
    assert!(!sc.overlay_cursor());
    let size = Size::from((200, 100));
    // Wrong source size is rejected without touching the buffer.
    assert!(sc.copy_from(&source(size), 200 * 4, (100, 100).into()).is_err());
    sc.copy_from(&source(size), 200 * 4, size).unwrap();
    sc.submit(
        Duration::from_secs(1),
        &[
            Rectangle::new((185, 25).into(), (100, 2).into()),
            Rectangle::new((0, 0).into(), (5, 5).into()),
        ],
    );
    h.pump();
    assert_eq!(
        h.events(2)[2..],
        [Ev::Flags(0), Ev::Damage(5, 5, 15, 2), Ev::Ready(0, 1, 0)]
    );
    let mut px = [0u8; 4];
    file.read_exact_at(&mut px, 80 * 3 + 4 * 2).unwrap();
    assert_eq!(px, [182, 23, 0x77, 0xFF]);
}

#[test]
fn empty_region_fails_immediately() {
    let mut h = Harness::new((64, 64), 1.0);
    let qh = h.qh();
    let _frame = h
        .manager
        .capture_output_region(0, &h.wl_output, 100, 100, 10, 10, &qh, 3);
    let _frame2 = h
        .manager
        .capture_output_region(0, &h.wl_output, 0, 0, 0, 10, &qh, 4);
    // Negative sizes must not trip smithay's `Size` assertions.
    let _frame3 = h
        .manager
        .capture_output_region(0, &h.wl_output, 10, 10, -5, -5, &qh, 9);
    h.pump();
    assert_eq!(h.events(3), vec![Ev::Failed]);
    assert_eq!(h.events(4), vec![Ev::Failed]);
    assert_eq!(h.events(9), vec![Ev::Failed]);
    assert!(h.protocol_error().is_none());
}

#[test]
fn dropped_frame_sends_failed_and_dead_frame_is_harmless() {
    let mut h = Harness::new((16, 16), 1.0);
    let qh = h.qh();
    let f1 = h.manager.capture_output(0, &h.wl_output, &qh, 5);
    let f2 = h.manager.capture_output(0, &h.wl_output, &qh, 6);
    let (b1, _file1) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
    let (b2, _file2) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
    f1.copy(&b1);
    f2.copy(&b2);
    h.pump();
    assert_eq!(h.server.frames.len(), 2);
    let sc2 = h.server.frames.pop().unwrap();
    let sc1 = h.server.frames.pop().unwrap();
    drop(sc1);
    f2.destroy();
    h.pump();
    assert!(!sc2.is_alive());
    assert!(matches!(
        sc2.copy_from(&[0; 16 * 16 * 4], 64, (16, 16).into()),
        Err(super::ScreencopyError::FrameDestroyed)
    ));
    sc2.submit(Duration::ZERO, &[]);
    h.pump();
    assert_eq!(h.events(5)[2..], [Ev::Failed]);
    assert_eq!(h.events(6).len(), 2);
    assert!(h.protocol_error().is_none());
}

#[test]
fn second_copy_is_already_used() {
    let mut h = Harness::new((16, 16), 1.0);
    let qh = h.qh();
    let frame = h.manager.capture_output(0, &h.wl_output, &qh, 7);
    let (buffer, _file) = h.buffer(16, 16, 64, wl_shm::Format::Argb8888);
    frame.copy(&buffer);
    frame.copy(&buffer);
    h.pump();
    assert_eq!(h.protocol_error(), Some((0, "zwlr_screencopy_frame_v1".into())));
}

#[test]
fn wrong_buffer_is_invalid_buffer() {
    for (w, h_, stride, format) in [
        (15, 16, 64, wl_shm::Format::Argb8888),
        (16, 17, 64, wl_shm::Format::Argb8888),
        (16, 16, 64, wl_shm::Format::Abgr8888),
    ] {
        let mut h = Harness::new((16, 16), 1.0);
        let qh = h.qh();
        let frame = h.manager.capture_output(0, &h.wl_output, &qh, 8);
        let (buffer, _file) = h.buffer(w, h_, stride, format);
        frame.copy(&buffer);
        h.pump();
        assert_eq!(
            h.protocol_error(),
            Some((1, "zwlr_screencopy_frame_v1".into())),
            "{w}x{h_} {format:?}"
        );
        assert!(h.server.frames.is_empty());
    }
}
