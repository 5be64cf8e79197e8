//! The Exchange Online admin API (`POST /adminapi/beta/{tenant}/InvokeCommand`) for the cmdlets
//! the procedures use: Get-Mailbox, Set-Mailbox (forwarding, GrantSendOnBehalfTo), Get-InboxRule
//! (with `IncludeHidden`), Remove-InboxRule, Get-/Remove-MailboxPermission,
//! Get-/Remove-RecipientPermission, Get-AcceptedDomain and Get-Recipient, with the OData response
//! and error shapes of spec/graph/endpoints.md §4 and the behaviour of spec/exchange.md.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::scenario::{InboxRule, Mailbox, MailboxPermission, RecipientPermission};
use crate::server::Sim;
use crate::tenant::{Tenant, UserRecord};
use crate::token::{role_template_id, Claims, EXCHANGE_AUDIENCE};

/// The Entra roles that open the admin API's read cmdlets to an app or an admin: the roles
/// Microsoft lists as supported for app-only access (spec/exchange.md, "Roles").
const READ_ROLES: &[&str] = &[
    "Global Administrator",
    "Exchange Administrator",
    "Exchange Recipient Administrator",
    "Global Reader",
    "Security Reader",
    "Security Administrator",
    "Compliance Administrator",
    "Helpdesk Administrator",
];
/// Get-InboxRule reads inside the mailbox: Global Reader (and the other read-only roles) are
/// refused with a scope error (spec/exchange.md, "Roles").
const RULE_READ_ROLES: &[&str] = &[
    "Global Administrator",
    "Exchange Administrator",
    "Exchange Recipient Administrator",
];
/// The roles that may change mailboxes, rules and mailbox permissions.
const WRITE_ROLES: &[&str] = &[
    "Global Administrator",
    "Exchange Administrator",
    "Exchange Recipient Administrator",
];
/// The read-only roles that may run the admin API but whose read scope ends outside mailboxes.
const READ_ONLY_ROLES: &[&str] = &[
    "Global Reader",
    "Security Reader",
    "Security Administrator",
    "Compliance Administrator",
    "Helpdesk Administrator",
];
/// The mailbox servers of the simulated organisation. Mailboxes are spread over them by their
/// Exchange GUID; the arbitration (system) mailbox the organisation-wide anchor names lives on
/// the first one (spec/exchange.md, "Routing").
const SERVERS: [&str; 2] = [
    "AM0PR04MB6011.eurprd04.prod.outlook.com",
    "DB9PR02MB7342.eurprd02.prod.outlook.com",
];
const CONTENT_TYPE: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// Where Exchange puts the cause of a failure (spec/exchange.md, "Errors").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A cmdlet threw: `error.message` is the generic "Error executing cmdlet" and the cause is
    /// in `error.details[0].message` as `Ex<id>|<exception type>|<cause>`.
    Cmdlet,
    /// The request was refused before a cmdlet ran (a parameter that does not bind): the generic
    /// "Invalid Operation", no details, the cause in `error.innererror.internalexception`.
    Rest,
    /// Authentication, authorisation and throttling: the cause in `error.message` itself.
    Plain,
}

/// What `error.message` says when a cmdlet threw.
const CMDLET_FAILED: &str = "Error executing cmdlet";
/// What `error.message` says when the request was refused before a cmdlet ran.
const INVALID_OPERATION: &str = "Invalid Operation";

/// A cmdlet failure in Exchange's shape.
struct ExoError {
    status: StatusCode,
    exception: &'static str,
    code: &'static str,
    message: String,
    shape: Shape,
}

impl ExoError {
    fn new(status: StatusCode, exception: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            exception,
            code: "InternalServerError",
            message: message.into(),
            shape: Shape::Cmdlet,
        }
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            format!("The operation couldn't be performed because object '{what}' couldn't be found on 'LOOPBACK01.PROD.OUTLOOK.COM'."),
        )
    }

    fn parameter(message: impl Into<String>) -> Self {
        Self {
            code: "BadRequest",
            shape: Shape::Rest,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "System.Management.Automation.ParameterBindingException",
                message,
            )
        }
    }

    fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            exception: "Microsoft.Exchange.Security.Authorization.UnauthorizedAccessException",
            code: "Unauthorized",
            message: message.into(),
            shape: Shape::Plain,
        }
    }

    /// The `Ex<id>|<exception type>|<cause>` line of `error.details[0].message`.
    fn detail_line(&self) -> String {
        let short = self.exception.rsplit('.').next().unwrap_or(self.exception);
        format!(
            "Ex{:06X}|{}|{}",
            short.len() * 7919,
            self.exception,
            self.message
        )
    }

    fn render(self) -> Response {
        let error = match self.shape {
            Shape::Cmdlet => json!({
                "code": self.code,
                "message": CMDLET_FAILED,
                "details": [{"code": "Client", "target": "", "message": self.detail_line()}],
                "innererror": {"message": CMDLET_FAILED, "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException"},
            }),
            Shape::Rest => json!({
                "code": self.code,
                "message": INVALID_OPERATION,
                "innererror": {"message": INVALID_OPERATION, "type": "Microsoft.Exchange.Admin.Rest.Server.Exceptions.RestApiException",
                               "internalexception": {"message": self.message, "type": self.exception}},
            }),
            Shape::Plain => json!({"code": self.code, "message": self.message}),
        };
        let mut response = (self.status, axum::Json(json!({ "error": error }))).into_response();
        if let Ok(value) = HeaderValue::from_str(self.exception) {
            response.headers_mut().insert("x-exceptiontype", value);
        }
        response
    }
}

/// The transient failures Exchange's own module retries (spec/exchange.md, "Retries and
/// timeouts"): the exception's type and a cause in Exchange's words. The module matches only the
/// type's name; the sentences are ours.
const TRANSIENT: &[(&str, &str)] = &[
    (
        "Microsoft.Exchange.Data.Directory.ServerInMMException",
        "The domain controller 'LOOPBACK01DC01.PROD.OUTLOOK.COM' is not available for use at the moment. Please try again.",
    ),
    (
        "Microsoft.Exchange.Data.Directory.DCOverloadedException",
        "The domain controller 'LOOPBACK01DC02.PROD.OUTLOOK.COM' is overloaded. Please try again later.",
    ),
    (
        "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException",
        "An error caused a change in the current set of domain controllers.",
    ),
    (
        "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException",
        "The domain controller 'LOOPBACK01DC03.PROD.OUTLOOK.COM' isn't suitable for this request at the moment. Please try again.",
    ),
    (
        "Microsoft.Exchange.Data.Storage.StorageTransientException",
        "The mailbox database is temporarily unavailable. Please try again.",
    ),
];

/// Transient Exchange failure number `n` (they take turns), as a cmdlet error: with status 500,
/// and every second one with 400, since the status alone does not say it is worth retrying.
pub(crate) fn transient_failure(n: u64) -> Response {
    let (exception, cause) = TRANSIENT[(n as usize) % TRANSIENT.len()];
    let mut error = ExoError::new(StatusCode::INTERNAL_SERVER_ERROR, exception, cause);
    if n % 2 == 1 {
        error.status = StatusCode::BAD_REQUEST;
        error.code = "BadRequest";
    }
    error.render()
}

