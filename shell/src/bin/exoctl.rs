//! `exoctl`: command-line client for nexquelium's control socket.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;

use exo_shell::control::{
    control_socket_path_from_env, ButtonState, ControlClient, OutputInfo, PointerButton, Request,
    ScreenshotInfo, VersionInfo, WindowInfo, CONTROL_ENV, PROTOCOL_VERSION,
};
use exo_shell::keys::KeyCombo;

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

/// Prints rows with columns padded to line up; the last column is not padded.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

fn print_windows(windows: &[WindowInfo]) {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let rows: Vec<Vec<String>> = windows
        .iter()
        .map(|w| {
            let flags = [
                (w.maximized, "maximized"),
                (w.fullscreen, "fullscreen"),
                (w.minimized, "minimized"),
            ];
            let state: Vec<&str> = flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, name)| *name)
                .collect();
            let state = if state.is_empty() {
                "-".to_string()
            } else {
                state.join(",")
            };
            let geometry = format!("{}x{}@{},{}", w.width, w.height, w.x, w.y);
            vec![
                w.id.to_string(),
                w.workspace.to_string(),
                yes_no(w.focused),
                state,
                geometry,
                w.app_id.clone(),
                w.title.clone(),
            ]
        })
        .collect();
    print_table(
        &["id", "ws", "focused", "state", "geometry", "app_id", "title"],
        &rows,
    );
}

fn print_outputs(outputs: &[OutputInfo]) {
    let rows: Vec<Vec<String>> = outputs
        .iter()
        .map(|o| {
            let mode = format!(
                "{}x{}@{:.3}Hz",
                o.width,
                o.height,
                f64::from(o.refresh_mhz) / 1000.0
            );
            let logical = format!("{}x{}@{},{}", o.logical_width, o.logical_height, o.x, o.y);
            let maker = format!("{} {}", o.make, o.model).trim().to_string();
            vec![o.name.clone(), mode, o.scale.to_string(), logical, maker]
        })
        .collect();
    print_table(&["name", "mode", "scale", "logical", "make/model"], &rows);
}

/// Prints a reply for people; shapes it does not expect are printed as JSON.
fn print_human(command: &Command, value: Value) {
    let fallback = |value: &Value| println!("{value}");
    match command {
        Command::Version => match serde_json::from_value::<VersionInfo>(value.clone()) {
            Ok(v) => {
                println!("{} {} (control protocol {})", v.compositor, v.version, v.protocol);
                if v.protocol != PROTOCOL_VERSION {
                    eprintln!("exoctl: warning: exoctl speaks control protocol {PROTOCOL_VERSION}");
                }
            }
            Err(_) => fallback(&value),
        },
        Command::Outputs => match serde_json::from_value::<Vec<OutputInfo>>(value.clone()) {
            Ok(outputs) => print_outputs(&outputs),
            Err(_) => fallback(&value),
        },
        Command::Windows => match serde_json::from_value::<Vec<WindowInfo>>(value.clone()) {
            Ok(windows) => print_windows(&windows),
            Err(_) => fallback(&value),
        },
        Command::Screenshot { .. } => match serde_json::from_value::<ScreenshotInfo>(value.clone()) {
            Ok(s) => println!("wrote {} ({}x{})", s.path, s.width, s.height),
            Err(_) => fallback(&value),
        },
        // Input requests answer null: nothing to say on success.
        _ if value.is_null() => {}
        _ => fallback(&value),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
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
    if cli.json {
        println!("{value}");
    } else {
        print_human(&cli.command, value);
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("exoctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
