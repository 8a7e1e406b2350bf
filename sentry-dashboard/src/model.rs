//! What the dashboard knows about the session: capsules, windows, the event feed, resource
//! samples and the alert count. Filled from the control channel's replies and pushed lines;
//! plain data with no Wayland or egui in it, so it is tested on its own.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use exo_shell::capsule::CapsuleStatus;
use exo_shell::control::WindowInfo;
use exo_shell::sentry::event::{Event, EventKind, Sample};
use exo_shell::{Capability, CapabilitySet};
use serde::Deserialize;

/// How many events the feed keeps (the newest).
pub const FEED_LEN: usize = 300;
/// How many samples each sparkline keeps (one a second: two minutes).
pub const SERIES_LEN: usize = 120;
/// How many workspaces the panel shows at least.
pub const MIN_WORKSPACES: u8 = 4;

/// One capsule as the `capsules` reply lists it. Read leniently (unknown fields are ignored,
/// `quarantined` may be absent) so the dashboard keeps working while the protocol grows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CapsuleRow {
    pub name: String,
    pub status: CapsuleStatus,
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub uptime_s: Option<u64>,
    #[serde(default)]
    pub restarts: u32,
    #[serde(default)]
    pub capabilities: CapabilitySet,
    #[serde(default)]
    pub confinement: String,
    #[serde(default)]
    pub color: String,
    #[serde(default)]
    pub source: String,
    /// Stopped by Sentry with its capabilities revoked until a person releases it (v2).
    #[serde(default)]
    pub quarantined: bool,
}

impl CapsuleRow {
    pub fn is_running(&self) -> bool {
        matches!(self.status, CapsuleStatus::Running { .. })
    }

    /// Running or about to be restarted: what "stop" applies to.
    pub fn is_active(&self) -> bool {
        matches!(
            self.status,
            CapsuleStatus::Running { .. } | CapsuleStatus::Backoff { .. }
        )
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self.status, CapsuleStatus::Invalid { .. })
    }

    /// The label colour as RGB; a grey for a missing or malformed colour.
    pub fn rgb(&self) -> [u8; 3] {
        parse_hex_color(&self.color).unwrap_or([0x60, 0x60, 0x60])
    }

    /// The state in words for the table: `running`, `exited (code 1)`, `backoff (0.4 s)`, …
    pub fn state_text(&self) -> String {
        let base = match &self.status {
            CapsuleStatus::Stopped => "stopped".to_string(),
            CapsuleStatus::Running { .. } => "running".to_string(),
            CapsuleStatus::Backoff { restart_in_ms } => {
                format!("backoff ({:.1} s)", *restart_in_ms as f64 / 1000.0)
            }
            CapsuleStatus::Exited { code: Some(c), .. } => format!("exited ({c})"),
            CapsuleStatus::Exited { signal: Some(s), .. } => format!("killed (signal {s})"),
            CapsuleStatus::Exited { .. } => "exited".to_string(),
            CapsuleStatus::Failed { .. } => "failed".to_string(),
            CapsuleStatus::Invalid { .. } => "invalid".to_string(),
        };
        if self.quarantined {
            format!("{base}, quarantined")
        } else {
            base
        }
    }

    /// Why it failed or is invalid, for a hover text.
    pub fn state_detail(&self) -> Option<&str> {
        match &self.status {
            CapsuleStatus::Failed { reason } => Some(reason),
            CapsuleStatus::Invalid { error } => Some(error),
            _ => None,
        }
    }
}

/// `#rrggbb` to RGB.
pub fn parse_hex_color(text: &str) -> Option<[u8; 3]> {
    let hex = text.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// The short badge text of a capability: `layer` for `display.layer`, `net` for `net.connect`.
pub fn badge(capability: Capability) -> &'static str {
    match capability {
        Capability::DisplayWindow => "window",
        Capability::DisplayLayer => "layer",
        Capability::DisplayFullscreen => "fullscreen",
        Capability::DisplayCapture => "capture",
        Capability::DisplayToplevels => "toplevels",
        Capability::DisplayOutput => "output",
        Capability::DisplayLock => "lock",
        Capability::InputInject => "inject",
        Capability::InputMethod => "im",
        Capability::InputInhibit => "inhibit",
        Capability::ClipboardManage => "clipboard",
        Capability::SentryObserve => "observe",
        Capability::SentryControl => "control",
        Capability::NetConnect => "net",
    }
}

