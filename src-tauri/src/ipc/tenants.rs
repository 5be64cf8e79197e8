//! Wire types of tenant profiles, sign-in and the readiness check, converted from and into the
//! core types with `From`/`TryFrom`.
//!
//! No type here carries a secret back to the webview. The credential the admin types arrives once,
//! in [`CredentialInput`], which can be deserialised but never serialised, and goes straight to the
//! keychain.

use firebreak_core::{readiness, tenant};
use firebreak_graph::{Cloud, SecretString};
use serde::{Deserialize, Serialize};
use specta::Type;

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum TenantCloud {
    /// Worldwide (commercial, including GCC Moderate).
    Worldwide,
    /// US Government GCC High.
    UsGovGccHigh,
    /// US Government DoD.
    UsGovDod,
    /// China (21Vianet).
    China,
}

impl From<Cloud> for TenantCloud {
    fn from(cloud: Cloud) -> Self {
        match cloud {
            Cloud::Worldwide => Self::Worldwide,
            Cloud::UsGovGccHigh => Self::UsGovGccHigh,
            Cloud::UsGovDod => Self::UsGovDod,
            Cloud::China => Self::China,
        }
    }
}

impl From<TenantCloud> for Cloud {
    fn from(cloud: TenantCloud) -> Self {
        match cloud {
            TenantCloud::Worldwide => Self::Worldwide,
            TenantCloud::UsGovGccHigh => Self::UsGovGccHigh,
            TenantCloud::UsGovDod => Self::UsGovDod,
            TenantCloud::China => Self::China,
        }
    }
}

/// How Firebreak signs in to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum AuthMethod {
    /// App-only with a certificate; the private key stays in the keychain.
    Certificate,
    /// App-only with a client secret; the secret stays in the keychain.
    ClientSecret,
    /// Delegated sign-in of the break-glass admin with a device code; tokens in memory only.
    DeviceCode,
}

impl From<tenant::AuthMethod> for AuthMethod {
    fn from(method: tenant::AuthMethod) -> Self {
        match method {
            tenant::AuthMethod::Certificate => Self::Certificate,
            tenant::AuthMethod::ClientSecret => Self::ClientSecret,
            tenant::AuthMethod::DeviceCode => Self::DeviceCode,
        }
    }
}

impl From<AuthMethod> for tenant::AuthMethod {
    fn from(method: AuthMethod) -> Self {
        match method {
            AuthMethod::Certificate => Self::Certificate,
            AuthMethod::ClientSecret => Self::ClientSecret,
            AuthMethod::DeviceCode => Self::DeviceCode,
        }
    }
}

/// The public facts of a profile's app certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    /// SHA-1 thumbprint (hex), as the Entra admin center lists it.
    pub thumbprint: String,
    /// End of validity (RFC 3339), when Firebreak made the certificate.
    pub not_after: Option<String>,
}

/// A tenant profile as Settings lists it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TenantProfile {
    /// Id (`training` for the built-in training tenant).
    pub id: String,
    /// Name shown in the application.
    pub display_name: String,
    /// Tenant id (GUID) or primary domain; empty for the training tenant.
    pub tenant: String,
    /// Cloud.
    pub cloud: TenantCloud,
    /// Sign-in method.
    pub auth_method: AuthMethod,
    /// The app registration's application (client) id.
    pub client_id: String,
    /// The break-glass account.
    pub break_glass_upn: Option<String>,
    /// The admin who signs in (delegated).
    pub signed_in_admin_upn: Option<String>,
    /// The app certificate's public facts (certificate method).
    pub certificate: Option<CertificateSummary>,
    /// A simulated tenant on this computer instead of the cloud's hosts.
    pub base_url: Option<String>,
    /// The built-in training tenant: cannot be edited or deleted.
    pub built_in: bool,
    /// A delegated sign-in of this run is held in memory for this profile.
    pub signed_in: bool,
}

impl From<tenant::TenantProfile> for TenantProfile {
    fn from(p: tenant::TenantProfile) -> Self {
        Self {
            built_in: p.id.is_training(),
            id: p.id.to_string(),
            display_name: p.display_name,
            tenant: p.tenant,
            cloud: p.cloud.into(),
            auth_method: p.auth_method.into(),
            client_id: p.client_id,
            break_glass_upn: p.break_glass_upn,
            signed_in_admin_upn: p.signed_in_admin_upn,
            certificate: p.certificate.map(|c| CertificateSummary {
                thumbprint: c.thumbprint,
                not_after: c.not_after,
            }),
            base_url: p.base_url,
            signed_in: false,
        }
    }
}

/// Every profile, the training tenant first, and which one the application uses by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct TenantProfiles {
    /// The profiles.
    pub profiles: Vec<TenantProfile>,
    /// The default: the first configured profile, else the training tenant.
    pub default_id: String,
}