/// What Exchange Online's admin API says when the tenant has too many admin requests running
/// (a plain-text body, not JSON; see `spec/graph-behaviour.md`).
pub(crate) const THROTTLED_TEXT: &str =
    "You have reached the maximum number of concurrent requests per tenant. Please wait and try again.";

/// A throttled `InvokeCommand`: 429 with `Retry-After`, either as Exchange's JSON error or as the
/// plain-text answer Exchange Online also gives.
pub(crate) fn throttled(retry_after: f64, in_text: bool) -> Response {
    let mut response = if in_text {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; charset=utf-8",
            )],
            THROTTLED_TEXT,
        )
            .into_response()
    } else {
        let mut error = ExoError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Microsoft.Exchange.Admin.Rest.Server.Exceptions.TooManyRequestsException",
            "Too many requests. Retry after the number of seconds in the Retry-After header.",
        );
        error.code = "TooManyRequests";
        error.shape = Shape::Plain;
        error.render()
    };
    if let Ok(value) = HeaderValue::from_str(&crate::server::retry_after_text(retry_after)) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

/// `POST /adminapi/beta/{tenant}/InvokeCommand`
pub(crate) async fn invoke_command(
    State(sim): State<Arc<Sim>>,
    Path(tenant_key): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match run(&sim, &tenant_key, &uri, &headers, &body) {
        Ok(response) => response,
        Err(err) => err.render(),
    }
}

fn authorise(sim: &Sim, headers: &HeaderMap) -> Result<Claims, ExoError> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .unwrap_or_default()
        .trim();
    if token.is_empty() {
        return Err(ExoError::unauthorized("The request has no access token: send 'Authorization: Bearer <token>' for resource https://outlook.office365.com."));
    }
    let lifetime = sim.fault_config().token_lifetime_seconds;
    sim.tokens
        .verify(token, EXCHANGE_AUDIENCE, sim.clock.now(), lifetime)
        .map_err(|r| ExoError::unauthorized(r.message()))
}

fn run(
    sim: &Sim,
    tenant_key: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ExoError> {
    let claims = authorise(sim, headers)?;
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| ExoError::parameter(format!("The request body is not valid JSON: {e}")))?;
    let input = request
        .get("CmdletInput")
        .ok_or_else(|| ExoError::parameter("The request body must contain 'CmdletInput'."))?;
    let cmdlet = input
        .get("CmdletName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let parameters = match input.get("Parameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(ExoError::parameter("'Parameters' must be a JSON object.")),
    };
    let now = sim.clock.now();
    let mut tenant = sim.lock_tenant();
    if !tenant.info.id.eq_ignore_ascii_case(tenant_key)
        && !tenant.info.domain.eq_ignore_ascii_case(tenant_key)
    {
        return Err(ExoError::unauthorized(format!(
            "The tenant '{tenant_key}' in the URL does not match the token's tenant."
        )));
    }
    let target = target_mailbox(&cmdlet, &parameters);
    match check_roles(&tenant, &claims, &cmdlet, target.as_deref()) {
        Ok(()) => {}
        Err(Refusal::Error(e)) => return Err(e),
        Err(Refusal::Forbidden) => return Ok(StatusCode::FORBIDDEN.into_response()),
    }
    if matches!(cmdlet.as_str(), "Get-InboxRule" | "Remove-InboxRule") {
        check_routing(&tenant, &claims, headers, target.as_deref())?;
    }
    if sim
        .fault_config()
        .missing_cmdlets
        .iter()
        .any(|c| c.eq_ignore_ascii_case(&cmdlet))
    {
        return Err(unknown_cmdlet(&cmdlet));
    }
    let select: Option<Vec<String>> = uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "$select")
            .map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect())
    });
    let page_size = headers
        .get("prefer")
        .or_else(|| headers.get("x-prefer"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|p| {
                p.trim()
                    .strip_prefix("odata.maxpagesize=")
                    .and_then(|n| n.parse::<usize>().ok())
            })
        })
        .unwrap_or(1000)
        .clamp(1, 1000);
    let (rows, warnings, errors) = match cmdlet.as_str() {
        "Get-Mailbox" => (get_mailbox(&tenant, &parameters)?, Vec::new(), Vec::new()),
        "Get-InboxRule" => (
            get_inbox_rules(&tenant, &parameters)?,
            Vec::new(),
            Vec::new(),
        ),
        "Get-MailboxPermission" => (
            get_mailbox_permissions(&tenant, &parameters)?,
            Vec::new(),
            Vec::new(),
        ),
        "Get-RecipientPermission" => (
            get_recipient_permissions(&tenant, &parameters)?,
            Vec::new(),
            Vec::new(),
        ),
        "Get-AcceptedDomain" => (
            get_accepted_domains(&tenant, &parameters)?,
            Vec::new(),
            Vec::new(),
        ),
        "Get-Recipient" => (
            get_recipients(&tenant, &parameters)?,
            Vec::new(),
            Vec::new(),
        ),
        "Set-Mailbox"
        | "Remove-InboxRule"
        | "Remove-MailboxPermission"
        | "Remove-RecipientPermission" => {
            // A failure reported inside a 200 answer: nothing changes (spec/exchange.md).
            let errors: Vec<String> = if sim.exchange_error_in_success() {
                vec![error_in_success()]
            } else {
                Vec::new()
            };
            let outcome = if errors.is_empty() {
                mutate(&mut tenant, &cmdlet, &parameters)
            } else {
                Ok(Vec::new())
            };
            let (status, warnings) = match &outcome {
                Ok(w) => (200, w.clone()),
                Err(e) => (e.status.as_u16(), Vec::new()),
            };
            let mut logged = parameters.clone();
            logged.remove("Confirm");
            let caller = claims.upn.clone().unwrap_or_else(|| claims.appid.clone());
            tenant.record_action(now, json!({"surface": "exchange", "cmdlet": cmdlet, "parameters": logged, "status": status, "caller": caller, "warnings": warnings, "errors": errors}));
            outcome?;
            (Vec::new(), warnings, errors)
        }
        other => return Err(unknown_cmdlet(other)),
    };
    drop(tenant);
    let offset = uri
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "$skiptoken")
                .map(|(_, v)| v.into_owned())
        })
        .map(|t| {
            crate::graph::decode_skiptoken(&t)
                .map(|(a, _)| a as usize)
                .map_err(|_| {
                    ExoError::parameter(
                        "The $skiptoken is not valid: follow @odata.nextLink as returned.",
                    )
                })
        })
        .transpose()?
        .unwrap_or(0);
    let total = rows.len();
    let page: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(page_size)
        .map(|row| match &select {
            Some(props) => select_row(row, props),
            None => row,
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        json!(format!(
            "{}/adminapi/beta/{tenant_key}/$metadata#Collection(Exchange.GenericHashTable)",
            sim.base_url
        )),
    );
    out.insert(
        "adminapi.warnings@odata.type".to_owned(),
        json!("#Collection(String)"),
    );
    out.insert("@adminapi.warnings".to_owned(), json!(warnings));
    if !errors.is_empty() {
        out.insert("@adminapi.errors".to_owned(), json!(errors));
    }
    out.insert("value".to_owned(), Value::Array(page));
    if offset + page_size < total {
        let mut query: Vec<(String, String)> = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .filter(|(k, _)| k != "$skiptoken")
                    .collect()
            })
            .unwrap_or_default();
        query.push((
            "$skiptoken".to_owned(),
            crate::graph::encode_skiptoken(((offset + page_size) as u64, 0)),
        ));
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        out.insert(
            "@odata.nextLink".to_owned(),
            json!(format!("{}{}?{encoded}", sim.base_url, uri.path())),
        );
    }
    let mut response = (StatusCode::OK, axum::Json(Value::Object(out))).into_response();
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static(CONTENT_TYPE));
    h.insert("rate-limit-limit", HeaderValue::from_static("10000"));
    h.insert("rate-limit-remaining", HeaderValue::from_static("9999"));
    h.insert("rate-limit-reset", HeaderValue::from_static("60"));
    Ok(response)
}

