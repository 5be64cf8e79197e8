//! The directory checks: consent grants (judged as containment judges them), and what the
//! account did in the directory during the window according to the directory audit log —
//! membership changes, credentials added to apps, users created, Conditional Access edits.

use std::collections::{BTreeMap, BTreeSet};

use firebreak_graph::{
    logs::{DirectoryAudit, DirectoryAuditQuery},
    methods::MethodKind,
    UserRef,
};
use serde_json::Value;

use super::{account, item, Draft};
use crate::{
    procedure::{
        contain::{plan_grants, FREE_LOG_REACH_DAYS, LOG_REACH_DAYS},
        tenant::IncidentTenant,
        Action, StepContext,
    },
    Error,
};

/// Consents of the account and tenant-wide consents given in the window.
pub(super) async fn consents<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Revoke the selected consents and disable the selected apps.");
    let plan = match plan_grants(cx).await {
        Ok(p) => p,
        Err(Error::Tenant(e)) => return draft.gap("Consent grants", *e),
        Err(e) => return Err(e),
    };
    for c in plan.captures {
        let name = c.name_hint.trim_start_matches("grants-").to_owned();
        draft.capture(&name, &c.description, &c.source_operation, &[c.body]);
    }
    for w in plan.warnings {
        if w != "No consents to review." {
            draft.warn(w);
        }
    }
    let mut kept = 0;
    for row in plan.items {
        if row.recommended {
            draft.finding(row);
        } else {
            kept += 1;
            draft.row(row);
        }
    }
    draft.clean(format!(
        "{kept} consent(s) or app(s) reviewed, none with risky permissions given in the window or by an unverified publisher."
    ));
    Ok(())
}

/// Directory audit entries the account initiated in the window (and, with `targeting`, those
/// that changed the account), saved as evidence under `name`.
async fn audits<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    name: &str,
    targeting: bool,
) -> Result<Option<(String, Vec<DirectoryAudit>)>, Error> {
    let user = account(cx).await?;
    let by = DirectoryAuditQuery {
        since: Some(draft.since),
        initiated_by_user_id: Some(user.id.clone()),
        ..DirectoryAuditQuery::default()
    };
    let mut all = match cx.tenant.directory_audits(&by).await {
        Ok(a) => {
            draft.capture(
                name,
                "Directory audit entries initiated by the account in the incident window",
                "GET /auditLogs/directoryAudits",
                &a.pages,
            );
            a.items
        }
        Err(e) => {
            draft.gap("The directory audit log", e)?;
            return Ok(None);
        }
    };
    if targeting {
        let on = DirectoryAuditQuery {
            since: Some(draft.since),
            target_id: Some(user.id.clone()),
            ..DirectoryAuditQuery::default()
        };
        match cx.tenant.directory_audits(&on).await {
            Ok(a) => {
                draft.capture(
                    &format!("{name}-on-account"),
                    "Directory audit entries that changed the account in the incident window",
                    "GET /auditLogs/directoryAudits",
                    &a.pages,
                );
                for entry in a.items {
                    if !all.iter().any(|e| e.id == entry.id) {
                        all.push(entry);
                    }
                }
            }
            Err(e) => draft.gap("The directory audit log", e)?,
        }
    }
    // "Clean" only where the log could have seen it: before its reach it cannot.
    let reach = audit_reach(cx, &user.id).await;
    if draft.since < reach {
        draft.gap_text(format!(
            "The directory audit reaches back only to {} in this tenant ({} days{}), and the incident window began at {}: what the account did in the directory before then cannot be read. Cannot tell — not the same as clean.",
            show(Some(reach)),
            (cx.now - reach).num_days(),
            if (cx.now - reach).num_days() == FREE_LOG_REACH_DAYS { ", no Entra ID P1" } else { "" },
            show(Some(draft.since)),
        ));
    }
    Ok(Some((user.id, all)))
}

fn activity(a: &DirectoryAudit) -> String {
    a.activity_display_name
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_lowercase()
        .replace(['–', '—'], "-")
}

fn targets(a: &DirectoryAudit) -> Vec<&Value> {
    a.target_resources.iter().flatten().collect()
}

fn target_text(t: &Value) -> String {
    let field = |k: &str| t.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let name = field("displayName")
        .or_else(|| field("userPrincipalName"))
        .unwrap_or("?");
    match field("type") {
        Some(kind) => format!("{kind}: {name}"),
        None => name.to_owned(),
    }
}

