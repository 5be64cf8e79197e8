//! Entra writes as the real service answers them (issue 23, item 5): `confirmCompromised` needs
//! Entra ID P2, is processed asynchronously and is paced at one request a second per tenant; a
//! Temporary Access Pass follows the tenant's pass policy. Rules and sources:
//! spec/graph-behaviour.md, "confirmCompromised" and "Temporary Access Pass policy".

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::Sim;

const CONFIRM: &str = "/v1.0/identityProtection/riskyUsers/confirmCompromised";

async fn confirm(sim: &Sim, user: &str) -> crate::harness::Reply {
    sim.graph(Method::POST, CONFIRM, Some(json!({"userIds": [user]})))
        .await
}

/// The AiTM scenario with its tenant settings changed by `edit`.
async fn aitm_with(edit: impl FnOnce(&mut Value)) -> Sim {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../scenarios/aitm.json")).unwrap();
    edit(&mut scenario["tenant"]);
    Sim::start_with(
        firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap(),
        firebreak_sim::SimOptions::default(),
    )
    .await
}

#[tokio::test]
async fn confirm_compromised_is_refused_without_entra_id_p2() {
    let sim = Sim::start("aitm-p1").await;
    let ines = sim.user_id("ines.duarte").await;
    let reply = confirm(&sim, &ines).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.code(), "Forbidden");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not licensed")),
        "Identity Protection names the missing licence: {}",
        reply.body
    );
}

#[tokio::test]
async fn a_confirmation_is_processed_before_the_risk_state_changes() {
    let sim = Sim::start("aitm").await;
    let megan = sim.user_id("megan.bowen").await;
    let reply = confirm(&sim, &megan).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let during = sim
        .get(&format!("/v1.0/identityProtection/riskyUsers/{megan}"))
        .await;
    assert_eq!(
        during.body["isProcessing"],
        json!(true),
        "still processing: {}",
        during.body
    );
    assert_ne!(during.body["riskState"], json!("confirmedCompromised"));
    sim.advance_minutes(1).await;
    let after = sim
        .get(&format!("/v1.0/identityProtection/riskyUsers/{megan}"))
        .await;
    assert_eq!(after.body["isProcessing"], json!(false), "{}", after.body);
    assert_eq!(after.body["riskState"], json!("confirmedCompromised"));
    assert_eq!(
        after.body["riskDetail"],
        json!("adminConfirmedUserCompromised")
    );
}

#[tokio::test]
async fn a_second_confirmation_within_a_second_is_throttled_without_retry_after() {
    let sim = Sim::start("aitm").await;
    let megan = sim.user_id("megan.bowen").await;
    let nestor = sim.user_id("nestor.wilke").await;
    assert_eq!(confirm(&sim, &megan).await.status, 204);
    let again = confirm(&sim, &nestor).await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert!(
        again.headers.get("retry-after").is_none(),
        "Identity Protection gives no Retry-After: {:?}",
        again.headers
    );
    sim.advance_minutes(1).await;
    assert_eq!(confirm(&sim, &nestor).await.status, 204);
}

#[tokio::test]
async fn the_temporary_access_pass_policy_is_read_as_documented() {
    let sim = aitm_with(|tenant| {
        tenant["temporaryAccessPass"] = json!({
            "minimumLifetimeInMinutes": 30, "maximumLifetimeInMinutes": 240,
            "excludeGroups": ["987ba368-6858-5b40-9d6d-14473b630200"],
        });
    })
    .await;
    let policy = sim
        .get("/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass")
        .await;
    assert_eq!(policy.status, 200, "{}", policy.body);
    assert_eq!(policy.body["state"], json!("enabled"));
    assert_eq!(policy.body["minimumLifetimeInMinutes"], json!(30));
    assert_eq!(policy.body["maximumLifetimeInMinutes"], json!(240));
    assert_eq!(policy.body["includeTargets"][0]["id"], json!("all_users"));
    assert_eq!(
        policy.body["excludeTargets"][0]["id"],
        json!("987ba368-6858-5b40-9d6d-14473b630200")
    );
}

async fn create_pass(sim: &Sim, user: &str, minutes: i64) -> crate::harness::Reply {
    sim.graph(
        Method::POST,
        &format!("/v1.0/users/{user}/authentication/temporaryAccessPassMethods"),
        Some(json!({"lifetimeInMinutes": minutes, "isUsableOnce": true})),
    )
    .await
}

fn refused_by_policy(reply: &crate::harness::Reply) -> bool {
    reply.status == 400
        && reply.body["error"]["message"].as_str().is_some_and(|m| {
            m.contains("does not allow creating") && m.contains("TemporaryAccessPass")
        })
}

#[tokio::test]
async fn a_pass_is_refused_when_the_policy_is_off() {
    let sim = aitm_with(|tenant| {
        tenant["temporaryAccessPass"] = json!({"state": "disabled"});
    })
    .await;
    let megan = sim.user_id("megan.bowen").await;
    let reply = create_pass(&sim, &megan, 60).await;
    assert!(refused_by_policy(&reply), "{} {}", reply.status, reply.body);
}

