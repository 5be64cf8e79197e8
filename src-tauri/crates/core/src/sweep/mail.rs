//! The sweep's fifth look: accounts reached through mail. An attacker holding a mailbox phishes
//! the people who trust it, and a colleague who takes the bait is signed into from wherever the
//! attacker is next — often an address and network nothing else ties to the first account. Only
//! the mail itself links them, in both directions:
//!
//! - **forward**: the mail this account sent from the attacker's side (the mailbox audit's `Send`
//!   records from an attacker address, joined to Sent Items by Internet Message-ID for their
//!   recipients), and each internal recipient's sign-ins in the days after it;
//! - **back**: when this account is itself a second hop, the mail it received from colleagues in
//!   the days before the attacker arrived, and where each sender's mailbox sent it from.
//!
//! A recipient counts only when, after the mail, it was signed into from somewhere outside its
//! routine *on a device outside its routine*: an address it had not used on
//! [`ROUTINE_DAYS`] separate days before the mail, by a client that is neither a registered
//! device (the sign-in names a device id) nor a browser it had used on as many days. A colleague
//! abroad on their own laptop keeps their device and browser and is left alone; a replayed token
//! arrives on the attacker's browser. A sender counts when its mailbox sent the mail from such an
//! address and client. Without [`ROUTINE_DAYS`] days of sign-ins before the mail, nothing tells
//! the two apart: the recipient is named as "cannot tell", never as a hit.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    logs::{NewAuditLogQuery, SignIn, SignInEventType, SignInQuery},
    mail::Message,
    UserRef,
};
use serde_json::Value;

use super::{HitKind, Lead, Signal};
use crate::{
    attribution::{Infrastructure, RETENTION_DAYS},
    procedure::{tenant::IncidentTenant, Capture},
    routine::{first_strange, Routine, ROUTINE_DAYS},
};

/// The mailbox audit's operations that send a message.
const SEND_OPERATIONS: [&str; 3] = ["Send", "SendAs", "SendOnBehalf"];
/// How long after the mail a recipient's first sign-in from outside its routine is tied to it.
const BAIT_HOURS: i64 = 72;
/// How far before the attacker reached this account its inbox is read for the mail that brought
/// the attacker.
const BEFORE_ARRIVAL_DAYS: i64 = 3;
/// How long before a mail the sender's session from outside its routine may have begun to tie
/// the mail to it, when the audit does not say where the mail was sent from.
const SESSION_BEFORE_MAIL_HOURS: i64 = 24;
/// At most this many correspondents are looked at in each direction (the rest are named).
const MAX_CORRESPONDENTS: usize = 12;

/// What the look found, and what it could not see.
#[derive(Debug, Default)]
pub(super) struct Look {
    pub(super) hits: Vec<Lead>,
    pub(super) captures: Vec<Capture>,
    pub(super) not_available: Vec<String>,
    pub(super) notes: Vec<String>,
    /// Every account's sign-ins from the unified audit log, once read.
    everyone: Option<Vec<SignIn>>,
}

/// Where the look stands: the case's account and how to read the tenant.
pub(super) struct Scope<'a> {
    /// The account's object id and user principal name.
    pub(super) own: (&'a str, &'a str),
    /// A name for the Purview searches, unique to the case and account.
    pub(super) search_name: String,
    /// The attacker's infrastructure recorded at triage.
    pub(super) infra: &'a Infrastructure,
    /// The incident window's start (the attacker's first sign-in to this account).
    pub(super) since: DateTime<Utc>,
    /// How far back the sweep reads.
    pub(super) reach_back: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
    /// Every account's sign-ins, when the sweep had to read them from the unified audit log (no
    /// sign-in log in the tenant); otherwise each correspondent's are read from the sign-in log.
    pub(super) everyone: Option<&'a [SignIn]>,
    /// The case (names the unified audit log search that stands in for the sign-in log).
    pub(super) case: &'a crate::case::CaseId,
}

/// A message's Internet Message-ID as the mailbox audit names it.
fn audited_message_id(data: Option<&Value>) -> Option<String> {
    data?
        .pointer("/Item/InternetMessageId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
}

fn addresses_of(m: &Message) -> Vec<String> {
    [&m.to_recipients, &m.cc_recipients, &m.bcc_recipients]
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|r| r.email_address.as_ref()?.address.clone())
        .map(|a| a.to_ascii_lowercase())
        .collect()
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%-d %B %H:%M UTC").to_string()
}

