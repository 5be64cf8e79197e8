//! The procedure engine: ordered steps that change the tenant only after showing the plan, saving
//! the evidence the change destroys, and getting the admin's confirmation; then reading the
//! tenant back to prove the change took.
//!
//! A [`Procedure`] is an ordered list of [`Step`]s for one account of a case. Running a step:
//! 1. the order is checked: every step above is finished or skipped with a reason;
//! 2. the plan is computed from a *fresh* read of the tenant (never from what the screen showed);
//! 3. protected accounts (the signed-in admin, the break-glass account) are refused;
//! 4. destructive steps need the account name typed; the selection must name plan items;
//! 5. `step_started` is journaled with the plan, the tool's recommended selection and the admin's
//!    final selection; then the raw reads are saved as evidence — before any change;
//! 6. the selected actions are performed in plan order; a failure is journaled as `step_failed`,
//!    except a method deletion Graph refuses for its order, which is retried after the others
//!    and, if still refused, reported on its row (`act`);
//! 7. the tenant is read back — after a change, again with growing pauses for about two minutes
//!    while the directory replicates — and the step finishes verified or not verified.
//!
//! A step interrupted by a crash is never repeated blindly: [`Procedure::reverify`] reads the
//! tenant and records whether the journaled selection took effect; it also re-checks a step that
//! finished unverified, without repeating its change. Steps plug in through the
//! [`Step`] trait, so triage ([`triage`]), containment ([`contain`]) and later procedures share
//! this machinery. The tenant is reached through [`tenant::IncidentTenant`].

mod act;
pub mod blast;
pub mod catalogue;
pub mod checks;
pub mod consents;
pub mod contain;
pub mod recover;
mod roles;
pub mod tenant;
pub mod triage;

use self::catalogue::Catalogue;
use crate::scope::Scope;
use chrono::{DateTime, Utc};
use firebreak_graph::{methods::MethodKind, SecretString, UserRef};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use self::tenant::IncidentTenant;
use crate::{
    case::{
        evidence::{ArtefactFormat, NewArtefact},
        journal::EntryKind,
        steps::{StepState, StepStatus},
        CaseId, CaseStore, CaseView,
    },
    Error,
};

/// The phase of the response a step belongs to (spec/design.md §2.3–§2.8). Phases come in this order: a
/// step needs every step of an earlier phase done. Within triage, containment and recovery the
/// steps are ordered too; the blast-radius checks are not (any order, several planned at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// What kind of compromise, since when.
    Triage,
    /// Containment in the order of spec/design.md §2.4.
    Contain,
    /// The blast-radius checks of spec/design.md §2.5.
    Blast,
    /// Recovery and watch (spec/design.md §2.8).
    Recover,
}

impl Phase {
    /// Whether the steps of this phase must run in their listed order.
    pub fn ordered(self) -> bool {
        self != Self::Blast
    }

    /// The phase's name in camelCase, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::Contain => "contain",
            Self::Blast => "blast",
            Self::Recover => "recover",
        }
    }
}

/// What a step is, independent of any tenant: shown beside it in the wizard.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepInfo {
    /// The step's key inside its procedure (`revoke`, `methods`, ...).
    pub key: &'static str,
    /// The phase it belongs to; decides what must be done before it.
    pub phase: Phase,
    /// Its title.
    pub title: &'static str,
    /// Why it comes where it does (spec/design.md §7), one or two sentences.
    pub why: &'static str,
    /// The effect in plain words, for the confirmation dialog.
    pub effect: &'static str,
    /// What is saved before the change.
    pub saved_first: &'static str,
    /// Whether the account name must be typed to confirm.
    pub destructive: bool,
    /// Whether the step refuses protected accounts (the signed-in admin, the break-glass account).
    pub refuses_protected: bool,
}

