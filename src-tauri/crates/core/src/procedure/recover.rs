//! Recovery (spec/design.md §2.8): give the account back to its owner, and only once it is safe to.
//!
//! The gate ([`blockers`]) holds every recovery step until each containment step finished *and
//! was verified* against the tenant (the optional "mark as compromised" may be skipped) and every
//! blast-radius check is finished. Then, in order:
//! 1. `enable` — allow sign-in again (`PATCH accountEnabled: true`);
//! 2. `tap` — issue a one-time Temporary Access Pass so the user re-registers MFA on a trusted
//!    device. The pass is a secret: the engine hands it to the caller in a [`Handoff`] and it is
//!    never journaled, saved, logged or serialised; the journal keeps that a pass was issued, its
//!    start and its lifetime, read back from the tenant (which never shows the pass again);
//! 3. `password` — make the password change explicit: the containment reset set a random
//!    password nobody knows with change required at next sign-in; the step checks it is still
//!    that one (or sets a new random one) so the user must choose their own;
//! 4. `watch` — record the baseline (methods, rules, forwarding, consents) and the watch window
//!    ([`crate::watch`] re-checks the account against it while the application runs).

use super::catalogue::Catalogue;
use crate::scope::Scope;
use chrono::{DateTime, Duration, Utc};
use firebreak_graph::{
    methods::{MethodKind, TemporaryAccessPassPolicy},
    permissions::Operation,
    SecretString,
};
use futures_util::{future::BoxFuture, FutureExt};
use serde_json::{json, Value};

use super::{
    blast,
    contain::{on_premises_check, user_snapshot},
    tenant::IncidentTenant,
    Action, Capture, Check, OnPremisesTask, Phase, Plan, PlanItem, Position, Step, StepContext,
    StepInfo, Verification,
};
use crate::{
    case::{journal::EntryKind, steps::StepStatus, CaseId, CaseStore, CaseView},
    Error,
};

/// The recovery steps' keys, in order.
pub const KEYS: [&str; 4] = ["enable", "tap", "password", "watch"];
/// The watch step's key: its finished entry holds the watch window and the baseline.
pub const WATCH_KEY: &str = "watch";
/// The default watch window (spec/design.md §2.8).
pub const DEFAULT_WATCH_HOURS: i64 = 72;
/// Containment steps that may be skipped with a reason without holding recovery.
const OPTIONAL_CONTAINMENT: [&str; 1] = ["confirm-compromised"];
use crate::clock::CLOCK_SKEW_MINUTES;
/// The Temporary Access Pass lifetimes offered, in minutes; the first is recommended.
const TAP_LIFETIMES: [(u32, &str); 2] = [
    (60, "One-time pass, valid for 1 hour"),
    (
        480,
        "One-time pass, valid for 8 hours (the user cannot be reached right away)",
    ),
];
/// The watch windows offered, in hours.
const WATCH_WINDOWS: [i64; 3] = [24, DEFAULT_WATCH_HOURS, 168];

/// The recovery steps in their order.
pub fn steps<T: IncidentTenant>() -> Vec<Box<dyn Step<T>>> {
    RECOVERY
        .iter()
        .map(|k| Box::new(Recover(*k)) as Box<dyn Step<T>>)
        .collect()
}

/// What the recovery steps are, in their order, without a tenant to act on.
pub fn infos() -> Vec<&'static StepInfo> {
    RECOVERY.iter().map(|k| info_of(*k)).collect()
}

const RECOVERY: [Kind; 4] = [Kind::Enable, Kind::Tap, Kind::Password, Kind::Watch];

fn info_of(kind: Kind) -> &'static StepInfo {
    match kind {
        Kind::Enable => &ENABLE,
        Kind::Tap => &TAP,
        Kind::Password => &PASSWORD,
        Kind::Watch => &WATCH,
    }
}

/// A secret a step produced for the admin to pass on (the Temporary Access Pass). It has no
/// `Serialize`, and its `Debug` shows no secret: the shell delivers it outside the webview.
#[derive(Debug, Clone)]
pub struct Handoff {
    /// What it is, in plain words.
    pub what: String,
    /// The tenant's id of what was created (the pass's method id): journaled, so a re-run finds
    /// it instead of issuing another.
    pub method_id: String,
    /// The secret itself.
    pub secret: SecretString,
    /// When it starts to work.
    pub valid_from: Option<DateTime<Utc>>,
    /// How long it works, in minutes.
    pub lifetime_minutes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Enable,
    Tap,
    Password,
    Watch,
}

struct Recover(Kind);

