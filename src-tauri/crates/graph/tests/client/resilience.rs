//! Throttling, dropped connections, token expiry, permission errors, licences, cancellation and
//! the per-mailbox concurrency limit.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use firebreak_graph::{
    logs::SignInQuery, methods::MethodKind, Error, Operation, Resource, SystemClock,
};
use firebreak_sim::SimOptions;
use futures_util::StreamExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::{
    client_for, config_for, secret_credentials, start, start_with, user, TestClock, MEGAN,
};

#[tokio::test]
async fn a_429_storm_is_ridden_out_honouring_retry_after() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Graph).await.unwrap();
    t.faults(json!({"throttleNext": 4, "retryAfterSeconds": 7}))
        .await;
    let megan = t.client.get_user(&user(MEGAN)).await.unwrap();
    assert_eq!(megan.user_principal_name.as_deref(), Some(MEGAN));
    assert_eq!(
        t.clock.sleeps(),
        vec![Duration::from_secs(7); 4],
        "waited exactly Retry-After each time"
    );
}

#[tokio::test]
async fn an_endless_storm_stops_after_the_attempt_limit_with_graphs_error() {
    let t = start("aitm").await;
    t.faults(json!({"throttleRate": 1.0, "retryAfterSeconds": 1}))
        .await;
    let err = t.client.get_user(&user(MEGAN)).await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert!(err.is_throttled());
    assert_eq!(err.code(), Some("TooManyRequests"));
    assert!(err.request_id().is_some());
    assert!(err
        .raw_body()
        .is_some_and(|b| b.contains("TooManyRequests")));
    assert_eq!(t.clock.sleeps().len(), 5, "six attempts, five waits");
}

#[tokio::test]
async fn exchange_throttling_in_json_or_plain_text_is_waited_out_per_retry_after() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Exchange).await.unwrap();
    // The simulated Exchange answers every second throttled request in plain text.
    t.faults(json!({"throttleNext": 3, "retryAfterSeconds": 5}))
        .await;
    let page = t.client.get_mailbox(&user(MEGAN)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        t.clock.sleeps(),
        vec![Duration::from_secs(5); 3],
        "waited Retry-After after the JSON and the plain-text answers alike"
    );
}

#[tokio::test]
async fn an_endless_exchange_storm_stops_with_the_raw_text_and_what_to_do() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Exchange).await.unwrap();
    t.faults(json!({"throttleRate": 1.0, "retryAfterSeconds": 2}))
        .await;
    let err = t.client.get_mailbox(&user(MEGAN)).await.unwrap_err();
    assert!(err.is_throttled(), "{err:?}");
    assert_eq!(err.status(), Some(429));
    assert_eq!(t.clock.sleeps().len(), 5, "six attempts, five waits");
    let raw = err.raw_body().unwrap_or_default();
    assert!(
        raw.starts_with("You have reached the maximum number of concurrent requests per tenant"),
        "the sixth answer is the plain-text one, kept as received: {raw}"
    );
    let told = err.to_string();
    for expected in [
        "Exchange Online",
        "tried 6 times",
        "close other Exchange admin sessions",
        "2 seconds",
        "You have reached the maximum number of concurrent requests",
    ] {
        assert!(told.contains(expected), "{expected:?} missing from: {told}");
    }
}

#[tokio::test]
async fn exchanges_named_transient_failures_are_retried_like_an_unavailable_service() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Exchange).await.unwrap();
    // Domain controller in maintenance (500), overloaded (400), then the set changed (500).
    t.faults(json!({"exchangeTransientNext": 3})).await;
    let page = t.client.get_mailbox(&user(MEGAN)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(t.clock.sleeps().len(), 3, "{:?}", t.clock.sleeps());
}

#[tokio::test]
async fn a_retry_after_in_decimal_seconds_is_waited_exactly() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Exchange).await.unwrap();
    t.faults(json!({"throttleNext": 2, "retryAfterSeconds": 1.5}))
        .await;
    t.client.get_mailbox(&user(MEGAN)).await.unwrap();
    assert_eq!(
        t.clock.sleeps(),
        vec![Duration::from_millis(1500); 2],
        "JSON and plain-text answers alike"
    );
}

#[tokio::test]
async fn an_exchange_request_may_take_longer_than_a_graph_one() {
    let t = start("aitm").await;
    let clock = TestClock::at(t.sim.now());
    let mut config = config_for(&t.sim, clock);
    config.timeout = Duration::from_millis(300);
    config.retry.max_attempts = 2;
    let client = firebreak_graph::Client::new(config, secret_credentials()).unwrap();
    client.token_claims(Resource::Graph).await.unwrap();
    client.token_claims(Resource::Exchange).await.unwrap();
    t.faults(json!({"latencyMs": 700})).await;
    let graph = client.get_user(&user(MEGAN)).await.unwrap_err();
    assert!(matches!(graph, Error::Transport { .. }), "{graph:?}");
    let exchange = client.get_mailbox(&user(MEGAN)).await;
    assert!(
        exchange.is_ok(),
        "Exchange has its own, longer timeout: {exchange:?}"
    );
}

