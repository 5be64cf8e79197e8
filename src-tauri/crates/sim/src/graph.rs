//! Microsoft Graph: the routes under `/v1.0` and `/beta`, the caller context every handler gets
//! (verified token, version, query options), permission checks per operation (spec/graph/endpoints.md §6),
//! and the shared shapes of entity and collection responses with `@odata.nextLink` paging.

mod applications;
mod apps;
mod audit;
pub(crate) mod logs;
mod mail;
mod methods;
mod policies;
mod roles;
mod security;
mod users;

use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::odata::{check_filter, FilterSpec, Query, QueryError};
use crate::server::{GraphError, Sim};
use crate::token::{Claims, GRAPH_AUDIENCE};

/// Which Graph version a request was made to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    Beta,
}

impl ApiVersion {
    pub(crate) fn segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::Beta => "beta",
        }
    }
}

/// The routes of one Graph version (the same table is mounted at `/v1.0` and `/beta`; handlers
/// refuse what a version does not have).
pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/users", get(users::list))
        .route("/me", get(users::me))
        .route(
            "/users/{user}",
            get(users::get_user).patch(users::patch_user),
        )
        .route(
            "/users/{user}/revokeSignInSessions",
            post(users::revoke_sessions),
        )
        .route(
            "/users/{user}/microsoft.graph.revokeSignInSessions",
            post(users::revoke_sessions),
        )
        .route("/users/{user}/memberOf", get(users::member_of))
        .route(
            "/directoryRoles/{role}/members/{member}/$ref",
            delete(users::remove_role_member),
        )
        .route("/users/{user}/ownedObjects", get(users::owned_objects))
        .route(
            "/users/{user}/appRoleAssignments",
            get(users::app_role_assignments),
        )
        .route("/users/{user}/oauth2PermissionGrants", get(users::grants))
        .route(
            "/users/{user}/authentication/{kind}",
            get(methods::list).post(methods::create),
        )
        .route(
            "/users/{user}/authentication/{kind}/{method}",
            get(methods::get_method).delete(methods::delete_method),
        )
        .route("/users/{user}/mailboxSettings", get(mail::mailbox_settings))
        .route(
            "/users/{user}/mailFolders/{folder}/messageRules",
            get(mail::list_rules),
        )
        .route(
            "/users/{user}/mailFolders/{folder}/messageRules/{rule}",
            get(mail::get_rule).delete(mail::delete_rule),
        )
        .route(
            "/users/{user}/mailFolders/{folder}/messages",
            get(mail::list_messages),
        )
        .route("/oauth2PermissionGrants", get(apps::list_grants))
        .route(
            "/oauth2PermissionGrants/{grant}",
            get(apps::get_grant).delete(apps::delete_grant),
        )
        .route(
            "/servicePrincipals/{sp}",
            get(apps::get_service_principal).patch(apps::patch_service_principal),
        )
        .route(
            "/servicePrincipals/{sp}/appRoleAssignments",
            get(apps::sp_app_role_assignments),
        )
        .route(
            "/servicePrincipals/{sp}/appRoleAssignedTo",
            get(apps::sp_app_role_assigned_to),
        )
        .route("/applications", get(applications::list))
        .route(
            "/applications/{app}",
            get(applications::get).patch(applications::patch),
        )
        .route(
            "/applications/{app}/removePassword",
            post(applications::remove_password),
        )
        .route(
            "/applications/{app}/microsoft.graph.removePassword",
            post(applications::remove_password),
        )
        .route(
            "/applications/{app}/removeKey",
            post(applications::remove_key),
        )
        .route(
            "/applications/{app}/microsoft.graph.removeKey",
            post(applications::remove_key),
        )
        .route(
            "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{config}",
            get(policies::method_configuration),
        )
        .route("/auditLogs/signIns", get(logs::sign_ins))
        .route("/auditLogs/directoryAudits", get(logs::directory_audits))
        .route("/identityProtection/riskyUsers", get(security::risky_users))
        .route(
            "/identityProtection/riskyUsers/confirmCompromised",
            post(security::confirm_compromised),
        )
        .route(
            "/identityProtection/riskyUsers/microsoft.graph.confirmCompromised",
            post(security::confirm_compromised),
        )
        .route(
            "/identityProtection/riskyUsers/{risky}",
            get(security::risky_user),
        )
        .route(
            "/identityProtection/riskDetections",
            get(security::risk_detections),
        )
        .route("/security/incidents", get(security::incidents))
        .route("/security/incidents/{incident}", get(security::incident))
        .route("/security/alerts_v2", get(security::alerts))
        .route("/security/alerts_v2/{alert}", get(security::alert))
        .route(
            "/security/auditLog/queries",
            get(audit::list_queries).post(audit::create_query),
        )
        .route("/security/auditLog/queries/{query}", get(audit::get_query))
        .route(
            "/security/auditLog/queries/{query}/records",
            get(audit::records),
        )
        .route(
            "/{*rest}",
            delete(not_found)
                .get(applications::by_app_id_or_unknown)
                .post(not_found)
                .patch(not_found)
                .put(not_found),
        )
        .method_not_allowed_fallback(method_not_allowed)
}

