//! The compositor's TOML configuration: keyboard, appearance, window placement, key bindings,
//! per-client resource limits, the session and Sentry's event log.
//!
//! A user file is merged over the built-in defaults ([`DEFAULT_CONFIG`]) key
//! by key, so it only needs the settings it changes. In `[bindings]` each
//! entry adds or replaces one combo, and the action `"none"` removes a
//! default binding. Unknown keys are errors, and every error names the file,
//! line, column and dotted key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;
use toml_edit::{ImDocument, Item, TableLike};

use crate::keys::{Action, Bindings, KeyCombo};

/// The documented default configuration, also shipped as `assets/config.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../../assets/config.toml");

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub keyboard: KeyboardConfig,
    pub appearance: Appearance,
    pub layout: LayoutConfig,
    pub bindings: Bindings,
    pub limits: Limits,
    pub session: SessionConfig,
    pub sentry: SentryConfig,
}

/// `[layout]`: how windows are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayoutConfig {
    /// Where a new window opens.
    pub placement: crate::layout::Placement,
}

/// `[sentry]`: where Sentry keeps its event log (read at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentryConfig {
    /// The event log file; `None` (or `""` in the file) for the default,
    /// `$XDG_STATE_HOME/exosphere/sentry.jsonl`. `--sentry-log` overrides it.
    pub log: Option<PathBuf>,
    /// The size at which the log is rotated to `<log>.1`, in KiB.
    pub log_max_kib: u32,
}

impl SentryConfig {
    pub fn log_max_bytes(&self) -> u64 {
        u64::from(self.log_max_kib) << 10
    }
}

/// `[session]`: who gets what outside the capsules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// Capabilities of host clients (those on the public Wayland socket); `--host-caps`
    /// overrides it. Written like `--host-caps`: "display.window", "all", "none" or a list.
    pub host_capabilities: crate::CapabilitySet,
}

/// What one client (a capsule, or one host connection) may hold (DESIGN.md §4.8). Going over a
/// limit is refused; a client that insists gets a protocol error and is disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Toplevel windows per client.
    pub windows: u32,
    /// The largest buffer width or height, in pixels.
    pub surface_size: u32,
    /// Shared memory per client in MiB: the wl_shm buffers it has committed and not destroyed.
    pub shm_mib: u32,
    /// The largest selection the trusted copy gesture takes, in KiB.
    pub clipboard_kib: u32,
}

impl Limits {
    pub fn shm_bytes(&self) -> u64 {
        u64::from(self.shm_mib) << 20
    }

    pub fn clipboard_bytes(&self) -> usize {
        (self.clipboard_kib as usize) << 10
    }
}

/// XKB keymap names and key repeat; empty strings mean the XKB default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyboardConfig {
    pub layout: String,
    pub variant: String,
    pub options: String,
    pub model: String,
    pub rules: String,
    /// Milliseconds before a held key repeats.
    pub repeat_delay: u32,
    /// Repeats per second; 0 disables repeat.
    pub repeat_rate: u32,
}

/// Colours and frame sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appearance {
    pub background: Color,
    pub focused_border: Color,
    pub unfocused_border: Color,
    /// Logical pixels.
    pub border_width: u32,
    /// Logical pixels.
    pub title_height: u32,
}

/// An opaque sRGB colour, written `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

/// A string that is not `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("expected a colour like \"#1d2b3a\", found \"{0}\"")]
pub struct ParseColorError(pub String);

impl Color {
    pub const fn new(r: u8, g: u8, b: u8) -> Self {
        Color { r, g, b }
    }

    /// Normalised components with alpha 1, as renderers want them.
    pub fn to_f32_rgba(self) -> [f32; 4] {
        [
            f32::from(self.r) / 255.0,
            f32::from(self.g) / 255.0,
            f32::from(self.b) / 255.0,
            1.0,
        ]
    }
}

impl FromStr for Color {
    type Err = ParseColorError;

