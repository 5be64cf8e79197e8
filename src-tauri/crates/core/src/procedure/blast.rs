//! Map the blast radius (spec/design.md §2.5): fifteen checks of what the attacker could have done with
//! the account, each a procedure step of the [`Phase::Blast`] phase.
//!
//! Every check plans from a fresh read of the incident window (triage's start, or the last 30
//! days when triage recorded none), saves the raw pages it read as evidence, and ends with a
//! status in its plan's `facts.check`: `clean`, `finding`, `notAvailable` (a missing permission or
//! licence, named with the fix) or `manual` (no API serves it: where to look in the portal and what
//! to look for; the admin answers "nothing found" or "found something" and writes the finding in
//! the confirmation's note). Findings are plan rows; where one of our operations undoes it the row
//! carries the action, recommended only when the check judges it attacker-made (the same rules as
//! containment). Checks do not depend on each other: [`plan_all`] plans them concurrently within
//! Graph's limits, reports progress and can be cancelled. [`check_results`] reads a case's journal
//! and says where each check stands (the recovery and close gates, the report and the UI use it).
//!
//! The checks live in `blast/`: sign-in and risk checks in `sign_ins`, mailbox checks (the
//! account's own mailbox and the shared mailboxes it holds rights on) in `mailbox`, Purview audit
//! searches in `audit`, directory-audit and consent checks in `directory`, and the guided manual
//! checks in `manual`.

mod audit;
mod directory;
mod mailbox;
mod manual;
mod sign_ins;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{directory::User, CancellationToken, Error as GraphError};
use futures_util::{future::BoxFuture, lock::Mutex, FutureExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use super::{
    tenant::IncidentTenant, Action, Capture, Check, Env, Phase, Plan, PlanItem, Procedure, Step,
    StepContext, StepInfo, Verification,
};
use crate::{
    case::{journal::EntryKind, steps::StepStatus, CaseId, CaseView},
    Error,
};

/// The fifteen checks' step keys, in the order spec/design.md §2.5 lists them.
pub const CHECK_KEYS: [&str; 15] = [
    "blast-sign-ins",
    "blast-non-interactive",
    "blast-risk",
    "blast-inbox-rules",
    "blast-forwarding",
    "blast-mail-items-accessed",
    "blast-files",
    "blast-teams",
    "blast-consents",
    "blast-flows",
    "blast-power-apps",
    "blast-memberships",
    "blast-app-credentials",
    "blast-created-users",
    "blast-conditional-access",
];

/// The plan row a manual check's admin picks when they found something (a note is then required).
pub const FOUND_ANSWER: &str = "answer:found";
/// The plan row a manual check's admin picks when they found nothing.
pub const NOTHING_ANSWER: &str = "answer:nothing";
/// The reason a headless practice run gives for skipping a manual check.
pub const HEADLESS_SKIP: &str = "checked by hand in the app; not available headless";

/// How many checks plan at once (each issues a few Graph requests; Graph throttles per app).
pub const MAX_IN_FLIGHT: usize = 4;
/// How far back the checks look when triage recorded no incident window.
const FALLBACK_DAYS: i64 = 30;
use crate::clock::CLOCK_SKEW_MINUTES;

/// Where one check stands in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CheckStatus {
    /// Not done yet (never run, or started and not finished).
    Open,
    /// Run; nothing found.
    Clean,
    /// Run; something found (remediated or recorded).
    Finding,
    /// Run; the tenant could not answer (missing permission or licence, search unfinished).
    NotAvailable,
    /// A manual check the admin answered (their finding is in the note).
    CheckedByHand,
    /// Skipped with a reason.
    Skipped,
}

impl CheckStatus {
    /// Whether the check no longer holds the case open.
    pub fn is_done(self) -> bool {
        self != Self::Open
    }
}

