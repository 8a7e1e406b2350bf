//! Capsules: supervised programs with exactly the capabilities their
//! manifest declares.
//!
//! This module holds the pure parts the supervisor in the compositor uses:
//! the manifest format ([`manifest`]), where manifests are found
//! ([`discovery`]), the restart policy ([`restart`]), what `exoctl capsules`
//! reports ([`status`]), label colours ([`color`]) and title sanitising for
//! trusted labels ([`title`]). See `docs/capsules.md`.

pub mod color;
pub mod discovery;
pub mod manifest;
pub mod restart;
pub mod status;
pub mod title;

pub use color::derived_color;
pub use discovery::{discover, CapsuleDirs, Discovered};
pub use manifest::{Manifest, ManifestError, Resources};
pub use restart::{ExitFailure, ExitKind, RestartDecision, RestartPolicy, RestartTracker};
pub use status::{CapsuleInfo, CapsuleStatus};
pub use title::{label_text, sanitize_title};
