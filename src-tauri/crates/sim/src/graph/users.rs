//! Users: list, get, `/me`, update (accountEnabled, passwordProfile), revokeSignInSessions, and the
//! relationships the procedures read (memberOf, ownedObjects, appRoleAssignments, grants).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::roles::{self, Write};
use super::{bad_body, directory_not_found, no_content, Ctx, Perm};
use crate::clock::graph_time;
use crate::odata::{FilterSpec, ENDS, EQ, NE, RANGE, STARTS};
use crate::server::GraphError;
use crate::tenant::{str_of, Tenant, UserRecord};

const READ_USERS: Perm = Perm {
    app: &["User.Read.All", "User.ReadBasic.All", "Directory.Read.All"],
    delegated: &["User.Read.All", "User.ReadBasic.All", "Directory.Read.All"],
    roles: &[],
};
const ENABLE_DISABLE: Perm = Perm {
    app: &[
        "User.EnableDisableAccount.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User.EnableDisableAccount.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    // Helpdesk Administrator may reset passwords but not block sign-in (spec/graph-behaviour.md,
    // "Roles for writes").
    roles: &[
        "User Administrator",
        "Authentication Administrator",
        "Privileged Authentication Administrator",
    ],
};
const PASSWORD_PROFILE: Perm = Perm {
    app: &[
        "User-PasswordProfile.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User-PasswordProfile.ReadWrite.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
        "Directory.AccessAsUser.All",
    ],
    roles: &[
        "Password Administrator",
        "User Administrator",
        "Helpdesk Administrator",
        "Authentication Administrator",
        "Privileged Authentication Administrator",
    ],
};
const OTHER_PROPERTIES: Perm = Perm {
    app: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
    delegated: &["User.ReadWrite.All", "Directory.ReadWrite.All"],
    roles: &["User Administrator"],
};
const REVOKE: Perm = Perm {
    app: &[
        "User.RevokeSessions.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    delegated: &[
        "User.RevokeSessions.All",
        "User.ReadWrite.All",
        "Directory.ReadWrite.All",
    ],
    roles: &[
        "User Administrator",
        "Helpdesk Administrator",
        "Authentication Administrator",
        "Privileged Authentication Administrator",
    ],
};
const READ_DIRECTORY: Perm = Perm {
    app: &[
        "Directory.Read.All",
        "GroupMember.Read.All",
        "Group.Read.All",
    ],
    delegated: &[
        "Directory.Read.All",
        "GroupMember.Read.All",
        "Group.Read.All",
    ],
    roles: &[],
};
const OWNED_OBJECTS: Perm = Perm {
    app: &["User.Read.All", "Directory.Read.All"],
    delegated: &["User.Read.All", "Directory.Read.All"],
    roles: &[],
};
const USER_APP_ROLES: Perm = Perm {
    app: &["Directory.Read.All", "AppRoleAssignment.ReadWrite.All"],
    delegated: &["Directory.Read.All", "AppRoleAssignment.ReadWrite.All"],
    roles: &[],
};
/// RoleManagement.ReadWrite.Directory is the only permission Microsoft lists for removing a role
/// member; a delegated admin needs Privileged Role Administrator (or Global Administrator).
const MANAGE_ROLE_MEMBERS: Perm = Perm {
    app: &["RoleManagement.ReadWrite.Directory"],
    delegated: &["RoleManagement.ReadWrite.Directory"],
    roles: &["Privileged Role Administrator"],
};
pub(super) const READ_GRANTS: Perm = Perm {
    app: &[
        "Directory.Read.All",
        "DelegatedPermissionGrant.Read.All",
        "DelegatedPermissionGrant.ReadWrite.All",
    ],
    delegated: &[
        "Directory.Read.All",
        "DelegatedPermissionGrant.Read.All",
        "DelegatedPermissionGrant.ReadWrite.All",
    ],
    roles: &[],
};

const USER_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.user",
    props: &[
        ("id", EQ | NE),
        ("userPrincipalName", EQ | NE | STARTS | ENDS),
        ("displayName", EQ | NE | STARTS | ENDS),
        ("mail", EQ | NE | STARTS | ENDS),
        ("accountEnabled", EQ | NE),
        ("userType", EQ | NE),
        ("department", EQ | NE | STARTS),
        ("jobTitle", EQ | NE | STARTS),
        ("onPremisesSyncEnabled", EQ | NE),
        ("createdDateTime", RANGE),
    ],
    lambdas: &[
        ("proxyAddresses", &[("", EQ | STARTS)]),
        ("otherMails", &[("", EQ | STARTS)]),
    ],
    advanced: true,
};

