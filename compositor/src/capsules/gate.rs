//! Global gating: every client sees exactly the globals its capability set allows, per the one
//! table in `exo_shell::gating`. Globals not in that table are hidden from everyone.

use exo_shell::{gating::client_may_see, CapabilitySet};
use smithay::reexports::wayland_server::Client;

use crate::state::ClientState;

/// The capabilities of a connected client (none for a client we did not insert).
pub fn client_caps(client: &Client) -> CapabilitySet {
    client
        .get_data::<ClientState>()
        .map(|data| data.caps())
        .unwrap_or_default()
}

/// A global filter for `interface`, for Smithay's `*State::new_with_filter` and our own globals.
pub fn filter_for(interface: &'static str) -> impl Fn(&Client) -> bool + Send + Sync + 'static {
    move |client: &Client| client_may_see(interface, client_caps(client))
}
