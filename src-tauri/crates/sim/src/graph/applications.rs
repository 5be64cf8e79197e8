//! App registrations: list (with `$filter=appId eq '…'`), get, update (`keyCredentials`), the
//! `removePassword` and `removeKey` actions, and the `appId`-keyed lookups
//! `/servicePrincipals(appId='…')` and `/applications(appId='…')`.
//!
//! As on Graph, a certificate's `key` is returned only when one application is read with
//! `$select=keyCredentials`; a PATCH of `keyCredentials` replaces the whole collection (each entry
//! needs its `key`, so a caller must have read them first); `passwordCredentials` are changed only
//! through `addPassword`/`removePassword`; `removeKey` needs a proof of possession: a JWT signed
//! with the private key of one of the app's current certificates. Every change leaves the directory
//! audit entry Entra writes, "Update application – Certificates and secrets management", whose
//! `KeyDescription` lists every credential before and after.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::{bad_body, directory_not_found, json_body, no_content, Ctx, Perm};
use crate::clock::graph_time;
use crate::odata::{FilterSpec, EQ, STARTS};
use crate::scenario::is_guid;
use crate::server::GraphError;
use crate::tenant::{str_of, Tenant};
use crate::token::RegisteredCert;

const READ: Perm = Perm {
    app: &["Application.Read.All", "Directory.Read.All"],
    delegated: &["Application.Read.All", "Directory.Read.All"],
    roles: &[],
};
/// Writing an app registration: the tenant-wide permissions with an administrator role. An owner
/// of the app may also change it (delegated, no role needed): see [`require_write`].
const WRITE: Perm = Perm {
    app: &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
    delegated: &["Application.ReadWrite.All", "Directory.ReadWrite.All"],
    roles: &[
        "Application Administrator",
        "Cloud Application Administrator",
    ],
};

const APP_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.application",
    props: &[("appId", EQ), ("id", EQ), ("displayName", EQ | STARTS)],
    lambdas: &[],
    advanced: false,
};

/// The audit activity Entra writes when an app's secrets or certificates change.
pub(crate) const CREDENTIALS_ACTIVITY: &str =
    "Update application – Certificates and secrets management ";

/// The application as Graph shows it: certificate `key`s only when asked for with `$select`.
fn shown(ctx: &Ctx, app: &Value, single: bool) -> Value {
    let keys_selected = single
        && ctx
            .query
            .select
            .as_ref()
            .is_some_and(|s| s.iter().any(|p| p.eq_ignore_ascii_case("keyCredentials")));
    let mut app = app.clone();
    if !keys_selected {
        if let Some(Value::Array(keys)) = app.get_mut("keyCredentials") {
            for key in keys {
                if let Value::Object(map) = key {
                    map.insert("key".into(), Value::Null);
                }
            }
        }
    }
    app
}

fn find<'a>(tenant: &'a Tenant, id: &str) -> Result<&'a Value, GraphError> {
    tenant
        .application(id)
        .ok_or_else(|| directory_not_found(id))
}

/// Refuses a change unless the caller may write app registrations or (delegated) owns this one.
fn require_write(ctx: &Ctx, tenant: &Tenant, app_id: &str) -> Result<(), GraphError> {
    match ctx.require(&WRITE) {
        Ok(()) => Ok(()),
        Err(denied) => {
            let owner = !ctx.claims.is_app_only()
                && ctx.has(&["Application.ReadWrite.All", "Directory.ReadWrite.All"])
                && tenant.user(&ctx.claims.oid).is_some_and(|u| {
                    u.owned_objects
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case(app_id))
                });
            if owner {
                Ok(())
            } else {
                Err(denied)
            }
        }
    }
}

/// GET /applications
pub(crate) async fn list(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&READ)?;
    ctx.refuse_options(&["select", "top", "filter", "count"])?;
    ctx.describe("microsoft.graph.application")?;
    ctx.check_filter(&APP_FILTER, "Request_UnsupportedQuery")?;
    let page_size = ctx.page_size(100, 999, "Request_UnsupportedQuery")?;
    let tenant = ctx.sim.lock_tenant();
    let items: Vec<Value> = tenant
        .applications
        .iter()
        .filter(|a| {
            ctx.query
                .filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, a))
        })
        .map(|a| shown(&ctx, a, false))
        .collect();
    ctx.collection("applications", items, page_size, ctx.query.count)
}

/// GET /applications/{id}
pub(crate) async fn get(ctx: Ctx, Path(id): Path<String>) -> Result<Response, GraphError> {
    ctx.require(&READ)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.application")?;
    let tenant = ctx.sim.lock_tenant();
    let app = find(&tenant, &id)?;
    Ok(ctx.entity("applications/$entity", shown(&ctx, app, true)))
}

