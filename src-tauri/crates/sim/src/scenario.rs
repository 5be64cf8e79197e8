//! The scenario format: a tenant, an incident played out in it, the attacker's plan and the answer
//! key. Directory and log entities are written exactly as Graph returns them (JSON objects, so a
//! trainer can paste what Graph Explorer shows); properties left out get the defaults listed in
//! SCENARIOS.md. Mailbox state (rules, forwarding, delegates) is written once in a neutral form and
//! rendered both as Graph `messageRule`s and as Exchange `Get-InboxRule` output.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::SimError;
use crate::faults::Faults;

/// The shipped scenarios, embedded in the binary.
/// Incidents the generator found the response failing on, kept under a name (issue 19): each
/// file holds the parts (`incident::Parts`) the scenario is composed from, not the scenario.
const GENERATED: &[(&str, &str)] = &[
    (
        "free-tenant-flagged-hop",
        include_str!("../scenarios/generated/free-tenant-flagged-hop.json"),
    ),
    (
        "colleague-vpn-in-range",
        include_str!("../scenarios/generated/colleague-vpn-in-range.json"),
    ),
    (
        "send-on-behalf-second-account",
        include_str!("../scenarios/generated/send-on-behalf-second-account.json"),
    ),
    (
        "attacker-makes-global-admin",
        include_str!("../scenarios/generated/attacker-makes-global-admin.json"),
    ),
    (
        "free-tenant-admin-reset-hop",
        include_str!("../scenarios/generated/free-tenant-admin-reset-hop.json"),
    ),
    (
        "flagged-hop-method-before-rule",
        include_str!("../scenarios/generated/flagged-hop-method-before-rule.json"),
    ),
    (
        "entry-reset-the-flagged-hop",
        include_str!("../scenarios/generated/entry-reset-the-flagged-hop.json"),
    ),
    (
        "short-history-hop",
        include_str!("../scenarios/generated/short-history-hop.json"),
    ),
    (
        "app-secret-beyond-audit-reach",
        include_str!("../scenarios/generated/app-secret-beyond-audit-reach.json"),
    ),
    (
        "free-tenant-entry-found-by-mail",
        include_str!("../scenarios/generated/free-tenant-entry-found-by-mail.json"),
    ),
    (
        "office-range-typos",
        include_str!("../scenarios/generated/office-range-typos.json"),
    ),
];

/// Shipped scenarios that are not incidents: a tenant for the readiness check and one for load.
const NOT_INCIDENTS: &[&str] = &["large-tenant", "readiness-gaps"];

const BUILTIN: &[(&str, &str)] = &[
    ("aitm", include_str!("../scenarios/aitm.json")),
    ("mfa-fatigue", include_str!("../scenarios/mfa-fatigue.json")),
    (
        "password-spray",
        include_str!("../scenarios/password-spray.json"),
    ),
    (
        "consent-phishing",
        include_str!("../scenarios/consent-phishing.json"),
    ),
    (
        "service-account",
        include_str!("../scenarios/service-account.json"),
    ),
    (
        "shared-mailbox-delegate",
        include_str!("../scenarios/shared-mailbox-delegate.json"),
    ),
    ("bec", include_str!("../scenarios/bec.json")),
    ("aitm-p1", include_str!("../scenarios/aitm-p1.json")),
    (
        "second-hop-p1",
        include_str!("../scenarios/second-hop-p1.json"),
    ),
    (
        "undated-methods",
        include_str!("../scenarios/undated-methods.json"),
    ),
    (
        "privileged-helpdesk",
        include_str!("../scenarios/privileged-helpdesk.json"),
    ),
    (
        "readiness-gaps",
        include_str!("../scenarios/readiness-gaps.json"),
    ),
    (
        "large-tenant",
        include_str!("../scenarios/large-tenant.json"),
    ),
    (
        "app-secret-persistence",
        include_str!("../scenarios/app-secret-persistence.json"),
    ),
    (
        "tenant-consent",
        include_str!("../scenarios/tenant-consent.json"),
    ),
];

