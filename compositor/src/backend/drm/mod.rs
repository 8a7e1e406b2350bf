//! The DRM/KMS backend: Nexquelium on a console. A libseat session gives the DRM device and the
//! input devices; udev finds them and reports connector changes; libinput reads input; frames
//! are rendered with pixman and scanned out through one of the paths in [`scanout`].
//!
//! One output per connected connector (each on its own CRTC), at its preferred mode unless
//! `--mode` asks for another. When connectors appear, disappear or change modes, outputs are
//! added, removed or resized; with no connector left the last output stays, dark.

mod connectors;
mod cursor_plane;
mod gles;
mod input;
mod mapped;
mod mapped_buffer;
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
    reexports::{calloop::LoopHandle, drm::control::crtc, input::Libinput, rustix::fs::OFlags},
    utils::DeviceFd,
};

use connectors::Choice;
pub use connectors::ModeRequest;
use scanout::{NeedsMapped, Scanout, ScanoutChoice};

use crate::{
    backend::{canvas::Captures, Backend},
    cursor::CursorImages,
    redraw::RenderOutcome,
    render::{output_elements, plane_cursor},
    state::{Nexq, State},
};

pub struct DrmBackend {
    session: LibSeatSession,
    device: DrmDevice,
    fd: DrmDeviceFd,
    path: PathBuf,
    libinput: Libinput,
    renderer: PixmanRenderer,
    /// GLES on GBM, when chosen (see [`gles`]); outputs whose scanout is not GLES use pixman.
    gles: Option<gles::Gles>,
    mode_request: Option<ModeRequest>,
    scanout_choice: ScanoutChoice,
    /// The lit connectors, each showing one output.
    heads: Vec<Head>,
    /// The connectors found at start, before their outputs exist.
    initial: Vec<Choice>,
    active: bool,
    /// A redraw was asked for while a flip was in flight.
    redraw_after_flip: bool,
    cursors: CursorImages,
    pub captures: Captures,
    pub frame_count: u64,
}

/// A connector showing an output, and how frames reach it.
struct Head {
    choice: Choice,
    output: Output,
    scanout: Scanout,
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
        let initial = connectors::choose_all(&device, mode_request)
            .with_context(|| format!("cannot read the connectors of {}", path.display()))?;
        anyhow::ensure!(
            !initial.is_empty(),
            "{}: no connector has a display connected",
            path.display()
        );
        for choice in &initial {
            tracing::info!(device = %path.display(), connector = %choice.name, mode = ?choice.mode, "DRM output");
        }

