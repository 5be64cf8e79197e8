//! Entra ID writes as a real tenant enforces them (issue 23, items 3 and 4), against the
//! simulated tenant: methods deleted in an order Graph accepts, a refusal reported on its own row
//! while the rest proceed, read-backs that wait for replication, a finished-but-unverified step
//! re-verified without repeating its change, and a Temporary Access Pass never issued twice.

use chrono::Duration;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        steps::StepStatus,
        CaseId, ADMIN,
    },
    procedure::{Confirmation, Env, Procedure, StepOutcome},
};
use firebreak_graph::{collect_items, Client, UserRef};
use firebreak_sim::Scenario;
use serde_json::{json, Value};

use crate::{
    practice::{lab_with, Lab},
    recovery::run_until_as,
};

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
const PRIYA: &str = "priya.raman@contoso-training.onmicrosoft.com";
const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
const AUTHENTICATOR: &str = "a240f74e-69fa-5235-865f-5d48879bab22";
const ALTERNATE: &str = "b6332ec1-7057-4abe-9331-3d72ed82f1d0";
const EMAIL: &str = "a8ca9e49-22f1-5f3b-81e7-3a5c230e6e9b";

/// The undated-methods scenario with Priya's default method and the replication lag given.
fn undated(default_method: &str, lag_seconds: u32) -> Scenario {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../../sim/scenarios/undated-methods.json")).unwrap();
    scenario["replicationLagSeconds"] = json!(lag_seconds);
    for user in scenario["users"].as_array_mut().unwrap() {
        if user["user"]["userPrincipalName"] == PRIYA {
            user["defaultMethod"] = json!(default_method);
        }
    }
    Scenario::from_json(&scenario.to_string()).unwrap()
}

fn declare(lab: &Lab) -> CaseId {
    let now = lab.control.now();
    lab.store
        .declare(
            ADMIN,
            CaseMetadata {
                title: "MFA fatigue — Priya".into(),
                detected_at: now - Duration::minutes(30),
                aware_at: now,
                alert_source: AlertSource::UserReport,
                indicators: vec!["Approved a prompt she did not start".into()],
                affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
                severity: Severity::High,
                accounts: vec![PRIYA.into()],
                incident_commander: "Sam".into(),
                external_ticket: None,
            },
        )
        .unwrap()
        .id
}

