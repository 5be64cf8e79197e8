//! Wire types of the case file: what the case screens send and receive. Each converts from (or
//! into) the core type with `From`/`TryFrom`. Byte counts travel as `f64` (exact up to 2^53) and are
//! typed `number` for TypeScript (`#[specta(type = u32)]`: specta would otherwise allow `null` for
//! the NaN a float could hold, which these counts never are).

use chrono::{DateTime, Utc};
use firebreak_core::{
    bundle,
    case::{self, comms, evidence, journal, metadata, steps},
};
use serde::{Deserialize, Serialize};
use specta::Type;

use super::{IpcError, IpcErrorKind};

/// How the incident came to light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum AlertSource {
    /// A Microsoft Defender or Entra ID Protection alert.
    DefenderAlert,
    /// A user reported something odd.
    UserReport,
    /// Finance or a vendor called.
    FinanceOrVendorCall,
    /// Found while reviewing logs.
    AuditReview,
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum IncidentSeverity {
    /// Active data theft.
    Critical,
    /// A compromised account.
    High,
    /// Suspicious.
    Medium,
}

/// A Microsoft 365 workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum AffectedWorkload {
    /// Entra ID.
    EntraId,
    /// Exchange Online.
    ExchangeOnline,
    /// SharePoint and OneDrive.
    SharePointOneDrive,
    /// Teams.
    Teams,
    /// Anything else.
    Other,
}

/// The recipient's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ContactRole {
    /// The person whose account is compromised.
    User,
    /// Their manager.
    Manager,
    /// The security lead.
    SecurityLead,
    /// The privacy lead or DPO.
    PrivacyLead,
    /// Finance.
    Finance,
    /// The CSIRT or competent authority (NIS2 early warning).
    Authority,
    /// Anyone else.
    Other,
}

/// How someone was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ContactChannel {
    /// Phone call.
    Phone,
    /// Face to face.
    InPerson,
    /// Text message.
    Sms,
    /// Personal email address.
    PersonalEmail,
    /// Work email address.
    WorkEmail,
    /// Microsoft Teams.
    Teams,
    /// Anything else.
    Other,
}

macro_rules! mirror {
    ($wire:ident, $core:path, [$($variant:ident),+]) => {
        impl From<$wire> for $core {
            fn from(value: $wire) -> Self {
                match value { $($wire::$variant => Self::$variant),+ }
            }
        }
        impl From<$core> for $wire {
            fn from(value: $core) -> Self {
                match value { $(<$core>::$variant => Self::$variant),+ }
            }
        }
    };
}

mirror!(
    AlertSource,
    metadata::AlertSource,
    [DefenderAlert, UserReport, FinanceOrVendorCall, AuditReview]
);
mirror!(
    IncidentSeverity,
    metadata::Severity,
    [Critical, High, Medium]
);
mirror!(
    AffectedWorkload,
    metadata::Workload,
    [EntraId, ExchangeOnline, SharePointOneDrive, Teams, Other]
);
mirror!(
    ContactRole,
    comms::Role,
    [
        User,
        Manager,
        SecurityLead,
        PrivacyLead,
        Finance,
        Authority,
        Other
    ]
);
mirror!(
    ContactChannel,
    comms::Channel,
    [Phone, InPerson, Sms, PersonalEmail, WorkEmail, Teams, Other]
);

/// A case's details, as the declare and edit forms send them and the case page shows them.
/// Times are ISO 8601 / RFC 3339 strings.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseDetails {
    /// A short name.
    pub title: String,
    /// When it was detected.
    pub detected_at: String,
    /// When the organisation became aware (GDPR clock).
    pub aware_at: String,
    /// How it came to light.
    pub alert_source: AlertSource,
    /// What was seen first.
    pub indicators: Vec<String>,
    /// Workloads concerned.
    pub affected_workloads: Vec<AffectedWorkload>,
    /// How bad it is.
    pub severity: IncidentSeverity,
    /// Accounts concerned (sign-in names).
    pub accounts: Vec<String>,
    /// Who leads the response.
    pub incident_commander: String,
    /// A ticket elsewhere.
    pub external_ticket: Option<String>,
}

