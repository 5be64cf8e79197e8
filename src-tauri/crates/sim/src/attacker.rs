//! The attacker, acting over simulated time and reacting to the responder:
//! - a password reset while the attacker's session is still alive (no revoke, no disable before
//!   it) lets them register a new authentication method with the token they still hold;
//! - a method of theirs left in place lets them reset the password back through self-service
//!   once they have lost their session (unless the account is disabled);
//! - a consented app keeps reading mail while its grant or its refresh token lives;
//! - a live session keeps refreshing tokens and reading mail; external forwarding keeps sending
//!   mail out;
//! - revoking sessions, resetting the password or disabling the account does not end an access
//!   token already issued (unless the client honours continuous access evaluation): the attacker
//!   keeps reading until it expires, and the refresh attempts after the revocation fail in the
//!   non-interactive sign-in log.
//!
//! [`footholds`] says, per account, what the attacker still holds: the score reads it.
//!
//! Everything the attacker does is written to the tenant's logs (sign-ins, directory audits,
//! unified audit records) and to the attacker log the debrief shows.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

use crate::clock::graph_time;
use crate::scenario::{Artefact, ArtefactKind, AttackerPlan};
use crate::score::{Foothold, Hold, HoldKind, Reach};
use crate::tenant::{normalise_method, str_of, Tenant};

/// Longest stretch of simulated time the attacker simulates in one go (older hours are skipped).
const MAX_HOURS_PER_STEP: i64 = 24 * 14;
/// How long after losing its token a consented app gets a new one while its grant remains.
const APP_RECONSENT_HOURS: i64 = 2;
/// Minutes before each hour at which the attacker's client refreshes its token.
const REFRESH_MINUTES_BEFORE_HOUR: i64 = 7;
/// Refresh attempts the attacker's client makes after its refresh token was refused, one an
/// hour, before it gives up.
const FAILED_REFRESH_ATTEMPTS: u32 = 3;
/// Entra's error for a refresh token refused because the user's sessions were revoked or the
/// password changed (AADSTS50173, FreshTokenNeeded; see spec/graph-behaviour.md).
pub(crate) const GRANT_REVOKED: i64 = 50_173;
/// Entra's error for a sign-in to a disabled account (AADSTS50057, UserDisabled).
const USER_DISABLED: i64 = 50_057;

#[derive(Debug, Clone)]
struct Account {
    user_id: String,
    session_since: DateTime<Utc>,
    reads_per_hour: u32,
    app_id: String,
    app_name: String,
    revoked: bool,
    disabled: bool,
    lost_at: Option<DateTime<Utc>>,
    enabled_at: Option<DateTime<Utc>>,
    /// The address the attacker uses for this account.
    ip: Option<String>,
    /// Addresses its session rotates among, one per hour in turn (empty: `ip`).
    rotation: Vec<String>,
    /// How long an access token lives after its refresh.
    access_token_minutes: i64,
    /// Whether a revocation ends the access token at once (continuous access evaluation).
    cae_capable: bool,
    /// When the attacker's current access token was issued (its last successful refresh).
    token_issued: DateTime<Utc>,
    /// From when the attacker knows the password (a later change makes it unknown to them).
    password_known_at: Option<DateTime<Utc>>,
    /// Refresh attempts refused since the session was lost.
    failed_refreshes: u32,
}

#[derive(Debug, Clone)]
struct AppAccess {
    sp_id: String,
    user_id: String,
    reads_per_hour: u32,
    token_since: DateTime<Utc>,
}

#[derive(Debug, Clone)]
enum Pending {
    RegisterMethod { user_id: String },
}

/// The attacker's live state.
#[derive(Debug, Clone)]
pub(crate) struct AttackerState {
    plan: AttackerPlan,
    accounts: Vec<Account>,
    apps: Vec<AppAccess>,
    last_tick: Option<DateTime<Utc>>,
    pending: Vec<(DateTime<Utc>, Pending)>,
    /// What the attacker did, for the debrief.
    pub(crate) log: Vec<Value>,
    /// Attacker artefacts created during the run (not in the scenario's answer key).
    pub(crate) added: Vec<Artefact>,
    pub(crate) regained_access: bool,
    pub(crate) mail_forwarded: u64,
    pub(crate) items_read: u64,
}

impl AttackerState {
    pub(crate) fn new(plan: &AttackerPlan, start: DateTime<Utc>) -> Self {
        Self {
            plan: plan.clone(),
            accounts: plan
                .compromised
                .iter()
                .map(|c| Account {
                    user_id: c.user_id.clone(),
                    session_since: c.session_since,
                    reads_per_hour: c.reads_per_hour,
                    app_id: c.app_id.clone(),
                    app_name: c.app_display_name.clone(),
                    revoked: false,
                    disabled: false,
                    lost_at: None,
                    enabled_at: None,
                    ip: c.ip_address.clone(),
                    rotation: c.ip_addresses.clone(),
                    access_token_minutes: c.access_token_minutes.max(1),
                    cae_capable: c.cae_capable,
                    token_issued: last_refresh_before(start).max(c.session_since),
                    password_known_at: c.knows_password.then_some(start),
                    failed_refreshes: 0,
                })
                .collect(),
            apps: plan
                .malicious_apps
                .iter()
                .map(|a| AppAccess {
                    sp_id: a.service_principal_id.clone(),
                    user_id: a.user_id.clone(),
                    reads_per_hour: a.reads_per_hour,
                    token_since: start,
                })
                .collect(),
            last_tick: None,
            pending: Vec::new(),
            log: Vec::new(),
            added: Vec::new(),
            regained_access: false,
            mail_forwarded: 0,
            items_read: 0,
        }
    }

    fn ip(&self) -> String {
        self.plan
            .ip_addresses
            .first()
            .cloned()
            .unwrap_or_else(|| "203.0.113.66".to_owned())
    }

