//! Directory operations: users (read, list, `/me`, revoke sessions, enable/disable, password
//! reset), memberships and owned objects, service principals and app-role assignments, and OAuth2
//! permission grants (consents).

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::{
    client::{collect_items, Call, Client, PageStream},
    odata::{build_url, object_id, opaque_id, quote, UserRef},
    permissions::Operation,
    roles::TargetStanding,
    Error,
};

/// `$select` for users: what triage, containment and verification read.
pub const USER_SELECT: &str = "id,displayName,userPrincipalName,mail,accountEnabled,userType,createdDateTime,lastPasswordChangeDateTime,signInSessionsValidFromDateTime,onPremisesSyncEnabled,jobTitle,department,mobilePhone,businessPhones,otherMails";
const GRANT_SELECT: &str = "id,clientId,consentType,principalId,resourceId,scope";
pub(crate) const SP_SELECT: &str = "id,appId,displayName,accountEnabled,appOwnerOrganizationId,servicePrincipalType,signInAudience,verifiedPublisher,tags,replyUrls,keyCredentials,passwordCredentials";
const ASSIGNMENT_SELECT: &str = "id,appRoleId,createdDateTime,principalDisplayName,principalId,principalType,resourceDisplayName,resourceId";
const OBJECT_SELECT: &str = "id,displayName";

/// `microsoft.graph.user` (the selected properties).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// User principal name.
    pub user_principal_name: Option<String>,
    /// Primary SMTP address.
    pub mail: Option<String>,
    /// Whether sign-in is allowed.
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    pub user_type: Option<String>,
    /// Creation time.
    pub created_date_time: Option<DateTime<Utc>>,
    /// Last password change.
    pub last_password_change_date_time: Option<DateTime<Utc>>,
    /// Tokens issued before this instant are invalid (set by revokeSignInSessions).
    pub sign_in_sessions_valid_from_date_time: Option<DateTime<Utc>>,
    /// Whether the account is synced from on-premises AD.
    pub on_premises_sync_enabled: Option<bool>,
    /// Job title.
    pub job_title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Mobile phone.
    pub mobile_phone: Option<String>,
    /// Business phones.
    #[serde(default)]
    pub business_phones: Option<Vec<String>>,
    /// Other e-mail addresses.
    #[serde(default)]
    pub other_mails: Option<Vec<String>>,
}

/// A `microsoft.graph.directoryObject` from a polymorphic collection (memberOf, ownedObjects).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObject {
    /// `#microsoft.graph.group`, `#microsoft.graph.directoryRole`, `#microsoft.graph.servicePrincipal`, ...
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: Option<String>,
    /// A directory role's built-in template (only when read in full, see
    /// [`Client::target_standing`]).
    #[serde(default)]
    pub role_template_id: Option<String>,
    /// Whether a group can hold directory roles (only when read in full).
    #[serde(default)]
    pub is_assignable_to_role: Option<bool>,
}

/// `microsoft.graph.oAuth2PermissionGrant`: a delegated consent.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2PermissionGrant {
    /// Grant id.
    pub id: String,
    /// Object id of the client app's service principal.
    pub client_id: String,
    /// `AllPrincipals` (admin consent) or `Principal` (one user).
    pub consent_type: Option<String>,
    /// The consenting user's object id (for `Principal`).
    pub principal_id: Option<String>,
    /// Object id of the resource's service principal (e.g. Microsoft Graph).
    pub resource_id: Option<String>,
    /// Space-separated delegated scopes.
    pub scope: Option<String>,
}

/// `microsoft.graph.servicePrincipal` (the selected properties).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id.
    pub id: String,
    /// The application (client) id.
    pub app_id: Option<String>,
    /// Display name (attacker-controlled for consent-phishing apps).
    pub display_name: Option<String>,
    /// Whether the service principal can sign in.
    pub account_enabled: Option<bool>,
    /// The tenant that owns the application.
    pub app_owner_organization_id: Option<String>,
    /// `Application`, `ManagedIdentity`, ...
    pub service_principal_type: Option<String>,
    /// Audience.
    pub sign_in_audience: Option<String>,
    /// Verified publisher, as sent.
    pub verified_publisher: Option<serde_json::Value>,
    /// Tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Reply URLs.
    #[serde(default)]
    pub reply_urls: Option<Vec<String>>,
    /// Certificate credentials (metadata).
    #[serde(default)]
    pub key_credentials: Option<Vec<serde_json::Value>>,
    /// Secret credentials (metadata; Graph never returns the secret itself).
    #[serde(default)]
    pub password_credentials: Option<Vec<serde_json::Value>>,
}

