//! Data control, wlr (zwlr_data_control_manager_v1) and ext (ext_data_control_manager_v1): a
//! clipboard manager reads and sets the clipboard and primary selection whoever has focus.
//! Gated by `clipboard.manage`; the ordinary data device still offers the selection only to the
//! focused client.

use smithay::{
    delegate_data_control, delegate_ext_data_control,
    reexports::wayland_server::DisplayHandle,
    wayland::selection::{ext_data_control, primary_selection::PrimarySelectionState, wlr_data_control},
};

use crate::{capsules::gate::filter_for, state::State};

impl wlr_data_control::DataControlHandler for State {
    fn data_control_state(&self) -> &wlr_data_control::DataControlState {
        &self.nexq.wlr_data_control_state
    }
}

impl ext_data_control::DataControlHandler for State {
    fn data_control_state(&self) -> &ext_data_control::DataControlState {
        &self.nexq.ext_data_control_state
    }
}

delegate_data_control!(State);
delegate_ext_data_control!(State);

/// Both data-control globals, visible to clients with `clipboard.manage`; they reach the primary
/// selection too.
pub fn create(
    dh: &DisplayHandle,
    primary: &PrimarySelectionState,
) -> (
    wlr_data_control::DataControlState,
    ext_data_control::DataControlState,
) {
    (
        wlr_data_control::DataControlState::new::<State, _>(
            dh,
            Some(primary),
            filter_for("zwlr_data_control_manager_v1"),
        ),
        ext_data_control::DataControlState::new::<State, _>(
            dh,
            Some(primary),
            filter_for("ext_data_control_manager_v1"),
        ),
    )
}

/// A live grant of `clipboard.manage`: new globals (announced to every client that may now see
/// them), the old ones removed.
pub fn reannounce(state: &mut State) {
    let dh = state.nexq.display_handle.clone();
    let (wlr, ext) = create(&dh, &state.nexq.primary_selection_state);
    let old_wlr = std::mem::replace(&mut state.nexq.wlr_data_control_state, wlr);
    let old_ext = std::mem::replace(&mut state.nexq.ext_data_control_state, ext);
    dh.remove_global::<State>(old_wlr.global());
    dh.remove_global::<State>(old_ext.global());
}
