//! Identity Protection (risky users, risk detections, confirm compromised) and Defender XDR
//! (incidents with `$expand=alerts`, alerts v2).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{bad_body, directory_not_found, json_body, no_content, Ctx, Perm};
use chrono::{DateTime, Duration, Utc};

use crate::clock::{graph_time, Mark};
use crate::odata::{FilterSpec, EQ, RANGE, STARTS};
use crate::server::GraphError;
use crate::tenant::{str_of, Tenant};

const READ_RISKY_USERS: Perm = Perm {
    app: &["IdentityRiskyUser.Read.All"],
    delegated: &["IdentityRiskyUser.Read.All"],
    roles: &[
        "Global Reader",
        "Security Operator",
        "Security Reader",
        "Security Administrator",
    ],
};
const CONFIRM: Perm = Perm {
    app: &["IdentityRiskyUser.ReadWrite.All"],
    delegated: &["IdentityRiskyUser.ReadWrite.All"],
    roles: &["Security Administrator"],
};
const READ_DETECTIONS: Perm = Perm {
    app: &["IdentityRiskEvent.Read.All"],
    delegated: &["IdentityRiskEvent.Read.All"],
    roles: &[
        "Global Reader",
        "Security Operator",
        "Security Reader",
        "Security Administrator",
    ],
};
const DEFENDER_ROLES: &[&str] = &[
    "Security Reader",
    "Security Operator",
    "Security Administrator",
    "Global Reader",
];
const READ_INCIDENTS: Perm = Perm {
    app: &["SecurityIncident.Read.All"],
    delegated: &["SecurityIncident.Read.All"],
    roles: DEFENDER_ROLES,
};
const READ_ALERTS: Perm = Perm {
    app: &["SecurityAlert.Read.All"],
    delegated: &["SecurityAlert.Read.All"],
    roles: DEFENDER_ROLES,
};

const RISKY_USER_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.riskyUser",
    props: &[
        ("id", EQ),
        ("riskState", EQ),
        ("riskLevel", EQ),
        ("riskDetail", EQ),
        ("userPrincipalName", EQ | STARTS),
        ("userDisplayName", EQ | STARTS),
        ("riskLastUpdatedDateTime", RANGE),
        ("isDeleted", EQ),
    ],
    lambdas: &[],
    advanced: false,
};
const DETECTION_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.riskDetection",
    props: &[
        ("id", EQ),
        ("userId", EQ),
        ("userPrincipalName", EQ | STARTS),
        ("riskEventType", EQ),
        ("riskState", EQ),
        ("riskLevel", EQ),
        ("ipAddress", EQ),
        ("detectedDateTime", RANGE),
        ("activityDateTime", RANGE),
        ("requestId", EQ),
    ],
    lambdas: &[],
    advanced: false,
};
const INCIDENT_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.security.incident",
    props: &[
        ("assignedTo", EQ),
        ("classification", EQ),
        ("createdDateTime", RANGE),
        ("determination", EQ),
        ("lastUpdateDateTime", RANGE),
        ("severity", EQ),
        ("status", EQ),
    ],
    lambdas: &[],
    advanced: false,
};
const ALERT_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.security.alert",
    props: &[
        ("assignedTo", EQ),
        ("classification", EQ),
        ("determination", EQ),
        ("createdDateTime", RANGE),
        ("lastUpdateDateTime", RANGE),
        ("severity", EQ),
        ("serviceSource", EQ),
        ("status", EQ),
    ],
    lambdas: &[],
    advanced: false,
};

fn filtered(ctx: &Ctx, list: &[Value]) -> Vec<Value> {
    list.iter()
        .filter(|v| {
            ctx.query
                .filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, v))
        })
        .cloned()
        .collect()
}

/// Without Entra ID P2, Identity Protection hides risk levels and details.
fn licensed_view(p2: bool, mut item: Value) -> Value {
    if !p2 {
        if let Value::Object(map) = &mut item {
            map.insert("riskLevel".to_owned(), json!("hidden"));
            map.insert("riskDetail".to_owned(), json!("hidden"));
        }
    }
    item
}

/// GET /identityProtection/riskyUsers
pub(crate) async fn risky_users(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_RISKY_USERS)?;
    ctx.refuse_options(&["select", "top", "filter", "count"])?;
    ctx.describe("microsoft.graph.riskyUser")?;
    ctx.check_filter(&RISKY_USER_FILTER, "BadRequest")?;
    let page_size = ctx.page_size(20, 500, "BadRequest")?;
    let mut tenant = ctx.sim.lock_tenant();
    settle_confirmations(&mut tenant, ctx.now);
    let p2 = tenant.info.licences.entra_id_p2;
    let items: Vec<Value> = filtered(&ctx, &tenant.risky_users)
        .into_iter()
        .map(|v| licensed_view(p2, v))
        .collect();
    ctx.collection(
        "identityProtection/riskyUsers",
        items,
        page_size,
        ctx.query.count,
    )
}

