//! Outlook through Graph: rules, settings, messages.

use firebreak_graph::collect_items;
use futures_util::StreamExt;

use crate::support::{start, user, MEGAN};

#[tokio::test]
async fn graph_lists_visible_inbox_rules_keeps_the_raw_page_and_deletes_one() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let page = t
        .client
        .list_message_rules(&megan)
        .next()
        .await
        .unwrap()
        .unwrap();
    assert!(
        page.raw.contains("\"value\""),
        "the raw body is kept as received"
    );
    let rules = page.items;
    assert!(rules.len() >= 2, "{rules:?}");
    assert!(
        rules.iter().all(|r| !r
            .display_name
            .as_deref()
            .unwrap_or("")
            .contains("Outlook Sync")),
        "Graph does not show hidden rules"
    );
    let (rule, raw) = t
        .client
        .get_message_rule(&megan, &rules[0].id)
        .await
        .unwrap();
    assert_eq!(rule.id, rules[0].id);
    assert!(raw.contains(&rule.id));
    t.client
        .delete_message_rule(&megan, &rule.id)
        .await
        .unwrap();
    let after = collect_items(t.client.list_message_rules(&megan))
        .await
        .unwrap();
    assert_eq!(after.len(), rules.len() - 1);
}

#[tokio::test]
async fn mailbox_settings_and_sent_items_are_read() {
    let t = start("aitm").await;
    let megan = user(MEGAN);
    let (_settings, raw) = t.client.get_mailbox_settings(&megan).await.unwrap();
    assert!(raw.starts_with('{'));
    let sent = collect_items(t.client.list_messages(&megan, "sentitems", None))
        .await
        .unwrap();
    let mut times: Vec<_> = sent.iter().filter_map(|m| m.sent_date_time).collect();
    let sorted = {
        let mut s = times.clone();
        s.sort_by(|a, b| b.cmp(a));
        s
    };
    assert_eq!(times, sorted, "newest first");
    times.dedup();
    assert!(t
        .client
        .list_messages(&megan, "../inbox", None)
        .next()
        .await
        .unwrap()
        .is_err());
}
