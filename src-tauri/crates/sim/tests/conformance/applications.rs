//! App registrations: reads by object id and by client id, `servicePrincipals(appId='…')`,
//! `removePassword`, the `keyCredentials` update, `removeKey` with its proof of possession, the
//! audit entries each change leaves, and the `applicationCredential` score.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::Sim;
use crate::tokens::{assertion, cert_der, CERT, KEY, STRANGER_CERT, STRANGER_KEY};

const INVOICE_APP: &str = "3e0b4d0a-e229-567e-ac25-b67605ee8e1d";
const ATTACKER_SECRET: &str = "fbaff44e-99c8-53e3-b467-006f89695d0e";
const PRODUCTION_SECRET: &str = "12c74f3d-88fd-5050-99e4-072d53a95174";
const CERTIFICATE: &str = "8e192542-3678-5244-8d97-8b27eea863e4";
/// The audience of a proof of possession.
const DIRECTORY: &str = "00000002-0000-0000-c000-000000000000";

/// A proof of possession for `app` signed with `key_pem` (its certificate `cert_pem`).
fn proof(sim: &Sim, key_pem: &str, cert_pem: &str, app: &str, minutes: i64) -> String {
    let now = sim.server.now().timestamp();
    assertion(
        key_pem,
        cert_pem,
        "RS256",
        DIRECTORY,
        app,
        now,
        now + minutes * 60,
    )
}

fn key_ids(app: &Value, list: &str) -> Vec<String> {
    app[list]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["keyId"].as_str().map(str::to_owned))
        .collect()
}

/// The credentials an audit entry's `KeyDescription` lists (old, new), as key ids.
fn key_description(audit: &Value) -> (Vec<String>, Vec<String>) {
    let property = audit["targetResources"][0]["modifiedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["displayName"] == "KeyDescription")
        .unwrap()
        .clone();
    let ids = |side: &str| -> Vec<String> {
        let list: Vec<String> = serde_json::from_str(property[side].as_str().unwrap()).unwrap();
        list.iter()
            .map(|e| {
                e.trim_start_matches("[KeyIdentifier=")
                    .split(',')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    (ids("oldValue"), ids("newValue"))
}

async fn latest_credential_audit(sim: &Sim) -> Value {
    let audits = sim
        .get("/v1.0/auditLogs/directoryAudits?$filter=targetResources/any(t:t/id%20eq%20'3e0b4d0a-e229-567e-ac25-b67605ee8e1d')")
        .await
        .value();
    audits
        .into_iter()
        .find(|a| {
            a["activityDisplayName"]
                .as_str()
                .is_some_and(|n| n.contains("Certificates and secrets"))
        })
        .expect("a credential audit entry")
}

fn remaining(sim: &Sim) -> Vec<String> {
    sim.server
        .score()
        .attacker_artefacts
        .remaining
        .into_iter()
        .map(|a| a.id)
        .collect()
}

#[tokio::test]
async fn an_app_is_read_by_object_id_and_by_client_id_with_certificate_keys_only_when_selected() {
    let sim = Sim::start("app-secret-persistence").await;
    let listed = sim.get("/v1.0/applications").await.value();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .flat_map(|a| a["keyCredentials"].as_array().cloned().unwrap_or_default())
            .all(|k| k["key"].is_null()),
        "a list never carries certificate keys"
    );
    let client = listed.iter().find(|a| a["id"] == INVOICE_APP).unwrap()["appId"]
        .as_str()
        .unwrap()
        .to_owned();
    let found = sim
        .get(&format!(
            "/v1.0/applications?$filter=appId%20eq%20'{client}'&$select=id,appId,displayName"
        ))
        .await
        .value();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], INVOICE_APP);
    let plain = sim.get(&format!("/v1.0/applications/{INVOICE_APP}")).await;
    assert!(plain.body["keyCredentials"][0]["key"].is_null());
    let selected = sim
        .get(&format!(
            "/v1.0/applications/{INVOICE_APP}?$select=id,keyCredentials,passwordCredentials"
        ))
        .await;
    assert!(
        selected.body["keyCredentials"][0]["key"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "{}",
        selected.body
    );
    assert_eq!(
        key_ids(&selected.body, "passwordCredentials"),
        vec![PRODUCTION_SECRET, ATTACKER_SECRET]
    );
    let sp = sim
        .get(&format!("/v1.0/servicePrincipals(appId='{client}')"))
        .await;
    assert_eq!(sp.status, 200, "{}", sp.body);
    assert_eq!(sp.body["appId"], client.as_str());
    let none = sim
        .get("/v1.0/servicePrincipals(appId='0f1e2d3c-0000-4000-8000-000000000099')")
        .await;
    assert_eq!(none.status, 404);
    assert_eq!(none.code(), "Request_ResourceNotFound");
    sim.server.shutdown().await;
}

#[tokio::test]
async fn remove_password_removes_only_that_secret_audits_it_and_scores_the_artefact_removed() {
    let sim = Sim::start("app-secret-persistence").await;
    let artefact = format!("{INVOICE_APP}/{ATTACKER_SECRET}");
    assert_eq!(remaining(&sim), vec![artefact.clone()]);
    let removed = sim
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{INVOICE_APP}/removePassword"),
            Some(json!({"keyId": ATTACKER_SECRET})),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    assert!(remaining(&sim).is_empty(), "the artefact counts as removed");
    assert!(
        sim.server.score().legitimate_artefacts.removed.is_empty(),
        "the production secret and the certificate are still there"
    );
    let app = sim.get(&format!("/v1.0/applications/{INVOICE_APP}")).await;
    assert_eq!(
        key_ids(&app.body, "passwordCredentials"),
        vec![PRODUCTION_SECRET]
    );
    let audit = latest_credential_audit(&sim).await;
    let (old, new) = key_description(&audit);
    assert!(
        old.contains(&ATTACKER_SECRET.to_owned()) && !new.contains(&ATTACKER_SECRET.to_owned())
    );
    assert!(new.contains(&PRODUCTION_SECRET.to_owned()) && new.contains(&CERTIFICATE.to_owned()));
    let again = sim
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{INVOICE_APP}/removePassword"),
            Some(json!({"keyId": ATTACKER_SECRET})),
        )
        .await;
    assert_eq!(again.status, 400, "the secret is gone: {}", again.body);
    let malformed = sim
        .graph(
            Method::POST,
            &format!("/v1.0/applications/{INVOICE_APP}/removePassword"),
            Some(json!({"keyId": "not-a-guid"})),
        )
        .await;
    assert_eq!(malformed.status, 400);
    let missing = sim
        .graph(
            Method::POST,
            "/v1.0/applications/0f1e2d3c-0000-4000-8000-000000000099/removePassword",
            Some(json!({"keyId": PRODUCTION_SECRET})),
        )
        .await;
    assert_eq!(missing.status, 404);
    sim.server.shutdown().await;
}

#[tokio::test]
async fn key_credentials_are_replaced_whole_and_each_kept_certificate_needs_its_key() {
    let sim = Sim::start("app-secret-persistence").await;
    let app = sim
        .get(&format!(
            "/v1.0/applications/{INVOICE_APP}?$select=keyCredentials"
        ))
        .await;
    let existing = app.body["keyCredentials"][0].clone();
    let mut without_key = existing.clone();
    without_key["key"] = Value::Null;
    let refused = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{INVOICE_APP}"),
            Some(json!({"keyCredentials": [without_key]})),
        )
        .await;
    assert_eq!(
        refused.status, 400,
        "a kept certificate without its key would be lost"
    );
    let added = json!({"@odata.type": "#microsoft.graph.keyCredential", "type": "AsymmetricX509Cert", "usage": "Verify",
                       "key": STANDARD.encode(cert_der(CERT)), "displayName": "CN=ir-app"});
    let patched = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{INVOICE_APP}"),
            Some(json!({"@odata.type": "#microsoft.graph.application", "keyCredentials": [existing, added]})),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let after = sim
        .get(&format!(
            "/v1.0/applications/{INVOICE_APP}?$select=keyCredentials"
        ))
        .await;
    let keys = after.body["keyCredentials"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|k| k.get("@odata.type").is_none()),
        "@odata.type is accepted and not stored: {keys:?}"
    );
    assert!(
        keys[1]["keyId"].as_str().is_some_and(|k| k.len() == 36),
        "a keyId is given"
    );
    let secrets = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{INVOICE_APP}"),
            Some(json!({"passwordCredentials": []})),
        )
        .await;
    assert_eq!(
        secrets.status, 400,
        "secrets change only through the actions"
    );
    sim.server.shutdown().await;
}

