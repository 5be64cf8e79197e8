//! What Microsoft says each Graph entity carries: the properties of every schema of the description
//! in `spec/graph/graph-subset.openapi.json` (v1.0), turned into a table at build time
//! (`build.rs`), plus the properties Microsoft documents beyond that snapshot, each list with the
//! page it comes from (recorded in `spec/graph-behaviour.md`):
//!
//! * [`V1_ADDITIONS`]: v1.0 properties Microsoft's current v1.0 metadata has and the 2024
//!   description lacks;
//! * [`EXTRA_SCHEMAS`]: v1.0 types the description subset does not carry at all (directory roles
//!   come back from `memberOf`);
//! * [`BETA_ONLY`]: properties only `/beta` has — v1.0 refuses them in `$select` and `$filter` and
//!   never answers with them.
//!
//! This is the one place to add a property or a type when the simulator learns a new answer: the
//! query validation (`odata.rs`), the answer shaping (`graph.rs`) and the conformance test all read
//! it.

/// A property's type, as the description declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    Guid,
    DateTime,
    Date,
    TimeOfDay,
    Duration,
    Boolean,
    Int,
    Number,
    Binary,
    /// An enumeration (its schema name).
    Enum(&'static str),
    /// A complex or entity type (its schema name).
    Complex(&'static str),
    Collection(&'static Ty),
    /// A type the table does not describe further (open types, dictionaries).
    Open,
}

impl Ty {
    /// The OData name Graph uses in its error messages.
    pub(crate) fn edm_name(self) -> String {
        match self {
            Ty::String => "Edm.String".to_owned(),
            Ty::Guid => "Edm.Guid".to_owned(),
            Ty::DateTime => "Edm.DateTimeOffset".to_owned(),
            Ty::Date => "Edm.Date".to_owned(),
            Ty::TimeOfDay => "Edm.TimeOfDay".to_owned(),
            Ty::Duration => "Edm.Duration".to_owned(),
            Ty::Boolean => "Edm.Boolean".to_owned(),
            Ty::Int => "Edm.Int32".to_owned(),
            Ty::Number => "Edm.Double".to_owned(),
            Ty::Binary => "Edm.Binary".to_owned(),
            Ty::Enum(name) | Ty::Complex(name) => name.to_owned(),
            Ty::Collection(inner) => format!("Collection({})", inner.edm_name()),
            Ty::Open => "Edm.Untyped".to_owned(),
        }
    }
}

/// One object type: its own properties and the type it inherits from.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) name: &'static str,
    pub(crate) base: Option<&'static str>,
    pub(crate) props: &'static [(&'static str, Ty)],
}

// SCHEMAS and ENUMS, generated from the description.
include!(concat!(env!("OUT_DIR"), "/described.rs"));

/// Properties Microsoft documents for a type beyond the description, with where it says so.
#[derive(Debug)]
pub(crate) struct Documented {
    pub(crate) entity: &'static str,
    pub(crate) props: &'static [(&'static str, Ty)],
    pub(crate) source: &'static str,
}

const CSDL: &str = "Microsoft Graph v1.0 metadata (microsoftgraph/msgraph-metadata, clean_v10_metadata/cleanMetadata.xml at f54f11b6)";

/// v1.0 properties newer than the 2024 description (compared with Microsoft's current v1.0
/// metadata), for the types the simulator serves.
pub(crate) static V1_ADDITIONS: &[Documented] = &[
    Documented {
        entity: "microsoft.graph.signIn",
        props: &[
            ("authenticationAppDeviceDetails", Ty::Open),
            ("homeTenantId", Ty::String),
            ("resourceTenantId", Ty::String),
            ("servicePrincipalId", Ty::String),
            ("servicePrincipalName", Ty::String),
            ("userAgent", Ty::String),
        ],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.servicePrincipal",
        props: &[("createdByAppId", Ty::String), ("isDisabled", Ty::Boolean)],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.servicePrincipal",
        props: &[("publisherName", Ty::String)],
        source: "https://learn.microsoft.com/graph/api/serviceprincipal-get?view=graph-rest-1.0 (the v1.0 response example carries it)",
    },
    Documented {
        entity: "microsoft.graph.authenticationMethod",
        props: &[("createdDateTime", Ty::DateTime)],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.fido2AuthenticationMethod",
        props: &[("passkeyType", Ty::Open), ("publicKeyCredential", Ty::Open)],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.security.alert",
        props: &[
            ("categories", Ty::Collection(&Ty::String)),
            ("customDetails", Ty::Open),
            ("investigationState", Ty::Open),
        ],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.security.incident",
        props: &[("priorityScore", Ty::Int)],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.user",
        props: &[
            ("identityParentId", Ty::String),
            ("onPremisesSyncBehavior", Ty::Open),
        ],
        source: CSDL,
    },
    Documented {
        entity: "microsoft.graph.security.auditData",
        props: &[("dynamicProperties", Ty::Open)],
        source: CSDL,
    },
];

