//! Attribution: which network infrastructure is the attacker's, built from what every Entra ID P1
//! tenant has (sign-in logs with address, autonomous system number, country, client and session),
//! so that a tenant without Identity Protection (P2, whose risk levels read `hidden`) still gets an
//! answer, and an attacker who moves between addresses of one provider is still followed.
//!
//! [`attribute`] is a pure function. It starts from **seeds** — addresses a Defender alert's
//! evidence or the admin names, risky sign-ins and detections when P2 shows them, addresses a
//! sign-in pattern points to (the denied pushes of MFA fatigue, a spray's success) — and from two
//! rules that need no seed: a first-seen hosting or VPN network followed by signs of use (token
//! refreshes, a method registered, a consent) from a client the user never used or around an
//! alert; and a sign-in from any network this user had never used in the window, close to an
//! alert about the user, from a client the user never used, and from a country the user never
//! signed in from (or followed by a method or consent). From these it widens, each step written
//! down as evidence in plain words:
//!
//! - the /24 (IPv4) or /48 (IPv6) of an attacker address, unless the user usually signs in from
//!   that range or several other accounts did before the attacker arrived (an office or a shared
//!   gateway);
//! - the autonomous system of an attacker address, only when it is a known hosting or VPN network
//!   ([`KNOWN_NETWORKS`]) that neither the user nor several colleagues used before the attacker
//!   arrived — a residential or mobile ISP, where thousands of customers share the number, is
//!   never widened;
//! - the session (`sessionId`, beta) or correlation id of a sign-in from attacker infrastructure:
//!   a sign-in of the same session from another address is the token replayed there, unless that
//!   address is one the user usually signs in from (the user's own device in the stolen session).
//!
//! A sign-in then belongs to the attacker when its address, range, network or session is a member
//! ([`Infrastructure::match_sign_in`]); addresses are compared as parsed IP addresses, never as
//! text alone. Look-alikes that were considered and kept out are listed with why
//! ([`Infrastructure::kept_out`]), and what the logs could not show is said ([`Infrastructure::cannot_tell`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use firebreak_graph::logs::{SignIn, SignInEventType, SignInQuery};
use serde::{Deserialize, Serialize};

/// How many days of sign-ins Entra ID keeps with P1 or P2 (without P1 there are none to read).
pub const RETENTION_DAYS: i64 = 30;
/// Different days on which a user must have used a network before the attacker arrived for it to
/// be the user's usual one.
pub const USUAL_MIN_DAYS: usize = 3;
/// Other accounts that must have used a network before the attacker arrived for it to be a shared
/// one (an office, a company VPN): it is then never widened.
pub const SHARED_ACCOUNTS: usize = 3;
/// How long after a first-seen sign-in its signs of use are looked for.
const USE_WINDOW_HOURS: i64 = 24;
/// How long before an alert's first activity a sign-in counts as "around the alert".
const ALERT_BEFORE_HOURS: i64 = 6;
/// How long after an alert's first activity a sign-in counts as "around the alert".
const ALERT_AFTER_MINUTES: i64 = 60;
/// Widening rounds (an address found through a session brings its range, which may bring more).
const MAX_ROUNDS: usize = 4;

/// What a known network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Nature {
    /// Rented servers and cloud: people do not live there, attackers' proxies do.
    Hosting,
    /// A network commercial VPN and anonymising services are known to sign in from.
    Vpn,
}

/// A network whose nature is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownNetwork {
    /// Its autonomous system number.
    pub asn: i64,
    /// Its operator, as the registry names it.
    pub name: &'static str,
    /// Hosting or VPN.
    pub nature: Nature,
}

const fn net(asn: i64, name: &'static str, nature: Nature) -> KnownNetwork {
    KnownNetwork { asn, name, nature }
}

/// Well-known hosting and VPN networks. Deliberately small and conservative: a network missing
/// here only means its addresses are not widened to the whole number (the /24 still is). Where
/// each fact comes from is recorded in `spec/graph-behaviour.md` ("Attribution"). Microsoft's own
/// network (AS8075) and Cloudflare (AS13335, also iCloud Private Relay) are left out on purpose:
/// legitimate services and ordinary users sign in from them every day.
pub const KNOWN_NETWORKS: &[KnownNetwork] = &[
    net(14061, "DigitalOcean", Nature::Hosting),
    net(16509, "Amazon Web Services", Nature::Hosting),
    net(14618, "Amazon Web Services", Nature::Hosting),
    net(396_982, "Google Cloud", Nature::Hosting),
    net(31898, "Oracle Cloud", Nature::Hosting),
    net(24940, "Hetzner Online", Nature::Hosting),
    net(16276, "OVH", Nature::Hosting),
    net(20473, "The Constant Company (Vultr)", Nature::Hosting),
    net(63949, "Akamai Connected Cloud (Linode)", Nature::Hosting),
    net(51167, "Contabo", Nature::Hosting),
    net(45102, "Alibaba Cloud", Nature::Hosting),
    net(36352, "ColoCrossing", Nature::Hosting),
    net(53667, "FranTech Solutions (BuyVM)", Nature::Hosting),
    net(8100, "QuadraNet", Nature::Hosting),
    net(62240, "Clouvider", Nature::Hosting),
    net(9009, "M247", Nature::Vpn),
    net(60068, "Datacamp (CDN77)", Nature::Vpn),
    net(212_238, "Datacamp (CDN77)", Nature::Vpn),
    net(39351, "31173 Services (Mullvad)", Nature::Vpn),
    net(200_651, "FlokiNET", Nature::Vpn),
];

/// The known network of `asn`, if it is one.
pub fn known_network(asn: i64) -> Option<&'static KnownNetwork> {
    KNOWN_NETWORKS.iter().find(|n| n.asn == asn)
}

/// "AS14061 (DigitalOcean, a hosting provider)" or "AS3215".
pub fn describe_network(asn: i64) -> String {
    match known_network(asn) {
        Some(n) => format!(
            "AS{asn} ({}, {})",
            n.name,
            match n.nature {
                Nature::Hosting => "a hosting provider",
                Nature::Vpn => "a VPN and anonymiser network",
            }
        ),
        None => format!("AS{asn}"),
    }
}

/// An address parsed (IPv4-mapped IPv6 addresses are read as IPv4), so that two spellings of one
/// address compare equal.
pub fn parse_address(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// Whether two texts name the same address.
pub fn same_address(a: &str, b: &str) -> bool {
    match (parse_address(a), parse_address(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The canonical text of an address (or the trimmed text when it is not one).
fn canonical(text: &str) -> String {
    parse_address(text).map_or_else(|| text.trim().to_owned(), |ip| ip.to_string())
}

/// A range: the /24 of an IPv4 address, the /48 of an IPv6 one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    /// `203.0.113.0/24`, `2001:db8:1::/48`.
    pub cidr: String,
    /// The text every address of the range starts with as Graph writes it (`203.0.113.`), for a
    /// `startswith(ipAddress, …)` filter; none when the written form is not predictable (an IPv6
    /// prefix holding a zero group, which Graph may compress).
    pub prefix: Option<String>,
}

/// The range of an address.
pub fn range_of(text: &str) -> Option<Range> {
    match parse_address(text)? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(Range {
                cidr: format!("{a}.{b}.{c}.0/24"),
                prefix: Some(format!("{a}.{b}.{c}.")),
            })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(Range {
                cidr: format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]),
                prefix: (s[..3].iter().all(|g| *g != 0))
                    .then(|| format!("{:x}:{:x}:{:x}:", s[0], s[1], s[2])),
            })
        }
    }
}

/// Where a seed comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SeedSource {
    /// A Defender alert's evidence (`ipEvidence`).
    Alert,
    /// The admin (the case's indicators).
    Admin,
    /// Identity Protection (P2): a risky sign-in or a risk detection.
    IdentityProtection,
    /// A sign-in pattern (MFA fatigue, password spray).
    Pattern,
}

/// An address named as the attacker's before any widening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// Who names it.
    pub source: SeedSource,
    /// The address.
    pub address: String,
    /// When it was named or seen.
    pub at: Option<DateTime<Utc>>,
    /// Why, in plain words ("named by the Defender alert \"Anomalous Token\"").
    pub why: String,
}

/// Something done to the account from an address, besides signing in (a method registered, a
/// consent given): a sign of use of the network it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// When.
    pub at: DateTime<Utc>,
    /// From where.
    pub address: String,
    /// What, in plain words ("registered a sign-in method").
    pub what: String,
}

