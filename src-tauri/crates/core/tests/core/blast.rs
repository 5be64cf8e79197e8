//! The blast-radius checks against the simulated tenant: each check on a scenario where it must
//! find something and on one where it must not (look-alikes), "not available" when the
//! readiness-gaps tenant lacks a permission or a licence, concurrent planning with progress and
//! cancellation, and `check_results` reading the journal.

use firebreak_core::{
    case::CaseId,
    practice::{self, TrainingControl},
    procedure::{
        blast::{self, CheckStatus},
        Plan, Procedure,
    },
};
use firebreak_graph::{CancellationToken, Client};
use serde_json::Value;

use super::practice::{lab, options, Lab};

/// Runs the whole headless practice on `scenario` (triage, containment and the checks), so the
/// case holds a window and the checks' journal.
async fn practised(scenario: &str) -> (Lab, CaseId, practice::PracticeRun) {
    let lab = lab(scenario).await;
    let run = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        scenario,
        &options(),
    )
    .await
    .unwrap_or_else(|e| panic!("{scenario}: {e}"));
    let case = run.case_id.clone();
    (lab, case, run)
}

fn status(plan: &Plan) -> String {
    plan.facts
        .pointer("/check/status")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn rows(plan: &Plan) -> Vec<(String, bool)> {
    plan.items
        .iter()
        .map(|i| (i.id.clone(), i.recommended))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_the_account_created_and_a_secret_it_added_are_findings_and_the_real_new_starter_is_not(
) {
    let lab = lab("service-account").await;
    let case = practice::declare_case(&lab.client, &lab.store, lab.control.now(), "svc")
        .await
        .unwrap();
    let account = case.metadata.accounts[0].clone();
    let procedure = Procedure::<Client>::compromised_account(1, account.as_str());
    let env = lab.env(&[]);
    // Triage recorded no window yet: the checks look back 30 days.
    let users = procedure
        .plan(&env, &case.id, "blast-created-users")
        .await
        .unwrap();
    assert_eq!(status(&users), "finding", "{:?}", users.facts);
    let ids = rows(&users);
    let attacker = "d18154ab-1bd8-5352-8449-090d6e31c2ae";
    let new_starter = "2352a075-1784-59fe-a763-757bd8538523";
    for id in [
        format!("user-revoke:{attacker}"),
        format!("user-disable:{attacker}"),
        format!("user-method:{attacker}:91e1157e-7ced-5489-813f-587dec581c55"),
    ] {
        assert!(ids.contains(&(id.clone(), true)), "{id} in {ids:?}");
    }
    assert!(
        !ids.iter().any(|(id, _)| id.contains(new_starter)),
        "the new starter IT created must not be listed: {ids:?}"
    );
    let creds = procedure
        .plan(&env, &case.id, "blast-app-credentials")
        .await
        .unwrap();
    assert_eq!(status(&creds), "finding");
    assert!(rows(&creds).contains(&("sp:ddc69cdd-d59b-5fda-bb1f-991875653ae9".into(), true)));
    assert!(
        !creds.captures.is_empty(),
        "the audit entries are saved as evidence"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_full_headless_practice_of_the_service_account_scenario_removes_what_only_the_checks_find(
) {
    let (lab, case, run) = practised("service-account").await;
    assert!(run.contained(), "{:?}", run.problems);
    assert!(run.left_for_blast_radius.is_empty());
    let results = blast::check_results(&lab.store.case(&case).unwrap(), "a1");
    assert_eq!(results.len(), 15);
    for r in &results {
        match r.key {
            "blast-flows" | "blast-power-apps" => {
                assert_eq!(r.status, CheckStatus::Skipped, "{r:?}");
                assert_eq!(r.reason.as_deref(), Some(blast::HEADLESS_SKIP));
            }
            "blast-created-users" | "blast-app-credentials" => {
                assert_eq!(r.status, CheckStatus::Finding, "{r:?}")
            }
            _ => assert!(r.status.is_done(), "{r:?}"),
        }
    }
    let _ = CancellationToken::new();
}
