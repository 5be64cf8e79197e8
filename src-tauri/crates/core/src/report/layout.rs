//! Our small typesetting layer over `printpdf`: measured line breaking, headings, paragraphs,
//! bullet lists, tables that continue across pages under a repeated header row, and a header and
//! footer with the document id and "Page x of y".
//!
//! `printpdf` (without its HTML feature) only places text at coordinates, so this module does the
//! rest. Work happens in two passes: content is laid out onto a [`Canvas`] of positioned items in
//! points with the origin at the top left; [`write_pdf`] then subsets the embedded fonts to the
//! characters actually used, converts the items into PDF operations and saves the document.
//! Lines are broken at spaces, after `-` and `/`, around CJK characters, and anywhere inside a
//! string too long for its column, so no input can run past the margins.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use printpdf::{
    Color, Line as PdfLine, LinePoint, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, Rect, TextItem, TextMatrix,
};
use serde::{Deserialize, Serialize};

use super::fonts::{self, Face, FontSet, Glyph, Weight};
use crate::Error;

/// The paper a document is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paper {
    /// ISO A4, 210 × 297 mm.
    #[default]
    A4,
    /// US Letter, 8.5 × 11 in.
    Letter,
}

impl Paper {
    /// Width and height in points.
    pub fn size(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }

    /// The name used on the command line and in settings: `a4` or `letter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Paper::A4 => "a4",
            Paper::Letter => "letter",
        }
    }

    /// Parses `a4` or `letter` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "a4" => Some(Paper::A4),
            "letter" | "us-letter" => Some(Paper::Letter),
            _ => None,
        }
    }
}

/// An sRGB colour, each channel 0–1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    const fn hex(v: u32) -> Self {
        Rgb(
            ((v >> 16) & 0xFF) as f32 / 255.0,
            ((v >> 8) & 0xFF) as f32 / 255.0,
            (v & 0xFF) as f32 / 255.0,
        )
    }

    fn pdf(self) -> Color {
        Color::Rgb(printpdf::Rgb {
            r: self.0,
            g: self.1,
            b: self.2,
            icc_profile: None,
        })
    }
}

/// The palette: the application's own colours, toned for paper.
pub(crate) mod palette {
    use super::Rgb;
    /// Body text.
    pub const INK: Rgb = Rgb::hex(0x1C2329);
    /// Secondary text.
    pub const MUTED: Rgb = Rgb::hex(0x5B6670);
    /// Headings and bands.
    pub const NAVY: Rgb = Rgb::hex(0x12324A);
    /// The one warning colour.
    pub const ACCENT: Rgb = Rgb::hex(0xB3401F);
    /// Hairlines.
    pub const RULE: Rgb = Rgb::hex(0xCFC9BF);
    /// Table header fill.
    pub const HEADER_FILL: Rgb = Rgb::hex(0xE4EBF1);
    /// Alternate table rows.
    pub const ZEBRA: Rgb = Rgb::hex(0xF6F4F0);
    /// Call-out background.
    pub const CALLOUT: Rgb = Rgb::hex(0xFBEDE7);
    /// Markers standing for characters that are not drawn as themselves.
    pub const MARKER: Rgb = Rgb::hex(0x8A5300);
    /// White.
    pub const WHITE: Rgb = Rgb::hex(0xFFFFFF);
}

/// How a piece of text is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextStyle {
    pub weight: Weight,
    /// Font size in points.
    pub size: f32,
    pub color: Rgb,
    /// Line height as a multiple of the font size.
    pub leading: f32,
}

impl TextStyle {
    pub const fn new(weight: Weight, size: f32, color: Rgb) -> Self {
        Self {
            weight,
            size,
            color,
            leading: 1.3,
        }
    }

    pub const fn leading(mut self, leading: f32) -> Self {
        self.leading = leading;
        self
    }

    pub const fn color(mut self, color: Rgb) -> Self {
        self.color = color;
        self
    }

    pub fn line_height(&self) -> f32 {
        self.size * self.leading
    }
}

/// Horizontal alignment of a line inside its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
    Center,
}

