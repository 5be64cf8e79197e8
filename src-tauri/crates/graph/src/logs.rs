//! Logs: Entra sign-ins (v1.0, and beta for non-interactive / service-principal sign-ins through
//! the `signInEventTypes` filter), directory audits, and the Purview audit-log query lifecycle
//! (create, poll until it finishes, page its records).

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    client::{Call, Client, PageStream},
    odata::{build_url, datetime, object_id, opaque_id, quote},
    permissions::Operation,
    Error,
};

const SIGN_IN_SELECT: &str = "id,createdDateTime,userId,userPrincipalName,userDisplayName,appId,appDisplayName,ipAddress,clientAppUsed,conditionalAccessStatus,isInteractive,resourceDisplayName,resourceId,correlationId,riskDetail,riskLevelAggregated,riskLevelDuringSignIn,riskState,riskEventTypes_v2,status,location,deviceDetail";
const BETA_SIGN_IN_EXTRA: &str = ",signInEventTypes,autonomousSystemNumber,sessionId,userAgent";
const AUDIT_SELECT: &str = "id,activityDateTime,activityDisplayName,category,correlationId,loggedByService,operationType,result,resultReason,initiatedBy,targetResources,additionalDetails";
const QUERY_SELECT: &str = "id,displayName,filterStartDateTime,filterEndDateTime,recordTypeFilters,keywordFilter,serviceFilters,operationFilters,userPrincipalNameFilters,ipAddressFilters,objectIdFilters,administrativeUnitIdFilters,status";
const RECORD_SELECT: &str = "id,createdDateTime,auditLogRecordType,operation,organizationId,userType,userId,service,objectId,userPrincipalName,clientIp,administrativeUnits,auditData";

/// `microsoft.graph.signInStatus`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignInStatus {
    /// 0 for success.
    pub error_code: Option<i64>,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// More detail.
    pub additional_details: Option<String>,
}

/// `microsoft.graph.signInLocation` (the parts shown).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignInLocation {
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Two-letter country or region.
    pub country_or_region: Option<String>,
}

/// `microsoft.graph.signIn` (v1.0; the beta-only properties are `None` on v1.0 pages).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SignIn {
    /// Sign-in id.
    pub id: String,
    /// When.
    pub created_date_time: Option<DateTime<Utc>>,
    /// User object id.
    pub user_id: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
    /// Display name.
    pub user_display_name: Option<String>,
    /// Client app id.
    pub app_id: Option<String>,
    /// Client app name (attacker-controlled for malicious apps).
    pub app_display_name: Option<String>,
    /// Source IP address.
    pub ip_address: Option<String>,
    /// Client (browser, legacy protocol ...).
    pub client_app_used: Option<String>,
    /// Conditional Access result.
    pub conditional_access_status: Option<String>,
    /// Interactive or not.
    pub is_interactive: Option<bool>,
    /// Resource signed in to.
    pub resource_display_name: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Risk detail.
    pub risk_detail: Option<String>,
    /// Aggregated risk.
    pub risk_level_aggregated: Option<String>,
    /// Risk during sign-in.
    pub risk_level_during_sign_in: Option<String>,
    /// Risk state.
    pub risk_state: Option<String>,
    /// Risk event types.
    #[serde(rename = "riskEventTypes_v2")]
    pub risk_event_types_v2: Option<Vec<String>>,
    /// Success or failure.
    pub status: Option<SignInStatus>,
    /// Where.
    pub location: Option<SignInLocation>,
    /// Device, as sent.
    pub device_detail: Option<serde_json::Value>,
    /// Beta: `interactiveUser`, `nonInteractiveUser`, `servicePrincipal`, ...
    pub sign_in_event_types: Option<Vec<String>>,
    /// Beta: the source network's ASN.
    pub autonomous_system_number: Option<i64>,
    /// Beta: the session generated at the interactive sign-in that every later token of the
    /// session carries (links interactive and non-interactive sign-ins).
    pub session_id: Option<String>,
    /// Beta: the client's user agent.
    pub user_agent: Option<String>,
}

/// Beta sign-in event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SignInEventType {
    /// Interactive user sign-ins.
    InteractiveUser,
    /// Non-interactive user sign-ins (token refreshes).
    NonInteractiveUser,
    /// Service principal sign-ins.
    ServicePrincipal,
    /// Managed identity sign-ins.
    ManagedIdentity,
}

impl SignInEventType {
    fn wire(self) -> &'static str {
        match self {
            Self::InteractiveUser => "interactiveUser",
            Self::NonInteractiveUser => "nonInteractiveUser",
            Self::ServicePrincipal => "servicePrincipal",
            Self::ManagedIdentity => "managedIdentity",
        }
    }
}