    /// The address the attacker uses for `user_id` at `at`: the hour's turn of its rotation when
    /// the scenario gives one, else its own address, else the plan's first.
    fn ip_for_at(&self, user_id: &str, at: DateTime<Utc>) -> String {
        let rotation = self
            .accounts
            .iter()
            .find(|a| a.user_id == user_id)
            .map(|a| a.rotation.as_slice())
            .unwrap_or_default();
        if rotation.is_empty() {
            return self.ip_for(user_id);
        }
        let hour = usize::try_from(at.timestamp().div_euclid(3600)).unwrap_or_default();
        rotation[hour % rotation.len()].clone()
    }

    /// The address the attacker uses for `user_id`: its own when the scenario names one.
    fn ip_for(&self, user_id: &str) -> String {
        self.accounts
            .iter()
            .find(|a| a.user_id == user_id)
            .and_then(|a| a.ip.clone())
            .unwrap_or_else(|| self.ip())
    }

    fn note(&mut self, at: DateTime<Utc>, user: &str, what: &str, detail: String) {
        self.log
            .push(json!({"at": graph_time(at), "userId": user, "action": what, "detail": detail}));
    }

    /// Ids of compromised users.
    pub(crate) fn compromised_users(&self) -> Vec<String> {
        self.accounts.iter().map(|a| a.user_id.clone()).collect()
    }
}

fn session_alive(tenant: &Tenant, user_id: &str, since: DateTime<Utc>) -> bool {
    tenant.user(user_id).is_some_and(|u| {
        u.account_enabled() && u.sessions_valid_from().is_none_or(|from| from <= since)
    })
}

/// The last hourly refresh of the attacker's client at or before `at`.
fn last_refresh_before(at: DateTime<Utc>) -> DateTime<Utc> {
    let hour = Duration::hours(1);
    let candidate = at.duration_trunc(hour).unwrap_or(at) + hour
        - Duration::minutes(REFRESH_MINUTES_BEFORE_HOUR);
    if candidate > at {
        candidate - hour
    } else {
        candidate
    }
}

/// When the access token the attacker still holds on `account` stops working, if it works at
/// `now` although the session behind it is gone: the revocation tail. A client honouring
/// continuous access evaluation loses it at the revocation itself.
fn token_tail(tenant: &Tenant, account: &Account, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if account.lost_at.is_none()
        || account.cae_capable
        || session_alive(tenant, &account.user_id, account.session_since)
    {
        return None;
    }
    let until = account.token_issued + Duration::minutes(account.access_token_minutes);
    (until > now).then_some(until)
}

/// Whether the attacker still knows the password of an enabled account.
fn password_known(tenant: &Tenant, account: &Account) -> bool {
    let Some(known) = account.password_known_at else {
        return false;
    };
    if crate::hybrid::password_checked_on_premises(tenant, &account.user_id) {
        // Sign-in checks Active Directory: the cloud's password change date says nothing.
        return tenant
            .user(&account.user_id)
            .is_some_and(|u| u.account_enabled())
            && !crate::hybrid::disabled_on_premises(tenant, &account.user_id)
            && crate::hybrid::password_changed_on_premises(tenant, &account.user_id)
                .is_none_or(|changed| changed <= known);
    }
    tenant.user(&account.user_id).is_some_and(|u| {
        u.account_enabled()
            && u.user
                .get("lastPasswordChangeDateTime")
                .and_then(Value::as_str)
                .and_then(crate::clock::parse_time)
                .is_none_or(|changed| changed <= known)
    })
}

/// Whether the attacker currently holds a working session on this account.
pub(crate) fn account_alive(tenant: &Tenant, user_id: &str) -> bool {
    tenant
        .attacker
        .accounts
        .iter()
        .any(|a| a.user_id == user_id && session_alive(tenant, user_id, a.session_since))
}

fn app_alive(tenant: &Tenant, app: &AppAccess) -> bool {
    let sp_enabled = tenant.service_principal(&app.sp_id).is_some_and(|sp| {
        sp.get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    });
    // Removing the grant alone does not end a refresh token already issued to the app.
    sp_enabled && session_alive(tenant, &app.user_id, app.token_since)
}

fn grant_exists(tenant: &Tenant, app: &AppAccess) -> bool {
    tenant.grants.iter().any(|g| {
        str_of(g, "clientId") == Some(app.sp_id.as_str())
            && str_of(g, "principalId") == Some(app.user_id.as_str())
    })
}

/// Whether the attacker still holds anything in the tenant at `now`: a session, an access token
/// in its tail, an app reading or consented, a password it knows or a method of its own on an
/// enabled account.
pub(crate) fn has_access(tenant: &Tenant, now: DateTime<Utc>) -> bool {
    footholds(tenant, now).iter().any(|f| !f.holds.is_empty())
}

/// The latest moment an access token of the attacker's keeps working after its session is gone.
pub(crate) fn token_until(tenant: &Tenant, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    tenant
        .attacker
        .accounts
        .iter()
        .filter_map(|a| token_tail(tenant, a, now))
        .max()
}