/// `microsoft.graph.appRoleAssignment`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The app role granted.
    pub app_role_id: Option<String>,
    /// When it was granted.
    pub created_date_time: Option<DateTime<Utc>>,
    /// Who holds it.
    pub principal_display_name: Option<String>,
    /// Holder's object id.
    pub principal_id: Option<String>,
    /// `User`, `Group` or `ServicePrincipal`.
    pub principal_type: Option<String>,
    /// The resource app's name.
    pub resource_display_name: Option<String>,
    /// The resource's service principal id.
    pub resource_id: Option<String>,
}

/// Which grants to list from `/oauth2PermissionGrants`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// Only grants to this client service principal (object id).
    pub client_id: Option<String>,
    /// Only grants made by this user (object id).
    pub principal_id: Option<String>,
    /// Only tenant-wide admin consents (`consentType eq 'AllPrincipals'`).
    pub all_principals_only: bool,
}

impl GrantFilter {
    /// The `$filter` expression, with every value validated and quoted; `None` when unfiltered.
    pub fn to_filter(&self) -> Result<Option<String>, Error> {
        let mut parts = Vec::new();
        if let Some(c) = &self.client_id {
            parts.push(format!(
                "clientId eq {}",
                quote(object_id("client service principal id", c)?)
            ));
        }
        if let Some(p) = &self.principal_id {
            parts.push(format!(
                "principalId eq {}",
                quote(object_id("user id", p)?)
            ));
        }
        if self.all_principals_only {
            parts.push(format!("consentType eq {}", quote("AllPrincipals")));
        }
        Ok((!parts.is_empty()).then(|| parts.join(" and ")))
    }
}

impl Client {
    fn v1(&self, segments: &[&str], query: &[(&str, String)]) -> Result<url::Url, Error> {
        build_url(&self.graph_root(false), segments, query)
    }

    /// `GET /users/{id}`.
    pub async fn get_user(&self, user: &UserRef) -> Result<User, Error> {
        let url = self.v1(
            &["users", user.as_str()],
            &[("$select", USER_SELECT.into())],
        )?;
        self.fetch(&Call::new(Operation::ReadUser, Method::GET, url))
            .await
    }

    /// `GET /users`, 999 per page, optionally filtered by a `$filter` built with [`quote`].
    pub fn list_users(&self, filter: Option<&str>) -> PageStream<User> {
        let mut query = vec![
            ("$select", USER_SELECT.to_owned()),
            ("$top", "999".to_owned()),
        ];
        if let Some(f) = filter {
            query.push(("$filter", f.to_owned()));
        }
        self.stream_or_error(Operation::ListUsers, self.v1(&["users"], &query))
    }

    /// `GET /me` (delegated only): who is signed in.
    pub async fn get_me(&self) -> Result<User, Error> {
        let url = self.v1(&["me"], &[("$select", USER_SELECT.into())])?;
        self.fetch(&Call::new(Operation::ReadSignedInUser, Method::GET, url))
            .await
    }

    /// `POST /users/{id}/revokeSignInSessions`. Returns Graph's `value` (true), or true for 204.
    pub async fn revoke_sign_in_sessions(&self, user: &UserRef) -> Result<bool, Error> {
        let url = self.v1(&["users", user.as_str(), "revokeSignInSessions"], &[])?;
        let call = Call::new(Operation::RevokeSignInSessions, Method::POST, url).idempotent(true);
        let response = self.send(&call).await?;
        if response.status == 204 || response.body.trim().is_empty() {
            return Ok(true);
        }
        #[derive(Deserialize)]
        struct Answer {
            value: bool,
        }
        let answer: Answer = crate::client::decode(call.op, &response.body)?;
        Ok(answer.value)
    }

    /// `PATCH /users/{id}` with `accountEnabled` (block or allow sign-in).
    pub async fn set_account_enabled(&self, user: &UserRef, enabled: bool) -> Result<(), Error> {
        let url = self.v1(&["users", user.as_str()], &[])?;
        let call = Call::new(Operation::SetAccountEnabled, Method::PATCH, url)
            .json(json!({ "accountEnabled": enabled }));
        self.execute(&call).await
    }

