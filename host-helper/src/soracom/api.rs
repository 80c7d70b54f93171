//! The Soracom API client: authentication (with the token cache), headers, pagination,
//! bounded retries (429 honouring the rate-limit header; 5xx and connection errors for
//! idempotent calls only), timeouts, and errors mapped to [`ErrorKind`]s. What the API sends
//! is bounded ([`Limits`]: body size, pages, entries) and read tolerantly
//! (`napsh_core::soracom::answer`): a needed field is named when missing, a list skips only
//! its broken entries.
//!
//! Secrets (auth key, password, API key, token) are never logged.

use crate::error::NapshError;
use crate::soracom::auth::{Session, TokenCache, TOKEN_TIMEOUT_SECS};
use crate::soracom::profile::Profile;
use crate::state::paths::{mono_ms, now_ms};
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::{bytes_for_terminal, for_terminal_truncated};
use napsh_core::server_clock::ServerClock;
use napsh_core::soracom::answer::{parse_answer, parse_items, DriftNotes, Items};
use napsh_core::soracom::{headers, ApiErrorBody, AuthResponse};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

/// The page size napsh asks list endpoints for (`limit`).
const PAGE_LIMIT: &str = "100";
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tracing::Instrument;

/// How hard the client tries before giving up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries per request, in total (429, 5xx, connection errors).
    pub max_attempts: u32,
    /// Longest napsh waits on a 429; a longer wait asked for fails at once.
    pub max_rate_limit_wait: Duration,
    /// Pause before retrying a 5xx / connection error (doubled each time).
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_rate_limit_wait: Duration::from_secs(10),
            backoff: Duration::from_millis(500),
        }
    }
}

/// A raw answer: status, headers, body bytes.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Vec<u8>,
}

/// Bounds on what one answer or one listing may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest response body napsh reads, in bytes.
    pub max_body: usize,
    /// Most pages one listing follows.
    pub max_pages: usize,
    /// Most entries one listing gathers.
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 32 << 20,
            max_pages: 10_000,
            max_items: 1_000_000,
        }
    }
}

/// An authenticated Soracom API client for one profile.
pub struct Client {
    /// The HTTP client (rustls, timeouts).
    http: reqwest::Client,
    /// `<endpoint>/v1`.
    base: String,
    /// The profile (credentials, extra headers).
    profile: Profile,
    /// Where the session is cached.
    cache: TokenCache,
    /// The session in use (shared by concurrent requests).
    session: Mutex<Option<Session>>,
    /// Retry behaviour.
    policy: RetryPolicy,
    /// Size and paging bounds.
    limits: Limits,
    /// The server's clock, from the `Date` header of the latest answer that had one.
    clock: std::sync::Mutex<Option<ServerClock>>,
}

/// What went wrong on one attempt, before deciding whether to retry.
enum Attempt {
    /// A complete answer (any status).
    Answered(Answer),
    /// A transport failure.
    Failed(reqwest::Error),
    /// The body is larger than [`Limits::max_body`]: not read (on).
    Oversized {
        /// The length the answer declared, when it declared one.
        declared: Option<u64>,
        /// The limit.
        limit: usize,
    },
}

