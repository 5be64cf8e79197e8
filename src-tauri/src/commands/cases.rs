//! Commands of the case file: list, declare, read and edit cases, log notifications, export and
//! verify evidence bundles. Each unpacks its arguments and calls core.

use tauri::{ipc::Channel, State};

use firebreak_core::{
    bundle,
    case::{CaseId, ADMIN},
    tenant::{self, ProfileId},
};

use crate::{ipc, state::AppState};

/// Every case, most recent first.
#[tauri::command]
#[specta::specta]
pub fn list_cases(state: State<'_, AppState>) -> Result<Vec<ipc::CaseSummary>, ipc::IpcError> {
    Ok(state.cases().list()?.into_iter().map(Into::into).collect())
}

/// Declares an incident whose response acts on tenant profile `tenant_profile` (checked to
/// exist) and returns the new case.
#[tauri::command]
#[specta::specta]
pub fn declare_incident(
    state: State<'_, AppState>,
    details: ipc::CaseDetails,
    tenant_profile: String,
) -> Result<ipc::CaseView, ipc::IpcError> {
    let profile = tenant::get_profile(state.data_root(), &ProfileId::parse(&tenant_profile)?)?;
    Ok(state
        .cases()
        .declare_on(ADMIN, details.try_into()?, Some(profile.id))?
        .into())
}

/// One case with its journal, evidence, communication log and steps.
#[tauri::command]
#[specta::specta]
pub fn open_case(
    state: State<'_, AppState>,
    case_id: String,
) -> Result<ipc::CaseView, ipc::IpcError> {
    Ok(state.cases().case(&CaseId::parse(&case_id)?)?.into())
}

/// Replaces a case's details; returns how many fields changed (each is journaled).
#[tauri::command]
#[specta::specta]
pub fn update_case(
    state: State<'_, AppState>,
    case_id: String,
    details: ipc::CaseDetails,
) -> Result<u32, ipc::IpcError> {
    let changes =
        state
            .cases()
            .update_metadata(&CaseId::parse(&case_id)?, ADMIN, details.try_into()?)?;
    Ok(u32::try_from(changes.len()).unwrap_or(u32::MAX))
}

/// Logs that someone was told; returns the record with any warning about the channel.
#[tauri::command]
#[specta::specta]
pub fn log_notification(
    state: State<'_, AppState>,
    case_id: String,
    notification: ipc::NotificationInput,
) -> Result<ipc::CaseNotification, ipc::IpcError> {
    let record = state.cases().log_notification(
        &CaseId::parse(&case_id)?,
        ADMIN,
        notification.try_into()?,
    )?;
    Ok(record.into())
}

/// Sets an incomplete last journal entry aside, on the admin's explicit request.
#[tauri::command]
#[specta::specta]
pub fn recover_torn_entry(
    state: State<'_, AppState>,
    case_id: String,
) -> Result<ipc::CaseView, ipc::IpcError> {
    Ok(state
        .cases()
        .recover_torn_entry(&CaseId::parse(&case_id)?, ADMIN)?
        .into())
}

/// Writes the case's evidence bundle into the exports folder, streaming progress; cancellable
/// with `cancel_operation(operation_id)`.
#[tauri::command]
#[specta::specta]
pub async fn export_bundle(
    state: State<'_, AppState>,
    case_id: String,
    operation_id: String,
    on_progress: Channel<ipc::ByteProgress>,
) -> Result<ipc::BundleWritten, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let running = state.operations().begin(&operation_id)?;
    let store = state.cases().clone();
    let dest = bundle::default_destination(state.data_root(), &id, store.clock().now());
    let written = tauri::async_runtime::spawn_blocking(move || {
        let mut report = |p: bundle::Progress| {
            let _ = on_progress.send(p.into());
        };
        bundle::export(&store, &id, ADMIN, &dest, &mut report, running.token())
    })
    .await
    .map_err(ipc::IpcError::interrupted)??;
    Ok(written.into())
}

/// Checks a bundle file, streaming progress; cancellable with `cancel_operation(operation_id)`.
#[tauri::command]
#[specta::specta]
pub async fn verify_bundle(
    state: State<'_, AppState>,
    path: String,
    operation_id: String,
    on_progress: Channel<ipc::ByteProgress>,
) -> Result<ipc::BundleVerification, ipc::IpcError> {
    let running = state.operations().begin(&operation_id)?;
    let report = tauri::async_runtime::spawn_blocking(move || {
        let mut report = |p: bundle::Progress| {
            let _ = on_progress.send(p.into());
        };
        bundle::verify(path.as_ref(), &mut report, running.token())
    })
    .await
    .map_err(ipc::IpcError::interrupted)??;
    Ok(report.into())
}

/// Asks a running export or verification to stop. False when it had already ended.
#[tauri::command]
#[specta::specta]
pub fn cancel_operation(state: State<'_, AppState>, operation_id: String) -> bool {
    state.operations().cancel(&operation_id)
}
