//! The evidence bundle: a zip of a case folder that anyone can check, with or without Firebreak.
//!
//! Layout inside the zip, all under one folder named after the case id:
//! - every file of the case folder (`journal.jsonl`, `case.json`, `communications.json`,
//!   `evidence/…`, `reports/…`, set-aside journal fragments), byte for byte;
//! - `manifest.json`: `{format, caseId, createdAt, files: [{path, size, sha256, description,
//!   capturedAt}]}`, one line per file above;
//! - `SHA256SUMS`: `<hex>  <path>` for every file above and for `manifest.json`, the format
//!   `sha256sum -c SHA256SUMS` checks from inside the unzipped folder.
//!
//! Writing streams each file through the hasher into the zip in fixed-size chunks, so memory stays
//! constant whatever the size of the evidence. The zip is built in a temporary file beside the
//! destination and renamed into place only when complete: a cancelled or failed export leaves
//! nothing at the destination. [`verify`] reads a bundle back the same way and names every altered,
//! missing and extra file, and any break in the journal's hash chain.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufReader, Read, Write},
    path::{Path, PathBuf},
};

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zip::{write::SimpleFileOptions, CompressionMethod, ZipArchive, ZipWriter};

use crate::{
    case::{
        self,
        durable::{TempFile, TEMP_PREFIX},
        evidence::CHUNK,
        journal::{self, EntryKind, JournalHealth},
        CaseId, CaseStore, CaseView,
    },
    paths::DataRoot,
    report, Error,
};

/// The manifest's file name inside the bundle folder.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The checksum list's file name inside the bundle folder.
pub const SUMS_FILE: &str = "SHA256SUMS";
/// The manifest's `format` value.
pub const FORMAT: &str = "firebreak-evidence-bundle/1";
/// Progress is reported at least this often (in bytes), and at the end of every file.
const REPORT_EVERY: u64 = 1024 * 1024;
/// The largest manifest or checksum list [`verify`] reads into memory.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;

/// Asks a long operation to stop (tokio's token, the one the Graph client's waits use too):
/// clones share the request; checked between chunks.
pub use firebreak_graph::CancellationToken;

/// How far a long operation is, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Bytes processed so far.
    pub bytes_done: u64,
    /// Bytes to process in all.
    pub bytes_total: u64,
}

/// One file listed in `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestFile {
    /// Its path inside the bundle folder, `/`-separated.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of its content.
    pub sha256: String,
    /// What it is.
    pub description: String,
    /// When it was captured from the service (evidence), or written (case files).
    pub captured_at: Option<DateTime<Utc>>,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The case the bundle was made from.
    pub case_id: String,
    /// When the bundle was written.
    pub created_at: DateTime<Utc>,
    /// Every file of the case, in the order they were written.
    pub files: Vec<ManifestFile>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSummary {
    /// Where the bundle is.
    pub path: PathBuf,
    /// How many case files it holds (besides the manifest and the checksums).
    pub files: usize,
    /// Total size of those files, uncompressed.
    pub bytes: u64,
    /// SHA-256 of the `SHA256SUMS` file: one value that identifies the bundle's whole content.
    pub sums_sha256: String,
}

/// Where [`export`] puts bundles unless told otherwise: `<data>/exports/<case>-<time>.zip`.
pub fn default_destination(root: &DataRoot, id: &CaseId, now: DateTime<Utc>) -> PathBuf {
    root.path()
        .join("exports")
        .join(format!("{id}-evidence-{}.zip", now.format("%Y%m%d-%H%M%S")))
}

/// A case file opened under the store's lock, so the bundle is one consistent snapshot.
struct Source {
    path: String,
    file: File,
    size: u64,
    description: String,
    captured_at: Option<DateTime<Utc>>,
}

