//! The emulator's /v1 API over real TCP: auth, pagination, search, port mappings, faults,
//! latency and the request log.

mod common;

use common::{assert_denied, error_body, start, Client, BASE_FLEET};
use reqwest::Method;
use rstest::rstest;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[rstest]
#[case::auth_key(json!({"authKeyId":"keyId-demo","authKey":"secret-demo"}), None)]
#[case::root(json!({"email":"ops@example.com","password":"pw"}), None)]
#[case::sam_user(json!({"operatorId":"OP0012345678","userName":"napsh","password":"pw"}), Some("napsh"))]
#[tokio::test]
async fn auth_forms_issue_working_tokens(#[case] body: Value, #[case] user: Option<&str>) {
    let emu = start(BASE_FLEET).await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/v1/auth", emu.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-soracom-ratelimit-limit"));
    let auth: Value = resp.json().await.unwrap();
    assert_eq!(auth["operatorId"], "OP0012345678");
    assert_eq!(auth["userName"].as_str(), user);
    let client = Client::login_with(&emu, body).await;
    assert_eq!(client.get("/v1/sims").await.status(), 200);
}

#[rstest]
#[case::wrong_secret(json!({"authKeyId":"keyId-demo","authKey":"nope"}), 401, "AUM")]
#[case::unknown_email(json!({"email":"x@example.com","password":"pw"}), 401, "AUM")]
#[case::wrong_operator(json!({"operatorId":"OP9","userName":"napsh","password":"pw"}), 401, "AUM")]
#[case::incomplete(json!({"authKeyId":"keyId-demo"}), 400, "AUM")]
#[case::timeout_too_short(json!({"authKeyId":"keyId-demo","authKey":"secret-demo","tokenTimeoutSeconds":10}), 400, "AUM")]
#[tokio::test]
async fn bad_auth_is_refused_with_error_body(
    #[case] body: Value,
    #[case] status: u16,
    #[case] prefix: &str,
) {
    let emu = start(BASE_FLEET).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/auth", emu.api_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    error_body(resp, status, prefix).await;
}

#[tokio::test]
async fn calls_need_live_tokens() {
    let emu = start(BASE_FLEET).await;
    let http = reqwest::Client::new();
    let bare = http
        .get(format!("{}/v1/sims", emu.api_url()))
        .send()
        .await
        .unwrap();
    error_body(bare, 401, "AUM").await;
    let client = Client::login(&emu).await;
    let mut forged = Client::login(&emu).await;
    forged.token = "forged".into();
    error_body(forged.get("/v1/sims").await, 401, "AUM").await;
    // logout revokes
    let out = client
        .req(Method::POST, "/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    error_body(client.get("/v1/sims").await, 401, "AUM").await;
    // admin expiry
    let other = Client::login(&emu).await;
    emu.expire_tokens();
    error_body(other.get("/v1/sims").await, 401, "AUM").await;
}

/// Follows `Link: rel=next` pages, checking `x-soracom-next-key` agrees; returns all items.
async fn all_pages(client: &Client, first: &str) -> (Vec<Value>, usize) {
    let mut url = first.to_string();
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let resp = client.get(&url).await;
        assert_eq!(resp.status(), 200);
        pages += 1;
        let next_key = resp
            .headers()
            .get("x-soracom-next-key")
            .map(|v| v.to_str().unwrap().to_string());
        let link = resp
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let page: Vec<Value> = resp.json().await.unwrap();
        items.extend(page);
        match (next_key, link) {
            (None, None) => return (items, pages),
            (Some(key), Some(link)) => {
                assert!(link.ends_with("; rel=next"), "{link}");
                assert!(
                    link.contains(&format!("last_evaluated_key={key}")),
                    "{link}"
                );
                url = link
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string();
            }
            other => panic!("next-key and link disagree: {other:?}"),
        }
    }
}

