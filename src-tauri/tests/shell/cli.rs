//! `firebreak verify BUNDLE`: exit codes and output, without a display.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use firebreak_core::{
    bundle::{self, CancellationToken},
    case::{
        evidence::{ArtefactFormat, NewArtefact},
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseStore, ADMIN,
    },
    clock::ManualClock,
    paths::DataRoot,
};
use zip::{write::SimpleFileOptions, ZipArchive, ZipWriter};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A bundle of a case with one artefact.
fn bundle(tmp: &Path) -> PathBuf {
    let root = DataRoot::open(tmp.join("data")).unwrap();
    let store = CaseStore::new(
        &root,
        Arc::new(ManualClock::new(at("2026-03-01T22:15:00Z"))),
    )
    .unwrap();
    let view = store
        .declare(
            ADMIN,
            CaseMetadata {
                title: "Token theft".into(),
                detected_at: at("2026-03-01T21:00:00Z"),
                aware_at: at("2026-03-01T21:30:00Z"),
                alert_source: AlertSource::DefenderAlert,
                indicators: vec![],
                affected_workloads: vec![Workload::EntraId],
                severity: Severity::High,
                accounts: vec!["a.lee@contoso.com".into()],
                incident_commander: "Sam".into(),
                external_ticket: None,
            },
        )
        .unwrap();
    store
        .add_evidence(
            &view.id,
            ADMIN,
            &NewArtefact {
                name_hint: "sign-ins".into(),
                format: ArtefactFormat::Json,
                description: "Sign-ins of a.lee".into(),
                source_operation: "GET /auditLogs/signIns".into(),
                captured_at: at("2026-03-01T22:16:00Z"),
            },
            &br#"{"value":[]}"#[..],
        )
        .unwrap();
    let dest = tmp.join("bundle.zip");
    bundle::export(
        &store,
        &view.id,
        ADMIN,
        &dest,
        &mut |_| {},
        &CancellationToken::new(),
    )
    .unwrap();
    dest
}

/// Runs the built executable with no display at all: `verify` must not need one.
fn firebreak(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_firebreak"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run firebreak")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn verify_exits_0_for_an_intact_bundle_without_a_display() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bundle(tmp.path());
    let out = firebreak(&["verify".as_ref(), path.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("INTACT"), "{}", stdout(&out));
}

#[test]
fn verify_exits_1_and_names_the_altered_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = bundle(tmp.path());
    let tampered = tmp.path().join("tampered.zip");
    let mut archive = ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut writer = ZipWriter::new(std::fs::File::create(&tampered).unwrap());
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().to_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        if name.ends_with("evidence/0001-sign-ins.json") {
            content[2] ^= 0x20;
        }
        writer
            .start_file(name, SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&content).unwrap();
    }
    writer.finish().unwrap();

    let out = firebreak(&["verify".as_ref(), tampered.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("ALTERED  evidence/0001-sign-ins.json"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("NOT INTACT"));
}

#[test]
fn verify_exits_1_for_a_file_that_is_not_a_bundle_and_2_without_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.zip");
    std::fs::write(&junk, b"hello").unwrap();
    let out = firebreak(&["verify".as_ref(), junk.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a Firebreak evidence bundle"));
    let out = firebreak(&["verify".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}
