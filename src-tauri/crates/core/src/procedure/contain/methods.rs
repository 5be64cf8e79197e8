//! Authentication methods dated and attributed from the directory audit.
//!
//! Phone and e-mail methods carry no `createdDateTime` in Graph, and a dated method says when it
//! appeared but not who added it. The directory audit's security-info entries ("User registered
//! security info" and its siblings, `spec/graph-behaviour.md`) name the method kind in
//! `resultReason`, the registering address in `initiatedBy.user.ipAddress` and, where present,
//! the browser in `additionalDetails`. Each method is matched to the entry that registered it and
//! judged by that evidence: the attacker's address, an address the user never used before the
//! incident, the minutes after the attacker's sign-in — or the user's own office address, a time
//! before the incident, or no entry at all because it predates the log's reach ("cannot tell",
//! never "clean").
//!
//! Who the attacker is comes in as a predicate over addresses ([`MethodJudgement::attacker`]), so
//! the attribution of addresses stays in one place and this module only weighs the evidence.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{DirectoryAudit, SignIn},
    methods::{AuthenticationMethod, MethodKind},
};
use serde::Serialize;
use serde_json::Value;

use super::show_time;

/// How far back the directory audit reaches with Entra ID P1 (7 days without): a method
/// registered earlier has no entry, and the log cannot date it.
pub const LOG_REACH_DAYS: i64 = 30;
/// How far back the directory audit reaches without Entra ID P1 (spec/graph-behaviour.md,
/// "Retention").
pub const FREE_LOG_REACH_DAYS: i64 = 7;
/// A dated method and a registration entry this close in time are the same event.
const SAME_EVENT_MINUTES: i64 = 5;
/// A registration this soon after the attacker signed in follows from that sign-in.
const AFTER_ATTACKER_MINUTES: i64 = 60;

/// What a security-info entry of the directory audit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SecurityInfoAction {
    /// "User registered security info", "Admin registered security info".
    Registered,
    /// "User deleted security info", "Admin deleted security info".
    Deleted,
    /// "User updated security info", "Admin updated security info".
    Updated,
    /// "User changed default security info".
    ChangedDefault,
    /// "User registered all required security info" (the end of a registration, no method).
    RegisteredAllRequired,
    /// Started, reviewed, cancelled: no method changed.
    Other,
}

/// One security-info entry of the directory audit, read into what judging a method needs.
/// Every string is the tenant's (attacker-controlled): render as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The audit entry's id.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// `activityDisplayName` as sent.
    pub activity: String,
    /// What it did.
    pub action: SecurityInfoAction,
    /// An "Admin …" activity: someone else acted on the account.
    pub by_admin: bool,
    /// Who acted (`initiatedBy.user.userPrincipalName`).
    pub initiator: Option<String>,
    /// The method kind `resultReason` names, when it names one.
    #[serde(skip)]
    pub kind: Option<MethodKind>,
    /// For a phone: `mobile`, `alternateMobile` or `office` when the reason says which.
    pub phone_type: Option<&'static str>,
    /// Digits of a phone number the entry carries, when it carries one.
    pub phone_digits: Option<String>,
    /// An e-mail address the entry carries, when it carries one.
    pub email: Option<String>,
    /// `resultReason` as sent.
    pub reason: String,
    /// The registering address (`initiatedBy.user.ipAddress`).
    pub address: Option<String>,
    /// The browser, from `additionalDetails`.
    pub user_agent: Option<String>,
    /// `result` is success (or absent).
    pub succeeded: bool,
}

