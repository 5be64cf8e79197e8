//! The request log: every Graph, Exchange and token request the simulated tenant answered, with
//! when it started and ended (real time, microseconds since the server started), its method, path,
//! query, the Exchange cmdlet it ran, its status and the size of its answer. Benchmarks read it to
//! count requests and pages and to find the longest chain of requests that waited on each other
//! (`GET /_sim/requests`, [`crate::SimServer::request_log`]). `/_sim/` requests are not logged.
//!
//! `SimOptions::max_concurrent_requests` makes the server answer at most that many requests at
//! once, whatever the client sends: the sequential baseline of a benchmark.
//!
//! The log keeps the last [`CAPACITY`] requests so a long practice session cannot grow it without
//! bound; sequence numbers keep counting, so a reader can tell what it missed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{to_bytes, Body, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::server::Sim;

/// How many requests the log keeps (the oldest are dropped first).
pub const CAPACITY: usize = 200_000;

/// Exchange request bodies larger than this are not parsed for the cmdlet name.
const MAX_PEEK: usize = 1 << 20;

/// Answers larger than this are not scanned for the ids they reveal.
const MAX_SCAN: u64 = 512 * 1024;

/// At most this many distinct ids are kept per answer.
const MAX_IDS: usize = 2_000;

/// One answered request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    /// Position in arrival order of answers, from 0, never reused.
    pub seq: u64,
    /// When the request arrived, in microseconds since the server started.
    pub start_us: u64,
    /// When its answer was ready (before the body was written), in microseconds since the
    /// server started.
    pub end_us: u64,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path (`/v1.0/users/...`).
    pub path: String,
    /// The query string as sent, if any.
    pub query: Option<String>,
    /// The Exchange cmdlet (`Get-InboxRule`) of an Exchange admin API request.
    pub operation: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// The size of the answer's body, when known before it was sent.
    pub bytes: Option<u64>,
    /// The GUIDs the answer's body revealed (lowercase, first [`MAX_IDS`] distinct; answers
    /// over 512 KiB are not scanned): what a later request naming one of them needed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revealed_ids: Vec<String>,
}

/// The log shared by the server's requests, and the gate that serves them one at a time when
/// asked to (a sequential baseline whatever the client does).
#[derive(Debug)]
pub(crate) struct RequestLog {
    epoch: Instant,
    entries: Mutex<Entries>,
    gate: Option<Arc<Semaphore>>,
}

#[derive(Debug, Default)]
struct Entries {
    next_seq: u64,
    kept: VecDeque<LoggedRequest>,
}

impl RequestLog {
    /// A log; `max_concurrent` > 0 makes requests beyond that many wait (unlogged) until one
    /// is answered.
    pub(crate) fn new(max_concurrent: usize) -> Self {
        Self {
            epoch: Instant::now(),
            entries: Mutex::new(Entries::default()),
            gate: (max_concurrent > 0).then(|| Arc::new(Semaphore::new(max_concurrent))),
        }
    }

    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    fn push(&self, mut entry: LoggedRequest) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entry.seq = entries.next_seq;
        entries.next_seq += 1;
        if entries.kept.len() == CAPACITY {
            entries.kept.pop_front();
        }
        entries.kept.push_back(entry);
    }

    /// The requests kept, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<LoggedRequest> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.kept.iter().cloned().collect()
    }

    /// The sequence number the next answered request will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next_seq
    }

    /// Forgets the requests kept (sequence numbers keep counting).
    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .kept
            .clear();
    }
}

