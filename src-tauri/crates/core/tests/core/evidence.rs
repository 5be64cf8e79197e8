//! Containment judged by evidence on the `undated-methods` scenario (Entra ID P1 only): phone and
//! e-mail methods without a creation time dated and attributed from the directory audit, and
//! inbox rules judged by what they do — each row saying which evidence decided it.

use chrono::Duration;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, ADMIN,
    },
    practice,
    procedure::{contain::Organisation, Confirmation, Plan, PlanItem, Procedure},
};
use firebreak_graph::Client;
use serde_json::Value;

use crate::practice::{lab, options, Lab};

pub(crate) const PRIYA: &str = "priya.raman@contoso-training.onmicrosoft.com";
pub(crate) const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
/// Her own phone, registered eight months ago (no creation time, no entry in the log's reach).
const HER_PHONE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
/// The attacker's alternate mobile phone.
const THEIR_PHONE: &str = "b6332ec1-7057-4abe-9331-3d72ed82f1d0";
/// The attacker's e-mail method, added from a second address.
pub(crate) const THEIR_EMAIL_ADDRESS: &str = "priya.raman.finance@mailbox.example";
pub(crate) const THEIR_RULE: &str = "5502163981286309304";
const HER_RULES: [&str; 3] = [
    "5502163981286309301",
    "5502163981286309302",
    "5502163981286309303",
];

fn metadata(now: chrono::DateTime<chrono::Utc>) -> CaseMetadata {
    CaseMetadata {
        title: "Undated methods".into(),
        detected_at: now - Duration::minutes(10),
        aware_at: now,
        alert_source: AlertSource::UserReport,
        indicators: vec![],
        affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
        severity: Severity::High,
        accounts: vec![PRIYA.into()],
        incident_commander: "Test".into(),
        external_ticket: None,
    }
}