impl Registration {
    /// Reads a directory-audit entry; `None` when it is not about security info or has no time.
    pub fn from_audit(audit: &DirectoryAudit) -> Option<Self> {
        let activity = audit.activity_display_name.clone()?;
        let lower = activity.to_lowercase();
        if !lower.contains("security info") {
            return None;
        }
        let at = audit.activity_date_time?;
        let action = if lower.contains("deleted") {
            SecurityInfoAction::Deleted
        } else if lower.contains("registered all required") {
            SecurityInfoAction::RegisteredAllRequired
        } else if lower.contains("registered") {
            SecurityInfoAction::Registered
        } else if lower.contains("changed default") {
            SecurityInfoAction::ChangedDefault
        } else if lower.contains("updated") {
            SecurityInfoAction::Updated
        } else {
            SecurityInfoAction::Other
        };
        let reason = audit.result_reason.clone().unwrap_or_default();
        let details: Vec<(String, String)> = audit
            .additional_details
            .iter()
            .flatten()
            .filter_map(|d| {
                Some((
                    d.get("key")?.as_str()?.to_owned(),
                    d.get("value")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        let user_agent = details
            .iter()
            .find(|(k, _)| {
                let k: String = k
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_lowercase();
                k == "useragent"
            })
            .map(|(_, v)| v.clone())
            .filter(|v| !v.trim().is_empty());
        // The method and its number or address may be in the reason, in a detail (other than the
        // browser) or in a modified property of the target.
        let mut texts = vec![reason.clone()];
        texts.extend(
            details
                .iter()
                .filter(|(k, _)| !k.to_lowercase().contains("agent"))
                .map(|(_, v)| v.clone()),
        );
        for target in audit.target_resources.iter().flatten() {
            for property in target
                .get("modifiedProperties")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                texts.extend(
                    property
                        .get("newValue")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                );
            }
        }
        let (kind, phone_type) = kind_named(&reason)
            .or_else(|| texts.iter().skip(1).find_map(|t| kind_named(t)))
            .map_or((None, None), |(k, p)| (Some(k), p));
        let phone_digits = texts.iter().find_map(|t| phone_in(t));
        let email = texts.iter().find_map(|t| email_in(t));
        let user = audit
            .initiated_by
            .as_ref()
            .and_then(|i| i.get("user"))
            .filter(|u| !u.is_null());
        let address = user
            .and_then(|u| u.get("ipAddress"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let initiator = user
            .and_then(|u| u.get("userPrincipalName"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Some(Self {
            id: audit.id.clone(),
            at,
            by_admin: lower.starts_with("admin"),
            activity,
            action,
            initiator,
            kind,
            phone_type,
            phone_digits,
            email,
            reason,
            address,
            user_agent,
            succeeded: audit
                .result
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case("success")),
        })
    }

    fn fits(&self, method: &AuthenticationMethod) -> bool {
        let Some(kind) = method.kind() else {
            return false;
        };
        if self.kind.is_some_and(|k| k != kind) {
            return false;
        }
        if let (Some(digits), Some(number)) = (&self.phone_digits, phone_number(method)) {
            if !same_number(digits, &number) {
                return false;
            }
        }
        if let (Some(email), Some(address)) = (&self.email, other_str(method, "emailAddress")) {
            if !email.eq_ignore_ascii_case(address.trim()) {
                return false;
            }
        }
        if let (Some(wanted), Some(actual)) = (self.phone_type, other_str(method, "phoneType")) {
            if !wanted.eq_ignore_ascii_case(actual) {
                return false;
            }
        }
        true
    }

    /// Whether the entry names this very method (its number or address), not only its kind.
    fn names(&self, method: &AuthenticationMethod) -> bool {
        let by_number = self
            .phone_digits
            .as_ref()
            .zip(phone_number(method))
            .is_some_and(|(d, n)| same_number(d, &n));
        let by_address = self
            .email
            .as_ref()
            .zip(other_str(method, "emailAddress"))
            .is_some_and(|(e, a)| e.eq_ignore_ascii_case(a.trim()));
        by_number || by_address
    }

    /// A deletion of the same slot (kind, phone type) as `other`.
    fn same_slot(&self, kind: MethodKind, phone_type: Option<&str>) -> bool {
        self.kind == Some(kind)
            && match (self.phone_type, phone_type) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => true,
            }
    }

    /// One line for the plan: what the log says.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "Directory audit: \"{}\" at {}",
            if self.reason.is_empty() {
                &self.activity
            } else {
                &self.reason
            },
            show_time(Some(self.at))
        );
        if let Some(ip) = &self.address {
            line.push_str(&format!(" from {ip}"));
        }
        if let Some(who) = self.initiator.as_deref().filter(|_| self.by_admin) {
            line.push_str(&format!(" by {who}"));
        }
        if let Some(ua) = &self.user_agent {
            line.push_str(&format!(", browser \"{ua}\""));
        }
        line.push('.');
        line
    }
}

/// The method kind (and phone type) a security-info text names: "User registered Mobile Phone
/// SMS", "User deleted Authenticator App with Notification and Code", "User registered Email" …
fn kind_named(text: &str) -> Option<(MethodKind, Option<&'static str>)> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&["temporary access pass"]) {
        Some((MethodKind::TemporaryAccessPass, None))
    } else if has(&["fido", "passkey", "security key"]) {
        Some((MethodKind::Fido2, None))
    } else if has(&["windows hello", "hello for business"]) {
        Some((MethodKind::WindowsHelloForBusiness, None))
    } else if has(&["oath", "software token", "hardware token"]) {
        Some((MethodKind::SoftwareOath, None))
    } else if has(&["authenticator", "phone app", "phoneapp"]) {
        Some((MethodKind::MicrosoftAuthenticator, None))
    } else if has(&["email", "e-mail"]) {
        Some((MethodKind::Email, None))
    } else if has(&["alternate mobile", "alternate phone", "alternatemobile"]) {
        Some((MethodKind::Phone, Some("alternateMobile")))
    } else if has(&["office phone", "officephone"]) {
        Some((MethodKind::Phone, Some("office")))
    } else if has(&["mobile phone", "mobilephone", "onewaysms", "sms"]) {
        Some((MethodKind::Phone, Some("mobile")))
    } else if has(&["phone", "text a code", "call +"]) {
        Some((MethodKind::Phone, None))
    } else {
        None
    }
}

/// The digits of the first phone number (a `+` and at least seven digits) in `text`.
fn phone_in(text: &str) -> Option<String> {
    let start = text.find('+')?;
    let digits: String = text[start + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .filter(char::is_ascii_digit)
        .collect();
    (digits.len() >= 7).then_some(digits)
}

/// The first e-mail address in `text`.
fn email_in(text: &str) -> Option<String> {
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | '<' | '>' | '[' | ']')
    })
    .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
    .find(|w| {
        w.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
    })
    .map(str::to_lowercase)
}

fn other_str<'a>(method: &'a AuthenticationMethod, key: &str) -> Option<&'a str> {
    method.other.get(key).and_then(Value::as_str)
}

fn phone_number(method: &AuthenticationMethod) -> Option<String> {
    let digits: String = other_str(method, "phoneNumber")?
        .split('x')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (digits.len() >= 7).then_some(digits)
}

/// Two numbers are the same when one's digits end with the other's last seven (entries may
/// mask or shorten the country code).
fn same_number(a: &str, b: &str) -> bool {
    let tail = |s: &str| s.chars().rev().take(7).collect::<String>();
    tail(a) == tail(b)
}

