//! Cases: one folder per incident, holding the journal, the evidence and the communication log.
//!
//! Layout of `<data>/cases/<case-id>/`:
//! - `journal.jsonl` — the append-only, hash-chained journal ([`journal`]); the source of truth.
//! - `case.json` — the current metadata, rewritten atomically after each change (a convenience
//!   copy; the journal holds every version).
//! - `communications.json` — the communication log, rewritten atomically after each notification.
//! - `evidence/NNNN-<name>.<ext>` — artefacts as received ([`evidence`]).
//! - `reports/` — reports, when the report module has written them.
//! - `torn-entry-after-<seq>.bin` — an incomplete journal line moved aside on request.
//!
//! Case ids are generated here (`YYYYMMDD-HHMM-xxxxxx`), never taken from tenant strings, and
//! checked whenever they come back from the UI. Every change goes through [`CaseStore`], which
//! serialises writers, re-reads and validates the journal before each change, and refuses to write
//! to a case whose journal is torn or broken.

pub mod comms;
pub mod contacts;
pub(crate) mod durable;
pub mod evidence;
pub mod journal;
pub mod metadata;
pub mod steps;

use std::{
    collections::BTreeMap,
    fmt,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use self::{
    comms::{NewNotification, NotificationRecord},
    evidence::{EvidenceRecord, NewArtefact},
    journal::{EntryKind, JournalEntry, JournalHealth, JournalScan, JournalWriter, NewEntry},
    metadata::{CaseMetadata, FieldChange},
    steps::{StepAction, StepState},
};
use crate::{clock::SharedClock, paths::DataRoot, tenant::ProfileId, Error};

/// The actor name for the person at the keyboard.
pub const ADMIN: &str = "admin";
/// The actor name for what the application does on its own.
pub const APPLICATION: &str = "firebreak";

/// The journal's file name inside a case folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// The metadata snapshot's file name.
pub const CASE_FILE: &str = "case.json";
/// The communication log's file name.
pub const COMMUNICATIONS_FILE: &str = "communications.json";
/// The evidence folder's name.
pub const EVIDENCE_DIR: &str = "evidence";
/// The reports folder's name.
pub const REPORTS_DIR: &str = "reports";

/// A case's id: lowercase ASCII letters, digits and `-`, 1 to 64 characters. Safe as a folder name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseId(String);

impl CaseId {
    /// Accepts `text` only if it is a well-formed case id.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && !text.starts_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(Error::InvalidInput {
                field: "caseId",
                problem: format!("{text:?} is not a Firebreak case id."),
            })
        }
    }

    fn generate(now: DateTime<Utc>) -> Result<Self, Error> {
        Ok(Self(format!(
            "{}-{}",
            now.format("%Y%m%d-%H%M"),
            durable::random_hex(3)?
        )))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for CaseId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        Self::parse(&value)
    }
}

impl From<CaseId> for String {
    fn from(id: CaseId) -> Self {
        id.0
    }
}

/// Everything known about a case, replayed from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseView {
    /// The case id.
    pub id: CaseId,
    /// The case folder.
    pub folder: PathBuf,
    /// When the incident was declared.
    pub opened_at: DateTime<Utc>,
    /// The current metadata.
    pub metadata: CaseMetadata,
    /// The tenant profile the response acts on, chosen at declaration. `None` for cases declared
    /// before Firebreak recorded it, and for practice cases (their tenant lives in the run).
    pub tenant_profile: Option<ProfileId>,
    /// Whether the journal's chain holds. Anything but intact makes the case read-only.
    pub health: JournalHealth,
    /// The journal entries that could be read, oldest first.
    pub journal: Vec<JournalEntry>,
    /// The artefacts in the evidence folder, in the order they were saved.
    pub evidence: Vec<EvidenceRecord>,
    /// The communication log, in the order it was entered.
    pub notifications: Vec<NotificationRecord>,
    /// Every step the journal mentions, by step id.
    pub steps: Vec<StepState>,
    /// When and why the case was closed; `None` while it is open.
    pub closed: Option<CaseClosure>,
    /// Cases linked to this one, in the order they were linked.
    pub links: Vec<CaseLink>,
}

