//! Wire types of the Communication panel: the contact cards with their wording, and the contacts
//! the admin enters for a case. Converted from `firebreak_core::communication` with `From`.

use chrono::{DateTime, Utc};
use firebreak_core::{
    case::contacts::CaseContact,
    communication::{self, ContactSource},
};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{ContactChannel, ContactRole};

/// Where a contact's details came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ContactOrigin {
    /// Entered for this case.
    Case,
    /// The organisation's settings.
    Organisation,
    /// Nobody entered anything yet.
    Missing,
}

impl From<ContactSource> for ContactOrigin {
    fn from(source: ContactSource) -> Self {
        match source {
            ContactSource::Case => Self::Case,
            ContactSource::Organisation => Self::Organisation,
            ContactSource::Missing => Self::Missing,
        }
    }
}

/// Ready-to-adapt wording (plain text; render it as text).
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ContactDraft {
    /// What it is ("Phone script", ...).
    pub title: String,
    /// The wording, with line breaks.
    pub text: String,
    /// When it must have been given, if a rule sets a deadline.
    pub deadline: Option<DateTime<Utc>>,
}

/// One person to tell, with what to say.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ContactCard {
    /// Their role (also the role to log the notification under).
    pub role: ContactRole,
    /// The role as the panel names it.
    pub label: String,
    /// Their name.
    pub name: String,
    /// Their phone number.
    pub phone: String,
    /// Their email address.
    pub email: String,
    /// Where the details came from.
    pub origin: ContactOrigin,
    /// Whether this case needs them told.
    pub needed: bool,
    /// When and how to tell them.
    pub advice: String,
    /// The channel to log by default.
    pub channel: ContactChannel,
    /// What to say.
    pub draft: ContactDraft,
    /// When they were last logged as told.
    pub last_told: Option<DateTime<Utc>>,
}

/// The Communication panel of a case.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CommunicationView {
    /// Never the compromised mailbox or Teams.
    pub warning: String,
    /// Start of the GDPR 72-hour clock.
    pub aware_at: DateTime<Utc>,
    /// 72 hours after awareness.
    pub gdpr_deadline: DateTime<Utc>,
    /// Whether NIS2 applies (`null`: not decided in Settings).
    pub nis2_applies: Option<bool>,
    /// 24 hours after awareness, when NIS2 applies.
    pub nis2_deadline: Option<DateTime<Utc>>,
    /// The people to tell, in order.
    pub contacts: Vec<ContactCard>,
}

impl From<communication::Communication> for CommunicationView {
    fn from(c: communication::Communication) -> Self {
        Self {
            warning: c.warning,
            aware_at: c.aware_at,
            gdpr_deadline: c.gdpr_deadline,
            nis2_applies: c.nis2_applies,
            nis2_deadline: c.nis2_deadline,
            contacts: c
                .contacts
                .into_iter()
                .map(|k| ContactCard {
                    role: k.role.into(),
                    label: k.label,
                    name: k.name,
                    phone: k.phone,
                    email: k.email,
                    origin: k.source.into(),
                    needed: k.needed,
                    advice: k.advice,
                    channel: k.channel.into(),
                    draft: ContactDraft {
                        title: k.draft.title,
                        text: k.draft.text,
                        deadline: k.draft.deadline,
                    },
                    last_told: k.last_told,
                })
                .collect(),
        }
    }
}

/// A contact as the admin enters it for a case.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseContactInput {
    /// Their role.
    pub role: ContactRole,
    /// Their name.
    pub name: String,
    /// Their phone number.
    pub phone: String,
    /// Their email address.
    pub email: String,
}

impl From<CaseContactInput> for CaseContact {
    fn from(c: CaseContactInput) -> Self {
        Self {
            role: c.role.into(),
            name: c.name,
            phone: c.phone,
            email: c.email,
        }
    }
}
