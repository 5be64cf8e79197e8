//! The Exchange Online admin API (`POST /adminapi/beta/{tenant}/InvokeCommand`) and the cmdlets
//! the mailbox step needs: Get-Mailbox / Set-Mailbox (forwarding, GrantSendOnBehalfTo),
//! Get-InboxRule (with and without -IncludeHidden) / Remove-InboxRule, Get/Remove-MailboxPermission,
//! Get/Remove-RecipientPermission, Get-AcceptedDomain and Get-Recipient (who a name, object id
//! or address in those answers is). Shapes from spec/graph/endpoints.md §4.
//!
//! Values go into the JSON body (never into the URL), so a hostile rule identity cannot change
//! the request; mailbox identities are still validated as a GUID or UPN.

use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use crate::{
    client::{collect_items, Call, Client, Page, PageStream},
    odata::{build_url, UserRef},
    permissions::Operation,
    Error,
};

const MAILBOX_SELECT: &str = "Identity,UserPrincipalName,PrimarySmtpAddress,DisplayName,RecipientTypeDetails,ForwardingSmtpAddress,ForwardingAddress,DeliverToMailboxAndForward,GrantSendOnBehalfTo,AuditEnabled,StsRefreshTokensValidFrom,ExchangeGuid";
const RULE_SELECT: &str = "Identity,RuleIdentity,Name,Enabled,Priority,Description,ForwardTo,ForwardAsAttachmentTo,RedirectTo,DeleteMessage,SoftDeleteMessage,MoveToFolder,CopyToFolder,MarkAsRead,SubjectContainsWords,BodyContainsWords,SubjectOrBodyContainsWords,FromAddressContainsWords,From,StopProcessingRules";
const PERMISSION_SELECT: &str = "Identity,User,AccessRights,IsInherited,Deny,InheritanceType";
const RECIPIENT_PERMISSION_SELECT: &str =
    "Identity,Trustee,AccessRights,AccessControlType,IsInherited,InheritanceType";
const ACCEPTED_DOMAIN_SELECT: &str = "Identity,Name,DomainName,DomainType,Default";
const RECIPIENT_SELECT: &str = "Identity,Name,DisplayName,Alias,PrimarySmtpAddress,ExternalEmailAddress,ExternalDirectoryObjectId,RecipientType,RecipientTypeDetails";

/// Reads an Exchange flag that arrives as a JSON boolean, as the string `"True"`/`"False"` (any
/// case; the admin API serialises some PowerShell booleans as text), or null. Any other value
/// reads as unknown (`None`) rather than failing the whole page.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// Accepts a JSON array of strings, a single string, or null.
fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<Value>),
        Null,
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v
            .into_iter()
            .map(|x| match x {
                Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Some(OneOrMany::Null) | None => Vec::new(),
    })
}

/// A Get-Mailbox result (the forwarding and delegation properties).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Mailbox {
    /// Identity.
    pub identity: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// Primary SMTP address.
    pub primary_smtp_address: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// UserMailbox, SharedMailbox, ...
    pub recipient_type_details: Option<String>,
    /// `smtp:someone@example.net` when forwarding to an external address.
    pub forwarding_smtp_address: Option<String>,
    /// A recipient in the directory when forwarding internally.
    pub forwarding_address: Option<String>,
    /// Whether a copy stays in the mailbox.
    #[serde(default, deserialize_with = "flag")]
    pub deliver_to_mailbox_and_forward: Option<bool>,
    /// Send-on-behalf delegates.
    #[serde(default, deserialize_with = "strings")]
    pub grant_send_on_behalf_to: Vec<String>,
    /// Mailbox auditing.
    #[serde(default, deserialize_with = "flag")]
    pub audit_enabled: Option<bool>,
    /// Refresh tokens issued before this are invalid.
    pub sts_refresh_tokens_valid_from: Option<String>,
    /// Exchange GUID.
    pub exchange_guid: Option<String>,
}

