//! App registrations (`application` objects): read one by object id or find it by its client id,
//! the service principal of a client id, and removing a credential — a secret with
//! `removePassword`, a certificate by updating `keyCredentials` to the list without it.
//!
//! A secret or certificate added to an app registration lets whoever holds it sign in as the app
//! in every tenant where the app has a service principal. Graph's `removeKey` needs a proof of
//! possession signed with one of the app's current certificates, which a responder removing an
//! attacker's certificate does not have; Microsoft documents updating the application's
//! `keyCredentials` as the way to change certificates without one (spec/graph-behaviour.md). A
//! PATCH of `keyCredentials` replaces the whole collection and each entry must carry its `key`,
//! which Graph returns only when a single application is read with `$select=keyCredentials` —
//! [`Client::get_application`] does exactly that.

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    client::{Call, Client, PageStream},
    directory::{ServicePrincipal, SP_SELECT},
    odata::{build_url, object_id, quote},
    permissions::Operation,
    Error,
};

/// `$select` for applications: identity, publisher and every credential (with certificate keys
/// when one application is read).
pub const APPLICATION_SELECT: &str = "id,appId,displayName,createdDateTime,publisherDomain,signInAudience,verifiedPublisher,keyCredentials,passwordCredentials";

/// `microsoft.graph.application` (the selected properties).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Object id (what `/applications/{id}` and the directory audit log name).
    pub id: String,
    /// The application (client) id, shared with its service principals.
    pub app_id: Option<String>,
    /// Display name (attacker-controlled for an attacker's app).
    pub display_name: Option<String>,
    /// When it was registered.
    pub created_date_time: Option<DateTime<Utc>>,
    /// The publisher's domain.
    pub publisher_domain: Option<String>,
    /// Who may sign in to it.
    pub sign_in_audience: Option<String>,
    /// Verified publisher, as sent.
    pub verified_publisher: Option<serde_json::Value>,
    /// Certificates.
    #[serde(default)]
    pub key_credentials: Option<Vec<KeyCredential>>,
    /// Client secrets (Graph never returns the secret itself after creation).
    #[serde(default)]
    pub password_credentials: Option<Vec<PasswordCredential>>,
}

impl Application {
    /// The certificates (empty when none or not selected).
    pub fn keys(&self) -> &[KeyCredential] {
        self.key_credentials.as_deref().unwrap_or(&[])
    }

    /// The secrets (empty when none or not selected).
    pub fn passwords(&self) -> &[PasswordCredential] {
        self.password_credentials.as_deref().unwrap_or(&[])
    }
}

/// `microsoft.graph.keyCredential`: a certificate of an app. Sent back whole when the collection
/// is updated, so every documented property round-trips.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    /// The certificate's thumbprint by default (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_key_identifier: Option<String>,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<DateTime<Utc>>,
    /// The public certificate (base64), present only when read with `$select=keyCredentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Start of validity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date_time: Option<DateTime<Utc>>,
    /// `AsymmetricX509Cert` or `X509CertAndPassword`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// `Verify` or `Sign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
}

/// `microsoft.graph.passwordCredential`: a client secret's metadata.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    /// Its name.
    pub display_name: Option<String>,
    /// Expiry.
    pub end_date_time: Option<DateTime<Utc>>,
    /// The first characters of the secret, as Graph shows them.
    pub hint: Option<String>,
    /// Its id.
    pub key_id: Option<String>,
    /// Start of validity (usually when it was added).
    pub start_date_time: Option<DateTime<Utc>>,
}

impl Client {
    /// `GET /applications/{id}` with every credential, certificate keys included.
    pub async fn get_application(&self, id: &str) -> Result<Application, Error> {
        self.get_application_with_body(id).await.map(|(app, _)| app)
    }

    /// [`Client::get_application`] with the body exactly as received (evidence).
    pub async fn get_application_with_body(
        &self,
        id: &str,
    ) -> Result<(Application, String), Error> {
        let id = object_id("application id", id)?;
        let url = build_url(
            &self.graph_root(false),
            &["applications", id],
            &[("$select", APPLICATION_SELECT.into())],
        )?;
        self.fetch_raw(&Call::new(Operation::ReadApplication, Method::GET, url))
            .await
    }

