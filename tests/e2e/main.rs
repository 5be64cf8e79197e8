//! End-to-end tests: the real `firebreak` binary, driven through WebDriver (`tauri-driver` in front
//! of `WebKitWebDriver`) on a private Xvfb display.
//!
//! Each test gets its own display, driver and data directory, so tests cannot see each other's
//! cases or settings; everything is torn down when the test ends, pass or fail. The binary must be
//! built first (`make test` does it); `FIREBREAK_BIN` points at another build.

// This whole crate is test code: a failed setup step should stop the test with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

// Not every helper of the harness is used by every set of tests.
#[allow(dead_code)]
mod harness;

mod access;
mod blast;
mod cases;
mod declared;
mod home;
mod practice;
mod readiness;
mod report;
mod security;
