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
    procedure::{tenant::IncidentTenant, Confirmation, Env, Procedure},
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
    /// Why the run does not count as containment (empty when it does).
    pub problems: Vec<String>,
    /// Attacker artefacts left that only the blast-radius checks can find (not counted here).
    pub left_for_blast_radius: Vec<Value>,
}

impl PracticeRun {
    /// Whether every attacker artefact within the procedure's reach was removed, no look-alike
    /// was removed and the attacker did not regain access.
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
        for key in procedure.keys() {
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

/// Reads the score: problems within the procedure's reach, and what is left for blast radius.
/// An attacker artefact is within reach when it belongs to a contained account or when the
/// procedure's plans listed it (a grant or an app seen while containing).
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
        if in_reach {
            problems.push(format!(
                "An attacker artefact was left: {}",
                remaining
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            ));
        } else {
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
    fn artefacts_of_other_accounts_are_left_for_blast_radius_not_counted() {
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
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(left.len(), 1);
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
