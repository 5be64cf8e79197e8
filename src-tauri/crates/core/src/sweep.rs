//! The sideways sweep (spec/design.md §2.5, "also look sideways"): which *other* accounts the attacker
//! reached. Five looks, each over the incident window found at triage:
//! - sign-ins from the attacker's infrastructure found at triage ([`crate::attribution`]: its
//!   addresses, ranges, hosting networks and sessions, not exact addresses alone), interactive and
//!   non-interactive, by other accounts over the sign-in retention window: a success is a hit,
//!   failures alone are only counted (a spray fails against many);
//! - inbox rules created or changed by other accounts (Purview audit search): from the attacker's
//!   addresses or ranges, or several accounts within the same hour (a bulk run);
//! - consents: one app consented by several accounts in the window (a spree), or a consent from
//!   the attacker's addresses or ranges;
//! - accounts this account acted on as an administrator from the attacker's side (password
//!   resets, methods added, roles granted: [`acted_on`]);
//! - accounts reached through mail: colleagues who received mail this account sent from the
//!   attacker's side and were then signed into from outside their routine, and — when this
//!   account is itself a second hop — the colleague whose mail brought the attacker ([`mail`]).
//!
//! The sweep is a step of the blast-radius phase ([`Sweep`]): its plan lists the hits (the
//! recommended ones are those not already in the case), running it records the admin's review,
//! and each hit can be opened as a linked case ([`open_linked_case`]), journaled in both cases.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{
        DirectoryAudit, DirectoryAuditQuery, NewAuditLogQuery, SignIn, SignInEventType, SignInQuery,
    },
    UserRef,
};
use futures_util::{future::BoxFuture, FutureExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

mod acted_on;
mod mail;

use crate::routine::succeeded;
use crate::{
    attribution::{self, Infrastructure, MemberKind, RETENTION_DAYS},
    case::{
        metadata::{AlertSource, CaseMetadata},
        CaseId, CaseLink, CaseStore, CaseView, LinkRelation,
    },
    procedure::{
        tenant::IncidentTenant, triage::recorded_infrastructure, Action, Capture, Check, Phase,
        Plan, PlanItem, Step, StepContext, StepInfo, Verification,
    },
    Error,
};

/// The sweep step's key.
pub const KEY: &str = "sweep";
/// How far back the sweep looks when triage recorded no window, and at least how far back it
/// looks for the attacker's addresses: anything from them is the attacker's, window or not
/// (triage may date the window from a later alert than the first sign-in).
const DEFAULT_LOOKBACK_DAYS: i64 = 7;
/// Accounts creating inbox rules within one hour that make a bulk run.
const BULK_RULE_ACCOUNTS: usize = 3;
/// Accounts consenting to one app within the window that make a spree.
const SPREE_ACCOUNTS: usize = 3;
/// Searches of the sign-in log by range or address at most (the rest is said).
const MAX_SIGN_IN_SEARCHES: usize = 8;
/// Operations that create or change an inbox rule.
const RULE_OPERATIONS: [&str; 3] = ["New-InboxRule", "Set-InboxRule", "UpdateInboxRules"];

/// Why an account showed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HitKind {
    /// Signed in from an attacker address.
    SignIn,
    /// Created or changed inbox rules suspiciously.
    InboxRule,
    /// Took part in a consent spree.
    Consent,
    /// Was acted on by this account as an administrator (reset, method, role).
    AdminAction,
    /// Exchanged mail with this account around the attacker's arrival, and was signed into from
    /// outside its routine (see [`mail`]).
    Mail,
}

/// One fact about another account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// What kind of look found it.
    pub kind: HitKind,
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
    /// What was seen (contains tenant strings: render as text).
    pub text: String,
}

/// An account a look found, with why it counts, before the hits are resolved and merged.
#[derive(Debug, Clone)]
struct Lead {
    /// Its object id, when the look knows it.
    user_id: Option<String>,
    /// Its user principal name, when the look knows it.
    upn: Option<String>,
    /// What was seen.
    signal: Signal,
}

/// Another account the attacker may have reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepHit {
    /// Its object id, when the tenant knows the account.
    pub user_id: Option<String>,
    /// Its user principal name (or the id when the name is unknown).
    pub account: String,
    /// Everything that points to it.
    pub signals: Vec<Signal>,
    /// Whether the case already names it.
    pub in_case: bool,
}

/// What the sweep found and could not look at.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// The attacker's addresses it searched for.
    pub addresses: Vec<String>,
    /// The attacker's infrastructure it searched for, one line per member with its evidence.
    pub infrastructure: Vec<String>,
    /// The start of the incident window: bulk rules and consent sprees are looked for from here.
    pub since: DateTime<Utc>,
    /// How far back it searched for the attacker's addresses.
    pub addresses_since: DateTime<Utc>,
    /// Other accounts, most signals first.
    pub hits: Vec<SweepHit>,
    /// Looks that could not be made (permission, licence, no address), with why.
    pub not_available: Vec<String>,
    /// Facts worth knowing that are not hits (failed sign-ins from the addresses).
    pub notes: Vec<String>,
}

