//! Capsules: supervised programs with exactly the capabilities their manifest grants.
//! `gate` decides which globals a client sees, `confine` applies what the kernel offers
//! (uid, namespaces, cgroups), `supervisor` starts, restarts and stops them.

pub mod confine;
pub mod gate;
pub mod home;
pub mod launch;
pub mod supervisor;