impl Client {
    /// A client for `profile` with `timeout` per request.
    pub fn new(profile: Profile, cache: TokenCache, timeout: Duration) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("napsh/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                NapshError::new(
                    ErrorKind::Internal,
                    format!("building the HTTP client: {e}"),
                )
            })?;
        let base = format!("{}/v1", profile.endpoint);
        reqwest::Url::parse(&base).map_err(|e| {
            NapshError::config(format!(
                "the API endpoint \"{}\" of profile {} is not a URL: {e}",
                profile.endpoint, profile.name
            ))
            .hint("fix `endpoint` in the profile or SORACOM_ENDPOINT")
        })?;
        Ok(Client {
            http,
            base,
            profile,
            cache,
            session: Mutex::new(None),
            policy: RetryPolicy::default(),
            limits: Limits::default(),
            clock: std::sync::Mutex::new(None),
        })
    }

    /// Replaces the retry policy.
    #[cfg(test)]
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Replaces the size and paging bounds.
    #[cfg(test)]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The server's clock as last read from a `Date` header; `None` before any answer had one.
    pub fn server_clock(&self) -> Option<ServerClock> {
        *self.clock.lock().expect("clock lock")
    }

    /// Anchors the server's clock to a time it stated at monotonic reading `mono_ms` (a
    /// `Date` header, or a fresh mapping's `createdTime` when no `Date` was seen).
    pub fn note_server_time(&self, server_ms: i64, mono_ms: u64) {
        let fresh = ServerClock::anchor(server_ms, mono_ms);
        let mut clock = self.clock.lock().expect("clock lock");
        *clock = Some(clock.map_or(fresh, |c| c.fresher(fresh)));
    }

    /// The server's time now: its clock when known, else (logged) the local clock.
    pub fn server_now_ms(&self) -> i64 {
        match self.server_clock() {
            Some(c) => c.now(mono_ms()),
            None => {
                tracing::debug!("no server time known yet: using the local clock");
                now_ms()
            }
        }
    }

    /// Makes sure a session exists (cached or new); returns its operator id.
    pub async fn ensure_session(&self) -> Result<String> {
        Ok(self.session(None).await?.operator_id)
    }

    /// GET `path` and parse the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        let answer = self.request(Method::GET, path, query, None).await?;
        parse(&Method::GET, path, &answer.body)
    }

    /// GET every page of a list (following `x-soracom-next-key`), within [`Limits`]: a page
    /// key seen before, too many pages or entries end it with an error. Entries napsh cannot
    /// use are skipped, with one warning for the whole list.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>> {
        let what = format!("{} /v1{path}", Method::GET);
        let mut pager = crate::soracom::paging::Pager::new(what.clone(), self.limits);
        let mut out = Vec::new();
        loop {
            // Soracom's largest page (its default is not documented): fewest round trips.
            let mut query = vec![("limit", PAGE_LIMIT)];
            query.extend(pager.next_key().map(|k| ("last_evaluated_key", k)));
            let answer = self.request(Method::GET, path, &query, None).await?;
            out.extend(
                pager
                    .take(read_items(&what, &answer.body)?)
                    .map_err(api_error)?,
            );
            tracing::debug!(items = out.len(), "page");
            let key = crate::soracom::paging::next_key(&answer.headers);
            if !pager.advance_to(key).map_err(api_error)? {
                break;
            }
        }
        if let Some(warning) = pager.skip_warning() {
            crate::output::warn(&warning);
        }
        Ok(out)
    }

    /// POST a JSON body (never retried after a 5xx or transport failure).
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        let body = serde_json::to_value(body)?;
        let answer = self.request(Method::POST, path, &[], Some(body)).await?;
        parse(&Method::POST, path, &answer.body)
    }

    /// DELETE `path`; `Ok(false)` when it was already gone (404).
    pub async fn delete(&self, path: &str) -> Result<bool> {
        match self.request(Method::DELETE, path, &[], None).await {
            Ok(_) => Ok(true),
            Err(e) if crate::error::kind_of(&e) == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One API call with auth, a single re-authentication on 401, and bounded retries.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> Result<Answer> {
        let span = tracing::info_span!("api", method = %method, path = %format!("/v1{path}"));
        async {
            crate::soracom::path::check(path).map_err(api_error)?;
            let mut session = self.session(None).await?;
            let mut reauthed = false;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let req = self
                    .http
                    .request(method.clone(), format!("{}{path}", self.base))
                    .query(query)
                    .header(headers::API_KEY, &session.api_key)
                    .header(headers::TOKEN, &session.token);
                let req = match &body {
                    Some(b) => req.json(b),
                    None => req,
                };
                match self.attempt(req).await {
                    Attempt::Answered(a) if a.status == StatusCode::UNAUTHORIZED && !reauthed => {
                        tracing::info!("401: signing in again once");
                        reauthed = true;
                        attempt -= 1;
                        session = self.session(Some(&session.token)).await?;
                    }
                    Attempt::Answered(a) if a.status.is_success() => return Ok(a),
                    outcome => {
                        let wait = self.retry_wait(&method, attempt, &outcome);
                        match wait {
                            Some(d) => {
                                tracing::info!(attempt, wait_ms = d.as_millis() as u64, "retrying");
                                tokio::time::sleep(d).await;
                            }
                            None => return Err(failure(&method, path, outcome, &self.policy)),
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends one HTTP request and reads its whole body.
    async fn attempt(&self, req: reqwest::RequestBuilder) -> Attempt {
        let req = self
            .profile
            .headers
            .iter()
            .fold(req, |r, (k, v)| r.header(k, v))
            .header("X-Soracom-Lang", "en");
        let started = Instant::now();
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(error = %e, "request failed");
                return Attempt::Failed(e);
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(server_ms) = date_of(&headers) {
            self.note_server_time(server_ms, mono_ms());
        }
        let body = match read_body(resp, self.limits.max_body).await {
            Ok(b) => b,
            Err(failed) => {
                tracing::info!(%status, "body failed");
                return failed;
            }
        };
        tracing::info!(
            status = status.as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "response"
        );
        Attempt::Answered(Answer {
            status,
            headers,
            body,
        })
    }

    /// How long to wait before retrying, or `None` to give up.
    fn retry_wait(&self, method: &Method, attempt: u32, outcome: &Attempt) -> Option<Duration> {
        if attempt >= self.policy.max_attempts {
            return None;
        }
        let idempotent = matches!(*method, Method::GET | Method::DELETE);
        let backoff = self.policy.backoff * 2u32.pow(attempt - 1);
        match outcome {
            Attempt::Answered(a) if a.status == StatusCode::TOO_MANY_REQUESTS => {
                let wait = rate_limit_wait(&a.headers);
                (wait <= self.policy.max_rate_limit_wait).then_some(wait)
            }
            Attempt::Answered(a) if a.status.is_server_error() && idempotent => Some(backoff),
            Attempt::Failed(e) if idempotent && !e.is_timeout() => Some(backoff),
            _ => None,
        }
    }

    /// The session to use: the current one, else the cached one, else a new one. With
    /// `stale`, the session with that token was refused: sign in again unless another
    /// request already did.
    async fn session(&self, stale: Option<&str>) -> Result<Session> {
        let mut guard = self.session.lock().await;
        if let Some(s) = guard.as_ref() {
            if stale != Some(s.token.as_str()) {
                return Ok(s.clone());
            }
        }
        if stale.is_none() {
            if let Some(s) = self.cache.load() {
                tracing::debug!("using the cached API token");
                *guard = Some(s.clone());
                return Ok(s);
            }
        } else {
            self.cache.clear();
        }
        let fresh = self.authenticate().await?;
        if let Err(e) = self.cache.store(&fresh) {
            crate::output::warn(&format!("could not cache the API token: {e:#}"));
        }
        *guard = Some(fresh.clone());
        Ok(fresh)
    }

    /// `POST /v1/auth` with the profile's credentials.
    async fn authenticate(&self) -> Result<Session> {
        let span = tracing::info_span!("api", method = "POST", path = "/v1/auth");
        async {
            let body = self.profile.credentials.auth_request(TOKEN_TIMEOUT_SECS);
            let mut attempt = 0;
            loop {
                attempt += 1;
                let req = self.http.post(format!("{}/auth", self.base)).json(&body);
                let outcome = self.attempt(req).await;
                match outcome {
                    Attempt::Answered(a) if a.status.is_success() => {
                        let auth = read_auth(&a.body)?;
                        tracing::info!(operator = %auth.operator_id, "signed in");
                        return Ok(Session {
                            api_key: auth.api_key,
                            token: auth.token,
                            operator_id: auth.operator_id,
                            expires_at_ms: now_ms() + TOKEN_TIMEOUT_SECS as i64 * 1000,
                        });
                    }
                    Attempt::Answered(a) if a.status == StatusCode::UNAUTHORIZED => {
                        let (code, message) = error_body(&a.body);
                        return Err(NapshError::new(
                            ErrorKind::AuthFailed,
                            format!(
                                "Soracom rejected the credentials ({}) of profile '{}' in {}: {message}",
                                self.profile.credentials.identity(),
                                self.profile.name,
                                self.profile.path.display()
                            ),
                        )
                        .hint("check the credentials in the profile (or that it targets the right endpoint/coverage)")
                        .code(code)
                        .into());
                    }
                    // Signing in twice is harmless: treat /auth as idempotent for retries.
                    outcome => match self.retry_wait(&Method::GET, attempt, &outcome) {
                        Some(d) => tokio::time::sleep(d).await,
                        None => return Err(failure(&Method::POST, "/auth", outcome, &self.policy)),
                    },
                }
            }
        }
        .instrument(span)
        .await
    }
}

/// The `Date` header (the server's clock, RFC 9110) as unix ms; `None` when absent or
/// unreadable (never "now").
fn date_of(h: &HeaderMap) -> Option<i64> {
    let text = h.get(reqwest::header::DATE)?.to_str().ok()?;
    let at = httpdate::parse_http_date(text.trim()).ok()?;
    let ms = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

/// Seconds the rate-limit header asks for (1 s when absent or unreadable).
fn rate_limit_wait(h: &HeaderMap) -> Duration {
    let secs = h
        .get(headers::RATELIMIT_REFRESH)
        .or_else(|| h.get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(1.0);
    Duration::from_secs_f64(secs.min(3600.0))
}

/// Parses a successful JSON body, or names what is wrong with it: malformed, or a field napsh
/// needs missing or unusable. Invalid UTF-8 (a tag written with raw bytes) is replaced with
/// U+FFFD rather than failing the whole list.
fn parse<T: DeserializeOwned>(method: &Method, path: &str, body: &[u8]) -> Result<T> {
    let what = format!("{method} /v1{path}");
    let (value, notes) = parse_answer(body).map_err(|e| api_error(e.describe(&what)))?;
    log_notes(&what, &notes);
    Ok(value)
}

/// One page of a list answer to `what` (`GET /v1/sims`), item by item: feed it to a
/// [`Pager`](super::paging::Pager), which skips and counts the entries napsh cannot use.
pub fn read_items<T: DeserializeOwned>(what: &str, body: &[u8]) -> Result<Items<T>> {
    let items = parse_items(body).map_err(|e| api_error(e.describe(what)))?;
    log_notes(what, &items.notes);
    Ok(items)
}

/// The debug log line for informational fields read as unknown.
fn log_notes(what: &str, notes: &DriftNotes) {
    for note in &notes.kept {
        tracing::debug!("{what}: an informational field {note}");
    }
    if notes.more > 0 {
        tracing::debug!(
            "{what}: {} more informational fields shown as unknown",
            notes.more
        );
    }
}

/// The session `POST /v1/auth` answered, every field of it present and non-empty.
fn read_auth(body: &[u8]) -> Result<AuthResponse> {
    let auth: AuthResponse = parse(&Method::POST, "/auth", body)?;
    for (field, value) in [
        ("apiKey", &auth.api_key),
        ("token", &auth.token),
        ("operatorId", &auth.operator_id),
    ] {
        if value.trim().is_empty() {
            return Err(api_error(format!(
                "Soracom's answer to POST /v1/auth has an empty `{field}`"
            )));
        }
    }
    Ok(auth)
}

/// Reads a body of at most `limit` bytes: a larger declared length is refused before reading,
/// and reading stops as soon as the bytes received pass the limit.
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Attempt> {
    let declared = resp.content_length();
    let too_large = |declared| Attempt::Oversized { declared, limit };
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(declared));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = resp.chunk().await.map_err(Attempt::Failed)? {
        if body.len() + chunk.len() > limit {
            return Err(too_large(None));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn api_error(why: String) -> anyhow::Error {
    NapshError::new(ErrorKind::Api, why)
        .hint("try again; if it persists, check https://status.soracom.io")
        .into()
}

/// `{"code","message"}` of an error body; plain text bodies become the message.
fn error_body(body: &[u8]) -> (Option<String>, String) {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(b) => (
            Some(b.code).filter(|c| !c.is_empty()),
            for_terminal_truncated(&b.message, 300),
        ),
        Err(_) => {
            let text = bytes_for_terminal(body);
            let text = if text.trim().is_empty() {
                "(no details)".to_string()
            } else {
                text
            };
            (None, for_terminal_truncated(text.trim(), 300))
        }
    }
}

/// What to do about a 403: for one device's SIM (a `napsh access` user reaches only the
/// devices granted to it), ask the fleet owner for that device; otherwise, for the permission.
fn permission_hint(path: &str) -> String {
    let per_sim = path.starts_with("/sims/") || path.starts_with("/port_mappings/sims/");
    if per_sim {
        "this profile has no permission for this device: ask the fleet owner to grant it to your SAM user \
         (`napsh access grant USER DEVICE`), or use another profile"
            .into()
    } else {
        "ask the fleet owner to grant the missing permission to your SAM user (its permission \
         policy), or use another profile"
            .into()
    }
}

/// The final error for an attempt that will not be retried.
fn failure(method: &Method, path: &str, outcome: Attempt, policy: &RetryPolicy) -> anyhow::Error {
    let what = format!("{method} /v1{path}");
    let answer = match outcome {
        Attempt::Failed(e) => return transport_error(&what, &e),
        Attempt::Oversized { declared, limit } => return oversized(&what, declared, limit),
        Attempt::Answered(a) => a,
    };
    let (code, message) = error_body(&answer.body);
    let status = answer.status;
    let err = match status.as_u16() {
        401 => NapshError::new(
            ErrorKind::AuthFailed,
            format!("Soracom refused the API token for {what} even after signing in again: {message}"),
        )
        .hint("check the profile's credentials"),
        403 => NapshError::new(
            ErrorKind::PermissionDenied,
            format!("Soracom denied {what}: {message}"),
        )
        .hint(permission_hint(path)),
        404 => NapshError::new(ErrorKind::NotFound, format!("{what}: not found: {message}"))
            .hint("the SIM or mapping is gone or belongs to another account: `napsh devices --refresh` shows what this profile sees"),
        429 => {
            let wait = rate_limit_wait(&answer.headers);
            NapshError::new(
                ErrorKind::RateLimited,
                format!("Soracom rate-limited {what} ({message})"),
            )
            .hint(format!(
                "wait {} s and try again (napsh waits at most {} s by itself)",
                wait.as_secs().max(1),
                policy.max_rate_limit_wait.as_secs()
            ))
        }
        _ => NapshError::new(
            ErrorKind::Api,
            format!("Soracom answered {what} with {status}: {message}"),
        )
        .hint(if status.is_server_error() {
            "try again later; check https://status.soracom.io"
        } else {
            "this looks like a napsh bug or an API change: run with -vv and report it"
        }),
    };
    err.code(code).into()
}

/// The answer to `what` is larger than napsh reads.
fn oversized(what: &str, declared: Option<u64>, limit: usize) -> anyhow::Error {
    let limit = if limit.is_multiple_of(1 << 20) {
        format!("{} MiB", limit >> 20)
    } else {
        format!("{limit} bytes")
    };
    api_error(match declared {
        Some(n) => format!(
            "Soracom's answer to {what} declares {n} bytes, past napsh's limit of {limit}: not read"
        ),
        None => format!(
            "Soracom's answer to {what} is larger than napsh's limit of {limit}: stopped reading"
        ),
    })
}

fn transport_error(what: &str, e: &reqwest::Error) -> anyhow::Error {
    let detail = error_chain(e);
    if e.is_timeout() {
        return NapshError::new(ErrorKind::Timeout, format!("{what} timed out: {detail}"))
            .hint("check your network, or raise request_timeout_secs in the napsh config")
            .into();
    }
    if e.is_body() || e.is_decode() {
        return api_error(format!(
            "Soracom's response to {what} was cut short: {detail}"
        ));
    }
    NapshError::new(
        ErrorKind::Network,
        format!("could not reach Soracom for {what}: {detail}"),
    )
    .hint("check your network connection and the profile's endpoint")
    .into()
}

/// A reqwest error with its sources (hyper's reason is in the source chain).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests;
