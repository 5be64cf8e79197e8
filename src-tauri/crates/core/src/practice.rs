//! Practice against the training tenant: the headless run behind `firebreak practice` (and the
//! tests that prove the procedure on every shipped scenario), and the scoring that decides
//! whether a run contained the incident.
//!
//! The simulated tenant is reached like any tenant, through [`IncidentTenant`]; what only a
//! simulator has (its clock, its score) comes through [`TrainingControl`], implemented by the
//! shell (and the tests) over `firebreak-sim`, which core does not depend on.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, CaseStore, CaseView, ADMIN,
    },
    clock::Clock,
    procedure::{blast, tenant::IncidentTenant, Confirmation, Env, Phase, Procedure},
    Error,
};

/// What only the simulated tenant offers: its clock and its score.
pub trait TrainingControl: Send + Sync {
    /// The simulated time.
    fn now(&self) -> DateTime<Utc>;
    /// Lets simulated time pass; the attacker acts over it.
    fn advance(&self, by: Duration);
    /// The simulator's score (`GET /_sim/score`).
    fn score(&self) -> Value;
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
}

impl firebreak_graph::Clock for TrainingClock {
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
}

impl firebreak_graph::Clock for HeadlessClock {
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
    /// come back.
    pub settle: Duration,
    /// Accounts never to disable or reset (the break-glass account).
    pub protected: Vec<String>,
}

impl Default for PracticeOptions {
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
    /// The full step id.
    pub step: String,
    /// What was selected (the recommendation).
    pub selected: Vec<String>,
    /// Whether the read-back confirmed it.
    pub verified: bool,
    /// Why it was skipped instead (a manual blast-radius check).
    pub skipped: Option<String>,
}

/// The result of a headless practice run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeRun {
    /// The case it opened.
    pub case_id: CaseId,
    /// The accounts it contained.
    pub accounts: Vec<String>,
    /// The steps in the order run.
    pub steps: Vec<PracticeStep>,
    /// The simulator's score at the end.
    pub score: Value,
    /// Why the run does not count as a full score (empty when it does).
    pub problems: Vec<String>,
    /// Attacker artefacts left that no step or check of the procedure even listed (each is also
    /// a problem): what the checks missed.
    pub left_for_blast_radius: Vec<Value>,
}

impl PracticeRun {
    /// Whether every attacker artefact was removed, no look-alike was removed and the attacker
    /// did not regain access: the full score.
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

/// Runs the compromised-account procedure with the tool's recommended selections on every
/// flagged account, confirming each step as a person would, then lets the attacker act and
/// scores the result. `store` must be timed by the simulated clock ([`TrainingClock`]).
pub async fn run_headless<T: IncidentTenant>(
    tenant: &T,
    control: &dyn TrainingControl,
    store: &CaseStore,
    title: &str,
    options: &PracticeOptions,
) -> Result<PracticeRun, Error> {
    let case = declare_case(tenant, store, control.now(), title).await?;
    let accounts = case.metadata.accounts.clone();
    let env = Env {
        tenant,
        store,
        protected: options.protected.clone(),
        actor: ADMIN,
    };
    let mut steps = Vec::new();
    let mut user_ids = BTreeSet::new();
    let mut reached_ids = BTreeSet::new();
    for (index, account) in accounts.iter().enumerate() {
        if let Ok(Some(user)) = tenant.user(&firebreak_graph::UserRef::new(account)?).await {
            user_ids.insert(user.id);
        }
        let procedure = Procedure::<T>::compromised_account(index + 1, account.clone());
        let checks: Vec<&str> = procedure
            .view(&store.case(&case.id)?)
            .iter()
            .filter(|v| v.info.phase == Phase::Blast)
            .map(|v| v.info.key)
            .collect();
        for key in procedure.keys() {
            if checks.contains(&key) {
                if key == checks[0] {
                    let done =
                        run_checks(&procedure, &env, &case.id, account, &mut reached_ids).await?;
                    for step in done {
                        steps.push(step);
                        control.advance(options.pause_per_step);
                    }
                }
                continue;
            }
            let plan = procedure.plan(&env, &case.id, key).await?;
            for item in &plan.items {
                if let Some((_, id)) = item.id.split_once(':') {
                    reached_ids.insert(id.to_owned());
                }
            }
            let confirmation = Confirmation {
                selected: plan.recommended(),
                typed_account: Some(account.clone()),
                window_start: None,
                note: None,
            };
            let outcome = procedure.run(&env, &case.id, key, &confirmation).await?;
            steps.push(PracticeStep {
                step: outcome.step,
                selected: confirmation.selected,
                verified: outcome.verification.verified,
                skipped: None,
            });
            control.advance(options.pause_per_step);
        }
    }
    control.advance(options.settle);
    let score = control.score();
    let (problems, left) = judge(&score, &user_ids, &reached_ids);
    Ok(PracticeRun {
        case_id: case.id,
        accounts,
        steps,
        score,
        problems,
        left_for_blast_radius: left,
    })
}

/// Plans every blast-radius check at once ([`blast::plan_all`]), then runs each with the
/// recommended selection as a person would; manual checks are skipped with
/// [`blast::HEADLESS_SKIP`].
async fn run_checks<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
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
        let confirmation = Confirmation {
            selected: plan.recommended(),
            typed_account: Some(account.to_owned()),
            window_start: None,
            note: None,
        };
        let outcome = procedure.run(env, case_id, key, &confirmation).await?;
        steps.push(PracticeStep {
            step: outcome.step,
            selected: confirmation.selected,
            verified: outcome.verification.verified,
            skipped: None,
        });
    }
    Ok(steps)
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

