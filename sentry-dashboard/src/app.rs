//! The application: the model, the control link and the three views, and the rules for when to
//! ask the compositor for what and when to draw.
//!
//! Nothing here runs on a clock except: the panel clock (one wake-up a minute), a `windows` poll
//! once a second (the protocol has no focus events; the reply only causes a frame when the panel
//! changes) and, on a compositor without the event stream, a `capsules` poll every two seconds.

use std::time::{Duration, Instant};

use calloop::timer::{TimeoutAction, Timer};
use calloop::{LoopHandle, RegistrationToken};
use exo_shell::control::WindowInfo;
use exo_shell::sentry::event::Event;
use serde_json::Value;
use smithay_client_toolkit::reexports::protocols::wp::fractional_scale::v1::client::wp_fractional_scale_v1::WpFractionalScaleV1;
use smithay_client_toolkit::seat::keyboard::{KeyEvent, Modifiers};
use smithay_client_toolkit::shell::WaylandSurface;
use wayland_client::protocol::wl_surface::WlSurface;

use crate::clock::{self, LocalTime};
use crate::control::{self, request, ControlLink, Incoming, Pending};
use crate::model::{Availability, CapsuleRow, Model};
use crate::render::Painter;
use crate::surface::{LayerView, ViewKind};
use crate::ui::theme::DASHBOARD_BG;
use crate::ui::{self, launcher::LauncherState, panel, SessionInfo, UiAction};
use crate::wayland::Wl;

const TRANSPARENT: egui::Color32 = egui::Color32::TRANSPARENT;

/// How many past events the feed asks for at start.
const HISTORY: usize = 200;
/// How often `windows` is asked for.
const POLL: Duration = Duration::from_secs(1);

/// The three surfaces; the dashboard and launcher exist only while shown.
#[derive(Default)]
pub struct Views {
    pub panel: Option<LayerView>,
    pub dashboard: Option<LayerView>,
    pub launcher: Option<LayerView>,
}

impl Views {
    fn all_mut(&mut self) -> impl Iterator<Item = &mut LayerView> {
        [&mut self.panel, &mut self.dashboard, &mut self.launcher]
            .into_iter()
            .flatten()
    }

    pub fn find_mut(&mut self, surface: &WlSurface) -> Option<&mut LayerView> {
        self.all_mut().find(|v| v.surface() == surface)
    }

    pub fn find_fractional_mut(&mut self, object: &WpFractionalScaleV1) -> Option<&mut LayerView> {
        self.all_mut().find(|v| v.owns_fractional(object))
    }

    pub fn get_mut(&mut self, kind: ViewKind) -> Option<&mut LayerView> {
        match kind {
            ViewKind::Panel => self.panel.as_mut(),
            ViewKind::Dashboard => self.dashboard.as_mut(),
            ViewKind::Launcher => self.launcher.as_mut(),
        }
    }

    pub fn set_keyboard_focus(&mut self, surface: Option<&WlSurface>) {
        for view in self.all_mut() {
            let focused = surface == Some(view.surface());
            if view.input.keyboard_focus != focused {
                view.input.keyboard_focus = focused;
                view.input.events.push(egui::Event::WindowFocused(focused));
                view.dirty = true;
            }
        }
    }

    pub fn key(&mut self, event: &KeyEvent, pressed: bool) {
        if let Some(view) = self.all_mut().find(|v| v.input.keyboard_focus) {
            if view.input.key(event, pressed) {
                view.dirty = true;
            }
        }
    }

    pub fn set_modifiers(&mut self, modifiers: Modifiers) {
        for view in self.all_mut() {
            view.input.set_modifiers(modifiers);
        }
    }

    fn mark_dirty(&mut self, kinds: &[ViewKind]) {
        for kind in kinds {
            if let Some(view) = self.get_mut(*kind) {
                view.dirty = true;
            }
        }
    }
}

/// One egui context per surface, kept while a surface is hidden (fonts are laid out once).
#[derive(Default)]
struct Painters {
    panel: Painter,
    dashboard: Painter,
    launcher: Painter,
}