async fn not_found(OriginalUri(uri): OriginalUri) -> GraphError {
    let segment = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{segment}'."),
    )
}

async fn method_not_allowed() -> GraphError {
    GraphError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

/// The permissions one operation accepts (spec/graph/endpoints.md §6: any listed alternative suffices, and a
/// `.ReadWrite.` permission satisfies the matching `.Read.` one).
pub(crate) struct Perm {
    pub(crate) app: &'static [&'static str],
    pub(crate) delegated: &'static [&'static str],
    /// Entra roles a delegated caller needs (any one; Global Administrator always qualifies).
    pub(crate) roles: &'static [&'static str],
}

/// Global Administrator's role template id.
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

fn satisfies(granted: &[String], accepted: &[&str]) -> bool {
    accepted.iter().any(|needed| {
        let upgraded = needed.replace(".Read.", ".ReadWrite.");
        granted
            .iter()
            .any(|g| g.eq_ignore_ascii_case(needed) || g.eq_ignore_ascii_case(&upgraded))
    })
}

/// Everything a Graph handler needs about the request.
pub(crate) struct Ctx {
    pub(crate) sim: Arc<Sim>,
    pub(crate) claims: Claims,
    pub(crate) version: ApiVersion,
    pub(crate) query: Query,
    pub(crate) consistency_eventual: bool,
    pub(crate) now: DateTime<Utc>,
    pub(crate) path: String,
    pub(crate) method: Method,
    /// The entity type the answer holds, once the handler has named it ([`Ctx::describe`]).
    entity_type: OnceLock<&'static str>,
    /// `$select` as the description spells the names, once validated.
    selected: OnceLock<Vec<String>>,
}

impl FromRequestParts<Arc<Sim>> for Ctx {
    type Rejection = GraphError;

    async fn from_request_parts(
        parts: &mut Parts,
        sim: &Arc<Sim>,
    ) -> Result<Self, Self::Rejection> {
        let version = parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .unwrap_or(ApiVersion::V1);
        let now = sim.clock.now();
        let unauthorized = |message: &str| {
            GraphError::new(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                message,
            )
        };
        let header = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .unwrap_or_default()
            .trim();
        if token.is_empty() {
            return Err(unauthorized(
                crate::token::TokenRejection::Missing.message(),
            ));
        }
        let lifetime = sim.fault_config().token_lifetime_seconds;
        let claims = sim
            .tokens
            .verify(token, GRAPH_AUDIENCE, now, lifetime)
            .map_err(|r| unauthorized(r.message()))?;
        let query = Query::parse(parts.uri.query()).map_err(bad_query)?;
        let consistency_eventual = parts
            .headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        Ok(Ctx {
            sim: sim.clone(),
            claims,
            version,
            query,
            consistency_eventual,
            now,
            path,
            method: parts.method.clone(),
            entity_type: OnceLock::new(),
            selected: OnceLock::new(),
        })
    }
}

/// A refused query as a Graph error.
pub(crate) fn bad_query(err: QueryError) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, err.code, err.message)
}

/// The answer to a missing permission.
pub(crate) fn denied() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// Graph's directory 404.
pub(crate) fn directory_not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
    )
}

