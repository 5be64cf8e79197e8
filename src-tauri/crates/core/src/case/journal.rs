//! The case journal: append-only JSON lines, each entry chained to the previous one by SHA-256.
//!
//! Format of `journal.jsonl`, one entry per line, each line ending in `\n`:
//! `{"actor":..,"details":{..},"hash":..,"kind":..,"prevHash":..,"seq":..,"step":..,"time":..}`.
//! `hash` is the lowercase hex SHA-256 of the entry's *canonical form without its `hash` key*:
//! JSON with every object's keys sorted by their UTF-8 bytes, no whitespace between tokens, and
//! strings and numbers written the way `serde_json` writes them. `prevHash` is the previous entry's
//! `hash`, or [`GENESIS_HASH`] for the first entry; `seq` starts at 1 and grows by one.
//!
//! Each append is one `write` of the whole line followed by `fsync`, so after a crash only the
//! last line can be incomplete. A reader reports that as [`JournalHealth::TornTail`]: it never
//! drops the fragment silently and never repairs it on its own.

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, Write},
    path::{Path, PathBuf},
};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Error;

/// The `prevHash` of the first entry: sixty-four zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EntryKind {
    /// The incident was declared; details hold the case id and its first metadata.
    CaseOpened,
    /// The case's metadata was edited; details list each field's old and new value.
    MetadataChanged,
    /// An artefact was saved in the evidence folder; details hold its name, size and hash.
    EvidenceAdded,
    /// Someone was told about the incident; details hold who, when, how and what.
    NotificationLogged,
    /// A procedure step began.
    StepStarted,
    /// A procedure step ended; details say whether its effect was verified.
    StepFinished,
    /// A procedure step failed; details hold the reason.
    StepFailed,
    /// A procedure step was skipped on purpose; details hold the reason.
    StepSkipped,
    /// An interrupted step was checked against the tenant before any retry.
    StepReverified,
    /// A torn last line left by a crash was moved aside, on the admin's explicit request.
    TornEntryRecovered,
    /// An evidence bundle of the case was written.
    BundleExported,
    /// The watch window found something new on a recovered account; details hold what and why.
    WatchAlert,
    /// Another case was linked to this one (a sideways-sweep hit opened as its own case, or the
    /// case it came from); details hold the other case's id and why.
    CaseLinked,
    /// The case was closed; details hold the admin's summary. Ends every watch window.
    CaseClosed,
    /// The people to tell about the case were entered or changed; details hold the whole list.
    ContactsChanged,
    /// The lessons-learned fields of the incident report were edited; details hold all of them.
    LessonsRecorded,
}

impl EntryKind {
    /// The name written in the journal (`case_opened`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CaseOpened => "case_opened",
            Self::MetadataChanged => "metadata_changed",
            Self::EvidenceAdded => "evidence_added",
            Self::NotificationLogged => "notification_logged",
            Self::StepStarted => "step_started",
            Self::StepFinished => "step_finished",
            Self::StepFailed => "step_failed",
            Self::StepSkipped => "step_skipped",
            Self::StepReverified => "step_reverified",
            Self::TornEntryRecovered => "torn_entry_recovered",
            Self::BundleExported => "bundle_exported",
            Self::WatchAlert => "watch_alert",
            Self::CaseLinked => "case_linked",
            Self::CaseClosed => "case_closed",
            Self::LessonsRecorded => "lessons_recorded",
            Self::ContactsChanged => "contacts_changed",
        }
    }
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    /// Position in the journal, from 1.
    pub seq: u64,
    /// When it was recorded (from the injected clock, millisecond precision).
    pub time: DateTime<Utc>,
    /// Who did it: `admin` for the person at the keyboard, `firebreak` for the application.
    pub actor: String,
    /// What kind of record this is.
    pub kind: EntryKind,
    /// The procedure step it belongs to, if any.
    pub step: Option<String>,
    /// The kind-specific record, as JSON.
    pub details: Value,
    /// The previous entry's `hash` ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 of this entry's canonical form without `hash`.
    pub hash: String,
}

/// What reading a journal found about its integrity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum JournalHealth {
    /// Every line is complete and the chain holds from the first entry to the last.
    Intact,
    /// Every complete line chains correctly, but the file ends in an incomplete line: the
    /// application stopped while writing it.
    TornTail {
        /// Where the incomplete line starts, in bytes from the start of the file.
        offset: u64,
        /// How many bytes the incomplete line has.
        length: u64,
    },
    /// A complete line is unreadable or does not chain: the journal was altered or damaged.
    Broken {
        /// The line (from 1) where the problem is.
        line: u64,
        /// What is wrong with it.
        problem: String,
    },
}

impl JournalHealth {
    /// True when nothing is wrong.
    pub fn is_intact(&self) -> bool {
        matches!(self, Self::Intact)
    }

