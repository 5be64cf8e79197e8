//! The live state of the simulated tenant, built from a [`Scenario`]: directory objects, mailboxes,
//! logs, the audit queries asked so far, the attacker, and the log of every change received.
//! Everything here is plain data behind one short-lived lock held by the server; nothing awaits
//! while holding it.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::attacker::AttackerState;
use crate::clock::{graph_time, parse_time};
use crate::generator::Generated;
use crate::replication::Replication;
use crate::scenario::{
    AnswerKey, AppRegistration, AuditQueryTiming, InboxRule, Mailbox, RuleActions, RuleConditions,
    Scenario, TenantInfo,
};
use crate::token::RegisteredCert;

/// The fixed id of the password authentication method (Graph documents it as constant).
pub(crate) const PASSWORD_METHOD_ID: &str = "28c10230-6103-485e-b985-444c60001490";

/// One user with what hangs off it.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) user: Map<String, Value>,
    pub(crate) methods: Vec<Value>,
    pub(crate) mailbox: Option<Mailbox>,
    pub(crate) member_of: Vec<String>,
    pub(crate) owned_objects: Vec<String>,
    /// The id of the user's default sign-in method, when the scenario names one.
    pub(crate) default_method: Option<String>,
}

impl UserRecord {
    pub(crate) fn id(&self) -> &str {
        self.user
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn upn(&self) -> &str {
        self.user
            .get("userPrincipalName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn display_name(&self) -> &str {
        self.user
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub(crate) fn account_enabled(&self) -> bool {
        self.user
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }

    /// Refresh tokens issued before this instant are dead (revokeSignInSessions / password change).
    pub(crate) fn sessions_valid_from(&self) -> Option<DateTime<Utc>> {
        self.user
            .get("signInSessionsValidFromDateTime")
            .and_then(Value::as_str)
            .and_then(parse_time)
    }
}

/// A Purview audit search created through POST /security/auditLog/queries.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    pub(crate) body: Map<String, Value>,
    pub(crate) created: DateTime<Utc>,
    /// Which workloads the creating token could search (AuditLogsQuery-* permissions).
    pub(crate) workloads: Vec<String>,
}

impl AuditQuery {
    pub(crate) fn id(&self) -> &str {
        self.body
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The status at simulated time `now`: notStarted → running → succeeded.
    pub(crate) fn status(&self, now: DateTime<Utc>, timing: &AuditQueryTiming) -> &'static str {
        let age = now - self.created;
        if age >= Duration::seconds(timing.succeeded_after_seconds) {
            "succeeded"
        } else if age >= Duration::seconds(timing.running_after_seconds) {
            "running"
        } else {
            "notStarted"
        }
    }
}

/// The whole simulated tenant.
pub(crate) struct Tenant {
    pub(crate) scenario_name: String,
    pub(crate) info: TenantInfo,
    pub(crate) app: AppRegistration,
    pub(crate) certificates: Vec<RegisteredCert>,
    pub(crate) users: Vec<UserRecord>,
    pub(crate) groups: Vec<Value>,
    pub(crate) contacts: Vec<Value>,
    pub(crate) directory_roles: Vec<Value>,
    pub(crate) service_principals: Vec<Value>,
    pub(crate) applications: Vec<Value>,
    pub(crate) grants: Vec<Value>,
    pub(crate) app_role_assignments: Vec<Value>,
    pub(crate) sign_ins: Vec<Value>,
    pub(crate) directory_audits: Vec<Value>,
    pub(crate) risky_users: Vec<Value>,
    pub(crate) risk_detections: Vec<Value>,
    pub(crate) incidents: Vec<Value>,
    pub(crate) alerts: Vec<Value>,
    pub(crate) audit_records: Vec<Value>,
    pub(crate) audit_queries: Vec<AuditQuery>,
    pub(crate) audit_timing: AuditQueryTiming,
    pub(crate) flows: Vec<Value>,
    pub(crate) answer_key: AnswerKey,
    pub(crate) attacker: AttackerState,
    pub(crate) actions: Vec<Value>,
    pub(crate) generated: Option<Generated>,
    pub(crate) next_serial: u64,
    /// Values Graph still answers after a write (the scenario's replication lag).
    pub(crate) replication: Replication,
    /// When the last `confirmCompromised` was accepted (Identity Protection's per-tenant pace).
    pub(crate) last_confirm: Option<crate::clock::Mark>,
    /// Confirmations Identity Protection is still processing: the user id and when it was asked.
    pub(crate) risk_processing: Vec<(String, crate::clock::Mark)>,
    /// Active Directory behind the synchronised accounts.
    pub(crate) on_premises: crate::hybrid::OnPremises,
}

impl Tenant {
    /// Builds the live tenant from a scenario, filling Graph defaults and sorting logs newest first.
    pub(crate) fn from_scenario(scenario: &Scenario) -> Result<Tenant, String> {
        let mut certificates = Vec::new();
        for pem in &scenario.app.certificates {
            certificates.push(RegisteredCert::from_pem(pem)?);
        }
        let mut users: Vec<UserRecord> = scenario
            .users
            .iter()
            .map(|entry| UserRecord {
                user: entry.user.clone(),
                methods: entry.authentication_methods.clone(),
                mailbox: entry.mailbox.clone(),
                member_of: entry.member_of.clone(),
                owned_objects: entry.owned_objects.clone(),
                default_method: entry.default_method.clone(),
            })
            .collect();
        let generated = scenario
            .generator
            .as_ref()
            .map(|spec| Generated::new(spec, scenario));
        if let Some(generated) = &generated {
            users.extend(generated.users());
        }
        let tenant_id = scenario.tenant.id.clone();
        for user in &mut users {
            normalise_user(user, scenario.now);
        }
        let mut tenant = Tenant {
            scenario_name: scenario.name.clone(),
            info: scenario.tenant.clone(),
            app: scenario.app.clone(),
            certificates,
            users,
            groups: scenario.groups.clone(),
            contacts: scenario.contacts.clone(),
            directory_roles: scenario.directory_roles.clone(),
            service_principals: scenario.service_principals.clone(),
            applications: scenario.applications.clone(),
            grants: scenario.oauth2_permission_grants.clone(),
            app_role_assignments: scenario.app_role_assignments.clone(),
            sign_ins: scenario.sign_ins.clone(),
            directory_audits: scenario.directory_audits.clone(),
            risky_users: scenario.risky_users.clone(),
            risk_detections: scenario.risk_detections.clone(),
            incidents: scenario.incidents.clone(),
            alerts: scenario.alerts.clone(),
            audit_records: scenario.audit_records.clone(),
            audit_queries: Vec::new(),
            audit_timing: scenario.audit_query.clone(),
            flows: scenario.flows.clone(),
            answer_key: scenario.answer_key.clone(),
            attacker: AttackerState::new(&scenario.attacker, scenario.now),
            actions: Vec::new(),
            generated,
            next_serial: 1,
            replication: Replication::new(scenario.replication_lag_seconds),
            last_confirm: None,
            risk_processing: Vec::new(),
            on_premises: crate::hybrid::OnPremises::new(
                scenario.now,
                scenario.tenant.hybrid.sync_interval_minutes,
            ),
        };
        for group in &mut tenant.groups {
            fill_object(group, &[("@odata.type", json!("#microsoft.graph.group"))]);
            fill_object(
                group,
                &[
                    ("securityEnabled", json!(true)),
                    ("mailEnabled", json!(false)),
                ],
            );
        }
        for role in &mut tenant.directory_roles {
            fill_object(
                role,
                &[("@odata.type", json!("#microsoft.graph.directoryRole"))],
            );
        }
        for sp in &mut tenant.service_principals {
            normalise_service_principal(sp, &tenant_id);
        }
        for app in &mut tenant.applications {
            normalise_application(app, &scenario.tenant.domain);
        }
        for grant in &mut tenant.grants {
            fill_object(
                grant,
                &[
                    ("consentType", json!("Principal")),
                    ("principalId", Value::Null),
                ],
            );
        }
        for assignment in &mut tenant.app_role_assignments {
            fill_object(
                assignment,
                &[
                    ("deletedDateTime", Value::Null),
                    ("principalType", json!("User")),
                ],
            );
        }
        let lookup: Vec<(String, String, String)> = tenant
            .users
            .iter()
            .map(|u| {
                (
                    u.id().to_owned(),
                    u.upn().to_owned(),
                    u.display_name().to_owned(),
                )
            })
            .collect();
        for sign_in in &mut tenant.sign_ins {
            normalise_sign_in(sign_in, &lookup);
        }
        for audit in &mut tenant.directory_audits {
            normalise_directory_audit(audit);
        }
        for risky in &mut tenant.risky_users {
            normalise_risky_user(risky, &lookup);
        }
        for detection in &mut tenant.risk_detections {
            normalise_risk_detection(detection, &lookup);
        }
        for incident in &mut tenant.incidents {
            normalise_incident(incident, &tenant_id);
        }
        for alert in &mut tenant.alerts {
            normalise_alert(alert, &tenant_id);
        }
        for record in &mut tenant.audit_records {
            normalise_audit_record(record, &tenant_id, &lookup);
        }
        sort_newest_first(&mut tenant.sign_ins, "createdDateTime");
        sort_newest_first(&mut tenant.directory_audits, "activityDateTime");
        sort_newest_first(&mut tenant.risk_detections, "detectedDateTime");
        sort_newest_first(&mut tenant.incidents, "createdDateTime");
        sort_newest_first(&mut tenant.alerts, "createdDateTime");
        sort_newest_first(&mut tenant.audit_records, "createdDateTime");
        Ok(tenant)
    }

    /// Finds a user by object id, userPrincipalName or mail (case-insensitive).
    pub(crate) fn user_index(&self, key: &str) -> Option<usize> {
        let key = key.trim();
        self.users.iter().position(|u| {
            u.id().eq_ignore_ascii_case(key)
                || u.upn().eq_ignore_ascii_case(key)
                || u.user
                    .get("mail")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.eq_ignore_ascii_case(key))
        })
    }

    pub(crate) fn user(&self, key: &str) -> Option<&UserRecord> {
        self.user_index(key).map(|i| &self.users[i])
    }

    pub(crate) fn user_mut(&mut self, key: &str) -> Option<&mut UserRecord> {
        self.user_index(key).map(move |i| &mut self.users[i])
    }

    pub(crate) fn service_principal_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.service_principals
            .iter_mut()
            .find(|sp| str_of(sp, "id") == Some(id))
    }

