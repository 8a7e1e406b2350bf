//! Floating, stacking window management on nine workspaces, as pure data.
//!
//! The layout knows each window's rectangle (whatever box the compositor
//! positions: the crate does not care whether it includes decorations),
//! workspace, state flags and stacking position; the compositor maps
//! its surfaces to ids of type `W` and asks the layout where things go.
//!
//! Focus is always the topmost non-minimized window of the active workspace,
//! or `None` when it has none: focusing raises, and closing, minimizing or
//! moving away the focused window passes focus to the one below it. A
//! maximized window fills the usable area and a fullscreen one the whole
//! output; both are computed from the flags, so the floating rectangle is
//! kept untouched and restoring gives it back.
//!
//! There may be several outputs ([`Screen`]s, the first being the primary one): a window is on
//! the output that holds its centre, maximizing and fullscreen fill that output, and new
//! windows go to the output of the focused window.

mod grab;
mod screens;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

pub use grab::{Edges, MoveGrab, ResizeGrab, DEFAULT_MIN_SIZE};
pub use screens::Screen;
use screens::Screens;

use crate::geometry::{Point, Rect, Size};

/// Workspaces are numbered `1..=WORKSPACE_COUNT`.
pub const WORKSPACE_COUNT: u8 = 9;

/// How far each new window is placed down and right of the previous one.
pub const CASCADE_STEP: i32 = 32;

/// Where [`Layout::add_window`] puts a new window (`[layout] placement` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// The first window of a workspace centred, later ones cascading [`CASCADE_STEP`] down-right
    /// of the topmost.
    #[default]
    Cascade,
    /// Every new window centred in the usable area, over whatever is there.
    Centre,
}

impl std::str::FromStr for Placement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cascade" => Ok(Placement::Cascade),
            "centre" | "center" => Ok(Placement::Centre),
            _ => Err(format!(
                "unknown placement {s:?} (expected \"cascade\" or \"centre\")"
            )),
        }
    }
}

/// A window's workspace, flags and geometry, as reported by [`Layout::window_info`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    pub workspace: u8,
    pub maximized: bool,
    pub fullscreen: bool,
    pub minimized: bool,
    /// Where the window is now: the output when fullscreen, the usable area
    /// when maximized, else `floating_rect`.
    pub rect: Rect,
    /// Where the window goes when neither maximized nor fullscreen.
    pub floating_rect: Rect,
}

#[derive(Debug, Clone)]
struct Window {
    floating: Rect,
    workspace: u8,
    maximized: bool,
    fullscreen: bool,
    minimized: bool,
}

/// An Alt+Tab walk in progress; see [`Layout::cycle_focus`].
#[derive(Debug, Clone)]
struct Cycle<W> {
    workspace: u8,
    /// The workspace's stack (bottom to top) when the walk began.
    stack: Vec<W>,
    /// Walk order: visible windows top to bottom, then minimized ones.
    order: Vec<W>,
    /// Position in `order` of the window the walk last focused.
    index: Option<usize>,
    /// A minimized window the walk restored, to minimize again when it moves on.
    restored: Option<W>,
}

/// The window layout; see the module docs.
#[derive(Debug, Clone)]
pub struct Layout<W> {
    screens: Screens,
    active: u8,
    windows: HashMap<W, Window>,
    /// One stack per workspace, bottom to top.
    stacks: Vec<Vec<W>>,
    cycle: Option<Cycle<W>>,
    placement: Placement,
}

/// The stack index of workspace `n`, if it is in `1..=9`.
fn ws_index(n: u8) -> Option<usize> {
    (1..=WORKSPACE_COUNT).contains(&n).then(|| usize::from(n - 1))
}

impl<W: Clone + Eq + Hash + Debug> Default for Layout<W> {
    fn default() -> Self {
        Layout::new()
    }
}

