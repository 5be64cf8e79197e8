//! Every operation of spec/graph/endpoints.md §6 (plus TAP creation and service-principal PATCH), exercised
//! across all shipped scenarios, each answer validated against Microsoft's description.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{enc, Sim, GRAPH};
use crate::schema::Description;

const TYPED_KINDS: &[&str] = &[
    "phoneMethods",
    "microsoftAuthenticatorMethods",
    "fido2Methods",
    "softwareOathMethods",
    "temporaryAccessPassMethods",
    "emailMethods",
    "windowsHelloForBusinessMethods",
    "passwordMethods",
];

/// A delegated token through the device-code flow, approved as `upn`.
pub async fn delegated_token(sim: &Sim, upn: &str, scope: &str) -> Value {
    let reply = sim
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            sim.base, sim.tenant
        ))
        .form(&[("client_id", sim.scenario.client_id()), ("scope", scope)])
        .send()
        .await
        .expect("devicecode");
    let code = crate::harness::read(reply).await;
    assert_eq!(code.status, 200, "{}", code.body);
    let device_code = code.body["device_code"]
        .as_str()
        .expect("device_code")
        .to_owned();
    let user_code = code.body["user_code"]
        .as_str()
        .expect("user_code")
        .to_owned();
    sim.control(
        Method::POST,
        "/devicecode/approve",
        Some(json!({"userCode": user_code, "userPrincipalName": upn})),
    )
    .await;
    let token = sim
        .token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("client_id", sim.scenario.client_id()),
            ("device_code", &device_code),
        ])
        .await;
    assert_eq!(token.status, 200, "{}", token.body);
    token.body
}

async fn ids(sim: &Sim, path: &str) -> Vec<String> {
    let reply = sim.get(path).await;
    reply
        .value()
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_owned))
        .collect()
}

/// Reads everything a responder reads, then makes every change a responder makes.
async fn sweep(sim: &Sim) {
    let (users, _) = sim
        .all_pages(
            "/v1.0/users?$select=id,userPrincipalName,displayName,accountEnabled&$top=7",
            &[],
        )
        .await;
    assert!(!users.is_empty());
    for user in &users {
        let id = user["id"].as_str().unwrap().to_owned();
        sim.get(&format!("/v1.0/users/{id}?$select=id,displayName,accountEnabled,signInSessionsValidFromDateTime,lastPasswordChangeDateTime,onPremisesSyncEnabled,signInActivity")).await;
        sim.get(&format!("/v1.0/users/{id}")).await;
        for method_id in ids(sim, &format!("/v1.0/users/{id}/authentication/methods")).await {
            sim.get(&format!(
                "/v1.0/users/{id}/authentication/methods/{method_id}"
            ))
            .await;
        }
        for kind in TYPED_KINDS {
            for method_id in ids(sim, &format!("/v1.0/users/{id}/authentication/{kind}")).await {
                let reply = sim
                    .get(&format!(
                        "/v1.0/users/{id}/authentication/{kind}/{method_id}"
                    ))
                    .await;
                assert_eq!(reply.status, 200, "{kind}/{method_id}: {}", reply.body);
            }
        }
        for method_id in ids(
            sim,
            &format!("/beta/users/{id}/authentication/platformCredentialMethods"),
        )
        .await
        {
            sim.get(&format!(
                "/beta/users/{id}/authentication/platformCredentialMethods/{method_id}"
            ))
            .await;
        }
        let settings = sim.get(&format!("/v1.0/users/{id}/mailboxSettings")).await;
        if settings.status == 200 {
            for rule in ids(
                sim,
                &format!("/v1.0/users/{id}/mailFolders/inbox/messageRules"),
            )
            .await
            {
                let reply = sim
                    .get(&format!(
                        "/v1.0/users/{id}/mailFolders/inbox/messageRules/{}",
                        enc(&rule)
                    ))
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
            }
            sim.get(&format!("/v1.0/users/{id}/mailFolders/sentitems/messages?$top=50&$select=subject,sentDateTime,toRecipients&$orderby=sentDateTime%20desc")).await;
        } else {
            assert_eq!(settings.code(), "MailboxNotEnabledForRESTAPI");
        }
        sim.get(&format!("/v1.0/users/{id}/memberOf")).await;
        sim.get(&format!("/v1.0/users/{id}/ownedObjects")).await;
        sim.get(&format!("/v1.0/users/{id}/appRoleAssignments"))
            .await;
        sim.get(&format!("/v1.0/users/{id}/oauth2PermissionGrants"))
            .await;
    }
    let grants = sim.get("/v1.0/oauth2PermissionGrants").await.value();
    let mut clients = BTreeSet::new();
    for grant in &grants {
        sim.get(&format!(
            "/v1.0/oauth2PermissionGrants/{}",
            grant["id"].as_str().unwrap()
        ))
        .await;
        clients.insert(grant["clientId"].as_str().unwrap().to_owned());
    }
    for client in &clients {
        let sp = sim.get(&format!("/v1.0/servicePrincipals/{client}")).await;
        assert_eq!(sp.status, 200, "{}", sp.body);
        sim.get(&format!(
            "/v1.0/servicePrincipals/{client}/appRoleAssignments"
        ))
        .await;
        sim.get(&format!(
            "/v1.0/servicePrincipals/{client}/appRoleAssignedTo"
        ))
        .await;
    }
    for app in sim.get("/v1.0/applications").await.value() {
        let id = app["id"].as_str().unwrap();
        let client = app["appId"].as_str().unwrap();
        let one = sim
            .get(&format!(
                "/v1.0/applications/{id}?$select=id,appId,displayName,keyCredentials,passwordCredentials"
            ))
            .await;
        assert_eq!(one.status, 200, "{}", one.body);
        let found = sim
            .get(&format!(
                "/v1.0/applications?$filter=appId%20eq%20'{client}'"
            ))
            .await;
        assert_eq!(found.value().len(), 1, "{}", found.body);
        let sp = sim
            .get(&format!("/v1.0/servicePrincipals(appId='{client}')"))
            .await;
        assert!([200, 404].contains(&sp.status), "{}", sp.body);
    }
    sim.all_pages("/v1.0/auditLogs/signIns?$top=50", &[]).await;
    sim.all_pages("/beta/auditLogs/signIns?$top=50&$filter=signInEventTypes/any(t:%20t%20eq%20'nonInteractiveUser')", &[]).await;
    sim.all_pages("/v1.0/auditLogs/directoryAudits?$top=20", &[])
        .await;
    for risky in ids(sim, "/v1.0/identityProtection/riskyUsers").await {
        sim.get(&format!("/v1.0/identityProtection/riskyUsers/{risky}"))
            .await;
    }
    sim.get("/v1.0/identityProtection/riskDetections").await;
    for incident in ids(sim, "/v1.0/security/incidents?$expand=alerts").await {
        sim.get(&format!(
            "/v1.0/security/incidents/{incident}?$expand=alerts"
        ))
        .await;
    }
    for alert in ids(sim, "/v1.0/security/alerts_v2").await {
        sim.get(&format!("/v1.0/security/alerts_v2/{alert}")).await;
    }
    audit_search(sim).await;
    changes(sim, &users, &grants).await;
}

