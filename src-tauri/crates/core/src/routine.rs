//! An account's routine: where it signs in from and with what, on enough separate days to be its
//! own. Used to tell a colleague's ordinary day from a stolen session when nothing else names the
//! attacker's addresses: the sweep's mail look (`sweep/mail.rs`) and triage's incident window.
//!
//! A sign-in is *strange* to a routine when it came from an address outside it *and* by a client
//! outside it: no registered device id, and a browser not seen on [`ROUTINE_DAYS`] days. A person
//! abroad on their own laptop keeps the device and browser; a replayed token arrives on the
//! attacker's browser. A replayed token on a browser string copied from the victim passes as the
//! victim's: the rule does not claim to see it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use firebreak_graph::logs::SignIn;
use serde_json::Value;

/// How many distinct days an address or browser must appear in an account's sign-ins to be part
/// of its routine.
pub(crate) const ROUTINE_DAYS: usize = 3;

/// Whether a sign-in succeeded (no error code, or 0).
pub(crate) fn succeeded(s: &SignIn) -> bool {
    s.status
        .as_ref()
        .and_then(|st| st.error_code)
        .is_none_or(|c| c == 0)
}

/// An account's routine before a moment: the addresses and browsers of its successful sign-ins
/// on at least [`ROUTINE_DAYS`] separate days.
#[derive(Debug, Default)]
pub(crate) struct Routine {
    addresses: BTreeSet<String>,
    agents: BTreeSet<String>,
    /// On how many days the account signed in at all.
    days: usize,
}

/// The browser of a sign-in: its user agent, else the browser and system the log names.
fn agent(s: &SignIn) -> Option<String> {
    if let Some(ua) = s.user_agent.as_deref().filter(|u| !u.is_empty()) {
        return Some(ua.to_owned());
    }
    let detail = s.device_detail.as_ref()?;
    let text = |k: &str| detail.get(k).and_then(Value::as_str).unwrap_or("");
    let both = format!("{} / {}", text("operatingSystem"), text("browser"));
    (both != " / ").then_some(both)
}

/// Whether the sign-in names a registered device.
fn registered(s: &SignIn) -> bool {
    s.device_detail
        .as_ref()
        .and_then(|d| d.get("deviceId"))
        .and_then(Value::as_str)
        .is_some_and(|id| !id.is_empty())
}

impl Routine {
    /// The routine of `sign_ins` (one account's) before `before`.
    pub(crate) fn of(sign_ins: &[SignIn], before: DateTime<Utc>) -> Self {
        let mut days = BTreeSet::new();
        let mut by_address: BTreeMap<String, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
        let mut by_agent: BTreeMap<String, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
        for s in sign_ins.iter().filter(|s| succeeded(s)) {
            let Some(at) = s.created_date_time.filter(|t| *t < before) else {
                continue;
            };
            let day = at.date_naive();
            days.insert(day);
            if let Some(ip) = &s.ip_address {
                by_address
                    .entry(ip.to_ascii_lowercase())
                    .or_default()
                    .insert(day);
            }
            if let Some(a) = agent(s) {
                by_agent.entry(a).or_default().insert(day);
            }
        }
        let routine = |m: BTreeMap<String, BTreeSet<chrono::NaiveDate>>| {
            m.into_iter()
                .filter(|(_, d)| d.len() >= ROUTINE_DAYS)
                .map(|(k, _)| k)
                .collect()
        };
        Self {
            addresses: routine(by_address),
            agents: routine(by_agent),
            days: days.len(),
        }
    }

    /// Whether there is enough history to tell a routine from anything else.
    pub(crate) fn known(&self) -> bool {
        self.days >= ROUTINE_DAYS
    }

    /// Whether `ip` is one of the routine's addresses.
    pub(crate) fn has_address(&self, ip: &str) -> bool {
        self.addresses.contains(&ip.to_ascii_lowercase())
    }

    /// Whether `s` came from outside this routine on a device outside it.
    pub(crate) fn strange(&self, s: &SignIn) -> bool {
        let away = s
            .ip_address
            .as_deref()
            .is_some_and(|ip| !self.addresses.contains(&ip.to_ascii_lowercase()));
        let foreign_client = !registered(s) && agent(s).is_none_or(|a| !self.agents.contains(&a));
        succeeded(s) && away && foreign_client
    }
}

/// The first successful sign-in of `sign_ins` in `from..=until` that is strange to `routine`.
pub(crate) fn first_strange<'a>(
    sign_ins: &'a [SignIn],
    routine: &Routine,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<&'a SignIn> {
    sign_ins
        .iter()
        .filter(|s| s.created_date_time.is_some_and(|t| t >= from && t <= until))
        .filter(|s| routine.strange(s))
        .min_by_key(|s| s.created_date_time)
}