/// A malformed request body.
pub(crate) fn bad_body(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

impl Ctx {
    /// Refuses the request unless the token carries one of the accepted permissions (and, for a
    /// delegated caller, the user holds one of the roles).
    pub(crate) fn require(&self, perm: &Perm) -> Result<(), GraphError> {
        let accepted = if self.claims.is_app_only() {
            perm.app
        } else {
            perm.delegated
        };
        self.require_any(accepted, perm.roles)
    }

    /// Like [`Ctx::require`] with the accepted permissions and roles given directly.
    pub(crate) fn require_any(&self, accepted: &[&str], roles: &[&str]) -> Result<(), GraphError> {
        if !satisfies(&self.claims.permissions(), accepted) {
            return Err(denied());
        }
        if self.claims.is_app_only()
            || roles.is_empty()
            || self.claims.wids.iter().any(|w| w == GLOBAL_ADMIN)
        {
            return Ok(());
        }
        let held = roles
            .iter()
            .filter_map(|name| crate::token::role_template_id(name))
            .any(|id| self.claims.wids.iter().any(|w| w == id));
        if held {
            Ok(())
        } else {
            Err(denied())
        }
    }

    /// True when the token carries one of these permissions.
    pub(crate) fn has(&self, accepted: &[&str]) -> bool {
        satisfies(&self.claims.permissions(), accepted)
    }

    pub(crate) fn base(&self) -> String {
        format!("{}/{}", self.sim.base_url, self.version.segment())
    }

    /// `@odata.context` for a resource path such as `users` or `users/$entity`.
    pub(crate) fn context(&self, tail: &str) -> String {
        format!("{}/$metadata#{tail}", self.base())
    }

    /// Refuses query options an endpoint does not support.
    pub(crate) fn refuse_options(&self, allowed: &[&str]) -> Result<(), GraphError> {
        let q = &self.query;
        let used = [
            ("select", q.select.is_some()),
            ("top", q.top.is_some()),
            ("skip", q.skip.is_some()),
            ("filter", q.filter.is_some()),
            ("count", q.count),
            ("orderby", q.orderby.is_some()),
            ("expand", !q.expand.is_empty()),
            ("search", q.search.is_some()),
        ];
        for (name, present) in used {
            if present && !allowed.contains(&name) {
                return Err(GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("Query option '${name}' is not supported for this request."),
                ));
            }
        }
        Ok(())
    }

    /// Checks `$filter` against an endpoint's spec (property names and literal types against its
    /// entity in Microsoft's description, then what the endpoint supports).
    pub(crate) fn check_filter(
        &self,
        spec: &FilterSpec,
        code: &'static str,
    ) -> Result<(), GraphError> {
        match &self.query.filter {
            Some(expr) => check_filter(
                expr,
                spec,
                code,
                self.advanced_query(),
                self.version == ApiVersion::Beta,
            )
            .map_err(bad_query),
            None => Ok(()),
        }
    }

    /// Names the entity type this request answers with (a schema name of Microsoft's
    /// description): refuses a `$select` naming a property the type does not have on this version,
    /// as Graph does, and lets [`Ctx::shape`] answer with exactly what the version carries.
    pub(crate) fn describe(&self, entity: &'static str) -> Result<(), GraphError> {
        let beta = self.version == ApiVersion::Beta;
        if let Some(select) = &self.query.select {
            let mut canonical = Vec::with_capacity(select.len());
            for name in select {
                match crate::odata::lookup_property(entity, name, beta) {
                    Some((spelled, _)) => canonical.push(spelled.to_owned()),
                    None => {
                        return Err(GraphError::new(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            format!(
                                "Parsing OData Select and Expand failed: {}",
                                crate::odata::no_such_property(name, entity)
                            ),
                        ))
                    }
                }
            }
            let _ = self.selected.set(canonical);
        }
        let _ = self.entity_type.set(entity);
        Ok(())
    }

    /// The validated `$select`, spelled as the description spells it.
    pub(crate) fn selected(&self) -> Option<&[String]> {
        self.selected.get().map(Vec::as_slice)
    }

    /// The type of one answered item: its own `@odata.type` when that derives from the
    /// collection's type (polymorphic collections), else the collection's type.
    fn item_type(&self, item: &Value) -> Option<&'static str> {
        let entity = *self.entity_type.get()?;
        let own = item
            .get("@odata.type")
            .and_then(Value::as_str)
            .map(|t| t.trim_start_matches('#'))
            .and_then(|t| crate::described::schema(t).map(|s| s.name))
            .filter(|t| crate::described::is_a(t, entity));
        Some(own.unwrap_or(entity))
    }

    /// Directory advanced queries need `ConsistencyLevel: eventual` and `$count=true`.
    pub(crate) fn advanced_query(&self) -> bool {
        self.consistency_eventual && self.query.count
    }

    /// `$top` within the endpoint's limits, or its default page size.
    pub(crate) fn page_size(
        &self,
        default: usize,
        max: usize,
        code: &'static str,
    ) -> Result<usize, GraphError> {
        match self.query.top {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                code,
                format!(
                    "Invalid page size specified: '{n}'. Must be between 1 and {max} inclusive."
                ),
            )),
        }
    }

    /// The offset carried by `$skiptoken` (0 when absent).
    pub(crate) fn offset(&self) -> Result<usize, GraphError> {
        match &self.query.skiptoken {
            None => Ok(self.query.skip.unwrap_or(0)),
            Some(token) => decode_skiptoken(token).map(|(a, _)| a as usize),
        }
    }

    /// `@odata.nextLink` for the same request continued at `position`.
    pub(crate) fn next_link(&self, position: (u64, u64)) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.query.pairs {
            let name = key.trim_start_matches('$').to_ascii_lowercase();
            if name != "skiptoken" && name != "skip" {
                serializer.append_pair(key, value);
            }
        }
        serializer.append_pair("$skiptoken", &encode_skiptoken(position));
        format!("{}{}?{}", self.sim.base_url, self.path, serializer.finish())
    }

    /// Answers a collection already filtered and ordered: pages it and adds the OData annotations.
    pub(crate) fn collection(
        &self,
        context: &str,
        items: Vec<Value>,
        page_size: usize,
        count: bool,
    ) -> Result<Response, GraphError> {
        let offset = self.offset()?;
        let total = items.len();
        let page: Vec<Value> = items
            .into_iter()
            .skip(offset)
            .take(page_size)
            .map(|v| self.shape(v))
            .collect();
        let next =
            (offset + page_size < total).then(|| self.next_link(((offset + page_size) as u64, 0)));
        Ok(self.collection_body(context, page, next, count.then_some(total)))
    }

    /// Builds a collection response body.
    pub(crate) fn collection_body(
        &self,
        context: &str,
        page: Vec<Value>,
        next: Option<String>,
        count: Option<usize>,
    ) -> Response {
        let mut body = Map::new();
        body.insert("@odata.context".to_owned(), json!(self.context(context)));
        if let Some(count) = count {
            body.insert("@odata.count".to_owned(), json!(count));
        }
        if let Some(next) = next {
            body.insert("@odata.nextLink".to_owned(), json!(next));
        }
        body.insert("value".to_owned(), Value::Array(page));
        Json(Value::Object(body)).into_response()
    }

    /// Shapes one entity as this version answers it: v1.0 never carries a property only beta has,
    /// and `$select` keeps the selected properties (a selected property the record lacks is
    /// `null`, as in Graph).
    pub(crate) fn shape(&self, mut item: Value) -> Value {
        let beta = self.version == ApiVersion::Beta;
        let item_type = self.item_type(&item);
        if let (Some(t), false, Value::Object(map)) = (item_type, beta, &mut item) {
            map.retain(|key, _| {
                key.starts_with('@')
                    || crate::described::property(t, key, false).is_some()
                    || crate::described::property(t, key, true).is_none()
            });
        }
        let has = |name: &str| {
            item_type.is_some_and(|t| crate::odata::lookup_property(t, name, beta).is_some())
        };
        match (self.selected(), &self.query.select) {
            (Some(select), _) => crate::odata::project(&item, select, &self.query.expand, &has),
            (None, Some(select)) => {
                crate::odata::project(&item, select, &self.query.expand, &|_| false)
            }
            (None, None) => item,
        }
    }

    /// Answers one entity with its `@odata.context`.
    pub(crate) fn entity(&self, context: &str, item: Value) -> Response {
        let mut body = Map::new();
        body.insert("@odata.context".to_owned(), json!(self.context(context)));
        if let Value::Object(map) = self.shape(item) {
            body.extend(map);
        }
        Json(Value::Object(body)).into_response()
    }

    /// Records a change in the action log.
    pub(crate) fn record(
        &self,
        tenant: &mut crate::tenant::Tenant,
        status: StatusCode,
        detail: Value,
    ) {
        let mut entry = json!({
            "surface": "graph",
            "method": self.method.as_str(),
            "path": self.path,
            "status": status.as_u16(),
            "caller": if self.claims.is_app_only() { self.claims.appid.clone() } else { self.claims.upn.clone().unwrap_or_default() },
        });
        if let (Value::Object(entry), Value::Object(detail)) = (&mut entry, detail) {
            entry.extend(detail);
        }
        tenant.record_action(self.now, entry);
    }

    /// Refuses an operation the beta description has but v1.0 (in the described snapshot) lacks.
    pub(crate) fn beta_only(&self, segment: &str) -> Result<(), GraphError> {
        if self.version == ApiVersion::V1 {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Resource not found for the segment '{segment}'."),
            ));
        }
        Ok(())
    }
}