fn initiator(a: &DirectoryAudit) -> String {
    a.initiated_by
        .as_ref()
        .and_then(|i| {
            i.pointer("/user/userPrincipalName")
                .or_else(|| i.pointer("/app/displayName"))
        })
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

fn audit_row(a: &DirectoryAudit, kind: &str, guidance: &str) -> crate::procedure::PlanItem {
    let mut details: Vec<String> = targets(a).into_iter().map(target_text).collect();
    details.push(format!("By: {}", initiator(a)));
    let mut row = item(
        format!("seen:audit:{}", a.id),
        kind,
        a.activity_display_name
            .clone()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        details,
        Action::Record,
    );
    row.created = a.activity_date_time;
    row.reasons = vec![guidance.to_owned()];
    row
}

/// Group and role membership changes made by the account, or to it, in the window. A directory
/// role given from one of the attacker's addresses, and still held, is taken away
/// (`DELETE /directoryRoles/{role}/members/{member}/$ref`); a role given from anywhere else is
/// listed unselected (the account's owner may be an administrator doing their job), and group
/// changes are listed to revert by hand.
pub(super) async fn memberships<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary(
        "Take away the directory roles given from the attacker's addresses; record the other group and role membership changes made by or to the account.",
    );
    let Some((user_id, entries)) = audits(cx, draft, "memberships", true).await? else {
        return Ok(());
    };
    let attacker = super::attacker_addresses(cx, &user_id, draft).await;
    // Triage's infrastructure also matches an address by its range (a neighbour of the
    // attacker's sign-ins on the same provider).
    let infrastructure = crate::procedure::triage::recorded_infrastructure(cx.case, cx.scope);
    let from_attacker =
        |ip: &str| attacker.contains(ip) || infrastructure.match_address(ip).is_some();
    // Read only when the account itself gave a role in the window.
    let mut own: Option<Option<BTreeSet<String>>> = None;
    let mut held: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for a in entries.iter().filter(|a| {
        let act = activity(a);
        ["member to", "member from", "owner to", "owner from"]
            .iter()
            .any(|p| act.contains(p))
    }) {
        let Some(grant) = RoleGrant::of(a) else {
            draft.finding(audit_row(
                a,
                "Membership change",
                "Revert it by hand: Entra admin center > Groups (or Roles and administrators) > the group or role > Members.",
            ));
            continue;
        };
        if !held.contains_key(&grant.member) {
            let roles = match cx.tenant.member_of(&UserRef::new(&grant.member)?).await {
                Ok(f) => Some(
                    f.items
                        .iter()
                        .filter(|o| {
                            o.odata_type.as_deref() == Some("#microsoft.graph.directoryRole")
                        })
                        .map(|o| o.id.to_lowercase())
                        .collect(),
                ),
                Err(e) if e.is_not_found() => Some(Vec::new()),
                Err(e) => {
                    draft.gap("The directory roles of an account given a role", e)?;
                    None
                }
            };
            held.insert(grant.member.clone(), roles);
        }
        let still = match held.get(&grant.member) {
            Some(Some(roles)) => roles.contains(&grant.role.to_lowercase()),
            _ => {
                draft.finding(audit_row(
                    a,
                    "Directory role given",
                    "Whether the account still holds this role could not be read: check Roles and administrators in the Entra admin center.",
                ));
                continue;
            }
        };
        if !still {
            draft.row(audit_row(
                a,
                "Directory role given (no longer held)",
                "The account no longer holds this role: nothing to take away.",
            ));
            continue;
        }
        let by_account = a
            .initiated_by
            .as_ref()
            .and_then(|i| i.pointer("/user/id"))
            .and_then(Value::as_str)
            .is_some_and(|id| id.eq_ignore_ascii_case(&user_id));
        if by_account && own.is_none() {
            own = Some(own_addresses(cx, draft, &user_id, &from_attacker).await?);
        }
        let verdict = judge_grant(
            grant.address.as_deref(),
            &from_attacker,
            by_account
                .then(|| own.as_ref().and_then(Option::as_ref))
                .flatten(),
        );
        let mut row = item(
            format!("role:{}:{}", grant.role, grant.member),
            "Directory role given",
            format!("{} — {}", grant.member_name, grant.role_name),
            vec![
                format!("Role: {}", grant.role_name),
                format!("Given to: {}", grant.member_name),
                format!(
                    "Given by: {} from {}",
                    initiator(a),
                    grant
                        .address
                        .as_deref()
                        .unwrap_or("an address the log does not give")
                ),
            ],
            Action::RemoveDirectoryRoleMember {
                role: grant.role.clone(),
                member: grant.member.clone(),
            },
        );
        row.created = a.activity_date_time;
        row.recommended = verdict.recommended();
        row.reasons = vec![verdict.reason().into()];
        draft.finding(row);
    }
    draft.clean("No group or role membership changed by or to the account in the window.");
    Ok(())
}

/// Why a role given in the window is (or is not) taken away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GrantVerdict {
    /// Given from one of the attacker's addresses.
    FromAttacker,
    /// Given by the compromised account from an address it had not used before the window.
    NewAddress,
    /// Given by the account from an address it used before the window.
    OwnAddress,
    /// Given by someone else, or from an address the log does not give, or the account's
    /// history could not be read.
    CannotTell,
}

impl GrantVerdict {
    fn recommended(self) -> bool {
        matches!(self, Self::FromAttacker | Self::NewAddress)
    }

    fn reason(self) -> &'static str {
        match self {
            Self::FromAttacker => "Given from one of the attacker's addresses: the attacker's way back in with an administrator's rights. Taking the role away leaves the account otherwise as it is.",
            Self::NewAddress => "Given by the compromised account, in the incident window, from an address it had not signed in from before: taken as the attacker's. Taking the role away leaves the account otherwise as it is.",
            Self::OwnAddress => "Given from an address the account used before the incident (its owner may be an administrator doing their job): ask them before taking it away.",
            Self::CannotTell => "Not given from an address attributed to the attacker: ask whoever gave it before taking it away.",
        }
    }
}

/// Judges a role given in the window from `address`; `own` is the addresses the account signed
/// in from before the window, when the account itself gave the role and its history was read.
fn judge_grant(
    address: Option<&str>,
    from_attacker: &(dyn Fn(&str) -> bool + Sync),
    own: Option<&BTreeSet<String>>,
) -> GrantVerdict {
    let Some(ip) = address else {
        return GrantVerdict::CannotTell;
    };
    if from_attacker(ip) {
        return GrantVerdict::FromAttacker;
    }
    match own {
        Some(own) if own.iter().any(|a| crate::attribution::same_address(a, ip)) => {
            GrantVerdict::OwnAddress
        }
        // Without any earlier sign-in to compare with, a new address proves nothing.
        Some(own) if !own.is_empty() => GrantVerdict::NewAddress,
        _ => GrantVerdict::CannotTell,
    }
}

