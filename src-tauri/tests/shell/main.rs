//! Integration tests of the `firebreak` executable itself, run as a separate process.

// Helpers outside `#[test]` functions may panic too: a panic there is the failure report.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod cli;
mod runbook;