/// What attribution looks at.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The account's object id.
    pub user_id: &'a str,
    /// Its sign-ins over the retention window, interactive and non-interactive.
    pub user_sign_ins: &'a [SignIn],
    /// Other accounts' sign-ins that were read (the account's own are ignored here).
    pub tenant_sign_ins: &'a [SignIn],
    /// Addresses named as the attacker's.
    pub seeds: &'a [Seed],
    /// Other things done to the account, with their address.
    pub activities: &'a [Activity],
    /// Alerts about the account: (first activity, title).
    pub alerts: &'a [(DateTime<Utc>, String)],
    /// Whether other accounts' sign-ins could not be read at all (no sign-in log in the tenant):
    /// then no range is widened, for nothing tells whether colleagues use it.
    pub others_unread: bool,
}

/// What a member of the infrastructure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemberKind {
    /// One address.
    Address,
    /// A /24 or /48.
    Range,
    /// An autonomous system (hosting or VPN only).
    Network,
    /// A sign-in session (`sessionId` or `correlationId`).
    Session,
}

/// One member of the attacker's infrastructure, with the evidence that made it one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// What it is.
    pub kind: MemberKind,
    /// The address, `203.0.113.0/24`, `AS14061`, or the session id.
    pub value: String,
    /// Why it is the attacker's, in plain words (tenant strings inside: render as text).
    pub evidence: Vec<String>,
    /// The account's first sign-in from it in the window.
    #[serde(default)]
    pub first_seen: Option<DateTime<Utc>>,
    /// The autonomous system number, when the logs give it.
    #[serde(default)]
    pub asn: Option<i64>,
    /// The country or region the sign-ins from it were placed in.
    #[serde(default)]
    pub country: Option<String>,
    /// The clients used from it (operating system and browser, or user agent).
    #[serde(default)]
    pub clients: Vec<String>,
    /// For a range or network: addresses in it that another account uses as its own connection
    /// (a colleague's VPN exit): never matched, never named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
}

/// The attacker's infrastructure as far as the logs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Infrastructure {
    /// Addresses, ranges, networks and sessions, each with its evidence.
    pub members: Vec<Member>,
    /// The account's first sign-in from the infrastructure.
    #[serde(default)]
    pub first_seen: Option<DateTime<Utc>>,
    /// Look-alikes considered and kept out, with why.
    #[serde(default)]
    pub kept_out: Vec<String>,
    /// What the logs could not show, with why.
    #[serde(default)]
    pub cannot_tell: Vec<String>,
}

/// How a sign-in or an address matched the infrastructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The member that matched.
    pub kind: MemberKind,
    /// The member's value.
    pub member: String,
    /// Why, in plain words.
    pub why: String,
}

fn short_time(t: DateTime<Utc>) -> String {
    t.format("%-d %B %H:%M").to_string()
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%-d %B").to_string()
}

fn succeeded(s: &SignIn) -> bool {
    s.status
        .as_ref()
        .and_then(|st| st.error_code)
        .is_none_or(|c| c == 0)
}

/// The client of a sign-in: operating system and browser family from the device details, or the
/// user agent without its version numbers.
pub fn client_of(s: &SignIn) -> Option<String> {
    let device = s.device_detail.as_ref();
    let field = |key: &str| {
        device
            .and_then(|d| d.get(key))
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let browser = field("browser").and_then(|b| b.split_whitespace().next());
    match (field("operatingSystem"), browser) {
        (Some(os), Some(b)) => Some(format!("{os} / {b}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => s
            .user_agent
            .as_deref()
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_ascii_digit() && *c != '.' && *c != '_')
                    .collect::<String>()
            })
            .filter(|ua| !ua.trim().is_empty()),
    }
}

fn country_of(s: &SignIn) -> Option<String> {
    s.location
        .as_ref()
        .and_then(|l| l.country_or_region.clone())
        .filter(|c| !c.is_empty())
}

/// The session ids of a sign-in: its beta `sessionId` and its `correlationId`.
fn sessions_of(s: &SignIn) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(id) = s.session_id.as_deref().filter(|i| !i.is_empty()) {
        out.push(("sessionId", id.to_owned()));
    }
    if let Some(id) = s.correlation_id.as_deref().filter(|i| !i.is_empty()) {
        out.push(("correlationId", id.to_owned()));
    }
    out
}

/// One sign-in, read once.
#[derive(Debug, Clone)]
struct Seen<'a> {
    sign_in: &'a SignIn,
    at: DateTime<Utc>,
    ip: Option<IpAddr>,
    range: Option<Range>,
    asn: Option<i64>,
    ok: bool,
    account: String,
}

impl<'a> Seen<'a> {
    fn of(s: &'a SignIn, asns: &BTreeMap<IpAddr, i64>) -> Option<Self> {
        let at = s.created_date_time?;
        let ip = s.ip_address.as_deref().and_then(parse_address);
        Some(Self {
            sign_in: s,
            at,
            ip,
            range: s.ip_address.as_deref().and_then(range_of),
            asn: s
                .autonomous_system_number
                .filter(|n| *n > 0)
                .or_else(|| ip.and_then(|ip| asns.get(&ip).copied())),
            ok: succeeded(s),
            account: s
                .user_id
                .clone()
                .or_else(|| s.user_principal_name.clone())
                .unwrap_or_default()
                .to_lowercase(),
        })
    }
}

/// The account's history: whether it "usually" uses something, and whether others share it.
struct History<'a> {
    mine: Vec<Seen<'a>>,
    others: Vec<Seen<'a>>,
}

impl History<'_> {
    /// Days on which the account signed in successfully with `pred`, before `before`, from an
    /// address not attributed.
    fn usual_days(
        &self,
        before: DateTime<Utc>,
        attributed: &BTreeSet<IpAddr>,
        pred: &dyn Fn(&Seen) -> bool,
    ) -> BTreeSet<NaiveDate> {
        self.mine
            .iter()
            .filter(|s| s.ok && s.at < before)
            .filter(|s| s.ip.is_none_or(|ip| !attributed.contains(&ip)))
            .filter(|s| pred(s))
            .map(|s| s.at.date_naive())
            .collect()
    }

    fn usual(
        &self,
        before: DateTime<Utc>,
        attributed: &BTreeSet<IpAddr>,
        pred: &dyn Fn(&Seen) -> bool,
    ) -> bool {
        self.usual_days(before, attributed, pred).len() >= USUAL_MIN_DAYS
    }

    /// The other accounts for which `pred` is their own connection: each that signed in
    /// interactively with it, from an address not attributed, on at least [`USUAL_MIN_DAYS`]
    /// different days before `before` (a colleague's own VPN exit), with those days and the
    /// addresses it used. Interactive sign-ins only: a person signs in from their own connection
    /// day after day, while a stolen session on another account refreshes from the attacker's
    /// address without signing in again.
    fn usual_for_others(
        &self,
        before: DateTime<Utc>,
        attributed: &BTreeSet<IpAddr>,
        pred: &dyn Fn(&Seen) -> bool,
    ) -> Vec<(String, usize, BTreeSet<String>)> {
        let mut by: BTreeMap<&str, (BTreeSet<NaiveDate>, BTreeSet<String>)> = BTreeMap::new();
        for s in self.others.iter().filter(|s| s.ok && s.at < before) {
            let Some(ip) = s.ip else { continue };
            if attributed.contains(&ip) || s.sign_in.is_interactive == Some(false) || !pred(s) {
                continue;
            }
            let entry = by.entry(s.account.as_str()).or_default();
            entry.0.insert(s.at.date_naive());
            entry.1.insert(ip.to_string());
        }
        by.into_iter()
            .filter(|(_, (days, _))| days.len() >= USUAL_MIN_DAYS)
            .map(|(account, (days, ips))| (account.to_owned(), days.len(), ips))
            .collect()
    }

    /// Other accounts that signed in successfully with `pred` before `before`.
    fn shared_by(&self, before: DateTime<Utc>, pred: &dyn Fn(&Seen) -> bool) -> usize {
        self.others
            .iter()
            .filter(|s| s.ok && s.at < before && pred(s))
            .map(|s| s.account.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }
}

/// The infrastructure being built.
#[derive(Default)]
struct Builder {
    members: BTreeMap<(MemberKind, String), Member>,
    kept_out: Vec<String>,
    cannot_tell: Vec<String>,
}

