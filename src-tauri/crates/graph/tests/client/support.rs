//! Shared set-up: a simulated tenant on loopback, a client with a test clock, control calls.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use firebreak_graph::{Client, ClientConfig, Clock, Credentials, Endpoints, SecretString, UserRef};
use firebreak_sim::{Scenario, SimOptions, SimServer};
use futures_util::future::BoxFuture;
use serde_json::Value;

/// The incident-response app every shipped scenario registers.
pub const CLIENT_ID: &str = "b7e3f4a2-51c8-4d2e-9a60-3f1e2d4c5b6a";
/// Its training secret (training data, not a real secret).
pub const CLIENT_SECRET: &str = "training-only~Fb7Q.not-a-real-secret.2f9K";
/// The victim in the AiTM scenario.
pub const MEGAN: &str = "megan.bowen@contoso-training.onmicrosoft.com";
/// Megan's object id.
pub const MEGAN_ID: &str = "d9303c03-eb05-5431-8ab9-cc4947a7edf5";
/// The break-glass account.
pub const BREAK_GLASS: &str = "breakglass@contoso-training.onmicrosoft.com";

/// A clock whose waits return at once and move its time forward, recording each wait.
#[derive(Debug)]
pub struct TestClock {
    now: Mutex<DateTime<Utc>>,
    sleeps: Mutex<Vec<Duration>>,
}

impl TestClock {
    pub fn new() -> Arc<Self> {
        Self::at(Utc::now())
    }

    /// A clock starting at `now` (the simulated tenant's time, so that client assertions and
    /// token lifetimes agree with the tenant's clock as they would with a real one).
    pub fn at(now: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(now),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    /// The waits asked for so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().unwrap().push(duration);
        let mut now = self.now.lock().unwrap();
        *now += chrono::Duration::from_std(duration).unwrap();
        Box::pin(async {})
    }
}

/// A running simulated tenant and a client for it.
pub struct Tenant {
    pub sim: SimServer,
    pub client: Client,
    pub clock: Arc<TestClock>,
    http: reqwest::Client,
}

pub fn user(upn: &str) -> UserRef {
    UserRef::new(upn).unwrap()
}

pub fn secret_credentials() -> Credentials {
    Credentials::ClientSecret {
        client_id: CLIENT_ID.into(),
        secret: SecretString::from(CLIENT_SECRET.to_owned()),
    }
}

/// Starts `scenario` with default options and an app-only client using the client secret.
pub async fn start(scenario: &str) -> Tenant {
    start_with(scenario, SimOptions::default()).await
}

pub async fn start_with(scenario: &str, options: SimOptions) -> Tenant {
    start_scenario(Scenario::builtin(scenario).unwrap(), options).await
}

/// Starts the shipped scenario `name` changed by `change` (on its JSON).
pub async fn start_with_scenario(name: &str, change: impl FnOnce(&mut Value)) -> Tenant {
    let mut json = serde_json::to_value(Scenario::builtin(name).unwrap()).unwrap();
    change(&mut json);
    start_scenario(
        Scenario::from_json(&json.to_string()).unwrap(),
        SimOptions::default(),
    )
    .await
}

async fn start_scenario(scenario: Scenario, options: SimOptions) -> Tenant {
    let sim = SimServer::start(scenario, options).await.unwrap();
    let clock = TestClock::at(sim.now());
    let client = client_for(&sim, clock.clone(), secret_credentials());
    Tenant {
        sim,
        client,
        clock,
        http: reqwest::Client::new(),
    }
}

pub fn config_for(sim: &SimServer, clock: Arc<dyn Clock>) -> ClientConfig {
    let mut config =
        ClientConfig::new(Endpoints::custom(&sim.base_url()).unwrap(), sim.tenant_id());
    config.clock = clock;
    config
}

pub fn client_for(sim: &SimServer, clock: Arc<dyn Clock>, credentials: Credentials) -> Client {
    Client::new(config_for(sim, clock), credentials).unwrap()
}

impl Tenant {
    /// POSTs `body` to `/_sim/{path}` and returns the JSON answer.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/_sim/{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "/_sim/{path} answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// GETs `/_sim/{path}`.
    pub async fn inspect(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/_sim/{path}", self.sim.base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sets the simulator's faults.
    pub async fn faults(&self, faults: Value) {
        self.control("faults", faults).await;
    }

    /// The simulator's log of changes, as text (for "was it really done" checks).
    pub async fn actions_text(&self) -> String {
        self.inspect("actions").await.to_string()
    }
}
