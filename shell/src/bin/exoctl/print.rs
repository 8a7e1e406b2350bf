//! What exoctl prints for people: tables and one-line summaries.

use serde_json::Value;

use exo_shell::control::{
    CapsuleInfo, CapsuleLogs, DashboardInfo, OutputInfo, RunInfo, ScreenshotInfo, VersionInfo, WindowInfo,
    XrayInfo, PROTOCOL_VERSION,
};

use super::{Command, OutputAction};

/// Writes `text` to stdout. A closed stdout (`exoctl windows | head -1`) ends exoctl quietly, as
/// SIGPIPE ends other tools (Rust ignores SIGPIPE, and `println!` would panic instead).
pub(crate) fn write_out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("exoctl: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// [`write_out`] with a newline.
pub(crate) fn line(text: &str) {
    write_out(&format!("{text}\n"));
}

/// Prints rows with columns padded to line up; the last column is not padded.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    for text in table_lines(header, rows) {
        line(&text);
    }
}

/// The lines of [`print_table`].
pub(crate) fn table_lines(header: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

/// `text`, or `-` when it is empty (so every cell has something in it).
fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text.to_string()
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
            let geometry = format!("{}x{}@{},{}", w.width, w.height, w.x, w.y);
            vec![
                w.id.to_string(),
                w.workspace.to_string(),
                yes_no(w.focused),
                or_dash(&state.join(",")),
                geometry,
                or_dash(w.capsule.as_deref().unwrap_or("")),
                w.app_id.clone(),
                w.title.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "id", "ws", "focused", "state", "geometry", "capsule", "app_id", "title",
        ],
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

/// A duration for people: `5s`, `3m12s`, `1h02m`.
pub(crate) fn format_uptime(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

fn print_capsules(capsules: &[CapsuleInfo]) {
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = capsules
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.status.state().to_string(),
                c.pid.map_or_else(dash, |p| p.to_string()),
                c.uptime_s.map_or_else(dash, format_uptime),
                c.restarts.to_string(),
                c.capabilities.to_string(),
                or_dash(&c.confinement),
            ]
        })
        .collect();
    print_table(
        &[
            "name",
            "state",
            "pid",
            "uptime",
            "restarts",
            "capabilities",
            "confinement",
        ],
        &rows,
    );
}

/// Prints a reply for people; shapes it does not expect are printed as JSON.
pub(crate) fn print_human(command: &Command, value: Value) {
    /// Decodes the reply as `T` and prints it with `f`, or prints the raw JSON.
    fn show<T: serde::de::DeserializeOwned>(value: Value, f: impl FnOnce(T)) {
        match serde_json::from_value::<T>(value.clone()) {
            Ok(v) => f(v),
            Err(_) => line(&value.to_string()),
        }
    }
    match command {
        Command::Version => show(value, |v: VersionInfo| {
            line(&format!(
                "{} {} (control protocol {})",
                v.compositor, v.version, v.protocol
            ));
            if v.protocol != PROTOCOL_VERSION {
                eprintln!("exoctl: warning: exoctl speaks control protocol {PROTOCOL_VERSION}");
            }
        }),
        Command::Outputs => show(value, |o: Vec<OutputInfo>| print_outputs(&o)),
        Command::Output {
            action: OutputAction::Create { .. },
        } => show(value, |o: OutputInfo| print_outputs(&[o])),
        Command::Windows => show(value, |w: Vec<WindowInfo>| print_windows(&w)),
        Command::Capsules => show(value, |c: Vec<CapsuleInfo>| print_capsules(&c)),
        Command::Screenshot { .. } => show(value, |s: ScreenshotInfo| {
            line(&format!("wrote {} ({}x{})", s.path, s.width, s.height))
        }),
        Command::Run { .. } => show(value, |r: RunInfo| {
            line(&format!("started {} (pid {})", r.name, r.pid))
        }),
        // The log as it is, without adding a newline.
        Command::Logs { .. } => show(value, |l: CapsuleLogs| write_out(&l.text)),
        Command::Dashboard { .. } => show(value, |d: DashboardInfo| {
            line(if d.visible {
                "dashboard visible"
            } else {
                "dashboard hidden"
            })
        }),
        Command::Xray { .. } => show(value, |x: XrayInfo| {
            line(if x.xray { "x-ray on" } else { "x-ray off" })
        }),
        // Input and capsule actions answer null: nothing to say on success.
        _ if value.is_null() => {}
        _ => line(&value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::format_uptime;

    #[test]
    fn uptime_for_people() {
        let cases = [
            (0, "0s"),
            (5, "5s"),
            (59, "59s"),
            (60, "1m00s"),
            (192, "3m12s"),
            (3599, "59m59s"),
            (3600, "1h00m"),
            (3720, "1h02m"),
            (3779, "1h02m"),
            (90_000, "25h00m"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_uptime(secs), text, "{secs} s");
        }
    }
}
