//! The checks answered by Purview audit searches: MailItemsAccessed (bulk reads, bind or sync —
//! with its own dedicated export), SharePoint and OneDrive downloads and sync, and Teams
//! activity. Each search is named after the check, the account and the window, so planning a
//! check and then running it reuse one search; its query id is kept in the check's facts.

use std::collections::{BTreeMap, BTreeSet};

use firebreak_graph::logs::{AuditLogRecord, DirectoryAuditQuery, NewAuditLogQuery};
use serde_json::{json, Value};

use super::{account, attacker_addresses, item, Draft};
use crate::{
    procedure::{
        tenant::{AuditSearch, IncidentTenant},
        Action, StepContext,
    },
    Error,
};

/// Runs `query` (reusing an earlier search of the same name) and saves its records as evidence
/// under `name`. `None` when the search is not available (permission, licence) or has not
/// finished: the reason is a gap of the check.
pub(super) async fn run<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
    query: &NewAuditLogQuery,
    name: &str,
) -> Result<Option<AuditSearch>, Error> {
    let search = match cx.tenant.reusable_audit_search(query).await {
        Ok(s) => s,
        Err(e) => {
            draft.gap("The Purview audit search", e)?;
            return Ok(None);
        }
    };
    draft.fact(
        &format!("{}QueryId", camel(name)),
        json!(search.query_id.clone()),
    );
    if name != "delegate-review" {
        draft.fact("auditQueryId", json!(search.query_id.clone()));
    }
    if !search.succeeded() {
        draft.gap_text(format!(
            "The Purview audit search {} had not finished when Firebreak stopped waiting (status {}). Run this check again later: it picks the same search up.",
            search.query_id, search.status
        ));
        return Ok(None);
    }
    let description = format!(
        "Purview audit search {} ({}), records as received",
        search.query_id, query.display_name
    );
    draft.capture(
        name,
        &description,
        "GET /beta/security/auditLog/queries/{id}/records",
        &search.records.pages,
    );
    Ok(Some(search))
}

fn camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn query_for<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &Draft,
    check: &str,
    operations: &[&str],
    record_types: &[&str],
) -> NewAuditLogQuery {
    let start = draft.since;
    NewAuditLogQuery {
        display_name: format!(
            "Firebreak {check} {} from {}",
            cx.account,
            start.format("%Y-%m-%dT%H:%MZ")
        ),
        filter_start_date_time: start,
        filter_end_date_time: cx.now,
        operation_filters: operations.iter().map(|s| (*s).to_owned()).collect(),
        record_type_filters: record_types.iter().map(|s| (*s).to_owned()).collect(),
        user_principal_name_filters: vec![cx.account.to_owned()],
        ..NewAuditLogQuery::default()
    }
}

fn data<'a>(record: &'a AuditLogRecord, key: &str) -> Option<&'a Value> {
    record.audit_data.as_ref().and_then(|d| d.get(key))
}