/// Declares the case and runs `keys` with the tool's recommendations, the account name typed.
pub(crate) async fn run_through(lab: &Lab, keys: &[&str]) -> (Procedure<Client>, CaseId) {
    let case = lab
        .store
        .declare(ADMIN, metadata(lab.control.now()))
        .unwrap();
    let env = lab.env(&[BREAK_GLASS]);
    let procedure = Procedure::<Client>::compromised_account(1, PRIYA);
    for key in keys {
        let plan = procedure.plan(&env, &case.id, key).await.unwrap();
        procedure
            .run(
                &env,
                &case.id,
                key,
                &Confirmation {
                    selected: plan.recommended(),
                    typed_account: Some(PRIYA.into()),
                    ..Confirmation::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    (procedure, case.id)
}

fn row<'a>(plan: &'a Plan, wanted: impl Fn(&PlanItem) -> bool, what: &str) -> &'a PlanItem {
    plan.items
        .iter()
        .find(|i| wanted(i))
        .unwrap_or_else(|| panic!("no row for {what}: {:#?}", plan.items))
}

fn decided_by<'a>(plan: &'a Plan, item: &PlanItem) -> &'a str {
    plan.facts["methods"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| format!("method:{}", m["methodId"].as_str().unwrap_or_default()) == item.id)
        .and_then(|m| m["decidedBy"].as_str())
        .unwrap_or_else(|| panic!("no evidence for {}: {}", item.id, plan.facts))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_method_is_dated_from_the_registration_log_and_says_which_evidence_decided() {
    let lab = lab("undated-methods").await;
    let (procedure, case) =
        run_through(&lab, &["triage", "preserve", "revoke", "disable", "reset"]).await;
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &case, "methods")
        .await
        .unwrap();

    let theirs = row(
        &plan,
        |i| i.id == format!("method:{THEIR_PHONE}"),
        "the attacker's phone",
    );
    assert!(theirs.recommended, "{theirs:#?}");
    assert_eq!(decided_by(&plan, theirs), "attackerAddress");
    assert!(theirs.reasons[0].contains("203.0.113.45"), "{theirs:#?}");
    assert!(
        theirs
            .reasons
            .iter()
            .any(|r| r.contains("minutes after the attacker's sign-in")),
        "{theirs:#?}"
    );

    let email = row(
        &plan,
        |i| i.details.iter().any(|d| d.contains(THEIR_EMAIL_ADDRESS)),
        "the attacker's e-mail",
    );
    assert!(email.recommended, "{email:#?}");
    assert_eq!(
        decided_by(&plan, email),
        "newAddressInWindow",
        "the second address is not one triage attributed, but it is new to her and in the window"
    );
    assert!(email.reasons[0].contains("198.51.100.77"), "{email:#?}");
    assert!(
        email.reasons.iter().any(|r| r.contains("browser")),
        "{email:#?}"
    );

    let phone = row(
        &plan,
        |i| i.id == format!("method:{HER_PHONE}"),
        "her phone",
    );
    assert!(!phone.recommended, "{phone:#?}");
    assert_eq!(decided_by(&plan, phone), "beforeLogReach");
    assert!(
        phone.reasons[0].contains("before the log's reach (30 days; seven without Entra ID P1)"),
        "{phone:#?}"
    );

    let app = row(
        &plan,
        |i| i.kind == "Microsoft Authenticator",
        "her new Authenticator",
    );
    assert!(
        !app.recommended,
        "registered in the window, from her office: {app:#?}"
    );
    assert_eq!(decided_by(&plan, app), "usersOwnAddress");
    assert!(app.reasons[0].contains("192.0.2.44"), "{app:#?}");
    assert!(
        app.details
            .iter()
            .any(|d| d.starts_with("Directory audit:")),
        "the row shows the entry that decided it: {app:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_are_judged_by_intent_and_forwarding_to_another_accepted_domain_stays_inside() {
    let lab = lab("undated-methods").await;
    let (procedure, case) = run_through(
        &lab,
        &[
            "triage", "preserve", "revoke", "disable", "reset", "methods",
        ],
    )
    .await;
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &case, "mailbox")
        .await
        .unwrap();
    let rule = |identity: &str| {
        plan.items
            .iter()
            .find(|i| i.id.starts_with("rule:") && i.id.ends_with(identity))
            .unwrap_or_else(|| panic!("no rule {identity}: {:#?}", plan.items))
    };
    let theirs = rule(THEIR_RULE);
    assert!(theirs.recommended, "{theirs:#?}");
    assert_eq!(
        theirs.reasons[0],
        "Moves mail with 'betaling', 'invoice', 'factuur' to Conversation History\\Sync, marks it read."
    );
    assert!(theirs
        .reasons
        .iter()
        .any(|r| r.contains("sub-folder of Conversation History")));
    assert!(theirs
        .reasons
        .iter()
        .any(|r| r.contains("made only of dots")));
    for identity in HER_RULES {
        let kept = rule(identity);
        assert!(!kept.recommended, "{kept:#?}");
    }
    // The purchasing team's address is on the organisation's second accepted domain: inside,
    // although the account itself signs in on the first one.
    let to_purchasing = rule(HER_RULES[2]);
    assert!(
        to_purchasing.reasons[0].contains("inkoop@contoso-training.example")
            && !to_purchasing.reasons.iter().any(|r| r.contains("outside")),
        "{to_purchasing:#?}"
    );
    assert!(
        Organisation::of_account(PRIYA).is_external("inkoop@contoso-training.example"),
        "judged by the account's domain alone it would have been flagged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hidden_rule_is_told_apart_from_the_visible_ones_in_the_mailbox_plan() {
    let lab = lab("aitm").await;
    let megan = "megan.bowen@contoso-training.onmicrosoft.com";
    let case = lab
        .store
        .declare(
            ADMIN,
            CaseMetadata {
                accounts: vec![megan.into()],
                ..metadata(lab.control.now())
            },
        )
        .unwrap();
    let env = lab.env(&[BREAK_GLASS]);
    let procedure = Procedure::<Client>::compromised_account(1, megan);
    for key in [
        "triage", "preserve", "revoke", "disable", "reset", "methods",
    ] {
        let plan = procedure.plan(&env, &case.id, key).await.unwrap();
        procedure
            .run(
                &env,
                &case.id,
                key,
                &Confirmation {
                    selected: plan.recommended(),
                    typed_account: Some(megan.into()),
                    ..Confirmation::default()
                },
            )
            .await
            .unwrap();
    }
    let plan = procedure.plan(&env, &case.id, "mailbox").await.unwrap();
    let rules: Vec<&PlanItem> = plan
        .items
        .iter()
        .filter(|i| i.id.starts_with("rule:"))
        .collect();
    let hidden: Vec<&&PlanItem> = rules
        .iter()
        .filter(|i| i.kind == "Inbox rule (hidden)")
        .collect();
    assert_eq!(hidden.len(), 1, "{rules:#?}");
    assert!(hidden[0].recommended);
    assert!(
        hidden[0].reasons.iter().any(|r| r.starts_with("Hidden")),
        "{:#?}",
        hidden[0]
    );
    assert!(
        rules
            .iter()
            .filter(|i| i.kind == "Inbox rule")
            .all(|i| !i.reasons.iter().any(|r| r.starts_with("Hidden"))),
        "{rules:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_returning_attackers_phone_is_preselected_and_the_users_own_registration_is_kept() {
    let lab = lab("undated-methods").await;
    let sim = lab.control.as_ref();
    let (procedure, case) =
        run_through(&lab, &["triage", "preserve", "revoke", "disable", "reset"]).await;
    // Priya registers again from her office; the attacker adds another phone from its address.
    let hers = sim.user_acts(PRIYA, &["registerMethod"]).unwrap();
    let theirs = sim.attacker_returns(PRIYA, &["registerMethod"]).unwrap();
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &case, "methods")
        .await
        .unwrap();
    let id = |v: &Value| format!("method:{}", v["done"][0]["methodId"].as_str().unwrap());
    let mine = row(&plan, |i| i.id == id(&hers), "her new registration");
    assert!(!mine.recommended, "{mine:#?}");
    assert_eq!(decided_by(&plan, mine), "usersOwnAddress");
    let back = row(&plan, |i| i.id == id(&theirs), "the attacker's new phone");
    assert!(back.recommended, "{back:#?}");
    assert_eq!(decided_by(&plan, back), "attackerAddress");
}

#[tokio::test(flavor = "multi_thread")]
async fn practice_on_undated_methods_removes_the_attackers_methods_and_rule_and_keeps_hers() {
    let lab = lab("undated-methods").await;
    let run = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        "undated-methods",
        &options(),
    )
    .await
    .unwrap();
    assert_eq!(run.accounts, vec![PRIYA.to_owned()]);
    let score = &run.score;
    assert!(score.attacker_artefacts.remaining.is_empty(), "{score:?}");
    assert_eq!(score.attacker_artefacts.removed, 3, "{score:?}");
    assert!(score.legitimate_artefacts.removed.is_empty(), "{score:?}");
    assert!(!score.attacker_regained_access);
    assert!(!score.attacker_has_access);
    assert!(run.contained(), "{:?}", run.problems);
}
