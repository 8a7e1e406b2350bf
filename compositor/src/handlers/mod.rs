//! Smithay protocol handlers, one file per protocol family.

mod activation;
mod compositor;
pub(crate) mod data_control;
pub(crate) mod foreign_toplevel;
pub(crate) mod input_method;
mod layer_shell;
pub(crate) mod manager_selection;
mod output;
pub use output::OutputGlobal;
mod protocol_fixes;
mod screencopy;
mod seat;
mod selection;
pub(crate) mod session_lock;
pub(crate) mod shortcuts_inhibit;
pub(crate) mod text_input;
mod unconfigured_buffer;
pub(crate) mod virtual_keyboard;
mod xdg_shell;

use smithay::{
    reexports::wayland_server::{backend::GlobalId, DisplayHandle},
    wayland::{
        foreign_toplevel_list::ForeignToplevelListState,
        input_method::InputMethodManagerState,
        keyboard_shortcuts_inhibit::KeyboardShortcutsInhibitState,
        selection::{ext_data_control, primary_selection::PrimarySelectionState, wlr_data_control},
        session_lock::SessionLockManagerState,
        virtual_keyboard::VirtualKeyboardManagerState,
    },
};

/// The privileged globals (gated by capabilities beyond `display.window`) with their states.
pub(crate) struct PrivilegedGlobals {
    pub wlr_data_control: wlr_data_control::DataControlState,
    pub ext_data_control: ext_data_control::DataControlState,
    pub virtual_keyboard: VirtualKeyboardManagerState,
    pub input_method: InputMethodManagerState,
    pub foreign_toplevel: ForeignToplevelListState,
    pub session_lock: SessionLockManagerState,
    pub session_lock_global: GlobalId,
    pub shortcuts_inhibit: KeyboardShortcutsInhibitState,
}

impl PrivilegedGlobals {
    pub fn new(dh: &DisplayHandle, primary: &PrimarySelectionState) -> Self {
        let (wlr_data_control, ext_data_control) = data_control::create(dh, primary);
        let (session_lock, session_lock_global) = session_lock::create(dh);
        Self {
            wlr_data_control,
            ext_data_control,
            virtual_keyboard: virtual_keyboard::create(dh),
            input_method: input_method::create(dh),
            foreign_toplevel: foreign_toplevel::create(dh),
            session_lock,
            session_lock_global,
            shortcuts_inhibit: shortcuts_inhibit::create(dh),
        }
    }
}
