//! Wire types of the organisation settings and the runbook, converted from and into the core types
//! with `From`.

use firebreak_core::{organisation as core, report};
use serde::{Deserialize, Serialize};
use specta::Type;

/// The paper documents are printed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum Paper {
    /// ISO A4.
    A4,
    /// US Letter.
    Letter,
}

impl From<report::Paper> for Paper {
    fn from(paper: report::Paper) -> Self {
        match paper {
            report::Paper::A4 => Paper::A4,
            report::Paper::Letter => Paper::Letter,
        }
    }
}

impl From<Paper> for report::Paper {
    fn from(paper: Paper) -> Self {
        match paper {
            Paper::A4 => report::Paper::A4,
            Paper::Letter => report::Paper::Letter,
        }
    }
}

/// One person to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationContact {
    /// Full name.
    pub name: String,
    /// Phone number.
    pub phone: String,
    /// Email address.
    pub email: String,
}

impl From<core::Contact> for OrganisationContact {
    fn from(c: core::Contact) -> Self {
        Self {
            name: c.name,
            phone: c.phone,
            email: c.email,
        }
    }
}

impl From<OrganisationContact> for core::Contact {
    fn from(c: OrganisationContact) -> Self {
        Self {
            name: c.name,
            phone: c.phone,
            email: c.email,
        }
    }
}

/// The contact for each role the runbook lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationContacts {
    /// Security lead.
    pub security_lead: OrganisationContact,
    /// Privacy lead / DPO.
    pub privacy_lead: OrganisationContact,
    /// Manager.
    pub manager: OrganisationContact,
    /// Finance.
    pub finance: OrganisationContact,
    /// IT admin.
    pub it_admin: OrganisationContact,
}

/// The organisation's details for the runbook and reports. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Organisation {
    /// The organisation's name.
    pub name: String,
    /// Who to call.
    pub contacts: OrganisationContacts,
    /// Sign-in names of the break-glass accounts.
    pub break_glass_accounts: Vec<String>,
    /// Whether NIS2 applies; `null` when not decided.
    pub nis2_applies: Option<bool>,
    /// The paper the runbook and reports are printed on.
    pub paper: Paper,
}

impl From<core::Organisation> for Organisation {
    fn from(o: core::Organisation) -> Self {
        let c = o.contacts;
        Self {
            name: o.name,
            contacts: OrganisationContacts {
                security_lead: c.security_lead.into(),
                privacy_lead: c.privacy_lead.into(),
                manager: c.manager.into(),
                finance: c.finance.into(),
                it_admin: c.it_admin.into(),
            },
            break_glass_accounts: o.break_glass_accounts,
            nis2_applies: o.nis2_applies,
            paper: o.paper.into(),
        }
    }
}

impl From<Organisation> for core::Organisation {
    fn from(o: Organisation) -> Self {
        let c = o.contacts;
        Self {
            name: o.name,
            contacts: core::Contacts {
                security_lead: c.security_lead.into(),
                privacy_lead: c.privacy_lead.into(),
                manager: c.manager.into(),
                finance: c.finance.into(),
                it_admin: c.it_admin.into(),
            },
            break_glass_accounts: o.break_glass_accounts,
            nis2_applies: o.nis2_applies,
            paper: o.paper.into(),
        }
    }
}

/// A document Firebreak wrote into its data folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SavedDocument {
    /// Where it is.
    pub path: String,
}
