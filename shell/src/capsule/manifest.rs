//! `Capsule.toml`: what a capsule runs and which rights it has.
//!
//! ```toml
//! [capsule]
//! name = "terminal"        # required; [a-z0-9-], 1..=32 chars, equals the folder name
//! version = "0.1.0"        # required
//! description = "A terminal"
//! exec = ["foot"]          # required; argv, no shell
//! autostart = false
//! restart = "on-failure"   # never (default) | on-failure | always
//! color = "#4a90d9"        # default: derived from the name
//!
//! [permissions]
//! required = ["display.window"]   # default []: no rights at all
//!
//! [resources]
//! memory_max = "512M"      # bytes, or K/M/G (1024-based)
//! cpu_max = "50%"          # 100% per CPU
//! pids_max = 256
//!
//! [env]
//! TERM = "xterm-256color"
//!
//! [sentry]                 # optional; thresholds and actions, see docs/sentry.md
//! memory_percent = 80
//!
//! [sentry.actions]
//! cpu_saturation = "notify"
//! ```
//!
//! Parsing is strict: unknown sections and keys, unknown or repeated
//! capabilities and malformed values are errors, and every error names the
//! file, line, column and dotted key, and says what was expected. A bad
//! manifest is never started, so it never runs with rights it did not
//! declare.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;
use toml_edit::{ImDocument, Item, TableLike, Value};

use super::color::derived_color;
use super::restart::RestartPolicy;
use crate::capability::{Capability, CapabilitySet};
use crate::config::{describe, line_col, toml_key, Color};
use crate::sentry::Thresholds;

#[path = "manifest_sentry.rs"]
mod sentry_table;

/// The file name every capsule folder holds.
pub const MANIFEST_FILE: &str = "Capsule.toml";

/// The longest capsule name.
pub const MAX_NAME_LEN: usize = 32;

/// The highest `pids_max` (the kernel's own limit on process ids).
pub const MAX_PIDS: u32 = 4_194_304;

/// Environment variables the supervisor sets itself; a manifest may not.
pub const RESERVED_ENV: [&str; 4] = [
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "NEXQUELIUM_CONTROL",
    "XDG_RUNTIME_DIR",
];

/// A parsed, validated `Capsule.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// `""` when absent.
    pub description: String,
    /// The argv; never empty, and `exec[0]` is not empty.
    pub exec: Vec<String>,
    pub autostart: bool,
    pub restart: RestartPolicy,
    /// The label colour: the manifest's, else derived from the name.
    pub color: Color,
    /// `permissions.required`.
    pub capabilities: CapabilitySet,
    pub resources: Resources,
    /// Extra environment, on top of what the supervisor sets.
    pub env: BTreeMap<String, String>,
    /// `[sentry]`: the thresholds and actions Sentry applies to it (the defaults when absent).
    pub sentry: Thresholds,
    /// The file this was read from.
    pub path: PathBuf,
}

/// `[resources]`; `None` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resources {
    /// Bytes, for cgroup `memory.max`.
    pub memory_max: Option<u64>,
    /// Percent of one CPU (150 = one and a half CPUs), for cgroup `cpu.max`.
    pub cpu_max_percent: Option<u32>,
    /// For cgroup `pids.max`.
    pub pids_max: Option<u32>,
}

/// Why a manifest was refused; every variant names the file.
#[derive(Debug, Clone, Error)]
pub enum ManifestError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// Not valid TOML.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid TOML with a bad or missing key or value; `key` is dotted, e.g.
    /// `permissions.required[1]` or `env.WAYLAND_DISPLAY`.
    #[error("{}:{line}:{column}: {key}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl ManifestError {
    /// The manifest file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ManifestError::Read { path, .. }
            | ManifestError::Syntax { path, .. }
            | ManifestError::Invalid { path, .. } => path,
        }
    }
}

impl Manifest {
    /// Parses `text`, read from `path` (used in messages and to check the folder name).
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let cpus =
            std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
        parse_manifest(text, path, cpus)
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError::Read {
            path: path.to_path_buf(),
            source: Arc::new(e),
        })?;
        Manifest::parse(&text, path)
    }
}

