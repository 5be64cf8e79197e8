//! Shared test fixtures: a data folder, a manual clock and a declared case.

use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use firebreak_core::{
    case::{
        metadata::{AlertSource, CaseMetadata, Severity, Workload},
        CaseId, CaseStore, ADMIN,
    },
    clock::ManualClock,
    paths::DataRoot,
};

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid time")
        .with_timezone(&Utc)
}

pub struct Fixture {
    pub tmp: tempfile::TempDir,
    pub root: DataRoot,
    pub clock: ManualClock,
    pub store: CaseStore,
}

impl Fixture {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = DataRoot::open(tmp.path().join("data")).expect("data root");
        let clock = ManualClock::new(at("2026-03-01T22:15:00Z"));
        let store = CaseStore::new(&root, Arc::new(clock.clone())).expect("store");
        Self {
            tmp,
            root,
            clock,
            store,
        }
    }

    /// Another run of the application on the same data folder (a new session).
    pub fn restart(&self) -> CaseStore {
        CaseStore::new(&self.root, Arc::new(self.clock.clone())).expect("store")
    }

    pub fn declare(&self) -> CaseId {
        self.store
            .declare(ADMIN, metadata())
            .expect("declare an incident")
            .id
    }
}

pub fn metadata() -> CaseMetadata {
    CaseMetadata {
        title: "Invoice fraud — j.doe".into(),
        detected_at: at("2026-03-01T21:40:00Z"),
        aware_at: at("2026-03-01T22:00:00Z"),
        alert_source: AlertSource::FinanceOrVendorCall,
        indicators: vec!["Vendor asked to confirm new bank details".into()],
        affected_workloads: vec![Workload::ExchangeOnline, Workload::EntraId],
        severity: Severity::High,
        accounts: vec!["j.doe@contoso.com".into()],
        incident_commander: "Sam Okafor".into(),
        external_ticket: Some("INC-2041".into()),
    }
}

/// Every log record of this test binary from the first call on, at trace level: tests that must
/// prove a secret never reaches the logs read it.
pub fn captured_logs() -> &'static Mutex<Vec<String>> {
    static CAPTURE: Capture = Capture;
    let logs = CAPTURED.get_or_init(|| {
        let _ = log::set_logger(&CAPTURE);
        log::set_max_level(log::LevelFilter::Trace);
        Mutex::new(Vec::new())
    });
    logs
}

static CAPTURED: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Some(logs) = CAPTURED.get() {
            logs.lock().unwrap().push(format!(
                "{} {} {}",
                record.level(),
                record.target(),
                record.args()
            ));
        }
    }
    fn flush(&self) {}
}
