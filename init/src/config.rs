//! `/etc/exosphere/init.toml`: the services exo-init starts and supervises.
//!
//! ```toml
//! [shutdown]
//! grace = 3              # seconds to wait after each SIGTERM step (default 3)
//!
//! [restart]              # the restart backoff, for every service (defaults shown)
//! initial_delay = 0.5    # seconds before the first restart
//! max_delay = 30         # the delay doubles up to this
//! reset_after = 30       # a run at least this long resets the delay and the failure count
//! max_failures = 5       # this many exits within `failure_window` seconds: state `failed`
//! failure_window = 60
//!
//! [[service]]
//! name = "udevd"                               # required; a-z, 0-9, '-', '_', 1..=32
//! exec = ["/usr/lib/systemd/systemd-udevd"]    # required; argv, no shell
//! env = { SYSTEMD_LOG_LEVEL = "info" }         # added to init's environment
//! after = []                                   # services that must be ready first
//! ready = [["/usr/bin/udevadm", "settle"]]     # run in order after each start
//! restart = "always"                           # always (default) | on-failure | never
//! ```
//!
//! Parsing is strict: unknown keys, wrong types, duplicate names, unknown or
//! circular `after` references are errors naming the file, line, column and
//! the dotted key (`service[1].restart`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use exo_shell::config::{describe, line_col};
use toml_edit::{ImDocument, Item, TableLike, Value};

/// Where the services are read from on a booted system.
pub const DEFAULT_PATH: &str = "/etc/exosphere/init.toml";

/// The whole file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// In start order: every service comes after the ones it names in `after`,
    /// otherwise in file order.
    pub services: Vec<ServiceConfig>,
    pub shutdown: ShutdownConfig,
    pub restart: BackoffConfig,
}

/// One `[[service]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    pub name: String,
    /// Never empty.
    pub exec: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub after: Vec<String>,
    /// Commands run one after another once the service has started; dependents
    /// start when the last one has finished.
    pub ready: Vec<Vec<String>>,
    pub restart: Restart,
}

/// `restart = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Always => "always",
            Restart::OnFailure => "on-failure",
            Restart::Never => "never",
        }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownConfig {
    /// How long to wait for processes after SIGTERM before going on.
    pub grace: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            grace: Duration::from_secs(3),
        }
    }
}

/// `[restart]`: the backoff every service's restarts follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub reset_after: Duration,
    pub max_failures: u32,
    pub failure_window: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            reset_after: Duration::from_secs(30),
            max_failures: 5,
            failure_window: Duration::from_secs(60),
        }
    }
}

/// Why init.toml was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Read {
        path: PathBuf,
        message: String,
    },
    /// `key` is dotted, e.g. `service[0].exec`; empty for TOML syntax errors.
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, message } => write!(f, "cannot read {}: {message}", path.display()),
            ConfigError::Invalid {
                path,
                line,
                column,
                key,
                message,
            } if key.is_empty() => write!(f, "{}:{line}:{column}: {message}", path.display()),
            ConfigError::Invalid {
                path,
                line,
                column,
                key,
                message,
            } => write!(f, "{}:{line}:{column}: {key}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads `path`; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }

    /// Parses `text`, read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let src = Source { text, path };
        let doc = ImDocument::parse(text).map_err(|e| {
            let message = e
                .message()
                .trim()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; ");
            src.error(e.span(), "", message)
        })?;
        let root = doc.as_table();
        let mut config = Config::default();
        let mut services = Vec::new();
        for (name, item) in root.iter() {
            let key_span = root.key(name).and_then(|k| k.span());
            match name {
                "shutdown" => {
                    let table = table_of(&src, name, item, key_span)?;
                    config.shutdown = parse_shutdown(&src, table)?;
                }
                "restart" => {
                    let table = table_of(&src, name, item, key_span)?;
                    config.restart = parse_backoff(&src, table)?;
                }
                "service" => {
                    let Some(array) = item.as_array_of_tables() else {
                        let message = format!("expected [[service]] tables, found {}", describe(item));
                        return Err(src.error(item.span().or(key_span), "service", message));
                    };
                    for (i, table) in array.iter().enumerate() {
                        let key = format!("service[{i}]");
                        services.push((parse_service(&src, &key, table)?, key, table.span()));
                    }
                }
                _ => {
                    let message = "unknown section (expected shutdown, restart or [[service]])".to_string();
                    return Err(src.error(key_span, name, message));
                }
            }
        }
        config.services = order(&src, services)?;
        Ok(config)
    }
}