/// A parsed scenario: a tenant, an incident in it, the attacker's plan and the answer key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) briefing: String,
    pub(crate) now: DateTime<Utc>,
    pub(crate) tenant: TenantInfo,
    pub(crate) app: AppRegistration,
    #[serde(default)]
    pub(crate) users: Vec<UserEntry>,
    /// The organisation's emergency-access (break-glass) accounts, by user principal name: what
    /// the organisation settings name for a real tenant. Firebreak never acts on them.
    #[serde(default)]
    pub(crate) break_glass: Vec<String>,
    #[serde(default)]
    pub(crate) groups: Vec<Value>,
    /// Organisational contacts (Graph `orgContact`); one with a `mail` address is an Exchange
    /// mail contact, whose mail goes to that address.
    #[serde(default)]
    pub(crate) contacts: Vec<Value>,
    #[serde(default)]
    pub(crate) directory_roles: Vec<Value>,
    #[serde(default)]
    pub(crate) service_principals: Vec<Value>,
    /// App registrations (Graph `application` objects, with their `passwordCredentials` and
    /// `keyCredentials`).
    #[serde(default)]
    pub(crate) applications: Vec<Value>,
    #[serde(default)]
    pub(crate) oauth2_permission_grants: Vec<Value>,
    #[serde(default)]
    pub(crate) app_role_assignments: Vec<Value>,
    #[serde(default)]
    pub(crate) sign_ins: Vec<Value>,
    #[serde(default)]
    pub(crate) directory_audits: Vec<Value>,
    #[serde(default)]
    pub(crate) risky_users: Vec<Value>,
    #[serde(default)]
    pub(crate) risk_detections: Vec<Value>,
    #[serde(default)]
    pub(crate) incidents: Vec<Value>,
    #[serde(default)]
    pub(crate) alerts: Vec<Value>,
    #[serde(default)]
    pub(crate) audit_records: Vec<Value>,
    /// Power Automate flows and other objects no Graph operation serves; kept for the debrief.
    #[serde(default)]
    pub(crate) flows: Vec<Value>,
    #[serde(default)]
    pub(crate) attacker: AttackerPlan,
    #[serde(default)]
    pub(crate) answer_key: AnswerKey,
    #[serde(default)]
    pub(crate) faults: Faults,
    #[serde(default)]
    pub(crate) generator: Option<GeneratorSpec>,
    #[serde(default)]
    pub(crate) audit_query: AuditQueryTiming,
    /// Seconds during which a read after a write still answers the property's previous value
    /// (spec/graph-behaviour.md, "Read-after-write consistency"); 0, the default, for none.
    #[serde(default)]
    pub(crate) replication_lag_seconds: u32,
}

/// The tenant's identity and licences.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TenantInfo {
    pub(crate) id: String,
    pub(crate) domain: String,
    #[serde(default)]
    pub(crate) display_name: String,
    #[serde(default)]
    pub(crate) licences: Licences,
    /// The Temporary Access Pass policy of the authentication methods policy.
    #[serde(default)]
    pub(crate) temporary_access_pass: TapPolicy,
    /// Seconds Identity Protection takes to process a `confirmCompromised` (the risky user shows
    /// `isProcessing` until then).
    #[serde(default = "default_risk_processing_seconds")]
    pub(crate) risk_processing_seconds: i64,
    /// Accounts synchronised from on-premises Active Directory (users with
    /// `onPremisesSyncEnabled: true`) and how the tenant signs them in.
    #[serde(default)]
    pub(crate) hybrid: Hybrid,
}

/// A hybrid tenant's Entra Connect settings (spec/graph-behaviour.md, "Synchronised accounts").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Hybrid {
    /// `passwordHashSync`, `passThrough` or `federated`: with the last two, sign-in checks the
    /// password in Active Directory.
    #[serde(default = "password_hash_sync")]
    pub(crate) authentication: String,
    /// Whether a cloud password change is accepted for a synchronised account.
    #[serde(default)]
    pub(crate) password_writeback: bool,
    /// Minutes between synchronisation cycles (Entra Connect's default is 30).
    #[serde(default = "thirty")]
    pub(crate) sync_interval_minutes: i64,
}

impl Default for Hybrid {
    fn default() -> Self {
        Self {
            authentication: password_hash_sync(),
            password_writeback: false,
            sync_interval_minutes: thirty(),
        }
    }
}

fn password_hash_sync() -> String {
    "passwordHashSync".to_owned()
}
fn thirty() -> i64 {
    30
}

fn default_risk_processing_seconds() -> i64 {
    10
}

