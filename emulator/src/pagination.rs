//! Pagination of list endpoints: page size, `x-soracom-next-key` and `Link: rel=next`.

use crate::errors::{ApiError, ApiResult};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use napsh_core::soracom::headers::NEXT_KEY;
use serde::Serialize;

/// Items per page: the fleet's page size, shrunk by a `limit` query (never grown).
/// `max` is the operation's documented maximum for `limit` (400 beyond it).
pub fn page_size(
    fleet_page_size: usize,
    limit: Option<&str>,
    max: Option<usize>,
) -> ApiResult<usize> {
    let Some(raw) = limit else {
        return Ok(fleet_page_size);
    };
    let n: usize = raw
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::bad_request("COM0002", format!("Invalid limit: {raw:?}")))?;
    if max.is_some_and(|m| n > m) {
        return Err(ApiError::bad_request(
            "COM0002",
            format!("limit must be at most {}", max.unwrap_or_default()),
        ));
    }
    Ok(n.min(fleet_page_size))
}

/// Cuts `items` (already positioned after the cursor, possibly longer than a page) to
/// `size`; returns the page and the key of its last item when more remain.
pub fn cut<T>(
    mut items: Vec<T>,
    size: usize,
    key: impl Fn(&T) -> String,
) -> (Vec<T>, Option<String>) {
    if items.len() <= size {
        return (items, None);
    }
    items.truncate(size);
    let next = items.last().map(key);
    (items, next)
}

/// A 200 JSON array with pagination headers when `next_key` is set.
pub fn paged_response<T: Serialize>(
    items: Vec<T>,
    next_key: Option<String>,
    uri: &Uri,
    req_headers: &HeaderMap,
) -> Response {
    let mut resp = (StatusCode::OK, Json(items)).into_response();
    if let Some(key) = next_key {
        let link = format!("<{}>; rel=next", next_url(uri, req_headers, &key));
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&key) {
            h.insert(NEXT_KEY, v);
        }
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    resp
}

/// The URL of the next page: the same request with `last_evaluated_key` replaced.
fn next_url(uri: &Uri, req_headers: &HeaderMap, key: &str) -> String {
    let mut query: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("last_evaluated_key="))
        .map(str::to_string)
        .collect();
    query.push(format!("last_evaluated_key={}", encode(key)));
    let host = req_headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let prefix = host.map(|h| format!("http://{h}")).unwrap_or_default();
    format!("{prefix}{}?{}", uri.path(), query.join("&"))
}

/// Percent-encodes a query value (unreserved characters and `:` kept).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_only_shrinks() {
        assert_eq!(page_size(3, Some("10"), None).unwrap(), 3);
        assert_eq!(page_size(30, Some("10"), None).unwrap(), 10);
        assert!(page_size(30, Some("0"), None).is_err());
        assert!(page_size(300, Some("101"), Some(100)).is_err());
    }

    #[test]
    fn next_url_replaces_cursor() {
        let uri: Uri = "/v1/sims?limit=2&last_evaluated_key=1".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        assert_eq!(
            next_url(&uri, &h, "5 6"),
            "http://127.0.0.1:9/v1/sims?limit=2&last_evaluated_key=5%206"
        );
    }
}
