//! The critical path of a run: the longest chain of requests in the simulator's request log that
//! had to wait for one another. Multiplied by the per-request latency it is the least time any
//! client could have taken against a tenant that answers that slowly; a run's wall time divided by
//! it says how close the client came.
//!
//! "B depends on A" when A's answer was ready before B was sent and one of these holds:
//! 1. **Segments in order.** The benchmark cuts a run into segments that happen strictly one
//!    after another by necessity: the plan of a step, then running it (after the admin confirmed
//!    that plan), then the plan of the next step (containment steps are ordered: revoke before
//!    disable before reset). Every request of a later segment depends on every request of an
//!    earlier one.
//! 2. **Paging.** A request carrying `$skiptoken` depends on the previous page of the same
//!    listing (same method, path, operation and query apart from the paging token): the token
//!    comes from that page's `@odata.nextLink`.
//! 3. **Ids.** A Graph request whose path or query names a GUID depends on the earliest request
//!    whose answer revealed it (the simulator records the GUIDs of answers up to 512 KiB).
//! 4. **Tokens.** A Graph or Exchange request depends on the token request that ended last
//!    before it started (it carries that token).
//! 5. **Polling.** A read of a Purview audit search (`/security/auditLog/queries/{id}`), and the
//!    first read of its records, depend on the previous read of that search: each is sent only
//!    because that one said "not yet" or "done".
//! 6. **Change after read, read after change (same segment).** A change (a Graph write, or an
//!    Exchange cmdlet that is not `Get-*`) depends on every read of its segment that ended before
//!    it: a step changes only after reading the tenant afresh and saving the evidence. A read that
//!    starts after a change of its segment ended depends on it: it is the read-back.
//!
//! Nothing else is a dependency: reads of one segment do not wait for each other, nor do changes.
//! Where the client issues independent requests one after another, the wall time shows it and the
//! critical path does not.

use std::collections::HashMap;

use firebreak_sim::LoggedRequest;

/// What a request does, for the dependency rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A token request.
    Token,
    /// Reads the tenant.
    Read,
    /// Changes the tenant.
    Change,
}

/// Classifies a logged request.
pub fn kind_of(request: &LoggedRequest) -> Kind {
    if request.path.ends_with("/oauth2/v2.0/token") || request.path.ends_with("/devicecode") {
        return Kind::Token;
    }
    if let Some(cmdlet) = &request.operation {
        return if cmdlet.starts_with("Get-") {
            Kind::Read
        } else {
            Kind::Change
        };
    }
    match request.method.as_str() {
        "GET" | "HEAD" => Kind::Read,
        // Creating an audit-log query is how that API is read.
        "POST" if request.path.ends_with("/security/auditLog/queries") => Kind::Read,
        _ => Kind::Change,
    }
}

/// A request placed in its segment.
#[derive(Debug, Clone)]
pub struct Placed<'a> {
    /// The logged request.
    pub request: &'a LoggedRequest,
    /// Its segment (0, 1, ... in the order the benchmark ran them).
    pub segment: usize,
}

/// The longest chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalPath {
    /// How many requests it holds.
    pub requests: usize,
    /// The chain's requests by `seq`, first to last.
    pub chain: Vec<u64>,
    /// The sum of the chain's measured server times (latency plus work), in microseconds.
    pub server_us: u64,
}

/// The key of a listing for the paging rule: everything but the paging token.
pub(crate) fn paging_key(request: &LoggedRequest) -> String {
    let query: Vec<&str> = request
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !matches!(name, "$skiptoken" | "%24skiptoken" | "$skip" | "%24skip")
        })
        .collect();
    format!(
        "{} {} {} {}",
        request.method,
        request.path,
        request.operation.as_deref().unwrap_or(""),
        query.join("&")
    )
}

/// Whether the request follows an `@odata.nextLink` (carries a `$skiptoken`).
pub(crate) fn pages_on(request: &LoggedRequest) -> bool {
    request
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .any(|pair| pair.starts_with("$skiptoken=") || pair.starts_with("%24skiptoken="))
}

