//! Practice against the training tenant: the headless run behind `firebreak practice` (and the
//! tests that prove the procedure on every shipped scenario), and the scoring that decides
//! whether a run contained the incident ([`judge`]: no attacker artefact left, no look-alike
//! removed, nothing held by the attacker on any account, no return). The headless run follows
//! the sideways sweep: each account it recommends becomes a linked case contained the same way.
//!
//! The simulated tenant is reached like any tenant, through [`IncidentTenant`]; what only a
//! simulator has (its clock, its score) comes through [`TrainingControl`], implemented here for
//! the training tenant in this process (`firebreak_sim::SimServer`). The score is read typed
//! ([`Score`]), as the simulator writes it.

use std::{
    collections::{BTreeSet, VecDeque},
    sync::Arc,
};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

pub use firebreak_sim::score::{ArtefactKind, Score};

use crate::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, CaseStore, CaseView, ADMIN,
    },
    clock::Clock,
    procedure::{
        blast, tenant::IncidentTenant, Confirmation, Env, OnPremisesTask, Phase, Procedure,
    },
    sweep, Error,
};

/// What only the simulated tenant offers: its clock and its score.
pub trait TrainingControl: Send + Sync {
    /// The simulated time.
    fn now(&self) -> DateTime<Utc>;
    /// Lets simulated time pass; the attacker acts over it.
    fn advance(&self, by: Duration);
    /// The simulator's score (`GET /_sim/score`).
    fn score(&self) -> Score;
    /// Plays the admin's part in on-premises Active Directory for a synchronised account
    /// (`POST /_sim/onPremises`). A training tenant without Active Directory refuses.
    fn on_premises(&self, account: &str, task: OnPremisesTask) -> Result<(), String> {
        Err(format!(
            "this training tenant has no Active Directory to {} {account} in",
            task.name()
        ))
    }
}

/// The training tenant in this process: its clock, score and on-premises desk as the procedure
/// sees them.
impl TrainingControl for firebreak_sim::SimServer {
    fn now(&self) -> DateTime<Utc> {
        firebreak_sim::SimServer::now(self)
    }
    fn advance(&self, by: Duration) {
        firebreak_sim::SimServer::advance(self, by);
    }
    fn score(&self) -> Score {
        firebreak_sim::SimServer::score(self)
    }
    fn on_premises(&self, account: &str, task: OnPremisesTask) -> Result<(), String> {
        firebreak_sim::SimServer::on_premises(self, account, task.name()).map(|_| ())
    }
}

/// The simulated clock as the case store's clock, so journal times match the tenant's.
#[derive(Clone)]
pub struct TrainingClock(pub Arc<dyn TrainingControl>);

impl std::fmt::Debug for TrainingClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TrainingClock")
    }
}

impl Clock for TrainingClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    fn sleep(&self, duration: std::time::Duration) -> futures_util::future::BoxFuture<'static, ()> {
        // Waiting (retries, polling) still takes real time; only "now" is simulated.
        firebreak_graph::SystemClock.sleep(duration)
    }
}

/// The simulated clock for a headless run whose simulator's clock stands still: waiting (a
/// Purview audit search being polled, a retry) lets that much simulated time pass at once
/// instead of sleeping, so a search that takes 90 simulated seconds finishes without a real
/// wait. The attacker acts over that time as over any other.
#[derive(Clone)]
pub struct HeadlessClock(pub Arc<dyn TrainingControl>);

impl std::fmt::Debug for HeadlessClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeadlessClock")
    }
}

impl Clock for HeadlessClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }

    fn sleep(&self, duration: std::time::Duration) -> futures_util::future::BoxFuture<'static, ()> {
        self.0
            .advance(Duration::from_std(duration).unwrap_or_else(|_| Duration::zero()));
        // A short real pause keeps a polling loop from spinning.
        firebreak_graph::SystemClock.sleep(std::time::Duration::from_millis(1))
    }
}

