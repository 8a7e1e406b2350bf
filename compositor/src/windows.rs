//! Toplevel windows: the bridge between the layout policy (`exo_shell::layout`, which works on
//! frame rectangles) and Smithay's windows (which work on content geometry).

use exo_shell::{
    config::Config,
    geometry::{Rect, Size},
};
use smithay::{
    desktop::{Window, WindowSurfaceType},
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

/// The frame's border and title bar thickness from the config; fullscreen windows have none.
fn insets(config: &Config) -> (i32, i32) {
    let a = &config.appearance;
    (a.border_width as i32, a.title_height as i32)
}

/// The content (client geometry) inside a frame rectangle.
pub fn content_rect(frame: Rect, fullscreen: bool, config: &Config) -> Rect {
    if fullscreen {
        return frame;
    }
    let (border, title) = insets(config);
    Rect {
        x: frame.x + border,
        y: frame.y + border + title,
        w: (frame.w - 2 * border).max(1),
        h: (frame.h - 2 * border - title).max(1),
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

pub fn frame_part(frame: Rect, fullscreen: bool, config: &Config, x: i32, y: i32) -> FramePart {
    let p = exo_shell::geometry::Point { x, y };
    if content_rect(frame, fullscreen, config).contains(p) {
        FramePart::Content
    } else if decoration_rects(frame, config).1.contains(p) {
        FramePart::TitleBar
    } else {
        FramePart::Border
    }
}

impl Nexq {
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
            let fullscreen = self.layout.window_info(&id).is_some_and(|i| i.fullscreen);
            let content = content_rect(frame, fullscreen, &self.config);
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
        let content = content_rect(frame, info.fullscreen, &self.config);
        let focused = self.layout.focused() == Some(&id);
        toplevel.with_pending_state(|state| {
            state.size = Some((content.w, content.h).into());
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
        let fullscreen = self.layout.window_info(&id)?.fullscreen;
        Some(content_rect(frame, fullscreen, &self.config))
    }

    /// Topmost window at a point, with the part of its frame the point is on.
    pub fn window_at(&self, x: f64, y: f64) -> Option<(WindowId, FramePart)> {
        let p = exo_shell::geometry::Point {
            x: x.floor() as i32,
            y: y.floor() as i32,
        };
        let stack: Vec<(WindowId, Rect, bool)> = self
            .layout
            .windows_bottom_to_top()
            .into_iter()
            .rev()
            .map(|(id, frame)| {
                (
                    id,
                    frame,
                    self.layout.window_info(&id).is_some_and(|i| i.fullscreen),
                )
            })
            .collect();
        let frames: Vec<(Rect, bool)> = stack.iter().map(|&(_, frame, fs)| (frame, fs)).collect();
        for (i, &(id, frame, fullscreen)) in stack.iter().enumerate() {
            let content = content_rect(frame, fullscreen, &self.config);
            // Popups reach outside the frame: test the surface tree first, except where the
            // popup is not drawn (title bars: see `labels`), so input goes where it looks to.
            let on_label = (!fullscreen && decoration_rects(frame, &self.config).1.contains(p))
                || crate::labels::lower_title_bars(&frames, i, &self.config)
                    .iter()
                    .any(|r| r.contains((p.x, p.y)));
            if let Some(window) = self.windows.get(&id).filter(|_| !on_label) {
                let local = smithay::utils::Point::<f64, smithay::utils::Logical>::from((
                    x - content.x as f64 + window.geometry().loc.x as f64,
                    y - content.y as f64 + window.geometry().loc.y as f64,
                ));
                if window.surface_under(local, WindowSurfaceType::POPUP).is_some() {
                    return Some((id, FramePart::Content));
                }
            }
            if frame.contains(p) {
                return Some((id, frame_part(frame, fullscreen, &self.config, p.x, p.y)));
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
        let target = self
            .nexq
            .layout
            .focused()
            .and_then(|id| self.nexq.windows.get(id))
            .and_then(|w| w.toplevel().map(|t| KeyboardFocusTarget(t.wl_surface().clone())));
        self.set_keyboard_focus(target);
        self.nexq.sync_space();
        self.queue_redraw();
    }

    pub fn set_keyboard_focus(&mut self, target: Option<KeyboardFocusTarget>) {
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return;
        };
        if keyboard.current_focus() != target {
            keyboard.set_focus(self, target, SERIAL_COUNTER.next_serial());
        }
    }

    pub fn close_window(&mut self, id: WindowId) {
        if let Some(toplevel) = self.nexq.windows.get(&id).and_then(|w| w.toplevel()) {
            toplevel.send_close();
        }
    }

    /// Forget a toplevel whose surface was destroyed.
    pub fn remove_window(&mut self, id: WindowId) {
        if let Some(window) = self.nexq.windows.remove(&id) {
            self.nexq.space.unmap_elem(&window);
        }
        self.nexq.layout.remove_window(&id);
        self.apply_focus();
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
        self.nexq.windows.insert(id, window);
        self.nexq.layout.add_window(id, frame);
        tracing::info!(?id, "window mapped");
        self.apply_focus();
    }
}
