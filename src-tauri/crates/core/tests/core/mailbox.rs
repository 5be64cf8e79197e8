//! The mailbox step against what Exchange Online really answers (issue 21): one cmdlet that fails
//! leaves the rest of the plan standing, the hidden rules Exchange keeps in every mailbox are
//! never offered while a look-alike wearing their name is, and names that are not addresses —
//! object ids, a mail contact, a group, a deleted account's SID — are resolved before they are
//! shown or judged (spec/exchange.md).

use firebreak_core::procedure::{Confirmation, Plan, PlanItem};
use firebreak_sim::{Faults, Scenario};
use serde_json::{json, Value};

use crate::evidence::{run_through, BREAK_GLASS, PRIYA, THEIR_EMAIL_ADDRESS, THEIR_RULE};
use crate::practice::{lab_with, scenario_json, Lab};

const BEFORE_MAILBOX: [&str; 6] = [
    "triage", "preserve", "revoke", "disable", "reset", "methods",
];
const CONTACT: &str = "Priya Raman (home)";
const CONTACT_ADDRESS: &str = "priya.raman.home@mailbox.example";
const ORPHANED_SID: &str = "S-1-5-21-2704283817-4139672356-1960338527-1196";

/// `undated-methods` with Priya's mailbox changed by `change`.
async fn lab_changed(change: impl FnOnce(&mut Value)) -> Lab {
    let mut json = scenario_json("undated-methods");
    change(&mut json);
    lab_with(Scenario::from_json(&json.to_string()).unwrap()).await
}

fn priyas_mailbox(json: &mut Value) -> &mut Value {
    user(json, PRIYA)
        .get_mut("mailbox")
        .expect("Priya has a mailbox")
}

fn user<'a>(json: &'a mut Value, upn: &str) -> &'a mut Value {
    json["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"]["userPrincipalName"] == upn)
        .unwrap()
}

