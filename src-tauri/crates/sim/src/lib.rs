//! The simulated tenant: a real HTTP server on loopback that answers the requests Firebreak makes
//! with the paths, JSON shapes, status codes, paging and errors of Microsoft Graph, the Entra token
//! endpoint and the Exchange Online admin API.
//!
//! It owns the scenario format and the shipped scenarios ([`Scenario`]), the attacker who acts over
//! simulated time and reacts to the responder, faults on demand, and the `/_sim/` control endpoints
//! (action log, score, clock). It depends on none of Firebreak's crates — not even for wire types —
//! so that the client and the simulator are each held to Microsoft's description rather than to
//! each other.
//!
//! ```no_run
//! # async fn demo() -> Result<(), firebreak_sim::SimError> {
//! use firebreak_sim::{Scenario, SimOptions, SimServer};
//! let server = SimServer::start(Scenario::builtin("aitm")?, SimOptions::default()).await?;
//! println!("Graph at {}/v1.0, tenant {}", server.base_url(), server.tenant_id());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod attacker;
mod clock;
mod control;
mod described;
mod error;
mod exchange;
mod faults;
mod generator;
mod graph;
mod hybrid;
pub mod incident;
mod odata;
mod replication;
mod request_log;
mod scenario;
pub mod score;
mod server;
mod tenant;
mod token;

pub use described::documented_properties;
pub use error::SimError;
pub use faults::Faults;
pub use request_log::{LoggedRequest, CAPACITY as REQUEST_LOG_CAPACITY};
pub use scenario::Scenario;
pub use server::{SimOptions, SimServer};