/// GET /identityProtection/riskyUsers/{id}
pub(crate) async fn risky_user(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_RISKY_USERS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.riskyUser")?;
    let mut tenant = ctx.sim.lock_tenant();
    settle_confirmations(&mut tenant, ctx.now);
    let item = tenant
        .risky_users
        .iter()
        .find(|r| str_of(r, "id") == Some(id.as_str()))
        .cloned()
        .ok_or_else(|| directory_not_found(&id))?;
    Ok(ctx.entity(
        "identityProtection/riskyUsers/$entity",
        licensed_view(tenant.info.licences.entra_id_p2, item),
    ))
}

/// Identity Protection's refusal in a tenant without Entra ID P2 (spec/graph-behaviour.md,
/// "confirmCompromised").
fn not_licensed() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "Your tenant is not licensed for this feature.",
    )
}

/// Identity Protection accepts one `confirmCompromised` a second per tenant and says so with a 429
/// that carries no `Retry-After` (spec/graph-behaviour.md, "confirmCompromised").
fn too_many_confirmations() -> GraphError {
    GraphError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests. Please try again later.",
    )
}

/// Applies the confirmations Identity Protection has finished processing by `now`: until then the
/// risky user shows `isProcessing` and its previous risk.
pub(crate) fn settle_confirmations(tenant: &mut Tenant, now: DateTime<Utc>) {
    let delay = Duration::seconds(tenant.info.risk_processing_seconds.max(0));
    let (done, pending): (Vec<_>, Vec<_>) = std::mem::take(&mut tenant.risk_processing)
        .into_iter()
        .partition(|(_, mark)| mark.elapsed(now) >= delay);
    tenant.risk_processing = pending;
    for (id, _) in done {
        if let Some(Value::Object(record)) = tenant
            .risky_users
            .iter_mut()
            .find(|r| str_of(r, "id") == Some(id.as_str()))
        {
            record.extend([
                ("riskState".to_owned(), json!("confirmedCompromised")),
                ("riskLevel".to_owned(), json!("high")),
                (
                    "riskDetail".to_owned(),
                    json!("adminConfirmedUserCompromised"),
                ),
                ("riskLastUpdatedDateTime".to_owned(), json!(graph_time(now))),
                ("isProcessing".to_owned(), json!(false)),
            ]);
        }
    }
}

/// POST /identityProtection/riskyUsers/confirmCompromised (with or without the namespace)
pub(crate) async fn confirm_compromised(ctx: Ctx, body: Bytes) -> Result<Response, GraphError> {
    ctx.require(&CONFIRM)?;
    let body = json_body(&body)?;
    let ids: Vec<String> = match body.get("userIds") {
        Some(Value::Array(list)) if !list.is_empty() && list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => {
            return Err(bad_body(
                "The request body must contain 'userIds', a non-empty array of user object ids.",
            ))
        }
    };
    if ids.len() > 60 {
        return Err(bad_body(
            "At most 60 user ids can be confirmed compromised in one request.",
        ));
    }
    let mut tenant = ctx.sim.lock_tenant();
    if !tenant.info.licences.entra_id_p2 {
        return Err(not_licensed());
    }
    if tenant
        .last_confirm
        .is_some_and(|last| last.elapsed(ctx.now) < Duration::seconds(1))
    {
        ctx.record(
            &mut tenant,
            StatusCode::TOO_MANY_REQUESTS,
            json!({"change": "confirmCompromised refused: one request a second per tenant"}),
        );
        return Err(too_many_confirmations());
    }
    for id in &ids {
        if tenant.user(id).is_none() {
            return Err(directory_not_found(id));
        }
    }
    tenant.last_confirm = Some(Mark::at(ctx.now));
    for id in &ids {
        let (upn, name) = tenant
            .user(id)
            .map(|u| (u.upn().to_owned(), u.display_name().to_owned()))
            .unwrap_or_default();
        match tenant
            .risky_users
            .iter_mut()
            .find(|r| str_of(r, "id") == Some(id.as_str()))
        {
            Some(Value::Object(existing)) => {
                existing.insert("isProcessing".to_owned(), json!(true));
            }
            _ => tenant.risky_users.push(json!({
                "id": id, "isDeleted": false, "isProcessing": true, "userPrincipalName": upn,
                "userDisplayName": name, "riskState": "none", "riskLevel": "none",
                "riskDetail": "none", "riskLastUpdatedDateTime": graph_time(ctx.now),
            })),
        }
        tenant.risk_processing.retain(|(pending, _)| pending != id);
        tenant.risk_processing.push((id.clone(), Mark::at(ctx.now)));
    }
    settle_confirmations(&mut tenant, ctx.now);
    ctx.record(
        &mut tenant,
        StatusCode::NO_CONTENT,
        json!({"change": "confirmCompromised", "userIds": ids}),
    );
    Ok(no_content())
}

