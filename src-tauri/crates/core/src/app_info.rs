//! Facts about this installation that the home screen shows: version, data folder, tenant state.

use serde::Deserialize;

use crate::{paths::DataRoot, Error};

/// What the application knows about itself at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    /// The application's version, from its build.
    pub version: String,
    /// The data directory, as the admin would type it into a file manager.
    pub data_dir: String,
    /// Whether at least one real tenant profile is configured. When none is, the application opens
    /// on the built-in training tenant.
    pub tenant_configured: bool,
}

/// Only the part of the tenants file this module needs; the tenant module owns the full format.
#[derive(Deserialize)]
struct TenantsFile {
    #[serde(default)]
    profiles: Vec<serde_json::Value>,
}

/// Reads the installation's state from `root`.
pub fn gather(root: &DataRoot, version: &str) -> Result<AppInfo, Error> {
    Ok(AppInfo {
        version: version.to_owned(),
        data_dir: root.path().display().to_string(),
        tenant_configured: tenant_configured(root)?,
    })
}

fn tenant_configured(root: &DataRoot) -> Result<bool, Error> {
    let path = root.tenants_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let file: TenantsFile = serde_json::from_str(&text).map_err(|e| Error::Corrupt {
        path,
        detail: e.to_string(),
    })?;
    Ok(!file.profiles.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, DataRoot) {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = DataRoot::open(tmp.path()).expect("data root");
        (tmp, root)
    }

    #[test]
    fn a_fresh_installation_has_no_tenant_configured() {
        let (_tmp, root) = root();
        let info = gather(&root, "1.2.3").expect("gather");
        assert_eq!(info.version, "1.2.3");
        assert!(
            !info.tenant_configured,
            "no tenants file means the training tenant is used"
        );
    }

    #[test]
    fn a_profile_in_the_tenants_file_counts_as_configured() {
        let (_tmp, root) = root();
        std::fs::write(root.tenants_file(), r#"{"profiles":[{"name":"Contoso"}]}"#).expect("write");
        assert!(gather(&root, "1").expect("gather").tenant_configured);
    }

    #[test]
    fn a_damaged_tenants_file_is_reported_not_ignored() {
        let (_tmp, root) = root();
        std::fs::write(root.tenants_file(), "{not json").expect("write");
        let err = gather(&root, "1").expect_err("damaged file must be an error");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