/// For each method, the index in `records` of the security-info entry that registered it.
///
/// A dated method takes the registration of its kind closest to its creation time (within a few
/// minutes). An undated method takes the entry that names its number or address; failing that,
/// the latest registration of its slot (a user has one e-mail method and one phone per phone
/// type), unless a later deletion of that slot shows the method now present came after it. An
/// entry that names no kind is used only when exactly one method is left to explain.
pub fn match_registrations(
    methods: &[&AuthenticationMethod],
    records: &[Registration],
) -> Vec<Option<usize>> {
    let registrations: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].action == SecurityInfoAction::Registered && records[i].succeeded)
        .collect();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    let mut found: Vec<Option<usize>> = vec![None; methods.len()];

    // Dated methods: the same event within a few minutes.
    for (m, method) in methods.iter().enumerate() {
        let Some(created) = method.created_date_time else {
            continue;
        };
        let best = registrations
            .iter()
            .copied()
            .filter(|i| !used.contains(i) && records[*i].fits(method))
            .filter(|i| (records[*i].at - created).num_seconds().abs() <= SAME_EVENT_MINUTES * 60)
            .min_by_key(|i| (records[*i].at - created).num_seconds().abs());
        if let Some(i) = best {
            used.insert(i);
            found[m] = Some(i);
        }
    }
    // Undated methods named by number or address.
    for (m, method) in methods.iter().enumerate() {
        if method.created_date_time.is_some() || found[m].is_some() {
            continue;
        }
        let named = registrations
            .iter()
            .copied()
            .filter(|i| !used.contains(i) && records[*i].names(method) && records[*i].fits(method))
            .max_by_key(|i| records[*i].at);
        if let Some(i) = named {
            used.insert(i);
            found[m] = Some(i);
        }
    }
    // Undated methods by slot: the latest registration of the kind, the exact phone type first.
    // Two undated methods sharing a slot cannot be told apart this way (see `shared_registrations`).
    let crowded = crowded_slots(methods, &found);
    for exact in [true, false] {
        for (m, method) in methods.iter().enumerate() {
            if method.created_date_time.is_some() || found[m].is_some() || crowded[m] {
                continue;
            }
            let Some(kind) = method.kind() else { continue };
            let phone_type = other_str(method, "phoneType");
            let latest = registrations
                .iter()
                .copied()
                .filter(|i| !used.contains(i) && records[*i].kind == Some(kind))
                .filter(|i| records[*i].fits(method))
                .filter(|i| !exact || records[*i].phone_type.is_some() || kind != MethodKind::Phone)
                .max_by_key(|i| records[*i].at);
            let Some(i) = latest else { continue };
            let removed_since = records.iter().any(|d| {
                d.action == SecurityInfoAction::Deleted
                    && d.succeeded
                    && d.at > records[i].at
                    && d.same_slot(kind, phone_type)
            });
            if !removed_since {
                used.insert(i);
                found[m] = Some(i);
            }
        }
    }
    // Entries that name no kind: only when one method is left to explain.
    let left: Vec<usize> = (0..methods.len())
        .filter(|&m| found[m].is_none() && methods[m].created_date_time.is_none())
        .collect();
    if let [m] = left[..] {
        let unnamed = registrations
            .iter()
            .copied()
            .filter(|i| !used.contains(i) && records[*i].kind.is_none())
            .max_by_key(|i| records[*i].at);
        if let Some(i) = unnamed {
            found[m] = Some(i);
        }
    }
    found
}

/// The slot of a method: its kind, and for a phone its type.
fn slot(method: &AuthenticationMethod) -> Option<(MethodKind, Option<&str>)> {
    let kind = method.kind()?;
    Some((kind, other_str(method, "phoneType")))
}

/// For each method, whether it is undated, unexplained by number or address, and shares its slot
/// with another such method (two Authenticator apps registered for notifications only).
fn crowded_slots(methods: &[&AuthenticationMethod], found: &[Option<usize>]) -> Vec<bool> {
    let open = |m: usize| methods[m].created_date_time.is_none() && found[m].is_none();
    (0..methods.len())
        .map(|m| {
            open(m)
                && slot(methods[m]).is_some()
                && (0..methods.len())
                    .any(|o| o != m && open(o) && slot(methods[o]) == slot(methods[m]))
        })
        .collect()
}

/// For each method [`match_registrations`] left unmatched because another undated method shares
/// its slot: the registrations of that slot no other method took. The log cannot say which of
/// them is whose (spec/graph-behaviour.md, "Method deletion order"), so they are judged together
/// ([`judge_shared`]). Empty for every other method.
pub fn shared_registrations(
    methods: &[&AuthenticationMethod],
    records: &[Registration],
    found: &[Option<usize>],
) -> Vec<Vec<usize>> {
    let crowded = crowded_slots(methods, found);
    let used: BTreeSet<usize> = found.iter().flatten().copied().collect();
    (0..methods.len())
        .map(|m| {
            if !crowded[m] {
                return Vec::new();
            }
            (0..records.len())
                .filter(|i| !used.contains(i))
                .filter(|i| {
                    records[*i].action == SecurityInfoAction::Registered
                        && records[*i].succeeded
                        && records[*i].kind == methods[m].kind()
                        && records[*i].fits(methods[m])
                })
                .collect()
        })
        .collect()
}

/// Judges a method that shares its slot with other undated methods against every registration of
/// that slot: if any of them is the attacker's, the method is pre-selected (removing the user's own
/// costs a new registration with the Temporary Access Pass; keeping the attacker's costs the
/// account); otherwise it is left to the admin.
pub fn judge_shared(
    method: &AuthenticationMethod,
    candidates: &[&Registration],
    cx: &MethodJudgement<'_>,
) -> MethodVerdict {
    let kind = method.kind().map_or("sign-in method", |k| match k {
        MethodKind::MicrosoftAuthenticator => "Authenticator app",
        MethodKind::Phone => "phone",
        _ => "method",
    });
    let opening = format!(
        "Several {kind}s on this account have no creation time, and the directory audit's {} registration(s) of that kind do not say which is which.",
        candidates.len()
    );
    let verdicts: Vec<MethodVerdict> = candidates
        .iter()
        .map(|r| judge_method(method, Some(r), cx))
        .collect();
    match verdicts.iter().find(|v| v.recommended) {
        Some(bad) => {
            let mut reasons = vec![format!("{opening} One of them is the attacker's, so each is pre-selected; the user registers again with the Temporary Access Pass.")];
            reasons.extend(bad.reasons.iter().cloned());
            verdict(true, bad.evidence, reasons)
        }
        None => {
            let mut reasons = vec![format!("{opening} None of those registrations points to the attacker: ask the user which devices are theirs.")];
            reasons.extend(verdicts.into_iter().flat_map(|v| v.reasons));
            verdict(false, MethodEvidence::UnclearInWindow, reasons)
        }
    }
}

