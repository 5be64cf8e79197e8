//! P1: the full containment of the AiTM scenario against the training tenant, every request
//! answered 50 ms late. The run is what `firebreak practice` does with the tool's recommended
//! selections — declare the case from the alert, then for each flagged account plan and run
//! triage and every containment step in order — timed from the first request to the last step's
//! read-back, with each plan and each run of a step one segment of the critical path.

use std::collections::BTreeSet;
use std::time::Duration;

use firebreak_core::{
    practice,
    procedure::{tenant::IncidentTenant, Confirmation, Phase, Procedure},
};
use firebreak_graph::{Client, UserRef};
use firebreak_sim::Scenario;

use crate::lab::{Lab, Measured, Segments};
use crate::Failure;

/// What the containment run measured, and whether it contained the incident.
pub struct Containment {
    /// The figures.
    pub measured: Measured,
    /// Steps run.
    pub steps: usize,
    /// Why the run does not count as containment (empty when it does).
    pub problems: Vec<String>,
}

/// Runs the containment of scenario `name` with every request `latency` late.
pub async fn run(name: &str, latency: Duration) -> Result<Containment, Failure> {
    let lab = Lab::start(Scenario::builtin(name)?, latency).await?;
    let server = lab.server();
    let env = lab.env();
    let mut segments = Segments::new(server);
    let now = lab.control.now();
    let case = segments
        .run(
            server,
            "declare the case".into(),
            practice::declare_case(&lab.client, &lab.store, now, "benchmark"),
        )
        .await?;
    let mut steps = 0;
    let mut reached = BTreeSet::new();
    for (index, account) in case.metadata.accounts.iter().enumerate() {
        let procedure = Procedure::<Client>::compromised_account(index + 1, account.clone());
        let view = procedure.view(&lab.store.case(&case.id)?);
        let keys: Vec<&'static str> = view
            .iter()
            .filter(|s| matches!(s.info.phase, Phase::Triage | Phase::Contain))
            .map(|s| s.info.key)
            .collect();
        for key in keys {
            let id = procedure.step_id(key);
            let plan = segments
                .run(
                    server,
                    format!("plan {id}"),
                    procedure.plan(&env, &case.id, key),
                )
                .await?;
            reached.extend(
                plan.items
                    .iter()
                    .filter_map(|item| item.id.split_once(':').map(|(_, id)| id.to_owned())),
            );
            let confirmation = Confirmation {
                selected: plan.recommended(),
                typed_account: Some(account.clone()),
                ..Confirmation::default()
            };
            segments
                .run(
                    server,
                    format!("run {id}"),
                    procedure.run(&env, &case.id, key, &confirmation),
                )
                .await?;
            steps += 1;
        }
    }
    let measured = segments.finish(server, latency);
    // Judge as the practice run does, after the clock was let run: did this contain it?
    let mut user_ids = BTreeSet::new();
    for account in &case.metadata.accounts {
        if let Some(user) = lab.client.user(&UserRef::new(account)?).await? {
            user_ids.insert(user.id);
        }
    }
    lab.control
        .advance(practice::PracticeOptions::default().settle);
    let problems = practice::judge(&lab.control.score(), &user_ids, &reached).problems;
    Ok(Containment {
        measured,
        steps,
        problems,
    })
}
