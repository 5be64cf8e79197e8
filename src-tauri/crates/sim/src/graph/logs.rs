//! Entra logs: sign-ins (v1.0: interactive only; beta: `signInEventTypes` for non-interactive and
//! service-principal sign-ins) and directory audits. Both need Entra ID P1, keep 30 days, page
//! newest first, and merge the scenario's records with the generated ones of a large tenant without
//! materialising the latter.

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::{ApiVersion, Ctx, Perm};
use crate::clock::parse_time;
use crate::generator::{Hints, LogSeq, SignIns};
use crate::odata::{equality_on, lower_time_bound, prefix_on, FilterSpec, EQ, RANGE, STARTS};
use crate::server::GraphError;

const AUDIT_LOG: Perm = Perm {
    app: &["AuditLog.Read.All"],
    delegated: &["AuditLog.Read.All"],
    roles: &[
        "Reports Reader",
        "Security Reader",
        "Security Operator",
        "Security Administrator",
        "Global Reader",
    ],
};

const SIGN_IN_PROPS: &[(&str, u8)] = &[
    ("id", EQ),
    ("userId", EQ),
    ("userPrincipalName", EQ | STARTS),
    ("userDisplayName", EQ | STARTS),
    ("appId", EQ),
    ("appDisplayName", EQ | STARTS),
    ("ipAddress", EQ | STARTS),
    ("createdDateTime", RANGE),
    ("status/errorCode", EQ),
    ("conditionalAccessStatus", EQ),
    ("isInteractive", EQ),
    ("clientAppUsed", EQ),
    ("correlationId", EQ),
    ("riskLevelDuringSignIn", EQ),
    ("riskState", EQ),
    ("location/city", EQ | STARTS),
    ("location/countryOrRegion", EQ | STARTS),
];
const SIGN_IN_FILTER_V1: FilterSpec = FilterSpec {
    entity: "microsoft.graph.signIn",
    props: SIGN_IN_PROPS,
    lambdas: &[],
    advanced: false,
};
const SIGN_IN_FILTER_BETA: FilterSpec = FilterSpec {
    entity: "microsoft.graph.signIn",
    props: SIGN_IN_PROPS,
    lambdas: &[("signInEventTypes", &[("", EQ)])],
    advanced: false,
};
const AUDIT_FILTER: FilterSpec = FilterSpec {
    entity: "microsoft.graph.directoryAudit",
    props: &[
        ("id", EQ),
        ("activityDateTime", RANGE),
        ("activityDisplayName", EQ | STARTS),
        ("category", EQ),
        ("loggedByService", EQ),
        ("result", EQ),
        ("correlationId", EQ),
        ("operationType", EQ),
        ("initiatedBy/user/id", EQ),
        ("initiatedBy/user/userPrincipalName", EQ | STARTS),
        ("initiatedBy/user/displayName", EQ | STARTS),
        ("initiatedBy/app/appId", EQ),
        ("initiatedBy/app/displayName", EQ | STARTS),
        ("initiatedBy/app/servicePrincipalId", EQ),
    ],
    lambdas: &[(
        "targetResources",
        &[
            ("id", EQ),
            ("displayName", EQ | STARTS),
            ("userPrincipalName", EQ | STARTS),
            ("type", EQ),
        ],
    )],
    advanced: false,
};

/// Sign-in and directory-audit retention with Entra ID P1/P2.
const RETENTION_DAYS: i64 = 30;

/// The 403 for sign-in logs in a tenant without Entra ID P1.
pub(crate) fn no_premium() -> GraphError {
    GraphError::new(
        StatusCode::FORBIDDEN,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    )
}

