//! Where each service lives: the login, Graph and Exchange hosts of every Microsoft cloud, or one
//! custom base URL for the training tenant and tests.
//!
//! Hosts are from Microsoft's "national cloud deployments" page (login and Graph roots) and the
//! Exchange Online environment names of the ExchangeOnlineManagement module (O365Default,
//! O365USGovGCCHigh, O365USGovDoD, O365China). Token scopes always name the real resource of the
//! cloud, even when requests go to a custom base URL: the simulated tenant checks them.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{permissions::Resource, Error};

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Cloud {
    /// The worldwide (commercial) cloud, including GCC Moderate.
    #[default]
    Worldwide,
    /// Microsoft 365 US Government GCC High.
    UsGovGccHigh,
    /// Microsoft 365 US Government DoD.
    UsGovDod,
    /// Microsoft 365 operated by 21Vianet in China.
    China,
}

impl Cloud {
    /// Every cloud, worldwide first.
    pub const ALL: [Cloud; 4] = [
        Cloud::Worldwide,
        Cloud::UsGovGccHigh,
        Cloud::UsGovDod,
        Cloud::China,
    ];

    /// The cloud's name as the admin knows it.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Worldwide => "Worldwide",
            Cloud::UsGovGccHigh => "US Government GCC High",
            Cloud::UsGovDod => "US Government DoD",
            Cloud::China => "China (21Vianet)",
        }
    }

    /// The Entra login host (authority).
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Worldwide => "https://login.microsoftonline.com",
            Cloud::UsGovGccHigh | Cloud::UsGovDod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The Microsoft Graph root (also the Graph token audience).
    pub fn graph_host(self) -> &'static str {
        match self {
            Cloud::Worldwide => "https://graph.microsoft.com",
            Cloud::UsGovGccHigh => "https://graph.microsoft.us",
            Cloud::UsGovDod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Exchange Online host (also the Exchange token audience).
    pub fn exchange_host(self) -> &'static str {
        match self {
            Cloud::Worldwide => "https://outlook.office365.com",
            Cloud::UsGovGccHigh => "https://outlook.office365.us",
            Cloud::UsGovDod => "https://outlook-dod.office365.us",
            Cloud::China => "https://partner.outlook.cn",
        }
    }

    /// Whether the Purview audit-log query API exists in this cloud (spec/graph/endpoints.md: global only).
    pub fn has_audit_log_query(self) -> bool {
        self == Cloud::Worldwide
    }
}

/// The URLs one client talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    cloud: Cloud,
    login: String,
    graph: String,
    exchange: String,
}

impl Endpoints {
    /// The real endpoints of `cloud`.
    pub fn for_cloud(cloud: Cloud) -> Self {
        Self {
            cloud,
            login: cloud.login_host().to_owned(),
            graph: cloud.graph_host().to_owned(),
            exchange: cloud.exchange_host().to_owned(),
        }
    }

    /// Everything under one base URL (`{base}/v1.0`, `{base}/{tenant}/oauth2/v2.0/token`,
    /// `{base}/adminapi/beta/...`), as the simulated tenant serves it. Token scopes still name the
    /// worldwide resources.
    pub fn custom(base: &str) -> Result<Self, Error> {
        let url = Url::parse(base.trim_end_matches('/')).map_err(|_| Error::Config {
            detail: format!("the base URL {base:?} is not a URL"),
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(Error::Config {
                detail: format!("the base URL {base:?} must be http(s)://host[:port]"),
            });
        }
        let base = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self {
            cloud: Cloud::Worldwide,
            login: base.clone(),
            graph: base.clone(),
            exchange: base,
        })
    }

    /// Whether `base` is an http(s) URL on this computer (a loopback address or `localhost`).
    pub fn is_on_this_computer(base: &str) -> bool {
        let Ok(url) = Url::parse(base) else {
            return false;
        };
        let local = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        local && matches!(url.scheme(), "http" | "https")
    }

    /// The cloud whose resources tokens are requested for.
    pub fn cloud(&self) -> Cloud {
        self.cloud
    }

    /// The token endpoint for `tenant`.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", base(&self.login))
    }

    /// The device authorization endpoint for `tenant`.
    pub fn device_code_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", base(&self.login))
    }

    /// `{graph}/v1.0` or `{graph}/beta`.
    pub fn graph_root(&self, beta: bool) -> String {
        format!(
            "{}/{}",
            base(&self.graph),
            if beta { "beta" } else { "v1.0" }
        )
    }

    /// The Exchange admin `InvokeCommand` URL for `tenant`.
    pub fn invoke_command_url(&self, tenant: &str) -> String {
        format!(
            "{}/adminapi/beta/{tenant}/InvokeCommand",
            base(&self.exchange)
        )
    }

    /// The origin (scheme, host, port) requests for `resource` go to; paging links must stay on it.
    pub fn origin(&self, resource: Resource) -> Option<url::Origin> {
        let base = match resource {
            Resource::Graph => &self.graph,
            Resource::Exchange => &self.exchange,
        };
        Url::parse(base).ok().map(|u| u.origin())
    }

    /// The `/.default` scope that asks for a token for `resource` (always the real resource).
    pub fn scope(&self, resource: Resource) -> String {
        match resource {
            Resource::Graph => format!("{}/.default", self.cloud.graph_host()),
            Resource::Exchange => format!("{}/.default", self.cloud.exchange_host()),
        }
    }
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloud_has_parseable_https_hosts() {
        for cloud in Cloud::ALL {
            for host in [
                cloud.login_host(),
                cloud.graph_host(),
                cloud.exchange_host(),
            ] {
                let url = Url::parse(host).expect(host);
                assert_eq!(url.scheme(), "https", "{host}");
            }
        }
    }

    #[test]
    fn government_clouds_use_their_own_graph_and_exchange_hosts() {
        let dod = Endpoints::for_cloud(Cloud::UsGovDod);
        assert_eq!(dod.graph_root(false), "https://dod-graph.microsoft.us/v1.0");
        assert_eq!(
            dod.scope(Resource::Exchange),
            "https://outlook-dod.office365.us/.default"
        );
        assert_eq!(
            dod.token_url("contoso.onmicrosoft.us"),
            "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"
        );
        let china = Endpoints::for_cloud(Cloud::China);
        assert_eq!(
            china.invoke_command_url("t"),
            "https://partner.outlook.cn/adminapi/beta/t/InvokeCommand"
        );
    }

    #[test]
    fn a_custom_base_serves_everything_but_scopes_name_the_real_resources() {
        let e = Endpoints::custom("http://127.0.0.1:4321/").expect("custom");
        assert_eq!(e.graph_root(true), "http://127.0.0.1:4321/beta");
        assert_eq!(
            e.token_url("t"),
            "http://127.0.0.1:4321/t/oauth2/v2.0/token"
        );
        assert_eq!(
            e.device_code_url("t"),
            "http://127.0.0.1:4321/t/oauth2/v2.0/devicecode"
        );
        assert_eq!(
            e.invoke_command_url("t"),
            "http://127.0.0.1:4321/adminapi/beta/t/InvokeCommand"
        );
        assert_eq!(
            e.scope(Resource::Graph),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            e.scope(Resource::Exchange),
            "https://outlook.office365.com/.default"
        );
        assert!(Endpoints::custom("ftp://x").is_err());
        assert!(Endpoints::custom("not a url").is_err());
    }
}
