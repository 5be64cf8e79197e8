//! The Entra ID v2 token endpoints (client credentials with a secret or a certificate assertion,
//! device code with polling, refresh) and the access tokens they issue: HS256 JWTs signed with a
//! key that lives only in this process, carrying Entra's claim names, and verified on every Graph
//! and Exchange request against the simulated clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, TimeZone, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::server::Sim;
use crate::tenant::{derived_guid, Tenant};

/// The Graph resource (audience of Graph tokens).
pub(crate) const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// The Exchange Online resource (audience of Exchange admin API tokens).
pub(crate) const EXCHANGE_AUDIENCE: &str = "https://outlook.office365.com";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ACCESS_TOKEN_SECONDS: i64 = 3599;
const DEVICE_CODE_SECONDS: i64 = 900;

/// The claims of an access token the simulator issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) iat: i64,
    pub(crate) nbf: i64,
    pub(crate) exp: i64,
    pub(crate) tid: String,
    pub(crate) appid: String,
    /// "1" = client secret, "2" = certificate, "0" = public client.
    pub(crate) appidacr: String,
    pub(crate) idtyp: String,
    pub(crate) oid: String,
    pub(crate) sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) roles: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) upn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) wids: Vec<String>,
    pub(crate) uti: String,
    pub(crate) ver: String,
}

impl Claims {
    pub(crate) fn is_app_only(&self) -> bool {
        self.idtyp == "app"
    }

    pub(crate) fn permissions(&self) -> Vec<String> {
        match (&self.roles, &self.scp) {
            (Some(roles), _) => roles.clone(),
            (None, Some(scp)) => scp.split_whitespace().map(str::to_owned).collect(),
            (None, None) => Vec::new(),
        }
    }
}

/// A certificate registered on the app registration.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredCert {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    key: RsaPublicKey,
}

impl RegisteredCert {
    /// Parses a PEM certificate (or base64 DER, as a `.cer` file may hold).
    pub(crate) fn from_pem(text: &str) -> Result<RegisteredCert, String> {
        use x509_cert::der::{Decode, DecodePem, Encode};
        let cert = if text.contains("-----BEGIN") {
            x509_cert::Certificate::from_pem(text.as_bytes())
                .map_err(|e| format!("the certificate PEM could not be read ({e})"))?
        } else {
            let der = STANDARD
                .decode(text.split_whitespace().collect::<String>())
                .map_err(|_| "the certificate is neither PEM nor base64 DER".to_owned())?;
            x509_cert::Certificate::from_der(&der)
                .map_err(|e| format!("the certificate DER could not be read ({e})"))?
        };
        let der = cert
            .to_der()
            .map_err(|e| format!("the certificate could not be encoded ({e})"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("the certificate's public key could not be encoded ({e})"))?;
        let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| {
            "the certificate does not hold an RSA public key (Entra needs RSA)".to_owned()
        })?;
        Ok(RegisteredCert {
            sha1: Sha1::digest(&der).to_vec(),
            sha256: Sha256::digest(&der).to_vec(),
            key,
        })
    }

    /// The SHA-1 thumbprint in hex, as the portal shows it.
    pub(crate) fn thumbprint(&self) -> String {
        hex::encode_upper(&self.sha1)
    }

