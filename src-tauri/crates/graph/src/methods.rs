//! Authentication methods: the polymorphic list, each kind's list/get/delete, and creating a
//! Temporary Access Pass for recovery.
//!
//! spec/graph/endpoints.md: these endpoints support no query options, so no `$select` is sent here.

use chrono::{DateTime, Utc};
use reqwest::Method;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::{
    client::{Call, Client, PageStream},
    odata::{build_url, opaque_id, UserRef},
    permissions::Operation,
    Error,
};

/// A kind of authentication method, i.e. one `/authentication/<kind>Methods` collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// Phone (SMS / voice).
    Phone,
    /// Microsoft Authenticator app.
    MicrosoftAuthenticator,
    /// FIDO2 security key / passkey.
    Fido2,
    /// Software OATH token.
    SoftwareOath,
    /// Temporary Access Pass.
    TemporaryAccessPass,
    /// E-mail (self-service password reset only).
    Email,
    /// Windows Hello for Business.
    WindowsHelloForBusiness,
    /// The password (cannot be deleted).
    Password,
    /// Platform credential (macOS platform SSO), beta only.
    PlatformCredential,
}

impl MethodKind {
    /// Every kind.
    pub const ALL: [MethodKind; 9] = [
        MethodKind::Phone,
        MethodKind::MicrosoftAuthenticator,
        MethodKind::Fido2,
        MethodKind::SoftwareOath,
        MethodKind::TemporaryAccessPass,
        MethodKind::Email,
        MethodKind::WindowsHelloForBusiness,
        MethodKind::Password,
        MethodKind::PlatformCredential,
    ];

    /// The collection's path segment.
    pub fn segment(self) -> &'static str {
        match self {
            MethodKind::Phone => "phoneMethods",
            MethodKind::MicrosoftAuthenticator => "microsoftAuthenticatorMethods",
            MethodKind::Fido2 => "fido2Methods",
            MethodKind::SoftwareOath => "softwareOathMethods",
            MethodKind::TemporaryAccessPass => "temporaryAccessPassMethods",
            MethodKind::Email => "emailMethods",
            MethodKind::WindowsHelloForBusiness => "windowsHelloForBusinessMethods",
            MethodKind::Password => "passwordMethods",
            MethodKind::PlatformCredential => "platformCredentialMethods",
        }
    }

    /// The `@odata.type` of methods of this kind.
    pub fn odata_type(self) -> &'static str {
        match self {
            MethodKind::Phone => "#microsoft.graph.phoneAuthenticationMethod",
            MethodKind::MicrosoftAuthenticator => {
                "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod"
            }
            MethodKind::Fido2 => "#microsoft.graph.fido2AuthenticationMethod",
            MethodKind::SoftwareOath => "#microsoft.graph.softwareOathAuthenticationMethod",
            MethodKind::TemporaryAccessPass => {
                "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
            }
            MethodKind::Email => "#microsoft.graph.emailAuthenticationMethod",
            MethodKind::WindowsHelloForBusiness => {
                "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"
            }
            MethodKind::Password => "#microsoft.graph.passwordAuthenticationMethod",
            MethodKind::PlatformCredential => {
                "#microsoft.graph.platformCredentialAuthenticationMethod"
            }
        }
    }

    /// The kind of an `@odata.type`.
    pub fn from_odata_type(odata_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.odata_type() == odata_type)
    }

    /// Whether the collection exists only on the beta endpoint.
    pub fn beta_only(self) -> bool {
        self == MethodKind::PlatformCredential
    }

    /// Whether a method of this kind can be deleted (the password cannot).
    pub fn deletable(self) -> bool {
        self != MethodKind::Password
    }
}

/// `microsoft.graph.authenticationMethod` and its subtypes: the common properties, typed; the
/// kind-specific ones (phoneNumber, deviceTag, model, emailAddress, ...) kept as sent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationMethod {
    /// `#microsoft.graph.<kind>AuthenticationMethod`.
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    /// Method id.
    pub id: String,
    /// When it was registered (absent for some kinds).
    pub created_date_time: Option<DateTime<Utc>>,
    /// Device or key name, where the kind has one (attacker-controlled).
    pub display_name: Option<String>,
    /// Every other property, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl AuthenticationMethod {
    /// The method's kind, from its `@odata.type`.
    pub fn kind(&self) -> Option<MethodKind> {
        self.odata_type
            .as_deref()
            .and_then(MethodKind::from_odata_type)
    }
}

