//! Signing in: client secret, certificate (client assertion), device code; tokens per resource.

use std::sync::Arc;

use firebreak_graph::{
    ClientCertificate, Credentials, DeviceCodeFailure, DeviceCodeSignIn, Endpoints, Error,
    Resource, SecretString, SystemClock,
};
use firebreak_sim::SimOptions;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{
    client_for, config_for, start, start_with, user, TestClock, BREAK_GLASS, CLIENT_ID, MEGAN,
};

#[tokio::test]
async fn app_only_tokens_are_issued_per_resource_with_their_roles() {
    let t = start("aitm").await;
    let graph = t.client.token_claims(Resource::Graph).await.unwrap();
    assert_eq!(graph.aud.as_deref(), Some("https://graph.microsoft.com"));
    assert!(graph.roles.iter().any(|r| r == "User.RevokeSessions.All"));
    let exchange = t.client.token_claims(Resource::Exchange).await.unwrap();
    assert_eq!(
        exchange.aud.as_deref(),
        Some("https://outlook.office365.com")
    );
    assert!(exchange.roles.iter().any(|r| r == "Exchange.ManageAsApp"));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_the_fix() {
    let t = start("aitm").await;
    let client = client_for(
        &t.sim,
        t.clock.clone(),
        Credentials::ClientSecret {
            client_id: CLIENT_ID.into(),
            secret: SecretString::from("wrong".to_owned()),
        },
    );
    let err = client.get_user(&user(MEGAN)).await.unwrap_err();
    assert!(
        matches!(err, Error::Token { ref error, .. } if error == "invalid_client"),
        "{err:?}"
    );
    assert!(err.to_string().contains("client secret"), "{err}");
}

#[tokio::test]
async fn a_generated_certificate_signs_in_once_uploaded_to_the_app() {
    let t = start("aitm").await;
    let make = || ClientCertificate::generate("Firebreak test", chrono::Utc::now(), 30).unwrap();
    let cert = make();
    let pem = cert.certificate_pem();
    let before = client_for(
        &t.sim,
        t.clock.clone(),
        Credentials::Certificate {
            client_id: CLIENT_ID.into(),
            certificate: make(),
        },
    );
    let refused = before.get_user(&user(MEGAN)).await.unwrap_err();
    assert!(
        matches!(refused, Error::Token { .. }),
        "an unregistered certificate is refused: {refused:?}"
    );

    t.control(
        &format!("apps/{CLIENT_ID}/certificates"),
        json!({ "certificatePem": pem }),
    )
    .await;
    let client = client_for(
        &t.sim,
        t.clock.clone(),
        Credentials::Certificate {
            client_id: CLIENT_ID.into(),
            certificate: cert,
        },
    );
    let megan = client.get_user(&user(MEGAN)).await.unwrap();
    assert_eq!(megan.user_principal_name.as_deref(), Some(MEGAN));
    assert!(
        client.token_claims(Resource::Exchange).await.is_ok(),
        "the assertion works for Exchange too"
    );
}

fn device_options() -> SimOptions {
    SimOptions {
        device_code_interval_seconds: 1,
        ..SimOptions::default()
    }
}

#[tokio::test]
async fn a_device_code_sign_in_gives_delegated_tokens_for_graph_and_exchange() {
    let t = start_with("aitm", device_options()).await;
    let endpoints = Endpoints::custom(&t.sim.base_url()).unwrap();
    let flow = DeviceCodeSignIn::start(
        &endpoints,
        &t.sim.tenant_id(),
        CLIENT_ID,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let prompt = flow.prompt().clone();
    assert!(!prompt.user_code.is_empty());
    assert!(
        prompt.message.contains(&prompt.user_code),
        "{}",
        prompt.message
    );
    assert_eq!(prompt.interval_secs, 1);
    t.control(
        "devicecode/approve",
        json!({"userCode": prompt.user_code, "userPrincipalName": BREAK_GLASS}),
    )
    .await;
    let credentials = flow.wait(&CancellationToken::new()).await.unwrap();
    assert!(credentials.is_delegated());
    assert!(
        !format!("{credentials:?}").contains("ey"),
        "tokens are redacted"
    );
    let mut config = config_for(&t.sim, Arc::new(SystemClock));
    config.admin_upn = Some(BREAK_GLASS.into());
    let client = firebreak_graph::Client::new(config, credentials).unwrap();
    let me = client.get_me().await.unwrap();
    assert_eq!(me.user_principal_name.as_deref(), Some(BREAK_GLASS));
    let graph = client.token_claims(Resource::Graph).await.unwrap();
    assert!(
        graph.scp.is_some() && graph.roles.is_empty(),
        "delegated tokens carry scp: {graph:?}"
    );
    let exchange = client.token_claims(Resource::Exchange).await.unwrap();
    assert_eq!(
        exchange.aud.as_deref(),
        Some("https://outlook.office365.com"),
        "refresh token redeemed for Exchange"
    );
    client.get_mailbox(&user(MEGAN)).await.unwrap();
}

#[tokio::test]
async fn a_declined_device_code_stops_polling() {
    let t = start_with("aitm", device_options()).await;
    let endpoints = Endpoints::custom(&t.sim.base_url()).unwrap();
    let flow = DeviceCodeSignIn::start(
        &endpoints,
        &t.sim.tenant_id(),
        CLIENT_ID,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let code = flow.prompt().user_code.clone();
    t.control(
        "devicecode/approve",
        json!({"userCode": code, "userPrincipalName": BREAK_GLASS, "decline": true}),
    )
    .await;
    let err = flow.wait(&CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::DeviceCode(DeviceCodeFailure::Declined)),
        "{err:?}"
    );
}

#[tokio::test]
async fn polling_too_fast_slows_down_and_an_unused_code_expires() {
    let t = start_with("aitm", device_options()).await;
    let clock = TestClock::new();
    let endpoints = Endpoints::custom(&t.sim.base_url()).unwrap();
    let flow = DeviceCodeSignIn::start(&endpoints, &t.sim.tenant_id(), CLIENT_ID, clock.clone())
        .await
        .unwrap();
    let lifetime = flow.prompt().expires_in_secs;
    let err = flow.wait(&CancellationToken::new()).await.unwrap_err();
    assert!(
        matches!(err, Error::DeviceCode(DeviceCodeFailure::Expired)),
        "{err:?}"
    );
    let sleeps = clock.sleeps();
    assert!(
        sleeps.windows(2).any(|w| w[1] > w[0]),
        "slow_down made the interval grow: {sleeps:?}"
    );
    let waited: u64 = sleeps.iter().map(|d| d.as_secs()).sum();
    assert!(
        waited >= lifetime,
        "polled until the code's lifetime ({lifetime}s) was over, waited {waited}s"
    );
}

#[tokio::test]
async fn waiting_for_a_device_code_can_be_cancelled() {
    let t = start_with("aitm", device_options()).await;
    let endpoints = Endpoints::custom(&t.sim.base_url()).unwrap();
    let flow = DeviceCodeSignIn::start(
        &endpoints,
        &t.sim.tenant_id(),
        CLIENT_ID,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = std::time::Instant::now();
    assert!(matches!(flow.wait(&cancel).await, Err(Error::Cancelled)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