        handle
            .insert_source(drm_events, |event, _, state| match event {
                DrmEvent::VBlank(crtc) => on_flip(state, crtc),
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

        let gles = gles::choose(gles::RendererChoice::from_env(), &fd);
        Ok(Self {
            session,
            device,
            fd,
            path,
            libinput,
            renderer: PixmanRenderer::new().context("cannot create the pixman renderer")?,
            gles,
            mode_request,
            scanout_choice: ScanoutChoice::from_env(),
            heads: Vec::new(),
            initial,
            active: true,
            redraw_after_flip: false,
            cursors: CursorImages::for_planes(),
            captures: Captures::default(),
            frame_count: 0,
        })
    }

    /// Light up the connectors found by [`open`](Self::open), each with an output made by
    /// `make_output` from the connector's name (e.g. `Virtual-1`). The first connector must
    /// light; one of the others that cannot is left dark with a warning.
    pub fn start(&mut self, mut make_output: impl FnMut(&str) -> Output) -> anyhow::Result<Vec<Output>> {
        let mut outputs = Vec::new();
        for choice in std::mem::take(&mut self.initial) {
            let output = make_output(&choice.name);
            match self.light(choice, &output) {
                Ok(()) => outputs.push(output),
                Err(err) if outputs.is_empty() => return Err(err),
                Err(err) => tracing::warn!("{err:#}"),
            }
        }
        Ok(outputs)
    }

    /// Show `output` on the chosen connector (replacing what that connector or output showed)
    /// and give the output the connector's mode.
    fn light(&mut self, choice: Choice, output: &Output) -> anyhow::Result<()> {
        self.heads
            .retain(|h| h.choice.connector != choice.connector && &h.output != output);
        let mode = Mode::from(choice.mode);
        output.change_current_state(Some(mode), None, None, None);
        output.set_preferred(mode);
        let scanout = self.scanout_for(&choice, output)?;
        tracing::info!(connector = %choice.name, scanout = scanout.kind(), size = ?mode.size, "output lit");
        self.heads.push(Head {
            choice,
            output: output.clone(),
            scanout,
        });
        Ok(())
    }

    fn scanout_for(&mut self, choice: &Choice, output: &Output) -> anyhow::Result<Scanout> {
        let wanted = match self.scanout_choice {
            ScanoutChoice::Auto if !can_export_dumb_buffers(&self.fd) => ScanoutChoice::Mapped,
            other => other,
        };
        if self.gles.is_some() {
            let surface = self.surface_for(choice)?;
            if let Some(gles) = &self.gles {
                match Scanout::new_gles(&self.device, &gles.gbm, surface, output, &gles.renderer) {
                    Ok(scanout) => return Ok(scanout),
                    Err(err) => tracing::warn!(connector = %choice.name, "{err:#}; rendering with pixman"),
                }
            }
        }
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

    /// Renders every lit output whose last flip is done; an output still flipping is drawn
    /// after its flip event.
    pub fn render(&mut self, nexq: &mut Nexq) -> anyhow::Result<RenderOutcome> {
        let mut outcome = RenderOutcome::default();
        self.captures.retain(nexq);
        if !self.active {
            outcome.paused = true;
            return Ok(outcome);
        }
        let clear = nexq.config.appearance.background.to_f32_rgba();
        for head in &mut self.heads {
            if head.scanout.busy() {
                self.redraw_after_flip = true;
                continue;
            }
            let rendered = match &mut self.gles {
                Some(gles) if head.scanout.kind() == "gles" => {
                    let elements =
                        output_elements(&mut gles.renderer, nexq, &head.output, &mut self.cursors, true);
                    head.scanout
                        .render_gles(&mut gles.renderer, &elements, clear.into())?
                }
                _ => render_pixman(&mut self.renderer, nexq, head, &mut self.cursors, clear.into())?,
            };
            outcome.merge(RenderOutcome {
                damaged: rendered.damaged,
                states: rendered.states,
                ..Default::default()
            });
        }
        if outcome.damaged {
            self.frame_count += 1;
        }
        Ok(outcome)
    }

    /// A flip on `crtc` finished: returns whether a redraw is owed.
    fn flipped(&mut self, crtc: crtc::Handle) -> bool {
        if let Some(head) = self.heads.iter_mut().find(|h| h.choice.crtc == crtc) {
            head.scanout.flipped();
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

/// One output's frame with pixman; the pointer goes on the cursor plane when the scanout has
/// one and the image fits it.
fn render_pixman(
    renderer: &mut PixmanRenderer,
    nexq: &mut Nexq,
    head: &mut Head,
    cursors: &mut CursorImages,
    clear: smithay::backend::renderer::Color32F,
) -> anyhow::Result<scanout::Rendered> {
    let on_plane = head
        .scanout
        .cursor_plane_size()
        .and_then(|max| plane_cursor(renderer, nexq, &head.output, cursors, max));
    let composited = on_plane.is_none();
    let elements = output_elements(renderer, nexq, &head.output, cursors, composited);
    let scale = head.output.current_scale().fractional_scale();
    head.scanout
        .render(renderer, &elements, on_plane.flatten().as_ref(), clear, scale)
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
fn on_flip(state: &mut State, crtc: crtc::Handle) {
    if with_drm(state, |drm, _| drm.flipped(crtc)).unwrap_or(false) {
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
            for head in &mut drm.heads {
                head.scanout.reset();
            }
            drm.active = true;
            true
        }
    });
    if resumed == Some(true) {
        state.queue_redraw();
    }
}

/// udev says the device changed (a connector was plugged, unplugged or got new modes): new
/// connectors get outputs, gone ones lose theirs, changed ones are lit again at their new mode.
fn rescan(state: &mut State) {
    let Some(Some(plan)) = with_drm(state, |drm, _| drm.plan_rescan()) else {
        return;
    };
    if plan.is_empty() {
        return;
    }
    let dh = state.nexq.display_handle.clone();
    for (choice, output) in plan.relight {
        if let Some(Err(err)) = with_drm(state, |drm, _| drm.light(choice, &output)) {
            tracing::warn!("{err:#}");
        }
    }
    for choice in plan.add {
        let output = crate::init::create_output(&dh, &choice.name, crate::init::OutputSpec::default());
        match with_drm(state, |drm, _| drm.light(choice, &output)) {
            Some(Ok(())) => state.add_output(output),
            Some(Err(err)) => tracing::warn!("{err:#}"),
            None => {}
        }
    }
    for output in plan.gone {
        if !state.remove_output(&output) {
            tracing::warn!(output = %output.name(), "no display connected any more; the output stays, dark");
        }
    }
    // An output left dark before (the last one, when every display went) goes once others are lit.
    let lit: Vec<Output> = match &state.backend {
        Backend::Drm(drm) => drm.heads.iter().map(|h| h.output.clone()).collect(),
        _ => return,
    };
    let dark: Vec<Output> = state
        .nexq
        .outputs
        .iter()
        .filter(|o| !lit.contains(o))
        .cloned()
        .collect();
    for output in dark {
        state.remove_output(&output);
    }
    state.outputs_changed();
}

/// What a rescan changes: see [`DrmBackend::plan_rescan`].
struct RescanPlan {
    relight: Vec<(Choice, Output)>,
    add: Vec<Choice>,
    gone: Vec<Output>,
}

impl RescanPlan {
    fn is_empty(&self) -> bool {
        self.relight.is_empty() && self.add.is_empty() && self.gone.is_empty()
    }
}

impl DrmBackend {
    /// Compare the connectors now with the lit ones. Heads whose connector went are dropped
    /// here (their outputs are in `gone`).
    fn plan_rescan(&mut self) -> Option<RescanPlan> {
        let choices = match connectors::choose_all(&self.device, self.mode_request) {
            Ok(choices) => choices,
            Err(err) => {
                tracing::warn!(%err, "cannot rescan connectors");
                return None;
            }
        };
        let mut plan = RescanPlan {
            relight: Vec::new(),
            add: Vec::new(),
            gone: Vec::new(),
        };
        self.heads.retain(|head| {
            let still = choices.iter().any(|c| c.connector == head.choice.connector);
            if !still {
                tracing::info!(connector = %head.choice.name, "display disconnected");
                plan.gone.push(head.output.clone());
            }
            still
        });
        for choice in choices {
            match self.heads.iter().find(|h| h.choice.connector == choice.connector) {
                Some(head) if head.choice == choice => {}
                Some(head) => plan.relight.push((choice, head.output.clone())),
                None => plan.add.push(choice),
            }
        }
        Some(plan)
    }
}
