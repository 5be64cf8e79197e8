//! Apps and consents, judged the same way by triage, the consent step and the blast-radius check:
//! which tenant-wide consents (and application permissions) the compromised account gave, read
//! from the directory audit log rather than from the account's own grants, and which apps look
//! like imitations — a display name mixing Latin letters with Cyrillic or Greek look-alikes, an
//! app using Microsoft's name without being Microsoft's, or an unverified publisher holding mail
//! or file permissions.
//!
//! Kept on purpose: Microsoft's own first-party apps (published from Microsoft's tenant), a
//! verified publisher's app with mail permissions, and a name written wholly in one non-Latin
//! script (a Japanese or Russian app name is not an imitation).

use chrono::{DateTime, Utc};
use firebreak_graph::{
    directory::{OAuth2PermissionGrant, ServicePrincipal},
    logs::DirectoryAudit,
};
use serde_json::Value;

use super::triage::RISKY_SCOPES;

/// Microsoft's own tenant: the `appOwnerOrganizationId` of its first-party apps.
pub const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Names of Microsoft and its products that an imitation borrows, compared on the folded name.
const BRANDS: [&str; 11] = [
    "microsoft",
    "office",
    "outlook",
    "onedrive",
    "sharepoint",
    "teams",
    "exchange",
    "azure",
    "entra",
    "m365",
    "o365",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c as u32 {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xC0..=0x24F
        | 0x1E00..=0x1EFF
        | 0xFF21..=0xFF3A
        | 0xFF41..=0xFF5A => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        _ => Script::Other,
    }
}

/// The Latin letter a Cyrillic, Greek or full-width character is drawn like, if any.
fn look_alike(c: char) -> Option<char> {
    let folded = match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' => 'b',
        'с' | 'С' | 'ϲ' | 'Ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' | 'ε' | 'Ε' => 'e',
        'һ' | 'Һ' | 'Н' | 'н' | 'Η' => 'h',
        'і' | 'І' | 'ї' | 'Ї' | 'ι' | 'Ι' | 'ӏ' | 'Ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'м' | 'М' | 'Μ' => 'm',
        'Ν' | 'п' => 'n',
        'о' | 'О' | 'ο' | 'Ο' | 'σ' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' => 'u',
        'ѵ' | 'Ѵ' | 'ν' => 'v',
        'ԝ' | 'Ԝ' | 'ω' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'γ' | 'Υ' => 'y',
        'ζ' | 'Ζ' => 'z',
        c if ('\u{FF21}'..='\u{FF3A}').contains(&c) => {
            char::from_u32(c as u32 - 0xFF21 + u32::from(b'a'))?
        }
        c if ('\u{FF41}'..='\u{FF5A}').contains(&c) => {
            char::from_u32(c as u32 - 0xFF41 + u32::from(b'a'))?
        }
        _ => return None,
    };
    Some(folded)
}

/// Invisible characters an imitation hides between letters.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    ) || ('\u{0300}'..='\u{036F}').contains(&c)
}

/// The name as it reads: look-alike letters folded to Latin, lower case, invisible characters and
/// combining marks dropped, `0` read as `o` and `1` as `l` inside words.
pub fn skeleton(name: &str) -> String {
    let chars: Vec<char> = name.chars().filter(|c| !invisible(*c)).collect();
    let mut out = String::with_capacity(name.len());
    for (i, c) in chars.iter().enumerate() {
        let letter_beside = |j: Option<usize>| {
            j.and_then(|j| chars.get(j))
                .is_some_and(|n| n.is_alphabetic())
        };
        let beside = letter_beside(i.checked_sub(1)) || letter_beside(Some(i + 1));
        let folded = match c {
            '0' if beside => 'o',
            '1' if beside => 'l',
            c => look_alike(*c).unwrap_or(*c),
        };
        out.extend(folded.to_lowercase());
    }
    out
}

