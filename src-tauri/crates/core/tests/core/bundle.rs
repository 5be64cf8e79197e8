//! Evidence bundles: export, verification by Firebreak and by `sha256sum -c`, tampering,
//! cancellation and memory use.

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Command,
};

use firebreak_core::{
    bundle::{self, CancellationToken, Progress, VerifyReport},
    case::{
        comms::{Channel, NewNotification, Role},
        evidence::{ArtefactFormat, NewArtefact},
        journal::JournalHealth,
        CaseId, ADMIN,
    },
    Error,
};
use zip::{write::SimpleFileOptions, ZipArchive, ZipWriter};

use crate::support::{at, Fixture};

/// A case with evidence, a notification and a report, exported to a bundle.
fn exported() -> (Fixture, CaseId, PathBuf) {
    let fx = Fixture::new();
    let id = fx.declare();
    let save = |hint: &str, format, body: &[u8]| {
        fx.store
            .add_evidence(
                &id,
                ADMIN,
                &NewArtefact {
                    name_hint: hint.into(),
                    format,
                    description: format!("{hint} as exported"),
                    source_operation: "GET /auditLogs/signIns".into(),
                    captured_at: at("2026-03-01T22:20:00Z"),
                },
                body,
            )
            .expect("save evidence");
    };
    save(
        "sign-ins",
        ArtefactFormat::Json,
        br#"{"value":[{"ipAddress":"203.0.113.7"}]}"#,
    );
    save(
        "audit log",
        ArtefactFormat::Csv,
        b"CreationDate,Operation\n2026-03-01,New-InboxRule\n",
    );
    fx.store
        .log_notification(
            &id,
            ADMIN,
            NewNotification {
                role: Role::PrivacyLead,
                recipient: "Priya (DPO)".into(),
                address: None,
                channel: Channel::Phone,
                told_at: at("2026-03-01T22:40:00Z"),
                message: "Aware at 22:00; mailbox access by an attacker likely.".into(),
            },
        )
        .expect("notify");
    let reports = fx.store.case_dir(&id).join("reports");
    std::fs::create_dir_all(&reports).expect("reports dir");
    std::fs::write(
        reports.join("incident-report.pdf"),
        b"%PDF-1.7 fake for the test",
    )
    .expect("report");

    let dest = fx.tmp.path().join("out").join("bundle.zip");
    bundle::export(
        &fx.store,
        &id,
        ADMIN,
        &dest,
        &mut |_| {},
        &CancellationToken::new(),
    )
    .expect("export");
    (fx, id, dest)
}

fn verify(path: &Path) -> VerifyReport {
    bundle::verify(path, &mut |_| {}, &CancellationToken::new()).expect("verify runs")
}

fn unzip(bundle: &Path, into: &Path) {
    let status = Command::new("unzip")
        .args(["-q", "-o"])
        .arg(bundle)
        .arg("-d")
        .arg(into)
        .status()
        .expect("run unzip");
    assert!(status.success(), "unzip failed");
}

/// Runs the real `sha256sum -c SHA256SUMS` inside the unzipped case folder.
fn sha256sum_check(folder: &Path) -> (bool, String) {
    let out = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(folder)
        .output()
        .expect("run sha256sum");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn entry_names(bundle: &Path) -> Vec<String> {
    let archive = ZipArchive::new(std::fs::File::open(bundle).expect("open")).expect("zip");
    archive.file_names().map(str::to_owned).collect()
}

/// Writes a copy of `bundle` with entry `name` replaced by `change(content)`, or removed when
/// `change` returns `None`, plus optional extra entries.
fn rewrite(
    bundle: &Path,
    out: &Path,
    name: &str,
    change: impl Fn(Vec<u8>) -> Option<Vec<u8>>,
    extra: &[(&str, &[u8])],
) {
    let mut archive = ZipArchive::new(std::fs::File::open(bundle).expect("open")).expect("zip");
    let mut writer = ZipWriter::new(std::fs::File::create(out).expect("create"));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let entry_name = entry.name().to_owned();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("read entry");
        let content = if entry_name == name {
            change(content)
        } else {
            Some(content)
        };
        if let Some(content) = content {
            writer
                .start_file(entry_name, SimpleFileOptions::default())
                .expect("start");
            writer.write_all(&content).expect("write");
        }
    }
    for (extra_name, content) in extra {
        writer
            .start_file(*extra_name, SimpleFileOptions::default())
            .expect("start");
        writer.write_all(content).expect("write");
    }
    writer.finish().expect("finish");
}

