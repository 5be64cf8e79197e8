//! The incident generator: from a seed, one compromised-account incident composed of independent
//! parts — the tenant, how the attacker got in, the attacker's addresses, what they left behind,
//! where they went next, the legitimate look-alikes and the timing — written as an ordinary
//! scenario with its answer key. The key is built from the same parts the tenant is built from,
//! never from Firebreak's own rules. SCENARIOS.md, "Generated incidents", lists the parts and how
//! to reproduce a seed.
//!
//! [`draw`] turns a seed into [`Parts`] (every choice made here, nothing later), [`compose`]
//! turns parts into a scenario, and [`Parts::smaller`] lists the parts with one piece removed, so
//! a failing incident can be shrunk to the few pieces that make it fail.

mod compose;

use std::fmt;
use std::str::FromStr;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::scenario::Scenario;

pub use compose::compose;

/// How large a generated tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Size {
    /// 20–40 users, every one written out: fast enough for hundreds of runs in a test.
    Small,
    /// 150–300 users, the organisation Firebreak is built for.
    Org,
    /// 1,000–2,000 users.
    Large,
}

impl FromStr for Size {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "small" => Ok(Size::Small),
            "org" => Ok(Size::Org),
            "large" => Ok(Size::Large),
            other => Err(format!("unknown size '{other}': use small, org or large")),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Size::Small => "small",
            Size::Org => "org",
            Size::Large => "large",
        })
    }
}

/// One generated incident: `compose(&draw(seed, size))`, named `generated-<seed>-<size>`.
pub fn generate(seed: u64, size: Size) -> Result<Scenario, SimError> {
    compose(&draw(seed, size))
}

/// Every choice of one incident. Serialisable, so a shrunk failure can be kept beside its
/// scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parts {
    pub seed: u64,
    pub size: Size,
    pub tenant: TenantPart,
    pub entry: Entry,
    /// The providers the attacker's addresses belong to (indices into the provider table).
    pub providers: Vec<usize>,
    /// The attacker's addresses: (index into `providers`, host number). The entry uses the first.
    pub addresses: Vec<(usize, u16)>,
    pub persistence: Vec<Persistence>,
    pub spread: Vec<Hop>,
    /// When set, the alert names this hop's account instead of the entry account.
    pub flagged_hop: Option<usize>,
    pub noise: Vec<Noise>,
    pub timing: Timing,
}

/// The tenant's size, licences and people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantPart {
    pub users: u32,
    pub entra_id_p1: bool,
    pub entra_id_p2: bool,
    pub audit_premium: bool,
    /// Whether the entry account's mailbox has auditing switched off (no mailbox-item records).
    pub entry_mailbox_unaudited: bool,
    /// Shared mailboxes besides the one a delegate hop uses.
    pub shared_mailboxes: u32,
    /// The directory role the entry account holds, if any.
    pub entry_role: Option<Role>,
}

/// Directory roles the generator hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    UserAdministrator,
    ExchangeAdministrator,
    /// May give any account any directory role.
    PrivilegedRoleAdministrator,
}

/// How the attacker got into the first account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Entry {
    /// Adversary-in-the-middle: the user signs in through a proxy, the session cookie is replayed.
    Aitm,
    /// Failures against many accounts from one address; one without MFA lets the attacker in.
    PasswordSpray,
    /// Push after push until the user approves one.
    MfaFatigue,
    /// The user consents to the attacker's app; no sign-in of the attacker's at all.
    ConsentPhishing,
    /// A service account without MFA whose password leaked; the attacker adds a secret to the
    /// app it owns.
    StolenAppSecret,
    /// The attacker talks the real service desk into resetting the user's password.
    HelpdeskReset,
}

/// Whose artefact: the entry account, or the account of a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Who {
    Entry,
    Hop(usize),
}

/// Something the attacker leaves on an account to keep access or take mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Persistence {
    pub on: Who,
    /// Index into the attacker's addresses (taken modulo their number).
    pub address: usize,
    pub kind: PersistKind,
}

