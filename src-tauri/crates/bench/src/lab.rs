//! A training tenant for a benchmark: the simulator loaded with a scenario and answering every
//! request after a fixed latency, a Graph client signed in to it as the shell signs in to the
//! training tenant, a case store in a temporary folder timed by the simulated clock, and the
//! segment marks that cut the simulator's request log into the phases a run went through.

use std::sync::Arc;
use std::time::{Duration, Instant};

use firebreak_core::{
    case::{CaseStore, ADMIN},
    paths::DataRoot,
    practice::{HeadlessClock, TrainingClock},
    procedure::Env,
    tenant::{self, SignIn, TenantProfile, TrainingTenant},
};
use firebreak_graph::{Client, SecretString};
use firebreak_sim::{LoggedRequest, Scenario, SimOptions, SimServer};

use crate::critical_path::{self, CriticalPath, Placed};
use crate::Failure;

/// A simulated tenant with a client and a case store.
pub struct Lab {
    _folder: tempfile::TempDir,
    /// The simulator.
    pub control: Arc<SimServer>,
    /// Signed in to it with the scenario's app.
    pub client: Client,
    /// Cases, timed by the simulated clock.
    pub store: CaseStore,
    /// Accounts the procedure must never disable or reset.
    pub protected: Vec<String>,
}

impl Lab {
    /// Starts `scenario` answering every request `latency` late.
    pub async fn start(scenario: Scenario, latency: Duration) -> Result<Lab, Failure> {
        Self::start_with(scenario, latency, 0).await
    }

    /// Starts `scenario` answering every request `latency` late and at most `max_concurrent` at
    /// once (0: no limit). The client's waits (polling a Purview audit search) let simulated time
    /// pass instead of real time, as in the headless practice run: a search's server-side delay
    /// is the service's, not the client's, and is not latency.
    pub async fn start_with(
        scenario: Scenario,
        latency: Duration,
        max_concurrent: usize,
    ) -> Result<Lab, Failure> {
        let client_id = scenario.client_id().to_owned();
        let secret = scenario
            .client_secret()
            .ok_or("the scenario's app has no client secret")?
            .to_owned();
        let protected: Vec<String> = scenario.break_glass_accounts().to_vec();
        let server = SimServer::start(
            scenario,
            SimOptions {
                latency,
                max_concurrent_requests: max_concurrent,
                ..SimOptions::default()
            },
        )
        .await?;
        let training = TrainingTenant {
            base_url: server.base_url(),
            tenant_id: server.tenant_id(),
            client_id,
            client_secret: SecretString::from(secret),
            break_glass_upn: protected.first().cloned(),
        };
        let control = Arc::new(server);
        let clock = TrainingClock(control.clone());
        let client = tenant::connect(
            &TenantProfile::training(),
            SignIn::Training(&training),
            Arc::new(HeadlessClock(control.clone())),
        )?;
        let folder = tempfile::tempdir()?;
        let root = DataRoot::open(folder.path().join("data"))?;
        let store = CaseStore::new(&root, Arc::new(clock))?;
        Ok(Lab {
            _folder: folder,
            control,
            client,
            store,
            protected,
        })
    }

    /// The procedure engine's environment on this lab.
    pub fn env(&self) -> Env<'_, Client> {
        Env {
            tenant: &self.client,
            store: &self.store,
            protected: self.protected.clone(),
            actor: ADMIN,
        }
    }

    /// The simulator.
    pub fn server(&self) -> &SimServer {
        &self.control
    }
}

/// One segment of a run: requests made between two marks.
#[derive(Debug, Clone)]
pub struct Segment {
    /// What the run did ("plan a1.contain.revoke").
    pub label: String,
    first_seq: u64,
    started: Instant,
    ended: Instant,
}

/// Cuts a run into segments by the simulator's request sequence numbers. The run must be
/// sequential at the level of segments (it awaits each before starting the next), so every
/// request answered between two marks belongs to the segment between them.
pub struct Segments {
    started: Instant,
    first_seq: u64,
    done: Vec<Segment>,
}

impl Segments {
    /// Starts timing a run on `server`.
    pub fn new(server: &SimServer) -> Self {
        Self {
            started: Instant::now(),
            first_seq: server.next_request_seq(),
            done: Vec::new(),
        }
    }

    /// Runs `work` as the segment `label`.
    pub async fn run<T, F>(&mut self, server: &SimServer, label: String, work: F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        let first_seq = server.next_request_seq();
        let started = Instant::now();
        let out = work.await;
        self.done.push(Segment {
            label,
            first_seq,
            started,
            ended: Instant::now(),
        });
        out
    }

