//! `GET /v1/sims`, `GET /v1/sims/{sim_id}` and `GET /v1/query/sims` (search).

use crate::api::{param, Params};
use crate::errors::{ApiError, ApiResult};
use crate::pagination::{cut, page_size, paged_response};
use crate::state::{AppState, Device};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::Json;
use napsh_core::soracom::Sim;
use std::ops::Bound;

/// Documented default `limit` of `searchSims`.
const SEARCH_DEFAULT_LIMIT: usize = 10;
/// Documented maximum `limit` of `searchSims`.
const SEARCH_MAX_LIMIT: usize = 100;

/// `GET /v1/sims`: whole inventory in simId order, paginated.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let size = page_size(state.page_size, param(&params, "limit"), None)?;
    let sims = collect_after(
        &state,
        param(&params, "last_evaluated_key"),
        size + 1,
        |_| true,
    );
    let (page, next) = cut(sims, size, |s| s.sim_id.clone());
    Ok(paged_response(page, next, &uri, &headers))
}

/// `GET /v1/sims/{sim_id}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(sim_id): Path<String>,
) -> ApiResult<Json<Sim>> {
    let inner = state.lock();
    let device = inner
        .devices
        .get(&sim_id)
        .ok_or_else(|| no_such_sim(&sim_id))?;
    Ok(Json(device.to_sim(&state.operator_id)))
}

/// 404 for an unknown SIM.
pub fn no_such_sim(sim_id: &str) -> ApiError {
    ApiError::not_found("SEM0004", format!("No such SIM found: {sim_id}"))
}

/// `GET /v1/query/sims`: partial, case-insensitive search.
pub async fn search(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let query = SimQuery::parse(&params)?;
    let limit = param(&params, "limit").map_or(SEARCH_DEFAULT_LIMIT.to_string(), str::to_string);
    let size = page_size(state.page_size, Some(&limit), Some(SEARCH_MAX_LIMIT))?;
    let sims = collect_after(
        &state,
        param(&params, "last_evaluated_key"),
        size + 1,
        |d| query.matches(d),
    );
    let (page, next) = cut(sims, size, |s| s.sim_id.clone());
    Ok(paged_response(page, next, &uri, &headers))
}

/// Up to `n` SIMs after `cursor` (exclusive, simId order) that pass `keep`.
fn collect_after(
    state: &AppState,
    cursor: Option<&str>,
    n: usize,
    keep: impl Fn(&Device) -> bool,
) -> Vec<Sim> {
    let inner = state.lock();
    let lower = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.to_string()));
    inner
        .devices
        .range((lower, Bound::Unbounded))
        .map(|(_, d)| d)
        .filter(|d| keep(d))
        .take(n)
        .map(|d| d.to_sim(&state.operator_id))
        .collect()
}

/// Which device field a search parameter looks at.
#[derive(Debug, Clone, Copy)]
enum Field {
    Name,
    Group,
    GroupIdExact,
    SimId,
    Imsi,
    Iccid,
    Tag,
    Status,
}

/// A parsed `searchSims` query.
#[derive(Debug)]
struct SimQuery {
    /// (field, lower-cased value) terms.
    terms: Vec<(Field, String)>,
    /// `search_type=or`.
    any: bool,
    /// `session_status` filter (always ANDed): Some(true) ONLINE, Some(false) OFFLINE.
    online: Option<bool>,
}

impl SimQuery {
    fn parse(params: &Params) -> ApiResult<SimQuery> {
        let mut terms = Vec::new();
        for (key, value) in params {
            let Some(field) = field_for(key) else {
                continue;
            };
            for v in value.split(',') {
                if v.chars().count() < 2 {
                    return Err(ApiError::bad_request(
                        "COM0002",
                        format!("Each search value of `{key}` must be at least 2 characters long: {v:?}"),
                    ));
                }
                terms.push((field, v.to_lowercase()));
            }
        }
        let any = match param(params, "search_type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("and") => false,
            Some("or") => true,
            Some(other) => {
                return Err(ApiError::bad_request(
                    "COM0002",
                    format!("Invalid search_type: {other}"),
                ))
            }
        };
        let online = match param(params, "session_status") {
            None | Some("NA") => None,
            Some("ONLINE") => Some(true),
            Some("OFFLINE") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_request(
                    "COM0002",
                    format!("Invalid session_status: {other} (NA, ONLINE or OFFLINE)"),
                ))
            }
        };
        Ok(SimQuery { terms, any, online })
    }

    fn matches(&self, d: &Device) -> bool {
        if self.online.is_some_and(|o| o != d.online) {
            return false;
        }
        if self.terms.is_empty() {
            return true;
        }
        let hit = |(f, v): &(Field, String)| term_matches(d, *f, v);
        if self.any {
            self.terms.iter().any(hit)
        } else {
            self.terms.iter().all(hit)
        }
    }
}

fn field_for(key: &str) -> Option<Field> {
    Some(match key {
        "name" => Field::Name,
        "group" => Field::Group,
        "group_id" => Field::GroupIdExact,
        "sim_id" => Field::SimId,
        "imsi" => Field::Imsi,
        "iccid" => Field::Iccid,
        "tag" => Field::Tag,
        "status" => Field::Status,
        _ => return None,
    })
}

fn contains(haystack: &str, needle_lower: &str) -> bool {
    haystack.to_lowercase().contains(needle_lower)
}

fn term_matches(d: &Device, field: Field, v: &str) -> bool {
    match field {
        Field::Name => contains(&d.name, v),
        Field::Group => d.group_id.as_deref().is_some_and(|g| contains(g, v)),
        Field::GroupIdExact => d.group_id.as_deref().is_some_and(|g| g.to_lowercase() == v),
        Field::SimId | Field::Iccid => contains(&d.sim_id, v),
        Field::Imsi => contains(&d.imsi, v),
        Field::Tag => contains(&d.name, v) || d.tags.values().any(|t| contains(t, v)),
        Field::Status => contains("active", v),
    }
}
