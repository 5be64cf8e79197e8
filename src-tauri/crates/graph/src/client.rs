//! The client itself: configuration, the request loop (token, send, 401 refresh, retry, error
//! mapping, cancellation), the per-mailbox concurrency gate, and paging as a stream of pages that
//! keep their raw JSON.
//!
//! The typed operations live in the resource modules (`directory`, `methods`, `mail`, `logs`,
//! `security`, `exchange`), each an `impl Client` block over the helpers here.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::{header::HeaderMap, Method};
use secrecy::{ExposeSecret, SecretString};
use serde::{de::DeserializeOwned, Deserialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    auth::{decode_claims, Credentials, TokenClaims, TokenSource},
    clock::{Clock, SystemClock},
    cloud::Endpoints,
    permissions::{explain_denial, explain_denial_for, Operation, Resource},
    retry::{
        is_throttling_text, is_transient_exchange_failure, parse_retry_after, Decision, Failure,
        RetryPolicy,
    },
    roles::Caller,
    Error,
};

/// Outlook allows 4 concurrent requests per app per mailbox (spec/graph/endpoints.md §2).
pub const MAILBOX_CONCURRENCY: usize = 4;

/// How long one Exchange admin API request may take: the 960 seconds Exchange's own module
/// allows, a minute more than the service's own limit (spec/exchange.md).
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(960);

/// Everything a client needs besides its credentials.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where the services are.
    pub endpoints: Endpoints,
    /// The tenant id (GUID) or primary domain.
    pub tenant: String,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Time and waiting.
    pub clock: Arc<dyn Clock>,
    /// Per-request timeout for Graph and the token endpoints.
    pub timeout: Duration,
    /// Per-request timeout for the Exchange admin API, whose cmdlets may run long on large
    /// mailboxes: its own module waits 16 minutes (spec/exchange.md, "Retries and timeouts").
    pub exchange_timeout: Duration,
    /// The signed-in admin's UPN (delegated mode), for Exchange's `X-AnchorMailbox`.
    pub admin_upn: Option<String>,
}

impl ClientConfig {
    /// Defaults for `endpoints` and `tenant`: the default retry policy, the system clock, a
    /// 100-second timeout ([`EXCHANGE_TIMEOUT`] for Exchange).
    pub fn new(endpoints: Endpoints, tenant: impl Into<String>) -> Self {
        Self {
            endpoints,
            tenant: tenant.into(),
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            timeout: Duration::from_secs(100),
            exchange_timeout: EXCHANGE_TIMEOUT,
            admin_upn: None,
        }
    }
}

/// One page of a collection: the items, the link to the next page, and the body exactly as the
/// service sent it (what the evidence store saves).
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The response body as received.
    pub raw: String,
    /// The decoded items.
    pub items: Vec<T>,
    /// `@odata.nextLink`, verbatim, when there are more pages.
    pub next_link: Option<String>,
}

/// A stream of pages, ending after the page without `@odata.nextLink`.
pub type PageStream<T> = BoxStream<'static, Result<Page<T>, Error>>;

/// Collects every item of every page.
pub async fn collect_items<T>(pages: PageStream<T>) -> Result<Vec<T>, Error> {
    pages
        .try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page.items);
            Ok(all)
        })
        .await
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

/// A response that was a success.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// A request to make.
pub(crate) struct Call {
    pub(crate) op: Operation,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) headers: Vec<(&'static str, String)>,
    /// The mailbox this Outlook request concerns (for the concurrency gate).
    pub(crate) mailbox: Option<String>,
    /// Whether repeating it after a dropped connection is harmless.
    pub(crate) idempotent: bool,
}

impl Call {
    pub(crate) fn new(op: Operation, method: Method, url: Url) -> Self {
        let idempotent = method != Method::POST;
        Self {
            op,
            method,
            url,
            body: None,
            headers: Vec::new(),
            mailbox: None,
            idempotent,
        }
    }

    pub(crate) fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn mailbox(mut self, mailbox: &str) -> Self {
        self.mailbox = Some(mailbox.to_ascii_lowercase());
        self
    }

    pub(crate) fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    fn again(&self, url: Url) -> Self {
        Self {
            op: self.op,
            method: self.method.clone(),
            url,
            body: self.body.clone(),
            headers: self.headers.clone(),
            mailbox: self.mailbox.clone(),
            idempotent: self.idempotent,
        }
    }
}