/// What performing a plan item does. Not sent to the UI: the UI only names item ids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Nothing beyond saving evidence or recording a choice.
    Record,
    /// Revoke the account's refresh tokens and session cookies.
    RevokeSessions,
    /// Block sign-in.
    DisableAccount,
    /// Set a random password, change required at next sign-in.
    ResetPassword,
    /// Delete an authentication method.
    DeleteMethod {
        /// Its type.
        kind: MethodKind,
        /// Its id.
        id: String,
    },
    /// Remove an inbox rule.
    RemoveInboxRule {
        /// Exchange's rule identity.
        identity: String,
    },
    /// Clear `ForwardingSmtpAddress` and `ForwardingAddress`.
    ClearForwarding,
    /// Remove a mailbox permission row.
    RemoveMailboxPermission {
        /// The delegate.
        user: String,
        /// The rights to remove.
        rights: Vec<String>,
        /// The row's `InheritanceType` as Get-MailboxPermission listed it (`None`: not given,
        /// Exchange's default `All`). Exchange removes only the entry with this inheritance.
        inheritance_type: Option<String>,
    },
    /// Remove a SendAs permission.
    RemoveRecipientPermission {
        /// The trustee.
        trustee: String,
        /// The rights to remove.
        rights: Vec<String>,
    },
    /// Remove a SendOnBehalf delegate.
    RemoveSendOnBehalf {
        /// The delegate.
        trustee: String,
    },
    /// Delete a delegated permission grant.
    DeleteGrant {
        /// The grant id.
        id: String,
    },
    /// Disable an application's service principal in this tenant.
    DisableServicePrincipal {
        /// Its object id.
        id: String,
    },
    /// Remove one client secret from an app registration (`removePassword`).
    RemoveApplicationPassword {
        /// The application's object id.
        application: String,
        /// The secret's key id.
        key_id: String,
    },
    /// Remove one certificate from an app registration: its certificates are rewritten without it
    /// (`removeKey` needs a proof signed by a current certificate, which a responder removing an
    /// attacker's certificate cannot make).
    RemoveApplicationCertificate {
        /// The application's object id.
        application: String,
        /// The certificate's key id.
        key_id: String,
    },
    /// Take an account out of a directory role.
    RemoveDirectoryRoleMember {
        /// The role's object id (as `memberOf` lists it).
        role: String,
        /// The member's object id.
        member: String,
    },
    /// Mark the user confirmed compromised in Identity Protection.
    ConfirmCompromised,
    /// `action` on another account or mailbox than the procedure's (a user the account created,
    /// a shared mailbox it reaches). Refused on protected accounts like the account itself.
    On {
        /// The other account or mailbox (object id or UPN).
        target: String,
        /// What to do there.
        action: Box<Action>,
    },
    /// Allow sign-in again (recovery).
    EnableAccount,
    /// Done by the admin in on-premises Active Directory, for an account mastered there: nothing
    /// is sent to the tenant; the admin's note records it and a later read (the step's read-back
    /// after synchronisation, the watch) checks it.
    OnPremises {
        /// What the admin does there.
        task: OnPremisesTask,
    },
    /// Create a one-time Temporary Access Pass; the pass comes back as the outcome's handoff.
    IssueTemporaryAccessPass {
        /// How long it works, in minutes.
        lifetime_minutes: u32,
    },
}

/// What the admin does in Active Directory for an account synchronised from it
/// (spec/graph-behaviour.md, "Synchronised accounts").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnPremisesTask {
    /// Disable the account, so the next synchronisation keeps sign-in blocked.
    DisableAccount,
    /// Reset the password, the one pass-through and federated sign-ins check.
    ResetPassword,
    /// Enable the account again (recovery), so the next synchronisation does not block it.
    EnableAccount,
}

impl OnPremisesTask {
    /// The exact steps, in the admin's words.
    pub fn instruction(self) -> &'static str {
        match self {
            Self::DisableAccount => "In Active Directory Users and Computers, find the account, right-click it and choose Disable Account. Then wait for the next synchronisation (every 30 minutes by default), or run Start-ADSyncSyncCycle -PolicyType Delta on the Entra Connect server.",
            Self::ResetPassword => "In Active Directory Users and Computers, right-click the account, choose Reset Password, set a long random password nobody is told, and tick \"User must change password at next logon\". Then wait for the next synchronisation, or run Start-ADSyncSyncCycle -PolicyType Delta on the Entra Connect server.",
            Self::EnableAccount => "In Active Directory Users and Computers, right-click the account and choose Enable Account, so the next synchronisation does not block it again.",
        }
    }

    /// A stable name (`disable`, `resetPassword`, `enable`), as the training tenant takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::DisableAccount => "disable",
            Self::ResetPassword => "resetPassword",
            Self::EnableAccount => "enable",
        }
    }
}

/// One object the step will change (or one choice it offers), as the plan table shows it. Every
/// string that came from the tenant is attacker-controlled: render it as text.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanItem {
    /// Stable id within the step (`rule:<identity>`, `method:<id>`, ...).
    pub id: String,
    /// What kind of object it is, in plain words.
    pub kind: String,
    /// Its name as the tenant has it.
    pub label: String,
    /// Facts about it, one per line (folder, scopes, addresses ...).
    pub details: Vec<String>,
    /// When it was created, if the tenant says.
    pub created: Option<DateTime<Utc>>,
    /// Whether the tool recommends selecting it.
    pub recommended: bool,
    /// Why (or why not), one reason per line.
    pub reasons: Vec<String>,
    /// Always part of the step (e.g. the account itself for a revoke); cannot be deselected.
    pub fixed: bool,
    /// Items with the same group are alternatives: exactly one must be chosen.
    pub group: Option<String>,
    /// What selecting it does.
    #[serde(skip)]
    pub action: Action,
}

/// Raw data read for the plan, saved as evidence before the change.
#[derive(Debug, Clone)]
pub struct Capture {
    /// A short name for the file (sanitised by the evidence store).
    pub name_hint: String,
    /// What it is.
    pub description: String,
    /// The operation that produced it.
    pub source_operation: String,
    /// The body exactly as received.
    pub body: String,
}

/// What a step will do, computed from a fresh read of the tenant.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The full step id (`a1.contain.revoke`).
    pub step: String,
    /// The account the procedure is about.
    pub account: String,
    /// One sentence: what will change.
    pub summary: String,
    /// The objects, with the recommended selection marked.
    pub items: Vec<PlanItem>,
    /// Warnings the admin must read (synced account, nothing to do, ...).
    pub warnings: Vec<String>,
    /// Descriptions of the evidence that will be saved first.
    pub saved_first: Vec<String>,
    /// Step-specific facts journaled with the step (triage keeps its findings here).
    pub facts: Value,
    /// The reads to save.
    #[serde(skip)]
    pub captures: Vec<Capture>,
}

