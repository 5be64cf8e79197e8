//! The Exchange Online admin API (`POST /adminapi/beta/{tenant}/InvokeCommand`) and the cmdlets
//! the mailbox step needs: Get-Mailbox / Set-Mailbox (forwarding, GrantSendOnBehalfTo),
//! Get-InboxRule (with and without -IncludeHidden) / Remove-InboxRule, Get/Remove-MailboxPermission,
//! Get/Remove-RecipientPermission, Get-AcceptedDomain and Get-Recipient (who a name, object id
//! or address in those answers is). Shapes from spec/graph/endpoints.md §4.
//!
//! Values go into the JSON body (never into the URL), so a hostile rule identity cannot change
//! the request; mailbox identities are still validated as a GUID or UPN.
//!
//! Exchange tells more than a status (spec/exchange.md): the cause of a failure is in the error's
//! details, not its generic message ([`cause`]); a change that had nothing to do succeeds with a
//! warning (`@adminapi.warnings`, returned to the caller); a failure can arrive inside a 200
//! (`@adminapi.errors`, turned into [`Error::CmdletFailed`]).

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

/// The cause of an Exchange failure, as the error's details name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cause {
    /// The exception type, when named (`Microsoft.Exchange…ManagementObjectNotFoundException`).
    pub(crate) exception: Option<String>,
    /// The cause in Exchange's words.
    pub(crate) message: String,
}

/// Reads the cause of an Exchange error body: `error.details[0].message` (the cmdlet's own
/// `Ex<id>|<type>|<cause>` line, or a JSON object with `Message` and `TypeName`), else
/// `error.innererror.internalexception`. `None` when the body names neither (its `error.message`
/// is then all there is).
pub(crate) fn cause(raw: &str) -> Option<Cause> {
    let body: Value = serde_json::from_str(raw).ok()?;
    let error = body.get("error")?;
    let detail = error
        .get("details")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| d.get("message"))
        .and_then(Value::as_str)
        .and_then(detail_cause);
    detail.or_else(|| {
        let inner = error
            .get("innererror")
            .or_else(|| error.get("innerError"))?;
        let exception = inner.get("internalexception")?;
        let message = exception.get("message").and_then(Value::as_str)?.trim();
        (!message.is_empty()).then(|| Cause {
            exception: exception
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_owned),
            message: message.to_owned(),
        })
    })
}

/// One detail line: `Ex6F9304|Microsoft.Exchange…Exception|The operation couldn't…` (the id may
/// be empty), a JSON object `{"Message", "TypeName"}`, or plain text.
fn detail_cause(line: &str) -> Option<Cause> {
    let line = line.trim();
    if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(line) {
        let message = object.get("Message").and_then(Value::as_str)?.trim();
        return (!message.is_empty()).then(|| Cause {
            exception: object
                .get("TypeName")
                .and_then(Value::as_str)
                .map(str::to_owned),
            message: message.to_owned(),
        });
    }
    let cause = match line.splitn(3, '|').collect::<Vec<_>>().as_slice() {
        [id, exception, message]
            if (id.is_empty() || id.starts_with("Ex")) && exception.contains("Exception") =>
        {
            Cause {
                exception: Some(exception.trim().to_owned()),
                message: message.trim().to_owned(),
            }
        }
        _ => Cause {
            exception: None,
            message: line.to_owned(),
        },
    };
    (!cause.message.is_empty()).then_some(cause)
}

