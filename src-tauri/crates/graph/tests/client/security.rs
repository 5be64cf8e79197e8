//! Identity Protection and Defender.

use firebreak_graph::collect_items;

use crate::support::{start, MEGAN_ID};

#[tokio::test]
async fn risky_users_and_detections_are_read_and_a_user_confirmed_compromised() {
    let t = start("aitm").await;
    let risky = collect_items(t.client.list_risky_users(true))
        .await
        .unwrap();
    assert!(risky.iter().any(|r| r.id == MEGAN_ID));
    let detections = collect_items(t.client.list_risk_detections(Some(MEGAN_ID), None))
        .await
        .unwrap();
    assert!(detections
        .iter()
        .all(|d| d.user_id.as_deref() == Some(MEGAN_ID)));
    t.client.confirm_compromised(&[MEGAN_ID]).await.unwrap();
    let after = t.client.get_risky_user(MEGAN_ID).await.unwrap();
    assert_eq!(after.risk_state.as_deref(), Some("confirmedCompromised"));
    assert!(
        t.client.confirm_compromised(&["megan"]).await.is_err(),
        "only object ids are sent"
    );
}

#[tokio::test]
async fn incidents_and_alerts_are_listed_and_read_raw() {
    let t = start("aitm").await;
    let incidents = collect_items(t.client.list_incidents(None, true))
        .await
        .unwrap();
    assert!(!incidents.is_empty());
    let (incident, raw) = t.client.get_incident(&incidents[0].id).await.unwrap();
    assert_eq!(incident.id, incidents[0].id);
    assert!(raw.contains(&incident.id));
    let alerts = collect_items(t.client.list_alerts(None)).await.unwrap();
    assert!(!alerts.is_empty());
    let (alert, _) = t.client.get_alert(&alerts[0].id).await.unwrap();
    assert_eq!(alert.id, alerts[0].id);
}
