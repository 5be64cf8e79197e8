//! Commands of the blast-radius list: where each check stands, and "Run all checks" with
//! progress and cancel. A single check is planned and run like any step (`plan_step`, `run_step`).

use std::time::Duration;

use firebreak_core::{
    case::CaseId,
    procedure::{blast, checks, Env},
};
use firebreak_graph::CancellationToken;
use tauri::{ipc::Channel, AppHandle, Manager, State};

use crate::{ipc, practice::Practices, response, state::AppState, tenants::Tenants};

/// Where each of the fifteen checks of the `account`-th account stands.
#[tauri::command]
#[specta::specta]
pub fn blast_checks(
    state: State<'_, AppState>,
    practices: State<'_, Practices>,
    case_id: String,
    account: u32,
) -> Result<Vec<ipc::BlastCheck>, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let case = response::case_to_act_on(&practices, state.cases(), &id)?;
    Ok(blast::check_results(&case, &response::scope(account)?)
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Plans every open check of the `account`-th account at once, streaming progress, and records
/// those that need no decision; cancellable with `cancel_operation(operation_id)`.
#[tauri::command]
#[specta::specta]
pub async fn run_checks(
    app: AppHandle,
    case_id: String,
    account: u32,
    operation_id: String,
    on_progress: Channel<ipc::CheckProgress>,
) -> Result<ipc::ChecksRun, ipc::IpcError> {
    let id = CaseId::parse(&case_id)?;
    let state = app.state::<AppState>();
    let running = state.operations().begin(&operation_id)?;
    let session = response::for_case(
        &app.state::<Practices>(),
        &app.state::<Tenants>(),
        state.data_root(),
        state.cases(),
        &id,
    )
    .await?;
    let procedure = session.procedure(&id, account)?;
    let cancel = CancellationToken::new();
    // The operation registry's token is a flag; forward it to the client's token so requests
    // in flight stop too.
    let forward = {
        let (flag, cancel) = (running.token().clone(), cancel.clone());
        tauri::async_runtime::spawn(async move {
            while !flag.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            cancel.cancel();
        })
    };
    // The concurrent planning future is not provably `Send` (closures inside a stream), so it
    // runs to completion on a blocking thread of its own.
    let work = {
        let (session, cancel, id) = (session.clone(), cancel.clone(), id.clone());
        tauri::async_runtime::spawn_blocking(move || {
            let base = session.env();
            let client = base.tenant.with_cancellation(cancel.clone());
            let env = Env {
                tenant: &client,
                ..base
            };
            let report = |p: blast::CheckProgress| {
                let _ = on_progress.send(p.into());
            };
            tauri::async_runtime::block_on(checks::run_all(&procedure, &env, &id, &cancel, &report))
        })
    };
    let runs = work.await.map_err(ipc::IpcError::interrupted);
    forward.abort();
    let runs = runs??;
    let case = session.store().case(&id)?;
    Ok(ipc::ChecksRun {
        runs: runs.into_iter().map(Into::into).collect(),
        cancelled: cancel.is_cancelled(),
        checks: blast::check_results(&case, &response::scope(account)?)
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}