/// A stretch of one line drawn with one face.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub face: Face,
    pub marker: bool,
    pub text: String,
    /// Width in points.
    pub width: f32,
}

/// One set line, in visual order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct SetLine {
    pub runs: Vec<Run>,
    pub width: f32,
}

impl SetLine {
    #[cfg(test)]
    pub fn text(&self) -> String {
        self.runs.iter().map(|r| r.text.as_str()).collect()
    }
}

/// Text broken into lines for a given width.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextBlock {
    pub lines: Vec<SetLine>,
    pub style: TextStyle,
}

impl TextBlock {
    pub fn height(&self) -> f32 {
        self.lines.len() as f32 * self.style.line_height()
    }
}

/// Characters after which a line may break: spaces and dashes, and inside addresses and paths
/// (`@`, `.`, `/`, `_`) so an email or URL wraps at a boundary before it wraps by character.
fn is_break_after(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '/' | '@' | '.' | '_' | '\u{2013}' | '\u{2014}'
    )
}

/// Breaks glyphs (logical order) into lines no wider than `max` (in font-size units).
fn break_lines(glyphs: &[Glyph], max: f32) -> Vec<Vec<Glyph>> {
    let mut lines = Vec::new();
    let mut start = 0;
    let n = glyphs.len();
    while start < n {
        let mut width = 0.0;
        let mut last_break: Option<usize> = None;
        let mut i = start;
        let mut end = n;
        let mut next = n;
        while i < n {
            let g = glyphs[i];
            if g.ch == '\n' {
                end = i;
                next = i + 1;
                break;
            }
            let cjk = g.face == Face::Cjk;
            if cjk && i > start {
                last_break = Some(i);
            }
            if width + g.width > max && i > start {
                if g.ch == ' ' {
                    end = i;
                    next = i + 1;
                } else if let Some(b) = last_break.filter(|b| *b > start) {
                    end = b;
                    next = b;
                } else {
                    end = i;
                    next = i;
                }
                break;
            }
            width += g.width;
            if is_break_after(g.ch) || cjk {
                last_break = Some(i + 1);
            }
            i += 1;
        }
        let mut line: Vec<Glyph> = glyphs[start..end].to_vec();
        while line.last().is_some_and(|g| g.ch == ' ') {
            line.pop();
        }
        lines.push(line);
        start = next;
        // A wrapped line never starts with the space it broke at.
        if end != n && glyphs.get(end).is_some_and(|g| g.ch != '\n') {
            while start < n && glyphs[start].ch == ' ' {
                start += 1;
            }
        }
    }
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    lines
}

fn runs_of(line: Vec<Glyph>, size: f32) -> SetLine {
    let mut set = SetLine::default();
    for g in line {
        let width = g.width * size;
        match set.runs.last_mut() {
            Some(run) if run.face == g.face && run.marker == g.marker => {
                run.text.push(g.ch);
                run.width += width;
            }
            _ => set.runs.push(Run {
                face: g.face,
                marker: g.marker,
                text: g.ch.to_string(),
                width,
            }),
        }
        set.width += width;
    }
    set
}

/// Sets untrusted `text` in `style`, broken into lines at most `width` points wide.
pub(crate) fn set_text(fonts: &FontSet, text: &str, style: TextStyle, width: f32) -> TextBlock {
    let glyphs = fonts::glyphs(fonts, text, style.weight);
    let max = (width / style.size).max(0.5);
    let lines = break_lines(&glyphs, max)
        .into_iter()
        .map(|line| runs_of(fonts::visual_order(line), style.size))
        .collect();
    TextBlock { lines, style }
}

/// Sets `text` on one line, shortened with "…" when it is wider than `width`.
pub(crate) fn set_line(fonts: &FontSet, text: &str, style: TextStyle, width: f32) -> SetLine {
    let mut glyphs = fonts::glyphs(fonts, text, style.weight);
    glyphs.retain(|g| g.ch != '\n');
    let max = width / style.size;
    let total: f32 = glyphs.iter().map(|g| g.width).sum();
    if total > max {
        let ellipsis = fonts::glyphs(fonts, "…", style.weight);
        let room = max - ellipsis.iter().map(|g| g.width).sum::<f32>();
        let mut used = 0.0;
        let keep = glyphs
            .iter()
            .take_while(|g| {
                used += g.width;
                used <= room
            })
            .count();
        glyphs.truncate(keep);
        glyphs.extend(ellipsis);
    }
    runs_of(fonts::visual_order(glyphs), style.size)
}

