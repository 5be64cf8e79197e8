//! Triage (DESIGN §2.3): what kind of compromise, since when, and is this account the entry point
//! or the second hop?
//!
//! Reads the account's interactive and non-interactive sign-ins, its risk state and detections,
//! Defender alerts and incidents, its consents — for the last 24 hours, then 7 days when 24 hours
//! show nothing suspicious — and proposes a [`CompromiseKind`] with the evidence behind it. The
//! admin confirms or changes the kind; the incident window start (the first suspicious event) is
//! journaled and used by the later steps to pre-select what appeared during the incident.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{DirectoryAuditQuery, SignIn, SignInEventType, SignInQuery},
    security::RiskDetection,
};
use futures_util::{
    future::{join, join5, BoxFuture},
    FutureExt,
};
use serde::Serialize;
use serde_json::json;

use super::{
    tenant::IncidentTenant, Action, Capture, Check, Phase, Plan, PlanItem, Step, StepContext,
    StepInfo, Verification,
};
use crate::{report::incident::CompromiseKind, Error};

/// The triage step's key.
pub const KEY: &str = "triage";

/// Error code of an MFA request the user denied or did not answer.
const MFA_DENIED: [i64; 2] = [500_121, 50_074];
/// Error code of a wrong password.
const BAD_PASSWORD: i64 = 50_126;
/// Distinct accounts failing from one range that make a spray.
const SPRAY_ACCOUNTS: usize = 5;
/// Denials before an approval that make MFA fatigue.
const FATIGUE_DENIALS: usize = 3;
/// Scopes that let an app read or send mail or files, or keep access.
pub const RISKY_SCOPES: [&str; 9] = [
    "Mail.ReadWrite",
    "Mail.Send",
    "Mail.Read",
    "Files.ReadWrite.All",
    "Files.Read.All",
    "offline_access",
    "MailboxSettings.ReadWrite",
    "Mail.ReadBasic",
    "Sites.ReadWrite.All",
];

/// One fact pointing to a kind of compromise.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// The kind it points to.
    pub kind: CompromiseKind,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What was seen, in plain words (contains tenant strings: render as text).
    pub text: String,
}

/// What triage read and concluded.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Findings {
    /// The proposed kind.
    pub proposed: CompromiseKind,
    /// Everything that points somewhere.
    pub signals: Vec<Signal>,
    /// The first suspicious event: the incident window start.
    pub window_start: Option<DateTime<Utc>>,
    /// Hours looked back (24, or 168 when 24 showed nothing).
    pub lookback_hours: i64,
    /// Other accounts that signed in successfully from the same suspicious addresses earlier.
    pub earlier_accounts: Vec<String>,
    /// The suspicious addresses (detections, risky sign-ins, denied MFA, spray successes): the
    /// attacker's, as far as triage can tell. The watch window and the sideways sweep use them.
    pub attacker_addresses: Vec<String>,
    /// Reads that failed (licence, permission), so the admin knows what triage could not see.
    pub gaps: Vec<String>,
    /// Identity Protection's risk level, when known.
    pub risk_level: Option<String>,
}

/// The data triage looks at.
#[derive(Debug, Default, Clone)]
pub struct TriageInput {
    /// The account's interactive sign-ins.
    pub interactive: Vec<SignIn>,
    /// Its non-interactive sign-ins.
    pub non_interactive: Vec<SignIn>,
    /// Tenant-wide sign-ins in the same period (for spray and second-hop checks).
    pub tenant_sign_ins: Vec<SignIn>,
    /// Its risk detections.
    pub detections: Vec<RiskDetection>,
    /// Consents by the account in the period: (time, app display name, scopes).
    pub consents: Vec<(DateTime<Utc>, String)>,
    /// Alerts naming the account: (first activity, title).
    pub alerts: Vec<(DateTime<Utc>, String)>,
    /// Whether the account has any sign-in method besides the password.
    pub has_mfa_method: Option<bool>,
    /// The account's object id.
    pub user_id: String,
}