impl Capture {
    /// One capture per page of a read, named `name` (with `-p<N>` when the read took several
    /// pages), each body exactly as received.
    pub fn pages(name: &str, description: &str, operation: &str, pages: &[String]) -> Vec<Capture> {
        pages
            .iter()
            .enumerate()
            .map(|(i, body)| Capture {
                name_hint: if pages.len() > 1 {
                    format!("{name}-p{}", i + 1)
                } else {
                    name.to_owned()
                },
                description: description.to_owned(),
                source_operation: operation.to_owned(),
                body: body.clone(),
            })
            .collect()
    }
}

impl Plan {
    /// The ids the tool recommends (fixed items included).
    pub fn recommended(&self) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| i.recommended || i.fixed)
            .map(|i| i.id.clone())
            .collect()
    }
}

/// The admin's answer to the confirmation dialog.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation {
    /// The plan item ids to act on (fixed items are added automatically).
    pub selected: Vec<String>,
    /// The account name as typed (destructive steps).
    pub typed_account: Option<String>,
    /// A correction of the incident window start (triage only).
    pub window_start: Option<DateTime<Utc>>,
    /// The admin's own words, journaled with the step (a manual check's finding).
    pub note: Option<String>,
}

/// One read-back check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// The plan item (or `account`).
    pub item: String,
    /// Whether the tenant now shows the intended state.
    pub ok: bool,
    /// What was read.
    pub detail: String,
}

/// The outcome of reading the tenant back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Whether every check passed.
    pub verified: bool,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Check {
    /// A read-back whose target could not be found (the app, the key, the grant): never
    /// verified, and it says why in the admin's words.
    pub fn not_found(item: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            item: item.into(),
            ok: false,
            detail: format!("Not verified: {}", why.into()),
        }
    }
}

impl Verification {
    /// A verification from its checks.
    pub fn from_checks(checks: Vec<Check>) -> Self {
        Self {
            verified: checks.iter().all(|c| c.ok),
            checks,
        }
    }

    /// Adds to each item's read-back what the tenant said when it had nothing to change (an
    /// Exchange warning, an object already gone), so the step result shows it beside whether the
    /// read-back confirmed the item. The read-back alone decides whether it is verified; an item
    /// without a read-back keeps its note in the journal only (`nothingToChange`).
    fn note_nothing_to_change(&mut self, notes: &[(String, String)]) {
        for (item, why) in notes {
            if let Some(check) = self.checks.iter_mut().find(|c| &c.item == item) {
                check.detail = format!("{} {why}", check.detail);
            }
        }
    }

    /// Why the step is not verified (the failed checks, in order), or `None` when it is.
    pub fn why_not(&self) -> Option<String> {
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.detail.as_str())
            .collect();
        (!self.verified).then(|| {
            if failed.is_empty() {
                "No read-back check passed.".to_owned()
            } else {
                failed.join(" ")
            }
        })
    }
}

/// What a run or re-verification ended with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepOutcome {
    /// The full step id.
    pub step: String,
    /// The step's state now.
    pub state: StepState,
    /// The read-back.
    pub verification: Verification,
    /// Evidence files saved before the change.
    pub evidence: Vec<String>,
    /// A secret the step produced for the admin to pass on (a Temporary Access Pass). Never
    /// serialised: the caller delivers it outside the webview.
    #[serde(skip)]
    pub handoff: Option<recover::Handoff>,
}

/// Everything a step reads while planning, performing or verifying.
pub struct StepContext<'a, T> {
    /// The tenant.
    pub tenant: &'a T,
    /// The account (UPN or id) as the case names it.
    pub account: &'a str,
    /// The account as a validated reference.
    pub user: &'a UserRef,
    /// The incident window start recorded at triage, if triage ran.
    pub window_start: Option<DateTime<Utc>>,
    /// Now, from the injected clock.
    pub now: DateTime<Utc>,
    /// The case as journaled when the step was asked for (recovery reads its gate from it).
    pub case: &'a CaseView,
    /// The procedure's scope in the case (`a1` for the first account).
    pub scope: &'a Scope,
}

/// A procedure step. Implementations compute plans and read back; the engine does the rest.
pub trait Step<T: IncidentTenant>: Send + Sync {
    /// What the step is (a static: the catalogue lists it without a tenant).
    fn info(&self) -> &'static StepInfo;
    /// Reads the tenant and says what exactly would change.
    fn plan<'a>(&'a self, cx: &'a StepContext<'a, T>) -> BoxFuture<'a, Result<Plan, Error>>;
    /// Reads the tenant back: did the `selected` items of a run started at `started` take effect?
    fn verify<'a>(
        &'a self,
        cx: &'a StepContext<'a, T>,
        selected: &'a [String],
        started: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Verification, Error>>;
}

