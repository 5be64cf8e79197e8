//! Who to tell about a case and what to say (spec/design.md §2.7): a contact card per role — the affected
//! user, their manager, the security lead, the privacy lead, finance when money may be at stake,
//! and the NIS2 authority where the organisation is in scope — each with ready-to-adapt wording
//! filled in from the case.
//!
//! The wording is plain text built from the case's own facts: the accounts, the declared times
//! (shown in the admin's time zone, passed in), the kind of compromise triage recorded, and what
//! the journal says has been done. Nothing here sends anything; the admin adapts the text, says it
//! or sends it by a safe channel, and logs it with [`crate::case::CaseStore::log_notification`].
//! Every inserted value is text the admin or Firebreak wrote, and the UI renders the result as text.

use std::fmt::Display;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;

use crate::{
    case::{
        comms::{Channel, Role},
        contacts::{self, CaseContact},
        journal::EntryKind,
        metadata::{AlertSource, Workload},
        steps::StepStatus,
        CaseView,
    },
    organisation::{ContactRole, Organisation},
    procedure::{Phase, Position, StepView},
    report::incident::CompromiseKind,
};

/// Hours from awareness to the GDPR deadline for notifying the supervisory authority.
pub const GDPR_HOURS: i64 = 72;
/// Hours from awareness to the NIS2 early warning.
pub const NIS2_EARLY_WARNING_HOURS: i64 = 24;

/// The warning shown above everything else on the Communication panel.
pub const COMPROMISED_CHANNEL_WARNING: &str = "Do not contact the user through their work mailbox \
    or Teams, and do not discuss the incident there: the attacker may be reading both, and may \
    answer or delete what you send. Call them, meet them, or use a personal address you already had.";

/// Where a contact's details came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContactSource {
    /// Entered for this case.
    Case,
    /// The organisation's settings.
    Organisation,
    /// Nobody entered anything yet.
    Missing,
}

/// Ready-to-adapt wording for one contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Draft {
    /// What it is ("Phone script", "Status", ...).
    pub title: String,
    /// The wording, plain text with line breaks.
    pub text: String,
    /// When it must have been given, if a rule sets a deadline (GDPR, NIS2).
    pub deadline: Option<DateTime<Utc>>,
}

/// One person to tell, with what to say.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactCard {
    /// Their role (also the role the notification is logged under).
    pub role: Role,
    /// The role as the panel names it.
    pub label: String,
    /// Their name.
    pub name: String,
    /// Their phone number.
    pub phone: String,
    /// Their email address.
    pub email: String,
    /// Where the details came from.
    pub source: ContactSource,
    /// Whether this case needs them told (finance only when money may be at stake).
    pub needed: bool,
    /// When and how to tell them, one sentence.
    pub advice: String,
    /// The channel to log by default.
    pub channel: Channel,
    /// What to say.
    pub draft: Draft,
    /// When they were last logged as told, if ever.
    pub last_told: Option<DateTime<Utc>>,
}

/// Everything the Communication panel shows above the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Communication {
    /// Never the compromised mailbox or Teams.
    pub warning: String,
    /// When the organisation became aware (start of the GDPR 72-hour clock).
    pub aware_at: DateTime<Utc>,
    /// `aware_at` + 72 hours.
    pub gdpr_deadline: DateTime<Utc>,
    /// Whether the organisation says NIS2 applies (`None`: not decided in the settings).
    pub nis2_applies: Option<bool>,
    /// `aware_at` + 24 hours when NIS2 applies.
    pub nis2_deadline: Option<DateTime<Utc>>,
    /// The people to tell, in the order to tell them.
    pub contacts: Vec<ContactCard>,
}

/// The roles of the panel, in the order to call them.
const ORDER: [Role; 6] = [
    Role::User,
    Role::SecurityLead,
    Role::Manager,
    Role::PrivacyLead,
    Role::Finance,
    Role::Authority,
];

/// What has happened in the case, read from its journal, for the wording.
struct Progress {
    /// "Revoke sessions — done and verified at 22:31", per account (prefixed when several).
    done: Vec<String>,
    /// Steps still open, by title.
    open: Vec<String>,
    /// Plain-words effects on the user's account ("signed you out everywhere", ...).
    for_user: Vec<&'static str>,
    /// The kind of compromise triage recorded.
    kind: Option<CompromiseKind>,
    /// The earliest incident window start triage recorded.
    window_start: Option<DateTime<Utc>>,
    /// Blast-radius checks: finished, total, with findings.
    checks: (usize, usize, usize),
    /// Watch alerts journaled after recovery.
    alerts: usize,
}