    fn from_str(s: &str) -> Result<Self, ParseColorError> {
        let bad = || ParseColorError(s.to_string());
        let hex = s
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        let hex = hex.ok_or_else(bad)?;
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Color::new(byte(0)?, byte(2)?, byte(4)?))
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// Why a configuration could not be loaded; every variant names the file.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid TOML with a bad key or value; `key` is dotted, e.g. `keyboard.repeat_rate`.
    #[error("{}:{line}:{column}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

/// 1-based line and column (in characters) of a byte offset. Shared by every TOML file parser
/// of the session (config, capsule manifests, exo-init's services) for located errors.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    // Step back to a char boundary so slicing cannot panic.
    let offset = (0..=offset)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A key as it would be written in TOML: bare when possible, else quoted.
pub(crate) fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// "a string", "an integer", … for error messages.
pub fn describe(item: &Item) -> &'static str {
    match item.type_name() {
        "string" => "a string",
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "datetime" => "a date-time",
        "array" => "an array",
        "array of tables" => "an array of tables",
        "none" => "nothing",
        _ => "a table",
    }
}

/// The file being read, for locating errors.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn invalid(&self, span: Option<Range<usize>>, key: String, message: String) -> ConfigError {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    }
}

/// One `name = value` entry of a section, with everything needed to report on it.
struct Entry<'a> {
    src: &'a Source<'a>,
    key: String,
    key_span: Option<Range<usize>>,
    item: &'a Item,
}

impl Entry<'_> {
    /// An error pointing at the value (or the key when the value has no span).
    fn bad_value(&self, message: String) -> ConfigError {
        self.src.invalid(
            self.item.span().or_else(|| self.key_span.clone()),
            self.key.clone(),
            message,
        )
    }

    fn bad_key(&self, message: String) -> ConfigError {
        self.src.invalid(self.key_span.clone(), self.key.clone(), message)
    }

    fn string(&self) -> Result<String, ConfigError> {
        match self.item.as_str() {
            Some(s) => Ok(s.to_string()),
            None => Err(self.bad_value(format!("expected a string, found {}", describe(self.item)))),
        }
    }

    fn integer(&self, max: u32) -> Result<u32, ConfigError> {
        self.integer_in(0, max)
    }

    fn integer_in(&self, min: u32, max: u32) -> Result<u32, ConfigError> {
        let n = self
            .item
            .as_integer()
            .ok_or_else(|| self.bad_value(format!("expected an integer, found {}", describe(self.item))))?;
        u32::try_from(n)
            .ok()
            .filter(|&n| (min..=max).contains(&n))
            .ok_or_else(|| self.bad_value(format!("expected an integer from {min} to {max}, found {n}")))
    }

    fn color(&self) -> Result<Color, ConfigError> {
        match self.item.as_str() {
            Some(s) => s
                .parse()
                .map_err(|e: ParseColorError| self.bad_value(e.to_string())),
            None => Err(self.bad_value(format!(
                "expected a colour like \"#1d2b3a\", found {}",
                describe(self.item)
            ))),
        }
    }
}

/// Calls `f` for each entry of `table`, whose dotted name is `section`.
fn entries<'a>(
    src: &'a Source<'a>,
    section: &str,
    table: &'a dyn TableLike,
    mut f: impl FnMut(&str, Entry<'a>) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    for (name, item) in table.iter() {
        let key = format!("{section}.{}", toml_key(name));
        let key_span = table.key(name).and_then(|k| k.span());
        f(
            name,
            Entry {
                src,
                key,
                key_span,
                item,
            },
        )?;
    }
    Ok(())
}

const KEYBOARD_KEYS: &str = "layout, variant, options, model, rules, repeat_delay, repeat_rate";
const APPEARANCE_KEYS: &str = "background, focused_border, unfocused_border, border_width, title_height";
const LIMITS_KEYS: &str = "windows, surface_size, shm_mib, clipboard_kib";
const SESSION_KEYS: &str = "host_capabilities";
const LAYOUT_KEYS: &str = "placement";
const SENTRY_KEYS: &str = "log, log_max_kib";

impl SentryConfig {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "sentry", table, |name, e| {
            match name {
                "log" => {
                    let text = e.string()?;
                    self.log = match text.as_str() {
                        "" => None,
                        path if Path::new(path).is_absolute() => Some(PathBuf::from(path)),
                        path => {
                            return Err(e.bad_value(format!(
                                "expected an absolute path (or \"\" for the default), found \"{path}\""
                            )))
                        }
                    };
                }
                "log_max_kib" => self.log_max_kib = e.integer_in(16, 1 << 20)?,
                _ => return Err(e.bad_key(format!("unknown key (expected one of {SENTRY_KEYS})"))),
            }
            Ok(())
        })
    }
}

