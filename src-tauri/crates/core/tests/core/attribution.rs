//! Attribution without Entra ID P2 against the simulated tenant: triage names the attacker's
//! infrastructure on a Business Premium tenant (no risk data) and keeps the look-alikes out, a
//! second hop's entry account that signed in five days earlier is found, and the sweep, the
//! blast-radius sign-in check and the watch use the infrastructure rather than exact addresses.

use chrono::Duration;
use firebreak_core::{
    case::{CaseId, ADMIN},
    practice,
    procedure::{Env, Procedure},
    sweep,
    watch::{self, AlertKind},
};
use firebreak_graph::Client;
use firebreak_sim::Scenario;
use serde_json::Value;

use crate::practice::Lab;

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
const INES: &str = "ines.duarte@contoso-training.onmicrosoft.com";
const ROSA: &str = "rosa.jimenez@contoso-training.onmicrosoft.com";
const KENJI: &str = "kenji.watanabe@contoso-training.onmicrosoft.com";

/// The practice lab (simulator, client on its clock, case store) with this file's helpers.
struct Tenant(Lab);

impl std::ops::Deref for Tenant {
    type Target = Lab;

    fn deref(&self) -> &Lab {
        &self.0
    }
}

impl Tenant {
    async fn start(scenario: Scenario) -> Self {
        Self(crate::practice::lab_with(scenario).await)
    }

    async fn builtin(name: &str) -> Self {
        Self(crate::practice::lab(name).await)
    }

