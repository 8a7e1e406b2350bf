//! The panel clock: local wall-clock time to the minute, and when the next minute starts (the
//! only moment an idle panel needs to redraw).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Local time broken down, as the panel shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    pub weekday: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl LocalTime {
    /// The local time at `secs` since the epoch (the C library's idea of the time zone: `TZ`,
    /// else `/etc/localtime`, else UTC).
    pub fn at(secs: i64) -> LocalTime {
        let t: libc::time_t = secs as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value; localtime_r writes into it and only reads
        // `t`; both live for the whole call.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if !ok {
            return LocalTime::utc(secs);
        }
        LocalTime {
            weekday: tm.tm_wday.clamp(0, 6) as u8,
            hour: tm.tm_hour.clamp(0, 23) as u8,
            minute: tm.tm_min.clamp(0, 59) as u8,
            second: tm.tm_sec.clamp(0, 60) as u8,
        }
    }

    fn utc(secs: i64) -> LocalTime {
        let day_secs = secs.rem_euclid(86_400);
        // 1970-01-01 was a Thursday.
        let weekday = (secs.div_euclid(86_400) + 4).rem_euclid(7);
        LocalTime {
            weekday: weekday as u8,
            hour: (day_secs / 3600) as u8,
            minute: ((day_secs % 3600) / 60) as u8,
            second: (day_secs % 60) as u8,
        }
    }

    pub fn now() -> LocalTime {
        LocalTime::at(unix_now().as_secs() as i64)
    }

    /// `Tue 14:03`.
    pub fn text(&self) -> String {
        format!(
            "{} {:02}:{:02}",
            WEEKDAYS[self.weekday as usize % 7],
            self.hour,
            self.minute
        )
    }

    /// `14:03:59`.
    pub fn hms(&self) -> String {
        format!("{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// Time since the Unix epoch (zero for a clock set before it).
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// How long until the wall clock reaches the next whole minute, from `since_epoch`. Time zones
/// shift by whole minutes (in practice by quarter hours), so this is a local minute too.
pub fn until_next_minute(since_epoch: Duration) -> Duration {
    let into_minute = Duration::from_nanos((since_epoch.as_nanos() % 60_000_000_000) as u64);
    // A little slack so the timer fires after the minute has turned, never just before.
    Duration::from_secs(60) - into_minute + Duration::from_millis(5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_minute_is_at_most_a_minute_away() {
        assert_eq!(
            until_next_minute(Duration::from_secs(120)),
            Duration::from_millis(60_005)
        );
        assert_eq!(
            until_next_minute(Duration::from_millis(179_500)),
            Duration::from_millis(505)
        );
    }

    #[test]
    fn utc_fallback_breaks_down_the_epoch() {
        let t = LocalTime::utc(86_400 * 5 + 3600 * 13 + 60 * 7 + 59);
        assert_eq!(t.text(), "Tue 13:07");
        assert_eq!(t.hms(), "13:07:59");
    }

    #[test]
    fn local_time_has_minutes() {
        let t = LocalTime::now();
        assert!(t.hour < 24 && t.minute < 60);
        assert_eq!(t.text().len(), "Tue 14:03".len());
    }
}
