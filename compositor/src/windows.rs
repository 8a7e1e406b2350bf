//! Toplevel windows: the bridge between the layout policy (`exo_shell::layout`, which works on
//! frame rectangles) and Smithay's windows (which work on content geometry).

use exo_shell::{
    config::Config,
    geometry::{Rect, Size},
    Capability,
};
use smithay::{
    desktop::{PopupManager, Window, WindowSurfaceType},
    reexports::{
        wayland_protocols::xdg::{
            decoration::zv1::server::zxdg_toplevel_decoration_v1, shell::server::xdg_toplevel,
        },
        wayland_server::protocol::wl_surface::WlSurface,
    },
    utils::SERIAL_COUNTER,
};

use crate::{
    focus::KeyboardFocusTarget,
    state::{Nexq, State, WindowId},
};

/// The frame's border and title bar thickness from the config.
fn insets(config: &Config) -> (i32, i32) {
    let a = &config.appearance;
    (a.border_width as i32, a.title_height as i32)
}

/// How a window is decorated (DESIGN.md §4.1, §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decor {
    /// Border and title bar around the content.
    Frame,
    /// Fullscreen without `display.fullscreen`: the frame is the output, the label is a strip
    /// across its top and the content is everything below the strip.
    Strip,
    /// Fullscreen with `display.fullscreen`: the content is the whole frame, no label.
    Bare,
}

/// The content (client geometry) inside a frame rectangle.
pub fn content_rect(frame: Rect, decor: Decor, config: &Config) -> Rect {
    let (border, title) = insets(config);
    match decor {
        Decor::Bare => frame,
        Decor::Strip => Rect {
            x: frame.x,
            y: frame.y + title,
            w: frame.w,
            h: (frame.h - title).max(1),
        },
        Decor::Frame => Rect {
            x: frame.x + border,
            y: frame.y + border + title,
            w: (frame.w - 2 * border).max(1),
            h: (frame.h - 2 * border - title).max(1),
        },
    }
}

/// Where the label (title bar) of a frame is drawn, if it has one.
pub fn title_rect(frame: Rect, decor: Decor, config: &Config) -> Option<Rect> {
    match decor {
        Decor::Bare => None,
        Decor::Strip => Some(Rect {
            x: frame.x,
            y: frame.y,
            w: frame.w,
            h: insets(config).1,
        }),
        Decor::Frame => Some(decoration_rects(frame, config).1),
    }
}

/// The frame size that holds content of the given size.
pub fn frame_size_for_content(content: Size, config: &Config) -> Size {
    let (border, title) = insets(config);
    Size {
        w: content.w + 2 * border,
        h: content.h + 2 * border + title,
    }
}

/// The whole frame (drawn in the border colour) and the title bar inside it.
pub fn decoration_rects(frame: Rect, config: &Config) -> (Rect, Rect) {
    let (border, title) = insets(config);
    let title_rect = Rect {
        x: frame.x + border,
        y: frame.y + border,
        w: frame.w - 2 * border,
        h: title,
    };
    (frame, title_rect)
}

/// Where a point on a frame falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePart {
    Content,
    TitleBar,
    Border,
}

pub fn frame_part(frame: Rect, decor: Decor, config: &Config, x: i32, y: i32) -> FramePart {
    let p = exo_shell::geometry::Point { x, y };
    if content_rect(frame, decor, config).contains(p) {
        FramePart::Content
    } else if title_rect(frame, decor, config).is_some_and(|t| t.contains(p)) {
        FramePart::TitleBar
    } else {
        FramePart::Border
    }
}

impl Nexq {
    /// Whether any xdg_popup exists. Finding a window's popups searches its surface's data by
    /// type, a miss searching all of it, so the paths that run every frame or every commit ask
    /// this first.
    pub fn any_popups(&self) -> bool {
        !self.xdg_shell_state.popup_surfaces().is_empty()
    }

