//! Containment of a compromised account, in the order of spec/design.md §2.4: preserve, revoke sessions,
//! disable, reset the password, authentication methods, mailbox (rules, forwarding, delegates),
//! consent grants, confirm compromised. Each step's plan comes from a fresh read; the flagging
//! rules here decide the recommended selection and say why for every object.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    directory::ServicePrincipal,
    exchange::InboxRule,
    logs::{DirectoryAudit, DirectoryAuditQuery, SignInEventType, SignInQuery},
    methods::{AuthenticationMethod, MethodKind},
    permissions::Operation,
};
use futures_util::{
    future::{join_all, BoxFuture},
    FutureExt,
};
use serde_json::{json, Value};

use super::{
    roles::note_role,
    tenant::{Fetched, IncidentTenant},
    triage::RISKY_SCOPES,
    Action, Capture, Check, OnPremisesTask, Phase, Plan, PlanItem, Step, StepContext, StepInfo,
    Verification,
};
use crate::Error;

mod methods;
mod recipients;
mod rules;

pub use methods::{
    deletion_rank, judge_method, judge_shared, match_registrations, shared_registrations,
    MethodEvidence, MethodJudgement, MethodVerdict, Registration, SecurityInfoAction, UserHistory,
    FREE_LOG_REACH_DAYS, LOG_REACH_DAYS,
};
pub use recipients::{judge_forwarding, mailbox_references, resolve, Directory, Resolved, Who};
pub use rules::{
    builtin_rule, judge_rule, organisation, read_rules, system_rule_name, MailboxRules,
    Organisation, RuleContext,
};

use crate::clock::CLOCK_SKEW_MINUTES;
/// How far back the preserve step exports sign-ins.
const EXPORT_DAYS: i64 = 30;

/// The containment steps in their order.
pub fn steps<T: IncidentTenant>() -> Vec<Box<dyn Step<T>>> {
    KINDS
        .iter()
        .map(|k| Box::new(Contain(*k)) as Box<dyn Step<T>>)
        .collect()
}

/// What the containment steps are, in their order, without a tenant to act on.
pub fn infos() -> Vec<&'static StepInfo> {
    KINDS.iter().map(|k| info_of(*k)).collect()
}

/// The containment steps in their order (spec/design.md §2.4).
const KINDS: [Kind; 8] = [
    Kind::Preserve,
    Kind::Revoke,
    Kind::Disable,
    Kind::Reset,
    Kind::Methods,
    Kind::Mailbox,
    Kind::Grants,
    Kind::ConfirmCompromised,
];

fn info_of(kind: Kind) -> &'static StepInfo {
    match kind {
        Kind::Preserve => &PRESERVE,
        Kind::Revoke => &REVOKE,
        Kind::Disable => &DISABLE,
        Kind::Reset => &RESET,
        Kind::Methods => &METHODS,
        Kind::Mailbox => &MAILBOX,
        Kind::Grants => &GRANTS,
        Kind::ConfirmCompromised => &CONFIRM,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Preserve,
    Revoke,
    Disable,
    Reset,
    Methods,
    Mailbox,
    Grants,
    ConfirmCompromised,
}

struct Contain(Kind);

static PRESERVE: StepInfo = StepInfo {
    key: "preserve",
    phase: Phase::Contain,
    title: "Preserve the evidence",
    why: "Exports are the only evidence that outlives the log retention, and every later step destroys something: take them before any change.",
    effect: "Nothing in the tenant changes. The sign-in logs and the current state of methods, rules, forwarding, delegates and consents are saved in the case.",
    saved_first: "Sign-in logs (30 days, interactive and non-interactive), authentication methods, inbox rules with their full definition, mailbox forwarding and delegates, consent grants.",
    destructive: false,
    refuses_protected: false,
};
static REVOKE: StepInfo = StepInfo {
    key: "revoke",
    phase: Phase::Contain,
    title: "Revoke sessions",
    why: "First, so a stolen token cannot be used to register a new method or recovery address while the rest happens.",
    effect: "Every refresh token and session of the account stops working: the attacker and the user are signed out everywhere.",
    saved_first: "The account's state before the change.",
    destructive: true,
    refuses_protected: true,
};
static DISABLE: StepInfo = StepInfo {
    key: "disable",
    phase: Phase::Contain,
    title: "Block sign-in",
    why: "After the revoke: it blocks new sign-ins and, where Continuous Access Evaluation applies, ends existing access sooner.",
    effect: "The account cannot sign in until you re-enable it at recovery.",
    saved_first: "The account's state before the change.",
    destructive: true,
    refuses_protected: true,
};
static RESET: StepInfo = StepInfo {
    key: "reset",
    phase: Phase::Contain,
    title: "Reset the password",
    why: "Only after the revoke: reset first and a still-valid token can register a new method, then walk back in through self-service reset.",
    effect: "The password becomes a long random value nobody sees; a new one must be chosen at next sign-in (after recovery).",
    saved_first: "The account's state before the change.",
    destructive: true,
    refuses_protected: true,
};
static METHODS: StepInfo = StepInfo {
    key: "methods",
    phase: Phase::Contain,
    title: "Authentication methods",
    why: "With the attacker out and unable to return, the review cannot be raced; a method left behind lets the attacker reset the password again.",
    effect: "The selected sign-in methods are deleted from the account.",
    saved_first: "Every authentication method with its type and creation time.",
    destructive: true,
    refuses_protected: false,
};
static MAILBOX: StepInfo = StepInfo {
    key: "mailbox",
    phase: Phase::Contain,
    title: "Mailbox rules, forwarding and delegates",
    why: "They keep working without a sign-in, so they must be removed explicitly, and only now that no new ones can appear.",
    effect: "The selected inbox rules, the forwarding and the selected delegates are removed from the mailbox.",
    saved_first: "Every inbox rule (hidden ones included) with its full definition, the mailbox forwarding and delegate permissions.",
    destructive: true,
    refuses_protected: false,
};
static GRANTS: StepInfo = StepInfo {
    key: "grants",
    phase: Phase::Contain,
    title: "App consents",
    why: "A consented app keeps reading mail with its own tokens whatever the password; revoke its grants and, if it is malicious, disable it.",
    effect: "The selected consents are revoked and the selected apps can no longer sign in to this tenant.",
    saved_first: "The account's consents and the tenant-wide consents, with the apps behind them.",
    destructive: true,
    refuses_protected: false,
};
static CONFIRM: StepInfo = StepInfo {
    key: "confirm-compromised",
    phase: Phase::Contain,
    title: "Mark as compromised (optional)",
    why: "Tells Identity Protection this was a real compromise, which raises the user's risk and trains its detections.",
    effect: "Identity Protection marks the user as confirmed compromised.",
    saved_first: "The user's current risk state.",
    destructive: false,
    refuses_protected: false,
};

fn capture(
    step: &str,
    name: &str,
    description: &str,
    operation: &str,
    pages: &[String],
) -> Vec<Capture> {
    Capture::pages(&format!("{step}-{name}"), description, operation, pages)
}

fn account_item(
    cx: &StepContext<'_, impl IncidentTenant>,
    action: Action,
    label: &str,
) -> PlanItem {
    PlanItem {
        id: "account".into(),
        kind: "Account".into(),
        label: cx.account.to_owned(),
        details: vec![label.to_owned()],
        created: None,
        recommended: true,
        reasons: Vec::new(),
        fixed: true,
        group: None,
        action,
    }
}

fn empty_plan(cx: &StepContext<'_, impl IncidentTenant>, summary: String) -> Plan {
    Plan {
        step: String::new(),
        account: cx.account.to_owned(),
        summary,
        items: Vec::new(),
        warnings: Vec::new(),
        saved_first: Vec::new(),
        facts: Value::Null,
        captures: Vec::new(),
    }
}

fn finish(mut plan: Plan) -> Plan {
    plan.saved_first = plan
        .captures
        .iter()
        .map(|c| c.description.clone())
        .collect();
    plan.saved_first.dedup();
    plan
}

