//! The HTTP server: binds loopback on an ephemeral port, routes Graph (`/v1.0`, `/beta`), the
//! Entra token endpoints, the Exchange admin API and `/_sim/`, and wraps them in the behaviour every
//! Microsoft endpoint shares here: latency and injected faults, the attacker catching up with the
//! simulated clock before each request, and Graph's response envelope (`request-id` headers and
//! the error body with `innerError`). Connections are served one task each so that a "dropped
//! connection" fault can close a socket without answering.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::clock::Clock;
use crate::error::SimError;
use crate::faults::{Fault, FaultState, Faults, RequestKind};
use crate::request_log::{LoggedRequest, RequestLog};
use crate::scenario::Scenario;
use crate::tenant::{derived_guid, Tenant};
use crate::token::TokenService;

/// How to run the simulated tenant. `SimOptions::default()` is a frozen clock, no faults beyond
/// the scenario's own, and an ephemeral port.
#[derive(Debug, Default, Clone)]
pub struct SimOptions {
    /// Extra latency added to every Graph, Exchange and token response.
    pub latency: Duration,
    /// Faults to use instead of the scenario's `"faults"` section.
    pub faults: Option<Faults>,
    /// Simulated seconds per real second (0 = the clock moves only through `/_sim/clock`).
    pub clock_rate: f64,
    /// Port to bind on 127.0.0.1 (0 = any free port).
    pub port: u16,
    /// The device-code polling interval announced to clients, in seconds (0 = Entra's 5).
    pub device_code_interval_seconds: u64,
    /// Answer at most this many Graph, Exchange and token requests at once; the rest wait their
    /// turn (0 = no limit). 1 gives a benchmark its sequential baseline.
    pub max_concurrent_requests: usize,
}

/// State shared by every request.
pub(crate) struct Sim {
    tenant: Mutex<Tenant>,
    pub(crate) clock: Clock,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) tokens: TokenService,
    pub(crate) base_url: String,
    pub(crate) latency: Duration,
    pub(crate) requests: RequestLog,
}

impl Sim {
    /// Locks the tenant; a poisoned lock (a panicked handler) still yields the data.
    pub(crate) fn lock_tenant(&self) -> MutexGuard<'_, Tenant> {
        self.tenant.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets the attacker act up to the current simulated time.
    pub(crate) fn catch_up(&self) {
        let now = self.clock.now();
        let mut tenant = self.lock_tenant();
        crate::hybrid::sync(&mut tenant, now);
        crate::attacker::advance(&mut tenant, now);
    }

    fn next_fault(&self, request: RequestKind) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next(request)
    }

    /// Whether this Exchange change answers 200 with its failure in `@adminapi.errors`.
    pub(crate) fn exchange_error_in_success(&self) -> bool {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exchange_error_in_success()
    }

    pub(crate) fn fault_config(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .clone()
    }
}

/// A running simulated tenant.
pub struct SimServer {
    addr: SocketAddr,
    tenant_id: String,
    sim: Arc<Sim>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl SimServer {
    /// Binds 127.0.0.1 on an ephemeral port (or `options.port`) and serves in the current tokio
    /// runtime.
    pub async fn start(scenario: Scenario, options: SimOptions) -> Result<SimServer, SimError> {
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(|source| SimError::Bind {
                port: options.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            port: options.port,
            source,
        })?;
        let base_url = format!("http://{addr}");
        let tenant = Tenant::from_scenario(&scenario).map_err(SimError::InvalidScenario)?;
        let faults = options
            .faults
            .clone()
            .unwrap_or_else(|| scenario.faults.clone());
        let interval = if options.device_code_interval_seconds == 0 {
            5
        } else {
            options.device_code_interval_seconds
        };
        let sim = Arc::new(Sim {
            tenant: Mutex::new(tenant),
            clock: Clock::new(scenario.now, options.clock_rate),
            faults: Mutex::new(FaultState::new(faults)),
            tokens: TokenService::new(interval),
            base_url,
            latency: options.latency,
            requests: RequestLog::new(options.max_concurrent_requests),
        });
        let router = router(sim.clone());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, router, stopped));
        Ok(SimServer {
            addr,
            tenant_id: scenario.tenant.id.clone(),
            sim,
            stop,
            task,
        })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The scenario's tenant id (GUID).
    pub fn tenant_id(&self) -> String {
        self.tenant_id.clone()
    }

