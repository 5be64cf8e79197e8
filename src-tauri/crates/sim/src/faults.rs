//! Faults on demand: latency, throttling (429 with `Retry-After`), 503, dropped connections (before
//! or after the request ran), tokens that die before their `exp`, and the Exchange admin API's own
//! ways of failing: a transient exception its module retries, and an error inside a 200 answer
//! (`spec/exchange.md`). Rates are applied deterministically (a rate of 0.25 fails exactly every
//! fourth request) so tests that use them are repeatable. Exchange Online's admin API does not
//! always throttle in JSON: every second throttled Exchange answer here is the plain-text one (see
//! [`FaultState::exchange_throttle_in_text`]).

use serde::{Deserialize, Serialize};

/// Fault settings, in a scenario file (`"faults"`), in [`crate::SimOptions`] or posted at run time
/// to `/_sim/faults`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Added to every Graph, Exchange and token response.
    pub latency_ms: u64,
    /// Fraction of Graph/Exchange requests answered 429 (0.0–1.0).
    pub throttle_rate: f64,
    /// The `Retry-After` seconds sent with a 429 (and with a 503). A fraction is sent as a decimal
    /// (`1.5`), which Exchange's own module accepts; a whole number as an integer.
    pub retry_after_seconds: f64,
    /// Fraction of Graph/Exchange requests answered 503.
    pub unavailable_rate: f64,
    /// Fraction of Graph/Exchange requests whose connection is closed without an answer.
    pub drop_rate: f64,
    /// The next N Graph/Exchange requests are answered 429.
    pub throttle_next: u32,
    /// The next N Graph/Exchange requests are answered 503.
    pub unavailable_next: u32,
    /// The next N Graph/Exchange requests lose their connection.
    pub drop_next: u32,
    /// The next N changes (a Graph request other than GET; an Exchange Set-/Remove- cmdlet, as
    /// its `X-CmdletName` header names it) run, but their connection is closed before the answer:
    /// the change happened and the client never hears so.
    pub drop_answer_next: u32,
    /// The next N Exchange requests fail with one of the transient exceptions Exchange's module
    /// retries (domain controller in maintenance, overloaded ...), in Exchange's error shape.
    pub exchange_transient_next: u32,
    /// The next N Exchange Set-/Remove- cmdlets answer 200 with the failure in
    /// `@adminapi.errors` and change nothing.
    pub exchange_errors_in_success_next: u32,
    /// Access tokens stop working this many simulated seconds after issue, whatever their `exp`.
    pub token_lifetime_seconds: Option<i64>,
    /// Exchange cmdlets the caller's roles do not include: Exchange answers each as a command it
    /// does not know (`CommandNotFoundException`), every time, as it does for a cmdlet outside
    /// the admin's RBAC roles (spec/exchange.md, "Partial reads").
    pub missing_cmdlets: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            throttle_rate: 0.0,
            retry_after_seconds: 2.0,
            unavailable_rate: 0.0,
            drop_rate: 0.0,
            throttle_next: 0,
            unavailable_next: 0,
            drop_next: 0,
            drop_answer_next: 0,
            exchange_transient_next: 0,
            exchange_errors_in_success_next: 0,
            token_lifetime_seconds: None,
            missing_cmdlets: Vec::new(),
        }
    }
}

/// What the fault injector knows of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RequestKind {
    /// An Exchange admin API request (not Graph).
    pub(crate) exchange: bool,
    /// A request that changes something.
    pub(crate) change: bool,
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fault {
    Throttle {
        retry_after: f64,
    },
    Unavailable {
        retry_after: f64,
    },
    Drop,
    /// Run the request, then close the connection without answering.
    DropAnswer,
    /// Answer with transient Exchange exception number `n` (they take turns).
    ExchangeTransient {
        n: u64,
    },
}

/// The live fault configuration with its deterministic rate accumulators.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    pub(crate) config: Faults,
    throttle_acc: f64,
    unavailable_acc: f64,
    drop_acc: f64,
    /// Throttled Exchange answers so far (decides JSON or plain text).
    exchange_throttled: u64,
    /// Transient Exchange failures served so far (decides which one is next).
    exchange_transient: u64,
}

impl FaultState {
    pub(crate) fn new(config: Faults) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Replaces the configuration (accumulators restart).
    pub(crate) fn set(&mut self, config: Faults) {
        *self = Self::new(config);
    }