#[derive(Default)]
struct MailboxGate {
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl MailboxGate {
    fn gate(&self, mailbox: &str) -> Arc<Semaphore> {
        let mut gates = match self.gates.lock() {
            Ok(g) => g,
            // A panic while holding this lock cannot leave the map inconsistent (one insert).
            Err(poisoned) => poisoned.into_inner(),
        };
        gates
            .entry(mailbox.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(MAILBOX_CONCURRENCY)))
            .clone()
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    tokens: TokenSource,
    mailboxes: MailboxGate,
}

/// A connection to one tenant. Cheap to clone; clones share the token cache and mailbox gates.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("tenant", &self.inner.config.tenant)
            .field("endpoints", &self.inner.config.endpoints)
            .field("credentials", self.inner.tokens.credentials())
            .finish()
    }
}

impl Client {
    /// A client for the tenant in `config`, signing in with `credentials`. No request is made
    /// until the first operation.
    pub fn new(config: ClientConfig, credentials: Credentials) -> Result<Self, Error> {
        if config.tenant.is_empty()
            || !config
                .tenant
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(Error::InvalidInput {
                what: "tenant",
                value: config.tenant.clone(),
                reason: "expected a tenant id (GUID) or a domain such as contoso.onmicrosoft.com",
            });
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Firebreak/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config {
                detail: format!("the HTTP client could not start: {e}"),
            })?;
        let tokens = TokenSource::new(
            config.endpoints.clone(),
            config.tenant.clone(),
            credentials,
            config.clock.clone(),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                tokens,
                mailboxes: MailboxGate::default(),
            }),
            cancel: CancellationToken::new(),
        })
    }

    /// A handle whose requests stop (with [`Error::Cancelled`]) when `cancel` fires. Waits for a
    /// retry, a mailbox slot or a response are all interrupted.
    pub fn with_cancellation(&self, cancel: CancellationToken) -> Self {
        Self {
            inner: self.inner.clone(),
            cancel,
        }
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether the client acts for a signed-in admin (device code) rather than as the app.
    pub fn is_delegated(&self) -> bool {
        self.inner.tokens.credentials().is_delegated()
    }

    /// Acquires (or reuses) the token for `resource` and returns its claims; the token itself
    /// never leaves the client.
    pub async fn token_claims(&self, resource: Resource) -> Result<TokenClaims, Error> {
        let token = self
            .cancellable(self.inner.tokens.token(resource))
            .await??;
        decode_claims(token.expose_secret())
    }

    pub(crate) fn graph_root(&self, beta: bool) -> String {
        self.inner.config.endpoints.graph_root(beta)
    }

    pub(crate) fn tenant(&self) -> &str {
        &self.inner.config.tenant
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.config.clock
    }

    /// Waits `duration` on the client's clock (a test or headless clock lets simulated time pass
    /// instead): for callers that poll the tenant, such as a read-back waiting for replication.
    pub fn pause(
        &self,
        duration: std::time::Duration,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        self.inner.config.clock.sleep(duration)
    }

    /// Runs `f` unless the handle's cancellation fires first.
    pub(crate) async fn run_cancellable<F: std::future::Future>(
        &self,
        f: F,
    ) -> Result<F::Output, Error> {
        self.cancellable(f).await
    }

    async fn cancellable<F: std::future::Future>(&self, f: F) -> Result<F::Output, Error> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Error::Cancelled),
            out = f => Ok(out),
        }
    }

    /// Sends `call`: token, mailbox gate, retries, one refresh after a 401, error mapping.
    pub(crate) async fn send(&self, call: &Call) -> Result<Response, Error> {
        let _permit: Option<OwnedSemaphorePermit> = match &call.mailbox {
            Some(mailbox) => {
                let gate = self.inner.mailboxes.gate(mailbox);
                Some(
                    self.cancellable(gate.acquire_owned())
                        .await?
                        .map_err(|_| Error::Cancelled)?,
                )
            }
            None => None,
        };
        let resource = call.op.resource();
        let policy = self.inner.config.retry;
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self
                .cancellable(self.inner.tokens.token(resource))
                .await??;
            let outcome = self.cancellable(self.attempt(call, &token)).await?;
            match outcome {
                Attempt::Done(status, _, body) if (200..300).contains(&status) => {
                    return Ok(Response { status, body });
                }
                Attempt::Done(401, _, _) if !refreshed => {
                    log::info!("{:?}: token refused (401), refreshing it once", call.op);
                    refreshed = true;
                    self.inner.tokens.invalidate(resource, &token).await;
                    attempt -= 1;
                }
                Attempt::Done(status, headers, body) => {
                    let retry_after = headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, self.inner.config.clock.now()));
                    let failure = classify(call.op, status, &body);
                    match policy.decide(failure, retry_after, attempt, fastrand::f64()) {
                        Decision::Stop => {
                            let caller = (status == 403)
                                .then(|| decode_claims(token.expose_secret()).ok())
                                .flatten();
                            return Err(self.service_error(
                                call.op,
                                (status, &headers),
                                body,
                                attempt,
                                caller.as_ref(),
                            ));
                        }
                        Decision::Wait(wait) => {
                            log::info!(
                                "{:?}: HTTP {status}, attempt {attempt}, retrying in {wait:?}",
                                call.op
                            );
                            self.cancellable(self.inner.config.clock.sleep(wait))
                                .await?;
                        }
                    }
                }
                Attempt::NoAnswer(detail) => {
                    let decision = if call.idempotent {
                        policy.decide(Failure::Connection, None, attempt, fastrand::f64())
                    } else {
                        Decision::Stop
                    };
                    match decision {
                        Decision::Stop => {
                            return Err(Error::Transport {
                                operation: call.op,
                                detail,
                            })
                        }
                        Decision::Wait(wait) => {
                            log::info!("{:?}: no answer ({detail}), attempt {attempt}, retrying in {wait:?}", call.op);
                            self.cancellable(self.inner.config.clock.sleep(wait))
                                .await?;
                        }
                    }
                }
            }
        }
    }

    async fn attempt(&self, call: &Call, token: &SecretString) -> Attempt {
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .bearer_auth(token.expose_secret())
            .header("Accept", "application/json")
            .header("client-request-id", uuid::Uuid::new_v4().to_string());
        if call.op.resource() == Resource::Exchange {
            request = request.timeout(self.inner.config.exchange_timeout);
        }
        for (name, value) in &call.headers {
            request = request.header(*name, value);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        } else if call.method == Method::POST {
            request = request.header("Content-Length", "0");
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                match response.text().await {
                    Ok(body) => Attempt::Done(status, headers, body),
                    Err(e) => Attempt::NoAnswer(e.to_string()),
                }
            }
            Err(e) => Attempt::NoAnswer(e.to_string()),
        }
    }

    /// The error for a refused request. `claims` are those of the token the request carried (read
    /// for a 403 only), so a refusal can be explained by the role the caller lacks rather than a
    /// permission it already has.
    fn service_error(
        &self,
        op: Operation,
        (status, headers): (u16, &HeaderMap),
        raw: String,
        attempts: u32,
        claims: Option<&TokenClaims>,
    ) -> Error {
        #[derive(Deserialize, Default)]
        struct Body {
            #[serde(default)]
            error: Option<ErrorBody>,
        }
        #[derive(Deserialize, Default)]
        struct ErrorBody {
            #[serde(default)]
            code: Option<String>,
            #[serde(default)]
            message: Option<String>,
            #[serde(default, rename = "innerError", alias = "innererror")]
            inner: Option<serde_json::Value>,
        }
        let parsed: Body = serde_json::from_str(&raw).unwrap_or_default();
        let error = parsed.error.unwrap_or_default();
        let code = error.code.unwrap_or_default();
        let cause = (op.resource() == Resource::Exchange)
            .then(|| crate::exchange::cause(&raw))
            .flatten();
        let exception = cause.as_ref().and_then(|c| c.exception.clone());
        let message = match cause {
            Some(cause) => cause.message,
            None => error
                .message
                .unwrap_or_else(|| raw.trim().chars().take(300).collect()),
        };
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                error
                    .inner
                    .as_ref()
                    .and_then(|i| i.get("request-id"))
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            });
        if status == 429 || is_throttling_text(&raw) {
            return Error::Throttled {
                operation: op,
                status,
                attempts,
                retry_after: headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, self.inner.config.clock.now()))
                    .map(|d| d.as_secs()),
                code,
                message,
                request_id,
                raw,
            };
        }
        let exchange_role_refusal =
            op.resource() == Resource::Exchange && is_exchange_role_refusal(status, &raw);
        if exchange_role_refusal
            || (status == 403 && !crate::error::is_licence_refusal(&code, &message))
        {
            return Error::PermissionDenied {
                operation: op,
                explanation: match claims {
                    Some(claims) => {
                        let delegated = self.is_delegated();
                        let granted = if delegated {
                            claims.scopes()
                        } else {
                            claims.roles.clone()
                        };
                        explain_denial_for(op, &Caller::from_claims(claims, delegated), &granted)
                    }
                    None => explain_denial(op, self.is_delegated()),
                },
                code,
                message,
                request_id,
                raw,
            };
        }
        Error::Service {
            operation: op,
            status,
            code,
            message,
            exception,
            request_id,
            raw,
        }
    }

    /// Sends `call` and decodes the JSON body as `T`, keeping the raw body on failure.
    pub(crate) async fn fetch<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let response = self.send(call).await?;
        decode(call.op, &response.body)
    }

    /// Sends `call` and ignores the body (204 or an acknowledgement).
    pub(crate) async fn execute(&self, call: &Call) -> Result<(), Error> {
        self.send(call).await.map(|_| ())
    }

    /// Sends `call` and returns the body, decoded and raw.
    pub(crate) async fn fetch_raw<T: DeserializeOwned>(
        &self,
        call: &Call,
    ) -> Result<(T, String), Error> {
        let response = self.send(call).await?;
        let value = decode(call.op, &response.body)?;
        Ok((value, response.body))
    }

    /// Pages through a collection starting at `first`, following `@odata.nextLink` verbatim
    /// (re-sending the same body for Exchange) until it is absent. A link to another origin is
    /// refused, so the token never leaves the service.
    pub(crate) fn pages<T: DeserializeOwned + Send + 'static>(&self, first: Call) -> PageStream<T> {
        let client = self.clone();
        stream::try_unfold(Some(first), move |next| {
            let client = client.clone();
            async move {
                let Some(call) = next else { return Ok(None) };
                let response = client.send(&call).await?;
                let envelope: Envelope<T> = decode(call.op, &response.body)?;
                let following = match &envelope.next_link {
                    Some(link) => Some(call.again(client.check_link(call.op, link)?)),
                    None => None,
                };
                let page = Page {
                    raw: response.body,
                    items: envelope.value,
                    next_link: envelope.next_link,
                };
                Ok(Some((page, following)))
            }
        })
        .boxed()
    }

    fn check_link(&self, op: Operation, link: &str) -> Result<Url, Error> {
        let foreign = || Error::ForeignLink {
            operation: op,
            link: link.to_owned(),
        };
        let url = Url::parse(link).map_err(|_| foreign())?;
        match self.inner.config.endpoints.origin(op.resource()) {
            Some(origin) if origin == url.origin() => Ok(url),
            _ => Err(foreign()),
        }
    }

    /// The `X-AnchorMailbox` of an Exchange request about `mailbox`: the mailbox itself when it is
    /// named by its address (`UPN:` as the ExchangeOnlineManagement module writes it), otherwise
    /// the organisation-wide anchor. An object id is not an address Exchange routes by.
    pub(crate) fn anchor_for(&self, mailbox: Option<&crate::odata::UserRef>) -> String {
        match mailbox {
            Some(m) if m.as_str().contains('@') => format!("UPN:{}", m.as_str()),
            _ => self.anchor_mailbox(),
        }
    }

    /// The organisation-wide `X-AnchorMailbox`: the signed-in admin's mailbox for a delegated
    /// sign-in, the organisation's arbitration mailbox for an app.
    pub(crate) fn anchor_mailbox(&self) -> String {
        match (&self.inner.config.admin_upn, self.is_delegated()) {
            (Some(upn), true) => format!("UPN:{upn}"),
            _ => format!(
                "APP:SystemMailbox{{bb558c35-97f1-4cb9-8ff7-d53741dc928c}}@{}",
                self.inner.config.tenant
            ),
        }
    }
}

