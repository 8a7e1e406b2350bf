//! Input from every backend and from the control socket ends up here: pointer focus and
//! constraints, click-to-focus, Super+drag move/resize, and key bindings.

use exo_shell::{
    geometry::Point as ShellPoint,
    keys::{Action, Modifiers},
    layout::Edges,
};
use smithay::{
    backend::{
        input::{ButtonState, KeyState, TouchSlot},
        renderer::utils::with_renderer_surface_state,
    },
    desktop::WindowSurfaceType,
    input::{
        keyboard::{keysyms, FilterResult, ModifiersState},
        pointer::{ButtonEvent, GrabStartData, MotionEvent, RelativeMotionEvent},
        touch::{DownEvent, MotionEvent as TouchMotionEvent, UpEvent},
    },
    reexports::wayland_server::protocol::wl_surface::WlSurface,
    utils::{Logical, Point, Rectangle, SERIAL_COUNTER},
    wayland::{
        compositor::{RectangleKind, RegionAttributes},
        pointer_constraints::{with_pointer_constraint, PointerConstraint},
        shell::wlr_layer::{KeyboardInteractivity, Layer},
    },
};

use crate::{focus::KeyboardFocusTarget, grabs::GrabKind, state::State, windows::FramePart};

pub const BTN_LEFT: u32 = 0x110;
pub const BTN_RIGHT: u32 = 0x111;
pub const BTN_MIDDLE: u32 = 0x112;

fn shell_mods(m: &ModifiersState) -> Modifiers {
    Modifiers {
        ctrl: m.ctrl,
        alt: m.alt,
        shift: m.shift,
        logo: m.logo,
    }
}

/// The virtual terminal a keysym switches to: XF86Switch_VT_1 to _12 (what Ctrl+Alt+F1 to F12
/// give in the usual keymaps).
fn vt_of(sym: u32) -> Option<i32> {
    (keysyms::KEY_XF86Switch_VT_1..=keysyms::KEY_XF86Switch_VT_12)
        .contains(&sym)
        .then(|| (sym - keysyms::KEY_XF86Switch_VT_1 + 1) as i32)
}

impl State {
    pub fn now_ms(&self) -> u32 {
        let t: std::time::Duration = self.nexq.clock.now().into();
        t.as_millis() as u32
    }

    /// The surface under a global point and that surface's origin, front to back.
    pub fn surface_under(&self, pos: Point<f64, Logical>) -> Option<(WlSurface, Point<f64, Logical>)> {
        if self.is_locked() {
            return self.nexq.lock_surface_under(pos);
        }
        let layer_hit = |layer: Layer| self.nexq.layers.surface_under(layer, pos);
        if let Some(hit) = layer_hit(Layer::Overlay).or_else(|| layer_hit(Layer::Top)) {
            return Some(hit);
        }
        if let Some((id, part)) = self.nexq.window_at(pos.x, pos.y) {
            if part != FramePart::Content {
                return None;
            }
            let window = self.nexq.windows.get(&id)?;
            let content = self.nexq.content_of(id)?;
            let render_loc = Point::<i32, Logical>::from((content.x, content.y)) - window.geometry().loc;
            return window
                .surface_under(pos - render_loc.to_f64(), WindowSurfaceType::ALL)
                .map(|(s, loc)| (s, (loc + render_loc).to_f64()));
        }
        layer_hit(Layer::Bottom).or_else(|| layer_hit(Layer::Background))
    }

    /// Global origin of a toplevel's root surface.
    pub fn surface_origin(&self, surface: &WlSurface) -> Option<Point<i32, Logical>> {
        let id = self.nexq.window_id_for_any_surface(surface)?;
        let content = self.nexq.content_of(id)?;
        let geo = self.nexq.windows.get(&id)?.geometry();
        Some(Point::from((content.x, content.y)) - geo.loc)
    }

    fn clamp_to_output(&self, pos: Point<f64, Logical>) -> Point<f64, Logical> {
        self.nexq.outputs.clamp(pos)
    }

    /// Absolute pointer motion (winit, synthetic input), reported to relative-pointer clients as
    /// the movement it makes.
    pub fn pointer_motion_absolute(&mut self, pos: Point<f64, Logical>) {
        let old = self.nexq.pointer.current_location();
        let pos = self.clamp_to_output(pos);
        self.pointer_motion(pos, Some(pos - old));
    }

