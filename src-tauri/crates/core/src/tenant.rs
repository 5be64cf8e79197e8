//! Tenant profiles: which tenant to connect to, in which cloud, and how to sign in. They are kept
//! in the data folder's tenants file (`{"version":1,"profiles":[...]}`); their secrets are kept in
//! the keychain ([`crate::vault`]), never in the file.
//!
//! The built-in "Training tenant" is not stored: it is always listed first, and it is what the
//! application uses when no other profile exists. Its connection details come from the simulated
//! tenant the shell starts ([`TrainingTenant`]).
//!
//! Each public function is what one thin command calls: [`list_profiles`], [`create_profile`],
//! [`update_profile`], [`delete_profile`], [`test_profile`], plus [`connect`] for the procedures.

use std::sync::Arc;

use firebreak_graph::{
    odata::{is_guid, is_upn},
    ClientCertificate, ClientConfig, Cloud, Credentials, Endpoints, ExposeSecret, Resource,
    SecretString,
};
use serde::{Deserialize, Serialize};

use crate::{
    paths::DataRoot,
    vault::{SecretKind, Vault},
    Error,
};

/// The id of the built-in training profile.
pub const TRAINING_PROFILE_ID: &str = "training";
const FILE_VERSION: u32 = 1;
/// How long a generated certificate is valid.
pub const CERTIFICATE_VALID_DAYS: u32 = 365;

/// A profile's id: a random UUID, or [`TRAINING_PROFILE_ID`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(String);

impl ProfileId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The training profile's id.
    pub fn training() -> Self {
        Self(TRAINING_PROFILE_ID.to_owned())
    }

    /// Parses an id received from the UI; only the forms Firebreak issues are accepted.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if value == TRAINING_PROFILE_ID || is_guid(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::ProfileNotFound {
                id: value.to_owned(),
            })
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the built-in training profile.
    pub fn is_training(&self) -> bool {
        self.0 == TRAINING_PROFILE_ID
    }
}

impl std::fmt::Display for ProfileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How Firebreak signs in to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AuthMethod {
    /// App-only with a certificate (preferred): the private key is in the keychain.
    Certificate,
    /// App-only with a client secret: the secret is in the keychain.
    ClientSecret,
    /// Delegated sign-in of the break-glass admin with a device code; tokens in memory only.
    DeviceCode,
}

/// The public half of the app certificate (not a secret): what the admin uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// SHA-1 thumbprint (hex), as the Entra admin center lists it.
    pub thumbprint: String,
    /// End of validity (RFC 3339), when Firebreak made the certificate.
    #[serde(default)]
    pub not_after: Option<String>,
}

/// A tenant profile as stored (and as the Settings screen shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantProfile {
    /// Id.
    pub id: ProfileId,
    /// Name shown in the application.
    pub display_name: String,
    /// Tenant id (GUID) or primary domain.
    pub tenant: String,
    /// Cloud.
    pub cloud: Cloud,
    /// Sign-in method.
    pub auth_method: AuthMethod,
    /// The app registration's application (client) id.
    pub client_id: String,
    /// The break-glass account (never disabled or reset by Firebreak).
    #[serde(default)]
    pub break_glass_upn: Option<String>,
    /// The admin who signs in (delegated mode).
    #[serde(default)]
    pub signed_in_admin_upn: Option<String>,
    /// The app certificate's public part (certificate method).
    #[serde(default)]
    pub certificate: Option<CertificateInfo>,
    /// Everything under one base URL instead of the cloud's hosts (tests and the simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
}