    /// `window`'s toplevel surface when no popup exists: its surface tree is then all the
    /// window draws, and walking it saves the popup lookup that `Window`'s own walks make.
    pub fn lone_tree<'w>(&self, window: &'w Window) -> Option<&'w WlSurface> {
        window
            .toplevel()
            .filter(|_| !self.any_popups())
            .map(|t| t.wl_surface())
    }

    /// The box around what `window`'s surfaces and popups draw, relative to its surface.
    pub fn drawn_box(&self, window: &Window) -> smithay::utils::Rectangle<i32, smithay::utils::Logical> {
        if self.any_popups() {
            window.bbox_with_popups()
        } else {
            window.bbox()
        }
    }

    /// How a window is decorated now: fullscreen windows keep a label strip unless their
    /// client holds `display.fullscreen` (host clients too: by the host capabilities).
    pub fn decor_of(&self, id: WindowId) -> Decor {
        if !self.layout.window_info(&id).is_some_and(|i| i.fullscreen) {
            return Decor::Frame;
        }
        let bare = self.windows.get(&id).is_some_and(|w| {
            crate::labels::client_of(w)
                .1
                .contains(Capability::DisplayFullscreen)
        });
        if bare {
            Decor::Bare
        } else {
            Decor::Strip
        }
    }

    pub fn window_id_for_surface(&self, surface: &WlSurface) -> Option<WindowId> {
        self.windows
            .iter()
            .find(|(_, w)| w.toplevel().is_some_and(|t| t.wl_surface() == surface))
            .map(|(id, _)| *id)
    }

    /// The window whose surface tree (including popups) contains `surface`.
    pub fn window_id_for_any_surface(&self, surface: &WlSurface) -> Option<WindowId> {
        let mut root = surface.clone();
        while let Some(parent) = smithay::wayland::compositor::get_parent(&root) {
            root = parent;
        }
        self.window_id_for_surface(&root)
    }

    /// Mirror the layout into the Space (visible windows in stacking order) and re-configure
    /// every window whose size or states changed.
    pub fn sync_space(&mut self) {
        self.space_changed = true;
        let visible = self.layout.windows_bottom_to_top();
        let visible_ids: Vec<WindowId> = visible.iter().map(|(id, _)| *id).collect();
        let hidden: Vec<Window> = self
            .space
            .elements()
            .filter(|w| {
                !self
                    .windows
                    .iter()
                    .any(|(id, win)| win == *w && visible_ids.contains(id))
            })
            .cloned()
            .collect();
        for window in hidden {
            self.space.unmap_elem(&window);
        }
        let focused = self.layout.focused().copied();
        for (id, frame) in visible {
            let Some(window) = self.windows.get(&id).cloned() else {
                continue;
            };
            let content = content_rect(frame, self.decor_of(id), &self.config);
            self.space
                .map_element(window.clone(), (content.x, content.y), focused == Some(id));
        }
        for id in self.windows.keys().copied().collect::<Vec<_>>() {
            self.configure_window(id);
        }
        self.space.refresh();
    }

    /// Send a configure if the size or states the layout wants differ from what the client has.
    pub fn configure_window(&mut self, id: WindowId) {
        let (Some(window), Some(frame), Some(info)) = (
            self.windows.get(&id),
            self.layout.rect(&id),
            self.layout.window_info(&id),
        ) else {
            return;
        };
        let Some(toplevel) = window.toplevel() else { return };
        let content = content_rect(frame, self.decor_of(id), &self.config);
        let focused = self.layout.focused() == Some(&id);
        // Until the layout gives the window a size of its own (maximized, fullscreen, clamped or
        // resized), it is configured 0x0: the client keeps choosing its size (xdg-shell).
        let own = window.geometry().size;
        let sized = window
            .user_data()
            .get_or_insert_threadsafe(SizedByLayout::default);
        if info.maximized || info.fullscreen || (content.w, content.h) != (own.w, own.h) {
            sized.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let size = sized
            .0
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| (content.w, content.h).into());
        toplevel.with_pending_state(|state| {
            state.size = size;
            state.decoration_mode = Some(zxdg_toplevel_decoration_v1::Mode::ServerSide);
            set_state(&mut state.states, xdg_toplevel::State::Activated, focused);
            set_state(&mut state.states, xdg_toplevel::State::Maximized, info.maximized);
            set_state(
                &mut state.states,
                xdg_toplevel::State::Fullscreen,
                info.fullscreen,
            );
        });
        if toplevel.is_initial_configure_sent() {
            toplevel.send_pending_configure();
        }
    }

    pub fn content_of(&self, id: WindowId) -> Option<Rect> {
        let frame = self.layout.rect(&id)?;
        Some(content_rect(frame, self.decor_of(id), &self.config))
    }

    /// Whether (`x`, `y`) is on window `id`'s frame or on anything its surfaces and popups
    /// draw: only then can a commit that keeps the window's size and place change what is
    /// under the pointer.
    pub fn covers(&self, id: WindowId, x: f64, y: f64) -> bool {
        let (Some(frame), Some(content), Some(window)) =
            (self.layout.rect(&id), self.content_of(id), self.windows.get(&id))
        else {
            return false;
        };
        let p = exo_shell::geometry::Point {
            x: x.floor() as i32,
            y: y.floor() as i32,
        };
        let mut drawn = self.drawn_box(window);
        drawn.loc +=
            smithay::utils::Point::from((content.x, content.y)) - crate::labels::window_geometry(window).loc;
        frame.contains(p) || drawn.contains((p.x, p.y))
    }

    /// Topmost window at a point, with the part of its frame the point is on.
    pub fn window_at(&self, x: f64, y: f64) -> Option<(WindowId, FramePart)> {
        let p = exo_shell::geometry::Point {
            x: x.floor() as i32,
            y: y.floor() as i32,
        };
        let stack: Vec<(WindowId, Rect, Decor)> = self
            .layout
            .windows_bottom_to_top()
            .into_iter()
            .rev()
            .map(|(id, frame)| (id, frame, self.decor_of(id)))
            .collect();
        let frames: Vec<(Rect, Decor)> = stack.iter().map(|&(_, frame, decor)| (frame, decor)).collect();
        for (i, &(id, frame, decor)) in stack.iter().enumerate() {
            let content = content_rect(frame, decor, &self.config);
            // Popups, subsurfaces and the parts of a surface outside its window geometry
            // (client-side shadows) reach outside the frame: test the surface tree first, except
            // where it is not drawn (title bars: see `labels`), so input goes where it looks to.
            // Lower windows' title bars are cut out of this frame, so they only matter outside
            // it (and are only computed there: this runs for every commit and pointer motion).
            let on_own_title = title_rect(frame, decor, &self.config).is_some_and(|t| t.contains(p));
            if let Some(window) = self.windows.get(&id).filter(|_| !on_own_title) {
                let local = smithay::utils::Point::<f64, smithay::utils::Logical>::from((
                    x - content.x as f64 + window.geometry().loc.x as f64,
                    y - content.y as f64 + window.geometry().loc.y as f64,
                ));
                let on_lower_title = || {
                    !frame.contains(p)
                        && crate::labels::lower_title_bars(&frames, i, &self.config)
                            .iter()
                            .any(|r| r.contains((p.x, p.y)))
                };
                if window.surface_under(local, WindowSurfaceType::ALL).is_some() && !on_lower_title() {
                    return Some((id, FramePart::Content));
                }
            }
            if frame.contains(p) {
                return Some((id, frame_part(frame, decor, &self.config, p.x, p.y)));
            }
        }
        None
    }
}

