//! Wayland protocols that Smithay 0.7 does not provide, written here.
pub mod screencopy;