/// The addresses the account signed in from successfully before the incident window (the
/// attacker's left out): the sign-in log over its reach, or on a tenant without Entra ID P1 the
/// sign-ins the unified audit log keeps. `None`, with a warning, when neither can be read.
async fn own_addresses<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    user_id: &str,
    from_attacker: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Option<BTreeSet<String>>, Error> {
    let since = cx.now - chrono::Duration::days(crate::attribution::RETENTION_DAYS);
    let query = firebreak_graph::logs::SignInQuery {
        user_id: Some(user_id.to_owned()),
        since: Some(since),
        ..Default::default()
    };
    let sign_ins = match cx.tenant.sign_ins(&query).await {
        Ok(s) => s.items,
        Err(e) if e.is_premium_required() => {
            let upn = account(cx).await?.user_principal_name;
            let upn = upn.unwrap_or_else(|| cx.account.to_owned());
            match crate::procedure::triage::audit_log_sign_ins(cx, user_id, &upn, since).await {
                Ok(found) => found.sign_ins,
                Err(why) => {
                    draft.warn(format!(
                        "The account's earlier sign-ins could not be read ({why}), so a role it gave from an address not attributed to the attacker is not pre-selected: judge it yourself."
                    ));
                    return Ok(None);
                }
            }
        }
        Err(e) => {
            draft.warn(format!(
                "The account's earlier sign-ins could not be read ({e}), so a role it gave from an address not attributed to the attacker is not pre-selected: judge it yourself."
            ));
            return Ok(None);
        }
    };
    Ok(Some(
        sign_ins
            .iter()
            .filter(|s| crate::routine::succeeded(s))
            .filter(|s| s.created_date_time.is_some_and(|t| t < draft.since))
            .filter_map(|s| s.ip_address.clone())
            .filter(|ip| !ip.is_empty() && !from_attacker(ip))
            .collect(),
    ))
}

/// A directory role given to a user, as an "Add member to role" audit entry records it: the
/// user is the target, the role is in its modified properties (values are JSON strings inside
/// strings, e.g. `"\"62e9…\""`).
struct RoleGrant {
    member: String,
    member_name: String,
    role: String,
    role_name: String,
    address: Option<String>,
}

impl RoleGrant {
    fn of(a: &DirectoryAudit) -> Option<Self> {
        if activity(a) != "add member to role" {
            return None;
        }
        let target = targets(a)
            .into_iter()
            .find(|t| t.get("type").and_then(Value::as_str) == Some("User"))?;
        let unquote = |v: &str| v.trim().trim_matches('"').to_owned();
        let role = modified(target, "Role.ObjectID").map(|(_, new)| unquote(new))?;
        let member = target.get("id").and_then(Value::as_str)?.to_owned();
        if firebreak_graph::odata::object_id("role", &role).is_err()
            || firebreak_graph::odata::object_id("member", &member).is_err()
        {
            return None;
        }
        let role_name = modified(target, "Role.DisplayName")
            .map(|(_, new)| unquote(new))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| role.clone());
        Some(Self {
            member_name: ["userPrincipalName", "displayName"]
                .iter()
                .find_map(|k| {
                    target
                        .get(*k)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                })
                .unwrap_or(&member)
                .to_owned(),
            member,
            role,
            role_name,
            address: a
                .initiated_by
                .as_ref()
                .and_then(|i| i.pointer("/user/ipAddress"))
                .and_then(Value::as_str)
                .filter(|ip| !ip.is_empty())
                .map(str::to_owned),
        })
    }
}

/// One credential as a `KeyDescription` audit value lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyDescription {
    /// The credential's key id.
    pub(crate) key_id: String,
    /// `Password`, `AsymmetricX509Cert`, ...
    pub(crate) key_type: String,
    /// Its name (attacker-controlled).
    pub(crate) display_name: String,
}

/// The credentials one side (`oldValue` or `newValue`) of a `KeyDescription` modified property
/// lists: a JSON text holding a list of entries `[KeyIdentifier=…,KeyType=…,KeyUsage=…,
/// DisplayName=…]`, or a single entry. Entries are separated by the JSON structure and the key id
/// is read from the start of each, so a display name holding commas, brackets or
/// `KeyIdentifier=` cannot invent or hide a key.
pub(crate) fn key_descriptions(value: &str) -> Vec<KeyDescription> {
    let mut decoded = Value::String(value.to_owned());
    for _ in 0..3 {
        let Value::String(text) = &decoded else { break };
        match serde_json::from_str::<Value>(text) {
            Ok(inner) => decoded = inner,
            Err(_) => break,
        }
    }
    let entries: Vec<String> = match decoded {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(one) => vec![one],
        _ => Vec::new(),
    };
    entries
        .iter()
        .filter_map(|entry| {
            let body = entry.trim().strip_prefix('[')?.strip_suffix(']')?;
            let (first, rest) = body.split_once(',').unwrap_or((body, ""));
            let key_id = first.trim().strip_prefix("KeyIdentifier=")?.trim();
            if !firebreak_graph::odata::is_guid(key_id) {
                return None;
            }
            let field = |name: &str| -> String {
                rest.split(',')
                    .find_map(|f| f.trim().strip_prefix(name))
                    .unwrap_or("")
                    .to_owned()
            };
            let display_name = rest
                .split_once("DisplayName=")
                .map(|(_, name)| name.to_owned())
                .unwrap_or_default();
            Some(KeyDescription {
                key_id: key_id.to_lowercase(),
                key_type: field("KeyType="),
                display_name,
            })
        })
        .collect()
}

