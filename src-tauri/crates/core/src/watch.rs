//! The watch window after recovery (spec/design.md §2.8): while the application runs, each recovered
//! account is re-checked against the baseline its recovery recorded, and anything new is journaled
//! as an alert in the case (the shell also raises it on the desktop).
//!
//! The window and the baseline live in the journal: the finished `watch` recovery step holds the
//! baseline (method ids, rule identities, forwarding addresses, consent grant ids), the attacker's
//! addresses found at triage and the chosen length; the window runs from that entry for that many
//! hours and ends early when the case is closed. Alerts are `watch_alert` entries; each has a
//! stable key so one finding is raised once.
//!
//! What raises an alert, and what does not (the user's own activity after recovery):
//! - a new authentication method registered from the attacker's infrastructure, or with no
//!   registration record at all; a method the directory audit shows registered from another
//!   address is the user's re-registration with the Temporary Access Pass and raises nothing;
//! - a new inbox rule the containment rules flag (hiding folder, external forward, deletion...);
//! - forwarding switched on;
//! - a new consent with scopes that read or send mail or files;
//! - sign-in blocked again on an account synchronised from Active Directory (a sync set it back);
//! - a successful sign-in, or a failed interactive one, from the attacker's infrastructure as
//!   triage attributed it ([`crate::attribution`]: its addresses, their /24 or /48, its hosting
//!   networks, its sessions — not exact addresses alone).
//!
//! A *failed* token refresh from that infrastructure raises nothing: after sessions are revoked
//! the attacker's client keeps trying its refresh token and Entra logs each refusal as a failed
//! non-interactive sign-in. That is the revocation working, not the attacker getting back in; the
//! re-check counts them in its notes.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{DirectoryAudit, DirectoryAuditQuery, SignInEventType, SignInQuery},
    methods::AuthenticationMethod,
    UserRef,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    attribution::Infrastructure,
    case::{journal::EntryKind, CaseId, CaseStore, CaseView, APPLICATION},
    procedure::{
        contain,
        recover::{DEFAULT_WATCH_HOURS, WATCH_KEY},
        tenant::IncidentTenant,
        triage::{recorded_infrastructure, RISKY_SCOPES},
    },
    Error,
};

/// How often a watched account is re-checked by default, in minutes of the case's clock.
pub const DEFAULT_INTERVAL_MINUTES: i64 = 15;
/// How close a registration audit must be to a method's creation time to be its record.
const REGISTRATION_MATCH_MINUTES: i64 = 5;

/// What the account looked like when recovery ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// Authentication method ids.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Inbox rule identities.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Forwarding addresses set on the mailbox.
    #[serde(default)]
    pub forwarding: Vec<String>,
    /// Delegated consent grant ids.
    #[serde(default)]
    pub grants: Vec<String>,
}

/// One watch window, read from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchWindow {
    /// The procedure's scope (`a1`).
    pub scope: String,
    /// The account watched.
    pub account: String,
    /// When the baseline was taken.
    pub from: DateTime<Utc>,
    /// When the window ends (or ended).
    pub until: DateTime<Utc>,
    /// When the case was closed, if it was: the window ended then.
    pub closed_at: Option<DateTime<Utc>>,
    /// The baseline.
    pub baseline: Baseline,
    /// The attacker's addresses, ranges and networks found at triage (short labels).
    pub attacker_addresses: Vec<String>,
    /// The attacker's infrastructure found at triage, with its evidence.
    pub infrastructure: Infrastructure,
}

impl WatchWindow {
    /// Whether the account is still watched at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> bool {
        self.closed_at.is_none() && now >= self.from && now < self.until
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertKind {
    /// A new authentication method.
    Method,
    /// A new inbox rule.
    InboxRule,
    /// Forwarding switched on.
    Forwarding,
    /// A new consent.
    Grant,
    /// A sign-in from an attacker address.
    SignIn,
    /// Sign-in blocked again on an account synchronised from Active Directory.
    SignInState,
}

/// One alert, as journaled (`watch_alert` details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchAlert {
    /// The procedure's scope.
    pub scope: String,
    /// The account.
    pub account: String,
    /// What it is about.
    pub kind: AlertKind,
    /// Stable key of the object (`method:<id>`, `signIn:<id>` ...): one alert per object.
    pub key: String,
    /// One line for the notification (tenant strings inside: render as text).
    pub title: String,
    /// What was seen and why it matters.
    pub detail: String,
    /// When it happened in the tenant, when known.
    pub at: Option<DateTime<Utc>>,
    /// When Firebreak saw it.
    pub observed_at: DateTime<Utc>,
}