/// What the attacker holds, per account: every compromised account (with an empty `holds` when
/// nothing is left) and any other account where the attacker holds something. Each hold has a
/// `kind` (`session`, `accessToken`, `appToken`, `appConsent`, `password`,
/// `authenticationMethod`) and a `detail` in plain words; `reaches` lists the mailboxes the
/// account's delegate rights open to whoever holds its session or token.
pub(crate) fn footholds(tenant: &Tenant, now: DateTime<Utc>) -> Vec<Foothold> {
    let mut by_user: Vec<(String, Vec<Hold>)> = Vec::new();
    let mut add = |user: &str, hold: Option<Hold>| {
        let index = match by_user.iter().position(|(u, _)| u == user) {
            Some(i) => i,
            None => {
                by_user.push((user.to_owned(), Vec::new()));
                by_user.len() - 1
            }
        };
        by_user[index].1.extend(hold);
    };
    for account in &tenant.attacker.accounts {
        add(&account.user_id, None);
        if session_alive(tenant, &account.user_id, account.session_since) {
            add(
                &account.user_id,
                Some(Hold::new(
                    HoldKind::Session,
                    format!("the attacker's session from {} is alive: its refresh token still works (sessions not revoked, account enabled)", graph_time(account.session_since)),
                )),
            );
        } else if let Some(until) = token_tail(tenant, account, now) {
            add(
                &account.user_id,
                Some(Hold {
                    until: Some(until),
                    ..Hold::new(
                        HoldKind::AccessToken,
                        format!("the access token refreshed at {} keeps working until {}: revoking sessions or resetting the password does not end a token already issued", graph_time(account.token_issued), graph_time(until)),
                    )
                }),
            );
        }
        if password_known(tenant, account) {
            add(
                &account.user_id,
                Some(Hold::new(
                    HoldKind::Password,
                    if crate::hybrid::password_checked_on_premises(tenant, &account.user_id) {
                        "the password the attacker knows still works: sign-in checks it in Active Directory, where it was never reset, and the account is enabled"
                    } else {
                        "the password the attacker knows was never reset and the account is enabled"
                    },
                )),
            );
        }
    }
    for app in &tenant.attacker.apps {
        let name = tenant
            .service_principal(&app.sp_id)
            .and_then(|sp| str_of(sp, "displayName"))
            .unwrap_or(app.sp_id.as_str())
            .to_owned();
        let sp_enabled = tenant.service_principal(&app.sp_id).is_some_and(|sp| {
            sp.get("accountEnabled")
                .and_then(Value::as_bool)
                .unwrap_or(true)
        });
        let user_enabled = tenant
            .user(&app.user_id)
            .is_some_and(|u| u.account_enabled());
        let hold = if app_alive(tenant, app) {
            Some(Hold {
                service_principal_id: Some(app.sp_id.clone()),
                ..Hold::new(
                    HoldKind::AppToken,
                    format!("the app {name} still reads with the user's refresh token"),
                )
            })
        } else if sp_enabled && user_enabled && grant_exists(tenant, app) {
            Some(Hold {
                service_principal_id: Some(app.sp_id.clone()),
                ..Hold::new(
                    HoldKind::AppConsent,
                    format!("the consent to the app {name} remains: it gets a new token without a prompt"),
                )
            })
        } else {
            None
        };
        if hold.is_some() {
            add(&app.user_id, hold);
        }
    }
    for artefact in tenant
        .answer_key
        .attacker
        .iter()
        .chain(&tenant.attacker.added)
        .filter(|a| a.kind == ArtefactKind::AuthenticationMethod)
    {
        let Some(user_id) = artefact.user_id.as_deref() else {
            continue;
        };
        let Some(user) = tenant.user(user_id) else {
            continue;
        };
        if user.account_enabled()
            && user
                .methods
                .iter()
                .any(|m| str_of(m, "id") == Some(artefact.id.as_str()))
        {
            add(
                user_id,
                Some(Hold {
                    id: Some(artefact.id.clone()),
                    ..Hold::new(
                        HoldKind::AuthenticationMethod,
                        format!("a sign-in method of the attacker's is still registered on the enabled account ({})", artefact.description),
                    )
                }),
            );
        }
    }
    by_user
        .into_iter()
        .map(|(user_id, holds)| {
            let upn = tenant
                .user(&user_id)
                .map(|u| u.upn().to_owned())
                .unwrap_or_default();
            let live = holds
                .iter()
                .any(|h| matches!(h.kind, HoldKind::Session | HoldKind::AccessToken));
            let reaches = if live {
                delegated_mailboxes(tenant, &user_id)
            } else {
                Vec::new()
            };
            Foothold {
                user_id,
                user_principal_name: upn,
                holds,
                reaches,
            }
        })
        .collect()
}

/// The mailboxes `user_id` holds FullAccess or SendAs on: what its session opens besides its own.
fn delegated_mailboxes(tenant: &Tenant, user_id: &str) -> Vec<Reach> {
    let Some(user) = tenant.user(user_id) else {
        return Vec::new();
    };
    let nickname = user
        .user
        .get("mailNickname")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let is_user = |who: &str| {
        !who.is_empty()
            && (who.eq_ignore_ascii_case(user.upn())
                || who.eq_ignore_ascii_case(user.id())
                || (!nickname.is_empty() && who.eq_ignore_ascii_case(nickname)))
    };
    tenant
        .users
        .iter()
        .filter(|u| u.id() != user_id)
        .filter_map(|owner| {
            let mailbox = owner.mailbox.as_ref()?;
            let mut rights: Vec<String> = mailbox
                .permissions
                .iter()
                .filter(|p| !p.deny && is_user(&p.user))
                .flat_map(|p| p.access_rights.iter().cloned())
                .collect();
            rights.extend(
                mailbox
                    .recipient_permissions
                    .iter()
                    .filter(|p| is_user(&p.trustee))
                    .flat_map(|p| p.access_rights.iter().cloned()),
            );
            (!rights.is_empty()).then(|| Reach {
                mailbox: owner.upn().to_owned(),
                rights,
            })
        })
        .collect()
}

/// The responder revoked the user's sessions.
pub(crate) fn on_sessions_revoked(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>) {
    let attacker = &mut tenant.attacker;
    let mut notes = Vec::new();
    for account in attacker
        .accounts
        .iter_mut()
        .filter(|a| a.user_id == user_id)
    {
        if account.lost_at.is_none() {
            account.lost_at = Some(now);
            notes.push("the stolen refresh token stopped working (sessions revoked)".to_owned());
        }
        account.revoked = true;
    }
    for note in notes {
        attacker.note(now, user_id, "sessionLost", note);
    }
}

/// The responder disabled the account.
pub(crate) fn on_disabled(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>) {
    let attacker = &mut tenant.attacker;
    let mut lost = false;
    for account in attacker
        .accounts
        .iter_mut()
        .filter(|a| a.user_id == user_id)
    {
        account.disabled = true;
        if account.lost_at.is_none() {
            account.lost_at = Some(now);
            lost = true;
        }
    }
    if lost {
        attacker.note(
            now,
            user_id,
            "sessionLost",
            "sign-in blocked (account disabled)".to_owned(),
        );
    }
}

/// The responder re-enabled the account: a self-service reset cannot have happened before this.
pub(crate) fn on_enabled(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>) {
    for account in tenant
        .attacker
        .accounts
        .iter_mut()
        .filter(|a| a.user_id == user_id)
    {
        account.enabled_at = Some(now);
    }
}