static ENABLE: StepInfo = StepInfo {
    key: "enable",
    phase: Phase::Recover,
    title: "Re-enable the account",
    why: "Only now: every containment step is verified and the blast-radius list is finished, so nothing the attacker left can use the account once it signs in again.",
    effect: "The account can sign in again.",
    saved_first: "The account's state before the change.",
    destructive: true,
    refuses_protected: false,
};
static TAP: StepInfo = StepInfo {
    key: "tap",
    phase: Phase::Recover,
    title: "Temporary Access Pass",
    why: "The attacker's methods are gone and so may be the user's: a one-time pass lets the user sign in once and register MFA again on a device they hold.",
    effect: "A one-time Temporary Access Pass is created for the account. Firebreak puts it on your clipboard (cleared after 60 seconds), never on screen or on disk: read it to the user on the phone number you know, not by mail or Teams.",
    saved_first: "The authentication methods before the change.",
    destructive: true,
    refuses_protected: true,
};
static PASSWORD: StepInfo = StepInfo {
    key: "password",
    phase: Phase::Recover,
    title: "Require a password change",
    why: "The password the attacker knew was replaced at containment by a random one nobody knows, with a change required: the user must choose their own, through self-service reset once MFA is registered again.",
    effect: "Checks that the random password set at containment is still in place (or sets a new one), so the user has to choose a new password.",
    saved_first: "The account's state before the change.",
    destructive: false,
    refuses_protected: true,
};
static WATCH: StepInfo = StepInfo {
    key: WATCH_KEY,
    phase: Phase::Recover,
    title: "Start the watch window",
    why: "Attackers come back through what was missed: while Firebreak runs, it re-checks the account for new methods, rules, forwarding, consents and sign-ins from the attacker's addresses.",
    effect: "Nothing in the tenant changes. The account's current methods, rules, forwarding and consents become the baseline; anything new is raised as an alert in the case and on the desktop.",
    saved_first: "The baseline: methods, inbox rules, mailbox forwarding and consents as they are now.",
    destructive: false,
    refuses_protected: false,
};

/// Why recovery of account `account` (the `index`-th of the case, from 1) cannot start yet: one
/// line per step holding it, empty when the gate is open.
pub fn blockers(case: &CaseView, index: usize, account: &str) -> Vec<String> {
    let procedure = Catalogue::compromised_account(index, account.to_owned());
    let mut reasons = Vec::new();
    for view in procedure.view(case) {
        let status = view.state.as_ref().map(|s| &s.status);
        match view.info.phase {
            Phase::Contain => match status {
                Some(StepStatus::Finished { verified: true }) => {}
                Some(StepStatus::Skipped { .. })
                    if OPTIONAL_CONTAINMENT.contains(&view.info.key) => {}
                Some(StepStatus::Finished { verified: false }) => reasons.push(format!(
                    "\"{}\" finished but the tenant did not confirm it: re-run it until it is verified.",
                    view.info.title
                )),
                Some(StepStatus::Skipped { .. }) => reasons.push(format!(
                    "\"{}\" was skipped: containment must be verified before the account is given back.",
                    view.info.title
                )),
                _ => reasons.push(format!("\"{}\" is not done yet.", view.info.title)),
            },
            Phase::Triage | Phase::Blast | Phase::Recover => {}
        }
    }
    reasons.extend(
        open_checks(case, index, account)
            .into_iter()
            .map(|title| format!("Blast-radius check \"{title}\" is still open.")),
    );
    reasons
}

/// The titles of the blast-radius checks (the sideways sweep included) of the `index`-th
/// account that are neither finished nor skipped with a reason.
pub fn open_checks(case: &CaseView, index: usize, account: &str) -> Vec<String> {
    let mut open: Vec<String> = Scope::numbered(index)
        .map(|scope| blast::check_results(case, &scope))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.status.is_done())
        .map(|c| c.title.to_owned())
        .collect();
    // Blast-phase steps that are not one of the fifteen checks (the sideways sweep).
    let procedure = Catalogue::compromised_account(index, account.to_owned());
    open.extend(
        procedure
            .view(case)
            .into_iter()
            .filter(|v| v.info.phase == Phase::Blast && !blast::CHECK_KEYS.contains(&v.info.key))
            .filter(|v| v.position != Position::Done)
            .map(|v| v.info.title.to_owned()),
    );
    open
}

/// Where recovery stands for one account of a case.
#[derive(Debug, Clone)]
pub struct AccountRecovery {
    /// The account's number in the case (from 1).
    pub index: u32,
    /// The account.
    pub account: String,
    /// What holds recovery back ([`blockers`]); empty when it may start.
    pub blockers: Vec<String>,
    /// Blast-radius checks still open ([`open_checks`]): they also hold the case open.
    pub open_checks: Vec<String>,
    /// Other accounts the recorded sideways sweep found.
    pub sweep_hits: Vec<crate::sweep::SweepHit>,
}

