//! The Taegis XDR API, as Secureworks' own SDKs use it: a token for API client credentials
//! (`POST /auth/api/v2/auth/token`, client-credentials with Basic auth), then the guide's
//! Advanced Search as the `eventQuery` subscription over Apollo's `graphql-ws` protocol at
//! `/graphql`. Knows nothing of AWS; the only room with reqwest and tungstenite. The client
//! secret and the token never leave this room except as headers on the wire.

mod search;

use std::path::Path;
use std::time::Duration;

use crate::secret::Secret;

pub use search::{Answer, search};

/// The guide's Advanced Search query: the CloudTrail events that reached XDR.
pub const QUERY: &str = "from cloudaudit where sensor_type = 'AWS CloudTrail'";

/// The environment variables Secureworks' own tools read the API client from.
pub const CLIENT_ID_VAR: &str = "TAEGIS_CLIENT_ID";
pub const CLIENT_SECRET_VAR: &str = "TAEGIS_CLIENT_SECRET";
/// The API base URL, for a private endpoint (`--xdr-api-url` wins).
pub const API_URL_VAR: &str = "TAEGIS_XDR_API_URL";
/// The tenant, when the client may see several.
pub const TENANT_VAR: &str = "TAEGIS_TENANT_ID";

/// The API host of each XDR region (the guide's names and the SDKs' names).
const API_HOSTS: &[(&str, &str)] = &[
    ("ctpx", "https://api.ctpx.secureworks.com"),
    ("charlie", "https://api.ctpx.secureworks.com"),
    ("us1", "https://api.ctpx.secureworks.com"),
    ("delta", "https://api.delta.taegis.secureworks.com"),
    ("us2", "https://api.delta.taegis.secureworks.com"),
    ("foxtrot", "https://api.foxtrot.taegis.secureworks.com"),
    ("us3", "https://api.foxtrot.taegis.secureworks.com"),
    ("echo", "https://api.echo.taegis.secureworks.com"),
    ("eu", "https://api.echo.taegis.secureworks.com"),
    ("golf", "https://api.golf.taegis.secureworks.com"),
];

/// The API base URL of an XDR region.
pub fn api_url(region: &str) -> Option<&'static str> {
    let region = region.trim().to_ascii_lowercase();
    API_HOSTS
        .iter()
        .find(|(name, _)| *name == region)
        .map(|(_, url)| *url)
}

/// An API client of a person or a CI job (made in XDR, or with `taegis clients create`); not
/// the integration's credentials text.
pub struct ApiClient {
    pub id: String,
    pub secret: Secret,
}

impl ApiClient {
    /// From a file of `client_id=…` and `client_secret=…` lines, else from
    /// `TAEGIS_CLIENT_ID` and `TAEGIS_CLIENT_SECRET`. The error is one sentence with the fix.
    pub fn find(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ApiClient, String> {
        let (id, secret, place) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "cannot read the XDR API credentials file {}: {e}",
                        path.display()
                    )
                })?;
                let (id, secret) = read_client_file(&text);
                (id, secret, format!("file {}", path.display()))
            }
            None => (
                env(CLIENT_ID_VAR),
                env(CLIENT_SECRET_VAR),
                format!("{CLIENT_ID_VAR} and {CLIENT_SECRET_VAR}"),
            ),
        };
        match (
            id.filter(|s| !s.is_empty()),
            secret.filter(|s| !s.is_empty()),
        ) {
            (Some(id), Some(secret)) => Ok(ApiClient {
                id,
                secret: Secret::new(secret),
            }),
            _ => Err(format!(
                "no XDR API client: {place} must give both a client id and a client secret (set {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR}, or --xdr-api-credentials FILE; make a client in XDR or with `taegis clients create`)"
            )),
        }
    }
}

/// `client_id=…` and `client_secret=…` lines (`#` comments, blank lines and spaces around `=`
/// allowed).
fn read_client_file(text: &str) -> (Option<String>, Option<String>) {
    let (mut id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        match line.split_once('=') {
            Some((k, v)) if k.trim() == "client_id" => id = Some(v.trim().to_string()),
            Some((k, v)) if k.trim() == "client_secret" => secret = Some(v.trim().to_string()),
            _ => {}
        }
    }
    (id, secret)
}

