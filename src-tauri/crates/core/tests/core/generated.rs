//! The property test of issue 19: incidents nobody wrote, drawn by the incident generator
//! (`firebreak_sim::incident`), each contained by the headless practice run accepting the
//! recommendations. A seed passes only when the attacker holds nothing at the end, no attacker
//! artefact is left, no look-alike was removed, no legitimate account or address was accused and
//! the attacker never came back.
//!
//! A failing seed is shrunk (`Parts::smaller`, one piece taken away at a time while it still
//! fails) and the smallest failing incident is written as a scenario file under
//! `target/generated-failures/` (`seed-N.json`, loadable by `firebreak practice --scenario FILE`,
//! beside its parts, `seed-N.parts.json`, for `firebreak-sim generate --parts FILE`); the panic
//! message names the seed, the path and what the run left.
//!
//! The seeds are fixed (0 to 199, small tenants, less the known gaps listed with their cause), so
//! a failure reproduces; `make soak` runs thousands more at every size.

use firebreak_core::practice;
use firebreak_sim::incident::{compose, draw, Parts, Size};

use crate::practice::{lab_with, options};

/// What one run of a generated incident cost and left, for the soak's summary.
#[derive(Default)]
struct Tally {
    /// Steps confirmed (each is one confirmation the admin gives).
    confirmations: usize,
    /// Requests the tenant answered.
    requests: usize,
    /// The run's problems (empty: contained).
    problems: Vec<String>,
    /// Whether the attacker still held anything at the end.
    inside: bool,
}

/// Runs one generated incident and counts what it cost and left.
async fn run_one(parts: &Parts) -> Tally {
    let scenario = match compose(parts) {
        Ok(s) => s,
        Err(e) => {
            return Tally {
                problems: vec![format!("the generator failed: {e}")],
                ..Tally::default()
            }
        }
    };
    let lab = lab_with(scenario).await;
    let run = practice::run_headless(
        &lab.client,
        lab.control.as_ref(),
        &lab.store,
        &format!("generated incident {}", parts.seed),
        &options(),
    )
    .await;
    let requests = lab.control.request_log().len();
    match run {
        Ok(run) => Tally {
            confirmations: run.steps.iter().filter(|s| s.skipped.is_none()).count(),
            requests,
            inside: !run.attacker_access.is_empty(),
            problems: run.problems,
        },
        Err(e) => Tally {
            requests,
            problems: vec![format!("the practice run stopped: {e}")],
            inside: true,
            ..Tally::default()
        },
    }
}

/// Runs one generated incident; `Err` holds the problems the run left.
async fn contain(parts: &Parts) -> Result<(), Vec<String>> {
    let tally = run_one(parts).await;
    if tally.problems.is_empty() {
        Ok(())
    } else {
        Err(tally.problems)
    }
}

