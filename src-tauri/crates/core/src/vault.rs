//! Secrets in the operating system's keychain (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows), keyed by tenant profile: the app's client secret and the
//! private key of its certificate. Nothing else in Firebreak holds them at rest.
//!
//! Secrets travel as [`SecretString`]: redacted `Debug`, no `Serialize`, never logged. An entry is
//! the keyring service (`Firebreak` unless a test chooses another) plus `<profile id>/<kind>`.

use firebreak_graph::{ExposeSecret, SecretString};

use crate::{tenant::ProfileId, Error};

/// The keyring service name Firebreak's entries are filed under.
pub const SERVICE: &str = "Firebreak";

/// Which secret of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The app registration's client secret.
    ClientSecret,
    /// The certificate's private key, PKCS#8 PEM.
    CertificateKey,
}

impl SecretKind {
    /// Both kinds.
    pub const ALL: [SecretKind; 2] = [SecretKind::ClientSecret, SecretKind::CertificateKey];

    fn label(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "client-secret",
            SecretKind::CertificateKey => "certificate-key",
        }
    }
}

/// The keychain, as Firebreak uses it.
#[derive(Debug, Clone)]
pub struct Vault {
    service: String,
}

impl Default for Vault {
    fn default() -> Self {
        Self::new()
    }
}

impl Vault {
    /// The vault under the [`SERVICE`] name.
    pub fn new() -> Self {
        Self {
            service: SERVICE.to_owned(),
        }
    }

    /// A vault under another service name (tests keep their entries apart this way).
    pub fn with_service(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, profile: &ProfileId, kind: SecretKind) -> Result<keyring::Entry, Error> {
        keyring::Entry::new(
            &self.service,
            &format!("{}/{}", profile.as_str(), kind.label()),
        )
        .map_err(|e| keychain_error("open", &e))
    }

    /// Stores (or replaces) a secret.
    pub fn store(
        &self,
        profile: &ProfileId,
        kind: SecretKind,
        secret: &SecretString,
    ) -> Result<(), Error> {
        self.entry(profile, kind)?
            .set_password(secret.expose_secret())
            .map_err(|e| keychain_error("store", &e))
    }

    /// Reads a secret; `None` when there is none.
    pub fn read(
        &self,
        profile: &ProfileId,
        kind: SecretKind,
    ) -> Result<Option<SecretString>, Error> {
        match self.entry(profile, kind)?.get_password() {
            Ok(secret) => Ok(Some(SecretString::from(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error("read", &e)),
        }
    }

    /// Deletes a secret; deleting one that is not there is not an error.
    pub fn delete(&self, profile: &ProfileId, kind: SecretKind) -> Result<(), Error> {
        match self.entry(profile, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error("delete", &e)),
        }
    }

    /// Deletes every secret of a profile.
    pub fn delete_all(&self, profile: &ProfileId) -> Result<(), Error> {
        SecretKind::ALL
            .iter()
            .try_for_each(|k| self.delete(profile, *k))
    }
}

fn keychain_error(action: &'static str, e: &keyring::Error) -> Error {
    // keyring's messages never contain the secret itself, only the platform's failure.
    Error::Keychain {
        action,
        detail: e.to_string(),
    }
}
