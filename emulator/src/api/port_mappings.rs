//! Napter port-mapping operations: create (IMSI and per-SIM forms), list, list per SIM /
//! subscriber, delete.

use crate::api::sims::no_such_sim;
use crate::api::{param, parse_json, Params};
use crate::errors::{ApiError, ApiResult};
use crate::napter::{self, MappingSpec};
use crate::pagination::{cut, page_size, paged_response};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ipnet::IpNet;
use napsh_core::soracom::{CreatePortMappingRequest, PortMapping};
use std::ops::Bound;

/// `duration` when the request has none (seconds).
const DEFAULT_DURATION: u64 = 3600;
/// Longest allowed `duration` (8 h).
const MAX_DURATION: u64 = 28_800;

/// `POST /v1/port_mappings` (IMSI form; a `destination.simId` switches to the SIM form).
pub async fn create(State(state): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: CreatePortMappingRequest = parse_json(&body)?;
    let spec = match (&req.destination.sim_id, &req.destination.imsi) {
        (Some(sim_id), _) => sim_spec(&state, sim_id, &req)?,
        (None, Some(imsi)) => imsi_spec(&state, imsi, &req)?,
        (None, None) => {
            return Err(ApiError::bad_request(
                "SEM0001",
                "destination must have imsi or simId.",
            ))
        }
    };
    open(&state, spec).await
}

/// `POST /v1/port_mappings/sims/{sim_id}`.
pub async fn create_for_sim(
    State(state): State<AppState>,
    Path(sim_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: CreatePortMappingRequest = parse_json(&body)?;
    let spec = sim_spec(&state, &sim_id, &req)?;
    open(&state, spec).await
}

async fn open(state: &AppState, spec: MappingSpec) -> ApiResult<Response> {
    let wire = napter::open(state, spec, None).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SEM0500",
            format!("Could not create the mapping: {e:#}"),
        )
    })?;
    Ok((StatusCode::CREATED, Json(wire)).into_response())
}

fn imsi_spec(
    state: &AppState,
    imsi: &str,
    req: &CreatePortMappingRequest,
) -> ApiResult<MappingSpec> {
    let sim_id = state
        .lock()
        .imsi_index
        .get(imsi)
        .cloned()
        .ok_or_else(|| ApiError::not_found("SEM0004", format!("No such subscriber: {imsi}")))?;
    common_spec(sim_id, imsi.to_string(), true, "IMSI_PRIORITIZED", req)
}

pub(crate) fn sim_spec(
    state: &AppState,
    sim_id: &str,
    req: &CreatePortMappingRequest,
) -> ApiResult<MappingSpec> {
    let imsi = state
        .lock()
        .devices
        .get(sim_id)
        .map(|d| d.imsi.clone())
        .ok_or_else(|| no_such_sim(sim_id))?;
    let strategy = match req.destination.service.as_deref() {
        Some("air") => "AIR_PRIORITIZED",
        Some("arc") => "ARC_PRIORITIZED",
        None => "DYNAMIC",
        Some(other) => {
            return Err(ApiError::bad_request(
                "SEM0001",
                format!("destination.service must be air or arc, got {other:?}"),
            ))
        }
    };
    common_spec(sim_id.to_string(), imsi, false, strategy, req)
}

/// Validates what both create forms share (port, duration, source).
fn common_spec(
    sim_id: String,
    imsi: String,
    by_imsi: bool,
    strategy: &'static str,
    req: &CreatePortMappingRequest,
) -> ApiResult<MappingSpec> {
    if req.destination.port == 0 {
        return Err(ApiError::bad_request(
            "SEM0001",
            "destination.port must be 1-65535.",
        ));
    }
    let duration = req.duration.unwrap_or(DEFAULT_DURATION);
    if duration == 0 || duration > MAX_DURATION {
        return Err(ApiError::bad_request(
            "SEM0001",
            format!("duration must be between 1 and {MAX_DURATION} seconds, got {duration}."),
        ));
    }
    let ranges = parse_ranges(req)?;
    Ok(MappingSpec {
        sim_id,
        imsi,
        by_imsi,
        strategy,
        device_port: req.destination.port,
        duration,
        tls_required: req.tls_required.unwrap_or(false),
        source: req.source.clone(),
        ranges,
    })
}