/// Where recovery stands for every account of `case`.
pub fn overview(case: &CaseView) -> Vec<AccountRecovery> {
    (1u32..)
        .zip(&case.metadata.accounts)
        .map(|(index, account)| {
            let n = index as usize;
            AccountRecovery {
                index,
                account: account.clone(),
                blockers: blockers(case, n, account),
                open_checks: open_checks(case, n, account),
                sweep_hits: Scope::numbered(n)
                    .map(|scope| crate::sweep::recorded_hits(case, &scope))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// Closes case `id` with the admin's `summary`: refused, naming them, while any blast-radius
/// check of any account is open. Closing ends every watch window of the case.
pub fn close_case<T: IncidentTenant>(
    store: &CaseStore,
    actor: &str,
    id: &CaseId,
    summary: &str,
) -> Result<CaseView, Error> {
    store.close_case(id, actor, summary, |case| {
        let open: Vec<String> = (1..)
            .zip(&case.metadata.accounts)
            .flat_map(|(index, account)| {
                open_checks(case, index, account)
                    .into_iter()
                    .map(move |title| format!("\"{title}\" ({account})"))
            })
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidInput {
            field: "caseId",
            problem: format!(
                "The case cannot be closed while a blast-radius check is open. Finish or skip with a reason: {}.",
                open.join(", ")
            ),
        })
    })
}

fn gate<T: IncidentTenant>(cx: &StepContext<'_, T>, step: &StepInfo) -> Result<(), Error> {
    let reasons = blockers(cx.case, cx.scope.index(), cx.account);
    if reasons.is_empty() {
        return Ok(());
    }
    Err(Error::StepRefused {
        step: format!("{}.{}", cx.scope, step.key),
        message: format!(
            "Recovery waits until containment is verified and the blast-radius list is finished. {}",
            reasons.join(" ")
        ),
    })
}

/// The latest finished entry of step `key` of `scope`: its time and details.
fn finished<'c>(case: &'c CaseView, scope: &str, key: &str) -> Option<(DateTime<Utc>, &'c Value)> {
    let id = format!("{scope}.{key}");
    case.journal
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StepFinished && e.step.as_deref() == Some(id.as_str()))
        .map(|e| (e.time, &e.details))
}

fn show_time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "unknown".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

fn plan_for(cx: &StepContext<'_, impl IncidentTenant>, summary: &str) -> Plan {
    Plan {
        step: String::new(),
        account: cx.account.to_owned(),
        summary: summary.to_owned(),
        items: Vec::new(),
        warnings: Vec::new(),
        saved_first: Vec::new(),
        facts: Value::Null,
        captures: Vec::new(),
    }
}

fn item(id: &str, kind: &str, label: &str, action: Action) -> PlanItem {
    PlanItem {
        id: id.to_owned(),
        kind: kind.to_owned(),
        label: label.to_owned(),
        details: Vec::new(),
        created: None,
        recommended: false,
        reasons: Vec::new(),
        fixed: false,
        group: None,
        action,
    }
}

impl<T: IncidentTenant> Step<T> for Recover {
    fn info(&self) -> &'static StepInfo {
        info_of(self.0)
    }

    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>> {
        async move {
            gate(cx, <Self as Step<T>>::info(self))?;
            let mut plan = match self.0 {
                Kind::Enable => plan_enable(cx).await?,
                Kind::Tap => plan_tap(cx).await?,
                Kind::Password => plan_password(cx).await?,
                Kind::Watch => plan_watch(cx).await?,
            };
            let writes = match self.0 {
                Kind::Enable => Some(Operation::SetAccountEnabled),
                Kind::Tap => Some(Operation::CreateTemporaryAccessPass),
                Kind::Password | Kind::Watch => None,
            };
            if let Some(operation) = writes {
                super::roles::note_role(cx, operation)
                    .await
                    .apply(&mut plan);
            }
            plan.saved_first = plan
                .captures
                .iter()
                .map(|c| c.description.clone())
                .collect();
            plan.saved_first.dedup();
            Ok(plan)
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
                Kind::Enable => {
                    let (user, _) = user_snapshot(cx).await?;
                    let mut checks = vec![Check {
                        item: "account".into(),
                        ok: user.account_enabled == Some(true),
                        detail: format!(
                            "Sign-in enabled: {}",
                            user.account_enabled
                                .map_or("unknown".into(), |e| e.to_string())
                        ),
                    }];
                    checks.extend(
                        selected
                            .iter()
                            .filter(|id| id.starts_with("onprem:"))
                            .map(|id| on_premises_check(id, None)),
                    );
                    Ok(Verification::from_checks(checks))
                }
                Kind::Tap => verify_tap(cx, selected, after).await,
                Kind::Password => verify_password(cx, selected, after).await,
                Kind::Watch => Ok(Verification::from_checks(vec![Check {
                    item: "baseline".into(),
                    ok: true,
                    detail: "The baseline was saved in the case before this step ended.".into(),
                }])),
            }
        }
        .boxed()
    }
}