/// One correspondent: the account, and the mail that ties it to this one.
struct Correspondent {
    user_id: String,
    upn: String,
    at: DateTime<Utc>,
    subject: String,
    message_id: Option<String>,
}

/// Resolves mail addresses to the tenant's accounts (leaving out this one and outside addresses).
async fn internal<T: IncidentTenant>(
    tenant: &T,
    own: (&str, &str),
    mail: Vec<(String, DateTime<Utc>, String, Option<String>)>,
    out: &mut Look,
    direction: &str,
) -> Vec<Correspondent> {
    let mut seen: BTreeMap<String, Correspondent> = BTreeMap::new();
    let mut outside = BTreeSet::new();
    let mut left_out = 0usize;
    for (address, at, subject, message_id) in mail {
        if address.eq_ignore_ascii_case(own.1) || outside.contains(&address) {
            continue;
        }
        if seen.values().any(|c| c.upn.eq_ignore_ascii_case(&address)) {
            continue;
        }
        if seen.len() >= MAX_CORRESPONDENTS {
            left_out += 1;
            continue;
        }
        let user = match UserRef::new(&address) {
            Ok(r) => tenant.user(&r).await.ok().flatten(),
            Err(_) => None,
        };
        let Some(user) = user.filter(|u| !u.id.eq_ignore_ascii_case(own.0)) else {
            outside.insert(address);
            continue;
        };
        let upn = user.user_principal_name.clone().unwrap_or(address);
        seen.entry(user.id.to_ascii_lowercase())
            .or_insert(Correspondent {
                user_id: user.id,
                upn,
                at,
                subject,
                message_id,
            });
    }
    if left_out > 0 {
        out.notes.push(format!(
            "{left_out} more colleague(s) {direction} were not looked at (Firebreak looks at the first {MAX_CORRESPONDENTS}): check their sign-ins after the mail by hand."
        ));
    }
    seen.into_values().collect()
}

/// One account's interactive sign-ins over the retention window.
async fn history<T: IncidentTenant>(
    tenant: &T,
    scope: &Scope<'_>,
    who: &Correspondent,
    index: usize,
    out: &mut Look,
) -> Option<Vec<SignIn>> {
    let of_who = |everyone: &[SignIn]| -> Vec<SignIn> {
        everyone
            .iter()
            .filter(|s| {
                s.user_id
                    .as_deref()
                    .is_some_and(|i| i.eq_ignore_ascii_case(&who.user_id))
                    || s.user_principal_name
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&who.upn))
            })
            .cloned()
            .collect()
    };
    if let Some(everyone) = scope.everyone {
        return Some(of_who(everyone));
    }
    if let Some(everyone) = &out.everyone {
        return Some(of_who(everyone));
    }
    let query = SignInQuery {
        user_id: Some(who.user_id.clone()),
        since: Some(scope.now - Duration::days(RETENTION_DAYS)),
        event_types: vec![SignInEventType::InteractiveUser],
        ..SignInQuery::default()
    };
    match tenant.sign_ins(&query).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                &format!("sweep-mail-correspondent-{index}"),
                "Interactive sign-ins of a colleague this account exchanged mail with",
                "GET /beta/auditLogs/signIns",
                &read.pages,
            ));
            Some(read.items)
        }
        // No sign-in log in this tenant: the unified audit log keeps the interactive sign-ins
        // (one search for the case, shared with triage and the rest of the sweep).
        Err(e) if e.is_premium_required() => {
            match crate::procedure::triage::everyone_from_audit_log(tenant, scope.case, scope.now)
                .await
            {
                Ok((everyone, captures)) => {
                    out.captures.extend(captures);
                    let mine = of_who(&everyone);
                    out.everyone = Some(everyone);
                    Some(mine)
                }
                Err(why) => {
                    out.not_available.push(format!(
                        "The sign-ins of {} (who exchanged mail with this account): the sign-in log needs Entra ID P1 and the unified audit log could not be read ({why}).",
                        who.upn
                    ));
                    None
                }
            }
        }
        Err(e) => {
            out.not_available.push(format!(
                "The sign-ins of {} (who exchanged mail with this account): {e}",
                who.upn
            ));
            None
        }
    }
}