/// Pages a newest-first log made of an in-memory list and an optional generated sequence.
/// `position` is (next index in `listed`, next index in `generated`). Returns the page and the
/// position of the next page, if any record remains.
pub(crate) fn merged_page(
    listed: &[Value],
    time_key: &str,
    generated: Option<&dyn LogSeq>,
    position: (u64, u64),
    size: usize,
    hints: &Hints,
    accept: &dyn Fn(&Value) -> bool,
) -> (Vec<Value>, Option<(u64, u64)>) {
    let (mut e, mut g) = position;
    if position == (0, 0) {
        if let Some(seq) = generated {
            g = seq.start(hints);
        }
    }
    let listed_time = |v: &Value| v.get(time_key).and_then(Value::as_str).and_then(parse_time);
    let too_old =
        |t: Option<DateTime<Utc>>| matches!((t, hints.not_before), (Some(t), Some(min)) if t < min);
    let mut page = Vec::new();
    let next_listed = |e: &mut u64| -> Option<(DateTime<Utc>, Value)> {
        while (*e as usize) < listed.len() {
            let item = &listed[*e as usize];
            let t = listed_time(item);
            if too_old(t) {
                *e = listed.len() as u64;
                return None;
            }
            if accept(item) {
                return Some((t.unwrap_or(DateTime::<Utc>::MIN_UTC), item.clone()));
            }
            *e += 1;
        }
        None
    };
    let next_generated = |g: &mut u64| -> Option<(DateTime<Utc>, Value)> {
        let seq = generated?;
        while *g < seq.len() {
            let t = seq.time(*g);
            if too_old(Some(t)) {
                *g = seq.len();
                return None;
            }
            if seq.plausible(*g, hints) {
                let item = seq.item(*g);
                if accept(&item) {
                    return Some((t, item));
                }
            }
            *g += 1;
        }
        None
    };
    let mut head_e = next_listed(&mut e);
    let mut head_g = next_generated(&mut g);
    loop {
        if head_e.is_none() && head_g.is_none() {
            return (page, None);
        }
        if page.len() >= size {
            return (page, Some((e, g)));
        }
        let take_listed = match (&head_e, &head_g) {
            (Some((te, _)), Some((tg, _))) => te >= tg,
            (Some(_), None) => true,
            _ => false,
        };
        if take_listed {
            if let Some((_, item)) = head_e.take() {
                page.push(item);
            }
            e += 1;
            head_e = next_listed(&mut e);
        } else {
            if let Some((_, item)) = head_g.take() {
                page.push(item);
            }
            g += 1;
            head_g = next_generated(&mut g);
        }
    }
}

fn position(ctx: &Ctx) -> Result<(u64, u64), GraphError> {
    match &ctx.query.skiptoken {
        Some(token) => super::decode_skiptoken(token),
        None => Ok((0, 0)),
    }
}

fn check_order(ctx: &Ctx, property: &str) -> Result<(), GraphError> {
    match &ctx.query.orderby {
        None => Ok(()),
        Some((prop, true)) if prop.eq_ignore_ascii_case(property) => Ok(()),
        Some((prop, _)) => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Ordering by '{prop}' is not supported; results are always {property} desc."),
        )),
    }
}

