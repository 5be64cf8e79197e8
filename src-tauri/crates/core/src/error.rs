//! The one error type of `firebreak-core`.

use std::path::PathBuf;

/// What can go wrong in the core. Each message says what failed and what the admin can do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder under the data directory could not be read or written.
    #[error("could not {action} {path}: {source}. Check that the disk is not full and that Firebreak may write there.")]
    Io {
        /// What we were doing, in plain words ("read", "create the folder").
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A settings file exists but is not what Firebreak wrote.
    #[error("{path} is damaged ({detail}). Move it aside and Firebreak will start with defaults.")]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// The parser's explanation.
        detail: String,
    },
    /// Something the admin typed cannot be accepted as it is.
    #[error("{problem}")]
    InvalidInput {
        /// The field concerned, as the form names it (`accounts`, `detectedAt`, ...).
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// No case has this id in the data folder.
    #[error("There is no case {id} in the data folder. Go back to the case list and pick one from there.")]
    CaseNotFound {
        /// The id asked for.
        id: String,
    },
    /// The case's journal is damaged or incomplete, so nothing more may be recorded in it.
    #[error("Case {id} is read-only: {reason}")]
    CaseReadOnly {
        /// The case.
        id: String,
        /// What is wrong with its journal and what the admin can do.
        reason: String,
    },
    /// A case file Firebreak wrote itself cannot be read back.
    #[error("{path} cannot be read ({detail}). Do not edit files in the case folder; export the evidence bundle and keep the folder as it is.")]
    CaseFileDamaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A procedure step cannot start in its current state.
    #[error("{message}")]
    StepRefused {
        /// The step id.
        step: String,
        /// Why, and what to do first.
        message: String,
    },
    /// The admin cancelled a long operation; nothing was left behind.
    #[error("Cancelled. Nothing was written.")]
    Cancelled,
    /// A file given as an evidence bundle is not one.
    #[error("{path} is not a Firebreak evidence bundle ({detail}).")]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// Why it was not recognised.
        detail: String,
    },
    /// A PDF or export could not be produced. This is a fault in Firebreak, not in the input.
    #[error("The document could not be produced: {detail}. This is a fault in Firebreak: please report it with the log file.")]
    ReportFailed {
        /// What went wrong.
        detail: String,
    },
    /// The operating system's keychain refused to store, read or delete a secret.
    #[error("The keychain could not {action} the secret ({detail}). Unlock the keychain (on Linux, the login keyring of the Secret Service) and try again.")]
    Keychain {
        /// What was attempted.
        action: &'static str,
        /// The platform's explanation (never the secret).
        detail: String,
    },
    /// No tenant profile has this id.
    #[error("There is no tenant profile {id}. Open Settings and pick one from the list.")]
    ProfileNotFound {
        /// The id asked for.
        id: String,
    },
    /// A tenant profile cannot be saved as it is.
    #[error("{problem}")]
    InvalidProfile {
        /// The form field concerned (`tenant`, `clientId`, ...).
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// Talking to the tenant failed (the message names the permission, licence or fix).
    #[error(transparent)]
    Tenant(Box<firebreak_graph::Error>),
}

impl From<firebreak_graph::Error> for Error {
    fn from(e: firebreak_graph::Error) -> Self {
        Self::Tenant(Box::new(e))
    }
}

impl Error {
    /// Wraps an I/O error with the action and path it concerned.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
