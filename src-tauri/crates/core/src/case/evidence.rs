//! The evidence store: each artefact saved byte for byte as it was received, hashed while it is
//! written, under a file name that never comes from the tenant unsanitised.
//!
//! Files live in `<case>/evidence/NNNN-<name>.<ext>`; `NNNN` is the artefact's number in the case.
//! Names are ASCII letters, digits, `-`, `_` and single dots; never a path separator, `..`, a
//! control character or a Windows reserved name, and at most [`MAX_STEM`] characters before the
//! extension. The content is written to a temporary file, flushed, and renamed into place, so a
//! crash leaves either the whole artefact or nothing under its final name.

use std::{
    io::{Read, Write},
    path::Path,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::durable::TempFile;
use crate::Error;

/// The longest file name stem kept from a name hint.
pub const MAX_STEM: usize = 80;
/// How much is read and written at a time.
pub(crate) const CHUNK: usize = 64 * 1024;

/// How an artefact is encoded; decides its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ArtefactFormat {
    /// JSON exactly as the service returned it.
    Json,
    /// CSV, where the ecosystem expects it (audit log exports).
    Csv,
    /// Plain text.
    Text,
}

impl ArtefactFormat {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Text => "txt",
        }
    }
}

/// What the caller knows about an artefact it is about to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArtefact {
    /// A name hint, possibly from the tenant (a rule's name): it is sanitised before use.
    pub name_hint: String,
    /// How it is encoded.
    pub format: ArtefactFormat,
    /// What it is, for the manifest ("Inbox rules of j.doe@contoso.com before removal").
    pub description: String,
    /// The operation that produced it ("GET /users/{id}/mailFolders/inbox/messageRules").
    pub source_operation: String,
    /// When it was captured from the service.
    pub captured_at: DateTime<Utc>,
}

/// An artefact in the evidence folder, as journaled (`evidence_added`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRecord {
    /// Its path inside the case folder, with `/` separators (`evidence/0003-rules.json`).
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of its content.
    pub sha256: String,
    /// How it is encoded.
    pub format: ArtefactFormat,
    /// What it is.
    pub description: String,
    /// The operation that produced it.
    pub source_operation: String,
    /// When it was captured from the service.
    pub captured_at: DateTime<Utc>,
}

/// Turns any name hint into a safe file name stem (no extension).
pub fn sanitise_stem(hint: &str) -> String {
    let mut stem = String::with_capacity(hint.len().min(MAX_STEM));
    let mut last = '\0';
    for c in hint.chars() {
        let mapped = match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' => c,
            '.' if last != '.' => '.',
            '.' => continue,
            _ => '_',
        };
        if mapped == '_' && last == '_' {
            continue;
        }
        stem.push(mapped);
        last = mapped;
    }
    let mut stem: String = stem
        .trim_matches(|c| matches!(c, '.' | '_' | '-'))
        .chars()
        .take(MAX_STEM)
        .collect();
    // Truncation may leave a trailing dot, which Windows strips silently.
    while stem.ends_with('.') || stem.ends_with('_') {
        stem.pop();
    }
    if stem.is_empty() {
        return "artefact".into();
    }
    if is_reserved_on_windows(&stem) {
        stem.insert(0, '_');
    }
    stem
}

/// Windows refuses these names whatever the extension (`CON`, `nul.json`, `COM1.txt`, ...).
fn is_reserved_on_windows(stem: &str) -> bool {
    let base = stem.split('.').next().unwrap_or(stem).to_ascii_uppercase();
    matches!(
        base.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((base.starts_with("COM") || base.starts_with("LPT"))
        && base.len() == 4
        && base.as_bytes()[3].is_ascii_digit())
}

/// The file name for artefact number `number`.
pub fn file_name(number: u32, hint: &str, format: ArtefactFormat) -> String {
    let mut stem = sanitise_stem(hint);
    let ext = format.extension();
    if let Some(without) = stem
        .to_ascii_lowercase()
        .strip_suffix(&format!(".{ext}"))
        .map(str::len)
    {
        stem.truncate(without);
        if stem.is_empty() {
            stem = "artefact".into();
        }
    }
    format!("{number:04}-{stem}.{ext}")
}

/// Streams `content` into the evidence folder `dir` as artefact `number`, hashing as it goes.
/// Never overwrites: if the name is taken, `-2`, `-3`, ... is added before the extension.
pub(crate) fn store(
    dir: &Path,
    number: u32,
    artefact: &NewArtefact,
    mut content: impl Read,
) -> Result<EvidenceRecord, Error> {
    let mut temp = TempFile::create_in(dir)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let read = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read the artefact to save", temp.path(), e)),
        };
        hasher.update(&buf[..read]);
        temp.file()
            .write_all(&buf[..read])
            .map_err(|e| Error::io("write the artefact", dir, e))?;
        size += read as u64;
    }
    let name = file_name(number, &artefact.name_hint, artefact.format);
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
    let mut target = dir.join(&name);
    let mut attempt = 1;
    while target.exists() {
        attempt += 1;
        target = dir.join(format!("{stem}-{attempt}.{ext}"));
    }
    let final_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or(name);
    temp.persist(&target, false)?;
    Ok(EvidenceRecord {
        file: format!("evidence/{final_name}"),
        size,
        sha256: hex::encode(hasher.finalize()),
        format: artefact.format,
        description: artefact.description.clone(),
        source_operation: artefact.source_operation.clone(),
        captured_at: artefact.captured_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_separators_dots_and_control_characters_never_survive() {
        for hint in [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "/absolute/path",
            "C:\\Users\\x",
            "a\0b\nc\rd\u{7f}",
            "\u{202e}fdp.exe",
            "...",
            "..",
            ".hidden",
        ] {
            let stem = sanitise_stem(hint);
            assert!(
                !stem.contains('/') && !stem.contains('\\'),
                "{hint:?} -> {stem}"
            );
            assert!(!stem.contains(".."), "{hint:?} -> {stem}");
            assert!(!stem.starts_with('.'), "{hint:?} -> {stem}");
            assert!(!stem.chars().any(char::is_control), "{hint:?} -> {stem}");
            assert!(stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
            assert!(!stem.is_empty());
        }
        assert_eq!(sanitise_stem("../../etc/passwd"), "etc_passwd");
        assert_eq!(sanitise_stem(".."), "artefact");
    }

    #[test]
    fn windows_reserved_names_are_prefixed() {
        for hint in ["CON", "nul", "Com1", "lpt9.json", "aux.txt"] {
            let stem = sanitise_stem(hint);
            assert!(stem.starts_with('_'), "{hint} -> {stem}");
        }
        assert_eq!(
            sanitise_stem("console"),
            "console",
            "only exact device names are reserved"
        );
        assert_eq!(sanitise_stem("COM10"), "COM10");
    }

    #[test]
    fn long_names_are_bounded_and_the_extension_comes_from_the_format() {
        let long = "x".repeat(10_000);
        let name = file_name(7, &long, ArtefactFormat::Csv);
        assert_eq!(name.len(), "0007-".len() + MAX_STEM + ".csv".len());
        assert!(name.ends_with(".csv"));
        assert_eq!(
            file_name(1, "rules.json", ArtefactFormat::Json),
            "0001-rules.json"
        );
        assert_eq!(
            file_name(2, "payload.exe", ArtefactFormat::Json),
            "0002-payload.exe.json"
        );
        assert_eq!(
            file_name(3, ".json", ArtefactFormat::Json),
            "0003-json.json"
        );
    }
}
