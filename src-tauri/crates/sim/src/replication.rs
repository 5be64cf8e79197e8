//! Read-after-write lag of the directory (spec/graph-behaviour.md, "Read-after-write
//! consistency"): Entra ID is eventually consistent, so for a few seconds after a write a read may
//! still return the value the property had before it. A scenario turns this on with
//! `replicationLagSeconds`; each write then remembers the previous value of the property it
//! changed (per user and per property), and Graph reads answer that value until the lag has passed.
//! Only what Graph answers lags: the tenant itself (and the attacker acting on it) sees the write
//! at once.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The property name under which a user's whole list of authentication methods lags.
pub(crate) const METHODS: &str = "authentication/methods";

/// One property of one user still answered with its value from before a write.
#[derive(Debug, Clone)]
struct Stale {
    user_id: String,
    property: String,
    previous: Value,
    until: DateTime<Utc>,
}

/// The lag and the values still being answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replication {
    lag: Duration,
    stale: Vec<Stale>,
}

impl Replication {
    /// No lag when `seconds` is 0 (every shipped scenario unless it says otherwise).
    pub(crate) fn new(seconds: u32) -> Self {
        Self {
            lag: Duration::seconds(i64::from(seconds)),
            stale: Vec::new(),
        }
    }

    /// Notes a write of `property` of `user_id` at `now` whose value before was `previous`. A
    /// second write while the first has not replicated keeps the older value being answered and
    /// restarts the lag, as a reader of a lagging replica would see.
    pub(crate) fn wrote(
        &mut self,
        user_id: &str,
        property: &str,
        previous: Value,
        now: DateTime<Utc>,
    ) {
        if self.lag <= Duration::zero() {
            return;
        }
        self.stale.retain(|s| s.until > now);
        let until = now + self.lag;
        match self
            .stale
            .iter_mut()
            .find(|s| s.user_id.eq_ignore_ascii_case(user_id) && s.property == property)
        {
            Some(entry) => entry.until = until,
            None => self.stale.push(Stale {
                user_id: user_id.to_owned(),
                property: property.to_owned(),
                previous,
                until,
            }),
        }
    }

    /// The value a read at `now` still answers for `property` of `user_id`, when a write has not
    /// replicated yet (property names compared without case, as Graph's `$select` does).
    pub(crate) fn answered(
        &self,
        user_id: &str,
        property: &str,
        now: DateTime<Utc>,
    ) -> Option<&Value> {
        self.stale
            .iter()
            .find(|s| {
                s.until > now
                    && s.user_id.eq_ignore_ascii_case(user_id)
                    && s.property.eq_ignore_ascii_case(property)
            })
            .map(|s| &s.previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn a_write_is_answered_with_the_previous_value_until_the_lag_has_passed() {
        let mut r = Replication::new(20);
        let now = t("2025-01-01T10:00:00Z");
        r.wrote("U1", "accountEnabled", json!(true), now);
        r.wrote(
            "u1",
            "accountEnabled",
            json!(false),
            now + Duration::seconds(5),
        );
        assert_eq!(
            r.answered("u1", "AccountEnabled", now + Duration::seconds(24)),
            Some(&json!(true))
        );
        assert_eq!(
            r.answered("u1", "accountEnabled", now + Duration::seconds(25)),
            None
        );
        assert_eq!(r.answered("u2", "accountEnabled", now), None);
    }

    #[test]
    fn without_a_lag_nothing_is_remembered() {
        let mut r = Replication::new(0);
        let now = t("2025-01-01T10:00:00Z");
        r.wrote("u1", "accountEnabled", json!(true), now);
        assert_eq!(r.answered("u1", "accountEnabled", now), None);
    }
}
