//! How long start-up took: the moment `main` began, and the UI's report that its home screen is
//! mounted. The time between is logged once per run; with `--bench-startup` (or
//! `FIREBREAK_BENCH_STARTUP=1`) it is also printed as `firebreak-ui-ready ms=<elapsed>` and the
//! application exits, so `make bench` can time start-up and read the process tree's peak memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The line printed for the benchmark, before ` ms=<elapsed>`.
pub const READY_LINE: &str = "firebreak-ui-ready";

/// Start-up timing of this run.
#[derive(Debug)]
pub struct Startup {
    launched: Instant,
    bench: bool,
    reported: AtomicBool,
}

impl Startup {
    /// Timing from `launched` (taken first thing in `main`); `bench` when started to be measured.
    pub fn new(launched: Instant, bench: bool) -> Self {
        Self {
            launched,
            bench,
            reported: AtomicBool::new(false),
        }
    }

    /// The time from launch to the UI's first ready report; `None` on later reports (a reload).
    pub fn ui_ready(&self) -> Option<Duration> {
        (!self.reported.swap(true, Ordering::SeqCst)).then(|| self.launched.elapsed())
    }

    /// Whether this run was started to measure start-up (print the time, then exit).
    pub fn bench(&self) -> bool {
        self.bench
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_ready_report_counts() {
        let startup = Startup::new(Instant::now(), false);
        assert!(startup.ui_ready().is_some(), "the first report is timed");
        assert!(startup.ui_ready().is_none(), "a reload is not start-up");
    }
}