/// The file being parsed, for locating errors.
struct Source<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, key: &str, message: String) -> ConfigError {
        let (line, column) = line_col(self.text, span.map_or(0, |s| s.start));
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key: key.to_string(),
            message,
        }
    }
}

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

fn table_of<'a>(
    src: &Source<'_>,
    key: &str,
    item: &'a Item,
    key_span: Option<Range<usize>>,
) -> Result<&'a dyn TableLike, ConfigError> {
    item.as_table_like().ok_or_else(|| {
        let message = format!("expected a table, found {}", describe(item));
        src.error(item.span().or(key_span), key, message)
    })
}

/// One `key = value`, with what is needed to report on it.
struct Field<'a> {
    src: &'a Source<'a>,
    key: String,
    key_span: Option<Range<usize>>,
    item: &'a Item,
}

impl<'a> Field<'a> {
    fn bad_value(&self, message: String) -> ConfigError {
        self.src.error(
            self.item.span().or_else(|| self.key_span.clone()),
            &self.key,
            message,
        )
    }

    fn bad_key(&self, message: String) -> ConfigError {
        self.src.error(self.key_span.clone(), &self.key, message)
    }

    fn expected(&self, what: &str) -> ConfigError {
        self.bad_value(format!("expected {what}, found {}", describe(self.item)))
    }

    fn string(&self, what: &str) -> Result<&'a str, ConfigError> {
        self.item.as_str().ok_or_else(|| self.expected(what))
    }

    /// Seconds as an integer or a float, `>= 0` (or `> 0` when `positive`).
    fn seconds(&self, positive: bool) -> Result<Duration, ConfigError> {
        let what = if positive {
            "a number of seconds greater than 0, like 0.5"
        } else {
            "a number of seconds (0 or more), like 3"
        };
        let secs = match self.item.as_value() {
            Some(Value::Integer(n)) => *n.value() as f64,
            Some(Value::Float(f)) => *f.value(),
            _ => return Err(self.expected(what)),
        };
        if !secs.is_finite() || secs < 0.0 || (positive && secs == 0.0) || secs > 86_400.0 {
            return Err(self.bad_value(format!("expected {what} (at most 86400), found {secs}")));
        }
        Ok(Duration::from_secs_f64(secs))
    }

    /// A non-empty argv of strings without NUL characters.
    fn argv(&self, item: &Item, key: &str) -> Result<Vec<String>, ConfigError> {
        const WHAT: &str = "a non-empty array of strings like [\"/usr/bin/foo\", \"--bar\"] (argv; no shell)";
        let span = item.span().or_else(|| self.key_span.clone());
        let Some(array) = item.as_array() else {
            return Err(self
                .src
                .error(span, key, format!("expected {WHAT}, found {}", describe(item))));
        };
        if array.is_empty() {
            return Err(self
                .src
                .error(span, key, format!("expected {WHAT}, found an empty array")));
        }
        let mut argv = Vec::new();
        for (i, value) in array.iter().enumerate() {
            let key = format!("{key}[{i}]");
            let span = value.span().or_else(|| span.clone());
            let Some(text) = value.as_str() else {
                let message = format!("expected a string, found {}", describe_value(value));
                return Err(self.src.error(span, &key, message));
            };
            if text.contains('\0') {
                return Err(self.src.error(span, &key, "arguments cannot contain NUL".into()));
            }
            if i == 0 && text.trim().is_empty() {
                let message = "expected a program name or path, found an empty string".into();
                return Err(self.src.error(span, &key, message));
            }
            argv.push(text.to_string());
        }
        Ok(argv)
    }
}

fn fields<'a>(
    src: &'a Source<'a>,
    section: &str,
    table: &'a dyn TableLike,
    mut f: impl FnMut(&str, Field<'a>) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    for (name, item) in table.iter() {
        let field = Field {
            src,
            key: format!("{section}.{name}"),
            key_span: table.key(name).and_then(|k| k.span()),
            item,
        };
        f(name, field)?;
    }
    Ok(())
}

