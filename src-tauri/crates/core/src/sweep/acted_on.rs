//! The sweep's fourth look: accounts the compromised account *acted on* as an administrator.
//! An attacker holding an account with a directory role (Helpdesk, User or Authentication
//! Administrator) takes the next account through the directory, not through a sign-in from the
//! same address: a password reset, a sign-in method added for someone else, a role granted, a
//! disabled account enabled. Those actions are in the directory audit, initiated by the account.
//!
//! The owner of such an account does the same things every day (the service desk resetting a
//! user who called in), so an action counts only when it came from where the attacker was: one
//! of the attacker's addresses, or — inside the incident window — an address the account had not
//! used in the retention window before it (first seen). An action from the account's usual
//! address is the owner's work and is left alone. Many directory entries name no address: then
//! the address of the account's own sign-in just before the action (within an hour) stands for
//! it, said so; an action with neither inside the window is listed for review, since nothing
//! clears it.
//!
//! The other way round, [`by_others`]: when this account is itself a second hop, another account
//! may have taken it through the directory — reset its password, added a method — from one of the
//! attacker's addresses. That account is the attacker's too. Only the attacker's own addresses
//! count here: a service desk that reset the password of a user who called in (the way a
//! helpdesk-assisted compromise begins) acted from its usual place and is not accused.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::logs::{
    DirectoryAudit, DirectoryAuditQuery, SignIn, SignInEventType, SignInQuery,
};
use serde_json::Value;

use super::{audit_user, succeeded, HitKind, Lead, Signal};
use crate::procedure::{tenant::IncidentTenant, Capture};

/// How far back the account's own sign-ins are read to know its usual addresses (the sign-in
/// log's retention with Entra ID P1).
const USUAL_ADDRESS_DAYS: i64 = 30;
/// How long before an action without an address the account's own sign-in may be to stand for
/// it.
const SIGN_IN_BEFORE_ACTION_MINUTES: i64 = 60;

/// What kind of administrative action an audit entry is, by its activity name (see
/// spec/graph-behaviour.md for the names Microsoft documents).
fn action_kind(activity: &str) -> Option<&'static str> {
    let a = activity.to_ascii_lowercase();
    if a.contains("self-service") {
        // The user's own reset or change, not an action on someone else.
        return None;
    }
    if a.starts_with("reset password") {
        Some("reset the password of")
    } else if a == "set force change user password" {
        Some("forced a password change on")
    } else if a == "admin registered security info" || a == "admin updated security info" {
        Some("added or changed a sign-in method of")
    } else if a.starts_with("add") && a.contains("member to role") {
        Some("granted a directory role to")
    } else if a == "enable account" {
        Some("enabled the account of")
    } else {
        None
    }
}

/// What the look found, and what it could not see.
#[derive(Debug, Default)]
pub(super) struct Look {
    /// Accounts the compromised account acted on from where the attacker was.
    pub(super) hits: Vec<Lead>,
    /// The directory audit and sign-in pages read, to save as evidence.
    pub(super) captures: Vec<Capture>,
    /// Reads that failed, in the admin's words.
    pub(super) not_available: Vec<String>,
}

fn initiator_address(audit: &DirectoryAudit) -> Option<String> {
    audit_user(audit).2
}

/// The latest of `sign_ins` (time, address) at or before `at` and at most
/// [`SIGN_IN_BEFORE_ACTION_MINUTES`] before it: where the account was when it acted.
pub(super) fn address_before(
    sign_ins: &[(DateTime<Utc>, String)],
    at: DateTime<Utc>,
) -> Option<&(DateTime<Utc>, String)> {
    sign_ins
        .iter()
        .filter(|(t, _)| *t <= at && at - *t <= Duration::minutes(SIGN_IN_BEFORE_ACTION_MINUTES))
        .max_by_key(|(t, _)| *t)
}

