//! `firebreak-bench`: measures Firebreak against the goals of issue #9 and prints one table, each
//! row `ID name key=value … goal=N met|not-met`, and with `--out FILE` writes it to
//! `BENCHMARKS.md` with the machine, the command and the notes. `make bench` builds the release
//! binaries and runs it under Xvfb.
//!
//! ```text
//! firebreak-bench [--app PATH] [--out FILE] [--only P1,P2,P3,P4] [--bundle-mib N]
//! firebreak-bench bundle-child DATA_ROOT CASE_ID DESTINATION   (used by P4 itself)
//! ```

mod containment;
mod critical_path;
mod documents;
mod lab;
mod machine;
mod report;
mod startup;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use report::{number, Row};

/// What a measurement failed with.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Every request to the training tenant is answered this late in P1 and P2.
const LATENCY: Duration = Duration::from_millis(50);

const USAGE: &str =
    "usage: firebreak-bench [--app PATH] [--out FILE] [--only P1,P2,P3,P4] [--bundle-mib N]";

struct Options {
    app: Option<PathBuf>,
    out: Option<PathBuf>,
    only: Vec<String>,
    bundle_mib: u64,
}

impl Options {
    fn wants(&self, id: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.eq_ignore_ascii_case(id))
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        app: None,
        out: None,
        only: Vec::new(),
        bundle_mib: 1024,
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--app" => options.app = Some(PathBuf::from(value()?)),
            "--out" => options.out = Some(PathBuf::from(value()?)),
            "--only" => {
                options.only = value()?.split(',').map(str::to_owned).collect();
            }
            "--bundle-mib" => {
                options.bundle_mib = value()?
                    .parse()
                    .map_err(|_| "--bundle-mib needs a whole number".to_owned())?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("bundle-child") {
        return match &args[1..] {
            [root, id, destination] => {
                match documents::bundle_child(root.as_ref(), id, destination.as_ref()) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("bundle-child: {e}");
                        ExitCode::FAILURE
                    }
                }
            }
            _ => {
                eprintln!("usage: firebreak-bench bundle-child DATA_ROOT CASE_ID DESTINATION");
                ExitCode::from(2)
            }
        };
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    // P2 runs last: it is the longest and the one that depends on work still landing.
    if options.wants("P1") {
        eprintln!("==> P1 containment of the AiTM scenario at 50 ms per request");
        rows.push(runtime.block_on(p1()));
    }
    if options.wants("P3") {
        eprintln!("==> P3 start-up of the release application");
        rows.extend(p3(options.app.as_deref()));
    }
    if options.wants("P4") {
        eprintln!("==> P4 incident report PDF and evidence bundle");
        rows.push(p4_pdf());
        rows.extend(p4_bundle(options.bundle_mib));
    }
    if options.wants("P2") {
        eprintln!("==> P2 blast-radius sweep over the large tenant at 50 ms per request");
        rows.push(runtime.block_on(p2()));
    }
    let table = report::table(&rows);
    println!("{table}");
    if let Some(out) = &options.out {
        let command = format!(
            "`make bench`, which runs `firebreak-bench {}`",
            args.join(" ")
        );
        if let Err(e) =
            report::write_markdown(out, &rows, &machine::describe(), &command, DEFINITIONS)
        {
            eprintln!("could not write {}: {e}", out.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", out.display());
    }
    ExitCode::SUCCESS
}

const DEFINITIONS: &str = "\
- **Latency.** In P1 and P2 the simulated tenant (`firebreak-sim`, in process, over loopback HTTP) \
  answers every Graph, Exchange and token request 50 ms late (`SimOptions::latency`).
- **Requests, pages, bytes** come from the simulator's request log (`GET /_sim/requests`): every \
  request answered, with start and end times. Pages are the requests of listings that took more \
  than one page (first pages and every `@odata.nextLink` followed); bytes are the answers' bodies.
- **Critical path.** The longest chain of requests that depend on each other, computed from the \
  request log (`src-tauri/crates/bench/src/critical_path.rs`), times 50 ms. B depends on A when A \
  was answered before B was sent and (1) A belongs to an earlier segment of the run — the plan of \
  a step, running it after the admin confirmed the plan, the plan of the next step: containment \
  steps are ordered by necessity (revoke before disable before reset), and a plan must be seen \
  before it is confirmed; (2) B fetches the next page of A's listing; (3) B names in its path or \
  query a GUID that A's answer revealed first; (4) B carries the token A issued; (5) B polls the \
  Purview audit search A polled before, or reads its records after A's poll said it was done; or (6) within a \
  segment, B is a change and A a read (fresh state and evidence before any change), or B is a read \
  and A a change (the read-back). Reads of one segment never wait for each other, nor changes for \
  changes: where the client issues independent requests one after another the wall time shows it \
  and the critical path does not. Ratio = wall time / critical path. `slowest_chain_s` is the \
  chain (same rules) whose requests took the simulator longest, latency plus its own work (e.g. \
  filtering a million audit records): what no client could go below on this machine.
- **Waiting on the service.** A Purview audit search finishes after simulated time passes; the \
  client's polling waits let simulated time pass instead of real time (as the headless practice \
  run does), so the search's server-side delay, which no client can shorten, is not in the wall \
  time; each poll is still a request answered 50 ms late.
- **Sequential baseline (P2).** The same sweep against a tenant that answers one request at a \
  time (`SimOptions::max_concurrent_requests = 1`), whatever the client sends.
- **Start-up (P3).** The release binary with the UI embedded, launched with `--bench-startup` on \
  Xvfb in fresh data and XDG folders. The UI calls `ui_ready` once the home screen is mounted and \
  painted; the shell prints the time since its `main` began and exits. The row is judged on the \
  time from spawning the process to reading that line (`main_to_ready_s` is the shell's own \
  figure). Peak RSS is the sum of `VmHWM` over the application and every process it started \
  (WebKit's web and network processes), sampled from `/proc` every 20 ms until the ready line; \
  shared libraries count once per process in it. `pss_mb` (the processes' proportional set \
  size at the ready line, from `smaps_rollup`) counts them once. Median of three launches.
- **PDF (P4a).** `report::incident::render` of a report with 2,000 timeline rows (A4), median of \
  three, in process.
- **Bundle (P4b, P4c).** A case holding 16 files of incompressible evidence (1 GiB in all) is \
  exported with `bundle::export` in a child process; throughput is the evidence's size over the \
  export's time, compared with `sha256sum` over the same files right before (page cache warm for \
  both). Extra memory is the child's `VmHWM` after the export minus before it.";

async fn p1() -> Row {
    let goal = 1.5;
    match containment::run("aitm", LATENCY).await {
        Err(e) => Row::failed("P1", "containment", goal, e),
        Ok(run) => {
            let m = &run.measured;
            let mut row = Row::new("P1", "containment", goal);
            row.figure("wall_s", number(m.wall.as_secs_f64()))
                .figure("requests", m.requests)
                .figure("steps", run.steps)
                .figure("critical_path_requests", m.path.requests)
                .figure("critical_path_s", number(m.critical.as_secs_f64()))
                .figure("slowest_chain_s", number(m.floor.as_secs_f64()))
                .figure("ratio", number(m.ratio()))
                .figure("max_in_flight", m.max_in_flight)
                .figure(
                    "contained",
                    if run.problems.is_empty() { "yes" } else { "no" },
                );
            row.met = m.ratio() <= goal && run.problems.is_empty();
            for problem in &run.problems {
                row.notes.push(format!("Containment problem: {problem}"));
            }
            row.notes.push(breakdown(m));
            row
        }
    }
}

async fn p2() -> Row {
    let goal = 1.3;
    let concurrent = sweep::run(LATENCY, 0).await;
    let sequential = sweep::run(LATENCY, 1).await;
    match (concurrent, sequential) {
        (Err(e), _) | (_, Err(e)) => Row::failed("P2", "blast-sweep", goal, e),
        (Ok(run), Ok(baseline)) => {
            let m = &run.measured;
            let mut row = Row::new("P2", "blast-sweep", goal);
            row.figure("wall_s", number(m.wall.as_secs_f64()))
                .figure("requests", m.requests)
                .figure("pages", m.pages)
                .figure("bytes", m.bytes)
                .figure("critical_path_requests", m.path.requests)
                .figure("critical_path_s", number(m.critical.as_secs_f64()))
                .figure("slowest_chain_s", number(m.floor.as_secs_f64()))
                .figure("ratio", number(m.ratio()))
                .figure("max_in_flight", m.max_in_flight)
                .figure(
                    "sequential_wall_s",
                    number(baseline.measured.wall.as_secs_f64()),
                )
                .figure("sequential_ratio", number(baseline.measured.ratio()));
            row.figure("failed_checks", run.failures.len());
            row.met = m.ratio() <= goal && run.failures.is_empty();
            row.notes.push(format!("Swept: {}.", run.what));
            for failure in &run.failures {
                row.notes.push(format!("Check failed: {failure}"));
            }
            row.notes.push(breakdown(m));
            row
        }
    }
}

/// Where a run's time went, segment by segment, and its slowest requests.
fn breakdown(m: &lab::Measured) -> String {
    let slowest: Vec<String> = m
        .slowest
        .iter()
        .map(|(ms, what)| format!("{ms:.0} ms {what}"))
        .collect();
    let mut text = format!(
        "The critical path's requests took {:.0} ms on the simulator (latency plus its own work). \
         Slowest requests: {}.\n\n",
        m.path.server_us as f64 / 1000.0,
        slowest.join("; ")
    );
    text.push_str(
        "| segment | requests | critical path (requests) | wall ms | critical path ms |\n|---|---:|---:|---:|---:|\n",
    );
    for s in &m.breakdown {
        text.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0} |\n",
            s.label,
            s.requests,
            s.critical_path,
            s.wall.as_secs_f64() * 1000.0,
            (LATENCY * u32::try_from(s.critical_path).unwrap_or(u32::MAX)).as_secs_f64() * 1000.0
        ));
    }
    text.trim_end().to_owned()
}