/// GET /auditLogs/signIns
pub(crate) async fn sign_ins(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&AUDIT_LOG)?;
    ctx.refuse_options(&["select", "top", "filter", "orderby"])?;
    ctx.describe("microsoft.graph.signIn")?;
    let spec = if ctx.version == ApiVersion::Beta {
        &SIGN_IN_FILTER_BETA
    } else {
        &SIGN_IN_FILTER_V1
    };
    ctx.check_filter(spec, "BadRequest")?;
    check_order(&ctx, "createdDateTime")?;
    let page_size = ctx.page_size(1000, 1000, "BadRequest")?;
    let start = position(&ctx)?;
    let tenant = ctx.sim.lock_tenant();
    if !tenant.info.licences.entra_id_p1 {
        return Err(no_premium());
    }
    let filter = ctx.query.filter.clone();
    let event_types_filtered = ctx
        .query
        .raw_filter
        .as_deref()
        .is_some_and(|f| f.to_ascii_lowercase().contains("signineventtypes"));
    let retention = ctx.now - Duration::days(RETENTION_DAYS);
    let hints = Hints {
        user: filter
            .as_ref()
            .and_then(|f| equality_on(f, "userId").or_else(|| equality_on(f, "userPrincipalName"))),
        not_before: Some(
            filter
                .as_ref()
                .and_then(|f| lower_time_bound(f, "createdDateTime"))
                .map_or(retention, |t| t.max(retention)),
        ),
        not_after: Some(ctx.now),
        interactive: if event_types_filtered {
            None
        } else {
            Some(true)
        },
        ip_prefixes: filter
            .as_ref()
            .and_then(|f| prefix_on(f, "ipAddress"))
            .into_iter()
            .collect(),
    };
    let now = ctx.now;
    let accept = |item: &Value| {
        let interactive_event = item
            .get("signInEventTypes")
            .and_then(Value::as_array)
            .is_some_and(|types| types.iter().any(|t| t == "interactiveUser"));
        let created = item
            .get("createdDateTime")
            .and_then(Value::as_str)
            .and_then(parse_time);
        (event_types_filtered || interactive_event)
            && created.is_some_and(|t| t <= now)
            && filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, item))
    };
    let generated = tenant.generated.as_ref().map(SignIns);
    let (page, next) = merged_page(
        &tenant.sign_ins,
        "createdDateTime",
        generated.as_ref().map(|g| g as &dyn LogSeq),
        start,
        page_size,
        &hints,
        &accept,
    );
    let p2 = tenant.info.licences.entra_id_p2;
    let page: Vec<Value> = page
        .into_iter()
        .map(|mut item| {
            if !p2 {
                // Without Entra ID P2 the risk levels and detail of a sign-in read `hidden`.
                if let Value::Object(map) = &mut item {
                    for property in ["riskLevelDuringSignIn", "riskLevelAggregated", "riskDetail"] {
                        map.insert(property.to_owned(), Value::String("hidden".into()));
                    }
                }
            }
            // v1.0 answers drop the beta-only properties (signInEventTypes, sessionId…).
            ctx.shape(item)
        })
        .collect();
    let next = next.map(|p| ctx.next_link(p));
    Ok(ctx.collection_body("auditLogs/signIns", page, next, None))
}

/// GET /auditLogs/directoryAudits
pub(crate) async fn directory_audits(ctx: Ctx) -> Result<Response, GraphError> {
    ctx.require(&AUDIT_LOG)?;
    ctx.refuse_options(&["select", "top", "filter", "orderby"])?;
    ctx.describe("microsoft.graph.directoryAudit")?;
    ctx.check_filter(&AUDIT_FILTER, "BadRequest")?;
    check_order(&ctx, "activityDateTime")?;
    let page_size = ctx.page_size(1000, 1000, "BadRequest")?;
    let start = position(&ctx)?;
    let tenant = ctx.sim.lock_tenant();
    let retention_days = if tenant.info.licences.entra_id_p1 {
        RETENTION_DAYS
    } else {
        7
    };
    let retention = ctx.now - Duration::days(retention_days);
    let filter = ctx.query.filter.clone();
    let hints = Hints {
        not_before: Some(
            filter
                .as_ref()
                .and_then(|f| lower_time_bound(f, "activityDateTime"))
                .map_or(retention, |t| t.max(retention)),
        ),
        ..Hints::default()
    };
    let now = ctx.now;
    let accept = |item: &Value| {
        item.get("activityDateTime")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .is_some_and(|t| t <= now)
            && filter
                .as_ref()
                .is_none_or(|f| crate::odata::matches(f, item))
    };
    let (page, next) = merged_page(
        &tenant.directory_audits,
        "activityDateTime",
        None,
        start,
        page_size,
        &hints,
        &accept,
    );
    let page: Vec<Value> = page.into_iter().map(|item| ctx.shape(item)).collect();
    let next = next.map(|p| ctx.next_link(p));
    Ok(ctx.collection_body("auditLogs/directoryAudits", page, next, None))
}