impl<W: Clone + Eq + Hash + Debug> Layout<W> {
    /// An empty layout showing workspace 1, with empty areas until
    /// [`Layout::set_areas`] is called.
    pub fn new() -> Self {
        Layout::with_areas(Rect::default(), Rect::default())
    }

    /// An empty layout showing workspace 1 with the given areas (see [`Layout::set_areas`]).
    pub fn with_areas(output: Rect, usable: Rect) -> Self {
        Layout {
            screens: Screens::new(vec![Screen::new(output, usable)]),
            active: 1,
            windows: HashMap::new(),
            stacks: vec![Vec::new(); usize::from(WORKSPACE_COUNT)],
            cycle: None,
            placement: Placement::default(),
        }
    }

    /// How windows added from now on are placed.
    pub fn set_placement(&mut self, placement: Placement) {
        self.placement = placement;
    }

    /// Sets one output's area and the usable part of it (the output minus
    /// layer-shell exclusive zones); see [`Layout::set_screens`].
    pub fn set_areas(&mut self, output: Rect, usable: Rect) {
        self.set_screens(vec![Screen::new(output, usable)]);
    }

    /// Sets the outputs, the primary one first. Maximized and fullscreen
    /// windows follow automatically; floating windows left wholly outside
    /// every usable area are moved back into the primary one.
    pub fn set_screens(&mut self, screens: Vec<Screen>) {
        self.screens = Screens::new(screens);
        let primary = self.screens.primary().usable;
        if primary.is_empty() {
            return;
        }
        for w in self.windows.values_mut() {
            if !self.screens.any_usable_intersects(w.floating) {
                w.floating = w.floating.clamp_into(primary);
            }
        }
    }

    /// The outputs, the primary one first.
    pub fn screens(&self) -> &[Screen] {
        self.screens.all()
    }

    /// The primary output's area.
    pub fn output_area(&self) -> Rect {
        self.screens.primary().output
    }

    /// The primary output's usable area.
    pub fn usable_area(&self) -> Rect {
        self.screens.primary().usable
    }

    /// The index (in [`Layout::screens`]) of the output a window is on.
    pub fn screen_of(&self, id: &W) -> Option<usize> {
        Some(self.screens.index_of(self.windows.get(id)?.floating))
    }

    /// Moves a window to output `index`, keeping its place relative to the
    /// usable area (pulled inside if it would stick out); a maximized or
    /// fullscreen window stays so on the new output. Returns the new rectangle.
    pub fn move_to_screen(&mut self, id: &W, index: usize) -> Option<Rect> {
        let to = self.screens.get(index)?;
        let from = self.screens.of(self.windows.get(id)?.floating);
        self.cycle = None;
        let w = self.windows.get_mut(id)?;
        w.floating = screens::carry(w.floating, from, to);
        self.rect(id)
    }