/// What the admin typed in the profile form (no credential: see [`CredentialInput`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDraft {
    /// Name shown in the application.
    pub display_name: String,
    /// Tenant id (GUID) or primary domain.
    pub tenant: String,
    /// Cloud.
    pub cloud: TenantCloud,
    /// Sign-in method.
    pub auth_method: AuthMethod,
    /// Application (client) id.
    pub client_id: String,
    /// Break-glass account UPN.
    pub break_glass_upn: Option<String>,
    /// Signed-in admin UPN (delegated).
    pub signed_in_admin_upn: Option<String>,
    /// A simulated tenant on this computer (`http://127.0.0.1:PORT`), for practice and tests.
    pub base_url: Option<String>,
}

fn optional(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl From<ProfileDraft> for tenant::ProfileDraft {
    /// Trims the form's fields. What the fields may hold (a base URL only on this computer, so
    /// that a stored secret never goes to another host) is the profile's own validation
    /// (`firebreak_core::tenant`), whoever asks.
    fn from(d: ProfileDraft) -> Self {
        let base_url = optional(d.base_url);
        Self {
            display_name: d.display_name,
            tenant: d.tenant.trim().to_owned(),
            cloud: d.cloud.into(),
            auth_method: d.auth_method.into(),
            client_id: d.client_id,
            break_glass_upn: optional(d.break_glass_upn),
            signed_in_admin_upn: optional(d.signed_in_admin_upn),
            base_url,
        }
    }
}

/// The credential that comes with a new or edited profile: sent once, stored in the keychain,
/// never sent back. Deliberately not `Serialize`, and its `Debug` is redacted.
#[derive(Deserialize, Type)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum CredentialInput {
    /// Keep what the keychain holds (edit), or nothing (device code).
    Keep,
    /// A client secret the admin pasted.
    #[serde(rename_all = "camelCase")]
    ClientSecret {
        /// The secret's value.
        #[specta(type = String)]
        secret: SecretString,
    },
    /// Generate a key pair and a self-signed certificate; the key goes to the keychain.
    GenerateCertificate,
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "Keep",
            Self::ClientSecret { .. } => "ClientSecret([redacted])",
            Self::GenerateCertificate => "GenerateCertificate",
        })
    }
}

impl From<CredentialInput> for tenant::CredentialInput {
    fn from(c: CredentialInput) -> Self {
        match c {
            CredentialInput::Keep => Self::Keep,
            CredentialInput::ClientSecret { secret } => Self::ClientSecret(secret),
            CredentialInput::GenerateCertificate => Self::GenerateCertificate,
        }
    }
}

/// Whether one resource issued a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTest {
    /// The resource, as the admin knows it ("Microsoft Graph", "Exchange Online").
    pub resource: String,
    /// Whether a token was issued.
    pub ok: bool,
    /// Why not, in the admin's words.
    pub error: Option<String>,
}

/// The outcome of "Test connection".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTest {
    /// The profile tested.
    pub profile_id: String,
    /// Whether every resource issued a token.
    pub ok: bool,
    /// One line per resource.
    pub resources: Vec<ResourceTest>,
}

impl From<tenant::ConnectionTest> for ConnectionTest {
    fn from(t: tenant::ConnectionTest) -> Self {
        Self {
            ok: t.ok(),
            profile_id: t.profile_id.to_string(),
            resources: t
                .resources
                .into_iter()
                .map(|r| ResourceTest {
                    resource: r.resource.name().to_owned(),
                    ok: r.ok,
                    error: r.error,
                })
                .collect(),
        }
    }
}

/// What the admin must do to finish a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodePrompt {
    /// The code to type.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// Entra's own sentence explaining both.
    pub message: String,
    /// How long the code stays valid, in seconds.
    pub expires_in_secs: u32,
}

impl From<&firebreak_graph::DeviceCodePrompt> for DeviceCodePrompt {
    fn from(p: &firebreak_graph::DeviceCodePrompt) -> Self {
        Self {
            user_code: p.user_code.clone(),
            verification_uri: p.verification_uri.clone(),
            message: p.message.clone(),
            expires_in_secs: u32::try_from(p.expires_in_secs).unwrap_or(u32::MAX),
        }
    }
}

/// A readiness finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum FindingStatus {
    /// Ready.
    Pass,
    /// Something to fix before an incident.
    Gap,
    /// Firebreak could not tell.
    CannotTell,
    /// A fact to know.
    Info,
}

impl From<readiness::Status> for FindingStatus {
    fn from(s: readiness::Status) -> Self {
        match s {
            readiness::Status::Pass => Self::Pass,
            readiness::Status::Gap => Self::Gap,
            readiness::Status::CannotTell => Self::CannotTell,
            readiness::Status::Info => Self::Info,
        }
    }
}

/// One line of the readiness checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessFinding {
    /// Stable key (`token.graph`, `permission.AuditLog.Read.All`, ...).
    pub id: String,
    /// Verdict.
    pub status: FindingStatus,
    /// One line.
    pub title: String,
    /// What was found.
    pub detail: String,
    /// How to fix it.
    pub fix: Option<String>,
    /// The permission or role to add, exactly as the portal names it.
    pub missing: Option<String>,
    /// The procedure steps this gap blocks.
    pub blocks: Vec<String>,
}