/// `sign_ins` (a sender's interactive ones) with its token refreshes (non-interactive sign-ins)
/// around the mail `s`, where the tenant keeps them (Entra ID P1); without the sign-in log, the
/// sender's mailbox work the unified audit log kept in that time stands in for them (where the
/// session was used from). If neither can be read, the interactive ones alone.
async fn around_the_mail<T: IncidentTenant>(
    tenant: &T,
    scope: &Scope<'_>,
    s: &Correspondent,
    sign_ins: &[SignIn],
    out: &mut Look,
) -> Vec<SignIn> {
    let mut all = sign_ins.to_vec();
    let (from, until) = (
        s.at - Duration::hours(SESSION_BEFORE_MAIL_HOURS),
        s.at + Duration::hours(1),
    );
    let query = SignInQuery {
        user_id: Some(s.user_id.clone()),
        since: Some(from),
        until: Some(until),
        event_types: vec![SignInEventType::NonInteractiveUser],
        ..SignInQuery::default()
    };
    match tenant.sign_ins(&query).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                "sweep-mail-sender-token-use",
                "Token refreshes of a colleague's account around the mail it sent to this one",
                "GET /beta/auditLogs/signIns",
                &read.pages,
            ));
            all.extend(read.items);
        }
        Err(e) if e.is_premium_required() => {
            match crate::procedure::triage::session_use_from_audit_log(
                tenant,
                format!("{} mailbox work of {}", scope.search_name, s.upn),
                vec![s.upn.clone()],
                (from, until),
            )
            .await
            {
                Ok((used, captures)) => {
                    out.captures.extend(captures);
                    all.extend(used);
                }
                Err(why) => out.not_available.push(format!(
                    "Where the session of {} was used around the mail it sent to this account (no sign-in log in this tenant, and the unified audit log could not be read: {why}).",
                    s.upn
                )),
            }
        }
        Err(e) => out.not_available.push(format!(
            "Token refreshes of {} around the mail it sent to this account: {e}",
            s.upn
        )),
    }
    all
}

/// The mailbox audit's `Send` records of `upns` in `from..until`, by Internet Message-ID: where
/// each message was sent from. `Err` says why they could not be read.
async fn sent_from<T: IncidentTenant>(
    tenant: &T,
    name: String,
    upns: Vec<String>,
    (from, until): (DateTime<Utc>, DateTime<Utc>),
    key: &str,
    out: &mut Look,
) -> Result<BTreeMap<String, (DateTime<Utc>, String)>, String> {
    let query = NewAuditLogQuery {
        display_name: name,
        filter_start_date_time: from,
        filter_end_date_time: until,
        operation_filters: SEND_OPERATIONS.iter().map(|s| (*s).to_owned()).collect(),
        user_principal_name_filters: upns,
        ..NewAuditLogQuery::default()
    };
    let search = match tenant.reusable_audit_search(&query).await {
        Ok(search) if search.succeeded() => search,
        Ok(search) => {
            return Err(format!(
                "the Purview audit search {} ended {} before Firebreak could read it; run the sweep again later",
                search.query_id, search.status
            ))
        }
        Err(e) => return Err(e.to_string()),
    };
    out.captures.extend(Capture::pages(
        key,
        &format!(
            "Purview audit search {} (mail sent, with the address it was sent from)",
            search.query_id
        ),
        "POST /security/auditLog/queries",
        &search.records.pages,
    ));
    let mut by_id = BTreeMap::new();
    for r in &search.records.items {
        let (Some(id), Some(at), Some(ip)) = (
            audited_message_id(r.audit_data.as_ref()),
            r.created_date_time,
            r.client_ip.as_deref().filter(|ip| !ip.is_empty()),
        ) else {
            continue;
        };
        by_id.insert(id, (at, ip.to_owned()));
    }
    Ok(by_id)
}

/// The messages of `folder` since `from`, saved as evidence (`what`), or `None` with why
/// (`unread` names what could not be looked at).
async fn folder<T: IncidentTenant>(
    tenant: &T,
    (mailbox, folder, from): (&UserRef, &str, DateTime<Utc>),
    what: &str,
    unread: &str,
    out: &mut Look,
) -> Option<Vec<Message>> {
    match tenant.messages(mailbox, folder, from).await {
        Ok(read) => {
            out.captures.extend(Capture::pages(
                &format!("sweep-mail-{folder}"),
                what,
                &format!("GET /users/{{id}}/mailFolders/{folder}/messages"),
                &read.pages,
            ));
            Some(read.items)
        }
        Err(e) => {
            out.not_available.push(format!("{unread}: {e}"));
            None
        }
    }
}