fn parse_shutdown<'a>(src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<ShutdownConfig, ConfigError> {
    let mut shutdown = ShutdownConfig::default();
    fields(src, "shutdown", table, |name, f| {
        match name {
            "grace" => shutdown.grace = f.seconds(false)?,
            _ => return Err(f.bad_key("unknown key (expected grace)".into())),
        }
        Ok(())
    })?;
    Ok(shutdown)
}

fn parse_backoff<'a>(src: &'a Source<'a>, table: &'a dyn TableLike) -> Result<BackoffConfig, ConfigError> {
    let mut b = BackoffConfig::default();
    let mut max_span = None;
    fields(src, "restart", table, |name, f| {
        match name {
            "initial_delay" => b.initial_delay = f.seconds(true)?,
            "max_delay" => {
                b.max_delay = f.seconds(true)?;
                max_span = f.item.span();
            }
            "reset_after" => b.reset_after = f.seconds(true)?,
            "failure_window" => b.failure_window = f.seconds(true)?,
            "max_failures" => {
                let what = "an integer from 1 to 1000";
                let n = f.item.as_integer().ok_or_else(|| f.expected(what))?;
                b.max_failures = u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| f.bad_value(format!("expected {what}, found {n}")))?;
            }
            _ => return Err(f.bad_key(
                "unknown key (expected initial_delay, max_delay, reset_after, max_failures, failure_window)"
                    .into(),
            )),
        }
        Ok(())
    })?;
    if b.max_delay < b.initial_delay {
        let message = format!(
            "max_delay ({} s) is shorter than initial_delay ({} s)",
            b.max_delay.as_secs_f64(),
            b.initial_delay.as_secs_f64()
        );
        return Err(src.error(max_span, "restart.max_delay", message));
    }
    Ok(b)
}

const SERVICE_KEYS: &str = "name, exec, env, after, ready, restart";
const NAME_RULE: &str = "a name of 1 to 32 characters a-z, 0-9, '-' and '_'";

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn valid_env_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A parsed service and where its name was written (for `after` errors).
struct Parsed {
    service: ServiceConfig,
    name_span: Option<Range<usize>>,
    after_spans: Vec<Option<Range<usize>>>,
}

