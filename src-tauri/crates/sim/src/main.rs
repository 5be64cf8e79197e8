//! The `firebreak-sim` command: `scenarios` lists the shipped scenarios; `serve --scenario
//! NAME_OR_PATH [--port N] [--latency-ms N] [--clock-rate R]` runs the simulated tenant and prints
//! `listening on http://127.0.0.1:PORT` as its first line.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use firebreak_sim::incident::{self, Size};
use firebreak_sim::{Scenario, SimOptions, SimServer};

const USAGE: &str = "usage:
  firebreak-sim scenarios
  firebreak-sim serve --scenario NAME_OR_PATH [--port N] [--latency-ms N] [--clock-rate R] [--device-code-interval S]
  firebreak-sim generate --seed N [--size small|org|large] [--out FILE] [--parts-out FILE]
  firebreak-sim generate --parts FILE [--out FILE]

--clock-rate: simulated seconds per real second (default 1; 0 freezes the clock, which then moves
only through POST /_sim/clock).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("scenarios") => {
            for name in Scenario::builtin_names() {
                match Scenario::builtin(name) {
                    Ok(s) => println!("{name}\t{}", s.title()),
                    Err(e) => println!("{name}\t(broken: {e})"),
                }
            }
            ExitCode::SUCCESS
        }
        Some("generate") => match generate(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("firebreak-sim generate: {message}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("serve") => match serve_options(&args[1..]) {
            Ok((scenario, options)) => serve(scenario, options),
            Err(message) => {
                eprintln!("{message}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `generate --seed N [--size S] [--out FILE] [--parts-out FILE]`, or `generate --parts FILE
/// [--out FILE]`: writes one generated incident as a scenario file (standard output without
/// `--out`), loadable by `serve` and `firebreak practice`. `--parts-out` also writes the parts the
/// seed drew (to edit and compose again with `--parts`: how a shrunk failure is kept).
fn generate(args: &[String]) -> Result<(), String> {
    let (mut seed, mut size, mut out, mut parts_in, mut parts_out) =
        (None, Size::Small, None, None, None);
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => {
                seed = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| "--seed needs a whole number".to_owned())?,
                )
            }
            "--size" => size = value.parse()?,
            "--out" => out = Some(value.clone()),
            "--parts" => parts_in = Some(value.clone()),
            "--parts-out" => parts_out = Some(value.clone()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let parts = match (seed, parts_in) {
        (Some(seed), None) => incident::draw(seed, size),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("could not read {path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path} holds no parts: {e}"))?
        }
        _ => return Err("give either --seed or --parts".to_owned()),
    };
    if let Some(path) = parts_out {
        let text = serde_json::to_string_pretty(&parts).map_err(|e| e.to_string())?;
        std::fs::write(&path, text + "\n").map_err(|e| format!("could not write {path}: {e}"))?;
    }
    let scenario = incident::compose(&parts).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&scenario).map_err(|e| e.to_string())?;
    match out {
        Some(path) => {
            std::fs::write(&path, text + "\n")
                .map_err(|e| format!("could not write {path}: {e}"))?;
            eprintln!("{}", scenario.title());
        }
        None => println!("{text}"),
    }
    Ok(())
}

fn serve_options(args: &[String]) -> Result<(Scenario, SimOptions), String> {
    let mut scenario = None;
    let mut options = SimOptions {
        clock_rate: 1.0,
        ..SimOptions::default()
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--scenario" => {
                let name = value()?;
                let loaded = if Scenario::builtin_names().contains(&name.as_str()) {
                    Scenario::builtin(&name)
                } else {
                    Scenario::from_path(Path::new(&name))
                };
                scenario = Some(loaded.map_err(|e| e.to_string())?);
            }
            "--port" => {
                options.port = value()?
                    .parse()
                    .map_err(|_| "--port needs a number from 0 to 65535".to_owned())?
            }
            "--latency-ms" => {
                options.latency = Duration::from_millis(
                    value()?
                        .parse()
                        .map_err(|_| "--latency-ms needs a whole number".to_owned())?,
                )
            }
            "--clock-rate" => {
                options.clock_rate = value()?
                    .parse()
                    .map_err(|_| "--clock-rate needs a number".to_owned())?
            }
            "--device-code-interval" => {
                options.device_code_interval_seconds = value()?
                    .parse()
                    .map_err(|_| "--device-code-interval needs a whole number".to_owned())?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok((scenario.ok_or("--scenario is required")?, options))
}

fn serve(scenario: Scenario, options: SimOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let name = scenario.name().to_owned();
        let server = match SimServer::start(scenario, options).await {
            Ok(server) => server,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        println!("listening on {}", server.base_url());
        println!(
            "scenario {name}, tenant {}; Graph at {}/v1.0 and /beta; stop with Ctrl+C",
            server.tenant_id(),
            server.base_url()
        );
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}