pub struct App {
    pub wl: Wl,
    pub views: Views,
    painters: Painters,
    pub model: Model,
    link: Option<ControlLink>,
    session: SessionInfo,
    launcher: LauncherState,
    handle: LoopHandle<'static, App>,
    /// egui asked for a frame at this time (a tooltip, a blinking cursor).
    repaint: Option<(Instant, RegistrationToken)>,
    samples_requested: bool,
    /// The poll timer is armed (see [`App::ensure_polling`]).
    polling: bool,
    poll_ticks: u64,
    /// Set when the application should end, with the reason.
    pub exit: Option<anyhow::Error>,
}

impl App {
    pub fn new(
        wl: Wl,
        handle: LoopHandle<'static, App>,
        link: Option<ControlLink>,
        under_exo_init: bool,
        show_dashboard: bool,
    ) -> App {
        let mut model = Model::new(clock::unix_now().as_millis() as u64);
        model.connected = link.is_some();
        model.own_capsule = std::env::var("EXOSPHERE_CAPSULE").ok().filter(|n| !n.is_empty());
        let panel = wl.create_view(ViewKind::Panel, panel::HEIGHT);
        App {
            wl,
            views: Views {
                panel: Some(panel),
                ..Views::default()
            },
            painters: Painters::default(),
            model,
            link,
            session: SessionInfo {
                under_exo_init,
                dashboard_visible: show_dashboard,
                ..SessionInfo::default()
            },
            launcher: LauncherState::default(),
            handle,
            repaint: None,
            samples_requested: false,
            polling: false,
            poll_ticks: 0,
            exit: None,
        }
    }

