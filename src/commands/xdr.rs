//! `verify --xdr`: the guide's last step, Advanced Search in XDR, once for the run. The API
//! client is read with the other inputs (a problem with it is bad input, exit 2, before any
//! check is reported); the search runs after the checks.

use std::time::{Duration, UNIX_EPOCH};

use crate::cli::XdrArgs;
use crate::config::xdr_region_from_url;
use crate::input::{Input, Problem};
use crate::plan::verify::CheckStatus;
use crate::ui::Printer;
use crate::ui::render::XdrCheck;
use crate::xdr::{self, Answer, ApiClient, Search, XdrError};

/// The longest wait for one answer of the API, unless `TAEGIS_XDR_TIMEOUT` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What `--xdr` needs before the run: the API client, and the API when the flags name it.
pub struct Prepared {
    client: ApiClient,
    /// From `--xdr-api-url`, `--taegis-region` or `--xdr-url`; else the shared stack's region.
    api: Option<String>,
    tenant: Option<String>,
    timeout: Duration,
}

/// Read what `--xdr` needs; a problem names the input and the fix. The client secret is
/// registered with the printer so that it never shows.
pub fn prepare(args: &XdrArgs, printer: &Printer) -> Result<Option<Prepared>, Problem> {
    if !args.xdr {
        return Ok(None);
    }
    let env = |k: &str| std::env::var(k).ok();
    let client = ApiClient::find(args.xdr_api_credentials.as_deref(), env)
        .map_err(|e| Problem::about(Input::Xdr, "", e))?;
    printer.redact(&client.secret);
    let api_url = args.xdr_api_url.clone().or_else(|| env(xdr::API_URL_VAR));
    let api = match (&api_url, &args.taegis_region, &args.xdr_url) {
        (Some(url), _, _) => Some(url.trim_end_matches('/').to_string()),
        (None, Some(region), _) => Some(api_of(region)?),
        (None, None, Some(url)) => {
            let region =
                xdr_region_from_url(url).map_err(|e| Problem::about(Input::XdrUrl, "", e))?;
            Some(api_of(&region)?)
        }
        (None, None, None) => None,
    };
    Ok(Some(Prepared {
        client,
        api,
        tenant: args.tenant.clone().or_else(|| env(xdr::TENANT_VAR)),
        timeout: args.xdr_timeout.unwrap_or(DEFAULT_TIMEOUT),
    }))
}

fn api_of(region: &str) -> Result<String, Problem> {
    xdr::api_url(region).map(str::to_string).ok_or_else(|| {
        Problem::value(Input::TaegisRegion, region, "is not an XDR region")
            .fix("give one of ctpx, delta, echo, foxtrot, golf, or --xdr-api-url URL")
    })
}

impl Prepared {
    /// Run the search over `since` (`since_text` as the user wrote it). `stack_regions` are
    /// the XDR regions the shared stacks name, for when no flag named the API. An error is
    /// bad input (exit 2); a failed query is a failed check.
    pub async fn run(
        &self,
        since: Duration,
        since_text: &str,
        stack_regions: &[String],
        printer: &Printer,
    ) -> Result<XdrCheck, String> {
        let api = match (&self.api, stack_regions) {
            (Some(api), _) => api.clone(),
            (None, [region, ..]) => api_of(region).map_err(|p| p.to_string())?,
            (None, []) => {
                return Err(format!(
                    "{}: the XDR region is not known (no shared stack was found to read it from); give --taegis-region NAME or --xdr-api-url URL",
                    Input::Xdr.flag()
                ));
            }
        };
        let search = Search {
            api,
            since,
            tenant: self.tenant.clone(),
            timeout: self.timeout,
        };
        let query = search.query();
        printer.info(&format!("XDR: searching `{query}` at {}", search.host()));
        let answer = xdr::search(&self.client, &search).await;
        let check = |events, newest, status, detail| XdrCheck {
            query: query.clone(),
            since: since_text.to_string(),
            events,
            newest,
            status,
            detail,
        };
        match answer {
            Ok(Answer::Found {
                events,
                at_least,
                newest_usec,
            }) => {
                let newest = newest_usec.map(rfc3339);
                Ok(check(
                    Some(events),
                    newest.clone(),
                    status_of(events),
                    found_text(events, at_least, newest, since_text),
                ))
            }
            Ok(Answer::Failed { reason }) => Ok(check(
                None,
                None,
                CheckStatus::Failed,
                format!("XDR ran the query and it failed: {reason}"),
            )),
            Err(e) => Err(explain(&e)),
        }
    }
}

fn status_of(events: u64) -> CheckStatus {
    match events {
        0 => CheckStatus::Warning,
        _ => CheckStatus::Ok,
    }
}

/// What the search found, in words; none yet is explained, not alarming.
fn found_text(events: u64, at_least: bool, newest: Option<String>, since: &str) -> String {
    let newest = newest
        .map(|t| format!(", the newest at {t}"))
        .unwrap_or_default();
    match (events, at_least) {
        (0, _) => format!(
            "no CloudTrail events in XDR in the last {since} yet; after a fresh deploy that is normal for a while (CloudTrail delivers to S3 every few minutes, and the function sends them on in batches): run `verify --xdr` again in 15 minutes"
        ),
        (1, false) => format!("1 CloudTrail event in XDR in the last {since}{newest}"),
        (n, false) => format!("{n} CloudTrail events in XDR in the last {since}{newest}"),
        (n, true) => format!("at least {n} CloudTrail events in XDR in the last {since}{newest}"),
    }
}

/// The error as the one line the user sees (`--xdr: ...`).
fn explain(e: &XdrError) -> String {
    format!("{}: {e}", Input::Xdr.flag())
}

/// µs since the epoch as RFC 3339 (seconds).
fn rfc3339(usec: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_micros(u64::try_from(usec).unwrap_or_default());
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_in_words_and_none_is_a_warning_that_says_why() {
        assert_eq!(status_of(0), CheckStatus::Warning);
        assert_eq!(status_of(3), CheckStatus::Ok);
        let none = found_text(0, false, None, "24h");
        assert!(none.contains("normal") && none.contains("24h"), "{none}");
        let some = found_text(3, false, Some("2026-12-06T07:00:00Z".into()), "1h");
        assert_eq!(
            some,
            "3 CloudTrail events in XDR in the last 1h, the newest at 2026-12-06T07:00:00Z"
        );
        assert!(found_text(100, true, None, "1h").starts_with("at least 100"));
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(1_765_004_400_000_000), "2025-12-06T07:00:00Z");
    }
}