/// The responder reset the password. Before a revoke (and a disable), the attacker's access token
/// still works for a while: they use it to register a method of their own.
pub(crate) fn on_password_reset(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>) {
    reset(tenant, user_id, now, false);
}

/// The responder changed the cloud password of an account whose sign-in checks the password in
/// Active Directory: the sessions end, but the password the attacker knows still signs in.
pub(crate) fn on_cloud_password_only(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>) {
    reset(tenant, user_id, now, true);
}

fn reset(tenant: &mut Tenant, user_id: &str, now: DateTime<Utc>, keeps_password: bool) {
    let delay = Duration::minutes(tenant.attacker.plan.register_method_after_minutes);
    let attacker = &mut tenant.attacker;
    let mut react = false;
    let mut lost = false;
    for account in attacker
        .accounts
        .iter_mut()
        .filter(|a| a.user_id == user_id)
    {
        if account.lost_at.is_none()
            && !account.revoked
            && !account.disabled
            && !account.cae_capable
        {
            react = true;
        }
        if account.lost_at.is_none() {
            account.lost_at = Some(now);
            lost = true;
        }
        // The new password is one the attacker does not know, unless sign-in checks the old one
        // in Active Directory (a cloud change of a synchronised account; spec/graph-behaviour.md,
        // "Synchronised accounts").
        if !keeps_password {
            account.password_known_at = None;
        }
    }
    if react {
        attacker.pending.push((
            now + delay,
            Pending::RegisterMethod {
                user_id: user_id.to_owned(),
            },
        ));
        attacker.note(
            now,
            user_id,
            "raceDuringReset",
            "the password was reset before sessions were revoked: the attacker's access token still works and they move to register a method of their own".to_owned(),
        );
    } else if lost {
        attacker.note(
            now,
            user_id,
            "sessionLost",
            "the stolen refresh token stopped working (password reset)".to_owned(),
        );
    }
}

/// The responder removed a delegated permission grant.
pub(crate) fn on_grant_removed(tenant: &mut Tenant, grant: &Value, now: DateTime<Utc>) {
    let client = str_of(grant, "clientId").unwrap_or_default().to_owned();
    let principal = str_of(grant, "principalId").unwrap_or_default().to_owned();
    let still_reading = tenant.attacker.apps.iter().any(|a| {
        a.sp_id == client
            && a.user_id == principal
            && session_alive(tenant, &a.user_id, a.token_since)
    });
    if tenant
        .attacker
        .apps
        .iter()
        .any(|a| a.sp_id == client && a.user_id == principal)
    {
        let detail = if still_reading {
            "the consent is gone, but the app's refresh token still works until the user's sessions are revoked"
        } else {
            "the consent is gone and the app holds no working token"
        };
        tenant
            .attacker
            .note(now, &principal, "grantRemoved", detail.to_owned());
    }
}

/// Lets the attacker act from the last processed moment up to `now`.
pub(crate) fn advance(tenant: &mut Tenant, now: DateTime<Utc>) {
    run_pending(tenant, now);
    reset_back_in(tenant, now);
    let hour = Duration::hours(1);
    let mut tick = match tenant.attacker.last_tick {
        Some(t) => t + hour,
        None => {
            let start = now.duration_trunc(hour).unwrap_or(now);
            tenant.attacker.last_tick = Some(start);
            start + hour
        }
    };
    if now - tick > Duration::hours(MAX_HOURS_PER_STEP) {
        tick = now.duration_trunc(hour).unwrap_or(now) - Duration::hours(MAX_HOURS_PER_STEP);
    }
    while tick <= now {
        activity(tenant, tick);
        tenant.attacker.last_tick = Some(tick);
        tick += hour;
    }
}

fn run_pending(tenant: &mut Tenant, now: DateTime<Utc>) {
    tenant.attacker.pending.sort_by_key(|(at, _)| *at);
    while tenant
        .attacker
        .pending
        .first()
        .is_some_and(|(at, _)| *at <= now)
    {
        let (at, pending) = tenant.attacker.pending.remove(0);
        match pending {
            Pending::RegisterMethod { user_id } => register_method(tenant, &user_id, at),
        }
    }
}

fn register_method(tenant: &mut Tenant, user_id: &str, at: DateTime<Utc>) {
    let id = tenant.new_guid("attacker-method");
    let mut method = tenant.attacker.plan.new_method.clone().unwrap_or_else(|| {
        json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+44 7700 900461", "phoneType": "mobile"})
    });
    if let Value::Object(map) = &mut method {
        map.insert("id".to_owned(), json!(id));
        if map.get("@odata.type").and_then(Value::as_str)
            != Some("#microsoft.graph.phoneAuthenticationMethod")
        {
            map.insert("createdDateTime".to_owned(), json!(graph_time(at)));
        }
    }
    normalise_method(&mut method);
    let ip = tenant.attacker.ip_for_at(user_id, at);
    let Some(user) = tenant.user_mut(user_id) else {
        return;
    };
    free_phone_slot(&user.methods, &mut method);
    user.methods.push(method.clone());
    let upn = user.upn().to_owned();
    let kind = str_of(&method, "@odata.type")
        .unwrap_or_default()
        .trim_start_matches("#microsoft.graph.")
        .to_owned();
    tenant.attacker.added.push(Artefact {
        kind: ArtefactKind::AuthenticationMethod,
        user_id: Some(user_id.to_owned()),
        id: id.clone(),
        description: format!("{kind} registered by the attacker during the password reset"),
    });
    tenant.attacker.note(
        at,
        user_id,
        "registeredMethod",
        format!("registered {kind} {id} from {ip}"),
    );
    record_registration(tenant, user_id, &upn, &method, at, &ip, ATTACKER_USER_AGENT);
}

fn attacker_method_present(tenant: &Tenant, user_id: &str) -> bool {
    let Some(user) = tenant.user(user_id) else {
        return false;
    };
    let planted = tenant
        .answer_key
        .attacker
        .iter()
        .chain(&tenant.attacker.added)
        .filter(|a| {
            a.kind == ArtefactKind::AuthenticationMethod && a.user_id.as_deref() == Some(user_id)
        });
    let ids: Vec<&str> = planted.map(|a| a.id.as_str()).collect();
    user.methods
        .iter()
        .any(|m| str_of(m, "id").is_some_and(|id| ids.contains(&id)))
}

