//! When to retry a request, as a pure function of what happened: the status (or a dropped
//! connection), the `Retry-After` header, how many attempts were made, and a jitter value the caller
//! draws. No clock, no network, no randomness inside, so every rule is unit-tested.
//!
//! Rules (spec/graph/endpoints.md §2 "Throttling"): 429, 503 and 504 are retried; `Retry-After` is honoured
//! exactly (never retried earlier); without it the wait grows exponentially from `base_delay`,
//! capped at `max_delay`, with "equal jitter" (between half and all of the step) so parallel
//! requests do not retry in lockstep. Attempts are bounded. A `Retry-After` longer than
//! `max_retry_after` stops instead of leaving the admin staring at a frozen step.
//!
//! Exchange Online's admin API sometimes says "slow down" in plain text rather than JSON
//! ([`is_throttling_text`]); that answer is retried like a 429 whatever its status. It also
//! answers passing trouble on its side (a domain controller in maintenance or overloaded, a
//! storage hiccup) with an error that names the exception, under a 400 or a 500; the exceptions
//! its own module retries are retried here too ([`is_transient_exchange_failure`],
//! spec/exchange.md "Retries and timeouts").

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Limits for retrying one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included.
    pub max_attempts: u32,
    /// The first backoff step when the service gave no `Retry-After`.
    pub base_delay: Duration,
    /// The largest backoff step.
    pub max_delay: Duration,
    /// The longest `Retry-After` Firebreak is willing to wait for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with this HTTP status.
    Status(u16),
    /// No HTTP answer (connection dropped, reset, timed out). Only retried for requests that are
    /// safe to repeat; the caller decides that and passes `Status` otherwise.
    Connection,
    /// The service answered that it is throttling in words rather than with a 429 (Exchange
    /// Online's plain-text answer, [`is_throttling_text`]); the request was not run.
    Throttled,
    /// Exchange named a passing failure on its side ([`is_transient_exchange_failure`]); retried
    /// like a 503.
    Transient,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Give up and report the failure.
    Stop,
    /// Wait this long, then try again.
    Wait(Duration),
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1 for the first) failed with `failure`.
    /// `jitter` is a value in `[0, 1)` the caller draws at random (tests pass fixed values).
    pub fn decide(
        &self,
        failure: Failure,
        retry_after: Option<Duration>,
        attempt: u32,
        jitter: f64,
    ) -> Decision {
        let retryable = match failure {
            Failure::Status(s) => matches!(s, 429 | 503 | 504),
            Failure::Connection | Failure::Throttled | Failure::Transient => true,
        };
        if !retryable || attempt >= self.max_attempts {
            return Decision::Stop;
        }
        if let Some(wait) = retry_after {
            return if wait > self.max_retry_after {
                Decision::Stop
            } else {
                Decision::Wait(wait)
            };
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Decision::Wait(step.mul_f64(0.5 + 0.5 * jitter))
    }
}

/// The start of Exchange Online's plain-text throttling answer (the admin API's concurrency limit
/// per tenant; `spec/graph-behaviour.md`).
pub const EXCHANGE_THROTTLING_TEXT: &str =
    "You have reached the maximum number of concurrent requests per tenant";

/// Whether a response body is Exchange Online's plain-text "too many concurrent requests" answer
/// (not JSON, so it has no error code to read).
pub fn is_throttling_text(body: &str) -> bool {
    let start: String = body
        .trim_start()
        .chars()
        .take(EXCHANGE_THROTTLING_TEXT.len())
        .collect();
    start.eq_ignore_ascii_case(EXCHANGE_THROTTLING_TEXT)
}

/// The exceptions Exchange's own module retries (its `RetryableExceptions`), and those other
/// admin tools retry besides (the cmdlet proxy and backend hand-offs, a busy server, any
/// `…TransientException`, the cmdlet proxy's `…Exception` and `…Failure`): spec/exchange.md,
/// "Retries and timeouts". Matched in the exception type the error's details name.
pub const TRANSIENT_EXCHANGE_EXCEPTIONS: &[&str] = &[
    "DCOverloadedException",
    "SuitabilityDirectoryException",
    "ServerInMMException",
    "ADServerSettingsChangedException",
    "TransientException",
    "ServerBusyException",
    "BackendCommunicationException",
    "CmdletProxyNotAvailable",
];

/// Whether an Exchange error body names one of [`TRANSIENT_EXCHANGE_EXCEPTIONS`] as its cause, in
/// `error.details` or `error.innererror.internalexception` (never in free text elsewhere, so a
/// rule or mailbox name cannot make a failure look transient).
pub fn is_transient_exchange_failure(body: &str) -> bool {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return false;
    };
    let error = &value["error"];
    let details = error["details"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["message"].as_str())
        .filter_map(|m| m.split('|').nth(1));
    let inner = ["innererror", "innerError"]
        .iter()
        .filter_map(|k| error[k]["internalexception"]["type"].as_str());
    details.chain(inner).any(|exception| {
        TRANSIENT_EXCHANGE_EXCEPTIONS
            .iter()
            .any(|name| exception.contains(name))
    })
}

