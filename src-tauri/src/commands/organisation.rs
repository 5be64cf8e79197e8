//! Commands of the organisation settings and the printable runbook.

use tauri::State;

use firebreak_core::{organisation, report::runbook};

use crate::{ipc, state::AppState};

/// The organisation's details (empty when never configured).
#[tauri::command]
#[specta::specta]
pub fn get_organisation(state: State<'_, AppState>) -> Result<ipc::Organisation, ipc::IpcError> {
    Ok(organisation::load(state.data_root())?.into())
}

/// Validates and saves the organisation's details; returns what was stored.
#[tauri::command]
#[specta::specta]
pub fn save_organisation(
    state: State<'_, AppState>,
    organisation: ipc::Organisation,
) -> Result<ipc::Organisation, ipc::IpcError> {
    Ok(organisation::save(state.data_root(), &organisation.into())?.into())
}

/// Writes the one-page runbook into the data folder's `reports/` and returns its path. The path is
/// chosen here, never by the webview.
#[tauri::command]
#[specta::specta]
pub fn save_runbook(
    state: State<'_, AppState>,
    paper: Option<ipc::Paper>,
) -> Result<ipc::SavedDocument, ipc::IpcError> {
    // The shell reads the clock; core only receives the time.
    let now = chrono::Local::now().fixed_offset();
    let path = runbook::save_in_reports(state.data_root(), paper.map(Into::into), now)?;
    Ok(ipc::SavedDocument {
        path: path.display().to_string(),
    })
}
