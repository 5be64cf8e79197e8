//! Conformance tests of the simulated tenant, over real loopback HTTP: every Graph response is
//! validated against Microsoft's OpenAPI description as it arrives; every operation of
//! spec/graph/endpoints.md §6 is exercised across the shipped scenarios; and the behaviours the app relies on
//! (paging, filters, permissions, token flows, faults, the Exchange cmdlets, the attacker, the
//! score, the generated large tenant) are checked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod applications;
mod attacker;
mod attribution_data;
mod entra_writes;
mod exchange;
mod expected;
mod faults;
mod harness;
mod identity_protection;
mod large;
mod operations;
mod queries;
mod registrations;
mod requests;
mod roles;
mod schema;
mod strict;
mod tokens;
