//! What the containment wizard acts with for one case: a client signed in to the case's tenant,
//! the case store that journals the steps, and the accounts that must never be locked out.
//!
//! A practice case of this run acts on its own simulated tenant (see [`crate::practice`]). A
//! declared case acts on the tenant profile chosen at declaration, reached the way [`Tenants`]
//! says (the training tenant, this run's delegated session, or the keychain's credential).

use std::sync::Arc;

use firebreak_core::{
    case::{CaseId, CaseStore, CaseView},
    paths::DataRoot,
    procedure::{Env, Procedure, StepView},
    tenant::{self, ProfileId},
};
use firebreak_graph::Client;

use crate::{
    ipc::{IpcError, IpcErrorKind},
    practice::Practices,
    tenants::Tenants,
};

/// A tenant client, the store it journals to and the protected accounts, for one case.
pub struct Responder {
    client: Client,
    store: CaseStore,
    protected: Vec<String>,
}

impl Responder {
    /// Acts on `client`, journals to `store`, never disables or resets `protected`.
    pub fn new(client: Client, store: CaseStore, protected: Vec<String>) -> Self {
        Self {
            client,
            store,
            protected,
        }
    }

    /// The case store the steps are journaled in.
    pub fn store(&self) -> &CaseStore {
        &self.store
    }

    /// What the procedure needs: the tenant, the store, the protected accounts.
    pub fn env(&self) -> Env<'_, Client> {
        Env {
            tenant: &self.client,
            store: &self.store,
            protected: self.protected.clone(),
            actor: firebreak_core::case::ADMIN,
        }
    }

    /// The compromised-account procedure of the case's `account`-th account (from 1).
    pub fn procedure(&self, id: &CaseId, account: u32) -> Result<Procedure<Client>, IpcError> {
        procedure(&self.store, id, account)
    }
}

/// The compromised-account procedure of the `account`-th account (from 1) of case `id`.
pub fn procedure(
    store: &CaseStore,
    id: &CaseId,
    account: u32,
) -> Result<Procedure<Client>, IpcError> {
    let case = store.case(id)?;
    let index = usize::try_from(account).unwrap_or(0);
    let name = index
        .checked_sub(1)
        .and_then(|i| case.metadata.accounts.get(i))
        .ok_or_else(|| IpcError {
            kind: IpcErrorKind::Invalid,
            message: format!("This case has no account number {account}."),
        })?;
    Ok(Procedure::compromised_account(index, name.clone()))
}

/// The scope of the `account`-th account (from 1) of a case, as the wizard numbers them.
pub fn scope(account: u32) -> Result<firebreak_core::scope::Scope, IpcError> {
    usize::try_from(account)
        .ok()
        .and_then(firebreak_core::scope::Scope::numbered)
        .ok_or_else(|| IpcError {
            kind: IpcErrorKind::Invalid,
            message: format!("Accounts of a case are numbered from 1, not {account}."),
        })
}

/// Where every step of every account of `case` stands, with the account's number (from 1).
pub fn view(case: &CaseView) -> Vec<(u32, String, Vec<StepView>)> {
    (1u32..)
        .zip(&case.metadata.accounts)
        .map(|(index, account)| {
            let procedure = firebreak_core::procedure::catalogue::Catalogue::compromised_account(
                index as usize,
                account.clone(),
            );
            (index, account.clone(), procedure.view(case))
        })
        .collect()
}

/// The case `id` as the wizard shows it: refused, with what to do, when the wizard has no tenant
/// to act on for it (an old case, or a practice case of an earlier run).
pub fn case_to_act_on(
    practices: &Practices,
    cases: &CaseStore,
    id: &CaseId,
) -> Result<CaseView, IpcError> {
    Ok(journal_for(practices, cases, id)?.case(id)?)
}

/// The store the wizard journals case `id` in without reaching the tenant (a skipped step): the
/// practice session's (timed by the simulated clock), or `cases` for a declared case.
pub fn journal_for(
    practices: &Practices,
    cases: &CaseStore,
    id: &CaseId,
) -> Result<CaseStore, IpcError> {
    if let Some(session) = practices.find(id) {
        return Ok(session.responder().store().clone());
    }
    bound_profile(&cases.case(id)?)?;
    Ok(cases.clone())
}

/// The responder for case `id`: its practice session, or a connection to its tenant profile.
pub async fn for_case(
    practices: &Practices,
    tenants: &Tenants,
    root: &DataRoot,
    cases: &CaseStore,
    id: &CaseId,
) -> Result<Arc<Responder>, IpcError> {
    if let Some(session) = practices.find(id) {
        return Ok(session.responder());
    }
    let case = cases.case(id)?;
    let profile_id = bound_profile(&case)?;
    let sign_in = tenants
        .sign_in(root, &profile_id)
        .await
        .map_err(|e| with_next_step(e, root, &profile_id))?;
    let profile = tenant::resolve_profile(root, &profile_id, &sign_in)?;
    let client = tenant::connect(&profile, sign_in, tenants.clock())?;
    Ok(Arc::new(Responder::new(
        client,
        cases.clone(),
        profile.protected_accounts(),
    )))
}

/// Says where to sign in when the case's delegated profile has no session in this run.
fn with_next_step(error: IpcError, root: &DataRoot, id: &ProfileId) -> IpcError {
    if error.kind != IpcErrorKind::SignInRequired {
        return error;
    }
    let name = tenant::get_profile(root, id).map_or_else(|_| id.to_string(), |p| p.display_name);
    IpcError {
        message: format!(
            "{} Open Settings, choose \"Sign in with a device code\" on the profile \"{name}\", \
             then come back to this case's Response tab.",
            error.message
        ),
        ..error
    }
}

