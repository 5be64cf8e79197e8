//! Authentication methods: the polymorphic `/methods` list and each typed collection (list, get,
//! delete), plus creating a Temporary Access Pass for recovery.

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::roles::Write;
use super::{directory_not_found, json_body, no_content, Ctx};
use chrono::{DateTime, Utc};

use crate::clock::{graph_time, parse_time};
use crate::replication::METHODS;
use crate::scenario::TapPolicy;
use crate::server::GraphError;
use crate::tenant::{str_of, Tenant, UserRecord};

/// One typed method collection.
struct Kind {
    segment: &'static str,
    odata_type: &'static str,
    read: &'static [&'static str],
    write: &'static [&'static str],
    beta_only: bool,
    deletable: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        segment: "phoneMethods",
        odata_type: "#microsoft.graph.phoneAuthenticationMethod",
        read: &["UserAuthMethod-Phone.Read.All"],
        write: &["UserAuthMethod-Phone.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "microsoftAuthenticatorMethods",
        odata_type: "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
        read: &["UserAuthMethod-MicrosoftAuthApp.Read.All"],
        write: &["UserAuthMethod-MicrosoftAuthApp.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "fido2Methods",
        odata_type: "#microsoft.graph.fido2AuthenticationMethod",
        read: &["UserAuthMethod-Passkey.Read.All"],
        write: &["UserAuthMethod-Passkey.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "softwareOathMethods",
        odata_type: "#microsoft.graph.softwareOathAuthenticationMethod",
        read: &["UserAuthMethod-SoftwareOATH.Read.All"],
        write: &["UserAuthMethod-SoftwareOATH.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "temporaryAccessPassMethods",
        odata_type: "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        read: &["UserAuthMethod-TAP.Read.All"],
        write: &["UserAuthMethod-TAP.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "emailMethods",
        odata_type: "#microsoft.graph.emailAuthenticationMethod",
        read: &["UserAuthMethod-Email.Read.All"],
        write: &["UserAuthMethod-Email.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "windowsHelloForBusinessMethods",
        odata_type: "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
        read: &["UserAuthMethod-WindowsHello.Read.All"],
        write: &["UserAuthMethod-WindowsHello.ReadWrite.All"],
        beta_only: false,
        deletable: true,
    },
    Kind {
        segment: "passwordMethods",
        odata_type: "#microsoft.graph.passwordAuthenticationMethod",
        read: &["UserAuthMethod-Password.Read.All"],
        write: &["UserAuthMethod-Password.ReadWrite.All"],
        beta_only: false,
        deletable: false,
    },
    Kind {
        segment: "platformCredentialMethods",
        odata_type: "#microsoft.graph.platformCredentialAuthenticationMethod",
        read: &["UserAuthMethod-PlatformCred.Read.All"],
        write: &["UserAuthMethod-PlatformCred.ReadWrite.All"],
        beta_only: true,
        deletable: true,
    },
];

const READ_ROLES: &[&str] = &[
    "Global Reader",
    "Authentication Administrator",
    "Privileged Authentication Administrator",
];
const WRITE_ROLES: &[&str] = &[
    "Authentication Administrator",
    "Privileged Authentication Administrator",
];

fn read_perm(kind: Option<&Kind>) -> Vec<&'static str> {
    let mut accepted = vec!["UserAuthenticationMethod.Read.All"];
    if let Some(kind) = kind {
        accepted.extend_from_slice(kind.read);
    }
    accepted
}

fn check(ctx: &Ctx, accepted: &[&str], roles: &[&str]) -> Result<(), GraphError> {
    ctx.require_any(accepted, roles)
}

/// Refuses a delegated admin whose role may not change this account's methods (an
/// Authentication Administrator cannot touch an administrator's; spec/graph-behaviour.md,
/// "Roles for writes"). An unknown user is left to the caller's own 404.
fn may_change_methods(ctx: &Ctx, tenant: &Tenant, user: &str) -> Result<(), GraphError> {
    match tenant.user(user) {
        Some(target) if !super::roles::may(&ctx.claims, tenant, Write::Methods, target) => {
            Err(super::denied())
        }
        _ => Ok(()),
    }
}

/// Resolves `{kind}`: `None` = the polymorphic `methods` collection.
fn kind_of(ctx: &Ctx, segment: &str) -> Result<Option<&'static Kind>, GraphError> {
    if segment == "methods" {
        return Ok(None);
    }
    let kind = KINDS.iter().find(|k| k.segment == segment).ok_or_else(|| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    })?;
    if kind.beta_only {
        ctx.beta_only(segment)?;
    }
    Ok(Some(kind))
}

/// The user's methods as a Graph read at `now` answers them: the list from before a recent
/// write while it has not replicated (spec/graph-behaviour.md, "Read-after-write consistency").
fn answered_methods<'a>(
    tenant: &'a Tenant,
    record: &'a UserRecord,
    now: DateTime<Utc>,
) -> &'a [Value] {
    tenant
        .replication
        .answered(record.id(), METHODS, now)
        .and_then(Value::as_array)
        .map_or(&record.methods[..], Vec::as_slice)
}

