//! The simulated clock: starts at the scenario's "now", moves when `/_sim/clock` advances it and,
//! when a rate is set, with real time (rate = simulated seconds per real second).

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};

/// The simulator's own notion of the current time.
pub(crate) struct Clock {
    start: DateTime<Utc>,
    rate: f64,
    real_start: Instant,
    offset: Mutex<Duration>,
}

impl Clock {
    pub(crate) fn new(start: DateTime<Utc>, rate: f64) -> Self {
        Self {
            start,
            rate: if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                0.0
            },
            real_start: Instant::now(),
            offset: Mutex::new(Duration::zero()),
        }
    }

    /// The current simulated time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let real = if self.rate > 0.0 {
            let millis = self.real_start.elapsed().as_secs_f64() * self.rate * 1000.0;
            Duration::milliseconds(millis as i64)
        } else {
            Duration::zero()
        };
        self.start + offset + real
    }

    /// Moves the simulated time forward (never backward).
    pub(crate) fn advance(&self, by: Duration) {
        if by > Duration::zero() {
            let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
            *offset += by;
        }
    }
}

/// A moment marked on both clocks, for the service's own pacing (a rate limit, an asynchronous
/// job): the time since it is what passed on the simulated clock or in reality, whichever is more.
/// A test with a frozen clock that really waits, and a headless run whose waits only move the
/// simulated clock, both see time pass, as a client of the real service would.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    simulated: DateTime<Utc>,
    real: Instant,
}

impl Mark {
    /// Marks `now` (the simulated time) and the real instant.
    pub(crate) fn at(now: DateTime<Utc>) -> Self {
        Self {
            simulated: now,
            real: Instant::now(),
        }
    }

    /// The time since the mark at simulated time `now`.
    pub(crate) fn elapsed(&self, now: DateTime<Utc>) -> Duration {
        let simulated = now - self.simulated;
        let real = Duration::from_std(self.real.elapsed()).unwrap_or_else(|_| Duration::zero());
        simulated.max(real)
    }
}

/// Formats a time the way Graph writes `DateTimeOffset` values: UTC with a `Z`, whole seconds.
pub(crate) fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a Graph/ISO 8601 date-time (with offset or `Z`).
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let start = parse_time("2025-03-12T23:50:00Z").unwrap();
        let clock = Clock::new(start, 0.0);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(graph_time(clock.now()), "2025-03-12T23:55:00Z");
        clock.advance(Duration::minutes(-5));
        assert_eq!(
            graph_time(clock.now()),
            "2025-03-12T23:55:00Z",
            "never goes backward"
        );
    }

    #[test]
    fn parses_times_with_and_without_offset() {
        assert!(parse_time("2024-06-11T08:47:25").is_some());
        assert_eq!(
            parse_time("2024-06-11T10:47:25+02:00")
                .map(graph_time)
                .as_deref(),
            Some("2024-06-11T08:47:25Z")
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn a_mark_counts_the_simulated_time_that_passed() {
        let start = parse_time("2025-03-12T23:50:00Z").unwrap();
        let mark = Mark::at(start);
        assert!(mark.elapsed(start) < Duration::seconds(1));
        assert_eq!(
            mark.elapsed(start + Duration::seconds(30)),
            Duration::seconds(30)
        );
    }
}