/// What one re-check did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recheck {
    /// The windows looked at.
    pub windows: Vec<WatchWindow>,
    /// Alerts raised by this re-check (already journaled).
    pub new_alerts: Vec<WatchAlert>,
    /// Reads that failed, so the admin knows what was not looked at.
    pub gaps: Vec<String>,
    /// What was seen and is expected, not an alert (refused token refreshes after revocation).
    pub notes: Vec<String>,
    /// When it ran (the case's clock).
    pub checked_at: DateTime<Utc>,
}

fn hours_chosen(details: &Value) -> i64 {
    details
        .pointer("/detail/done")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|id| id.strip_prefix("watch:")?.parse().ok())
        .unwrap_or(DEFAULT_WATCH_HOURS)
}

/// Every watch window of `case`, in account order.
pub fn windows(case: &CaseView) -> Vec<WatchWindow> {
    let mut found: Vec<WatchWindow> = Vec::new();
    for entry in &case.journal {
        let Some(step) = entry.step.as_deref() else {
            continue;
        };
        let Some((scope, key)) = step.split_once('.') else {
            continue;
        };
        if entry.kind != EntryKind::StepFinished || key != WATCH_KEY {
            continue;
        }
        let watch = entry.details.pointer("/detail/facts/watch");
        let baseline = watch
            .and_then(|w| w.get("baseline"))
            .and_then(|b| serde_json::from_value(b.clone()).ok())
            .unwrap_or_default();
        let recorded: Vec<String> = watch
            .and_then(|w| w.get("attackerAddresses"))
            .and_then(|b| serde_json::from_value(b.clone()).ok())
            .unwrap_or_default();
        let mut infrastructure = recorded_infrastructure(case, scope);
        infrastructure.add_addresses(
            &recorded,
            "recorded as the attacker's address when the watch began",
        );
        let attacker_addresses = infrastructure.labels();
        let account = entry
            .details
            .pointer("/detail/facts/account")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| account_of(case, scope))
            .unwrap_or_default();
        let window = WatchWindow {
            scope: scope.to_owned(),
            account,
            from: entry.time,
            until: entry.time + Duration::hours(hours_chosen(&entry.details)),
            closed_at: case.closed.as_ref().map(|c| c.at),
            baseline,
            attacker_addresses,
            infrastructure,
        };
        // A later run of the watch step replaces the earlier window of the same account.
        found.retain(|w| w.scope != window.scope);
        found.push(window);
    }
    for w in &mut found {
        if let Some(closed) = w.closed_at {
            w.until = w.until.min(closed);
        }
    }
    found
}

fn account_of(case: &CaseView, scope: &str) -> Option<String> {
    let index = crate::scope::Scope::parse(scope).ok()?.index();
    case.metadata.accounts.get(index - 1).cloned()
}

/// The alerts journaled in `case`, oldest first.
pub fn alerts(case: &CaseView) -> Vec<WatchAlert> {
    case.journal
        .iter()
        .filter(|e| e.kind == EntryKind::WatchAlert)
        .filter_map(|e| serde_json::from_value(e.details.clone()).ok())
        .collect()
}

/// Re-checks every active window of case `id` now, journals each new alert in the case and
/// returns what it did. Nothing is journaled when nothing is new.
pub async fn recheck<T: IncidentTenant>(
    tenant: &T,
    store: &CaseStore,
    id: &CaseId,
) -> Result<Recheck, Error> {
    let case = store.case(id)?;
    let now = store.clock().now();
    let known: BTreeSet<(String, String)> = alerts(&case)
        .into_iter()
        .map(|a| (a.scope, a.key))
        .collect();
    let active: Vec<WatchWindow> = windows(&case)
        .into_iter()
        .filter(|w| w.active(now))
        .collect();
    let mut new_alerts = Vec::new();
    let mut gaps = Vec::new();
    let mut notes = Vec::new();
    for window in &active {
        let found = look(tenant, window, now, &mut gaps, &mut notes).await?;
        for alert in found {
            if known.contains(&(alert.scope.clone(), alert.key.clone()))
                || new_alerts
                    .iter()
                    .any(|a: &WatchAlert| a.scope == alert.scope && a.key == alert.key)
            {
                continue;
            }
            let details = serde_json::to_value(&alert).unwrap_or(Value::Null);
            store.record_watch_alert(id, APPLICATION, details)?;
            log::warn!(
                "watch alert in case {id} ({}): {:?} {}",
                alert.scope,
                alert.kind,
                alert.key
            );
            new_alerts.push(alert);
        }
    }
    Ok(Recheck {
        windows: active,
        new_alerts,
        gaps,
        notes,
        checked_at: now,
    })
}