/// The readiness check's result, with its plain-text rendering for copying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    /// Profile name.
    pub profile_name: String,
    /// Tenant id or domain.
    pub tenant: String,
    /// Cloud.
    pub cloud: TenantCloud,
    /// `appOnly` or `delegated`.
    pub mode: String,
    /// When the check ran (RFC 3339).
    pub checked_at: String,
    /// The checklist.
    pub findings: Vec<ReadinessFinding>,
    /// True when there is no gap.
    pub ready: bool,
    /// The whole report as plain text, for a ticket or a printout.
    pub text: String,
}

impl From<readiness::ReadinessReport> for ReadinessReport {
    fn from(r: readiness::ReadinessReport) -> Self {
        Self {
            text: r.to_text(),
            profile_name: r.profile_name,
            tenant: r.tenant,
            cloud: r.cloud.into(),
            mode: r.mode,
            checked_at: r
                .checked_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            findings: r
                .findings
                .into_iter()
                .map(|f| ReadinessFinding {
                    id: f.id,
                    status: f.status.into(),
                    title: f.title,
                    detail: f.detail,
                    fix: f.fix,
                    missing: f.missing,
                    blocks: f.blocks,
                })
                .collect(),
            ready: r.ready,
        }
    }
}

#[cfg(test)]
mod tests {
    use firebreak_graph::ExposeSecret;

    use super::*;

    const SECRET: &str = "s3cr3t~value.that-must-not-travel";

    fn draft(base_url: Option<&str>) -> ProfileDraft {
        ProfileDraft {
            display_name: "Contoso".into(),
            tenant: " contoso.onmicrosoft.com ".into(),
            cloud: TenantCloud::UsGovGccHigh,
            auth_method: AuthMethod::ClientSecret,
            client_id: "6e7b768e-07e2-4810-8459-485f84f8f204".into(),
            break_glass_upn: Some("  ".into()),
            signed_in_admin_upn: None,
            base_url: base_url.map(str::to_owned),
        }
    }

    #[test]
    fn the_form_is_trimmed_and_blank_fields_are_absent() {
        let cleaned = tenant::ProfileDraft::from(draft(Some(" ")));
        assert_eq!(
            cleaned.base_url, None,
            "an empty field means the real cloud"
        );
        assert_eq!(
            cleaned.break_glass_upn, None,
            "blank optional fields are absent"
        );
        assert_eq!(cleaned.tenant, "contoso.onmicrosoft.com");
        assert_eq!(cleaned.cloud, Cloud::UsGovGccHigh);
    }

    #[test]
    fn a_typed_secret_arrives_once_and_its_debug_form_is_redacted() {
        let input: CredentialInput = serde_json::from_value(serde_json::json!({
            "kind": "clientSecret",
            "secret": SECRET,
        }))
        .unwrap();
        assert!(!format!("{input:?}").contains(SECRET));
        match tenant::CredentialInput::from(input) {
            tenant::CredentialInput::ClientSecret(s) => assert_eq!(s.expose_secret(), SECRET),
            other => panic!("{other:?}"),
        }
        let keep: CredentialInput =
            serde_json::from_value(serde_json::json!({"kind": "keep"})).unwrap();
        assert!(matches!(keep, CredentialInput::Keep));
    }

    /// Compiles only while `CredentialInput` is not `Serialize`: with an impl, the call below
    /// would match two traits and be ambiguous.
    #[test]
    fn the_credential_input_cannot_be_serialised() {
        trait NotSerialize<Marker> {
            fn check() {}
        }
        impl<T: ?Sized> NotSerialize<()> for T {}
        struct IfSerialize;
        impl<T: ?Sized + Serialize> NotSerialize<IfSerialize> for T {}
        <CredentialInput as NotSerialize<_>>::check();
    }

    #[test]
    fn a_profile_on_the_wire_has_no_field_that_could_hold_a_secret() {
        let mut profile = tenant::TenantProfile::training();
        profile.id = tenant::ProfileId::generate();
        profile.auth_method = tenant::AuthMethod::Certificate;
        profile.certificate = Some(tenant::CertificateInfo {
            certificate_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into(),
            thumbprint: "ab12".into(),
            not_after: None,
        });
        let json = serde_json::to_value(TenantProfile::from(profile)).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "authMethod",
                "baseUrl",
                "breakGlassUpn",
                "builtIn",
                "certificate",
                "clientId",
                "cloud",
                "displayName",
                "id",
                "signedIn",
                "signedInAdminUpn",
                "tenant"
            ],
            "a new field on the wire must be reviewed for secrets"
        );
        assert_eq!(
            json["certificate"],
            serde_json::json!({"thumbprint": "ab12", "notAfter": null}),
            "only the public facts of the certificate travel"
        );
    }
}
