//! P4: documents. The incident report PDF with 2,000 timeline rows, and the evidence bundle of a
//! case holding 1 GiB of incompressible evidence: its throughput against `sha256sum` over the same
//! files in the same run, and the memory the export adds (peak RSS of a child process that only
//! exports, read before and after, as core's bounded-memory test does).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use firebreak_core::{
    bundle::{self, CancellationToken},
    case::{
        evidence::{ArtefactFormat, NewArtefact},
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, CaseStore, ADMIN,
    },
    clock::SystemClock,
    paths::DataRoot,
    report::{incident, Paper},
};
use serde_json::json;

use crate::Failure;

/// Renders an incident report with `rows` timeline rows; returns the time and the PDF's size.
pub fn render_report(rows: usize) -> Result<(Duration, usize), Failure> {
    let report: incident::IncidentReport = serde_json::from_value(sample_report(rows))?;
    let started = Instant::now();
    let pdf = incident::render(&report, Paper::A4)?;
    Ok((started.elapsed(), pdf.len()))
}

/// A report like the AiTM scenario's, built from its JSON form so that fields added to the report
/// later (with defaults) do not break the benchmark.
fn sample_report(rows: usize) -> serde_json::Value {
    let start = DateTime::parse_from_rfc3339("2026-03-01T17:47:00+01:00").unwrap_or_default();
    let at = |minutes: i64| (start + chrono::Duration::minutes(minutes)).to_rfc3339();
    let timeline: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            json!({
                "time": at(i as i64 / 6),
                "source": if i % 3 == 0 { "journal" } else { "signIns" },
                "kind": "Event time",
                "description": format!("Non-interactive sign-in {} from 203.0.113.{} to Office 365 Exchange Online", i + 1, i % 200),
                "actor": "megan@contoso.example",
                "fields": {"ipAddress": format!("203.0.113.{}", i % 200)},
            })
        })
        .collect();
    json!({
        "case": {
            "caseId": "FB-20260301-01",
            "title": "Compromised mailbox of the finance assistant",
            "organisation": "Contoso Dental Group",
            "tenant": "contoso.example",
            "severity": "High",
            "status": "Contained; watch window until 4 March 23:47",
            "alertSource": "Defender alert",
            "detectedAt": at(0),
            "awareAt": at(244),
            "containedAt": at(300),
            "closedAt": null,
            "incidentCommander": "Sam Taylor",
            "externalTicket": "INC-4711",
            "preparedBy": "Sam Taylor",
            "generatedAt": at(360),
        },
        "summary": {
            "whatHappened": "An attacker relayed the finance assistant's MFA through a phishing page and created a rule hiding replies.",
            "impact": "About sixty sent messages were read.",
            "currentState": "Contained: sessions revoked, account disabled, password reset, rule removed.",
            "decisionsNeeded": ["Whether to notify the supervisory authority."],
        },
        "compromiseKind": "tokenTheft",
        "attackVector": "Adversary-in-the-middle phishing page",
        "scope": {"accounts": ["megan@contoso.example"], "workloads": ["Exchange Online"], "data": ["Sent Items"]},
        "timeline": timeline,
        "actions": [{"time": at(250), "step": "1 Revoke sessions", "action": "Revoked refresh tokens", "outcome": "verified", "detail": "signInSessionsValidFromDateTime is 00:12"}],
        "blastRadius": [{"check": "Inbox rules", "status": "finding", "detail": "Rule moved replies to RSS Feeds; removed"}],
        "evidence": [{"name": "evidence/0001-signins.json", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "collectedAt": at(245), "description": "Sign-in logs, 7 days"}],
        "communications": [{"time": at(260), "recipient": "Dana Weiss, privacy lead", "channel": "Phone", "summary": "Aware at 23:47."}],
        "recommendations": ["Turn external automatic forwarding off by default."],
        "lessons": {"wentWell": "", "toImprove": "", "followUps": ""},
        "retentionNote": "Sign-in logs reach back 30 days (Entra ID P1).",
    })
}

/// Incompressible bytes from a xorshift generator: a fixed seed per file, never held whole.
struct Noise {
    left: u64,
    state: u64,
}

impl Read for Noise {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX))
            & !7;
        let n = if n == 0 {
            buf.len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX))
        } else {
            n
        };
        for chunk in buf[..n].chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A case holding `files` evidence files of `file_bytes` incompressible bytes each.
pub struct EvidenceCase {
    /// Its data folder.
    pub root: PathBuf,
    /// The case.
    pub id: CaseId,
    /// The evidence files on disk.
    pub files: Vec<PathBuf>,
    /// Their total size.
    pub bytes: u64,
}