/// Writes the evidence bundle of case `id` to `destination` (which must not exist yet).
///
/// `progress` is called as bytes are written; `cancel` is checked between chunks. On
/// cancellation or failure nothing is left at `destination`. On success the export is journaled
/// (unless the case is read-only, whose journal must not change).
pub fn export(
    store: &CaseStore,
    id: &CaseId,
    actor: &str,
    destination: &Path,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancellationToken,
) -> Result<BundleSummary, Error> {
    let (view, sources) = {
        let _guard = store.guard();
        let view = store.case_unlocked(id)?;
        include_report(store, &view);
        let sources = open_sources(&view)?;
        (view, sources)
    };
    if destination.exists() {
        return Err(Error::InvalidInput {
            field: "destination",
            problem: format!(
                "{} already exists. Choose another name; Firebreak never overwrites a bundle.",
                destination.display()
            ),
        });
    }
    let dir = match destination.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create the folder", &dir, e))?;

    let created_at = store.clock().now();
    let zip_time = zip_time(created_at);
    let total: u64 = sources.iter().map(|s| s.size).sum();
    let mut meter = Meter::new(total, progress);
    let mut temp = TempFile::create_in(&dir)?;
    let zip_error = |e: zip::result::ZipError| {
        Error::io("write the bundle", destination, std::io::Error::other(e))
    };

    let mut listed = Vec::with_capacity(sources.len());
    {
        let mut zip = ZipWriter::new(temp.file());
        for mut source in sources {
            // Evidence that does not compress (attachments, archives, encrypted blobs) is stored
            // as it is: deflating it would take most of the export's time and make it larger.
            let head = read_head(&mut source.file, source.size, &source.path)?;
            let (method, level) = if compresses(&head) {
                (CompressionMethod::Deflated, Some(1))
            } else {
                (CompressionMethod::Stored, None)
            };
            let options = SimpleFileOptions::default()
                .compression_method(method)
                .compression_level(level)
                .last_modified_time(zip_time)
                .unix_permissions(0o644)
                .large_file(source.size >= u64::from(u32::MAX));
            zip.start_file(format!("{id}/{}", source.path), options)
                .map_err(zip_error)?;
            let rest = source.size - head.len() as u64;
            let sha256 = copy_hashed(
                std::io::Cursor::new(head).chain(source.file.take(rest)),
                &mut zip,
                source.size,
                &source.path,
                &mut meter,
                cancel,
            )?;
            listed.push(ManifestFile {
                path: source.path,
                size: source.size,
                sha256,
                description: source.description,
                captured_at: source.captured_at,
            });
        }
        let manifest = Manifest {
            format: FORMAT.into(),
            case_id: id.to_string(),
            created_at,
            files: listed.clone(),
        };
        let mut manifest_text =
            serde_json::to_string_pretty(&manifest).map_err(|e| Error::CaseFileDamaged {
                path: PathBuf::from(MANIFEST_FILE),
                detail: e.to_string(),
            })?;
        manifest_text.push('\n');
        let mut sums = String::new();
        for file in &listed {
            sums.push_str(&format!("{}  {}\n", file.sha256, file.path));
        }
        sums.push_str(&format!(
            "{}  {MANIFEST_FILE}\n",
            hex::encode(Sha256::digest(manifest_text.as_bytes()))
        ));
        let small = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(zip_time)
            .unix_permissions(0o644);
        for (name, text) in [(MANIFEST_FILE, &manifest_text), (SUMS_FILE, &sums)] {
            zip.start_file(format!("{id}/{name}"), small)
                .map_err(zip_error)?;
            zip.write_all(text.as_bytes())
                .map_err(|e| Error::io("write the bundle", destination, e))?;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        zip.finish().map_err(zip_error)?;
        meter.finish();
        let summary = BundleSummary {
            path: destination.to_owned(),
            files: listed.len(),
            bytes: total,
            sums_sha256: hex::encode(Sha256::digest(sums.as_bytes())),
        };
        temp.persist(destination, false)?;
        if view.read_only() {
            log::warn!("case {id} is read-only; the bundle export was not journaled");
        } else {
            store.record_bundle(
                id,
                actor,
                json!({
                    "file": destination.file_name().map(|n| n.to_string_lossy().into_owned()),
                    "files": summary.files,
                    "bytes": summary.bytes,
                    "sha256sums": summary.sums_sha256,
                }),
            )?;
        }
        Ok(summary)
    }
}

/// Writes the incident report and the timeline into the case's `reports/` folder so the bundle
/// carries them as of this export. A case whose journal is damaged is left exactly as it is, and
/// a report that cannot be made never stops the evidence from being exported (it is logged).
fn include_report(store: &CaseStore, view: &CaseView) {
    if view.read_only() {
        return;
    }
    let made = report::case::ReportContext::load(
        store.data_root(),
        view,
        store.clock().now().fixed_offset(),
    )
    .and_then(|cx| report::case::write_into_case(view, &cx));
    if let Err(error) = made {
        log::warn!(
            "case {}: the incident report could not be added to the bundle: {error}",
            view.id
        );
    }
}

/// Opens every regular file of the case folder, with its description.
fn open_sources(view: &CaseView) -> Result<Vec<Source>, Error> {
    let mut paths = Vec::new();
    collect_files(&view.folder, "", 0, &mut paths)?;
    let evidence: BTreeMap<&str, _> = view
        .evidence
        .iter()
        .map(|record| (record.file.as_str(), record))
        .collect();
    // A stable, readable order: journal and case files first, then folders, then the rest.
    let rank = |p: &str| match p {
        case::JOURNAL_FILE => 0,
        case::CASE_FILE => 1,
        case::COMMUNICATIONS_FILE => 2,
        p if p.starts_with("evidence/") => 3,
        p if p.starts_with("reports/") => 4,
        _ => 5,
    };
    paths.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    let mut sources = Vec::with_capacity(paths.len());
    for path in paths {
        let full = view.folder.join(&path);
        let file = File::open(&full).map_err(|e| Error::io("open", &full, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io("read the size of", &full, e))?
            .len();
        let (description, captured_at) = match path.as_str() {
            case::JOURNAL_FILE => (
                format!(
                    "Append-only journal of every action, chained by SHA-256 ({} entries)",
                    view.journal.len()
                ),
                view.journal.last().map(|e| e.time),
            ),
            case::CASE_FILE => (
                "Case details as last edited (every version is in the journal)".into(),
                None,
            ),
            case::COMMUNICATIONS_FILE => (
                "Communication log: who was told, when, by which channel, what was said".into(),
                None,
            ),
            p if evidence.contains_key(p) => {
                let record = evidence[p];
                (
                    format!("{} (from {})", record.description, record.source_operation),
                    Some(record.captured_at),
                )
            }
            p if p == format!("{}/{}", case::REPORTS_DIR, report::case::REPORT_FILE) => (
                "Incident report (PDF), generated when this bundle was exported".into(),
                None,
            ),
            p if p == format!("{}/{}", case::REPORTS_DIR, report::case::TIMELINE_CSV) => (
                "Timeline as CSV for spreadsheets and Timesketch (formula cells prefixed with ')"
                    .into(),
                None,
            ),
            p if p == format!("{}/{}", case::REPORTS_DIR, report::case::TIMELINE_JSONL) => (
                "Timeline as JSON lines for Timesketch (exact values)".into(),
                None,
            ),
            p if p.starts_with("reports/") => ("Report".into(), None),
            p if p.starts_with("torn-entry-after-") => (
                "Incomplete journal entry set aside after an interrupted write".into(),
                None,
            ),
            _ => ("File found in the case folder".into(), None),
        };
        sources.push(Source {
            path,
            file,
            size,
            description,
            captured_at,
        });
    }
    Ok(sources)
}

/// Lists regular files below `dir` as `/`-separated relative paths. Skips temporary files and
/// symbolic links (never followed out of the case folder).
fn collect_files(dir: &Path, prefix: &str, depth: u32, out: &mut Vec<String>) -> Result<(), Error> {
    if depth > 8 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if name.starts_with(TEMP_PREFIX) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("inspect", entry.path(), e))?;
        let rel = format!("{prefix}{name}");
        if kind.is_dir() {
            collect_files(&entry.path(), &format!("{rel}/"), depth + 1, out)?;
        } else if kind.is_file() {
            out.push(rel);
        }
    }
    Ok(())
}