impl TenantProfile {
    /// The accounts the procedure must never disable or reset on this tenant: the break-glass
    /// account and the admin who signs in (the way back in if anything goes wrong).
    pub fn protected_accounts(&self) -> Vec<String> {
        [&self.break_glass_upn, &self.signed_in_admin_upn]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// The built-in training profile.
    pub fn training() -> Self {
        Self {
            id: ProfileId::training(),
            display_name: "Training tenant".into(),
            tenant: String::new(),
            cloud: Cloud::Worldwide,
            auth_method: AuthMethod::ClientSecret,
            client_id: String::new(),
            break_glass_upn: None,
            signed_in_admin_upn: None,
            certificate: None,
            base_url: None,
        }
    }

    /// The endpoints this profile talks to.
    pub fn endpoints(&self) -> Result<Endpoints, Error> {
        match &self.base_url {
            Some(base) => Ok(Endpoints::custom(base)?),
            None => Ok(Endpoints::for_cloud(self.cloud)),
        }
    }
}

/// What the admin typed in the profile form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDraft {
    /// Name shown in the application.
    pub display_name: String,
    /// Tenant id (GUID) or primary domain.
    pub tenant: String,
    /// Cloud.
    pub cloud: Cloud,
    /// Sign-in method.
    pub auth_method: AuthMethod,
    /// Application (client) id.
    pub client_id: String,
    /// Break-glass account UPN.
    #[serde(default)]
    pub break_glass_upn: Option<String>,
    /// Signed-in admin UPN (delegated).
    #[serde(default)]
    pub signed_in_admin_upn: Option<String>,
    /// Custom base URL (tests and the simulator only).
    #[serde(default)]
    pub base_url: Option<String>,
}

/// The credential that comes with a new or edited profile. Never serialised.
pub enum CredentialInput {
    /// Keep what the keychain holds (edit only) or nothing (device code).
    Keep,
    /// A client secret to store.
    ClientSecret(SecretString),
    /// Generate a key pair and a self-signed certificate; the key goes to the keychain.
    GenerateCertificate,
    /// An existing certificate: its private key (PKCS#8 PEM) and public certificate (PEM/DER).
    ImportCertificate {
        /// The private key.
        private_key_pem: SecretString,
        /// The public certificate.
        certificate: Vec<u8>,
    },
}

impl std::fmt::Debug for CredentialInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "Keep",
            Self::ClientSecret(_) => "ClientSecret([redacted])",
            Self::GenerateCertificate => "GenerateCertificate",
            Self::ImportCertificate { .. } => "ImportCertificate([redacted])",
        })
    }
}

#[derive(Serialize, Deserialize, Default)]
struct TenantsFile {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    profiles: Vec<TenantProfile>,
}

fn load(root: &DataRoot) -> Result<TenantsFile, Error> {
    let path = root.tenants_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TenantsFile::default()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path,
        detail: e.to_string(),
    })
}

