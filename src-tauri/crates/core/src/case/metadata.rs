//! What the admin declares about an incident, and how an edit is turned into a list of changes.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// How the incident came to light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AlertSource {
    /// A Microsoft Defender or Entra ID Protection alert.
    DefenderAlert,
    /// A user reported something odd.
    UserReport,
    /// Finance or a vendor called about a payment or an invoice.
    FinanceOrVendorCall,
    /// Found while reviewing the audit log or sign-ins.
    AuditReview,
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    /// Active data theft.
    Critical,
    /// A compromised account.
    High,
    /// Suspicious, not confirmed.
    Medium,
}

/// A Microsoft 365 workload the incident touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Workload {
    /// Sign-ins, accounts, app consents (Entra ID).
    EntraId,
    /// Mailboxes (Exchange Online).
    ExchangeOnline,
    /// Files (SharePoint and OneDrive).
    SharePointOneDrive,
    /// Chats and meetings (Teams).
    Teams,
    /// Anything else (named in the indicators).
    Other,
}

/// Everything declared about an incident. Stored in the journal (`case_opened`,
/// `metadata_changed`) and, as a convenience copy, in `case.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseMetadata {
    /// A short name for the case list ("Invoice fraud — finance mailbox").
    pub title: String,
    /// When the compromise was detected (the alert's time, the call's time).
    pub detected_at: DateTime<Utc>,
    /// When the organisation became aware of it: the start of the GDPR 72-hour clock.
    pub aware_at: DateTime<Utc>,
    /// How it came to light.
    pub alert_source: AlertSource,
    /// What was seen first, one item per line.
    pub indicators: Vec<String>,
    /// Workloads concerned.
    pub affected_workloads: Vec<Workload>,
    /// How bad it is.
    pub severity: Severity,
    /// The accounts concerned, as user principal names.
    pub accounts: Vec<String>,
    /// Who leads the response.
    pub incident_commander: String,
    /// The ticket in another system, if any.
    pub external_ticket: Option<String>,
}

/// One field's value before and after an edit, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldChange {
    /// The field's name as in `case.json` (`severity`, `accounts`, ...).
    pub field: String,
    /// Its value before.
    pub old: Value,
    /// Its value after.
    pub new: Value,
}

const MAX_SHORT: usize = 200;
const MAX_INDICATOR: usize = 1000;
const MAX_ITEMS: usize = 100;
/// How far in the future a time may be before it is refused (clocks disagree a little).
const FUTURE_SLACK_MINUTES: i64 = 5;

impl CaseMetadata {
    /// Trims text, drops empty lines and duplicates, and checks every field.
    /// `now` comes from the injected clock.
    pub fn normalised(mut self, now: DateTime<Utc>) -> Result<Self, Error> {
        self.title = single_line("title", "The case name", &self.title, MAX_SHORT)?;
        if self.title.is_empty() {
            return invalid(
                "title",
                "Give the case a short name, e.g. \"Invoice fraud — j.doe\".",
            );
        }
        self.incident_commander = single_line(
            "incidentCommander",
            "The incident commander",
            &self.incident_commander,
            MAX_SHORT,
        )?;
        if self.incident_commander.is_empty() {
            return invalid(
                "incidentCommander",
                "Name the incident commander: the person who leads the response and decides.",
            );
        }
        self.external_ticket = match self.external_ticket.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(ticket) => Some(single_line(
                "externalTicket",
                "The ticket reference",
                ticket,
                MAX_SHORT,
            )?),
        };

        let mut accounts: Vec<String> = Vec::new();
        for account in &self.accounts {
            let account = account.trim();
            if account.is_empty() {
                continue;
            }
            check_upn(account)?;
            if !accounts.iter().any(|a| a.eq_ignore_ascii_case(account)) {
                accounts.push(account.to_owned());
            }
        }
        if accounts.is_empty() {
            return invalid(
                "accounts",
                "Name at least one account concerned, as its sign-in name (jane.doe@contoso.com).",
            );
        }
        if accounts.len() > MAX_ITEMS {
            return invalid(
                "accounts",
                &format!("At most {MAX_ITEMS} accounts per case."),
            );
        }
        self.accounts = accounts;

        let mut indicators: Vec<String> = Vec::new();
        for line in &self.indicators {
            let line = single_line("indicators", "An indicator", line, MAX_INDICATOR)?;
            if !line.is_empty() && !indicators.contains(&line) {
                indicators.push(line);
            }
        }
        if indicators.len() > MAX_ITEMS {
            return invalid("indicators", &format!("At most {MAX_ITEMS} indicators."));
        }
        self.indicators = indicators;

        self.affected_workloads.sort();
        self.affected_workloads.dedup();

        let latest = now + Duration::minutes(FUTURE_SLACK_MINUTES);
        if self.detected_at > latest {
            return invalid(
                "detectedAt",
                "The detection time is in the future. Check the date and the time zone.",
            );
        }
        if self.aware_at > latest {
            return invalid(
                "awareAt",
                "The awareness time is in the future. Check the date and the time zone.",
            );
        }
        if self.aware_at < self.detected_at {
            return invalid(
                "awareAt",
                "The awareness time is before the detection time. The organisation becomes aware \
                 when the detection is confirmed, so it cannot come first.",
            );
        }
        Ok(self)
    }

    /// The fields that differ between `self` (before) and `after`, in a fixed order.
    pub fn changes_to(&self, after: &Self) -> Vec<FieldChange> {
        let (Ok(Value::Object(old)), Ok(Value::Object(new))) =
            (serde_json::to_value(self), serde_json::to_value(after))
        else {
            return Vec::new();
        };
        let mut changes = Vec::new();
        for (field, new_value) in &new {
            let old_value = old.get(field).cloned().unwrap_or(Value::Null);
            if &old_value != new_value {
                changes.push(FieldChange {
                    field: field.clone(),
                    old: old_value,
                    new: new_value.clone(),
                });
            }
        }
        changes
    }
}