/// The panel for `case`: its contacts (the case's own entries, else the organisation's) and the
/// wording for each, with times shown in `zone`. `now` stamps the status.
pub fn communication<Z>(
    case: &CaseView,
    organisation: &Organisation,
    zone: &Z,
    now: DateTime<Utc>,
) -> Communication
where
    Z: TimeZone,
    Z::Offset: Display,
{
    let aware = case.metadata.aware_at;
    let nis2_deadline = (organisation.nis2_applies == Some(true))
        .then(|| aware + Duration::hours(NIS2_EARLY_WARNING_HOURS));
    let progress = progress(case);
    let own = contacts::of_case(case);
    let facts = Facts {
        case,
        organisation,
        progress: &progress,
        when: &|t: DateTime<Utc>| when(t, zone),
        now,
        gdpr_deadline: aware + Duration::hours(GDPR_HOURS),
        nis2_deadline,
    };
    let contacts = ORDER
        .into_iter()
        .filter(|role| *role != Role::Authority || nis2_deadline.is_some())
        .map(|role| card(&facts, role, &own))
        .collect();
    Communication {
        warning: COMPROMISED_CHANNEL_WARNING.to_owned(),
        aware_at: aware,
        gdpr_deadline: facts.gdpr_deadline,
        nis2_applies: organisation.nis2_applies,
        nis2_deadline,
        contacts,
    }
}

/// A time as the admin reads it in `zone`: `Sun 22 Nov 2026, 23:47 (UTC+01:00)`.
pub fn when<Z>(time: DateTime<Utc>, zone: &Z) -> String
where
    Z: TimeZone,
    Z::Offset: Display,
{
    time.with_timezone(zone)
        .format("%a %-d %b %Y, %H:%M (UTC%:z)")
        .to_string()
}

struct Facts<'a> {
    case: &'a CaseView,
    organisation: &'a Organisation,
    progress: &'a Progress,
    when: &'a dyn Fn(DateTime<Utc>) -> String,
    now: DateTime<Utc>,
    gdpr_deadline: DateTime<Utc>,
    nis2_deadline: Option<DateTime<Utc>>,
}

impl Facts<'_> {
    fn accounts(&self) -> String {
        self.case.metadata.accounts.join(", ")
    }

    /// "since about <time>" from triage's window, else the detection time.
    fn since(&self) -> String {
        match self.progress.window_start {
            Some(start) => format!("since about {}", (self.when)(start)),
            None => format!(
                "since at least {} (when it was detected)",
                (self.when)(self.case.metadata.detected_at)
            ),
        }
    }

    fn commander(&self) -> &str {
        &self.case.metadata.incident_commander
    }

    fn money_at_stake(&self) -> bool {
        let m = &self.case.metadata;
        const WORDS: [&str; 8] = [
            "invoice", "payment", "bank", "iban", "wire", "transfer", "supplier", "pay ",
        ];
        m.alert_source == AlertSource::FinanceOrVendorCall
            || m.affected_workloads.contains(&Workload::ExchangeOnline)
            || m.indicators.iter().any(|i| {
                let i = i.to_lowercase();
                WORDS.iter().any(|w| i.contains(w))
            })
    }

    fn done_sentence(&self) -> String {
        if self.progress.done.is_empty() {
            "Nothing has been changed in the tenant yet.".to_owned()
        } else {
            format!("Done so far: {}.", self.progress.done.join("; "))
        }
    }

    fn open_sentence(&self) -> String {
        let (finished, total, findings) = self.progress.checks;
        let mut parts = Vec::new();
        let open: Vec<&String> = self.progress.open.iter().take(3).collect();
        if !open.is_empty() {
            let more = self.progress.open.len() - open.len();
            let list: Vec<&str> = open.iter().map(|s| s.as_str()).collect();
            parts.push(if more > 0 {
                format!("next: {} and {more} more", list.join("; "))
            } else {
                format!("next: {}", list.join("; "))
            });
        }
        if finished < total {
            parts.push(format!(
                "blast-radius checks {finished} of {total} finished, {findings} with findings"
            ));
        }
        let mut sentence = if parts.is_empty() {
            "Every step of the response is done.".to_owned()
        } else {
            format!("Still open — {}.", parts.join("; "))
        };
        if finished == total && total > 0 {
            sentence.push_str(&format!(
                " All {total} blast-radius checks are finished, {findings} with findings."
            ));
        }
        if self.progress.alerts > 0 {
            sentence.push_str(&format!(
                " The watch raised {} alert{} after recovery: the attacker may be back.",
                self.progress.alerts,
                if self.progress.alerts == 1 { "" } else { "s" }
            ));
        }
        sentence
    }
}