#[tokio::test]
async fn remove_key_needs_a_proof_signed_by_a_current_certificate_of_the_app() {
    let sim = Sim::start("app-secret-persistence").await;
    let app = sim
        .get(&format!(
            "/v1.0/applications/{INVOICE_APP}?$select=keyCredentials"
        ))
        .await;
    let existing = app.body["keyCredentials"][0].clone();
    let ours = json!({"type": "AsymmetricX509Cert", "usage": "Verify", "key": STANDARD.encode(cert_der(CERT)), "displayName": "CN=ir-app"});
    let patched = sim
        .graph(
            Method::PATCH,
            &format!("/v1.0/applications/{INVOICE_APP}"),
            Some(json!({"keyCredentials": [existing, ours]})),
        )
        .await;
    assert_eq!(patched.status, 204, "{}", patched.body);
    let remove = |proof: String| {
        let sim = &sim;
        async move {
            sim.graph(
                Method::POST,
                &format!("/v1.0/applications/{INVOICE_APP}/removeKey"),
                Some(json!({"keyId": CERTIFICATE, "proof": proof})),
            )
            .await
        }
    };
    let stranger = remove(proof(&sim, STRANGER_KEY, STRANGER_CERT, INVOICE_APP, 10)).await;
    assert_eq!(
        stranger.status, 400,
        "a key the app does not hold proves nothing"
    );
    let expired = remove(proof(&sim, KEY, CERT, INVOICE_APP, -10)).await;
    assert_eq!(expired.status, 400, "an expired proof is refused");
    let other_app = remove(proof(
        &sim,
        KEY,
        CERT,
        "d694181d-97aa-5260-a935-209551dd100b",
        10,
    ))
    .await;
    assert_eq!(
        other_app.status, 400,
        "a proof issued for another app is refused"
    );
    let good = remove(proof(&sim, KEY, CERT, INVOICE_APP, 10)).await;
    assert_eq!(good.status, 204, "{}", good.body);
    let after = sim
        .get(&format!(
            "/v1.0/applications/{INVOICE_APP}?$select=keyCredentials"
        ))
        .await;
    assert!(!key_ids(&after.body, "keyCredentials").contains(&CERTIFICATE.to_owned()));
    assert_eq!(
        sim.server.score().legitimate_artefacts.removed[0].id,
        format!("{INVOICE_APP}/{CERTIFICATE}"),
        "removing the legitimate certificate is scored as a look-alike removed"
    );
    sim.server.shutdown().await;
}