/// What to search: the guide's query over a window, as the tenant (when given).
pub struct Search {
    pub api: String,
    pub since: Duration,
    pub tenant: Option<String>,
    /// The longest wait for any one answer of the API.
    pub timeout: Duration,
}

impl Search {
    /// The query as sent: the guide's, with the window in XDR's own syntax.
    pub fn query(&self) -> String {
        format!("{QUERY} EARLIEST=-{}", window(self.since))
    }

    /// The API's host, for messages.
    pub fn host(&self) -> &str {
        let rest = self.api.split_once("://").map_or(&*self.api, |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// A window as XDR writes it: `24h`, `90m`, `45s` (rounded up to whole units).
pub fn window(d: Duration) -> String {
    let secs = d.as_secs().max(1);
    match secs {
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s if s >= 600 => format!("{}m", s.div_ceil(60)),
        s => format!("{s}s"),
    }
}

/// Why the search could not be run; each says what to do, and none holds the secret or the
/// token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XdrError {
    #[error(
        "XDR refused the API client {client} ({status}): check {CLIENT_ID_VAR} and {CLIENT_SECRET_VAR} (or --xdr-api-credentials); the client may have been deleted or its secret rotated"
    )]
    Refused { client: String, status: u16 },
    #[error(
        "XDR refused tenant {tenant}: {reason}; give a tenant this API client may see (--tenant or {TENANT_VAR})"
    )]
    TenantRefused { tenant: String, reason: String },
    #[error(
        "the XDR API at {host} did not answer ({cause}); check the XDR region (--taegis-region) or --xdr-api-url, and the network"
    )]
    Unreachable { host: String, cause: String },
    #[error(
        "the XDR API at {host} gave no answer within {secs}s; try again later, or check --xdr-api-url"
    )]
    TimedOut { host: String, secs: u64 },
    #[error("the XDR API at {host} answered in a way this release does not understand: {what}")]
    Unexpected { host: String, what: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_as_xdr_writes_them() {
        for (secs, want) in [
            (86_400, "24h"),
            (3_600, "1h"),
            (5_400, "90m"),
            (45, "45s"),
            (601, "11m"),
            (0, "1s"),
        ] {
            assert_eq!(window(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn regions_name_their_api_hosts() {
        assert_eq!(api_url("ctpx"), Some("https://api.ctpx.secureworks.com"));
        assert_eq!(api_url("Charlie"), api_url("ctpx"));
        assert_eq!(
            api_url("echo"),
            Some("https://api.echo.taegis.secureworks.com")
        );
        assert_eq!(api_url("mars"), None);
    }

    #[test]
    fn the_client_comes_from_a_file_or_the_environment_and_is_never_half_given() {
        let env = |k: &str| match k {
            CLIENT_ID_VAR => Some("id-1".to_string()),
            CLIENT_SECRET_VAR => Some("s3cret".to_string()),
            _ => None,
        };
        let c = ApiClient::find(None, env).unwrap();
        assert_eq!((c.id.as_str(), c.secret.expose()), ("id-1", "s3cret"));
        let half = |k: &str| (k == CLIENT_ID_VAR).then(|| "id-1".to_string());
        let e = ApiClient::find(None, half).err().unwrap();
        assert!(
            e.contains(CLIENT_ID_VAR) && e.contains(CLIENT_SECRET_VAR),
            "{e}"
        );
        let (id, secret) = read_client_file("# mine\nclient_id = a\n\nclient_secret=b=c\n");
        assert_eq!((id.as_deref(), secret.as_deref()), (Some("a"), Some("b=c")));
    }

    #[test]
    fn the_host_is_named_without_scheme_or_path() {
        let s = Search {
            api: "https://api.echo.taegis.secureworks.com/".into(),
            since: Duration::from_secs(3600),
            tenant: None,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(s.host(), "api.echo.taegis.secureworks.com");
        assert_eq!(s.query(), format!("{QUERY} EARLIEST=-1h"));
    }
}
