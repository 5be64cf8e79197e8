//! Acting on the selection and reading the tenant back, as the tenant really behaves
//! (spec/graph-behaviour.md, "Method deletion order" and "Read-after-write consistency").
//!
//! - A deletion the tenant refuses for the order it came in (the default method while others
//!   remain, a mobile phone before its alternate) does not stop the step: the rest proceed, and
//!   each refused one is tried once more after them. One still refused is reported on its own row.
//! - The directory is eventually consistent: after a change, the read-back is repeated with
//!   growing pauses for about two minutes before the step is "not verified".

use std::time::Duration;

use firebreak_graph::UserRef;

use super::{
    perform, recover::Handoff, target_action, target_user, tenant::IncidentTenant, Action, Plan,
    Step, StepContext, Verification,
};
use crate::Error;

/// The pauses between read-backs after a change, in seconds: about two minutes in all.
pub const READ_BACK_PAUSES: [u64; 7] = [2, 4, 8, 16, 30, 30, 30];

/// A change the tenant refused, kept for the row's read-back.
#[derive(Debug)]
pub(super) struct Refusal {
    /// The plan item.
    pub(super) item: String,
    /// The tenant's answer, in the admin's words.
    pub(super) error: Error,
}

/// What performing the selection came to.
#[derive(Debug, Default)]
pub(super) struct Performed {
    /// Item ids changed, in the order they were.
    pub(super) done: Vec<String>,
    /// Items the tenant refused both times.
    pub(super) refused: Vec<Refusal>,
    /// The secret a step produced (a Temporary Access Pass).
    pub(super) handoff: Option<Handoff>,
    /// Items the tenant had nothing to change for, with why in its words (Exchange's warning, or
    /// the object already gone); the read-back decides whether each is done.
    pub(super) nothing_to_change: Vec<(String, String)>,
}

impl Performed {
    /// Whether anything but recording a choice was sent to the tenant.
    pub(super) fn changed_tenant(&self, plan: &Plan) -> bool {
        self.done.iter().any(|id| {
            plan.items
                .iter()
                .any(|i| &i.id == id && !matches!(i.action, Action::Record))
        })
    }
}

/// Whether `error`, answered to `action`, is a refusal that does not stop the step: Graph's 400
/// to a method deletion (another order may avoid it), or Identity Protection refusing
/// `confirmCompromised` in a tenant without Entra ID P2 (nothing else depends on it; the row says
/// why). Anything else (a permission, throttling, the network) stops the step.
fn order_refusal(action: &Action, error: &Error) -> bool {
    match super::target_action(action) {
        Action::DeleteMethod { .. } => matches!(
            error,
            Error::Tenant(e) if matches!(**e, firebreak_graph::Error::Service { status: 400, .. })
        ),
        Action::ConfirmCompromised => {
            matches!(error, Error::Tenant(e) if e.is_premium_required())
        }
        _ => false,
    }
}

/// Performs the `selected` items of `plan` in plan order. Refusals that another order may avoid
/// are retried once after the others; any other error is returned with what was done before it.
pub(super) async fn perform_selection<T: IncidentTenant>(
    tenant: &T,
    user: &UserRef,
    plan: &Plan,
    selected: &[String],
) -> Result<Performed, (Error, String, Vec<String>)> {
    let mut performed = Performed::default();
    let mut todo: Vec<&String> = selected.iter().collect();
    for last_pass in [false, true] {
        let mut refused = Vec::new();
        for item_id in todo {
            let Some(item) = plan.items.iter().find(|i| &i.id == item_id) else {
                continue;
            };
            let target = target_user(user, &item.action)
                .map_err(|e| (e, item.label.clone(), performed.done.clone()))?;
            match perform(tenant, &target, target_action(&item.action)).await {
                Ok(result) => {
                    performed.handoff = performed.handoff.take().or(result.handoff);
                    if let Some(why) = result.nothing_to_change {
                        performed.nothing_to_change.push((item_id.clone(), why));
                    }
                    performed.done.push(item_id.clone());
                }
                Err(error) if order_refusal(&item.action, &error) => refused.push(Refusal {
                    item: item_id.clone(),
                    error,
                }),
                Err(error) => return Err((error, item.label.clone(), performed.done)),
            }
        }
        if last_pass || refused.is_empty() {
            performed.refused = refused;
            break;
        }
        // Every other change is made now; the refused ones may go through (a default method
        // that is the last one left, a mobile phone whose alternate is gone).
        todo = selected
            .iter()
            .filter(|id| refused.iter().any(|r| &r.item == *id))
            .collect();
    }
    Ok(performed)
}

/// Reads the tenant back until the step's checks pass or about two minutes have gone by (the
/// waits on the tenant client's clock). Checks of `refused` items are not waited for: the tenant
/// said no, replication will not change that. The refusal is added to their row.
pub(super) async fn read_back<T: IncidentTenant>(
    step: &dyn Step<T>,
    cx: &StepContext<'_, T>,
    selected: &[String],
    since: chrono::DateTime<chrono::Utc>,
    performed: &Performed,
    wait: bool,
) -> Result<Verification, Error> {
    let settled = |v: &Verification| {
        v.checks
            .iter()
            .filter(|c| !c.ok)
            .all(|c| performed.refused.iter().any(|r| r.item == c.item))
    };
    let mut verification = step.verify(cx, selected, since).await?;
    if wait {
        for seconds in READ_BACK_PAUSES {
            if settled(&verification) {
                break;
            }
            cx.tenant.pause(Duration::from_secs(seconds)).await;
            verification = step.verify(cx, selected, since).await?;
        }
    }
    for check in &mut verification.checks {
        if let Some(refusal) = performed.refused.iter().find(|r| r.item == check.item) {
            if !check.ok && check.item == "confirm" {
                check.detail = format!(
                    "{} Not done: Identity Protection refused it because this tenant has no \
                     Microsoft Entra ID P2 ({}). Nothing else in the containment depends on it; \
                     skip this step with that reason.",
                    check.detail, refusal.error
                );
            } else if !check.ok {
                check.detail = format!(
                    "{} Microsoft Graph refused to delete it, also after the other changes: {} \
                     If this is the account's default sign-in method, change the default in the \
                     Entra admin center (Users > the user > Authentication methods > Default sign-in \
                     method), then run this step again.",
                    check.detail, refusal.error
                );
            }
        }
    }
    Ok(Verification::from_checks(verification.checks))
}