/// The failures a 200 answer reports in `@adminapi.errors` (each a cmdlet error line or an object
/// with a `message`), as [`Error::CmdletFailed`].
fn errors_in_success(op: Operation, raw: &str) -> Result<(), Error> {
    #[derive(Deserialize, Default)]
    struct Answer {
        #[serde(rename = "@adminapi.errors", default)]
        errors: Option<Vec<Value>>,
    }
    let answer: Answer = serde_json::from_str(raw).unwrap_or_default();
    let messages: Vec<String> = answer
        .errors
        .unwrap_or_default()
        .iter()
        .filter_map(|e| match e {
            Value::String(line) => detail_cause(line).map(|c| c.message),
            Value::Object(o) => o
                .get("message")
                .or_else(|| o.get("Message"))
                .and_then(Value::as_str)
                .and_then(detail_cause)
                .map(|c| c.message),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .collect();
    if messages.is_empty() {
        return Ok(());
    }
    Err(Error::CmdletFailed {
        operation: op,
        messages,
        raw: raw.to_owned(),
    })
}

impl Client {
    /// Builds an `InvokeCommand` call. `mailbox` is the mailbox the cmdlet acts on: the request
    /// is routed to it (`X-AnchorMailbox`), because cmdlets that work inside a mailbox (its inbox
    /// rules) fail with "Cmdlet needs proxy" when they land on another mailbox's server
    /// (spec/exchange.md, "Routing"). Organisation-wide cmdlets pass `None`.
    fn cmdlet(
        &self,
        op: Operation,
        cmdlet: &str,
        parameters: Value,
        select: Option<&str>,
        mailbox: Option<&UserRef>,
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
            .header("X-AnchorMailbox", self.anchor_for(mailbox))
            .header("Prefer", "odata.maxpagesize=1000")
            .header("X-ResponseFormat", "json")
            .header("connection-id", uuid::Uuid::new_v4().to_string())
            // Exchange cmdlets are safe to repeat: a second Remove finds nothing to remove.
            .idempotent(true))
    }

    /// Pages of a read cmdlet; a page whose 200 answer reports a failure in `@adminapi.errors`
    /// is that failure, not a (partial) result.
    fn cmdlet_pages<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        call: Result<Call, Error>,
        op: Operation,
    ) -> PageStream<T> {
        use futures_util::StreamExt;
        match call {
            Ok(call) => self
                .pages(call)
                .map(move |page| {
                    let page: Page<T> = page?;
                    errors_in_success(op, &page.raw)?;
                    Ok(page)
                })
                .boxed(),
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
            Some(identity),
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
                None,
            )
        });
        self.cmdlet_pages(call, Operation::ExchangeGetMailbox)
    }

    /// Sends a cmdlet without output and returns Exchange's warnings (`@adminapi.warnings`), e.g.
    /// that there was nothing to remove. A failure reported inside the 200 answer
    /// (`@adminapi.errors`) is an error.
    async fn run_cmdlet(&self, call: &Call) -> Result<Vec<String>, Error> {
        #[derive(Deserialize, Default)]
        struct Answer {
            #[serde(rename = "@adminapi.warnings", default)]
            warnings: Option<Vec<String>>,
        }
        let response = self.send(call).await?;
        if response.body.trim().is_empty() {
            return Ok(Vec::new());
        }
        errors_in_success(call.op, &response.body)?;
        let answer: Answer = crate::client::decode(call.op, &response.body)?;
        Ok(answer.warnings.unwrap_or_default())
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
            Some(identity),
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
            Some(identity),
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
            Some(mailbox),
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
            Some(mailbox),
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
            None,
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
            None,
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
            Some(mailbox),
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
            Some(identity),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetMailboxPermission)
    }

    /// Remove-MailboxPermission: takes `access_rights` (e.g. FullAccess) away from `user`, on the
    /// entry with this `inheritance_type` (as Get-MailboxPermission listed it; `None` for `All`,
    /// Exchange's default). An entry with another inheritance is another entry: Exchange would
    /// answer that there is nothing to remove. Returns Exchange's warnings.
    pub async fn remove_mailbox_permission(
        &self,
        identity: &UserRef,
        user: &str,
        access_rights: &[String],
        inheritance_type: Option<&str>,
    ) -> Result<Vec<String>, Error> {
        check_identity("delegate", user)?;
        let inheritance_type = inheritance_type.unwrap_or("All");
        check_identity("inheritance type", inheritance_type)?;
        let call = self.cmdlet(
            Operation::ExchangeRemoveMailboxPermission,
            "Remove-MailboxPermission",
            json!({
                "Identity": identity.as_str(),
                "User": user,
                "AccessRights": access_rights,
                "InheritanceType": inheritance_type,
                "Confirm": false,
            }),
            None,
            Some(identity),
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
            Some(identity),
        );
        self.cmdlet_pages(call, Operation::ExchangeGetRecipientPermission)
    }

    /// Remove-RecipientPermission: takes `access_rights` (e.g. SendAs) away from `trustee`.
    /// Returns Exchange's warnings.
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
            Some(identity),
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
    fn the_cause_is_read_from_the_details_then_the_internal_exception() {
        let details = r#"{"error":{"code":"InternalServerError","message":"Error executing cmdlet","details":[{"code":"Client","target":"","message":"Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found on 'EXHV-1242'."}],"innererror":{"message":"Error executing cmdlet","type":"Microsoft.Exchange.Admin.OData.Core.ODataServiceException"}}}"#;
        assert_eq!(
            cause(details),
            Some(Cause {
                exception: Some(
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
                        .into()
                ),
                message: "The operation couldn't be performed because object 'x' couldn't be found on 'EXHV-1242'.".into(),
            })
        );
        let nested = r#"{"error":{"code":"BadRequest","message":"Error executing cmdlet","details":[{"code":"Context","target":"","message":"{\"Message\":\"The object 'CN=rg' already exists.\",\"TypeName\":\"Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException\"}"}]}}"#;
        assert_eq!(
            cause(nested).map(|c| c.message),
            Some("The object 'CN=rg' already exists.".into())
        );
        let inner = r#"{"error":{"code":"BadRequest","message":"Invalid Operation","innererror":{"message":"Invalid Operation","type":"RestApiException","internalexception":{"message":"A parameter cannot be found that matches parameter name 'Identiti'.","type":"System.Management.Automation.ParameterBindingException"}}}}"#;
        assert_eq!(
            cause(inner).map(|c| c.message),
            Some("A parameter cannot be found that matches parameter name 'Identiti'.".into())
        );
        let plain = r#"{"error":{"code":"Forbidden","message":"The role assigned to application x isn't supported."}}"#;
        assert_eq!(cause(plain), None, "error.message is then all there is");
        assert_eq!(
            cause("|Microsoft.Exchange.X.FooException|Rule 'a|b' failed").map(|c| c.message),
            None,
            "not JSON: no cause"
        );
        assert_eq!(
            detail_cause("|Microsoft.Exchange.X.FooException|Rule 'a|b' failed").map(|c| c.message),
            Some("Rule 'a|b' failed".into()),
            "an empty id is still the cmdlet's line; a '|' in the cause stays"
        );
    }

    #[test]
    fn errors_inside_a_success_are_failures_and_an_empty_list_is_not() {
        let op = Operation::ExchangeRemoveMailboxPermission;
        assert!(errors_in_success(op, r#"{"value":[],"@adminapi.warnings":[]}"#).is_ok());
        assert!(errors_in_success(op, r#"{"value":[],"@adminapi.errors":[]}"#).is_ok());
        let err = errors_in_success(
            op,
            r#"{"value":[],"@adminapi.errors":["Ex1|Microsoft.Exchange.Data.Directory.ADOperationException|Active Directory operation failed.",{"message":"second"}]}"#,
        )
        .unwrap_err();
        match &err {
            Error::CmdletFailed { messages, raw, .. } => {
                assert_eq!(messages, &["Active Directory operation failed.", "second"]);
                assert!(raw.contains("@adminapi.errors"));
            }
            other => panic!("{other:?}"),
        }
        assert!(err
            .to_string()
            .contains("Active Directory operation failed."));
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
