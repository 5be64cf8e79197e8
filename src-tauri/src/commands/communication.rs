//! Commands of the Communication panel: the contact cards with their wording, and the contacts
//! entered for a case. Logging a notification is `cases::log_notification`.

use tauri::State;

use firebreak_core::{
    case::{contacts::CaseContact, CaseId, CaseStore, ADMIN},
    communication, organisation,
};

use crate::{ipc, practice::Practices, state::AppState};

/// The store case `id` is journaled in: its practice session's (simulated time) or the app's.
fn store_for(practices: &Practices, cases: &CaseStore, id: &CaseId) -> CaseStore {
    practices
        .find(id)
        .map_or_else(|| cases.clone(), |s| s.responder().store().clone())
}

fn view(
    state: &AppState,
    store: &CaseStore,
    id: &CaseId,
) -> Result<ipc::CommunicationView, ipc::IpcError> {
    let case = store.case(id)?;
    let organisation = organisation::load(state.data_root())?;
    // The shell knows the admin's time zone; core only receives it.
    let panel =
        communication::communication(&case, &organisation, &chrono::Local, store.clock().now());
    Ok(panel.into())
}

/// Who to tell about case `case_id` and what to say to each, times in the admin's time zone.
#[tauri::command]
#[specta::specta]
pub fn communication_view(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
) -> Result<ipc::CommunicationView, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = store_for(&practices, state.cases(), &id);
    view(&state, &store, &id)
}

/// Replaces the contacts entered for the case (journaled) and returns the panel again.
#[tauri::command]
#[specta::specta]
pub fn save_case_contacts(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
    contacts: Vec<ipc::CaseContactInput>,
) -> Result<ipc::CommunicationView, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let store = store_for(&practices, state.cases(), &id);
    let contacts: Vec<CaseContact> = contacts.into_iter().map(Into::into).collect();
    store.set_contacts(&id, ADMIN, &contacts)?;
    view(&state, &store, &id)
}
