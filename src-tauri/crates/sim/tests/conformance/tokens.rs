//! The Entra token endpoints: client secret, certificate assertions (RS256 and PS256, checked
//! against the uploaded certificate), Entra's error JSON for a wrong secret, audience, expiry or
//! certificate, and the device-code flow with its polling errors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{claims, Sim, EXCHANGE, GRAPH};

pub const KEY: &str = include_str!("fixtures/ir-app.key.pem");
pub const CERT: &str = include_str!("fixtures/ir-app.cert.pem");
pub const STRANGER_KEY: &str = include_str!("fixtures/stranger.key.pem");
pub const STRANGER_CERT: &str = include_str!("fixtures/stranger.cert.pem");

pub fn cert_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// A client assertion as MSAL builds it.
pub fn assertion(
    key_pem: &str,
    cert_pem: &str,
    alg: &str,
    aud: &str,
    client_id: &str,
    nbf: i64,
    exp: i64,
) -> String {
    let der = cert_der(cert_pem);
    let header = if alg == "PS256" {
        json!({"alg": alg, "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(Sha256::digest(&der))})
    } else {
        json!({"alg": alg, "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(<sha1::Sha1 as Digest>::digest(&der))})
    };
    let payload = json!({"aud": aud, "iss": client_id, "sub": client_id, "jti": crate::harness::guid_like(), "nbf": nbf, "exp": exp, "iat": nbf});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(key_pem).unwrap();
    let signature = if alg == "PS256" {
        rsa::pss::SigningKey::<Sha256>::new(key)
            .sign_with_rng(&mut rand::thread_rng(), input.as_bytes())
            .to_vec()
    } else {
        rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
            .sign(input.as_bytes())
            .to_vec()
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

async fn with_assertion(sim: &Sim, jwt: &str, scope: &str) -> crate::harness::Reply {
    sim.token_request(&[
        ("client_id", sim.scenario.client_id()),
        ("scope", scope),
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt),
    ])
    .await
}

fn entra_error(reply: &crate::harness::Reply, error: &str, code: u64) {
    assert_eq!(reply.body["error"], error, "{}", reply.body);
    assert_eq!(reply.body["error_codes"], json!([code]), "{}", reply.body);
    let description = reply.body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}:"))
            && description.contains("\r\nTrace ID: ")
            && description.contains("\r\nCorrelation ID: "),
        "{description}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(reply.body[field].is_string(), "{field} in {}", reply.body);
    }
}

#[tokio::test]
async fn client_secret_tokens_carry_the_granted_roles_per_resource() {
    let sim = Sim::start("aitm").await;
    let graph = claims(&sim.token());
    assert_eq!(graph["aud"], "https://graph.microsoft.com");
    assert_eq!(graph["tid"], sim.tenant.as_str());
    assert_eq!(graph["appid"], sim.scenario.client_id());
    assert!(graph["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "User.RevokeSessions.All"));
    assert!(!graph["roles"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "Exchange.ManageAsApp"));
    assert!(graph["exp"].as_i64().unwrap() > graph["iat"].as_i64().unwrap() + 3000);
    let exchange = claims(&sim.secret_token(EXCHANGE).await);
    assert_eq!(exchange["aud"], "https://outlook.office365.com");
    assert_eq!(exchange["roles"], json!(["Exchange.ManageAsApp"]));
    assert!(
        exchange["wids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "29232cdf-9323-42fd-ade2-1d097af3e4de"),
        "Exchange Administrator role"
    );

    let wrong = sim
        .token_request(&[
            ("client_id", sim.scenario.client_id()),
            ("client_secret", "nope"),
            ("scope", GRAPH),
            ("grant_type", "client_credentials"),
        ])
        .await;
    assert_eq!(wrong.status, 401);
    entra_error(&wrong, "invalid_client", 7000215);
    let scope = sim
        .token_request(&[
            ("client_id", sim.scenario.client_id()),
            ("client_secret", sim.scenario.client_secret().unwrap()),
            ("scope", "User.Read"),
            ("grant_type", "client_credentials"),
        ])
        .await;
    entra_error(&scope, "invalid_scope", 1002012);
    let by_domain = sim
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.base,
            sim.scenario.tenant_domain()
        ))
        .form(&[
            ("client_id", sim.scenario.client_id()),
            ("client_secret", sim.scenario.client_secret().unwrap()),
            ("scope", GRAPH),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        by_domain.status(),
        200,
        "the tenant may be named by its domain"
    );
    let other_tenant = sim
        .http
        .post(format!(
            "{}/00000000-0000-0000-0000-000000000000/oauth2/v2.0/token",
            sim.base
        ))
        .form(&[("client_id", sim.scenario.client_id())])
        .send()
        .await
        .unwrap();
    entra_error(
        &crate::harness::read(other_tenant).await,
        "invalid_request",
        90002,
    );
}

#[tokio::test]
async fn certificate_assertions_are_verified_against_the_uploaded_certificate() {
    let sim = Sim::start("aitm").await;
    let client = sim.scenario.client_id().to_owned();
    let now = sim.server.now().timestamp();
    let aud = format!(
        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
        sim.tenant
    );
    let before_upload = with_assertion(
        &sim,
        &assertion(KEY, CERT, "PS256", &aud, &client, now, now + 600),
        GRAPH,
    )
    .await;
    entra_error(&before_upload, "invalid_client", 700027);
    let uploaded = sim
        .control(
            Method::POST,
            &format!("/apps/{client}/certificates"),
            Some(json!({"certificatePem": CERT})),
        )
        .await;
    assert_eq!(uploaded["thumbprint"].as_str().unwrap().len(), 40);

    for alg in ["PS256", "RS256"] {
        let reply = with_assertion(
            &sim,
            &assertion(KEY, CERT, alg, &aud, &client, now, now + 600),
            GRAPH,
        )
        .await;
        assert_eq!(reply.status, 200, "{alg}: {}", reply.body);
        assert_eq!(
            claims(reply.body["access_token"].as_str().unwrap())["appidacr"],
            "2",
            "certificate credential"
        );
    }
    let loopback_aud = format!("{}/{}/oauth2/v2.0/token", sim.base, sim.tenant);
    assert_eq!(
        with_assertion(
            &sim,
            &assertion(KEY, CERT, "RS256", &loopback_aud, &client, now, now + 600),
            EXCHANGE
        )
        .await
        .status,
        200,
        "the endpoint actually called is an accepted audience"
    );

    let wrong_aud = with_assertion(
        &sim,
        &assertion(
            KEY,
            CERT,
            "PS256",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            &client,
            now,
            now + 600,
        ),
        GRAPH,
    )
    .await;
    assert_eq!(wrong_aud.status, 401);
    entra_error(&wrong_aud, "invalid_client", 50012);
    let expired = with_assertion(
        &sim,
        &assertion(KEY, CERT, "PS256", &aud, &client, now - 3600, now - 1200),
        GRAPH,
    )
    .await;
    entra_error(&expired, "invalid_client", 700024);
    let stranger = with_assertion(
        &sim,
        &assertion(
            STRANGER_KEY,
            STRANGER_CERT,
            "RS256",
            &aud,
            &client,
            now,
            now + 600,
        ),
        GRAPH,
    )
    .await;
    entra_error(&stranger, "invalid_client", 700027);
    // Right certificate thumbprint, wrong private key: the signature does not verify.
    let forged = assertion(STRANGER_KEY, CERT, "RS256", &aud, &client, now, now + 600);
    entra_error(
        &with_assertion(&sim, &forged, GRAPH).await,
        "invalid_client",
        700027,
    );
    let garbage = with_assertion(&sim, "not.a.jwt", GRAPH).await;
    entra_error(&garbage, "invalid_client", 50027);
}

async fn device_code(sim: &Sim) -> Value {
    let reply = sim
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            sim.base, sim.tenant
        ))
        .form(&[
            ("client_id", sim.scenario.client_id()),
            (
                "scope",
                &format!("{GRAPH} offline_access openid profile") as &str,
            ),
        ])
        .send()
        .await
        .unwrap();
    let code = crate::harness::read(reply).await;
    assert_eq!(code.status, 200, "{}", code.body);
    for field in [
        "device_code",
        "user_code",
        "verification_uri",
        "expires_in",
        "interval",
        "message",
    ] {
        assert!(!code.body[field].is_null(), "{field}");
    }
    assert_eq!(code.body["expires_in"], 900);
    code.body
}

async fn poll(sim: &Sim, code: &Value) -> crate::harness::Reply {
    sim.token_request(&[
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", sim.scenario.client_id()),
        ("device_code", code["device_code"].as_str().unwrap()),
    ])
    .await
}

#[tokio::test]
async fn device_code_flow_pends_slows_down_expires_and_signs_in_the_approving_admin() {
    let sim = Sim::start_with(
        firebreak_sim::Scenario::builtin("aitm").unwrap(),
        firebreak_sim::SimOptions {
            device_code_interval_seconds: 1,
            ..Default::default()
        },
    )
    .await;
    let code = device_code(&sim).await;
    assert_eq!(code["interval"], 1);
    entra_error(&poll(&sim, &code).await, "authorization_pending", 70016);
    let hasty = poll(&sim, &code).await;
    assert_eq!(
        hasty.body["error"], "slow_down",
        "polling faster than the interval: {}",
        hasty.body
    );
    sim.control(
        Method::POST,
        "/devicecode/approve",
        Some(json!({"userCode": code["user_code"], "userPrincipalName": sim.upn("alex.wilber")})),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(6_500)).await;
    let token = poll(&sim, &code).await;
    assert_eq!(token.status, 200, "{}", token.body);
    let access = claims(token.body["access_token"].as_str().unwrap());
    assert_eq!(access["upn"], sim.upn("alex.wilber"));
    assert!(access["scp"]
        .as_str()
        .unwrap()
        .split(' ')
        .any(|s| s == "User.Read.All"));
    assert!(
        access["wids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "62e90394-69f5-4237-9190-012177145e10"),
        "Global Administrator"
    );
    assert!(token.body["refresh_token"].is_string() && token.body["id_token"].is_string());

    // The refresh token works until the admin's own sessions are revoked.
    let refresh = token.body["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = sim
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", sim.scenario.client_id()),
            ("refresh_token", &refresh),
            ("scope", EXCHANGE),
        ])
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(
        claims(refreshed.body["access_token"].as_str().unwrap())["aud"],
        "https://outlook.office365.com"
    );
    sim.advance_minutes(1).await;
    sim.graph(
        Method::POST,
        &format!(
            "/v1.0/users/{}/revokeSignInSessions",
            sim.upn("alex.wilber")
        ),
        None,
    )
    .await;
    let dead = sim
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", sim.scenario.client_id()),
            ("refresh_token", &refresh),
            ("scope", GRAPH),
        ])
        .await;
    entra_error(&dead, "invalid_grant", 50173);

    let late = device_code(&sim).await;
    sim.advance_minutes(16).await;
    entra_error(&poll(&sim, &late).await, "expired_token", 70019);
    let declined = device_code(&sim).await;
    sim.control(Method::POST, "/devicecode/approve", Some(json!({"userCode": declined["user_code"], "userPrincipalName": sim.upn("alex.wilber"), "decline": true}))).await;
    assert_eq!(
        poll(&sim, &declined).await.body["error"],
        "authorization_declined"
    );
}
