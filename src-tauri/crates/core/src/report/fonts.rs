//! The fonts compiled into every PDF, and the step that turns untrusted text into glyphs they draw.
//!
//! Names in a report come from the tenant, which means from the attacker: Cyrillic look-alikes,
//! CJK, Hebrew and Arabic, emoji, right-to-left overrides, zero-width characters. Three rules hold
//! for every string that reaches a page:
//! - Nothing is drawn as an empty box or as the wrong glyph. Each character is drawn with DejaVu
//!   Sans (Latin, Cyrillic, Greek, Hebrew, Arabic) or Droid Sans Fallback (CJK); a character no
//!   embedded font covers is written as a visible marker such as `[U+1F600]`.
//! - Invisible characters that change how text reads — bidirectional controls (U+202A–U+202E,
//!   U+2066–U+2069, U+200E/F, U+061C), zero-width and other format characters, control characters,
//!   private-use code points — are never passed through: they are shown as markers too, so an
//!   override cannot reorder the text around it and a "blank" name is visibly not blank.
//! - Right-to-left script is still readable: Arabic letters are joined into their presentation
//!   forms and each line is put into visual order with the Unicode bidirectional algorithm, inside
//!   a left-to-right paragraph, so it never moves the text around it.
//!
//! The font files and their licences are in `assets/fonts/` (see its README).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use printpdf::ParsedFont;
use unicode_bidi::{BidiClass, BidiInfo, Level};

use crate::Error;

const DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
const DROID_SANS_FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallback.ttf");

/// How heavy text is set. CJK text has one weight only and is drawn regular in bold runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weight {
    /// Body text.
    Regular,
    /// Headings, labels, table headers.
    Bold,
}

/// One of the embedded font faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Face {
    /// DejaVu Sans.
    Regular,
    /// DejaVu Sans Bold.
    Bold,
    /// Droid Sans Fallback, for CJK ideographs, kana and Hangul.
    Cjk,
}

impl Face {
    /// Every face, in a fixed order.
    pub const ALL: [Face; 3] = [Face::Regular, Face::Bold, Face::Cjk];

    fn primary(weight: Weight) -> Face {
        match weight {
            Weight::Regular => Face::Regular,
            Weight::Bold => Face::Bold,
        }
    }
}

/// A parsed face: its character map and advance widths, and the original bytes for subsetting.
#[derive(Debug)]
pub(crate) struct LoadedFace {
    pub(crate) bytes: &'static [u8],
    parsed: ParsedFont,
    units_per_em: f32,
}

impl LoadedFace {
    fn load(name: &str, bytes: &'static [u8]) -> Result<Self, String> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings)
            .ok_or_else(|| format!("the embedded font {name} could not be read"))?;
        let units_per_em = f32::from(parsed.units_per_em.max(1));
        Ok(Self {
            bytes,
            parsed,
            units_per_em,
        })
    }

    /// The glyph drawing `c`, if this face has one (glyph 0 is the "missing" box, never used).
    pub(crate) fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|gid| *gid != 0)
    }

    /// Font units per em: the scale of the glyph outlines.
    pub(crate) fn units_per_em(&self) -> f32 {
        self.units_per_em
    }

    /// The advance of `gid` as a fraction of the font size.
    pub(crate) fn advance(&self, gid: u16) -> f32 {
        f32::from(self.parsed.get_glyph_width(gid).unwrap_or(0)) / self.units_per_em
    }
}

/// The three faces, parsed once per process.
#[derive(Debug)]
pub(crate) struct FontSet {
    regular: LoadedFace,
    bold: LoadedFace,
    cjk: LoadedFace,
}

impl FontSet {
    pub(crate) fn face(&self, face: Face) -> &LoadedFace {
        match face {
            Face::Regular => &self.regular,
            Face::Bold => &self.bold,
            Face::Cjk => &self.cjk,
        }
    }
}