#[test]
fn a_fresh_bundle_is_intact_for_firebreak_and_for_sha256sum() {
    let (fx, id, dest) = exported();
    let report = verify(&dest);
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.case_id.as_deref(), Some(id.as_str()));
    assert_eq!(report.journal, Some(JournalHealth::Intact));

    let names: BTreeSet<String> = entry_names(&dest).into_iter().collect();
    for expected in [
        "journal.jsonl",
        "case.json",
        "communications.json",
        "evidence/0001-sign-ins.json",
        "evidence/0002-audit_log.csv",
        "reports/incident-report.pdf",
        "reports/timeline.csv",
        "reports/timeline.jsonl",
        "manifest.json",
        "SHA256SUMS",
    ] {
        assert!(
            names.contains(&format!("{id}/{expected}")),
            "{expected} missing from {names:?}"
        );
    }

    let unzipped = fx.tmp.path().join("unzipped");
    unzip(&dest, &unzipped);
    let (ok, output) = sha256sum_check(&unzipped.join(id.as_str()));
    assert!(ok, "sha256sum -c must accept a fresh bundle:\n{output}");
    assert_eq!(output.matches(": OK").count(), 9, "{output}");

    // The report and the timeline were generated at export time from the case, replacing the
    // stale file the folder held.
    let folder = unzipped.join(id.as_str());
    let pdf = std::fs::read(folder.join("reports/incident-report.pdf")).expect("report");
    assert!(
        pdf.starts_with(b"%PDF-") && pdf.len() > 10_000,
        "a real PDF"
    );
    let text = Command::new("pdftotext")
        .arg(folder.join("reports/incident-report.pdf"))
        .arg("-")
        .output()
        .expect("pdftotext");
    let text: String = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect();
    assert!(text.contains(id.as_str()), "the report names the case");
    assert!(text.contains("Priya(DPO)"), "the communication is reported");
    let csv = std::fs::read_to_string(folder.join("reports/timeline.csv")).expect("csv");
    assert!(csv.starts_with("datetime,timestamp_desc,message"));
    assert!(
        csv.contains("Evidence saved"),
        "the journal is in the timeline"
    );

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(unzipped.join(id.as_str()).join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    let sign_ins = manifest["files"]
        .as_array()
        .and_then(|files| {
            files
                .iter()
                .find(|f| f["path"] == "evidence/0001-sign-ins.json")
        })
        .expect("listed");
    assert_eq!(sign_ins["capturedAt"], "2026-03-01T22:20:00Z");
    assert!(sign_ins["description"]
        .as_str()
        .is_some_and(|d| d.contains("GET /auditLogs/signIns")));

    let journal = fx.store.case(&id).expect("case").journal;
    assert_eq!(
        journal.last().map(|e| e.kind),
        Some(firebreak_core::case::journal::EntryKind::BundleExported),
        "the export itself is journaled"
    );
}

#[test]
fn one_altered_byte_in_any_file_is_named_by_firebreak_and_failed_by_sha256sum() {
    let (fx, id, dest) = exported();
    let names = entry_names(&dest);
    assert!(names.len() >= 8);
    for name in &names {
        let rel = name
            .strip_prefix(&format!("{id}/"))
            .expect("inside the case folder");
        let tampered = fx
            .tmp
            .path()
            .join(format!("tampered-{}.zip", rel.replace('/', "_")));
        rewrite(
            &dest,
            &tampered,
            name,
            |mut content| {
                let middle = content.len() / 2;
                content[middle] ^= 0x01;
                Some(content)
            },
            &[],
        );

        let report = verify(&tampered);
        assert!(!report.intact, "altering {rel} must be detected");
        if rel == "SHA256SUMS" {
            assert!(
                !report.altered.is_empty() || !report.problems.is_empty(),
                "a changed checksum list must show as a mismatch: {report:#?}"
            );
        } else {
            assert!(
                report.altered.contains(&rel.to_owned()),
                "{rel} not named: {report:#?}"
            );
        }

        let unzipped = fx.tmp.path().join(format!("u-{}", rel.replace('/', "_")));
        unzip(&tampered, &unzipped);
        let (ok, output) = sha256sum_check(&unzipped.join(id.as_str()));
        assert!(
            !ok,
            "sha256sum -c must fail when {rel} is altered:\n{output}"
        );
        if rel != "SHA256SUMS" {
            assert!(
                output.contains(&format!("{rel}: FAILED")),
                "{rel}:\n{output}"
            );
        }
    }
}