fn reset_back_in(tenant: &mut Tenant, now: DateTime<Utc>) {
    let delay = Duration::minutes(tenant.attacker.plan.reset_back_in_after_minutes);
    let candidates: Vec<(usize, DateTime<Utc>)> = tenant
        .attacker
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.lost_at.map(|lost| {
                (
                    i,
                    (lost + delay).max(a.enabled_at.unwrap_or(lost) + Duration::minutes(5)),
                )
            })
        })
        .filter(|(_, at)| *at <= now)
        .collect();
    for (index, at) in candidates {
        let user_id = tenant.attacker.accounts[index].user_id.clone();
        let enabled = tenant.user(&user_id).is_some_and(|u| u.account_enabled());
        if !enabled || !attacker_method_present(tenant, &user_id) {
            continue;
        }
        // Self-service password reset with the attacker's own method, then a fresh sign-in.
        let ip = tenant.attacker.ip_for_at(&user_id, at);
        let upn = tenant
            .user(&user_id)
            .map(|u| u.upn().to_owned())
            .unwrap_or_default();
        if let Some(user) = tenant.user_mut(&user_id) {
            user.user.insert(
                "lastPasswordChangeDateTime".to_owned(),
                json!(graph_time(at)),
            );
            user.user.insert(
                "signInSessionsValidFromDateTime".to_owned(),
                json!(graph_time(at)),
            );
        }
        {
            let account = &mut tenant.attacker.accounts[index];
            account.session_since = at + Duration::seconds(30);
            account.token_issued = at + Duration::seconds(30);
            account.password_known_at = Some(at);
            account.failed_refreshes = 0;
            account.lost_at = None;
            account.revoked = false;
            account.disabled = false;
        }
        tenant.attacker.regained_access = true;
        tenant.attacker.note(at, &user_id, "regainedAccess", format!("reset the password through self-service with the attacker's own method and signed in again from {ip}"));
        let audit_id = tenant.new_guid("audit");
        tenant.push_directory_audit(json!({
            "id": audit_id, "activityDateTime": graph_time(at), "activityDisplayName": "Reset password (self-service)",
            "category": "UserManagement", "loggedByService": "Self-service Password Management", "operationType": "Update",
            "initiatedBy": {"user": {"id": user_id, "displayName": null, "userPrincipalName": upn, "ipAddress": ip}},
            "targetResources": [{"id": user_id, "displayName": null, "type": "User", "userPrincipalName": upn, "modifiedProperties": []}],
        }));
        let sign_in = attacker_sign_in(tenant, &user_id, at + Duration::seconds(30), true);
        tenant.push_sign_in(sign_in);
    }
}

fn attacker_sign_in(
    tenant: &mut Tenant,
    user_id: &str,
    at: DateTime<Utc>,
    interactive: bool,
) -> Value {
    let id = tenant.new_guid("attacker-signin");
    let ip = tenant.attacker.ip_for_at(user_id, at);
    let plan = &tenant.attacker.plan;
    let account = tenant
        .attacker
        .accounts
        .iter()
        .find(|a| a.user_id == user_id);
    let (app_id, app_name) = account
        .map(|a| (a.app_id.clone(), a.app_name.clone()))
        .unwrap_or_default();
    let mut sign_in = json!({
        "id": id,
        "createdDateTime": graph_time(at),
        "userId": user_id,
        "appId": app_id,
        "appDisplayName": app_name,
        "ipAddress": ip,
        "isInteractive": interactive,
        "clientAppUsed": if interactive { "Browser" } else { "Mobile Apps and Desktop clients" },
        "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": if interactive { "MFA completed in Azure AD" } else { "MFA requirement satisfied by claim in the token" }},
    });
    if let Value::Object(map) = &mut sign_in {
        if let Some(location) = &plan.location {
            map.insert("location".to_owned(), location.clone());
        }
        if let Some(device) = &plan.device_detail {
            map.insert("deviceDetail".to_owned(), device.clone());
        }
        if let Some(asn) = plan.asn {
            map.insert("autonomousSystemNumber".to_owned(), json!(asn));
        }
        let session = plan.compromised.iter().find(|c| c.user_id == user_id);
        if let Some(session) = session.and_then(|c| c.session_id.as_ref()) {
            if !interactive {
                map.insert("sessionId".to_owned(), json!(session));
            }
        }
    }
    sign_in
}

/// A refresh attempt of the attacker's client refused by Entra: a failed non-interactive
/// sign-in, with 50173 when the sessions were revoked or the password changed, 50057 when the
/// account is disabled and nothing was revoked.
fn failed_refresh(tenant: &mut Tenant, user_id: &str, at: DateTime<Utc>) -> Value {
    let revoked = tenant
        .attacker
        .accounts
        .iter()
        .find(|a| a.user_id == user_id)
        .is_some_and(|a| {
            tenant
                .user(user_id)
                .and_then(|u| u.sessions_valid_from())
                .is_some_and(|from| from > a.session_since)
        });
    let mut sign_in = attacker_sign_in(tenant, user_id, at, false);
    sign_in["status"] = if revoked {
        json!({"errorCode": GRANT_REVOKED, "failureReason": "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.", "additionalDetails": null})
    } else {
        json!({"errorCode": USER_DISABLED, "failureReason": "User account is disabled.", "additionalDetails": null})
    };
    sign_in
}

fn external(tenant: &Tenant, address: &str) -> bool {
    let bare = address
        .trim_start_matches("smtp:")
        .trim_start_matches("SMTP:");
    let Some((_, domain)) = bare.rsplit_once('@') else {
        return false;
    };
    let ours = |d: &str| {
        d.eq_ignore_ascii_case(&tenant.info.domain)
            || tenant.users.iter().any(|u| {
                u.upn()
                    .rsplit_once('@')
                    .is_some_and(|(_, ud)| ud.eq_ignore_ascii_case(d))
            })
    };
    !ours(domain)
}