/// Exchange's answer to a cmdlet it does not offer the caller: one it does not have, or one
/// outside the caller's RBAC roles.
fn unknown_cmdlet(cmdlet: &str) -> ExoError {
    ExoError::new(
        StatusCode::BAD_REQUEST,
        "System.Management.Automation.CommandNotFoundException",
        format!("The term '{cmdlet}' is not recognized as a name of a cmdlet available through this endpoint."),
    )
}

/// The failure a change reports inside a 200 answer under the `exchangeErrorsInSuccessNext`
/// fault: a cmdlet error line as the module prints it (the wording is ours).
fn error_in_success() -> String {
    let error = ExoError::new(
        StatusCode::OK,
        "Microsoft.Exchange.Data.Directory.ADOperationException",
        "Active Directory operation failed on LOOPBACK01DC01.PROD.OUTLOOK.COM. This error is not retriable. Additional information: the object could not be updated.",
    );
    error.detail_line()
}

/// Why the caller's roles do not open a cmdlet.
enum Refusal {
    /// A cmdlet error in Exchange's shape (a missing permission, a read outside the role's scope).
    Error(ExoError),
    /// No role that opens the admin API at all: Exchange answers 403 with an empty body
    /// (spec/exchange.md, "Roles").
    Forbidden,
}

/// Checks the token's Exchange permission and the caller's Entra roles (the app's service
/// principal's roles for app-only access, the admin's `wids` for delegated access) against what
/// `cmdlet` needs; `target` names the mailbox, for the scope error.
fn check_roles(
    tenant: &Tenant,
    claims: &Claims,
    cmdlet: &str,
    target: Option<&str>,
) -> Result<(), Refusal> {
    if claims.is_app_only() {
        let has_permission = claims
            .roles
            .as_ref()
            .is_some_and(|r| r.iter().any(|p| p == "Exchange.ManageAsApp"));
        if !has_permission {
            return Err(Refusal::Error(ExoError::unauthorized(format!(
                "The application {} has no Exchange.ManageAsApp permission: add it (Office 365 Exchange Online, application permission) and grant admin consent.",
                claims.appid
            ))));
        }
    } else if !claims
        .scp
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .any(|s| s == "Exchange.Manage")
    {
        return Err(Refusal::Error(ExoError::unauthorized(
            "The token has no Exchange.Manage delegated permission.",
        )));
    }
    let held: Vec<String> = if claims.is_app_only() {
        tenant
            .app
            .entra_roles
            .iter()
            .filter_map(|r| role_template_id(r))
            .map(str::to_owned)
            .collect()
    } else {
        claims.wids.clone()
    };
    let holds_any = |roles: &[&str]| {
        roles
            .iter()
            .filter_map(|r| role_template_id(r))
            .any(|id| held.iter().any(|h| h.eq_ignore_ascii_case(id)))
    };
    let writes = cmdlet.starts_with("Set-") || cmdlet.starts_with("Remove-");
    if !holds_any(READ_ROLES) {
        return Err(Refusal::Forbidden);
    }
    if writes && !holds_any(WRITE_ROLES) {
        // A supported role whose Exchange role group lacks the cmdlet.
        return Err(Refusal::Error(ExoError {
            status: StatusCode::UNAUTHORIZED,
            exception: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            code: "Unauthorized",
            shape: Shape::Plain,
            message: format!("User is not allowed to call {cmdlet}"),
        }));
    }
    if cmdlet == "Get-InboxRule" && !holds_any(RULE_READ_ROLES) {
        debug_assert!(holds_any(READ_ONLY_ROLES));
        let name = target.unwrap_or_default();
        return Err(Refusal::Error(ExoError::new(
            StatusCode::BAD_REQUEST,
            "Microsoft.Exchange.Data.Storage.AccessDeniedException",
            format!("The operation on mailbox \"{name}\" failed because it's out of the current user's read scope. You may need elevated permissions."),
        )));
    }
    Ok(())
}

/// The mailbox server a request is routed to: the one holding the mailbox `X-AnchorMailbox`
/// names (`UPN:`, `SMTP:` or a bare address), the organisation's arbitration mailbox for an
/// `APP:SystemMailbox…` anchor, and the signed-in admin's own mailbox when no anchor resolves
/// (spec/exchange.md, "Routing").
fn routed_server(tenant: &Tenant, claims: &Claims, headers: &HeaderMap) -> &'static str {
    let anchor = headers
        .get("x-anchormailbox")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    let (kind, value) = anchor.split_once(':').unwrap_or(("", anchor));
    if kind.eq_ignore_ascii_case("APP") {
        return SERVERS[0];
    }
    find_mailbox(tenant, value)
        .or_else(|| {
            claims
                .upn
                .as_deref()
                .and_then(|upn| find_mailbox(tenant, upn))
        })
        .map(mailbox_server)
        .unwrap_or(SERVERS[0])
}

/// The server a mailbox lives on.
fn mailbox_server(user: &UserRecord) -> &'static str {
    let spread = exchange_guid(user)
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    SERVERS[(spread % 2) as usize]
}

/// Inbox rules live in the mailbox itself: Get-InboxRule and Remove-InboxRule run on the server
/// that holds it, and a request routed elsewhere is refused rather than proxied
/// (spec/exchange.md, "Routing").
fn check_routing(
    tenant: &Tenant,
    claims: &Claims,
    headers: &HeaderMap,
    target: Option<&str>,
) -> Result<(), ExoError> {
    let Some(mailbox) = target.and_then(|t| find_mailbox(tenant, t)) else {
        return Ok(());
    };
    let current = routed_server(tenant, claims, headers);
    let required = mailbox_server(mailbox);
    if current == required {
        return Ok(());
    }
    Err(ExoError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Microsoft.Exchange.Configuration.Tasks.CmdletProxyNotAvailableException",
        format!("Cmdlet needs proxy. Current Server FQDN : {current}, Required Server FQDN : {required}"),
    ))
}

/// The mailbox a cmdlet acts on, as the caller named it (before it is resolved).
fn target_mailbox(cmdlet: &str, parameters: &Map<String, Value>) -> Option<String> {
    match cmdlet {
        "Get-InboxRule" => param_str(parameters, "Mailbox"),
        "Remove-InboxRule" => rule_owner(parameters).ok(),
        _ => param_str(parameters, "Identity"),
    }
}

fn select_row(row: Value, props: &[String]) -> Value {
    let Value::Object(map) = row else { return row };
    let keep = |k: &str| {
        let base = k.split('@').next().unwrap_or(k);
        props.iter().any(|p| p.eq_ignore_ascii_case(base))
    };
    Value::Object(map.into_iter().filter(|(k, _)| keep(k)).collect())
}

