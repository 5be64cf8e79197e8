//! `firebreak practice --scenario NAME_OR_PATH --accept-recommended [--bundle PATH]
//! [--report FILE.pdf] [--data-dir FOLDER]`: runs the compromised-account procedure against an in-process training
//! tenant with the tool's recommended selections, without a window — triage, containment and
//! the blast-radius checks (manual ones are skipped: they are checked by hand in the app) — and
//! prints the simulator's score as JSON on the last line. Accounts the sideways sweep finds are
//! opened as linked cases and contained the same way. Exit 0 only when every attacker artefact
//! is gone, no look-alike was removed, the attacker holds no session, token or credential on any
//! account at the end and never regained access; 1 when not (stderr says why, per account), 2
//! on a usage error. The logic lives in `firebreak_core::practice`; this wires the simulator to
//! it.

use std::{ffi::OsString, path::PathBuf, process::ExitCode, sync::Arc};

use firebreak_core::{
    bundle::{self, CancellationToken},
    case::{CaseStore, ADMIN},
    paths::DataRoot,
    practice::{self, HeadlessClock, PracticeOptions},
    tenant::{self, SignIn, TenantProfile},
};
use firebreak_sim::{Scenario, SimOptions};

const USAGE: &str = "usage: firebreak practice --scenario NAME_OR_PATH --accept-recommended [--bundle FILE.zip] [--report FILE.pdf] [--data-dir FOLDER]";

#[derive(Debug, PartialEq, Eq)]
struct Request {
    scenario: String,
    bundle: Option<PathBuf>,
    report: Option<PathBuf>,
    data_dir: Option<PathBuf>,
}

fn parse(args: &[OsString]) -> Result<Request, String> {
    let (mut scenario, mut bundle, mut data_dir, mut accept) = (None, None, None, false);
    let mut report = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value. {USAGE}"))
        };
        match arg.to_str() {
            Some("--scenario") => {
                scenario = Some(value("--scenario")?.to_string_lossy().into_owned())
            }
            Some("--bundle") => bundle = Some(PathBuf::from(value("--bundle")?)),
            Some("--data-dir") => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            Some("--accept-recommended") => accept = true,
            Some("--report") => report = Some(PathBuf::from(value("--report")?)),
            _ => return Err(format!("unknown argument {arg:?}. {USAGE}")),
        }
    }
    if !accept {
        return Err(format!(
            "only --accept-recommended runs exist without a window; practise interactively in the app. {USAGE}"
        ));
    }
    let scenario = scenario.ok_or_else(|| format!("--scenario is required. {USAGE}"))?;
    Ok(Request {
        scenario,
        bundle,
        report,
        data_dir,
    })
}

/// Runs the sub-command.
pub fn run(args: &[OsString]) -> ExitCode {
    let request = match parse(args) {
        Ok(r) => r,
        Err(message) => {
            eprintln!("firebreak practice: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("firebreak practice: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(practise(request)) {
        Ok(outcome) => outcome.code,
        Err(message) => {
            eprintln!("firebreak practice: {message}");
            ExitCode::from(1)
        }
    }
}

fn load(name_or_path: &str) -> Result<Scenario, String> {
    if Scenario::builtin_names().contains(&name_or_path) {
        Scenario::builtin(name_or_path)
    } else {
        Scenario::from_path(std::path::Path::new(name_or_path))
    }
    .map_err(|e| e.to_string())
}

/// How a run ended: the exit code and what stderr said about it.
struct Outcome {
    code: ExitCode,
    /// The lines printed on stderr about the run (the tests read them).
    #[cfg_attr(not(test), allow(dead_code))]
    report: Vec<String>,
}

async fn practise(request: Request) -> Result<Outcome, String> {
    let scenario = load(&request.scenario)?;
    let title = if scenario.title().is_empty() {
        scenario.name().to_owned()
    } else {
        scenario.title().to_owned()
    };
    let (server, training) =
        crate::tenants::start_simulated(scenario, SimOptions::default()).await?;
    let protected = training.profile().protected_accounts();
    let control = Arc::new(server);
    // The simulator's clock stands still; waits (audit searches) let simulated time pass.
    let clock = HeadlessClock(control.clone());
    let client = tenant::connect(
        &TenantProfile::training(),
        SignIn::Training(&training),
        Arc::new(clock.clone()),
    )
    .map_err(|e| e.to_string())?;
    let data_dir = request.data_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("firebreak-practice-{}", std::process::id()))
    });
    let root = DataRoot::open(&data_dir).map_err(|e| e.to_string())?;
    let store = CaseStore::new(&root, Arc::new(clock)).map_err(|e| e.to_string())?;
    let options = PracticeOptions {
        protected,
        ..PracticeOptions::default()
    };
    let run = practice::run_headless(&client, control.as_ref(), &store, &title, &options)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("Case {} in {}", run.case_id, data_dir.display());
    let report = report_lines(&run);
    for line in &report {
        eprintln!("{line}");
    }
    if let Some(path) = &request.bundle {
        bundle::export(
            &store,
            &run.case_id,
            ADMIN,
            path,
            &mut |_| {},
            &CancellationToken::new(),
        )
        .map_err(|e| e.to_string())?;
        eprintln!("Evidence bundle written to {}", path.display());
    }
    if let Some(path) = &request.report {
        let at = store.clock().now().fixed_offset();
        let pages = firebreak_core::report::case::write_pdf(&store, &run.case_id, path, at)
            .map_err(|e| e.to_string())?;
        eprintln!(
            "Incident report ({pages} pages) written to {}",
            path.display()
        );
    }
    println!(
        "{}",
        serde_json::to_string(&run.score).map_err(|e| e.to_string())?
    );
    Ok(Outcome {
        code: if run.contained() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
        report,
    })
}

