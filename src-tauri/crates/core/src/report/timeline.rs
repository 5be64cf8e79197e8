//! The timeline export: CSV and JSON lines in the shape Timesketch imports (`datetime`,
//! `timestamp_desc`, `message`, then our own columns).
//!
//! [`TimelineEvent`] is the common shape the case journal and the tenant's logs (sign-ins, audit
//! records, ...) are mapped to; the incident report's timeline uses it too.
//!
//! Attacker-controlled text and spreadsheets: a cell beginning with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is a formula to Excel and LibreOffice ("CSV injection"). The CSV therefore
//! prefixes such cells with a single quote `'` in every column that carries text from the tenant
//! (message, actor, source, kind — and so `timestamp_desc`, which repeats the kind — and the extra
//! fields); `datetime` is ours and never touched. This changes those cells by one character, so the JSON lines file is the lossless
//! export and the one to prefer for machine import; the CSV is safe to open in a spreadsheet.
//! Quoting (commas, quotes, line breaks) is done by the `csv` crate.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Serialize};

use crate::Error;

/// One thing that happened, from the journal or from the tenant's logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// When it happened, with the offset it was recorded in.
    pub time: DateTime<FixedOffset>,
    /// Where the record comes from: `journal`, `signIns`, `directoryAudits`, `unifiedAuditLog`, ...
    pub source: String,
    /// What the time stamp means, in Timesketch's sense (`Sign-in time`, `Action recorded`, ...).
    pub kind: String,
    /// What happened, in one line.
    pub description: String,
    /// Who did it (a user principal name, an app, "Firebreak"), when known.
    pub actor: Option<String>,
    /// Further attributes (`ipAddress`, `appDisplayName`, `ruleName`, ...), exported as columns.
    pub fields: BTreeMap<String, String>,
}

/// Columns Timesketch requires, followed by ours.
const FIXED_COLUMNS: [&str; 6] = [
    "datetime",
    "timestamp_desc",
    "message",
    "source",
    "kind",
    "actor",
];

