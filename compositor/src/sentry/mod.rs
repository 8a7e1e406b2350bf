//! Sentry in the compositor: the event hub (`hub`: every event is numbered, written to the
//! event log and fsync'd, then pushed to the connections that follow events), the control
//! connections that carry replies and pushed lines without ever blocking the event loop
//! (`conn`: the user's socket connections and the capsules' control channels alike), and the
//! resource sampler that runs only while someone watches (`sample`), and the agent: the rules
//! fed with every event and sample and the actions they call for (`agent`), OOM notifications
//! (`oom`) and pings of focused capsule windows (`ping`).
//!
//! The policy — the event types, the log file format, the rules — lives in `exo_shell::sentry`.

pub mod agent;
pub mod conn;
pub mod hub;
pub mod oom;
pub mod ping;
pub mod sample;

use std::collections::HashMap;

use exo_shell::sentry::log::EventLog;
use smithay::reexports::calloop::{channel::Sender, LoopHandle};

pub use conn::{ConnId, Peer};
pub use hub::{ClientReporter, Reported};

use crate::state::State;

/// Sentry's state in the compositor.
pub struct Sentry {
    /// The event log: history and the file events are written to before they are published.
    pub log: EventLog,
    /// Open control connections (socket and capsule channels), by id.
    conns: HashMap<ConnId, conn::Conn>,
    next_conn: ConnId,
    handle: LoopHandle<'static, State>,
    /// Events reported from outside the event loop's callbacks (a Wayland client's
    /// disconnection), recorded when the loop next runs.
    reports: Sender<Reported>,
    /// Recorded, not yet synced and pushed (see [`Sentry::publish`]).
    unpublished: Vec<exo_shell::sentry::Event>,
    publish_scheduled: bool,
    /// Whether the dashboard is shown; it starts visible.
    pub dashboard_visible: bool,
    pub sampler: sample::Sampler,
    /// The rules and the state of the actions they take.
    pub agent: agent::Agent,
}

impl Sentry {
    /// An in-memory event log until [`State::open_event_log`] opens the file.
    pub fn new(handle: LoopHandle<'static, State>) -> Sentry {
        let (reports, channel) = smithay::reexports::calloop::channel::channel::<Reported>();
        let inserted = handle.insert_source(channel, |event, _, state| {
            if let smithay::reexports::calloop::channel::Event::Msg(r) = event {
                state.record_event(Some(&r.capsule), r.severity, r.kind);
            }
        });
        if let Err(err) = inserted {
            tracing::warn!(%err, "cannot watch Sentry reports from Wayland clients");
        }
        Sentry {
            log: EventLog::in_memory(),
            conns: HashMap::new(),
            next_conn: 0,
            handle,
            reports,
            unpublished: Vec::new(),
            publish_scheduled: false,
            dashboard_visible: true,
            sampler: sample::Sampler::default(),
            agent: agent::Agent::default(),
        }
    }
}
