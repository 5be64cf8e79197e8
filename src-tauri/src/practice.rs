//! Practice sessions of this run: each "Start" in the Practice section starts a fresh simulated
//! tenant loaded with the chosen scenario, declares a case against it and keeps both here, so the
//! wizard's commands reach that tenant for that case. The case store of a session shares this
//! run's session and lock but is timed by the simulated clock, so the journal and the tenant
//! agree on "now". Sessions live in memory and end with the process; the case stays on disk.
//!
//! Besides the shipped scenarios, a practice can play a generated incident
//! (`firebreak_sim::incident`): the same seed and size always give the same incident, so the
//! session keeps both for the practice screen and the debrief to show, and the admin can replay it.
//!
//! The simulator's clock runs at real speed while the admin works; the debrief lets three hours
//! pass once (as the headless run does) so the attacker can try to come back before scoring.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hasher},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use firebreak_core::{
    case::{CaseId, CaseStore, CaseView},
    practice::{self, PracticeOptions, TrainingClock},
    tenant::{self, SignIn, TenantProfile},
};
use firebreak_sim::{
    incident::{self, Size},
    Scenario, SimOptions, SimServer,
};

use crate::{
    ipc::{IpcError, IpcErrorKind},
    response::Responder,
};

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
    Scenario::builtin_incident_names()
        .into_iter()
        .filter_map(|n| Scenario::builtin(n).ok())
        .map(|s| ScenarioCard {
            name: s.name().to_owned(),
            title: s.title().to_owned(),
            briefing: s.briefing().to_owned(),
        })
        .collect()
}

/// A generated incident a practice plays: what replays it, and what it was (for the debrief).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The generator's seed.
    pub seed: u32,
    /// The tenant's size.
    pub size: Size,
    /// What the trainee is told (the alert and who it names; no more than a shipped card says).
    pub briefing: String,
    /// One line naming the parts. It gives the answer away: the debrief shows it, nothing before.
    pub summary: String,
}

/// A seed for "a new incident" when the admin gave none. Below a million so it is easy to write
/// down; `RandomState` is seeded from the operating system's randomness.
pub fn random_seed() -> u32 {
    let n = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The remainder is below a million, so it fits.
    u32::try_from(n % 1_000_000).unwrap_or(0)
}

/// The practice sessions of this run, by case id. Cheap to clone.
#[derive(Clone, Default)]
pub struct Practices {
    sessions: Arc<Mutex<HashMap<CaseId, Arc<Session>>>>,
}

/// One practice: its simulated tenant and what the wizard acts on it with (a client signed in to
/// it and the case store it stamps).
pub struct Session {
    control: Arc<SimServer>,
    responder: Arc<Responder>,
    settled: AtomicBool,
    generated: Option<Generated>,
}