/// `case_closed` details: the case is over and its watch windows have ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseClosure {
    /// When it was closed.
    pub at: DateTime<Utc>,
    /// The admin's closing summary.
    pub summary: String,
}

/// How a linked case relates to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkRelation {
    /// The other case was opened from this one (a sideways-sweep hit).
    OpenedFromHere,
    /// This case was opened from the other one.
    OpenedFrom,
}

/// `case_linked` details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseLink {
    /// The other case.
    pub other_case: CaseId,
    /// How it relates to this one.
    pub relation: LinkRelation,
    /// Why, in plain words (may quote tenant strings: render as text).
    pub reason: String,
}

impl CaseView {
    /// True when nothing more may be recorded until the journal is dealt with.
    pub fn read_only(&self) -> bool {
        !self.health.is_intact()
    }
}

/// A line of the case list.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseSummary {
    /// The case id.
    pub id: CaseId,
    /// The case's name.
    pub title: String,
    /// How bad it is.
    pub severity: metadata::Severity,
    /// The accounts concerned.
    pub accounts: Vec<String>,
    /// When it was declared.
    pub opened_at: DateTime<Utc>,
    /// When it was detected.
    pub detected_at: DateTime<Utc>,
    /// When the organisation became aware.
    pub aware_at: DateTime<Utc>,
    /// Whether the journal's chain holds.
    pub health: JournalHealth,
    /// How many steps are interrupted and wait for re-verification.
    pub interrupted_steps: usize,
}

/// `case_opened` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenedDetails {
    case_id: CaseId,
    metadata: CaseMetadata,
    // Absent from journals written before the profile was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_profile: Option<ProfileId>,
}

/// `metadata_changed` details.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangedDetails {
    changes: Vec<FieldChange>,
    metadata: CaseMetadata,
}

/// The cases in one data folder. Cheap to clone; clones share one writer lock.
#[derive(Debug, Clone)]
pub struct CaseStore {
    root: DataRoot,
    cases_dir: PathBuf,
    clock: SharedClock,
    session: String,
    lock: Arc<Mutex<()>>,
}

/// A case read from disk, with the state needed to write to it.
struct Loaded {
    view: CaseView,
    scan: JournalScan,
}

impl CaseStore {
    /// The cases under `root`, timed by `clock`. Each store is one *session*: steps started by
    /// another session and never ended are reported as interrupted.
    pub fn new(root: &DataRoot, clock: SharedClock) -> Result<Self, Error> {
        let cases_dir = root.cases_dir();
        std::fs::create_dir_all(&cases_dir)
            .map_err(|e| Error::io("create the cases folder", &cases_dir, e))?;
        Ok(Self {
            root: root.clone(),
            cases_dir,
            clock,
            session: durable::random_hex(8)?,
            lock: Arc::new(Mutex::new(())),
        })
    }

    /// The same store (same session, same lock) timed by another clock: a practice case is
    /// stamped with the training tenant's simulated time while sharing this run's session.
    pub fn with_clock(&self, clock: SharedClock) -> Self {
        Self {
            clock,
            ..self.clone()
        }
    }

    /// This run's session id, as recorded in `step_started` entries.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The clock the store stamps entries with.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The data folder the cases live in (for the organisation's details the reports print).
    pub fn data_root(&self) -> &DataRoot {
        &self.root
    }

    /// The folder of case `id` (whether or not it exists).
    pub fn case_dir(&self, id: &CaseId) -> PathBuf {
        self.cases_dir.join(id.as_str())
    }

