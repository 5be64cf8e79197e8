//! What the procedures need from the tenant, as a trait: implemented for the Graph client (real
//! tenants and the training tenant over loopback HTTP) and by fakes in unit tests.
//!
//! Every read that a later change could destroy returns the pages exactly as received
//! ([`Fetched::pages`]) so they can be saved as evidence byte for byte.

use std::future::Future;

use chrono::{DateTime, Utc};
use firebreak_graph::{
    applications::{Application, KeyCredential},
    directory::{DirectoryObject, GrantFilter, OAuth2PermissionGrant, ServicePrincipal, User},
    exchange::{
        AcceptedDomain, InboxRule, Mailbox, MailboxPermission, Recipient, RecipientPermission,
    },
    logs::{DirectoryAudit, DirectoryAuditQuery, SignIn, SignInQuery},
    mail::Message,
    methods::{AuthenticationMethod, MethodKind, TemporaryAccessPass, TemporaryAccessPassPolicy},
    roles::{Caller, TargetStanding},
    security::{Alert, Incident, RiskDetection, RiskyUser},
    Client, Error as GraphError, Page, PageStream, Resource, SecretString, UserRef,
};
use futures_util::StreamExt;

/// How often a blast-radius check polls its Purview audit search.
pub const SEARCH_POLL: std::time::Duration = std::time::Duration::from_secs(5);
/// The longest a blast-radius check waits for one Purview audit search.
pub const SEARCH_WAIT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A Purview audit-log search and, once it succeeded, its records with the raw pages.
#[derive(Debug, Clone)]
pub struct AuditSearch {
    /// The query id Purview gave it (journaled: the evidence names it).
    pub query_id: String,
    /// `succeeded`, or where it stood when Firebreak stopped waiting (`running`, `failed` ...).
    pub status: String,
    /// Whether an earlier search of the same name was reused instead of starting a new one.
    pub reused: bool,
    /// The records, with each page's body exactly as received.
    pub records: Fetched<firebreak_graph::logs::AuditLogRecord>,
}

impl AuditSearch {
    /// Whether the search finished and its records were read.
    pub fn succeeded(&self) -> bool {
        self.status == "succeeded"
    }
}

/// Items read from the tenant with the raw body of every page they came in.
#[derive(Debug, Clone, Default)]
pub struct Fetched<T> {
    /// Each page's body exactly as the service sent it.
    pub pages: Vec<String>,
    /// The decoded items of all pages.
    pub items: Vec<T>,
}

impl<T> Fetched<T> {
    /// The same pages with the decoded items reduced to a count's worth of `()`, for code that
    /// keeps raw pages and counts regardless of the item type.
    pub fn erase(self) -> Fetched<()> {
        Fetched {
            pages: self.pages,
            items: vec![(); self.items.len()],
        }
    }

    fn from_page(page: Page<T>) -> Self {
        Self {
            pages: vec![page.raw],
            items: page.items,
        }
    }
}

/// Reads every page of `stream`.
pub async fn fetch_all<T>(mut stream: PageStream<T>) -> Result<Fetched<T>, GraphError> {
    let mut all = Fetched {
        pages: Vec::new(),
        items: Vec::new(),
    };
    while let Some(page) = stream.next().await {
        let page = page?;
        all.pages.push(page.raw);
        all.items.extend(page.items);
    }
    Ok(all)
}

/// What Exchange said about a change that went through: its warnings (`@adminapi.warnings`), e.g.
/// that there was nothing to remove or nothing was modified (spec/exchange.md, "Warnings and
/// no-ops"). Empty when it just did it.
pub type ExchangeWarnings = Vec<String>;

