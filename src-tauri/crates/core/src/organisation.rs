//! The organisation's own details, printed on the runbook and the incident report: its name, who to
//! call in which role, the break-glass account names, whether NIS2 applies, and the paper size.
//!
//! Kept in `organisation.json` in the data folder. It holds names and phone numbers, never a secret.
//! Everything is optional: the runbook prints a blank line to fill in by hand for whatever is
//! missing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::paths::DataRoot;
use crate::report::Paper;
use crate::Error;

/// The roles the runbook lists, in the order they are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ContactRole {
    /// Whoever leads the security response (often the admin themself, or an outside provider).
    SecurityLead,
    /// The privacy lead or data protection officer, who runs the GDPR 72-hour clock.
    PrivacyLead,
    /// The manager who decides and informs the business.
    Manager,
    /// Finance, for payment fraud and changed bank details.
    Finance,
    /// The IT administrator or a second admin.
    ItAdmin,
}

impl ContactRole {
    /// Every role, in print order.
    pub const ALL: [ContactRole; 5] = [
        ContactRole::SecurityLead,
        ContactRole::PrivacyLead,
        ContactRole::Manager,
        ContactRole::Finance,
        ContactRole::ItAdmin,
    ];

    /// The role as printed.
    pub fn label(self) -> &'static str {
        match self {
            ContactRole::SecurityLead => "Security lead",
            ContactRole::PrivacyLead => "Privacy lead / DPO",
            ContactRole::Manager => "Manager",
            ContactRole::Finance => "Finance",
            ContactRole::ItAdmin => "IT admin",
        }
    }
}

/// One person to call. Empty fields are printed as blanks to fill in by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    /// Full name.
    pub name: String,
    /// Phone number, as it should be dialled.
    pub phone: String,
    /// Email address (use one outside the compromised tenant where there is one).
    pub email: String,
}

impl Contact {
    /// Whether nothing has been filled in.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.phone.is_empty() && self.email.is_empty()
    }
}

/// The contacts for each role.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contacts {
    /// Security lead.
    pub security_lead: Contact,
    /// Privacy lead / DPO.
    pub privacy_lead: Contact,
    /// Manager.
    pub manager: Contact,
    /// Finance.
    pub finance: Contact,
    /// IT admin.
    pub it_admin: Contact,
}

impl Contacts {
    /// The contact for `role`.
    pub fn get(&self, role: ContactRole) -> &Contact {
        match role {
            ContactRole::SecurityLead => &self.security_lead,
            ContactRole::PrivacyLead => &self.privacy_lead,
            ContactRole::Manager => &self.manager,
            ContactRole::Finance => &self.finance,
            ContactRole::ItAdmin => &self.it_admin,
        }
    }

    fn get_mut(&mut self, role: ContactRole) -> &mut Contact {
        match role {
            ContactRole::SecurityLead => &mut self.security_lead,
            ContactRole::PrivacyLead => &mut self.privacy_lead,
            ContactRole::Manager => &mut self.manager,
            ContactRole::Finance => &mut self.finance,
            ContactRole::ItAdmin => &mut self.it_admin,
        }
    }

    /// Each role with its contact, in print order.
    pub fn iter(&self) -> impl Iterator<Item = (ContactRole, &Contact)> {
        ContactRole::ALL
            .into_iter()
            .map(|role| (role, self.get(role)))
    }
}

/// The organisation's details.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organisation {
    /// The organisation's name as it should appear on paper.
    pub name: String,
    /// Who to call.
    pub contacts: Contacts,
    /// User principal names of the break-glass (emergency access) accounts.
    pub break_glass_accounts: Vec<String>,
    /// Whether the organisation is in scope of NIS2 (24-hour early warning); `None` until someone
    /// has decided, and the runbook then asks the question on paper.
    pub nis2_applies: Option<bool>,
    /// The paper the runbook and reports are printed on.
    pub paper: Paper,
}

/// Longest name, phone or email accepted; anything longer is a paste accident.
const MAX_FIELD: usize = 200;
/// More break-glass accounts than this is not a break-glass setup.
const MAX_BREAK_GLASS: usize = 10;

fn invalid(field: &'static str, problem: impl Into<String>) -> Error {
    Error::InvalidInput {
        field,
        problem: problem.into(),
    }
}

fn clean_field(field: &'static str, label: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    if value.chars().count() > MAX_FIELD {
        return Err(invalid(
            field,
            format!("{label} is longer than {MAX_FIELD} characters. Shorten it."),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("{label} contains a line break or control character. Keep it on one line."),
        ));
    }
    Ok(value.to_owned())
}

