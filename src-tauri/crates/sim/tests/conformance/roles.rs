//! The directory roles a write on an account needs, for app-only and delegated callers alike
//! (spec/graph-behaviour.md, "Roles for writes"): a password reset needs a role besides the
//! permission, an administrator or a member of a role-assignable group needs Privileged
//! Authentication Administrator or Global Administrator, and Helpdesk Administrator cannot block
//! sign-in.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Reply, Sim, GRAPH};
use crate::operations::delegated_token;

const MEGAN: &str = "d9303c03-eb05-5431-8ab9-cc4947a7edf5";
const ALEX_GLOBAL_ADMIN: &str = "2177bbf9-9219-5531-8545-a817ab0c1afe";
const LEE: &str = "b8501f99-6016-54e9-bd56-ead0c5619d37";
const NESTOR: &str = "b18a5ff6-6e17-5fc0-96bc-4cf06b3d803d";
const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

/// The `aitm` tenant with the app's directory roles replaced, Lee in a role-assignable group,
/// Nestor owning one, and Patti holding Helpdesk Administrator.
async fn aitm_with(app_roles: &[&str]) -> Sim {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../scenarios/aitm.json")).unwrap();
    scenario["app"]["entraRoles"] = json!(app_roles);
    scenario["groups"].as_array_mut().unwrap().push(json!({
        "id": "5d1e9f5c-3a51-4c1f-9a0e-7c2b8d4e6f01", "displayName": "Tier 0 operators",
        "mailEnabled": false, "securityEnabled": true, "groupTypes": [],
        "isAssignableToRole": true, "createdDateTime": "2024-01-01T00:00:00Z"
    }));
    scenario["directoryRoles"].as_array_mut().unwrap().push(json!({
        "id": "2b7d5c1e-8f3a-4d6b-9e0c-1a2b3c4d5e6f", "displayName": "Helpdesk Administrator",
        "roleTemplateId": HELPDESK, "description": "Can reset passwords for non-administrators and Helpdesk Administrators."
    }));
    for user in scenario["users"].as_array_mut().unwrap() {
        match user["user"]["id"].as_str().unwrap() {
            LEE => user["memberOf"]
                .as_array_mut()
                .unwrap()
                .push(json!("5d1e9f5c-3a51-4c1f-9a0e-7c2b8d4e6f01")),
            NESTOR => user["ownedObjects"] = json!(["5d1e9f5c-3a51-4c1f-9a0e-7c2b8d4e6f01"]),
            "789cb941-900e-5a0c-9c45-702f86bd8c78" => user["memberOf"]
                .as_array_mut()
                .unwrap()
                .push(json!("2b7d5c1e-8f3a-4d6b-9e0c-1a2b3c4d5e6f")),
            _ => {}
        }
    }
    let scenario = firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap();
    Sim::start_with(scenario, firebreak_sim::SimOptions::default()).await
}

async fn reset(sim: &Sim, token: &str, user: &str) -> Reply {
    let body = json!({"passwordProfile": {"password": "Tr4ining-only!pass", "forceChangePasswordNextSignIn": true}});
    sim.graph_as(
        token,
        Method::PATCH,
        &format!("/v1.0/users/{user}"),
        Some(body),
        &[],
    )
    .await
}

async fn disable(sim: &Sim, token: &str, user: &str) -> Reply {
    sim.graph_as(
        token,
        Method::PATCH,
        &format!("/v1.0/users/{user}"),
        Some(json!({"accountEnabled": false})),
        &[],
    )
    .await
}

async fn revoke(sim: &Sim, token: &str, user: &str) -> Reply {
    sim.graph_as(
        token,
        Method::POST,
        &format!("/v1.0/users/{user}/revokeSignInSessions"),
        None,
        &[],
    )
    .await
}