/// What one credential change did: the keys in `new` that `old` lacks (added) and those in `old`
/// that `new` lacks (removed), compared by key id — never by position.
pub(crate) fn key_changes(old: &str, new: &str) -> (Vec<KeyDescription>, Vec<KeyDescription>) {
    let before = key_descriptions(old);
    let after = key_descriptions(new);
    let added = after
        .iter()
        .filter(|k| !before.iter().any(|b| b.key_id == k.key_id))
        .cloned()
        .collect();
    let removed = before
        .iter()
        .filter(|k| !after.iter().any(|a| a.key_id == k.key_id))
        .cloned()
        .collect();
    (added, removed)
}

fn modified<'a>(target: &'a Value, name: &str) -> Option<(&'a str, &'a str)> {
    let p = target
        .get("modifiedProperties")?
        .as_array()?
        .iter()
        .find(|p| p.get("displayName").and_then(Value::as_str) == Some(name))?;
    Some((
        p.get("oldValue").and_then(Value::as_str).unwrap_or(""),
        p.get("newValue").and_then(Value::as_str).unwrap_or(""),
    ))
}

/// A credential the account added to (or removed from) one app, with the audit entry saying so.
struct KeyEvent<'a> {
    key: KeyDescription,
    audit: &'a DirectoryAudit,
}

#[derive(Default)]
struct AppChanges<'a> {
    name: String,
    added: Vec<KeyEvent<'a>>,
    removed: Vec<KeyEvent<'a>>,
}

/// One credential on an app registration, as the rows show it.
struct Credential {
    key_id: String,
    secret: bool,
    label: String,
    start: Option<chrono::DateTime<chrono::Utc>>,
    end: Option<chrono::DateTime<chrono::Utc>>,
}

fn show(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "an unknown time".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// Credentials (secrets, certificates) the account added to apps in the window. The directory
/// audit log names the *application* object ("Update application – Certificates and secrets
/// management"); the key the account added is the one its `KeyDescription` lists after the
/// change and not before. That key is offered for removal; the app's other credentials stay.
pub(super) async fn app_credentials<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary(
        "Remove the secrets and certificates the account added to apps; the apps' other credentials stay.",
    );
    let Some((user_id, entries)) = audits(cx, draft, "app-credentials", false).await? else {
        return Ok(());
    };
    let mut apps: BTreeMap<String, AppChanges> = BTreeMap::new();
    let mut sp_entries = Vec::new();
    for a in &entries {
        let act = activity(a);
        if act == "add service principal credentials" {
            sp_entries.push(a);
            continue;
        }
        if !(act.starts_with("update application") && act.contains("certificates and secrets")) {
            continue;
        }
        for t in targets(a) {
            let Some(id) = t.get("id").and_then(Value::as_str) else {
                continue;
            };
            let Some((old, new)) = modified(t, "KeyDescription") else {
                continue;
            };
            let (added, removed) = key_changes(old, new);
            let app = apps.entry(id.to_lowercase()).or_default();
            if app.name.is_empty() {
                app.name = t
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
            }
            app.added
                .extend(added.into_iter().map(|key| KeyEvent { key, audit: a }));
            app.removed
                .extend(removed.into_iter().map(|key| KeyEvent { key, audit: a }));
        }
    }
    for (index, (app_id, change)) in apps.iter().enumerate() {
        app_registration(cx, draft, index, app_id, change).await?;
    }
    for a in sp_entries {
        sp_credentials(cx, draft, a).await?;
    }
    let reach = audit_reach(cx, &user_id).await;
    if draft.since < reach {
        let seen: Vec<&str> = apps
            .values()
            .flat_map(|c| c.added.iter().map(|e| e.key.key_id.as_str()))
            .collect();
        beyond_reach(cx, draft, reach, &seen).await?;
    }
    draft.clean("The account added no credential to any app in the window.");
    Ok(())
}

/// How far back the directory audit reaches in this tenant: thirty days, seven without Entra ID
/// P1 (the tenant where the sign-in log answers "premium required").
async fn audit_reach<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    user_id: &str,
) -> chrono::DateTime<chrono::Utc> {
    let probe = firebreak_graph::logs::SignInQuery {
        user_id: Some(user_id.to_owned()),
        since: Some(cx.now - chrono::Duration::hours(1)),
        ..firebreak_graph::logs::SignInQuery::default()
    };
    let days = match cx.tenant.sign_ins(&probe).await {
        Err(e) if e.is_premium_required() => FREE_LOG_REACH_DAYS,
        _ => LOG_REACH_DAYS,
    };
    cx.now - chrono::Duration::days(days)
}