fn own_ref(id: &str, upn: &str) -> Option<UserRef> {
    UserRef::new(upn).ok().or_else(|| UserRef::new(id).ok())
}

/// The look: forward and back (see the module).
pub(super) async fn look<T: IncidentTenant>(tenant: &T, scope: &Scope<'_>) -> Look {
    let mut out = Look::default();
    forward(tenant, scope, &mut out).await;
    back(tenant, scope, &mut out).await;
    out
}

async fn forward<T: IncidentTenant>(tenant: &T, scope: &Scope<'_>, out: &mut Look) {
    let (own_id, own_upn) = scope.own;
    let Some(own_ref) = own_ref(own_id, own_upn) else {
        return;
    };
    // Which sent messages were the attacker's: those the audit's Send records place at one of
    // its addresses. A message the audit has no Send record for (a mailbox whose sends are not
    // audited, or an audit not caught up) cannot be placed: if it was sent in the incident
    // window, it is followed too.
    let audit = sent_from(
        tenant,
        format!("{} mail sent", scope.search_name),
        vec![own_upn.to_owned()],
        (scope.reach_back, scope.now),
        "sweep-mail-sent-audit",
        out,
    )
    .await;
    let audited: BTreeMap<String, (DateTime<Utc>, String)> = match audit {
        Ok(all) => all,
        Err(why) => {
            out.notes.push(format!(
                "Where this account's mail was sent from cannot be read ({why}): every message it sent since {} is followed to its recipients instead.",
                when(scope.since)
            ));
            BTreeMap::new()
        }
    };
    let attacker_sent: BTreeMap<&String, &(DateTime<Utc>, String)> = audited
        .iter()
        .filter(|(_, (_, ip))| scope.infra.match_address(ip).is_some())
        .collect();
    let from = attacker_sent
        .values()
        .map(|(t, _)| *t)
        .chain([scope.since])
        .min()
        .unwrap_or(scope.since)
        - Duration::hours(1);
    let Some(sent) = folder(
        tenant,
        (&own_ref, "sentitems", from),
        "Sent Items of this account since the attacker arrived (recipients of its mail)",
        "Who received the mail this account sent from the attacker's side (Sent Items)",
        out,
    )
    .await
    else {
        return;
    };
    let mut mail = Vec::new();
    let mut found_ids = BTreeSet::new();
    let mut unplaced = 0usize;
    for m in &sent {
        let id = m
            .internet_message_id
            .as_deref()
            .map(str::to_ascii_lowercase);
        let Some(at) = m.sent_date_time.or(m.received_date_time) else {
            continue;
        };
        let follow = match id.as_ref() {
            Some(id) if attacker_sent.contains_key(id) => true,
            Some(id) if audited.contains_key(id) => false,
            _ if at >= scope.since => {
                unplaced += 1;
                true
            }
            _ => false,
        };
        if !follow {
            continue;
        }
        if let Some(id) = &id {
            found_ids.insert(id.clone());
        }
        let subject = m.subject.clone().unwrap_or_default();
        for address in addresses_of(m) {
            mail.push((address, at, subject.clone(), id.clone()));
        }
    }
    if unplaced > 0 {
        out.notes.push(format!(
            "{unplaced} message(s) this account sent since {} have no Send record in the audit, so where they were sent from cannot be told: their recipients are looked at as well.",
            when(scope.since)
        ));
    }
    let missing: Vec<&str> = attacker_sent
        .keys()
        .filter(|k| !found_ids.contains(k.as_str()))
        .map(|k| k.as_str())
        .collect();
    if !missing.is_empty() {
        out.not_available.push(format!(
            "{} message(s) this account sent from the attacker's addresses are no longer in Sent Items, so their recipients cannot be listed here: trace them by Internet Message-ID ({}) in the Exchange admin center's message trace.",
            missing.len(),
            missing.join(", ")
        ));
    }
    mail.sort_by_key(|m| m.1);
    let recipients = internal(tenant, scope.own, mail, out, "received this mail").await;
    for (i, r) in recipients.iter().enumerate() {
        let Some(sign_ins) = history(tenant, scope, r, i, out).await else {
            continue;
        };
        let routine = Routine::of(&sign_ins, r.at);
        let how = r
            .message_id
            .as_ref()
            .and_then(|id| attacker_sent.get(id))
            .map(|(_, ip)| format!(" from {ip}, an address the attacker used,"))
            .unwrap_or_default();
        if !routine.known() {
            out.notes.push(format!(
                "{} received mail this account sent{how} at {} (\"{}\"), and fewer than {ROUTINE_DAYS} days of their sign-ins before it are in the log: Firebreak cannot tell whether they acted on it. Ask them, and look at their sign-ins after it.",
                r.upn,
                when(r.at),
                r.subject
            ));
            continue;
        }
        if let Some(s) = first_strange(
            &sign_ins,
            &routine,
            r.at,
            r.at + Duration::hours(BAIT_HOURS),
        ) {
            out.hits.push(Lead {
                user_id: Some(r.user_id.clone()),
                upn: Some(r.upn.clone()),
                signal: Signal {
                    kind: HitKind::Mail,
                    at: s.created_date_time,
                    text: format!(
                        "Received mail this account sent{how} at {} (\"{}\"); at {} it was signed into from {}, an address and a browser it had not used on {ROUTINE_DAYS} days before, on no registered device.",
                        when(r.at),
                        r.subject,
                        s.created_date_time.map(when).unwrap_or_default(),
                        s.ip_address.as_deref().unwrap_or("an unknown address"),
                    ),
                },
            });
        }
    }
}