/// Who runs the procedure and against which tenant.
pub struct Env<'a, T> {
    /// The tenant.
    pub tenant: &'a T,
    /// The case store (journal, evidence, clock).
    pub store: &'a CaseStore,
    /// Accounts that must never be disabled or reset: the signed-in admin, the break-glass one.
    pub protected: Vec<String>,
    /// The journal actor (`admin`).
    pub actor: &'a str,
}

/// Where one step stands, for the wizard's rail.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// The full step id.
    pub id: String,
    /// What the step is.
    pub info: StepInfo,
    /// Its bookkeeping state; `None` before it ever started.
    pub state: Option<StepState>,
    /// `done`, `current` or `ahead`.
    pub position: Position,
}

/// A step's place relative to the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Position {
    /// Finished or skipped.
    Done,
    /// Not done and open to work on now: the first step not done of an ordered phase, or any
    /// blast-radius check not done once containment is done (several at once).
    Current,
    /// Waiting for an earlier step.
    Ahead,
}

/// An ordered list of steps about one account of a case.
pub struct Procedure<T: IncidentTenant> {
    catalogue: Catalogue,
    steps: Vec<Box<dyn Step<T>>>,
}

fn refused(step: &str, message: impl Into<String>) -> Error {
    Error::StepRefused {
        step: step.to_owned(),
        message: message.into(),
    }
}

fn is_done(state: Option<&StepState>) -> bool {
    matches!(
        state.map(|s| &s.status),
        Some(StepStatus::Finished { .. } | StepStatus::Skipped { .. })
    )
}

impl<T: IncidentTenant> Procedure<T> {
    /// A procedure over `steps` for the `index`-th account (from 1) of a case, named `account`.
    /// Positions count from 1: 0 is read as the first account.
    pub fn new(index: usize, account: impl Into<String>, steps: Vec<Box<dyn Step<T>>>) -> Self {
        let infos = steps.iter().map(|s| s.info()).collect();
        Self {
            catalogue: Catalogue::new(index, account, infos),
            steps,
        }
    }

    /// The steps as a list (what listing them and the report need).
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The compromised-account procedure: triage, then containment in the order of spec/design.md §2.4.
    pub fn compromised_account(index: usize, account: impl Into<String>) -> Self {
        let mut steps: Vec<Box<dyn Step<T>>> = vec![Box::new(triage::Triage)];
        steps.extend(contain::steps());
        steps.extend(blast::steps());
        steps.push(Box::new(crate::sweep::Sweep));
        steps.extend(recover::steps());
        Self::new(index, account, steps)
    }

    /// The account this procedure is about.
    pub fn account(&self) -> &str {
        self.catalogue.account()
    }

    /// The full step id of `key`.
    pub fn step_id(&self, key: &str) -> String {
        self.catalogue.step_id(key)
    }

    /// Which account of the case this procedure is about (`a1` for the first).
    pub fn scope(&self) -> &Scope {
        self.catalogue.scope()
    }

