//! From a case to its incident report and timeline: everything [`IncidentReport`] says is derived
//! here from what the case recorded, never typed in twice and never hard-coded.
//!
//! Sources, all read from the [`CaseView`]:
//! - the metadata (title, severity, detection and awareness times, accounts, commander);
//! - the journal: triage's confirmed kind, signals, chain and incident window; every step's plan,
//!   selection, read-back and reason; the blast-radius checks' `checkResult`; lessons learned
//!   ([`EntryKind::LessonsRecorded`]);
//! - the evidence folder: the tenant's own logs saved by the steps (sign-ins, directory audits,
//!   risk detections, Defender alerts and incidents, unified audit log records) are parsed page by
//!   page into timeline events, so the timeline shows the attacker's minutes, not only ours;
//! - the communication log.
//!
//! Every string from the tenant stays text: it goes into the PDF through the layout layer, which
//! neutralises direction overrides and invisible characters, and into the CSV through
//! [`super::timeline::spreadsheet_safe`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::incident::{
    self, recommendations_for, ActionOutcome, ActionRecord, CaseSummary, CheckResult, CheckStatus,
    Communication, CompromiseKind, EvidenceItem, ExecutiveSummary, IncidentReport, LessonsLearned,
    Scope,
};
use super::runbook::BLAST_RADIUS_CHECKS;
use super::timeline::{self, TimelineEvent};
use super::Paper;
use crate::{
    case::{
        journal::{EntryKind, JournalEntry},
        metadata::{AlertSource, Workload},
        steps::StepStatus,
        CaseId, CaseStore, CaseView, REPORTS_DIR,
    },
    organisation,
    paths::DataRoot,
    procedure::{blast, catalogue::Catalogue, Phase, Position, StepView},
    tenant, Error,
};

/// The incident report's file name (in a case's `reports/` folder and in the bundle).
pub const REPORT_FILE: &str = "incident-report.pdf";
/// The timeline's CSV file name.
pub const TIMELINE_CSV: &str = "timeline.csv";
/// The timeline's JSON lines file name.
pub const TIMELINE_JSONL: &str = "timeline.jsonl";

/// Evidence files larger than this are listed but not parsed into the timeline (a Graph page of a
/// thousand sign-ins is about 3 MB; the parse holds the whole page in memory).
const MAX_PARSED_EVIDENCE: u64 = 16 * 1024 * 1024;
/// Longest lessons-learned field accepted.
const MAX_LESSON: usize = 4000;

/// What the report needs besides the case: who prints it, for which tenant, on which paper, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportContext {
    /// The organisation's name ("" prints a dash).
    pub organisation: String,
    /// The tenant, as its primary domain.
    pub tenant: String,
    /// Whether NIS2 applies (its 24-hour early warning becomes a decision to take).
    pub nis2_applies: Option<bool>,
    /// The paper configured in the organisation settings.
    pub paper: Paper,
    /// When the report is generated (from the injected clock); its offset is used for every time.
    pub generated_at: DateTime<FixedOffset>,
}

impl ReportContext {
    /// The context from the organisation settings in `root` and the case's tenant profile (or,
    /// for practice cases, the domain of its first account).
    pub fn load(
        root: &DataRoot,
        view: &CaseView,
        generated_at: DateTime<FixedOffset>,
    ) -> Result<Self, Error> {
        let org = organisation::load(root)?;
        let profile_domain = view
            .tenant_profile
            .as_ref()
            .and_then(|id| tenant::get_profile(root, id).ok())
            .map(|p| p.tenant)
            .filter(|t| t.contains('.'));
        let account_domain = view
            .metadata
            .accounts
            .first()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, domain)| domain.to_owned());
        Ok(Self {
            organisation: org.name.trim().to_owned(),
            tenant: profile_domain.or(account_domain).unwrap_or_default(),
            nis2_applies: org.nis2_applies,
            paper: org.paper,
            generated_at,
        })
    }
}

/// The three files of a report: the PDF and the timeline as CSV and JSON lines.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The incident report.
    pub pdf: Vec<u8>,
    /// The timeline as CSV (spreadsheet-safe).
    pub csv: Vec<u8>,
    /// The timeline as JSON lines (exact values).
    pub jsonl: Vec<u8>,
    /// How many pages the PDF has.
    pub pages: usize,
}

/// Builds the report and renders all three files.
pub fn render_files(view: &CaseView, cx: &ReportContext) -> Result<ReportFiles, Error> {
    let report = build(view, cx);
    let (pdf, pages) = incident::render_counted(&report, cx.paper)?;
    let events = self::timeline(view, *cx.generated_at.offset());
    let mut csv = Vec::new();
    timeline::write_csv(&events, &mut csv)?;
    let mut jsonl = Vec::new();
    timeline::write_jsonl(&events, &mut jsonl)?;
    Ok(ReportFiles {
        pdf,
        csv,
        jsonl,
        pages,
    })
}

/// Writes the report files into the case's `reports/` folder (replacing the previous generation)
/// and returns their paths inside the case folder. Called when a bundle is exported, so the
/// bundle carries the report as of that moment.
pub fn write_into_case(view: &CaseView, cx: &ReportContext) -> Result<Vec<String>, Error> {
    let files = render_files(view, cx)?;
    let dir = view.folder.join(REPORTS_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let mut written = Vec::new();
    for (name, bytes) in [
        (REPORT_FILE, &files.pdf),
        (TIMELINE_CSV, &files.csv),
        (TIMELINE_JSONL, &files.jsonl),
    ] {
        crate::case::durable::write_atomic(&dir.join(name), bytes)?;
        written.push(format!("{REPORTS_DIR}/{name}"));
    }
    Ok(written)
}

/// Where a saved report's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedReport {
    /// The incident report.
    pub pdf: std::path::PathBuf,
    /// The timeline as CSV.
    pub csv: std::path::PathBuf,
    /// The timeline as JSON lines.
    pub jsonl: std::path::PathBuf,
    /// How many pages the report has.
    pub pages: usize,
}

/// The folder saved reports go to: the data folder's `exports/`, beside the evidence bundles.
pub fn exports_dir(root: &DataRoot) -> std::path::PathBuf {
    root.path().join("exports")
}

/// Renders the report of case `id` and saves the PDF and the timeline into the data folder's
/// `exports/` as `<case>-incident-report-<time>.pdf` (and `.csv`, `.jsonl` for the timeline).
/// Names come from the case id and the time only, never from tenant text; nothing is overwritten.
pub fn save_in_exports(
    store: &CaseStore,
    id: &CaseId,
    generated_at: DateTime<FixedOffset>,
) -> Result<SavedReport, Error> {
    let view = store.case(id)?;
    let cx = ReportContext::load(store.data_root(), &view, generated_at)?;
    let files = render_files(&view, &cx)?;
    let dir = exports_dir(store.data_root());
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;
    let stem = format!(
        "{id}-incident-report-{}",
        generated_at.format("%Y%m%d-%H%M%S")
    );
    let mut n = 1;
    let mut base = dir.join(&stem);
    while base.with_extension("pdf").exists() {
        n += 1;
        base = dir.join(format!("{stem}-{n}"));
    }
    let pdf = base.with_extension("pdf");
    let csv = base.with_extension("timeline.csv");
    let jsonl = base.with_extension("timeline.jsonl");
    for (path, bytes) in [
        (&csv, &files.csv),
        (&jsonl, &files.jsonl),
        (&pdf, &files.pdf),
    ] {
        crate::case::durable::write_atomic(path, bytes)?;
    }
    Ok(SavedReport {
        pdf,
        csv,
        jsonl,
        pages: files.pages,
    })
}