/// The part of the window the directory audit no longer reaches (`draft.since` to `reach`): the
/// audit cannot say who added a credential then, so the credentials of the apps the account owns
/// are dated by their own start instead. One dated in that part of the window (and not already
/// among `seen`, the keys the audit names) was added while the attacker held the account: it is
/// a finding, recommended for removal, with what it costs. Without owned apps to read, the part
/// is "cannot tell".
async fn beyond_reach<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    reach: chrono::DateTime<chrono::Utc>,
    seen: &[&str],
) -> Result<(), Error> {
    let since = draft.since;
    let user = UserRef::new(cx.account)?;
    let owned = match cx.tenant.owned_objects(&user).await {
        Ok(o) => o,
        Err(e) => {
            draft.gap_text(format!(
                "The directory audit reaches back to {} in this tenant and the incident window began at {}; the apps the account owns could not be read to date their credentials instead ({e}): cannot tell whether a credential was added in between.",
                show(Some(reach)),
                show(Some(since))
            ));
            return Ok(());
        }
    };
    draft.capture(
        "owned-objects",
        "The apps and groups the account owns (to date credentials the audit no longer reaches)",
        "GET /users/{id}/ownedObjects",
        &owned.pages,
    );
    let apps = owned
        .items
        .iter()
        .filter(|o| o.odata_type.as_deref() == Some("#microsoft.graph.application"));
    for (index, owned_app) in apps.enumerate() {
        let app = match cx.tenant.application(&owned_app.id).await {
            Ok(Some(f)) => {
                draft.capture(
                    &format!("owned-app-{}", index + 1),
                    "An app the account owns and its credentials",
                    "GET /applications/{id}",
                    &f.pages,
                );
                f.items.into_iter().next()
            }
            Ok(None) => None,
            Err(e) => {
                draft.gap("An app registration the account owns", e)?;
                None
            }
        };
        let Some(app) = app else { continue };
        let name = app
            .display_name
            .clone()
            .or(owned_app.display_name.clone())
            .unwrap_or_else(|| app.id.clone());
        let dated = app
            .passwords()
            .iter()
            .map(|p| {
                (
                    p.key_id.clone(),
                    true,
                    p.display_name.clone(),
                    p.start_date_time,
                )
            })
            .chain(app.keys().iter().map(|k| {
                (
                    k.key_id.clone(),
                    false,
                    k.display_name.clone(),
                    k.start_date_time,
                )
            }));
        for (key_id, secret, label, start) in dated {
            let (Some(key_id), Some(start)) = (key_id.map(|k| k.to_lowercase()), start) else {
                continue;
            };
            if start < since || start >= reach || seen.contains(&key_id.as_str()) {
                continue;
            }
            let mut row = item(
                format!("appcred:{}:{key_id}", app.id),
                if secret {
                    "Client secret dated in the incident window"
                } else {
                    "Certificate dated in the incident window"
                },
                format!("{name}: {}", label.unwrap_or_else(|| "unnamed".into())),
                vec![
                    format!("Key id: {key_id}"),
                    format!("Valid from {}", show(Some(start))),
                    format!(
                        "App (client) id: {}",
                        app.app_id.clone().unwrap_or_default()
                    ),
                ],
                removal(&app.id, &key_id, secret),
            );
            row.created = Some(start);
            row.recommended = true;
            row.reasons = vec![
                format!(
                    "Dated {}, while the attacker held the account that owns this app; the directory audit reaches back only to {} in this tenant, so it cannot say who added it.",
                    show(Some(start)),
                    show(Some(reach))
                ),
                "Removing it stops whatever signs in with it; if it was the owner's own rotation, they create a new one after recovery. The app's other credentials stay.".into(),
            ];
            draft.finding(row);
        }
    }
    Ok(())
}