    /// Whether `signature` is this certificate's key's `alg` (RS256 or PS256) signature of
    /// `message`.
    pub(crate) fn verifies(&self, alg: &str, message: &[u8], signature: &[u8]) -> bool {
        match alg {
            "RS256" => rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|sig| {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(self.key.clone())
                    .verify(message, &sig)
                    .is_ok()
            }),
            "PS256" => rsa::pss::Signature::try_from(signature).is_ok_and(|sig| {
                rsa::pss::VerifyingKey::<Sha256>::new(self.key.clone())
                    .verify(message, &sig)
                    .is_ok()
            }),
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    scope: String,
    expires: DateTime<Utc>,
    approved_by: Option<String>,
    declined: bool,
    redeemed: bool,
    last_poll: Option<Instant>,
    interval: u64,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    user_id: String,
    issued: DateTime<Utc>,
}

/// Keys, device codes and refresh tokens of the simulated token service.
pub(crate) struct TokenService {
    key: [u8; 32],
    serial: AtomicU64,
    invalid_up_to: AtomicU64,
    device_codes: Mutex<Vec<DeviceCode>>,
    refresh_tokens: Mutex<HashMap<String, RefreshToken>>,
    device_code_interval: u64,
}

impl TokenService {
    pub(crate) fn new(device_code_interval: u64) -> Self {
        Self {
            key: rand::thread_rng().gen(),
            serial: AtomicU64::new(1),
            invalid_up_to: AtomicU64::new(0),
            device_codes: Mutex::new(Vec::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            device_code_interval: device_code_interval.max(1),
        }
    }

    /// Every token issued so far stops working (the "expire tokens now" fault).
    pub(crate) fn expire_all(&self) {
        let current = self.serial.load(Ordering::SeqCst);
        self.invalid_up_to.store(current, Ordering::SeqCst);
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let input = format!("{header}.{payload}");
        format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(self.mac(input.as_bytes()))
        )
    }

    fn mac(&self, input: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mut mac) => {
                mac.update(input);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    fn next_uti(&self) -> (u64, String) {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        (serial, URL_SAFE_NO_PAD.encode(serial.to_be_bytes()))
    }

    /// Verifies an access token for `audience` at simulated time `now`.
    pub(crate) fn verify(
        &self,
        token: &str,
        audience: &str,
        now: DateTime<Utc>,
        lifetime_fault: Option<i64>,
    ) -> Result<Claims, TokenRejection> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let expected = self.mac(format!("{header}.{payload}").as_bytes());
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenRejection::Malformed)?;
        if given != expected {
            return Err(TokenRejection::BadSignature);
        }
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenRejection::Malformed)?;
        if claims.aud != audience {
            return Err(TokenRejection::WrongAudience);
        }
        let serial = URL_SAFE_NO_PAD
            .decode(&claims.uti)
            .ok()
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let now_s = now.timestamp();
        let died_early = lifetime_fault.is_some_and(|life| now_s - claims.iat >= life)
            || serial <= self.invalid_up_to.load(Ordering::SeqCst);
        if now_s >= claims.exp || died_early {
            return Err(TokenRejection::Expired);
        }
        if now_s + 300 < claims.nbf {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(claims)
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    Missing,
    Malformed,
    BadSignature,
    WrongAudience,
    Expired,
    NotYetValid,
}

impl TokenRejection {
    /// The message Graph puts in its 401 `InvalidAuthenticationToken` error.
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenRejection::Missing => "Access token is empty.",
            TokenRejection::Malformed => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenRejection::BadSignature => "Access token validation failure. Invalid signature.",
            TokenRejection::WrongAudience => "Access token validation failure. Invalid audience.",
            TokenRejection::Expired => "Lifetime validation failed, the token is expired.",
            TokenRejection::NotYetValid => {
                "Lifetime validation failed, the token is not yet valid."
            }
        }
    }
}

/// Entra role names → role template ids (the `wids` claim).
pub(crate) fn role_template_id(name: &str) -> Option<&'static str> {
    Some(match name {
        "Global Administrator" => "62e90394-69f5-4237-9190-012177145e10",
        "Global Reader" => "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Exchange Administrator" => "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Recipient Administrator" => "31392ffb-586c-42d1-9346-e59415a2cc4e",
        "Security Administrator" => "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Reader" => "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Operator" => "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
        "Helpdesk Administrator" => "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Password Administrator" => "966707d0-3269-4727-9be2-8c3a10f19b9d",
        "Groups Administrator" => "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "Compliance Administrator" => "17315797-102d-40b4-93e0-432062caca18",
        "User Administrator" => "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "Authentication Administrator" => "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "Privileged Authentication Administrator" => "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "Privileged Role Administrator" => "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Reports Reader" => "4a5d8f65-41da-4de4-8968-e035b65339cf",
        "Directory Readers" => "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Application Administrator" => "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Cloud Application Administrator" => "158c047a-c907-4556-b7ef-446551a6b5f7",
        _ => return None,
    })
}

