//! The compromised-account procedure against the simulated tenant over loopback HTTP: the
//! headless practice run on every shipped incident scenario, the order the engine enforces, the
//! attacker model biting when the password is reset before sessions are revoked, and an
//! interrupted step re-verified after a restart.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use firebreak_core::{
    case::{steps::StepStatus, CaseId, CaseStore, ADMIN},
    paths::DataRoot,
    practice::{self, HeadlessClock, PracticeOptions},
    procedure::{recover, Confirmation, Env, Procedure},
    tenant::{self, SignIn, TenantProfile, TrainingTenant},
    Error,
};
use firebreak_graph::{Client, SecretString};
use firebreak_sim::{score::ArtefactKind, Scenario, SimOptions, SimServer};
use serde_json::Value;

const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";

pub(crate) struct Lab {
    _tmp: tempfile::TempDir,
    pub(crate) root: DataRoot,
    pub(crate) control: Arc<SimServer>,
    pub(crate) client: Client,
    pub(crate) store: CaseStore,
}

pub(crate) async fn lab(name: &str) -> Lab {
    lab_with(Scenario::builtin(name).unwrap()).await
}

/// A lab on any scenario (a shipped one changed by a test).
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
    let control = Arc::new(server);
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

#[tokio::test(flavor = "multi_thread")]
async fn accepting_the_recommendations_contains_every_shipped_scenario_without_touching_look_alikes(
) {
    let mut failures = Vec::new();
    let mut ran = 0;
    // Not the tenants shipped for the readiness check and for load.
    for name in Scenario::builtin_incident_names() {
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
    assert!(score.attacker_artefacts.remaining.is_empty(), "{score:?}");
    assert!(score.legitimate_artefacts.removed.is_empty(), "{score:?}");
    assert!(!score.attacker_regained_access);
    assert!(!score.containment[0].reset_before_revoke);
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
    let actions = lab.control.actions().to_string();
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
    let actions = lab.control.actions();
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
    assert!(
        score
            .attacker_artefacts
            .added_during_exercise
            .iter()
            .any(|a| a.kind == ArtefactKind::AuthenticationMethod),
        "the attacker registered a method: {score:?}"
    );
    assert!(score.attacker_regained_access, "{score:?}");
    assert!(score.containment[0].reset_before_revoke);
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
    let actions = lab.control.actions();
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

const GRADY: &str = "grady.archie@contoso-training.onmicrosoft.com";
const LIDIA: &str = "lidia.holloway@contoso-training.onmicrosoft.com";
const ISAIAH: &str = "isaiah.langer@contoso-training.onmicrosoft.com";
const DIEGO: &str = "diego.siciliani@contoso-training.onmicrosoft.com";

/// A shipped scenario's JSON, to change in a test.
pub(crate) fn scenario_json(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sim/scenarios")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn headless(lab: &Lab, name: &str, options: &PracticeOptions) -> practice::PracticeRun {
    practice::run_headless(&lab.client, lab.control.as_ref(), &lab.store, name, options)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_entry_account_the_sweep_finds_is_contained_in_a_linked_case_and_the_attacker_holds_nothing(
) {
    let lab = lab("shared-mailbox-delegate").await;
    let run = headless(&lab, "shared-mailbox-delegate", &options()).await;
    assert!(run.contained(), "{:#?}", run.problems);
    assert_eq!(run.accounts, vec![GRADY.to_owned(), LIDIA.to_owned()]);
    assert_eq!(run.linked_cases.len(), 1);
    let linked = lab.store.case(&run.linked_cases[0]).unwrap();
    assert_eq!(linked.metadata.accounts, vec![LIDIA.to_owned()]);
    for key in ["revoke", "disable", "reset"] {
        let id = format!("{}/a1.{key}", linked.id);
        assert!(
            run.steps.iter().any(|s| s.step == id && s.verified),
            "{id} ran and was verified"
        );
    }
    assert!(!run.score.attacker_has_access);
    assert!(run.attacker_access.is_empty(), "{:?}", run.attacker_access);
    assert!(
        run.notes
            .iter()
            .any(|n| n.starts_with(GRADY) && n.contains("already being contained")),
        "Lidia's sweep finds Grady again and the run does not loop: {:?}",
        run.notes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_case_cleans_the_shared_mailbox_only_its_entry_account_can_reach() {
    // Grady holds no right on the Finance mailbox here: only Lidia's linked case reaches it.
    let mut json = scenario_json("shared-mailbox-delegate");
    let finance = json["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["user"]["userPrincipalName"] == "finance@contoso-training.onmicrosoft.com")
        .unwrap();
    let mailbox = &mut finance["mailbox"];
    mailbox["grantSendOnBehalfTo"] = serde_json::json!([]);
    mailbox["permissions"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["user"] != GRADY);
    json["answerKey"]["legitimate"]
        .as_array_mut()
        .unwrap()
        .retain(|a| !(a["id"] == GRADY || a["id"] == "grady.archie"));
    let lab = lab_with(Scenario::from_json(&json.to_string()).unwrap()).await;
    let run = headless(&lab, "delegate-only-through-the-entry", &options()).await;
    assert!(run.contained(), "{:#?}", run.problems);
    let linked = lab.store.case(&run.linked_cases[0]).unwrap();
    let rules = linked
        .journal
        .iter()
        .find(|e| {
            e.kind.as_str() == "step_finished" && e.step.as_deref() == Some("a1.blast-inbox-rules")
        })
        .unwrap();
    assert!(
        rules
            .details
            .to_string()
            .contains("finance@contoso-training.onmicrosoft.com"),
        "the linked case's inbox-rule check read the shared mailbox"
    );
    assert_eq!(
        run.score.attacker_artefacts.remaining,
        [],
        "forwarding and hidden rule gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_desk_accounts_second_hop_through_a_password_reset_is_contained_and_the_look_alikes_are_left_alone(
) {
    let lab = lab("privileged-helpdesk").await;
    let run = headless(&lab, "privileged-helpdesk", &options()).await;
    assert!(run.contained(), "{:#?}", run.problems);
    assert_eq!(run.accounts, vec![ISAIAH.to_owned(), DIEGO.to_owned()]);
    let case = lab.store.case(&run.case_id).unwrap();
    let hits = firebreak_core::sweep::recorded_hits(&case, "a1");
    let found: Vec<&str> = hits.iter().map(|h| h.account.as_str()).collect();
    assert_eq!(
        found,
        vec![DIEGO],
        "only Diego: not Adele (reset from the office), not Lynne (travelling)"
    );
    assert!(
        hits[0]
            .signals
            .iter()
            .any(|s| s.text.contains("reset the password of")),
        "{:?}",
        hits[0].signals
    );
    assert_eq!(run.linked_cases.len(), 1);
    assert!(
        run.notes.iter().any(|n| n.starts_with(ISAIAH)),
        "{:?}",
        run.notes
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_hop_on_a_protected_account_is_left_alone_and_the_run_does_not_count_as_contained()
{
    let lab = lab("privileged-helpdesk").await;
    let mut options = options();
    options.protected.push(DIEGO.into());
    let run = headless(&lab, "privileged-helpdesk", &options).await;
    assert!(!run.contained());
    assert!(run.linked_cases.is_empty());
    assert!(
        run.notes
            .iter()
            .any(|n| n.starts_with(DIEGO) && n.contains("protected")),
        "{:?}",
        run.notes
    );
    let diego = run
        .attacker_access
        .iter()
        .find(|f| f.account == DIEGO)
        .expect("the attacker still holds Diego");
    assert!(
        diego.holds.iter().any(|h| h.contains("session")),
        "{diego:?}"
    );
    assert!(
        run.problems.iter().any(|p| p.contains(DIEGO)),
        "{:?}",
        run.problems
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_privileged_authentication_administrator_the_tenant_refuses_to_touch_a_user_administrator_and_the_run_stops(
) {
    let mut json = scenario_json("privileged-helpdesk");
    json["app"]["entraRoles"] =
        serde_json::json!(["Exchange Administrator", "Security Administrator"]);
    let lab = lab_with(Scenario::from_json(&json.to_string()).unwrap()).await;
    let err = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        "privileged-helpdesk",
        &options(),
    )
    .await
    .expect_err("containing a User Administrator needs a stronger role than the app holds");
    assert!(
        matches!(err, Error::Tenant(_)),
        "the tenant's refusal comes back as the error: {err}"
    );
    let actions = lab.control.actions().to_string();
    // Revoking sessions needs no directory role for an app (spec/graph-behaviour.md, "Roles for
    // writes"); blocking and resetting a User Administrator do, and are refused.
    assert!(
        !actions.contains("passwordReset") && actions.contains("refused"),
        "the User Administrator was neither blocked nor reset: {actions}"
    );
    assert!(
        lab.control.score().attacker_has_access,
        "nothing was contained"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_refreshes_of_the_attackers_old_token_raise_no_watch_alert() {
    use firebreak_core::procedure::tenant::IncidentTenant;
    use firebreak_graph::logs::{SignInEventType, SignInQuery};
    let lab = lab("aitm").await;
    let run = headless(&lab, "aitm", &options()).await;
    assert!(run.contained(), "{:?}", run.problems);
    let case = lab.store.case(&run.case_id).unwrap();
    let window = firebreak_core::watch::windows(&case).remove(0);
    let megan = lab
        .client
        .get_user(&firebreak_graph::UserRef::new(&window.account).unwrap())
        .await
        .unwrap();
    let refused = lab
        .client
        .sign_ins(&SignInQuery {
            user_id: Some(megan.id),
            since: Some(window.from),
            event_types: vec![SignInEventType::NonInteractiveUser],
            ..SignInQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|s| s.status.as_ref().and_then(|st| st.error_code) == Some(50_173))
        .count();
    assert!(
        refused > 0,
        "the attacker's client kept trying to refresh inside the watch window"
    );
    let recheck = firebreak_core::watch::recheck(&lab.client, &lab.store, &run.case_id)
        .await
        .unwrap();
    assert!(
        recheck.new_alerts.is_empty(),
        "a refused refresh is the old token dying, not the attacker back: {:?}",
        recheck.new_alerts
    );
}