/// Renders the incident report of case `id` and writes the PDF to `path` (the command line's
/// `--report`). Returns how many pages it has.
pub fn write_pdf(
    store: &CaseStore,
    id: &CaseId,
    path: &std::path::Path,
    generated_at: DateTime<FixedOffset>,
) -> Result<usize, Error> {
    let view = store.case(id)?;
    let cx = ReportContext::load(store.data_root(), &view, generated_at)?;
    let (pdf, pages) = incident::render_counted(&build(&view, &cx), cx.paper)?;
    std::fs::write(path, pdf).map_err(|e| Error::io("write the report", path, e))?;
    Ok(pages)
}

/// What the Report step shows: the first page and the lessons-learned fields to edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportView {
    /// The report's first page drawn for the screen, with the page count and paper.
    pub preview: super::preview::PagePreview,
    /// The lessons learned as last recorded.
    pub lessons: LessonsLearned,
}

/// The report's first page drawn for the screen, and the lessons-learned fields.
pub fn preview(
    store: &CaseStore,
    id: &CaseId,
    generated_at: DateTime<FixedOffset>,
) -> Result<ReportView, Error> {
    let view = store.case(id)?;
    let cx = ReportContext::load(store.data_root(), &view, generated_at)?;
    let report = build(&view, &cx);
    Ok(ReportView {
        preview: incident::preview(&report, cx.paper)?,
        lessons: report.lessons,
    })
}

/// Checks that `path` is a report file Firebreak saved in the data folder's `exports/` (a PDF or
/// a timeline) and returns it resolved. The UI may only ask to open such files, so a webview
/// that went wrong cannot use "open" to launch anything else on the machine.
pub fn saved_file(root: &DataRoot, path: &std::path::Path) -> Result<std::path::PathBuf, Error> {
    let refuse = || Error::InvalidInput {
        field: "path",
        problem: "Firebreak only opens the reports it saved in its exports folder.".into(),
    };
    let exports = exports_dir(root).canonicalize().map_err(|_| refuse())?;
    let file = path.canonicalize().map_err(|_| refuse())?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(refuse)?;
    let ours = name.contains("-incident-report-")
        && [".pdf", ".timeline.csv", ".timeline.jsonl"]
            .iter()
            .any(|ext| name.ends_with(ext));
    if file.parent() == Some(exports.as_path()) && ours && file.is_file() {
        Ok(file)
    } else {
        Err(refuse())
    }
}

/// The lessons-learned fields as last recorded (empty until someone writes them).
pub fn lessons(view: &CaseView) -> LessonsLearned {
    view.journal
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::LessonsRecorded)
        .and_then(|e| e.details.get("lessons").cloned())
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// Journals the lessons-learned fields (all three, as they now read). Nothing is journaled when
/// they did not change. Returns whether they changed.
pub fn record_lessons(
    store: &CaseStore,
    id: &CaseId,
    actor: &str,
    lessons: &LessonsLearned,
) -> Result<bool, Error> {
    let clean = LessonsLearned {
        went_well: clean_lesson("wentWell", &lessons.went_well)?,
        to_improve: clean_lesson("toImprove", &lessons.to_improve)?,
        follow_ups: clean_lesson("followUps", &lessons.follow_ups)?,
    };
    let view = store.case(id)?;
    if self::lessons(&view) == clean {
        return Ok(false);
    }
    store.record(
        id,
        actor,
        EntryKind::LessonsRecorded,
        json!({ "lessons": clean }),
    )?;
    Ok(true)
}

fn clean_lesson(field: &'static str, text: &str) -> Result<String, Error> {
    let text = text.trim().replace("\r\n", "\n");
    if text.chars().count() > MAX_LESSON {
        return Err(Error::InvalidInput {
            field,
            problem: format!("Keep each lessons-learned field under {MAX_LESSON} characters."),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(Error::InvalidInput {
            field,
            problem: "The text contains a control character; retype it without pasting.".into(),
        });
    }
    Ok(text)
}

/// One step of a procedure with what the journal says about it.
struct StepRecord {
    account: String,
    view: StepView,
    /// `detail` of the last `step_started` entry.
    started: Option<Value>,
    /// `detail` of the last `step_finished` entry.
    finished: Option<Value>,
}

impl StepRecord {
    fn phase(&self) -> Phase {
        self.view.info.phase
    }

    fn title(&self) -> &str {
        self.view.info.title
    }

    fn is_done(&self) -> bool {
        self.view.position == Position::Done
    }

    /// Labels of the plan items the step acted on (`done`, else the selection).
    fn acted_on(&self) -> Vec<String> {
        let Some(started) = &self.started else {
            return Vec::new();
        };
        let ids: Vec<&str> = self
            .finished
            .as_ref()
            .and_then(|f| f.get("done"))
            .or_else(|| started.get("selected"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let items = started.get("items").and_then(Value::as_array);
        ids.iter()
            .filter_map(|id| {
                items?
                    .iter()
                    .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
            })
            .map(|item| {
                let kind = text(item, "kind");
                let label = text(item, "label");
                let named = if kind.is_empty() || kind == "Account" {
                    label
                } else {
                    format!("{kind}: {label}")
                };
                match flag_of(item) {
                    Some(flag) => format!("{named} ({flag})"),
                    None => named,
                }
            })
            .collect()
    }

    /// Plan rows flagged as look-alike or unverified apps that the step did not act on.
    fn flagged_left(&self) -> Vec<String> {
        let Some(started) = &self.started else {
            return Vec::new();
        };
        let acted = self.acted_on();
        started
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let flag = flag_of(item)?;
                let label = text(item, "label");
                (!acted.iter().any(|a| a.contains(&label))).then(|| format!("{label} ({flag})"))
            })
            .collect()
    }
}

/// The look-alike or unverified-publisher flag of a plan row, without its prefix.
fn flag_of(item: &Value) -> Option<String> {
    item.get("details")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find_map(|d| d.strip_prefix(crate::procedure::consents::FLAG_PREFIX))
        .map(|flag| format!("flagged: {}", flag.trim_end_matches('.')))
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

fn last_detail(journal: &[JournalEntry], step: &str, kind: EntryKind) -> Option<Value> {
    journal
        .iter()
        .rev()
        .find(|e| e.kind == kind && e.step.as_deref() == Some(step))
        .and_then(|e| e.details.get("detail").cloned())
}

/// Every step of the compromised-account procedure of every account, in order.
fn step_records(view: &CaseView) -> Vec<StepRecord> {
    let mut records = Vec::new();
    for (index, account) in view.metadata.accounts.iter().enumerate() {
        let procedure = Catalogue::compromised_account(index + 1, account.clone());
        for step in procedure.view(view) {
            records.push(StepRecord {
                account: account.clone(),
                started: last_detail(&view.journal, &step.id, EntryKind::StepStarted),
                finished: last_detail(&view.journal, &step.id, EntryKind::StepFinished),
                view: step,
            });
        }
    }
    records
}

/// What triage recorded for one account.
#[derive(Debug, Clone, Default)]
struct Triage {
    kind: Option<CompromiseKind>,
    second_hop: bool,
    window_start: Option<DateTime<Utc>>,
    signals: Vec<(DateTime<Utc>, String)>,
    earlier_accounts: Vec<String>,
    gaps: Vec<String>,
    lookback_hours: Option<i64>,
}

fn triage_of(record: &StepRecord) -> Triage {
    let Some(started) = &record.started else {
        return Triage::default();
    };
    let facts = record
        .finished
        .as_ref()
        .and_then(|f| f.get("facts"))
        .or_else(|| started.get("facts"))
        .cloned()
        .unwrap_or(Value::Null);
    let selected: Vec<&str> = started
        .get("selected")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let kind = selected
        .iter()
        .find_map(|s| s.strip_prefix("kind:"))
        .and_then(|k| serde_json::from_value(json!(k)).ok());
    let strings = |key: &str| -> Vec<String> {
        facts
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let signals = facts
        .get("signals")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    let at = s
                        .get("at")
                        .cloned()
                        .and_then(|v| serde_json::from_value(v).ok())?;
                    Some((at, text(s, "text")))
                })
                .collect()
        })
        .unwrap_or_default();
    Triage {
        kind,
        second_hop: selected.contains(&"chain:second-hop"),
        window_start: facts
            .get("windowStart")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok()),
        signals,
        earlier_accounts: strings("earlierAccounts"),
        gaps: strings("gaps"),
        lookback_hours: facts.get("lookbackHours").and_then(Value::as_i64),
    }
}

