//! Client mechanics against a tiny in-test axum stub (the real end-to-end tests run against
//! the emulator): pagination, one re-auth on 401, 429 honouring the header, no POST retry,
//! malformed JSON, error mapping, secrets never in messages; hostile answers (issue 11): page
//! keys that cycle or never end, bodies past the size limit, drifted and broken list items.

use super::*;
use crate::soracom::path::segment;
use crate::soracom::profile::Credentials;
use axum::extract::{Query, State};
use axum::http::{HeaderMap as AxHeaders, StatusCode as AxStatus};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counters the stub keeps.
#[derive(Default)]
struct Stub {
    /// Successful sign-ins.
    auths: AtomicUsize,
    /// Calls to /expiring.
    expiring: AtomicUsize,
    /// Calls to /limited.
    limited: AtomicUsize,
    /// GETs of /error.
    server_errors: AtomicUsize,
    /// POSTs of /error.
    posts: AtomicUsize,
    /// GETs of /cycle.
    cycle: AtomicUsize,
    /// Body bytes the stub produced for /big and /declared_big.
    produced: Arc<AtomicUsize>,
}

fn err_json(status: AxStatus, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn auth(State(s): State<Arc<Stub>>, Json(body): Json<serde_json::Value>) -> Response {
    if body["authKey"] == "secret-no-token" {
        return Json(serde_json::json!({"apiKey":"api-key","operatorId":"OP1","x":{}}))
            .into_response();
    }
    if body["authKey"] != "secret-1" {
        return err_json(AxStatus::UNAUTHORIZED, "AUM0004", "Invalid credentials");
    }
    assert_eq!(body["tokenTimeoutSeconds"], 86400);
    let n = s.auths.fetch_add(1, Ordering::SeqCst) + 1;
    Json(serde_json::json!({"apiKey":"api-key","token":format!("tok-{n}"),"operatorId":"OP1"}))
        .into_response()
}

async fn sims(Query(q): Query<HashMap<String, String>>, h: AxHeaders) -> Response {
    assert_eq!(h.get("x-soracom-lang").unwrap(), "en");
    assert_eq!(h.get("x-soracom-api-key").unwrap(), "api-key");
    let (items, next) = match q.get("last_evaluated_key").map(String::as_str) {
        None => (vec!["1", "2"], Some("2")),
        Some("2") => (vec!["3", "4"], Some("4")),
        Some("4") => (vec!["5"], None),
        other => panic!("unexpected key {other:?}"),
    };
    let body: Vec<_> = items
        .iter()
        .map(|id| serde_json::json!({ "simId": id }))
        .collect();
    let mut resp = Json(body).into_response();
    if let Some(n) = next {
        resp.headers_mut()
            .insert("x-soracom-next-key", n.parse().unwrap());
    }
    resp
}

async fn expiring(State(s): State<Arc<Stub>>, h: AxHeaders) -> Response {
    s.expiring.fetch_add(1, Ordering::SeqCst);
    if h.get("x-soracom-token").unwrap() == "tok-1" {
        return err_json(AxStatus::UNAUTHORIZED, "AUM0001", "expired");
    }
    Json(serde_json::json!([])).into_response()
}

async fn always_401() -> Response {
    err_json(AxStatus::UNAUTHORIZED, "AUM0001", "no")
}

async fn limited(State(s): State<Arc<Stub>>) -> Response {
    if s.limited.fetch_add(1, Ordering::SeqCst) == 0 {
        let mut r = err_json(AxStatus::TOO_MANY_REQUESTS, "COM0005", "slow down");
        r.headers_mut().insert(
            "x-soracom-ratelimit-seconds-before-refresh",
            "1".parse().unwrap(),
        );
        return r;
    }
    Json(serde_json::json!([])).into_response()
}

async fn limited_long() -> Response {
    let mut r = (AxStatus::TOO_MANY_REQUESTS, "").into_response();
    r.headers_mut().insert(
        "x-soracom-ratelimit-seconds-before-refresh",
        "120".parse().unwrap(),
    );
    r
}

async fn server_error(State(s): State<Arc<Stub>>) -> Response {
    s.server_errors.fetch_add(1, Ordering::SeqCst);
    (AxStatus::INTERNAL_SERVER_ERROR, "oops").into_response()
}

async fn post_fails(State(s): State<Arc<Stub>>) -> Response {
    s.posts.fetch_add(1, Ordering::SeqCst);
    err_json(AxStatus::BAD_GATEWAY, "COM0001", "gateway")
}

async fn malformed() -> Response {
    ([("content-type", "application/json")], "[{\"simId\":").into_response()
}

async fn denied() -> Response {
    err_json(
        AxStatus::FORBIDDEN,
        "SEM0049",
        "You do not have permission: PortMapping:createPortMapping",
    )
}

/// A page of `items` with `x-soracom-next-key: next`.
fn page(items: Any, next: Option<String>) -> Response {
    let mut resp = Json(items).into_response();
    if let Some(n) = next {
        resp.headers_mut()
            .insert("x-soracom-next-key", n.parse().unwrap());
    }
    resp
}

/// Page keys A, B, A, B…; 410 after 20 pages (so that a client that loops fails).
async fn cycle(State(s): State<Arc<Stub>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if s.cycle.fetch_add(1, Ordering::SeqCst) >= 20 {
        return err_json(AxStatus::GONE, "TST0001", "looped");
    }
    let next = match q.get("last_evaluated_key").map(String::as_str) {
        Some("A") => "B",
        _ => "A",
    };
    page(serde_json::json!([{"simId": "x"}]), Some(next.into()))
}

/// A new key on every page, two SIMs per page, for ever.
async fn endless(Query(q): Query<HashMap<String, String>>) -> Response {
    let n: u64 = q
        .get("last_evaluated_key")
        .map_or(0, |k| k.parse().unwrap());
    let items = serde_json::json!([{"simId": format!("{n}a")}, {"simId": format!("{n}b")}]);
    page(items, Some((n + 1).to_string()))
}

/// SIMs as a drifting API may send them: one without `simId`, odd informational fields.
async fn drifted_sims() -> Response {
    let placement = serde_json::json!({"infrastructureProvider": "aws", "region": "x"});
    page(
        serde_json::json!([
            {"simId": "1", "speedClass": 5, "tags": {"name": "one", "floor": 3}},
            {"tags": {"name": "no id"}, "sessionStatus": {"online": true}},
            {"simId": "3", "sessionStatus": {"online": true, "placement": placement}},
        ]),
        None,
    )
}

/// `GET /v1/big?mb=N`: N MiB of JSON whitespace, chunked (no Content-Length), counted.
async fn big(State(s): State<Arc<Stub>>, Query(q): Query<HashMap<String, String>>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let mb: usize = q["mb"].parse().unwrap();
    let produced = s.produced.clone();
    let chunks = futures_util::stream::iter((0..mb * 16).map(move |_| {
        produced.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(vec![b' '; CHUNK]))
    }));
    axum::body::Body::from_stream(chunks).into_response()
}