    /// Move the pointer to `pos`, honouring locked and confined pointers. `relative` is the
    /// device's own movement for relative-pointer clients; devices that only know positions
    /// (tablets, touchscreens emulating a pointer) have none.
    pub fn pointer_motion(&mut self, pos: Point<f64, Logical>, relative: Option<Point<f64, Logical>>) {
        let pointer = self.nexq.pointer.clone();
        let pos = self.clamp_to_output(pos);
        let old = pointer.current_location();
        let time = self.now_ms();

        let mut locked = false;
        let mut confined_out = false;
        let mut pos = pos;
        if let Some((surface, origin)) = self
            .surface_under(old)
            .filter(|(s, _)| pointer.current_focus().as_ref() == Some(s))
        {
            // `with_pointer_constraint` holds the surface's state lock, and `surface_under` takes
            // that lock again (a deadlock on the first confined motion): only copy out here.
            let mut confine = None;
            with_pointer_constraint(&surface, &pointer, |constraint| match constraint {
                Some(c) if !c.is_active() => {}
                Some(c) => match &*c {
                    PointerConstraint::Locked(_) => locked = true,
                    PointerConstraint::Confined(c) => confine = Some(c.region().cloned()),
                },
                None => {}
            });
            // A confined pointer stops at the edge of its area instead of leaving it.
            if let Some(region) = confine {
                match confine_point(&surface, region.as_ref(), pos - origin).map(|local| origin + local) {
                    Some(target) if self.surface_under(target).is_some_and(|(s, _)| s == surface) => {
                        pos = target
                    }
                    _ => confined_out = true,
                }
            }
        }

        if let Some(delta) = relative {
            let under = self.surface_under(old);
            pointer.relative_motion(
                self,
                under,
                &RelativeMotionEvent {
                    delta,
                    delta_unaccel: delta,
                    utime: time as u64 * 1000,
                },
            );
        }
        if locked || confined_out {
            pointer.frame(self);
            return;
        }

        let under = self.surface_under(pos);
        self.remember_pointer_target(&under);
        pointer.motion(
            self,
            under.clone(),
            &MotionEvent {
                location: pos,
                serial: SERIAL_COUNTER.next_serial(),
                time,
            },
        );
        pointer.frame(self);
        self.activate_constraint(&under, pos);
        self.queue_redraw();
    }

    /// A constraint activates when the pointer is on its surface (inside its region).
    fn activate_constraint(
        &self,
        under: &Option<(WlSurface, Point<f64, Logical>)>,
        pos: Point<f64, Logical>,
    ) {
        let Some((surface, origin)) = under else {
            return;
        };
        let pointer = self.nexq.pointer.clone();
        with_pointer_constraint(surface, &pointer, |constraint| {
            if let Some(c) = constraint {
                if !c.is_active()
                    && c.region()
                        .is_none_or(|r| r.contains((pos - *origin).to_i32_round()))
                {
                    c.activate();
                }
            }
        });
    }

    pub fn pointer_button(&mut self, button: u32, state: ButtonState) {
        let pointer = self.nexq.pointer.clone();
        let serial = SERIAL_COUNTER.next_serial();
        let pos = pointer.current_location();
        if state == ButtonState::Pressed && !pointer.is_grabbed() {
            let mods = self
                .nexq
                .seat
                .get_keyboard()
                .map(|k| k.modifier_state())
                .unwrap_or_default();
            if self.press_starts_compositor_action(button, pos, mods.logo, serial) {
                return;
            }
        }
        pointer.button(
            self,
            &ButtonEvent {
                button,
                state,
                serial,
                time: self.now_ms(),
            },
        );
        pointer.frame(self);
        self.queue_redraw();
    }

    /// Click-to-focus, Super+left-drag move, Super+right-drag resize and title-bar drags.
    /// Returns true when the press was consumed by the compositor.
    fn press_starts_compositor_action(
        &mut self,
        button: u32,
        pos: Point<f64, Logical>,
        logo: bool,
        serial: smithay::utils::Serial,
    ) -> bool {
        if self.is_locked() {
            return false;
        }
        if let Some(layer) = self.layer_surface_at(pos) {
            self.set_keyboard_focus(Some(layer));
            return false;
        }
        let Some((id, part)) = self.nexq.window_at(pos.x, pos.y) else {
            return false;
        };
        self.nexq.layout.focus(&id);
        self.apply_focus();
        let start = |focus| GrabStartData {
            focus,
            button,
            location: pos,
        };
        let kind = match (logo, button, part) {
            (true, BTN_LEFT, _) | (false, BTN_LEFT, FramePart::TitleBar) => GrabKind::Move,
            (true, BTN_RIGHT, _) => {
                let Some(rect) = self.nexq.layout.rect(&id) else {
                    return false;
                };
                let p = ShellPoint {
                    x: pos.x as i32,
                    y: pos.y as i32,
                };
                GrabKind::Resize(Edges::from_pointer_in_rect(rect, p))
            }
            (false, BTN_LEFT, FramePart::Border) => {
                let Some(rect) = self.nexq.layout.rect(&id) else {
                    return false;
                };
                let p = ShellPoint {
                    x: pos.x as i32,
                    y: pos.y as i32,
                };
                GrabKind::Resize(Edges::from_pointer_in_rect(rect, p))
            }
            _ => return false,
        };
        // Start the grab first: it clears the pointer focus, so the press (which the grab needs
        // registered, as its release ends the grab) goes through the grab and reaches no client.
        self.start_layout_grab(id, kind, start(None), serial);
        let pointer = self.nexq.pointer.clone();
        pointer.button(
            self,
            &ButtonEvent {
                button,
                state: ButtonState::Pressed,
                serial,
                time: self.now_ms(),
            },
        );
        true
    }