#[test]
fn missing_and_extra_files_are_named() {
    let (fx, id, dest) = exported();
    let out = fx.tmp.path().join("changed.zip");
    let evidence = format!("{id}/evidence/0002-audit_log.csv");
    let planted = format!("{id}/evidence/0003-planted.json");
    rewrite(
        &dest,
        &out,
        &evidence,
        |_| None,
        &[(planted.as_str(), b"{}")],
    );
    let report = verify(&out);
    assert!(!report.intact);
    assert_eq!(report.missing, vec!["evidence/0002-audit_log.csv"]);
    assert_eq!(report.extra, vec!["evidence/0003-planted.json"]);
}

#[test]
fn a_consistently_rewritten_bundle_still_shows_the_journal_chain_break() {
    // Someone edits the journal and regenerates SHA256SUMS and the manifest to match: the
    // checksums agree, but the hash chain does not.
    let (fx, id, dest) = exported();
    let unzipped = fx.tmp.path().join("forged");
    unzip(&dest, &unzipped);
    let folder = unzipped.join(id.as_str());
    let journal = std::fs::read_to_string(folder.join("journal.jsonl")).expect("journal");
    let forged = journal.replacen("Priya (DPO)", "Nobody told", 1);
    assert_ne!(journal, forged);
    std::fs::write(folder.join("journal.jsonl"), &forged).expect("forge");
    let status = Command::new("sh")
        .arg("-c")
        .arg("grep -v '  manifest.json$' SHA256SUMS | cut -c67- | xargs sha256sum > S && sha256sum manifest.json >> S && mv S SHA256SUMS")
        .current_dir(&folder)
        .status()
        .expect("regenerate sums");
    assert!(status.success());
    let (ok, output) = sha256sum_check(&folder);
    assert!(ok, "the forger's checksums agree:\n{output}");

    let out = fx.tmp.path().join("forged.zip");
    let mut writer = ZipWriter::new(std::fs::File::create(&out).expect("create"));
    for name in entry_names(&dest) {
        let rel = name.strip_prefix(&format!("{id}/")).expect("prefix");
        writer
            .start_file(name.clone(), SimpleFileOptions::default())
            .expect("start");
        writer
            .write_all(&std::fs::read(folder.join(rel)).expect("read"))
            .expect("write");
    }
    writer.finish().expect("finish");

    let report = verify(&out);
    assert!(!report.intact, "{report:#?}");
    assert!(
        matches!(report.journal, Some(JournalHealth::Broken { .. })),
        "the chain break must be named: {report:#?}"
    );
}

