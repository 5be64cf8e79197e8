//! The UI's report that its home screen is mounted (see `crate::startup`).

use std::io::Write;
use std::time::Duration;

use tauri::{AppHandle, State};

use crate::{ipc, startup::Startup};

/// Records that the home screen is mounted; under `--bench-startup` prints the time since launch
/// and exits shortly after (leaving a benchmark time to read the process tree's memory).
#[tauri::command]
#[specta::specta]
pub fn ui_ready(app: AppHandle, startup: State<'_, Startup>) -> Result<(), ipc::IpcError> {
    let Some(elapsed) = startup.ui_ready() else {
        return Ok(());
    };
    log::info!("UI ready {} ms after launch", elapsed.as_millis());
    if startup.bench() {
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "{} ms={:.1}",
            crate::startup::READY_LINE,
            elapsed.as_secs_f64() * 1000.0
        );
        let _ = out.flush();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            app.exit(0);
        });
    }
    Ok(())
}