/// The role template ids of the Entra roles held by a user (through directoryRole membership).
pub(crate) fn user_role_ids(tenant: &Tenant, user_id: &str) -> Vec<String> {
    let Some(user) = tenant.user(user_id) else {
        return Vec::new();
    };
    tenant
        .directory_roles
        .iter()
        .filter(|role| {
            role.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| user.member_of.iter().any(|m| m == id))
        })
        .filter_map(|role| {
            role.get("roleTemplateId")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// An Entra token-endpoint error.
struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    text: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, text: impl Into<String>) -> Self {
        Self {
            status,
            error,
            code,
            text: text.into(),
        }
    }

    fn render(self, now: DateTime<Utc>) -> Response {
        let trace = derived_guid(&format!(
            "trace/{}/{}",
            self.code,
            now.timestamp_nanos_opt().unwrap_or(0)
        ));
        let correlation = derived_guid(&format!("corr/{trace}"));
        let stamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
        let body = json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {stamp}",
                self.code, self.text),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        (self.status, Json(body)).into_response()
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let id: String = form_urlencoded::parse(format!("a={id}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()?;
    let secret: String = form_urlencoded::parse(format!("a={secret}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .next()?;
    Some((id, secret))
}

fn tenant_matches(tenant: &Tenant, asked: &str) -> bool {
    tenant.info.id.eq_ignore_ascii_case(asked) || tenant.info.domain.eq_ignore_ascii_case(asked)
}

/// Maps a `.default` scope to its resource audience.
fn resource_of_scope(scope: &str) -> Result<&'static str, EntraError> {
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "offline_access" | "openid" | "profile" | "email"))
        .collect();
    let [single] = resources.as_slice() else {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
        ));
    };
    let resource = single.trim_end_matches("/.default");
    if !single.ends_with("/.default") {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!("The provided value for scope {single} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    }
    match resource.trim_end_matches('/') {
        GRAPH_AUDIENCE | "00000003-0000-0000-c000-000000000000" => Ok(GRAPH_AUDIENCE),
        EXCHANGE_AUDIENCE | "00000002-0000-0ff1-ce00-000000000000" => Ok(EXCHANGE_AUDIENCE),
        other => Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!("The resource principal named {other} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."),
        )),
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token_endpoint(
    State(sim): State<Arc<Sim>>,
    Path(tenant_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = sim.clock.now();
    match issue(&sim, &tenant_key, &headers, &body, now) {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(err) => err.render(now),
    }
}

fn issue(
    sim: &Sim,
    tenant_key: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Value, EntraError> {
    let params = form(body);
    let tenant = sim.lock_tenant();
    if !tenant_matches(&tenant, tenant_key) {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!("Tenant '{tenant_key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
        ));
    }
    let basic = basic_auth(headers);
    let client_id = params
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()))
        .unwrap_or_default();
    if client_id.is_empty() {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    }
    if !client_id.eq_ignore_ascii_case(&tenant.app.client_id) {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.", tenant.info.display_name),
        ));
    }
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let audience =
                resource_of_scope(params.get("scope").map(String::as_str).unwrap_or_default())?;
            let acr = authenticate_client(sim, &tenant, &params, basic.as_ref(), now)?;
            Ok(app_token(sim, &tenant, audience, acr, now))
        }
        Some(DEVICE_CODE_GRANT) => {
            let code = params.get("device_code").cloned().unwrap_or_default();
            redeem_device_code(sim, &tenant, &code, now)
        }
        Some("refresh_token") => {
            let refresh = params.get("refresh_token").cloned().unwrap_or_default();
            let scope = params
                .get("scope")
                .cloned()
                .unwrap_or_else(|| format!("{GRAPH_AUDIENCE}/.default"));
            redeem_refresh_token(sim, &tenant, &refresh, &scope, now)
        }
        other => Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!(
                "The app requested an unsupported grant type '{}'.",
                other.unwrap_or_default()
            ),
        )),
    }
}

