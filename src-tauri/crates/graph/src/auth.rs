//! Signing in to Entra and keeping access tokens: app-only with a client secret or a certificate
//! (client assertion JWT, PS256), delegated with the device-code flow, one token per resource
//! (Graph and Exchange need different audiences), refreshed before expiry and on a 401.
//!
//! The `oauth2` crate does the token requests and the device-code polling; this module adds only
//! what it lacks: the signed client assertion, the certificate generation, Entra's device-code
//! `message`, and the cache. Secrets stay in [`SecretString`]s from the keychain to the wire;
//! nothing here is `Serialize` and every `Debug` is redacted.

use std::{sync::Arc, time::Duration};

use aws_lc_rs::{
    digest,
    rand::SystemRandom,
    signature::{RsaKeyPair, RSA_PSS_SHA256},
};
use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Datelike, Utc};
use oauth2::{
    basic::BasicClient, AuthType, ClientId, ClientSecret, DeviceAuthorizationResponse,
    DeviceAuthorizationUrl, DeviceCodeErrorResponseType, ExtraDeviceAuthorizationFields,
    RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    cloud::Endpoints,
    error::DeviceCodeFailure,
    permissions::{Operation, Resource},
    Error,
};

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Lifetime of a client assertion (spec/graph/endpoints.md §5: keep it 5-10 minutes).
const ASSERTION_LIFETIME: i64 = 600;

/// How the client proves who it is.
pub enum Credentials {
    /// App-only with a client secret.
    ClientSecret {
        /// The app registration's application (client) id.
        client_id: String,
        /// The secret, from the keychain.
        secret: SecretString,
    },
    /// App-only with a certificate (preferred).
    Certificate {
        /// The app registration's application (client) id.
        client_id: String,
        /// The certificate and its private key.
        certificate: ClientCertificate,
    },
    /// Delegated: a signed-in admin, from [`DeviceCodeSignIn::wait`]. Tokens live in memory only.
    Delegated(DelegatedSession),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientSecret { client_id, .. } => f
                .debug_struct("ClientSecret")
                .field("client_id", client_id)
                .field("secret", &"[redacted]")
                .finish(),
            Self::Certificate {
                client_id,
                certificate,
            } => f
                .debug_struct("Certificate")
                .field("client_id", client_id)
                .field("certificate", certificate)
                .finish(),
            Self::Delegated(s) => f.debug_tuple("Delegated").field(s).finish(),
        }
    }
}

impl Credentials {
    /// The application (client) id these credentials belong to.
    pub fn client_id(&self) -> &str {
        match self {
            Self::ClientSecret { client_id, .. } | Self::Certificate { client_id, .. } => client_id,
            Self::Delegated(s) => &s.client_id,
        }
    }

    /// Whether tokens act for a signed-in user (delegated) rather than the app.
    pub fn is_delegated(&self) -> bool {
        matches!(self, Self::Delegated(_))
    }
}

/// An app certificate: the public certificate (DER) and its RSA private key (PKCS#8 PEM).
pub struct ClientCertificate {
    private_key_pem: SecretString,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint_sha1", &self.thumbprint_sha1_hex())
            .field("private_key_pem", &"[redacted]")
            .finish()
    }
}

