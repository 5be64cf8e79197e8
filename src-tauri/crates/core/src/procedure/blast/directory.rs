//! The directory checks: consent grants (judged as containment judges them), and what the
//! account did in the directory during the window according to the directory audit log —
//! membership changes, credentials added to apps, users created, Conditional Access edits.

use firebreak_graph::{
    logs::{DirectoryAudit, DirectoryAuditQuery},
    methods::MethodKind,
    UserRef,
};
use serde_json::Value;

use super::{account, item, Draft};
use crate::{
    procedure::{contain::plan_grants, tenant::IncidentTenant, Action, StepContext},
    Error,
};

/// Consents of the account and tenant-wide consents given in the window.
pub(super) async fn consents<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Revoke the selected consents and disable the selected apps.");
    let plan = match plan_grants(cx).await {
        Ok(p) => p,
        Err(Error::Tenant(e)) => return draft.gap("Consent grants", *e),
        Err(e) => return Err(e),
    };
    for c in plan.captures {
        let name = c.name_hint.trim_start_matches("grants-").to_owned();
        draft.capture(&name, &c.description, &c.source_operation, &[c.body]);
    }
    for w in plan.warnings {
        if w != "No consents to review." {
            draft.warn(w);
        }
    }
    let mut kept = 0;
    for row in plan.items {
        if row.recommended {
            draft.finding(row);
        } else {
            kept += 1;
            draft.row(row);
        }
    }
    draft.clean(format!(
        "{kept} consent(s) or app(s) reviewed, none with risky permissions given in the window or by an unverified publisher."
    ));
    Ok(())
}

/// Directory audit entries the account initiated in the window (and, with `targeting`, those
/// that changed the account), saved as evidence under `name`.
async fn audits<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    name: &str,
    targeting: bool,
) -> Result<Option<(String, Vec<DirectoryAudit>)>, Error> {
    let user = account(cx).await?;
    let by = DirectoryAuditQuery {
        since: Some(draft.since),
        initiated_by_user_id: Some(user.id.clone()),
        ..DirectoryAuditQuery::default()
    };
    let mut all = match cx.tenant.directory_audits(&by).await {
        Ok(a) => {
            draft.capture(
                name,
                "Directory audit entries initiated by the account in the incident window",
                "GET /auditLogs/directoryAudits",
                &a.pages,
            );
            a.items
        }
        Err(e) => {
            draft.gap("The directory audit log", e)?;
            return Ok(None);
        }
    };
    if targeting {
        let on = DirectoryAuditQuery {
            since: Some(draft.since),
            target_id: Some(user.id.clone()),
            ..DirectoryAuditQuery::default()
        };
        match cx.tenant.directory_audits(&on).await {
            Ok(a) => {
                draft.capture(
                    &format!("{name}-on-account"),
                    "Directory audit entries that changed the account in the incident window",
                    "GET /auditLogs/directoryAudits",
                    &a.pages,
                );
                for entry in a.items {
                    if !all.iter().any(|e| e.id == entry.id) {
                        all.push(entry);
                    }
                }
            }
            Err(e) => draft.gap("The directory audit log", e)?,
        }
    }
    Ok(Some((user.id, all)))
}

fn activity(a: &DirectoryAudit) -> String {
    a.activity_display_name
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_lowercase()
        .replace(['–', '—'], "-")
}

fn targets(a: &DirectoryAudit) -> Vec<&Value> {
    a.target_resources.iter().flatten().collect()
}

fn target_text(t: &Value) -> String {
    let field = |k: &str| t.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let name = field("displayName")
        .or_else(|| field("userPrincipalName"))
        .unwrap_or("?");
    match field("type") {
        Some(kind) => format!("{kind}: {name}"),
        None => name.to_owned(),
    }
}