fn parse_service<'a>(
    src: &'a Source<'a>,
    section: &str,
    table: &'a dyn TableLike,
) -> Result<Parsed, ConfigError> {
    let mut name = None;
    let mut name_span = None;
    let mut exec = None;
    let mut env = BTreeMap::new();
    let mut after = Vec::new();
    let mut after_spans = Vec::new();
    let mut ready = Vec::new();
    let mut restart = Restart::Always;
    fields(src, section, table, |key, f| {
        match key {
            "name" => {
                let value = f.string(NAME_RULE)?;
                if !valid_name(value) {
                    return Err(f.bad_value(format!("expected {NAME_RULE}, found \"{value}\"")));
                }
                name = Some(value.to_string());
                name_span = f.item.span();
            }
            "exec" => exec = Some(f.argv(f.item, &f.key)?),
            "env" => {
                let table = f
                    .item
                    .as_table_like()
                    .ok_or_else(|| f.expected("a table of strings"))?;
                for (var, value) in table.iter() {
                    let key = format!("{}.{var}", f.key);
                    let span = table.key(var).and_then(|k| k.span());
                    if !valid_env_key(var) {
                        let message =
                            "expected a variable name of A-Z, a-z, 0-9 and '_', not starting with a digit";
                        return Err(src.error(span, &key, message.into()));
                    }
                    let Some(text) = value.as_str() else {
                        let message = format!("expected a string, found {}", describe(value));
                        return Err(src.error(value.span().or(span), &key, message));
                    };
                    if text.contains('\0') {
                        return Err(src.error(
                            value.span().or(span),
                            &key,
                            "values cannot contain NUL".into(),
                        ));
                    }
                    env.insert(var.to_string(), text.to_string());
                }
            }
            "after" => {
                let what = "an array of service names like [\"udevd\"]";
                let array = f.item.as_array().ok_or_else(|| f.expected(what))?;
                for (i, value) in array.iter().enumerate() {
                    let key = format!("{}[{i}]", f.key);
                    let span = value.span().or_else(|| f.item.span());
                    let Some(text) = value.as_str() else {
                        let message = format!("expected a service name, found {}", describe_value(value));
                        return Err(src.error(span, &key, message));
                    };
                    after.push(text.to_string());
                    after_spans.push(span);
                }
            }
            "ready" => {
                let what = "an array of commands like [[\"/usr/bin/udevadm\", \"settle\"]]";
                let array = f.item.as_array().ok_or_else(|| f.expected(what))?;
                for (i, value) in array.iter().enumerate() {
                    let key = format!("{}[{i}]", f.key);
                    // The cloned value keeps its span, so errors point at it.
                    ready.push(f.argv(&Item::Value(value.clone()), &key)?);
                }
            }
            "restart" => {
                let what = "one of \"always\", \"on-failure\", \"never\"";
                restart = match f.string(what)? {
                    "always" => Restart::Always,
                    "on-failure" => Restart::OnFailure,
                    "never" => Restart::Never,
                    other => return Err(f.bad_value(format!("expected {what}, found \"{other}\""))),
                };
            }
            _ => return Err(f.bad_key(format!("unknown key (expected one of {SERVICE_KEYS})"))),
        }
        Ok(())
    })?;
    let missing = |key: &str, what: &str| {
        // An array-of-tables entry has no span of its own; point at its first key.
        let span = table
            .iter()
            .next()
            .and_then(|(k, _)| table.key(k).and_then(|k| k.span()));
        src.error(
            span,
            &format!("{section}.{key}"),
            format!("missing; expected {what}"),
        )
    };
    let name = name.ok_or_else(|| missing("name", NAME_RULE))?;
    let exec = exec.ok_or_else(|| missing("exec", "an argv like [\"/usr/bin/foo\"]"))?;
    Ok(Parsed {
        service: ServiceConfig {
            name,
            exec,
            env,
            after,
            ready,
            restart,
        },
        name_span,
        after_spans,
    })
}

/// Checks names and `after`, and orders the services so each comes after
/// what it names (file order otherwise).
fn order(
    src: &Source<'_>,
    parsed: Vec<(Parsed, String, Option<Range<usize>>)>,
) -> Result<Vec<ServiceConfig>, ConfigError> {
    for (i, (p, key, _)) in parsed.iter().enumerate() {
        if let Some((_, first, _)) = parsed[..i]
            .iter()
            .find(|(q, _, _)| q.service.name == p.service.name)
        {
            let message = format!("the name \"{}\" is already used by {first}", p.service.name);
            return Err(src.error(p.name_span.clone(), &format!("{key}.name"), message));
        }
        for (j, dep) in p.service.after.iter().enumerate() {
            let key = format!("{key}.after[{j}]");
            if !parsed.iter().any(|(q, _, _)| &q.service.name == dep) {
                let message = format!("no service is named \"{dep}\"");
                return Err(src.error(p.after_spans[j].clone(), &key, message));
            }
            if dep == &p.service.name {
                let message = "a service cannot come after itself".to_string();
                return Err(src.error(p.after_spans[j].clone(), &key, message));
            }
        }
    }
    // Repeatedly take the first service (in file order) whose dependencies are placed.
    let mut placed: Vec<usize> = Vec::new();
    while placed.len() < parsed.len() {
        let next = (0..parsed.len()).find(|&i| {
            !placed.contains(&i)
                && parsed[i]
                    .0
                    .service
                    .after
                    .iter()
                    .all(|dep| placed.iter().any(|&j| &parsed[j].0.service.name == dep))
        });
        match next {
            Some(i) => placed.push(i),
            None => {
                let Some((p, key, _)) = (0..parsed.len())
                    .find(|i| !placed.contains(i))
                    .map(|i| &parsed[i])
                else {
                    break;
                };
                let message = format!("\"{}\" is part of a cycle of `after` references", p.service.name);
                return Err(src.error(p.name_span.clone(), &format!("{key}.after"), message));
            }
        }
    }
    let mut slots: Vec<Option<ServiceConfig>> = parsed.into_iter().map(|(p, _, _)| Some(p.service)).collect();
    Ok(placed.into_iter().filter_map(|i| slots[i].take()).collect())
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