/// Properties GET /users returns without `$select`.
const DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties User.ReadBasic.All may read.
const BASIC_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
    "photo",
];

fn render_user(ctx: &Ctx, tenant: &Tenant, user: &UserRecord) -> Result<Value, GraphError> {
    let basic_only = !ctx.has(&["User.Read.All", "Directory.Read.All"]);
    let wanted: Vec<String> = match ctx.selected() {
        Some(select) => select.to_vec(),
        None => DEFAULT_PROPERTIES.iter().map(|p| (*p).to_owned()).collect(),
    };
    let mut out = serde_json::Map::new();
    for name in &wanted {
        if basic_only
            && !BASIC_PROPERTIES
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
        {
            continue;
        }
        if name.eq_ignore_ascii_case("signInActivity") {
            if !ctx.has(&["AuditLog.Read.All"]) {
                return Err(super::denied());
            }
            if !tenant.info.licences.entra_id_p1 {
                return Err(super::logs::no_premium());
            }
            out.insert(
                "signInActivity".to_owned(),
                sign_in_activity(tenant, user.id()),
            );
            continue;
        }
        // Graph answers every selected (or default) property, `null` when the user has no value;
        // a property written moments ago may still answer its previous value.
        let value = match tenant.replication.answered(user.id(), name, ctx.now) {
            Some(previous) => previous.clone(),
            None => user
                .user
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map_or(Value::Null, |(_, v)| v.clone()),
        };
        out.insert(name.clone(), value);
    }
    out.insert("id".to_owned(), json!(user.id()));
    Ok(Value::Object(out))
}

fn sign_in_activity(tenant: &Tenant, user_id: &str) -> Value {
    let mine = |interactive: bool| {
        tenant.sign_ins.iter().find(|s| {
            str_of(s, "userId") == Some(user_id)
                && s.get("isInteractive").and_then(Value::as_bool) == Some(interactive)
        })
    };
    let field =
        |s: Option<&Value>, key: &str| s.and_then(|s| s.get(key)).cloned().unwrap_or(Value::Null);
    let last = mine(true);
    let last_non = mine(false);
    json!({
        "lastSignInDateTime": field(last, "createdDateTime"),
        "lastSignInRequestId": field(last, "id"),
        "lastNonInteractiveSignInDateTime": field(last_non, "createdDateTime"),
        "lastNonInteractiveSignInRequestId": field(last_non, "id"),
        "lastSuccessfulSignInDateTime": field(last, "createdDateTime"),
        "lastSuccessfulSignInRequestId": field(last, "id"),
    })
}

