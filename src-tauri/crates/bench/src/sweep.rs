//! P2: the blast-radius sweep over the generated large tenant (200 users, 30 days, about 250,000
//! sign-ins and 1,000,000 audit records), every request answered 50 ms late; and the same sweep
//! against a tenant that answers one request at a time, the sequential baseline, in the same run.
//!
//! Until the blast-radius checks have an entry point that plans them all, the sweep measured is
//! the reads that exist: the triage and preserve plans (sign-ins, audit, methods, mailbox, grants)
//! of one account of the large tenant.

use std::time::Duration;

use chrono::Duration as Span;
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        ADMIN,
    },
    practice::TrainingControl,
    procedure::Procedure,
};
use firebreak_graph::Client;
use firebreak_sim::Scenario;

use crate::lab::{Lab, Measured, Segments};
use crate::Failure;

/// What one sweep measured.
pub struct Sweep {
    /// The figures.
    pub measured: Measured,
    /// What was swept, in words.
    pub what: String,
}

/// Sweeps the large tenant; `max_concurrent` > 0 makes the tenant answer that many at once.
pub async fn run(latency: Duration, max_concurrent: usize) -> Result<Sweep, Failure> {
    let lab = Lab::start_with(Scenario::builtin("large-tenant")?, latency, max_concurrent).await?;
    let server = lab.server();
    let env = lab.env();
    let account = Scenario::builtin("large-tenant")?
        .user_principal_names()
        .into_iter()
        .find(|upn| !upn.starts_with("breakglass@"))
        .ok_or("the large tenant has no user")?;
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
    for key in ["triage", "preserve"] {
        segments
            .run(
                server,
                format!("plan {key}"),
                procedure.plan(&env, &case.id, key),
            )
            .await?;
    }
    Ok(Sweep {
        measured: segments.finish(server, latency),
        what: format!(
            "the triage and preserve plans of {account} (the blast-radius checks' sweep entry point was not there yet)"
        ),
    })
}
