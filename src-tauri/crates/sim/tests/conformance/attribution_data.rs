//! What attribution without Entra ID P2 reads from the sign-in log: the beta-only network and
//! session (served on beta, never on v1.0), the user agent (both: Microsoft's current v1.0
//! metadata has it, see `V1_ADDITIONS` in src/described.rs), risk levels `hidden` without P2, a
//! prefix search of addresses, and the attacker's own generated sign-ins carrying the network
//! and the stolen session the scenario names.

use serde_json::json;

use crate::harness::{enc, Sim};

#[tokio::test]
async fn the_network_and_session_are_served_on_beta_only_and_the_user_agent_on_both() {
    let sim = Sim::start("aitm-p1").await;
    let ines = sim.user_id("ines.duarte").await;
    let filter = enc(&format!(
        "userId eq '{ines}' and signInEventTypes/any(t: t eq 'interactiveUser')"
    ));
    let beta = sim
        .get(&format!("/beta/auditLogs/signIns?$filter={filter}"))
        .await;
    assert_eq!(beta.status, 200, "{}", beta.body);
    let attacker = beta
        .value()
        .into_iter()
        .find(|s| s["ipAddress"] == "203.0.113.45")
        .expect("the attacker's sign-in");
    assert_eq!(attacker["autonomousSystemNumber"], json!(14061));
    assert!(attacker["sessionId"].is_string());
    assert!(attacker["userAgent"].as_str().unwrap().contains("Linux"));

    let v1 = sim
        .get(&format!(
            "/v1.0/auditLogs/signIns?$filter={}",
            enc(&format!("userId eq '{ines}'"))
        ))
        .await;
    assert_eq!(v1.status, 200, "{}", v1.body);
    assert!(!v1.value().is_empty());
    for s in v1.value() {
        for beta_only in ["autonomousSystemNumber", "sessionId", "signInEventTypes"] {
            assert!(s.get(beta_only).is_none(), "v1.0 served {beta_only}: {s}");
        }
    }
}

#[tokio::test]
async fn without_p2_sign_in_risk_levels_read_hidden_and_with_p2_they_do_not() {
    let sim = Sim::start("aitm-p1").await;
    let all = sim.get("/v1.0/auditLogs/signIns?$top=50").await;
    assert!(!all.value().is_empty());
    for s in all.value() {
        assert_eq!(s["riskLevelDuringSignIn"], "hidden", "{s}");
        assert_eq!(s["riskLevelAggregated"], "hidden", "{s}");
        assert_eq!(s["riskDetail"], "hidden", "{s}");
    }
    let p2 = Sim::start("aitm").await;
    let risky = p2
        .get(&format!(
            "/v1.0/auditLogs/signIns?$filter={}",
            enc("ipAddress eq '203.0.113.45'")
        ))
        .await;
    assert!(risky
        .value()
        .iter()
        .any(|s| s["riskLevelDuringSignIn"] == "medium"));
}

#[tokio::test]
async fn addresses_can_be_searched_by_prefix_a_range() {
    let sim = Sim::start("second-hop-p1").await;
    let range = sim
        .get(&format!(
            "/beta/auditLogs/signIns?$filter={}",
            enc("startswith(ipAddress, '203.0.113.') and signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser')")
        ))
        .await;
    assert_eq!(range.status, 200, "{}", range.body);
    let addresses: std::collections::BTreeSet<String> = range
        .value()
        .iter()
        .map(|s| s["ipAddress"].as_str().unwrap().to_owned())
        .collect();
    assert!(addresses.contains("203.0.113.61"), "{addresses:?}");
    assert!(addresses.contains("203.0.113.77"), "{addresses:?}");
    assert!(addresses.iter().all(|a| a.starts_with("203.0.113.")));
}

#[tokio::test]
async fn the_attackers_token_refreshes_carry_its_network_and_the_stolen_session() {
    let sim = Sim::start("aitm-p1").await;
    let ines = sim.user_id("ines.duarte").await;
    sim.advance_minutes(120).await;
    let filter = enc(&format!(
        "userId eq '{ines}' and createdDateTime ge 2025-10-14T17:30:00Z and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
    ));
    let fresh = sim
        .get(&format!("/beta/auditLogs/signIns?$filter={filter}"))
        .await;
    let generated: Vec<_> = fresh
        .value()
        .into_iter()
        .filter(|s| s["ipAddress"] == "203.0.113.46")
        .collect();
    assert!(!generated.is_empty(), "{}", fresh.body);
    for s in generated {
        assert_eq!(s["autonomousSystemNumber"], json!(14061), "{s}");
        assert_eq!(
            s["sessionId"], "9f3c2b1a-7e6d-4c5b-8a49-3f2e1d0c9b8a",
            "{s}"
        );
    }
}