/// One capsule's recent resource samples.
#[derive(Debug, Clone, Default)]
pub struct SampleSeries {
    /// `[seconds, MiB]`, oldest first.
    pub memory: VecDeque<[f64; 2]>,
    /// `[seconds, percent of one CPU]`, oldest first.
    pub cpu: VecDeque<[f64; 2]>,
    pub last: Option<Sample>,
}

impl SampleSeries {
    fn push(&mut self, sample: Sample, origin_ms: u64) {
        let t = sample.time_ms.saturating_sub(origin_ms) as f64 / 1000.0;
        push_bounded(
            &mut self.memory,
            [t, sample.memory_bytes as f64 / MIB],
            SERIES_LEN,
        );
        push_bounded(&mut self.cpu, [t, sample.cpu_percent], SERIES_LEN);
        self.last = Some(sample);
    }
}

const MIB: f64 = 1024.0 * 1024.0;

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T, cap: usize) {
    if queue.len() == cap {
        queue.pop_front();
    }
    queue.push_back(item);
}

/// Whether the compositor serves a request of protocol v2 (unknown until it answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Availability {
    #[default]
    Unknown,
    Yes,
    No,
}

/// Which v2 requests this compositor serves.
#[derive(Debug, Clone, Copy, Default)]
pub struct Support {
    pub events: Availability,
    /// The window list is pushed when it changes (`windows` with `follow`).
    pub window_updates: Availability,
    pub samples: Availability,
    pub dashboard: Availability,
}

/// What an incoming event asks the application to do besides redrawing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventEffect {
    /// The event changes a capsule's state: ask for `capsules` again.
    pub refresh_capsules: bool,
    /// A `dashboard` event: show or hide the overlay.
    pub dashboard: Option<bool>,
    /// The launcher key was pressed.
    pub launcher_toggle: bool,
}

/// Everything the panel, dashboard and launcher draw.
#[derive(Debug)]
pub struct Model {
    pub capsules: Vec<CapsuleRow>,
    /// When `capsules` was answered: running capsules' uptime counts on from there.
    capsules_at: Option<Instant>,
    pub windows: Vec<WindowInfo>,
    /// The newest [`FEED_LEN`] events, oldest first.
    pub events: VecDeque<Event>,
    pub samples: BTreeMap<String, SampleSeries>,
    /// Anomalies since the dashboard started.
    pub alerts: u32,
    /// The workspace shown: the focused window's, else the last one known.
    pub current_workspace: u8,
    pub support: Support,
    /// Whether a control channel exists at all.
    pub connected: bool,
    /// The last failed request, shown in the dashboard until the next success.
    pub last_error: Option<String>,
    /// Wall-clock start (ms since the epoch): anomalies after it count as alerts, and the
    /// sparklines' time axis starts there.
    start_ms: u64,
    last_seq: Option<u64>,
    /// The capsule this process is (`EXOSPHERE_CAPSULE`), so its own row can say so.
    pub own_capsule: Option<String>,
}

impl Model {
    pub fn new(start_ms: u64) -> Model {
        Model {
            capsules: Vec::new(),
            capsules_at: None,
            windows: Vec::new(),
            events: VecDeque::new(),
            samples: BTreeMap::new(),
            alerts: 0,
            current_workspace: 1,
            support: Support::default(),
            connected: false,
            last_error: None,
            start_ms,
            last_seq: None,
            own_capsule: None,
        }
    }

    /// Replaces the capsule list; returns whether anything shown changed.
    pub fn set_capsules(&mut self, capsules: Vec<CapsuleRow>, now: Instant) -> bool {
        self.capsules_at = Some(now);
        // Forget the sparklines of capsules that stopped or no longer exist.
        self.samples
            .retain(|name, _| capsules.iter().any(|c| &c.name == name && c.is_active()));
        let changed = strip_uptime(&capsules) != strip_uptime(&self.capsules);
        self.capsules = capsules;
        changed
    }

    /// Replaces the window list; returns whether anything the panel shows changed.
    pub fn set_windows(&mut self, windows: Vec<WindowInfo>) -> bool {
        let before = (self.panel_view(), self.current_workspace);
        self.windows = windows;
        if let Some(focused) = self.focused_window() {
            self.current_workspace = focused.workspace;
        }
        before != (self.panel_view(), self.current_workspace)
    }