/// The rows of one app registration the account changed credentials on.
async fn app_registration<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    index: usize,
    app_id: &str,
    change: &AppChanges<'_>,
) -> Result<(), Error> {
    let label_of = |name: &str| {
        if name.is_empty() {
            app_id.to_owned()
        } else {
            name.to_owned()
        }
    };
    let fetched = match cx.tenant.application(app_id).await {
        Ok(f) => f,
        Err(e) => {
            draft.gap("The app registration behind a credential change", e)?;
            return Ok(());
        }
    };
    let Some(fetched) = fetched else {
        let mut row = item(
            format!("missing:app:{app_id}"),
            "App registration not found",
            label_of(&change.name),
            vec![
                format!("Application object id: {app_id}"),
                format!(
                    "The account added {} credential(s) to it.",
                    change.added.len()
                ),
            ],
            Action::Record,
        );
        row.fixed = true;
        row.recommended = true;
        row.reasons = vec!["The directory audit log names this app registration, but it cannot be read: the credential the account added could not be checked or removed. Look for it under App registrations (and Deleted applications) in the Entra admin center.".into()];
        draft.finding(row);
        draft.warn(format!(
            "The app registration {} named in the audit log could not be found: this check cannot be verified.",
            label_of(&change.name)
        ));
        return Ok(());
    };
    draft.capture(
        &format!("app-{}", index + 1),
        "An app registration and its credentials before the change",
        "GET /applications/{id}",
        &fetched.pages,
    );
    let Some(app) = fetched.items.into_iter().next() else {
        return Ok(());
    };
    let name = app
        .display_name
        .clone()
        .unwrap_or_else(|| label_of(&change.name));
    let sp = match &app.app_id {
        Some(client) => match cx.tenant.service_principal_by_app_id(client).await {
            Ok(sp) => sp,
            Err(e) => {
                draft.gap("The app's service principal", e)?;
                None
            }
        },
        None => None,
    };
    let added_ids: Vec<&str> = change.added.iter().map(|e| e.key.key_id.as_str()).collect();
    let client = format!(
        "App (client) id: {}",
        app.app_id.clone().unwrap_or_default()
    );
    let warnings = super::super::consents::app_warnings(&name, sp.as_ref(), &[]);
    // Every credential now on the app, secrets then certificates.
    let mut present: Vec<Credential> = Vec::new();
    for p in app.passwords() {
        if let Some(id) = &p.key_id {
            present.push(Credential {
                key_id: id.to_lowercase(),
                secret: true,
                label: p
                    .display_name
                    .clone()
                    .or_else(|| p.hint.as_ref().map(|h| format!("secret {h}…")))
                    .unwrap_or_else(|| "unnamed secret".into()),
                start: p.start_date_time,
                end: p.end_date_time,
            });
        }
    }
    for k in app.keys() {
        if let Some(id) = &k.key_id {
            present.push(Credential {
                key_id: id.to_lowercase(),
                secret: false,
                label: k
                    .display_name
                    .clone()
                    .unwrap_or_else(|| "unnamed certificate".into()),
                start: k.start_date_time,
                end: k.end_date_time,
            });
        }
    }
    for event in &change.added {
        let Some(Credential {
            key_id,
            secret,
            label,
            start,
            end,
        }) = present.iter().find(|p| p.key_id == event.key.key_id)
        else {
            draft.clean(format!(
                "The credential \"{}\" the account added to {name} is no longer on the app.",
                event.key.display_name
            ));
            continue;
        };
        let mut row = item(
            format!("appcred:{}:{key_id}", app.id),
            if *secret {
                "Client secret added by the account"
            } else {
                "Certificate added by the account"
            },
            format!("{name}: {label}"),
            vec![
                format!("Key id: {key_id}"),
                format!(
                    "Added {} by {}",
                    show(event.audit.activity_date_time),
                    initiator(event.audit)
                ),
                format!("Valid from {} until {}", show(*start), show(*end)),
                client.clone(),
            ]
            .into_iter()
            .chain(super::super::consents::flag_detail(&warnings))
            .collect(),
            removal(&app.id, key_id, *secret),
        );
        row.created = event.audit.activity_date_time;
        row.recommended = true;
        row.reasons = vec![
            format!(
                "Added by the compromised account at {}: it is the key the audit entry lists after the change and not before. Whoever holds it can sign in as the app.",
                show(event.audit.activity_date_time)
            ),
            "Only this credential is removed; the app's other credentials stay, so its legitimate use goes on.".into(),
        ];
        row.reasons.extend(warnings.iter().cloned());
        draft.finding(row);
    }
    for Credential {
        key_id,
        secret,
        label,
        start,
        end,
    } in present
        .iter()
        .filter(|p| !added_ids.contains(&p.key_id.as_str()))
    {
        let mut row = item(
            format!("appcred:{}:{key_id}", app.id),
            if *secret {
                "Client secret (kept)"
            } else {
                "Certificate (kept)"
            },
            format!("{name}: {label}"),
            vec![
                format!("Key id: {key_id}"),
                format!("Valid from {} until {}", show(*start), show(*end)),
                client.clone(),
            ],
            removal(&app.id, key_id, *secret),
        );
        row.created = *start;
        row.reasons = vec!["Not added by the account in the incident window: kept. Select it only if the app's owners say it is not theirs.".into()];
        draft.row(row);
    }
    for event in &change.removed {
        let mut row = audit_row(
            event.audit,
            "Credential removed by the account",
            "The account removed this credential from the app: whatever used it has stopped working. Ask the app's owners to add a new one once the incident is closed.",
        );
        row.id = format!("seen:removed:{}:{}", app.id, event.key.key_id);
        row.label = format!("{name}: {}", event.key.display_name);
        draft.finding(row);
    }
    if let Some(sp) = sp.filter(|sp| sp.account_enabled != Some(false)) {
        let mut line = item(
            format!("sp:{}", sp.id),
            "App (service principal)",
            sp.display_name.clone().unwrap_or_else(|| name.clone()),
            vec![client.clone()],
            Action::DisableServicePrincipal { id: sp.id.clone() },
        );
        line.reasons = vec!["Optional: stops every sign-in as the app, its legitimate use included, until its owners have checked its credentials.".into()];
        draft.row(line);
    }
    Ok(())
}

/// "Add service principal credentials": a credential on the service principal itself, which
/// Firebreak cannot remove; the app can be disabled meanwhile.
async fn sp_credentials<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    a: &DirectoryAudit,
) -> Result<(), Error> {
    let mut row = audit_row(
        a,
        "Credential added to a service principal",
        "Remove the added secret or certificate by hand: Entra admin center > Enterprise applications > the app (its credentials are on the service principal, not on an app registration). Disabling the app below stops it signing in meanwhile.",
    );
    if let Some(key) = targets(a)
        .iter()
        .filter_map(|t| modified(t, "KeyDescription"))
        .flat_map(|(old, new)| key_changes(old, new).0)
        .next()
    {
        row.details.push(format!("Key id: {}", key.key_id));
    }
    draft.finding(row);
    for t in targets(a) {
        let Some(id) = t.get("id").and_then(Value::as_str) else {
            continue;
        };
        let sp = match cx.tenant.service_principal(id).await {
            Ok(sp) => sp,
            Err(e) => {
                draft.gap("The app behind the credential", e)?;
                continue;
            }
        };
        let Some(sp) = sp else {
            let mut missing = item(
                format!("missing:sp:{id}"),
                "App not found",
                target_text(t),
                vec![format!("Service principal object id: {id}")],
                Action::Record,
            );
            missing.fixed = true;
            missing.recommended = true;
            missing.reasons = vec!["The audit log names this app, but it cannot be read: find it by name under Enterprise applications and disable it there.".into()];
            draft.finding(missing);
            continue;
        };
        if sp.account_enabled == Some(false) {
            draft.clean("The app is already disabled.");
            continue;
        }
        let mut line = item(
            format!("sp:{}", sp.id),
            "App (service principal)",
            sp.display_name.clone().unwrap_or_else(|| sp.id.clone()),
            vec![format!("App id: {}", sp.app_id.clone().unwrap_or_default())],
            Action::DisableServicePrincipal { id: sp.id.clone() },
        );
        line.recommended = true;
        line.reasons = vec!["The compromised account added a credential to it during the incident: whoever holds the credential can sign in as the app. Disable it until the credential is removed and the app's owners confirm.".into()];
        draft.row(line);
    }
    Ok(())
}

