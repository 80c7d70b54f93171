//! Client mechanics against a tiny in-test axum stub (the real end-to-end tests run against
//! the emulator): pagination, one re-auth on 401, 429 honouring the header, no POST retry,
//! malformed JSON, error mapping, secrets never in messages.

use super::*;
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
}

fn err_json(status: AxStatus, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn auth(State(s): State<Arc<Stub>>, Json(body): Json<serde_json::Value>) -> Response {
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