/// Pairs each new method with the registration record that explains it, each record used once:
/// dated methods take the nearest record within [`REGISTRATION_MATCH_MINUTES`], then undated
/// ones (phones have no creation time) take a record left over, one naming an address first.
fn pair_registrations<'m, 'r>(
    methods: &[&'m AuthenticationMethod],
    records: &'r [DirectoryAudit],
) -> Vec<(&'m AuthenticationMethod, Option<&'r DirectoryAudit>)> {
    let mut used = vec![false; records.len()];
    let mut pairs = Vec::new();
    let mut undated = Vec::new();
    for m in methods {
        let Some(created) = m.created_date_time else {
            undated.push(*m);
            continue;
        };
        let nearest = records
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .filter_map(|(i, r)| Some((i, (r.activity_date_time? - created).num_seconds().abs())))
            .filter(|(_, gap)| *gap <= REGISTRATION_MATCH_MINUTES * 60)
            .min_by_key(|(_, gap)| *gap)
            .map(|(i, _)| i);
        if let Some(i) = nearest {
            used[i] = true;
        }
        pairs.push((*m, nearest.map(|i| &records[i])));
    }
    for m in undated {
        // Records without an address sort last: a named address decides more than none.
        let left = (0..records.len()).filter(|i| !used[*i]).min_by_key(|i| {
            records[*i]
                .initiated_by
                .as_ref()
                .and_then(|b| b.pointer("/user/ipAddress"))
                .is_none()
        });
        if let Some(i) = left {
            used[i] = true;
        }
        pairs.push((m, left.map(|i| &records[i])));
    }
    pairs
}

/// Reads the account and compares it with the window's baseline.
async fn look<T: IncidentTenant>(
    tenant: &T,
    window: &WatchWindow,
    now: DateTime<Utc>,
    gaps: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<WatchAlert>, Error> {
    let user = UserRef::new(&window.account)?;
    let Some(resolved) = tenant.user(&user).await? else {
        gaps.push(format!(
            "{} no longer exists in the tenant: nothing to watch.",
            window.account
        ));
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let alert = |kind, key: String, title: String, detail: String, at| WatchAlert {
        scope: window.scope.clone(),
        account: window.account.clone(),
        kind,
        key,
        title,
        detail,
        at,
        observed_at: now,
    };
    let attacker = |ip: &str| window.infrastructure.match_address(ip);

    // A synchronised account takes its sign-in state from Active Directory at every sync
    // (spec/graph-behaviour.md, "Synchronised accounts").
    if resolved.on_premises_sync_enabled == Some(true) && resolved.account_enabled == Some(false) {
        out.push(alert(
            AlertKind::SignInState,
            "signInBlocked".into(),
            format!("Sign-in is blocked again for {}", window.account),
            "Recovery allowed sign-in, but Entra now blocks it. The account is synchronised from Active Directory: a sync set the block back because the account is still disabled there, or someone disabled it. If recovery is meant to stand, enable it in Active Directory Users and Computers; if you did not expect this, find out who disabled it.".into(),
            None,
        ));
    }

    // Methods: new ones, judged by the address their registration came from.
    match tenant.methods(&user).await {
        Ok(methods) => {
            let new: Vec<_> = methods
                .items
                .iter()
                .filter(|m| !window.baseline.methods.contains(&m.id))
                .collect();
            if !new.is_empty() {
                let query = DirectoryAuditQuery {
                    since: Some(window.from - Duration::minutes(REGISTRATION_MATCH_MINUTES)),
                    target_id: Some(resolved.id.clone()),
                    activity_display_name: Some("User registered security info".into()),
                    ..DirectoryAuditQuery::default()
                };
                let registrations = match tenant.directory_audits(&query).await {
                    Ok(r) => r.items,
                    Err(e) => {
                        gaps.push(format!("Who registered the new methods: {e}"));
                        Vec::new()
                    }
                };
                let pairs = pair_registrations(&new, &registrations);
                for (m, record) in pairs {
                    let ip = record
                        .and_then(|r| r.initiated_by.as_ref())
                        .and_then(|i| i.pointer("/user/ipAddress"))
                        .and_then(Value::as_str);
                    let kind = m
                        .odata_type
                        .as_deref()
                        .unwrap_or("method")
                        .trim_start_matches("#microsoft.graph.")
                        .to_owned();
                    let reason = match ip {
                        Some(ip) if attacker(ip).is_some() => {
                            let why = attacker(ip).map(|m| m.why).unwrap_or_default();
                            format!("registered from {ip}, the attacker's infrastructure ({why})")
                        }
                        Some(_) => continue, // the user's own re-registration
                        None if record.is_none() => "no registration record explains it".to_owned(),
                        None => "its registration record names no address".to_owned(),
                    };
                    out.push(alert(
                        AlertKind::Method,
                        format!("method:{}", m.id),
                        format!("New sign-in method on {}", window.account),
                        format!("A {kind} appeared on the account after recovery: {reason}."),
                        m.created_date_time,
                    ));
                }
            }
        }
        Err(e) => gaps.push(format!("Authentication methods: {e}")),
    }

    // Mailbox: rules and forwarding.
    match tenant.mailbox(&user).await {
        Ok(Some(mailbox)) => {
            for m in &mailbox.items {
                for address in m
                    .forwarding_smtp_address
                    .iter()
                    .chain(&m.forwarding_address)
                    .filter(|a| !a.is_empty())
                {
                    if !window.baseline.forwarding.contains(address) {
                        out.push(alert(
                            AlertKind::Forwarding,
                            format!("forwarding:{}", address.to_lowercase()),
                            format!("Forwarding switched on for {}", window.account),
                            format!("The mailbox now forwards to {address}."),
                            None,
                        ));
                    }
                }
            }
            let organisation = contain::organisation(tenant, &window.account, gaps).await;
            match contain::read_rules(tenant, &user, gaps).await {
                Ok(rules) => {
                    for rule in &rules.rules.items {
                        let Some(identity) = &rule.identity else {
                            continue;
                        };
                        if window.baseline.rules.contains(identity) {
                            continue;
                        }
                        let (flagged, reasons) = contain::judge_rule(
                            rule,
                            &contain::RuleContext {
                                organisation: &organisation,
                                hidden: rules.is_hidden(rule),
                            },
                        );
                        if flagged {
                            out.push(alert(
                                AlertKind::InboxRule,
                                format!("rule:{identity}"),
                                format!("New inbox rule on {}", window.account),
                                format!(
                                    "Inbox rule \"{}\" appeared after recovery: {}",
                                    rule.name.as_deref().unwrap_or(""),
                                    reasons.join(" ")
                                ),
                                None,
                            ));
                        }
                    }
                }
                Err(e) => gaps.push(format!("Inbox rules: {e}")),
            }
        }
        Ok(None) => {}
        Err(e) => gaps.push(format!("Mailbox: {e}")),
    }

    // Consents.
    match tenant.user_grants(&user).await {
        Ok(grants) => {
            for g in grants
                .items
                .iter()
                .filter(|g| !window.baseline.grants.contains(&g.id))
            {
                let risky: Vec<&str> = g
                    .scope
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .filter(|s| RISKY_SCOPES.contains(s))
                    .collect();
                if !risky.is_empty() {
                    out.push(alert(
                        AlertKind::Grant,
                        format!("grant:{}", g.id),
                        format!("New app consent on {}", window.account),
                        format!(
                            "The account consented to app {} with {} after recovery.",
                            g.client_id,
                            risky.join(", ")
                        ),
                        None,
                    ));
                }
            }
        }
        Err(e) => gaps.push(format!("Consents: {e}")),
    }

    // Sign-ins from the attacker's infrastructure.
    let mut refused = 0usize;
    let mut last_refused: Option<DateTime<Utc>> = None;
    if !window.infrastructure.is_empty() {
        for (event_types, interactive) in [
            (vec![SignInEventType::InteractiveUser], true),
            (vec![SignInEventType::NonInteractiveUser], false),
        ] {
            let query = SignInQuery {
                user_id: Some(resolved.id.clone()),
                since: Some(window.from),
                event_types,
                ..SignInQuery::default()
            };
            match tenant.sign_ins(&query).await {
                Ok(sign_ins) => {
                    for s in &sign_ins.items {
                        let Some(m) = window.infrastructure.match_sign_in(s) else {
                            continue;
                        };
                        match judge_sign_in(s, interactive) {
                            SignInVerdict::Refused => {
                                refused += 1;
                                last_refused = last_refused.max(s.created_date_time);
                            }
                            verdict => out.push(alert(
                                AlertKind::SignIn,
                                format!("signIn:{}", s.id),
                                format!(
                                    "Sign-in from the attacker's infrastructure on {}",
                                    window.account
                                ),
                                format!(
                                    "{} from {} to {} ({}){}.",
                                    if verdict == SignInVerdict::Succeeded {
                                        "A successful sign-in"
                                    } else {
                                        "A failed sign-in"
                                    },
                                    s.ip_address.as_deref().unwrap_or("an unknown address"),
                                    s.app_display_name.as_deref().unwrap_or("an app"),
                                    m.why,
                                    if verdict == SignInVerdict::Succeeded {
                                        ": the attacker may be back; contain the account again"
                                    } else {
                                        ": the attacker is trying to get back in"
                                    }
                                ),
                                s.created_date_time,
                            )),
                        }
                    }
                }
                Err(e) => gaps.push(format!(
                    "{} sign-ins from the attacker's infrastructure: {e}",
                    if interactive {
                        "Interactive"
                    } else {
                        "Non-interactive"
                    }
                )),
            }
        }
    }
    if refused > 0 {
        notes.push(format!(
            "{refused} token refresh(es) from the attacker's infrastructure on {} were refused (the last at {}): the revoked session failing as expected, not the attacker getting back in.",
            window.account,
            last_refused.map_or_else(|| "an unknown time".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        ));
    }
    Ok(out)
}

/// What a sign-in from the attacker's infrastructure after recovery means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInVerdict {
    /// A token was issued: the attacker holds something that works.
    Succeeded,
    /// A password or MFA attempt failed: the attacker is trying to get back in.
    Attempted,
    /// A token refresh was refused: the revoked session failing, as expected.
    Refused,
}

fn judge_sign_in(s: &firebreak_graph::logs::SignIn, interactive: bool) -> SignInVerdict {
    let ok = s
        .status
        .as_ref()
        .and_then(|st| st.error_code)
        .is_none_or(|c| c == 0);
    let interactive = s.is_interactive.unwrap_or(interactive);
    match (ok, interactive) {
        (true, _) => SignInVerdict::Succeeded,
        (false, true) => SignInVerdict::Attempted,
        (false, false) => SignInVerdict::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign_in(interactive: bool, code: i64) -> firebreak_graph::logs::SignIn {
        serde_json::from_value(json!({
            "id": "s", "createdDateTime": "2025-03-13T01:00:00Z", "ipAddress": "203.0.113.46",
            "isInteractive": interactive, "status": {"errorCode": code}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_refused_token_refresh_after_revocation_is_expected_and_a_success_or_a_password_attempt_is_not(
    ) {
        assert_eq!(
            judge_sign_in(&sign_in(false, 50_173), false),
            SignInVerdict::Refused
        );
        assert_eq!(
            judge_sign_in(&sign_in(false, 0), false),
            SignInVerdict::Succeeded
        );
        assert_eq!(
            judge_sign_in(&sign_in(true, 0), true),
            SignInVerdict::Succeeded
        );
        assert_eq!(
            judge_sign_in(&sign_in(true, 50_126), true),
            SignInVerdict::Attempted
        );
    }

    #[test]
    fn the_chosen_window_length_comes_from_the_done_selection() {
        let details = json!({"detail": {"done": ["watch:24"]}});
        assert_eq!(hours_chosen(&details), 24);
        assert_eq!(hours_chosen(&json!({})), DEFAULT_WATCH_HOURS);
    }

    #[test]
    fn a_window_is_active_between_its_start_and_end_unless_closed() {
        let from: DateTime<Utc> = "2025-09-25T18:00:00Z".parse().unwrap_or_default();
        let mut w = WatchWindow {
            scope: "a1".into(),
            account: "a@b".into(),
            from,
            until: from + Duration::hours(72),
            closed_at: None,
            baseline: Baseline::default(),
            attacker_addresses: vec![],
            infrastructure: Infrastructure::default(),
        };
        assert!(w.active(from + Duration::hours(1)));
        assert!(!w.active(from + Duration::hours(73)));
        w.closed_at = Some(from + Duration::hours(2));
        assert!(!w.active(from + Duration::hours(1)));
    }
}
