//! The people to tell about one case: the affected user's phone, their manager, the security lead,
//! the privacy lead, finance and, for organisations in scope of NIS2, the authority.
//!
//! The admin's entries for a case are journaled (`contacts_changed`, the whole list each time) so
//! the case file says who was meant to be told and at which number. Roles left out fall back to
//! the organisation's settings (see [`crate::communication`]). Names, numbers and addresses are
//! what the admin typed; they are checked to be one line and short, and are only ever shown as text.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    comms::Role,
    journal::{EntryKind, JournalEntry},
    CaseId, CaseStore, CaseView,
};
use crate::Error;

/// One person to tell, as entered for this case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseContact {
    /// Their role in the response.
    pub role: Role,
    /// Their name.
    #[serde(default)]
    pub name: String,
    /// A phone number, as it should be dialled.
    #[serde(default)]
    pub phone: String,
    /// An email address (for the user: a personal one, never the compromised mailbox).
    #[serde(default)]
    pub email: String,
}

impl CaseContact {
    /// Whether nothing has been filled in.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.phone.is_empty() && self.email.is_empty()
    }
}

/// `contacts_changed` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangedContacts {
    contacts: Vec<CaseContact>,
}

/// Longest name, number or address accepted; anything longer is a paste accident.
const MAX_FIELD: usize = 200;

fn clean(role: Role, what: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.chars().count() > MAX_FIELD || value.chars().any(char::is_control) {
        return Err(Error::InvalidInput {
            field: "contacts",
            problem: format!(
                "{} — {what}: keep it on one line, at most {MAX_FIELD} characters.",
                role.label()
            ),
        });
    }
    Ok(value.to_owned())
}

/// Trims every field, drops empty contacts and checks the rest: one contact per role, one line
/// per field, an email address that looks like one.
pub fn validated(contacts: &[CaseContact]) -> Result<Vec<CaseContact>, Error> {
    let mut clean_list: Vec<CaseContact> = Vec::new();
    for contact in contacts {
        let entry = CaseContact {
            role: contact.role,
            name: clean(contact.role, "name", &contact.name)?,
            phone: clean(contact.role, "phone", &contact.phone)?,
            email: clean(contact.role, "email", &contact.email)?,
        };
        if entry.is_empty() {
            continue;
        }
        if !entry.email.is_empty() && !entry.email.contains('@') {
            return Err(Error::InvalidInput {
                field: "contacts",
                problem: format!(
                    "{}: \"{}\" is not an email address.",
                    contact.role.label(),
                    entry.email
                ),
            });
        }
        if clean_list.iter().any(|c| c.role == entry.role) {
            return Err(Error::InvalidInput {
                field: "contacts",
                problem: format!(
                    "{} is listed twice. Keep one contact per role.",
                    contact.role.label()
                ),
            });
        }
        clean_list.push(entry);
    }
    Ok(clean_list)
}

/// The contacts entered for the case: those of its latest `contacts_changed` entry (none before).
pub fn of_case(case: &CaseView) -> Vec<CaseContact> {
    latest(&case.journal)
}

fn latest(journal: &[JournalEntry]) -> Vec<CaseContact> {
    journal
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::ContactsChanged)
        .and_then(|e| serde_json::from_value::<ChangedContacts>(e.details.clone()).ok())
        .map(|c| c.contacts)
        .unwrap_or_default()
}

impl CaseStore {
    /// Replaces the case's contacts with `contacts` (validated) and journals the whole list.
    /// Returns what was stored; nothing is journaled when nothing changed.
    pub fn set_contacts(
        &self,
        id: &CaseId,
        actor: &str,
        contacts: &[CaseContact],
    ) -> Result<Vec<CaseContact>, Error> {
        let contacts = validated(contacts)?;
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        if latest(&loaded.view.journal) == contacts {
            return Ok(contacts);
        }
        self.append(
            &loaded,
            actor,
            EntryKind::ContactsChanged,
            None,
            json!({ "contacts": contacts }),
        )?;
        Ok(contacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(role: Role, name: &str, phone: &str, email: &str) -> CaseContact {
        CaseContact {
            role,
            name: name.into(),
            phone: phone.into(),
            email: email.into(),
        }
    }

    #[test]
    fn blank_contacts_are_dropped_and_fields_trimmed() {
        let list = validated(&[
            contact(Role::User, " Jane Doe ", " +44 7700 900123 ", ""),
            contact(Role::Manager, " ", "", ""),
        ])
        .expect("valid");
        assert_eq!(
            list,
            [contact(Role::User, "Jane Doe", "+44 7700 900123", "")]
        );
    }

    #[test]
    fn a_role_listed_twice_a_line_break_or_a_bad_email_is_refused() {
        let twice = validated(&[
            contact(Role::Manager, "Ann", "", ""),
            contact(Role::Manager, "Bob", "", ""),
        ]);
        assert!(twice.is_err(), "one contact per role");
        let broken = validated(&[contact(Role::User, "Jane\nDoe", "", "")]);
        assert!(broken.is_err(), "names stay on one line");
        let err = validated(&[contact(Role::Finance, "", "", "finance")]).expect_err("no @");
        assert!(err.to_string().contains("finance"), "{err}");
    }
}