/// Encodes a paging position as an opaque `$skiptoken`.
pub(crate) fn encode_skiptoken(position: (u64, u64)) -> String {
    let mut bytes = b"fbsim".to_vec();
    bytes.extend_from_slice(&position.0.to_be_bytes());
    bytes.extend_from_slice(&position.1.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a `$skiptoken` made by [`encode_skiptoken`].
pub(crate) fn decode_skiptoken(token: &str) -> Result<(u64, u64), GraphError> {
    let invalid = || {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid $skiptoken value '{token}'. Follow @odata.nextLink as returned."),
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    if bytes.len() != 21 || &bytes[..5] != b"fbsim" {
        return Err(invalid());
    }
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&bytes[5..13]);
    b.copy_from_slice(&bytes[13..21]);
    Ok((u64::from_be_bytes(a), u64::from_be_bytes(b)))
}

/// Parses a JSON request body, with Graph's error for bad JSON.
pub(crate) fn json_body(bytes: &[u8]) -> Result<Map<String, Value>, GraphError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(bad_body("The request body must be a JSON object.")),
        Err(e) => Err(bad_body(format!("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. ({e})"))),
    }
}

/// A PATCH body for an entity of type `entity`: a JSON object naming at least one property.
/// Instance annotations such as `@odata.type` (Microsoft's SDKs send it) are accepted and dropped —
/// never stored — when they name this type; a property the type does not have is refused, as
/// Graph's OData reader does.
pub(crate) fn patch_body(bytes: &[u8], entity: &str) -> Result<Map<String, Value>, GraphError> {
    let mut body = json_body(bytes)?;
    if let Some(value) = body.get("@odata.type") {
        let named = value.as_str().unwrap_or_default().trim_start_matches('#');
        if !named.eq_ignore_ascii_case(entity) {
            return Err(bad_body(format!(
                "The type '{named}' given in '@odata.type' is not the type of the entity being updated ('{entity}')."
            )));
        }
    }
    body.retain(|key, _| !key.starts_with('@'));
    if body.is_empty() {
        return Err(bad_body(
            "The request body is empty: send the properties to update.",
        ));
    }
    if let Some(unknown) = body
        .keys()
        .find(|k| crate::described::property(entity, k, false).is_none())
    {
        return Err(bad_body(format!(
            "The property '{unknown}' does not exist on type '{entity}'. Make sure to only use property names that are defined by the type."
        )));
    }
    Ok(body)
}

/// 204 No Content.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_satisfies_read() {
        let granted = vec!["User.ReadWrite.All".to_owned()];
        assert!(satisfies(&granted, &["User.Read.All"]));
        assert!(!satisfies(&granted, &["AuditLog.Read.All"]));
        assert!(!satisfies(
            &["User.Read.All".to_owned()],
            &["User.ReadWrite.All"]
        ));
    }

    #[test]
    fn skiptokens_round_trip_and_reject_forgeries() {
        let token = encode_skiptoken((1000, 7));
        assert_eq!(decode_skiptoken(&token).unwrap(), (1000, 7));
        assert!(decode_skiptoken("1000").is_err());
        assert!(decode_skiptoken("../../etc").is_err());
    }
}
