//! Commands of tenant profiles, sign-in and the readiness check. Each unpacks its arguments, asks
//! [`Tenants`] how to sign in where it must, calls core and maps the error.

use tauri::{ipc::Channel, State};

use firebreak_core::{
    readiness,
    tenant::{self, ProfileId},
};

use crate::{ipc, state::AppState, tenants::Tenants};

/// Every profile, the training tenant first, whether each holds a sign-in of this run, and the
/// default one.
#[tauri::command]
#[specta::specta]
pub fn list_profiles(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
) -> Result<ipc::TenantProfiles, ipc::IpcError> {
    let root = state.data_root();
    let to_wire = |p: tenant::TenantProfile| {
        let signed_in = tenants.has_session(&p.id);
        ipc::TenantProfile {
            signed_in,
            ..p.into()
        }
    };
    Ok(ipc::TenantProfiles {
        profiles: tenant::list_profiles(root)?
            .into_iter()
            .map(to_wire)
            .collect(),
        default_id: tenant::default_profile(root)?.id.to_string(),
    })
}

/// Creates a profile; its credential goes straight to the keychain and never comes back.
#[tauri::command]
#[specta::specta]
pub fn create_profile(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    draft: ipc::ProfileDraft,
    credential: ipc::CredentialInput,
) -> Result<ipc::TenantProfile, ipc::IpcError> {
    let now = chrono::Utc::now();
    let (draft, credential) = (draft.into(), credential.into());
    let profile =
        tenant::create_profile(state.data_root(), tenants.vault(), draft, credential, now)?;
    Ok(profile.into())
}

/// Edits a profile; a credential other than `keep` replaces the stored one. Ends its session.
#[tauri::command]
#[specta::specta]
pub fn update_profile(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    profile_id: String,
    draft: ipc::ProfileDraft,
    credential: ipc::CredentialInput,
) -> Result<ipc::TenantProfile, ipc::IpcError> {
    let id = ProfileId::parse(&profile_id)?;
    tenants.forget(&id);
    let (root, vault, now) = (state.data_root(), tenants.vault(), chrono::Utc::now());
    let profile = tenant::update_profile(root, vault, &id, draft.into(), credential.into(), now)?;
    Ok(profile.into())
}

/// Deletes a profile and its secrets.
#[tauri::command]
#[specta::specta]
pub fn delete_profile(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    profile_id: String,
) -> Result<(), ipc::IpcError> {
    let id = ProfileId::parse(&profile_id)?;
    tenants.forget(&id);
    Ok(tenant::delete_profile(
        state.data_root(),
        tenants.vault(),
        &id,
    )?)
}

/// Asks Entra for a Graph and an Exchange token with the profile's sign-in.
#[tauri::command]
#[specta::specta]
pub async fn test_profile(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    profile_id: String,
) -> Result<ipc::ConnectionTest, ipc::IpcError> {
    let (root, id) = (state.data_root(), ProfileId::parse(&profile_id)?);
    let sign_in = tenants.sign_in(root, &id).await?;
    Ok(tenant::test_profile(root, &id, sign_in, tenants.clock())
        .await?
        .into())
}

/// Signs the admin in to a delegated profile with a device code: the code and where to enter it
/// arrive on `on_prompt`; the command returns once the sign-in is complete (tokens stay in Rust).
#[tauri::command]
#[specta::specta]
pub async fn sign_in_with_device_code(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    profile_id: String,
    on_prompt: Channel<ipc::DeviceCodePrompt>,
) -> Result<(), ipc::IpcError> {
    let id = ProfileId::parse(&profile_id)?;
    let show = |prompt: &firebreak_graph::DeviceCodePrompt| {
        let _ = on_prompt.send(prompt.into());
    };
    tenants
        .sign_in_with_device_code(state.data_root(), &id, show)
        .await
}

/// Stops a device-code sign-in that is waiting. False when none was.
#[tauri::command]
#[specta::specta]
pub fn cancel_device_sign_in(
    tenants: State<'_, Tenants>,
    profile_id: String,
) -> Result<bool, ipc::IpcError> {
    Ok(tenants.cancel_device_sign_in(&ProfileId::parse(&profile_id)?))
}

/// Runs the readiness check against the profile's tenant.
#[tauri::command]
#[specta::specta]
pub async fn run_readiness(
    state: State<'_, AppState>,
    tenants: State<'_, Tenants>,
    profile_id: String,
) -> Result<ipc::ReadinessReport, ipc::IpcError> {
    let (root, id, now) = (
        state.data_root(),
        ProfileId::parse(&profile_id)?,
        chrono::Utc::now(),
    );
    let sign_in = tenants.sign_in(root, &id).await?;
    let report = readiness::check_readiness(root, &id, sign_in, tenants.clock(), now).await?;
    Ok(report.into())
}

/// Writes the profile's public certificate as a `.cer` file into the data folder and returns its
/// path, for upload to the app registration. The path is chosen here, never by the webview.
#[tauri::command]
#[specta::specta]
pub fn export_certificate(
    state: State<'_, AppState>,
    profile_id: String,
) -> Result<ipc::SavedDocument, ipc::IpcError> {
    let path = tenant::export_certificate(state.data_root(), &ProfileId::parse(&profile_id)?)?;
    Ok(ipc::SavedDocument {
        path: path.display().to_string(),
    })
}
