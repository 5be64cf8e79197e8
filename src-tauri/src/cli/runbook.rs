//! `firebreak runbook [--paper a4|letter] --out PATH [--data-dir FOLDER]`: writes the one-page
//! runbook without opening a window, from the organisation details in the data folder, or with
//! blanks to fill in by hand when none are configured.

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use firebreak_core::{
    organisation::{self, Organisation},
    paths::DataRoot,
    report::{
        runbook::{self, RunbookInput},
        Paper,
    },
};

const USAGE: &str =
    "usage: firebreak runbook [--paper a4|letter] --out FILE.pdf [--data-dir FOLDER]";

/// The bundle identifier in `tauri.conf.json`: the platform data folder is named after it.
pub const APP_IDENTIFIER: &str = "app.firebreak.desktop";

/// What the command line asked for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    paper: Option<Paper>,
    out: PathBuf,
    data_dir: Option<PathBuf>,
}

fn parse(args: &[OsString], env_data_dir: Option<OsString>) -> Result<Request, String> {
    let mut paper = None;
    let mut out = None;
    let mut data_dir = env_data_dir.filter(|d| !d.is_empty()).map(PathBuf::from);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value. {USAGE}"))
        };
        match arg.to_str() {
            Some("--paper") => {
                let name = value("--paper")?;
                let name = name.to_string_lossy();
                paper =
                    Some(Paper::parse(&name).ok_or_else(|| {
                        format!("unknown paper {name:?}: use a4 or letter. {USAGE}")
                    })?);
            }
            Some("--out") => out = Some(PathBuf::from(value("--out")?)),
            Some("--data-dir") => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            _ => return Err(format!("unknown argument {arg:?}. {USAGE}")),
        }
    }
    let out = out.ok_or_else(|| format!("--out is required. {USAGE}"))?;
    Ok(Request {
        paper,
        out,
        data_dir,
    })
}

/// The platform's data folder for Firebreak, as the window uses it.
fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join(APP_IDENTIFIER))
}

/// The configured organisation, or an empty one when the data folder or the file does not exist.
/// Never creates the data folder.
fn configured_organisation(data_dir: Option<PathBuf>) -> Result<Organisation, String> {
    let Some(dir) = data_dir.or_else(default_data_dir) else {
        return Ok(Organisation::default());
    };
    if !dir.is_dir() {
        return Ok(Organisation::default());
    }
    let root = DataRoot::open(&dir).map_err(|e| e.to_string())?;
    organisation::load(&root).map_err(|e| e.to_string())
}

/// Runs `firebreak runbook ARGS`.
pub fn run(args: &[OsString]) -> ExitCode {
    let request = match parse(args, std::env::var_os("FIREBREAK_DATA_DIR")) {
        Ok(request) => request,
        Err(message) => {
            eprintln!("firebreak runbook: {message}");
            return ExitCode::from(2);
        }
    };
    let organisation = match configured_organisation(request.data_dir) {
        Ok(organisation) => organisation,
        Err(message) => {
            eprintln!("firebreak runbook: {message}");
            return ExitCode::FAILURE;
        }
    };
    let paper = request.paper.unwrap_or(organisation.paper);
    let configured = organisation != Organisation::default();
    let input = RunbookInput {
        organisation,
        // The shell is where "now" is read; the core only ever receives it.
        printed_at: chrono::Local::now().fixed_offset(),
    };
    let pdf = match runbook::render(&input, paper) {
        Ok(pdf) => pdf,
        Err(error) => {
            eprintln!("firebreak runbook: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::write(&request.out, &pdf) {
        eprintln!(
            "firebreak runbook: could not write {}: {error}. Check the folder exists and is writable.",
            request.out.display()
        );
        return ExitCode::FAILURE;
    }
    println!(
        "Wrote the one-page runbook ({}) to {}{}",
        match paper {
            Paper::A4 => "A4",
            Paper::Letter => "US Letter",
        },
        request.out.display(),
        if configured {
            ""
        } else {
            ". No organisation details are configured: fill in the blanks by hand, or add them in Settings."
        }
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn paper_out_and_data_dir_are_read_and_the_flag_beats_the_environment() {
        let request = parse(
            &args(&["--paper", "Letter", "--out", "r.pdf", "--data-dir", "/a"]),
            Some("/b".into()),
        )
        .expect("valid");
        assert_eq!(
            request,
            Request {
                paper: Some(Paper::Letter),
                out: "r.pdf".into(),
                data_dir: Some("/a".into()),
            }
        );
        let request = parse(&args(&["--out", "r.pdf"]), Some("/b".into())).expect("valid");
        assert_eq!(
            request.paper, None,
            "the paper then comes from the settings"
        );
        assert_eq!(request.data_dir, Some("/b".into()));
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        let err = parse(&args(&["--paper", "legal", "--out", "x"]), None).expect_err("paper");
        assert!(err.contains("a4 or letter"), "{err}");
        let err = parse(&args(&["--paper", "a4"]), None).expect_err("no out");
        assert!(err.contains("--out is required"), "{err}");
        let err = parse(&args(&["--out"]), None).expect_err("no value");
        assert!(err.contains("needs a value"), "{err}");
    }

    #[test]
    fn the_identifier_matches_the_tauri_configuration() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json");
        assert_eq!(conf["identifier"], APP_IDENTIFIER);
    }

    #[test]
    fn a_missing_data_folder_gives_blanks_and_is_not_created() {
        let tmp = tempfile::tempdir().expect("temp");
        let missing = tmp.path().join("nowhere");
        let org = configured_organisation(Some(missing.clone())).expect("no error");
        assert_eq!(org, Organisation::default());
        assert!(
            !missing.exists(),
            "reading settings must not create the data folder"
        );
    }
}