fn assert_refused(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 403, "{what}: {}", reply.body);
    assert_eq!(reply.code(), "Authorization_RequestDenied", "{what}");
    assert_eq!(
        reply.body["error"]["message"], "Insufficient privileges to complete the operation.",
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_with_the_password_permission_but_no_role_is_refused_the_reset() {
    let sim = Sim::start("readiness-gaps").await;
    let token = sim.token();
    assert_refused(
        &reset(&sim, &token, MEGAN).await,
        "reset without a directory role",
    );
    // Blocking sign-in and revoking sessions of an ordinary account need only the permission.
    assert_eq!(disable(&sim, &token, MEGAN).await.status, 204);
    assert_eq!(revoke(&sim, &token, MEGAN).await.status, 200);
    sim.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_administrator_resets_an_ordinary_account_but_not_an_administrator_or_a_tier_zero_group_member(
) {
    let sim = aitm_with(&["Exchange Administrator", "User Administrator"]).await;
    let token = sim.token();
    assert_eq!(reset(&sim, &token, MEGAN).await.status, 204);
    assert_refused(&reset(&sim, &token, ALEX_GLOBAL_ADMIN).await, "reset a GA");
    assert_refused(
        &disable(&sim, &token, ALEX_GLOBAL_ADMIN).await,
        "disable a GA",
    );
    assert_refused(&reset(&sim, &token, LEE).await, "reset a group member");
    assert_refused(
        &disable(&sim, &token, NESTOR).await,
        "disable a group owner",
    );
    // Nothing was changed by the refusals.
    let alex = sim
        .get(&format!(
            "/v1.0/users/{ALEX_GLOBAL_ADMIN}?$select=accountEnabled"
        ))
        .await;
    assert_ne!(alex.body["accountEnabled"], json!(false), "{}", alex.body);
    sim.server.shutdown().await;

    let sim = aitm_with(&["Privileged Authentication Administrator"]).await;
    let token = sim.token();
    for user in [ALEX_GLOBAL_ADMIN, LEE] {
        assert_eq!(reset(&sim, &token, user).await.status, 204);
    }
    assert_eq!(disable(&sim, &token, NESTOR).await.status, 204);
    sim.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpdesk_administrator_resets_a_password_but_cannot_block_sign_in() {
    let sim = aitm_with(&["Exchange Administrator"]).await;
    let patti = "patti.fernandez@contoso-training.onmicrosoft.com";
    let token = delegated_token(&sim, patti, GRAPH).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(reset(&sim, &token, MEGAN).await.status, 204);
    assert_eq!(revoke(&sim, &token, MEGAN).await.status, 200);
    assert_refused(&disable(&sim, &token, MEGAN).await, "helpdesk disabling");
    assert_refused(
        &reset(&sim, &token, ALEX_GLOBAL_ADMIN).await,
        "helpdesk resetting a GA",
    );
    assert_refused(
        &revoke(&sim, &token, ALEX_GLOBAL_ADMIN).await,
        "helpdesk revoking a GA",
    );
    sim.server.shutdown().await;
}

/// Taking a member out of a directory role needs RoleManagement.ReadWrite.Directory, and a
/// delegated admin also Privileged Role Administrator (spec/graph-behaviour.md, "Directory roles
/// given in the window"); the removal is audited as "Remove member from role" with the role in
/// `oldValue`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_role_member_needs_role_management_and_a_role_administrator() {
    const GLOBAL_ADMIN_ROLE: &str = "051b5f58-9346-568a-8c26-916645791c3d";
    const BREAK_GLASS: &str = "9e27f8ea-adf4-5f6f-a70b-5c7d71ffd2d8";
    let path = format!("/v1.0/directoryRoles/{GLOBAL_ADMIN_ROLE}/members/{BREAK_GLASS}/$ref");

    let mut without: Value =
        serde_json::from_str(include_str!("../../scenarios/aitm.json")).unwrap();
    without["app"]["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r != "RoleManagement.ReadWrite.Directory");
    let without = firebreak_sim::Scenario::from_json(&without.to_string()).unwrap();
    let sim = Sim::start_with(without, firebreak_sim::SimOptions::default()).await;
    let refused = sim.graph(Method::DELETE, &path, None).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    sim.server.shutdown().await;

    let sim = Sim::start("aitm").await;
    let lee = delegated_token(&sim, &sim.upn("lee.gu"), GRAPH).await;
    let lee = lee["access_token"].as_str().unwrap();
    let refused = sim.graph_as(lee, Method::DELETE, &path, None, &[]).await;
    assert_eq!(refused.status, 403, "no role: {}", refused.body);

    let removed = sim.graph(Method::DELETE, &path, None).await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let audits = sim
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id%20eq%20'{BREAK_GLASS}')"
        ))
        .await;
    let entry = audits
        .value()
        .into_iter()
        .find(|a| a["activityDisplayName"] == "Remove member from role")
        .expect("the removal is audited");
    let properties = entry["targetResources"][0]["modifiedProperties"].clone();
    assert!(
        properties
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["displayName"] == "Role.ObjectID"
                && p["oldValue"] == json!(format!("\"{GLOBAL_ADMIN_ROLE}\""))),
        "{properties}"
    );
    sim.server.shutdown().await;
}
