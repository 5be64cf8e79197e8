//! The PDFs as a reader sees them: text extracted with `pdftotext`, structure checked with
//! `qpdf --check`, pages counted with `pdfinfo` (poppler-utils and qpdf, installed by
//! `scripts/ensure-deps.sh test`).

use std::{collections::BTreeMap, path::Path, process::Command};

use chrono::{DateTime, Duration, FixedOffset};
use firebreak_core::{
    organisation::{Contact, Organisation},
    report::{
        incident::{self, *},
        runbook::{self, RunbookInput},
        timeline::TimelineEvent,
        Paper,
    },
};

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed for this test (poppler-utils, qpdf): {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write(dir: &Path, name: &str, pdf: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    path.to_str().unwrap().to_owned()
}

fn page_count(path: &str) -> usize {
    tool("pdfinfo", &[path])
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn at(minutes: i64) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-03-01T19:43:00+01:00").unwrap() + Duration::minutes(minutes)
}

const HOSTILE: &str = "<b>Ρaypal</b> \u{202E}gpj.exe Пётр 🦊 中文 \u{200B} שלום";

fn report(rows: usize) -> IncidentReport {
    IncidentReport {
        case: CaseSummary {
            case_id: "FB-2026-0301-01".into(),
            title: "Compromised mailbox of the finance assistant".into(),
            organisation: "Contoso Dental Group".into(),
            tenant: "contoso.example".into(),
            severity: "High".into(),
            status: "Contained".into(),
            alert_source: "User report".into(),
            detected_at: at(0),
            aware_at: at(244),
            contained_at: Some(at(300)),
            closed_at: None,
            incident_commander: "Sam Taylor".into(),
            external_ticket: "INC-4711".into(),
            prepared_by: "Sam Taylor".into(),
            generated_at: at(400),
        },
        summary: ExecutiveSummary {
            what_happened: "An attacker relayed the assistant's MFA through a phishing page."
                .into(),
            impact: "About sixty sent messages read.".into(),
            current_state: "Contained; watching for 72 hours.".into(),
            decisions_needed: vec!["Whether to notify the supervisory authority.".into()],
        },
        compromise_kind: CompromiseKind::TokenTheft,
        attack_vector: format!("Phishing page; the app was named {HOSTILE}"),
        scope: Scope {
            accounts: vec![format!("megan@contoso.example ({HOSTILE})")],
            workloads: vec!["Exchange Online".into()],
            data: vec!["Sent Items".into()],
        },
        timeline: (0..rows)
            .map(|i| TimelineEvent {
                time: at(i as i64),
                source: "signIns".into(),
                kind: "Sign-in time".into(),
                description: format!("Row {} sign-in from 203.0.113.7", i + 1),
                actor: Some("megan@contoso.example".into()),
                fields: BTreeMap::new(),
            })
            .collect(),
        actions: vec![ActionRecord {
            time: at(250),
            step: "1 Revoke sessions".into(),
            action: "Revoked refresh tokens".into(),
            outcome: ActionOutcome::Verified,
            detail: "signInSessionsValidFromDateTime moved".into(),
        }],
        blast_radius: vec![CheckResult {
            check: "Inbox rules".into(),
            status: CheckStatus::Finding,
            detail: format!("Rule {HOSTILE} moved replies to RSS Feeds"),
        }],
        evidence: vec![EvidenceItem {
            name: "exports/signins.json".into(),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            collected_at: at(245),
            description: "Sign-in logs".into(),
        }],
        communications: vec![Communication {
            time: at(260),
            recipient: "Dana Weiß, privacy lead".into(),
            channel: "Phone".into(),
            summary: "Aware at 23:47; facts by morning.".into(),
        }],
        recommendations: incident::recommendations_for(CompromiseKind::TokenTheft),
        lessons: LessonsLearned::default(),
        retention_note: "Sign-in logs reach back 30 days (Entra ID P1).".into(),
    }
}

#[test]
fn the_runbook_reads_right_and_is_one_valid_page_on_both_papers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut org = Organisation {
        name: format!("Contoso {HOSTILE}"),
        break_glass_accounts: vec!["bg-admin1@contoso.onmicrosoft.com".into()],
        ..Organisation::default()
    };
    org.contacts.finance = Contact {
        name: "Ana Li".into(),
        phone: "+44 20 7946 0999".into(),
        email: "finance@contoso.example".into(),
    };
    let input = RunbookInput {
        organisation: org,
        printed_at: at(0),
    };
    for paper in [Paper::A4, Paper::Letter] {
        let path = write(
            tmp.path(),
            "runbook.pdf",
            &runbook::render(&input, paper).unwrap(),
        );
        assert_eq!(page_count(&path), 1, "{paper:?}");
        tool("qpdf", &["--check", &path]);
        let text = tool("pdftotext", &[&path, "-"]);
        for fact in [
            "Contain",
            "Preserve",
            "Why here",
            "Who to call",
            "Ana Li",
            "bg-admin1@contoso.onmicrosoft.com",
            "Respond within",
            "Blast radius",
            "Conditional Access policy edits",
            "[U+202E]",
            "Пётр",
            "中文",
            "[U+1F98A]",
        ] {
            assert!(text.contains(fact), "{fact:?} on {paper:?}:\n{text}");
        }
    }
}

#[test]
fn the_incident_report_has_every_section_and_key_facts_as_text() {
    let tmp = tempfile::tempdir().unwrap();
    let path = write(
        tmp.path(),
        "report.pdf",
        &incident::render(&report(40), Paper::A4).unwrap(),
    );
    tool("qpdf", &["--check", &path]);
    let info = tool("pdfinfo", &[&path]);
    assert!(
        info.contains("2026"),
        "creation date from the injected time: {info}"
    );
    let text = tool("pdftotext", &[&path, "-"]);
    for fact in [
        "Executive summary",
        "Decisions needed",
        "Compromise and attack vector",
        "Token theft",
        "Scope",
        "Timeline",
        "Actions taken",
        "Verified",
        "Blast radius",
        "Evidence",
        "9f86d081884c7d659a2feaa0c55ad015",
        "Communications",
        "Dana Weiß",
        "Recommendations",
        "Token Protection",
        "Lessons learned",
        "2026-03-01 19:43",
        "FB-2026-0301-01",
        "<b>Ρaypal</b>",
        "[U+202E]",
        "[U+200B]",
    ] {
        assert!(text.contains(fact), "{fact:?} in the report:\n{text}");
    }
}

#[test]
fn a_two_thousand_row_timeline_prints_every_row_with_page_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = incident::render(&report(2000), Paper::Letter).unwrap();
    let path = write(tmp.path(), "long.pdf", &pdf);
    tool("qpdf", &["--check", &path]);
    let pages = page_count(&path);
    assert!(pages > 20, "{pages} pages");
    let text = tool("pdftotext", &[&path, "-"]);
    for row in [1, 2, 1000, 1999, 2000] {
        assert!(
            text.contains(&format!("Row {row} sign-in")),
            "row {row} is printed"
        );
    }
    assert!(text.contains(&format!("Page {pages} of {pages}")));
    assert_eq!(
        text.matches("What happened").count(),
        // Once as the summary heading, then once per page the table runs over.
        1 + count_pages_with(&text, "Row "),
        "the timeline header repeats on every page the table reaches"
    );
    assert!(
        pdf.len() < 2_000_000,
        "the PDF stays small: {} bytes",
        pdf.len()
    );
}

/// Pages (form-feed separated in pdftotext output) containing `needle`.
fn count_pages_with(text: &str, needle: &str) -> usize {
    text.split('\u{c}').filter(|p| p.contains(needle)).count()
}
