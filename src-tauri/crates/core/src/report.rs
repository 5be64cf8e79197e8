//! Printed output: the one-page runbook, the incident report and the timeline export.
//!
//! The PDFs are typeset by our own small layer over `printpdf` ([`layout`]) with fonts compiled into
//! the binary ([`fonts`]), so they look the same on every machine and render attacker-controlled
//! names safely. Nothing here reads the clock: every document takes its creation time as input.

pub mod case;
pub mod fonts;
pub mod incident;
pub mod layout;
pub mod preview;
pub mod runbook;
pub mod timeline;

pub use layout::Paper;

/// A document id for the running header: `prefix` and the creation date, e.g. `RB-20260301-2347`.
pub(crate) fn document_id(prefix: &str, at: chrono::DateTime<chrono::FixedOffset>) -> String {
    format!("{prefix}-{}", at.format("%Y%m%d-%H%M"))
}
