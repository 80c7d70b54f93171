//! Fault and latency injection for /v1 calls: rules matched by method + path glob.

use crate::api::operation_for;
use crate::errors::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use napsh_core::soracom::headers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// What to do instead of (or before) answering normally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status (e.g. 500, 503) with an error body.
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// 429 with rate-limit headers (Remaining 0).
    RateLimit {
        /// Value of `X-Soracom-Ratelimit-Seconds-Before-Refresh`.
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    /// 200 with a body that is not valid JSON.
    MalformedJson,
    /// A Content-Length larger than the bytes sent, then the connection closes.
    TruncatedBody,
    /// Close the connection without any response.
    DropConnection,
    /// Sleep, then answer normally.
    Delay {
        /// How long to sleep.
        ms: u64,
    },
    /// 401 as if the token expired (the presented token really is expired afterwards).
    ExpireToken,
    /// 403 naming the operation's permission.
    PermissionDenied,
    /// Answer normally, but with invalid UTF-8 bytes (`FF FE`) spliced into every `name`
    /// value of the body (hostile-input tests: raw bytes from the API).
    InvalidUtf8,
    /// Answer normally (the operation runs), with these top-level fields of the JSON answer
    /// replaced: a hostile or broken answer to a request that did happen, e.g. a create
    /// answered with `{"port":0}` or another device port.
    Override {
        /// Top-level fields to set (an object; `destination.port` style paths are not
        /// supported: give the whole `destination`).
        fields: serde_json::Map<String, serde_json::Value>,
    },
}

fn one() -> u64 {
    1
}

/// One fault rule of `PUT /_emulator/faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRule {
    /// HTTP method to match; absent or `*` = any.
    #[serde(default)]
    pub method: Option<String>,
    /// Path glob: `*` matches one segment, a final `**` matches the rest.
    pub path: String,
    /// What to do.
    pub fault: Fault,
    /// How many more requests to fault; absent = forever.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fault after the operation: the handler runs (a mapping IS created, deleted…), then its
    /// answer is replaced by the fault ("it succeeded server-side, the client saw a failure").
    /// `false` (the default): the fault answers instead of the handler.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after: bool,
}

impl FaultRule {
    /// A rule for `method` (`*` = any) and path glob, `times` (`None` = every matching request),
    /// faulting before the operation.
    pub fn new(method: &str, path: &str, fault: Fault, times: Option<u32>) -> Self {
        FaultRule {
            method: Some(method.to_string()),
            path: path.to_string(),
            fault,
            times,
            after: false,
        }
    }

    /// This rule, faulting after the operation ran (see [`FaultRule::after`]).
    pub fn after(mut self) -> Self {
        self.after = true;
        self
    }
}

/// Body of `PUT /_emulator/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FaultSet {
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// Body of `PUT /_emulator/latency`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyConfig {
    /// Added to every /v1 call without a per-path entry.
    #[serde(default)]
    pub default_ms: u64,
    /// Path (or path glob) → latency.
    #[serde(default)]
    pub per_path: BTreeMap<String, u64>,
}

impl LatencyConfig {
    /// Latency for `path`: an exact entry, else a glob entry, else the default.
    pub fn for_path(&self, path: &str) -> u64 {
        if let Some(ms) = self.per_path.get(path) {
            return *ms;
        }
        self.per_path
            .iter()
            .find(|(glob, _)| path_matches(glob, path))
            .map_or(self.default_ms, |(_, ms)| *ms)
    }
}