/// The profile recorded on a declared case, or why the wizard cannot act on the case.
fn bound_profile(case: &CaseView) -> Result<ProfileId, IpcError> {
    case.tenant_profile.clone().ok_or_else(|| IpcError {
        kind: IpcErrorKind::Invalid,
        message: "This case has no tenant to act on in this run. A practice case works while \
                  Firebreak stays open: start the scenario again from Practice. A case declared \
                  before Firebreak recorded the tenant has none: declare a new case and choose \
                  the tenant there."
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use firebreak_core::{
        case::{
            metadata::{AlertSource, CaseMetadata, Severity},
            ADMIN,
        },
        clock::SystemClock,
        vault::Vault,
    };
    use firebreak_sim::Scenario;

    use crate::tenants::DEFAULT_SCENARIO;

    fn details(account: &str) -> CaseMetadata {
        let now = chrono::Utc::now();
        CaseMetadata {
            title: "Invoice fraud".into(),
            detected_at: now,
            aware_at: now,
            alert_source: AlertSource::UserReport,
            indicators: vec![],
            affected_workloads: vec![],
            severity: Severity::High,
            accounts: vec![account.into()],
            incident_commander: "Sam".into(),
            external_ticket: None,
        }
    }

    fn setup(root: &std::path::Path) -> (DataRoot, CaseStore, Tenants) {
        let root = DataRoot::open(root).expect("root");
        let cases = CaseStore::new(&root, Arc::new(SystemClock)).expect("store");
        let tenants = Tenants::new(
            Vault::with_service("firebreak-shell-unit-test-unused"),
            Arc::new(firebreak_graph::SystemClock),
            DEFAULT_SCENARIO,
        );
        (root, cases, tenants)
    }

    #[tokio::test]
    async fn a_declared_case_bound_to_the_training_profile_gets_its_plan_from_that_tenant() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (root, cases, tenants) = setup(tmp.path());
        let scenario = Scenario::builtin(DEFAULT_SCENARIO).expect("scenario");
        let account = scenario
            .user_principal_names()
            .into_iter()
            .find(|u| !scenario.break_glass_accounts().contains(u))
            .expect("a user");
        let case = cases
            .declare_on(ADMIN, details(&account), Some(ProfileId::training()))
            .expect("declare");
        let practices = Practices::default();

        let shown = case_to_act_on(&practices, &cases, &case.id).expect("the wizard opens");
        assert_eq!(view(&shown).len(), 1);
        let responder = for_case(&practices, &tenants, &root, &cases, &case.id)
            .await
            .expect("connected to the training tenant");
        assert!(
            responder
                .env()
                .protected
                .iter()
                .any(|u| scenario.break_glass_accounts().contains(u)),
            "the training tenant's break-glass account is protected"
        );
        let plan = responder
            .procedure(&case.id, 1)
            .expect("procedure")
            .plan(&responder.env(), &case.id, "triage")
            .await
            .expect("plan");
        assert_eq!(plan.account, account);
        let skipped = response_skip(&practices, &cases, &case.id);
        assert!(skipped.is_ok(), "{skipped:?}");
    }

    fn response_skip(
        practices: &Practices,
        cases: &CaseStore,
        id: &CaseId,
    ) -> Result<(), IpcError> {
        let store = journal_for(practices, cases, id)?;
        procedure(&store, id, 1)?.skip(&store, ADMIN, id, "triage", "triaged on paper")?;
        Ok(())
    }

    #[tokio::test]
    async fn a_case_on_a_delegated_profile_without_a_session_says_where_to_sign_in() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (root, cases, tenants) = setup(tmp.path());
        let draft = tenant::ProfileDraft {
            display_name: "Contoso".into(),
            tenant: "1b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
            cloud: firebreak_graph::Cloud::Worldwide,
            auth_method: tenant::AuthMethod::DeviceCode,
            client_id: "2b4e28ba-2fa1-11d2-883f-0016d3cca427".into(),
            break_glass_upn: None,
            signed_in_admin_upn: Some("admin@contoso.com".into()),
            base_url: None,
        };
        let profile = tenant::create_profile(
            &root,
            tenants.vault(),
            draft,
            tenant::CredentialInput::Keep,
            chrono::Utc::now(),
        )
        .expect("profile");
        let case = cases
            .declare_on(ADMIN, details("j.doe@contoso.com"), Some(profile.id))
            .expect("declare");
        let refused = for_case(&Practices::default(), &tenants, &root, &cases, &case.id)
            .await
            .err()
            .expect("no session");
        assert_eq!(refused.kind, IpcErrorKind::SignInRequired);
        assert!(
            refused.message.contains("on the profile \"Contoso\""),
            "{}",
            refused.message
        );
    }

    #[tokio::test]
    async fn a_case_without_a_tenant_profile_is_refused_with_what_to_do() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (root, cases, tenants) = setup(tmp.path());
        let case = cases
            .declare(ADMIN, details("j.doe@contoso.com"))
            .expect("declare");
        let practices = Practices::default();
        let refused = for_case(&practices, &tenants, &root, &cases, &case.id)
            .await
            .err()
            .expect("no tenant");
        assert_eq!(refused.kind, IpcErrorKind::Invalid);
        assert!(
            refused.message.contains("declare a new case"),
            "{}",
            refused.message
        );
        assert!(case_to_act_on(&practices, &cases, &case.id).is_err());
    }
}