/// Copies exactly `size` bytes from `from` to `to`, returning their SHA-256.
fn copy_hashed(
    mut from: impl Read,
    to: &mut impl Write,
    size: u64,
    name: &str,
    meter: &mut Meter<'_>,
    cancel: &CancellationToken,
) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut copied = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let read = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", name, e)),
        };
        hasher.update(&buf[..read]);
        to.write_all(&buf[..read])
            .map_err(|e| Error::io("write the bundle", name, e))?;
        copied += read as u64;
        meter.add(read as u64);
    }
    if copied != size {
        return Err(Error::io(
            "read",
            name,
            std::io::Error::other(format!(
                "the file shrank while the bundle was written ({copied} of {size} bytes)"
            )),
        ));
    }
    meter.flush();
    Ok(hex::encode(hasher.finalize()))
}

/// Reads the first [`CHUNK`] bytes of a case file (fewer when it is smaller).
fn read_head(file: &mut File, size: u64, name: &str) -> Result<Vec<u8>, Error> {
    let want = size.min(CHUNK as u64);
    let mut head = Vec::with_capacity(CHUNK);
    Read::by_ref(file)
        .take(want)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("read", name, e))?;
    Ok(head)
}

/// Whether data that starts like `head` is worth deflating: text and JSON use few byte values
/// (under 6 bits of entropy per byte); compressed or encrypted data uses all of them evenly
/// (nearly 8 bits), and deflate cannot shrink it.
fn compresses(head: &[u8]) -> bool {
    if head.len() < 512 {
        return true;
    }
    let mut counts = [0u32; 256];
    for &b in head {
        counts[usize::from(b)] += 1;
    }
    let total = head.len() as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / total;
            -p * p.log2()
        })
        .sum();
    bits < 7.5
}

