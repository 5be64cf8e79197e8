//! A real crash in the middle of containment. The test process runs the training tenant (so the
//! tenant outlives the application); a child process — this test binary again, selected by an
//! environment variable — runs the compromised-account procedure against it and is SIGKILLed
//! while the revoke step is under way: after `step_started` is journaled, before the step ends —
//! once as soon as the step starts (the change normally never reaches the tenant) and once after
//! the tenant took the change (while the child reads it back), so both answers of the
//! re-verification are exercised.
//! The restarted application must report the step interrupted, refuse to run it again blindly,
//! re-verify it against the tenant, and carry on, with the change made at most once.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration as Wait, Instant},
};

use chrono::{DateTime, Duration, Utc};
use firebreak_core::{
    case::{
        journal::{EntryKind, JournalEntry, JournalHealth},
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        steps::StepStatus,
        CaseId, CaseStore, ADMIN, JOURNAL_FILE,
    },
    paths::DataRoot,
    practice::{TrainingClock, TrainingControl},
    procedure::{Confirmation, Env, Position, Procedure, StepOutcome},
    tenant::{self, SignIn, TenantProfile, TrainingTenant},
    Error,
};
use firebreak_graph::{Client, SecretString};
use firebreak_sim::{Scenario, SimOptions, SimServer};
use serde_json::Value;

const SCENARIO: &str = "aitm";
const ACCOUNT: &str = "megan.bowen@contoso-training.onmicrosoft.com";
const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";
/// The step the child is killed in: the first change to the tenant.
const KILLED_IN: &str = "revoke";
/// Added by the simulator to every request, so the revoke (its change, then its read-back) is
/// under way long enough for the parent to see `step_started` and kill the child inside it.
const LATENCY: Wait = Wait::from_millis(400);
/// How long the child may take to reach the revoke step (triage and preserve read a lot).
const REACH_TIMEOUT: Wait = Wait::from_secs(300);

const CHILD_SIM_URL: &str = "FIREBREAK_TEST_CHILD_SIM_URL";
const CHILD_SIM_NOW: &str = "FIREBREAK_TEST_CHILD_SIM_NOW";
const CHILD_DATA: &str = "FIREBREAK_TEST_CHILD_DATA";
const CHILD_CASE: &str = "FIREBREAK_TEST_CHILD_CASE";

/// The simulated time as the parent read it when it started the child. The simulator's clock is
/// frozen (`SimOptions::default()`) and nobody moves it while the child runs, so the child's
/// journal times are the tenant's times, as they are for the application with a live simulator.
struct FrozenSimTime(DateTime<Utc>);

impl TrainingControl for FrozenSimTime {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
    fn advance(&self, _by: Duration) {
        panic!("the child never moves the simulated clock");
    }
    fn score(&self) -> firebreak_core::practice::Score {
        panic!("the child never asks for the score");
    }
}

/// A client of the training tenant at `base_url`, signed in with the scenario's app.
fn connect(base_url: &str, clock: TrainingClock) -> Client {
    let scenario = Scenario::builtin(SCENARIO).unwrap();
    let training = TrainingTenant {
        base_url: base_url.to_owned(),
        tenant_id: scenario.tenant_id().to_owned(),
        client_id: scenario.client_id().to_owned(),
        client_secret: SecretString::from(scenario.client_secret().unwrap().to_owned()),
        break_glass_upn: Some(BREAK_GLASS.into()),
    };
    tenant::connect(
        &TenantProfile::training(),
        SignIn::Training(&training),
        Arc::new(clock),
    )
    .unwrap()
}

/// Plans step `key` afresh and runs it with the tool's recommendation, typing the account name.
async fn run_recommended(
    procedure: &Procedure<Client>,
    env: &Env<'_, Client>,
    case_id: &CaseId,
    key: &str,
) -> Result<StepOutcome, Error> {
    let plan = procedure.plan(env, case_id, key).await?;
    procedure
        .run(
            env,
            case_id,
            key,
            &Confirmation {
                selected: plan.recommended(),
                typed_account: Some(ACCOUNT.into()),
                window_start: None,
                note: None,
            },
        )
        .await
}

