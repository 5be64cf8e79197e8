//! Parts into a scenario. Every id, name and time is derived from the seed and a label naming
//! what it is for (not from a running random stream), so taking one part away leaves the others
//! exactly as they were: a shrunk incident fails for the same reasons as the one it came from.
//!
//! The answer key is written here, beside the tenant state it describes, from the parts alone.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Map, Value};

use super::{
    Entry, Hop, MethodKind, Noise, Parts, PersistKind, Persistence, Provider, Role, RuleAction,
    Size, Via, Who, PROVIDERS,
};
use crate::clock::graph_time;
use crate::error::SimError;
use crate::scenario::Scenario;

const OFFICE_IP: &str = "198.51.100.10";
const OFFICE_ASN: i64 = 2856;
const EXCHANGE: &str = "00000002-0000-0ff1-ce00-000000000000";
const OFFICE_HOME: (&str, &str) = ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome");
const GRAPH_APP: &str = "00000003-0000-0000-c000-000000000000";
const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
const FIREBREAK_APP: &str = "b7e3f4a2-51c8-4d2e-9a60-3f1e2d4c5b6a";
const FIREBREAK_SP: &str = "c2a1d7e0-6b3f-4f8e-8a9d-1e2f3a4b5c6d";
/// The role template ids the generator's audit records name (Microsoft's built-in roles).
const GLOBAL_ADMIN_TEMPLATE: &str = "62e90394-69f5-4237-9190-012177145e10";
const EXCHANGE_ADMIN_TEMPLATE: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
const ATTACKER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const USER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";

const FIRST: &[&str] = &[
    "Ada", "Bram", "Chloé", "Dara", "Emeka", "Farah", "Gustav", "Hana", "Ines", "Jun", "Kofi",
    "Lena", "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Viktor",
    "Wen", "Ximena", "Yusuf", "Zoë", "Aoife", "Bilal", "Carmen", "Dmitri", "Elif", "Femi",
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
    "Walsh",
    "Yilmaz",
];
const JOBS: &[(&str, &str)] = &[
    ("Accounts Payable Clerk", "Finance"),
    ("Accounts Receivable Specialist", "Finance"),
    ("Sales Manager", "Sales"),
    ("Account Executive", "Sales"),
    ("Warehouse Coordinator", "Operations"),
    ("Buyer", "Procurement"),
    ("HR Advisor", "People"),
    ("Customer Support Lead", "Support"),
    ("Project Manager", "Operations"),
    ("Marketing Specialist", "Marketing"),
];
/// Hotels a travelling colleague signs in from: country, city, ASN, IPv4 /24, IPv6 /64.
const HOTELS: &[(&str, &str, &str, i64, &str, &str)] = &[
    (
        "PT",
        "Lisbon",
        "Lisboa",
        3243,
        "85.240.12.",
        "2001:db8:c1a0:7::",
    ),
    (
        "ES",
        "Madrid",
        "Madrid",
        3352,
        "80.58.61.",
        "2001:db8:3352:2::",
    ),
    (
        "US",
        "Boston",
        "Massachusetts",
        7922,
        "73.61.20.",
        "2001:db8:7922:9::",
    ),
];

/// A person of the generated tenant while it is being written.
struct Person {
    id: String,
    upn: String,
    name: String,
    job: (&'static str, &'static str),
    home_ip: String,
    home_asn: i64,
    created: DateTime<Utc>,
    enabled: bool,
    shared: bool,
    methods: Vec<Value>,
    rules: Vec<Value>,
    mailbox: Map<String, Value>,
    member_of: Vec<String>,
    owned: Vec<String>,
    /// Days of ordinary sign-in history (0: none).
    history_days: i64,
    /// Where the person signs in from instead of the office in the last days (a trip, a VPN).
    away: Option<Away>,
}

struct Away {
    ip: String,
    asn: i64,
    location: Value,
    /// How many of the last days it covers.
    days: i64,
    /// Whether the office is still used too.
    also_office: bool,
}

struct Builder<'a> {
    parts: &'a Parts,
    domain: String,
    now: DateTime<Utc>,
    start: DateTime<Utc>,
    people: Vec<Person>,
    sign_ins: Vec<Value>,
    audits: Vec<Value>,
    records: Vec<Value>,
    service_principals: Vec<Value>,
    applications: Vec<Value>,
    grants: Vec<Value>,
    contacts: Vec<Value>,
    risky_users: Vec<Value>,
    risk_detections: Vec<Value>,
    attacker_key: Vec<Value>,
    legitimate_key: Vec<Value>,
    legitimate_addresses: Vec<Value>,
    lost: Vec<Value>,
    compromised_ids: Vec<String>,
    malicious_apps: Vec<Value>,
    roles: Roles,
    notes: Vec<String>,
    /// Each session-holding account's (person index, session id, session start, addresses).
    sessions: Vec<Session>,
    /// The Defender alert and its incident.
    incident_alerts: Option<(Value, Value)>,
}

struct Session {
    person: usize,
    id: String,
    since: DateTime<Utc>,
    addresses: Vec<usize>,
    knows_password: bool,
}

struct Roles {
    global_admin: String,
    user_admin: String,
    exchange_admin: String,
    privileged_auth_admin: String,
    privileged_role_admin: String,
}

/// Indices of the people every incident has.
const ADMIN: usize = 0;
const BREAK_GLASS: usize = 1;
const SERVICE_DESK: usize = 2;
const ENTRY: usize = 3;

/// Writes the scenario the parts describe, with its answer key.
pub fn compose(parts: &Parts) -> Result<Scenario, SimError> {
    let mut b = Builder::new(parts);
    b.people();
    b.entry();
    for (i, hop) in parts.spread.iter().enumerate() {
        b.hop(i, *hop);
    }
    for item in &parts.persistence {
        b.persist(item);
    }
    b.attacker_activity();
    for (i, noise) in parts.noise.iter().enumerate() {
        b.noise(i, *noise);
    }
    b.alert();
    b.history();
    let value = b.finish();
    let scenario: Scenario = serde_json::from_value(value)?;
    scenario.check()?;
    Ok(scenario)
}