/// The Temporary Access Pass just created. The pass itself is a secret: it is shown to the admin
/// once (to hand to the user) and never stored, logged or serialised.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPass {
    /// Method id.
    pub id: String,
    /// When it was created.
    pub created_date_time: Option<DateTime<Utc>>,
    /// When it becomes usable.
    pub start_date_time: Option<DateTime<Utc>>,
    /// Lifetime in minutes.
    pub lifetime_in_minutes: Option<u32>,
    /// Whether it works only once.
    pub is_usable_once: Option<bool>,
    /// Whether it can be used now.
    pub is_usable: Option<bool>,
    /// Why it can or cannot be used.
    pub method_usability_reason: Option<String>,
    /// The pass.
    pub temporary_access_pass: Option<SecretString>,
}

/// The tenant's Temporary Access Pass policy
/// (`temporaryAccessPassAuthenticationMethodConfiguration`): whether a pass can be issued, to whom
/// and for how long.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TemporaryAccessPassPolicy {
    /// `enabled` or `disabled`.
    pub state: Option<String>,
    /// The lifetime a pass gets when none is asked for.
    pub default_lifetime_in_minutes: Option<u32>,
    /// The shortest lifetime a pass may have.
    pub minimum_lifetime_in_minutes: Option<u32>,
    /// The longest lifetime a pass may have.
    pub maximum_lifetime_in_minutes: Option<u32>,
    /// Whether every pass is one-time.
    pub is_usable_once: Option<bool>,
    /// Who may get a pass (`all_users` or group ids).
    #[serde(default)]
    pub include_targets: Vec<PolicyTarget>,
    /// Groups who may not.
    #[serde(default)]
    pub exclude_targets: Vec<PolicyTarget>,
}

/// A group (or `all_users`) a policy includes or excludes.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTarget {
    /// The group's object id, or `all_users`.
    pub id: String,
    /// `group` or `user`.
    pub target_type: Option<String>,
}

impl TemporaryAccessPassPolicy {
    /// Whether the method is turned on.
    pub fn is_enabled(&self) -> bool {
        self.state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("enabled"))
    }

    /// Whether the policy includes every user.
    pub fn includes_all_users(&self) -> bool {
        self.include_targets
            .iter()
            .any(|t| t.id.eq_ignore_ascii_case("all_users"))
    }

    /// Whether a user in the groups `member_of` (object ids) may hold a pass.
    pub fn covers(&self, member_of: &[String]) -> bool {
        let member = |t: &PolicyTarget| member_of.iter().any(|g| g.eq_ignore_ascii_case(&t.id));
        (self.includes_all_users() || self.include_targets.iter().any(member))
            && !self.exclude_targets.iter().any(member)
    }

    /// Whether a pass of `minutes` is within the policy's bounds (unknown bounds allow it).
    pub fn allows_lifetime(&self, minutes: u32) -> bool {
        self.minimum_lifetime_in_minutes
            .is_none_or(|m| minutes >= m)
            && self
                .maximum_lifetime_in_minutes
                .is_none_or(|m| minutes <= m)
    }
}

impl Client {
    /// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`.
    pub async fn get_temporary_access_pass_policy(
        &self,
    ) -> Result<TemporaryAccessPassPolicy, Error> {
        let url = build_url(
            &self.graph_root(false),
            &[
                "policies",
                "authenticationMethodsPolicy",
                "authenticationMethodConfigurations",
                "TemporaryAccessPass",
            ],
            &[],
        )?;
        self.fetch(&Call::new(
            Operation::ReadTemporaryAccessPassPolicy,
            Method::GET,
            url,
        ))
        .await
    }

    fn methods_url(
        &self,
        user: &UserRef,
        kind: Option<MethodKind>,
        id: Option<&str>,
    ) -> Result<url::Url, Error> {
        let beta = kind.is_some_and(MethodKind::beta_only);
        let mut segments = vec!["users", user.as_str(), "authentication"];
        segments.push(kind.map_or("methods", MethodKind::segment));
        if let Some(id) = id {
            segments.push(opaque_id("authentication method id", id)?);
        }
        build_url(&self.graph_root(beta), &segments, &[])
    }

