//! Which directory role a write on one account needs, beside the permission: Microsoft's tables
//! "Who can reset passwords" and "Who can perform sensitive actions" and the Graph pages of each
//! write, as spec/graph-behaviour.md ("Roles for writes") lists them with their sources.
//!
//! A permission lets the app call the operation; the role decides on *whom*. An app needs at least
//! User Administrator to reset any password; an account that holds an admin role, or is a member
//! or owner of a role-assignable group, can be reset or blocked only by a Privileged
//! Authentication Administrator or a Global Administrator; Helpdesk Administrator cannot block
//! sign-in. The readiness check, the plans of the containment and recovery steps and the
//! explanation of a 403 all read these rules from here.

use serde::Serialize;

use crate::auth::TokenClaims;
use crate::directory::DirectoryObject;
use crate::permissions::{role_template_id, Operation, ROLE_TEMPLATE_IDS};

const PASSWORD_ADMIN: &str = "Password Administrator";
const HELPDESK_ADMIN: &str = "Helpdesk Administrator";
const AUTH_ADMIN: &str = "Authentication Administrator";
const USER_ADMIN: &str = "User Administrator";
/// Privileged Authentication Administrator.
pub const PRIVILEGED_AUTH_ADMIN: &str = "Privileged Authentication Administrator";
/// Global Administrator.
pub const GLOBAL_ADMIN: &str = "Global Administrator";

/// Every column of the password table: who may act on an account with no admin role.
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
/// The columns of the sensitive-actions table (`accountEnabled`).
const SENSITIVE: &[&str] = &[AUTH_ADMIN, USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN];

/// The rows of "Who can reset passwords", by the role the account holds. A role not listed is
/// "all other built-in and custom roles": Privileged Authentication or Global Administrator only.
/// The sensitive-actions table is the same rows restricted to its own columns.
const ROWS: &[(&str, &[&str])] = &[
    (
        AUTH_ADMIN,
        &[AUTH_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    ("Directory Readers", ANYONE),
    (
        "Groups Administrator",
        &[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    ("Guest Inviter", ANYONE),
    (
        HELPDESK_ADMIN,
        &[
            HELPDESK_ADMIN,
            USER_ADMIN,
            PRIVILEGED_AUTH_ADMIN,
            GLOBAL_ADMIN,
        ],
    ),
    ("Message Center Reader", ABOVE_READERS),
    (PASSWORD_ADMIN, ANYONE),
    ("Reports Reader", ABOVE_READERS),
    (
        USER_ADMIN,
        &[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN],
    ),
    ("User Experience Success Manager", ABOVE_READERS),
    ("Usage Summary Reports Reader", ABOVE_READERS),
];

/// A write whose target decides the role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Password,
    AccountEnabled,
    Revoke,
    Methods,
}

impl Write {
    fn of(operation: Operation) -> Option<Write> {
        Some(match operation {
            Operation::ResetPassword => Write::Password,
            Operation::SetAccountEnabled => Write::AccountEnabled,
            Operation::RevokeSignInSessions => Write::Revoke,
            Operation::DeleteAuthenticationMethod | Operation::CreateTemporaryAccessPass => {
                Write::Methods
            }
            _ => return None,
        })
    }

    /// The roles that may do this write at all; `None` when an app needs no role for it on an
    /// ordinary account.
    fn columns(self, delegated: bool) -> Option<&'static [&'static str]> {
        match (self, delegated) {
            // "at least the User Administrator Microsoft Entra role" for an app's passwordProfile.
            (Write::Password, false) => Some(&[USER_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN]),
            (Write::Password, true) => Some(ANYONE),
            (Write::AccountEnabled, true) => Some(SENSITIVE),
            (Write::Revoke, true) => Some(ABOVE_READERS),
            (Write::Methods, true) => Some(&[AUTH_ADMIN, PRIVILEGED_AUTH_ADMIN, GLOBAL_ADMIN]),
            (Write::AccountEnabled | Write::Revoke | Write::Methods, false) => None,
        }
    }
}

/// The account's standing in the directory, read before a step changes it: the directory roles
/// it holds and the role-assignable groups it is a member or owner of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStanding {
    /// Directory roles held, by their built-in name (an unknown template id keeps its id).
    pub roles: Vec<String>,
    /// Role-assignable groups the account belongs to or owns (tenant text: display only).
    pub role_assignable_groups: Vec<String>,
}

impl TargetStanding {
    /// From the account's `memberOf` and `ownedObjects` (full objects: `roleTemplateId` of a
    /// directory role, `isAssignableToRole` of a group).
    pub fn from_objects(member_of: &[DirectoryObject], owned: &[DirectoryObject]) -> Self {
        let is = |o: &DirectoryObject, t: &str| o.odata_type.as_deref() == Some(t);
        let roles = member_of
            .iter()
            .filter(|o| is(o, "#microsoft.graph.directoryRole"))
            .filter_map(|o| o.role_template_id.as_deref())
            .map(|id| role_name(id).map_or_else(|| id.to_owned(), str::to_owned))
            .collect();
        let role_assignable_groups = member_of
            .iter()
            .chain(owned)
            .filter(|o| is(o, "#microsoft.graph.group") && o.is_assignable_to_role == Some(true))
            .map(|o| o.display_name.clone().unwrap_or_else(|| o.id.clone()))
            .collect();
        Self {
            roles,
            role_assignable_groups,
        }
    }

    /// The roles that may act on this account, whatever the write (its rows intersected).
    fn actors(&self) -> Vec<&'static str> {
        let mut allowed = ANYONE.to_vec();
        for role in &self.roles {
            let row = ROWS
                .iter()
                .find(|(name, _)| *name == role.as_str())
                .map_or(ONLY_PRIVILEGED, |(_, actors)| *actors);
            allowed.retain(|a| row.contains(a));
        }
        if !self.role_assignable_groups.is_empty() {
            allowed.retain(|a| ONLY_PRIVILEGED.contains(a));
        }
        allowed
    }

    /// Whether Microsoft's tables protect this account from some administrators.
    pub fn is_protected(&self) -> bool {
        self.actors().len() < ANYONE.len()
    }

    /// "holds Global Administrator", "is a member or owner of the role-assignable group …", or
    /// `None` for an ordinary account.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.roles.is_empty() {
            parts.push(format!("holds {}", self.roles.join(", ")));
        }
        if !self.role_assignable_groups.is_empty() {
            parts.push(format!(
                "is a member or owner of the role-assignable group {}",
                quoted(&self.role_assignable_groups)
            ));
        }
        (!parts.is_empty()).then(|| parts.join(" and "))
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("\u{201c}{n}\u{201d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who is calling: the app itself or a signed-in admin, with the directory roles its token
/// carries (`wids`: the app's service principal's roles, or the admin's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// A signed-in admin rather than the app.
    pub delegated: bool,
    /// Role template ids (`wids`).
    pub wids: Vec<String>,
}