impl ClientCertificate {
    /// Generates an RSA 2048 key pair and a self-signed certificate valid from `now` for
    /// `valid_days`, with `subject` as its common name.
    pub fn generate(subject: &str, now: DateTime<Utc>, valid_days: u32) -> Result<Self, Error> {
        let cert_err = |e: rcgen::Error| Error::Certificate {
            detail: e.to_string(),
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(cert_err)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, subject.to_owned());
        let end = now + chrono::Duration::days(i64::from(valid_days));
        let (y, m, d) = ymd(now)?;
        params.not_before = rcgen::date_time_ymd(y, m, d);
        let (y, m, d) = ymd(end)?;
        params.not_after = rcgen::date_time_ymd(y, m, d);
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| Error::Certificate {
            detail: "the system random generator failed".into(),
        })?;
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let cert = params.self_signed(&key).map_err(cert_err)?;
        Ok(Self {
            private_key_pem: SecretString::from(key.serialize_pem()),
            certificate_der: cert.der().to_vec(),
        })
    }

    /// Rebuilds a certificate from its stored parts: the private key PEM (from the keychain) and
    /// the public certificate (PEM or DER).
    pub fn from_parts(private_key_pem: SecretString, certificate: &[u8]) -> Result<Self, Error> {
        let certificate_der = if certificate.starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(certificate).map_err(|_| Error::Certificate {
                detail: "the certificate PEM is not text".into(),
            })?;
            pem_body(text, "CERTIFICATE")?
        } else {
            certificate.to_vec()
        };
        let this = Self {
            private_key_pem,
            certificate_der,
        };
        // Fail now, not at the first sign-in, if the key is unusable.
        this.key_pair()?;
        Ok(this)
    }

    /// The private key, PKCS#8 PEM, for the keychain.
    pub fn private_key_pem(&self) -> &SecretString {
        &self.private_key_pem
    }

    /// The public certificate, DER (the `.cer` file to upload to the app registration).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The public certificate, PEM.
    pub fn certificate_pem(&self) -> String {
        let b64 = STANDARD.encode(&self.certificate_der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// The SHA-1 thumbprint in hex, as the Entra admin center shows it.
    pub fn thumbprint_sha1_hex(&self) -> String {
        let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.certificate_der);
        d.as_ref().iter().map(|b| format!("{b:02X}")).collect()
    }

    /// The SHA-256 thumbprint, base64url (the assertion's `x5t#S256`).
    pub fn thumbprint_sha256_b64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, &self.certificate_der))
    }

    fn key_pair(&self) -> Result<RsaKeyPair, Error> {
        let der = pem_body(self.private_key_pem.expose_secret(), "PRIVATE KEY")?;
        RsaKeyPair::from_pkcs8(&der).map_err(|_| Error::Certificate {
            detail: "the private key is not an RSA PKCS#8 key".into(),
        })
    }

    /// Builds the signed client assertion for `client_id` at `audience` (the token URL).
    pub fn client_assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: DateTime<Utc>,
    ) -> Result<SecretString, Error> {
        #[derive(Serialize)]
        struct Header<'a> {
            alg: &'a str,
            typ: &'a str,
            #[serde(rename = "x5t#S256")]
            x5t_s256: String,
        }
        #[derive(Serialize)]
        struct Claims<'a> {
            aud: &'a str,
            iss: &'a str,
            sub: &'a str,
            jti: String,
            nbf: i64,
            iat: i64,
            exp: i64,
        }
        let header = Header {
            alg: "PS256",
            typ: "JWT",
            x5t_s256: self.thumbprint_sha256_b64url(),
        };
        let t = now.timestamp();
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: t,
            iat: t,
            exp: t + ASSERTION_LIFETIME,
        };
        let encode = |v: &dyn erased::Json| URL_SAFE_NO_PAD.encode(v.to_json());
        let signing_input = format!("{}.{}", encode(&header), encode(&claims));
        let key = self.key_pair()?;
        let mut signature = vec![0u8; key.public_modulus_len()];
        key.sign(
            &RSA_PSS_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| Error::Certificate {
            detail: "signing the client assertion failed".into(),
        })?;
        Ok(SecretString::from(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// Serialising the two small JWT parts without naming their types.
mod erased {
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            // Serialising a struct of strings and integers cannot fail.
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

fn ymd(t: DateTime<Utc>) -> Result<(i32, u8, u8), Error> {
    let month = u8::try_from(t.month()).map_err(|_| Error::Certificate {
        detail: "bad month".into(),
    })?;
    let day = u8::try_from(t.day()).map_err(|_| Error::Certificate {
        detail: "bad day".into(),
    })?;
    Ok((t.year(), month, day))
}

/// Decodes the base64 body of the PEM block labelled `label` (e.g. `CERTIFICATE`).
pub fn pem_to_der(text: &str, label: &str) -> Result<Vec<u8>, Error> {
    pem_body(text, label)
}

fn pem_body(text: &str, label: &str) -> Result<Vec<u8>, Error> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or_else(|| Error::Certificate {
        detail: format!("no {label} block in the PEM text"),
    })? + begin.len();
    let stop = text[start..].find(&end).ok_or_else(|| Error::Certificate {
        detail: format!("the {label} block is not terminated"),
    })? + start;
    let b64: String = text[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).map_err(|_| Error::Certificate {
        detail: format!("the {label} block is not valid base64"),
    })
}

/// A delegated sign-in's tokens, kept in memory only.
pub struct DelegatedSession {
    client_id: String,
    refresh_token: std::sync::Mutex<Option<SecretString>>,
    first: std::sync::Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for DelegatedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatedSession")
            .field("client_id", &self.client_id)
            .field("tokens", &"[redacted]")
            .finish()
    }
}

#[derive(Clone)]
struct CachedToken {
    access: SecretString,
    expires_at: DateTime<Utc>,
}

/// What the admin must do to finish a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceCodePrompt {
    /// The code to type (shown with a copy button).
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// Entra's own sentence explaining both.
    pub message: String,
    /// How long the code stays valid, in seconds.
    pub expires_in_secs: u64,
    /// The polling interval Entra asked for, in seconds.
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EntraDeviceFields {
    #[serde(default)]
    message: Option<String>,
}
impl ExtraDeviceAuthorizationFields for EntraDeviceFields {}

/// A device-code sign-in in progress.
pub struct DeviceCodeSignIn {
    http: reqwest::Client,
    endpoints: Endpoints,
    tenant: String,
    client_id: String,
    clock: Arc<dyn Clock>,
    details: DeviceAuthorizationResponse<EntraDeviceFields>,
    prompt: DeviceCodePrompt,
}

impl std::fmt::Debug for DeviceCodeSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeSignIn")
            .field("prompt", &self.prompt)
            .finish()
    }
}