fn param_str(parameters: &Map<String, Value>, name: &str) -> Option<String> {
    parameters
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

fn param<'a>(parameters: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    parameters
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn only(parameters: &Map<String, Value>, allowed: &[&str]) -> Result<(), ExoError> {
    for key in parameters.keys() {
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(key)) {
            return Err(ExoError::parameter(format!(
                "A parameter cannot be found that matches parameter name '{key}'."
            )));
        }
    }
    Ok(())
}

fn alias(user: &UserRecord) -> String {
    user.user
        .get("mailNickname")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| user.upn().split('@').next().unwrap_or_default().to_owned())
}

/// The date from which Exchange Online names a new mailbox after its directory object id: the
/// change Microsoft rolled out from late 2022 and resumed in January 2023 (spec/exchange.md,
/// "Identities"). Older mailboxes keep the name they were made with (here their alias).
const NAMED_BY_OBJECT_ID_FROM: &str = "2023-01-01T00:00:00Z";

/// A mailbox's `Name` (and `Identity`): its directory object id when made after the change,
/// else its alias. Other objects refer to it by this name.
fn exchange_name(user: &UserRecord) -> String {
    let created = user
        .user
        .get("createdDateTime")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let from = chrono::DateTime::parse_from_rfc3339(NAMED_BY_OBJECT_ID_FROM).ok();
    match (created, from) {
        (Some(created), Some(from)) if created >= from => user.id().to_owned(),
        _ => alias(user),
    }
}

/// How Get-Mailbox writes a reference to another recipient (a forwarding target, a delegate):
/// by that recipient's `Name` — an object id, an alias or a display name — never by address.
/// A reference to nothing the tenant has is written as stored.
fn reference(tenant: &Tenant, stored: &str) -> String {
    match find_recipients(tenant, stored).as_slice() {
        [Found::Mailbox(user)] => exchange_name(user),
        [Found::Contact(contact)] => contact_name(contact),
        [Found::Group(group)] => group_name(group),
        _ => stored.to_owned(),
    }
}

fn exchange_guid(user: &UserRecord) -> String {
    crate::tenant::derived_guid(&format!("exchange/{}", user.id()))
}

fn find_mailbox<'a>(tenant: &'a Tenant, identity: &str) -> Option<&'a UserRecord> {
    let identity = identity.trim();
    tenant
        .users
        .iter()
        .filter(|u| u.mailbox.is_some())
        .find(|u| {
            u.id().eq_ignore_ascii_case(identity)
                || u.upn().eq_ignore_ascii_case(identity)
                || u.user
                    .get("mail")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.eq_ignore_ascii_case(identity))
                || alias(u).eq_ignore_ascii_case(identity)
                || exchange_name(u).eq_ignore_ascii_case(identity)
                || u.display_name().eq_ignore_ascii_case(identity)
                || exchange_guid(u).eq_ignore_ascii_case(identity)
        })
}

/// A mail-enabled object Get-Recipient can return.
enum Found<'a> {
    Mailbox(&'a UserRecord),
    /// A Graph `orgContact` with a mail address: an Exchange mail contact.
    Contact(&'a Value),
    /// A mail-enabled Graph `group`.
    Group(&'a Value),
}

fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A mail contact's `Name`: its display name, as the admin center sets it.
fn contact_name(contact: &Value) -> String {
    let name = text(contact, "displayName");
    if name.is_empty() {
        text(contact, "mailNickname").to_owned()
    } else {
        name.to_owned()
    }
}

fn group_name(group: &Value) -> String {
    contact_name(group)
}

/// Every mail-enabled object `identity` names: by object id, name, alias, display name or
/// address (a mailbox also by UPN and Exchange GUID), as Exchange's recipient identities do.
fn find_recipients<'a>(tenant: &'a Tenant, identity: &str) -> Vec<Found<'a>> {
    let wanted = identity.trim();
    let bare = wanted
        .split_once(':')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("smtp"))
        .map_or(wanted, |(_, rest)| rest);
    let matches = |object: &Value, name: String| {
        [
            text(object, "id"),
            text(object, "mail"),
            text(object, "mailNickname"),
            name.as_str(),
        ]
        .iter()
        .any(|v| !v.is_empty() && (v.eq_ignore_ascii_case(wanted) || v.eq_ignore_ascii_case(bare)))
    };
    let mut found: Vec<Found> = Vec::new();
    if let Some(user) = find_mailbox(tenant, wanted).or_else(|| find_mailbox(tenant, bare)) {
        found.push(Found::Mailbox(user));
    }
    found.extend(
        tenant
            .contacts
            .iter()
            .filter(|c| !text(c, "mail").is_empty() && matches(c, contact_name(c)))
            .map(Found::Contact),
    );
    found.extend(
        tenant
            .groups
            .iter()
            .filter(|g| {
                g.get("mailEnabled") == Some(&Value::Bool(true)) && matches(g, group_name(g))
            })
            .map(Found::Group),
    );
    found
}

fn found_row(found: &Found) -> Value {
    match found {
        Found::Mailbox(user) => {
            let kind = user
                .mailbox
                .as_ref()
                .map_or("UserMailbox", |m| m.recipient_type_details.as_str());
            json!({
                "Identity": exchange_name(user), "Name": exchange_name(user),
                "DisplayName": user.display_name(), "Alias": alias(user),
                "PrimarySmtpAddress": user.user.get("mail").and_then(Value::as_str).unwrap_or(user.upn()),
                "ExternalEmailAddress": null,
                "ExternalDirectoryObjectId": user.id(),
                "RecipientType": "UserMailbox", "RecipientTypeDetails": kind,
            })
        }
        Found::Contact(contact) => json!({
            "Identity": contact_name(contact), "Name": contact_name(contact),
            "DisplayName": text(contact, "displayName"), "Alias": text(contact, "mailNickname"),
            "PrimarySmtpAddress": text(contact, "mail"),
            "ExternalEmailAddress": format!("SMTP:{}", text(contact, "mail")),
            "ExternalDirectoryObjectId": text(contact, "id"),
            "RecipientType": "MailContact", "RecipientTypeDetails": "MailContact",
        }),
        Found::Group(group) => {
            let unified = group
                .get("groupTypes")
                .and_then(Value::as_array)
                .is_some_and(|t| t.iter().any(|x| x == "Unified"));
            let (kind, details) = if unified {
                ("MailUniversalDistributionGroup", "GroupMailbox")
            } else if group.get("securityEnabled") == Some(&Value::Bool(true)) {
                ("MailUniversalSecurityGroup", "MailUniversalSecurityGroup")
            } else {
                (
                    "MailUniversalDistributionGroup",
                    "MailUniversalDistributionGroup",
                )
            };
            json!({
                "Identity": group_name(group), "Name": group_name(group),
                "DisplayName": text(group, "displayName"), "Alias": text(group, "mailNickname"),
                "PrimarySmtpAddress": text(group, "mail"),
                "ExternalEmailAddress": null,
                "ExternalDirectoryObjectId": text(group, "id"),
                "RecipientType": kind, "RecipientTypeDetails": details,
            })
        }
    }
}

