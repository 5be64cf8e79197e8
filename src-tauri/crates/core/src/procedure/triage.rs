//! Triage (spec/design.md §2.3): what kind of compromise, since when, and is this account the entry point
//! or the second hop?
//!
//! Reads the account's interactive and non-interactive sign-ins over the sign-in retention window
//! (30 days with Entra ID P1), its risk state and detections, Defender alerts and incidents, its
//! consents and security-info registrations, and proposes a [`CompromiseKind`] with the evidence
//! behind it. Sign-in patterns and consents are looked for in the last 24 hours, then 7 days when
//! 24 hours show nothing suspicious.
//!
//! Who the attacker is comes from [`crate::attribution`]: the addresses a Defender alert's
//! evidence or the admin names (the case's indicators), risky sign-ins and detections when
//! Identity Protection (P2) shows them, the addresses a sign-in pattern points to, and the rules
//! that need no seed (a first-seen network around an alert from an unfamiliar client, first-seen
//! hosting followed by signs of use). The resulting infrastructure (addresses, ranges, hosting
//! networks, sessions, each with its evidence) is journaled in the step's facts beside the plain
//! `attackerAddresses`; the tenant's sign-ins from its ranges over the whole retention window are
//! then read, so an entry account that signed in days before the alert is named
//! (`earlierAccounts`). When Identity Protection's data is hidden (no P2) the findings say so.
//!
//! The admin confirms or changes the kind; the incident window start (the first suspicious event)
//! is journaled and used by the later steps to pre-select what appeared during the incident.

use crate::routine::{first_strange, Routine, ROUTINE_DAYS};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{DirectoryAudit, DirectoryAuditQuery, SignIn, SignInEventType, SignInQuery},
    security::{Alert, RiskDetection},
};
use futures_util::{
    future::{join, join3, join5, BoxFuture},
    FutureExt,
};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    tenant::IncidentTenant, Action, Capture, Check, Phase, Plan, PlanItem, Step, StepContext,
    StepInfo, Verification,
};
use crate::{
    attribution::{
        self, parse_address, range_of, Activity, Evidence, Infrastructure, MemberKind,
        OtherAccount, Seed, SeedSource, RETENTION_DAYS,
    },
    report::incident::CompromiseKind,
    Error,
};

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
/// How long before the first sign of the attacker a sign-in strange to the account's routine
/// starts the incident window instead.
const STRANGE_BEFORE_HOURS: i64 = 24;
/// Ranges of the attacker's infrastructure searched tenant-wide over the retention window.
const MAX_RANGE_READS: usize = 6;
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

/// Whether Identity Protection's risk data could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IdentityProtection {
    /// Risk levels were read (Entra ID P2).
    Visible,
    /// Risk levels read `hidden`: the tenant has no Entra ID P2.
    Hidden,
    /// Nothing told either way (no risk record, or the reads failed).
    #[default]
    Unknown,
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
    /// Hours of sign-ins read (the retention window).
    pub lookback_hours: i64,
    /// Hours in which sign-in patterns and consents were looked for (24, or 168 when 24 showed
    /// nothing).
    pub signal_hours: i64,
    /// Other accounts that signed in successfully from the attacker's infrastructure before this
    /// one did: the entry point, when this account is the second hop.
    pub earlier_accounts: Vec<String>,
    /// The same, with when and why.
    pub earlier: Vec<OtherAccount>,
    /// The attacker's addresses (the infrastructure's address members). The watch window and
    /// older readers use them.
    pub attacker_addresses: Vec<String>,
    /// The attacker's infrastructure with its evidence.
    pub infrastructure: Infrastructure,
    /// Whether Identity Protection's data was visible.
    pub identity_protection: IdentityProtection,
    /// What attribution worked from and what it cannot tell, in plain words.
    pub notes: Vec<String>,
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
    /// Tenant-wide sign-ins read (the last day, and the attacker's ranges over the retention
    /// window) for spray and second-hop checks.
    pub tenant_sign_ins: Vec<SignIn>,
    /// Its risk detections.
    pub detections: Vec<RiskDetection>,
    /// Consents by the account in the period: (time, app display name, scopes).
    pub consents: Vec<(DateTime<Utc>, String)>,
    /// Alerts naming the account: (first activity, title).
    pub alerts: Vec<(DateTime<Utc>, String)>,
    /// Addresses named by the alerts' evidence or the admin.
    pub seeds: Vec<Seed>,
    /// Security-info registrations and consents of the account, with their address.
    pub activities: Vec<Activity>,
    /// Whether Identity Protection's data is visible.
    pub identity_protection: IdentityProtection,
    /// Whether the account has any sign-in method besides the password.
    pub has_mfa_method: Option<bool>,
    /// The account's object id.
    pub user_id: String,
    /// Now: patterns and consents are looked for in the hours before it (none: everything).
    pub now: Option<DateTime<Utc>>,
    /// Whether other accounts' sign-ins could not be read at all (no sign-in log).
    pub others_unread: bool,
    /// Times the case's indicators name for the attacker's activity on this account (written by
    /// the admin, or by the sweep that opened the case): the window starts no later.
    pub named_times: Vec<DateTime<Utc>>,
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

fn range_text(ip: &str) -> String {
    range_of(ip).map_or_else(|| ip.to_owned(), |r| r.cidr)
}

fn hhmm(t: DateTime<Utc>) -> String {
    t.format("%H:%M").to_string()
}