/// The tenant's Temporary Access Pass policy (`temporaryAccessPassAuthenticationMethodConfiguration`);
/// the defaults are Entra's documented ones except that the method is enabled for all users.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TapPolicy {
    /// `enabled` or `disabled`.
    #[serde(default = "enabled")]
    pub(crate) state: String,
    #[serde(default = "one_hour")]
    pub(crate) default_lifetime_in_minutes: i64,
    #[serde(default = "one_hour")]
    pub(crate) minimum_lifetime_in_minutes: i64,
    #[serde(default = "eight_hours")]
    pub(crate) maximum_lifetime_in_minutes: i64,
    #[serde(default)]
    pub(crate) is_usable_once: bool,
    /// Group ids whose members may get a pass; `all_users` for everyone.
    #[serde(default = "all_users")]
    pub(crate) include_groups: Vec<String>,
    /// Group ids whose members may not.
    #[serde(default)]
    pub(crate) exclude_groups: Vec<String>,
}

impl Default for TapPolicy {
    fn default() -> Self {
        Self {
            state: enabled(),
            default_lifetime_in_minutes: one_hour(),
            minimum_lifetime_in_minutes: one_hour(),
            maximum_lifetime_in_minutes: eight_hours(),
            is_usable_once: false,
            include_groups: all_users(),
            exclude_groups: Vec::new(),
        }
    }
}

fn enabled() -> String {
    "enabled".to_owned()
}
fn one_hour() -> i64 {
    60
}
fn eight_hours() -> i64 {
    480
}
fn all_users() -> Vec<String> {
    vec!["all_users".to_owned()]
}

/// Which licences the tenant has; they decide what the logs APIs answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Licences {
    #[serde(default = "yes")]
    pub(crate) entra_id_p1: bool,
    #[serde(default)]
    pub(crate) entra_id_p2: bool,
    #[serde(default)]
    pub(crate) audit_premium: bool,
}

impl Default for Licences {
    fn default() -> Self {
        Self {
            entra_id_p1: true,
            entra_id_p2: false,
            audit_premium: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// The app registration the admin created for incident response.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AppRegistration {
    pub(crate) client_id: String,
    #[serde(default)]
    pub(crate) display_name: String,
    /// Training data, not a real secret: the scenario's client secret.
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    /// PEM certificates registered on the app (more can be uploaded through `/_sim/`).
    #[serde(default)]
    pub(crate) certificates: Vec<String>,
    /// Application permissions with admin consent (Graph ones, plus `Exchange.ManageAsApp`).
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    /// Entra roles held by the app's service principal (names, e.g. "Exchange Administrator").
    #[serde(default)]
    pub(crate) entra_roles: Vec<String>,
    /// Delegated permissions consented for the device-code sign-in.
    #[serde(default)]
    pub(crate) delegated_scopes: Vec<String>,
    #[serde(default)]
    pub(crate) service_principal_id: Option<String>,
}

/// One user: the Graph user object plus what hangs off it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UserEntry {
    pub(crate) user: Map<String, Value>,
    #[serde(default)]
    pub(crate) authentication_methods: Vec<Value>,
    #[serde(default)]
    pub(crate) mailbox: Option<Mailbox>,
    /// Ids of groups and directory roles the user is a member of.
    #[serde(default)]
    pub(crate) member_of: Vec<String>,
    /// Ids of service principals and groups the user owns.
    #[serde(default)]
    pub(crate) owned_objects: Vec<String>,
    /// The id of the method Entra treats as the user's default sign-in method (what Graph's beta
    /// `signInPreferences` would name); it cannot be deleted while other methods remain.
    #[serde(default)]
    pub(crate) default_method: Option<String>,
}

/// An Exchange Online mailbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Mailbox {
    #[serde(default = "user_mailbox")]
    pub(crate) recipient_type_details: String,
    #[serde(default)]
    pub(crate) forwarding_smtp_address: Option<String>,
    #[serde(default)]
    pub(crate) forwarding_address: Option<String>,
    #[serde(default)]
    pub(crate) deliver_to_mailbox_and_forward: bool,
    #[serde(default)]
    pub(crate) grant_send_on_behalf_to: Vec<String>,
    #[serde(default = "yes")]
    pub(crate) audit_enabled: bool,
    #[serde(default)]
    pub(crate) inbox_rules: Vec<InboxRule>,
    #[serde(default)]
    pub(crate) permissions: Vec<MailboxPermission>,
    #[serde(default)]
    pub(crate) recipient_permissions: Vec<RecipientPermission>,
    /// Messages by well-known folder name (`inbox`, `sentitems`, ...), as Graph `message` JSON.
    #[serde(default)]
    pub(crate) folders: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    pub(crate) mailbox_settings: Option<Value>,
}

