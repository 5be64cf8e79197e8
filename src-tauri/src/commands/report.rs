//! Commands of the incident report: the first-page preview, the lessons-learned fields, saving
//! the report and its timeline into the exports folder, and opening a saved file in the system's
//! viewer (where the admin also prints it). Each unpacks its arguments and calls core.

use tauri::State;

use firebreak_core::{
    case::{CaseId, ADMIN},
    report::case as report,
};

use crate::{ipc, state::AppState};

/// The report's first page (drawn from the same layout as the PDF) and the lessons learned.
#[tauri::command]
#[specta::specta]
pub async fn report_preview(
    state: State<'_, AppState>,
    case_id: String,
) -> Result<ipc::ReportPreview, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = state.cases().clone();
    // The shell reads the clock (with the local offset the report prints); core only receives it.
    let now = chrono::Local::now().fixed_offset();
    let view = tauri::async_runtime::spawn_blocking(move || report::preview(&store, &id, now))
        .await
        .map_err(ipc::IpcError::interrupted)??;
    Ok(view.into())
}

/// Journals the lessons-learned fields; false when nothing changed.
#[tauri::command]
#[specta::specta]
pub fn save_lessons(
    state: State<'_, AppState>,
    case_id: String,
    lessons: ipc::Lessons,
) -> Result<bool, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    Ok(report::record_lessons(
        state.cases(),
        &id,
        ADMIN,
        &lessons.into(),
    )?)
}

/// Saves the report PDF and the timeline (CSV, JSON lines) into the data folder's `exports/`.
/// The file names are chosen here from the case id and the time, never by the webview.
#[tauri::command]
#[specta::specta]
pub async fn save_report(
    state: State<'_, AppState>,
    case_id: String,
) -> Result<ipc::SavedReportFiles, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = state.cases().clone();
    let now = chrono::Local::now().fixed_offset();
    let saved =
        tauri::async_runtime::spawn_blocking(move || report::save_in_exports(&store, &id, now))
            .await
            .map_err(ipc::IpcError::interrupted)??;
    Ok(saved.into())
}

/// Opens a report Firebreak saved in its exports folder with the system's default viewer; any
/// other path is refused.
#[tauri::command]
#[specta::specta]
pub fn open_report(state: State<'_, AppState>, path: String) -> Result<(), ipc::IpcError> {
    let file = report::saved_file(state.data_root(), path.as_ref())?;
    tauri_plugin_opener::open_path(&file, None::<&str>).map_err(|e| ipc::IpcError {
        kind: ipc::IpcErrorKind::Failed,
        message: format!(
            "The report could not be opened in the system's viewer ({e}). Open {} yourself.",
            file.display()
        ),
    })
}
