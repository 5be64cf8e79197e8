//! P2: the blast-radius sweep over the generated large tenant (200 users, 30 days, about 250,000
//! sign-ins and 1,000,000 audit records), every request answered 50 ms late; and the same sweep
//! against a tenant that answers one request at a time, the sequential baseline, in the same run.
//!
//! The sweep is `blast::plan_all` over the fifteen checks of one account of the large tenant, with
//! no triage done, so every check reads the last 30 days: what the admin waits on after
//! containment.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Duration as Span;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        ADMIN,
    },
    procedure::{blast, Procedure},
};
use firebreak_graph::{collect_items, CancellationToken, Client};
use firebreak_sim::Scenario;

use crate::lab::{Lab, Measured, Segments};
use crate::Failure;

/// What one sweep measured.
pub struct Sweep {
    /// The figures.
    pub measured: Measured,
    /// What was swept, in words.
    pub what: String,
    /// Checks that failed, with why.
    pub failures: Vec<String>,
}

/// Sweeps the large tenant; `max_concurrent` > 0 makes the tenant answer that many at once.
pub async fn run(latency: Duration, max_concurrent: usize) -> Result<Sweep, Failure> {
    let lab = Lab::start_with(Scenario::builtin("large-tenant")?, latency, max_concurrent).await?;
    let server = lab.server();
    let env = lab.env();
    // A generated user (the scenario's own few accounts have no generated activity), found
    // before the measured run starts.
    let named = Scenario::builtin("large-tenant")?.user_principal_names();
    let account = collect_items(lab.client.list_users(None))
        .await?
        .into_iter()
        .filter_map(|u| u.user_principal_name)
        .find(|upn| !named.iter().any(|n| n.eq_ignore_ascii_case(upn)))
        .ok_or("the large tenant has no generated user")?;
    let now = lab.control.now();
    let case = lab.store.declare(
        ADMIN,
        CaseMetadata {
            title: "Benchmark: blast-radius sweep".into(),
            detected_at: now - Span::days(29),
            aware_at: now,
            alert_source: AlertSource::DefenderAlert,
            indicators: vec!["benchmark".into()],
            affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
            severity: Severity::High,
            accounts: vec![account.clone()],
            incident_commander: "Benchmark".into(),
            external_ticket: None,
        },
    )?;
    let procedure = Procedure::<Client>::compromised_account(1, account.clone());
    let mut segments = Segments::new(server);
    let results = segments
        .run(
            server,
            "blast::plan_all".into(),
            blast::plan_all(
                &procedure,
                &env,
                &case.id,
                &CancellationToken::new(),
                &|_| {},
            ),
        )
        .await?;
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (key, result) in &results {
        match result {
            Ok(plan) => {
                let status = plan
                    .facts
                    .pointer("/check/status")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("none");
                *statuses.entry(status.to_owned()).or_default() += 1;
            }
            Err(e) => failures.push(format!("{key}: {e}")),
        }
    }
    let counted: Vec<String> = statuses.iter().map(|(s, n)| format!("{n} {s}")).collect();
    Ok(Sweep {
        measured: segments.finish(server, latency),
        what: format!(
            "blast::plan_all over the {} blast-radius checks of {account} over the last 30 days ({})",
            results.len(),
            counted.join(", ")
        ),
        failures,
    })
}