/// Enumeration members newer than the description (same source as [`V1_ADDITIONS`]).
pub(crate) static V1_ENUM_ADDITIONS: &[(&str, &[&str])] = &[
    ("microsoft.graph.riskDetail", &["microsoftRevokedSessions"]),
    (
        "microsoft.graph.security.detectionSource",
        &[
            "microsoftDefenderForAIServices",
            "microsoftThreatIntelligence",
            "securityCopilot",
        ],
    ),
    (
        "microsoft.graph.security.serviceSource",
        &["microsoftSecurityForAI", "microsoftThreatIntelligence"],
    ),
];

/// v1.0 types the description subset lacks, from their v1.0 resource pages.
pub(crate) static EXTRA_SCHEMAS: &[(Schema, &str)] = &[(
    Schema {
        name: "microsoft.graph.directoryRole",
        base: Some("microsoft.graph.directoryObject"),
        props: &[
            ("description", Ty::String),
            ("displayName", Ty::String),
            ("roleTemplateId", Ty::String),
            (
                "members",
                Ty::Collection(&Ty::Complex("microsoft.graph.directoryObject")),
            ),
            ("scopedMembers", Ty::Collection(&Ty::Open)),
        ],
    },
    "https://learn.microsoft.com/graph/api/resources/directoryrole?view=graph-rest-1.0",
)];

/// Properties only `/beta` has, per type.
pub(crate) static BETA_ONLY: &[Documented] = &[Documented {
    entity: "microsoft.graph.signIn",
    props: &[
        ("appliedEventListeners", Ty::Collection(&Ty::Open)),
        ("appTokenProtectionStatus", Ty::Open),
        (
            "authenticationAppPolicyEvaluationDetails",
            Ty::Collection(&Ty::Open),
        ),
        (
            "authenticationContextClassReferences",
            Ty::Collection(&Ty::Open),
        ),
        ("authenticationDetails", Ty::Collection(&Ty::Open)),
        ("authenticationMethodsUsed", Ty::Collection(&Ty::String)),
        ("authenticationProcessingDetails", Ty::Collection(&Ty::Open)),
        ("authenticationProtocol", Ty::Open),
        ("authenticationRequirement", Ty::String),
        (
            "authenticationRequirementPolicies",
            Ty::Collection(&Ty::Open),
        ),
        ("autonomousSystemNumber", Ty::Int),
        ("azureResourceId", Ty::String),
        ("clientCredentialType", Ty::Open),
        ("conditionalAccessAudiences", Ty::Collection(&Ty::Open)),
        ("crossTenantAccessType", Ty::Open),
        ("federatedCredentialId", Ty::String),
        ("flaggedForReview", Ty::Boolean),
        ("globalSecureAccessIpAddress", Ty::String),
        ("homeTenantName", Ty::String),
        ("incomingTokenType", Ty::Open),
        ("ipAddressFromResourceProvider", Ty::String),
        ("isThroughGlobalSecureAccess", Ty::Boolean),
        ("isTenantRestricted", Ty::Boolean),
        ("managedServiceIdentity", Ty::Open),
        ("mfaDetail", Ty::Open),
        ("networkLocationDetails", Ty::Collection(&Ty::Open)),
        ("originalRequestId", Ty::String),
        ("originalTransferMethod", Ty::Open),
        ("privateLinkDetails", Ty::Open),
        ("processingTimeInMilliseconds", Ty::Int),
        ("resourceServicePrincipalId", Ty::String),
        ("servicePrincipalCredentialKeyId", Ty::String),
        ("servicePrincipalCredentialThumbprint", Ty::String),
        ("sessionId", Ty::String),
        ("sessionLifetimePolicies", Ty::Collection(&Ty::Open)),
        ("signInEventTypes", Ty::Collection(&Ty::String)),
        ("signInIdentifier", Ty::String),
        ("signInIdentifierType", Ty::Open),
        ("signInTokenProtectionStatus", Ty::Open),
        ("tokenIssuerName", Ty::String),
        (
            "tokenIssuerType",
            Ty::Enum("microsoft.graph.tokenIssuerType"),
        ),
        ("uniqueTokenIdentifier", Ty::String),
        ("userType", Ty::Open),
    ],
    source: "https://learn.microsoft.com/graph/api/resources/signin?view=graph-rest-beta",
}];

/// The schema named `name` (from the description, or one of [`EXTRA_SCHEMAS`]).
pub(crate) fn schema(name: &str) -> Option<&'static Schema> {
    SCHEMAS
        .binary_search_by(|s| s.name.cmp(name))
        .ok()
        .map(|i| &SCHEMAS[i])
        .or_else(|| {
            EXTRA_SCHEMAS
                .iter()
                .map(|(s, _)| s)
                .find(|s| s.name == name)
        })
}

fn find(list: &'static [(&'static str, Ty)], name: &str) -> Option<(&'static str, Ty)> {
    list.iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(name))
        .copied()
}

fn documented(list: &'static [Documented], entity: &str, name: &str) -> Option<(&'static str, Ty)> {
    list.iter()
        .filter(|d| d.entity == entity)
        .find_map(|d| find(d.props, name))
}

