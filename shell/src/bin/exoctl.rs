//! `exoctl`: command-line client for nexquelium's control socket.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use exo_shell::capability::Capability;
use exo_shell::control::{
    control_socket_path_from_env, ButtonState, ControlClient, DashboardAction, PointerButton, Request,
    RunInfo, SessionAction, CONTROL_ENV, CONTROL_FD_ENV,
};
use exo_shell::keys::KeyCombo;
use exo_shell::sentry::{log::EVENT_KINDS, Severity};

// The crate root is exoctl.rs, so its modules live in exoctl/ only by `path`.
#[path = "exoctl/events.rs"]
mod events;
#[path = "exoctl/print.rs"]
mod print;
#[path = "exoctl/top.rs"]
mod top;
#[path = "exoctl/wait.rs"]
mod wait;

/// Control a running nexquelium compositor.
///
/// The socket is --socket, else $NEXQUELIUM_CONTROL, else (in a capsule holding
/// sentry.observe) the inherited channel $EXOSPHERE_CONTROL_FD, else
/// $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control.
#[derive(Debug, Parser)]
#[command(name = "exoctl", version, propagate_version = true)]
struct Cli {
    /// Path of the control socket.
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print the compositor's reply as JSON (a list as one array, a single object as one object;
    /// `events` prints one JSON line per event).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the compositor's version and control protocol version.
    Version,
    /// List the outputs: mode, scale, position, logical size.
    Outputs,
    /// List the windows on all workspaces.
    Windows,
    /// Save a PNG screenshot of an output.
    Screenshot {
        /// The PNG file to write (relative paths are taken from the current directory).
        file: PathBuf,
        /// The output to capture (default: all of them side by side; see `exoctl outputs`).
        #[arg(long, value_name = "NAME")]
        output: Option<String>,
    },
    /// Add or remove a virtual output (the headless backend only).
    Output {
        #[command(subcommand)]
        action: OutputAction,
    },
    /// Press and release a key combination.
    Key {
        /// Modifiers and a key joined with '+', e.g. super+q, ctrl+shift+t, return.
        combo: String,
    },
    /// Type text with the compositor's keymap.
    Type {
        /// The text to type (ASCII and whatever else the keymap has).
        #[arg(allow_hyphen_values = true)]
        text: String,
    },
    /// Move the pointer or press its buttons.
    #[command(subcommand)]
    Pointer(PointerCommand),
    /// List the capsules: state, pid, uptime, restarts, capabilities, confinement.
    Capsules,
    /// Start a program as a new capsule holding exactly the given capabilities.
    ///
    /// Prints `started NAME (pid PID)`.
    ///
    /// Example: exoctl run --cap display.window --cap net.connect -- foot -e htop
    Run {
        /// The capsule's name (default: the compositor picks one from the program).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// A capability the capsule holds, e.g. display.window or net.connect;
        /// repeat for more. Without any it holds none.
        #[arg(long = "cap", value_name = "CAPABILITY")]
        caps: Vec<Capability>,
        /// Wait until the capsule has exited, failed or been stopped, and exit with
        /// its exit code (128+N if killed by signal N; 1 if it failed; 0 if stopped).
        #[arg(long)]
        wait: bool,
        /// The program and its arguments; put them after `--`.
        #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
        argv: Vec<String>,
    },
    /// Start a capsule (also clears its restart backoff and failure count).
    Start {
        /// The capsule (see `exoctl capsules`).
        name: String,
    },
    /// Stop a capsule; its restart policy does not restart it.
    Stop {
        /// The capsule (see `exoctl capsules`).
        name: String,
    },
    /// Stop a capsule if it is running, then start it.
    Restart {
        /// The capsule (see `exoctl capsules`).
        name: String,
    },
    /// Give a capsule a capability.
    Grant {
        /// The capsule (see `exoctl capsules`).
        name: String,
        /// A capability such as net.connect or display.layer.
        capability: Capability,
    },
    /// Take a capability away from a capsule.
    Revoke {
        /// The capsule (see `exoctl capsules`).
        name: String,
        /// A capability such as net.connect or display.layer.
        capability: Capability,
    },
    /// Print a capsule's log (its stdout and stderr).
    Logs {
        /// The capsule (see `exoctl capsules`).
        name: String,
        /// Print only the last BYTES bytes.
        #[arg(long, value_name = "BYTES")]
        tail: Option<u64>,
    },
    /// Print Sentry's events: the history (newest last), then with --follow every new one.
    ///
    /// One line per event: seq, time (UTC), severity, capsule, what happened. With --json
    /// each event is one JSON line, as in the event log.
    Events {
        /// Keep printing events as they happen (until interrupted).
        #[arg(long, short)]
        follow: bool,
        /// Only events about this capsule.
        #[arg(long, value_name = "NAME")]
        capsule: Option<String>,
        /// Only events of this kind (repeat for more), e.g. anomaly, capsule_exited.
        #[arg(long, value_name = "KIND", value_parser = clap::builder::PossibleValuesParser::new(EVENT_KINDS))]
        kind: Vec<String>,
        /// Only events at least this severe.
        #[arg(long, value_enum, value_name = "SEVERITY")]
        min_severity: Option<MinSeverity>,
        /// At most this many events of the history (the newest ones).
        #[arg(long, value_name = "N", default_value_t = exo_shell::control::DEFAULT_EVENTS_LIMIT)]
        limit: u32,
        /// Only events after this seq.
        #[arg(long, value_name = "SEQ")]
        since: Option<u64>,
    },
    /// A live table of the capsules' CPU, memory and tasks, redrawn every second.
    Top {
        /// Print one table (once every running capsule has a sample) and exit.
        #[arg(long)]
        once: bool,
    },
    /// Show, hide or toggle the Sentry dashboard.
    Dashboard {
        #[arg(value_enum)]
        action: DashboardArg,
    },
    /// Turn X-ray (every surface tagged with its owner) on or off; toggle it without an argument.
    Xray {
        #[arg(value_enum)]
        state: Option<OnOff>,
    },
    /// Release a capsule Sentry quarantined.
    Release {
        /// The capsule (see `exoctl capsules`).
        name: String,
    },
    /// End the session (stops the capsules, then the compositor), or reboot or power off
    /// (under exo-init only).
    Session {
        #[arg(value_enum)]
        action: SessionArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SessionArg {
    Quit,
    Reboot,
    Poweroff,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MinSeverity {
    Info,
    Notice,
    Warning,
    Critical,
}

impl From<MinSeverity> for Severity {
    fn from(s: MinSeverity) -> Self {
        match s {
            MinSeverity::Info => Severity::Info,
            MinSeverity::Notice => Severity::Notice,
            MinSeverity::Warning => Severity::Warning,
            MinSeverity::Critical => Severity::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DashboardArg {
    Show,
    Hide,
    Toggle,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
enum PointerCommand {
    /// Move the pointer to absolute global logical coordinates.
    Move {
        #[arg(allow_negative_numbers = true)]
        x: f64,
        #[arg(allow_negative_numbers = true)]
        y: f64,
    },
    /// Press and release a button.
    Click {
        #[arg(value_enum, default_value_t = Button::Left)]
        button: Button,
    },
    /// Press a button (and keep it down).
    Press {
        #[arg(value_enum)]
        button: Button,
    },
    /// Release a button.
    Release {
        #[arg(value_enum)]
        button: Button,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Button {
    Left,
    Right,
    Middle,
}

impl From<Button> for PointerButton {
    fn from(b: Button) -> Self {
        match b {
            Button::Left => PointerButton::Left,
            Button::Right => PointerButton::Right,
            Button::Middle => PointerButton::Middle,
        }
    }
}

#[derive(Debug, Subcommand)]
enum OutputAction {
    /// Add an output right of the others.
    Create {
        /// Its size in pixels, WIDTHxHEIGHT (e.g. 1280x720).
        size: String,
    },
    /// Remove an output, as if its display were unplugged (never the last one).
    Remove {
        /// The output's name (see `exoctl outputs`).
        name: String,
    },
}

/// `WIDTHxHEIGHT` with both sides in 64..=16384 (as `nexquelium --size`).
fn parse_size(size: &str) -> anyhow::Result<(i32, i32)> {
    let (w, h) = size
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow!("size {size:?} is not WIDTHxHEIGHT"))?;
    let side = |v: &str| -> anyhow::Result<i32> {
        let n: i32 = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("size {size:?}: {v:?} is not a number"))?;
        anyhow::ensure!(
            (64..=16384).contains(&n),
            "size {size:?}: {n} is outside 64..=16384"
        );
        Ok(n)
    };
    Ok((side(w)?, side(h)?))
}

/// Builds the request, checking what can be checked before connecting.
fn request_for(command: &Command) -> anyhow::Result<Request> {
    let button = |button: Button, state| Request::PointerButton {
        button: button.into(),
        state,
    };
    Ok(match command {
        Command::Version => Request::Version,
        Command::Outputs => Request::Outputs,
        Command::Windows => Request::Windows { follow: false },
        Command::Screenshot { file, output } => {
            // The compositor resolves paths from its own working directory, so send an absolute one.
            let file = if file.is_absolute() {
                file.clone()
            } else {
                std::env::current_dir()
                    .context("cannot find the current directory")?
                    .join(file)
            };
            let path = file
                .to_str()
                .ok_or_else(|| anyhow!("the path {} is not valid UTF-8", file.display()))?;
            Request::Screenshot {
                path: path.to_string(),
                output: output.clone(),
            }
        }
        Command::Output { action } => match action {
            OutputAction::Create { size } => {
                let (width, height) = parse_size(size)?;
                Request::OutputCreate { width, height }
            }
            OutputAction::Remove { name } => Request::OutputRemove { name: name.clone() },
        },
        Command::Key { combo } => {
            let parsed: KeyCombo = combo
                .parse()
                .map_err(|e| anyhow!("invalid key combination \"{combo}\": {e}"))?;
            Request::Key {
                combo: parsed.to_string(),
            }
        }
        Command::Type { text } => Request::Type { text: text.clone() },
        Command::Pointer(PointerCommand::Move { x, y }) => {
            if !x.is_finite() || !y.is_finite() {
                bail!("pointer coordinates must be finite numbers, got {x} {y}");
            }
            Request::PointerMove { x: *x, y: *y }
        }
        Command::Pointer(PointerCommand::Click { button: b }) => button(*b, None),
        Command::Pointer(PointerCommand::Press { button: b }) => button(*b, Some(ButtonState::Press)),
        Command::Pointer(PointerCommand::Release { button: b }) => button(*b, Some(ButtonState::Release)),
        Command::Capsules => Request::Capsules,
        Command::Run { name, caps, argv, .. } => Request::Run {
            name: name.clone(),
            capabilities: caps.iter().map(|c| c.as_str().to_string()).collect(),
            argv: argv.clone(),
        },
        Command::Start { name } => Request::CapsuleStart { name: name.clone() },
        Command::Stop { name } => Request::CapsuleStop { name: name.clone() },
        Command::Restart { name } => Request::CapsuleRestart { name: name.clone() },
        Command::Grant { name, capability } => Request::Grant {
            name: name.clone(),
            capability: capability.as_str().to_string(),
        },
        Command::Revoke { name, capability } => Request::Revoke {
            name: name.clone(),
            capability: capability.as_str().to_string(),
        },
        Command::Logs { name, tail } => Request::Logs {
            name: name.clone(),
            tail_bytes: *tail,
        },
        Command::Events {
            follow,
            capsule,
            kind,
            min_severity,
            limit,
            since,
        } => Request::Events {
            since_seq: *since,
            capsule: capsule.clone(),
            kinds: kind.clone(),
            min_severity: min_severity.map(Severity::from),
            limit: Some(*limit),
            follow: *follow,
        },
        Command::Top { .. } => Request::Samples {
            capsule: None,
            stop: false,
        },
        Command::Dashboard { action } => Request::Dashboard {
            action: match action {
                DashboardArg::Show => DashboardAction::Show,
                DashboardArg::Hide => DashboardAction::Hide,
                DashboardArg::Toggle => DashboardAction::Toggle,
            },
        },
        Command::Xray { state } => Request::Xray {
            on: state.map(|s| matches!(s, OnOff::On)),
        },
        Command::Release { name } => Request::Release { name: name.clone() },
        Command::Session { action } => Request::Session {
            action: match action {
                SessionArg::Quit => SessionAction::Quit,
                SessionArg::Reboot => SessionAction::Reboot,
                SessionArg::Poweroff => SessionAction::Poweroff,
            },
        },
    })
}

/// An I/O error's description without the "(os error N)" suffix.
fn describe_io(e: &io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn socket_path(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    match explicit {
        Some(path) => Ok(path.to_path_buf()),
        None => control_socket_path_from_env().map_err(|e| anyhow!("{e} (pass --socket PATH)")),
    }
}

/// Connects: --socket, $NEXQUELIUM_CONTROL, an inherited channel, or the default socket.
fn connect(explicit: Option<&Path>) -> anyhow::Result<ControlClient> {
    let from_env = std::env::var_os(CONTROL_ENV).is_some_and(|v| !v.is_empty());
    if explicit.is_none() && !from_env {
        let inherited = ControlClient::from_inherited_fd()
            .map_err(|e| anyhow!("cannot use the channel in {CONTROL_FD_ENV}: {e}"))?;
        if let Some(client) = inherited {
            return Ok(client);
        }
    }
    let path = socket_path(explicit)?;
    ControlClient::connect(&path).map_err(|e| {
        anyhow!(
            "cannot connect to {}: {} (is nexquelium running? set {CONTROL_ENV})",
            path.display(),
            describe_io(&e)
        )
    })
}

/// Runs the command; returns the exit status (0 unless `run --wait` passes one on).
fn run(cli: Cli) -> anyhow::Result<u8> {
    let request = request_for(&cli.command)?;
    let mut client = connect(cli.socket.as_deref())?;
    match &cli.command {
        Command::Events { .. } => return events::run(&mut client, &request, cli.json),
        Command::Top { once } => return top::run(&mut client, *once),
        _ => {}
    }
    let value = client.request(&request)?;
    let wait_for = match &cli.command {
        Command::Run { wait: true, .. } => {
            let info: RunInfo = serde_json::from_value(value.clone())
                .with_context(|| format!("unexpected reply to the run request: {value}"))?;
            Some(info.name)
        }
        _ => None,
    };
    if cli.json {
        print::line(&value.to_string());
    } else {
        print::print_human(&cli.command, value);
    }
    match wait_for {
        Some(name) => wait::wait_for_exit(&mut client, &name),
        None => Ok(0),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("exoctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
