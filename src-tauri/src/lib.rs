//! The Tauri shell of Firebreak: the window, the commands the UI may call, and the state they use.
//!
//! It is deliberately thin. A command unpacks its arguments, calls one function of
//! `firebreak-core` and maps the error; there is no HTTP and no business logic here. The TypeScript
//! bindings in `ui/src/lib/bindings.ts` are generated from [`specta_builder`] and committed.

mod cli;
mod commands;
mod handoff;
mod ipc;
mod logging;
mod operations;
mod practice;
mod response;
mod startup;
mod state;
mod tenants;
mod watch;

use std::process::ExitCode;

use specta_typescript::Typescript;
use tauri::Manager;

pub use ipc::{IpcError, IpcErrorKind};

/// Where the generated bindings live, relative to this crate.
pub const BINDINGS_PATH: &str = "../ui/src/lib/bindings.ts";

/// The typed command surface shared by the running application and the bindings generator.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            commands::app_info,
            commands::startup::ui_ready,
            commands::cases::list_cases,
            commands::cases::declare_incident,
            commands::cases::open_case,
            commands::cases::update_case,
            commands::cases::log_notification,
            commands::cases::recover_torn_entry,
            commands::cases::export_bundle,
            commands::cases::verify_bundle,
            commands::cases::cancel_operation,
            commands::communication::communication_view,
            commands::communication::save_case_contacts,
            commands::checks::blast_checks,
            commands::checks::run_checks,
            commands::organisation::get_organisation,
            commands::organisation::save_organisation,
            commands::organisation::save_runbook,
            commands::tenants::list_profiles,
            commands::tenants::create_profile,
            commands::tenants::update_profile,
            commands::tenants::delete_profile,
            commands::tenants::test_profile,
            commands::tenants::sign_in_with_device_code,
            commands::tenants::cancel_device_sign_in,
            commands::tenants::run_readiness,
            commands::tenants::export_certificate,
            commands::procedure::procedure_view,
            commands::procedure::plan_step,
            commands::procedure::run_step,
            commands::procedure::skip_step,
            commands::procedure::reverify_step,
            commands::procedure::list_scenarios,
            commands::procedure::start_practice,
            commands::procedure::start_generated_practice,
            commands::procedure::practice_debrief,
            commands::recovery::recovery_status,
            commands::recovery::recheck_watch,
            commands::recovery::open_linked_case,
            commands::recovery::close_case,
            commands::recovery::copy_temporary_access_pass,
            commands::report::report_preview,
            commands::report::save_lessons,
            commands::report::save_report,
            commands::report::open_report,
        ])
        .error_handling(tauri_specta::ErrorHandlingMode::Result)
}

/// The TypeScript exporter configured the way the committed bindings were written.
pub fn typescript() -> Typescript {
    Typescript::default().header(
        "// Generated from the Rust commands by tauri-specta. Do not edit: run `make bindings`.\n",
    )
}

/// Runs the application and returns the process exit code.
pub fn main() -> ExitCode {
    let launched = std::time::Instant::now();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // Sub-commands such as `verify` run before any window or GTK exists.
    if let Some(code) = cli::run(&args) {
        return code;
    }
    let options = match state::LaunchOptions::from_env() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("firebreak: {message}");
            return ExitCode::from(2);
        }
    };
    let builder = specta_builder();
    let result = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            let data_dir = match &options.data_dir {
                Some(dir) => dir.clone(),
                None => app.path().app_data_dir()?,
            };
            let log_dir = match &options.data_dir {
                Some(dir) => dir.join("logs"),
                None => app.path().app_log_dir()?,
            };
            logging::init(&log_dir)?;
            log::info!(
                "Firebreak {} starting; data in {}",
                env!("CARGO_PKG_VERSION"),
                data_dir.display()
            );
            let state = state::AppState::open(&data_dir)?;
            app.manage(state);
            // The training tenant's simulator starts on first use, not here.
            app.manage(tenants::Tenants::new(
                firebreak_core::vault::Vault::new(),
                std::sync::Arc::new(firebreak_graph::SystemClock),
                tenants::DEFAULT_SCENARIO,
            ));
            app.manage(practice::Practices::default());
            app.manage(startup::Startup::new(launched, options.bench_startup));
            app.manage(handoff::Handoffs::default());
            let watcher = watch::Watcher::with_desktop_notifications();
            watcher.spawn(app.handle().clone());
            app.manage(watcher);
            builder.mount_events(app);
            Ok(())
        })
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("firebreak: the application could not start: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The committed bindings must match what the Rust commands generate; otherwise the UI is typed
    /// against commands that no longer exist. `make bindings` regenerates them.
    #[test]
    fn committed_bindings_match_the_rust_commands() {
        let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join(BINDINGS_PATH);
        let tmp = tempfile::tempdir().expect("temp dir");
        let fresh_path = tmp.path().join("bindings.ts");
        specta_builder()
            .export(typescript(), &fresh_path)
            .expect("export bindings");
        let fresh = std::fs::read_to_string(&fresh_path).expect("read fresh bindings");

        if std::env::var_os("FIREBREAK_WRITE_BINDINGS").is_some() {
            std::fs::write(&committed_path, &fresh).expect("write bindings");
            return;
        }
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/lib/bindings.ts is stale: a command's signature changed without regenerating the \
             bindings. Run `make bindings` and commit the result."
        );
    }
}