/// Writes that case under `folder`.
pub fn evidence_case(folder: &Path, files: u64, file_bytes: u64) -> Result<EvidenceCase, Failure> {
    let root = folder.join("data");
    let store = CaseStore::new(&DataRoot::open(&root)?, Arc::new(SystemClock))?;
    let now: DateTime<Utc> = Utc::now();
    let case = store.declare(
        ADMIN,
        CaseMetadata {
            title: "Benchmark: a case with 1 GiB of evidence".into(),
            detected_at: now,
            aware_at: now,
            alert_source: AlertSource::DefenderAlert,
            indicators: vec!["benchmark".into()],
            affected_workloads: vec![Workload::ExchangeOnline],
            severity: Severity::High,
            accounts: vec!["megan@contoso.example".into()],
            incident_commander: "Benchmark".into(),
            external_ticket: None,
        },
    )?;
    let mut paths = Vec::new();
    for i in 0..files {
        let record = store.add_evidence(
            &case.id,
            ADMIN,
            &NewArtefact {
                name_hint: format!("mail items accessed {i}"),
                format: ArtefactFormat::Text,
                description: "Incompressible benchmark evidence".into(),
                source_operation: "benchmark".into(),
                captured_at: now,
            },
            Noise {
                left: file_bytes,
                state: 0x9E37_79B9_7F4A_7C15 ^ (i + 1),
            },
        )?;
        paths.push(store.case_dir(&case.id).join(&record.file));
    }
    Ok(EvidenceCase {
        root,
        id: case.id,
        files: paths,
        bytes: files * file_bytes,
    })
}

/// Reads every file once so that both contenders start from a warm page cache.
pub fn warm(files: &[PathBuf]) -> Result<(), Failure> {
    let mut buf = vec![0u8; 1 << 20];
    for path in files {
        let mut file = std::fs::File::open(path)?;
        while file.read(&mut buf)? > 0 {}
    }
    Ok(())
}

/// Times `sha256sum` over the files.
pub fn time_sha256sum(files: &[PathBuf]) -> Result<Duration, Failure> {
    let started = Instant::now();
    let status = Command::new("sha256sum")
        .args(files)
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("sha256sum failed: {status}").into());
    }
    Ok(started.elapsed())
}

/// What the exporting child reported.
pub struct Export {
    /// Time spent in `bundle::export`.
    pub elapsed: Duration,
    /// Peak RSS before the export, KiB.
    pub before_kib: u64,
    /// Peak RSS after it, KiB.
    pub after_kib: u64,
    /// The bundle's size.
    pub zip_bytes: u64,
}

/// Exports the case in a child process (this executable with `bundle-child`) and reads its report.
pub fn export_in_child(case: &EvidenceCase, destination: &Path) -> Result<Export, Failure> {
    let out = Command::new(std::env::current_exe()?)
        .arg("bundle-child")
        .arg(&case.root)
        .arg(case.id.as_str())
        .arg(destination)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "the exporting child failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let field = |key: &str| -> Result<u64, Failure> {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("the exporting child did not report {key}: {stdout}").into())
    };
    if field("intact")? != 1 {
        return Err("the exported bundle did not verify as intact".into());
    }
    Ok(Export {
        elapsed: Duration::from_micros(field("export_us")?),
        before_kib: field("before_kib")?,
        after_kib: field("after_kib")?,
        zip_bytes: field("zip_bytes")?,
    })
}

/// The child's side: export the case and print `export_us=… before_kib=… after_kib=… zip_bytes=…`.
pub fn bundle_child(root: &Path, id: &str, destination: &Path) -> Result<(), Failure> {
    let store = CaseStore::new(&DataRoot::open(root)?, Arc::new(SystemClock))?;
    let id = CaseId::parse(id)?;
    let before = peak_rss_kib()?;
    let started = Instant::now();
    let summary = bundle::export(
        &store,
        &id,
        ADMIN,
        destination,
        &mut |_| {},
        &CancellationToken::new(),
    )?;
    let elapsed = started.elapsed();
    let after = peak_rss_kib()?;
    // Not timed: the bundle must be one Firebreak (and sha256sum) accepts, or the speed is moot.
    let check = bundle::verify(&summary.path, &mut |_| {}, &CancellationToken::new())?;
    println!(
        "export_us={} before_kib={before} after_kib={after} zip_bytes={} intact={}",
        elapsed.as_micros(),
        std::fs::metadata(&summary.path)?.len(),
        u8::from(check.intact)
    );
    Ok(())
}

/// This process's peak resident set (`VmHWM`), KiB.
pub fn peak_rss_kib() -> Result<u64, Failure> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    crate::startup::status_kib(&status, "VmHWM:")
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}