fn user_mailbox() -> String {
    "UserMailbox".to_owned()
}

/// An inbox rule, rendered as a Graph `messageRule` and as Exchange `Get-InboxRule` output.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct InboxRule {
    /// The Exchange `RuleIdentity` (a 64-bit number as text); derived from the name when absent.
    #[serde(default)]
    pub(crate) rule_identity: Option<String>,
    pub(crate) name: String,
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    #[serde(default)]
    pub(crate) priority: u32,
    /// Hidden rules are invisible to Graph and to `Get-InboxRule` without `-IncludeHidden`.
    #[serde(default)]
    pub(crate) hidden: bool,
    #[serde(default)]
    pub(crate) created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) conditions: RuleConditions,
    #[serde(default)]
    pub(crate) actions: RuleActions,
}

/// The conditions of an inbox rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RuleConditions {
    #[serde(default)]
    pub(crate) subject_contains: Vec<String>,
    #[serde(default)]
    pub(crate) body_contains: Vec<String>,
    #[serde(default)]
    pub(crate) body_or_subject_contains: Vec<String>,
    #[serde(default)]
    pub(crate) sender_contains: Vec<String>,
    #[serde(default)]
    pub(crate) from_addresses: Vec<String>,
}

/// The actions of an inbox rule.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RuleActions {
    #[serde(default)]
    pub(crate) move_to_folder: Option<String>,
    #[serde(default)]
    pub(crate) copy_to_folder: Option<String>,
    #[serde(default)]
    pub(crate) delete: bool,
    #[serde(default)]
    pub(crate) permanent_delete: bool,
    #[serde(default)]
    pub(crate) mark_as_read: bool,
    #[serde(default)]
    pub(crate) forward_to: Vec<String>,
    #[serde(default)]
    pub(crate) redirect_to: Vec<String>,
    #[serde(default)]
    pub(crate) forward_as_attachment_to: Vec<String>,
    #[serde(default)]
    pub(crate) stop_processing_rules: bool,
}

/// A mailbox permission (Get-MailboxPermission row).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MailboxPermission {
    pub(crate) user: String,
    pub(crate) access_rights: Vec<String>,
    #[serde(default)]
    pub(crate) is_inherited: bool,
    #[serde(default)]
    pub(crate) deny: bool,
    /// How the right reaches the mailbox's folders (`All` when absent, as Add-MailboxPermission
    /// grants it by default); a removal must name the same (spec/exchange.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) inheritance_type: Option<String>,
}

/// A recipient permission (Get-RecipientPermission row, i.e. SendAs).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RecipientPermission {
    pub(crate) trustee: String,
    pub(crate) access_rights: Vec<String>,
    #[serde(default)]
    pub(crate) is_inherited: bool,
}

/// What the attacker holds at the scenario's start and how they behave afterwards.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AttackerPlan {
    #[serde(default)]
    pub(crate) ip_addresses: Vec<String>,
    /// The autonomous system number of the network the attacker's own sign-ins come from
    /// (beta `autonomousSystemNumber`), when the scenario says it.
    #[serde(default)]
    pub(crate) asn: Option<i64>,
    /// Graph `signInLocation` used for the attacker's sign-ins.
    #[serde(default)]
    pub(crate) location: Option<Value>,
    /// Graph `deviceDetail` used for the attacker's sign-ins.
    #[serde(default)]
    pub(crate) device_detail: Option<Value>,
    #[serde(default)]
    pub(crate) compromised: Vec<CompromisedAccount>,
    #[serde(default)]
    pub(crate) malicious_apps: Vec<MaliciousApp>,
    /// The method the attacker registers when a reset leaves their session alive (Graph JSON).
    #[serde(default)]
    pub(crate) new_method: Option<Value>,
    #[serde(default = "default_forwarded_per_hour")]
    pub(crate) forwarded_per_hour: u32,
    #[serde(default = "default_register_after")]
    pub(crate) register_method_after_minutes: i64,
    #[serde(default = "default_reset_back_after")]
    pub(crate) reset_back_in_after_minutes: i64,
}