    fn layer_surface_at(&self, pos: Point<f64, Logical>) -> Option<KeyboardFocusTarget> {
        let layers = &self.nexq.layers;
        let layer = layers
            .layer_under(Layer::Overlay, pos)
            .or_else(|| layers.layer_under(Layer::Top, pos))?;
        (layer.cached_state().keyboard_interactivity != KeyboardInteractivity::None)
            .then(|| KeyboardFocusTarget(layer.wl_surface().clone()))
    }

    /// A key from any backend (xkb keycode = evdev code + 8). Bindings are matched on the
    /// unshifted (level 0) keysym, so "super+shift+1" works whatever Shift+1 produces.
    pub fn keyboard_key(&mut self, keycode: u32, key_state: KeyState) {
        let Some(keyboard) = self.nexq.seat.get_keyboard() else {
            return;
        };
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.now_ms();
        if key_state == KeyState::Pressed {
            // Rate-limited to one ping every few seconds (sentry/ping.rs).
            self.sentry_ping_focused();
        }
        let action = keyboard.input(
            self,
            keycode.into(),
            key_state,
            serial,
            time,
            |state, mods, handle| {
                let code = handle.raw_code().raw();
                if key_state == KeyState::Released {
                    if let Some(pos) = state.nexq.suppressed_keys.iter().position(|k| *k == code) {
                        state.nexq.suppressed_keys.remove(pos);
                        return FilterResult::Intercept(None);
                    }
                    return FilterResult::Forward;
                }
                let sym = handle
                    .raw_latin_sym_or_raw_current_sym()
                    .unwrap_or(keysyms::KEY_NoSymbol.into());
                let name = smithay::input::keyboard::xkb::keysym_get_name(sym);
                // Ctrl+Alt+F<n> on a console: the keymap gives XF86Switch_VT_<n>, with the
                // modifiers applied (the raw symbol of that key is F<n>).
                if let Some(vt) = vt_of(handle.modified_sym().raw()) {
                    if let crate::backend::Backend::Drm(drm) = &mut state.backend {
                        state.nexq.suppressed_keys.push(code);
                        drm.change_vt(vt);
                        return FilterResult::Intercept(None);
                    }
                }
                // Bindings are matched before any client sees the key, whatever inhibits
                // shortcuts. While the session is locked the keys are the locker's, except the
                // secure ones, which no client ever gets: they are swallowed and do nothing.
                let locked = state.is_locked();
                match state.nexq.config.bindings.lookup(shell_mods(mods), &name) {
                    Some(action) if locked && !action.is_secure() => FilterResult::Forward,
                    Some(action) => {
                        state.nexq.suppressed_keys.push(code);
                        FilterResult::Intercept((!locked).then(|| action.clone()))
                    }
                    None => FilterResult::Forward,
                }
            },
        );
        if let Some(Some(action)) = action {
            self.run_action(action);
        }
        // Alt+Tab walks the windows while Alt is held; releasing Alt ends the walk.
        if key_state == KeyState::Released && !keyboard.modifier_state().alt {
            self.nexq.layout.finish_cycle();
        }
    }

