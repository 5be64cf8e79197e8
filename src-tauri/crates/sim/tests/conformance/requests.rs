//! The request log benchmarks read (`/_sim/requests`, `SimServer::request_log`): what is logged
//! about each Graph, Exchange and token request, what is not logged, and the one-at-a-time gate.

use std::time::Duration;

use firebreak_sim::{Scenario, SimOptions};
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Sim, EXCHANGE};

#[tokio::test]
async fn graph_exchange_and_token_requests_are_logged_with_times_sizes_and_revealed_ids() {
    let sim = Sim::start("aitm").await;
    let users = sim.get("/v1.0/users?$top=2&$select=id").await;
    assert_eq!(users.status, 200);
    let first_id = users.value()[0]["id"].as_str().unwrap().to_lowercase();
    let token = sim.secret_token(EXCHANGE).await;
    let megan = sim.upn("megan.bowen");
    sim.exo(&token, "Get-InboxRule", json!({"Mailbox": megan}))
        .await;

    let log = sim.control(Method::GET, "/requests", None).await;
    let entries = log["requests"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/_sim")),
        "control requests are not the tenant's: {log}"
    );
    let tokens = entries
        .iter()
        .filter(|e| e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(tokens, 2, "one Graph and one Exchange token: {log}");
    let listed = entries
        .iter()
        .find(|e| e["path"] == "/v1.0/users")
        .expect("the users listing is logged");
    assert_eq!(listed["method"], "GET");
    assert_eq!(listed["query"], "$top=2&$select=id");
    assert_eq!(listed["status"], 200);
    assert!(listed["endUs"].as_u64() >= listed["startUs"].as_u64());
    assert!(listed["bytes"].as_u64().unwrap() > 0);
    assert!(
        listed["revealedIds"]
            .as_array()
            .unwrap()
            .contains(&Value::from(first_id)),
        "the ids the answer revealed: {listed}"
    );
    let exchange = entries
        .iter()
        .find(|e| e["path"].as_str().unwrap().contains("/adminapi/"))
        .expect("the Exchange request is logged");
    assert_eq!(exchange["operation"], "Get-InboxRule");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    sim.control(Method::DELETE, "/requests", None).await;
    let log = sim.control(Method::GET, "/requests", None).await;
    assert_eq!(log["requests"], json!([]), "DELETE forgets the log");
    sim.get("/v1.0/users?$top=1").await;
    assert_eq!(
        sim.server.request_log()[0].seq,
        seqs.last().unwrap() + 1,
        "numbers keep counting after a clear"
    );
}

#[tokio::test]
async fn a_tenant_limited_to_one_request_at_a_time_answers_them_one_after_another() {
    let sim = Sim::start_with(
        Scenario::builtin("aitm").unwrap(),
        SimOptions {
            latency: Duration::from_millis(30),
            max_concurrent_requests: 1,
            ..SimOptions::default()
        },
    )
    .await;
    let first = sim.server.next_request_seq();
    let (a, b, c) = tokio::join!(
        sim.get("/v1.0/users?$top=1"),
        sim.get("/v1.0/users?$top=2"),
        sim.get("/v1.0/users?$top=3"),
    );
    let statuses = [a.status, b.status, c.status];
    assert_eq!(statuses, [200; 3], "sent at once, all answered");
    let mut log: Vec<_> = sim
        .server
        .request_log()
        .into_iter()
        .filter(|r| r.seq >= first)
        .collect();
    log.sort_by_key(|r| r.start_us);
    assert_eq!(log.len(), 3);
    assert!(
        log.windows(2).all(|w| w[1].start_us >= w[0].end_us),
        "no two answered at once: {log:?}"
    );
}