fn parse_time(label: &str, text: &str) -> Result<DateTime<Utc>, IpcError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| IpcError {
            kind: IpcErrorKind::Invalid,
            message: format!("{label} is not a date and time. Pick one with the date picker."),
        })
}

impl TryFrom<CaseDetails> for metadata::CaseMetadata {
    type Error = IpcError;
    fn try_from(d: CaseDetails) -> Result<Self, IpcError> {
        Ok(Self {
            title: d.title,
            detected_at: parse_time("The detection time", &d.detected_at)?,
            aware_at: parse_time("The awareness time", &d.aware_at)?,
            alert_source: d.alert_source.into(),
            indicators: d.indicators,
            affected_workloads: d.affected_workloads.into_iter().map(Into::into).collect(),
            severity: d.severity.into(),
            accounts: d.accounts,
            incident_commander: d.incident_commander,
            external_ticket: d.external_ticket,
        })
    }
}

impl From<metadata::CaseMetadata> for CaseDetails {
    fn from(m: metadata::CaseMetadata) -> Self {
        Self {
            title: m.title,
            detected_at: m
                .detected_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            aware_at: m
                .aware_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            alert_source: m.alert_source.into(),
            indicators: m.indicators,
            affected_workloads: m.affected_workloads.into_iter().map(Into::into).collect(),
            severity: m.severity.into(),
            accounts: m.accounts,
            incident_commander: m.incident_commander,
            external_ticket: m.external_ticket,
        }
    }
}

/// Whether a journal's chain holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum JournalState {
    /// Every entry chains to the one before.
    Intact,
    /// The last line was cut off by a crash; the rest is intact.
    TornTail,
    /// An entry was altered or damaged.
    Broken,
}

/// A journal's state with the sentence that explains it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JournalHealth {
    /// The state.
    pub state: JournalState,
    /// What it means, for the admin.
    pub description: String,
}

impl From<journal::JournalHealth> for JournalHealth {
    fn from(health: journal::JournalHealth) -> Self {
        let state = match health {
            journal::JournalHealth::Intact => JournalState::Intact,
            journal::JournalHealth::TornTail { .. } => JournalState::TornTail,
            journal::JournalHealth::Broken { .. } => JournalState::Broken,
        };
        Self {
            state,
            description: health.describe(),
        }
    }
}

/// A line of the case list.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseSummary {
    /// The case id.
    pub id: String,
    /// Its name.
    pub title: String,
    /// How bad it is.
    pub severity: IncidentSeverity,
    /// Accounts concerned.
    pub accounts: Vec<String>,
    /// When declared.
    pub opened_at: DateTime<Utc>,
    /// When detected.
    pub detected_at: DateTime<Utc>,
    /// When the organisation became aware.
    pub aware_at: DateTime<Utc>,
    /// The journal's state.
    pub journal: JournalHealth,
    /// Steps waiting for re-verification.
    pub interrupted_steps: u32,
}

impl From<case::CaseSummary> for CaseSummary {
    fn from(s: case::CaseSummary) -> Self {
        Self {
            id: s.id.to_string(),
            title: s.title,
            severity: s.severity.into(),
            accounts: s.accounts,
            opened_at: s.opened_at,
            detected_at: s.detected_at,
            aware_at: s.aware_at,
            journal: s.health.into(),
            interrupted_steps: u32::try_from(s.interrupted_steps).unwrap_or(u32::MAX),
        }
    }
}

/// One journal entry for the timeline.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position, from 1.
    pub seq: u32,
    /// When.
    pub time: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// The record kind (`case_opened`, ...).
    pub kind: String,
    /// The step, if any.
    pub step: Option<String>,
    /// One line describing it.
    pub summary: String,
    /// The full record, as indented JSON.
    pub details: String,
    /// Its SHA-256.
    pub hash: String,
}

impl From<journal::JournalEntry> for JournalEntry {
    fn from(e: journal::JournalEntry) -> Self {
        Self {
            seq: u32::try_from(e.seq).unwrap_or(u32::MAX),
            time: e.time,
            summary: case::describe_entry(&e),
            actor: e.actor,
            kind: e.kind.as_str().to_owned(),
            step: e.step,
            details: serde_json::to_string_pretty(&e.details).unwrap_or_default(),
            hash: e.hash,
        }
    }
}