/// Something placed on a page, in points from the top left corner.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        color: Rgb,
        runs: Vec<Run>,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        color: Rgb,
        width: f32,
    },
}

/// Pages of positioned items.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    pub paper: Paper,
    pub pages: Vec<Vec<Item>>,
}

impl Canvas {
    pub fn new(paper: Paper) -> Self {
        Self {
            paper,
            pages: Vec::new(),
        }
    }

    /// Starts a new page and returns its index.
    pub fn add_page(&mut self) -> usize {
        self.pages.push(Vec::new());
        self.pages.len() - 1
    }

    fn push(&mut self, page: usize, item: Item) {
        if let Some(items) = self.pages.get_mut(page) {
            items.push(item);
        }
    }

    /// Draws one set line whose top is at `top`, inside a box from `x` that is `width` wide.
    pub fn line(
        &mut self,
        page: usize,
        (x, top, width): (f32, f32, f32),
        line: &SetLine,
        style: TextStyle,
        align: Align,
    ) {
        let x = match align {
            Align::Left => x,
            Align::Right => x + width - line.width,
            Align::Center => x + (width - line.width) / 2.0,
        };
        // Centre the glyphs' body (about 0.72 em above the baseline) in the line box.
        let baseline = top + (style.line_height() - style.size) / 2.0 + style.size * 0.8;
        self.push(
            page,
            Item::Text {
                x,
                baseline,
                size: style.size,
                color: style.color,
                runs: line.runs.clone(),
            },
        );
    }

    /// Draws `lines` of a block starting at `top`, one line height apart.
    pub fn lines(
        &mut self,
        page: usize,
        (x, top, width): (f32, f32, f32),
        lines: &[SetLine],
        style: TextStyle,
        align: Align,
    ) {
        for (i, line) in lines.iter().enumerate() {
            let y = top + i as f32 * style.line_height();
            self.line(page, (x, y, width), line, style, align);
        }
    }

    /// Draws a whole block.
    pub fn block(&mut self, page: usize, x: f32, top: f32, width: f32, block: &TextBlock) {
        self.lines(
            page,
            (x, top, width),
            &block.lines,
            block.style,
            Align::Left,
        );
    }

    pub fn rect(
        &mut self,
        page: usize,
        (x, y, w, h): (f32, f32, f32, f32),
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    ) {
        self.push(
            page,
            Item::Rect {
                x,
                y,
                w,
                h,
                fill,
                stroke,
            },
        );
    }

    pub fn hline(&mut self, page: usize, x1: f32, x2: f32, y: f32, color: Rgb, width: f32) {
        self.push(
            page,
            Item::Line {
                x1,
                y1: y,
                x2,
                y2: y,
                color,
                width,
            },
        );
    }

    pub fn vline(&mut self, page: usize, x: f32, y1: f32, y2: f32, color: Rgb, width: f32) {
        self.push(
            page,
            Item::Line {
                x1: x,
                y1,
                x2: x,
                y2,
                color,
                width,
            },
        );
    }
}

/// Page margins in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Margins {
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    pub left: f32,
}

/// The text styles of a flowing document.
pub(crate) mod styles {
    use super::{palette, TextStyle, Weight};
    pub const BODY: TextStyle = TextStyle::new(Weight::Regular, 9.5, palette::INK).leading(1.38);
    pub const SMALL: TextStyle = TextStyle::new(Weight::Regular, 8.0, palette::INK).leading(1.3);
    pub const H1: TextStyle = TextStyle::new(Weight::Bold, 15.0, palette::NAVY).leading(1.25);
    pub const H2: TextStyle = TextStyle::new(Weight::Bold, 11.0, palette::NAVY).leading(1.3);
    pub const LABEL: TextStyle = TextStyle::new(Weight::Bold, 9.5, palette::INK).leading(1.38);
    pub const DECORATION: TextStyle =
        TextStyle::new(Weight::Regular, 7.5, palette::MUTED).leading(1.2);
}

