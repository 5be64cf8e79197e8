//! The sign-in and risk checks: interactive sign-ins, non-interactive and service-principal
//! sign-ins, Identity Protection's risky user and detections. They change nothing; they record
//! the attacker's addresses and what Identity Protection saw.
//!
//! A sign-in is the attacker's when it came from the infrastructure triage attributed
//! ([`crate::attribution`]: an address, its /24 or /48, a hosting network, a session) or from an
//! address Identity Protection flagged; each row says which, so the checks work the same on a
//! tenant without Entra ID P2.

use std::collections::{BTreeMap, BTreeSet};

use firebreak_graph::logs::{SignIn, SignInEventType, SignInQuery};
use serde_json::json;

use super::{account, attacker_addresses, item, Draft};
use crate::{
    attribution::{range_of, Infrastructure},
    procedure::{tenant::IncidentTenant, triage::recorded_infrastructure, Action, StepContext},
    Error,
};

/// The attacker's infrastructure for these checks: what triage attributed, with the addresses
/// Identity Protection flagged in the window added.
async fn infrastructure<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    user_id: &str,
    draft: &mut Draft,
) -> Infrastructure {
    let mut infra = recorded_infrastructure(cx.case, cx.scope);
    let flagged: Vec<String> = attacker_addresses(cx, user_id, draft)
        .await
        .into_iter()
        .collect();
    infra.add_addresses(
        &flagged,
        "Identity Protection flagged a sign-in or detection from it",
    );
    infra
}

/// Whether Identity Protection rated a sign-in risky.
pub(super) fn risky(s: &SignIn) -> bool {
    matches!(
        s.risk_level_during_sign_in.as_deref(),
        Some("low" | "medium" | "high")
    ) || matches!(
        s.risk_state.as_deref(),
        Some("atRisk" | "confirmedCompromised")
    )
}

fn succeeded(s: &SignIn) -> bool {
    s.status.as_ref().and_then(|st| st.error_code).unwrap_or(0) == 0
}

