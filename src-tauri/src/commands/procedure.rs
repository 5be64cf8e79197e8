//! Commands of the containment wizard and the Practice section. Each unpacks its arguments, asks
//! [`crate::response`] for the case's tenant (its practice session, or the tenant profile chosen
//! at declaration) and calls one function of the procedure engine.

use chrono::{DateTime, Utc};
use tauri::{AppHandle, Manager, State};

use crate::{ipc, practice::Practices, response, state::AppState, tenants::Tenants};
use firebreak_core::{
    case::{CaseId, ADMIN},
    procedure::Confirmation,
};

/// Where every step of every account of the case stands.
#[tauri::command]
#[specta::specta]
pub fn procedure_view(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
) -> Result<Vec<ipc::AccountProcedure>, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let case = response::case_to_act_on(&practices, state.cases(), &id)?;
    Ok(response::view(&case).into_iter().map(Into::into).collect())
}

/// The responder of case `id`: its practice session or its tenant profile's connection. Takes
/// the app handle so the commands that reach the tenant keep to their own arguments.
async fn responder(
    app: &AppHandle,
    id: &CaseId,
) -> Result<std::sync::Arc<response::Responder>, ipc::IpcError> {
    let state = app.state::<AppState>();
    let practices = app.state::<Practices>();
    let tenants = app.state::<Tenants>();
    response::for_case(&practices, &tenants, state.data_root(), state.cases(), id).await
}

/// What step `key` of the `account`-th account would change, from a fresh read of the tenant.
#[tauri::command]
#[specta::specta]
pub async fn plan_step(
    app: AppHandle,
    case_id: String,
    account: u32,
    key: String,
) -> Result<ipc::StepPlan, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let session = responder(&app, &id).await?;
    let procedure = session.procedure(&id, account)?;
    Ok(procedure.plan(&session.env(), &id, &key).await?.into())
}

/// Runs step `key` on the `selected` plan rows, once the admin confirmed (and typed the account
/// name for destructive steps): evidence first, then the change, then the read-back. Triage takes
/// the admin's correction of the incident window start, if any; `note` is journaled with the step
/// (a manual blast-radius check's finding in the admin's words).
#[tauri::command]
#[specta::specta]
// A command's arguments are the names the webview sends; grouping them would only move the list.
#[allow(clippy::too_many_arguments)]
pub async fn run_step(
    app: AppHandle,
    case_id: String,
    account: u32,
    key: String,
    selected: Vec<String>,
    typed_account: Option<String>,
    window_start: Option<DateTime<Utc>>,
    note: Option<String>,
) -> Result<ipc::StepResult, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let session = responder(&app, &id).await?;
    let procedure = session.procedure(&id, account)?;
    let confirmation = Confirmation {
        selected,
        typed_account,
        window_start,
        note,
    };
    let mut outcome = procedure
        .run(&session.env(), &id, &key, &confirmation)
        .await?;
    // A Temporary Access Pass goes to the clipboard from here; the UI only learns that it did.
    let pass = outcome
        .handoff
        .take()
        .map(|h| app.state::<crate::handoff::Handoffs>().deliver(&id, h));
    Ok(ipc::StepResult {
        pass,
        ..outcome.into()
    })
}

/// Skips step `key` with the admin's reason (journaled).
#[tauri::command]
#[specta::specta]
pub fn skip_step(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
    account: u32,
    key: String,
    reason: String,
) -> Result<ipc::CaseStep, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = response::journal_for(&practices, state.cases(), &id)?;
    let procedure = response::procedure(&store, &id, account)?;
    Ok(procedure.skip(&store, ADMIN, &id, &key, &reason)?.into())
}

/// Reads the tenant back for an interrupted or failed step and records what it found.
#[tauri::command]
#[specta::specta]
pub async fn reverify_step(
    app: AppHandle,
    case_id: String,
    account: u32,
    key: String,
) -> Result<ipc::StepResult, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let session = responder(&app, &id).await?;
    let procedure = session.procedure(&id, account)?;
    Ok(procedure.reverify(&session.env(), &id, &key).await?.into())
}

/// The shipped practice scenarios.
#[tauri::command]
#[specta::specta]
pub fn list_scenarios() -> Vec<ipc::PracticeScenario> {
    crate::practice::scenarios()
        .into_iter()
        .map(Into::into)
        .collect()
}

/// Starts a scenario in a fresh training tenant and opens its case.
#[tauri::command]
#[specta::specta]
pub async fn start_practice(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    scenario: String,
) -> Result<ipc::CaseView, ipc::IpcError> {
    Ok(practices.start(state.cases(), &scenario).await?.into())
}

/// Generates an incident from `seed` (a random one when none is given) at `size`, starts it in a
/// fresh training tenant and opens its case; returns the seed so the admin can replay it.
#[tauri::command]
#[specta::specta]
pub async fn start_generated_practice(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    seed: Option<u32>,
    size: ipc::IncidentSize,
) -> Result<ipc::GeneratedPractice, ipc::IpcError> {
    let seed = seed.unwrap_or_else(crate::practice::random_seed);
    let started = practices
        .start_generated(state.cases(), seed, size.into())
        .await?;
    Ok(started.into())
}

/// The simulator's score and what the attacker did (lets three simulated hours pass once).
#[tauri::command]
#[specta::specta]
pub fn practice_debrief(
    practices: State<'_, Practices>,
    case_id: String,
) -> Result<ipc::PracticeDebrief, ipc::IpcError> {
    let session = practices.session(&CaseId::parse(&case_id)?)?;
    let (score, attacker) = session.debrief();
    Ok(ipc::PracticeDebrief::new(
        session.tenant_url(),
        &score,
        &attacker,
        session.generated().map(Into::into),
    ))
}
