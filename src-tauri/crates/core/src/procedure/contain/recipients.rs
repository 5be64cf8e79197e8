//! Who the names in a mailbox's settings are.
//!
//! Exchange refers to people by their `Name`: for objects made since 2023 that is the directory
//! object id (a GUID), before that an alias or a display name. `ForwardingAddress` can name a
//! mail contact whose mail leaves the organisation, and permission holders can be groups or the
//! security identifier (`S-1-5-21-…`) a deleted account left behind. Every such reference is
//! resolved with Get-Recipient before it is shown or judged, and one that cannot be resolved is
//! shown as "could not be resolved: <raw>" (spec/exchange.md, "Identities").

use std::collections::BTreeMap;

use firebreak_graph::exchange::{Mailbox, Recipient};

use super::rules::Organisation;
use crate::procedure::tenant::IncidentTenant;

/// At most this many Get-Recipient look-ups per plan; a mailbox rarely names more people.
const MAX_LOOKUPS: usize = 40;

/// What a reference turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// An SMTP address as written; judged by its domain.
    Address(String),
    /// A mailbox of the organisation.
    Person {
        /// Its display name.
        name: String,
        /// Its primary SMTP address.
        address: Option<String>,
    },
    /// A mail contact or mail user: mail sent to it goes to `external`.
    Contact {
        /// Its display name.
        name: String,
        /// Where its mail goes.
        external: String,
    },
    /// A mail-enabled group: everyone in it holds what it holds.
    Group {
        /// Its display name.
        name: String,
        /// Its primary SMTP address.
        address: Option<String>,
    },
    /// Exchange's own principal (`NT AUTHORITY\SELF`).
    System,
    /// Nothing Firebreak could resolve, and why.
    Unresolved(String),
}

/// A reference as Exchange wrote it and who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The text Exchange returned (what a removal must send back).
    pub raw: String,
    /// Who it is.
    pub who: Who,
}

impl Resolved {
    /// How the row names it: a person by name and address, an unresolvable one as such.
    pub fn label(&self) -> String {
        let with = |name: &str, address: &Option<String>| match address {
            Some(a) if !a.eq_ignore_ascii_case(name) => format!("{name} <{a}>"),
            _ => name.to_owned(),
        };
        match &self.who {
            Who::Address(a) => a.clone(),
            Who::Person { name, address } => with(name, address),
            Who::Contact { name, external } => {
                format!("{name} (mail contact, mail goes to {external})")
            }
            Who::Group { name, address } => format!("Group {}", with(name, address)),
            Who::System => self.raw.clone(),
            Who::Unresolved(_) => format!("could not be resolved: {}", self.raw),
        }
    }

    /// The address mail to it is delivered to, to judge inside or outside by.
    pub fn address(&self) -> Option<&str> {
        match &self.who {
            Who::Address(a) => Some(a),
            Who::Person { address, .. } | Who::Group { address, .. } => address.as_deref(),
            Who::Contact { external, .. } => Some(external),
            Who::System | Who::Unresolved(_) => None,
        }
    }

    /// Whether it is outside the organisation.
    pub fn external(&self, organisation: &Organisation) -> bool {
        self.address().is_some_and(|a| organisation.is_external(a))
    }

    /// One line saying what was found, when that is more than its address: a contact's real
    /// destination, a group, or why it could not be resolved.
    pub fn explanation(&self) -> Option<String> {
        match &self.who {
            Who::Contact { external, .. } => Some(format!(
                "{} is a mail contact: mail sent to it goes to {external}.",
                self.raw
            )),
            Who::Group { .. } => Some(format!(
                "{} is a group: everyone in it holds this. Check its members in the Microsoft 365 admin center (Teams & groups).",
                self.raw
            )),
            Who::Unresolved(why) => Some(format!("Could not be resolved: {} ({why}).", self.raw)),
            Who::Address(_) | Who::Person { .. } | Who::System => None,
        }
    }
}

/// The references of one plan, each resolved once.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    known: BTreeMap<String, Who>,
}

impl Directory {
    /// Who `raw` is (unresolved when it was not looked up).
    pub fn get(&self, raw: &str) -> Resolved {
        let who = self
            .known
            .get(&key(raw))
            .cloned()
            .or_else(|| without_lookup(raw))
            .unwrap_or_else(|| Who::Unresolved("it was not looked up".into()));
        Resolved {
            raw: raw.to_owned(),
            who,
        }
    }
}

fn key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// What a reference is when its form alone says it: an address, Exchange's own principal or a
/// security identifier (which no directory object has any more once Exchange shows it raw).
fn without_lookup(raw: &str) -> Option<Who> {
    let text = raw.trim();
    if text.to_uppercase().starts_with("NT AUTHORITY\\") {
        return Some(Who::System);
    }
    if is_sid(text) {
        return Some(Who::Unresolved(
            "a security identifier no account or group has any more: what a deleted account leaves behind".into(),
        ));
    }
    let bare = text
        .split_once(':')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("smtp"))
        .map_or(text, |(_, rest)| rest);
    let address = bare.contains('@') && !bare.contains(char::is_whitespace);
    address.then(|| Who::Address(bare.to_owned()))
}

/// A Windows security identifier (`S-1-5-21-…`).
fn is_sid(text: &str) -> bool {
    let (prefix, rest) = (text.get(..4), text.get(4..));
    prefix.is_some_and(|p| p.eq_ignore_ascii_case("S-1-"))
        && rest.is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_digit() || c == '-'))
}