impl Builder {
    fn has(&self, kind: MemberKind, value: &str) -> bool {
        self.members.contains_key(&(kind, value.to_owned()))
    }

    /// Adds a member or more evidence to it; true when the member is new.
    fn add(&mut self, kind: MemberKind, value: String, evidence: String) -> bool {
        let key = (kind, value.clone());
        if let Some(m) = self.members.get_mut(&key) {
            if !m.evidence.contains(&evidence) {
                m.evidence.push(evidence);
            }
            return false;
        }
        self.members.insert(
            key,
            Member {
                kind,
                value,
                evidence: vec![evidence],
                first_seen: None,
                asn: None,
                country: None,
                clients: Vec::new(),
                except: Vec::new(),
            },
        );
        true
    }

    /// Leaves `addresses` out of the member `(kind, value)`.
    fn except(&mut self, kind: MemberKind, value: &str, addresses: &BTreeSet<String>) {
        if let Some(m) = self.members.get_mut(&(kind, value.to_owned())) {
            for a in addresses {
                if !m.except.contains(a) {
                    m.except.push(a.clone());
                }
            }
        }
    }

    fn keep_out(&mut self, text: String) {
        if !self.kept_out.contains(&text) {
            self.kept_out.push(text);
        }
    }

    fn addresses(&self) -> BTreeSet<IpAddr> {
        self.members
            .values()
            .filter(|m| m.kind == MemberKind::Address)
            .filter_map(|m| parse_address(&m.value))
            .collect()
    }

    fn infrastructure(&self) -> Infrastructure {
        Infrastructure {
            members: self.members.values().cloned().collect(),
            first_seen: None,
            kept_out: self.kept_out.clone(),
            cannot_tell: self.cannot_tell.clone(),
        }
    }
}

/// Builds the attacker's infrastructure from what was read. Pure: the same evidence gives the
/// same answer.
pub fn attribute(ev: &Evidence<'_>) -> Infrastructure {
    // The ASN of each address, from any sign-in that carries one.
    let mut asns: BTreeMap<IpAddr, i64> = BTreeMap::new();
    for s in ev.user_sign_ins.iter().chain(ev.tenant_sign_ins) {
        if let (Some(ip), Some(asn)) = (
            s.ip_address.as_deref().and_then(parse_address),
            s.autonomous_system_number.filter(|n| *n > 0),
        ) {
            asns.entry(ip).or_insert(asn);
        }
    }
    let own = ev.user_id.to_lowercase();
    let mut mine: Vec<Seen> = ev
        .user_sign_ins
        .iter()
        .filter(|s| {
            s.user_id
                .as_deref()
                .is_none_or(|u| u.eq_ignore_ascii_case(ev.user_id))
        })
        .filter_map(|s| Seen::of(s, &asns))
        .collect();
    mine.sort_by_key(|s| s.at);
    let mut others: Vec<Seen> = ev
        .tenant_sign_ins
        .iter()
        .filter_map(|s| Seen::of(s, &asns))
        .filter(|s| s.account != own && !s.account.is_empty())
        .collect();
    others.sort_by_key(|s| s.at);
    let history = History { mine, others };
    let mut b = Builder::default();

    // 1. Seeds.
    for seed in ev.seeds {
        if parse_address(&seed.address).is_none() {
            b.cannot_tell.push(format!(
                "\"{}\" ({}) is not an IP address, so it was not used.",
                seed.address, seed.why
            ));
            continue;
        }
        b.add(
            MemberKind::Address,
            canonical(&seed.address),
            seed.why.clone(),
        );
    }

    // 2. Rules that need no seed.
    discover(&history, ev, &mut b);

    // When the attacker arrived, as far as the seeds tell: widening compares with before then.
    let attributed = b.addresses();
    let arrived = history
        .mine
        .iter()
        .filter(|s| s.ip.is_some_and(|ip| attributed.contains(&ip)))
        .map(|s| s.at)
        .chain(ev.seeds.iter().filter_map(|s| s.at))
        .min()
        // No dated seed and no sign-in from the addresses: an alert dates the arrival; with no
        // sign-in read at all (Entra ID Free) there is nothing to compare with, so any instant
        // widens alike.
        .or_else(|| ev.alerts.iter().map(|(at, _)| *at).min())
        .or_else(|| {
            (history.mine.is_empty() && history.others.is_empty())
                .then_some(DateTime::<Utc>::MAX_UTC)
        });
    if let Some(arrived) = arrived {
        for _ in 0..MAX_ROUNDS {
            if !widen(&history, arrived, !ev.others_unread, &mut b) {
                break;
            }
        }
    }

    let mut infra = b.infrastructure();
    describe_members(&mut infra, &history);
    infra
}

/// The rules that attribute without a seed: around an alert, and first-seen hosting in use.
fn discover(history: &History, ev: &Evidence, b: &mut Builder) {
    let seeded = b.addresses();
    let mut judged: BTreeSet<IpAddr> = BTreeSet::new();
    for (i, s) in history.mine.iter().enumerate() {
        let Some(ip) = s.ip else { continue };
        if !s.ok || seeded.contains(&ip) || judged.contains(&ip) {
            continue;
        }
        let before = &history.mine[..i];
        let new_network = match s.asn {
            Some(asn) => !before.iter().any(|p| p.ok && p.asn == Some(asn)),
            None => !before.iter().any(|p| p.ok && p.range == s.range),
        };
        if !new_network {
            continue;
        }
        judged.insert(ip);
        let client = client_of(s.sign_in);
        let usual_client = client.as_ref().is_some_and(|c| {
            before
                .iter()
                .any(|p| p.ok && client_of(p.sign_in).as_ref() == Some(c))
        });
        let alert = ev.alerts.iter().find(|(at, _)| {
            s.at >= *at - Duration::hours(ALERT_BEFORE_HOURS)
                && s.at <= *at + Duration::minutes(ALERT_AFTER_MINUTES)
        });
        let hosting = s.asn.and_then(known_network);
        let network = s.asn.map_or_else(
            || {
                s.range
                    .as_ref()
                    .map_or_else(|| "an unknown network".into(), |r| r.cidr.clone())
            },
            describe_network,
        );
        let place = country_of(s.sign_in)
            .map(|c| format!(" in {c}"))
            .unwrap_or_default();
        let (refreshes, acts) = signs_of_use(history, s, ev.activities);
        let first = format!(
            "{ip}: {network}{place}, never seen for this user before {}",
            short_time(s.at)
        );
        let client_text = match (&client, usual_client) {
            (Some(c), false) => format!(", from a client the user had never used ({c})"),
            (Some(c), true) => format!(", from the user's usual client ({c})"),
            (None, _) => String::new(),
        };
        let mut uses: Vec<String> = Vec::new();
        if refreshes > 0 {
            uses.push(format!(
                "{refreshes} token refresh(es) from the same network"
            ));
        }
        uses.extend(acts.iter().cloned());
        let uses_text = if uses.is_empty() {
            String::new()
        } else {
            format!("; then {}", uses.join(", "))
        };
        let alert_text = alert
            .map(|(at, title)| format!("; around the alert \"{title}\" of {}", short_time(*at)))
            .unwrap_or_default();
        let strong_use = !acts.is_empty();
        let new_country = country_of(s.sign_in).is_some_and(|c| {
            !before
                .iter()
                .any(|p| p.ok && country_of(p.sign_in).as_ref() == Some(&c))
        });
        let attacker = match hosting {
            Some(_) => {
                (refreshes > 0 || strong_use) && (!usual_client || alert.is_some() || strong_use)
            }
            // Not hosting: only around an alert, from a client the user never used, and from a
            // country the user never signed in from or followed by a method or consent (a new
            // phone on the user's own mobile network is not enough).
            None => {
                alert.is_some() && client.is_some() && !usual_client && (new_country || strong_use)
            }
        };
        if attacker {
            b.add(
                MemberKind::Address,
                ip.to_string(),
                format!("{first}{client_text}{alert_text}{uses_text}."),
            );
        } else if hosting.is_some() || alert.is_some() {
            let why = if usual_client {
                "the user's own browser and device, so it looks like the user (travel, a new connection or VPN); ask the user"
            } else if client.is_none() {
                "the log names no client to compare with the user's"
            } else if hosting.is_none() {
                "a new device in the user's own country and nothing done from it; ask the user whether it is theirs"
            } else {
                "no sign of use followed"
            };
            b.keep_out(format!(
                "{first}{client_text}{alert_text}{uses_text}: not attributed — {why}."
            ));
        }
    }
}

