//! Key combinations ("super+shift+1"), compositor actions ("workspace 1")
//! and the binding table that maps one to the other.
//!
//! Key names are xkb keysym names in lower case. Where xkb has two names
//! for one keysym (`Page_Up`/`Prior`) or people commonly use a nickname
//! (`enter`, `esc`), both sides of a lookup are normalised to the name
//! `xkb_keysym_get_name` returns, so either spelling matches.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The modifiers a binding can require. Lock modifiers are deliberately
/// absent so that Caps Lock or Num Lock never stop a binding from firing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Modifiers {
    pub ctrl: bool,
    pub alt: bool,
    pub shift: bool,
    /// The Super / Windows / Mod4 key.
    pub logo: bool,
}

/// A key with the modifiers held, e.g. `super+shift+1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    pub mods: Modifiers,
    /// A known keysym name in canonical lower case (see [`normalize_key_name`]).
    pub key: String,
}

/// Why a key combination string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("empty key combination")]
    Empty,
    #[error("empty part in \"{0}\" (stray '+'?)")]
    EmptyPart(String),
    #[error("\"{0}\" has no key after the modifiers")]
    MissingKey(String),
    #[error("modifier \"{0}\" given twice")]
    DuplicateModifier(String),
    #[error("unknown modifier \"{0}\" (expected super, ctrl, alt or shift)")]
    UnknownModifier(String),
    #[error("unknown key \"{0}\"")]
    UnknownKey(String),
}

/// Nicknames and xkb alias names mapped to the name xkb reports.
const KEY_ALIASES: &[(&str, &str)] = &[
    ("enter", "return"),
    ("esc", "escape"),
    ("page_up", "prior"),
    ("pageup", "prior"),
    ("page_down", "next"),
    ("pagedown", "next"),
    ("del", "delete"),
    ("ins", "insert"),
    ("dash", "minus"),
    ("equals", "equal"),
    ("dot", "period"),
    ("backtick", "grave"),
    ("print_screen", "print"),
];

/// Keysym names (besides a-z, 0-9 and f1-f24) accepted in bindings.
#[rustfmt::skip]
const NAMED_KEYS: &[&str] = &[
    "return", "tab", "space", "escape", "backspace", "delete", "insert", "home", "end", "left",
    "right", "up", "down", "prior", "next", "print", "pause", "scroll_lock", "menu", "minus",
    "equal", "plus", "comma", "period", "slash", "backslash", "semicolon", "apostrophe", "grave",
    "bracketleft", "bracketright", "kp_enter", "kp_add", "kp_subtract", "kp_multiply", "kp_divide",
    "kp_0", "kp_1", "kp_2", "kp_3", "kp_4", "kp_5", "kp_6", "kp_7", "kp_8", "kp_9",
    "xf86audioraisevolume", "xf86audiolowervolume", "xf86audiomute", "xf86audiomicmute",
    "xf86audioplay", "xf86audiopause", "xf86audionext", "xf86audioprev", "xf86audiostop",
    "xf86monbrightnessup", "xf86monbrightnessdown",
];

/// Lower-cases a keysym name and resolves aliases, without checking that
/// the result is a key bindings accept.
pub fn normalize_key_name(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match KEY_ALIASES.iter().find(|(alias, _)| *alias == lower) {
        Some((_, canonical)) => (*canonical).to_string(),
        None => lower,
    }
}

/// True for a normalised name a binding may use.
fn is_known_key(name: &str) -> bool {
    let single = name.len() == 1 && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    // Function keys f1..=f24, written without leading zeros.
    let function = name
        .strip_prefix('f')
        .filter(|n| !n.starts_with('0'))
        .and_then(|n| n.parse::<u8>().ok())
        .is_some_and(|n| (1..=24).contains(&n));
    single || function || NAMED_KEYS.contains(&name)
}

/// Which modifier field a (lower-case) alias sets.
fn modifier_slot<'a>(mods: &'a mut Modifiers, name: &str) -> Option<&'a mut bool> {
    match name {
        "super" | "logo" | "mod4" | "win" => Some(&mut mods.logo),
        "ctrl" | "control" => Some(&mut mods.ctrl),
        "alt" | "mod1" => Some(&mut mods.alt),
        "shift" => Some(&mut mods.shift),
        _ => None,
    }
}

