//! The shell's tenant state: the built-in training tenant (the simulated tenant, started inside
//! the application on a loopback port the first time it is used), the keychain, and the delegated
//! sessions signed in during this run. Sessions live in memory only and end with the process.
//!
//! Its one job is to say *how* to sign in to a profile ([`Tenants::sign_in`]); what to do once
//! signed in belongs to `firebreak-core`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use firebreak_core::{
    paths::DataRoot,
    tenant::{self, AuthMethod, ProfileId, SignIn, TrainingTenant},
    vault::Vault,
};
use firebreak_graph::{CancellationToken, Client, Clock, DeviceCodePrompt, SecretString};
use firebreak_sim::{Scenario, SimOptions, SimServer};
use tokio::sync::OnceCell;

use crate::ipc::{IpcError, IpcErrorKind};

/// The scenario the training tenant runs unless told otherwise.
pub const DEFAULT_SCENARIO: &str = "aitm";

/// Tenant connections, shared by the commands. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct Tenants {
    vault: Vault,
    clock: Arc<dyn Clock>,
    scenario: String,
    training: Arc<OnceCell<Training>>,
    sessions: Arc<Mutex<HashMap<ProfileId, Client>>>,
    pending: Arc<Mutex<HashMap<ProfileId, Arc<CancellationToken>>>>,
}

/// The running simulated tenant and the credentials of its incident-response app.
struct Training {
    // Kept for its lifetime: the server stops with the runtime when the application exits.
    _server: SimServer,
    tenant: TrainingTenant,
}

impl Tenants {
    /// Tenant state over `vault`; the training tenant will run `scenario` when first used.
    pub fn new(vault: Vault, clock: Arc<dyn Clock>, scenario: &str) -> Self {
        Self {
            vault,
            clock,
            scenario: scenario.to_owned(),
            training: Arc::new(OnceCell::new()),
            sessions: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// The keychain profiles' secrets go to.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The clock the tenant clients use.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The training tenant, started on first use. A failed start is retried on the next call.
    async fn training(&self) -> Result<&TrainingTenant, IpcError> {
        let training = self
            .training
            .get_or_try_init(|| start_training(&self.scenario))
            .await?;
        Ok(&training.tenant)
    }

    /// How to sign in to profile `id`: the training tenant, this run's delegated session, or the
    /// credential stored in the keychain. A delegated profile without a session is refused with
    /// [`IpcErrorKind::SignInRequired`].
    pub async fn sign_in(&self, root: &DataRoot, id: &ProfileId) -> Result<SignIn<'_>, IpcError> {
        if id.is_training() {
            return Ok(SignIn::Training(self.training().await?));
        }
        if let Some(client) = self.session(id) {
            return Ok(SignIn::Connected(client));
        }
        if tenant::get_profile(root, id)?.auth_method == AuthMethod::DeviceCode {
            return Err(IpcError {
                kind: IpcErrorKind::SignInRequired,
                message: "Sign in with a device code first: Firebreak keeps delegated sign-ins in \
                          memory only, so each run of the application needs one."
                    .into(),
            });
        }
        Ok(SignIn::Stored(&self.vault))
    }

    fn session(&self, id: &ProfileId) -> Option<Client> {
        lock(&self.sessions).get(id).cloned()
    }

    /// Whether a delegated sign-in of this run is still held for profile `id`.
    pub fn has_session(&self, id: &ProfileId) -> bool {
        lock(&self.sessions).contains_key(id)
    }

    /// Signs the admin in to a device-code profile: asks Entra for a code, hands the prompt to
    /// `show`, waits (in Rust) until the admin has entered it, and keeps the session in memory.
    /// A newer sign-in for the same profile, or [`Tenants::cancel_device_sign_in`], stops it.
    pub async fn sign_in_with_device_code(
        &self,
        root: &DataRoot,
        id: &ProfileId,
        show: impl FnOnce(&DeviceCodePrompt),
    ) -> Result<(), IpcError> {
        let flow = tenant::start_device_sign_in(root, id, self.clock()).await?;
        show(flow.prompt());
        let cancel = Arc::new(CancellationToken::new());
        if let Some(older) = lock(&self.pending).insert(id.clone(), cancel.clone()) {
            older.cancel();
        }
        let outcome = flow.wait(&cancel).await;
        {
            let mut pending = lock(&self.pending);
            // Only this sign-in's own entry is removed; a newer one may have replaced it.
            if pending.get(id).is_some_and(|c| Arc::ptr_eq(c, &cancel)) {
                pending.remove(id);
            }
        }
        let credentials = outcome.map_err(firebreak_core::Error::from)?;
        let profile = tenant::get_profile(root, id)?;
        let client = tenant::connect(&profile, SignIn::Delegated(credentials), self.clock())?;
        lock(&self.sessions).insert(id.clone(), client);
        Ok(())
    }

    /// Stops a device-code sign-in that is waiting for the admin. False when none was waiting.
    pub fn cancel_device_sign_in(&self, id: &ProfileId) -> bool {
        lock(&self.pending).remove(id).map(|c| c.cancel()).is_some()
    }

    /// Forgets the delegated session of a profile that was edited or deleted.
    pub fn forget(&self, id: &ProfileId) {
        lock(&self.sessions).remove(id);
        self.cancel_device_sign_in(id);
    }
}

/// The critical sections here only insert, look up and remove; a panic inside one cannot leave a
/// map half-changed, so a poisoned lock is still safe to use.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn start_training(scenario: &str) -> Result<Training, IpcError> {
    let failed = |detail: String| IpcError {
        kind: IpcErrorKind::Failed,
        message: format!(
            "The training tenant could not start ({detail}). Restart Firebreak; if it happens \
             again, report it with the log file."
        ),
    };
    let started = Instant::now();
    let scenario = Scenario::builtin(scenario).map_err(|e| failed(e.to_string()))?;
    let name = scenario.name().to_owned();
    let (server, tenant) = start_simulated(scenario, SimOptions::default())
        .await
        .map_err(failed)?;
    log::info!(
        "training tenant ({name}) listening on {} after {} ms",
        tenant.base_url,
        started.elapsed().as_millis()
    );
    Ok(Training {
        _server: server,
        tenant,
    })
}