/// What sign-ins to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInQuery {
    /// Only this user (object id).
    pub user_id: Option<String>,
    /// Only from this IP address (any text; quoted).
    pub ip_address: Option<String>,
    /// Only from addresses starting with this text (`startswith(ipAddress, '203.0.113.')`, a
    /// range; quoted).
    pub ip_prefix: Option<String>,
    /// From this instant on.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Event types; empty means v1.0 (interactive only). Non-empty uses beta's filter.
    pub event_types: Vec<SignInEventType>,
}

impl SignInQuery {
    /// The `$filter` expression (values validated and quoted).
    pub fn to_filter(&self) -> Result<Option<String>, Error> {
        let mut parts = Vec::new();
        if let Some(u) = &self.user_id {
            parts.push(format!("userId eq {}", quote(object_id("user id", u)?)));
        }
        if let Some(ip) = &self.ip_address {
            parts.push(format!("ipAddress eq {}", quote(ip)));
        }
        if let Some(prefix) = &self.ip_prefix {
            parts.push(format!("startswith(ipAddress, {})", quote(prefix)));
        }
        if let Some(t) = self.since {
            parts.push(format!("createdDateTime ge {}", datetime(t)));
        }
        if let Some(t) = self.until {
            parts.push(format!("createdDateTime lt {}", datetime(t)));
        }
        if !self.event_types.is_empty() {
            let any: Vec<String> = self
                .event_types
                .iter()
                .map(|e| format!("t eq {}", quote(e.wire())))
                .collect();
            parts.push(format!("signInEventTypes/any(t: {})", any.join(" or ")));
        }
        Ok((!parts.is_empty()).then(|| parts.join(" and ")))
    }
}

/// `microsoft.graph.directoryAudit`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryAudit {
    /// Entry id.
    pub id: String,
    /// When.
    pub activity_date_time: Option<DateTime<Utc>>,
    /// What (e.g. "Consent to application").
    pub activity_display_name: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Service.
    pub logged_by_service: Option<String>,
    /// Add, Update, Delete...
    pub operation_type: Option<String>,
    /// success / failure.
    pub result: Option<String>,
    /// Why.
    pub result_reason: Option<String>,
    /// Who, as sent.
    pub initiated_by: Option<serde_json::Value>,
    /// Targets, as sent.
    pub target_resources: Option<Vec<serde_json::Value>>,
    /// Details, as sent.
    pub additional_details: Option<Vec<serde_json::Value>>,
}

/// What directory audits to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryAuditQuery {
    /// From this instant on.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only actions by this user (object id).
    pub initiated_by_user_id: Option<String>,
    /// Only actions on this object (object id).
    pub target_id: Option<String>,
    /// Only this activity (e.g. "Consent to application"; quoted).
    pub activity_display_name: Option<String>,
}

impl DirectoryAuditQuery {
    /// The `$filter` expression (values validated and quoted).
    pub fn to_filter(&self) -> Result<Option<String>, Error> {
        let mut parts = Vec::new();
        if let Some(t) = self.since {
            parts.push(format!("activityDateTime ge {}", datetime(t)));
        }
        if let Some(t) = self.until {
            parts.push(format!("activityDateTime lt {}", datetime(t)));
        }
        if let Some(u) = &self.initiated_by_user_id {
            parts.push(format!(
                "initiatedBy/user/id eq {}",
                quote(object_id("user id", u)?)
            ));
        }
        if let Some(t) = &self.target_id {
            parts.push(format!(
                "targetResources/any(t:t/id eq {})",
                quote(object_id("target id", t)?)
            ));
        }
        if let Some(a) = &self.activity_display_name {
            parts.push(format!("activityDisplayName eq {}", quote(a)));
        }
        Ok((!parts.is_empty()).then(|| parts.join(" and ")))
    }
}

/// The body of a new audit-log query (`microsoft.graph.security.auditLogQuery`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewAuditLogQuery {
    /// Name shown in Purview.
    pub display_name: String,
    /// Start of the searched window.
    pub filter_start_date_time: DateTime<Utc>,
    /// End of the searched window.
    pub filter_end_date_time: DateTime<Utc>,
    /// Record types (PascalCase, e.g. `ExchangeItem`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub record_type_filters: Vec<String>,
    /// Free-text keyword.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword_filter: Option<String>,
    /// Services (e.g. `Exchange`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub service_filters: Vec<String>,
    /// Operations (e.g. `MailItemsAccessed`, `New-InboxRule`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operation_filters: Vec<String>,
    /// Users.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub user_principal_name_filters: Vec<String>,
    /// IP addresses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ip_address_filters: Vec<String>,
    /// Object ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub object_id_filters: Vec<String>,
}