/// Why Entra refuses to delete `method` of `record` now, if it does: the default method while
/// other methods remain, and a mobile phone while an alternate mobile exists
/// (spec/graph-behaviour.md, "Method deletion order").
fn deletion_refused(record: &UserRecord, method: &Value) -> Option<GraphError> {
    let id = str_of(method, "id").unwrap_or_default();
    let is_default = record
        .default_method
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(id));
    let others = record.methods.iter().any(|m| {
        str_of(m, "id").is_some_and(|other| !other.eq_ignore_ascii_case(id))
            && str_of(m, "@odata.type") != Some(PASSWORD_TYPE)
    });
    if is_default && others {
        return Some(GraphError::new(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Cannot delete default method with other methods configured. Please change default method before deletion.",
        ));
    }
    let phone_of = |m: &Value, t: &str| {
        str_of(m, "@odata.type") == Some(PHONE_TYPE) && str_of(m, "phoneType") == Some(t)
    };
    if phone_of(method, "mobile")
        && record
            .methods
            .iter()
            .any(|m| phone_of(m, "alternateMobile"))
    {
        return Some(GraphError::new(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "A user can't have an alternateMobile phone without a mobile phone. Delete the alternateMobile phone first, or update the mobile number instead.",
        ));
    }
    None
}

const PASSWORD_TYPE: &str = "#microsoft.graph.passwordAuthenticationMethod";
const PHONE_TYPE: &str = "#microsoft.graph.phoneAuthenticationMethod";

fn render(method: &Value, typed: bool) -> Value {
    let mut method = method.clone();
    if typed {
        if let Value::Object(map) = &mut method {
            map.remove("@odata.type");
        }
    }
    method
}