async fn plan_enable<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let (user, snapshot) = user_snapshot(cx).await?;
    let mut plan = plan_for(cx, "Allow the account to sign in again.");
    let mut account = item("account", "Account", cx.account, Action::EnableAccount);
    account.details = vec![format!(
        "Sign-in enabled now: {}",
        user.account_enabled
            .map_or("unknown".into(), |e| e.to_string())
    )];
    account.recommended = true;
    account.fixed = true;
    plan.items.push(account);
    if user.account_enabled == Some(true) {
        plan.warnings
            .push("Sign-in is already allowed; this records it and checks again.".into());
    }
    if user.on_premises_sync_enabled == Some(true) {
        plan.warnings.push(
            "This account is synchronised from on-premises Active Directory, where containment disabled it: enable it there too, or the next synchronisation blocks it again. Confirm here with a note saying who did it and when."
                .into(),
        );
        let task = OnPremisesTask::EnableAccount;
        let mut on_premises = item(
            &format!("onprem:{}", task.name()),
            "Active Directory (on-premises)",
            cx.account,
            Action::OnPremises { task },
        );
        on_premises.details = vec![task.instruction().to_owned()];
        on_premises.recommended = true;
        plan.items.push(on_premises);
    }
    plan.captures.push(Capture {
        name_hint: "recover-enable-account".into(),
        description: "The account's state before the change".into(),
        source_operation: "GET /users/{id}".into(),
        body: snapshot.to_string(),
    });
    plan.facts = snapshot;
    Ok(plan)
}

fn is_tap(m: &firebreak_graph::methods::AuthenticationMethod) -> bool {
    m.kind() == Some(MethodKind::TemporaryAccessPass)
}

async fn plan_tap<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let (methods, policy) = futures_util::future::join(
        cx.tenant.methods(cx.user),
        read_pass_policy(cx.tenant, cx.user),
    )
    .await;
    let methods = methods?;
    let mut plan = plan_for(
        cx,
        "Create a one-time Temporary Access Pass for the user to register MFA again.",
    );
    plan.captures = Capture::pages(
        "recover-tap-methods",
        "Authentication methods before the pass is created",
        "GET /users/{id}/authentication/methods",
        &methods.pages,
    );
    if keep_issued_pass(cx, &methods.items, &mut plan) {
        return Ok(plan);
    }
    // Entra allows one pass per user: an old one must go first (it is listed, never shown).
    for old in methods.items.iter().filter(|m| is_tap(m)) {
        let mut removal = item(
            &format!("method:{}", old.id),
            "Existing Temporary Access Pass",
            "Earlier pass (its value is never shown again)",
            Action::DeleteMethod {
                kind: MethodKind::TemporaryAccessPass,
                id: old.id.clone(),
            },
        );
        removal.created = old.created_date_time;
        removal.fixed = true;
        removal.recommended = true;
        removal.reasons = vec![
            "A user can hold one pass at a time: the earlier one is removed before the new one is created.".into(),
        ];
        plan.warnings.push(format!(
            "The account already has a Temporary Access Pass (created {}). Who issued it? If not you, note it in the case.",
            show_time(old.created_date_time)
        ));
        plan.items.push(removal);
    }
    let blocked = match &policy {
        PassPolicy::Read { policy, groups } => {
            let blocked = pass_policy_blocker(policy, groups, cx.account);
            plan.warnings.extend(blocked.clone());
            blocked.is_some()
        }
        PassPolicy::Unreadable(why) => {
            plan.warnings.push(format!(
                "Firebreak could not read the tenant's Temporary Access Pass policy ({why}), so it cannot tell whether the pass will be allowed. If creating it fails, the message says which rule refused it."
            ));
            false
        }
    };
    let offered = lifetimes_offered(&policy);
    for (i, (minutes, label)) in offered.iter().enumerate() {
        let mut choice = item(
            &format!("tap:{minutes}"),
            "Temporary Access Pass",
            label,
            Action::IssueTemporaryAccessPass {
                lifetime_minutes: *minutes,
            },
        );
        choice.group = Some("lifetime".into());
        choice.recommended = i == 0 && !blocked;
        choice.details = vec![
            format!("Works for {minutes} minutes from creation, for one sign-in."),
            "Delivered to your clipboard only, cleared after 60 seconds.".into(),
        ];
        plan.items.push(choice);
    }
    plan.facts = json!({
        "existingPasses": methods.items.iter().filter(|m| is_tap(m)).count(),
        "passPolicy": policy.facts(),
    });
    Ok(plan)
}

/// The plan item that keeps the pass an earlier run issued.
const KEEP_ISSUED: &str = "tap:issued";