/// An artefact in the evidence folder.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceItem {
    /// Path inside the case folder.
    pub file: String,
    /// Size in bytes.
    #[specta(type = u32)]
    pub size: f64,
    /// SHA-256, hex.
    pub sha256: String,
    /// What it is.
    pub description: String,
    /// The operation that produced it.
    pub source_operation: String,
    /// When it was captured.
    pub captured_at: DateTime<Utc>,
}

impl From<evidence::EvidenceRecord> for EvidenceItem {
    fn from(r: evidence::EvidenceRecord) -> Self {
        Self {
            file: r.file,
            size: r.size as f64,
            sha256: r.sha256,
            description: r.description,
            source_operation: r.source_operation,
            captured_at: r.captured_at,
        }
    }
}

/// A warning attached to a notification.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CommsWarning {
    /// Stable code for the UI (`compromisedChannel`).
    pub code: String,
    /// What the admin should know.
    pub message: String,
}

/// A logged notification.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseNotification {
    /// Their role.
    pub role: ContactRole,
    /// Who.
    pub recipient: String,
    /// Address or number used.
    pub address: Option<String>,
    /// How.
    pub channel: ContactChannel,
    /// When.
    pub told_at: DateTime<Utc>,
    /// What was said.
    pub message: String,
    /// Warnings raised.
    pub warnings: Vec<CommsWarning>,
}

impl From<comms::NotificationRecord> for CaseNotification {
    fn from(n: comms::NotificationRecord) -> Self {
        Self {
            role: n.role.into(),
            recipient: n.recipient,
            address: n.address,
            channel: n.channel.into(),
            told_at: n.told_at,
            message: n.message,
            warnings: n
                .warnings
                .into_iter()
                .map(|w| CommsWarning {
                    code: match w.code {
                        comms::WarningCode::CompromisedChannel => "compromisedChannel".into(),
                    },
                    message: w.message,
                })
                .collect(),
        }
    }
}

/// A notification as the form sends it.
#[derive(Debug, Clone, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct NotificationInput {
    /// Their role.
    pub role: ContactRole,
    /// Who.
    pub recipient: String,
    /// Address or number used.
    pub address: Option<String>,
    /// How.
    pub channel: ContactChannel,
    /// When (RFC 3339).
    pub told_at: String,
    /// What was said.
    pub message: String,
}

impl TryFrom<NotificationInput> for comms::NewNotification {
    type Error = IpcError;
    fn try_from(n: NotificationInput) -> Result<Self, IpcError> {
        Ok(Self {
            role: n.role.into(),
            recipient: n.recipient,
            address: n.address,
            channel: n.channel.into(),
            told_at: parse_time("The time they were told", &n.told_at)?,
            message: n.message,
        })
    }
}

/// A procedure step's state.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseStep {
    /// The step id.
    pub step: String,
    /// `running`, `interrupted`, `finished`, `failed`, `skipped` or `readyToRetry`.
    pub state: String,
    /// For finished steps: whether the effect was verified.
    pub verified: Option<bool>,
    /// For failed or skipped steps: why.
    pub reason: Option<String>,
    /// Since when.
    pub since: DateTime<Utc>,
    /// How many times it was started.
    pub attempts: u32,
}

impl From<steps::StepState> for CaseStep {
    fn from(s: steps::StepState) -> Self {
        let (state, verified, reason) = match s.status {
            steps::StepStatus::Running => ("running", None, None),
            steps::StepStatus::Interrupted => ("interrupted", None, None),
            steps::StepStatus::Finished { verified } => ("finished", Some(verified), None),
            steps::StepStatus::Failed { reason } => ("failed", None, Some(reason)),
            steps::StepStatus::Skipped { reason } => ("skipped", None, Some(reason)),
            steps::StepStatus::ReadyToRetry => ("readyToRetry", None, None),
        };
        Self {
            step: s.step,
            state: state.into(),
            verified,
            reason,
            since: s.since,
            attempts: s.attempts,
        }
    }
}