/// Get-Recipient: the mail-enabled object `Identity` names (mailbox, mail contact, mail-enabled
/// group), or every one without it. A security identifier names nothing here: the account it
/// belonged to is gone.
fn get_recipients(
    tenant: &Tenant,
    parameters: &Map<String, Value>,
) -> Result<Vec<Value>, ExoError> {
    only(parameters, &["Identity", "ResultSize"])?;
    match param_str(parameters, "Identity") {
        Some(identity) => match find_recipients(tenant, &identity).as_slice() {
            [] => Err(ExoError::not_found(&identity)),
            [one] => Ok(vec![found_row(one)]),
            _ => Err(ExoError::new(
                StatusCode::BAD_REQUEST,
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                format!("The operation couldn't be performed because '{identity}' matches multiple entries."),
            )),
        },
        None => Ok(tenant
            .users
            .iter()
            .filter(|u| u.mailbox.is_some())
            .map(Found::Mailbox)
            .chain(tenant.contacts.iter().filter(|c| !text(c, "mail").is_empty()).map(Found::Contact))
            .chain(
                tenant
                    .groups
                    .iter()
                    .filter(|g| g.get("mailEnabled") == Some(&Value::Bool(true)))
                    .map(Found::Group),
            )
            .map(|f| found_row(&f))
            .collect()),
    }
}

fn mailbox_identity(parameters: &Map<String, Value>, name: &str) -> Result<String, ExoError> {
    param_str(parameters, name).filter(|s| !s.trim().is_empty()).ok_or_else(|| {
        ExoError::parameter(format!("Cannot process command because of one or more missing mandatory parameters: {name}."))
    })
}

/// Whether a trustee string names this user (UPN, alias, display name or mail).
fn trustee_is(tenant: &Tenant, trustee: &str, wanted: &str) -> bool {
    if trustee.eq_ignore_ascii_case(wanted) {
        return true;
    }
    match (
        tenant
            .user(trustee)
            .or_else(|| find_mailbox(tenant, trustee)),
        tenant.user(wanted).or_else(|| find_mailbox(tenant, wanted)),
    ) {
        (Some(a), Some(b)) => a.id() == b.id(),
        _ => false,
    }
}

fn mailbox_row(
    tenant: &Tenant,
    user: &UserRecord,
    mailbox: &Mailbox,
    sessions_from: Option<&str>,
) -> Value {
    let upn = user.upn();
    json!({
        "Identity": exchange_name(user),
        "Name": exchange_name(user),
        "Alias": alias(user),
        "DisplayName": user.display_name(),
        "UserPrincipalName": upn,
        "PrimarySmtpAddress": user.user.get("mail").and_then(Value::as_str).unwrap_or(upn),
        "EmailAddresses@odata.type": "#Collection(String)",
        "EmailAddresses": [format!("SMTP:{upn}")],
        "ExternalDirectoryObjectId": user.id(),
        "ExchangeGuid@odata.type": "#Guid",
        "ExchangeGuid": exchange_guid(user),
        "Guid@odata.type": "#Guid",
        "Guid": crate::tenant::derived_guid(&format!("exchange-object/{}", user.id())),
        "RecipientTypeDetails": mailbox.recipient_type_details,
        "IsShared": mailbox.recipient_type_details == "SharedMailbox",
        "ForwardingAddress": mailbox.forwarding_address.as_deref().map(|r| reference(tenant, r)),
        "ForwardingSmtpAddress": mailbox.forwarding_smtp_address,
        "DeliverToMailboxAndForward": mailbox.deliver_to_mailbox_and_forward,
        "GrantSendOnBehalfTo@odata.type": "#Collection(String)",
        "GrantSendOnBehalfTo": mailbox.grant_send_on_behalf_to.iter().map(|r| reference(tenant, r)).collect::<Vec<_>>(),
        "AuditEnabled": mailbox.audit_enabled,
        "HiddenFromAddressListsEnabled": false,
        "AccountDisabled": !user.account_enabled(),
        "StsRefreshTokensValidFrom@odata.type": "#DateTime",
        "StsRefreshTokensValidFrom": sessions_from,
        "WhenCreated@odata.type": "#DateTime",
        "WhenCreated": user.user.get("createdDateTime").cloned().unwrap_or(Value::Null),
    })
}

fn get_mailbox(tenant: &Tenant, parameters: &Map<String, Value>) -> Result<Vec<Value>, ExoError> {
    only(
        parameters,
        &["Identity", "ResultSize", "RecipientTypeDetails"],
    )?;
    let render = |u: &UserRecord| {
        let sessions = u
            .user
            .get("signInSessionsValidFromDateTime")
            .and_then(Value::as_str);
        u.mailbox
            .as_ref()
            .map(|m| mailbox_row(tenant, u, m, sessions))
    };
    match param_str(parameters, "Identity") {
        Some(identity) => {
            let user =
                find_mailbox(tenant, &identity).ok_or_else(|| ExoError::not_found(&identity))?;
            Ok(render(user).into_iter().collect())
        }
        None => {
            let kind = param_str(parameters, "RecipientTypeDetails");
            Ok(tenant
                .users
                .iter()
                .filter(|u| {
                    kind.as_ref().is_none_or(|k| {
                        u.mailbox
                            .as_ref()
                            .is_some_and(|m| m.recipient_type_details.eq_ignore_ascii_case(k))
                    })
                })
                .filter_map(render)
                .collect())
        }
    }
}

fn recipient_text(tenant: &Tenant, address: &str) -> String {
    match tenant.user(address) {
        Some(user) => format!(
            "\"{}\" [EX:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn={}]",
            user.display_name(),
            alias(user)
        ),
        None => format!("\"{address}\" [SMTP:{address}]"),
    }
}

fn rule_row(tenant: &Tenant, owner: &UserRecord, rule: &InboxRule) -> Value {
    let identity = rule
        .rule_identity
        .clone()
        .unwrap_or_else(|| crate::tenant::rule_identity(owner.id(), rule));
    let number: Value = identity
        .parse::<u64>()
        .map(|n| json!(n))
        .unwrap_or_else(|_| json!(identity));
    let list = |items: &[String]| -> Value {
        if items.is_empty() {
            Value::Null
        } else {
            Value::Array(
                items
                    .iter()
                    .map(|a| json!(recipient_text(tenant, a)))
                    .collect(),
            )
        }
    };
    let words = |items: &[String]| {
        if items.is_empty() {
            Value::Null
        } else {
            json!(items)
        }
    };
    let a = &rule.actions;
    let c = &rule.conditions;
    let mut description = String::from("If the message:\r\n");
    if !c.body_or_subject_contains.is_empty() {
        description.push_str(&format!(
            "\tincludes '{}' in the subject or body\r\n",
            c.body_or_subject_contains.join("' or '")
        ));
    }
    if !c.subject_contains.is_empty() {
        description.push_str(&format!(
            "\tincludes '{}' in the subject\r\n",
            c.subject_contains.join("' or '")
        ));
    }
    description.push_str("Take the following actions:\r\n");
    if let Some(folder) = &a.move_to_folder {
        description.push_str(&format!("\tmove the message to folder '{folder}'\r\n"));
    }
    json!({
        "Identity": format!("{}\\{identity}", exchange_name(owner)),
        "RuleIdentity@odata.type": "#UInt64",
        "RuleIdentity": number,
        "Name": rule.name,
        "Enabled": rule.enabled,
        "Priority": rule.priority.max(1),
        "MailboxOwnerId": exchange_name(owner),
        "Description": description,
        "IsValid": true,
        "InError": false,
        "ForwardTo@odata.type": "#Collection(String)",
        "ForwardTo": list(&a.forward_to),
        "ForwardAsAttachmentTo@odata.type": "#Collection(String)",
        "ForwardAsAttachmentTo": list(&a.forward_as_attachment_to),
        "RedirectTo@odata.type": "#Collection(String)",
        "RedirectTo": list(&a.redirect_to),
        "DeleteMessage": a.delete,
        "SoftDeleteMessage": false,
        "MoveToFolder": a.move_to_folder.as_ref().map(|f| format!("{}:\\{f}", alias(owner))),
        "CopyToFolder": a.copy_to_folder.as_ref().map(|f| format!("{}:\\{f}", alias(owner))),
        "MarkAsRead": a.mark_as_read,
        "StopProcessingRules": a.stop_processing_rules,
        "SubjectContainsWords@odata.type": "#Collection(String)",
        "SubjectContainsWords": words(&c.subject_contains),
        "BodyContainsWords@odata.type": "#Collection(String)",
        "BodyContainsWords": words(&c.body_contains),
        "SubjectOrBodyContainsWords@odata.type": "#Collection(String)",
        "SubjectOrBodyContainsWords": words(&c.body_or_subject_contains),
        "FromAddressContainsWords@odata.type": "#Collection(String)",
        "FromAddressContainsWords": words(&c.sender_contains),
        "From@odata.type": "#Collection(String)",
        "From": list(&c.from_addresses),
    })
}