/// How the headless run behaves.
#[derive(Debug, Clone)]
pub struct PracticeOptions {
    /// Simulated time a person takes per step (reading the plan, typing the name).
    pub pause_per_step: Duration,
    /// Simulated time let pass after the last step before scoring, so the attacker can try to
    /// come back and the tokens that outlive a revocation expire (see [`Default`]). When the
    /// score still shows an access token working after this, the run waits past it too.
    pub settle: Duration,
    /// Accounts never to disable or reset (the break-glass account, the signed-in admin): a
    /// sweep hit naming one is not opened as a linked case.
    pub protected: Vec<String>,
}

impl Default for PracticeOptions {
    /// Three simulated hours of settling: longer than an access token outlives the revocation of
    /// its session (Entra issues them for 60 to 90 minutes, 75 on average; the attacker's token
    /// was refreshed at most an hour before containment), than the attacker takes to reset back
    /// in with a method left behind (45 minutes), and than a consented app takes to get a new
    /// token while its grant remains (two hours after losing it).
    fn default() -> Self {
        Self {
            pause_per_step: Duration::minutes(2),
            settle: Duration::hours(3),
            protected: Vec::new(),
        }
    }
}

/// One step as the headless run did it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeStep {
    /// The full step id (prefixed with the case id for a linked case's steps).
    pub step: String,
    /// What was selected (the recommendation).
    pub selected: Vec<String>,
    /// Whether the read-back confirmed it.
    pub verified: bool,
    /// Why it was skipped instead (a manual blast-radius check).
    pub skipped: Option<String>,
}

/// What the attacker still holds on one account at the end of a run, from the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttackerFoothold {
    /// The account (its user principal name, or its id when the score names none).
    pub account: String,
    /// Each thing held, in plain words (a session, an access token until a time, a password, a
    /// method, an app).
    pub holds: Vec<String>,
    /// Mailboxes the account's delegate rights open to whoever holds its session.
    pub reaches: Vec<String>,
}

/// What [`judge`] reads in a score.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    /// Why the run does not count as contained (empty when it does).
    pub problems: Vec<String>,
    /// Attacker artefacts left that no plan listed.
    pub left_for_blast_radius: Vec<firebreak_sim::score::Artefact>,
    /// What the attacker still holds, per account.
    pub attacker_access: Vec<AttackerFoothold>,
}

/// The result of a headless practice run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeRun {
    /// The case it opened.
    pub case_id: CaseId,
    /// The linked cases the sideways sweep opened and the run contained too.
    pub linked_cases: Vec<CaseId>,
    /// The accounts it contained, the flagged ones first, then those of the linked cases.
    pub accounts: Vec<String>,
    /// The steps in the order run.
    pub steps: Vec<PracticeStep>,
    /// The simulator's score at the end.
    pub score: Score,
    /// Why the run does not count as a full score (empty when it does).
    pub problems: Vec<String>,
    /// Attacker artefacts left that no step or check of the procedure even listed (each is also
    /// a problem): what the checks missed.
    pub left_for_blast_radius: Vec<firebreak_sim::score::Artefact>,
    /// What the attacker still holds at the end, per account (each is also a problem).
    pub attacker_access: Vec<AttackerFoothold>,
    /// Sweep hits not followed, and why (a protected account, one already contained).
    pub notes: Vec<String>,
}