/// The successful sign-ins of one account from one address, of one kind.
struct SignInGroup {
    id: Option<String>,
    upn: Option<String>,
    count: usize,
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    app: String,
    why: String,
}

/// What the looks found about one account before it is resolved: id, name, signals.
type Found = (Option<String>, Option<String>, Vec<Signal>);

#[derive(Default)]
struct Collected {
    by_key: BTreeMap<String, Found>,
}

impl Collected {
    fn add(&mut self, id: Option<&str>, upn: Option<&str>, signal: Signal) {
        let key = id
            .or(upn)
            .map(str::to_lowercase)
            .unwrap_or_else(|| "unknown".into());
        let entry = self.by_key.entry(key).or_default();
        if entry.0.is_none() {
            entry.0 = id.map(str::to_owned);
        }
        if entry.1.is_none() {
            entry.1 = upn.map(str::to_owned);
        }
        entry.2.push(signal);
    }
}

/// The initiating user of a directory audit entry: id, user principal name, address.
fn audit_user(audit: &DirectoryAudit) -> (Option<String>, Option<String>, Option<String>) {
    let user = audit.initiated_by.as_ref().and_then(|i| i.get("user"));
    let text = |key: &str| {
        user.and_then(|u| u.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    (text("id"), text("userPrincipalName"), text("ipAddress"))
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Runs the three looks for the account `account` (object id `own_id`) of a case.
pub async fn sweep<T: IncidentTenant>(
    tenant: &T,
    case: &CaseView,
    scope: &str,
    own: (&str, &str),
    window_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(SweepReport, Vec<Capture>), Error> {
    let (own_id, own_upn) = own;
    let infra = recorded_infrastructure(case, scope);
    let addresses = infra.addresses();
    let mut notes = Vec::new();
    let since = window_start.unwrap_or_else(|| {
        notes.push(format!(
            "Triage recorded no incident window: the sweep looked back {DEFAULT_LOOKBACK_DAYS} days."
        ));
        now - Duration::days(DEFAULT_LOOKBACK_DAYS)
    });
    let reach_back = since.min(now - Duration::days(DEFAULT_LOOKBACK_DAYS));
    let retention = now - Duration::days(RETENTION_DAYS);
    let is_own = |id: Option<&str>, upn: Option<&str>| {
        id.is_some_and(|i| same(i, own_id)) || upn.is_some_and(|u| same(u, own_upn))
    };
    let mut found = Collected::default();
    let mut not_available = Vec::new();
    let mut captures = Vec::new();

    // 1. Sign-ins from the attacker's infrastructure.
    if infra.is_empty() {
        not_available.push(
            "Sign-ins from the attacker's infrastructure: triage recorded no attacker address."
                .into(),
        );
    }
    let mut failures: BTreeSet<String> = BTreeSet::new();
    let (mut read, read_notes) =
        infrastructure_sign_ins(tenant, &infra, retention, reach_back, &mut captures).await;
    let sign_ins_unread = !read_notes.0.is_empty();
    not_available.extend(read_notes.0);
    notes.extend(read_notes.1);
    // Without the sign-in log (Entra ID Free, or a permission missing), the unified audit log
    // still records interactive sign-ins and mailbox work by address: search it for the
    // attacker's exact addresses.
    // Without a sign-in log, every account's interactive sign-ins as the unified audit log kept
    // them stand in for the searches by range and network (the same search triage made).
    if sign_ins_unread {
        match crate::procedure::triage::everyone_from_audit_log(tenant, &case.id, now).await {
            Ok((everyone, audit_captures)) => {
                captures.extend(audit_captures);
                let known: BTreeSet<String> = read.iter().map(|s| s.id.clone()).collect();
                read.extend(everyone.into_iter().filter(|s| !known.contains(&s.id)));
            }
            Err(e) => not_available.push(format!(
                "Every account's sign-ins from the unified audit log: {e}"
            )),
        }
    }
    let mut searched = addresses.clone();
    for ip in removed_method_addresses(case, scope) {
        if !searched.contains(&ip) {
            searched.push(ip);
        }
    }
    if sign_ins_unread && !searched.is_empty() {
        audit_activity(
            tenant,
            (&case.id.to_string(), scope),
            &searched,
            (reach_back, now),
            &is_own,
            &mut found,
            &mut failures,
            &mut captures,
            (&mut not_available, &mut notes),
        )
        .await;
    }
    // An account matched on the network alone: its own month tells whether that network is its
    // usual one (a colleague's own VPN on the same provider), not the attacker's.
    let network_only: Vec<String> = attribution::other_accounts(&infra, &read, own_id)
        .into_iter()
        .filter(|o| o.matched == MemberKind::Network)
        .filter_map(|o| o.user_id)
        .take(MAX_SIGN_IN_SEARCHES)
        .collect();
    for (i, id) in network_only.iter().enumerate() {
        let query = SignInQuery {
            user_id: Some(id.clone()),
            since: Some(retention),
            event_types: vec![SignInEventType::InteractiveUser],
            ..SignInQuery::default()
        };
        if let Ok(history) = tenant.sign_ins(&query).await {
            captures.extend(Capture::pages(
                &format!("sweep-network-history-{i}"),
                "Interactive sign-ins of an account seen on the attacker's network (is it their usual one?)",
                "GET /beta/auditLogs/signIns",
                &history.pages,
            ));
            let known: BTreeSet<String> = read.iter().map(|s| s.id.clone()).collect();
            read.extend(history.items.into_iter().filter(|s| !known.contains(&s.id)));
        }
    }
    let accepted: BTreeSet<String> = attribution::other_accounts(&infra, &read, own_id)
        .into_iter()
        .map(|o| o.account.to_lowercase())
        .collect();
    // One signal per account, address and kind of sign-in: a stolen session refreshes hourly.
    let mut groups: BTreeMap<(String, String, &str), SignInGroup> = BTreeMap::new();
    for s in &read {
        let (id, upn) = (s.user_id.as_deref(), s.user_principal_name.as_deref());
        if is_own(id, upn) {
            continue;
        }
        let Some(m) = infra.match_sign_in(s) else {
            continue;
        };
        if !succeeded(s) {
            if let Some(who) = id.or(upn) {
                failures.insert(who.to_lowercase());
            }
            continue;
        }
        let who = upn.or(id).unwrap_or_default().to_lowercase();
        if !accepted.contains(&who) {
            continue;
        }
        let kind = if s.is_interactive == Some(false) {
            "non-interactive"
        } else {
            "interactive"
        };
        let ip = s.ip_address.clone().unwrap_or_default();
        let group = groups
            .entry((who, ip, kind))
            .or_insert_with(|| SignInGroup {
                id: id.map(str::to_owned),
                upn: upn.map(str::to_owned),
                count: 0,
                first: None,
                last: None,
                app: s
                    .app_display_name
                    .clone()
                    .unwrap_or_else(|| "an app".into()),
                why: m.why.clone(),
            });
        group.count += 1;
        if let Some(t) = s.created_date_time {
            group.first = Some(group.first.map_or(t, |f| f.min(t)));
            group.last = Some(group.last.map_or(t, |l| l.max(t)));
        }
    }
    for ((_, ip, kind), g) in groups {
        let SignInGroup {
            id,
            upn,
            count,
            first,
            last,
            app,
            why,
        } = g;
        let when = match (first, last) {
            (Some(f), Some(l)) if count > 1 => format!(
                " {count} times between {} and {}",
                f.format("%-d %B %H:%M"),
                l.format("%-d %B %H:%M")
            ),
            (Some(f), _) => format!(" at {}", f.format("%-d %B %H:%M")),
            _ => String::new(),
        };
        found.add(
            id.as_deref(),
            upn.as_deref(),
            Signal {
                kind: HitKind::SignIn,
                at: first,
                text: format!("Signed in ({kind}) from {ip} to {app}{when}: {why}."),
            },
        );
    }

    // 2. Inbox rules created by other accounts.
    let rules = NewAuditLogQuery {
        display_name: format!("Firebreak sweep {} {scope} inbox rules", case.id),
        filter_start_date_time: reach_back,
        filter_end_date_time: now,
        operation_filters: RULE_OPERATIONS.iter().map(|s| (*s).to_owned()).collect(),
        ..NewAuditLogQuery::default()
    };
    match tenant.reusable_audit_search(&rules).await {
        Ok(search) if search.succeeded() => {
            captures.extend(Capture::pages(
                "sweep-inbox-rule-audit",
                &format!(
                    "Purview audit search {} (inbox rules created or changed in the window)",
                    search.query_id
                ),
                "POST /security/auditLog/queries",
                &search.records.pages,
            ));
            let mut others: Vec<(DateTime<Utc>, String, String)> = Vec::new();
            for r in &search.records.items {
                let upn = r.user_principal_name.as_deref().or(r.user_id.as_deref());
                if is_own(None, upn) || upn.is_none() {
                    continue;
                }
                let who = upn.unwrap_or_default().to_owned();
                let name = rule_name(r.audit_data.as_ref());
                let at = r.created_date_time.unwrap_or(since);
                let ip = r.client_ip.as_deref().unwrap_or("");
                if let Some(m) = infra.match_address(ip) {
                    found.add(
                        None,
                        Some(&who),
                        Signal {
                            kind: HitKind::InboxRule,
                            at: Some(at),
                            text: format!(
                                "{} inbox rule \"{name}\" from {ip}: {}.",
                                r.operation.as_deref().unwrap_or("Changed"),
                                m.why
                            ),
                        },
                    );
                } else if at >= since - Duration::hours(1) {
                    others.push((at, who, name));
                }
            }
            for (who, at, count) in bulk_rule_runs(&others) {
                found.add(
                    None,
                    Some(&who),
                    Signal {
                        kind: HitKind::InboxRule,
                        at: Some(at),
                        text: format!(
                            "Created an inbox rule in the same hour as {} other accounts (a bulk run).",
                            count - 1
                        ),
                    },
                );
            }
        }
        Ok(search) => not_available.push(format!(
            "Inbox rules created in bulk: the Purview audit search {} ended {} before Firebreak could read it. Run the sweep again later.",
            search.query_id, search.status
        )),
        Err(e) => not_available.push(format!("Inbox rules created in bulk: {e}")),
    }

    // 3. Consent sprees.
    let consents = DirectoryAuditQuery {
        since: Some(reach_back),
        activity_display_name: Some("Consent to application".into()),
        ..DirectoryAuditQuery::default()
    };
    match tenant.directory_audits(&consents).await {
        Ok(read) => {
            captures.extend(Capture::pages(
                "sweep-consents",
                "Directory audits: consents to applications in the window, every account",
                "GET /auditLogs/directoryAudits",
                &read.pages,
            ));
            let mut by_app: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
            for a in &read.items {
                let (id, upn, _) = audit_user(a);
                let Some(who) = id.clone().or(upn.clone()) else {
                    continue;
                };
                let in_window = a.activity_date_time.is_some_and(|t| t >= since);
                if let Some((app_id, app_name)) = consent_target(a).filter(|_| in_window) {
                    let entry = by_app.entry(app_id).or_insert((app_name, BTreeSet::new()));
                    entry.1.insert(who.to_lowercase());
                }
            }
            for a in &read.items {
                let (id, upn, ip) = audit_user(a);
                if is_own(id.as_deref(), upn.as_deref()) {
                    continue;
                }
                let Some((app_id, app_name)) = consent_target(a) else {
                    continue;
                };
                let consenters = by_app.get(&app_id).map_or(0, |(_, who)| who.len());
                let from_attacker = ip.as_deref().and_then(|ip| infra.match_address(ip));
                let in_window = a.activity_date_time.is_some_and(|t| t >= since);
                if (in_window && consenters >= SPREE_ACCOUNTS) || from_attacker.is_some() {
                    let why = if let Some(m) = &from_attacker {
                        format!("from {}: {}", ip.as_deref().unwrap_or(""), m.why)
                    } else {
                        format!("one of {consenters} accounts consenting to it in the window")
                    };
                    found.add(
                        id.as_deref(),
                        upn.as_deref(),
                        Signal {
                            kind: HitKind::Consent,
                            at: a.activity_date_time,
                            text: format!("Consented to \"{app_name}\", {why}."),
                        },
                    );
                }
            }
        }
        Err(e) => not_available.push(format!("Consent sprees: {e}")),
    }

    // 4. Accounts this account acted on as an administrator.
    // Both ways: the accounts it acted on, and the accounts that acted on it from the attacker's
    // addresses (when it is itself a second hop, taken through the directory).
    let (admin, by_others) = futures_util::future::join(
        acted_on::look(tenant, own, &addresses, since, reach_back),
        acted_on::by_others(tenant, own, &addresses, reach_back),
    )
    .await;
    for look in [admin, by_others] {
        captures.extend(look.captures);
        not_available.extend(look.not_available);
        for hit in look.hits {
            found.add(hit.user_id.as_deref(), hit.upn.as_deref(), hit.signal);
        }
    }

    // 5. Accounts reached through mail.
    let everyone = sign_ins_unread.then_some(read.as_slice());
    let reached = mail::look(
        tenant,
        &mail::Scope {
            own,
            search_name: format!("Firebreak sweep {} {scope}", case.id),
            infra: &infra,
            since,
            reach_back,
            now,
            everyone,
            case: &case.id,
        },
    )
    .await;
    captures.extend(reached.captures);
    not_available.extend(reached.not_available);
    notes.extend(reached.notes);
    for hit in reached.hits {
        found.add(hit.user_id.as_deref(), hit.upn.as_deref(), hit.signal);
    }

    let mut hits = Vec::new();
    for (_, (id, upn, mut signals)) in found.by_key {
        // Resolve the account so that a sign-in (by id) and a rule (by name) become one hit.
        let reference = upn.clone().or(id.clone());
        let resolved = match reference.as_deref().map(UserRef::new) {
            Some(Ok(r)) => tenant.user(&r).await.ok().flatten(),
            _ => None,
        };
        let user_id = resolved.as_ref().map(|u| u.id.clone()).or(id);
        let account = resolved
            .and_then(|u| u.user_principal_name)
            .or(upn)
            .or(user_id.clone())
            .unwrap_or_else(|| "unknown account".into());
        if let Some(existing) = hits.iter_mut().find(|h: &&mut SweepHit| {
            h.user_id.is_some() && h.user_id == user_id || same(&h.account, &account)
        }) {
            existing.signals.append(&mut signals);
            continue;
        }
        let in_case = case
            .metadata
            .accounts
            .iter()
            .any(|a| same(a, &account) || user_id.as_deref().is_some_and(|id| same(a, id)));
        hits.push(SweepHit {
            user_id,
            account,
            signals,
            in_case,
        });
    }
    for hit in &mut hits {
        hit.signals.sort_by_key(|s| (s.at, s.kind));
        failures.remove(&hit.account.to_lowercase());
        if let Some(id) = &hit.user_id {
            failures.remove(&id.to_lowercase());
        }
    }
    hits.sort_by(|a, b| {
        b.signals
            .len()
            .cmp(&a.signals.len())
            .then(a.account.cmp(&b.account))
    });
    if !failures.is_empty() {
        notes.push(format!(
            "{} other account(s) had only failed sign-ins from the attacker's infrastructure: the attempts did not get in.",
            failures.len()
        ));
    }
    Ok((
        SweepReport {
            addresses,
            infrastructure: infra.lines(),
            since,
            addresses_since: reach_back,
            hits,
            not_available,
            notes,
        },
        captures,
    ))
}

/// What the infrastructure search could not look at, and facts worth knowing.
type SearchNotes = (Vec<String>, Vec<String>);

/// The addresses the sign-in methods removed from the account of `scope` as the attacker's were
/// registered from (the methods step's journaled plan and selection): without the sign-in log to
/// widen the attacker's infrastructure, they are addresses the attacker is known to have used.
fn removed_method_addresses(case: &CaseView, scope: &str) -> Vec<String> {
    let id = format!("{scope}.methods");
    let Some(started) = case.journal.iter().rev().find(|e| {
        e.kind == crate::case::journal::EntryKind::StepStarted
            && e.step.as_deref() == Some(id.as_str())
    }) else {
        return Vec::new();
    };
    let detail = &started.details["detail"];
    let selected: BTreeSet<&str> = detail["selected"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out: Vec<String> = Vec::new();
    for method in detail["facts"]["methods"].as_array().into_iter().flatten() {
        let chosen = method["methodId"]
            .as_str()
            .is_some_and(|m| selected.contains(format!("method:{m}").as_str()));
        let address = method["registration"]["address"].as_str();
        if let (true, Some(ip)) = (chosen, address) {
            if crate::attribution::parse_address(ip).is_some() && !out.iter().any(|o| o == ip) {
                out.push(ip.to_owned());
            }
        }
    }
    out
}

/// How often and from when one account did one operation from one address.
type Seen = (usize, Option<DateTime<Utc>>);

/// Operations of the unified audit log that say a sign-in failed (the account was not reached).
const FAILED_SIGN_IN_OPERATIONS: [&str; 1] = ["UserLoginFailed"];

/// The sign-in look's stand-in when the sign-in log cannot be read: one Purview audit search for
/// anything done from the attacker's exact addresses (Entra ID sign-ins are kept there as
/// `AzureActiveDirectoryStsLogon` records, mailbox work as Exchange records) by any account. The
/// audit log is searched by exact address only, so ranges and networks are said to be unsearched.
#[allow(clippy::too_many_arguments)]
async fn audit_activity<T: IncidentTenant>(
    tenant: &T,
    (case_id, scope): (&str, &str),
    addresses: &[String],
    (since, now): (DateTime<Utc>, DateTime<Utc>),
    is_own: &(dyn Fn(Option<&str>, Option<&str>) -> bool + Sync),
    found: &mut Collected,
    failures: &mut BTreeSet<String>,
    captures: &mut Vec<Capture>,
    (not_available, notes): (&mut Vec<String>, &mut Vec<String>),
) {
    let query = NewAuditLogQuery {
        display_name: format!("Firebreak sweep {case_id} {scope} attacker addresses"),
        filter_start_date_time: since,
        filter_end_date_time: now,
        ip_address_filters: addresses.to_vec(),
        ..NewAuditLogQuery::default()
    };
    let search = match tenant.reusable_audit_search(&query).await {
        Ok(search) if search.succeeded() => search,
        Ok(search) => {
            not_available.push(format!(
                "Activity from the attacker's addresses in the audit log: the Purview audit search {} ended {} before Firebreak could read it. Run the sweep again later.",
                search.query_id, search.status
            ));
            return;
        }
        Err(e) => {
            not_available.push(format!(
                "Activity from the attacker's addresses in the audit log: {e}"
            ));
            return;
        }
    };
    captures.extend(Capture::pages(
        "sweep-address-audit",
        &format!(
            "Purview audit search {} (anything done from the attacker's addresses, every account)",
            search.query_id
        ),
        "POST /security/auditLog/queries",
        &search.records.pages,
    ));
    notes.push(format!(
        "The sign-in log could not be read, so the unified audit log was searched instead for the attacker's exact addresses ({}) since {}: it cannot be searched by range or network.",
        addresses.join(", "),
        since.format("%Y-%m-%d %H:%M UTC")
    ));
    // One signal per account, address and operation.
    let mut groups: BTreeMap<(String, String, String), Seen> = BTreeMap::new();
    for r in &search.records.items {
        let upn = r.user_principal_name.as_deref().or(r.user_id.as_deref());
        let Some(who) = upn.filter(|u| !u.is_empty()) else {
            continue;
        };
        if is_own(None, Some(who)) {
            continue;
        }
        let operation = r.operation.clone().unwrap_or_else(|| "Activity".into());
        if FAILED_SIGN_IN_OPERATIONS
            .iter()
            .any(|o| same(o, &operation))
        {
            failures.insert(who.to_lowercase());
            continue;
        }
        let ip = r.client_ip.clone().unwrap_or_default();
        let group = groups
            .entry((who.to_owned(), ip, operation))
            .or_insert((0, None));
        group.0 += 1;
        if let Some(t) = r.created_date_time {
            group.1 = Some(group.1.map_or(t, |f| f.min(t)));
        }
    }
    for ((who, ip, operation), (count, first)) in groups {
        let when = first
            .map(|f| format!(", first at {}", f.format("%-d %B %H:%M")))
            .unwrap_or_default();
        found.add(
            None,
            Some(&who),
            Signal {
                kind: HitKind::SignIn,
                at: first,
                text: format!(
                    "{operation} from {ip} ({count} audit record(s){when}): the attacker's address, seen in the unified audit log."
                ),
            },
        );
    }
}

/// Every account's sign-ins (interactive and non-interactive) from the infrastructure: its ranges
/// and the addresses no range search covers over the retention window (from `retention`), and —
/// Graph cannot filter by network — every sign-in since `recent` when a hosting network is a
/// member, matched here. Each read is kept as a capture.
async fn infrastructure_sign_ins<T: IncidentTenant>(
    tenant: &T,
    infra: &Infrastructure,
    retention: DateTime<Utc>,
    recent: DateTime<Utc>,
    captures: &mut Vec<Capture>,
) -> (Vec<SignIn>, SearchNotes) {
    let mut searches = infra.sign_in_searches(retention);
    let mut not_available = Vec::new();
    let mut notes = Vec::new();
    if searches.len() > MAX_SIGN_IN_SEARCHES {
        notes.push(format!(
            "Only the first {MAX_SIGN_IN_SEARCHES} of the attacker's {} ranges and addresses were searched: cannot tell about the others.",
            searches.len()
        ));
        searches.truncate(MAX_SIGN_IN_SEARCHES);
    }
    let networks = infra.networks();
    if !networks.is_empty() {
        searches.push((
            "every address (for the attacker's hosting networks)".into(),
            SignInQuery {
                since: Some(recent),
                event_types: vec![
                    SignInEventType::InteractiveUser,
                    SignInEventType::NonInteractiveUser,
                ],
                ..SignInQuery::default()
            },
        ));
        notes.push(format!(
            "Graph cannot search sign-ins by network: other addresses of {} were looked for since {} only; earlier ones cannot be told.",
            networks
                .into_iter()
                .map(attribution::describe_network)
                .collect::<Vec<_>>()
                .join(", "),
            recent.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, (what, query)) in searches.iter().enumerate() {
        match tenant.sign_ins(query).await {
            Ok(read) => {
                captures.extend(Capture::pages(
                    &format!("sweep-sign-ins-{i}"),
                    &format!(
                        "Sign-ins (interactive and non-interactive) of every account from {what}"
                    ),
                    "GET /beta/auditLogs/signIns",
                    &read.pages,
                ));
                for s in read.items {
                    if seen.insert(s.id.clone()) {
                        out.push(s);
                    }
                }
            }
            Err(e) => not_available.push(format!("Sign-ins from {what}: {e}")),
        }
    }
    out.sort_by_key(|s| s.created_date_time);
    (out, (not_available, notes))
}

fn rule_name(data: Option<&Value>) -> String {
    data.and_then(|d| d.get("Parameters"))
        .and_then(Value::as_array)
        .and_then(|ps| {
            ps.iter()
                .find(|p| p.get("Name").and_then(Value::as_str) == Some("Name"))
        })
        .and_then(|p| p.get("Value"))
        .and_then(Value::as_str)
        .unwrap_or("(no name)")
        .to_owned()
}

fn consent_target(a: &DirectoryAudit) -> Option<(String, String)> {
    a.target_resources.iter().flatten().find_map(|t| {
        let id = t.get("id")?.as_str()?.to_owned();
        let name = t
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or("an app")
            .to_owned();
        Some((id, name))
    })
}

/// Accounts whose rule creations fall in an hour in which at least [`BULK_RULE_ACCOUNTS`]
/// distinct accounts created rules: (account, first creation in that hour, accounts in it).
fn bulk_rule_runs(
    creations: &[(DateTime<Utc>, String, String)],
) -> Vec<(String, DateTime<Utc>, usize)> {
    let mut sorted: Vec<&(DateTime<Utc>, String, String)> = creations.iter().collect();
    sorted.sort_by_key(|c| c.0);
    let mut flagged: BTreeMap<String, (DateTime<Utc>, usize)> = BTreeMap::new();
    for (i, first) in sorted.iter().enumerate() {
        let within: Vec<&&(DateTime<Utc>, String, String)> = sorted[i..]
            .iter()
            .take_while(|c| c.0 - first.0 <= Duration::hours(1))
            .collect();
        let accounts: BTreeSet<String> = within.iter().map(|c| c.1.to_lowercase()).collect();
        if accounts.len() >= BULK_RULE_ACCOUNTS {
            for c in within {
                flagged.entry(c.1.clone()).or_insert((c.0, accounts.len()));
            }
        }
    }
    flagged
        .into_iter()
        .map(|(who, (at, n))| (who, at, n))
        .collect()
}

/// The plan item id of a hit (no `:` on purpose: a hit is an account to look at, not an object
/// this step changes).
fn hit_id(hit: &SweepHit) -> String {
    format!("account/{}", hit.user_id.as_deref().unwrap_or(&hit.account))
}

/// The sweep as a blast-radius step: the plan lists the hits, running it records the review.
pub struct Sweep;

static INFO: StepInfo = StepInfo {
    key: KEY,
    phase: Phase::Blast,
    title: "Look sideways: other accounts",
    why: "Attackers rarely stop at one account: the same infrastructure (addresses, their range, their hosting network), a burst of inbox rules or a spree of consents point to the next victim, which containment of this account does not touch.",
    effect: "Nothing in the tenant changes. Your review of the other accounts is recorded; each one you select can be opened as a linked case.",
    saved_first: "Sign-ins from the attacker's infrastructure, the inbox-rule audit search and the consent audits read for the sweep.",
    destructive: false,
    refuses_protected: false,
};

/// What the sweep step is, without a tenant to act on.
pub fn info() -> &'static StepInfo {
    &INFO
}

impl<T: IncidentTenant> Step<T> for Sweep {
    fn info(&self) -> &'static StepInfo {
        &INFO
    }

    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>> {
        async move {
            let own = cx
                .tenant
                .user(cx.user)
                .await?
                .ok_or_else(|| Error::InvalidInput {
                    field: "account",
                    problem: format!("There is no account {} in this tenant.", cx.account),
                })?;
            let own_upn = own
                .user_principal_name
                .clone()
                .unwrap_or_else(|| cx.account.to_owned());
            let (report, captures) = sweep(
                cx.tenant,
                cx.case,
                cx.scope,
                (&own.id, &own_upn),
                cx.window_start,
                cx.now,
            )
            .await?;
            let items: Vec<PlanItem> = report
                .hits
                .iter()
                .map(|hit| PlanItem {
                    id: hit_id(hit),
                    kind: "Other account".into(),
                    label: hit.account.clone(),
                    details: hit.signals.iter().map(|s| s.text.clone()).collect(),
                    created: hit.signals.iter().filter_map(|s| s.at).min(),
                    recommended: !hit.in_case,
                    reasons: vec![if hit.in_case {
                        "Already part of this case.".into()
                    } else {
                        "Open it as a linked case and contain it too.".into()
                    }],
                    fixed: false,
                    group: None,
                    action: Action::Record,
                })
                .collect();
            let new_hits = report.hits.iter().filter(|h| !h.in_case).count();
            let status = if new_hits > 0 {
                "finding"
            } else if report.not_available.is_empty() {
                "clean"
            } else {
                "notAvailable"
            };
            let mut warnings: Vec<String> = report
                .not_available
                .iter()
                .map(|n| format!("Not available — {n}"))
                .collect();
            warnings.extend(report.notes.iter().cloned());
            Ok(Plan {
                step: String::new(),
                account: cx.account.to_owned(),
                summary: match new_hits {
                    0 => "No other account shows the attacker's traces.".into(),
                    n => format!("{n} other account(s) show the attacker's traces."),
                },
                items,
                warnings,
                saved_first: captures.iter().map(|c| c.description.clone()).collect(),
                facts: json!({
                    "check": {
                        "status": status,
                        "reason": report.not_available.join(" "),
                        "findings": new_hits,
                    },
                    "sweep": report,
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
                item: "review".into(),
                ok: true,
                detail: format!(
                    "Reviewed; {} account(s) selected to open as linked cases.",
                    selected.len()
                ),
            }]))
        }
        .boxed()
    }
}

/// The hits of the last sweep recorded for the account of `scope` in `case`.
pub fn recorded_hits(case: &CaseView, scope: &str) -> Vec<SweepHit> {
    let id = format!("{scope}.{KEY}");
    case.journal
        .iter()
        .rev()
        .find(|e| {
            e.kind == crate::case::journal::EntryKind::StepFinished
                && e.step.as_deref() == Some(id.as_str())
        })
        .and_then(|e| e.details.pointer("/detail/facts/sweep/hits"))
        .and_then(Value::as_array)
        .map(|hits| {
            hits.iter()
                .filter_map(|h| serde_json::from_value(h.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// How much of a hit's text becomes an indicator of the linked case (the case keeps at most
/// 1,000 characters per indicator; the time goes in front).
const INDICATOR_TEXT_CHARS: usize = 900;

/// Opens the sweep hit `account` of the account of `scope` in case `from` as a new case, linked
/// to `from` in both journals. Only an account the recorded sweep listed can be opened, once.
pub fn open_linked_case(
    store: &CaseStore,
    actor: &str,
    from: &CaseId,
    scope: &str,
    account: &str,
) -> Result<CaseView, Error> {
    let source = store.case(from)?;
    let hit = recorded_hits(&source, scope)
        .into_iter()
        .find(|h| same(&h.account, account) || h.user_id.as_deref().is_some_and(|id| same(id, account)))
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!(
                "{account} is not among the accounts the sideways sweep of this case found. Run the sweep step first."
            ),
        })?;
    for link in &source.links {
        if link.relation == LinkRelation::OpenedFromHere {
            let other = store.case(&link.other_case)?;
            if other
                .metadata
                .accounts
                .iter()
                .any(|a| same(a, &hit.account))
            {
                return Err(Error::InvalidInput {
                    field: "account",
                    problem: format!(
                        "{} already has its own linked case, {}.",
                        hit.account, other.id
                    ),
                });
            }
        }
    }
    let now = store.clock().now();
    let reason = hit.signals.first().map_or_else(
        || "Found by the sideways sweep.".to_owned(),
        |s| s.text.clone(),
    );
    let metadata = CaseMetadata {
        title: format!("Sideways from {}: {}", from, hit.account),
        detected_at: now,
        aware_at: now,
        alert_source: AlertSource::AuditReview,
        // Each with its time in the form triage reads back: the new case's incident window
        // starts no later than the first thing the sweep saw the attacker do to the account.
        indicators: hit
            .signals
            .iter()
            .map(|s| {
                let text: String = s.text.chars().take(INDICATOR_TEXT_CHARS).collect();
                match s.at {
                    Some(at) => format!("[{}] {text}", at.format("%Y-%m-%d %H:%M UTC")),
                    None => text,
                }
            })
            .collect(),
        affected_workloads: source.metadata.affected_workloads.clone(),
        severity: source.metadata.severity,
        accounts: vec![hit.account.clone()],
        incident_commander: source.metadata.incident_commander.clone(),
        external_ticket: source.metadata.external_ticket.clone(),
    };
    let opened = store.declare_on(actor, metadata, source.tenant_profile.clone())?;
    store.link_case(
        &opened.id,
        actor,
        &CaseLink {
            other_case: from.clone(),
            relation: LinkRelation::OpenedFrom,
            reason: reason.clone(),
        },
    )?;
    store.link_case(
        from,
        actor,
        &CaseLink {
            other_case: opened.id.clone(),
            relation: LinkRelation::OpenedFromHere,
            reason: format!("{}: {reason}", hit.account),
        },
    )?;
    store.case(&opened.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap_or_default()
    }

    #[test]
    fn three_accounts_creating_rules_within_an_hour_are_a_bulk_run_and_two_are_not() {
        let two = vec![
            (at("2025-09-25T12:00:00Z"), "a@x".to_owned(), "r".to_owned()),
            (at("2025-09-25T12:30:00Z"), "b@x".to_owned(), "r".to_owned()),
        ];
        assert!(bulk_rule_runs(&two).is_empty());
        let mut three = two.clone();
        three.push((at("2025-09-25T12:50:00Z"), "c@x".to_owned(), "r".to_owned()));
        three.push((at("2025-09-25T18:00:00Z"), "d@x".to_owned(), "r".to_owned()));
        let flagged: Vec<String> = bulk_rule_runs(&three).into_iter().map(|f| f.0).collect();
        assert_eq!(flagged, vec!["a@x", "b@x", "c@x"], "d@x was hours later");
    }

    #[test]
    fn the_rule_name_comes_from_the_audit_parameters() {
        let data = json!({"Parameters": [{"Name": "ForwardTo", "Value": "x@y"}, {"Name": "Name", "Value": "wire"}]});
        assert_eq!(rule_name(Some(&data)), "wire");
        assert_eq!(rule_name(None), "(no name)");
    }
}