async fn run_selected(
    procedure: &Procedure<Client>,
    env: &Env<'_, Client>,
    id: &CaseId,
    key: &str,
    selected: Vec<String>,
) -> StepOutcome {
    procedure
        .run(
            env,
            id,
            key,
            &Confirmation {
                selected,
                typed_account: Some(PRIYA.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"))
}

async fn method_ids(lab: &Lab) -> Vec<String> {
    collect_items(
        lab.client
            .list_authentication_methods(&UserRef::new(PRIYA).unwrap()),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|m| m.id)
    .collect()
}

fn changes(lab: &Lab, what: &str) -> usize {
    lab.control.actions()["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["change"].as_str() == Some(what) && a["status"] != 400)
        .count()
}

#[tokio::test]
async fn every_method_removed_goes_in_an_order_graph_accepts_and_each_read_back_waits_for_replication(
) {
    // Her mobile phone is the default; she also has an alternate mobile; the directory answers
    // the previous value of each write for 20 seconds.
    let lab = lab_with(undated(MOBILE, 20)).await;
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, PRIYA);
    // Revoke, disable and reset are read back right after the write: each must wait it out.
    run_until_as(&procedure, &env, &id, PRIYA, "methods").await;

    let plan = procedure.plan(&env, &id, "methods").await.unwrap();
    let all: Vec<String> = plan.items.iter().map(|i| i.id.clone()).collect();
    assert_eq!(all.len(), 4, "{all:?}");
    let outcome = run_selected(&procedure, &env, &id, "methods", all).await;
    assert!(outcome.verification.verified, "{:?}", outcome.verification);
    let left = method_ids(&lab).await;
    for gone in [MOBILE, AUTHENTICATOR, ALTERNATE, EMAIL] {
        assert!(
            !left.iter().any(|m| m == gone),
            "{gone} is still there: {left:?}"
        );
    }
}

#[tokio::test]
async fn a_default_method_kept_company_is_refused_on_its_own_row_while_the_others_are_deleted() {
    // The Authenticator is the default, and the admin keeps her mobile phone: Graph refuses the
    // Authenticator whatever the order.
    let lab = lab_with(undated(AUTHENTICATOR, 0)).await;
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, PRIYA);
    run_until_as(&procedure, &env, &id, PRIYA, "methods").await;

    let selected: Vec<String> = [AUTHENTICATOR, ALTERNATE, EMAIL]
        .iter()
        .map(|m| format!("method:{m}"))
        .collect();
    let outcome = run_selected(&procedure, &env, &id, "methods", selected).await;
    assert_eq!(
        outcome.state.status,
        StepStatus::Finished { verified: false }
    );
    let row = |m: &str| {
        outcome
            .verification
            .checks
            .iter()
            .find(|c| c.item == format!("method:{m}"))
            .unwrap_or_else(|| panic!("no check for {m}"))
    };
    assert!(
        row(ALTERNATE).ok && row(EMAIL).ok,
        "{:?}",
        outcome.verification
    );
    let refused = row(AUTHENTICATOR);
    assert!(!refused.ok);
    assert!(
        refused.detail.contains("Cannot delete default method")
            && refused.detail.contains("Default sign-in method"),
        "the row says what Graph answered and what to do: {}",
        refused.detail
    );
    let left = method_ids(&lab).await;
    assert!(left.iter().any(|m| m == AUTHENTICATOR) && left.iter().any(|m| m == MOBILE));
    assert!(
        !left.iter().any(|m| m == ALTERNATE || m == EMAIL),
        "{left:?}"
    );
}

#[tokio::test]
async fn a_finished_but_unverified_step_is_re_verified_without_repeating_its_change() {
    // Replication slower than the read-back's two minutes.
    let lab = lab_with(undated(MOBILE, 600)).await;
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, PRIYA);
    run_until_as(&procedure, &env, &id, PRIYA, "revoke").await;

    let before = lab.control.now();
    let outcome = run_selected(&procedure, &env, &id, "revoke", vec!["account".into()]).await;
    let waited = lab.control.now() - before;
    assert!(
        !outcome.verification.verified,
        "the lag outlasts the read-back"
    );
    assert!(
        waited >= Duration::seconds(110) && waited < Duration::minutes(5),
        "the read-back waited about two minutes of simulated time, not {waited}"
    );

    lab.control.advance(Duration::minutes(10));
    let again = procedure.reverify(&env, &id, "revoke").await.unwrap();
    assert!(again.verification.verified, "{:?}", again.verification);
    assert_eq!(again.state.status, StepStatus::Finished { verified: true });
    assert_eq!(
        changes(&lab, "revokeSignInSessions"),
        1,
        "revoked once only"
    );
}

#[tokio::test]
async fn the_pass_step_run_again_finds_the_pass_it_issued_and_creates_no_other() {
    let lab = lab_with(undated(MOBILE, 20)).await;
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, PRIYA);
    run_until_as(&procedure, &env, &id, PRIYA, "tap").await;

    let plan = procedure.plan(&env, &id, "tap").await.unwrap();
    let first = run_selected(&procedure, &env, &id, "tap", plan.recommended()).await;
    assert!(first.verification.verified, "{:?}", first.verification);
    let issued = first.handoff.expect("a pass").method_id;

    let again = procedure.plan(&env, &id, "tap").await.unwrap();
    assert!(
        again.summary.contains("still on the account"),
        "{}",
        again.summary
    );
    assert!(
        again.items.iter().all(|i| !i.id.starts_with("method:")),
        "nothing is deleted: {:?}",
        again.items.iter().map(|i| &i.id).collect::<Vec<_>>()
    );
    let second = run_selected(&procedure, &env, &id, "tap", again.recommended()).await;
    assert!(second.handoff.is_none(), "no second pass");
    assert!(second.verification.verified, "{:?}", second.verification);
    assert_eq!(changes(&lab, "created Temporary Access Pass"), 1);
    assert!(
        method_ids(&lab).await.contains(&issued),
        "the first pass is kept"
    );
}
