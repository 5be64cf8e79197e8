//! Step bookkeeping for the procedures: what each step's journal entries say about it now.
//!
//! A step is started, then finished (verified or not), failed, or skipped with a reason. A step
//! started by an earlier run of the application that never finished or failed was *interrupted*:
//! its effect on the tenant is unknown, so it must be re-verified against the tenant before it
//! may run again. The procedure engine decides what the steps are; this module only keeps books.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::{EntryKind, JournalEntry};
use crate::Error;

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum StepStatus {
    /// Started in this run of the application and not yet ended.
    Running,
    /// Started in an earlier run that stopped before the step ended. Re-verify before retrying.
    Interrupted,
    /// Ended; `verified` says whether its effect was confirmed against the tenant.
    Finished {
        /// Whether the effect was confirmed.
        verified: bool,
    },
    /// Ended with an error.
    Failed {
        /// What went wrong.
        reason: String,
    },
    /// Deliberately not run.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Re-verified after an interruption or failure and found not done: it may run again.
    ReadyToRetry,
}

/// A step's state, folded from the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepState {
    /// The step id the procedure gave it.
    pub step: String,
    /// Where it stands.
    pub status: StepStatus,
    /// When it reached that status.
    pub since: DateTime<Utc>,
    /// How many times it was started.
    pub attempts: u32,
}

/// `step_started` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StartedDetails {
    pub session: String,
    #[serde(default)]
    pub detail: Value,
}

/// `step_finished` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FinishedDetails {
    pub verified: bool,
    #[serde(default)]
    pub detail: Value,
}

/// `step_failed` and `step_skipped` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReasonDetails {
    pub reason: String,
    #[serde(default)]
    pub detail: Value,
}

/// `step_reverified` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReverifiedDetails {
    pub found_done: bool,
    #[serde(default)]
    pub detail: Value,
}

/// What may be done to a step next; asked before anything is journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepAction {
    Start,
    End,
    Skip,
    Reverify,
}

/// Refuses `action` on a step in `state` with a message that says what to do instead.
pub(crate) fn check(
    step: &str,
    state: Option<&StepState>,
    action: StepAction,
) -> Result<(), Error> {
    let status = state.map(|s| &s.status);
    let refuse = |message: String| {
        Err(Error::StepRefused {
            step: step.to_owned(),
            message,
        })
    };
    match (action, status) {
        (StepAction::Start | StepAction::Skip, Some(StepStatus::Interrupted)) => refuse(format!(
            "Step {step} was interrupted: Firebreak stopped before it could confirm the result. \
             Re-verify it against the tenant first; it will not be repeated blindly."
        )),
        (StepAction::Start | StepAction::Skip, Some(StepStatus::Running)) => refuse(format!(
            "Step {step} is already running. Wait for it to finish."
        )),
        (StepAction::Start | StepAction::Skip, _) => Ok(()),
        (StepAction::End, Some(StepStatus::Running)) => Ok(()),
        (StepAction::End, _) => refuse(format!(
            "Step {step} is not running in this session, so it cannot be marked as ended. Start \
             it first (re-verify it if it was interrupted)."
        )),
        (
            StepAction::Reverify,
            Some(
                StepStatus::Interrupted
                | StepStatus::Failed { .. }
                | StepStatus::Finished { verified: false },
            ),
        ) => Ok(()),
        (StepAction::Reverify, _) => refuse(format!(
            "Step {step} is neither interrupted, failed nor finished unverified; there is nothing to re-verify."
        )),
    }
}

/// Applies one journal entry to the step states. `session` is the current run's id: a step
/// started under another session and never ended is interrupted.
pub(crate) fn apply(states: &mut BTreeMap<String, StepState>, entry: &JournalEntry, session: &str) {
    let Some(step) = entry.step.as_deref() else {
        return;
    };
    let previous_attempts = states.get(step).map_or(0, |s| s.attempts);
    let status = match entry.kind {
        EntryKind::StepStarted => {
            let started: Option<StartedDetails> =
                serde_json::from_value(entry.details.clone()).ok();
            if started.is_some_and(|s| s.session == session) {
                StepStatus::Running
            } else {
                StepStatus::Interrupted
            }
        }
        EntryKind::StepFinished => {
            let verified = serde_json::from_value::<FinishedDetails>(entry.details.clone())
                .is_ok_and(|d| d.verified);
            StepStatus::Finished { verified }
        }
        EntryKind::StepFailed | EntryKind::StepSkipped => {
            let reason = serde_json::from_value::<ReasonDetails>(entry.details.clone())
                .map(|d| d.reason)
                .unwrap_or_default();
            if entry.kind == EntryKind::StepFailed {
                StepStatus::Failed { reason }
            } else {
                StepStatus::Skipped { reason }
            }
        }
        EntryKind::StepReverified => {
            let found_done = serde_json::from_value::<ReverifiedDetails>(entry.details.clone())
                .is_ok_and(|d| d.found_done);
            let was_unverified = states
                .get(step)
                .is_some_and(|s| s.status == StepStatus::Finished { verified: false });
            if found_done {
                StepStatus::Finished { verified: true }
            } else if was_unverified {
                // Its change was made; the tenant does not show it yet. Still finished.
                StepStatus::Finished { verified: false }
            } else {
                StepStatus::ReadyToRetry
            }
        }
        _ => return,
    };
    let attempts = previous_attempts + u32::from(entry.kind == EntryKind::StepStarted);
    states.insert(
        step.to_owned(),
        StepState {
            step: step.to_owned(),
            status,
            since: entry.time,
            attempts,
        },
    );
}

/// A step id: 1 to 64 characters of lowercase ASCII letters, digits, `.`, `_` and `-`.
pub(crate) fn check_step_id(step: &str) -> Result<(), Error> {
    let ok = !step.is_empty()
        && step.len() <= 64
        && step
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field: "step",
            problem: format!(
                "{step:?} is not a step id (lowercase letters, digits, '.', '_', '-')."
            ),
        })
    }
}