/// The tenant operations the procedures use. Every future is `Send` so procedures can run in
/// the application's async runtime. The Exchange changes return Exchange's warnings.
#[allow(missing_docs)] // each method is named after the Graph or Exchange operation it performs
pub trait IncidentTenant: Sync {
    /// Every shared mailbox (Get-Mailbox -RecipientTypeDetails SharedMailbox).
    fn shared_mailboxes(&self)
        -> impl Future<Output = Result<Fetched<Mailbox>, GraphError>> + Send;
    /// Runs a Purview audit-log search to the end (or until [`SEARCH_WAIT`]), reusing an earlier
    /// search of the same display name that has not failed (so planning a check and then running
    /// it waits once), and reads its records.
    fn reusable_audit_search(
        &self,
        query: &firebreak_graph::logs::NewAuditLogQuery,
    ) -> impl Future<Output = Result<AuditSearch, GraphError>> + Send;
    /// Waits `duration` on the tenant client's clock (simulated time in tests and practice).
    fn pause(&self, duration: std::time::Duration) -> impl Future<Output = ()> + Send;
    /// The user, or `Ok(None)` when no such user exists.
    fn user(&self, user: &UserRef)
        -> impl Future<Output = Result<Option<User>, GraphError>> + Send;
    /// Who is calling (the app or a signed-in admin) and the directory roles its Graph token
    /// carries (`wids`).
    fn caller(&self) -> impl Future<Output = Result<Caller, GraphError>> + Send;
    /// The account's directory roles and role-assignable groups (member or owner).
    fn target_standing(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<TargetStanding, GraphError>> + Send;
    fn revoke_sessions(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    fn set_account_enabled(
        &self,
        user: &UserRef,
        enabled: bool,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Sets `password` with change required at next sign-in.
    fn reset_password(
        &self,
        user: &UserRef,
        password: &SecretString,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    fn methods(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<Fetched<AuthenticationMethod>, GraphError>> + Send;
    fn delete_method(
        &self,
        user: &UserRef,
        kind: MethodKind,
        id: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Inbox rules including hidden ones.
    fn inbox_rules(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<Fetched<InboxRule>, GraphError>> + Send;
    /// Inbox rules as Exchange shows them by default (hidden ones left out).
    fn visible_inbox_rules(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<Fetched<InboxRule>, GraphError>> + Send;
    /// The organisation's accepted mail domains (Get-AcceptedDomain).
    fn accepted_domains(
        &self,
    ) -> impl Future<Output = Result<Fetched<AcceptedDomain>, GraphError>> + Send;
    fn remove_inbox_rule(
        &self,
        mailbox: &UserRef,
        identity: &str,
    ) -> impl Future<Output = Result<ExchangeWarnings, GraphError>> + Send;
    /// The mail-enabled object a name, object id, alias or address names (Get-Recipient), or
    /// `Ok(None)` when none does.
    fn recipient(
        &self,
        identity: &str,
    ) -> impl Future<Output = Result<Option<Fetched<Recipient>>, GraphError>> + Send;
    /// The mailbox, or `Ok(None)` when the account has none.
    fn mailbox(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<Option<Fetched<Mailbox>>, GraphError>> + Send;
    fn clear_forwarding(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<ExchangeWarnings, GraphError>> + Send;
    fn remove_send_on_behalf(
        &self,
        mailbox: &UserRef,
        trustee: &str,
    ) -> impl Future<Output = Result<ExchangeWarnings, GraphError>> + Send;
    fn mailbox_permissions(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<Fetched<MailboxPermission>, GraphError>> + Send;
    /// Removes the entry with `inheritance_type` as listed (`None`: Exchange's default, `All`).
    fn remove_mailbox_permission(
        &self,
        mailbox: &UserRef,
        user: &str,
        rights: &[String],
        inheritance_type: Option<&str>,
    ) -> impl Future<Output = Result<ExchangeWarnings, GraphError>> + Send;
    fn recipient_permissions(
        &self,
        mailbox: &UserRef,
    ) -> impl Future<Output = Result<Fetched<RecipientPermission>, GraphError>> + Send;
    fn remove_recipient_permission(
        &self,
        mailbox: &UserRef,
        trustee: &str,
        rights: &[String],
    ) -> impl Future<Output = Result<ExchangeWarnings, GraphError>> + Send;
    fn user_grants(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<Fetched<OAuth2PermissionGrant>, GraphError>> + Send;
    /// Tenant-wide (admin) consents: grants for all principals.
    fn tenant_wide_grants(
        &self,
    ) -> impl Future<Output = Result<Fetched<OAuth2PermissionGrant>, GraphError>> + Send;
    fn delete_grant(&self, id: &str) -> impl Future<Output = Result<(), GraphError>> + Send;
    fn service_principal(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ServicePrincipal>, GraphError>> + Send;
    fn disable_service_principal(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    fn sign_ins(
        &self,
        query: &SignInQuery,
    ) -> impl Future<Output = Result<Fetched<SignIn>, GraphError>> + Send;
    /// The messages of one of the mailbox's well-known folders (`sentitems`, `inbox`) sent since
    /// `since`, newest first.
    fn messages(
        &self,
        mailbox: &UserRef,
        folder: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Fetched<Message>, GraphError>> + Send;
    fn directory_audits(
        &self,
        query: &DirectoryAuditQuery,
    ) -> impl Future<Output = Result<Fetched<DirectoryAudit>, GraphError>> + Send;
    /// The user's risk state, `Ok(None)` when Identity Protection has none.
    fn risky_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<RiskyUser>, GraphError>> + Send;
    /// The user's risk state once Identity Protection has finished processing a change to it
    /// (`isProcessing` false), waiting up to two minutes; the last state seen after that.
    fn settled_risky_user(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<RiskyUser>, GraphError>> + Send;
    fn risk_detections(
        &self,
        user_id: &str,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Fetched<RiskDetection>, GraphError>> + Send;
    fn incidents(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Fetched<Incident>, GraphError>> + Send;
    fn alerts(
        &self,
        since: DateTime<Utc>,
    ) -> impl Future<Output = Result<Fetched<Alert>, GraphError>> + Send;
    fn confirm_compromised(
        &self,
        user_id: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// The tenant's Temporary Access Pass policy.
    fn temporary_access_pass_policy(
        &self,
    ) -> impl Future<Output = Result<TemporaryAccessPassPolicy, GraphError>> + Send;
    /// The groups and directory roles the user is a direct member of.
    fn member_of(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<Fetched<DirectoryObject>, GraphError>> + Send;
    /// Creates a one-time Temporary Access Pass; the pass is in the answer only.
    fn create_temporary_access_pass(
        &self,
        user: &UserRef,
        lifetime_in_minutes: u32,
    ) -> impl Future<Output = Result<TemporaryAccessPass, GraphError>> + Send;
    /// The app registration with this object id (certificate keys included) with the body as
    /// received, `Ok(None)` when there is none.
    fn application(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Fetched<Application>>, GraphError>> + Send;
    /// The apps, service principals and groups the account owns (`GET /users/{id}/ownedObjects`).
    fn owned_objects(
        &self,
        user: &UserRef,
    ) -> impl Future<Output = Result<Fetched<firebreak_graph::directory::DirectoryObject>, GraphError>>
           + Send;
    /// The app registrations with this client id (at most one, in its home tenant).
    fn applications_by_app_id(
        &self,
        app_id: &str,
    ) -> impl Future<Output = Result<Fetched<Application>, GraphError>> + Send;
    /// This tenant's service principal of a client id, `Ok(None)` when there is none.
    fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> impl Future<Output = Result<Option<ServicePrincipal>, GraphError>> + Send;
    fn remove_application_password(
        &self,
        application: &str,
        key_id: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Takes `member` out of the directory role `role` (both object ids).
    fn remove_directory_role_member(
        &self,
        role: &str,
        member: &str,
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Replaces the app registration's certificates with `keys`.
    fn set_application_key_credentials(
        &self,
        application: &str,
        keys: &[KeyCredential],
    ) -> impl Future<Output = Result<(), GraphError>> + Send;
}

// The graph crate's error is large by design (it keeps the raw body); it is returned as is.
#[allow(clippy::result_large_err)]
fn absent_on_not_found<T>(result: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl IncidentTenant for Client {
    async fn shared_mailboxes(&self) -> Result<Fetched<Mailbox>, GraphError> {
        fetch_all(self.list_mailboxes("SharedMailbox")).await
    }
    async fn reusable_audit_search(
        &self,
        query: &firebreak_graph::logs::NewAuditLogQuery,
    ) -> Result<AuditSearch, GraphError> {
        let earlier = fetch_all(self.list_audit_log_queries()).await?;
        let reusable = earlier.items.into_iter().rev().find(|q| {
            q.display_name.as_deref() == Some(query.display_name.as_str())
                && !matches!(q.status.as_deref(), Some("failed" | "cancelled"))
        });
        let (id, reused) = match reusable {
            Some(q) => (q.id, true),
            None => (self.create_audit_log_query(query).await?.id, false),
        };
        let state = self
            .wait_for_audit_log_query(&id, SEARCH_POLL, SEARCH_WAIT)
            .await?;
        let status = state.status.unwrap_or_else(|| "unknown".into());
        let records = if status == "succeeded" {
            fetch_all(self.list_audit_log_records(&id)).await?
        } else {
            Fetched {
                pages: Vec::new(),
                items: Vec::new(),
            }
        };
        Ok(AuditSearch {
            query_id: id,
            status,
            reused,
            records,
        })
    }
    async fn pause(&self, duration: std::time::Duration) {
        Client::pause(self, duration).await;
    }
    async fn user(&self, user: &UserRef) -> Result<Option<User>, GraphError> {
        absent_on_not_found(self.get_user(user).await)
    }
    async fn caller(&self) -> Result<Caller, GraphError> {
        let claims = self.token_claims(Resource::Graph).await?;
        Ok(Caller::from_claims(&claims, self.is_delegated()))
    }
    async fn target_standing(&self, user: &UserRef) -> Result<TargetStanding, GraphError> {
        Client::target_standing(self, user).await
    }
    async fn revoke_sessions(&self, user: &UserRef) -> Result<(), GraphError> {
        self.revoke_sign_in_sessions(user).await.map(|_| ())
    }
    async fn set_account_enabled(&self, user: &UserRef, enabled: bool) -> Result<(), GraphError> {
        Client::set_account_enabled(self, user, enabled).await
    }
    async fn reset_password(
        &self,
        user: &UserRef,
        password: &SecretString,
    ) -> Result<(), GraphError> {
        Client::reset_password(self, user, password, true).await
    }
    async fn methods(&self, user: &UserRef) -> Result<Fetched<AuthenticationMethod>, GraphError> {
        fetch_all(self.list_authentication_methods(user)).await
    }
    async fn delete_method(
        &self,
        user: &UserRef,
        kind: MethodKind,
        id: &str,
    ) -> Result<(), GraphError> {
        self.delete_authentication_method(user, kind, id).await
    }
    async fn inbox_rules(&self, mailbox: &UserRef) -> Result<Fetched<InboxRule>, GraphError> {
        fetch_all(self.get_inbox_rules(mailbox)).await
    }
    async fn visible_inbox_rules(
        &self,
        mailbox: &UserRef,
    ) -> Result<Fetched<InboxRule>, GraphError> {
        fetch_all(self.get_visible_inbox_rules(mailbox)).await
    }
    async fn accepted_domains(&self) -> Result<Fetched<AcceptedDomain>, GraphError> {
        fetch_all(self.get_accepted_domains()).await
    }
    async fn remove_inbox_rule(
        &self,
        mailbox: &UserRef,
        identity: &str,
    ) -> Result<ExchangeWarnings, GraphError> {
        Client::remove_inbox_rule(self, mailbox, identity).await
    }
    async fn recipient(&self, identity: &str) -> Result<Option<Fetched<Recipient>>, GraphError> {
        Ok(absent_on_not_found(self.get_recipient(identity).await)?.map(Fetched::from_page))
    }
    async fn mailbox(&self, mailbox: &UserRef) -> Result<Option<Fetched<Mailbox>>, GraphError> {
        Ok(absent_on_not_found(self.get_mailbox(mailbox).await)?.map(Fetched::from_page))
    }
    async fn clear_forwarding(&self, mailbox: &UserRef) -> Result<ExchangeWarnings, GraphError> {
        self.clear_mailbox_forwarding(mailbox).await
    }
    async fn remove_send_on_behalf(
        &self,
        mailbox: &UserRef,
        trustee: &str,
    ) -> Result<ExchangeWarnings, GraphError> {
        Client::remove_send_on_behalf(self, mailbox, &[trustee.to_owned()]).await
    }
    async fn mailbox_permissions(
        &self,
        mailbox: &UserRef,
    ) -> Result<Fetched<MailboxPermission>, GraphError> {
        fetch_all(self.get_mailbox_permissions(mailbox)).await
    }
    async fn remove_mailbox_permission(
        &self,
        mailbox: &UserRef,
        user: &str,
        rights: &[String],
        inheritance_type: Option<&str>,
    ) -> Result<ExchangeWarnings, GraphError> {
        Client::remove_mailbox_permission(self, mailbox, user, rights, inheritance_type).await
    }
    async fn recipient_permissions(
        &self,
        mailbox: &UserRef,
    ) -> Result<Fetched<RecipientPermission>, GraphError> {
        fetch_all(self.get_recipient_permissions(mailbox)).await
    }
    async fn remove_recipient_permission(
        &self,
        mailbox: &UserRef,
        trustee: &str,
        rights: &[String],
    ) -> Result<ExchangeWarnings, GraphError> {
        Client::remove_recipient_permission(self, mailbox, trustee, rights).await
    }
    async fn user_grants(
        &self,
        user: &UserRef,
    ) -> Result<Fetched<OAuth2PermissionGrant>, GraphError> {
        fetch_all(self.list_user_permission_grants(user)).await
    }
    async fn tenant_wide_grants(&self) -> Result<Fetched<OAuth2PermissionGrant>, GraphError> {
        let filter = GrantFilter {
            all_principals_only: true,
            ..GrantFilter::default()
        };
        fetch_all(self.list_permission_grants(&filter)).await
    }
    async fn delete_grant(&self, id: &str) -> Result<(), GraphError> {
        self.delete_permission_grant(id).await
    }
    async fn service_principal(&self, id: &str) -> Result<Option<ServicePrincipal>, GraphError> {
        absent_on_not_found(self.get_service_principal(id).await)
    }
    async fn disable_service_principal(&self, id: &str) -> Result<(), GraphError> {
        Client::disable_service_principal(self, id).await
    }
    async fn sign_ins(&self, query: &SignInQuery) -> Result<Fetched<SignIn>, GraphError> {
        fetch_all(self.list_sign_ins(query)).await
    }
    async fn messages(
        &self,
        mailbox: &UserRef,
        folder: &str,
        since: DateTime<Utc>,
    ) -> Result<Fetched<Message>, GraphError> {
        fetch_all(self.list_messages(mailbox, folder, Some(since))).await
    }
    async fn directory_audits(
        &self,
        query: &DirectoryAuditQuery,
    ) -> Result<Fetched<DirectoryAudit>, GraphError> {
        fetch_all(self.list_directory_audits(query)).await
    }
    async fn risky_user(&self, user_id: &str) -> Result<Option<RiskyUser>, GraphError> {
        absent_on_not_found(self.get_risky_user(user_id).await)
    }
    async fn settled_risky_user(&self, user_id: &str) -> Result<Option<RiskyUser>, GraphError> {
        let interval = std::time::Duration::from_secs(5);
        let patience = std::time::Duration::from_secs(120);
        absent_on_not_found(self.wait_for_risky_user(user_id, interval, patience).await)
    }
    async fn risk_detections(
        &self,
        user_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Fetched<RiskDetection>, GraphError> {
        fetch_all(self.list_risk_detections(Some(user_id), Some(since))).await
    }
    async fn incidents(&self, since: DateTime<Utc>) -> Result<Fetched<Incident>, GraphError> {
        fetch_all(self.list_incidents(Some(since), true)).await
    }
    async fn alerts(&self, since: DateTime<Utc>) -> Result<Fetched<Alert>, GraphError> {
        fetch_all(self.list_alerts(Some(since))).await
    }
    async fn temporary_access_pass_policy(&self) -> Result<TemporaryAccessPassPolicy, GraphError> {
        self.get_temporary_access_pass_policy().await
    }
    async fn member_of(&self, user: &UserRef) -> Result<Fetched<DirectoryObject>, GraphError> {
        fetch_all(self.list_member_of(user)).await
    }
    async fn create_temporary_access_pass(
        &self,
        user: &UserRef,
        lifetime_in_minutes: u32,
    ) -> Result<TemporaryAccessPass, GraphError> {
        Client::create_temporary_access_pass(self, user, lifetime_in_minutes, true).await
    }
    async fn confirm_compromised(&self, user_id: &str) -> Result<(), GraphError> {
        Client::confirm_compromised(self, &[user_id]).await
    }
    async fn application(&self, id: &str) -> Result<Option<Fetched<Application>>, GraphError> {
        Ok(
            absent_on_not_found(self.get_application_with_body(id).await)?.map(|(app, body)| {
                Fetched {
                    pages: vec![body],
                    items: vec![app],
                }
            }),
        )
    }
    async fn owned_objects(
        &self,
        user: &UserRef,
    ) -> Result<Fetched<firebreak_graph::directory::DirectoryObject>, GraphError> {
        fetch_all(self.list_owned_objects(user)).await
    }
    async fn applications_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Fetched<Application>, GraphError> {
        fetch_all(self.find_applications_by_app_id(app_id)).await
    }
    async fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Option<ServicePrincipal>, GraphError> {
        absent_on_not_found(self.get_service_principal_by_app_id(app_id).await)
    }
    async fn remove_application_password(
        &self,
        application: &str,
        key_id: &str,
    ) -> Result<(), GraphError> {
        Client::remove_application_password(self, application, key_id).await
    }
    async fn remove_directory_role_member(
        &self,
        role: &str,
        member: &str,
    ) -> Result<(), GraphError> {
        Client::remove_directory_role_member(self, role, member).await
    }
    async fn set_application_key_credentials(
        &self,
        application: &str,
        keys: &[KeyCredential],
    ) -> Result<(), GraphError> {
        Client::set_application_key_credentials(self, application, keys).await
    }
}
