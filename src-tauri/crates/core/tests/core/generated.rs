//! The property test of issue 19: incidents nobody wrote, drawn by the incident generator
//! (`firebreak_sim::incident`), each contained by the headless practice run accepting the
//! recommendations. A seed passes only when the attacker holds nothing at the end, no attacker
//! artefact is left, no look-alike was removed and the attacker never came back.
//!
//! A failing seed is shrunk (`Parts::smaller`, one piece taken away at a time while it still
//! fails) and the smallest failing incident is written as a scenario file under
//! `target/generated-failures/`, loadable by `firebreak practice --scenario FILE`; the panic
//! message names the seed, the path and what the run left.
//!
//! The seeds are fixed, so a failure reproduces; `make soak` runs thousands more.

use firebreak_core::practice;
use firebreak_sim::incident::{compose, draw, Parts, Size};

use crate::practice::{lab_with, options};

/// Runs one generated incident; `Err` holds the problems the run left.
async fn contain(parts: &Parts) -> Result<(), Vec<String>> {
    let scenario = compose(parts).map_err(|e| vec![format!("the generator failed: {e}")])?;
    let lab = lab_with(scenario).await;
    let run = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        &format!("generated incident {}", parts.seed),
        &options(),
    )
    .await
    .map_err(|e| vec![format!("the practice run stopped: {e}")])?;
    if run.contained() {
        Ok(())
    } else {
        Err(run.problems)
    }
}

/// The smallest incident drawn from `parts` that still fails, at most `budget` runs spent.
async fn shrink(
    mut parts: Parts,
    mut problems: Vec<String>,
    mut budget: usize,
) -> (Parts, Vec<String>) {
    'outer: while budget > 0 {
        for candidate in parts.smaller() {
            if budget == 0 {
                break 'outer;
            }
            budget -= 1;
            if let Err(still) = contain(&candidate).await {
                parts = candidate;
                problems = still;
                continue 'outer;
            }
        }
        break;
    }
    (parts, problems)
}

/// Contains the incidents of `seeds`; a failure is shrunk, saved and reported.
async fn seeds(seeds: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    for seed in seeds {
        let parts = draw(seed, Size::Small);
        let Err(problems) = contain(&parts).await else {
            continue;
        };
        let (smallest, problems) = shrink(parts, problems, 12).await;
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../target/generated-failures");
        let path = folder.join(format!("seed-{seed}.json"));
        let saved = compose(&smallest)
            .ok()
            .and_then(|s| serde_json::to_string_pretty(&s).ok())
            .and_then(|text| {
                std::fs::create_dir_all(&folder).ok()?;
                std::fs::write(&path, text).ok()
            })
            .map_or_else(
                || "could not be saved".to_owned(),
                |()| format!("saved as {}", path.display()),
            );
        failures.push(format!(
            "seed {seed} (small): {}\n  smallest failing incident: {}\n  {saved}\n  problems:\n    {}",
            draw(seed, Size::Small).summary(),
            smallest.summary(),
            problems.join("\n    ")
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// Four tests so that the runner spreads the seeds over the cores.
#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_0_to_7_are_contained() {
    seeds(0..8).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_8_to_15_are_contained() {
    seeds(8..16).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_16_to_23_are_contained() {
    seeds(16..24).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_24_to_31_are_contained() {
    seeds(24..32).await;
}

/// `make soak`: many more seeds, every size, beyond what `make test` can afford. Reads
/// `FIREBREAK_SOAK_SEEDS` (a range such as `0..2000`, default `32..232`) and
/// `FIREBREAK_SOAK_SIZES` (comma-separated `small,org,large`, default all three: each seed is
/// drawn at each size); prints one line per failure (shrunk and saved as above) and a summary.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "long: run by `make soak`"]
async fn soak() {
    let range = std::env::var("FIREBREAK_SOAK_SEEDS").unwrap_or_else(|_| "32..232".into());
    let (from, to) = range
        .split_once("..")
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
        .expect("FIREBREAK_SOAK_SEEDS is FROM..TO");
    let sizes: Vec<Size> = std::env::var("FIREBREAK_SOAK_SIZES")
        .unwrap_or_else(|_| "small,org,large".into())
        .split(',')
        .map(|s| s.trim().parse().expect("a size is small, org or large"))
        .collect();
    let started = std::time::Instant::now();
    let (mut ran, mut failed) = (0, Vec::new());
    for seed in from..to {
        for size in &sizes {
            ran += 1;
            let parts = draw(seed, *size);
            if let Err(problems) = contain(&parts).await {
                let (smallest, problems) = shrink(parts.clone(), problems, 12).await;
                println!(
                    "FAILED seed {seed} ({size}): {}\n  smallest: {}\n  {}",
                    parts.summary(),
                    smallest.summary(),
                    problems.join("\n  ")
                );
                failed.push(format!("{seed}/{size}"));
            }
        }
    }
    println!(
        "soak: {ran} generated incident(s), seeds {from}..{to}, sizes {}: {} contained, {} failed ({}) in {:.0} s",
        sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        ran - failed.len(),
        failed.len(),
        failed.join(" "),
        started.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "failed: {failed:?}");
}