/// A column of a [`Table`]: its title and its share of the table's width.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    pub title: String,
    pub share: f32,
}

impl Column {
    pub fn new(title: &str, share: f32) -> Self {
        Self {
            title: title.to_owned(),
            share,
        }
    }
}

/// A table whose rows continue on the next page under a repeated header row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 2.5;

/// Content flowing down pages between margins, with automatic page breaks.
pub(crate) struct Flow<'f> {
    fonts: &'f FontSet,
    pub canvas: Canvas,
    margins: Margins,
    page: usize,
    y: f32,
}

impl<'f> Flow<'f> {
    pub fn new(fonts: &'f FontSet, paper: Paper, margins: Margins) -> Self {
        let mut canvas = Canvas::new(paper);
        let page = canvas.add_page();
        Self {
            fonts,
            canvas,
            margins,
            page,
            y: margins.top,
        }
    }

    pub fn width(&self) -> f32 {
        self.canvas.paper.size().0 - self.margins.left - self.margins.right
    }

    fn bottom(&self) -> f32 {
        self.canvas.paper.size().1 - self.margins.bottom
    }

    fn room(&self) -> f32 {
        self.bottom() - self.y
    }

    /// The current position: page index and distance from the top.
    pub fn position(&self) -> (usize, f32) {
        (self.page, self.y)
    }

    pub fn page_break(&mut self) {
        self.page = self.canvas.add_page();
        self.y = self.margins.top;
    }

    /// Breaks the page unless `height` still fits on it.
    pub fn keep(&mut self, height: f32) {
        if height > self.room() && self.y > self.margins.top {
            self.page_break();
        }
    }

    pub fn space(&mut self, height: f32) {
        self.y += height;
        if self.y > self.bottom() {
            self.page_break();
        }
    }

    /// A heading, kept on the same page as at least three lines of what follows.
    pub fn heading(&mut self, text: &str, level: u8) {
        let style = if level <= 1 { styles::H1 } else { styles::H2 };
        let (before, after) = if level <= 1 { (14.0, 6.0) } else { (9.0, 3.0) };
        let block = set_text(self.fonts, text, style, self.width());
        if self.y > self.margins.top {
            self.y += before;
        }
        self.keep(block.height() + after + 3.0 * styles::BODY.line_height());
        let x = self.margins.left;
        self.canvas
            .block(self.page, x, self.y, self.width(), &block);
        self.y += block.height();
        if level <= 1 {
            self.y += 2.0;
            let right = x + self.width();
            self.canvas
                .hline(self.page, x, right, self.y, palette::RULE, 0.8);
        }
        self.y += after;
    }

    /// A paragraph at `indent` from the left margin, continuing on the next page if needed.
    pub fn paragraph_at(&mut self, text: &str, style: TextStyle, indent: f32) {
        let width = self.width() - indent;
        let block = set_text(self.fonts, text, style, width);
        self.lines_at(&block.lines, style, indent, width);
    }

    fn lines_at(&mut self, lines: &[SetLine], style: TextStyle, indent: f32, width: f32) {
        let lh = style.line_height();
        for line in lines {
            if lh > self.room() {
                self.page_break();
            }
            let x = self.margins.left + indent;
            self.canvas
                .line(self.page, (x, self.y, width), line, style, Align::Left);
            self.y += lh;
        }
    }

    pub fn paragraph(&mut self, text: &str, style: TextStyle) {
        self.paragraph_at(text, style, 0.0);
        self.y += style.size * 0.45;
    }

    /// A bulleted list.
    pub fn bullets(&mut self, items: &[String], style: TextStyle) {
        let indent = style.size * 1.3;
        for item in items {
            let width = self.width() - indent;
            let block = set_text(self.fonts, item, style, width);
            self.keep(style.line_height().min(block.height()));
            let bullet = set_line(self.fonts, "•", style, indent);
            let x = self.margins.left;
            self.canvas.line(
                self.page,
                (x + style.size * 0.2, self.y, indent),
                &bullet,
                style,
                Align::Left,
            );
            self.lines_at(&block.lines, style, indent, width);
            self.y += style.size * 0.2;
        }
        self.y += style.size * 0.3;
    }