impl Mailbox {
    /// Whether any mailbox-level forwarding is set.
    pub fn forwards(&self) -> bool {
        self.forwarding_smtp_address
            .as_deref()
            .is_some_and(|s| !s.is_empty())
            || self
                .forwarding_address
                .as_deref()
                .is_some_and(|s| !s.is_empty())
    }
}

/// A Get-InboxRule result (hidden rules included).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct InboxRule {
    /// Identity (what Remove-InboxRule takes).
    pub identity: Option<String>,
    /// Numeric rule identity, as sent.
    pub rule_identity: Option<Value>,
    /// Name (attacker-controlled).
    pub name: Option<String>,
    /// Enabled.
    #[serde(default, deserialize_with = "flag")]
    pub enabled: Option<bool>,
    /// Priority.
    pub priority: Option<i64>,
    /// Exchange's own description of the rule.
    pub description: Option<String>,
    /// Forward to.
    #[serde(default, deserialize_with = "strings")]
    pub forward_to: Vec<String>,
    /// Forward as attachment to.
    #[serde(default, deserialize_with = "strings")]
    pub forward_as_attachment_to: Vec<String>,
    /// Redirect to.
    #[serde(default, deserialize_with = "strings")]
    pub redirect_to: Vec<String>,
    /// Delete.
    #[serde(default, deserialize_with = "flag")]
    pub delete_message: Option<bool>,
    /// Soft delete.
    #[serde(default, deserialize_with = "flag")]
    pub soft_delete_message: Option<bool>,
    /// Move to folder.
    pub move_to_folder: Option<String>,
    /// Copy to folder.
    pub copy_to_folder: Option<String>,
    /// Mark as read.
    #[serde(default, deserialize_with = "flag")]
    pub mark_as_read: Option<bool>,
    /// Subject contains.
    #[serde(default, deserialize_with = "strings")]
    pub subject_contains_words: Vec<String>,
    /// Body contains.
    #[serde(default, deserialize_with = "strings")]
    pub body_contains_words: Vec<String>,
    /// Subject or body contains.
    #[serde(default, deserialize_with = "strings")]
    pub subject_or_body_contains_words: Vec<String>,
    /// From address contains.
    #[serde(default, deserialize_with = "strings")]
    pub from_address_contains_words: Vec<String>,
    /// From.
    #[serde(default, deserialize_with = "strings")]
    pub from: Vec<String>,
    /// Stop processing more rules.
    #[serde(default, deserialize_with = "flag")]
    pub stop_processing_rules: Option<bool>,
}

/// A Get-AcceptedDomain result: one mail domain of the organisation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AcceptedDomain {
    /// Identity.
    pub identity: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// The domain, e.g. `contoso.com`.
    pub domain_name: Option<String>,
    /// `Authoritative`, `InternalRelay` or `ExternalRelay`.
    pub domain_type: Option<String>,
    /// Whether it is the organisation's default domain.
    #[serde(default, deserialize_with = "flag")]
    pub default: Option<bool>,
}

impl AcceptedDomain {
    /// Whether mail to this domain stays with the organisation: an authoritative domain is
    /// delivered to its own mailboxes and an internal relay domain to a mail server it controls;
    /// an external relay domain is served by a server outside its control.
    pub fn internal(&self) -> bool {
        !self
            .domain_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("ExternalRelay"))
    }
}

/// A Get-Recipient result: any mail-enabled object (mailbox, mail user, mail contact, group).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Recipient {
    /// Identity (the object's name; a directory object id for objects made since 2023).
    pub identity: Option<String>,
    /// Name, as other objects refer to it.
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Primary SMTP address.
    pub primary_smtp_address: Option<String>,
    /// Where mail to a mail contact or mail user really goes (`SMTP:someone@example.net`).
    pub external_email_address: Option<String>,
    /// The Entra object id.
    pub external_directory_object_id: Option<String>,
    /// UserMailbox, MailContact, MailUniversalSecurityGroup, ...
    pub recipient_type: Option<String>,
    /// The finer kind: UserMailbox, SharedMailbox, MailContact, MailUser, GroupMailbox, ...
    pub recipient_type_details: Option<String>,
}

