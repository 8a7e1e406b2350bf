//! Smithay protocol handlers, one file per protocol family.

mod activation;
mod compositor;
mod layer_shell;
mod output;
mod screencopy;
mod seat;
mod selection;
mod xdg_shell;