impl FromStr for KeyCombo {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(KeyError::Empty);
        }
        let parts: Vec<&str> = s.split('+').map(str::trim).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(KeyError::EmptyPart(s.to_string()));
        }
        let (key, mod_parts) = parts.split_last().ok_or(KeyError::Empty)?;
        let mut mods = Modifiers::default();
        for part in mod_parts {
            let lower = part.to_ascii_lowercase();
            let slot = modifier_slot(&mut mods, &lower)
                .ok_or_else(|| KeyError::UnknownModifier(part.to_string()))?;
            if *slot {
                return Err(KeyError::DuplicateModifier(part.to_string()));
            }
            *slot = true;
        }
        if modifier_slot(&mut Modifiers::default(), &key.to_ascii_lowercase()).is_some() {
            return Err(KeyError::MissingKey(s.to_string()));
        }
        let key_name = normalize_key_name(key);
        if !is_known_key(&key_name) {
            return Err(KeyError::UnknownKey(key.to_string()));
        }
        Ok(KeyCombo { mods, key: key_name })
    }
}

impl fmt::Display for KeyCombo {
    /// Canonical form: `super+ctrl+alt+shift+key`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.mods;
        for (held, name) in [
            (m.logo, "super"),
            (m.ctrl, "ctrl"),
            (m.alt, "alt"),
            (m.shift, "shift"),
        ] {
            if held {
                write!(f, "{name}+")?;
            }
        }
        f.write_str(&self.key)
    }
}

/// Something a key binding makes the compositor do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ask the focused window to close.
    Close,
    FocusNext,
    FocusPrev,
    /// Show workspace 1..=9.
    Workspace(u8),
    /// Send the focused window to workspace 1..=9.
    MoveToWorkspace(u8),
    /// Send the focused window to the next output (wrapping round to the first).
    MoveToNextOutput,
    /// Toggle maximized on the focused window.
    Maximize,
    /// Toggle fullscreen on the focused window.
    Fullscreen,
    Minimize,
    /// Run a program: argv, split on whitespace (no quoting).
    Spawn(Vec<String>),
    /// Start the named capsule (a no-op when it already runs).
    StartCapsule(String),
    /// End the session.
    Quit,
    /// Toggle X-ray mode: every surface shows its owner's colour and name.
    XRay,
    /// The trusted copy gesture: take the focused capsule's clipboard into the compositor.
    ClipboardCopy,
    /// The trusted paste gesture: offer what was copied, once, to the focused capsule.
    ClipboardPaste,
    /// Show or hide the Sentry dashboard.
    DashboardToggle,
    /// Open or close the dashboard's capsule launcher.
    LauncherToggle,
}

impl Action {
    /// Secure actions are the compositor's own trusted path (DESIGN.md §4.5): a client may
    /// never see their keys, not even while it inhibits keyboard shortcuts.
    pub fn is_secure(&self) -> bool {
        matches!(
            self,
            Action::XRay
                | Action::ClipboardCopy
                | Action::ClipboardPaste
                | Action::DashboardToggle
                | Action::LauncherToggle
        )
    }
}

/// Every action name with its argument, for error messages.
pub const ACTION_NAMES: &str =
    "close, focus-next, focus-prev, workspace N, move-to-workspace N, move-to-next-output, \
     maximize, fullscreen, minimize, spawn COMMAND, capsule NAME, quit, x-ray, clipboard-copy, clipboard-paste, \
     dashboard-toggle, launcher-toggle";