/// The words of `name` that mix Latin letters with Cyrillic or Greek ones: a homoglyph.
pub fn mixed_script_words(name: &str) -> Vec<String> {
    name.split(|c: char| !(c.is_alphanumeric() || invisible(c)))
        .filter(|word| {
            let scripts: Vec<Script> = word.chars().map(script).collect();
            scripts.contains(&Script::Latin)
                && (scripts.contains(&Script::Cyrillic) || scripts.contains(&Script::Greek))
        })
        .map(str::to_owned)
        .collect()
}

/// The Microsoft name `name` borrows, compared on its [`skeleton`], if any: a word that is one of
/// [`BRANDS`] (or one followed by digits, as in "Office365"), or any word starting with
/// "microsoft".
pub fn borrowed_brand(name: &str) -> Option<&'static str> {
    let folded = skeleton(name);
    folded
        .split(|c: char| !c.is_alphanumeric())
        .find_map(|word| {
            BRANDS
                .iter()
                .find(|b| match word.strip_prefix(**b) {
                    Some(rest) => {
                        rest.is_empty()
                            || rest.chars().all(|c| c.is_ascii_digit())
                            || **b == "microsoft"
                    }
                    None => false,
                })
                .copied()
        })
}

/// Whether a delegated scope or app role reaches mail or files.
pub fn mail_or_file_scope(scope: &str) -> bool {
    [
        "Mail.",
        "Files.",
        "Sites.",
        "MailboxSettings.",
        "EWS.",
        "IMAP.",
        "POP.",
        "SMTP.",
    ]
    .iter()
    .any(|p| scope.starts_with(p))
        || scope == "full_access_as_app"
}

/// The verified publisher's name, when Microsoft verified one.
pub fn verified_publisher(sp: &ServicePrincipal) -> Option<String> {
    let publisher = sp.verified_publisher.as_ref()?;
    publisher
        .get("verifiedPublisherId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    Some(
        publisher
            .get("displayName")
            .and_then(Value::as_str)
            .unwrap_or("a verified publisher")
            .to_owned(),
    )
}

/// Whether the app is one of Microsoft's own (published from Microsoft's tenant).
pub fn first_party(sp: &ServicePrincipal) -> bool {
    sp.app_owner_organization_id.as_deref() == Some(MICROSOFT_TENANT)
}

/// The plan-row detail line carrying an app's [`app_warnings`]: the report looks for it.
pub const FLAG_PREFIX: &str = "Look-alike or unverified: ";

/// The detail line for `warnings`, when there are any.
pub fn flag_detail(warnings: &[String]) -> Option<String> {
    (!warnings.is_empty()).then(|| format!("{FLAG_PREFIX}{}", warnings.join(" ")))
}

/// Why an app looks like an imitation or a risk, one sentence each; empty when nothing does.
/// `sp` is the app's service principal when it could be read (publisher, owner tenant);
/// `scopes` are the permissions it holds. Microsoft's first-party apps are never flagged.
pub fn app_warnings(name: &str, sp: Option<&ServicePrincipal>, scopes: &[&str]) -> Vec<String> {
    if sp.is_some_and(first_party) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    let mixed = mixed_script_words(name);
    if !mixed.is_empty() {
        warnings.push(format!(
            "Look-alike name: \"{}\" mixes Latin letters with Cyrillic or Greek ones and reads as \"{}\" (a homoglyph imitation).",
            mixed.join(" "),
            skeleton(&mixed.join(" "))
        ));
    }
    let publisher = sp.and_then(verified_publisher);
    if let Some(brand) = borrowed_brand(name) {
        match &publisher {
            None => warnings.push(format!(
                "Uses Microsoft's name (\"{brand}\") but is not one of Microsoft's apps and its publisher is not verified."
            )),
            Some(p) if brand == "microsoft" && !p.to_lowercase().contains("microsoft") => {
                warnings.push(format!(
                    "Calls itself Microsoft but is published by {p}, not by Microsoft."
                ));
            }
            Some(_) => {}
        }
    }
    let reach: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| mail_or_file_scope(s))
        .collect();
    if publisher.is_none() && !reach.is_empty() {
        warnings.push(format!(
            "Unverified publisher with mail or file permissions ({}).",
            reach.join(", ")
        ));
    }
    warnings
}

