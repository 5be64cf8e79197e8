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