impl Organisation {
    /// The details with surrounding blanks trimmed and empty break-glass lines dropped, or an
    /// error naming the field to fix.
    pub fn validated(&self) -> Result<Self, Error> {
        let mut clean = Organisation {
            name: clean_field("name", "The organisation name", &self.name)?,
            nis2_applies: self.nis2_applies,
            paper: self.paper,
            ..Organisation::default()
        };
        for (role, contact) in self.contacts.iter() {
            let label = role.label();
            let target = clean.contacts.get_mut(role);
            target.name = clean_field("contacts", &format!("{label}: name"), &contact.name)?;
            target.phone = clean_field("contacts", &format!("{label}: phone"), &contact.phone)?;
            target.email = clean_field("contacts", &format!("{label}: email"), &contact.email)?;
            if !target.email.is_empty() && !target.email.contains('@') {
                return Err(invalid(
                    "contacts",
                    format!("{label}: \"{}\" is not an email address.", target.email),
                ));
            }
        }
        for account in &self.break_glass_accounts {
            let account = clean_field("breakGlassAccounts", "A break-glass account", account)?;
            if account.is_empty() {
                continue;
            }
            if !account.contains('@') || account.contains(char::is_whitespace) {
                return Err(invalid(
                    "breakGlassAccounts",
                    format!(
                        "\"{account}\" is not a user principal name. Enter the account's sign-in \
                         name, e.g. breakglass1@contoso.onmicrosoft.com."
                    ),
                ));
            }
            clean.break_glass_accounts.push(account);
        }
        if clean.break_glass_accounts.len() > MAX_BREAK_GLASS {
            return Err(invalid(
                "breakGlassAccounts",
                format!("List at most {MAX_BREAK_GLASS} break-glass accounts."),
            ));
        }
        Ok(clean)
    }
}

/// Reads the organisation's details; an organisation that was never configured reads as empty.
pub fn load(root: &DataRoot) -> Result<Organisation, Error> {
    load_from(&root.organisation_file())
}

fn load_from(path: &Path) -> Result<Organisation, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Organisation::default()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// Validates and saves the organisation's details, replacing the file atomically. Returns what was
/// stored.
pub fn save(root: &DataRoot, organisation: &Organisation) -> Result<Organisation, Error> {
    let clean = organisation.validated()?;
    let path = root.organisation_file();
    let json = serde_json::to_vec_pretty(&clean).map_err(|e| Error::ReportFailed {
        detail: format!("the organisation details could not be encoded ({e})"),
    })?;
    let temp = path.with_extension("json.partial");
    std::fs::write(&temp, &json).map_err(|e| Error::io("write", &temp, e))?;
    std::fs::rename(&temp, &path).map_err(|e| Error::io("replace", &path, e))?;
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, DataRoot) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = DataRoot::open(tmp.path()).expect("data root");
        (tmp, root)
    }

    #[test]
    fn an_unconfigured_organisation_reads_as_empty() {
        let (_tmp, root) = root();
        assert_eq!(load(&root).expect("load"), Organisation::default());
    }

    #[test]
    fn saved_details_read_back_trimmed() {
        let (_tmp, root) = root();
        let mut org = Organisation {
            name: "  Contoso Ltd ".into(),
            break_glass_accounts: vec![" bg1@contoso.onmicrosoft.com ".into(), "  ".into()],
            nis2_applies: Some(true),
            paper: Paper::Letter,
            ..Organisation::default()
        };
        org.contacts.privacy_lead = Contact {
            name: "Dana Weiß".into(),
            phone: "+49 30 1234".into(),
            email: "dpo@contoso.example".into(),
        };
        let stored = save(&root, &org).expect("save");
        assert_eq!(stored.name, "Contoso Ltd");
        assert_eq!(stored.break_glass_accounts, ["bg1@contoso.onmicrosoft.com"]);
        assert_eq!(load(&root).expect("load"), stored);
        let json = std::fs::read_to_string(root.organisation_file()).expect("file");
        assert!(
            json.contains("\"breakGlassAccounts\""),
            "camelCase on disk: {json}"
        );
        assert!(json.contains("\"paper\": \"letter\""), "{json}");
    }

    #[test]
    fn a_break_glass_entry_that_is_not_an_account_name_is_refused() {
        let (_tmp, root) = root();
        let org = Organisation {
            break_glass_accounts: vec!["Break glass".into()],
            ..Organisation::default()
        };
        let err = save(&root, &org).expect_err("not a UPN");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "breakGlassAccounts",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            !root.organisation_file().exists(),
            "nothing is written on refusal"
        );
    }

    #[test]
    fn control_characters_and_bad_emails_are_refused() {
        let mut org = Organisation::default();
        org.contacts.manager.name = "Eve\nMallory".into();
        assert!(org.validated().is_err());
        let mut org = Organisation::default();
        org.contacts.finance.email = "finance".into();
        let err = org.validated().expect_err("no @");
        assert!(err.to_string().contains("Finance"), "{err}");
    }

    #[test]
    fn a_damaged_file_is_reported_not_replaced() {
        let (_tmp, root) = root();
        std::fs::write(root.organisation_file(), "{not json").expect("write");
        assert!(matches!(load(&root), Err(Error::Corrupt { .. })));
    }
}