/// Checks the client secret or the certificate assertion; returns the `appidacr` value.
fn authenticate_client(
    sim: &Sim,
    tenant: &Tenant,
    params: &HashMap<String, String>,
    basic: Option<&(String, String)>,
    now: DateTime<Utc>,
) -> Result<&'static str, EntraError> {
    let invalid_client = |code: u32, text: String| {
        EntraError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, text)
    };
    if let Some(assertion) = params.get("client_assertion") {
        if params.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(EntraError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                format!("The client_assertion_type must be '{ASSERTION_TYPE}'."),
            ));
        }
        verify_assertion(sim, tenant, assertion, now)
            .map_err(|(code, text)| invalid_client(code, text))?;
        return Ok("2");
    }
    let secret = params
        .get("client_secret")
        .cloned()
        .or_else(|| basic.map(|(_, s)| s.clone()));
    match (secret, &tenant.app.client_secret) {
        (Some(given), Some(expected)) if &given == expected => Ok("1"),
        (Some(_), _) => Err(invalid_client(
            7000215,
            format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", tenant.app.client_id),
        )),
        (None, _) => Err(invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
        )),
    }
}

#[derive(Deserialize)]
struct AssertionHeader {
    alg: String,
    #[serde(default)]
    x5t: Option<String>,
    #[serde(default, rename = "x5t#S256")]
    x5t_s256: Option<String>,
}

#[derive(Deserialize)]
struct AssertionClaims {
    #[serde(default)]
    aud: Value,
    #[serde(default)]
    iss: String,
    #[serde(default)]
    sub: String,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
}

