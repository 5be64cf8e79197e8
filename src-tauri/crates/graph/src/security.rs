//! Identity Protection (risky users, risk detections, confirm compromised) and Defender XDR
//! (incidents, alerts).

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::{
    client::{Call, Client, PageStream},
    odata::{build_url, datetime, object_id, opaque_id, quote},
    permissions::Operation,
    Error,
};

const RISKY_USER_SELECT: &str = "id,isDeleted,isProcessing,riskDetail,riskLastUpdatedDateTime,riskLevel,riskState,userDisplayName,userPrincipalName";
const DETECTION_SELECT: &str = "id,activity,activityDateTime,additionalInfo,correlationId,detectedDateTime,detectionTimingType,ipAddress,lastUpdatedDateTime,location,requestId,riskDetail,riskEventType,riskLevel,riskState,source,tokenIssuerType,userDisplayName,userId,userPrincipalName";
const INCIDENT_SELECT: &str = "id,displayName,severity,status,classification,determination,createdDateTime,lastUpdateDateTime,incidentWebUrl,assignedTo,description,summary,tenantId";
const ALERT_SELECT: &str = "id,title,severity,status,category,classification,determination,createdDateTime,firstActivityDateTime,lastActivityDateTime,lastUpdateDateTime,incidentId,detectionSource,serviceSource,description,alertWebUrl,mitreTechniques,evidence";

/// `microsoft.graph.riskyUser`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RiskyUser {
    /// The user's object id.
    pub id: String,
    /// Deleted.
    pub is_deleted: Option<bool>,
    /// Being processed.
    pub is_processing: Option<bool>,
    /// Why the state is what it is.
    pub risk_detail: Option<String>,
    /// Last change.
    pub risk_last_updated_date_time: Option<DateTime<Utc>>,
    /// none / low / medium / high.
    pub risk_level: Option<String>,
    /// atRisk, confirmedCompromised, remediated, dismissed...
    pub risk_state: Option<String>,
    /// Display name.
    pub user_display_name: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
}

/// `microsoft.graph.riskDetection`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RiskDetection {
    /// Detection id.
    pub id: String,
    /// signin / user.
    pub activity: Option<String>,
    /// When the risky activity happened.
    pub activity_date_time: Option<DateTime<Utc>>,
    /// Extra information (a JSON string as sent).
    pub additional_info: Option<String>,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// When it was detected.
    pub detected_date_time: Option<DateTime<Utc>>,
    /// realtime / offline.
    pub detection_timing_type: Option<String>,
    /// Source IP.
    pub ip_address: Option<String>,
    /// Last update.
    pub last_updated_date_time: Option<DateTime<Utc>>,
    /// Location, as sent.
    pub location: Option<serde_json::Value>,
    /// The sign-in request id.
    pub request_id: Option<String>,
    /// Detail.
    pub risk_detail: Option<String>,
    /// e.g. anomalousToken, unfamiliarFeatures.
    pub risk_event_type: Option<String>,
    /// Level.
    pub risk_level: Option<String>,
    /// State.
    pub risk_state: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Token issuer.
    pub token_issuer_type: Option<String>,
    /// Display name.
    pub user_display_name: Option<String>,
    /// User id.
    pub user_id: Option<String>,
    /// UPN.
    pub user_principal_name: Option<String>,
}

/// `microsoft.graph.security.alert` (selected properties; evidence kept as sent).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Alert id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Category.
    pub category: Option<String>,
    /// Classification.
    pub classification: Option<String>,
    /// Determination.
    pub determination: Option<String>,
    /// Created.
    pub created_date_time: Option<DateTime<Utc>>,
    /// First activity.
    pub first_activity_date_time: Option<DateTime<Utc>>,
    /// Last activity.
    pub last_activity_date_time: Option<DateTime<Utc>>,
    /// Last update.
    pub last_update_date_time: Option<DateTime<Utc>>,
    /// Incident.
    pub incident_id: Option<String>,
    /// Detection source.
    pub detection_source: Option<String>,
    /// Service source.
    pub service_source: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Portal link.
    pub alert_web_url: Option<String>,
    /// MITRE techniques.
    pub mitre_techniques: Option<Vec<String>>,
    /// Evidence (polymorphic), as sent.
    pub evidence: Option<Vec<serde_json::Value>>,
}

/// `microsoft.graph.security.incident`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    /// Incident id.
    pub id: String,
    /// Name.
    pub display_name: Option<String>,
    /// Severity.
    pub severity: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Classification.
    pub classification: Option<String>,
    /// Determination.
    pub determination: Option<String>,
    /// Created.
    pub created_date_time: Option<DateTime<Utc>>,
    /// Last update.
    pub last_update_date_time: Option<DateTime<Utc>>,
    /// Portal link.
    pub incident_web_url: Option<String>,
    /// Assignee.
    pub assigned_to: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Tenant.
    pub tenant_id: Option<String>,
    /// Alerts, when expanded.
    pub alerts: Option<Vec<Alert>>,
}

impl Client {
    /// `GET /identityProtection/riskyUsers`, optionally only those `atRisk`.
    pub fn list_risky_users(&self, at_risk_only: bool) -> PageStream<RiskyUser> {
        let mut q = vec![("$select", RISKY_USER_SELECT.to_owned())];
        if at_risk_only {
            q.push(("$filter", format!("riskState eq {}", quote("atRisk"))));
        }
        let url = build_url(
            &self.graph_root(false),
            &["identityProtection", "riskyUsers"],
            &q,
        );
        self.stream_or_error(Operation::ReadRiskyUsers, url)
    }