/// Starts the simulator on `scenario` and returns it with the credentials Firebreak signs in to it
/// with. The scenario names the organisation's emergency-access accounts (`breakGlass`), as the
/// organisation settings do for a real tenant.
pub async fn start_simulated(
    scenario: Scenario,
    options: SimOptions,
) -> Result<(SimServer, TrainingTenant), String> {
    let client_id = scenario.client_id().to_owned();
    let client_secret = scenario
        .client_secret()
        .map(|s| SecretString::from(s.to_owned()))
        .ok_or("the scenario's app has no client secret")?;
    let break_glass_upn = scenario.break_glass_accounts().first().cloned();
    let server = SimServer::start(scenario, options)
        .await
        .map_err(|e| e.to_string())?;
    let tenant = TrainingTenant {
        base_url: server.base_url(),
        tenant_id: server.tenant_id(),
        client_id,
        client_secret,
        break_glass_upn,
    };
    Ok((server, tenant))
}

#[cfg(test)]
mod tests {
    use firebreak_core::{
        readiness,
        tenant::{CredentialInput, ProfileDraft},
    };
    use std::time::Duration;

    use firebreak_graph::{Cloud, SystemClock};

    use super::*;

    fn tenants() -> Tenants {
        Tenants::new(
            Vault::with_service("firebreak-shell-unit-test-unused"),
            Arc::new(SystemClock),
            DEFAULT_SCENARIO,
        )
    }

    #[tokio::test]
    async fn the_training_tenant_starts_once_on_first_use_and_is_ready() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let tenants = tenants();
        assert!(
            tenants.training.get().is_none(),
            "nothing runs before the training tenant is used"
        );
        let started = Instant::now();
        let first = tenants.training().await.expect("start").base_url.clone();
        eprintln!(
            "training tenant started in {} ms",
            started.elapsed().as_millis()
        );
        let again = tenants.clone();
        assert_eq!(
            again.training().await.expect("running").base_url,
            first,
            "every clone shares the one simulator"
        );
        assert!(
            first.starts_with("http://127.0.0.1:"),
            "loopback only: {first}"
        );