async fn back<T: IncidentTenant>(tenant: &T, scope: &Scope<'_>, out: &mut Look) {
    let (own_id, own_upn) = scope.own;
    let Some(own_ref) = own_ref(own_id, own_upn) else {
        return;
    };
    let from = scope.since - Duration::days(BEFORE_ARRIVAL_DAYS);
    let until = scope.since + Duration::minutes(10);
    let Some(inbox) = folder(
        tenant,
        (&own_ref, "inbox", from),
        "Inbox of this account in the days before the attacker arrived (mail that may have brought it)",
        "The mail this account received before the attacker arrived (its Inbox)",
        out,
    )
    .await
    else {
        return;
    };
    let mut mail = Vec::new();
    for m in &inbox {
        let at = m.received_date_time.or(m.sent_date_time);
        let Some(at) = at.filter(|t| *t >= from && *t <= until) else {
            continue;
        };
        let Some(sender) = m
            .from
            .as_ref()
            .or(m.sender.as_ref())
            .and_then(|r| r.email_address.as_ref()?.address.clone())
        else {
            continue;
        };
        mail.push((
            sender.to_ascii_lowercase(),
            at,
            m.subject.clone().unwrap_or_default(),
            m.internet_message_id
                .as_deref()
                .map(str::to_ascii_lowercase),
        ));
    }
    // The latest mail from each sender before the attacker arrived is the likeliest lure.
    mail.sort_by_key(|m| std::cmp::Reverse(m.1));
    let senders = internal(
        tenant,
        scope.own,
        mail,
        out,
        "wrote to this account before the attacker arrived",
    )
    .await;
    if senders.is_empty() {
        return;
    }
    let audit = sent_from(
        tenant,
        format!("{} mail received", scope.search_name),
        senders.iter().map(|s| s.upn.clone()).collect(),
        (from - Duration::hours(1), until),
        "sweep-mail-senders-audit",
        out,
    )
    .await;
    let audit = match audit {
        Ok(a) => Some(a),
        Err(why) => {
            out.notes.push(format!(
                "Where the colleagues who wrote to this account sent from cannot be read ({why}): their own sign-ins before the mail are looked at instead."
            ));
            None
        }
    };
    for (i, s) in senders.iter().enumerate() {
        let Some(sign_ins) = history(tenant, scope, s, MAX_CORRESPONDENTS + i, out).await else {
            continue;
        };
        let routine = Routine::of(&sign_ins, s.at - Duration::days(BEFORE_ARRIVAL_DAYS));
        if !routine.known() {
            continue;
        }
        let sent = audit
            .as_ref()
            .zip(s.message_id.as_ref())
            .and_then(|(a, id)| a.get(id));
        let text = match sent {
            // The audit says where the mail left from: it counts when that address is outside
            // the sender's routine and what signed in there was not the sender's own device.
            Some((_, ip)) => {
                let there: Vec<SignIn> = sign_ins
                    .iter()
                    .filter(|x| {
                        x.ip_address
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(ip))
                    })
                    .cloned()
                    .collect();
                if there.iter().any(|x| routine.strange(x)) {
                    format!(
                        "Wrote to this account at {} (\"{}\") from {ip}, where it was signed into from a browser it had not used on {ROUTINE_DAYS} days before, on no registered device; the attacker reached this account after that mail.",
                        when(s.at),
                        s.subject
                    )
                } else {
                    continue;
                }
            }
            // No Send record (Audit Standard does not keep the owner's sends): what signed in
            // to the sender's account in the day around the mail, token refreshes included —
            // a stolen session keeps refreshing from the attacker's side while it sends.
            None => match first_strange(
                &around_the_mail(tenant, scope, s, &sign_ins, out).await,
                &routine,
                s.at - Duration::hours(SESSION_BEFORE_MAIL_HOURS),
                s.at + Duration::hours(1),
            ) {
                Some(x) => format!(
                    "Wrote to this account at {} (\"{}\"), and at {} around that mail it was signed into from {}, an address and a browser it had not used on {ROUTINE_DAYS} days before, on no registered device; the attacker reached this account after that mail.",
                    when(s.at),
                    s.subject,
                    x.created_date_time.map(when).unwrap_or_default(),
                    x.ip_address.as_deref().unwrap_or("an unknown address"),
                ),
                None => continue,
            },
        };
        out.hits.push(Lead {
            user_id: Some(s.user_id.clone()),
            upn: Some(s.upn.clone()),
            signal: Signal {
                kind: HitKind::Mail,
                at: Some(s.at),
                text,
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OFFICE: &str = "198.51.100.10";
    const LAPTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/131.0";
    const ATTACKER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0";

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    fn sign_in(at: &str, ip: &str, ua: &str, device: &str) -> SignIn {
        serde_json::from_value(json!({
            "id": format!("{at}/{ip}"), "createdDateTime": at, "ipAddress": ip,
            "userAgent": ua, "isInteractive": true, "status": {"errorCode": 0},
            "deviceDetail": {"deviceId": device, "operatingSystem": "Windows10", "browser": "Edge 131.0.0"},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A week of office mornings on the managed laptop, then the phishing mail on the 10th.
    fn week(device: &str) -> Vec<SignIn> {
        (2..=9)
            .map(|d| {
                sign_in(
                    &format!("2026-03-{d:02}T08:00:00Z"),
                    OFFICE,
                    LAPTOP_UA,
                    device,
                )
            })
            .collect()
    }

    const MAIL: &str = "2026-03-10T14:00:00Z";

    fn strange_after_mail(history: &[SignIn]) -> Option<String> {
        let routine = Routine::of(history, t(MAIL));
        assert!(routine.known());
        first_strange(
            history,
            &routine,
            t(MAIL),
            t(MAIL) + Duration::hours(BAIT_HOURS),
        )
        .and_then(|s| s.ip_address.clone())
    }

    #[test]
    fn a_recipient_signed_into_from_a_new_address_on_the_attackers_browser_is_found() {
        let mut history = week("laptop-1");
        history.push(sign_in(
            "2026-03-10T14:25:00Z",
            "45.141.84.12",
            ATTACKER_UA,
            "",
        ));
        assert_eq!(
            strange_after_mail(&history).as_deref(),
            Some("45.141.84.12")
        );
    }

    #[test]
    fn a_recipient_abroad_on_their_own_laptop_is_left_alone() {
        // The look-alike: a hotel address never seen before, but the registered laptop and the
        // usual browser.
        let mut history = week("laptop-1");
        history.push(sign_in(
            "2026-03-10T19:00:00Z",
            "85.240.12.77",
            LAPTOP_UA,
            "laptop-1",
        ));
        assert_eq!(strange_after_mail(&history), None);
        // Without device ids (the unified audit log's sign-ins on a Free tenant) the usual
        // browser alone clears it.
        let mut unmanaged = week("");
        unmanaged.push(sign_in(
            "2026-03-10T19:00:00Z",
            "85.240.12.77",
            LAPTOP_UA,
            "",
        ));
        assert_eq!(strange_after_mail(&unmanaged), None);
        // And the variant on the same log: the attacker's browser is still found.
        unmanaged.push(sign_in(
            "2026-03-11T02:00:00Z",
            "45.141.84.12",
            ATTACKER_UA,
            "",
        ));
        assert_eq!(
            strange_after_mail(&unmanaged).as_deref(),
            Some("45.141.84.12")
        );
    }

    #[test]
    fn a_new_browser_at_the_usual_address_is_not_strange() {
        let mut history = week("");
        history.push(sign_in("2026-03-10T15:00:00Z", OFFICE, ATTACKER_UA, ""));
        assert_eq!(strange_after_mail(&history), None);
    }

    #[test]
    fn a_strange_sign_in_before_the_mail_or_days_after_it_is_not_tied_to_it() {
        let mut history = week("");
        history.push(sign_in(
            "2026-03-10T09:00:00Z",
            "45.141.84.12",
            ATTACKER_UA,
            "",
        ));
        history.push(sign_in(
            "2026-03-20T09:00:00Z",
            "45.141.84.13",
            ATTACKER_UA,
            "",
        ));
        assert_eq!(strange_after_mail(&history), None);
    }

    #[test]
    fn fewer_than_three_days_of_sign_ins_before_the_mail_cannot_tell() {
        let history = vec![
            sign_in("2026-03-09T08:00:00Z", OFFICE, LAPTOP_UA, ""),
            sign_in("2026-03-10T08:00:00Z", OFFICE, LAPTOP_UA, ""),
        ];
        assert!(!Routine::of(&history, t(MAIL)).known());
    }

    #[test]
    fn the_audits_send_record_names_the_message_by_its_internet_message_id() {
        let data =
            json!({"Item": {"Id": "AAMk", "InternetMessageId": "<ABC@EX.prod.outlook.com>"}});
        assert_eq!(
            audited_message_id(Some(&data)).as_deref(),
            Some("<abc@ex.prod.outlook.com>")
        );
        assert_eq!(audited_message_id(Some(&json!({"Item": {}}))), None);
    }

    fn mailbox_record(at: &str, ip: &str, client: Option<&str>) -> SignIn {
        let record: firebreak_graph::logs::AuditLogRecord = serde_json::from_value(json!({
            "id": format!("mia-{at}"), "operation": "MailItemsAccessed",
            "createdDateTime": at, "clientIp": ip,
            "userPrincipalName": "sender@contoso.example",
            "auditData": {"ClientInfoString": client},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        crate::procedure::triage::session_use_of_record(&record)
            .unwrap_or_else(|| panic!("a mailbox record with an address is a use of the session"))
    }

    #[test]
    fn without_the_sign_in_log_the_senders_mailbox_work_around_the_mail_stands_in_for_token_use() {
        // The sender's routine is its interactive sign-ins (office and home, laptop browser); the
        // attacker had the account for days before it mailed, but only the mailbox work says so.
        let history = week("");
        let routine = Routine::of(&history, t(MAIL) - Duration::days(BEFORE_ARRIVAL_DAYS));
        let window = (
            t(MAIL) - Duration::hours(SESSION_BEFORE_MAIL_HOURS),
            t(MAIL) + Duration::hours(1),
        );
        // Variant to find: mail read from an address outside the routine, by no known browser.
        let mut around = history.clone();
        around.push(mailbox_record("2026-03-10T11:30:00Z", "45.141.84.12", None));
        let found = first_strange(&around, &routine, window.0, window.1);
        assert_eq!(
            found.and_then(|s| s.ip_address.as_deref()),
            Some("45.141.84.12")
        );
        // Look-alikes: the mailbox read at the usual address, and read from a new address in
        // Outlook on the web with the sender's own browser (the user agent is in the record).
        let mut own = history.clone();
        own.push(mailbox_record("2026-03-10T11:30:00Z", OFFICE, None));
        own.push(mailbox_record(
            "2026-03-10T12:30:00Z",
            "85.240.12.77",
            Some(&format!("Client=OWA;Action=ViaProxy;{LAPTOP_UA};")),
        ));
        assert!(first_strange(&own, &routine, window.0, window.1).is_none());
        // A sign-in record is not mailbox work.
        let logged_in: firebreak_graph::logs::AuditLogRecord = serde_json::from_value(json!({
            "id": "s", "operation": "UserLoggedIn", "createdDateTime": MAIL, "clientIp": OFFICE,
            "userPrincipalName": "sender@contoso.example",
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(crate::procedure::triage::session_use_of_record(&logged_in).is_none());
    }
}