impl<T: IncidentTenant> Step<T> for Contain {
    fn info(&self) -> &'static StepInfo {
        info_of(self.0)
    }

    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>> {
        async move {
            let plan = match self.0 {
                Kind::Preserve => plan_preserve(cx).await?,
                Kind::Revoke | Kind::Disable | Kind::Reset => plan_account(self.0, cx).await?,
                Kind::Methods => plan_methods(cx).await?,
                Kind::Mailbox => plan_mailbox(cx).await?,
                Kind::Grants => plan_grants(cx).await?,
                Kind::ConfirmCompromised => plan_confirm(cx).await?,
            };
            Ok(finish(plan))
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
            match self.0 {
                Kind::Preserve => Ok(Verification::from_checks(vec![Check {
                    item: "evidence".into(),
                    ok: true,
                    detail: "The exports were saved and hashed in the case before this step ended."
                        .into(),
                }])),
                Kind::Revoke | Kind::Disable | Kind::Reset => {
                    let user = cx.tenant.user(cx.user).await?;
                    let mut checks: Vec<Check> = selected
                        .iter()
                        .filter(|id| id.starts_with("onprem:"))
                        .map(|id| {
                            let seen = user.as_ref().and_then(|u| match self.0 {
                                Kind::Disable => (u.account_enabled == Some(false))
                                    .then(|| "sign-in is blocked".to_owned()),
                                _ => u
                                    .last_password_change_date_time
                                    .filter(|t| *t >= after)
                                    .map(|t| format!("password changed {}", show_time(Some(t)))),
                            });
                            on_premises_check(id, seen)
                        })
                        .collect();
                    if !selected.iter().any(|id| id == "account") {
                        return Ok(Verification::from_checks(checks));
                    }
                    let (ok, detail) = match (self.0, &user) {
                        (_, None) => (false, "The account no longer exists.".to_owned()),
                        (Kind::Revoke, Some(u)) => (
                            u.sign_in_sessions_valid_from_date_time
                                .is_some_and(|t| t >= after),
                            format!(
                                "Sessions valid from: {}",
                                show_time(u.sign_in_sessions_valid_from_date_time)
                            ),
                        ),
                        (Kind::Disable, Some(u)) => (
                            u.account_enabled == Some(false),
                            format!(
                                "Sign-in enabled: {}",
                                u.account_enabled
                                    .map_or("unknown".into(), |e| e.to_string())
                            ),
                        ),
                        (_, Some(u)) => (
                            u.last_password_change_date_time.is_some_and(|t| t >= after),
                            format!(
                                "Password last changed: {}",
                                show_time(u.last_password_change_date_time)
                            ),
                        ),
                    };
                    checks.insert(
                        0,
                        Check {
                            item: "account".into(),
                            ok,
                            detail,
                        },
                    );
                    Ok(Verification::from_checks(checks))
                }
                Kind::ConfirmCompromised => {
                    if selected.is_empty() {
                        return Ok(Verification::from_checks(Vec::new()));
                    }
                    let id = cx
                        .tenant
                        .user(cx.user)
                        .await?
                        .map(|u| u.id)
                        .unwrap_or_default();
                    // Identity Protection processes the confirmation asynchronously.
                    let risky = cx.tenant.settled_risky_user(&id).await?;
                    Ok(Verification::from_checks(vec![confirm_check(risky.as_ref())]))
                }
                Kind::Methods | Kind::Mailbox | Kind::Grants => {
                    let fresh = <Self as Step<T>>::plan(self, cx).await?;
                    let mut checks = Vec::new();
                    for id in selected {
                        if id.starts_with("seen:") {
                            checks.push(Check {
                                item: id.clone(),
                                ok: true,
                                detail: "Recorded in the case.".into(),
                            });
                            continue;
                        }
                        if let Some(sp) = id.strip_prefix("sp:") {
                            let Some(found) = cx.tenant.service_principal(sp).await? else {
                                checks.push(Check::not_found(
                                    id.clone(),
                                    format!("the app (service principal {sp}) could not be found, so Firebreak could not confirm it is disabled."),
                                ));
                                continue;
                            };
                            checks.push(Check {
                                item: id.clone(),
                                ok: found.account_enabled == Some(false),
                                detail: format!(
                                    "App enabled: {}",
                                    found
                                        .account_enabled
                                        .map_or("unknown".into(), |e| e.to_string())
                                ),
                            });
                        } else if let Some(why) = unread_in(&fresh, id) {
                            checks.push(Check {
                                item: id.clone(),
                                ok: false,
                                detail: why,
                            });
                        } else {
                            let still = fresh.items.iter().any(|i| &i.id == id);
                            checks.push(Check {
                                item: id.clone(),
                                ok: !still,
                                detail: if still {
                                    "Still present in the tenant.".into()
                                } else {
                                    "Gone.".into()
                                },
                            });
                        }
                    }
                    Ok(Verification::from_checks(checks))
                }
            }
        }
        .boxed()
    }
}

/// The read-back of the confirmation: the risk state once Identity Protection has processed it.
fn confirm_check(risky: Option<&firebreak_graph::security::RiskyUser>) -> Check {
    let state = risky.and_then(|r| r.risk_state.as_deref());
    let processing = risky.and_then(|r| r.is_processing) == Some(true);
    Check {
        item: "confirm".into(),
        ok: state == Some("confirmedCompromised") && !processing,
        detail: if processing {
            format!(
                "Identity Protection is still processing the confirmation (risk state so far: {}). Re-check this step in a few minutes; do not send it again.",
                state.unwrap_or("none")
            )
        } else {
            format!("Risk state: {}", state.unwrap_or("none"))
        },
    }
}

fn show_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "unknown".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

async fn plan_preserve<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let mut plan = empty_plan(
        cx,
        "Save the sign-in logs and the current state before anything changes.".into(),
    );
    let user = cx
        .tenant
        .user(cx.user)
        .await?
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!("There is no account {} in this tenant.", cx.account),
        })?;
    let since = cx.now - Duration::days(EXPORT_DAYS);
    let base = SignInQuery {
        user_id: Some(user.id.clone()),
        since: Some(since),
        ..SignInQuery::default()
    };
    let non = SignInQuery {
        event_types: vec![SignInEventType::NonInteractiveUser],
        ..base.clone()
    };
    // The reads are independent: issue them together, then keep what came back in a fixed order
    // so the evidence list reads the same on every run.
    let (interactive, non_interactive, methods, mailbox, grants) = futures_util::future::join5(
        cx.tenant.sign_ins(&base),
        cx.tenant.sign_ins(&non),
        cx.tenant.methods(cx.user),
        cx.tenant.mailbox(cx.user),
        cx.tenant.user_grants(cx.user),
    )
    .await;
    let mut details = Vec::new();
    note(
        &mut details,
        &mut plan,
        "Interactive sign-ins",
        (
            "sign-ins-interactive",
            "Interactive sign-ins, 30 days, full detail",
            "GET /auditLogs/signIns",
        ),
        interactive.map(Fetched::erase),
    );
    note(
        &mut details,
        &mut plan,
        "Non-interactive sign-ins",
        (
            "sign-ins-non-interactive",
            "Non-interactive sign-ins, 30 days, full detail",
            "GET /beta/auditLogs/signIns",
        ),
        non_interactive.map(Fetched::erase),
    );
    note(
        &mut details,
        &mut plan,
        "Authentication methods",
        (
            "methods",
            "Authentication methods",
            "GET /users/{id}/authentication/methods",
        ),
        methods.map(Fetched::erase),
    );
    match mailbox {
        Ok(Some(mailbox)) => {
            let (rules, permissions, send_as) = futures_util::future::join3(
                cx.tenant.inbox_rules(cx.user),
                cx.tenant.mailbox_permissions(cx.user),
                cx.tenant.recipient_permissions(cx.user),
            )
            .await;
            note(
                &mut details,
                &mut plan,
                "Mailbox settings (forwarding, send on behalf)",
                ("mailbox", "Mailbox (Get-Mailbox)", "Exchange Get-Mailbox"),
                Ok(mailbox.erase()),
            );
            note(
                &mut details,
                &mut plan,
                "Inbox rules",
                (
                    "inbox-rules",
                    "Inbox rules including hidden ones, full definition",
                    "Exchange Get-InboxRule -IncludeHidden",
                ),
                rules.map(Fetched::erase),
            );
            note(
                &mut details,
                &mut plan,
                "Mailbox permissions",
                (
                    "mailbox-permissions",
                    "Mailbox permissions",
                    "Exchange Get-MailboxPermission",
                ),
                permissions.map(Fetched::erase),
            );
            note(
                &mut details,
                &mut plan,
                "SendAs permissions",
                (
                    "send-as",
                    "SendAs permissions",
                    "Exchange Get-RecipientPermission",
                ),
                send_as.map(Fetched::erase),
            );
        }
        Ok(None) => plan
            .warnings
            .push("The account has no mailbox; nothing to save there.".into()),
        Err(e) => plan.warnings.push(format!(
            "The mailbox could not be read and will be missing from the evidence: {e}"
        )),
    }
    note(
        &mut details,
        &mut plan,
        "Consent grants",
        (
            "grants",
            "Delegated consent grants of the account",
            "GET /users/{id}/oauth2PermissionGrants",
        ),
        grants.map(Fetched::erase),
    );
    plan.items.push(PlanItem {
        id: "export".into(),
        kind: "Export".into(),
        label: "Evidence export".into(),
        details,
        created: None,
        recommended: true,
        reasons: Vec::new(),
        fixed: true,
        group: None,
        action: Action::Record,
    });
    Ok(plan)
}

