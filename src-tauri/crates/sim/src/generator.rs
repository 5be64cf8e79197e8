//! The large-tenant generator: from a seed, a few hundred users and hundreds of thousands of
//! sign-ins and audit records that are never stored. Record `i` of a log is computed from the seed
//! and `i` alone (time decreases with `i`, so the sequence is already newest first), which lets the
//! server page through a million records holding one page in memory.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use crate::clock::graph_time;
use crate::scenario::{GeneratorSpec, Mailbox, Scenario};
use crate::tenant::UserRecord;

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloé", "Dara", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jun", "Kofi",
    "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Adeyemi",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ito",
    "Jansen",
    "Kowalski",
    "Lindqvist",
    "Müller",
    "Nowak",
    "O'Neill",
    "Petrov",
    "Quispe",
    "Rossi",
    "Sato",
    "Tanaka",
    "Ulrich",
    "Varga",
];
const APPS: &[(&str, &str)] = &[
    ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    (
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    (
        "ab9b8c07-8f02-4f72-87fa-80105867a763",
        "OneDrive SyncEngine",
    ),
];
const CITIES: &[(&str, &str, f64, f64)] = &[
    ("London", "GB", 51.5072, -0.1276),
    ("Manchester", "GB", 53.4808, -2.2426),
    ("Dublin", "IE", 53.3498, -6.2603),
    ("Amsterdam", "NL", 52.3676, 4.9041),
];
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("MailItemsAccessed", "ExchangeItemAggregated", "Exchange"),
    ("Send", "ExchangeItem", "Exchange"),
    ("FileAccessed", "SharePointFileOperation", "SharePoint"),
    ("FileDownloaded", "SharePointFileOperation", "OneDrive"),
    ("FileModified", "SharePointFileOperation", "OneDrive"),
    (
        "UserLoggedIn",
        "AzureActiveDirectoryStsLogon",
        "AzureActiveDirectory",
    ),
    ("MessageSent", "MicrosoftTeams", "MicrosoftTeams"),
];

/// A generated user: enough to derive their records.
#[derive(Debug, Clone)]
pub(crate) struct GenUser {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) name: String,
    pub(crate) ip: String,
    pub(crate) city: usize,
}

/// The generated part of a large tenant.
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    seed: u64,
    users: Vec<GenUser>,
    end: DateTime<Utc>,
    span_seconds: i64,
    sign_ins: u64,
    audit_records: u64,
    tenant_id: String,
}

/// SplitMix64: a fast, well-mixed hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn guid(a: u64, b: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        (b >> 52) as u16 & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

impl Generated {
    pub(crate) fn new(spec: &GeneratorSpec, scenario: &Scenario) -> Self {
        let domain = scenario.tenant.domain.clone();
        let users = (0..u64::from(spec.users))
            .map(|n| {
                let h = mix(spec.seed ^ mix(n));
                let first = FIRST[(h % FIRST.len() as u64) as usize];
                let last = LAST[((h >> 8) % LAST.len() as u64) as usize];
                let local: String = format!("{first}.{last}{n}")
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
                    .to_lowercase();
                GenUser {
                    id: guid(mix(h), mix(h ^ 1)),
                    upn: format!("{local}@{domain}"),
                    name: format!("{first} {last}"),
                    ip: format!("198.51.100.{}", 1 + (h >> 16) % 250),
                    city: ((h >> 24) % CITIES.len() as u64) as usize,
                }
            })
            .collect();
        Self {
            seed: spec.seed,
            users,
            end: scenario.now - Duration::minutes(5),
            span_seconds: i64::from(spec.days) * 86_400,
            sign_ins: spec.sign_ins,
            audit_records: spec.audit_records,
            tenant_id: scenario.tenant.id.clone(),
        }
    }