    /// `GET /applications?$filter=appId eq '…'`: the registration behind a client id, when it
    /// lives in this tenant (certificate keys are not returned in a list).
    pub fn find_applications_by_app_id(&self, app_id: &str) -> PageStream<Application> {
        let url = object_id("application (client) id", app_id).and_then(|app_id| {
            build_url(
                &self.graph_root(false),
                &["applications"],
                &[
                    ("$filter", format!("appId eq {}", quote(app_id))),
                    ("$select", APPLICATION_SELECT.into()),
                ],
            )
        });
        self.stream_or_error(Operation::ReadApplication, url)
    }

    /// `GET /servicePrincipals(appId='…')`: this tenant's service principal of a client id.
    pub async fn get_service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<ServicePrincipal, Error> {
        let app_id = object_id("application (client) id", app_id)?;
        let segment = format!("servicePrincipals(appId={})", quote(app_id));
        let url = build_url(
            &self.graph_root(false),
            &[segment.as_str()],
            &[("$select", SP_SELECT.into())],
        )?;
        self.fetch(&Call::new(
            Operation::ReadServicePrincipal,
            Method::GET,
            url,
        ))
        .await
    }

    /// `POST /applications/{id}/removePassword` `{keyId}`: deletes one client secret.
    pub async fn remove_application_password(&self, id: &str, key_id: &str) -> Result<(), Error> {
        let id = object_id("application id", id)?;
        let key_id = object_id("credential key id", key_id)?;
        let url = build_url(
            &self.graph_root(false),
            &["applications", id, "removePassword"],
            &[],
        )?;
        let call = Call::new(Operation::RemoveApplicationPassword, Method::POST, url)
            .json(json!({ "keyId": key_id }));
        self.execute(&call).await
    }

    /// `POST /applications/{id}/removeKey` `{keyId, proof}`: deletes one certificate, proving
    /// possession of another of the app's current certificates with `proof` (a JWT signed with its
    /// private key). For a certificate an attacker added, use
    /// [`Client::set_application_key_credentials`] instead: no such proof can be made.
    pub async fn remove_application_key(
        &self,
        id: &str,
        key_id: &str,
        proof: &SecretString,
    ) -> Result<(), Error> {
        let id = object_id("application id", id)?;
        let key_id = object_id("credential key id", key_id)?;
        let url = build_url(
            &self.graph_root(false),
            &["applications", id, "removeKey"],
            &[],
        )?;
        let call = Call::new(Operation::RemoveApplicationKey, Method::POST, url)
            .json(json!({ "keyId": key_id, "proof": proof.expose_secret() }));
        self.execute(&call).await
    }

    /// `PATCH /applications/{id}` `{keyCredentials}`: replaces the app's certificates with `keys`
    /// (read them with [`Client::get_application`] so each carries its `key`).
    pub async fn set_application_key_credentials(
        &self,
        id: &str,
        keys: &[KeyCredential],
    ) -> Result<(), Error> {
        let id = object_id("application id", id)?;
        let url = build_url(&self.graph_root(false), &["applications", id], &[])?;
        let call = Call::new(
            Operation::UpdateApplicationKeyCredentials,
            Method::PATCH,
            url,
        )
        .json(json!({ "keyCredentials": keys }));
        self.execute(&call).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_credential_round_trips_every_documented_property() {
        let wire = json!({"customKeyIdentifier": "qrs=", "displayName": "CN=reporting", "endDateTime": "2026-01-01T00:00:00Z",
                          "key": "TUlJQw==", "keyId": "6e7b768e-07e2-4810-8459-485f84f8f204", "startDateTime": "2025-01-01T00:00:00Z",
                          "type": "AsymmetricX509Cert", "usage": "Verify"});
        let key: KeyCredential = serde_json::from_value(wire.clone()).expect("decodes");
        assert_eq!(key.key_type.as_deref(), Some("AsymmetricX509Cert"));
        assert_eq!(serde_json::to_value(&key).expect("encodes"), wire);
        let bare: KeyCredential = serde_json::from_value(
            json!({"keyId": "6e7b768e-07e2-4810-8459-485f84f8f204", "key": null}),
        )
        .expect("decodes");
        assert_eq!(
            serde_json::to_value(&bare).expect("encodes"),
            json!({"keyId": "6e7b768e-07e2-4810-8459-485f84f8f204"}),
            "absent properties are not sent as null"
        );
    }
}