/// Token refreshes of the account from the network of `s` (same address, range, hosting network
/// or session) within a day after it, and other activities from its address or range.
fn signs_of_use(history: &History, s: &Seen, activities: &[Activity]) -> (usize, Vec<String>) {
    let until = s.at + Duration::hours(USE_WINDOW_HOURS);
    let sessions: BTreeSet<String> = sessions_of(s.sign_in)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let hosting_asn = s.asn.filter(|a| known_network(*a).is_some());
    let refreshes = history
        .mine
        .iter()
        .filter(|n| n.ok && n.at > s.at && n.at <= until)
        .filter(|n| n.sign_in.is_interactive == Some(false))
        .filter(|n| {
            (n.ip.is_some() && n.ip == s.ip)
                || (n.range.is_some() && n.range == s.range)
                || (hosting_asn.is_some() && n.asn == hosting_asn)
                || sessions_of(n.sign_in)
                    .iter()
                    .any(|(_, id)| sessions.contains(id))
        })
        .count();
    let acts = activities
        .iter()
        .filter(|a| a.at >= s.at && a.at <= until)
        .filter(|a| {
            let ip = parse_address(&a.address);
            (ip.is_some() && ip == s.ip)
                || (range_of(&a.address).is_some() && range_of(&a.address) == s.range)
        })
        .map(|a| format!("{} from {} at {}", a.what, a.address, short_time(a.at)))
        .collect();
    (refreshes, acts)
}

/// One widening round: ranges, networks and sessions of the attacker addresses, then the
/// account's sign-ins they bring in. True when something was added.
fn widen(history: &History, arrived: DateTime<Utc>, others_read: bool, b: &mut Builder) -> bool {
    let mut changed = false;
    let attributed = b.addresses();
    let anchors: Vec<(IpAddr, Option<&Seen>)> = attributed
        .iter()
        .map(|ip| {
            (
                *ip,
                history
                    .mine
                    .iter()
                    .find(|s| s.ip == Some(*ip))
                    .or_else(|| history.others.iter().find(|s| s.ip == Some(*ip))),
            )
        })
        .collect();
    for (ip, seen) in &anchors {
        let when = history
            .mine
            .iter()
            .find(|s| s.ip == Some(*ip))
            .map(|s| format!(" seen at {}", short_time(s.at)))
            .unwrap_or_default();
        // The range.
        if let Some(range) = range_of(&ip.to_string()) {
            if !b.has(MemberKind::Range, &range.cidr) {
                let in_range = |s: &Seen| s.range.as_ref() == Some(&range);
                let shared = history.shared_by(arrived, &in_range);
                if history.usual(arrived, &attributed, &in_range) {
                    b.keep_out(format!(
                        "{}: the user usually signs in from this range, so only {ip} itself is taken as the attacker's.",
                        range.cidr
                    ));
                } else if !others_read {
                    b.cannot_tell.push(format!(
                        "{}: not taken as the attacker's — the other accounts' sign-ins cannot be read here, so whether colleagues use this range cannot be told; only {ip} itself is.",
                        range.cidr
                    ));
                } else if shared >= SHARED_ACCOUNTS {
                    b.keep_out(format!(
                        "{}: {shared} other accounts signed in from this range before {}, so it is a shared network; only {ip} itself is taken as the attacker's.",
                        range.cidr,
                        short_time(arrived)
                    ));
                } else {
                    changed |= b.add(
                        MemberKind::Range,
                        range.cidr.clone(),
                        format!("the range of {ip}{when}"),
                    );
                    for (other, days, ips) in
                        history.usual_for_others(arrived, &attributed, &in_range)
                    {
                        b.except(MemberKind::Range, &range.cidr, &ips);
                        b.keep_out(format!(
                            "{} in {}: {other} signed in from it on {days} days before {} (their own connection), so it is not taken as the attacker's.",
                            ips.iter().cloned().collect::<Vec<_>>().join(", "),
                            range.cidr,
                            short_time(arrived)
                        ));
                    }
                }
            }
        }
        // The network.
        let asn = seen.and_then(|s| s.asn);
        if let Some(asn) = asn {
            let value = format!("AS{asn}");
            if !b.has(MemberKind::Network, &value) {
                let in_network = |s: &Seen| s.asn == Some(asn);
                let shared = history.shared_by(arrived, &in_network);
                if known_network(asn).is_none() {
                    b.keep_out(format!(
                        "AS{asn} (of {ip}) is not a known hosting or VPN network: many people may share it, so its other addresses are not taken as the attacker's."
                    ));
                } else if history.usual(arrived, &attributed, &in_network) {
                    b.keep_out(format!(
                        "{}: the user usually signs in from this network, so only the attacker's own addresses in it count.",
                        describe_network(asn)
                    ));
                } else if shared >= SHARED_ACCOUNTS {
                    b.keep_out(format!(
                        "{}: {shared} other accounts signed in from it before {} (a company VPN or cloud service?), so it is not widened.",
                        describe_network(asn),
                        short_time(arrived)
                    ));
                } else {
                    let first_for_user = history
                        .mine
                        .iter()
                        .find(|s| s.ok && s.asn == Some(asn))
                        .map_or_else(
                            || "not seen for this user in the window".to_owned(),
                            |s| format!("never seen for this user before {}", day(s.at)),
                        );
                    changed |= b.add(
                        MemberKind::Network,
                        value.clone(),
                        format!(
                            "{}, {first_for_user}; the network of {ip}{when}",
                            describe_network(asn)
                        ),
                    );
                    for (other, days, ips) in
                        history.usual_for_others(arrived, &attributed, &in_network)
                    {
                        b.except(MemberKind::Network, &value, &ips);
                        b.keep_out(format!(
                            "{} in {}: {other} signed in from it on {days} days before {} (their own connection), so it is not taken as the attacker's.",
                            ips.iter().cloned().collect::<Vec<_>>().join(", "),
                            describe_network(asn),
                            short_time(arrived)
                        ));
                    }
                }
            }
        }
        // The sessions.
        for s in history.mine.iter().filter(|s| s.ip == Some(*ip)) {
            for (property, id) in sessions_of(s.sign_in) {
                changed |= b.add(
                    MemberKind::Session,
                    id,
                    format!("the sign-in from {ip} at {} ({property})", short_time(s.at)),
                );
            }
        }
    }

    // The account's sign-ins the new members bring in.
    let current = b.infrastructure();
    for s in &history.mine {
        let Some(ip) = s.ip else { continue };
        if attributed.contains(&ip) || b.has(MemberKind::Address, &ip.to_string()) {
            continue;
        }
        let Some(m) = current.match_seen(s) else {
            continue;
        };
        if m.kind == MemberKind::Session {
            let same_ip = |x: &Seen| x.ip == Some(ip);
            if history.usual(s.at, &attributed, &same_ip) {
                b.keep_out(format!(
                    "{ip} shares a session with the attacker but is where the user usually signs in: the user's own device in the stolen session, not the attacker's."
                ));
                continue;
            }
            changed |= b.add(
                MemberKind::Address,
                ip.to_string(),
                format!(
                    "token used from {ip} at {} in {}: replayed from another address",
                    short_time(s.at),
                    m.why
                ),
            );
        } else {
            changed |= b.add(
                MemberKind::Address,
                ip.to_string(),
                format!("signed in at {}: {}", short_time(s.at), m.why),
            );
        }
    }
    changed
}

/// Fills in first-seen times, ASN, country and clients of each member from the account's
/// sign-ins, and the infrastructure's first-seen time.
fn describe_members(infra: &mut Infrastructure, history: &History) {
    let probe = infra.clone();
    for m in &mut infra.members {
        let from: Vec<&Seen> = history
            .mine
            .iter()
            .filter(|s| probe.member_matches(m, s))
            .collect();
        m.first_seen = from.iter().map(|s| s.at).min();
        if m.kind == MemberKind::Address {
            m.asn = from.iter().find_map(|s| s.asn).or_else(|| {
                history
                    .others
                    .iter()
                    .find(|s| s.ip.map(|ip| ip.to_string()) == Some(m.value.clone()))
                    .and_then(|s| s.asn)
            });
        } else if m.kind == MemberKind::Network {
            m.asn = m.value.trim_start_matches("AS").parse().ok();
        }
        m.country = from.iter().find_map(|s| country_of(s.sign_in));
        let clients: BTreeSet<String> = from.iter().filter_map(|s| client_of(s.sign_in)).collect();
        m.clients = clients.into_iter().collect();
    }
    infra.first_seen = infra
        .members
        .iter()
        .filter(|m| m.kind != MemberKind::Session)
        .filter_map(|m| m.first_seen)
        .min();
}