        let id = ProfileId::training();
        let sign_in = tenants.sign_in(&root, &id).await.expect("sign in");
        let checking = Instant::now();
        let report =
            readiness::check_readiness(&root, &id, sign_in, tenants.clock(), chrono::Utc::now())
                .await
                .expect("readiness");
        eprintln!(
            "readiness check against the training tenant took {} ms",
            checking.elapsed().as_millis()
        );
        assert!(report.ready, "{}", report.to_text());
        assert_eq!(report.profile_name, "Training tenant");
        assert!(report
            .findings
            .iter()
            .any(|f| f.id == "breakGlass" && f.status == readiness::Status::Pass));
    }

    fn device_profile(root: &DataRoot, sim: &SimServer, scenario: &Scenario) -> ProfileId {
        let draft = ProfileDraft {
            display_name: "Break-glass sign-in".into(),
            tenant: sim.tenant_id(),
            cloud: Cloud::Worldwide,
            auth_method: AuthMethod::DeviceCode,
            client_id: scenario.client_id().to_owned(),
            break_glass_upn: Some(BREAK_GLASS.into()),
            signed_in_admin_upn: Some(BREAK_GLASS.into()),
            base_url: Some(sim.base_url()),
        };
        let vault = Vault::with_service("firebreak-shell-unit-test-unused");
        tenant::create_profile(
            root,
            &vault,
            draft,
            CredentialInput::Keep,
            chrono::Utc::now(),
        )
        .expect("create")
        .id
    }

    const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";

    async fn approve(sim: &SimServer, user_code: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/devicecode/approve", sim.base_url()))
            .json(&serde_json::json!({"userCode": user_code, "userPrincipalName": BREAK_GLASS}))
            .send()
            .await
            .expect("approve");
        assert!(response.status().is_success(), "{response:?}");
    }

    #[tokio::test]
    async fn a_device_code_sign_in_is_kept_in_memory_and_used_for_readiness() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let scenario = Scenario::builtin(DEFAULT_SCENARIO).expect("scenario");
        let options = SimOptions {
            device_code_interval_seconds: 1,
            ..SimOptions::default()
        };
        let sim = SimServer::start(scenario.clone(), options)
            .await
            .expect("sim");
        let id = device_profile(&root, &sim, &scenario);
        let tenants = tenants();

        let refused = tenants
            .sign_in(&root, &id)
            .await
            .err()
            .expect("no session yet");
        assert_eq!(refused.kind, IpcErrorKind::SignInRequired);

        let (tx, rx) = tokio::sync::oneshot::channel::<DeviceCodePrompt>();
        let signing_in = tenants.sign_in_with_device_code(&root, &id, |prompt| {
            let _ = tx.send(prompt.clone());
        });
        let approving = async {
            let prompt = rx.await.expect("prompt shown");
            assert!(prompt.message.contains(&prompt.user_code));
            approve(&sim, &prompt.user_code).await;
        };
        let (signed_in, ()) = tokio::join!(signing_in, approving);
        signed_in.expect("signed in");

        assert!(tenants.has_session(&id));
        let sign_in = tenants.sign_in(&root, &id).await.expect("session");
        assert!(matches!(sign_in, SignIn::Connected(_)));
        let report =
            readiness::check_readiness(&root, &id, sign_in, tenants.clock(), chrono::Utc::now())
                .await
                .expect("readiness");
        assert_eq!(report.mode, "delegated", "{}", report.to_text());
        assert!(report
            .findings
            .iter()
            .any(|f| f.id == "token.graph" && f.status == readiness::Status::Pass));

        tenants.forget(&id);
        assert_eq!(
            tenants.sign_in(&root, &id).await.err().map(|e| e.kind),
            Some(IpcErrorKind::SignInRequired),
            "an edited or deleted profile loses its session"
        );
    }

    #[tokio::test]
    async fn a_waiting_device_code_sign_in_can_be_cancelled() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let scenario = Scenario::builtin(DEFAULT_SCENARIO).expect("scenario");
        let sim = SimServer::start(scenario.clone(), SimOptions::default())
            .await
            .expect("sim");
        let id = device_profile(&root, &sim, &scenario);
        let tenants = tenants();
        let canceller = tenants.clone();
        let cancel_id = id.clone();
        let outcome = tenants
            .sign_in_with_device_code(&root, &id, move |_| {
                // Cancel as soon as the code is on screen.
                let canceller = canceller.clone();
                tokio::spawn(async move {
                    while !canceller.cancel_device_sign_in(&cancel_id) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                });
            })
            .await;
        let err = outcome.expect_err("cancelled");
        assert_eq!(err.kind, IpcErrorKind::Cancelled, "{}", err.message);
        assert!(
            !tenants.cancel_device_sign_in(&id),
            "nothing is left waiting"
        );
    }
}