/// The method id of the pass an earlier run of this step issued, from the journal.
fn issued_earlier(cx: &StepContext<'_, impl IncidentTenant>) -> Option<String> {
    let id = format!("{}.{}", cx.scope, TAP.key);
    cx.case
        .journal
        .iter()
        .rev()
        .filter(|e| e.kind == EntryKind::StepFinished && e.step.as_deref() == Some(id.as_str()))
        .find_map(|e| e.details.pointer("/detail/issued/methodId")?.as_str())
        .map(str::to_owned)
}

/// When the pass an earlier run issued is still on the account, the plan keeps it and creates
/// nothing (returns true): another pass would replace the one already given to the user
/// (spec/graph-behaviour.md, "Read-after-write consistency").
fn keep_issued_pass(
    cx: &StepContext<'_, impl IncidentTenant>,
    methods: &[firebreak_graph::methods::AuthenticationMethod],
    plan: &mut Plan,
) -> bool {
    let Some(issued) = issued_earlier(cx) else {
        return false;
    };
    let Some(pass) = methods
        .iter()
        .find(|m| is_tap(m) && m.id.eq_ignore_ascii_case(&issued))
    else {
        return false;
    };
    let mut keep = item(
        KEEP_ISSUED,
        "Temporary Access Pass",
        "The pass this step already issued",
        Action::Record,
    );
    keep.created = pass.created_date_time;
    keep.fixed = true;
    keep.recommended = true;
    keep.details = vec![format!(
        "Pass {} issued {}, still on the account.",
        pass.id,
        show_time(pass.created_date_time)
    )];
    keep.reasons = vec!["A new pass would replace the one you already gave the user, so Firebreak does not create another. If the user never received it, delete it in the Entra admin center (Users > the user > Authentication methods) and run this step again.".into()];
    plan.summary = "The Temporary Access Pass this step issued is still on the account: nothing new is created.".into();
    plan.warnings.push(format!(
        "This step already issued Temporary Access Pass {} ({}); it is still on the account.",
        pass.id,
        show_time(pass.created_date_time)
    ));
    plan.items.push(keep);
    plan.facts = json!({ "existingPasses": methods.iter().filter(|m| is_tap(m)).count(), "issuedEarlier": issued });
    true
}

/// The tenant's Temporary Access Pass policy with the groups of the account, or why it could not
/// be read.
enum PassPolicy {
    Read {
        policy: TemporaryAccessPassPolicy,
        groups: Vec<String>,
    },
    Unreadable(String),
}

impl PassPolicy {
    fn facts(&self) -> Value {
        match self {
            PassPolicy::Read { policy, .. } => json!({
                "state": policy.state,
                "minimumLifetimeInMinutes": policy.minimum_lifetime_in_minutes,
                "maximumLifetimeInMinutes": policy.maximum_lifetime_in_minutes,
                "allUsers": policy.includes_all_users(),
            }),
            PassPolicy::Unreadable(why) => json!({ "unreadable": why }),
        }
    }
}

async fn read_pass_policy<T: IncidentTenant>(
    tenant: &T,
    user: &firebreak_graph::UserRef,
) -> PassPolicy {
    let (policy, groups) = futures_util::future::join(
        tenant.temporary_access_pass_policy(),
        tenant.member_of(user),
    )
    .await;
    match (policy, groups) {
        (Ok(policy), Ok(groups)) => PassPolicy::Read {
            policy,
            groups: groups.items.into_iter().map(|g| g.id).collect(),
        },
        (Err(e), _) | (_, Err(e)) => PassPolicy::Unreadable(e.to_string()),
    }
}

/// Why the policy will refuse a pass for this account, in the admin's words; `None` when it allows
/// one (spec/graph-behaviour.md, "Temporary Access Pass policy").
fn pass_policy_blocker(
    policy: &TemporaryAccessPassPolicy,
    groups: &[String],
    account: &str,
) -> Option<String> {
    if !policy.is_enabled() {
        return Some("The Temporary Access Pass method is turned off in this tenant, so Entra will refuse to create a pass. Turn it on in the Entra admin center (Protection › Authentication methods › Policies › Temporary Access Pass), or help the user re-register another way, then plan this step again.".into());
    }
    if !policy.covers(groups) {
        return Some(format!(
            "{account} is outside the Temporary Access Pass policy: it is not in a group the policy includes, or it is in a group the policy excludes, so Entra will refuse to create a pass. Add the account to an included group (or take it out of the excluded one) in the Entra admin center (Protection › Authentication methods › Policies › Temporary Access Pass), then plan this step again."
        ));
    }
    None
}