/// Middleware around every Microsoft route: times the request and logs it once answered.
pub(crate) async fn log_request(
    State(sim): State<Arc<Sim>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_sim/") || path == "/_sim" {
        return next.run(request).await;
    }
    // Waiting at the gate is the client's time, not the tenant's: the request starts once in.
    let _permit = match &sim.requests.gate {
        Some(gate) => gate.clone().acquire_owned().await.ok(),
        None => None,
    };
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let (request, operation) = if path.contains("/adminapi/") {
        peek_cmdlet(request).await
    } else {
        (request, None)
    };
    let response = next.run(request).await;
    let bytes = response.body().size_hint().exact();
    let (response, revealed_ids) = match bytes {
        Some(size) if size > 0 && size <= MAX_SCAN => scan_answer(response).await,
        _ => (response, Vec::new()),
    };
    let log = &sim.requests;
    log.push(LoggedRequest {
        seq: 0,
        start_us: log.micros(started),
        end_us: log.micros(Instant::now()),
        method,
        path,
        query,
        operation,
        status: response.status().as_u16(),
        bytes,
        revealed_ids,
    });
    response
}

/// Collects the GUIDs of a (small, already complete) answer and puts the body back.
async fn scan_answer(response: Response) -> (Response, Vec<String>) {
    let (parts, body) = response.into_parts();
    match to_bytes(body, MAX_SCAN as usize).await {
        Ok(bytes) => {
            let ids = guids_in(&bytes);
            (Response::from_parts(parts, Body::from(bytes)), ids)
        }
        // A complete body of a known size cannot fail to collect; if it did, say so plainly.
        Err(_) => (
            Response::from_parts(parts, Body::from("the simulator lost this answer's body")),
            Vec::new(),
        ),
    }
}

/// The distinct GUIDs (8-4-4-4-12 hex digits) in `text`, lowercase, in order of appearance.
pub(crate) fn guids_in(text: &[u8]) -> Vec<String> {
    const LEN: usize = 36;
    let mut found: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut i = 0;
    while i + LEN <= text.len() {
        let candidate = &text[i..i + LEN];
        let shaped = candidate.iter().enumerate().all(|(k, b)| match k {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        let bounded = i == 0 || !text[i - 1].is_ascii_hexdigit();
        if shaped && bounded {
            let id = String::from_utf8_lossy(candidate).to_ascii_lowercase();
            if seen.insert(id.clone()) {
                found.push(id);
                if found.len() == MAX_IDS {
                    break;
                }
            }
            i += LEN;
        } else {
            i += 1;
        }
    }
    found
}

/// Reads an Exchange request's body for `CmdletInput.CmdletName` and puts the body back.
async fn peek_cmdlet(request: Request) -> (Request, Option<String>) {
    let (parts, body) = request.into_parts();
    match to_bytes(body, MAX_PEEK).await {
        Ok(bytes) => {
            let name = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                v.pointer("/CmdletInput/CmdletName")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            (Request::from_parts(parts, Body::from(bytes)), name)
        }
        // Too large or broken: the handler sees an empty body and answers that.
        Err(_) => (Request::from_parts(parts, Body::empty()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str) -> LoggedRequest {
        LoggedRequest {
            seq: 0,
            start_us: 0,
            end_us: 1,
            method: "GET".into(),
            path: path.into(),
            query: None,
            operation: None,
            status: 200,
            bytes: None,
            revealed_ids: Vec::new(),
        }
    }

    #[test]
    fn guids_are_found_once_each_and_lowercased() {
        let body = br#"{"value":[{"id":"0A1B2C3D-0000-4000-8000-00000000000A"},{"id":"0a1b2c3d-0000-4000-8000-00000000000a","x":"not-a-guid"}]}"#;
        assert_eq!(guids_in(body), ["0a1b2c3d-0000-4000-8000-00000000000a"]);
        assert!(guids_in(b"1234").is_empty());
    }

    #[test]
    fn sequence_numbers_keep_counting_after_a_clear() {
        let log = RequestLog::new(0);
        log.push(entry("/v1.0/users"));
        log.push(entry("/v1.0/me"));
        log.clear();
        log.push(entry("/v1.0/users"));
        let kept = log.snapshot();
        assert_eq!(kept.len(), 1, "cleared entries are gone");
        assert_eq!(kept[0].seq, 2, "the third request is number 2");
        assert_eq!(log.next_seq(), 3);
    }
}
