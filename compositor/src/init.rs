//! Building the session: globals, the seat, the output and the listening socket. The binary,
//! the in-process test fixture and the WLCS integration all go through `State::new`.

use std::{cell::RefCell, os::fd::AsFd, rc::Rc, sync::Arc};

use anyhow::Context;
use exo_shell::{config::Config, layout::Layout, Capability, CapabilitySet};
use smithay::{
    desktop::{PopupManager, Space},
    input::{keyboard::XkbConfig, pointer::CursorImageStatus, SeatState},
    output::{Mode, Output, PhysicalProperties, Scale, Subpixel},
    reexports::{
        calloop::{generic::Generic, EventLoop, Interest, PostAction},
        wayland_server::{Display, DisplayHandle},
    },
    utils::{Clock, Transform},
    wayland::{
        compositor::CompositorState,
        cursor_shape::CursorShapeManagerState,
        fractional_scale::FractionalScaleManagerState,
        output::OutputManagerState,
        pointer_constraints::PointerConstraintsState,
        presentation::PresentationState,
        relative_pointer::RelativePointerManagerState,
        selection::{data_device::DataDeviceState, primary_selection::PrimarySelectionState},
        shell::{
            wlr_layer::WlrLayerShellState,
            xdg::{decoration::XdgDecorationState, XdgShellState},
        },
        shm::ShmState,
        single_pixel_buffer::SinglePixelBufferState,
        socket::ListeningSocketSource,
        text_input::TextInputManagerState,
        viewporter::ViewporterState,
        xdg_activation::XdgActivationState,
    },
};

use crate::{
    backend::Backend,
    capsules::gate::filter_for,
    protocols::screencopy::ScreencopyManagerState,
    redraw::RedrawState,
    state::{ClientIdentity, ClientState, Nexq, State},
};

/// The output's initial shape, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    pub width: i32,
    pub height: i32,
    pub scale: f64,
    pub refresh_hz: f64,
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 720,
            scale: 1.0,
            refresh_hz: 60.0,
        }
    }
}

pub fn create_output(dh: &DisplayHandle, name: &str, spec: OutputSpec) -> Output {
    let output = Output::new(
        name.to_string(),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "Exosphere".into(),
            model: "Nexquelium".into(),
        },
    );
    let global = output.create_global::<State>(dh);
    output
        .user_data()
        .insert_if_missing(|| crate::handlers::OutputGlobal(global));
    let mode = Mode {
        size: (spec.width, spec.height).into(),
        refresh: (spec.refresh_hz * 1000.0).round() as i32,
    };
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        Some(Scale::Fractional(spec.scale)),
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
    output
}

/// The Wayland display, shared by the event source that dispatches its clients and the
/// listening socket, which serves a client's first requests as soon as it is accepted.
pub type SharedDisplay = Rc<RefCell<Display<State>>>;

