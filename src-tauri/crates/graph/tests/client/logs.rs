//! Sign-in logs (v1.0 and beta), directory audits, the Purview audit-log query lifecycle, and
//! paging across many pages.

use std::time::Duration;

use firebreak_graph::{
    collect_items,
    logs::{DirectoryAuditQuery, NewAuditLogQuery, SignInEventType, SignInQuery},
};
use futures_util::StreamExt;
use serde_json::json;

use crate::support::{start, MEGAN, MEGAN_ID};

#[tokio::test]
async fn sign_ins_are_read_per_user_on_v1_and_with_event_types_on_beta() {
    let t = start("aitm").await;
    let q = SignInQuery {
        user_id: Some(MEGAN_ID.into()),
        ..Default::default()
    };
    let interactive = collect_items(t.client.list_sign_ins(&q)).await.unwrap();
    assert!(!interactive.is_empty());
    assert!(interactive
        .iter()
        .all(|s| s.user_id.as_deref() == Some(MEGAN_ID)));
    let beta = SignInQuery {
        event_types: vec![
            SignInEventType::InteractiveUser,
            SignInEventType::NonInteractiveUser,
        ],
        ..q.clone()
    };
    let both = collect_items(t.client.list_sign_ins(&beta)).await.unwrap();
    assert!(
        both.len() >= interactive.len(),
        "beta adds non-interactive sign-ins"
    );
}

#[tokio::test]
async fn directory_audits_are_filtered_by_activity() {
    let t = start("aitm").await;
    let all = collect_items(
        t.client
            .list_directory_audits(&DirectoryAuditQuery::default()),
    )
    .await
    .unwrap();
    assert!(!all.is_empty());
    let name = all[0].activity_display_name.clone().unwrap();
    let q = DirectoryAuditQuery {
        activity_display_name: Some(name.clone()),
        ..Default::default()
    };
    let some = collect_items(t.client.list_directory_audits(&q))
        .await
        .unwrap();
    assert!(some
        .iter()
        .all(|a| a.activity_display_name.as_deref() == Some(name.as_str())));
}

#[tokio::test]
async fn an_audit_log_query_is_created_polled_until_it_succeeds_and_its_records_paged() {
    let t = start("aitm").await;
    let now = t.sim.now();
    let created = t
        .client
        .create_audit_log_query(&NewAuditLogQuery {
            display_name: "Firebreak: Megan mailbox".into(),
            filter_start_date_time: now - chrono::Duration::days(7),
            filter_end_date_time: now,
            user_principal_name_filters: vec![MEGAN.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.status.as_deref(), Some("notStarted"));
    // The simulated clock is frozen: polling alone gives up at the timeout, unfinished.
    let waiting = t
        .client
        .wait_for_audit_log_query(
            &created.id,
            Duration::from_secs(10),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(!waiting.is_finished());
    assert_eq!(
        t.clock.sleeps(),
        vec![Duration::from_secs(10); 3],
        "polls every interval until the timeout"
    );
    t.control("clock", json!({"advanceMinutes": 3})).await;
    let done = t
        .client
        .wait_for_audit_log_query(
            &created.id,
            Duration::from_secs(10),
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert_eq!(done.status.as_deref(), Some("succeeded"));
    let records = collect_items(t.client.list_audit_log_records(&created.id))
        .await
        .unwrap();
    assert!(records
        .iter()
        .all(|r| r.user_principal_name.as_deref() == Some(MEGAN)));
    let listed = collect_items(t.client.list_audit_log_queries())
        .await
        .unwrap();
    assert!(listed.iter().any(|q| q.id == created.id));
}

#[tokio::test]
async fn paging_follows_next_links_across_many_pages_and_keeps_each_raw_page() {
    let t = start("large-tenant").await;
    let users = collect_items(t.client.list_users(None)).await.unwrap();
    assert!(users.len() >= 200, "{}", users.len());
    let q = SignInQuery {
        since: Some(t.sim.now() - chrono::Duration::days(3)),
        ..Default::default()
    };
    let mut pages = t.client.list_sign_ins(&q);
    let mut count = 0;
    let mut items = 0;
    let mut ids = std::collections::HashSet::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        count += 1;
        items += page.items.len();
        assert!(page.items.len() <= 1000, "Graph's maximum page size");
        let raw: serde_json::Value = serde_json::from_str(&page.raw).unwrap();
        assert_eq!(
            raw["value"].as_array().map(Vec::len),
            Some(page.items.len()),
            "raw is the page as received"
        );
        assert_eq!(
            raw.get("@odata.nextLink").and_then(|l| l.as_str()),
            page.next_link.as_deref()
        );
        for s in page.items {
            assert!(
                ids.insert(s.id),
                "no sign-in is returned twice across pages"
            );
        }
    }
    assert!(
        count >= 3,
        "expected several pages, got {count} with {items} sign-ins"
    );
}