fn p3(app: Option<&std::path::Path>) -> Vec<Row> {
    let (time_goal, rss_goal) = (1.0, 200.0);
    let Some(app) = app else {
        let why = "no --app PATH given (make bench passes the release build)";
        return vec![
            Row::failed("P3a", "startup", time_goal, why),
            Row::failed("P3b", "startup-memory", rss_goal, why),
        ];
    };
    let mut launches = Vec::new();
    for _ in 0..3 {
        match startup::launch(app) {
            Ok(launch) => launches.push(launch),
            Err(e) => {
                return vec![
                    Row::failed("P3a", "startup", time_goal, &e),
                    Row::failed("P3b", "startup-memory", rss_goal, &e),
                ]
            }
        }
    }
    // Judged from spawning the process, as a person launching it waits; the shell's own figure
    // (from `main`) leaves out loading the executable and its libraries.
    launches.sort_by_key(|l| l.spawn_to_line);
    let median = launches[launches.len() / 2];
    let mut time = Row::new("P3a", "startup", time_goal);
    time.figure(
        "spawn_to_ready_s",
        number(median.spawn_to_line.as_secs_f64()),
    )
    .figure("main_to_ready_s", number(median.ready.as_secs_f64()))
    .figure("launches", launches.len());
    time.met = median.spawn_to_line.as_secs_f64() <= time_goal;
    let all: Vec<String> = launches
        .iter()
        .map(|l| number(l.spawn_to_line.as_secs_f64()))
        .collect();
    time.notes.push(format!(
        "Launches, spawn to ready line, sorted (s): {}.",
        all.join(", ")
    ));
    launches.sort_by_key(|l| l.peak_kib);
    let median = launches[launches.len() / 2];
    let peak_mb = median.peak_kib as f64 / 1024.0;
    let mut memory = Row::new("P3b", "startup-memory", rss_goal);
    memory
        .figure("peak_rss_mb", number(peak_mb))
        .figure("pss_mb", number(median.pss_kib as f64 / 1024.0))
        .figure("processes", median.processes);
    memory.met = peak_mb <= rss_goal;
    vec![time, memory]
}

