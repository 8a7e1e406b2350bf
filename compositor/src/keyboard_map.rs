//! Reverse keymap for synthetic input: which key (and whether Shift) produces a keysym in the
//! configured xkb layout, so `exoctl type` and `exoctl key` go through the real keyboard path.

use std::collections::HashMap;

use exo_shell::{config::KeyboardConfig, keys::KeyCombo};
use smithay::input::keyboard::xkb;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    pub keycode: u32,
    pub shift: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("xkb cannot build a keymap for layout {layout:?} variant {variant:?} options {options:?} (is xkb-data installed?)")]
    Compile {
        layout: String,
        variant: String,
        options: String,
    },
    #[error("the keymap has no key for {0:?}")]
    NoKey(String),
}

pub struct KeyboardMap {
    by_sym: HashMap<u32, KeyPress>,
}

impl KeyboardMap {
    /// Compiles the keymap `config` names. The session does not call this: it reads the seat's
    /// own keymap ([`KeyboardMap::from_keymap`]) so that it compiles one keymap, not two.
    pub fn new(config: &KeyboardConfig) -> Result<Self, KeymapError> {
        let ctx = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &ctx,
            &config.rules,
            &config.model,
            &config.layout,
            &config.variant,
            Some(config.options.clone()),
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .ok_or_else(|| KeymapError::Compile {
            layout: config.layout.clone(),
            variant: config.variant.clone(),
            options: config.options.clone(),
        })?;
        Ok(Self::from_keymap(&keymap))
    }

    /// The reverse map of a compiled keymap.
    pub fn from_keymap(keymap: &xkb::Keymap) -> Self {
        let mut by_sym = HashMap::new();
        // Level 0 first, so a symbol reachable without Shift is typed without it.
        for level in 0..2u32 {
            for raw in keymap.min_keycode().raw()..=keymap.max_keycode().raw() {
                for sym in keymap.key_get_syms_by_level(raw.into(), 0, level) {
                    by_sym.entry(sym.raw()).or_insert(KeyPress {
                        keycode: raw,
                        shift: level == 1,
                    });
                }
            }
        }
        Self { by_sym }
    }

    pub fn for_keysym(&self, sym: xkb::Keysym) -> Option<KeyPress> {
        self.by_sym.get(&sym.raw()).copied()
    }

    pub fn for_name(&self, name: &str) -> Result<KeyPress, KeymapError> {
        let sym = xkb::keysym_from_name(name, xkb::KEYSYM_CASE_INSENSITIVE);
        self.for_keysym(sym)
            .ok_or_else(|| KeymapError::NoKey(name.to_string()))
    }

    pub fn for_char(&self, c: char) -> Result<KeyPress, KeymapError> {
        let sym = match c {
            '\n' | '\r' => xkb::Keysym::Return,
            '\t' => xkb::Keysym::Tab,
            _ => xkb::utf32_to_keysym(c as u32),
        };
        self.for_keysym(sym)
            .ok_or_else(|| KeymapError::NoKey(c.to_string()))
    }

    /// The keys to hold, in press order, for a combo like super+shift+1.
    pub fn for_combo(&self, combo: &KeyCombo) -> Result<Vec<u32>, KeymapError> {
        let mut keys = Vec::new();
        let m = &combo.mods;
        for (on, name) in [
            (m.logo, "Super_L"),
            (m.ctrl, "Control_L"),
            (m.alt, "Alt_L"),
            (m.shift, "Shift_L"),
        ] {
            if on {
                keys.push(self.for_name(name)?.keycode);
            }
        }
        let key = self.for_name(&combo.key)?;
        if key.shift && !m.shift {
            keys.push(self.for_name("Shift_L")?.keycode);
        }
        keys.push(key.keycode);
        Ok(keys)
    }
}

impl crate::state::State {
    /// The reverse map of the seat's current keymap, made on first use.
    pub fn keyboard_map(&mut self) -> anyhow::Result<&KeyboardMap> {
        if self.nexq.keyboard_map.is_none() {
            let keyboard = self
                .nexq
                .seat
                .get_keyboard()
                .ok_or_else(|| anyhow::anyhow!("the seat has no keyboard"))?;
            let map = keyboard.with_xkb_state(self, |context| {
                let xkb = context.xkb().lock().unwrap_or_else(|p| p.into_inner());
                // SAFETY: the keymap is only read while the lock is held; no reference to it
                // (and so no reference count) outlives this closure.
                KeyboardMap::from_keymap(unsafe { xkb.keymap() })
            });
            self.nexq.keyboard_map = Some(map);
        }
        Ok(self.nexq.keyboard_map.as_ref().expect("made just above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> KeyboardMap {
        KeyboardMap::new(&exo_shell::config::Config::default().keyboard).expect("us keymap")
    }

    #[test]
    fn letters_and_shifted_symbols_map_to_evdev_keys() {
        let map = us();
        // evdev KEY_A = 30, xkb keycode = evdev + 8.
        assert_eq!(
            map.for_char('a').unwrap(),
            KeyPress {
                keycode: 38,
                shift: false
            }
        );
        assert_eq!(
            map.for_char('A').unwrap(),
            KeyPress {
                keycode: 38,
                shift: true
            }
        );
        assert_eq!(
            map.for_char('!').unwrap(),
            KeyPress {
                keycode: 10,
                shift: true
            }
        );
        assert_eq!(map.for_char('\n').unwrap().keycode, 36);
    }

    #[test]
    fn combos_press_modifiers_first() {
        let map = us();
        let combo: KeyCombo = "super+q".parse().unwrap();
        assert_eq!(map.for_combo(&combo).unwrap(), vec![133, 24]);
    }

    #[test]
    fn unknown_layout_is_an_error_naming_it() {
        let mut cfg = exo_shell::config::Config::default().keyboard;
        cfg.layout = "no-such-layout".into();
        let err = KeyboardMap::new(&cfg).err().expect("must fail");
        assert!(err.to_string().contains("no-such-layout"), "{err}");
    }
}