#[tokio::test]
async fn sims_paginate_in_sim_id_order() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let (sims, pages) = all_pages(&client, "/v1/sims").await;
    assert_eq!(pages, 3);
    let ids: Vec<&str> = sims.iter().map(|s| s["simId"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 7);
    // limit shrinks, never grows
    let (_, pages) = all_pages(&client, "/v1/sims?limit=2").await;
    assert_eq!(pages, 4);
    let big: Vec<Value> = client.get("/v1/sims?limit=50").await.json().await.unwrap();
    assert_eq!(big.len(), 3);
    // manual cursor
    let resp = client
        .get("/v1/sims?last_evaluated_key=8942310022000000006")
        .await;
    let rest: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(rest.len(), 1);
}

#[tokio::test]
async fn get_sim_and_404() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let sim: Value = client
        .get("/v1/sims/8942310022000000001")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sim["tags"]["name"], "kiosk-12");
    assert_eq!(sim["sessionStatus"]["online"], true);
    assert_eq!(sim["sessionStatus"]["imsi"], "440103200000001");
    assert_eq!(
        sim["profiles"]["8942310022000000001"]["primaryImsi"],
        "440103200000001"
    );
    error_body(client.get("/v1/sims/nope").await, 404, "SEM").await;
}

#[rstest]
#[case::name_partial_ci("name=KIOSK", &["kiosk-12", "kiosk-13"])]
#[case::multi_value_or("name=kiosk-12,sensor&search_type=or", &["kiosk-12", "sensor-a", "sensor-b"])]
#[case::multi_value_and("name=sensor,-b", &["sensor-b"])]
#[case::tag("tag=tokyo", &["Camera-Tokyo"])]
#[case::group("group=osaka", &["kiosk-12", "kiosk-13"])]
#[case::imsi("imsi=200000004", &["gateway-1"])]
#[case::sim_id("sim_id=0000005", &["sensor-a"])]
#[case::online("name=kiosk&session_status=ONLINE", &["kiosk-12"])]
#[case::offline("session_status=OFFLINE", &["kiosk-13", "sensor-a"])]
#[case::and_two_fields("name=kiosk&tag=camera", &[])]
#[case::or_two_fields("name=gateway&tag=camera&search_type=or", &["Camera-Tokyo", "gateway-1"])]
#[tokio::test]
async fn query_sims_filters(#[case] query: &str, #[case] expected: &[&str]) {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let (sims, _) = all_pages(&client, &format!("/v1/query/sims?{query}")).await;
    let mut names: Vec<&str> = sims
        .iter()
        .map(|s| s["tags"]["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(names, expected, "query {query}");
}

#[rstest]
#[case::short_value("name=k")]
#[case::short_in_list("name=ab,c")]
#[case::limit_over_100("limit=101")]
#[case::bad_session_status("session_status=MAYBE")]
#[tokio::test]
async fn query_sims_validation(#[case] query: &str) {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    error_body(
        client.get(&format!("/v1/query/sims?{query}")).await,
        400,
        "COM",
    )
    .await;
}

#[tokio::test]
async fn port_mapping_lifecycle_both_forms() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let by_imsi = client
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":"440103200000001","port":22},"duration":600,
                   "tlsRequired":false,"source":{"ipRanges":["127.0.0.1/32"]}}),
        )
        .await;
    assert_eq!(by_imsi.status(), 201);
    let by_imsi: Value = by_imsi.json().await.unwrap();
    assert_eq!(
        by_imsi["destination"]["destinationChoosingStrategy"],
        "IMSI_PRIORITIZED"
    );
    assert_eq!(by_imsi["imsi"], "440103200000001");
    assert!(by_imsi.get("simId").is_none());
    assert_eq!(by_imsi["duration"], 600);
    let ip = by_imsi["ipAddress"].as_str().unwrap().to_string();
    let port = by_imsi["port"].as_u64().unwrap();
    assert_eq!(by_imsi["endpoint"], format!("{ip}:{port}"));

    let by_sim = client
        .post(
            "/v1/port_mappings/sims/8942310022000000003",
            json!({"destination":{"port":22,"service":"air"},"tlsRequired":false}),
        )
        .await;
    assert_eq!(by_sim.status(), 201);
    let by_sim: Value = by_sim.json().await.unwrap();
    assert_eq!(
        by_sim["destination"]["destinationChoosingStrategy"],
        "AIR_PRIORITIZED"
    );
    assert_eq!(by_sim["simId"], "8942310022000000003");
    assert_eq!(by_sim["duration"], 3600, "default duration");
    assert!(by_sim["destination"].get("service").is_none());

    let all: Vec<Value> = client.get("/v1/port_mappings").await.json().await.unwrap();
    assert_eq!(all.len(), 2);
    let for_sim: Vec<Value> = client
        .get("/v1/port_mappings/sims/8942310022000000003")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(for_sim.len(), 1);
    let for_sub = client
        .get("/v1/port_mappings/subscribers/440103200000001")
        .await;
    assert_eq!(for_sub.status(), 200);
    error_body(
        client
            .get("/v1/port_mappings/sims/8942310022000000005")
            .await,
        404,
        "SEM",
    )
    .await;
    error_body(
        client
            .get("/v1/port_mappings/subscribers/440103200000005")
            .await,
        404,
        "SEM",
    )
    .await;

    let sim: Value = client
        .get("/v1/sims/8942310022000000003")
        .await
        .json()
        .await
        .unwrap();
    assert!(sim["lastPortMappingCreatedTime"].as_i64().is_some());

    let del = client
        .delete(&format!("/v1/port_mappings/{ip}/{port}"))
        .await;
    assert_eq!(del.status(), 204);
    error_body(
        client
            .delete(&format!("/v1/port_mappings/{ip}/{port}"))
            .await,
        404,
        "SEM",
    )
    .await;
    assert_eq!(emu.mappings().len(), 1);
    let types: Vec<String> = emu
        .audit_log()
        .iter()
        .map(|e| e.entry_type.clone())
        .collect();
    assert_eq!(types, ["CREATED", "CREATED", "DELETED"]);
}