fn p4_pdf() -> Row {
    let goal = 0.5;
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..3 {
        match documents::render_report(2000) {
            Ok((elapsed, bytes)) => {
                times.push(elapsed);
                size = bytes;
            }
            Err(e) => return Row::failed("P4a", "report-pdf", goal, e),
        }
    }
    times.sort();
    let median = times[1].as_secs_f64();
    let mut row = Row::new("P4a", "report-pdf", goal);
    row.figure("rows", 2000)
        .figure("render_s", number(median))
        .figure("pdf_kb", size / 1024);
    row.met = median <= goal;
    row
}

fn p4_bundle(mib: u64) -> Vec<Row> {
    let (speed_goal, memory_goal) = (80.0, 64.0);
    match measure_bundle(mib) {
        Err(e) => vec![
            Row::failed("P4b", "bundle-throughput", speed_goal, &e),
            Row::failed("P4c", "bundle-memory", memory_goal, &e),
        ],
        Ok((evidence_bytes, sha, export)) => {
            let mb = evidence_bytes as f64 / 1e6;
            let sha_rate = mb / sha.as_secs_f64();
            let export_rate = mb / export.elapsed.as_secs_f64();
            let pct = export_rate / sha_rate * 100.0;
            let mut speed = Row::new("P4b", "bundle-throughput", speed_goal);
            speed
                .figure("evidence_mb", number(mb))
                .figure("export_s", number(export.elapsed.as_secs_f64()))
                .figure("bundle_mb_s", number(export_rate))
                .figure("sha256sum_mb_s", number(sha_rate))
                .figure("zip_mb", number(export.zip_bytes as f64 / 1e6))
                .figure("pct_of_sha256sum", number(pct));
            speed.met = pct >= speed_goal;
            let extra = export.after_kib.saturating_sub(export.before_kib) as f64 / 1024.0;
            let mut memory = Row::new("P4c", "bundle-memory", memory_goal);
            memory
                .figure("extra_peak_mb", number(extra))
                .figure("peak_before_mb", number(export.before_kib as f64 / 1024.0));
            memory.met = extra <= memory_goal;
            vec![speed, memory]
        }
    }
}

fn measure_bundle(mib: u64) -> Result<(u64, Duration, documents::Export), Failure> {
    let folder = tempfile::tempdir()?;
    let files = 16;
    let case = documents::evidence_case(folder.path(), files, (mib << 20) / files)?;
    documents::warm(&case.files)?;
    let sha = documents::time_sha256sum(&case.files)?;
    let export = documents::export_in_child(&case, &folder.path().join("bundle.zip"))?;
    Ok((case.bytes, sha, export))
}