    /// The steps' keys in order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.catalogue.keys()
    }

    fn find(&self, key: &str) -> Result<(usize, &dyn Step<T>), Error> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.info().key == key)
            .map(|(i, s)| (i, s.as_ref()))
            .ok_or_else(|| refused(key, format!("This procedure has no step {key}.")))
    }

    fn state<'c>(&self, case: &'c CaseView, key: &str) -> Option<&'c StepState> {
        self.catalogue.state(case, key)
    }

    /// Where every step stands.
    pub fn view(&self, case: &CaseView) -> Vec<StepView> {
        self.catalogue.view(case)
    }

    fn blocker(&self, case: &CaseView, index: usize) -> Option<&'static StepInfo> {
        self.catalogue.blocker(case, index)
    }

    fn check_order(&self, case: &CaseView, index: usize) -> Result<(), Error> {
        let key = self.steps[index].info().key;
        match self.blocker(case, index) {
            Some(info) => Err(refused(
                &self.step_id(key),
                format!(
                    "\"{}\" comes first: finish it or skip it with a reason before this step. {}",
                    info.title, info.why
                ),
            )),
            None => Ok(()),
        }
    }

    fn check_protected(
        &self,
        env: &Env<'_, T>,
        step: &dyn Step<T>,
        plan_user: &[String],
    ) -> Result<(), Error> {
        if !step.info().refuses_protected {
            return Ok(());
        }
        for name in std::iter::once(self.account()).chain(plan_user.iter().map(String::as_str)) {
            if env.protected.iter().any(|p| p.eq_ignore_ascii_case(name)) {
                return Err(refused(
                    &self.step_id(step.info().key),
                    format!(
                        "{name} is the account Firebreak is signed in with or the break-glass account. \
                         Firebreak never disables or resets it: losing it would lock you out of the tenant."
                    ),
                ));
            }
        }
        Ok(())
    }

    async fn context<'a>(
        &'a self,
        env: &'a Env<'a, T>,
        case: &'a CaseView,
        user: &'a UserRef,
    ) -> StepContext<'a, T> {
        StepContext {
            tenant: env.tenant,
            account: self.catalogue.account(),
            user,
            window_start: self.window_start(case),
            now: env.store.clock().now(),
            case,
            scope: self.catalogue.scope(),
        }
    }

    /// The incident window start recorded by the triage step of this procedure.
    pub fn window_start(&self, case: &CaseView) -> Option<DateTime<Utc>> {
        self.catalogue.window_start(case)
    }

    fn user_ref(&self) -> Result<UserRef, Error> {
        UserRef::new(self.account()).map_err(Error::from)
    }

    /// Computes the plan of step `key` from a fresh read, without changing anything.
    pub async fn plan(&self, env: &Env<'_, T>, case_id: &CaseId, key: &str) -> Result<Plan, Error> {
        let (_, step) = self.find(key)?;
        let case = env.store.case(case_id)?;
        let user = self.user_ref()?;
        let cx = self.context(env, &case, &user).await;
        let mut plan = step.plan(&cx).await?;
        plan.step = self.step_id(key);
        Ok(plan)
    }

    /// Runs step `key` with the admin's `confirmation` (see the module documentation).
    pub async fn run(
        &self,
        env: &Env<'_, T>,
        case_id: &CaseId,
        key: &str,
        confirmation: &Confirmation,
    ) -> Result<StepOutcome, Error> {
        let (index, step) = self.find(key)?;
        let info = step.info();
        let id = self.step_id(key);
        let case = env.store.case(case_id)?;
        self.check_order(&case, index)?;
        if matches!(
            self.state(&case, key).map(|s| &s.status),
            Some(StepStatus::Interrupted)
        ) {
            return Err(refused(
                &id,
                "This step was interrupted. Re-verify it against the tenant first; it will not be repeated blindly.",
            ));
        }
        let user = self.user_ref()?;
        let cx = self.context(env, &case, &user).await;
        // The fresh plan and the account's identity are independent reads: fetch them together.
        let (plan, resolved) =
            futures_util::future::join(step.plan(&cx), env.tenant.user(&user)).await;
        let mut plan = plan?;
        plan.step = id.clone();
        let resolved = resolved?;
        let names: Vec<String> = resolved
            .iter()
            .flat_map(|u| [Some(u.id.clone()), u.user_principal_name.clone()])
            .flatten()
            .collect();
        self.check_protected(env, step, &names)?;
        if info.destructive {
            let typed = confirmation
                .typed_account
                .as_deref()
                .map(str::trim)
                .unwrap_or("");
            if !typed.eq_ignore_ascii_case(self.account().trim()) {
                return Err(refused(
                    &id,
                    format!(
                        "Type the account name {} exactly to confirm this change.",
                        self.account()
                    ),
                ));
            }
        }
        let selected = self.resolve_selection(&id, &plan, &confirmation.selected)?;
        let note = confirmation
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let on_premises = plan
            .items
            .iter()
            .any(|i| selected.contains(&i.id) && matches!(i.action, Action::OnPremises { .. }));
        if note.is_none() && on_premises {
            return Err(refused(
                &id,
                "Say in the note what you did in Active Directory, who did it and when: Firebreak cannot see on-premises changes, so the note is the record until the next synchronisation shows them.",
            ));
        }
        if note.is_none() && selected.iter().any(|s| s == blast::FOUND_ANSWER) {
            return Err(refused(
                &id,
                "Describe what you found in the note: it goes into the case and the report.",
            ));
        }
        self.check_targets(env, &id, &plan, &selected).await?;
        let recommended = plan.recommended();
        let mut facts = plan.facts.clone();
        if let (Some(start), Some(obj)) = (confirmation.window_start, facts.as_object_mut()) {
            obj.insert(
                "windowStartProposed".into(),
                obj.get("windowStart").cloned().unwrap_or(Value::Null),
            );
            obj.insert("windowStart".into(), json!(start));
        }
        let started = env.store.start_step(
            case_id,
            env.actor,
            &id,
            json!({
                "account": self.account(),
                "summary": plan.summary,
                "items": plan.items,
                "warnings": plan.warnings,
                "recommended": recommended,
                "selected": selected,
                "facts": facts,
                "note": note,
            }),
        )?;
        let evidence = match self.capture(env, case_id, &plan) {
            Ok(files) => files,
            Err(error) => {
                let _ = env.store.fail_step(
                    case_id,
                    env.actor,
                    &id,
                    &format!("The evidence could not be saved, so nothing was changed: {error}"),
                    Value::Null,
                );
                return Err(error);
            }
        };
        let performed = match act::perform_selection(env.tenant, &user, &plan, &selected).await {
            Ok(performed) => performed,
            Err((error, label, done)) => {
                let reason = format!("{label} could not be changed: {error}");
                env.store
                    .fail_step(case_id, env.actor, &id, &reason, json!({ "done": done }))?;
                return Err(error);
            }
        };
        let mut verification = act::read_back(
            step,
            &cx,
            &selected,
            started.since,
            &performed,
            performed.changed_tenant(&plan),
        )
        .await?;
        verification.note_nothing_to_change(&performed.nothing_to_change);
        let nothing: Vec<Value> = performed
            .nothing_to_change
            .iter()
            .map(|(item, why)| json!({ "item": item, "why": why }))
            .collect();
        let done = &performed.done;
        let refused: Vec<&str> = performed.refused.iter().map(|r| r.item.as_str()).collect();
        let handoff = performed.handoff;
        let mut finished = json!({ "done": done, "refused": refused, "checks": verification.checks, "nothingToChange": nothing, "windowStart": facts.get("windowStart"), "facts": facts, "note": note });
        if let Some(result) = check_result(&facts) {
            finished["checkResult"] = json!(result);
        }
        if let Some(pass) = &handoff {
            // What was issued, never the secret: a re-run looks for this pass before another.
            finished["issued"] = json!({ "methodId": pass.method_id, "validFrom": pass.valid_from, "lifetimeMinutes": pass.lifetime_minutes });
        }
        let state =
            env.store
                .finish_step(case_id, env.actor, &id, verification.verified, finished)?;
        Ok(StepOutcome {
            step: id,
            state,
            verification,
            evidence,
            handoff,
        })
    }

    /// Refuses a selection that would disable, reset or sign out a protected account through an
    /// [`Action::On`] row (a created user that turns out to be the break-glass account).
    async fn check_targets(
        &self,
        env: &Env<'_, T>,
        id: &str,
        plan: &Plan,
        selected: &[String],
    ) -> Result<(), Error> {
        for item in plan.items.iter().filter(|i| selected.contains(&i.id)) {
            let Action::On { target, action } = &item.action else {
                continue;
            };
            if !matches!(
                action.as_ref(),
                Action::DisableAccount | Action::ResetPassword | Action::RevokeSessions
            ) {
                continue;
            }
            let mut names = vec![target.clone()];
            if let Ok(Some(u)) = env.tenant.user(&UserRef::new(target)?).await {
                names.extend(u.user_principal_name);
                names.push(u.id);
            }
            if names
                .iter()
                .any(|n| env.protected.iter().any(|p| p.eq_ignore_ascii_case(n)))
            {
                return Err(refused(
                    id,
                    format!(
                        "{target} is the account Firebreak is signed in with or the break-glass account. \
                         Firebreak never disables or resets it: losing it would lock you out of the tenant."
                    ),
                ));
            }
        }
        Ok(())
    }

    fn resolve_selection(
        &self,
        id: &str,
        plan: &Plan,
        selected: &[String],
    ) -> Result<Vec<String>, Error> {
        for s in selected {
            if !plan.items.iter().any(|i| &i.id == s) {
                return Err(refused(
                    id,
                    "The tenant changed since the plan was shown: an item you selected is no longer there. Review the plan again.",
                ));
            }
        }
        let mut groups: Vec<&str> = plan
            .items
            .iter()
            .filter_map(|i| i.group.as_deref())
            .collect();
        groups.dedup();
        for group in groups {
            let chosen = plan
                .items
                .iter()
                .filter(|i| i.group.as_deref() == Some(group) && selected.contains(&i.id))
                .count();
            if chosen != 1 {
                return Err(refused(
                    id,
                    format!("Choose exactly one answer for \"{group}\"."),
                ));
            }
        }
        Ok(plan
            .items
            .iter()
            .filter(|i| i.fixed || selected.contains(&i.id))
            .map(|i| i.id.clone())
            .collect())
    }

    fn capture(
        &self,
        env: &Env<'_, T>,
        case_id: &CaseId,
        plan: &Plan,
    ) -> Result<Vec<String>, Error> {
        let now = env.store.clock().now();
        let mut files = Vec::new();
        for c in &plan.captures {
            let record = env.store.add_evidence(
                case_id,
                crate::case::APPLICATION,
                &NewArtefact {
                    name_hint: format!("{}-{}", plan.step, c.name_hint),
                    format: ArtefactFormat::Json,
                    description: c.description.clone(),
                    source_operation: c.source_operation.clone(),
                    captured_at: now,
                },
                c.body.as_bytes(),
            )?;
            files.push(record.file);
        }
        Ok(files)
    }

    /// Skips step `key` with a reason (order is enforced as for running it).
    pub fn skip(
        &self,
        store: &CaseStore,
        actor: &str,
        case_id: &CaseId,
        key: &str,
        reason: &str,
    ) -> Result<StepState, Error> {
        let (index, _) = self.find(key)?;
        let case = store.case(case_id)?;
        self.check_order(&case, index)?;
        store.skip_step(case_id, actor, &self.step_id(key), reason)
    }

    /// Re-verifies an interrupted, failed or finished-but-unverified step against the tenant with
    /// the selection journaled when it started, and records whether it was found done. Nothing is
    /// sent to the tenant but reads.
    pub async fn reverify(
        &self,
        env: &Env<'_, T>,
        case_id: &CaseId,
        key: &str,
    ) -> Result<StepOutcome, Error> {
        let (_, step) = self.find(key)?;
        let id = self.step_id(key);
        let case = env.store.case(case_id)?;
        let started = case
            .journal
            .iter()
            .rev()
            .find(|e| e.kind == EntryKind::StepStarted && e.step.as_deref() == Some(id.as_str()))
            .ok_or_else(|| {
                refused(
                    &id,
                    "This step never started; there is nothing to re-verify.",
                )
            })?;
        let selected: Vec<String> = started
            .details
            .pointer("/detail/selected")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let since = started.time;
        let user = self.user_ref()?;
        let cx = self.context(env, &case, &user).await;
        let verification = step.verify(&cx, &selected, since).await?;
        let state = env.store.reverify_step(
            case_id,
            env.actor,
            &id,
            verification.verified,
            json!({ "selected": selected, "checks": verification.checks }),
        )?;
        Ok(StepOutcome {
            step: id,
            state,
            verification,
            evidence: Vec::new(),
            handoff: None,
        })
    }
}