impl LayoutConfig {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "layout", table, |name, e| {
            match name {
                "placement" => self.placement = e.string()?.parse().map_err(|err| e.bad_value(err))?,
                _ => return Err(e.bad_key(format!("unknown key (expected one of {LAYOUT_KEYS})"))),
            }
            Ok(())
        })
    }
}

impl SessionConfig {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "session", table, |name, e| {
            match name {
                "host_capabilities" => {
                    let text = e.string()?;
                    self.host_capabilities = crate::CapabilitySet::parse_list(&text)
                        .map_err(|err| e.bad_value(format!("{err}")))?;
                }
                _ => return Err(e.bad_key(format!("unknown key (expected one of {SESSION_KEYS})"))),
            }
            Ok(())
        })
    }
}

impl KeyboardConfig {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "keyboard", table, |name, e| {
            match name {
                "layout" => self.layout = e.string()?,
                "variant" => self.variant = e.string()?,
                "options" => self.options = e.string()?,
                "model" => self.model = e.string()?,
                "rules" => self.rules = e.string()?,
                "repeat_delay" => self.repeat_delay = e.integer(10_000)?,
                "repeat_rate" => self.repeat_rate = e.integer(1_000)?,
                _ => return Err(e.bad_key(format!("unknown key (expected one of {KEYBOARD_KEYS})"))),
            }
            Ok(())
        })
    }
}

impl Appearance {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "appearance", table, |name, e| {
            match name {
                "background" => self.background = e.color()?,
                "focused_border" => self.focused_border = e.color()?,
                "unfocused_border" => self.unfocused_border = e.color()?,
                "border_width" => self.border_width = e.integer(64)?,
                "title_height" => self.title_height = e.integer(256)?,
                _ => return Err(e.bad_key(format!("unknown key (expected one of {APPEARANCE_KEYS})"))),
            }
            Ok(())
        })
    }
}

impl Limits {
    fn apply<'a>(&mut self, src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<(), ConfigError> {
        entries(src, "limits", table, |name, e| {
            match name {
                "windows" => self.windows = e.integer_in(1, 4096)?,
                "surface_size" => self.surface_size = e.integer_in(64, 32_768)?,
                "shm_mib" => self.shm_mib = e.integer_in(1, 65_536)?,
                "clipboard_kib" => self.clipboard_kib = e.integer_in(1, 65_536)?,
                _ => return Err(e.bad_key(format!("unknown key (expected one of {LIMITS_KEYS})"))),
            }
            Ok(())
        })
    }
}

/// Applies one file's `[bindings]` over `bindings`.
fn apply_bindings<'a>(
    bindings: &mut Bindings,
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
) -> Result<(), ConfigError> {
    // Combos seen in this file, to catch two spellings of the same keys.
    let mut seen: Vec<(KeyCombo, String)> = Vec::new();
    entries(src, "bindings", table, |name, e| {
        let combo: KeyCombo = name.parse().map_err(|err| e.bad_key(format!("{err}")))?;
        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == combo) {
            return Err(e.bad_key(format!("binds the same keys as {first}")));
        }
        seen.push((combo.clone(), toml_key(name)));
        let Some(text) = e.item.as_str() else {
            return Err(e.bad_value(format!(
                "expected an action string like \"close\", found {}",
                describe(e.item)
            )));
        };
        if text.trim().eq_ignore_ascii_case("none") {
            bindings.remove(&combo);
        } else {
            let action: Action = text.parse().map_err(|err| e.bad_value(format!("{err}")))?;
            bindings.insert(combo, action);
        }
        Ok(())
    })
}