impl Default for AttackerPlan {
    fn default() -> Self {
        Self {
            ip_addresses: Vec::new(),
            asn: None,
            location: None,
            device_detail: None,
            compromised: Vec::new(),
            malicious_apps: Vec::new(),
            new_method: None,
            forwarded_per_hour: default_forwarded_per_hour(),
            register_method_after_minutes: default_register_after(),
            reset_back_in_after_minutes: default_reset_back_after(),
        }
    }
}

fn default_forwarded_per_hour() -> u32 {
    4
}
fn default_register_after() -> i64 {
    3
}
fn default_reset_back_after() -> i64 {
    45
}

/// An account whose session the attacker holds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CompromisedAccount {
    pub(crate) user_id: String,
    /// When the attacker's session began (refresh tokens issued from then on are theirs).
    pub(crate) session_since: DateTime<Utc>,
    /// Mail items the attacker reads per hour while the session lives.
    #[serde(default = "default_reads_per_hour")]
    pub(crate) reads_per_hour: u32,
    /// The client the attacker's token was issued to (default: OfficeHome).
    #[serde(default = "default_attacker_client")]
    pub(crate) app_id: String,
    #[serde(default = "default_attacker_client_name")]
    pub(crate) app_display_name: String,
    /// How long an access token issued to the attacker lives after its last refresh: revoking
    /// sessions or resetting the password does not end it before then (default 75 minutes, the
    /// average of Entra's 60–90).
    #[serde(default = "default_access_token_minutes")]
    pub(crate) access_token_minutes: i64,
    /// Whether the attacker's client and the resource honour continuous access evaluation: then
    /// a revocation, a password reset or disabling the account ends the access token at once.
    #[serde(default)]
    pub(crate) cae_capable: bool,
    /// Whether the attacker knows the account's password as it is at the start (phished or
    /// sprayed): until it is reset, the score counts it as a credential the attacker holds.
    #[serde(default = "default_knows_password")]
    pub(crate) knows_password: bool,
    /// The address the attacker uses for this account (default: the first of `ipAddresses`).
    #[serde(default)]
    pub(crate) ip_address: Option<String>,
    /// Addresses the attacker's session rotates among during the exercise, one per hour in turn
    /// (a VPN or proxy pool); empty: always `ipAddress`.
    #[serde(default)]
    pub(crate) ip_addresses: Vec<String>,
    /// The session id (beta `sessionId`) of the stolen session: the attacker's token refreshes
    /// carry it, as the sign-ins of one session do.
    #[serde(default)]
    pub(crate) session_id: Option<String>,
}

fn default_reads_per_hour() -> u32 {
    12
}
fn default_attacker_client() -> String {
    "4765445b-32c6-49b0-83e6-1d93765276ca".to_owned()
}
fn default_attacker_client_name() -> String {
    "OfficeHome".to_owned()
}
fn default_access_token_minutes() -> i64 {
    75
}
fn default_knows_password() -> bool {
    true
}

/// A consented app the attacker controls; it reads mail while its grant and tokens live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MaliciousApp {
    pub(crate) service_principal_id: String,
    pub(crate) user_id: String,
    #[serde(default = "default_reads_per_hour")]
    pub(crate) reads_per_hour: u32,
}

/// The answer key: which artefacts are the attacker's and which legitimate ones must survive.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AnswerKey {
    /// The kind of compromise the scenario plays (aitm, mfaFatigue, ...).
    #[serde(default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) compromised_users: Vec<String>,
    #[serde(default)]
    pub(crate) attacker: Vec<Artefact>,
    #[serde(default)]
    pub(crate) legitimate: Vec<Artefact>,
    /// Addresses legitimate users sign in from that a careless rule could call the attacker's (a
    /// traveller's hotel, a VPN exit on the attacker's provider, the office): naming one as
    /// attacker infrastructure counts against a response.
    #[serde(default)]
    pub(crate) legitimate_addresses: Vec<LegitimateAddress>,
    /// What the attacker already took before the exercise began (the debrief's "what was lost").
    #[serde(default)]
    pub(crate) lost: Vec<Loss>,
    #[serde(default)]
    pub(crate) notes: String,
}