/// The final status of a blast-radius check from its plan's `facts.check.status`: `clean`,
/// `finding` or `notAvailable` as planned, and `checkedByHand` for a manual check the admin
/// answered. `None` for steps that are not checks.
fn check_result(facts: &Value) -> Option<&'static str> {
    match facts.pointer("/check/status").and_then(Value::as_str)? {
        "clean" => Some("clean"),
        "finding" => Some("finding"),
        "notAvailable" => Some("notAvailable"),
        "manual" => Some("checkedByHand"),
        _ => None,
    }
}

/// The account an action is performed on: the procedure's, or the one an [`Action::On`] names.
fn target_user(user: &UserRef, action: &Action) -> Result<UserRef, Error> {
    match action {
        Action::On { target, .. } => Ok(UserRef::new(target)?),
        _ => Ok(user.clone()),
    }
}

/// The action itself, without the [`Action::On`] wrapper.
fn target_action(action: &Action) -> &Action {
    match action {
        Action::On { action, .. } => action,
        other => other,
    }
}

/// What performing one action gave back besides success.
#[derive(Default)]
struct Performed {
    /// A secret for the admin (a Temporary Access Pass).
    handoff: Option<recover::Handoff>,
    /// Why the tenant had nothing to change, in its words: Exchange's warning, or the object
    /// already gone. The read-back decides whether the item is done.
    nothing_to_change: Option<String>,
}