    /// The current simulated time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.sim.clock.now()
    }

    /// Moves the simulated clock forward and lets the attacker act over the elapsed time.
    pub fn advance(&self, by: chrono::Duration) {
        self.sim.clock.advance(by);
        self.sim.catch_up();
    }

    /// Replaces the faults, as `POST /_sim/faults` does.
    pub fn set_faults(&self, faults: Faults) {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set(faults);
    }

    /// The score against the answer key, as `GET /_sim/score` returns it.
    pub fn score(&self) -> crate::score::Score {
        crate::control::score(&self.sim)
    }

    /// The log of changes received, as `GET /_sim/actions` returns it.
    pub fn actions(&self) -> serde_json::Value {
        crate::control::actions(&self.sim)
    }

    /// What the attacker did and whether it has access, as `GET /_sim/attacker` returns it.
    pub fn attacker(&self) -> serde_json::Value {
        crate::control::attacker_report(&self.sim)
    }

    /// The attacker comes back to `user` now and does each of `actions` (`signIn`,
    /// `failedSignIn`, `registerMethod`, `inboxRule`, `forwarding`) from its own address, as
    /// `POST /_sim/attacker/return` does. Returns what was done, or why not.
    pub fn attacker_returns(
        &self,
        user: &str,
        actions: &[&str],
    ) -> Result<serde_json::Value, String> {
        let actions: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
        crate::control::act(&self.sim, crate::control::Actor::Attacker, user, &actions)
    }

    /// The admin acts now on a synchronised account in Active Directory (`disable`, `enable`,
    /// `resetPassword`), as `POST /_sim/onPremises` does. Returns what was done, or why not.
    pub fn on_premises(&self, user: &str, action: &str) -> Result<serde_json::Value, String> {
        crate::control::on_premises_act(&self.sim, user, action)
    }

    /// The account's owner acts now from their usual address (`signIn`, `registerMethod`), as
    /// `POST /_sim/user/activity` does.
    pub fn user_acts(&self, user: &str, actions: &[&str]) -> Result<serde_json::Value, String> {
        let actions: Vec<String> = actions.iter().map(|a| (*a).to_owned()).collect();
        crate::control::act(&self.sim, crate::control::Actor::User, user, &actions)
    }

    /// The Graph, Exchange and token requests answered so far (the last
    /// [`crate::REQUEST_LOG_CAPACITY`]), oldest first, as `GET /_sim/requests` returns them.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.sim.requests.snapshot()
    }

    /// The sequence number the next answered request will get: requests answered after this
    /// call have a `seq` at least this.
    pub fn next_request_seq(&self) -> u64 {
        self.sim.requests.next_seq()
    }

    /// Forgets the requests logged so far (sequence numbers keep counting).
    pub fn clear_request_log(&self) {
        self.sim.requests.clear();
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let router = router.clone();
                connections.spawn(serve_connection(stream, router));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// A handle that closes the current connection without an answer.
#[derive(Clone)]
pub(crate) struct ConnectionKill(Arc<Notify>);

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let kill = Arc::new(Notify::new());
    let handle = ConnectionKill(kill.clone());
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(handle.clone());
            router.clone().oneshot(request.map(Body::new))
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        _ = kill.notified() => {}
    }
}

fn router(sim: Arc<Sim>) -> Router {
    let graph = Router::new()
        .nest(
            "/v1.0",
            crate::graph::routes().layer(Extension(crate::graph::ApiVersion::V1)),
        )
        .nest(
            "/beta",
            crate::graph::routes().layer(Extension(crate::graph::ApiVersion::Beta)),
        )
        .layer(middleware::from_fn_with_state(sim.clone(), graph_envelope));
    let exchange = Router::new().route(
        "/adminapi/beta/{tenant}/InvokeCommand",
        post(crate::exchange::invoke_command),
    );
    let faulted = graph
        .merge(exchange)
        .layer(middleware::from_fn_with_state(sim.clone(), inject_faults));
    let identity = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(crate::token::token_endpoint),
        )
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(crate::token::device_code_endpoint),
        )
        .layer(middleware::from_fn_with_state(sim.clone(), add_latency));
    Router::new()
        .merge(faulted)
        .merge(identity)
        .nest("/_sim", crate::control::routes())
        .layer(middleware::from_fn_with_state(sim.clone(), catch_up))
        .layer(middleware::from_fn_with_state(
            sim.clone(),
            crate::request_log::log_request,
        ))
        .with_state(sim)
}

async fn catch_up(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    sim.catch_up();
    next.run(request).await
}

