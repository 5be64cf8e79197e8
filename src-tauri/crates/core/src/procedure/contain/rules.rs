//! Inbox rules judged by intent: what a rule does to which mail, not how it is spelled.
//!
//! A rule is pre-selected when it hides itself (hidden from Outlook and from `Get-InboxRule`
//! without `-IncludeHidden`), sends mail outside the organisation's accepted domains, moves mail
//! to a folder people do not look at (RSS Feeds, RSS Subscriptions, Conversation History,
//! Archive, Junk Email, Deleted Items — or a sub-folder of one, in English, Dutch, German or
//! French), deletes or silently marks read mail about security, invoices, payments, banks or
//! passwords, or wears a name made only of dots, spaces, punctuation or invisible characters.
//! A rule that only files such mail where the user still sees it is shown, not pre-selected.
//! Every row starts with what the rule does, in words.

use std::collections::BTreeSet;

use firebreak_graph::{exchange::InboxRule, Error as GraphError, UserRef};

use crate::procedure::tenant::{Fetched, IncidentTenant};

/// Folders people rarely open, by their names in English, Dutch, German and French (Exchange
/// names a mailbox's default folders in the mailbox's language).
const HIDING_FOLDERS: [(&str, &str); 30] = [
    ("rss feeds", "RSS Feeds"),
    ("rss subscriptions", "RSS Subscriptions"),
    ("rss-feeds", "RSS Feeds"),
    ("rss-abonnementen", "RSS Subscriptions"),
    ("rss-abonnements", "RSS Subscriptions"),
    ("flux rss", "RSS Feeds"),
    ("abonnements rss", "RSS Subscriptions"),
    ("conversation history", "Conversation History"),
    ("gespreksgeschiedenis", "Conversation History"),
    ("unterhaltungsverlauf", "Conversation History"),
    ("historique des conversations", "Conversation History"),
    ("archive", "Archive"),
    ("archief", "Archive"),
    ("archiv", "Archive"),
    ("archives", "Archive"),
    ("junk email", "Junk Email"),
    ("junk e-mail", "Junk Email"),
    ("ongewenste e-mail", "Junk Email"),
    ("junk-e-mail", "Junk Email"),
    ("courrier indésirable", "Junk Email"),
    ("deleted items", "Deleted Items"),
    ("verwijderde items", "Deleted Items"),
    ("gelöschte elemente", "Deleted Items"),
    ("éléments supprimés", "Deleted Items"),
    ("sync issues", "Sync Issues"),
    ("synchronisatieproblemen", "Sync Issues"),
    ("synchronisierungsprobleme", "Sync Issues"),
    ("problèmes de synchronisation", "Sync Issues"),
    ("notes", "Notes"),
    ("outbox", "Outbox"),
];
/// Of those, the ones whose name alone, even deeper in the tree, is odd for a personal folder
/// (a personal "Archive" folder under the inbox is common, so Archive counts only at the top).
const HIDING_ANYWHERE: [&str; 5] = [
    "RSS Feeds",
    "RSS Subscriptions",
    "Conversation History",
    "Junk Email",
    "Deleted Items",
];

/// Words of the mail an attacker wants the user not to see: security notices, invoices and
/// payments, banks, passwords and MFA — in English, Dutch, German and French.
const SENSITIVE_WORDS: [&str; 58] = [
    // English
    "security",
    "invoice",
    "payment",
    "bank",
    "wire",
    "iban",
    "swift",
    "remittance",
    "transfer",
    "password",
    "mfa",
    "multi-factor",
    "2fa",
    "verify",
    "verification",
    "phishing",
    "hacked",
    "compromised",
    "suspicious",
    "fraud",
    "sign-in",
    // Dutch
    "factuur",
    "facturen",
    "betaling",
    "betalen",
    "rekeningnummer",
    "overboeking",
    "wachtwoord",
    "beveiliging",
    "gehackt",
    "verificatie",
    "verifiëren",
    // German
    "rechnung",
    "zahlung",
    "überweisung",
    "bankverbindung",
    "kennwort",
    "passwort",
    "sicherheit",
    "verifizierung",
    "bestätigen",
    "betrug",
    // French
    "facture",
    "paiement",
    "virement",
    "banque",
    "mot de passe",
    "sécurité",
    "piraté",
    "vérification",
    "vérifier",
    "hameçonnage",
    "fraude",
    // Spanish and Italian, the commonest others
    "factura",
    "pago",
    "contraseña",
    "fattura",
    "pagamento",
];
/// The junk-mail rule every mailbox has, which `-IncludeHidden` also lists.
const JUNK_RULE: &str = "Junk E-Mail Rule";
/// The automatic-reply rules Exchange keeps (`…InternalSenders.Global`,
/// `…KnownExternalSenders.Global`, `…AllExternalSenders.Global`).
const OOF_RULE_PREFIX: &str = "Microsoft.Exchange.OOF.";
/// The rule Outlook keeps for a calendar delegate: `Delegate Rule -<number>`.
const DELEGATE_RULE_PREFIX: &str = "Delegate Rule -";