fn get_inbox_rules(
    tenant: &Tenant,
    parameters: &Map<String, Value>,
) -> Result<Vec<Value>, ExoError> {
    only(
        parameters,
        &["Mailbox", "IncludeHidden", "Identity", "BypassScopeCheck"],
    )?;
    let identity = mailbox_identity(parameters, "Mailbox")?;
    let user = find_mailbox(tenant, &identity).ok_or_else(|| ExoError::not_found(&identity))?;
    let include_hidden = match param(parameters, "IncludeHidden") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ExoError::parameter("Cannot convert the value of 'IncludeHidden' to System.Management.Automation.SwitchParameter: send true or false.")),
    };
    let mailbox = user
        .mailbox
        .as_ref()
        .ok_or_else(|| ExoError::not_found(&identity))?;
    let wanted = param_str(parameters, "Identity");
    let rows: Vec<Value> = mailbox
        .inbox_rules
        .iter()
        .filter(|r| include_hidden || !r.hidden)
        .filter(|r| wanted.as_ref().is_none_or(|w| rule_is(user, r, w)))
        .map(|r| rule_row(tenant, user, r))
        .collect();
    if wanted.is_some() && rows.is_empty() {
        return Err(ExoError::not_found(&wanted.unwrap_or_default()));
    }
    Ok(rows)
}

/// Get-AcceptedDomain: the tenant's domain and every domain its members' sign-in names and
/// mailboxes use (a verified domain is an authoritative accepted domain in Exchange Online).
fn get_accepted_domains(
    tenant: &Tenant,
    parameters: &Map<String, Value>,
) -> Result<Vec<Value>, ExoError> {
    only(parameters, &["Identity", "ResultSize"])?;
    let mut domains: Vec<String> = vec![tenant.info.domain.to_lowercase()];
    for user in &tenant.users {
        if user.user.get("userType").and_then(Value::as_str) == Some("Guest") {
            continue;
        }
        let mut names = vec![user.upn().to_owned()];
        if user.mailbox.is_some() {
            names.extend(
                user.user
                    .get("mail")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            );
        }
        for name in names {
            if let Some((_, domain)) = name.rsplit_once('@') {
                let domain = domain.to_lowercase();
                if !domain.is_empty() && !domains.contains(&domain) {
                    domains.push(domain);
                }
            }
        }
    }
    let wanted = param_str(parameters, "Identity");
    Ok(domains
        .iter()
        .filter(|d| wanted.as_ref().is_none_or(|w| w.eq_ignore_ascii_case(d)))
        .map(|d| {
            json!({
                "Identity": d, "Name": d, "DomainName": d, "DomainType": "Authoritative",
                "Default": *d == tenant.info.domain.to_lowercase(),
            })
        })
        .collect())
}

fn rule_is(owner: &UserRecord, rule: &InboxRule, wanted: &str) -> bool {
    let identity = rule
        .rule_identity
        .clone()
        .unwrap_or_else(|| crate::tenant::rule_identity(owner.id(), rule));
    let bare = wanted.rsplit('\\').next().unwrap_or(wanted);
    bare == identity || wanted.eq_ignore_ascii_case(&rule.name)
}

/// A PowerShell boolean as the admin API sometimes serialises it: the text `True` / `False`.
/// Tools that parse Get-MailboxPermission compare `Deny` with the string "False"
/// (spec/graph-behaviour.md, "Exchange flags as text"), so the simulator serves these two flags
/// that way and a client that only accepts JSON booleans fails in tests.
/// The inheritance a mailbox permission has, and a removal assumes, unless told otherwise.
const ALL: &str = "All";

/// The mailbox's directory object name, as Exchange's permission warnings print it.
fn directory_name(tenant: &Tenant, owner: &UserRecord) -> String {
    format!(
        "CN={},OU={},OU=Microsoft Exchange Hosted Organizations,DC=LOOPBACK01A001,DC=PROD,DC=OUTLOOK,DC=COM",
        alias(owner),
        tenant.info.domain
    )
}

/// What Set-Mailbox says when every setting already had the value sent (spec/exchange.md,
/// "Warnings and no-ops").
fn nothing_modified(owner: &UserRecord) -> String {
    format!(
        "The command completed successfully but no settings of '{}' have been modified.",
        alias(owner)
    )
}

fn text_flag(value: bool) -> &'static str {
    if value {
        "True"
    } else {
        "False"
    }
}

fn permission_row(owner: &UserRecord, permission: &MailboxPermission) -> Value {
    json!({
        "Identity": exchange_name(owner),
        "User": permission.user,
        "AccessRights@odata.type": "#Collection(String)",
        "AccessRights": permission.access_rights,
        "IsInherited": text_flag(permission.is_inherited),
        "Deny": text_flag(permission.deny),
        "InheritanceType": permission.inheritance_type.as_deref().unwrap_or(ALL),
    })
}

fn get_mailbox_permissions(
    tenant: &Tenant,
    parameters: &Map<String, Value>,
) -> Result<Vec<Value>, ExoError> {
    only(parameters, &["Identity", "User", "ResultSize"])?;
    let identity = mailbox_identity(parameters, "Identity")?;
    let user = find_mailbox(tenant, &identity).ok_or_else(|| ExoError::not_found(&identity))?;
    let mailbox = user
        .mailbox
        .as_ref()
        .ok_or_else(|| ExoError::not_found(&identity))?;
    let only_user = param_str(parameters, "User");
    let own = MailboxPermission {
        user: "NT AUTHORITY\\SELF".to_owned(),
        access_rights: vec!["FullAccess".to_owned(), "ReadPermission".to_owned()],
        is_inherited: false,
        deny: false,
        inheritance_type: None,
    };
    Ok(std::iter::once(&own)
        .chain(mailbox.permissions.iter())
        .filter(|p| {
            only_user
                .as_ref()
                .is_none_or(|u| trustee_is(tenant, &p.user, u))
        })
        .map(|p| permission_row(user, p))
        .collect())
}