    pub(crate) fn guard(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every case in the data folder, most recently declared first. Folders that are not cases
    /// (or cannot be read) are skipped with a warning in the log.
    pub fn list(&self) -> Result<Vec<CaseSummary>, Error> {
        let _guard = self.guard();
        let entries = std::fs::read_dir(&self.cases_dir)
            .map_err(|e| Error::io("list the cases folder", &self.cases_dir, e))?;
        let mut cases = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| Error::io("list the cases folder", &self.cases_dir, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| CaseId::parse(n).ok()) else {
                continue;
            };
            if !entry.path().join(JOURNAL_FILE).is_file() {
                continue;
            }
            match self.load(&id) {
                Ok(loaded) => cases.push(summary(&loaded.view)),
                Err(error) => log::warn!("case {id} skipped in the list: {error}"),
            }
        }
        cases.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(a.id.cmp(&b.id)));
        Ok(cases)
    }

    /// Declares an incident: creates its folder and journal with the metadata.
    pub fn declare(&self, actor: &str, metadata: CaseMetadata) -> Result<CaseView, Error> {
        self.declare_on(actor, metadata, None)
    }

    /// Declares an incident whose response acts on tenant profile `tenant_profile`, recorded in
    /// the declaration entry of the journal (and in `case.json`).
    pub fn declare_on(
        &self,
        actor: &str,
        metadata: CaseMetadata,
        tenant_profile: Option<ProfileId>,
    ) -> Result<CaseView, Error> {
        let now = self.clock.now();
        let metadata = metadata.normalised(now)?;
        let _guard = self.guard();
        let mut id = CaseId::generate(now)?;
        while self.case_dir(&id).exists() {
            id = CaseId::generate(now)?;
        }
        // Build the folder under a temporary name and rename it: a crash leaves no half case.
        let staging = self
            .cases_dir
            .join(format!("{}{}", durable::TEMP_PREFIX, id));
        let created = (|| -> Result<(), Error> {
            std::fs::create_dir_all(staging.join(EVIDENCE_DIR))
                .map_err(|e| Error::io("create the case folder", &staging, e))?;
            let journal_path = staging.join(JOURNAL_FILE);
            let empty = JournalScan {
                entries: Vec::new(),
                health: JournalHealth::Intact,
                good_len: 0,
            };
            let mut writer = JournalWriter::open(&journal_path, &empty)?;
            let details = to_details(&OpenedDetails {
                case_id: id.clone(),
                metadata: metadata.clone(),
                tenant_profile: tenant_profile.clone(),
            })?;
            writer.append(NewEntry {
                time: now,
                actor: actor.to_owned(),
                kind: EntryKind::CaseOpened,
                step: None,
                details,
            })?;
            write_case_file(&staging, &id, now, &metadata, tenant_profile.as_ref())?;
            write_communications(&staging, &id, &[])?;
            durable::sync_dir(&staging)?;
            std::fs::rename(&staging, self.case_dir(&id))
                .map_err(|e| Error::io("create the case folder", self.case_dir(&id), e))?;
            durable::sync_dir(&self.cases_dir)
        })();
        if let Err(error) = created {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
        log::info!("case {id} declared");
        Ok(self.load(&id)?.view)
    }

    /// Reads case `id`, validating its journal.
    pub fn case(&self, id: &CaseId) -> Result<CaseView, Error> {
        let _guard = self.guard();
        Ok(self.load(id)?.view)
    }

    /// Replaces the case's metadata; every changed field is journaled with its old and new value.
    /// Returns the changes (none when nothing differed, and then nothing is journaled).
    pub fn update_metadata(
        &self,
        id: &CaseId,
        actor: &str,
        metadata: CaseMetadata,
    ) -> Result<Vec<FieldChange>, Error> {
        let metadata = metadata.normalised(self.clock.now())?;
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        let changes = loaded.view.metadata.changes_to(&metadata);
        if changes.is_empty() {
            return Ok(changes);
        }
        let details = to_details(&ChangedDetails {
            changes: changes.clone(),
            metadata: metadata.clone(),
        })?;
        self.append(&loaded, actor, EntryKind::MetadataChanged, None, details)?;
        write_case_file(
            &loaded.view.folder,
            id,
            loaded.view.opened_at,
            &metadata,
            loaded.view.tenant_profile.as_ref(),
        )?;
        Ok(changes)
    }

    /// Saves an artefact byte for byte from `content`, hashing it while writing, and journals it.
    pub fn add_evidence(
        &self,
        id: &CaseId,
        actor: &str,
        artefact: &NewArtefact,
        content: impl Read,
    ) -> Result<EvidenceRecord, Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        let dir = loaded.view.folder.join(EVIDENCE_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("create the evidence folder", &dir, e))?;
        let number = u32::try_from(loaded.view.evidence.len() + 1).unwrap_or(u32::MAX);
        let record = evidence::store(&dir, number, artefact, content)?;
        self.append(
            &loaded,
            actor,
            EntryKind::EvidenceAdded,
            None,
            to_details(&record)?,
        )?;
        Ok(record)
    }

    /// Logs that someone was told; the record carries any warning about the channel.
    pub fn log_notification(
        &self,
        id: &CaseId,
        actor: &str,
        notification: NewNotification,
    ) -> Result<NotificationRecord, Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        let record = comms::record(&loaded.view.metadata, notification)?;
        self.append(
            &loaded,
            actor,
            EntryKind::NotificationLogged,
            None,
            to_details(&record)?,
        )?;
        let mut all = loaded.view.notifications.clone();
        all.push(record.clone());
        write_communications(&loaded.view.folder, id, &all)?;
        Ok(record)
    }

    /// Records that `step` starts now. Refused while it runs, and after an interruption until it
    /// has been re-verified with [`CaseStore::reverify_step`].
    pub fn start_step(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        detail: Value,
    ) -> Result<StepState, Error> {
        let details = to_details(&steps::StartedDetails {
            session: self.session.clone(),
            detail,
        })?;
        self.step_entry(
            id,
            actor,
            step,
            StepAction::Start,
            EntryKind::StepStarted,
            details,
        )
    }

    /// Records that the running `step` ended; `verified` says whether its effect was confirmed.
    pub fn finish_step(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        verified: bool,
        detail: Value,
    ) -> Result<StepState, Error> {
        let details = to_details(&steps::FinishedDetails { verified, detail })?;
        self.step_entry(
            id,
            actor,
            step,
            StepAction::End,
            EntryKind::StepFinished,
            details,
        )
    }

    /// Records that the running `step` failed.
    pub fn fail_step(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        reason: &str,
        detail: Value,
    ) -> Result<StepState, Error> {
        let details = to_details(&steps::ReasonDetails {
            reason: reason.to_owned(),
            detail,
        })?;
        self.step_entry(
            id,
            actor,
            step,
            StepAction::End,
            EntryKind::StepFailed,
            details,
        )
    }

    /// Records that `step` is skipped on purpose. A reason is required.
    pub fn skip_step(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        reason: &str,
    ) -> Result<StepState, Error> {
        if reason.trim().is_empty() {
            return Err(Error::InvalidInput {
                field: "reason",
                problem: "Say why this step is skipped; the report will show it.".into(),
            });
        }
        let details = to_details(&steps::ReasonDetails {
            reason: reason.trim().to_owned(),
            detail: Value::Null,
        })?;
        self.step_entry(
            id,
            actor,
            step,
            StepAction::Skip,
            EntryKind::StepSkipped,
            details,
        )
    }

    /// Records what a re-check of the tenant found for an interrupted or failed step: done (it
    /// becomes finished and verified) or not done (it may be started again).
    pub fn reverify_step(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        found_done: bool,
        detail: Value,
    ) -> Result<StepState, Error> {
        let details = to_details(&steps::ReverifiedDetails { found_done, detail })?;
        self.step_entry(
            id,
            actor,
            step,
            StepAction::Reverify,
            EntryKind::StepReverified,
            details,
        )
    }

    fn step_entry(
        &self,
        id: &CaseId,
        actor: &str,
        step: &str,
        action: StepAction,
        kind: EntryKind,
        details: Value,
    ) -> Result<StepState, Error> {
        steps::check_step_id(step)?;
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        let current = loaded.view.steps.iter().find(|s| s.step == step);
        steps::check(step, current, action)?;
        let entry = self.append(&loaded, actor, kind, Some(step.to_owned()), details)?;
        let mut states: BTreeMap<String, StepState> = loaded
            .view
            .steps
            .into_iter()
            .map(|s| (s.step.clone(), s))
            .collect();
        steps::apply(&mut states, &entry, &self.session);
        states.remove(step).ok_or_else(|| Error::CaseFileDamaged {
            path: loaded.view.folder.join(JOURNAL_FILE),
            detail: "a step entry just written could not be read back".into(),
        })
    }

    /// Moves an incomplete last journal line (left by a crash) aside into
    /// `torn-entry-after-<seq>.bin`, cuts it from the journal, and journals what was done with the
    /// fragment's size and hash. Only on the admin's explicit request; refused unless the journal
    /// ends in exactly such a line.
    pub fn recover_torn_entry(&self, id: &CaseId, actor: &str) -> Result<CaseView, Error> {
        let _guard = self.guard();
        let loaded = self.load(id)?;
        let JournalHealth::TornTail { offset, length } = loaded.view.health else {
            return Err(Error::CaseReadOnly {
                id: id.to_string(),
                reason: format!(
                    "{} Only an incomplete last entry can be set aside.",
                    loaded.view.health.describe()
                ),
            });
        };
        let folder = &loaded.view.folder;
        let journal_path = folder.join(JOURNAL_FILE);
        let mut fragment = Vec::new();
        {
            let mut file = std::fs::File::open(&journal_path)
                .map_err(|e| Error::io("open the journal", &journal_path, e))?;
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.take(length).read_to_end(&mut fragment))
                .map_err(|e| Error::io("read the incomplete entry", &journal_path, e))?;
        }
        let last_seq = loaded.scan.entries.last().map_or(0, |e| e.seq);
        let mut target = folder.join(format!("torn-entry-after-{last_seq}.bin"));
        let mut n = 1;
        while target.exists() {
            n += 1;
            target = folder.join(format!("torn-entry-after-{last_seq}-{n}.bin"));
        }
        durable::write_atomic(&target, &fragment)?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&journal_path)
            .map_err(|e| Error::io("open the journal", &journal_path, e))?;
        file.set_len(offset)
            .and_then(|()| file.sync_all())
            .map_err(|e| {
                Error::io(
                    "cut the incomplete entry from the journal",
                    &journal_path,
                    e,
                )
            })?;
        let reloaded = self.load(id)?;
        let preserved_as = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.append(
            &reloaded,
            actor,
            EntryKind::TornEntryRecovered,
            None,
            json!({
                "offset": offset,
                "length": length,
                "sha256": hex::encode(Sha256::digest(&fragment)),
                "preservedAs": preserved_as,
            }),
        )?;
        Ok(self.load(id)?.view)
    }

    /// Journals that an evidence bundle of the case was written.
    pub(crate) fn record_bundle(
        &self,
        id: &CaseId,
        actor: &str,
        details: Value,
    ) -> Result<(), Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        self.append(&loaded, actor, EntryKind::BundleExported, None, details)?;
        Ok(())
    }

    /// Journals an entry of `kind` that is not about a step (the report's lessons learned).
    pub(crate) fn record(
        &self,
        id: &CaseId,
        actor: &str,
        kind: EntryKind,
        details: Value,
    ) -> Result<JournalEntry, Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        self.append(&loaded, actor, kind, None, details)
    }

    /// Closes case `id` with the admin's `summary`, once `gate` accepts the case as it stands
    /// (read under the writer lock, so nothing can slip in between the check and the entry).
    /// Refused when the case is already closed or the summary is empty.
    pub fn close_case(
        &self,
        id: &CaseId,
        actor: &str,
        summary: &str,
        gate: impl FnOnce(&CaseView) -> Result<(), Error>,
    ) -> Result<CaseView, Error> {
        let summary = summary.trim();
        if summary.is_empty() {
            return Err(Error::InvalidInput {
                field: "summary",
                problem: "Say in a sentence how the case ended; the report prints it.".into(),
            });
        }
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        if let Some(closed) = &loaded.view.closed {
            return Err(Error::InvalidInput {
                field: "caseId",
                problem: format!(
                    "This case was already closed at {}.",
                    closed.at.format("%Y-%m-%d %H:%M UTC")
                ),
            });
        }
        gate(&loaded.view)?;
        let closure = CaseClosure {
            at: self.clock.now(),
            summary: summary.to_owned(),
        };
        self.append(
            &loaded,
            actor,
            EntryKind::CaseClosed,
            None,
            to_details(&closure)?,
        )?;
        Ok(self.load(id)?.view)
    }

    /// Journals in case `id` that `link.other_case` is linked to it.
    pub fn link_case(&self, id: &CaseId, actor: &str, link: &CaseLink) -> Result<(), Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        self.append(
            &loaded,
            actor,
            EntryKind::CaseLinked,
            None,
            to_details(link)?,
        )?;
        Ok(())
    }

    /// Journals a watch alert (details as the watch module writes them) in case `id`.
    pub fn record_watch_alert(
        &self,
        id: &CaseId,
        actor: &str,
        details: Value,
    ) -> Result<JournalEntry, Error> {
        let _guard = self.guard();
        let loaded = self.load_writable(id)?;
        self.append(&loaded, actor, EntryKind::WatchAlert, None, details)
    }

    /// Reads case `id` while the caller already holds [`CaseStore::guard`].
    pub(crate) fn case_unlocked(&self, id: &CaseId) -> Result<CaseView, Error> {
        Ok(self.load(id)?.view)
    }

    /// Reads and replays the case. The caller holds the lock.
    fn load(&self, id: &CaseId) -> Result<Loaded, Error> {
        let folder = self.case_dir(id);
        let journal_path = folder.join(JOURNAL_FILE);
        if !journal_path.is_file() {
            return Err(Error::CaseNotFound { id: id.to_string() });
        }
        let scan = journal::scan_file(&journal_path)?;
        let view = replay(id, folder, &scan, &self.session)?;
        Ok(Loaded { view, scan })
    }

    fn load_writable(&self, id: &CaseId) -> Result<Loaded, Error> {
        let loaded = self.load(id)?;
        match &loaded.view.health {
            JournalHealth::Intact => Ok(loaded),
            JournalHealth::TornTail { .. } => Err(Error::CaseReadOnly {
                id: id.to_string(),
                reason: format!(
                    "{} Open the case and choose \"Set the fragment aside\" to keep it in a \
                     separate file and continue.",
                    loaded.view.health.describe()
                ),
            }),
            JournalHealth::Broken { .. } => Err(Error::CaseReadOnly {
                id: id.to_string(),
                reason: format!(
                    "{} Keep the folder exactly as it is, export the evidence bundle for the \
                     record, and declare a new case to continue the response.",
                    loaded.view.health.describe()
                ),
            }),
        }
    }

    fn append(
        &self,
        loaded: &Loaded,
        actor: &str,
        kind: EntryKind,
        step: Option<String>,
        details: Value,
    ) -> Result<JournalEntry, Error> {
        let path = loaded.view.folder.join(JOURNAL_FILE);
        let mut writer = JournalWriter::open(&path, &loaded.scan)?;
        writer.append(NewEntry {
            time: self.clock.now(),
            actor: actor.to_owned(),
            kind,
            step,
            details,
        })
    }
}