    pub fn run_action(&mut self, action: Action) {
        tracing::debug!(?action, "binding");
        let focused = self.nexq.layout.focused().copied();
        match action {
            Action::Close => {
                if let Some(id) = focused {
                    self.close_window(id);
                }
            }
            Action::FocusNext => self.nexq.layout.cycle_focus(true),
            Action::FocusPrev => self.nexq.layout.cycle_focus(false),
            Action::Workspace(n) => self.nexq.layout.switch_workspace(n),
            Action::MoveToWorkspace(n) => {
                if let Some(id) = focused {
                    self.nexq.layout.move_to_workspace(&id, n);
                }
            }
            Action::MoveToNextOutput => {
                if let Some(id) = focused {
                    self.move_to_next_output(id);
                }
            }
            Action::Maximize => {
                if let Some(id) = focused {
                    self.nexq.layout.toggle_maximize(&id);
                }
            }
            Action::Fullscreen => {
                if let Some(id) = focused {
                    self.nexq.layout.toggle_fullscreen(&id);
                }
            }
            Action::Minimize => {
                if let Some(id) = focused {
                    self.nexq.layout.minimize(&id);
                }
            }
            Action::Spawn(argv) => crate::spawn::spawn(&argv),
            Action::StartCapsule(name) => {
                let running = self
                    .nexq
                    .supervisor
                    .capsules
                    .get(&name)
                    .is_some_and(|c| c.running.is_some());
                if !running {
                    if let Err(err) = self.capsule_user_start(&name) {
                        tracing::warn!("binding cannot start capsule {name}: {err:#}");
                    }
                }
            }
            Action::Quit => self.nexq.loop_signal.stop(),
            Action::XRay => {
                self.nexq.xray = !self.nexq.xray;
                tracing::info!(on = self.nexq.xray, "x-ray");
            }
            Action::ClipboardCopy => self.clipboard_copy(),
            Action::ClipboardPaste => self.clipboard_paste(),
            Action::DashboardToggle => {
                self.dashboard_set(exo_shell::control::DashboardAction::Toggle);
            }
            Action::LauncherToggle => {
                use exo_shell::sentry::{EventKind, Severity};
                self.record_event(None, Severity::Info, EventKind::Launcher);
            }
        }
        self.apply_focus();
    }
}

/// Touch: a point goes down on the surface under it (and focuses its window, like a click) and
/// stays with that surface until it lifts, wherever it moves.
impl State {
    pub fn touch_down(&mut self, slot: TouchSlot, pos: Point<f64, Logical>) {
        let Some(touch) = self.nexq.seat.get_touch() else {
            return;
        };
        if self.is_locked() {
            // Focus stays on the lock surface.
        } else if let Some(layer) = self.layer_surface_at(pos) {
            self.set_keyboard_focus(Some(layer));
        } else if let Some((id, _)) = self.nexq.window_at(pos.x, pos.y) {
            self.nexq.layout.focus(&id);
            self.apply_focus();
        }
        let under = self.surface_under(pos);
        let touched = self
            .nexq
            .seat
            .user_data()
            .get_or_insert_threadsafe(TouchPoints::default);
        let mut points = touched.0.lock().unwrap_or_else(|e| e.into_inner());
        points.retain(|(s, _)| *s != slot);
        if let Some((surface, _)) = &under {
            points.push((slot, surface.clone()));
        }
        drop(points);
        let event = DownEvent {
            slot,
            location: pos,
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        touch.down(self, under, &event);
        touch.frame(self);
        self.queue_redraw();
    }

    pub fn touch_motion(&mut self, slot: TouchSlot, pos: Point<f64, Logical>) {
        let Some(touch) = self.nexq.seat.get_touch() else {
            return;
        };
        let under = self.surface_under(pos);
        let event = TouchMotionEvent {
            slot,
            location: pos,
            time: self.now_ms(),
        };
        touch.motion(self, under, &event);
        touch.frame(self);
        self.queue_redraw();
    }

    pub fn touch_up(&mut self, slot: TouchSlot) {
        let Some(touch) = self.nexq.seat.get_touch() else {
            return;
        };
        if let Some(points) = self.nexq.seat.user_data().get::<TouchPoints>() {
            points
                .0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|(s, _)| *s != slot);
        }
        let event = UpEvent {
            slot,
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        touch.up(self, &event);
        touch.frame(self);
        self.queue_redraw();
    }
}

/// The touch points that are down, with the surface each went down on.
#[derive(Default)]
struct TouchPoints(std::sync::Mutex<Vec<(TouchSlot, WlSurface)>>);

/// The surface the pointer was last sent to and that surface's origin.
#[derive(Default)]
struct PointerTarget(std::sync::Mutex<Option<(WlSurface, Point<f64, Logical>)>>);

impl State {
    /// A surface went away: lift the touch points that are on it (the client would otherwise
    /// wait for their `up` forever).
    pub fn touch_surface_destroyed(&mut self, surface: &WlSurface) {
        let Some(points) = self.nexq.seat.user_data().get::<TouchPoints>() else {
            return;
        };
        let slots: Vec<TouchSlot> = points
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, s)| s == surface)
            .map(|(slot, _)| *slot)
            .collect();
        for slot in slots {
            self.touch_up(slot);
        }
    }

    fn remember_pointer_target(&self, under: &Option<(WlSurface, Point<f64, Logical>)>) {
        let target = self
            .nexq
            .seat
            .user_data()
            .get_or_insert_threadsafe(PointerTarget::default);
        *target.0.lock().unwrap_or_else(|e| e.into_inner()) = under.clone();
    }

    /// Windows moved, resized, mapped or went away under a pointer that did not move: send it to
    /// whatever is under it now (enter/leave, or motion with the new surface-local position).
    pub fn refresh_pointer_focus(&mut self) {
        let pointer = self.nexq.pointer.clone();
        let location = pointer.current_location();
        let under = self.surface_under(location);
        let target = self
            .nexq
            .seat
            .user_data()
            .get_or_insert_threadsafe(PointerTarget::default);
        let moved = *target.0.lock().unwrap_or_else(|e| e.into_inner()) != under;
        // After a grab ends (a move, a popup) the focus can still be what the grab left.
        let stale =
            !pointer.is_grabbed() && pointer.current_focus() != under.as_ref().map(|(s, _)| s.clone());
        if !moved && !stale {
            return;
        }
        self.remember_pointer_target(&under);
        pointer.motion(
            self,
            under.clone(),
            &MotionEvent {
                location,
                serial: SERIAL_COUNTER.next_serial(),
                time: self.now_ms(),
            },
        );
        pointer.frame(self);
        self.activate_constraint(&under, location);
    }
}

