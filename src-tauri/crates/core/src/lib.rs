//! Firebreak's domain: everything the application knows about an incident and how to respond to it.
//!
//! This crate will own cases and their append-only journal, the evidence store and bundle, the
//! procedure engine (triage, containment, blast radius, recovery), findings and the reports. It
//! reaches the tenant only through `firebreak-graph` and never depends on Tauri, so every rule it
//! enforces can be tested without a window.

pub mod app_info;
pub mod attribution;
pub mod bundle;
pub mod case;
pub mod clock;
pub mod communication;
pub mod error;
pub mod organisation;
pub mod paths;
pub mod practice;
pub mod procedure;
pub mod readiness;
pub mod report;
pub(crate) mod routine;
pub mod scope;
pub mod sweep;
pub mod tenant;
pub mod vault;
pub mod watch;

pub use error::Error;
