//! `exoctl events`: Sentry's event history, then (with `--follow`) every new event, as lines
//! for people or as JSON lines.

use anyhow::Context;

use exo_shell::control::{ControlClient, Pushed, Request};
use exo_shell::sentry::Event;

/// Prints one line; a reader that went away (`| head`) ends exoctl quietly.
pub(crate) fn out(line: &str) -> anyhow::Result<()> {
    crate::print::line(line);
    Ok(())
}

/// Runs `request` (an `events` request) and prints what comes, following if it asks to.
pub(crate) fn run(client: &mut ControlClient, request: &Request, json: bool) -> anyhow::Result<u8> {
    let follow = matches!(request, Request::Events { follow: true, .. });
    let value = client.request(request)?;
    let history: Vec<Event> = serde_json::from_value(value.clone())
        .with_context(|| format!("unexpected reply to events: {value}"))?;
    let show = |event: &Event| match json {
        true => serde_json::to_string(event).map_err(anyhow::Error::from),
        false => Ok(human_line(event)),
    };
    for event in &history {
        out(&show(event)?)?;
    }
    if !follow {
        return Ok(0);
    }
    client.set_timeout(None)?;
    loop {
        match client.next_pushed()? {
            Some(Pushed::Event(event)) => out(&show(&event)?)?,
            Some(Pushed::Sample(_) | Pushed::Windows(_)) => {}
            None => anyhow::bail!("the compositor closed the connection"),
        }
    }
}

/// `2026-11-27 15:04:05` (UTC) from milliseconds since the epoch.
pub(crate) fn format_time(time_ms: u64) -> String {
    let secs = time_ms / 1000;
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        day_secs / 3600,
        day_secs / 60 % 60,
        day_secs % 60
    )
}

/// `   12  2026-11-27 15:04:05  warning   demo  exited with code 1`
pub(crate) fn human_line(event: &Event) -> String {
    format!(
        "{:>5}  {}  {:<8}  {:<12}  {}",
        event.seq,
        format_time(event.time_ms),
        event.severity.name(),
        event.capsule.as_deref().unwrap_or("-"),
        event.kind.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use exo_shell::sentry::{EventKind, Severity};

    #[test]
    fn times_are_utc_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_time(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(format_time(1_795_000_000_123), "2026-11-18 11:06:40");
    }

    #[test]
    fn lines_for_people() {
        let event = Event {
            seq: 12,
            time_ms: 0,
            capsule: Some("demo".into()),
            severity: Severity::Warning,
            kind: EventKind::CapsuleExited {
                code: Some(1),
                signal: None,
            },
        };
        assert_eq!(
            human_line(&event),
            "   12  1970-01-01 00:00:00  warning   demo          exited with code 1"
        );
        let action = EventKind::Action {
            action: exo_shell::sentry::ActionKind::Quarantine,
            by: "sentry".into(),
            reason: "crash loop".into(),
        };
        assert_eq!(action.describe(), "quarantine by sentry: crash loop");
        let signal = EventKind::CapsuleExited {
            code: None,
            signal: Some(9),
        };
        assert_eq!(signal.describe(), "killed by signal 9");
    }
}
