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
        contain::{
            describe_rule, judge_forwarding, judge_rule, mailbox_references, organisation,
            read_rules, resolve, Directory, RuleContext, Who,
        },
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
    let mut builtin = 0;
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
            if mailbox_rules.is_builtin(rule) {
                builtin += 1;
                continue;
            }
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
    let builtin = if builtin > 0 {
        format!(" ({builtin} hidden rule(s) Exchange keeps in every mailbox are not listed)")
    } else {
        String::new()
    };
    draft.clean(format!(
        "{looked} inbox rule(s) in {} mailbox(es), none suspicious{builtin}.",
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
    let references: Vec<String> = reached
        .iter()
        .flat_map(|r| mailbox_references(&r.mailbox))
        .collect();
    let directory = resolve(cx.tenant, &references).await;
    for r in &reached {
        let Some(forwarding) = judge_forwarding(
            &r.mailbox,
            &directory,
            &organisation,
            "the mailbox's owners",
        ) else {
            continue;
        };
        let external = forwarding.external;
        let mut row = item(
            format!("forwarding:{}", r.upn),
            "Mailbox forwarding",
            forwarding.label,
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
        row.reasons = forwarding.reasons;
        if external {
            draft.finding(row);
        } else {
            draft.row(row);
        }
    }
    // The delegates of the account's own mailbox are reviewed too: an attacker holding the
    // account can give a second account it holds the right to send as it.
    let own_delegated = reached
        .iter()
        .any(|r| r.own && !r.mailbox.grant_send_on_behalf_to.is_empty());
    let shared: Vec<&Reached> = reached.iter().filter(|r| !r.own).collect();
    if shared.is_empty() && !own_delegated {
        draft.clean("No forwarding to outside the organisation; the account holds no rights on shared mailboxes and has no send-on-behalf delegate.");
        return Ok(());
    }
    let user = super::account(cx).await?;
    let attacker = attacker_addresses(cx, &user.id, draft).await;
    let mut seen = attacker_actors(cx, draft, &attacker).await?;
    seen.resolve_granted(cx.tenant).await;
    for r in reached.iter().filter(|r| r.own) {
        send_on_behalf(draft, r, &directory, &seen);
        delegates(cx, draft, r, &seen).await?;
    }
    for r in shared {
        delegates(cx, draft, r, &seen).await?;
    }
    draft.clean("No forwarding to outside the organisation and no delegate used or given from the attacker's addresses.");
    Ok(())
}

/// What the audit search over the attacker's addresses showed about delegates.
#[derive(Default)]
struct Seen {
    /// Who acted on mailboxes from the attacker's addresses (lower-case UPNs).
    actors: BTreeSet<String>,
    /// Delegates given a right from the attacker's addresses (Set-Mailbox GrantSendOnBehalfTo,
    /// Add-MailboxPermission User, Add-RecipientPermission Trustee), as the cmdlet named them.
    granted: BTreeSet<String>,
    /// The addresses of those delegates, each name resolved with Get-Recipient: the cmdlet may
    /// name a person by alias, display name or id while Get-Mailbox names them by another.
    granted_addresses: BTreeSet<String>,
}

impl Seen {
    /// Resolves every delegate the search saw given a right to the address of who it is.
    async fn resolve_granted<T: IncidentTenant>(&mut self, tenant: &T) {
        let names: Vec<String> = self.granted.iter().cloned().collect();
        let directory = resolve(tenant, &names).await;
        self.granted_addresses = names
            .iter()
            .filter_map(|n| directory.get(n).address().map(str::to_lowercase))
            .collect();
    }

    /// Why `holder` (resolved as `who`) is the attacker's path, if the search says so.
    fn misuse(
        &self,
        holder: &str,
        who: &crate::procedure::contain::Resolved,
    ) -> Option<&'static str> {
        let matches = |set: &BTreeSet<String>| {
            set.iter().any(|a| {
                holds(holder, a) || holds(a, holder) || who.address().is_some_and(|x| holds(x, a))
            })
        };
        let given_to_them = who
            .address()
            .is_some_and(|x| self.granted_addresses.contains(&x.to_lowercase()));
        if given_to_them || matches(&self.granted) {
            Some("This right was given from the attacker's address: the attacker made it. Remove it.")
        } else if matches(&self.actors) {
            Some("This delegate acted on mailboxes from the attacker's address: the path the attacker used. Remove it and ask its owner whether the access is still needed.")
        } else {
            None
        }
    }
}

/// The delegates named by one audit record that gives a mailbox right.
fn granted_in(record: &firebreak_graph::logs::AuditLogRecord) -> Vec<String> {
    let parameter = match record.operation.as_deref() {
        Some("Set-Mailbox") => "GrantSendOnBehalfTo",
        Some("Add-MailboxPermission") => "User",
        Some("Add-RecipientPermission") => "Trustee",
        _ => return Vec::new(),
    };
    record
        .audit_data
        .as_ref()
        .and_then(|d| d.get("Parameters"))
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| p.get("Name").and_then(serde_json::Value::as_str) == Some(parameter))
        .filter_map(|p| p.get("Value").and_then(serde_json::Value::as_str))
        .flat_map(|v| v.split([',', ';']))
        .map(|v| {
            v.trim()
                .trim_matches(|c| c == '{' || c == '}' || c == '"')
                .to_lowercase()
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Rows for the send-on-behalf delegates of the account's own mailbox.
fn send_on_behalf(draft: &mut Draft, r: &Reached, directory: &Directory, seen: &Seen) {
    for trustee in &r.mailbox.grant_send_on_behalf_to {
        let who = directory.get(trustee);
        let misuse = seen.misuse(trustee, &who);
        let mut line = item(
            format!("send-on-behalf:{}:{trustee}", r.upn),
            "Send on behalf",
            who.label(),
            vec![whose(r)],
            on(
                r,
                Action::RemoveSendOnBehalf {
                    trustee: trustee.clone(),
                },
            ),
        );
        line.recommended = misuse.is_some();
        line.reasons = vec![misuse.map_or_else(
            || "Exchange keeps no date for delegates and nothing from the attacker's addresses gave it: keep it unless the user says otherwise.".to_owned(),
            str::to_owned,
        )];
        line.reasons.extend(who.explanation());
        if misuse.is_some() {
            draft.finding(line);
        } else {
            draft.row(line);
        }
    }
}

/// Who acted on mailboxes from the attacker's addresses, and which delegates were given a right
/// from them (one Purview audit search).
async fn attacker_actors<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    attacker: &BTreeSet<String>,
) -> Result<Seen, Error> {
    if attacker.is_empty() {
        draft.warn("Identity Protection named no attacker address, so delegates cannot be judged: review each one with the mailbox's owners.");
        return Ok(Seen::default());
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
        return Ok(Seen::default());
    };
    Ok(Seen {
        actors: search
            .records
            .items
            .iter()
            .filter_map(|r| r.user_principal_name.clone().or_else(|| r.user_id.clone()))
            .map(|u| u.to_lowercase())
            .collect(),
        granted: search.records.items.iter().flat_map(granted_in).collect(),
        granted_addresses: BTreeSet::new(),
    })
}

/// Rows for the FullAccess and SendAs holders of a shared mailbox, each holder resolved to who
/// it is (a person, a group, or a leftover that cannot be resolved).
async fn delegates<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    r: &Reached,
    seen: &Seen,
) -> Result<(), Error> {
    let target = UserRef::new(&r.upn)?;
    let permissions = cx.tenant.mailbox_permissions(&target).await;
    let send_as = cx.tenant.recipient_permissions(&target).await;
    let holders: Vec<String> = permissions
        .iter()
        .flat_map(|p| p.items.iter().filter_map(|x| x.user.clone()))
        .chain(
            send_as
                .iter()
                .flat_map(|p| p.items.iter().filter_map(|x| x.trustee.clone())),
        )
        .collect();
    let directory = resolve(cx.tenant, &holders).await;
    match permissions {
        Ok(p) => {
            for row in p
                .items
                .iter()
                .filter(|p| p.is_inherited != Some(true) && p.deny != Some(true))
            {
                let Some(holder) = row.user.clone() else {
                    continue;
                };
                let remove = Action::RemoveMailboxPermission {
                    user: holder.clone(),
                    rights: row.access_rights.clone(),
                    inheritance_type: row.inheritance_type.clone(),
                };
                let line = Delegate {
                    id: "full-access",
                    kind: "Mailbox permission",
                    rights: &row.access_rights,
                    remove,
                };
                line.add(draft, r, &directory, &holder, seen);
            }
        }
        Err(e) => draft.gap(&format!("Mailbox permissions of {}", r.upn), e)?,
    }
    match send_as {
        Ok(p) => {
            for row in p.items.iter().filter(|p| p.is_inherited != Some(true)) {
                let Some(holder) = row.trustee.clone() else {
                    continue;
                };
                let remove = Action::RemoveRecipientPermission {
                    trustee: holder.clone(),
                    rights: row.access_rights.clone(),
                };
                let line = Delegate {
                    id: "send-as",
                    kind: "Send as",
                    rights: &row.access_rights,
                    remove,
                };
                line.add(draft, r, &directory, &holder, seen);
            }
        }
        Err(e) => draft.gap(&format!("SendAs permissions of {}", r.upn), e)?,
    }
    Ok(())
}

/// One delegate right on a shared mailbox, before it becomes a row.
struct Delegate<'a> {
    id: &'static str,
    kind: &'static str,
    rights: &'a [String],
    remove: Action,
}

