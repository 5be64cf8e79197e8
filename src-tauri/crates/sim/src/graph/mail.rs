//! Outlook resources: inbox message rules (list, get, delete — hidden rules stay invisible, as in
//! Graph), mailbox settings, and messages of a folder (Sent Items review).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{no_content, Ctx, Perm};
use crate::odata::{FilterSpec, EQ, RANGE, STARTS};
use crate::scenario::{InboxRule, Mailbox};
use crate::server::GraphError;
use crate::tenant::{graph_rule_id, Tenant, UserRecord};

const READ_SETTINGS: Perm = Perm {
    app: &["MailboxSettings.Read", "MailboxSettings.ReadWrite"],
    delegated: &["MailboxSettings.Read", "MailboxSettings.ReadWrite"],
    roles: &[],
};
const WRITE_SETTINGS: Perm = Perm {
    app: &["MailboxSettings.ReadWrite"],
    delegated: &["MailboxSettings.ReadWrite"],
    roles: &[],
};
const READ_MAIL: Perm = Perm {
    app: &["Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"],
    delegated: &[
        "Mail.ReadBasic",
        "Mail.Read",
        "Mail.ReadWrite",
        "Mail.Read.Shared",
        "Mail.ReadWrite.Shared",
    ],
    roles: &[],
};

const WELL_KNOWN_FOLDERS: &[&str] = &[
    "inbox",
    "sentitems",
    "deleteditems",
    "drafts",
    "archive",
    "junkemail",
    "outbox",
    "msgfolderroot",
];

const MESSAGE_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.message",
    props: &[
        ("sentDateTime", RANGE),
        ("receivedDateTime", RANGE),
        ("subject", EQ | STARTS),
        ("from/emailAddress/address", EQ),
        ("isRead", EQ),
        ("hasAttachments", EQ),
    ],
    lambdas: &[("toRecipients", &[("emailAddress/address", EQ)])],
    advanced: false,
};

fn no_user(key: &str) -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ErrorInvalidUser",
        format!("The requested user '{key}' is invalid."),
    )
}

fn no_mailbox() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )
}

fn item_not_found() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn mailbox_of<'a>(
    tenant: &'a Tenant,
    key: &str,
) -> Result<(&'a UserRecord, &'a Mailbox), GraphError> {
    let user = tenant.user(key).ok_or_else(|| no_user(key))?;
    let mailbox = user.mailbox.as_ref().ok_or_else(no_mailbox)?;
    Ok((user, mailbox))
}

/// Validates `{mailFolder-id}`: a well-known name, or the id Graph gives that folder.
fn folder_name(folder: &str, owner: &str) -> Result<String, GraphError> {
    let lower = folder.to_ascii_lowercase();
    if WELL_KNOWN_FOLDERS.contains(&lower.as_str()) {
        return Ok(lower);
    }
    WELL_KNOWN_FOLDERS
        .iter()
        .find(|name| folder_id(owner, name) == folder)
        .map(|name| (*name).to_owned())
        .ok_or_else(item_not_found)
}

/// The opaque id Graph would give a folder of this mailbox.
pub(crate) fn folder_id(owner: &str, folder: &str) -> String {
    let digest = Sha256::digest(format!("{owner}/{}", folder.to_ascii_lowercase()).as_bytes());
    format!("AAMkAGI2{}AAA=", hex::encode(&digest[..18]))
}

fn recipients(addresses: &[String]) -> Value {
    Value::Array(
        addresses
            .iter()
            .map(|a| json!({"emailAddress": {"name": a, "address": a}}))
            .collect(),
    )
}