/// The `datetime` value: ISO 8601 with the offset, e.g. `2026-03-01T23:47:05+01:00`.
pub fn iso_datetime(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// The column name for an extra field; fields never overwrite a fixed column.
fn field_column(key: &str) -> String {
    if FIXED_COLUMNS.contains(&key) || key == "timestamp" {
        format!("field_{key}")
    } else {
        key.to_owned()
    }
}

/// A cell as written to CSV: a leading formula character is neutralised with `'`.
pub fn spreadsheet_safe(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

fn csv_failed(e: impl std::fmt::Display) -> Error {
    Error::ReportFailed {
        detail: format!("the timeline CSV could not be written ({e})"),
    }
}

/// Writes `events` as CSV with a header row: the fixed columns, then one column per extra field
/// name found in any event (sorted by name).
pub fn write_csv<W: Write>(events: &[TimelineEvent], out: W) -> Result<(), Error> {
    let keys: BTreeSet<&str> = events
        .iter()
        .flat_map(|e| e.fields.keys().map(String::as_str))
        .collect();
    let mut writer = csv::Writer::from_writer(out);
    let header: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(keys.iter().map(|k| field_column(k)))
        .collect();
    writer.write_record(&header).map_err(csv_failed)?;
    for event in events {
        let mut record = vec![
            iso_datetime(&event.time),
            spreadsheet_safe(&event.kind),
            spreadsheet_safe(&event.description),
            spreadsheet_safe(&event.source),
            spreadsheet_safe(&event.kind),
            spreadsheet_safe(event.actor.as_deref().unwrap_or("")),
        ];
        for key in &keys {
            record.push(spreadsheet_safe(
                event.fields.get(*key).map(String::as_str).unwrap_or(""),
            ));
        }
        writer.write_record(&record).map_err(csv_failed)?;
    }
    writer.flush().map_err(csv_failed)
}

/// Writes `events` as JSON lines: one object per line with `datetime`, `timestamp_desc`,
/// `message`, our columns and the extra fields. Values are exactly as recorded.
pub fn write_jsonl<W: Write>(events: &[TimelineEvent], mut out: W) -> Result<(), Error> {
    for event in events {
        let mut object = serde_json::Map::new();
        for (key, value) in &event.fields {
            object.insert(field_column(key), value.clone().into());
        }
        object.insert("datetime".into(), iso_datetime(&event.time).into());
        object.insert("timestamp_desc".into(), event.kind.clone().into());
        object.insert("message".into(), event.description.clone().into());
        object.insert("source".into(), event.source.clone().into());
        object.insert("kind".into(), event.kind.clone().into());
        object.insert(
            "actor".into(),
            event.actor.clone().unwrap_or_default().into(),
        );
        let line = serde_json::to_string(&object).map_err(|e| Error::ReportFailed {
            detail: format!("the timeline could not be encoded ({e})"),
        })?;
        writeln!(out, "{line}").map_err(|e| Error::ReportFailed {
            detail: format!("the timeline could not be written ({e})"),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(description: &str) -> TimelineEvent {
        TimelineEvent {
            time: DateTime::parse_from_rfc3339("2026-03-01T23:47:05+01:00").expect("time"),
            source: "signIns".into(),
            kind: "Sign-in time".into(),
            description: description.into(),
            actor: Some("megan@contoso.example".into()),
            fields: BTreeMap::from([
                ("ipAddress".to_owned(), "203.0.113.7".to_owned()),
                ("message".to_owned(), "collides".to_owned()),
            ]),
        }
    }

    fn csv_rows(events: &[TimelineEvent]) -> Vec<Vec<String>> {
        let mut buf = Vec::new();
        write_csv(events, &mut buf).expect("csv");
        csv::Reader::from_reader(buf.as_slice())
            .records()
            .map(|r| r.expect("record").iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn csv_has_the_timesketch_columns_first_and_fields_after() {
        let mut buf = Vec::new();
        write_csv(&[event("Sign-in from 203.0.113.7")], &mut buf).expect("csv");
        let text = String::from_utf8(buf).expect("utf8");
        let header = text.lines().next().expect("header");
        assert_eq!(
            header,
            "datetime,timestamp_desc,message,source,kind,actor,ipAddress,field_message"
        );
        assert!(text.contains("2026-03-01T23:47:05+01:00,Sign-in time,Sign-in from 203.0.113.7"));
    }

    #[test]
    fn commas_quotes_and_line_breaks_survive_a_round_trip() {
        let hostile = "Rule \"., invoice\"\nline two, with comma";
        let rows = csv_rows(&[event(hostile)]);
        assert_eq!(rows[0][2], hostile);
    }

    #[test]
    fn formula_cells_are_neutralised_in_csv_but_not_in_json_lines() {
        for formula in ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx"] {
            let rows = csv_rows(&[event(formula)]);
            assert_eq!(rows[0][2], format!("'{formula}"), "{formula:?}");
            let mut buf = Vec::new();
            write_jsonl(&[event(formula)], &mut buf).expect("jsonl");
            let value: serde_json::Value =
                serde_json::from_slice(buf.split(|b| *b == b'\n').next().expect("line"))
                    .expect("json");
            assert_eq!(value["message"], formula, "JSON lines keep the exact text");
        }
        assert_eq!(spreadsheet_safe("plain"), "plain");
    }

    #[test]
    fn json_lines_have_one_object_per_event_with_the_required_keys() {
        let mut buf = Vec::new();
        write_jsonl(&[event("a"), event("b\nc")], &mut buf).expect("jsonl");
        let text = String::from_utf8(buf).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            2,
            "a line break in a message stays inside its JSON string"
        );
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).expect("json");
            assert_eq!(v["datetime"], "2026-03-01T23:47:05+01:00");
            assert_eq!(v["timestamp_desc"], "Sign-in time");
            assert_eq!(v["ipAddress"], "203.0.113.7");
            assert_eq!(
                v["field_message"], "collides",
                "a field never replaces message"
            );
        }
    }
}