    /// `GET /users/{id}/authentication/methods`: every method, polymorphic.
    pub fn list_authentication_methods(&self, user: &UserRef) -> PageStream<AuthenticationMethod> {
        self.stream_or_error(
            Operation::ReadAuthenticationMethods,
            self.methods_url(user, None, None),
        )
    }

    /// `GET /users/{id}/authentication/{kind}Methods`.
    pub fn list_methods_of_kind(
        &self,
        user: &UserRef,
        kind: MethodKind,
    ) -> PageStream<AuthenticationMethod> {
        use futures_util::{StreamExt, TryStreamExt};
        // Items of a typed collection may omit `@odata.type`: fill it in from the collection.
        let pages: PageStream<AuthenticationMethod> = self.stream_or_error(
            Operation::ReadAuthenticationMethods,
            self.methods_url(user, Some(kind), None),
        );
        pages
            .map_ok(move |mut page| {
                for m in &mut page.items {
                    m.odata_type
                        .get_or_insert_with(|| kind.odata_type().to_owned());
                }
                page
            })
            .boxed()
    }

    /// `GET /users/{id}/authentication/{kind}Methods/{id}` (or `/methods/{id}` when `kind` is
    /// `None`).
    pub async fn get_authentication_method(
        &self,
        user: &UserRef,
        kind: Option<MethodKind>,
        id: &str,
    ) -> Result<AuthenticationMethod, Error> {
        let url = self.methods_url(user, kind, Some(id))?;
        self.fetch(&Call::new(
            Operation::ReadAuthenticationMethods,
            Method::GET,
            url,
        ))
        .await
    }

    /// `DELETE /users/{id}/authentication/{kind}Methods/{id}`. The password method is refused
    /// locally: no such DELETE exists.
    pub async fn delete_authentication_method(
        &self,
        user: &UserRef,
        kind: MethodKind,
        id: &str,
    ) -> Result<(), Error> {
        if !kind.deletable() {
            return Err(Error::InvalidInput {
                what: "authentication method",
                value: id.to_owned(),
                reason: "a password method cannot be deleted; reset the password instead",
            });
        }
        let url = self.methods_url(user, Some(kind), Some(id))?;
        self.execute(&Call::new(
            Operation::DeleteAuthenticationMethod,
            Method::DELETE,
            url,
        ))
        .await
    }

    /// `POST /users/{id}/authentication/temporaryAccessPassMethods`. Not retried after a dropped
    /// connection (a second pass might be created).
    pub async fn create_temporary_access_pass(
        &self,
        user: &UserRef,
        lifetime_in_minutes: u32,
        is_usable_once: bool,
    ) -> Result<TemporaryAccessPass, Error> {
        let url = self.methods_url(user, Some(MethodKind::TemporaryAccessPass), None)?;
        let call = Call::new(Operation::CreateTemporaryAccessPass, Method::POST, url).json(
            json!({ "lifetimeInMinutes": lifetime_in_minutes, "isUsableOnce": is_usable_once }),
        );
        let response = self.send(&call).await?;
        // Never keep the raw body: it holds the pass.
        serde_json::from_str(&response.body).map_err(|e| Error::Decode {
            operation: call.op,
            detail: e.to_string(),
            raw: "(withheld: the response contains the Temporary Access Pass)".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_kinds_round_trip_through_their_odata_type() {
        for kind in MethodKind::ALL {
            assert_eq!(MethodKind::from_odata_type(kind.odata_type()), Some(kind));
        }
        assert_eq!(
            MethodKind::from_odata_type("#microsoft.graph.unknownMethod"),
            None
        );
    }

    #[test]
    fn a_polymorphic_method_keeps_its_kind_specific_properties() {
        let m: AuthenticationMethod = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.phoneAuthenticationMethod","id":"3179e48a-750b-4051-897c-87b9720928f7","phoneNumber":"+1 2065555555","phoneType":"mobile","newField":1}"##,
        )
        .expect("decode");
        assert_eq!(m.kind(), Some(MethodKind::Phone));
        assert_eq!(m.other["phoneNumber"], "+1 2065555555");
    }

    #[test]
    fn the_temporary_access_pass_is_redacted_in_debug_output() {
        let tap: TemporaryAccessPass = serde_json::from_str(
            r#"{"id":"x","temporaryAccessPass":"TAPSECRET123","lifetimeInMinutes":60}"#,
        )
        .expect("decode");
        let text = format!("{tap:?}");
        assert!(!text.contains("TAPSECRET123"), "{text}");
    }
}
