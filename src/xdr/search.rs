//! The search itself: a token, then one `eventQuery` subscription over `graphql-ws`, read until
//! the query's final status. Every wait is bounded by the search's timeout.

use std::future::Future;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};

use super::{ApiClient, Search, XdrError};
use crate::secret::Secret;

/// The subscription: the guide's query, one page of rows (enough to say events arrive and how
/// many there are in all).
const EVENT_QUERY: &str =
    "subscription($query: String!, $metadata: JSONObject, $options: EventQueryOptions) {
  eventQuery(query: $query, metadata: $metadata, options: $options) {
    query { id status reasons { status reason } }
    result { status reason rows progress { totalRows totalRowsIsLowerBound } }
    next
  }
}";

/// Rows asked for: the newest ones are enough.
const PAGE_SIZE: u32 = 100;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The query finished: how many events (`at_least` when XDR gave a lower bound), and the
    /// newest one's time (µs since the epoch) where the rows carry one.
    Found {
        events: u64,
        at_least: bool,
        newest_usec: Option<i64>,
    },
    /// XDR ran the query and it failed: its reason.
    Failed { reason: String },
}

/// Run the guide's query as `client`.
pub async fn search(client: &ApiClient, s: &Search) -> Result<Answer, XdrError> {
    let token = bounded(s, token(client, s)).await??;
    bounded(s, subscribe(&token, s)).await?
}

/// Wait at most the search's timeout for `work`.
async fn bounded<T>(s: &Search, work: impl Future<Output = T>) -> Result<T, XdrError> {
    tokio::time::timeout(s.timeout, work)
        .await
        .map_err(|_| XdrError::TimedOut {
            host: s.host().to_string(),
            secs: s.timeout.as_secs(),
        })
}

/// The access token for the client's credentials.
async fn token(client: &ApiClient, s: &Search) -> Result<Secret, XdrError> {
    let url = format!("{}/auth/api/v2/auth/token", s.api.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .timeout(s.timeout)
        .build()
        .map_err(|e| unreachable(s, &e))?;
    let answer = http
        .post(url)
        .basic_auth(&client.id, Some(client.secret.expose()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .map_err(|e| unreachable(s, &e))?;
    let status = answer.status().as_u16();
    if status == 401 || status == 403 {
        return Err(XdrError::Refused {
            client: client.id.clone(),
            status,
        });
    }
    let text = answer.text().await.map_err(|e| unreachable(s, &e))?;
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| unexpected(s, format!("the token answer ({status}) is not JSON: {e}")))?;
    match body.get("access_token").and_then(Value::as_str) {
        Some(t) if (200..300).contains(&status) => Ok(Secret::new(t.to_string())),
        _ => Err(unexpected(
            s,
            format!("the token endpoint answered {status} without an access token"),
        )),
    }
}

fn unreachable(s: &Search, e: &reqwest::Error) -> XdrError {
    if e.is_timeout() {
        return XdrError::TimedOut {
            host: s.host().to_string(),
            secs: s.timeout.as_secs(),
        };
    }
    // The innermost cause says what happened (refused, no such host); never the request.
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    XdrError::Unreachable {
        host: s.host().to_string(),
        cause: cause.to_string(),
    }
}

fn unexpected(s: &Search, what: String) -> XdrError {
    XdrError::Unexpected {
        host: s.host().to_string(),
        what,
    }
}

/// The WebSocket request: the token as a bearer and, as the SDK sends it, as a sub-protocol;
/// the tenant as `X-Tenant-Context`.
fn ws_request(
    token: &Secret,
    s: &Search,
) -> Result<tungstenite::handshake::client::Request, XdrError> {
    let base = s.api.trim_end_matches('/');
    let url = match base.split_once("://") {
        Some(("https", rest)) => format!("wss://{rest}/graphql"),
        Some(("http", rest)) => format!("ws://{rest}/graphql"),
        _ => return Err(unexpected(s, format!("{base} is not an http(s) URL"))),
    };
    let mut req = url
        .into_client_request()
        .map_err(|e| unexpected(s, e.to_string()))?;
    let header = |v: String| {
        HeaderValue::from_str(&v).map_err(|_| unexpected(s, "a header value is not valid".into()))
    };
    let protocols = format!("graphql-ws, access-token-{}", token.expose());
    let headers = req.headers_mut();
    headers.insert("Sec-WebSocket-Protocol", header(protocols)?);
    headers.insert(
        "Authorization",
        header(format!("Bearer {}", token.expose()))?,
    );
    if let Some(t) = &s.tenant {
        headers.insert("X-Tenant-Context", header(t.clone())?);
    }
    Ok(req)
}

/// One `eventQuery` subscription, read to its end.
async fn subscribe(token: &Secret, s: &Search) -> Result<Answer, XdrError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request(token, s)?)
        .await
        .map_err(|e| handshake_error(s, e))?;
    let send = |v: Value| Message::text(v.to_string());
    let sent = async {
        ws.send(send(json!({"type": "connection_init", "payload": {}})))
            .await?;
        ws.send(send(json!({
            "id": "1",
            "type": "start",
            "payload": {"query": EVENT_QUERY, "variables": {
                "query": s.query(),
                "metadata": {"callerName": "taegis-cloudtrail"},
                "options": {"timestampAscending": false, "pageSize": PAGE_SIZE, "maxRows": PAGE_SIZE},
            }},
        })))
        .await
    };
    sent.await.map_err(|e| unreachable_ws(s, &e))?;
    let mut reading = Reading::default();
    while let Some(msg) = ws.next().await {
        let msg = msg.map_err(|e| unreachable_ws(s, &e))?;
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(text.as_str())
            .map_err(|e| unexpected(s, format!("a message is not JSON: {e}")))?;
        if let Some(answer) = reading.take(&v, s)? {
            let _ = ws.send(send(json!({"type": "stop", "id": "1"}))).await;
            let _ = ws.close(None).await;
            return Ok(answer);
        }
    }
    Ok(reading.end())
}