/// Verifies a client assertion JWT against the app's registered certificates.
fn verify_assertion(
    sim: &Sim,
    tenant: &Tenant,
    assertion: &str,
    now: DateTime<Utc>,
) -> Result<(), (u32, String)> {
    let malformed = || (50027, "JWT token is invalid or malformed.".to_owned());
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let header: AssertionHeader = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let claims: AssertionClaims = URL_SAFE_NO_PAD
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
    let not_registered = || {
        (700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]".to_owned())
    };
    let candidates: Vec<&RegisteredCert> = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => {
            let t = URL_SAFE_NO_PAD.decode(t).map_err(|_| malformed())?;
            tenant
                .certificates
                .iter()
                .filter(|c| c.sha256 == t)
                .collect()
        }
        (None, Some(t)) => {
            let t = URL_SAFE_NO_PAD.decode(t).map_err(|_| malformed())?;
            tenant.certificates.iter().filter(|c| c.sha1 == t).collect()
        }
        (None, None) => tenant.certificates.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(not_registered());
    }
    let message = format!("{h}.{p}");
    let verified = candidates.iter().any(|cert| match header.alg.as_str() {
        "RS256" => rsa::pkcs1v15::Signature::try_from(signature.as_slice())
            .map(|sig| {
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(cert.key.clone())
                    .verify(message.as_bytes(), &sig)
                    .is_ok()
            })
            .unwrap_or(false),
        "PS256" => rsa::pss::Signature::try_from(signature.as_slice())
            .map(|sig| {
                rsa::pss::VerifyingKey::<Sha256>::new(cert.key.clone())
                    .verify(message.as_bytes(), &sig)
                    .is_ok()
            })
            .unwrap_or(false),
        _ => false,
    });
    if !verified {
        return Err((
            700027,
            "Client assertion failed signature validation.".to_owned(),
        ));
    }
    if !claims.iss.eq_ignore_ascii_case(&tenant.app.client_id)
        || !claims.sub.eq_ignore_ascii_case(&tenant.app.client_id)
    {
        return Err((
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter."
                .to_owned(),
        ));
    }
    let audiences: Vec<&str> = match &claims.aud {
        Value::String(s) => vec![s.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut accepted = Vec::new();
    for key in [&tenant.info.id, &tenant.info.domain] {
        accepted.push(format!(
            "https://login.microsoftonline.com/{key}/oauth2/v2.0/token"
        ));
        accepted.push(format!("{}/{key}/oauth2/v2.0/token", sim.base_url));
    }
    if !audiences
        .iter()
        .any(|aud| accepted.iter().any(|a| a.eq_ignore_ascii_case(aud)))
    {
        return Err((
            50012,
            "Client assertion audience claim does not match Realm issuer.".to_owned(),
        ));
    }
    let now_s = now.timestamp();
    let (Some(exp), nbf) = (claims.exp, claims.nbf.unwrap_or(i64::MIN)) else {
        return Err(malformed());
    };
    // Entra tolerates five minutes of clock skew.
    if now_s > exp + 300 || now_s + 300 < nbf {
        let show = |t: i64| {
            Utc.timestamp_opt(t, 0)
                .single()
                .map(|t| t.format("%m/%d/%Y %H:%M:%S").to_string())
                .unwrap_or_default()
        };
        return Err((
            700024,
            format!("Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.", show(now_s), show(nbf.max(0)), show(exp)),
        ));
    }
    Ok(())
}

fn base_claims(sim: &Sim, tenant: &Tenant, audience: &str, now: DateTime<Utc>) -> Claims {
    let (_, uti) = sim.tokens.next_uti();
    Claims {
        aud: audience.to_owned(),
        iss: format!("https://sts.windows.net/{}/", tenant.info.id),
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: now.timestamp() + ACCESS_TOKEN_SECONDS + 1,
        tid: tenant.info.id.clone(),
        appid: tenant.app.client_id.clone(),
        appidacr: "1".to_owned(),
        idtyp: "app".to_owned(),
        oid: String::new(),
        sub: String::new(),
        roles: None,
        scp: None,
        upn: None,
        wids: Vec::new(),
        uti,
        ver: "1.0".to_owned(),
    }
}

fn app_token(sim: &Sim, tenant: &Tenant, audience: &str, acr: &str, now: DateTime<Utc>) -> Value {
    let sp = tenant
        .app
        .service_principal_id
        .clone()
        .unwrap_or_else(|| derived_guid(&format!("sp/{}", tenant.app.client_id)));
    let roles: Vec<String> = tenant
        .app
        .roles
        .iter()
        .filter(|r| (audience == EXCHANGE_AUDIENCE) == r.starts_with("Exchange."))
        .cloned()
        .collect();
    let mut claims = base_claims(sim, tenant, audience, now);
    claims.appidacr = acr.to_owned();
    claims.oid = sp.clone();
    claims.sub = sp;
    claims.roles = if roles.is_empty() { None } else { Some(roles) };
    claims.wids = tenant
        .app
        .entra_roles
        .iter()
        .filter_map(|r| role_template_id(r))
        .map(str::to_owned)
        .collect();
    json!({"token_type": "Bearer", "expires_in": ACCESS_TOKEN_SECONDS, "ext_expires_in": ACCESS_TOKEN_SECONDS,
           "access_token": sim.tokens.sign(&claims)})
}

fn user_token(
    sim: &Sim,
    tenant: &Tenant,
    user_id: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<Value, EntraError> {
    let audience = resource_of_scope(scope)?;
    let Some(user) = tenant.user(user_id) else {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        ));
    };
    if !user.account_enabled() {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50057,
            "The user account is disabled.",
        ));
    }
    let scopes: Vec<String> = tenant
        .app
        .delegated_scopes
        .iter()
        .filter(|s| (audience == EXCHANGE_AUDIENCE) == s.starts_with("Exchange."))
        .cloned()
        .collect();
    let mut claims = base_claims(sim, tenant, audience, now);
    claims.appidacr = "0".to_owned();
    claims.idtyp = "user".to_owned();
    claims.oid = user.id().to_owned();
    claims.sub = derived_guid(&format!("sub/{}", user.id()));
    claims.upn = Some(user.upn().to_owned());
    claims.scp = Some(scopes.join(" "));
    claims.wids = user_role_ids(tenant, user.id());
    let refresh = URL_SAFE_NO_PAD.encode(rand::thread_rng().gen::<[u8; 32]>());
    if let Ok(mut tokens) = sim.tokens.refresh_tokens.lock() {
        tokens.insert(
            refresh.clone(),
            RefreshToken {
                user_id: user.id().to_owned(),
                issued: now,
            },
        );
    }
    let id_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(json!({"aud": tenant.app.client_id, "iss": format!("https://login.microsoftonline.com/{}/v2.0", tenant.info.id),
            "tid": tenant.info.id, "oid": user.id(), "preferred_username": user.upn(), "name": user.display_name(),
            "iat": now.timestamp(), "exp": now.timestamp() + ACCESS_TOKEN_SECONDS}).to_string())
    );
    let mut body = json!({"token_type": "Bearer", "scope": claims.scp.clone().unwrap_or_default(),
        "expires_in": ACCESS_TOKEN_SECONDS, "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": sim.tokens.sign(&claims)});
    if scope.split_whitespace().any(|s| s == "offline_access") {
        body["refresh_token"] = json!(refresh);
    }
    if scope.split_whitespace().any(|s| s == "openid") {
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}