/// Records one read of the preserve step: its count in the plan and its pages as captures, or a
/// warning that it will be missing from the evidence.
fn note(
    details: &mut Vec<String>,
    plan: &mut Plan,
    what: &str,
    (name, description, operation): (&str, &str, &str),
    result: Result<Fetched<()>, firebreak_graph::Error>,
) {
    match result {
        Ok(fetched) => {
            details.push(format!("{what}: {}", fetched.items.len()));
            plan.captures.extend(capture(
                "preserve",
                name,
                description,
                operation,
                &fetched.pages,
            ));
        }
        Err(e) => plan.warnings.push(format!(
            "{what} could not be read and will be missing from the evidence: {e}"
        )),
    }
}

/// The account read fresh, with the facts a change to it is judged by (journaled as its state
/// before the change).
pub(super) async fn user_snapshot<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
) -> Result<(firebreak_graph::directory::User, Value), Error> {
    let user = cx
        .tenant
        .user(cx.user)
        .await?
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!("There is no account {} in this tenant.", cx.account),
        })?;
    let snapshot = json!({
        "id": user.id,
        "userPrincipalName": user.user_principal_name,
        "accountEnabled": user.account_enabled,
        "signInSessionsValidFromDateTime": user.sign_in_sessions_valid_from_date_time,
        "lastPasswordChangeDateTime": user.last_password_change_date_time,
        "onPremisesSyncEnabled": user.on_premises_sync_enabled,
    });
    Ok((user, snapshot))
}

/// For an account mastered in on-premises Active Directory, the half of the step only the admin can
/// do there (spec/graph-behaviour.md, "Synchronised accounts"): the block is set back at the next
/// synchronisation unless the account is disabled there too, and a cloud password reset is refused
/// (or, accepted, never checked by pass-through or federated sign-in).
fn plan_synchronised(kind: Kind, cx: &StepContext<'_, impl IncidentTenant>, plan: &mut Plan) {
    let (task, why) = match kind {
        Kind::Disable => (
            OnPremisesTask::DisableAccount,
            "Active Directory is the source of this account: the next synchronisation (every 30 minutes by default) enables it again in Entra unless it is disabled there too.",
        ),
        Kind::Reset => (
            OnPremisesTask::ResetPassword,
            "Active Directory holds this account's password: Entra refuses a cloud reset unless passwords are written back, and with pass-through authentication or federation a cloud reset is never checked at sign-in, so the password the attacker knows keeps working.",
        ),
        _ => return,
    };
    plan.warnings.push(format!(
        "{} is synchronised from on-premises Active Directory. {why} Do it in Active Directory, then confirm here with a note saying who did it and when.",
        cx.account
    ));
    if kind == Kind::Reset {
        // The cloud reset stays on offer (a tenant that writes passwords back accepts it) but is
        // not what stops the attacker.
        if let Some(cloud) = plan.items.iter_mut().find(|i| i.id == "account") {
            cloud.fixed = false;
            cloud.recommended = false;
            cloud.reasons = vec!["Not recommended for a synchronised account: refused unless passwords are written back, and it changes only the cloud password.".into()];
        }
    }
    plan.items.push(PlanItem {
        id: format!("onprem:{}", task.name()),
        kind: "Active Directory (on-premises)".into(),
        label: cx.account.to_owned(),
        details: vec![task.instruction().to_owned()],
        created: None,
        recommended: true,
        reasons: vec![why.to_owned()],
        fixed: false,
        group: None,
        action: Action::OnPremises { task },
    });
}

/// The read-back of a step done in Active Directory: recorded on the admin's word until the next
/// synchronisation shows it, which the watch checks.
pub(super) fn on_premises_check(item: &str, seen: Option<String>) -> Check {
    Check {
        item: item.to_owned(),
        ok: true,
        detail: match seen {
            Some(seen) => format!("Done on-premises by the admin (see the note). Entra already shows it: {seen}."),
            None => "Done on-premises by the admin (see the note). Entra shows it after the next synchronisation (every 30 minutes by default); the watch checks the account again.".to_owned(),
        },
    }
}

/// What revoking sessions leaves alive (spec/graph-behaviour.md, "Guests and token lifetime").
const TOKEN_TAIL: &str = "Revoking ends refresh tokens and browser sessions, not the access tokens already issued: each keeps working until it expires, 60 to 90 minutes after it was issued, except in services that apply Continuous Access Evaluation (Exchange Online, SharePoint Online, Teams) to a client that supports it. Refused token refreshes from the attacker in that time are expected; block sign-in next.";

/// Whether the account is a guest (B2B), whose sign-in belongs to its home organisation.
fn is_guest(user: &firebreak_graph::directory::User) -> bool {
    user.user_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("Guest"))
}

/// What a step on a guest account cannot reach, and what to do instead (spec/graph-behaviour.md,
/// "Guests and token lifetime").
fn guest_warning(kind: Kind, account: &str) -> String {
    let what = match kind {
        Kind::Revoke => "revoking its sessions here does not end the sessions and tokens its home organisation issued",
        Kind::Reset => "its password (and MFA) belong to its home organisation, so a reset here does not change what the attacker signs in with",
        _ => "blocking sign-in here keeps it out of this tenant only; it stays signed in at its home organisation",
    };
    format!(
        "{account} is a guest (B2B) account that signs in through its home organisation: {what}. Remove the guest from this tenant (Entra admin center › Users › the guest › Delete), or keep its sign-in blocked here, and ask its home organisation's administrator to revoke its sessions and reset its password there."
    )
}

async fn plan_account<T: IncidentTenant>(
    kind: Kind,
    cx: &StepContext<'_, T>,
) -> Result<Plan, Error> {
    let (action, summary, label, operation) = match kind {
        Kind::Revoke => (
            Action::RevokeSessions,
            "Revoke every session and refresh token of the account.",
            "Sign out everywhere",
            Operation::RevokeSignInSessions,
        ),
        Kind::Disable => (
            Action::DisableAccount,
            "Block sign-in for the account.",
            "Block sign-in",
            Operation::SetAccountEnabled,
        ),
        _ => (
            Action::ResetPassword,
            "Set a long random password (never shown) with change required at next sign-in.",
            "New random password",
            Operation::ResetPassword,
        ),
    };
    let (snapshot, role) =
        futures_util::future::join(user_snapshot(cx), note_role(cx, operation)).await;
    let (user, snapshot) = snapshot?;
    let mut plan = empty_plan(cx, summary.into());
    plan.items.push(account_item(cx, action, label));
    if user.on_premises_sync_enabled == Some(true) {
        plan_synchronised(kind, cx, &mut plan);
    }
    plan.captures.push(Capture {
        name_hint: format!(
            "{}-account",
            match kind {
                Kind::Revoke => "revoke",
                Kind::Disable => "disable",
                _ => "reset",
            }
        ),
        description: "The account's state before the change".into(),
        source_operation: "GET /users/{id}".into(),
        body: snapshot.to_string(),
    });
    if kind == Kind::Revoke {
        plan.warnings.push(TOKEN_TAIL.into());
    }
    if is_guest(&user) {
        plan.warnings.push(guest_warning(kind, cx.account));
    }
    if kind == Kind::Disable && user.account_enabled == Some(false) {
        plan.warnings
            .push("Sign-in is already blocked; this records it and checks again.".into());
    }
    plan.facts = snapshot;
    role.apply(&mut plan);
    Ok(plan)
}

/// What the confirm step says in a tenant without Entra ID P2.
const NO_P2: &str = "This tenant has no Microsoft Entra ID P2: Identity Protection refuses to mark a user confirmed compromised. Skip this step with that reason; the rest of containment does not depend on it.";

