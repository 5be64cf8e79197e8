//! The one source of "now" for the core: an injected [`Clock`].
//!
//! Logic never asks the operating system for the time itself. The shell passes a [`SystemClock`];
//! tests pass a [`ManualClock`] they can set and advance, so every timestamp a test sees is known.
//! The trait is the Graph client's own (`firebreak_graph::clock`), so one clock serves the case
//! store, the procedure and the client's waits.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

/// How far the tenant's clock and ours may disagree: a change the tenant stamps up to this many
/// minutes before a step started still counts as the step's, and a password changed within this
/// many minutes of the reset is the reset itself.
pub const CLOCK_SKEW_MINUTES: i64 = 10;

pub use firebreak_graph::clock::{Clock, SystemClock};

/// A clock shared between the parts of the application that need one.
pub type SharedClock = Arc<dyn Clock>;

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// A clock standing still at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock to `instant` (backwards too, to test clock skew).
    pub fn set(&self, instant: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = instant;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A wait on a manual clock is the clock moving on by that much, at once.
    fn sleep(&self, duration: std::time::Duration) -> futures_util::future::BoxFuture<'static, ()> {
        self.advance(Duration::from_std(duration).unwrap_or_else(|_| Duration::zero()));
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = DateTime::parse_from_rfc3339("2026-03-01T22:15:00Z")
            .expect("valid time")
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start, "a manual clock must not tick by itself");
        other.advance(Duration::minutes(5));
        assert_eq!(
            clock.now(),
            start + Duration::minutes(5),
            "clones share one time"
        );
        clock.set(start);
        assert_eq!(other.now(), start);
    }

    #[test]
    fn the_system_clock_is_close_to_now() {
        let delta = SystemClock.now() - Utc::now();
        assert!(delta.num_seconds().abs() < 5, "system clock off by {delta}");
    }
}