async fn audit_search(sim: &Sim) {
    let start = (sim.server.now() - chrono::Duration::days(7))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let end = sim.server.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let created = sim
        .graph(Method::POST, "/beta/security/auditLog/queries", Some(json!({
            "displayName": "Firebreak: mailbox activity", "filterStartDateTime": start, "filterEndDateTime": end,
            "recordTypeFilters": ["exchangeItemAggregated", "ExchangeAdmin"], "operationFilters": ["MailItemsAccessed", "New-InboxRule"]})))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["status"], "notStarted");
    let id = created.body["id"].as_str().unwrap().to_owned();
    sim.get("/beta/security/auditLog/queries").await;
    sim.advance_minutes(5).await;
    let done = sim
        .get(&format!("/beta/security/auditLog/queries/{id}"))
        .await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    sim.all_pages(
        &format!("/beta/security/auditLog/queries/{id}/records?$top=10"),
        &[],
    )
    .await;
}

async fn changes(sim: &Sim, users: &[Value], grants: &[Value]) {
    // Methods: delete one of each kind present (not the password, which has no DELETE).
    for user in users.iter().take(20) {
        let id = user["id"].as_str().unwrap();
        for kind in TYPED_KINDS.iter().filter(|k| **k != "passwordMethods") {
            // Entra refuses a mobile phone while an alternate mobile exists: take the last listed.
            if let Some(method) = ids(sim, &format!("/v1.0/users/{id}/authentication/{kind}"))
                .await
                .last()
            {
                let reply = sim
                    .graph(
                        Method::DELETE,
                        &format!("/v1.0/users/{id}/authentication/{kind}/{method}"),
                        None,
                    )
                    .await;
                assert_eq!(reply.status, 204, "{kind}: {}", reply.body);
            }
        }
        if let Some(method) = ids(
            sim,
            &format!("/beta/users/{id}/authentication/platformCredentialMethods"),
        )
        .await
        .first()
        {
            let reply = sim
                .graph(
                    Method::DELETE,
                    &format!("/beta/users/{id}/authentication/platformCredentialMethods/{method}"),
                    None,
                )
                .await;
            assert_eq!(reply.status, 204, "{}", reply.body);
        }
        if let Some(rule) = ids(
            sim,
            &format!("/v1.0/users/{id}/mailFolders/inbox/messageRules"),
        )
        .await
        .first()
        {
            let reply = sim
                .graph(
                    Method::DELETE,
                    &format!(
                        "/v1.0/users/{id}/mailFolders/inbox/messageRules/{}",
                        enc(rule)
                    ),
                    None,
                )
                .await;
            assert_eq!(reply.status, 204, "{}", reply.body);
        }
    }
    // Any enabled user but the administrator the device-code flow signs in as further on.
    let target = users
        .iter()
        .find(|u| {
            u["accountEnabled"] == json!(true)
                && !u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("alex.wilber@"))
        })
        .expect("an enabled user")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = sim
        .graph(
            Method::POST,
            &format!("/v1.0/users/{target}/revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(revoked.body["value"], json!(true));
    let revoked = sim
        .graph(
            Method::POST,
            &format!("/v1.0/users/{target}/microsoft.graph.revokeSignInSessions"),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200);
    let disabled = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/users/{target}"),
            Some(json!({"accountEnabled": false})),
        )
        .await;
    assert_eq!(disabled.status, 204, "{}", disabled.body);
    let reset = sim
        .graph(Method::PATCH, &format!("/v1.0/users/{target}"), Some(json!({"passwordProfile": {"password": "xWwvJ]6NMw+bWH-d", "forceChangePasswordNextSignIn": true}})))
        .await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    let confirmed = sim
        .graph(
            Method::POST,
            "/v1.0/identityProtection/riskyUsers/confirmCompromised",
            Some(json!({"userIds": [target]})),
        )
        .await;
    // Without Entra ID P2 Identity Protection refuses it (see entra_writes.rs).
    assert!(
        confirmed.status == 204 || (confirmed.status == 403 && confirmed.code() == "Forbidden"),
        "{} {}",
        confirmed.status,
        confirmed.body
    );
    let policy = sim
        .get("/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass")
        .await;
    assert_eq!(policy.status, 200, "{}", policy.body);
    let tap = sim
        .graph(
            Method::POST,
            &format!("/v1.0/users/{target}/authentication/temporaryAccessPassMethods"),
            Some(json!({"lifetimeInMinutes": 60, "isUsableOnce": true})),
        )
        .await;
    assert_eq!(tap.status, 201, "{}", tap.body);
    assert!(tap.body["temporaryAccessPass"]
        .as_str()
        .is_some_and(|p| p.len() >= 8));
    let tap_id = tap.body["id"].as_str().unwrap();
    let again = sim
        .get(&format!(
            "/v1.0/users/{target}/authentication/temporaryAccessPassMethods/{tap_id}"
        ))
        .await;
    assert_eq!(
        again.body["temporaryAccessPass"],
        Value::Null,
        "the pass is shown only once"
    );
    sim.graph(
        Method::DELETE,
        &format!("/v1.0/users/{target}/authentication/temporaryAccessPassMethods/{tap_id}"),
        None,
    )
    .await;
    if let Some(grant) = grants.first() {
        let sp = grant["clientId"].as_str().unwrap();
        let patched = sim
            .graph(
                Method::PATCH,
                &format!("/v1.0/servicePrincipals/{sp}"),
                Some(json!({"accountEnabled": false})),
            )
            .await;
        assert_eq!(patched.status, 204, "{}", patched.body);
        let deleted = sim
            .graph(
                Method::DELETE,
                &format!(
                    "/v1.0/oauth2PermissionGrants/{}",
                    grant["id"].as_str().unwrap()
                ),
                None,
            )
            .await;
        assert_eq!(deleted.status, 204, "{}", deleted.body);
    }
    app_credentials(sim).await;
    role_member(sim, users).await;
    // /me needs a delegated token: device-code sign-in of an administrator.
    let admin = users.iter().find(|u| {
        u["userPrincipalName"]
            .as_str()
            .is_some_and(|u| u.starts_with("alex.wilber@") || u.starts_with("admin@"))
    });
    if let Some(admin) = admin {
        let token = delegated_token(
            sim,
            admin["userPrincipalName"].as_str().unwrap(),
            &format!("{GRAPH} offline_access openid profile"),
        )
        .await;
        let me = sim
            .graph_as(
                token["access_token"].as_str().unwrap(),
                Method::GET,
                "/v1.0/me?$select=id,displayName,userPrincipalName",
                None,
                &[],
            )
            .await;
        assert_eq!(me.status, 200, "{}", me.body);
        assert_eq!(me.body["userPrincipalName"], admin["userPrincipalName"]);
    }
}