impl DeviceCodeSignIn {
    /// Asks Entra for a device code for `client_id` (a public client with delegated Graph
    /// permissions), for a Graph token plus a refresh token.
    pub async fn start(
        endpoints: &Endpoints,
        tenant: &str,
        client_id: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let http = token_http()?;
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_device_authorization_url(device_url(endpoints, tenant)?);
        let details: DeviceAuthorizationResponse<EntraDeviceFields> = client
            .exchange_device_code()
            .add_scope(Scope::new(endpoints.scope(Resource::Graph)))
            .add_scope(Scope::new("offline_access".into()))
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("profile".into()))
            .request_async(&http)
            .await
            .map_err(|e| token_error(Resource::Graph, e))?;
        let prompt = DeviceCodePrompt {
            user_code: details.user_code().secret().clone(),
            verification_uri: details.verification_uri().to_string(),
            message: details.extra_fields().message.clone().unwrap_or_else(|| {
                format!(
                    "To sign in, open {} and enter the code {}.",
                    details.verification_uri().as_str(),
                    details.user_code().secret()
                )
            }),
            expires_in_secs: details.expires_in().as_secs(),
            interval_secs: details.interval().as_secs(),
        };
        Ok(Self {
            http,
            endpoints: endpoints.clone(),
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            clock,
            details,
            prompt,
        })
    }

    /// What to show the admin.
    pub fn prompt(&self) -> &DeviceCodePrompt {
        &self.prompt
    }

    /// Polls until the admin signs in (honouring the interval, `authorization_pending` and
    /// `slow_down`), the code expires, the sign-in is declined, or `cancel` fires.
    pub async fn wait(self, cancel: &CancellationToken) -> Result<Credentials, Error> {
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url(&self.endpoints, &self.tenant)?);
        let clock = self.clock.clone();
        let time_clock = self.clock.clone();
        let poll = client
            .exchange_device_access_token(&self.details)
            .set_time_fn(move || time_clock.now())
            .request_async(&self.http, move |d| clock.sleep(d), None);
        let response = tokio::select! {
            r = poll => r,
            () = cancel.cancelled() => return Err(Error::Cancelled),
        };
        let token = response.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => Error::DeviceCode(match r.error() {
                DeviceCodeErrorResponseType::AccessDenied => DeviceCodeFailure::Declined,
                DeviceCodeErrorResponseType::ExpiredToken => DeviceCodeFailure::Expired,
                other => match other.as_ref() {
                    "authorization_declined" => DeviceCodeFailure::Declined,
                    "bad_verification_code" => DeviceCodeFailure::BadCode,
                    code => DeviceCodeFailure::Other {
                        error: code.to_owned(),
                        description: r.error_description().cloned().unwrap_or_default(),
                    },
                },
            }),
            other => token_error(Resource::Graph, other),
        })?;
        let now = self.clock.now();
        let first = CachedToken {
            access: SecretString::from(token.access_token().secret().clone()),
            expires_at: now + expires_in(&token),
        };
        Ok(Credentials::Delegated(DelegatedSession {
            client_id: self.client_id,
            refresh_token: std::sync::Mutex::new(
                token
                    .refresh_token()
                    .map(|r| SecretString::from(r.secret().clone())),
            ),
            first: std::sync::Mutex::new(Some(first)),
        }))
    }
}