    /// `PATCH /users/{id}` with `passwordProfile`. The password is sent and forgotten; it is never
    /// logged or returned.
    pub async fn reset_password(
        &self,
        user: &UserRef,
        password: &SecretString,
        force_change_next_sign_in: bool,
    ) -> Result<(), Error> {
        let url = self.v1(&["users", user.as_str()], &[])?;
        let call = Call::new(Operation::ResetPassword, Method::PATCH, url).json(json!({
            "passwordProfile": {
                "password": password.expose_secret(),
                "forceChangePasswordNextSignIn": force_change_next_sign_in,
            }
        }));
        self.execute(&call).await
    }

    /// `GET /users/{id}/memberOf`: groups, directory roles and administrative units.
    pub fn list_member_of(&self, user: &UserRef) -> PageStream<DirectoryObject> {
        let url = self.v1(
            &["users", user.as_str(), "memberOf"],
            &[("$select", OBJECT_SELECT.into())],
        );
        self.stream_or_error(Operation::ListMemberOf, url)
    }

    /// The account's directory roles and role-assignable groups (member or owner), which decide
    /// the role a write on it needs ([`crate::roles`]). Reads `memberOf` and `ownedObjects` in
    /// full: a directory role's `roleTemplateId` and a group's `isAssignableToRole` are default
    /// properties of their own types, not of the collection's `directoryObject`.
    pub async fn target_standing(&self, user: &UserRef) -> Result<TargetStanding, Error> {
        let all = |op: Operation, segment: &str| {
            let url = self.v1(&["users", user.as_str(), segment], &[]);
            collect_items::<DirectoryObject>(self.stream_or_error(op, url))
        };
        let (member_of, owned) = futures_util::future::try_join(
            all(Operation::ListMemberOf, "memberOf"),
            all(Operation::ListOwnedObjects, "ownedObjects"),
        )
        .await?;
        Ok(TargetStanding::from_objects(&member_of, &owned))
    }

    /// `GET /users/{id}/ownedObjects`: apps, service principals and groups the user owns.
    pub fn list_owned_objects(&self, user: &UserRef) -> PageStream<DirectoryObject> {
        let url = self.v1(
            &["users", user.as_str(), "ownedObjects"],
            &[("$select", OBJECT_SELECT.into())],
        );
        self.stream_or_error(Operation::ListOwnedObjects, url)
    }

    /// `GET /users/{id}/appRoleAssignments`: the apps the user is assigned to.
    pub fn list_user_app_role_assignments(&self, user: &UserRef) -> PageStream<AppRoleAssignment> {
        let url = self.v1(
            &["users", user.as_str(), "appRoleAssignments"],
            &[("$select", ASSIGNMENT_SELECT.into())],
        );
        self.stream_or_error(Operation::ReadUserAppRoleAssignments, url)
    }

    /// `GET /users/{id}/oauth2PermissionGrants`: delegated consents made by the user.
    pub fn list_user_permission_grants(&self, user: &UserRef) -> PageStream<OAuth2PermissionGrant> {
        let url = self.v1(
            &["users", user.as_str(), "oauth2PermissionGrants"],
            &[("$select", GRANT_SELECT.into())],
        );
        self.stream_or_error(Operation::ReadPermissionGrants, url)
    }

    /// `GET /oauth2PermissionGrants` with `filter`.
    pub fn list_permission_grants(
        &self,
        filter: &GrantFilter,
    ) -> PageStream<OAuth2PermissionGrant> {
        let url = filter.to_filter().and_then(|f| {
            let mut query = vec![("$select", GRANT_SELECT.to_owned())];
            if let Some(f) = f {
                query.push(("$filter", f));
            }
            self.v1(&["oauth2PermissionGrants"], &query)
        });
        self.stream_or_error(Operation::ReadPermissionGrants, url)
    }

    /// `GET /oauth2PermissionGrants/{id}`.
    pub async fn get_permission_grant(&self, id: &str) -> Result<OAuth2PermissionGrant, Error> {
        let id = opaque_id("grant id", id)?;
        let url = self.v1(
            &["oauth2PermissionGrants", id],
            &[("$select", GRANT_SELECT.into())],
        )?;
        self.fetch(&Call::new(
            Operation::ReadPermissionGrants,
            Method::GET,
            url,
        ))
        .await
    }