/// "a string", "an integer", … for an array element.
fn describe_value(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date-time",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

/// The file being parsed, for locating errors.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn invalid(&self, span: Option<Range<usize>>, key: &str, message: String) -> ManifestError {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        ManifestError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }

    fn syntax(&self, e: &toml_edit::TomlError) -> ManifestError {
        let (line, column) = line_col(self.text, e.span().map_or(0, |s| s.start));
        // toml_edit's messages span lines ("invalid key\nexpected ..."); keep them on one.
        let message = e
            .message()
            .trim()
            .lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("; ");
        ManifestError::Syntax {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

/// One `key = value` of a table, with what is needed to report on it.
struct Field<'a> {
    src: &'a Source<'a>,
    /// Dotted, e.g. `capsule.exec`.
    key: String,
    key_span: Option<Range<usize>>,
    item: &'a Item,
}

impl<'a> Field<'a> {
    /// An error pointing at the value (or the key when the value has no span).
    fn bad_value(&self, message: String) -> ManifestError {
        let span = self.item.span().or_else(|| self.key_span.clone());
        self.src.invalid(span, &self.key, message)
    }

    fn bad_key(&self, message: String) -> ManifestError {
        self.src.invalid(self.key_span.clone(), &self.key, message)
    }

    /// The value as written in the file, for messages.
    fn written(&self) -> &'a str {
        self.item
            .span()
            .and_then(|span| self.src.text.get(span))
            .map_or("?", str::trim)
    }

    fn expected(&self, what: &str) -> ManifestError {
        self.bad_value(format!("expected {what}, found {}", describe(self.item)))
    }

    fn string(&self, what: &str) -> Result<&'a str, ManifestError> {
        self.item.as_str().ok_or_else(|| self.expected(what))
    }

    fn boolean(&self) -> Result<bool, ManifestError> {
        self.item.as_bool().ok_or_else(|| self.expected("true or false"))
    }

    /// Each element of an array of strings, with its dotted key (`exec[1]`) and span.
    fn strings(&self, what: &str) -> Result<Vec<Element<'a>>, ManifestError> {
        let array = self.item.as_array().ok_or_else(|| self.expected(what))?;
        array
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let key = format!("{}[{i}]", self.key);
                let span = value.span().or_else(|| self.item.span());
                match value.as_str() {
                    Some(text) => Ok(Element { key, span, text }),
                    None => Err(self.src.invalid(
                        span,
                        &key,
                        format!("expected a string, found {}", describe_value(value)),
                    )),
                }
            })
            .collect()
    }
}

/// One string of an array.
struct Element<'a> {
    key: String,
    span: Option<Range<usize>>,
    text: &'a str,
}

/// Calls `f` with each field of `table`, whose dotted name is `section`.
fn fields<'a>(
    src: &'a Source<'a>,
    section: &str,
    table: &'a dyn TableLike,
    mut f: impl FnMut(&str, Field<'a>) -> Result<(), ManifestError>,
) -> Result<(), ManifestError> {
    for (name, item) in table.iter() {
        let field = Field {
            src,
            key: format!("{section}.{}", toml_key(name)),
            key_span: table.key(name).and_then(|k| k.span()),
            item,
        };
        f(name, field)?;
    }
    Ok(())
}

const SECTIONS: &str = "capsule, permissions, resources, env, sentry";
const CAPSULE_KEYS: &str = "name, version, description, exec, autostart, restart, color";
const RESOURCE_KEYS: &str = "memory_max, cpu_max, pids_max";
const NAME_RULE: &str = "a name of 1 to 32 characters a-z, 0-9 and '-', not starting with '-'";
const EXEC_WHAT: &str = "a non-empty array of strings like [\"foot\", \"--server\"] (the argv; no shell)";

fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_env_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `"512M"` → bytes; K, M and G are powers of 1024. `None` when malformed or zero.
fn parse_size(text: &str) -> Option<u64> {
    let (digits, multiplier) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 1u64 << 10),
        b'M' | b'm' => (&text[..text.len() - 1], 1 << 20),
        b'G' | b'g' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<u64>()
        .ok()?
        .checked_mul(multiplier)
        .filter(|&n| n > 0)
}