/// An address a legitimate user signs in from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegitimateAddress {
    /// The IP address.
    pub address: String,
    /// Whose it is, where it is one user's.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Why it is legitimate.
    #[serde(default)]
    pub description: String,
}

/// Mail the attacker forwarded, sent or read before the exercise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Loss {
    /// Whose mail.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `forwarded`, `sent` or `read`.
    pub what: String,
    /// How many messages.
    pub count: u32,
    /// Where it went, if anywhere.
    #[serde(default)]
    pub to: Option<String>,
    /// In words.
    #[serde(default)]
    pub description: String,
}

/// One artefact of the answer key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Artefact {
    pub(crate) kind: ArtefactKind,
    /// The user (or mailbox owner) the artefact belongs to, where it belongs to one.
    #[serde(default)]
    pub(crate) user_id: Option<String>,
    /// The artefact's id: method id, rule identity, grant id, SP id, trustee, forwarding address,
    /// or `<application object id>/<keyId>` for an application credential.
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) description: String,
}

impl Artefact {
    /// For an application credential: the application's object id and the credential's keyId.
    pub(crate) fn application_credential(&self) -> Option<(&str, &str)> {
        (self.kind == ArtefactKind::ApplicationCredential)
            .then(|| self.id.split_once('/'))
            .flatten()
    }
}

/// The kinds of artefact the score knows how to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ArtefactKind {
    /// A sign-in method on the user (`id` = the method's id).
    AuthenticationMethod,
    /// An inbox rule (`id` = the rule's identity).
    InboxRule,
    /// The mailbox's forwarding (`id` = the address it forwards to).
    MailboxForwarding,
    /// FullAccess on the mailbox (`id` = the trustee).
    MailboxPermission,
    /// SendAs on the mailbox (`id` = the trustee).
    RecipientPermission,
    /// Send on behalf of the mailbox (`id` = the delegate).
    SendOnBehalf,
    /// A delegated permission grant (`id` = the grant's id).
    Oauth2PermissionGrant,
    /// An app in the tenant (`id` = the service principal's id).
    ServicePrincipal,
    /// An account (`id` = its object id): the attacker's own, or a legitimate one that must not
    /// be treated as compromised.
    User,
    /// A secret or certificate on an app registration (`id` = `<application object id>/<keyId>`).
    ApplicationCredential,
    /// The user's membership of a directory role (`id` = the role's object id).
    DirectoryRoleMembership,
}

/// Settings of the large-tenant generator (see generator.rs).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct GeneratorSpec {
    pub(crate) seed: u64,
    pub(crate) users: u32,
    pub(crate) days: u32,
    pub(crate) sign_ins: u64,
    pub(crate) audit_records: u64,
}

/// How long a Purview audit query takes in simulated time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AuditQueryTiming {
    pub(crate) running_after_seconds: i64,
    pub(crate) succeeded_after_seconds: i64,
}

impl Default for AuditQueryTiming {
    fn default() -> Self {
        Self {
            running_after_seconds: 10,
            succeeded_after_seconds: 90,
        }
    }
}