/// A 64-bit value derived from the seed and a label (FNV-1a, then a SplitMix64 finaliser).
fn hash(seed: u64, label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<'a> Builder<'a> {
    fn new(parts: &'a Parts) -> Self {
        let base = Utc
            .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let now =
            base + Duration::days(parts.timing.day) + Duration::hours(i64::from(parts.timing.hour));
        let start = now - Duration::minutes(parts.timing.dwell_minutes);
        let seed = parts.seed;
        let role = |label: &str| guid_of(seed, label);
        Self {
            parts,
            domain: "contoso-training.onmicrosoft.com".to_owned(),
            now,
            start,
            people: Vec::new(),
            sign_ins: Vec::new(),
            audits: Vec::new(),
            records: Vec::new(),
            service_principals: Vec::new(),
            applications: Vec::new(),
            grants: Vec::new(),
            contacts: Vec::new(),
            risky_users: Vec::new(),
            risk_detections: Vec::new(),
            attacker_key: Vec::new(),
            legitimate_key: Vec::new(),
            legitimate_addresses: Vec::new(),
            lost: Vec::new(),
            compromised_ids: Vec::new(),
            malicious_apps: Vec::new(),
            roles: Roles {
                global_admin: role("role/global"),
                user_admin: role("role/user"),
                exchange_admin: role("role/exchange"),
                privileged_auth_admin: role("role/privauth"),
                privileged_role_admin: role("role/privrole"),
            },
            notes: Vec::new(),
            sessions: Vec::new(),
            incident_alerts: None,
        }
    }

    fn h(&self, label: &str) -> u64 {
        hash(self.parts.seed, label)
    }

    fn guid(&self, label: &str) -> String {
        guid_of(self.parts.seed, label)
    }

    /// A time between `from` and `to`, chosen by `label`.
    fn between(&self, label: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        let span = (to - from).num_seconds().max(1) as u64;
        let at = from + Duration::seconds((self.h(label) % span) as i64);
        at.with_nanosecond0()
    }

    // ---------------------------------------------------------------- people

    /// A new person with a name and job drawn from `label`.
    fn person(&mut self, label: &str) -> usize {
        let h = self.h(label);
        let mut n = 0u64;
        let (first, last) = loop {
            let x = hash(h, &n.to_string());
            let first = FIRST[(x % FIRST.len() as u64) as usize];
            let last = LAST[((x >> 16) % LAST.len() as u64) as usize];
            let local = local_part(first, last);
            if !self
                .people
                .iter()
                .any(|p| p.upn.starts_with(&format!("{local}@")))
            {
                break (first, last);
            }
            n += 1;
        };
        let job = JOBS[((h >> 32) % JOBS.len() as u64) as usize];
        let index = self.people.len();
        let home = if (h >> 8) % 2 == 0 {
            (format!("192.0.2.{}", 20 + (index % 200)), 5089)
        } else {
            (format!("81.2.69.{}", 20 + (index % 200)), 2856)
        };
        let upn = format!("{}@{}", local_part(first, last), self.domain);
        self.people.push(Person {
            id: self.guid(&format!("user/{label}")),
            upn,
            name: format!("{first} {last}"),
            job,
            home_ip: home.0,
            home_asn: home.1,
            created: self.now - Duration::days(300 + (h % 900) as i64),
            enabled: true,
            shared: false,
            methods: Vec::new(),
            rules: Vec::new(),
            mailbox: Map::new(),
            member_of: Vec::new(),
            owned: Vec::new(),
            history_days: 30,
            away: None,
        });
        let own = json!({
            "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
            "id": self.guid(&format!("method/own/{label}")),
            "displayName": (["iPhone 13", "Pixel 7", "Galaxy S23", "iPhone 15"][(h % 4) as usize]),
            "deviceTag": "SoftwareTokenActivated",
            "phoneAppVersion": "6.2411.7123",
            "createdDateTime": graph_time(self.now - Duration::days(120 + (h % 500) as i64)),
        });
        self.people[index].methods.push(own);
        index
    }

    fn people(&mut self) {
        let admin = self.person("admin");
        self.rename(admin, "alex.wilber", "Alex Wilber", ("IT Manager", "IT"));
        self.people[admin]
            .member_of
            .push(self.roles.global_admin.clone());
        let break_glass = self.person("breakglass");
        self.rename(break_glass, "breakglass", "Emergency access", ("", "IT"));
        self.people[break_glass]
            .member_of
            .push(self.roles.global_admin.clone());
        self.people[break_glass].history_days = 0;
        self.people[break_glass]
            .mailbox
            .insert("none".into(), json!(true));
        let desk = self.person("servicedesk");
        self.people[desk].job = ("Service Desk Analyst", "IT");
        self.people[desk]
            .member_of
            .push(self.roles.user_admin.clone());
        let entry = self.person("entry");
        debug_assert_eq!(
            (admin, break_glass, desk, entry),
            (ADMIN, BREAK_GLASS, SERVICE_DESK, ENTRY)
        );
        if self.parts.entry == Entry::StolenAppSecret {
            self.rename(
                entry,
                "svc-reports",
                "Reporting service account",
                ("Service account", "IT"),
            );
            self.people[entry].methods.clear();
        }
        if self.parts.entry == Entry::PasswordSpray {
            // The account the spray gets into has no MFA method registered.
            self.people[entry].methods.clear();
        }
        match self.parts.tenant.entry_role {
            Some(Role::UserAdministrator) => {
                let role = self.roles.user_admin.clone();
                self.people[entry].member_of.push(role);
                self.people[entry].job = ("Service Desk Analyst", "IT");
            }
            Some(Role::ExchangeAdministrator) => {
                let role = self.roles.exchange_admin.clone();
                self.people[entry].member_of.push(role);
                self.people[entry].job = ("Messaging Administrator", "IT");
            }
            Some(Role::PrivilegedRoleAdministrator) => {
                let role = self.roles.privileged_role_admin.clone();
                self.people[entry].member_of.push(role);
                self.people[entry].job = ("Identity Administrator", "IT");
            }
            None => {}
        }
        if self.parts.tenant.entry_mailbox_unaudited {
            self.people[entry]
                .mailbox
                .insert("auditEnabled".into(), json!(false));
        }
        for i in 0..self.parts.tenant.shared_mailboxes {
            let shared = self.shared_mailbox(
                &format!("shared{i}"),
                ["info", "sales", "support"][i as usize % 3],
            );
            let holder = self.people[ENTRY].upn.clone();
            if i == 0 {
                self.people[shared].mailbox.insert(
                    "permissions".into(),
                    json!([{"user": holder, "accessRights": ["FullAccess"]}]),
                );
            }
        }
        let compromised = self.people[ENTRY].id.clone();
        self.compromised_ids.push(compromised);
        let own = self.people[ENTRY].methods.first().cloned();
        if let Some(method) = own {
            self.legit_method(
                ENTRY,
                &method,
                "the user's own Authenticator, registered long before the incident",
            );
        }
    }

    fn rename(&mut self, index: usize, local: &str, name: &str, job: (&'static str, &'static str)) {
        self.people[index].upn = format!("{local}@{}", self.domain);
        self.people[index].name = name.to_owned();
        self.people[index].job = job;
    }

    fn shared_mailbox(&mut self, label: &str, local: &str) -> usize {
        let index = self.person(label);
        let local = if self
            .people
            .iter()
            .any(|p| p.upn.starts_with(&format!("{local}@")))
        {
            format!("{local}{index}")
        } else {
            local.to_owned()
        };
        let name = format!("{} (shared)", capitalise(&local));
        self.rename(index, &local, &name, ("", ""));
        let p = &mut self.people[index];
        p.enabled = false;
        p.shared = true;
        p.methods.clear();
        p.history_days = 0;
        p.mailbox
            .insert("recipientTypeDetails".into(), json!("SharedMailbox"));
        index
    }

    fn legit_method(&mut self, person: usize, method: &Value, why: &str) {
        let id = method
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let name = self.people[person].name.clone();
        self.legitimate_key.push(json!({
            "kind": "authenticationMethod", "userId": self.people[person].id, "id": id,
            "description": format!("{name}: {why}"),
        }));
    }

    fn legit_user(&mut self, person: usize, why: &str) {
        let name = self.people[person].name.clone();
        self.legitimate_key.push(json!({
            "kind": "user", "id": self.people[person].id,
            "description": format!("{name}'s account must stay usable: {why}"),
        }));
    }

    fn legit_address(&mut self, address: &str, person: Option<usize>, why: &str) {
        if self
            .legitimate_addresses
            .iter()
            .any(|a| a.get("address").and_then(Value::as_str) == Some(address))
        {
            return;
        }
        self.legitimate_addresses.push(json!({
            "address": address,
            "userId": person.map(|p| self.people[p].id.clone()),
            "description": why,
        }));
    }

    // ------------------------------------------------------------- addresses

    fn provider(&self, address: usize) -> &'static Provider {
        let (p, _) = self.parts.addresses[address % self.parts.addresses.len()];
        &PROVIDERS[self.parts.providers[p % self.parts.providers.len()]]
    }

    /// The attacker's address number `i` (modulo their count): IPv6 for odd hosts on providers
    /// that have it.
    fn address(&self, i: usize) -> String {
        let (_, host) = self.parts.addresses[i % self.parts.addresses.len()];
        let provider = self.provider(i);
        match provider.v6 {
            Some(v6) if host % 3 == 1 => format!("{v6}{host:x}"),
            _ => format!("{}{host}", provider.v4),
        }
    }

    fn location_of(provider: &Provider) -> Value {
        json!({"city": provider.city, "state": provider.state, "countryOrRegion": provider.country,
               "geoCoordinates": {"altitude": null, "latitude": provider.lat, "longitude": provider.lon}})
    }

    fn office_location() -> Value {
        json!({"city": "London", "state": "England", "countryOrRegion": "GB",
               "geoCoordinates": {"altitude": null, "latitude": 51.5072, "longitude": -0.1276}})
    }

    // ------------------------------------------------------------- sign-ins

    #[allow(clippy::too_many_arguments)]
    fn sign_in(
        &mut self,
        person: usize,
        at: DateTime<Utc>,
        ip: &str,
        asn: i64,
        location: Value,
        attacker: bool,
        interactive: bool,
        status: (i64, &str, &str),
        session: Option<&str>,
        client: &str,
    ) {
        let p = &self.people[person];
        let label = format!(
            "signin/{}/{}/{ip}/{interactive}/{}",
            p.id,
            at.timestamp(),
            status.0
        );
        let device = if attacker {
            json!({"deviceId": "", "displayName": "", "operatingSystem": "Linux", "browser": "Chrome 131.0.0",
                   "isCompliant": false, "isManaged": false, "trustType": ""})
        } else {
            json!({"deviceId": guid_of(self.parts.seed, &format!("device/{}", p.id)), "displayName": format!("LAPTOP-{}", &p.id[..6].to_uppercase()),
                   "operatingSystem": "Windows10", "browser": "Edge 131.0.0", "isCompliant": true, "isManaged": true, "trustType": "Azure AD joined"})
        };
        // Without a session of its own, a sign-in belongs to the person's session of that day —
        // or, for the attacker's, to the attacker's of that day: the two never share one.
        let session = session.map(str::to_owned).unwrap_or_else(|| {
            guid_of(
                self.parts.seed,
                &format!("session/{}/{}/{attacker}", p.id, at.date_naive()),
            )
        });
        let record = json!({
            "id": guid_of(self.parts.seed, &label),
            "createdDateTime": graph_time(at),
            "userId": p.id,
            "userPrincipalName": p.upn,
            "userDisplayName": p.name,
            "appId": OFFICE_HOME.0,
            "appDisplayName": OFFICE_HOME.1,
            "ipAddress": ip,
            "isInteractive": interactive,
            "clientAppUsed": client,
            "conditionalAccessStatus": if status.0 == 0 { "success" } else { "failure" },
            "resourceDisplayName": "Office 365 Exchange Online",
            "resourceId": EXCHANGE,
            "status": {"errorCode": status.0, "failureReason": status.1, "additionalDetails": status.2},
            "location": location,
            "deviceDetail": device,
            "autonomousSystemNumber": asn,
            "sessionId": session,
            "userAgent": if attacker { ATTACKER_UA } else { USER_UA },
        });
        self.sign_ins.push(record);
        if interactive {
            // The unified audit log keeps interactive Entra ID sign-ins too (record type
            // AzureActiveDirectoryStsLogon), whatever the Entra ID licence: on a Free tenant it
            // is the only place a search by address finds them.
            let operation = if status.0 == 0 {
                "UserLoggedIn"
            } else {
                "UserLoginFailed"
            };
            let upn = self.people[person].upn.clone();
            self.records.push(json!({
                "id": guid_of(self.parts.seed, &format!("ual/{label}")),
                "createdDateTime": graph_time(at),
                "auditLogRecordType": "AzureActiveDirectoryStsLogon",
                "operation": operation,
                "userPrincipalName": upn,
                "userId": upn,
                "service": "AzureActiveDirectory",
                "clientIp": ip,
                "objectId": "",
                "userType": "Regular",
                "administrativeUnits": [],
                "auditData": {"@odata.type": "#microsoft.graph.security.auditData", "CreationTime": graph_time(at),
                    "Operation": operation, "UserId": upn, "ClientIP": ip, "Workload": "AzureActiveDirectory",
                    "ResultStatus": if status.0 == 0 { "Success" } else { "Failed" },
                    "ExtendedProperties": [{"Name": "UserAgent", "Value": if attacker { ATTACKER_UA } else { USER_UA }},
                        {"Name": "RequestType", "Value": "OAuth2:Authorize"}]},
            }));
        }
    }

    fn attacker_sign_in(
        &mut self,
        person: usize,
        at: DateTime<Utc>,
        address: usize,
        interactive: bool,
        status: (i64, &str, &str),
        session: Option<&str>,
    ) {
        let ip = self.address(address);
        let provider = self.provider(address);
        let client = if interactive {
            "Browser"
        } else {
            "Mobile Apps and Desktop clients"
        };
        self.sign_in(
            person,
            at,
            &ip,
            provider.asn,
            Self::location_of(provider),
            true,
            interactive,
            status,
            session,
            client,
        );
    }

    // ------------------------------------------------------------- audit trails

    #[allow(clippy::too_many_arguments)] // each is one field of the record written
    fn directory_audit(
        &mut self,
        at: DateTime<Utc>,
        activity: &str,
        service: &str,
        reason: &str,
        by: usize,
        ip: Option<&str>,
        target: Value,
        ua: Option<&str>,
    ) {
        let label = format!("audit/{activity}/{}/{}", at.timestamp(), self.audits.len());
        let p = &self.people[by];
        let details = match ua {
            Some(ua) => json!([{"key": "User-Agent", "value": ua}]),
            None => json!([]),
        };
        let category = if activity.contains("application") || activity.contains("Consent") {
            "ApplicationManagement"
        } else if activity.ends_with("to role") {
            "RoleManagement"
        } else {
            "UserManagement"
        };
        self.audits.push(json!({
            "id": format!("Directory_{}", guid_of(self.parts.seed, &label)),
            "activityDateTime": graph_time(at),
            "activityDisplayName": activity,
            "category": category,
            "loggedByService": service,
            "operationType": if activity.ends_with("to role") { "Assign" } else if activity.contains("deleted") { "Delete" } else if activity.contains("registered") || activity.contains("Consent") { "Add" } else { "Update" },
            "result": "success",
            "resultReason": reason,
            "correlationId": guid_of(self.parts.seed, &format!("{label}/correlation")),
            "additionalDetails": details,
            "initiatedBy": {"user": {"id": p.id, "displayName": null, "userPrincipalName": p.upn, "ipAddress": ip}},
            "targetResources": [target],
        }));
    }

    fn user_target(&self, person: usize) -> Value {
        let p = &self.people[person];
        json!({"id": p.id, "displayName": null, "type": "User", "userPrincipalName": p.upn, "modifiedProperties": []})
    }

    #[allow(clippy::too_many_arguments)] // each is one field of the record written
    fn exchange_record(
        &mut self,
        at: DateTime<Utc>,
        operation: &str,
        record_type: &str,
        by: usize,
        ip: &str,
        object: &str,
        data: Map<String, Value>,
    ) {
        let label = format!(
            "record/{operation}/{}/{}",
            at.timestamp(),
            self.records.len()
        );
        let upn = self.people[by].upn.clone();
        let mut audit = Map::new();
        audit.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.security.auditData"),
        );
        audit.insert("CreationTime".into(), json!(graph_time(at)));
        audit.insert("Operation".into(), json!(operation));
        audit.insert("UserId".into(), json!(upn));
        audit.insert("ClientIP".into(), json!(ip));
        audit.insert("Workload".into(), json!("Exchange"));
        audit.extend(data);
        self.records.push(json!({
            "id": guid_of(self.parts.seed, &label),
            "createdDateTime": graph_time(at),
            "auditLogRecordType": record_type,
            "operation": operation,
            "userPrincipalName": upn,
            "userId": upn,
            "service": "Exchange",
            "clientIp": ip,
            "objectId": object,
            "userType": "Regular",
            "administrativeUnits": [],
            "auditData": audit,
        }));
    }

    fn audited(&self, person: usize) -> bool {
        self.people[person].mailbox.get("auditEnabled") != Some(&json!(false))
    }

    /// `person` signs in from a hotel abroad on their own laptop for the last `days` days.
    fn abroad(&mut self, person: usize, label: &str, days: i64) {
        let hotel = HOTELS[(self.h(label) % HOTELS.len() as u64) as usize];
        let host = 40 + self.h(&format!("{label}/host")) % 150;
        let ip = if self.h(&format!("{label}/v6")) % 2 == 0 {
            format!("{}{host}", hotel.4)
        } else {
            format!("{}{host:x}", hotel.5)
        };
        self.people[person].away = Some(Away {
            ip: ip.clone(),
            asn: hotel.3,
            location: json!({"city": hotel.1, "state": hotel.2, "countryOrRegion": hotel.0,
                "geoCoordinates": {"altitude": null, "latitude": 38.7, "longitude": -9.1}}),
            days,
            also_office: false,
        });
        self.legit_address(&ip, Some(person), "a colleague's hotel while travelling");
    }

    /// A mail from `from` to `to` at `at`, sent from `ip`: the sender's Sent Items copy, each
    /// recipient's Inbox copy, and — with Audit (Premium), the only licence under which the
    /// mailbox audit records the owner's sends (spec/graph-behaviour.md, "Mail between
    /// accounts") — the `Send` record, which names the message by its Internet Message-ID, not
    /// its recipients.
    fn mail(
        &mut self,
        label: &str,
        from: usize,
        to: &[usize],
        at: DateTime<Utc>,
        ip: &str,
        subject: &str,
    ) {
        let internet_id = format!(
            "<{:016X}{:08X}@{}.prod.outlook.com>",
            self.h(&format!("mail/{label}")),
            self.h(&format!("mail/{label}/2")) as u32,
            ["AM9PR03MB7110", "DB8PR06MB6331", "PA4PR08MB6112"][(self.h(label) % 3) as usize]
        );
        let address = |p: &Person| json!({"emailAddress": {"name": p.name, "address": p.upn}});
        let sender = address(&self.people[from]);
        let recipients: Vec<Value> = to.iter().map(|p| address(&self.people[*p])).collect();
        let copy = |owner: usize, folder: &str, b: &Self| {
            let id = format!(
                "AAMkAGI2{:016x}{:016x}AAA=",
                b.h(&format!("mail/{label}/{owner}/{folder}")),
                b.h(&format!("mail/{label}/{owner}/{folder}/2"))
            );
            json!({
                "id": id, "subject": subject, "sentDateTime": graph_time(at),
                "receivedDateTime": graph_time(at), "createdDateTime": graph_time(at),
                "lastModifiedDateTime": graph_time(at), "bodyPreview": "",
                "body": {"contentType": "html", "content": "<html><body></body></html>"},
                "from": sender, "sender": sender, "toRecipients": recipients,
                "conversationId": format!("AAQkAGI2{:016x}=", b.h(&format!("mail/{label}/conversation"))),
                "internetMessageId": internet_id,
                "webLink": format!("https://outlook.office365.com/owa/?ItemID={id}"),
                "isRead": folder == "sentitems",
            })
        };
        let sent = copy(from, "sentitems", self);
        let sent_id = sent["id"].clone();
        self.file(from, "sentitems", sent);
        for p in to {
            let received = copy(*p, "inbox", self);
            self.file(*p, "inbox", received);
        }
        if self.audited(from) && self.parts.tenant.audit_premium {
            let from_id = self.people[from].id.clone();
            self.exchange_record(at, "Send", "ExchangeItem", from, ip, &from_id, {
                let mut m = Map::new();
                m.insert("Item".into(), json!({"Id": sent_id, "Subject": subject,
                    "ParentFolder": {"Path": "\\Sent Items"}, "InternetMessageId": internet_id, "SizeInBytes": 18_432}));
                m
            });
        }
    }

    /// Files `message` in `folder` of `person`'s mailbox (when the person has one).
    fn file(&mut self, person: usize, folder: &str, message: Value) {
        let mailbox = &mut self.people[person].mailbox;
        if mailbox.get("none") == Some(&json!(true)) {
            return;
        }
        let folders = mailbox.entry("folders").or_insert_with(|| json!({}));
        if let Some(folders) = folders.as_object_mut() {
            if let Some(list) = folders
                .entry(folder)
                .or_insert_with(|| json!([]))
                .as_array_mut()
            {
                list.push(message);
            }
        }
    }

    // ------------------------------------------------------------- the entry

    fn entry(&mut self) {
        let t0 = self.start;
        let session = self.guid("session/entry");
        let (ok_mfa, ok_token, single) = (
            (0, "Other.", "MFA completed in Azure AD"),
            (
                0,
                "Other.",
                "MFA requirement satisfied by claim in the token",
            ),
            (
                0,
                "Other.",
                "Single-factor authentication: no MFA method registered",
            ),
        );
        let mut knows_password = true;
        let mut holds_session = true;
        match self.parts.entry {
            Entry::Aitm => {
                self.attacker_sign_in(ENTRY, t0, 0, true, ok_mfa, Some(&session));
                self.attacker_sign_in(
                    ENTRY,
                    t0 + Duration::minutes(4),
                    1,
                    false,
                    ok_token,
                    Some(&session),
                );
                self.risk(ENTRY, t0, 0, "anomalousToken", "high");
            }
            Entry::PasswordSpray => {
                let targets: Vec<usize> =
                    (0..6).map(|i| self.person(&format!("spray/{i}"))).collect();
                for (i, target) in targets.iter().enumerate() {
                    let at = t0 - Duration::minutes(40) + Duration::minutes(i as i64 * 6);
                    self.attacker_sign_in(
                        *target,
                        at,
                        0,
                        true,
                        (
                            50126,
                            "Error validating credentials due to invalid username or password.",
                            "",
                        ),
                        None,
                    );
                    self.legit_user(*target, "the spray's password guess against it failed");
                }
                let ip = self.address(0);
                let provider = self.provider(0);
                self.sign_in(
                    ENTRY,
                    t0,
                    &ip,
                    provider.asn,
                    Self::location_of(provider),
                    true,
                    true,
                    single,
                    Some(&session),
                    "IMAP4",
                );
                self.risk(ENTRY, t0, 0, "passwordSpray", "high");
            }
            Entry::MfaFatigue => {
                let pushes = 5 + (self.h("pushes") % 10) as i64;
                for i in 0..pushes {
                    let at = t0 - Duration::minutes(2 * (pushes - i));
                    self.attacker_sign_in(
                        ENTRY,
                        at,
                        0,
                        true,
                        (
                            500121,
                            "Authentication failed during strong authentication request.",
                            "MFA denied; user declined the authentication",
                        ),
                        None,
                    );
                }
                self.attacker_sign_in(ENTRY, t0, 0, true, ok_mfa, Some(&session));
                self.risk(ENTRY, t0, 0, "unfamiliarFeatures", "medium");
            }
            Entry::ConsentPhishing => {
                knows_password = false;
                holds_session = false;
            }
            Entry::StolenAppSecret => {
                self.attacker_sign_in(ENTRY, t0, 0, true, single, Some(&session));
                self.risk(ENTRY, t0, 0, "unfamiliarFeatures", "medium");
            }
            Entry::HelpdeskReset => {
                // The real service desk resets the password from the office after a convincing
                // call, and clears the user's methods so that "she can set up her new phone".
                let reset_at = t0 - Duration::minutes(12);
                let target = self.user_target(ENTRY);
                self.directory_audit(
                    reset_at,
                    "Reset password",
                    "Core Directory",
                    "",
                    SERVICE_DESK,
                    None,
                    target.clone(),
                    None,
                );
                self.directory_audit(
                    reset_at,
                    "Reset password (by admin)",
                    "Self-service Password Management",
                    "",
                    SERVICE_DESK,
                    Some(OFFICE_IP),
                    target.clone(),
                    Some(USER_UA),
                );
                self.directory_audit(
                    reset_at + Duration::minutes(1),
                    "Admin deleted security info",
                    "Authentication Methods",
                    "Admin deleted Authenticator App with Notification and Code",
                    SERVICE_DESK,
                    Some(OFFICE_IP),
                    target,
                    Some(USER_UA),
                );
                self.people[ENTRY].methods.clear();
                self.legitimate_key.retain(|a| {
                    a.get("userId").and_then(Value::as_str) != Some(self.people[ENTRY].id.as_str())
                });
                self.attacker_sign_in(ENTRY, t0, 0, true, single, Some(&session));
                self.legit_user(SERVICE_DESK, "the service desk was deceived, not compromised: it reset the password from the office");
                self.legit_address(
                    OFFICE_IP,
                    None,
                    "the office, where the service desk made the reset",
                );
                self.notes.push("The entry was a call to the service desk: its reset is in the audit log, but the service desk account is not the attacker's.".into());
                // The attacker sets up an authenticator on the account it now holds.
                self.method(
                    ENTRY,
                    0,
                    MethodKind::Authenticator,
                    true,
                    t0 + Duration::minutes(3),
                );
            }
        }
        if holds_session {
            self.sessions.push(Session {
                person: ENTRY,
                id: session,
                since: t0,
                addresses: vec![0],
                knows_password,
            });
        }
    }

    fn risk(&mut self, person: usize, at: DateTime<Utc>, address: usize, kind: &str, level: &str) {
        if !self.parts.tenant.entra_id_p2 {
            return;
        }
        let ip = self.address(address);
        let location = Self::location_of(self.provider(address));
        let id = self.people[person].id.clone();
        self.risk_detections.push(json!({
            "id": format!("{:032x}", u128::from(self.h(&format!("risk/{id}/{kind}"))) << 64 | u128::from(self.h(&format!("risk2/{id}")))),
            "requestId": self.guid(&format!("risk/request/{id}/{kind}")),
            "correlationId": self.guid(&format!("risk/correlation/{id}/{kind}")),
            "riskEventType": kind, "riskState": "atRisk", "riskLevel": level, "riskDetail": "none",
            "source": "IdentityProtection", "detectionTimingType": "realtime", "activity": "signin",
            "tokenIssuerType": "AzureAD", "ipAddress": ip, "location": location,
            "activityDateTime": graph_time(at), "detectedDateTime": graph_time(at), "lastUpdatedDateTime": graph_time(at),
            "userId": id, "additionalInfo": "[]",
        }));
        if !self
            .risky_users
            .iter()
            .any(|r| r.get("id").and_then(Value::as_str) == Some(id.as_str()))
        {
            self.risky_users.push(json!({"id": id, "riskLevel": level, "riskState": "atRisk", "riskDetail": "none",
                "riskLastUpdatedDateTime": graph_time(at), "isDeleted": false, "isProcessing": false}));
        }
    }

    // ------------------------------------------------------------- spread

    fn hop(&mut self, i: usize, hop: Hop) {
        let at = self.between(
            &format!("hop/{i}"),
            self.start + Duration::minutes(10),
            self.now - Duration::minutes(30),
        );
        let ip = self.address(hop.address);
        match hop.via {
            Via::InternalPhish => {
                let target = self.person(&format!("hop/{i}"));
                let target_upn = self.people[target].upn.clone();
                let entry_id = self.people[ENTRY].id.clone();
                // The mail leaves through the entry's own session (its address), before the hop
                // is signed into; a consent-phishing entry holds no session and sends from the
                // hop's address through the app.
                let entry_session = self
                    .sessions
                    .iter()
                    .find(|s| s.person == ENTRY)
                    .map(|s| (s.since, s.addresses[0]));
                let (sent_at, sent_from) = match entry_session {
                    Some((since, address)) => (
                        (at - Duration::minutes(25)).max(since + Duration::minutes(2)),
                        self.address(address),
                    ),
                    None => (at - Duration::minutes(25), ip.clone()),
                };
                let at = at.max(sent_at + Duration::minutes(10));
                // The same mail reached colleagues who did not act on it; one of them is
                // sometimes abroad on their own laptop (a first-seen address that must not be
                // taken for the attacker's).
                let decoys: Vec<usize> = (0..1 + self.h(&format!("hop/{i}/decoys")) % 2)
                    .map(|d| self.person(&format!("hop/{i}/decoy/{d}")))
                    .collect();
                for (d, decoy) in decoys.iter().enumerate() {
                    self.legit_user(
                        *decoy,
                        "received the phishing mail from the compromised mailbox and did not act on it",
                    );
                    if d == 0 && self.h(&format!("hop/{i}/decoy-away")) % 2 == 0 {
                        self.abroad(*decoy, &format!("hop/{i}/decoy"), 3);
                    }
                }
                let mut to = vec![target];
                to.extend(&decoys);
                self.mail(
                    &format!("phish/{i}"),
                    ENTRY,
                    &to,
                    sent_at,
                    &sent_from,
                    "Shared: Q-end statement (action needed)",
                );
                // Ordinary mail around it: the entry's owner writing to a colleague from the
                // office, and a colleague writing to the hop from the office before the phish.
                let colleague = self.person(&format!("hop/{i}/colleague"));
                self.legit_user(
                    colleague,
                    "an ordinary correspondent of the compromised mailbox",
                );
                if self.h(&format!("hop/{i}/colleague-away")) % 3 == 0 {
                    self.abroad(colleague, &format!("hop/{i}/colleague"), 3);
                }
                let ordinary_at = self.between(
                    &format!("hop/{i}/ordinary"),
                    self.start.max(self.now - Duration::days(3)),
                    self.now - Duration::minutes(40),
                );
                self.mail(
                    &format!("ordinary/{i}"),
                    ENTRY,
                    &[colleague],
                    ordinary_at,
                    OFFICE_IP,
                    "Re: rota for next week",
                );
                let writer = self.person(&format!("hop/{i}/writer"));
                self.legit_user(writer, "wrote to a colleague the attacker later reached");
                self.mail(
                    &format!("writer/{i}"),
                    writer,
                    &[target],
                    sent_at - Duration::minutes(95),
                    OFFICE_IP,
                    "Minutes of Tuesday's meeting",
                );
                let session = self.guid(&format!("session/hop/{i}"));
                self.attacker_sign_in(
                    target,
                    at,
                    hop.address,
                    true,
                    (0, "Other.", "MFA completed in Azure AD"),
                    Some(&session),
                );
                self.risk(target, at, hop.address, "anomalousToken", "medium");
                self.hop_compromised(target, session, at, hop.address, true);
                self.lost.push(json!({"userId": entry_id, "what": "sent", "count": 1, "to": target_upn,
                    "description": "A phishing mail sent from the compromised mailbox to a colleague"}));
            }
            Via::AdminReset => {
                let target = self.person(&format!("hop/{i}"));
                // A new starter, no MFA yet: the attacker resets the password with the entry
                // account's User Administrator role and signs in.
                self.people[target].created = self.now - Duration::days(6);
                self.people[target].history_days = 4;
                self.people[target].methods.clear();
                let t = self.user_target(target);
                self.directory_audit(
                    at - Duration::minutes(6),
                    "Reset password",
                    "Core Directory",
                    "",
                    ENTRY,
                    None,
                    t.clone(),
                    None,
                );
                self.directory_audit(
                    at - Duration::minutes(6),
                    "Reset password (by admin)",
                    "Self-service Password Management",
                    "",
                    ENTRY,
                    Some(&ip),
                    t,
                    Some(ATTACKER_UA),
                );
                let session = self.guid(&format!("session/hop/{i}"));
                self.attacker_sign_in(
                    target,
                    at,
                    hop.address,
                    true,
                    (
                        0,
                        "Other.",
                        "Single-factor authentication: no MFA method registered",
                    ),
                    Some(&session),
                );
                self.hop_compromised(target, session, at, hop.address, true);
                // The password the attacker set is the attacker model's (knowsPassword), not an
                // artefact: the score reads it from the account.
                self.method(
                    target,
                    hop.address,
                    MethodKind::Authenticator,
                    true,
                    at + Duration::minutes(4),
                );
            }
            Via::Delegate => {
                let shared = self.shared_mailbox(&format!("hop/{i}"), "finance");
                let holder = self.people[ENTRY].upn.clone();
                self.people[shared].mailbox.insert(
                    "permissions".into(),
                    json!([{"user": holder, "accessRights": ["FullAccess"]}]),
                );
                let address = format!(
                    "{}@finance-archive{}.example",
                    self.people[shared]
                        .upn
                        .split('@')
                        .next()
                        .unwrap_or("finance"),
                    self.h("delegate") % 90
                );
                self.people[shared].mailbox.insert(
                    "forwardingSmtpAddress".into(),
                    json!(format!("smtp:{address}")),
                );
                self.people[shared]
                    .mailbox
                    .insert("deliverToMailboxAndForward".into(), json!(true));
                let object = self.people[shared].upn.clone();
                self.exchange_record(at, "Set-Mailbox", "ExchangeAdmin", ENTRY, &ip, &object, {
                    let mut m = Map::new();
                    m.insert("ObjectId".into(), json!(object));
                    m.insert(
                        "Parameters".into(),
                        json!([
                        {"Name": "Identity", "Value": object},
                        {"Name": "ForwardingSmtpAddress", "Value": format!("smtp:{address}")},
                        {"Name": "DeliverToMailboxAndForward", "Value": "True"}]),
                    );
                    m
                });
                let shared_id = self.people[shared].id.clone();
                self.attacker_key.push(json!({"kind": "mailboxForwarding", "userId": shared_id, "id": address,
                    "description": "The shared mailbox the entry account holds FullAccess on forwards outside, set with that right"}));
                let hours = ((self.now - at).num_minutes() / 60).max(1);
                self.lost.push(json!({"userId": shared_id, "what": "forwarded", "count": hours * 4, "to": address,
                    "description": "Mail the shared mailbox forwarded out before the exercise (about four an hour)"}));
                // The entry's own FullAccess is the path the attacker used but the account's own
                // business right: containing the account closes it, so the key lists it neither
                // as the attacker's nor as a look-alike (the response may keep or remove it).
            }
        }
    }

    fn hop_compromised(
        &mut self,
        person: usize,
        session: String,
        since: DateTime<Utc>,
        address: usize,
        knows_password: bool,
    ) {
        let id = self.people[person].id.clone();
        self.compromised_ids.push(id);
        self.sessions.push(Session {
            person,
            id: session,
            since,
            addresses: vec![address],
            knows_password,
        });
    }

    fn hop_person(&self, i: usize) -> Option<usize> {
        // Hop people are labelled `hop/<i>`; find the one with that user id.
        let id = self.guid(&format!("user/hop/{i}"));
        self.people.iter().position(|p| p.id == id)
    }

    // ------------------------------------------------------------- persistence

    fn persist(&mut self, item: &Persistence) {
        let person = match item.on {
            Who::Entry => ENTRY,
            Who::Hop(i) => match self.hop_person(i) {
                Some(p) if self.sessions.iter().any(|s| s.person == p) => p,
                _ => return,
            },
        };
        let session_start = self
            .sessions
            .iter()
            .find(|s| s.person == person)
            .map(|s| s.since)
            .unwrap_or(self.start);
        let label = format!("persist/{}/{:?}", self.people[person].id, item.kind);
        let at = self.between(
            &label,
            session_start + Duration::minutes(5),
            self.now - Duration::minutes(15),
        );
        // A role is given by the entry account, whichever account receives it.
        let actor = if item.kind == PersistKind::RoleMembership {
            ENTRY
        } else {
            person
        };
        if let Some(s) = self.sessions.iter_mut().find(|s| s.person == actor) {
            if !s.addresses.contains(&item.address) {
                s.addresses.push(item.address);
            }
        }
        match item.kind {
            PersistKind::Rule {
                action,
                hidden,
                deleted_again,
            } => self.rule(person, item.address, action, hidden, deleted_again, at),
            PersistKind::Forwarding { to_contact } => {
                self.forwarding(person, item.address, to_contact, at)
            }
            PersistKind::Method { kind, dated } => {
                self.method(person, item.address, kind, dated, at)
            }
            PersistKind::Consent => self.consent(person, item.address, at),
            PersistKind::AppCredential => self.app_credential(person, item.address, at),
            PersistKind::SendOnBehalf => self.send_on_behalf(person, item.address, at),
            PersistKind::RoleMembership => self.role_membership(person, item.address, at),
        }
    }

    fn rule(
        &mut self,
        person: usize,
        address: usize,
        action: RuleAction,
        hidden: bool,
        deleted_again: bool,
        at: DateTime<Utc>,
    ) {
        let ip = self.address(address);
        // Two rules on one mailbox never share an identity, whatever else they share.
        let h = self.h(&format!(
            "rule/{}/{action:?}/{hidden}/{deleted_again}/{}",
            self.people[person].id,
            self.people[person].rules.len()
        ));
        let names = [
            ". .",
            "..",
            ".",
            "_",
            "RSS Feeds sync",
            "Inbox cleanup",
            "\u{202e}xcod.eciovni",
        ];
        let name = names[(h % names.len() as u64) as usize].to_owned();
        let identity = format!(
            "{}",
            3_000_000_000_000_000_000u64 + (h % 1_000_000_000_000_000_000)
        );
        let (conditions, actions, words) = match action {
            RuleAction::HideInFolder => {
                let folder =
                    ["RSS Feeds", "Conversation History", "Archive"][(h >> 8) as usize % 3];
                (
                    json!({"bodyOrSubjectContains": ["payment", "invoice", "bank details", "remittance"]}),
                    json!({"moveToFolder": folder, "markAsRead": true, "stopProcessingRules": true}),
                    vec![
                        (
                            "BodyContainsWords",
                            "payment;invoice;bank details;remittance".to_owned(),
                        ),
                        ("MoveToFolder", folder.to_owned()),
                        ("MarkAsRead", "True".to_owned()),
                    ],
                )
            }
            RuleAction::DeleteWarnings => (
                json!({"subjectContains": ["security", "phish", "hacked", "suspicious", "password"]}),
                json!({"delete": true, "markAsRead": true, "stopProcessingRules": true}),
                vec![
                    (
                        "SubjectContainsWords",
                        "security;phish;hacked;suspicious;password".to_owned(),
                    ),
                    ("DeleteMessage", "True".to_owned()),
                ],
            ),
            RuleAction::ForwardOut => {
                let to = format!(
                    "{}.payments@{}",
                    local_of(&self.people[person].upn),
                    [
                        "outlook-mail.example",
                        "proton-box.example",
                        "gmaii.example"
                    ][(h >> 12) as usize % 3]
                );
                (
                    json!({"bodyOrSubjectContains": ["invoice", "payment"]}),
                    json!({"forwardTo": [to], "stopProcessingRules": false}),
                    vec![
                        ("BodyContainsWords", "invoice;payment".to_owned()),
                        ("ForwardTo", to),
                    ],
                )
            }
        };
        let upn = self.people[person].upn.clone();
        let mut parameters = vec![json!({"Name": "Name", "Value": name})];
        parameters.extend(words.iter().map(|(n, v)| json!({"Name": n, "Value": v})));
        if hidden {
            if self.audited(person) {
                self.exchange_record(at, "UpdateInboxRules", "ExchangeItem", person, &ip, &upn, {
                    let mut m = Map::new();
                    m.insert("OperationProperties".into(), json!([{"Name": "RuleName", "Value": name}, {"Name": "RuleActions", "Value": format!("{actions}")}]));
                    m
                });
            }
        } else {
            self.exchange_record(at, "New-InboxRule", "ExchangeAdmin", person, &ip, &upn, {
                let mut m = Map::new();
                m.insert("Parameters".into(), json!(parameters));
                m
            });
        }
        if deleted_again {
            self.exchange_record(
                at + Duration::minutes(20),
                "Remove-InboxRule",
                "ExchangeAdmin",
                person,
                &ip,
                &upn,
                {
                    let mut m = Map::new();
                    m.insert(
                        "Parameters".into(),
                        json!([{"Name": "Identity", "Value": format!("{upn}\\{identity}")}]),
                    );
                    m
                },
            );
            self.notes.push(format!("A rule '{name}' on {} was created and removed again by the attacker: only the audit log shows it.", self.people[person].name));
            return;
        }
        let priority = self.people[person].rules.len() + 1;
        self.people[person].rules.push(json!({
            "ruleIdentity": identity, "name": name, "priority": priority, "hidden": hidden, "enabled": true,
            "createdDateTime": graph_time(at), "conditions": conditions, "actions": actions,
        }));
        let what = match action {
            RuleAction::HideInFolder => "hiding payment mail",
            RuleAction::DeleteWarnings => "deleting security warnings",
            RuleAction::ForwardOut => "forwarding invoice mail outside",
        };
        self.attacker_key.push(json!({"kind": "inboxRule", "userId": self.people[person].id, "id": identity,
            "description": format!("{}rule '{name}' {what}, created from {ip}", if hidden { "Hidden " } else { "" })}));
        if action == RuleAction::ForwardOut {
            let hours = ((self.now - at).num_minutes() / 60).max(1);
            self.lost.push(json!({"userId": self.people[person].id, "what": "forwarded", "count": hours.min(200), "to": "outside (rule)",
                "description": format!("Invoice mail the rule '{name}' forwarded before the exercise")}));
        }
    }

    fn forwarding(&mut self, person: usize, address: usize, to_contact: bool, at: DateTime<Utc>) {
        let ip = self.address(address);
        let outside = format!(
            "{}.{}@{}",
            local_of(&self.people[person].upn),
            self.h("fwd") % 100,
            [
                "mail-archive.example",
                "securebox.example",
                "outlook-rnail.example"
            ][(self.h("fwd/domain") % 3) as usize]
        );
        let upn = self.people[person].upn.clone();
        let parameters = if to_contact {
            let contact = self.guid(&format!("contact/{}", self.people[person].id));
            let name = format!("{} (archive)", self.people[person].name);
            self.contacts.push(json!({"id": contact, "displayName": name, "mail": outside, "mailNickname": format!("archive{}", self.h("fwd") % 1000)}));
            self.people[person]
                .mailbox
                .insert("forwardingAddress".into(), json!(name));
            json!([{"Name": "ForwardingAddress", "Value": name}, {"Name": "DeliverToMailboxAndForward", "Value": "True"}])
        } else {
            self.people[person].mailbox.insert(
                "forwardingSmtpAddress".into(),
                json!(format!("smtp:{outside}")),
            );
            json!([{"Name": "ForwardingSmtpAddress", "Value": format!("smtp:{outside}")}, {"Name": "DeliverToMailboxAndForward", "Value": "True"}])
        };
        self.people[person]
            .mailbox
            .insert("deliverToMailboxAndForward".into(), json!(true));
        self.exchange_record(at, "Set-Mailbox", "ExchangeAdmin", person, &ip, &upn, {
            let mut m = Map::new();
            m.insert("Parameters".into(), parameters);
            m
        });
        let key_id = if to_contact {
            self.people[person]
                .mailbox
                .get("forwardingAddress")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        } else {
            outside.clone()
        };
        self.attacker_key.push(json!({"kind": "mailboxForwarding", "userId": self.people[person].id, "id": key_id,
            "description": format!("Mailbox forwarding to {outside}{}, set from {ip}", if to_contact { " through a mail contact" } else { "" })}));
        let hours = ((self.now - at).num_minutes() / 60).max(1);
        self.lost.push(json!({"userId": self.people[person].id, "what": "forwarded", "count": (hours * 4).min(2_000), "to": outside,
            "description": "Mail the mailbox forwarded out before the exercise (about four an hour)"}));
    }

    fn method(
        &mut self,
        person: usize,
        address: usize,
        kind: MethodKind,
        dated: bool,
        at: DateTime<Utc>,
    ) {
        let ip = self.address(address);
        let id = self.guid(&format!(
            "method/attacker/{}/{kind:?}",
            self.people[person].id
        ));
        let h = self.h(&id);
        // One phone of each type per account, as in Graph: the attacker's mobile phone takes the
        // alternate slot when the user's own mobile phone is there.
        let taken = |phone_type: &str, methods: &[Value]| {
            methods
                .iter()
                .any(|m| m.get("phoneType").and_then(Value::as_str) == Some(phone_type))
        };
        let (method, reason) = match kind {
            MethodKind::Authenticator => {
                let mut m = json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": id,
                    "displayName": (["Galaxy A14", "Redmi Note 12", "iPhone 11"][(h % 3) as usize]), "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2411.7123"});
                if dated {
                    m["createdDateTime"] = json!(graph_time(at));
                }
                (
                    m,
                    "User registered Authenticator App with Notification and Code",
                )
            }
            MethodKind::MobilePhone | MethodKind::AlternateMobilePhone => {
                let mut phone_type = if kind == MethodKind::MobilePhone {
                    "mobile"
                } else {
                    "alternateMobile"
                };
                if taken(phone_type, &self.people[person].methods) {
                    phone_type = if phone_type == "mobile" {
                        "alternateMobile"
                    } else {
                        "office"
                    };
                }
                if taken(phone_type, &self.people[person].methods) {
                    return;
                }
                let reason = match phone_type {
                    "mobile" => "User registered Mobile Phone SMS",
                    "alternateMobile" => "User registered Alternate Mobile Phone",
                    _ => "User registered Office Phone",
                };
                (
                    json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": id,
                        "phoneNumber": format!("+31 6 {:08}", h % 100_000_000), "phoneType": phone_type, "smsSignInState": "notSupported"}),
                    reason,
                )
            }
            MethodKind::Email => {
                if self.people[person]
                    .methods
                    .iter()
                    .any(|m| m.get("emailAddress").is_some())
                {
                    return;
                }
                (
                    json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": id,
                        "emailAddress": format!("{}.recovery@{}", local_of(&self.people[person].upn), ["mailbox.example", "inbox-secure.example"][(h % 2) as usize])}),
                    "User registered Email",
                )
            }
            MethodKind::SoftwareOath => {
                let mut m = json!({"@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod", "id": id, "secretKey": null});
                if dated {
                    m["createdDateTime"] = json!(graph_time(at));
                }
                (
                    m,
                    "User registered Authenticator App via software OATH token",
                )
            }
        };
        let target = self.user_target(person);
        self.directory_audit(
            at,
            "User registered security info",
            "Authentication Methods",
            reason,
            person,
            Some(&ip),
            target,
            Some(ATTACKER_UA),
        );
        self.people[person].methods.push(method);
        self.attacker_key.push(json!({"kind": "authenticationMethod", "userId": self.people[person].id, "id": id,
            "description": format!("{} registered by the attacker from {ip}{}", reason.trim_start_matches("User registered "), if dated { "" } else { " (Graph gives it no creation time)" })}));
    }

    fn consent(&mut self, person: usize, address: usize, at: DateTime<Utc>) {
        let sp = self.guid(&format!("sp/malicious/{}", self.people[person].id));
        let app_id = self.guid(&format!("app/malicious/{}", self.people[person].id));
        let h = self.h(&sp);
        let name = [
            "Micrоsoft Mail Sync Service",
            "DocuSign \"Secure\" Viewer <i>",
            "Adobe Acrobat Reader Online",
            "OneDrive Sharing Assistant",
        ][(h % 4) as usize];
        self.service_principals.push(json!({"id": sp, "appId": app_id, "displayName": name, "appDisplayName": name,
            "publisherName": "Partner Services", "appOwnerOrganizationId": self.guid("tenant/attacker"),
            "servicePrincipalType": "Application", "replyUrls": ["https://auth-callback.example/oauth"],
            "verifiedPublisher": {"displayName": null, "verifiedPublisherId": null, "addedDateTime": null}}));
        let grant = format!(
            "{}AAAAA",
            &self.guid(&format!("grant/{sp}")).replace('-', "")[..22]
        );
        let scope = if h % 2 == 0 {
            "Mail.ReadWrite offline_access User.Read"
        } else {
            "Mail.Read Files.ReadWrite.All offline_access User.Read"
        };
        self.grants.push(json!({"id": grant, "clientId": sp, "consentType": "Principal", "principalId": self.people[person].id,
            "resourceId": self.guid("sp/graph"), "scope": scope}));
        // A consent-phishing victim clicks "Accept" from home; an attacker holding the session
        // consents from its own address.
        let (ip, ua) = if self.parts.entry == Entry::ConsentPhishing && person == ENTRY {
            (self.people[ENTRY].home_ip.clone(), USER_UA)
        } else {
            (self.address(address), ATTACKER_UA)
        };
        self.directory_audit(at, "Consent to application", "Core Directory", "", person, Some(&ip),
            json!({"id": sp, "displayName": name, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": [
                {"displayName": "ConsentContext.IsAdminConsent", "oldValue": "", "newValue": "\"False\""},
                {"displayName": "ConsentAction.Permissions", "oldValue": "", "newValue": format!("\"Scope: {scope}\"")}]}), Some(ua));
        let id = self.people[person].id.clone();
        self.malicious_apps
            .push(json!({"servicePrincipalId": sp, "userId": id, "readsPerHour": 30}));
        // The app reads mail from the attacker's address.
        let reader = self.address(address);
        if self.audited(person) {
            let hours = ((self.now - at).num_hours()).clamp(1, 6);
            for k in 0..hours {
                let t = at + Duration::minutes(30 + 60 * k);
                self.exchange_record(
                    t,
                    "MailItemsAccessed",
                    "ExchangeItemAggregated",
                    person,
                    &reader,
                    "",
                    {
                        let mut m = Map::new();
                        m.insert("MailAccessType".into(), json!("Bind"));
                        m.insert("OperationCount".into(), json!(30));
                        m.insert(
                            "Folders".into(),
                            json!([{"Path": "\\Inbox", "FolderItems": 30}]),
                        );
                        m.insert("AppId".into(), json!(app_id));
                        m
                    },
                );
            }
        }
        self.attacker_key.push(
            json!({"kind": "oauth2PermissionGrant", "userId": id, "id": grant,
            "description": format!("Consent to '{name}' ({scope}), an unverified app")}),
        );
        self.attacker_key
            .push(json!({"kind": "servicePrincipal", "id": sp,
            "description": format!("The attacker's app '{name}': disable its service principal")}));
        let hours = ((self.now - at).num_hours()).max(1);
        self.lost.push(
            json!({"userId": id, "what": "read", "count": hours * 30, "to": name,
            "description": "Mail items the consented app read before the exercise"}),
        );
    }

    fn owned_app(&mut self, person: usize, label: &str, name: &str) -> (String, String, String) {
        let sp = self.guid(&format!("sp/{label}"));
        let object = self.guid(&format!("application/{label}"));
        let app_id = self.guid(&format!("appid/{label}"));
        let prod = self.guid(&format!("secret/{label}/prod"));
        self.service_principals.push(
            json!({"id": sp, "appId": app_id, "displayName": name, "appDisplayName": name,
            "appOwnerOrganizationId": self.tenant_id(), "servicePrincipalType": "Application"}),
        );
        self.applications.push(json!({"id": object, "appId": app_id, "displayName": name,
            "createdDateTime": graph_time(self.now - Duration::days(400)), "signInAudience": "AzureADMyOrg",
            "publisherDomain": self.domain, "passwordCredentials": [{"customKeyIdentifier": null, "displayName": format!("{}-prod", local_of(label)),
            "endDateTime": graph_time(self.now + Duration::days(300)), "hint": "q7R", "keyId": prod, "secretText": null,
            "startDateTime": graph_time(self.now - Duration::days(60))}], "keyCredentials": []}));
        // Whoever registers an app owns both its application object and its service principal.
        self.people[person].owned.push(sp.clone());
        self.people[person].owned.push(object.clone());
        self.legitimate_key.push(json!({"kind": "applicationCredential", "id": format!("{object}/{prod}"),
            "description": format!("The production secret of '{name}', which its integration signs in with")}));
        (object, prod, name.to_owned())
    }

    /// Adds a client secret to the application `object`.
    fn add_secret(&mut self, object: &str, secret: Value) {
        let list = self
            .applications
            .iter_mut()
            .find(|a| a.get("id").and_then(Value::as_str) == Some(object))
            .and_then(|app| app.get_mut("passwordCredentials"))
            .and_then(Value::as_array_mut);
        if let Some(list) = list {
            list.push(secret);
        }
    }

    fn app_credential(&mut self, person: usize, address: usize, at: DateTime<Utc>) {
        let ip = self.address(address);
        let (object, prod, name) = self.owned_app(person, "reports", "Contoso Reports Connector");
        let key = self.guid("secret/reports/attacker");
        self.add_secret(&object, json!({"customKeyIdentifier": null, "displayName": "reports-prod", "endDateTime": graph_time(at + Duration::days(730)),
            "hint": "Zx~", "keyId": key, "secretText": null, "startDateTime": graph_time(at)}));
        let old = format!("[\"[KeyIdentifier={prod},KeyType=Password,KeyUsage=Verify,DisplayName=reports-prod]\"]");
        let new = format!("[\"[KeyIdentifier={prod},KeyType=Password,KeyUsage=Verify,DisplayName=reports-prod]\", \"[KeyIdentifier={key},KeyType=Password,KeyUsage=Verify,DisplayName=reports-prod]\"]");
        self.directory_audit(at, "Update application – Certificates and secrets management ", "Core Directory", "", person, Some(&ip),
            json!({"id": object, "displayName": name, "type": "Application", "userPrincipalName": null, "modifiedProperties": [
                {"displayName": "KeyDescription", "oldValue": old, "newValue": new},
                {"displayName": "Included Updated Properties", "oldValue": null, "newValue": "\"KeyDescription\""}]}), Some(ATTACKER_UA));
        self.attacker_key.push(json!({"kind": "applicationCredential", "id": format!("{object}/{key}"),
            "description": format!("A second secret named like the production one on '{name}', added from {ip}")}));
        self.legitimate_key.push(
            json!({"kind": "applicationCredential", "id": format!("{object}/{prod}"),
            "description": format!("The production secret of '{name}'")}),
        );
    }

    fn send_on_behalf(&mut self, person: usize, address: usize, at: DateTime<Utc>) {
        let Some(other) = self
            .sessions
            .iter()
            .map(|s| s.person)
            .find(|p| *p != person)
        else {
            return;
        };
        let ip = self.address(address);
        let trustee = local_of(&self.people[other].upn).to_owned();
        let upn = self.people[person].upn.clone();
        self.people[person]
            .mailbox
            .insert("grantSendOnBehalfTo".into(), json!([trustee]));
        self.exchange_record(at, "Set-Mailbox", "ExchangeAdmin", person, &ip, &upn, {
            let mut m = Map::new();
            m.insert(
                "Parameters".into(),
                json!([{"Name": "GrantSendOnBehalfTo", "Value": trustee}]),
            );
            m
        });
        self.attacker_key.push(json!({"kind": "sendOnBehalf", "userId": self.people[person].id, "id": trustee,
            "description": format!("SendOnBehalf of this mailbox given to {}, another account the attacker holds", self.people[other].name)}));
    }

    /// The entry account, from the attacker's address, makes `person` a Global Administrator.
    fn role_membership(&mut self, person: usize, address: usize, at: DateTime<Utc>) {
        let ip = self.address(address);
        let role = self.roles.global_admin.clone();
        if self.people[person].member_of.contains(&role) {
            return;
        }
        self.people[person].member_of.push(role.clone());
        let target = self.role_target(person, &role, "Global Administrator", GLOBAL_ADMIN_TEMPLATE);
        self.directory_audit(
            at,
            "Add member to role",
            "Core Directory",
            "",
            ENTRY,
            Some(&ip),
            target,
            Some(ATTACKER_UA),
        );
        let name = self.people[person].name.clone();
        self.attacker_key.push(json!({"kind": "directoryRoleMembership", "userId": self.people[person].id, "id": role,
            "description": format!("{name} made a Global Administrator by the attacker, from {ip}")}));
    }

    /// The audit record's target for a role change: the user, with the role in its modified
    /// properties as Entra writes them (JSON strings inside strings).
    fn role_target(&self, person: usize, role: &str, name: &str, template: &str) -> Value {
        let mut target = self.user_target(person);
        let quoted = |v: &str| json!(format!("\"{v}\""));
        target["modifiedProperties"] = json!([
            {"displayName": "Role.ObjectID", "oldValue": null, "newValue": quoted(role)},
            {"displayName": "Role.DisplayName", "oldValue": null, "newValue": quoted(name)},
            {"displayName": "Role.TemplateId", "oldValue": null, "newValue": quoted(template)},
        ]);
        target
    }

    // ------------------------------------------------------------- the attacker's hours

    /// Token refreshes (and, on audited mailboxes, mail read) from each session's addresses in
    /// turn, from its start to the exercise.
    fn attacker_activity(&mut self) {
        let sessions: Vec<(usize, String, DateTime<Utc>, Vec<usize>)> = self
            .sessions
            .iter()
            .map(|s| (s.person, s.id.clone(), s.since, s.addresses.clone()))
            .collect();
        for (person, session, since, addresses) in sessions {
            let span = (self.now - since).num_minutes();
            let steps = (span / 60).clamp(1, 30);
            let every = (span / (steps + 1)).max(10);
            let mut read = 0;
            for k in 1..=steps {
                let at = since + Duration::minutes(every * k);
                if at >= self.now - Duration::minutes(5) {
                    break;
                }
                let address = addresses[k as usize % addresses.len()];
                self.attacker_sign_in(
                    person,
                    at,
                    address,
                    false,
                    (
                        0,
                        "Other.",
                        "MFA requirement satisfied by claim in the token",
                    ),
                    Some(&session),
                );
                if self.audited(person) {
                    let ip = self.address(address);
                    self.exchange_record(
                        at + Duration::minutes(2),
                        "MailItemsAccessed",
                        "ExchangeItemAggregated",
                        person,
                        &ip,
                        "",
                        {
                            let mut m = Map::new();
                            m.insert("MailAccessType".into(), json!("Bind"));
                            m.insert("OperationCount".into(), json!(12));
                            m.insert(
                                "Folders".into(),
                                json!([{"Path": "\\Inbox", "FolderItems": 12}]),
                            );
                            m
                        },
                    );
                    read += 12;
                }
            }
            if read > 0 {
                let id = self.people[person].id.clone();
                self.lost.push(json!({"userId": id, "what": "read", "count": read, "to": null,
                    "description": "Mail items the attacker's session read before the exercise (the audited part)"}));
            }
        }
    }

    // ------------------------------------------------------------- look-alikes

    fn noise(&mut self, i: usize, noise: Noise) {
        let label = format!("noise/{i}");
        let window_at = self.between(
            &label,
            self.start.max(self.now - Duration::days(6)),
            self.now - Duration::minutes(20),
        );
        match noise {
            Noise::Traveller => {
                let p = self.person(&label);
                let hotel = HOTELS[(self.h(&label) % HOTELS.len() as u64) as usize];
                let ip = if self.h(&label) % 2 == 0 {
                    format!("{}{}", hotel.4, 30 + i)
                } else {
                    format!("{}{:x}", hotel.5, 0x25 + i)
                };
                self.people[p].away = Some(Away {
                    ip: ip.clone(),
                    asn: hotel.3,
                    location: json!({"city": hotel.1, "state": hotel.2, "countryOrRegion": hotel.0, "geoCoordinates": {"altitude": null, "latitude": 38.7, "longitude": -9.1}}),
                    days: 3,
                    also_office: false,
                });
                self.legit_user(p, "travelling: hotel sign-ins abroad on the same laptop");
                self.legit_address(&ip, Some(p), "a colleague's hotel while travelling");
            }
            Noise::ProviderNeighbour => {
                let p = self.person(&label);
                let provider = self.provider(0);
                let attacker_hosts: Vec<u16> = self.parts.addresses.iter().map(|a| a.1).collect();
                let mut host = 251u16.saturating_sub(i as u16);
                while attacker_hosts.contains(&host) {
                    host -= 1;
                }
                let ip = format!("{}{host}", provider.v4);
                self.people[p].away = Some(Away {
                    ip: ip.clone(),
                    asn: provider.asn,
                    location: Self::location_of(provider),
                    days: 30,
                    also_office: true,
                });
                self.legit_user(
                    p,
                    "their VPN exit is on the attacker's provider, every day for a month",
                );
                self.legit_address(
                    &ip,
                    Some(p),
                    "a colleague's VPN exit on the attacker's provider",
                );
            }
            Noise::HelpdeskPhone => {
                let target = self.flagged();
                let has_attacker_authenticator = self.people[target].methods.iter().any(|m| {
                    m.get("@odata.type").and_then(Value::as_str)
                        == Some("#microsoft.graph.microsoftAuthenticatorAuthenticationMethod")
                        && self.attacker_key.iter().any(|a| a.get("id") == m.get("id"))
                });
                let id = self.guid(&format!("method/helpdesk/{label}"));
                let t = self.user_target(target);
                let (method, by, reason, ua, activity) = if has_attacker_authenticator
                    || self.people[target]
                        .methods
                        .iter()
                        .any(|m| m.get("phoneType").and_then(Value::as_str) == Some("office"))
                {
                    (
                        json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": id, "displayName": "iPhone 16",
                        "deviceTag": "SoftwareTokenActivated", "phoneAppVersion": "6.2411.7123", "createdDateTime": graph_time(window_at)}),
                        target,
                        "User registered Authenticator App with Notification and Code",
                        USER_UA,
                        "User registered security info",
                    )
                } else {
                    (
                        json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": id, "phoneNumber": "+44 20 7946 0123", "phoneType": "office", "smsSignInState": "notSupported"}),
                        SERVICE_DESK,
                        "Admin registered Office Phone",
                        USER_UA,
                        "Admin registered security info",
                    )
                };
                self.directory_audit(
                    window_at,
                    activity,
                    "Authentication Methods",
                    reason,
                    by,
                    Some(OFFICE_IP),
                    t,
                    Some(ua),
                );
                self.people[target].methods.push(method.clone());
                self.legit_method(
                    target,
                    &method,
                    "a new phone set up at the office during the incident window",
                );
                self.legit_address(OFFICE_IP, None, "the office");
            }
            Noise::VerifiedApp => {
                let sp = self.guid(&format!("sp/verified/{label}"));
                let app_id = self.guid(&format!("app/verified/{label}"));
                let (name, publisher) = [
                    ("Zoom", "Zoom Video Communications, Inc."),
                    ("Acrobat Sign", "Adobe Inc."),
                ][(self.h(&label) % 2) as usize];
                self.service_principals.push(json!({"id": sp, "appId": app_id, "displayName": name, "appDisplayName": name, "publisherName": publisher,
                    "appOwnerOrganizationId": self.guid(&format!("tenant/{name}")), "servicePrincipalType": "Application",
                    "verifiedPublisher": {"displayName": publisher, "verifiedPublisherId": format!("{}", 4_000_000 + self.h(&label) % 999_999), "addedDateTime": "2020-09-01T00:00:00Z"}}));
                let grant = format!(
                    "{}AAAAA",
                    &self.guid(&format!("grant/{sp}")).replace('-', "")[..22]
                );
                let who = ENTRY;
                self.grants.push(json!({"id": grant, "clientId": sp, "consentType": "Principal", "principalId": self.people[who].id,
                    "resourceId": self.guid("sp/graph"), "scope": "Mail.ReadWrite offline_access User.Read Calendars.ReadWrite"}));
                let home = self.people[who].home_ip.clone();
                self.directory_audit(window_at, "Consent to application", "Core Directory", "", who, Some(&home),
                    json!({"id": sp, "displayName": name, "type": "ServicePrincipal", "userPrincipalName": null, "modifiedProperties": []}), Some(USER_UA));
                self.legitimate_key.push(json!({"kind": "oauth2PermissionGrant", "userId": self.people[who].id, "id": grant,
                    "description": format!("Consent to {name} (verified publisher {publisher}) with the same mail permission, from home")}));
                self.legitimate_key.push(json!({"kind": "servicePrincipal", "id": sp, "description": format!("{name}, a verified app")}));
            }
            Noise::LeaveForwarding => {
                let away = self.person(&label);
                let cover = self.person(&format!("{label}/cover"));
                let to = self.people[cover].upn.clone();
                self.people[away]
                    .mailbox
                    .insert("forwardingSmtpAddress".into(), json!(format!("smtp:{to}")));
                self.people[away]
                    .mailbox
                    .insert("deliverToMailboxAndForward".into(), json!(true));
                let home = self.people[away].home_ip.clone();
                let upn = self.people[away].upn.clone();
                self.exchange_record(self.now - Duration::days(9), "Set-Mailbox", "ExchangeAdmin", away, &home, &upn, {
                    let mut m = Map::new();
                    m.insert("Parameters".into(), json!([{"Name": "ForwardingSmtpAddress", "Value": format!("smtp:{to}")}]));
                    m
                });
                self.legitimate_key.push(json!({"kind": "mailboxForwarding", "userId": self.people[away].id, "id": to,
                    "description": format!("{} forwards to {} while on leave", self.people[away].name, self.people[cover].name)}));
                self.legit_user(away, "on leave, forwarding to a colleague");
            }
            Noise::SimilarRules => {
                let who = self.flagged();
                let base = 2_000_000_000_000_000_000u64 + self.h(&label) % 1_000_000_000_000_000;
                let rules = [
                    (
                        "Newsletters",
                        json!({"fromAddresses": ["news@contoso-news.example"]}),
                        json!({"moveToFolder": "Newsletters", "stopProcessingRules": true}),
                    ),
                    (
                        "Invoices",
                        json!({"subjectContains": ["invoice"]}),
                        json!({"moveToFolder": "Invoices"}),
                    ),
                    (
                        "Inbox cleanup - tickets",
                        json!({"fromAddresses": ["noreply@helpdesk-tickets.example"]}),
                        json!({"moveToFolder": "Tickets", "markAsRead": true}),
                    ),
                ];
                for (k, (name, conditions, actions)) in rules.into_iter().enumerate() {
                    let identity = format!("{}", base + k as u64);
                    let priority = self.people[who].rules.len() + 1;
                    self.people[who].rules.push(json!({"ruleIdentity": identity, "name": name, "priority": priority, "hidden": false, "enabled": true,
                        "createdDateTime": graph_time(self.now - Duration::days(200 + 30 * k as i64)), "conditions": conditions, "actions": actions}));
                    self.legitimate_key.push(json!({"kind": "inboxRule", "userId": self.people[who].id, "id": identity,
                        "description": format!("{}'s own rule '{name}', from long before", self.people[who].name)}));
                }
            }
            Noise::RoutineReset => {
                let target = self.person(&label);
                let t = self.user_target(target);
                self.directory_audit(
                    window_at,
                    "Reset password",
                    "Core Directory",
                    "",
                    SERVICE_DESK,
                    None,
                    t.clone(),
                    None,
                );
                self.directory_audit(
                    window_at,
                    "Reset password (by admin)",
                    "Self-service Password Management",
                    "",
                    SERVICE_DESK,
                    Some(OFFICE_IP),
                    t,
                    Some(USER_UA),
                );
                self.legit_user(
                    target,
                    "locked out; the real service desk reset the password from the office",
                );
                self.legit_user(SERVICE_DESK, "the service desk's routine resets");
                self.legit_address(OFFICE_IP, None, "the office");
            }
            Noise::FailedTry => {
                let target = self.person(&label);
                let at = self.between(
                    &format!("{label}/at"),
                    self.start,
                    self.now - Duration::minutes(10),
                );
                self.attacker_sign_in(
                    target,
                    at,
                    0,
                    true,
                    (
                        50126,
                        "Error validating credentials due to invalid username or password.",
                        "",
                    ),
                    None,
                );
                self.legit_user(target, "the attacker's password try against it failed");
            }
            Noise::SecretRotation => {
                let (object, prod, name) = self.owned_app(ADMIN, "hrsync", "Contoso HR Sync");
                let key = self.guid("secret/hrsync/rotated");
                self.add_secret(&object, json!({"customKeyIdentifier": null, "displayName": "hrsync-2026", "endDateTime": graph_time(window_at + Duration::days(365)),
                    "hint": "Hr2", "keyId": key, "secretText": null, "startDateTime": graph_time(window_at)}));
                self.directory_audit(window_at, "Update application – Certificates and secrets management ", "Core Directory", "", ADMIN, Some(OFFICE_IP),
                    json!({"id": object, "displayName": name, "type": "Application", "userPrincipalName": null, "modifiedProperties": [
                        {"displayName": "KeyDescription", "oldValue": format!("[\"[KeyIdentifier={prod},KeyType=Password,KeyUsage=Verify,DisplayName=hrsync-prod]\"]"),
                         "newValue": format!("[\"[KeyIdentifier={prod},KeyType=Password,KeyUsage=Verify,DisplayName=hrsync-prod]\", \"[KeyIdentifier={key},KeyType=Password,KeyUsage=Verify,DisplayName=hrsync-2026]\"]")}]}), Some(USER_UA));
                self.legitimate_key.push(json!({"kind": "applicationCredential", "id": format!("{object}/{key}"),
                    "description": format!("The IT manager's planned secret rotation on '{name}', from the office")}));
            }
            Noise::RoleAssignment => {
                let colleague = self.person(&label);
                self.people[colleague].job = ("Messaging Administrator", "IT");
                let role = self.roles.exchange_admin.clone();
                self.people[colleague].member_of.push(role.clone());
                let target = self.role_target(
                    colleague,
                    &role,
                    "Exchange Administrator",
                    EXCHANGE_ADMIN_TEMPLATE,
                );
                self.directory_audit(
                    window_at,
                    "Add member to role",
                    "Core Directory",
                    "",
                    ENTRY,
                    Some(OFFICE_IP),
                    target,
                    Some(USER_UA),
                );
                let (name, owner) = (
                    self.people[colleague].name.clone(),
                    self.people[ENTRY].name.clone(),
                );
                self.legitimate_key.push(json!({"kind": "directoryRoleMembership", "userId": self.people[colleague].id, "id": role,
                    "description": format!("{name} made an Exchange Administrator by {owner}, from the office, as planned")}));
                self.legit_address(OFFICE_IP, None, "the office");
            }
            Noise::Assistant => {
                let manager = self.person(&label);
                let assistant = self.person(&format!("{label}/assistant"));
                let trustee = local_of(&self.people[assistant].upn).to_owned();
                self.people[manager]
                    .mailbox
                    .insert("grantSendOnBehalfTo".into(), json!([trustee]));
                self.legitimate_key.push(json!({"kind": "sendOnBehalf", "userId": self.people[manager].id, "id": trustee,
                    "description": format!("{} sends on behalf of {}, as an assistant", self.people[assistant].name, self.people[manager].name)}));
            }
        }
    }

    /// The account the alert names.
    fn flagged(&self) -> usize {
        self.parts
            .flagged_hop
            .and_then(|i| self.hop_person(i))
            .filter(|p| self.sessions.iter().any(|s| s.person == *p))
            .unwrap_or(ENTRY)
    }

    // ------------------------------------------------------------- the alert

    fn alert(&mut self) {
        let flagged = self.flagged();
        let at = self.between(
            "alert",
            (self.now - Duration::hours(3)).max(self.start + Duration::minutes(5)),
            self.now - Duration::minutes(5),
        );
        let session = self
            .sessions
            .iter()
            .find(|s| s.person == flagged)
            .map(|s| s.addresses[0]);
        let (title, category) = match (self.parts.entry, flagged == ENTRY) {
            (Entry::ConsentPhishing, true) => ("Suspicious OAuth app consent", "CredentialAccess"),
            (Entry::PasswordSpray, true) => ("Password spray", "CredentialAccess"),
            (Entry::MfaFatigue, true) => (
                "Suspicious MFA approval after repeated denials",
                "InitialAccess",
            ),
            (Entry::HelpdeskReset, true) => (
                "Sign-in from an unusual location after a password reset",
                "InitialAccess",
            ),
            _ => ("Anomalous token", "InitialAccess"),
        };
        let p = &self.people[flagged];
        let mut evidence = vec![json!({
            "@odata.type": "#microsoft.graph.security.userEvidence", "createdDateTime": graph_time(at), "verdict": "suspicious",
            "remediationStatus": "none", "remediationStatusDetails": null, "roles": [], "detailedRoles": [], "tags": [],
            "userAccount": {"accountName": local_of(&p.upn), "domainName": self.domain, "userSid": null, "azureAdUserId": p.id,
                            "userPrincipalName": p.upn, "displayName": p.name}})];
        if let Some(address) = session.filter(|_| self.h("alert/ip") % 3 != 0) {
            let ip = self.address(address);
            evidence.push(json!({"@odata.type": "#microsoft.graph.security.ipEvidence", "createdDateTime": graph_time(at), "verdict": "suspicious",
                "remediationStatus": "none", "remediationStatusDetails": null, "roles": [], "detailedRoles": [], "tags": [],
                "ipAddress": ip, "countryLetterCode": self.provider(address).country}));
        }
        let incident = format!("{}", 80_000 + self.h("incident") % 9_999);
        // The alert's first activity is the flagged account's own compromise (its session's
        // start), not the entry's when the alert names a second hop.
        let first = self
            .sessions
            .iter()
            .find(|s| s.person == flagged)
            .map_or(self.start, |s| s.since);
        self.alerts_and_incident(
            (first, at),
            title,
            category,
            &incident,
            evidence,
            &p.name.clone(),
        );
    }

    fn alerts_and_incident(
        &mut self,
        (first, at): (DateTime<Utc>, DateTime<Utc>),
        title: &str,
        category: &str,
        incident: &str,
        evidence: Vec<Value>,
        name: &str,
    ) {
        self.incident_alerts = Some((
            json!({"id": format!("{:032x}", u128::from(self.h("alert/id"))), "providerAlertId": self.guid("alert/provider"), "incidentId": incident,
                "createdDateTime": graph_time(at), "firstActivityDateTime": graph_time(first), "lastActivityDateTime": graph_time(at),
                "lastUpdateDateTime": graph_time(at), "title": title, "description": format!("{title} involving {name}."),
                "category": category, "severity": "medium", "status": "new", "serviceSource": "microsoftDefenderForCloudApps",
                "detectionSource": "cloudAppSecurity", "productName": "Microsoft Defender for Cloud Apps", "detectorId": "gen0001",
                "classification": "unknown", "determination": "unknown", "mitreTechniques": [], "evidence": evidence,
                "actorDisplayName": null, "threatDisplayName": null, "threatFamilyName": null, "recommendedActions": "", "comments": [], "systemTags": []}),
            json!({"id": incident, "displayName": format!("{title} involving {name}"), "createdDateTime": graph_time(at),
                "lastUpdateDateTime": graph_time(at), "severity": "medium", "status": "active", "classification": "unknown",
                "determination": "unknown", "assignedTo": null, "customTags": [], "systemTags": [], "comments": [],
                "description": title, "summary": null, "redirectIncidentId": null, "resolvingComment": null,
                "lastModifiedBy": "Microsoft 365 Defender-IncidentCorrelation"}),
        ));
    }
}