    pub(crate) fn service_principal(&self, id: &str) -> Option<&Value> {
        self.service_principals
            .iter()
            .find(|sp| str_of(sp, "id") == Some(id))
    }

    /// The app registration with this object id.
    pub(crate) fn application(&self, id: &str) -> Option<&Value> {
        self.applications
            .iter()
            .find(|a| str_of(a, "id").is_some_and(|i| i.eq_ignore_ascii_case(id)))
    }

    pub(crate) fn application_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.applications
            .iter_mut()
            .find(|a| str_of(a, "id").is_some_and(|i| i.eq_ignore_ascii_case(id)))
    }

    /// The service principal of the application with this client (app) id.
    pub(crate) fn service_principal_by_app_id(&self, app_id: &str) -> Option<&Value> {
        self.service_principals
            .iter()
            .find(|sp| str_of(sp, "appId").is_some_and(|a| a.eq_ignore_ascii_case(app_id)))
    }

    /// A fresh id, unique in this run and deterministic for a given sequence of requests.
    pub(crate) fn new_guid(&mut self, purpose: &str) -> String {
        self.next_serial += 1;
        derived_guid(&format!(
            "{}/{purpose}/{}",
            self.scenario_name, self.next_serial
        ))
    }

    /// Appends an entry to the log of changes received (GET /_sim/actions).
    pub(crate) fn record_action(&mut self, at: DateTime<Utc>, entry: Value) {
        let mut entry = match entry {
            Value::Object(map) => map,
            other => {
                let mut map = Map::new();
                map.insert("detail".to_owned(), other);
                map
            }
        };
        entry.insert("sequence".to_owned(), json!(self.actions.len() + 1));
        entry.insert("at".to_owned(), json!(graph_time(at)));
        self.actions.push(Value::Object(entry));
    }

    /// Adds a sign-in (newest first) after filling its defaults.
    pub(crate) fn push_sign_in(&mut self, mut sign_in: Value) {
        let lookup: Vec<(String, String, String)> = self
            .users
            .iter()
            .map(|u| {
                (
                    u.id().to_owned(),
                    u.upn().to_owned(),
                    u.display_name().to_owned(),
                )
            })
            .collect();
        normalise_sign_in(&mut sign_in, &lookup);
        insert_newest_first(&mut self.sign_ins, sign_in, "createdDateTime");
    }

    /// Adds a directory audit entry (newest first) after filling its defaults.
    pub(crate) fn push_directory_audit(&mut self, mut audit: Value) {
        normalise_directory_audit(&mut audit);
        insert_newest_first(&mut self.directory_audits, audit, "activityDateTime");
    }

    /// Adds a unified audit log record (newest first) after filling its defaults.
    pub(crate) fn push_audit_record(&mut self, mut record: Value) {
        let lookup: Vec<(String, String, String)> = self
            .users
            .iter()
            .map(|u| {
                (
                    u.id().to_owned(),
                    u.upn().to_owned(),
                    u.display_name().to_owned(),
                )
            })
            .collect();
        normalise_audit_record(&mut record, &self.info.id.clone(), &lookup);
        insert_newest_first(&mut self.audit_records, record, "createdDateTime");
    }
}