impl Recipient {
    /// Where mail sent to this recipient ends up: the external address of a mail contact or
    /// mail user (without its `SMTP:` prefix), else its primary SMTP address.
    pub fn delivery_address(&self) -> Option<String> {
        let external = self
            .external_email_address
            .as_deref()
            .map(|a| {
                a.split_once(':')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("smtp"))
                    .map_or(a, |(_, rest)| rest)
            })
            .filter(|a| !a.trim().is_empty());
        external
            .or(self.primary_smtp_address.as_deref())
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
    }

    /// Whether it is a group (mail-enabled security or distribution group, Microsoft 365 group).
    pub fn is_group(&self) -> bool {
        self.recipient_type_details
            .as_deref()
            .or(self.recipient_type.as_deref())
            .is_some_and(|t| t.contains("Group"))
    }
}

/// A Get-MailboxPermission entry (FullAccess and friends).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct MailboxPermission {
    /// The mailbox.
    pub identity: Option<String>,
    /// Who holds the right.
    pub user: Option<String>,
    /// e.g. FullAccess.
    #[serde(default, deserialize_with = "strings")]
    pub access_rights: Vec<String>,
    /// Inherited (not removable here).
    #[serde(default, deserialize_with = "flag")]
    pub is_inherited: Option<bool>,
    /// A deny entry.
    #[serde(default, deserialize_with = "flag")]
    pub deny: Option<bool>,
    /// Inheritance type, as sent.
    pub inheritance_type: Option<String>,
}

/// A Get-RecipientPermission entry (SendAs).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RecipientPermission {
    /// The mailbox.
    pub identity: Option<String>,
    /// Who holds the right.
    pub trustee: Option<String>,
    /// e.g. SendAs.
    #[serde(default, deserialize_with = "strings")]
    pub access_rights: Vec<String>,
    /// Allow / Deny.
    pub access_control_type: Option<String>,
    /// Inherited.
    #[serde(default, deserialize_with = "flag")]
    pub is_inherited: Option<bool>,
    /// Inheritance type, as sent.
    pub inheritance_type: Option<String>,
}

impl Client {
    fn cmdlet(
        &self,
        op: Operation,
        cmdlet: &str,
        parameters: Value,
        select: Option<&str>,
    ) -> Result<Call, Error> {
        let query = select
            .map(|s| vec![("$select", s.to_owned())])
            .unwrap_or_default();
        let url = build_url(
            &self.config().endpoints.invoke_command_url(self.tenant()),
            &[],
            &query,
        )?;
        Ok(Call::new(op, Method::POST, url)
            .json(json!({ "CmdletInput": { "CmdletName": cmdlet, "Parameters": parameters } }))
            .header("X-CmdletName", cmdlet)
            .header("X-AnchorMailbox", self.anchor_mailbox())
            .header("Prefer", "odata.maxpagesize=1000")
            .header("X-ResponseFormat", "json")
            .header("connection-id", uuid::Uuid::new_v4().to_string())
            // Exchange cmdlets are safe to repeat: a second Remove finds nothing to remove.
            .idempotent(true))
    }