fn redeem_device_code(
    sim: &Sim,
    tenant: &Tenant,
    code: &str,
    now: DateTime<Utc>,
) -> Result<Value, EntraError> {
    let pending = |error: &'static str, code: u32, text: &str| {
        EntraError::new(StatusCode::BAD_REQUEST, error, code, text)
    };
    let (user, scope) = {
        let mut codes = sim
            .tokens
            .device_codes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(entry) = codes.iter_mut().find(|c| c.device_code == code) else {
            return Err(pending(
                "bad_verification_code",
                70018,
                "The provided value for the 'device_code' is not valid.",
            ));
        };
        if now >= entry.expires {
            return Err(pending(
                "expired_token",
                70019,
                "Verification code expired.",
            ));
        }
        if entry.declined {
            return Err(pending(
                "authorization_declined",
                70017,
                "The end user denied the authorization request.",
            ));
        }
        if entry.redeemed {
            return Err(pending("invalid_grant", 70000, "The provided value for the 'device_code' is invalid. It has already been redeemed."));
        }
        let polled_now = Instant::now();
        let too_fast = entry.last_poll.is_some_and(|last| {
            polled_now.duration_since(last).as_secs_f64() < entry.interval as f64 * 0.8
        });
        entry.last_poll = Some(polled_now);
        if too_fast {
            entry.interval += 5;
            return Err(pending("slow_down", 70016, "OAuth 2.0 device flow error. The client is polling too quickly; add 5 seconds to the polling interval."));
        }
        let Some(user) = entry.approved_by.clone() else {
            return Err(pending(
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ));
        };
        entry.redeemed = true;
        (user, entry.scope.clone())
    };
    user_token(sim, tenant, &user, &scope, now)
}

fn redeem_refresh_token(
    sim: &Sim,
    tenant: &Tenant,
    refresh: &str,
    scope: &str,
    now: DateTime<Utc>,
) -> Result<Value, EntraError> {
    let entry = sim
        .tokens
        .refresh_tokens
        .lock()
        .ok()
        .and_then(|t| t.get(refresh).cloned());
    let Some(entry) = entry else {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        ));
    };
    let revoked = tenant
        .user(&entry.user_id)
        .and_then(|u| u.sessions_valid_from())
        .is_some_and(|valid_from| entry.issued < valid_from);
    if revoked {
        return Err(EntraError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
        ));
    }
    user_token(sim, tenant, &entry.user_id, scope, now)
}