/// A GUID derived from text (SHA-256), so generated ids are stable across runs.
pub(crate) fn derived_guid(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let h = hex::encode(&digest[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The Exchange RuleIdentity of a rule: the scenario's, or one derived from owner and name.
pub(crate) fn rule_identity(owner_id: &str, rule: &InboxRule) -> String {
    rule.rule_identity.clone().unwrap_or_else(|| {
        let digest = Sha256::digest(format!("{owner_id}/{}", rule.name).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        // Exchange rule identities are positive 64-bit numbers.
        (u64::from_be_bytes(bytes) >> 1).to_string()
    })
}

/// The hidden rules Exchange keeps in every mailbox, as `Get-InboxRule -IncludeHidden` lists
/// them: the junk-mail rule, the three automatic-reply rules (off while automatic replies are),
/// and, for a mailbox with send-on-behalf delegates, Outlook's calendar-delegate rule. None shows
/// an action Get-InboxRule can express (spec/exchange.md, "Hidden system rules"). Their
/// identities are derived apart from the mailbox's own rules, so a look-alike of the same name
/// is a different rule.
fn system_rules(owner_id: &str, mailbox: &Mailbox) -> Vec<InboxRule> {
    let after = mailbox
        .inbox_rules
        .iter()
        .map(|r| r.priority)
        .max()
        .unwrap_or(0);
    let mut names: Vec<(String, bool)> = vec![
        ("Junk E-Mail Rule".to_owned(), true),
        (
            "Microsoft.Exchange.OOF.InternalSenders.Global".to_owned(),
            false,
        ),
        (
            "Microsoft.Exchange.OOF.KnownExternalSenders.Global".to_owned(),
            false,
        ),
        (
            "Microsoft.Exchange.OOF.AllExternalSenders.Global".to_owned(),
            false,
        ),
    ];
    if !mailbox.grant_send_on_behalf_to.is_empty() {
        let digest = Sha256::digest(format!("{owner_id}/delegate-rule").as_bytes());
        let number =
            u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000_000;
        names.push((format!("Delegate Rule -{number}"), true));
    }
    names
        .into_iter()
        .enumerate()
        .map(|(i, (name, enabled))| {
            let mut rule = InboxRule {
                rule_identity: None,
                name,
                enabled,
                priority: after + 1 + i as u32,
                hidden: true,
                created_date_time: None,
                conditions: RuleConditions::default(),
                actions: RuleActions::default(),
            };
            rule.rule_identity = Some(rule_identity(&format!("{owner_id}/system"), &rule));
            rule
        })
        .collect()
}

/// The Graph messageRule id of a rule (base64 of a prefix and the rule identity).
pub(crate) fn graph_rule_id(owner_id: &str, rule: &InboxRule) -> String {
    use base64::Engine;
    let identity: u64 = rule_identity(owner_id, rule).parse().unwrap_or(0);
    let mut bytes = vec![1u8, 0, 0, 0];
    bytes.extend_from_slice(&identity.to_le_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The string property `key` of a JSON object.
pub(crate) fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// Inserts each `(key, value)` that the object does not have yet.
pub(crate) fn fill_object(value: &mut Value, defaults: &[(&str, Value)]) {
    if let Value::Object(map) = value {
        fill_map(map, defaults);
    }
}

fn fill_map(map: &mut Map<String, Value>, defaults: &[(&str, Value)]) {
    for (key, default) in defaults {
        if !map.contains_key(*key) {
            map.insert((*key).to_owned(), default.clone());
        }
    }
}

fn sort_newest_first(list: &mut [Value], key: &str) {
    list.sort_by(|a, b| {
        let ta = a.get(key).and_then(Value::as_str).and_then(parse_time);
        let tb = b.get(key).and_then(Value::as_str).and_then(parse_time);
        tb.cmp(&ta)
    });
}

fn insert_newest_first(list: &mut Vec<Value>, item: Value, key: &str) {
    let t = item.get(key).and_then(Value::as_str).and_then(parse_time);
    let at = list
        .iter()
        .position(|existing| {
            existing
                .get(key)
                .and_then(Value::as_str)
                .and_then(parse_time)
                <= t
        })
        .unwrap_or(list.len());
    list.insert(at, item);
}

fn who<'a>(
    lookup: &'a [(String, String, String)],
    key: &str,
) -> Option<&'a (String, String, String)> {
    lookup
        .iter()
        .find(|(id, upn, _)| id.eq_ignore_ascii_case(key) || upn.eq_ignore_ascii_case(key))
}

fn normalise_user(user: &mut UserRecord, now: DateTime<Utc>) {
    let id = user.id().to_owned();
    let upn = user.upn().to_owned();
    let created = user
        .user
        .get("createdDateTime")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| graph_time(now - Duration::days(400)));
    fill_map(
        &mut user.user,
        &[
            (
                "displayName",
                json!(upn.split('@').next().unwrap_or_default()),
            ),
            ("accountEnabled", json!(true)),
            ("userType", json!("Member")),
            ("businessPhones", json!([])),
            ("givenName", Value::Null),
            ("surname", Value::Null),
            ("jobTitle", Value::Null),
            (
                "mail",
                if user.mailbox.is_some() {
                    json!(upn)
                } else {
                    Value::Null
                },
            ),
            ("mobilePhone", Value::Null),
            ("officeLocation", Value::Null),
            ("preferredLanguage", json!("en-GB")),
            ("createdDateTime", json!(created)),
            ("signInSessionsValidFromDateTime", json!(created)),
            ("lastPasswordChangeDateTime", json!(created)),
            ("onPremisesSyncEnabled", Value::Null),
            ("department", Value::Null),
            ("usageLocation", json!("GB")),
            (
                "mailNickname",
                json!(upn.split('@').next().unwrap_or_default()),
            ),
        ],
    );
    if !user
        .methods
        .iter()
        .any(|m| str_of(m, "@odata.type") == Some("#microsoft.graph.passwordAuthenticationMethod"))
    {
        user.methods.insert(
            0,
            json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                   "id": PASSWORD_METHOD_ID, "password": null, "createdDateTime": created}),
        );
    }
    for method in &mut user.methods {
        normalise_method(method);
    }
    if let Some(mailbox) = &mut user.mailbox {
        let system = system_rules(&id, mailbox);
        mailbox.inbox_rules.extend(system);
        for rule in &mut mailbox.inbox_rules {
            if rule.rule_identity.is_none() {
                rule.rule_identity = Some(rule_identity(&id, rule));
            }
        }
        for messages in mailbox.folders.values_mut() {
            for message in messages.iter_mut() {
                fill_object(
                    message,
                    &[
                        ("@odata.etag", json!("W/\"CQAAABYAAAB\"")),
                        ("hasAttachments", json!(false)),
                        ("importance", json!("normal")),
                        ("isRead", json!(true)),
                        ("isDraft", json!(false)),
                        ("ccRecipients", json!([])),
                        ("bccRecipients", json!([])),
                        ("replyTo", json!([])),
                        ("categories", json!([])),
                    ],
                );
            }
        }
    }
}

pub(crate) fn normalise_method(method: &mut Value) {
    let kind = str_of(method, "@odata.type").unwrap_or_default().to_owned();
    let defaults: Vec<(&str, Value)> = match kind.as_str() {
        "#microsoft.graph.phoneAuthenticationMethod" => {
            vec![
                ("phoneType", json!("mobile")),
                ("smsSignInState", json!("notAllowedByPolicy")),
            ]
        }
        "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod" => {
            vec![
                ("deviceTag", json!("SoftwareTokenActivated")),
                ("phoneAppVersion", json!("6.2409.6094")),
            ]
        }
        "#microsoft.graph.fido2AuthenticationMethod" => {
            vec![
                ("attestationLevel", json!("attested")),
                ("attestationCertificates", json!([])),
            ]
        }
        "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod" => {
            vec![("keyStrength", json!("normal"))]
        }
        "#microsoft.graph.platformCredentialAuthenticationMethod" => {
            vec![
                ("displayName", Value::Null),
                ("keyStrength", json!("normal")),
            ]
        }
        "#microsoft.graph.softwareOathAuthenticationMethod" => vec![("secretKey", Value::Null)],
        _ => Vec::new(),
    };
    fill_object(method, &defaults);
    // Methods whose type has a creation time answer it, null when unknown; phone and email
    // methods have none (Microsoft's examples show none).
    if [
        "#microsoft.graph.fido2AuthenticationMethod",
        "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
        "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
        "#microsoft.graph.platformCredentialAuthenticationMethod",
        "#microsoft.graph.passwordAuthenticationMethod",
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    ]
    .contains(&kind.as_str())
    {
        fill_object(method, &[("createdDateTime", Value::Null)]);
    }
}

fn normalise_service_principal(sp: &mut Value, tenant_id: &str) {
    let app_id = str_of(sp, "appId").unwrap_or_default().to_owned();
    let name = sp.get("displayName").cloned().unwrap_or(Value::Null);
    fill_object(
        sp,
        &[
            // Every property Microsoft's "Get servicePrincipal" example shows is answered.
            ("appDisplayName", name),
            ("disabledByMicrosoftStatus", Value::Null),
            ("homepage", Value::Null),
            (
                "info",
                json!({"termsOfServiceUrl": null, "supportUrl": null, "privacyStatementUrl": null,
                       "marketingUrl": null, "logoUrl": null}),
            ),
            ("logoutUrl", Value::Null),
            ("tokenEncryptionKeyId", Value::Null),
            ("accountEnabled", json!(true)),
            ("appRoleAssignmentRequired", json!(false)),
            ("servicePrincipalType", json!("Application")),
            ("appOwnerOrganizationId", json!(tenant_id)),
            ("servicePrincipalNames", json!([app_id])),
            ("signInAudience", json!("AzureADMultipleOrgs")),
            ("tags", json!([])),
            ("replyUrls", json!([])),
            ("alternativeNames", json!([])),
            ("appRoles", json!([])),
            ("oauth2PermissionScopes", json!([])),
            ("keyCredentials", json!([])),
            ("passwordCredentials", json!([])),
            ("notificationEmailAddresses", json!([])),
            ("addIns", json!([])),
            ("resourceSpecificApplicationPermissions", json!([])),
            (
                "verifiedPublisher",
                json!({"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}),
            ),
        ],
    );
}

/// Fills the defaults Graph shows on an `application` object the scenario left out.
fn normalise_application(app: &mut Value, domain: &str) {
    fill_object(
        app,
        &[
            ("deletedDateTime", Value::Null),
            ("description", Value::Null),
            ("publisherDomain", json!(domain)),
            ("signInAudience", json!("AzureADMyOrg")),
            ("identifierUris", json!([])),
            ("tags", json!([])),
            ("keyCredentials", json!([])),
            ("passwordCredentials", json!([])),
            ("appRoles", json!([])),
            ("requiredResourceAccess", json!([])),
            (
                "verifiedPublisher",
                json!({"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}),
            ),
        ],
    );
}

fn normalise_sign_in(sign_in: &mut Value, lookup: &[(String, String, String)]) {
    let user_id = str_of(sign_in, "userId").unwrap_or_default().to_owned();
    let (upn, name) = who(lookup, &user_id)
        .map(|(_, upn, name)| (json!(upn), json!(name)))
        .unwrap_or((Value::Null, Value::Null));
    let interactive = sign_in
        .get("isInteractive")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let event = if str_of(sign_in, "servicePrincipalId").is_some() && user_id.is_empty() {
        "servicePrincipal"
    } else if interactive {
        "interactiveUser"
    } else {
        "nonInteractiveUser"
    };
    let id = str_of(sign_in, "id").unwrap_or_default().to_owned();
    fill_object(
        sign_in,
        &[
            ("userId", json!("")),
            ("userPrincipalName", upn),
            ("userDisplayName", name),
            ("isInteractive", json!(interactive)),
            ("signInEventTypes", json!([event])),
            ("appDisplayName", json!("OfficeHome")),
            ("appId", json!("4765445b-32c6-49b0-83e6-1d93765276ca")),
            ("clientAppUsed", json!("Browser")),
            ("conditionalAccessStatus", json!("notApplied")),
            ("correlationId", json!(derived_guid(&format!("corr/{id}")))),
            ("resourceDisplayName", json!("Office 365 Exchange Online")),
            ("resourceId", json!("00000002-0000-0ff1-ce00-000000000000")),
            ("riskDetail", json!("none")),
            ("riskLevelAggregated", json!("none")),
            ("riskLevelDuringSignIn", json!("none")),
            ("riskState", json!("none")),
            ("riskEventTypes", json!([])),
            ("riskEventTypes_v2", json!([])),
            ("appliedConditionalAccessPolicies", json!([])),
            (
                "status",
                json!({"errorCode": 0, "failureReason": "Other.", "additionalDetails": null}),
            ),
            (
                "deviceDetail",
                json!({"deviceId": "", "displayName": "", "operatingSystem": "Windows10",
                                     "browser": "Edge 131.0.0", "isCompliant": false, "isManaged": false,
                                     "trustType": ""}),
            ),
            (
                "location",
                json!({"city": null, "state": null, "countryOrRegion": null,
                                 "geoCoordinates": {"altitude": null, "latitude": null, "longitude": null}}),
            ),
        ],
    );
}

fn normalise_directory_audit(audit: &mut Value) {
    let id = str_of(audit, "id").unwrap_or_default().to_owned();
    fill_object(
        audit,
        &[
            ("category", json!("UserManagement")),
            ("correlationId", json!(derived_guid(&format!("audit/{id}")))),
            ("result", json!("success")),
            ("resultReason", json!("")),
            ("loggedByService", json!("Core Directory")),
            ("operationType", json!("Update")),
            ("additionalDetails", json!([])),
            ("targetResources", json!([])),
            ("initiatedBy", json!({})),
        ],
    );
}

fn normalise_risky_user(risky: &mut Value, lookup: &[(String, String, String)]) {
    let id = str_of(risky, "id").unwrap_or_default().to_owned();
    let (upn, name) = who(lookup, &id)
        .map(|(_, upn, name)| (json!(upn), json!(name)))
        .unwrap_or((Value::Null, Value::Null));
    fill_object(
        risky,
        &[
            ("isDeleted", json!(false)),
            ("isProcessing", json!(false)),
            ("riskDetail", json!("none")),
            ("riskLevel", json!("medium")),
            ("riskState", json!("atRisk")),
            ("userPrincipalName", upn),
            ("userDisplayName", name),
        ],
    );
}

fn normalise_risk_detection(detection: &mut Value, lookup: &[(String, String, String)]) {
    let user_id = str_of(detection, "userId").unwrap_or_default().to_owned();
    let (upn, name) = who(lookup, &user_id)
        .map(|(_, upn, name)| (json!(upn), json!(name)))
        .unwrap_or((Value::Null, Value::Null));
    let detected = detection
        .get("detectedDateTime")
        .cloned()
        .unwrap_or(Value::Null);
    fill_object(
        detection,
        &[
            ("activity", json!("signin")),
            ("activityDateTime", detected.clone()),
            ("lastUpdatedDateTime", detected),
            ("detectionTimingType", json!("realtime")),
            ("riskDetail", json!("none")),
            ("riskLevel", json!("medium")),
            ("riskState", json!("atRisk")),
            ("source", json!("IdentityProtection")),
            ("tokenIssuerType", json!("AzureAD")),
            ("additionalInfo", json!("[]")),
            ("userPrincipalName", upn),
            ("userDisplayName", name),
        ],
    );
}

fn normalise_incident(incident: &mut Value, tenant_id: &str) {
    let id = str_of(incident, "id").unwrap_or_default().to_owned();
    let created = incident
        .get("createdDateTime")
        .cloned()
        .unwrap_or(Value::Null);
    fill_object(
        incident,
        &[
            ("assignedTo", Value::Null),
            ("classification", json!("unknown")),
            ("determination", json!("unknown")),
            ("status", json!("active")),
            ("severity", json!("medium")),
            ("customTags", json!([])),
            ("systemTags", json!([])),
            ("comments", json!([])),
            ("tenantId", json!(tenant_id)),
            ("lastUpdateDateTime", created),
            ("redirectIncidentId", Value::Null),
            ("resolvingComment", Value::Null),
            ("summary", Value::Null),
            ("description", Value::Null),
            (
                "incidentWebUrl",
                json!(format!(
                    "https://security.microsoft.com/incidents/{id}?tid={tenant_id}"
                )),
            ),
        ],
    );
}

fn normalise_alert(alert: &mut Value, tenant_id: &str) {
    let id = str_of(alert, "id").unwrap_or_default().to_owned();
    let created = alert.get("createdDateTime").cloned().unwrap_or(Value::Null);
    let incident_url = str_of(alert, "incidentId").map_or(Value::Null, |incident| {
        json!(format!(
            "https://security.microsoft.com/incidents/{incident}?tid={tenant_id}"
        ))
    });
    fill_object(
        alert,
        &[
            ("incidentWebUrl", incident_url),
            ("assignedTo", Value::Null),
            ("classification", json!("unknown")),
            ("determination", json!("unknown")),
            ("status", json!("new")),
            ("severity", json!("medium")),
            ("serviceSource", json!("azureAdIdentityProtection")),
            ("detectionSource", json!("azureAdIdentityProtection")),
            ("productName", json!("Microsoft Entra ID Protection")),
            ("comments", json!([])),
            ("evidence", json!([])),
            ("mitreTechniques", json!([])),
            ("systemTags", json!([])),
            ("tenantId", json!(tenant_id)),
            ("firstActivityDateTime", created.clone()),
            ("lastActivityDateTime", created.clone()),
            ("lastUpdateDateTime", created),
            ("resolvedDateTime", Value::Null),
            ("providerAlertId", json!(id)),
            (
                "alertWebUrl",
                json!(format!(
                    "https://security.microsoft.com/alerts/{id}?tid={tenant_id}"
                )),
            ),
        ],
    );
}

fn normalise_audit_record(
    record: &mut Value,
    tenant_id: &str,
    lookup: &[(String, String, String)],
) {
    let upn = str_of(record, "userPrincipalName")
        .unwrap_or_default()
        .to_owned();
    let upn = who(lookup, &upn)
        .map(|(_, upn, _)| upn.clone())
        .unwrap_or(upn);
    let service = match str_of(record, "auditLogRecordType").unwrap_or_default() {
        t if t.starts_with("Exchange") => "Exchange",
        t if t.starts_with("SharePoint") => "SharePoint",
        "OneDrive" => "OneDrive",
        t if t.starts_with("AzureActiveDirectory") => "AzureActiveDirectory",
        "MicrosoftTeams" => "MicrosoftTeams",
        _ => "Exchange",
    };
    fill_object(
        record,
        &[
            ("organizationId", json!(tenant_id)),
            ("userType", json!("Regular")),
            ("userId", json!(upn)),
            ("userPrincipalName", json!(upn)),
            ("service", json!(service)),
            ("objectId", json!("")),
            ("clientIp", Value::Null),
            ("administrativeUnits", json!([])),
            (
                "auditData",
                json!({"@odata.type": "#microsoft.graph.security.auditData"}),
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_guids_are_stable_and_well_formed() {
        let a = derived_guid("x");
        assert_eq!(a, derived_guid("x"));
        assert_ne!(a, derived_guid("y"));
        assert!(crate::scenario::is_guid(&a), "{a}");
    }

    #[test]
    fn newest_first_insert_keeps_order() {
        let mut list = vec![
            json!({"t": "2025-01-03T00:00:00Z"}),
            json!({"t": "2025-01-01T00:00:00Z"}),
        ];
        insert_newest_first(&mut list, json!({"t": "2025-01-02T00:00:00Z"}), "t");
        let order: Vec<&str> = list.iter().filter_map(|v| str_of(v, "t")).collect();
        assert_eq!(
            order,
            [
                "2025-01-03T00:00:00Z",
                "2025-01-02T00:00:00Z",
                "2025-01-01T00:00:00Z"
            ]
        );
    }
}
