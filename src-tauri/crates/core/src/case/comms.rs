//! The communication log: who was told about the incident, when, how, and what was said, with a
//! warning whenever the channel is one the attacker may be reading.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::metadata::CaseMetadata;
use crate::Error;

/// The recipient's role in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// The person whose account is compromised.
    User,
    /// Their manager.
    Manager,
    /// The security lead.
    SecurityLead,
    /// The privacy lead or data protection officer (GDPR 72-hour clock).
    PrivacyLead,
    /// Finance, when money may be at stake.
    Finance,
    /// The national CSIRT or competent authority (the NIS2 early warning).
    Authority,
    /// Anyone else (named in `recipient`).
    Other,
}

/// How they were told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Channel {
    /// A phone call.
    Phone,
    /// Face to face.
    InPerson,
    /// A text message.
    Sms,
    /// A personal (non-work) email address.
    PersonalEmail,
    /// A work email address in the organisation's tenant.
    WorkEmail,
    /// Microsoft Teams.
    Teams,
    /// Anything else.
    Other,
}

impl Role {
    /// How the UI and the report name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::User => "the affected user",
            Self::Manager => "their manager",
            Self::SecurityLead => "security lead",
            Self::PrivacyLead => "privacy lead / DPO",
            Self::Finance => "finance",
            Self::Authority => "CSIRT / authority",
            Self::Other => "other",
        }
    }
}

impl Channel {
    /// How the UI and the report name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::InPerson => "in person",
            Self::Sms => "text message",
            Self::PersonalEmail => "personal email",
            Self::WorkEmail => "work email",
            Self::Teams => "Teams",
            Self::Other => "another channel",
        }
    }
}

/// A notification as the admin enters it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewNotification {
    /// Their role in the response.
    pub role: Role,
    /// Who, by name.
    pub recipient: String,
    /// The address or number used, if any (`+44 20 ...`, `jane@contoso.com`).
    pub address: Option<String>,
    /// How.
    pub channel: Channel,
    /// When they were told.
    pub told_at: DateTime<Utc>,
    /// What was said, in a few lines.
    pub message: String,
}

/// Why a notification deserves a second look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningCode {
    /// The message went through the compromised account's mailbox or Teams, which the attacker
    /// may read, answer or delete.
    CompromisedChannel,
}

/// A structured warning the UI shows beside the notification; also journaled with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommsWarning {
    /// What kind of warning.
    pub code: WarningCode,
    /// What the admin should know and do.
    pub message: String,
}

/// A logged notification (`notification_logged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// Their role in the response.
    pub role: Role,
    /// Who.
    pub recipient: String,
    /// The address or number used.
    pub address: Option<String>,
    /// How.
    pub channel: Channel,
    /// When they were told.
    pub told_at: DateTime<Utc>,
    /// What was said.
    pub message: String,
    /// Warnings raised when it was logged.
    pub warnings: Vec<CommsWarning>,
}

const MAX_NAME: usize = 200;
const MAX_MESSAGE: usize = 4000;

/// Checks a notification and works out its warnings against the case's accounts.
pub fn record(case: &CaseMetadata, new: NewNotification) -> Result<NotificationRecord, Error> {
    let recipient = new.recipient.trim().to_owned();
    if recipient.is_empty() {
        return invalid("recipient", "Say who was told (a name or a team).");
    }
    if recipient.chars().count() > MAX_NAME || recipient.chars().any(char::is_control) {
        return invalid(
            "recipient",
            &format!("Keep the name on one line, at most {MAX_NAME} characters."),
        );
    }
    let address = new
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    if let Some(address) = &address {
        if address.chars().count() > MAX_NAME || address.chars().any(char::is_control) {
            return invalid(
                "address",
                &format!("Keep the address on one line, at most {MAX_NAME} characters."),
            );
        }
    }
    let message = new.message.trim().to_owned();
    if message.is_empty() {
        return invalid("message", "Write down what was said, even in a few words.");
    }
    if message.chars().count() > MAX_MESSAGE {
        return invalid(
            "message",
            &format!("Keep what was said under {MAX_MESSAGE} characters; attach longer texts as evidence."),
        );
    }
    let warnings = warnings(case, new.role, new.channel, address.as_deref());
    Ok(NotificationRecord {
        role: new.role,
        recipient,
        address,
        channel: new.channel,
        told_at: new.told_at,
        message,
        warnings,
    })
}