    /// A sentence for the admin.
    pub fn describe(&self) -> String {
        match self {
            Self::Intact => "The journal is intact: every entry chains to the one before.".into(),
            Self::TornTail { offset, length } => format!(
                "The last journal entry is incomplete ({length} bytes at byte {offset}): \
                 Firebreak stopped while writing it. Every entry before it is intact."
            ),
            Self::Broken { line, problem } => format!(
                "The journal is broken at line {line}: {problem}. It has been altered or damaged."
            ),
        }
    }
}

/// The entries that could be read and what was found about the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalScan {
    /// The entries up to the first problem, in order.
    pub entries: Vec<JournalEntry>,
    /// Whether the chain holds.
    pub health: JournalHealth,
    /// Length in bytes of the part of the file that holds `entries`.
    pub good_len: u64,
}

impl JournalScan {
    /// The hash the next entry must name as `prevHash`.
    pub fn last_hash(&self) -> &str {
        self.entries
            .last()
            .map_or(GENESIS_HASH, |entry| entry.hash.as_str())
    }

    /// The sequence number the next entry gets.
    pub fn next_seq(&self) -> u64 {
        self.entries.last().map_or(1, |entry| entry.seq + 1)
    }
}

/// Writes `value` in the canonical form the hashes are computed over.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The hash of an entry given as a JSON object; any `hash` key in it is ignored.
pub fn entry_hash(entry: &Map<String, Value>) -> String {
    let mut without_hash = entry.clone();
    without_hash.remove("hash");
    hex::encode(Sha256::digest(
        canonical_json(&Value::Object(without_hash)).as_bytes(),
    ))
}

/// Reads a journal from `reader`, checking every line and the chain.
///
/// Stops at the first problem; the entries before it are returned. I/O errors are errors, not
/// health states: the file could not be read at all.
pub fn scan(mut reader: impl BufRead, path: &Path) -> Result<JournalScan, Error> {
    let mut entries: Vec<JournalEntry> = Vec::new();
    let mut offset: u64 = 0;
    let mut line = Vec::new();
    let mut number: u64 = 0;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("read the journal", path, e))?;
        if read == 0 {
            return Ok(JournalScan {
                entries,
                health: JournalHealth::Intact,
                good_len: offset,
            });
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            return Ok(JournalScan {
                entries,
                health: JournalHealth::TornTail {
                    offset,
                    length: read as u64,
                },
                good_len: offset,
            });
        }
        let previous = entries.last();
        match check_line(&line[..line.len() - 1], previous) {
            Ok(entry) => entries.push(entry),
            Err(problem) => {
                return Ok(JournalScan {
                    entries,
                    health: JournalHealth::Broken {
                        line: number,
                        problem,
                    },
                    good_len: offset,
                })
            }
        }
        offset += read as u64;
    }
}

/// Reads the journal file at `path`.
pub fn scan_file(path: &Path) -> Result<JournalScan, Error> {
    let file = File::open(path).map_err(|e| Error::io("open the journal", path, e))?;
    scan(std::io::BufReader::new(file), path)
}

fn check_line(bytes: &[u8], previous: Option<&JournalEntry>) -> Result<JournalEntry, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let recorded = map
        .get("hash")
        .and_then(Value::as_str)
        .ok_or("the entry has no hash")?
        .to_owned();
    let computed = entry_hash(&map);
    if recorded != computed {
        return Err(format!(
            "its content does not match its hash (recorded {recorded}, computed {computed})"
        ));
    }
    let entry: JournalEntry = serde_json::from_value(Value::Object(map))
        .map_err(|e| format!("the entry is not in the journal format ({e})"))?;
    let (expected_seq, expected_prev) =
        previous.map_or((1, GENESIS_HASH), |p| (p.seq + 1, &p.hash));
    if entry.seq != expected_seq {
        return Err(format!(
            "sequence number {} where {expected_seq} was expected (an entry was removed, added or reordered)",
            entry.seq
        ));
    }
    if entry.prev_hash != expected_prev {
        return Err(format!(
            "its prevHash does not match the hash of entry {} (an entry before it was altered or removed)",
            expected_seq - 1
        ));
    }
    Ok(entry)
}

/// What a caller asks to record; the writer adds `seq`, `prevHash` and `hash`.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// When it happened (from the injected clock).
    pub time: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// What kind of record.
    pub kind: EntryKind,
    /// The procedure step, if any.
    pub step: Option<String>,
    /// The kind-specific record.
    pub details: Value,
}

/// Appends entries to one journal file, continuing the chain found by [`scan`].
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    next_seq: u64,
    last_hash: String,
}