fn failed(s: &SignIn) -> Option<i64> {
    s.status
        .as_ref()
        .and_then(|st| st.error_code)
        .filter(|c| *c != 0)
}

fn risky_level(level: Option<&str>) -> bool {
    matches!(level, Some("low" | "medium" | "high"))
}

fn range_of(ip: &str) -> String {
    match ip.rsplit_once('.') {
        Some((prefix, _)) if !ip.contains(':') => format!("{prefix}.0/24"),
        _ => ip.to_owned(),
    }
}

/// The analysis, a pure function of what was read.
pub fn analyse(input: &TriageInput, lookback_hours: i64) -> Findings {
    let mut signals = Vec::new();
    let mut interactive: Vec<&SignIn> = input.interactive.iter().collect();
    interactive.sort_by_key(|s| s.created_date_time);
    let at = |s: &SignIn| s.created_date_time.unwrap_or_default();

    // Suspicious addresses: detections, risky sign-ins, MFA denials.
    let mut suspicious: BTreeSet<String> = input
        .detections
        .iter()
        .filter_map(|d| d.ip_address.clone())
        .collect();
    for s in &interactive {
        if risky_level(s.risk_level_during_sign_in.as_deref()) {
            suspicious.extend(s.ip_address.clone());
        }
    }

    // MFA fatigue: several denials followed by an approval.
    let denials: Vec<&&SignIn> = interactive
        .iter()
        .filter(|s| failed(s).is_some_and(|c| MFA_DENIED.contains(&c)))
        .collect();
    if denials.len() >= FATIGUE_DENIALS {
        let last_denial = denials.last().map(|s| at(s)).unwrap_or_default();
        if let Some(approval) = interactive
            .iter()
            .find(|s| failed(s).is_none() && at(s) >= last_denial)
        {
            signals.push(Signal {
                kind: CompromiseKind::MfaFatigue,
                at: at(denials[0]),
                text: format!(
                    "{} MFA requests denied from {} between {} and {}, then approved at {}.",
                    denials.len(),
                    denials[0]
                        .ip_address
                        .as_deref()
                        .unwrap_or("an unknown address"),
                    at(denials[0]).format("%H:%M"),
                    last_denial.format("%H:%M"),
                    at(approval).format("%H:%M"),
                ),
            });
            suspicious.extend(denials.iter().filter_map(|s| s.ip_address.clone()));
        }
    }

    // Password spray: failures across many accounts from one range, then a success here.
    let mut failing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &input.tenant_sign_ins {
        if failed(s) == Some(BAD_PASSWORD) {
            if let (Some(ip), Some(user)) = (&s.ip_address, &s.user_id) {
                failing
                    .entry(range_of(ip))
                    .or_default()
                    .insert(user.clone());
            }
        }
    }
    for s in interactive.iter().filter(|s| failed(s).is_none()) {
        let Some(ip) = &s.ip_address else { continue };
        if let Some(users) = failing
            .get(&range_of(ip))
            .filter(|u| u.len() >= SPRAY_ACCOUNTS)
        {
            signals.push(Signal {
                kind: CompromiseKind::PasswordSpray,
                at: at(s),
                text: format!(
                    "Wrong-password failures against {} accounts from {}, then this account signed in from {} ({}).",
                    users.len(),
                    range_of(ip),
                    ip,
                    s.client_app_used.as_deref().unwrap_or("unknown client"),
                ),
            });
            suspicious.insert(ip.clone());
            break;
        }
    }
    for d in &input.detections {
        if d.risk_event_type.as_deref() == Some("passwordSpray") {
            signals.push(Signal {
                kind: CompromiseKind::PasswordSpray,
                at: d.activity_date_time.unwrap_or_default(),
                text: "Identity Protection detected a password spray against this account.".into(),
            });
        }
    }

    // Token theft / AiTM: a success from a suspicious address, then token refreshes from it.
    for s in interactive.iter().filter(|s| failed(s).is_none()) {
        let Some(ip) = &s.ip_address else { continue };
        if !suspicious.contains(ip)
            || signals
                .iter()
                .any(|g| g.kind != CompromiseKind::TokenTheft && g.text.contains(ip.as_str()))
        {
            continue;
        }
        let refreshes = input
            .non_interactive
            .iter()
            .filter(|n| {
                n.ip_address.as_deref() == Some(ip) && n.created_date_time >= s.created_date_time
            })
            .count();
        if refreshes > 0 {
            signals.push(Signal {
                kind: CompromiseKind::TokenTheft,
                at: at(s),
                text: format!(
                    "Sign-in with MFA from {ip} ({}) flagged as risky, then {refreshes} non-interactive token refresh(es) from the same address.",
                    s.location.as_ref().and_then(|l| l.country_or_region.clone()).unwrap_or_else(|| "unknown location".into()),
                ),
            });
            break;
        }
    }
    for d in &input.detections {
        if matches!(
            d.risk_event_type.as_deref(),
            Some("anomalousToken" | "tokenIssuerAnomaly" | "attackerinTheMiddle")
        ) {
            signals.push(Signal {
                kind: CompromiseKind::TokenTheft,
                at: d.activity_date_time.unwrap_or_default(),
                text: format!(
                    "Identity Protection: {} from {}.",
                    d.risk_event_type.as_deref().unwrap_or(""),
                    d.ip_address.as_deref().unwrap_or("an unknown address")
                ),
            });
        }
    }

    // Consent phishing: a consent with mail/file scopes in the period.
    for (when, text) in &input.consents {
        signals.push(Signal {
            kind: CompromiseKind::ConsentPhishing,
            at: *when,
            text: format!("Consent given by this account: {text}."),
        });
    }

    if input.has_mfa_method == Some(false) {
        signals.push(Signal {
            kind: CompromiseKind::ServiceAccount,
            at: interactive.first().map(|s| at(s)).unwrap_or_default(),
            text: "The account has no sign-in method besides its password (no MFA).".into(),
        });
    }

    // The proposal: the most specific pattern wins; a low risk score does not clear a pattern.
    let order = [
        CompromiseKind::MfaFatigue,
        CompromiseKind::PasswordSpray,
        CompromiseKind::TokenTheft,
        CompromiseKind::ConsentPhishing,
        CompromiseKind::ServiceAccount,
    ];
    let has_sign_in_signal = signals.iter().any(|s| {
        matches!(
            s.kind,
            CompromiseKind::MfaFatigue | CompromiseKind::PasswordSpray | CompromiseKind::TokenTheft
        )
    });
    let proposed = if !has_sign_in_signal
        && signals
            .iter()
            .any(|s| s.kind == CompromiseKind::ConsentPhishing)
    {
        CompromiseKind::ConsentPhishing
    } else if signals
        .iter()
        .any(|s| s.kind == CompromiseKind::PasswordSpray)
        && signals
            .iter()
            .any(|s| s.kind == CompromiseKind::ServiceAccount)
        && !signals.iter().any(|s| s.kind == CompromiseKind::MfaFatigue)
    {
        CompromiseKind::PasswordSpray
    } else {
        order
            .into_iter()
            .find(|k| signals.iter().any(|s| s.kind == *k))
            .unwrap_or(CompromiseKind::Undetermined)
    };

    let mut window_start = signals
        .iter()
        .filter(|s| s.kind != CompromiseKind::ServiceAccount)
        .map(|s| s.at)
        .min();
    if window_start.is_none() {
        window_start = input.alerts.iter().map(|(t, _)| *t).min();
    }

    // Second hop: someone else signed in successfully from a suspicious address first.
    let first = window_start.unwrap_or_default();
    let earlier_accounts: BTreeSet<String> = input
        .tenant_sign_ins
        .iter()
        .filter(|s| failed(s).is_none())
        .filter(|s| s.user_id.as_deref() != Some(input.user_id.as_str()))
        .filter(|s| {
            s.ip_address
                .as_ref()
                .is_some_and(|ip| suspicious.contains(ip))
        })
        .filter(|s| s.created_date_time.is_some_and(|t| t < first))
        .filter_map(|s| s.user_principal_name.clone().or_else(|| s.user_id.clone()))
        .collect();

    Findings {
        proposed,
        signals,
        window_start,
        lookback_hours,
        earlier_accounts: earlier_accounts.into_iter().collect(),
        attacker_addresses: suspicious.into_iter().collect(),
        gaps: Vec::new(),
        risk_level: None,
    }
}