    fn env(&self) -> Env<'_, Client> {
        Env {
            tenant: &self.client,
            store: &self.store,
            protected: vec![BREAK_GLASS.into()],
            actor: ADMIN,
        }
    }

    /// The case an admin declares after the alert (the practice's declaration).
    async fn declare(&self) -> (CaseId, String) {
        let case = practice::declare_case(&self.client, &self.store, self.control.now(), "p1")
            .await
            .unwrap();
        (case.id.clone(), case.metadata.accounts[0].clone())
    }

    /// Runs every step up to (not including) `stop` with the recommendations.
    async fn run_until(
        &self,
        procedure: &Procedure<Client>,
        id: &CaseId,
        account: &str,
        stop: &str,
    ) {
        crate::recovery::run_until_as(procedure, &self.env(), id, account, stop).await;
    }
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn members(facts: &Value, kind: &str) -> Vec<String> {
    facts
        .pointer("/infrastructure/members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| m["kind"] == kind)
        .filter_map(|m| m["value"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn on_a_p1_tenant_triage_names_the_attackers_three_addresses_and_keeps_home_office_and_traveller_out(
) {
    let t = Tenant::builtin("aitm-p1").await;
    let (id, account) = t.declare().await;
    assert_eq!(account, INES);
    let procedure = Procedure::<Client>::compromised_account(1, account);
    let plan = procedure.plan(&t.env(), &id, "triage").await.unwrap();
    let facts = &plan.facts;
    assert_eq!(facts["identityProtection"], "hidden", "{facts}");
    assert!(
        plan.warnings.iter().any(|w| w.contains("no Entra ID P2")),
        "{:?}",
        plan.warnings
    );
    assert_eq!(facts["proposedKind"], "tokenTheft", "{}", facts["signals"]);
    assert_eq!(facts["windowStart"], "2025-10-14T09:12:00Z");
    let addresses = strings(facts, "/attackerAddresses");
    for attacker in ["203.0.113.45", "203.0.113.46", "2001:db8:4f1:20::7"] {
        assert!(
            addresses.contains(&attacker.to_owned()),
            "{attacker} in {addresses:?}"
        );
    }
    for look_alike in ["192.0.2.34", "198.51.100.10", "2001:db8:c1a0:7::25"] {
        assert!(
            !addresses.contains(&look_alike.to_owned()),
            "{look_alike} in {addresses:?}"
        );
    }
    let mut ranges = members(facts, "range");
    ranges.sort();
    assert_eq!(
        ranges,
        vec!["2001:db8:4f1::/48".to_owned(), "203.0.113.0/24".to_owned()]
    );
    assert_eq!(members(facts, "network"), vec!["AS14061".to_owned()]);
    let evidence = facts
        .pointer("/infrastructure/members")
        .unwrap()
        .to_string();
    assert!(
        evidence.contains("named in the evidence of the Defender alert"),
        "{evidence}"
    );
    assert!(
        evidence.contains("DigitalOcean, a hosting provider"),
        "{evidence}"
    );
    assert!(strings(facts, "/earlierAccounts").is_empty());
    // The rows the admin sees carry the same evidence.
    let v6 = plan
        .items
        .iter()
        .find(|i| i.label == "2001:db8:4f1:20::7")
        .expect("the IPv6 address is a row");
    assert!(
        v6.reasons.iter().any(|r| r.contains("AS14061")),
        "{:?}",
        v6.reasons
    );
}

#[tokio::test]
async fn the_entry_account_that_signed_in_five_days_before_the_alert_is_named_and_the_colleagues_vpn_is_not(
) {
    let t = Tenant::builtin("second-hop-p1").await;
    let (id, account) = t.declare().await;
    assert_eq!(account, ROSA);
    let procedure = Procedure::<Client>::compromised_account(1, account.clone());
    let plan = procedure.plan(&t.env(), &id, "triage").await.unwrap();
    let facts = &plan.facts;
    assert_eq!(
        strings(facts, "/earlierAccounts"),
        vec![KENJI.to_owned()],
        "{facts}"
    );
    let why = facts["earlier"][0]["why"].as_str().unwrap_or_default();
    assert!(
        why.contains("203.0.113.61") && why.contains("same /24 as 203.0.113.77"),
        "{why}"
    );
    assert_eq!(facts["earlier"][0]["firstAt"], "2025-11-15T10:20:00Z");
    let second_hop = plan
        .items
        .iter()
        .find(|i| i.id == "chain:second-hop")
        .unwrap();
    assert!(second_hop.recommended);
    // Hugo's own VPN on the same provider (AS24940) is not the attacker's.
    assert!(!facts.to_string().contains("hugo.lambert@"), "{facts}");

    t.run_until(&procedure, &id, &account, sweep::KEY).await;
    let sweep = procedure.plan(&t.env(), &id, sweep::KEY).await.unwrap();
    let hits: Vec<&str> = sweep.items.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(hits, vec![KENJI], "{:?} {}", sweep.warnings, sweep.facts);
    assert!(
        sweep.items[0]
            .details
            .iter()
            .any(|d| d.contains("203.0.113.61")),
        "{:?}",
        sweep.items[0].details
    );
}

#[tokio::test]
async fn on_the_p1_tenant_the_sweep_finds_no_one_else_and_the_sign_in_check_records_all_three_addresses(
) {
    let t = Tenant::builtin("aitm-p1").await;
    let (id, account) = t.declare().await;
    let procedure = Procedure::<Client>::compromised_account(1, account.clone());
    t.run_until(&procedure, &id, &account, sweep::KEY).await;
    let sweep = procedure.plan(&t.env(), &id, sweep::KEY).await.unwrap();
    assert!(
        sweep.items.is_empty(),
        "the traveller and Priya are not hits: {:?}",
        sweep.items
    );
    assert!(
        sweep
            .warnings
            .iter()
            .any(|w| w.contains("only failed sign-ins")),
        "Priya's failed try is noted: {:?}",
        sweep.warnings
    );
    let check = procedure
        .plan(&t.env(), &id, "blast-sign-ins")
        .await
        .unwrap();
    let rows: Vec<&str> = check.items.iter().map(|i| i.label.as_str()).collect();
    assert!(rows.contains(&"203.0.113.45"), "{rows:?}");
    assert!(rows.contains(&"2001:db8:4f1:20::7"), "{rows:?}");
    assert!(
        !rows.contains(&"192.0.2.34") && !rows.contains(&"198.51.100.10"),
        "{rows:?}"
    );
}

/// The aitm-p1 tenant with the attacker coming back from `address`.
fn returning_from(address: &str) -> Scenario {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../../sim/scenarios/aitm-p1.json")).unwrap();
    scenario["attacker"]["ipAddresses"][0] = Value::String(address.into());
    Scenario::from_json(&scenario.to_string()).unwrap()
}

#[tokio::test]
async fn the_watch_sees_the_attacker_back_on_an_unseen_address_of_its_range_but_not_the_user_at_home(
) {
    // 203.0.113.99 was never used before: only its /24 ties it to the attacker.
    let t = Tenant::start(returning_from("203.0.113.99")).await;
    let (id, account) = t.declare().await;
    let procedure = Procedure::<Client>::compromised_account(1, account.clone());
    t.run_until(&procedure, &id, &account, "none").await;
    let sim = t.control.as_ref();
    sim.advance(Duration::minutes(30));
    sim.user_acts(INES, &["signIn"]).unwrap();
    let quiet = watch::recheck(&t.client, &t.store, &id).await.unwrap();
    assert_eq!(quiet.windows.len(), 1);
    assert!(
        quiet.new_alerts.is_empty(),
        "her own sign-in at home: {:?}",
        quiet.new_alerts
    );

    sim.advance(Duration::minutes(20));
    sim.attacker_returns(INES, &["signIn"]).unwrap();
    let raised = watch::recheck(&t.client, &t.store, &id).await.unwrap();
    let sign_ins = sign_in_alerts(&raised);
    assert_eq!(sign_ins.len(), 1, "{:?}", raised.new_alerts);
    assert!(
        sign_ins[0].detail.contains("203.0.113.99"),
        "{}",
        sign_ins[0].detail
    );
    assert!(
        sign_ins[0].detail.contains("same /24"),
        "{}",
        sign_ins[0].detail
    );
}

#[tokio::test]
async fn the_watch_sees_the_attacker_back_on_another_range_of_its_hosting_network() {
    // 192.0.2.200 is in the users' home range, but the sign-in comes from AS14061, the
    // attacker's hosting network, which no one in the tenant uses.
    let t = Tenant::start(returning_from("192.0.2.200")).await;
    let (id, account) = t.declare().await;
    let procedure = Procedure::<Client>::compromised_account(1, account.clone());
    t.run_until(&procedure, &id, &account, "none").await;
    let sim = t.control.as_ref();
    sim.advance(Duration::minutes(30));
    sim.attacker_returns(INES, &["signIn"]).unwrap();
    let raised = watch::recheck(&t.client, &t.store, &id).await.unwrap();
    let sign_ins = sign_in_alerts(&raised);
    assert_eq!(sign_ins.len(), 1, "{:?}", raised.new_alerts);
    assert!(
        sign_ins[0].detail.contains("AS14061"),
        "{}",
        sign_ins[0].detail
    );
}

/// The sign-in alerts a re-check raised.
fn sign_in_alerts(raised: &watch::Recheck) -> Vec<&watch::WatchAlert> {
    raised
        .new_alerts
        .iter()
        .filter(|a| a.kind == AlertKind::SignIn)
        .collect()
}