/// The embedded fonts, parsed on first use.
pub(crate) fn font_set() -> Result<&'static FontSet, Error> {
    static FONTS: OnceLock<Result<FontSet, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Ok(FontSet {
                regular: LoadedFace::load("DejaVu Sans", DEJAVU_SANS)?,
                bold: LoadedFace::load("DejaVu Sans Bold", DEJAVU_SANS_BOLD)?,
                cjk: LoadedFace::load("Droid Sans Fallback", DROID_SANS_FALLBACK)?,
            })
        })
        .as_ref()
        .map_err(|detail| Error::ReportFailed {
            detail: detail.clone(),
        })
}

/// One character ready to be set: which face draws it, how wide it is, and whether it is part of a
/// marker standing for a character that cannot or must not be drawn as itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Glyph {
    pub(crate) ch: char,
    pub(crate) face: Face,
    pub(crate) marker: bool,
    /// Advance as a fraction of the font size.
    pub(crate) width: f32,
}

/// Whether `c` must never be passed through as itself: it is invisible, changes the direction or
/// shape of the text around it, or has no agreed glyph.
fn is_hidden(c: char) -> bool {
    if c.is_control() {
        return c != '\n' && c != '\t';
    }
    let cp = u32::from(c);
    matches!(cp,
        0x00AD                       // soft hyphen
        | 0x034F                     // combining grapheme joiner
        | 0x061C                     // Arabic letter mark
        | 0x115F | 0x1160            // Hangul fillers
        | 0x17B4 | 0x17B5            // Khmer inherent vowels
        | 0x180B..=0x180F            // Mongolian selectors and vowel separator
        | 0x200B..=0x200F            // zero-width space, (non-)joiners, LRM, RLM
        | 0x2028..=0x202E            // line/paragraph separators, embeddings and overrides
        | 0x2060..=0x206F            // word joiner, invisible operators, isolates, deprecated
        | 0x2800                     // braille blank
        | 0x3164 | 0xFFA0            // Hangul fillers
        | 0xFDD0..=0xFDEF            // noncharacters
        | 0xFEFF                     // zero-width no-break space / BOM
        | 0xFFF0..=0xFFFB            // specials, interlinear annotation
        | 0x1D173..=0x1D17A          // musical formatting
        | 0xE0000..=0xE007F          // tags
        | 0xE000..=0xF8FF            // private use
        | 0xF0000..=0x10FFFF         // supplementary private use
    ) || (cp & 0xFFFE) == 0xFFFE // noncharacters at the end of every plane
}

/// How many combining marks may stack on one character before the rest are summarised; more
/// would draw far above and below the line ("Zalgo" text) over the neighbouring rows.
const MAX_STACKED_MARKS: usize = 3;

fn is_combining_mark(c: char) -> bool {
    unicode_bidi::bidi_class(c) == BidiClass::NSM
}

fn is_arabic(c: char) -> bool {
    matches!(u32::from(c), 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF)
}