impl Builder<'_> {
    fn tenant_id(&self) -> String {
        self.guid("tenant")
    }

    // ------------------------------------------------------------- ordinary days

    /// Everyone's ordinary sign-ins: mornings at the office (or wherever they are away), some
    /// evenings from home; the rest of the staff written out for a small tenant, generated for
    /// larger ones.
    fn history(&mut self) {
        let explicit = match self.parts.size {
            Size::Small => self.parts.tenant.users as usize,
            Size::Org | Size::Large => 40,
        };
        let mut n = 0;
        while self.people.len() < explicit {
            let p = self.person(&format!("crowd/{n}"));
            self.people[p].history_days = 7;
            n += 1;
        }
        for p in 0..self.people.len() {
            let days = self.people[p].history_days;
            if days == 0 || self.people[p].shared {
                continue;
            }
            let h = self.h(&format!("history/{}", self.people[p].id));
            for d in 0..=days {
                let midnight = (self.now - Duration::days(d))
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc())
                    .unwrap_or(self.now);
                let morning =
                    midnight + Duration::minutes(7 * 60 + 45 + ((h >> (d % 40)) % 50) as i64);
                if morning >= self.now - Duration::minutes(10) || morning < self.people[p].created {
                    continue;
                }
                let away = self.people[p]
                    .away
                    .as_ref()
                    .filter(|a| d < a.days)
                    .map(|a| (a.ip.clone(), a.asn, a.location.clone(), a.also_office));
                let weekend = matches!(midnight.format("%u").to_string().as_str(), "6" | "7");
                let session = guid_of(
                    self.parts.seed,
                    &format!("session/{}/{d}", self.people[p].id),
                );
                let (ip, asn, location) = match &away {
                    Some((ip, asn, location, _)) => (ip.clone(), *asn, location.clone()),
                    None if weekend => (
                        self.people[p].home_ip.clone(),
                        self.people[p].home_asn,
                        Self::office_location(),
                    ),
                    None => (OFFICE_IP.to_owned(), OFFICE_ASN, Self::office_location()),
                };
                if weekend && away.is_none() && (h >> (d % 50)) % 3 != 0 {
                    continue;
                }
                let ok = (
                    0,
                    "Other.",
                    "MFA requirement satisfied by claim in the token",
                );
                self.sign_in(
                    p,
                    morning,
                    &ip,
                    asn,
                    location.clone(),
                    false,
                    true,
                    (0, "Other.", "MFA completed in Azure AD"),
                    Some(&session),
                    "Browser",
                );
                let noon = morning + Duration::minutes(300);
                if noon < self.now - Duration::minutes(10) {
                    self.sign_in(
                        p,
                        noon,
                        &ip,
                        asn,
                        location,
                        false,
                        false,
                        ok,
                        Some(&session),
                        "Mobile Apps and Desktop clients",
                    );
                }
                let evening = midnight + Duration::minutes(20 * 60 + (h % 60) as i64);
                if (h >> (d % 30)) % 3 == 0
                    && evening < self.now - Duration::minutes(10)
                    && away.is_none()
                {
                    let home = self.people[p].home_ip.clone();
                    let home_asn = self.people[p].home_asn;
                    self.sign_in(
                        p,
                        evening,
                        &home,
                        home_asn,
                        Self::office_location(),
                        false,
                        true,
                        (
                            0,
                            "Other.",
                            "MFA requirement satisfied by claim in the token",
                        ),
                        None,
                        "Browser",
                    );
                }
            }
        }
    }

    // ------------------------------------------------------------- the file

    fn finish(mut self) -> Value {
        let parts = self.parts;
        for id in self.compromised_ids.clone() {
            if let Some(p) = self.people.iter().position(|x| x.id == id) {
                let home = self.people[p].home_ip.clone();
                let name = self.people[p].name.clone();
                self.legit_address(&home, Some(p), &format!("{name}'s home connection"));
            }
        }
        self.legit_address(OFFICE_IP, None, "the office");
        let mut users = Vec::new();
        for p in &self.people {
            let mut user = json!({
                "id": p.id, "userPrincipalName": p.upn, "displayName": p.name, "jobTitle": p.job.0, "department": p.job.1,
                "createdDateTime": graph_time(p.created), "accountEnabled": p.enabled, "officeLocation": "London",
            });
            let has_mailbox = p.mailbox.get("none").is_none();
            if has_mailbox {
                user["mail"] = json!(p.upn);
            }
            let mut entry = json!({"user": user, "authenticationMethods": p.methods, "memberOf": p.member_of, "ownedObjects": p.owned});
            if has_mailbox {
                let mut mailbox = p.mailbox.clone();
                mailbox.insert("inboxRules".into(), json!(p.rules));
                entry["mailbox"] = Value::Object(mailbox);
            }
            users.push(entry);
        }
        let addresses: Vec<String> = (0..parts.addresses.len())
            .map(|i| self.address(i))
            .collect();
        let compromised: Vec<Value> = self
            .sessions
            .iter()
            .map(|s| {
                let last = s.addresses[s.addresses.len() - 1];
                json!({"userId": self.people[s.person].id, "sessionSince": graph_time(s.since), "readsPerHour": 12,
                       "sessionId": s.id, "knowsPassword": s.knows_password, "ipAddress": self.address(last),
                       // The session moves between every address it was used from, hour by hour.
                       "ipAddresses": s.addresses.iter().map(|a| self.address(*a)).collect::<Vec<_>>()})
            })
            .collect();
        let first = self.provider(0);
        let infrastructure = (0..parts.addresses.len())
            .map(|i| {
                format!(
                    "{} ({}, AS{})",
                    self.address(i),
                    self.provider(i).name,
                    self.provider(i).asn
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sp_graph = self.guid("sp/graph");
        let sp_exchange = self.guid("sp/exchange");
        let mut service_principals = vec![
            json!({"id": sp_graph, "appId": GRAPH_APP, "displayName": "Microsoft Graph", "appDisplayName": "Microsoft Graph",
                   "appOwnerOrganizationId": MICROSOFT_TENANT, "servicePrincipalType": "Application"}),
            json!({"id": sp_exchange, "appId": EXCHANGE, "displayName": "Office 365 Exchange Online", "appDisplayName": "Office 365 Exchange Online",
                   "appOwnerOrganizationId": MICROSOFT_TENANT, "servicePrincipalType": "Application"}),
            json!({"id": FIREBREAK_SP, "appId": FIREBREAK_APP, "displayName": "Firebreak incident response", "appDisplayName": "Firebreak incident response",
                   "servicePrincipalType": "Application"}),
        ];
        service_principals.append(&mut self.service_principals);
        let (alert, incident) = self
            .incident_alerts
            .take()
            .unwrap_or((Value::Null, Value::Null));
        let flagged = self.flagged();
        let briefing = format!(
            "{}. Defender raised “{}” for {} ({}). Nobody has looked at it yet. Contain the account, find where the attacker went, and leave everything legitimate in place.",
            self.now.format("%H:%M"),
            alert.get("title").and_then(Value::as_str).unwrap_or("an alert"),
            self.people[flagged].name,
            self.people[flagged].job.0,
        );
        let kind = format!("{:?}", parts.entry);
        let kind = format!("{}{}", kind[..1].to_lowercase(), &kind[1..]);
        let mut scenario = json!({
            "name": format!("generated-{}-{}", parts.seed, parts.size),
            "title": format!("A new incident (seed {}, {})", parts.seed, parts.size),
            "briefing": briefing,
            "now": graph_time(self.now),
            "tenant": {"id": self.tenant_id(), "domain": self.domain, "displayName": "Contoso Training",
                       "licences": {"entraIdP1": parts.tenant.entra_id_p1, "entraIdP2": parts.tenant.entra_id_p2, "auditPremium": parts.tenant.audit_premium}},
            "app": {"clientId": FIREBREAK_APP, "displayName": "Firebreak incident response",
                    "clientSecret": "training-only~generated.not-a-real-secret",
                    "roles": ["User.Read.All", "User.RevokeSessions.All", "User.EnableDisableAccount.All", "User-PasswordProfile.ReadWrite.All",
                              "UserAuthenticationMethod.ReadWrite.All", "MailboxSettings.ReadWrite", "Mail.ReadBasic.All", "Directory.Read.All",
                              "DelegatedPermissionGrant.ReadWrite.All", "Application.ReadWrite.All", "RoleManagement.ReadWrite.Directory", "AuditLog.Read.All", "IdentityRiskyUser.ReadWrite.All",
                              "IdentityRiskEvent.Read.All", "SecurityIncident.Read.All", "SecurityAlert.Read.All", "AuditLogsQuery.Read.All",
                              "Policy.Read.AuthenticationMethod", "Exchange.ManageAsApp"],
                    "entraRoles": ["Exchange Administrator", "Privileged Authentication Administrator", "Security Administrator"],
                    "delegatedScopes": ["User.Read", "User.Read.All", "User.RevokeSessions.All", "User.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All",
                                        "MailboxSettings.ReadWrite", "Mail.ReadBasic", "Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All",
                                        "Application.ReadWrite.All", "AuditLog.Read.All", "IdentityRiskyUser.ReadWrite.All", "IdentityRiskEvent.Read.All",
                                        "SecurityIncident.Read.All", "SecurityAlert.Read.All", "AuditLogsQuery.Read.All", "Policy.Read.AuthenticationMethod", "Exchange.Manage"],
                    "servicePrincipalId": FIREBREAK_SP},
            "users": users,
            "breakGlass": [self.people[BREAK_GLASS].upn],
            "directoryRoles": [
                {"id": self.roles.global_admin, "displayName": "Global Administrator", "description": "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"},
                {"id": self.roles.user_admin, "displayName": "User Administrator", "description": "Can manage all aspects of users and groups, including resetting passwords for limited admins.", "roleTemplateId": "fe930be7-5e62-47db-91af-98c3a49a38b1"},
                {"id": self.roles.exchange_admin, "displayName": "Exchange Administrator", "description": "Can manage all aspects of the Exchange product.", "roleTemplateId": "29232cdf-9323-42fd-ade2-1d097af3e4de"},
                {"id": self.roles.privileged_auth_admin, "displayName": "Privileged Authentication Administrator", "description": "Can access to view, set and reset authentication method information for any user (admin or non-admin).", "roleTemplateId": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"},
                {"id": self.roles.privileged_role_admin, "displayName": "Privileged Role Administrator", "description": "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.", "roleTemplateId": "e8611ab8-c189-46e8-94e1-60213ab1f814"},
            ],
            "contacts": self.contacts,
            "servicePrincipals": service_principals,
            "applications": self.applications,
            "oauth2PermissionGrants": self.grants,
            "signIns": self.sign_ins,
            "directoryAudits": self.audits,
            "riskyUsers": self.risky_users,
            "riskDetections": self.risk_detections,
            "incidents": [incident],
            "alerts": [alert],
            "auditRecords": self.records,
            "attacker": {
                "ipAddresses": addresses, "asn": first.asn, "location": Self::location_of(first),
                "deviceDetail": {"deviceId": "", "displayName": "", "operatingSystem": "Linux", "browser": "Chrome 131.0.0", "isCompliant": false, "isManaged": false, "trustType": ""},
                "compromised": compromised, "maliciousApps": self.malicious_apps,
                "newMethod": {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+31 6 98765432", "phoneType": "mobile"},
            },
            "answerKey": {
                "kind": kind, "compromisedUsers": self.compromised_ids, "attacker": self.attacker_key,
                "legitimate": self.legitimate_key, "legitimateAddresses": self.legitimate_addresses, "lost": self.lost,
                "notes": format!("{} The attacker's addresses: {}. {}", parts.summary(), infrastructure, self.notes.join(" ")),
            },
        });
        if parts.size != Size::Small && parts.tenant.users as usize > self.people.len() {
            let crowd = u64::from(parts.tenant.users) - self.people.len() as u64;
            scenario["generator"] = json!({"seed": parts.seed, "users": crowd, "days": 30, "signIns": crowd * 40, "auditRecords": crowd * 15});
        }
        scenario
    }
}

/// Small text helpers.
fn local_part(first: &str, last: &str) -> String {
    format!("{first}.{last}")
        .chars()
        .filter_map(|c| match c {
            'é' => Some('e'),
            'á' => Some('a'),
            'ë' => Some('e'),
            'ü' => Some('u'),
            c if c.is_ascii_alphanumeric() || c == '.' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn local_of(upn: &str) -> &str {
    upn.split('@').next().unwrap_or(upn)
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn guid_of(seed: u64, label: &str) -> String {
    let a = hash(seed, label);
    let b = hash(seed ^ 0x5bd1_e995, label);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}

trait WholeSeconds {
    fn with_nanosecond0(self) -> Self;
}

impl WholeSeconds for DateTime<Utc> {
    fn with_nanosecond0(self) -> Self {
        DateTime::from_timestamp(self.timestamp(), 0).unwrap_or(self)
    }
}
