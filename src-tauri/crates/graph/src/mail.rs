//! Outlook through Graph: inbox rules (`messageRules`), mailbox settings, and messages in a folder.
//! Every request here passes the per-mailbox gate (4 concurrent requests per mailbox).

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use crate::{
    client::{Call, Client, PageStream},
    odata::{build_url, datetime, opaque_id, UserRef},
    permissions::Operation,
    Error,
};

const RULE_SELECT: &str =
    "id,displayName,sequence,isEnabled,hasError,isReadOnly,conditions,actions,exceptions";
const SETTINGS_SELECT: &str = "automaticRepliesSetting,archiveFolder,timeZone,language,delegateMeetingMessageDeliveryOptions,userPurpose";
const MESSAGE_SELECT: &str = "id,subject,sentDateTime,receivedDateTime,from,sender,toRecipients,ccRecipients,bccRecipients,replyTo,internetMessageId,conversationId,hasAttachments,isRead,isDraft,parentFolderId,webLink";

/// `microsoft.graph.emailAddress`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddress {
    /// Display name (attacker-controlled).
    pub name: Option<String>,
    /// SMTP address.
    pub address: Option<String>,
}

/// `microsoft.graph.recipient`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// The address.
    pub email_address: Option<EmailAddress>,
}

/// `microsoft.graph.messageRuleActions` (the properties the suspicious-rule checks read).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRuleActions {
    /// Forward to.
    pub forward_to: Option<Vec<Recipient>>,
    /// Forward as attachment to.
    pub forward_as_attachment_to: Option<Vec<Recipient>>,
    /// Redirect to.
    pub redirect_to: Option<Vec<Recipient>>,
    /// Move to this folder id.
    pub move_to_folder: Option<String>,
    /// Copy to this folder id.
    pub copy_to_folder: Option<String>,
    /// Move to Deleted Items.
    pub delete: Option<bool>,
    /// Delete permanently.
    pub permanent_delete: Option<bool>,
    /// Mark as read.
    pub mark_as_read: Option<bool>,
    /// Stop processing more rules.
    pub stop_processing_rules: Option<bool>,
    /// Categories to assign.
    pub assign_categories: Option<Vec<String>>,
    /// Importance to set.
    pub mark_importance: Option<String>,
}

/// `microsoft.graph.messageRulePredicates` (the properties the suspicious-rule checks read; the
/// full definition is in the page's raw JSON).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageRulePredicates {
    /// Subject contains any of.
    pub subject_contains: Option<Vec<String>>,
    /// Body contains any of.
    pub body_contains: Option<Vec<String>>,
    /// Body or subject contains any of.
    pub body_or_subject_contains: Option<Vec<String>>,
    /// From any of.
    pub from_addresses: Option<Vec<Recipient>>,
    /// Sender contains any of.
    pub sender_contains: Option<Vec<String>>,
    /// Recipient contains any of.
    pub recipient_contains: Option<Vec<String>>,
    /// Header contains any of.
    pub header_contains: Option<Vec<String>>,
    /// Has attachments.
    pub has_attachments: Option<bool>,
}

/// `microsoft.graph.messageRule`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MessageRule {
    /// Rule id.
    pub id: String,
    /// Name (attacker-controlled; "." and one-letter names are a tell).
    pub display_name: Option<String>,
    /// Order.
    pub sequence: Option<i64>,
    /// Enabled.
    pub is_enabled: Option<bool>,
    /// In error.
    pub has_error: Option<bool>,
    /// Read-only.
    pub is_read_only: Option<bool>,
    /// Conditions.
    pub conditions: Option<MessageRulePredicates>,
    /// Actions.
    pub actions: Option<MessageRuleActions>,
    /// Exceptions.
    pub exceptions: Option<MessageRulePredicates>,
}

/// `microsoft.graph.mailboxSettings` (does not include SMTP forwarding: that is Exchange's).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MailboxSettings {
    /// Automatic replies, as sent.
    pub automatic_replies_setting: Option<serde_json::Value>,
    /// Archive folder id.
    pub archive_folder: Option<String>,
    /// Time zone.
    pub time_zone: Option<String>,
    /// Language, as sent.
    pub language: Option<serde_json::Value>,
    /// Meeting message delivery for delegates.
    pub delegate_meeting_message_delivery_options: Option<String>,
    /// `user`, `shared`, ...
    pub user_purpose: Option<String>,
}