/// The blast-radius results: the one place the report depends on where checks are recorded.
/// The fifteen checks come from [`blast::check_results`] (the engine's own reading of the
/// journal); other steps of the blast phase (the sideways sweep) from their journaled state.
/// When the procedure has no check steps, the checklist's fifteen checks are listed open.
fn blast_results(view: &CaseView, records: &[StepRecord]) -> Vec<CheckResult> {
    if !records.iter().any(|r| r.phase() == Phase::Blast) {
        return BLAST_RADIUS_CHECKS
            .iter()
            .map(|check| CheckResult {
                check: (*check).to_owned(),
                status: CheckStatus::Open,
                detail: "Not yet checked in Firebreak.".into(),
            })
            .collect();
    }
    let several = view.metadata.accounts.len() > 1;
    let mut results = Vec::new();
    for (index, account) in view.metadata.accounts.iter().enumerate() {
        let name = |title: &str| {
            if several {
                format!("{title} ({account})")
            } else {
                title.to_owned()
            }
        };
        let scope =
            crate::scope::Scope::numbered(index + 1).unwrap_or_else(crate::scope::Scope::first);
        for c in blast::check_results(view, &scope) {
            let mut parts = Vec::new();
            match c.reason.filter(|r| !r.is_empty()) {
                Some(reason) => parts.push(reason),
                None if c.findings > 0 => parts.push(format!("{} finding(s).", c.findings)),
                None => {}
            }
            if let Some(note) = c.note.filter(|n| !n.is_empty()) {
                parts.push(format!("Admin's note: {note}"));
            }
            if let Some(query) = c.audit_query_id {
                parts.push(format!("Purview audit query {query}."));
            }
            let status = match c.status {
                blast::CheckStatus::Open => CheckStatus::Open,
                blast::CheckStatus::Clean => CheckStatus::Clean,
                blast::CheckStatus::Finding => CheckStatus::Finding,
                blast::CheckStatus::NotAvailable => CheckStatus::NotAvailable,
                blast::CheckStatus::CheckedByHand => CheckStatus::CheckedByHand,
                blast::CheckStatus::Skipped => {
                    parts.insert(0, "Skipped.".into());
                    CheckStatus::NotAvailable
                }
            };
            if status == CheckStatus::Open && parts.is_empty() {
                parts.push("Not yet checked.".into());
            }
            results.push(CheckResult {
                check: name(c.title),
                status,
                detail: parts.join(" "),
            });
        }
        for r in records.iter().filter(|r| {
            r.phase() == Phase::Blast
                && &r.account == account
                && !blast::CHECK_KEYS.contains(&r.view.info.key)
        }) {
            let (status, detail) = match r.view.state.as_ref().map(|s| &s.status) {
                Some(StepStatus::Finished { .. }) => {
                    let acted = r.acted_on();
                    if acted.is_empty() {
                        (CheckStatus::Clean, "Nothing found.".to_owned())
                    } else {
                        (CheckStatus::Finding, acted.join("; "))
                    }
                }
                Some(StepStatus::Skipped { reason }) => {
                    (CheckStatus::NotAvailable, format!("Skipped. {reason}"))
                }
                _ => (CheckStatus::Open, "Not yet checked.".to_owned()),
            };
            results.push(CheckResult {
                check: name(r.title()),
                status,
                detail,
            });
        }
    }
    results
}

fn outcome_of(record: &StepRecord) -> Option<(DateTime<Utc>, ActionOutcome, String)> {
    let state = record.view.state.as_ref()?;
    let failed_checks = || -> String {
        record
            .finished
            .as_ref()
            .and_then(|f| f.get("checks"))
            .and_then(Value::as_array)
            .map(|checks| {
                checks
                    .iter()
                    .filter(|c| c.get("ok").and_then(Value::as_bool) == Some(false))
                    .map(|c| text(c, "detail"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    };
    let (outcome, detail) = match &state.status {
        StepStatus::Finished { verified: true } => {
            (ActionOutcome::Verified, "read back from the tenant".into())
        }
        StepStatus::Finished { verified: false } => (
            ActionOutcome::NotVerified,
            match failed_checks() {
                why if why.is_empty() => "the read-back did not confirm the change.".to_owned(),
                why => format!("the read-back did not confirm the change: {why}"),
            },
        ),
        StepStatus::Skipped { reason } => (ActionOutcome::Skipped, reason.clone()),
        StepStatus::Failed { reason } => (ActionOutcome::Failed, reason.clone()),
        StepStatus::Running => (ActionOutcome::Done, "still running".into()),
        StepStatus::Interrupted => (
            ActionOutcome::Failed,
            "interrupted; must be re-verified against the tenant".into(),
        ),
        StepStatus::ReadyToRetry => (
            ActionOutcome::Failed,
            "re-verified and found not done; to run again".into(),
        ),
    };
    Some((state.since, outcome, detail.trim().to_owned()))
}

fn actions(records: &[StepRecord], several: bool) -> Vec<ActionRecord> {
    records
        .iter()
        .enumerate()
        .filter_map(|(n, r)| {
            let (time, outcome, detail) = outcome_of(r)?;
            let summary = r
                .started
                .as_ref()
                .map(|s| text(s, "summary"))
                .unwrap_or_default();
            let acted = r.acted_on();
            let action = match (summary.is_empty(), acted.is_empty()) {
                (true, true) => r.view.info.effect.to_owned(),
                (false, true) => summary,
                (_, false) => format!("{} Acted on: {}.", summary, acted.join("; "))
                    .trim()
                    .to_owned(),
            };
            let step = if several {
                format!("{} {} ({})", n + 1, r.title(), r.account)
            } else {
                format!("{} {}", n + 1, r.title())
            };
            Some(ActionRecord {
                time: time.fixed_offset(),
                step,
                action,
                outcome,
                detail,
            })
        })
        .collect()
}

fn workload_label(w: Workload) -> &'static str {
    match w {
        Workload::EntraId => "Entra ID (sign-ins, accounts, app consents)",
        Workload::ExchangeOnline => "Exchange Online (mail)",
        Workload::SharePointOneDrive => "SharePoint and OneDrive (files)",
        Workload::Teams => "Teams (chats and meetings)",
        Workload::Other => "Other (see the indicators)",
    }
}

fn alert_source_label(s: AlertSource) -> &'static str {
    match s {
        AlertSource::DefenderAlert => "a Defender alert",
        AlertSource::UserReport => "a user's report",
        AlertSource::FinanceOrVendorCall => "a call from finance or a vendor",
        AlertSource::AuditReview => "an audit log review",
    }
}

fn vector_of(kind: CompromiseKind) -> &'static str {
    match kind {
        CompromiseKind::TokenTheft => {
            "A phishing page relayed the user's sign-in and MFA (adversary in the middle) and \
             kept the session token, then reused it from the attacker's infrastructure."
        }
        CompromiseKind::MfaFatigue => {
            "The attacker had the password and sent push prompts until the user approved one."
        }
        CompromiseKind::PasswordSpray => {
            "Common passwords were tried against many accounts from one address range until one \
             account without MFA let the attacker in."
        }
        CompromiseKind::ConsentPhishing => {
            "The user was tricked into granting an attacker's application access to mail or \
             files; the application reads with its own token, no password needed."
        }
        CompromiseKind::ServiceAccount => {
            "A service account signing in with a password and no MFA was used by the attacker."
        }
        CompromiseKind::SharedMailbox => {
            "The attacker reached the mailbox through a delegate's compromised account."
        }
        CompromiseKind::Undetermined => "Triage has not yet confirmed how the attacker got in.",
    }
}

/// The longest an Entra access token lives by default (a random 60 to 90 minutes).
const ACCESS_TOKEN_MAX_MINUTES: i64 = 90;

/// What the report's sections are derived from, read once from the case.
struct Facts<'a> {
    view: &'a CaseView,
    cx: &'a ReportContext,
    tz: FixedOffset,
    records: Vec<StepRecord>,
    triages: Vec<(String, Triage)>,
    kind: CompromiseKind,
    several: bool,
    blast: Vec<CheckResult>,
    /// (done, total) steps of the containment and recovery phases.
    contain: (usize, usize),
    recover: (usize, usize),
    contained_at: Option<DateTime<Utc>>,
    not_verified: Vec<String>,
    skipped: Vec<(String, String)>,
    open_checks: usize,
}

