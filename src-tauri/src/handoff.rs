//! Hands the admin a secret a recovery step produced (the Temporary Access Pass) without it ever
//! reaching the webview, the logs, the case folder or the disk: Rust puts it on the system
//! clipboard and clears the clipboard after [`CLEAR_AFTER`] if it still holds the pass. The pass
//! stays in memory (in a `SecretString`) until it expires, so the admin can copy it again while
//! on the phone with the user; the UI only ever learns that a pass exists and when it ends.

use std::{
    collections::HashMap,
    sync::{mpsc, Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use firebreak_core::{case::CaseId, procedure::recover::Handoff};
use firebreak_graph::ExposeSecret;

use crate::ipc::{IpcError, IpcErrorKind, PassNotice};

/// How long the pass stays on the clipboard.
pub const CLEAR_AFTER: Duration = Duration::from_secs(60);
/// How long to wait for the clipboard to accept the pass.
const COPY_TIMEOUT: Duration = Duration::from_secs(3);

/// The passes issued in this run, by case. Cheap to clone.
#[derive(Clone, Default)]
pub struct Handoffs {
    issued: Arc<Mutex<HashMap<CaseId, Handoff>>>,
}

impl Handoffs {
    /// Keeps `handoff` for case `id` and puts it on the clipboard.
    pub fn deliver(&self, id: &CaseId, handoff: Handoff) -> PassNotice {
        let notice = copy_to_clipboard(&handoff);
        self.issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), handoff);
        notice
    }

    /// Puts the pass issued for case `id` on the clipboard again, while it still works at `now`.
    pub fn copy_again(&self, id: &CaseId, now: DateTime<Utc>) -> Result<PassNotice, IpcError> {
        let mut issued = self.issued.lock().unwrap_or_else(PoisonError::into_inner);
        let expired = issued
            .get(id)
            .is_some_and(|h| expires(h).is_some_and(|end| end <= now));
        if expired {
            issued.remove(id);
        }
        let handoff = issued.get(id).ok_or_else(|| IpcError {
            kind: IpcErrorKind::Invalid,
            message: "No Temporary Access Pass of this case is held in this run (it expired, or Firebreak was restarted). Delete the old pass in the Entra admin center and run the step again.".into(),
        })?;
        Ok(copy_to_clipboard(handoff))
    }
}

fn expires(h: &Handoff) -> Option<DateTime<Utc>> {
    Some(h.valid_from? + chrono::Duration::minutes(i64::from(h.lifetime_minutes?)))
}

/// Copies the secret on a thread of its own that keeps the clipboard for [`CLEAR_AFTER`], then
/// clears it unless the admin copied something else meanwhile.
fn copy_to_clipboard(handoff: &Handoff) -> PassNotice {
    let secret = handoff.secret.clone();
    let (told, answer) = mpsc::channel::<Result<(), String>>();
    let spawned = std::thread::Builder::new()
        .name("clipboard-handoff".into())
        .spawn(move || {
            let mut clipboard = match arboard::Clipboard::new() {
                Ok(c) => c,
                Err(e) => {
                    let _ = told.send(Err(e.to_string()));
                    return;
                }
            };
            if let Err(e) = clipboard.set_text(secret.expose_secret()) {
                let _ = told.send(Err(e.to_string()));
                return;
            }
            let _ = told.send(Ok(()));
            std::thread::sleep(CLEAR_AFTER);
            let still_ours = clipboard
                .get_text()
                .is_ok_and(|text| text == secret.expose_secret());
            if still_ours {
                let _ = clipboard.clear();
            }
        });
    let result = match spawned {
        Ok(_) => answer
            .recv_timeout(COPY_TIMEOUT)
            .unwrap_or_else(|_| Err("the clipboard did not answer".into())),
        Err(e) => Err(e.to_string()),
    };
    if let Err(problem) = &result {
        // The problem names the clipboard, never the pass.
        log::warn!("the Temporary Access Pass could not be put on the clipboard: {problem}");
    }
    PassNotice {
        what: handoff.what.clone(),
        valid_from: handoff.valid_from,
        lifetime_minutes: handoff.lifetime_minutes,
        on_clipboard: result.is_ok(),
        clears_after_seconds: u32::try_from(CLEAR_AFTER.as_secs()).unwrap_or(60),
        problem: result.err().map(|e| {
            format!(
                "The pass was created but could not be put on the clipboard ({e}). Choose \"Copy the pass again\"; if the clipboard stays unavailable, delete the pass in the Entra admin center and issue one there."
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firebreak_graph::SecretString;

    fn pass(minutes: u32, from: DateTime<Utc>) -> Handoff {
        Handoff {
            what: "Temporary Access Pass".into(),
            method_id: "tap-1".into(),
            secret: SecretString::from("Zx9!pass#Q2w"),
            valid_from: Some(from),
            lifetime_minutes: Some(minutes),
        }
    }

    #[test]
    fn the_notice_never_carries_the_pass_and_an_expired_pass_cannot_be_copied_again() {
        let handoffs = Handoffs::default();
        let id = CaseId::parse("20260301-2215-abcdef").expect("id");
        let now = Utc::now();
        let notice = handoffs.deliver(&id, pass(60, now - chrono::Duration::hours(2)));
        let json = serde_json::to_string(&notice).expect("json");
        assert!(!json.contains("Zx9!pass#Q2w"), "{json}");
        assert!(
            notice.on_clipboard || notice.problem.is_some(),
            "either copied or says why not"
        );
        let refused = handoffs.copy_again(&id, now).expect_err("expired");
        assert!(refused.message.contains("expired"), "{}", refused.message);
    }
}