/// Renders an inbox rule as a Graph messageRule.
pub(crate) fn render_rule(owner: &str, rule: &InboxRule) -> Value {
    let c = &rule.conditions;
    let mut conditions = Map::new();
    for (key, list) in [
        ("subjectContains", &c.subject_contains),
        ("bodyContains", &c.body_contains),
        ("bodyOrSubjectContains", &c.body_or_subject_contains),
        ("senderContains", &c.sender_contains),
    ] {
        if !list.is_empty() {
            conditions.insert(key.to_owned(), json!(list));
        }
    }
    if !c.from_addresses.is_empty() {
        conditions.insert("fromAddresses".to_owned(), recipients(&c.from_addresses));
    }
    let a = &rule.actions;
    let mut actions = Map::new();
    if let Some(folder) = &a.move_to_folder {
        actions.insert("moveToFolder".to_owned(), json!(folder_id(owner, folder)));
    }
    if let Some(folder) = &a.copy_to_folder {
        actions.insert("copyToFolder".to_owned(), json!(folder_id(owner, folder)));
    }
    for (key, flag) in [
        ("delete", a.delete),
        ("permanentDelete", a.permanent_delete),
        ("markAsRead", a.mark_as_read),
    ] {
        if flag {
            actions.insert(key.to_owned(), json!(true));
        }
    }
    for (key, list) in [
        ("forwardTo", &a.forward_to),
        ("redirectTo", &a.redirect_to),
        ("forwardAsAttachmentTo", &a.forward_as_attachment_to),
    ] {
        if !list.is_empty() {
            actions.insert(key.to_owned(), recipients(list));
        }
    }
    actions.insert(
        "stopProcessingRules".to_owned(),
        json!(a.stop_processing_rules),
    );
    json!({
        "id": graph_rule_id(owner, rule),
        "displayName": rule.name,
        "sequence": rule.priority,
        "isEnabled": rule.enabled,
        "hasError": false,
        "isReadOnly": false,
        "conditions": conditions,
        "actions": actions,
    })
}

/// GET /users/{id}/mailFolders/{folder}/messageRules
pub(crate) async fn list_rules(
    ctx: Ctx,
    Path((user, folder)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_SETTINGS)?;
    ctx.refuse_options(&["select", "top"])?;
    ctx.describe("microsoft.graph.messageRule")?;
    let tenant = ctx.sim.lock_tenant();
    let (record, mailbox) = mailbox_of(&tenant, &user)?;
    let folder = folder_name(&folder, record.id())?;
    let items: Vec<Value> = if folder == "inbox" {
        mailbox
            .inbox_rules
            .iter()
            .filter(|r| !r.hidden)
            .map(|r| render_rule(record.id(), r))
            .collect()
    } else {
        Vec::new()
    };
    let page_size = ctx.page_size(usize::MAX, usize::MAX, "BadRequest")?;
    let context = format!(
        "users('{}')/mailFolders('{folder}')/messageRules",
        record.upn()
    );
    ctx.collection(&context, items, page_size, false)
}

fn find_rule<'a>(owner: &str, mailbox: &'a Mailbox, id: &str) -> Option<&'a InboxRule> {
    mailbox
        .inbox_rules
        .iter()
        .find(|r| !r.hidden && graph_rule_id(owner, r) == id)
}

/// GET /users/{id}/mailFolders/{folder}/messageRules/{rule}
pub(crate) async fn get_rule(
    ctx: Ctx,
    Path((user, folder, rule)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_SETTINGS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.messageRule")?;
    let tenant = ctx.sim.lock_tenant();
    let (record, mailbox) = mailbox_of(&tenant, &user)?;
    let folder = folder_name(&folder, record.id())?;
    let found = find_rule(record.id(), mailbox, &rule)
        .filter(|_| folder == "inbox")
        .ok_or_else(item_not_found)?;
    let context = format!(
        "users('{}')/mailFolders('{folder}')/messageRules/$entity",
        record.upn()
    );
    Ok(ctx.entity(&context, render_rule(record.id(), found)))
}

/// DELETE /users/{id}/mailFolders/{folder}/messageRules/{rule}
pub(crate) async fn delete_rule(
    ctx: Ctx,
    Path((user, folder, rule)): Path<(String, String, String)>,
) -> Result<Response, GraphError> {
    ctx.require(&WRITE_SETTINGS)?;
    let mut tenant = ctx.sim.lock_tenant();
    let (record, mailbox) = mailbox_of(&tenant, &user)?;
    let folder = folder_name(&folder, record.id())?;
    let owner = record.id().to_owned();
    let upn = record.upn().to_owned();
    let found = find_rule(&owner, mailbox, &rule)
        .filter(|_| folder == "inbox")
        .cloned()
        .ok_or_else(item_not_found)?;
    if let Some(mailbox) = tenant.user_mut(&owner).and_then(|u| u.mailbox.as_mut()) {
        mailbox
            .inbox_rules
            .retain(|r| graph_rule_id(&owner, r) != rule);
    }
    let identity = found.rule_identity.clone().unwrap_or_default();
    ctx.record(&mut tenant, StatusCode::NO_CONTENT, json!({"target": upn, "targetId": owner, "change": "removed inbox rule", "ruleIdentity": identity, "ruleName": found.name}));
    Ok(no_content())
}

fn default_settings(user: &UserRecord) -> Value {
    json!({
        "archiveFolder": folder_id(user.id(), "archive"),
        "timeZone": "GMT Standard Time",
        "dateFormat": "dd/MM/yyyy",
        "timeFormat": "HH:mm",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "userPurpose": "user",
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": "2025-01-01T00:00:00.0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2025-01-02T00:00:00.0000000", "timeZone": "UTC"}
        },
        "language": {"locale": "en-GB", "displayName": "English (United Kingdom)"},
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "GMT Standard Time"}
        }
    })
}