/// One check's state in a case, from its journal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    /// The check's step key.
    pub key: &'static str,
    /// The full step id (`a1.blast-sign-ins`).
    pub step: String,
    /// Its title.
    pub title: &'static str,
    /// Where it stands.
    pub status: CheckStatus,
    /// Why (the check's own reason, or the skip reason).
    pub reason: Option<String>,
    /// How many findings its plan had.
    pub findings: u64,
    /// The admin's note (a manual check's finding).
    pub note: Option<String>,
    /// For a manual check: whether the admin said they found something.
    pub found_by_hand: Option<bool>,
    /// The Purview audit query the check's evidence came from, when it used one.
    pub audit_query_id: Option<String>,
    /// When it reached this status.
    pub at: Option<DateTime<Utc>>,
}

/// Where each of the fifteen checks of the procedure `scope` (`a1`) stands in `case`.
pub fn check_results(case: &CaseView, scope: &str) -> Vec<CheckResult> {
    CHECK_KEYS
        .iter()
        .zip(INFOS.iter())
        .map(|(key, info)| {
            let step = format!("{scope}.{key}");
            let state = case.steps.iter().find(|s| s.step == step);
            let started = case.journal.iter().rev().find(|e| {
                e.kind == EntryKind::StepStarted && e.step.as_deref() == Some(step.as_str())
            });
            let check = started.and_then(|e| e.details.pointer("/detail/facts/check"));
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let selected: Vec<String> = started
                .and_then(|e| e.details.pointer("/detail/selected"))
                .cloned()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            let planned = text(check.and_then(|c| c.get("status")));
            let (status, reason) = match state.map(|s| &s.status) {
                Some(StepStatus::Finished { .. }) => (
                    match planned.as_deref() {
                        Some("clean") => CheckStatus::Clean,
                        Some("finding") => CheckStatus::Finding,
                        Some("notAvailable") => CheckStatus::NotAvailable,
                        Some("manual") => CheckStatus::CheckedByHand,
                        _ => CheckStatus::Open,
                    },
                    text(check.and_then(|c| c.get("reason"))),
                ),
                Some(StepStatus::Skipped { reason }) => {
                    (CheckStatus::Skipped, Some(reason.clone()))
                }
                _ => (CheckStatus::Open, None),
            };
            let manual = planned.as_deref() == Some("manual");
            CheckResult {
                key,
                step,
                title: info.title,
                status,
                reason,
                findings: check
                    .and_then(|c| c.get("findings"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                note: text(started.and_then(|e| e.details.pointer("/detail/note"))),
                found_by_hand: (manual && status == CheckStatus::CheckedByHand)
                    .then(|| selected.iter().any(|s| s == FOUND_ANSWER)),
                audit_query_id: text(check.and_then(|c| c.get("auditQueryId"))),
                at: state.filter(|_| status.is_done()).map(|s| s.since),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SignIns,
    NonInteractive,
    Risk,
    InboxRules,
    Forwarding,
    MailItemsAccessed,
    Files,
    Teams,
    Consents,
    Flows,
    PowerApps,
    Memberships,
    AppCredentials,
    CreatedUsers,
    ConditionalAccess,
}

const KINDS: [Kind; 15] = [
    Kind::SignIns,
    Kind::NonInteractive,
    Kind::Risk,
    Kind::InboxRules,
    Kind::Forwarding,
    Kind::MailItemsAccessed,
    Kind::Files,
    Kind::Teams,
    Kind::Consents,
    Kind::Flows,
    Kind::PowerApps,
    Kind::Memberships,
    Kind::AppCredentials,
    Kind::CreatedUsers,
    Kind::ConditionalAccess,
];

const fn info(
    key: &'static str,
    title: &'static str,
    effect: &'static str,
    saved_first: &'static str,
    destructive: bool,
) -> StepInfo {
    StepInfo {
        key,
        phase: Phase::Blast,
        title,
        why: "Containment without mapping is a false sense of security: the second persistence mechanism is found on the last items of the list. The checks can be done in any order.",
        effect,
        saved_first,
        destructive,
        refuses_protected: false,
    }
}

static INFOS: [StepInfo; 15] = [
    info("blast-sign-ins", "Interactive sign-ins", "Nothing changes. The addresses the attacker signed in from are recorded (the sideways sweep looks for them on other accounts).", "The account's interactive sign-ins in the incident window.", false),
    info("blast-non-interactive", "Non-interactive and app sign-ins", "Nothing changes. Token refreshes and app sign-ins from the attacker's addresses are recorded.", "Non-interactive sign-ins of the account and service-principal sign-ins from the attacker's addresses.", false),
    info("blast-risk", "Risky user and detections", "Nothing changes. Identity Protection's view of the account is recorded.", "The user's risk state and risk detections in the window.", false),
    info("blast-inbox-rules", "Inbox rules (own and delegated mailboxes)", "The selected inbox rules are removed, in the account's mailbox and in the shared mailboxes it can open.", "Every inbox rule (hidden ones included) of the mailboxes the account reaches.", true),
    info("blast-forwarding", "Mailbox forwarding and delegate access", "The selected forwarding is cleared and the selected delegate rights are removed.", "Forwarding settings and delegate rights of the mailboxes the account reaches, and the audit records of the attacker's addresses.", true),
    info("blast-mail-items-accessed", "Mail read (MailItemsAccessed)", "Nothing changes. What was read, from where, bind or sync, is recorded.", "A dedicated MailItemsAccessed export from a Purview audit search (its query id is kept).", false),
    info("blast-files", "SharePoint and OneDrive downloads", "Nothing changes. Downloads and sync from the attacker's addresses are recorded.", "FileDownloaded and FileSyncDownloadedFull audit records of the account.", false),
    info("blast-teams", "Teams activity", "Nothing changes. Teams activity from the attacker's addresses is recorded.", "The account's Microsoft Teams audit records in the window.", false),
    info("blast-consents", "Consent grants", "The selected consents are revoked and the selected apps disabled.", "The account's consents, the tenant-wide consents and the apps behind them.", true),
    info("blast-flows", "Power Automate flows (by hand)", "Nothing changes. Your finding is recorded in the case.", "Your note.", false),
    info("blast-power-apps", "Power Apps (by hand)", "Nothing changes. Your finding is recorded in the case.", "Your note.", false),
    info("blast-memberships", "Group and role membership changes", "The selected directory roles are taken away from the accounts they were given to (their other roles stay); group changes are listed to revert in the Entra admin center.", "Directory audit entries of membership changes in the window, and the directory roles each account given one holds.", true),
    info("blast-app-credentials", "Credentials added to apps", "The selected secrets and certificates are removed from the app registrations (their other credentials stay); the selected apps can no longer sign in to this tenant.", "Directory audit entries of credentials added in the window, and each app registration with its credentials.", true),
    info("blast-created-users", "Users created by the account", "The selected users are signed out, blocked and their sign-in methods removed.", "Directory audit entries of users the account created, with their state and methods.", true),
    info("blast-conditional-access", "Conditional Access policy edits", "Nothing changes here: restore the listed policies in the Entra admin center; your review is recorded.", "Directory audit entries of Conditional Access changes in the window.", false),
];

/// The fifteen checks, as steps.
pub fn steps<T: IncidentTenant>() -> Vec<Box<dyn Step<T>>> {
    KINDS
        .iter()
        .map(|k| Box::new(BlastCheck(*k)) as Box<dyn Step<T>>)
        .collect()
}

/// What the fifteen checks are, in their order, without a tenant to act on.
pub fn infos() -> Vec<&'static StepInfo> {
    INFOS.iter().collect()
}

struct BlastCheck(Kind);

impl BlastCheck {
    fn info(&self) -> &'static StepInfo {
        let index = KINDS.iter().position(|k| *k == self.0).unwrap_or(0);
        &INFOS[index]
    }
}

impl<T: IncidentTenant> Step<T> for BlastCheck {
    fn info(&self) -> &'static StepInfo {
        BlastCheck::info(self)
    }

    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>> {
        async move {
            let mut draft = Draft::new(cx, self.info().key);
            if !matches!(self.0, Kind::Flows | Kind::PowerApps) {
                draft.since = window(cx, &mut draft).await?;
            }
            match self.0 {
                Kind::SignIns => sign_ins::interactive(cx, &mut draft).await?,
                Kind::NonInteractive => sign_ins::non_interactive(cx, &mut draft).await?,
                Kind::Risk => sign_ins::risk(cx, &mut draft).await?,
                Kind::InboxRules => mailbox::rules(cx, &mut draft).await?,
                Kind::Forwarding => mailbox::forwarding(cx, &mut draft).await?,
                Kind::MailItemsAccessed => audit::mail_items_accessed(cx, &mut draft).await?,
                Kind::Files => audit::files(cx, &mut draft).await?,
                Kind::Teams => audit::teams(cx, &mut draft).await?,
                Kind::Consents => directory::consents(cx, &mut draft).await?,
                Kind::Flows => manual::flows(&mut draft),
                Kind::PowerApps => manual::power_apps(&mut draft),
                Kind::Memberships => directory::memberships(cx, &mut draft).await?,
                Kind::AppCredentials => directory::app_credentials(cx, &mut draft).await?,
                Kind::CreatedUsers => directory::created_users(cx, &mut draft).await?,
                Kind::ConditionalAccess => directory::conditional_access(cx, &mut draft).await?,
            }
            Ok(draft.finish())
        }
        .boxed()
    }

    fn verify<'a>(
        &'a self,
        cx: &'a StepContext<'a, T>,
        selected: &'a [String],
        started: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Verification, Error>> {
        async move {
            let after = started - Duration::minutes(CLOCK_SKEW_MINUTES);
            let needs_fresh = selected.iter().any(|id| !recorded(id) && !direct(id));
            let fresh = if needs_fresh {
                Some(<Self as Step<T>>::plan(self, cx).await?)
            } else {
                None
            };
            let mut checks = Vec::new();
            for id in selected {
                checks.push(read_back(cx, id, after, fresh.as_ref()).await?);
            }
            Ok(Verification::from_checks(checks))
        }
        .boxed()
    }
}

/// Rows that only record something (a finding without an operation, a manual answer).
fn recorded(id: &str) -> bool {
    id.starts_with("seen:") || id.starts_with("answer:")
}

/// Rows read back directly rather than by their absence from a fresh plan.
fn direct(id: &str) -> bool {
    [
        "sp:",
        "user-disable:",
        "user-revoke:",
        "appcred:",
        "missing:",
    ]
    .iter()
    .any(|p| id.starts_with(p))
}

async fn read_back<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    id: &str,
    after: DateTime<Utc>,
    fresh: Option<&Plan>,
) -> Result<Check, Error> {
    let check = |ok: bool, detail: String| Check {
        item: id.to_owned(),
        ok,
        detail,
    };
    if recorded(id) {
        return Ok(check(true, "Recorded in the case.".into()));
    }
    if let Some(missing) = id.strip_prefix("missing:") {
        let (what, object) = missing.split_once(':').unwrap_or(("app", missing));
        return Ok(Check::not_found(
            id,
            format!(
                "the {} {object} named in the directory audit log could not be found, so what the account did to it could not be checked or undone.",
                if what == "sp" { "app (service principal)" } else { "app registration" }
            ),
        ));
    }
    if let Some(rest) = id.strip_prefix("appcred:") {
        let (app, key) = rest.split_once(':').unwrap_or((rest, ""));
        let Some(fetched) = cx.tenant.application(app).await? else {
            return Ok(Check::not_found(
                id,
                format!("the app registration {app} could not be found, so Firebreak could not confirm that the credential {key} is gone. Look for the app under App registrations (and Deleted applications)."),
            ));
        };
        let still = fetched.items.iter().any(|a| {
            a.passwords()
                .iter()
                .filter_map(|p| p.key_id.as_deref())
                .chain(a.keys().iter().filter_map(|k| k.key_id.as_deref()))
                .any(|k| k.eq_ignore_ascii_case(key))
        });
        return Ok(check(
            !still,
            if still {
                format!("The credential {key} is still on the app.")
            } else {
                format!("The credential {key} is no longer on the app.")
            },
        ));
    }
    if let Some(sp) = id.strip_prefix("sp:") {
        let Some(found) = cx.tenant.service_principal(sp).await? else {
            return Ok(Check::not_found(
                id,
                format!("the app (service principal {sp}) could not be found, so Firebreak could not confirm it is disabled."),
            ));
        };
        let enabled = found.account_enabled;
        return Ok(check(
            enabled == Some(false),
            format!(
                "App enabled: {}",
                enabled.map_or("unknown".into(), |e| e.to_string())
            ),
        ));
    }
    if let Some(user) = id
        .strip_prefix("user-disable:")
        .or_else(|| id.strip_prefix("user-revoke:"))
    {
        let found = cx
            .tenant
            .user(&firebreak_graph::UserRef::new(user)?)
            .await?;
        return Ok(match (id.starts_with("user-disable:"), found) {
            (_, None) => Check::not_found(
                id,
                format!("the user {user} no longer exists, so Firebreak could not confirm it is signed out and blocked (check Deleted users: a deleted user can be restored)."),
            ),
            (true, Some(u)) => check(
                u.account_enabled == Some(false),
                format!(
                    "Sign-in enabled: {}",
                    u.account_enabled
                        .map_or("unknown".into(), |e| e.to_string())
                ),
            ),
            (false, Some(u)) => check(
                u.sign_in_sessions_valid_from_date_time
                    .is_some_and(|t| t >= after),
                format!(
                    "Sessions valid from: {}",
                    u.sign_in_sessions_valid_from_date_time
                        .map_or("unknown".into(), |t| t.to_rfc3339())
                ),
            ),
        });
    }
    let still = fresh.is_some_and(|p| p.items.iter().any(|i| i.id == id));
    Ok(check(
        !still,
        if still {
            "Still present in the tenant.".into()
        } else {
            "Gone.".into()
        },
    ))
}

/// A check's plan while it is being put together: its rows, what it saved, what it could not
/// read; [`Draft::finish`] turns it into the plan with `facts.check`.
pub(crate) struct Draft {
    /// The start of the window the check looks at.
    since: DateTime<Utc>,
    plan: Plan,
    key: &'static str,
    findings: usize,
    gaps: Vec<String>,
    clean: Vec<String>,
    manual: Option<(String, String)>,
    extra: serde_json::Map<String, Value>,
}

impl Draft {
    fn new<T: IncidentTenant>(cx: &StepContext<'_, T>, key: &'static str) -> Self {
        let mut plan = Plan {
            step: String::new(),
            account: cx.account.to_owned(),
            summary: String::new(),
            items: Vec::new(),
            warnings: Vec::new(),
            saved_first: Vec::new(),
            facts: Value::Null,
            captures: Vec::new(),
        };
        if cx.window_start.is_none() {
            plan.warnings.push(format!(
                "No incident window was recorded at triage: this check looks at the last {FALLBACK_DAYS} days."
            ));
        }
        Self {
            since: cx
                .window_start
                .unwrap_or(cx.now - Duration::days(FALLBACK_DAYS)),
            plan,
            key,
            findings: 0,
            gaps: Vec::new(),
            clean: Vec::new(),
            manual: None,
            extra: serde_json::Map::new(),
        }
    }

    fn summary(&mut self, text: impl Into<String>) {
        self.plan.summary = text.into();
    }

    /// Saves the pages of one read as evidence.
    fn capture(&mut self, name: &str, description: &str, operation: &str, pages: &[String]) {
        let short = self.key.trim_start_matches("blast-");
        self.plan.captures.extend(Capture::pages(
            &format!("{short}-{name}"),
            description,
            operation,
            pages,
        ));
    }

    /// Saves a value Firebreak assembled (not a raw page) as evidence.
    fn capture_json(&mut self, name: &str, description: &str, operation: &str, value: &Value) {
        self.capture(name, description, operation, &[value.to_string()]);
    }

    /// A finding: counted, shown.
    fn finding(&mut self, item: PlanItem) {
        self.findings += 1;
        self.plan.items.push(item);
    }

    /// A row that is shown but is not a finding (a look-alike, a choice).
    fn row(&mut self, item: PlanItem) {
        self.plan.items.push(item);
    }

    /// Records a read that failed. A missing permission or licence makes the check "not
    /// available" with the reason; anything else is an error (try again).
    fn gap(&mut self, what: &str, error: GraphError) -> Result<(), Error> {
        match unavailable(what, &error) {
            Some(reason) => {
                self.gaps.push(reason);
                Ok(())
            }
            None => Err(error.into()),
        }
    }

    /// Records that part of the check could not be done, with the reason in the admin's words.
    fn gap_text(&mut self, reason: String) {
        self.gaps.push(reason);
    }

    /// A sentence for the "clean" reason.
    fn clean(&mut self, text: impl Into<String>) {
        self.clean.push(text.into());
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.plan.warnings.push(text.into());
    }

    fn fact(&mut self, key: &str, value: Value) {
        self.extra.insert(key.to_owned(), value);
    }

    fn manual(&mut self, portal: &str, look_for: &str) {
        self.manual = Some((portal.to_owned(), look_for.to_owned()));
    }

    fn finish(mut self) -> Plan {
        let (status, reason, portal) = if let Some((portal, look_for)) = self.manual.take() {
            ("manual", look_for, Some(portal))
        } else if self.findings > 0 {
            let mut reason = format!(
                "{} finding{} in the incident window.",
                self.findings,
                if self.findings == 1 { "" } else { "s" }
            );
            if !self.gaps.is_empty() {
                reason.push_str(" Part of the check was not available: ");
                reason.push_str(&self.gaps.join(" "));
            }
            ("finding", reason, None)
        } else if !self.gaps.is_empty() {
            ("notAvailable", self.gaps.join(" "), None)
        } else {
            let reason = if self.clean.is_empty() {
                "Nothing found in the incident window.".to_owned()
            } else {
                self.clean.join(" ")
            };
            ("clean", reason, None)
        };
        if status == "notAvailable" {
            self.plan.warnings.extend(self.gaps.iter().cloned());
        }
        if self.plan.items.is_empty() {
            self.plan.items.push(PlanItem {
                id: "seen:result".into(),
                kind: "Check result".into(),
                label: match status {
                    "clean" => "Nothing found".into(),
                    _ => "Not available".into(),
                },
                details: vec![reason.clone()],
                created: None,
                recommended: true,
                reasons: Vec::new(),
                fixed: true,
                group: None,
                action: Action::Record,
            });
        }
        let mut check = serde_json::Map::new();
        check.insert("status".into(), json!(status));
        check.insert("reason".into(), json!(reason));
        check.insert("findings".into(), json!(self.findings));
        check.insert("portal".into(), json!(portal));
        check.extend(self.extra);
        self.plan.facts = json!({ "check": Value::Object(check) });
        self.plan.saved_first = self
            .plan
            .captures
            .iter()
            .map(|c| c.description.clone())
            .collect();
        self.plan.saved_first.dedup();
        if self.plan.summary.is_empty() {
            self.plan.summary = "Record the result of this check.".into();
        }
        self.plan
    }
}

/// Why a failed read makes the check "not available", in the admin's words with the fix; `None`
/// when the failure is not about permissions or licences (then the check should be retried).
pub fn unavailable(what: &str, error: &GraphError) -> Option<String> {
    if error.is_premium_required() {
        Some(format!(
            "{what}: this tenant has no Microsoft Entra ID P1 or P2 licence, which this read needs. \
             Look in the Entra admin center instead, or add the licence ({error})."
        ))
    } else if matches!(error, GraphError::PermissionDenied { .. }) {
        Some(format!(
            "{what}: {error} Grant it to the Firebreak app registration (API permissions, then \
             admin consent) and run this check again."
        ))
    } else {
        None
    }
}

/// The account as the tenant has it.
async fn account<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<User, Error> {
    cx.tenant
        .user(cx.user)
        .await?
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!("There is no account {} in this tenant.", cx.account),
        })
}