    /// `GET /identityProtection/riskyUsers/{id}` (404 when the user has no risk record).
    pub async fn get_risky_user(&self, user_id: &str) -> Result<RiskyUser, Error> {
        let id = object_id("user id", user_id)?;
        let url = build_url(
            &self.graph_root(false),
            &["identityProtection", "riskyUsers", id],
            &[("$select", RISKY_USER_SELECT.into())],
        )?;
        self.fetch(&Call::new(Operation::ReadRiskyUsers, Method::GET, url))
            .await
    }

    /// Reads the risky user every `interval` while Identity Protection is still processing a
    /// change to it (`isProcessing`, as after `confirmCompromised`), until `timeout` has passed on
    /// the client's clock (or as many polls as fit in it, so a clock that stands still cannot keep
    /// it waiting for ever); returns the last state seen.
    pub async fn wait_for_risky_user(
        &self,
        user_id: &str,
        interval: std::time::Duration,
        timeout: std::time::Duration,
    ) -> Result<RiskyUser, Error> {
        let clock = self.clock().clone();
        let deadline = clock.now() + chrono::Duration::from_std(timeout).unwrap_or_default();
        let max_polls = timeout.as_millis() / interval.as_millis().max(1) + 1;
        let mut polls = 0u128;
        loop {
            let risky = self.get_risky_user(user_id).await?;
            polls += 1;
            if risky.is_processing != Some(true) || clock.now() >= deadline || polls >= max_polls {
                return Ok(risky);
            }
            self.run_cancellable(clock.sleep(interval)).await?;
        }
    }

    /// `GET /identityProtection/riskDetections` for one user, since `since`.
    pub fn list_risk_detections(
        &self,
        user_id: Option<&str>,
        since: Option<DateTime<Utc>>,
    ) -> PageStream<RiskDetection> {
        let url = (|| {
            let mut parts = Vec::new();
            if let Some(u) = user_id {
                parts.push(format!("userId eq {}", quote(object_id("user id", u)?)));
            }
            if let Some(t) = since {
                parts.push(format!("detectedDateTime ge {}", datetime(t)));
            }
            let mut q = vec![("$select", DETECTION_SELECT.to_owned())];
            if !parts.is_empty() {
                q.push(("$filter", parts.join(" and ")));
            }
            build_url(
                &self.graph_root(false),
                &["identityProtection", "riskDetections"],
                &q,
            )
        })();
        self.stream_or_error(Operation::ListRiskDetections, url)
    }

    /// `POST /identityProtection/riskyUsers/confirmCompromised`.
    pub async fn confirm_compromised(&self, user_ids: &[&str]) -> Result<(), Error> {
        let ids = user_ids
            .iter()
            .map(|u| object_id("user id", u))
            .collect::<Result<Vec<_>, _>>()?;
        let url = build_url(
            &self.graph_root(false),
            &["identityProtection", "riskyUsers", "confirmCompromised"],
            &[],
        )?;
        let call = Call::new(Operation::ConfirmCompromised, Method::POST, url)
            .json(json!({ "userIds": ids }))
            .idempotent(true);
        self.execute(&call).await
    }

    /// `GET /security/incidents` created since `since`, optionally with their alerts.
    pub fn list_incidents(
        &self,
        since: Option<DateTime<Utc>>,
        expand_alerts: bool,
    ) -> PageStream<Incident> {
        let mut q = vec![("$select", INCIDENT_SELECT.to_owned())];
        if let Some(t) = since {
            q.push(("$filter", format!("createdDateTime ge {}", datetime(t))));
        }
        if expand_alerts {
            q.push(("$expand", "alerts".to_owned()));
        }
        let url = build_url(&self.graph_root(false), &["security", "incidents"], &q);
        self.stream_or_error(Operation::ReadIncidents, url)
    }

    /// `GET /security/incidents/{id}` with its alerts, decoded and raw.
    pub async fn get_incident(&self, id: &str) -> Result<(Incident, String), Error> {
        let id = opaque_id("incident id", id)?;
        let url = build_url(
            &self.graph_root(false),
            &["security", "incidents", id],
            &[
                ("$select", INCIDENT_SELECT.into()),
                ("$expand", "alerts".into()),
            ],
        )?;
        self.fetch_raw(&Call::new(Operation::ReadIncidents, Method::GET, url))
            .await
    }

    /// `GET /security/alerts_v2` created since `since`.
    pub fn list_alerts(&self, since: Option<DateTime<Utc>>) -> PageStream<Alert> {
        let mut q = vec![("$select", ALERT_SELECT.to_owned())];
        if let Some(t) = since {
            q.push(("$filter", format!("createdDateTime ge {}", datetime(t))));
        }
        let url = build_url(&self.graph_root(false), &["security", "alerts_v2"], &q);
        self.stream_or_error(Operation::ReadAlerts, url)
    }

    /// `GET /security/alerts_v2/{id}`, decoded and raw.
    pub async fn get_alert(&self, id: &str) -> Result<(Alert, String), Error> {
        let id = opaque_id("alert id", id)?;
        let url = build_url(
            &self.graph_root(false),
            &["security", "alerts_v2", id],
            &[("$select", ALERT_SELECT.into())],
        )?;
        self.fetch_raw(&Call::new(Operation::ReadAlerts, Method::GET, url))
            .await
    }
}