/// The text of a modified property of an audit target, with Graph's JSON quoting removed.
fn property(target: &Value, name: &str) -> Option<String> {
    target
        .get("modifiedProperties")?
        .as_array()?
        .iter()
        .find(|p| {
            p.get("displayName")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })?
        .get("newValue")
        .and_then(Value::as_str)
        .map(|v| match serde_json::from_str::<String>(v) {
            Ok(unquoted) => unquoted,
            Err(_) => v.to_owned(),
        })
}

fn is_true(value: Option<String>) -> Option<bool> {
    value.map(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn activity(a: &DirectoryAudit) -> String {
    a.activity_display_name
        .as_deref()
        .unwrap_or("")
        .trim()
        .to_lowercase()
}

fn initiated_by(a: &DirectoryAudit, user_id: &str) -> bool {
    a.initiated_by
        .as_ref()
        .and_then(|i| i.pointer("/user/id"))
        .and_then(Value::as_str)
        .is_some_and(|id| id.eq_ignore_ascii_case(user_id))
}

fn sp_targets(a: &DirectoryAudit) -> impl Iterator<Item = &Value> {
    a.target_resources.iter().flatten().filter(|t| {
        t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|k| k.eq_ignore_ascii_case("ServicePrincipal"))
    })
}

/// One grant of permissions to an app that the account made, from the directory audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AppGrantEvent {
    /// The client app's service principal object id.
    pub client: String,
    /// Its name as the audit entry has it.
    pub name: String,
    /// When.
    pub at: Option<DateTime<Utc>>,
    /// The audit activity it came from.
    pub activity: String,
    /// The audit entry's id.
    pub audit_id: String,
    /// Whether it covers every user (admin consent for the organisation, application permission).
    pub tenant_wide: bool,
    /// Application permissions granted (app role values), for app-role assignments.
    pub app_roles: Vec<String>,
}

/// The grants of permissions to apps that `user_id` made according to `audits`: consents ("Consent
/// to application", tenant-wide when `ConsentContext.OnBehalfOfAll` is true, or when only
/// `ConsentContext.IsAdminConsent` is given and is true), delegated permission grants ("Add
/// delegated permission grant", whose client is named by `ServicePrincipal.ObjectID` or by the
/// consent entry with the same correlation id) and application permissions ("Add app role
/// assignment to service principal", client in `ServicePrincipal.ObjectID`). Entries other
/// accounts initiated are ignored.
pub fn grants_by_account(audits: &[DirectoryAudit], user_id: &str) -> Vec<AppGrantEvent> {
    let mine: Vec<&DirectoryAudit> = audits
        .iter()
        .filter(|a| initiated_by(a, user_id))
        .filter(|a| {
            a.result
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case("success"))
        })
        .collect();
    let mut events = Vec::new();
    for a in &mine {
        let act = activity(a);
        let base = |client: String, name: String, tenant_wide: bool| AppGrantEvent {
            client,
            name,
            at: a.activity_date_time,
            activity: a
                .activity_display_name
                .clone()
                .unwrap_or_default()
                .trim()
                .to_owned(),
            audit_id: a.id.clone(),
            tenant_wide,
            app_roles: Vec::new(),
        };
        if act == "consent to application" {
            for t in sp_targets(a) {
                let Some(id) = t.get("id").and_then(Value::as_str) else {
                    continue;
                };
                let all = is_true(property(t, "ConsentContext.OnBehalfOfAll"));
                let admin = is_true(property(t, "ConsentContext.IsAdminConsent"));
                let listed = property(t, "ConsentAction.Permissions")
                    .is_some_and(|p| p.contains("ConsentType: AllPrincipals"));
                let tenant_wide = all.unwrap_or(admin == Some(true)) || listed;
                let name = t
                    .get("displayName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                events.push(base(id.to_owned(), name, tenant_wide));
            }
        } else if act == "add delegated permission grant" {
            let consent_type =
                sp_targets(a).find_map(|t| property(t, "DelegatedPermissionGrant.ConsentType"));
            let named = sp_targets(a).find_map(|t| property(t, "ServicePrincipal.ObjectID"));
            let linked = mine
                .iter()
                .filter(|c| activity(c) == "consent to application")
                .filter(|c| c.correlation_id.is_some() && c.correlation_id == a.correlation_id)
                .flat_map(|c| sp_targets(c))
                .find_map(|t| t.get("id").and_then(Value::as_str).map(str::to_owned));
            if let Some(client) = named.or(linked) {
                let tenant_wide =
                    consent_type.is_some_and(|c| c.trim().eq_ignore_ascii_case("AllPrincipals"));
                events.push(base(client, String::new(), tenant_wide));
            }
        } else if act == "add app role assignment to service principal" {
            for t in sp_targets(a) {
                let Some(client) = property(t, "ServicePrincipal.ObjectID") else {
                    continue;
                };
                let name = property(t, "ServicePrincipal.DisplayName").unwrap_or_default();
                let mut event = base(client, name, true);
                event.app_roles = property(t, "AppRole.Value").into_iter().collect();
                events.push(event);
            }
        }
    }
    events
}