/// Reports progress without flooding the receiver.
struct Meter<'a> {
    done: u64,
    total: u64,
    reported: u64,
    callback: &'a mut dyn FnMut(Progress),
}

impl<'a> Meter<'a> {
    fn new(total: u64, callback: &'a mut dyn FnMut(Progress)) -> Self {
        callback(Progress {
            bytes_done: 0,
            bytes_total: total,
        });
        Self {
            done: 0,
            total,
            reported: 0,
            callback,
        }
    }

    fn add(&mut self, bytes: u64) {
        self.done += bytes;
        if self.done - self.reported >= REPORT_EVERY {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.done != self.reported {
            self.reported = self.done;
            (self.callback)(Progress {
                bytes_done: self.done,
                bytes_total: self.total,
            });
        }
    }

    fn finish(&mut self) {
        self.flush();
    }
}

fn zip_time(at: DateTime<Utc>) -> zip::DateTime {
    // Fields come from a valid date; only years outside 1980–2107 are refused, and those get
    // the zip format's own default time.
    zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .unwrap_or_default()
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// The bundle checked.
    pub bundle: PathBuf,
    /// The case it says it holds.
    pub case_id: Option<String>,
    /// True only when every listed file is present and unaltered, nothing else is there, and the
    /// journal's chain holds.
    pub intact: bool,
    /// How many files were checked against their hashes.
    pub checked: usize,
    /// Files whose content differs from their recorded hash.
    pub altered: Vec<String>,
    /// Files listed in `SHA256SUMS` (or saved in the journal) that are not in the bundle.
    pub missing: Vec<String>,
    /// Files in the bundle that `SHA256SUMS` does not list.
    pub extra: Vec<String>,
    /// The journal's chain, or `None` when the bundle holds no journal.
    pub journal: Option<JournalHealth>,
    /// Anything else wrong, in plain words (malformed lines, disagreements between the manifest,
    /// the checksums and the journal).
    pub problems: Vec<String>,
}

/// Checks the bundle at `path` without extracting it: every file against `SHA256SUMS`, the
/// manifest against `SHA256SUMS`, the journal's hash chain, and each evidence file against the
/// hash the journal recorded when it was saved.
pub fn verify(
    path: &Path,
    progress: &mut dyn FnMut(Progress),
    cancel: &CancellationToken,
) -> Result<VerifyReport, Error> {
    let not_a_bundle = |detail: String| Error::NotABundle {
        path: path.to_owned(),
        detail,
    };
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut archive = ZipArchive::new(BufReader::new(file))
        .map_err(|e| not_a_bundle(format!("it is not a readable zip file: {e}")))?;
    let names: Vec<String> = (0..archive.len())
        .filter_map(|i| archive.name_for_index(i).map(str::to_owned))
        .collect();
    let sums_name = names
        .iter()
        .filter(|n| n.as_str() == SUMS_FILE || n.ends_with(&format!("/{SUMS_FILE}")))
        .min_by_key(|n| n.len())
        .cloned()
        .ok_or_else(|| not_a_bundle(format!("it has no {SUMS_FILE} file")))?;
    let prefix = sums_name[..sums_name.len() - SUMS_FILE.len()].to_owned();

    let mut report = VerifyReport {
        bundle: path.to_owned(),
        case_id: None,
        intact: false,
        checked: 0,
        altered: Vec::new(),
        missing: Vec::new(),
        extra: Vec::new(),
        journal: None,
        problems: Vec::new(),
    };

    let sums_text = {
        let entry = archive
            .by_name(&sums_name)
            .map_err(|e| not_a_bundle(format!("{SUMS_FILE} cannot be read: {e}")))?;
        let mut text = String::new();
        entry
            .take(MAX_INDEX_BYTES)
            .read_to_string(&mut text)
            .map_err(|e| not_a_bundle(format!("{SUMS_FILE} cannot be read: {e}")))?;
        text
    };
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for (number, line) in sums_text.lines().enumerate() {
        match parse_sums_line(line) {
            Some((hash, file)) => {
                if expected.insert(file.to_owned(), hash.to_owned()).is_some() {
                    report
                        .problems
                        .push(format!("{SUMS_FILE} lists {file} twice"));
                }
            }
            None => report.problems.push(format!(
                "{SUMS_FILE} line {} is not in the `<sha256>  <file>` format",
                number + 1
            )),
        }
    }

    let total: u64 = (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum();
    let mut meter = Meter::new(total, progress);
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let mut journal_scan = None;

    for index in 0..archive.len() {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let mut entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                let name = names.get(index).cloned().unwrap_or_default();
                report.altered.push(name.clone());
                report
                    .problems
                    .push(format!("{name} cannot be read from the zip: {e}"));
                continue;
            }
        };
        let name = entry.name().to_owned();
        if entry.is_dir() || name == sums_name {
            continue;
        }
        let Some(rel) = name.strip_prefix(&prefix).map(str::to_owned) else {
            report.extra.push(name);
            continue;
        };
        let mut hashing = HashingReader::new(&mut entry, &mut meter, cancel);
        let outcome = if rel == journal_path() {
            let scan = journal::scan(BufReader::new(&mut hashing), Path::new(&rel));
            drain(&mut hashing).map(|()| Some(scan))
        } else if rel == MANIFEST_FILE {
            let mut text = String::new();
            let read = (&mut hashing)
                .take(MAX_INDEX_BYTES)
                .read_to_string(&mut text)
                .and_then(|_| drain(&mut hashing));
            match serde_json::from_str::<Manifest>(&text) {
                Ok(parsed) => manifest = Some(parsed),
                Err(e) => report
                    .problems
                    .push(format!("{MANIFEST_FILE} cannot be read: {e}")),
            }
            read.map(|()| None)
        } else {
            drain(&mut hashing).map(|()| None)
        };
        if hashing.cancelled {
            return Err(Error::Cancelled);
        }
        let hash = hashing.finish();
        match outcome {
            Ok(scan) => {
                if let Some(scan) = scan {
                    journal_scan = Some(scan);
                }
            }
            Err(e) => {
                report.altered.push(rel.clone());
                report.problems.push(format!(
                    "{rel} cannot be read from the zip ({e}): it was altered"
                ));
                continue;
            }
        }
        report.checked += 1;
        match expected.get(&rel) {
            None => report.extra.push(rel.clone()),
            Some(want) if *want != hash => report.altered.push(rel.clone()),
            Some(_) => {}
        }
        actual.insert(rel, hash);
    }
    meter.finish();