    /// Label–value pairs in two columns, the labels in bold.
    pub fn key_values(&mut self, pairs: &[(String, String)]) {
        let label_width = (self.width() * 0.28).min(150.0);
        let value_width = self.width() - label_width;
        for (label, value) in pairs {
            let l = set_text(self.fonts, label, styles::LABEL, label_width - 8.0);
            let v = set_text(self.fonts, value, styles::BODY, value_width);
            self.keep(l.height().max(styles::BODY.line_height()));
            let top = self.y;
            let x = self.margins.left;
            self.canvas.block(self.page, x, top, label_width - 8.0, &l);
            let (page_before, _) = self.position();
            self.lines_at(&v.lines, styles::BODY, label_width, value_width);
            if self.page == page_before {
                self.y = self.y.max(top + l.height());
            }
            self.y += 2.0;
        }
        self.y += 4.0;
    }

    /// A table. Rows continue on the next page under a repeated header row; a row taller than a
    /// page is itself split between pages, line by line.
    pub fn table(&mut self, table: &Table, style: TextStyle) {
        let total_share: f32 = table.columns.iter().map(|c| c.share).sum::<f32>().max(0.01);
        let width = self.width();
        let widths: Vec<f32> = table
            .columns
            .iter()
            .map(|c| width * c.share / total_share)
            .collect();
        let header_style = TextStyle {
            weight: Weight::Bold,
            ..style
        };
        let header: Vec<TextBlock> = table
            .columns
            .iter()
            .zip(&widths)
            .map(|(c, w)| set_text(self.fonts, &c.title, header_style, w - 2.0 * CELL_PAD_X))
            .collect();
        let header_height =
            header.iter().map(TextBlock::height).fold(0.0, f32::max) + 2.0 * CELL_PAD_Y;
        let lh = style.line_height();
        // The header and the first line of the first row stay together.
        self.keep(header_height + lh + 2.0 * CELL_PAD_Y);
        self.table_header(&header, &widths, header_height);
        for (index, row) in table.rows.iter().enumerate() {
            let cells: Vec<TextBlock> = widths
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let text = row.get(i).map(String::as_str).unwrap_or("");
                    set_text(self.fonts, text, style, w - 2.0 * CELL_PAD_X)
                })
                .collect();
            let tallest = cells
                .iter()
                .map(|c| c.lines.len())
                .max()
                .unwrap_or(1)
                .max(1);
            let mut done = 0;
            while done < tallest {
                let room = self.room() - 2.0 * CELL_PAD_Y;
                let fit = (room / lh).floor().max(0.0) as usize;
                let whole_row_fits = fit >= tallest - done;
                // Rows are only split when they are taller than the room a fresh page gives.
                let fresh_page_room = self.bottom() - self.margins.top - header_height;
                let row_fits_a_page =
                    ((tallest - done) as f32) * lh + 2.0 * CELL_PAD_Y <= fresh_page_room;
                if fit == 0 || (!whole_row_fits && row_fits_a_page) {
                    self.page_break();
                    self.table_header(&header, &widths, header_height);
                    continue;
                }
                let take = fit.min(tallest - done);
                let height = take as f32 * lh + 2.0 * CELL_PAD_Y;
                let x0 = self.margins.left;
                if index % 2 == 1 {
                    self.canvas.rect(
                        self.page,
                        (x0, self.y, width, height),
                        Some(palette::ZEBRA),
                        None,
                    );
                }
                let mut x = x0;
                for (cell, w) in cells.iter().zip(&widths) {
                    let from = done.min(cell.lines.len());
                    let to = (done + take).min(cell.lines.len());
                    self.canvas.lines(
                        self.page,
                        (x + CELL_PAD_X, self.y + CELL_PAD_Y, w - 2.0 * CELL_PAD_X),
                        &cell.lines[from..to],
                        style,
                        Align::Left,
                    );
                    x += w;
                }
                self.y += height;
                self.canvas
                    .hline(self.page, x0, x0 + width, self.y, palette::RULE, 0.4);
                done += take;
            }
        }
        self.y += 8.0;
    }

    fn table_header(&mut self, header: &[TextBlock], widths: &[f32], height: f32) {
        let x0 = self.margins.left;
        let total: f32 = widths.iter().sum();
        self.canvas.rect(
            self.page,
            (x0, self.y, total, height),
            Some(palette::HEADER_FILL),
            None,
        );
        let mut x = x0;
        for (block, w) in header.iter().zip(widths) {
            self.canvas
                .block(self.page, x + CELL_PAD_X, self.y + CELL_PAD_Y, *w, block);
            x += w;
        }
        self.y += height;
        self.canvas
            .hline(self.page, x0, x0 + total, self.y, palette::NAVY, 0.6);
    }

    /// Adds the running header and footer to every page and returns the canvas.
    pub fn finish(mut self, decoration: &Decoration) -> Canvas {
        decorate(self.fonts, &mut self.canvas, self.margins, decoration);
        self.canvas
    }
}

