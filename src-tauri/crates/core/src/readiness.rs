//! The readiness check, runnable any day: can Firebreak get a token for each resource; which
//! permissions (app-only: the token's `roles`; delegated: `scp` and the admin's Entra roles) the
//! procedures need and lack, each gap named with the steps it blocks and the exact permission to
//! add; do sign-in logs answer (Entra ID P1); does the audit-log query API answer; what retention
//! the tenant likely has; is a break-glass account configured. Every finding says how to fix it.
//!
//! The tenant is reached through [`TenantProbe`] so tests can use fakes; the Graph client
//! implements it. The result is plain data ([`ReadinessReport`]) for the screen, print and export.

use std::{collections::BTreeMap, future::Future};

use chrono::{DateTime, Utc};
use firebreak_graph::{
    logs::SignInQuery,
    methods::TemporaryAccessPassPolicy,
    permissions::{role_template_id, Operation, Requirement, REQUIREMENTS, ROLE_TEMPLATE_IDS},
    roles::{self, Caller, TargetStanding},
    Cloud, Error as GraphError, Resource, Step, TokenClaims, UserRef,
};
use futures_util::StreamExt;
use serde::Serialize;

use crate::tenant::{AuthMethod, TenantProfile};

/// What the readiness check needs from the tenant.
pub trait TenantProbe: Sync {
    /// Whether the connection acts for a signed-in admin rather than as the app.
    fn is_delegated(&self) -> bool;
    /// Acquires a token for `resource` and returns its claims.
    fn token_claims(
        &self,
        resource: Resource,
    ) -> impl Future<Output = Result<TokenClaims, GraphError>> + Send;
    /// Reads one page of sign-in logs.
    fn probe_sign_in_logs(&self) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Lists audit-log queries (Purview).
    fn probe_audit_log_query(&self) -> impl Future<Output = Result<(), GraphError>> + Send;
    /// Reads the Temporary Access Pass policy.
    fn probe_temporary_access_pass_policy(
        &self,
    ) -> impl Future<Output = Result<TemporaryAccessPassPolicy, GraphError>> + Send;
    /// Looks a user up; `Ok(None)` when no such user exists, else whether sign-in is enabled.
    fn probe_user(
        &self,
        upn: &str,
    ) -> impl Future<Output = Result<Option<bool>, GraphError>> + Send;
}

impl TenantProbe for firebreak_graph::Client {
    fn is_delegated(&self) -> bool {
        firebreak_graph::Client::is_delegated(self)
    }

    fn token_claims(
        &self,
        resource: Resource,
    ) -> impl Future<Output = Result<TokenClaims, GraphError>> + Send {
        firebreak_graph::Client::token_claims(self, resource)
    }