/// Parses `source.ipRanges`. No ranges = allow every source: the spec does not document the
/// default, so the emulator picks the permissive reading (clients should always send one).
fn parse_ranges(req: &CreatePortMappingRequest) -> ApiResult<Vec<IpNet>> {
    let Some(source) = &req.source else {
        return Ok(Vec::new());
    };
    source
        .ip_ranges
        .iter()
        .map(|r| {
            r.parse::<IpNet>().map_err(|_| {
                ApiError::bad_request("SEM0001", format!("Invalid CIDR in source.ipRanges: {r:?}"))
            })
        })
        .collect()
}

/// `GET /v1/port_mappings`, paginated by `ipAddress:port`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let size = page_size(state.page_size, param(&params, "limit"), None)?;
    let lower = match param(&params, "last_evaluated_key") {
        None => Bound::Unbounded,
        Some(key) => Bound::Excluded(parse_key(key)?),
    };
    let items: Vec<PortMapping> = state
        .lock()
        .mappings
        .range((lower, Bound::Unbounded))
        .take(size + 1)
        .map(|(_, m)| m.wire.clone())
        .collect();
    let (page, next) = cut(items, size, |m| format!("{}:{}", m.ip_address, m.port));
    Ok(paged_response(page, next, &uri, &headers))
}

fn parse_key(key: &str) -> ApiResult<(String, u16)> {
    key.rsplit_once(':')
        .and_then(|(ip, port)| Some((ip.to_string(), port.parse().ok()?)))
        .ok_or_else(|| {
            ApiError::bad_request("COM0002", format!("Invalid last_evaluated_key: {key:?}"))
        })
}

/// `GET /v1/port_mappings/sims/{sim_id}`: mappings created with that SIM id (404 when none).
pub async fn list_for_sim(
    State(state): State<AppState>,
    Path(sim_id): Path<String>,
) -> ApiResult<Json<Vec<PortMapping>>> {
    let found = filtered(&state, |m| {
        m.imsi.is_none() && m.sim_id.as_deref() == Some(&sim_id)
    });
    non_empty(found, || format!("No port mappings found for SIM {sim_id}"))
}

/// `GET /v1/port_mappings/subscribers/{imsi}`: IMSI_PRIORITIZED mappings (404 when none).
pub async fn list_for_subscriber(
    State(state): State<AppState>,
    Path(imsi): Path<String>,
) -> ApiResult<Json<Vec<PortMapping>>> {
    let found = filtered(&state, |m| m.imsi.as_deref() == Some(&imsi));
    non_empty(found, || {
        format!("No port mappings found for subscriber {imsi}")
    })
}

fn filtered(state: &AppState, keep: impl Fn(&PortMapping) -> bool) -> Vec<PortMapping> {
    state
        .lock()
        .mappings
        .values()
        .map(|m| &m.wire)
        .filter(|w| keep(w))
        .cloned()
        .collect()
}

fn non_empty(
    found: Vec<PortMapping>,
    msg: impl FnOnce() -> String,
) -> ApiResult<Json<Vec<PortMapping>>> {
    if found.is_empty() {
        return Err(ApiError::not_found("SEM0090", msg()));
    }
    Ok(Json(found))
}

/// `DELETE /v1/port_mappings/{ip_address}/{port}`: 204, or 404 when already gone.
pub async fn delete(
    State(state): State<AppState>,
    Path((ip, port)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let gone = || ApiError::not_found("SEM0090", format!("No such port mapping: {ip}:{port}"));
    let port_num: u16 = port.parse().map_err(|_| gone())?;
    napter::delete(&state, &ip, port_num).ok_or_else(gone)?;
    Ok(StatusCode::NO_CONTENT)
}