/// What the running header and footer say.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoration {
    /// Left of the header: the document's title.
    pub title: String,
    /// Right of the header: the document id.
    pub document_id: String,
    /// Left of the footer.
    pub footer: String,
}

/// The label of page `page` (1-based) of `count`.
pub(crate) fn page_label(page: usize, count: usize) -> String {
    format!("Page {page} of {count}")
}

/// Draws the header and footer on every page, now that the page count is known.
pub(crate) fn decorate(fonts: &FontSet, canvas: &mut Canvas, margins: Margins, d: &Decoration) {
    let (page_w, page_h) = canvas.paper.size();
    let count = canvas.pages.len();
    let style = styles::DECORATION;
    let width = page_w - margins.left - margins.right;
    let header_top = margins.top - 26.0;
    let footer_top = page_h - margins.bottom + 14.0;
    for page in 0..count {
        let id = set_line(fonts, &d.document_id, style, width * 0.4);
        let title = set_line(fonts, &d.title, style, width - id.width - 16.0);
        canvas.line(
            page,
            (margins.left, header_top, width),
            &title,
            style,
            Align::Left,
        );
        canvas.line(
            page,
            (margins.left, header_top, width),
            &id,
            style,
            Align::Right,
        );
        let rule_y = header_top + style.line_height() + 2.0;
        canvas.hline(
            page,
            margins.left,
            page_w - margins.right,
            rule_y,
            palette::RULE,
            0.5,
        );
        canvas.hline(
            page,
            margins.left,
            page_w - margins.right,
            footer_top - 3.0,
            palette::RULE,
            0.5,
        );
        let number = set_line(fonts, &page_label(page + 1, count), style, width * 0.3);
        let footer = set_line(fonts, &d.footer, style, width - number.width - 16.0);
        canvas.line(
            page,
            (margins.left, footer_top, width),
            &footer,
            style,
            Align::Left,
        );
        canvas.line(
            page,
            (margins.left, footer_top, width),
            &number,
            style,
            Align::Right,
        );
    }
}

/// Document information written into the PDF.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PdfInfo {
    pub title: String,
    pub subject: String,
    pub identifier: String,
    /// When the document was made (from the injected clock).
    pub created: DateTime<FixedOffset>,
}

fn pdf_date(t: DateTime<FixedOffset>) -> printpdf::DateTime {
    let offset_seconds = t.offset().local_minus_utc();
    let sign: i32 = if offset_seconds < 0 { -1 } else { 1 };
    let abs = offset_seconds.abs();
    printpdf::DateTime {
        date: printpdf::Date {
            year: t.year(),
            month: t.month() as u8,
            day: t.day() as u8,
        },
        time: printpdf::Time {
            hour: t.hour() as u8,
            minute: t.minute() as u8,
            second: t.second() as u8,
            millisecond: 0,
        },
        offset: printpdf::Offset {
            hours: (sign * (abs / 3600)) as i8,
            minutes: (sign * ((abs % 3600) / 60)) as i8,
            seconds: 0,
            milliseconds: 0,
        },
    }
}