fn activity(tenant: &mut Tenant, tick: DateTime<Utc>) {
    let refresh_at = tick - Duration::minutes(REFRESH_MINUTES_BEFORE_HOUR);
    // Live sessions refresh tokens and read mail.
    let live: Vec<(usize, String, u32)> = tenant
        .attacker
        .accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            session_alive(tenant, &a.user_id, a.session_since) && a.session_since <= tick
        })
        .map(|(i, a)| (i, a.user_id.clone(), a.reads_per_hour))
        .collect();
    for (index, user_id, reads) in live {
        let sign_in = attacker_sign_in(tenant, &user_id, refresh_at, false);
        tenant.push_sign_in(sign_in);
        let account = &mut tenant.attacker.accounts[index];
        account.token_issued = refresh_at.max(account.session_since);
        if reads > 0 {
            let ip = tenant.attacker.ip_for_at(&user_id, tick);
            mail_items_accessed(tenant, &user_id, tick, reads, &ip, None);
            tenant.attacker.items_read += u64::from(reads);
        }
    }
    // Sessions lost: the client's refresh is refused, but the access token it holds works until
    // it expires, and the attacker keeps reading with it.
    let lost: Vec<(usize, String, u32, bool, bool)> = tenant
        .attacker
        .accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.lost_at.is_some() && !session_alive(tenant, &a.user_id, a.session_since))
        .map(|(i, a)| {
            (
                i,
                a.user_id.clone(),
                a.reads_per_hour,
                token_tail(tenant, a, tick).is_some(),
                a.lost_at.is_some_and(|lost| lost <= refresh_at),
            )
        })
        .collect();
    for (index, user_id, reads, token_works, refresh_refused) in lost {
        if refresh_refused
            && tenant.attacker.accounts[index].failed_refreshes < FAILED_REFRESH_ATTEMPTS
        {
            tenant.attacker.accounts[index].failed_refreshes += 1;
            let sign_in = failed_refresh(tenant, &user_id, refresh_at);
            tenant.push_sign_in(sign_in);
        }
        if token_works && reads > 0 {
            let ip = tenant.attacker.ip_for_at(&user_id, tick);
            mail_items_accessed(tenant, &user_id, tick, reads, &ip, None);
            tenant.attacker.items_read += u64::from(reads);
            let until = token_tail(tenant, &tenant.attacker.accounts[index], tick)
                .map(graph_time)
                .unwrap_or_default();
            tenant.attacker.note(
                tick,
                &user_id,
                "readWithAccessToken",
                format!("read {reads} items with the access token still valid until {until}, although its refresh was refused"),
            );
        }
    }
    // Consented apps read mail while they hold a token; with the grant in place they get a new
    // one some hours after losing it (the user opens the app again; no consent prompt).
    let apps = tenant.attacker.apps.clone();
    for (index, app) in apps.iter().enumerate() {
        let token_dead = !session_alive(tenant, &app.user_id, app.token_since);
        if token_dead && grant_exists(tenant, app) {
            let died = tenant
                .user(&app.user_id)
                .and_then(|u| u.sessions_valid_from())
                .unwrap_or(tick);
            if tick - died >= Duration::hours(APP_RECONSENT_HOURS)
                && tenant
                    .user(&app.user_id)
                    .is_some_and(|u| u.account_enabled())
            {
                tenant.attacker.apps[index].token_since = tick;
                tenant.attacker.note(tick, &app.user_id, "appTokenRenewed", format!("the consent to {} was still in place: the app obtained a new token without a prompt", app.sp_id));
            }
        }
        let current = tenant.attacker.apps[index].clone();
        if app_alive(tenant, &current) && app.reads_per_hour > 0 {
            let app_id = tenant
                .service_principal(&app.sp_id)
                .and_then(|sp| str_of(sp, "appId"))
                .unwrap_or_default()
                .to_owned();
            mail_items_accessed(
                tenant,
                &app.user_id,
                tick,
                app.reads_per_hour,
                "20.190.151.7",
                Some(app_id),
            );
            tenant.attacker.items_read += u64::from(app.reads_per_hour);
        }
    }
    // External forwarding keeps sending mail out.
    let per_hour = tenant.attacker.plan.forwarded_per_hour;
    let forwards: Vec<(String, String)> = tenant
        .users
        .iter()
        .filter_map(|u| u.mailbox.as_ref().map(|m| (u, m)))
        .flat_map(|(u, m)| {
            let mut targets: Vec<String> = m.forwarding_smtp_address.iter().cloned().collect();
            for rule in m.inbox_rules.iter().filter(|r| r.enabled) {
                targets.extend(
                    rule.actions
                        .forward_to
                        .iter()
                        .chain(&rule.actions.redirect_to)
                        .chain(&rule.actions.forward_as_attachment_to)
                        .cloned(),
                );
            }
            targets
                .into_iter()
                .filter(|t| external(tenant, t))
                .map(|t| (u.id().to_owned(), t))
                .collect::<Vec<_>>()
        })
        .collect();
    for (user_id, target) in forwards {
        tenant.attacker.mail_forwarded += u64::from(per_hour);
        tenant.attacker.note(
            tick,
            &user_id,
            "mailForwarded",
            format!("{per_hour} messages left the organisation to {target}"),
        );
    }
}

fn mail_items_accessed(
    tenant: &mut Tenant,
    user_id: &str,
    tick: DateTime<Utc>,
    count: u32,
    ip: &str,
    app_id: Option<String>,
) {
    let id = tenant.new_guid("mia");
    let upn = tenant
        .user(user_id)
        .map(|u| u.upn().to_owned())
        .unwrap_or_default();
    let created = graph_time(tick - Duration::minutes(3));
    let client_app = app_id
        .clone()
        .unwrap_or_else(|| "00000002-0000-0ff1-ce00-000000000000".to_owned());
    tenant.push_audit_record(json!({
        "id": id,
        "createdDateTime": created,
        "auditLogRecordType": "ExchangeItemAggregated",
        "operation": "MailItemsAccessed",
        "userPrincipalName": upn,
        "userId": upn,
        "service": "Exchange",
        "clientIp": ip,
        "objectId": "",
        "auditData": {
            "@odata.type": "#microsoft.graph.security.exchangeMailboxAuditRecord",
            "CreationTime": created,
            "Operation": "MailItemsAccessed",
            "MailboxOwnerUPN": upn,
            "ClientIPAddress": ip,
            "AppId": client_app,
            "OperationCount": count,
            "MailAccessType": "Bind",
            "Folders": [{"Path": "\\Inbox", "FolderItems": count}],
        },
    }));
}

