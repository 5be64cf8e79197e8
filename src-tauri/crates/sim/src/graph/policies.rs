//! The authentication methods policy: the Temporary Access Pass configuration, which decides
//! whether a pass can be created, for whom, and for how long (spec/graph-behaviour.md,
//! "Temporary Access Pass policy").

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::{Ctx, Perm};
use crate::scenario::TapPolicy;
use crate::server::GraphError;

const READ_POLICY: Perm = Perm {
    app: &[
        "Policy.Read.AuthenticationMethod",
        "Policy.ReadWrite.AuthenticationMethod",
        "Policy.Read.All",
    ],
    delegated: &[
        "Policy.Read.AuthenticationMethod",
        "Policy.ReadWrite.AuthenticationMethod",
        "Policy.Read.All",
    ],
    roles: &[
        "Global Reader",
        "Authentication Policy Administrator",
        "Security Reader",
        "Security Administrator",
    ],
};

/// The policy as Graph answers it.
fn render(policy: &TapPolicy) -> Value {
    let include: Vec<Value> = policy
        .include_groups
        .iter()
        .map(|id| json!({"targetType": "group", "id": id, "isRegistrationRequired": false}))
        .collect();
    let exclude: Vec<Value> = policy
        .exclude_groups
        .iter()
        .map(|id| json!({"targetType": "group", "id": id}))
        .collect();
    json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass",
        "state": policy.state,
        "defaultLifetimeInMinutes": policy.default_lifetime_in_minutes,
        "defaultLength": 8,
        "minimumLifetimeInMinutes": policy.minimum_lifetime_in_minutes,
        "maximumLifetimeInMinutes": policy.maximum_lifetime_in_minutes,
        "isUsableOnce": policy.is_usable_once,
        "includeTargets": include,
        "excludeTargets": exclude,
    })
}

/// GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}; only the
/// Temporary Access Pass configuration is modelled.
pub(crate) async fn method_configuration(
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_POLICY)?;
    ctx.refuse_options(&[])?;
    if !id.eq_ignore_ascii_case("TemporaryAccessPass") {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The authentication method configuration '{id}' is not modelled by the training tenant."),
        ));
    }
    let policy = ctx.sim.lock_tenant().info.temporary_access_pass.clone();
    Ok(ctx.entity(
        "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
        render(&policy),
    ))
}