/// The lifetimes to offer: Firebreak's usual ones within the policy's bounds, or the policy's own
/// default when none fits.
fn lifetimes_offered(policy: &PassPolicy) -> Vec<(u32, String)> {
    let PassPolicy::Read { policy, .. } = policy else {
        return TAP_LIFETIMES
            .iter()
            .map(|(m, l)| (*m, (*l).to_owned()))
            .collect();
    };
    let fitting: Vec<(u32, String)> = TAP_LIFETIMES
        .iter()
        .filter(|(m, _)| policy.allows_lifetime(*m))
        .map(|(m, l)| (*m, (*l).to_owned()))
        .collect();
    if !fitting.is_empty() {
        return fitting;
    }
    let minutes = policy
        .default_lifetime_in_minutes
        .filter(|m| policy.allows_lifetime(*m))
        .or(policy.minimum_lifetime_in_minutes)
        .unwrap_or(60);
    vec![(
        minutes,
        format!("One-time pass, valid for {minutes} minutes (the tenant's policy allows no other)"),
    )]
}

async fn verify_tap<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    selected: &[String],
    after: DateTime<Utc>,
) -> Result<Verification, Error> {
    let methods = cx.tenant.methods(cx.user).await?;
    let kept = selected
        .iter()
        .any(|s| s == KEEP_ISSUED)
        .then(|| issued_earlier(cx))
        .flatten();
    let fresh: Vec<_> = methods
        .items
        .iter()
        .filter(|m| is_tap(m))
        .filter(|m| match &kept {
            Some(id) => m.id.eq_ignore_ascii_case(id),
            None => m.created_date_time.is_none_or(|c| c >= after),
        })
        .collect();
    let checks = match fresh.first() {
        None => vec![Check {
            item: "tap".into(),
            ok: false,
            detail: "No Temporary Access Pass created by this step is listed on the account."
                .into(),
        }],
        Some(m) => {
            let number = |key: &str| m.other.get(key).and_then(Value::as_i64);
            let flag = |key: &str| m.other.get(key).and_then(Value::as_bool);
            let start = m.other.get("startDateTime").and_then(Value::as_str);
            vec![Check {
                item: "tap".into(),
                ok: flag("isUsable") != Some(false),
                // What a pass is, never what it says: Graph returns the value only on creation.
                detail: format!(
                    "Temporary Access Pass {} issued: starts {}, lifetime {} minutes, one-time use: {}, usable: {}.",
                    m.id,
                    start.unwrap_or("at creation"),
                    number("lifetimeInMinutes").map_or("unknown".into(), |n| n.to_string()),
                    flag("isUsableOnce").map_or("unknown".into(), |b| b.to_string()),
                    flag("isUsable").map_or("unknown".into(), |b| b.to_string()),
                ),
            }]
        }
    };
    Ok(Verification::from_checks(checks))
}

async fn plan_password<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let (user, snapshot) = user_snapshot(cx).await?;
    let mut plan = plan_for(cx, "Make sure the user has to choose a new password.");
    let reset = finished(cx.case, cx.scope, "reset");
    let reset_at = reset.map(|(t, _)| t);
    let changed_since = match (user.last_password_change_date_time, reset_at) {
        (Some(changed), Some(reset)) => changed > reset + Duration::minutes(CLOCK_SKEW_MINUTES),
        _ => true,
    };
    let mut keep = item(
        "password:keep",
        "Password",
        "Keep the random password set at containment (change required at next sign-in)",
        Action::Record,
    );
    keep.group = Some("password".into());
    keep.details = vec![
        format!("Reset at containment: {}", show_time(reset_at)),
        format!(
            "Password last changed in the tenant: {}",
            show_time(user.last_password_change_date_time)
        ),
    ];
    // A synchronised account's password is reset in Active Directory (spec/graph-behaviour.md,
    // "Synchronised accounts").
    let mut again = if user.on_premises_sync_enabled == Some(true) {
        let task = OnPremisesTask::ResetPassword;
        let mut on_premises = item(
            "password:reset",
            "Password",
            "Reset it again in Active Directory (on-premises), change required at next logon",
            Action::OnPremises { task },
        );
        on_premises.details = vec![task.instruction().to_owned()];
        on_premises
    } else {
        item(
            "password:reset",
            "Password",
            "Set a new random password (never shown), change required at next sign-in",
            Action::ResetPassword,
        )
    };
    again.group = Some("password".into());
    if changed_since {
        again.recommended = true;
        again.reasons = vec![
            "The password changed after the containment reset (or no reset is recorded): whoever changed it may know it.".into(),
        ];
        keep.reasons =
            vec!["Not recommended: the password is no longer the one set at containment.".into()];
        plan.warnings.push(
            "The password was changed after containment. If the user did not do it, treat it as the attacker coming back.".into(),
        );
    } else {
        keep.recommended = true;
        keep.reasons = vec![
            "Nobody knows the current password and a change is required: after signing in with the pass and registering MFA, the user sets their own through self-service password reset.".into(),
        ];
    }
    plan.items.push(keep);
    plan.items.push(again);
    plan.captures.push(Capture {
        name_hint: "recover-password-account".into(),
        description: "The account's state before the change".into(),
        source_operation: "GET /users/{id}".into(),
        body: snapshot.to_string(),
    });
    plan.facts = json!({
        "containmentResetAt": reset_at,
        "lastPasswordChangeDateTime": user.last_password_change_date_time,
        "forceChangePasswordNextSignIn": true,
    });
    Ok(plan)
}

