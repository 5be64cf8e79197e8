//! The attacker acting over simulated time and reacting to the responder, and the score.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, Sim, EXCHANGE};

async fn methods(sim: &Sim, user: &str) -> Vec<Value> {
    let reply = sim
        .get(&format!("/v1.0/users/{user}/authentication/methods"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.value()
}

async fn reset_password(sim: &Sim, user: &str) {
    let reply = sim
        .graph(Method::PATCH, &format!("/v1.0/users/{user}"), Some(json!({"passwordProfile": {"password": "Tr4ining-only!pass", "forceChangePasswordNextSignIn": true}})))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
}

async fn revoke(sim: &Sim, user: &str) {
    assert_eq!(
        sim.graph(
            Method::POST,
            &format!("/v1.0/users/{user}/revokeSignInSessions"),
            None
        )
        .await
        .status,
        200
    );
}

async fn disable(sim: &Sim, user: &str) {
    assert_eq!(
        sim.graph(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            Some(json!({"accountEnabled": false}))
        )
        .await
        .status,
        204
    );
}

async fn score(sim: &Sim) -> Value {
    sim.control(Method::GET, "/score", None).await
}

#[tokio::test]
async fn reset_before_revoke_lets_the_attacker_register_a_method_and_reset_back_in() {
    let sim = Sim::start("aitm").await;
    let megan = sim.upn("megan.bowen");
    let before = methods(&sim, &megan).await.len();
    reset_password(&sim, &megan).await;
    sim.advance_minutes(10).await;
    let after = methods(&sim, &megan).await;
    assert_eq!(
        after.len(),
        before + 1,
        "the attacker's still-valid token registered a method"
    );
    let added = after
        .iter()
        .find(|m| m["phoneNumber"] == "+31 6 12345678")
        .expect("the attacker's phone");
    let audits = sim
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            enc("activityDisplayName eq 'User registered security info'")
        ))
        .await;
    assert!(
        !audits.value().is_empty(),
        "the registration is in the directory audit log"
    );
    let s = score(&sim).await;
    assert_eq!(
        s["attackerArtefacts"]["addedDuringExercise"][0]["id"],
        added["id"]
    );
    assert_eq!(s["containment"][0]["resetBeforeRevoke"], true);
    assert_eq!(s["attackerRegainedAccess"], false);

    // Revoking now is too late: the method stays, so self-service reset brings them back.
    revoke(&sim, &megan).await;
    sim.advance_minutes(60).await;
    let s = score(&sim).await;
    assert_eq!(s["attackerRegainedAccess"], true, "{s}");
    assert_eq!(s["attackerHasAccess"], true);
    let resets = sim
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$filter={}",
            enc("activityDisplayName eq 'Reset password (self-service)'")
        ))
        .await;
    assert_eq!(resets.value().len(), 1);
    let fresh = sim
        .get(&format!(
            "/v1.0/auditLogs/signIns?$filter={}",
            enc("ipAddress eq '203.0.113.45' and createdDateTime ge 2025-03-13T00:00:00Z")
        ))
        .await;
    assert!(
        !fresh.value().is_empty(),
        "a new interactive sign-in from the attacker"
    );
}