/// The key of an alternate-key segment: `servicePrincipals(appId='…')` → (`servicePrincipals`,
/// the app id with doubled quotes undone).
fn alternate_key(segment: &str) -> Option<(&str, String)> {
    let (set, rest) = segment.split_once('(')?;
    let inner = rest.strip_suffix(')')?;
    let (name, value) = inner.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("appId") {
        return None;
    }
    let value = value.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some((set, value.replace("''", "'")))
}

/// GET /{entitySet}(appId='…'): a service principal or an application by its client id. Every
/// other path no route serves ends here too and is answered as Graph answers an unknown segment.
pub(crate) async fn by_app_id_or_unknown(
    ctx: Result<Ctx, GraphError>,
    OriginalUri(uri): OriginalUri,
    Path(rest): Path<String>,
) -> Result<Response, GraphError> {
    let last = uri.path().rsplit('/').next().unwrap_or_default().to_owned();
    let not_a_resource = || {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Resource not found for the segment '{last}'."),
        )
    };
    let Some((set, app_id)) =
        alternate_key(&rest).filter(|(set, _)| ["servicePrincipals", "applications"].contains(set))
    else {
        return Err(not_a_resource());
    };
    let ctx = ctx?;
    ctx.require(&READ)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe(if set == "servicePrincipals" {
        "microsoft.graph.servicePrincipal"
    } else {
        "microsoft.graph.application"
    })?;
    let tenant = ctx.sim.lock_tenant();
    if set == "servicePrincipals" {
        let sp = tenant
            .service_principal_by_app_id(&app_id)
            .ok_or_else(|| directory_not_found(&app_id))?;
        return Ok(ctx.entity("servicePrincipals/$entity", sp.clone()));
    }
    let app = tenant
        .applications
        .iter()
        .find(|a| str_of(a, "appId").is_some_and(|x| x.eq_ignore_ascii_case(&app_id)))
        .ok_or_else(|| directory_not_found(&app_id))?;
    Ok(ctx.entity("applications/$entity", shown(&ctx, app, true)))
}

/// Every credential of an app as the audit log's `KeyDescription` lists them.
fn key_description(app: &Value) -> String {
    let mut entries = Vec::new();
    for (list, kind) in [
        ("passwordCredentials", None),
        ("keyCredentials", Some("type")),
    ] {
        for key in app
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key_type = match kind {
                None => "Password".to_owned(),
                Some(field) => str_of(key, field)
                    .unwrap_or("AsymmetricX509Cert")
                    .to_owned(),
            };
            entries.push(format!(
                "[KeyIdentifier={},KeyType={key_type},KeyUsage={},DisplayName={}]",
                str_of(key, "keyId").unwrap_or_default(),
                str_of(key, "usage").unwrap_or("Verify"),
                str_of(key, "displayName").unwrap_or_default()
            ));
        }
    }
    Value::from(entries).to_string()
}

/// Records a credential change: the action log and the directory audit entry Entra writes.
fn audit_credentials(ctx: &Ctx, tenant: &mut Tenant, app_id: &str, before: &str, detail: Value) {
    let (after, name) = match tenant.application(app_id) {
        Some(app) => (
            key_description(app),
            str_of(app, "displayName").unwrap_or_default().to_owned(),
        ),
        None => (String::from("[]"), String::new()),
    };
    ctx.record(tenant, StatusCode::NO_CONTENT, detail);
    let initiated_by = if ctx.claims.is_app_only() {
        json!({"app": {"appId": ctx.claims.appid, "displayName": null, "servicePrincipalId": null, "servicePrincipalName": null}})
    } else {
        json!({"user": {"id": ctx.claims.oid, "displayName": null, "userPrincipalName": ctx.claims.upn, "ipAddress": null}})
    };
    let audit_id = tenant.new_guid("audit");
    let correlation = tenant.new_guid("correlation");
    tenant.push_directory_audit(json!({
        "id": format!("Directory_{audit_id}"), "activityDateTime": graph_time(ctx.now),
        "activityDisplayName": CREDENTIALS_ACTIVITY, "category": "ApplicationManagement",
        "operationType": "Update", "correlationId": correlation, "initiatedBy": initiated_by,
        "targetResources": [{"id": app_id, "displayName": name, "type": "Application", "userPrincipalName": null,
            "modifiedProperties": [
                {"displayName": "KeyDescription", "oldValue": before, "newValue": after},
                {"displayName": "Included Updated Properties", "oldValue": null, "newValue": "\"KeyDescription\""}
            ]}],
    }));
}

fn guid_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, GraphError> {
    body.get(name)
        .and_then(Value::as_str)
        .filter(|v| is_guid(v))
        .ok_or_else(|| {
            bad_body(format!(
                "Invalid value for parameter '{name}': a GUID is expected."
            ))
        })
}

