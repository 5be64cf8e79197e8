//! The commands the UI may call. Each unpacks its arguments, calls one core function and maps the
//! error; anything more belongs in `firebreak-core`.

use tauri::State;

use crate::{ipc, state::AppState};

pub mod cases;
pub mod checks;
pub mod communication;
pub mod organisation;
pub mod procedure;
pub mod recovery;
pub mod report;
pub mod startup;
pub mod tenants;

/// Version, data folder and whether a tenant is configured.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> Result<ipc::AppInfo, ipc::IpcError> {
    let info = firebreak_core::app_info::gather(state.data_root(), env!("CARGO_PKG_VERSION"))?;
    Ok(info.into())
}