    /// The number of windows on all workspaces.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    pub fn contains(&self, id: &W) -> bool {
        self.windows.contains_key(id)
    }

    fn geometry(&self, w: &Window) -> Rect {
        if w.fullscreen {
            self.screens.of(w.floating).output
        } else if w.maximized {
            self.screens.of(w.floating).usable
        } else {
            w.floating
        }
    }

    fn is_minimized(&self, id: &W) -> bool {
        self.windows.get(id).is_some_and(|w| w.minimized)
    }

    fn active_stack(&self) -> &[W] {
        ws_index(self.active).map_or(&[], |i| self.stacks[i].as_slice())
    }

    /// Moves `id` to the top of its workspace's stack.
    fn raise(&mut self, id: &W) {
        let Some(i) = self.windows.get(id).and_then(|w| ws_index(w.workspace)) else {
            return;
        };
        self.stacks[i].retain(|x| x != id);
        self.stacks[i].push(id.clone());
    }

    /// Adds a window on the active workspace, on top and focused, and
    /// returns its rectangle. The size is clamped to the usable area. With
    /// [`Placement::Cascade`] the first visible window of a workspace is
    /// centred, later ones cascade [`CASCADE_STEP`] down-right of the topmost,
    /// back to the usable area's top-left corner when they would not fit; with
    /// [`Placement::Centre`] every window is centred. A window goes to the output of
    /// the focused window, else the primary one. Re-adding a known id places it anew.
    pub fn add_window(&mut self, id: W, initial_size: Size) -> Rect {
        self.remove_window(&id);
        let usable = match self.focused().and_then(|top| self.windows.get(top)) {
            Some(top) => self.screens.of(top.floating).usable,
            None => self.screens.primary().usable,
        };
        let size = Size::new(
            initial_size.w.clamp(1, usable.w.max(1)),
            initial_size.h.clamp(1, usable.h.max(1)),
        );
        let placed = Rect::from_loc_size(usable.loc(), size);
        let top = match self.placement {
            Placement::Cascade => self.focused().and_then(|top| self.rect(top)),
            Placement::Centre => None,
        };
        let rect = match top {
            None => placed.centered_in(usable),
            Some(top) => {
                let next = Rect::from_loc_size(top.loc() + Point::new(CASCADE_STEP, CASCADE_STEP), size);
                let centred = placed.centered_in(usable);
                // Cascade while it fits; then the centre, unless a window already sits exactly
                // there (so it would hide it); then the top-left corner of the usable area.
                let centre_taken = self
                    .windows_bottom_to_top()
                    .iter()
                    .any(|(_, r)| r.loc() == centred.loc());
                if usable.contains_rect(next) {
                    next
                } else if !centre_taken {
                    centred
                } else {
                    placed
                }
            }
        };
        let window = Window {
            floating: rect,
            workspace: self.active,
            maximized: false,
            fullscreen: false,
            minimized: false,
        };
        self.windows.insert(id.clone(), window);
        if let Some(i) = ws_index(self.active) {
            self.stacks[i].push(id);
        }
        rect
    }

    /// Forgets a window; focus passes to the next topmost visible one.
    /// Returns false for an unknown id.
    pub fn remove_window(&mut self, id: &W) -> bool {
        self.cycle = None;
        let Some(w) = self.windows.remove(id) else {
            return false;
        };
        if let Some(i) = ws_index(w.workspace) {
            self.stacks[i].retain(|x| x != id);
        }
        true
    }

    /// Focuses a window: shows its workspace, restores it if minimized and
    /// raises it. Returns false for an unknown id.
    pub fn focus(&mut self, id: &W) -> bool {
        self.cycle = None;
        let Some(w) = self.windows.get_mut(id) else {
            return false;
        };
        w.minimized = false;
        self.active = w.workspace;
        self.raise(id);
        true
    }

    /// The focused window: the topmost non-minimized one on the active workspace.
    pub fn focused(&self) -> Option<&W> {
        self.active_stack().iter().rev().find(|id| !self.is_minimized(id))
    }

    /// The topmost visible window on the active workspace containing `p`.
    pub fn window_under(&self, p: Point) -> Option<&W> {
        self.active_stack().iter().rev().find(|id| {
            self.windows
                .get(*id)
                .is_some_and(|w| !w.minimized && self.geometry(w).contains(p))
        })
    }

    /// Click to focus: focuses and raises the window under `p` and returns
    /// it. Clicking where there is no window leaves focus alone.
    pub fn click(&mut self, p: Point) -> Option<W> {
        self.cycle = None;
        let id = self.window_under(p)?.clone();
        self.focus(&id);
        Some(id)
    }

    /// One Alt+Tab step on the active workspace; [`Layout::focused`] gives the result.
    ///
    /// Consecutive calls walk a snapshot of the most-recently-used order
    /// (which is the stacking order, since focusing raises): visible windows
    /// top to bottom, then minimized ones, wrapping around; `forward = false`
    /// walks backwards. Each step raises the chosen window over the snapshot,
    /// so ending the walk on a window leaves the others in their old order.
    /// A minimized window is restored while the walk is on it and minimized
    /// again when the walk moves on. The walk ends with [`Layout::finish_cycle`]
    /// (call it when the modifier is released) or any other change to the layout.
    pub fn cycle_focus(&mut self, forward: bool) {
        self.cycle_step(forward);
    }

    /// [`Layout::cycle_focus`], returning the window it focused.
    fn cycle_step(&mut self, forward: bool) -> Option<W> {
        let ws = ws_index(self.active)?;
        let mut cycle = match self.cycle.take() {
            Some(c) if c.workspace == self.active => c,
            _ => {
                let stack = self.stacks[ws].clone();
                let (visible, minimized): (Vec<W>, Vec<W>) =
                    stack.iter().rev().cloned().partition(|id| !self.is_minimized(id));
                // The walk starts on the focused window, or before the first one if none is.
                let index = (!visible.is_empty()).then_some(0);
                let order = visible.into_iter().chain(minimized).collect();
                Cycle {
                    workspace: self.active,
                    stack,
                    order,
                    index,
                    restored: None,
                }
            }
        };
        let len = cycle.order.len();
        if len == 0 {
            return None;
        }
        let next = match (cycle.index, forward) {
            (Some(i), true) => (i + 1) % len,
            (Some(i), false) => (i + len - 1) % len,
            (None, true) => 0,
            (None, false) => len - 1,
        };
        let target = cycle.order[next].clone();
        match cycle.restored.take() {
            Some(prev) if prev != target => self.set_minimized_flag(&prev, true),
            same => cycle.restored = same,
        }
        if self.is_minimized(&target) {
            self.set_minimized_flag(&target, false);
            cycle.restored = Some(target.clone());
        }
        let mut stack = cycle.stack.clone();
        stack.retain(|x| *x != target);
        stack.push(target.clone());
        self.stacks[ws] = stack;
        cycle.index = Some(next);
        self.cycle = Some(cycle);
        Some(target)
    }

    /// Ends an Alt+Tab walk, keeping the window it is on focused.
    pub fn finish_cycle(&mut self) {
        self.cycle = None;
    }

    fn set_minimized_flag(&mut self, id: &W, on: bool) {
        if let Some(w) = self.windows.get_mut(id) {
            w.minimized = on;
        }
    }

    /// The workspace being shown, `1..=9`.
    pub fn active_workspace(&self) -> u8 {
        self.active
    }

    /// Shows workspace `n`; its topmost visible window gets focus. Numbers
    /// outside `1..=9` are ignored.
    pub fn switch_workspace(&mut self, n: u8) {
        if ws_index(n).is_some() {
            self.cycle = None;
            self.active = n;
        }
    }

    /// Sends a window to the top of workspace `n`'s stack (no change if it is
    /// already there). If it was on the
    /// active workspace it leaves view and focus passes to the next window.
    /// Returns false for an unknown id or a workspace outside `1..=9`.
    pub fn move_to_workspace(&mut self, id: &W, n: u8) -> bool {
        let Some(to) = ws_index(n) else { return false };
        let Some(w) = self.windows.get_mut(id) else {
            return false;
        };
        if w.workspace == n {
            return true;
        }
        self.cycle = None;
        let from = ws_index(w.workspace);
        w.workspace = n;
        if let Some(from) = from {
            self.stacks[from].retain(|x| x != id);
        }
        self.stacks[to].push(id.clone());
        true
    }

    /// Flips maximized; returns the new rectangle.
    pub fn toggle_maximize(&mut self, id: &W) -> Option<Rect> {
        let on = !self.windows.get(id)?.maximized;
        self.set_maximized(id, on)
    }

    /// Flips fullscreen; returns the new rectangle.
    pub fn toggle_fullscreen(&mut self, id: &W) -> Option<Rect> {
        let on = !self.windows.get(id)?.fullscreen;
        self.set_fullscreen(id, on)
    }

    /// Maximizes (fills the usable area) or restores; returns the new rectangle.
    pub fn set_maximized(&mut self, id: &W, on: bool) -> Option<Rect> {
        self.cycle = None;
        self.windows.get_mut(id)?.maximized = on;
        self.rect(id)
    }

    /// Makes fullscreen (fills the output) or restores; returns the new
    /// rectangle. Fullscreen wins over maximized while both are set.
    pub fn set_fullscreen(&mut self, id: &W, on: bool) -> Option<Rect> {
        self.cycle = None;
        self.windows.get_mut(id)?.fullscreen = on;
        self.rect(id)
    }

    /// Hides a window and lowers it to the bottom of its stack; focus passes
    /// to the next window. [`Layout::focus`] brings it back. Returns false for an unknown id.
    pub fn minimize(&mut self, id: &W) -> bool {
        self.cycle = None;
        let Some(w) = self.windows.get_mut(id) else {
            return false;
        };
        w.minimized = true;
        if let Some(i) = ws_index(w.workspace) {
            self.stacks[i].retain(|x| x != id);
            self.stacks[i].insert(0, id.clone());
        }
        true
    }

    /// Moves a window's top-left corner to `loc` (an interactive move); a
    /// maximized or fullscreen window becomes floating. Returns the new rectangle.
    pub fn move_to(&mut self, id: &W, loc: Point) -> Option<Rect> {
        let size = self.windows.get(id)?.floating.size();
        self.resize_to(id, Rect::from_loc_size(loc, size))
    }

    /// Gives a window a new floating rectangle (at least 1x1; an interactive
    /// resize or a client's own resize); a maximized or fullscreen window
    /// becomes floating. Returns the new rectangle.
    pub fn resize_to(&mut self, id: &W, rect: Rect) -> Option<Rect> {
        self.cycle = None;
        let w = self.windows.get_mut(id)?;
        w.floating = Rect::new(rect.x, rect.y, rect.w.max(1), rect.h.max(1));
        w.maximized = false;
        w.fullscreen = false;
        Some(w.floating)
    }

    /// Where a window is now (on whichever workspace).
    pub fn rect(&self, id: &W) -> Option<Rect> {
        self.windows.get(id).map(|w| self.geometry(w))
    }

    /// A window's workspace, flags and geometry.
    pub fn window_info(&self, id: &W) -> Option<WindowState> {
        let w = self.windows.get(id)?;
        Some(WindowState {
            workspace: w.workspace,
            maximized: w.maximized,
            fullscreen: w.fullscreen,
            minimized: w.minimized,
            rect: self.geometry(w),
            floating_rect: w.floating,
        })
    }

    /// The visible (non-minimized) windows of the active workspace, bottom to
    /// top: the order to draw them in.
    pub fn windows_bottom_to_top(&self) -> Vec<(W, Rect)> {
        let visible = self.active_stack().iter().filter_map(|id| {
            let w = self.windows.get(id).filter(|w| !w.minimized)?;
            Some((id.clone(), self.geometry(w)))
        });
        visible.collect()
    }

    /// Every window, by workspace and then bottom to top.
    pub fn all_windows(&self) -> Vec<(W, WindowState)> {
        let ids = self.stacks.iter().flatten();
        ids.filter_map(|id| Some((id.clone(), self.window_info(id)?)))
            .collect()
    }

    /// Panics if the internal bookkeeping is inconsistent.
    #[cfg(test)]
    fn assert_consistent(&self) {
        let mut seen = 0;
        for (i, stack) in self.stacks.iter().enumerate() {
            for id in stack {
                let w = self
                    .windows
                    .get(id)
                    .unwrap_or_else(|| panic!("{id:?} is stacked but unknown"));
                assert_eq!(
                    ws_index(w.workspace),
                    Some(i),
                    "{id:?} is stacked on the wrong workspace"
                );
                seen += 1;
            }
        }
        assert_eq!(
            seen,
            self.windows.len(),
            "every window is in exactly one stack, once"
        );
        assert!(ws_index(self.active).is_some());
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod proptests;