fn initiator(a: &DirectoryAudit) -> String {
    a.initiated_by
        .as_ref()
        .and_then(|i| {
            i.pointer("/user/userPrincipalName")
                .or_else(|| i.pointer("/app/displayName"))
        })
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

fn audit_row(a: &DirectoryAudit, kind: &str, guidance: &str) -> crate::procedure::PlanItem {
    let mut details: Vec<String> = targets(a).into_iter().map(target_text).collect();
    details.push(format!("By: {}", initiator(a)));
    let mut row = item(
        format!("seen:audit:{}", a.id),
        kind,
        a.activity_display_name
            .clone()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        details,
        Action::Record,
    );
    row.created = a.activity_date_time;
    row.reasons = vec![guidance.to_owned()];
    row
}

/// Group and role membership changes made by the account, or to it, in the window.
pub(super) async fn memberships<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record group and role membership changes made by or to the account.");
    let Some((_, entries)) = audits(cx, draft, "memberships", true).await? else {
        return Ok(());
    };
    for a in entries.iter().filter(|a| {
        let act = activity(a);
        ["member to", "member from", "owner to", "owner from"]
            .iter()
            .any(|p| act.contains(p))
    }) {
        draft.finding(audit_row(
            a,
            "Membership change",
            "Revert it by hand: Entra admin center > Groups (or Roles and administrators) > the group or role > Members; there is no Graph operation for it in Firebreak's permissions.",
        ));
    }
    draft.clean("No group or role membership changed by or to the account in the window.");
    Ok(())
}

/// Credentials (secrets, certificates) the account added to apps in the window.
pub(super) async fn app_credentials<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary(
        "Disable the apps the account added credentials to; remove the credential by hand.",
    );
    let Some((_, entries)) = audits(cx, draft, "app-credentials", false).await? else {
        return Ok(());
    };
    let mut offered: Vec<String> = Vec::new();
    for a in entries.iter().filter(|a| {
        let act = activity(a);
        act == "add service principal credentials"
            || (act.starts_with("update application") && act.contains("certificates and secrets"))
    }) {
        let key = targets(a)
            .iter()
            .flat_map(|t| t.get("modifiedProperties").and_then(Value::as_array))
            .flatten()
            .filter_map(|p| p.get("newValue").and_then(Value::as_str))
            .find_map(|v| {
                v.split(['[', ',', ']', '"'])
                    .find_map(|part| part.trim().strip_prefix("KeyIdentifier="))
                    .map(str::to_owned)
            });
        let mut row = audit_row(
            a,
            "Credential added",
            "Remove the added secret or certificate by hand: Entra admin center > App registrations > the app > Certificates & secrets (Firebreak has no permission to remove it). Disabling the app below stops it signing in meanwhile.",
        );
        if let Some(key) = &key {
            row.details.push(format!("Key id: {key}"));
        }
        draft.finding(row);
        for t in targets(a) {
            let Some(id) = t.get("id").and_then(Value::as_str) else {
                continue;
            };
            if offered.iter().any(|o| o == id) {
                continue;
            }
            let sp = match cx.tenant.service_principal(id).await {
                Ok(sp) => sp,
                Err(e) if e.is_not_found() => None,
                Err(e) => {
                    draft.gap("The app behind the credential", e)?;
                    None
                }
            };
            let Some(sp) = sp else {
                draft.warn(format!(
                    "The app {} could not be found by its id: find it by name under Enterprise applications and disable it there.",
                    target_text(t)
                ));
                continue;
            };
            offered.push(id.to_owned());
            if sp.account_enabled == Some(false) {
                draft.clean("The app is already disabled.");
                continue;
            }
            let mut line = item(
                format!("sp:{}", sp.id),
                "App (service principal)",
                sp.display_name.clone().unwrap_or_else(|| sp.id.clone()),
                vec![format!("App id: {}", sp.app_id.clone().unwrap_or_default())],
                Action::DisableServicePrincipal { id: sp.id.clone() },
            );
            line.recommended = true;
            line.reasons = vec!["The compromised account added a credential to it during the incident: whoever holds the credential can sign in as the app. Disable it until the credential is removed and the app's owners confirm.".into()];
            draft.row(line);
        }
    }
    draft.clean("The account added no credential to any app in the window.");
    Ok(())
}

