//! Cases, journal, evidence, communication log and step bookkeeping.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};

use chrono::Duration as Span;
use firebreak_core::{
    case::{
        comms::{Channel, NewNotification, Role, WarningCode},
        evidence::{ArtefactFormat, NewArtefact},
        journal::{self, EntryKind, JournalHealth, JournalWriter, NewEntry},
        metadata::Severity,
        steps::StepStatus,
        CaseId, ADMIN, JOURNAL_FILE,
    },
    Error,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{at, metadata, Fixture};

#[test]
fn declaring_an_incident_creates_a_case_folder_with_a_generated_id_and_a_journal() {
    let fx = Fixture::new();
    let mut meta = metadata();
    meta.title = "../../../etc".into();
    let view = fx.store.declare(ADMIN, meta).expect("declare");
    assert!(
        view.id.as_str().starts_with("20260301-2215-"),
        "the id comes from the clock and randomness, never from what was typed: {}",
        view.id
    );
    assert_eq!(view.folder, fx.root.cases_dir().join(view.id.as_str()));
    for file in [JOURNAL_FILE, "case.json", "communications.json"] {
        assert!(view.folder.join(file).is_file(), "{file} must exist");
    }
    assert_eq!(view.journal.len(), 1);
    assert_eq!(view.journal[0].kind, EntryKind::CaseOpened);
    assert_eq!(view.health, JournalHealth::Intact);
    assert_eq!(
        view.metadata.title, "../../../etc",
        "the title is kept as text"
    );

    let list = fx.store.list().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, view.id);
    assert_eq!(list[0].accounts, vec!["j.doe@contoso.com"]);
}

#[test]
fn case_ids_coming_back_from_the_ui_are_checked() {
    for bad in ["../x", "a/b", "", "UPPER", ".hidden", "-x", "a b"] {
        assert!(CaseId::parse(bad).is_err(), "{bad:?} must be refused");
    }
    let fx = Fixture::new();
    let missing = CaseId::parse("20990101-0000-abcdef").expect("well formed");
    assert!(matches!(
        fx.store.case(&missing),
        Err(Error::CaseNotFound { .. })
    ));
}

#[test]
fn editing_metadata_journals_every_changed_field_with_old_and_new_values() {
    let fx = Fixture::new();
    let id = fx.declare();
    fx.clock.advance(Span::minutes(3));
    let mut meta = metadata();
    meta.severity = Severity::Critical;
    meta.accounts.push("finance@contoso.com".into());
    let changes = fx
        .store
        .update_metadata(&id, ADMIN, meta.clone())
        .expect("update");
    let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, vec!["accounts", "severity"]);

    let view = fx.store.case(&id).expect("reopen");
    assert_eq!(view.metadata.severity, Severity::Critical);
    let entry = view.journal.last().expect("an entry");
    assert_eq!(entry.kind, EntryKind::MetadataChanged);
    assert_eq!(
        entry.time,
        at("2026-03-01T22:18:00Z"),
        "time from the injected clock"
    );
    assert_eq!(entry.details["changes"][1]["old"], json!("high"));
    assert_eq!(entry.details["changes"][1]["new"], json!("critical"));

    let unchanged = fx
        .store
        .update_metadata(&id, ADMIN, meta)
        .expect("same again");
    assert!(unchanged.is_empty());
    assert_eq!(
        fx.store.case(&id).expect("reopen").journal.len(),
        2,
        "no change, no entry"
    );
    let snapshot: Value =
        serde_json::from_slice(&std::fs::read(view.folder.join("case.json")).expect("case.json"))
            .expect("json");
    assert_eq!(snapshot["metadata"]["severity"], json!("critical"));
}