/// The organisation's mail domains: forwarding there stays inside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Organisation {
    domains: Vec<String>,
}

impl Organisation {
    /// The organisation owning `domains` (accepted domains, lowercased).
    pub fn new(domains: impl IntoIterator<Item = String>) -> Self {
        let mut list: Vec<String> = domains
            .into_iter()
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        list.sort();
        list.dedup();
        Self { domains: list }
    }

    /// The account's own domain only (when the accepted domains cannot be read).
    pub fn of_account(account: &str) -> Self {
        Self::new(account.rsplit_once('@').map(|(_, d)| d.to_owned()))
    }

    /// The domains.
    pub fn domains(&self) -> &[String] {
        &self.domains
    }

    /// Whether `address` (an SMTP address, `smtp:` prefixed or in Exchange's `"Name"
    /// [SMTP:x@y]` form) is in a domain outside the organisation. Addresses without a domain
    /// (Exchange's internal `EX:` recipients) are inside.
    pub fn is_external(&self, address: &str) -> bool {
        domain_of(address).is_some_and(|d| {
            !self
                .domains
                .iter()
                .any(|o| d == *o || d.ends_with(&format!(".{o}")))
        })
    }
}

fn domain_of(address: &str) -> Option<String> {
    let at = address.rfind('@')?;
    let domain: String = address[at + 1..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    let domain = domain.trim_end_matches('.').to_lowercase();
    (!domain.is_empty()).then_some(domain)
}

/// The organisation of the account: its accepted domains (authoritative and internal relay),
/// plus the account's own domain. When they cannot be read, the account's domain alone, with a
/// warning.
pub async fn organisation<T: IncidentTenant>(
    tenant: &T,
    account: &str,
    warnings: &mut Vec<String>,
) -> Organisation {
    let own = account.rsplit_once('@').map(|(_, d)| d.to_owned());
    match tenant.accepted_domains().await {
        Ok(domains) => Organisation::new(
            domains
                .items
                .iter()
                .filter(|d| d.internal())
                .filter_map(|d| d.domain_name.clone())
                .chain(own),
        ),
        Err(e) => {
            warnings.push(format!(
                "The organisation's accepted domains could not be read, so only {} counts as inside when judging forwarding: {e}",
                own.as_deref().unwrap_or("the account's domain")
            ));
            Organisation::of_account(account)
        }
    }
}

/// A mailbox's inbox rules, hidden ones included, and which of them are hidden.
#[derive(Debug, Clone)]
pub struct MailboxRules {
    /// Every rule (Get-InboxRule -IncludeHidden), with the raw pages.
    pub rules: Fetched<InboxRule>,
    /// Identities of the hidden ones; `None` when the default listing could not be read.
    pub hidden: Option<BTreeSet<String>>,
}

impl MailboxRules {
    /// Whether `rule` is hidden (`false` when that could not be told).
    pub fn is_hidden(&self, rule: &InboxRule) -> bool {
        self.hidden_state(rule) == Some(true)
    }

    /// Whether `rule` is hidden, `None` when that could not be told.
    pub fn hidden_state(&self, rule: &InboxRule) -> Option<bool> {
        self.hidden
            .as_ref()
            .map(|h| rule_key(rule).is_some_and(|k| h.contains(&k)))
    }

    /// Whether `rule` is one Exchange itself keeps in the mailbox (see [`builtin_rule`]).
    pub fn is_builtin(&self, rule: &InboxRule) -> bool {
        builtin_rule(rule, self.hidden_state(rule))
    }
}

/// Whether `name` is one Exchange gives its own rules: the junk-mail rule, an automatic-reply
/// rule, or Outlook's calendar-delegate rule (spec/exchange.md, "Hidden system rules").
pub fn system_rule_name(name: &str) -> bool {
    let name = name.trim();
    name.eq_ignore_ascii_case(JUNK_RULE)
        || name.starts_with(OOF_RULE_PREFIX)
        || name
            .strip_prefix(DELEGATE_RULE_PREFIX)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Whether the rule does anything Get-InboxRule can show: forward, redirect, delete, move,
/// copy or mark read.
fn acts(rule: &InboxRule) -> bool {
    !rule.forward_to.is_empty()
        || !rule.forward_as_attachment_to.is_empty()
        || !rule.redirect_to.is_empty()
        || rule.delete_message == Some(true)
        || rule.soft_delete_message == Some(true)
        || rule.move_to_folder.is_some()
        || rule.copy_to_folder.is_some()
        || rule.mark_as_read == Some(true)
}

/// Whether a rule is one Exchange keeps in every mailbox rather than anyone's artefact: a
/// system name, hidden (or hidden-ness unknown), and none of the actions Get-InboxRule shows
/// (the built-in ones do their job through actions it cannot express). A rule wearing such a
/// name that forwards, deletes or moves mail is not one of them and is judged like any other.
pub fn builtin_rule(rule: &InboxRule, hidden: Option<bool>) -> bool {
    hidden != Some(false) && system_rule_name(rule.name.as_deref().unwrap_or("")) && !acts(rule)
}

fn rule_key(rule: &InboxRule) -> Option<String> {
    rule.identity.clone().or_else(|| {
        rule.rule_identity.as_ref().map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    })
}

/// Reads a mailbox's rules twice — with and without `-IncludeHidden` — to tell which are
/// hidden. A failure of the second read leaves `hidden` unknown and adds a warning.
pub async fn read_rules<T: IncidentTenant>(
    tenant: &T,
    mailbox: &UserRef,
    warnings: &mut Vec<String>,
) -> Result<MailboxRules, GraphError> {
    let rules = tenant.inbox_rules(mailbox).await?;
    let hidden = match tenant.visible_inbox_rules(mailbox).await {
        Ok(visible) => {
            let shown: BTreeSet<String> = visible.items.iter().filter_map(rule_key).collect();
            Some(
                rules
                    .items
                    .iter()
                    .filter_map(rule_key)
                    .filter(|k| !shown.contains(k))
                    .collect(),
            )
        }
        Err(e) => {
            warnings.push(format!(
                "Which inbox rules of {} are hidden could not be told: {e}",
                mailbox.as_str()
            ));
            None
        }
    };
    Ok(MailboxRules { rules, hidden })
}

/// What a rule is judged against besides itself.
#[derive(Debug, Clone, Copy)]
pub struct RuleContext<'a> {
    /// The organisation's domains.
    pub organisation: &'a Organisation,
    /// The rule is hidden.
    pub hidden: bool,
}

/// Where a rule moves mail, when that is a folder people rarely open: its usual English name
/// and whether the rule's folder is a sub-folder of it.
fn hiding_folder(folder: &str) -> Option<(&'static str, bool)> {
    // Exchange writes "alias:\Folder\Sub"; Graph and people write "Folder/Sub".
    let path = folder.split_once(":\\").map_or(folder, |(_, p)| p);
    let segments: Vec<String> = path
        .split(['\\', '/'])
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let known = |s: &str| {
        HIDING_FOLDERS
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, english)| *english)
    };
    if let Some(root) = segments.first().and_then(|s| known(s)) {
        return Some((root, segments.len() > 1));
    }
    segments.iter().enumerate().skip(1).find_map(|(i, s)| {
        known(s)
            .filter(|e| HIDING_ANYWHERE.contains(e))
            .map(|e| (e, i + 1 < segments.len()))
    })
}

