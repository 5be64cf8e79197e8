//! Accounts mastered in on-premises Active Directory and synchronised to Entra (users with
//! `onPremisesSyncEnabled: true`), and what the responder's cloud changes do to them
//! (spec/graph-behaviour.md, "Synchronised accounts"):
//! - a cloud password change is refused unless the tenant writes passwords back; accepted, it
//!   changes the cloud password only, and with pass-through authentication or federation the
//!   password in Active Directory (the one the attacker knows) keeps working;
//! - a blocked sign-in is set back from Active Directory at the next synchronisation cycle unless
//!   the account is disabled there too;
//! - what the admin does in Active Directory arrives through `/_sim/onPremises` (disable, enable,
//!   reset the password), as it would from Active Directory Users and Computers.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::clock::graph_time;
use crate::server::GraphError;
use crate::tenant::{Tenant, UserRecord};

/// What Active Directory holds for the synchronised accounts, and when the next sync runs.
#[derive(Debug, Clone)]
pub(crate) struct OnPremises {
    accounts: BTreeMap<String, OnPremAccount>,
    next_sync: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
struct OnPremAccount {
    disabled: bool,
    password_changed: Option<DateTime<Utc>>,
}

/// An action of the admin in Active Directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnPremAction {
    Disable,
    Enable,
    ResetPassword,
}

impl OnPremAction {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(Self::Disable),
            "enable" => Some(Self::Enable),
            "resetPassword" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

impl OnPremises {
    /// Active Directory as the scenario starts: every account enabled, the first sync one interval
    /// after `start`.
    pub(crate) fn new(start: DateTime<Utc>, interval_minutes: i64) -> Self {
        Self {
            accounts: BTreeMap::new(),
            next_sync: start + Duration::minutes(interval_minutes.max(1)),
        }
    }
}

/// Whether the account is mastered on-premises.
pub(crate) fn is_synced(user: &UserRecord) -> bool {
    user.user
        .get("onPremisesSyncEnabled")
        .and_then(Value::as_bool)
        == Some(true)
}

/// Whether sign-in checks the password in Active Directory (pass-through or federation), so a
/// cloud password change does not change what the account signs in with.
pub(crate) fn password_checked_on_premises(tenant: &Tenant, user_id: &str) -> bool {
    tenant.user(user_id).is_some_and(is_synced)
        && !tenant
            .info
            .hybrid
            .authentication
            .eq_ignore_ascii_case("passwordHashSync")
}

/// Graph's refusal of a cloud password change for an account mastered on-premises, unless the
/// tenant writes passwords back.
pub(crate) fn refuse_cloud_password(tenant: &Tenant, user: &UserRecord) -> Option<GraphError> {
    (is_synced(user) && !tenant.info.hybrid.password_writeback).then(|| {
        GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_BadRequest",
            "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.",
        )
    })
}

/// Whether the account is disabled in Active Directory.
pub(crate) fn disabled_on_premises(tenant: &Tenant, user_id: &str) -> bool {
    tenant
        .on_premises
        .accounts
        .get(user_id)
        .is_some_and(|a| a.disabled)
}

/// When the password was last changed in Active Directory during the run.
pub(crate) fn password_changed_on_premises(
    tenant: &Tenant,
    user_id: &str,
) -> Option<DateTime<Utc>> {
    tenant
        .on_premises
        .accounts
        .get(user_id)
        .and_then(|a| a.password_changed)
}

/// The admin acts on `user` (UPN or id) in Active Directory at `now`.
pub(crate) fn act(
    tenant: &mut Tenant,
    user: &str,
    action: OnPremAction,
    now: DateTime<Utc>,
) -> Result<Value, String> {
    let record = tenant.user(user).ok_or_else(|| format!("no user {user}"))?;
    if !is_synced(record) {
        return Err(format!(
            "{} is a cloud account: it has no Active Directory object to change",
            record.upn()
        ));
    }
    let id = record.id().to_owned();
    let upn = record.upn().to_owned();
    let account = tenant.on_premises.accounts.entry(id.clone()).or_default();
    match action {
        OnPremAction::Disable => account.disabled = true,
        OnPremAction::Enable => account.disabled = false,
        OnPremAction::ResetPassword => account.password_changed = Some(now),
    }
    // Pass-through and federated sign-ins are checked in Active Directory at once.
    if password_checked_on_premises(tenant, &id) {
        match action {
            OnPremAction::Disable => crate::attacker::on_disabled(tenant, &id, now),
            OnPremAction::ResetPassword => crate::attacker::on_password_reset(tenant, &id, now),
            OnPremAction::Enable => {}
        }
    }
    let change = match action {
        OnPremAction::Disable => "disabled in Active Directory",
        OnPremAction::Enable => "enabled in Active Directory",
        OnPremAction::ResetPassword => "password reset in Active Directory",
    };
    tenant.record_action(
        now,
        json!({"surface": "onPremises", "target": upn, "targetId": id, "change": change}),
    );
    Ok(json!({"done": change, "nextSync": graph_time(tenant.on_premises.next_sync)}))
}

/// Runs every synchronisation cycle due by `now`: Active Directory's state overwrites the cloud's
/// for each synchronised account (sign-in allowed or blocked, the password changed there).
pub(crate) fn sync(tenant: &mut Tenant, now: DateTime<Utc>) {
    let interval = Duration::minutes(tenant.info.hybrid.sync_interval_minutes.max(1));
    while tenant.on_premises.next_sync <= now {
        let at = tenant.on_premises.next_sync;
        tenant.on_premises.next_sync = at + interval;
        let synced: Vec<String> = tenant
            .users
            .iter()
            .filter(|u| is_synced(u))
            .map(|u| u.id().to_owned())
            .collect();
        for id in synced {
            sync_account(tenant, &id, at);
        }
    }
}

fn sync_account(tenant: &mut Tenant, id: &str, at: DateTime<Utc>) {
    let on_prem = tenant
        .on_premises
        .accounts
        .get(id)
        .cloned()
        .unwrap_or_default();
    let Some(user) = tenant.user_mut(id) else {
        return;
    };
    let enabled = !on_prem.disabled;
    let was_enabled = user.account_enabled();
    let upn = user.upn().to_owned();
    user.user
        .insert("accountEnabled".to_owned(), json!(enabled));
    let password_arrives = on_prem.password_changed.filter(|changed| {
        user.user
            .get("lastPasswordChangeDateTime")
            .and_then(Value::as_str)
            .and_then(crate::clock::parse_time)
            .is_none_or(|cloud| cloud < *changed)
    });
    if let Some(changed) = password_arrives {
        user.user.insert(
            "lastPasswordChangeDateTime".to_owned(),
            json!(graph_time(changed)),
        );
    }
    if enabled != was_enabled {
        let change = if enabled {
            "synchronisation enabled the account again (it is enabled in Active Directory)"
        } else {
            "synchronisation blocked sign-in (the account is disabled in Active Directory)"
        };
        tenant.record_action(
            at,
            json!({"surface": "sync", "target": upn, "targetId": id, "change": change}),
        );
        if enabled {
            crate::attacker::on_enabled(tenant, id, at);
        } else {
            crate::attacker::on_disabled(tenant, id, at);
        }
    }
    if password_arrives.is_some() && !password_checked_on_premises(tenant, id) {
        // Password hash synchronisation brings the new password to the cloud.
        crate::attacker::on_password_reset(tenant, id, at);
    }
}