impl PracticeRun {
    /// Whether the run contained the incident: every attacker artefact gone, no look-alike
    /// removed, the attacker holding no session, token or credential anywhere, and never back.
    pub fn contained(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The accounts Defender's alerts of the last 7 days name (user evidence), in order of first
/// appearance: who the admin would be told about.
pub async fn flagged_accounts<T: IncidentTenant>(
    tenant: &T,
    now: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    let alerts = tenant.alerts(now - Duration::days(7)).await?;
    let mut accounts: Vec<String> = Vec::new();
    let mut items = alerts.items;
    items.sort_by_key(|a| a.created_date_time);
    for alert in &items {
        for evidence in alert.evidence.iter().flatten() {
            let upn = evidence
                .pointer("/userAccount/userPrincipalName")
                .and_then(Value::as_str)
                .map(str::to_lowercase);
            if let Some(upn) = upn {
                if !accounts.contains(&upn) {
                    accounts.push(upn);
                }
            }
        }
    }
    Ok(accounts)
}

/// One account's procedure to run: in which case, as which account of it.
struct Pending {
    case_id: CaseId,
    index: usize,
    account: String,
    /// Whether the case is a linked one (its steps are shown with the case id).
    linked: bool,
}

/// Runs the compromised-account procedure with the tool's recommended selections on every
/// flagged account, confirming each step as a person would; opens each account the sideways
/// sweep recommends as a linked case and runs the same procedure there (never twice for one
/// account, never on a protected one); then lets the attacker act and scores the result.
/// `store` must be timed by the simulated clock ([`TrainingClock`]).
pub async fn run_headless<T: IncidentTenant>(
    tenant: &T,
    control: &dyn TrainingControl,
    store: &CaseStore,
    title: &str,
    options: &PracticeOptions,
) -> Result<PracticeRun, Error> {
    let case = declare_case(tenant, store, control.now(), title).await?;
    let env = Env {
        tenant,
        store,
        protected: options.protected.clone(),
        actor: ADMIN,
    };
    let mut protected_ids = BTreeSet::new();
    for name in &options.protected {
        if let Ok(Some(user)) = tenant.user(&firebreak_graph::UserRef::new(name)?).await {
            protected_ids.insert(user.id.to_lowercase());
        }
    }
    let mut queue: VecDeque<Pending> = case
        .metadata
        .accounts
        .iter()
        .enumerate()
        .map(|(i, account)| Pending {
            case_id: case.id.clone(),
            index: i + 1,
            account: account.clone(),
            linked: false,
        })
        .collect();
    // Every account queued so far, by name and id: a linked case finding one again is a loop.
    let mut handled: BTreeSet<String> = case
        .metadata
        .accounts
        .iter()
        .map(|a| a.to_lowercase())
        .collect();
    let mut accounts = Vec::new();
    let mut linked_cases = Vec::new();
    let mut notes = Vec::new();
    let mut steps = Vec::new();
    let mut user_ids = BTreeSet::new();
    let mut reached_ids = BTreeSet::new();
    while let Some(pending) = queue.pop_front() {
        if let Ok(Some(user)) = tenant
            .user(&firebreak_graph::UserRef::new(&pending.account)?)
            .await
        {
            handled.insert(user.id.to_lowercase());
            user_ids.insert(user.id);
        }
        accounts.push(pending.account.clone());
        let procedure = Procedure::<T>::compromised_account(pending.index, pending.account.clone());
        let (sweep_selection, disabled_by_checks) = run_procedure(
            &procedure,
            &env,
            control,
            options,
            &pending,
            &mut steps,
            &mut reached_ids,
        )
        .await?;
        let source = store.case(&pending.case_id)?;
        let scope = procedure.scope().clone();
        for hit in sweep::recorded_hits(&source, &scope) {
            let chosen = sweep_selection.iter().any(|id| {
                id.strip_prefix("account/").is_some_and(|who| {
                    who.eq_ignore_ascii_case(&hit.account)
                        || hit
                            .user_id
                            .as_deref()
                            .is_some_and(|u| u.eq_ignore_ascii_case(who))
                })
            });
            if !chosen {
                continue;
            }
            let names: Vec<String> = std::iter::once(hit.account.to_lowercase())
                .chain(hit.user_id.as_deref().map(str::to_lowercase))
                .collect();
            if names.iter().any(|n| {
                protected_ids.contains(n)
                    || options.protected.iter().any(|p| p.eq_ignore_ascii_case(n))
            }) {
                notes.push(format!(
                    "{} was found by the sideways sweep but is protected (break-glass or the signed-in admin): Firebreak does not contain it; check it by hand.",
                    hit.account
                ));
                continue;
            }
            if names.iter().any(|n| disabled_by_checks.contains(n)) {
                notes.push(format!(
                    "{} was found by the sideways sweep, but a blast-radius check already judged it an account the attacker created and disabled it: it is not given back to anyone, so no linked case.",
                    hit.account
                ));
                continue;
            }
            if names.iter().any(|n| handled.contains(n)) {
                notes.push(format!(
                    "{} was found again by the sideways sweep of {}: it is already being contained.",
                    hit.account, pending.account
                ));
                continue;
            }
            let opened =
                sweep::open_linked_case(store, ADMIN, &pending.case_id, &scope, &hit.account)?;
            handled.extend(names);
            linked_cases.push(opened.id.clone());
            for (i, account) in opened.metadata.accounts.iter().enumerate() {
                queue.push_back(Pending {
                    case_id: opened.id.clone(),
                    index: i + 1,
                    account: account.clone(),
                    linked: true,
                });
            }
        }
    }
    control.advance(options.settle);
    let mut score = control.score();
    // An access token that outlives its revoked session works until it expires: let that pass
    // too, so the score shows what the attacker holds for good.
    if let Some(until) = score.attacker_token_until {
        let now = control.now();
        if until >= now {
            control.advance(until - now + Duration::minutes(1));
            score = control.score();
        }
    }
    let mut judgement = judge(&score, &user_ids, &reached_ids);
    let mut infrastructure = Vec::new();
    for id in std::iter::once(&case.id).chain(&linked_cases) {
        let view = store.case(id)?;
        for scope in (1..=view.metadata.accounts.len()).filter_map(crate::scope::Scope::numbered) {
            infrastructure.push(crate::procedure::triage::recorded_infrastructure(
                &view, &scope,
            ));
        }
    }
    judgement
        .problems
        .extend(accusations(&score, &user_ids, &infrastructure));
    Ok(PracticeRun {
        case_id: case.id,
        linked_cases,
        accounts,
        steps,
        score,
        problems: judgement.problems,
        left_for_blast_radius: judgement.left_for_blast_radius,
        attacker_access: judgement.attacker_access,
        notes,
    })
}

/// Runs one account's procedure with the recommended selections; returns what was selected in
/// its sideways sweep, and the accounts its blast-radius checks disabled as the attacker's own
/// (lower-case ids).
async fn run_procedure<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
    control: &dyn TrainingControl,
    options: &PracticeOptions,
    pending: &Pending,
    steps: &mut Vec<PracticeStep>,
    reached_ids: &mut BTreeSet<String>,
) -> Result<(Vec<String>, BTreeSet<String>), Error> {
    let label = |step: String| {
        if pending.linked {
            format!("{}/{step}", pending.case_id)
        } else {
            step
        }
    };
    let checks: Vec<&str> = procedure
        .view(&env.store.case(&pending.case_id)?)
        .iter()
        .filter(|v| v.info.phase == Phase::Blast)
        .map(|v| v.info.key)
        .collect();
    let mut sweep_selection = Vec::new();
    let mut disabled = BTreeSet::new();
    for key in procedure.keys() {
        if checks.contains(&key) {
            if key == checks[0] {
                let done = run_checks(
                    procedure,
                    env,
                    control,
                    &pending.case_id,
                    &pending.account,
                    reached_ids,
                )
                .await?;
                for mut step in done {
                    if step.step == procedure.step_id(sweep::KEY) {
                        sweep_selection = step.selected.clone();
                    }
                    disabled.extend(
                        step.selected.iter().filter_map(|id| {
                            id.strip_prefix("user-disable:").map(str::to_lowercase)
                        }),
                    );
                    step.step = label(step.step);
                    steps.push(step);
                    control.advance(options.pause_per_step);
                }
            }
            continue;
        }
        let plan = procedure.plan(env, &pending.case_id, key).await?;
        for item in &plan.items {
            if let Some((_, id)) = item.id.split_once(':') {
                reached_ids.insert(id.to_owned());
            }
        }
        let mut step = run_recommended(
            procedure,
            env,
            control,
            &pending.case_id,
            key,
            &pending.account,
            plan,
            reached_ids,
        )
        .await?;
        step.step = label(step.step);
        steps.push(step);
        control.advance(options.pause_per_step);
    }
    Ok((sweep_selection, disabled))
}

/// Plans every blast-radius check at once ([`blast::plan_all`]), then runs each with the
/// recommended selection as a person would; manual checks are skipped with
/// [`blast::HEADLESS_SKIP`].
async fn run_checks<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
    control: &dyn TrainingControl,
    case_id: &CaseId,
    account: &str,
    reached_ids: &mut BTreeSet<String>,
) -> Result<Vec<PracticeStep>, Error> {
    let plans = blast::plan_all(
        procedure,
        env,
        case_id,
        &firebreak_graph::CancellationToken::new(),
        &|_| {},
    )
    .await?;
    let mut steps = Vec::new();
    for (key, plan) in plans {
        let plan = plan?;
        let id = procedure.step_id(key);
        if plan.facts.pointer("/check/status").and_then(Value::as_str) == Some("manual") {
            procedure.skip(env.store, env.actor, case_id, key, blast::HEADLESS_SKIP)?;
            steps.push(PracticeStep {
                step: id,
                selected: Vec::new(),
                verified: false,
                skipped: Some(blast::HEADLESS_SKIP.into()),
            });
            continue;
        }
        for item in &plan.items {
            reached_ids.extend(item.id.split(':').skip(1).map(str::to_owned));
        }
        steps.push(
            run_recommended(
                procedure,
                env,
                control,
                case_id,
                key,
                account,
                plan,
                reached_ids,
            )
            .await?,
        );
    }
    Ok(steps)
}