/// Users the account created in the window: sign them out, block them, remove their methods.
pub(super) async fn created_users<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft
        .summary("Sign out, block and strip the sign-in methods of the users the account created.");
    let Some((_, entries)) = audits(cx, draft, "created-users", false).await? else {
        return Ok(());
    };
    for a in entries.iter().filter(|a| activity(a) == "add user") {
        for t in targets(a) {
            let Some(id) = t.get("id").and_then(Value::as_str) else {
                continue;
            };
            let target = UserRef::new(id)?;
            let Some(user) = cx.tenant.user(&target).await? else {
                draft.clean("A user the account created no longer exists.");
                continue;
            };
            let label = user
                .user_principal_name
                .clone()
                .unwrap_or_else(|| user.id.clone());
            let on = |action: Action| Action::On {
                target: user.id.clone(),
                action: Box::new(action),
            };
            let why = "Created by the compromised account during the incident: the attacker's way back in.";
            let mut revoke = item(
                format!("user-revoke:{}", user.id),
                "Created user: sign out",
                label.clone(),
                vec![
                    format!("Created: {}", target_text(t)),
                    format!("By: {}", initiator(a)),
                ],
                on(Action::RevokeSessions),
            );
            revoke.created = a.activity_date_time;
            revoke.recommended = true;
            revoke.reasons = vec![why.into()];
            draft.finding(revoke);
            if user.account_enabled != Some(false) {
                let mut disable = item(
                    format!("user-disable:{}", user.id),
                    "Created user: block sign-in",
                    label.clone(),
                    Vec::new(),
                    on(Action::DisableAccount),
                );
                disable.recommended = true;
                disable.reasons = vec![why.into()];
                draft.row(disable);
            }
            match cx.tenant.methods(&target).await {
                Ok(methods) => {
                    draft.capture(
                        "created-user-methods",
                        "Sign-in methods of a user the account created",
                        "GET /users/{id}/authentication/methods",
                        &methods.pages,
                    );
                    for m in &methods.items {
                        let Some(kind) = m.kind().filter(|k| k.deletable()) else {
                            continue;
                        };
                        if kind == MethodKind::Password {
                            continue;
                        }
                        let mut row = item(
                            format!("user-method:{}:{}", user.id, m.id),
                            "Created user: sign-in method",
                            format!(
                                "{label}: {}",
                                m.display_name
                                    .clone()
                                    .or_else(|| m.odata_type.clone())
                                    .unwrap_or_default()
                            ),
                            Vec::new(),
                            on(Action::DeleteMethod {
                                kind,
                                id: m.id.clone(),
                            }),
                        );
                        row.created = m.created_date_time;
                        row.recommended = true;
                        row.reasons = vec![
                            "A method on a user the attacker created lets them back in.".into(),
                        ];
                        draft.row(row);
                    }
                }
                Err(e) => draft.gap("Sign-in methods of a created user", e)?,
            }
        }
    }
    draft.clean("The account created no user in the window.");
    Ok(())
}

/// Conditional Access policies the account added, changed or deleted in the window.
pub(super) async fn conditional_access<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record Conditional Access policy changes made by the account.");
    let Some((_, entries)) = audits(cx, draft, "conditional-access", false).await? else {
        return Ok(());
    };
    for a in entries
        .iter()
        .filter(|a| activity(a).contains("conditional access policy"))
    {
        draft.finding(audit_row(
            a,
            "Conditional Access change",
            "Restore the policy by hand: Entra admin center > Protection > Conditional Access > Policies (the audit entry's modified properties show the old values). An attacker weakens a policy to keep access.",
        ));
    }
    draft.clean("The account changed no Conditional Access policy in the window.");
    Ok(())
}

