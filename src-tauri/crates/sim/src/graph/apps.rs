//! Delegated permission grants (consents) and service principals: list/get/delete grants, get and
//! disable a service principal, and the app-role assignments on either side of it.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::users::READ_GRANTS;
use super::{bad_body, directory_not_found, no_content, Ctx, Perm};
use crate::clock::graph_time;
use crate::odata::{FilterSpec, EQ};
use crate::server::GraphError;
use crate::tenant::str_of;

const DELETE_GRANT: Perm = Perm {
    app: &[
        "DelegatedPermissionGrant.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "DelegatedPermissionGrant.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    roles: &[
        "Application Developer",
        "Cloud Application Administrator",
        "Application Administrator",
        "User Administrator",
        "Privileged Role Administrator",
    ],
};
const READ_APPS: Perm = Perm {
    app: &["Application.Read.All", "Directory.Read.All"],
    delegated: &["Application.Read.All", "Directory.Read.All"],
    roles: &[],
};
const WRITE_APPS: Perm = Perm {
    app: &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
    delegated: &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
    roles: &[
        "Application Administrator",
        "Cloud Application Administrator",
    ],
};

const GRANT_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.oAuth2PermissionGrant",
    props: &[
        ("clientId", EQ),
        ("principalId", EQ),
        ("consentType", EQ),
        ("resourceId", EQ),
        ("id", EQ),
    ],
    lambdas: &[],
    advanced: false,
};

/// GET /oauth2PermissionGrants
pub(crate) async fn list_grants(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_GRANTS)?;
    ctx.refuse_options(&["select", "top", "filter"])?;
    ctx.describe("microsoft.graph.oAuth2PermissionGrant")?;
    ctx.check_filter(&GRANT_FILTER, "Request_UnsupportedQuery")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let items: Vec<Value> = tenant
        .grants
        .iter()
        .filter(|g| {
            ctx.query
                .filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, g))
        })
        .cloned()
        .collect();
    ctx.collection("oauth2PermissionGrants", items, page_size, false)
}

/// GET /oauth2PermissionGrants/{id}
pub(crate) async fn get_grant(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_GRANTS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.oAuth2PermissionGrant")?;
    let tenant = ctx.sim.lock_tenant();
    let grant = tenant
        .grants
        .iter()
        .find(|g| str_of(g, "id") == Some(id.as_str()))
        .ok_or_else(|| directory_not_found(&id))?;
    Ok(ctx.entity("oauth2PermissionGrants/$entity", grant.clone()))
}

/// DELETE /oauth2PermissionGrants/{id}
pub(crate) async fn delete_grant(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&DELETE_GRANT)?;
    let mut tenant = ctx.sim.lock_tenant();
    let position = tenant
        .grants
        .iter()
        .position(|g| str_of(g, "id") == Some(id.as_str()))
        .ok_or_else(|| directory_not_found(&id))?;
    let removed = tenant.grants.remove(position);
    ctx.record(
        &mut tenant,
        StatusCode::NO_CONTENT,
        json!({"change": "removed delegated permission grant", "grantId": id, "removed": removed}),
    );
    let now = ctx.now;
    crate::attacker::on_grant_removed(&mut tenant, &removed, now);
    let audit_id = tenant.new_guid("audit");
    let client = str_of(&removed, "clientId").unwrap_or_default().to_owned();
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(now), "activityDisplayName": "Remove delegated permission grant",
        "category": "ApplicationManagement", "operationType": "Unassign",
        "initiatedBy": {"app": {"appId": ctx.claims.appid, "displayName": null, "servicePrincipalId": null, "servicePrincipalName": null}},
        "targetResources": [{"id": client, "displayName": null, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": []}],
    }));
    Ok(no_content())
}

/// GET /servicePrincipals/{id}
pub(crate) async fn get_service_principal(
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_APPS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.servicePrincipal")?;
    let tenant = ctx.sim.lock_tenant();
    let sp = tenant
        .service_principal(&id)
        .ok_or_else(|| directory_not_found(&id))?;
    Ok(ctx.entity("servicePrincipals/$entity", sp.clone()))
}

/// PATCH /servicePrincipals/{id} (e.g. `{"accountEnabled": false}`)
pub(crate) async fn patch_service_principal(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    ctx.require(&WRITE_APPS)?;
    let body = super::patch_body(&body, "microsoft.graph.servicePrincipal")?;
    for (name, value) in &body {
        match name.as_str() {
            "accountEnabled" if !value.is_boolean() => {
                return Err(bad_body(
                    "Invalid value for property 'accountEnabled': a boolean is expected.",
                ))
            }
            "id" | "appId" => {
                return Err(bad_body(format!(
                    "Property '{name}' is read-only and cannot be set."
                )))
            }
            _ => {}
        }
    }
    let mut tenant = ctx.sim.lock_tenant();
    let sp = tenant
        .service_principal_mut(&id)
        .ok_or_else(|| directory_not_found(&id))?;
    if let Value::Object(map) = sp {
        for (k, v) in &body {
            map.insert(k.clone(), v.clone());
        }
    }
    let name = str_of(sp, "displayName").unwrap_or_default().to_owned();
    ctx.record(
        &mut tenant,
        StatusCode::NO_CONTENT,
        json!({"target": name, "targetId": id, "change": Value::Object(body.clone())}),
    );
    let now = ctx.now;
    let audit_id = tenant.new_guid("audit");
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(now), "activityDisplayName": "Update service principal",
        "category": "ApplicationManagement", "operationType": "Update",
        "initiatedBy": {"app": {"appId": ctx.claims.appid, "displayName": null, "servicePrincipalId": null, "servicePrincipalName": null}},
        "targetResources": [{"id": id, "displayName": name, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": []}],
    }));
    Ok(no_content())
}

/// GET /servicePrincipals/{id}/appRoleAssignments (roles granted to this SP)
pub(crate) async fn sp_app_role_assignments(
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    assignments(ctx, id, "principalId", "appRoleAssignments").await
}

/// GET /servicePrincipals/{id}/appRoleAssignedTo (who was assigned this SP's roles)
pub(crate) async fn sp_app_role_assigned_to(
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    assignments(ctx, id, "resourceId", "appRoleAssignedTo").await
}

async fn assignments(
    ctx: Ctx,
    id: String,
    key: &str,
    segment: &str,
) -> Result<Response, GraphError> {
    ctx.require(&READ_APPS)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.appRoleAssignment")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    tenant
        .service_principal(&id)
        .ok_or_else(|| directory_not_found(&id))?;
    let items: Vec<Value> = tenant
        .app_role_assignments
        .iter()
        .filter(|a| str_of(a, key) == Some(id.as_str()))
        .cloned()
        .collect();
    ctx.collection(
        &format!("servicePrincipals('{id}')/{segment}"),
        items,
        page_size,
        false,
    )
}