/// Cuts `face` down to the glyphs drawing `chars`, so a PDF carries kilobytes, not megabytes.
fn subset_face(fonts: &FontSet, face: Face, chars: &BTreeSet<char>) -> Result<ParsedFont, Error> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{subset, CmapTarget, SubsetProfile};

    let loaded = fonts.face(face);
    let gids: BTreeSet<u16> = chars.iter().filter_map(|c| loaded.glyph(*c)).collect();
    // Glyph 0 (.notdef) must come first.
    let ids: Vec<u16> = std::iter::once(0).chain(gids).collect();
    let failed = |what: &str| Error::ReportFailed {
        detail: format!("subsetting the embedded font failed ({what})"),
    };
    let scope = ReadScope::new(loaded.bytes);
    let data = scope
        .read::<FontData<'_>>()
        .map_err(|e| failed(&e.to_string()))?;
    let provider = data.table_provider(0).map_err(|e| failed(&e.to_string()))?;
    let bytes = subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
        .map_err(|e| failed(&format!("{e:?}")))?;
    let mut warnings = Vec::new();
    ParsedFont::from_bytes(&bytes, 0, &mut warnings).ok_or_else(|| failed("unreadable subset"))
}

/// Converts the canvas into a PDF file.
pub(crate) fn write_pdf(
    fonts: &FontSet,
    canvas: &Canvas,
    info: &PdfInfo,
) -> Result<Vec<u8>, Error> {
    let mut used: BTreeMap<Face, BTreeSet<char>> = BTreeMap::new();
    for item in canvas.pages.iter().flatten() {
        if let Item::Text { runs, .. } = item {
            for run in runs {
                used.entry(run.face).or_default().extend(run.text.chars());
            }
        }
    }
    let mut doc = PdfDocument::new(&info.title);
    let mut handles = BTreeMap::new();
    for (face, chars) in &used {
        let parsed = subset_face(fonts, *face, chars)?;
        handles.insert(*face, PdfFontHandle::External(doc.add_font(&parsed)));
    }
    let (page_w, page_h) = canvas.paper.size();
    let mut pages = Vec::with_capacity(canvas.pages.len());
    for items in &canvas.pages {
        let mut ops = Vec::with_capacity(items.len() * 4);
        for item in items {
            emit(&mut ops, item, page_h, &handles);
        }
        pages.push(PdfPage::new(
            Mm::from(Pt(page_w)),
            Mm::from(Pt(page_h)),
            ops,
        ));
    }
    // printpdf 0.12.8 writes every date as `+00'00'` whatever its offset, so hand it the instant in
    // UTC: the PDF then states the right moment.
    let when = pdf_date(info.created.to_utc().fixed_offset());
    let meta = &mut doc.metadata.info;
    meta.creation_date = when;
    meta.modification_date = when;
    meta.metadata_date = when;
    meta.producer = format!("Firebreak {}", env!("CARGO_PKG_VERSION"));
    meta.creator = "Firebreak".to_owned();
    meta.subject = info.subject.clone();
    meta.identifier = info.identifier.clone();
    let mut warnings = Vec::new();
    let bytes = doc
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings);
    for warning in &warnings {
        log::debug!("pdf writer: {warning:?}");
    }
    Ok(bytes)
}

