//! `exoctl`: command-line client for nexquelium's control socket.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand, ValueEnum};

use exo_shell::capability::Capability;
use exo_shell::control::{
    control_socket_path_from_env, ButtonState, ControlClient, PointerButton, Request, RunInfo, CONTROL_ENV,
};
use exo_shell::keys::KeyCombo;

// The crate root is exoctl.rs, so its modules live in exoctl/ only by `path`.
#[path = "exoctl/print.rs"]
mod print;
#[path = "exoctl/wait.rs"]
mod wait;

/// Control a running nexquelium compositor.
///
/// The socket is --socket, else $NEXQUELIUM_CONTROL, else
/// $XDG_RUNTIME_DIR/$WAYLAND_DISPLAY.control.
#[derive(Debug, Parser)]
#[command(name = "exoctl", version, propagate_version = true)]
struct Cli {
    /// Path of the control socket.
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print the compositor's reply as JSON (a list as one array, a single object as one object).
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
        /// The output to capture (default: the first one; see `exoctl outputs`).
        #[arg(long, value_name = "NAME")]
        output: Option<String>,
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

/// Builds the request, checking what can be checked before connecting.
fn request_for(command: &Command) -> anyhow::Result<Request> {
    let button = |button: Button, state| Request::PointerButton {
        button: button.into(),
        state,
    };
    Ok(match command {
        Command::Version => Request::Version,
        Command::Outputs => Request::Outputs,
        Command::Windows => Request::Windows,
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

/// Runs the command; returns the exit status (0 unless `run --wait` passes one on).
fn run(cli: Cli) -> anyhow::Result<u8> {
    let request = request_for(&cli.command)?;
    let path = socket_path(cli.socket.as_deref())?;
    let mut client = ControlClient::connect(&path).map_err(|e| {
        anyhow!(
            "cannot connect to {}: {} (is nexquelium running? set {CONTROL_ENV})",
            path.display(),
            describe_io(&e)
        )
    })?;
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
        println!("{value}");
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