/// Users the account created in the window: sign them out, block them, remove their methods.
pub(super) async fn created_users<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft
        .summary("Sign out, block and strip the sign-in methods of the users the account created.");
    let Some((_, entries)) = audits(cx, draft, "created-users", false).await? else {
        return Ok(());
    };
    for a in entries.iter().filter(|a| activity(a) == "add user") {
        for t in targets(a) {
            let Some(id) = t.get("id").and_then(Value::as_str) else {
                continue;
            };
            let target = UserRef::new(id)?;
            let Some(user) = cx.tenant.user(&target).await? else {
                draft.clean("A user the account created no longer exists.");
                continue;
            };
            let label = user
                .user_principal_name
                .clone()
                .unwrap_or_else(|| user.id.clone());
            let on = |action: Action| Action::On {
                target: user.id.clone(),
                action: Box::new(action),
            };
            let why = "Created by the compromised account during the incident: the attacker's way back in.";
            let mut revoke = item(
                format!("user-revoke:{}", user.id),
                "Created user: sign out",
                label.clone(),
                vec![
                    format!("Created: {}", target_text(t)),
                    format!("By: {}", initiator(a)),
                ],
                on(Action::RevokeSessions),
            );
            revoke.created = a.activity_date_time;
            revoke.recommended = true;
            revoke.reasons = vec![why.into()];
            draft.finding(revoke);
            if user.account_enabled != Some(false) {
                let mut disable = item(
                    format!("user-disable:{}", user.id),
                    "Created user: block sign-in",
                    label.clone(),
                    Vec::new(),
                    on(Action::DisableAccount),
                );
                disable.recommended = true;
                disable.reasons = vec![why.into()];
                draft.row(disable);
            }
            match cx.tenant.methods(&target).await {
                Ok(methods) => {
                    draft.capture(
                        "created-user-methods",
                        "Sign-in methods of a user the account created",
                        "GET /users/{id}/authentication/methods",
                        &methods.pages,
                    );
                    for m in &methods.items {
                        let Some(kind) = m.kind().filter(|k| k.deletable()) else {
                            continue;
                        };
                        if kind == MethodKind::Password {
                            continue;
                        }
                        let mut row = item(
                            format!("user-method:{}:{}", user.id, m.id),
                            "Created user: sign-in method",
                            format!(
                                "{label}: {}",
                                m.display_name
                                    .clone()
                                    .or_else(|| m.odata_type.clone())
                                    .unwrap_or_default()
                            ),
                            Vec::new(),
                            on(Action::DeleteMethod {
                                kind,
                                id: m.id.clone(),
                            }),
                        );
                        row.created = m.created_date_time;
                        row.recommended = true;
                        row.reasons = vec![
                            "A method on a user the attacker created lets them back in.".into(),
                        ];
                        draft.row(row);
                    }
                }
                Err(e) => draft.gap("Sign-in methods of a created user", e)?,
            }
        }
    }
    draft.clean("The account created no user in the window.");
    Ok(())
}

/// Conditional Access policies the account added, changed or deleted in the window.
pub(super) async fn conditional_access<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record Conditional Access policy changes made by the account.");
    let Some((_, entries)) = audits(cx, draft, "conditional-access", false).await? else {
        return Ok(());
    };
    for a in entries
        .iter()
        .filter(|a| activity(a).contains("conditional access policy"))
    {
        draft.finding(audit_row(
            a,
            "Conditional Access change",
            "Restore the policy by hand: Entra admin center > Protection > Conditional Access > Policies (the audit entry's modified properties show the old values). An attacker weakens a policy to keep access.",
        ));
    }
    draft.clean("The account changed no Conditional Access policy in the window.");
    Ok(())
}