/// The app a record's action went through, when the workload names it.
fn app_of(record: &AuditLogRecord) -> Option<&str> {
    ["AppId", "ApplicationId", "ClientAppId"]
        .iter()
        .find_map(|k| data(record, k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
}

/// Who the attacker is in the audit records: their addresses, and the apps the account
/// consented to during the window (a consent-phishing app reads with its own tokens from
/// Microsoft's addresses, never from the attacker's).
struct Attacker {
    addresses: BTreeSet<String>,
    apps: BTreeSet<String>,
}

impl Attacker {
    async fn read<T: IncidentTenant>(
        cx: &StepContext<'_, T>,
        user_id: &str,
        draft: &mut Draft,
    ) -> Self {
        let addresses = attacker_addresses(cx, user_id, draft).await;
        let query = DirectoryAuditQuery {
            since: Some(draft.since),
            initiated_by_user_id: Some(user_id.to_owned()),
            activity_display_name: Some("Consent to application".into()),
            ..DirectoryAuditQuery::default()
        };
        let mut apps = BTreeSet::new();
        match cx.tenant.directory_audits(&query).await {
            Ok(consents) => {
                for target in consents
                    .items
                    .iter()
                    .flat_map(|a| a.target_resources.iter().flatten())
                {
                    let Some(id) = target.get("id").and_then(Value::as_str) else {
                        continue;
                    };
                    apps.insert(id.to_owned());
                    if let Ok(Some(sp)) = cx.tenant.service_principal(id).await {
                        apps.extend(sp.app_id);
                    }
                }
            }
            Err(e) => draft.warn(format!(
                "Consents in the window could not be read, so reads by a consented app may be missed: {e}"
            )),
        }
        Self { addresses, apps }
    }

    fn is_known(&self) -> bool {
        !self.addresses.is_empty() || !self.apps.is_empty()
    }

    /// Whether the record was made from the attacker's address or through an app the account
    /// consented to during the window.
    fn made(&self, record: &AuditLogRecord) -> bool {
        record
            .client_ip
            .as_ref()
            .is_some_and(|ip| self.addresses.contains(ip))
            || app_of(record).is_some_and(|a| self.apps.contains(a))
    }
}

/// Records grouped by client address.
fn by_address(records: &[AuditLogRecord]) -> BTreeMap<String, Vec<&AuditLogRecord>> {
    let mut groups: BTreeMap<String, Vec<&AuditLogRecord>> = BTreeMap::new();
    for r in records {
        groups
            .entry(r.client_ip.clone().unwrap_or_default())
            .or_default()
            .push(r);
    }
    groups
}

/// MailItemsAccessed records of the account: how many items were read, bind or sync, from where.
pub(super) async fn mail_items_accessed<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record what mail was read from the attacker's addresses (MailItemsAccessed).");
    let user = account(cx).await?;
    let query = query_for(cx, draft, "MailItemsAccessed", &["MailItemsAccessed"], &[]);
    let Some(search) = run(cx, draft, &query, "mail-items-accessed").await? else {
        return Ok(());
    };
    let attacker = Attacker::read(cx, &user.id, draft).await;
    let (mut bind, mut sync) = (0u64, 0u64);
    for (ip, records) in by_address(&search.records.items) {
        let mut items = 0u64;
        let mut kinds = BTreeSet::new();
        let mut folders = BTreeSet::new();
        for r in &records {
            let count = data(r, "OperationCount")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            items += count;
            let kind = data(r, "MailAccessType")
                .and_then(Value::as_str)
                .unwrap_or("Bind")
                .to_owned();
            if kind.eq_ignore_ascii_case("sync") {
                sync += count;
            } else {
                bind += count;
            }
            kinds.insert(kind);
            for f in data(r, "Folders")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(path) = f.get("Path").and_then(Value::as_str) {
                    folders.insert(path.to_owned());
                }
            }
        }
        if !records.iter().any(|r| attacker.made(r)) {
            continue;
        }
        let apps: BTreeSet<&str> = records.iter().filter_map(|r| app_of(r)).collect();
        let mut details = vec![
            format!("Items read: {items} in {} record(s)", records.len()),
            format!(
                "Access: {}",
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ];
        if !apps.is_empty() {
            details.push(format!(
                "Through app: {}",
                apps.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !folders.is_empty() {
            details.push(format!(
                "Folders: {}",
                folders.into_iter().collect::<Vec<_>>().join("; ")
            ));
        }
        let mut row = item(
            format!("seen:mail-read:{ip}"),
            "Mail read by the attacker",
            ip,
            details,
            Action::Record,
        );
        row.reasons = vec![
            "Read from the attacker's address or through an app the account consented to during the incident. Sync means a whole folder was downloaded: treat every item in it as read.".into(),
            "The dedicated MailItemsAccessed export is in the evidence; the privacy lead needs it.".into(),
        ];
        draft.finding(row);
    }
    draft.fact("itemsBound", json!(bind));
    draft.fact("itemsSynced", json!(sync));
    if !attacker.is_known() && !search.records.items.is_empty() {
        draft.warn("Identity Protection named no attacker address: review the export for reads from addresses the user does not use.");
    }
    draft.clean(format!(
        "{} MailItemsAccessed record(s), none from the attacker's addresses.",
        search.records.items.len()
    ));
    Ok(())
}

/// FileDownloaded and FileSyncDownloadedFull records of the account.
pub(super) async fn files<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record files downloaded or synced from the attacker's addresses.");
    let user = account(cx).await?;
    let query = query_for(
        cx,
        draft,
        "file downloads",
        &["FileDownloaded", "FileSyncDownloadedFull"],
        &[],
    );
    let Some(search) = run(cx, draft, &query, "file-downloads").await? else {
        return Ok(());
    };
    let attacker = Attacker::read(cx, &user.id, draft).await;
    for (ip, records) in by_address(&search.records.items) {
        let records: Vec<&AuditLogRecord> =
            records.into_iter().filter(|r| attacker.made(r)).collect();
        if records.is_empty() {
            continue;
        }
        let files: BTreeSet<String> = records
            .iter()
            .filter_map(|r| {
                data(r, "SourceFileName")
                    .or_else(|| data(r, "ObjectId"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| r.object_id.clone())
            })
            .filter(|f| !f.is_empty())
            .collect();
        let synced = records
            .iter()
            .filter(|r| r.operation.as_deref() == Some("FileSyncDownloadedFull"))
            .count();
        let mut row = item(
            format!("seen:files:{ip}"),
            "Files taken by the attacker",
            ip,
            vec![
                format!(
                    "Downloads: {}, full syncs: {synced}",
                    records.len() - synced
                ),
                format!(
                    "Files: {}",
                    files.into_iter().collect::<Vec<_>>().join("; ")
                ),
            ],
            Action::Record,
        );
        row.reasons = vec![
            "Downloaded from the attacker's address or by an app the account consented to during the incident: these files left the organisation.".into(),
        ];
        draft.finding(row);
    }
    draft.clean(format!(
        "{} download or sync record(s), none from the attacker's addresses.",
        search.records.items.len()
    ));
    Ok(())
}

/// Microsoft Teams records of the account.
pub(super) async fn teams<T: IncidentTenant>(
    cx: &StepContext<'_, T>,
    draft: &mut Draft,
) -> Result<(), Error> {
    draft.summary("Record Teams activity from the attacker's addresses (chats, shared files).");
    let user = account(cx).await?;
    let query = query_for(cx, draft, "Teams", &[], &["MicrosoftTeams"]);
    let Some(search) = run(cx, draft, &query, "teams").await? else {
        return Ok(());
    };
    let attacker = Attacker::read(cx, &user.id, draft).await;
    for r in &search.records.items {
        let ip = r.client_ip.clone().unwrap_or_default();
        if !attacker.made(r) {
            continue;
        }
        let mut details = vec![format!("From {ip}")];
        for key in ["ChatName", "TeamName", "CommunicationType", "Members"] {
            if let Some(v) = data(r, key) {
                details.push(format!(
                    "{key}: {}",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                ));
            }
        }
        let mut row = item(
            format!("seen:teams:{}", r.id),
            "Teams activity",
            r.operation.clone().unwrap_or_default(),
            details,
            Action::Record,
        );
        row.created = r.created_date_time;
        row.reasons = vec!["Done from the attacker's address: warn the people in these chats not to trust what the account sent.".into()];
        draft.finding(row);
    }
    draft.clean(format!(
        "{} Teams record(s), none from the attacker's addresses.",
        search.records.items.len()
    ));
    Ok(())
}
