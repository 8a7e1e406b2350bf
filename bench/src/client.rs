//! The Wayland test client (`exo-bench client`) and the startup probe.
//!
//! The client shows one xdg_toplevel with a SIZE×SIZE XRGB8888 wl_shm buffer. Static: it draws
//! once and asks for one frame callback. `--animate`: on every frame callback it rewrites every
//! pixel of a free buffer, attaches it with full damage and asks for the next callback. After
//! each frame callback it stores the number received so far (a little-endian u64) at offset 0 of
//! `--count-file`, which the harness reads at the start and end of a measured window.

use std::fs::File;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{
    wl_buffer::{self, WlBuffer},
    wl_callback::{self, WlCallback},
    wl_compositor::WlCompositor,
    wl_registry::WlRegistry,
    wl_shm::{self, WlShm},
    wl_shm_pool::WlShmPool,
    wl_surface::WlSurface,
};
use wayland_client::{delegate_noop, Connection, Dispatch, QueueHandle};
use wayland_protocols::xdg::shell::client::{
    xdg_surface::{self, XdgSurface},
    xdg_toplevel::{self, XdgToplevel},
    xdg_wm_base::{self, XdgWmBase},
};

const SLOTS: usize = 4;

/// Connects to the compositor socket at `path` and completes one `wl_display.sync` round trip.
pub fn sync_once(path: &Path) -> Result<()> {
    let stream = UnixStream::connect(path)?;
    let conn = Connection::from_socket(stream)?;
    let mut queue = conn.new_event_queue::<()>();
    queue.roundtrip(&mut ())?;
    Ok(())
}