/// Declares a 10 GB body, sends a few bytes, then nothing more.
async fn declared_big(State(s): State<Arc<Stub>>) -> Response {
    use futures_util::StreamExt;
    s.produced.fetch_add(4, Ordering::SeqCst);
    let chunks = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(
        axum::body::Bytes::from_static(b"[   "),
    )])
    .chain(futures_util::stream::pending());
    let mut resp = axum::body::Body::from_stream(chunks).into_response();
    resp.headers_mut()
        .insert("content-length", "10000000000".parse().unwrap());
    resp
}

async fn start() -> (String, Arc<Stub>) {
    let stub = Arc::new(Stub::default());
    let app = Router::new()
        .route("/v1/auth", post(auth))
        .route("/v1/sims", get(sims))
        .route("/v1/expiring", get(expiring))
        .route("/v1/always401", get(always_401))
        .route("/v1/limited", get(limited))
        .route("/v1/limited_long", get(limited_long))
        .route("/v1/error", get(server_error).post(post_fails))
        .route("/v1/malformed", get(malformed))
        .route("/v1/denied", post(denied))
        .route("/v1/cycle", get(cycle))
        .route("/v1/endless", get(endless))
        .route("/v1/drifted_sims", get(drifted_sims))
        .route("/v1/big", get(big))
        .route("/v1/declared_big", get(declared_big))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), stub)
}

fn client(endpoint: &str, dir: &std::path::Path, key: &str) -> Client {
    let profile = Profile {
        name: "test".into(),
        path: "/p/test.json".into(),
        endpoint: endpoint.into(),
        credentials: Credentials::AuthKey {
            id: "keyId-1".into(),
            key: key.into(),
        },
        headers: Default::default(),
    };
    let cache = TokenCache::for_profile(dir, &profile);
    Client::new(profile, cache, Duration::from_secs(5))
        .unwrap()
        .with_policy(RetryPolicy {
            max_attempts: 3,
            max_rate_limit_wait: Duration::from_secs(5),
            backoff: Duration::from_millis(10),
        })
}

