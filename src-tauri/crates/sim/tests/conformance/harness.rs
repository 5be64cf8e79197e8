//! A simulated tenant started over real loopback HTTP, with a client that validates every Graph
//! response against Microsoft's description as it arrives (a drifting answer fails the test that
//! received it) and records which operations were exercised.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use firebreak_sim::{Scenario, SimOptions, SimServer};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::schema::Description;

pub const GRAPH: &str = "https://graph.microsoft.com/.default";
pub const EXCHANGE: &str = "https://outlook.office365.com/.default";

/// One answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn value(&self) -> Vec<Value> {
        self.body["value"].as_array().cloned().unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// A running simulated tenant and a validating client.
pub struct Sim {
    pub server: SimServer,
    pub http: reqwest::Client,
    pub base: String,
    pub tenant: String,
    pub scenario: Scenario,
    token: Mutex<String>,
    pub coverage: Arc<Mutex<BTreeSet<String>>>,
}

pub fn guid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl Sim {
    pub async fn start(name: &str) -> Sim {
        Sim::start_with(
            Scenario::builtin(name).expect("builtin scenario"),
            SimOptions::default(),
        )
        .await
    }

    pub async fn start_with(scenario: Scenario, options: SimOptions) -> Sim {
        let server = SimServer::start(scenario.clone(), options)
            .await
            .expect("server starts");
        let base = server.base_url();
        let tenant = server.tenant_id();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let sim = Sim {
            server,
            http,
            base,
            tenant,
            scenario,
            token: Mutex::new(String::new()),
            coverage: Arc::default(),
        };
        let token = sim.secret_token(GRAPH).await;
        *sim.token.lock().unwrap() = token;
        sim
    }

    /// Raw token endpoint call.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Reply {
        let response = self
            .http
            .post(format!("{}/{}/oauth2/v2.0/token", self.base, self.tenant))
            .form(form)
            .send()
            .await
            .expect("token endpoint answers");
        read(response).await
    }

    /// A client-credentials token with the scenario's secret.
    pub async fn secret_token(&self, scope: &str) -> String {
        let secret = self
            .scenario
            .client_secret()
            .expect("scenario secret")
            .to_owned();
        let reply = self
            .token_request(&[
                ("client_id", self.scenario.client_id()),
                ("client_secret", &secret),
                ("scope", scope),
                ("grant_type", "client_credentials"),
            ])
            .await;
        assert_eq!(reply.status, 200, "token: {}", reply.body);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// The current app token for Graph (renewed whenever the test moves the clock).
    pub fn token(&self) -> String {
        self.token.lock().unwrap().clone()
    }

    /// Graph call with the app token, validated against the description.
    pub async fn graph(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.graph_as(&self.token(), method, path, body, &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.graph(Method::GET, path, None).await
    }

    /// Graph call with any token and extra headers, validated against the description.
    pub async fn graph_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        let client_request_id = guid_like();
        request = request.header("client-request-id", &client_request_id);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = read(request.send().await.expect("Graph answers")).await;
        self.validate(method.as_str(), path, &reply, &client_request_id);
        reply
    }

    /// Follows `@odata.nextLink` verbatim, validating each page; returns all items and the number of pages.
    pub async fn all_pages(&self, path: &str, headers: &[(&str, &str)]) -> (Vec<Value>, usize) {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut next = Some(format!("{}{path}", self.base));
        while let Some(url) = next {
            let relative = url
                .strip_prefix(&self.base)
                .expect("nextLink stays on the simulator")
                .to_owned();
            let reply = self
                .graph_as(&self.token(), Method::GET, &relative, None, headers)
                .await;
            assert_eq!(reply.status, 200, "{relative}: {}", reply.body);
            items.extend(reply.value());
            pages += 1;
            next = reply.body["@odata.nextLink"].as_str().map(str::to_owned);
            assert!(pages < 5000, "paging does not end");
        }
        (items, pages)
    }

    fn validate(&self, method: &str, path: &str, reply: &Reply, client_request_id: &str) {
        let body = if reply.body.is_null() {
            None
        } else {
            Some(&reply.body)
        };
        match Description::get().check_response(method, path, reply.status, body) {
            Ok(template) => {
                if (200..300).contains(&reply.status) {
                    self.coverage.lock().unwrap().insert(template);
                }
            }
            Err(problems) => panic!("{method} {path} -> {}: response drifts from Microsoft's description:\n  {}\nbody: {}", reply.status, problems.join("\n  "), reply.body),
        }
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            !header("request-id").is_empty(),
            "{method} {path}: no request-id header"
        );
        assert_eq!(
            header("client-request-id"),
            client_request_id,
            "{method} {path}: client-request-id is echoed"
        );
        if reply.status >= 400 {
            let inner = &reply.body["error"]["innerError"];
            let date = inner["date"].as_str().unwrap_or_default();
            assert!(
                date.len() == 19 && !date.ends_with('Z'),
                "innerError.date has no offset: {date}"
            );
            assert_eq!(
                inner["request-id"].as_str(),
                Some(header("request-id").as_str())
            );
            assert_eq!(inner["client-request-id"].as_str(), Some(client_request_id));
        }
    }

    /// Exchange InvokeCommand with an Exchange token; checks the OData envelope.
    pub async fn exo(&self, token: &str, cmdlet: &str, parameters: Value) -> Reply {
        let reply = self.exo_raw(token, cmdlet, parameters, &[]).await;
        if reply.status == 200 {
            assert!(reply.body["@odata.context"].as_str().is_some_and(|c| c.ends_with("$metadata#Collection(Exchange.GenericHashTable)")), "{}", reply.body);
            assert!(
                reply.body["value"].is_array() && reply.body["@adminapi.warnings"].is_array(),
                "{}",
                reply.body
            );
        } else {
            // Exchange's shapes (spec/exchange.md, "Errors"): a cmdlet's failure has its cause in
            // details[0].message as `Ex<id>|<exception>|<cause>`; a request refused before any
            // cmdlet ran has it in innererror.internalexception; authentication and throttling
            // answers have it in error.message alone.
            let error = &reply.body["error"];
            assert!(
                error["code"].is_string() && error["message"].is_string(),
                "{}",
                reply.body
            );
            match error["details"][0]["message"].as_str() {
                Some(detail) => assert!(
                    detail.splitn(3, '|').count() == 3 && detail.starts_with("Ex"),
                    "details[].message is id|exception|cause: {}",
                    reply.body
                ),
                None => assert!(
                    error["innererror"]["internalexception"]["message"].is_string()
                        || error.get("innererror").is_none(),
                    "without details the cause is in innererror.internalexception or error.message: {}",
                    reply.body
                ),
            }
        }
        reply
    }

    pub async fn exo_raw(
        &self,
        token: &str,
        cmdlet: &str,
        parameters: Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .post(format!(
                "{}/adminapi/beta/{}/InvokeCommand",
                self.base, self.tenant
            ))
            .bearer_auth(token)
            .header("X-CmdletName", cmdlet)
            .json(&json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}));
        // Route to the mailbox the cmdlet names, as a well-behaved client does; a test about
        // routing passes its own X-AnchorMailbox.
        let anchored = headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("x-anchormailbox"));
        let named = ["Mailbox", "Identity", "User"]
            .iter()
            .find_map(|p| parameters_text(&parameters, p));
        if let (false, Some(mailbox)) = (anchored, named) {
            let owner = mailbox.split('\\').next().unwrap_or_default().to_owned();
            request = request.header("X-AnchorMailbox", format!("UPN:{owner}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("Exchange answers")).await
    }

    pub async fn control(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/_sim{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = read(request.send().await.expect("control answers")).await;
        assert!(
            reply.status < 300,
            "/_sim{path}: {} {}",
            reply.status,
            reply.body
        );
        reply.body
    }

    /// Moves the simulated clock and takes a fresh app token (the old one may have expired).
    pub async fn advance_minutes(&self, minutes: i64) {
        self.control(
            Method::POST,
            "/clock",
            Some(json!({"advanceMinutes": minutes})),
        )
        .await;
        let token = self.secret_token(GRAPH).await;
        *self.token.lock().unwrap() = token;
    }

    pub fn upn(&self, local: &str) -> String {
        format!("{local}@{}", self.scenario.tenant_domain())
    }

    pub async fn user_id(&self, local: &str) -> String {
        let reply = self.get(&format!("/v1.0/users/{}", self.upn(local))).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["id"].as_str().expect("id").to_owned()
    }
}

pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"text": String::from_utf8_lossy(&bytes)}))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// Decodes a JWT payload without verifying it (what the readiness check does).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}

pub fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A cmdlet parameter's text value, when it has one.
fn parameters_text(parameters: &Value, name: &str) -> Option<String> {
    parameters
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}
