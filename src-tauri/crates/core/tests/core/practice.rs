//! The compromised-account procedure against the simulated tenant over loopback HTTP: the
//! headless practice run on every shipped incident scenario, the order the engine enforces, the
//! attacker model biting when the password is reset before sessions are revoked, and an
//! interrupted step re-verified after a restart.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use firebreak_core::{
    case::{steps::StepStatus, CaseId, CaseStore, ADMIN},
    paths::DataRoot,
    practice::{self, HeadlessClock, PracticeOptions, TrainingControl},
    procedure::{recover, Confirmation, Env, Procedure},
    tenant::{self, SignIn, TenantProfile, TrainingTenant},
    Error,
};
use firebreak_graph::{Client, SecretString};
use firebreak_sim::{Scenario, SimOptions, SimServer};
use serde_json::Value;

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";

pub(crate) struct Control(pub(crate) SimServer);

impl TrainingControl for Control {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
    fn score(&self) -> Value {
        self.0.score()
    }
}

pub(crate) struct Lab {
    _tmp: tempfile::TempDir,
    pub(crate) root: DataRoot,
    pub(crate) control: Arc<Control>,
    pub(crate) client: Client,
    pub(crate) store: CaseStore,
}

pub(crate) async fn lab(name: &str) -> Lab {
    lab_with(Scenario::builtin(name).unwrap()).await
}

/// A lab on a scenario built in the test (a shipped one changed to make a variant).
pub(crate) async fn lab_with(scenario: Scenario) -> Lab {
    let secret = scenario.client_secret().unwrap().to_owned();
    let client_id = scenario.client_id().to_owned();
    let server = SimServer::start(scenario, SimOptions::default())
        .await
        .unwrap();
    let training = TrainingTenant {
        base_url: server.base_url(),
        tenant_id: server.tenant_id(),
        client_id,
        client_secret: SecretString::from(secret),
        break_glass_upn: Some(BREAK_GLASS.into()),
    };
    let control = Arc::new(Control(server));
    let clock = HeadlessClock(control.clone());
    let client = tenant::connect(
        &TenantProfile::training(),
        SignIn::Training(&training),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = DataRoot::open(tmp.path().join("data")).unwrap();
    let store = CaseStore::new(&root, Arc::new(clock)).unwrap();
    Lab {
        _tmp: tmp,
        root,
        control,
        client,
        store,
    }
}

impl Lab {
    /// The engine's environment on this lab's tenant and case store, protecting `protected`.
    pub(crate) fn env(&self, protected: &[&str]) -> Env<'_, Client> {
        Env {
            tenant: &self.client,
            store: &self.store,
            protected: protected.iter().map(|a| (*a).to_owned()).collect(),
            actor: ADMIN,
        }
    }
}

/// Plans each of `keys` afresh and runs it with the tool's recommendation: used for the steps
/// before the destructive ones, which need no typed account name.
async fn run_recommended(
    procedure: &Procedure<Client>,
    env: &Env<'_, Client>,
    case_id: &CaseId,
    keys: &[&str],
) {
    for key in keys {
        let plan = procedure.plan(env, case_id, key).await.unwrap();
        procedure
            .run(
                env,
                case_id,
                key,
                &Confirmation {
                    selected: plan.recommended(),
                    ..Confirmation::default()
                },
            )
            .await
            .unwrap();
    }
}

pub(crate) fn options() -> PracticeOptions {
    PracticeOptions {
        protected: vec![BREAK_GLASS.into()],
        ..PracticeOptions::default()
    }
}

/// Scenarios that are not an incident to contain: `large-tenant` has no incident, and
/// `readiness-gaps` is about missing permissions (its methods step must fail).
const NOT_INCIDENTS: [&str; 2] = ["large-tenant", "readiness-gaps"];