impl Severity {
    /// The word the UI and the report use.
    pub fn label(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
        }
    }
}

fn invalid<T>(field: &'static str, problem: &str) -> Result<T, Error> {
    Err(Error::InvalidInput {
        field,
        problem: problem.to_owned(),
    })
}

/// Trims `text` and refuses control characters (line breaks included) and over-long values.
fn single_line(field: &'static str, what: &str, text: &str, max: usize) -> Result<String, Error> {
    let text = text.trim();
    if text.chars().any(char::is_control) {
        return invalid(
            field,
            &format!("{what} contains a line break or a control character; keep it on one line."),
        );
    }
    if text.chars().count() > max {
        return invalid(
            field,
            &format!("{what} is longer than {max} characters; shorten it."),
        );
    }
    Ok(text.to_owned())
}

/// A user principal name: `local@domain`, one `@`, a dot in the domain, no spaces.
fn check_upn(account: &str) -> Result<(), Error> {
    let problem = || {
        invalid(
            "accounts",
            &format!(
                "\"{account}\" is not a sign-in name. Write each account as it signs in, e.g. \
                 jane.doe@contoso.com."
            ),
        )
    };
    if account.chars().count() > 256
        || account.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '"' | '<' | '>')
        })
    {
        return problem();
    }
    let mut parts = account.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None)
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.') =>
        {
            Ok(())
        }
        _ => problem(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    pub(crate) fn sample() -> CaseMetadata {
        CaseMetadata {
            title: "  Invoice fraud ".into(),
            detected_at: at("2026-03-01T21:40:00Z"),
            aware_at: at("2026-03-01T22:00:00Z"),
            alert_source: AlertSource::FinanceOrVendorCall,
            indicators: vec![
                "".into(),
                "forwarding rule to gmail".into(),
                "forwarding rule to gmail".into(),
            ],
            affected_workloads: vec![Workload::Teams, Workload::ExchangeOnline, Workload::Teams],
            severity: Severity::High,
            accounts: vec![
                "j.doe@contoso.com".into(),
                " J.Doe@contoso.com ".into(),
                "".into(),
            ],
            incident_commander: "Sam Admin".into(),
            external_ticket: Some("  ".into()),
        }
    }

    #[test]
    fn normalising_trims_and_removes_empty_and_duplicate_items() {
        let meta = sample()
            .normalised(at("2026-03-01T22:10:00Z"))
            .expect("valid");
        assert_eq!(meta.title, "Invoice fraud");
        assert_eq!(
            meta.accounts,
            vec!["j.doe@contoso.com"],
            "duplicates ignore case"
        );
        assert_eq!(meta.indicators, vec!["forwarding rule to gmail"]);
        assert_eq!(
            meta.affected_workloads,
            vec![Workload::ExchangeOnline, Workload::Teams]
        );
        assert_eq!(meta.external_ticket, None, "a blank ticket is no ticket");
    }

    #[test]
    fn a_case_without_accounts_or_with_a_malformed_account_is_refused_with_the_field() {
        let now = at("2026-03-01T22:10:00Z");
        let mut meta = sample();
        meta.accounts = vec![" ".into()];
        let err = meta.normalised(now).expect_err("no account");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "accounts",
                    ..
                }
            ),
            "{err}"
        );
        for bad in [
            "jdoe",
            "../../etc@x.com",
            "a@b@c.com",
            "a b@c.com",
            "a@localhost",
        ] {
            let mut meta = sample();
            meta.accounts = vec![bad.into()];
            let err = meta.normalised(now).expect_err(bad);
            assert!(
                err.to_string().contains("not a sign-in name"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn times_in_the_future_or_awareness_before_detection_are_refused() {
        let now = at("2026-03-01T22:10:00Z");
        let mut meta = sample();
        meta.detected_at = at("2026-03-02T09:00:00Z");
        meta.aware_at = meta.detected_at;
        let err = meta.normalised(now).expect_err("future");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "detectedAt",
                    ..
                }
            ),
            "{err}"
        );
        let mut meta = sample();
        meta.aware_at = at("2026-03-01T20:00:00Z");
        let err = meta.normalised(now).expect_err("aware before detected");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "awareAt",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_line_break_in_a_single_line_field_is_refused() {
        let mut meta = sample();
        meta.incident_commander = "Sam\nAdmin".into();
        let err = meta
            .normalised(at("2026-03-01T22:10:00Z"))
            .expect_err("newline");
        assert!(
            matches!(
                err,
                Error::InvalidInput {
                    field: "incidentCommander",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn changes_list_only_the_fields_that_differ_with_old_and_new_values() {
        let before = sample()
            .normalised(at("2026-03-01T22:10:00Z"))
            .expect("valid");
        let mut after = before.clone();
        after.severity = Severity::Critical;
        after.external_ticket = Some("INC-42".into());
        let changes = before.changes_to(&after);
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields.len(), 2, "{changes:?}");
        assert!(fields.contains(&"severity") && fields.contains(&"externalTicket"));
        let severity = changes
            .iter()
            .find(|c| c.field == "severity")
            .expect("severity");
        assert_eq!(severity.old, Value::String("high".into()));
        assert_eq!(severity.new, Value::String("critical".into()));
        assert!(before.changes_to(&before).is_empty());
    }
}
