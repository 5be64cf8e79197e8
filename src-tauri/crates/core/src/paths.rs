//! Where Firebreak keeps its files: one data root, chosen by the shell and passed in.
//!
//! Nothing below this module decides a location on its own; tests hand in a temporary folder.

use std::path::{Path, PathBuf};

use crate::Error;

/// The application's data directory and the fixed layout beneath it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRoot {
    root: PathBuf,
}

impl DataRoot {
    /// Uses `root` as the data directory, creating it if it does not exist.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, Error> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| Error::io("create the folder", &root, e))?;
        Ok(Self { root })
    }

    /// The data directory itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The file holding the configured tenant profiles.
    pub fn tenants_file(&self) -> PathBuf {
        self.root.join("tenants.json")
    }

    /// The folder holding one sub-folder per case.
    pub fn cases_dir(&self) -> PathBuf {
        self.root.join("cases")
    }

    /// The file holding the organisation's details for the runbook and reports (no secrets).
    pub fn organisation_file(&self) -> PathBuf {
        self.root.join("organisation.json")
    }

    /// The folder where exported public app certificates (`.cer`) are written for upload.
    pub fn certificates_dir(&self) -> PathBuf {
        self.root.join("certificates")
    }

    /// The folder where the application saves reports and runbooks it was asked to write.
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("reports")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_the_folder_and_lays_out_files_beneath_it() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = DataRoot::open(tmp.path().join("nested/data")).expect("open data root");
        assert!(root.path().is_dir(), "the data root must exist after open");
        assert!(root.tenants_file().starts_with(root.path()));
        assert!(root.cases_dir().starts_with(root.path()));
    }
}
