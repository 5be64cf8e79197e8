//! Writing files so that a crash leaves either the old content or the new, never a mix:
//! temporary file in the same folder, `fsync`, rename, `fsync` of the folder.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
};

use crate::Error;

/// A temporary file that is deleted when dropped unless [`TempFile::persist`] moved it into place.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    /// Creates an empty hidden temporary file in `dir`, with a random name that no real file of
    /// Firebreak's ever has (`.tmp-<hex>`).
    pub fn create_in(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(format!("{TEMP_PREFIX}{}", random_hex(8)?));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create a temporary file", &path, e))?;
        Ok(Self {
            path,
            file,
            persisted: false,
        })
    }

    /// The open file, for writing.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// Where the temporary file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the content to the disk, renames it to `target` and flushes the folder.
    /// With `overwrite` false, an existing `target` is an error and is left untouched.
    pub fn persist(mut self, target: &Path, overwrite: bool) -> Result<(), Error> {
        self.file
            .flush()
            .and_then(|()| self.file.sync_all())
            .map_err(|e| Error::io("flush to the disk", &self.path, e))?;
        if !overwrite && target.exists() {
            return Err(Error::io(
                "write",
                target,
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        std::fs::rename(&self.path, target).map_err(|e| Error::io("move into place", target, e))?;
        self.persisted = true;
        if let Some(dir) = target.parent() {
            sync_dir(dir)?;
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Names of temporary files start with this; they are never evidence and never bundled.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Replaces `target` with `bytes` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let mut temp = TempFile::create_in(dir)?;
    temp.file()
        .write_all(bytes)
        .map_err(|e| Error::io("write", target, e))?;
    temp.persist(target, true)
}

/// Flushes a folder's entries (new names, renames) to the disk. A no-op where the platform
/// cannot open folders as files.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("flush the folder to the disk", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `bytes` random bytes from the operating system, as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String, Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| {
        Error::io(
            "draw random bytes for a file name",
            PathBuf::new(),
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(hex::encode(buf))
}
