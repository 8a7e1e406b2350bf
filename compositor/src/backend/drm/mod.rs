//! The DRM/KMS backend: Nexquelium on a console. A libseat session gives the DRM device and the
//! input devices; udev finds them and reports connector changes; libinput reads input; frames
//! are rendered with pixman and scanned out through one of the paths in [`scanout`].
//!
//! One output: the first connected connector, at its preferred mode unless `--mode` asks for
//! another. When connectors appear, disappear or change modes, the output follows.

mod connectors;
mod input;
mod scanout;

use std::path::{Path, PathBuf};

use anyhow::Context;
use smithay::{
    backend::{
        drm::{DrmDevice, DrmDeviceFd, DrmEvent},
        libinput::{LibinputInputBackend, LibinputSessionInterface},
        renderer::pixman::PixmanRenderer,
        session::{libseat::LibSeatSession, Event as SessionEvent, Session},
        udev::{all_gpus, primary_gpu, UdevBackend, UdevEvent},
    },
    output::{Mode, Output},
    reexports::{calloop::LoopHandle, input::Libinput, rustix::fs::OFlags},
    utils::DeviceFd,
};

use connectors::Choice;
pub use connectors::ModeRequest;
use scanout::{NeedsMapped, Scanout, ScanoutChoice};

use crate::{
    backend::{
        canvas::{Captures, CpuFrame},
        Backend,
    },
    cursor::CursorImages,
    redraw::RenderOutcome,
    render::output_elements,
    state::{Nexq, State},
};

pub struct DrmBackend {
    session: LibSeatSession,
    device: DrmDevice,
    fd: DrmDeviceFd,
    path: PathBuf,
    libinput: Libinput,
    renderer: PixmanRenderer,
    mode_request: Option<ModeRequest>,
    scanout_choice: ScanoutChoice,
    /// The connector showing the output, and how frames reach it; None while none is connected.
    head: Option<(Choice, Scanout)>,
    /// The connector chosen at start, before the output exists.
    initial: Option<Choice>,
    active: bool,
    /// A redraw was asked for while a flip was in flight.
    redraw_after_flip: bool,
    cursors: CursorImages,
    captures: Captures,
    pub frame_count: u64,
}

/// `/dev/dri/card*` exists: a DRM backend could run here.
pub fn has_card() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|dir| {
        dir.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("card"))
    })
}

impl DrmBackend {
    /// Open the seat, the DRM device and the input devices, and choose the connector.
    pub fn open(
        handle: &LoopHandle<'static, State>,
        mode_request: Option<ModeRequest>,
    ) -> anyhow::Result<Self> {
        let (session, notifier) = LibSeatSession::new().map_err(|err| {
            anyhow::anyhow!(
                "cannot open a seat session with libseat: {err} (run as root, or under seatd or logind)"
            )
        })?;
        let seat = session.seat();
        let path = choose_card(&seat)?;
        let mut session_for_open = session.clone();
        let fd = session_for_open
            .open(
                &path,
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            )
            .map_err(|err| anyhow::anyhow!("cannot open {}: {err}", path.display()))?;
        let fd = DrmDeviceFd::new(DeviceFd::from(fd));
        let (device, drm_events) = DrmDevice::new(fd.clone(), true)
            .with_context(|| format!("{} is not a usable KMS device", path.display()))?;
        let initial = connectors::choose(&device, mode_request)
            .with_context(|| format!("cannot read the connectors of {}", path.display()))?
            .ok_or_else(|| anyhow::anyhow!("{}: no connector has a display connected", path.display()))?;
        tracing::info!(device = %path.display(), connector = %initial.name, mode = ?initial.mode, "DRM output");

        handle
            .insert_source(drm_events, |event, _, state| match event {
                DrmEvent::VBlank(_) => on_flip(state),
                DrmEvent::Error(err) => tracing::warn!(%err, "DRM device error"),
            })
            .map_err(|err| anyhow::anyhow!("cannot watch the DRM device: {err}"))?;
        handle
            .insert_source(notifier, |event, _, state| session_event(state, event))
            .map_err(|err| anyhow::anyhow!("cannot watch the seat session: {err}"))?;
        let udev = UdevBackend::new(&seat).context("cannot watch udev for device changes")?;
        handle
            .insert_source(udev, |event, _, state| match event {
                UdevEvent::Changed { .. } => rescan(state),
                UdevEvent::Added { path, .. } => tracing::info!(path = %path.display(), "DRM device added"),
                UdevEvent::Removed { .. } => tracing::info!("a DRM device was removed"),
            })
            .map_err(|err| anyhow::anyhow!("cannot watch udev: {err}"))?;

        let mut libinput =
            Libinput::new_with_udev::<LibinputSessionInterface<LibSeatSession>>(session.clone().into());
        libinput
            .udev_assign_seat(&seat)
            .map_err(|()| anyhow::anyhow!("libinput cannot use seat {seat}"))?;
        // The devices found now are queued inside libinput without waking its fd: dispatch and
        // drain them here, or they (and the first input) show up only after the next event.
        if let Err(err) = libinput.dispatch() {
            tracing::warn!(%err, "libinput dispatch failed");
        }
        let found = libinput.by_ref().count();
        tracing::info!(events = found, "libinput initialised");
        handle
            .insert_source(LibinputInputBackend::new(libinput.clone()), |event, _, state| {
                input::handle(state, event)
            })
            .map_err(|err| anyhow::anyhow!("cannot watch input devices: {err}"))?;

        Ok(Self {
            session,
            device,
            fd,
            path,
            libinput,
            renderer: PixmanRenderer::new().context("cannot create the pixman renderer")?,
            mode_request,
            scanout_choice: ScanoutChoice::from_env(),
            head: None,
            initial: Some(initial),
            active: true,
            redraw_after_flip: false,
            cursors: CursorImages::default(),
            captures: Captures::default(),
            frame_count: 0,
        })
    }

