//! Purview audit search (beta): create a query, watch it go `notStarted` → `running` →
//! `succeeded` over simulated time, then page its records. Records are those in the unified audit
//! log at the moment the query was created, within retention, narrowed by the query's filters and
//! by the workloads the caller's `AuditLogsQuery-*` permissions cover.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Duration;
use serde_json::{json, Map, Value};

use super::{bad_body, json_body, Ctx};
use crate::clock::{graph_time, parse_time};
use crate::generator::{AuditRecords, Hints, LogSeq};
use crate::server::GraphError;
use crate::tenant::{str_of, AuditQuery};

/// (permission, workload it opens; "*" = all).
const QUERY_PERMISSIONS: &[(&str, &str)] = &[
    ("AuditLogsQuery.Read.All", "*"),
    ("AuditLogsQuery-Exchange.Read.All", "Exchange"),
    ("AuditLogsQuery-Entra.Read.All", "AzureActiveDirectory"),
    ("AuditLogsQuery-SharePoint.Read.All", "SharePoint"),
    ("AuditLogsQuery-OneDrive.Read.All", "OneDrive"),
    ("AuditLogsQuery-Endpoint.Read.All", "Endpoint"),
    ("AuditLogsQuery-CRM.Read.All", "CRM"),
];

/// The record types the description lists (subset used by the scenarios and generator, plus the
/// common ones); values are accepted in PascalCase or camelCase and echoed in PascalCase.
const RECORD_TYPES: &[&str] = &[
    "ExchangeAdmin",
    "ExchangeItem",
    "ExchangeItemGroup",
    "SharePoint",
    "SharePointFileOperation",
    "OneDrive",
    "AzureActiveDirectory",
    "AzureActiveDirectoryAccountLogon",
    "AzureActiveDirectoryStsLogon",
    "SharePointSharingOperation",
    "ExchangeAggregatedOperation",
    "ExchangeItemAggregated",
    "MicrosoftTeams",
    "MicrosoftFlow",
    "PowerAppsApp",
    "ThreatIntelligence",
    "MailSubmission",
    "SecurityComplianceAlerts",
    "ComplianceDLPExchange",
    "ComplianceDLPSharePoint",
];

fn workloads(ctx: &Ctx) -> Result<Vec<String>, GraphError> {
    let granted: Vec<String> = QUERY_PERMISSIONS
        .iter()
        .filter(|(perm, _)| ctx.has(&[perm]))
        .map(|(_, workload)| (*workload).to_owned())
        .collect();
    if granted.is_empty() {
        return Err(super::denied());
    }
    Ok(granted)
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The audit log query '{id}' was not found."),
    )
}

fn string_list(body: &Map<String, Value>, key: &str) -> Result<Vec<String>, GraphError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => Ok(list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()),
        Some(_) => Err(bad_body(format!("'{key}' must be an array of strings."))),
    }
}

fn render_query(ctx: &Ctx, query: &AuditQuery) -> Value {
    let mut body = query.body.clone();
    let status = query.status(ctx.now, &ctx.sim.lock_tenant().audit_timing);
    body.insert("status".to_owned(), json!(status));
    Value::Object(body)
}

/// POST /security/auditLog/queries
pub(crate) async fn create_query(ctx: Ctx, body: Bytes) -> Result<Response, GraphError> {
    ctx.beta_only("queries")?;
    let workloads = workloads(&ctx)?;
    let body = json_body(&body)?;
    let mut stored = Map::new();
    for key in ["filterStartDateTime", "filterEndDateTime"] {
        let value = match body.get(key) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(text)) => {
                let t = parse_time(text).ok_or_else(|| {
                    bad_body(format!("'{key}' is not a valid date-time: '{text}'."))
                })?;
                json!(graph_time(t))
            }
            Some(_) => return Err(bad_body(format!("'{key}' must be a date-time string."))),
        };
        stored.insert(key.to_owned(), value);
    }
    let mut record_types = Vec::new();
    for value in string_list(&body, "recordTypeFilters")? {
        let canonical = RECORD_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(&value))
            .ok_or_else(|| bad_body(format!("'{value}' is not a valid value of microsoft.graph.security.auditLogRecordType.")))?;
        record_types.push(json!(canonical));
    }
    stored.insert("recordTypeFilters".to_owned(), Value::Array(record_types));
    for key in [
        "operationFilters",
        "userPrincipalNameFilters",
        "ipAddressFilters",
        "objectIdFilters",
        "administrativeUnitIdFilters",
        "serviceFilters",
    ] {
        stored.insert(key.to_owned(), json!(string_list(&body, key)?));
    }
    if let Some(Value::String(service)) = body.get("serviceFilter") {
        stored.insert("serviceFilters".to_owned(), json!([service]));
    }
    stored.insert(
        "keywordFilter".to_owned(),
        body.get("keywordFilter")
            .cloned()
            .filter(Value::is_string)
            .unwrap_or(Value::Null),
    );
    stored.insert(
        "displayName".to_owned(),
        body.get("displayName")
            .cloned()
            .filter(Value::is_string)
            .unwrap_or(Value::Null),
    );
    let mut tenant = ctx.sim.lock_tenant();
    let id = tenant.new_guid("auditquery");
    stored.insert("id".to_owned(), json!(id));
    let query = AuditQuery {
        body: stored,
        created: ctx.now,
        workloads,
    };
    let mut rendered = query.body.clone();
    rendered.insert("status".to_owned(), json!("notStarted"));
    tenant.audit_queries.push(query);
    ctx.record(&mut tenant, StatusCode::CREATED, json!({"change": "created audit log query", "queryId": id, "displayName": rendered.get("displayName")}));
    drop(tenant);
    let mut out = Map::new();
    out.insert(
        "@odata.context".to_owned(),
        json!(ctx.context("security/auditLog/queries/$entity")),
    );
    out.extend(rendered);
    let mut response = (StatusCode::CREATED, Json(Value::Object(out))).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("{}/security/auditLog/queries/{id}", ctx.base()))
    {
        response.headers_mut().insert("location", location);
    }
    Ok(response)
}

