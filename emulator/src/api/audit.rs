//! `GET /v1/audit_logs/napter`: Napter audit entries, newest first, paginated by createdAt.

use crate::api::{param, Params};
use crate::errors::{ApiError, ApiResult};
use crate::pagination::{cut, page_size, paged_response};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use napsh_core::soracom::NapterAuditLogEntry;

/// Documented maximum `limit`.
const MAX_LIMIT: usize = 1000;

/// `GET /v1/audit_logs/napter?resource_type=Subscriber&resource_id=IMSI&from=&to=&limit=`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(t) = param(&params, "resource_type").filter(|t| *t != "Subscriber") {
        return Err(ApiError::bad_request(
            "COM0002",
            format!("Invalid resource_type: {t}"),
        ));
    }
    let imsi = param(&params, "resource_id");
    let from = int_param(&params, "from")?.unwrap_or(i64::MIN);
    let to = int_param(&params, "to")?.unwrap_or(i64::MAX);
    let before = int_param(&params, "last_evaluated_key")?.unwrap_or(i64::MAX);
    let size = page_size(state.page_size, param(&params, "limit"), Some(MAX_LIMIT))?;
    let entries: Vec<NapterAuditLogEntry> = state
        .lock()
        .audit
        .iter()
        .rev()
        .filter(|e| e.created_at < before && e.created_at >= from && e.created_at <= to)
        .filter(|e| imsi.is_none() || e.imsi.as_deref() == imsi)
        .take(size + 1)
        .cloned()
        .collect();
    let (page, next) = cut(entries, size, |e| e.created_at.to_string());
    Ok(paged_response(page, next, &uri, &headers))
}

fn int_param(params: &Params, name: &str) -> ApiResult<Option<i64>> {
    param(params, name)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request("COM0002", format!("Invalid {name}: {v:?}")))
        })
        .transpose()
}