/// On the first app registration with a secret: removes that secret, adds a certificate through
/// the `keyCredentials` update and removes it again with a proof signed by its own key.
async fn app_credentials(sim: &Sim) {
    use base64::Engine;
    let apps = sim.get("/v1.0/applications").await.value();
    let Some(app) = apps.iter().find(|a| {
        a["passwordCredentials"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    }) else {
        return;
    };
    let id = app["id"].as_str().unwrap();
    let secret = app["passwordCredentials"][0]["keyId"].as_str().unwrap();
    let removed = sim
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{id}/microsoft.graph.removePassword"),
            Some(json!({"keyId": secret})),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    let current = sim
        .get(&format!("/v1.0/applications/{id}?$select=keyCredentials"))
        .await;
    let mut keys = current.body["keyCredentials"].as_array().unwrap().clone();
    keys.push(json!({"type": "AsymmetricX509Cert", "usage": "Verify", "displayName": "CN=ir-app",
        "key": base64::engine::general_purpose::STANDARD.encode(crate::tokens::cert_der(crate::tokens::CERT))}));
    let patched = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{id}"),
            Some(json!({"keyCredentials": keys})),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let after = sim
        .get(&format!("/v1.0/applications/{id}?$select=keyCredentials"))
        .await;
    let added = after.body["keyCredentials"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["keyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = sim.server.now().timestamp();
    let proof = crate::tokens::assertion(
        crate::tokens::KEY,
        crate::tokens::CERT,
        "RS256",
        "00000002-0000-0000-c000-000000000000",
        id,
        now,
        now + 600,
    );
    let removed = sim
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{id}/removeKey"),
            Some(json!({"keyId": added, "proof": proof})),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
}

/// Takes one account other than the signed-in administrator out of one of its directory roles:
/// 204, the role gone from `memberOf`, and a second removal a 404.
async fn role_member(sim: &Sim, users: &[Value]) {
    for user in users {
        let upn = user["userPrincipalName"].as_str().unwrap_or_default();
        if upn.starts_with("alex.wilber@") || upn.starts_with("admin@") {
            continue;
        }
        let id = user["id"].as_str().unwrap();
        let member_of = sim.get(&format!("/v1.0/users/{id}/memberOf")).await;
        let role = member_of
            .value()
            .into_iter()
            .find(|o| o["@odata.type"].as_str() == Some("#microsoft.graph.directoryRole"));
        let Some(role) = role else { continue };
        let role = role["id"].as_str().unwrap().to_owned();
        let path = format!("/v1.0/directoryRoles/{role}/members/{id}/$ref");
        let removed = sim.graph(Method::DELETE, &path, None).await;
        assert_eq!(removed.status, 204, "{}", removed.body);
        let after = sim.get(&format!("/v1.0/users/{id}/memberOf")).await;
        assert!(
            !after
                .value()
                .iter()
                .any(|o| o["id"].as_str() == Some(&role)),
            "{upn} still holds the role"
        );
        let again = sim.graph(Method::DELETE, &path, None).await;
        assert_eq!(again.status, 404, "{}", again.body);
        return;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_in_microsofts_shape_across_all_scenarios() {
    let mut covered = BTreeSet::new();
    for name in firebreak_sim::Scenario::builtin_names() {
        // Not incidents, or tenants without Entra ID P1, whose sign-in log answers 403 by design.
        if name == "large-tenant"
            || name == "readiness-gaps"
            || !firebreak_sim::Scenario::builtin(name).is_ok_and(|s| s.entra_id_p1())
        {
            continue;
        }
        let sim = Sim::start(name).await;
        sweep(&sim).await;
        covered.extend(sim.coverage.lock().unwrap().iter().cloned());
        sim.server.shutdown().await;
    }
    let missing: Vec<String> = Description::get()
        .routes
        .iter()
        .map(|r| format!("{} {}", r.method, r.template))
        .filter(|op| !covered.contains(op))
        .collect();
    assert!(
        missing.is_empty(),
        "operations never answered successfully across the scenarios:\n  {}",
        missing.join("\n  ")
    );
    assert!(
        covered.len() >= 64,
        "62 operations of the table plus TAP creation and SP PATCH, got {} (with the app registration operations)",
        covered.len()
    );
}