    async fn probe_sign_in_logs(&self) -> Result<(), GraphError> {
        match self.list_sign_ins(&SignInQuery::default()).next().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    async fn probe_audit_log_query(&self) -> Result<(), GraphError> {
        match self.list_audit_log_queries().next().await {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    fn probe_temporary_access_pass_policy(
        &self,
    ) -> impl Future<Output = Result<TemporaryAccessPassPolicy, GraphError>> + Send {
        self.get_temporary_access_pass_policy()
    }

    fn probe_user(
        &self,
        upn: &str,
    ) -> impl Future<Output = Result<Option<bool>, GraphError>> + Send {
        let user = UserRef::new(upn);
        async move {
            match self.get_user(&user?).await {
                Ok(u) => Ok(Some(u.account_enabled.unwrap_or(true))),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        }
    }
}

/// A finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Ready.
    Pass,
    /// Something to fix before an incident.
    Gap,
    /// Firebreak could not tell (usually because of another gap).
    CannotTell,
    /// A fact to know (retention).
    Info,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Area {
    /// Token acquisition.
    SignIn,
    /// Permissions (application or delegated).
    Permission,
    /// Entra roles.
    Role,
    /// Sign-in logs and licences.
    SignInLogs,
    /// The unified audit log search.
    AuditLog,
    /// Retention.
    Retention,
    /// The break-glass account.
    BreakGlass,
    /// What recovery relies on (the Temporary Access Pass policy).
    Recovery,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable key (`token.graph`, `permission.AuditLog.Read.All`, `signInLogs.premium`, ...).
    pub id: String,
    /// Area.
    pub area: Area,
    /// Verdict.
    pub status: Status,
    /// One line.
    pub title: String,
    /// What was found.
    pub detail: String,
    /// How to fix it (for gaps) or what it means.
    pub fix: Option<String>,
    /// The permission or role to add, exactly as the portal names it.
    pub missing: Option<String>,
    /// The procedure steps this gap blocks.
    pub blocks: Vec<String>,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    /// Profile name.
    pub profile_name: String,
    /// Tenant.
    pub tenant: String,
    /// Cloud.
    pub cloud: Cloud,
    /// `appOnly` or `delegated`.
    pub mode: String,
    /// When the check ran.
    pub checked_at: DateTime<Utc>,
    /// The checklist.
    pub findings: Vec<Finding>,
    /// True when there is no gap.
    pub ready: bool,
}

impl ReadinessReport {
    /// The gaps only.
    pub fn gaps(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Gap)
    }

    /// A plain-text rendering for printing or pasting into a ticket.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "Firebreak readiness check: {} ({}, {}), {}\n{}\n\n",
            self.profile_name,
            self.tenant,
            self.cloud.name(),
            self.checked_at.format("%Y-%m-%d %H:%M UTC"),
            if self.ready {
                "READY"
            } else {
                "NOT READY: fix the gaps below"
            }
        );
        for f in &self.findings {
            let mark = match f.status {
                Status::Pass => "[pass]",
                Status::Gap => "[GAP] ",
                Status::CannotTell => "[?]   ",
                Status::Info => "[info]",
            };
            out.push_str(&format!("{mark} {}\n       {}\n", f.title, f.detail));
            if !f.blocks.is_empty() {
                out.push_str(&format!("       Blocks: {}\n", f.blocks.join(", ")));
            }
            if let Some(fix) = &f.fix {
                out.push_str(&format!("       Fix: {fix}\n"));
            }
        }
        out
    }
}

fn finding(
    id: impl Into<String>,
    area: Area,
    status: Status,
    title: impl Into<String>,
    detail: impl Into<String>,
) -> Finding {
    Finding {
        id: id.into(),
        area,
        status,
        title: title.into(),
        detail: detail.into(),
        fix: None,
        missing: None,
        blocks: Vec::new(),
    }
}

fn with_fix(mut f: Finding, fix: impl Into<String>) -> Finding {
    f.fix = Some(fix.into());
    f
}

fn step_names(steps: impl IntoIterator<Item = Step>) -> Vec<String> {
    let mut steps: Vec<Step> = steps.into_iter().collect();
    steps.sort();
    steps.dedup();
    steps.into_iter().map(|s| s.name().to_owned()).collect()
}

/// What the Readiness screen's button does: resolves the profile, connects with `sign_in` and runs
/// the check. Fails only when the profile cannot be found or the client cannot be built; every
/// tenant-side problem is a finding.
pub async fn check_readiness(
    root: &crate::paths::DataRoot,
    id: &crate::tenant::ProfileId,
    sign_in: crate::tenant::SignIn<'_>,
    clock: std::sync::Arc<dyn firebreak_graph::Clock>,
    checked_at: DateTime<Utc>,
) -> Result<ReadinessReport, crate::Error> {
    let profile = crate::tenant::resolve_profile(root, id, &sign_in)?;
    let client = crate::tenant::connect(&profile, sign_in, clock)?;
    Ok(run_readiness(&profile, &client, checked_at).await)
}

/// Runs the check. Never fails: what cannot be checked becomes a "cannot tell" finding.
pub async fn run_readiness<P: TenantProbe>(
    profile: &TenantProfile,
    probe: &P,
    checked_at: DateTime<Utc>,
) -> ReadinessReport {
    let delegated = probe.is_delegated();
    let mut findings = Vec::new();

    // 1. Tokens.
    let mut claims: BTreeMap<Resource, TokenClaims> = BTreeMap::new();
    for resource in Resource::ALL {
        let key = match resource {
            Resource::Graph => "token.graph",
            Resource::Exchange => "token.exchange",
        };
        match probe.token_claims(resource).await {
            Ok(c) => {
                findings.push(finding(
                    key,
                    Area::SignIn,
                    Status::Pass,
                    format!("Firebreak can sign in to {}", resource.name()),
                    "A token was issued.",
                ));
                claims.insert(resource, c);
            }
            Err(e) => findings.push(with_fix(
                finding(key, Area::SignIn, Status::Gap, format!("No token for {}", resource.name()), e.to_string()),
                "Check the tenant, the application (client) id and the credential in the profile, then test the profile again.",
            )),
        }
    }

    // 2. Permissions, grouped by what to add.
    for resource in Resource::ALL {
        let Some(c) = claims.get(&resource) else {
            findings.push(finding(
                format!("permissions.{}", resource_key(resource)),
                Area::Permission,
                Status::CannotTell,
                format!("Permissions for {} not checked", resource.name()),
                "Without a token Firebreak cannot see what is granted.",
            ));
            continue;
        };
        let granted = if delegated {
            c.scopes()
        } else {
            c.roles.clone()
        };
        let (gaps, checked) = permission_gaps(resource, &granted, delegated);
        if gaps.is_empty() {
            findings.push(finding(
                format!("permissions.{}", resource_key(resource)),
                Area::Permission,
                Status::Pass,
                format!("{} permissions granted", resource.name()),
                if checked == 0 {
                    format!(
                        "No operation on {} is governed by a {} permission; access there depends on the role checked below.",
                        resource.name(),
                        if delegated { "delegated" } else { "application" }
                    )
                } else {
                    format!(
                        "All {checked} operations the procedures use on {} are allowed.",
                        resource.name()
                    )
                },
            ));
        }
        for (permission, steps, purposes) in gaps {
            let kind = if delegated {
                "delegated"
            } else {
                "application"
            };
            let mut f = finding(
                format!("permission.{permission}"),
                Area::Permission,
                Status::Gap,
                format!("Missing {kind} permission {permission}"),
                format!("Without it Firebreak cannot {}.", purposes.join(", ")),
            );
            f.missing = Some(permission.clone());
            f.blocks = step_names(steps);
            f.fix = Some(format!(
                "In the Entra admin center, open the app registration › API permissions › Add a permission › {} › {} permissions, add {permission}, then Grant admin consent.",
                resource.name(),
                if delegated { "Delegated" } else { "Application" }
            ));
            findings.push(f);
        }
    }

    // 3. Entra roles: delegated admins need roles; the app needs one for Exchange; and the
    // writes on an account need a directory role besides the permission, more on an admin's.
    role_findings(&mut findings, &claims, delegated);
    if let Some(c) = claims.get(&Resource::Graph) {
        account_write_findings(&mut findings, &Caller::from_claims(c, delegated));
    }

    // 4. Sign-in logs (P1) and 5. audit-log search.
    let graph_ok = claims.contains_key(&Resource::Graph);
    let mut premium = None;
    if graph_ok {
        match probe.probe_sign_in_logs().await {
            Ok(()) => {
                premium = Some(true);
                findings.push(finding(
                    "signInLogs",
                    Area::SignInLogs,
                    Status::Pass,
                    "Sign-in logs answer",
                    "The tenant has Entra ID P1 or P2, so sign-ins can be read and exported.",
                ));
            }
            Err(e) if e.is_premium_required() => {
                premium = Some(false);
                findings.push(with_fix(
                    finding(
                        "signInLogs.premium",
                        Area::SignInLogs,
                        Status::Gap,
                        "Sign-in logs need Entra ID P1",
                        "The tenant has no Entra ID P1 or P2 licence: Graph refuses to return sign-in logs, so triage and evidence cannot include them.",
                    ),
                    "Assign at least one Entra ID P1 licence (included in Microsoft 365 Business Premium and E3/E5). Until then, download sign-ins from the Entra admin center by hand during an incident.",
                ));
            }
            Err(e @ GraphError::PermissionDenied { .. }) => findings.push(finding(
                "signInLogs",
                Area::SignInLogs,
                Status::CannotTell,
                "Sign-in logs not checked",
                format!("Refused for lack of permission (see the permission gaps): {e}"),
            )),
            Err(e) => findings.push(finding(
                "signInLogs",
                Area::SignInLogs,
                Status::CannotTell,
                "Sign-in logs not checked",
                e.to_string(),
            )),
        }
    } else {
        findings.push(finding(
            "signInLogs",
            Area::SignInLogs,
            Status::CannotTell,
            "Sign-in logs not checked",
            "No Graph token.",
        ));
    }

    if !profile.cloud.has_audit_log_query() {
        findings.push(with_fix(
            finding(
                "auditLog.cloud",
                Area::AuditLog,
                Status::Gap,
                "Audit-log search API not available in this cloud",
                format!("The Purview audit-log query API exists only in the worldwide cloud, not in {}.", profile.cloud.name()),
            ),
            "During an incident, run the audit search in the Microsoft Purview portal and attach the export to the case.",
        ));
    } else if graph_ok {
        match probe.probe_audit_log_query().await {
            Ok(()) => findings.push(finding(
                "auditLog",
                Area::AuditLog,
                Status::Pass,
                "The unified audit log can be searched",
                "The Purview audit-log query API answered.",
            )),
            Err(e @ GraphError::PermissionDenied { .. }) => findings.push(finding(
                "auditLog",
                Area::AuditLog,
                Status::CannotTell,
                "Audit-log search refused",
                format!("See the permission gaps: {e}"),
            )),
            Err(e) => findings.push(with_fix(
                finding("auditLog", Area::AuditLog, Status::CannotTell, "Audit-log search did not answer", e.to_string()),
                "Check that auditing is turned on in Microsoft Purview (Audit › Start recording user and admin activity).",
            )),
        }
    } else {
        findings.push(finding(
            "auditLog",
            Area::AuditLog,
            Status::CannotTell,
            "Audit-log search not checked",
            "No Graph token.",
        ));
    }

    // 6. Retention.
    let (status, detail) = match premium {
        Some(true) => (Status::Info, "Sign-in and directory audit logs: about 30 days (Entra ID P1/P2). Unified audit log: 180 days on Audit Standard, one year on Audit Premium. Export early: exports are the only evidence that outlives these windows."),
        Some(false) => (Status::Info, "Sign-in and directory audit logs: about 7 days (Entra ID Free), and sign-ins cannot be read through Graph. Unified audit log: 180 days on Audit Standard. Never promise a longer timeline than this."),
        None => (Status::CannotTell, "The licence could not be determined. Sign-in logs are kept about 7 days on Entra ID Free and 30 days with P1/P2; the unified audit log 180 days on Audit Standard."),
    };
    findings.push(finding(
        "retention",
        Area::Retention,
        status,
        "Likely log retention",
        detail,
    ));

    // 7. The Temporary Access Pass policy recovery relies on.
    if graph_ok {
        findings.push(pass_policy_finding(
            probe.probe_temporary_access_pass_policy().await,
        ));
    }

    // 8. Break-glass account.
    match &profile.break_glass_upn {
        None => findings.push(with_fix(
            finding(
                "breakGlass",
                Area::BreakGlass,
                Status::Gap,
                "No break-glass account configured",
                "Firebreak protects the break-glass account from being disabled or reset, and prints it on the runbook, but none is set.",
            ),
            "Edit the tenant profile and enter the user principal name of the emergency-access account.",
        )),
        Some(upn) if graph_ok => match probe.probe_user(upn).await {
            Ok(Some(true)) => findings.push(finding(
                "breakGlass",
                Area::BreakGlass,
                Status::Pass,
                "Break-glass account configured",
                format!("{upn} exists and can sign in."),
            )),
            Ok(Some(false)) => findings.push(with_fix(
                finding("breakGlass", Area::BreakGlass, Status::Gap, "Break-glass account is disabled", format!("{upn} cannot sign in.")),
                "Enable the emergency-access account in the Entra admin center and check its credentials.",
            )),
            Ok(None) => findings.push(with_fix(
                finding("breakGlass", Area::BreakGlass, Status::Gap, "Break-glass account not found", format!("No user {upn} exists in the tenant.")),
                "Correct the break-glass account in the tenant profile.",
            )),
            Err(e) => findings.push(finding("breakGlass", Area::BreakGlass, Status::CannotTell, "Break-glass account not checked", e.to_string())),
        },
        Some(upn) => findings.push(finding(
            "breakGlass",
            Area::BreakGlass,
            Status::CannotTell,
            "Break-glass account not checked",
            format!("{upn} is configured; without a Graph token Firebreak cannot look it up."),
        )),
    }

    let ready = !findings.iter().any(|f| f.status == Status::Gap);
    ReadinessReport {
        profile_name: profile.display_name.clone(),
        tenant: profile.tenant.clone(),
        cloud: profile.cloud,
        mode: if delegated || profile.auth_method == AuthMethod::DeviceCode {
            "delegated"
        } else {
            "appOnly"
        }
        .into(),
        checked_at,
        findings,
        ready,
    }
}

/// What the tenant's Temporary Access Pass policy means for recovery: Entra refuses a pass when the
/// method is off, when the account is outside the groups the policy covers, and when the lifetime
/// is outside its bounds (spec/graph-behaviour.md, "Temporary Access Pass policy").
fn pass_policy_finding(policy: Result<TemporaryAccessPassPolicy, GraphError>) -> Finding {
    const ID: &str = "recovery.temporaryAccessPass";
    const WHERE: &str = "In the Entra admin center, open Protection › Authentication methods › Policies › Temporary Access Pass";
    let policy = match policy {
        Ok(policy) => policy,
        Err(e @ GraphError::PermissionDenied { .. }) => {
            return finding(
                ID,
                Area::Recovery,
                Status::CannotTell,
                "Temporary Access Pass policy not checked",
                format!("Refused for lack of permission (see the permission gaps): {e}"),
            );
        }
        Err(e) => {
            return finding(
                ID,
                Area::Recovery,
                Status::CannotTell,
                "Temporary Access Pass policy not checked",
                e.to_string(),
            );
        }
    };
    let bounds = match (
        policy.minimum_lifetime_in_minutes,
        policy.maximum_lifetime_in_minutes,
    ) {
        (Some(min), Some(max)) => format!("passes may last {min} to {max} minutes"),
        _ => "the lifetime bounds were not given".to_owned(),
    };
    if !policy.is_enabled() {
        return with_fix(
            finding(ID, Area::Recovery, Status::Gap, "Temporary Access Pass is turned off", "Recovery gives the user a one-time Temporary Access Pass to register MFA again; with the method off, Entra refuses to create one."),
            format!("{WHERE}, turn it on for all users (or for a group every account may belong to), one-time use, and save."),
        );
    }
    if !policy.includes_all_users() || !policy.exclude_targets.is_empty() {
        return with_fix(
            finding(ID, Area::Recovery, Status::Info, "Temporary Access Pass limited to some groups", format!("The method is on, but only for members of the groups the policy includes ({}) and not of those it excludes ({}); {bounds}. Entra refuses a pass to anyone else.", group_list(&policy.include_targets), group_list(&policy.exclude_targets))),
            format!("{WHERE} and include all users, or check before an incident that every account you may have to recover is in an included group."),
        );
    }
    if !(policy.allows_lifetime(60) || policy.allows_lifetime(480)) {
        return with_fix(
            finding(ID, Area::Recovery, Status::Info, "Temporary Access Pass lifetimes are unusual", format!("The method is on for all users, but {bounds}: Firebreak will offer the policy's default instead of one hour.")),
            format!("{WHERE} and allow one hour (60 minutes) if that suits the organisation."),
        );
    }
    finding(
        ID,
        Area::Recovery,
        Status::Pass,
        "Temporary Access Pass can be issued",
        format!("The method is on for all users; {bounds}."),
    )
}

fn group_list(targets: &[firebreak_graph::methods::PolicyTarget]) -> String {
    if targets.is_empty() {
        return "none".to_owned();
    }
    targets
        .iter()
        .map(|t| t.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The permissions to add for `resource`, fewest first: each unsatisfied requirement offers its
/// least-privilege set as a candidate, and the candidate that unblocks the most requirements is
/// recommended first (so one missing `UserAuthenticationMethod.ReadWrite.All` is one gap, not one
/// per operation it blocks). Broader alternatives are never recommended unless they are some
/// requirement's least-privilege set. Returns the gaps and how many requirements were checked.
type PermissionGap = (String, Vec<Step>, Vec<&'static str>);

fn permission_gaps(
    resource: Resource,
    granted: &[String],
    delegated: bool,
) -> (Vec<PermissionGap>, usize) {
    let least = |r: &Requirement| {
        if delegated {
            r.least_delegated()
        } else {
            r.least_application()
        }
    };
    let ok = |r: &Requirement, with: &[String]| {
        if delegated {
            r.satisfied_by_scopes(with)
        } else {
            r.satisfied_by_roles(with)
        }
    };
    let relevant: Vec<&Requirement> = REQUIREMENTS
        .iter()
        .filter(|r| r.resource == resource && !least(r).is_empty())
        .collect();
    let mut open: Vec<&Requirement> = relevant
        .iter()
        .copied()
        .filter(|r| !ok(r, granted))
        .collect();
    let mut gaps = Vec::new();
    while !open.is_empty() {
        let mut best: Option<(&[&str], Vec<&Requirement>)> = None;
        for candidate in open.iter().map(|r| least(r)) {
            let mut with: Vec<String> = granted.to_vec();
            with.extend(candidate.iter().map(|p| (*p).to_owned()));
            let fixed: Vec<&Requirement> = open.iter().copied().filter(|r| ok(r, &with)).collect();
            if best.as_ref().is_none_or(|(_, b)| fixed.len() > b.len()) {
                best = Some((candidate, fixed));
            }
        }
        let Some((candidate, fixed)) = best else {
            break;
        };
        if fixed.is_empty() {
            break;
        }
        open.retain(|r| !fixed.iter().any(|f| f.operation == r.operation));
        gaps.push((
            candidate.join(" + "),
            fixed.iter().flat_map(|r| r.steps.iter().copied()).collect(),
            fixed.iter().map(|r| r.purpose).collect(),
        ));
    }
    (gaps, relevant.len())
}

fn resource_key(resource: Resource) -> &'static str {
    match resource {
        Resource::Graph => "graph",
        Resource::Exchange => "exchange",
    }
}

fn role_name(template_id: &str) -> Option<&'static str> {
    ROLE_TEMPLATE_IDS
        .iter()
        .find(|(_, id)| id.eq_ignore_ascii_case(template_id))
        .map(|(n, _)| *n)
}

fn role_findings(
    findings: &mut Vec<Finding>,
    claims: &BTreeMap<Resource, TokenClaims>,
    delegated: bool,
) {
    let global_admin = role_template_id("Global Administrator").unwrap_or_default();
    if delegated {
        let Some(c) = claims.get(&Resource::Graph) else {
            return;
        };
        let held: Vec<&str> = c.wids.iter().filter_map(|w| role_name(w)).collect();
        if c.wids.iter().any(|w| w.eq_ignore_ascii_case(global_admin)) {
            findings.push(finding(
                "roles",
                Area::Role,
                Status::Pass,
                "The signed-in admin is a Global Administrator",
                "Every step is allowed.",
            ));
            return;
        }
        let mut missing: BTreeMap<String, Vec<Step>> = BTreeMap::new();
        // The writes on an account are judged per step below, with the account's standing.
        for req in REQUIREMENTS
            .iter()
            .filter(|r| !r.roles.is_empty() && roles::app_roles(r.operation).is_none())
        {
            if !req.roles.iter().any(|r| held.contains(r)) {
                missing
                    .entry(req.roles.join(" or "))
                    .or_default()
                    .extend_from_slice(req.steps);
            }
        }
        if missing.is_empty() {
            findings.push(finding(
                "roles",
                Area::Role,
                Status::Pass,
                "The signed-in admin holds the roles the steps need",
                held.join(", "),
            ));
        }
        for (roles, steps) in missing {
            let mut f = finding(
                format!("role.{roles}"),
                Area::Role,
                Status::Gap,
                format!("The signed-in admin needs the role {roles}"),
                format!(
                    "Roles held: {}.",
                    if held.is_empty() {
                        "none Firebreak recognises".to_owned()
                    } else {
                        held.join(", ")
                    }
                ),
            );
            f.blocks = step_names(steps);
            f.missing = Some(roles.clone());
            f.fix = Some(format!("Assign {roles} to the admin (Entra admin center › Roles and administrators), then sign in again."));
            findings.push(f);
        }
    } else if let Some(c) = claims.get(&Resource::Exchange) {
        findings.push(exchange_app_roles(&c.wids));
    }
}

/// What the app's Entra roles (its Exchange token's `wids`) let it do in Exchange: a role that
/// can change mailboxes, a read-only role that cannot read inbox rules or change anything, or
/// none the token shows (spec/exchange.md, "Roles").
fn exchange_app_roles(wids: &[String]) -> Finding {
    use firebreak_graph::permissions::{EXCHANGE_READ_ROLES, EXCHANGE_WRITE_ROLES};
    let held = |roles: &[&'static str]| -> Vec<&'static str> {
        roles
            .iter()
            .copied()
            .filter(|r| {
                role_template_id(r)
                    .is_some_and(|id| wids.iter().any(|w| w.eq_ignore_ascii_case(id)))
            })
            .collect()
    };
    let writers = held(EXCHANGE_WRITE_ROLES);
    let readers = held(EXCHANGE_READ_ROLES);
    let assign = format!(
        "Assign {} to the app (Entra admin center › Roles and administrators › {} › Add assignments › the app); Exchange Administrator and Global Administrator also work but give more than the steps need.",
        EXCHANGE_WRITE_ROLES[0], EXCHANGE_WRITE_ROLES[0]
    );
    if let Some(role) = writers.first() {
        return finding(
            "roles.exchange",
            Area::Role,
            Status::Pass,
            format!("The app holds {role} in Exchange"),
            "It can read inbox rules and remove rules, forwarding and delegates.",
        );
    }
    if let Some(role) = readers.first() {
        let mut f = finding(
            "roles.exchange",
            Area::Role,
            Status::Gap,
            format!("The app's Exchange role ({role}) can only read"),
            format!(
                "{role} reads mailbox settings and permissions, but Exchange refuses it inbox rules (they are inside the mailbox, outside the role's read scope) and every change. It needs one of: {}.",
                EXCHANGE_WRITE_ROLES.join(", ")
            ),
        );
        f.blocks = step_names([Step::Mailbox]);
        f.missing = Some(EXCHANGE_WRITE_ROLES[0].to_owned());
        f.fix = Some(assign);
        return f;
    }
    with_fix(
        finding(
            "roles.exchange",
            Area::Role,
            Status::CannotTell,
            "Exchange role of the app not visible",
            format!(
                "Exchange cmdlets need an Entra role on the app's service principal ({}); the token shows none. Without one Exchange answers every cmdlet with 403 and an empty body.",
                EXCHANGE_WRITE_ROLES.join(", ")
            ),
        ),
        &assign,
    )
}

/// The writes on an account whose directory role depends on the account, each once.
const ACCOUNT_WRITES: [Operation; 4] = [
    Operation::RevokeSignInSessions,
    Operation::SetAccountEnabled,
    Operation::ResetPassword,
    Operation::DeleteAuthenticationMethod,
];

/// One finding per write on an account: the directory role it needs on an ordinary account and
/// on an administrator's (or a member or owner of a role-assignable group), and whether the
/// caller holds it. A role missing for ordinary accounts blocks the step; one missing only for
/// administrators blocks it for them, which is a gap too: a compromised admin is the worst case.
fn account_write_findings(findings: &mut Vec<Finding>, caller: &Caller) {
    let admin = TargetStanding {
        roles: vec![roles::GLOBAL_ADMIN.to_owned()],
        role_assignable_groups: Vec::new(),
    };
    for op in ACCOUNT_WRITES {
        let req = op.requirement();
        let ordinary = roles::roles_needed(op, caller.delegated, None);
        let protected = roles::roles_needed(op, caller.delegated, Some(&admin)).unwrap_or_default();
        let ok_ordinary = roles::holds_for_ordinary(op, caller);
        let ok_protected = roles::holds_for_protected(op, caller);
        let needs = match &ordinary {
            Some(r) => format!("{} on an ordinary account", roles::either(r)),
            None => "no directory role on an ordinary account".to_owned(),
        };
        let needs_admin = if protected.is_empty() {
            "and none on an administrator's".to_owned()
        } else {
            format!(
                "and {} on an account that holds an admin role or belongs to a role-assignable group",
                roles::either(&protected)
            )
        };
        let detail = format!(
            "To {}, Microsoft requires {needs} {needs_admin}; {}.",
            req.purpose,
            caller.holdings()
        );
        let step = req.steps.first().map_or("", |s| s.name());
        let id = format!(
            "role.{}",
            serde_json::json!(op).as_str().unwrap_or_default()
        );
        let mut f = if ordinary.is_none() && protected.is_empty() {
            finding(
                id,
                Area::Role,
                Status::Pass,
                format!("{step}: the permission is enough, no directory role needed"),
                detail,
            )
        } else if ok_ordinary && ok_protected {
            finding(
                id,
                Area::Role,
                Status::Pass,
                format!("{step}: {} holds the role it needs", caller.who()),
                detail,
            )
        } else {
            let (title, wanted) = if ok_ordinary {
                (
                    format!(
                        "{step}: {} cannot do it on an administrator's account",
                        caller.who()
                    ),
                    protected.clone(),
                )
            } else {
                (
                    format!("{step} needs a directory role {} lacks", caller.who()),
                    ordinary.clone().unwrap_or_default(),
                )
            };
            let mut f = finding(id, Area::Role, Status::Gap, title, detail);
            f.missing = wanted.first().map(|r| (*r).to_owned());
            f.fix = Some(format!(
                "Assign {} to {} (Entra admin center › Roles and administrators › the role › Add assignments{}), then test the profile again.",
                roles::either(&wanted),
                caller.who(),
                if caller.delegated { "" } else { " › the app" }
            ));
            f
        };
        f.blocks = step_names(req.steps.iter().copied());
        findings.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        delegated: bool,
        graph_roles: Vec<String>,
        exchange: bool,
        premium: bool,
        break_glass_exists: bool,
    }

    fn all_graph_roles() -> Vec<String> {
        REQUIREMENTS
            .iter()
            .filter(|r| r.resource == Resource::Graph)
            .flat_map(|r| r.least_application().iter().map(|s| (*s).to_owned()))
            .collect()
    }

    fn denied(op: Operation) -> GraphError {
        GraphError::PermissionDenied {
            operation: op,
            code: "Authorization_RequestDenied".into(),
            message: "Insufficient privileges to complete the operation.".into(),
            request_id: None,
            raw: String::new(),
            explanation: String::new(),
        }
    }

    impl TenantProbe for Fake {
        fn is_delegated(&self) -> bool {
            self.delegated
        }
        async fn token_claims(&self, resource: Resource) -> Result<TokenClaims, GraphError> {
            match resource {
                Resource::Graph => Ok(TokenClaims {
                    roles: self.graph_roles.clone(),
                    wids: vec![role_template_id("Privileged Authentication Administrator")
                        .unwrap_or_default()
                        .to_owned()],
                    ..Default::default()
                }),
                Resource::Exchange if self.exchange => Ok(TokenClaims {
                    roles: vec!["Exchange.ManageAsApp".into()],
                    wids: vec!["29232cdf-9323-42fd-ade2-1d097af3e4de".into()],
                    ..Default::default()
                }),
                Resource::Exchange => Err(GraphError::Token {
                    resource,
                    error: "invalid_client".into(),
                    description: "AADSTS7000215: Invalid client secret provided.".into(),
                }),
            }
        }
        async fn probe_sign_in_logs(&self) -> Result<(), GraphError> {
            if self.premium {
                Ok(())
            } else {
                Err(GraphError::Service {
                    operation: Operation::ListSignIns,
                    status: 403,
                    code: "Authentication_RequestFromNonPremiumTenantOrB2CTenant".into(),
                    message: "Neither tenant is B2C or tenant doesn't have premium license".into(),
                    exception: None,
                    request_id: None,
                    raw: String::new(),
                })
            }
        }
        async fn probe_audit_log_query(&self) -> Result<(), GraphError> {
            Ok(())
        }
        async fn probe_temporary_access_pass_policy(
            &self,
        ) -> Result<TemporaryAccessPassPolicy, GraphError> {
            Ok(enabled_pass_policy())
        }
        async fn probe_user(&self, _upn: &str) -> Result<Option<bool>, GraphError> {
            if self.graph_roles.is_empty() {
                return Err(denied(Operation::ReadUser));
            }
            Ok(self.break_glass_exists.then_some(true))
        }
    }

    #[test]
    fn the_apps_exchange_role_decides_what_the_mailbox_step_can_do() {
        let id = |name: &str| role_template_id(name).unwrap().to_owned();
        let recipient = exchange_app_roles(&[id("Exchange Recipient Administrator")]);
        assert_eq!(recipient.status, Status::Pass, "{recipient:?}");
        let reader = exchange_app_roles(&[id("Global Reader")]);
        assert_eq!(reader.status, Status::Gap, "{reader:?}");
        assert!(reader.detail.contains("inbox rules"), "{}", reader.detail);
        assert_eq!(reader.blocks, vec![Step::Mailbox.name().to_owned()]);
        assert_eq!(
            reader.missing.as_deref(),
            Some("Exchange Recipient Administrator")
        );
        let none = exchange_app_roles(&[]);
        assert_eq!(none.status, Status::CannotTell, "{none:?}");
        assert!(none.detail.contains("403"), "{}", none.detail);
    }

    /// Entra's documented defaults, turned on for all users.
    fn enabled_pass_policy() -> TemporaryAccessPassPolicy {
        serde_json::from_value(serde_json::json!({
            "state": "enabled", "defaultLifetimeInMinutes": 60, "minimumLifetimeInMinutes": 60,
            "maximumLifetimeInMinutes": 480, "isUsableOnce": false,
            "includeTargets": [{"id": "all_users", "targetType": "group"}], "excludeTargets": [],
        }))
        .expect("policy")
    }

    #[test]
    fn each_pass_policy_problem_gets_its_own_finding() {
        let ok = pass_policy_finding(Ok(enabled_pass_policy()));
        assert_eq!(ok.status, Status::Pass, "{ok:?}");
        assert!(ok.detail.contains("60 to 480 minutes"), "{}", ok.detail);

        let mut off = enabled_pass_policy();
        off.state = Some("disabled".into());
        let off = pass_policy_finding(Ok(off));
        assert_eq!(off.status, Status::Gap, "a pass cannot be issued: {off:?}");
        assert!(off.title.contains("turned off"));
        assert!(off.fix.as_deref().is_some_and(|f| f.contains("turn it on")));

        let mut scoped = enabled_pass_policy();
        scoped.include_targets[0].id = "5b7c5c2b-8d63-4d0e-9a43-1d0a4a3f0b11".into();
        let scoped = pass_policy_finding(Ok(scoped));
        assert!(
            scoped.title.contains("limited to some groups"),
            "{scoped:?}"
        );
        assert!(scoped
            .detail
            .contains("5b7c5c2b-8d63-4d0e-9a43-1d0a4a3f0b11"));

        let mut short = enabled_pass_policy();
        short.minimum_lifetime_in_minutes = Some(10);
        short.maximum_lifetime_in_minutes = Some(30);
        let short = pass_policy_finding(Ok(short));
        assert!(short.title.contains("lifetimes"), "{short:?}");
        assert!(short.detail.contains("10 to 30 minutes"));

        let unread = pass_policy_finding(Err(denied(Operation::ReadTemporaryAccessPassPolicy)));
        assert_eq!(unread.status, Status::CannotTell);
    }

    fn profile() -> TenantProfile {
        let mut p = TenantProfile::training();
        p.display_name = "Contoso".into();
        p.tenant = "contoso.onmicrosoft.com".into();
        p.break_glass_upn = Some("bg@contoso.onmicrosoft.com".into());
        p
    }

    fn gap_ids(r: &ReadinessReport) -> Vec<String> {
        r.gaps().map(|f| f.id.clone()).collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .expect("t")
            .with_timezone(&Utc)
    }

    #[tokio::test]
    async fn a_fully_granted_p1_tenant_is_ready() {
        let fake = Fake {
            delegated: false,
            graph_roles: all_graph_roles(),
            exchange: true,
            premium: true,
            break_glass_exists: true,
        };
        let r = run_readiness(&profile(), &fake, now()).await;
        assert!(r.ready, "{}", r.to_text());
        assert!(gap_ids(&r).is_empty());
    }

    #[tokio::test]
    async fn each_missing_permission_is_one_gap_naming_the_steps_it_blocks() {
        let roles: Vec<String> = all_graph_roles()
            .into_iter()
            .filter(|r| r != "AuditLog.Read.All" && r != "User.RevokeSessions.All")
            .collect();
        let fake = Fake {
            delegated: false,
            graph_roles: roles,
            exchange: true,
            premium: false,
            break_glass_exists: true,
        };
        let r = run_readiness(&profile(), &fake, now()).await;
        assert_eq!(
            gap_ids(&r),
            vec![
                "permission.AuditLog.Read.All",
                "permission.User.RevokeSessions.All",
                "signInLogs.premium"
            ]
        );
        let revoke = r
            .gaps()
            .find(|f| f.id == "permission.User.RevokeSessions.All")
            .expect("gap");
        assert_eq!(revoke.blocks, vec!["Revoke sessions"]);
        assert!(revoke
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("Grant admin consent")));
        let retention = r
            .findings
            .iter()
            .find(|f| f.id == "retention")
            .expect("retention");
        assert!(retention.detail.contains("7 days"), "{}", retention.detail);
    }

    #[test]
    fn one_missing_permission_that_blocks_several_operations_is_one_gap() {
        let roles: Vec<String> = all_graph_roles()
            .into_iter()
            .filter(|r| !r.starts_with("UserAuth"))
            .collect();
        let (gaps, _) = permission_gaps(Resource::Graph, &roles, false);
        let names: Vec<&str> = gaps.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(names, vec!["UserAuthenticationMethod.ReadWrite.All"]);
        assert_eq!(
            step_names(gaps[0].1.clone()),
            vec![
                "Preserve evidence",
                "Review authentication methods",
                "Recover with a Temporary Access Pass"
            ]
        );
        let (none, checked) = permission_gaps(Resource::Graph, &all_graph_roles(), false);
        assert!(none.is_empty() && checked > 20);
    }

    #[tokio::test]
    async fn a_missing_exchange_token_and_break_glass_are_gaps_with_fixes() {
        let fake = Fake {
            delegated: false,
            graph_roles: all_graph_roles(),
            exchange: false,
            premium: true,
            break_glass_exists: false,
        };
        let mut p = profile();
        let r = run_readiness(&p, &fake, now()).await;
        assert_eq!(gap_ids(&r), vec!["token.exchange", "breakGlass"]);
        p.break_glass_upn = None;
        let r = run_readiness(&p, &fake, now()).await;
        let bg = r.gaps().find(|f| f.id == "breakGlass").expect("gap");
        assert!(bg.fix.is_some());
        let printed = r.to_text();
        assert!(
            printed.contains("NOT READY") && printed.contains("[GAP]"),
            "{printed}"
        );
        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["findings"][0]["status"], "pass");
    }

    #[tokio::test]
    async fn delegated_admins_get_role_hints_from_their_wids() {
        struct Delegated;
        impl TenantProbe for Delegated {
            fn is_delegated(&self) -> bool {
                true
            }
            async fn token_claims(&self, _r: Resource) -> Result<TokenClaims, GraphError> {
                let scopes: Vec<&str> = REQUIREMENTS
                    .iter()
                    .flat_map(|r| r.least_delegated().iter().copied())
                    .collect();
                Ok(TokenClaims {
                    scp: Some(scopes.join(" ")),
                    wids: vec![role_template_id("Security Reader")
                        .unwrap_or_default()
                        .to_owned()],
                    ..Default::default()
                })
            }
            async fn probe_sign_in_logs(&self) -> Result<(), GraphError> {
                Ok(())
            }
            async fn probe_audit_log_query(&self) -> Result<(), GraphError> {
                Ok(())
            }
            async fn probe_user(&self, _u: &str) -> Result<Option<bool>, GraphError> {
                Ok(Some(true))
            }
            async fn probe_temporary_access_pass_policy(
                &self,
            ) -> Result<TemporaryAccessPassPolicy, GraphError> {
                Ok(enabled_pass_policy())
            }
        }
        let r = run_readiness(&profile(), &Delegated, now()).await;
        assert_eq!(r.mode, "delegated");
        let role_gaps: Vec<&Finding> = r.gaps().filter(|f| f.area == Area::Role).collect();
        assert!(
            !role_gaps.is_empty(),
            "a Security Reader cannot revoke sessions"
        );
        assert!(role_gaps
            .iter()
            .any(|f| f.blocks.contains(&"Revoke sessions".to_owned())));
        assert!(r.gaps().all(|f| f.area == Area::Role), "{}", r.to_text());
    }
}