impl<'a> Facts<'a> {
    fn read(view: &'a CaseView, cx: &'a ReportContext) -> Self {
        let records = step_records(view);
        let triages: Vec<(String, Triage)> = records
            .iter()
            .filter(|r| r.phase() == Phase::Triage)
            .map(|r| (r.account.clone(), triage_of(r)))
            .collect();
        let kind = triages
            .iter()
            .find_map(|(_, t)| t.kind)
            .unwrap_or(CompromiseKind::Undetermined);
        let blast = blast_results(view, &records);
        let phase_done = |phase: Phase| {
            let steps: Vec<&StepRecord> = records.iter().filter(|r| r.phase() == phase).collect();
            (steps.iter().filter(|r| r.is_done()).count(), steps.len())
        };
        let contain = phase_done(Phase::Contain);
        let recover = phase_done(Phase::Recover);
        let contained_at = (contain.1 > 0 && contain.0 == contain.1)
            .then(|| {
                records
                    .iter()
                    .filter(|r| r.phase() == Phase::Contain)
                    .filter_map(|r| r.view.state.as_ref().map(|s| s.since))
                    .max()
            })
            .flatten();
        let not_verified = records
            .iter()
            .filter(|r| {
                matches!(
                    r.view.state.as_ref().map(|s| &s.status),
                    Some(
                        StepStatus::Finished { verified: false }
                            | StepStatus::Failed { .. }
                            | StepStatus::Interrupted
                            | StepStatus::ReadyToRetry
                    )
                )
            })
            .map(|r| r.title().to_owned())
            .collect();
        let skipped = records
            .iter()
            .filter_map(|r| match r.view.state.as_ref().map(|s| &s.status) {
                Some(StepStatus::Skipped { reason }) => {
                    Some((r.title().to_owned(), reason.clone()))
                }
                _ => None,
            })
            .collect();
        let open_checks = blast
            .iter()
            .filter(|c| c.status == CheckStatus::Open)
            .count();
        Self {
            view,
            cx,
            tz: *cx.generated_at.offset(),
            several: view.metadata.accounts.len() > 1,
            records,
            triages,
            kind,
            blast,
            contain,
            recover,
            contained_at,
            not_verified,
            skipped,
            open_checks,
        }
    }