    fn cmdlet_pages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        call: Result<Call, Error>,
        op: Operation,
    ) -> PageStream<T> {
        match call {
            Ok(call) => self.pages(call),
            Err(e) => self.stream_or_error(op, Err(e)),
        }
    }

    /// Get-Mailbox: the first page holds the one mailbox (raw JSON kept for the snapshot).
    pub async fn get_mailbox(&self, identity: &UserRef) -> Result<Page<Mailbox>, Error> {
        use futures_util::StreamExt;
        let call = self.cmdlet(
            Operation::ExchangeGetMailbox,
            "Get-Mailbox",
            json!({ "Identity": identity.as_str() }),
            Some(MAILBOX_SELECT),
        );
        let mut pages = self.cmdlet_pages(call, Operation::ExchangeGetMailbox);
        match pages.next().await {
            Some(page) => page,
            None => Ok(Page {
                raw: String::new(),
                items: Vec::new(),
                next_link: None,
            }),
        }
    }

    /// Get-Mailbox `-RecipientTypeDetails <kind> -ResultSize Unlimited`: every mailbox of one
    /// kind (e.g. `SharedMailbox`), with the same properties as [`Client::get_mailbox`]. Used to
    /// find the shared mailboxes a compromised account holds delegate rights on.
    pub fn list_mailboxes(&self, recipient_type_details: &str) -> PageStream<Mailbox> {
        let call = check_identity("recipient type", recipient_type_details).and_then(|()| {
            self.cmdlet(
                Operation::ExchangeGetMailbox,
                "Get-Mailbox",
                json!({ "RecipientTypeDetails": recipient_type_details, "ResultSize": "Unlimited" }),
                Some(MAILBOX_SELECT),
            )
        });
        self.cmdlet_pages(call, Operation::ExchangeGetMailbox)
    }

    /// Sends a cmdlet without output and returns Exchange's warnings (`@adminapi.warnings`), e.g.
    /// that there was nothing to remove.
    async fn run_cmdlet(&self, call: &Call) -> Result<Vec<String>, Error> {
        #[derive(Deserialize, Default)]
        struct Answer {
            #[serde(rename = "@adminapi.warnings", default)]
            warnings: Vec<String>,
        }
        let response = self.send(call).await?;
        if response.body.trim().is_empty() {
            return Ok(Vec::new());
        }
        let answer: Answer = crate::client::decode(call.op, &response.body)?;
        Ok(answer.warnings)
    }

    /// Set-Mailbox: removes mailbox-level forwarding (both kinds) and keeps delivery local.
    /// Returns Exchange's warnings.
    pub async fn clear_mailbox_forwarding(&self, identity: &UserRef) -> Result<Vec<String>, Error> {
        let call = self.cmdlet(
            Operation::ExchangeSetMailbox,
            "Set-Mailbox",
            json!({
                "Identity": identity.as_str(),
                "ForwardingSmtpAddress": null,
                "ForwardingAddress": null,
                "DeliverToMailboxAndForward": false,
            }),
            None,
        )?;
        self.run_cmdlet(&call).await
    }

    /// Set-Mailbox `-GrantSendOnBehalfTo @{remove=...}`: removes send-on-behalf delegates.
    /// Returns Exchange's warnings.
    pub async fn remove_send_on_behalf(
        &self,
        identity: &UserRef,
        delegates: &[String],
    ) -> Result<Vec<String>, Error> {
        let call = self.cmdlet(
            Operation::ExchangeSetMailbox,
            "Set-Mailbox",
            json!({
                "Identity": identity.as_str(),
                "GrantSendOnBehalfTo": {
                    "@odata.type": "#Exchange.GenericHashTable",
                    "remove": delegates,
                },
            }),
            None,
        )?;
        self.run_cmdlet(&call).await
    }

    /// Get-InboxRule `-IncludeHidden`: every rule, hidden ones too.
    pub fn get_inbox_rules(&self, mailbox: &UserRef) -> PageStream<InboxRule> {
        let call = self.cmdlet(
            Operation::ExchangeGetInboxRule,
            "Get-InboxRule",
            json!({ "Mailbox": mailbox.as_str(), "IncludeHidden": true }),
            Some(RULE_SELECT),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetInboxRule)
    }

    /// Get-InboxRule without `-IncludeHidden`: the rules Exchange shows by default. A rule the
    /// `-IncludeHidden` listing has and this one lacks is hidden.
    pub fn get_visible_inbox_rules(&self, mailbox: &UserRef) -> PageStream<InboxRule> {
        let call = self.cmdlet(
            Operation::ExchangeGetInboxRule,
            "Get-InboxRule",
            json!({ "Mailbox": mailbox.as_str() }),
            Some(RULE_SELECT),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetInboxRule)
    }

    /// Get-AcceptedDomain: every mail domain of the organisation.
    pub fn get_accepted_domains(&self) -> PageStream<AcceptedDomain> {
        let call = self.cmdlet(
            Operation::ExchangeGetAcceptedDomain,
            "Get-AcceptedDomain",
            json!({}),
            Some(ACCEPTED_DOMAIN_SELECT),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetAcceptedDomain)
    }

    /// Get-Recipient `-Identity`: the mail-enabled object a name, object id, alias or address
    /// names (a 404 when none does).
    pub async fn get_recipient(&self, identity: &str) -> Result<Page<Recipient>, Error> {
        use futures_util::StreamExt;
        check_identity("recipient", identity)?;
        let call = self.cmdlet(
            Operation::ExchangeGetRecipient,
            "Get-Recipient",
            json!({ "Identity": identity }),
            Some(RECIPIENT_SELECT),
        );
        let mut pages = self.cmdlet_pages(call, Operation::ExchangeGetRecipient);
        match pages.next().await {
            Some(page) => page,
            None => Ok(Page {
                raw: String::new(),
                items: Vec::new(),
                next_link: None,
            }),
        }
    }

    /// Remove-InboxRule for the rule `identity` (the `Identity` Get-InboxRule returned).
    /// Returns Exchange's warnings.
    ///
    /// A full identity (`owner\RuleIdentity`) already names the mailbox and is sent alone:
    /// Exchange refuses `Mailbox` beside it. A bare rule identity is sent with `Mailbox`.
    pub async fn remove_inbox_rule(
        &self,
        mailbox: &UserRef,
        identity: &str,
    ) -> Result<Vec<String>, Error> {
        check_identity("inbox rule identity", identity)?;
        let parameters = if identity.contains('\\') {
            json!({ "Identity": identity, "Confirm": false })
        } else {
            json!({ "Mailbox": mailbox.as_str(), "Identity": identity, "Confirm": false })
        };
        let call = self.cmdlet(
            Operation::ExchangeRemoveInboxRule,
            "Remove-InboxRule",
            parameters,
            None,
        )?;
        self.run_cmdlet(&call).await
    }

    /// Get-MailboxPermission: FullAccess and other mailbox rights.
    pub fn get_mailbox_permissions(&self, identity: &UserRef) -> PageStream<MailboxPermission> {
        let call = self.cmdlet(
            Operation::ExchangeGetMailboxPermission,
            "Get-MailboxPermission",
            json!({ "Identity": identity.as_str() }),
            Some(PERMISSION_SELECT),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetMailboxPermission)
    }

    /// Remove-MailboxPermission: takes `access_rights` (e.g. FullAccess) away from `user`.
    pub async fn remove_mailbox_permission(
        &self,
        identity: &UserRef,
        user: &str,
        access_rights: &[String],
    ) -> Result<Vec<String>, Error> {
        check_identity("delegate", user)?;
        let call = self.cmdlet(
            Operation::ExchangeRemoveMailboxPermission,
            "Remove-MailboxPermission",
            json!({
                "Identity": identity.as_str(),
                "User": user,
                "AccessRights": access_rights,
                "InheritanceType": "All",
                "Confirm": false,
            }),
            None,
        )?;
        self.run_cmdlet(&call).await
    }

    /// Get-RecipientPermission `-AccessRights SendAs`.
    pub fn get_recipient_permissions(&self, identity: &UserRef) -> PageStream<RecipientPermission> {
        let call = self.cmdlet(
            Operation::ExchangeGetRecipientPermission,
            "Get-RecipientPermission",
            json!({ "Identity": identity.as_str(), "AccessRights": "SendAs" }),
            Some(RECIPIENT_PERMISSION_SELECT),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetRecipientPermission)
    }

    /// Remove-RecipientPermission: takes `access_rights` (e.g. SendAs) away from `trustee`.
    pub async fn remove_recipient_permission(
        &self,
        identity: &UserRef,
        trustee: &str,
        access_rights: &[String],
    ) -> Result<Vec<String>, Error> {
        check_identity("trustee", trustee)?;
        let call = self.cmdlet(
            Operation::ExchangeRemoveRecipientPermission,
            "Remove-RecipientPermission",
            json!({
                "Identity": identity.as_str(),
                "Trustee": trustee,
                "AccessRights": access_rights,
                "Confirm": false,
            }),
            None,
        )?;
        self.run_cmdlet(&call).await
    }

    /// Every inbox rule of `mailbox` (all pages).
    pub async fn all_inbox_rules(&self, mailbox: &UserRef) -> Result<Vec<InboxRule>, Error> {
        collect_items(self.get_inbox_rules(mailbox)).await
    }
}

