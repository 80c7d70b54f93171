//! The `/v1` Soracom API: routing, auth check, request log and rate-limit header layers.

pub mod audit;
pub mod auth;
pub mod port_mappings;
pub mod sims;
pub mod users;

use crate::errors::{ApiError, ApiResult};
use crate::faults::{self, DropConnectionMarker};
use crate::state::{now_ms, AppState, RequestRecord};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use napsh_core::soracom::headers;
use serde::de::DeserializeOwned;

/// Query parameters as (name, value) pairs, repeated names kept.
pub type Params = Vec<(String, String)>;

/// The first value of query parameter `name`.
pub fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Parses a JSON request body, answering 400 with a Soracom error body on failure.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("COM0002", format!("Invalid request body: {e}")))
}

/// The caller behind a valid token (request extension set by [`require_token`]).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Index of the fleet credential used to authenticate (`None`: a SAM user's key).
    pub credential: Option<usize>,
    /// The SAM user behind the token, with the permission it carries.
    pub sam: Option<crate::sam::SamIdentity>,
    /// The token presented.
    pub token: String,
}

/// The SAM operation id (`Service:operation`) of a /v1 call, for deny lists and 403 messages.
pub fn operation_for(method: &str, path: &str) -> Option<&'static str> {
    classify(method, path).map(|(op, _)| op)
}

/// The SAM operation id of a /v1 call and its path variables (percent-decoded), as a SAM
/// condition `pathVariable('sim_id') == '…'` sees them.
pub fn classify(method: &str, path: &str) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    let segs: Vec<String> = path
        .trim_end_matches('/')
        .split('/')
        .skip(2)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (op, vars): (&str, &[(&str, usize)]) = match (method, segs.as_slice()) {
        ("POST", ["auth"]) => ("Auth:auth", &[]),
        ("POST", ["auth", "logout"]) => ("Auth:logout", &[]),
        ("GET", ["sims"]) => ("Sim:listSims", &[]),
        ("GET", ["sims", _]) => ("Sim:getSim", &[("sim_id", 1)]),
        ("GET", ["query", "sims"]) => ("Sim:searchSims", &[]),
        ("GET", ["port_mappings"]) => ("PortMapping:listPortMappings", &[]),
        ("POST", ["port_mappings"]) => ("PortMapping:createPortMapping", &[]),
        ("GET", ["port_mappings", "sims", _]) => {
            ("PortMapping:listPortMappingsForSim", &[("sim_id", 2)])
        }
        ("POST", ["port_mappings", "sims", _]) => {
            ("PortMapping:createPortMappingForSim", &[("sim_id", 2)])
        }
        ("GET", ["port_mappings", "subscribers", _]) => {
            ("PortMapping:listPortMappingsForSubscriber", &[("imsi", 2)])
        }
        ("DELETE", ["port_mappings", _, _]) => (
            "PortMapping:deletePortMapping",
            &[("ip_address", 1), ("port", 2)],
        ),
        ("GET", ["audit_logs", "napter"]) => ("AuditLog:getNapterAuditLogs", &[]),
        (m, ["operators", _, "users", rest @ ..]) => (user_operation(m, rest)?, USER_VARS),
        _ => return None,
    };
    let vars = vars
        .iter()
        .filter_map(|(n, i)| Some((*n, segs.get(*i)?.to_string())))
        .collect();
    Some((op, vars))
}

/// Path variables of the SAM user operations: `/operators/{operator_id}/users/{user_name}/
/// auth_keys/{auth_key_id}`.
const USER_VARS: &[(&str, usize)] = &[("operator_id", 1), ("user_name", 3), ("auth_key_id", 5)];

/// The `User:` operation of `/operators/{id}/users/…`.
fn user_operation(method: &str, rest: &[&str]) -> Option<&'static str> {
    Some(match (method, rest) {
        ("GET", []) => "User:listUsers",
        ("GET", [_]) => "User:getUser",
        ("POST", [_]) => "User:createUser",
        ("PUT", [_]) => "User:updateUser",
        ("DELETE", [_]) => "User:deleteUser",
        ("GET", [_, "auth_keys"]) => "User:listUserAuthKeys",
        ("POST", [_, "auth_keys"]) => "User:generateUserAuthKey",
        ("DELETE", [_, "auth_keys", _]) => "User:deleteUserAuthKey",
        ("GET", [_, "permission"]) => "User:getUserPermission",
        ("PUT", [_, "permission"]) => "User:updateUserPermission",
        ("DELETE", [_, "permission"]) => "User:deleteUserPermission",
        ("DELETE", [_, "tokens"]) => "User:revokeUserAuthTokens",
        _ => return None,
    })
}

