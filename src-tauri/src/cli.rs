//! Sub-commands of the `firebreak` executable that run without a window.
//!
//! `firebreak verify BUNDLE` checks an evidence bundle and exits 0 when it is intact, 1 otherwise
//! (altered, missing or extra files, a broken journal chain, or not a bundle at all), 2 on a usage
//! error. It is recognised before any window, GTK or WebView is created, so it runs on a server
//! or in a terminal without a display.
//!
//! `firebreak practice --scenario NAME_OR_PATH --accept-recommended` runs the compromised-account
//! procedure against an in-process training tenant and prints the simulator's score (see
//! [`practice`]).
//!
//! `firebreak runbook --paper a4|letter --out FILE.pdf` writes the one-page runbook (see
//! [`runbook`]), also without a display.

use std::{ffi::OsString, fmt::Write as _, path::PathBuf, process::ExitCode};

use firebreak_core::bundle::{self, CancellationToken, VerifyReport};

mod practice;
mod runbook;

/// Runs a sub-command if `args` (without the program name) start with one; `None` otherwise.
pub fn run(args: &[OsString]) -> Option<ExitCode> {
    match args.first().and_then(|a| a.to_str()) {
        Some("verify") => Some(verify(&args[1..])),
        Some("runbook") => Some(runbook::run(&args[1..])),
        Some("practice") => Some(practice::run(&args[1..])),
        _ => None,
    }
}

const USAGE: &str = "usage: firebreak verify BUNDLE.zip";

fn verify(args: &[OsString]) -> ExitCode {
    let [path] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(path);
    match bundle::verify(&path, &mut |_| {}, &CancellationToken::new()) {
        Ok(report) => {
            print!("{}", render(&report));
            if report.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("firebreak verify: {error}");
            ExitCode::from(1)
        }
    }
}

/// The report as the terminal shows it, one finding per line.
pub fn render(report: &VerifyReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Bundle:  {}",
        printable(&report.bundle.display().to_string())
    );
    if let Some(case) = &report.case_id {
        let _ = writeln!(out, "Case:    {}", printable(case));
    }
    let _ = writeln!(out, "Checked: {} file(s)", report.checked);
    for file in &report.altered {
        let _ = writeln!(out, "ALTERED  {}", printable(file));
    }
    for file in &report.missing {
        let _ = writeln!(out, "MISSING  {}", printable(file));
    }
    for file in &report.extra {
        let _ = writeln!(out, "EXTRA    {}", printable(file));
    }
    match &report.journal {
        Some(health) if !health.is_intact() => {
            let _ = writeln!(out, "JOURNAL  {}", printable(&health.describe()));
        }
        Some(_) => {
            let _ = writeln!(out, "Journal: hash chain intact");
        }
        None => {}
    }
    for problem in &report.problems {
        let _ = writeln!(out, "PROBLEM  {}", printable(problem));
    }
    let _ = writeln!(
        out,
        "{}",
        if report.intact {
            "INTACT: every file matches SHA256SUMS and the journal chain holds."
        } else {
            "NOT INTACT: this bundle was altered or is incomplete."
        }
    );
    out
}

/// Names inside a bundle come from whoever made it: escape control characters so they cannot
/// drive the terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_sub_commands_are_taken() {
        assert!(run(&[]).is_none());
        assert!(run(&["--data-dir".into(), "/tmp".into()]).is_none());
        assert!(
            run(&["verify".into()]).is_some(),
            "verify without a path is a usage error"
        );
    }

    #[test]
    fn control_characters_in_names_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\u{a}");
    }
}