    fn at(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.tz)
    }

    fn minute(&self, t: DateTime<Utc>) -> String {
        self.at(t).format("%Y-%m-%d %H:%M").to_string()
    }

    fn contained(&self) -> bool {
        self.contain.1 > 0 && self.contain.0 == self.contain.1
    }

    fn findings(&self) -> impl Iterator<Item = &CheckResult> {
        self.blast
            .iter()
            .filter(|c| c.status == CheckStatus::Finding)
    }

    /// What the containment steps removed (rules, forwarding, delegates, grants, methods).
    fn removed(&self) -> Vec<String> {
        self.records
            .iter()
            .filter(|r| {
                r.phase() == Phase::Contain
                    && !matches!(
                        r.view.info.key,
                        "preserve" | "revoke" | "disable" | "reset" | "confirm-compromised"
                    )
            })
            .flat_map(StepRecord::acted_on)
            .collect()
    }

    fn what_happened(&self) -> String {
        let meta = &self.view.metadata;
        let mut what = format!(
            "{} concerned: {}. Kind of compromise: {}. {}",
            if self.several { "Accounts" } else { "Account" },
            meta.accounts.join(", "),
            self.kind.label(),
            vector_of(self.kind)
        );
        let window_start = self
            .triages
            .iter()
            .filter_map(|(_, t)| t.window_start)
            .min();
        if let Some(start) = window_start {
            what.push_str(&format!(
                " The first suspicious event was at {}; it was detected at {} through {} and the \
                 organisation became aware at {}.",
                self.minute(start),
                self.minute(meta.detected_at),
                alert_source_label(meta.alert_source),
                self.minute(meta.aware_at)
            ));
        } else {
            what.push_str(&format!(
                " It was detected at {} through {}; the organisation became aware at {}.",
                self.minute(meta.detected_at),
                alert_source_label(meta.alert_source),
                self.minute(meta.aware_at)
            ));
        }
        if !meta.indicators.is_empty() {
            what.push_str(&format!(
                " First signs reported: {}.",
                meta.indicators.join("; ")
            ));
        }
        let signals: usize = self.triages.iter().map(|(_, t)| t.signals.len()).sum();
        if signals > 0 {
            what.push_str(&format!(
                " Triage found {signals} sign(s) in the logs (see the timeline)."
            ));
        }
        what
    }

    fn impact(&self) -> String {
        let mut impact = Vec::new();
        let removed = self.removed();
        if !removed.is_empty() {
            impact.push(format!(
                "The attacker left {} thing(s) in place that Firebreak removed: {}.",
                removed.len(),
                removed.join("; ")
            ));
        }
        // One line naming the checks with findings; their detail is in sections 2 and 5.
        let found: Vec<&str> = self.findings().map(|f| f.check.as_str()).collect();
        if !found.is_empty() {
            impact.push(format!(
                "The blast-radius checks found attacker activity in: {} (details in sections 2 \
                 and 5).",
                found.join("; ")
            ));
        }
        if impact.is_empty() {
            impact.push(
                "No attacker change and no data access has been found in what was checked so far."
                    .into(),
            );
        }
        if self.open_checks > 0 {
            impact.push(format!(
                "{} blast-radius check(s) are still open, so the impact may be larger.",
                self.open_checks
            ));
        }
        impact.join("\n")
    }

    fn current_state(&self) -> String {
        let (done, total) = self.contain;
        let mut state = if total == 0 {
            "Containment has not started.".to_owned()
        } else if self.contained() {
            format!(
                "Contained{}: all {total} containment steps are done. {}",
                self.contained_at
                    .map_or(String::new(), |t| format!(" at {}", self.minute(t))),
                if self.open_checks == 0 {
                    "Every blast-radius check is done.".to_owned()
                } else {
                    format!(
                        "{} of {} blast-radius checks are done; {} open.",
                        self.blast.len() - self.open_checks,
                        self.blast.len(),
                        self.open_checks
                    )
                }
            )
        } else {
            format!(
                "Containment in progress: {done} of {total} steps done. The attacker may still \
                 have access."
            )
        };
        if let Some(tail) = self.token_tail() {
            state.push(' ');
            state.push_str(&tail);
        }
        let (recovered, recover_total) = self.recover;
        if recover_total > 0 {
            state.push_str(&format!(
                " Recovery: {recovered} of {recover_total} steps done."
            ));
        }
        if !self.not_verified.is_empty() {
            state.push_str(&format!(
                " Not verified or failed: {}.",
                self.not_verified.join(", ")
            ));
        }
        state
    }

    /// What revoking sessions did not end: an access token already issued lives until it expires
    /// (60 to 90 minutes on Microsoft 365; see spec/graph-behaviour.md), unless the service
    /// applies continuous access evaluation. Said while that tail can still be running when the
    /// report is made, and as over once it cannot.
    fn token_tail(&self) -> Option<String> {
        let revoked = self
            .records
            .iter()
            .filter(|r| r.view.info.key == "revoke" && r.is_done())
            .filter_map(|r| r.view.state.as_ref().map(|s| s.since))
            .max()?;
        let until = revoked + Duration::minutes(ACCESS_TOKEN_MAX_MINUTES);
        Some(if self.cx.generated_at.with_timezone(&Utc) < until {
            format!(
                "Sessions were revoked at {}, but an access token the attacker already held keeps \
                 working until it expires — at the latest about {} — unless the service applies \
                 continuous access evaluation; failed token refreshes from the attacker's addresses \
                 until then are expected.",
                self.minute(revoked),
                self.minute(until)
            )
        } else {
            format!(
                "Sessions were revoked at {}; every access token issued before then has expired \
                 (they live at most {ACCESS_TOKEN_MAX_MINUTES} minutes).",
                self.minute(revoked)
            )
        })
    }

    fn decisions(&self) -> Vec<String> {
        let aware = self.view.metadata.aware_at;
        let mut decisions = Vec::new();
        if self.kind != CompromiseKind::Undetermined || self.findings().next().is_some() {
            decisions.push(format!(
                "With the privacy lead: does this breach of personal data have to be reported to \
                 the supervisory authority? The GDPR 72-hour clock started at {} and runs to {}.",
                self.minute(aware),
                self.minute(aware + Duration::hours(72))
            ));
        }
        match self.cx.nis2_applies {
            Some(true) => decisions.push(format!(
                "NIS2 applies: the early warning to the CSIRT is due by {}.",
                self.minute(aware + Duration::hours(24))
            )),
            None => decisions.push(
                "Decide whether NIS2 applies to the organisation (its early warning is due within \
                 24 hours of awareness)."
                    .into(),
            ),
            Some(false) => {}
        }
        if !self.contained() {
            decisions.push(
                "Give the administrator the time to finish containment before anything else."
                    .into(),
            );
        }
        let mut flagged: Vec<String> = self
            .records
            .iter()
            .flat_map(StepRecord::flagged_left)
            .collect();
        flagged.dedup();
        if !flagged.is_empty() {
            decisions.push(format!(
                "Apps flagged as look-alikes or unverified publishers were left in place: {}. Confirm with their owners that each is genuine.",
                flagged.join("; ")
            ));
        }
        if self.open_checks > 0 {
            decisions.push(format!(
                "Make time to finish the {} open blast-radius check(s); the case cannot be closed \
                 before.",
                self.open_checks
            ));
        }
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self
                .skipped
                .iter()
                .map(|(step, reason)| format!("{step} ({})", reason.trim_end_matches('.')))
                .collect();
            decisions.push(format!(
                "Confirm that these were rightly skipped: {}.",
                skipped.join("; ")
            ));
        }
        for step in &self.not_verified {
            decisions.push(format!(
                "\"{step}\" is not verified: decide whether to retry it or accept the risk."
            ));
        }
        let (recovered, recover_total) = self.recover;
        if self.contained() && recovered < recover_total.max(1) {
            decisions.push(format!(
                "When to give {} back: re-enable with a Temporary Access Pass once the checks \
                 are done.",
                if self.several {
                    "the accounts"
                } else {
                    "the account"
                }
            ));
        }
        decisions.push(format!(
            "Approve the {} recommendations in section 8 that make a repeat harder.",
            recommendations_for(self.kind).len()
        ));
        decisions
    }

    fn attack_vector(&self) -> String {
        let mut vector = vector_of(self.kind).to_owned();
        for (account, t) in &self.triages {
            let shown: Vec<&str> = t
                .signals
                .iter()
                .take(4)
                .map(|(_, s)| s.trim_end_matches('.'))
                .collect();
            if !shown.is_empty() {
                let more = t.signals.len() - shown.len();
                vector.push_str(&format!(
                    "\n{}: {}{}.",
                    if self.several {
                        account.as_str()
                    } else {
                        "Evidence"
                    },
                    shown.join("; "),
                    if more > 0 {
                        format!(" (and {more} more in the timeline)")
                    } else {
                        String::new()
                    }
                ));
            }
            if t.second_hop {
                vector.push_str(&format!(
                    "\n{account} was the second hop: {} signed in from the attacker's address \
                     first.",
                    if t.earlier_accounts.is_empty() {
                        "another account".to_owned()
                    } else {
                        t.earlier_accounts.join(", ")
                    }
                ));
            }
        }
        vector
    }

    fn scope(&self) -> Scope {
        let meta = &self.view.metadata;
        let mut accounts: Vec<String> = meta
            .accounts
            .iter()
            .map(|a| {
                let role = self.triages.iter().find(|(acc, _)| acc == a).map_or(
                    "not triaged yet",
                    |(_, t)| {
                        if t.second_hop {
                            "second hop"
                        } else if t.kind.is_some() {
                            "entry point"
                        } else {
                            "not triaged yet"
                        }
                    },
                );
                format!("{a} — {role}")
            })
            .collect();
        for (_, t) in &self.triages {
            for earlier in &t.earlier_accounts {
                if !meta
                    .accounts
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(earlier))
                {
                    accounts.push(format!(
                        "{earlier} — signed in from a suspicious address earlier; check it too"
                    ));
                }
            }
        }
        let acted = |key: &str| {
            self.records
                .iter()
                .any(|r| r.view.info.key == key && !r.acted_on().is_empty())
        };
        let mut workloads: BTreeSet<&str> = meta
            .affected_workloads
            .iter()
            .map(|w| workload_label(*w))
            .collect();
        if acted("mailbox") {
            workloads.insert(workload_label(Workload::ExchangeOnline));
        }
        if acted("grants") {
            workloads.insert(workload_label(Workload::EntraId));
        }
        let mut data: Vec<String> = self
            .findings()
            .map(|f| format!("{}: {}", f.check, f.detail))
            .collect();
        data.extend(
            self.records
                .iter()
                .filter(|r| matches!(r.view.info.key, "mailbox" | "grants"))
                .flat_map(StepRecord::acted_on)
                .map(|item| format!("Reachable by the attacker through {item}")),
        );
        Scope {
            accounts,
            workloads: workloads.into_iter().map(str::to_owned).collect(),
            data,
        }
    }

    /// What the licences' log retention could and could not show (spec/design.md §7).
    fn retention(&self) -> String {
        let mut retention = String::from(
            "What the logs can show: Entra sign-in and audit logs are kept about 7 days on Entra \
             ID Free and 30 days with P1/P2; the unified audit log 180 days on Audit Standard. \
             The exports in the evidence bundle are the only copy that outlives these windows.",
        );
        if let Some(hours) = self
            .triages
            .iter()
            .filter_map(|(_, t)| t.lookback_hours)
            .max()
        {
            let span = if hours >= 48 && hours % 24 == 0 {
                format!("{} days", hours / 24)
            } else {
                format!("{hours} hours")
            };
            retention.push_str(&format!(" Triage looked back {span}."));
        }
        let gaps: Vec<&str> = self
            .triages
            .iter()
            .flat_map(|(_, t)| &t.gaps)
            .map(String::as_str)
            .collect();
        if !gaps.is_empty() {
            retention.push_str(&format!(" Could not be read: {}.", gaps.join("; ")));
        }
        retention
    }

    fn status(&self) -> &'static str {
        match (self.contained(), self.open_checks) {
            (true, 0) => "Contained; blast radius mapped",
            (true, _) => "Contained; blast-radius checks open",
            (false, _) if self.contain.0 > 0 => "Containment in progress",
            _ => "Open",
        }
    }

    fn case_summary(&self) -> CaseSummary {
        let meta = &self.view.metadata;
        CaseSummary {
            case_id: self.view.id.to_string(),
            title: meta.title.clone(),
            organisation: self.cx.organisation.clone(),
            tenant: self.cx.tenant.clone(),
            severity: capitalised(meta.severity.label()),
            status: self.status().into(),
            alert_source: capitalised(alert_source_label(meta.alert_source))
                .trim_start_matches("A ")
                .to_owned(),
            detected_at: self.at(meta.detected_at),
            aware_at: self.at(meta.aware_at),
            contained_at: self.contained_at.map(|t| self.at(t)),
            closed_at: self
                .view
                .journal
                .iter()
                .rev()
                .find(|e| e.kind.as_str() == "case_closed")
                .map(|e| self.at(e.time)),
            incident_commander: meta.incident_commander.clone(),
            external_ticket: meta.external_ticket.clone().unwrap_or_default(),
            prepared_by: meta.incident_commander.clone(),
            generated_at: self.cx.generated_at,
        }
    }

    fn communications(&self) -> Vec<Communication> {
        self.view
            .notifications
            .iter()
            .map(|n| Communication {
                time: self.at(n.told_at),
                recipient: format!("{} ({})", n.recipient, n.role.label()),
                channel: n.channel.label().to_owned(),
                summary: if n.warnings.is_empty() {
                    n.message.clone()
                } else {
                    let warnings: Vec<&str> =
                        n.warnings.iter().map(|w| w.message.as_str()).collect();
                    format!("{}\nWarning: {}", n.message, warnings.join(" "))
                },
            })
            .collect()
    }
}

