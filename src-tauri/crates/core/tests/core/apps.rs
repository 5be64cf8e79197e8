//! App registrations and tenant-wide consents end to end against the simulated tenant: the key
//! the account added is removed and the app's other keys stay (a secret, and a certificate removed
//! by rewriting the list), an app the audit log names but that cannot be found leaves the check
//! "not verified" with why (journal and report), and a tenant-wide consent is found from the
//! directory audit when the compromised account gave it — and kept when another admin did.

use firebreak_core::{
    case::ADMIN,
    practice,
    procedure::{Confirmation, Procedure},
    report::{
        case::{self as from_case, ReportContext},
        incident::ActionOutcome,
    },
};
use firebreak_graph::{auth::ClientCertificate, Client};
use firebreak_sim::Scenario;
use serde_json::{json, Value};

use super::practice::{lab, lab_with, options, Lab};

const INVOICE_APP: &str = "3e0b4d0a-e229-567e-ac25-b67605ee8e1d";
const ATTACKER_KEY: &str = "fbaff44e-99c8-53e3-b467-006f89695d0e";
const PRODUCTION_SECRET: &str = "12c74f3d-88fd-5050-99e4-072d53a95174";
const CERTIFICATE: &str = "8e192542-3678-5244-8d97-8b27eea863e4";
const EVIL_GRANT: &str = "Imlst7N9VkaTvQGr5oLQAAAAA";
const NORTHWIND_GRANT: &str = "Nw3vV9a0pU2X4kQm8bZtAAAAA";

/// The base64 body of a PEM certificate (what `keyCredential.key` holds).
fn base64_of(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn scenario_json(name: &str) -> Value {
    serde_json::to_value(Scenario::builtin(name).unwrap()).unwrap()
}

fn scenario_from(value: &Value) -> Scenario {
    Scenario::from_json(&value.to_string()).unwrap()
}

async fn practised(lab: &Lab, title: &str) -> practice::PracticeRun {
    practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        title,
        &options(),
    )
    .await
    .unwrap_or_else(|e| panic!("{title}: {e}"))
}

