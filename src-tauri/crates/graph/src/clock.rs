//! Time, passed in: the current instant and a way to wait. Token expiry, `Retry-After` dates,
//! backoff waits, device-code polling and audit-query polling all go through it, so tests can run
//! them without waiting for real.

use std::{fmt::Debug, time::Duration};

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

/// The source of "now" and of waiting.
pub trait Clock: Send + Sync + Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
