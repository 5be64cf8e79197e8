//! Practice sessions of this run: each "Start" in the Practice section starts a fresh simulated
//! tenant loaded with the chosen scenario, declares a case against it and keeps both here, so the
//! wizard's commands reach that tenant for that case. The case store of a session shares this
//! run's session and lock but is timed by the simulated clock, so the journal and the tenant
//! agree on "now". Sessions live in memory and end with the process; the case stays on disk.
//!
//! The simulator's clock runs at real speed while the admin works; the debrief lets three hours
//! pass once (as the headless run does) so the attacker can try to come back before scoring.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use chrono::{DateTime, Duration, Utc};
use firebreak_core::{
    case::{CaseId, CaseStore, CaseView},
    practice::{self, PracticeOptions, TrainingClock, TrainingControl},
    tenant::{self, SignIn, TenantProfile},
};
use firebreak_sim::{Scenario, SimOptions, SimServer};

use crate::{
    ipc::{IpcError, IpcErrorKind},
    response::Responder,
};

/// Shipped scenarios that are not incidents (a tenant for load and readiness tests).
const NOT_INCIDENTS: &[&str] = &["large-tenant", "readiness-gaps"];

/// A shipped incident scenario, as the Practice section lists it.
pub struct ScenarioCard {
    /// Its name (what `start` takes).
    pub name: String,
    /// One line.
    pub title: String,
    /// What the trainee is told.
    pub briefing: String,
}

/// The shipped incident scenarios.
pub fn scenarios() -> Vec<ScenarioCard> {
    Scenario::builtin_names()
        .into_iter()
        .filter(|n| !NOT_INCIDENTS.contains(n))
        .filter_map(|n| Scenario::builtin(n).ok())
        .map(|s| ScenarioCard {
            name: s.name().to_owned(),
            title: s.title().to_owned(),
            briefing: s.briefing().to_owned(),
        })
        .collect()
}

/// The practice sessions of this run, by case id. Cheap to clone.
#[derive(Clone, Default)]
pub struct Practices {
    sessions: Arc<Mutex<HashMap<CaseId, Arc<Session>>>>,
}

/// One practice: its simulated tenant and what the wizard acts on it with (a client signed in to
/// it and the case store it stamps).
pub struct Session {
    control: Arc<SimControl>,
    responder: Arc<Responder>,
    settled: AtomicBool,
}

/// The simulator's clock and score for core.
struct SimControl(SimServer);

impl TrainingControl for SimControl {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
    fn score(&self) -> serde_json::Value {
        self.0.score()
    }
    fn on_premises(
        &self,
        account: &str,
        task: firebreak_core::procedure::OnPremisesTask,
    ) -> Result<(), String> {
        self.0.on_premises(account, task.name()).map(|_| ())
    }
}

fn failed(message: String) -> IpcError {
    IpcError {
        kind: IpcErrorKind::Failed,
        message,
    }
}

impl Practices {
    /// Starts scenario `name` in a fresh training tenant and declares its case in `cases`.
    pub async fn start(&self, cases: &CaseStore, name: &str) -> Result<CaseView, IpcError> {
        if NOT_INCIDENTS.contains(&name) {
            return Err(failed(format!("{name} is not a practice incident.")));
        }
        let could_not = |e: String| {
            failed(format!(
                "The practice tenant could not start ({e}). Try again; if it happens again, report it with the log file."
            ))
        };
        let scenario = Scenario::builtin(name).map_err(|e| could_not(e.to_string()))?;
        let title = scenario.title().to_owned();
        let options = SimOptions {
            clock_rate: 1.0,
            ..SimOptions::default()
        };
        let (server, training) = crate::tenants::start_simulated(scenario, options)
            .await
            .map_err(could_not)?;
        let control = Arc::new(SimControl(server));
        let clock = TrainingClock(control.clone());
        let client = tenant::connect(
            &TenantProfile::training(),
            SignIn::Training(&training),
            Arc::new(clock.clone()),
        )?;
        let store = cases.with_clock(Arc::new(clock));
        let case = practice::declare_case(&client, &store, control.now(), &title).await?;
        log::info!(
            "practice {name} for case {} on {}",
            case.id,
            training.base_url
        );
        let session = Session {
            control,
            responder: Arc::new(Responder::new(
                client,
                store,
                training.break_glass_upn.into_iter().collect(),
            )),
            settled: AtomicBool::new(false),
        };
        lock(&self.sessions).insert(case.id.clone(), Arc::new(session));
        Ok(case)
    }

