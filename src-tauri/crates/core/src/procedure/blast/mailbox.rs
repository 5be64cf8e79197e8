//! The mailbox checks: inbox rules, and forwarding with delegate access. Both cover every mailbox
//! the account reaches: its own, and the shared mailboxes where it holds FullAccess or SendAs
//! (Get-MailboxPermission / Get-RecipientPermission on each shared mailbox) — an attacker with
//! the account works through those too.

use std::collections::BTreeSet;

use chrono::Duration;
use firebreak_graph::{exchange::Mailbox, logs::NewAuditLogQuery, UserRef};
use serde_json::json;

use super::{attacker_addresses, item, Draft};
use crate::{
    procedure::{
        contain::{describe_rule, judge_rule, organisation, read_rules, RuleContext},
        tenant::IncidentTenant,
        Action, StepContext,
    },
    Error,
};

/// Exchange operations that show someone working in a mailbox.
const MAILBOX_OPERATIONS: [&str; 9] = [
    "SendAs",
    "SendOnBehalf",
    "Send",
    "Set-Mailbox",
    "New-InboxRule",
    "Set-InboxRule",
    "MailItemsAccessed",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
];
/// How far back the delegate review looks for the attacker's addresses: the entry may predate
/// this account's incident window (the account can be the second hop).
const DELEGATE_LOOKBACK_DAYS: i64 = 30;

/// A mailbox the account reaches.
struct Reached {
    /// Its UPN (what the cmdlets take).
    upn: String,
    /// Get-Mailbox's answer.
    mailbox: Mailbox,
    /// The account's own mailbox.
    own: bool,
    /// The account's rights on it (FullAccess, SendAs) when it is someone else's.
    rights: Vec<String>,
}

fn holds(holder: &str, account: &str) -> bool {
    let holder = holder.trim();
    let local = account.split('@').next().unwrap_or(account);
    holder.eq_ignore_ascii_case(account) || holder.eq_ignore_ascii_case(local)
}

fn mailbox_upn(m: &Mailbox) -> Option<String> {
    m.user_principal_name
        .clone()
        .or_else(|| m.primary_smtp_address.clone())
        .filter(|s| !s.is_empty())
}

/// The account's mailbox and the shared mailboxes it holds rights on. Unreadable parts become
/// gaps of the check.
async fn reach<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<Vec<Reached>, Error> {
    let mut reached = Vec::new();
    match cx.tenant.mailbox(cx.user).await {
        Ok(Some(own)) => {
            draft.capture(
                "mailbox",
                "The account's mailbox settings",
                "Exchange Get-Mailbox",
                &own.pages,
            );
            if let Some(m) = own.items.into_iter().next() {
                reached.push(Reached {
                    upn: cx.account.to_owned(),
                    mailbox: m,
                    own: true,
                    rights: Vec::new(),
                });
            }
        }
        Ok(None) => draft.clean("The account has no Exchange Online mailbox of its own."),
        Err(e) => draft.gap("The account's mailbox", e)?,
    }
    let shared = match cx.tenant.shared_mailboxes().await {
        Ok(s) => s,
        Err(e) => {
            draft.gap("The list of shared mailboxes", e)?;
            return Ok(reached);
        }
    };
    draft.capture(
        "shared-mailboxes",
        "The tenant's shared mailboxes",
        "Exchange Get-Mailbox -RecipientTypeDetails SharedMailbox",
        &shared.pages,
    );
    for m in shared.items {
        let Some(upn) = mailbox_upn(&m) else { continue };
        if holds(&upn, cx.account) {
            continue;
        }
        let target = UserRef::new(&upn)?;
        let mut rights = Vec::new();
        match cx.tenant.mailbox_permissions(&target).await {
            Ok(p) => {
                if p.items.iter().any(|r| {
                    r.user.as_deref().is_some_and(|u| holds(u, cx.account))
                        && r.deny != Some(true)
                        && r.access_rights.iter().any(|a| a == "FullAccess")
                }) {
                    rights.push("FullAccess".to_owned());
                    draft.capture(
                        "delegated-permissions",
                        "Mailbox permissions of a shared mailbox the account can open",
                        "Exchange Get-MailboxPermission",
                        &p.pages,
                    );
                }
            }
            Err(e) => draft.gap("Mailbox permissions of a shared mailbox", e)?,
        }
        match cx.tenant.recipient_permissions(&target).await {
            Ok(p) => {
                if p.items.iter().any(|r| {
                    r.trustee.as_deref().is_some_and(|u| holds(u, cx.account))
                        && r.access_rights.iter().any(|a| a == "SendAs")
                }) {
                    rights.push("SendAs".to_owned());
                    draft.capture(
                        "delegated-send-as",
                        "SendAs permissions of a shared mailbox the account can send as",
                        "Exchange Get-RecipientPermission",
                        &p.pages,
                    );
                }
            }
            Err(e) => draft.gap("SendAs permissions of a shared mailbox", e)?,
        }
        if !rights.is_empty() {
            reached.push(Reached {
                upn,
                mailbox: m,
                own: false,
                rights,
            });
        }
    }
    draft.fact(
        "mailboxes",
        json!(reached
            .iter()
            .map(|r| json!({ "mailbox": r.upn, "own": r.own, "rights": r.rights }))
            .collect::<Vec<_>>()),
    );
    Ok(reached)
}