/// GET /identityProtection/riskDetections
pub(crate) async fn risk_detections(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_DETECTIONS)?;
    ctx.refuse_options(&["select", "top", "filter"])?;
    ctx.describe("microsoft.graph.riskDetection")?;
    ctx.check_filter(&DETECTION_FILTER, "BadRequest")?;
    let page_size = ctx.page_size(20, 500, "BadRequest")?;
    let tenant = ctx.sim.lock_tenant();
    let p2 = tenant.info.licences.entra_id_p2;
    let items: Vec<Value> = filtered(&ctx, &tenant.risk_detections)
        .into_iter()
        .map(|v| licensed_view(p2, v))
        .collect();
    ctx.collection("identityProtection/riskDetections", items, page_size, false)
}

fn expand_alerts(ctx: &Ctx, incident: &Value, alerts: &[Value]) -> Value {
    let mut incident = incident.clone();
    if ctx
        .query
        .expand
        .iter()
        .any(|e| e.eq_ignore_ascii_case("alerts"))
    {
        let id = str_of(&incident, "id").unwrap_or_default().to_owned();
        let mine: Vec<Value> = alerts
            .iter()
            .filter(|a| str_of(a, "incidentId") == Some(id.as_str()))
            .cloned()
            .collect();
        if let Value::Object(map) = &mut incident {
            map.insert("alerts".to_owned(), Value::Array(mine));
        }
    }
    incident
}

fn check_expand(ctx: &Ctx) -> Result<(), GraphError> {
    match ctx.query.expand.iter().find(|e| !e.eq_ignore_ascii_case("alerts")) {
        Some(other) => Err(GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", format!("Could not find a navigation property named '{other}' on type 'microsoft.graph.security.incident'."))),
        None => Ok(()),
    }
}

/// GET /security/incidents
pub(crate) async fn incidents(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_INCIDENTS)?;
    ctx.refuse_options(&["select", "top", "filter", "count", "skip", "expand"])?;
    ctx.describe("microsoft.graph.security.incident")?;
    ctx.check_filter(&INCIDENT_FILTER, "BadRequest")?;
    check_expand(&ctx)?;
    let page_size = ctx.page_size(50, 50, "BadRequest")?;
    let tenant = ctx.sim.lock_tenant();
    let items: Vec<Value> = filtered(&ctx, &tenant.incidents)
        .iter()
        .map(|i| expand_alerts(&ctx, i, &tenant.alerts))
        .collect();
    ctx.collection("security/incidents", items, page_size, ctx.query.count)
}

/// GET /security/incidents/{id}
pub(crate) async fn incident(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_INCIDENTS)?;
    ctx.refuse_options(&["select", "expand"])?;
    ctx.describe("microsoft.graph.security.incident")?;
    check_expand(&ctx)?;
    let tenant = ctx.sim.lock_tenant();
    let item = tenant
        .incidents
        .iter()
        .find(|i| str_of(i, "id") == Some(id.as_str()))
        .ok_or_else(|| not_found(&id))?;
    Ok(ctx.entity(
        "security/incidents/$entity",
        expand_alerts(&ctx, item, &tenant.alerts),
    ))
}

fn not_found(id: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The resource '{id}' was not found."),
    )
}

/// GET /security/alerts_v2
pub(crate) async fn alerts(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_ALERTS)?;
    ctx.refuse_options(&["select", "top", "filter", "count", "skip"])?;
    ctx.describe("microsoft.graph.security.alert")?;
    ctx.check_filter(&ALERT_FILTER, "BadRequest")?;
    let page_size = ctx.page_size(100, 2000, "BadRequest")?;
    let tenant = ctx.sim.lock_tenant();
    let items = filtered(&ctx, &tenant.alerts);
    ctx.collection("security/alerts_v2", items, page_size, ctx.query.count)
}

/// GET /security/alerts_v2/{id}
pub(crate) async fn alert(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_ALERTS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.security.alert")?;
    let tenant = ctx.sim.lock_tenant();
    let item = tenant
        .alerts
        .iter()
        .find(|a| str_of(a, "id") == Some(id.as_str()))
        .ok_or_else(|| not_found(&id))?;
    Ok(ctx.entity("security/alerts_v2/$entity", item.clone()))
}