/// GET /users
pub(crate) async fn list(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ_USERS)?;
    ctx.refuse_options(&["select", "top", "filter", "count", "orderby", "search"])?;
    ctx.describe("microsoft.graph.user")?;
    if ctx.query.count && !ctx.consistency_eventual {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported without the header 'ConsistencyLevel: eventual'.",
        ));
    }
    if ctx.query.search.is_some() && !ctx.consistency_eventual {
        return Err(GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"));
    }
    ctx.check_filter(&USER_FILTER, "Request_UnsupportedQuery")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let mut users: Vec<&UserRecord> = tenant
        .users
        .iter()
        .filter(|u| {
            ctx.query
                .filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, &Value::Object(u.user.clone())))
        })
        .filter(|u| {
            ctx.query
                .search
                .as_deref()
                .is_none_or(|s| search_matches(s, u))
        })
        .collect();
    if let Some((prop, desc)) = &ctx.query.orderby {
        if !["displayName", "userPrincipalName"]
            .iter()
            .any(|p| p.eq_ignore_ascii_case(prop))
        {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "Request_UnsupportedQuery",
                format!("Sorting by '{prop}' is not supported."),
            ));
        }
        if ctx.query.filter.is_some() && !ctx.advanced_query() {
            return Err(GraphError::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", "Sorting together with $filter needs the ConsistencyLevel: eventual header and $count=true."));
        }
        let key = |u: &&UserRecord| {
            u.user
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(prop))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_lowercase()
        };
        users.sort_by_key(key);
        if *desc {
            users.reverse();
        }
    }
    let rendered = users
        .into_iter()
        .map(|u| render_user(&ctx, &tenant, u))
        .collect::<Result<Vec<_>, _>>()?;
    let context = ctx
        .query
        .select
        .as_ref()
        .map(|s| format!("users({})", s.join(",")))
        .unwrap_or_else(|| "users".to_owned());
    // render_user already applied $select; do not project twice.
    let mut page_ctx_items = rendered;
    let offset = ctx.offset()?;
    let total = page_ctx_items.len();
    let page: Vec<Value> = page_ctx_items
        .drain(..)
        .skip(offset)
        .take(page_size)
        .collect();
    let next =
        (offset + page_size < total).then(|| ctx.next_link(((offset + page_size) as u64, 0)));
    Ok(ctx.collection_body(
        &context,
        page,
        next,
        (ctx.query.count && ctx.consistency_eventual).then_some(total),
    ))
}

fn search_matches(search: &str, user: &UserRecord) -> bool {
    search
        .split(" AND ")
        .chain(search.split(" OR "))
        .any(|clause| {
            let clause = clause.trim().trim_matches('"');
            let Some((prop, value)) = clause.split_once(':') else {
                return false;
            };
            user.user
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(prop))
                .and_then(|(_, v)| v.as_str())
                .is_some_and(|v| v.to_lowercase().contains(&value.to_lowercase()))
        })
}

fn find_user<'a>(tenant: &'a Tenant, key: &str) -> Result<&'a UserRecord, GraphError> {
    tenant.user(key).ok_or_else(|| directory_not_found(key))
}

/// GET /users/{id}
pub(crate) async fn get_user(ctx: Ctx, Path(key): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_USERS)?;
    ctx.refuse_options(&["select", "expand"])?;
    ctx.describe("microsoft.graph.user")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &key)?;
    let body = render_user(&ctx, &tenant, user)?;
    let context = ctx
        .query
        .select
        .as_ref()
        .map(|s| format!("users({})/$entity", s.join(",")))
        .unwrap_or_else(|| "users/$entity".to_owned());
    let mut out = serde_json::Map::new();
    out.insert("@odata.context".to_owned(), json!(ctx.context(&context)));
    if let Value::Object(map) = body {
        out.extend(map);
    }
    Ok(Json(Value::Object(out)).into_response())
}