impl Scenario {
    /// Loads a shipped scenario by name ("aitm", "mfa-fatigue", ...).
    pub fn builtin(name: &str) -> Result<Scenario, SimError> {
        if let Some((_, text)) = GENERATED.iter().find(|(n, _)| *n == name) {
            return Scenario::from_parts_file(text);
        }
        let text = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| *text)
            .ok_or_else(|| SimError::UnknownScenario {
                name: name.to_owned(),
            })?;
        Scenario::from_json(text)
    }

    /// The names of the shipped scenarios that are incidents to respond to: all but the tenants
    /// shipped for the readiness check and for load (`readiness-gaps`, `large-tenant`).
    pub fn builtin_incident_names() -> Vec<&'static str> {
        Self::builtin_names()
            .into_iter()
            .filter(|n| !NOT_INCIDENTS.contains(n))
            .collect()
    }

    /// The names of the shipped scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN
            .iter()
            .chain(GENERATED)
            .map(|(name, _)| *name)
            .collect()
    }

    /// A shipped generated incident: its name, title and briefing, and the parts it is composed
    /// from (`scenarios/generated/*.json`).
    fn from_parts_file(text: &str) -> Result<Scenario, SimError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Named {
            name: String,
            title: String,
            briefing: String,
            parts: crate::incident::Parts,
        }
        let named: Named = serde_json::from_str(text)?;
        let mut scenario = crate::incident::compose(&named.parts)?;
        scenario.name = named.name;
        scenario.title = named.title;
        scenario.briefing = named.briefing;
        Ok(scenario)
    }

    /// Loads a scenario from a JSON file.
    pub fn from_path(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::ReadScenario {
            path: path.display().to_string(),
            source,
        })?;
        Scenario::from_json(&text)
    }

    /// Parses and checks a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario, SimError> {
        let scenario: Scenario = serde_json::from_str(text)?;
        scenario.check()?;
        Ok(scenario)
    }

    /// The scenario's short name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A one-line title for the scenario card.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// What the trainee is told at the start (the call, the alert).
    pub fn briefing(&self) -> &str {
        &self.briefing
    }

    /// The tenant id (GUID).
    /// Whether the tenant has Entra ID P1 (without it, Graph refuses to read sign-in logs).
    pub fn entra_id_p1(&self) -> bool {
        self.tenant.licences.entra_id_p1
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant.id
    }

    /// The tenant's primary `*.onmicrosoft.com` domain.
    pub fn tenant_domain(&self) -> &str {
        &self.tenant.domain
    }

    /// The incident-response app registration's client id.
    pub fn client_id(&self) -> &str {
        &self.app.client_id
    }

    /// The app's client secret (training data written in the scenario file, not a real secret).
    pub fn client_secret(&self) -> Option<&str> {
        self.app.client_secret.as_deref()
    }

    /// The simulated time at which the scenario starts.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The organisation's emergency-access accounts the scenario names (`breakGlass`).
    pub fn break_glass_accounts(&self) -> &[String] {
        &self.break_glass
    }

    /// The user principal names of the scenario's users, in file order.
    pub fn user_principal_names(&self) -> Vec<String> {
        self.users
            .iter()
            .filter_map(|u| u.user.get("userPrincipalName").and_then(Value::as_str))
            .map(str::to_owned)
            .collect()
    }

    /// Checks references and uniqueness so that a broken file fails at load, not mid-exercise.
    pub(crate) fn check(&self) -> Result<(), SimError> {
        let bad = |msg: String| Err(SimError::InvalidScenario(msg));
        if !is_guid(&self.tenant.id) {
            return bad(format!("tenant.id '{}' is not a GUID", self.tenant.id));
        }
        if !is_guid(&self.app.client_id) {
            return bad(format!(
                "app.clientId '{}' is not a GUID",
                self.app.client_id
            ));
        }
        let mut ids = HashSet::new();
        let mut upns = HashSet::new();
        for entry in &self.users {
            let Some(id) = entry.user.get("id").and_then(Value::as_str) else {
                return bad("a user has no \"id\"".to_owned());
            };
            let Some(upn) = entry.user.get("userPrincipalName").and_then(Value::as_str) else {
                return bad(format!("user {id} has no \"userPrincipalName\""));
            };
            if !ids.insert(id.to_owned()) {
                return bad(format!("user id {id} appears twice"));
            }
            if !upns.insert(upn.to_lowercase()) {
                return bad(format!("userPrincipalName {upn} appears twice"));
            }
            for method in &entry.authentication_methods {
                if method.get("@odata.type").and_then(Value::as_str).is_none()
                    || method.get("id").and_then(Value::as_str).is_none()
                {
                    return bad(format!(
                        "a method of user {id} lacks \"id\" or \"@odata.type\""
                    ));
                }
            }
        }
        for account in &self.break_glass {
            if !upns.contains(&account.to_lowercase()) {
                return bad(format!(
                    "breakGlass names {account}, which is not a user of the scenario"
                ));
            }
        }
        let directory_ids: HashSet<&str> = self
            .groups
            .iter()
            .chain(&self.directory_roles)
            .chain(&self.service_principals)
            .chain(&self.applications)
            .filter_map(|v| v.get("id").and_then(Value::as_str))
            .collect();
        for entry in &self.users {
            for target in entry.member_of.iter().chain(&entry.owned_objects) {
                if !directory_ids.contains(target.as_str()) {
                    return bad(format!(
                        "memberOf/ownedObjects refers to unknown object {target}"
                    ));
                }
            }
        }
        for (what, list) in [
            ("servicePrincipals", &self.service_principals),
            ("applications", &self.applications),
            ("oauth2PermissionGrants", &self.oauth2_permission_grants),
            ("signIns", &self.sign_ins),
            ("directoryAudits", &self.directory_audits),
            ("incidents", &self.incidents),
            ("alerts", &self.alerts),
            ("auditRecords", &self.audit_records),
            ("riskDetections", &self.risk_detections),
            ("riskyUsers", &self.risky_users),
        ] {
            let mut seen = HashSet::new();
            for item in list {
                let Some(id) = item.get("id").and_then(Value::as_str) else {
                    return bad(format!("an entry of {what} has no \"id\""));
                };
                if !seen.insert(id) {
                    return bad(format!("{what} id {id} appears twice"));
                }
            }
        }
        for account in &self.attacker.compromised {
            if !ids.contains(&account.user_id) {
                return bad(format!(
                    "attacker.compromised names unknown user {}",
                    account.user_id
                ));
            }
        }
        for artefact in self
            .answer_key
            .attacker
            .iter()
            .chain(&self.answer_key.legitimate)
        {
            if let Some(user) = &artefact.user_id {
                if !ids.contains(user) {
                    return bad(format!("answer key names unknown user {user}"));
                }
            }
            if artefact.kind == ArtefactKind::DirectoryRoleMembership {
                let role_known = self
                    .directory_roles
                    .iter()
                    .any(|r| r.get("id").and_then(Value::as_str) == Some(artefact.id.as_str()));
                if !role_known || artefact.user_id.is_none() {
                    return bad(format!(
                        "the directory role membership {} needs a userId and the id of a role of \"directoryRoles\"",
                        artefact.id
                    ));
                }
            }
            if artefact.kind == ArtefactKind::ApplicationCredential {
                let known = artefact.application_credential().is_some_and(|(app, _)| {
                    self.applications
                        .iter()
                        .any(|a| a.get("id").and_then(Value::as_str) == Some(app))
                });
                if !known {
                    return bad(format!(
                        "the application credential {} must be written <application object id>/<keyId> with an application of \"applications\"",
                        artefact.id
                    ));
                }
            }
        }
        Ok(())
    }
}