/// Why an action string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ActionError {
    #[error("empty action (expected {ACTION_NAMES})")]
    Empty,
    #[error("unknown action \"{0}\" (expected {ACTION_NAMES})")]
    Unknown(String),
    #[error("\"{0}\" needs a workspace number from 1 to 9")]
    MissingWorkspace(&'static str),
    #[error("workspace must be a number from 1 to 9, found \"{0}\"")]
    BadWorkspace(String),
    #[error("\"{0}\" needs a command to run, e.g. \"spawn foot\"")]
    EmptySpawn(&'static str),
    #[error("\"capsule\" needs the name of a capsule, e.g. \"capsule terminal\"")]
    MissingCapsule,
    #[error("\"{action}\" takes no further arguments, found \"{extra}\"")]
    ExtraArgument { action: &'static str, extra: String },
}

/// Parses the workspace argument of `workspace N` / `move-to-workspace N`.
fn workspace_arg(action: &'static str, args: &[&str]) -> Result<u8, ActionError> {
    match args {
        [] => Err(ActionError::MissingWorkspace(action)),
        [n] => n
            .parse::<u8>()
            .ok()
            .filter(|n| (1..=9).contains(n))
            .ok_or_else(|| ActionError::BadWorkspace(n.to_string())),
        [_, extra, ..] => Err(ActionError::ExtraArgument {
            action,
            extra: extra.to_string(),
        }),
    }
}

impl FromStr for Action {
    type Err = ActionError;

    fn from_str(s: &str) -> Result<Self, ActionError> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let (name, args) = words.split_first().ok_or(ActionError::Empty)?;
        let simple = |action: &'static str, value: Action| match args.first() {
            None => Ok(value),
            Some(extra) => Err(ActionError::ExtraArgument {
                action,
                extra: extra.to_string(),
            }),
        };
        match name.to_ascii_lowercase().as_str() {
            "close" => simple("close", Action::Close),
            "focus-next" => simple("focus-next", Action::FocusNext),
            "focus-prev" => simple("focus-prev", Action::FocusPrev),
            "maximize" => simple("maximize", Action::Maximize),
            "fullscreen" => simple("fullscreen", Action::Fullscreen),
            "minimize" => simple("minimize", Action::Minimize),
            "quit" => simple("quit", Action::Quit),
            "x-ray" => simple("x-ray", Action::XRay),
            "clipboard-copy" => simple("clipboard-copy", Action::ClipboardCopy),
            "clipboard-paste" => simple("clipboard-paste", Action::ClipboardPaste),
            "dashboard-toggle" => simple("dashboard-toggle", Action::DashboardToggle),
            "launcher-toggle" => simple("launcher-toggle", Action::LauncherToggle),
            "workspace" => workspace_arg("workspace", args).map(Action::Workspace),
            "move-to-workspace" => workspace_arg("move-to-workspace", args).map(Action::MoveToWorkspace),
            "move-to-next-output" => simple("move-to-next-output", Action::MoveToNextOutput),
            "spawn" if args.is_empty() => Err(ActionError::EmptySpawn("spawn")),
            "spawn" => Ok(Action::Spawn(args.iter().map(|a| a.to_string()).collect())),
            "capsule" => match args {
                [] => Err(ActionError::MissingCapsule),
                [name] => Ok(Action::StartCapsule(name.to_string())),
                [_, extra, ..] => Err(ActionError::ExtraArgument {
                    action: "capsule",
                    extra: extra.to_string(),
                }),
            },
            _ => Err(ActionError::Unknown(name.to_string())),
        }
    }
}

impl fmt::Display for Action {
    /// The same form `from_str` accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Close => f.write_str("close"),
            Action::FocusNext => f.write_str("focus-next"),
            Action::FocusPrev => f.write_str("focus-prev"),
            Action::Workspace(n) => write!(f, "workspace {n}"),
            Action::MoveToWorkspace(n) => write!(f, "move-to-workspace {n}"),
            Action::MoveToNextOutput => f.write_str("move-to-next-output"),
            Action::Maximize => f.write_str("maximize"),
            Action::Fullscreen => f.write_str("fullscreen"),
            Action::Minimize => f.write_str("minimize"),
            Action::Spawn(argv) => write!(f, "spawn {}", argv.join(" ")),
            Action::StartCapsule(name) => write!(f, "capsule {name}"),
            Action::Quit => f.write_str("quit"),
            Action::XRay => f.write_str("x-ray"),
            Action::ClipboardCopy => f.write_str("clipboard-copy"),
            Action::ClipboardPaste => f.write_str("clipboard-paste"),
            Action::DashboardToggle => f.write_str("dashboard-toggle"),
            Action::LauncherToggle => f.write_str("launcher-toggle"),
        }
    }
}