/// Reads the score: every attacker artefact left, every look-alike removed and regained access
/// are problems. Artefacts left that no plan even listed (not on a contained account, not a row
/// of any step or check) are also returned apart: what the checks missed.
pub fn judge(
    score: &Value,
    user_ids: &BTreeSet<String>,
    reached_ids: &BTreeSet<String>,
) -> (Vec<String>, Vec<Value>) {
    let mut problems = Vec::new();
    let mut left = Vec::new();
    if score.get("attackerRegainedAccess").and_then(Value::as_bool) == Some(true) {
        problems.push("The attacker regained access.".into());
    }
    for removed in score
        .pointer("/legitimateArtefacts/removed")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        problems.push(format!(
            "A legitimate look-alike was removed: {}",
            removed
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ));
    }
    for remaining in score
        .pointer("/attackerArtefacts/remaining")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let user = remaining.get("userId").and_then(Value::as_str);
        let id = remaining.get("id").and_then(Value::as_str).unwrap_or("");
        let in_reach = user.is_some_and(|u| user_ids.contains(u)) || reached_ids.contains(id);
        problems.push(format!(
            "An attacker artefact was left: {}",
            remaining
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("?")
        ));
        if !in_reach {
            left.push(remaining.clone());
        }
    }
    (problems, left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_artefact_left_is_a_problem_and_those_no_plan_listed_are_named_apart() {
        let score = json!({
            "attackerRegainedAccess": false,
            "legitimateArtefacts": {"removed": []},
            "attackerArtefacts": {"remaining": [
                {"kind": "inboxRule", "userId": "u1", "id": "r1", "description": "rule on the contained account"},
                {"kind": "mailboxForwarding", "userId": "u2", "id": "x@y", "description": "shared mailbox"}
            ]}
        });
        let users = BTreeSet::from(["u1".to_owned()]);
        let (problems, left) = judge(&score, &users, &BTreeSet::new());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["id"], "x@y");
    }

    #[test]
    fn regained_access_and_removed_look_alikes_are_problems() {
        let score = json!({
            "attackerRegainedAccess": true,
            "legitimateArtefacts": {"removed": [{"description": "her own phone"}]},
            "attackerArtefacts": {"remaining": []}
        });
        let (problems, _) = judge(&score, &BTreeSet::new(), &BTreeSet::new());
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