    /// The output's name, from the connector (e.g. `Virtual-1`).
    pub fn output_name(&self) -> String {
        self.initial
            .as_ref()
            .map_or_else(|| "DRM-1".to_string(), |c| c.name.clone())
    }

    /// Light up the connector chosen by [`open`](Self::open) and give `output` its mode.
    pub fn start(&mut self, output: &Output) -> anyhow::Result<()> {
        let choice = self.initial.take().context("the DRM output was started twice")?;
        self.light(choice, output)
    }

    fn light(&mut self, choice: Choice, output: &Output) -> anyhow::Result<()> {
        self.head = None;
        let mode = Mode::from(choice.mode);
        output.change_current_state(Some(mode), None, None, Some((0, 0).into()));
        output.set_preferred(mode);
        let scanout = self.scanout_for(&choice, output)?;
        tracing::info!(connector = %choice.name, scanout = scanout.kind(), size = ?mode.size, "output lit");
        self.head = Some((choice, scanout));
        Ok(())
    }

    fn scanout_for(&mut self, choice: &Choice, output: &Output) -> anyhow::Result<Scanout> {
        let wanted = match self.scanout_choice {
            ScanoutChoice::Auto if !can_export_dumb_buffers(&self.fd) => ScanoutChoice::Mapped,
            other => other,
        };
        let surface = self.surface_for(choice)?;
        match Scanout::new(wanted, &self.device, &self.fd, surface, output, &self.renderer) {
            Err(err) if err.is::<NeedsMapped>() => {
                let surface = self.surface_for(choice)?;
                Scanout::new(
                    ScanoutChoice::Mapped,
                    &self.device,
                    &self.fd,
                    surface,
                    output,
                    &self.renderer,
                )
            }
            other => other,
        }
        .with_context(|| format!("{}: cannot show frames on {}", self.path.display(), choice.name))
    }

