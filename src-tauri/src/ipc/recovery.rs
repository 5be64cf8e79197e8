//! Wire types of recovery, the watch window, the sideways sweep's linked cases and case closing.
//! No secret crosses here: the Temporary Access Pass is described ([`PassNotice`]), never sent.
//! Every string that came from the tenant is attacker-controlled and rendered as text by the UI.

use chrono::{DateTime, Utc};
use firebreak_core::{case, procedure::recover, sweep, watch};
use serde::Serialize;
use specta::Type;

/// Where recovery, the watch and the case's links stand: one call for the Recover section.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryStatus {
    /// Per account of the case.
    pub accounts: Vec<AccountRecovery>,
    /// The watch windows, in account order.
    pub watch: Vec<WatchWindow>,
    /// Every watch alert journaled, oldest first.
    pub alerts: Vec<WatchAlert>,
    /// When the application last re-checked the case's watched accounts (this run only).
    pub last_checked: Option<DateTime<Utc>>,
    /// Linked cases.
    pub links: Vec<CaseLink>,
    /// Set once the case is closed.
    pub closed: Option<CaseClosure>,
}

impl RecoveryStatus {
    /// The status of `case` at `now` (its clock), last re-checked at `last_checked`.
    pub fn of(
        case: &case::CaseView,
        now: DateTime<Utc>,
        last_checked: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            accounts: recover::overview(case)
                .into_iter()
                .map(Into::into)
                .collect(),
            watch: watch::windows(case)
                .into_iter()
                .map(|w| WatchWindow::at(w, now))
                .collect(),
            alerts: watch::alerts(case).into_iter().map(Into::into).collect(),
            last_checked,
            links: case.links.iter().cloned().map(Into::into).collect(),
            closed: case.closed.clone().map(Into::into),
        }
    }
}

/// One account's recovery gate and sideways-sweep hits.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountRecovery {
    /// The account's number in the case (from 1).
    pub index: u32,
    /// The account.
    pub account: String,
    /// Whether recovery may start (containment verified, blast-radius list finished).
    pub gate_open: bool,
    /// Why not, one line per step holding it.
    pub blockers: Vec<String>,
    /// Blast-radius checks still open (these also hold the case open).
    pub open_checks: Vec<String>,
    /// Other accounts the recorded sideways sweep found.
    pub sweep_hits: Vec<SweepHit>,
}

impl From<recover::AccountRecovery> for AccountRecovery {
    fn from(a: recover::AccountRecovery) -> Self {
        Self {
            index: a.index,
            account: a.account,
            gate_open: a.blockers.is_empty(),
            blockers: a.blockers,
            open_checks: a.open_checks,
            sweep_hits: a.sweep_hits.into_iter().map(Into::into).collect(),
        }
    }
}

/// Another account the sideways sweep found.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SweepHit {
    /// The account (what `open_linked_case` takes).
    pub account: String,
    /// Its object id, when known.
    pub user_id: Option<String>,
    /// What points to it, one line each.
    pub signals: Vec<String>,
    /// Whether this case already names it.
    pub in_case: bool,
}

impl From<sweep::SweepHit> for SweepHit {
    fn from(h: sweep::SweepHit) -> Self {
        Self {
            account: h.account,
            user_id: h.user_id,
            signals: h.signals.into_iter().map(|s| s.text).collect(),
            in_case: h.in_case,
        }
    }
}

/// A watch window.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WatchWindow {
    /// The account watched.
    pub account: String,
    /// When the baseline was taken.
    pub from: DateTime<Utc>,
    /// When it ends (or ended).
    pub until: DateTime<Utc>,
    /// Whether it is running now (by the case's clock).
    pub active: bool,
    /// The attacker's addresses sign-ins are watched for.
    pub attacker_addresses: Vec<String>,
}

impl WatchWindow {
    /// The window as seen at `now`.
    pub fn at(w: watch::WatchWindow, now: DateTime<Utc>) -> Self {
        Self {
            active: w.active(now),
            account: w.account,
            from: w.from,
            until: w.until,
            attacker_addresses: w.attacker_addresses,
        }
    }
}

/// A watch alert.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WatchAlert {
    /// The account.
    pub account: String,
    /// `method`, `inboxRule`, `forwarding`, `grant` or `signIn`.
    pub kind: String,
    /// Stable key of the object.
    pub key: String,
    /// One line.
    pub title: String,
    /// What was seen and why it matters.
    pub detail: String,
    /// When it happened in the tenant, when known.
    pub at: Option<DateTime<Utc>>,
    /// When Firebreak saw it.
    pub observed_at: DateTime<Utc>,
}

impl From<watch::WatchAlert> for WatchAlert {
    fn from(a: watch::WatchAlert) -> Self {
        Self {
            kind: serde_json::to_value(a.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            account: a.account,
            key: a.key,
            title: a.title,
            detail: a.detail,
            at: a.at,
            observed_at: a.observed_at,
        }
    }
}

/// What a re-check found.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RecheckResult {
    /// Alerts raised now (already journaled and notified).
    pub new_alerts: Vec<WatchAlert>,
    /// Reads that failed.
    pub gaps: Vec<String>,
    /// How many windows were active.
    pub active_windows: u32,
    /// When it ran (the case's clock).
    pub checked_at: DateTime<Utc>,
}

impl From<watch::Recheck> for RecheckResult {
    fn from(r: watch::Recheck) -> Self {
        Self {
            new_alerts: r.new_alerts.into_iter().map(Into::into).collect(),
            gaps: r.gaps,
            active_windows: u32::try_from(r.windows.len()).unwrap_or(u32::MAX),
            checked_at: r.checked_at,
        }
    }
}

/// A case linked to this one.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseLink {
    /// The other case's id.
    pub other_case: String,
    /// `openedFromHere` (a sweep hit opened as its own case) or `openedFrom`.
    pub relation: String,
    /// Why.
    pub reason: String,
}

impl From<case::CaseLink> for CaseLink {
    fn from(l: case::CaseLink) -> Self {
        Self {
            other_case: l.other_case.to_string(),
            relation: match l.relation {
                case::LinkRelation::OpenedFromHere => "openedFromHere".into(),
                case::LinkRelation::OpenedFrom => "openedFrom".into(),
            },
            reason: l.reason,
        }
    }
}

/// How and when the case was closed.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CaseClosure {
    /// When.
    pub at: DateTime<Utc>,
    /// The admin's summary.
    pub summary: String,
}

impl From<case::CaseClosure> for CaseClosure {
    fn from(c: case::CaseClosure) -> Self {
        Self {
            at: c.at,
            summary: c.summary,
        }
    }
}

/// What the UI is told about a Temporary Access Pass: never the pass itself.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PassNotice {
    /// What it is, in plain words.
    pub what: String,
    /// When it starts to work.
    pub valid_from: Option<DateTime<Utc>>,
    /// How long it works, in minutes.
    pub lifetime_minutes: Option<u32>,
    /// Whether it is on the system clipboard now.
    pub on_clipboard: bool,
    /// After how many seconds Firebreak clears the clipboard.
    pub clears_after_seconds: u32,
    /// Why it could not be put on the clipboard, and what to do.
    pub problem: Option<String>,
}
