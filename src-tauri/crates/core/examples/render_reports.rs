//! Writes sample documents to a folder, to look at them and to time them:
//! `cargo run --release -p firebreak-core --example render_reports -- /tmp/out`.

use std::path::PathBuf;
use std::time::Instant;

use chrono::DateTime;
use chrono::Duration;
use firebreak_core::organisation::{Contact, Organisation};
use firebreak_core::report::incident::{self, *};
use firebreak_core::report::runbook::{self, RunbookInput};
use firebreak_core::report::timeline::TimelineEvent;
use firebreak_core::report::Paper;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "reports-sample".into()),
    );
    std::fs::create_dir_all(&out)?;
    let printed_at = DateTime::parse_from_rfc3339("2026-03-01T23:47:00+01:00")?;
    let mut org = Organisation {
        name: "Contoso Dental Group".into(),
        break_glass_accounts: vec!["bg-admin1@contoso.onmicrosoft.com".into()],
        nis2_applies: Some(false),
        ..Organisation::default()
    };
    org.contacts.security_lead = Contact {
        name: "Sam Taylor".into(),
        phone: "+44 20 7946 0018".into(),
        email: "sam.taylor@contoso-it.example".into(),
    };
    org.contacts.privacy_lead = Contact {
        name: "Dana Weiß".into(),
        phone: "+49 30 901820".into(),
        email: "dpo@contoso.example".into(),
    };
    let hostile = Organisation {
        name: "Contoso <b>Ρaypal</b> \u{202E}gpj.exe Пётр 中文 שלום 🦊 \u{200B} سلام عليكم".into(),
        ..org.clone()
    };
    for (name, org) in [
        ("configured", org),
        ("blank", Organisation::default()),
        ("hostile", hostile),
    ] {
        for paper in [Paper::A4, Paper::Letter] {
            let started = Instant::now();
            let pdf = runbook::render(
                &RunbookInput {
                    organisation: org.clone(),
                    printed_at,
                },
                paper,
            )?;
            let path = out.join(format!("runbook-{name}-{}.pdf", paper.as_str()));
            std::fs::write(&path, &pdf)?;
            println!(
                "{} ({} bytes) in {:?}",
                path.display(),
                pdf.len(),
                started.elapsed()
            );
        }
    }
    let report = sample_report(printed_at, 2000);
    for paper in [Paper::A4, Paper::Letter] {
        let started = Instant::now();
        let pdf = incident::render(&report, paper)?;
        let path = out.join(format!("incident-2000-rows-{}.pdf", paper.as_str()));
        std::fs::write(&path, &pdf)?;
        println!(
            "{} ({} bytes) in {:?}",
            path.display(),
            pdf.len(),
            started.elapsed()
        );
    }
    Ok(())
}

/// A report like the AiTM practice scenario's, with `rows` timeline rows and hostile names.
fn sample_report(now: chrono::DateTime<chrono::FixedOffset>, rows: usize) -> IncidentReport {
    let start = now - Duration::hours(6);
    let at = |m: i64| start + Duration::minutes(m);
    let app = "Micros0ft Teams Sync \u{202E}exe.tset Пётр 中文 🦊";
    IncidentReport {
        case: CaseSummary {
            case_id: "FB-20260301-01".into(),
            title: "Compromised mailbox of the finance assistant".into(),
            organisation: "Contoso Dental Group".into(),
            tenant: "contoso.example".into(),
            severity: "High".into(),
            status: "Contained; watch window until 4 March 23:47".into(),
            alert_source: "User report (replies never arrive)".into(),
            detected_at: at(0),
            aware_at: at(244),
            contained_at: Some(at(300)),
            closed_at: None,
            incident_commander: "Sam Taylor".into(),
            external_ticket: "INC-4711".into(),
            prepared_by: "Sam Taylor".into(),
            generated_at: now,
        },
        summary: ExecutiveSummary {
            what_happened: "An attacker signed in as the finance assistant after a phishing page \
                            relayed her MFA, created a rule hiding replies in RSS Feeds, read about \
                            sixty sent messages and consented to a look-alike app."
                .into(),
            impact: "About sixty sent messages with supplier invoices were read. No payment was \
                     made. Personal data of two suppliers' contacts may be exposed."
                .into(),
            current_state: "Contained at 00:47: sessions revoked, account disabled, password \
                            reset, the rule and the app removed. Watching for 72 hours."
                .into(),
            decisions_needed: vec![
                "Whether to notify the supervisory authority (clock ends 4 March 23:47).".into(),
                "Whether to tell the two suppliers.".into(),
            ],
        },
        compromise_kind: CompromiseKind::TokenTheft,
        attack_vector: format!("Adversary-in-the-middle phishing page; consent to \"{app}\""),
        scope: Scope {
            accounts: vec!["megan@contoso.example (entry point)".into()],
            workloads: vec!["Exchange Online".into(), "Entra ID".into()],
            data: vec!["Sent Items (about 60 messages)".into()],
        },
        timeline: (0..rows)
            .map(|i| TimelineEvent {
                time: at(i as i64 / 6),
                source: if i % 3 == 0 { "journal" } else { "signIns" }.into(),
                kind: "Event time".into(),
                description: if i % 250 == 7 {
                    format!("Consent granted to {app}")
                } else {
                    format!("Non-interactive sign-in {} from 203.0.113.{}", i + 1, i % 200)
                },
                actor: Some("megan@contoso.example".into()),
                fields: Default::default(),
            })
            .collect(),
        actions: vec![ActionRecord {
            time: at(250),
            step: "1 Revoke sessions".into(),
            action: "Revoked refresh tokens of megan@contoso.example".into(),
            outcome: ActionOutcome::Verified,
            detail: "signInSessionsValidFromDateTime is 00:12".into(),
        }],
        blast_radius: vec![CheckResult {
            check: "Inbox rules".into(),
            status: CheckStatus::Finding,
            detail: "Rule \".\" moved replies to RSS Feeds; definition saved, rule removed".into(),
        }],
        evidence: vec![EvidenceItem {
            name: "exports/signins-7d.json".into(),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            collected_at: at(245),
            description: "Sign-in logs, 7 days, full detail".into(),
        }],
        communications: vec![Communication {
            time: at(260),
            recipient: "Dana Weiß, privacy lead".into(),
            channel: "Phone".into(),
            summary: "Aware at 23:47; facts by 09:00.".into(),
        }],
        recommendations: incident::recommendations_for(CompromiseKind::TokenTheft),
        lessons: LessonsLearned::default(),
        retention_note: "Sign-in logs reach back 30 days (Entra ID P1); the unified audit log 180 days.".into(),
    }
}
