//! The `/_emulator/` admin endpoints: request log, state, faults, latency, devices, tokens,
//! console mappings, data-plane faults, clock, drift, IP echo.

use crate::console::{self, ConsoleMapping};
use crate::dataplane::{LinkAction, LinkTarget};
use crate::errors::{ApiError, ApiResult};
use crate::faults::{FaultSet, LatencyConfig};
use crate::state::{AppState, DeviceInfo, RequestRecord};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use napsh_core::soracom::PortMapping;
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// The admin router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route("/_emulator/state", get(state_view))
        .route(
            "/_emulator/faults",
            put(set_faults).get(get_faults).delete(clear_faults),
        )
        .route(
            "/_emulator/latency",
            put(set_latency).get(get_latency).delete(clear_latency),
        )
        .route("/_emulator/devices/{sim_id}", post(update_device))
        .route("/_emulator/devices/{sim_id}/link", post(device_link))
        .route("/_emulator/mappings/{ip}/{port}/link", post(mapping_link))
        .route("/_emulator/tokens/expire", post(expire_tokens))
        .route("/_emulator/mappings", post(console_create))
        .route("/_emulator/mappings/{ip}/{port}", delete(console_delete))
        .route(
            "/_emulator/mappings/{ip}/{port}/expire",
            post(expire_mapping),
        )
        .route("/_emulator/clock", put(set_clock))
        .route("/_emulator/drift", put(set_drift))
        .route("/_emulator/napter/next_port", put(set_next_port))
        .route("/_emulator/ip", get(caller_ip))
        .with_state(state)
}

async fn requests(State(state): State<AppState>) -> Json<Vec<RequestRecord>> {
    Json(state.lock().requests.clone())
}

async fn clear_requests(State(state): State<AppState>) -> StatusCode {
    state.lock().requests.clear();
    StatusCode::NO_CONTENT
}

async fn state_view(State(state): State<AppState>) -> Json<Value> {
    let devices = state.device_infos();
    let mappings = state.mapping_wires();
    let tokens = state.lock().tokens.len();
    Json(
        json!({ "mappings": mappings, "devices": devices, "tokens": tokens,
                 "clock_offset_ms": state.clock_offset_ms(), "drift": state.drift() }),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("SBX0001", format!("Invalid admin request: {e}")))
}

/// Parses an admin body that sets something and applies it: 204.
fn setting<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    apply: impl FnOnce(T),
) -> ApiResult<StatusCode> {
    apply(parse(body)?);
    Ok(StatusCode::NO_CONTENT)
}

async fn set_faults(State(state): State<AppState>, body: Bytes) -> ApiResult<StatusCode> {
    setting(&body, |set: FaultSet| state.lock().faults = set.rules)
}

async fn get_faults(State(state): State<AppState>) -> Json<FaultSet> {
    Json(FaultSet {
        rules: state.lock().faults.clone(),
    })
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.lock().faults.clear();
    StatusCode::NO_CONTENT
}

async fn set_latency(State(state): State<AppState>, body: Bytes) -> ApiResult<StatusCode> {
    setting(&body, |latency: LatencyConfig| {
        state.lock().latency = latency
    })
}

async fn get_latency(State(state): State<AppState>) -> Json<LatencyConfig> {
    Json(state.lock().latency.clone())
}

async fn clear_latency(State(state): State<AppState>) -> StatusCode {
    state.lock().latency = LatencyConfig::default();
    StatusCode::NO_CONTENT
}

/// Body of `POST /_emulator/devices/{sim_id}`.
#[derive(Debug, Deserialize)]
struct DeviceUpdate {
    /// New session status.
    #[serde(default)]
    online: Option<bool>,
    /// Regenerate the spawned sshd's host key (restart on the same port).
    #[serde(default)]
    rotate_host_key: bool,
}