/// Builds the whole report of `view`.
pub fn build(view: &CaseView, cx: &ReportContext) -> IncidentReport {
    let facts = Facts::read(view, cx);
    IncidentReport {
        case: facts.case_summary(),
        summary: ExecutiveSummary {
            what_happened: facts.what_happened(),
            impact: facts.impact(),
            current_state: facts.current_state(),
            decisions_needed: facts.decisions(),
        },
        compromise_kind: facts.kind,
        attack_vector: facts.attack_vector(),
        scope: facts.scope(),
        timeline: timeline_of(
            view,
            &facts.records,
            &facts.triages,
            facts.tz,
            Detail::Report,
        ),
        actions: actions(&facts.records, facts.several),
        evidence: view
            .evidence
            .iter()
            .map(|e| EvidenceItem {
                name: e.file.clone(),
                sha256: e.sha256.clone(),
                collected_at: facts.at(e.captured_at),
                description: format!("{} ({})", e.description, e.source_operation),
            })
            .collect(),
        communications: facts.communications(),
        recommendations: recommendations_for(facts.kind),
        lessons: lessons(view),
        retention_note: facts.retention(),
        blast_radius: facts.blast,
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The case's timeline (journal, case dates, triage findings and the tenant's logs saved as
/// evidence), oldest first, in the offset `tz`.
pub fn timeline(view: &CaseView, tz: FixedOffset) -> Vec<TimelineEvent> {
    let records = step_records(view);
    let triages: Vec<(String, Triage)> = records
        .iter()
        .filter(|r| r.phase() == Phase::Triage)
        .map(|r| (r.account.clone(), triage_of(r)))
        .collect();
    timeline_of(view, &records, &triages, tz, Detail::Export)
}

/// How much of the journal goes into a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Everything: the exports for other tools.
    Export,
    /// Without the entries the report shows elsewhere or that say nothing on their own (each
    /// evidence file is in the evidence list; a step's start is followed by its outcome).
    Report,
}

fn timeline_of(
    view: &CaseView,
    records: &[StepRecord],
    triages: &[(String, Triage)],
    tz: FixedOffset,
    detail: Detail,
) -> Vec<TimelineEvent> {
    let titles: BTreeMap<&str, &str> = records
        .iter()
        .map(|r| (r.view.id.as_str(), r.title()))
        .collect();
    let event =
        |time: DateTime<Utc>, source: &str, kind: &str, description: String| TimelineEvent {
            time: time.with_timezone(&tz),
            source: source.to_owned(),
            kind: kind.to_owned(),
            description,
            actor: None,
            fields: BTreeMap::new(),
        };
    let meta = &view.metadata;
    let mut events = vec![
        TimelineEvent {
            actor: Some(meta.incident_commander.clone()),
            ..event(
                meta.detected_at,
                "case",
                "Detection time",
                format!(
                    "Incident detected through {}",
                    alert_source_label(meta.alert_source)
                ),
            )
        },
        TimelineEvent {
            actor: Some(meta.incident_commander.clone()),
            ..event(
                meta.aware_at,
                "case",
                "Awareness time",
                "The organisation became aware: the GDPR 72-hour clock starts".into(),
            )
        },
    ];
    for (account, t) in triages {
        for (at, text) in &t.signals {
            events.push(TimelineEvent {
                actor: Some(account.clone()),
                ..event(
                    *at,
                    "triage",
                    "Finding time",
                    format!("Triage finding: {text}"),
                )
            });
        }
    }
    for entry in &view.journal {
        if detail == Detail::Report
            && matches!(
                entry.kind,
                EntryKind::EvidenceAdded | EntryKind::StepStarted
            )
        {
            continue;
        }
        let described = crate::case::describe_entry(entry);
        let description = match entry.step.as_deref().and_then(|s| titles.get(s)) {
            Some(title) => format!("{title}: {described}"),
            None => described,
        };
        let mut fields = BTreeMap::from([("journalSeq".to_owned(), entry.seq.to_string())]);
        if let Some(step) = &entry.step {
            fields.insert("step".into(), step.clone());
        }
        fields.insert("journalEntry".into(), entry.kind.as_str().to_owned());
        events.push(TimelineEvent {
            actor: Some(entry.actor.clone()),
            fields,
            ..event(entry.time, "journal", "Action recorded", description)
        });
    }
    let mut seen = BTreeSet::new();
    for record in &view.evidence {
        if record.size > MAX_PARSED_EVIDENCE {
            continue;
        }
        let Some(source) = LogSource::of(&record.source_operation) else {
            continue;
        };
        let path = view.folder.join(&record.file);
        let Ok(bytes) = std::fs::read(&path) else {
            log::warn!(
                "evidence {} could not be read for the timeline",
                record.file
            );
            continue;
        };
        let Ok(page) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        for item in page
            .get("value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(mut e) = source.event(item) else {
                continue;
            };
            let key = (
                source.name(),
                item.get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| e.description.clone(), str::to_owned),
            );
            if !seen.insert(key) {
                continue;
            }
            e.time = e.time.with_timezone(&tz);
            e.fields.insert("evidenceFile".into(), record.file.clone());
            events.push(e);
        }
    }
    events.sort_by_key(|e| e.time);
    events
}

