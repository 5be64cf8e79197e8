//! Entra writes as a real tenant enforces them (issue 23, item 5), through the procedure against
//! the simulated tenant: marking a user compromised needs Entra ID P2 and is processed
//! asynchronously; a Temporary Access Pass follows the tenant's policy and each refusal says why;
//! revoking a guest's sessions does not reach its home organisation, and issued access tokens
//! outlive any revocation. Rules and sources: spec/graph-behaviour.md.

use chrono::Duration;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, ADMIN,
    },
    procedure::{Confirmation, Procedure},
    Error,
};
use firebreak_graph::Client;
use firebreak_sim::Scenario;
use serde_json::{json, Value};

use crate::{
    practice::{lab, lab_with, Lab},
    recovery::run_until_as,
};

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
const JOHANNA: &str = "johanna.lorenz@contoso-training.onmicrosoft.com";

fn declare(lab: &Lab, account: &str) -> CaseId {
    let now = lab.control.now();
    lab.store
        .declare(
            ADMIN,
            CaseMetadata {
                title: format!("Compromised account — {account}"),
                detected_at: now - Duration::minutes(20),
                aware_at: now,
                alert_source: AlertSource::UserReport,
                indicators: vec!["The user reported a strange sign-in prompt".into()],
                affected_workloads: vec![Workload::ExchangeOnline, Workload::EntraId],
                severity: Severity::High,
                accounts: vec![account.into()],
                incident_commander: "Sam".into(),
                external_ticket: None,
            },
        )
        .unwrap()
        .id
}

/// The business-email-compromise scenario with its tenant settings changed by `edit`.
async fn bec_with(edit: impl FnOnce(&mut Value)) -> Lab {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../../sim/scenarios/bec.json")).unwrap();
    edit(&mut scenario["tenant"]);
    lab_with(Scenario::from_json(&scenario.to_string()).unwrap()).await
}

#[tokio::test]
async fn marking_compromised_is_verified_once_identity_protection_has_processed_it() {
    let lab = lab("bec").await;
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(&lab, JOHANNA);
    let procedure = Procedure::<Client>::compromised_account(1, JOHANNA);
    // Every step up to the confirmation, each verified.
    run_until_as(&procedure, &env, &id, JOHANNA, "confirm-compromised").await;
    let plan = procedure
        .plan(&env, &id, "confirm-compromised")
        .await
        .unwrap();
    assert_eq!(plan.recommended(), vec!["confirm".to_owned()]);
    let outcome = procedure
        .run(
            &env,
            &id,
            "confirm-compromised",
            &Confirmation {
                selected: plan.recommended(),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap();
    assert!(
        outcome.verification.verified,
        "the read-back waits while Identity Protection processes the confirmation: {:?}",
        outcome.verification
    );
}

#[tokio::test]
async fn without_entra_id_p2_marking_compromised_is_not_recommended_and_says_why() {
    let lab = lab("aitm-p1").await;
    let env = lab.env(&[BREAK_GLASS]);
    let ines = "ines.duarte@contoso-training.onmicrosoft.com";
    let id = declare(&lab, ines);
    let procedure = Procedure::<Client>::compromised_account(1, ines);
    let plan = procedure
        .plan(&env, &id, "confirm-compromised")
        .await
        .unwrap();
    assert!(
        plan.recommended().is_empty(),
        "Identity Protection would refuse it: {:?}",
        plan.items
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("Entra ID P2")),
        "{:?}",
        plan.warnings
    );
}

/// Contains Johanna's account and finishes every check, so recovery may start.
async fn contained(lab: &Lab) -> (CaseId, Procedure<Client>) {
    let env = lab.env(&[BREAK_GLASS]);
    let id = declare(lab, JOHANNA);
    let procedure = Procedure::<Client>::compromised_account(1, JOHANNA);
    run_until_as(&procedure, &env, &id, JOHANNA, "tap").await;
    (id, procedure)
}

async fn issue(lab: &Lab, id: &CaseId, procedure: &Procedure<Client>, item: &str) -> Error {
    procedure
        .run(
            &lab.env(&[BREAK_GLASS]),
            id,
            "tap",
            &Confirmation {
                selected: vec![item.to_owned()],
                typed_account: Some(JOHANNA.into()),
                ..Confirmation::default()
            },
        )
        .await
        .expect_err("Entra refuses the pass")
}

#[tokio::test]
async fn a_pass_is_not_recommended_when_the_policy_is_off_and_the_refusal_says_so() {
    let lab = bec_with(|tenant| tenant["temporaryAccessPass"] = json!({"state": "disabled"})).await;
    let (id, procedure) = contained(&lab).await;
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &id, "tap")
        .await
        .unwrap();
    assert!(plan.recommended().is_empty(), "{:?}", plan.items);
    assert!(
        plan.warnings.iter().any(|w| w.contains("turned off")),
        "{:?}",
        plan.warnings
    );
    let refused = issue(&lab, &id, &procedure, "tap:60").await;
    assert!(
        refused.to_string().contains("turned off")
            && refused.to_string().contains("Temporary Access Pass"),
        "the admin is told the method is off and where to turn it on: {refused}"
    );
}