/// The start of the window the checks look at: triage's incident window start, moved back to
/// the account's first risky sign-in or risk detection of the last 30 days when that came
/// earlier (the attacker may have been in before the alert triage anchored on), or the last 30
/// days when triage recorded no window.
async fn window<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<DateTime<Utc>, Error> {
    let start = draft.since;
    let Some(triage) = cx.window_start else {
        return Ok(start);
    };
    let user = account(cx).await?;
    let back = cx.now - Duration::days(FALLBACK_DAYS);
    let mut earliest = triage;
    if let Ok(d) = cx.tenant.risk_detections(&user.id, back).await {
        earliest = d
            .items
            .iter()
            .filter(|r| r.risk_level.as_deref() != Some("hidden"))
            .filter_map(|r| r.activity_date_time)
            .fold(earliest, DateTime::min);
    }
    let query = firebreak_graph::logs::SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(back),
        ..Default::default()
    };
    if let Ok(s) = cx.tenant.sign_ins(&query).await {
        earliest = s
            .items
            .iter()
            .filter(|s| sign_ins::risky(s))
            .filter_map(|s| s.created_date_time)
            .fold(earliest, DateTime::min);
    }
    if earliest < triage {
        draft.warn(format!(
            "This check starts at {}, the account's first risky sign-in or detection, before the incident window recorded at triage ({}).",
            earliest.format("%Y-%m-%d %H:%M UTC"),
            triage.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    Ok(earliest)
}

/// The addresses the attacker used with this account in the window: those of its risk
/// detections and of its sign-ins Identity Protection rated risky, and those triage attributed.
/// Reads that fail leave the set smaller and add a warning.
async fn attacker_addresses<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    user_id: &str,
    draft: &mut Draft,
) -> BTreeSet<String> {
    let from = draft.since;
    let mut addresses = BTreeSet::new();
    match cx.tenant.risk_detections(user_id, from).await {
        Ok(d) => addresses.extend(d.items.iter().filter_map(|r| r.ip_address.clone())),
        Err(e) => draft.warn(format!(
            "Risk detections could not be read, so the attacker's addresses may be incomplete: {e}"
        )),
    }
    let query = firebreak_graph::logs::SignInQuery {
        user_id: Some(user_id.to_owned()),
        since: Some(from),
        ..Default::default()
    };
    if let Ok(s) = cx.tenant.sign_ins(&query).await {
        addresses.extend(
            s.items
                .iter()
                .filter(|s| sign_ins::risky(s))
                .filter_map(|s| s.ip_address.clone()),
        );
    }
    // What triage attributed without Identity Protection (see `attribution`) counts too.
    addresses.extend(super::triage::recorded_infrastructure(cx.case, cx.scope).addresses());
    addresses.retain(|a| !a.is_empty());
    addresses
}

fn item(id: String, kind: &str, label: String, details: Vec<String>, action: Action) -> PlanItem {
    PlanItem {
        id,
        kind: kind.to_owned(),
        label,
        details,
        created: None,
        recommended: false,
        reasons: Vec::new(),
        fixed: false,
        group: None,
        action,
    }
}

/// Progress of one check in [`plan_all`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckProgress {
    /// The check's key.
    pub key: &'static str,
    /// `started`, `planned`, `failed` or `cancelled`.
    pub state: &'static str,
    /// The planned status (`clean`, `finding`, `notAvailable`, `manual`) once planned.
    pub status: Option<String>,
    /// Findings once planned.
    pub findings: u64,
    /// Why it failed.
    pub message: Option<String>,
    /// Checks finished so far (planned, failed or cancelled), this one included.
    pub done: usize,
    /// Checks in all.
    pub total: usize,
}

