//! The state the commands share, built completely before the window opens.

use std::{ffi::OsString, path::PathBuf, sync::Arc};

use firebreak_core::{case::CaseStore, clock::SystemClock, paths::DataRoot};

use crate::operations::Operations;

/// How this run was asked to start, from the command line and the environment.
#[derive(Debug, Default)]
pub struct LaunchOptions {
    /// A data directory chosen with `--data-dir PATH` or `FIREBREAK_DATA_DIR`, instead of the
    /// platform's application data folder. Tests give every run a fresh one.
    pub data_dir: Option<PathBuf>,
    /// `--bench-startup` or `FIREBREAK_BENCH_STARTUP=1`: print the time to the UI's first ready
    /// report and exit (`make bench`).
    pub bench_startup: bool,
}

impl LaunchOptions {
    /// Reads the options from the process arguments and environment.
    pub fn from_env() -> Result<Self, String> {
        let mut options = Self::parse(
            std::env::args_os().skip(1),
            std::env::var_os("FIREBREAK_DATA_DIR"),
        )?;
        options.bench_startup |=
            std::env::var_os("FIREBREAK_BENCH_STARTUP").is_some_and(|v| v == "1");
        Ok(options)
    }

    fn parse(
        mut args: impl Iterator<Item = OsString>,
        env_data_dir: Option<OsString>,
    ) -> Result<Self, String> {
        let mut options = Self {
            data_dir: env_data_dir.filter(|d| !d.is_empty()).map(PathBuf::from),
            bench_startup: false,
        };
        while let Some(arg) = args.next() {
            match arg.to_str() {
                Some("--data-dir") => {
                    let dir = args
                        .next()
                        .ok_or("--data-dir needs a folder, e.g. --data-dir /tmp/firebreak")?;
                    options.data_dir = Some(PathBuf::from(dir));
                }
                Some("--bench-startup") => options.bench_startup = true,
                _ => {
                    return Err(format!(
                        "unknown argument {:?}. Usage: firebreak [--data-dir FOLDER], or firebreak verify BUNDLE.zip",
                        arg
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// Everything the commands need, shared by reference through Tauri's managed state.
#[derive(Debug, Clone)]
pub struct AppState {
    data_root: DataRoot,
    cases: CaseStore,
    operations: Operations,
}

impl AppState {
    /// Opens (and creates if needed) the data directory.
    pub fn open(data_dir: &std::path::Path) -> Result<Self, firebreak_core::Error> {
        let data_root = DataRoot::open(data_dir)?;
        Ok(Self {
            cases: CaseStore::new(&data_root, Arc::new(SystemClock))?,
            operations: Operations::default(),
            data_root,
        })
    }

    /// The data directory and its layout.
    pub fn data_root(&self) -> &DataRoot {
        &self.data_root
    }

    /// The cases in the data directory.
    pub fn cases(&self) -> &CaseStore {
        &self.cases
    }

    /// Long operations the UI may cancel.
    pub fn operations(&self) -> &Operations {
        &self.operations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = OsString> {
        list.iter()
            .map(OsString::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn data_dir_comes_from_the_argument_over_the_environment() {
        let options = LaunchOptions::parse(args(&["--data-dir", "/a"]), Some("/b".into()))
            .expect("valid arguments");
        assert_eq!(options.data_dir, Some(PathBuf::from("/a")));
        let options = LaunchOptions::parse(args(&[]), Some("/b".into())).expect("no arguments");
        assert_eq!(options.data_dir, Some(PathBuf::from("/b")));
    }

    #[test]
    fn bench_startup_is_a_flag() {
        let options = LaunchOptions::parse(args(&["--bench-startup"]), None).expect("valid flag");
        assert!(options.bench_startup);
        let plain = LaunchOptions::parse(args(&[]), None).expect("no arguments");
        assert!(!plain.bench_startup, "off unless asked for");
    }

    #[test]
    fn unknown_arguments_are_refused_with_usage() {
        let err = LaunchOptions::parse(args(&["--frobnicate"]), None).expect_err("unknown arg");
        assert!(err.contains("Usage"), "{err}");
        let err = LaunchOptions::parse(args(&["--data-dir"]), None).expect_err("missing value");
        assert!(err.contains("needs a folder"), "{err}");
    }
}