    /// The generated users as directory users with a mailbox.
    pub(crate) fn users(&self) -> Vec<UserRecord> {
        self.users
            .iter()
            .enumerate()
            .map(|(n, u)| {
                let mut user = Map::new();
                user.insert("id".to_owned(), json!(u.id));
                user.insert("userPrincipalName".to_owned(), json!(u.upn));
                user.insert("displayName".to_owned(), json!(u.name));
                user.insert("department".to_owned(), json!(["Sales", "Finance", "Operations", "Support"][n % 4]));
                let methods = vec![json!({
                    "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                    "id": guid(mix(self.seed ^ 0xa0 ^ n as u64), mix(n as u64)),
                    "displayName": format!("iPhone {}", 11 + n % 5),
                    "createdDateTime": graph_time(self.end - Duration::days(200 + (n as i64 % 300))),
                })];
                UserRecord { user, methods, mailbox: Some(empty_mailbox()), member_of: Vec::new(), owned_objects: Vec::new(), default_method: None }
            })
            .collect()
    }

    fn time_at(&self, index: u64, count: u64) -> DateTime<Utc> {
        let offset = if count == 0 {
            0
        } else {
            (u128::from(index) * self.span_seconds as u128 / u128::from(count)) as i64
        };
        self.end - Duration::seconds(offset)
    }

