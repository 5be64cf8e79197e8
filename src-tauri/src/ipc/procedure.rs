//! Wire types of the containment wizard and the Practice section: where each step stands, a
//! step's plan, its outcome, the practice scenarios, generated incidents and the debrief. Every
//! string that came from the tenant is attacker-controlled and rendered as text by the UI.

use chrono::{DateTime, Utc};
use firebreak_core::procedure;
use firebreak_sim::incident::Size;
use firebreak_sim::score::{
    Artefact as ScoredArtefact, ArtefactKind, KeyArtefact as KeyArtefactScore, Score,
};
use serde::{Deserialize, Serialize};
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

/// How large a generated incident's tenant is. Larger tenants take longer to start and to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum IncidentSize {
    /// 20–40 users; starts in moments.
    Small,
    /// 150–300 users, an organisation Firebreak is built for.
    Org,
    /// 1,000–2,000 users.
    Large,
}

impl From<IncidentSize> for Size {
    fn from(size: IncidentSize) -> Self {
        match size {
            IncidentSize::Small => Size::Small,
            IncidentSize::Org => Size::Org,
            IncidentSize::Large => Size::Large,
        }
    }
}

impl From<Size> for IncidentSize {
    fn from(size: Size) -> Self {
        match size {
            Size::Small => IncidentSize::Small,
            Size::Org => IncidentSize::Org,
            Size::Large => IncidentSize::Large,
        }
    }
}

/// A practice started on a generated incident: its case and what replays it. Nothing here gives
/// the answer away.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedPractice {
    /// The practice case, opened on the response.
    pub case: super::CaseView,
    /// The seed: the same seed and size start the same incident again.
    pub seed: u32,
    /// The tenant's size.
    pub size: IncidentSize,
    /// What the trainee is told (names from the generated tenant).
    pub briefing: String,
}

impl From<(firebreak_core::case::CaseView, crate::practice::Generated)> for GeneratedPractice {
    fn from(
        (case, generated): (firebreak_core::case::CaseView, crate::practice::Generated),
    ) -> Self {
        Self {
            case: case.into(),
            seed: generated.seed,
            size: generated.size.into(),
            briefing: generated.briefing,
        }
    }
}

/// The generated incident a debriefed practice played.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GeneratedIncident {
    /// Its seed.
    pub seed: u32,
    /// Its size.
    pub size: IncidentSize,
    /// One line naming its parts (how the attacker got in, the licence, where they went next).
    pub summary: String,
}

impl From<&crate::practice::Generated> for GeneratedIncident {
    fn from(g: &crate::practice::Generated) -> Self {
        Self {
            seed: g.seed,
            size: g.size.into(),
            summary: g.summary.clone(),
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
    /// The whole answer key, each artefact with whether it is still there.
    pub answer_key: AnswerKey,
    /// Set when the practice played a generated incident.
    pub generated: Option<GeneratedIncident>,
}

/// The scenario's answer key as the debrief shows it.
#[derive(Debug, Clone, Default, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AnswerKey {
    /// What the attacker had, including what it added during the exercise.
    pub attacker: Vec<KeyArtefact>,
    /// The legitimate look-alikes, which should all still be there.
    pub legitimate: Vec<KeyArtefact>,
    /// Addresses legitimate users sign in from, which are not the attacker's.
    pub legitimate_addresses: Vec<KeyAddress>,
    /// What the attacker had already taken before the exercise began.
    pub lost: Vec<KeyLoss>,
    /// The scenario author's notes (for a generated incident: its parts and the attacker's
    /// addresses).
    pub notes: String,
}

/// One artefact of the answer key.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyArtefact {
    /// What kind of object (`authenticationMethod`, `inboxRule`, ...).
    pub kind: String,
    /// The user or mailbox it belongs to, where it belongs to one.
    pub user_id: Option<String>,
    /// Its id in the tenant.
    pub id: String,
    /// What it is, in words.
    pub description: String,
    /// Whether it is still in the tenant.
    pub present: bool,
}

/// An address a legitimate user signs in from.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyAddress {
    /// The IP address.
    pub address: String,
    /// Whose it is, where it is one user's.
    pub user_id: Option<String>,
    /// Why it is legitimate.
    pub description: String,
}