async fn plan_confirm<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let user = cx
        .tenant
        .user(cx.user)
        .await?
        .ok_or_else(|| Error::InvalidInput {
            field: "account",
            problem: format!("There is no account {} in this tenant.", cx.account),
        })?;
    let mut plan = empty_plan(
        cx,
        "Mark the user confirmed compromised in Identity Protection.".into(),
    );
    let risky = cx.tenant.risky_user(&user.id).await;
    let state = match &risky {
        Ok(r) => r.as_ref().and_then(|r| r.risk_state.clone()),
        Err(e) => {
            plan.warnings
                .push(format!("The risk state could not be read: {e}"));
            None
        }
    };
    // Without Entra ID P2 Identity Protection hides risk levels and refuses the confirmation
    // (spec/graph-behaviour.md, "confirmCompromised").
    let no_p2 = super::triage::recorded_identity_protection(cx.case, cx.scope)
        == super::triage::IdentityProtection::Hidden
        || matches!(&risky, Ok(Some(r)) if r.risk_level.as_deref() == Some("hidden"))
        || matches!(&risky, Err(e) if e.is_premium_required());
    if no_p2 {
        plan.warnings.push(NO_P2.into());
    }
    plan.captures.push(Capture {
        name_hint: "confirm-risk-state".into(),
        description: "The user's risk state before the change".into(),
        source_operation: "GET /identityProtection/riskyUsers/{id}".into(),
        body: json!({ "userId": user.id, "riskState": state }).to_string(),
    });
    plan.items.push(PlanItem {
        id: "confirm".into(),
        kind: "Identity Protection".into(),
        label: cx.account.to_owned(),
        details: vec![format!(
            "Current risk state: {}",
            state.as_deref().unwrap_or("none")
        )],
        created: None,
        recommended: !no_p2 && state.as_deref() != Some("confirmedCompromised"),
        reasons: vec![if no_p2 {
            NO_P2.into()
        } else {
            "Triage found a compromise; confirming it feeds Identity Protection.".into()
        }],
        fixed: false,
        group: None,
        action: Action::ConfirmCompromised,
    });
    Ok(plan)
}

fn describe_method(m: &AuthenticationMethod) -> Vec<String> {
    let mut lines = Vec::new();
    for key in [
        "phoneNumber",
        "phoneType",
        "emailAddress",
        "deviceTag",
        "platform",
        "model",
        "keyStrength",
    ] {
        if let Some(v) = m.other.get(key).and_then(Value::as_str) {
            lines.push(format!("{key}: {v}"));
        }
    }
    lines
}

/// The addresses triage attributed to the attacker, as a predicate: an address triage named, or
/// one of the attacker's infrastructure as [`crate::attribution`] decided it (the same /24 or /48,
/// a hosting network of theirs), never a look-alike attribution kept out.
pub(super) fn attacker_predicate(
    addresses: Vec<String>,
    infrastructure: crate::attribution::Infrastructure,
) -> impl Fn(&str) -> bool + Send + Sync {
    move |ip: &str| {
        addresses.iter().any(|a| a.eq_ignore_ascii_case(ip.trim()))
            || infrastructure.match_address(ip.trim()).is_some()
    }
}

async fn plan_methods<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let (methods, role) = futures_util::future::join(
        cx.tenant.methods(cx.user),
        note_role(cx, Operation::DeleteAuthenticationMethod),
    )
    .await;
    let methods = methods?;
    let mut plan = empty_plan(cx, "Delete the selected sign-in methods.".into());
    plan.captures = capture(
        "methods",
        "list",
        "Authentication methods before removal",
        "GET /users/{id}/authentication/methods",
        &methods.pages,
    );
    let user_id = cx.tenant.user(cx.user).await?.map(|u| u.id);
    let reach = cx.now - Duration::days(methods::LOG_REACH_DAYS);
    let attacker = attacker_predicate(
        super::recover::attacker_addresses(cx.case, cx.scope),
        super::triage::recorded_infrastructure(cx.case, cx.scope),
    );
    // The account's security-info entries and sign-ins over the log's whole reach: the methods
    // registered before the incident are dated by them as much as the attacker's.
    let audit_query = DirectoryAuditQuery {
        since: Some(reach),
        target_id: user_id.clone(),
        ..DirectoryAuditQuery::default()
    };
    let sign_in_query = SignInQuery {
        user_id: user_id.clone(),
        since: Some(reach),
        ..SignInQuery::default()
    };
    let (audits, sign_ins) = futures_util::future::join(
        cx.tenant.directory_audits(&audit_query),
        cx.tenant.sign_ins(&sign_in_query),
    )
    .await;
    let (records, audit_read) = match audits {
        Ok(audits) => {
            plan.captures.extend(capture(
                "methods",
                "registrations",
                "Security-info registrations of the account over the audit log's reach",
                "GET /auditLogs/directoryAudits",
                &audits.pages,
            ));
            let records: Vec<Registration> = audits
                .items
                .iter()
                .filter_map(Registration::from_audit)
                .collect();
            (records, true)
        }
        Err(e) => {
            plan.warnings.push(format!(
                "The directory audit could not be read, so no method can be dated by its registration: {e}"
            ));
            (Vec::new(), false)
        }
    };
    // Without Entra ID P1 the directory audit keeps seven days, not thirty: a method the audit
    // has no entry for is dated "before the log's reach" from there.
    let reach = if matches!(&sign_ins, Err(e) if e.is_premium_required()) {
        cx.now - Duration::days(methods::FREE_LOG_REACH_DAYS)
    } else {
        reach
    };
    let sign_ins = match sign_ins {
        Ok(s) => Some(s.items),
        // No sign-in log in this tenant: the unified audit log keeps the interactive ones.
        Err(e) if e.is_premium_required() => {
            let upn = cx
                .tenant
                .user(cx.user)
                .await?
                .and_then(|u| u.user_principal_name);
            let upn = upn.unwrap_or_else(|| cx.account.to_owned());
            match super::triage::audit_log_sign_ins(
                cx,
                user_id.as_deref().unwrap_or(cx.account),
                &upn,
                cx.now - Duration::days(crate::attribution::RETENTION_DAYS),
            )
            .await
            {
                Ok(found) => {
                    plan.warnings.push(format!(
                        "The sign-in log cannot be read in this tenant: the user's usual addresses come from the {} sign-in(s) the unified audit log recorded.",
                        found.sign_ins.len()
                    ));
                    plan.captures.extend(found.captures);
                    Some(found.sign_ins)
                }
                Err(audit) => {
                    plan.warnings.push(format!(
                        "The account's sign-ins could not be read, so the addresses the user normally uses are unknown: {e}; the unified audit log could not stand in either: {audit}"
                    ));
                    None
                }
            }
        }
        Err(e) => {
            plan.warnings.push(format!(
                "The account's sign-ins could not be read, so the addresses the user normally uses are unknown: {e}"
            ));
            None
        }
    };
    let attacker_sign_ins: Vec<(DateTime<Utc>, String)> = sign_ins
        .iter()
        .flatten()
        .filter(|s| s.status.as_ref().and_then(|st| st.error_code).unwrap_or(0) == 0)
        .filter_map(|s| Some((s.created_date_time?, s.ip_address.clone()?)))
        .filter(|(_, ip)| attacker(ip))
        .collect();
    let judgement = MethodJudgement {
        window_start: cx.window_start,
        log_reach: reach,
        audit_read,
        attacker: &attacker,
        attacker_sign_ins,
        history: sign_ins
            .as_deref()
            .map(|s| UserHistory::build(s, &records, cx.window_start, &attacker)),
    };
    if cx.window_start.is_none() {
        plan.warnings.push(
            "No incident window was recorded at triage: only methods registered from the attacker's addresses are pre-selected; review the others yourself.".into(),
        );
    }
    // Listed (and so deleted) in an order the tenant accepts: spec/graph-behaviour.md, "Method
    // deletion order".
    let mut removable: Vec<&AuthenticationMethod> = methods
        .items
        .iter()
        .filter(|m| m.kind().is_some_and(MethodKind::deletable))
        .collect();
    removable.sort_by_key(|m| deletion_rank(m));
    let found = match_registrations(&removable, &records);
    let shared = shared_registrations(&removable, &records, &found);
    let mut evidence = Vec::new();
    for m in &methods.items {
        if m.kind().is_none() {
            plan.warnings.push(format!(
                "A method of an unknown type ({}) is listed but cannot be removed here.",
                m.odata_type.as_deref().unwrap_or("?")
            ));
        }
    }
    for ((m, registration), candidates) in removable.iter().zip(&found).zip(&shared) {
        let Some(kind) = m.kind() else { continue };
        let registration = registration.map(|i| &records[i]);
        let verdict = if candidates.is_empty() {
            judge_method(m, registration, &judgement)
        } else {
            let candidates: Vec<&Registration> = candidates.iter().map(|i| &records[*i]).collect();
            judge_shared(m, &candidates, &judgement)
        };
        let mut details = describe_method(m);
        details.push(match registration {
            Some(r) => r.describe(),
            None if !candidates.is_empty() => candidates
                .iter()
                .map(|i| records[*i].describe())
                .collect::<Vec<_>>()
                .join(" "),
            None => "Directory audit: no registration entry for this method.".into(),
        });
        evidence.push(json!({
            "methodId": m.id,
            "kind": kind_label(kind),
            "recommended": verdict.recommended,
            "decidedBy": verdict.evidence,
            "cannotTell": verdict.evidence.undecided(),
            "registration": registration,
        }));
        plan.items.push(PlanItem {
            id: format!("method:{}", m.id),
            kind: kind_label(kind).into(),
            label: m
                .display_name
                .clone()
                .unwrap_or_else(|| kind_label(kind).into()),
            details,
            created: m.created_date_time.or(registration.map(|r| r.at)),
            recommended: verdict.recommended,
            reasons: verdict.reasons,
            fixed: false,
            group: None,
            action: Action::DeleteMethod {
                kind,
                id: m.id.clone(),
            },
        });
    }
    plan.facts = json!({ "methods": evidence, "logReach": reach, "windowStart": cx.window_start });
    let removable = plan.items.len();
    if removable > 0 && plan.items.iter().all(|i| i.recommended) {
        plan.warnings.push("Every method is pre-selected: the user will need a Temporary Access Pass to register again at recovery.".into());
    }
    plan.warnings
        .push("The password is not listed: it was reset in the previous step.".into());
    role.apply(&mut plan);
    Ok(plan)
}