#[test]
fn a_tampered_journal_reopens_broken_and_the_case_refuses_every_write() {
    let fx = Fixture::new();
    let id = fx.declare();
    let mut meta = metadata();
    meta.severity = Severity::Medium;
    fx.store.update_metadata(&id, ADMIN, meta).expect("update");
    let path = fx.store.case_dir(&id).join(JOURNAL_FILE);
    let text = std::fs::read_to_string(&path).expect("journal");
    std::fs::write(&path, text.replacen("\"medium\"", "\"critical\"", 1)).expect("tamper");

    let view = fx.store.case(&id).expect("a broken case still opens");
    assert!(
        matches!(&view.health, JournalHealth::Broken { line: 2, .. }),
        "{:?}",
        view.health
    );
    assert!(view.read_only());
    let err = fx
        .store
        .log_notification(
            &id,
            ADMIN,
            notification(Role::Manager, Channel::Phone, None),
        )
        .expect_err("a broken journal takes no more entries");
    assert!(matches!(err, Error::CaseReadOnly { .. }), "{err}");
    assert!(err.to_string().contains("declare a new case"), "{err}");
}

#[test]
fn a_torn_last_line_is_reported_and_set_aside_only_on_request() {
    let fx = Fixture::new();
    let id = fx.declare();
    let path = fx.store.case_dir(&id).join(JOURNAL_FILE);
    let before = std::fs::read(&path).expect("journal");
    let fragment = br#"{"actor":"admin","details":{"reci"#;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(fragment))
        .expect("partial line");

    let view = fx.store.case(&id).expect("open");
    assert_eq!(
        view.health,
        JournalHealth::TornTail {
            offset: before.len() as u64,
            length: fragment.len() as u64
        }
    );
    let err = fx
        .store
        .log_notification(
            &id,
            ADMIN,
            notification(Role::Manager, Channel::Phone, None),
        )
        .expect_err("no writes after a torn line");
    assert!(err.to_string().contains("Set the fragment aside"), "{err}");
    let mut with_fragment = before.clone();
    with_fragment.extend_from_slice(fragment);
    assert_eq!(
        std::fs::read(&path).expect("journal"),
        with_fragment,
        "opening and refusing must not touch the journal"
    );

    let view = fx.store.recover_torn_entry(&id, ADMIN).expect("recover");
    assert_eq!(view.health, JournalHealth::Intact);
    let last = view.journal.last().expect("entry");
    assert_eq!(last.kind, EntryKind::TornEntryRecovered);
    assert_eq!(last.details["length"], json!(fragment.len()));
    assert_eq!(
        last.details["sha256"],
        json!(hex::encode(Sha256::digest(fragment)))
    );
    let kept = view
        .folder
        .join(last.details["preservedAs"].as_str().expect("name"));
    assert_eq!(
        std::fs::read(kept).expect("fragment file"),
        fragment,
        "kept byte for byte"
    );
    fx.store
        .log_notification(
            &id,
            ADMIN,
            notification(Role::Manager, Channel::Phone, None),
        )
        .expect("writable again");
}

const CHILD_JOURNAL: &str = "FIREBREAK_TEST_CHILD_JOURNAL";

/// Not a test on its own: when run as a child with `FIREBREAK_TEST_CHILD_JOURNAL` set, appends
/// large entries to that journal until it is killed.
#[ignore = "the entry point of a child process, started by the test that needs it"]
#[test]
fn child_appends_to_a_journal_until_killed() {
    let Some(path) = std::env::var_os(CHILD_JOURNAL) else {
        return;
    };
    let path = Path::new(&path);
    let scan = journal::scan_file(path).expect("scan");
    let mut writer = JournalWriter::open(path, &scan).expect("writer");
    let padding = "x".repeat(8 << 20);
    for i in 0.. {
        writer
            .append(NewEntry {
                time: at("2026-03-01T22:30:00Z"),
                actor: ADMIN.into(),
                kind: EntryKind::StepFinished,
                step: Some(format!("step-{i}")),
                details: json!({ "verified": true, "detail": padding }),
            })
            .expect("append");
    }
}