async fn update_device(
    State(state): State<AppState>,
    Path(sim_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<DeviceInfo>> {
    let update: DeviceUpdate = parse(&body)?;
    let unknown = || ApiError::not_found("SBX0004", format!("No such device: {sim_id}"));
    if let Some(online) = update.online {
        if !state.set_online(&sim_id, online) {
            return Err(unknown());
        }
    }
    if update.rotate_host_key {
        crate::emulator::rotate_host_key(&state, &sim_id)
            .await
            .map_err(|e| ApiError::bad_request("SBX0002", format!("{e:#}")))?;
    }
    let info = state.lock().devices.get(&sim_id).map(|d| d.info());
    info.map(Json).ok_or_else(unknown)
}

async fn device_link(
    State(state): State<AppState>,
    Path(sim_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    if !state.lock().devices.contains_key(&sim_id) {
        return Err(ApiError::not_found(
            "SBX0004",
            format!("No such device: {sim_id}"),
        ));
    }
    link(&state, LinkTarget::device(&sim_id), &body)
}

async fn mapping_link(
    State(state): State<AppState>,
    Path((ip, port)): Path<(String, u16)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let key = (ip.clone(), port);
    if !state.lock().mappings.contains_key(&key) {
        return no_content_or_unknown(false, &ip, port).map(|_| Json(Value::Null));
    }
    link(&state, LinkTarget::mapping(&ip, port), &body)
}

/// Applies the `LinkAction` in `body` to `target`: `{"connections": live connections reached}`.
fn link(state: &AppState, target: LinkTarget, body: &[u8]) -> ApiResult<Json<Value>> {
    let action: LinkAction = parse(body)?;
    let reached = crate::dataplane::apply(state, &target, &action);
    Ok(Json(json!({ "connections": reached })))
}

async fn expire_tokens(State(state): State<AppState>) -> StatusCode {
    for t in state.lock().tokens.values_mut() {
        t.expires_at_ms = 0;
    }
    StatusCode::NO_CONTENT
}

async fn expire_mapping(
    State(state): State<AppState>,
    Path((ip, port)): Path<(String, u16)>,
) -> ApiResult<StatusCode> {
    no_content_or_unknown(crate::napter::expire_now(&state, &ip, port), &ip, port)
}

async fn console_create(
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<PortMapping>)> {
    let mapping: ConsoleMapping = parse(&body)?;
    let wire = console::create(&state, &mapping).await?;
    Ok((StatusCode::CREATED, Json(wire)))
}

async fn console_delete(
    State(state): State<AppState>,
    Path((ip, port)): Path<(String, u16)>,
) -> ApiResult<StatusCode> {
    no_content_or_unknown(console::delete(&state, &ip, port), &ip, port)
}

fn no_content_or_unknown(found: bool, ip: &str, port: u16) -> ApiResult<StatusCode> {
    found
        .then_some(StatusCode::NO_CONTENT)
        .ok_or_else(|| ApiError::not_found("SBX0005", format!("No such mapping: {ip}:{port}")))
}

/// Body of `PUT /_emulator/clock`.
#[derive(Debug, Deserialize)]
struct Clock {
    /// How far the emulator's clock runs ahead of the machine's, in ms (negative = behind).
    offset_ms: i64,
}

async fn set_clock(State(state): State<AppState>, body: Bytes) -> ApiResult<StatusCode> {
    setting(&body, |clock: Clock| {
        state.set_clock_offset_ms(clock.offset_ms)
    })
}

/// Body of `PUT /_emulator/drift`.
#[derive(Debug, Deserialize)]
struct Drift {
    /// Whether answers drift.
    enabled: bool,
}

async fn set_drift(State(state): State<AppState>, body: Bytes) -> ApiResult<StatusCode> {
    setting(&body, |drift: Drift| state.set_drift(drift.enabled))
}

/// Body of `PUT /_emulator/napter/next_port`.
#[derive(Debug, Deserialize)]
struct NextPort {
    /// Port the next mapping listens on.
    port: u16,
}

async fn set_next_port(State(state): State<AppState>, body: Bytes) -> ApiResult<StatusCode> {
    setting(&body, |next: NextPort| {
        state.lock().next_napter_port = Some(next.port);
    })
}

async fn caller_ip(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    peer.ip().to_string()
}