fn card(facts: &Facts<'_>, role: Role, own: &[CaseContact]) -> ContactCard {
    let from_case = own.iter().find(|c| c.role == role);
    let from_org = organisation_role(role)
        .map(|r| facts.organisation.contacts.get(r))
        .filter(|c| !c.is_empty());
    let (name, phone, email, source) = match (from_case, from_org) {
        (Some(c), _) => (
            c.name.clone(),
            c.phone.clone(),
            c.email.clone(),
            ContactSource::Case,
        ),
        (None, Some(c)) => (
            c.name.clone(),
            c.phone.clone(),
            c.email.clone(),
            ContactSource::Organisation,
        ),
        (None, None) => (
            String::new(),
            String::new(),
            String::new(),
            ContactSource::Missing,
        ),
    };
    let last_told = facts
        .case
        .notifications
        .iter()
        .filter(|n| n.role == role)
        .map(|n| n.told_at)
        .max();
    let (label, needed, advice, channel, draft) = match role {
        Role::User => (
            "The affected user",
            true,
            "Call them now. Never by their work email or Teams.".to_owned(),
            Channel::Phone,
            user_script(facts, &name, &email),
        ),
        Role::SecurityLead => (
            "Security lead",
            true,
            "Tell them as soon as containment has started; send an update after each phase."
                .to_owned(),
            Channel::Phone,
            security_status(facts),
        ),
        Role::Manager => (
            "Their manager",
            true,
            "Tell them the user is locked out for a while and why; by phone or in person."
                .to_owned(),
            Channel::Phone,
            manager_note(facts),
        ),
        Role::PrivacyLead => (
            "Privacy lead / DPO",
            true,
            format!(
                "Today: they decide on the GDPR notification, due by {}.",
                (facts.when)(facts.gdpr_deadline)
            ),
            Channel::Phone,
            privacy_heads_up(facts),
        ),
        Role::Finance => {
            let needed = facts.money_at_stake();
            (
                "Finance",
                needed,
                if needed {
                    "Now: the mailbox may have been used for payment or bank-detail requests."
                        .to_owned()
                } else {
                    "Only if money may be at stake: payment or bank-detail requests from this \
                     mailbox."
                        .to_owned()
                },
                Channel::Phone,
                finance_alert(facts),
            )
        }
        Role::Authority | Role::Other => (
            "CSIRT / competent authority (NIS2)",
            true,
            format!(
                "The early warning is due by {}; the incident notification within 72 hours of \
                 awareness.",
                facts
                    .nis2_deadline
                    .map_or_else(String::new, |d| (facts.when)(d))
            ),
            Channel::Other,
            nis2_early_warning(facts),
        ),
    };
    ContactCard {
        role,
        label: label.to_owned(),
        name,
        phone,
        email,
        source,
        needed,
        advice,
        channel,
        draft,
        last_told,
    }
}

fn organisation_role(role: Role) -> Option<ContactRole> {
    match role {
        Role::SecurityLead => Some(ContactRole::SecurityLead),
        Role::PrivacyLead => Some(ContactRole::PrivacyLead),
        Role::Manager => Some(ContactRole::Manager),
        Role::Finance => Some(ContactRole::Finance),
        Role::User | Role::Authority | Role::Other => None,
    }
}