#[tokio::test]
async fn a_pass_is_refused_for_a_user_outside_the_policy() {
    // Included: only the Finance group; excluded: nobody. Lee Gu is not in Finance.
    let sim = aitm_with(|tenant| {
        tenant["temporaryAccessPass"] =
            json!({"includeGroups": ["987ba368-6858-5b40-9d6d-14473b630200"]});
    })
    .await;
    let lee = sim.user_id("lee.gu").await;
    let megan = sim.user_id("megan.bowen").await;
    let outside = create_pass(&sim, &lee, 60).await;
    assert!(
        refused_by_policy(&outside),
        "{} {}",
        outside.status,
        outside.body
    );
    let inside = create_pass(&sim, &megan, 60).await;
    assert_eq!(inside.status, 201, "a Finance member may: {}", inside.body);

    // Excluded: Finance. Megan is in it.
    let sim = aitm_with(|tenant| {
        tenant["temporaryAccessPass"] =
            json!({"excludeGroups": ["987ba368-6858-5b40-9d6d-14473b630200"]});
    })
    .await;
    let megan = sim.user_id("megan.bowen").await;
    let excluded = create_pass(&sim, &megan, 60).await;
    assert!(
        refused_by_policy(&excluded),
        "{} {}",
        excluded.status,
        excluded.body
    );
}

#[tokio::test]
async fn a_pass_lifetime_outside_the_policy_bounds_is_refused() {
    let sim = Sim::start("aitm").await;
    let megan = sim.user_id("megan.bowen").await;
    // Entra's default bounds: one hour to eight hours.
    for minutes in [30, 481] {
        let reply = create_pass(&sim, &megan, minutes).await;
        assert_eq!(reply.status, 400, "{minutes} minutes: {}", reply.body);
        assert_eq!(
            reply.body["error"]["message"],
            json!("Invalid LifetimeInMinutes specified. The valid range between 60 and 480."),
        );
    }
    assert_eq!(create_pass(&sim, &megan, 480).await.status, 201);
}

// Synchronised accounts (issue 23, item 2; spec/graph-behaviour.md, "Synchronised accounts").

const DIEGO: &str = "39e8f104-b7ae-598f-be6f-1deb3bf6f9eb";
const ROSA: &str = "03128975-7a89-54b7-bbaa-339df50e3cc0";

async fn patch(sim: &Sim, user: &str, body: Value) -> crate::harness::Reply {
    sim.graph(Method::PATCH, &format!("/v1.0/users/{user}"), Some(body))
        .await
}

fn new_password() -> Value {
    json!({"passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}})
}

async fn enabled(sim: &Sim, user: &str) -> Value {
    sim.get(&format!("/v1.0/users/{user}?$select=accountEnabled"))
        .await
        .body["accountEnabled"]
        .clone()
}

/// The kinds of hold the attacker still has on `user`.
async fn holds(sim: &Sim, user: &str) -> Vec<String> {
    let score = sim.control(Method::GET, "/score", None).await;
    score["attackerAccess"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["userId"] == json!(user))
        .flat_map(|e| e["holds"].as_array().cloned().unwrap_or_default())
        .filter_map(|h| h["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_cloud_password_reset_of_a_synchronised_account_is_refused_without_writeback() {
    let sim = Sim::start("password-spray").await;
    let reply = patch(&sim, DIEGO, new_password()).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.code(), "Request_BadRequest");
    assert_eq!(
        reply.body["error"]["message"],
        json!("Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.")
    );
    assert!(holds(&sim, DIEGO).await.contains(&"password".to_owned()));
    // Reset in Active Directory, it reaches the cloud at the next synchronisation.
    sim.control(
        Method::POST,
        "/onPremises",
        Some(json!({"user": DIEGO, "action": "resetPassword"})),
    )
    .await;
    sim.advance_minutes(31).await;
    assert!(
        !holds(&sim, DIEGO).await.contains(&"password".to_owned()),
        "the password synchronised from Active Directory is one the attacker does not know"
    );
}

#[tokio::test]
async fn a_blocked_sign_in_is_undone_at_the_next_sync_unless_disabled_on_premises() {
    let sim = Sim::start("password-spray").await;
    assert_eq!(
        patch(&sim, DIEGO, json!({"accountEnabled": false}))
            .await
            .status,
        204
    );
    assert_eq!(enabled(&sim, DIEGO).await, json!(false));
    sim.advance_minutes(31).await;
    assert_eq!(
        enabled(&sim, DIEGO).await,
        json!(true),
        "the account is enabled in Active Directory, so the sync enables it again"
    );
    assert_eq!(
        patch(&sim, DIEGO, json!({"accountEnabled": false}))
            .await
            .status,
        204
    );
    sim.control(
        Method::POST,
        "/onPremises",
        Some(json!({"user": DIEGO, "action": "disable"})),
    )
    .await;
    sim.advance_minutes(31).await;
    assert_eq!(enabled(&sim, DIEGO).await, json!(false));
}

#[tokio::test]
async fn with_pass_through_a_cloud_reset_leaves_the_password_in_active_directory_working() {
    let sim = Sim::start("second-hop-p1").await;
    let revoked = sim
        .graph(
            Method::POST,
            &format!("/v1.0/users/{ROSA}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200);
    let reply = patch(&sim, ROSA, new_password()).await;
    assert_eq!(
        reply.status, 204,
        "password writeback accepts it: {}",
        reply.body
    );
    assert!(
        holds(&sim, ROSA).await.contains(&"password".to_owned()),
        "the cloud change does not touch the password pass-through checks"
    );
    sim.control(
        Method::POST,
        "/onPremises",
        Some(json!({"user": ROSA, "action": "resetPassword"})),
    )
    .await;
    assert!(!holds(&sim, ROSA).await.contains(&"password".to_owned()));
}