/// Everything the case page shows.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseView {
    /// The case id.
    pub id: String,
    /// The case folder on disk.
    pub folder: String,
    /// When declared.
    pub opened_at: DateTime<Utc>,
    /// The current details.
    pub details: CaseDetails,
    /// The id of the tenant profile the response acts on, chosen at declaration; null for
    /// practice cases and for cases declared before it was recorded.
    pub tenant_profile: Option<String>,
    /// The journal's state.
    pub journal: JournalHealth,
    /// True when nothing more may be recorded.
    pub read_only: bool,
    /// The journal, oldest first.
    pub entries: Vec<JournalEntry>,
    /// The evidence.
    pub evidence: Vec<EvidenceItem>,
    /// The communication log.
    pub notifications: Vec<CaseNotification>,
    /// Steps the journal mentions.
    pub steps: Vec<CaseStep>,
}

impl From<case::CaseView> for CaseView {
    fn from(v: case::CaseView) -> Self {
        Self {
            read_only: v.read_only(),
            id: v.id.to_string(),
            folder: v.folder.display().to_string(),
            opened_at: v.opened_at,
            details: v.metadata.into(),
            tenant_profile: v.tenant_profile.map(|p| p.to_string()),
            journal: v.health.into(),
            entries: v.journal.into_iter().map(Into::into).collect(),
            evidence: v.evidence.into_iter().map(Into::into).collect(),
            notifications: v.notifications.into_iter().map(Into::into).collect(),
            steps: v.steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// Progress of an export or a verification.
#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ByteProgress {
    /// Bytes done.
    #[specta(type = u32)]
    pub bytes_done: f64,
    /// Bytes in all.
    #[specta(type = u32)]
    pub bytes_total: f64,
}

impl From<bundle::Progress> for ByteProgress {
    fn from(p: bundle::Progress) -> Self {
        Self {
            bytes_done: p.bytes_done as f64,
            bytes_total: p.bytes_total as f64,
        }
    }
}

impl IpcError {
    /// A background task ended without an answer (it panicked or the runtime stopped).
    pub fn interrupted(error: impl std::fmt::Display) -> Self {
        log::error!("background task ended abnormally: {error}");
        Self {
            kind: IpcErrorKind::Failed,
            message: "The operation stopped unexpectedly. Try again; if it happens again, send \
                      the log file to whoever supports Firebreak."
                .into(),
        }
    }
}

/// A written bundle.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BundleWritten {
    /// Where it is.
    pub path: String,
    /// Case files in it.
    pub files: u32,
    /// Their total size.
    #[specta(type = u32)]
    pub bytes: f64,
    /// SHA-256 of its SHA256SUMS file.
    pub sums_sha256: String,
}

impl From<bundle::BundleSummary> for BundleWritten {
    fn from(s: bundle::BundleSummary) -> Self {
        Self {
            path: s.path.display().to_string(),
            files: u32::try_from(s.files).unwrap_or(u32::MAX),
            bytes: s.bytes as f64,
            sums_sha256: s.sums_sha256,
        }
    }
}

/// What a verification found.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BundleVerification {
    /// The bundle.
    pub bundle: String,
    /// The case it holds.
    pub case_id: Option<String>,
    /// True when everything matches.
    pub intact: bool,
    /// Files checked.
    pub checked: u32,
    /// Altered files.
    pub altered: Vec<String>,
    /// Missing files.
    pub missing: Vec<String>,
    /// Extra files.
    pub extra: Vec<String>,
    /// The journal's chain, when the bundle holds one.
    pub journal: Option<JournalHealth>,
    /// Anything else wrong.
    pub problems: Vec<String>,
}

impl From<bundle::VerifyReport> for BundleVerification {
    fn from(r: bundle::VerifyReport) -> Self {
        Self {
            bundle: r.bundle.display().to_string(),
            case_id: r.case_id,
            intact: r.intact,
            checked: u32::try_from(r.checked).unwrap_or(u32::MAX),
            altered: r.altered,
            missing: r.missing,
            extra: r.extra,
            journal: r.journal.map(Into::into),
            problems: r.problems,
        }
    }
}
