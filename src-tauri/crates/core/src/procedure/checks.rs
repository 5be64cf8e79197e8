//! "Run all checks": the blast-radius list in one go. Every open check is planned at once
//! ([`blast::plan_all`], concurrent within Graph's limits, with progress and cancel); a check
//! whose plan needs no decision — clean, or not available with its reason — is then recorded
//! through the engine like any step (its plan journaled, its reads saved as evidence). Checks with
//! findings and the manual checks stay open for the admin: findings are remediated through the
//! step's own plan and confirmation, manual checks are answered with a note.

use firebreak_graph::CancellationToken;
use serde::Serialize;
use serde_json::Value;

use super::{
    blast::{self, CheckProgress},
    tenant::IncidentTenant,
    Action, Confirmation, Env, Plan, Procedure,
};
use crate::{case::CaseId, Error};

/// What "Run all checks" did with one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRun {
    /// The check's step key.
    pub key: &'static str,
    /// The planned status (`clean`, `finding`, `notAvailable`, `manual`); `None` when planning
    /// failed or was cancelled.
    pub planned: Option<String>,
    /// How many findings the plan had.
    pub findings: u64,
    /// Whether the result was recorded (the step is finished).
    pub recorded: bool,
    /// Why planning or recording failed, in the admin's words.
    pub error: Option<String>,
}

/// Whether a plan can be recorded without the admin deciding anything: its status is clean or
/// not available, and every row it would select only records (changes nothing in the tenant).
pub fn needs_no_decision(plan: &Plan) -> bool {
    let status = plan.facts.pointer("/check/status").and_then(Value::as_str);
    matches!(status, Some("clean" | "notAvailable"))
        && plan
            .items
            .iter()
            .filter(|i| i.recommended || i.fixed)
            .all(|i| i.action == Action::Record)
}

/// Plans every open check of `procedure` and records those that need no decision. `progress`
/// hears each check start and end (`started`, `planned`, `failed`, `cancelled`, then `recorded`
/// or `recordFailed`). After `cancel` fires nothing more is recorded.
pub async fn run_all<T: IncidentTenant>(
    procedure: &Procedure<T>,
    env: &Env<'_, T>,
    case_id: &CaseId,
    cancel: &CancellationToken,
    progress: &(dyn Fn(CheckProgress) + Send + Sync),
) -> Result<Vec<CheckRun>, Error> {
    let plans = blast::plan_all(procedure, env, case_id, cancel, progress).await?;
    let total = plans.len();
    let mut runs = Vec::with_capacity(total);
    for (key, plan) in plans {
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => {
                runs.push(CheckRun {
                    key,
                    planned: None,
                    findings: 0,
                    recorded: false,
                    error: (!matches!(error, Error::Cancelled)).then(|| error.to_string()),
                });
                continue;
            }
        };
        let planned = plan
            .facts
            .pointer("/check/status")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let findings = plan
            .facts
            .pointer("/check/findings")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let mut run = CheckRun {
            key,
            planned: planned.clone(),
            findings,
            recorded: false,
            error: None,
        };
        if needs_no_decision(&plan) && !cancel.is_cancelled() {
            // Only record-only rows are selected, so naming the account changes nothing in the
            // tenant: it satisfies the engine's check for steps that can also remove things.
            let confirmation = Confirmation {
                selected: plan.recommended(),
                typed_account: Some(procedure.account().to_owned()),
                window_start: None,
                note: None,
            };
            let outcome = procedure.run(env, case_id, key, &confirmation).await;
            let (state, message) = match &outcome {
                Ok(_) => ("recorded", None),
                Err(error) => ("recordFailed", Some(error.to_string())),
            };
            run.recorded = outcome.is_ok();
            run.error.clone_from(&message);
            progress(CheckProgress {
                key,
                state,
                status: planned,
                findings,
                message,
                done: runs.len() + 1,
                total,
            });
        }
        runs.push(run);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::procedure::PlanItem;

    fn plan(status: &str, action: Action) -> Plan {
        Plan {
            step: "a1.blast-consents".into(),
            account: "j.doe@contoso.com".into(),
            summary: String::new(),
            items: vec![PlanItem {
                id: "x".into(),
                kind: String::new(),
                label: String::new(),
                details: Vec::new(),
                created: None,
                recommended: true,
                reasons: Vec::new(),
                fixed: false,
                group: None,
                action,
            }],
            warnings: Vec::new(),
            saved_first: Vec::new(),
            facts: json!({ "check": { "status": status } }),
            captures: Vec::new(),
        }
    }

    #[test]
    fn only_clean_or_unavailable_plans_that_change_nothing_are_recorded_without_the_admin() {
        assert!(needs_no_decision(&plan("clean", Action::Record)));
        assert!(needs_no_decision(&plan("notAvailable", Action::Record)));
        assert!(!needs_no_decision(&plan("finding", Action::Record)));
        assert!(!needs_no_decision(&plan("manual", Action::Record)));
        assert!(
            !needs_no_decision(&plan("clean", Action::DeleteGrant { id: "g".into() })),
            "a recommended change always waits for the admin"
        );
    }
}