    /// What the panel draws from the window list.
    fn panel_view(&self) -> (Option<(Option<String>, String)>, Vec<u8>) {
        let focused = self
            .focused_window()
            .map(|w| (w.capsule.clone(), w.title.clone()));
        (focused, self.workspaces())
    }

    pub fn focused_window(&self) -> Option<&WindowInfo> {
        self.windows.iter().find(|w| w.focused)
    }

    pub fn capsule(&self, name: &str) -> Option<&CapsuleRow> {
        self.capsules.iter().find(|c| c.name == name)
    }

    /// The workspace numbers to show: 1 to at least [`MIN_WORKSPACES`], more when windows live
    /// on higher ones.
    pub fn workspaces(&self) -> Vec<u8> {
        let highest = self
            .windows
            .iter()
            .map(|w| w.workspace)
            .chain([MIN_WORKSPACES, self.current_workspace])
            .max()
            .unwrap_or(MIN_WORKSPACES)
            .min(9);
        (1..=highest).collect()
    }

    /// Whether any window lives on workspace `n`.
    pub fn workspace_has_windows(&self, n: u8) -> bool {
        self.windows.iter().any(|w| w.workspace == n)
    }

    /// A capsule's uptime now, counting on from when `capsules` was answered.
    pub fn uptime_s(&self, row: &CapsuleRow, now: Instant) -> Option<u64> {
        let base = row.uptime_s?;
        if !row.is_running() {
            return Some(base);
        }
        let since = self
            .capsules_at
            .map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        Some(base + since.as_secs())
    }

    /// Adds events (history or pushed); returns what they ask for. Repeated sequence numbers
    /// (history overlapping a follow) are dropped.
    pub fn push_events(&mut self, events: impl IntoIterator<Item = Event>) -> EventEffect {
        let mut effect = EventEffect::default();
        for event in events {
            if self.last_seq.is_some_and(|last| event.seq <= last) {
                continue;
            }
            self.last_seq = Some(event.seq);
            match &event.kind {
                EventKind::Anomaly { .. } if event.time_ms >= self.start_ms => self.alerts += 1,
                EventKind::Dashboard { visible } => effect.dashboard = Some(*visible),
                EventKind::Launcher => effect.launcher_toggle = true,
                _ => {}
            }
            effect.refresh_capsules |= changes_capsule_state(&event.kind);
            push_bounded(&mut self.events, event, FEED_LEN);
        }
        effect
    }

    pub fn push_sample(&mut self, sample: Sample) {
        let origin = self.start_ms;
        self.samples
            .entry(sample.capsule.clone())
            .or_default()
            .push(sample, origin);
    }

    /// Anomalies in the feed whose capsule is `name` and that are newer than its last start.
    pub fn recent_anomalies(&self, name: &str) -> usize {
        let mut count = 0;
        for event in self.events.iter().rev() {
            if event.capsule.as_deref() != Some(name) {
                continue;
            }
            match event.kind {
                EventKind::CapsuleStarted { .. } => break,
                EventKind::Anomaly { .. } => count += 1,
                _ => {}
            }
        }
        count
    }
}

/// The capsule list without the ever-growing uptime, to tell real changes from the clock.
fn strip_uptime(capsules: &[CapsuleRow]) -> Vec<CapsuleRow> {
    capsules
        .iter()
        .map(|c| CapsuleRow {
            uptime_s: None,
            ..c.clone()
        })
        .collect()
}

/// Whether an event of this kind means `capsules` now says something else.
fn changes_capsule_state(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::CapsuleStarted { .. }
            | EventKind::CapsuleExited { .. }
            | EventKind::CapsuleRestarting { .. }
            | EventKind::CapsuleFailed { .. }
            | EventKind::CapsuleStopped { .. }
            | EventKind::Action { .. }
    )
}

/// One line of the event feed, for people: `exited with code 1`, `anomaly crash loop: …`.
pub fn describe(kind: &EventKind) -> String {
    kind.describe()
}

/// `5s`, `3m12s`, `1h02m`, `2d03h` (as `exoctl capsules` prints uptimes, plus days).
pub fn format_uptime(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `512 B`, `12.3 KiB`, `1.5 MiB`, `2.0 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < MIB {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < MIB * 1024.0 {
        format!("{:.1} MiB", b / MIB)
    } else {
        format!("{:.1} GiB", b / MIB / 1024.0)
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