/// `"150%"` → 150.
fn parse_percent(text: &str) -> Option<u32> {
    let digits = text.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The `[capsule]` keys as read, before the required ones are checked.
#[derive(Default)]
struct CapsuleKeys<'a> {
    name: Option<(&'a str, Option<Range<usize>>)>,
    version: Option<String>,
    description: String,
    exec: Option<Vec<String>>,
    autostart: bool,
    restart: RestartPolicy,
    color: Option<Color>,
}

fn parse_capsule<'a>(
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
) -> Result<CapsuleKeys<'a>, ManifestError> {
    let mut keys = CapsuleKeys::default();
    fields(src, "capsule", table, |name, f| {
        match name {
            "name" => {
                let value = f.string(NAME_RULE)?;
                if !valid_name(value) {
                    return Err(f.bad_value(format!("expected {NAME_RULE}, found \"{value}\"")));
                }
                keys.name = Some((value, f.item.span()));
            }
            "version" => {
                let value = f.string("a version string like \"0.1.0\"")?;
                if value.trim().is_empty() {
                    return Err(f.bad_value("expected a version string like \"0.1.0\", found \"\"".into()));
                }
                keys.version = Some(value.to_string());
            }
            "description" => keys.description = f.string("a string")?.to_string(),
            "exec" => {
                let argv = f.strings(EXEC_WHAT)?;
                let Some(program) = argv.first() else {
                    return Err(f.bad_value(format!("expected {EXEC_WHAT}, found an empty array")));
                };
                if program.text.trim().is_empty() {
                    let message = "expected a program name or path, found an empty string".to_string();
                    return Err(src.invalid(program.span.clone(), &program.key, message));
                }
                if let Some(arg) = argv.iter().find(|a| a.text.contains('\0')) {
                    let message = "arguments cannot contain NUL characters".to_string();
                    return Err(src.invalid(arg.span.clone(), &arg.key, message));
                }
                keys.exec = Some(argv.iter().map(|a| a.text.to_string()).collect());
            }
            "autostart" => keys.autostart = f.boolean()?,
            "restart" => {
                let what = "one of \"never\", \"on-failure\", \"always\"";
                let value = f.string(what)?;
                keys.restart = value.parse().map_err(|e| f.bad_value(format!("{e}")))?;
            }
            "color" => {
                let value = f.string("a colour like \"#4a90d9\"")?;
                keys.color = Some(value.parse().map_err(|e| f.bad_value(format!("{e}")))?);
            }
            _ => return Err(f.bad_key(format!("unknown key (expected one of {CAPSULE_KEYS})"))),
        }
        Ok(())
    })?;
    Ok(keys)
}

fn parse_permissions<'a>(
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
) -> Result<CapabilitySet, ManifestError> {
    let mut set = CapabilitySet::empty();
    fields(src, "permissions", table, |name, f| {
        if name != "required" {
            return Err(f.bad_key("unknown key (expected required)".into()));
        }
        let mut first: Vec<(Capability, String)> = Vec::new();
        for entry in f.strings("an array of capability names like [\"display.window\"]")? {
            let capability: Capability = entry
                .text
                .parse()
                .map_err(|e| src.invalid(entry.span.clone(), &entry.key, format!("{e}")))?;
            if let Some((_, earlier)) = first.iter().find(|(c, _)| *c == capability) {
                let message = format!("{capability} is listed twice (first as {earlier})");
                return Err(src.invalid(entry.span.clone(), &entry.key, message));
            }
            first.push((capability, entry.key.clone()));
            set.insert(capability);
        }
        Ok(())
    })?;
    Ok(set)
}

fn parse_resources<'a>(
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
    cpus: u32,
) -> Result<Resources, ManifestError> {
    let mut resources = Resources::default();
    fields(src, "resources", table, |name, f| {
        match name {
            "memory_max" => {
                let what = "a size like \"512M\" (bytes, or a number with K, M or G), more than 0";
                let bytes = match f.item.as_value() {
                    Some(Value::Integer(n)) => u64::try_from(*n.value()).ok().filter(|&n| n > 0),
                    Some(Value::String(s)) => parse_size(s.value()),
                    _ => return Err(f.expected(what)),
                };
                let bytes =
                    bytes.ok_or_else(|| f.bad_value(format!("expected {what}, found {}", f.written())))?;
                resources.memory_max = Some(bytes);
            }
            "cpu_max" => {
                let max = cpus.saturating_mul(100);
                let what = format!("a percentage like \"50%\" from 1% to {max}% (100% per CPU; {cpus} CPUs)");
                let text = f.string(&what)?;
                let percent = parse_percent(text).filter(|p| (1..=max).contains(p));
                let percent =
                    percent.ok_or_else(|| f.bad_value(format!("expected {what}, found \"{text}\"")))?;
                resources.cpu_max_percent = Some(percent);
            }
            "pids_max" => {
                let what = format!("an integer from 1 to {MAX_PIDS}");
                let n = f.item.as_integer().ok_or_else(|| f.expected(&what))?;
                let n = u32::try_from(n).ok().filter(|n| (1..=MAX_PIDS).contains(n));
                let n = n.ok_or_else(|| f.bad_value(format!("expected {what}, found {}", f.written())))?;
                resources.pids_max = Some(n);
            }
            _ => return Err(f.bad_key(format!("unknown key (expected one of {RESOURCE_KEYS})"))),
        }
        Ok(())
    })?;
    Ok(resources)
}