/// The kinds of persistence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PersistKind {
    /// An inbox rule; `hidden` ones are invisible without `-IncludeHidden`.
    Rule {
        action: RuleAction,
        hidden: bool,
        /// Created and removed again before the alert: only the audit log shows it.
        deleted_again: bool,
    },
    /// Mailbox forwarding: to an outside address, or to a mail contact that leads outside.
    Forwarding { to_contact: bool },
    /// An authentication method; `dated` says whether Graph gives it a `createdDateTime`.
    Method { kind: MethodKind, dated: bool },
    /// A consent to the attacker's app, which reads mail with it.
    Consent,
    /// A secret added to an app registration the account owns.
    AppCredential,
    /// SendOnBehalf of the account's mailbox granted to another account the attacker holds.
    SendOnBehalf,
    /// The attacker, as the entry account (a Privileged Role Administrator), makes this account
    /// a Global Administrator.
    RoleMembership,
}

/// What an attacker's inbox rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleAction {
    /// Moves payment mail into a folder nobody looks at, marked read.
    HideInFolder,
    /// Deletes warnings (security, phishing, "hacked").
    DeleteWarnings,
    /// Forwards payment mail outside.
    ForwardOut,
}

/// Authentication method kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MethodKind {
    Authenticator,
    MobilePhone,
    AlternateMobilePhone,
    Email,
    SoftwareOath,
}

/// A further account the attacker reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hop {
    pub via: Via,
    /// Index into the attacker's addresses used for this hop.
    pub address: usize,
}

/// How a hop is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Via {
    /// A phishing mail sent from the compromised mailbox; the colleague signs in through the proxy.
    InternalPhish,
    /// The entry account holds User Administrator: the attacker resets a new starter's password.
    AdminReset,
    /// The entry account holds FullAccess on a shared mailbox: the attacker makes it forward out.
    Delegate,
}

/// A legitimate look-alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Noise {
    /// A colleague travelling: hotel sign-ins abroad from their own laptop.
    Traveller,
    /// A colleague whose VPN exit is on one of the attacker's providers, next to its address.
    ProviderNeighbour,
    /// The service desk registers a new phone for the entry account in the window.
    HelpdeskPhone,
    /// The entry account consents to a verified app asking for the same permissions.
    VerifiedApp,
    /// A colleague forwards to another colleague while on leave.
    LeaveForwarding,
    /// The entry account's own rules, one named like the attacker's.
    SimilarRules,
    /// The service desk resets a locked-out colleague's password from the office.
    RoutineReset,
    /// The attacker's password try against a colleague fails.
    FailedTry,
    /// The IT manager rotates a secret on another app.
    SecretRotation,
    /// An assistant holds SendOnBehalf on a manager's mailbox.
    Assistant,
    /// The entry account (a Privileged Role Administrator) makes a colleague an Exchange
    /// Administrator from the office, in the window.
    RoleAssignment,
}

/// When things happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// Minutes from the attacker's entry to the start of the exercise (minutes to 25 days).
    pub dwell_minutes: i64,
    /// Days after 2026-01-05 the exercise starts.
    pub day: i64,
    /// The hour of day (UTC) the exercise starts.
    pub hour: u32,
}

/// The attacker providers the generator chooses from: name, ASN, country, city, latitude,
/// longitude, IPv4 prefix (a /24), IPv6 prefix (a /64) when it has one.
pub(crate) struct Provider {
    pub(crate) name: &'static str,
    pub(crate) asn: i64,
    pub(crate) country: &'static str,
    pub(crate) state: &'static str,
    pub(crate) city: &'static str,
    pub(crate) lat: f64,
    pub(crate) lon: f64,
    pub(crate) v4: &'static str,
    pub(crate) v6: Option<&'static str>,
}

pub(crate) const PROVIDERS: &[Provider] = &[
    Provider {
        name: "a hosting provider in Amsterdam",
        asn: 14061,
        country: "NL",
        state: "North Holland",
        city: "Amsterdam",
        lat: 52.3676,
        lon: 4.9041,
        v4: "203.0.113.",
        v6: Some("2001:db8:4f1:20::"),
    },
    Provider {
        name: "a hosting provider in Falkenstein",
        asn: 24940,
        country: "DE",
        state: "Saxony",
        city: "Falkenstein",
        lat: 50.4779,
        lon: 12.3713,
        v4: "198.18.7.",
        v6: Some("2001:db8:bee:1::"),
    },
    Provider {
        name: "a commercial VPN's London exit",
        asn: 9009,
        country: "GB",
        state: "England",
        city: "London",
        lat: 51.5072,
        lon: -0.1276,
        v4: "185.94.189.",
        v6: Some("2001:db8:9009:5::"),
    },
    Provider {
        name: "a cloud provider in Virginia",
        asn: 16509,
        country: "US",
        state: "Virginia",
        city: "Ashburn",
        lat: 39.0438,
        lon: -77.4874,
        v4: "3.80.121.",
        v6: None,
    },
    Provider {
        name: "a hosting provider in Bucharest",
        asn: 60729,
        country: "RO",
        state: "Bucuresti",
        city: "Bucharest",
        lat: 44.4268,
        lon: 26.1025,
        v4: "45.141.84.",
        v6: None,
    },
];