impl Config {
    /// Everything unset; the base the built-in defaults are applied to.
    fn empty() -> Self {
        let black = Color::new(0, 0, 0);
        Config {
            keyboard: KeyboardConfig {
                layout: String::new(),
                variant: String::new(),
                options: String::new(),
                model: String::new(),
                rules: String::new(),
                repeat_delay: 0,
                repeat_rate: 0,
            },
            appearance: Appearance {
                background: black,
                focused_border: black,
                unfocused_border: black,
                border_width: 0,
                title_height: 0,
            },
            layout: LayoutConfig {
                placement: crate::layout::Placement::Cascade,
            },
            bindings: Bindings::new(),
            session: SessionConfig {
                host_capabilities: crate::CapabilitySet::empty(),
            },
            limits: Limits {
                windows: 0,
                surface_size: 0,
                shm_mib: 0,
                clipboard_kib: 0,
            },
            sentry: SentryConfig {
                log: None,
                log_max_kib: 0,
            },
        }
    }

    /// Parses `text` (read from `path`, used only in messages) over the defaults.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        config.merge(text, path)?;
        Ok(config)
    }

    /// Reads and parses the file at `path` over the defaults.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Loads `explicit` (which must exist), else the default path if a file
    /// is there, else the built-in defaults. Also returns the file used.
    pub fn load_or_default(explicit: Option<&Path>) -> Result<(Config, Option<PathBuf>), ConfigError> {
        if let Some(path) = explicit {
            return Ok((Config::load(path)?, Some(path.to_path_buf())));
        }
        match default_config_path() {
            // exists() rather than is_file(), so an unreadable entry is reported, not skipped.
            Some(path) if path.exists() => Ok((Config::load(&path)?, Some(path))),
            _ => Ok((Config::default(), None)),
        }
    }

    /// Applies the settings in `text` over `self`.
    pub fn merge(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let src = Source { text, path };
        let doc = ImDocument::parse(text).map_err(|e| {
            let (line, column) = line_col(text, e.span().map_or(0, |s| s.start));
            // toml_edit's messages span lines ("invalid key\nexpected ..."); keep them on one.
            let mut message = e
                .message()
                .trim()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; ");
            // An unquoted combo (`super+q = ...`) trips over the '+'; say how to write it.
            if e.span()
                .is_some_and(|s| text.get(s.start..).is_some_and(|t| t.starts_with('+')))
            {
                message.push_str(" (put keys with '+' in quotes: \"super+q\" = ...)");
            }
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        let root = doc.as_table();
        for (name, item) in root.iter() {
            let key = toml_key(name);
            let key_span = root.key(name).and_then(|k| k.span());
            let known = [
                "keyboard",
                "appearance",
                "layout",
                "bindings",
                "limits",
                "session",
                "sentry",
            ]
            .contains(&name);
            if !known {
                let message =
                    "unknown section (expected keyboard, appearance, layout, bindings, limits, session or sentry)"
                        .to_string();
                return Err(src.invalid(key_span, key, message));
            }
            let Some(table) = item.as_table_like() else {
                let message = format!("expected a table, found {}", describe(item));
                return Err(src.invalid(item.span().or(key_span), key, message));
            };
            match name {
                "keyboard" => self.keyboard.apply(&src, table)?,
                "appearance" => self.appearance.apply(&src, table)?,
                "layout" => self.layout.apply(&src, table)?,
                "limits" => self.limits.apply(&src, table)?,
                "session" => self.session.apply(&src, table)?,
                "sentry" => self.sentry.apply(&src, table)?,
                _ => apply_bindings(&mut self.bindings, &src, table)?,
            }
        }
        Ok(())
    }
}

impl Default for Config {
    /// The settings in [`DEFAULT_CONFIG`].
    fn default() -> Self {
        let mut config = Config::empty();
        config
            .merge(DEFAULT_CONFIG, Path::new("<built-in config>"))
            .expect("the built-in config is tested to parse");
        config
    }
}

/// `$XDG_CONFIG_HOME/nexquelium/config.toml`, else `~/.config/nexquelium/config.toml`.
pub fn default_config_path() -> Option<PathBuf> {
    config_path_from(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME"))
}

/// [`default_config_path`] for given variable values, so it can be tested without the environment.
fn config_path_from(
    xdg_config_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    // The XDG spec says to ignore relative values.
    let base = match xdg_config_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => dir,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".config"),
    };
    Some(base.join("nexquelium").join("config.toml"))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