/// Checks one `keyCredential` of a PATCH body and gives it a `keyId` when it has none.
fn key_credential(tenant: &mut Tenant, value: &Value, index: usize) -> Result<Value, GraphError> {
    let Value::Object(map) = value else {
        return Err(bad_body(format!(
            "keyCredentials[{index}] must be a keyCredential object."
        )));
    };
    let mut key = Map::new();
    for (name, v) in map {
        if name.starts_with("@odata.") {
            continue; // SDKs send @odata.type; Graph accepts it and does not store it
        }
        let known = [
            "customKeyIdentifier",
            "displayName",
            "endDateTime",
            "key",
            "keyId",
            "startDateTime",
            "type",
            "usage",
        ];
        if !known.contains(&name.as_str()) {
            return Err(bad_body(format!(
                "Property '{name}' does not exist on type 'microsoft.graph.keyCredential'."
            )));
        }
        key.insert(name.clone(), v.clone());
    }
    let text = |n: &str| key.get(n).and_then(Value::as_str).unwrap_or_default();
    if !["AsymmetricX509Cert", "X509CertAndPassword"].contains(&text("type")) {
        return Err(bad_body(format!(
            "keyCredentials[{index}]: 'type' must be AsymmetricX509Cert."
        )));
    }
    if !["Verify", "Sign"].contains(&text("usage")) {
        return Err(bad_body(format!(
            "keyCredentials[{index}]: 'usage' must be Verify or Sign."
        )));
    }
    if text("key").is_empty() || STANDARD.decode(text("key")).is_err() {
        return Err(bad_body(format!(
            "keyCredentials[{index}]: 'key' must hold the certificate (base64). Read the application with $select=keyCredentials to get the keys to keep."
        )));
    }
    match key.get("keyId") {
        Some(Value::String(id)) if is_guid(id) => {}
        None | Some(Value::Null) => {
            let id = tenant.new_guid("key");
            key.insert("keyId".into(), json!(id));
        }
        Some(_) => {
            return Err(bad_body(format!(
                "keyCredentials[{index}]: 'keyId' must be a GUID."
            )))
        }
    }
    for field in [
        "customKeyIdentifier",
        "displayName",
        "endDateTime",
        "startDateTime",
    ] {
        key.entry(field).or_insert(Value::Null);
    }
    Ok(Value::Object(key))
}

/// PATCH /applications/{id}
pub(crate) async fn patch(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = json_body(&body)?;
    let mut tenant = ctx.sim.lock_tenant();
    find(&tenant, &id)?;
    require_write(&ctx, &tenant, &id)?;
    let mut changes = Map::new();
    for (name, value) in &body {
        match name.as_str() {
            n if n.starts_with("@odata.") => {}
            "id" | "appId" | "publisherDomain" | "createdDateTime" => {
                return Err(bad_body(format!(
                    "Property '{name}' is read-only and cannot be set."
                )))
            }
            "passwordCredentials" => {
                return Err(bad_body(
                    "Property 'passwordCredentials' cannot be updated: use the addPassword and removePassword actions.",
                ))
            }
            "keyCredentials" => {
                let Value::Array(list) = value else {
                    return Err(bad_body("'keyCredentials' must be a collection."));
                };
                let mut keys = Vec::new();
                for (i, k) in list.iter().enumerate() {
                    keys.push(key_credential(&mut tenant, k, i)?);
                }
                changes.insert(name.clone(), Value::Array(keys));
            }
            "displayName" | "description" | "notes" if value.is_string() || value.is_null() => {
                changes.insert(name.clone(), value.clone());
            }
            "tags" if value.is_array() => {
                changes.insert(name.clone(), value.clone());
            }
            "displayName" | "description" | "notes" | "tags" => {
                return Err(bad_body(format!("Invalid value for property '{name}'.")))
            }
            _ => {
                return Err(bad_body(format!(
                    "Property '{name}' does not exist on type 'microsoft.graph.application'."
                )))
            }
        }
    }
    if changes.is_empty() {
        return Err(bad_body(
            "The request body is empty: send the properties to update.",
        ));
    }
    let before = tenant
        .application(&id)
        .map(key_description)
        .unwrap_or_default();
    let keys_changed = changes.contains_key("keyCredentials");
    if let Some(Value::Object(app)) = tenant.application_mut(&id) {
        for (k, v) in &changes {
            app.insert(k.clone(), v.clone());
        }
    }
    let detail =
        json!({"targetId": id, "change": {"application": changes.keys().collect::<Vec<_>>()}});
    if keys_changed {
        audit_credentials(&ctx, &mut tenant, &id, &before, detail);
    } else {
        ctx.record(&mut tenant, StatusCode::NO_CONTENT, detail);
    }
    Ok(no_content())
}