#[test]
fn a_process_killed_while_writing_leaves_a_journal_whose_torn_entry_is_reported() {
    let exe = std::env::current_exe().expect("test binary");
    let mut torn_seen = 0;
    let mut attempts: u64 = 0;
    while torn_seen == 0 && attempts < 60 {
        attempts += 1;
        let fx = Fixture::new();
        let id = fx.declare();
        let path = fx.store.case_dir(&id).join(JOURNAL_FILE);
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "cases::child_appends_to_a_journal_until_killed",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_JOURNAL, &path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        // Kill it while a line is being written: the file then ends without a newline. Between
        // the check and the kill the write may complete, which the Intact branch below covers.
        let started = std::time::Instant::now();
        let initial = std::fs::metadata(&path).map_or(0, |m| m.len());
        while started.elapsed() < Duration::from_secs(20) {
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            if size > initial && last_byte(&path, size) != Some(b'\n') {
                break;
            }
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let view = fx
            .restart()
            .case(&id)
            .expect("a crashed case must still open");
        let on_disk = std::fs::metadata(&path).expect("stat").len();
        match &view.health {
            JournalHealth::Intact => {
                assert!(
                    view.journal.len() >= 2,
                    "the child wrote entries before the kill"
                );
            }
            JournalHealth::TornTail { offset, length } => {
                torn_seen += 1;
                assert_eq!(
                    offset + length,
                    on_disk,
                    "the fragment runs to the end of the file"
                );
                assert!(
                    view.read_only(),
                    "a torn journal is read-only until the admin acts"
                );
                let complete = view.journal.len();
                let recovered = fx.store.recover_torn_entry(&id, ADMIN).expect("recover");
                assert_eq!(recovered.health, JournalHealth::Intact);
                assert_eq!(
                    recovered.journal.len(),
                    complete + 1,
                    "no complete entry is lost, one recovery entry is added"
                );
            }
            JournalHealth::Broken { line, problem } => {
                panic!("a crash must never look like tampering: line {line}: {problem}")
            }
        }
    }
    eprintln!("torn entries seen after {attempts} kill(s)");
    assert!(
        torn_seen > 0,
        "no kill landed inside a write in {attempts} attempts; the torn case was not exercised"
    );
}

fn last_byte(path: &Path, size: u64) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::Start(size.checked_sub(1)?)).ok()?;
    let mut byte = [0u8; 1];
    file.read_exact(&mut byte).ok()?;
    Some(byte[0])
}

#[test]
fn evidence_is_saved_byte_for_byte_hashed_and_journaled() {
    let fx = Fixture::new();
    let id = fx.declare();
    let raw =
        b"{\"value\":[{\"displayName\":\"Move to RSS\",\"id\":\"AQAAAJ5dZ\"}]}\r\n\xef\xbb\xbf";
    let artefact = NewArtefact {
        name_hint: "inbox rules j.doe".into(),
        format: ArtefactFormat::Json,
        description: "Inbox rules of j.doe@contoso.com before removal".into(),
        source_operation: "GET /users/{id}/mailFolders/inbox/messageRules".into(),
        captured_at: at("2026-03-01T22:20:00Z"),
    };
    let record = fx
        .store
        .add_evidence(&id, ADMIN, &artefact, &raw[..])
        .expect("save");
    assert_eq!(record.file, "evidence/0001-inbox_rules_j.doe.json");
    assert_eq!(record.size, raw.len() as u64);
    assert_eq!(record.sha256, hex::encode(Sha256::digest(raw)));
    let saved = std::fs::read(fx.store.case_dir(&id).join(&record.file)).expect("read back");
    assert_eq!(saved, raw, "the artefact is stored exactly as received");

    let second = fx
        .store
        .add_evidence(&id, ADMIN, &artefact, &b"[]"[..])
        .expect("save again");
    assert_eq!(second.file, "evidence/0002-inbox_rules_j.doe.json");
    let view = fx.store.case(&id).expect("reopen");
    assert_eq!(view.evidence, vec![record.clone(), second]);
    let entry = view
        .journal
        .iter()
        .find(|e| e.kind == EntryKind::EvidenceAdded)
        .expect("journaled");
    assert_eq!(entry.details["sha256"], json!(record.sha256));
    let leftovers: Vec<_> = std::fs::read_dir(view.folder.join("evidence"))
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary file is left behind: {leftovers:?}"
    );
}