fn user_script(facts: &Facts<'_>, name: &str, personal_email: &str) -> Draft {
    let greeting = if name.is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {name},")
    };
    let done = if facts.progress.for_user.is_empty() {
        "We are starting to lock them out now.".to_owned()
    } else {
        format!("We have already {}.", join_words(&facts.progress.for_user))
    };
    let reach = if personal_email.is_empty() {
        "We will only contact you by phone or in person until this is over.".to_owned()
    } else {
        format!("We will only contact you by phone, in person or at {personal_email} until this is over.")
    };
    let call_back = facts
        .organisation
        .contacts
        .get(ContactRole::ItAdmin)
        .phone
        .clone();
    let call_back = if call_back.is_empty() {
        "If you call back, use the IT number you already know, never one from an email.".to_owned()
    } else {
        format!("If you call back, use {call_back}, never a number from an email.")
    };
    let text = format!(
        "{greeting}\n\
         this is {commander} from IT. I am calling about your work account {accounts}.\n\n\
         Someone else has been able to use your account {since}. {done}\n\n\
         Please:\n\
         - Do not use your work email or Teams about this: the person may be reading them. {reach}\n\
         - Do not approve any sign-in request you did not start yourself.\n\
         - Tell me: did you recently enter your password after clicking a link, or approve a \
         request you did not expect? Roughly when?\n\
         - Has anyone asked you about payments, invoices or bank details in the last days?\n\n\
         You will not be able to sign in for a while. We will call you to set up your sign-in \
         again on a device you trust. {call_back}",
        commander = facts.commander(),
        accounts = facts.accounts(),
        since = facts.since(),
    );
    Draft {
        title: "Phone script".into(),
        text,
        deadline: None,
    }
}

fn security_status(facts: &Facts<'_>) -> Draft {
    let m = &facts.case.metadata;
    let kind = facts.progress.kind.map_or_else(
        || "triage has not concluded yet".to_owned(),
        |k| format!("triage: {}", k.label()),
    );
    let text = format!(
        "Status at {now} — {title} (case {id}). Account {accounts} is compromised ({kind}), \
         {since}. Detected {detected}; the organisation became aware {aware}. {done} {open} \
         Incident commander: {commander}.",
        now = (facts.when)(facts.now),
        title = m.title,
        id = facts.case.id,
        accounts = facts.accounts(),
        since = facts.since(),
        detected = (facts.when)(m.detected_at),
        aware = (facts.when)(m.aware_at),
        done = facts.done_sentence(),
        open = facts.open_sentence(),
        commander = facts.commander(),
    );
    Draft {
        title: "Status (one paragraph)".into(),
        text,
        deadline: None,
    }
}

fn manager_note(facts: &Facts<'_>) -> Draft {
    let text = format!(
        "Someone outside the organisation has been able to use the work account {accounts} {since}. \
         We are locking them out now, so the account cannot be used for a while; we will help \
         its owner set up their sign-in again once it is safe.\n\n\
         Please do not discuss this by email or Teams with them, and be wary of unusual requests \
         that seem to come from this account, especially about payments or bank details: check \
         them by phone. Contact: {commander}.",
        accounts = facts.accounts(),
        since = facts.since(),
        commander = facts.commander(),
    );
    Draft {
        title: "What to tell the manager".into(),
        text,
        deadline: None,
    }
}