/// POST /applications/{id}/removePassword `{"keyId": "…"}`
pub(crate) async fn remove_password(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = json_body(&body)?;
    let mut tenant = ctx.sim.lock_tenant();
    find(&tenant, &id)?;
    require_write(&ctx, &tenant, &id)?;
    let key_id = guid_field(&body, "keyId")?.to_owned();
    let before = tenant
        .application(&id)
        .map(key_description)
        .unwrap_or_default();
    let removed = remove_credential(&mut tenant, &id, "passwordCredentials", &key_id);
    let Some(removed) = removed else {
        return Err(bad_body(format!(
            "No password credential with keyId '{key_id}' exists on this application."
        )));
    };
    audit_credentials(
        &ctx,
        &mut tenant,
        &id,
        &before,
        json!({"targetId": id, "change": "removed password credential", "keyId": key_id, "displayName": removed.get("displayName")}),
    );
    Ok(no_content())
}

fn remove_credential(tenant: &mut Tenant, app: &str, list: &str, key_id: &str) -> Option<Value> {
    let keys = tenant.application_mut(app)?.get_mut(list)?.as_array_mut()?;
    let at = keys
        .iter()
        .position(|k| str_of(k, "keyId").is_some_and(|k| k.eq_ignore_ascii_case(key_id)))?;
    Some(keys.remove(at))
}

/// The audience of a proof of possession (the directory's own application id).
const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

/// Whether `proof` is a JWT (RS256 or PS256) signed with the private key of one of `app`'s
/// certificates, issued by the application (its object id) to the directory, not expired at `now`.
fn proof_holds(app: &Value, proof: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let parts: Vec<&str> = proof.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return false;
    };
    let decode = |part: &str| -> Option<Value> {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
    };
    let (Some(head), Some(claims), Ok(sig)) = (
        decode(header),
        decode(payload),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return false;
    };
    let alg = str_of(&head, "alg").unwrap_or_default();
    let live = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp >= now.timestamp())
        && str_of(&claims, "aud") == Some(PROOF_AUDIENCE)
        && str_of(&claims, "iss")
            .zip(str_of(app, "id"))
            .is_some_and(|(iss, id)| iss.eq_ignore_ascii_case(id));
    let message = format!("{header}.{payload}");
    live && app
        .get("keyCredentials")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| str_of(k, "key"))
        .filter_map(|k| RegisteredCert::from_pem(k).ok())
        .any(|cert| cert.verifies(alg, message.as_bytes(), &sig))
}

/// POST /applications/{id}/removeKey `{"keyId": "…", "proof": "…"}`
pub(crate) async fn remove_key(
    ctx: Ctx,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let body = json_body(&body)?;
    let mut tenant = ctx.sim.lock_tenant();
    let app = find(&tenant, &id)?.clone();
    require_write(&ctx, &tenant, &id)?;
    let key_id = guid_field(&body, "keyId")?.to_owned();
    let proof = body
        .get("proof")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            bad_body("Invalid value for parameter 'proof': a signed JWT is expected.")
        })?;
    if !proof_holds(&app, proof, ctx.now) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "The proof of possession could not be validated against a current key of the application.",
        ));
    }
    let before = key_description(&app);
    if remove_credential(&mut tenant, &id, "keyCredentials", &key_id).is_none() {
        return Err(bad_body(format!(
            "No key credential with keyId '{key_id}' exists on this application."
        )));
    }
    audit_credentials(
        &ctx,
        &mut tenant,
        &id,
        &before,
        json!({"targetId": id, "change": "removed key credential", "keyId": key_id}),
    );
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_keys_are_read_with_their_quotes_undone() {
        assert_eq!(
            alternate_key("servicePrincipals(appId='0f1e2d3c-0000-4000-8000-000000000001')"),
            Some((
                "servicePrincipals",
                "0f1e2d3c-0000-4000-8000-000000000001".to_owned()
            ))
        );
        assert_eq!(
            alternate_key("applications(appId='o''brien')").map(|(_, v)| v),
            Some("o'brien".to_owned())
        );
        assert_eq!(alternate_key("servicePrincipals(displayName='x')"), None);
        assert_eq!(alternate_key("users"), None);
    }

    #[test]
    fn the_key_description_lists_secrets_then_certificates() {
        let app = json!({"passwordCredentials": [{"keyId": "a", "displayName": "one"}],
                         "keyCredentials": [{"keyId": "b", "type": "AsymmetricX509Cert", "usage": "Verify", "displayName": "CN=two"}]});
        let text = key_description(&app);
        let list: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            list,
            vec![
                "[KeyIdentifier=a,KeyType=Password,KeyUsage=Verify,DisplayName=one]",
                "[KeyIdentifier=b,KeyType=AsymmetricX509Cert,KeyUsage=Verify,DisplayName=CN=two]"
            ]
        );
    }
}
