//! The generated large tenant: a million audit records and 250,000 sign-ins served page by page.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::harness::{enc, Sim};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_sign_ins_page_consistently_newest_first() {
    let sim = Sim::start("large-tenant").await;
    let window =
        enc("createdDateTime ge 2025-05-31T09:00:00Z and createdDateTime le 2025-06-01T09:00:00Z");
    let (big, big_pages) = sim
        .all_pages(
            &format!("/v1.0/auditLogs/signIns?$filter={window}&$select=id,createdDateTime,userId"),
            &[],
        )
        .await;
    let (small, small_pages) = sim
        .all_pages(
            &format!(
                "/v1.0/auditLogs/signIns?$filter={window}&$top=400&$select=id,createdDateTime"
            ),
            &[],
        )
        .await;
    assert!(
        big.len() > 1000,
        "a day of a 200-user tenant has thousands of interactive sign-ins: {}",
        big.len()
    );
    assert!(big_pages >= 2 && small_pages > big_pages);
    assert_eq!(
        big.len(),
        small.len(),
        "page size does not change the result"
    );
    let ids: BTreeSet<&str> = big.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), big.len(), "no repeats");
    assert!(big
        .windows(2)
        .all(|w| w[0]["createdDateTime"].as_str() >= w[1]["createdDateTime"].as_str()));
    let user = big[0]["userId"].as_str().unwrap();
    let (mine, _) = sim
        .all_pages(
            &format!(
                "/v1.0/auditLogs/signIns?$filter={}",
                enc(&format!(
                    "userId eq '{user}' and createdDateTime ge 2025-05-25T00:00:00Z"
                ))
            ),
            &[],
        )
        .await;
    assert!(!mine.is_empty() && mine.iter().all(|s| s["userId"] == user));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_audit_records_are_searchable_by_user() {
    let sim = Sim::start("large-tenant").await;
    let users = sim
        .get("/v1.0/users?$top=5&$select=userPrincipalName")
        .await
        .value();
    let upn = users[3]["userPrincipalName"].as_str().unwrap().to_owned();
    let created = sim
        .graph(Method::POST, "/beta/security/auditLog/queries", Some(json!({"displayName": "one user, one day", "userPrincipalNameFilters": [upn],
            "filterStartDateTime": "2025-05-30T00:00:00Z", "filterEndDateTime": "2025-05-31T00:00:00Z"})))
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let early = sim
        .get(&format!("/beta/security/auditLog/queries/{id}/records"))
        .await;
    assert_eq!(
        early.status, 400,
        "records are not there before the query succeeds"
    );
    sim.advance_minutes(1).await;
    let (records, _) = sim
        .all_pages(
            &format!("/beta/security/auditLog/queries/{id}/records?$top=100"),
            &[],
        )
        .await;
    assert!(!records.is_empty());
    assert!(records
        .iter()
        .all(|r| r["userPrincipalName"] == upn.as_str()));
    assert!(records
        .iter()
        .all(
            |r| r["createdDateTime"].as_str().unwrap() >= "2025-05-30T00:00:00Z"
                && r["createdDateTime"].as_str().unwrap() <= "2025-05-31T00:00:00Z"
        ));
}
