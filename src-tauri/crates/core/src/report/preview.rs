//! A picture of one page for the screen, drawn from the same positioned items the PDF is written
//! from, as SVG.
//!
//! Why SVG from the canvas rather than a rendered PDF: the application ships no PDF rasteriser
//! (poppler is not on the admin's machine) and pdf.js in the webview would be a few megabytes of
//! script to show one page. The canvas already holds every line where the PDF puts it, so the
//! preview is exact by construction. Text is drawn as the embedded fonts' own glyph outlines —
//! each glyph defined once and placed with `<use>` — so the preview looks like the print, needs no
//! font in the webview, and carries no text at all: a tenant's string can never become markup,
//! because only numbers and path data reach the SVG. The UI shows it in an `<img>`, where SVG
//! cannot run scripts or load anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::outline::{OutlineBuilder, OutlineSink};
use allsorts::pathfinder_geometry::line_segment::LineSegment2F;
use allsorts::pathfinder_geometry::vector::Vector2F;
use allsorts::tables::glyf::{GlyfVisitorContext, LocaGlyf};
use allsorts::tables::loca::{owned, LocaTable};
use allsorts::tables::{FontTableProvider, HeadTable, MaxpTable};
use allsorts::tag;

use super::fonts::{Face, FontSet};
use super::layout::{palette, Canvas, Item, Rgb};
use crate::Error;

/// One page drawn for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePreview {
    /// The page as a standalone SVG document, sized in points.
    pub svg: String,
    /// How many pages the whole document has.
    pub pages: usize,
    /// The paper it is laid out for.
    pub paper: super::Paper,
}

fn failed(what: impl std::fmt::Display) -> Error {
    Error::ReportFailed {
        detail: format!("the preview could not be drawn ({what})"),
    }
}

/// Collects a glyph's outline as SVG path data, in font units with y up.
#[derive(Default)]
struct PathData(String);

impl OutlineSink for PathData {
    fn move_to(&mut self, to: Vector2F) {
        let _ = write!(self.0, "M{} {}", to.x(), to.y());
    }
    fn line_to(&mut self, to: Vector2F) {
        let _ = write!(self.0, "L{} {}", to.x(), to.y());
    }
    fn quadratic_curve_to(&mut self, ctrl: Vector2F, to: Vector2F) {
        let _ = write!(self.0, "Q{} {} {} {}", ctrl.x(), ctrl.y(), to.x(), to.y());
    }
    fn cubic_curve_to(&mut self, ctrl: LineSegment2F, to: Vector2F) {
        let _ = write!(
            self.0,
            "C{} {} {} {} {} {}",
            ctrl.from_x(),
            ctrl.from_y(),
            ctrl.to_x(),
            ctrl.to_y(),
            to.x(),
            to.y()
        );
    }
    fn close(&mut self) {
        self.0.push('Z');
    }
}

/// The outlines of `gids` in `face`'s TrueType `glyf` table, as SVG path data.
fn outlines(
    fonts: &FontSet,
    face: Face,
    gids: impl Iterator<Item = u16>,
) -> Result<BTreeMap<u16, String>, Error> {
    let bytes = fonts.face(face).bytes;
    let data = ReadScope::new(bytes)
        .read::<FontData<'_>>()
        .map_err(failed)?;
    let provider = data.table_provider(0).map_err(failed)?;
    let head_data = provider.read_table_data(tag::HEAD).map_err(failed)?;
    let head = ReadScope::new(&head_data)
        .read::<HeadTable>()
        .map_err(failed)?;
    let maxp_data = provider.read_table_data(tag::MAXP).map_err(failed)?;
    let maxp = ReadScope::new(&maxp_data)
        .read::<MaxpTable>()
        .map_err(failed)?;
    let loca_data = provider.read_table_data(tag::LOCA).map_err(failed)?;
    let loca = ReadScope::new(&loca_data)
        .read_dep::<LocaTable<'_>>((maxp.num_glyphs, head.index_to_loc_format))
        .map_err(failed)?;
    let glyf_data: Box<[u8]> = provider
        .read_table_data(tag::GLYF)
        .map_err(failed)?
        .into_owned()
        .into_boxed_slice();
    let mut loca_glyf = LocaGlyf::loaded(owned::LocaTable::from(&loca), glyf_data);
    let mut visitor = GlyfVisitorContext::new(&mut loca_glyf, None);
    let mut paths = BTreeMap::new();
    for gid in gids {
        let mut path = PathData::default();
        // A glyph that cannot be read is left blank rather than failing the whole preview.
        if visitor.visit(gid, None, &mut path).is_ok() {
            paths.insert(gid, path.0);
        }
    }
    Ok(paths)
}

fn hex(c: Rgb) -> String {
    let channel = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        channel(c.0),
        channel(c.1),
        channel(c.2)
    )
}

fn face_index(face: Face) -> usize {
    Face::ALL.iter().position(|f| *f == face).unwrap_or(0)
}