/// A failing soak run that took longer than this is reported as drawn, not shrunk.
const SHRINK_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

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
async fn seeds(seeds: Vec<u64>) {
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
                // The parts too: `firebreak-sim generate --parts FILE` composes them again.
                let parts = serde_json::to_string_pretty(&smallest).ok()?;
                std::fs::write(folder.join(format!("seed-{seed}.parts.json")), parts).ok()?;
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

/// Seeds of the 200 the response does not yet contain, each with why: they are left out of the
/// property below and kept as [`known_gaps_are_still_open`], which fails once one is fixed so that
/// it moves back into the property. Each is a gap of the product, not of the generator.
// None today. The six seeds that were here (39, 53, 74, 136, 171, 180: second hops by internal
// phishing from an address nothing else ties to the entry, and an undated method older than a
// Free tenant's seven-day audit) are contained since the sweep follows the mail
// (`sweep/mail.rs`) and the methods step pre-selects an undated method when the attacker was in
// before the log's reach. A new gap goes here with its reason until it is fixed.
const KNOWN_GAPS: &[(u64, &str)] = &[];

/// Seeds beyond the property's 200 that a release soak found the response does not contain, each
/// with what the run left. Kept in [`known_gaps_are_still_open`] with the known gaps, so that the
/// list stays true: once one is contained, the test fails and the seed moves to [`FROM_THE_SOAK`].
// None today: the ten the soaks of seeds 0-1999 (small) found are in FROM_THE_SOAK or shipped
// as named scenarios.
const FOUND_BY_SOAK: &[(u64, &str)] = &[];

/// Seeds a soak found open and the response now contains, each with what it used to leave:
/// contained on every `make test` so that they stay contained. The soak's other finds are
/// shipped as named scenarios, their parts kept as drawn (`scenarios/generated/`, run by the
/// practice test of every shipped scenario): 330 `free-tenant-admin-reset-hop`, 681
/// `flagged-hop-method-before-rule`, 932 `entry-reset-the-flagged-hop`, 1182
/// `short-history-hop`, 1791 `app-secret-beyond-audit-reach`, 398
/// `free-tenant-entry-found-by-mail`.
const FROM_THE_SOAK: &[(u64, &str)] = &[
    (200, SEND_ON_BEHALF),
    (301, SEND_ON_BEHALF),
    (376, SEND_ON_BEHALF),
    (
        1913,
        "Entra ID Free, a stolen app secret found 19 days after entry: the attacker's secret on the \
         entry's own app, outside the directory audit's seven days, was left (the cause of \
         app-secret-beyond-audit-reach, on another tenant)",
    ),
];

/// The cause of three of the soak's failures.
const SEND_ON_BEHALF: &str = "a SendOnBehalf right given from the attacker's address to another \
     account the attacker holds was left in place (the cmdlet named the delegate by alias, \
     Get-Mailbox by object id)";

/// The property's seeds from `range`, the known gaps left out.
fn property_seeds(range: std::ops::Range<u64>) -> Vec<u64> {
    range
        .filter(|s| !KNOWN_GAPS.iter().any(|(g, _)| g == s))
        .collect()
}

// Four tests so that the runner spreads the 200 seeds over the cores.
#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_0_to_49_are_contained() {
    seeds(property_seeds(0..50)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_50_to_99_are_contained() {
    seeds(property_seeds(50..100)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_100_to_149_are_contained() {
    seeds(property_seeds(100..150)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_incidents_150_to_199_are_contained() {
    seeds(property_seeds(150..200)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_a_soak_found_open_are_contained() {
    seeds(FROM_THE_SOAK.iter().map(|(seed, _)| *seed).collect()).await;
}

/// The known gaps, run: each must still fail (then it is still a gap, and the list is honest).
/// `cargo test -p firebreak-core --test core known_gaps -- --ignored`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "the seeds the response does not contain yet; see KNOWN_GAPS and FOUND_BY_SOAK"]
async fn known_gaps_are_still_open() {
    let mut fixed = Vec::new();
    for (seed, why) in KNOWN_GAPS.iter().chain(FOUND_BY_SOAK) {
        if contain(&draw(*seed, Size::Small)).await.is_ok() {
            fixed.push(format!(
                "seed {seed} is contained now ({why}): move it back into the property"
            ));
        }
    }
    assert!(fixed.is_empty(), "{}", fixed.join("\n"));
}

/// `make soak`: many more seeds, every size, beyond what `make test` can afford. Reads
/// `FIREBREAK_SOAK_SEEDS` (a range such as `0..2000`, default `32..232`) and
/// `FIREBREAK_SOAK_SIZES` (comma-separated `small,org,large`, default all three: each seed is
/// drawn at each size); prints one line per failure (shrunk as above) and a summary line, which
/// it also writes to `target/soak-summary.txt` for `make soak` to put in BENCHMARKS.md.
#[test]
#[ignore = "long: run by `make soak`"]
fn soak() {
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
    // The runs are independent: one worker per core, each taking the next (seed, size).
    let work: Vec<(u64, Size)> = (from..to)
        .flat_map(|seed| sizes.iter().map(move |size| (seed, *size)))
        .collect();
    let ran = work.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(work.into_iter()));
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    // One thread and runtime per worker: a run's future is not `Send`, so it is not spawned.
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let queue = queue.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("a runtime for a soak worker");
                runtime.block_on(async move {
                    let mut done = Vec::new();
                    loop {
                        let next = queue.lock().ok().and_then(|mut q| q.next());
                        let Some((seed, size)) = next else { break };
                        let parts = draw(seed, size);
                        let began = std::time::Instant::now();
                        let tally = run_one(&parts).await;
                        // A line per run, so that a long soak shows where it is and what a
                        // size costs.
                        println!(
                            "soak seed {seed} ({size}): {} in {:.1} s, {} requests",
                            if tally.problems.is_empty() {
                                "contained"
                            } else {
                                "FAILED"
                            },
                            began.elapsed().as_secs_f64(),
                            tally.requests
                        );
                        let failure = if tally.problems.is_empty() {
                            None
                        } else {
                            // A run that took minutes is not run a dozen times more to shrink
                            // it: its seed reproduces it (`firebreak-sim generate --seed`).
                            let budget = if began.elapsed() < SHRINK_WITHIN {
                                12
                            } else {
                                0
                            };
                            let (smallest, problems) =
                                shrink(parts.clone(), tally.problems.clone(), budget).await;
                            println!(
                                "FAILED seed {seed} ({size}): {}\n  smallest: {}\n  {}",
                                parts.summary(),
                                smallest.summary(),
                                problems.join("\n  ")
                            );
                            Some(format!("{seed}/{size}"))
                        };
                        done.push((tally, failure));
                    }
                    done
                })
            })
        })
        .collect();
    let (mut failed, mut legitimate, mut accused, mut inside) = (Vec::new(), 0, 0, 0);
    let (mut confirmations, mut requests) = (Vec::new(), Vec::new());
    for handle in handles {
        for (tally, failure) in handle.join().expect("a soak worker panicked") {
            confirmations.push(tally.confirmations);
            requests.push(tally.requests);
            let said = |what: &str| tally.problems.iter().any(|p| p.contains(what));
            legitimate += usize::from(said("A legitimate look-alike was removed"));
            accused += usize::from(
                said("A legitimate account was treated") || said("A legitimate address was named"),
            );
            inside += usize::from(tally.inside);
            failed.extend(failure);
        }
    }
    failed.sort();
    let median = |v: &mut Vec<usize>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    let line = format!(
        "SOAK generated-incidents seeds={from}..{to} sizes={} runs={ran} contained={} legitimate_removed={legitimate} accused={accused} attacker_inside={inside} median_confirmations={} median_requests={} wall_s={:.0} failed={}",
        sizes.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        ran - failed.len(),
        median(&mut confirmations),
        median(&mut requests),
        started.elapsed().as_secs_f64(),
        if failed.is_empty() { "none".to_owned() } else { failed.join(",") }
    );
    println!("{line}");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../target");
    let _ = std::fs::create_dir_all(&target);
    let _ = std::fs::write(target.join("soak-summary.txt"), format!("{line}\n"));
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// Everything of the kinds the answer key covers that the tenant holds, read through the Graph
/// and Exchange endpoints as Firebreak reads them: `kind|id` strings, ids lower-case.
async fn holdings(client: &firebreak_graph::Client) -> std::collections::BTreeSet<String> {
    use firebreak_graph::{collect_items, directory::GrantFilter, UserRef};
    let mut out = std::collections::BTreeSet::new();
    let users = collect_items(client.list_users(None)).await.unwrap();
    // Exchange names a delegate by object id, alias or address: compare by the UPN.
    let canonical = |name: &str| -> String {
        let name = name.trim().to_lowercase();
        users
            .iter()
            .find_map(|u| {
                let upn = u.user_principal_name.clone()?.to_lowercase();
                let local = upn.split('@').next().unwrap_or_default().to_owned();
                (u.id.to_lowercase() == name || upn == name || local == name).then_some(upn)
            })
            .unwrap_or(name)
    };
    for user in &users {
        let who = UserRef::new(&user.id).unwrap();
        for m in collect_items(client.list_authentication_methods(&who))
            .await
            .unwrap_or_default()
        {
            out.insert(format!(
                "authenticationMethod|{}|{}",
                user.id,
                m.id.to_lowercase()
            ));
        }
        for role in collect_items(client.list_member_of(&who))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.odata_type.as_deref() == Some("#microsoft.graph.directoryRole"))
        {
            out.insert(format!(
                "directoryRoleMembership|{}|{}",
                user.id,
                role.id.to_lowercase()
            ));
        }
        let Some(upn) = user.user_principal_name.clone() else {
            continue;
        };
        let mailbox = UserRef::new(&upn).unwrap();
        let Ok(page) = client.get_mailbox(&mailbox).await else {
            continue;
        };
        let Some(m) = page.items.into_iter().next() else {
            continue;
        };
        for forward in [&m.forwarding_smtp_address, &m.forwarding_address]
            .into_iter()
            .flatten()
            .filter(|f| !f.is_empty())
        {
            out.insert(format!(
                "mailboxForwarding|{}|{}",
                user.id,
                forward.to_lowercase()
            ));
        }
        for trustee in &m.grant_send_on_behalf_to {
            out.insert(format!("sendOnBehalf|{}|{}", user.id, canonical(trustee)));
        }
        for rule in client.all_inbox_rules(&mailbox).await.unwrap_or_default() {
            if let Some(id) = rule.rule_identity.as_ref() {
                let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
                if !rule
                    .name
                    .as_deref()
                    .is_some_and(firebreak_core::procedure::contain::system_rule_name)
                {
                    out.insert(format!("inboxRule|{}|{id}", user.id));
                }
            }
        }
        for p in collect_items(client.get_mailbox_permissions(&mailbox))
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.is_inherited != Some(true))
        {
            if let Some(holder) = p.user.filter(|h| !h.starts_with("NT AUTHORITY")) {
                out.insert(format!(
                    "mailboxPermission|{}|{}",
                    user.id,
                    canonical(&holder)
                ));
            }
        }
        for owned in collect_items(client.list_owned_objects(&who))
            .await
            .unwrap_or_default()
        {
            if owned.odata_type.as_deref() == Some("#microsoft.graph.application") {
                let app = client.get_application(&owned.id).await.unwrap();
                for key in app
                    .passwords()
                    .iter()
                    .filter_map(|p| p.key_id.clone())
                    .chain(app.keys().iter().filter_map(|k| k.key_id.clone()))
                {
                    out.insert(format!(
                        "applicationCredential||{}/{}",
                        owned.id.to_lowercase(),
                        key.to_lowercase()
                    ));
                }
            }
        }
    }
    for grant in collect_items(client.list_permission_grants(&GrantFilter::default()))
        .await
        .unwrap()
    {
        out.insert(format!(
            "oauth2PermissionGrant||{}",
            grant.id.to_lowercase()
        ));
    }
    out
}

/// Whether `held` (`kind|owner|id`) is an artefact the key lists: same kind, same owner where
/// the key names one, and the same id (a delegate or forwarding address contained either way).
fn keyed(held: &str, key: &[serde_json::Value]) -> bool {
    let [kind, owner, id] = held.splitn(3, '|').collect::<Vec<_>>()[..] else {
        return false;
    };
    key.iter().any(|a| {
        let key_id = a["id"].as_str().unwrap_or_default().to_lowercase();
        let key_owner = a["userId"].as_str().unwrap_or_default();
        a["kind"].as_str() == Some(kind)
            && (key_owner.is_empty() || owner.is_empty() || key_owner == owner)
            && (id == key_id
                || id.contains(&key_id)
                || key_id.contains(id)
                || id.split('@').next() == Some(key_id.as_str()))
    })
}

/// The owner (user id) of a `kind|owner|id` holding; empty for tenant-wide ones.
fn owner(held: &str) -> &str {
    held.split('|').nth(1).unwrap_or_default()
}

/// Issue 19: the answer key of a generated incident lists every artefact the generated tenant
/// holds for the attacker. The tenant is read twice through the endpoints — the incident as
/// drawn, and the same tenant with no persistence, no spread and no look-alikes — and every
/// artefact only the first holds must be in the key (as the attacker's or as a look-alike); every
/// artefact the key gives the attacker must be in the tenant.
#[tokio::test(flavor = "multi_thread")]
async fn the_answer_key_lists_every_artefact_the_generated_tenant_holds_for_the_attacker() {
    let mut problems = Vec::new();
    // 26 and 136: a role given by the attacker and one given by the owner (the look-alike).
    for seed in [1_u64, 2, 3, 5, 8, 13, 21, 26, 34, 136] {
        let parts = draw(seed, Size::Small);
        let mut quiet = parts.clone();
        quiet.persistence.clear();
        quiet.spread.clear();
        quiet.flagged_hop = None;
        quiet.noise.clear();
        let full = lab_with(compose(&parts).unwrap()).await;
        // Compared with what the endpoints hold, by the names they use on the wire.
        let score = serde_json::to_value(full.control.score()).unwrap();
        let key: Vec<serde_json::Value> = ["attacker", "legitimate"]
            .iter()
            .flat_map(|k| {
                score["answerKey"][*k]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        // A compromised account's own delegate right on a shared mailbox is its business access
        // (the path the attacker used, closed by containing the account): in neither list.
        let compromised: Vec<String> = score["containment"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["userId"].as_str())
            .filter_map(|id| {
                score["attackerAccess"]
                    .as_array()?
                    .iter()
                    .find(|a| a["userId"].as_str() == Some(id))?["userPrincipalName"]
                    .as_str()
                    .map(str::to_lowercase)
            })
            .collect();
        let held = holdings(&full.client).await;
        let base = holdings(&lab_with(compose(&quiet).unwrap()).await.client).await;
        // The people both tenants hold; someone only the incident brings (a hop, a colleague of a
        // look-alike) keeps the password and the Authenticator every generated person has.
        let common: std::collections::BTreeSet<&str> = base.iter().map(|h| owner(h)).collect();
        for extra in held.difference(&base) {
            let who = owner(extra);
            if !who.is_empty()
                && !common.contains(who)
                && extra.starts_with("authenticationMethod|")
                && !keyed(extra, &key)
            {
                continue;
            }
            if extra.starts_with("mailboxPermission|")
                && compromised
                    .iter()
                    .any(|c| extra.ends_with(&format!("|{c}")))
            {
                continue;
            }
            if !keyed(extra, &key) {
                problems.push(format!(
                    "seed {seed}: {extra} is in the tenant but not in the key ({})",
                    parts.summary()
                ));
            }
        }
        for artefact in score["answerKey"]["attacker"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if artefact["present"] != serde_json::Value::Bool(true) {
                problems.push(format!(
                    "seed {seed}: the key's {artefact} is not in the tenant"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