/// Whether `path` matches `glob` (`*` = one segment, trailing `**` = any rest).
pub fn path_matches(glob: &str, path: &str) -> bool {
    let mut g = glob.trim_end_matches('/').split('/');
    let mut p = path.trim_end_matches('/').split('/');
    loop {
        match (g.next(), p.next()) {
            (Some("**"), _) => return true,
            (None, None) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

impl FaultRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = match self.method.as_deref() {
            None | Some("*") => true,
            Some(m) => m.eq_ignore_ascii_case(method),
        };
        method_ok && self.times != Some(0) && path_matches(&self.path, path)
    }
}

/// Takes the first matching rule (consuming one of its `times`): its fault and `after`.
fn take_fault(state: &AppState, method: &str, path: &str) -> Option<(Fault, bool)> {
    let mut inner = state.lock();
    let rule = inner.faults.iter_mut().find(|r| r.matches(method, path))?;
    if let Some(t) = rule.times.as_mut() {
        *t -= 1;
    }
    Some((rule.fault.clone(), rule.after))
}

/// The operation's answer: still to be produced (a fault before the operation), or already
/// produced (a fault after it).
enum Answer {
    /// The handler has not run; running it is up to the fault.
    Pending(Request, Next),
    /// The handler ran and answered this.
    Ready(Response),
}

impl Answer {
    /// The operation's normal answer (running the handler if it has not run).
    async fn normal(self) -> Response {
        match self {
            Answer::Pending(req, next) => next.run(req).await,
            Answer::Ready(resp) => resp,
        }
    }
}

/// What a fault needs to know about the request besides its answer.
struct Faulted {
    /// SAM operation id (403 messages).
    op: &'static str,
    /// The token presented, if any (`expire_token`).
    token: Option<String>,
}

/// Marker on a response telling the server to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnectionMarker;

/// Middleware: injected latency, then the first matching fault (if any): instead of the
/// operation, or after it (`after` rules).
pub async fn inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    let latency = state.lock().latency.for_path(&path);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let Some((fault, after)) = take_fault(&state, &method, &path) else {
        return next.run(req).await;
    };
    tracing::info!(?fault, after, %method, %path, "injecting fault");
    let faulted = Faulted {
        op: operation_for(&method, &path).unwrap_or("Unknown"),
        token: req
            .headers()
            .get(headers::TOKEN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    let answer = if after {
        Answer::Ready(next.run(req).await)
    } else {
        Answer::Pending(req, next)
    };
    apply(fault, &state, faulted, answer).await
}

async fn apply(fault: Fault, state: &AppState, faulted: Faulted, answer: Answer) -> Response {
    match fault {
        Fault::Status { status } => status_response(status),
        Fault::RateLimit { retry_after_secs } => rate_limited(retry_after_secs),
        Fault::MalformedJson => malformed_json(),
        Fault::TruncatedBody => truncated_body(),
        Fault::DropConnection => {
            let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            resp.extensions_mut().insert(DropConnectionMarker);
            resp
        }
        Fault::Delay { ms } => {
            // before: the operation runs after the sleep; after: its answer waits
            tokio::time::sleep(Duration::from_millis(ms)).await;
            answer.normal().await
        }
        Fault::ExpireToken => {
            expire_token(state, faulted.token.as_deref());
            ApiError::expired_token().into_response()
        }
        Fault::PermissionDenied => ApiError::permission_denied(faulted.op).into_response(),
        Fault::InvalidUtf8 => invalid_utf8(answer.normal().await).await,
        Fault::Override { fields } => overridden(answer.normal().await, fields).await,
    }
}

/// `resp` with `fields` set on its JSON object (other bodies pass unchanged).
async fn overridden(
    resp: Response,
    fields: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let out = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.extend(fields);
            serde_json::to_vec(&map).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// `resp` with `FF FE` inserted at the start of every `"name":"…"` value.
async fn invalid_utf8(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let marker = br#""name":""#;
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut rest: &[u8] = &bytes;
    while let Some(at) = rest.windows(marker.len()).position(|w| w == marker) {
        out.extend_from_slice(&rest[..at + marker.len()]);
        out.extend_from_slice(&[0xff, 0xfe]);
        rest = &rest[at + marker.len()..];
    }
    out.extend_from_slice(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

fn status_response(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = status.canonical_reason().unwrap_or("Injected fault");
    ApiError::new(status, "COM0001", format!("{message} (injected)")).into_response()
}

fn rate_limited(secs: u64) -> Response {
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "COM0008",
        "Rate limit exceeded. Please retry later.",
    )
    .into_response();
    let h = resp.headers_mut();
    h.insert(
        headers::RATELIMIT_LIMIT,
        HeaderValue::from(crate::state::RATE_LIMIT_PER_MINUTE),
    );
    h.insert(headers::RATELIMIT_REMAINING, HeaderValue::from(0u64));
    h.insert(headers::RATELIMIT_REFRESH, HeaderValue::from(secs));
    resp
}

fn malformed_json() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"[{"simId":"8942310000000000001","tags":{"name":"#,
        ))
        .unwrap_or_default()
}

fn truncated_body() -> Response {
    use futures_util::StreamExt;
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
        b"[{\"simId\":\"89423100",
    ))]);
    // Let hyper flush the head and first bytes before the body fails and the connection
    // is closed short of the announced Content-Length.
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::other("injected truncation"))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, "4096")
        .body(Body::from_stream(head.chain(cut)))
        .unwrap_or_default()
}

fn expire_token(state: &AppState, token: Option<&str>) {
    let Some(token) = token else {
        return;
    };
    if let Some(t) = state.lock().tokens.get_mut(token) {
        t.expires_at_ms = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_one_segment_per_star() {
        assert!(path_matches(
            "/v1/port_mappings/sims/*",
            "/v1/port_mappings/sims/123"
        ));
        assert!(!path_matches(
            "/v1/port_mappings/sims/*",
            "/v1/port_mappings/sims"
        ));
        assert!(!path_matches("/v1/*", "/v1/sims/1"));
        assert!(path_matches("/v1/**", "/v1/sims/1"));
        assert!(path_matches("/v1/sims", "/v1/sims"));
    }

    #[test]
    fn fault_json_shape() {
        let r: FaultRule = serde_json::from_str(
            r#"{"method":"POST","path":"/v1/auth","fault":{"kind":"status","status":503},"times":1}"#,
        )
        .unwrap();
        assert_eq!(r.fault, Fault::Status { status: 503 });
        let f: Fault =
            serde_json::from_str(r#"{"kind":"rate_limit","retry_after_secs":2}"#).unwrap();
        assert_eq!(
            f,
            Fault::RateLimit {
                retry_after_secs: 2
            }
        );
    }
}