    /// The first index whose time is at or before `t` (binary search; times decrease with index).
    fn first_at_or_before(&self, t: DateTime<Utc>, count: u64) -> u64 {
        let (mut lo, mut hi) = (0u64, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.time_at(mid, count) > t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn user_of(&self, h: u64) -> &GenUser {
        &self.users[(h % self.users.len().max(1) as u64) as usize]
    }

    fn sign_in_hash(&self, index: u64) -> u64 {
        mix(self.seed ^ mix(index ^ 0x5151))
    }

    fn audit_hash(&self, index: u64) -> u64 {
        mix(self.seed ^ mix(index ^ 0xa0d1))
    }
}

/// An empty mailbox.
fn empty_mailbox() -> Mailbox {
    Mailbox {
        recipient_type_details: "UserMailbox".to_owned(),
        forwarding_smtp_address: None,
        forwarding_address: None,
        deliver_to_mailbox_and_forward: false,
        grant_send_on_behalf_to: Vec::new(),
        audit_enabled: true,
        inbox_rules: Vec::new(),
        permissions: Vec::new(),
        recipient_permissions: Vec::new(),
        folders: Default::default(),
        mailbox_settings: None,
    }
}

/// Cheap hints taken from a filter, checked before a record is built.
#[derive(Debug, Default, Clone)]
pub(crate) struct Hints {
    /// Object id or UPN the records must belong to (lower case).
    pub(crate) user: Option<String>,
    pub(crate) not_before: Option<DateTime<Utc>>,
    pub(crate) not_after: Option<DateTime<Utc>>,
    /// Sign-ins only: restrict to interactive (Some(true)) or non-interactive (Some(false)).
    pub(crate) interactive: Option<bool>,
    /// The records' address must begin with one of these (any address when empty).
    pub(crate) ip_prefixes: Vec<String>,
}

impl Hints {
    fn address_fits(&self, address: &str) -> bool {
        self.ip_prefixes.is_empty()
            || self.ip_prefixes.iter().any(|p| {
                address
                    .get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
    }
}

/// A log whose records are computed on demand, newest first.
pub(crate) trait LogSeq {
    fn len(&self) -> u64;
    fn time(&self, index: u64) -> DateTime<Utc>;
    /// False when the record certainly does not match the hints (cheap, before building it).
    fn plausible(&self, index: u64, hints: &Hints) -> bool;
    fn item(&self, index: u64) -> Value;
    /// The first index worth looking at for these hints.
    fn start(&self, hints: &Hints) -> u64;
}

/// The generated sign-ins.
pub(crate) struct SignIns<'a>(pub(crate) &'a Generated);
/// The generated unified audit log records.
pub(crate) struct AuditRecords<'a>(pub(crate) &'a Generated);

fn user_matches(user: &GenUser, wanted: &Option<String>) -> bool {
    wanted
        .as_ref()
        .is_none_or(|w| user.id == *w || user.upn.eq_ignore_ascii_case(w))
}

impl LogSeq for SignIns<'_> {
    fn len(&self) -> u64 {
        self.0.sign_ins
    }

    fn time(&self, index: u64) -> DateTime<Utc> {
        self.0.time_at(index, self.0.sign_ins)
    }

    fn plausible(&self, index: u64, hints: &Hints) -> bool {
        let h = self.0.sign_in_hash(index);
        let interactive = h % 10 < 3;
        let user = self.0.user_of(h >> 8);
        user_matches(user, &hints.user)
            && hints.address_fits(&user.ip)
            && hints.interactive.is_none_or(|i| i == interactive)
    }

    fn start(&self, hints: &Hints) -> u64 {
        hints
            .not_after
            .map(|t| self.0.first_at_or_before(t, self.0.sign_ins))
            .unwrap_or(0)
    }

    fn item(&self, index: u64) -> Value {
        let g = self.0;
        let h = g.sign_in_hash(index);
        let user = g.user_of(h >> 8);
        let interactive = h % 10 < 3;
        let failed = (h >> 40) % 50 == 0;
        let (app_id, app_name) = APPS[((h >> 20) % APPS.len() as u64) as usize];
        let (city, country, lat, lon) = CITIES[user.city];
        json!({
            "id": guid(h, mix(h)),
            "createdDateTime": graph_time(g.time_at(index, g.sign_ins)),
            "userId": user.id,
            "userPrincipalName": user.upn,
            "userDisplayName": user.name,
            "appId": app_id,
            "appDisplayName": app_name,
            "ipAddress": user.ip,
            "clientAppUsed": if interactive { "Browser" } else { "Mobile Apps and Desktop clients" },
            "correlationId": guid(mix(h ^ 2), mix(h ^ 3)),
            "conditionalAccessStatus": "success",
            "isInteractive": interactive,
            "signInEventTypes": [if interactive { "interactiveUser" } else { "nonInteractiveUser" }],
            "resourceDisplayName": "Office 365 Exchange Online",
            "resourceId": "00000002-0000-0ff1-ce00-000000000000",
            "riskDetail": "none",
            "riskLevelAggregated": "none",
            "riskLevelDuringSignIn": "none",
            "riskState": "none",
            "riskEventTypes": [],
            "riskEventTypes_v2": [],
            "appliedConditionalAccessPolicies": [],
            "status": if failed {
                json!({"errorCode": 50126, "failureReason": "Error validating credentials due to invalid username or password.", "additionalDetails": null})
            } else {
                json!({"errorCode": 0, "failureReason": "Other.", "additionalDetails": "MFA requirement satisfied by claim in the token"})
            },
            "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Windows10", "browser": "Edge 131.0.0",
                             "isCompliant": true, "isManaged": true, "trustType": "Azure AD joined"},
            "location": {"city": city, "state": null, "countryOrRegion": country,
                         "geoCoordinates": {"altitude": null, "latitude": lat, "longitude": lon}},
        })
    }
}