/// Runs `key` with the recommendation of `plan`. When the engine refuses because the tenant
/// changed since that plan (the attacker acts meanwhile: an access token outliving its session
/// still reads mail, a check planned a minute earlier finds more), the step is planned again
/// and run with the fresh recommendation, once — what a person does after "review the plan
/// again".
#[allow(clippy::too_many_arguments)]
async fn run_recommended<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
    control: &dyn TrainingControl,
    case_id: &CaseId,
    key: &str,
    account: &str,
    plan: crate::procedure::Plan,
    reached_ids: &mut BTreeSet<String>,
) -> Result<PracticeStep, Error> {
    let confirm = |plan: &crate::procedure::Plan| Confirmation {
        selected: plan.recommended(),
        typed_account: Some(account.to_owned()),
        window_start: None,
        note: on_premises(control, plan, account),
    };
    let mut confirmation = confirm(&plan);
    let outcome = match procedure.run(env, case_id, key, &confirmation).await {
        Err(Error::StepRefused { message, .. }) if message.contains("tenant changed") => {
            let fresh = procedure.plan(env, case_id, key).await?;
            for item in &fresh.items {
                reached_ids.extend(item.id.split(':').skip(1).map(str::to_owned));
            }
            confirmation = confirm(&fresh);
            procedure.run(env, case_id, key, &confirmation).await?
        }
        other => other?,
    };
    Ok(PracticeStep {
        step: outcome.step,
        selected: confirmation.selected,
        verified: outcome.verification.verified,
        skipped: None,
    })
}