#[tokio::test]
async fn a_pass_for_an_account_outside_the_policy_is_refused_with_that_reason_and_lifetimes_follow_the_bounds(
) {
    let lab = bec_with(|tenant| {
        tenant["temporaryAccessPass"] = json!({
            "includeGroups": ["00000000-0000-4000-8000-0000000000aa"],
            "minimumLifetimeInMinutes": 120, "maximumLifetimeInMinutes": 240,
            "defaultLifetimeInMinutes": 120,
        })
    })
    .await;
    let (id, procedure) = contained(&lab).await;
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &id, "tap")
        .await
        .unwrap();
    let offered: Vec<&str> = plan
        .items
        .iter()
        .filter(|i| i.id.starts_with("tap:"))
        .map(|i| i.id.as_str())
        .collect();
    assert_eq!(
        offered,
        ["tap:120"],
        "only a lifetime within 120–240 minutes"
    );
    assert!(plan.recommended().is_empty(), "{:?}", plan.items);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("outside the Temporary Access Pass policy")),
        "{:?}",
        plan.warnings
    );
    let refused = issue(&lab, &id, &procedure, "tap:120").await;
    assert!(
        refused
            .to_string()
            .contains("outside the Temporary Access Pass policy"),
        "{refused}"
    );
}

#[tokio::test]
async fn revoking_says_what_it_leaves_alive_and_a_guest_is_sent_to_its_home_organisation() {
    let lab = lab("aitm").await;
    let env = lab.env(&[BREAK_GLASS]);
    let guest = "p.fernandez.ext@contoso-training.onmicrosoft.com";
    let id = declare(&lab, guest);
    let procedure = Procedure::<Client>::compromised_account(1, guest);
    let revoke = procedure.plan(&env, &id, "revoke").await.unwrap();
    assert!(
        revoke
            .warnings
            .iter()
            .any(|w| w.contains("60 to 90 minutes") && w.contains("Continuous Access Evaluation")),
        "{:?}",
        revoke.warnings
    );
    assert!(
        revoke
            .warnings
            .iter()
            .any(|w| w.contains("guest (B2B)") && w.contains("home organisation")),
        "{:?}",
        revoke.warnings
    );
    let reset = procedure.plan(&env, &id, "reset").await.unwrap();
    assert!(
        reset.warnings.iter().any(|w| w.contains("guest (B2B)")),
        "{:?}",
        reset.warnings
    );
}

// Synchronised accounts (issue 23, item 2; spec/graph-behaviour.md, "Synchronised accounts").

#[tokio::test]
async fn a_synchronised_account_is_disabled_and_reset_in_active_directory_with_the_admins_note() {
    let lab = lab("password-spray").await;
    let env = lab.env(&[BREAK_GLASS]);
    let diego = "diego.siciliani@contoso-training.onmicrosoft.com";
    let id = declare(&lab, diego);
    let procedure = Procedure::<Client>::compromised_account(1, diego);

    let disable = procedure.plan(&env, &id, "disable").await.unwrap();
    assert_eq!(
        disable.recommended(),
        vec!["account".to_owned(), "onprem:disable".to_owned()],
        "block in Entra now and disable in Active Directory, or the next sync undoes it"
    );
    assert!(
        disable.items.iter().any(|i| i
            .details
            .iter()
            .any(|d| d.contains("Active Directory Users and Computers"))),
        "{:?}",
        disable.items
    );

    let reset = procedure.plan(&env, &id, "reset").await.unwrap();
    assert_eq!(
        reset.recommended(),
        vec!["onprem:resetPassword".to_owned()],
        "the cloud reset is refused for an account mastered on-premises"
    );
    assert!(
        reset
            .warnings
            .iter()
            .any(|w| w.contains("synchronised from on-premises Active Directory")),
        "{:?}",
        reset.warnings
    );

    run_until_as(&procedure, &env, &id, diego, "disable").await;
    let disabled = procedure
        .run(
            &env,
            &id,
            "disable",
            &Confirmation {
                selected: disable.recommended(),
                typed_account: Some(diego.into()),
                note: Some("Disabled in ADUC by Sam at 10:02".into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap();
    assert!(
        disabled.verification.verified,
        "{:?}",
        disabled.verification
    );
    let confirmation = |note: Option<&str>| Confirmation {
        selected: vec!["onprem:resetPassword".to_owned()],
        typed_account: Some(diego.into()),
        note: note.map(str::to_owned),
        ..Confirmation::default()
    };
    let refused = procedure
        .run(&env, &id, "reset", &confirmation(None))
        .await
        .expect_err("an on-premises step needs the admin's note");
    assert!(refused.to_string().contains("note"), "{refused}");
    lab.control
        .on_premises(diego, "resetPassword")
        .expect("the admin resets it in Active Directory");
    let outcome = procedure
        .run(
            &env,
            &id,
            "reset",
            &confirmation(Some("Reset in ADUC by Sam at 10:05")),
        )
        .await
        .unwrap();
    assert!(outcome.verification.verified, "{:?}", outcome.verification);
    assert!(
        outcome.verification.checks[0]
            .detail
            .starts_with("Done on-premises by the admin"),
        "{:?}",
        outcome.verification.checks
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watch_alerts_when_a_sync_blocks_a_recovered_synchronised_account_again() {
    let lab = lab("password-spray").await;
    let run = firebreak_core::practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        "password-spray",
        &crate::practice::options(),
    )
    .await
    .unwrap();
    assert!(
        run.contained(),
        "{:?} {:?}",
        run.problems,
        run.attacker_access
    );
    let diego = "diego.siciliani@contoso-training.onmicrosoft.com";
    let quiet = firebreak_core::watch::recheck(&lab.client, &lab.store, &run.case_id)
        .await
        .unwrap();
    assert!(quiet.new_alerts.is_empty(), "{:?}", quiet.new_alerts);
    // Someone disables it in Active Directory again; the next sync blocks it in Entra.
    lab.control.on_premises(diego, "disable").unwrap();
    lab.control.advance(Duration::minutes(31));
    let raised = firebreak_core::watch::recheck(&lab.client, &lab.store, &run.case_id)
        .await
        .unwrap();
    assert!(
        raised
            .new_alerts
            .iter()
            .any(|a| a.kind == firebreak_core::watch::AlertKind::SignInState),
        "{:?}",
        raised.new_alerts
    );
}
