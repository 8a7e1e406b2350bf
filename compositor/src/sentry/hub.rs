//! The event hub: [`State::record_event`] is the one way an event enters Sentry. It numbers
//! the event and appends it to the event log. At the end of the event-loop iteration (or
//! before an `events` request is answered) [`Sentry::publish`] fsyncs the log once for every
//! event recorded since, and only then pushes them to every connection following events with
//! a matching filter. So whatever a client has seen is on disk, and a burst of events costs
//! one fsync, not one each.

use std::{path::Path, sync::Mutex};

use exo_shell::{
    control::{DashboardAction, Pushed},
    sentry::{log::EventLog, Event, EventKind, Severity},
};
use smithay::reexports::{
    calloop::channel::Sender,
    wayland_server::{backend::protocol::ProtocolError, Client},
};

use super::Sentry;
use crate::state::{ClientState, State};

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Sentry {
    /// Records an event: numbered and written now, published (after the fsync) at the end of
    /// this event-loop iteration. Usable where only the session (`Nexq`) is at hand; prefer
    /// [`State::record_event`].
    pub fn record(&mut self, capsule: Option<&str>, severity: Severity, kind: EventKind) -> Event {
        let (event, written) = self
            .log
            .append(now_ms(), capsule.map(str::to_owned), severity, kind);
        if let Err(err) = written {
            // The event is still kept in memory and published: losing it altogether would be
            // worse than an event that is not durable.
            tracing::error!(%err, seq = event.seq, log = ?self.log.path(), "cannot write the Sentry event log");
        }
        tracing::debug!(
            seq = event.seq,
            capsule = event.capsule.as_deref().unwrap_or("-"),
            kind = event.kind.name(),
            "sentry event"
        );
        self.unpublished.push(event.clone());
        if !self.publish_scheduled {
            self.publish_scheduled = true;
            self.handle.insert_idle(|state| state.nexq.sentry.publish());
        }
        event
    }

    /// Makes every recorded event durable (one fsync), then pushes each to its followers.
    pub fn publish(&mut self) {
        self.publish_scheduled = false;
        if self.unpublished.is_empty() {
            return;
        }
        if let Err(err) = self.log.sync() {
            tracing::error!(%err, log = ?self.log.path(), "cannot sync the Sentry event log");
        }
        for event in std::mem::take(&mut self.unpublished) {
            let line = Pushed::Event(event.clone()).to_line();
            for id in self.followers_of(&event) {
                self.push(id, &line);
            }
        }
    }
}

impl State {
    /// Records an event about `capsule` (`None`: the session or a host client). See the module
    /// documentation; this is the entry point for everything that feeds Sentry.
    pub fn record_event(&mut self, capsule: Option<&str>, severity: Severity, kind: EventKind) -> Event {
        let event = self.nexq.sentry.record(capsule, severity, kind);
        // The rules see it now; what they find is carried out after this iteration's work.
        self.sentry_observe(&event);
        event
    }

    /// Records an event about the capsule (or host client) on the other end of `client`.
    pub fn record_client_event(&mut self, client: &Client, severity: Severity, kind: EventKind) -> Event {
        let capsule = client
            .get_data::<ClientState>()
            .and_then(|d| d.identity.capsule.clone());
        self.record_event(capsule.as_deref(), severity, kind)
    }

    /// A client hit a per-client limit (`what`: `"windows"`, `"surfaces"`, `"shm_bytes"`,
    /// `"buffer_size"`); it is about to be disconnected.
    pub fn record_flood(&mut self, client: &Client, what: &str, count: u64, limit: u64) {
        let kind = EventKind::Flood {
            what: what.to_string(),
            count,
            limit,
        };
        self.record_client_event(client, Severity::Warning, kind);
    }

