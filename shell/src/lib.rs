//! Exosphere session policy, independent of any display server library:
//! configuration, key bindings, floating window layout, capsule manifests,
//! the capability vocabulary and which Wayland globals it gates, the control
//! socket protocol, and the `exoctl` client. Everything here is plain data and
//! functions, tested without a display.

pub mod backoff;
pub mod capability;
pub mod capsule;
pub mod config;
pub mod control;
pub mod gating;
pub mod geometry;
pub mod keys;
pub mod layer_layout;
pub mod layout;
pub mod sentry;

pub use capability::{Capability, CapabilitySet};
pub use config::{Color, Config, ConfigError};
pub use geometry::{Point, Rect, Size};
pub use keys::{Action, Bindings, KeyCombo, Modifiers};
pub use layout::Layout;
