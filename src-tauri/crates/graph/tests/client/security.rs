//! Identity Protection and Defender.

use std::{sync::Arc, time::Duration};

use firebreak_graph::{collect_items, SystemClock};
use firebreak_sim::{Scenario, SimOptions, SimServer};
use serde_json::Value;

use crate::support::{client_for, secret_credentials, start, MEGAN_ID};

/// The AiTM tenant with Identity Protection taking `seconds` to process a confirmation, and a
/// client whose waits are real (the simulator paces confirmations in real time when its own clock
/// stands still).
async fn real_time(seconds: i64) -> (SimServer, firebreak_graph::Client) {
    let mut scenario: Value =
        serde_json::from_str(include_str!("../../../sim/scenarios/aitm.json")).unwrap();
    scenario["tenant"]["riskProcessingSeconds"] = seconds.into();
    let sim = SimServer::start(
        Scenario::from_json(&scenario.to_string()).unwrap(),
        SimOptions::default(),
    )
    .await
    .unwrap();
    let client = client_for(&sim, Arc::new(SystemClock), secret_credentials());
    (sim, client)
}

#[tokio::test]
async fn a_throttled_confirmation_without_retry_after_is_retried_after_a_backoff() {
    let (sim, client) = real_time(0).await;
    client.confirm_compromised(&[MEGAN_ID]).await.unwrap();
    // Identity Protection takes one a second per tenant and says 429 without Retry-After.
    client
        .confirm_compromised(&["b18a5ff6-6e17-5fc0-96bc-4cf06b3d803d"])
        .await
        .unwrap();
    let actions = sim.actions().to_string();
    assert!(
        actions.contains("one request a second per tenant"),
        "the second confirmation was throttled first: {actions}"
    );
}

#[tokio::test]
async fn waiting_for_a_risky_user_ends_when_processing_does() {
    let (_sim, client) = real_time(1).await;
    client.confirm_compromised(&[MEGAN_ID]).await.unwrap();
    let settled = client
        .wait_for_risky_user(
            MEGAN_ID,
            Duration::from_millis(300),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(settled.is_processing, Some(false), "{settled:?}");
    assert_eq!(settled.risk_state.as_deref(), Some("confirmedCompromised"));
}

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
    let during = t.client.get_risky_user(MEGAN_ID).await.unwrap();
    assert_eq!(
        during.is_processing,
        Some(true),
        "Identity Protection processes the confirmation asynchronously"
    );
    t.sim.advance(chrono::Duration::minutes(1));
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

#[tokio::test]
async fn a_confirmation_refused_for_lack_of_p2_is_a_licence_gap_not_a_permission() {
    let t = start("aitm-p1").await;
    let err = t
        .client
        .confirm_compromised(&["e5d213ec-9be6-5752-973b-a1c43c2a4a91"])
        .await
        .unwrap_err();
    assert!(err.is_premium_required(), "{err:?}");
    assert!(
        !matches!(err, firebreak_graph::Error::PermissionDenied { .. }),
        "no permission is missing: {err}"
    );
    assert!(err.to_string().contains("Entra ID P2"), "{err}");
}