async fn verify_password<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    selected: &[String],
    after: DateTime<Utc>,
) -> Result<Verification, Error> {
    let (user, _) = user_snapshot(cx).await?;
    let changed = user.last_password_change_date_time;
    let synchronised = user.on_premises_sync_enabled == Some(true);
    let check = if synchronised && selected.iter().any(|s| s == "password:reset") {
        on_premises_check(
            "password:reset",
            changed
                .filter(|t| *t >= after)
                .map(|t| format!("password changed {}", show_time(Some(t)))),
        )
    } else if selected.iter().any(|s| s == "password:reset") {
        Check {
            item: "password:reset".into(),
            ok: changed.is_some_and(|t| t >= after),
            detail: format!(
                "Password last changed: {}; change required at next sign-in.",
                show_time(changed)
            ),
        }
    } else {
        let reset_at = finished(cx.case, cx.scope, "reset").map(|(t, _)| t);
        let untouched = match (changed, reset_at) {
            (Some(c), Some(r)) => c <= r + Duration::minutes(CLOCK_SKEW_MINUTES),
            _ => false,
        };
        Check {
            item: "password:keep".into(),
            ok: untouched,
            detail: format!(
                "Password last changed {} (containment reset {}): {}",
                show_time(changed),
                show_time(reset_at),
                if untouched {
                    "still the random one, change required at next sign-in."
                } else {
                    "changed since the reset."
                }
            ),
        }
    };
    Ok(Verification::from_checks(vec![check]))
}

async fn plan_watch<T: IncidentTenant>(cx: &StepContext<'_, T>) -> Result<Plan, Error> {
    let mut plan = plan_for(
        cx,
        "Take the baseline and watch the account for anything new.",
    );
    let (methods, mailbox, grants) = futures_util::future::join3(
        cx.tenant.methods(cx.user),
        cx.tenant.mailbox(cx.user),
        cx.tenant.user_grants(cx.user),
    )
    .await;
    let methods = methods?;
    let grants = grants?;
    plan.captures.extend(Capture::pages(
        "watch-baseline-methods",
        "Baseline: authentication methods",
        "GET /users/{id}/authentication/methods",
        &methods.pages,
    ));
    plan.captures.extend(Capture::pages(
        "watch-baseline-grants",
        "Baseline: delegated consent grants",
        "GET /users/{id}/oauth2PermissionGrants",
        &grants.pages,
    ));
    let mut rules: Vec<String> = Vec::new();
    let mut forwarding: Vec<String> = Vec::new();
    match mailbox {
        Ok(Some(mailbox)) => {
            for m in &mailbox.items {
                forwarding.extend(m.forwarding_smtp_address.clone());
                forwarding.extend(m.forwarding_address.clone());
            }
            plan.captures.extend(Capture::pages(
                "watch-baseline-mailbox",
                "Baseline: mailbox (forwarding)",
                "Exchange Get-Mailbox",
                &mailbox.pages,
            ));
            match cx.tenant.inbox_rules(cx.user).await {
                Ok(found) => {
                    rules = found
                        .items
                        .iter()
                        .filter_map(|r| r.identity.clone())
                        .collect();
                    plan.captures.extend(Capture::pages(
                        "watch-baseline-inbox-rules",
                        "Baseline: inbox rules including hidden ones",
                        "Exchange Get-InboxRule -IncludeHidden",
                        &found.pages,
                    ));
                }
                Err(e) => plan.warnings.push(format!(
                    "The inbox rules could not be read (Get-InboxRule failed: {e}), so they have no baseline: the watch will raise any suspicious rule it finds, even one there now. The rest of the baseline stands; take it again later to include the rules."
                )),
            }
        }
        Ok(None) => plan
            .warnings
            .push("The account has no mailbox: rules and forwarding are not watched.".into()),
        Err(e) => plan.warnings.push(format!(
            "The mailbox could not be read, so rules and forwarding have no baseline: {e}"
        )),
    }
    let addresses = attacker_addresses(cx.case, cx.scope);
    if addresses.is_empty() {
        plan.warnings.push(
            "Triage recorded no attacker address, so sign-ins are not watched by address.".into(),
        );
    }
    for hours in WATCH_WINDOWS {
        let mut choice = item(
            &format!("watch:{hours}"),
            "Watch window",
            &format!("Watch for {hours} hours"),
            Action::Record,
        );
        choice.group = Some("window".into());
        choice.recommended = hours == DEFAULT_WATCH_HOURS;
        choice.details = vec![format!(
            "Until {} (while Firebreak runs).",
            show_time(Some(cx.now + Duration::hours(hours)))
        )];
        plan.items.push(choice);
    }
    plan.facts = json!({
        "watch": {
            "baseline": {
                "methods": methods.items.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
                "rules": rules,
                "forwarding": forwarding,
                "grants": grants.items.iter().map(|g| g.id.clone()).collect::<Vec<_>>(),
            },
            "attackerAddresses": addresses,
        }
    });
    Ok(plan)
}