#[tokio::test]
async fn port_mappings_paginate() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    for _ in 0..7 {
        let r = client
            .post(
                "/v1/port_mappings/sims/8942310022000000001",
                json!({"destination":{"port":22,"service":"air"}}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let (items, pages) = all_pages(&client, "/v1/port_mappings").await;
    assert_eq!((items.len(), pages), (7, 3));
}

#[rstest]
#[case::too_long(json!({"destination":{"imsi":"440103200000001","port":22},"duration":28801}), 400)]
#[case::zero_duration(json!({"destination":{"imsi":"440103200000001","port":22},"duration":0}), 400)]
#[case::negative_duration(json!({"destination":{"imsi":"440103200000001","port":22},"duration":-5}), 400)]
#[case::no_destination(json!({"duration":60}), 400)]
#[case::no_port(json!({"destination":{"imsi":"440103200000001"}}), 400)]
#[case::no_target(json!({"destination":{"port":22}}), 400)]
#[case::bad_cidr(json!({"destination":{"imsi":"440103200000001","port":22},"source":{"ipRanges":["300.1.1.1/33"]}}), 400)]
#[case::unknown_imsi(json!({"destination":{"imsi":"999999999999999","port":22}}), 404)]
#[case::max_is_fine(json!({"destination":{"imsi":"440103200000001","port":22},"duration":28800}), 201)]
#[tokio::test]
async fn create_validation(#[case] body: Value, #[case] status: u16) {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let resp = client.post("/v1/port_mappings", body).await;
    if status == 201 {
        assert_eq!(resp.status(), 201);
    } else {
        error_body(resp, status, if status == 404 { "SEM" } else { "" }).await;
    }
}

#[tokio::test]
async fn create_for_unknown_sim_is_404() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let resp = client
        .post(
            "/v1/port_mappings/sims/123",
            json!({"destination":{"port":22,"service":"air"}}),
        )
        .await;
    error_body(resp, 404, "SEM").await;
}

#[tokio::test]
async fn deny_list_answers_403_naming_the_permission() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login_with(
        &emu,
        json!({"authKeyId":"keyId-readonly","authKey":"secret-readonly"}),
    )
    .await;
    assert_eq!(client.get("/v1/sims").await.status(), 200);
    let resp = client
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":"440103200000001","port":22}}),
        )
        .await;
    assert_denied(resp, "PortMapping:createPortMapping").await;
}