/// The triage step: reads, analyses, and offers the kinds and the chain question as choices.
pub struct Triage;

static INFO: StepInfo = StepInfo {
    key: KEY,
    phase: Phase::Triage,
    title: "Triage: what kind of compromise?",
    why: "Containment differs by kind (a consent needs no stolen password; a spray may have hit others), \
          and the first suspicious event sets the window the next steps use to spot what the attacker added.",
    effect: "Nothing in the tenant changes. Your answer and the incident window are recorded in the case.",
    saved_first: "The sign-in logs (interactive and non-interactive), risk detections, alerts and incidents read for triage.",
    destructive: false,
    refuses_protected: false,
};

struct Read {
    input: TriageInput,
    captures: Vec<Capture>,
    gaps: Vec<String>,
    risk_level: Option<String>,
}

async fn read<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    since: DateTime<Utc>,
) -> Result<Read, Error> {
    let user = cx
        .tenant
        .user(cx.user)
        .await?
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!(
                "There is no account {} in this tenant. Check the spelling in the case.",
                cx.account
            ),
        })?;
    let mut read = Read {
        input: TriageInput {
            user_id: user.id.clone(),
            ..TriageInput::default()
        },
        captures: Vec::new(),
        gaps: Vec::new(),
        risk_level: None,
    };
    let gap = |what: &str, e: firebreak_graph::Error, gaps: &mut Vec<String>| {
        gaps.push(format!("{what}: {e}"))
    };
    let base = SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(since),
        ..SignInQuery::default()
    };
    let non = SignInQuery {
        event_types: vec![SignInEventType::NonInteractiveUser],
        ..base.clone()
    };
    let everyone = SignInQuery {
        since: Some(since),
        ..SignInQuery::default()
    };
    let consents = DirectoryAuditQuery {
        since: Some(since),
        initiated_by_user_id: Some(user.id.clone()),
        activity_display_name: Some("Consent to application".into()),
        ..DirectoryAuditQuery::default()
    };
    // None of these reads needs another's answer: issue them together, so the admin waits for
    // the slowest rather than for the sum (`make bench`, P1).
    let (
        (interactive, non_interactive, tenant_sign_ins, risky, detections),
        (alerts, incidents, consent_audits, grants, methods),
    ) = join(
        join5(
            cx.tenant.sign_ins(&base),
            cx.tenant.sign_ins(&non),
            cx.tenant.sign_ins(&everyone),
            cx.tenant.risky_user(&user.id),
            cx.tenant.risk_detections(&user.id, since),
        ),
        join5(
            cx.tenant.alerts(since),
            cx.tenant.incidents(since),
            cx.tenant.directory_audits(&consents),
            join(
                cx.tenant.user_grants(cx.user),
                cx.tenant.tenant_wide_grants(),
            ),
            cx.tenant.methods(cx.user),
        ),
    )
    .await;
    match interactive {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "sign-ins-interactive",
                "Interactive sign-ins of the account",
                "GET /auditLogs/signIns",
                &f.pages,
            ));
            read.input.interactive = f.items;
        }
        Err(e) => gap("Interactive sign-ins", e, &mut read.gaps),
    }
    match non_interactive {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "sign-ins-non-interactive",
                "Non-interactive sign-ins (token refreshes) of the account",
                "GET /beta/auditLogs/signIns",
                &f.pages,
            ));
            read.input.non_interactive = f.items;
        }
        Err(e) => gap("Non-interactive sign-ins", e, &mut read.gaps),
    }
    match tenant_sign_ins {
        Ok(f) => read.input.tenant_sign_ins = f.items,
        Err(e) => gap("Sign-ins of the other accounts", e, &mut read.gaps),
    }
    match risky {
        Ok(r) => read.risk_level = r.and_then(|r| r.risk_level),
        Err(e) => gap("Risk state", e, &mut read.gaps),
    }
    match detections {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "risk-detections",
                "Risk detections of the account",
                "GET /identityProtection/riskDetections",
                &f.pages,
            ));
            read.input.detections = f.items;
        }
        Err(e) => gap("Risk detections", e, &mut read.gaps),
    }
    let upn = user
        .user_principal_name
        .clone()
        .unwrap_or_else(|| cx.account.to_owned())
        .to_lowercase();
    match alerts {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "alerts",
                "Defender alerts",
                "GET /security/alerts_v2",
                &f.pages,
            ));
            read.input.alerts = f
                .items
                .iter()
                .filter(|a| {
                    a.evidence
                        .iter()
                        .flatten()
                        .any(|e| e.to_string().to_lowercase().contains(&upn))
                })
                .map(|a| {
                    (
                        a.first_activity_date_time
                            .or(a.created_date_time)
                            .unwrap_or_default(),
                        a.title.clone().unwrap_or_default(),
                    )
                })
                .collect();
        }
        Err(e) => gap("Defender alerts", e, &mut read.gaps),
    }
    match incidents {
        Ok(f) => read.captures.extend(Capture::pages(
            "incidents",
            "Defender incidents",
            "GET /security/incidents",
            &f.pages,
        )),
        Err(e) => gap("Defender incidents", e, &mut read.gaps),
    }
    let (grants, tenant_wide) = grants;
    match consent_audits {
        Ok(f) => {
            // Tenant-wide consents the account gave (every user's data), from the audit log.
            read.input
                .consents
                .extend(super::consents::tenant_wide_signals(
                    &f.items,
                    &user.id,
                    &tenant_wide.map(|g| g.items).unwrap_or_default(),
                ));
            let grants = grants.map(|g| g.items).unwrap_or_default();
            for audit in &f.items {
                let target = audit.target_resources.iter().flatten().find_map(|t| {
                    Some((
                        t.get("id")?.as_str()?.to_owned(),
                        t.get("displayName")
                            .and_then(|d| d.as_str())
                            .unwrap_or("")
                            .to_owned(),
                    ))
                });
                let Some((sp, name)) = target else { continue };
                let risky: Vec<&str> = grants
                    .iter()
                    .filter(|g| g.client_id == sp)
                    .flat_map(|g| g.scope.as_deref().unwrap_or("").split_whitespace())
                    .filter(|s| RISKY_SCOPES.contains(s))
                    .collect();
                if !risky.is_empty() {
                    read.input.consents.push((
                        audit.activity_date_time.unwrap_or_default(),
                        format!("\"{name}\" with {}", risky.join(", ")),
                    ));
                }
            }
        }
        Err(e) => gap("Consent audit", e, &mut read.gaps),
    }
    match methods {
        Ok(f) => {
            read.input.has_mfa_method = Some(f.items.iter().any(|m| {
                m.kind()
                    .is_some_and(|k| k != firebreak_graph::methods::MethodKind::Password)
            }));
        }
        Err(e) => gap("Authentication methods", e, &mut read.gaps),
    }
    Ok(read)
}