/// `microsoft.graph.message` (headers only; no body is read).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Message id.
    pub id: String,
    /// Subject (attacker-controlled).
    pub subject: Option<String>,
    /// Sent.
    pub sent_date_time: Option<DateTime<Utc>>,
    /// Received.
    pub received_date_time: Option<DateTime<Utc>>,
    /// From.
    pub from: Option<Recipient>,
    /// Sender.
    pub sender: Option<Recipient>,
    /// To.
    pub to_recipients: Option<Vec<Recipient>>,
    /// Cc.
    pub cc_recipients: Option<Vec<Recipient>>,
    /// Bcc.
    pub bcc_recipients: Option<Vec<Recipient>>,
    /// Reply-To.
    pub reply_to: Option<Vec<Recipient>>,
    /// Internet Message-ID.
    pub internet_message_id: Option<String>,
    /// Conversation.
    pub conversation_id: Option<String>,
    /// Has attachments.
    pub has_attachments: Option<bool>,
    /// Read.
    pub is_read: Option<bool>,
    /// Draft.
    pub is_draft: Option<bool>,
    /// Folder id.
    pub parent_folder_id: Option<String>,
    /// Outlook on the web link.
    pub web_link: Option<String>,
}

impl Client {
    fn rules_url(&self, user: &UserRef, id: Option<&str>, select: bool) -> Result<url::Url, Error> {
        let mut segments = vec![
            "users",
            user.as_str(),
            "mailFolders",
            "inbox",
            "messageRules",
        ];
        if let Some(id) = id {
            segments.push(opaque_id("inbox rule id", id)?);
        }
        let query = if select {
            vec![("$select", RULE_SELECT.to_owned())]
        } else {
            Vec::new()
        };
        build_url(&self.graph_root(false), &segments, &query)
    }

    /// `GET /users/{id}/mailFolders/inbox/messageRules` (Graph does not show hidden rules: use
    /// [`Client::get_inbox_rules`] for those).
    pub fn list_message_rules(&self, user: &UserRef) -> PageStream<MessageRule> {
        match self.rules_url(user, None, true) {
            Ok(url) => self.pages(
                Call::new(Operation::ReadMessageRules, Method::GET, url).mailbox(user.as_str()),
            ),
            Err(e) => self.stream_or_error(Operation::ReadMessageRules, Err(e)),
        }
    }

    /// `GET /users/{id}/mailFolders/inbox/messageRules/{id}`, decoded and raw.
    pub async fn get_message_rule(
        &self,
        user: &UserRef,
        id: &str,
    ) -> Result<(MessageRule, String), Error> {
        let url = self.rules_url(user, Some(id), true)?;
        self.fetch_raw(
            &Call::new(Operation::ReadMessageRules, Method::GET, url).mailbox(user.as_str()),
        )
        .await
    }

    /// `DELETE /users/{id}/mailFolders/inbox/messageRules/{id}`.
    pub async fn delete_message_rule(&self, user: &UserRef, id: &str) -> Result<(), Error> {
        let url = self.rules_url(user, Some(id), false)?;
        self.execute(
            &Call::new(Operation::DeleteMessageRule, Method::DELETE, url).mailbox(user.as_str()),
        )
        .await
    }

    /// `GET /users/{id}/mailboxSettings`, decoded and raw.
    pub async fn get_mailbox_settings(
        &self,
        user: &UserRef,
    ) -> Result<(MailboxSettings, String), Error> {
        let url = build_url(
            &self.graph_root(false),
            &["users", user.as_str(), "mailboxSettings"],
            &[("$select", SETTINGS_SELECT.into())],
        )?;
        self.fetch_raw(
            &Call::new(Operation::ReadMailboxSettings, Method::GET, url).mailbox(user.as_str()),
        )
        .await
    }

    /// `GET /users/{id}/mailFolders/{folder}/messages`, newest first, 1,000 per page, sent since
    /// `since` (e.g. folder `sentitems` to review what the attacker sent).
    pub fn list_messages(
        &self,
        user: &UserRef,
        folder: &str,
        since: Option<DateTime<Utc>>,
    ) -> PageStream<Message> {
        let url = opaque_id("mail folder", folder).and_then(|folder| {
            let mut query = vec![
                ("$select", MESSAGE_SELECT.to_owned()),
                ("$top", "1000".to_owned()),
                ("$orderby", "sentDateTime desc".to_owned()),
            ];
            if let Some(since) = since {
                query.push(("$filter", format!("sentDateTime ge {}", datetime(since))));
            }
            build_url(
                &self.graph_root(false),
                &["users", user.as_str(), "mailFolders", folder, "messages"],
                &query,
            )
        });
        match url {
            Ok(url) => self
                .pages(Call::new(Operation::ListMessages, Method::GET, url).mailbox(user.as_str())),
            Err(e) => self.stream_or_error(Operation::ListMessages, Err(e)),
        }
    }
}
