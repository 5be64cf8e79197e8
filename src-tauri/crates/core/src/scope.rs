//! Which account of a case a step belongs to.
//!
//! A case names one or more accounts; each has its own run of the procedure, and its steps are
//! journaled as `a1.triage`, `a2.revoke`, ... The `a1` part is a [`Scope`]: made from the
//! account's position (from 1) or read from text that is exactly `a` and that position, so that
//! a mistyped or foreign scope is refused instead of being read as some other account.

use std::{fmt, num::NonZeroUsize, ops::Deref};

use crate::error::Error;

/// One account's part of a case (`a1` for the first account the case names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    index: NonZeroUsize,
    text: String,
}

impl Scope {
    /// The first account's scope, `a1`.
    pub fn first() -> Self {
        Self::of(NonZeroUsize::MIN)
    }

    /// The scope of the `index`-th account (from 1); `None` for 0.
    pub fn numbered(index: usize) -> Option<Self> {
        NonZeroUsize::new(index).map(Self::of)
    }

    fn of(index: NonZeroUsize) -> Self {
        Self {
            index,
            text: format!("a{index}"),
        }
    }

    /// Reads `a1`, `a2`, ...: exactly `a` and a position from 1 in plain digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        text.strip_prefix('a')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(Self::numbered)
            .ok_or_else(|| Error::InvalidInput {
                field: "scope",
                problem: format!(
                    "{text:?} is not an account of a case: scopes are a1, a2, ... (the account's number from 1)."
                ),
            })
    }

    /// The account's position in the case, from 1.
    pub fn index(&self) -> usize {
        self.index.get()
    }

    /// The text form, `a1`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The full id of the step `key` in this scope (`a1.triage`).
    pub fn step_id(&self, key: &str) -> String {
        format!("{}.{key}", self.text)
    }

    /// The scope a full step id (`a1.triage`) belongs to, if it names one.
    pub fn of_step(step_id: &str) -> Option<Self> {
        step_id
            .split_once('.')
            .and_then(|(scope, _)| Self::parse(scope).ok())
    }
}

impl Deref for Scope {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_read_only_from_its_exact_form() {
        let second = Scope::parse("a2").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second.index(), 2);
        assert_eq!(second.to_string(), "a2");
        assert_eq!(second.step_id("triage"), "a2.triage");
        assert_eq!(Scope::parse("a12").map(|s| s.index()).ok(), Some(12));
        // Once read as account 0 (the first account's gate then looked at no account).
        for wrong in ["", "a", "a0", "a01", "x1", "a-1", "a 1", "A1", "a1.", "a١"] {
            assert!(Scope::parse(wrong).is_err(), "{wrong:?}");
        }
        assert_eq!(Scope::numbered(0), None);
        assert_eq!(Scope::numbered(1), Some(Scope::first()));
        assert_eq!(Scope::of_step("a3.revoke").map(|s| s.index()), Some(3));
        assert_eq!(Scope::of_step("triage"), None);
    }
}