type Any = serde_json::Value;

/// The one-line text of `err`, which must be an API error (exit 5).
fn api_error_text(err: &anyhow::Error) -> String {
    assert_eq!(crate::error::kind_of(err), ErrorKind::Api, "{err:#}");
    crate::error::one_line(err)
}

#[tokio::test]
async fn follows_pagination_to_the_end() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1");
    let sims: Vec<napsh_core::soracom::Sim> = c.list("/sims").await.unwrap();
    let ids: Vec<_> = sims.iter().map(|s| s.sim_id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
}

#[tokio::test]
async fn token_is_cached_across_clients() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let _: Vec<Any> = client(&url, dir.path(), "secret-1")
        .list("/sims")
        .await
        .unwrap();
    let _: Vec<Any> = client(&url, dir.path(), "secret-1")
        .list("/sims")
        .await
        .unwrap();
    assert_eq!(stub.auths.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_triggers_exactly_one_reauth_and_retry() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1");
    let _: Vec<Any> = c.get("/expiring", &[]).await.unwrap();
    assert_eq!(stub.auths.load(Ordering::SeqCst), 2);
    assert_eq!(stub.expiring.load(Ordering::SeqCst), 2);
    let err = c.get::<Any>("/always401", &[]).await.unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::AuthFailed);
    assert_eq!(
        stub.auths.load(Ordering::SeqCst),
        3,
        "one more sign-in, not a loop"
    );
}

#[tokio::test]
async fn bad_credentials_name_the_profile_and_never_the_secret() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "WRONG-SECRET");
    let err = c.list::<Any>("/sims").await.unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::AuthFailed);
    let text = crate::error::one_line(&err);
    assert!(
        text.contains("keyId-1") && text.contains("/p/test.json") && text.contains("[AUM0004]"),
        "{text}"
    );
    assert!(!text.contains("WRONG-SECRET"));
}

#[tokio::test]
async fn rate_limit_waits_as_told_then_gives_up_when_asked_to_wait_too_long() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1");
    let started = Instant::now();
    let _: Vec<Any> = c.get("/limited", &[]).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(stub.limited.load(Ordering::SeqCst), 2);
    let started = Instant::now();
    let err = c.get::<Any>("/limited_long", &[]).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "never sleeps past the cap"
    );
    assert_eq!(crate::error::kind_of(&err), ErrorKind::RateLimited);
    assert!(crate::error::one_line(&err).contains("wait 120 s and try again"));
}

#[tokio::test]
async fn server_errors_retry_gets_but_never_posts() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1");
    let err = c.get::<Any>("/error", &[]).await.unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::Api);
    assert_eq!(stub.server_errors.load(Ordering::SeqCst), 3);
    let err = c
        .post::<_, Any>("/error", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(stub.posts.load(Ordering::SeqCst), 1);
    assert!(crate::error::one_line(&err).contains("[COM0001]"));
}

#[tokio::test]
async fn malformed_json_is_a_clear_api_error() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&url, dir.path(), "secret-1")
        .get::<Vec<napsh_core::soracom::Sim>>("/malformed", &[])
        .await
        .unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::Api);
    let text = crate::error::one_line(&err);
    assert!(
        text.starts_with("Soracom returned a malformed response to GET /v1/malformed:"),
        "{text}"
    );
}

#[tokio::test]
async fn forbidden_names_the_permission() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&url, dir.path(), "secret-1")
        .post::<_, Any>("/denied", &serde_json::json!({}))
        .await
        .unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::PermissionDenied);
    let text = crate::error::one_line(&err);
    assert!(
        text.contains("PortMapping:createPortMapping") && text.contains("[SEM0049]"),
        "{text}"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let err = client(&format!("http://{addr}"), dir.path(), "secret-1")
        .list::<Any>("/sims")
        .await
        .unwrap_err();
    assert_eq!(crate::error::kind_of(&err), ErrorKind::Network);
}

#[tokio::test]
async fn a_page_key_that_comes_back_stops_the_listing() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&url, dir.path(), "secret-1")
        .list::<Any>("/cycle")
        .await
        .unwrap_err();
    let text = api_error_text(&err);
    assert!(
        text.contains("GET /v1/cycle") && text.contains("page key") && text.contains("again"),
        "{text}"
    );
    assert_eq!(
        stub.cycle.load(Ordering::SeqCst),
        3,
        "A, B, then A again: stop"
    );
}