/// Sign-ins grouped by address: (count, first, last, apps, places).
fn by_address(sign_ins: &[&SignIn]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<&SignIn>> = BTreeMap::new();
    for s in sign_ins {
        groups
            .entry(s.ip_address.clone().unwrap_or_default())
            .or_default()
            .push(s);
    }
    groups
        .into_iter()
        .map(|(ip, list)| {
            let times: Vec<_> = list.iter().filter_map(|s| s.created_date_time).collect();
            let apps: BTreeSet<&str> = list
                .iter()
                .filter_map(|s| s.app_display_name.as_deref())
                .collect();
            let places: BTreeSet<String> = list
                .iter()
                .filter_map(|s| s.location.as_ref())
                .map(|l| {
                    [l.city.as_deref(), l.country_or_region.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|p| !p.is_empty())
                .collect();
            let mut details = vec![format!("Successful sign-ins: {}", list.len())];
            if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) {
                details.push(format!(
                    "From {} to {}",
                    first.format("%Y-%m-%d %H:%M UTC"),
                    last.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            if !apps.is_empty() {
                details.push(format!(
                    "Apps: {}",
                    apps.into_iter().collect::<Vec<_>>().join(", ")
                ));
            }
            if !places.is_empty() {
                details.push(format!(
                    "Where: {}",
                    places.into_iter().collect::<Vec<_>>().join("; ")
                ));
            }
            (ip, details)
        })
        .collect()
}

/// Interactive sign-ins of the account in the window; addresses the attacker used are findings.
pub(super) async fn interactive<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record the addresses the attacker signed in from with this account.");
    let user = account(cx).await?;
    // Beta: only beta gives the network (ASN) and session of a sign-in.
    let query = SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(draft.since),
        event_types: vec![SignInEventType::InteractiveUser],
        ..SignInQuery::default()
    };
    let sign_ins = match cx.tenant.sign_ins(&query).await {
        Ok(s) => s,
        Err(e) => return draft.gap("Interactive sign-ins", e),
    };
    draft.capture(
        "interactive",
        "Interactive sign-ins of the account in the incident window",
        "GET /beta/auditLogs/signIns",
        &sign_ins.pages,
    );
    let infra = infrastructure(cx, &user.id, draft).await;
    let ok: Vec<&SignIn> = sign_ins.items.iter().filter(|s| succeeded(s)).collect();
    let mut ordinary = 0;
    let mut attacker: BTreeSet<String> = BTreeSet::new();
    for (ip, details) in by_address(&ok) {
        let from_ip: Vec<&&SignIn> = ok
            .iter()
            .filter(|s| s.ip_address.as_deref() == Some(ip.as_str()))
            .collect();
        let mut why: Vec<String> = from_ip
            .iter()
            .filter_map(|s| infra.match_sign_in(s))
            .map(|m| format!("The attacker's infrastructure: {}.", m.why))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if from_ip.iter().any(|s| risky(s)) {
            why.push("Identity Protection flagged sign-ins from this address.".into());
        }
        if why.is_empty() {
            ordinary += 1;
            continue;
        }
        attacker.insert(ip.clone());
        let mut row = item(
            format!("seen:address:{ip}"),
            "Sign-in address",
            ip.clone(),
            details,
            Action::Record,
        );
        why.push("Nothing to undo here: containment already signed the attacker out. The sideways sweep looks for this infrastructure on other accounts.".into());
        row.reasons = why;
        draft.finding(row);
    }
    let mut all: Vec<String> = infra.addresses();
    all.extend(attacker);
    all.sort();
    all.dedup();
    draft.fact("attackerAddresses", json!(all));
    draft.fact("infrastructure", json!(infra.lines()));
    draft.clean(format!(
        "{} successful interactive sign-ins from {ordinary} address(es), none from the attacker's infrastructure or flagged by Identity Protection.",
        ok.len()
    ));
    Ok(())
}

/// Non-interactive sign-ins of the account and service-principal sign-ins from the attacker's
/// addresses.
pub(super) async fn non_interactive<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary(
        "Record token refreshes and app sign-ins that came from the attacker's addresses.",
    );
    let user = account(cx).await?;
    let infra = infrastructure(cx, &user.id, draft).await;
    let query = SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(draft.since),
        event_types: vec![SignInEventType::NonInteractiveUser],
        ..SignInQuery::default()
    };
    match cx.tenant.sign_ins(&query).await {
        Ok(list) => {
            draft.capture(
                "non-interactive",
                "Non-interactive sign-ins of the account in the incident window",
                "GET /beta/auditLogs/signIns",
                &list.pages,
            );
            let from_attacker: Vec<&SignIn> = list
                .items
                .iter()
                .filter(|s| succeeded(s) && (risky(s) || infra.match_sign_in(s).is_some()))
                .collect();
            for (ip, details) in by_address(&from_attacker) {
                let why = from_attacker
                    .iter()
                    .filter(|s| s.ip_address.as_deref() == Some(ip.as_str()))
                    .find_map(|s| infra.match_sign_in(s))
                    .map_or_else(|| "Identity Protection flagged them".to_owned(), |m| m.why);
                let mut row = item(
                    format!("seen:token:{ip}"),
                    "Token refreshes",
                    ip,
                    details,
                    Action::Record,
                );
                row.reasons = vec![format!("Tokens refreshed from the attacker's infrastructure ({why}): the stolen session was in use (revoked at containment).")];
                draft.finding(row);
            }
            draft.clean(format!(
                "{} non-interactive sign-ins, none from the attacker's infrastructure.",
                list.items.len()
            ));
        }
        Err(e) => draft.gap("Non-interactive sign-ins", e)?,
    }
    // Service principals signing in from the infrastructure: by range where Graph can search a
    // prefix, by address otherwise.
    let ranges = infra.ranges();
    // (what, prefix to search, address to search)
    let mut targets: Vec<(String, Option<String>, Option<String>)> = ranges
        .iter()
        .filter(|r| r.prefix.is_some())
        .map(|r| (r.cidr.clone(), r.prefix.clone(), None))
        .collect();
    for ip in infra.addresses() {
        let covered = range_of(&ip).is_some_and(|r| {
            ranges
                .iter()
                .any(|q| q.cidr == r.cidr && q.prefix.is_some())
        });
        if !covered {
            targets.push((ip.clone(), None, Some(ip)));
        }
    }
    for (ip, prefix, address) in &targets {
        let query = SignInQuery {
            ip_address: address.clone(),
            ip_prefix: prefix.clone(),
            since: Some(draft.since),
            event_types: vec![SignInEventType::ServicePrincipal],
            ..SignInQuery::default()
        };
        match cx.tenant.sign_ins(&query).await {
            Ok(list) => {
                draft.capture(
                    "service-principal",
                    "Service-principal sign-ins from the attacker's infrastructure",
                    "GET /beta/auditLogs/signIns",
                    &list.pages,
                );
                let mut apps: BTreeMap<String, usize> = BTreeMap::new();
                for s in list.items.iter().filter(|s| succeeded(s)) {
                    *apps
                        .entry(
                            s.app_display_name
                                .clone()
                                .or_else(|| s.app_id.clone())
                                .unwrap_or_default(),
                        )
                        .or_default() += 1;
                }
                for (app, count) in apps {
                    let mut row = item(
                        format!("seen:app-sign-in:{ip}:{app}"),
                        "App sign-in",
                        app,
                        vec![format!("{count} sign-in(s) from {ip}")],
                        Action::Record,
                    );
                    row.reasons = vec![format!("An app signed in with its own credentials from the attacker's infrastructure ({ip}): see \"Credentials added to apps\".")];
                    draft.finding(row);
                }
            }
            Err(e) => {
                draft.gap("Service-principal sign-ins", e)?;
                break;
            }
        }
    }
    if targets.is_empty() {
        draft.clean("Neither triage nor Identity Protection named an attacker address, so app sign-ins were not searched by address.");
    }
    Ok(())
}