/// Draws every part of one incident from `seed`.
pub fn draw(seed: u64, size: Size) -> Parts {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let users = match size {
        Size::Small => rng.gen_range(20..=40),
        Size::Org => rng.gen_range(150..=300),
        Size::Large => rng.gen_range(1_000..=2_000),
    };
    let entra_id_p1 = rng.gen_bool(0.92);
    let entra_id_p2 = entra_id_p1 && rng.gen_bool(0.35);
    let entry = match rng.gen_range(0..12) {
        0..=3 => Entry::Aitm,
        4 | 5 => Entry::PasswordSpray,
        6 | 7 => Entry::MfaFatigue,
        8 => Entry::ConsentPhishing,
        9 => Entry::StolenAppSecret,
        _ => Entry::HelpdeskReset,
    };
    let entry_role = match rng.gen_range(0..10) {
        0 | 1 => Some(Role::UserAdministrator),
        2 => Some(Role::ExchangeAdministrator),
        _ => None,
    };
    let mut tenant = TenantPart {
        users,
        entra_id_p1,
        entra_id_p2,
        audit_premium: rng.gen_bool(0.3),
        entry_mailbox_unaudited: rng.gen_bool(0.15),
        shared_mailboxes: rng.gen_range(0..=3),
        entry_role,
    };

    let mut providers: Vec<usize> = Vec::new();
    for _ in 0..rng.gen_range(1..=3) {
        let p = rng.gen_range(0..PROVIDERS.len());
        if !providers.contains(&p) {
            providers.push(p);
        }
    }
    let mut addresses: Vec<(usize, u16)> = Vec::new();
    let count = rng.gen_range(1..=6usize).max(providers.len());
    while addresses.len() < count {
        let p = addresses.len() % providers.len();
        let host = rng.gen_range(2..250u16);
        if !addresses.contains(&(p, host)) {
            addresses.push((p, host));
        }
    }

    let mut spread = Vec::new();
    if entry != Entry::ConsentPhishing {
        for _ in 0..rng.gen_range(0..=3) {
            if rng.gen_bool(0.5) {
                continue;
            }
            let via = match rng.gen_range(0..3) {
                0 => Via::InternalPhish,
                1 if entry_role == Some(Role::UserAdministrator) => Via::AdminReset,
                1 => Via::InternalPhish,
                _ => Via::Delegate,
            };
            if via == Via::Delegate && spread.iter().any(|h: &Hop| h.via == Via::Delegate) {
                continue;
            }
            spread.push(Hop {
                via,
                address: rng.gen_range(0..addresses.len()),
            });
        }
    }
    let session_hops: Vec<usize> = spread
        .iter()
        .enumerate()
        .filter(|(_, h)| h.via != Via::Delegate)
        .map(|(i, _)| i)
        .collect();
    let flagged_hop = if !session_hops.is_empty() && rng.gen_bool(0.4) {
        Some(session_hops[rng.gen_range(0..session_hops.len())])
    } else {
        None
    };

    let mut persistence = Vec::new();
    let mut holders = vec![Who::Entry];
    holders.extend(session_hops.iter().map(|&i| Who::Hop(i)));
    for on in holders {
        let items = if on == Who::Entry {
            rng.gen_range(0..=4)
        } else {
            rng.gen_range(0..=2)
        };
        for _ in 0..items {
            let kind = draw_persistence(&mut rng, entry, on, &session_hops);
            let duplicate = persistence
                .iter()
                .any(|p: &Persistence| p.on == on && same_slot(&p.kind, &kind));
            if duplicate {
                continue;
            }
            persistence.push(Persistence {
                on,
                address: rng.gen_range(0..addresses.len()),
                kind,
            });
        }
    }
    if entry == Entry::ConsentPhishing
        && !persistence
            .iter()
            .any(|p| p.kind == PersistKind::Consent && p.on == Who::Entry)
    {
        persistence.insert(
            0,
            Persistence {
                on: Who::Entry,
                address: 0,
                kind: PersistKind::Consent,
            },
        );
    }
    if entry == Entry::StolenAppSecret
        && !persistence
            .iter()
            .any(|p| p.kind == PersistKind::AppCredential)
    {
        persistence.insert(
            0,
            Persistence {
                on: Who::Entry,
                address: 0,
                kind: PersistKind::AppCredential,
            },
        );
    }

    let mut noise = Vec::new();
    let mut maybe = |rng: &mut ChaCha8Rng, n: Noise, p: f64| {
        if rng.gen_bool(p) {
            noise.push(n);
        }
    };
    maybe(&mut rng, Noise::Traveller, 0.5);
    maybe(&mut rng, Noise::ProviderNeighbour, 0.4);
    maybe(&mut rng, Noise::FailedTry, 0.3);
    let has = |f: &dyn Fn(&PersistKind) -> bool| persistence.iter().any(|p| f(&p.kind));
    let has_method = has(&|k| matches!(k, PersistKind::Method { .. }));
    let has_consent = has(&|k| matches!(k, PersistKind::Consent));
    let has_forwarding = has(&|k| matches!(k, PersistKind::Forwarding { .. }));
    let has_rule = has(&|k| matches!(k, PersistKind::Rule { .. }));
    let has_secret = has(&|k| matches!(k, PersistKind::AppCredential));
    let has_delegate = has(&|k| matches!(k, PersistKind::SendOnBehalf));
    let admin_reset =
        spread.iter().any(|h| h.via == Via::AdminReset) || entry == Entry::HelpdeskReset;
    maybe(
        &mut rng,
        Noise::HelpdeskPhone,
        if has_method { 0.6 } else { 0.15 },
    );
    maybe(
        &mut rng,
        Noise::VerifiedApp,
        if has_consent { 0.7 } else { 0.15 },
    );
    maybe(
        &mut rng,
        Noise::LeaveForwarding,
        if has_forwarding { 0.7 } else { 0.15 },
    );
    maybe(
        &mut rng,
        Noise::SimilarRules,
        if has_rule { 0.8 } else { 0.3 },
    );
    maybe(
        &mut rng,
        Noise::RoutineReset,
        if admin_reset { 0.7 } else { 0.2 },
    );
    maybe(
        &mut rng,
        Noise::SecretRotation,
        if has_secret { 0.7 } else { 0.1 },
    );
    maybe(
        &mut rng,
        Noise::Assistant,
        if has_delegate { 0.7 } else { 0.15 },
    );

    directory_roles(
        seed,
        entry,
        &mut tenant,
        &session_hops,
        addresses.len(),
        &mut persistence,
        &mut noise,
    );
    let dwell_minutes = match rng.gen_range(0..10) {
        0..=2 => rng.gen_range(20..6 * 60),
        3..=6 => rng.gen_range(6 * 60..3 * 24 * 60),
        _ => rng.gen_range(3 * 24 * 60..25 * 24 * 60),
    };
    let timing = Timing {
        dwell_minutes,
        day: rng.gen_range(0..300),
        hour: rng.gen_range(8..23),
    };
    Parts {
        seed,
        size,
        tenant,
        entry,
        providers,
        addresses,
        persistence,
        spread,
        flagged_hop,
        noise,
        timing,
    }
}