#[tokio::test]
async fn rate_limit_headers_on_every_v1_response() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let first = client.get("/v1/sims").await;
    let second = client.get("/v1/sims").await;
    let remaining = |r: &reqwest::Response| -> u64 {
        r.headers()["x-soracom-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(remaining(&first), remaining(&second) + 1);
    assert!(second
        .headers()
        .contains_key("x-soracom-ratelimit-seconds-before-refresh"));
    let err = client.get("/v1/sims/nope").await;
    assert!(err.headers().contains_key("x-soracom-ratelimit-limit"));
}

/// Installs a one-shot fault on GET /v1/sims through the admin API.
async fn one_shot_fault(client: &Client, fault: Value) {
    let resp = client
        .http
        .put(format!("{}/_emulator/faults", client.base))
        .json(&json!({"rules":[{"method":"GET","path":"/v1/sims","fault":fault,"times":1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[rstest]
#[case::status_500(json!({"kind":"status","status":500}))]
#[case::status_503(json!({"kind":"status","status":503}))]
#[case::rate_limit(json!({"kind":"rate_limit","retry_after_secs":2}))]
#[case::malformed_json(json!({"kind":"malformed_json"}))]
#[case::truncated_body(json!({"kind":"truncated_body"}))]
#[case::drop_connection(json!({"kind":"drop_connection"}))]
#[case::delay(json!({"kind":"delay","ms":400}))]
#[case::expire_token(json!({"kind":"expire_token"}))]
#[case::permission_denied(json!({"kind":"permission_denied"}))]
#[tokio::test]
async fn faults_fire_once(#[case] fault: Value) {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    one_shot_fault(&client, fault.clone()).await;
    let kind = fault["kind"].as_str().unwrap();
    match kind {
        "status" => {
            let status = fault["status"].as_u64().unwrap() as u16;
            error_body(client.get("/v1/sims").await, status, "COM").await;
        }
        "rate_limit" => {
            let resp = client.get("/v1/sims").await;
            assert_eq!(resp.status(), 429);
            assert_eq!(resp.headers()["x-soracom-ratelimit-remaining"], "0");
            assert_eq!(
                resp.headers()["x-soracom-ratelimit-seconds-before-refresh"],
                "2"
            );
            error_body(resp, 429, "COM").await;
        }
        "malformed_json" => {
            let resp = client.get("/v1/sims").await;
            assert_eq!(resp.status(), 200);
            assert!(resp.json::<Value>().await.is_err());
        }
        "truncated_body" => {
            let resp = client.get("/v1/sims").await;
            assert_eq!(resp.status(), 200);
            assert!(resp.bytes().await.is_err(), "body must be cut short");
        }
        "drop_connection" => {
            let err = client.req(Method::GET, "/v1/sims").send().await;
            assert!(err.is_err(), "expected a connection error, got {err:?}");
        }
        "delay" => {
            let r = client
                .req(Method::GET, "/v1/sims")
                .timeout(Duration::from_millis(100))
                .send()
                .await;
            assert!(r.unwrap_err().is_timeout());
            // the rule is spent: wait for the delayed request to finish being logged
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        "expire_token" => {
            error_body(client.get("/v1/sims").await, 401, "AUM").await;
            // the token really is expired now
            error_body(client.get("/v1/sims").await, 401, "AUM").await;
            return;
        }
        "permission_denied" => {
            let msg = error_body(client.get("/v1/sims").await, 403, "AUM").await;
            assert!(msg.contains("Sim:listSims"), "{msg}");
        }
        other => panic!("unhandled {other}"),
    }
    assert_eq!(
        client.get("/v1/sims").await.status(),
        200,
        "fault was one-shot"
    );
}

#[tokio::test]
async fn latency_is_injected_per_path() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let resp = client
        .http
        .put(format!("{}/_emulator/latency", client.base))
        .json(&json!({"default_ms":0,"per_path":{"/v1/sims/*":300}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let t = Instant::now();
    assert_eq!(client.get("/v1/sims").await.status(), 200);
    assert!(t.elapsed() < Duration::from_millis(250));
    let t = Instant::now();
    assert_eq!(
        client.get("/v1/sims/8942310022000000001").await.status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn request_log_counts_every_v1_call() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    client.get("/v1/sims?limit=2").await;
    client.get("/v1/sims/nope").await;
    one_shot_fault(&client, json!({"kind":"drop_connection"})).await;
    let _ = reqwest::Client::new()
        .get(format!("{}/v1/sims", client.base))
        .header("X-Soracom-API-Key", &client.api_key)
        .header("X-Soracom-Token", &client.token)
        .send()
        .await;
    let log: Vec<Value> = client
        .http
        .get(format!("{}/_emulator/requests", client.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary: Vec<(String, String, u64)> = log
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_string(),
                r["path"].as_str().unwrap().to_string(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("POST".into(), "/v1/auth".into(), 200),
            ("GET".into(), "/v1/sims".into(), 200),
            ("GET".into(), "/v1/sims/nope".into(), 404),
            ("GET".into(), "/v1/sims".into(), 0),
        ]
    );
    assert_eq!(log[1]["query"], "limit=2");
    assert!(log[0]["at_ms"].as_i64().unwrap() > 0);
    assert_eq!(emu.request_log().len(), 4);
    let cleared = client
        .http
        .delete(format!("{}/_emulator/requests", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    assert!(emu.request_log().is_empty());
}

#[tokio::test]
async fn admin_state_ip_and_device_updates() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let ip = client
        .http
        .get(format!("{}/_emulator/ip", client.base))
        .send()
        .await
        .unwrap();
    assert!(ip.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(ip.text().await.unwrap(), "127.0.0.1");
    let resp = client
        .http
        .post(format!(
            "{}/_emulator/devices/8942310022000000001",
            client.base
        ))
        .json(&json!({"online":false}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let sim: Value = client
        .get("/v1/sims/8942310022000000001")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sim["sessionStatus"]["online"], false);
    let state: Value = client
        .http
        .get(format!("{}/_emulator/state", client.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["devices"].as_array().unwrap().len(), 7);
    assert_eq!(state["tokens"], 1);
    assert!(state["mappings"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn audit_log_filters_and_paginates() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    for _ in 0..4 {
        client
            .post(
                "/v1/port_mappings",
                json!({"destination":{"imsi":"440103200000001","port":22}}),
            )
            .await;
    }
    client
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":"440103200000003","port":22}}),
        )
        .await;
    let (entries, pages) = all_pages(
        &client,
        "/v1/audit_logs/napter?resource_type=Subscriber&resource_id=440103200000001",
    )
    .await;
    assert_eq!((entries.len(), pages), (4, 2));
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["createdAt"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "newest first");
    let since = times[1];
    let recent: Vec<Value> = client
        .get(&format!(
            "/v1/audit_logs/napter?resource_id=440103200000001&from={since}"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(recent.len(), 2);
}

#[tokio::test]
async fn ten_thousand_generated_devices_load_fast() {
    let fleet = format!("{BASE_FLEET}\n[generate]\ncount = 10000\nonline_ratio = 0.5\n");
    let t = Instant::now();
    let emu = start(&fleet).await;
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(emu.devices().len(), 10_007);
    let online = emu.devices().iter().filter(|d| d.online).count();
    assert!((4000..6000).contains(&online), "{online}");
}
