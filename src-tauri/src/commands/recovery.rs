//! Commands of recovery, the watch window, the sideways sweep's linked cases and case closing.
//! The recovery steps themselves run through the wizard's `plan_step` / `run_step` (keys `enable`,
//! `tap`, `password`, `watch`; the sweep is the blast-radius step `sweep`).

use firebreak_core::{
    case::{CaseId, ADMIN},
    procedure::recover,
    sweep,
};
use firebreak_graph::Client;
use tauri::{AppHandle, Manager, State};

use crate::{
    handoff::Handoffs, ipc, practice::Practices, response, state::AppState, tenants::Tenants,
    watch::Watcher,
};

/// Where recovery, the watch window, the linked cases and the case's closing stand.
#[tauri::command]
#[specta::specta]
pub fn recovery_status(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    watcher: State<'_, Watcher>,
    case_id: String,
) -> Result<ipc::RecoveryStatus, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = response::journal_for(&practices, state.cases(), &id)?;
    let case = store.case(&id)?;
    Ok(ipc::RecoveryStatus::of(
        &case,
        store.clock().now(),
        watcher.last_checked(&id),
    ))
}

/// Re-checks the case's watched accounts now; new alerts are journaled and notified.
#[tauri::command]
#[specta::specta]
pub async fn recheck_watch(
    app: AppHandle,
    case_id: String,
) -> Result<ipc::RecheckResult, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let state = app.state::<AppState>();
    let responder = response::for_case(
        &app.state::<Practices>(),
        &app.state::<Tenants>(),
        state.data_root(),
        state.cases(),
        &id,
    )
    .await?;
    let watcher = app.state::<Watcher>();
    Ok(watcher.check_now(&responder, &id).await?.into())
}

/// Opens a sideways-sweep hit of the `account`-th account as a new case linked to this one.
#[tauri::command]
#[specta::specta]
pub fn open_linked_case(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
    account: u32,
    hit_account: String,
) -> Result<ipc::CaseView, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = response::journal_for(&practices, state.cases(), &id)?;
    let opened =
        sweep::open_linked_case(&store, ADMIN, &id, &response::scope(account)?, &hit_account)?;
    // A practice case's linked case is worked on the same training tenant.
    practices.share(&id, &opened.id);
    Ok(opened.into())
}

/// Closes the case with the admin's summary; refused while a blast-radius check is open. Ends
/// the watch window.
#[tauri::command]
#[specta::specta]
pub fn close_case(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
    summary: String,
) -> Result<ipc::CaseClosure, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = response::journal_for(&practices, state.cases(), &id)?;
    let closed = recover::close_case::<Client>(&store, ADMIN, &id, &summary)?;
    closed.closed.map(Into::into).ok_or_else(|| ipc::IpcError {
        kind: ipc::IpcErrorKind::Failed,
        message: "The case was closed but its closing entry could not be read back. Open the case again to see its journal.".into(),
    })
}

/// Puts the case's Temporary Access Pass on the clipboard again (cleared after 60 seconds).
#[tauri::command]
#[specta::specta]
pub fn copy_temporary_access_pass(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    handoffs: State<'_, Handoffs>,
    case_id: String,
) -> Result<ipc::PassNotice, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = response::journal_for(&practices, state.cases(), &id)?;
    handoffs.copy_again(&id, store.clock().now())
}