/// Key bindings in the order they were defined.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bindings {
    entries: Vec<(KeyCombo, Action)>,
}

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `combo`, returning the action it had; a rebound combo keeps its place.
    pub fn insert(&mut self, combo: KeyCombo, action: Action) -> Option<Action> {
        match self.entries.iter_mut().find(|(c, _)| *c == combo) {
            Some((_, old)) => Some(std::mem::replace(old, action)),
            None => {
                self.entries.push((combo, action));
                None
            }
        }
    }

    /// Unbinds `combo`, returning the action it had.
    pub fn remove(&mut self, combo: &KeyCombo) -> Option<Action> {
        let index = self.entries.iter().position(|(c, _)| c == combo)?;
        Some(self.entries.remove(index).1)
    }

    pub fn get(&self, combo: &KeyCombo) -> Option<&Action> {
        self.entries.iter().find(|(c, _)| c == combo).map(|(_, a)| a)
    }

    /// The action for a key press. `keysym_name` is the xkb name of the
    /// key's unshifted (level 0) keysym; it is compared case-insensitively
    /// after alias resolution, and `mods` must match exactly.
    pub fn lookup(&self, mods: Modifiers, keysym_name: &str) -> Option<&Action> {
        let key = normalize_key_name(keysym_name);
        self.entries
            .iter()
            .find(|(c, _)| c.mods == mods && c.key == key)
            .map(|(_, a)| a)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&KeyCombo, &Action)> {
        self.entries.iter().map(|(c, a)| (c, a))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromIterator<(KeyCombo, Action)> for Bindings {
    fn from_iter<I: IntoIterator<Item = (KeyCombo, Action)>>(iter: I) -> Self {
        let mut bindings = Bindings::new();
        for (combo, action) in iter {
            bindings.insert(combo, action);
        }
        bindings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combo(s: &str) -> KeyCombo {
        s.parse().expect("valid combo in test")
    }

    #[test]
    fn parses_modifier_aliases_case_insensitively() {
        let c = combo("Super+SHIFT+1");
        assert_eq!(
            c.mods,
            Modifiers {
                shift: true,
                logo: true,
                ..Modifiers::default()
            }
        );
        assert_eq!(c.key, "1");
        for alias in ["logo", "mod4", "win", "super"] {
            assert!(combo(&format!("{alias}+q")).mods.logo, "{alias}");
        }
        assert!(combo("control+t").mods.ctrl);
        assert!(combo("mod1+tab").mods.alt);
        assert_eq!(combo("ctrl + alt + Delete").to_string(), "ctrl+alt+delete");
    }

    #[test]
    fn normalises_key_names() {
        assert_eq!(combo("enter").key, "return");
        assert_eq!(combo("super+Page_Up").key, "prior");
        assert_eq!(combo("super+next").key, "next");
        assert_eq!(combo("F12").key, "f12");
        assert_eq!(combo("esc").key, "escape");
        assert_eq!(combo("shift+Q").key, "q");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "super+shift+1",
            "alt+tab",
            "alt+shift+tab",
            "ctrl+shift+t",
            "return",
            "super+ctrl+alt+shift+f24",
        ] {
            assert_eq!(combo(s).to_string(), s);
            assert_eq!(combo(&combo(s).to_string()), combo(s));
        }
        assert_eq!(combo("shift+super+1").to_string(), "super+shift+1");
    }

    #[test]
    fn errors_name_the_bad_part() {
        let err = |s: &str| s.parse::<KeyCombo>().expect_err(s).to_string();
        assert_eq!(err("super+blah"), "unknown key \"blah\"");
        assert_eq!(
            err("hyper+q"),
            "unknown modifier \"hyper\" (expected super, ctrl, alt or shift)"
        );
        assert_eq!(
            err("super+shift"),
            "\"super+shift\" has no key after the modifiers"
        );
        assert_eq!(err("super++q"), "empty part in \"super++q\" (stray '+'?)");
        assert_eq!(err("  "), "empty key combination");
        assert_eq!(err("super+win+q"), "modifier \"win\" given twice");
        assert!(err("f25").contains("f25"));
        assert!(err("f0").contains("f0"));
        assert!(err("f01").contains("f01"));
    }

    #[test]
    fn parses_actions() {
        let a = |s: &str| s.parse::<Action>().expect(s);
        assert_eq!(a("close"), Action::Close);
        assert_eq!(a("workspace 3"), Action::Workspace(3));
        assert_eq!(a("move-to-workspace 9"), Action::MoveToWorkspace(9));
        assert_eq!(a("move-to-next-output"), Action::MoveToNextOutput);
        assert_eq!(
            a("spawn foot --server"),
            Action::Spawn(vec!["foot".into(), "--server".into()])
        );
        assert_eq!(a("  focus-prev "), Action::FocusPrev);
        for s in [
            "close",
            "focus-next",
            "workspace 1",
            "move-to-workspace 2",
            "spawn a b",
            "quit",
            "maximize",
            "x-ray",
            "clipboard-copy",
            "clipboard-paste",
            "dashboard-toggle",
            "launcher-toggle",
        ] {
            assert_eq!(a(s).to_string(), s);
        }
        assert_eq!(a("X-Ray"), Action::XRay);
        assert!(a("x-ray").is_secure() && a("clipboard-paste").is_secure());
        assert!(a("dashboard-toggle").is_secure() && a("launcher-toggle").is_secure());
        assert!(!a("close").is_secure() && !a("quit").is_secure());
    }

    #[test]
    fn action_errors() {
        let err = |s: &str| s.parse::<Action>().expect_err(s).to_string();
        assert!(err("fly").starts_with("unknown action \"fly\" (expected close, focus-next"));
        assert_eq!(
            err("workspace 10"),
            "workspace must be a number from 1 to 9, found \"10\""
        );
        assert_eq!(
            err("workspace 0"),
            "workspace must be a number from 1 to 9, found \"0\""
        );
        assert_eq!(
            err("workspace"),
            "\"workspace\" needs a workspace number from 1 to 9"
        );
        assert!(err("spawn").contains("needs a command"));
        assert!(err("close now").contains("\"now\""));
        assert!(err("workspace 1 2").contains("\"2\""));
        assert!(err("").starts_with("empty action"));
    }

    #[test]
    fn lookup_matches_mods_exactly_and_names_loosely() {
        let bindings: Bindings = [
            (combo("super+q"), Action::Close),
            (combo("super+shift+1"), Action::MoveToWorkspace(1)),
            (combo("super+page_up"), Action::Workspace(2)),
        ]
        .into_iter()
        .collect();
        let logo = Modifiers {
            logo: true,
            ..Modifiers::default()
        };
        let logo_shift = Modifiers { shift: true, ..logo };
        assert_eq!(bindings.lookup(logo, "q"), Some(&Action::Close));
        assert_eq!(bindings.lookup(logo, "Q"), Some(&Action::Close));
        assert_eq!(bindings.lookup(logo_shift, "q"), None);
        assert_eq!(
            bindings.lookup(logo_shift, "1"),
            Some(&Action::MoveToWorkspace(1))
        );
        assert_eq!(bindings.lookup(logo, "Prior"), Some(&Action::Workspace(2)));
        assert_eq!(bindings.lookup(Modifiers::default(), "q"), None);
    }

    #[test]
    fn bindings_keep_order_and_replace_in_place() {
        let mut b = Bindings::new();
        assert_eq!(b.insert(combo("super+a"), Action::Close), None);
        assert_eq!(b.insert(combo("super+b"), Action::Quit), None);
        assert_eq!(b.insert(combo("super+A"), Action::Minimize), Some(Action::Close));
        let keys: Vec<String> = b.iter().map(|(c, _)| c.to_string()).collect();
        assert_eq!(keys, ["super+a", "super+b"]);
        assert_eq!(b.remove(&combo("super+a")), Some(Action::Minimize));
        assert_eq!(b.len(), 1);
        assert_eq!(b.get(&combo("super+b")), Some(&Action::Quit));
    }

    #[test]
    fn capsule_action_names_one_capsule() {
        assert_eq!(
            "capsule terminal".parse::<Action>(),
            Ok(Action::StartCapsule("terminal".into()))
        );
        assert_eq!(
            "capsule terminal".parse::<Action>().unwrap().to_string(),
            "capsule terminal"
        );
        assert_eq!("capsule".parse::<Action>(), Err(ActionError::MissingCapsule));
        assert!(matches!(
            "capsule a b".parse::<Action>(),
            Err(ActionError::ExtraArgument { .. })
        ));
    }
}
