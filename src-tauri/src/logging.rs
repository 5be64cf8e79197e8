//! Logging through `log` to stderr and to a file in the platform's log folder.
//!
//! Secrets never reach these lines: the types that hold them have redacted `Debug` and no
//! `Display`, so they cannot be formatted into a message by accident.

use std::path::Path;

/// Installs the global logger. `RUST_LOG`-style filtering is deliberately not offered: an admin
/// should never need it, and a developer can read the file.
pub fn init(log_dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(log_dir)?;
    let file = fern::log_file(log_dir.join("firebreak.log"))?;
    fern::Dispatch::new()
        .format(|out, message, record| {
            out.finish(format_args!(
                "{} {:<5} {}: {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.target(),
                message
            ))
        })
        .level(log::LevelFilter::Warn)
        .level_for("firebreak_app", log::LevelFilter::Info)
        .level_for("firebreak_core", log::LevelFilter::Info)
        .level_for("firebreak_graph", log::LevelFilter::Info)
        .chain(std::io::stderr())
        .chain(file)
        .apply()?;
    Ok(())
}