    /// Opens the event log at `path` (`None`: no file could be named; history stays in memory).
    /// Call before anything is recorded. A log that cannot be opened is a warning, not a reason
    /// to refuse the session.
    pub fn open_event_log(&mut self, path: Option<&Path>, max_bytes: u64) {
        let Some(path) = path else {
            tracing::warn!("no place for the Sentry event log (neither XDG_STATE_HOME nor HOME is set); events are kept in memory only");
            return;
        };
        match EventLog::open(path, max_bytes) {
            Ok((log, warnings)) => {
                for warning in warnings {
                    tracing::warn!("Sentry event log: {warning}");
                }
                tracing::info!(
                    log = %path.display(),
                    events = log.history().len(),
                    next_seq = log.next_seq(),
                    "Sentry event log opened"
                );
                self.nexq.sentry.log = log;
            }
            Err(err) => tracing::warn!(
                log = %path.display(),
                %err,
                "cannot open the Sentry event log; events are kept in memory only"
            ),
        }
    }

    /// Shows, hides or toggles the dashboard; records a `dashboard` event (which the dashboard
    /// client follows). Returns whether it is visible now.
    pub fn dashboard_set(&mut self, action: DashboardAction) -> bool {
        let visible = action.apply(self.nexq.sentry.dashboard_visible);
        self.nexq.sentry.dashboard_visible = visible;
        self.record_event(None, Severity::Info, EventKind::Dashboard { visible });
        visible
    }

    /// Turns X-ray on or off (`None` toggles). Returns whether it is on now.
    pub fn xray_set(&mut self, on: Option<bool>) -> bool {
        let on = on.unwrap_or(!self.nexq.xray);
        if on != self.nexq.xray {
            self.nexq.xray = on;
            tracing::info!(on, "x-ray");
            self.queue_redraw();
        }
        on
    }
}

/// An event a Wayland client's connection reports from outside the event loop's callbacks.
#[derive(Debug)]
pub struct Reported {
    pub capsule: String,
    pub severity: Severity,
    pub kind: EventKind,
}

/// Lets a capsule's Wayland connection report its protocol-error disconnection to the hub
/// (`ClientData::disconnected` has no access to the session). Unset for host clients.
#[derive(Default)]
pub struct ClientReporter(Mutex<Option<(String, Sender<Reported>)>>);

impl std::fmt::Debug for ClientReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let capsule = self.lock().as_ref().map(|(c, _)| c.clone());
        f.debug_tuple("ClientReporter").field(&capsule).finish()
    }
}

impl ClientReporter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(String, Sender<Reported>)>> {
        // A poisoned lock only means a panic elsewhere; the value is always valid.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports for `capsule` from now on.
    pub fn connect(&self, capsule: &str, sentry: &Sentry) {
        *self.lock() = Some((capsule.to_string(), sentry.reports.clone()));
    }

    /// The compositor is about to disconnect the client itself (capsule exit, a revoke): that
    /// is no protocol error of the client's.
    pub fn silence(&self) {
        *self.lock() = None;
    }

    /// The client (holding `caps`) was disconnected for a protocol error. A bind of a global
    /// it does not hold the capability for is a refused privileged request; anything else a
    /// protocol error.
    pub fn disconnected(&self, err: &ProtocolError, caps: exo_shell::CapabilitySet) {
        let Some((capsule, sender)) = self.lock().take() else {
            return;
        };
        let refused = err
            .message
            .strip_prefix("Invalid binding of ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(
                |interface| match exo_shell::gating::gate_for_interface(interface) {
                    Some(exo_shell::gating::Gate::Requires(cap)) if !caps.contains(cap) => {
                        Some((interface.to_string(), cap))
                    }
                    _ => None,
                },
            );
        let (severity, kind) = match refused {
            Some((what, cap)) => (
                Severity::Warning,
                EventKind::Refused {
                    what,
                    capability: cap.to_string(),
                },
            ),
            None => (
                Severity::Warning,
                EventKind::ProtocolError {
                    interface: err.object_interface.clone(),
                    code: err.code,
                    message: err.message.clone(),
                },
            ),
        };
        let _ = sender.send(Reported {
            capsule,
            severity,
            kind,
        });
    }
}
