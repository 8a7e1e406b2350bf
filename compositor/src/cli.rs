//! Command-line options of the `nexquelium` binary.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Render with pixman into memory; needs no GPU and no display.
    Headless,
    /// A window in the host's Wayland or X11 session, rendered with GLES (builds with the
    /// `winit` cargo feature, the default).
    Winit,
    /// A console: KMS through /dev/dri/card*, libinput, a libseat session.
    Drm,
}

/// Nexquelium: the Exosphere Wayland compositor.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Backend. Default: winit when WAYLAND_DISPLAY or DISPLAY is set (in builds with the
    /// `winit` feature); drm when started on a virtual terminal and a /dev/dri/card* exists;
    /// else headless.
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Mode for the drm backend, WIDTHxHEIGHT[@HZ] (default: the display's preferred mode).
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<crate::backend::drm::ModeRequest>,
    /// Output size in pixels for the headless backend, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x720", value_parser = parse_size)]
    pub size: (i32, i32),
    /// Output scale (fractional scales such as 1.5 are allowed).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub scale: f64,
    /// Number of outputs for the headless backend, side by side, each of --size
    /// (HEADLESS-1, HEADLESS-2, ...; the first is the primary one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub outputs: u8,
    /// Output refresh rate in Hz for the headless backend.
    #[arg(long, default_value_t = 60.0, value_parser = parse_refresh)]
    pub refresh: f64,
    /// Wayland socket name in $XDG_RUNTIME_DIR (default: the first free wayland-N).
    #[arg(long)]
    pub socket: Option<String>,
    /// Capabilities of host clients (those on the public Wayland socket): a comma-separated list
    /// such as "display.window,display.capture", "all" (tests, benchmarks, grim from a host
    /// shell) or "none" (no host clients at all).
    /// Default: `[session] host_capabilities` of the config, which defaults to display.window.
    #[arg(long, value_parser = parse_caps)]
    pub host_caps: Option<exo_shell::CapabilitySet>,
    /// Directory of system capsules (default: /etc/exosphere/capsules if it exists, else the
    /// repository's assets/capsules).
    #[arg(long)]
    pub system_capsules: Option<PathBuf>,
    /// Start the session without starting any capsule.
    #[arg(long)]
    pub no_autostart: bool,
    /// Config file (default: $XDG_CONFIG_HOME/nexquelium/config.toml, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Sentry's event log (default: `[sentry] log` of the config, else
    /// $XDG_STATE_HOME/exosphere/sentry.jsonl, else ~/.local/state/exosphere/sentry.jsonl).
    #[arg(long, value_name = "PATH")]
    pub sentry_log: Option<PathBuf>,
    /// Program to start once the compositor is ready, with WAYLAND_DISPLAY set (after `--`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

fn parse_size(s: &str) -> Result<(i32, i32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("size {s:?} is not WIDTHxHEIGHT"))?;
    let parse = |v: &str| -> Result<i32, String> {
        let n: i32 = v
            .trim()
            .parse()
            .map_err(|_| format!("size {s:?}: {v:?} is not a number"))?;
        if !(64..=16384).contains(&n) {
            return Err(format!("size {s:?}: {n} is outside 64..=16384"));
        }
        Ok(n)
    };
    Ok((parse(w)?, parse(h)?))
}

fn parse_mode(s: &str) -> Result<crate::backend::drm::ModeRequest, String> {
    crate::backend::drm::ModeRequest::parse(s)
}

/// Standard input is a virtual terminal (the Linux console), where a DRM session belongs.
fn on_vt() -> bool {
    const VT_GETSTATE: libc::c_ulong = 0x5603;
    let mut vt_state = [0u16; 3];
    // SAFETY: VT_GETSTATE writes a struct vt_stat (three u16) into the buffer given.
    unsafe { libc::ioctl(0, VT_GETSTATE, vt_state.as_mut_ptr()) == 0 }
}

fn parse_caps(s: &str) -> Result<exo_shell::CapabilitySet, String> {
    exo_shell::CapabilitySet::parse_list(s).map_err(|e| format!("--host-caps {s:?}: {e}"))
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("scale {s:?} is not a number"))?;
    if !(0.25..=8.0).contains(&v) {
        return Err(format!("scale {v} is outside 0.25..=8"));
    }
    Ok(v)
}

fn parse_refresh(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("refresh {s:?} is not a number"))?;
    if !(1.0..=1000.0).contains(&v) {
        return Err(format!("refresh {v} Hz is outside 1..=1000"));
    }
    Ok(v)
}

/// Started inside a desktop session: WAYLAND_DISPLAY or DISPLAY is set.
fn host_display() -> bool {
    std::env::var_os("WAYLAND_DISPLAY").is_some() || std::env::var_os("DISPLAY").is_some()
}

impl Cli {
    pub fn backend(&self) -> BackendKind {
        self.backend.unwrap_or_else(|| {
            let nested = host_display();
            if nested && cfg!(feature = "winit") {
                return BackendKind::Winit;
            }
            let kind = if on_vt() && crate::backend::drm::has_card() {
                BackendKind::Drm
            } else {
                BackendKind::Headless
            };
            if nested {
                tracing::warn!(
                    "WAYLAND_DISPLAY or DISPLAY is set, but this build has no winit backend \
                     (cargo feature `winit`): using the {kind:?} backend"
                );
            }
            kind
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_name_the_input() {
        assert_eq!(parse_size("1280x720").unwrap(), (1280, 720));
        assert!(parse_size("1280").unwrap_err().contains("\"1280\""));
        assert!(parse_size("10x720").unwrap_err().contains("64..=16384"));
        assert!(parse_scale("0").is_err());
        assert_eq!(parse_scale("1.5").unwrap(), 1.5);
    }
}