/// What `POST /_sim/attacker/return` and `POST /_sim/user/activity` may ask for.
pub(crate) const RETURN_ACTIONS: [&str; 5] = [
    "signIn",
    "failedSignIn",
    "registerMethod",
    "inboxRule",
    "forwarding",
];

/// The attacker comes back to `user` (after recovery, typically) and does each of `actions`
/// from its own address: what a watch window must notice. Returns what was done.
pub(crate) fn come_back(
    tenant: &mut Tenant,
    user: &str,
    actions: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    let user_id = tenant
        .user(user)
        .map(|u| u.id().to_owned())
        .ok_or_else(|| format!("no user {user} in this tenant"))?;
    let ip = tenant.attacker.ip();
    let mut done = Vec::new();
    for action in actions {
        match action.as_str() {
            "signIn" | "failedSignIn" => {
                let mut sign_in = attacker_sign_in(tenant, &user_id, now, true);
                if action == "failedSignIn" {
                    sign_in["status"] = json!({"errorCode": 50126, "failureReason": "Invalid username or password or Invalid on-premise username or password.", "additionalDetails": null});
                }
                let id = sign_in["id"].clone();
                tenant.push_sign_in(sign_in);
                tenant
                    .attacker
                    .note(now, &user_id, "cameBack", format!("{action} from {ip}"));
                done.push(json!({"action": action, "signInId": id, "ipAddress": ip}));
            }
            "registerMethod" => {
                let id = tenant.new_guid("returning-attacker-method");
                let mut method = json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": id, "phoneNumber": "+44 7700 900777", "phoneType": "mobile"});
                normalise_method(&mut method);
                add_method(tenant, &user_id, method, now, &ip, ATTACKER_USER_AGENT);
                tenant.attacker.added.push(Artefact {
                    kind: ArtefactKind::AuthenticationMethod,
                    user_id: Some(user_id.clone()),
                    id: id.clone(),
                    description: "phone method registered by the attacker on coming back".into(),
                });
                // With a method of its own the attacker can reset back in: counted from now.
                for account in tenant
                    .attacker
                    .accounts
                    .iter_mut()
                    .filter(|a| a.user_id == user_id && a.lost_at.is_some())
                {
                    account.lost_at = Some(now);
                }
                tenant.attacker.note(
                    now,
                    &user_id,
                    "cameBack",
                    format!("registered phone method {id} from {ip}"),
                );
                done.push(json!({"action": action, "methodId": id, "ipAddress": ip}));
            }
            "inboxRule" => {
                let mut rule = crate::scenario::InboxRule {
                    rule_identity: None,
                    name: "..".into(),
                    enabled: true,
                    priority: 1,
                    hidden: false,
                    created_date_time: Some(now),
                    conditions: crate::scenario::RuleConditions {
                        subject_contains: vec!["invoice".into(), "payment".into()],
                        ..Default::default()
                    },
                    actions: crate::scenario::RuleActions {
                        move_to_folder: Some("RSS Feeds".into()),
                        mark_as_read: true,
                        ..Default::default()
                    },
                };
                let identity = crate::tenant::rule_identity(&user_id, &rule);
                rule.rule_identity = Some(identity.clone());
                let upn = tenant
                    .user(&user_id)
                    .map(|u| u.upn().to_owned())
                    .unwrap_or_default();
                let Some(mailbox) = tenant.user_mut(&user_id).and_then(|u| u.mailbox.as_mut())
                else {
                    return Err(format!("{user} has no mailbox"));
                };
                mailbox.inbox_rules.push(rule);
                record_rule_audit(tenant, &upn, "..", now, &ip);
                tenant.attacker.added.push(Artefact {
                    kind: ArtefactKind::InboxRule,
                    user_id: Some(user_id.clone()),
                    id: identity.clone(),
                    description: "rule '..' hiding invoice and payment mail, created by the attacker on coming back".into(),
                });
                tenant.attacker.note(
                    now,
                    &user_id,
                    "cameBack",
                    format!("created inbox rule {identity} from {ip}"),
                );
                done.push(json!({"action": action, "ruleIdentity": identity, "ipAddress": ip}));
            }
            "forwarding" => {
                let target = "smtp:payments-desk@protonmail.example".to_owned();
                let Some(mailbox) = tenant.user_mut(&user_id).and_then(|u| u.mailbox.as_mut())
                else {
                    return Err(format!("{user} has no mailbox"));
                };
                mailbox.forwarding_smtp_address = Some(target.clone());
                tenant.attacker.added.push(Artefact {
                    kind: ArtefactKind::MailboxForwarding,
                    user_id: Some(user_id.clone()),
                    id: target.clone(),
                    description: "external forwarding set by the attacker on coming back".into(),
                });
                tenant.attacker.note(
                    now,
                    &user_id,
                    "cameBack",
                    format!("set forwarding to {target} from {ip}"),
                );
                done.push(json!({"action": action, "forwardingSmtpAddress": target}));
            }
            other => {
                return Err(format!(
                    "unknown action {other:?}: use {}",
                    RETURN_ACTIONS.join(", ")
                ))
            }
        }
    }
    Ok(done)
}