fn privacy_heads_up(facts: &Facts<'_>) -> Draft {
    let m = &facts.case.metadata;
    let workloads = if m.affected_workloads.is_empty() {
        "not known yet".to_owned()
    } else {
        m.affected_workloads
            .iter()
            .map(|w| workload_label(*w))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!(
        "Heads-up: a possible personal data breach.\n\n\
         The organisation became aware of it on {aware}. If it is a notifiable breach, the \
         72-hour deadline to notify the supervisory authority ends {deadline}.\n\n\
         What we know: the account {accounts} was used by someone outside the organisation \
         {since}. Data possibly exposed: {workloads}. {done} The blast-radius checks (mail read \
         in bulk, files downloaded or shared) will say what was accessed; I will send you their \
         results.\n\n\
         The decision to notify is yours; Firebreak's report will give you the facts and times. \
         Contact: {commander}.",
        aware = (facts.when)(m.aware_at),
        deadline = (facts.when)(facts.gdpr_deadline),
        accounts = facts.accounts(),
        since = facts.since(),
        done = facts.done_sentence(),
        commander = facts.commander(),
    );
    Draft {
        title: "Heads-up: GDPR 72-hour clock".into(),
        text,
        deadline: Some(facts.gdpr_deadline),
    }
}

fn finance_alert(facts: &Facts<'_>) -> Draft {
    let start = facts
        .progress
        .window_start
        .unwrap_or(facts.case.metadata.detected_at);
    let text = format!(
        "Possible payment fraud. Someone outside the organisation has had access to the mailbox \
         of {accounts} {since}.\n\n\
         Until we tell you otherwise: hold any payment, new supplier or change of bank details \
         requested by email from or involving {accounts}, and check every such request received \
         since {start} by phone, on a number you already had — not one from the email. Tell us \
         about any request you find. Contact: {commander}.",
        accounts = facts.accounts(),
        since = facts.since(),
        start = (facts.when)(start),
        commander = facts.commander(),
    );
    Draft {
        title: "Payment-fraud alert".into(),
        text,
        deadline: None,
    }
}

fn nis2_early_warning(facts: &Facts<'_>) -> Draft {
    let m = &facts.case.metadata;
    let org = if facts.organisation.name.is_empty() {
        "[organisation name]".to_owned()
    } else {
        facts.organisation.name.clone()
    };
    let lead = facts.organisation.contacts.get(ContactRole::SecurityLead);
    let contact = [lead.name.as_str(), lead.phone.as_str(), lead.email.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let contact = if contact.is_empty() {
        facts.commander().to_owned()
    } else {
        contact
    };
    let text = format!(
        "Early warning of a significant incident (NIS2, Article 23).\n\n\
         Entity: {org}.\n\
         What: compromise of a user account in our Microsoft 365 tenant; an unauthorised party \
         could use it {since}.\n\
         Detected {detected}; we became aware {aware}.\n\
         Suspected unlawful or malicious act: yes (unauthorised access to an account).\n\
         Possible cross-border impact: being assessed.\n\
         Measures: {done}\n\n\
         An incident notification will follow within 72 hours of awareness. Contact: {contact}.",
        since = facts.since(),
        detected = (facts.when)(m.detected_at),
        aware = (facts.when)(m.aware_at),
        done = facts.done_sentence(),
    );
    Draft {
        title: "NIS2 24-hour early warning".into(),
        text,
        deadline: facts.nis2_deadline,
    }
}

fn workload_label(w: Workload) -> &'static str {
    match w {
        Workload::EntraId => "sign-ins and app access (Entra ID)",
        Workload::ExchangeOnline => "mail (Exchange Online)",
        Workload::SharePointOneDrive => "files (SharePoint and OneDrive)",
        Workload::Teams => "chats and meetings (Teams)",
        Workload::Other => "other services",
    }
}

/// "a, b and c".
fn join_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What the journal says about the response, over every account of the case.
fn progress(case: &CaseView) -> Progress {
    let several = case.metadata.accounts.len() > 1;
    let mut out = Progress {
        done: Vec::new(),
        open: Vec::new(),
        for_user: Vec::new(),
        kind: None,
        window_start: None,
        checks: (0, 0, 0),
        alerts: case
            .journal
            .iter()
            .filter(|e| e.kind == EntryKind::WatchAlert)
            .count(),
    };
    for (index, account) in case.metadata.accounts.iter().enumerate() {
        let procedure =
            crate::procedure::catalogue::Catalogue::compromised_account(index + 1, account.clone());
        if let Some(start) = procedure.window_start(case) {
            out.window_start = Some(out.window_start.map_or(start, |s| s.min(start)));
        }
        let prefix = if several {
            format!("{account}: ")
        } else {
            String::new()
        };
        for step in procedure.view(case) {
            note_step(case, &mut out, &prefix, &step);
        }
    }
    out
}

fn note_step(case: &CaseView, out: &mut Progress, prefix: &str, step: &StepView) {
    let info = &step.info;
    if info.phase == Phase::Blast {
        out.checks.1 += 1;
        if step.position == Position::Done {
            out.checks.0 += 1;
            if finished_detail(case, &step.id)
                .and_then(|d| {
                    d.get("checkResult")
                        .and_then(|r| r.as_str().map(str::to_owned))
                })
                .as_deref()
                == Some("finding")
            {
                out.checks.2 += 1;
            }
        }
        return;
    }
    match step.state.as_ref().map(|s| &s.status) {
        Some(StepStatus::Finished { verified }) => {
            let at = step
                .state
                .as_ref()
                .map(|s| s.since.format("%H:%M UTC").to_string())
                .unwrap_or_default();
            out.done.push(format!(
                "{prefix}{} ({}, {at})",
                info.title,
                if *verified {
                    "verified"
                } else {
                    "not verified"
                }
            ));
            // Only what took effect: a verified step that changed something.
            let changed = finished_detail(case, &step.id)
                .and_then(|d| d.get("done"))
                .and_then(serde_json::Value::as_array)
                .is_some_and(|done| !done.is_empty());
            if *verified && changed {
                if let Some(words) = user_words(info.key) {
                    if !out.for_user.contains(&words) {
                        out.for_user.push(words);
                    }
                }
            }
            if info.phase == Phase::Triage && out.kind.is_none() {
                out.kind = triage_kind(case, &step.id);
            }
        }
        Some(StepStatus::Skipped { reason }) => {
            out.done
                .push(format!("{prefix}{} skipped ({reason})", info.title));
        }
        _ => out.open.push(format!("{prefix}{}", info.title)),
    }
}

/// What a finished containment step means to the user, in their words.
fn user_words(key: &str) -> Option<&'static str> {
    match key {
        "revoke" => Some("signed you out on every device"),
        "disable" => Some("blocked sign-in to your account"),
        "reset" => Some("changed your password"),
        "methods" => Some("removed sign-in methods you did not add"),
        "mailbox" => Some("removed mail rules and forwarding you did not set up"),
        _ => None,
    }
}

