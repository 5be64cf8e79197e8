//! What crosses the IPC boundary: wire types converted from core types, and the one error type
//! every command returns.

use serde::Serialize;
use specta::Type;

mod cases;
mod checks;
mod communication;
mod organisation;
mod procedure;
mod recovery;
mod report;
mod tenants;
pub use cases::*;
pub use checks::*;
pub use communication::*;
pub use organisation::*;
pub use procedure::*;
pub use recovery::*;
pub use report::*;
pub use tenants::*;

/// Facts about this installation, as the home screen shows them.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    /// The application's version.
    pub version: String,
    /// The folder where cases, settings and logs are kept.
    pub data_dir: String,
    /// Whether a real tenant is configured; without one the training tenant is used.
    pub tenant_configured: bool,
}

impl From<firebreak_core::app_info::AppInfo> for AppInfo {
    fn from(info: firebreak_core::app_info::AppInfo) -> Self {
        Self {
            version: info.version,
            data_dir: info.data_dir,
            tenant_configured: info.tenant_configured,
        }
    }
}

/// The kinds of failure the UI treats differently. Add a kind only when the UI branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum IpcErrorKind {
    /// Reading or writing Firebreak's own files failed.
    Storage,
    /// What the admin entered was refused; the message says which field and why.
    Invalid,
    /// The admin cancelled a long operation.
    Cancelled,
    /// A delegated profile needs a device-code sign-in in this run before it can be used.
    SignInRequired,
    /// Anything else; the message says what happened and what to do.
    Failed,
}

/// The error every command returns: a kind for the UI to branch on and a message for the admin.
#[derive(Debug, Clone, Serialize, Type, thiserror::Error)]
#[error("{message}")]
pub struct IpcError {
    /// What kind of failure this is.
    pub kind: IpcErrorKind,
    /// What failed and what to do next, in the admin's words.
    pub message: String,
}

impl From<firebreak_core::Error> for IpcError {
    fn from(error: firebreak_core::Error) -> Self {
        let kind = match &error {
            firebreak_core::Error::Io { .. } | firebreak_core::Error::Corrupt { .. } => {
                IpcErrorKind::Storage
            }
            firebreak_core::Error::InvalidInput { .. }
            | firebreak_core::Error::InvalidProfile { .. } => IpcErrorKind::Invalid,
            firebreak_core::Error::Cancelled => IpcErrorKind::Cancelled,
            firebreak_core::Error::Tenant(e)
                if matches!(**e, firebreak_graph::Error::Cancelled) =>
            {
                IpcErrorKind::Cancelled
            }
            _ => IpcErrorKind::Failed,
        };
        log::warn!("command failed: {error}");
        Self {
            kind,
            message: error.to_string(),
        }
    }
}
