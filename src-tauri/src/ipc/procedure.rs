//! Wire types of the containment wizard and the Practice section: where each step stands, a
//! step's plan, its outcome, the practice scenarios and the debrief. Every string that came from
//! the tenant is attacker-controlled and rendered as text by the UI.

use chrono::{DateTime, Utc};
use firebreak_core::procedure;
use serde::Serialize;
use serde_json::Value;
use specta::Type;

use super::CaseStep;

/// One account's procedure, as the wizard's step list shows it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountProcedure {
    /// The account's number in the case (from 1); the step commands take it.
    pub index: u32,
    /// The account.
    pub account: String,
    /// Its steps in order.
    pub steps: Vec<WizardStep>,
}

impl From<(u32, String, Vec<procedure::StepView>)> for AccountProcedure {
    fn from((index, account, steps): (u32, String, Vec<procedure::StepView>)) -> Self {
        Self {
            index,
            account,
            steps: steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// One step of the wizard.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WizardStep {
    /// The full step id (`a1.revoke`).
    pub id: String,
    /// The key the step commands take (`revoke`).
    pub key: String,
    /// `triage`, `contain`, `blast` or `recover`: a step needs every step of an earlier phase
    /// done; blast-radius checks can be done in any order (several are `current` at once).
    pub phase: String,
    /// Its title.
    pub title: String,
    /// Why it comes where it does.
    pub why: String,
    /// The effect in plain words, for the confirmation dialog.
    pub effect: String,
    /// What is saved before the change.
    pub saved_first: String,
    /// Whether the account name must be typed to confirm.
    pub destructive: bool,
    /// `done`, `current` or `ahead`.
    pub position: String,
    /// Its state in the case, once started or skipped.
    pub state: Option<CaseStep>,
}

impl From<procedure::StepView> for WizardStep {
    fn from(v: procedure::StepView) -> Self {
        let position = match v.position {
            procedure::Position::Done => "done",
            procedure::Position::Current => "current",
            procedure::Position::Ahead => "ahead",
        };
        Self {
            id: v.id,
            key: v.info.key.into(),
            phase: v.info.phase.as_str().into(),
            title: v.info.title.into(),
            why: v.info.why.into(),
            effect: v.info.effect.into(),
            saved_first: v.info.saved_first.into(),
            destructive: v.info.destructive,
            position: position.into(),
            state: v.state.map(Into::into),
        }
    }
}

/// What a step will change, from a fresh read of the tenant.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepPlan {
    /// The full step id.
    pub step: String,
    /// The account.
    pub account: String,
    /// One sentence: what will change.
    pub summary: String,
    /// The objects, with the tool's recommendation.
    pub items: Vec<PlanRow>,
    /// Warnings the admin must read.
    pub warnings: Vec<String>,
    /// The evidence saved first.
    pub saved_first: Vec<String>,
    /// Triage only: the proposed start of the incident window, which the admin may correct.
    pub window_start: Option<DateTime<Utc>>,
    /// Blast-radius checks only: what the check found and, for a manual check, where to look.
    pub check: Option<super::PlanCheck>,
}

/// One object of a plan.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PlanRow {
    /// The id `run_step` takes in `selected`.
    pub id: String,
    /// What kind of object it is.
    pub kind: String,
    /// Its name as the tenant has it (attacker-controlled).
    pub label: String,
    /// Facts about it (attacker-controlled).
    pub details: Vec<String>,
    /// When it was created, if known.
    pub created: Option<DateTime<Utc>>,
    /// Whether the tool recommends selecting it.
    pub recommended: bool,
    /// Why or why not.
    pub reasons: Vec<String>,
    /// Always part of the step; cannot be deselected.
    pub fixed: bool,
    /// Rows of one group are alternatives: choose exactly one.
    pub group: Option<String>,
}

impl From<procedure::Plan> for StepPlan {
    fn from(p: procedure::Plan) -> Self {
        let window_start = p
            .facts
            .get("windowStart")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        let check = p.facts.get("check").map(super::PlanCheck::from_facts);
        Self {
            window_start,
            check,
            step: p.step,
            account: p.account,
            summary: p.summary,
            items: p
                .items
                .into_iter()
                .map(|i| PlanRow {
                    id: i.id,
                    kind: i.kind,
                    label: i.label,
                    details: i.details,
                    created: i.created,
                    recommended: i.recommended,
                    reasons: i.reasons,
                    fixed: i.fixed,
                    group: i.group,
                })
                .collect(),
            warnings: p.warnings,
            saved_first: p.saved_first,
        }
    }
}

/// What running or re-verifying a step ended with.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    /// The step's state now.
    pub state: CaseStep,
    /// Whether every read-back check passed.
    pub verified: bool,
    /// The read-back checks.
    pub checks: Vec<ReadBack>,
    /// Evidence files saved before the change.
    pub evidence: Vec<String>,
    /// Set when the step issued a Temporary Access Pass: where it went (never the pass itself).
    pub pass: Option<super::PassNotice>,
}