fn kind_label(kind: MethodKind) -> &'static str {
    match kind {
        MethodKind::Password => "Password",
        MethodKind::Phone => "Phone",
        MethodKind::Email => "E-mail",
        MethodKind::Fido2 => "FIDO2 security key",
        MethodKind::MicrosoftAuthenticator => "Microsoft Authenticator",
        MethodKind::SoftwareOath => "Software OATH token",
        MethodKind::TemporaryAccessPass => "Temporary Access Pass",
        MethodKind::WindowsHelloForBusiness => "Windows Hello for Business",
        _ => "Sign-in method",
    }
}

pub(super) fn describe_rule(rule: &InboxRule) -> Vec<String> {
    let mut lines = Vec::new();
    let mut list = |label: &str, v: &[String]| {
        if !v.is_empty() {
            lines.push(format!("{label}: {}", v.join(", ")));
        }
    };
    list("Subject contains", &rule.subject_contains_words);
    list("Body contains", &rule.body_contains_words);
    list(
        "Subject or body contains",
        &rule.subject_or_body_contains_words,
    );
    list("From contains", &rule.from_address_contains_words);
    list("From", &rule.from);
    list("Forward to", &rule.forward_to);
    list("Forward as attachment to", &rule.forward_as_attachment_to);
    list("Redirect to", &rule.redirect_to);
    if let Some(f) = &rule.move_to_folder {
        lines.push(format!("Move to: {f}"));
    }
    if let Some(f) = &rule.copy_to_folder {
        lines.push(format!("Copy to: {f}"));
    }
    if let Some(d) = &rule.description {
        lines.push(format!("Exchange's description: {d}"));
    }
    lines
}

/// The id prefixes of the mailbox plan's rows, by the read that lists them: a read that failed
/// is recorded in the plan's facts (`unreadable`) so the read-back never takes a row missing
/// because its read failed for a row removed.
const RULE_ROWS: &str = "rule:";
const FORWARDING_ROWS: &str = "forwarding";
const SEND_ON_BEHALF_ROWS: &str = "send-on-behalf:";
const FULL_ACCESS_ROWS: &str = "full-access:";
const SEND_AS_ROWS: &str = "send-as:";

/// Why `id` cannot be confirmed gone, when the read that lists rows like it failed in the
/// fresh plan (its facts' `unreadable`).
fn unread_in(fresh: &Plan, id: &str) -> Option<String> {
    fresh.facts["unreadable"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .any(|prefix| id.starts_with(prefix))
        .then(|| "Could not be read back: the read that lists it failed, so Firebreak cannot confirm it is gone. Plan this step again to check.".to_owned())
}

/// The warning for one read of the mailbox step that failed: what could not be read, what that
/// leaves out, and where the admin can look instead. The rest of the plan stands.
fn unreadable(what: &str, cmdlet: &str, where_else: &str, e: &firebreak_graph::Error) -> String {
    format!(
        "{what} could not be read ({cmdlet} failed: {e}), so none is listed here. The rest of this plan is complete: run it, then plan this step again once the cause is fixed, or check them in {where_else}."
    )
}

async fn plan_mailbox<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let mut plan = empty_plan(
        cx,
        "Remove the selected inbox rules, the forwarding and the selected delegates.".into(),
    );
    // Four independent reads, within Outlook's four per mailbox: issue them together (the rules
    // are read twice, one after the other, to tell the hidden ones). Each that fails becomes a
    // warning; the others still make the plan.
    let mut rule_warnings = Vec::new();
    let (mailbox, rules, permissions, send_as) = futures_util::future::join4(
        cx.tenant.mailbox(cx.user),
        rules::read_rules(cx.tenant, cx.user, &mut rule_warnings),
        cx.tenant.mailbox_permissions(cx.user),
        cx.tenant.recipient_permissions(cx.user),
    )
    .await;
    let mailbox = match mailbox {
        Ok(Some(m)) => Some(m),
        Ok(None) => {
            plan.warnings
                .push("The account has no Exchange Online mailbox: nothing to do here.".into());
            return Ok(plan);
        }
        // Nothing at all could be read: the step cannot plan.
        Err(e) if rules.is_err() && permissions.is_err() && send_as.is_err() => {
            return Err(e.into())
        }
        Err(e) => {
            plan.warnings.push(unreadable(
                "The mailbox's forwarding and send-on-behalf delegates",
                "Get-Mailbox",
                "the Exchange admin center (Recipients > Mailboxes > the mailbox > Mail flow settings and Delegation)",
                &e,
            ));
            None
        }
    };
    plan.warnings.extend(rule_warnings);
    let organisation = rules::organisation(cx.tenant, cx.account, &mut plan.warnings).await;
    let mut unread: Vec<&str> = Vec::new();
    let references: Vec<String> = mailbox
        .iter()
        .flat_map(|m| m.items.iter())
        .flat_map(|m| recipients::mailbox_references(m).into_iter())
        .map(Some)
        .chain(
            permissions
                .iter()
                .flat_map(|p| p.items.iter().map(|r| r.user.clone())),
        )
        .chain(
            send_as
                .iter()
                .flat_map(|p| p.items.iter().map(|r| r.trustee.clone())),
        )
        .flatten()
        .collect();
    let directory = recipients::resolve(cx.tenant, &references).await;
    match &mailbox {
        Some(mailbox) => {
            plan.captures.extend(capture(
                "mailbox",
                "settings",
                "Mailbox forwarding and send-on-behalf before removal",
                "Exchange Get-Mailbox",
                &mailbox.pages,
            ));
            if let Some(m) = mailbox.items.first() {
                plan.items
                    .extend(mailbox_setting_items(m, &directory, &organisation));
            }
        }
        None => unread.extend([FORWARDING_ROWS, SEND_ON_BEHALF_ROWS]),
    }
    let mut builtin = Vec::new();
    match rules {
        Ok(rules) => {
            plan.captures.extend(capture(
                "mailbox",
                "inbox-rules",
                "Inbox rules including hidden ones, full definition, before removal",
                "Exchange Get-InboxRule -IncludeHidden",
                &rules.rules.pages,
            ));
            plan.items
                .extend(rule_items(&rules, &organisation, &mut builtin));
        }
        Err(e) => {
            unread.push(RULE_ROWS);
            plan.warnings.push(unreadable(
                "The mailbox's inbox rules",
                "Get-InboxRule",
                "Outlook on the web (Settings > Mail > Rules; hidden rules only through Get-InboxRule -IncludeHidden)",
                &e,
            ));
        }
    }
    match permissions {
        Ok(permissions) => {
            plan.captures.extend(capture(
                "mailbox",
                "permissions",
                "Mailbox permissions before removal",
                "Exchange Get-MailboxPermission",
                &permissions.pages,
            ));
            plan.items.extend(
                permissions
                    .items
                    .iter()
                    .filter(|p| p.is_inherited != Some(true) && p.deny != Some(true))
                    .filter_map(|p| {
                        let holder = directory.get(p.user.as_deref()?);
                        delegate_item(
                            FULL_ACCESS_ROWS,
                            "Mailbox permission",
                            holder,
                            (&p.access_rights, p.inheritance_type.clone()),
                            &organisation,
                        )
                    }),
            );
        }
        Err(e) => {
            unread.push(FULL_ACCESS_ROWS);
            plan.warnings.push(unreadable(
                "The mailbox's FullAccess delegates",
                "Get-MailboxPermission",
                "the Exchange admin center (Recipients > Mailboxes > the mailbox > Delegation)",
                &e,
            ));
        }
    }
    match send_as {
        Ok(send_as) => {
            plan.captures.extend(capture(
                "mailbox",
                "send-as",
                "SendAs permissions before removal",
                "Exchange Get-RecipientPermission",
                &send_as.pages,
            ));
            plan.items.extend(
                send_as
                    .items
                    .iter()
                    .filter(|p| p.is_inherited != Some(true))
                    .filter_map(|p| {
                        let holder = directory.get(p.trustee.as_deref()?);
                        delegate_item(
                            SEND_AS_ROWS,
                            "Send as",
                            holder,
                            (&p.access_rights, None),
                            &organisation,
                        )
                    }),
            );
        }
        Err(e) => {
            unread.push(SEND_AS_ROWS);
            plan.warnings.push(unreadable(
                "The mailbox's SendAs delegates",
                "Get-RecipientPermission",
                "the Exchange admin center (Recipients > Mailboxes > the mailbox > Delegation)",
                &e,
            ));
        }
    }
    if !builtin.is_empty() {
        plan.warnings.push(format!(
            "Not listed: {} hidden rule(s) Exchange keeps in every mailbox ({}). They do nothing Firebreak can read beyond their built-in job and are not removed.",
            builtin.len(),
            builtin.join(", ")
        ));
    }
    if plan.items.is_empty() && unread.is_empty() {
        plan.warnings
            .push("No inbox rules, forwarding or delegates: nothing to remove.".into());
    }
    plan.facts = json!({ "unreadable": unread, "builtInRules": builtin });
    Ok(plan)
}