#[tokio::test(flavor = "multi_thread")]
async fn accepting_the_recommendations_contains_every_shipped_scenario_without_touching_look_alikes(
) {
    let mut failures = Vec::new();
    let mut ran = 0;
    for name in Scenario::builtin_names() {
        if NOT_INCIDENTS.contains(&name) {
            continue;
        }
        let lab = lab(name).await;
        let run = practice::run_headless(
            &lab.client,
            lab.control.as_ref(),
            &lab.store,
            name,
            &options(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        ran += 1;
        if !run.contained() {
            failures.push(format!("{name}: {:?}", run.problems));
        }
        let unverified: Vec<_> = run
            .steps
            .iter()
            .filter(|s| !s.verified && s.skipped.is_none())
            .map(|s| s.step.clone())
            .collect();
        if !unverified.is_empty() {
            failures.push(format!("{name}: steps not verified: {unverified:?}"));
        }
    }
    assert!(ran >= 1, "at least the aitm scenario runs");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn aitm_practice_removes_both_rules_the_grant_and_the_app_and_keeps_her_methods() {
    let lab = lab("aitm").await;
    let run = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        "aitm",
        &options(),
    )
    .await
    .unwrap();
    assert_eq!(
        run.accounts,
        vec!["megan.bowen@contoso-training.onmicrosoft.com".to_owned()]
    );
    let score = &run.score;
    assert_eq!(
        score
            .pointer("/attackerArtefacts/remaining")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(0),
        "{score}"
    );
    assert_eq!(
        score
            .pointer("/legitimateArtefacts/removed")
            .and_then(Value::as_array)
            .map(Vec::len),
        Some(0),
        "{score}"
    );
    assert_eq!(score["attackerRegainedAccess"], Value::Bool(false));
    assert_eq!(
        score.pointer("/containment/0/resetBeforeRevoke"),
        Some(&Value::Bool(false))
    );
    // The journal holds the recommended and the final selection of every step.
    let case = lab.store.case(&run.case_id).unwrap();
    let started: Vec<_> = case
        .journal
        .iter()
        .filter(|e| e.kind.as_str() == "step_started")
        .collect();
    let first_nine: Vec<String> = [
        "triage", "preserve", "revoke", "disable", "reset", "methods",
    ]
    .into_iter()
    .chain(["mailbox", "grants", "confirm-compromised"])
    .map(|k| format!("a1.{k}"))
    .collect();
    assert_eq!(
        started
            .iter()
            .filter(|e| e.step.as_ref().is_some_and(|s| first_nine.contains(s)))
            .count(),
        9,
        "triage and eight containment steps, each started once"
    );
    for key in recover::KEYS {
        assert!(
            started
                .iter()
                .any(|e| e.step.as_deref() == Some(format!("a1.{key}").as_str())),
            "recovery step {key} ran after the checks"
        );
    }
    assert!(started
        .iter()
        .all(|e| e.details.pointer("/detail/recommended").is_some()
            && e.details.pointer("/detail/selected").is_some()));
    // Evidence was saved before the first change: the first evidence entry precedes the revoke.
    let first_evidence = case
        .journal
        .iter()
        .position(|e| e.kind.as_str() == "evidence_added")
        .unwrap();
    let revoke = case
        .journal
        .iter()
        .position(|e| e.step.as_deref() == Some("a1.revoke"))
        .unwrap();
    assert!(first_evidence < revoke);
    // The sim's action log: revoke, then disable, then reset.
    let actions = lab.control.0.actions().to_string();
    let at = |needle: &str| {
        actions
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing from {actions}"))
    };
    assert!(at("revokeSignInSessions") < at("accountEnabled"));
    assert!(at("accountEnabled") < at("passwordReset"));
    assert!(
        !actions.contains("training-only"),
        "the password never appears"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_cannot_run_before_the_steps_above_it_and_destructive_steps_need_the_typed_name() {
    let lab = lab("aitm").await;
    let account = "megan.bowen@contoso-training.onmicrosoft.com";
    let case = lab
        .store
        .declare(ADMIN, case_metadata(account, lab.control.now()))
        .unwrap();
    let env = lab.env(&[BREAK_GLASS]);
    let procedure = Procedure::<Client>::compromised_account(1, account);
    let err = procedure
        .run(
            &env,
            &case.id,
            "reset",
            &Confirmation {
                typed_account: Some(account.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StepRefused { .. }), "{err}");
    assert!(
        err.to_string().contains("Triage"),
        "names the step that comes first: {err}"
    );
    run_recommended(&procedure, &env, &case.id, &["triage", "preserve"]).await;
    let err = procedure
        .run(
            &env,
            &case.id,
            "revoke",
            &Confirmation {
                typed_account: Some("megan".into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Type the account name"), "{err}");
    let actions = lab.control.0.actions();
    assert!(
        actions["actions"].as_array().is_none_or(Vec::is_empty),
        "nothing changed: {actions}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_break_glass_account_is_never_disabled() {
    let lab = lab("aitm").await;
    let case = lab
        .store
        .declare(ADMIN, case_metadata(BREAK_GLASS, lab.control.now()))
        .unwrap();
    let env = lab.env(&[BREAK_GLASS]);
    let procedure = Procedure::<Client>::compromised_account(1, BREAK_GLASS);
    run_recommended(&procedure, &env, &case.id, &["triage", "preserve"]).await;
    let err = procedure
        .run(
            &env,
            &case.id,
            "revoke",
            &Confirmation {
                typed_account: Some(BREAK_GLASS.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("break-glass"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resetting_the_password_before_revoking_sessions_lets_the_attacker_register_a_method_and_return(
) {
    let lab = lab("aitm").await;
    let account = "megan.bowen@contoso-training.onmicrosoft.com";
    let case = lab
        .store
        .declare(ADMIN, case_metadata(account, lab.control.now()))
        .unwrap();
    let env = lab.env(&[BREAK_GLASS]);
    let procedure = Procedure::<Client>::compromised_account(1, account);
    run_recommended(&procedure, &env, &case.id, &["triage", "preserve"]).await;
    // The only way past the order is to skip with a reason — which the journal keeps.
    procedure
        .skip(
            &lab.store,
            ADMIN,
            &case.id,
            "revoke",
            "Practice: reset first to see what happens",
        )
        .unwrap();
    procedure
        .skip(
            &lab.store,
            ADMIN,
            &case.id,
            "disable",
            "Practice: reset first to see what happens",
        )
        .unwrap();
    procedure
        .run(
            &env,
            &case.id,
            "reset",
            &Confirmation {
                typed_account: Some(account.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap();
    lab.control.advance(Duration::hours(2));
    let score = lab.control.score();
    let added = score
        .pointer("/attackerArtefacts/addedDuringExercise")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        added.iter().any(|a| a["kind"] == "authenticationMethod"),
        "the attacker registered a method: {score}"
    );
    assert_eq!(
        score["attackerRegainedAccess"],
        Value::Bool(true),
        "{score}"
    );
    assert_eq!(
        score.pointer("/containment/0/resetBeforeRevoke"),
        Some(&Value::Bool(true))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_step_is_reverified_against_the_tenant_not_repeated() {
    let lab = lab("aitm").await;
    let account = "megan.bowen@contoso-training.onmicrosoft.com";
    let case = lab
        .store
        .declare(ADMIN, case_metadata(account, lab.control.now()))
        .unwrap();
    let env = lab.env(&[]);
    let procedure = Procedure::<Client>::compromised_account(1, account);
    run_recommended(&procedure, &env, &case.id, &["triage", "preserve"]).await;
    // A crash between the change and its record: started, performed, never finished.
    lab.store
        .start_step(
            &case.id,
            ADMIN,
            "a1.revoke",
            serde_json::json!({"selected": ["account"]}),
        )
        .unwrap();
    firebreak_core::procedure::tenant::IncidentTenant::revoke_sessions(
        &lab.client,
        &firebreak_graph::UserRef::new(account).unwrap(),
    )
    .await
    .unwrap();
    let restarted = CaseStore::new(&lab.root, lab.store.clock().clone()).unwrap();
    let env = Env {
        tenant: &lab.client,
        store: &restarted,
        protected: vec![],
        actor: ADMIN,
    };
    let err = procedure
        .run(
            &env,
            &case.id,
            "revoke",
            &Confirmation {
                typed_account: Some(account.into()),
                ..Confirmation::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err}");
    let outcome = procedure.reverify(&env, &case.id, "revoke").await.unwrap();
    assert!(outcome.verification.verified, "{:?}", outcome.verification);
    assert_eq!(
        outcome.state.status,
        StepStatus::Finished { verified: true }
    );
    let actions = lab.control.0.actions();
    let revokes = actions["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["change"] == "revokeSignInSessions")
        .count();
    assert_eq!(revokes, 1, "the revoke was not repeated");
}

fn case_metadata(
    account: &str,
    now: DateTime<Utc>,
) -> firebreak_core::case::metadata::CaseMetadata {
    use firebreak_core::case::metadata::{AlertSource, CaseMetadata, Severity, Workload};
    CaseMetadata {
        title: "Practice".into(),
        detected_at: now - Duration::minutes(10),
        aware_at: now,
        alert_source: AlertSource::DefenderAlert,
        indicators: vec![],
        affected_workloads: vec![Workload::EntraId],
        severity: Severity::High,
        accounts: vec![account.into()],
        incident_commander: "Test".into(),
        external_ticket: None,
    }
}