fn is_presentation_form(c: char) -> bool {
    matches!(u32::from(c), 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

/// The marker shown instead of a character: `[U+202E]`.
fn marker_text(c: char) -> String {
    format!("[U+{:04X}]", u32::from(c))
}

/// `text` with every hidden character replaced by its visible marker (`[U+202E]`), tabs as spaces
/// and excessive stacks of combining marks summarised. This is what the PDF shows, minus the font
/// fallback; exposed so callers and tests can see exactly what a hostile string becomes.
pub fn neutralise(text: &str) -> String {
    neutralised_chars(text)
        .into_iter()
        .map(|(c, _)| c)
        .collect()
}

/// The characters of `text` after neutralising, each flagged when it belongs to a marker.
fn neutralised_chars(text: &str) -> Vec<(char, bool)> {
    let mut out = Vec::with_capacity(text.len());
    let mut stacked = 0usize;
    let mut dropped_marks = 0usize;
    let flush_marks = |out: &mut Vec<(char, bool)>, dropped: &mut usize| {
        if *dropped > 0 {
            out.extend(format!("[+{dropped} marks]").chars().map(|c| (c, true)));
            *dropped = 0;
        }
    };
    for c in text.chars() {
        if c == '\r' {
            continue;
        }
        if is_combining_mark(c) && !is_hidden(c) {
            stacked += 1;
            if stacked > MAX_STACKED_MARKS {
                dropped_marks += 1;
                continue;
            }
            out.push((c, false));
            continue;
        }
        flush_marks(&mut out, &mut dropped_marks);
        stacked = 0;
        if c == '\t' {
            out.push((' ', false));
        } else if is_hidden(c) {
            out.extend(marker_text(c).chars().map(|m| (m, true)));
        } else {
            out.push((c, false));
        }
    }
    flush_marks(&mut out, &mut dropped_marks);
    out
}

/// Joins Arabic letters into presentation forms when the face can draw every resulting form;
/// otherwise keeps the letters as they are (still legible, just unjoined).
fn shape_arabic(text: &str, face: &LoadedFace) -> String {
    if !text.chars().any(is_arabic) {
        return text.to_owned();
    }
    let shaped = ar_reshaper::reshape_line(text);
    let drawable = shaped
        .chars()
        .filter(|c| is_presentation_form(*c))
        .all(|c| face.glyph(c).is_some());
    if drawable {
        shaped
    } else {
        text.to_owned()
    }
}

/// Turns untrusted `text` into glyphs in logical order: hidden characters become markers, Arabic is
/// joined, every character gets the face that can draw it or becomes a marker.
pub(crate) fn glyphs(fonts: &FontSet, text: &str, weight: Weight) -> Vec<Glyph> {
    let primary = Face::primary(weight);
    let primary_face = fonts.face(primary);
    let shaped = shape_arabic(text, primary_face);
    let mut out = Vec::with_capacity(shaped.len());
    let push_marker = |out: &mut Vec<Glyph>, text: &str| {
        for m in text.chars() {
            let width = primary_face
                .glyph(m)
                .map_or(0.5, |g| primary_face.advance(g));
            out.push(Glyph {
                ch: m,
                face: primary,
                marker: true,
                width,
            });
        }
    };
    for (c, marker) in neutralised_chars(&shaped) {
        if marker {
            push_marker(&mut out, &c.to_string());
            continue;
        }
        if c == '\n' {
            out.push(Glyph {
                ch: c,
                face: primary,
                marker: false,
                width: 0.0,
            });
            continue;
        }
        let found = [primary, Face::Cjk]
            .into_iter()
            .find_map(|face| fonts.face(face).glyph(c).map(|gid| (face, gid)));
        match found {
            Some((face, gid)) => out.push(Glyph {
                ch: c,
                face,
                marker: false,
                width: fonts.face(face).advance(gid),
            }),
            None => push_marker(&mut out, &marker_text(c)),
        }
    }
    out
}

/// Puts one line of glyphs into visual order. The paragraph direction is always left to right, so
/// right-to-left runs are reversed in place and never move the text around them.
pub(crate) fn visual_order(line: Vec<Glyph>) -> Vec<Glyph> {
    let has_rtl = line
        .iter()
        .any(|g| matches!(unicode_bidi::bidi_class(g.ch), BidiClass::R | BidiClass::AL));
    if !has_rtl {
        return line;
    }
    let text: String = line.iter().map(|g| g.ch).collect();
    // Byte offset of each glyph, to map the algorithm's byte ranges back to glyphs.
    let mut index_of_byte = BTreeMap::new();
    for (i, (byte, _)) in text.char_indices().enumerate() {
        index_of_byte.insert(byte, i);
    }
    let info = BidiInfo::new(&text, Some(Level::ltr()));
    let Some(para) = info.paragraphs.first() else {
        return line;
    };
    let (levels, runs) = info.visual_runs(para, para.range.clone());
    let mut out = Vec::with_capacity(line.len());
    for run in runs {
        let glyphs: Vec<Glyph> = index_of_byte
            .range(run.clone())
            .filter_map(|(_, i)| line.get(*i).copied())
            .collect();
        let rtl = levels.get(run.start).is_some_and(|l| l.is_rtl());
        if rtl {
            out.extend(glyphs.into_iter().rev().map(mirror));
        } else {
            out.extend(glyphs);
        }
    }
    out
}

/// Brackets in a right-to-left run are drawn mirrored, as the bidi algorithm requires.
fn mirror(mut g: Glyph) -> Glyph {
    g.ch = match g.ch {
        '(' => ')',
        ')' => '(',
        '[' => ']',
        ']' => '[',
        '{' => '}',
        '}' => '{',
        '<' => '>',
        '>' => '<',
        '«' => '»',
        '»' => '«',
        other => other,
    };
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fonts() -> &'static FontSet {
        font_set().expect("embedded fonts load")
    }

    fn drawn(text: &str) -> String {
        glyphs(fonts(), text, Weight::Regular)
            .into_iter()
            .map(|g| g.ch)
            .collect()
    }

    #[test]
    fn bidi_controls_become_visible_markers() {
        let hostile = "invoice\u{202E}fdp.exe \u{2066}x\u{2069} \u{200E}\u{200F}";
        assert_eq!(
            neutralise(hostile),
            "invoice[U+202E]fdp.exe [U+2066]x[U+2069] [U+200E][U+200F]",
            "every bidi control must be shown, not obeyed"
        );
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{2067}', '\u{2068}',
        ] {
            assert_eq!(neutralise(&c.to_string()), marker_text(c));
        }
    }

    #[test]
    fn a_right_to_left_override_does_not_reorder_the_text_around_it() {
        let line = glyphs(fonts(), "abc\u{202E}def", Weight::Regular);
        let visual: String = visual_order(line).into_iter().map(|g| g.ch).collect();
        assert_eq!(
            visual, "abc[U+202E]def",
            "the override must not reverse 'def'"
        );
    }

    #[test]
    fn invisible_names_are_visibly_not_blank() {
        assert_eq!(
            neutralise("\u{200B}\u{3164}\u{FEFF}"),
            "[U+200B][U+3164][U+FEFF]"
        );
        assert_eq!(neutralise("a\u{0007}b"), "a[U+0007]b");
        assert_eq!(neutralise("tab\there"), "tab here");
    }

    #[test]
    fn characters_no_font_covers_are_written_as_code_points() {
        assert_eq!(drawn("ok 🦊"), "ok [U+1F98A]");
        assert!(glyphs(fonts(), "🦊", Weight::Bold).iter().all(|g| g.marker));
    }

    #[test]
    fn cyrillic_greek_and_hebrew_use_dejavu_and_cjk_uses_the_fallback() {
        let gs = glyphs(fonts(), "Пётр Σ שלום 中文 かな 한국", Weight::Regular);
        assert!(gs.iter().all(|g| !g.marker), "all of these are covered");
        for g in &gs {
            let expected = if matches!(u32::from(g.ch), 0x3040..=0x9FFF | 0xAC00..=0xD7AF) {
                Face::Cjk
            } else {
                Face::Regular
            };
            assert_eq!(g.face, expected, "face for {:?}", g.ch);
            assert!(g.width > 0.0 || g.ch == ' ', "{:?} has a width", g.ch);
        }
    }

    #[test]
    fn hebrew_is_put_into_visual_order_inside_a_left_to_right_line() {
        let line = glyphs(fonts(), "user שלום (x) end", Weight::Regular);
        let visual: String = visual_order(line).into_iter().map(|g| g.ch).collect();
        assert!(
            visual.starts_with("user "),
            "left-to-right text keeps its place: {visual}"
        );
        assert!(visual.ends_with(" end"), "{visual}");
        assert!(
            visual.contains("םולש"),
            "the Hebrew word reads right to left: {visual}"
        );
    }

    #[test]
    fn arabic_is_joined_into_presentation_forms() {
        let gs = glyphs(fonts(), "سلام", Weight::Regular);
        assert!(gs.iter().all(|g| !g.marker));
        assert!(
            gs.iter().all(|g| is_presentation_form(g.ch)),
            "letters are drawn in their joined forms: {:?}",
            gs.iter().map(|g| g.ch).collect::<String>()
        );
    }

    #[test]
    fn stacks_of_combining_marks_are_summarised() {
        let zalgo = format!("a{}", "\u{0301}".repeat(40));
        let out = neutralise(&zalgo);
        assert_eq!(out, format!("a{}[+37 marks]", "\u{0301}".repeat(3)));
    }
}
