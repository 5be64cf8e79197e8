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

/// Runs built-in scenario `name` headless with the recommended selections (as `firebreak practice`
/// does) and returns the data folder, the store and the case.
async fn practised(
    name: &str,
    tmp: &Path,
) -> (
    firebreak_core::paths::DataRoot,
    firebreak_core::case::CaseStore,
    firebreak_core::case::CaseView,
) {
    use firebreak_core::{
        case::CaseStore,
        paths::DataRoot,
        practice::{self, HeadlessClock, PracticeOptions},
        tenant::{self, SignIn, TenantProfile, TrainingTenant},
    };
    use std::sync::Arc;
    let scenario = firebreak_sim::Scenario::builtin(name).unwrap();
    let secret = scenario.client_secret().unwrap().to_owned();
    let client_id = scenario.client_id().to_owned();
    let title = scenario.title().to_owned();
    let server = firebreak_sim::SimServer::start(scenario, firebreak_sim::SimOptions::default())
        .await
        .unwrap();
    let training = TrainingTenant {
        base_url: server.base_url(),
        tenant_id: server.tenant_id(),
        client_id,
        client_secret: firebreak_graph::SecretString::from(secret),
        break_glass_upn: Some("breakglass@contoso-training.onmicrosoft.com".into()),
    };
    let control = Arc::new(server);
    let clock = HeadlessClock(control.clone());
    let client = tenant::connect(
        &TenantProfile::training(),
        SignIn::Training(&training),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let root = DataRoot::open(tmp.join("data")).unwrap();
    let store = CaseStore::new(&root, Arc::new(clock)).unwrap();
    let options = PracticeOptions {
        protected: vec!["breakglass@contoso-training.onmicrosoft.com".into()],
        ..PracticeOptions::default()
    };
    let run = practice::run_headless(&client, control.as_ref(), &store, &title, &options)
        .await
        .unwrap();
    let view = store.case(&run.case_id).unwrap();
    (root, store, view)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_of_a_real_aitm_practice_case_reads_right_as_text() {
    use firebreak_core::report::case::{self as from_case, ReportContext};
    let tmp = tempfile::tempdir().unwrap();
    let (root, store, view) = practised("aitm", tmp.path()).await;
    let generated = store.clock().now().fixed_offset();
    let cx = ReportContext::load(&root, &view, generated).unwrap();
    let report = from_case::build(&view, &cx);
    assert_eq!(report.compromise_kind, CompromiseKind::TokenTheft);
    assert!(
        report
            .summary
            .current_state
            .contains("every access token issued before then has expired"),
        "hours after the revoke the report says the tokens' tail is over: {}",
        report.summary.current_state
    );
    let early = ReportContext::load(&root, &view, view.metadata.aware_at.fixed_offset()).unwrap();
    let state = from_case::build(&view, &early).summary.current_state;
    assert!(
        state.contains("keeps working until it expires"),
        "a report made within 90 minutes of the revoke says an access token may still work: {state}"
    );
    let files = from_case::render_files(&view, &cx).unwrap();
    let path = write(tmp.path(), "aitm.pdf", &files.pdf);
    if let Ok(dir) = std::env::var("FIREBREAK_REPORT_ARTIFACTS") {
        std::fs::write(Path::new(&dir).join("aitm-practice-report.pdf"), &files.pdf).unwrap();
    }
    tool("qpdf", &["--check", &path]);
    assert_eq!(
        page_count(&path),
        files.pages,
        "the page count told to the UI is right"
    );
    let preview = from_case::preview(&store, &view.id, generated)
        .unwrap()
        .preview;
    assert_eq!(preview.pages, files.pages);
    assert!(preview.svg.starts_with("<svg") && preview.svg.ends_with("</svg>"));
    assert!(
        !preview.svg.contains(view.metadata.accounts[0].as_str()),
        "the preview carries outlines, not the tenant's text"
    );
    if let Ok(dir) = std::env::var("FIREBREAK_REPORT_ARTIFACTS") {
        std::fs::write(Path::new(&dir).join("aitm-preview.svg"), &preview.svg).unwrap();
    }
    let text = tool("pdftotext", &[&path, "-"]);
    let account = &view.metadata.accounts[0];
    let first_evidence = &view.evidence[0];
    for fact in [
        "Executive summary",
        "What happened",
        "Impact",
        "Current state",
        "Decisions needed",
        "GDPR 72-hour clock",
        "1 Compromise and attack vector",
        "Token theft (adversary-in-the-middle phishing)",
        "2 Scope",
        "entry point",
        "3 Timeline",
        "4 Actions taken",
        "Revoke",
        "Verified",
        "5 Blast radius",
        "6 Evidence",
        "7 Communications",
        "8 Recommendations",
        "Token Protection",
        "9 Lessons learned",
        account.as_str(),
        view.id.as_str(),
    ] {
        assert!(text.contains(fact), "{fact:?} in the report:\n{text}");
    }
    // The evidence list carries each file's full hash (possibly wrapped inside its cell).
    let flat: String = text.split_whitespace().collect();
    assert!(
        flat.contains(&first_evidence.sha256),
        "the first evidence file's SHA-256 is printed"
    );
    // The timeline holds the tenant's own sign-ins, read from the saved evidence, not only ours.
    assert!(
        report
            .timeline
            .iter()
            .any(|e| e.source == "signIns" && e.description.starts_with("Sign-in")),
        "sign-ins from the evidence are in the timeline"
    );
    assert!(report.timeline.iter().any(|e| e.source == "journal"));
    assert!(
        report.timeline.windows(2).all(|w| w[0].time <= w[1].time),
        "the timeline is in time order"
    );
    assert!(text.contains("Sign-in succeeded"), "{text}");
    // Actions: every containment step appears, with the revoke before the reset.
    let revoke = text.find("Revoke").unwrap();
    let reset = text.rfind("Reset").unwrap();
    assert!(revoke < reset);
    // The timeline exports parse and carry the Timesketch columns.
    let csv = String::from_utf8(files.csv).unwrap();
    assert!(csv.starts_with("datetime,timestamp_desc,message,source,kind,actor"));
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8(files.jsonl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert!(first["datetime"].as_str().unwrap().contains('T'));
}

#[tokio::test(flavor = "multi_thread")]
async fn lessons_learned_are_journaled_and_printed() {
    use firebreak_core::report::case::{self as from_case, ReportContext};
    let tmp = tempfile::tempdir().unwrap();
    let (root, store, view) = practised("mfa-fatigue", tmp.path()).await;
    let lessons = LessonsLearned {
        went_well: "Revoked within 20 minutes of the call.".into(),
        to_improve: "The alert sat unread for four hours.".into(),
        follow_ups: "Number matching — Sam, by Friday".into(),
    };
    assert!(from_case::record_lessons(&store, &view.id, "admin", &lessons).unwrap());
    assert!(
        !from_case::record_lessons(&store, &view.id, "admin", &lessons).unwrap(),
        "an unchanged edit is not journaled twice"
    );
    let view = store.case(&view.id).unwrap();
    assert_eq!(
        view.journal
            .iter()
            .filter(|e| e.kind.as_str() == "lessons_recorded")
            .count(),
        1
    );
    assert_eq!(from_case::lessons(&view), lessons);
    let cx = ReportContext::load(&root, &view, store.clock().now().fixed_offset()).unwrap();
    let files = from_case::render_files(&view, &cx).unwrap();
    let path = write(tmp.path(), "fatigue.pdf", &files.pdf);
    let text = tool("pdftotext", &[&path, "-"]);
    // Saving twice in the same second never overwrites: the second save gets its own names.
    let first = from_case::save_in_exports(&store, &view.id, cx.generated_at).unwrap();
    let second = from_case::save_in_exports(&store, &view.id, cx.generated_at).unwrap();
    assert_ne!(first.pdf, second.pdf);
    for saved in [&first, &second] {
        assert!(saved.pdf.starts_with(root.path().join("exports")));
        assert!(std::fs::read(&saved.pdf).unwrap().starts_with(b"%PDF-"));
        assert!(saved.csv.is_file() && saved.jsonl.is_file());
        assert_eq!(
            from_case::saved_file(&root, &saved.pdf).unwrap(),
            saved.pdf.canonicalize().unwrap(),
            "a saved report may be opened"
        );
    }
    assert_eq!(page_count(first.pdf.to_str().unwrap()), first.pages);
    for fact in [
        "Revoked within 20 minutes of the call.",
        "The alert sat unread for four hours.",
        "Number matching — Sam, by Friday",
        "MFA fatigue",
        "number matching",
    ] {
        assert!(text.contains(fact), "{fact:?}:\n{text}");
    }
}

/// Title, indicators, the tenant's own log lines, a notification and the lessons of a case, all
/// in scripts and tricks an attacker can put in a name: Cyrillic look-alikes, CJK, Hebrew and
/// Arabic, emoji, a right-to-left override, zero-width characters, markup and a formula.
#[test]
fn a_case_full_of_hostile_and_non_latin_strings_renders_without_errors() {
    use crate::support::{at, metadata, Fixture};
    use firebreak_core::case::{
        comms::{Channel, NewNotification, Role},
        evidence::{ArtefactFormat, NewArtefact},
        ADMIN,
    };
    use firebreak_core::report::case::{self as from_case, ReportContext};
    let fx = Fixture::new();
    let mut meta = metadata();
    meta.title = "Счёт 中文 \u{202E}fdp.exe <script>alert(1)</script> 🦊".into();
    meta.indicators = vec![
        "Rule «Пересылка» → حساب البنك / חשבון בנק".into(),
        "=HYPERLINK(\"http://evil.example\")".into(),
    ];
    let id = fx.store.declare(ADMIN, meta).unwrap().id;
    let sign_ins = serde_json::json!({"value": [
        {"id": "h1", "createdDateTime": "2026-03-01T19:12:00Z",
         "userPrincipalName": "j.doe@contoso.com",
         "appDisplayName": "Micrоsoft Оutlook \u{202E}moc.evil 📧",
         "ipAddress": "203.0.113.45",
         "location": {"city": "東京", "countryOrRegion": "JP"},
         "status": {"errorCode": 0}},
        {"id": "h2", "createdDateTime": "2026-03-01T19:20:00Z",
         "userPrincipalName": "j.doe@contoso.com",
         "appDisplayName": "تطبيق البريد <img src=x onerror=alert(1)>",
         "clientAppUsed": "=HYPERLINK(\"http://evil.example\")",
         "ipAddress": "2001:db8::1",
         "location": {"city": "תל אביב", "countryOrRegion": "IL"},
         "status": {"errorCode": 0}}
    ]});
    fx.store
        .add_evidence(
            &id,
            ADMIN,
            &NewArtefact {
                name_hint: "sign-ins ../../etc/passwd".into(),
                format: ArtefactFormat::Json,
                description: "Sign-ins \u{200B}of the account".into(),
                source_operation: "GET /auditLogs/signIns".into(),
                captured_at: at("2026-03-01T22:20:00Z"),
            },
            sign_ins.to_string().as_bytes(),
        )
        .unwrap();
    fx.store
        .log_notification(
            &id,
            ADMIN,
            NewNotification {
                role: Role::PrivacyLead,
                recipient: "Ωmega Дана 🦊".into(),
                address: None,
                channel: Channel::Phone,
                told_at: at("2026-03-01T22:40:00Z"),
                message: "שלום — aware at 22:00 \u{2066}isolate\u{2069} Z\u{0301}\u{0301}\u{0301}\u{0301}\u{0301}algo"
                    .into(),
            },
        )
        .unwrap();
    from_case::record_lessons(
        &fx.store,
        &id,
        ADMIN,
        &LessonsLearned {
            went_well: "Быстро 快速 سريع מהר 👍".into(),
            to_improve: "<b>bold</b> & \u{202E}desrever".into(),
            follow_ups: "@SUM(A1) — owner: 山田".into(),
        },
    )
    .unwrap();
    let view = fx.store.case(&id).unwrap();
    let generated = DateTime::parse_from_rfc3339("2026-03-01T23:30:00+01:00").unwrap();
    let cx = ReportContext::load(&fx.root, &view, generated).unwrap();
    let files = from_case::render_files(&view, &cx).unwrap();
    let path = write(fx.tmp.path(), "hostile.pdf", &files.pdf);
    tool("qpdf", &["--check", &path]);
    let text = tool("pdftotext", &[&path, "-"]);
    for fact in [
        "Счёт",
        "中文",
        "[U+202E]",
        "[U+1F98A]",
        "<script>alert(1)</script>",
        "Micrоsoft",
        "東京",
        "Ωmega",
        "[U+2066]",
        "Быстро",
        "山田",
        "Пересылка",
        "<b>bold</b>",
    ] {
        assert!(
            text.contains(fact),
            "{fact:?} in the hostile report:\n{text}"
        );
    }
    // Every page renders as an image without errors (pdftoppm fails on a broken page).
    let pages = fx.tmp.path().join("page");
    tool(
        "pdftoppm",
        &["-png", "-r", "60", &path, pages.to_str().unwrap()],
    );
    let rendered = std::fs::read_dir(fx.tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".png"))
        })
        .count();
    assert_eq!(rendered, page_count(&path));
    if let Ok(dir) = std::env::var("FIREBREAK_REPORT_ARTIFACTS") {
        std::fs::write(Path::new(&dir).join("hostile-report.pdf"), &files.pdf).unwrap();
    }
    // The CSV neutralises formulas; the JSON lines keep the exact text.
    let csv = String::from_utf8(files.csv).unwrap();
    assert!(
        csv.contains("'=HYPERLINK") && !csv.contains(",=HYPERLINK"),
        "a cell the tenant starts with a formula is neutralised:\n{csv}"
    );
    assert!(String::from_utf8(files.jsonl)
        .unwrap()
        .contains("Micrоsoft Оutlook \u{202E}moc.evil"));
}
