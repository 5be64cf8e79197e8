//! The one error type of the simulator's library API.

/// What went wrong while loading a scenario or starting the simulated tenant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No shipped scenario has this name.
    #[error(
        "there is no built-in scenario named '{name}'; run `firebreak-sim scenarios` to list them"
    )]
    UnknownScenario {
        /// The name that was asked for.
        name: String,
    },
    /// A scenario file could not be read from disk.
    #[error(
        "could not read the scenario file {path}: {source}; check the path and its permissions"
    )]
    ReadScenario {
        /// The file that was asked for.
        path: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The scenario text is not valid JSON for the scenario format.
    #[error("the scenario is not valid scenario JSON: {0}; see SCENARIOS.md for the format")]
    ParseScenario(#[from] serde_json::Error),
    /// The scenario parsed but is inconsistent (duplicate ids, dangling references, ...).
    #[error("the scenario is inconsistent: {0}; fix the scenario file (see SCENARIOS.md)")]
    InvalidScenario(String),
    /// The loopback listener could not be opened.
    #[error("could not listen on 127.0.0.1:{port}: {source}; pick another port or free this one")]
    Bind {
        /// The port asked for (0 = any free port).
        port: u16,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}