impl JournalWriter {
    /// Opens `path` for appending after `scan` (which must describe the same file, intact).
    pub fn open(path: &Path, scan: &JournalScan) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open the journal for writing", path, e))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            next_seq: scan.next_seq(),
            last_hash: scan.last_hash().to_owned(),
        })
    }

    /// Writes one entry as one line, then flushes it to the disk before returning.
    pub fn append(&mut self, new: NewEntry) -> Result<JournalEntry, Error> {
        let mut entry = JournalEntry {
            seq: self.next_seq,
            time: new.time.trunc_subsecs(3),
            actor: new.actor,
            kind: new.kind,
            step: new.step,
            details: new.details,
            prev_hash: self.last_hash.clone(),
            hash: String::new(),
        };
        let value = serde_json::to_value(&entry).map_err(|e| Error::Corrupt {
            path: self.path.clone(),
            detail: format!("a journal entry could not be encoded: {e}"),
        })?;
        let Value::Object(mut map) = value else {
            return Err(Error::Corrupt {
                path: self.path.clone(),
                detail: "a journal entry did not encode as a JSON object".into(),
            });
        };
        entry.hash = entry_hash(&map);
        map.insert("hash".into(), Value::String(entry.hash.clone()));
        let mut line = canonical_json(&Value::Object(map));
        line.push('\n');
        // One write for the whole line, so a crash can only leave the last line incomplete.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io("write to the journal", &self.path, e))?;
        self.next_seq += 1;
        self.last_hash = entry.hash.clone();
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn write_entries(path: &Path, count: u64) {
        let scan = JournalScan {
            entries: vec![],
            health: JournalHealth::Intact,
            good_len: 0,
        };
        let mut writer = JournalWriter::open(path, &scan).expect("open writer");
        for i in 0..count {
            writer
                .append(NewEntry {
                    time: time("2026-03-01T22:15:00.123456Z"),
                    actor: "admin".into(),
                    kind: EntryKind::StepStarted,
                    step: Some(format!("step-{i}")),
                    details: json!({"z": 1, "a": ["x", {"b": "é\n\"", "a": null}]}),
                })
                .expect("append");
        }
    }

    #[test]
    fn canonical_form_sorts_keys_at_every_depth_without_whitespace() {
        let value = json!({"b": 1, "a": {"d": [1, {"y": true, "x": "q\""}], "c": null}});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":null,"d":[1,{"x":"q\"","y":true}]},"b":1}"#
        );
    }

    #[test]
    fn appended_entries_chain_and_reopen_intact() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("journal.jsonl");
        write_entries(&path, 3);
        let scan = scan_file(&path).expect("scan");
        assert_eq!(scan.health, JournalHealth::Intact);
        assert_eq!(scan.entries.len(), 3);
        assert_eq!(scan.entries[0].prev_hash, GENESIS_HASH);
        assert_eq!(scan.entries[1].prev_hash, scan.entries[0].hash);
        assert_eq!(scan.entries[2].seq, 3);
        assert_eq!(
            scan.entries[0].time,
            time("2026-03-01T22:15:00.123Z"),
            "times are kept to the millisecond"
        );
        assert_eq!(scan.good_len, std::fs::metadata(&path).expect("stat").len());
    }

    #[test]
    fn the_hash_is_sha256_of_the_canonical_entry_without_hash() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("journal.jsonl");
        write_entries(&path, 1);
        let text = std::fs::read_to_string(&path).expect("read");
        let mut value: Value = serde_json::from_str(text.trim_end()).expect("json");
        let recorded = value["hash"].as_str().expect("hash").to_owned();
        value.as_object_mut().expect("object").remove("hash");
        let expected = hex::encode(Sha256::digest(canonical_json(&value).as_bytes()));
        assert_eq!(
            recorded, expected,
            "an outside tool must be able to recompute the hash"
        );
        assert_eq!(text.trim_end(), {
            let mut v = value.clone();
            v["hash"] = Value::String(recorded);
            canonical_json(&v)
        });
    }

    #[test]
    fn changing_one_byte_of_an_entry_breaks_the_chain_at_that_line() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("journal.jsonl");
        write_entries(&path, 3);
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("step-1", "step-7", 1)).expect("tamper");
        let scan = scan_file(&path).expect("scan");
        assert!(
            matches!(&scan.health, JournalHealth::Broken { line: 2, problem } if problem.contains("does not match its hash")),
            "{:?}",
            scan.health
        );
        assert_eq!(
            scan.entries.len(),
            1,
            "entries after the break are not trusted"
        );
    }

    #[test]
    fn removing_an_entry_is_reported_as_a_sequence_gap() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("journal.jsonl");
        write_entries(&path, 3);
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).expect("tamper");
        let scan = scan_file(&path).expect("scan");
        assert!(
            matches!(&scan.health, JournalHealth::Broken { line: 2, problem } if problem.contains("sequence number 3")),
            "{:?}",
            scan.health
        );
    }

    #[test]
    fn an_incomplete_last_line_is_reported_as_torn_with_its_position() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("journal.jsonl");
        write_entries(&path, 2);
        let good_len = std::fs::metadata(&path).expect("stat").len();
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(br#"{"actor":"adm"#).expect("partial write");
        let scan = scan_file(&path).expect("scan");
        assert_eq!(
            scan.health,
            JournalHealth::TornTail {
                offset: good_len,
                length: 13
            }
        );
        assert_eq!(scan.entries.len(), 2, "the complete entries are still read");
        assert_eq!(scan.good_len, good_len);
    }
}
