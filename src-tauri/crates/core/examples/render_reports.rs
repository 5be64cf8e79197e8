//! Writes sample documents to a folder, to look at them and to time them:
//! `cargo run --release -p firebreak-core --example render_reports -- /tmp/out`.

use std::path::PathBuf;
use std::time::Instant;

use chrono::DateTime;
use firebreak_core::organisation::{Contact, Organisation};
use firebreak_core::report::runbook::{self, RunbookInput};
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
    Ok(())
}