#[tokio::test]
async fn a_listing_stops_at_the_page_and_item_limits() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let limits = |max_pages, max_items| Limits {
        max_pages,
        max_items,
        ..Limits::default()
    };
    let c = client(&url, dir.path(), "secret-1").with_limits(limits(5, 1000));
    let text = api_error_text(&c.list::<Any>("/endless").await.unwrap_err());
    assert!(text.contains("more than 5 pages"), "{text}");
    let c = client(&url, dir.path(), "secret-1").with_limits(limits(1000, 7));
    let text = api_error_text(&c.list::<Any>("/endless").await.unwrap_err());
    assert!(text.contains("more than 7 entries"), "{text}");
}

#[test]
fn the_default_limits_allow_a_million_sims() {
    let l = Limits::default();
    assert_eq!(l.max_body, 32 << 20);
    assert_eq!(
        l.max_pages * PAGE_LIMIT.parse::<usize>().unwrap(),
        1_000_000
    );
    assert_eq!(l.max_items, 1_000_000);
}

#[tokio::test]
async fn a_body_past_the_limit_is_not_read_on() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&url, dir.path(), "secret-1")
        .get::<Any>("/big", &[("mb", "1024")])
        .await
        .unwrap_err();
    let text = api_error_text(&err);
    assert!(
        text.contains("GET /v1/big") && text.contains("32 MiB"),
        "{text}"
    );
    let produced = stub.produced.load(Ordering::SeqCst);
    assert!(produced < 128 << 20, "read on: {produced} bytes sent");
}

#[tokio::test]
async fn a_declared_length_past_the_limit_is_refused_before_reading() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1").with_limits(Limits {
        max_body: 1 << 20,
        ..Limits::default()
    });
    let text = api_error_text(&c.get::<Any>("/declared_big", &[]).await.unwrap_err());
    assert!(
        text.contains("GET /v1/declared_big")
            && text.contains("10000000000")
            && text.contains("1 MiB"),
        "{text}"
    );
    let text = api_error_text(&c.get::<Any>("/big", &[("mb", "2")]).await.unwrap_err());
    assert!(text.contains("1 MiB"), "{text}");
}

#[tokio::test]
async fn a_drifted_list_skips_only_the_sim_without_an_id() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let sims: Vec<napsh_core::soracom::Sim> = client(&url, dir.path(), "secret-1")
        .list("/drifted_sims")
        .await
        .unwrap();
    let ids: Vec<_> = sims.iter().map(|s| s.sim_id.as_str()).collect();
    assert_eq!(ids, ["1", "3"]);
    assert_eq!(sims[0].speed_class, None);
    assert_eq!(sims[0].tags["floor"], "3");
    assert!(sims[1].session_status.as_ref().unwrap().online);
}

#[tokio::test]
async fn an_auth_answer_without_a_token_names_the_field() {
    let (url, _) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let err = client(&url, dir.path(), "secret-no-token")
        .list::<Any>("/sims")
        .await
        .unwrap_err();
    let text = api_error_text(&err);
    assert!(
        text.contains("Soracom's answer to POST /v1/auth has no `token`"),
        "{text}"
    );
}

#[test]
fn path_segments_are_percent_encoded() {
    assert_eq!(segment("8942310022000012345"), "8942310022000012345");
    assert_eq!(segment("203.0.113.9"), "203.0.113.9");
    assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
    assert_eq!(segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
    assert_eq!(segment("fe80::1%eth0"), "fe80%3A%3A1%25eth0");
    assert_eq!(segment("ü"), "%C3%BC");
    assert_eq!(segment(".."), "%2E%2E");
    assert_eq!(segment("."), "%2E");
    assert_eq!(segment(""), "");
}

#[tokio::test]
async fn a_dot_segment_is_refused_before_any_request() {
    let (url, stub) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let c = client(&url, dir.path(), "secret-1");
    for path in [
        "/sims/../auth",
        "/sims/%2e%2E/auth",
        "/sims/./x",
        "/sims/.%2e",
        "/sims/",
    ] {
        let text = api_error_text(&c.get::<Any>(path, &[]).await.unwrap_err());
        assert!(text.contains("refusing"), "{path}: {text}");
    }
    let id = segment("..");
    let err = c.get::<Any>(&format!("/sims/{id}"), &[]).await.unwrap_err();
    assert!(crate::error::one_line(&err).contains("refusing"));
    assert_eq!(stub.auths.load(Ordering::SeqCst), 0, "nothing was sent");
}