/// Insert the Wayland display into the event loop; clients are dispatched when they write.
/// Returns the display, shared with its event source: give it to [`listen_socket`] so that a
/// new client's first requests are answered when it is accepted.
pub fn insert_display(
    event_loop: &EventLoop<'static, State>,
    display: Display<State>,
) -> anyhow::Result<SharedDisplay> {
    // The source watches a duplicate of the display's poll descriptor (the same epoll file), so
    // that the display itself can be shared.
    let fd = display
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate the Wayland display's descriptor")?;
    let display = Rc::new(RefCell::new(display));
    let shared = display.clone();
    event_loop
        .handle()
        .insert_source(
            Generic::new(fd, Interest::READ, smithay::reexports::calloop::Mode::Level),
            move |_, _, state| {
                dispatch_clients(&shared, state)?;
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("cannot watch the Wayland display: {err}"))?;
    Ok(display)
}

/// Dispatches the requests clients have sent. Only the display's event source and the listening
/// socket call this, and event sources run one at a time, so the display is never borrowed
/// already; were it, the requests wait for the next call instead of ending the session.
fn dispatch_clients(display: &SharedDisplay, state: &mut State) -> std::io::Result<()> {
    let Ok(mut display) = display.try_borrow_mut() else {
        tracing::warn!("the Wayland display is being dispatched already");
        return Ok(());
    };
    display.dispatch_clients(state)?;
    Ok(())
}

/// Listen on `$XDG_RUNTIME_DIR/<name>` (or the first free `wayland-N`); clients that connect
/// there are host clients with `host_caps`. After each accept the clients of `display` are
/// dispatched and flushed at once. Returns the socket name.
pub fn listen_socket(
    event_loop: &EventLoop<'static, State>,
    display: &SharedDisplay,
    name: Option<&str>,
    host_caps: CapabilitySet,
) -> anyhow::Result<String> {
    let display = display.clone();
    let source = match name {
        Some(name) => ListeningSocketSource::with_name(name)
            .with_context(|| format!("cannot listen on Wayland socket {name:?}"))?,
        None => ListeningSocketSource::new_auto().context("cannot find a free Wayland socket name")?,
    };
    let socket_name = source.socket_name().to_string_lossy().into_owned();
    event_loop
        .handle()
        .insert_source(source, move |stream, _, state| {
            // Without display.window a client may not have a Wayland connection at all.
            if !host_caps.contains(Capability::DisplayWindow) {
                tracing::info!("refusing a host client: host capabilities lack display.window");
                return;
            }
            let data = ClientState::new(ClientIdentity::default(), host_caps);
            if let Err(err) = state.nexq.display_handle.insert_client(stream, Arc::new(data)) {
                tracing::warn!(%err, "cannot add client");
                return;
            }
            // A client writes its first requests (the registry, a round trip) right after it
            // connects: answer them now rather than after whatever else this loop iteration
            // runs (at start-up, the first frame).
            if let Err(err) = dispatch_clients(&display, state) {
                tracing::warn!(%err, "cannot dispatch clients");
            }
            if let Err(err) = state.nexq.display_handle.flush_clients() {
                tracing::debug!(%err, "flushing clients");
            }
        })
        .map_err(|err| anyhow::anyhow!("cannot watch the Wayland socket: {err}"))?;
    Ok(socket_name)
}

/// Capsule logs: inside the compositor's private runtime directory, next to its sockets.
fn log_dir_for(socket_name: &str) -> std::path::PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join(format!("{socket_name}.capsules"))
}

