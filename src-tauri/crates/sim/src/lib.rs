//! The simulated tenant: a real HTTP server on loopback that answers the requests Firebreak makes
//! with the paths, JSON shapes, status codes, paging and errors of Microsoft Graph, the Entra token
//! endpoint and the Exchange Online admin API.
//!
//! It will own the scenario format and the shipped scenarios, the attacker who acts over simulated
//! time and reacts to the responder, faults on demand, and the `/_sim/` control endpoints (action
//! log, score, clock). It depends on none of Firebreak's crates — not even for wire types — so that
//! the client and the simulator are each held to Microsoft's description rather than to each other.