/// One read-back check.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReadBack {
    /// The plan row (or `account`).
    pub item: String,
    /// Whether the tenant shows the intended state.
    pub ok: bool,
    /// What was read.
    pub detail: String,
}

impl From<procedure::StepOutcome> for StepResult {
    fn from(o: procedure::StepOutcome) -> Self {
        Self {
            state: o.state.into(),
            verified: o.verification.verified,
            checks: o
                .verification
                .checks
                .into_iter()
                .map(|c| ReadBack {
                    item: c.item,
                    ok: c.ok,
                    detail: c.detail,
                })
                .collect(),
            evidence: o.evidence,
            pass: None,
        }
    }
}

/// A practice scenario card.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PracticeScenario {
    /// What `start_practice` takes.
    pub name: String,
    /// One line.
    pub title: String,
    /// The story the trainee is told.
    pub briefing: String,
}

impl From<crate::practice::ScenarioCard> for PracticeScenario {
    fn from(c: crate::practice::ScenarioCard) -> Self {
        Self {
            name: c.name,
            title: c.title,
            briefing: c.briefing,
        }
    }
}

/// The practice debrief: the simulator's score and what the attacker did.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PracticeDebrief {
    /// The simulated tenant's loopback address (for scenario authors and tests).
    pub tenant_url: String,
    /// Attacker artefacts in the scenario plus those it added during the exercise.
    pub attacker_total: u32,
    /// How many of them are gone.
    pub attacker_removed: u32,
    /// Those still there.
    pub attacker_remaining: Vec<String>,
    /// Artefacts the attacker added while you worked.
    pub added_during_exercise: Vec<String>,
    /// Legitimate look-alikes in the scenario.
    pub look_alikes_total: u32,
    /// Look-alikes you removed (should be none).
    pub look_alikes_removed: Vec<String>,
    /// Whether the attacker got back in.
    pub attacker_regained_access: bool,
    /// What the attacker did, in order.
    pub attacker_actions: Vec<AttackerAction>,
}

/// One thing the attacker did.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AttackerAction {
    /// When (simulated time, as the simulator writes it).
    pub at: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: String,
}

fn count(v: &Value, pointer: &str) -> u32 {
    let n = v.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn descriptions(v: &Value, pointer: &str) -> Vec<String> {
    let list = v.pointer(pointer).and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|a| text(a, "description"))
        .collect()
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

impl PracticeDebrief {
    /// From the simulator's `/_sim/score` and `/_sim/attacker` answers.
    pub fn new(tenant_url: String, score: &Value, attacker: &Value) -> Self {
        Self {
            tenant_url,
            attacker_total: count(score, "/attackerArtefacts/total"),
            attacker_removed: count(score, "/attackerArtefacts/removed"),
            attacker_remaining: descriptions(score, "/attackerArtefacts/remaining"),
            added_during_exercise: descriptions(score, "/attackerArtefacts/addedDuringExercise"),
            look_alikes_total: count(score, "/legitimateArtefacts/total"),
            look_alikes_removed: descriptions(score, "/legitimateArtefacts/removed"),
            attacker_regained_access: score
                .get("attackerRegainedAccess")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            attacker_actions: attacker
                .get("log")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|a| AttackerAction {
                    at: text(a, "at"),
                    action: text(a, "action"),
                    detail: text(a, "detail"),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_debrief_reads_the_simulators_score_and_attacker_log() {
        let score = json!({
            "attackerArtefacts": {
                "total": 5, "removed": 4,
                "remaining": [{"description": "Inbox rule \"..\""}],
                "addedDuringExercise": [{"description": "Authenticator added after the reset"}]
            },
            "legitimateArtefacts": {"total": 3, "removed": [{"description": "Her own phone"}]},
            "attackerRegainedAccess": true
        });
        let attacker = json!({"log": [
            {"at": "2025-03-12T23:58:00Z", "userId": "u1", "action": "registeredMethod", "detail": "<b>x</b>"}
        ]});
        let debrief = PracticeDebrief::new("http://127.0.0.1:1".into(), &score, &attacker);
        assert_eq!((debrief.attacker_total, debrief.attacker_removed), (5, 4));
        assert_eq!(debrief.attacker_remaining, ["Inbox rule \"..\""]);
        assert_eq!(debrief.added_during_exercise.len(), 1);
        assert_eq!(debrief.look_alikes_total, 3);
        assert_eq!(debrief.look_alikes_removed, ["Her own phone"]);
        assert!(debrief.attacker_regained_access);
        assert_eq!(debrief.attacker_actions[0].action, "registeredMethod");
        assert_eq!(
            debrief.attacker_actions[0].detail, "<b>x</b>",
            "kept verbatim, shown as text"
        );
    }

    #[test]
    fn an_empty_score_is_read_as_nothing_rather_than_refused() {
        let debrief = PracticeDebrief::new(String::new(), &json!({}), &json!({}));
        assert_eq!(debrief.attacker_total, 0);
        assert!(!debrief.attacker_regained_access);
        assert!(debrief.attacker_actions.is_empty());
    }
}