fn recipient_row(owner: &UserRecord, permission: &RecipientPermission) -> Value {
    json!({
        "Identity": exchange_name(owner),
        "Trustee": permission.trustee,
        "AccessControlType": "Allow",
        "AccessRights@odata.type": "#Collection(String)",
        "AccessRights": permission.access_rights,
        "IsInherited": permission.is_inherited,
        "InheritanceType": "None",
    })
}

fn get_recipient_permissions(
    tenant: &Tenant,
    parameters: &Map<String, Value>,
) -> Result<Vec<Value>, ExoError> {
    only(
        parameters,
        &["Identity", "AccessRights", "Trustee", "ResultSize"],
    )?;
    let identity = mailbox_identity(parameters, "Identity")?;
    let user = find_mailbox(tenant, &identity).ok_or_else(|| ExoError::not_found(&identity))?;
    let mailbox = user
        .mailbox
        .as_ref()
        .ok_or_else(|| ExoError::not_found(&identity))?;
    let rights = param_str(parameters, "AccessRights");
    if rights
        .as_ref()
        .is_some_and(|r| !r.eq_ignore_ascii_case("SendAs"))
    {
        return Err(ExoError::parameter(
            "Cannot bind parameter 'AccessRights': the only valid value is SendAs.",
        ));
    }
    let trustee = param_str(parameters, "Trustee");
    let own = RecipientPermission {
        trustee: "NT AUTHORITY\\SELF".to_owned(),
        access_rights: vec!["SendAs".to_owned()],
        is_inherited: false,
    };
    Ok(std::iter::once(&own)
        .chain(mailbox.recipient_permissions.iter())
        .filter(|p| {
            trustee
                .as_ref()
                .is_none_or(|t| trustee_is(tenant, &p.trustee, t))
        })
        .map(|p| recipient_row(user, p))
        .collect())
}

fn rights_param(parameters: &Map<String, Value>) -> Result<Vec<String>, ExoError> {
    match param(parameters, "AccessRights") {
        Some(Value::String(s)) => Ok(s.split(',').map(|r| r.trim().to_owned()).collect()),
        Some(Value::Array(list)) => Ok(list.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
        _ => Err(ExoError::parameter("Cannot process command because of one or more missing mandatory parameters: AccessRights.")),
    }
}

/// The mailbox a Remove-InboxRule acts on. Exchange takes it from the owner part of a full rule
/// `Identity` (`owner\\RuleIdentity`, as Get-InboxRule returns it), or from `Mailbox` with a bare
/// rule identity or name — and refuses both at once (spec/graph-behaviour.md, "Removing an inbox
/// rule").
fn rule_owner(parameters: &Map<String, Value>) -> Result<String, ExoError> {
    let wanted = param_str(parameters, "Identity").unwrap_or_default();
    let mailbox = param_str(parameters, "Mailbox").filter(|m| !m.trim().is_empty());
    match (wanted.split_once('\\'), mailbox) {
        (Some(_), Some(_)) => Err(ExoError::parameter(
            "You can't use both the Identity and Mailbox parameters to specify a mailbox.",
        )),
        (Some((owner, _)), None) if !owner.trim().is_empty() => Ok(owner.to_owned()),
        (_, Some(mailbox)) => Ok(mailbox),
        _ => mailbox_identity(parameters, "Mailbox"),
    }
}

/// Runs a Set-/Remove- cmdlet; returns the warnings Exchange would print.
fn mutate(
    tenant: &mut Tenant,
    cmdlet: &str,
    parameters: &Map<String, Value>,
) -> Result<Vec<String>, ExoError> {
    let identity = if cmdlet == "Remove-InboxRule" {
        rule_owner(parameters)?
    } else {
        mailbox_identity(parameters, "Identity")?
    };
    let owner_id = find_mailbox(tenant, &identity)
        .map(|u| u.id().to_owned())
        .ok_or_else(|| ExoError::not_found(&identity))?;
    match cmdlet {
        "Set-Mailbox" => {
            only(
                parameters,
                &[
                    "Identity",
                    "ForwardingSmtpAddress",
                    "ForwardingAddress",
                    "DeliverToMailboxAndForward",
                    "GrantSendOnBehalfTo",
                    "AuditEnabled",
                    "Confirm",
                    "Force",
                ],
            )?;
            let forwarding_address = match param(parameters, "ForwardingAddress") {
                Some(Value::String(target)) if !target.is_empty() => {
                    let found = match find_recipients(tenant, target).as_slice() {
                        [Found::Mailbox(user)] => Some(alias(user)),
                        [Found::Contact(contact)] => Some(contact_name(contact)),
                        _ => tenant.user(target).map(alias),
                    };
                    Some(Some(found.ok_or_else(|| ExoError::not_found(target))?))
                }
                Some(Value::Null) | Some(Value::String(_)) => Some(None),
                Some(_) => return Err(ExoError::parameter(
                    "Cannot bind parameter 'ForwardingAddress': send a recipient identity or null.",
                )),
                None => None,
            };
            let send_on_behalf = match param(parameters, "GrantSendOnBehalfTo") {
                None => None,
                Some(value) => {
                    let (add, remove, replace) = send_on_behalf_change(tenant, value)?;
                    let current = tenant
                        .user(&owner_id)
                        .and_then(|u| u.mailbox.as_ref())
                        .map(|m| m.grant_send_on_behalf_to.clone())
                        .unwrap_or_default();
                    let mut list = replace.unwrap_or(current);
                    list.retain(|t| !remove.iter().any(|r| trustee_is(tenant, t, r)));
                    for a in add {
                        if !list.iter().any(|t| trustee_is(tenant, t, &a)) {
                            list.push(a);
                        }
                    }
                    Some(list)
                }
            };
            let user = tenant
                .user_mut(&owner_id)
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let unchanged = nothing_modified(user);
            let mailbox = user
                .mailbox
                .as_mut()
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let before = serde_json::to_value(&*mailbox).unwrap_or(Value::Null);
            match param(parameters, "ForwardingSmtpAddress") {
                Some(Value::String(address)) if !address.is_empty() => {
                    let bare = address
                        .trim_start_matches("smtp:")
                        .trim_start_matches("SMTP:");
                    if !bare.contains('@') {
                        return Err(ExoError::parameter(format!("Cannot bind parameter 'ForwardingSmtpAddress': '{address}' is not a valid SMTP address.")));
                    }
                    mailbox.forwarding_smtp_address = Some(format!("smtp:{bare}"));
                }
                Some(Value::Null) | Some(Value::String(_)) => {
                    mailbox.forwarding_smtp_address = None
                }
                Some(_) => return Err(ExoError::parameter(
                    "Cannot bind parameter 'ForwardingSmtpAddress': send an SMTP address or null.",
                )),
                None => {}
            }
            if let Some(address) = forwarding_address {
                mailbox.forwarding_address = address;
            }
            match param(parameters, "DeliverToMailboxAndForward") {
                Some(Value::Bool(b)) => mailbox.deliver_to_mailbox_and_forward = *b,
                Some(_) => {
                    return Err(ExoError::parameter(
                        "Cannot bind parameter 'DeliverToMailboxAndForward': send true or false.",
                    ))
                }
                None => {}
            }
            if let Some(Value::Bool(b)) = param(parameters, "AuditEnabled") {
                mailbox.audit_enabled = *b;
            }
            if let Some(list) = send_on_behalf {
                mailbox.grant_send_on_behalf_to = list;
            }
            let after = serde_json::to_value(&*mailbox).unwrap_or(Value::Null);
            Ok(if before == after {
                vec![unchanged]
            } else {
                Vec::new()
            })
        }
        "Remove-InboxRule" => {
            only(
                parameters,
                &[
                    "Mailbox",
                    "Identity",
                    "Confirm",
                    "AlwaysDeleteOutlookRulesBlob",
                    "Force",
                ],
            )?;
            let wanted = param_str(parameters, "Identity").ok_or_else(|| ExoError::parameter("Cannot process command because of one or more missing mandatory parameters: Identity."))?;
            let user = tenant
                .users
                .iter_mut()
                .find(|u| u.id() == owner_id)
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let snapshot = user.clone();
            let mailbox = user
                .mailbox
                .as_mut()
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let matching: Vec<usize> = mailbox
                .inbox_rules
                .iter()
                .enumerate()
                .filter(|(_, r)| rule_is(&snapshot, r, &wanted))
                .map(|(i, _)| i)
                .collect();
            match matching.as_slice() {
                [] => Err(ExoError::not_found(&wanted)),
                [single] => {
                    mailbox.inbox_rules.remove(*single);
                    Ok(Vec::new())
                }
                _ => Err(ExoError::new(
                    StatusCode::BAD_REQUEST,
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                    format!("The operation couldn't be performed because '{wanted}' matches multiple entries. Use the rule's Identity."),
                )),
            }
        }
        "Remove-MailboxPermission" => {
            only(
                parameters,
                &[
                    "Identity",
                    "User",
                    "AccessRights",
                    "InheritanceType",
                    "Confirm",
                    "Deny",
                    "BypassMasterAccountSid",
                ],
            )?;
            let trustee = param_str(parameters, "User").ok_or_else(|| ExoError::parameter("Cannot process command because of one or more missing mandatory parameters: User."))?;
            let rights = rights_param(parameters)?;
            // The ACE is the delegate's with this inheritance: another inheritance is another
            // ACE, and removing one that is not there changes nothing (spec/exchange.md).
            let inheritance =
                param_str(parameters, "InheritanceType").unwrap_or_else(|| ALL.to_owned());
            let (snapshot, object): (Vec<(usize, bool)>, String) = {
                let user = tenant
                    .user(&owner_id)
                    .ok_or_else(|| ExoError::not_found(&identity))?;
                let mailbox = user
                    .mailbox
                    .as_ref()
                    .ok_or_else(|| ExoError::not_found(&identity))?;
                let rows = mailbox
                    .permissions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let same_inheritance = p
                            .inheritance_type
                            .as_deref()
                            .unwrap_or(ALL)
                            .eq_ignore_ascii_case(&inheritance);
                        (i, same_inheritance && trustee_is(tenant, &p.user, &trustee))
                    })
                    .collect();
                (rows, directory_name(tenant, user))
            };
            let user = tenant
                .user_mut(&owner_id)
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let mailbox = user
                .mailbox
                .as_mut()
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let mut removed = false;
            for (i, is_trustee) in snapshot.into_iter().rev() {
                if !is_trustee {
                    continue;
                }
                let permission = &mut mailbox.permissions[i];
                let before = permission.access_rights.len();
                permission
                    .access_rights
                    .retain(|r| !rights.iter().any(|x| x.eq_ignore_ascii_case(r)));
                removed |= permission.access_rights.len() != before;
                if permission.access_rights.is_empty() {
                    mailbox.permissions.remove(i);
                }
            }
            Ok(if removed {
                Vec::new()
            } else {
                vec![format!("Can't remove the access control entry on the object \"{object}\" for account \"{trustee}\" because the ACE doesn't exist on the object.")]
            })
        }
        "Remove-RecipientPermission" => {
            only(
                parameters,
                &["Identity", "Trustee", "AccessRights", "Confirm", "Deny"],
            )?;
            let trustee = param_str(parameters, "Trustee").ok_or_else(|| ExoError::parameter("Cannot process command because of one or more missing mandatory parameters: Trustee."))?;
            let rights = rights_param(parameters)?;
            if !rights.iter().all(|r| r.eq_ignore_ascii_case("SendAs")) {
                return Err(ExoError::parameter(
                    "Cannot bind parameter 'AccessRights': the only valid value is SendAs.",
                ));
            }
            let (keep, object): (Vec<bool>, String) = {
                let user = tenant
                    .user(&owner_id)
                    .ok_or_else(|| ExoError::not_found(&identity))?;
                let mailbox = user
                    .mailbox
                    .as_ref()
                    .ok_or_else(|| ExoError::not_found(&identity))?;
                let keep = mailbox
                    .recipient_permissions
                    .iter()
                    .map(|p| !trustee_is(tenant, &p.trustee, &trustee))
                    .collect();
                (keep, directory_name(tenant, user))
            };
            let user = tenant
                .user_mut(&owner_id)
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let mailbox = user
                .mailbox
                .as_mut()
                .ok_or_else(|| ExoError::not_found(&identity))?;
            let before = mailbox.recipient_permissions.len();
            let mut flags = keep.into_iter();
            mailbox
                .recipient_permissions
                .retain(|_| flags.next().unwrap_or(true));
            Ok(if mailbox.recipient_permissions.len() == before {
                vec![format!(
                    "Can't remove the access control entry on the object \"{object}\" for account \"{trustee}\" because the ACE isn't present."
                )]
            } else {
                Vec::new()
            })
        }
        _ => Err(ExoError::parameter(format!("Unsupported cmdlet {cmdlet}."))),
    }
}

