//! The directory role a write on the account needs (spec/graph-behaviour.md, "Roles for writes"),
//! against the simulated tenant: the plan names it for *this* account and warns before the admin
//! confirms; a refusal names the missing role, not a permission the app already has.

use chrono::Duration;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, ADMIN,
    },
    procedure::{Confirmation, Procedure},
};
use firebreak_graph::Client;
use firebreak_sim::Scenario;
use serde_json::{json, Value};

use crate::practice::{lab_with, Lab};

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
const MEGAN: &str = "megan.bowen@contoso-training.onmicrosoft.com";
const MEGAN_ID: &str = "d9303c03-eb05-5431-8ab9-cc4947a7edf5";
const TIER_ZERO: &str = "5d1e9f5c-3a51-4c1f-9a0e-7c2b8d4e6f01";

/// The `aitm` tenant whose app holds `app_roles`, with Megan (the compromised account) a member
/// of the role-assignable group "Tier 0 operators" when `tier_zero`.
fn aitm(app_roles: &[&str], tier_zero: bool) -> Scenario {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../../sim/scenarios/aitm.json")).unwrap();
    scenario["app"]["entraRoles"] = json!(app_roles);
    scenario["groups"].as_array_mut().unwrap().push(json!({
        "id": TIER_ZERO, "displayName": "Tier 0 operators", "mailEnabled": false,
        "securityEnabled": true, "groupTypes": [], "isAssignableToRole": true,
        "createdDateTime": "2024-01-01T00:00:00Z"
    }));
    if tier_zero {
        for user in scenario["users"].as_array_mut().unwrap() {
            if user["user"]["id"] == MEGAN_ID {
                user["memberOf"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(TIER_ZERO));
            }
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
                title: "AiTM — Megan".into(),
                detected_at: now - Duration::minutes(20),
                aware_at: now,
                alert_source: AlertSource::UserReport,
                indicators: vec![],
                affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
                severity: Severity::High,
                accounts: vec![MEGAN.into()],
                incident_commander: "Sam".into(),
                external_ticket: None,
            },
        )
        .unwrap()
        .id
}

fn confirm(plan: &firebreak_core::procedure::Plan) -> Confirmation {
    Confirmation {
        selected: plan.recommended(),
        typed_account: Some(MEGAN.into()),
        ..Confirmation::default()
    }
}

/// Runs `keys` with the recommendation; each must succeed.
async fn run(lab: &Lab, procedure: &Procedure<Client>, case: &CaseId, keys: &[&str]) {
    let env = lab.env(&[BREAK_GLASS]);
    for key in keys {
        let plan = procedure.plan(&env, case, key).await.unwrap();
        procedure
            .run(&env, case, key, &confirm(&plan))
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_a_tier_zero_account_with_user_administrator_is_flagged_in_the_plan_and_the_refusal_names_the_role(
) {
    let lab = lab_with(aitm(
        &["Exchange Administrator", "User Administrator"],
        true,
    ))
    .await;
    let case = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, MEGAN);
    // Revoking sessions needs no role for an app, whoever the account is.
    run(&lab, &procedure, &case, &["triage", "preserve", "revoke"]).await;

    let env = lab.env(&[BREAK_GLASS]);
    let plan = procedure.plan(&env, &case, "disable").await.unwrap();
    let warning = plan
        .warnings
        .iter()
        .find(|w| w.contains("role-assignable group"))
        .unwrap_or_else(|| panic!("no role warning: {:#?}", plan.warnings));
    assert!(
        warning.contains("\u{201c}Tier 0 operators\u{201d}")
            && warning.contains(
                "Microsoft requires Privileged Authentication Administrator or Global Administrator"
            )
            && warning.contains("the app holds Exchange Administrator, User Administrator")
            && warning.contains("Microsoft will refuse this step"),
        "{warning}"
    );
    assert_eq!(plan.facts["roles"]["held"], json!(false), "{}", plan.facts);

    let refused = procedure
        .run(&env, &case, "disable", &confirm(&plan))
        .await
        .expect_err("Microsoft refuses a User Administrator on a tier-zero account")
        .to_string();
    assert!(
        refused.contains("has the permission for it, but Microsoft also requires a directory role")
            && refused.contains("Privileged Authentication Administrator or Global Administrator")
            && refused.contains("the app holds Exchange Administrator, User Administrator")
            && !refused.contains("Add it to the app registration"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ordinary_account_s_reset_names_the_role_it_needs_and_that_the_app_holds_it() {
    let lab = lab_with(aitm(
        &["Exchange Administrator", "User Administrator"],
        false,
    ))
    .await;
    let case = declare(&lab);
    let procedure = Procedure::<Client>::compromised_account(1, MEGAN);
    run(
        &lab,
        &procedure,
        &case,
        &["triage", "preserve", "revoke", "disable"],
    )
    .await;
    let env = lab.env(&[BREAK_GLASS]);
    let plan = procedure.plan(&env, &case, "reset").await.unwrap();
    assert!(
        plan.summary.contains("To reset the user's password, Microsoft requires User Administrator, Privileged Authentication Administrator or Global Administrator; the app holds Exchange Administrator, User Administrator."),
        "{}",
        plan.summary
    );
    assert!(
        !plan.warnings.iter().any(|w| w.contains("refuse")),
        "{:#?}",
        plan.warnings
    );
    procedure
        .run(&env, &case, "reset", &confirm(&plan))
        .await
        .unwrap();
}