/// Plans every blast-radius check of `procedure` that is not done yet, at most
/// [`MAX_IN_FLIGHT`] at once and at most one mailbox-heavy (Exchange) check at a time, calling
/// `progress` as each starts and ends. When `cancel` fires, checks not yet planned end as
/// cancelled ([`Error::Cancelled`]); requests in flight are dropped (give `env.tenant` a client
/// made with `Client::with_cancellation` on the same token to stop its waits too). Returns each
/// check's key with its plan or error, in [`CHECK_KEYS`] order.
pub async fn plan_all<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
    case_id: &CaseId,
    cancel: &CancellationToken,
    progress: &(dyn Fn(CheckProgress) + Send + Sync),
) -> Result<Vec<(&'static str, Result<Plan, Error>)>, Error> {
    let case = env.store.case(case_id)?;
    let keys: Vec<&'static str> = procedure
        .view(&case)
        .iter()
        .filter(|v| v.info.phase == Phase::Blast)
        .filter(|v| v.position != super::Position::Done)
        .map(|v| v.info.key)
        .collect();
    let total = keys.len();
    let exchange = Mutex::new(());
    let done = std::sync::atomic::AtomicUsize::new(0);
    let report = |key: &'static str, state: &'static str, result: Option<&Result<Plan, Error>>| {
        let (status, findings, message) = match result {
            Some(Ok(plan)) => (
                plan.facts
                    .pointer("/check/status")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                plan.facts
                    .pointer("/check/findings")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                None,
            ),
            Some(Err(e)) => (None, 0, Some(e.to_string())),
            None => (None, 0, None),
        };
        let finished = if result.is_some() {
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
        } else {
            done.load(std::sync::atomic::Ordering::SeqCst)
        };
        progress(CheckProgress {
            key,
            state,
            status,
            findings,
            message,
            done: finished,
            total,
        });
    };
    let mut results: Vec<(&'static str, Result<Plan, Error>)> =
        futures_util::stream::iter(keys.iter().copied())
            .map(|key| {
                let exchange = &exchange;
                let report = &report;
                async move {
                    if cancel.is_cancelled() {
                        let result = Err(Error::Cancelled);
                        report(key, "cancelled", Some(&result));
                        return (key, result);
                    }
                    report(key, "started", None);
                    let heavy = matches!(key, "blast-inbox-rules" | "blast-forwarding");
                    let work = async {
                        let _gate = if heavy {
                            Some(exchange.lock().await)
                        } else {
                            None
                        };
                        procedure.plan(env, case_id, key).await
                    };
                    let stop = std::pin::pin!(cancel.cancelled());
                    let work = std::pin::pin!(work);
                    let result = match futures_util::future::select(stop, work).await {
                        futures_util::future::Either::Left(_) => Err(Error::Cancelled),
                        futures_util::future::Either::Right((r, _)) => r,
                    };
                    let state = match &result {
                        Ok(_) => "planned",
                        Err(Error::Cancelled) => "cancelled",
                        Err(_) => "failed",
                    };
                    report(key, state, Some(&result));
                    (key, result)
                }
            })
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;
    results.sort_by_key(|(key, _)| CHECK_KEYS.iter().position(|k| k == key));
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_fifteen_checks_with_distinct_keys_all_in_the_blast_phase() {
        let keys: BTreeSet<&str> = INFOS.iter().map(|i| i.key).collect();
        assert_eq!(keys.len(), 15);
        assert_eq!(
            INFOS.iter().map(|i| i.key).collect::<Vec<_>>(),
            CHECK_KEYS.to_vec()
        );
        assert!(INFOS.iter().all(|i| i.phase == Phase::Blast));
        for k in KINDS {
            assert_eq!(
                BlastCheck(k).info().key,
                CHECK_KEYS[KINDS.iter().position(|x| *x == k).unwrap()]
            );
        }
    }
}
