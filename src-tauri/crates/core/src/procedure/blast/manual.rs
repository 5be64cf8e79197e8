//! The guided manual checks: Power Automate flows and Power Apps owned by the account. No Graph
//! operation in Firebreak's permissions lists them, so the plan says where to look in the portal
//! and what to look for; the admin answers "nothing found" or "found something" and writes the
//! finding in the note, which is journaled with the step.

use super::{Draft, FOUND_ANSWER, NOTHING_ANSWER};
use crate::procedure::{Action, PlanItem};

const QUESTION: &str = "What did you find?";

fn answers(draft: &mut Draft, found: &str) {
    for (id, label, detail) in [
        (
            NOTHING_ANSWER,
            "Nothing found",
            "Nothing the attacker made or changed.",
        ),
        (FOUND_ANSWER, "Found something", found),
    ] {
        draft.row(PlanItem {
            id: id.to_owned(),
            kind: "Your answer".into(),
            label: label.into(),
            details: vec![detail.to_owned()],
            created: None,
            recommended: false,
            reasons: Vec::new(),
            fixed: false,
            group: Some(QUESTION.into()),
            action: Action::Record,
        });
    }
}

/// Power Automate flows owned by the account.
pub(super) fn flows(draft: &mut Draft) {
    draft.summary("Check the account's Power Automate flows by hand and record what you found.");
    draft.manual(
        "Power Platform admin center (admin.powerplatform.microsoft.com) > Manage > Environments > each environment > Resources > Flows; filter by the account as owner. Also make.powerautomate.com > My flows while signed in as an admin with access.",
        "Flows created or changed in the incident window, flows that trigger on new mail and send, forward or copy it, flows that post to external connectors (HTTP, Gmail, Dropbox, RSS), flows shared with unknown accounts. Turn such a flow off, export it first, and describe it in the note.",
    );
    answers(
        draft,
        "Describe each flow in the note: name, environment, trigger, what it sends where, when it was created.",
    );
}

/// Power Apps owned by the account.
pub(super) fn power_apps(draft: &mut Draft) {
    draft.summary("Check the account's Power Apps by hand and record what you found.");
    draft.manual(
        "Power Platform admin center (admin.powerplatform.microsoft.com) > Manage > Environments > each environment > Resources > Power Apps; sort by owner and modified date.",
        "Apps created or shared in the incident window, apps whose connections use the account's credentials to reach mail, SharePoint or external services, apps shared with everyone. Remove the sharing or delete the app after exporting it, and describe it in the note.",
    );
    answers(
        draft,
        "Describe each app in the note: name, environment, connections, who it is shared with.",
    );
}