/// The warnings for telling `role` through `channel` at `address` in this case.
pub fn warnings(
    case: &CaseMetadata,
    role: Role,
    channel: Channel,
    address: Option<&str>,
) -> Vec<CommsWarning> {
    let in_tenant = matches!(channel, Channel::WorkEmail | Channel::Teams);
    let to_compromised_address = address.is_some_and(|address| {
        case.accounts
            .iter()
            .any(|account| address.eq_ignore_ascii_case(account))
    });
    let channel_name = match channel {
        Channel::Teams => "Teams",
        _ => "mailbox",
    };
    if in_tenant && (role == Role::User || to_compromised_address) {
        vec![CommsWarning {
            code: WarningCode::CompromisedChannel,
            message: format!(
                "This went through the compromised account's {channel_name}. The attacker may \
                 read it, answer it or delete it. Reach the user by phone or in person, and \
                 confirm by a channel the attacker cannot see."
            ),
        }]
    } else if to_compromised_address {
        vec![CommsWarning {
            code: WarningCode::CompromisedChannel,
            message: "The address is one of the compromised accounts. The attacker may read \
                      anything sent there; use the phone or meet in person."
                .into(),
        }]
    } else {
        Vec::new()
    }
}

fn invalid<T>(field: &'static str, problem: &str) -> Result<T, Error> {
    Err(Error::InvalidInput {
        field,
        problem: problem.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::metadata::{AlertSource, Severity};

    fn case() -> CaseMetadata {
        CaseMetadata {
            title: "t".into(),
            detected_at: Utc::now(),
            aware_at: Utc::now(),
            alert_source: AlertSource::UserReport,
            indicators: vec![],
            affected_workloads: vec![],
            severity: Severity::High,
            accounts: vec!["j.doe@contoso.com".into()],
            incident_commander: "Sam".into(),
            external_ticket: None,
        }
    }

    #[test]
    fn telling_the_user_by_work_email_or_teams_warns_and_by_phone_does_not() {
        let c = case();
        for channel in [Channel::WorkEmail, Channel::Teams] {
            let w = warnings(&c, Role::User, channel, None);
            assert_eq!(w.len(), 1, "{channel:?} must warn");
            assert_eq!(w[0].code, WarningCode::CompromisedChannel);
        }
        for channel in [
            Channel::Phone,
            Channel::InPerson,
            Channel::Sms,
            Channel::PersonalEmail,
        ] {
            assert!(
                warnings(&c, Role::User, channel, None).is_empty(),
                "{channel:?}"
            );
        }
        assert!(
            warnings(&c, Role::Manager, Channel::Teams, Some("boss@contoso.com")).is_empty(),
            "the manager's own Teams is not the compromised one"
        );
    }

    #[test]
    fn writing_to_a_compromised_address_warns_whatever_the_role() {
        let w = warnings(
            &case(),
            Role::Other,
            Channel::WorkEmail,
            Some("J.DOE@contoso.com"),
        );
        assert_eq!(w.len(), 1);
        let w = warnings(
            &case(),
            Role::Other,
            Channel::Other,
            Some("j.doe@contoso.com"),
        );
        assert_eq!(
            w.len(),
            1,
            "any channel to that address reaches the attacker"
        );
    }

    #[test]
    fn a_notification_needs_a_recipient_and_what_was_said() {
        let new = NewNotification {
            role: Role::Manager,
            recipient: "  ".into(),
            address: None,
            channel: Channel::Phone,
            told_at: Utc::now(),
            message: "x".into(),
        };
        let err = record(&case(), new.clone()).expect_err("no recipient");
        assert!(matches!(
            err,
            Error::InvalidInput {
                field: "recipient",
                ..
            }
        ));
        let err = record(
            &case(),
            NewNotification {
                recipient: "Ann".into(),
                message: " ".into(),
                ..new
            },
        )
        .expect_err("no message");
        assert!(matches!(
            err,
            Error::InvalidInput {
                field: "message",
                ..
            }
        ));
    }
}
