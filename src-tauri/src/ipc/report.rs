//! Wire types of the incident report: the first-page preview, the lessons-learned fields and the
//! saved files.

use serde::{Deserialize, Serialize};
use specta::Type;

use firebreak_core::report::{
    case::{ReportView, SavedReport},
    incident::LessonsLearned,
};

use super::Paper;

/// The lessons-learned fields of the report, as the admin edits them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Lessons {
    /// What went well.
    pub went_well: String,
    /// What to improve.
    pub to_improve: String,
    /// Follow-up actions and their owners.
    pub follow_ups: String,
}

impl From<LessonsLearned> for Lessons {
    fn from(l: LessonsLearned) -> Self {
        Self {
            went_well: l.went_well,
            to_improve: l.to_improve,
            follow_ups: l.follow_ups,
        }
    }
}

impl From<Lessons> for LessonsLearned {
    fn from(l: Lessons) -> Self {
        Self {
            went_well: l.went_well,
            to_improve: l.to_improve,
            follow_ups: l.follow_ups,
        }
    }
}

/// What the Report step shows.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ReportPreview {
    /// The first page as a standalone SVG document of glyph outlines (no text, no script): show
    /// it as an image.
    pub svg: String,
    /// How many pages the report has.
    pub pages: u32,
    /// The paper it is laid out for.
    pub paper: Paper,
    /// The lessons learned as last recorded.
    pub lessons: Lessons,
}

impl From<ReportView> for ReportPreview {
    fn from(v: ReportView) -> Self {
        Self {
            svg: v.preview.svg,
            pages: u32::try_from(v.preview.pages).unwrap_or(u32::MAX),
            paper: v.preview.paper.into(),
            lessons: v.lessons.into(),
        }
    }
}

/// Where the report was saved.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SavedReportFiles {
    /// The PDF.
    pub pdf: String,
    /// The timeline as CSV.
    pub csv: String,
    /// The timeline as JSON lines.
    pub jsonl: String,
    /// How many pages the PDF has.
    pub pages: u32,
}

impl From<SavedReport> for SavedReportFiles {
    fn from(s: SavedReport) -> Self {
        Self {
            pdf: s.pdf.display().to_string(),
            csv: s.csv.display().to_string(),
            jsonl: s.jsonl.display().to_string(),
            pages: u32::try_from(s.pages).unwrap_or(u32::MAX),
        }
    }
}