impl Caller {
    /// From a token's claims.
    pub fn from_claims(claims: &TokenClaims, delegated: bool) -> Self {
        Self {
            delegated,
            wids: claims.wids.clone(),
        }
    }

    /// The built-in roles held, by name (ids Firebreak does not know are left out).
    pub fn role_names(&self) -> Vec<&'static str> {
        self.wids.iter().filter_map(|w| role_name(w)).collect()
    }

    fn holds_any(&self, roles: &[&str]) -> bool {
        roles.iter().any(|r| {
            role_template_id(r)
                .is_some_and(|id| self.wids.iter().any(|w| w.eq_ignore_ascii_case(id)))
        })
    }

    /// "the app" or "the signed-in admin".
    pub fn who(&self) -> &'static str {
        if self.delegated {
            "the signed-in admin"
        } else {
            "the app"
        }
    }

    /// "the app holds User Administrator" / "the app holds no directory role".
    pub fn holdings(&self) -> String {
        let held = self.role_names();
        if held.is_empty() {
            format!("{} holds no directory role", self.who())
        } else {
            format!("{} holds {}", self.who(), held.join(", "))
        }
    }
}

/// "A", "A or B", "A, B or C".
pub fn either(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn role_name(template_id: &str) -> Option<&'static str> {
    ROLE_TEMPLATE_IDS
        .iter()
        .find(|(_, id)| id.eq_ignore_ascii_case(template_id))
        .map(|(name, _)| *name)
}

/// The roles `operation` needs on `target` (an ordinary account when `None`), any one of them;
/// `None` when no role is needed (only the permission). Empty never happens: Global
/// Administrator may always act.
pub fn roles_needed(
    operation: Operation,
    delegated: bool,
    target: Option<&TargetStanding>,
) -> Option<Vec<&'static str>> {
    let write = Write::of(operation)?;
    let on_target = target.map_or_else(|| ANYONE.to_vec(), TargetStanding::actors);
    let columns = match write.columns(delegated) {
        Some(columns) => columns,
        // An app needs a role for `accountEnabled` only on an account the table protects.
        None if write == Write::AccountEnabled
            && !SENSITIVE.iter().all(|c| on_target.contains(c)) =>
        {
            SENSITIVE
        }
        None => return None,
    };
    Some(
        columns
            .iter()
            .copied()
            .filter(|c| on_target.contains(c))
            .collect(),
    )
}

/// What the plan of a step says about the role it needs on this account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleNeed {
    /// The roles that would do (any one); empty when the permission alone is enough.
    pub needed: Vec<&'static str>,
    /// Whether the caller holds one of them (true when none is needed).
    pub held: bool,
    /// The sentence for the admin.
    pub sentence: String,
}

/// The role `operation` needs on this account and whether the caller has it, in one sentence:
/// "This account holds Global Administrator: resetting its password needs Privileged
/// Authentication Administrator or Global Administrator; the app holds User Administrator."
pub fn role_need(
    operation: Operation,
    caller: &Caller,
    target: &TargetStanding,
) -> Option<RoleNeed> {
    let needed = roles_needed(operation, caller.delegated, Some(target))?;
    let held = caller.holds_any(&needed);
    let doing = operation.requirement().purpose;
    let standing = target
        .describe()
        .map(|s| format!("This account {s}. "))
        .unwrap_or_default();
    let mut sentence = format!(
        "{standing}To {doing}, Microsoft requires {}; {}.",
        either(&needed),
        caller.holdings()
    );
    if !held {
        sentence.push_str(&format!(
            " Microsoft will refuse this step until {} is assigned one of these roles (Entra admin center › Roles and administrators).",
            caller.who()
        ));
    }
    Some(RoleNeed {
        needed,
        held,
        sentence,
    })
}