/// Reads a `Retry-After` header: delay-seconds (whole or decimal, as Exchange's module reads
/// them) or an HTTP-date (relative to `now`).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return value
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(Duration::from_secs_f64);
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn throttling_and_unavailable_statuses_are_retried() {
        for status in [429, 503, 504] {
            assert!(matches!(
                policy().decide(Failure::Status(status), None, 1, 0.0),
                Decision::Wait(_)
            ));
        }
    }

    #[test]
    fn other_statuses_are_not_retried() {
        for status in [400, 401, 403, 404, 409, 500, 502] {
            assert_eq!(
                policy().decide(Failure::Status(status), None, 1, 0.5),
                Decision::Stop,
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let wait = Duration::from_secs(7);
        assert_eq!(
            policy().decide(Failure::Status(429), Some(wait), 1, 0.9),
            Decision::Wait(wait)
        );
        assert_eq!(
            policy().decide(Failure::Status(503), Some(Duration::ZERO), 2, 0.9),
            Decision::Wait(Duration::ZERO)
        );
    }

    #[test]
    fn a_retry_after_beyond_the_limit_stops() {
        assert_eq!(
            policy().decide(Failure::Status(429), Some(Duration::from_secs(61)), 1, 0.0),
            Decision::Stop
        );
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        let p = policy();
        let wait = |attempt, jitter| match p.decide(Failure::Status(503), None, attempt, jitter) {
            Decision::Wait(d) => d,
            Decision::Stop => panic!("attempt {attempt} should wait"),
        };
        assert_eq!(wait(1, 1.0), Duration::from_secs(1));
        assert_eq!(wait(2, 1.0), Duration::from_secs(2));
        assert_eq!(wait(3, 1.0), Duration::from_secs(4));
        assert_eq!(wait(4, 1.0), Duration::from_secs(8));
        assert_eq!(
            wait(4, 0.0),
            Duration::from_secs(4),
            "jitter keeps at least half the step"
        );
        let big = RetryPolicy {
            max_attempts: 100,
            ..p
        };
        assert_eq!(
            big.decide(Failure::Status(503), None, 60, 1.0),
            Decision::Wait(Duration::from_secs(8)),
            "huge attempt numbers neither overflow nor exceed the cap"
        );
        assert_eq!(
            big.decide(Failure::Status(503), None, 2, f64::NAN),
            Decision::Wait(Duration::from_secs(1)),
            "a broken jitter value is treated as zero"
        );
    }

    #[test]
    fn attempts_are_bounded() {
        assert!(matches!(
            policy().decide(Failure::Status(429), None, 4, 0.0),
            Decision::Wait(_)
        ));
        assert_eq!(
            policy().decide(Failure::Status(429), None, 5, 0.0),
            Decision::Stop
        );
        assert_eq!(
            policy().decide(Failure::Connection, Some(Duration::from_secs(1)), 5, 0.0),
            Decision::Stop
        );
    }

    #[test]
    fn exchanges_plain_text_throttling_is_retried_like_a_429() {
        let text = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again.";
        assert!(is_throttling_text(text));
        assert!(is_throttling_text(&format!("  {}", text.to_uppercase())));
        for other in [
            "",
            "{\"error\":{\"code\":\"TooManyRequests\"}}",
            "You have reached the end of the mailbox list",
            "Bad request: You have reached the maximum number of concurrent requests per tenant",
        ] {
            assert!(!is_throttling_text(other), "{other:?}");
        }
        assert_eq!(
            policy().decide(Failure::Throttled, Some(Duration::from_secs(3)), 1, 0.0),
            Decision::Wait(Duration::from_secs(3))
        );
        assert!(matches!(
            policy().decide(Failure::Throttled, None, 2, 0.0),
            Decision::Wait(_)
        ));
        assert_eq!(
            policy().decide(Failure::Throttled, None, 5, 0.0),
            Decision::Stop,
            "bounded like every retry"
        );
    }

    #[test]
    fn dropped_connections_back_off_like_unavailable() {
        assert!(matches!(
            policy().decide(Failure::Connection, None, 1, 0.0),
            Decision::Wait(_)
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:30Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means retry now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn retry_after_in_decimal_seconds_is_honoured_to_the_millisecond() {
        let now = Utc::now();
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(" 0.25 ", now),
            Some(Duration::from_millis(250))
        );
        for odd in ["1.5.2", "NaN", "inf", "-0.5", "1e99", ".5x"] {
            assert_eq!(parse_retry_after(odd, now), None, "{odd}");
        }
    }

    #[test]
    fn exchanges_named_transient_failures_are_retried_and_nothing_else_is() {
        let detail = |exception: &str| {
            format!(
                r#"{{"error":{{"code":"InternalServerError","message":"Error executing cmdlet","details":[{{"code":"Client","target":"","message":"Ex6F9304|{exception}|Please try again."}}]}}}}"#
            )
        };
        for exception in [
            "Microsoft.Exchange.Data.Directory.ServerInMMException",
            "Microsoft.Exchange.Data.Directory.DCOverloadedException",
            "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException",
            "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException",
            "Microsoft.Exchange.Data.Storage.StorageTransientException",
            "Microsoft.Exchange.Configuration.Tasks.CmdletProxyNotAvailableException",
        ] {
            assert!(
                is_transient_exchange_failure(&detail(exception)),
                "{exception}"
            );
        }
        let inner = r#"{"error":{"message":"Invalid Operation","innererror":{"internalexception":{"type":"Microsoft.Exchange.Net.ServerBusyException","message":"busy"}}}}"#;
        assert!(is_transient_exchange_failure(inner));
        for permanent in [
            detail("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"),
            r#"{"error":{"code":"BadRequest","message":"ServerInMMException"}}"#.to_owned(),
            "ServerInMMException".to_owned(),
        ] {
            assert!(!is_transient_exchange_failure(&permanent), "{permanent}");
        }
        assert!(matches!(
            policy().decide(Failure::Transient, None, 1, 0.0),
            Decision::Wait(_)
        ));
    }
}