    /// Asks for the initial state and starts the clock and the poll.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.send(request::version(), Pending::Version);
        self.send(request::capsules(), Pending::Capsules);
        self.send(request::follow_windows(), Pending::FollowWindows);
        self.send(request::follow_events(HISTORY), Pending::Events);
        if self.session.dashboard_visible {
            self.subscribe_samples();
        }
        let clock = Timer::from_duration(clock::until_next_minute(clock::unix_now()));
        self.handle
            .insert_source(clock, |_, _, app: &mut App| {
                app.views.mark_dirty(&[ViewKind::Panel]);
                TimeoutAction::ToDuration(clock::until_next_minute(clock::unix_now()))
            })
            .map_err(|e| anyhow::anyhow!("cannot start the clock timer: {e}"))?;
        self.ensure_polling();
        Ok(())
    }

    /// Whether anything needs the once-a-second poll: a compositor that does not push the
    /// window list or events (or has not said yet), or running capsules' uptimes on show.
    fn poll_needed(&self) -> bool {
        let support = &self.model.support;
        self.link.is_some()
            && (support.window_updates != Availability::Yes
                || support.events != Availability::Yes
                || (self.session.dashboard_visible && self.model.capsules.iter().any(|c| c.is_running())))
    }

    /// Starts the poll timer when it is needed and not running; it stops itself when it is no
    /// longer needed, so an idle session with the dashboard hidden wakes nobody.
    fn ensure_polling(&mut self) {
        if self.polling || !self.poll_needed() {
            return;
        }
        let timer = self
            .handle
            .insert_source(Timer::from_duration(POLL), |_, _, app: &mut App| {
                app.poll();
                if app.poll_needed() {
                    TimeoutAction::ToDuration(POLL)
                } else {
                    app.polling = false;
                    TimeoutAction::Drop
                }
            });
        match timer {
            Ok(_) => self.polling = true,
            Err(e) => self.exit = Some(anyhow::anyhow!("cannot start the poll timer: {e}")),
        }
    }

    fn send(&mut self, request: Value, what: Pending) {
        let Some(link) = &mut self.link else {
            return;
        };
        if let Err(e) = link.send(request, what) {
            self.exit = Some(e);
        }
    }

    /// Sends a request unless one of its kind is still waiting for its reply.
    fn send_once(&mut self, request: Value, what: Pending) {
        if self.link.as_ref().is_some_and(|l| !l.is_pending(&what)) {
            self.send(request, what);
        }
    }

    fn poll(&mut self) {
        self.poll_ticks += 1;
        if self.model.support.window_updates != Availability::Yes {
            self.send_once(request::windows(), Pending::Windows);
        }
        if self.model.support.events == Availability::No && self.poll_ticks.is_multiple_of(2) {
            self.send_once(request::capsules(), Pending::Capsules);
        }
        // Uptimes count on while the dashboard shows them.
        if self.session.dashboard_visible && self.model.capsules.iter().any(|c| c.is_running()) {
            self.views.mark_dirty(&[ViewKind::Dashboard]);
        }
    }

    fn subscribe_samples(&mut self) {
        if !self.samples_requested && self.model.support.samples != Availability::No {
            self.samples_requested = true;
            self.send(request::samples(), Pending::Samples);
        }
    }

    /// One line from the control channel.
    pub fn incoming(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Reply(reply) => {
                let pending = self.link.as_mut().and_then(ControlLink::take_pending);
                match pending {
                    Some(what) => self.reply(what, reply),
                    None => tracing::warn!(?reply, "a reply nobody asked for"),
                }
            }
            Incoming::Event(event) => self.events(vec![*event], true),
            Incoming::Windows(windows) => self.windows(windows),
            Incoming::Sample(sample) => {
                self.model.push_sample(sample);
                self.views.mark_dirty(&[ViewKind::Dashboard]);
            }
            Incoming::Malformed(message) => tracing::warn!("control channel: {message}"),
            Incoming::Closed(reason) => self.exit = Some(anyhow::anyhow!(reason)),
        }
    }

    fn reply(&mut self, what: Pending, reply: Result<Value, String>) {
        use ViewKind::*;
        match (what, reply) {
            (Pending::Version, Ok(v)) => {
                tracing::info!(protocol = %v["protocol"], "connected to {}", v["compositor"]);
            }
            (Pending::Capsules, Ok(v)) => match serde_json::from_value::<Vec<CapsuleRow>>(v) {
                Ok(rows) => {
                    if self.model.set_capsules(rows, Instant::now()) {
                        self.views.mark_dirty(&[Panel, Dashboard, Launcher]);
                    }
                }
                Err(e) => tracing::warn!(%e, "unreadable capsules reply"),
            },
            (Pending::Windows, Ok(v)) => match serde_json::from_value::<Vec<WindowInfo>>(v) {
                Ok(windows) => self.windows(windows),
                Err(e) => tracing::warn!(%e, "unreadable windows reply"),
            },
            (Pending::FollowWindows, Ok(v)) => match serde_json::from_value::<Vec<WindowInfo>>(v) {
                Ok(windows) => {
                    self.model.support.window_updates = Availability::Yes;
                    self.windows(windows);
                }
                Err(e) => tracing::warn!(%e, "unreadable windows reply"),
            },
            (Pending::FollowWindows, Err(e)) => {
                tracing::info!("the window list is not pushed ({e}); polling it instead");
                self.model.support.window_updates = Availability::No;
                self.send_once(request::windows(), Pending::Windows);
            }
            (Pending::Events, Ok(v)) => {
                self.model.support.events = Availability::Yes;
                match serde_json::from_value::<Vec<Event>>(v) {
                    Ok(events) => self.events(events, false),
                    Err(e) => tracing::warn!(%e, "unreadable events reply"),
                }
            }
            (Pending::Events, Err(e)) => {
                tracing::info!("no event stream ({e}); polling capsules instead");
                self.model.support.events = Availability::No;
                self.views.mark_dirty(&[Dashboard]);
            }
            (Pending::Samples, Ok(_)) => self.model.support.samples = Availability::Yes,
            (Pending::Samples, Err(e)) => {
                tracing::info!("no resource samples ({e})");
                self.model.support.samples = Availability::No;
            }
            (Pending::Dashboard, Ok(v)) => {
                self.model.support.dashboard = Availability::Yes;
                if let Some(visible) = v["visible"].as_bool() {
                    self.set_dashboard_visible(visible);
                }
            }
            (Pending::SamplesStop, Ok(_)) => {}
            (Pending::Dashboard, Err(e)) => {
                if control::is_unknown_request(&e) {
                    self.model.support.dashboard = Availability::No;
                } else {
                    tracing::warn!("dashboard request failed: {e}");
                }
            }
            (Pending::Action(what), Ok(_)) => {
                tracing::info!("{what}: done");
                self.model.last_error = None;
                self.send_once(request::capsules(), Pending::Capsules);
                self.views.mark_dirty(&[Dashboard]);
            }
            (Pending::Action(what), Err(e)) => {
                self.model.last_error = Some(format!("{what}: {e}"));
                self.views.mark_dirty(&[Dashboard]);
            }
            (what, Err(e)) => {
                tracing::warn!(?what, "request failed: {e}");
            }
        }
        // What the compositor supports and which capsules run decide whether to poll.
        self.ensure_polling();
    }

    /// A new window list, replied or pushed.
    fn windows(&mut self, windows: Vec<WindowInfo>) {
        if self.model.set_windows(windows) {
            self.views.mark_dirty(&[ViewKind::Panel]);
        }
    }

    /// New events; `live` ones were pushed (history from before this process started must not
    /// show or hide the dashboard: the compositor starts with it visible).
    fn events(&mut self, events: Vec<Event>, live: bool) {
        let alerts = self.model.alerts;
        let effect = self.model.push_events(events);
        self.views.mark_dirty(&[ViewKind::Dashboard]);
        if self.model.alerts != alerts {
            self.views.mark_dirty(&[ViewKind::Panel]);
        }
        if effect.refresh_capsules {
            self.send_once(request::capsules(), Pending::Capsules);
        }
        if let Some(visible) = effect.dashboard.filter(|_| live) {
            self.set_dashboard_visible(visible);
        }
        if effect.launcher_toggle && live {
            self.set_launcher_open(!self.session.launcher_open);
        }
    }

    fn set_dashboard_visible(&mut self, visible: bool) {
        if self.session.dashboard_visible == visible {
            return;
        }
        self.session.dashboard_visible = visible;
        if visible {
            self.subscribe_samples();
            self.send_once(request::capsules(), Pending::Capsules);
        } else {
            self.views.dashboard = None;
            // Nobody looks at the sparklines: let the compositor stop sampling (idle stays idle).
            if self.samples_requested {
                self.samples_requested = false;
                self.send(request::samples_stop(), Pending::SamplesStop);
            }
        }
        self.ensure_polling();
        self.views.mark_dirty(&[ViewKind::Panel]);
    }

    fn set_launcher_open(&mut self, open: bool) {
        if self.session.launcher_open == open {
            return;
        }
        self.session.launcher_open = open;
        if open {
            self.launcher = LauncherState::opened();
            self.views.launcher = Some(self.wl.create_view(ViewKind::Launcher, 0));
            self.send_once(request::capsules(), Pending::Capsules);
        } else {
            self.views.launcher = None;
        }
        self.views.mark_dirty(&[ViewKind::Panel, ViewKind::Dashboard]);
    }

    fn set_session_menu_open(&mut self, open: bool) {
        self.session.session_menu_open = open;
        if let Some(panel) = &self.views.panel {
            let extra = if open {
                panel::menu_height(self.session.under_exo_init)
            } else {
                0
            };
            panel.layer.set_size(0, panel::HEIGHT + extra);
            panel.layer.commit();
        }
        self.views.mark_dirty(&[ViewKind::Panel]);
    }

    /// Carries out what a click asked for.
    fn perform(&mut self, action: UiAction) {
        let (req, what) = match &action {
            UiAction::Start(n) => (request::start(n), format!("start {n}")),
            UiAction::Stop(n) => (request::stop(n), format!("stop {n}")),
            UiAction::Restart(n) => (request::restart(n), format!("restart {n}")),
            UiAction::Release(n) => (request::release(n), format!("release {n}")),
            UiAction::Revoke(n, c) => (request::revoke(n, c.as_str()), format!("revoke {c} from {n}")),
            UiAction::Session(how) => (request::session(how), format!("session {how}")),
            UiAction::Dashboard(how) => {
                self.dashboard_action(how);
                return;
            }
            UiAction::Launcher(open) => {
                self.set_launcher_open(*open);
                return;
            }
            UiAction::SessionMenu(open) => {
                self.set_session_menu_open(*open);
                return;
            }
        };
        if self.link.is_none() {
            self.model.last_error = Some(format!("{what}: no control channel"));
            self.views.mark_dirty(&[ViewKind::Dashboard]);
            return;
        }
        tracing::info!("{what}");
        self.send(req, Pending::Action(what));
    }

    /// Show, hide or toggle through the compositor (which records the event and keeps the
    /// state for Super+D); locally when it does not know the request.
    fn dashboard_action(&mut self, how: &'static str) {
        let visible = self.session.dashboard_visible;
        let wanted = match how {
            "show" => true,
            "hide" => false,
            _ => !visible,
        };
        if self.link.is_some() && self.model.support.dashboard != Availability::No {
            self.send(
                request::dashboard(if wanted { "show" } else { "hide" }),
                Pending::Dashboard,
            );
        }
        // Do not wait for the round trip (and work without the request at all).
        self.set_dashboard_visible(wanted);
    }

    /// After every batch of events: create what should be shown, draw what changed.
    pub fn after_dispatch(&mut self) {
        let panel_drawn = self.views.panel.as_ref().is_some_and(|p| p.frames > 0);
        // The dashboard comes after the panel's first frame, so the panel's zone is in place.
        if self.session.dashboard_visible && self.views.dashboard.is_none() && panel_drawn {
            self.views.dashboard = Some(self.wl.create_view(ViewKind::Dashboard, 0));
        }
        let now = Instant::now();
        let clock = LocalTime::now().text();
        let mut actions = Vec::new();
        let mut earliest_repaint: Option<Duration> = None;
        let mut hand = None;
        for kind in [ViewKind::Panel, ViewKind::Dashboard, ViewKind::Launcher] {
            let App {
                views,
                painters,
                model,
                session,
                launcher,
                wl,
                ..
            } = self;
            let Some(view) = views.get_mut(kind) else {
                continue;
            };
            if !view.wants_frame() {
                continue;
            }
            let result = match kind {
                ViewKind::Panel => view.draw(&mut painters.panel, &mut wl.pool, &wl.qh, TRANSPARENT, |ui| {
                    ui::panel::show(ui, model, session, &clock, &mut actions)
                }),
                ViewKind::Dashboard => view.draw(
                    &mut painters.dashboard,
                    &mut wl.pool,
                    &wl.qh,
                    DASHBOARD_BG,
                    |ui| ui::dashboard::show(ui, model, now, session, &mut actions),
                ),
                ViewKind::Launcher => {
                    view.draw(&mut painters.launcher, &mut wl.pool, &wl.qh, TRANSPARENT, |ui| {
                        ui::launcher::show(ui, model, launcher, &mut actions)
                    })
                }
            };
            match result {
                Ok((frame, _drawn)) => {
                    if let Some(after) = frame.repaint_after {
                        if after.is_zero() {
                            view.dirty = true;
                        } else {
                            earliest_repaint = Some(earliest_repaint.map_or(after, |e| e.min(after)));
                        }
                    }
                    if view.input.has_pointer() {
                        hand = Some(frame.pointer_hand);
                    }
                }
                Err(e) => {
                    tracing::error!("cannot draw the {kind:?}: {e:#}");
                    self.exit = Some(e);
                    return;
                }
            }
        }
        if let Some(hand) = hand {
            self.wl.set_cursor(hand);
        }
        if let Some(after) = earliest_repaint {
            self.schedule_repaint(now + after);
        }
        for action in actions {
            self.perform(action);
        }
    }

    /// Wakes up at `at` to give egui the frame it asked for.
    fn schedule_repaint(&mut self, at: Instant) {
        if let Some((current, token)) = self.repaint.take() {
            if current <= at {
                self.repaint = Some((current, token));
                return;
            }
            self.handle.remove(token);
        }
        let token = self
            .handle
            .insert_source(Timer::from_deadline(at), |_, _, app: &mut App| {
                app.repaint = None;
                app.views
                    .mark_dirty(&[ViewKind::Panel, ViewKind::Dashboard, ViewKind::Launcher]);
                TimeoutAction::Drop
            });
        match token {
            Ok(token) => self.repaint = Some((at, token)),
            Err(e) => tracing::warn!("cannot schedule a repaint: {e}"),
        }
    }

    /// The compositor closed one of our layer surfaces.
    pub fn view_closed(&mut self, surface: &WlSurface) {
        if self
            .views
            .launcher
            .as_ref()
            .is_some_and(|v| v.surface() == surface)
        {
            self.set_launcher_open(false);
        } else if self
            .views
            .dashboard
            .as_ref()
            .is_some_and(|v| v.surface() == surface)
        {
            self.views.dashboard = None;
            self.session.dashboard_visible = false;
        } else if self.views.panel.as_ref().is_some_and(|v| v.surface() == surface) {
            self.exit = Some(anyhow::anyhow!("the compositor closed the panel"));
        }
    }
}