fn could_not_start(why: &str) -> IpcError {
    failed(format!(
        "The practice tenant could not start ({why}). Try again; if it happens again, report it with the log file."
    ))
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
        if Scenario::builtin_names().contains(&name)
            && !Scenario::builtin_incident_names().contains(&name)
        {
            return Err(failed(format!("{name} is not a practice incident.")));
        }
        let scenario = Scenario::builtin(name).map_err(|e| could_not_start(&e.to_string()))?;
        self.launch(cases, scenario, None).await
    }

    /// Generates the incident of `seed` at `size`, starts it in a fresh training tenant and
    /// declares its case in `cases`; returns the case and what the practice screen shows.
    pub async fn start_generated(
        &self,
        cases: &CaseStore,
        seed: u32,
        size: Size,
    ) -> Result<(CaseView, Generated), IpcError> {
        // An organisation-sized or large tenant takes a while to compose: off the async workers.
        let scenario = tokio::task::spawn_blocking(move || incident::generate(seed.into(), size))
            .await
            .map_err(|e| could_not_start(&e.to_string()))?
            .map_err(|e| could_not_start(&e.to_string()))?;
        let generated = Generated {
            seed,
            size,
            briefing: scenario.briefing().to_owned(),
            summary: incident::draw(seed.into(), size).summary(),
        };
        let case = self
            .launch(cases, scenario, Some(generated.clone()))
            .await?;
        Ok((case, generated))
    }

    /// Starts `scenario` in a fresh training tenant, declares its case and keeps the session.
    async fn launch(
        &self,
        cases: &CaseStore,
        scenario: Scenario,
        generated: Option<Generated>,
    ) -> Result<CaseView, IpcError> {
        let name = scenario.name().to_owned();
        let title = scenario.title().to_owned();
        let options = SimOptions {
            clock_rate: 1.0,
            ..SimOptions::default()
        };
        let (server, training) = crate::tenants::start_simulated(scenario, options)
            .await
            .map_err(|e| could_not_start(&e))?;
        let control = Arc::new(server);
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
            generated,
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
        self.control.base_url()
    }

    /// The generated incident this practice plays, if it is not a shipped scenario.
    pub fn generated(&self) -> Option<&Generated> {
        self.generated.as_ref()
    }

    /// Lets three simulated hours pass once (the attacker tries to come back), then returns the
    /// score and the attacker's log.
    pub fn debrief(&self) -> (firebreak_core::practice::Score, serde_json::Value) {
        if !self.settled.swap(true, Ordering::SeqCst) {
            self.control.advance(PracticeOptions::default().settle);
        }
        (self.control.score(), self.control.attacker())
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
            .all(|c| !["large-tenant", "readiness-gaps"].contains(&c.name.as_str())));
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
        assert!(
            score.attacker_artefacts.total > 0,
            "the scenario has attacker artefacts: {score:?}"
        );
        assert!(attacker.get("log").is_some(), "{attacker}");
    }

    #[tokio::test]
    async fn a_generated_practice_keeps_its_seed_and_the_same_seed_plays_the_same_incident() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let cases = CaseStore::new(&root, Arc::new(SystemClock)).expect("store");
        let practices = Practices::default();
        let (case, generated) = practices
            .start_generated(&cases, 7, Size::Small)
            .await
            .expect("start");
        assert_eq!((generated.seed, generated.size), (7, Size::Small));
        assert!(
            case.metadata.title.contains("seed 7"),
            "the case says which incident it is: {}",
            case.metadata.title
        );
        assert!(!case.metadata.accounts.is_empty());
        assert!(
            !generated.briefing.contains(&generated.summary),
            "the briefing does not give the answer away"
        );
        let session = practices.session(&case.id).expect("session");
        assert_eq!(
            session.generated(),
            Some(&generated),
            "the debrief finds the seed"
        );

        let (again, replayed) = practices
            .start_generated(&cases, 7, Size::Small)
            .await
            .expect("start again");
        assert_ne!(again.id, case.id, "a replay is a new case");
        assert_eq!(
            again.metadata.accounts, case.metadata.accounts,
            "the same seed names the same account"
        );
        assert_eq!(replayed, generated, "and plays the same incident");

        let (score, _) = session.debrief();
        assert!(!score.answer_key.attacker.is_empty(), "{score:?}");
        assert!(
            practices
                .find(&again.id)
                .is_some_and(|s| s.generated().is_some()),
            "each replay keeps its own session"
        );
    }

    #[tokio::test]
    async fn a_shipped_scenario_is_not_a_generated_incident() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let cases = CaseStore::new(&root, Arc::new(SystemClock)).expect("store");
        let practices = Practices::default();
        let case = practices.start(&cases, "aitm").await.expect("start");
        let session = practices.session(&case.id).expect("session");
        assert!(session.generated().is_none());
    }

    #[test]
    fn random_seeds_are_short_enough_to_write_down_and_vary() {
        let seeds: std::collections::HashSet<u32> = (0..20).map(|_| random_seed()).collect();
        assert!(seeds.iter().all(|s| *s < 1_000_000), "{seeds:?}");
        assert!(
            seeds.len() > 1,
            "twenty draws are not all the same: {seeds:?}"
        );
    }
}