/// The mailbox's inbox rules as rows, judged by what they do; the rules Exchange itself keeps
/// are left out and their names added to `builtin`.
fn rule_items(
    rules: &MailboxRules,
    organisation: &Organisation,
    builtin: &mut Vec<String>,
) -> Vec<PlanItem> {
    let mut items = Vec::new();
    for rule in &rules.rules.items {
        let Some(identity) = rule.identity.clone() else {
            continue;
        };
        if rules.is_builtin(rule) {
            builtin.push(rule.name.clone().unwrap_or_default());
            continue;
        }
        let hidden = rules.is_hidden(rule);
        let (recommended, reasons) = judge_rule(
            rule,
            &RuleContext {
                organisation,
                hidden,
            },
        );
        items.push(PlanItem {
            id: format!("{RULE_ROWS}{identity}"),
            kind: if hidden {
                "Inbox rule (hidden)".into()
            } else {
                "Inbox rule".into()
            },
            label: rule.name.clone().unwrap_or_default(),
            details: describe_rule(rule),
            created: None,
            recommended,
            reasons,
            fixed: false,
            group: None,
            action: Action::RemoveInboxRule { identity },
        });
    }
    items
}

/// The forwarding and send-on-behalf rows of a Get-Mailbox answer, each target resolved.
fn mailbox_setting_items(
    m: &firebreak_graph::exchange::Mailbox,
    directory: &recipients::Directory,
    organisation: &Organisation,
) -> Vec<PlanItem> {
    let mut items = Vec::new();
    if let Some(forwarding) = recipients::judge_forwarding(m, directory, organisation, "the user") {
        items.push(PlanItem {
            id: FORWARDING_ROWS.into(),
            kind: "Mailbox forwarding".into(),
            label: forwarding.label,
            details: vec![format!(
                "Keep a copy in the mailbox: {}",
                m.deliver_to_mailbox_and_forward.unwrap_or(false)
            )],
            created: None,
            recommended: forwarding.external,
            reasons: forwarding.reasons,
            fixed: false,
            group: None,
            action: Action::ClearForwarding,
        });
    }
    for trustee in &m.grant_send_on_behalf_to {
        let delegate = directory.get(trustee);
        let mut reasons =
            vec!["Exchange keeps no date for delegates: check with the user.".to_owned()];
        reasons.extend(delegate.explanation());
        items.push(PlanItem {
            id: format!("{SEND_ON_BEHALF_ROWS}{trustee}"),
            kind: "Send on behalf".into(),
            label: delegate.label(),
            details: Vec::new(),
            created: None,
            recommended: false,
            reasons,
            fixed: false,
            group: None,
            action: Action::RemoveSendOnBehalf {
                trustee: trustee.clone(),
            },
        });
    }
    items
}

/// A FullAccess (`full-access:`) or SendAs (`send-as:`) row for one holder, or `None` for
/// Exchange's own `NT AUTHORITY\SELF`. A holder outside the organisation is recommended; a
/// group or an unresolvable holder says so, and the latter is never recommended.
fn delegate_item(
    prefix: &str,
    kind: &str,
    holder: recipients::Resolved,
    (rights, inheritance_type): (&[String], Option<String>),
    organisation: &Organisation,
) -> Option<PlanItem> {
    if holder.who == recipients::Who::System {
        return None;
    }
    let external = holder.external(organisation);
    let mut reasons = vec![if external {
        "A delegate outside the organisation.".to_owned()
    } else if matches!(holder.who, recipients::Who::Unresolved(_)) {
        "Firebreak could not tell who holds this, so it does not propose removing it: removing it is tidying up, and does not take access from anyone Firebreak can name.".to_owned()
    } else {
        "Exchange keeps no date for delegates: check with the user.".to_owned()
    }];
    reasons.extend(holder.explanation());
    let action = if prefix == FULL_ACCESS_ROWS {
        Action::RemoveMailboxPermission {
            user: holder.raw.clone(),
            rights: rights.to_vec(),
            inheritance_type,
        }
    } else {
        Action::RemoveRecipientPermission {
            trustee: holder.raw.clone(),
            rights: rights.to_vec(),
        }
    };
    Some(PlanItem {
        id: format!("{prefix}{}", holder.raw),
        kind: kind.into(),
        label: holder.label(),
        details: vec![format!("Rights: {}", rights.join(", "))],
        created: None,
        recommended: external,
        reasons,
        fixed: false,
        group: None,
        action,
    })
}

fn publisher_verified(sp: &firebreak_graph::directory::ServicePrincipal) -> bool {
    super::consents::verified_publisher(sp).is_some()
}

/// How far back the consent step reads what the account granted to apps (Entra keeps directory
/// audit entries 30 days with P1).
const GRANT_LOOKBACK_DAYS: i64 = 30;