type SendOnBehalfChange = (Vec<String>, Vec<String>, Option<Vec<String>>);

/// Reads GrantSendOnBehalfTo: a list (replace), null (clear) or a hashtable with add/remove.
fn send_on_behalf_change(tenant: &Tenant, value: &Value) -> Result<SendOnBehalfChange, ExoError> {
    let resolve = |items: &[Value]| -> Result<Vec<String>, ExoError> {
        items
            .iter()
            .filter_map(Value::as_str)
            .map(|t| {
                tenant
                    .user(t)
                    .or_else(|| find_mailbox(tenant, t))
                    .map(alias)
                    .ok_or_else(|| ExoError::not_found(t))
            })
            .collect()
    };
    let as_list = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(list)) => list.clone(),
            Some(Value::String(s)) => vec![json!(s)],
            _ => Vec::new(),
        }
    };
    match value {
        Value::Null => Ok((Vec::new(), Vec::new(), Some(Vec::new()))),
        Value::Array(list) => Ok((Vec::new(), Vec::new(), Some(resolve(list)?))),
        Value::String(s) => Ok((Vec::new(), Vec::new(), Some(resolve(&[json!(s)])?))),
        Value::Object(map) => {
            let get = |k: &str| {
                map.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            };
            let add = resolve(&as_list(get("add")))?;
            // Removal takes the names as stored, even for recipients that no longer resolve.
            let remove: Vec<String> = as_list(get("remove"))
                .iter()
                .filter_map(Value::as_str)
                .map(|t| {
                    tenant
                        .user(t)
                        .or_else(|| find_mailbox(tenant, t))
                        .map(alias)
                        .unwrap_or_else(|| t.to_owned())
                })
                .collect();
            Ok((add, remove, None))
        }
        _ => Err(ExoError::parameter(
            "Cannot bind parameter 'GrantSendOnBehalfTo'.",
        )),
    }
}