/// A name of at most two letters or digits ("x", "a1", "."): what a person in a hurry to hide
/// something types, not what someone naming a rule they will look at again does.
fn throwaway_name(s: &str) -> bool {
    s.chars().filter(|c| c.is_alphanumeric()).count() <= 2
}

fn visible_text(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

fn invisible(c: char) -> bool {
    matches!(c, '\u{00ad}' | '\u{034f}' | '\u{061c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{3164}' | '\u{feff}' | '\u{ffa0}')
}

fn quoted(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an inbox rule is recommended for removal, and why: the first line says what the
/// rule does; the flags that decided follow; notes come last.
pub fn judge_rule(rule: &InboxRule, cx: &RuleContext<'_>) -> (bool, Vec<String>) {
    let mut flags: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let name = rule.name.as_deref().unwrap_or("");

    // Which mail.
    let words: Vec<String> = rule
        .subject_contains_words
        .iter()
        .chain(&rule.body_contains_words)
        .chain(&rule.subject_or_body_contains_words)
        .chain(&rule.from_address_contains_words)
        .cloned()
        .collect();
    let sensitive: Vec<String> = words
        .iter()
        .filter(|w| {
            let w = w.to_lowercase();
            SENSITIVE_WORDS.iter().any(|k| w.contains(k))
        })
        .cloned()
        .collect();
    let everything = words.is_empty() && rule.from.is_empty();
    let subject = if !sensitive.is_empty() {
        format!("mail with {}", quoted(&sensitive))
    } else if !words.is_empty() {
        format!("mail with {}", quoted(&words))
    } else if !rule.from.is_empty() {
        format!("mail from {}", rule.from.join(", "))
    } else {
        "every message".to_owned()
    };

    // What it does with it.
    // Each action as (verb, what follows the mail it acts on).
    let mut doing: Vec<(&str, String)> = Vec::new();
    for (list, verb, how) in [
        (&rule.forward_to, "forwards", "to"),
        (
            &rule.forward_as_attachment_to,
            "forwards",
            "as an attachment to",
        ),
        (&rule.redirect_to, "redirects", "to"),
    ] {
        let (outside, inside): (Vec<&String>, Vec<&String>) =
            list.iter().partition(|a| cx.organisation.is_external(a));
        if !outside.is_empty() {
            let to = outside
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            doing.push((verb, format!("{how} {to}, outside the organisation")));
            flags.push(format!(
                "Sends mail outside the organisation's domains ({to})."
            ));
        }
        if !inside.is_empty() {
            let to = inside
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            doing.push((verb, format!("{how} {to}")));
            notes.push(format!("Forwards inside the organisation ({to})."));
        }
    }
    let deletes = rule.delete_message == Some(true) || rule.soft_delete_message == Some(true);
    let mut moves_to_deleted = false;
    if let Some(folder) = rule.move_to_folder.as_deref() {
        let shown = folder.split_once(":\\").map_or(folder, |(_, p)| p);
        doing.push(("moves", format!("to {shown}")));
        match hiding_folder(folder) {
            Some((well_known, sub)) => {
                moves_to_deleted = well_known == "Deleted Items";
                flags.push(if sub {
                    format!("Moves mail to a sub-folder of {well_known}, where people rarely look.")
                } else {
                    format!("Moves mail to {well_known}, a folder people rarely look at.")
                });
            }
            None => {
                let leaf = shown.rsplit(['\\', '/']).next().unwrap_or(shown);
                if !visible_text(leaf) {
                    flags.push(format!(
                        "Moves mail to a folder whose name (\"{leaf}\") has no letters or digits."
                    ));
                }
            }
        }
    }
    if deletes {
        doing.push(("deletes", String::new()));
        if !sensitive.is_empty() {
            flags.push(format!(
                "Deletes mail about {}: the user never sees it.",
                quoted(&sensitive)
            ));
        } else if everything {
            flags.push("Deletes every incoming message.".into());
        } else if throwaway_name(name) {
            flags.push(format!(
                "Deletes {subject} before the user sees it, under a throwaway name (\"{name}\"): attackers use this to hide replies from the people they write to."
            ));
        } else {
            // People also delete unwanted senders this way; without a sign of the attacker the
            // rule is shown with the question, not preselected.
            notes.push(format!(
                "Deletes {subject} before the user sees it. Attackers use this to hide replies from the people they write to, and people use it to drop unwanted mail: ask the user whether they set it up."
            ));
        }
    }
    if rule.mark_as_read == Some(true) {
        doing.push(("marks", "read".into()));
        if !sensitive.is_empty() {
            flags.push(format!(
                "Marks mail about {} read, so it does not catch the user's eye.",
                quoted(&sensitive)
            ));
        }
    }
    if moves_to_deleted && !sensitive.is_empty() && !deletes {
        flags.push(format!(
            "Sends mail about {} straight to Deleted Items.",
            quoted(&sensitive)
        ));
    }
    if !sensitive.is_empty() && !flags.is_empty() {
        flags.push(format!(
            "It targets {}: the words of security notices, invoices, payments and passwords.",
            quoted(&sensitive)
        ));
    } else if !sensitive.is_empty() {
        notes.push(format!(
            "Looks for {}, but only files that mail where the user still sees it; on its own this does not make it suspicious.",
            quoted(&sensitive)
        ));
    }

    // How it presents itself.
    if cx.hidden {
        if builtin_rule(rule, Some(true)) {
            notes.push("Hidden, but it is one of the rules Exchange keeps in every mailbox and does nothing else Firebreak can read.".into());
        } else {
            flags.push(
                "Hidden: Outlook and Get-InboxRule do not show it unless asked for hidden rules."
                    .into(),
            );
        }
    }
    if system_rule_name(name) && acts(rule) {
        flags.push(format!(
            "It wears the name of a rule Exchange keeps in every mailbox (\"{name}\"), but that rule never forwards, redirects, deletes, moves or marks mail: this one does."
        ));
    }
    if !visible_text(name) {
        flags.push(format!(
            "Its name (\"{name}\") is made only of dots, spaces, punctuation or invisible characters."
        ));
    } else if name.chars().any(invisible) {
        flags.push("Its name contains invisible or direction-control characters.".into());
    }
    if rule.enabled == Some(false) {
        notes.push("Currently disabled.".into());
    }

    // The first line: what it does, in words.
    let summary = if doing.is_empty() {
        format!("Matches {subject} but does nothing Firebreak can read.")
    } else {
        let mut parts = doing.into_iter().enumerate().map(|(i, (verb, rest))| {
            let object = if i == 0 { subject.as_str() } else { "it" };
            if rest.is_empty() {
                format!("{verb} {object}")
            } else {
                format!("{verb} {object} {rest}")
            }
        });
        let first = parts.next().unwrap_or_default();
        let mut sentence = capitalise(&first);
        for p in parts {
            sentence.push_str(", ");
            sentence.push_str(&p);
        }
        sentence.push('.');
        sentence
    };
    let recommended = !flags.is_empty();
    let mut reasons = vec![summary];
    reasons.extend(flags);
    if !recommended && !deletes {
        notes.push("Nothing suspicious found: it files mail where the user can see it.".into());
    }
    reasons.extend(notes);
    (recommended, reasons)
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(name: &str) -> InboxRule {
        serde_json::from_value(json!({ "Name": name, "Identity": "x", "Enabled": true }))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn org() -> Organisation {
        Organisation::new([
            "contoso.onmicrosoft.com".to_owned(),
            "contoso.com".to_owned(),
        ])
    }

    fn judge(r: &InboxRule) -> (bool, Vec<String>) {
        judge_rule(
            r,
            &RuleContext {
                organisation: &org(),
                hidden: false,
            },
        )
    }

    #[test]
    fn a_rule_moving_invoice_mail_to_rss_feeds_and_marking_it_read_says_so_in_words() {
        let mut r = rule("Sync");
        r.move_to_folder = Some("megan:\\RSS Feeds".into());
        r.mark_as_read = Some(true);
        r.subject_or_body_contains_words = vec!["invoice".into()];
        let (flagged, reasons) = judge(&r);
        assert!(flagged);
        assert_eq!(
            reasons[0], "Moves mail with 'invoice' to RSS Feeds, marks it read.",
            "{reasons:?}"
        );
        assert!(reasons
            .iter()
            .any(|x| x.contains("Marks mail about 'invoice' read")));
    }

    #[test]
    fn a_hidden_rule_is_flagged_and_the_mailboxs_junk_rule_is_not() {
        let mut r = rule("Inbox cleanup");
        r.move_to_folder = Some("megan:\\Newsletters".into());
        let hidden = RuleContext {
            organisation: &org(),
            hidden: true,
        };
        let (flagged, reasons) = judge_rule(&r, &hidden);
        assert!(flagged);
        assert!(
            reasons.iter().any(|x| x.starts_with("Hidden")),
            "{reasons:?}"
        );
        let junk = rule(JUNK_RULE);
        assert!(!judge_rule(&junk, &hidden).0);
        let mut disguised = rule(JUNK_RULE);
        disguised.forward_to = vec!["drop@protonmail.example".into()];
        assert!(
            judge_rule(&disguised, &hidden).0,
            "the name alone does not excuse it"
        );
    }

    #[test]
    fn the_rules_exchange_keeps_are_built_in_only_while_hidden_and_doing_nothing_they_never_do() {
        let hidden = RuleContext {
            organisation: &org(),
            hidden: true,
        };
        for name in [
            "Junk E-Mail Rule",
            "Junk E-mail Rule",
            "Microsoft.Exchange.OOF.InternalSenders.Global",
            "Microsoft.Exchange.OOF.AllExternalSenders.Global",
            "Delegate Rule -283947561",
        ] {
            let r = rule(name);
            assert!(builtin_rule(&r, Some(true)), "{name}");
            assert!(builtin_rule(&r, None), "hidden-ness unknown: {name}");
            assert!(
                !builtin_rule(&r, Some(false)),
                "a visible one is someone's own: {name}"
            );
            assert!(!judge_rule(&r, &hidden).0, "{name}");
        }
        for name in [
            "Delegate Rule -x",
            "Delegate Rule -",
            "Junk E-Mail Rule 2",
            "OOF",
        ] {
            assert!(!system_rule_name(name), "{name}");
        }
        let mut look_alike = rule("Microsoft.Exchange.OOF.KnownSenders");
        look_alike.move_to_folder = Some("priya:\\RSS Feeds".into());
        assert!(!builtin_rule(&look_alike, Some(true)));
        let (flagged, reasons) = judge_rule(&look_alike, &hidden);
        assert!(flagged);
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("wears the name of a rule Exchange keeps")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_sub_folder_of_conversation_history_is_a_hiding_place() {
        let mut r = rule("..");
        r.move_to_folder = Some("priya:\\Conversation History\\Sync".into());
        r.subject_or_body_contains_words = vec!["betaling".into(), "invoice".into()];
        let (flagged, reasons) = judge(&r);
        assert!(flagged);
        assert!(
            reasons
                .iter()
                .any(|x| x.contains("sub-folder of Conversation History")),
            "{reasons:?}"
        );
        assert!(
            reasons.iter().any(|x| x.contains("made only of dots")),
            "{reasons:?}"
        );
        assert!(reasons[0].contains("'betaling', 'invoice'"), "{reasons:?}");
    }

    #[test]
    fn localised_hiding_folders_are_recognised() {
        for folder in [
            "anna:\\Gespreksgeschiedenis",
            "anna:\\RSS-Feeds\\x",
            "anna:\\Archiv",
            "anna:\\Éléments supprimés",
        ] {
            let mut r = rule("Regel");
            r.move_to_folder = Some(folder.into());
            assert!(judge(&r).0, "{folder}");
        }
    }

    #[test]
    fn a_newsletter_rule_moving_to_a_newsletters_folder_is_kept() {
        let mut r = rule("Newsletters");
        r.from = vec!["news@example.org".into()];
        r.move_to_folder = Some("megan:\\Newsletters".into());
        let (flagged, reasons) = judge(&r);
        assert!(!flagged, "{reasons:?}");
        assert_eq!(
            reasons[0],
            "Moves mail from news@example.org to Newsletters."
        );
    }

    #[test]
    fn forwarding_to_a_colleague_in_another_accepted_domain_is_kept_and_outside_is_flagged() {
        let mut inside = rule("Copy to manager");
        inside.forward_to = vec![
            "boss@contoso.com".into(),
            "\"Desk\" [EX:/o=ExchangeLabs/cn=desk]".into(),
        ];
        assert!(!judge(&inside).0);
        let mut outside = rule("wire");
        outside.redirect_to = vec!["\"Pay\" [SMTP:pay@contoso.com.example]".into()];
        let (flagged, reasons) = judge(&outside);
        assert!(flagged, "a look-alike domain is outside");
        assert!(
            reasons[0].starts_with("Redirects every message to"),
            "{reasons:?}"
        );
        let only_tenant = Organisation::of_account("megan@contoso.onmicrosoft.com");
        assert!(only_tenant.is_external("boss@contoso.com"));
    }

    #[test]
    fn an_invoice_filing_rule_from_a_known_supplier_is_kept() {
        let mut r = rule("Invoices from Fabrikam");
        r.from = vec!["billing@fabrikam.example".into()];
        r.subject_contains_words = vec!["Invoice".into()];
        r.move_to_folder = Some("megan:\\Finance".into());
        let (flagged, reasons) = judge(&r);
        assert!(!flagged, "{reasons:?}");
        assert!(
            reasons.iter().any(|x| x.contains("only files that mail")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_rule_named_archive_moving_old_project_mail_to_projects_is_kept() {
        let mut r = rule("Archive 2024");
        r.subject_contains_words = vec!["Project Falcon".into()];
        r.move_to_folder = Some("megan:\\Projects".into());
        assert!(!judge(&r).0);
        let mut personal = rule("Old stuff");
        personal.move_to_folder = Some("megan:\\Inbox\\Archive".into());
        assert!(
            !judge(&personal).0,
            "a personal Archive folder under the inbox is not the Archive folder"
        );
    }

    #[test]
    fn deleting_or_marking_read_security_mail_in_other_languages_is_flagged() {
        for word in [
            "Wachtwoord",
            "Rechnung",
            "mot de passe",
            "MFA",
            "Sicherheit",
            "paiement",
            "phishing",
        ] {
            let mut r = rule("Opruimen");
            r.subject_contains_words = vec![word.into()];
            r.delete_message = Some(true);
            assert!(judge(&r).0, "{word}");
            let mut read = rule("Gelesen");
            read.body_contains_words = vec![word.into()];
            read.mark_as_read = Some(true);
            assert!(judge(&read).0, "{word}");
        }
        let mut vendors = rule("x");
        vendors.from = vec!["ar@fabrikam.example".into()];
        vendors.delete_message = Some(true);
        let (flagged, reasons) = judge(&vendors);
        assert!(
            flagged,
            "deleting a correspondent's mail hides their replies"
        );
        assert_eq!(reasons[0], "Deletes mail from ar@fabrikam.example.");
        let mut unwanted = rule("Promotions");
        unwanted.from = vec!["deals@shop.example".into()];
        unwanted.delete_message = Some(true);
        let (flagged, reasons) = judge(&unwanted);
        assert!(
            !flagged,
            "a named rule dropping one unwanted sender is asked about, not preselected: {reasons:?}"
        );
        assert!(
            reasons.iter().any(|r| r.contains("ask the user")),
            "{reasons:?}"
        );
        let mut cleanup = rule("Cleanup");
        cleanup.from = vec!["ar@fabrikam.example".into()];
        cleanup.subject_contains_words = vec!["invoice".into()];
        cleanup.delete_message = Some(true);
        assert!(
            judge(&cleanup).0,
            "a well-named rule deleting invoice mail is still found"
        );
        let mut filing = rule("Fabrikam");
        filing.from = vec!["ar@fabrikam.example".into()];
        filing.move_to_folder = Some("megan:\\Suppliers".into());
        assert!(!judge(&filing).0, "filing the same mail is not");
    }

    #[test]
    fn look_alike_names_are_flagged_and_short_real_names_are_not() {
        for name in ["..", ". .", "---", "\u{200b}", " \u{00a0} ", "'"] {
            let mut r = rule(name);
            r.move_to_folder = Some("megan:\\Newsletters".into());
            let (flagged, reasons) = judge(&r);
            assert!(flagged, "{name:?}");
            assert!(
                reasons.iter().any(|x| x.contains("made only of")),
                "{reasons:?}"
            );
        }
        let mut it = rule("IT");
        it.from = vec!["servicedesk@contoso.com".into()];
        it.move_to_folder = Some("megan:\\IT".into());
        assert!(!judge(&it).0);
        let rtl = rule("Microsoft Outlook Sync\u{202e}");
        assert!(judge(&rtl).0);
    }
}