    for file in expected.keys() {
        if !actual.contains_key(file) && !report.altered.contains(file) {
            report.missing.push(file.clone());
        }
    }

    match journal_scan {
        Some(Ok(scan)) => {
            for entry in scan
                .entries
                .iter()
                .filter(|e| e.kind == EntryKind::EvidenceAdded)
            {
                let (Some(file), Some(sha)) = (
                    entry.details.get("file").and_then(Value::as_str),
                    entry.details.get("sha256").and_then(Value::as_str),
                ) else {
                    continue;
                };
                match actual.get(file) {
                    Some(hash) if hash != sha => {
                        report.problems.push(format!(
                            "{file} differs from the hash the journal recorded when it was saved \
                             (entry {})",
                            entry.seq
                        ));
                        if !report.altered.iter().any(|a| a == file) {
                            report.altered.push(file.to_owned());
                        }
                    }
                    None if !report.altered.iter().any(|a| a == file)
                        && !report.missing.iter().any(|m| m == file) =>
                    {
                        report.missing.push(file.to_owned());
                        report.problems.push(format!(
                            "the journal records {file} (entry {}) but the bundle does not hold it",
                            entry.seq
                        ));
                    }
                    _ => {}
                }
            }
            if let Some(opened) = scan
                .entries
                .first()
                .filter(|e| e.kind == EntryKind::CaseOpened)
            {
                report.case_id = opened
                    .details
                    .get("caseId")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            report.journal = Some(scan.health);
        }
        Some(Err(e)) => report
            .problems
            .push(format!("the journal cannot be read: {e}")),
        None => report
            .problems
            .push(format!("the bundle holds no {}", journal_path())),
    }

    match &manifest {
        Some(manifest) => {
            if report.case_id.is_none() {
                report.case_id = Some(manifest.case_id.clone());
            }
            for file in &manifest.files {
                if expected.get(&file.path) != Some(&file.sha256) {
                    report.problems.push(format!(
                        "{MANIFEST_FILE} and {SUMS_FILE} disagree about {}",
                        file.path
                    ));
                }
            }
        }
        None if !report.altered.iter().any(|a| a == MANIFEST_FILE) => report
            .problems
            .push(format!("the bundle holds no readable {MANIFEST_FILE}")),
        None => {}
    }

    report.altered.sort();
    report.altered.dedup();
    report.missing.sort();
    report.missing.dedup();
    report.extra.sort();
    report.intact = report.altered.is_empty()
        && report.missing.is_empty()
        && report.extra.is_empty()
        && report.problems.is_empty()
        && report
            .journal
            .as_ref()
            .is_some_and(JournalHealth::is_intact);
    Ok(report)
}

fn journal_path() -> &'static str {
    case::JOURNAL_FILE
}