/// Not a test on its own: when run as a child with `FIREBREAK_TEST_CHILD_SIM_URL` set, runs the
/// whole compromised-account procedure on the case named by the other variables until killed.
#[ignore = "the entry point of a child process, started by the test that needs it"]
#[tokio::test(flavor = "multi_thread")]
async fn child_runs_the_procedure_until_killed() {
    let Ok(base_url) = std::env::var(CHILD_SIM_URL) else {
        return;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("{name} is set along with {CHILD_SIM_URL}"))
    };
    let now = DateTime::parse_from_rfc3339(&var(CHILD_SIM_NOW))
        .unwrap()
        .with_timezone(&Utc);
    let clock = TrainingClock(Arc::new(FrozenSimTime(now)));
    let client = connect(&base_url, clock.clone());
    let root = DataRoot::open(var(CHILD_DATA)).unwrap();
    let store = CaseStore::new(&root, Arc::new(clock)).unwrap();
    let case_id = CaseId::parse(&var(CHILD_CASE)).unwrap();
    let env = Env {
        tenant: &client,
        store: &store,
        protected: vec![BREAK_GLASS.into()],
        actor: ADMIN,
    };
    let procedure = Procedure::<Client>::compromised_account(1, ACCOUNT);
    for key in procedure.keys() {
        let outcome = run_recommended(&procedure, &env, &case_id, key)
            .await
            .unwrap_or_else(|e| panic!("child: step {key}: {e}"));
        eprintln!(
            "child: {} finished: {:?}",
            outcome.step, outcome.state.status
        );
    }
}

/// Kills and reaps the child if the test fails before it does so on purpose.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The journal's complete lines (a line still being written is left out).
fn complete_entries(journal: &Path) -> Vec<JournalEntry> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .map(|line| serde_json::from_str(line).expect("a complete journal line parses"))
        .collect()
}

fn has(entries: &[JournalEntry], kind: EntryKind, step: &str) -> bool {
    entries
        .iter()
        .any(|e| e.kind == kind && e.step.as_deref() == Some(step))
}

fn child_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The sim's log of changes received that match `pick`.
fn changes(sim: &SimServer, pick: impl Fn(&Value) -> bool) -> usize {
    let actions = sim.actions();
    actions["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| pick(&a["change"]))
        .count()
}

fn is_revoke(change: &Value) -> bool {
    change == "revokeSignInSessions"
}

fn is_disable(change: &Value) -> bool {
    change.get("accountEnabled") == Some(&Value::Bool(false))
}

fn case_metadata(now: DateTime<Utc>) -> CaseMetadata {
    CaseMetadata {
        title: "Practice: killed mid-containment".into(),
        detected_at: now - Duration::minutes(10),
        aware_at: now,
        alert_source: AlertSource::DefenderAlert,
        indicators: vec!["Training tenant alert".into()],
        affected_workloads: vec![Workload::EntraId, Workload::ExchangeOnline],
        severity: Severity::High,
        accounts: vec![ACCOUNT.into()],
        incident_commander: "Test".into(),
        external_ticket: None,
    }
}

/// When the parent kills the child, both inside the revoke step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KillPoint {
    /// As soon as `step_started` is journaled: the change is at most on its way to the tenant.
    Started,
    /// Once the tenant has received the revoke, while the child is still reading it back.
    ChangeReceived,
}

/// Everything the parent needs to start the child and watch it.
struct Watch<'a> {
    sim: &'a SimServer,
    data: &'a Path,
    case_id: &'a CaseId,
    journal: &'a Path,
    step: &'a str,
    sim_now: DateTime<Utc>,
    log: &'a Path,
}