/// The change that removes one credential of an application: a client secret through
/// `removePassword`, a certificate by rewriting the app's certificate list without it.
fn removal(application: &str, key_id: &str, secret: bool) -> Action {
    let (application, key_id) = (application.to_owned(), key_id.to_owned());
    if secret {
        Action::RemoveApplicationPassword {
            application,
            key_id,
        }
    } else {
        Action::RemoveApplicationCertificate {
            application,
            key_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_audit(activity: &str, target_type: &str, role: &str) -> DirectoryAudit {
        serde_json::from_value(serde_json::json!({
            "id": "Directory_1", "activityDisplayName": activity,
            "initiatedBy": {"user": {"id": "u", "userPrincipalName": "pat@contoso.example", "ipAddress": "203.0.113.7"}},
            "targetResources": [{"id": "2177bbf9-9219-5531-8545-a817ab0c1afe", "type": target_type,
                "userPrincipalName": "megan@contoso.example", "modifiedProperties": [
                {"displayName": "Role.ObjectID", "oldValue": null, "newValue": role},
                {"displayName": "Role.DisplayName", "oldValue": null, "newValue": "\"Global Administrator\""},
            ]}],
        }))
        .unwrap()
    }

    #[test]
    fn a_role_grant_is_read_from_the_quoted_modified_properties_of_a_user_target() {
        let role = "051b5f58-9346-568a-8c26-916645791c3d";
        let grant = RoleGrant::of(&role_audit(
            "Add member to role",
            "User",
            &format!("\"{role}\""),
        ))
        .unwrap();
        assert_eq!(grant.role, role);
        assert_eq!(grant.member, "2177bbf9-9219-5531-8545-a817ab0c1afe");
        assert_eq!(grant.member_name, "megan@contoso.example");
        assert_eq!(grant.role_name, "Global Administrator");
        assert_eq!(grant.address.as_deref(), Some("203.0.113.7"));
        // A grant to a group, a removal, or a role id that is not an object id: listed by hand.
        let quoted = format!("\"{role}\"");
        assert!(RoleGrant::of(&role_audit("Add member to role", "Group", &quoted)).is_none());
        assert!(RoleGrant::of(&role_audit("Remove member from role", "User", &quoted)).is_none());
        assert!(RoleGrant::of(&role_audit("Add member to role", "User", "\"../users\"")).is_none());
    }

    #[test]
    fn a_role_given_in_the_window_from_a_new_address_is_taken_away() {
        let attacker = |ip: &str| ip == "203.0.113.7";
        let own: BTreeSet<String> = ["198.51.100.10".to_owned(), "192.0.2.23".to_owned()].into();
        let none = BTreeSet::new();
        let judge =
            |ip: Option<&str>, own: Option<&BTreeSet<String>>| judge_grant(ip, &attacker, own);
        // The variant that must be found: from the attacker, or from an address the account had
        // never used, when the account gave it.
        assert_eq!(judge(Some("203.0.113.7"), None), GrantVerdict::FromAttacker);
        assert_eq!(
            judge(Some("198.18.7.77"), Some(&own)),
            GrantVerdict::NewAddress
        );
        assert!(GrantVerdict::NewAddress.recommended());
        // The look-alike that must survive: the owner, from the office they always use.
        assert_eq!(
            judge(Some("198.51.100.10"), Some(&own)),
            GrantVerdict::OwnAddress
        );
        assert!(!GrantVerdict::OwnAddress.recommended());
        // Nothing to compare with, someone else's grant, or no address: not pre-selected.
        assert_eq!(
            judge(Some("198.18.7.77"), Some(&none)),
            GrantVerdict::CannotTell
        );
        assert_eq!(judge(Some("198.18.7.77"), None), GrantVerdict::CannotTell);
        assert_eq!(judge(None, Some(&own)), GrantVerdict::CannotTell);
        assert!(!GrantVerdict::CannotTell.recommended());
    }

    const PROD: &str = "12c74f3d-88fd-5050-99e4-072d53a95174";
    const ADDED: &str = "fbaff44e-99c8-53e3-b467-006f89695d0e";
    const CERT: &str = "8e192542-3678-5244-8d97-8b27eea863e4";

    fn list(entries: &[(&str, &str, &str)]) -> String {
        let items: Vec<String> = entries
            .iter()
            .map(|(id, kind, name)| {
                format!("[KeyIdentifier={id},KeyType={kind},KeyUsage=Verify,DisplayName={name}]")
            })
            .collect();
        serde_json::to_string(&items).expect("json")
    }

    #[test]
    fn the_added_key_is_the_one_only_in_the_new_list_wherever_it_stands() {
        let old = list(&[
            (PROD, "Password", "prod"),
            (CERT, "AsymmetricX509Cert", "CN=app"),
        ]);
        let new = list(&[
            (PROD, "Password", "prod"),
            (ADDED, "Password", "prod-2"),
            (CERT, "AsymmetricX509Cert", "CN=app"),
        ]);
        let (added, removed) = key_changes(&old, &new);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].key_id, ADDED, "never the first key of the list");
        assert_eq!(added[0].key_type, "Password");
        assert_eq!(added[0].display_name, "prod-2");
        assert!(removed.is_empty());
    }

    #[test]
    fn a_key_the_account_removed_is_told_apart_from_one_it_added() {
        let old = list(&[
            (PROD, "Password", "prod"),
            (CERT, "AsymmetricX509Cert", "CN=app"),
        ]);
        let new = list(&[(ADDED, "Password", "x")]);
        let (added, removed) = key_changes(&old, &new);
        assert_eq!(
            added.iter().map(|k| k.key_id.as_str()).collect::<Vec<_>>(),
            [ADDED]
        );
        assert_eq!(
            removed
                .iter()
                .map(|k| k.key_id.as_str())
                .collect::<Vec<_>>(),
            [PROD, CERT]
        );
    }

    #[test]
    fn a_display_name_cannot_invent_or_hide_a_key() {
        let old = list(&[(PROD, "Password", "prod")]);
        let sneaky = format!("prod,KeyIdentifier={PROD}],[KeyIdentifier={CERT}");
        let new = list(&[(PROD, "Password", "prod"), (ADDED, "Password", &sneaky)]);
        let (added, _) = key_changes(&old, &new);
        assert_eq!(added.len(), 1, "{added:?}");
        assert_eq!(added[0].key_id, ADDED);
        assert_eq!(added[0].display_name, sneaky);
    }

    #[test]
    fn a_single_entry_and_an_empty_or_broken_list_are_read() {
        let single = format!(
            "\"[KeyIdentifier={ADDED},KeyType=Password,KeyUsage=Verify,DisplayName=backup]\""
        );
        let (added, _) = key_changes("[]", &single);
        assert_eq!(added.len(), 1);
        assert!(key_descriptions("").is_empty());
        assert!(key_descriptions("not json at all").is_empty());
        assert!(
            key_descriptions(&list(&[("not-a-guid", "Password", "x")])).is_empty(),
            "an entry without a valid key id is ignored"
        );
    }
}
