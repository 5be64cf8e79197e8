//! The client against the simulated tenant over real loopback HTTP: every operation, paging across
//! many pages, throttling storms, token refresh after a 401, 403s that name the permission,
//! sign-in with a secret, a certificate and a device code, and cancellation.

// This whole binary is test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod applications;
mod auth;
mod directory;
mod exchange;
mod logs;
mod mail;
mod methods;
mod resilience;
mod security;
mod support;