/// `action` on the reached mailbox: directly for the account's own, through [`Action::On`]
/// for a shared one.
fn on(reached: &Reached, action: Action) -> Action {
    if reached.own {
        action
    } else {
        Action::On {
            target: reached.upn.clone(),
            action: Box::new(action),
        }
    }
}

fn whose(reached: &Reached) -> String {
    if reached.own {
        "The account's own mailbox".to_owned()
    } else {
        format!(
            "Shared mailbox {} (the account holds {})",
            reached.upn,
            reached.rights.join(" and ")
        )
    }
}

/// Inbox rules of every mailbox the account reaches, judged as containment judges them.
pub(super) async fn rules<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Remove the selected inbox rules from the mailboxes the account reaches.");
    let mut warnings = Vec::new();
    let organisation = organisation(cx.tenant, cx.account, &mut warnings).await;
    let reached = reach(cx, draft).await?;
    let mut looked = 0;
    for r in &reached {
        let read = read_rules(cx.tenant, &UserRef::new(&r.upn)?, &mut warnings).await;
        for w in warnings.drain(..) {
            draft.warn(w);
        }
        let mailbox_rules = match read {
            Ok(rules) => rules,
            Err(e) => {
                draft.gap(&format!("Inbox rules of {}", r.upn), e)?;
                continue;
            }
        };
        let rules = &mailbox_rules.rules;
        draft.capture(
            if r.own { "rules" } else { "delegated-rules" },
            "Inbox rules including hidden ones, full definition",
            "Exchange Get-InboxRule -IncludeHidden",
            &rules.pages,
        );
        for rule in &rules.items {
            let Some(identity) = rule.identity.clone() else {
                continue;
            };
            looked += 1;
            let hidden = mailbox_rules.is_hidden(rule);
            let (recommended, reasons) = judge_rule(
                rule,
                &RuleContext {
                    organisation: &organisation,
                    hidden,
                },
            );
            let mut details = vec![whose(r)];
            details.extend(describe_rule(rule));
            let mut row = item(
                format!("rule:{}:{identity}", r.upn),
                "Inbox rule",
                rule.name.clone().unwrap_or_default(),
                details,
                on(r, Action::RemoveInboxRule { identity }),
            );
            row.recommended = recommended;
            row.reasons = reasons;
            if recommended {
                draft.finding(row);
            } else {
                draft.row(row);
            }
        }
    }
    for w in warnings {
        draft.warn(w);
    }
    draft.clean(format!(
        "{looked} inbox rule(s) in {} mailbox(es), none suspicious.",
        reached.len()
    ));
    Ok(())
}

/// Forwarding of every mailbox the account reaches, and who else holds rights on the shared
/// ones: a delegate who acted on a mailbox from the attacker's addresses is the attacker's path.
pub(super) async fn forwarding<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary(
        "Clear the selected forwarding and remove the selected delegate rights in the mailboxes the account reaches.",
    );
    let mut warnings = Vec::new();
    let organisation = organisation(cx.tenant, cx.account, &mut warnings).await;
    for w in warnings {
        draft.warn(w);
    }
    let reached = reach(cx, draft).await?;
    for r in &reached {
        let targets: Vec<String> = [
            r.mailbox.forwarding_smtp_address.clone(),
            r.mailbox.forwarding_address.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|t| !t.is_empty())
        .collect();
        if targets.is_empty() {
            continue;
        }
        let external = targets.iter().any(|t| organisation.is_external(t));
        let mut row = item(
            format!("forwarding:{}", r.upn),
            "Mailbox forwarding",
            targets.join(", "),
            vec![
                whose(r),
                format!(
                    "Keep a copy in the mailbox: {}",
                    r.mailbox.deliver_to_mailbox_and_forward.unwrap_or(false)
                ),
            ],
            on(r, Action::ClearForwarding),
        );
        row.recommended = external;
        row.reasons = vec![if external {
            "Forwards every message outside the organisation.".into()
        } else {
            "Forwards inside the organisation; check with the mailbox's owners before removing."
                .into()
        }];
        if external {
            draft.finding(row);
        } else {
            draft.row(row);
        }
    }
    let shared: Vec<&Reached> = reached.iter().filter(|r| !r.own).collect();
    if shared.is_empty() {
        draft.clean("No forwarding to outside the organisation; the account holds no rights on shared mailboxes.");
        return Ok(());
    }
    let user = super::account(cx).await?;
    let attacker = attacker_addresses(cx, &user.id, draft).await;
    let actors = attacker_actors(cx, draft, &attacker).await?;
    for r in shared {
        delegates(cx, draft, r, &actors).await?;
    }
    draft.clean("No forwarding to outside the organisation and no delegate used from the attacker's addresses.");
    Ok(())
}

