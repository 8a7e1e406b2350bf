//! The Sentry dashboard: a Wayland client (smithay-client-toolkit, wlr-layer-shell) that draws
//! a panel, the dashboard overlay and a launcher with egui on the CPU into wl_shm buffers, fed
//! by the compositor's control protocol (v2). See `docs/sentry-dashboard.md`.

pub mod app;
pub mod clock;
pub mod control;
pub mod input;
pub mod model;
pub mod render;
pub mod surface;
pub mod ui;
pub mod wayland;
