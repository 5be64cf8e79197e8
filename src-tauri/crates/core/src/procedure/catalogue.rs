//! The steps of a procedure as a list, apart from the code that runs them: what each step is,
//! in which order, and where each stands in a case. Listing the steps, closing a case or writing
//! the report needs only this, never a tenant client.

use chrono::{DateTime, Utc};

use super::{blast, contain, is_done, recover, triage, Position, StepInfo, StepView};
use crate::{
    case::{journal::EntryKind, steps::StepState, CaseView},
    scope::Scope,
};

/// The steps of one account's procedure in a case, in their order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    scope: Scope,
    account: String,
    infos: Vec<&'static StepInfo>,
}

impl Catalogue {
    /// A catalogue of `infos` for the `index`-th account (from 1) of a case, named `account`.
    /// Positions count from 1: 0 is read as the first account.
    pub fn new(index: usize, account: impl Into<String>, infos: Vec<&'static StepInfo>) -> Self {
        Self {
            scope: Scope::numbered(index).unwrap_or_else(Scope::first),
            account: account.into(),
            infos,
        }
    }

    /// The compromised-account procedure's steps: triage, containment in the order of
    /// spec/design.md §2.4, the blast-radius checks and the sideways sweep, recovery.
    pub fn compromised_account(index: usize, account: impl Into<String>) -> Self {
        let mut infos = vec![triage::info()];
        infos.extend(contain::infos());
        infos.extend(blast::infos());
        infos.push(crate::sweep::info());
        infos.extend(recover::infos());
        Self::new(index, account, infos)
    }

    /// The account the procedure is about.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Which account of the case it is (`a1` for the first).
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The steps, in order.
    pub fn infos(&self) -> &[&'static StepInfo] {
        &self.infos
    }

    /// The steps' keys in order.
    pub fn keys(&self) -> Vec<&'static str> {
        self.infos.iter().map(|i| i.key).collect()
    }

    /// The full step id of `key`.
    pub fn step_id(&self, key: &str) -> String {
        self.scope.step_id(key)
    }

    /// The bookkeeping state of step `key` in `case`, if it ever started.
    pub fn state<'c>(&self, case: &'c CaseView, key: &str) -> Option<&'c StepState> {
        let id = self.step_id(key);
        case.steps.iter().find(|s| s.step == id)
    }

    /// Where every step stands.
    pub fn view(&self, case: &CaseView) -> Vec<StepView> {
        self.infos
            .iter()
            .enumerate()
            .map(|(index, info)| {
                let state = self.state(case, info.key).cloned();
                let position = if is_done(state.as_ref()) {
                    Position::Done
                } else if self.blocker(case, index).is_none() {
                    Position::Current
                } else {
                    Position::Ahead
                };
                StepView {
                    id: self.step_id(info.key),
                    info: (*info).clone(),
                    state,
                    position,
                }
            })
            .collect()
    }

    /// The first step that must be done before step `index` and is not: every step of an
    /// earlier phase, and every earlier step of the same phase when that phase is ordered.
    pub fn blocker(&self, case: &CaseView, index: usize) -> Option<&'static StepInfo> {
        let phase = self.infos.get(index)?.phase;
        self.infos
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .filter(|(i, info)| {
                info.phase < phase || (info.phase == phase && phase.ordered() && *i < index)
            })
            .map(|(_, info)| *info)
            .find(|info| !is_done(self.state(case, info.key)))
    }

    /// The incident window start recorded by the triage step of this procedure.
    pub fn window_start(&self, case: &CaseView) -> Option<DateTime<Utc>> {
        let id = self.step_id(triage::KEY);
        case.journal
            .iter()
            .rev()
            .find(|e| e.kind == EntryKind::StepFinished && e.step.as_deref() == Some(id.as_str()))
            .and_then(|e| e.details.pointer("/detail/windowStart").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procedure::Procedure;

    #[test]
    fn the_catalogue_lists_the_very_steps_the_procedure_runs_in_their_order() {
        let runs =
            Procedure::<firebreak_graph::Client>::compromised_account(2, "megan@contoso.com");
        let listed = Catalogue::compromised_account(2, "megan@contoso.com");
        assert_eq!(runs.catalogue().infos().len(), listed.infos().len());
        for (a, b) in runs.catalogue().infos().iter().zip(listed.infos()) {
            assert!(std::ptr::eq(*a, *b), "{} is listed as {}", a.key, b.key);
        }
        assert_eq!(listed.step_id("triage"), "a2.triage");
        assert_eq!(listed.keys().first(), Some(&"triage"));
    }
}