fn expires_in(token: &oauth2::basic::BasicTokenResponse) -> chrono::Duration {
    let secs = token.expires_in().map_or(3600, |d| d.as_secs());
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(3600))
}

fn token_http() -> Result<reqwest::Client, Error> {
    // oauth2 requires that the token client does not follow redirects (SSRF protection).
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| Error::Config {
            detail: format!("the HTTP client could not start: {e}"),
        })
}

fn token_url(endpoints: &Endpoints, tenant: &str) -> Result<TokenUrl, Error> {
    TokenUrl::new(endpoints.token_url(tenant)).map_err(|_| Error::Config {
        detail: "the token URL is not valid".into(),
    })
}

fn device_url(endpoints: &Endpoints, tenant: &str) -> Result<DeviceAuthorizationUrl, Error> {
    DeviceAuthorizationUrl::new(endpoints.device_code_url(tenant)).map_err(|_| Error::Config {
        detail: "the device-code URL is not valid".into(),
    })
}

fn token_error<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
    resource: Resource,
    e: RequestTokenError<RE, T>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(r) => {
            // Serialise the standard error response to read its fields without naming the type.
            let v = serde_json::to_value(&r).unwrap_or_default();
            Error::Token {
                resource,
                error: v
                    .get("error")
                    .and_then(|x| x.as_str())
                    .unwrap_or("error")
                    .to_owned(),
                description: v
                    .get("error_description")
                    .and_then(|x| x.as_str())
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        RequestTokenError::Request(e) => Error::Transport {
            operation: Operation::AcquireToken,
            detail: e.to_string(),
        },
        // The body of a token response is withheld on purpose: it may hold a token.
        RequestTokenError::Parse(e, _body) => Error::Decode {
            operation: Operation::AcquireToken,
            detail: e.to_string(),
            raw: "(token endpoint response withheld: it may contain a token)".into(),
        },
        RequestTokenError::Other(s) => Error::Transport {
            operation: Operation::AcquireToken,
            detail: s,
        },
    }
}

/// Gets, caches and refreshes access tokens, one per resource.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    endpoints: Endpoints,
    tenant: String,
    credentials: Credentials,
    clock: Arc<dyn Clock>,
    graph: tokio::sync::Mutex<Option<CachedToken>>,
    exchange: tokio::sync::Mutex<Option<CachedToken>>,
}