/// The analysis, a pure function of what was read: sign-in patterns and consents within
/// `signal_hours` of `input.now`, attribution over everything read.
pub fn analyse(input: &TriageInput, signal_hours: i64) -> Findings {
    let mut signals = Vec::new();
    let recent = |t: Option<DateTime<Utc>>| match (input.now, t) {
        (Some(now), Some(t)) => t >= now - Duration::hours(signal_hours),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let mut interactive: Vec<&SignIn> = input.interactive.iter().collect();
    interactive.sort_by_key(|s| s.created_date_time);
    let at = |s: &SignIn| s.created_date_time.unwrap_or_default();
    let p2 = input.identity_protection != IdentityProtection::Hidden;
    let mut seeds: Vec<Seed> = input.seeds.clone();

    // Identity Protection (P2 only: without it every level reads `hidden`).
    if p2 {
        for d in &input.detections {
            if let Some(ip) = &d.ip_address {
                seeds.push(Seed {
                    source: SeedSource::IdentityProtection,
                    address: ip.clone(),
                    at: d.activity_date_time,
                    why: format!(
                        "Identity Protection detection \"{}\"",
                        d.risk_event_type.as_deref().unwrap_or("risk")
                    ),
                });
            }
        }
        for s in &interactive {
            if risky_level(s.risk_level_during_sign_in.as_deref()) {
                if let Some(ip) = &s.ip_address {
                    seeds.push(Seed {
                        source: SeedSource::IdentityProtection,
                        address: ip.clone(),
                        at: s.created_date_time,
                        why: format!(
                            "sign-in at {} rated {} risk by Identity Protection",
                            at(s).format("%-d %B %H:%M"),
                            s.risk_level_during_sign_in.as_deref().unwrap_or("")
                        ),
                    });
                }
            }
        }
    }

    // MFA fatigue: several denials followed by an approval.
    let denials: Vec<&&SignIn> = interactive
        .iter()
        .filter(|s| recent(s.created_date_time))
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
                    hhmm(at(denials[0])),
                    hhmm(last_denial),
                    hhmm(at(approval)),
                ),
            });
            for d in &denials {
                if let Some(ip) = &d.ip_address {
                    seeds.push(Seed {
                        source: SeedSource::Pattern,
                        address: ip.clone(),
                        at: d.created_date_time,
                        why: "MFA requests denied from it before an approval (MFA fatigue)".into(),
                    });
                }
            }
        }
    }

    // Password spray: failures across many accounts from one range, then a success here. A
    // range more accounts sign in from than fail from is the organisation's own network (an
    // office where colleagues mistype their passwords every day), not a sprayer's: a spray's
    // guesses mostly fail.
    let mut failing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut succeeding: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &input.tenant_sign_ins {
        if !recent(s.created_date_time) {
            continue;
        }
        let (Some(ip), Some(user)) = (&s.ip_address, &s.user_id) else {
            continue;
        };
        let by_range = match failed(s) {
            Some(BAD_PASSWORD) => &mut failing,
            None => &mut succeeding,
            Some(_) => continue,
        };
        by_range
            .entry(range_text(ip))
            .or_default()
            .insert(user.clone());
    }
    let sprayed_from = |range: &str| {
        failing.get(range).filter(|failed| {
            failed.len() >= SPRAY_ACCOUNTS
                && succeeding.get(range).map_or(0, BTreeSet::len) < failed.len()
        })
    };
    for s in interactive
        .iter()
        .filter(|s| failed(s).is_none() && recent(s.created_date_time))
    {
        let Some(ip) = &s.ip_address else { continue };
        // A success from an address the account itself signed in from on ROUTINE_DAYS days
        // before is its owner at their desk: an office's shared range, where colleagues mistype
        // their passwords every day, is no spray.
        if Routine::of(&input.interactive, at(s)).has_address(ip) {
            continue;
        }
        if let Some(users) = sprayed_from(&range_text(ip)) {
            signals.push(Signal {
                kind: CompromiseKind::PasswordSpray,
                at: at(s),
                text: format!(
                    "Wrong-password failures against {} accounts from {}, then this account signed in from {} ({}).",
                    users.len(),
                    range_text(ip),
                    ip,
                    s.client_app_used.as_deref().unwrap_or("unknown client"),
                ),
            });
            seeds.push(Seed {
                source: SeedSource::Pattern,
                address: ip.clone(),
                at: s.created_date_time,
                why: format!(
                    "signed in from it after wrong-password failures against {} accounts from its range (password spray)",
                    users.len()
                ),
            });
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

    // The attacker's infrastructure.
    let mut mine: Vec<SignIn> = input.interactive.clone();
    mine.extend(input.non_interactive.iter().cloned());
    let infrastructure = attribution::attribute(&Evidence {
        user_id: &input.user_id,
        user_sign_ins: &mine,
        tenant_sign_ins: &input.tenant_sign_ins,
        seeds: &seeds,
        activities: &input.activities,
        alerts: &input.alerts,
        others_unread: input.others_unread,
    });

    // Token theft / AiTM: a success from the attacker's infrastructure, then token refreshes
    // from it.
    let explained = |ip: &str, signals: &[Signal]| {
        signals
            .iter()
            .any(|g| g.kind != CompromiseKind::TokenTheft && g.text.contains(ip))
    };
    let mut refreshes: Vec<&SignIn> = input
        .non_interactive
        .iter()
        .filter(|n| failed(n).is_none() && infrastructure.match_sign_in(n).is_some())
        .collect();
    refreshes.sort_by_key(|n| n.created_date_time);
    for s in interactive.iter().filter(|s| failed(s).is_none()) {
        let Some(ip) = &s.ip_address else { continue };
        let Some(why) = infrastructure.match_sign_in(s) else {
            continue;
        };
        if explained(ip, &signals) {
            continue;
        }
        let after = refreshes
            .iter()
            .filter(|n| n.created_date_time >= s.created_date_time)
            .count();
        if after > 0 {
            signals.push(Signal {
                kind: CompromiseKind::TokenTheft,
                at: at(s),
                text: format!(
                    "Sign-in with MFA from {ip} ({}) — {} — then {after} non-interactive token refresh(es) from the attacker's infrastructure.",
                    s.location.as_ref().and_then(|l| l.country_or_region.clone()).unwrap_or_else(|| "unknown location".into()),
                    why.why,
                ),
            });
            break;
        }
    }
    if !signals.iter().any(|g| g.kind == CompromiseKind::TokenTheft) {
        let unexplained: Vec<&&SignIn> = refreshes
            .iter()
            .filter(|n| {
                n.ip_address
                    .as_deref()
                    .is_none_or(|ip| !explained(ip, &signals))
            })
            .collect();
        if let Some(first) = unexplained.first() {
            let why = infrastructure
                .match_sign_in(first)
                .map(|m| m.why)
                .unwrap_or_default();
            signals.push(Signal {
                kind: CompromiseKind::TokenTheft,
                at: at(first),
                text: format!(
                    "{} token refresh(es) from the attacker's infrastructure without a sign-in from there, the first from {} — {why}: a stolen token or session in use.",
                    unexplained.len(),
                    first.ip_address.as_deref().unwrap_or("an unknown address"),
                ),
            });
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
        if recent(Some(*when)) {
            signals.push(Signal {
                kind: CompromiseKind::ConsentPhishing,
                at: *when,
                text: format!("Consent given by this account: {text}."),
            });
        }
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
        .chain(infrastructure.first_seen)
        .chain(input.named_times.iter().copied())
        .min();
    if window_start.is_none() {
        window_start = input.alerts.iter().map(|(t, _)| *t).min();
    }
    // When none of the account's sign-ins matched the attacker's infrastructure (the window came
    // from an alert, an activity or a time the indicators name), the attacker's first sign-in may
    // be one from an address the infrastructure does not hold: the first sign-in strange to the
    // account's routine in the day before starts the window.
    let mut notes = Vec::new();
    if let (Some(start), None) = (window_start, infrastructure.first_seen) {
        // The routine is what the account did on at least three separate days before that first
        // sign: an attacker there for less than three days cannot be part of it.
        let routine = Routine::of(&input.interactive, start);
        let earlier = routine
            .known()
            .then(|| {
                first_strange(
                    &mine,
                    &routine,
                    start - Duration::hours(STRANGE_BEFORE_HOURS),
                    start,
                )
            })
            .flatten();
        if let Some((at, s)) = earlier.and_then(|s| Some((s.created_date_time?, s))) {
            window_start = Some(at);
            notes.push(format!(
                "The incident window starts at {}: the account was signed into then from {}, an address and a browser outside its routine (used on {ROUTINE_DAYS} days before), on no registered device — {} before the first sign of the attacker the evidence names.",
                at.format("%Y-%m-%d %H:%M UTC"),
                s.ip_address.as_deref().unwrap_or("an unknown address"),
                hours_text(start - at),
            ));
        }
    }

    // Second hop: someone else signed in successfully from the infrastructure first.
    let first = infrastructure
        .first_seen
        .or(window_start)
        .unwrap_or_default();
    let earlier: Vec<OtherAccount> =
        attribution::other_accounts(&infrastructure, &input.tenant_sign_ins, &input.user_id)
            .into_iter()
            .filter(|o| o.first_at.is_some_and(|t| t < first))
            .collect();

    if input.identity_protection == IdentityProtection::Hidden {
        notes.push(
            "Identity Protection's risk data is hidden in this tenant (no Entra ID P2): attribution used what Entra ID P1 gives instead — the addresses the alerts and you named, their range and network (hosting or not), country, client and session, and what is new for this account in the sign-ins read."
                .into(),
        );
    }
    let any_asn = mine.iter().any(|s| s.autonomous_system_number.is_some());
    if !mine.is_empty() && !any_asn {
        notes.push(
            "Cannot tell the network (ASN) of this account's sign-ins: the log gave none, so the attacker's addresses were widened to their /24 only, and a move to another range of the same provider would not be seen."
                .into(),
        );
    }
    if infrastructure.is_empty() {
        notes.push(
            "Cannot tell the attacker's addresses: no alert or risk detection names one, and no sign-in came from a network new to this account around the alert or from a first-seen hosting network in use. If you know an address, add it to the case's indicators and run triage again."
                .into(),
        );
    }
    notes.extend(
        infrastructure
            .cannot_tell
            .iter()
            .map(|c| format!("Cannot tell: {c}")),
    );

    Findings {
        proposed,
        signals,
        window_start,
        lookback_hours: RETENTION_DAYS * 24,
        signal_hours,
        earlier_accounts: earlier.iter().map(|o| o.account.clone()).collect(),
        earlier,
        attacker_addresses: infrastructure.addresses(),
        infrastructure,
        identity_protection: input.identity_protection,
        notes,
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

/// Whether an alert's evidence names the account (by object id or user principal name).
fn names_account(alert: &Alert, user_id: &str, upn: &str) -> bool {
    alert.evidence.iter().flatten().any(|e| {
        let account = e.get("userAccount");
        let field = |key: &str| {
            account
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        field("azureAdUserId").eq_ignore_ascii_case(user_id)
            || field("userPrincipalName").eq_ignore_ascii_case(upn)
            || e.to_string().to_lowercase().contains(upn)
    })
}

/// The addresses an alert's `ipEvidence` names.
fn alert_addresses(alert: &Alert) -> Vec<(String, Option<String>)> {
    alert
        .evidence
        .iter()
        .flatten()
        .filter(|e| {
            e.get("@odata.type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("#microsoft.graph.security.ipEvidence"))
        })
        .filter_map(|e| {
            let ip = e.get("ipAddress").and_then(Value::as_str)?.to_owned();
            let country = e
                .get("countryLetterCode")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Some((ip, country))
        })
        .collect()
}

/// Unified audit log operations that are an Entra ID sign-in (record type
/// `AzureActiveDirectoryStsLogon`), and the one of them that failed.
const AUDIT_SIGN_IN_OPERATIONS: [&str; 2] = ["UserLoggedIn", "UserLoginFailed"];
/// Mailbox work whose address the audit log keeps: the account's activity beside its sign-ins.
const AUDIT_MAILBOX_OPERATIONS: [&str; 6] = [
    "MailItemsAccessed",
    "New-InboxRule",
    "Set-InboxRule",
    "UpdateInboxRules",
    "Set-Mailbox",
    "Send",
];

/// What the unified audit log gives in place of the sign-in log.
pub(crate) struct AuditLogSignIns {
    /// The account's interactive sign-ins, oldest first (address and time only).
    pub(crate) sign_ins: Vec<SignIn>,
    /// Its mailbox work, with the address.
    pub(crate) activities: Vec<Activity>,
    /// The search's records as read.
    pub(crate) captures: Vec<Capture>,
}

/// Without the sign-in log (Entra ID Free), the account's interactive sign-ins as the unified
/// audit log keeps them (`AzureActiveDirectoryStsLogon` records), and its mailbox work with their
/// addresses: one Purview audit search from `since`, named for the case and account so that a
/// later step reuses it. The audit log lacks the network, location, app and session.
pub(crate) async fn audit_log_sign_ins<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    user_id: &str,
    upn: &str,
    since: DateTime<Utc>,
) -> Result<AuditLogSignIns, String> {
    let query = firebreak_graph::logs::NewAuditLogQuery {
        display_name: format!(
            "Firebreak {} {} sign-ins from the audit log",
            cx.case.id, cx.scope
        ),
        filter_start_date_time: since,
        filter_end_date_time: cx.now,
        operation_filters: AUDIT_SIGN_IN_OPERATIONS
            .iter()
            .chain(AUDIT_MAILBOX_OPERATIONS.iter())
            .map(|s| (*s).to_owned())
            .collect(),
        user_principal_name_filters: vec![upn.to_owned()],
        ..firebreak_graph::logs::NewAuditLogQuery::default()
    };
    let search = finished_search(cx.tenant, &query).await?;
    let mut out = AuditLogSignIns {
        sign_ins: Vec::new(),
        activities: Vec::new(),
        captures: Capture::pages(
            "sign-ins-audit-log",
            "The account's sign-ins and mailbox work from the unified audit log (no sign-in log in this tenant)",
            "POST /security/auditLog/queries",
            &search.records.pages,
        ),
    };
    for r in &search.records.items {
        let (Some(at), Some(ip)) = (
            r.created_date_time,
            r.client_ip.as_deref().filter(|ip| !ip.is_empty()),
        ) else {
            continue;
        };
        let operation = r.operation.as_deref().unwrap_or("");
        if AUDIT_SIGN_IN_OPERATIONS.contains(&operation) {
            out.sign_ins
                .extend(sign_in_of_record(r, Some((user_id, upn))));
        } else {
            out.activities.push(Activity {
                at,
                address: ip.to_owned(),
                what: format!("{operation} (unified audit log)"),
            });
        }
    }
    out.sign_ins.sort_by_key(|s| s.created_date_time);
    Ok(out)
}

/// A Purview audit search (reused by name) that finished, or why it cannot be read yet.
async fn finished_search<T: IncidentTenant>(
    tenant: &T,
    query: &firebreak_graph::logs::NewAuditLogQuery,
) -> Result<super::tenant::AuditSearch, String> {
    match tenant.reusable_audit_search(query).await {
        Ok(search) if search.succeeded() => Ok(search),
        Ok(search) => Err(format!(
            "the Purview audit search {} ended {} before Firebreak could read it; run this step again later",
            search.query_id, search.status
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// An Entra ID sign-in the unified audit log kept (`UserLoggedIn` or `UserLoginFailed`) as a
/// sign-in: address, time, result and the browser's user agent (from `ExtendedProperties`);
/// `account` names the user (object id, UPN), else the record's own user is used for both.
pub(crate) fn sign_in_of_record(
    r: &firebreak_graph::logs::AuditLogRecord,
    account: Option<(&str, &str)>,
) -> Option<SignIn> {
    let operation = r.operation.as_deref()?;
    if !AUDIT_SIGN_IN_OPERATIONS.contains(&operation) {
        return None;
    }
    let at = r.created_date_time?;
    let ip = r.client_ip.as_deref().filter(|ip| !ip.is_empty())?;
    let record_user = r.user_principal_name.as_deref().or(r.user_id.as_deref())?;
    let (user_id, upn) = account.unwrap_or((record_user, record_user));
    let failed = operation == AUDIT_SIGN_IN_OPERATIONS[1];
    let user_agent = r
        .audit_data
        .as_ref()
        .and_then(|d| d.get("ExtendedProperties"))
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("Name").and_then(Value::as_str) == Some("UserAgent"))
        })
        .and_then(|p| p.get("Value"))
        .and_then(Value::as_str)
        .filter(|ua| !ua.is_empty());
    serde_json::from_value::<SignIn>(json!({
        "userAgent": user_agent,
        "id": format!("audit:{}", r.id),
        "createdDateTime": at,
        "userId": user_id,
        "userPrincipalName": upn,
        "ipAddress": ip,
        "isInteractive": true,
        "appDisplayName": "a sign-in the unified audit log recorded",
        "status": {"errorCode": if failed { 50126 } else { 0 }},
    }))
    .ok()
}

/// A mailbox audit record (`MailItemsAccessed`, `Send`, a rule or mailbox change) as a
/// non-interactive sign-in: where the account's session was used from, for tenants without the
/// sign-in log, where token refreshes cannot be read. The browser comes from the record's
/// `ClientInfoString` when it carries one (Outlook on the web writes the user agent there).
pub(crate) fn session_use_of_record(r: &firebreak_graph::logs::AuditLogRecord) -> Option<SignIn> {
    let operation = r.operation.as_deref()?;
    if !AUDIT_MAILBOX_OPERATIONS.contains(&operation) {
        return None;
    }
    let at = r.created_date_time?;
    let ip = r.client_ip.as_deref().filter(|ip| !ip.is_empty())?;
    let upn = r.user_principal_name.as_deref().or(r.user_id.as_deref())?;
    let user_agent = r
        .audit_data
        .as_ref()
        .and_then(|d| d.get("ClientInfoString"))
        .and_then(Value::as_str)
        .and_then(|c| {
            c.find("Mozilla/")
                .map(|i| c[i..].trim_end_matches(';').to_owned())
        });
    serde_json::from_value::<SignIn>(json!({
        "userAgent": user_agent,
        "id": format!("audit:{}", r.id),
        "createdDateTime": at,
        "userId": upn,
        "userPrincipalName": upn,
        "ipAddress": ip,
        "isInteractive": false,
        "appDisplayName": format!("{operation} (unified audit log)"),
        "status": {"errorCode": 0},
    }))
    .ok()
}

/// The mailbox work of `upns` in `from..until` from the unified audit log, each record as a
/// non-interactive sign-in ([`session_use_of_record`]), with the search's pages.
pub(crate) async fn session_use_from_audit_log<T: IncidentTenant>(
    tenant: &T,
    name: String,
    upns: Vec<String>,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
) -> Result<(Vec<SignIn>, Vec<Capture>), String> {
    let query = firebreak_graph::logs::NewAuditLogQuery {
        display_name: name,
        filter_start_date_time: from,
        filter_end_date_time: until,
        operation_filters: AUDIT_MAILBOX_OPERATIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        user_principal_name_filters: upns,
        ..firebreak_graph::logs::NewAuditLogQuery::default()
    };
    let search = finished_search(tenant, &query).await?;
    let used = search
        .records
        .items
        .iter()
        .filter_map(session_use_of_record)
        .collect();
    let captures = Capture::pages(
        "session-use-audit-log",
        "Mailbox work of an account from the unified audit log (where its session was used, no sign-in log in this tenant)",
        "POST /security/auditLog/queries",
        &search.records.pages,
    );
    Ok((used, captures))
}

/// Every account's interactive sign-ins over the retention window, as the unified audit log kept
/// them: what stands in for the other accounts' sign-ins without a sign-in log (one Purview
/// search for the case, reused by name by every step and account that asks).
pub(crate) async fn everyone_from_audit_log<T: IncidentTenant>(
    tenant: &T,
    case: &crate::case::CaseId,
    now: DateTime<Utc>,
) -> Result<(Vec<SignIn>, Vec<Capture>), String> {
    let query = firebreak_graph::logs::NewAuditLogQuery {
        display_name: format!("Firebreak {case} every account's sign-ins from the audit log"),
        filter_start_date_time: now - Duration::days(RETENTION_DAYS),
        filter_end_date_time: now,
        operation_filters: AUDIT_SIGN_IN_OPERATIONS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        ..firebreak_graph::logs::NewAuditLogQuery::default()
    };
    let search = finished_search(tenant, &query).await?;
    let mut sign_ins: Vec<SignIn> = search
        .records
        .items
        .iter()
        .filter_map(|r| sign_in_of_record(r, None))
        .collect();
    sign_ins.sort_by_key(|s| s.created_date_time);
    let captures = Capture::pages(
        "sign-ins-everyone-audit-log",
        "Every account's sign-ins from the unified audit log (no sign-in log in this tenant)",
        "POST /security/auditLog/queries",
        &search.records.pages,
    );
    Ok((sign_ins, captures))
}

/// Triage's use of [`audit_log_sign_ins`]: the sign-ins and activities join the read, and a gap
/// says what the audit log does not keep.
async fn read_audit_log_sign_ins<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    user: &firebreak_graph::directory::User,
    since: DateTime<Utc>,
    read: &mut Read,
) {
    let upn = user
        .user_principal_name
        .clone()
        .unwrap_or_else(|| cx.account.to_owned());
    match audit_log_sign_ins(cx, &user.id, &upn, since).await {
        Ok(found) => {
            read.gaps.push(format!(
                "The sign-in log cannot be read in this tenant: {} sign-in(s) of the account were read from the unified audit log instead, which keeps the address and time but not the network, location, app or session.",
                found.sign_ins.len()
            ));
            read.captures.extend(found.captures);
            read.input.interactive.extend(found.sign_ins);
            read.input.activities.extend(found.activities);
        }
        Err(e) => read
            .gaps
            .push(format!("Sign-ins from the unified audit log: {e}")),
    }
}

/// The addresses the admin wrote in the case's indicators.
pub fn admin_addresses(indicators: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for text in indicators {
        for token in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')')) {
            let token = token.trim_matches(|c: char| matches!(c, '.' | '"' | '\''));
            if let Some(ip) = parse_address(token) {
                let ip = ip.to_string();
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// A duration as the admin reads it: minutes under two hours, else hours.
fn hours_text(d: Duration) -> String {
    if d < Duration::hours(2) {
        format!("{} minutes", d.num_minutes())
    } else {
        format!("{} hours", d.num_hours())
    }
}

/// The times written in the case's indicators, as `2026-01-23 08:34 UTC` or RFC 3339
/// (`2026-01-23T08:34:38Z`): when the admin, or the sweep that opened the case, saw the attacker
/// act on the account.
pub fn indicator_times(indicators: &[String]) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    for text in indicators {
        let mut rest = text.as_str();
        while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
            rest = &rest[i..];
            if let Some((at, used)) = time_at(rest) {
                out.push(at);
                rest = &rest[used..];
            } else {
                let skip = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                rest = &rest[skip..];
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A time at the start of `text` and how many bytes it took.
fn time_at(text: &str) -> Option<(DateTime<Utc>, usize)> {
    // `YYYY-MM-DD` then `T` or a space, `HH:MM`, optional `:SS`, then `Z` or ` UTC`.
    let date = text.get(..10)?;
    let separator = text.get(10..11)?;
    if separator != "T" && separator != " " {
        return None;
    }
    let clock = text.get(11..16)?;
    let mut used = 16;
    let seconds = match text.get(16..19) {
        Some(s) if s.starts_with(':') && s[1..].chars().all(|c| c.is_ascii_digit()) => {
            used = 19;
            &s[1..]
        }
        _ => "00",
    };
    let zone = text.get(used..).unwrap_or("");
    if zone.starts_with('Z') {
        used += 1;
    } else if zone.starts_with(" UTC") {
        used += 4;
    } else {
        return None;
    }
    let at = chrono::NaiveDateTime::parse_from_str(
        &format!("{date} {clock}:{seconds}"),
        "%Y-%m-%d %H:%M:%S",
    )
    .ok()?;
    Some((at.and_utc(), used))
}

/// The address and time of an audit entry's initiating user.
fn audit_activity(audit: &DirectoryAudit, what: &str) -> Option<Activity> {
    let ip = audit
        .initiated_by
        .as_ref()
        .and_then(|i| i.pointer("/user/ipAddress"))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())?;
    Some(Activity {
        at: audit.activity_date_time?,
        address: ip.to_owned(),
        what: what.to_owned(),
    })
}

async fn read<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Read, Error> {
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
            now: Some(cx.now),
            ..TriageInput::default()
        },
        captures: Vec::new(),
        gaps: Vec::new(),
        risk_level: None,
    };
    let gap = |what: &str, e: firebreak_graph::Error, gaps: &mut Vec<String>| {
        gaps.push(format!("{what}: {e}"))
    };
    let retention = cx.now - Duration::days(RETENTION_DAYS);
    let week = cx.now - Duration::days(7);
    // Beta for every sign-in read: only beta gives the network (ASN), session and user agent.
    let base = SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(retention),
        event_types: vec![SignInEventType::InteractiveUser],
        ..SignInQuery::default()
    };
    let non = SignInQuery {
        event_types: vec![SignInEventType::NonInteractiveUser],
        ..base.clone()
    };
    let everyone = SignInQuery {
        since: Some(cx.now - Duration::hours(24)),
        event_types: vec![SignInEventType::InteractiveUser],
        ..SignInQuery::default()
    };
    let consents = DirectoryAuditQuery {
        since: Some(week),
        initiated_by_user_id: Some(user.id.clone()),
        activity_display_name: Some("Consent to application".into()),
        ..DirectoryAuditQuery::default()
    };
    let registrations = DirectoryAuditQuery {
        since: Some(retention),
        target_id: Some(user.id.clone()),
        activity_display_name: Some("User registered security info".into()),
        ..DirectoryAuditQuery::default()
    };
    // None of these reads needs another's answer: issue them together, so the admin waits for
    // the slowest rather than for the sum (`make bench`, P1).
    let (
        (interactive, non_interactive, tenant_sign_ins, risky, detections),
        (alerts, incidents, consent_audits, grants, methods),
        registered,
    ) = join3(
        join5(
            cx.tenant.sign_ins(&base),
            cx.tenant.sign_ins(&non),
            cx.tenant.sign_ins(&everyone),
            cx.tenant.risky_user(&user.id),
            cx.tenant.risk_detections(&user.id, retention),
        ),
        join5(
            cx.tenant.alerts(week),
            cx.tenant.incidents(week),
            cx.tenant.directory_audits(&consents),
            join(
                cx.tenant.user_grants(cx.user),
                cx.tenant.tenant_wide_grants(),
            ),
            cx.tenant.methods(cx.user),
        ),
        cx.tenant.directory_audits(&registrations),
    )
    .await;
    // Sign-in logs refused for the licence mean no Entra ID P1, so no P2 either: Identity
    // Protection's actions will be refused too.
    let mut hidden = matches!(&interactive, Err(e) if e.is_premium_required());
    let sign_in_log_refused = hidden;
    match interactive {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "sign-ins-interactive",
                "Interactive sign-ins of the account (retention window)",
                "GET /beta/auditLogs/signIns",
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
                "Non-interactive sign-ins (token refreshes) of the account (retention window)",
                "GET /beta/auditLogs/signIns",
                &f.pages,
            ));
            read.input.non_interactive = f.items;
        }
        Err(e) => gap("Non-interactive sign-ins", e, &mut read.gaps),
    }
    if sign_in_log_refused {
        read_audit_log_sign_ins(cx, &user, retention, &mut read).await;
        match everyone_from_audit_log(cx.tenant, &cx.case.id, cx.now).await {
            Ok((everyone, captures)) => {
                read.captures.extend(captures);
                let mine = user
                    .user_principal_name
                    .as_deref()
                    .unwrap_or(cx.account)
                    .to_lowercase();
                read.input
                    .tenant_sign_ins
                    .extend(everyone.into_iter().filter(|s| {
                        s.user_principal_name
                            .as_deref()
                            .is_none_or(|u| u.to_lowercase() != mine)
                    }));
            }
            Err(e) => {
                read.input.others_unread = true;
                read.gaps.push(format!(
                    "Other accounts' sign-ins from the unified audit log: {e}"
                ));
            }
        }
    }
    match tenant_sign_ins {
        Ok(f) => read.input.tenant_sign_ins = f.items,
        Err(e) => gap("Sign-ins of the other accounts", e, &mut read.gaps),
    }
    let mut visible = false;
    match risky {
        Ok(r) => {
            read.risk_level = r.and_then(|r| r.risk_level);
            match read.risk_level.as_deref() {
                Some("hidden") => hidden = true,
                Some(_) => visible = true,
                None => {}
            }
        }
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
            hidden |= f
                .items
                .iter()
                .any(|d| d.risk_level.as_deref() == Some("hidden"));
            read.input.detections = f.items;
        }
        Err(e) => gap("Risk detections", e, &mut read.gaps),
    }
    for s in &read.input.interactive {
        match s.risk_level_during_sign_in.as_deref() {
            Some("hidden") => hidden = true,
            Some(_) => visible = true,
            None => {}
        }
    }
    read.input.identity_protection = if hidden {
        IdentityProtection::Hidden
    } else if visible {
        IdentityProtection::Visible
    } else {
        IdentityProtection::Unknown
    };
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
            for a in f.items.iter().filter(|a| names_account(a, &user.id, &upn)) {
                let when = a
                    .first_activity_date_time
                    .or(a.created_date_time)
                    .unwrap_or_default();
                let title = a.title.clone().unwrap_or_default();
                for (ip, country) in alert_addresses(a) {
                    read.input.seeds.push(Seed {
                        source: SeedSource::Alert,
                        address: ip,
                        at: Some(when),
                        why: format!(
                            "named in the evidence of the Defender alert \"{title}\" ({}{})",
                            when.format("%-d %B %H:%M"),
                            country.map(|c| format!(", {c}")).unwrap_or_default()
                        ),
                    });
                }
                read.input.alerts.push((when, title));
            }
        }
        Err(e) => gap("Defender alerts", e, &mut read.gaps),
    }
    read.input.named_times = indicator_times(&cx.case.metadata.indicators)
        .into_iter()
        .filter(|t| *t <= cx.now && *t >= retention)
        .collect();
    for ip in admin_addresses(&cx.case.metadata.indicators) {
        read.input.seeds.push(Seed {
            source: SeedSource::Admin,
            address: ip,
            at: None,
            why: "named by you in the case's indicators".into(),
        });
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
                read.input
                    .activities
                    .extend(audit_activity(audit, &format!("consent to \"{name}\"")));
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
    match registered {
        Ok(f) => {
            read.captures.extend(Capture::pages(
                "security-info-registrations",
                "Security-info registrations of the account (directory audit)",
                "GET /auditLogs/directoryAudits",
                &f.pages,
            ));
            read.input.activities.extend(
                f.items
                    .iter()
                    .filter_map(|a| audit_activity(a, "a sign-in method registered")),
            );
        }
        Err(e) => gap("Security-info registrations", e, &mut read.gaps),
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

/// Reads the tenant's sign-ins (interactive and non-interactive, every account) from the
/// infrastructure's ranges over the retention window, and from its addresses whose range cannot
/// be searched by prefix. Returns the sign-ins, their captures, and what could not be read.
async fn reach<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    infra: &Infrastructure,
) -> (Vec<SignIn>, Vec<Capture>, Vec<String>) {
    let since = cx.now - Duration::days(RETENTION_DAYS);
    let mut queries = infra.sign_in_searches(since);
    let mut notes = Vec::new();
    if queries.len() > MAX_RANGE_READS {
        notes.push(format!(
            "Cannot tell whether other accounts used all of the attacker's infrastructure over {RETENTION_DAYS} days: only the first {MAX_RANGE_READS} of {} ranges and addresses were searched.",
            queries.len()
        ));
        queries.truncate(MAX_RANGE_READS);
    }
    let mut sign_ins = Vec::new();
    let mut captures = Vec::new();
    for (i, (what, query)) in queries.iter().enumerate() {
        match cx.tenant.sign_ins(query).await {
            Ok(f) => {
                captures.extend(Capture::pages(
                    &format!("sign-ins-attacker-infrastructure-{i}"),
                    &format!("Sign-ins of every account from {what} (retention window)"),
                    "GET /beta/auditLogs/signIns",
                    &f.pages,
                ));
                sign_ins.extend(f.items);
            }
            Err(e) => notes.push(format!(
                "Could not read the sign-ins of other accounts from {what}: {e}"
            )),
        }
    }
    if !infra.networks().is_empty() {
        notes.push(format!(
            "Graph cannot filter sign-ins by network (ASN): other accounts were searched by the attacker's ranges over {RETENTION_DAYS} days, but other addresses of {} only in the last 24 hours.",
            infra
                .networks()
                .into_iter()
                .map(attribution::describe_network)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (sign_ins, captures, notes)
}

/// The sign-ins over the retention window of the other accounts that matched the infrastructure
/// on its network alone (at most [`MAX_RANGE_READS`] accounts), not already in `known`.
pub(crate) async fn network_histories<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    infra: &Infrastructure,
    known: &[SignIn],
    own_id: &str,
) -> (Vec<SignIn>, Vec<Capture>) {
    let candidates: Vec<String> = attribution::other_accounts(infra, known, own_id)
        .into_iter()
        .filter(|o| o.matched == MemberKind::Network)
        .filter_map(|o| o.user_id)
        .take(MAX_RANGE_READS)
        .collect();
    let seen: BTreeSet<&str> = known.iter().map(|s| s.id.as_str()).collect();
    let mut out = Vec::new();
    let mut captures = Vec::new();
    for (i, id) in candidates.iter().enumerate() {
        let query = SignInQuery {
            user_id: Some(id.clone()),
            since: Some(cx.now - Duration::days(RETENTION_DAYS)),
            event_types: vec![SignInEventType::InteractiveUser],
            ..SignInQuery::default()
        };
        if let Ok(f) = cx.tenant.sign_ins(&query).await {
            captures.extend(Capture::pages(
                &format!("sign-ins-network-history-{i}"),
                "Interactive sign-ins of an account seen on the attacker's network (is it their usual one?)",
                "GET /beta/auditLogs/signIns",
                &f.pages,
            ));
            out.extend(
                f.items
                    .into_iter()
                    .filter(|s| !seen.contains(s.id.as_str())),
            );
        }
    }
    (out, captures)
}

/// Reads the tenant and analyses it: patterns in the last 24 hours, then 7 days if nothing
/// suspicious showed up; then the tenant's sign-ins from the attacker's infrastructure over the
/// retention window, and the analysis again with them (the entry account of a second hop).
pub async fn triage<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
) -> Result<(Findings, Vec<Capture>), Error> {
    let read = read(cx).await?;
    let mut input = read.input;
    let mut captures = read.captures;
    let found =
        |f: &Findings| f.window_start.is_some() && f.proposed != CompromiseKind::Undetermined;
    let mut hours = 24;
    let mut findings = analyse(&input, hours);
    if !found(&findings) {
        hours = 24 * 7;
        findings = analyse(&input, hours);
    }
    let mut notes = Vec::new();
    if !findings.infrastructure.is_empty() {
        let (more, more_captures, reach_notes) = reach(cx, &findings.infrastructure).await;
        notes = reach_notes;
        captures.extend(more_captures);
        let known: BTreeSet<String> = input.tenant_sign_ins.iter().map(|s| s.id.clone()).collect();
        let mut added = false;
        for s in more {
            if !known.contains(&s.id) {
                input.tenant_sign_ins.push(s);
                added = true;
            }
        }
        if added {
            findings = analyse(&input, hours);
        }
        // A colleague matched on the network alone: read their own month, so a network they
        // use every day (their VPN) is told apart from the attacker's.
        let (history, history_captures) = network_histories(
            cx,
            &findings.infrastructure,
            &input.tenant_sign_ins,
            &input.user_id,
        )
        .await;
        if !history.is_empty() {
            captures.extend(history_captures);
            input.tenant_sign_ins.extend(history);
            findings = analyse(&input, hours);
        }
    }
    findings.notes.extend(notes);
    findings.gaps = read.gaps;
    findings.risk_level = read.risk_level;
    Ok((findings, captures))
}

/// The attacker's infrastructure triage recorded for the account of `scope` in `case`: its
/// journaled infrastructure, or for a case triaged before attribution existed, its plain
/// `attackerAddresses`; empty when triage has not finished.
pub fn recorded_infrastructure(case: &crate::case::CaseView, scope: &str) -> Infrastructure {
    let Some(facts) = recorded_facts(case, scope) else {
        return Infrastructure::default();
    };
    if let Some(infra) = facts
        .get("infrastructure")
        .and_then(|i| serde_json::from_value::<Infrastructure>(i.clone()).ok())
    {
        return infra;
    }
    let addresses: Vec<String> = facts
        .get("attackerAddresses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Infrastructure::from_addresses(&addresses)
}

/// The facts triage journaled for the account of `scope`, once it has finished.
fn recorded_facts<'c>(case: &'c crate::case::CaseView, scope: &str) -> Option<&'c Value> {
    let id = format!("{scope}.{KEY}");
    case.journal
        .iter()
        .rev()
        .find(|e| {
            e.kind == crate::case::journal::EntryKind::StepFinished
                && e.step.as_deref() == Some(id.as_str())
        })
        .and_then(|e| e.details.pointer("/detail/facts"))
}

/// Whether triage of the account of `scope` saw Identity Protection's risk levels (Entra ID P2),
/// saw them hidden (no P2), or could not tell.
pub fn recorded_identity_protection(
    case: &crate::case::CaseView,
    scope: &str,
) -> IdentityProtection {
    match recorded_facts(case, scope)
        .and_then(|f| f.get("identityProtection"))
        .and_then(Value::as_str)
    {
        Some("visible") => IdentityProtection::Visible,
        Some("hidden") => IdentityProtection::Hidden,
        _ => IdentityProtection::Unknown,
    }
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

/// What the triage step is, without a tenant to act on.
pub fn info() -> &'static StepInfo {
    &INFO
}

impl<T: IncidentTenant> Step<T> for Triage {
    fn info(&self) -> &'static StepInfo {
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
                    findings.earlier.iter().map(|o| format!("{} {}.", o.account, o.why)).collect(),
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
            for member in &findings.infrastructure.members {
                items.push(PlanItem {
                    id: format!("infrastructure:{}", member.value),
                    kind: match member.kind {
                        MemberKind::Address => "Attacker address",
                        MemberKind::Range => "Attacker range",
                        MemberKind::Network => "Attacker network",
                        MemberKind::Session => "Attacker session",
                    }
                    .into(),
                    label: match (member.kind, member.asn) {
                        (MemberKind::Network, Some(asn)) => attribution::describe_network(asn),
                        _ => member.value.clone(),
                    },
                    details: [
                        member.country.as_ref().map(|c| format!("Country: {c}")),
                        (!member.clients.is_empty()).then(|| format!("Client: {}", member.clients.join("; "))),
                        (member.kind == MemberKind::Address).then_some(member.asn).flatten().map(|a| format!("Network: {}", attribution::describe_network(a))),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    created: member.first_seen,
                    recommended: true,
                    reasons: member.evidence.clone(),
                    fixed: true,
                    group: None,
                    action: Action::Record,
                });
            }
            let mut warnings: Vec<String> = findings.gaps.iter().map(|g| format!("Could not read {g}")).collect();
            warnings.extend(findings.notes.iter().cloned());
            warnings.extend(findings.infrastructure.kept_out.iter().map(|k| format!("Not the attacker's: {k}")));
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
                    "signalHours": findings.signal_hours,
                    "signals": findings.signals,
                    "earlierAccounts": findings.earlier_accounts,
                    "earlier": findings.earlier,
                    "attackerAddresses": findings.attacker_addresses,
                    "infrastructure": findings.infrastructure,
                    "identityProtection": findings.identity_protection,
                    "attributionNotes": findings.notes,
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

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

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
    fn colleagues_mistyping_in_the_office_range_are_no_spray_when_the_account_signs_in_from_its_desk(
    ) {
        let mut input = TriageInput {
            user_id: "kofi".into(),
            now: "2025-05-20T10:00:00Z".parse().ok(),
            ..TriageInput::default()
        };
        // Eight colleagues mistype their passwords in the office's /24 on the alert's day.
        for n in 0..8 {
            input.tenant_sign_ins.push(sign_in(
                &format!("user{n}"),
                &format!("2025-05-20T0{}:10:00Z", n % 9),
                &format!("198.51.100.{}", 20 + n),
                50_126,
                "none",
            ));
        }
        // The account signs in from its desk, as it did on the days before.
        for day in 16..=20 {
            input.interactive.push(sign_in(
                "kofi",
                &format!("2025-05-{day}T08:30:00Z"),
                "198.51.100.10",
                0,
                "none",
            ));
        }
        let findings = analyse(&input, 24);
        assert_ne!(
            findings.proposed,
            CompromiseKind::PasswordSpray,
            "{:?}",
            findings.signals
        );
        assert!(
            !findings
                .attacker_addresses
                .contains(&"198.51.100.10".to_owned()),
            "{:?}",
            findings.attacker_addresses
        );
        // The variant still found: the same failures, then a success from a host the account
        // never used.
        input.interactive.push(sign_in(
            "kofi",
            "2025-05-20T09:59:00Z",
            "198.51.100.77",
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
    fn a_range_more_accounts_sign_in_from_than_fail_from_is_the_office_not_a_sprayer() {
        // A new starter with no routine yet signs in at the office, where eight colleagues
        // mistyped their passwords today and thirty signed in.
        let mut input = TriageInput {
            user_id: "nadia".into(),
            now: "2025-05-20T10:00:00Z".parse().ok(),
            ..TriageInput::default()
        };
        for n in 0..8 {
            input.tenant_sign_ins.push(sign_in(
                &format!("typo{n}"),
                &format!("2025-05-20T0{}:10:00Z", n % 9),
                &format!("198.51.100.{}", 20 + n),
                50_126,
                "none",
            ));
        }
        for n in 0..30 {
            input.tenant_sign_ins.push(sign_in(
                &format!("desk{n}"),
                &format!("2025-05-20T08:{:02}:00Z", n),
                "198.51.100.10",
                0,
                "none",
            ));
        }
        input.interactive.push(sign_in(
            "nadia",
            "2025-05-20T09:30:00Z",
            "198.51.100.10",
            0,
            "none",
        ));
        let findings = analyse(&input, 24);
        assert_ne!(
            findings.proposed,
            CompromiseKind::PasswordSpray,
            "{:?}",
            findings.signals
        );
        assert!(
            !findings
                .attacker_addresses
                .contains(&"198.51.100.10".to_owned()),
            "{:?}",
            findings.attacker_addresses
        );
        // The variant still found: a sprayer's range, where most guesses failed and two
        // accounts (this one among them) were let in.
        let mut input = TriageInput {
            user_id: "nadia".into(),
            now: "2025-05-20T10:00:00Z".parse().ok(),
            ..TriageInput::default()
        };
        for n in 0..8 {
            input.tenant_sign_ins.push(sign_in(
                &format!("user{n}"),
                "2025-05-20T08:10:00Z",
                &format!("203.0.113.{}", 10 + n),
                50_126,
                "none",
            ));
        }
        for who in ["user3", "nadia"] {
            input.tenant_sign_ins.push(sign_in(
                who,
                "2025-05-20T08:40:00Z",
                "203.0.113.14",
                0,
                "none",
            ));
        }
        input.interactive.push(sign_in(
            "nadia",
            "2025-05-20T08:40:00Z",
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

    fn with(s: SignIn, asn: i64, refresh: bool, browser: &str) -> SignIn {
        let mut v = serde_json::to_value(SignInJson::from(&s)).unwrap_or_default();
        v["autonomousSystemNumber"] = json!(asn);
        v["isInteractive"] = json!(!refresh);
        v["deviceDetail"] = json!({"operatingSystem": if browser == "Edge" { "Windows10" } else { "Linux" }, "browser": browser});
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The fields the tests set, back to JSON.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct SignInJson {
        id: String,
        created_date_time: Option<DateTime<Utc>>,
        user_id: Option<String>,
        user_principal_name: Option<String>,
        ip_address: Option<String>,
        risk_level_during_sign_in: Option<String>,
        status: Value,
    }

    impl From<&SignIn> for SignInJson {
        fn from(s: &SignIn) -> Self {
            Self {
                id: s.id.clone(),
                created_date_time: s.created_date_time,
                user_id: s.user_id.clone(),
                user_principal_name: s.user_principal_name.clone(),
                ip_address: s.ip_address.clone(),
                risk_level_during_sign_in: s.risk_level_during_sign_in.clone(),
                status: json!({"errorCode": s.status.as_ref().and_then(|st| st.error_code)}),
            }
        }
    }

    /// Ines at home for ten days, then an attacker on a hosting network the alert names.
    fn p1_incident() -> TriageInput {
        let mut input = TriageInput {
            user_id: "ines".into(),
            identity_protection: IdentityProtection::Hidden,
            ..TriageInput::default()
        };
        for d in 1..=10 {
            input.interactive.push(with(
                sign_in(
                    "ines",
                    &format!("2025-10-{d:02}T08:00:00Z"),
                    "192.0.2.34",
                    0,
                    "hidden",
                ),
                5089,
                false,
                "Edge",
            ));
        }
        input.interactive.push(with(
            sign_in("ines", "2025-10-14T09:12:00Z", "203.0.113.45", 0, "hidden"),
            14061,
            false,
            "Chrome",
        ));
        input.non_interactive.push(with(
            sign_in("ines", "2025-10-14T09:30:00Z", "203.0.113.46", 0, "hidden"),
            14061,
            true,
            "Chrome",
        ));
        input.alerts.push((
            "2025-10-14T09:31:00Z".parse().unwrap_or_default(),
            "Suspicious inbox manipulation rule".into(),
        ));
        input.seeds.push(Seed {
            source: SeedSource::Alert,
            address: "203.0.113.46".into(),
            at: "2025-10-14T09:31:00Z".parse().ok(),
            why: "named in the evidence of the Defender alert".into(),
        });
        input
    }

    #[test]
    fn without_p2_the_alerts_address_and_its_range_make_token_theft_and_the_findings_say_p2_is_missing(
    ) {
        let findings = analyse(&p1_incident(), 24);
        assert_eq!(
            findings.proposed,
            CompromiseKind::TokenTheft,
            "{:?}",
            findings.signals
        );
        assert_eq!(findings.window_start, "2025-10-14T09:12:00Z".parse().ok());
        assert!(findings
            .attacker_addresses
            .contains(&"203.0.113.45".to_owned()));
        assert!(!findings
            .attacker_addresses
            .contains(&"192.0.2.34".to_owned()));
        assert!(
            findings.notes.iter().any(|n| n.contains("no Entra ID P2")),
            "{:?}",
            findings.notes
        );
    }

    #[test]
    fn without_p2_a_risk_level_is_never_taken_as_a_seed() {
        // A tenant without P2 reads every level `hidden`; even a stray "high" must not seed.
        let mut input = TriageInput {
            user_id: "ines".into(),
            identity_protection: IdentityProtection::Hidden,
            ..TriageInput::default()
        };
        input.interactive.push(sign_in(
            "ines",
            "2025-10-14T09:12:00Z",
            "198.51.100.9",
            0,
            "high",
        ));
        let findings = analyse(&input, 24);
        assert!(
            findings.attacker_addresses.is_empty(),
            "{:?}",
            findings.attacker_addresses
        );
        assert!(findings
            .notes
            .iter()
            .any(|n| n.starts_with("Cannot tell the attacker's addresses")));
    }

    #[test]
    fn an_entry_account_from_the_attackers_range_days_earlier_is_named_and_a_travelling_colleague_is_not(
    ) {
        let mut input = p1_incident();
        input.tenant_sign_ins.push(with(
            sign_in("kenji", "2025-10-09T10:20:00Z", "203.0.113.61", 0, "hidden"),
            14061,
            false,
            "Chrome",
        ));
        input.tenant_sign_ins.push(with(
            sign_in(
                "tomas",
                "2025-10-14T08:40:00Z",
                "2001:db8:c1a0:7::25",
                0,
                "hidden",
            ),
            3243,
            false,
            "Edge",
        ));
        let findings = analyse(&input, 24);
        assert_eq!(
            findings.earlier_accounts,
            vec!["kenji@contoso.com".to_owned()]
        );
        assert!(
            findings.earlier[0].why.contains("same /24 as 203.0.113.45"),
            "{}",
            findings.earlier[0].why
        );
    }

    #[test]
    fn a_consent_older_than_the_signal_period_is_not_a_signal_but_attribution_still_reads_the_month(
    ) {
        let mut input = p1_incident();
        input.now = "2025-10-14T17:00:00Z".parse().ok();
        input.consents.push((
            "2025-10-02T10:00:00Z".parse().unwrap_or_default(),
            "\"Old app\" with Mail.Read".into(),
        ));
        let findings = analyse(&input, 24);
        assert!(!findings
            .signals
            .iter()
            .any(|s| s.kind == CompromiseKind::ConsentPhishing));
        assert_eq!(findings.window_start, "2025-10-14T09:12:00Z".parse().ok());
    }

    #[test]
    fn the_admins_addresses_are_read_from_the_indicators_as_addresses() {
        let found = admin_addresses(&[
            "Phish from 203.0.113.9, and 2001:DB8::1; ticket 4471.".into(),
            "version 1.2.3 is not an address".into(),
        ]);
        assert_eq!(
            found,
            vec!["203.0.113.9".to_owned(), "2001:db8::1".to_owned()]
        );
    }

    #[test]
    fn times_in_the_indicators_are_read_in_either_written_form_and_bound_the_window() {
        let times = indicator_times(&[
            "Reset password by a held account [2026-01-23 08:34 UTC]".into(),
            "seen 2026-01-22T07:05:09Z and ticket 2026-0042; version 2026-01-23 is a date only"
                .into(),
            "2026-13-40 99:99 UTC is no time".into(),
        ]);
        assert_eq!(
            times,
            vec![time("2026-01-22T07:05:09Z"), time("2026-01-23T08:34:00Z"),]
        );
        // The window starts no later than a named time, even with no other signal.
        let input = TriageInput {
            named_times: vec![time("2026-01-23T08:34:00Z")],
            ..TriageInput::default()
        };
        assert_eq!(
            analyse(&input, 168).window_start,
            Some(time("2026-01-23T08:34:00Z"))
        );
    }

    fn routine_sign_in(at: &str, ip: &str, agent: &str) -> SignIn {
        serde_json::from_value(json!({
            "id": format!("{at}/{ip}"), "createdDateTime": at, "userId": "u1",
            "ipAddress": ip, "userAgent": agent, "isInteractive": true,
            "status": {"errorCode": 0},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn without_the_attackers_sign_ins_the_window_starts_at_the_first_sign_in_outside_the_routine() {
        const LAPTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/131.0";
        const OTHER: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0";
        // A week at the office on the laptop (the unified audit log's sign-ins of a Free tenant);
        // the case was opened from a rule the attacker made at 04:43 on the 17th.
        let week: Vec<SignIn> = (8..=16)
            .map(|d| {
                routine_sign_in(
                    &format!("2026-06-{d:02}T08:00:00Z"),
                    "198.51.100.10",
                    LAPTOP,
                )
            })
            .collect();
        let named = time("2026-06-17T04:43:00Z");
        let window = |extra: SignIn| {
            let mut interactive = week.clone();
            interactive.push(extra);
            analyse(
                &TriageInput {
                    interactive,
                    named_times: vec![named],
                    ..TriageInput::default()
                },
                168,
            )
        };
        // Variant to find: four hours before, a new address on another browser.
        let found = window(routine_sign_in(
            "2026-06-17T00:56:03Z",
            "3.80.121.86",
            OTHER,
        ));
        assert_eq!(found.window_start, Some(time("2026-06-17T00:56:03Z")));
        assert!(
            found.notes.iter().any(|n| n.contains("3.80.121.86")),
            "{:?}",
            found.notes
        );
        // Look-alikes: the user at a hotel the evening before on their own laptop, and a strange
        // sign-in two days before (not tied to this attack).
        let hotel = window(routine_sign_in(
            "2026-06-16T21:00:00Z",
            "85.240.12.77",
            LAPTOP,
        ));
        assert_eq!(hotel.window_start, Some(named));
        let older = window(routine_sign_in(
            "2026-06-15T02:00:00Z",
            "3.80.121.86",
            OTHER,
        ));
        assert_eq!(older.window_start, Some(named));
    }

    #[test]
    fn nothing_suspicious_is_undetermined_with_no_window() {
        let findings = analyse(&TriageInput::default(), 168);
        assert_eq!(findings.proposed, CompromiseKind::Undetermined);
        assert_eq!(findings.window_start, None);
    }
}
