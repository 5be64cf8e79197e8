//! P3: start-up of the release application. Launches it with `--bench-startup` in a fresh data
//! and XDG folder on the current display (the benchmark runs under Xvfb), waits for the line the
//! shell prints when the UI reports its home screen mounted, and sums the peak resident set
//! (`VmHWM`) of the application and every process it started (WebKit's web and network
//! processes) from `/proc` before it exits.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Failure;

/// The line the shell prints, followed by `ms=<elapsed since process start>`.
pub const READY_LINE: &str = "firebreak-ui-ready";

/// One launch.
#[derive(Debug, Clone, Copy)]
pub struct Launch {
    /// From process start to the UI's ready call, as the application measured it.
    pub ready: Duration,
    /// From spawning the process to reading its ready line, as this benchmark measured it.
    pub spawn_to_line: Duration,
    /// Peak RSS of the application and its descendants, KiB.
    pub peak_kib: u64,
    /// How many processes that sum covers.
    pub processes: usize,
    /// Proportional set size of the same processes at the ready line, KiB: shared libraries
    /// (WebKit, GTK, Mesa) counted once across them instead of once per process.
    pub pss_kib: u64,
}

/// Launches `app` once and measures it.
pub fn launch(app: &Path) -> Result<Launch, Failure> {
    let home = tempfile::tempdir()?;
    let spawned = Instant::now();
    let mut child = Command::new(app)
        .arg("--bench-startup")
        .env("FIREBREAK_DATA_DIR", home.path().join("data"))
        .env("XDG_DATA_HOME", home.path().join("xdg-data"))
        .env("XDG_CACHE_HOME", home.path().join("xdg-cache"))
        .env("XDG_CONFIG_HOME", home.path().join("xdg-config"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let stdout = child
        .stdout
        .take()
        .ok_or("no stdout from the application")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(READY_LINE) {
                let _ = tx.send(line);
                break;
            }
        }
    });
    // Sample the process tree while waiting: VmHWM only grows, so the last sample is the peak;
    // sampling also catches processes that end before the ready line.
    let mut peak = std::collections::BTreeMap::new();
    let deadline = spawned + Duration::from_secs(30);
    let line = loop {
        for (p, kib) in tree_peaks(pid) {
            let entry = peak.entry(p).or_insert(0);
            *entry = kib.max(*entry);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => break Some((line, spawned.elapsed())),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => break None,
        }
    };
    for (p, kib) in tree_peaks(pid) {
        let entry = peak.entry(p).or_insert(0);
        *entry = kib.max(*entry);
    }
    let pss_kib = peak
        .keys()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok())
        .filter_map(|rollup| status_kib(&rollup, "Pss:"))
        .sum();
    // The application exits by itself shortly after its ready line; stop it if it does not.
    let exit_by = Instant::now() + Duration::from_secs(10);
    while child.try_wait()?.is_none() && Instant::now() < exit_by {
        std::thread::sleep(Duration::from_millis(50));
    }
    if child.try_wait()?.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (line, spawn_to_line) = line.ok_or(
        "the application did not report its UI ready within 30 s (is DISPLAY set? run under xvfb-run)",
    )?;
    let ms: f64 = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("unreadable ready line: {line}"))?;
    Ok(Launch {
        ready: Duration::from_secs_f64(ms / 1000.0),
        spawn_to_line,
        peak_kib: peak.values().sum(),
        processes: peak.len(),
        pss_kib,
    })
}

/// `pid` and its descendants with their `VmHWM`, KiB.
fn tree_peaks(pid: u32) -> Vec<(u32, u64)> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(p) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
                continue;
            };
            let ppid = status_kib(&status, "PPid:").unwrap_or(0);
            let hwm = status_kib(&status, "VmHWM:").unwrap_or(0);
            parents.push((p, u32::try_from(ppid).unwrap_or(0), hwm));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp, _)| *pp == parent)
                .map(|(p, _, _)| *p),
        );
        i += 1;
    }
    parents
        .into_iter()
        .filter(|(p, _, _)| tree.contains(p))
        .map(|(p, _, hwm)| (p, hwm))
        .collect()
}

/// The number after `key` in a `/proc/*/status` text (`VmHWM:   1234 kB` gives 1234).
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_read_in_kibibytes() {
        let status = "Name:\tfirebreak\nPPid:\t42\nVmHWM:\t  123456 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(123_456));
        assert_eq!(status_kib(status, "PPid:"), Some(42));
        assert_eq!(status_kib(status, "VmRSS:"), None);
    }
}