async fn add_latency(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let delay = sim.latency + Duration::from_millis(sim.fault_config().latency_ms);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

async fn inject_faults(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let delay = sim.latency + Duration::from_millis(sim.fault_config().latency_ms);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match sim.next_fault(request_kind(&request)) {
        None => next.run(request).await,
        Some(Fault::Drop) => {
            if let Some(kill) = request.extensions().get::<ConnectionKill>() {
                kill.0.notify_one();
            }
            std::future::pending::<Response>().await
        }
        Some(Fault::DropAnswer) => {
            let kill = request.extensions().get::<ConnectionKill>().cloned();
            let _lost = next.run(request).await;
            if let Some(kill) = kill {
                kill.0.notify_one();
            }
            std::future::pending::<Response>().await
        }
        Some(Fault::ExchangeTransient { n }) => crate::exchange::transient_failure(n),
        Some(Fault::Throttle { retry_after }) => {
            throttled(&sim, &request, StatusCode::TOO_MANY_REQUESTS, retry_after)
        }
        Some(Fault::Unavailable { retry_after }) => {
            throttled(&sim, &request, StatusCode::SERVICE_UNAVAILABLE, retry_after)
        }
    }
}

/// Whether `request` is Exchange's and whether it changes something: a Graph request other than
/// GET, an Exchange cmdlet other than Get- (by the `X-CmdletName` header clients send).
fn request_kind(request: &Request) -> RequestKind {
    let exchange = request.uri().path().starts_with("/adminapi/");
    let change = if exchange {
        request
            .headers()
            .get("x-cmdletname")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| !c.is_empty() && !c.starts_with("Get-"))
    } else {
        request.method() != axum::http::Method::GET
    };
    RequestKind { exchange, change }
}

fn throttled(sim: &Sim, request: &Request, status: StatusCode, retry_after: f64) -> Response {
    if status == StatusCode::TOO_MANY_REQUESTS && request.uri().path().starts_with("/adminapi/") {
        let in_text = sim
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exchange_throttle_in_text();
        return crate::exchange::throttled(retry_after, in_text);
    }
    let (code, message) = if status == StatusCode::TOO_MANY_REQUESTS {
        (
            "TooManyRequests",
            "Too many requests. Retry after the number of seconds in the Retry-After header.",
        )
    } else {
        ("ServiceNotAvailable", "The service is temporarily unavailable. Retry after the number of seconds in the Retry-After header.")
    };
    let ids = RequestIds::new(request.headers());
    let mut response = error_body(sim, &ids, status, code, message);
    ids.apply(&mut response);
    if let Ok(value) = HeaderValue::from_str(&retry_after_text(retry_after)) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// A `Retry-After` value: whole seconds as an integer (`2`), a fraction as a decimal (`1.5`).
pub(crate) fn retry_after_text(seconds: f64) -> String {
    let seconds = if seconds.is_finite() {
        seconds.max(0.0)
    } else {
        0.0
    };
    format!("{seconds}")
}

/// The `request-id` / `client-request-id` pair of one Graph request.
pub(crate) struct RequestIds {
    pub(crate) request_id: String,
    pub(crate) client_request_id: String,
}

impl RequestIds {
    pub(crate) fn new(headers: &HeaderMap) -> Self {
        let request_id = derived_guid(&format!(
            "req/{:?}/{}",
            std::time::SystemTime::now(),
            rand::random::<u64>()
        ));
        let client_request_id = headers
            .get("client-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 100)
            .map(str::to_owned)
            .unwrap_or_else(|| request_id.clone());
        Self {
            request_id,
            client_request_id,
        }
    }

    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert("request-id", v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.client_request_id) {
            headers.insert("client-request-id", v);
        }
        headers.insert(
            "x-ms-ags-diagnostic",
            HeaderValue::from_static(r#"{"ServerInfo":{"DataCenter":"Loopback","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"FIREBREAK-SIM"}}"#),
        );
    }
}

/// The error a Graph handler returns; the envelope middleware renders it with the request ids.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl GraphError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

fn error_body(
    sim: &Sim,
    ids: &RequestIds,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    let body = json!({"error": {
        "code": code,
        "message": message,
        "innerError": {
            "date": sim.clock.now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": ids.request_id,
            "client-request-id": ids.client_request_id,
        }
    }});
    (status, axum::Json(body)).into_response()
}

async fn graph_envelope(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let ids = RequestIds::new(request.headers());
    let response = next.run(request).await;
    let mut response = match response.extensions().get::<GraphError>().cloned() {
        Some(error) => {
            let mut rendered = error_body(&sim, &ids, error.status, &error.code, &error.message);
            for (name, value) in response.headers() {
                if name != "content-type" && name != "content-length" {
                    rendered.headers_mut().insert(name.clone(), value.clone());
                }
            }
            rendered
        }
        None => response,
    };
    ids.apply(&mut response);
    response
}