impl LogSeq for AuditRecords<'_> {
    fn len(&self) -> u64 {
        self.0.audit_records
    }

    fn time(&self, index: u64) -> DateTime<Utc> {
        self.0.time_at(index, self.0.audit_records)
    }

    fn plausible(&self, index: u64, hints: &Hints) -> bool {
        let user = self.0.user_of(self.0.audit_hash(index) >> 8);
        user_matches(user, &hints.user) && hints.address_fits(&user.ip)
    }

    fn start(&self, hints: &Hints) -> u64 {
        hints
            .not_after
            .map(|t| self.0.first_at_or_before(t, self.0.audit_records))
            .unwrap_or(0)
    }

    fn item(&self, index: u64) -> Value {
        let g = self.0;
        let h = g.audit_hash(index);
        let user = g.user_of(h >> 8);
        let (operation, record_type, service) =
            OPERATIONS[((h >> 24) % OPERATIONS.len() as u64) as usize];
        let created = graph_time(g.time_at(index, g.audit_records));
        json!({
            "id": guid(h, mix(h ^ 7)),
            "createdDateTime": created,
            "auditLogRecordType": record_type,
            "operation": operation,
            "organizationId": g.tenant_id,
            "userType": "Regular",
            "userId": user.upn,
            "userPrincipalName": user.upn,
            "service": service,
            "objectId": if service == "Exchange" { json!("") } else { json!(format!("https://contoso.sharepoint.com/sites/team/Shared Documents/report-{}.xlsx", h % 97)) },
            "clientIp": user.ip,
            "administrativeUnits": [],
            "auditData": {
                "@odata.type": "#microsoft.graph.security.auditData",
                "CreationTime": created,
                "Operation": operation,
                "Workload": service,
                "ClientIPAddress": user.ip,
                "ResultStatus": "Succeeded",
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> Generated {
        let scenario = Scenario::builtin("large-tenant").unwrap();
        let spec = scenario.generator.clone().unwrap();
        Generated::new(&spec, &scenario)
    }

    #[test]
    fn records_are_a_pure_function_of_seed_and_index() {
        let a = generated();
        let b = generated();
        assert_eq!(SignIns(&a).item(12_345), SignIns(&b).item(12_345));
        assert_ne!(SignIns(&a).item(1), SignIns(&a).item(2));
        assert_eq!(
            AuditRecords(&a).item(999_999),
            AuditRecords(&b).item(999_999)
        );
    }

    #[test]
    fn times_decrease_with_the_index_and_binary_search_finds_them() {
        let g = generated();
        let seq = SignIns(&g);
        let mut last = seq.time(0);
        for i in (1..seq.len()).step_by(997) {
            assert!(
                seq.time(i) <= last,
                "record {i} is newer than an earlier one"
            );
            last = seq.time(i);
        }
        let probe = seq.time(100_000);
        let start = seq.start(&Hints {
            not_after: Some(probe),
            ..Hints::default()
        });
        assert!(seq.time(start) <= probe && (start == 0 || seq.time(start - 1) > probe));
    }

    #[test]
    fn an_address_hint_skips_only_records_that_cannot_match() {
        let g = generated();
        let seq = SignIns(&g);
        let wanted = g.users[3].ip.clone();
        let prefix = wanted[..wanted.rfind(['.', ':']).unwrap() + 1].to_owned();
        let filter =
            crate::odata::parse_filter(&format!("startswith(ipAddress, '{prefix}')")).unwrap();
        let accept = |item: &Value| crate::odata::matches(&filter, item);
        let window = Hints {
            not_before: Some(seq.time(20_000)),
            ..Hints::default()
        };
        let hinted = Hints {
            ip_prefixes: vec![prefix.to_uppercase()],
            ..window.clone()
        };
        let scan = |hints: &Hints| {
            crate::graph::logs::merged_page(
                &[],
                "createdDateTime",
                Some(&seq),
                (0, 0),
                100_000,
                hints,
                &accept,
            )
            .0
        };
        let all = scan(&window);
        assert!(!all.is_empty(), "the probe address signs in");
        assert_eq!(scan(&hinted), all);
        let elsewhere = Hints {
            ip_prefixes: vec!["192.0.2.".into()],
            ..window
        };
        assert!(scan(&elsewhere).is_empty());
    }

    #[test]
    fn the_large_tenant_has_the_promised_size() {
        let g = generated();
        assert_eq!(g.users().len(), 200);
        assert!(SignIns(&g).len() >= 250_000);
        assert!(AuditRecords(&g).len() >= 1_000_000);
        assert!(g.users().iter().all(|u| crate::scenario::is_guid(u.id())));
    }
}
