//! Entra ID writes as a real tenant enforces them (issue 23, items 3 and 4): the order in which
//! authentication methods can be deleted, Authenticator methods without a creation time, and reads
//! right after a write that still answer the previous value (spec/graph-behaviour.md, "Method
//! deletion order" and "Read-after-write consistency").

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::Sim;

const PRIYA: &str = "0dc5ac88-3eb1-5d19-9f85-bd0b71c623c6";
const MOBILE: &str = "3179e48a-750b-4051-897c-87b9720928f7";
const AUTHENTICATOR: &str = "a240f74e-69fa-5235-865f-5d48879bab22";
const ALTERNATE: &str = "b6332ec1-7057-4abe-9331-3d72ed82f1d0";
const EMAIL: &str = "a8ca9e49-22f1-5f3b-81e7-3a5c230e6e9b";

/// The undated-methods scenario with Priya's default method and the replication lag changed.
async fn undated_with(default_method: Option<&str>, lag_seconds: u32) -> Sim {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../scenarios/undated-methods.json")).unwrap();
    scenario["replicationLagSeconds"] = json!(lag_seconds);
    let priya = scenario["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"]["id"] == PRIYA)
        .unwrap();
    match default_method {
        Some(id) => priya["defaultMethod"] = json!(id),
        None => {
            priya.as_object_mut().unwrap().remove("defaultMethod");
        }
    }
    Sim::start_with(
        firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap(),
        firebreak_sim::SimOptions::default(),
    )
    .await
}

async fn delete(sim: &Sim, kind: &str, id: &str) -> crate::harness::Reply {
    sim.graph(
        Method::DELETE,
        &format!("/v1.0/users/{PRIYA}/authentication/{kind}/{id}"),
        None,
    )
    .await
}

#[tokio::test]
async fn the_default_method_is_refused_while_other_methods_remain_and_deleted_last() {
    let sim = undated_with(Some(AUTHENTICATOR), 0).await;
    let refused = delete(&sim, "microsoftAuthenticatorMethods", AUTHENTICATOR).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.code(), "badRequest");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Cannot delete default method with other methods configured"),
        "{}",
        refused.body
    );
    for (kind, id) in [
        ("phoneMethods", ALTERNATE),
        ("emailMethods", EMAIL),
        ("phoneMethods", MOBILE),
    ] {
        let reply = delete(&sim, kind, id).await;
        assert_eq!(reply.status, 204, "{kind} {id}: {}", reply.body);
    }
    // Only the password is left beside it: the default can go now.
    let last = delete(&sim, "microsoftAuthenticatorMethods", AUTHENTICATOR).await;
    assert_eq!(last.status, 204, "{}", last.body);
}

#[tokio::test]
async fn a_mobile_phone_is_refused_while_an_alternate_mobile_exists() {
    let sim = undated_with(None, 0).await;
    let refused = delete(&sim, "phoneMethods", MOBILE).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.code(), "badRequest");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("alternateMobile"),
        "{}",
        refused.body
    );
    assert_eq!(delete(&sim, "phoneMethods", ALTERNATE).await.status, 204);
    assert_eq!(delete(&sim, "phoneMethods", MOBILE).await.status, 204);
}

#[tokio::test]
async fn an_authenticator_registered_for_notifications_only_has_no_creation_time() {
    let sim = Sim::start("mfa-fatigue").await;
    let joni = sim.user_id("joni.sherman").await;
    let reply = sim
        .get(&format!(
            "/v1.0/users/{joni}/authentication/microsoftAuthenticatorMethods/95654b3e-1051-5832-90bc-e9e3a820b1b9"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["createdDateTime"].is_null(), "{}", reply.body);
    assert_eq!(reply.body["displayName"], "SM-A145R");
    // Its registration is in the directory audit, naming the method.
    let (audits, _) = sim
        .all_pages("/v1.0/auditLogs/directoryAudits?$top=50", &[])
        .await;
    assert!(
        audits
            .iter()
            .any(|a| a["activityDateTime"] == "2025-04-08T08:03:47Z"
                && a["resultReason"]
                    .as_str()
                    .is_some_and(|r| r.contains("Authenticator"))),
        "no registration entry names the Authenticator"
    );
}

#[tokio::test]
async fn a_read_right_after_a_write_answers_the_previous_value_until_the_lag_has_passed() {
    let sim = Sim::start("undated-methods").await;
    let user = format!("/v1.0/users/{PRIYA}");
    let select = format!("{user}?$select=accountEnabled,signInSessionsValidFromDateTime");
    let before = sim.get(&select).await.body;
    assert_eq!(before["accountEnabled"], true);

    let patched = sim
        .graph(Method::PATCH, &user, Some(json!({"accountEnabled": false})))
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let revoked = sim
        .graph(Method::POST, &format!("{user}/revokeSignInSessions"), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(delete(&sim, "emailMethods", EMAIL).await.status, 204);

    let lagging = sim.get(&select).await.body;
    assert_eq!(lagging["accountEnabled"], true, "{lagging}");
    assert_eq!(
        lagging["signInSessionsValidFromDateTime"],
        before["signInSessionsValidFromDateTime"]
    );
    let listed = |reply: &crate::harness::Reply| reply.value().iter().any(|m| m["id"] == EMAIL);
    let methods = format!("{user}/authentication/methods");
    assert!(
        listed(&sim.get(&methods).await),
        "the deletion showed at once"
    );

    sim.advance_minutes(1).await;
    let replicated = sim.get(&select).await.body;
    assert_eq!(replicated["accountEnabled"], false, "{replicated}");
    assert_ne!(
        replicated["signInSessionsValidFromDateTime"],
        before["signInSessionsValidFromDateTime"]
    );
    assert!(!listed(&sim.get(&methods).await));
}