impl Performed {
    fn nothing(why: String) -> Self {
        Self {
            handoff: None,
            nothing_to_change: Some(why),
        }
    }
}

/// Performs one action on the tenant.
async fn perform<T: IncidentTenant>(
    tenant: &T,
    user: &UserRef,
    action: &Action,
) -> Result<Performed, Error> {
    let changed: Result<(), Error> = match action {
        Action::Record | Action::OnPremises { .. } => Ok(()),
        Action::EnableAccount => Ok(tenant.set_account_enabled(user, true).await?),
        Action::IssueTemporaryAccessPass { lifetime_minutes } => {
            return recover::issue_pass(tenant, user, *lifetime_minutes)
                .await
                .map(|pass| Performed {
                    handoff: Some(pass),
                    nothing_to_change: None,
                })
        }
        Action::RevokeSessions => Ok(tenant.revoke_sessions(user).await?),
        Action::DisableAccount => Ok(tenant.set_account_enabled(user, false).await?),
        Action::ResetPassword => {
            let password = random_password()?;
            Ok(tenant.reset_password(user, &password).await?)
        }
        Action::DeleteMethod { kind, id } => Ok(tenant.delete_method(user, *kind, id).await?),
        Action::RemoveInboxRule { identity } => {
            return exchange_change(tenant.remove_inbox_rule(user, identity).await, Removal::Yes)
        }
        Action::ClearForwarding => {
            return exchange_change(tenant.clear_forwarding(user).await, Removal::No)
        }
        Action::RemoveMailboxPermission {
            user: who,
            rights,
            inheritance_type,
        } => {
            return exchange_change(
                tenant
                    .remove_mailbox_permission(user, who, rights, inheritance_type.as_deref())
                    .await,
                Removal::Yes,
            )
        }
        Action::RemoveRecipientPermission { trustee, rights } => {
            return exchange_change(
                tenant
                    .remove_recipient_permission(user, trustee, rights)
                    .await,
                Removal::Yes,
            )
        }
        Action::RemoveSendOnBehalf { trustee } => {
            return exchange_change(
                tenant.remove_send_on_behalf(user, trustee).await,
                Removal::No,
            )
        }
        Action::DeleteGrant { id } => Ok(tenant.delete_grant(id).await?),
        Action::DisableServicePrincipal { id } => Ok(tenant.disable_service_principal(id).await?),
        Action::RemoveApplicationPassword {
            application,
            key_id,
        } => Ok(tenant
            .remove_application_password(application, key_id)
            .await?),
        Action::RemoveApplicationCertificate {
            application,
            key_id,
        } => remove_certificate(tenant, application, key_id).await,
        Action::RemoveDirectoryRoleMember { role, member } => {
            match tenant.remove_directory_role_member(role, member).await {
                Ok(()) => Ok(()),
                // Gone already (a retry after a lost answer, or someone removed it meanwhile):
                // the read-back decides.
                Err(e) if e.is_not_found() => {
                    return Ok(Performed::nothing(
                        "Already gone: the account no longer held the role.".into(),
                    ))
                }
                Err(e) => Err(e.into()),
            }
        }
        Action::On { .. } => Err(Error::InvalidInput {
            field: "action",
            problem: "An action on another account cannot itself point to a third one.".into(),
        }),
        Action::ConfirmCompromised => {
            let resolved = tenant
                .user(user)
                .await?
                .ok_or_else(|| Error::InvalidInput {
                    field: "account",
                    problem: format!("The account {user} no longer exists in the tenant."),
                })?;
            Ok(tenant.confirm_compromised(&resolved.id).await?)
        }
    };
    changed.map(|()| Performed::default())
}