#[tokio::test]
async fn unavailable_and_dropped_connections_are_retried_for_safe_requests_only() {
    let t = start("aitm").await;
    t.client.token_claims(Resource::Graph).await.unwrap();
    t.faults(json!({"unavailableNext": 1, "dropNext": 1, "retryAfterSeconds": 3}))
        .await;
    t.client.get_user(&user(MEGAN)).await.unwrap();
    let sleeps = t.clock.sleeps();
    assert_eq!(sleeps.len(), 2, "{sleeps:?}");
    assert!(
        sleeps.contains(&Duration::from_secs(3)),
        "503 honours Retry-After: {sleeps:?}"
    );
    t.faults(json!({"dropNext": 1})).await;
    let err = t
        .client
        .create_temporary_access_pass(&user(MEGAN), 60, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transport { .. }),
        "creating a pass is not repeated blindly: {err:?}"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_after_a_401() {
    let t = start("aitm").await;
    t.faults(json!({"tokenLifetimeSeconds": 60})).await;
    let first = t.client.token_claims(Resource::Graph).await.unwrap();
    t.control("clock", json!({"advanceMinutes": 5})).await;
    let megan = t.client.get_user(&user(MEGAN)).await.unwrap();
    assert_eq!(
        megan.user_principal_name.as_deref(),
        Some(MEGAN),
        "the 401 was answered by a new token"
    );
    let second = t.client.token_claims(Resource::Graph).await.unwrap();
    assert!(
        second.exp > first.exp,
        "a new token was issued: {first:?} then {second:?}"
    );
}

#[tokio::test]
async fn a_403_names_the_missing_permission_and_the_step_it_blocks() {
    let t = start("readiness-gaps").await;
    let methods =
        firebreak_graph::collect_items(t.client.list_authentication_methods(&user(MEGAN))).await;
    let err = methods.unwrap_err();
    assert!(
        matches!(
            err,
            Error::PermissionDenied {
                operation: Operation::ReadAuthenticationMethods,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("UserAuthenticationMethod.Read.All"), "{text}");
    assert!(text.contains("Review authentication methods"), "{text}");
    assert!(text.contains("grant admin consent"), "{text}");
    assert_eq!(err.code(), Some("Authorization_RequestDenied"));
    assert!(err
        .raw_body()
        .is_some_and(|b| b.contains("Insufficient privileges")));
    let delete = t
        .client
        .delete_authentication_method(
            &user(MEGAN),
            MethodKind::Phone,
            "c96613cf-cf36-5ecd-86e0-31934bd81397",
        )
        .await
        .unwrap_err();
    assert!(
        delete
            .to_string()
            .contains("UserAuthenticationMethod.ReadWrite.All"),
        "{delete}"
    );
}

#[tokio::test]
async fn sign_in_logs_without_p1_are_a_licence_error_not_a_permission_error() {
    let t = start("readiness-gaps").await;
    let err = t
        .client
        .list_sign_ins(&SignInQuery::default())
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_premium_required(), "{err:?}");
    assert!(matches!(err, Error::Service { status: 403, .. }));
    assert!(err.to_string().contains("P1"), "{err}");
}

#[tokio::test]
async fn cancelling_stops_a_wait_for_retry_after_at_once() {
    let t = start("aitm").await;
    let client = client_for(&t.sim, Arc::new(SystemClock), secret_credentials());
    client.token_claims(Resource::Graph).await.unwrap();
    t.faults(json!({"throttleNext": 1, "retryAfterSeconds": 60}))
        .await;
    let cancel = CancellationToken::new();
    let handle = client.with_cancellation(cancel.clone());
    let task = tokio::spawn(async move { handle.get_user(&user(MEGAN)).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    cancel.cancel();
    let result = task.await.unwrap();
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped without waiting out Retry-After"
    );
    client
        .get_user(&user(MEGAN))
        .await
        .expect("other handles are not cancelled");
}

#[tokio::test]
async fn cancelling_stops_a_slow_response_and_a_stream() {
    let t = start_with(
        "aitm",
        SimOptions {
            latency: Duration::from_secs(5),
            ..SimOptions::default()
        },
    )
    .await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let handle = t.client.with_cancellation(cancel);
    let started = Instant::now();
    let first = handle.list_users(None).next().await.unwrap();
    assert!(matches!(first, Err(Error::Cancelled)), "{first:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn no_more_than_four_requests_run_at_once_against_one_mailbox() {
    let latency = Duration::from_millis(400);
    let t = start_with(
        "aitm",
        SimOptions {
            latency,
            ..SimOptions::default()
        },
    )
    .await;
    let client = client_for(&t.sim, Arc::new(SystemClock), secret_credentials());
    client.token_claims(Resource::Graph).await.unwrap();
    let megan = user(MEGAN);
    let started = Instant::now();
    let calls = (0..8).map(|_| client.get_mailbox_settings(&megan));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= latency * 2,
        "eight calls to one mailbox ran in at least two waves: {elapsed:?}"
    );
    let others = [
        "alex.wilber@contoso-training.onmicrosoft.com",
        "lee.gu@contoso-training.onmicrosoft.com",
    ];
    let started = Instant::now();
    let refs: Vec<_> = (0..8).map(|i| user(others[i % 2])).collect();
    let calls = refs.iter().map(|u| client.get_user(u));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    assert!(
        started.elapsed() < latency * 2,
        "directory calls are not held by the mailbox gate"
    );
}