/// Folds the journal entries into the case's current state.
fn replay(
    id: &CaseId,
    folder: PathBuf,
    scan: &JournalScan,
    session: &str,
) -> Result<CaseView, Error> {
    let journal_path = folder.join(JOURNAL_FILE);
    let damaged = |detail: String| Error::CaseFileDamaged {
        path: journal_path.clone(),
        detail,
    };
    let first = scan
        .entries
        .first()
        .filter(|e| e.kind == EntryKind::CaseOpened)
        .ok_or_else(|| damaged("the journal does not start with the case's declaration".into()))?;
    let opened: OpenedDetails = serde_json::from_value(first.details.clone())
        .map_err(|e| damaged(format!("the declaration cannot be read: {e}")))?;
    if &opened.case_id != id {
        return Err(damaged(format!(
            "the journal belongs to case {}, not {id}",
            opened.case_id
        )));
    }
    let mut metadata = opened.metadata;
    let mut evidence = Vec::new();
    let mut notifications = Vec::new();
    let mut step_states = BTreeMap::new();
    let mut closed = None;
    let mut links = Vec::new();
    for entry in &scan.entries[1..] {
        let bad = |e: serde_json::Error| {
            damaged(format!(
                "entry {} ({}) cannot be read: {e}",
                entry.seq,
                entry.kind.as_str()
            ))
        };
        match entry.kind {
            EntryKind::MetadataChanged => {
                let changed: ChangedDetails =
                    serde_json::from_value(entry.details.clone()).map_err(bad)?;
                metadata = changed.metadata;
            }
            EntryKind::EvidenceAdded => {
                evidence.push(serde_json::from_value(entry.details.clone()).map_err(bad)?);
            }
            EntryKind::NotificationLogged => {
                notifications.push(serde_json::from_value(entry.details.clone()).map_err(bad)?);
            }
            EntryKind::CaseClosed => {
                closed = Some(serde_json::from_value(entry.details.clone()).map_err(bad)?);
            }
            EntryKind::CaseLinked => {
                links.push(serde_json::from_value(entry.details.clone()).map_err(bad)?);
            }
            _ => steps::apply(&mut step_states, entry, session),
        }
    }
    Ok(CaseView {
        id: id.clone(),
        folder,
        opened_at: first.time,
        metadata,
        tenant_profile: opened.tenant_profile,
        health: scan.health.clone(),
        journal: scan.entries.clone(),
        evidence,
        notifications,
        steps: step_states.into_values().collect(),
        closed,
        links,
    })
}