/// GET /me (delegated tokens only)
pub(crate) async fn me(ctx: Ctx) -> Result<Response, GraphError> {
    if ctx.claims.is_app_only() {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let delegated_self = [
        "User.Read",
        "User.ReadBasic.All",
        "User.Read.All",
        "Directory.Read.All",
    ];
    if !ctx.has(&delegated_self) {
        return Err(super::denied());
    }
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.user")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &ctx.claims.oid)?;
    let body = render_user(&ctx, &tenant, user)?;
    let mut out = serde_json::Map::new();
    out.insert(
        "@odata.context".to_owned(),
        json!(ctx.context("users/$entity")),
    );
    if let Value::Object(map) = body {
        out.extend(map);
    }
    Ok(Json(Value::Object(out)).into_response())
}

/// PATCH /users/{id}
pub(crate) async fn patch_user(
    ctx: Ctx,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = super::patch_body(&body, "microsoft.graph.user")?;
    for (name, value) in &body {
        match name.as_str() {
            "accountEnabled" => {
                ctx.require(&ENABLE_DISABLE)?;
                if !value.is_boolean() {
                    return Err(bad_body(
                        "Invalid value for property 'accountEnabled': a boolean is expected.",
                    ));
                }
            }
            "passwordProfile" => {
                ctx.require(&PASSWORD_PROFILE)?;
                let password = value
                    .get("password")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if password.chars().count() < 8 || password.chars().count() > 256 {
                    return Err(GraphError::new(StatusCode::BAD_REQUEST, "Request_BadRequest", "The specified password does not comply with password complexity requirements. Please provide a different password."));
                }
                for flag in [
                    "forceChangePasswordNextSignIn",
                    "forceChangePasswordNextSignInWithMfa",
                ] {
                    if value.get(flag).is_some_and(|v| !v.is_boolean()) {
                        return Err(bad_body(format!(
                            "Invalid value for property '{flag}': a boolean is expected."
                        )));
                    }
                }
            }
            "id" | "userPrincipalName" | "createdDateTime" => {
                return Err(bad_body(format!(
                    "Property '{name}' is read-only and cannot be set."
                )));
            }
            _ => ctx.require(&OTHER_PROPERTIES)?,
        }
    }
    let mut tenant = ctx.sim.lock_tenant();
    let target = find_user(&tenant, &key)?.clone();
    if body.contains_key("passwordProfile") {
        if let Some(refusal) = crate::hybrid::refuse_cloud_password(&tenant, &target) {
            return Err(refusal);
        }
    }
    let refused = [
        ("passwordProfile", Write::Password),
        ("accountEnabled", Write::AccountEnabled),
    ]
    .into_iter()
    .any(|(name, write)| {
        body.contains_key(name) && !roles::may(&ctx.claims, &tenant, write, &target)
    });
    if refused {
        ctx.record(
            &mut tenant,
            StatusCode::FORBIDDEN,
            json!({"target": target.upn(), "change": "refused: the caller holds no directory role that may change this account"}),
        );
        return Err(super::denied());
    }
    let now = ctx.now;
    let mut summary = serde_json::Map::new();
    remember_previous(&mut tenant, &target, &body, now);
    let user = tenant
        .user_mut(&key)
        .ok_or_else(|| directory_not_found(&key))?;
    for (name, value) in &body {
        match name.as_str() {
            "accountEnabled" => {
                user.user.insert("accountEnabled".to_owned(), value.clone());
                summary.insert("accountEnabled".to_owned(), value.clone());
            }
            "passwordProfile" => {
                user.user.insert(
                    "lastPasswordChangeDateTime".to_owned(),
                    json!(graph_time(now)),
                );
                // A password change ends the user's refresh tokens, as in Entra.
                user.user.insert(
                    "signInSessionsValidFromDateTime".to_owned(),
                    json!(graph_time(now)),
                );
                let force = value
                    .get("forceChangePasswordNextSignIn")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                summary.insert(
                    "passwordReset".to_owned(),
                    json!({"password": "[redacted]", "forceChangePasswordNextSignIn": force}),
                );
            }
            other => {
                user.user.insert(other.to_owned(), value.clone());
                summary.insert(other.to_owned(), value.clone());
            }
        }
    }
    let target_id = user.id().to_owned();
    let target_upn = user.upn().to_owned();
    ctx.record(&mut tenant, StatusCode::NO_CONTENT, json!({"target": target_upn, "targetId": target_id, "change": Value::Object(summary.clone())}));
    if summary.contains_key("passwordReset") {
        if crate::hybrid::password_checked_on_premises(&tenant, &target_id) {
            crate::attacker::on_cloud_password_only(&mut tenant, &target_id, now);
        } else {
            crate::attacker::on_password_reset(&mut tenant, &target_id, now);
        }
    }
    if summary.get("accountEnabled") == Some(&json!(false)) {
        crate::attacker::on_disabled(&mut tenant, &target_id, now);
    }
    if summary.get("accountEnabled") == Some(&json!(true)) {
        crate::attacker::on_enabled(&mut tenant, &target_id, now);
    }
    let initiator = audit_initiator(&ctx, &tenant);
    let activity = if summary.contains_key("passwordReset") {
        "Reset user password"
    } else if summary.contains_key("accountEnabled") {
        "Disable account"
    } else {
        "Update user"
    };
    let audit_id = tenant.new_guid("audit");
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(now), "activityDisplayName": activity,
        "category": "UserManagement", "operationType": "Update", "initiatedBy": initiator,
        "targetResources": [{"id": target_id, "displayName": null, "type": "User", "userPrincipalName": target_upn, "modifiedProperties": []}],
    }));
    Ok(no_content())
}

