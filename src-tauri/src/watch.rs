//! The watch window while the application runs: a background task wakes every [`tick`] of real
//! time, and re-checks each case whose watch window is active once its interval has passed on
//! *the case's* clock (a practice case follows its simulated tenant, so a test moves the
//! simulator's clock and the next tick re-checks). New alerts are journaled by core and raised
//! as desktop notifications; a desktop without a notification service (a server, Xvfb) only
//! loses the pop-up, never the alert in the case. `check_now` re-checks at once (the UI's
//! "Check now", and tests).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use firebreak_core::{
    case::{CaseId, CaseStore},
    watch::{self, Recheck, WatchAlert},
};
use tauri::{AppHandle, Manager};

use crate::{
    ipc::IpcError, practice::Practices, response, response::Responder, state::AppState,
    tenants::Tenants,
};

/// How often the background task wakes, in real time, unless `FIREBREAK_WATCH_TICK_SECONDS`
/// says otherwise (end-to-end tests use a second).
const DEFAULT_TICK: Duration = Duration::from_secs(30);

/// How often the background task wakes.
pub fn tick() -> Duration {
    std::env::var("FIREBREAK_WATCH_TICK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_TICK, Duration::from_secs)
}

/// Shows one alert on the desktop; returns why it could not.
pub type Notify = Arc<dyn Fn(&WatchAlert) -> Result<(), String> + Send + Sync>;

/// The watch state of this run. Cheap to clone.
#[derive(Clone)]
pub struct Watcher {
    last: Arc<Mutex<HashMap<CaseId, DateTime<Utc>>>>,
    interval: chrono::Duration,
    notify: Notify,
}

impl Watcher {
    /// A watcher re-checking every `interval` of the case's clock, showing alerts with `notify`.
    pub fn new(interval: chrono::Duration, notify: Notify) -> Self {
        Self {
            last: Arc::default(),
            interval,
            notify,
        }
    }

    /// A watcher that raises alerts as desktop notifications.
    pub fn with_desktop_notifications() -> Self {
        Self::new(
            chrono::Duration::minutes(watch::DEFAULT_INTERVAL_MINUTES),
            Arc::new(desktop_notification),
        )
    }

    /// When case `id` was last re-checked in this run (by its clock).
    pub fn last_checked(&self, id: &CaseId) -> Option<DateTime<Utc>> {
        self.lock().get(id).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CaseId, DateTime<Utc>>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Re-checks case `id` now with `responder`, notifies each new alert and returns the result.
    pub async fn check_now(&self, responder: &Responder, id: &CaseId) -> Result<Recheck, IpcError> {
        let result = watch::recheck(responder.env().tenant, responder.store(), id).await?;
        self.lock().insert(id.clone(), result.checked_at);
        for alert in &result.new_alerts {
            // Desktop notification services answer over D-Bus and may be slow or absent: off the
            // async workers, and a failure costs only the pop-up (the alert is in the case).
            let (notify, shown) = (self.notify.clone(), alert.clone());
            let outcome = tokio::task::spawn_blocking(move || notify(&shown))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            if let Err(problem) = outcome {
                log::warn!(
                    "watch alert of case {id} journaled but not shown on the desktop: {problem}"
                );
            }
        }
        Ok(result)
    }

    /// Whether case `id`, journaled in `store`, has an active window and is due a re-check.
    fn due(&self, store: &CaseStore, id: &CaseId) -> bool {
        let Ok(case) = store.case(id) else {
            return false;
        };
        let now = store.clock().now();
        let active = watch::windows(&case).iter().any(|w| w.active(now));
        active
            && self
                .last_checked(id)
                .is_none_or(|last| now - last >= self.interval)
    }

    /// One pass over every case: re-checks those due. Failures (a delegated profile without a
    /// session, a tenant that does not answer) are logged and retried at the next tick.
    pub async fn tick(&self, state: &AppState, practices: &Practices, tenants: &Tenants) {
        let Ok(cases) = state.cases().list() else {
            return;
        };
        for summary in cases {
            let id = summary.id;
            let Ok(store) = response::journal_for(practices, state.cases(), &id) else {
                continue;
            };
            if !self.due(&store, &id) {
                continue;
            }
            let responder =
                response::for_case(practices, tenants, state.data_root(), state.cases(), &id).await;
            let outcome = match responder {
                Ok(responder) => self.check_now(&responder, &id).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                log::warn!(
                    "watch re-check of case {id} failed, retrying later: {}",
                    e.message
                );
            }
        }
    }

    /// Runs [`Watcher::tick`] every [`tick`] for as long as the application runs.
    pub fn spawn(&self, app: AppHandle) {
        let watcher = self.clone();
        tauri::async_runtime::spawn(async move {
            let every = tick();
            loop {
                tokio::time::sleep(every).await;
                let state = app.state::<AppState>();
                let practices = app.state::<Practices>();
                let tenants = app.state::<Tenants>();
                watcher.tick(&state, &practices, &tenants).await;
            }
        });
    }
}

/// Escapes what notification daemons may read as markup: account names come from the case.
fn plain(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn desktop_notification(alert: &WatchAlert) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("Firebreak")
        .summary(&plain(&alert.title))
        .body("Firebreak's watch window found something new. Open the case to see what and why.")
        .show()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::Duration as Span;
    use firebreak_core::{
        case::CaseStore,
        paths::DataRoot,
        practice::{self, HeadlessClock, PracticeOptions},
        tenant::{self, SignIn, TenantProfile},
    };
    use firebreak_sim::{Scenario, SimOptions};

    #[tokio::test]
    async fn a_re_check_falls_due_by_the_simulated_clock_and_notifies_the_attackers_return() {
        let (server, training) = crate::tenants::start_simulated(
            Scenario::builtin("bec").expect("bec"),
            SimOptions::default(),
        )
        .await
        .expect("simulator");
        let protected = training.profile().protected_accounts();
        let control = Arc::new(server);
        let clock = HeadlessClock(control.clone());
        let client = tenant::connect(
            &TenantProfile::training(),
            SignIn::Training(&training),
            Arc::new(clock.clone()),
        )
        .expect("client");
        let tmp = tempfile::tempdir().expect("tmp");
        let root = DataRoot::open(tmp.path()).expect("root");
        let store = CaseStore::new(&root, Arc::new(clock)).expect("store");
        let options = PracticeOptions {
            protected: protected.clone(),
            ..PracticeOptions::default()
        };
        let run = practice::run_headless(&client, control.as_ref(), &store, "bec", &options)
            .await
            .expect("the whole procedure, recovery and watch included");
        let id = run.case_id;
        let account = run.accounts[0].clone();
        let responder = Responder::new(client, store.clone(), protected);
        let shown: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = shown.clone();
        let watcher = Watcher::new(
            Span::minutes(15),
            Arc::new(move |alert: &WatchAlert| {
                seen.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(alert.title.clone());
                Ok(())
            }),
        );

        assert!(watcher.due(&store, &id), "never checked: due at once");
        watcher
            .check_now(&responder, &id)
            .await
            .expect("first check");
        assert!(!watcher.due(&store, &id), "checked just now");
        control.advance(Span::minutes(10));
        assert!(!watcher.due(&store, &id), "10 simulated minutes are not 15");
        control.advance(Span::minutes(6));
        assert!(
            watcher.due(&store, &id),
            "due once 15 simulated minutes have passed"
        );

        control
            .attacker_returns(&account, &["signIn"])
            .expect("the attacker comes back");
        let result = watcher
            .check_now(&responder, &id)
            .await
            .expect("second check");
        assert_eq!(result.new_alerts.len(), 1, "{:?}", result.new_alerts);
        let shown = shown.lock().unwrap_or_else(PoisonError::into_inner).clone();
        assert_eq!(
            shown.len(),
            1,
            "the new alert was shown on the desktop: {shown:?}"
        );
        assert!(shown[0].contains(&account), "{shown:?}");
    }

    #[test]
    fn markup_in_a_notification_is_shown_as_text() {
        assert_eq!(plain("<b>a&b</b>"), "&lt;b&gt;a&amp;b&lt;/b&gt;");
    }

    #[test]
    fn without_a_notification_service_showing_an_alert_fails_softly() {
        let alert = WatchAlert {
            scope: "a1".into(),
            account: "a@b.example".into(),
            kind: watch::AlertKind::SignIn,
            key: "signIn:1".into(),
            title: "Sign-in from the attacker's address on a@b.example".into(),
            detail: String::new(),
            at: None,
            observed_at: Utc::now(),
        };
        // With or without a session bus, this returns instead of panicking or hanging.
        let _ = desktop_notification(&alert);
    }
}
