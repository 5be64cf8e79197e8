//! Builds the Tauri context. The app manifest lists our own commands so that each must be granted
//! explicitly in `capabilities/`: a command that is not listed there cannot be called from the UI.

/// Every `#[tauri::command]` of the shell. Keep in step with `lib.rs`'s `collect_commands!`.
const COMMANDS: &[&str] = &[
    "app_info",
    "ui_ready",
    "list_cases",
    "declare_incident",
    "open_case",
    "update_case",
    "log_notification",
    "recover_torn_entry",
    "export_bundle",
    "verify_bundle",
    "cancel_operation",
    "communication_view",
    "save_case_contacts",
    "blast_checks",
    "run_checks",
    "get_organisation",
    "save_organisation",
    "save_runbook",
    "list_profiles",
    "create_profile",
    "update_profile",
    "delete_profile",
    "test_profile",
    "sign_in_with_device_code",
    "cancel_device_sign_in",
    "run_readiness",
    "export_certificate",
    "procedure_view",
    "plan_step",
    "run_step",
    "skip_step",
    "reverify_step",
    "list_scenarios",
    "start_practice",
    "start_generated_practice",
    "practice_debrief",
    "recovery_status",
    "recheck_watch",
    "open_linked_case",
    "close_case",
    "copy_temporary_access_pass",
    "report_preview",
    "save_lessons",
    "save_report",
    "open_report",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by panicking; the message is what cargo shows.
        panic!("tauri build step failed: {error:#}");
    }
}