/// GET /security/auditLog/queries
pub(crate) async fn list_queries(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.beta_only("queries")?;
    workloads(&ctx)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.security.auditLogQuery")?;
    let queries: Vec<AuditQuery> = ctx.sim.lock_tenant().audit_queries.clone();
    let items: Vec<Value> = queries.iter().map(|q| render_query(&ctx, q)).collect();
    let page_size = ctx.page_size(100, 1000, "BadRequest")?;
    ctx.collection("security/auditLog/queries", items, page_size, false)
}

/// GET /security/auditLog/queries/{id}
pub(crate) async fn get_query(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.beta_only("queries")?;
    workloads(&ctx)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.security.auditLogQuery")?;
    let query = ctx
        .sim
        .lock_tenant()
        .audit_queries
        .iter()
        .find(|q| q.id() == id)
        .cloned()
        .ok_or_else(|| not_found(&id))?;
    Ok(ctx.entity(
        "security/auditLog/queries/$entity",
        render_query(&ctx, &query),
    ))
}

fn record_matches(query: &AuditQuery, record: &Value) -> bool {
    let list = |key: &str| -> Vec<String> {
        query
            .body
            .get(key)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default()
    };
    let field = |key: &str| str_of(record, key).unwrap_or_default().to_lowercase();
    let in_list = |key: &str, value: String| {
        let wanted = list(key);
        wanted.is_empty() || wanted.contains(&value)
    };
    let service = str_of(record, "service").unwrap_or_default();
    let workload_ok = query
        .workloads
        .iter()
        .any(|w| w == "*" || w.eq_ignore_ascii_case(service));
    let keyword_ok = match query.body.get("keywordFilter").and_then(Value::as_str) {
        Some(k) if !k.is_empty() => record
            .to_string()
            .to_lowercase()
            .contains(&k.to_lowercase()),
        _ => true,
    };
    workload_ok
        && keyword_ok
        && in_list("recordTypeFilters", field("auditLogRecordType"))
        && in_list("operationFilters", field("operation"))
        && in_list("userPrincipalNameFilters", field("userPrincipalName"))
        && in_list("ipAddressFilters", field("clientIp"))
        && in_list("objectIdFilters", field("objectId"))
        && in_list("serviceFilters", service.to_lowercase())
}

/// GET /security/auditLog/queries/{id}/records
pub(crate) async fn records(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.beta_only("queries")?;
    workloads(&ctx)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.security.auditLogRecord")?;
    let page_size = ctx.page_size(150, 1000, "BadRequest")?;
    let start = match &ctx.query.skiptoken {
        Some(token) => super::decode_skiptoken(token)?,
        None => (0, 0),
    };
    let tenant = ctx.sim.lock_tenant();
    let query = tenant
        .audit_queries
        .iter()
        .find(|q| q.id() == id)
        .ok_or_else(|| not_found(&id))?;
    let status = query.status(ctx.now, &tenant.audit_timing);
    if status != "succeeded" {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("The audit log query is {status}; poll GET .../queries/{id} until its status is succeeded, then read its records."),
        ));
    }
    let retention_days = if tenant.info.licences.audit_premium {
        365
    } else {
        180
    };
    let time = |key: &str| {
        query
            .body
            .get(key)
            .and_then(Value::as_str)
            .and_then(parse_time)
    };
    let oldest = (query.created - Duration::days(retention_days))
        .max(time("filterStartDateTime").unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC));
    let newest = time("filterEndDateTime").map_or(query.created, |t| t.min(query.created));
    let upns = query
        .body
        .get("userPrincipalNameFilters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let hints = Hints {
        user: if upns.len() == 1 {
            upns[0].as_str().map(str::to_lowercase)
        } else {
            None
        },
        not_before: Some(oldest),
        not_after: Some(newest),
        interactive: None,
        ip_prefixes: query
            .body
            .get("ipAddressFilters")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    let accept = |record: &Value| {
        let t = str_of(record, "createdDateTime").and_then(parse_time);
        t.is_some_and(|t| t >= oldest && t <= newest) && record_matches(query, record)
    };
    let generated = tenant.generated.as_ref().map(AuditRecords);
    let (page, next) = super::logs::merged_page(
        &tenant.audit_records,
        "createdDateTime",
        generated.as_ref().map(|g| g as &dyn LogSeq),
        start,
        page_size,
        &hints,
        &accept,
    );
    let page: Vec<Value> = page.into_iter().map(|r| ctx.shape(r)).collect();
    let next = next.map(|p| ctx.next_link(p));
    Ok(ctx.collection_body(
        &format!("security/auditLog/queries('{id}')/records"),
        page,
        next,
        None,
    ))
}