impl Infrastructure {
    /// An infrastructure of plain addresses, for cases journaled before attribution existed.
    pub fn from_addresses(addresses: &[String]) -> Self {
        Self::of_addresses(addresses, "recorded as the attacker's address at triage")
    }

    /// An infrastructure of plain addresses, each with the same evidence.
    pub fn of_addresses(addresses: &[String], why: &str) -> Self {
        Self {
            members: addresses
                .iter()
                .filter(|a| parse_address(a).is_some())
                .map(|a| Member {
                    kind: MemberKind::Address,
                    value: canonical(a),
                    evidence: vec![why.to_owned()],
                    first_seen: None,
                    asn: None,
                    country: None,
                    clients: Vec::new(),
                    except: Vec::new(),
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Adds the addresses not yet matched as address members with `why` as their evidence.
    pub fn add_addresses(&mut self, addresses: &[String], why: &str) {
        let new: Vec<String> = addresses
            .iter()
            .filter(|a| self.match_address(a).is_none())
            .cloned()
            .collect();
        self.members.extend(Self::of_addresses(&new, why).members);
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The attacker's addresses (canonical text).
    pub fn addresses(&self) -> Vec<String> {
        self.members_of(MemberKind::Address)
            .map(|m| m.value.clone())
            .collect()
    }

    /// The sign-in reads that find every account's sign-ins (interactive and non-interactive)
    /// from the infrastructure since `since`: one per range Graph can search by prefix, and one
    /// per address whose range it cannot. Each is named by the range or address it covers.
    pub fn sign_in_searches(&self, since: DateTime<Utc>) -> Vec<(String, SignInQuery)> {
        let query = |ip_prefix: Option<String>, ip_address: Option<String>| SignInQuery {
            ip_prefix,
            ip_address,
            since: Some(since),
            event_types: vec![
                SignInEventType::InteractiveUser,
                SignInEventType::NonInteractiveUser,
            ],
            ..SignInQuery::default()
        };
        let ranges = self.ranges();
        let mut searches: Vec<(String, SignInQuery)> = ranges
            .iter()
            .filter_map(|r| {
                r.prefix
                    .as_ref()
                    .map(|p| (r.cidr.clone(), query(Some(p.clone()), None)))
            })
            .collect();
        for ip in self.addresses() {
            let covered = range_of(&ip).is_some_and(|r| {
                ranges
                    .iter()
                    .any(|q| q.cidr == r.cidr && q.prefix.is_some())
            });
            if !covered {
                searches.push((ip.clone(), query(None, Some(ip))));
            }
        }
        searches
    }

    /// The ranges, with the prefix to search each by.
    pub fn ranges(&self) -> Vec<Range> {
        self.members_of(MemberKind::Range)
            .filter_map(|m| {
                // The range's own first address gives its prefix back.
                let base = m.value.split('/').next().unwrap_or_default();
                let base = if base.ends_with("::") {
                    format!("{base}1")
                } else {
                    base.to_owned()
                };
                range_of(&base)
            })
            .collect()
    }

    /// The autonomous systems that are members.
    pub fn networks(&self) -> Vec<i64> {
        self.members_of(MemberKind::Network)
            .filter_map(|m| {
                m.asn
                    .or_else(|| m.value.trim_start_matches("AS").parse().ok())
            })
            .collect()
    }

    fn members_of(&self, kind: MemberKind) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(move |m| m.kind == kind)
    }

    /// One line per member for the admin: "203.0.113.0/24 — the range of 203.0.113.45 …".
    pub fn lines(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| {
                let label = match m.kind {
                    MemberKind::Session => format!("session {}", m.value),
                    MemberKind::Network => describe_network(
                        m.asn
                            .or_else(|| m.value.trim_start_matches("AS").parse().ok())
                            .unwrap_or_default(),
                    ),
                    _ => m.value.clone(),
                };
                format!("{label} — {}", m.evidence.join("; "))
            })
            .collect()
    }

    /// Short labels of the addresses, ranges and networks (for "sign-ins from …").
    pub fn labels(&self) -> Vec<String> {
        let mut out: Vec<String> = self.addresses();
        out.extend(self.members_of(MemberKind::Range).map(|m| m.value.clone()));
        out.extend(self.networks().into_iter().map(describe_network));
        out
    }

    fn has(&self, kind: MemberKind, value: &str) -> bool {
        self.members
            .iter()
            .any(|m| m.kind == kind && m.value == value)
    }

    fn anchor(&self, kind: MemberKind, value: &str) -> String {
        self.members
            .iter()
            .find(|m| m.kind == kind && m.value == value)
            .and_then(|m| m.evidence.first())
            .cloned()
            .unwrap_or_default()
    }

    fn member_matches(&self, m: &Member, s: &Seen) -> bool {
        match m.kind {
            MemberKind::Address => s.ip.is_some_and(|ip| parse_address(&m.value) == Some(ip)),
            MemberKind::Range => s.range.as_ref().is_some_and(|r| r.cidr == m.value),
            MemberKind::Network => s.asn.is_some_and(|a| format!("AS{a}") == m.value),
            MemberKind::Session => sessions_of(s.sign_in).iter().any(|(_, id)| *id == m.value),
        }
    }

    fn match_seen(&self, s: &Seen) -> Option<Match> {
        self.match_parts(
            s.sign_in.ip_address.as_deref(),
            s.asn,
            &sessions_of(s.sign_in),
        )
    }

    fn match_parts(
        &self,
        ip: Option<&str>,
        asn: Option<i64>,
        sessions: &[(&'static str, String)],
    ) -> Option<Match> {
        let parsed = ip.and_then(parse_address);
        if let Some(ip) = parsed {
            let text = ip.to_string();
            if self.has(MemberKind::Address, &text) {
                return Some(Match {
                    kind: MemberKind::Address,
                    member: text.clone(),
                    why: format!("{text} is an address the attacker used"),
                });
            }
        }
        // An address another account uses as its own connection matches no range or network.
        let excepted = parsed.is_some_and(|ip| {
            let text = ip.to_string();
            self.members.iter().any(|m| m.except.contains(&text))
        });
        for (property, id) in sessions {
            if self.has(MemberKind::Session, id) {
                return Some(Match {
                    kind: MemberKind::Session,
                    member: id.clone(),
                    why: format!(
                        "the same session ({property} {id}) as {}",
                        self.anchor(MemberKind::Session, id)
                            .split(" (")
                            .next()
                            .unwrap_or_default()
                    ),
                });
            }
        }
        if let Some(range) = ip.and_then(range_of).filter(|_| !excepted) {
            if self.has(MemberKind::Range, &range.cidr) {
                return Some(Match {
                    kind: MemberKind::Range,
                    member: range.cidr.clone(),
                    why: format!(
                        "same {} as {}",
                        if range.cidr.ends_with("/24") {
                            "/24"
                        } else {
                            "/48"
                        },
                        self.anchor(MemberKind::Range, &range.cidr)
                            .trim_start_matches("the range of ")
                    ),
                });
            }
        }
        if let Some(asn) = asn.filter(|_| !excepted) {
            let value = format!("AS{asn}");
            if self.has(MemberKind::Network, &value) {
                return Some(Match {
                    kind: MemberKind::Network,
                    member: value.clone(),
                    why: format!(
                        "{} like the attacker ({})",
                        describe_network(asn),
                        self.anchor(MemberKind::Network, &value)
                    ),
                });
            }
        }
        None
    }

    /// Whether a sign-in came from the infrastructure, and why.
    pub fn match_sign_in(&self, s: &SignIn) -> Option<Match> {
        self.match_parts(
            s.ip_address.as_deref(),
            s.autonomous_system_number.filter(|n| *n > 0),
            &sessions_of(s),
        )
    }

    /// Whether an address (an audit record's client address, which has no ASN) is in the
    /// infrastructure: the address itself or its range.
    pub fn match_address(&self, ip: &str) -> Option<Match> {
        self.match_parts(Some(ip), None, &[])
    }
}

/// Another account that signed in from the infrastructure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtherAccount {
    /// Its object id, when the log gives it.
    pub user_id: Option<String>,
    /// Its user principal name (or the id).
    pub account: String,
    /// Its first successful sign-in from the infrastructure.
    pub first_at: Option<DateTime<Utc>>,
    /// What that sign-in matched: on [`MemberKind::Network`] alone, read the account's own
    /// history to tell whether the network is its usual one ([`USUAL_MIN_DAYS`]).
    pub matched: MemberKind,
    /// Why, in plain words.
    pub why: String,
}

/// Accounts other than `own_id` that signed in successfully from the infrastructure, first
/// first. A match on the network alone counts only when the account had not used that network on
/// [`USUAL_MIN_DAYS`] days of what was read before the attacker's first sign-in there (a
/// colleague whose own VPN runs on the same provider is not pulled in).
pub fn other_accounts(
    infra: &Infrastructure,
    sign_ins: &[SignIn],
    own_id: &str,
) -> Vec<OtherAccount> {
    let mut by_account: BTreeMap<String, OtherAccount> = BTreeMap::new();
    let mut sorted: Vec<&SignIn> = sign_ins
        .iter()
        .filter(|s| s.created_date_time.is_some())
        .filter(|s| {
            !s.user_id
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(own_id))
        })
        .collect();
    sorted.sort_by_key(|s| s.created_date_time);
    let attacker_since = infra.first_seen;
    for s in &sorted {
        if !succeeded(s) {
            continue;
        }
        let Some(m) = infra.match_sign_in(s) else {
            continue;
        };
        let account = s
            .user_principal_name
            .clone()
            .or_else(|| s.user_id.clone())
            .unwrap_or_default();
        if account.is_empty() {
            continue;
        }
        if m.kind == MemberKind::Range {
            // The account's own connection in the attacker's range (a colleague's VPN exit
            // pool): interactive sign-ins from the range on several days before the attacker.
            let before = attacker_since.unwrap_or(DateTime::<Utc>::MAX_UTC);
            let range = s.ip_address.as_deref().and_then(range_of);
            let days: BTreeSet<NaiveDate> = sorted
                .iter()
                .filter(|o| o.user_id == s.user_id && succeeded(o))
                .filter(|o| o.is_interactive != Some(false))
                .filter(|o| o.ip_address.as_deref().and_then(range_of) == range)
                .filter_map(|o| o.created_date_time)
                .filter(|t| *t < before)
                .map(|t| t.date_naive())
                .collect();
            if days.len() >= USUAL_MIN_DAYS {
                continue;
            }
        }
        if m.kind == MemberKind::Network {
            let asn = s.autonomous_system_number;
            let before = attacker_since.unwrap_or(DateTime::<Utc>::MAX_UTC);
            let days: BTreeSet<NaiveDate> = sorted
                .iter()
                .filter(|o| o.user_id == s.user_id && succeeded(o))
                .filter(|o| o.autonomous_system_number == asn)
                .filter_map(|o| o.created_date_time)
                .filter(|t| *t < before)
                .map(|t| t.date_naive())
                .collect();
            if days.len() >= USUAL_MIN_DAYS {
                continue;
            }
        }
        let key = account.to_lowercase();
        by_account.entry(key).or_insert_with(|| OtherAccount {
            user_id: s.user_id.clone(),
            account,
            first_at: s.created_date_time,
            matched: m.kind,
            why: format!(
                "signed in{} from {} at {}: {}",
                if s.is_interactive == Some(false) {
                    " (token refresh)"
                } else {
                    ""
                },
                s.ip_address.as_deref().unwrap_or("an unknown address"),
                s.created_date_time.map(short_time).unwrap_or_default(),
                m.why
            ),
        });
    }
    let mut out: Vec<OtherAccount> = by_account.into_values().collect();
    out.sort_by_key(|o| o.first_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const USER: &str = "11111111-1111-4111-8111-111111111111";

    struct S<'a> {
        user: &'a str,
        at: &'a str,
        ip: &'a str,
        asn: Option<i64>,
        interactive: bool,
        ok: bool,
        device: (&'a str, &'a str),
        country: &'a str,
        session: Option<&'a str>,
    }

    impl<'a> S<'a> {
        fn new(user: &'a str, at: &'a str, ip: &'a str) -> Self {
            Self {
                user,
                at,
                ip,
                asn: None,
                interactive: true,
                ok: true,
                device: ("Windows10", "Edge 131.0.0"),
                country: "GB",
                session: None,
            }
        }
        fn asn(mut self, asn: i64) -> Self {
            self.asn = Some(asn);
            self
        }
        fn refresh(mut self) -> Self {
            self.interactive = false;
            self
        }
        fn device(mut self, os: &'a str, browser: &'a str) -> Self {
            self.device = (os, browser);
            self
        }
        fn country(mut self, c: &'a str) -> Self {
            self.country = c;
            self
        }
        fn session(mut self, id: &'a str) -> Self {
            self.session = Some(id);
            self
        }
        fn failed(mut self) -> Self {
            self.ok = false;
            self
        }
        fn build(self) -> SignIn {
            let mut v = json!({
                "id": format!("{}-{}-{}", self.user, self.at, self.ip),
                "createdDateTime": self.at,
                "userId": self.user,
                "userPrincipalName": format!("{}@contoso.com", &self.user[..4.min(self.user.len())]),
                "ipAddress": self.ip,
                "isInteractive": self.interactive,
                "status": {"errorCode": if self.ok { 0 } else { 50126 }},
                "deviceDetail": {"operatingSystem": self.device.0, "browser": self.device.1},
                "location": {"countryOrRegion": self.country},
            });
            if let Some(asn) = self.asn {
                v["autonomousSystemNumber"] = json!(asn);
            }
            if let Some(session) = self.session {
                v["sessionId"] = json!(session);
            }
            serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
        }
    }

    /// Twelve days of the user at home (residential AS2856, 192.0.2.10, Windows / Edge).
    fn home_history() -> Vec<SignIn> {
        (1..=12)
            .map(|d| {
                S::new(USER, &format!("2025-03-{d:02}T08:30:00Z"), "192.0.2.10")
                    .asn(2856)
                    .build()
            })
            .collect()
    }

    fn alert_seed(ip: &str) -> Seed {
        Seed {
            source: SeedSource::Alert,
            address: ip.into(),
            at: "2025-03-12T19:43:00Z".parse().ok(),
            why: "named by the Defender alert \"Anomalous Token\"".into(),
        }
    }

    fn run(mine: &[SignIn], tenant: &[SignIn], seeds: &[Seed]) -> Infrastructure {
        attribute(&Evidence {
            user_id: USER,
            user_sign_ins: mine,
            tenant_sign_ins: tenant,
            seeds,
            activities: &[],
            alerts: &[],
            others_unread: false,
        })
    }

    fn has_address(infra: &Infrastructure, ip: &str) -> bool {
        infra.addresses().iter().any(|a| same_address(a, ip))
    }

    #[test]
    fn the_next_address_of_the_seeds_slash_24_is_the_attackers_with_the_evidence_said() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(14061)
                .device("Linux", "Chrome 124")
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T21:00:00Z", "203.0.113.46")
                .asn(14061)
                .refresh()
                .build(),
        );
        let infra = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert!(has_address(&infra, "203.0.113.46"), "{:#?}", infra);
        let line = infra
            .members
            .iter()
            .find(|m| m.value == "203.0.113.46")
            .map(|m| m.evidence.join(" "))
            .unwrap_or_default();
        assert!(
            line.contains("same /24 as 203.0.113.45 seen at 12 March 19:12"),
            "{line}"
        );
        assert_eq!(infra.first_seen, "2025-03-12T19:12:00Z".parse().ok());
        assert!(
            !has_address(&infra, "192.0.2.10"),
            "home is not the attacker's"
        );
    }

    /// The attacker's sign-in from 203.0.113.45 (seeded by an alert) and a later refresh from
    /// 203.0.113.46, with a colleague's sign-ins from 203.0.113.200 on five days before.
    fn with_colleague(interactive: bool) -> Infrastructure {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .device("Linux", "Chrome 124")
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T21:00:00Z", "203.0.113.46")
                .refresh()
                .build(),
        );
        let days: Vec<String> = (5..=9)
            .map(|d| format!("2025-03-{d:02}T08:10:00Z"))
            .collect();
        let tenant: Vec<SignIn> = days
            .iter()
            .map(|at| {
                let s = S::new("colleague", at, "203.0.113.200");
                if interactive {
                    s.build()
                } else {
                    s.refresh().build()
                }
            })
            .collect();
        run(&mine, &tenant, &[alert_seed("203.0.113.45")])
    }