fn set_state(states: &mut smithay::wayland::shell::xdg::ToplevelStateSet, s: xdg_toplevel::State, on: bool) {
    if on {
        states.set(s);
    } else {
        states.unset(s);
    }
}

impl State {
    /// Give keyboard focus to whatever the layout says is focused (or nothing).
    pub fn apply_focus(&mut self) {
        // A layer surface with exclusive keyboard interactivity keeps the keyboard whatever the
        // layout focuses.
        let target = self.exclusive_layer_focus().or_else(|| {
            self.nexq
                .layout
                .focused()
                .and_then(|id| self.nexq.windows.get(id))
                .and_then(|w| w.toplevel().map(|t| KeyboardFocusTarget(t.wl_surface().clone())))
        });
        self.set_keyboard_focus(target);
        self.nexq.sync_space();
        // Windows appeared, went or changed places: the pointer may be over another one now
        // (done here, while a window that is going away still exists to be left).
        self.refresh_pointer_focus();
        self.queue_redraw();
    }

    pub fn set_keyboard_focus(&mut self, target: Option<KeyboardFocusTarget>) {
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return;
        };
        // While the session is locked only a lock surface may have the keyboard.
        let target = if self.is_locked() {
            self.nexq.lock_focus()
        } else {
            target
        };
        if keyboard.current_focus() != target {
            keyboard.set_focus(self, target, SERIAL_COUNTER.next_serial());
            // Is the capsule a person is about to use answering? (sentry/ping.rs)
            self.sentry_ping_focused();
        }
    }

    pub fn close_window(&mut self, id: WindowId) {
        if let Some(toplevel) = self.nexq.windows.get(&id).and_then(|w| w.toplevel()) {
            toplevel.send_close();
        }
    }

    /// Forget a toplevel whose surface was destroyed.
    pub fn remove_window(&mut self, id: WindowId) {
        self.foreign_toplevel_closed(id);
        if let Some(window) = self.nexq.windows.remove(&id) {
            self.nexq.space.unmap_elem(&window);
        }
        self.nexq.layout.remove_window(&id);
        self.apply_focus();
    }

    /// A window without an explicit window geometry has the bounding box of its surface tree as
    /// geometry, which moves when a subsurface moves past its edge (`shift`); the layout places
    /// that geometry, so move the frame along to keep the toplevel's own surface where it is.
    pub fn keep_surface_in_place(
        &mut self,
        id: WindowId,
        shift: smithay::utils::Point<i32, smithay::utils::Logical>,
    ) {
        if shift.x == 0 && shift.y == 0 {
            return;
        }
        let Some(toplevel) = self.nexq.windows.get(&id).and_then(|w| w.toplevel().cloned()) else {
            return;
        };
        let explicit = smithay::wayland::compositor::with_states(toplevel.wl_surface(), |states| {
            states
                .cached_state
                .get::<smithay::wayland::shell::xdg::SurfaceCachedState>()
                .current()
                .geometry
                .is_some()
        });
        let floating = self
            .nexq
            .layout
            .window_info(&id)
            .is_some_and(|i| !i.maximized && !i.fullscreen);
        let Some(frame) = self.nexq.layout.rect(&id).filter(|_| floating && !explicit) else {
            return;
        };
        let loc = exo_shell::geometry::Point {
            x: frame.x + shift.x,
            y: frame.y + shift.y,
        };
        self.nexq.layout.move_to(&id, loc);
        self.nexq.sync_space();
    }

    /// Move a window so that its content (the window geometry, what `windows` reports) starts at
    /// `origin` in global coordinates; the frame goes around it. Used by the WLCS integration,
    /// whose window positions are those of the window geometry, not of our frame.
    pub fn place_content_at(
        &mut self,
        id: WindowId,
        origin: smithay::utils::Point<i32, smithay::utils::Logical>,
    ) {
        let (Some(frame), Some(content)) = (self.nexq.layout.rect(&id), self.nexq.content_of(id)) else {
            return;
        };
        let loc = exo_shell::geometry::Point {
            x: origin.x - (content.x - frame.x),
            y: origin.y - (content.y - frame.y),
        };
        self.nexq.layout.move_to(&id, loc);
        self.nexq.sync_space();
        self.refresh_pointer_focus();
        self.queue_redraw();
    }

    /// A toplevel committed its first buffer: give it a place in the layout and focus it.
    pub fn map_window(&mut self, window: Window) {
        let id = self.nexq.alloc_window_id();
        let geo = window.geometry();
        let content = Size {
            w: geo.size.w.max(1),
            h: geo.size.h.max(1),
        };
        let frame = frame_size_for_content(content, &self.nexq.config);
        // A window that unmapped and maps again comes back where it was.
        let earlier = window
            .user_data()
            .get::<UnmappedAt>()
            .and_then(|at| at.0.lock().unwrap_or_else(|e| e.into_inner()).take());
        self.nexq.windows.insert(id, window);
        self.nexq.layout.add_window(id, frame);
        if let Some(loc) = earlier {
            self.nexq.layout.move_to(&id, loc);
        }
        // Maximized or fullscreen asked for before mapping (see `set_unmapped_state`).
        let asked = self.nexq.windows.get(&id).and_then(|w| w.toplevel()).map(|t| {
            t.with_pending_state(|s| {
                (
                    s.states.contains(xdg_toplevel::State::Maximized),
                    s.states.contains(xdg_toplevel::State::Fullscreen),
                )
            })
        });
        if let Some((maximized, fullscreen)) = asked {
            if maximized {
                self.nexq.layout.set_maximized(&id, true);
            }
            if fullscreen {
                self.nexq.layout.set_fullscreen(&id, true);
            }
        }
        self.foreign_toplevel_opened(id);
        tracing::info!(?id, "window mapped");
        // The new window takes the focus: a menu open elsewhere would keep it with its grab.
        self.dismiss_grabbed_popups();
        self.apply_focus();
    }

    /// Send a window to the next output (wrapping round to the first); it keeps its place on
    /// the output and its maximized or fullscreen state.
    pub fn move_to_next_output(&mut self, id: WindowId) {
        let count = self.nexq.layout.screens().len();
        let Some(current) = self.nexq.layout.screen_of(&id) else {
            return;
        };
        if count > 1 {
            self.nexq.layout.move_to_screen(&id, (current + 1) % count);
            self.nexq.sync_space();
        }
    }

    /// A toplevel that is not mapped yet asks to be maximized or fullscreen (or not): its
    /// initial configure says so, with the size a maximized window gets, and `map_window` puts it
    /// in that state in the layout.
    pub fn set_unmapped_state(
        &mut self,
        toplevel: &smithay::wayland::shell::xdg::ToplevelSurface,
        state: xdg_toplevel::State,
        on: bool,
    ) {
        let maximized_size = {
            let area = content_rect(self.nexq.layout.usable_area(), Decor::Frame, &self.nexq.config);
            (area.w, area.h)
        };
        toplevel.with_pending_state(|s| {
            set_state(&mut s.states, state, on);
            if state == xdg_toplevel::State::Maximized {
                s.size = on.then(|| maximized_size.into());
            }
        });
        if toplevel.is_initial_configure_sent() {
            toplevel.send_configure();
        }
    }

    /// A toplevel committed without a buffer: it unmaps (xdg-shell) and leaves the screen and
    /// the layout until it maps again after a new initial configure (handlers/compositor.rs).
    pub fn unmap_window(&mut self, id: WindowId) {
        let loc = self.nexq.layout.rect(&id).map(|r| r.loc());
        self.foreign_toplevel_closed(id);
        if let Some(window) = self.nexq.windows.remove(&id) {
            self.nexq.space.unmap_elem(&window);
            let at = window.user_data().get_or_insert_threadsafe(UnmappedAt::default);
            *at.0.lock().unwrap_or_else(|e| e.into_inner()) = loc;
            self.nexq.unmapped.push(window);
        }
        self.nexq.layout.remove_window(&id);
        tracing::info!(?id, "window unmapped");
        self.apply_focus();
    }

    /// Close the popups of the window that holds the keyboard with a popup grab (a menu), so the
    /// grab ends and the focus can move.
    fn dismiss_grabbed_popups(&mut self) {
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return;
        };
        let Some(focus) = keyboard.current_focus().filter(|_| keyboard.is_grabbed()) else {
            return;
        };
        // The grab has the keyboard on the innermost popup; its root is a window or a layer
        // surface.
        let root = match self.nexq.popups.find_popup(&focus.0) {
            Some(popup) => match smithay::desktop::find_popup_root_surface(&popup) {
                Ok(root) => root,
                Err(_) => return,
            },
            None => focus.0.clone(),
        };
        let popups: Vec<_> = PopupManager::popups_for_surface(&root).map(|(p, _)| p).collect();
        for popup in popups {
            let _ = PopupManager::dismiss_popup(&root, &popup);
        }
    }
}

/// Set on a window once the layout has given it a size: from then on its configures state it.
#[derive(Default)]
struct SizedByLayout(std::sync::atomic::AtomicBool);

/// Where an unmapped window's frame was, to put it back there when it maps again.
#[derive(Default)]
struct UnmappedAt(std::sync::Mutex<Option<exo_shell::geometry::Point>>);