/// True when `text` is a GUID in the 8-4-4-4-12 form.
pub(crate) fn is_guid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_scenario_loads() {
        for name in Scenario::builtin_names() {
            let scenario = Scenario::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(scenario.name(), name, "file name and \"name\" agree");
        }
    }

    #[test]
    fn the_example_in_scenarios_md_loads() {
        let doc = include_str!("../SCENARIOS.md");
        let start = doc
            .find("## A scenario a trainer can copy")
            .expect("example section");
        let block = &doc[start..];
        let json_start = block.find("```json\n").expect("json block") + "```json\n".len();
        let json_end = block[json_start..].find("```").expect("end of block") + json_start;
        let scenario =
            Scenario::from_json(&block[json_start..json_end]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scenario.name(), "my-forwarding-drill");
    }

    #[test]
    fn unknown_scenario_is_named_in_the_error() {
        let err = Scenario::builtin("nope").unwrap_err();
        assert!(err.to_string().contains("'nope'"), "{err}");
    }

    #[test]
    fn duplicate_user_ids_are_rejected() {
        let text = r#"{"name":"x","now":"2025-01-01T00:00:00Z",
          "tenant":{"id":"00000000-0000-0000-0000-000000000001","domain":"x.onmicrosoft.com"},
          "app":{"clientId":"00000000-0000-0000-0000-000000000002"},
          "users":[{"user":{"id":"a","userPrincipalName":"a@x"}},{"user":{"id":"a","userPrincipalName":"b@x"}}]}"#;
        let err = Scenario::from_json(text).unwrap_err();
        assert!(err.to_string().contains("appears twice"), "{err}");
    }

    #[test]
    fn guid_check_accepts_only_the_canonical_form() {
        assert!(is_guid("5f0ad8e9-1b7b-4f3a-9d8e-3c2b1a0f9e8d"));
        assert!(!is_guid("5f0ad8e91b7b4f3a9d8e3c2b1a0f9e8d"));
        assert!(!is_guid("../../etc/passwd-aaaa-bbbb-cccc-dddd"));
    }
}