/// `microsoft.graph.security.auditLogQuery`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogQuery {
    /// Query id (kept in the case: the evidence names it).
    pub id: String,
    /// Name.
    pub display_name: Option<String>,
    /// Window start.
    pub filter_start_date_time: Option<DateTime<Utc>>,
    /// Window end.
    pub filter_end_date_time: Option<DateTime<Utc>>,
    /// `notStarted`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: Option<String>,
    /// Operations searched.
    pub operation_filters: Option<Vec<String>>,
    /// Users searched.
    pub user_principal_name_filters: Option<Vec<String>>,
}

impl AuditLogQuery {
    /// Whether the query has finished, one way or another.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("succeeded" | "failed" | "cancelled")
        )
    }
}

/// `microsoft.graph.security.auditLogRecord`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditLogRecord {
    /// Record id.
    pub id: String,
    /// When.
    pub created_date_time: Option<DateTime<Utc>>,
    /// Record type.
    pub audit_log_record_type: Option<String>,
    /// Operation (e.g. `MailItemsAccessed`).
    pub operation: Option<String>,
    /// Tenant.
    pub organization_id: Option<String>,
    /// `Regular`, `Admin`, ...
    pub user_type: Option<String>,
    /// Actor.
    pub user_id: Option<String>,
    /// Workload.
    pub service: Option<String>,
    /// Object acted on.
    pub object_id: Option<String>,
    /// Actor's UPN.
    pub user_principal_name: Option<String>,
    /// Client IP.
    pub client_ip: Option<String>,
    /// Administrative units.
    pub administrative_units: Option<Vec<String>>,
    /// The workload's own record, as sent.
    pub audit_data: Option<serde_json::Value>,
}