/// Where the directory-role part's draws come from: a stream of its own, so that adding it left
/// every other part of every seed as it was.
const ROLE_STREAM: u64 = 0x726f_6c65;

/// The directory-role part. Some entry accounts that hold no role are Privileged Role
/// Administrators; the attacker then mostly makes an account it holds (the entry or a hop) a
/// Global Administrator, and the account's owner may have given a colleague a role in the window.
fn directory_roles(
    seed: u64,
    entry: Entry,
    tenant: &mut TenantPart,
    session_hops: &[usize],
    addresses: usize,
    persistence: &mut Vec<Persistence>,
    noise: &mut Vec<Noise>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ROLE_STREAM);
    if tenant.entry_role.is_some() || entry == Entry::ConsentPhishing || !rng.gen_bool(0.15) {
        return;
    }
    tenant.entry_role = Some(Role::PrivilegedRoleAdministrator);
    let granted = rng.gen_bool(0.75);
    if granted {
        let mut holders = vec![Who::Entry];
        holders.extend(session_hops.iter().map(|&i| Who::Hop(i)));
        persistence.push(Persistence {
            on: holders[rng.gen_range(0..holders.len())],
            address: rng.gen_range(0..addresses),
            kind: PersistKind::RoleMembership,
        });
    }
    if rng.gen_bool(if granted { 0.6 } else { 0.3 }) {
        noise.push(Noise::RoleAssignment);
    }
}