/// A log the tenant keeps, as saved in the evidence folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogSource {
    SignIns,
    DirectoryAudits,
    RiskDetections,
    Alerts,
    Incidents,
    AuditLogRecords,
}

impl LogSource {
    /// The log an evidence file holds, from the operation that produced it.
    fn of(operation: &str) -> Option<Self> {
        let path = operation.split_whitespace().last().unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        if path.ends_with("/auditLogs/signIns") {
            Some(Self::SignIns)
        } else if path.ends_with("/auditLogs/directoryAudits") {
            Some(Self::DirectoryAudits)
        } else if path.ends_with("/identityProtection/riskDetections") {
            Some(Self::RiskDetections)
        } else if path.ends_with("/security/alerts_v2") {
            Some(Self::Alerts)
        } else if path.ends_with("/security/incidents") {
            Some(Self::Incidents)
        } else if path.contains("/security/auditLog/queries/") && path.ends_with("/records") {
            Some(Self::AuditLogRecords)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::SignIns => "signIns",
            Self::DirectoryAudits => "directoryAudits",
            Self::RiskDetections => "riskDetections",
            Self::Alerts => "defenderAlerts",
            Self::Incidents => "defenderIncidents",
            Self::AuditLogRecords => "unifiedAuditLog",
        }
    }

    /// One record as a timeline event; `None` when it has no usable time.
    fn event(self, item: &Value) -> Option<TimelineEvent> {
        let s = |pointer: &str| {
            item.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let time = |pointer: &str| s(pointer).and_then(|t| DateTime::parse_from_rfc3339(&t).ok());
        let mut fields = BTreeMap::new();
        let mut keep = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                fields.insert(name.to_owned(), v);
            }
        };
        let (at, kind, description, actor) = match self {
            Self::SignIns => {
                let code = item.pointer("/status/errorCode").and_then(Value::as_i64);
                let ip = s("/ipAddress");
                let app = s("/appDisplayName");
                let place = [s("/location/city"), s("/location/countryOrRegion")]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ");
                let interactive = item.get("isInteractive").and_then(Value::as_bool);
                let result = match code {
                    Some(0) | None => "succeeded".to_owned(),
                    Some(c) => format!(
                        "failed (error {c}{})",
                        s("/status/failureReason").map_or(String::new(), |r| format!(": {r}"))
                    ),
                };
                let description = format!(
                    "{}ign-in {result}{}{}{}{}",
                    if interactive == Some(false) {
                        "Non-interactive s"
                    } else {
                        "S"
                    },
                    app.as_ref().map_or(String::new(), |a| format!(" to {a}")),
                    ip.as_ref().map_or(String::new(), |i| format!(" from {i}")),
                    if place.is_empty() {
                        String::new()
                    } else {
                        format!(" ({place})")
                    },
                    s("/riskLevelDuringSignIn")
                        .filter(|r| r != "none" && r != "hidden")
                        .map_or(String::new(), |r| format!(", risk {r}"))
                );
                keep("ipAddress", ip);
                keep("appDisplayName", app);
                keep("errorCode", code.map(|c| c.to_string()));
                keep("clientAppUsed", s("/clientAppUsed"));
                keep("location", (!place.is_empty()).then_some(place));
                (
                    time("/createdDateTime")?,
                    "Sign-in time",
                    description,
                    s("/userPrincipalName"),
                )
            }
            Self::DirectoryAudits => {
                let targets: Vec<String> = item
                    .get("targetResources")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        t.get("displayName")
                            .or_else(|| t.get("userPrincipalName"))
                            .and_then(Value::as_str)
                            .filter(|v| !v.is_empty())
                            .map(str::to_owned)
                    })
                    .collect();
                let description = format!(
                    "Directory audit: {}{}{}",
                    s("/activityDisplayName").unwrap_or_else(|| "activity".into()),
                    if targets.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", targets.join(", "))
                    },
                    s("/result")
                        .filter(|r| r != "success")
                        .map_or(String::new(), |r| format!(" ({r})"))
                );
                keep("category", s("/category"));
                keep("result", s("/result"));
                (
                    time("/activityDateTime")?,
                    "Activity time",
                    description,
                    s("/initiatedBy/user/userPrincipalName")
                        .or_else(|| s("/initiatedBy/app/displayName")),
                )
            }
            Self::RiskDetections => {
                let ip = s("/ipAddress");
                let description = format!(
                    "Risk detection: {} ({} risk){}",
                    s("/riskEventType").unwrap_or_else(|| "unknown".into()),
                    s("/riskLevel").unwrap_or_else(|| "unknown".into()),
                    ip.as_ref().map_or(String::new(), |i| format!(" from {i}"))
                );
                keep("ipAddress", ip);
                keep("riskState", s("/riskState"));
                (
                    time("/activityDateTime").or_else(|| time("/detectedDateTime"))?,
                    "Activity time",
                    description,
                    s("/userPrincipalName"),
                )
            }
            Self::Alerts => {
                let description = format!(
                    "Defender alert: {} ({} severity, {})",
                    s("/title").unwrap_or_else(|| "untitled".into()),
                    s("/severity").unwrap_or_else(|| "unknown".into()),
                    s("/status").unwrap_or_else(|| "unknown status".into())
                );
                keep("alertId", s("/id"));
                (
                    time("/firstActivityDateTime").or_else(|| time("/createdDateTime"))?,
                    "First activity time",
                    description,
                    s("/actorDisplayName"),
                )
            }
            Self::Incidents => {
                let description = format!(
                    "Defender incident: {} ({} severity, {})",
                    s("/displayName").unwrap_or_else(|| "untitled".into()),
                    s("/severity").unwrap_or_else(|| "unknown".into()),
                    s("/status").unwrap_or_else(|| "unknown status".into())
                );
                keep("incidentId", s("/id"));
                (
                    time("/createdDateTime")?,
                    "Creation time",
                    description,
                    None,
                )
            }
            Self::AuditLogRecords => {
                let ip = s("/clientIp");
                let description = format!(
                    "{}: {}{}",
                    s("/service").unwrap_or_else(|| "Audit".into()),
                    s("/operation").unwrap_or_else(|| "operation".into()),
                    ip.as_ref().map_or(String::new(), |i| format!(" from {i}"))
                );
                keep("ipAddress", ip);
                keep("objectId", s("/objectId"));
                (
                    time("/createdDateTime")?,
                    "Creation time",
                    description,
                    s("/userPrincipalName"),
                )
            }
        };
        Some(TimelineEvent {
            time: at,
            source: self.name().to_owned(),
            kind: kind.to_owned(),
            description,
            actor,
            fields,
        })
    }
}