fn summary(view: &CaseView) -> CaseSummary {
    CaseSummary {
        id: view.id.clone(),
        title: view.metadata.title.clone(),
        severity: view.metadata.severity,
        accounts: view.metadata.accounts.clone(),
        opened_at: view.opened_at,
        detected_at: view.metadata.detected_at,
        aware_at: view.metadata.aware_at,
        health: view.health.clone(),
        interrupted_steps: view
            .steps
            .iter()
            .filter(|s| s.status == steps::StepStatus::Interrupted)
            .count(),
    }
}

fn to_details(value: &impl Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::CaseFileDamaged {
        path: PathBuf::from(JOURNAL_FILE),
        detail: format!("a record could not be encoded: {e}"),
    })
}

fn write_case_file(
    folder: &Path,
    id: &CaseId,
    opened_at: DateTime<Utc>,
    metadata: &CaseMetadata,
    tenant_profile: Option<&ProfileId>,
) -> Result<(), Error> {
    let mut body = json!({ "caseId": id, "openedAt": opened_at, "metadata": metadata });
    if let Some(profile) = tenant_profile {
        body["tenantProfile"] = json!(profile);
    }
    write_json(&folder.join(CASE_FILE), &body)
}

fn write_communications(
    folder: &Path,
    id: &CaseId,
    notifications: &[NotificationRecord],
) -> Result<(), Error> {
    let body = json!({ "caseId": id, "notifications": notifications });
    write_json(&folder.join(COMMUNICATIONS_FILE), &body)
}