impl TokenSource {
    pub(crate) fn new(
        endpoints: Endpoints,
        tenant: String,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let first = match &credentials {
            Credentials::Delegated(s) => s.first.lock().map(|mut f| f.take()).unwrap_or(None),
            _ => None,
        };
        Ok(Self {
            http: token_http()?,
            endpoints,
            tenant,
            credentials,
            clock,
            graph: tokio::sync::Mutex::new(first),
            exchange: tokio::sync::Mutex::new(None),
        })
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    fn slot(&self, resource: Resource) -> &tokio::sync::Mutex<Option<CachedToken>> {
        match resource {
            Resource::Graph => &self.graph,
            Resource::Exchange => &self.exchange,
        }
    }

    /// A valid access token for `resource`, from the cache or freshly requested.
    pub(crate) async fn token(&self, resource: Resource) -> Result<SecretString, Error> {
        let mut slot = self.slot(resource).lock().await;
        let now = self.clock.now();
        if let Some(t) = slot.as_ref() {
            let margin = chrono::Duration::from_std(REFRESH_MARGIN).unwrap_or_default();
            if t.expires_at - margin > now {
                return Ok(t.access.clone());
            }
        }
        let fresh = self.acquire(resource).await?;
        let access = fresh.access.clone();
        *slot = Some(fresh);
        Ok(access)
    }

    /// Drops the cached token for `resource` if it is still `failed` (a 401 answered it).
    pub(crate) async fn invalidate(&self, resource: Resource, failed: &SecretString) {
        let mut slot = self.slot(resource).lock().await;
        if slot
            .as_ref()
            .is_some_and(|t| t.access.expose_secret() == failed.expose_secret())
        {
            *slot = None;
        }
    }

    async fn acquire(&self, resource: Resource) -> Result<CachedToken, Error> {
        let scope = Scope::new(self.endpoints.scope(resource));
        let token_url = token_url(&self.endpoints, &self.tenant)?;
        let now = self.clock.now();
        let response = match &self.credentials {
            Credentials::ClientSecret { client_id, secret } => {
                BasicClient::new(ClientId::new(client_id.clone()))
                    .set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
                    .set_auth_type(AuthType::RequestBody)
                    .set_token_uri(token_url)
                    .exchange_client_credentials()
                    .add_scope(scope)
                    .request_async(&self.http)
                    .await
            }
            Credentials::Certificate {
                client_id,
                certificate,
            } => {
                let audience = self.endpoints.token_url(&self.tenant);
                let assertion = certificate.client_assertion(client_id, &audience, now)?;
                BasicClient::new(ClientId::new(client_id.clone()))
                    .set_auth_type(AuthType::RequestBody)
                    .set_token_uri(token_url)
                    .exchange_client_credentials()
                    .add_scope(scope)
                    .add_extra_param(
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    )
                    .add_extra_param("client_assertion", assertion.expose_secret().to_owned())
                    .request_async(&self.http)
                    .await
            }
            Credentials::Delegated(session) => {
                let refresh = session
                    .refresh_token
                    .lock()
                    .ok()
                    .and_then(|r| r.clone())
                    .ok_or_else(|| Error::Token {
                        resource,
                        error: "interaction_required".into(),
                        description: "the delegated sign-in has no refresh token (offline_access was not granted); sign in again".into(),
                    })?;
                let refresh = RefreshToken::new(refresh.expose_secret().to_owned());
                let response = BasicClient::new(ClientId::new(session.client_id.clone()))
                    .set_auth_type(AuthType::RequestBody)
                    .set_token_uri(token_url)
                    .exchange_refresh_token(&refresh)
                    .add_scope(scope)
                    .request_async(&self.http)
                    .await;
                if let Ok(t) = &response {
                    if let (Some(new), Ok(mut slot)) =
                        (t.refresh_token(), session.refresh_token.lock())
                    {
                        *slot = Some(SecretString::from(new.secret().clone()));
                    }
                }
                response
            }
        };
        let token = response.map_err(|e| token_error(resource, e))?;
        Ok(CachedToken {
            access: SecretString::from(token.access_token().secret().clone()),
            expires_at: now + expires_in(&token),
        })
    }
}

/// The claims of an access token that the readiness check reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenClaims {
    /// The audience (which resource the token is for).
    #[serde(default)]
    pub aud: Option<String>,
    /// The tenant id.
    #[serde(default)]
    pub tid: Option<String>,
    /// The application (client) id.
    #[serde(default)]
    pub appid: Option<String>,
    /// Application permissions (app-only tokens).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Delegated scopes, space-separated (delegated tokens).
    #[serde(default)]
    pub scp: Option<String>,
    /// The signed-in user's UPN (delegated tokens).
    #[serde(default)]
    pub upn: Option<String>,
    /// Entra role template ids of the signed-in user (delegated tokens).
    #[serde(default)]
    pub wids: Vec<String>,
    /// Expiry, unix seconds.
    #[serde(default)]
    pub exp: Option<i64>,
}