    /// The session of case `id`, if it is a practice of this run.
    pub fn find(&self, id: &CaseId) -> Option<Arc<Session>> {
        lock(&self.sessions).get(id).cloned()
    }

    /// The session of case `id`, or why the wizard cannot act on it.
    pub fn session(&self, id: &CaseId) -> Result<Arc<Session>, IpcError> {
        self.find(id).ok_or_else(|| IpcError {
            kind: IpcErrorKind::Invalid,
            message: "This case has no tenant connected in this run. Practice cases work while \
                      Firebreak stays open; start the scenario again from Practice."
                .into(),
        })
    }

    /// Lets case `linked` (opened from practice case `from`, e.g. a sideways-sweep hit) act on
    /// the same training tenant. Nothing happens when `from` is not a practice of this run.
    pub fn share(&self, from: &CaseId, linked: &CaseId) {
        if let Some(session) = self.find(from) {
            lock(&self.sessions).insert(linked.clone(), session);
        }
    }
}

impl Session {
    /// What the wizard acts on the practice tenant with.
    pub fn responder(&self) -> Arc<Responder> {
        self.responder.clone()
    }

    /// The simulator's base URL (loopback), shown in the debrief for scenario authors.
    pub fn tenant_url(&self) -> String {
        self.control.0.base_url()
    }

    /// Lets three simulated hours pass once (the attacker tries to come back), then returns the
    /// score and the attacker's log.
    pub fn debrief(&self) -> (serde_json::Value, serde_json::Value) {
        if !self.settled.swap(true, Ordering::SeqCst) {
            self.control.advance(PracticeOptions::default().settle);
        }
        (self.control.0.score(), self.control.0.attacker())
    }
}

/// Sessions are only inserted and looked up; a poisoned lock still holds a whole map.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use firebreak_core::{clock::SystemClock, paths::DataRoot};

    #[test]
    fn only_incident_scenarios_are_offered_each_with_a_story() {
        let cards = scenarios();
        assert!(cards.iter().any(|c| c.name == "aitm"));
        assert!(cards
            .iter()
            .all(|c| !NOT_INCIDENTS.contains(&c.name.as_str())));
        assert!(
            cards.iter().all(|c| !c.title.is_empty()),
            "every card has a title"
        );
    }

    #[tokio::test]
    async fn a_started_practice_declares_a_case_whose_plan_comes_from_its_tenant() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let cases = CaseStore::new(&root, Arc::new(SystemClock)).expect("store");
        let practices = Practices::default();
        let case = practices.start(&cases, "aitm").await.expect("start");
        assert!(!case.metadata.accounts.is_empty());
        let session = practices.session(&case.id).expect("session");
        let responder = session.responder();
        let procedure = responder.procedure(&case.id, 1).expect("procedure");
        let plan = procedure
            .plan(&responder.env(), &case.id, "triage")
            .await
            .expect("plan");
        assert_eq!(plan.account, case.metadata.accounts[0]);
        assert!(
            responder.procedure(&case.id, 9).is_err(),
            "no ninth account"
        );
        let other = CaseId::parse("not-a-practice").expect("id");
        assert!(
            practices.session(&other).is_err(),
            "other cases have no session"
        );
        let (score, attacker) = session.debrief();
        assert!(score.get("attackerArtefacts").is_some(), "{score}");
        assert!(attacker.get("log").is_some(), "{attacker}");
    }
}
