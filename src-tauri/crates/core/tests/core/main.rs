//! Integration tests of `firebreak-core` through its public API, on real files in temporary
//! folders. Some tests re-run this test binary as a child process (selected by an environment
//! variable) to crash it on purpose or to measure its memory on its own.

// Helpers outside `#[test]` functions may panic too: a panic there is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod apps;
mod attribution;
mod blast;
mod bundle;
mod cases;
mod entra_writes;
mod evidence;
mod exchange;
mod generated;
mod identity_protection;
mod keychain;
mod mailbox;
mod practice;
mod practice_crash;
mod recovery;
mod report;
mod roles;
mod support;
mod tenant_connection;