/// Where a method goes in the deletion order: the alternate mobile before the mobile, and the
/// kinds most often the default sign-in method (Authenticator notification, text or call to the
/// mobile) last (spec/graph-behaviour.md, "Method deletion order").
pub fn deletion_rank(method: &AuthenticationMethod) -> u8 {
    match (method.kind(), other_str(method, "phoneType")) {
        (Some(MethodKind::Phone), Some("alternateMobile")) => 0,
        (Some(MethodKind::Phone), Some("office")) | (Some(MethodKind::Email), _) => 1,
        (Some(MethodKind::TemporaryAccessPass), _) => 1,
        (Some(MethodKind::MicrosoftAuthenticator), _) => 4,
        (Some(MethodKind::Phone), _) => 5,
        (Some(MethodKind::SoftwareOath), _) => 3,
        _ => 2,
    }
}

/// What the account's own history says: the addresses it signed in from before the incident,
/// and the browsers it registered security info with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserHistory {
    /// Address → first time seen, before the incident window (the attacker's excluded).
    pub addresses: BTreeMap<String, DateTime<Utc>>,
    /// Browsers of the account's own security-info entries: before the incident window, or from
    /// an address it used before.
    pub user_agents: BTreeSet<String>,
}

impl UserHistory {
    /// Builds the history from the account's successful sign-ins and its security-info entries,
    /// keeping what happened before `before` and not from the attacker.
    pub fn build(
        sign_ins: &[SignIn],
        records: &[Registration],
        before: Option<DateTime<Utc>>,
        attacker: &dyn Fn(&str) -> bool,
    ) -> Self {
        let earlier = |t: DateTime<Utc>| before.is_none_or(|b| t < b);
        let mut history = Self::default();
        let mut seen = |ip: &str, at: DateTime<Utc>| {
            if ip.is_empty() || attacker(ip) || !earlier(at) {
                return;
            }
            history
                .addresses
                .entry(ip.to_owned())
                .and_modify(|t| *t = (*t).min(at))
                .or_insert(at);
        };
        for s in sign_ins {
            let ok = s.status.as_ref().and_then(|st| st.error_code).unwrap_or(0) == 0;
            if let (true, Some(ip), Some(at)) = (ok, &s.ip_address, s.created_date_time) {
                seen(ip, at);
            }
        }
        for r in records.iter().filter(|r| !r.by_admin && r.succeeded) {
            if let Some(ip) = &r.address {
                seen(ip, r.at);
            }
        }
        // The browsers the user registers with: entries before the incident, and entries at any
        // time from an address the user had already used before it.
        let known = history.addresses.clone();
        history.user_agents = records
            .iter()
            .filter(|r| !r.by_admin && r.succeeded)
            .filter(|r| match r.address.as_deref() {
                Some(ip) => !attacker(ip) && (earlier(r.at) || known.contains_key(ip)),
                None => earlier(r.at),
            })
            .filter_map(|r| r.user_agent.clone())
            .collect();
        history
    }
}

/// Everything a method is judged against besides its own registration.
pub struct MethodJudgement<'a> {
    /// The incident window start recorded at triage.
    pub window_start: Option<DateTime<Utc>>,
    /// How far back the directory audit was read (its reach).
    pub log_reach: DateTime<Utc>,
    /// Whether the directory audit could be read at all.
    pub audit_read: bool,
    /// Whether an address is the attacker's (their addresses and infrastructure).
    pub attacker: &'a dyn Fn(&str) -> bool,
    /// The attacker's successful sign-ins to the account: (time, address).
    pub attacker_sign_ins: Vec<(DateTime<Utc>, String)>,
    /// The account's own history; `None` when its sign-ins could not be read.
    pub history: Option<UserHistory>,
}

/// The evidence that decided a method's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodEvidence {
    /// Registered from one of the attacker's addresses.
    AttackerAddress,
    /// Registered in the incident window from an address the user never used before.
    NewAddressInWindow,
    /// Registered within the hour after the attacker signed in.
    AfterAttackerSignIn,
    /// Registered in the window from an address the user has used for longer.
    UsersOwnAddress,
    /// Registered by an administrator.
    ByAdministrator,
    /// Registered (per the log) before the incident window.
    RegisteredBeforeWindow,
    /// Registered in the window, but nothing tells who it was.
    UnclearInWindow,
    /// No log entry; its creation time falls in the window.
    CreatedInWindow,
    /// No log entry; its creation time is before the window.
    CreatedBeforeWindow,
    /// Undated and not in the log: registered before the log's reach.
    BeforeLogReach,
    /// Undated and not in the log, and the attacker was in the account before the log's reach:
    /// pre-selected although nothing tells whose it is.
    AttackerBeforeLogReach,
    /// Undated and the log could not be read.
    AuditUnreadable,
    /// No incident window and no attacker evidence.
    NoWindow,
}