/// The `initiatedBy` of a directory audit entry for a change the caller made: the app, or the
/// signed-in admin (from loopback, where the training tenant is served).
fn audit_initiator(ctx: &Ctx, tenant: &Tenant) -> Value {
    if ctx.claims.is_app_only() {
        json!({"app": {"appId": ctx.claims.appid, "displayName": tenant.app.display_name, "servicePrincipalId": ctx.claims.oid, "servicePrincipalName": null}})
    } else {
        json!({"user": {"id": ctx.claims.oid, "displayName": null, "userPrincipalName": ctx.claims.upn, "ipAddress": "127.0.0.1"}})
    }
}

const SESSIONS_VALID_FROM: &str = "signInSessionsValidFromDateTime";
const PASSWORD_CHANGED: &str = "lastPasswordChangeDateTime";

/// Notes the values a PATCH with `body` is about to change, for the replication lag: a password
/// change moves the password and sessions times, any other property itself.
fn remember_previous(
    tenant: &mut Tenant,
    target: &UserRecord,
    body: &serde_json::Map<String, Value>,
    now: chrono::DateTime<chrono::Utc>,
) {
    let mut properties: Vec<&str> = Vec::new();
    for name in body.keys() {
        if name == "passwordProfile" {
            properties.extend([PASSWORD_CHANGED, SESSIONS_VALID_FROM]);
        } else {
            properties.push(name);
        }
    }
    remember(tenant, target, &properties, now);
}

/// Notes the current value of each of `properties` of `target` before a write.
fn remember(
    tenant: &mut Tenant,
    target: &UserRecord,
    properties: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) {
    for property in properties {
        let previous = target.user.get(*property).cloned().unwrap_or(Value::Null);
        tenant
            .replication
            .wrote(target.id(), property, previous, now);
    }
}

/// POST /users/{id}/revokeSignInSessions (with or without the namespace)
pub(crate) async fn revoke_sessions(
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&REVOKE)?;
    let mut tenant = ctx.sim.lock_tenant();
    let target = find_user(&tenant, &key)?.clone();
    if !roles::may(&ctx.claims, &tenant, Write::Revoke, &target) {
        return Err(super::denied());
    }
    let now = ctx.now;
    remember(&mut tenant, &target, &[SESSIONS_VALID_FROM], now);
    if let Some(user) = tenant.user_mut(&key) {
        user.user.insert(
            "signInSessionsValidFromDateTime".to_owned(),
            json!(graph_time(now)),
        );
    }
    ctx.record(
        &mut tenant,
        StatusCode::OK,
        json!({"target": target.upn(), "targetId": target.id(), "change": "revokeSignInSessions"}),
    );
    crate::attacker::on_sessions_revoked(&mut tenant, target.id(), now);
    Ok(Json(json!({"@odata.context": ctx.context("Edm.Boolean"), "value": true})).into_response())
}

/// GET /users/{id}/memberOf
pub(crate) async fn member_of(ctx: Ctx, Path(key): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_DIRECTORY)?;
    ctx.refuse_options(&["select", "top", "count", "filter"])?;
    ctx.describe("microsoft.graph.directoryObject")?;
    if ctx.query.count && !ctx.consistency_eventual {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "$count is not currently supported without the header 'ConsistencyLevel: eventual'.",
        ));
    }
    let spec = FilterSpec {
        entity: "microsoft.graph.directoryObject",
        props: &[("displayName", EQ | STARTS), ("id", EQ)],
        lambdas: &[],
        advanced: true,
    };
    ctx.check_filter(&spec, "Request_UnsupportedQuery")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &key)?;
    let items: Vec<Value> = tenant
        .groups
        .iter()
        .chain(&tenant.directory_roles)
        .filter(|o| str_of(o, "id").is_some_and(|id| user.member_of.iter().any(|m| m == id)))
        .filter(|o| {
            ctx.query
                .filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, o))
        })
        .cloned()
        .collect();
    ctx.collection("directoryObjects", items, page_size, ctx.query.count)
}