/// GET /users/{id}/authentication/{kind}
pub(crate) async fn list(
    ctx: Ctx,
    Path((user, segment)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let kind = kind_of(&ctx, &segment)?;
    check(&ctx, &read_perm(kind), READ_ROLES)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe(kind.map_or("microsoft.graph.authenticationMethod", |k| {
        k.odata_type.trim_start_matches('#')
    }))?;
    let tenant = ctx.sim.lock_tenant();
    let record = tenant
        .user(&user)
        .ok_or_else(|| directory_not_found(&user))?;
    let items: Vec<Value> = answered_methods(&tenant, record, ctx.now)
        .iter()
        .filter(|m| kind.is_none_or(|k| str_of(m, "@odata.type") == Some(k.odata_type)))
        .map(|m| render(m, kind.is_some()))
        .collect();
    let context = format!("users('{}')/authentication/{segment}", record.id());
    ctx.collection(&context, items, usize::MAX, false)
}

/// GET /users/{id}/authentication/{kind}/{method-id}
pub(crate) async fn get_method(
    ctx: Ctx,
    Path((user, segment, id)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    let kind = kind_of(&ctx, &segment)?;
    check(&ctx, &read_perm(kind), READ_ROLES)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe(kind.map_or("microsoft.graph.authenticationMethod", |k| {
        k.odata_type.trim_start_matches('#')
    }))?;
    let tenant = ctx.sim.lock_tenant();
    let record = tenant
        .user(&user)
        .ok_or_else(|| directory_not_found(&user))?;
    let method = answered_methods(&tenant, record, ctx.now)
        .iter()
        .find(|m| {
            str_of(m, "id").is_some_and(|mid| mid.eq_ignore_ascii_case(&id))
                && kind.is_none_or(|k| str_of(m, "@odata.type") == Some(k.odata_type))
        })
        .ok_or_else(|| directory_not_found(&id))?;
    let context = format!("users('{}')/authentication/{segment}/$entity", record.id());
    Ok(ctx.entity(&context, render(method, kind.is_some())))
}

/// DELETE /users/{id}/authentication/{kind}/{method-id}
pub(crate) async fn delete_method(
    ctx: Ctx,
    Path((user, segment, id)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    let Some(kind) = kind_of(&ctx, &segment)? else {
        return Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ));
    };
    if !kind.deletable {
        return Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ));
    }
    let mut accepted = vec!["UserAuthenticationMethod.ReadWrite.All"];
    accepted.extend_from_slice(kind.write);
    check(&ctx, &accepted, WRITE_ROLES)?;
    let mut tenant = ctx.sim.lock_tenant();
    may_change_methods(&ctx, &tenant, &user)?;
    let now = ctx.now;
    let record = tenant
        .user_mut(&user)
        .ok_or_else(|| directory_not_found(&user))?;
    let position = record
        .methods
        .iter()
        .position(|m| {
            str_of(m, "id").is_some_and(|mid| mid.eq_ignore_ascii_case(&id))
                && str_of(m, "@odata.type") == Some(kind.odata_type)
        })
        .ok_or_else(|| directory_not_found(&id))?;
    if let Some(refusal) = deletion_refused(record, &record.methods[position]) {
        let upn = record.upn().to_owned();
        ctx.record(
            &mut tenant,
            StatusCode::BAD_REQUEST,
            json!({"target": upn, "change": "refused: authentication method deletion", "methodId": id}),
        );
        return Err(refusal);
    }
    let before = Value::Array(record.methods.clone());
    let removed = record.methods.remove(position);
    if record
        .default_method
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(&id))
    {
        record.default_method = None;
    }
    let user_id = record.id().to_owned();
    let upn = record.upn().to_owned();
    tenant.replication.wrote(&user_id, METHODS, before, now);
    ctx.record(&mut tenant, StatusCode::NO_CONTENT, json!({"target": upn, "targetId": user_id, "change": "removed authentication method", "removed": removed}));
    let audit_id = tenant.new_guid("audit");
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(now), "activityDisplayName": "Admin deleted security info",
        "category": "UserManagement", "loggedByService": "Authentication Methods", "operationType": "Delete",
        "initiatedBy": {"app": {"appId": ctx.claims.appid, "displayName": null, "servicePrincipalId": null, "servicePrincipalName": null}},
        "targetResources": [{"id": user_id, "displayName": null, "type": "User", "userPrincipalName": upn, "modifiedProperties": []}],
    }));
    Ok(no_content())
}

/// Whether the Temporary Access Pass policy lets a user with these group memberships hold a pass:
/// the method is enabled, the user is in an included group (or all users are) and in no excluded
/// group (spec/graph-behaviour.md, "Temporary Access Pass policy").
fn tap_allowed(policy: &TapPolicy, member_of: &[String]) -> bool {
    let member = |group: &String| member_of.iter().any(|m| m.eq_ignore_ascii_case(group));
    policy.state == "enabled"
        && policy
            .include_groups
            .iter()
            .any(|g| g == "all_users" || member(g))
        && !policy.exclude_groups.iter().any(member)
}