pub(super) async fn plan_grants<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let mut plan = empty_plan(
        cx,
        "Revoke the selected consents and disable the selected apps.".into(),
    );
    let consent_query = cx.window_start.map(|start| DirectoryAuditQuery {
        since: Some(start),
        activity_display_name: Some("Consent to application".into()),
        ..DirectoryAuditQuery::default()
    });
    let account = cx.tenant.user(cx.user).await?;
    let by_account_query = account.as_ref().map(|u| DirectoryAuditQuery {
        since: Some(cx.now - Duration::days(GRANT_LOOKBACK_DAYS)),
        initiated_by_user_id: Some(u.id.clone()),
        ..DirectoryAuditQuery::default()
    });
    // The four listings do not depend on each other: read them together.
    let (grants, tenant_wide, consent_audits, by_account) = futures_util::future::join4(
        cx.tenant.user_grants(cx.user),
        cx.tenant.tenant_wide_grants(),
        async {
            match &consent_query {
                Some(query) => Some(cx.tenant.directory_audits(query).await),
                None => None,
            }
        },
        async {
            match &by_account_query {
                Some(query) => Some(cx.tenant.directory_audits(query).await),
                None => None,
            }
        },
    )
    .await;
    let grants = grants?;
    plan.captures.extend(capture(
        "grants",
        "user",
        "The account's consent grants before removal",
        "GET /users/{id}/oauth2PermissionGrants",
        &grants.pages,
    ));
    let tenant_wide = tenant_wide?;
    plan.captures.extend(capture(
        "grants",
        "tenant-wide",
        "Tenant-wide consent grants",
        "GET /oauth2PermissionGrants",
        &tenant_wide.pages,
    ));
    let consents: Vec<DirectoryAudit> = match consent_audits {
        Some(audits) => match audits {
            Ok(a) => {
                plan.captures.extend(capture(
                    "grants",
                    "consents",
                    "Consents given during the incident window",
                    "GET /auditLogs/directoryAudits",
                    &a.pages,
                ));
                a.items
            }
            Err(e) => {
                plan.warnings.push(format!(
                    "The audit log could not be read, so consent times are unknown: {e}"
                ));
                Vec::new()
            }
        },
        None => {
            plan.warnings.push("No incident window was recorded at triage, so recent consents cannot be told apart.".into());
            Vec::new()
        }
    };
    let events = match by_account {
        Some(Ok(a)) => {
            plan.captures.extend(capture(
                "grants",
                "by-account",
                "Directory audit entries the account initiated (consents and permissions it gave apps)",
                "GET /auditLogs/directoryAudits",
                &a.pages,
            ));
            super::consents::grants_by_account(
                &a.items,
                account.as_ref().map_or("", |u| u.id.as_str()),
            )
        }
        Some(Err(e)) => {
            plan.warnings.push(format!(
                "The audit log could not be read, so the tenant-wide consents this account gave cannot be found: {e}"
            ));
            Vec::new()
        }
        None => Vec::new(),
    };
    // Without a triage window (a blast-radius check run first), the last 30 days count.
    let window = cx
        .window_start
        .unwrap_or(cx.now - Duration::days(GRANT_LOOKBACK_DAYS));
    let in_window = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t >= window);
    // The in-window consent entries to one app (its service principal id).
    let to_client = |client: &str| {
        let client = client.to_owned();
        consents.iter().filter(move |a| {
            a.target_resources
                .iter()
                .flatten()
                .any(|t| t.get("id").and_then(Value::as_str) == Some(client.as_str()))
        })
    };
    let consented_at = |client: &str| to_client(client).filter_map(|a| a.activity_date_time).min();
    let consented_by = |client: &str| {
        to_client(client).find_map(|a| {
            a.initiated_by
                .as_ref()
                .and_then(|i| i.pointer("/user/userPrincipalName"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    };
    // The address each in-window consent was given from, when the audit entry names it.
    let consented_from = |client: &str| {
        to_client(client)
            .filter_map(|a| {
                a.initiated_by
                    .as_ref()
                    .and_then(|i| i.pointer("/user/ipAddress"))
                    .and_then(Value::as_str)
                    .filter(|ip| !ip.trim().is_empty())
                    .map(str::to_owned)
            })
            .collect::<Vec<String>>()
    };
    let attacker = attacker_predicate(
        super::recover::attacker_addresses(cx.case, cx.scope),
        super::triage::recorded_infrastructure(cx.case, cx.scope),
    );
    let by_account_grants = super::consents::tenant_wide_by_account(&events, &tenant_wide.items);
    let given_by_account = |grant_id: &str| {
        by_account_grants
            .iter()
            .find(|(g, _)| g.id == grant_id)
            .map(|(_, e)| e.at)
    };
    // Every app the plan names, each read once and all together.
    let wanted: BTreeSet<String> = grants
        .items
        .iter()
        .map(|g| g.client_id.clone())
        .chain(
            tenant_wide
                .items
                .iter()
                .filter(|g| {
                    consented_at(&g.client_id).is_some() || given_by_account(&g.id).is_some()
                })
                .map(|g| g.client_id.clone()),
        )
        .chain(
            events
                .iter()
                .filter(|e| !e.app_roles.is_empty())
                .map(|e| e.client.clone()),
        )
        .collect();
    let fetched = join_all(wanted.iter().map(|id| cx.tenant.service_principal(id))).await;
    let mut apps: BTreeMap<String, Option<ServicePrincipal>> = BTreeMap::new();
    for (id, sp) in wanted.into_iter().zip(fetched) {
        apps.insert(id, sp?);
    }
    // (service principal id, recommended, why)
    let mut apps_to_offer: Vec<(String, bool, String)> = Vec::new();
    let mut offer = |sp: &ServicePrincipal, recommended: bool, why: String| {
        if sp.account_enabled == Some(false) || super::consents::first_party(sp) {
            return;
        }
        match apps_to_offer.iter_mut().find(|(id, _, _)| id == &sp.id) {
            Some(existing) if recommended && !existing.1 => {
                existing.1 = true;
                existing.2 = why;
            }
            Some(_) => {}
            None => apps_to_offer.push((sp.id.clone(), recommended, why)),
        }
    };
    let mut sp_snapshots = Vec::new();
    for (grant, tenant_wide) in grants
        .items
        .iter()
        .map(|g| (g, false))
        .chain(tenant_wide.items.iter().map(|g| (g, true)))
    {
        let when = consented_at(&grant.client_id);
        let by_account = if tenant_wide {
            given_by_account(&grant.id)
        } else {
            None
        };
        if tenant_wide && when.is_none() && by_account.is_none() {
            continue; // other tenant-wide consents are listed only when given in the window or by this account
        }
        let sp = apps.get(&grant.client_id).cloned().flatten();
        let name = sp
            .as_ref()
            .and_then(|s| s.display_name.clone())
            .unwrap_or_else(|| grant.client_id.clone());
        let verified = sp.as_ref().is_some_and(publisher_verified);
        let scopes: Vec<&str> = grant
            .scope
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let risky: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| RISKY_SCOPES.contains(s))
            .collect();
        let warnings = super::consents::app_warnings(&name, sp.as_ref(), &scopes);
        let first_party = sp.as_ref().is_some_and(super::consents::first_party);
        let suspicious_app = !first_party && (!verified || !warnings.is_empty());
        let mut reasons = Vec::new();
        if !risky.is_empty() {
            reasons.push(format!("Risky permissions: {}.", risky.join(", ")));
        }
        let recommended = if tenant_wide {
            reasons.push(
                "Tenant-wide: the app holds these permissions for every user of the organisation."
                    .into(),
            );
            match by_account {
                Some(at) if in_window(at) => reasons.push(format!(
                    "Given for everyone by this account at {}, during the incident window.",
                    show_time(at)
                )),
                Some(at) => reasons.push(format!(
                    "Given for everyone by this account at {}, before the incident window.",
                    show_time(at)
                )),
                None => reasons.push(format!(
                    "Given during the incident window by {}, not by this account.",
                    consented_by(&grant.client_id).unwrap_or_else(|| "another account".into())
                )),
            }
            !risky.is_empty() && by_account.is_some_and(in_window) && suspicious_app
        } else {
            if let Some(t) = when {
                reasons.push(format!(
                    "Consent given {}, during the incident window.",
                    show_time(Some(t))
                ));
            }
            // A verified publisher's app consented to in the window from an address that is
            // not the attacker's (the user at home or at the office) is what people do every
            // day: shown with the question, not preselected. From the attacker's address, or
            // from an address the log does not name, it is recommended.
            let from = consented_from(&grant.client_id);
            let own_address =
                when.is_some() && !from.is_empty() && !from.iter().any(|ip| attacker(ip));
            if own_address && !suspicious_app {
                reasons.push(format!(
                    "Given from {}, not an address triage attributed to the attacker, to an app whose publisher Microsoft verified: ask the user whether they gave it; revoke it if not.",
                    from.join(", ")
                ));
            }
            !risky.is_empty() && (suspicious_app || (when.is_some() && !own_address))
        };
        reasons.push(match sp.as_ref().and_then(super::consents::verified_publisher) {
            _ if first_party => "Microsoft's own app (published from Microsoft's tenant): kept unless you know the account had no reason to consent to it.".into(),
            Some(p) => format!("Publisher verified by Microsoft: {p}."),
            None => "Publisher not verified.".into(),
        });
        reasons.extend(warnings.iter().cloned());
        if let Some(sp) = &sp {
            sp_snapshots.push(json!({ "id": sp.id, "appId": sp.app_id, "displayName": sp.display_name, "accountEnabled": sp.account_enabled, "appOwnerOrganizationId": sp.app_owner_organization_id, "verifiedPublisher": sp.verified_publisher }));
            offer(
                sp,
                recommended && suspicious_app,
                if tenant_wide {
                    "The account gave it access to every user's data and it looks like an imitation or its publisher is not verified: disable it so no token it holds still works.".into()
                } else {
                    "Its consent is flagged and its publisher is not verified: disable it so it cannot use tokens it already holds.".into()
                },
            );
        }
        let mut details = vec![
            format!("Scopes: {}", scopes.join(" ")),
            format!(
                "Consent type: {}",
                grant.consent_type.as_deref().unwrap_or("unknown")
            ),
            format!(
                "App: {}",
                sp.as_ref()
                    .and_then(|s| s.app_id.clone())
                    .unwrap_or_else(|| grant.client_id.clone())
            ),
        ];
        details.extend(super::consents::flag_detail(&warnings));
        plan.items.push(PlanItem {
            id: format!("grant:{}", grant.id),
            kind: if tenant_wide {
                "Tenant-wide consent".into()
            } else {
                "Consent".into()
            },
            label: name,
            details,
            created: by_account.flatten().or(when),
            recommended,
            reasons,
            fixed: false,
            group: None,
            action: Action::DeleteGrant {
                id: grant.id.clone(),
            },
        });
    }
    // Application permissions (app roles) the account granted: no delegated grant to revoke, so
    // the app itself is what can be disabled; the permission is removed by hand.
    for event in events.iter().filter(|e| !e.app_roles.is_empty()) {
        let sp = apps.get(&event.client).cloned().flatten();
        let name = sp
            .as_ref()
            .and_then(|s| s.display_name.clone())
            .unwrap_or_else(|| event.name.clone());
        let warnings = super::consents::app_warnings(
            &name,
            sp.as_ref(),
            &event
                .app_roles
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        let verified = sp.as_ref().is_some_and(publisher_verified);
        let mut reasons = vec![
            format!(
                "The account granted it application permissions ({}) at {}: it reads as itself, for every user, without anyone signed in.",
                event.app_roles.join(", "),
                show_time(event.at)
            ),
            "Remove the permission by hand: Entra admin center > Enterprise applications > the app > Permissions.".into(),
        ];
        reasons.extend(warnings.iter().cloned());
        let mut details = vec![format!("App: {}", event.client)];
        details.extend(super::consents::flag_detail(&warnings));
        plan.items.push(PlanItem {
            id: format!("seen:approle:{}", event.audit_id),
            kind: "Application permission granted by the account".into(),
            label: name,
            details,
            created: event.at,
            recommended: true,
            reasons,
            fixed: true,
            group: None,
            action: Action::Record,
        });
        if let Some(sp) = &sp {
            offer(
                sp,
                in_window(event.at) && (!verified || !warnings.is_empty()),
                "The account granted it application permissions during the incident and it looks like an imitation or its publisher is not verified: disable it.".into(),
            );
        }
    }
    for (sp_id, recommended, why) in apps_to_offer {
        let sp = apps.get(&sp_id).cloned().flatten();
        plan.items.push(PlanItem {
            id: format!("sp:{sp_id}"),
            kind: "App (service principal)".into(),
            label: sp
                .as_ref()
                .and_then(|s| s.display_name.clone())
                .unwrap_or_else(|| sp_id.clone()),
            details: vec![format!(
                "App id: {}",
                sp.as_ref()
                    .and_then(|s| s.app_id.clone())
                    .unwrap_or_default()
            )],
            created: None,
            recommended,
            reasons: vec![if recommended {
                why
            } else {
                "Optional: disables the app for the whole tenant.".into()
            }],
            fixed: false,
            group: None,
            action: Action::DisableServicePrincipal { id: sp_id },
        });
    }
    plan.captures.push(Capture {
        name_hint: "grants-apps".into(),
        description: "The apps behind the consents".into(),
        source_operation: "GET /servicePrincipals/{id}".into(),
        body: Value::Array(sp_snapshots).to_string(),
    });
    if plan.items.is_empty() {
        plan.warnings.push("No consents to review.".into());
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge_in(r: &InboxRule, domain: &str) -> (bool, Vec<String>) {
        let organisation = Organisation::new([domain.to_owned()]);
        judge_rule(
            r,
            &RuleContext {
                organisation: &organisation,
                hidden: false,
            },
        )
    }

    fn rule(name: &str) -> InboxRule {
        serde_json::from_value(json!({ "Name": name, "Identity": "x" }))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_rule_moving_mail_to_rss_and_marking_it_read_is_flagged_with_reasons() {
        let mut r = rule("..");
        r.move_to_folder = Some("Megan Bowen\\RSS Feeds".into());
        r.mark_as_read = Some(true);
        let (flagged, reasons) = judge_in(&r, "contoso.com");
        assert!(flagged);
        assert!(
            reasons.iter().any(|x| x.contains("RSS Feeds")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|x| x.contains("made only of")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_filing_rule_that_mentions_invoices_is_shown_but_not_preselected() {
        let mut r = rule("Invoices from Fabrikam");
        r.move_to_folder = Some("Invoices".into());
        r.subject_contains_words = vec!["invoice".into()];
        let (flagged, reasons) = judge_in(&r, "contoso.com");
        assert!(!flagged, "a keyword alone must not pre-select: {reasons:?}");
        assert!(reasons.iter().any(|x| x.contains("invoice")));
    }

    #[test]
    fn forwarding_outside_the_organisation_is_flagged_and_inside_is_not() {
        let mut r = rule("wire");
        r.forward_to = vec!["someone@protonmail.example".into()];
        assert!(judge_in(&r, "contoso.com").0);
        let mut inside_rule = rule("Copy to manager");
        inside_rule.forward_to = vec!["boss@contoso.com".into()];
        assert!(!judge_in(&inside_rule, "contoso.com").0);
    }

    #[test]
    fn a_name_with_a_right_to_left_override_is_flagged() {
        let r = rule("Microsoft Outlook Sync\u{202e}");
        let (flagged, reasons) = judge_in(&r, "contoso.com");
        assert!(flagged);
        assert!(reasons.iter().any(|x| x.contains("invisible")));
    }

    fn method(created: Option<&str>) -> AuthenticationMethod {
        serde_json::from_value(json!({
            "@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
            "id": "m1",
            "createdDateTime": created,
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn methods_created_in_the_window_are_preselected_and_older_ones_are_not() {
        let start = "2025-03-12T19:00:00Z".parse().ok();
        let nobody = |_: &str| false;
        let cx = |window_start| MethodJudgement {
            window_start,
            log_reach: "2025-02-11T00:00:00Z".parse().unwrap_or_default(),
            audit_read: true,
            attacker: &nobody,
            attacker_sign_ins: Vec::new(),
            history: Some(UserHistory::default()),
        };
        let judge = |m: &AuthenticationMethod, w| judge_method(m, None, &cx(w)).recommended;
        assert!(judge(&method(Some("2025-03-12T19:30:00Z")), start));
        assert!(!judge(&method(Some("2023-05-02T08:41:00Z")), start));
        assert!(
            !judge(&method(None), start),
            "undated and not in the log: cannot tell, ask the user"
        );
        assert!(
            !judge(&method(Some("2025-03-12T19:30:00Z")), None),
            "no window, no pre-selection"
        );
    }

    #[test]
    fn the_attacker_predicate_matches_triages_addresses_and_the_infrastructure_ranges() {
        let attacker = attacker_predicate(
            vec!["203.0.113.45".into()],
            crate::attribution::Infrastructure::default(),
        );
        assert!(attacker("203.0.113.45"));
        assert!(attacker(" 203.0.113.45 "));
        assert!(
            !attacker("203.0.113.46"),
            "without an attributed range, the next address is not the attacker's"
        );
        let range = crate::attribution::Member {
            kind: crate::attribution::MemberKind::Range,
            value: "203.0.113.0/24".into(),
            evidence: vec!["same /24 as 203.0.113.45".into()],
            first_seen: None,
            asn: None,
            country: None,
            clients: Vec::new(),
            except: Vec::new(),
        };
        let attacker = attacker_predicate(
            vec!["203.0.113.45".into()],
            crate::attribution::Infrastructure {
                members: vec![range],
                ..Default::default()
            },
        );
        assert!(
            attacker("203.0.113.46"),
            "a method registered from the attacker's /24 is theirs"
        );
        assert!(!attacker("198.51.100.7"), "the user's own address is not");
    }
}