    /// Ends the run: its figures from the simulator's log.
    pub fn finish(self, server: &SimServer, latency: Duration) -> Measured {
        let wall = self.started.elapsed();
        let log: Vec<LoggedRequest> = server
            .request_log()
            .into_iter()
            .filter(|r| r.seq >= self.first_seq)
            .collect();
        let segment_of = |seq: u64| {
            self.done
                .iter()
                .rposition(|s| s.first_seq <= seq)
                .unwrap_or(0)
        };
        let placed: Vec<Placed<'_>> = log
            .iter()
            .map(|request| Placed {
                request,
                segment: segment_of(request.seq),
            })
            .collect();
        let path = critical_path::critical_path(&placed);
        let floor_us = critical_path::slowest_chain(&placed).server_us;
        if let Some(file) = std::env::var_os("FIREBREAK_BENCH_LOG") {
            self.dump(&placed, &path, file.as_ref());
        }
        let breakdown = self
            .done
            .iter()
            .enumerate()
            .map(|(index, segment)| {
                let own: Vec<Placed<'_>> = placed
                    .iter()
                    .filter(|p| p.segment == index)
                    .cloned()
                    .collect();
                SegmentFigures {
                    label: segment.label.clone(),
                    requests: own.len(),
                    critical_path: critical_path::critical_path(&own).requests,
                    wall: segment.ended.duration_since(segment.started),
                }
            })
            .collect();
        let mut measured = Measured::new(wall, &log, path, latency, breakdown);
        measured.floor = Duration::from_micros(floor_us);
        measured
    }
}

impl Segments {
    /// Appends the run's requests, segment by segment, to `file` (`FIREBREAK_BENCH_LOG`): what
    /// to read when a ratio is high. Chain members are marked `*`.
    fn dump(&self, placed: &[Placed<'_>], path: &CriticalPath, file: &std::path::Path) {
        let mut text = String::new();
        for p in placed {
            let r = p.request;
            text.push_str(&format!(
                "{}{:>3} {:<34} {:>8.1} {:>8.1} {:<6} {}{}{} {}\n",
                if path.chain.contains(&r.seq) {
                    "*"
                } else {
                    " "
                },
                r.seq,
                self.done.get(p.segment).map_or("", |s| s.label.as_str()),
                r.start_us as f64 / 1000.0,
                r.end_us as f64 / 1000.0,
                r.method,
                r.path,
                r.query
                    .as_deref()
                    .map_or(String::new(), |q| format!("?{q}")),
                r.operation
                    .as_deref()
                    .map_or(String::new(), |o| format!(" [{o}]")),
                r.bytes.unwrap_or(0),
            ));
        }
        text.push('\n');
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        if let Err(e) = appended {
            eprintln!("could not write the request log to {}: {e}", file.display());
        }
    }
}

/// One segment's figures.
#[derive(Debug, Clone)]
pub struct SegmentFigures {
    /// What it did.
    pub label: String,
    /// Requests answered in it.
    pub requests: usize,
    /// Its own critical path, in requests.
    pub critical_path: usize,
    /// Its wall time.
    pub wall: Duration,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// From the first mark to the end.
    pub wall: Duration,
    /// Requests answered.
    pub requests: usize,
    /// Pages of listings that took more than one page (first pages and every nextLink followed).
    pub pages: usize,
    /// Bytes answered (bodies of known size).
    pub bytes: u64,
    /// The longest chain of dependent requests.
    pub path: CriticalPath,
    /// The chain's length times the latency.
    pub critical: Duration,
    /// The chain that took the simulator longest, in its server time.
    pub floor: Duration,
    /// Per segment.
    pub breakdown: Vec<SegmentFigures>,
    /// The largest number of requests in flight at once.
    pub max_in_flight: usize,
    /// The five requests that took the simulator longest (server time, latency included), as
    /// `(milliseconds, "METHOD path [cmdlet]")`.
    pub slowest: Vec<(f64, String)>,
}

impl Measured {
    fn new(
        wall: Duration,
        log: &[LoggedRequest],
        path: CriticalPath,
        latency: Duration,
        breakdown: Vec<SegmentFigures>,
    ) -> Self {
        let paged: std::collections::BTreeSet<String> = log
            .iter()
            .filter(|r| critical_path::pages_on(r))
            .map(critical_path::paging_key)
            .collect();
        let pages = log
            .iter()
            .filter(|r| paged.contains(&critical_path::paging_key(r)))
            .count();
        let mut edges: Vec<(u64, i32)> = log
            .iter()
            .flat_map(|r| [(r.start_us, 1), (r.end_us, -1)])
            .collect();
        edges.sort_by_key(|&(t, d)| (t, d));
        let mut in_flight = 0i32;
        let mut max_in_flight = 0i32;
        for (_, d) in edges {
            in_flight += d;
            max_in_flight = max_in_flight.max(in_flight);
        }
        let mut slowest: Vec<(f64, String)> = log
            .iter()
            .map(|r| {
                (
                    r.end_us.saturating_sub(r.start_us) as f64 / 1000.0,
                    format!(
                        "{} {}{}",
                        r.method,
                        r.path,
                        r.operation
                            .as_deref()
                            .map_or(String::new(), |o| format!(" [{o}]"))
                    ),
                )
            })
            .collect();
        slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
        slowest.truncate(5);
        let hops = u32::try_from(path.requests).unwrap_or(u32::MAX);
        Self {
            wall,
            requests: log.len(),
            pages,
            bytes: log.iter().filter_map(|r| r.bytes).sum(),
            critical: latency * hops,
            floor: Duration::ZERO,
            path,
            breakdown,
            max_in_flight: usize::try_from(max_in_flight).unwrap_or(0),
            slowest,
        }
    }

    /// Wall time over the critical path.
    pub fn ratio(&self) -> f64 {
        if self.critical.is_zero() {
            return f64::INFINITY;
        }
        self.wall.as_secs_f64() / self.critical.as_secs_f64()
    }
}