/// Polls (every millisecond) until `socket` accepts a connection that completes a sync round trip.
pub fn wait_for_sync(socket: impl Fn() -> Option<PathBuf>, timeout: Duration) -> Result<PathBuf> {
    let deadline = Instant::now() + timeout;
    let mut last_err = String::from("no socket yet");
    while Instant::now() < deadline {
        if let Some(p) = socket() {
            match sync_once(&p) {
                Ok(()) => return Ok(p),
                Err(e) => last_err = format!("{}: {e}", p.display()),
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    bail!("no wl_display.sync round trip within {timeout:?} ({last_err})")
}

struct Slot {
    buffer: WlBuffer,
    busy: bool,
}

struct Client {
    surface: WlSurface,
    slots: Vec<Slot>,
    map: *mut u32,
    size: u32,
    animate: bool,
    configured: bool,
    waiting_buffer: bool,
    frames: u64,
    count_file: Option<File>,
    closed: bool,
}

impl Client {
    fn draw(&mut self, qh: &QueueHandle<Self>) {
        let Some(i) = self.slots.iter().position(|s| !s.busy) else {
            self.waiting_buffer = true; // every buffer is still held: the next release draws
            return;
        };
        self.waiting_buffer = false;
        let px = (self.size * self.size) as usize;
        // SAFETY: the mapping holds SLOTS * px u32 and lives as long as the process.
        let pixels = unsafe { std::slice::from_raw_parts_mut(self.map.add(i * px), px) };
        let f = self.frames as u32;
        let color =
            0xff00_0000 | (f.wrapping_mul(7) & 0xff) << 16 | (f.wrapping_mul(13) & 0xff) << 8 | (f & 0xff);
        pixels.fill(color);
        self.slots[i].busy = true;
        self.surface.attach(Some(&self.slots[i].buffer), 0, 0);
        self.surface
            .damage_buffer(0, 0, self.size as i32, self.size as i32);
        self.surface.frame(qh, ());
        self.surface.commit();
    }

    fn frame_done(&mut self, qh: &QueueHandle<Self>) {
        self.frames += 1;
        if let Some(f) = &self.count_file {
            let _ = f.write_at(&self.frames.to_le_bytes(), 0);
        }
        if self.animate {
            self.draw(qh);
        }
    }
}

pub fn run(socket: &Path, size: u32, animate: bool, count_file: Option<&Path>) -> Result<()> {
    let stream =
        UnixStream::connect(socket).with_context(|| format!("connecting to {}", socket.display()))?;
    let conn = Connection::from_socket(stream)?;
    let (globals, mut queue) = registry_queue_init::<Client>(&conn)?;
    let qh = queue.handle();
    let compositor: WlCompositor = globals.bind(&qh, 1..=4, ())?;
    let shm: WlShm = globals.bind(&qh, 1..=1, ())?;
    let wm: XdgWmBase = globals.bind(&qh, 1..=2, ())?;

    let stride = size as i32 * 4;
    let slot_len = stride as usize * size as usize;
    let len = slot_len * SLOTS;
    // SAFETY: plain syscalls; every result is checked before use.
    let (fd, map) = unsafe {
        let raw = libc::memfd_create(c"exo-bench".as_ptr(), libc::MFD_CLOEXEC);
        if raw < 0 {
            bail!("memfd_create: {}", std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(raw);
        if libc::ftruncate(raw, len as libc::off_t) != 0 {
            bail!("ftruncate: {}", std::io::Error::last_os_error());
        }
        let map = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            raw,
            0,
        );
        if map == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        (fd, map as *mut u32)
    };
    let pool = shm.create_pool(fd.as_fd(), len as i32, &qh, ());
    let slots = (0..SLOTS)
        .map(|i| Slot {
            buffer: pool.create_buffer(
                (i * slot_len) as i32,
                size as i32,
                size as i32,
                stride,
                wl_shm::Format::Xrgb8888,
                &qh,
                i,
            ),
            busy: false,
        })
        .collect();

    let surface = compositor.create_surface(&qh, ());
    let xdg = wm.get_xdg_surface(&surface, &qh, ());
    let toplevel = xdg.get_toplevel(&qh, ());
    toplevel.set_title("exo-bench".into());
    toplevel.set_app_id("exo-bench".into());
    surface.commit();

    let count_file = match count_file {
        Some(p) => Some(File::create(p).with_context(|| format!("creating {}", p.display()))?),
        None => None,
    };
    let mut client = Client {
        surface,
        slots,
        map,
        size,
        animate,
        configured: false,
        waiting_buffer: false,
        frames: 0,
        count_file,
        closed: false,
    };
    while !client.closed {
        queue.blocking_dispatch(&mut client)?;
    }
    Ok(())
}

impl Dispatch<WlRegistry, GlobalListContents> for Client {
    fn event(
        _: &mut Self,
        _: &WlRegistry,
        _: <WlRegistry as wayland_client::Proxy>::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

delegate_noop!(Client: ignore WlCompositor);
delegate_noop!(Client: ignore WlShm);
delegate_noop!(Client: ignore WlShmPool);
delegate_noop!(Client: ignore WlSurface);

impl Dispatch<WlBuffer, usize> for Client {
    fn event(
        s: &mut Self,
        _: &WlBuffer,
        ev: wl_buffer::Event,
        i: &usize,
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = ev {
            s.slots[*i].busy = false;
            if s.waiting_buffer {
                s.draw(qh);
            }
        }
    }
}

impl Dispatch<WlCallback, ()> for Client {
    fn event(
        s: &mut Self,
        _: &WlCallback,
        ev: wl_callback::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = ev {
            s.frame_done(qh);
        }
    }
}

impl Dispatch<XdgWmBase, ()> for Client {
    fn event(
        _: &mut Self,
        wm: &XdgWmBase,
        ev: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = ev {
            wm.pong(serial);
        }
    }
}

impl Dispatch<XdgSurface, ()> for Client {
    fn event(
        s: &mut Self,
        xdg: &XdgSurface,
        ev: xdg_surface::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = ev {
            xdg.ack_configure(serial);
            if !s.configured {
                s.configured = true;
                s.draw(qh);
            } else {
                s.surface.commit(); // acknowledge later configures; the buffer stays SIZE×SIZE
            }
        }
    }
}

impl Dispatch<XdgToplevel, ()> for Client {
    fn event(
        s: &mut Self,
        _: &XdgToplevel,
        ev: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = ev {
            s.closed = true;
        }
    }
}

/// Reads the frame count a client stored in its count file (0 before its first frame).
pub fn read_count(path: &Path) -> u64 {
    let mut b = [0u8; 8];
    match File::open(path).and_then(|f| f.read_exact_at(&mut b, 0)) {
        Ok(()) => u64::from_le_bytes(b),
        Err(_) => 0,
    }
}
