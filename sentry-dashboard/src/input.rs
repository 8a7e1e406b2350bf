//! Wayland input as egui events: pointer motion, buttons and scrolling in surface-local logical
//! coordinates, keys with their text.

use egui::{Event, Key, Modifiers, PointerButton, Pos2, TouchPhase, Vec2};
use smithay_client_toolkit::seat::keyboard::{KeyEvent, Keysym, Modifiers as WlModifiers};
use smithay_client_toolkit::seat::pointer::{PointerEvent, PointerEventKind};

/// Linux input event codes of the mouse buttons.
const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;

/// Pixels one wheel notch scrolls when the compositor sends only discrete steps.
const NOTCH: f32 = 40.0;

/// What a surface accumulates between frames.
#[derive(Debug, Default)]
pub struct InputState {
    pub events: Vec<Event>,
    pub modifiers: Modifiers,
    pub keyboard_focus: bool,
    pointer: Option<Pos2>,
}

impl InputState {
    /// Adds a pointer event over this surface; returns whether egui should see a new frame.
    pub fn pointer(&mut self, event: &PointerEvent) -> bool {
        let pos = Pos2::new(event.position.0 as f32, event.position.1 as f32);
        let modifiers = self.modifiers;
        match &event.kind {
            PointerEventKind::Enter { .. } | PointerEventKind::Motion { .. } => {
                self.pointer = Some(pos);
                self.events.push(Event::PointerMoved(pos));
            }
            PointerEventKind::Leave { .. } => {
                self.pointer = None;
                self.events.push(Event::PointerGone);
            }
            PointerEventKind::Press { button, .. } | PointerEventKind::Release { button, .. } => {
                let Some(button) = egui_button(*button) else {
                    return false;
                };
                let pressed = matches!(event.kind, PointerEventKind::Press { .. });
                self.events.push(Event::PointerButton {
                    pos,
                    button,
                    pressed,
                    modifiers,
                });
            }
            PointerEventKind::Axis {
                horizontal, vertical, ..
            } => {
                let amount = |absolute: f64, discrete: i32| {
                    if absolute != 0.0 {
                        absolute as f32
                    } else {
                        discrete as f32 * NOTCH
                    }
                };
                // Wayland's axis values move the view; egui's delta moves the content.
                let delta = -Vec2::new(
                    amount(horizontal.absolute, horizontal.discrete),
                    amount(vertical.absolute, vertical.discrete),
                );
                if delta == Vec2::ZERO {
                    return false;
                }
                self.events.push(Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Point,
                    delta,
                    phase: TouchPhase::Move,
                    modifiers,
                });
            }
        }
        true
    }

    /// Adds a key press or release; returns whether egui should see a new frame.
    pub fn key(&mut self, event: &KeyEvent, pressed: bool) -> bool {
        let mut any = false;
        if let Some(key) = egui_key(event.keysym) {
            self.events.push(Event::Key {
                key,
                physical_key: None,
                pressed,
                repeat: false,
                modifiers: self.modifiers,
            });
            any = true;
        }
        let typing = !self.modifiers.ctrl && !self.modifiers.alt && !self.modifiers.mac_cmd;
        if pressed && typing {
            if let Some(text) = event.utf8.as_deref().filter(|t| is_printable(t)) {
                self.events.push(Event::Text(text.to_string()));
                any = true;
            }
        }
        any
    }

    pub fn set_modifiers(&mut self, modifiers: WlModifiers) {
        self.modifiers = Modifiers {
            alt: modifiers.alt,
            ctrl: modifiers.ctrl,
            shift: modifiers.shift,
            mac_cmd: false,
            command: modifiers.ctrl,
        };
    }

    pub fn has_pointer(&self) -> bool {
        self.pointer.is_some()
    }

    /// Hands the accumulated events to a frame.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

fn egui_button(code: u32) -> Option<PointerButton> {
    match code {
        BTN_LEFT => Some(PointerButton::Primary),
        BTN_RIGHT => Some(PointerButton::Secondary),
        BTN_MIDDLE => Some(PointerButton::Middle),
        _ => None,
    }
}

fn is_printable(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| !c.is_control())
}

/// The keys the launcher and text fields use.
fn egui_key(sym: Keysym) -> Option<Key> {
    Some(match sym {
        Keysym::Escape => Key::Escape,
        Keysym::Return | Keysym::KP_Enter => Key::Enter,
        Keysym::BackSpace => Key::Backspace,
        Keysym::Delete => Key::Delete,
        Keysym::Tab | Keysym::ISO_Left_Tab => Key::Tab,
        Keysym::Left => Key::ArrowLeft,
        Keysym::Right => Key::ArrowRight,
        Keysym::Up => Key::ArrowUp,
        Keysym::Down => Key::ArrowDown,
        Keysym::Home => Key::Home,
        Keysym::End => Key::End,
        Keysym::Page_Up => Key::PageUp,
        Keysym::Page_Down => Key::PageDown,
        Keysym::space => Key::Space,
        Keysym::a | Keysym::A => Key::A,
        Keysym::c | Keysym::C => Key::C,
        Keysym::v | Keysym::V => Key::V,
        Keysym::x | Keysym::X => Key::X,
        Keysym::z | Keysym::Z => Key::Z,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_text_only() {
        assert!(is_printable("a"));
        assert!(is_printable("é"));
        assert!(!is_printable("\u{8}"));
        assert!(!is_printable(""));
    }

    #[test]
    fn buttons_and_keys_map() {
        assert_eq!(egui_button(BTN_LEFT), Some(PointerButton::Primary));
        assert_eq!(egui_button(0x113), None);
        assert_eq!(egui_key(Keysym::Escape), Some(Key::Escape));
        assert_eq!(egui_key(Keysym::F5), None);
    }
}