fn write_json(path: &Path, body: &Value) -> Result<(), Error> {
    let mut text = serde_json::to_string_pretty(body).map_err(|e| Error::CaseFileDamaged {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    text.push('\n');
    durable::write_atomic(path, text.as_bytes())
}

/// One line describing a journal entry, for the timeline and the report.
pub fn describe_entry(entry: &JournalEntry) -> String {
    let d = &entry.details;
    let text = |key: &str| d.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
    match entry.kind {
        EntryKind::CaseOpened => {
            let severity = d
                .pointer("/metadata/severity")
                .and_then(Value::as_str)
                .unwrap_or("?");
            let accounts = d
                .pointer("/metadata/accounts")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("Incident declared: severity {severity}, {accounts} account(s) concerned")
        }
        EntryKind::MetadataChanged => {
            let changes: Vec<String> = d
                .get("changes")
                .and_then(Value::as_array)
                .map(|changes| {
                    changes
                        .iter()
                        .map(|c| {
                            format!(
                                "{}: {} → {}",
                                c.get("field").and_then(Value::as_str).unwrap_or("?"),
                                short_value(c.get("old")),
                                short_value(c.get("new"))
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("Case details changed — {}", changes.join("; "))
        }
        EntryKind::EvidenceAdded => format!(
            "Evidence saved: {} ({} bytes, SHA-256 {})",
            text("file"),
            d.get("size").and_then(Value::as_u64).unwrap_or(0),
            text("sha256").get(..12).unwrap_or("")
        ),
        EntryKind::NotificationLogged => {
            let warned = d
                .get("warnings")
                .and_then(Value::as_array)
                .is_some_and(|w| !w.is_empty());
            let role = serde_json::from_value::<comms::Role>(d["role"].clone())
                .map_or_else(|_| text("role"), |r| r.label().to_owned());
            let channel = serde_json::from_value::<comms::Channel>(d["channel"].clone())
                .map_or_else(|_| text("channel"), |c| c.label().to_owned());
            format!(
                "Told {} ({role}) by {channel}{}",
                text("recipient"),
                if warned {
                    " — warning: compromised channel"
                } else {
                    ""
                }
            )
        }
        EntryKind::StepStarted => "Step started".into(),
        EntryKind::StepFinished => {
            if d.get("verified").and_then(Value::as_bool) == Some(true) {
                "Step finished and verified".into()
            } else {
                "Step finished, not verified".into()
            }
        }
        EntryKind::StepFailed => format!("Step failed: {}", text("reason")),
        EntryKind::StepSkipped => format!("Step skipped: {}", text("reason")),
        EntryKind::StepReverified => {
            if d.get("foundDone").and_then(Value::as_bool) == Some(true) {
                "Step re-verified: already done in the tenant".into()
            } else {
                "Step re-verified: not done, may be run again".into()
            }
        }
        EntryKind::TornEntryRecovered => format!(
            "Incomplete journal entry ({} bytes) set aside as {}",
            d.get("length").and_then(Value::as_u64).unwrap_or(0),
            text("preservedAs")
        ),
        EntryKind::BundleExported => format!("Evidence bundle exported: {}", text("file")),
        EntryKind::WatchAlert => format!("Watch alert on {}: {}", text("account"), text("title")),
        EntryKind::CaseLinked => format!(
            "Linked to case {} ({}): {}",
            text("otherCase"),
            text("relation"),
            text("reason")
        ),
        EntryKind::CaseClosed => format!("Case closed: {}", text("summary")),
        EntryKind::LessonsRecorded => "Lessons learned edited for the incident report".into(),
        EntryKind::ContactsChanged => {
            let count = d
                .get("contacts")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            format!("Contacts for the case updated ({count} people)")
        }
    }
}

fn short_value(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn metadata(now: DateTime<Utc>) -> CaseMetadata {
        CaseMetadata {
            title: "Invoice fraud".into(),
            detected_at: now,
            aware_at: now,
            alert_source: metadata::AlertSource::UserReport,
            indicators: vec![],
            affected_workloads: vec![],
            severity: metadata::Severity::High,
            accounts: vec!["j.doe@contoso.com".into()],
            incident_commander: "Sam".into(),
            external_ticket: None,
        }
    }

    fn store(root: &std::path::Path) -> (CaseStore, DateTime<Utc>) {
        let now = Utc::now();
        let root = DataRoot::open(root).expect("root");
        let store = CaseStore::new(&root, Arc::new(ManualClock::new(now))).expect("store");
        (store, now)
    }

    #[test]
    fn the_tenant_profile_chosen_at_declaration_is_journaled_and_survives_edits() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (store, now) = store(tmp.path());
        let case = store
            .declare_on(ADMIN, metadata(now), Some(ProfileId::training()))
            .expect("declare");
        assert_eq!(case.tenant_profile, Some(ProfileId::training()));
        assert_eq!(
            case.journal[0].details["tenantProfile"],
            json!(ProfileId::training())
        );
        let edited = CaseMetadata {
            title: "Invoice fraud, finance".into(),
            ..metadata(now)
        };
        store
            .update_metadata(&case.id, ADMIN, edited)
            .expect("edit");
        let again = store.case(&case.id).expect("read");
        assert_eq!(again.tenant_profile, Some(ProfileId::training()));
        let file = std::fs::read_to_string(again.folder.join(CASE_FILE)).expect("case.json");
        assert!(file.contains("tenantProfile"), "{file}");
    }

    #[test]
    fn a_case_declared_without_a_profile_reads_back_without_one() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (store, now) = store(tmp.path());
        let case = store.declare(ADMIN, metadata(now)).expect("declare");
        assert!(case.journal[0].details.get("tenantProfile").is_none());
        assert_eq!(store.case(&case.id).expect("read").tenant_profile, None);
    }
}