#[test]
fn hostile_artefact_names_stay_inside_the_case_folder() {
    let fx = Fixture::new();
    let id = fx.declare();
    let evidence_dir = fx
        .store
        .case_dir(&id)
        .join("evidence")
        .canonicalize()
        .expect("evidence dir");
    let hostile = [
        "../../../../tmp/pwned",
        "..\\..\\..\\Windows\\System32\\drivers\\etc\\hosts",
        "/etc/passwd",
        "C:\\boot.ini",
        "CON",
        "nul.json",
        "COM1",
        "..",
        ".",
        "",
        "rule\u{0}name\nwith\rcontrol\u{7}chars",
        "\u{202e}nosj.exe",
        "🔥 Forward all to gmail 🔥",
        &"A".repeat(5000),
        "a/../../b",
        "evidence/../../journal.jsonl",
    ];
    let before_root: Vec<_> = list_all(fx.tmp.path());
    for (i, name) in hostile.iter().enumerate() {
        let artefact = NewArtefact {
            name_hint: (*name).to_owned(),
            format: ArtefactFormat::Csv,
            description: "hostile name".into(),
            source_operation: "test".into(),
            captured_at: at("2026-03-01T22:20:00Z"),
        };
        let content = format!("row,{i}\n");
        let record = fx
            .store
            .add_evidence(&id, ADMIN, &artefact, content.as_bytes())
            .expect("save");
        let full = fx
            .store
            .case_dir(&id)
            .join(&record.file)
            .canonicalize()
            .expect("the saved file exists");
        assert_eq!(
            full.parent(),
            Some(evidence_dir.as_path()),
            "{name:?} was saved as {} outside the evidence folder",
            record.file
        );
        let file_name = full
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(file_name.len() <= 100, "{file_name} is too long");
        assert!(file_name.ends_with(".csv"));
        let upper = file_name.to_ascii_uppercase();
        for reserved in ["CON.", "NUL.", "COM1."] {
            assert!(!upper.starts_with(reserved), "{file_name}");
        }
        assert_eq!(std::fs::read_to_string(&full).expect("content"), content);
    }
    let after_root = list_all(fx.tmp.path());
    let new_outside: Vec<_> = after_root
        .iter()
        .filter(|p| !before_root.contains(p) && !p.starts_with(&evidence_dir))
        .filter(|p| !p.ends_with(JOURNAL_FILE))
        .collect();
    assert!(
        new_outside.is_empty(),
        "files appeared outside the evidence folder: {new_outside:?}"
    );
    assert_eq!(
        fx.store.case(&id).expect("reopen").evidence.len(),
        hostile.len(),
        "every artefact is journaled"
    );
}