/// Reads the directory audit for actions *other* accounts took on the account `own` (object id,
/// name) since `reach_back`, and keeps those made from one of the attacker's addresses: the
/// account that made them is the attacker's.
pub(super) async fn by_others<T: IncidentTenant>(
    tenant: &T,
    own: (&str, &str),
    attacker: &[String],
    reach_back: DateTime<Utc>,
) -> Look {
    let (own_id, own_name) = own;
    let mut out = Look::default();
    if attacker.is_empty() {
        return out;
    }
    let query = DirectoryAuditQuery {
        since: Some(reach_back),
        target_id: Some(own_id.to_owned()),
        ..DirectoryAuditQuery::default()
    };
    let audits = match tenant.directory_audits(&query).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                "sweep-admin-actions-on-account",
                "Directory audits: actions other accounts took on this account",
                "GET /auditLogs/directoryAudits",
                &read.pages,
            ));
            read.items
        }
        Err(e) => {
            out.not_available.push(format!(
                "Accounts that acted on this account as an administrator: {e}"
            ));
            return out;
        }
    };
    for audit in audits.iter().filter(|a| {
        a.result
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case("success"))
    }) {
        let Some(kind) = audit.activity_display_name.as_deref().and_then(action_kind) else {
            continue;
        };
        let Some(ip) = initiator_address(audit) else {
            continue;
        };
        if !attacker.iter().any(|a| a.eq_ignore_ascii_case(&ip)) {
            continue;
        }
        let (id, upn, _) = audit_user(audit);
        if id
            .as_deref()
            .is_some_and(|i| i.eq_ignore_ascii_case(own_id))
        {
            continue;
        }
        out.hits.push(Lead {
            user_id: id,
            upn,
            signal: Signal {
                kind: HitKind::AdminAction,
                at: audit.activity_date_time,
                text: format!(
                    "This account {kind} {own_name} (\"{}\") from {ip}, an address the attacker used: the attacker holds it.",
                    audit.activity_display_name.as_deref().unwrap_or("")
                ),
            },
        });
    }
    out
}

/// The judgement of one action, a pure function: `Some(reason)` when it counts.
pub(super) fn judge_action(
    at: Option<DateTime<Utc>>,
    address: Option<&str>,
    attacker: &[String],
    usual: Option<&BTreeSet<String>>,
    window_start: DateTime<Utc>,
) -> Option<String> {
    let in_window = at.is_some_and(|t| t >= window_start);
    match address {
        Some(ip) if attacker.iter().any(|a| a.eq_ignore_ascii_case(ip)) => {
            Some(format!("from {ip}, an address the attacker used"))
        }
        Some(ip) => match usual {
            Some(usual) if usual.contains(&ip.to_ascii_lowercase()) => None,
            Some(_) if in_window => Some(format!(
                "from {ip}, an address this account had not signed in from in the {USUAL_ADDRESS_DAYS} days before the incident window"
            )),
            // Without the account's history only the attacker's own addresses decide.
            _ => None,
        },
        None if in_window => {
            Some("in the incident window, and the audit records no address to clear it".into())
        }
        None => None,
    }
}

