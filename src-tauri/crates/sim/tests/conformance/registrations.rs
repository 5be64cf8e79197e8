//! Security-info registrations as the directory audit records them (the method kind in
//! `resultReason`, the registering address, the browser in `additionalDetails`), and the
//! organisation's accepted domains (Get-AcceptedDomain).

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, Sim, EXCHANGE};

async fn registrations(sim: &Sim) -> Vec<Value> {
    let reply = sim
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            enc("activityDisplayName eq 'User registered security info'")
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.value()
}

fn user_agent(audit: &Value) -> Option<&str> {
    audit["additionalDetails"]
        .as_array()?
        .iter()
        .find(|d| d["key"] == "User-Agent")?["value"]
        .as_str()
}

#[tokio::test]
async fn registrations_name_the_method_kind_the_address_and_the_browser() {
    let sim = Sim::start("bec").await;
    let johanna = sim.upn("johanna.lorenz");
    let before = registrations(&sim).await.len();
    let user = sim
        .control(
            Method::POST,
            "/user/activity",
            Some(json!({"user": johanna, "actions": ["registerMethod"]})),
        )
        .await;
    let back = sim
        .control(
            Method::POST,
            "/attacker/return",
            Some(json!({"user": johanna, "actions": ["registerMethod"]})),
        )
        .await;
    let audits = registrations(&sim).await;
    assert_eq!(audits.len(), before + 2, "one entry per registration");
    let by_address = |ip: &Value| {
        audits
            .iter()
            .find(|a| &a["initiatedBy"]["user"]["ipAddress"] == ip)
            .unwrap_or_else(|| panic!("no registration from {ip}: {audits:?}"))
            .clone()
    };
    let theirs = by_address(&back["done"][0]["ipAddress"]);
    assert_eq!(theirs["resultReason"], "User registered Mobile Phone SMS");
    assert_eq!(theirs["loggedByService"], "Authentication Methods");
    assert_eq!(theirs["category"], "UserManagement");
    assert_eq!(theirs["targetResources"][0]["userPrincipalName"], johanna);
    let hers = by_address(&user["done"][0]["ipAddress"]);
    assert_eq!(
        hers["resultReason"],
        "User registered Authenticator App with Notification and Code"
    );
    let (a, u) = (user_agent(&theirs), user_agent(&hers));
    assert!(a.is_some() && u.is_some() && a != u, "{a:?} / {u:?}");
}

#[tokio::test]
async fn the_method_registered_after_a_reset_before_revoke_is_named_by_its_kind() {
    let sim = Sim::start("aitm").await;
    let megan = sim.upn("megan.bowen");
    let reply = sim
        .graph(Method::PATCH, &format!("/v1.0/users/{megan}"), Some(json!({"passwordProfile": {"password": "Tr4ining-only!pass", "forceChangePasswordNextSignIn": true}})))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    sim.advance_minutes(10).await;
    let audits = registrations(&sim).await;
    let entry = audits
        .iter()
        .find(|a| a["initiatedBy"]["user"]["ipAddress"] == "203.0.113.45")
        .unwrap_or_else(|| panic!("{audits:?}"));
    // aitm's attacker registers an alternate mobile phone.
    assert_eq!(
        entry["resultReason"],
        "User registered Alternate Mobile Phone"
    );
    assert!(user_agent(entry).is_some());
}

#[tokio::test]
async fn accepted_domains_are_the_tenant_domain_and_every_member_domain() {
    let sim = Sim::start("undated-methods").await;
    let token = sim.secret_token(EXCHANGE).await;
    let reply = sim.exo(&token, "Get-AcceptedDomain", json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let domains: Vec<(String, String, bool)> = reply
        .value()
        .iter()
        .map(|d| {
            (
                d["DomainName"].as_str().unwrap().to_owned(),
                d["DomainType"].as_str().unwrap().to_owned(),
                d["Default"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(domains.contains(&(
        "contoso-training.onmicrosoft.com".into(),
        "Authoritative".into(),
        true
    )));
    assert!(domains.contains(&(
        "contoso-training.example".into(),
        "Authoritative".into(),
        false
    )));
    let unknown = sim
        .exo(&token, "Get-AcceptedDomain", json!({"Mailbox": "x"}))
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);
}
