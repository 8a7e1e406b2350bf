//! Nexquelium: the Exosphere Wayland compositor and session supervisor (mechanism; the policy
//! lives in `exo_shell`).

pub mod backend;
pub mod capsules;
pub mod cli;
pub mod clipboard;
pub mod control;
pub mod culling;
pub mod cursor;
pub mod focus;
pub mod grabs;
mod handlers;
mod imported;
pub mod init;
pub mod input;
pub mod keyboard_map;
pub mod labels;
pub mod layers;
pub mod limits;
pub mod outputs;
pub mod protocols;
pub mod redraw;
pub mod reload;
pub mod render;
pub mod replaced;
pub mod run;
pub mod screencopy_queue;
pub mod sentry;
pub mod spawn;
pub mod state;
pub mod windows;