impl Delegate<'_> {
    /// Adds the row: recommended for removal only when the holder acted from the attacker's
    /// addresses or was given the right from them; Exchange's own principal is skipped, and a
    /// holder that cannot be resolved is shown as such and never recommended.
    fn add(self, draft: &mut Draft, r: &Reached, directory: &Directory, holder: &str, seen: &Seen) {
        let who = directory.get(holder);
        if who.who == Who::System || holds(holder, &r.upn) {
            return;
        }
        let misuse = seen.misuse(holder, &who);
        let mut line = item(
            format!("{}:{}:{holder}", self.id, r.upn),
            self.kind,
            who.label(),
            vec![whose(r), format!("Rights: {}", self.rights.join(", "))],
            on(r, self.remove),
        );
        line.recommended = misuse.is_some();
        line.reasons = vec![if let Some(why) = misuse {
            why.to_owned()
        } else if matches!(who.who, Who::Unresolved(_)) {
            "Firebreak could not tell who holds this, so it does not propose removing it: removing it is tidying up, and does not take access from anyone Firebreak can name.".to_owned()
        } else {
            "No activity from the attacker's addresses: keep it unless the mailbox's owners say otherwise.".to_owned()
        }];
        line.reasons.extend(who.explanation());
        if misuse.is_some() {
            draft.finding(line);
        } else {
            draft.row(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        operation: &str,
        parameters: serde_json::Value,
    ) -> firebreak_graph::logs::AuditLogRecord {
        serde_json::from_value(json!({
            "id": "r1", "operation": operation,
            "auditData": {"Parameters": parameters},
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_delegate_given_from_the_attackers_address_is_read_from_the_cmdlet_and_a_forwarding_change_gives_none(
    ) {
        // Variant to find: SendOnBehalf given to two accounts in one Set-Mailbox.
        let given = granted_in(&record(
            "Set-Mailbox",
            json!([{"Name": "Identity", "Value": "megan"},
                   {"Name": "GrantSendOnBehalfTo", "Value": "ines.oneill,Viktor@contoso.example"}]),
        ));
        assert_eq!(given, vec!["ines.oneill", "viktor@contoso.example"]);
        // Look-alike: the same cmdlet setting forwarding names no delegate.
        let forwarding = granted_in(&record(
            "Set-Mailbox",
            json!([{"Name": "ForwardingSmtpAddress", "Value": "smtp:x@example.org"}]),
        ));
        assert!(forwarding.is_empty());
        // FullAccess and SendAs name their holder in User and Trustee.
        assert_eq!(
            granted_in(&record(
                "Add-MailboxPermission",
                json!([{"Name": "User", "Value": "Eve"}])
            )),
            vec!["eve"]
        );
        assert_eq!(
            granted_in(&record(
                "Add-RecipientPermission",
                json!([{"Name": "Trustee", "Value": "eve"}])
            )),
            vec!["eve"]
        );
        assert!(granted_in(&record("MailItemsAccessed", json!([]))).is_empty());
    }

    #[test]
    fn a_delegate_given_by_alias_is_the_attackers_when_get_mailbox_names_them_by_object_id() {
        use crate::procedure::contain::{Resolved, Who};
        let person = |raw: &str, address: &str| Resolved {
            raw: raw.into(),
            who: Who::Person {
                name: "Someone".into(),
                address: Some(address.into()),
            },
        };
        // The search saw `Set-Mailbox -GrantSendOnBehalfTo wen.eriksen` from the attacker's
        // address; Get-Recipient resolved the alias to Wen's address.
        let seen = Seen {
            granted: ["wen.eriksen".to_owned()].into(),
            granted_addresses: ["wen.eriksen@contoso.example".to_owned()].into(),
            ..Seen::default()
        };
        // Variant to find: Get-Mailbox names the same person by object id.
        let wen = person(
            "dea96972-8303-462a-a269-fc87566e9e96",
            "Wen.Eriksen@contoso.example",
        );
        assert!(seen.misuse(&wen.raw, &wen).is_some());
        // Look-alike: another colleague, also named by object id, stays a question for the user.
        let ada = person(
            "79f60794-b8e8-4053-887b-438fc12870bc",
            "ada.rossi@contoso.example",
        );
        assert!(seen.misuse(&ada.raw, &ada).is_none());
    }
}