/// Creates the pass and keeps it only in the returned [`Handoff`].
pub(super) async fn issue_pass<T: IncidentTenant>(
    tenant: &T,
    user: &firebreak_graph::UserRef,
    lifetime_minutes: u32,
) -> Result<Handoff, Error> {
    let pass = match tenant
        .create_temporary_access_pass(user, lifetime_minutes)
        .await
    {
        Ok(pass) => pass,
        Err(e) => return Err(explain_pass_refusal(tenant, user, lifetime_minutes, e).await),
    };
    let secret = pass.temporary_access_pass.ok_or_else(|| Error::StepRefused {
        step: "tap".into(),
        message: format!(
            "The tenant created Temporary Access Pass {} but did not return it. Delete it in the Entra admin center (user > Authentication methods) and run this step again.",
            pass.id
        ),
    })?;
    Ok(Handoff {
        what: format!("Temporary Access Pass for {user}"),
        method_id: pass.id.clone(),
        secret,
        valid_from: pass.start_date_time.or(pass.created_date_time),
        lifetime_minutes: pass.lifetime_in_minutes.or(Some(lifetime_minutes)),
    })
}

/// Turns Entra's refusal to create a pass into what happened and what to do: the policy is off,
/// the account is outside it, or the lifetime is outside its bounds (spec/graph-behaviour.md,
/// "Temporary Access Pass policy"). Entra answers the first two with the same words, so the
/// policy is read again to tell them apart.
async fn explain_pass_refusal<T: IncidentTenant>(
    tenant: &T,
    user: &firebreak_graph::UserRef,
    lifetime_minutes: u32,
    error: firebreak_graph::Error,
) -> Error {
    let firebreak_graph::Error::Service {
        status: 400,
        message,
        ..
    } = &error
    else {
        return error.into();
    };
    let refused = |message: String| Error::StepRefused {
        step: "tap".into(),
        message,
    };
    if message.contains("LifetimeInMinutes") {
        return refused(format!(
            "Entra refused a pass valid for {lifetime_minutes} minutes: the tenant's Temporary Access Pass policy allows another range ({message}). Plan this step again to be offered a lifetime within it, or change the bounds in the Entra admin center (Protection › Authentication methods › Policies › Temporary Access Pass)."
        ));
    }
    if !message.contains("does not allow") {
        return error.into();
    }
    match read_pass_policy(tenant, user).await {
        PassPolicy::Read { policy, groups } => {
            match pass_policy_blocker(&policy, &groups, user.as_str()) {
                Some(why) => refused(why),
                None => refused(format!("Entra's authentication methods policy refused the pass ({message}), though the Temporary Access Pass policy Firebreak can read allows it. Check the policy in the Entra admin center (Protection › Authentication methods › Policies › Temporary Access Pass).")),
            }
        }
        PassPolicy::Unreadable(why) => refused(format!(
            "Entra's Temporary Access Pass policy refused the pass ({message}): the method is turned off, or the account is outside the groups it covers. Firebreak could not read the policy to tell which ({why}); check it in the Entra admin center (Protection › Authentication methods › Policies › Temporary Access Pass)."
        )),
    }
}

/// The attacker's addresses triage found for the account of `scope` (empty when triage recorded
/// none, or ran before Firebreak recorded them).
pub fn attacker_addresses(case: &CaseView, scope: &str) -> Vec<String> {
    finished(case, scope, super::triage::KEY)
        .and_then(|(_, d)| d.pointer("/detail/facts/attackerAddresses"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pass_is_not_in_the_debug_output_of_a_handoff() {
        let handoff = Handoff {
            what: "Temporary Access Pass".into(),
            method_id: "tap-1".into(),
            secret: SecretString::from("Tq9#kP2m@xW4"),
            valid_from: None,
            lifetime_minutes: Some(60),
        };
        let text = format!("{handoff:?}");
        assert!(!text.contains("Tq9#kP2m@xW4"), "{text}");
    }
}