/// Exchange identities travel in the JSON body, so quoting is JSON's job; this only refuses
/// values no Exchange object has (empty, huge, or with control characters).
fn check_identity(what: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() || value.len() > 1024 || value.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            what,
            value: value.to_owned(),
            reason: "it is empty, too long or contains control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_values_accept_single_strings_arrays_nulls_and_annotations() {
        let rule: InboxRule = serde_json::from_str(
            r##"{"Identity":"adele\\123","Name":".","ForwardTo":"\"x\" [SMTP:x@example.net]","RedirectTo":null,
                "SubjectContainsWords":["invoice","payment"],"SubjectContainsWords@odata.type":"#Collection(String)",
                "MoveToFolder":"RSS Feeds","Enabled":true}"##,
        )
        .expect("decode");
        assert_eq!(rule.forward_to, vec!["\"x\" [SMTP:x@example.net]"]);
        assert!(rule.redirect_to.is_empty());
        assert_eq!(rule.subject_contains_words, vec!["invoice", "payment"]);
        let mailbox: Mailbox = serde_json::from_str(
            r#"{"Identity":"a","ForwardingSmtpAddress":"smtp:attacker@example.net","ForwardingAddress":null}"#,
        )
        .expect("decode");
        assert!(mailbox.forwards());
    }

    #[test]
    fn identities_with_control_characters_are_refused() {
        assert!(check_identity("rule", "adele\\1234").is_ok());
        assert!(check_identity("rule", "").is_err());
        assert!(check_identity("rule", "a\u{0}b").is_err());
    }

    #[test]
    fn exchange_flags_are_read_as_booleans_or_as_text_and_one_odd_value_does_not_fail_the_row() {
        let row: MailboxPermission = serde_json::from_value(json!({
            "Identity": "finance", "User": "lidia@contoso.example",
            "AccessRights": ["FullAccess"], "IsInherited": "False", "Deny": "True"
        }))
        .unwrap();
        assert_eq!(row.is_inherited, Some(false));
        assert_eq!(row.deny, Some(true));
        let row: MailboxPermission = serde_json::from_value(json!({
            "User": "x", "IsInherited": false, "Deny": null
        }))
        .unwrap();
        assert_eq!((row.is_inherited, row.deny), (Some(false), None));
        let rule: InboxRule = serde_json::from_value(json!({
            "Name": "r", "Enabled": "TRUE", "DeleteMessage": 1, "MarkAsRead": "false"
        }))
        .unwrap();
        assert_eq!(rule.enabled, Some(true));
        assert_eq!(
            rule.delete_message, None,
            "an odd value is unknown, not a failed page"
        );
        assert_eq!(rule.mark_as_read, Some(false));
    }
}