/// Two persistence items that cannot both be on one account (one forwarding field, one phone of
/// each type, one consent to the attacker's app, one owned app).
fn same_slot(a: &PersistKind, b: &PersistKind) -> bool {
    use PersistKind::*;
    match (a, b) {
        (Forwarding { .. }, Forwarding { .. })
        | (Consent, Consent)
        | (AppCredential, AppCredential)
        | (SendOnBehalf, SendOnBehalf)
        | (RoleMembership, RoleMembership) => true,
        (Method { kind: x, .. }, Method { kind: y, .. }) => x == y,
        _ => false,
    }
}

fn draw_persistence(
    rng: &mut ChaCha8Rng,
    entry: Entry,
    on: Who,
    session_hops: &[usize],
) -> PersistKind {
    loop {
        let kind = match rng.gen_range(0..14) {
            0..=3 => PersistKind::Rule {
                action: match rng.gen_range(0..3) {
                    0 => RuleAction::HideInFolder,
                    1 => RuleAction::DeleteWarnings,
                    _ => RuleAction::ForwardOut,
                },
                hidden: rng.gen_bool(0.25),
                deleted_again: rng.gen_bool(0.12),
            },
            4 | 5 => PersistKind::Forwarding {
                to_contact: rng.gen_bool(0.3),
            },
            6..=9 => {
                let kind = match rng.gen_range(0..5) {
                    0 => MethodKind::Authenticator,
                    1 => MethodKind::MobilePhone,
                    2 => MethodKind::AlternateMobilePhone,
                    3 => MethodKind::Email,
                    _ => MethodKind::SoftwareOath,
                };
                let dated = matches!(kind, MethodKind::Authenticator | MethodKind::SoftwareOath)
                    && rng.gen_bool(0.7);
                PersistKind::Method { kind, dated }
            }
            10 | 11 => PersistKind::Consent,
            12 => PersistKind::AppCredential,
            _ => PersistKind::SendOnBehalf,
        };
        // A consent-phishing entry holds no session to act with; SendOnBehalf needs a second
        // account the attacker holds to give it to.
        let possible = match kind {
            PersistKind::SendOnBehalf => on == Who::Entry && !session_hops.is_empty(),
            PersistKind::AppCredential => on == Who::Entry,
            _ => true,
        } && (entry != Entry::ConsentPhishing || kind == PersistKind::Consent);
        if possible {
            return kind;
        }
    }
}