impl MethodEvidence {
    /// Whether the row is "cannot tell" rather than a judgement either way.
    pub fn undecided(self) -> bool {
        matches!(
            self,
            MethodEvidence::UnclearInWindow
                | MethodEvidence::BeforeLogReach
                | MethodEvidence::AttackerBeforeLogReach
                | MethodEvidence::AuditUnreadable
                | MethodEvidence::NoWindow
        )
    }
}

/// A method's row: pre-selected or not, the evidence that decided it, and why in words.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodVerdict {
    /// Pre-selected for removal.
    pub recommended: bool,
    /// What decided it.
    pub evidence: MethodEvidence,
    /// Why, in the admin's words (the first line is the decision).
    pub reasons: Vec<String>,
}

fn verdict(recommended: bool, evidence: MethodEvidence, reasons: Vec<String>) -> MethodVerdict {
    MethodVerdict {
        recommended,
        evidence,
        reasons,
    }
}

/// Judges one method by its registration entry (if the log has one) and the account's history.
pub fn judge_method(
    method: &AuthenticationMethod,
    registration: Option<&Registration>,
    cx: &MethodJudgement<'_>,
) -> MethodVerdict {
    let reach = show_time(Some(cx.log_reach));
    let Some(r) = registration else {
        return match (method.created_date_time, cx.window_start) {
            (Some(created), None) => verdict(
                false,
                MethodEvidence::NoWindow,
                vec![format!("Created {}; no incident window was recorded at triage and no registration entry ties it to the attacker: check it yourself.", show_time(Some(created)))],
            ),
            (Some(created), Some(start)) if created >= start => verdict(
                true,
                MethodEvidence::CreatedInWindow,
                vec![format!("Created {}, in the incident window (from {}); the directory audit has no registration entry for it, so its time alone decided.", show_time(Some(created)), show_time(Some(start)))],
            ),
            (Some(created), Some(_)) => verdict(
                false,
                MethodEvidence::CreatedBeforeWindow,
                vec![format!("Created {}, before the incident window.", show_time(Some(created)))],
            ),
            (None, _) if !cx.audit_read => verdict(
                false,
                MethodEvidence::AuditUnreadable,
                vec!["This kind of method has no creation time and the directory audit could not be read: cannot tell when it was added — ask the user.".into()],
            ),
            // The attacker held the account before the log's reach: a method the log cannot
            // date may be theirs, and on an account known to be compromised a way back in costs
            // more than a re-registration with the Temporary Access Pass issued at recovery.
            (None, Some(start)) if start < cx.log_reach => verdict(
                true,
                MethodEvidence::AttackerBeforeLogReach,
                vec![format!("This kind of method has no creation time and the directory audit has no registration for it since {reach}, but the attacker was in this account from {}, before the log's reach: it may be the attacker's, and the log cannot say. Pre-selected: removing it costs the user a new registration with the Temporary Access Pass issued at recovery; leaving it may leave the attacker a way back in. If you can reach the user, confirm it is not theirs first.", show_time(Some(start)))],
            ),
            (None, _) => verdict(
                false,
                MethodEvidence::BeforeLogReach,
                vec![format!("This kind of method has no creation time and the directory audit has no registration for it since {reach}: registered before the log's reach ({LOG_REACH_DAYS} days; seven without Entra ID P1), so the log cannot date it. Cannot tell — not the same as clean: ask the user.")],
            ),
        };
    };
    let when = show_time(Some(r.at));
    let from = r.address.as_deref();
    let mut reasons = Vec::new();
    if let Some(ip) = from.filter(|ip| (cx.attacker)(ip)) {
        reasons.push(format!(
            "Registered {when} from {ip}, an address of the attacker."
        ));
        reasons.extend(after_attacker(r, cx).map(|(n, aip)| {
            format!("That was {n} minutes after the attacker's sign-in from {aip}.")
        }));
        return verdict(true, MethodEvidence::AttackerAddress, reasons);
    }
    if r.by_admin {
        let who = r.initiator.as_deref().unwrap_or("an administrator");
        return verdict(
            false,
            MethodEvidence::ByAdministrator,
            vec![format!("Registered {when} by {who} (an administrator), from {}: check with them before removing it.", from.unwrap_or("an address the log does not give"))],
        );
    }
    let Some(start) = cx.window_start else {
        return verdict(
            false,
            MethodEvidence::NoWindow,
            vec![format!("Registered {when} from {}, not an address of the attacker; no incident window was recorded at triage: check it yourself.", from.unwrap_or("an address the log does not give"))],
        );
    };
    if r.at < start {
        return verdict(
            false,
            MethodEvidence::RegisteredBeforeWindow,
            vec![format!(
                "Registered {when}, before the incident window, from {}.",
                from.unwrap_or("an address the log does not give")
            )],
        );
    }
    let following = after_attacker(r, cx);
    let follow_line = following
        .as_ref()
        .map(|(n, aip)| format!("It came {n} minutes after the attacker's sign-in from {aip}."));
    match (from, &cx.history) {
        (Some(ip), Some(history)) if history.addresses.contains_key(ip) => {
            let since = history.addresses.get(ip).copied();
            reasons.push(format!(
                "Registered {when}, during the incident window, but from {ip}, an address this user has signed in from since {}: most likely the user themself — confirm with them.",
                show_time(since)
            ));
            verdict(false, MethodEvidence::UsersOwnAddress, reasons)
        }
        (Some(ip), Some(history)) => {
            reasons.push(format!(
                "Registered {when}, during the incident window, from {ip}, an address this user never signed in from before the incident."
            ));
            if let Some(ua) = &r.user_agent {
                if !history.user_agents.is_empty() && !history.user_agents.contains(ua) {
                    reasons.push(format!(
                        "Its browser (\"{ua}\") is not one the user registered security info with before."
                    ));
                }
            }
            reasons.extend(follow_line);
            verdict(true, MethodEvidence::NewAddressInWindow, reasons)
        }
        _ if following.is_some() => {
            reasons.push(format!(
                "Registered {when}, during the incident window, from {}.",
                from.unwrap_or("an address the log does not give")
            ));
            reasons.extend(follow_line);
            verdict(true, MethodEvidence::AfterAttackerSignIn, reasons)
        }
        (Some(ip), None) => verdict(
            false,
            MethodEvidence::UnclearInWindow,
            vec![format!("Registered {when}, during the incident window, from {ip}; the account's sign-ins could not be read, so whether that address is the user's cannot be told: ask the user.")],
        ),
        (None, _) => verdict(
            false,
            MethodEvidence::UnclearInWindow,
            vec![format!("Registered {when}, during the incident window; the entry names no address: ask the user.")],
        ),
    }
}