/// The lessons-learned fields as the UI edits them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonsInput {
    /// What went well.
    pub went_well: String,
    /// What to improve.
    pub to_improve: String,
    /// Follow-up actions with owners.
    pub follow_ups: String,
}

impl From<LessonsInput> for LessonsLearned {
    fn from(input: LessonsInput) -> Self {
        Self {
            went_well: input.went_well,
            to_improve: input.to_improve,
            follow_ups: input.follow_ups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_matched_to_its_log_by_the_operation() {
        assert_eq!(
            LogSource::of("GET /auditLogs/signIns"),
            Some(LogSource::SignIns)
        );
        assert_eq!(
            LogSource::of("GET /beta/auditLogs/signIns"),
            Some(LogSource::SignIns)
        );
        assert_eq!(
            LogSource::of("GET /auditLogs/directoryAudits"),
            Some(LogSource::DirectoryAudits)
        );
        assert_eq!(
            LogSource::of("GET /security/auditLog/queries/{id}/records"),
            Some(LogSource::AuditLogRecords)
        );
        assert_eq!(
            LogSource::of("GET /users/{id}/authentication/methods"),
            None
        );
    }

    #[test]
    fn a_sign_in_becomes_one_line_with_its_address_app_and_result() {
        let item = json!({
            "id": "s1",
            "createdDateTime": "2026-03-01T19:02:11Z",
            "userPrincipalName": "megan@contoso.example",
            "appDisplayName": "Office 365 Exchange Online",
            "ipAddress": "203.0.113.7",
            "isInteractive": true,
            "location": {"city": "Amsterdam", "countryOrRegion": "NL"},
            "status": {"errorCode": 0},
            "riskLevelDuringSignIn": "high"
        });
        let e = LogSource::SignIns.event(&item).expect("event");
        assert_eq!(
            e.description,
            "Sign-in succeeded to Office 365 Exchange Online from 203.0.113.7 (Amsterdam, NL), risk high"
        );
        assert_eq!(e.actor.as_deref(), Some("megan@contoso.example"));
        assert_eq!(e.fields["ipAddress"], "203.0.113.7");
        let failed =
            json!({"createdDateTime": "2026-03-01T19:02:11Z", "status": {"errorCode": 50126}});
        assert!(LogSource::SignIns
            .event(&failed)
            .expect("event")
            .description
            .contains("failed (error 50126"));
        assert!(
            LogSource::SignIns.event(&json!({"id": "x"})).is_none(),
            "no time, no event"
        );
    }

    #[test]
    fn only_saved_reports_in_the_exports_folder_may_be_opened() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path().join("data")).expect("root");
        let exports = exports_dir(&root);
        std::fs::create_dir_all(&exports).expect("exports");
        let report = exports.join("20260301-2347-abcdef-incident-report-20260302-0900.pdf");
        let timeline =
            exports.join("20260301-2347-abcdef-incident-report-20260302-0900.timeline.csv");
        let bundle = exports.join("20260301-2347-abcdef-evidence-20260302-0900.zip");
        let elsewhere = tmp.path().join("x-incident-report-1.pdf");
        for file in [&report, &timeline, &bundle, &elsewhere] {
            std::fs::write(file, b"x").expect("write");
        }
        assert!(saved_file(&root, &report).is_ok());
        assert!(saved_file(&root, &timeline).is_ok());
        assert!(saved_file(&root, &bundle).is_err(), "not a report");
        assert!(saved_file(&root, &elsewhere).is_err(), "outside exports");
        let sneaky = exports.join("../../x-incident-report-1.pdf");
        assert!(saved_file(&root, &sneaky).is_err(), "no way out with ..");
        assert!(saved_file(&root, &exports.join("missing-incident-report-1.pdf")).is_err());
    }

    fn record(verified: bool, checks: Value, items: Value, done: Value) -> StepRecord {
        static INFO: crate::procedure::StepInfo = crate::procedure::StepInfo {
            key: "blast-app-credentials",
            phase: Phase::Blast,
            title: "Credentials added to apps",
            why: "",
            effect: "",
            saved_first: "",
            destructive: true,
            refuses_protected: false,
        };
        StepRecord {
            account: "omar@contoso.example".into(),
            view: StepView {
                id: "a1.blast-app-credentials".into(),
                info: INFO.clone(),
                state: Some(crate::case::steps::StepState {
                    step: "a1.blast-app-credentials".into(),
                    status: StepStatus::Finished { verified },
                    since: "2025-09-16T08:40:00Z".parse().expect("time"),
                    attempts: 1,
                }),
                position: Position::Done,
            },
            started: Some(
                json!({"summary": "Remove the credentials.", "items": items, "selected": done}),
            ),
            finished: Some(json!({"done": done, "checks": checks})),
        }
    }

    #[test]
    fn a_step_whose_target_was_not_found_is_reported_not_verified_with_why() {
        let checks = json!([{"item": "missing:app:a1", "ok": false,
            "detail": "Not verified: the app registration a1 named in the directory audit log could not be found."}]);
        let r = record(false, checks, json!([]), json!(["missing:app:a1"]));
        let (_, outcome, detail) = outcome_of(&r).expect("outcome");
        assert_eq!(outcome, ActionOutcome::NotVerified);
        assert!(detail.contains("could not be found"), "{detail}");
        let ok = record(
            true,
            json!([{"item": "x", "ok": true, "detail": "Gone."}]),
            json!([]),
            json!([]),
        );
        assert_eq!(outcome_of(&ok).expect("outcome").1, ActionOutcome::Verified);
    }

    #[test]
    fn a_look_alike_app_is_flagged_where_it_was_acted_on_and_where_it_was_left() {
        let flag = format!(
            "{}Look-alike name: \"Micr\u{43e}soft\" mixes Latin letters with Cyrillic ones.",
            crate::procedure::consents::FLAG_PREFIX
        );
        let items = json!([
            {"id": "grant:g1", "kind": "Tenant-wide consent", "label": "Micr\u{43e}soft Mail", "details": ["Scopes: Mail.Read", flag.clone()]},
            {"id": "grant:g2", "kind": "Tenant-wide consent", "label": "Office 365 Sync", "details": [flag]},
            {"id": "grant:g3", "kind": "Tenant-wide consent", "label": "Northwind Scheduler", "details": ["Scopes: Mail.Read"]}]);
        let r = record(true, json!([]), items, json!(["grant:g1"]));
        let acted = r.acted_on();
        assert_eq!(acted.len(), 1);
        assert!(acted[0].contains("flagged: Look-alike name"), "{acted:?}");
        let left = r.flagged_left();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(left[0].starts_with("Office 365 Sync"), "{left:?}");
    }

    #[test]
    fn lessons_refuse_control_characters_and_keep_line_breaks() {
        assert_eq!(
            clean_lesson("wentWell", "  one\r\ntwo ").expect("ok"),
            "one\ntwo"
        );
        assert!(clean_lesson("wentWell", "bell\u{7}").is_err());
        assert!(clean_lesson("wentWell", &"x".repeat(MAX_LESSON + 1)).is_err());
    }
}
