//! The simulator's own endpoints under `/_sim/` (never under the Microsoft paths): the log of
//! changes received, the score against the answer key, the clock, faults, device-code approval,
//! certificate upload to the app registration, and what the attacker did.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Duration;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::{graph_time, parse_time};
use crate::faults::Faults;
use crate::scenario::{Artefact, ArtefactKind};
use crate::score;
use crate::server::Sim;
use crate::tenant::{str_of, Tenant};
use crate::token::RegisteredCert;

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/actions",
            get(|State(sim): State<Arc<Sim>>| async move { Json(actions(&sim)) }),
        )
        .route(
            "/score",
            get(|State(sim): State<Arc<Sim>>| async move { Json(score(&sim)) }),
        )
        .route("/attacker", get(attacker))
        .route(
            "/now",
            get(|State(sim): State<Arc<Sim>>| async move {
                Json(json!({"now": graph_time(sim.clock.now())}))
            }),
        )
        .route("/clock", post(clock))
        .route(
            "/faults",
            get(|State(sim): State<Arc<Sim>>| async move { Json(json!(sim.fault_config())) })
                .post(faults),
        )
        .route("/devicecode/approve", post(approve))
        .route("/apps/{client_id}/certificates", post(upload_certificate))
        .route("/scenario", get(scenario))
        .route("/attacker/return", post(attacker_return))
        .route("/user/activity", post(user_activity))
        .route("/onPremises", post(on_premises))
        .route(
            "/requests",
            get(|State(sim): State<Arc<Sim>>| async move {
                Json(json!({"requests": sim.requests.snapshot()}))
            })
            .delete(|State(sim): State<Arc<Sim>>| async move {
                sim.requests.clear();
                StatusCode::NO_CONTENT
            }),
        )
        .fallback(|| async {
            problem(
                StatusCode::NOT_FOUND,
                "no such /_sim endpoint: see SCENARIOS.md",
            )
        })
}