/// What stderr says about a run: the steps, the linked cases, then why it does not count as
/// contained — each problem, what the attacker still holds per account, what no check listed.
fn report_lines(run: &practice::PracticeRun) -> Vec<String> {
    let mut lines = Vec::new();
    for case in &run.linked_cases {
        lines.push(format!("Linked case {case} opened from the sideways sweep"));
    }
    for step in &run.steps {
        if let Some(reason) = &step.skipped {
            lines.push(format!("{:<32} {:<13} {reason}", step.step, "skipped"));
            continue;
        }
        lines.push(format!(
            "{:<32} {:<13} {}",
            step.step,
            if step.verified {
                "verified"
            } else {
                "NOT VERIFIED"
            },
            step.selected.len()
        ));
    }
    for note in &run.notes {
        lines.push(format!("NOTE  {note}"));
    }
    for problem in &run.problems {
        lines.push(format!("PROBLEM  {problem}"));
    }
    for foothold in &run.attacker_access {
        for hold in &foothold.holds {
            lines.push(format!("ATTACKER STILL IN  {}: {hold}", foothold.account));
        }
        if !foothold.reaches.is_empty() {
            lines.push(format!(
                "ATTACKER STILL IN  {}: its delegate rights also open {}",
                foothold.account,
                foothold.reaches.join("; ")
            ));
        }
    }
    for left in &run.left_for_blast_radius {
        lines.push(format!("MISSED BY EVERY CHECK  {}", left.description));
    }
    lines.push(if run.contained() {
        "CONTAINED  every attacker artefact is gone, no look-alike was touched, the attacker holds nothing and did not come back.".to_owned()
    } else {
        format!("NOT CONTAINED  {} problem(s) above.", run.problems.len())
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_needs_a_scenario_and_accept_recommended() {
        assert!(parse(&["--scenario".into(), "aitm".into()]).is_err());
        assert!(parse(&["--accept-recommended".into()]).is_err());
        let r = parse(&[
            "--scenario".into(),
            "aitm".into(),
            "--accept-recommended".into(),
        ])
        .unwrap();
        assert_eq!(r.scenario, "aitm");
        assert_eq!(r.report, None);
        let r = parse(&[
            "--scenario".into(),
            "aitm".into(),
            "--accept-recommended".into(),
            "--report".into(),
            "out.pdf".into(),
        ])
        .unwrap();
        assert_eq!(r.report, Some(PathBuf::from("out.pdf")));
        assert!(parse(&[
            "--scenario".into(),
            "aitm".into(),
            "--accept-recommended".into(),
            "--report".into(),
        ])
        .is_err());
    }

    #[test]
    fn every_shipped_incident_scenario_is_contained_headless() {
        for name in Scenario::builtin_incident_names() {
            let dir = tempfile::tempdir().unwrap();
            let request = Request {
                scenario: name.into(),
                bundle: Some(dir.path().join("b.zip")),
                report: Some(dir.path().join("r.pdf")),
                data_dir: Some(dir.path().join("data")),
            };
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let outcome = runtime.block_on(practise(request)).unwrap();
            assert_eq!(
                outcome.code,
                ExitCode::SUCCESS,
                "{name} was not contained: {:#?}",
                outcome.report
            );
            assert!(dir.path().join("b.zip").is_file());
            let report = std::fs::read(dir.path().join("r.pdf")).unwrap();
            assert!(
                report.starts_with(b"%PDF-"),
                "{name}: --report writes the PDF"
            );
        }
    }

    #[test]
    fn a_run_that_leaves_an_attacker_session_alive_exits_1_and_says_on_which_account() {
        // The aitm tenant, with a second account the attacker holds from an address nothing
        // else in the tenant shows: no alert names it and no sweep can find it.
        let mut scenario: serde_json::Value =
            serde_json::from_str(include_str!("../../crates/sim/scenarios/aitm.json")).unwrap();
        scenario["attacker"]["compromised"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "userId": "b8501f99-6016-54e9-bd56-ead0c5619d37",
                "sessionSince": "2025-03-12T21:00:00Z",
                "ipAddress": "198.51.100.200",
                "knowsPassword": false
            }));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hidden-session.json");
        std::fs::write(&path, scenario.to_string()).unwrap();
        let request = Request {
            scenario: path.to_string_lossy().into_owned(),
            bundle: None,
            report: None,
            data_dir: Some(dir.path().join("data")),
        };
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let outcome = runtime.block_on(practise(request)).unwrap();
        assert_eq!(outcome.code, ExitCode::from(1), "{:#?}", outcome.report);
        assert!(
            outcome
                .report
                .iter()
                .any(|l| l.starts_with("ATTACKER STILL IN  lee.gu@") && l.contains("session")),
            "stderr names the account and what the attacker holds: {:#?}",
            outcome.report
        );
        assert!(
            !outcome
                .report
                .iter()
                .any(|l| l.starts_with("ATTACKER STILL IN  megan.bowen@")),
            "the flagged account was contained: {:#?}",
            outcome.report
        );
    }
}