fn handshake_error(s: &Search, e: tungstenite::Error) -> XdrError {
    match e {
        tungstenite::Error::Http(r) if matches!(r.status().as_u16(), 401 | 403) => {
            match (&s.tenant, r.status().as_u16()) {
                (Some(t), 403) => XdrError::TenantRefused {
                    tenant: t.clone(),
                    reason: "403 Forbidden".into(),
                },
                _ => unexpected(s, format!("the search refused the token ({})", r.status())),
            }
        }
        tungstenite::Error::Http(r) => unexpected(s, format!("the search answered {}", r.status())),
        other => unreachable_ws(s, &other),
    }
}

fn unreachable_ws(s: &Search, e: &tungstenite::Error) -> XdrError {
    XdrError::Unreachable {
        host: s.host().to_string(),
        cause: match e {
            tungstenite::Error::Io(io) => io.to_string(),
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                "the connection closed".into()
            }
            _ => "the WebSocket failed".into(),
        },
    }
}

/// What the messages of one subscription told so far.
#[derive(Default)]
struct Reading {
    events: u64,
    at_least: bool,
    newest_usec: Option<i64>,
    /// XDR said how many rows there are in all.
    total_known: bool,
}

impl Reading {
    /// Take one message; the answer once the query reached its final status.
    fn take(&mut self, v: &Value, s: &Search) -> Result<Option<Answer>, XdrError> {
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "data" => self.data(v.get("payload").unwrap_or(&Value::Null), s),
            "complete" => Ok(Some(self.end())),
            "error" | "connection_error" => Err(self.refusal(&message_of(v.get("payload")), s)),
            // connection_ack, ka: nothing to read.
            _ => Ok(None),
        }
    }

    fn data(&mut self, payload: &Value, s: &Search) -> Result<Option<Answer>, XdrError> {
        if let Some(errors) = payload.get("errors").and_then(Value::as_array)
            && let Some(first) = errors.first()
        {
            return Err(self.refusal(&message_of(Some(first)), s));
        }
        let q = &payload["data"]["eventQuery"];
        let result = &q["result"];
        if result.is_object() {
            let rows = result["rows"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let total = result["progress"]["totalRows"].as_u64();
            self.total_known |= total.is_some();
            self.events = self.events.max(total.unwrap_or(rows.len() as u64));
            self.at_least |= result["progress"]["totalRowsIsLowerBound"] == true;
            let newest = rows
                .iter()
                .filter_map(|r| r["event_time_usec"].as_i64())
                .max();
            self.newest_usec = self.newest_usec.max(newest);
        }
        let status = q["query"]["status"].as_str().unwrap_or_default();
        match status {
            "FAILED" | "CANCELED" => {
                let reasons: Vec<&str> = q["query"]["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r["reason"].as_str())
                    .collect();
                let reason = match reasons.is_empty() {
                    true => format!("the query ended {status} without a reason"),
                    false => reasons.join("; "),
                };
                Ok(Some(Answer::Failed { reason }))
            }
            "SUCCEEDED" | "COMPLETED" if result.is_null() => Ok(Some(self.end())),
            _ => Ok(None),
        }
    }

    /// The subscription ended: what was counted.
    fn end(&self) -> Answer {
        Answer::Found {
            events: self.events,
            at_least: self.at_least || (self.events >= u64::from(PAGE_SIZE) && !self.total_known),
            newest_usec: self.newest_usec,
        }
    }

    /// An error message of the API: the tenant refused, when one was given and the API says
    /// it is forbidden; else as the API said it.
    fn refusal(&self, message: &str, s: &Search) -> XdrError {
        match &s.tenant {
            Some(t) if message.to_ascii_lowercase().contains("tenant") => XdrError::TenantRefused {
                tenant: t.clone(),
                reason: message.to_string(),
            },
            _ => unexpected(s, message.to_string()),
        }
    }
}

fn message_of(v: Option<&Value>) -> String {
    v.and_then(|p| p.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("an error without a message")
        .to_string()
}