/// The tenant-wide (`AllPrincipals`) grants among `grants` that the account gave, each with the
/// earliest audit event that shows it doing so.
pub fn tenant_wide_by_account<'a>(
    events: &'a [AppGrantEvent],
    grants: &'a [OAuth2PermissionGrant],
) -> Vec<(&'a OAuth2PermissionGrant, &'a AppGrantEvent)> {
    grants
        .iter()
        .filter(|g| {
            g.consent_type
                .as_deref()
                .is_some_and(|c| c.eq_ignore_ascii_case("AllPrincipals"))
        })
        .filter_map(|g| {
            events
                .iter()
                .filter(|e| e.app_roles.is_empty() && e.client.eq_ignore_ascii_case(&g.client_id))
                .min_by_key(|e| e.at)
                .map(|e| (g, e))
        })
        .collect()
}

/// Triage's signals for tenant-wide consents the account gave: `(when, text)` for each
/// `AllPrincipals` grant among `tenant_wide` whose consent the account's `audits` show, when it
/// carries mail, file or offline-access scopes or the app's name is a look-alike.
pub fn tenant_wide_signals(
    audits: &[DirectoryAudit],
    user_id: &str,
    tenant_wide: &[OAuth2PermissionGrant],
) -> Vec<(DateTime<Utc>, String)> {
    let events = grants_by_account(audits, user_id);
    tenant_wide_by_account(&events, tenant_wide)
        .into_iter()
        .filter_map(|(grant, event)| {
            let scopes: Vec<&str> = grant
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            let risky: Vec<&str> = scopes
                .iter()
                .copied()
                .filter(|s| RISKY_SCOPES.contains(s))
                .collect();
            let warnings = app_warnings(&event.name, None, &scopes);
            if risky.is_empty() && warnings.is_empty() {
                return None;
            }
            let mut text = format!(
                "tenant-wide consent (for every user) to \"{}\" with {}",
                event.name,
                if risky.is_empty() {
                    scopes.join(", ")
                } else {
                    risky.join(", ")
                }
            );
            if let Some(first) = warnings.first() {
                text.push_str(&format!(" — {}", first.trim_end_matches('.')));
            }
            Some((event.at.unwrap_or_default(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sp(owner: &str, verified: Option<&str>) -> ServicePrincipal {
        serde_json::from_value(json!({
            "id": "ee9b4c22-8f57-49da-a789-ec01401946f8",
            "appOwnerOrganizationId": owner,
            "verifiedPublisher": match verified {
                Some(name) => json!({"displayName": name, "verifiedPublisherId": "5026455", "addedDateTime": "2021-01-12T00:00:00Z"}),
                None => json!({"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}),
            },
        }))
        .unwrap()
    }

    const OTHER: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

    #[test]
    fn a_name_with_a_cyrillic_o_is_flagged_as_a_homoglyph_of_microsoft() {
        let name = "Micr\u{043e}soft Mail Sync Service";
        assert_eq!(mixed_script_words(name), vec!["Micr\u{043e}soft"]);
        assert_eq!(borrowed_brand(name), Some("microsoft"));
        let w = app_warnings(name, Some(&sp(OTHER, None)), &["Mail.Read"]);
        assert!(w.iter().any(|w| w.contains("homoglyph")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("Microsoft's name")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("Mail.Read")), "{w:?}");
    }

    #[test]
    fn greek_and_full_width_and_digit_imitations_are_read_as_latin() {
        assert_eq!(borrowed_brand("\u{039f}ffice 365 Sync"), Some("office"));
        assert_eq!(borrowed_brand("Micr0soft Teams helper"), Some("microsoft"));
        assert_eq!(borrowed_brand("\u{FF2F}utlook backup"), Some("outlook"));
        assert!(!mixed_script_words("O\u{200B}ff\u{0456}ce").is_empty());
        assert_eq!(skeleton("Micr\u{200B}osoft"), "microsoft");
    }

    #[test]
    fn office_365_sync_from_an_unknown_publisher_is_flagged() {
        let w = app_warnings("Office 365 Sync", Some(&sp(OTHER, None)), &["User.Read"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("Microsoft's name"), "{w:?}");
    }

    #[test]
    fn microsoft_first_party_apps_are_kept_whatever_their_name_and_scopes() {
        let w = app_warnings(
            "Microsoft Office",
            Some(&sp(MICROSOFT_TENANT, None)),
            &["Mail.ReadWrite", "Files.ReadWrite.All"],
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_verified_third_party_app_with_mail_scopes_is_kept() {
        let w = app_warnings(
            "Zoom for Outlook",
            Some(&sp(OTHER, Some("Zoom Video Communications, Inc."))),
            &["Mail.ReadWrite", "Calendars.ReadWrite"],
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn a_verified_publisher_calling_itself_microsoft_is_flagged() {
        let w = app_warnings(
            "Microsoft Security Scanner",
            Some(&sp(OTHER, Some("Fabrikam Ltd"))),
            &["User.Read"],
        );
        assert!(w.iter().any(|w| w.contains("Fabrikam")), "{w:?}");
    }

    #[test]
    fn names_written_in_one_non_latin_script_are_kept() {
        for name in [
            "経費精算アシスタント",
            "Почтовый архив",
            "Ταχυδρομείο",
            "Почта 2024",
        ] {
            let w = app_warnings(name, Some(&sp(OTHER, Some("Contoso KK"))), &["Mail.Read"]);
            assert!(w.is_empty(), "{name}: {w:?}");
            assert!(mixed_script_words(name).is_empty(), "{name}");
        }
        // Several scripts in separate words are a bilingual name, not a homoglyph.
        assert!(mixed_script_words("Outlook Почта").is_empty());
    }

    #[test]
    fn an_unverified_publisher_is_flagged_only_with_mail_or_file_scopes() {
        let quiet = app_warnings("Expense Helper", Some(&sp(OTHER, None)), &["User.Read"]);
        assert!(quiet.is_empty(), "{quiet:?}");
        let loud = app_warnings(
            "Expense Helper",
            Some(&sp(OTHER, None)),
            &["User.Read", "Files.Read.All"],
        );
        assert_eq!(loud.len(), 1, "{loud:?}");
    }

    fn audit(value: serde_json::Value) -> DirectoryAudit {
        serde_json::from_value(value).unwrap()
    }

    const ADMIN: &str = "3b1c2d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d";
    const CLIENT: &str = "7f3a1e8c-4d29-4b65-b0c7-9e2d5a8f1b36";

    fn consent(id: &str, by: &str, all: &str, admin: &str) -> DirectoryAudit {
        audit(json!({
            "id": id, "activityDateTime": "2025-09-10T10:00:00Z", "activityDisplayName": "Consent to application",
            "correlationId": format!("c-{id}"), "result": "success",
            "initiatedBy": {"user": {"id": by, "userPrincipalName": "x@y"}},
            "targetResources": [{"id": CLIENT, "displayName": "Mail Arch\u{0456}ver", "type": "ServicePrincipal",
                "modifiedProperties": [
                    {"displayName": "ConsentContext.IsAdminConsent", "oldValue": null, "newValue": format!("\"{admin}\"")},
                    {"displayName": "ConsentContext.OnBehalfOfAll", "oldValue": null, "newValue": format!("\"{all}\"")}]}]
        }))
    }

    fn grant(consent_type: &str) -> OAuth2PermissionGrant {
        serde_json::from_value(json!({"id": "g1", "clientId": CLIENT, "consentType": consent_type,
            "principalId": null, "resourceId": "14650d1a-8efd-4239-b83b-21629a60b2b3", "scope": "Mail.Read Files.Read.All User.Read"}))
        .unwrap()
    }

    #[test]
    fn an_admin_consent_for_everyone_by_the_account_is_a_tenant_wide_signal() {
        let audits = [consent("a1", ADMIN, "True", "True")];
        let signals = tenant_wide_signals(&audits, ADMIN, &[grant("AllPrincipals")]);
        assert_eq!(signals.len(), 1, "{signals:?}");
        assert!(signals[0].1.contains("Mail.Read"), "{signals:?}");
        assert!(signals[0].1.contains("homoglyph"), "{signals:?}");
    }

    #[test]
    fn another_admins_consent_or_a_consent_for_oneself_is_not_the_accounts_tenant_wide_consent() {
        let other = [consent(
            "a1",
            "11111111-2222-4333-8444-555555555555",
            "True",
            "True",
        )];
        assert!(tenant_wide_signals(&other, ADMIN, &[grant("AllPrincipals")]).is_empty());
        let for_self = grants_by_account(&[consent("a2", ADMIN, "False", "True")], ADMIN);
        assert_eq!(for_self.len(), 1);
        assert!(
            !for_self[0].tenant_wide,
            "an admin consenting only for themselves is not tenant-wide"
        );
        assert!(
            tenant_wide_signals(
                &[consent("a3", ADMIN, "True", "True")],
                ADMIN,
                &[grant("Principal")]
            )
            .is_empty(),
            "only AllPrincipals grants are tenant-wide"
        );
    }

    #[test]
    fn a_delegated_grant_and_an_app_role_name_their_client_app() {
        let grant_entry = audit(json!({
            "id": "b1", "activityDateTime": "2025-09-10T10:00:01Z", "activityDisplayName": "Add delegated permission grant",
            "correlationId": "c-a1", "initiatedBy": {"user": {"id": ADMIN}},
            "targetResources": [{"id": "14650d1a-8efd-4239-b83b-21629a60b2b3", "type": "ServicePrincipal", "displayName": "Microsoft Graph",
                "modifiedProperties": [{"displayName": "DelegatedPermissionGrant.Scope", "oldValue": null, "newValue": "\"Mail.Read\""},
                                       {"displayName": "DelegatedPermissionGrant.ConsentType", "oldValue": null, "newValue": "\"AllPrincipals\""}]}]
        }));
        let role = audit(json!({
            "id": "b2", "activityDateTime": "2025-09-10T10:02:00Z", "activityDisplayName": "Add app role assignment to service principal",
            "initiatedBy": {"user": {"id": ADMIN}},
            "targetResources": [{"id": "14650d1a-8efd-4239-b83b-21629a60b2b3", "type": "ServicePrincipal", "displayName": "Microsoft Graph",
                "modifiedProperties": [{"displayName": "AppRole.Value", "oldValue": null, "newValue": "\"Mail.Read\""},
                                       {"displayName": "ServicePrincipal.ObjectID", "oldValue": null, "newValue": format!("\"{CLIENT}\"")},
                                       {"displayName": "ServicePrincipal.DisplayName", "oldValue": null, "newValue": "\"Mail Archiver\""}]}]
        }));
        let events = grants_by_account(
            &[consent("a1", ADMIN, "True", "True"), grant_entry, role],
            ADMIN,
        );
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(events.iter().all(|e| e.client == CLIENT), "{events:?}");
        assert_eq!(events[2].app_roles, vec!["Mail.Read"]);
        let grants = [grant("AllPrincipals")];
        let wide = tenant_wide_by_account(&events, &grants);
        assert_eq!(wide.len(), 1);
        assert_eq!(wide[0].1.audit_id, "a1", "the earliest event is kept");
    }
}