fn row<'a>(plan: &'a Plan, id: &str) -> &'a PlanItem {
    plan.items
        .iter()
        .find(|i| i.id == id || (id.starts_with("rule:") && i.id.ends_with(&id[5..])))
        .unwrap_or_else(|| panic!("no row {id}: {:#?}", plan.items))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cmdlet_the_admin_cannot_run_leaves_the_rules_and_the_forwarding_in_the_plan() {
    let lab = lab_changed(|json| {
        priyas_mailbox(json)["forwardingSmtpAddress"] =
            json!(format!("smtp:{THEIR_EMAIL_ADDRESS}"));
    })
    .await;
    let (procedure, case) = run_through(&lab, &BEFORE_MAILBOX).await;
    lab.control.set_faults(Faults {
        missing_cmdlets: vec!["Get-MailboxPermission".into()],
        ..Faults::default()
    });
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &case, "mailbox")
        .await
        .expect("one failed read does not fail the plan");
    assert!(row(&plan, &format!("rule:{THEIR_RULE}")).recommended);
    let forwarding = row(&plan, "forwarding");
    assert!(forwarding.recommended, "{forwarding:#?}");
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("FullAccess delegates could not be read")
                && w.contains("Get-MailboxPermission")
                && w.contains("The rest of this plan is complete")),
        "{:#?}",
        plan.warnings
    );
    assert_eq!(plan.facts["unreadable"], json!(["full-access:"]));
    assert!(
        !plan
            .warnings
            .iter()
            .any(|w| w.contains("SendAs delegates could not be read")),
        "the other reads still answered: {:#?}",
        plan.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rules_exchange_keeps_in_every_mailbox_are_not_offered_but_look_alikes_wearing_their_names_are(
) {
    let lab = lab_changed(|json| {
        let rules = priyas_mailbox(json)["inboxRules"].as_array_mut().unwrap();
        rules.push(json!({
            "name": "Junk E-Mail Rule", "ruleIdentity": "5502163981286309390", "hidden": true,
            "actions": {"forwardTo": [THEIR_EMAIL_ADDRESS]}
        }));
        rules.push(json!({
            "name": "Microsoft.Exchange.OOF.AllExternalSenders.Global", "ruleIdentity": "5502163981286309391",
            "hidden": true, "conditions": {"subjectContains": ["factuur"]},
            "actions": {"delete": true}
        }));
    })
    .await;
    let (procedure, case) = run_through(&lab, &BEFORE_MAILBOX).await;
    let plan = procedure
        .plan(&lab.env(&[BREAK_GLASS]), &case, "mailbox")
        .await
        .unwrap();
    let system: Vec<&PlanItem> = plan
        .items
        .iter()
        .filter(|i| i.label == "Junk E-Mail Rule" || i.label.starts_with("Microsoft.Exchange.OOF."))
        .collect();
    assert_eq!(
        system.len(),
        2,
        "only the two look-alikes, never the built-in rules: {system:#?}"
    );
    for look_alike in system {
        assert!(look_alike.recommended, "{look_alike:#?}");
        assert!(
            look_alike
                .reasons
                .iter()
                .any(|r| r.contains("wears the name of a rule Exchange keeps")),
            "{look_alike:#?}"
        );
    }
    assert!(row(&plan, "rule:5502163981286309390").reasons[0].contains(THEIR_EMAIL_ADDRESS));
    assert_eq!(plan.facts["builtInRules"].as_array().unwrap().len(), 4);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.starts_with("Not listed: 4 hidden rule(s) Exchange keeps")),
        "{:#?}",
        plan.warnings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_to_a_mail_contact_outside_is_removed_and_every_name_is_resolved_before_it_is_shown(
) {
    let sanne = "sanne.visser@contoso-training.example";
    let lab = lab_changed(|json| {
        // A colleague's mailbox made in 2024: Exchange names it by its object id.
        let colleague = user(json, sanne);
        colleague["user"]["createdDateTime"] = json!("2024-02-01T08:00:00Z");
        colleague["mailbox"] = json!({});
        let mailbox = priyas_mailbox(json);
        mailbox["forwardingAddress"] = json!(CONTACT);
        mailbox["grantSendOnBehalfTo"] = json!(["sanne.visser"]);
        mailbox["permissions"] = json!([{"user": ORPHANED_SID, "accessRights": ["FullAccess"]}]);
        mailbox["recipientPermissions"] =
            json!([{"trustee": "Accounts Payable", "accessRights": ["SendAs"]}]);
    })
    .await;
    let (procedure, case) = run_through(&lab, &BEFORE_MAILBOX).await;
    let env = lab.env(&[BREAK_GLASS]);
    let plan = procedure.plan(&env, &case, "mailbox").await.unwrap();

    let forwarding = row(&plan, "forwarding");
    assert!(
        forwarding.recommended,
        "a contact's mail leaves the organisation: {forwarding:#?}"
    );
    assert!(
        forwarding.label.contains(CONTACT_ADDRESS),
        "{forwarding:#?}"
    );
    assert!(
        forwarding
            .reasons
            .iter()
            .any(|r| r.contains("is a mail contact") && r.contains(CONTACT_ADDRESS)),
        "{forwarding:#?}"
    );

    let delegate = plan
        .items
        .iter()
        .find(|i| i.id.starts_with("send-on-behalf:"))
        .expect("the send-on-behalf delegate");
    assert_eq!(
        delegate.label,
        format!("Sanne Visser <{sanne}>"),
        "written by her object id, shown as her: {delegate:#?}"
    );

    let orphan = row(&plan, &format!("full-access:{ORPHANED_SID}"));
    assert_eq!(
        orphan.label,
        format!("could not be resolved: {ORPHANED_SID}")
    );
    assert!(!orphan.recommended);
    assert!(
        orphan.reasons[0].contains("could not tell who holds this"),
        "{orphan:#?}"
    );

    let group = row(&plan, "send-as:Accounts Payable");
    assert!(
        group.label.starts_with("Group Accounts Payable"),
        "{group:#?}"
    );
    assert!(group.reasons.iter().any(|r| r.contains("is a group")));

    assert!(plan.recommended().contains(&"forwarding".to_owned()));
    let outcome = procedure
        .run(
            &env,
            &case,
            "mailbox",
            &Confirmation {
                selected: plan.recommended(),
                typed_account: Some(PRIYA.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap();
    assert!(outcome.verification.verified, "{:#?}", outcome.verification);
}