#[test]
fn progress_reaches_the_total_and_a_cancelled_export_leaves_nothing() {
    let fx = Fixture::new();
    let id = fx.declare();
    let big = vec![b'a'; 5 << 20];
    fx.store
        .add_evidence(
            &id,
            ADMIN,
            &NewArtefact {
                name_hint: "mailbox audit".into(),
                format: ArtefactFormat::Json,
                description: "big".into(),
                source_operation: "test".into(),
                captured_at: at("2026-03-01T22:20:00Z"),
            },
            &big[..],
        )
        .expect("save");

    let mut seen: Vec<Progress> = Vec::new();
    let dest = fx.tmp.path().join("done.zip");
    bundle::export(
        &fx.store,
        &id,
        ADMIN,
        &dest,
        &mut |p| seen.push(p),
        &CancellationToken::new(),
    )
    .expect("export");
    let last = seen.last().expect("progress reported");
    assert_eq!(last.bytes_done, last.bytes_total);
    assert!(last.bytes_total > 5 << 20);
    assert!(
        seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done),
        "progress never goes back"
    );

    let cancel = CancellationToken::new();
    let dest = fx.tmp.path().join("exports").join("cancelled.zip");
    let token = cancel.clone();
    let result = bundle::export(
        &fx.store,
        &id,
        ADMIN,
        &dest,
        &mut |p| {
            if p.bytes_done > 1 << 20 {
                token.cancel();
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    assert!(!dest.exists(), "a cancelled export leaves no bundle");
    let leftovers: Vec<_> = std::fs::read_dir(dest.parent().expect("dir"))
        .expect("list")
        .collect();
    assert!(leftovers.is_empty(), "and no temporary file: {leftovers:?}");

    let err = bundle::export(
        &fx.store,
        &id,
        ADMIN,
        &fx.tmp.path().join("done.zip"),
        &mut |_| {},
        &CancellationToken::new(),
    )
    .expect_err("an existing bundle is never overwritten");
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn a_file_that_is_not_a_bundle_is_refused_clearly() {
    let fx = Fixture::new();
    let path = fx.tmp.path().join("notes.zip");
    std::fs::write(&path, b"not a zip").expect("write");
    let err = bundle::verify(&path, &mut |_| {}, &CancellationToken::new()).expect_err("not a zip");
    assert!(matches!(err, Error::NotABundle { .. }), "{err}");
}

const CHILD_BUNDLE: &str = "FIREBREAK_TEST_CHILD_BUNDLE";
const BIG_FILES: u64 = 3;
const BIG_FILE_BYTES: u64 = 120 << 20;

/// A JSON-lines-looking stream of `len` bytes, generated on the fly (never held in memory).
struct Generated {
    left: u64,
    counter: u64,
    line: Vec<u8>,
    pos: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        if self.pos == self.line.len() {
            self.counter = self
                .counter
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.line = format!(
                "{{\"id\":\"{:016x}\",\"ipAddress\":\"203.0.{}.{}\",\"status\":{{\"errorCode\":{}}}}}\n",
                self.counter,
                self.counter >> 56,
                (self.counter >> 48) & 0xff,
                self.counter % 50_000
            )
            .into_bytes();
            self.pos = 0;
        }
        let n = buf
            .len()
            .min(self.line.len() - self.pos)
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buf[..n].copy_from_slice(&self.line[self.pos..self.pos + n]);
        self.pos += n;
        self.left -= n as u64;
        Ok(n)
    }
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Not a test on its own: when run as a child with `FIREBREAK_TEST_CHILD_BUNDLE` set, writes a
/// case with several hundred MB of evidence, exports and verifies it, and prints its peak RSS.
#[ignore = "the entry point of a child process, started by the test that needs it"]
#[test]
fn child_exports_a_large_bundle_and_reports_its_memory() {
    let Some(dir) = std::env::var_os(CHILD_BUNDLE) else {
        return;
    };
    let fx = Fixture::new();
    let id = fx.declare();
    let before = peak_rss_kib();
    for i in 0..BIG_FILES {
        let content = Generated {
            left: BIG_FILE_BYTES,
            counter: i,
            line: Vec::new(),
            pos: 0,
        };
        fx.store
            .add_evidence(
                &id,
                ADMIN,
                &NewArtefact {
                    name_hint: format!("mail items accessed {i}"),
                    format: ArtefactFormat::Json,
                    description: "MailItemsAccessed export".into(),
                    source_operation: "POST /security/auditLog/queries".into(),
                    captured_at: at("2026-03-01T22:20:00Z"),
                },
                content,
            )
            .expect("save");
    }
    let after_evidence = peak_rss_kib();
    let dest = Path::new(&dir).join("large.zip");
    bundle::export(
        &fx.store,
        &id,
        ADMIN,
        &dest,
        &mut |_| {},
        &CancellationToken::new(),
    )
    .expect("export");
    let after_export = peak_rss_kib();
    let report = verify(&dest);
    assert!(report.intact, "{report:#?}");
    let after_verify = peak_rss_kib();
    println!(
        "PEAK before={before} evidence={after_evidence} export={after_export} verify={after_verify} zip={}",
        std::fs::metadata(&dest).expect("stat").len()
    );
}

#[test]
fn a_bundle_of_several_hundred_megabytes_is_written_and_verified_in_bounded_memory() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "bundle::child_exports_a_large_bundle_and_reports_its_memory",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_BUNDLE, tmp.path())
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("PEAK "))
        .expect("child reports its peak");
    let field = |key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .expect("a number")
    };
    let total_mib = (BIG_FILES * BIG_FILE_BYTES) >> 20;
    eprintln!(
        "bundle of {total_mib} MiB of evidence ({} MiB zipped): peak RSS {} KiB before, {} KiB after \
         saving evidence, {} KiB after export, {} KiB after verify",
        field("zip") >> 20,
        field("before"),
        field("evidence"),
        field("export"),
        field("verify")
    );
    let growth = field("verify").saturating_sub(field("before"));
    assert!(
        growth < 32 * 1024,
        "memory grew by {growth} KiB for {total_mib} MiB of evidence: the bundle is not streamed"
    );
}