/// Starts the child on the case and SIGKILLs it at `point` inside `step`. Returns the journal's
/// complete entries as the child left them.
async fn kill_child_inside_step(watch: &Watch<'_>, point: KillPoint) -> Vec<JournalEntry> {
    let exe = std::env::current_exe().expect("test binary");
    let output = File::create(watch.log).unwrap();
    let mut child = KillOnDrop(
        Command::new(&exe)
            .args([
                "--exact",
                "practice_crash::child_runs_the_procedure_until_killed",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_SIM_URL, watch.sim.base_url())
            .env(CHILD_SIM_NOW, watch.sim_now.to_rfc3339())
            .env(CHILD_DATA, watch.data)
            .env(CHILD_CASE, watch.case_id.as_str())
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("spawn child"),
    );
    let step = watch.step;
    let started = Instant::now();
    loop {
        let entries = complete_entries(watch.journal);
        let reached = has(&entries, EntryKind::StepStarted, step)
            && (point == KillPoint::Started || changes(watch.sim, is_revoke) > 0);
        if reached {
            // SIGKILL on Unix: no destructor, no flush, no last journal entry.
            child.0.kill().expect("SIGKILL");
            child.0.wait().expect("reap");
            break;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!(
                "the child ended ({status}) before reaching {point:?} in {step}:\n{}",
                child_log(watch.log)
            );
        }
        assert!(
            started.elapsed() < REACH_TIMEOUT,
            "the child did not reach {point:?} in {step} within {REACH_TIMEOUT:?}:\n{}",
            child_log(watch.log)
        );
        tokio::time::sleep(Wait::from_millis(5)).await;
    }
    complete_entries(watch.journal)
}

/// A tenant answering slowly.
async fn slow_tenant() -> SimServer {
    SimServer::start(
        Scenario::builtin(SCENARIO).unwrap(),
        SimOptions {
            latency: LATENCY,
            ..SimOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_as_the_revoke_starts_the_restarted_case_reverifies_it_and_continues() {
    // The simulator applies its latency before the change and the kill comes within a few
    // milliseconds of `step_started`, so the revoke normally never lands and the re-verification
    // finds it not done, then runs it once. Either way the scenario checks the read-back against
    // what the tenant actually received.
    kill_and_restart(KillPoint::Started).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_after_the_tenant_took_the_revoke_the_restarted_case_finds_it_done_and_continues() {
    let found_done = kill_and_restart(KillPoint::ChangeReceived).await;
    assert!(found_done, "the tenant had the revoke before the kill");
}

/// Runs the child into the revoke step, kills it at `point`, restarts on the same data folder
/// and checks the interrupted step is re-verified, not repeated, and the procedure continues.
/// Returns whether the re-verification found the revoke done.
async fn kill_and_restart(point: KillPoint) -> bool {
    let sim = Arc::new(slow_tenant().await);
    let sim_now = sim.now();
    let clock = TrainingClock(sim.clone());
    let tmp = tempfile::tempdir().unwrap();
    let data: PathBuf = tmp.path().join("data");
    let root = DataRoot::open(&data).unwrap();
    // The admin declares the case; the child (the application's first run) works on it.
    let declaring = CaseStore::new(&root, Arc::new(clock.clone())).unwrap();
    let case_id = declaring.declare(ADMIN, case_metadata(sim_now)).unwrap().id;
    let journal = declaring.case_dir(&case_id).join(JOURNAL_FILE);
    drop(declaring);
    let procedure = Procedure::<Client>::compromised_account(1, ACCOUNT);
    let step = procedure.step_id(KILLED_IN);
    let log = tmp.path().join("child.log");

    let watch = Watch {
        sim: &sim,
        data: &data,
        case_id: &case_id,
        journal: &journal,
        step: &step,
        sim_now,
        log: &log,
    };
    let left = kill_child_inside_step(&watch, point).await;
    for ended in [EntryKind::StepFinished, EntryKind::StepFailed] {
        assert!(
            !has(&left, ended, &step),
            "the kill landed after {step} ended ({}), so no interruption was exercised:\n{}",
            ended.as_str(),
            child_log(&log)
        );
    }
    for done in ["a1.triage", "a1.preserve"] {
        assert!(
            has(&left, EntryKind::StepFinished, done),
            "the child finished {done} before the kill"
        );
    }
    // The request the child sent just before it died may still be in the simulator's hands
    // (its latency is applied before the change); let it land so the read-back sees the end state.
    tokio::time::sleep(LATENCY * 5).await;
    let revoked_before = changes(&sim, is_revoke);
    assert!(
        revoked_before <= 1,
        "the child revoked at most once: {}",
        sim.actions()
    );
    eprintln!(
        "killed inside {step}; the tenant {} the revoke before the kill",
        if revoked_before == 1 {
            "had received"
        } else {
            "had not received"
        }
    );

    // The application starts again on the same data folder: a new session.
    let restarted = CaseStore::new(&root, Arc::new(clock.clone())).unwrap();
    let mut view = restarted.case(&case_id).expect("the crashed case opens");
    if let JournalHealth::TornTail { .. } = view.health {
        // Killed while an entry after `step_started` was half written: the admin recovers it.
        view = restarted.recover_torn_entry(&case_id, ADMIN).unwrap();
    }
    assert_eq!(view.health, JournalHealth::Intact);
    let state = view
        .steps
        .iter()
        .find(|s| s.step == step)
        .expect("the step is in the books");
    assert_eq!(state.status, StepStatus::Interrupted);
    let rail = procedure.view(&view);
    let current = rail
        .iter()
        .find(|s| s.position == Position::Current)
        .expect("a current step");
    assert_eq!(
        current.id, step,
        "the wizard resumes at the interrupted step"
    );

    let client = connect(&sim.base_url(), clock.clone());
    let env = Env {
        tenant: &client,
        store: &restarted,
        protected: vec![BREAK_GLASS.into()],
        actor: ADMIN,
    };
    let err = run_recommended(&procedure, &env, &case_id, KILLED_IN)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StepRefused { .. }), "{err}");
    assert!(err.to_string().contains("interrupted"), "{err}");
    let err = run_recommended(&procedure, &env, &case_id, "disable")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::StepRefused { .. }),
        "nothing below runs before the interrupted step is settled: {err}"
    );
    assert_eq!(
        changes(&sim, is_revoke),
        revoked_before,
        "refused runs change nothing"
    );

    let outcome = procedure.reverify(&env, &case_id, KILLED_IN).await.unwrap();
    assert_eq!(
        changes(&sim, is_revoke),
        revoked_before,
        "re-verifying only reads the tenant"
    );
    let found_done = revoked_before == 1;
    assert_eq!(
        outcome.verification.verified, found_done,
        "the read-back matches what the tenant received: {:?}",
        outcome.verification
    );
    let expected = if found_done {
        StepStatus::Finished { verified: true }
    } else {
        StepStatus::ReadyToRetry
    };
    assert_eq!(outcome.state.status, expected);
    let view = restarted.case(&case_id).unwrap();
    let reverified = view
        .journal
        .iter()
        .rfind(|e| e.kind == EntryKind::StepReverified && e.step.as_deref() == Some(&step))
        .expect("the re-verification is journaled");
    assert_eq!(
        reverified.details.get("foundDone"),
        Some(&Value::Bool(found_done)),
        "{}",
        reverified.details
    );

    if !found_done {
        // Found not done: now, and only now, the revoke may run again.
        let outcome = run_recommended(&procedure, &env, &case_id, KILLED_IN)
            .await
            .unwrap();
        assert_eq!(
            outcome.state.status,
            StepStatus::Finished { verified: true }
        );
    }
    assert_eq!(
        changes(&sim, is_revoke),
        1,
        "sessions were revoked exactly once in all: {}",
        sim.actions()
    );

    // The procedure carries on below the interrupted step.
    let outcome = run_recommended(&procedure, &env, &case_id, "disable")
        .await
        .unwrap();
    assert_eq!(
        outcome.state.status,
        StepStatus::Finished { verified: true }
    );
    assert_eq!(changes(&sim, is_disable), 1);
    let actions = sim.actions().to_string();
    assert!(
        actions.find("revokeSignInSessions") < actions.find("accountEnabled"),
        "revoke came before disable: {actions}"
    );
    let rail = procedure.view(&restarted.case(&case_id).unwrap());
    let current = rail
        .iter()
        .find(|s| s.position == Position::Current)
        .expect("a current step");
    assert_eq!(current.id, procedure.step_id("reset"));
    found_done
}