/// Does in the training tenant's Active Directory what the recommended on-premises items of
/// `plan` ask of the admin, and returns the note the admin would write (`None` when the plan asks
/// nothing on-premises).
fn on_premises(
    control: &dyn TrainingControl,
    plan: &crate::procedure::Plan,
    account: &str,
) -> Option<String> {
    let recommended = plan.recommended();
    let done: Vec<String> = plan
        .items
        .iter()
        .filter(|i| recommended.contains(&i.id))
        .filter_map(|i| match i.action {
            crate::procedure::Action::OnPremises { task } => Some(task),
            _ => None,
        })
        .map(|task| match control.on_premises(account, task) {
            Ok(()) => format!(
                "{} done in Active Directory by the practice run",
                task.name()
            ),
            Err(why) => format!("{} not done: {why}", task.name()),
        })
        .collect();
    (!done.is_empty()).then(|| done.join("; "))
}

/// Declares the case of a practice run at `now` (simulated time) for the accounts the training
/// tenant's alerts name, as the admin would after the alert.
pub async fn declare_case<T: IncidentTenant>(
    tenant: &T,
    store: &CaseStore,
    now: DateTime<Utc>,
    title: &str,
) -> Result<CaseView, Error> {
    let accounts = flagged_accounts(tenant, now).await?;
    if accounts.is_empty() {
        return Err(Error::InvalidInput {
            field: "scenario",
            problem: "No alert in this scenario names an account, so there is nothing to contain."
                .into(),
        });
    }
    store.declare(
        ADMIN,
        CaseMetadata {
            title: format!("Practice: {title}"),
            detected_at: now - Duration::minutes(5),
            aware_at: now,
            alert_source: AlertSource::DefenderAlert,
            indicators: vec!["Training tenant alert".into()],
            affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
            severity: Severity::High,
            accounts: accounts.clone(),
            incident_commander: "Practice run".into(),
            external_ticket: None,
        },
    )
}

