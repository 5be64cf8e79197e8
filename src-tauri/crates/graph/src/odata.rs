//! OData building blocks: quoting `$filter` string literals, validating ids before they go into a
//! URL path, formatting times, and assembling request URLs.
//!
//! Every value here may come from the tenant (a rule name, an app id from a grant) and so from the
//! attacker: string literals have their single quotes doubled, path segments are validated against
//! a conservative character set and then percent-encoded, and nothing is pasted into a URL raw.

use chrono::{DateTime, SecondsFormat, Utc};
use url::Url;

use crate::Error;

/// Quotes `value` as an OData string literal: wrapped in single quotes, each `'` doubled.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// Formats a time as OData's `DateTimeOffset` literal (`2024-06-01T00:00:00Z`, unquoted).
pub fn datetime(value: DateTime<Utc>) -> String {
    value.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether `value` is a GUID in its usual 8-4-4-4-12 hexadecimal form.
pub fn is_guid(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Whether `value` looks like a user principal name Entra would accept.
pub fn is_upn(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 113
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'._-!#^~".contains(c))
        && !local.contains("..");
    let domain_ok = !domain.is_empty()
        && domain.len() <= 255
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    local_ok && domain_ok
}

/// A user (or mailbox) reference that is safe in a URL path: an object id (GUID) or a UPN.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserRef(String);

impl UserRef {
    /// Validates `value` as a GUID or UPN.
    pub fn new(value: &str) -> Result<Self, Error> {
        if is_guid(value) || is_upn(value) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Error::InvalidInput {
                what: "user",
                value: value.to_owned(),
                reason: "expected an object id (GUID) or a user principal name (name@domain)",
            })
        }
    }

    /// The reference as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates an object id (GUID) such as a service principal or user object id.
pub fn object_id<'a>(what: &'static str, value: &'a str) -> Result<&'a str, Error> {
    if is_guid(value) {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            what,
            value: value.to_owned(),
            reason: "expected an object id (GUID)",
        })
    }
}

/// Validates an opaque service-issued id (grant ids, Outlook rule ids, alert ids) for use as one
/// path segment: 1-512 characters from the base64/base64url alphabets and `-_.=+~!:`, never a
/// slash, dot-segment, `?`, `#`, `%` or whitespace.
pub fn opaque_id<'a>(what: &'static str, value: &'a str) -> Result<&'a str, Error> {
    let ok = !value.is_empty()
        && value.len() <= 512
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=+~!:".contains(c));
    if ok {
        Ok(value)
    } else {
        Err(Error::InvalidInput {
            what,
            value: value.to_owned(),
            reason: "it contains characters a Microsoft id never has",
        })
    }
}

/// Builds `root` + `/seg/seg...` (each segment percent-encoded) + query pairs (form-encoded).
pub fn build_url(root: &str, segments: &[&str], query: &[(&str, String)]) -> Result<Url, Error> {
    let mut url = Url::parse(root).map_err(|_| Error::Config {
        detail: format!("{root:?} is not a usable service URL"),
    })?;
    {
        let mut path = url.path_segments_mut().map_err(|()| Error::Config {
            detail: format!("{root:?} cannot carry a path"),
        })?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_doubles_single_quotes_and_wraps_the_value() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("O'Brien"), "'O''Brien'");
        assert_eq!(quote("''"), "''''''");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn hostile_filter_values_cannot_close_the_literal() {
        let hostile = "x' or 1 eq 1 or userId eq '";
        let q = quote(hostile);
        // Strip the outer quotes: what is left must contain no lone single quote.
        let inner = &q[1..q.len() - 1];
        let lone = inner.replace("''", "");
        assert!(
            !lone.contains('\''),
            "a lone quote would end the literal: {q}"
        );
        assert_eq!(q, "'x'' or 1 eq 1 or userId eq '''");
        // Unicode and control characters pass through untouched (they are data, not syntax).
        assert_eq!(quote("ünï\u{0}\n"), "'ünï\u{0}\n'");
    }

    #[test]
    fn user_refs_accept_guids_and_upns_and_refuse_path_tricks() {
        assert!(UserRef::new("6e7b768e-07e2-4810-8459-485f84f8f204").is_ok());
        assert!(UserRef::new("adele.vance@contoso.onmicrosoft.com").is_ok());
        assert!(UserRef::new("o'brien@contoso.com").is_ok());
        for bad in [
            "",
            "../users",
            "a@b",
            "x@contoso.com/../../me",
            "x@contoso.com?$select=*",
            "x y@contoso.com",
            "6e7b768e-07e2-4810-8459-485f84f8f20",
            "@contoso.com",
        ] {
            assert!(UserRef::new(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn opaque_ids_refuse_separators() {
        assert!(opaque_id("rule", "AQAAAJ5dZqA=").is_ok());
        assert!(opaque_id("grant", "lNh3xS2a_0uE5bVlKyuU8H8l9G4-0").is_ok());
        for bad in ["", "..", "a/b", "a?b", "a#b", "a%2Fb", "a b", "a\\b"] {
            assert!(opaque_id("rule", bad).is_err(), "{bad:?} must be refused");
        }
        assert!(object_id("sp", "not-a-guid").is_err());
    }

    #[test]
    fn build_url_encodes_segments_and_query() {
        let url = build_url(
            "http://127.0.0.1:1/v1.0",
            &["users", "o'brien@contoso.com", "authentication"],
            &[("$filter", "userId eq 'a b'".into())],
        )
        .expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/v1.0/users/o'brien@contoso.com/authentication?%24filter=userId+eq+%27a+b%27"
        );
        let hashed = build_url(
            "https://graph.microsoft.com/v1.0",
            &["users", "a#EXT#@x.com"],
            &[],
        )
        .expect("url");
        assert!(
            hashed.as_str().ends_with("/users/a%23EXT%23@x.com"),
            "{hashed}"
        );
    }

    #[test]
    fn datetimes_are_utc_with_z() {
        let t = DateTime::parse_from_rfc3339("2024-06-01T02:00:00+02:00")
            .expect("parse")
            .with_timezone(&Utc);
        assert_eq!(datetime(t), "2024-06-01T00:00:00Z");
    }
}