/// What a failed answer means for retrying: Exchange's plain-text throttling (whatever its
/// status, even 200-less 4xx) and its named transient failures are worth another try; anything
/// else is judged by its status.
fn classify(op: Operation, status: u16, body: &str) -> Failure {
    if matches!(status, 429 | 503 | 504) {
        return Failure::Status(status);
    }
    if is_throttling_text(body) {
        return Failure::Throttled;
    }
    if op.resource() == Resource::Exchange && is_transient_exchange_failure(body) {
        return Failure::Transient;
    }
    Failure::Status(status)
}

enum Attempt {
    Done(u16, HeaderMap, String),
    NoAnswer(String),
}

/// Whether an Exchange answer says the caller's role does not reach the cmdlet or the mailbox:
/// 401 "User is not allowed to call <cmdlet>" for a role without the cmdlet, or the read-scope
/// refusal Global Reader gets from Get-InboxRule (spec/exchange.md, "Roles"). Both are a missing
/// role, not a failed sign-in.
fn is_exchange_role_refusal(status: u16, body: &str) -> bool {
    (status == 401 && body.contains("is not allowed to call"))
        || body.contains("out of the current user's read scope")
        || body.contains("isn't within your current write scope")
}

/// Decodes `body` as `T`; a failure keeps the raw body.
pub(crate) fn decode<T: DeserializeOwned>(op: Operation, body: &str) -> Result<T, Error> {
    serde_json::from_str(body).map_err(|e| Error::Decode {
        operation: op,
        detail: e.to_string(),
        raw: body.to_owned(),
    })
}