fn problem(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Every change received, with its simulated time, in order.
pub(crate) fn actions(sim: &Sim) -> Value {
    json!({"actions": sim.lock_tenant().actions})
}

async fn attacker(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(attacker_report(&sim))
}

/// What the attacker did and whether it still has access, as `GET /_sim/attacker` returns it.
pub(crate) fn attacker_report(sim: &Sim) -> Value {
    let tenant = sim.lock_tenant();
    json!({
        "log": tenant.attacker.log,
        "hasAccess": crate::attacker::has_access(&tenant, sim.clock.now()),
        "regainedAccess": tenant.attacker.regained_access,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivityRequest {
    user: String,
    actions: Vec<String>,
}

/// Who does what when someone acts on an account from outside the responder's calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Actor {
    /// The attacker, from its own address.
    Attacker,
    /// The account's owner, from their usual address.
    User,
}

/// Lets the attacker (or the user) act on `user` now; what the watch window is tested with.
pub(crate) fn act(
    sim: &Sim,
    actor: Actor,
    user: &str,
    actions: &[String],
) -> Result<Value, String> {
    let now = sim.clock.now();
    let mut tenant = sim.lock_tenant();
    let done = match actor {
        Actor::Attacker => crate::attacker::come_back(&mut tenant, user, actions, now)?,
        Actor::User => crate::attacker::user_activity(&mut tenant, user, actions, now)?,
    };
    let surface = match actor {
        Actor::Attacker => "attacker returned",
        Actor::User => "user activity",
    };
    tenant.record_action(
        now,
        json!({"surface": "control", "change": surface, "user": user, "done": done}),
    );
    Ok(json!({"done": done}))
}

/// The admin acts on a synchronised account in Active Directory (`disable`, `enable`,
/// `resetPassword`), as the on-premises half of a containment step.
pub(crate) fn on_premises_act(sim: &Sim, user: &str, action: &str) -> Result<Value, String> {
    let action = crate::hybrid::OnPremAction::parse(action).ok_or_else(|| {
        format!("unknown on-premises action {action}: disable, enable or resetPassword")
    })?;
    let now = sim.clock.now();
    let mut tenant = sim.lock_tenant();
    crate::hybrid::act(&mut tenant, user, action, now)
}

#[derive(Deserialize)]
struct OnPremisesRequest {
    user: String,
    action: String,
}

async fn on_premises(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<OnPremisesRequest>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"user\": \"upn or id\", \"action\": \"disable\" | \"enable\" | \"resetPassword\"}",
        );
    };
    match on_premises_act(&sim, &request.user, &request.action) {
        Ok(done) => Json(done).into_response(),
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

async fn attacker_return(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    activity(&sim, Actor::Attacker, &body)
}

async fn user_activity(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    activity(&sim, Actor::User, &body)
}

fn activity(sim: &Sim, actor: Actor, body: &[u8]) -> Response {
    let Ok(request) = serde_json::from_slice::<ActivityRequest>(body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"user\": \"upn or id\", \"actions\": [\"signIn\", ...]}",
        );
    };
    match act(sim, actor, &request.user, &request.actions) {
        Ok(done) => Json(done).into_response(),
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClockRequest {
    #[serde(default)]
    advance_minutes: Option<f64>,
    #[serde(default)]
    advance_seconds: Option<f64>,
    #[serde(default)]
    advance_hours: Option<f64>,
}

async fn clock(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<ClockRequest>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"advanceMinutes\": N} (or advanceSeconds / advanceHours)",
        );
    };
    let seconds = request.advance_seconds.unwrap_or(0.0)
        + request.advance_minutes.unwrap_or(0.0) * 60.0
        + request.advance_hours.unwrap_or(0.0) * 3600.0;
    if !seconds.is_finite() || seconds < 0.0 {
        return problem(StatusCode::BAD_REQUEST, "the clock only moves forward");
    }
    sim.clock
        .advance(Duration::milliseconds((seconds * 1000.0) as i64));
    sim.catch_up();
    Json(json!({"now": graph_time(sim.clock.now())})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FaultRequest {
    #[serde(flatten)]
    faults: Faults,
    #[serde(default)]
    expire_tokens_now: bool,
}

async fn faults(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("not a faults object: {e}"),
            )
        }
    };
    if request.expire_tokens_now {
        sim.tokens.expire_all();
    }
    sim.faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .set(request.faults.clone());
    let mut tenant = sim.lock_tenant();
    let now = sim.clock.now();
    tenant.record_action(now, json!({"surface": "control", "change": "faults", "faults": request.faults, "expireTokensNow": request.expire_tokens_now}));
    Json(json!(request.faults)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApproveRequest {
    user_code: String,
    user_principal_name: String,
    #[serde(default)]
    decline: bool,
}

async fn approve(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<ApproveRequest>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"userCode\": \"...\", \"userPrincipalName\": \"...\"}",
        );
    };
    match crate::token::approve_device_code(
        &sim,
        &request.user_code,
        &request.user_principal_name,
        request.decline,
    ) {
        Ok(user_id) => {
            Json(json!({"approved": !request.decline, "userId": user_id})).into_response()
        }
        Err(message) => problem(StatusCode::BAD_REQUEST, &message),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CertificateRequest {
    certificate_pem: String,
}

async fn upload_certificate(
    State(sim): State<Arc<Sim>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<CertificateRequest>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "send {\"certificatePem\": \"-----BEGIN CERTIFICATE-----...\"}",
        );
    };
    let cert = match RegisteredCert::from_pem(&request.certificate_pem) {
        Ok(cert) => cert,
        Err(message) => return problem(StatusCode::BAD_REQUEST, &message),
    };
    let mut tenant = sim.lock_tenant();
    if !tenant.app.client_id.eq_ignore_ascii_case(&client_id) {
        return problem(
            StatusCode::NOT_FOUND,
            "no app registration with that client id in this tenant",
        );
    }
    let thumbprint = cert.thumbprint();
    tenant.certificates.push(cert);
    let now = sim.clock.now();
    tenant.record_action(
        now,
        json!({"surface": "control", "change": "certificate uploaded", "thumbprint": thumbprint}),
    );
    (StatusCode::CREATED, Json(json!({"thumbprint": thumbprint}))).into_response()
}

async fn scenario(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let tenant = sim.lock_tenant();
    let users: Vec<Value> = tenant
        .users
        .iter()
        .take(50)
        .map(|u| json!({"id": u.id(), "userPrincipalName": u.upn(), "displayName": u.display_name()}))
        .collect();
    Json(json!({
        "name": tenant.scenario_name,
        "tenantId": tenant.info.id,
        "domain": tenant.info.domain,
        "clientId": tenant.app.client_id,
        "now": graph_time(sim.clock.now()),
        "users": users,
        "flows": tenant.flows,
    }))
}

/// Whether an artefact is still in place.
fn present(tenant: &Tenant, artefact: &Artefact) -> bool {
    let user = artefact.user_id.as_deref().and_then(|u| tenant.user(u));
    let mailbox = user.and_then(|u| u.mailbox.as_ref());
    let same = |a: &str, b: &str| {
        a.trim_start_matches("smtp:")
            .trim_start_matches("SMTP:")
            .eq_ignore_ascii_case(b.trim_start_matches("smtp:").trim_start_matches("SMTP:"))
    };
    let names = |who: &str| -> Vec<String> {
        match tenant.user(who) {
            Some(u) => vec![
                u.upn().to_owned(),
                u.id().to_owned(),
                u.display_name().to_owned(),
                u.user
                    .get("mailNickname")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ],
            None => vec![who.to_owned()],
        }
    };
    let is = |stored: &str| {
        names(&artefact.id)
            .iter()
            .any(|n| !n.is_empty() && (same(stored, n) || names(stored).iter().any(|m| same(m, n))))
    };
    match artefact.kind {
        ArtefactKind::AuthenticationMethod => user.is_some_and(|u| {
            u.methods
                .iter()
                .any(|m| str_of(m, "id") == Some(artefact.id.as_str()))
        }),
        ArtefactKind::InboxRule => mailbox.is_some_and(|m| {
            m.inbox_rules.iter().any(|r| {
                r.rule_identity.as_deref() == Some(artefact.id.as_str()) || r.name == artefact.id
            })
        }),
        ArtefactKind::MailboxForwarding => mailbox.is_some_and(|m| {
            m.forwarding_smtp_address
                .as_deref()
                .is_some_and(|a| same(a, &artefact.id))
                || m.forwarding_address.as_deref().is_some_and(is)
        }),
        ArtefactKind::MailboxPermission => {
            mailbox.is_some_and(|m| m.permissions.iter().any(|p| is(&p.user)))
        }
        ArtefactKind::RecipientPermission => {
            mailbox.is_some_and(|m| m.recipient_permissions.iter().any(|p| is(&p.trustee)))
        }
        ArtefactKind::SendOnBehalf => {
            mailbox.is_some_and(|m| m.grant_send_on_behalf_to.iter().any(|t| is(t)))
        }
        ArtefactKind::Oauth2PermissionGrant => tenant
            .grants
            .iter()
            .any(|g| str_of(g, "id") == Some(artefact.id.as_str())),
        ArtefactKind::ServicePrincipal => {
            tenant.service_principal(&artefact.id).is_some_and(|sp| {
                sp.get("accountEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            })
        }
        ArtefactKind::User => tenant
            .user(&artefact.id)
            .is_some_and(|u| u.account_enabled()),
        ArtefactKind::DirectoryRoleMembership => {
            user.is_some_and(|u| u.member_of.iter().any(|m| m == &artefact.id))
        }
        ArtefactKind::ApplicationCredential => {
            artefact.application_credential().is_some_and(|(app, key)| {
                tenant.application(app).is_some_and(|app| {
                    ["passwordCredentials", "keyCredentials"]
                        .iter()
                        .any(|list| {
                            app.get(*list)
                                .and_then(Value::as_array)
                                .into_iter()
                                .flatten()
                                .any(|k| {
                                    str_of(k, "keyId").is_some_and(|k| k.eq_ignore_ascii_case(key))
                                })
                        })
                })
            })
        }
    }
}

fn describe(artefact: &Artefact) -> score::Artefact {
    score::Artefact {
        kind: artefact.kind,
        user_id: artefact.user_id.clone(),
        id: artefact.id.clone(),
        description: artefact.description.clone(),
    }
}

/// The containment steps taken on one account, read from the action log.
fn containment(tenant: &Tenant, user_id: &str) -> score::Containment {
    let mut revoked = None;
    let mut disabled = None;
    let mut reset = None;
    for action in &tenant.actions {
        if action.get("targetId").and_then(Value::as_str) != Some(user_id)
            || action
                .get("status")
                .and_then(Value::as_u64)
                .is_none_or(|s| s >= 300)
        {
            continue;
        }
        let at = action
            .get("at")
            .and_then(Value::as_str)
            .and_then(parse_time);
        let change = action.get("change");
        if change == Some(&json!("revokeSignInSessions")) && revoked.is_none() {
            revoked = at;
        }
        if change.and_then(|c| c.get("accountEnabled")) == Some(&json!(false)) && disabled.is_none()
        {
            disabled = at;
        }
        if change.and_then(|c| c.get("passwordReset")).is_some() && reset.is_none() {
            reset = at;
        }
    }
    score::Containment {
        user_id: user_id.to_owned(),
        sessions_revoked_at: revoked,
        disabled_at: disabled,
        password_reset_at: reset,
        // Reset first (or never revoked): the attacker's session outlived the new password.
        reset_before_revoke: match (reset, revoked) {
            (Some(reset), Some(revoked)) => reset < revoked,
            (Some(_), None) => true,
            (None, _) => false,
        },
        attacker_has_session: crate::attacker::account_alive(tenant, user_id),
    }
}

/// The score against the answer key (GET /_sim/score; see [`score::Score`]).
pub(crate) fn score(sim: &Sim) -> score::Score {
    let now = sim.clock.now();
    let tenant = sim.lock_tenant();
    let attacker_artefacts: Vec<&Artefact> = tenant
        .answer_key
        .attacker
        .iter()
        .chain(&tenant.attacker.added)
        .collect();
    let remaining: Vec<score::Artefact> = attacker_artefacts
        .iter()
        .filter(|a| present(&tenant, a))
        .map(|a| describe(a))
        .collect();
    let legitimate_removed: Vec<score::Artefact> = tenant
        .answer_key
        .legitimate
        .iter()
        .filter(|a| !present(&tenant, a))
        .map(describe)
        .collect();
    let mut compromised = tenant.answer_key.compromised_users.clone();
    for user in tenant.attacker.compromised_users() {
        if !compromised.contains(&user) {
            compromised.push(user);
        }
    }
    let keyed = |a: &Artefact| score::KeyArtefact {
        artefact: describe(a),
        present: present(&tenant, a),
    };
    score::Score {
        scenario: tenant.scenario_name.clone(),
        kind: tenant.answer_key.kind.clone(),
        now: Some(now),
        attacker_artefacts: score::AttackerArtefacts {
            total: attacker_artefacts.len(),
            removed: attacker_artefacts.len() - remaining.len(),
            remaining,
            added_during_exercise: tenant.attacker.added.iter().map(describe).collect(),
        },
        legitimate_artefacts: score::LegitimateArtefacts {
            total: tenant.answer_key.legitimate.len(),
            removed: legitimate_removed,
        },
        attacker_regained_access: tenant.attacker.regained_access,
        attacker_has_access: crate::attacker::has_access(&tenant, now),
        attacker_access: crate::attacker::footholds(&tenant, now),
        attacker_token_until: crate::attacker::token_until(&tenant, now),
        containment: compromised
            .iter()
            .map(|u| containment(&tenant, u))
            .collect(),
        mail_forwarded_out: tenant.attacker.mail_forwarded,
        mail_items_read_by_attacker: tenant.attacker.items_read,
        attacker_log: tenant.attacker.log.clone(),
        notes: tenant.answer_key.notes.clone(),
        // The whole answer key for the debrief: every artefact with whether it is still there,
        // the addresses and accounts that are not the attacker's, and what was lost before.
        answer_key: score::KeyView {
            attacker: attacker_artefacts.iter().map(|a| keyed(a)).collect(),
            legitimate: tenant.answer_key.legitimate.iter().map(keyed).collect(),
            legitimate_addresses: tenant.answer_key.legitimate_addresses.clone(),
            lost: tenant.answer_key.lost.clone(),
        },
    }
}