/// The `step_started` and `step_finished` details of `step` in the case's journal.
fn journal_of(lab: &Lab, case: &firebreak_core::case::CaseId, step: &str) -> (Value, Value) {
    let view = lab.store.case(case).unwrap();
    let find = |kind: &str| {
        view.journal
            .iter()
            .rev()
            .find(|e| {
                serde_json::to_value(e.kind).unwrap() == json!(kind)
                    && e.step.as_deref() == Some(step)
            })
            .map(|e| e.details["detail"].clone())
            .unwrap_or(Value::Null)
    };
    (find("step_started"), find("step_finished"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_the_account_added_is_removed_and_every_other_credential_stays() {
    let lab = lab("app-secret-persistence").await;
    let run = practised(&lab, "app-secret-persistence").await;
    assert!(run.contained(), "{:?}", run.problems);
    let (started, finished) = journal_of(&lab, &run.case_id, "a1.blast-app-credentials");
    assert_eq!(
        started["selected"],
        json!([format!("appcred:{INVOICE_APP}:{ATTACKER_KEY}")]),
        "only the added secret is selected"
    );
    assert_eq!(finished["checks"][0]["ok"], json!(true), "{finished}");
    let app = lab.client.get_application(INVOICE_APP).await.unwrap();
    let secrets: Vec<String> = app
        .passwords()
        .iter()
        .filter_map(|p| p.key_id.clone())
        .collect();
    assert_eq!(secrets, vec![PRODUCTION_SECRET]);
    assert_eq!(app.keys().len(), 1, "the certificate stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_the_account_added_is_removed_and_the_legitimate_certificate_keeps_its_key() {
    let mut s = scenario_json("app-secret-persistence");
    let now = Scenario::builtin("app-secret-persistence").unwrap().now();
    let theirs = ClientCertificate::generate("attacker", now, 365).unwrap();
    let app = s["applications"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["id"] == INVOICE_APP)
        .unwrap();
    app["passwordCredentials"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["keyId"] != ATTACKER_KEY);
    app["keyCredentials"].as_array_mut().unwrap().push(json!({
        "customKeyIdentifier": null, "displayName": "CN=invoice-sync.contoso-training", "endDateTime": "2026-09-16T02:05:00Z",
        "key": base64_of(&theirs.certificate_pem()),
        "keyId": ATTACKER_KEY, "startDateTime": "2025-09-16T02:05:00Z", "type": "AsymmetricX509Cert", "usage": "Verify"}));
    for audit in s["directoryAudits"].as_array_mut().unwrap() {
        if audit["targetResources"][0]["id"] == INVOICE_APP {
            for p in audit["targetResources"][0]["modifiedProperties"]
                .as_array_mut()
                .unwrap()
            {
                if p["displayName"] == "KeyDescription" {
                    let text = p["newValue"].as_str().unwrap().replace(
                        &format!("KeyIdentifier={ATTACKER_KEY},KeyType=Password"),
                        &format!("KeyIdentifier={ATTACKER_KEY},KeyType=AsymmetricX509Cert"),
                    );
                    p["newValue"] = json!(text);
                }
            }
        }
    }
    let lab = lab_with(scenario_from(&s)).await;
    let before = lab.client.get_application(INVOICE_APP).await.unwrap();
    let legitimate = before
        .keys()
        .iter()
        .find(|k| k.key_id.as_deref() == Some(CERTIFICATE))
        .cloned()
        .unwrap();
    let run = practised(&lab, "certificate variant").await;
    assert!(run.contained(), "{:?}", run.problems);
    let after = lab.client.get_application(INVOICE_APP).await.unwrap();
    assert_eq!(
        after.keys(),
        [legitimate],
        "only the added certificate is gone; the other is sent back whole"
    );
    assert_eq!(after.passwords().len(), 1, "the production secret stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_the_audit_log_names_that_cannot_be_found_leaves_the_check_not_verified_with_why() {
    let mut s = scenario_json("app-secret-persistence");
    s["applications"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["id"] != INVOICE_APP);
    s["answerKey"]["attacker"] = json!([]);
    s["answerKey"]["legitimate"]
        .as_array_mut()
        .unwrap()
        .retain(|a| !a["id"].as_str().unwrap().starts_with(INVOICE_APP));
    let lab = lab_with(scenario_from(&s)).await;
    let run = practised(&lab, "missing app").await;
    let step = run
        .steps
        .iter()
        .find(|s| s.step == "a1.blast-app-credentials")
        .unwrap();
    assert!(
        !step.verified,
        "a check that could not find its target is not verified"
    );
    let (_, finished) = journal_of(&lab, &run.case_id, "a1.blast-app-credentials");
    let detail = finished["checks"][0]["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("Not verified: ") && detail.contains("could not be found"),
        "{detail}"
    );
    let view = lab.store.case(&run.case_id).unwrap();
    let cx = ReportContext::load(&lab.root, &view, lab.store.clock().now().fixed_offset()).unwrap();
    let report = from_case::build(&view, &cx);
    let action = report
        .actions
        .iter()
        .find(|a| a.step.contains("Credentials added to apps"))
        .unwrap_or_else(|| panic!("{:?}", report.actions));
    assert_eq!(action.outcome, ActionOutcome::NotVerified, "{action:?}");
    assert!(action.detail.contains("could not be found"), "{action:?}");
    assert!(
        report
            .actions
            .iter()
            .filter(|a| a.outcome == ActionOutcome::Verified)
            .all(|a| !a.detail.contains("could not be found")),
        "nothing that was not found is reported verified"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tenant_wide_consent_the_admin_gave_is_revoked_its_app_disabled_and_flagged_in_the_report(
) {
    let lab = lab("tenant-consent").await;
    let run = practised(&lab, "tenant-consent").await;
    assert!(run.contained(), "{:?}", run.problems);
    let (triage, _) = journal_of(&lab, &run.case_id, "a1.triage");
    let signals = triage["facts"]["signals"].to_string();
    assert!(
        signals.contains("tenant-wide consent") && signals.contains("homoglyph"),
        "{signals}"
    );
    let (grants, _) = journal_of(&lab, &run.case_id, "a1.grants");
    let selected = grants["selected"].to_string();
    assert!(selected.contains(EVIL_GRANT), "{selected}");
    assert!(!selected.contains(NORTHWIND_GRANT), "{selected}");
    let view = lab.store.case(&run.case_id).unwrap();
    let cx = ReportContext::load(&lab.root, &view, lab.store.clock().now().fixed_offset()).unwrap();
    let report = from_case::build(&view, &cx);
    let consents = report
        .actions
        .iter()
        .find(|a| a.action.contains(EVIL_GRANT) || a.action.contains("Tenant-wide consent"))
        .unwrap_or_else(|| panic!("{:?}", report.actions));
    assert!(
        consents.action.contains("flagged: Look-alike name"),
        "{consents:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_wide_consent_another_admin_gave_is_shown_but_not_preselected() {
    let mut s = scenario_json("tenant-consent");
    let alex = json!({"user": {"id": "2177bbf9-9219-5531-8545-a817ab0c1afe", "displayName": null,
        "userPrincipalName": "alex.wilber@contoso-training.onmicrosoft.com", "ipAddress": "192.0.2.10"}});
    for audit in s["directoryAudits"].as_array_mut().unwrap() {
        if audit["activityDateTime"] == "2025-10-06T21:24:00Z" {
            audit["initiatedBy"] = alex.clone();
        }
    }
    let lab = lab_with(scenario_from(&s)).await;
    let case = practice::declare_case(&lab.client, &lab.store, lab.control.now(), "variant")
        .await
        .unwrap();
    let account = case.metadata.accounts[0].clone();
    let procedure = Procedure::<Client>::compromised_account(1, account.as_str());
    let env = lab.env(&[]);
    let triage = procedure.plan(&env, &case.id, "triage").await.unwrap();
    procedure
        .run(
            &env,
            &case.id,
            "triage",
            &Confirmation {
                selected: triage.recommended(),
                typed_account: Some(account.clone()),
                window_start: Some("2025-10-06T21:10:00Z".parse().unwrap()),
                note: None,
            },
        )
        .await
        .unwrap();
    let plan = procedure
        .plan(&env, &case.id, "blast-consents")
        .await
        .unwrap();
    let row = plan
        .items
        .iter()
        .find(|i| i.id == format!("grant:{EVIL_GRANT}"))
        .unwrap_or_else(|| panic!("listed: {:?}", plan.items));
    assert!(!row.recommended, "{row:?}");
    assert!(
        row.reasons
            .iter()
            .any(|r| r.contains("not by this account")),
        "{:?}",
        row.reasons
    );
    assert!(
        row.details
            .iter()
            .any(|d| d.starts_with("Look-alike or unverified:")),
        "the look-alike is still flagged: {:?}",
        row.details
    );
    let _ = ADMIN;
}