/// GET /users/{id}/mailboxSettings
pub(crate) async fn mailbox_settings(
    ctx: Ctx,
    Path(user): Path<String>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_SETTINGS)?;
    ctx.refuse_options(&["select"])?;
    ctx.describe("microsoft.graph.mailboxSettings")?;
    let tenant = ctx.sim.lock_tenant();
    let (record, mailbox) = mailbox_of(&tenant, &user)?;
    let mut settings = default_settings(record);
    if let (Value::Object(base), Some(Value::Object(custom))) =
        (&mut settings, &mailbox.mailbox_settings)
    {
        for (k, v) in custom {
            base.insert(k.clone(), v.clone());
        }
    }
    Ok(ctx.entity(
        &format!("users('{}')/mailboxSettings", record.upn()),
        settings,
    ))
}

/// GET /users/{id}/mailFolders/{folder}/messages
pub(crate) async fn list_messages(
    ctx: Ctx,
    Path((user, folder)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    ctx.require(&READ_MAIL)?;
    ctx.refuse_options(&["select", "top", "filter", "orderby", "skip", "count"])?;
    ctx.describe("microsoft.graph.message")?;
    ctx.check_filter(&MESSAGE_FILTER, "BadRequest")?;
    let page_size = ctx.page_size(10, 1000, "BadRequest")?;
    let with_body = ctx.has(&["Mail.Read", "Mail.ReadWrite", "Mail.Read.Shared"]);
    let tenant = ctx.sim.lock_tenant();
    let (record, mailbox) = mailbox_of(&tenant, &user)?;
    let folder = folder_name(&folder, record.id())?;
    let mut items: Vec<Value> = mailbox
        .folders
        .get(&folder)
        .map(|messages| {
            messages
                .iter()
                .filter(|m| {
                    ctx.query
                        .filter
                        .as_ref()
                        .is_none_or(|f| crate::odata::matches(f, m))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let (order, desc) = match &ctx.query.orderby {
        None => ("receivedDateTime".to_owned(), true),
        Some((prop, desc))
            if ["sentDateTime", "receivedDateTime", "subject"]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(prop)) =>
        {
            (prop.clone(), *desc)
        }
        Some((prop, _)) => {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidProperty",
                format!("The property '{prop}' does not support sorting."),
            ));
        }
    };
    items.sort_by(|a, b| {
        let key = |v: &Value| {
            v.get(order.as_str())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let ordering = key(a).cmp(&key(b));
        if desc {
            ordering.reverse()
        } else {
            ordering
        }
    });
    let parent = folder_id(record.id(), &folder);
    for item in &mut items {
        if let Value::Object(map) = item {
            map.insert("parentFolderId".to_owned(), json!(parent));
            if !with_body {
                map.remove("body");
                map.remove("uniqueBody");
            }
        }
    }
    let context = format!("users('{}')/mailFolders('{folder}')/messages", record.upn());
    ctx.collection(&context, items, page_size, ctx.query.count)
}