/// Reads the directory audit for actions the account `own` (object id, name) took on other
/// accounts since `reach_back`, and keeps those from the attacker's side (see the module).
pub(super) async fn look<T: IncidentTenant>(
    tenant: &T,
    own: (&str, &str),
    attacker: &[String],
    window_start: DateTime<Utc>,
    reach_back: DateTime<Utc>,
) -> Look {
    let (own_id, _) = own;
    let mut out = Look::default();
    let query = DirectoryAuditQuery {
        since: Some(reach_back),
        initiated_by_user_id: Some(own_id.to_owned()),
        ..DirectoryAuditQuery::default()
    };
    let audits = match tenant.directory_audits(&query).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                "sweep-admin-actions",
                "Directory audits: actions this account took, to find accounts it acted on",
                "GET /auditLogs/directoryAudits",
                &read.pages,
            ));
            read.items
        }
        Err(e) => {
            out.not_available.push(format!(
                "Accounts this account acted on as an administrator: {e}"
            ));
            return out;
        }
    };
    let actions: Vec<(&DirectoryAudit, &'static str)> = audits
        .iter()
        .filter(|a| {
            a.result
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case("success"))
        })
        .filter_map(|a| Some((a, action_kind(a.activity_display_name.as_deref()?)?)))
        .collect();
    if actions.is_empty() {
        return out;
    }
    // Where the account signed in: its usual addresses (successful interactive sign-ins in the
    // retention window before the incident window) and, for actions whose entry names no
    // address, its sign-ins of any kind around the actions.
    let interactive = SignInQuery {
        user_id: Some(own_id.to_owned()),
        since: Some(window_start - Duration::days(USUAL_ADDRESS_DAYS)),
        ..SignInQuery::default()
    };
    let mut seen: Vec<(DateTime<Utc>, String)> = Vec::new();
    let usual: Option<BTreeSet<String>> = match tenant.sign_ins(&interactive).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                "sweep-account-sign-ins",
                "The account's own interactive sign-ins (its usual addresses before the incident window)",
                "GET /auditLogs/signIns",
                &read.pages,
            ));
            let ok: Vec<&SignIn> = read.items.iter().filter(|s| succeeded(s)).collect();
            seen.extend(ok.iter().filter_map(|s| {
                Some((
                    s.created_date_time?,
                    s.ip_address.clone()?.to_ascii_lowercase(),
                ))
            }));
            Some(
                ok.iter()
                    .filter(|s| s.created_date_time.is_some_and(|t| t < window_start))
                    .filter_map(|s| s.ip_address.as_deref())
                    .map(str::to_ascii_lowercase)
                    .collect(),
            )
        }
        Err(e) => {
            out.not_available.push(format!(
                "The account's usual addresses (its sign-ins before the incident window): {e}. Only actions from the attacker's addresses are listed."
            ));
            None
        }
    };
    if actions.iter().any(|(a, _)| initiator_address(a).is_none()) {
        let first = actions
            .iter()
            .filter_map(|(a, _)| a.activity_date_time)
            .min()
            .unwrap_or(reach_back);
        let background = SignInQuery {
            user_id: Some(own_id.to_owned()),
            since: Some(first - Duration::minutes(SIGN_IN_BEFORE_ACTION_MINUTES)),
            event_types: vec![SignInEventType::NonInteractiveUser],
            ..SignInQuery::default()
        };
        match tenant.sign_ins(&background).await {
            Ok(read) => {
                out.captures.extend(Capture::pages(
                    "sweep-account-token-use",
                    "The account's non-interactive sign-ins around its administrative actions",
                    "GET /beta/auditLogs/signIns",
                    &read.pages,
                ));
                seen.extend(read.items.iter().filter(|s| succeeded(s)).filter_map(|s| {
                    Some((s.created_date_time?, s.ip_address.clone()?.to_ascii_lowercase()))
                }));
            }
            Err(e) => out.not_available.push(format!(
                "The account's non-interactive sign-ins (where it was when an audit entry names no address): {e}"
            )),
        }
    }
    for (audit, kind) in actions {
        let named = initiator_address(audit);
        let stand_in = match (&named, audit.activity_date_time) {
            (None, Some(at)) => address_before(&seen, at).cloned(),
            _ => None,
        };
        let address = named
            .clone()
            .or_else(|| stand_in.as_ref().map(|(_, ip)| ip.clone()));
        let Some(mut why) = judge_action(
            audit.activity_date_time,
            address.as_deref(),
            attacker,
            usual.as_ref(),
            window_start,
        ) else {
            continue;
        };
        if let Some((t, _)) = &stand_in {
            why = format!(
                "{why} (the audit entry names no address: this is where the account signed in at {} just before)",
                t.format("%Y-%m-%d %H:%M UTC")
            );
        }
        for target in audit.target_resources.iter().flatten() {
            let text = |key: &str| {
                target
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            if !text("type").is_some_and(|t| t.eq_ignore_ascii_case("user")) {
                continue;
            }
            let (id, upn) = (text("id"), text("userPrincipalName"));
            if id
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(own_id))
            {
                continue;
            }
            let name = upn.clone().or(id.clone()).unwrap_or_default();
            out.hits.push(Lead {
                user_id: id,
                upn,
                signal: Signal {
                    kind: HitKind::AdminAction,
                    at: audit.activity_date_time,
                    text: format!(
                        "This account {kind} {name} (\"{}\") {why}.",
                        audit.activity_display_name.as_deref().unwrap_or("")
                    ),
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn resets_method_changes_role_grants_and_enables_are_admin_actions_and_self_service_is_not() {
        assert!(action_kind("Reset password").is_some());
        assert!(action_kind("Reset password (by admin)").is_some());
        assert!(action_kind("Admin registered security info").is_some());
        assert!(action_kind("Add member to role").is_some());
        assert!(action_kind("Add eligible member to role in PIM completed (permanent)").is_some());
        assert!(action_kind("Enable account").is_some());
        assert_eq!(action_kind("Reset password (self-service)"), None);
        assert_eq!(action_kind("User registered security info"), None);
        assert_eq!(action_kind("Update user"), None);
        assert_eq!(action_kind("Remove member from role"), None);
    }

    #[test]
    fn an_action_from_an_attacker_address_counts_in_or_before_the_window() {
        let attacker = vec!["198.51.100.87".to_owned()];
        let usual = BTreeSet::from(["192.0.2.10".to_owned()]);
        let start = at("2025-11-18T09:12:00Z");
        for when in ["2025-11-18T10:05:00Z", "2025-11-17T22:00:00Z"] {
            let why = judge_action(
                Some(at(when)),
                Some("198.51.100.87"),
                &attacker,
                Some(&usual),
                start,
            );
            assert!(why.is_some_and(|w| w.contains("attacker")), "{when}");
        }
    }

    #[test]
    fn the_owners_reset_from_the_usual_office_address_is_kept_even_in_the_window() {
        let usual = BTreeSet::from(["192.0.2.10".to_owned()]);
        let why = judge_action(
            Some(at("2025-11-18T14:02:00Z")),
            Some("192.0.2.10"),
            &["198.51.100.23".to_owned()],
            Some(&usual),
            at("2025-11-18T09:12:00Z"),
        );
        assert_eq!(why, None);
    }

    #[test]
    fn a_first_seen_address_counts_only_inside_the_window_and_only_with_the_history() {
        let usual = BTreeSet::from(["192.0.2.10".to_owned()]);
        let start = at("2025-11-18T09:12:00Z");
        let attacker = vec!["198.51.100.23".to_owned()];
        // Another address of the same provider, never seen for this account: the attacker's.
        let inside = judge_action(
            Some(at("2025-11-18T10:05:00Z")),
            Some("198.51.100.87"),
            &attacker,
            Some(&usual),
            start,
        );
        assert!(inside.is_some_and(|w| w.contains("had not signed in from")));
        // The same address a week earlier is not tied to this incident.
        let before = judge_action(
            Some(at("2025-11-10T10:05:00Z")),
            Some("198.51.100.87"),
            &attacker,
            Some(&usual),
            start,
        );
        assert_eq!(before, None);
        // Without the sign-in history nothing but the attacker's own addresses decides.
        let blind = judge_action(
            Some(at("2025-11-18T10:05:00Z")),
            Some("198.51.100.87"),
            &attacker,
            None,
            start,
        );
        assert_eq!(blind, None);
    }

    #[test]
    fn an_entry_without_address_takes_the_accounts_sign_in_just_before_it() {
        let seen = vec![
            (at("2025-11-18T08:55:00Z"), "192.0.2.10".to_owned()),
            (at("2025-11-18T10:03:00Z"), "198.51.100.87".to_owned()),
            (at("2025-11-18T13:58:00Z"), "192.0.2.10".to_owned()),
        ];
        let reset_of_the_hop = address_before(&seen, at("2025-11-18T10:05:00Z"));
        assert_eq!(
            reset_of_the_hop.map(|s| s.1.as_str()),
            Some("198.51.100.87")
        );
        let office_reset = address_before(&seen, at("2025-11-18T14:02:00Z"));
        assert_eq!(office_reset.map(|s| s.1.as_str()), Some("192.0.2.10"));
        // More than an hour after the last sign-in, nothing stands in.
        assert_eq!(address_before(&seen, at("2025-11-18T15:30:00Z")), None);
        // A sign-in after the action does not explain it.
        assert_eq!(address_before(&seen, at("2025-11-18T08:50:00Z")), None);
    }

    #[test]
    fn an_action_with_no_address_is_listed_inside_the_window_only() {
        let start = at("2025-11-18T09:12:00Z");
        let usual = BTreeSet::new();
        assert!(judge_action(
            Some(at("2025-11-18T10:00:00Z")),
            None,
            &[],
            Some(&usual),
            start
        )
        .is_some());
        assert!(judge_action(
            Some(at("2025-11-01T10:00:00Z")),
            None,
            &[],
            Some(&usual),
            start
        )
        .is_none());
    }
}