/// The attacker's latest sign-in in the hour before the registration: (minutes, address).
fn after_attacker(r: &Registration, cx: &MethodJudgement<'_>) -> Option<(i64, String)> {
    cx.attacker_sign_ins
        .iter()
        .filter(|(t, _)| *t <= r.at && r.at - *t <= Duration::minutes(AFTER_ATTACKER_MINUTES))
        .max_by_key(|(t, _)| *t)
        .map(|(t, ip)| ((r.at - *t).num_minutes(), ip.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn method(kind: &str, extra: Value) -> AuthenticationMethod {
        let mut v = json!({ "@odata.type": format!("#microsoft.graph.{kind}AuthenticationMethod"), "id": format!("{kind}-1") });
        if let (Some(map), Value::Object(more)) = (v.as_object_mut(), extra) {
            map.extend(more);
        }
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn audit(at: &str, activity: &str, reason: &str, ip: &str, ua: Option<&str>) -> Registration {
        let mut details = Vec::new();
        if let Some(ua) = ua {
            details.push(json!({"key": "User-Agent", "value": ua}));
        }
        let a: DirectoryAudit = serde_json::from_value(json!({
            "id": format!("a-{at}"), "activityDateTime": at, "activityDisplayName": activity,
            "category": "UserManagement", "loggedByService": "Authentication Methods",
            "result": "success", "resultReason": reason,
            "initiatedBy": {"user": {"id": "u1", "userPrincipalName": "megan@contoso.com", "ipAddress": ip}},
            "targetResources": [{"id": "u1", "type": "User"}],
            "additionalDetails": details,
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        Registration::from_audit(&a).unwrap_or_else(|| panic!("not a security-info entry"))
    }

    fn sign_in(at: &str, ip: &str) -> SignIn {
        serde_json::from_value(json!({"id": format!("s-{at}"), "createdDateTime": at, "userId": "u1", "ipAddress": ip, "status": {"errorCode": 0}}))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    const OFFICE: &str = "192.0.2.44";
    const ATTACKER: &str = "203.0.113.45";
    const SECOND: &str = "198.51.100.77";
    const OFFICE_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/124.0";
    const ATTACKER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0";

    fn attacker(ip: &str) -> bool {
        ip == ATTACKER
    }

    /// The user has signed in from the office for weeks; the incident starts at 19:00 on the
    /// 12th with the attacker's sign-in at 19:12.
    fn judgement(records: &[Registration]) -> MethodJudgement<'static> {
        let sign_ins = vec![
            sign_in("2025-02-14T08:30:00Z", OFFICE),
            sign_in("2025-03-10T08:30:00Z", OFFICE),
            sign_in("2025-03-12T19:12:00Z", ATTACKER),
        ];
        let start = t("2025-03-12T19:00:00Z");
        MethodJudgement {
            window_start: Some(start),
            log_reach: t("2025-02-11T09:00:00Z"),
            audit_read: true,
            attacker: &attacker,
            attacker_sign_ins: vec![(t("2025-03-12T19:12:00Z"), ATTACKER.to_owned())],
            history: Some(UserHistory::build(
                &sign_ins,
                records,
                Some(start),
                &attacker,
            )),
        }
    }

    fn judge(m: &AuthenticationMethod, records: &[Registration]) -> MethodVerdict {
        let found = match_registrations(&[m], records);
        judge_method(m, found[0].map(|i| &records[i]), &judgement(records))
    }

    #[test]
    fn the_reason_of_a_registration_names_the_method_kind_and_phone_type() {
        let r = audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered Mobile Phone SMS",
            ATTACKER,
            Some(ATTACKER_UA),
        );
        assert_eq!(r.kind, Some(MethodKind::Phone));
        assert_eq!(r.phone_type, Some("mobile"));
        assert_eq!(r.address.as_deref(), Some(ATTACKER));
        assert_eq!(r.user_agent.as_deref(), Some(ATTACKER_UA));
        let a = audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered Authenticator App with Notification and Code",
            OFFICE,
            None,
        );
        assert_eq!(a.kind, Some(MethodKind::MicrosoftAuthenticator));
        let e = audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered Email",
            OFFICE,
            None,
        );
        assert_eq!(e.kind, Some(MethodKind::Email));
        let d = audit(
            "2025-03-12T19:20:00Z",
            "User changed default security info",
            "User changed the default security info for Text a code to +31 6 12345678",
            OFFICE,
            None,
        );
        assert_eq!(d.action, SecurityInfoAction::ChangedDefault);
        assert_eq!(d.phone_digits.as_deref(), Some("31612345678"));
        let all = audit(
            "2025-03-12T19:20:00Z",
            "User registered all required security info",
            "User registered all required security info.",
            OFFICE,
            None,
        );
        assert_eq!(all.action, SecurityInfoAction::RegisteredAllRequired);
    }

    #[test]
    fn an_undated_phone_added_from_the_attackers_address_is_preselected() {
        let phone = method(
            "phone",
            json!({"phoneNumber": "+44 7700 900461", "phoneType": "alternateMobile"}),
        );
        let records = vec![audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered Alternate Mobile Phone",
            ATTACKER,
            Some(ATTACKER_UA),
        )];
        let v = judge(&phone, &records);
        assert!(v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::AttackerAddress);
        assert!(v.reasons[0].contains(ATTACKER), "{v:?}");
        assert!(
            v.reasons.iter().any(|r| r.contains("8 minutes after")),
            "{v:?}"
        );
    }

    #[test]
    fn a_method_registered_from_a_second_attacker_address_with_another_browser_is_preselected() {
        let email = method("email", json!({"emailAddress": "recovery@mailbox.example"}));
        let records = vec![
            audit(
                "2025-02-20T09:00:00Z",
                "User registered security info",
                "User registered Authenticator App with Notification and Code",
                OFFICE,
                Some(OFFICE_UA),
            ),
            audit(
                "2025-03-12T21:05:00Z",
                "User registered security info",
                "User registered Email",
                SECOND,
                Some(ATTACKER_UA),
            ),
        ];
        let v = judge(&email, &records);
        assert!(v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::NewAddressInWindow);
        assert!(v.reasons.iter().any(|r| r.contains(SECOND)), "{v:?}");
        assert!(v.reasons.iter().any(|r| r.contains("browser")), "{v:?}");
    }

    #[test]
    fn the_user_re_registering_their_phone_from_the_office_in_the_window_is_kept() {
        let phone = method(
            "phone",
            json!({"phoneNumber": "+31 6 11112222", "phoneType": "mobile"}),
        );
        let records = vec![audit(
            "2025-03-13T08:40:00Z",
            "User registered security info",
            "User registered Mobile Phone SMS",
            OFFICE,
            Some(OFFICE_UA),
        )];
        let v = judge(&phone, &records);
        assert!(!v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::UsersOwnAddress);
        assert!(v.reasons[0].contains(OFFICE), "{v:?}");
    }

    #[test]
    fn an_old_undated_email_method_is_kept_as_cannot_tell() {
        let email = method(
            "email",
            json!({"emailAddress": "megan.private@example.org"}),
        );
        let v = judge(&email, &[]);
        assert!(!v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::BeforeLogReach);
        assert!(v.evidence.undecided());
        assert!(
            v.reasons[0].contains("before the log's reach (30 days; seven without Entra ID P1)"),
            "{v:?}"
        );
        assert!(v.reasons[0].contains("Cannot tell"), "{v:?}");
    }

    #[test]
    fn an_undated_method_is_preselected_when_the_attacker_was_in_before_the_logs_reach() {
        let email = method("email", json!({"emailAddress": "recovery@example.net"}));
        // The look-alike: the attacker arrived inside the log's reach, so an undated method the
        // log has no entry for predates the attacker and stays "cannot tell", not selected.
        let inside = judge(&email, &[]);
        assert!(!inside.recommended, "{inside:?}");
        // The variant: the attacker's first sign-in is older than the seven days a Free tenant's
        // audit keeps, so the same method may be the attacker's and goes (the user re-registers
        // with the Temporary Access Pass).
        let mut cx = judgement(&[]);
        cx.log_reach = t("2025-03-14T00:00:00Z");
        let v = judge_method(&email, None, &cx);
        assert!(v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::AttackerBeforeLogReach);
        assert!(v.evidence.undecided());
        assert!(v.reasons[0].contains("before the log's reach"), "{v:?}");
        assert!(v.reasons[0].contains("Temporary Access Pass"), "{v:?}");
    }

    #[test]
    fn an_unreadable_audit_leaves_an_undated_method_undecided() {
        let phone = method(
            "phone",
            json!({"phoneNumber": "+44 7700 900461", "phoneType": "mobile"}),
        );
        let mut cx = judgement(&[]);
        cx.audit_read = false;
        let v = judge_method(&phone, None, &cx);
        assert!(!v.recommended);
        assert_eq!(v.evidence, MethodEvidence::AuditUnreadable);
    }

    #[test]
    fn the_attackers_phone_is_told_apart_from_the_users_by_phone_type() {
        let mine = method(
            "phone",
            json!({"id": "mine", "phoneNumber": "+31 6 11112222", "phoneType": "mobile"}),
        );
        let theirs = method(
            "phone",
            json!({"id": "theirs", "phoneNumber": "+44 7700 900461", "phoneType": "alternateMobile"}),
        );
        let records = vec![audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered Alternate Mobile Phone",
            ATTACKER,
            None,
        )];
        let found = match_registrations(&[&mine, &theirs], &records);
        assert_eq!(found, vec![None, Some(0)]);
    }

    #[test]
    fn a_registration_naming_another_number_does_not_date_the_method() {
        let phone = method(
            "phone",
            json!({"phoneNumber": "+31 6 11112222", "phoneType": "mobile"}),
        );
        let records = vec![
            audit(
                "2025-03-12T19:20:00Z",
                "User changed default security info",
                "x",
                ATTACKER,
                None,
            ),
            audit(
                "2025-03-12T19:21:00Z",
                "User registered security info",
                "User registered Mobile Phone SMS +44 7700 900461",
                ATTACKER,
                None,
            ),
        ];
        assert_eq!(match_registrations(&[&phone], &records), vec![None]);
    }

    #[test]
    fn a_phone_deleted_after_its_last_registration_is_not_dated_by_it() {
        let phone = method(
            "phone",
            json!({"phoneNumber": "+31 6 11112222", "phoneType": "mobile"}),
        );
        let records = vec![
            audit(
                "2025-02-20T09:00:00Z",
                "User registered security info",
                "User registered Mobile Phone SMS",
                OFFICE,
                None,
            ),
            audit(
                "2025-03-12T19:30:00Z",
                "User deleted security info",
                "User deleted Mobile Phone SMS",
                ATTACKER,
                None,
            ),
        ];
        assert_eq!(match_registrations(&[&phone], &records), vec![None]);
    }

    #[test]
    fn a_dated_authenticator_registered_from_the_office_in_the_window_is_kept() {
        let app = method(
            "microsoftAuthenticator",
            json!({"displayName": "iPhone 15", "createdDateTime": "2025-03-13T08:41:10Z"}),
        );
        let records = vec![audit(
            "2025-03-13T08:41:00Z",
            "User registered security info",
            "User registered Authenticator App with Notification and Code",
            OFFICE,
            Some(OFFICE_UA),
        )];
        let v = judge(&app, &records);
        assert!(!v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::UsersOwnAddress);
    }

    #[test]
    fn a_dated_method_without_an_entry_is_judged_by_its_time() {
        let app = method(
            "microsoftAuthenticator",
            json!({"createdDateTime": "2025-03-12T19:30:00Z"}),
        );
        let v = judge(&app, &[]);
        assert!(v.recommended);
        assert_eq!(v.evidence, MethodEvidence::CreatedInWindow);
        let old = method(
            "microsoftAuthenticator",
            json!({"createdDateTime": "2023-05-02T08:41:00Z"}),
        );
        assert_eq!(
            judge(&old, &[]).evidence,
            MethodEvidence::CreatedBeforeWindow
        );
        assert!(!judge(&old, &[]).recommended);
    }

    #[test]
    fn a_registration_from_an_unknown_address_with_no_history_is_not_guessed() {
        let phone = method("phone", json!({"phoneType": "mobile"}));
        let records = vec![audit(
            "2025-03-13T10:00:00Z",
            "User registered security info",
            "User registered Mobile Phone SMS",
            "192.0.2.200",
            None,
        )];
        let mut cx = judgement(&records);
        cx.history = None;
        cx.attacker_sign_ins.clear();
        let v = judge_method(&phone, Some(&records[0]), &cx);
        assert!(!v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::UnclearInWindow);
    }

    #[test]
    fn a_phone_an_administrator_registered_is_left_to_the_admin() {
        let phone = method("phone", json!({"phoneType": "mobile"}));
        let records = vec![audit(
            "2025-03-13T09:00:00Z",
            "Admin registered security info",
            "Admin registered phone method for user",
            "192.0.2.99",
            None,
        )];
        let v = judge(&phone, &records);
        assert!(!v.recommended, "{v:?}");
        assert_eq!(v.evidence, MethodEvidence::ByAdministrator);
    }

    #[test]
    fn an_entry_that_names_no_method_explains_the_only_undated_method_left() {
        let phone = method("phone", json!({"phoneType": "mobile"}));
        let email = method("email", json!({"emailAddress": "x@example.org"}));
        let records = vec![audit(
            "2025-03-12T19:20:00Z",
            "User registered security info",
            "User registered security info",
            ATTACKER,
            None,
        )];
        assert_eq!(match_registrations(&[&phone], &records), vec![Some(0)]);
        assert_eq!(
            match_registrations(&[&phone, &email], &records),
            vec![None, None],
            "two candidates: the entry cannot say which"
        );
    }

    #[test]
    fn two_undated_authenticators_are_not_told_apart_by_guessing_and_both_go_when_one_is_the_attackers(
    ) {
        // Both registered for notifications only: no creation time. The user's is listed first.
        let mine = method(
            "microsoftAuthenticator",
            json!({"id": "mine", "displayName": "iPhone 12"}),
        );
        let theirs = method(
            "microsoftAuthenticator",
            json!({"id": "theirs", "displayName": "SM-A145R"}),
        );
        let records = vec![
            audit(
                "2025-02-20T09:00:00Z",
                "User registered security info",
                "User registered Authenticator App with Notification",
                OFFICE,
                Some(OFFICE_UA),
            ),
            audit(
                "2025-03-12T19:25:00Z",
                "User registered security info",
                "User registered Authenticator App with Notification",
                ATTACKER,
                Some(ATTACKER_UA),
            ),
        ];
        let methods = [&mine, &theirs];
        let found = match_registrations(&methods, &records);
        assert_eq!(found, vec![None, None], "the log cannot say which is whose");
        let shared = shared_registrations(&methods, &records, &found);
        assert_eq!(shared, vec![vec![0, 1], vec![0, 1]]);
        let cx = judgement(&records);
        for m in methods {
            let candidates: Vec<&Registration> = records.iter().collect();
            let v = judge_shared(m, &candidates, &cx);
            assert!(v.recommended, "{v:?}");
            assert_eq!(v.evidence, MethodEvidence::AttackerAddress);
            assert!(v.reasons[0].contains("do not say which is which"), "{v:?}");
        }
    }

    #[test]
    fn the_deletion_order_puts_the_alternate_mobile_first_and_the_likely_defaults_last() {
        let mobile = method("phone", json!({"id": "mobile", "phoneType": "mobile"}));
        let alternate = method(
            "phone",
            json!({"id": "alternate", "phoneType": "alternateMobile"}),
        );
        let app = method("microsoftAuthenticator", json!({"id": "app"}));
        let email = method("email", json!({"id": "email"}));
        let mut order = [&mobile, &app, &email, &alternate];
        order.sort_by_key(|m| deletion_rank(m));
        assert_eq!(
            order.map(|m| m.id.as_str()),
            ["alternate", "email", "app", "mobile"]
        );
    }
}