/// The point of a confinement area (the region, or the whole surface) nearest to `local`, in
/// surface coordinates: `local` itself when it is inside.
fn confine_point(
    surface: &WlSurface,
    region: Option<&RegionAttributes>,
    local: Point<f64, Logical>,
) -> Option<Point<f64, Logical>> {
    let size = with_renderer_surface_state(surface, |s| s.surface_size()).flatten()?;
    let bounds = Rectangle::<i32, Logical>::from_size(size);
    let inside = |p: Point<f64, Logical>| {
        let p = p.to_i32_floor();
        bounds.contains(p) && region.is_none_or(|r| r.contains(p))
    };
    if inside(local) {
        return Some(local);
    }
    let rects: Vec<Rectangle<i32, Logical>> = match region {
        None => vec![bounds],
        Some(r) => r
            .rects
            .iter()
            .filter(|(kind, _)| matches!(kind, RectangleKind::Add))
            .filter_map(|(_, rect)| rect.intersection(bounds))
            .collect(),
    };
    let clamp = |r: &Rectangle<i32, Logical>| {
        Point::<f64, Logical>::from((
            local
                .x
                .clamp(f64::from(r.loc.x), f64::from(r.loc.x + r.size.w - 1)),
            local
                .y
                .clamp(f64::from(r.loc.y), f64::from(r.loc.y + r.size.h - 1)),
        ))
    };
    let distance = |p: &Point<f64, Logical>| (p.x - local.x).powi(2) + (p.y - local.y).powi(2);
    rects
        .iter()
        .map(clamp)
        .filter(|p| inside(*p))
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
}

#[cfg(test)]
mod tests {
    use smithay::input::keyboard::xkb;

    use super::*;

    /// The keysym of evdev key `code` in the US layout, with Ctrl and Alt held or not.
    fn us_sym(code: u32, ctrl_alt: bool) -> u32 {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap =
            xkb::Keymap::new_from_names(&context, "", "", "us", "", None, xkb::KEYMAP_COMPILE_NO_FLAGS)
                .expect("the US keymap (xkb-data)");
        let mut state = xkb::State::new(&keymap);
        if ctrl_alt {
            let mods = (1 << keymap.mod_get_index(xkb::MOD_NAME_CTRL))
                | (1 << keymap.mod_get_index(xkb::MOD_NAME_ALT));
            state.update_mask(mods, 0, 0, 0, 0, 0);
        }
        state.key_get_one_sym((code + 8).into()).raw()
    }

    #[test]
    fn ctrl_alt_f2_switches_to_vt_2_and_f2_alone_does_not() {
        const KEY_F2: u32 = 60;
        const KEY_F12: u32 = 88;
        assert_eq!(vt_of(us_sym(KEY_F2, true)), Some(2));
        assert_eq!(vt_of(us_sym(KEY_F12, true)), Some(12));
        // The symbol without the modifiers (what key bindings are matched on) is F2.
        assert_eq!(vt_of(us_sym(KEY_F2, false)), None);
        assert_eq!(vt_of(keysyms::KEY_F2), None);
    }
}