impl TokenClaims {
    /// The delegated scopes as a list.
    pub fn scopes(&self) -> Vec<String> {
        self.scp
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

/// Reads a JWT's payload without verifying its signature (the service verifies; we only look at
/// what was granted).
pub fn decode_claims(token: &str) -> Result<TokenClaims, Error> {
    let bad = |detail: &str| Error::Decode {
        operation: Operation::AcquireToken,
        detail: detail.to_owned(),
        raw: "(token withheld)".into(),
    };
    let mut parts = token.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(p), Some(_), None) => p,
        _ => return Err(bad("the access token is not a JWT")),
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("the token payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| bad("the token payload is not the expected JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PSS_2048_8192_SHA256};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T10:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_generated_certificate_round_trips_through_its_stored_parts() {
        let cert = ClientCertificate::generate("Firebreak test", now(), 365).expect("generate");
        assert!(cert
            .private_key_pem()
            .expose_secret()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(cert.thumbprint_sha1_hex().len(), 40);
        let again = ClientCertificate::from_parts(
            cert.private_key_pem().clone(),
            cert.certificate_pem().as_bytes(),
        )
        .expect("from parts");
        assert_eq!(again.certificate_der(), cert.certificate_der());
        assert!(ClientCertificate::from_parts(
            SecretString::from("junk".to_owned()),
            cert.certificate_der()
        )
        .is_err());
    }

    #[test]
    fn the_client_assertion_is_a_ps256_jwt_with_the_documented_claims() {
        let cert = ClientCertificate::generate("Firebreak test", now(), 30).expect("generate");
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cert
            .client_assertion("client-1", aud, now())
            .expect("assertion");
        let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], cert.thumbprint_sha256_b64url());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["aud"], aud);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["exp"].as_i64(), Some(now().timestamp() + 600));
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 36));
        // The signature verifies with the certificate's public key.
        let key = rcgen::KeyPair::from_pem(cert.private_key_pem().expose_secret()).expect("key");
        let spki_pub = key.public_key_raw().to_vec();
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).expect("sig");
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, &spki_pub)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("signature verifies");
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let creds = Credentials::ClientSecret {
            client_id: "app".into(),
            secret: SecretString::from("hunter2-very-secret".to_owned()),
        };
        let text = format!("{creds:?}");
        assert!(!text.contains("hunter2"), "{text}");
        let cert = ClientCertificate::generate("x", now(), 1).expect("generate");
        let text = format!(
            "{:?}",
            Credentials::Certificate {
                client_id: "a".into(),
                certificate: cert
            }
        );
        assert!(
            !text.contains("PRIVATE KEY") && text.contains("redacted"),
            "{text}"
        );
    }

    #[test]
    fn claims_are_read_from_the_payload_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"aud":"https://graph.microsoft.com","roles":["User.Read.All"],"scp":"User.Read AuditLog.Read.All","wids":["62e90394-69f5-4237-9190-012177145e10"],"exp":1700000000}"#,
        );
        let claims = decode_claims(&format!("eyJhbGciOiJub25lIn0.{payload}.sig")).expect("claims");
        assert_eq!(claims.roles, vec!["User.Read.All"]);
        assert_eq!(claims.scopes(), vec!["User.Read", "AuditLog.Read.All"]);
        assert_eq!(claims.exp, Some(1_700_000_000));
        assert!(decode_claims("not-a-jwt").is_err());
        assert!(decode_claims("a.!!!.c").is_err());
    }
}