/// Who acted on mailboxes from the attacker's addresses (Purview audit search), lower-case UPNs.
async fn attacker_actors<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    attacker: &BTreeSet<String>,
) -> Result<BTreeSet<String>, Error> {
    if attacker.is_empty() {
        draft.warn("Identity Protection named no attacker address, so delegates cannot be judged: review each one with the mailbox's owners.");
        return Ok(BTreeSet::new());
    }
    let start = cx.now - Duration::days(DELEGATE_LOOKBACK_DAYS);
    let query = NewAuditLogQuery {
        display_name: format!(
            "Firebreak delegate review {} from {}",
            cx.account,
            start.format("%Y-%m-%dT%H:%MZ")
        ),
        filter_start_date_time: start,
        filter_end_date_time: cx.now,
        operation_filters: MAILBOX_OPERATIONS.iter().map(|s| (*s).to_owned()).collect(),
        ip_address_filters: attacker.iter().cloned().collect(),
        ..NewAuditLogQuery::default()
    };
    let Some(search) = super::audit::run(cx, draft, &query, "delegate-review").await? else {
        draft.warn("Without the audit search, delegates are shown but not judged.");
        return Ok(BTreeSet::new());
    };
    Ok(search
        .records
        .items
        .iter()
        .filter_map(|r| r.user_principal_name.clone().or_else(|| r.user_id.clone()))
        .map(|u| u.to_lowercase())
        .collect())
}

/// Rows for the FullAccess and SendAs holders of a shared mailbox.
async fn delegates<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    r: &Reached,
    actors: &BTreeSet<String>,
) -> Result<(), Error> {
    let target = UserRef::new(&r.upn)?;
    // One row per holder: recommended for removal only when the holder acted from the
    // attacker's addresses.
    let add = |draft: &mut Draft,
               id: &str,
               kind: &str,
               holder: String,
               rights: &[String],
               remove: Action| {
        let misused = actors
            .iter()
            .any(|a| holds(&holder, a) || holds(a, &holder));
        let mut line = item(
            format!("{id}:{}:{holder}", r.upn),
            kind,
            holder,
            vec![whose(r), format!("Rights: {}", rights.join(", "))],
            Action::On {
                target: r.upn.clone(),
                action: Box::new(remove),
            },
        );
        line.recommended = misused;
        line.reasons = vec![if misused {
            "This delegate acted on mailboxes from the attacker's address: the path the attacker used. Remove it and ask its owner whether the access is still needed.".to_owned()
        } else {
            "No activity from the attacker's addresses: keep it unless the mailbox's owners say otherwise.".to_owned()
        }];
        if misused {
            draft.finding(line);
        } else {
            draft.row(line);
        }
    };
    let named = |holder: &Option<String>| {
        holder
            .as_deref()
            .is_some_and(|u| !u.to_uppercase().starts_with("NT AUTHORITY"))
    };
    match cx.tenant.mailbox_permissions(&target).await {
        Ok(p) => {
            for row in p
                .items
                .iter()
                .filter(|p| p.is_inherited != Some(true) && p.deny != Some(true) && named(&p.user))
            {
                let holder = row.user.clone().unwrap_or_default();
                let remove = Action::RemoveMailboxPermission {
                    user: holder.clone(),
                    rights: row.access_rights.clone(),
                    inheritance_type: row.inheritance_type.clone(),
                };
                add(
                    draft,
                    "full-access",
                    "Mailbox permission",
                    holder,
                    &row.access_rights,
                    remove,
                );
            }
        }
        Err(e) => draft.gap(&format!("Mailbox permissions of {}", r.upn), e)?,
    }
    match cx.tenant.recipient_permissions(&target).await {
        Ok(p) => {
            for row in p
                .items
                .iter()
                .filter(|p| p.is_inherited != Some(true) && named(&p.trustee))
            {
                let holder = row.trustee.clone().unwrap_or_default();
                let remove = Action::RemoveRecipientPermission {
                    trustee: holder.clone(),
                    rights: row.access_rights.clone(),
                };
                add(
                    draft,
                    "send-as",
                    "Send as",
                    holder,
                    &row.access_rights,
                    remove,
                );
            }
        }
        Err(e) => draft.gap(&format!("SendAs permissions of {}", r.upn), e)?,
    }
    Ok(())
}
