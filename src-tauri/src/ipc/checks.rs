//! Wire types of the blast-radius list: where each check stands, "Run all checks" progress and
//! outcome, and a check's status inside its plan. Reasons and notes may quote the tenant
//! (attacker-controlled): the UI renders them as text.

use chrono::{DateTime, Utc};
use firebreak_core::procedure::{blast, checks};
use serde::Serialize;
use serde_json::Value;
use specta::Type;

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One check's state in the case.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BlastCheck {
    /// The step key (`blast-sign-ins`), what `plan_step` takes.
    pub key: String,
    /// Its title.
    pub title: String,
    /// `open`, `clean`, `finding`, `notAvailable`, `checkedByHand` or `skipped`.
    pub status: String,
    /// Why: the check's reason, or the skip reason.
    pub reason: Option<String>,
    /// How many findings its plan had.
    pub findings: u32,
    /// The admin's note (a manual check's finding).
    pub note: Option<String>,
    /// For a manual check: whether the admin found something.
    pub found_by_hand: Option<bool>,
    /// When it reached this status.
    pub at: Option<DateTime<Utc>>,
}

impl From<blast::CheckResult> for BlastCheck {
    fn from(r: blast::CheckResult) -> Self {
        Self {
            key: r.key.into(),
            title: r.title.into(),
            status: serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "open".into()),
            reason: r.reason,
            findings: count(r.findings),
            note: r.note,
            found_by_hand: r.found_by_hand,
            at: r.at,
        }
    }
}

/// A check's status inside its plan (`facts.check`).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanCheck {
    /// `clean`, `finding`, `notAvailable` or `manual`.
    pub status: String,
    /// Why, in the admin's words (for a manual check: what to look for).
    pub reason: String,
    /// How many findings.
    pub findings: u32,
    /// Manual checks: where to look in the portal.
    pub portal: Option<String>,
}

impl PlanCheck {
    /// Reads `facts.check` of a blast-radius plan.
    pub fn from_facts(check: &Value) -> Self {
        let text = |k: &str| check.get(k).and_then(Value::as_str).map(str::to_owned);
        Self {
            status: text("status").unwrap_or_default(),
            reason: text("reason").unwrap_or_default(),
            findings: count(check.get("findings").and_then(Value::as_u64).unwrap_or(0)),
            portal: text("portal"),
        }
    }
}

/// Progress of one check during "Run all checks".
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckProgress {
    /// The check's key.
    pub key: String,
    /// `started`, `planned`, `failed`, `cancelled`, `recorded` or `recordFailed`.
    pub state: String,
    /// The planned status once planned.
    pub status: Option<String>,
    /// Findings once planned.
    pub findings: u32,
    /// Why it failed.
    pub message: Option<String>,
    /// Checks planned so far.
    pub done: u32,
    /// Checks in this run.
    pub total: u32,
}

impl From<blast::CheckProgress> for CheckProgress {
    fn from(p: blast::CheckProgress) -> Self {
        Self {
            key: p.key.into(),
            state: p.state.into(),
            status: p.status,
            findings: count(p.findings),
            message: p.message,
            done: count(p.done as u64),
            total: count(p.total as u64),
        }
    }
}

/// What "Run all checks" did with one check.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CheckRunResult {
    /// The check's key.
    pub key: String,
    /// The planned status, when planned.
    pub planned: Option<String>,
    /// Findings.
    pub findings: u32,
    /// Whether the result was recorded (clean or not available).
    pub recorded: bool,
    /// Why planning or recording failed.
    pub error: Option<String>,
}

impl From<checks::CheckRun> for CheckRunResult {
    fn from(r: checks::CheckRun) -> Self {
        Self {
            key: r.key.into(),
            planned: r.planned,
            findings: count(r.findings),
            recorded: r.recorded,
            error: r.error,
        }
    }
}

/// The outcome of "Run all checks".
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChecksRun {
    /// Each check that was open when the run started.
    pub runs: Vec<CheckRunResult>,
    /// Whether the admin cancelled it.
    pub cancelled: bool,
    /// Where every check stands now.
    pub checks: Vec<BlastCheck>,
}