fn emit(ops: &mut Vec<Op>, item: &Item, page_h: f32, handles: &BTreeMap<Face, PdfFontHandle>) {
    match item {
        Item::Text {
            x,
            baseline,
            size,
            color,
            runs,
        } => {
            let mut x = *x;
            ops.push(Op::StartTextSection);
            for run in runs {
                if let Some(font) = handles.get(&run.face) {
                    let col = if run.marker { palette::MARKER } else { *color };
                    ops.push(Op::SetFillColor { col: col.pdf() });
                    ops.push(Op::SetFont {
                        font: font.clone(),
                        size: Pt(*size),
                    });
                    ops.push(Op::SetTextMatrix {
                        matrix: TextMatrix::Translate(Pt(x), Pt(page_h - baseline)),
                    });
                    ops.push(Op::ShowText {
                        items: vec![TextItem::Text(run.text.clone())],
                    });
                }
                x += run.width;
            }
            ops.push(Op::EndTextSection);
        }
        Item::Rect {
            x,
            y,
            w,
            h,
            fill,
            stroke,
        } => {
            let mode = match (fill, stroke) {
                (Some(_), Some(_)) => PaintMode::FillStroke,
                (Some(_), None) => PaintMode::Fill,
                _ => PaintMode::Stroke,
            };
            ops.push(Op::SaveGraphicsState);
            if let Some(fill) = fill {
                ops.push(Op::SetFillColor { col: fill.pdf() });
            }
            if let Some((color, width)) = stroke {
                ops.push(Op::SetOutlineColor { col: color.pdf() });
                ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
            }
            let mut rect = Rect::from_xywh(Pt(*x), Pt(page_h - y - h), Pt(*w), Pt(*h));
            rect.mode = Some(mode);
            ops.push(Op::DrawRectangle { rectangle: rect });
            ops.push(Op::RestoreGraphicsState);
        }
        Item::Line {
            x1,
            y1,
            x2,
            y2,
            color,
            width,
        } => {
            let point = |x: f32, y: f32| LinePoint {
                p: Point {
                    x: Pt(x),
                    y: Pt(page_h - y),
                },
                bezier: false,
            };
            ops.push(Op::SaveGraphicsState);
            ops.push(Op::SetOutlineColor { col: color.pdf() });
            ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
            ops.push(Op::DrawLine {
                line: PdfLine {
                    points: vec![point(*x1, *y1), point(*x2, *y2)],
                    is_closed: false,
                },
            });
            ops.push(Op::RestoreGraphicsState);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fonts::font_set;

    fn fonts() -> &'static FontSet {
        font_set().expect("fonts")
    }

    #[test]
    fn lines_never_exceed_their_width_even_for_unbroken_strings() {
        let long = "x".repeat(5000);
        for text in [
            long.as_str(),
            "a b c d e f g h",
            "中文中文中文中文中文中文中文中文",
            "averyveryverylongwordwithoutspaces and more",
        ] {
            let block = set_text(fonts(), text, styles::BODY, 60.0);
            for line in &block.lines {
                assert!(
                    line.width <= 60.0 + 0.01,
                    "{} is {} wide",
                    line.text(),
                    line.width
                );
            }
            let rejoined: usize = block.lines.iter().map(|l| l.text().chars().count()).sum();
            assert!(
                rejoined >= text.chars().filter(|c| *c != ' ').count(),
                "no text is lost"
            );
        }
    }

    #[test]
    fn words_break_at_spaces_and_newlines_start_new_lines() {
        let block = set_text(fonts(), "alpha beta gamma\ndelta", styles::BODY, 60.0);
        let lines: Vec<String> = block.lines.iter().map(SetLine::text).collect();
        assert_eq!(lines, ["alpha beta", "gamma", "delta"]);
    }

    #[test]
    fn a_line_too_wide_is_shortened_with_an_ellipsis() {
        let line = set_line(fonts(), &"long name ".repeat(30), styles::BODY, 100.0);
        assert!(line.width <= 100.0);
        assert!(line.text().ends_with('…'));
    }

    #[test]
    fn paper_names_parse_both_ways() {
        assert_eq!(Paper::parse("A4"), Some(Paper::A4));
        assert_eq!(Paper::parse("letter"), Some(Paper::Letter));
        assert_eq!(Paper::parse(Paper::Letter.as_str()), Some(Paper::Letter));
        assert_eq!(Paper::parse("legal"), None);
    }

    #[test]
    fn the_pdf_date_keeps_the_offset() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T23:47:05-05:30").expect("time");
        let d = pdf_date(t);
        assert_eq!((d.date.year, d.date.month, d.date.day), (2026, 3, 1));
        assert_eq!((d.time.hour, d.time.minute, d.time.second), (23, 47, 5));
        assert_eq!((d.offset.hours, d.offset.minutes), (-5, -30));
    }
}