/// Mail the attacker forwarded, sent or read before the exercise began.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct KeyLoss {
    /// Whose mail.
    pub user_id: Option<String>,
    /// `forwarded`, `sent` or `read`.
    pub what: String,
    /// How many messages.
    pub count: u32,
    /// Where it went, if anywhere.
    pub to: Option<String>,
    /// In words.
    pub description: String,
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

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// The answer key's name for a kind (`inboxRule`, `authenticationMethod`, ...).
fn kind_name(kind: ArtefactKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl From<&KeyArtefactScore> for KeyArtefact {
    fn from(k: &KeyArtefactScore) -> Self {
        Self {
            kind: kind_name(k.artefact.kind),
            user_id: k.artefact.user_id.clone(),
            id: k.artefact.id.clone(),
            description: k.artefact.description.clone(),
            present: k.present,
        }
    }
}

impl AnswerKey {
    fn from_score(score: &Score) -> Self {
        let key = &score.answer_key;
        Self {
            attacker: key.attacker.iter().map(KeyArtefact::from).collect(),
            legitimate: key.legitimate.iter().map(KeyArtefact::from).collect(),
            legitimate_addresses: key
                .legitimate_addresses
                .iter()
                .map(|a| KeyAddress {
                    address: a.address.clone(),
                    user_id: a.user_id.clone(),
                    description: a.description.clone(),
                })
                .collect(),
            lost: key
                .lost
                .iter()
                .map(|l| KeyLoss {
                    user_id: l.user_id.clone(),
                    what: l.what.clone(),
                    count: l.count,
                    to: l.to.clone(),
                    description: l.description.clone(),
                })
                .collect(),
            notes: score.notes.clone(),
        }
    }
}

impl PracticeDebrief {
    /// From the simulator's score and `/_sim/attacker` answer, and the generated incident the
    /// practice played, if any.
    pub fn new(
        tenant_url: String,
        score: &Score,
        attacker: &Value,
        generated: Option<GeneratedIncident>,
    ) -> Self {
        let described = |list: &[ScoredArtefact]| -> Vec<String> {
            list.iter().map(|a| a.description.clone()).collect()
        };
        Self {
            tenant_url,
            attacker_total: count(score.attacker_artefacts.total),
            attacker_removed: count(score.attacker_artefacts.removed),
            attacker_remaining: described(&score.attacker_artefacts.remaining),
            added_during_exercise: described(&score.attacker_artefacts.added_during_exercise),
            look_alikes_total: count(score.legitimate_artefacts.total),
            look_alikes_removed: described(&score.legitimate_artefacts.removed),
            attacker_regained_access: score.attacker_regained_access,
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
            answer_key: AnswerKey::from_score(score),
            generated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(score: &Value) -> Score {
        serde_json::from_value(score.clone()).expect("a score")
    }

    #[test]
    fn the_debrief_reads_the_simulators_score_and_attacker_log() {
        let score = json!({
            "attackerArtefacts": {
                "total": 5, "removed": 4,
                "remaining": [{"kind": "inboxRule", "id": "r1", "description": "Inbox rule \"..\""}],
                "addedDuringExercise": [{"kind": "authenticationMethod", "id": "m9", "description": "Authenticator added after the reset"}]
            },
            "legitimateArtefacts": {"total": 3, "removed": [{"kind": "authenticationMethod", "id": "m2", "description": "Her own phone"}]},
            "attackerRegainedAccess": true
        });
        let attacker = json!({"log": [
            {"at": "2025-03-12T23:58:00Z", "userId": "u1", "action": "registeredMethod", "detail": "<b>x</b>"}
        ]});
        let debrief =
            PracticeDebrief::new("http://127.0.0.1:1".into(), &typed(&score), &attacker, None);
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
        let debrief = PracticeDebrief::new(String::new(), &Score::default(), &json!({}), None);
        assert_eq!(debrief.attacker_total, 0);
        assert!(debrief.answer_key.attacker.is_empty());
        assert!(debrief.answer_key.notes.is_empty());
        assert!(debrief.generated.is_none());
        assert!(!debrief.attacker_regained_access);
        assert!(debrief.attacker_actions.is_empty());
    }

    #[test]
    fn the_debrief_carries_the_whole_answer_key_and_the_generated_incident() {
        let score = json!({
            "notes": "seed 7 (small, 30 users, Entra ID P2): entry Aitm ...",
            "answerKey": {
                "attacker": [
                    {"kind": "inboxRule", "userId": "u1", "id": "r1", "description": "<img src=x>", "present": true},
                    {"kind": "authenticationMethod", "userId": "u1", "id": "m1", "description": "Attacker's phone", "present": false},
                    {"kind": "oauth2PermissionGrant", "userId": null, "id": "g1", "description": "Consent"}
                ],
                "legitimate": [
                    {"kind": "authenticationMethod", "userId": "u2", "id": "m2", "description": "Her own phone", "present": false}
                ],
                "legitimateAddresses": [{"address": "203.0.113.9", "userId": "u2", "description": "Hotel wifi"}],
                "lost": [{"userId": "u1", "what": "forwarded", "count": 12, "to": "x@example.net", "description": "Invoices"}]
            }
        });
        let generated = GeneratedIncident {
            seed: 7,
            size: IncidentSize::Small,
            summary: "seed 7 (small)".into(),
        };
        let debrief =
            PracticeDebrief::new(String::new(), &typed(&score), &json!({}), Some(generated));
        let key = &debrief.answer_key;
        let attacker: Vec<(&str, bool)> = key
            .attacker
            .iter()
            .map(|a| (a.id.as_str(), a.present))
            .collect();
        assert_eq!(
            attacker,
            [("r1", true), ("m1", false), ("g1", true)],
            "in order; an artefact without a flag is counted as still there"
        );
        assert_eq!(key.attacker[0].description, "<img src=x>", "verbatim");
        assert_eq!(key.attacker[0].user_id.as_deref(), Some("u1"));
        assert_eq!(key.attacker[2].user_id, None);
        assert!(!key.legitimate[0].present, "the look-alike was removed");
        assert_eq!(key.legitimate_addresses[0].address, "203.0.113.9");
        assert_eq!(
            (key.lost[0].what.as_str(), key.lost[0].count),
            ("forwarded", 12)
        );
        assert_eq!(key.lost[0].to.as_deref(), Some("x@example.net"));
        assert!(key.notes.starts_with("seed 7"));
        assert_eq!(debrief.generated.map(|g| g.seed), Some(7));
    }
}