/// Identity Protection's risk state and detections for the account.
pub(super) async fn risk<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record what Identity Protection saw for this account.");
    let user = account(cx).await?;
    match cx.tenant.risky_user(&user.id).await {
        Ok(Some(r)) => {
            draft.capture_json(
                "risky-user",
                "The user's risk state",
                "GET /identityProtection/riskyUsers/{id}",
                &json!({ "id": r.id, "riskLevel": r.risk_level, "riskState": r.risk_state, "riskDetail": r.risk_detail, "riskLastUpdatedDateTime": r.risk_last_updated_date_time }),
            );
            if r.risk_level.as_deref() == Some("hidden") {
                draft.gap_text("Risk levels are hidden: Identity Protection's detail needs Microsoft Entra ID P2 in this tenant. Look in Entra admin center > Protection > Identity Protection > Risky users instead.".into());
                return Ok(());
            } else if matches!(
                r.risk_state.as_deref(),
                Some("atRisk" | "confirmedCompromised")
            ) {
                let mut row = item(
                    "seen:risk-state".into(),
                    "Risk state",
                    r.risk_state.clone().unwrap_or_default(),
                    vec![format!(
                        "Risk level: {}",
                        r.risk_level.as_deref().unwrap_or("unknown")
                    )],
                    Action::Record,
                );
                row.reasons = vec!["Identity Protection considers the user at risk. It is cleared when the user changes the password at recovery.".into()];
                draft.finding(row);
            } else {
                draft.clean(format!(
                    "Risk state: {}.",
                    r.risk_state.as_deref().unwrap_or("none")
                ));
            }
        }
        Ok(None) => draft.clean("Identity Protection has no risk record for the user."),
        Err(e) => draft.gap("The risky-user record", e)?,
    }
    match cx.tenant.risk_detections(&user.id, draft.since).await {
        Ok(d) => {
            draft.capture(
                "detections",
                "Risk detections of the user in the incident window",
                "GET /identityProtection/riskDetections",
                &d.pages,
            );
            for r in &d.items {
                let mut row = item(
                    format!("seen:detection:{}", r.id),
                    "Risk detection",
                    r.risk_event_type.clone().unwrap_or_default(),
                    vec![
                        format!("Level: {}", r.risk_level.as_deref().unwrap_or("unknown")),
                        format!("Address: {}", r.ip_address.as_deref().unwrap_or("unknown")),
                    ],
                    Action::Record,
                );
                row.created = r.activity_date_time;
                draft.finding(row);
            }
            if d.items.is_empty() {
                draft.clean("No risk detections in the window.");
            }
        }
        Err(e) => draft.gap("Risk detections", e)?,
    }
    Ok(())
}