    fn surface_for(&mut self, choice: &Choice) -> anyhow::Result<smithay::backend::drm::DrmSurface> {
        self.device
            .create_surface(choice.crtc, choice.mode, &[choice.connector])
            .with_context(|| format!("{}: cannot drive connector {}", self.path.display(), choice.name))
    }

    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        let nothing = || RenderOutcome {
            damaged: false,
            states: Default::default(),
        };
        let Some((_, scanout)) = self.head.as_mut() else {
            return Ok(nothing());
        };
        if !self.active {
            return Ok(nothing());
        }
        if scanout.busy() {
            self.redraw_after_flip = true;
            return Ok(nothing());
        }
        let elements = output_elements(&mut self.renderer, nexq, &mut self.cursors, true);
        let clear = nexq.config.appearance.background.to_f32_rgba();
        let rendered = scanout.render(&mut self.renderer, &elements, clear.into())?;
        if rendered.damaged {
            self.frame_count += 1;
        }
        Ok(RenderOutcome {
            damaged: rendered.damaged,
            states: rendered.states,
        })
    }

    pub fn capture(&mut self, nexq: &mut Nexq, with_cursor: bool) -> anyhow::Result<CpuFrame> {
        self.captures.capture(nexq, with_cursor)
    }

    /// A flip finished: returns whether a redraw is owed.
    fn flipped(&mut self) -> bool {
        if let Some((_, scanout)) = self.head.as_mut() {
            scanout.flipped();
        }
        std::mem::take(&mut self.redraw_after_flip)
    }

    /// Switch to virtual terminal `vt` (Ctrl+Alt+F<vt>); the session pauses until we are back.
    pub fn change_vt(&mut self, vt: i32) {
        if let Err(err) = self.session.change_vt(vt) {
            tracing::warn!(vt, %err, "cannot switch virtual terminal");
        }
    }

    /// Device name for messages.
    pub fn device_path(&self) -> &Path {
        &self.path
    }
}

/// `NEXQUELIUM_DRM_DEVICE`, else the seat's boot GPU, else its first card.
fn choose_card(seat: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("NEXQUELIUM_DRM_DEVICE") {
        return Ok(PathBuf::from(path));
    }
    if let Ok(Some(path)) = primary_gpu(seat) {
        return Ok(path);
    }
    all_gpus(seat)
        .context("cannot list the GPUs through udev")?
        .into_iter()
        .next()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no DRM device on seat {seat}: /dev/dri has no card (is the GPU's kernel module loaded?)"
            )
        })
}

/// DRM_CAP_PRIME has DRM_PRIME_CAP_EXPORT: dumb buffers can become dma-bufs.
fn can_export_dumb_buffers(fd: &DrmDeviceFd) -> bool {
    use smithay::reexports::drm::{Device, DriverCapability};
    const DRM_PRIME_CAP_EXPORT: u64 = 0x2;
    fd.get_driver_capability(DriverCapability::Prime)
        .is_ok_and(|cap| cap & DRM_PRIME_CAP_EXPORT != 0)
}

fn with_drm<T>(state: &mut State, f: impl FnOnce(&mut DrmBackend, &mut Nexq) -> T) -> Option<T> {
    match &mut state.backend {
        Backend::Drm(drm) => Some(f(drm, &mut state.nexq)),
        _ => None,
    }
}

/// A flip finished; draw the frame that waited for it.
fn on_flip(state: &mut State) {
    if with_drm(state, |drm, _| drm.flipped()).unwrap_or(false) {
        state.queue_redraw();
    }
}

/// VT switches: pause the device and input while away, set everything again on return.
fn session_event(state: &mut State, event: SessionEvent) {
    let resumed = with_drm(state, |drm, _| match event {
        SessionEvent::PauseSession => {
            tracing::info!("session paused (VT switched away)");
            drm.active = false;
            drm.libinput.suspend();
            drm.device.pause();
            false
        }
        SessionEvent::ActivateSession => {
            tracing::info!("session active again");
            if drm.libinput.resume().is_err() {
                tracing::warn!("libinput cannot resume");
            }
            if let Err(err) = drm.device.activate(false) {
                tracing::warn!(%err, "cannot reactivate the DRM device");
            }
            if let Some((_, scanout)) = drm.head.as_mut() {
                scanout.reset();
            }
            drm.active = true;
            true
        }
    });
    if resumed == Some(true) {
        state.queue_redraw();
    }
}

/// udev says the device changed (a connector was plugged, unplugged or got new modes): the
/// output follows the first connected connector.
fn rescan(state: &mut State) {
    let output = state.nexq.output.clone();
    let changed = with_drm(state, |drm, _| {
        let choice = match connectors::choose(&drm.device, drm.mode_request) {
            Ok(choice) => choice,
            Err(err) => {
                tracing::warn!(%err, "cannot rescan connectors");
                return false;
            }
        };
        let current = drm.head.as_ref().map(|(c, _)| c.clone());
        if choice == current {
            return false;
        }
        match choice {
            None => {
                tracing::warn!(device = %drm.path.display(), "no display connected any more");
                drm.head = None;
                false
            }
            Some(choice) => match drm.light(choice, &output) {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!("{err:#}");
                    false
                }
            },
        }
    });
    if changed == Some(true) {
        state.update_usable_area();
        state.queue_redraw();
    }
}