#[tokio::test]
async fn revoke_disable_reset_in_order_leaves_the_attacker_nothing() {
    let sim = Sim::start("aitm").await;
    let megan = sim.upn("megan.bowen");
    let before = methods(&sim, &megan).await.len();
    revoke(&sim, &megan).await;
    disable(&sim, &megan).await;
    reset_password(&sim, &megan).await;
    // Mailbox: remove the two attacker rules (one hidden) through Exchange; consent: grant and app.
    let exo = sim.secret_token(EXCHANGE).await;
    for rule in sim
        .exo(
            &exo,
            "Get-InboxRule",
            json!({"Mailbox": megan, "IncludeHidden": true}),
        )
        .await
        .value()
    {
        if rule["Name"] != "Newsletters" {
            sim.exo(
                &exo,
                "Remove-InboxRule",
                json!({"Identity": rule["Identity"], "Confirm": false}),
            )
            .await;
        }
    }
    let grants = sim
        .get(&format!("/v1.0/users/{megan}/oauth2PermissionGrants"))
        .await
        .value();
    let evil = grants
        .iter()
        .find(|g| g["scope"].as_str().unwrap().contains("Mail.ReadWrite"))
        .unwrap();
    sim.graph(
        Method::PATCH,
        &format!(
            "/v1.0/servicePrincipals/{}",
            evil["clientId"].as_str().unwrap()
        ),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    sim.graph(
        Method::DELETE,
        &format!(
            "/v1.0/oauth2PermissionGrants/{}",
            evil["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    sim.advance_minutes(180).await;
    assert_eq!(
        methods(&sim, &megan).await.len(),
        before,
        "no method appeared"
    );
    let s = score(&sim).await;
    assert_eq!(s["attackerArtefacts"]["remaining"], json!([]), "{s}");
    assert_eq!(
        s["attackerArtefacts"]["removed"],
        s["attackerArtefacts"]["total"]
    );
    assert_eq!(s["legitimateArtefacts"]["removed"], json!([]));
    assert_eq!(s["attackerRegainedAccess"], false);
    assert_eq!(s["attackerHasAccess"], false);
    assert_eq!(s["containment"][0]["resetBeforeRevoke"], false);
    let actions = sim.control(Method::GET, "/actions", None).await["actions"]
        .as_array()
        .unwrap()
        .clone();
    assert!(actions.len() >= 7, "every change is logged");
    assert!(
        actions
            .iter()
            .all(|a| a["at"].as_str().is_some_and(|t| t.starts_with("2025-03-1"))),
        "with simulated time"
    );
    assert!(
        !actions
            .iter()
            .any(|a| a.to_string().contains("Tr4ining-only!pass")),
        "the password never reaches the action log"
    );
}

#[tokio::test]
async fn a_method_left_in_place_lets_the_attacker_reset_back_in_unless_the_account_is_disabled() {
    let sim = Sim::start("mfa-fatigue").await;
    let joni = sim.upn("joni.sherman");
    revoke(&sim, &joni).await;
    reset_password(&sim, &joni).await;
    sim.advance_minutes(60).await;
    assert_eq!(
        score(&sim).await["attackerRegainedAccess"],
        true,
        "the attacker's Authenticator was left in place"
    );

    let sim = Sim::start("mfa-fatigue").await;
    revoke(&sim, &joni).await;
    disable(&sim, &joni).await;
    reset_password(&sim, &joni).await;
    sim.advance_minutes(120).await;
    assert_eq!(
        score(&sim).await["attackerRegainedAccess"],
        false,
        "a disabled account cannot be reset back into"
    );
    let attacker_method = methods(&sim, &joni)
        .await
        .into_iter()
        .find(|m| m["displayName"] == "SM-A145R")
        .unwrap();
    sim.graph(
        Method::DELETE,
        &format!(
            "/v1.0/users/{joni}/authentication/microsoftAuthenticatorMethods/{}",
            attacker_method["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    sim.graph(
        Method::PATCH,
        &format!("/v1.0/users/{joni}"),
        Some(json!({"accountEnabled": true})),
    )
    .await;
    sim.advance_minutes(120).await;
    let s = score(&sim).await;
    assert_eq!(
        s["attackerRegainedAccess"], false,
        "re-enabling after removing the method is safe: {s}"
    );
    assert_eq!(s["attackerArtefacts"]["remaining"], json!([]));
}

#[tokio::test]
async fn re_enabling_with_the_attackers_method_still_there_lets_them_back_in_after_the_re_enable() {
    let sim = Sim::start("mfa-fatigue").await;
    let joni = sim.upn("joni.sherman");
    revoke(&sim, &joni).await;
    disable(&sim, &joni).await;
    reset_password(&sim, &joni).await;
    sim.advance_minutes(180).await;
    assert_eq!(score(&sim).await["attackerRegainedAccess"], false);
    let enabled_at = sim.server.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    sim.graph(
        Method::PATCH,
        &format!("/v1.0/users/{joni}"),
        Some(json!({"accountEnabled": true})),
    )
    .await;
    sim.advance_minutes(30).await;
    let s = score(&sim).await;
    assert_eq!(s["attackerRegainedAccess"], true, "{s}");
    let regained = s["attackerLog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "regainedAccess")
        .unwrap();
    assert!(
        regained["at"].as_str().unwrap() > enabled_at.as_str(),
        "the reset is not back-dated before the re-enable: {regained}"
    );
}

async fn app_reads_since(sim: &Sim, since: &str) -> usize {
    let created = sim
        .graph(Method::POST, "/beta/security/auditLog/queries", Some(json!({"displayName": "reads", "filterStartDateTime": since, "operationFilters": ["MailItemsAccessed"]})))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    sim.advance_minutes(2).await;
    let (records, _) = sim
        .all_pages(
            &format!("/beta/security/auditLog/queries/{id}/records"),
            &[],
        )
        .await;
    records
        .iter()
        .filter(|r| {
            r["auditData"]["AppId"].is_string()
                && r["createdDateTime"].as_str().unwrap() >= since
                && r["clientIp"] == "20.190.151.7"
        })
        .count()
}

#[tokio::test]
async fn an_unrevoked_grant_keeps_reading_mail_until_sessions_are_revoked_and_the_app_disabled() {
    let sim = Sim::start("consent-phishing").await;
    let isaiah = sim.upn("isaiah.langer");
    sim.advance_minutes(180).await;
    let t0 = "2025-06-18T16:00:00Z";
    assert_eq!(
        app_reads_since(&sim, t0).await,
        3,
        "one MailItemsAccessed record per hour from the app"
    );
    let grant = sim
        .get(&format!("/v1.0/users/{isaiah}/oauth2PermissionGrants"))
        .await
        .value()
        .into_iter()
        .find(|g| g["scope"].as_str().unwrap().contains("Files.ReadWrite.All"))
        .unwrap();
    sim.graph(
        Method::DELETE,
        &format!(
            "/v1.0/oauth2PermissionGrants/{}",
            grant["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    sim.advance_minutes(120).await;
    assert_eq!(
        app_reads_since(&sim, "2025-06-18T19:05:00Z").await,
        2,
        "deleting the grant alone leaves the refresh token working"
    );
    revoke(&sim, &isaiah).await;
    sim.graph(
        Method::PATCH,
        &format!(
            "/v1.0/servicePrincipals/{}",
            grant["clientId"].as_str().unwrap()
        ),
        Some(json!({"accountEnabled": false})),
    )
    .await;
    let cut = sim.server.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    sim.advance_minutes(240).await;
    assert_eq!(
        app_reads_since(&sim, &cut).await,
        0,
        "revoked and disabled: the app reads nothing more"
    );
    let log = score(&sim).await["attackerLog"].to_string();
    assert!(log.contains("grantRemoved"), "{log}");
}

#[tokio::test]
async fn forwarding_left_on_keeps_sending_mail_out() {
    let sim = Sim::start("bec").await;
    sim.advance_minutes(120).await;
    let out = score(&sim).await["mailForwardedOut"].as_u64().unwrap();
    assert_eq!(
        out, 12,
        "Enrico's 'wire' rule forwards 6 messages an hour outside"
    );
    let exo = sim.secret_token(EXCHANGE).await;
    let enrico = sim.upn("enrico.cattaneo");
    sim.exo(
        &exo,
        "Remove-InboxRule",
        json!({"Mailbox": enrico, "Identity": "wire", "Confirm": false}),
    )
    .await;
    sim.advance_minutes(180).await;
    assert_eq!(
        score(&sim).await["mailForwardedOut"].as_u64().unwrap(),
        out,
        "nothing more leaves once the rule is gone"
    );
}

#[tokio::test]
async fn the_attacker_comes_back_on_request_leaving_its_traces_and_the_users_own_activity_is_not_its(
) {
    let sim = Sim::start("bec").await;
    let johanna = sim.upn("johanna.lorenz");
    let before = methods(&sim, &johanna).await.len();
    let user = sim
        .control(
            Method::POST,
            "/user/activity",
            Some(json!({"user": johanna, "actions": ["signIn", "registerMethod"]})),
        )
        .await;
    assert_ne!(
        user["done"][0]["ipAddress"], "203.0.113.201",
        "the user acts from her own address: {user}"
    );
    let back = sim
        .control(
            Method::POST,
            "/attacker/return",
            Some(json!({"user": johanna, "actions": ["signIn", "registerMethod", "inboxRule", "forwarding"]})),
        )
        .await;
    assert_eq!(back["done"].as_array().map(Vec::len), Some(4), "{back}");
    assert_eq!(back["done"][0]["ipAddress"], "203.0.113.201");
    assert_eq!(
        methods(&sim, &johanna).await.len(),
        before + 2,
        "hers and the attacker's"
    );
    let audits = sim
        .get("/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName%20eq%20'User%20registered%20security%20info'")
        .await;
    let addresses: Vec<&str> = audits
        .value()
        .iter()
        .filter_map(|a| {
            a.pointer("/initiatedBy/user/ipAddress")
                .and_then(Value::as_str)
        })
        .map(|ip| {
            if ip == "203.0.113.201" {
                "attacker"
            } else {
                "user"
            }
        })
        .collect();
    assert!(
        addresses.contains(&"attacker") && addresses.contains(&"user"),
        "{addresses:?}"
    );
    let score = score(&sim).await;
    let remaining: Vec<&str> = score
        .pointer("/attackerArtefacts/remaining")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("description").and_then(Value::as_str))
        .filter(|d| d.contains("coming back"))
        .collect();
    assert_eq!(
        remaining.len(),
        3,
        "method, rule and forwarding count for the attacker: {score}"
    );

    let reply = sim
        .http
        .post(format!("{}/_sim/attacker/return", sim.base))
        .json(&json!({"user": johanna, "actions": ["dance"]}))
        .send()
        .await
        .expect("answers");
    assert_eq!(reply.status(), 400, "an unknown action is refused");
}

/// The holds the score lists for `upn`, as (kind, whole hold).
fn holds_of(score: &Value, upn: &str) -> Vec<(String, Value)> {
    score["attackerAccess"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["userPrincipalName"] == upn)
        .flat_map(|a| a["holds"].as_array().cloned().unwrap_or_default())
        .map(|h| (h["kind"].as_str().unwrap_or_default().to_owned(), h))
        .collect()
}

fn kinds(score: &Value, upn: &str) -> Vec<String> {
    holds_of(score, upn).into_iter().map(|(k, _)| k).collect()
}

fn minutes_until(sim: &Sim, until: &str) -> i64 {
    let until: chrono::DateTime<chrono::Utc> = until.parse().unwrap();
    (until - sim.server.now()).num_minutes()
}

/// The aitm scenario with `change` applied to its compromised account.
async fn aitm_with(change: Value) -> Sim {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../scenarios/aitm.json")).unwrap();
    let account = &mut scenario["attacker"]["compromised"][0];
    for (key, value) in change.as_object().unwrap() {
        account[key] = value.clone();
    }
    Sim::start_with(
        firebreak_sim::Scenario::from_json(&scenario.to_string()).unwrap(),
        firebreak_sim::SimOptions::default(),
    )
    .await
}

#[tokio::test]
async fn revoking_leaves_the_access_token_working_until_it_expires_and_each_refresh_fails_with_50173(
) {
    let sim = Sim::start("aitm").await;
    let megan = sim.upn("megan.bowen");
    let s = score(&sim).await;
    assert_eq!(
        kinds(&s, &megan),
        vec!["session", "password", "appToken"],
        "{s}"
    );
    assert_eq!(s["attackerHasAccess"], true);

    revoke(&sim, &megan).await;
    disable(&sim, &megan).await;
    reset_password(&sim, &megan).await;
    let s = score(&sim).await;
    let holds = holds_of(&s, &megan);
    assert_eq!(kinds(&s, &megan), vec!["accessToken"], "{s}");
    let until = holds[0].1["until"].as_str().unwrap().to_owned();
    assert_eq!(s["attackerTokenUntil"], until.as_str());
    let left = minutes_until(&sim, &until);
    assert!(
        (15..=75).contains(&left),
        "75 minutes after the last hourly refresh: {left} minutes left"
    );
    assert_eq!(
        s["attackerHasAccess"], true,
        "the token in its tail is access"
    );

    sim.advance_minutes(left - 1).await;
    let s = score(&sim).await;
    assert_eq!(
        kinds(&s, &megan),
        vec!["accessToken"],
        "still inside the tail"
    );
    assert!(
        s["attackerLog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "readWithAccessToken"),
        "the attacker kept reading during the tail: {}",
        s["attackerLog"]
    );
    sim.advance_minutes(2).await;
    let s = score(&sim).await;
    assert!(kinds(&s, &megan).is_empty(), "expired: {s}");
    assert_eq!(s["attackerTokenUntil"], Value::Null);
    assert_eq!(s["attackerHasAccess"], false, "{s}");

    let megan_id = sim.user_id("megan.bowen").await;
    let refreshes = sim
        .get(&format!(
            "/beta/auditLogs/signIns?$filter={}",
            enc(&format!(
                "signInEventTypes/any(t: t eq 'nonInteractiveUser') and userId eq '{megan_id}' and ipAddress eq '203.0.113.45' and createdDateTime ge 2025-03-12T23:50:00Z"
            ))
        ))
        .await;
    let failed: Vec<Value> = refreshes
        .value()
        .into_iter()
        .filter(|r| r["status"]["errorCode"] == 50173)
        .collect();
    assert!(
        !failed.is_empty(),
        "the refused refreshes are in the non-interactive log: {}",
        refreshes.body
    );
    assert!(failed.iter().all(|r| r["isInteractive"] == false
        && r["status"]["failureReason"]
            .as_str()
            .unwrap()
            .contains("revoked")));
    sim.advance_minutes(600).await;
    let later = sim
        .get(&format!(
            "/beta/auditLogs/signIns?$filter={}",
            enc(&format!(
                "signInEventTypes/any(t: t eq 'nonInteractiveUser') and userId eq '{megan_id}' and ipAddress eq '203.0.113.45' and createdDateTime ge 2025-03-12T23:50:00Z"
            ))
        ))
        .await
        .value()
        .into_iter()
        .filter(|r| r["status"]["errorCode"] == 50173)
        .count();
    assert_eq!(
        later, 3,
        "the client gives up after three refused refreshes"
    );
}

#[tokio::test]
async fn a_client_honouring_continuous_access_evaluation_loses_its_token_at_the_revocation() {
    let sim = aitm_with(json!({"caeCapable": true})).await;
    let megan = sim.upn("megan.bowen");
    revoke(&sim, &megan).await;
    let s = score(&sim).await;
    assert!(
        !kinds(&s, &megan).contains(&"accessToken".to_owned()),
        "{s}"
    );
    assert_eq!(s["attackerTokenUntil"], Value::Null);
}

#[tokio::test]
async fn access_token_minutes_sets_how_long_the_token_outlives_the_revocation() {
    let sim = aitm_with(json!({"accessTokenMinutes": 240})).await;
    let megan = sim.upn("megan.bowen");
    revoke(&sim, &megan).await;
    disable(&sim, &megan).await;
    reset_password(&sim, &megan).await;
    sim.advance_minutes(150).await;
    let s = score(&sim).await;
    assert_eq!(kinds(&s, &megan), vec!["accessToken"], "{s}");
    assert!(minutes_until(&sim, s["attackerTokenUntil"].as_str().unwrap()) > 0);
}

#[tokio::test]
async fn a_known_password_and_a_method_left_count_as_held_on_an_enabled_account_only() {
    let sim = Sim::start("mfa-fatigue").await;
    let joni = sim.upn("joni.sherman");
    revoke(&sim, &joni).await;
    let s = score(&sim).await;
    let held = kinds(&s, &joni);
    for kind in ["accessToken", "password", "authenticationMethod"] {
        assert!(held.contains(&kind.to_owned()), "{kind} in {held:?}");
    }
    reset_password(&sim, &joni).await;
    let held = kinds(&score(&sim).await, &joni);
    assert!(!held.contains(&"password".to_owned()), "reset: {held:?}");
    assert!(held.contains(&"authenticationMethod".to_owned()));
    disable(&sim, &joni).await;
    let held = kinds(&score(&sim).await, &joni);
    assert!(
        !held.contains(&"authenticationMethod".to_owned()),
        "a method on a disabled account opens nothing: {held:?}"
    );
}

#[tokio::test]
async fn the_entry_accounts_session_reaches_the_shared_mailbox_it_holds_rights_on() {
    let sim = Sim::start("shared-mailbox-delegate").await;
    let lidia = sim.upn("lidia.holloway");
    let s = score(&sim).await;
    let entry = s["attackerAccess"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["userPrincipalName"] == lidia.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["holds"][0]["kind"], "session", "{entry}");
    assert_eq!(
        entry["reaches"],
        json!([{"mailbox": sim.upn("finance"), "rights": ["FullAccess", "SendAs"]}])
    );
}
