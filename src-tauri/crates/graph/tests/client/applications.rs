//! App registrations: read with their credentials, found by client id, the service principal of
//! a client id, a secret removed, a certificate removed by rewriting the list without it, and
//! `removeKey` with a proof signed by one of the app's own certificates.

use base64::Engine;
use chrono::Utc;
use firebreak_graph::{
    applications::KeyCredential, auth::ClientCertificate, collect_items, Error, SecretString,
};

use crate::support::start;

const INVOICE_APP: &str = "3e0b4d0a-e229-567e-ac25-b67605ee8e1d";
const ATTACKER_SECRET: &str = "fbaff44e-99c8-53e3-b467-006f89695d0e";
const PRODUCTION_SECRET: &str = "12c74f3d-88fd-5050-99e4-072d53a95174";
const CERTIFICATE: &str = "8e192542-3678-5244-8d97-8b27eea863e4";

fn key_ids(keys: &[KeyCredential]) -> Vec<String> {
    keys.iter().filter_map(|k| k.key_id.clone()).collect()
}

#[tokio::test]
async fn an_app_registration_is_read_with_its_credentials_and_found_by_its_client_id() {
    let t = start("app-secret-persistence").await;
    let app = t.client.get_application(INVOICE_APP).await.unwrap();
    assert_eq!(app.display_name.as_deref(), Some("Contoso Invoice Sync"));
    let secrets: Vec<String> = app
        .passwords()
        .iter()
        .filter_map(|p| p.key_id.clone())
        .collect();
    assert_eq!(secrets, vec![PRODUCTION_SECRET, ATTACKER_SECRET]);
    assert!(
        app.keys()[0].key.as_deref().is_some_and(|k| !k.is_empty()),
        "one application read with $select=keyCredentials carries the certificate"
    );
    let client = app.app_id.clone().unwrap();
    let found = collect_items(t.client.find_applications_by_app_id(&client))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, INVOICE_APP);
    let sp = t
        .client
        .get_service_principal_by_app_id(&client)
        .await
        .unwrap();
    assert_eq!(sp.app_id.as_deref(), Some(client.as_str()));
    let none = t
        .client
        .get_service_principal_by_app_id("0f1e2d3c-0000-4000-8000-000000000099")
        .await
        .unwrap_err();
    assert!(none.is_not_found(), "{none}");
    let missing = t
        .client
        .get_application("0f1e2d3c-0000-4000-8000-000000000099")
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let hostile = collect_items(t.client.find_applications_by_app_id("x' or appId ne '"))
        .await
        .unwrap_err();
    assert!(
        matches!(hostile, Error::InvalidInput { .. }),
        "a client id that is not a GUID never reaches the filter: {hostile}"
    );
}

#[tokio::test]
async fn a_secret_is_removed_and_the_apps_other_credentials_stay() {
    let t = start("app-secret-persistence").await;
    t.client
        .remove_application_password(INVOICE_APP, ATTACKER_SECRET)
        .await
        .unwrap();
    let app = t.client.get_application(INVOICE_APP).await.unwrap();
    let secrets: Vec<String> = app
        .passwords()
        .iter()
        .filter_map(|p| p.key_id.clone())
        .collect();
    assert_eq!(secrets, vec![PRODUCTION_SECRET]);
    assert_eq!(key_ids(app.keys()), vec![CERTIFICATE]);
    let again = t
        .client
        .remove_application_password(INVOICE_APP, ATTACKER_SECRET)
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(400), "{again}");
}

#[tokio::test]
async fn a_certificate_is_removed_by_sending_the_list_without_it_and_its_keys_round_trip() {
    let t = start("app-secret-persistence").await;
    let before = t.client.get_application(INVOICE_APP).await.unwrap();
    let ours = ClientCertificate::generate("ir-test", Utc::now(), 30).unwrap();
    let mut keys = before.keys().to_vec();
    keys.push(KeyCredential {
        custom_key_identifier: None,
        display_name: Some("CN=ir-test".into()),
        end_date_time: None,
        key: Some(base64::engine::general_purpose::STANDARD.encode(ours.certificate_der())),
        key_id: None,
        start_date_time: None,
        key_type: Some("AsymmetricX509Cert".into()),
        usage: Some("Verify".into()),
    });
    t.client
        .set_application_key_credentials(INVOICE_APP, &keys)
        .await
        .unwrap();
    let with_two = t.client.get_application(INVOICE_APP).await.unwrap();
    assert_eq!(with_two.keys().len(), 2);
    assert_eq!(
        with_two.keys()[0],
        before.keys()[0],
        "the kept certificate round-trips unchanged, key included"
    );
    let kept: Vec<KeyCredential> = with_two
        .keys()
        .iter()
        .filter(|k| k.key_id.as_deref() != Some(CERTIFICATE))
        .cloned()
        .collect();
    t.client
        .set_application_key_credentials(INVOICE_APP, &kept)
        .await
        .unwrap();
    let after = t.client.get_application(INVOICE_APP).await.unwrap();
    assert_eq!(key_ids(after.keys()), key_ids(&kept));
    assert_eq!(after.passwords().len(), 2, "secrets are not touched");
}

#[tokio::test]
async fn remove_key_succeeds_only_with_a_proof_signed_by_a_certificate_of_the_app() {
    let t = start("app-secret-persistence").await;
    let now = t.sim.now();
    let ours = ClientCertificate::generate("ir-proof", now, 30).unwrap();
    let mut keys = t
        .client
        .get_application(INVOICE_APP)
        .await
        .unwrap()
        .keys()
        .to_vec();
    keys.push(KeyCredential {
        custom_key_identifier: None,
        display_name: Some("CN=ir-proof".into()),
        end_date_time: None,
        key: Some(base64::engine::general_purpose::STANDARD.encode(ours.certificate_der())),
        key_id: None,
        start_date_time: None,
        key_type: Some("AsymmetricX509Cert".into()),
        usage: Some("Verify".into()),
    });
    t.client
        .set_application_key_credentials(INVOICE_APP, &keys)
        .await
        .unwrap();
    let audience = "00000002-0000-0000-c000-000000000000";
    let stranger = ClientCertificate::generate("stranger", now, 30).unwrap();
    let bad = stranger
        .client_assertion(INVOICE_APP, audience, now)
        .unwrap();
    let refused = t
        .client
        .remove_application_key(INVOICE_APP, CERTIFICATE, &bad)
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(400), "{refused}");
    let proof: SecretString = ours.client_assertion(INVOICE_APP, audience, now).unwrap();
    t.client
        .remove_application_key(INVOICE_APP, CERTIFICATE, &proof)
        .await
        .unwrap();
    let after = t.client.get_application(INVOICE_APP).await.unwrap();
    assert!(!key_ids(after.keys()).contains(&CERTIFICATE.to_owned()));
}