    /// Decides the fault, if any, for the next Graph or Exchange request.
    pub(crate) fn next(&mut self, request: RequestKind) -> Option<Fault> {
        let retry_after = self.config.retry_after_seconds;
        if self.config.drop_next > 0 {
            self.config.drop_next -= 1;
            return Some(Fault::Drop);
        }
        if request.change && self.config.drop_answer_next > 0 {
            self.config.drop_answer_next -= 1;
            return Some(Fault::DropAnswer);
        }
        if request.exchange && self.config.exchange_transient_next > 0 {
            self.config.exchange_transient_next -= 1;
            self.exchange_transient += 1;
            return Some(Fault::ExchangeTransient {
                n: self.exchange_transient - 1,
            });
        }
        if self.config.throttle_next > 0 {
            self.config.throttle_next -= 1;
            return Some(Fault::Throttle { retry_after });
        }
        if self.config.unavailable_next > 0 {
            self.config.unavailable_next -= 1;
            return Some(Fault::Unavailable { retry_after });
        }
        if fire(&mut self.drop_acc, self.config.drop_rate) {
            return Some(Fault::Drop);
        }
        if fire(&mut self.throttle_acc, self.config.throttle_rate) {
            return Some(Fault::Throttle { retry_after });
        }
        if fire(&mut self.unavailable_acc, self.config.unavailable_rate) {
            return Some(Fault::Unavailable { retry_after });
        }
        None
    }
}

impl FaultState {
    /// Whether this throttled Exchange answer is the plain-text one: the first is JSON, the second
    /// plain text, and so on, so a client meets both shapes in any run that is throttled twice.
    pub(crate) fn exchange_throttle_in_text(&mut self) -> bool {
        self.exchange_throttled += 1;
        self.exchange_throttled % 2 == 0
    }

    /// Whether this Exchange change answers 200 with its failure in `@adminapi.errors` (and so
    /// must not happen).
    pub(crate) fn exchange_error_in_success(&mut self) -> bool {
        if self.config.exchange_errors_in_success_next == 0 {
            return false;
        }
        self.config.exchange_errors_in_success_next -= 1;
        true
    }
}

fn fire(acc: &mut f64, rate: f64) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    *acc += rate.min(1.0);
    if *acc >= 1.0 - 1e-9 {
        *acc -= 1.0;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_rate_throttles_exactly_every_fourth_request() {
        let mut state = FaultState::new(Faults {
            throttle_rate: 0.25,
            ..Faults::default()
        });
        let hits: Vec<bool> = (0..8)
            .map(|_| state.next(RequestKind::default()).is_some())
            .collect();
        assert_eq!(hits, [false, false, false, true, false, false, false, true]);
    }

    #[test]
    fn every_second_throttled_exchange_answer_is_plain_text() {
        let mut state = FaultState::new(Faults::default());
        let shapes: Vec<bool> = (0..4).map(|_| state.exchange_throttle_in_text()).collect();
        assert_eq!(shapes, [false, true, false, true]);
    }

    #[test]
    fn one_shot_faults_are_used_up_in_order() {
        let mut state = FaultState::new(Faults {
            drop_next: 1,
            throttle_next: 1,
            unavailable_next: 1,
            retry_after_seconds: 7.0,
            ..Faults::default()
        });
        assert_eq!(state.next(RequestKind::default()), Some(Fault::Drop));
        assert_eq!(
            state.next(RequestKind::default()),
            Some(Fault::Throttle { retry_after: 7.0 })
        );
        assert_eq!(
            state.next(RequestKind::default()),
            Some(Fault::Unavailable { retry_after: 7.0 })
        );
        assert_eq!(state.next(RequestKind::default()), None);
    }

    const EXCHANGE: RequestKind = RequestKind {
        exchange: true,
        change: false,
    };

    #[test]
    fn a_lost_answer_waits_for_a_change() {
        let mut state = FaultState::new(Faults {
            drop_answer_next: 1,
            ..Faults::default()
        });
        assert_eq!(state.next(EXCHANGE), None, "a read is answered");
        let change = RequestKind {
            exchange: true,
            change: true,
        };
        assert_eq!(state.next(change), Some(Fault::DropAnswer));
        assert_eq!(state.next(change), None);
    }

    #[test]
    fn transient_exchange_failures_reach_only_exchange_and_take_turns() {
        let mut state = FaultState::new(Faults {
            exchange_transient_next: 2,
            ..Faults::default()
        });
        assert_eq!(
            state.next(RequestKind::default()),
            None,
            "a Graph request is not Exchange's"
        );
        assert_eq!(
            state.next(EXCHANGE),
            Some(Fault::ExchangeTransient { n: 0 })
        );
        assert_eq!(
            state.next(EXCHANGE),
            Some(Fault::ExchangeTransient { n: 1 })
        );
        assert_eq!(state.next(EXCHANGE), None);
    }
}