/// The user's own activity after recovery, from their usual address (their latest successful
/// sign-in from an address the attacker never used): signing in, registering Authenticator with
/// the Temporary Access Pass. None of it is an attacker artefact; a watch must stay quiet.
pub(crate) fn user_activity(
    tenant: &mut Tenant,
    user: &str,
    actions: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<Value>, String> {
    let user_id = tenant
        .user(user)
        .map(|u| u.id().to_owned())
        .ok_or_else(|| format!("no user {user} in this tenant"))?;
    let attacker_ips = tenant.attacker.plan.ip_addresses.clone();
    let ip = tenant
        .sign_ins
        .iter()
        .filter(|s| str_of(s, "userId") == Some(user_id.as_str()))
        .filter(|s| s.pointer("/status/errorCode").and_then(Value::as_i64) == Some(0))
        .filter_map(|s| str_of(s, "ipAddress"))
        .find(|ip| !attacker_ips.iter().any(|a| a == ip))
        .unwrap_or("192.0.2.10")
        .to_owned();
    let mut done = Vec::new();
    for action in actions {
        match action.as_str() {
            "signIn" => {
                let id = tenant.new_guid("user-signin");
                tenant.push_sign_in(json!({
                    "id": id, "createdDateTime": graph_time(now), "userId": user_id,
                    "appId": "4765445b-32c6-49b0-83e6-1d93765276ca", "appDisplayName": "OfficeHome",
                    "ipAddress": ip, "isInteractive": true, "clientAppUsed": "Browser",
                    "status": {"errorCode": 0, "failureReason": "Other.", "additionalDetails": "MFA completed in Azure AD"},
                }));
                done.push(json!({"action": action, "signInId": id, "ipAddress": ip}));
            }
            "registerMethod" => {
                let id = tenant.new_guid("user-method");
                let mut method = json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": id, "displayName": "iPhone 15", "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.8.12", "createdDateTime": graph_time(now)});
                normalise_method(&mut method);
                add_method(tenant, &user_id, method, now, &ip, USER_USER_AGENT);
                done.push(json!({"action": action, "methodId": id, "ipAddress": ip}));
            }
            other => {
                return Err(format!(
                    "unknown action {other:?} for the user: use signIn or registerMethod"
                ))
            }
        }
    }
    Ok(done)
}

/// The browser the attacker registers security info with.
const ATTACKER_USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
/// The browser the account's owner registers security info with.
const USER_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0";

fn add_method(
    tenant: &mut Tenant,
    user_id: &str,
    mut method: Value,
    at: DateTime<Utc>,
    ip: &str,
    user_agent: &str,
) {
    let Some(user) = tenant.user_mut(user_id) else {
        return;
    };
    free_phone_slot(&user.methods, &mut method);
    user.methods.push(method.clone());
    let upn = user.upn().to_owned();
    record_registration(tenant, user_id, &upn, &method, at, ip, user_agent);
}

/// A user holds one phone per phone type, as in Graph: a new phone takes the first free type
/// (mobile, alternate mobile, office).
fn free_phone_slot(methods: &[Value], method: &mut Value) {
    const SLOTS: [&str; 3] = ["mobile", "alternateMobile", "office"];
    let phone =
        |m: &Value| str_of(m, "@odata.type") == Some("#microsoft.graph.phoneAuthenticationMethod");
    if !phone(method) {
        return;
    }
    let taken = |t: &str| {
        methods
            .iter()
            .any(|m| phone(m) && str_of(m, "phoneType") == Some(t))
    };
    let wanted = str_of(method, "phoneType").unwrap_or("mobile").to_owned();
    if !taken(&wanted) {
        return;
    }
    if let (Some(slot), Value::Object(map)) = (SLOTS.iter().find(|t| !taken(t)), method) {
        map.insert("phoneType".to_owned(), json!(slot));
    }
}

/// The method as the security-info audit names it in `resultReason` ("User registered <method>").
fn registered_what(method: &Value) -> &'static str {
    let kind = str_of(method, "@odata.type").unwrap_or_default();
    match kind.trim_start_matches("#microsoft.graph.") {
        "phoneAuthenticationMethod" => match str_of(method, "phoneType") {
            Some("alternateMobile") => "Alternate Mobile Phone",
            Some("office") => "Office Phone",
            _ => "Mobile Phone SMS",
        },
        "emailAuthenticationMethod" => "Email",
        "microsoftAuthenticatorAuthenticationMethod" => {
            "Authenticator App with Notification and Code"
        }
        "fido2AuthenticationMethod" => "Fido2 Security Key",
        "softwareOathAuthenticationMethod" => "Software OATH token",
        _ => "security info",
    }
}

/// The "User registered security info" entry of the directory audit: the method kind in
/// `resultReason`, the registering address in `initiatedBy.user.ipAddress`, the browser in
/// `additionalDetails`.
fn record_registration(
    tenant: &mut Tenant,
    user_id: &str,
    upn: &str,
    method: &Value,
    at: DateTime<Utc>,
    ip: &str,
    user_agent: &str,
) {
    let audit_id = tenant.new_guid("audit");
    tenant.push_directory_audit(json!({
        "id": audit_id, "activityDateTime": graph_time(at), "activityDisplayName": "User registered security info",
        "category": "UserManagement", "loggedByService": "Authentication Methods", "operationType": "Add",
        "result": "success", "resultReason": format!("User registered {}", registered_what(method)),
        "initiatedBy": {"user": {"id": user_id, "displayName": null, "userPrincipalName": upn, "ipAddress": ip}},
        "targetResources": [{"id": user_id, "displayName": null, "type": "User", "userPrincipalName": upn, "modifiedProperties": []}],
        "additionalDetails": [{"key": "User-Agent", "value": user_agent}],
    }));
}

fn record_rule_audit(tenant: &mut Tenant, upn: &str, name: &str, at: DateTime<Utc>, ip: &str) {
    let id = tenant.new_guid("rule-audit");
    tenant.push_audit_record(json!({
        "id": id, "createdDateTime": graph_time(at), "auditLogRecordType": "ExchangeAdmin",
        "operation": "New-InboxRule", "userPrincipalName": upn, "userId": upn, "service": "Exchange",
        "clientIp": ip, "objectId": "",
        "auditData": {"CreationTime": graph_time(at), "Operation": "New-InboxRule", "UserId": upn, "ClientIP": ip, "Workload": "Exchange",
            "Parameters": [{"Name": "Name", "Value": name}, {"Name": "MoveToFolder", "Value": "RSS Feeds"}, {"Name": "MarkAsRead", "Value": "True"}]},
    }));
}