/// The property `name` (matched without regard to case, as Graph does) of type `entity` or one of
/// its base types, on v1.0 or on beta: its spelling in the description and its type.
pub(crate) fn property(entity: &str, name: &str, beta: bool) -> Option<(&'static str, Ty)> {
    let mut current = schema(entity);
    while let Some(s) = current {
        if let Some(found) = find(s.props, name)
            .or_else(|| documented(V1_ADDITIONS, s.name, name))
            .or_else(|| beta.then(|| documented(BETA_ONLY, s.name, name)).flatten())
        {
            return Some(found);
        }
        current = s.base.and_then(schema);
    }
    None
}

/// Whether `derived` is `base` or inherits from it.
pub(crate) fn is_a(derived: &str, base: &str) -> bool {
    let mut current = schema(derived);
    while let Some(s) = current {
        if s.name == base {
            return true;
        }
        current = s.base.and_then(schema);
    }
    false
}

/// The types that inherit from `base`, directly or not.
pub(crate) fn derived_types(base: &str) -> Vec<&'static str> {
    SCHEMAS
        .iter()
        .chain(EXTRA_SCHEMAS.iter().map(|(s, _)| s))
        .filter(|s| s.name != base && is_a(s.name, base))
        .map(|s| s.name)
        .collect()
}

/// The members of an enumeration (with the documented newer ones), if it is one.
pub(crate) fn enum_members(name: &str) -> Option<Vec<&'static str>> {
    let members = ENUMS
        .binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| ENUMS[i].1)?;
    let mut all = members.to_vec();
    for (n, extra) in V1_ENUM_ADDITIONS {
        if *n == name {
            all.extend_from_slice(extra);
        }
    }
    Some(all)
}

/// Every property Microsoft documents for a type (or its base types) beyond the description, on
/// v1.0 or on beta, with the page that documents it (the conformance test allows these besides
/// the description's own).
pub fn documented_properties(entity: &str, beta: bool) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut current = schema(entity);
    while let Some(s) = current {
        for (extra, source) in EXTRA_SCHEMAS.iter().filter(|(e, _)| e.name == s.name) {
            out.extend(extra.props.iter().map(|(p, _)| (*p, *source)));
        }
        let lists: &[&'static [Documented]] = if beta {
            &[V1_ADDITIONS, BETA_ONLY]
        } else {
            &[V1_ADDITIONS]
        };
        for list in lists {
            for d in list.iter().filter(|d| d.entity == s.name) {
                out.extend(d.props.iter().map(|(p, _)| (*p, d.source)));
            }
        }
        current = s.base.and_then(schema);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_descriptions_types_with_their_inheritance() {
        assert!(SCHEMAS.windows(2).all(|w| w[0].name < w[1].name), "sorted");
        assert_eq!(
            property("microsoft.graph.user", "displayname", false),
            Some(("displayName", Ty::String))
        );
        assert_eq!(
            property("microsoft.graph.user", "deletedDateTime", false),
            Some(("deletedDateTime", Ty::DateTime)),
            "inherited from directoryObject"
        );
        assert_eq!(
            property("microsoft.graph.appRoleAssignment", "principalId", false),
            Some(("principalId", Ty::Guid))
        );
        assert_eq!(
            property("microsoft.graph.signIn", "status", false),
            Some(("status", Ty::Complex("microsoft.graph.signInStatus")))
        );
        assert_eq!(
            property("microsoft.graph.signIn", "riskState", false),
            Some(("riskState", Ty::Enum("microsoft.graph.riskState")))
        );
        assert!(property("microsoft.graph.user", "createdDatetime2", false).is_none());
        assert!(is_a(
            "microsoft.graph.phoneAuthenticationMethod",
            "microsoft.graph.authenticationMethod"
        ));
        assert!(derived_types("microsoft.graph.directoryObject")
            .contains(&"microsoft.graph.directoryRole"));
        assert!(enum_members("microsoft.graph.riskState").is_some_and(|m| m.contains(&"atRisk")));
    }

    #[test]
    fn beta_only_properties_exist_only_on_beta() {
        assert!(property("microsoft.graph.signIn", "signInEventTypes", false).is_none());
        assert!(property("microsoft.graph.signIn", "autonomousSystemNumber", false).is_none());
        assert_eq!(
            property("microsoft.graph.signIn", "autonomousSystemNumber", true),
            Some(("autonomousSystemNumber", Ty::Int))
        );
        assert_eq!(
            property("microsoft.graph.signIn", "userAgent", false),
            Some(("userAgent", Ty::String)),
            "newer v1.0 property"
        );
        let names = |beta| -> Vec<&str> {
            documented_properties("microsoft.graph.signIn", beta)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        assert!(names(true).contains(&"sessionId"));
        assert!(!names(false).contains(&"sessionId"));
        assert!(
            documented_properties("microsoft.graph.directoryRole", false)
                .iter()
                .any(|(p, source)| *p == "roleTemplateId" && source.contains("directoryrole"))
        );
    }
}