/// The roles an app needs for `operation` on an ordinary account and on a protected one (an
/// administrator, a member or owner of a role-assignable group), for the readiness check and the
/// runbook. `None` when the operation is not governed by a role.
pub fn app_roles(operation: Operation) -> Option<(Option<Vec<&'static str>>, Vec<&'static str>)> {
    Write::of(operation)?;
    let admin = TargetStanding {
        roles: vec![GLOBAL_ADMIN.to_owned()],
        role_assignable_groups: Vec::new(),
    };
    let ordinary = roles_needed(operation, false, None);
    let protected = roles_needed(operation, false, Some(&admin)).unwrap_or_default();
    Some((ordinary, protected))
}

/// Whether the caller holds one of the roles a write needs on an ordinary account (`true` when it
/// needs none).
pub fn holds_for_ordinary(operation: Operation, caller: &Caller) -> bool {
    roles_needed(operation, caller.delegated, None).is_none_or(|r| caller.holds_any(&r))
}

/// Whether the caller may do the write on an account holding an admin role.
pub fn holds_for_protected(operation: Operation, caller: &Caller) -> bool {
    let admin = TargetStanding {
        roles: vec![GLOBAL_ADMIN.to_owned()],
        role_assignable_groups: Vec::new(),
    };
    roles_needed(operation, caller.delegated, Some(&admin)).is_none_or(|r| caller.holds_any(&r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(delegated: bool, roles: &[&str]) -> Caller {
        Caller {
            delegated,
            wids: roles
                .iter()
                .map(|r| role_template_id(r).unwrap().to_owned())
                .collect(),
        }
    }

    fn holding(role: &str) -> TargetStanding {
        TargetStanding {
            roles: vec![role.to_owned()],
            role_assignable_groups: Vec::new(),
        }
    }

    #[test]
    fn an_app_needs_user_administrator_to_reset_and_no_role_to_block_an_ordinary_account() {
        let ordinary = TargetStanding::default();
        let bare = caller(false, &[]);
        let reset = role_need(Operation::ResetPassword, &bare, &ordinary).unwrap();
        assert!(!reset.held);
        assert!(reset.needed.contains(&USER_ADMIN), "{reset:?}");
        assert!(
            role_need(Operation::SetAccountEnabled, &bare, &ordinary).is_none(),
            "no role needed to block an ordinary account app-only"
        );
        assert!(role_need(Operation::RevokeSignInSessions, &bare, &ordinary).is_none());
    }

    #[test]
    fn an_administrator_or_a_tier_zero_group_member_needs_privileged_authentication_administrator()
    {
        let user_admin = caller(false, &[USER_ADMIN]);
        for target in [
            holding(GLOBAL_ADMIN),
            holding("Exchange Administrator"),
            TargetStanding {
                roles: Vec::new(),
                role_assignable_groups: vec!["Tier 0".into()],
            },
        ] {
            for op in [Operation::ResetPassword, Operation::SetAccountEnabled] {
                let need = role_need(op, &user_admin, &target).unwrap();
                assert_eq!(need.needed, ONLY_PRIVILEGED, "{op:?} {target:?}");
                assert!(!need.held);
                assert!(need.sentence.contains("the app holds User Administrator"));
            }
        }
        let need = role_need(
            Operation::ResetPassword,
            &caller(false, &[USER_ADMIN]),
            &holding(HELPDESK_ADMIN),
        )
        .unwrap();
        assert!(
            need.held,
            "User Administrator may reset a Helpdesk Administrator"
        );
    }

    #[test]
    fn helpdesk_administrator_resets_but_cannot_block_sign_in() {
        let helpdesk = caller(true, &[HELPDESK_ADMIN]);
        let ordinary = TargetStanding::default();
        assert!(
            role_need(Operation::ResetPassword, &helpdesk, &ordinary)
                .unwrap()
                .held
        );
        assert!(
            role_need(Operation::RevokeSignInSessions, &helpdesk, &ordinary)
                .unwrap()
                .held
        );
        let block = role_need(Operation::SetAccountEnabled, &helpdesk, &ordinary).unwrap();
        assert!(!block.held);
        assert!(!block.needed.contains(&HELPDESK_ADMIN));
    }

    #[test]
    fn the_sentence_names_the_account_s_role_what_the_step_needs_and_what_the_caller_holds() {
        let need = role_need(
            Operation::ResetPassword,
            &caller(false, &[USER_ADMIN]),
            &holding(GLOBAL_ADMIN),
        )
        .unwrap();
        assert!(
            need.sentence.starts_with("This account holds Global Administrator. To reset the user's password, Microsoft requires Privileged Authentication Administrator or Global Administrator; the app holds User Administrator."),
            "{}",
            need.sentence
        );
    }
}
