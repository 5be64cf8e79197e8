//! Exchange changes of the mailbox step against the simulated tenant (spec/exchange.md): a
//! delegate removed with the inheritance Exchange listed, a removal whose answer was lost found
//! already gone, and a change Exchange had nothing to do for reported as such — the read-back
//! deciding each time.

use chrono::Duration;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, ADMIN,
    },
    procedure::{Confirmation, Plan, Procedure, StepOutcome},
};
use firebreak_graph::Client;
use firebreak_sim::{Faults, Scenario};
use serde_json::{json, Value};

use crate::{
    practice::{lab_with, Lab},
    recovery::run_until_as,
};

const MEGAN: &str = "megan.bowen@contoso-training.onmicrosoft.com";
const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
/// A delegate outside the organisation, granted FullAccess with an inheritance other than `All`.
const HELPDESK: &str = "it-support@contoso-helpdesk.example";

/// The AiTM scenario with Megan's mail also forwarded and the outside delegate on her mailbox.
fn scenario() -> Scenario {
    let mut json = serde_json::to_value(Scenario::builtin("aitm").unwrap()).unwrap();
    let megan = json["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"]["userPrincipalName"] == MEGAN)
        .unwrap();
    megan["mailbox"]["forwardingSmtpAddress"] = json!("smtp:megan.archive@outlook-rnail.example");
    megan["mailbox"]["permissions"] = json!([{
        "user": HELPDESK, "accessRights": ["FullAccess"], "inheritanceType": "SelfAndChildren"
    }]);
    Scenario::from_json(&json.to_string()).unwrap()
}

/// A lab on [`scenario`] with a case about Megan whose steps before the mailbox step are done.
async fn up_to_the_mailbox_step() -> (Lab, CaseId, Procedure<Client>) {
    let lab = lab_with(scenario()).await;
    let now = lab.control.now();
    let case = lab
        .store
        .declare(
            ADMIN,
            CaseMetadata {
                title: "AiTM — Megan".into(),
                detected_at: now - Duration::minutes(20),
                aware_at: now,
                alert_source: AlertSource::UserReport,
                indicators: vec![],
                affected_workloads: vec![Workload::ExchangeOnline, Workload::EntraId],
                severity: Severity::High,
                accounts: vec![MEGAN.into()],
                incident_commander: "Sam".into(),
                external_ticket: None,
            },
        )
        .unwrap()
        .id;
    let procedure = Procedure::<Client>::compromised_account(1, MEGAN);
    run_until_as(
        &procedure,
        &lab.env(&[BREAK_GLASS]),
        &case,
        MEGAN,
        "mailbox",
    )
    .await;
    (lab, case, procedure)
}

/// Runs the mailbox step on the rows `pick` chooses from a fresh plan, with `faults` set just
/// before; returns the outcome and the `step_finished` details.
async fn run_mailbox_step(
    lab: &Lab,
    case: &CaseId,
    procedure: &Procedure<Client>,
    pick: impl Fn(&Plan) -> Vec<String>,
    faults: Faults,
) -> (StepOutcome, Value) {
    let env = lab.env(&[BREAK_GLASS]);
    let plan = procedure.plan(&env, case, "mailbox").await.unwrap();
    lab.control.set_faults(faults);
    let outcome = procedure
        .run(
            &env,
            case,
            "mailbox",
            &Confirmation {
                selected: pick(&plan),
                typed_account: Some(MEGAN.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the mailbox step: {e}"));
    let finished = lab
        .store
        .case(case)
        .unwrap()
        .journal
        .iter()
        .rev()
        .find(|e| e.kind.as_str() == "step_finished")
        .map(|e| e.details.clone())
        .unwrap();
    (outcome, finished)
}

fn detail_of<'a>(outcome: &'a StepOutcome, item: &str) -> &'a str {
    outcome
        .verification
        .checks
        .iter()
        .find(|c| c.item == item)
        .map(|c| c.detail.as_str())
        .unwrap_or_else(|| panic!("no check for {item}: {:?}", outcome.verification))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delegate_goes_with_its_own_inheritance_and_a_removal_whose_answer_was_lost_is_already_gone(
) {
    let (lab, case, procedure) = up_to_the_mailbox_step().await;
    let delegate = format!("full-access:{HELPDESK}");
    let (outcome, finished) = run_mailbox_step(
        &lab,
        &case,
        &procedure,
        |plan| {
            let rule = plan
                .items
                .iter()
                .find(|i| i.label.contains("Outlook Sync"))
                .unwrap_or_else(|| panic!("the hidden rule: {:#?}", plan.items));
            vec![rule.id.clone(), delegate.clone()]
        },
        // The first change (the rule's removal) happens, but its answer is lost.
        Faults {
            drop_answer_next: 1,
            ..Faults::default()
        },
    )
    .await;
    let hidden_rule = outcome
        .verification
        .checks
        .iter()
        .find(|c| c.item.starts_with("rule:"))
        .map(|c| c.item.clone())
        .unwrap();
    assert!(
        outcome.verification.verified,
        "the retry found the rule gone and the delegate was removed with SelfAndChildren: {:?}",
        outcome.verification
    );
    let rule = detail_of(&outcome, &hidden_rule);
    assert!(
        rule.starts_with("Gone.") && rule.contains("Already gone: Exchange could not find it"),
        "{rule}"
    );
    assert_eq!(detail_of(&outcome, &delegate), "Gone.");
    let noted = finished.to_string();
    assert!(
        noted.contains("nothingToChange") && noted.contains("Already gone"),
        "journaled: {noted}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_exchange_had_nothing_to_do_for_is_reported_and_the_read_back_decides() {
    let (lab, case, procedure) = up_to_the_mailbox_step().await;
    let (outcome, finished) = run_mailbox_step(
        &lab,
        &case,
        &procedure,
        |_| vec!["forwarding".into()],
        // Set-Mailbox clears the forwarding, its answer is lost, the retry has nothing to do.
        Faults {
            drop_answer_next: 1,
            ..Faults::default()
        },
    )
    .await;
    assert!(outcome.verification.verified, "{:?}", outcome.verification);
    let forwarding = detail_of(&outcome, "forwarding");
    assert!(
        forwarding.contains("Exchange reported nothing to change: The command completed successfully but no settings of"),
        "{forwarding}"
    );
    assert!(
        finished
            .to_string()
            .contains("Exchange reported nothing to change"),
        "journaled: {finished}"
    );
}