fn parse_env<'a>(
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
) -> Result<BTreeMap<String, String>, ManifestError> {
    let mut env = BTreeMap::new();
    fields(src, "env", table, |name, f| {
        if RESERVED_ENV.contains(&name) {
            return Err(f.bad_key(format!(
                "{name} is set by the supervisor and cannot be set in a manifest"
            )));
        }
        if !valid_env_key(name) {
            return Err(
                f.bad_key("expected a variable name of A-Z, 0-9 and '_', not starting with a digit".into())
            );
        }
        let value = f.string("a string")?;
        if value.contains('\0') {
            return Err(f.bad_value("values cannot contain NUL characters".into()));
        }
        env.insert(name.to_string(), value.to_string());
        Ok(())
    })?;
    Ok(env)
}

/// [`Manifest::parse`] for a given number of CPUs (which bounds `cpu_max`).
pub(crate) fn parse_manifest(text: &str, path: &Path, cpus: u32) -> Result<Manifest, ManifestError> {
    let src = Source { text, path };
    let doc = ImDocument::parse(text).map_err(|e| src.syntax(&e))?;
    let root = doc.as_table();

    let mut capsule = None;
    let mut capabilities = CapabilitySet::empty();
    let mut resources = Resources::default();
    let mut env = BTreeMap::new();
    let mut sentry = Thresholds::default();
    for (name, item) in root.iter() {
        let key = toml_key(name);
        let key_span = root.key(name).and_then(|k| k.span());
        if !["capsule", "permissions", "resources", "env", "sentry"].contains(&name) {
            let message = format!("unknown section (expected one of {SECTIONS})");
            return Err(src.invalid(key_span, &key, message));
        }
        let Some(table) = item.as_table_like() else {
            let message = format!("expected a table, found {}", describe(item));
            return Err(src.invalid(item.span().or(key_span), &key, message));
        };
        match name {
            "capsule" => capsule = Some((parse_capsule(&src, table)?, key_span)),
            "permissions" => capabilities = parse_permissions(&src, table)?,
            "resources" => resources = parse_resources(&src, table, cpus)?,
            "sentry" => sentry = sentry_table::parse_sentry(&src, table, cpus)?,
            _ => env = parse_env(&src, table)?,
        }
    }

    let Some((keys, capsule_span)) = capsule else {
        return Err(src.invalid(
            None,
            "capsule",
            "missing the [capsule] table (name, version, exec)".into(),
        ));
    };
    let missing = |key: &str, what: &str| {
        src.invalid(
            capsule_span.clone(),
            &format!("capsule.{key}"),
            format!("missing; expected {what}"),
        )
    };
    let (name, name_span) = keys.name.ok_or_else(|| missing("name", NAME_RULE))?;
    let version = keys
        .version
        .ok_or_else(|| missing("version", "a version string like \"0.1.0\""))?;
    let exec = keys.exec.ok_or_else(|| missing("exec", EXEC_WHAT))?;

    let folder = path.parent().and_then(Path::file_name);
    if let Some(folder) = folder {
        if folder.to_str() != Some(name) {
            let message = format!(
                "\"{name}\" does not match its folder \"{}\" (the folder must be named after the capsule)",
                folder.to_string_lossy()
            );
            return Err(src.invalid(name_span, "capsule.name", message));
        }
    }

    Ok(Manifest {
        name: name.to_string(),
        version,
        description: keys.description,
        exec,
        autostart: keys.autostart,
        restart: keys.restart,
        color: keys.color.unwrap_or_else(|| derived_color(name)),
        capabilities,
        resources,
        env,
        sentry,
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