/// Reads the score against the exit rule: a run is contained only when every attacker artefact
/// is gone, no look-alike was removed, the attacker holds no session, token or credential on any
/// account at the end (`attackerHasAccess` and the per-account `attackerAccess`), and never
/// regained access. Each failed clause is a problem; what the attacker still holds is also
/// returned per account. Artefacts left that no plan even listed (not on a contained account,
/// not a row of any step or check) are returned apart: what the checks missed.
pub fn judge(
    score: &Score,
    user_ids: &BTreeSet<String>,
    reached_ids: &BTreeSet<String>,
) -> Judgement {
    let mut out = Judgement::default();
    if score.attacker_regained_access {
        out.problems.push("The attacker regained access.".into());
    }
    for removed in &score.legitimate_artefacts.removed {
        out.problems.push(format!(
            "A legitimate look-alike was removed: {}",
            removed.description
        ));
    }
    for remaining in &score.attacker_artefacts.remaining {
        let in_reach = remaining
            .user_id
            .as_ref()
            .is_some_and(|u| user_ids.contains(u))
            || reached_ids.contains(&remaining.id);
        out.problems.push(format!(
            "An attacker artefact was left: {}",
            remaining.description
        ));
        if !in_reach {
            out.left_for_blast_radius.push(remaining.clone());
        }
    }
    for account in score.attacker_access.iter().filter(|a| !a.holds.is_empty()) {
        let name = if account.user_principal_name.is_empty() {
            account.user_id.clone()
        } else {
            account.user_principal_name.clone()
        };
        let holds: Vec<String> = account.holds.iter().map(|h| h.detail.clone()).collect();
        let reaches = account
            .reaches
            .iter()
            .map(|r| format!("{} ({})", r.mailbox, r.rights.join(", ")))
            .collect();
        for hold in &holds {
            out.problems.push(format!(
                "The attacker still holds access to {name}: {hold}."
            ));
        }
        out.attacker_access.push(AttackerFoothold {
            account: name,
            holds,
            reaches,
        });
    }
    if score.attacker_has_access && out.attacker_access.is_empty() {
        out.problems.push(
            "The attacker still has access to the tenant (the score names no account).".into(),
        );
    }
    out
}