/// `POST /{tenant}/oauth2/v2.0/devicecode`.
pub(crate) async fn device_code_endpoint(
    State(sim): State<Arc<Sim>>,
    Path(tenant_key): Path<String>,
    body: Bytes,
) -> Response {
    let now = sim.clock.now();
    let params = form(&body);
    {
        let tenant = sim.lock_tenant();
        if !tenant_matches(&tenant, &tenant_key) {
            return EntraError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90002,
                format!("Tenant '{tenant_key}' not found."),
            )
            .render(now);
        }
        let client_id = params.get("client_id").cloned().unwrap_or_default();
        if !client_id.eq_ignore_ascii_case(&tenant.app.client_id) {
            return EntraError::new(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                700016,
                format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            )
            .render(now);
        }
    }
    let scope = params.get("scope").cloned().unwrap_or_default();
    if let Err(err) = resource_of_scope(&scope) {
        return err.render(now);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let user_code: String = (0..9)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    let device_code = URL_SAFE_NO_PAD.encode((0..48).map(|_| rng.gen::<u8>()).collect::<Vec<u8>>());
    let interval = sim.tokens.device_code_interval;
    if let Ok(mut codes) = sim.tokens.device_codes.lock() {
        codes.push(DeviceCode {
            device_code: device_code.clone(),
            user_code: user_code.clone(),
            scope,
            expires: now + Duration::seconds(DEVICE_CODE_SECONDS),
            approved_by: None,
            declined: false,
            redeemed: false,
            last_poll: None,
            interval,
        });
    }
    Json(json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": DEVICE_CODE_SECONDS,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// Approves (or declines) a pending device code as the named user; used by `/_sim/devicecode/approve`.
pub(crate) fn approve_device_code(
    sim: &Sim,
    user_code: &str,
    upn: &str,
    decline: bool,
) -> Result<String, String> {
    let user_id = {
        let tenant = sim.lock_tenant();
        let user = tenant
            .user(upn)
            .ok_or_else(|| format!("no user '{upn}' in this tenant"))?;
        if !user.account_enabled() {
            return Err(format!(
                "the account '{upn}' is disabled and cannot sign in"
            ));
        }
        user.id().to_owned()
    };
    let now = sim.clock.now();
    let mut codes = sim
        .tokens
        .device_codes
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let entry = codes
        .iter_mut()
        .find(|c| c.user_code.eq_ignore_ascii_case(user_code.trim()))
        .ok_or_else(|| format!("no pending device code '{user_code}'"))?;
    if now >= entry.expires {
        return Err("that code has expired".to_owned());
    }
    if decline {
        entry.declined = true;
    } else {
        entry.approved_by = Some(user_id.clone());
    }
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_must_be_one_default_resource() {
        assert_eq!(
            resource_of_scope("https://graph.microsoft.com/.default").ok(),
            Some(GRAPH_AUDIENCE)
        );
        assert_eq!(
            resource_of_scope("https://outlook.office365.com/.default offline_access").ok(),
            Some(EXCHANGE_AUDIENCE)
        );
        assert_eq!(
            resource_of_scope("User.Read").err().map(|e| e.code),
            Some(1002012)
        );
        assert_eq!(
            resource_of_scope("https://example.net/.default")
                .err()
                .map(|e| e.error),
            Some("invalid_resource")
        );
        assert!(resource_of_scope(
            "https://graph.microsoft.com/.default https://outlook.office365.com/.default"
        )
        .is_err());
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let service = TokenService::new(5);
        let now = Utc::now();
        let claims = Claims {
            aud: GRAPH_AUDIENCE.to_owned(),
            iss: String::new(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: now.timestamp() + 60,
            tid: String::new(),
            appid: String::new(),
            appidacr: "1".to_owned(),
            idtyp: "app".to_owned(),
            oid: String::new(),
            sub: String::new(),
            roles: Some(vec!["User.Read.All".to_owned()]),
            scp: None,
            upn: None,
            wids: Vec::new(),
            uti: service.next_uti().1,
            ver: "1.0".to_owned(),
        };
        let token = service.sign(&claims);
        assert!(service.verify(&token, GRAPH_AUDIENCE, now, None).is_ok());
        assert_eq!(
            service.verify(&token, EXCHANGE_AUDIENCE, now, None).err(),
            Some(TokenRejection::WrongAudience)
        );
        assert_eq!(
            service
                .verify(&token, GRAPH_AUDIENCE, now + Duration::seconds(61), None)
                .err(),
            Some(TokenRejection::Expired)
        );
        let mut forged = claims.clone();
        forged.roles = Some(vec!["Directory.ReadWrite.All".to_owned()]);
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let mut parts: Vec<&str> = token.split('.').collect();
        parts[1] = &forged_payload;
        assert_eq!(
            service
                .verify(&parts.join("."), GRAPH_AUDIENCE, now, None)
                .err(),
            Some(TokenRejection::BadSignature)
        );
        service.expire_all();
        assert_eq!(
            service.verify(&token, GRAPH_AUDIENCE, now, None).err(),
            Some(TokenRejection::Expired)
        );
    }
}