impl Client {
    /// `GET /auditLogs/signIns` (v1.0), or beta when `query.event_types` is not empty; 1,000 per
    /// page, newest first. Without Entra ID P1 the service answers 403
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant` ([`Error::is_premium_required`]).
    pub fn list_sign_ins(&self, query: &SignInQuery) -> PageStream<SignIn> {
        let beta = !query.event_types.is_empty();
        let url = query.to_filter().and_then(|filter| {
            let select = if beta {
                format!("{SIGN_IN_SELECT}{BETA_SIGN_IN_EXTRA}")
            } else {
                SIGN_IN_SELECT.to_owned()
            };
            let mut q = vec![("$select", select), ("$top", "1000".to_owned())];
            if let Some(f) = filter {
                q.push(("$filter", f));
            }
            build_url(&self.graph_root(beta), &["auditLogs", "signIns"], &q)
        });
        self.stream_or_error(Operation::ListSignIns, url)
    }

    /// `GET /auditLogs/directoryAudits`.
    pub fn list_directory_audits(&self, query: &DirectoryAuditQuery) -> PageStream<DirectoryAudit> {
        let url = query.to_filter().and_then(|filter| {
            let mut q = vec![("$select", AUDIT_SELECT.to_owned())];
            if let Some(f) = filter {
                q.push(("$filter", f));
            }
            build_url(
                &self.graph_root(false),
                &["auditLogs", "directoryAudits"],
                &q,
            )
        });
        self.stream_or_error(Operation::ListDirectoryAudits, url)
    }

    /// `POST /security/auditLog/queries` (beta): starts a Purview audit search.
    pub async fn create_audit_log_query(
        &self,
        query: &NewAuditLogQuery,
    ) -> Result<AuditLogQuery, Error> {
        let url = build_url(
            &self.graph_root(true),
            &["security", "auditLog", "queries"],
            &[],
        )?;
        let body = serde_json::to_value(query).unwrap_or_else(|_| json!({}));
        self.fetch(&Call::new(Operation::AuditLogQuery, Method::POST, url).json(body))
            .await
    }

    /// `GET /security/auditLog/queries/{id}` (beta): the query and its status.
    pub async fn get_audit_log_query(&self, id: &str) -> Result<AuditLogQuery, Error> {
        let id = opaque_id("audit query id", id)?;
        let url = build_url(
            &self.graph_root(true),
            &["security", "auditLog", "queries", id],
            &[("$select", QUERY_SELECT.into())],
        )?;
        self.fetch(&Call::new(Operation::AuditLogQuery, Method::GET, url))
            .await
    }

    /// Polls the query every `interval` until it has finished or `timeout` has passed (measured on
    /// the client's clock, and by the number of polls so a clock that stands still cannot keep it
    /// waiting for ever); returns the last state seen.
    pub async fn wait_for_audit_log_query(
        &self,
        id: &str,
        interval: Duration,
        timeout: Duration,
    ) -> Result<AuditLogQuery, Error> {
        let clock = self.clock().clone();
        let deadline = clock.now() + chrono::Duration::from_std(timeout).unwrap_or_default();
        let max_polls = timeout.as_millis() / interval.as_millis().max(1) + 1;
        let mut polls = 0u128;
        loop {
            let query = self.get_audit_log_query(id).await?;
            polls += 1;
            if query.is_finished() || clock.now() >= deadline || polls >= max_polls {
                return Ok(query);
            }
            let wait = clock.sleep(interval);
            self.run_cancellable(wait).await?;
        }
    }

    /// `GET /security/auditLog/queries/{id}/records` (beta).
    pub fn list_audit_log_records(&self, id: &str) -> PageStream<AuditLogRecord> {
        let url = opaque_id("audit query id", id).and_then(|id| {
            build_url(
                &self.graph_root(true),
                &["security", "auditLog", "queries", id, "records"],
                &[("$select", RECORD_SELECT.into())],
            )
        });
        self.stream_or_error(Operation::AuditLogQuery, url)
    }

    /// `GET /security/auditLog/queries` (beta), to see whether the API answers at all.
    pub fn list_audit_log_queries(&self) -> PageStream<AuditLogQuery> {
        let url = build_url(
            &self.graph_root(true),
            &["security", "auditLog", "queries"],
            &[("$select", QUERY_SELECT.into())],
        );
        self.stream_or_error(Operation::AuditLogQuery, url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&Utc)
    }

    #[test]
    fn sign_in_filters_combine_user_window_and_event_types() {
        let q = SignInQuery {
            user_id: Some("6e7b768e-07e2-4810-8459-485f84f8f204".into()),
            since: Some(t("2024-06-01T00:00:00Z")),
            event_types: vec![
                SignInEventType::InteractiveUser,
                SignInEventType::NonInteractiveUser,
            ],
            ..Default::default()
        };
        assert_eq!(
            q.to_filter().expect("filter").as_deref(),
            Some("userId eq '6e7b768e-07e2-4810-8459-485f84f8f204' and createdDateTime ge 2024-06-01T00:00:00Z and signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser')")
        );
    }

    #[test]
    fn a_range_is_searched_by_address_prefix_inside_a_quoted_literal() {
        let q = SignInQuery {
            ip_prefix: Some("203.0.113.".into()),
            ..Default::default()
        };
        assert_eq!(
            q.to_filter().expect("filter").as_deref(),
            Some("startswith(ipAddress, '203.0.113.')")
        );
        let hostile = SignInQuery {
            ip_prefix: Some("1.') or true or startswith(ipAddress, '".into()),
            ..Default::default()
        };
        assert_eq!(
            hostile.to_filter().expect("filter").as_deref(),
            Some("startswith(ipAddress, '1.'') or true or startswith(ipAddress, ''')")
        );
    }

    #[test]
    fn hostile_ip_and_activity_values_stay_inside_their_literal() {
        let q = SignInQuery {
            ip_address: Some("1.2.3.4' or true or ipAddress eq '".into()),
            ..Default::default()
        };
        assert_eq!(
            q.to_filter().expect("filter").as_deref(),
            Some("ipAddress eq '1.2.3.4'' or true or ipAddress eq '''")
        );
        let a = DirectoryAuditQuery {
            activity_display_name: Some("Consent to 'app'".into()),
            ..Default::default()
        };
        assert_eq!(
            a.to_filter().expect("f").as_deref(),
            Some("activityDisplayName eq 'Consent to ''app'''")
        );
        let bad = DirectoryAuditQuery {
            target_id: Some("x') or (1 eq 1".into()),
            ..Default::default()
        };
        assert!(bad.to_filter().is_err());
    }

    #[test]
    fn new_audit_queries_serialise_only_the_filters_given() {
        let q = NewAuditLogQuery {
            display_name: "Firebreak case 1".into(),
            filter_start_date_time: t("2024-06-01T00:00:00Z"),
            filter_end_date_time: t("2024-06-02T00:00:00Z"),
            operation_filters: vec!["MailItemsAccessed".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&q).expect("json");
        assert_eq!(v["displayName"], "Firebreak case 1");
        assert_eq!(v["operationFilters"][0], "MailItemsAccessed");
        assert!(v.get("recordTypeFilters").is_none());
        assert_eq!(v["filterStartDateTime"], "2024-06-01T00:00:00Z");
    }
}