/// Page `page` (from 0) of `canvas` as a standalone SVG document, sized in points.
pub(crate) fn page_svg(fonts: &FontSet, canvas: &Canvas, page: usize) -> Result<String, Error> {
    let items = canvas
        .pages
        .get(page)
        .ok_or_else(|| failed(format!("there is no page {}", page + 1)))?;
    // Which glyphs are used, per face.
    let mut used: BTreeMap<Face, std::collections::BTreeSet<u16>> = BTreeMap::new();
    for item in items {
        if let Item::Text { runs, .. } = item {
            for run in runs {
                let face = fonts.face(run.face);
                used.entry(run.face)
                    .or_default()
                    .extend(run.text.chars().filter_map(|c| face.glyph(c)));
            }
        }
    }
    let (w, h) = canvas.paper.size();
    let mut svg = String::with_capacity(64 * 1024);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><rect width="{w}" height="{h}" fill="{}"/><defs>"#,
        hex(palette::WHITE)
    );
    for (face, gids) in &used {
        let index = face_index(*face);
        for (gid, path) in outlines(fonts, *face, gids.iter().copied())? {
            let _ = write!(svg, r#"<path id="g{index}-{gid}" d="{path}"/>"#);
        }
    }
    svg.push_str("</defs>");
    for item in items {
        match item {
            Item::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            } => {
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.2}" y="{y:.2}" width="{w:.2}" height="{h:.2}" fill="{}""#,
                    fill.map_or("none".to_owned(), hex)
                );
                if let Some((color, width)) = stroke {
                    let _ = write!(
                        svg,
                        r#" stroke="{}" stroke-width="{width:.2}""#,
                        hex(*color)
                    );
                }
                svg.push_str("/>");
            }
            Item::Line {
                x1,
                y1,
                x2,
                y2,
                color,
                width,
            } => {
                let _ = write!(
                    svg,
                    r#"<line x1="{x1:.2}" y1="{y1:.2}" x2="{x2:.2}" y2="{y2:.2}" stroke="{}" stroke-width="{width:.2}"/>"#,
                    hex(*color)
                );
            }
            Item::Text {
                x,
                baseline,
                size,
                color,
                runs,
            } => {
                let mut pen = *x;
                for run in runs {
                    let face = fonts.face(run.face);
                    let index = face_index(run.face);
                    let scale = size / face.units_per_em();
                    let fill = if run.marker { palette::MARKER } else { *color };
                    let _ = write!(svg, r#"<g fill="{}">"#, hex(fill));
                    for c in run.text.chars() {
                        let Some(gid) = face.glyph(c) else {
                            continue;
                        };
                        let _ = write!(
                            svg,
                            r##"<use href="#g{index}-{gid}" transform="translate({pen:.2} {baseline:.2}) scale({scale:.5} -{scale:.5})"/>"##
                        );
                        pen += face.advance(gid) * size;
                    }
                    svg.push_str("</g>");
                }
            }
        }
    }
    svg.push_str("</svg>");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fonts::{font_set, Weight};
    use crate::report::layout::{styles, Flow, Margins};
    use crate::report::Paper;

    fn canvas(text: &str) -> Canvas {
        let fonts = font_set().expect("fonts");
        let mut flow = Flow::new(
            fonts,
            Paper::A4,
            Margins {
                top: 40.0,
                right: 40.0,
                bottom: 40.0,
                left: 40.0,
            },
        );
        flow.paragraph(text, styles::BODY);
        flow.heading("Heading", 1);
        let _ = Weight::Bold;
        flow.canvas
    }

    #[test]
    fn the_preview_carries_glyph_outlines_and_no_text_from_the_page() {
        let hostile = "<script>alert(1)</script> \u{202E}fdp.exe Пётр 中文 שלום & \"quote\"";
        let svg = page_svg(font_set().expect("fonts"), &canvas(hostile), 0).expect("svg");
        assert!(svg.starts_with("<svg"), "a standalone SVG");
        assert!(svg.contains("viewBox=\"0 0 595.28 841.89\""));
        for fragment in ["script", "alert", "fdp", "Пётр", "中文", "quote", "&"] {
            assert!(
                !svg.contains(fragment),
                "{fragment:?} never appears in the SVG as text"
            );
        }
        // Latin from DejaVu (face 0) and CJK from Droid Sans Fallback (face 2) are both drawn.
        assert!(svg.contains("id=\"g0-"), "Latin glyphs are defined");
        assert!(svg.contains("id=\"g2-"), "CJK glyphs are defined");
        assert!(svg.contains("<use href=\"#g0-"), "glyphs are placed");
        let defined = svg.matches("<path id=").count();
        let placed = svg.matches("<use ").count();
        assert!(placed > defined, "each glyph is defined once and reused");
    }

    #[test]
    fn asking_for_a_page_that_does_not_exist_is_an_error() {
        assert!(page_svg(font_set().expect("fonts"), &canvas("x"), 3).is_err());
    }
}
