//! Faults on demand: 429 with Retry-After at a rate, 503, dropped connections, latency, and tokens
//! that stop working before their `exp`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::harness::Sim;

#[tokio::test]
async fn throttling_at_a_rate_answers_429_with_retry_after_in_graphs_shape() {
    let sim = Sim::start("aitm").await;
    sim.control(
        Method::POST,
        "/faults",
        Some(json!({"throttleRate": 0.5, "retryAfterSeconds": 3})),
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let reply = sim.get("/v1.0/users?$top=1").await;
        if reply.status == 429 {
            assert_eq!(reply.code(), "TooManyRequests");
            assert_eq!(
                reply
                    .headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()),
                Some("3")
            );
        }
        statuses.push(reply.status);
    }
    assert_eq!(
        statuses,
        [200, 429, 200, 429, 200, 429],
        "half of the requests, deterministically"
    );
    sim.control(Method::POST, "/faults", Some(json!({}))).await;
    assert_eq!(
        sim.get("/v1.0/users?$top=1").await.status,
        200,
        "faults can be switched off"
    );
}

#[tokio::test]
async fn unavailable_and_dropped_connections_happen_on_demand() {
    let sim = Sim::start("aitm").await;
    sim.control(
        Method::POST,
        "/faults",
        Some(json!({"unavailableNext": 1, "retryAfterSeconds": 1})),
    )
    .await;
    let reply = sim.get("/v1.0/users?$top=1").await;
    assert_eq!(reply.status, 503);
    assert!(reply.headers.get("retry-after").is_some());
    sim.control(Method::POST, "/faults", Some(json!({"dropNext": 1})))
        .await;
    let dropped = sim
        .http
        .get(format!("{}/v1.0/users", sim.base))
        .bearer_auth(sim.token())
        .send()
        .await;
    let error = dropped.expect_err("the connection is closed without an answer");
    assert!(!error.is_status() && !error.is_timeout(), "{error}");
    assert_eq!(
        sim.get("/v1.0/users?$top=1").await.status,
        200,
        "the next request is served"
    );
    let exchange_token = sim.secret_token(crate::harness::EXCHANGE).await;
    sim.control(Method::POST, "/faults", Some(json!({"throttleNext": 1})))
        .await;
    let exo = sim
        .exo_raw(&exchange_token, "Get-Mailbox", json!({}), &[])
        .await;
    assert_eq!(exo.status, 429, "Exchange is throttled too");
}

#[tokio::test]
async fn every_second_throttled_exchange_answer_is_plain_text_with_retry_after() {
    let sim = Sim::start("aitm").await;
    let token = sim.secret_token(crate::harness::EXCHANGE).await;
    sim.control(
        Method::POST,
        "/faults",
        Some(json!({"throttleNext": 4, "retryAfterSeconds": 3})),
    )
    .await;
    let mut shapes = Vec::new();
    for _ in 0..4 {
        let reply = sim.exo_raw(&token, "Get-Mailbox", json!({}), &[]).await;
        assert_eq!(reply.status, 429);
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("3")
        );
        let content_type = reply
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if content_type.starts_with("text/plain") {
            let text = reply.body["text"].as_str().unwrap_or_default();
            assert!(
                text.starts_with("You have reached the maximum number of concurrent requests"),
                "{text}"
            );
            shapes.push("text");
        } else {
            assert_eq!(
                reply.body["error"]["code"], "TooManyRequests",
                "{}",
                reply.body
            );
            shapes.push("json");
        }
    }
    assert_eq!(shapes, ["json", "text", "json", "text"]);
    // Graph keeps answering throttling in JSON.
    sim.control(Method::POST, "/faults", Some(json!({"throttleNext": 2})))
        .await;
    for _ in 0..2 {
        let reply = sim.get("/v1.0/users?$top=1").await;
        assert_eq!((reply.status, reply.code()), (429, "TooManyRequests"));
    }
    let served = sim.exo_raw(&token, "Get-Mailbox", json!({}), &[]).await;
    assert_eq!(served.status, 200, "{}", served.body);
}

#[tokio::test]
async fn latency_is_added_per_request() {
    let sim = Sim::start_with(
        firebreak_sim::Scenario::builtin("aitm").unwrap(),
        firebreak_sim::SimOptions {
            latency: Duration::from_millis(150),
            ..Default::default()
        },
    )
    .await;
    let started = Instant::now();
    sim.get("/v1.0/users?$top=1").await;
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn tokens_can_expire_early_or_all_at_once() {
    let sim = Sim::start("aitm").await;
    sim.control(
        Method::POST,
        "/faults",
        Some(json!({"tokenLifetimeSeconds": 120})),
    )
    .await;
    assert_eq!(sim.get("/v1.0/users?$top=1").await.status, 200);
    sim.control(Method::POST, "/clock", Some(json!({"advanceMinutes": 3})))
        .await;
    let expired = sim.get("/v1.0/users?$top=1").await;
    assert_eq!(
        (expired.status, expired.code()),
        (401, "InvalidAuthenticationToken"),
        "the token says 3599 s but dies after 120 s"
    );
    assert!(expired.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));
    sim.control(
        Method::POST,
        "/faults",
        Some(json!({"expireTokensNow": true})),
    )
    .await;
    let fresh = sim.secret_token(crate::harness::GRAPH).await;
    let reply = sim
        .graph_as(&fresh, Method::GET, "/v1.0/users?$top=1", None, &[])
        .await;
    assert_eq!(
        reply.status, 200,
        "a token issued after the mass expiry works"
    );
    assert_eq!(
        sim.get("/v1.0/users?$top=1").await.status,
        401,
        "the old one does not"
    );
    sim.control(Method::POST, "/clock", Some(json!({"advanceMinutes": 61})))
        .await;
    assert_eq!(
        sim.graph_as(&fresh, Method::GET, "/v1.0/users?$top=1", None, &[])
            .await
            .status,
        401,
        "exp follows the simulated clock"
    );
}