    #[test]
    fn a_colleagues_own_address_in_the_attackers_range_is_left_out_but_a_stolen_session_there_is_not(
    ) {
        // Look-alike: the colleague's own VPN exit in the attacker's /24 is left out of the
        // range, so the colleague's address is not named; the attacker's next address there is.
        let colleague = with_colleague(true);
        assert!(has_address(&colleague, "203.0.113.45"), "{colleague:#?}");
        assert!(
            colleague.match_address("203.0.113.46").is_some(),
            "{colleague:#?}"
        );
        assert!(
            colleague.match_address("203.0.113.200").is_none(),
            "{colleague:#?}"
        );
        assert!(
            colleague
                .kept_out
                .iter()
                .any(|k| k.contains("203.0.113.0/24") && k.contains("their own connection")),
            "{colleague:#?}"
        );
        // Variant: another account only refreshing a token from the range for five days is an
        // attacker's session there (the entry of a second hop), not anyone's own connection.
        let stolen = with_colleague(false);
        assert!(
            stolen.match_address("203.0.113.200").is_some(),
            "{stolen:#?}"
        );
    }

    #[test]
    fn without_other_accounts_sign_ins_no_range_is_widened_and_that_is_said() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .device("Linux", "Chrome 124")
                .build(),
        );
        let infra = attribute(&Evidence {
            user_id: USER,
            user_sign_ins: &mine,
            tenant_sign_ins: &[],
            seeds: &[alert_seed("203.0.113.45")],
            activities: &[],
            alerts: &[],
            others_unread: true,
        });
        assert!(has_address(&infra, "203.0.113.45"), "{infra:#?}");
        assert!(infra.match_address("203.0.113.46").is_none(), "{infra:#?}");
        assert!(
            infra
                .cannot_tell
                .iter()
                .any(|c| c.contains("203.0.113.0/24") && c.contains("cannot be read")),
            "{infra:#?}"
        );
        // With them readable (and nobody else there), the range is the attacker's.
        let readable = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert!(
            readable.match_address("203.0.113.46").is_some(),
            "{readable:#?}"
        );
    }

    #[test]
    fn a_second_address_of_the_same_hosting_network_in_another_range_is_the_attackers() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(14061)
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T22:10:00Z", "198.51.100.77")
                .asn(14061)
                .refresh()
                .build(),
        );
        let infra = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert!(has_address(&infra, "198.51.100.77"), "{infra:#?}");
        let network = infra
            .members
            .iter()
            .find(|m| m.kind == MemberKind::Network)
            .map(|m| m.evidence.join(" "))
            .unwrap_or_default();
        assert!(
            network.contains("AS14061 (DigitalOcean, a hosting provider), never seen for this user before 12 March"),
            "{network}"
        );
    }

    #[test]
    fn a_residential_network_is_never_widened_so_the_users_home_isp_does_not_pull_in_everyone() {
        // The attacker uses a residential proxy in AS2856, the same ISP as the user's home and
        // as three colleagues' homes; the seed's /24 is widened, the ASN is not.
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "198.51.100.23")
                .asn(2856)
                .device("Linux", "Chrome 124")
                .build(),
        );
        let tenant: Vec<SignIn> = ["a", "b", "c", "d"]
            .iter()
            .enumerate()
            .map(|(i, u)| {
                S::new(
                    &format!("{u}2222222-2222-4222-8222-22222222222{i}"),
                    "2025-03-12T09:00:00Z",
                    &format!("192.0.2.{}", 50 + i),
                )
                .asn(2856)
                .build()
            })
            .collect::<Vec<_>>();
        let infra = run(&mine, &tenant, &[alert_seed("198.51.100.23")]);
        assert!(infra.networks().is_empty(), "{infra:#?}");
        assert!(!has_address(&infra, "192.0.2.10"));
        assert!(other_accounts(&infra, &tenant, USER).is_empty());
        assert!(infra
            .kept_out
            .iter()
            .any(|k| k.contains("AS2856") && k.contains("not a known hosting")));
    }

    #[test]
    fn a_hosting_network_many_colleagues_used_before_the_attacker_is_not_widened() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(16509)
                .build(),
        );
        // The company VPN runs on AWS: three colleagues used it that morning.
        let tenant: Vec<SignIn> = (0..3)
            .map(|i| {
                S::new(
                    &format!("c{i}333333-3333-4333-8333-333333333333"),
                    "2025-03-12T08:00:00Z",
                    &format!("198.51.100.{}", 10 + i),
                )
                .asn(16509)
                .build()
            })
            .collect();
        let infra = run(&mine, &tenant, &[alert_seed("203.0.113.45")]);
        assert!(infra.networks().is_empty(), "{infra:#?}");
        assert!(infra
            .kept_out
            .iter()
            .any(|k| k.contains("3 other accounts")));
        // Without the colleagues, the same network is widened.
        let infra = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert_eq!(infra.networks(), vec![16509]);
    }

    #[test]
    fn a_range_the_user_usually_signs_in_from_is_not_widened() {
        // The seed is in the office's /24 (the user signs in from 192.0.2.10 daily).
        let mut mine = home_history();
        mine.push(S::new(USER, "2025-03-12T19:12:00Z", "192.0.2.99").build());
        let infra = run(&mine, &[], &[alert_seed("192.0.2.99")]);
        assert!(infra.ranges().is_empty(), "{infra:#?}");
        assert!(!has_address(&infra, "192.0.2.10"));
        assert!(has_address(&infra, "192.0.2.99"));
    }

    #[test]
    fn a_token_replayed_from_another_address_in_the_same_session_is_the_attackers() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .session("sess-1")
                .build(),
        );
        // Replayed from a residential address elsewhere, an ASN nobody knows.
        mine.push(
            S::new(USER, "2025-03-12T20:40:00Z", "100.64.7.9")
                .asn(64_512)
                .refresh()
                .session("sess-1")
                .build(),
        );
        let infra = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert!(has_address(&infra, "100.64.7.9"), "{infra:#?}");
        let why = infra
            .members
            .iter()
            .find(|m| m.value == "100.64.7.9")
            .map(|m| m.evidence.join(" "))
            .unwrap_or_default();
        assert!(why.contains("replayed"), "{why}");
    }

    #[test]
    fn the_users_own_device_in_the_stolen_session_is_not_the_attackers() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .session("sess-1")
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T20:40:00Z", "192.0.2.10")
                .asn(2856)
                .refresh()
                .session("sess-1")
                .build(),
        );
        let infra = run(&mine, &[], &[alert_seed("203.0.113.45")]);
        assert!(!has_address(&infra, "192.0.2.10"), "{infra:#?}");
        assert!(infra.kept_out.iter().any(|k| k.contains("own device")));
    }

    #[test]
    fn first_seen_hosting_followed_by_refreshes_from_a_new_client_is_attributed_without_a_seed() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(14061)
                .device("Linux", "Chrome 124")
                .country("NL")
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T20:12:00Z", "203.0.113.45")
                .asn(14061)
                .refresh()
                .build(),
        );
        let infra = run(&mine, &[], &[]);
        assert!(has_address(&infra, "203.0.113.45"), "{infra:#?}");
        let why = infra.members[..]
            .iter()
            .find(|m| m.value == "203.0.113.45")
            .map(|m| m.evidence.join(" "))
            .unwrap_or_default();
        assert!(
            why.contains("AS14061 (DigitalOcean, a hosting provider) in NL, never seen for this user before 12 March 19:12"),
            "{why}"
        );
        assert!(why.contains("1 token refresh"), "{why}");
    }

    #[test]
    fn a_first_seen_hosting_network_used_with_the_users_own_browser_and_no_alert_is_kept_out() {
        // The user's new personal VPN: hosting, new, refreshes follow, but the usual client.
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(9009)
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T20:12:00Z", "203.0.113.45")
                .asn(9009)
                .refresh()
                .build(),
        );
        let infra = run(&mine, &[], &[]);
        assert!(infra.is_empty(), "{infra:#?}");
        assert!(infra.kept_out.iter().any(|k| k.contains("ask the user")));
    }

    #[test]
    fn a_hotel_abroad_around_the_alert_with_the_users_own_device_is_not_the_attacker() {
        let mut mine = home_history();
        // The user travels: a hotel's residential ISP in Portugal, the usual Windows / Edge,
        // an hour before the alert.
        mine.push(
            S::new(USER, "2025-03-12T18:40:00Z", "198.51.100.200")
                .asn(3243)
                .country("PT")
                .build(),
        );
        mine.push(
            S::new(USER, "2025-03-12T19:00:00Z", "198.51.100.200")
                .asn(3243)
                .country("PT")
                .refresh()
                .build(),
        );
        // The attacker, from a new client around the same alert.
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(64_500)
                .device("Linux", "Chrome 124")
                .country("NL")
                .build(),
        );
        let alerts = [(
            "2025-03-12T19:43:00Z".parse().unwrap_or_default(),
            "Suspicious inbox manipulation rule".to_owned(),
        )];
        let infra = attribute(&Evidence {
            user_id: USER,
            user_sign_ins: &mine,
            tenant_sign_ins: &[],
            seeds: &[],
            activities: &[],
            alerts: &alerts,
            others_unread: false,
        });
        assert!(!has_address(&infra, "198.51.100.200"), "{infra:#?}");
        assert!(has_address(&infra, "203.0.113.45"), "{infra:#?}");
        assert!(infra
            .kept_out
            .iter()
            .any(|k| k.contains("198.51.100.200") && k.contains("user's own browser")));
    }

    #[test]
    fn a_new_phone_on_the_users_own_mobile_network_around_the_alert_is_kept_out_but_abroad_it_is_not(
    ) {
        let alerts = [(
            "2025-03-12T19:43:00Z".parse().unwrap_or_default(),
            "Suspicious inbox manipulation rule".to_owned(),
        )];
        let run_with = |country: &str| {
            let mut mine = home_history();
            mine.push(
                S::new(USER, "2025-03-12T19:30:00Z", "100.64.20.5")
                    .asn(64_520)
                    .device("iOS 18", "Safari 18.1")
                    .country(country)
                    .build(),
            );
            attribute(&Evidence {
                user_id: USER,
                user_sign_ins: &mine,
                tenant_sign_ins: &[],
                seeds: &[],
                activities: &[],
                alerts: &alerts,
                others_unread: false,
            })
        };
        let home = run_with("GB");
        assert!(home.is_empty(), "{home:#?}");
        assert!(
            home.kept_out.iter().any(|k| k.contains("new device")),
            "{home:#?}"
        );
        let abroad = run_with("NG");
        assert!(has_address(&abroad, "100.64.20.5"), "{abroad:#?}");
    }

    #[test]
    fn a_method_registered_from_a_first_seen_hosting_address_is_a_sign_of_use() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(24940)
                .build(),
        );
        let activities = [Activity {
            at: "2025-03-12T19:20:00Z".parse().unwrap_or_default(),
            address: "203.0.113.45".into(),
            what: "registered a sign-in method".into(),
        }];
        let infra = attribute(&Evidence {
            user_id: USER,
            user_sign_ins: &mine,
            tenant_sign_ins: &[],
            seeds: &[],
            activities: &activities,
            alerts: &[],
            others_unread: false,
        });
        assert!(has_address(&infra, "203.0.113.45"), "{infra:#?}");
    }

    #[test]
    fn addresses_compare_as_addresses_not_as_text() {
        assert!(same_address("2001:db8:0:0::1", "2001:DB8::1"));
        assert!(same_address("::ffff:203.0.113.5", "203.0.113.5"));
        assert!(!same_address("203.0.113.5", "203.0.113.50"));
        assert!(!same_address("not an address", "not an address"));
        let infra = Infrastructure::from_addresses(&["2001:db8:abcd:12::7".into()]);
        assert!(infra.match_address("2001:0db8:abcd:0012:0:0:0:7").is_some());
        assert!(infra.match_address("2001:db8:abcd:12::8").is_none());
    }

    #[test]
    fn ranges_are_slash_24_and_slash_48_with_a_prefix_only_when_graph_writes_it_predictably() {
        let v4 = range_of("203.0.113.45").unwrap_or_else(|| panic!("v4"));
        assert_eq!(v4.cidr, "203.0.113.0/24");
        assert_eq!(v4.prefix.as_deref(), Some("203.0.113."));
        let v6 = range_of("2a02:8109:b6c0:1234::9").unwrap_or_else(|| panic!("v6"));
        assert_eq!(v6.cidr, "2a02:8109:b6c0::/48");
        assert_eq!(v6.prefix.as_deref(), Some("2a02:8109:b6c0:"));
        let zero = range_of("2001:db8:0:1::9").unwrap_or_else(|| panic!("v6"));
        assert_eq!(zero.prefix, None);
        assert_eq!(range_of("bogus"), None);
    }

    #[test]
    fn an_ipv6_attacker_on_the_next_address_of_the_same_slash_48_is_found() {
        let mut mine = home_history();
        mine.push(S::new(USER, "2025-03-12T19:12:00Z", "2a02:8109:b6c0:1::45").build());
        mine.push(
            S::new(USER, "2025-03-12T20:00:00Z", "2a02:8109:b6c0:ffff::2")
                .refresh()
                .build(),
        );
        let infra = run(&mine, &[], &[alert_seed("2a02:8109:b6c0:1::45")]);
        assert!(has_address(&infra, "2a02:8109:b6c0:ffff::2"), "{infra:#?}");
        assert_eq!(infra.ranges().len(), 1);
        assert_eq!(infra.ranges()[0].prefix.as_deref(), Some("2a02:8109:b6c0:"));
    }

    #[test]
    fn an_entry_account_from_the_same_range_days_earlier_is_found_and_a_colleagues_own_vpn_is_not()
    {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(14061)
                .build(),
        );
        let entry = "e4444444-4444-4444-8444-444444444444";
        let colleague = "f5555555-5555-4555-8555-555555555555";
        let mut tenant = vec![S::new(entry, "2025-03-07T10:00:00Z", "203.0.113.61")
            .asn(14061)
            .build()];
        // The colleague's own VPN on DigitalOcean, used daily for a week.
        for d in 1..=7 {
            tenant.push(
                S::new(
                    colleague,
                    &format!("2025-03-{d:02}T09:00:00Z"),
                    "192.0.2.201",
                )
                .asn(14061)
                .build(),
            );
        }
        // A failed attempt by a third account is not a hit.
        tenant.push(
            S::new(
                "99999999-9999-4999-8999-999999999999",
                "2025-03-12T19:30:00Z",
                "203.0.113.45",
            )
            .failed()
            .build(),
        );
        let infra = run(&mine, &tenant, &[alert_seed("203.0.113.45")]);
        let found = other_accounts(&infra, &tenant, USER);
        let names: Vec<&str> = found
            .iter()
            .map(|o| o.user_id.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(names, vec![entry], "{found:#?}");
        assert!(
            found[0].why.contains("same /24 as 203.0.113.45"),
            "{}",
            found[0].why
        );
    }

    #[test]
    fn a_colleague_first_seen_on_the_attackers_hosting_network_after_it_arrived_is_found() {
        let mut mine = home_history();
        mine.push(
            S::new(USER, "2025-03-12T19:12:00Z", "203.0.113.45")
                .asn(14061)
                .build(),
        );
        let victim = "a6666666-6666-4666-8666-666666666666";
        let tenant = vec![S::new(victim, "2025-03-12T21:00:00Z", "198.51.100.9")
            .asn(14061)
            .build()];
        let infra = run(&mine, &tenant, &[alert_seed("203.0.113.45")]);
        let found = other_accounts(&infra, &tenant, USER);
        assert_eq!(found.len(), 1, "{infra:#?}");
        assert!(found[0].why.contains("DigitalOcean"), "{}", found[0].why);
    }

    #[test]
    fn the_known_network_table_has_no_duplicates_and_leaves_out_microsoft() {
        let asns: BTreeSet<i64> = KNOWN_NETWORKS.iter().map(|n| n.asn).collect();
        assert_eq!(asns.len(), KNOWN_NETWORKS.len());
        assert!(known_network(8075).is_none());
        assert!(known_network(14061).is_some());
    }
}