fn list_all(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list").filter_map(Result::ok) {
        let path = entry.path().canonicalize().expect("canonical");
        if path.is_dir() {
            out.extend(list_all(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn notification(role: Role, channel: Channel, address: Option<&str>) -> NewNotification {
    NewNotification {
        role,
        recipient: "Jane Doe".into(),
        address: address.map(str::to_owned),
        channel,
        told_at: at("2026-03-01T22:25:00Z"),
        message: "Your account is being secured; do not use your laptop until IT calls back."
            .into(),
    }
}

#[test]
fn telling_the_user_through_their_own_mailbox_is_logged_with_a_warning_that_is_journaled() {
    let fx = Fixture::new();
    let id = fx.declare();
    let record = fx
        .store
        .log_notification(
            &id,
            ADMIN,
            notification(Role::User, Channel::WorkEmail, None),
        )
        .expect("log");
    assert_eq!(record.warnings.len(), 1);
    assert_eq!(record.warnings[0].code, WarningCode::CompromisedChannel);
    let phoned = fx
        .store
        .log_notification(
            &id,
            ADMIN,
            notification(Role::User, Channel::Phone, Some("+44 20 7946 0000")),
        )
        .expect("log");
    assert!(phoned.warnings.is_empty());

    let view = fx.store.case(&id).expect("reopen");
    assert_eq!(view.notifications, vec![record.clone(), phoned]);
    let entry = view
        .journal
        .iter()
        .find(|e| e.kind == EntryKind::NotificationLogged)
        .expect("journaled");
    assert_eq!(
        entry.details["warnings"][0]["code"],
        json!("compromisedChannel")
    );
    assert_eq!(
        firebreak_core::case::describe_entry(entry),
        "Told Jane Doe (the affected user) by work email — warning: compromised channel"
    );
    let log: Value = serde_json::from_slice(
        &std::fs::read(view.folder.join("communications.json")).expect("log file"),
    )
    .expect("json");
    assert_eq!(log["notifications"].as_array().map(Vec::len), Some(2));
    assert_eq!(log["notifications"][0]["channel"], json!("workEmail"));
}

#[test]
fn an_interrupted_step_is_reported_and_must_be_reverified_before_a_retry() {
    let fx = Fixture::new();
    let id = fx.declare();
    fx.store
        .start_step(
            &id,
            ADMIN,
            "revoke-sessions",
            json!({"user": "j.doe@contoso.com"}),
        )
        .expect("start");
    let running = fx.store.case(&id).expect("open").steps;
    assert_eq!(
        running[0].status,
        StepStatus::Running,
        "same session: still running"
    );
    let err = fx
        .store
        .start_step(&id, ADMIN, "revoke-sessions", Value::Null)
        .expect_err("no second start while running");
    assert!(matches!(err, Error::StepRefused { .. }));

    // The application stops here and starts again.
    let restarted = fx.restart();
    let view = restarted.case(&id).expect("reopen");
    assert_eq!(view.steps[0].status, StepStatus::Interrupted);
    assert_eq!(restarted.list().expect("list")[0].interrupted_steps, 1);
    let err = restarted
        .start_step(&id, ADMIN, "revoke-sessions", Value::Null)
        .expect_err("an interrupted step is never repeated blindly");
    assert!(err.to_string().contains("Re-verify"), "{err}");
    assert!(restarted
        .skip_step(&id, ADMIN, "revoke-sessions", "not needed")
        .is_err());
    assert!(
        restarted
            .finish_step(&id, ADMIN, "revoke-sessions", true, Value::Null)
            .is_err(),
        "an earlier run's step cannot be finished from here"
    );

    let state = restarted
        .reverify_step(
            &id,
            ADMIN,
            "revoke-sessions",
            false,
            json!({"signInSessionsValidFromDateTime": null}),
        )
        .expect("re-verify");
    assert_eq!(state.status, StepStatus::ReadyToRetry);
    let state = restarted
        .start_step(&id, ADMIN, "revoke-sessions", Value::Null)
        .expect("retry after re-verification");
    assert_eq!(state.attempts, 2);
    let state = restarted
        .finish_step(&id, ADMIN, "revoke-sessions", true, Value::Null)
        .expect("finish");
    assert_eq!(state.status, StepStatus::Finished { verified: true });
    let kinds: Vec<EntryKind> = restarted
        .case(&id)
        .expect("reopen")
        .journal
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds[1..],
        [
            EntryKind::StepStarted,
            EntryKind::StepReverified,
            EntryKind::StepStarted,
            EntryKind::StepFinished
        ]
    );
}

#[test]
fn failed_and_skipped_steps_are_kept_with_their_reasons() {
    let fx = Fixture::new();
    let id = fx.declare();
    fx.store
        .start_step(&id, ADMIN, "reset-password", Value::Null)
        .expect("start");
    let failed = fx
        .store
        .fail_step(
            &id,
            ADMIN,
            "reset-password",
            "403: missing permission",
            Value::Null,
        )
        .expect("fail");
    assert_eq!(
        failed.status,
        StepStatus::Failed {
            reason: "403: missing permission".into()
        }
    );
    assert!(
        fx.store
            .skip_step(&id, ADMIN, "remove-rules", "  ")
            .is_err(),
        "a reason is required"
    );
    let skipped = fx
        .store
        .skip_step(&id, ADMIN, "remove-rules", "no rules found")
        .expect("skip");
    assert_eq!(
        skipped.status,
        StepStatus::Skipped {
            reason: "no rules found".into()
        }
    );
    assert!(fx
        .store
        .start_step(&id, ADMIN, "Bad Step", Value::Null)
        .is_err());
}