fn finished_detail<'c>(case: &'c CaseView, step_id: &str) -> Option<&'c serde_json::Value> {
    case.journal
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StepFinished && e.step.as_deref() == Some(step_id))
        .and_then(|e| e.details.get("detail"))
}

/// The kind chosen at triage: the `kind:<name>` item it performed.
fn triage_kind(case: &CaseView, step_id: &str) -> Option<CompromiseKind> {
    finished_detail(case, step_id)?
        .get("done")?
        .as_array()?
        .iter()
        .filter_map(|v| v.as_str()?.strip_prefix("kind:"))
        .find_map(|k| serde_json::from_value(serde_json::Value::String(k.to_owned())).ok())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::FixedOffset;
    use serde_json::json;

    use super::*;
    use crate::{
        case::{
            comms::NewNotification,
            metadata::{CaseMetadata, Severity},
            CaseStore, ADMIN,
        },
        clock::ManualClock,
        organisation::Contact,
        paths::DataRoot,
    };

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn metadata() -> CaseMetadata {
        CaseMetadata {
            title: "Phished".into(),
            detected_at: at("2026-03-01T21:40:00Z"),
            aware_at: at("2026-03-01T22:00:00Z"),
            alert_source: AlertSource::UserReport,
            indicators: vec!["Odd sign-in prompt".into()],
            affected_workloads: vec![Workload::EntraId],
            severity: Severity::High,
            accounts: vec!["j.doe@contoso.com".into()],
            incident_commander: "Sam Admin".into(),
            external_ticket: None,
        }
    }

    fn setup() -> (tempfile::TempDir, CaseStore, CaseView) {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let clock = ManualClock::new(at("2026-03-01T22:15:00Z"));
        let store = CaseStore::new(&root, Arc::new(clock)).expect("store");
        let case = store.declare(ADMIN, metadata()).expect("declare");
        (tmp, store, case)
    }

    fn organisation(nis2: Option<bool>) -> Organisation {
        let mut org = Organisation {
            name: "Contoso Ltd".into(),
            nis2_applies: nis2,
            ..Organisation::default()
        };
        org.contacts.privacy_lead = Contact {
            name: "Dana DPO".into(),
            phone: "+49 30 1234".into(),
            email: "dpo@contoso.example".into(),
        };
        org.contacts.security_lead = Contact {
            name: "Lee Security".into(),
            phone: "+49 30 999".into(),
            email: String::new(),
        };
        org
    }

    fn plus_one() -> FixedOffset {
        FixedOffset::east_opt(3600).expect("offset")
    }

    fn card(c: &Communication, role: Role) -> &ContactCard {
        c.contacts
            .iter()
            .find(|k| k.role == role)
            .expect("card for the role")
    }

    #[test]
    fn the_privacy_heads_up_states_the_awareness_time_and_the_72_hour_deadline_in_the_admins_zone()
    {
        let (_tmp, _store, case) = setup();
        let c = communication(
            &case,
            &organisation(Some(false)),
            &plus_one(),
            at("2026-03-01T22:20:00Z"),
        );
        assert_eq!(c.gdpr_deadline, at("2026-03-04T22:00:00Z"));
        let privacy = card(&c, Role::PrivacyLead);
        assert_eq!(privacy.source, ContactSource::Organisation);
        assert_eq!(privacy.name, "Dana DPO");
        assert!(
            privacy
                .draft
                .text
                .contains("Sun 1 Mar 2026, 23:00 (UTC+01:00)"),
            "awareness in the admin's zone: {}",
            privacy.draft.text
        );
        assert!(
            privacy
                .draft
                .text
                .contains("Wed 4 Mar 2026, 23:00 (UTC+01:00)"),
            "the deadline 72 hours later: {}",
            privacy.draft.text
        );
        assert_eq!(privacy.draft.deadline, Some(c.gdpr_deadline));
    }

    #[test]
    fn the_nis2_early_warning_appears_only_when_the_organisation_is_in_scope() {
        let (_tmp, _store, case) = setup();
        let now = at("2026-03-01T22:20:00Z");
        for nis2 in [None, Some(false)] {
            let c = communication(&case, &organisation(nis2), &Utc, now);
            assert!(c.nis2_deadline.is_none());
            assert!(
                c.contacts.iter().all(|k| k.role != Role::Authority),
                "{nis2:?}"
            );
        }
        let c = communication(&case, &organisation(Some(true)), &Utc, now);
        assert_eq!(c.nis2_deadline, Some(at("2026-03-02T22:00:00Z")));
        let warning = card(&c, Role::Authority);
        assert_eq!(warning.draft.deadline, c.nis2_deadline);
        assert!(
            warning.draft.text.contains("Contoso Ltd"),
            "{}",
            warning.draft.text
        );
        assert!(
            warning.draft.text.contains("Lee Security, +49 30 999"),
            "the security lead is the contact: {}",
            warning.draft.text
        );
    }

    #[test]
    fn contacts_entered_for_the_case_win_over_the_organisation_and_are_journaled() {
        let (_tmp, store, case) = setup();
        let entered = vec![
            CaseContact {
                role: Role::User,
                name: "Jane Doe".into(),
                phone: "+44 7700 900123".into(),
                email: "jane.private@example.net".into(),
            },
            CaseContact {
                role: Role::PrivacyLead,
                name: "Outside DPO".into(),
                phone: "+49 30 5555".into(),
                email: String::new(),
            },
        ];
        store.set_contacts(&case.id, ADMIN, &entered).expect("save");
        let again = store
            .set_contacts(&case.id, ADMIN, &entered)
            .expect("same again");
        assert_eq!(again, entered);
        let case = store.case(&case.id).expect("reload");
        let kinds: Vec<_> = case.journal.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == EntryKind::ContactsChanged)
                .count(),
            1,
            "saving the same list twice journals it once"
        );
        let c = communication(&case, &organisation(None), &Utc, at("2026-03-01T22:20:00Z"));
        let user = card(&c, Role::User);
        assert_eq!(
            (user.name.as_str(), user.source),
            ("Jane Doe", ContactSource::Case)
        );
        assert!(
            user.draft.text.starts_with("Hello Jane Doe,"),
            "{}",
            user.draft.text
        );
        assert!(user.draft.text.contains("jane.private@example.net"));
        assert_eq!(card(&c, Role::PrivacyLead).name, "Outside DPO");
        assert_eq!(card(&c, Role::Manager).source, ContactSource::Missing);
        assert_eq!(user.channel, Channel::Phone);
    }

    #[test]
    fn finance_is_needed_only_when_money_may_be_at_stake() {
        let (_tmp, store, case) = setup();
        let now = at("2026-03-01T22:20:00Z");
        let c = communication(&case, &organisation(None), &Utc, now);
        assert!(
            !card(&c, Role::Finance).needed,
            "a sign-in prompt is not about money"
        );
        let with_invoice = CaseMetadata {
            indicators: vec!["Vendor asked about a changed IBAN on an invoice".into()],
            ..metadata()
        };
        store
            .update_metadata(&case.id, ADMIN, with_invoice)
            .expect("edit");
        let case = store.case(&case.id).expect("reload");
        let c = communication(&case, &organisation(None), &Utc, now);
        assert!(card(&c, Role::Finance).needed);
    }

    #[test]
    fn the_wording_says_what_the_journal_says_was_done() {
        let (_tmp, store, case) = setup();
        store
            .start_step(&case.id, ADMIN, "a1.triage", json!({}))
            .expect("start");
        store
            .finish_step(
                &case.id,
                ADMIN,
                "a1.triage",
                true,
                json!({"done": ["kind:tokenTheft"], "windowStart": "2026-03-01T20:05:00Z"}),
            )
            .expect("finish");
        store
            .skip_step(&case.id, ADMIN, "a1.preserve", "exported by hand")
            .expect("skip");
        store
            .start_step(&case.id, ADMIN, "a1.revoke", json!({}))
            .expect("start");
        store
            .finish_step(
                &case.id,
                ADMIN,
                "a1.revoke",
                true,
                json!({"done": ["account"]}),
            )
            .expect("finish");
        store
            .start_step(&case.id, ADMIN, "a1.mailbox", json!({}))
            .expect("start");
        store
            .finish_step(&case.id, ADMIN, "a1.mailbox", true, json!({"done": []}))
            .expect("finish");
        let case = store.case(&case.id).expect("reload");
        let c = communication(&case, &organisation(None), &Utc, at("2026-03-01T22:30:00Z"));
        let status = &card(&c, Role::SecurityLead).draft.text;
        assert!(status.contains("Token theft"), "triage's kind: {status}");
        assert!(status.contains("Revoke sessions (verified"), "{status}");
        assert!(
            status.contains("Preserve the evidence skipped (exported by hand)"),
            "{status}"
        );
        assert!(status.contains("next: Block sign-in"), "{status}");
        assert!(
            status.contains("since about Sun 1 Mar 2026, 20:05 (UTC+00:00)"),
            "the incident window from triage: {status}"
        );
        let script = &card(&c, Role::User).draft.text;
        assert!(
            script.contains("signed you out on every device"),
            "{script}"
        );
        assert!(
            !script.contains("blocked sign-in"),
            "not done yet: {script}"
        );
        assert!(
            !script.contains("mail rules"),
            "the mailbox step removed nothing: {script}"
        );
    }

    #[test]
    fn the_last_notification_per_role_is_shown_on_its_card() {
        let (_tmp, store, case) = setup();
        store
            .log_notification(
                &case.id,
                ADMIN,
                NewNotification {
                    role: Role::Manager,
                    recipient: "Ann".into(),
                    address: None,
                    channel: Channel::Phone,
                    told_at: at("2026-03-01T22:25:00Z"),
                    message: "Told her".into(),
                },
            )
            .expect("log");
        let case = store.case(&case.id).expect("reload");
        let c = communication(&case, &organisation(None), &Utc, at("2026-03-01T22:30:00Z"));
        assert_eq!(
            card(&c, Role::Manager).last_told,
            Some(at("2026-03-01T22:25:00Z"))
        );
        assert_eq!(card(&c, Role::User).last_told, None);
        assert!(c.warning.contains("mailbox") && c.warning.contains("Teams"));
    }

    #[test]
    fn the_status_reports_watch_alerts_after_recovery() {
        let (_tmp, store, case) = setup();
        let quiet = communication(&case, &organisation(None), &Utc, at("2026-03-01T22:30:00Z"));
        assert!(!card(&quiet, Role::SecurityLead)
            .draft
            .text
            .contains("watch raised"));
        store
            .record_watch_alert(&case.id, "firebreak", json!({"title": "New inbox rule"}))
            .expect("alert");
        let case = store.case(&case.id).expect("reload");
        let c = communication(&case, &organisation(None), &Utc, at("2026-03-01T22:30:00Z"));
        let status = &card(&c, Role::SecurityLead).draft.text;
        assert!(
            status.contains("The watch raised 1 alert after recovery"),
            "{status}"
        );
    }
}