impl Parts {
    /// The parts with one piece taken away, each a candidate for a smaller failing incident:
    /// a persistence item, a hop (with what it carries), a look-alike, an address or provider,
    /// the entry role, half the users, Identity Protection.
    pub fn smaller(&self) -> Vec<Parts> {
        let mut out = Vec::new();
        for i in 0..self.persistence.len() {
            let mut p = self.clone();
            p.persistence.remove(i);
            out.push(p);
        }
        for i in 0..self.spread.len() {
            let mut p = self.clone();
            p.spread.remove(i);
            p.persistence.retain(|x| x.on != Who::Hop(i));
            for x in &mut p.persistence {
                if let Who::Hop(j) = x.on {
                    if j > i {
                        x.on = Who::Hop(j - 1);
                    }
                }
            }
            p.flagged_hop = match p.flagged_hop {
                Some(j) if j == i => None,
                Some(j) if j > i => Some(j - 1),
                other => other,
            };
            out.push(p);
        }
        for i in 0..self.noise.len() {
            let mut p = self.clone();
            p.noise.remove(i);
            out.push(p);
        }
        if self.addresses.len() > 1 {
            let mut p = self.clone();
            p.addresses.pop();
            out.push(p);
        }
        if self.providers.len() > 1 {
            let mut p = self.clone();
            let gone = p.providers.len() - 1;
            p.providers.pop();
            for a in &mut p.addresses {
                a.0 %= gone;
            }
            p.addresses.sort();
            p.addresses.dedup();
            out.push(p);
        }
        if self.flagged_hop.is_some() {
            let mut p = self.clone();
            p.flagged_hop = None;
            out.push(p);
        }
        let needs_role = self.spread.iter().any(|h| h.via == Via::AdminReset)
            || self
                .persistence
                .iter()
                .any(|p| p.kind == PersistKind::RoleMembership)
            || self.noise.contains(&Noise::RoleAssignment);
        if self.tenant.entry_role.is_some() && !needs_role {
            let mut p = self.clone();
            p.tenant.entry_role = None;
            out.push(p);
        }
        if self.tenant.users > 20 {
            let mut p = self.clone();
            p.tenant.users = (self.tenant.users / 2).max(20);
            out.push(p);
        }
        if self.tenant.entra_id_p2 {
            let mut p = self.clone();
            p.tenant.entra_id_p2 = false;
            out.push(p);
        }
        out
    }

    /// One line naming the parts, for a test's failure message and the practice card.
    pub fn summary(&self) -> String {
        let licence = match (self.tenant.entra_id_p1, self.tenant.entra_id_p2) {
            (_, true) => "Entra ID P2",
            (true, false) => "Entra ID P1",
            _ => "Entra ID Free",
        };
        format!(
            "seed {} ({}, {} users, {licence}): entry {:?}, {} address(es) on {} provider(s), {} persistence item(s), {} hop(s){}, {} look-alike(s), found after {} minutes",
            self.seed,
            self.size,
            self.tenant.users,
            self.entry,
            self.addresses.len(),
            self.providers.len(),
            self.persistence.len(),
            self.spread.len(),
            if self.flagged_hop.is_some() { " (the alert names a hop)" } else { "" },
            self.noise.len(),
            self.timing.dwell_minutes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_draws_the_same_parts_and_different_seeds_differ() {
        assert_eq!(draw(7, Size::Small), draw(7, Size::Small));
        let distinct: std::collections::HashSet<String> = (0..50)
            .map(|s| serde_json::to_string(&draw(s, Size::Small)).unwrap_or_default())
            .collect();
        assert_eq!(distinct.len(), 50);
    }

    #[test]
    fn every_entry_and_hop_kind_is_drawn_within_a_few_hundred_seeds() {
        let all: Vec<Parts> = (0..400).map(|s| draw(s, Size::Small)).collect();
        for entry in [
            Entry::Aitm,
            Entry::PasswordSpray,
            Entry::MfaFatigue,
            Entry::ConsentPhishing,
            Entry::StolenAppSecret,
            Entry::HelpdeskReset,
        ] {
            assert!(all.iter().any(|p| p.entry == entry), "{entry:?}");
        }
        for via in [Via::InternalPhish, Via::AdminReset, Via::Delegate] {
            assert!(
                all.iter().any(|p| p.spread.iter().any(|h| h.via == via)),
                "{via:?}"
            );
        }
        assert!(all.iter().any(|p| p.flagged_hop.is_some()));
        assert!(all.iter().any(|p| p.addresses.len() >= 5));
        assert!(all.iter().any(|p| p.timing.dwell_minutes > 20 * 24 * 60));
    }

    #[test]
    fn each_smaller_candidate_has_one_piece_less() {
        let parts = (0..100)
            .map(|s| draw(s, Size::Small))
            .find(|p| p.spread.len() >= 2 && !p.persistence.is_empty())
            .unwrap_or_else(|| draw(1, Size::Small));
        for smaller in parts.smaller() {
            assert_ne!(smaller, parts);
            for item in &smaller.persistence {
                if let Who::Hop(i) = item.on {
                    assert!(i < smaller.spread.len());
                }
            }
            if let Some(i) = smaller.flagged_hop {
                assert!(i < smaller.spread.len());
            }
        }
    }
}
