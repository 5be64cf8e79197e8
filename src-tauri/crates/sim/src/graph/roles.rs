//! Who may change whom: the directory roles a caller needs to reset a password, block sign-in,
//! revoke sessions or change authentication methods of one account, read from Microsoft's tables
//! "Who can reset passwords" and "Who can perform sensitive actions" and the Graph pages of each
//! write (spec/graph-behaviour.md, "Roles for writes").
//!
//! Both tables list, for each role the *target* holds, the roles that may act on it. The
//! sensitive-actions table is the password table restricted to its four columns (Authentication,
//! User, Privileged Authentication and Global Administrator), so one table serves both. App-only
//! callers are judged by the roles of their service principal (the `wids` of their token).

use crate::tenant::{str_of, Tenant, UserRecord};
use crate::token::Claims;

const PASSWORD_ADMIN: &str = "966707d0-3269-4727-9be2-8c3a10f19b9d";
const HELPDESK_ADMIN: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
const AUTH_ADMIN: &str = "c4e39bd9-1100-46d3-8c65-fb160da0071f";
const USER_ADMIN: &str = "fe930be7-5e62-47db-91af-98c3a49a38b1";
const PRIVILEGED_AUTH_ADMIN: &str = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";

/// Every column of the password table: the roles that may act on an account with no admin role.
const ANYONE: &[&str] = &[
    PASSWORD_ADMIN,
    HELPDESK_ADMIN,
    AUTH_ADMIN,
    USER_ADMIN,
    PRIVILEGED_AUTH_ADMIN,
    GLOBAL_ADMIN,
];
const ABOVE_READERS: &[&str] = &[
    HELPDESK_ADMIN,
    AUTH_ADMIN,
    USER_ADMIN,
    PRIVILEGED_AUTH_ADMIN,
    GLOBAL_ADMIN,
];
const ONLY_PRIVILEGED: &[&str] = &[PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN];

/// The rows of "Who can reset passwords": a role the target holds → the roles that may act on it.
/// A role not listed is "All other built-in and custom roles": Privileged Authentication
/// Administrator or Global Administrator only.
const ROWS: &[(&str, &[&str])] = &[
    // Authentication Administrator
    (
        AUTH_ADMIN,
        &[AUTH_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    // Directory Readers
    ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", ANYONE),
    // Groups Administrator
    (
        "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        &[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    // Guest Inviter
    ("95e79109-95c0-4d8e-aee3-d01accf2d47b", ANYONE),
    (
        HELPDESK_ADMIN,
        &[
            HELPDESK_ADMIN,
            USER_ADMIN,
            PRIVILEGED_AUTH_ADMIN,
            GLOBAL_ADMIN,
        ],
    ),
    // Message Center Reader
    ("790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b", ABOVE_READERS),
    (PASSWORD_ADMIN, ANYONE),
    // Reports Reader
    ("4a5d8f65-41da-4de4-8968-e035b65339cf", ABOVE_READERS),
    (
        USER_ADMIN,
        &[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    // User Experience Success Manager
    ("27460883-1df1-4691-b032-3b79643e5e63", ABOVE_READERS),
    // Usage Summary Reports Reader
    ("75934031-6c7e-415a-99d7-48dbd49e875e", ABOVE_READERS),
];

/// The columns of the sensitive-actions table (`accountEnabled` and the other sensitive properties).
const SENSITIVE_COLUMNS: &[&str] = &[AUTH_ADMIN, USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN];

/// A write on one account that Microsoft's tables govern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// `passwordProfile`.
    Password,
    /// `accountEnabled`.
    AccountEnabled,
    /// `revokeSignInSessions`.
    Revoke,
    /// Deleting or creating an authentication method (including a Temporary Access Pass).
    Methods,
}

impl Write {
    /// The roles that can do this write at all, for a delegated caller or for an app.
    /// `None`: an app needs no role for it on an ordinary account.
    fn columns(self, app_only: bool) -> Option<&'static [&'static str]> {
        match (self, app_only) {
            // "at least the User Administrator Microsoft Entra role" for app-only passwordProfile.
            (Write::Password, true) => Some(&[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN]),
            (Write::Password, false) => Some(ANYONE),
            (Write::AccountEnabled, false) => Some(SENSITIVE_COLUMNS),
            (Write::Revoke, false) => Some(ABOVE_READERS),
            (Write::Methods, false) => Some(&[AUTH_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN]),
            (Write::AccountEnabled | Write::Revoke | Write::Methods, true) => None,
        }
    }
}

/// What the target's place in the directory allows: the roles that may act on it (the
/// intersection of its rows), before the write's own columns apply.
fn actors_for_target(tenant: &Tenant, target: &UserRecord) -> Vec<&'static str> {
    let mut allowed: Vec<&'static str> = ANYONE.to_vec();
    for role in crate::token::user_role_ids(tenant, target.id()) {
        let row = ROWS
            .iter()
            .find(|(id, _)| *id == role)
            .map_or(ONLY_PRIVILEGED, |(_, actors)| *actors);
        allowed.retain(|a| row.contains(a));
    }
    if in_role_assignable_group(tenant, target) {
        allowed.retain(|a| ONLY_PRIVILEGED.contains(a));
    }
    allowed
}

/// A member or owner of a group that can hold roles (`isAssignableToRole`) is protected like an
/// administrator.
fn in_role_assignable_group(tenant: &Tenant, target: &UserRecord) -> bool {
    tenant.groups.iter().any(|g| {
        g.get("isAssignableToRole").and_then(|v| v.as_bool()) == Some(true)
            && str_of(g, "id").is_some_and(|id| {
                target.member_of.iter().any(|m| m == id)
                    || target.owned_objects.iter().any(|o| o == id)
            })
    })
}

/// Whether the caller may do `write` on `target`: one of its roles is both a column of the write
/// and allowed for every role (and role-assignable group) the target has.
pub(crate) fn may(claims: &Claims, tenant: &Tenant, write: Write, target: &UserRecord) -> bool {
    let on_target = actors_for_target(tenant, target);
    let columns = match write.columns(claims.is_app_only()) {
        Some(columns) => columns,
        // An app needs a role for a sensitive property only when the account is one the table
        // protects from some of its columns ("users with privileged administrator roles").
        None if write == Write::AccountEnabled
            && !SENSITIVE_COLUMNS.iter().all(|c| on_target.contains(c)) =>
        {
            SENSITIVE_COLUMNS
        }
        None => return true,
    };
    claims
        .wids
        .iter()
        .any(|w| columns.contains(&w.as_str()) && on_target.contains(&w.as_str()))
}