impl State {
    pub fn new(
        event_loop: &EventLoop<'static, State>,
        dh: DisplayHandle,
        backend: Backend,
        outputs: Vec<Output>,
        config: Config,
        config_path: Option<std::path::PathBuf>,
        socket_name: String,
    ) -> anyhow::Result<State> {
        let clock = Clock::new();
        let supervisor = crate::capsules::supervisor::Supervisor::new(
            log_dir_for(&socket_name),
            std::env::temp_dir().join(format!(
                "exosphere-{}-{}",
                socket_name,
                rustix::process::getuid().as_raw()
            )),
            crate::capsules::home::default_base(),
        );

        let compositor_state = CompositorState::new::<State>(&dh);
        let xdg_shell_state = XdgShellState::new::<State>(&dh);
        let xdg_decoration_state = XdgDecorationState::new::<State>(&dh);
        let layer_shell_state =
            WlrLayerShellState::new_with_filter::<State, _>(&dh, filter_for("zwlr_layer_shell_v1"));
        let shm_state = ShmState::new::<State>(&dh, vec![]);
        let output_manager_state = OutputManagerState::new_with_xdg_output::<State>(&dh);
        let data_device_state = DataDeviceState::new::<State>(&dh);
        let primary_selection_state = PrimarySelectionState::new::<State>(&dh);
        let viewporter_state = ViewporterState::new::<State>(&dh);
        let fractional_scale_state = FractionalScaleManagerState::new::<State>(&dh);
        let presentation_state = PresentationState::new::<State>(&dh, clock.id() as u32);
        let single_pixel_buffer_state = SinglePixelBufferState::new::<State>(&dh);
        let xdg_activation_state = XdgActivationState::new::<State>(&dh);
        let cursor_shape_state = CursorShapeManagerState::new::<State>(&dh);
        let pointer_constraints_state = PointerConstraintsState::new::<State>(&dh);
        let relative_pointer_state = RelativePointerManagerState::new::<State>(&dh);
        let text_input_state = TextInputManagerState::new::<State>(&dh);
        let screencopy_state =
            ScreencopyManagerState::new::<State>(&dh, filter_for("zwlr_screencopy_manager_v1"));
        let privileged = crate::handlers::PrivilegedGlobals::new(&dh, &primary_selection_state);

        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(&dh, "seat0");
        let kb = &config.keyboard;
        seat.add_keyboard(
            XkbConfig {
                rules: &kb.rules,
                model: &kb.model,
                layout: &kb.layout,
                variant: &kb.variant,
                options: (!kb.options.is_empty()).then(|| kb.options.clone()),
            },
            kb.repeat_delay as i32,
            kb.repeat_rate as i32,
        )
        .map_err(|err| anyhow::anyhow!("cannot set up the keyboard (layout {:?}): {err}", kb.layout))?;
        let pointer = seat.add_pointer();
        seat.add_touch();

        let mut outputs = outputs.into_iter();
        let mut placed = crate::outputs::Outputs::new(outputs.next().context("the session needs an output")?);
        outputs.for_each(|o| placed.add(o));
        let mut space = Space::default();
        placed.arrange(&mut space);
        let mut layout = Layout::new();
        layout.set_placement(config.layout.placement);
        let screens = placed
            .iter()
            .map(|o| {
                let r = crate::outputs::logical_rect(o);
                let r = exo_shell::geometry::Rect::new(r.loc.x, r.loc.y, r.size.w, r.size.h);
                exo_shell::layout::Screen::new(r, r)
            })
            .collect();
        layout.set_screens(screens);

        Ok(State {
            backend,
            nexq: Nexq {
                display_handle: dh,
                loop_handle: event_loop.handle(),
                loop_signal: event_loop.get_signal(),
                clock,
                socket_name,
                control_path: None,
                config,
                config_path,
                space,
                popups: PopupManager::default(),
                layers: Default::default(),
                layout,
                windows: Default::default(),
                next_window_id: 0,
                unmapped: Vec::new(),
                outputs: placed,
                redraw: RedrawState::Idle,
                frame_timer: Default::default(),
                failed_renders: Default::default(),
                replaced_buffers: Default::default(),
                pointer_scene_changed: true,
                space_changed: true,
                labels_epoch: 0,
                pending_screencopies: Vec::new(),
                supervisor,
                sentry: crate::sentry::Sentry::new(event_loop.handle()),
                compositor_state,
                xdg_shell_state,
                xdg_decoration_state,
                layer_shell_state,
                shm_state,
                seat_state,
                output_manager_state,
                data_device_state,
                primary_selection_state,
                viewporter_state,
                fractional_scale_state,
                presentation_state,
                single_pixel_buffer_state,
                xdg_activation_state,
                cursor_shape_state,
                pointer_constraints_state,
                relative_pointer_state,
                text_input_state,
                screencopy_state,
                wlr_data_control_state: privileged.wlr_data_control,
                ext_data_control_state: privileged.ext_data_control,
                virtual_keyboard_state: privileged.virtual_keyboard,
                input_method_state: privileged.input_method,
                input_method_bound: false,
                foreign_toplevel_global: privileged.foreign_toplevel.global(),
                foreign_toplevel_state: privileged.foreign_toplevel,
                foreign_toplevels: Default::default(),
                session_lock_state: privileged.session_lock,
                session_lock_global: privileged.session_lock_global,
                session_lock: Default::default(),
                shortcuts_inhibit_global: privileged.shortcuts_inhibit.global(),
                shortcuts_inhibit_state: privileged.shortcuts_inhibit,
                seat,
                pointer,
                keyboard_map: None,
                cursor_status: CursorImageStatus::default_named(),
                suppressed_keys: Vec::new(),
                xray: false,
                clipboard: Default::default(),
            },
        })
    }

    /// Work done once per event-loop iteration: tidy the desktop and flush client queues.
    pub fn after_dispatch(&mut self) {
        // Only after a change: the frame timer's dispatch changes nothing the Space tracks.
        if std::mem::take(&mut self.nexq.space_changed) {
            self.nexq.space.refresh();
        }
        self.nexq.popups.cleanup();
        // Connections following the window list get it when it changed (nothing when idle).
        if self.nexq.sentry.follows_windows() {
            let windows = crate::control::window_infos(self);
            self.nexq.sentry.push_windows(&windows);
        }
        if let Err(err) = self.nexq.display_handle.flush_clients() {
            tracing::debug!(%err, "flushing clients");
        }
    }
}