/// Whether an Exchange change removes an object (a Remove- cmdlet) rather than setting a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    Yes,
    No,
}

/// An Exchange change's outcome (spec/exchange.md, "Warnings and no-ops"). Its warnings mean
/// there was nothing to change. For a removal, an object Exchange cannot find is already gone:
/// a retry after a lost answer whose first try went through, or someone removed it meanwhile.
/// Either way the read-back decides whether the item is done.
fn exchange_change(
    result: Result<tenant::ExchangeWarnings, firebreak_graph::Error>,
    removal: Removal,
) -> Result<Performed, Error> {
    match result {
        Ok(warnings) if warnings.is_empty() => Ok(Performed::default()),
        Ok(warnings) => Ok(Performed::nothing(format!(
            "Exchange reported nothing to change: {}",
            warnings.join(" ")
        ))),
        Err(e) if removal == Removal::Yes && e.is_not_found() => Ok(Performed::nothing(format!(
            "Already gone: Exchange could not find it ({}).",
            e.message().unwrap_or("not found")
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Rewrites an app registration's certificates without `key_id`, keeping every other one as read
/// (with its public key). Nothing is sent when the certificate is already gone; the change is
/// refused when a certificate to keep came back without its key (sending it would delete it).
async fn remove_certificate<T: IncidentTenant>(
    tenant: &T,
    application: &str,
    key_id: &str,
) -> Result<(), Error> {
    let app = tenant
        .application(application)
        .await?
        .and_then(|f| f.items.into_iter().next())
        .ok_or_else(|| Error::InvalidInput {
            field: "application",
            problem: format!(
                "The app registration {application} no longer exists, so its certificate cannot be removed."
            ),
        })?;
    let same = |k: &firebreak_graph::applications::KeyCredential| {
        k.key_id
            .as_deref()
            .is_some_and(|id| id.eq_ignore_ascii_case(key_id))
    };
    if !app.keys().iter().any(same) {
        return Ok(());
    }
    let keep: Vec<_> = app.keys().iter().filter(|k| !same(k)).cloned().collect();
    if keep
        .iter()
        .any(|k| k.key.as_deref().unwrap_or("").is_empty())
    {
        return Err(Error::InvalidInput {
            field: "application",
            problem: "Microsoft Graph did not return the certificates to keep, so rewriting the list would delete them. Remove the certificate by hand: Entra admin center > App registrations > the app > Certificates & secrets.".into(),
        });
    }
    Ok(tenant
        .set_application_key_credentials(application, &keep)
        .await?)
}

const PASSWORD_LENGTH: usize = 28;
const PASSWORD_ALPHABET: &[u8] =
    b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#$%&*+-=?@^_";

/// A random password from the operating system's cryptographic generator, with an upper-case
/// letter, a lower-case letter, a digit and a symbol (Entra's complexity rule). It lives only in a
/// [`SecretString`]: never shown, logged or stored.
pub fn random_password() -> Result<SecretString, Error> {
    loop {
        let mut bytes = [0u8; PASSWORD_LENGTH];
        getrandom::fill(&mut bytes).map_err(|e| Error::ReportFailed {
            detail: format!("the operating system's random generator failed ({e})"),
        })?;
        // Rejection sampling keeps every character equally likely.
        let limit = 256 - (256 % PASSWORD_ALPHABET.len());
        let chars: String = bytes
            .iter()
            .filter(|b| usize::from(**b) < limit)
            .map(|b| char::from(PASSWORD_ALPHABET[usize::from(*b) % PASSWORD_ALPHABET.len()]))
            .collect();
        let complex = chars.len() >= 20
            && chars.bytes().any(|b| b.is_ascii_uppercase())
            && chars.bytes().any(|b| b.is_ascii_lowercase())
            && chars.bytes().any(|b| b.is_ascii_digit())
            && chars.bytes().any(|b| !b.is_ascii_alphanumeric());
        if complex {
            return Ok(SecretString::from(chars));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_whose_target_was_not_found_is_never_verified_and_says_why() {
        let found = Check {
            item: "grant:g1".into(),
            ok: true,
            detail: "Gone.".into(),
        };
        let missing = Check::not_found(
            "appcred:a1:k1",
            "the app registration a1 could not be found.",
        );
        assert!(!missing.ok);
        assert!(
            missing.detail.starts_with("Not verified: "),
            "{}",
            missing.detail
        );
        let verification = Verification::from_checks(vec![found.clone(), missing]);
        assert!(!verification.verified);
        let why = verification.why_not().expect("a reason");
        assert!(why.contains("could not be found"), "{why}");
        let fine = Verification::from_checks(vec![found]);
        assert!(fine.verified);
        assert_eq!(fine.why_not(), None);
    }
}