/// Reads the tenant for the last 24 hours, then 7 days if nothing suspicious showed up.
pub async fn triage<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
) -> Result<(Findings, Vec<Capture>), Error> {
    let mut result = None;
    for hours in [24, 24 * 7] {
        let read = read(cx, cx.now - Duration::hours(hours)).await?;
        let mut findings = analyse(&read.input, hours);
        findings.gaps = read.gaps;
        findings.risk_level = read.risk_level;
        let found =
            findings.window_start.is_some() && findings.proposed != CompromiseKind::Undetermined;
        result = Some((findings, read.captures));
        if found {
            break;
        }
    }
    result.ok_or_else(|| Error::ReportFailed {
        detail: "triage read nothing".into(),
    })
}

/// Every kind the admin may choose, as its journal id.
pub fn kind_id(kind: CompromiseKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

const KINDS: [CompromiseKind; 7] = [
    CompromiseKind::TokenTheft,
    CompromiseKind::MfaFatigue,
    CompromiseKind::PasswordSpray,
    CompromiseKind::ConsentPhishing,
    CompromiseKind::ServiceAccount,
    CompromiseKind::SharedMailbox,
    CompromiseKind::Undetermined,
];

impl<T: IncidentTenant> Step<T> for Triage {
    fn info(&self) -> &StepInfo {
        &INFO
    }

    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>> {
        async move {
            let (findings, captures) = triage(cx).await?;
            let mut items: Vec<PlanItem> = KINDS
                .iter()
                .map(|kind| PlanItem {
                    id: format!("kind:{}", kind_id(*kind)),
                    kind: "Kind of compromise".into(),
                    label: kind.label().into(),
                    details: Vec::new(),
                    created: None,
                    recommended: *kind == findings.proposed,
                    reasons: findings.signals.iter().filter(|s| s.kind == *kind).map(|s| s.text.clone()).collect(),
                    fixed: false,
                    group: Some("kind".into()),
                    action: Action::Record,
                })
                .collect();
            let second_hop = !findings.earlier_accounts.is_empty();
            for (id, label, recommended, reasons) in [
                ("chain:entry-point", "This account is the entry point", !second_hop, Vec::new()),
                (
                    "chain:second-hop",
                    "This account is the second hop (another account was compromised first)",
                    second_hop,
                    findings.earlier_accounts.iter().map(|a| format!("{a} signed in successfully from a suspicious address earlier.")).collect(),
                ),
            ] {
                items.push(PlanItem {
                    id: id.into(),
                    kind: "Chain".into(),
                    label: label.into(),
                    details: Vec::new(),
                    created: None,
                    recommended,
                    reasons,
                    fixed: false,
                    group: Some("chain".into()),
                    action: Action::Record,
                });
            }
            let mut warnings: Vec<String> = findings.gaps.iter().map(|g| format!("Could not read {g}")).collect();
            if findings.window_start.is_none() {
                warnings.push("No suspicious event was found in 7 days: set the incident window start yourself.".into());
            }
            if matches!(findings.risk_level.as_deref(), Some("low" | "none")) && findings.proposed != CompromiseKind::Undetermined {
                warnings.push("Identity Protection rates the risk low; a clear sign-in pattern still counts.".into());
            }
            Ok(Plan {
                step: String::new(),
                account: cx.account.to_owned(),
                summary: format!(
                    "Proposed: {}. Incident window from {}.",
                    findings.proposed.label(),
                    findings.window_start.map_or_else(|| "unknown".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                ),
                items,
                warnings,
                saved_first: captures.iter().map(|c| c.description.clone()).collect(),
                facts: json!({
                    "proposedKind": findings.proposed,
                    "windowStart": findings.window_start,
                    "lookbackHours": findings.lookback_hours,
                    "signals": findings.signals,
                    "earlierAccounts": findings.earlier_accounts,
                    "attackerAddresses": findings.attacker_addresses,
                    "riskLevel": findings.risk_level,
                    "gaps": findings.gaps,
                }),
                captures,
            })
        }
        .boxed()
    }

    fn verify<'a>(
        &'a self,
        _cx: &'a StepContext<'a, T>,
        selected: &'a [String],
        _started: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Verification, Error>> {
        async move {
            Ok(Verification::from_checks(vec![Check {
                item: "answer".into(),
                ok: selected.iter().any(|s| s.starts_with("kind:")),
                detail: format!("Recorded: {}", selected.join(", ")),
            }]))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in(user: &str, at: &str, ip: &str, code: i64, risk: &str) -> SignIn {
        serde_json::from_value(json!({
            "id": format!("{user}-{at}"),
            "createdDateTime": at,
            "userId": user,
            "userPrincipalName": format!("{user}@contoso.com"),
            "ipAddress": ip,
            "riskLevelDuringSignIn": risk,
            "status": {"errorCode": code},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn denied_pushes_then_an_approval_are_proposed_as_mfa_fatigue_from_the_first_denial() {
        let mut input = TriageInput {
            user_id: "joni".into(),
            ..TriageInput::default()
        };
        for minute in 50..54 {
            input.interactive.push(sign_in(
                "joni",
                &format!("2025-04-08T07:{minute}:00Z"),
                "203.0.113.88",
                500_121,
                "medium",
            ));
        }
        input.interactive.push(sign_in(
            "joni",
            "2025-04-08T07:55:00Z",
            "203.0.113.88",
            0,
            "medium",
        ));
        let findings = analyse(&input, 24);
        assert_eq!(
            findings.proposed,
            CompromiseKind::MfaFatigue,
            "{:?}",
            findings.signals
        );
        assert_eq!(findings.window_start, "2025-04-08T07:50:00Z".parse().ok());
    }

    #[test]
    fn a_risky_success_followed_by_refreshes_from_the_same_address_is_token_theft() {
        let mut input = TriageInput {
            user_id: "megan".into(),
            ..TriageInput::default()
        };
        input.interactive.push(sign_in(
            "megan",
            "2025-03-12T08:00:00Z",
            "192.0.2.10",
            0,
            "none",
        ));
        input.interactive.push(sign_in(
            "megan",
            "2025-03-12T19:12:04Z",
            "203.0.113.45",
            0,
            "medium",
        ));
        input.non_interactive.push(sign_in(
            "megan",
            "2025-03-12T20:12:04Z",
            "203.0.113.45",
            0,
            "none",
        ));
        let findings = analyse(&input, 24);
        assert_eq!(
            findings.proposed,
            CompromiseKind::TokenTheft,
            "{:?}",
            findings.signals
        );
        assert_eq!(findings.window_start, "2025-03-12T19:12:04Z".parse().ok());
        assert!(findings.earlier_accounts.is_empty());
    }

    #[test]
    fn failures_across_many_accounts_from_one_range_then_a_success_is_a_spray_and_a_low_score_does_not_clear_it(
    ) {
        let mut input = TriageInput {
            user_id: "diego".into(),
            ..TriageInput::default()
        };
        for n in 0..6 {
            input.tenant_sign_ins.push(sign_in(
                &format!("user{n}"),
                "2025-05-20T08:10:00Z",
                &format!("203.0.113.{}", 10 + n),
                50_126,
                "none",
            ));
        }
        input.interactive.push(sign_in(
            "diego",
            "2025-05-20T08:59:00Z",
            "203.0.113.14",
            0,
            "none",
        ));
        let findings = analyse(&input, 24);
        assert_eq!(
            findings.proposed,
            CompromiseKind::PasswordSpray,
            "{:?}",
            findings.signals
        );
    }

    #[test]
    fn another_account_signing_in_from_the_same_address_first_suggests_a_second_hop() {
        let mut input = TriageInput {
            user_id: "grady".into(),
            ..TriageInput::default()
        };
        input.interactive.push(sign_in(
            "grady",
            "2025-08-14T11:20:00Z",
            "198.51.100.7",
            0,
            "high",
        ));
        input.non_interactive.push(sign_in(
            "grady",
            "2025-08-14T11:40:00Z",
            "198.51.100.7",
            0,
            "none",
        ));
        input.tenant_sign_ins.push(sign_in(
            "lidia",
            "2025-08-14T09:00:00Z",
            "198.51.100.7",
            0,
            "none",
        ));
        let findings = analyse(&input, 24);
        assert_eq!(
            findings.earlier_accounts,
            vec!["lidia@contoso.com".to_owned()]
        );
    }

    #[test]
    fn nothing_suspicious_is_undetermined_with_no_window() {
        let findings = analyse(&TriageInput::default(), 168);
        assert_eq!(findings.proposed, CompromiseKind::Undetermined);
        assert_eq!(findings.window_start, None);
    }
}