/// DELETE /directoryRoles/{role}/members/{member}/$ref: takes a member out of a directory role
/// (spec/graph-behaviour.md, "Removing a directory role member"). The role is addressed by its
/// object id; a member that does not hold the role is a 404, as for any missing reference.
pub(crate) async fn remove_role_member(
    ctx: Ctx,
    Path((role, member)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    ctx.require(&MANAGE_ROLE_MEMBERS)?;
    let mut tenant = ctx.sim.lock_tenant();
    let role_object = tenant
        .directory_roles
        .iter()
        .find(|r| str_of(r, "id") == Some(role.as_str()))
        .cloned()
        .ok_or_else(|| directory_not_found(&role))?;
    let user = tenant
        .user_mut(&member)
        .ok_or_else(|| directory_not_found(&member))?;
    let held = user.member_of.len();
    user.member_of.retain(|m| m != &role);
    if user.member_of.len() == held {
        return Err(directory_not_found(&member));
    }
    let (user_id, upn) = (user.id().to_owned(), user.upn().to_owned());
    let now = ctx.now;
    ctx.record(
        &mut tenant,
        StatusCode::NO_CONTENT,
        json!({"change": "removed directory role member", "roleId": role, "member": upn}),
    );
    let initiator = audit_initiator(&ctx, &tenant);
    let quoted = |key: &str| {
        json!(format!(
            "\"{}\"",
            str_of(&role_object, key).unwrap_or_default()
        ))
    };
    let audit_id = tenant.new_guid("audit");
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(now), "activityDisplayName": "Remove member from role",
        "category": "RoleManagement", "operationType": "Unassign", "initiatedBy": initiator,
        "targetResources": [{"id": user_id, "displayName": null, "type": "User", "userPrincipalName": upn, "modifiedProperties": [
            {"displayName": "Role.ObjectID", "oldValue": quoted("id"), "newValue": null},
            {"displayName": "Role.DisplayName", "oldValue": quoted("displayName"), "newValue": null},
            {"displayName": "Role.TemplateId", "oldValue": quoted("roleTemplateId"), "newValue": null},
        ]}],
    }));
    Ok(no_content())
}

/// GET /users/{id}/ownedObjects
pub(crate) async fn owned_objects(
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&OWNED_OBJECTS)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.directoryObject")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &key)?;
    let items: Vec<Value> = tenant
        .service_principals
        .iter()
        .map(|sp| {
            let mut sp = sp.clone();
            if let Value::Object(map) = &mut sp {
                map.entry("@odata.type")
                    .or_insert(json!("#microsoft.graph.servicePrincipal"));
            }
            sp
        })
        .chain(tenant.groups.iter().cloned())
        // App registrations are owned apart from their service principals (the application
        // object and the enterprise app each have owners).
        .chain(tenant.applications.iter().map(|app| {
            let mut app = app.clone();
            if let Value::Object(map) = &mut app {
                map.entry("@odata.type")
                    .or_insert(json!("#microsoft.graph.application"));
            }
            app
        }))
        .filter(|o| str_of(o, "id").is_some_and(|id| user.owned_objects.iter().any(|m| m == id)))
        .collect();
    ctx.collection("directoryObjects", items, page_size, false)
}

/// GET /users/{id}/appRoleAssignments
pub(crate) async fn app_role_assignments(
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&USER_APP_ROLES)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.appRoleAssignment")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &key)?;
    let items: Vec<Value> = tenant
        .app_role_assignments
        .iter()
        .filter(|a| str_of(a, "principalId") == Some(user.id()))
        .cloned()
        .collect();
    ctx.collection(
        &format!("users('{}')/appRoleAssignments", user.id()),
        items,
        page_size,
        false,
    )
}

/// GET /users/{id}/oauth2PermissionGrants
pub(crate) async fn grants(ctx: Ctx, Path(key): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ_GRANTS)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.oAuth2PermissionGrant")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let user = find_user(&tenant, &key)?;
    let items: Vec<Value> = tenant
        .grants
        .iter()
        .filter(|g| str_of(g, "principalId") == Some(user.id()))
        .cloned()
        .collect();
    ctx.collection("oauth2PermissionGrants", items, page_size, false)
}