    /// `DELETE /oauth2PermissionGrants/{id}`: revokes the consent (tokens already issued live on).
    pub async fn delete_permission_grant(&self, id: &str) -> Result<(), Error> {
        let id = opaque_id("grant id", id)?;
        let url = self.v1(&["oauth2PermissionGrants", id], &[])?;
        self.execute(&Call::new(
            Operation::DeletePermissionGrant,
            Method::DELETE,
            url,
        ))
        .await
    }

    /// `DELETE /directoryRoles/{role}/members/{member}/$ref`: takes `member` out of the directory
    /// role `role` (the role's object id, as `memberOf` lists it). Always the `$ref` form: Graph
    /// deletes the member *object itself* when the path stops at the member and the caller may
    /// delete it (spec/graph-behaviour.md, "Removing a directory role member"). 204 No Content.
    pub async fn remove_directory_role_member(
        &self,
        role: &str,
        member: &str,
    ) -> Result<(), Error> {
        let role = object_id("directory role id", role)?;
        let member = object_id("member id", member)?;
        let url = self.v1(&["directoryRoles", role, "members", member, "$ref"], &[])?;
        self.execute(&Call::new(
            Operation::RemoveDirectoryRoleMember,
            Method::DELETE,
            url,
        ))
        .await
    }

    /// `GET /servicePrincipals/{id}` (object id, not app id).
    pub async fn get_service_principal(&self, id: &str) -> Result<ServicePrincipal, Error> {
        let id = object_id("service principal id", id)?;
        let url = self.v1(&["servicePrincipals", id], &[("$select", SP_SELECT.into())])?;
        self.fetch(&Call::new(
            Operation::ReadServicePrincipal,
            Method::GET,
            url,
        ))
        .await
    }

    /// `PATCH /servicePrincipals/{id}` with `accountEnabled: false`: no one can sign in to the app.
    pub async fn disable_service_principal(&self, id: &str) -> Result<(), Error> {
        let id = object_id("service principal id", id)?;
        let url = self.v1(&["servicePrincipals", id], &[])?;
        let call = Call::new(Operation::DisableServicePrincipal, Method::PATCH, url)
            .json(json!({ "accountEnabled": false }));
        self.execute(&call).await
    }

    /// `GET /servicePrincipals/{id}/appRoleAssignments`: application permissions the app holds.
    pub fn list_service_principal_app_role_assignments(
        &self,
        id: &str,
    ) -> PageStream<AppRoleAssignment> {
        self.sp_assignments(id, "appRoleAssignments")
    }

    /// `GET /servicePrincipals/{id}/appRoleAssignedTo`: who was granted this app's roles.
    pub fn list_service_principal_app_role_assigned_to(
        &self,
        id: &str,
    ) -> PageStream<AppRoleAssignment> {
        self.sp_assignments(id, "appRoleAssignedTo")
    }

    fn sp_assignments(&self, id: &str, leaf: &str) -> PageStream<AppRoleAssignment> {
        let url = object_id("service principal id", id).and_then(|id| {
            self.v1(
                &["servicePrincipals", id, leaf],
                &[("$select", ASSIGNMENT_SELECT.into())],
            )
        });
        self.stream_or_error(Operation::ReadServicePrincipal, url)
    }

    /// Pages from `url`, or a one-item stream with the error that prevented building it.
    pub(crate) fn stream_or_error<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        op: Operation,
        url: Result<url::Url, Error>,
    ) -> PageStream<T> {
        use futures_util::StreamExt;
        match url {
            Ok(url) => self.pages(Call::new(op, Method::GET, url)),
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_filters_quote_values_and_refuse_non_guids() {
        let f = GrantFilter {
            client_id: Some("6e7b768e-07e2-4810-8459-485f84f8f204".into()),
            principal_id: None,
            all_principals_only: true,
        };
        assert_eq!(
            f.to_filter().expect("filter").as_deref(),
            Some("clientId eq '6e7b768e-07e2-4810-8459-485f84f8f204' and consentType eq 'AllPrincipals'")
        );
        let hostile = GrantFilter {
            principal_id: Some("x' or 1 eq 1".into()),
            ..Default::default()
        };
        assert!(
            hostile.to_filter().is_err(),
            "a non-GUID principal id must never reach the filter"
        );
        assert_eq!(GrantFilter::default().to_filter().expect("none"), None);
    }
}