/// POST /users/{id}/authentication/temporaryAccessPassMethods
pub(crate) async fn create(
    ctx: Ctx,
    Path((user, segment)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    if segment != "temporaryAccessPassMethods" {
        kind_of(&ctx, &segment)?;
        return Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        ));
    }
    check(
        &ctx,
        &[
            "UserAuthMethod-TAP.ReadWrite.All",
            "UserAuthenticationMethod.ReadWrite.All",
        ],
        WRITE_ROLES,
    )?;
    let body = json_body(&body)?;
    let policy = ctx.sim.lock_tenant().info.temporary_access_pass.clone();
    let lifetime = match body.get("lifetimeInMinutes") {
        None | Some(Value::Null) => policy.default_lifetime_in_minutes,
        Some(v) => v
            .as_i64()
            .filter(|n| {
                (policy.minimum_lifetime_in_minutes..=policy.maximum_lifetime_in_minutes)
                    .contains(n)
            })
            .ok_or_else(|| {
                GraphError::new(
                    StatusCode::BAD_REQUEST,
                    "badRequest",
                    format!(
                        "Invalid LifetimeInMinutes specified. The valid range between {} and {}.",
                        policy.minimum_lifetime_in_minutes, policy.maximum_lifetime_in_minutes
                    ),
                )
            })?,
    };
    // A policy restricting passes to one use makes every pass one-time.
    let once = policy.is_usable_once
        || body
            .get("isUsableOnce")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let now = ctx.now;
    let start = match body.get("startDateTime").and_then(Value::as_str) {
        Some(text) => parse_time(text).ok_or_else(|| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "badRequest",
                "startDateTime is not a valid date-time.",
            )
        })?,
        None => now,
    };
    let mut tenant = ctx.sim.lock_tenant();
    may_change_methods(&ctx, &tenant, &user)?;
    let id = tenant.new_guid("tap");
    let record = tenant
        .user_mut(&user)
        .ok_or_else(|| directory_not_found(&user))?;
    if !tap_allowed(&policy, &record.member_of) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].",
        ));
    }
    if record.methods.iter().any(|m| {
        str_of(m, "@odata.type") == Some("#microsoft.graph.temporaryAccessPassAuthenticationMethod")
    }) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "The user already has a Temporary Access Pass; delete it before creating another.",
        ));
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789@#$%";
    let mut rng = rand::thread_rng();
    let pass: String = (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    let mut stored = Map::new();
    stored.insert(
        "@odata.type".to_owned(),
        json!("#microsoft.graph.temporaryAccessPassAuthenticationMethod"),
    );
    stored.insert("id".to_owned(), json!(id));
    stored.insert("createdDateTime".to_owned(), json!(graph_time(now)));
    stored.insert("startDateTime".to_owned(), json!(graph_time(start)));
    stored.insert("lifetimeInMinutes".to_owned(), json!(lifetime));
    stored.insert("isUsableOnce".to_owned(), json!(once));
    stored.insert("isUsable".to_owned(), json!(true));
    stored.insert("methodUsabilityReason".to_owned(), json!("EnabledByPolicy"));
    // Only the creation response shows the pass; later reads return null, as in Entra.
    stored.insert("temporaryAccessPass".to_owned(), Value::Null);
    let before = Value::Array(record.methods.clone());
    record.methods.push(Value::Object(stored.clone()));
    let user_id = record.id().to_owned();
    let upn = record.upn().to_owned();
    tenant.replication.wrote(&user_id, METHODS, before, now);
    ctx.record(&mut tenant, StatusCode::CREATED, json!({"target": upn, "targetId": user_id, "change": "created Temporary Access Pass", "methodId": id, "temporaryAccessPass": "[redacted]"}));
    stored.insert("temporaryAccessPass".to_owned(), json!(pass));
    stored.remove("@odata.type");
    let mut body = Map::new();
    body.insert(
        "@odata.context".to_owned(),
        json!(ctx.context(&format!(
            "users('{user_id}')/authentication/temporaryAccessPassMethods/$entity"
        ))),
    );
    body.extend(stored);
    let mut response = (StatusCode::CREATED, Json(Value::Object(body))).into_response();
    let location = format!(
        "{}/users/{user_id}/authentication/temporaryAccessPassMethods/{id}",
        ctx.base()
    );
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert("location", value);
    }
    Ok(response)
}
