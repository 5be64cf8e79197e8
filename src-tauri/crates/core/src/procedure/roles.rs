//! Before a step writes to an account: which directory role the write needs on *this* account
//! (an administrator or a member or owner of a role-assignable group needs more than an ordinary
//! user) and whether the app — or the signed-in admin — holds it. The plan says so, and warns
//! before the admin confirms a step Microsoft would refuse. The rules are
//! `firebreak_graph::roles` (spec/graph-behaviour.md, "Roles for writes").

use firebreak_graph::{
    permissions::Operation,
    roles::{role_need, TargetStanding},
};
use serde_json::{json, Value};

use super::{tenant::IncidentTenant, Plan, StepContext};

/// What the plan learnt about the role a write needs on the account.
pub(super) struct RoleNote {
    warnings: Vec<String>,
    summary: Option<String>,
    facts: Value,
}

/// Reads the caller's roles and the account's standing (concurrently) and judges `operation`.
/// Never fails the plan: what cannot be read becomes a warning saying what it means.
pub(super) async fn note_role<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    operation: Operation,
) -> RoleNote {
    let (caller, standing) =
        futures_util::future::join(cx.tenant.caller(), cx.tenant.target_standing(cx.user)).await;
    let mut warnings = Vec::new();
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => {
            warnings.push(format!(
                "Firebreak could not read its own directory roles, so it cannot tell whether Microsoft will allow this step: {e}"
            ));
            return RoleNote {
                warnings,
                summary: None,
                facts: Value::Null,
            };
        }
    };
    let standing = standing.unwrap_or_else(|e| {
        warnings.push(format!(
            "Firebreak could not read whether this account holds an admin role or belongs to a role-assignable group ({e}). If it does, this step needs Privileged Authentication Administrator or Global Administrator."
        ));
        TargetStanding::default()
    });
    let need = role_need(operation, &caller, &standing);
    let facts = json!({
        "operation": operation,
        "accountRoles": standing.roles,
        "roleAssignableGroups": standing.role_assignable_groups,
        "callerRoles": caller.role_names(),
        "needed": need.as_ref().map(|n| &n.needed),
        "held": need.as_ref().is_none_or(|n| n.held),
    });
    let summary = match need {
        Some(need) if !need.held => {
            warnings.push(need.sentence);
            None
        }
        Some(need) => Some(need.sentence),
        None => None,
    };
    RoleNote {
        warnings,
        summary,
        facts,
    }
}

impl RoleNote {
    /// Adds the note to a plan: the sentence after the summary when the role is held, a warning
    /// when it is not, and the facts under `roles` (when the plan's facts are an object).
    pub(super) fn apply(self, plan: &mut Plan) {
        if let Some(sentence) = self.summary {
            plan.summary = format!("{} {sentence}", plan.summary);
        }
        plan.warnings.extend(self.warnings);
        if let Value::Object(facts) = &mut plan.facts {
            facts.insert("roles".into(), self.facts);
        } else if plan.facts.is_null() {
            plan.facts = json!({ "roles": self.facts });
        }
    }
}
