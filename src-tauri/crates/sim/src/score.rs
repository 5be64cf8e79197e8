//! The score of a practice: the response held against the scenario's answer key — which of the
//! attacker's artefacts are gone, which look-alikes were wrongly removed, what the attacker still
//! holds on each account, and what it took before the exercise began.
//!
//! `GET /_sim/score` answers this as JSON (camelCase, as below); a process that holds the
//! simulator reads it typed through [`crate::SimServer::score`]. Reading it is the same in both
//! places: every field has a default, so a score from an older simulator reads as "nothing".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::scenario::{ArtefactKind, LegitimateAddress, Loss};

/// The whole score.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Score {
    /// The scenario's name.
    pub scenario: String,
    /// The kind of compromise it plays (`aitm`, `mfaFatigue`, ...).
    pub kind: String,
    /// The simulated time the score was taken at.
    #[serde(with = "time")]
    pub now: Option<DateTime<Utc>>,
    /// The attacker's artefacts: the answer key's and those it added while the responder worked.
    pub attacker_artefacts: AttackerArtefacts,
    /// The legitimate look-alikes.
    pub legitimate_artefacts: LegitimateArtefacts,
    /// Whether the attacker got back in after losing access.
    pub attacker_regained_access: bool,
    /// Whether the attacker still holds anything on any account (see `attacker_access`).
    pub attacker_has_access: bool,
    /// Per account, what the attacker still holds: every compromised account (with no holds
    /// when nothing is left) and any other account where it holds something.
    pub attacker_access: Vec<Foothold>,
    /// When the last access token that outlives its revoked session stops working.
    #[serde(with = "time")]
    pub attacker_token_until: Option<DateTime<Utc>>,
    /// The containment steps taken on each compromised account, from the change log.
    pub containment: Vec<Containment>,
    /// Messages the attacker's forwarding sent out during the exercise.
    pub mail_forwarded_out: u64,
    /// Mail items the attacker read during the exercise.
    pub mail_items_read_by_attacker: u64,
    /// What the attacker did, as its model wrote it (`at`, `userId`, `action`, `detail`).
    pub attacker_log: Vec<Value>,
    /// The scenario author's notes.
    pub notes: String,
    /// The whole answer key, each artefact with whether it is still in the tenant.
    pub answer_key: KeyView,
}

/// The attacker's artefacts, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AttackerArtefacts {
    /// In the answer key plus added during the exercise.
    pub total: usize,
    /// How many of them are gone.
    pub removed: usize,
    /// Those still in the tenant.
    pub remaining: Vec<Artefact>,
    /// Those the attacker added while the responder worked.
    pub added_during_exercise: Vec<Artefact>,
}

/// The legitimate look-alikes, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegitimateArtefacts {
    /// In the answer key.
    pub total: usize,
    /// Those the response removed (should be none).
    pub removed: Vec<Artefact>,
}

/// One artefact, as the answer key names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artefact {
    /// What kind of object it is.
    pub kind: ArtefactKind,
    /// The user or mailbox it belongs to, where it belongs to one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Its id in the tenant.
    pub id: String,
    /// What it is, in words.
    #[serde(default)]
    pub description: String,
}

/// One artefact of the answer key with whether it is still in the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyArtefact {
    /// The artefact.
    #[serde(flatten)]
    pub artefact: Artefact,
    /// Whether it is still there (read as "still there" when a score leaves it out, so a
    /// debrief points at it rather than passing over it).
    #[serde(default = "still_there")]
    pub present: bool,
}

fn still_there() -> bool {
    true
}

/// The answer key as the score shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyView {
    /// The attacker's artefacts, including those added during the exercise.
    pub attacker: Vec<KeyArtefact>,
    /// The legitimate look-alikes (and legitimate accounts, kind `user`).
    pub legitimate: Vec<KeyArtefact>,
    /// Addresses legitimate users sign in from.
    pub legitimate_addresses: Vec<LegitimateAddress>,
    /// What the attacker took before the exercise began.
    pub lost: Vec<Loss>,
}

/// What the attacker holds on one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Foothold {
    /// The account's object id.
    pub user_id: String,
    /// Its user principal name (empty when the account is gone).
    pub user_principal_name: String,
    /// Each thing held.
    pub holds: Vec<Hold>,
    /// The mailboxes the account's delegate rights open to whoever holds its session or token
    /// (listed only while one is alive).
    pub reaches: Vec<Reach>,
}

/// One thing the attacker holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    /// What it is.
    pub kind: HoldKind,
    /// In plain words.
    pub detail: String,
    /// For an access token: when it stops working.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time")]
    pub until: Option<DateTime<Utc>>,
    /// For an app's token or consent: the app's service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_id: Option<String>,
    /// For a sign-in method: its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Hold {
    pub(crate) fn new(kind: HoldKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            until: None,
            service_principal_id: None,
            id: None,
        }
    }
}

/// The kinds of thing the attacker can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HoldKind {
    /// A session whose refresh token still works.
    Session,
    /// An access token issued before the session ended, until it expires.
    AccessToken,
    /// An app still reading with the user's refresh token.
    AppToken,
    /// A consent that gives the app a new token without a prompt.
    AppConsent,
    /// A password the attacker knows that still works.
    Password,
    /// A sign-in method of the attacker's on an enabled account.
    AuthenticationMethod,
}

/// A mailbox the account's delegate rights open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reach {
    /// The mailbox's user principal name.
    pub mailbox: String,
    /// The rights held on it (`FullAccess`, `SendAs`).
    pub rights: Vec<String>,
}

/// The containment steps taken on one compromised account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Containment {
    /// The account's object id.
    pub user_id: String,
    /// When its sessions were first revoked.
    #[serde(with = "time")]
    pub sessions_revoked_at: Option<DateTime<Utc>>,
    /// When it was first disabled.
    #[serde(with = "time")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// When its password was first reset.
    #[serde(with = "time")]
    pub password_reset_at: Option<DateTime<Utc>>,
    /// Whether the password was reset before the sessions were revoked (or never revoked).
    pub reset_before_revoke: bool,
    /// Whether the attacker's session on it is alive.
    pub attacker_has_session: bool,
}

/// Times as the simulator writes them everywhere (`2025-03-12T23:55:00Z`).
mod time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&crate::clock::graph_time(*t)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(text) => crate::clock::parse_time(&text)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not a time: {text}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_score_reads_back_what_it_wrote_and_an_empty_one_reads_as_nothing() {
        let score = Score {
            attacker_token_until: crate::clock::parse_time("2025-03-13T00:55:00Z"),
            attacker_access: vec![Foothold {
                user_id: "u1".into(),
                holds: vec![Hold {
                    kind: HoldKind::AccessToken,
                    detail: "a token".into(),
                    until: crate::clock::parse_time("2025-03-13T00:55:00Z"),
                    service_principal_id: None,
                    id: None,
                }],
                ..Foothold::default()
            }],
            ..Score::default()
        };
        let wire = serde_json::to_value(&score).unwrap();
        assert_eq!(wire["attackerTokenUntil"], json!("2025-03-13T00:55:00Z"));
        assert_eq!(
            wire["attackerAccess"][0]["holds"][0],
            json!({"kind": "accessToken", "detail": "a token", "until": "2025-03-13T00:55:00Z"})
        );
        assert_eq!(serde_json::from_value::<Score>(wire).unwrap(), score);
        assert_eq!(
            serde_json::from_value::<Score>(json!({})).unwrap(),
            Score::default()
        );
    }
}