fn save(root: &DataRoot, profiles: Vec<TenantProfile>) -> Result<(), Error> {
    let path = root.tenants_file();
    let file = TenantsFile {
        version: FILE_VERSION,
        profiles,
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| Error::Corrupt {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    // Write beside, then rename: a crash never leaves a half-written tenants file.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| Error::io("write", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| Error::io("replace", &path, e))
}

/// Every profile: the training tenant first, then the configured ones in the order they were added.
pub fn list_profiles(root: &DataRoot) -> Result<Vec<TenantProfile>, Error> {
    let mut all = vec![TenantProfile::training()];
    all.extend(load(root)?.profiles);
    Ok(all)
}

/// One profile by id (the training profile included).
pub fn get_profile(root: &DataRoot, id: &ProfileId) -> Result<TenantProfile, Error> {
    list_profiles(root)?
        .into_iter()
        .find(|p| &p.id == id)
        .ok_or_else(|| Error::ProfileNotFound { id: id.to_string() })
}

/// The profile the application opens on: the first configured one, else the training tenant.
pub fn default_profile(root: &DataRoot) -> Result<TenantProfile, Error> {
    Ok(load(root)?
        .profiles
        .into_iter()
        .next()
        .unwrap_or_else(TenantProfile::training))
}

fn invalid(field: &'static str, problem: impl Into<String>) -> Error {
    Error::InvalidProfile {
        field,
        problem: problem.into(),
    }
}

fn is_domain(value: &str) -> bool {
    value.contains('.')
        && value.len() <= 253
        && value
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

fn validate(draft: &ProfileDraft) -> Result<(), Error> {
    let name = draft.display_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(
            "displayName",
            "Give the profile a name of 1 to 100 characters.",
        ));
    }
    if !(is_guid(&draft.tenant) || is_domain(&draft.tenant)) {
        return Err(invalid(
            "tenant",
            "Enter the tenant id (a GUID) or its primary domain, such as contoso.onmicrosoft.com.",
        ));
    }
    if !is_guid(&draft.client_id) {
        return Err(invalid(
            "clientId",
            "Enter the application (client) id of the app registration: a GUID from its Overview page.",
        ));
    }
    for (field, upn) in [
        ("breakGlassUpn", &draft.break_glass_upn),
        ("signedInAdminUpn", &draft.signed_in_admin_upn),
    ] {
        if let Some(u) = upn {
            if !is_upn(u) {
                return Err(invalid(
                    field,
                    format!("{u:?} is not a user principal name (name@domain)."),
                ));
            }
        }
    }
    if draft.auth_method == AuthMethod::DeviceCode && draft.signed_in_admin_upn.is_none() {
        return Err(invalid(
            "signedInAdminUpn",
            "Delegated sign-in needs the admin account that will sign in (the break-glass admin).",
        ));
    }
    if let Some(base) = &draft.base_url {
        Endpoints::custom(base).map_err(|e| invalid("baseUrl", e.to_string()))?;
        // A custom base URL is for a simulated tenant on this computer: a profile pointed
        // elsewhere would send its stored secret to that host.
        if !Endpoints::is_on_this_computer(base) {
            return Err(invalid(
                "baseUrl",
                "A simulated tenant must run on this computer: use an address such as \
                 http://127.0.0.1:8080, or leave the field empty for the real cloud.",
            ));
        }
    }
    Ok(())
}

/// Stores the credential for `profile` and returns the certificate info when one was made.
fn store_credential(
    vault: &Vault,
    profile: &TenantProfile,
    credential: CredentialInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Option<CertificateInfo>>, Error> {
    match (profile.auth_method, credential) {
        (_, CredentialInput::Keep) => Ok(None),
        (AuthMethod::ClientSecret, CredentialInput::ClientSecret(secret)) => {
            if secret.expose_secret().trim().is_empty() {
                return Err(invalid(
                    "clientSecret",
                    "Paste the client secret's value (not its id).",
                ));
            }
            vault.store(&profile.id, SecretKind::ClientSecret, &secret)?;
            vault.delete(&profile.id, SecretKind::CertificateKey)?;
            Ok(Some(None))
        }
        (AuthMethod::Certificate, CredentialInput::GenerateCertificate) => {
            let subject = format!(
                "Firebreak incident response ({})",
                profile.display_name.trim()
            );
            let cert = ClientCertificate::generate(&subject, now, CERTIFICATE_VALID_DAYS)?;
            let not_after = now + chrono::Duration::days(i64::from(CERTIFICATE_VALID_DAYS));
            store_certificate(vault, profile, &cert, Some(not_after))
        }
        (
            AuthMethod::Certificate,
            CredentialInput::ImportCertificate {
                private_key_pem,
                certificate,
            },
        ) => {
            let cert = ClientCertificate::from_parts(private_key_pem, &certificate)?;
            store_certificate(vault, profile, &cert, None)
        }
        (method, other) => Err(invalid(
            "credential",
            format!("{other:?} does not fit the sign-in method {method:?}."),
        )),
    }
}

fn store_certificate(
    vault: &Vault,
    profile: &TenantProfile,
    cert: &ClientCertificate,
    not_after: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Option<Option<CertificateInfo>>, Error> {
    vault.store(
        &profile.id,
        SecretKind::CertificateKey,
        cert.private_key_pem(),
    )?;
    vault.delete(&profile.id, SecretKind::ClientSecret)?;
    Ok(Some(Some(CertificateInfo {
        certificate_pem: cert.certificate_pem(),
        thumbprint: cert.thumbprint_sha1_hex(),
        not_after: not_after.map(|t| t.to_rfc3339()),
    })))
}

fn apply(profile: &mut TenantProfile, draft: ProfileDraft) {
    profile.display_name = draft.display_name.trim().to_owned();
    profile.tenant = draft.tenant.trim().to_owned();
    profile.cloud = draft.cloud;
    profile.auth_method = draft.auth_method;
    profile.client_id = draft.client_id.trim().to_ascii_lowercase();
    profile.break_glass_upn = draft.break_glass_upn;
    profile.signed_in_admin_upn = draft.signed_in_admin_upn;
    profile.base_url = draft.base_url;
}

/// Creates a profile: validates the form, stores the credential in the keychain (generating a
/// certificate if asked), then writes the profile (without any secret) to the tenants file.
pub fn create_profile(
    root: &DataRoot,
    vault: &Vault,
    draft: ProfileDraft,
    credential: CredentialInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TenantProfile, Error> {
    validate(&draft)?;
    let needs_secret = draft.auth_method != AuthMethod::DeviceCode;
    if needs_secret && matches!(credential, CredentialInput::Keep) {
        return Err(invalid(
            "credential",
            "Add the client secret, or create or import a certificate.",
        ));
    }
    let mut profile = TenantProfile::training();
    profile.id = ProfileId::generate();
    apply(&mut profile, draft);
    if let Some(cert) = store_credential(vault, &profile, credential, now)? {
        profile.certificate = cert;
    }
    let mut file = load(root)?;
    file.profiles.push(profile.clone());
    if let Err(e) = save(root, file.profiles) {
        // Leave no orphan secret behind a profile that was not saved.
        let _ = vault.delete_all(&profile.id);
        return Err(e);
    }
    Ok(profile)
}

/// Edits a profile; `credential` replaces the stored one unless it is [`CredentialInput::Keep`].
pub fn update_profile(
    root: &DataRoot,
    vault: &Vault,
    id: &ProfileId,
    draft: ProfileDraft,
    credential: CredentialInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TenantProfile, Error> {
    if id.is_training() {
        return Err(invalid("id", "The training tenant cannot be edited."));
    }
    validate(&draft)?;
    let mut file = load(root)?;
    let slot = file
        .profiles
        .iter_mut()
        .find(|p| &p.id == id)
        .ok_or_else(|| Error::ProfileNotFound { id: id.to_string() })?;
    let method_changed = slot.auth_method != draft.auth_method;
    apply(slot, draft);
    if method_changed
        && slot.auth_method != AuthMethod::DeviceCode
        && matches!(credential, CredentialInput::Keep)
    {
        return Err(invalid(
            "credential",
            "The sign-in method changed: add the new credential.",
        ));
    }
    if let Some(cert) = store_credential(vault, slot, credential, now)? {
        slot.certificate = cert;
    }
    if slot.auth_method == AuthMethod::DeviceCode {
        vault.delete_all(&slot.id)?;
        slot.certificate = None;
    }
    let updated = slot.clone();
    save(root, file.profiles)?;
    Ok(updated)
}

/// Deletes a profile and its secrets.
pub fn delete_profile(root: &DataRoot, vault: &Vault, id: &ProfileId) -> Result<(), Error> {
    if id.is_training() {
        return Err(invalid(
            "id",
            "The training tenant is built in and cannot be deleted.",
        ));
    }
    let mut file = load(root)?;
    let before = file.profiles.len();
    file.profiles.retain(|p| &p.id != id);
    if file.profiles.len() == before {
        return Err(Error::ProfileNotFound { id: id.to_string() });
    }
    save(root, file.profiles)?;
    vault.delete_all(id)
}

/// The public certificate of a profile as DER, for the `.cer` file the admin uploads.
pub fn certificate_der(root: &DataRoot, id: &ProfileId) -> Result<Vec<u8>, Error> {
    let profile = get_profile(root, id)?;
    let info = profile.certificate.ok_or_else(|| {
        invalid(
            "certificate",
            "This profile has no certificate. Create one first.",
        )
    })?;
    let cert = firebreak_graph::auth::pem_to_der(&info.certificate_pem, "CERTIFICATE")?;
    Ok(cert)
}

/// Writes the public certificate of a profile as a `.cer` file (DER) into the data folder's
/// `certificates/` and returns its path. The file is named after the profile id, never after
/// anything the admin or the tenant typed.
pub fn export_certificate(root: &DataRoot, id: &ProfileId) -> Result<std::path::PathBuf, Error> {
    let der = certificate_der(root, id)?;
    let dir = root.certificates_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let path = dir.join(format!("firebreak-{}.cer", id.as_str()));
    std::fs::write(&path, der).map_err(|e| Error::io("write", &path, e))?;
    Ok(path)
}

/// What the shell knows about the simulated tenant it started for training.
pub struct TrainingTenant {
    /// The simulator's base URL.
    pub base_url: String,
    /// Its tenant id.
    pub tenant_id: String,
    /// The scenario's incident-response app id.
    pub client_id: String,
    /// The scenario's client secret (training data, still handled as a secret).
    pub client_secret: SecretString,
    /// The scenario's break-glass account, if it has one.
    pub break_glass_upn: Option<String>,
}

impl TrainingTenant {
    /// The training profile filled in with this simulated tenant's details.
    pub fn profile(&self) -> TenantProfile {
        TenantProfile {
            tenant: self.tenant_id.clone(),
            client_id: self.client_id.clone(),
            break_glass_upn: self.break_glass_upn.clone(),
            base_url: Some(self.base_url.clone()),
            ..TenantProfile::training()
        }
    }
}

/// How [`connect`] signs in.
pub enum SignIn<'a> {
    /// With the credential stored in the keychain for the profile.
    Stored(&'a Vault),
    /// With a finished device-code sign-in (delegated profiles).
    Delegated(Credentials),
    /// The training tenant.
    Training(&'a TrainingTenant),
    /// A client already signed in during this run (a delegated session the shell keeps in memory).
    Connected(firebreak_graph::Client),
}

/// Builds the Graph/Exchange client for `profile`.
pub fn connect(
    profile: &TenantProfile,
    sign_in: SignIn<'_>,
    clock: Arc<dyn firebreak_graph::Clock>,
) -> Result<firebreak_graph::Client, Error> {
    let (endpoints, tenant, credentials) = match sign_in {
        SignIn::Connected(client) => return Ok(client),
        SignIn::Training(t) => (
            Endpoints::custom(&t.base_url)?,
            t.tenant_id.clone(),
            Credentials::ClientSecret {
                client_id: t.client_id.clone(),
                secret: t.client_secret.clone(),
            },
        ),
        SignIn::Delegated(credentials) => {
            (profile.endpoints()?, profile.tenant.clone(), credentials)
        }
        SignIn::Stored(vault) => {
            let missing = |what: &str| {
                invalid("credential", format!("The keychain has no {what} for this profile. Edit the profile and add it again."))
            };
            let credentials = match profile.auth_method {
                AuthMethod::ClientSecret => Credentials::ClientSecret {
                    client_id: profile.client_id.clone(),
                    secret: vault
                        .read(&profile.id, SecretKind::ClientSecret)?
                        .ok_or_else(|| missing("client secret"))?,
                },
                AuthMethod::Certificate => {
                    let key = vault
                        .read(&profile.id, SecretKind::CertificateKey)?
                        .ok_or_else(|| missing("certificate key"))?;
                    let info = profile
                        .certificate
                        .as_ref()
                        .ok_or_else(|| missing("certificate"))?;
                    Credentials::Certificate {
                        client_id: profile.client_id.clone(),
                        certificate: ClientCertificate::from_parts(
                            key,
                            info.certificate_pem.as_bytes(),
                        )?,
                    }
                }
                AuthMethod::DeviceCode => {
                    return Err(invalid("authMethod", "Sign in with the device code first."));
                }
            };
            (profile.endpoints()?, profile.tenant.clone(), credentials)
        }
    };
    let mut config = ClientConfig::new(endpoints, tenant);
    config.clock = clock;
    config.admin_upn = profile.signed_in_admin_upn.clone();
    Ok(firebreak_graph::Client::new(config, credentials)?)
}

/// The outcome of testing one resource's sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceTest {
    /// Which resource.
    pub resource: Resource,
    /// Whether a token was issued.
    pub ok: bool,
    /// The error, in the admin's words, when not.
    pub error: Option<String>,
}

/// The outcome of [`test_profile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionTest {
    /// The profile tested.
    pub profile_id: ProfileId,
    /// One entry per resource.
    pub resources: Vec<ResourceTest>,
}

impl ConnectionTest {
    /// Whether every resource issued a token.
    pub fn ok(&self) -> bool {
        self.resources.iter().all(|r| r.ok)
    }
}

/// The profile `id` as it will be used with `sign_in`: the training profile takes the running
/// simulated tenant's details.
pub fn resolve_profile(
    root: &DataRoot,
    id: &ProfileId,
    sign_in: &SignIn<'_>,
) -> Result<TenantProfile, Error> {
    match (id.is_training(), sign_in) {
        (true, SignIn::Training(t)) => Ok(t.profile()),
        (true, _) => Err(invalid(
            "id",
            "The training tenant is not running; start it from the home screen.",
        )),
        (false, _) => get_profile(root, id),
    }
}

/// What the profile's "Test" button does: connects with `sign_in` and asks Entra for a Graph
/// token and an Exchange token. Failures to obtain a token are part of the result, not errors.
pub async fn test_profile(
    root: &DataRoot,
    id: &ProfileId,
    sign_in: SignIn<'_>,
    clock: Arc<dyn firebreak_graph::Clock>,
) -> Result<ConnectionTest, Error> {
    let profile = resolve_profile(root, id, &sign_in)?;
    let client = connect(&profile, sign_in, clock)?;
    Ok(test_connection(&profile, &client).await)
}

/// Starts the delegated device-code sign-in for a device-code profile; show
/// [`firebreak_graph::DeviceCodeSignIn::prompt`], then await `wait` and keep the credentials in
/// memory for [`SignIn::Delegated`].
pub async fn start_device_sign_in(
    root: &DataRoot,
    id: &ProfileId,
    clock: Arc<dyn firebreak_graph::Clock>,
) -> Result<firebreak_graph::DeviceCodeSignIn, Error> {
    let profile = get_profile(root, id)?;
    if profile.auth_method != AuthMethod::DeviceCode {
        return Err(invalid(
            "authMethod",
            "This profile signs in as the app, not with a device code.",
        ));
    }
    Ok(firebreak_graph::DeviceCodeSignIn::start(
        &profile.endpoints()?,
        &profile.tenant,
        &profile.client_id,
        clock,
    )
    .await?)
}

/// Asks Entra for a token per resource with an existing client.
pub async fn test_connection(
    profile: &TenantProfile,
    client: &firebreak_graph::Client,
) -> ConnectionTest {
    let mut resources = Vec::new();
    for resource in Resource::ALL {
        let result = client.token_claims(resource).await;
        resources.push(ResourceTest {
            resource,
            ok: result.is_ok(),
            error: result.err().map(|e| e.to_string()),
        });
    }
    ConnectionTest {
        profile_id: profile.id.clone(),
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> ProfileDraft {
        ProfileDraft {
            display_name: "Contoso".into(),
            tenant: "contoso.onmicrosoft.com".into(),
            cloud: Cloud::Worldwide,
            auth_method: AuthMethod::ClientSecret,
            client_id: "6E7B768E-07E2-4810-8459-485F84F8F204".into(),
            break_glass_upn: Some("breakglass@contoso.onmicrosoft.com".into()),
            signed_in_admin_upn: None,
            base_url: None,
        }
    }

    #[test]
    fn the_training_profile_is_always_listed_first() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let all = list_profiles(&root).expect("list");
        assert_eq!(all.len(), 1);
        assert!(all[0].id.is_training());
        assert!(default_profile(&root).expect("default").id.is_training());
    }

    #[test]
    fn form_validation_names_the_field_and_the_fix() {
        let mut d = draft();
        d.tenant = "not a tenant".into();
        assert!(matches!(
            validate(&d),
            Err(Error::InvalidProfile {
                field: "tenant",
                ..
            })
        ));
        let mut d = draft();
        d.client_id = "x".into();
        assert!(matches!(
            validate(&d),
            Err(Error::InvalidProfile {
                field: "clientId",
                ..
            })
        ));
        let mut d = draft();
        d.break_glass_upn = Some("no-at-sign".into());
        assert!(matches!(
            validate(&d),
            Err(Error::InvalidProfile {
                field: "breakGlassUpn",
                ..
            })
        ));
        let mut d = draft();
        d.auth_method = AuthMethod::DeviceCode;
        assert!(matches!(
            validate(&d),
            Err(Error::InvalidProfile {
                field: "signedInAdminUpn",
                ..
            })
        ));
        assert!(validate(&draft()).is_ok());
    }

    #[test]
    fn a_profile_may_point_only_at_a_simulated_tenant_on_this_computer() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            let d = ProfileDraft {
                base_url: Some(ok.into()),
                ..draft()
            };
            assert!(validate(&d).is_ok(), "{ok}");
        }
        for refused in [
            "https://attacker.example",
            "http://10.0.0.1:80",
            "http://127.0.0.1.attacker.example",
            "file:///etc/passwd",
            "127.0.0.1:80",
        ] {
            let d = ProfileDraft {
                base_url: Some(refused.into()),
                ..draft()
            };
            assert!(
                matches!(
                    validate(&d),
                    Err(Error::InvalidProfile {
                        field: "baseUrl",
                        ..
                    })
                ),
                "{refused}"
            );
        }
    }

    #[test]
    fn profile_ids_from_the_ui_must_be_ours() {
        assert!(ProfileId::parse("training").is_ok());
        assert!(ProfileId::parse(ProfileId::generate().as_str()).is_ok());
        assert!(ProfileId::parse("../../etc").is_err());
    }

    #[test]
    fn the_exported_certificate_is_the_public_der_named_after_the_profile_id() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let cert = ClientCertificate::generate("Firebreak test", chrono::Utc::now(), 30)
            .expect("certificate");
        let mut profile = TenantProfile::training();
        profile.id = ProfileId::generate();
        profile.display_name = "../../evil <name>".into();
        profile.auth_method = AuthMethod::Certificate;
        profile.certificate = Some(CertificateInfo {
            certificate_pem: cert.certificate_pem(),
            thumbprint: cert.thumbprint_sha1_hex(),
            not_after: None,
        });
        save(&root, vec![profile.clone()]).expect("save");
        let path = export_certificate(&root, &profile.id).expect("export");
        assert_eq!(
            path,
            root.certificates_dir()
                .join(format!("firebreak-{}.cer", profile.id)),
            "the file name comes from the id, never from the display name"
        );
        assert_eq!(std::fs::read(&path).expect("read"), cert.certificate_der());
        assert!(
            export_certificate(&root, &ProfileId::training()).is_err(),
            "the training profile has no certificate to export"
        );
    }

    #[test]
    fn device_code_profiles_need_no_secret_and_store_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let mut d = draft();
        d.auth_method = AuthMethod::DeviceCode;
        d.signed_in_admin_upn = Some("admin@contoso.onmicrosoft.com".into());
        // No keychain is touched for a device-code profile with no credential.
        let vault = Vault::with_service("firebreak-unit-test-unused");
        let p = create_profile(&root, &vault, d, CredentialInput::Keep, chrono::Utc::now())
            .expect("create");
        assert_eq!(
            p.client_id, "6e7b768e-07e2-4810-8459-485f84f8f204",
            "client ids are normalised"
        );
        let text = std::fs::read_to_string(root.tenants_file()).expect("file");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            v["profiles"].as_array().map(Vec::len),
            Some(1),
            "the top-level key stays `profiles`"
        );
    }
}
