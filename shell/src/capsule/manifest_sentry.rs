//! The `[sentry]` table of `Capsule.toml`: the thresholds and actions of
//! [`crate::sentry::Thresholds`], with the same located errors as the rest of the manifest.
//! Unknown keys and actions suggest the name that was probably meant.

use std::ops::Range;

use toml_edit::TableLike;

use super::{fields, parse_percent, Field, ManifestError, Source};
use crate::capability::edit_distance;
use crate::sentry::thresholds::{
    action_name, allowed_actions, anomaly_name, Thresholds, ANOMALY_KINDS, POLICY_ACTIONS,
};

/// The keys of `[sentry]`, in the documented order.
const SENTRY_KEYS: [&str; 11] = [
    "crash_loop_exits",
    "crash_loop_secs",
    "memory_percent",
    "cpu_percent",
    "cpu_secs",
    "unresponsive_secs",
    "refused_count",
    "refused_secs",
    "refused_quarantine",
    "throttle_cpu",
    "actions",
];

/// The largest count or number of seconds a threshold takes (one day, or that many events).
const MAX_THRESHOLD: u32 = 86_400;

/// The candidate `name` was probably meant to be: a small edit away, or the only one it is the
/// start of (`"crash_loop"` for `"crash_loop_exits"` would be two, so none).
fn did_you_mean<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = name.trim().to_ascii_lowercase().replace(['-', ' ', '.'], "_");
    let (best, distance) = candidates
        .iter()
        .map(|&c| (c, edit_distance(&lower, c)))
        .min_by_key(|&(_, d)| d)?;
    if distance <= 2 + lower.len() / 4 {
        return Some(best);
    }
    let mut starting = candidates
        .iter()
        .filter(|c| !lower.is_empty() && c.starts_with(&lower));
    match (starting.next(), starting.next()) {
        (Some(&only), None) => Some(only),
        _ => None,
    }
}

/// `"unknown key (expected one of …)"`, with a suggestion when the key looks like a typo.
fn unknown_key(f: &Field<'_>, name: &str, candidates: &[&str]) -> ManifestError {
    let hint = did_you_mean(name, candidates)
        .map(|s| format!(", did you mean {s}?"))
        .unwrap_or_default();
    f.bad_key(format!(
        "unknown key{hint} (expected one of {})",
        candidates.join(", ")
    ))
}

/// An integer key from `min` to `max`.
fn integer(f: &Field<'_>, min: u32, max: u32) -> Result<u32, ManifestError> {
    let what = format!("an integer from {min} to {max}");
    let n = f.item.as_integer().ok_or_else(|| f.expected(&what))?;
    u32::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| f.bad_value(format!("expected {what}, found {}", f.written())))
}

/// Where a key was written, to report a conflict between two keys at the right one.
struct Written {
    key: String,
    span: Option<Range<usize>>,
}

fn written(f: &Field<'_>) -> Written {
    Written {
        key: f.key.clone(),
        span: f.item.span().or_else(|| f.key_span.clone()),
    }
}

/// Parses `[sentry]`; `cpus` bounds `throttle_cpu` as it bounds `resources.cpu_max`.
pub(super) fn parse_sentry<'a>(
    src: &'a Source<'a>,
    table: &'a dyn TableLike,
    cpus: u32,
) -> Result<Thresholds, ManifestError> {
    let mut t = Thresholds::default();
    let mut count_at = None;
    let mut quarantine_at = None;
    fields(src, "sentry", table, |name, f| {
        match name {
            "crash_loop_exits" => t.crash_loop_exits = integer(&f, 1, 1000)?,
            "crash_loop_secs" => t.crash_loop_secs = integer(&f, 1, MAX_THRESHOLD)?,
            "memory_percent" => t.memory_percent = integer(&f, 1, 100)?,
            "cpu_percent" => t.cpu_percent = integer(&f, 1, 100)?,
            "cpu_secs" => t.cpu_secs = integer(&f, 1, 3600)?,
            "unresponsive_secs" => t.unresponsive_secs = integer(&f, 1, 600)?,
            "refused_count" => {
                t.refused_count = integer(&f, 1, MAX_THRESHOLD)?;
                count_at = Some(written(&f));
            }
            "refused_secs" => t.refused_secs = integer(&f, 1, MAX_THRESHOLD)?,
            "refused_quarantine" => {
                t.refused_quarantine = integer(&f, 0, MAX_THRESHOLD)?;
                quarantine_at = Some(written(&f));
            }
            "throttle_cpu" => {
                let max = cpus.saturating_mul(100);
                let what = format!("a percentage like \"50%\" from 1% to {max}% (100% per CPU; {cpus} CPUs)");
                let text = f.string(&what)?;
                let percent = parse_percent(text).filter(|p| (1..=max).contains(p));
                t.throttle_cpu_percent =
                    percent.ok_or_else(|| f.bad_value(format!("expected {what}, found \"{text}\"")))?;
            }
            "actions" => parse_actions(src, &f, &mut t)?,
            _ => return Err(unknown_key(&f, name, &SENTRY_KEYS)),
        }
        Ok(())
    })?;

    if t.refused_quarantine != 0 && t.refused_quarantine <= t.refused_count {
        let (quarantine, count) = (t.refused_quarantine, t.refused_count);
        return Err(match (quarantine_at, count_at) {
            (Some(at), _) => src.invalid(
                at.span,
                &at.key,
                format!("expected 0 (never) or more than refused_count ({count}), found {quarantine}"),
            ),
            (None, Some(at)) => src.invalid(
                at.span,
                &at.key,
                format!(
                    "{count} is not less than refused_quarantine ({quarantine} by default); \
                     raise refused_quarantine, or set it to 0 to never quarantine"
                ),
            ),
            // Unreachable with the defaults (5 < 25); kept so a change there cannot panic.
            (None, None) => src.invalid(
                None,
                "sentry",
                "refused_quarantine must exceed refused_count".into(),
            ),
        });
    }
    Ok(t)
}

/// `[sentry.actions]`: `anomaly = "action"`.
fn parse_actions<'a>(src: &'a Source<'a>, f: &Field<'a>, t: &mut Thresholds) -> Result<(), ManifestError> {
    let table = f
        .item
        .as_table_like()
        .ok_or_else(|| f.expected("a table like { cpu_saturation = \"throttle\" }"))?;
    let kinds = ANOMALY_KINDS.map(anomaly_name);
    fields(src, "sentry.actions", table, |name, f| {
        let Some(kind) = ANOMALY_KINDS.into_iter().find(|&k| anomaly_name(k) == name) else {
            return Err(unknown_key(&f, name, &kinds));
        };
        let allowed: Vec<&str> = allowed_actions(kind).iter().map(|&a| action_name(a)).collect();
        let listed = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let why = if allowed.len() < POLICY_ACTIONS.len() {
            " (a crash-looping capsule is between restarts: there is nothing to restart, throttle or freeze)"
        } else {
            ""
        };
        let text = f.string(&format!("one of {listed}"))?;
        let Some(&action) = allowed_actions(kind).iter().find(|&&a| action_name(a) == text) else {
            let hint = did_you_mean(text, &allowed)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            return Err(f.bad_value(format!("expected one of {listed}{why}, found \"{text}\"{hint}")));
        };
        t.actions.set(kind, action);
        Ok(())
    })
}

#[cfg(test)]
#[path = "manifest_sentry_tests.rs"]
mod tests;
