//! `firebreak runbook`: writes a one-page PDF without a window, from the organisation details in
//! the data folder or with blanks.

use std::{path::Path, process::Command};

fn firebreak(args: &[&str], data_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_firebreak"))
        .args(args)
        .args(["--data-dir", data_dir.to_str().unwrap()])
        // No display: the sub-command must never need one.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("FIREBREAK_DATA_DIR")
        .output()
        .expect("run firebreak")
}

fn tool(name: &str, args: &[&str]) -> String {
    let out = Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{name} is needed for this test (poppler-utils, qpdf): {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn pages(pdf: &Path) -> String {
    let info = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|p| p.trim().to_owned())
        .unwrap_or_default()
}

#[test]
fn runbook_writes_one_page_on_both_papers_with_the_configured_contacts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("organisation.json"),
        r#"{"name":"Contoso Dental Group","contacts":{"privacyLead":{"name":"Dana Weiß","phone":"+49 30 901820","email":"dpo@contoso.example"}},"breakGlassAccounts":["bg-admin1@contoso.onmicrosoft.com"],"nis2Applies":true,"paper":"letter"}"#,
    )
    .unwrap();
    for (paper, size) in [("a4", "(A4)"), ("letter", "(letter)")] {
        let out = tmp.path().join(format!("runbook-{paper}.pdf"));
        let run = firebreak(
            &["runbook", "--paper", paper, "--out", out.to_str().unwrap()],
            &data,
        );
        assert!(
            run.status.success(),
            "exit {:?}: {}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(pages(&out), "1", "exactly one page on {paper}");
        let info = tool("pdfinfo", &[out.to_str().unwrap()]);
        assert!(info.contains(size), "page size {size}: {info}");
        assert!(!info.contains("1970"), "the creation date is set: {info}");
        tool("qpdf", &["--check", out.to_str().unwrap()]);
        let text = tool("pdftotext", &["-layout", out.to_str().unwrap(), "-"]);
        for fact in [
            "Contoso Dental Group",
            "Dana Weiß",
            "bg-admin1@contoso.onmicrosoft.com",
            "A password reset alone is not containment",
            "Revoke sessions",
            "NIS2 applies to us",
        ] {
            assert!(
                text.contains(fact),
                "{fact:?} is printed on {paper}:\n{text}"
            );
        }
    }
}

#[test]
fn runbook_uses_the_configured_paper_and_blanks_when_nothing_is_configured() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("never-created");
    let out = tmp.path().join("runbook.pdf");
    let run = firebreak(&["runbook", "--out", out.to_str().unwrap()], &data);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("fill in the blanks by hand"));
    assert!(
        !data.exists(),
        "printing a runbook does not create a data folder"
    );
    assert_eq!(pages(&out), "1");
    let text = tool("pdftotext", &[out.to_str().unwrap(), "-"]);
    assert!(
        text.contains("________________"),
        "blanks to fill in:\n{text}"
    );
}

#[test]
fn runbook_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let run = firebreak(
        &["runbook", "--paper", "legal", "--out", "x.pdf"],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("a4 or letter"));
    let run = firebreak(&["runbook"], tmp.path());
    assert_eq!(run.status.code(), Some(2), "--out is required");
}