/// The search a request waits on: the search itself for a status read, and for the first page of
/// its records.
fn polled_search(request: &LoggedRequest) -> Option<&str> {
    if polls(request) {
        return Some(&request.path);
    }
    let search = request.path.strip_suffix("/records")?;
    let status = LoggedRequest {
        path: search.to_owned(),
        ..request.clone()
    };
    (request.method == "GET" && !pages_on(request) && polls(&status)).then_some(search)
}

/// Whether the request reads the status of a Purview audit search (polling).
fn polls(request: &LoggedRequest) -> bool {
    request.method == "GET"
        && request
            .path
            .split_once("/security/auditLog/queries/")
            .is_some_and(|(_, rest)| !rest.is_empty() && !rest.contains('/'))
}

/// GUIDs a Graph request names in its path or query (not the tenant id of token or Exchange
/// paths, which every client knows from the start).
fn named_ids(request: &LoggedRequest) -> Vec<String> {
    if !(request.path.starts_with("/v1.0/") || request.path.starts_with("/beta/")) {
        return Vec::new();
    }
    let text = format!(
        "{}?{}",
        request.path,
        request.query.as_deref().unwrap_or("")
    )
    .to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut ids = Vec::new();
    let mut i = 0;
    while i + 36 <= bytes.len() {
        let shaped = bytes[i..i + 36].iter().enumerate().all(|(k, b)| match k {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        if shaped && (i == 0 || !bytes[i - 1].is_ascii_hexdigit()) {
            ids.push(text[i..i + 36].to_owned());
            i += 36;
        } else {
            i += 1;
        }
    }
    ids
}

/// Finds the longest chain of dependent requests, counted in requests (see the module
/// documentation).
pub fn critical_path(placed: &[Placed<'_>]) -> CriticalPath {
    longest(placed, false)
}

/// Finds the chain of dependent requests that took the simulator longest (latency plus its own
/// work): the least time any client could take against this simulator on this machine.
pub fn slowest_chain(placed: &[Placed<'_>]) -> CriticalPath {
    longest(placed, true)
}

fn longest(placed: &[Placed<'_>], by_server_time: bool) -> CriticalPath {
    let rank = |count: usize, server: u64| {
        if by_server_time {
            (server, count as u64)
        } else {
            (count as u64, server)
        }
    };
    let mut order: Vec<usize> = (0..placed.len()).collect();
    // A dependency always ended before its dependant started, so start order is topological.
    order.sort_by_key(|&i| (placed[i].request.start_us, placed[i].request.end_us));
    let kinds: Vec<Kind> = placed.iter().map(|p| kind_of(p.request)).collect();
    let keys: Vec<String> = placed.iter().map(|p| paging_key(p.request)).collect();
    // Where each id was first revealed: the request that ended first with it in its answer.
    let mut revealed: HashMap<&str, usize> = HashMap::new();
    let mut by_end: Vec<usize> = (0..placed.len()).collect();
    by_end.sort_by_key(|&i| placed[i].request.end_us);
    for &i in &by_end {
        for id in &placed[i].request.revealed_ids {
            revealed.entry(id.as_str()).or_insert(i);
        }
    }

    // best[i] = (length of the longest chain ending at i, its previous request).
    let mut best: Vec<(usize, Option<usize>)> = vec![(0, None); placed.len()];
    let mut server: Vec<u64> = vec![0; placed.len()];
    let mut done: Vec<usize> = Vec::with_capacity(placed.len());
    for &b in &order {
        let rb = placed[b].request;
        let mut chosen: (usize, Option<usize>, u64) = (0, None, 0);
        let consider = |a: usize, chosen: &mut (usize, Option<usize>, u64)| {
            let candidate = (best[a].0, Some(a), server[a]);
            if rank(candidate.0, candidate.2) > rank(chosen.0, chosen.2) {
                *chosen = candidate;
            }
        };
        let mut previous_page: Option<usize> = None;
        let mut previous_poll: Option<usize> = None;
        let mut last_token: Option<usize> = None;
        for &a in &done {
            let ra = placed[a].request;
            if ra.end_us > rb.start_us {
                continue;
            }
            let (sa, sb) = (placed[a].segment, placed[b].segment);
            if sa < sb {
                consider(a, &mut chosen);
                continue;
            }
            if sa > sb {
                continue;
            }
            match (kinds[a], kinds[b]) {
                (Kind::Token, Kind::Token) => {}
                (Kind::Token, _)
                    if last_token.is_none_or(|t| placed[t].request.end_us < ra.end_us) =>
                {
                    last_token = Some(a);
                }
                (Kind::Read, Kind::Change) | (Kind::Change, Kind::Read) => consider(a, &mut chosen),
                _ => {}
            }
            if polled_search(rb).is_some()
                && polls(ra)
                && polled_search(rb) == Some(ra.path.as_str())
                && previous_poll.is_none_or(|p| placed[p].request.end_us < ra.end_us)
            {
                previous_poll = Some(a);
            }
            if pages_on(rb)
                && keys[a] == keys[b]
                && previous_page.is_none_or(|p| placed[p].request.end_us < ra.end_us)
            {
                previous_page = Some(a);
            }
        }
        for a in [previous_page, previous_poll, last_token]
            .into_iter()
            .flatten()
        {
            consider(a, &mut chosen);
        }
        for id in named_ids(rb) {
            if let Some(&a) = revealed.get(id.as_str()) {
                if a != b && placed[a].request.end_us <= rb.start_us {
                    consider(a, &mut chosen);
                }
            }
        }
        best[b] = (chosen.0 + 1, chosen.1);
        server[b] = chosen.2 + rb.end_us.saturating_sub(rb.start_us);
        done.push(b);
    }

    let Some(last) = (0..placed.len()).max_by_key(|&i| rank(best[i].0, server[i])) else {
        return CriticalPath {
            requests: 0,
            chain: Vec::new(),
            server_us: 0,
        };
    };
    let mut chain = Vec::new();
    let mut at = Some(last);
    while let Some(i) = at {
        chain.push(placed[i].request.seq);
        at = best[i].1;
    }
    chain.reverse();
    CriticalPath {
        requests: best[last].0,
        chain,
        server_us: server[last],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, start_ms: u64, end_ms: u64, method: &str, target: &str) -> LoggedRequest {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        LoggedRequest {
            seq,
            start_us: start_ms * 1000,
            end_us: end_ms * 1000,
            method: method.into(),
            path,
            query,
            operation: None,
            status: 200,
            bytes: Some(10),
            revealed_ids: Vec::new(),
        }
    }

    fn place(log: &[LoggedRequest], segments: &[usize]) -> CriticalPath {
        let placed: Vec<Placed<'_>> = log
            .iter()
            .zip(segments)
            .map(|(request, &segment)| Placed { request, segment })
            .collect();
        critical_path(&placed)
    }

    #[test]
    fn a_step_is_token_then_paged_read_then_change_then_read_back() {
        // Segment 0 (plan): token, then two independent reads issued one after the other (the
        // client was slow; the path is not longer for it), one of them paged over two pages.
        // Segment 1 (run): a fresh read, two independent changes, a read-back.
        let log = vec![
            request(0, 0, 50, "POST", "/t/oauth2/v2.0/token"),
            request(1, 50, 100, "GET", "/v1.0/users/a/authentication/methods"),
            request(2, 100, 150, "GET", "/v1.0/auditLogs/signIns?$top=1000"),
            request(
                3,
                150,
                200,
                "GET",
                "/v1.0/auditLogs/signIns?$top=1000&$skiptoken=x",
            ),
            request(4, 200, 250, "GET", "/v1.0/users/a"),
            request(
                5,
                250,
                300,
                "DELETE",
                "/v1.0/users/a/authentication/methods/m1",
            ),
            request(
                6,
                300,
                350,
                "DELETE",
                "/v1.0/users/a/authentication/methods/m2",
            ),
            request(7, 350, 400, "GET", "/v1.0/users/a/authentication/methods"),
        ];
        let path = place(&log, &[0, 0, 0, 0, 1, 1, 1, 1]);
        // token -> page 1 -> page 2 | fresh read -> one change -> read-back: 6 of the 8.
        assert_eq!(path.requests, 6, "{path:?}");
        assert_eq!(
            path.chain[..3],
            [0, 2, 3],
            "the paged listing is the longest read"
        );
        assert_eq!(path.chain[5], 7, "the read-back ends the chain");
    }

    #[test]
    fn reads_of_one_segment_do_not_wait_for_each_other() {
        let log: Vec<LoggedRequest> = (0..5)
            .map(|i| request(i, i * 50, i * 50 + 50, "GET", &format!("/v1.0/thing{i}")))
            .collect();
        assert_eq!(place(&log, &[0; 5]).requests, 1);
        assert_eq!(
            place(&log, &[0, 1, 2, 3, 4]).requests,
            5,
            "unless segments order them"
        );
    }

    #[test]
    fn a_request_naming_an_id_waits_for_the_answer_that_revealed_it() {
        let id = "0a1b2c3d-0000-4000-8000-00000000000a";
        let mut grants = request(0, 0, 50, "GET", "/v1.0/oauth2PermissionGrants");
        grants.revealed_ids = vec![id.into()];
        let other = request(1, 0, 50, "GET", "/v1.0/users");
        let app = request(2, 60, 110, "GET", &format!("/v1.0/servicePrincipals/{id}"));
        let path = place(&[grants, other, app], &[0, 0, 0]);
        assert_eq!(path.requests, 2);
        assert_eq!(path.chain, [0, 2]);
    }

    #[test]
    fn exchange_cmdlets_are_reads_or_changes_by_their_verb() {
        let mut get = request(0, 0, 1, "POST", "/adminapi/beta/t/InvokeCommand");
        get.operation = Some("Get-InboxRule".into());
        let mut remove = get.clone();
        remove.operation = Some("Remove-InboxRule".into());
        assert_eq!(kind_of(&get), Kind::Read);
        assert_eq!(kind_of(&remove), Kind::Change);
    }

    #[test]
    fn polls_of_one_audit_search_wait_for_each_other_but_not_for_other_searches() {
        let log = vec![
            request(0, 0, 50, "GET", "/v1.0/security/auditLog/queries/q1"),
            request(1, 0, 50, "GET", "/v1.0/security/auditLog/queries/q2"),
            request(2, 60, 110, "GET", "/v1.0/security/auditLog/queries/q1"),
            request(3, 120, 170, "GET", "/v1.0/security/auditLog/queries/q1"),
            request(
                4,
                120,
                170,
                "GET",
                "/v1.0/security/auditLog/queries/q2/records",
            ),
        ];
        let path = place(&log, &[0; 5]);
        assert_eq!(path.chain, [0, 2, 3]);
    }

    #[test]
    fn the_slowest_chain_weighs_requests_by_their_server_time() {
        let log = [
            request(0, 0, 50, "GET", "/v1.0/a?$skiptoken=x"),
            request(1, 0, 900, "GET", "/v1.0/slow"),
            request(2, 60, 110, "GET", "/v1.0/a?$skiptoken=y"),
        ];
        let placed: Vec<Placed<'_>> = log
            .iter()
            .map(|request| Placed {
                request,
                segment: 0,
            })
            .collect();
        assert_eq!(
            critical_path(&placed).chain,
            [0, 2],
            "two requests beat one"
        );
        let slowest = slowest_chain(&placed);
        assert_eq!(slowest.chain, [1]);
        assert_eq!(slowest.server_us, 900_000);
    }

    #[test]
    fn an_empty_log_has_an_empty_path() {
        assert_eq!(critical_path(&[]).requests, 0);
    }
}