/// `<64 hex>  <path>` (or `<64 hex> *<path>`, binary mode), as `sha256sum` writes it.
fn parse_sums_line(line: &str) -> Option<(&str, &str)> {
    let (hash, rest) = (line.get(..64)?, line.get(64..)?);
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let file = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    (!file.is_empty()).then_some((hash, file))
}

fn drain(reader: &mut impl Read) -> std::io::Result<()> {
    std::io::copy(reader, &mut std::io::sink()).map(|_| ())
}

/// Hashes what passes through, reports progress, and stops (with an error) when cancelled.
struct HashingReader<'r, 'm, 'a, R> {
    inner: &'r mut R,
    hasher: Sha256,
    meter: &'m mut Meter<'a>,
    cancel: &'r CancellationToken,
    cancelled: bool,
}

impl<'r, 'm, 'a, R: Read> HashingReader<'r, 'm, 'a, R> {
    fn new(inner: &'r mut R, meter: &'m mut Meter<'a>, cancel: &'r CancellationToken) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            meter,
            cancel,
            cancelled: false,
        }
    }

    fn finish(self) -> String {
        self.meter.flush();
        hex::encode(self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<'_, '_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            self.cancelled = true;
            return Err(std::io::Error::other("cancelled"));
        }
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        self.meter.add(read as u64);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_deflated_and_noise_is_stored() {
        let json =
            br#"{"id":"8f1c","ipAddress":"203.0.113.7","status":{"errorCode":0}}"#.repeat(200);
        assert!(compresses(&json), "JSON compresses");
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..CHUNK)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(!compresses(&noise), "random bytes do not");
        assert!(compresses(&noise[..100]), "too little to judge: deflate");
    }

    #[test]
    fn checksum_lines_are_read_the_way_sha256sum_writes_them() {
        let hash = "a".repeat(64);
        assert_eq!(
            parse_sums_line(&format!("{hash}  evidence/0001-x.json")),
            Some((hash.as_str(), "evidence/0001-x.json"))
        );
        assert_eq!(
            parse_sums_line(&format!("{hash} *journal.jsonl")).map(|p| p.1),
            Some("journal.jsonl")
        );
        assert_eq!(parse_sums_line(&format!("{hash} journal.jsonl")), None);
        assert_eq!(parse_sums_line("zz  x"), None);
        assert_eq!(parse_sums_line(&format!("{}  x", "g".repeat(64))), None);
    }

    #[test]
    fn a_cancel_token_is_shared_by_its_clones() {
        let token = CancellationToken::new();
        let clone = token.clone();
        assert!(!token.is_cancelled());
        clone.cancel();
        assert!(
            token.is_cancelled(),
            "cancelling a clone must reach the original"
        );
    }
}