/// The `/v1` router with its layers (outermost first: request log, rate-limit headers,
/// faults/latency, drift, then the token check on everything but `/v1/auth`).
pub fn router(state: AppState) -> Router {
    let authed = Router::new()
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/sims", get(sims::list))
        .route("/v1/sims/{sim_id}", get(sims::get_one))
        .route("/v1/query/sims", get(sims::search))
        .route(
            "/v1/port_mappings",
            get(port_mappings::list).post(port_mappings::create),
        )
        .route(
            "/v1/port_mappings/sims/{sim_id}",
            get(port_mappings::list_for_sim).post(port_mappings::create_for_sim),
        )
        .route(
            "/v1/port_mappings/subscribers/{imsi}",
            get(port_mappings::list_for_subscriber),
        )
        .route(
            "/v1/port_mappings/{ip_address}/{port}",
            delete(port_mappings::delete),
        )
        .route("/v1/audit_logs/napter", get(audit::list))
        .merge(user_routes())
        .route_layer(from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/v1/auth", post(auth::auth))
        .merge(authed)
        .layer(from_fn_with_state(state.clone(), crate::drift::perturb))
        .layer(from_fn_with_state(state.clone(), faults::inject))
        .layer(from_fn_with_state(state.clone(), rate_limit_headers))
        .layer(from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// The SAM user operations (`api::users`).
fn user_routes() -> Router<AppState> {
    const USER: &str = "/v1/operators/{operator_id}/users/{user_name}";
    Router::new()
        .route("/v1/operators/{operator_id}/users", get(users::list))
        .route(
            USER,
            get(users::get)
                .post(users::create)
                .put(users::update)
                .delete(users::delete),
        )
        .route(
            &format!("{USER}/auth_keys"),
            get(users::list_keys).post(users::generate_key),
        )
        .route(
            &format!("{USER}/auth_keys/{{auth_key_id}}"),
            delete(users::delete_key),
        )
        .route(
            &format!("{USER}/permission"),
            get(users::get_permission)
                .put(users::set_permission)
                .delete(users::delete_permission),
        )
        .route(&format!("{USER}/tokens"), delete(users::revoke_tokens))
}

/// Records every /v1 request (faulted ones too) in the request log, including one whose
/// client went away before the answer (status 0).
async fn log_request(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (req, body) = buffer_body(req).await;
    let mut entry = LogEntry {
        state: state.clone(),
        record: Some(RequestRecord {
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or("").to_string(),
            status: 0,
            at_ms: state.clock_ms(),
            body,
        }),
    };
    let resp = next.run(req).await;
    let dropped = resp.extensions().get::<DropConnectionMarker>().is_some();
    if let Some(record) = entry.record.as_mut() {
        record.status = if dropped { 0 } else { resp.status().as_u16() };
        tracing::debug!(method = %record.method, path = %record.path, status = record.status, "request");
    }
    drop(entry);
    resp
}

/// The request with its body read into memory, and that body as text for the log (empty for
/// `/v1/auth`). A body that cannot be read (over 1 MiB, client gone) is passed on empty.
async fn buffer_body(req: Request) -> (Request, String) {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let text = if parts.uri.path() == "/v1/auth" {
        String::new()
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        text,
    )
}

/// A request-log record, pushed when dropped: after the answer, or when the client went away
/// and the handler was cancelled (then with status 0).
struct LogEntry {
    /// Where the log lives.
    state: AppState,
    /// The record (taken when pushed).
    record: Option<RequestRecord>,
}

impl Drop for LogEntry {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            self.state.lock().requests.push(record);
        }
    }
}

/// Sets the HTTP `Date` header (RFC 7231 IMF-fixdate) from the emulator's clock, replacing
/// the one hyper would add from the machine's clock. Applied to every answer, admin too.
pub async fn date_header(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let date = httpdate::fmt_http_date(state.clock_time());
    if let Ok(v) = HeaderValue::from_str(&date) {
        resp.headers_mut().insert(axum::http::header::DATE, v);
    }
    resp
}

/// Adds `X-Soracom-Ratelimit-*` headers (unless a fault already set them).
async fn rate_limit_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (limit, remaining, secs) = state.count_rate(req.uri().path());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !h.contains_key(headers::RATELIMIT_LIMIT) {
        h.insert(headers::RATELIMIT_LIMIT, HeaderValue::from(limit));
        h.insert(headers::RATELIMIT_REMAINING, HeaderValue::from(remaining));
        h.insert(headers::RATELIMIT_REFRESH, HeaderValue::from(secs));
    }
    resp
}

/// Requires a live `X-Soracom-API-Key` + `X-Soracom-Token` pair and the caller's permission
/// for the operation: a fleet credential's deny list, or a SAM user's permission document
/// (deny wins; nothing is allowed unless a statement allows it). The one place every route
/// is checked.
async fn require_token(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let caller = match check_token(&state, &req) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = permitted(&state, &caller, req.method().as_str(), req.uri().path()) {
        return e.into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// 403 naming the operation when `caller` may not call `method path`.
fn permitted(state: &AppState, caller: &Caller, method: &str, path: &str) -> ApiResult<()> {
    let (op, vars) = classify(method, path).unwrap_or(("Unknown:unknown", Vec::new()));
    if op == "Auth:logout" {
        return Ok(());
    }
    let allowed = match (&caller.sam, caller.credential) {
        (Some(sam), _) => {
            let vars: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
            sam.policy.decide(op, &vars) == napsh_core::sam::Decision::Allowed
        }
        (None, Some(i)) => !state
            .credentials
            .get(i)
            .is_some_and(|c| c.deny.iter().any(|d| d == op || d == "*")),
        (None, None) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::permission_denied(op))
    }
}

fn check_token(state: &AppState, req: &Request) -> ApiResult<Caller> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (Some(api_key), Some(token)) = (header(headers::API_KEY), header(headers::TOKEN)) else {
        return Err(ApiError::invalid_token());
    };
    let inner = state.lock();
    let t = inner
        .tokens
        .get(&token)
        .filter(|t| t.api_key == api_key)
        .ok_or_else(ApiError::invalid_token)?;
    if t.revoked || t.expires_at_ms <= now_ms() {
        return Err(ApiError::expired_token());
    }
    Ok(Caller {
        credential: t.credential,
        sam: t.sam.clone(),
        token,
    })
}