fn from_recipient(r: &Recipient, raw: &str) -> Who {
    let name = r
        .display_name
        .clone()
        .or_else(|| r.name.clone())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| raw.to_owned());
    let kind = r
        .recipient_type_details
        .as_deref()
        .or(r.recipient_type.as_deref())
        .unwrap_or_default();
    let address = r.primary_smtp_address.clone().filter(|a| !a.is_empty());
    if r.is_group() {
        Who::Group { name, address }
    } else if kind.contains("MailContact") || kind.contains("MailUser") {
        match r.delivery_address() {
            Some(external) => Who::Contact { name, external },
            None => Who::Person { name, address },
        }
    } else {
        Who::Person { name, address }
    }
}

/// Resolves every reference in `raws` that its form does not already explain, with one
/// Get-Recipient each. A failed look-up leaves that reference unresolved, with the reason.
pub async fn resolve<T: IncidentTenant>(tenant: &T, raws: &[String]) -> Directory {
    let mut directory = Directory::default();
    let mut looked = 0;
    for raw in raws {
        let k = key(raw);
        if k.is_empty() || directory.known.contains_key(&k) || without_lookup(raw).is_some() {
            continue;
        }
        let who = if looked >= MAX_LOOKUPS {
            Who::Unresolved("too many names in one mailbox to look each up".into())
        } else {
            looked += 1;
            match tenant.recipient(raw.trim()).await {
                Ok(Some(found)) => match found.items.first() {
                    Some(r) => from_recipient(r, raw),
                    None => Who::Unresolved("Exchange has no recipient by that name or id".into()),
                },
                Ok(None) => Who::Unresolved("Exchange has no recipient by that name or id".into()),
                Err(e) => Who::Unresolved(format!("looking it up failed: {e}")),
            }
        };
        directory.known.insert(k, who);
    }
    directory
}

/// The references a mailbox's own settings make: its internal forwarding target and its
/// send-on-behalf delegates.
pub fn mailbox_references(m: &Mailbox) -> Vec<String> {
    m.forwarding_address
        .iter()
        .chain(&m.grant_send_on_behalf_to)
        .cloned()
        .collect()
}

/// Mailbox-level forwarding, judged: where it goes, in words, and whether that is outside.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// The targets as the row names them.
    pub label: String,
    /// Whether any target is outside the organisation.
    pub external: bool,
    /// Why, one line each: the verdict first, then what resolving found.
    pub reasons: Vec<String>,
}

/// Judges a mailbox's forwarding (`ForwardingSmtpAddress` and the internal `ForwardingAddress`,
/// resolved through `directory`); `None` when it does not forward. `owners` names who to ask
/// ("the user", "the mailbox's owners").
pub fn judge_forwarding(
    m: &Mailbox,
    directory: &Directory,
    organisation: &Organisation,
    owners: &str,
) -> Option<Forwarding> {
    let targets: Vec<Resolved> = m
        .forwarding_smtp_address
        .iter()
        .chain(m.forwarding_address.iter())
        .filter(|t| !t.trim().is_empty())
        .map(|t| directory.get(t))
        .collect();
    if targets.is_empty() {
        return None;
    }
    let external = targets.iter().any(|t| t.external(organisation));
    let unresolved = targets.iter().any(|t| matches!(t.who, Who::Unresolved(_)));
    let mut reasons = vec![if external {
        "Forwards every message outside the organisation.".to_owned()
    } else if unresolved {
        format!("Firebreak could not tell where this forwarding goes: check the target with {owners} before deciding.")
    } else {
        format!("Forwards inside the organisation; check with {owners} before removing.")
    }];
    reasons.extend(targets.iter().filter_map(Resolved::explanation));
    Some(Forwarding {
        label: targets
            .iter()
            .map(Resolved::label)
            .collect::<Vec<_>>()
            .join(", "),
        external,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_system_principals_and_orphaned_sids_are_told_by_their_form() {
        let d = Directory::default();
        assert_eq!(
            d.get("smtp:drop@example.net").who,
            Who::Address("drop@example.net".into())
        );
        assert_eq!(d.get("NT AUTHORITY\\SELF").who, Who::System);
        let sid = d.get("S-1-5-21-3623811015-3361044348-30300820-1013");
        assert!(matches!(sid.who, Who::Unresolved(_)));
        assert_eq!(
            sid.label(),
            "could not be resolved: S-1-5-21-3623811015-3361044348-30300820-1013"
        );
        assert!(matches!(
            d.get("6b9c1d2e-0f3a-4b5c-8d7e-9f0a1b2c3d4e").who,
            Who::Unresolved(_)
        ));
    }

    #[test]
    fn a_mail_contact_is_judged_by_where_its_mail_goes() {
        let contact: Recipient = serde_json::from_value(serde_json::json!({
            "Name": "Priya (home)", "DisplayName": "Priya (home)",
            "PrimarySmtpAddress": "priya.home@mailbox.example",
            "ExternalEmailAddress": "SMTP:priya.home@mailbox.example",
            "RecipientTypeDetails": "MailContact"
        }))
        .unwrap();
        let who = from_recipient(&contact, "Priya (home)");
        let resolved = Resolved {
            raw: "Priya (home)".into(),
            who,
        };
        let org = Organisation::new(["contoso.example".to_owned()]);
        assert!(resolved.external(&org));
        assert_eq!(
            resolved.label(),
            "Priya (home) (mail contact, mail goes to priya.home@mailbox.example)"
        );
    }
}