/// What the response accused that the answer key says is legitimate: an account it contained
/// (by object id, `contained`) that the key lists as a legitimate user, and a legitimate address
/// (a traveller's hotel, the office, a colleague's VPN exit) that some account's recorded
/// infrastructure names, by address or range.
pub fn accusations(
    score: &Score,
    contained: &BTreeSet<String>,
    infrastructure: &[crate::attribution::Infrastructure],
) -> Vec<String> {
    let mut out = Vec::new();
    for user in score
        .answer_key
        .legitimate
        .iter()
        .map(|k| &k.artefact)
        .filter(|a| a.kind == ArtefactKind::User)
    {
        if contained.contains(&user.id.to_lowercase()) {
            out.push(format!(
                "A legitimate account was treated as compromised: {}",
                user.description
            ));
        }
    }
    for address in &score.answer_key.legitimate_addresses {
        if let Some(m) = infrastructure
            .iter()
            .find_map(|i| i.match_address(&address.address))
        {
            out.push(format!(
                "A legitimate address was named attacker infrastructure: {} ({}), matched as {}",
                address.address, address.description, m.why
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A score as the simulator writes it on the wire, read typed.
    fn typed(score: &Value) -> Score {
        serde_json::from_value(score.clone()).expect("a score")
    }

    #[test]
    fn a_legitimate_address_inside_an_attacker_range_is_an_accusation_and_one_outside_is_not() {
        let score = json!({"answerKey": {
        "legitimate": [{"kind": "user", "id": "u-helpdesk", "description": "the service desk"}],
        "legitimateAddresses": [
            {"address": "203.0.113.77", "description": "a colleague's hotel"},
            {"address": "198.51.100.10", "description": "the office"}
        ]}});
        let infra: crate::attribution::Infrastructure = serde_json::from_value(json!({
            "members": [{"kind": "range", "value": "203.0.113.0/24", "evidence": ["the range of 203.0.113.5"],
                         "asn": null, "country": null, "clients": [], "firstSeen": null}],
            "keptOut": [], "cannotTell": [], "firstSeen": null}))
        .unwrap();
        let found = accusations(
            &typed(&score),
            &BTreeSet::new(),
            std::slice::from_ref(&infra),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("203.0.113.77"), "{found:?}");
        // Containing the service desk's account is an accusation; containing another is not.
        let contained: BTreeSet<String> = ["u-helpdesk".to_owned()].into();
        assert_eq!(accusations(&typed(&score), &contained, &[]).len(), 1);
        let other: BTreeSet<String> = ["u-megan".to_owned()].into();
        assert!(accusations(&typed(&score), &other, &[infra]).len() == 1);
    }

    /// A score in which the attacker is fully contained.
    fn clean() -> Value {
        json!({
            "attackerRegainedAccess": false,
            "attackerHasAccess": false,
            "legitimateArtefacts": {"removed": []},
            "attackerArtefacts": {"remaining": []},
            "attackerAccess": [
                {"userId": "u1", "userPrincipalName": "megan@contoso.example", "holds": [], "reaches": []}
            ]
        })
    }

    fn judged(score: &Value) -> Judgement {
        judge(&typed(score), &BTreeSet::new(), &BTreeSet::new())
    }

    #[test]
    fn a_fully_contained_score_has_no_problem() {
        let j = judged(&clean());
        assert!(j.problems.is_empty(), "{:?}", j.problems);
        assert!(j.attacker_access.is_empty());
    }

    #[test]
    fn every_artefact_left_is_a_problem_and_those_no_plan_listed_are_named_apart() {
        let mut score = clean();
        score["attackerArtefacts"]["remaining"] = json!([
            {"kind": "inboxRule", "userId": "u1", "id": "r1", "description": "rule on the contained account"},
            {"kind": "mailboxForwarding", "userId": "u2", "id": "x@y", "description": "shared mailbox"}
        ]);
        let users = BTreeSet::from(["u1".to_owned()]);
        let j = judge(&typed(&score), &users, &BTreeSet::new());
        assert_eq!(j.problems.len(), 2, "{:?}", j.problems);
        assert_eq!(j.left_for_blast_radius.len(), 1);
        assert_eq!(j.left_for_blast_radius[0].id, "x@y");
    }

    #[test]
    fn a_removed_look_alike_is_a_problem() {
        let mut score = clean();
        score["legitimateArtefacts"]["removed"] = json!([{"kind": "authenticationMethod", "userId": "u1", "id": "m1", "description": "her own phone"}]);
        let j = judged(&score);
        assert_eq!(
            j.problems,
            vec!["A legitimate look-alike was removed: her own phone"]
        );
    }

    #[test]
    fn regained_access_is_a_problem() {
        let mut score = clean();
        score["attackerRegainedAccess"] = json!(true);
        assert_eq!(
            judged(&score).problems,
            vec!["The attacker regained access."]
        );
    }

    #[test]
    fn a_live_session_on_any_account_is_a_problem_named_per_account_with_what_it_reaches() {
        let mut score = clean();
        score["attackerHasAccess"] = json!(true);
        score["attackerAccess"] = json!([
            {"userId": "u1", "userPrincipalName": "grady@contoso.example", "holds": [], "reaches": []},
            {"userId": "u2", "userPrincipalName": "lidia@contoso.example",
             "holds": [{"kind": "session", "detail": "the attacker's session is alive"}],
             "reaches": [{"mailbox": "finance@contoso.example", "rights": ["FullAccess", "SendAs"]}]}
        ]);
        let j = judged(&score);
        assert_eq!(j.problems.len(), 1, "{:?}", j.problems);
        assert!(
            j.problems[0].contains("lidia@contoso.example"),
            "{:?}",
            j.problems
        );
        assert_eq!(
            j.attacker_access,
            vec![AttackerFoothold {
                account: "lidia@contoso.example".into(),
                holds: vec!["the attacker's session is alive".into()],
                reaches: vec!["finance@contoso.example (FullAccess, SendAs)".into()],
            }]
        );
    }

    #[test]
    fn a_token_or_credential_still_held_is_a_problem_even_without_a_session() {
        for kind in [
            "accessToken",
            "password",
            "authenticationMethod",
            "appToken",
            "appConsent",
        ] {
            let mut score = clean();
            score["attackerHasAccess"] = json!(true);
            score["attackerAccess"][0]["holds"] =
                json!([{"kind": kind, "detail": format!("holds a {kind}")}]);
            let j = judged(&score);
            assert_eq!(j.problems.len(), 1, "{kind}: {:?}", j.problems);
            assert!(j.problems[0].contains("megan@contoso.example"), "{kind}");
            assert!(j.problems[0].contains(kind), "{kind}: {:?}", j.problems);
        }
    }

    #[test]
    fn attacker_has_access_without_a_breakdown_still_fails_the_run() {
        let score = json!({
            "attackerRegainedAccess": false,
            "attackerHasAccess": true,
            "legitimateArtefacts": {"removed": []},
            "attackerArtefacts": {"remaining": []}
        });
        let j = judged(&score);
        assert_eq!(j.problems.len(), 1, "{:?}", j.problems);
        assert!(j.problems[0].contains("still has access"));
    }

    #[test]
    fn an_account_named_only_by_id_is_reported_by_its_id() {
        let mut score = clean();
        score["attackerAccess"] = json!([{"userId": "u9", "userPrincipalName": "",
            "holds": [{"kind": "password", "detail": "the password was never reset"}], "reaches": []}]);
        let j = judged(&score);
        assert_eq!(j.attacker_access[0].account, "u9");
    }
}
