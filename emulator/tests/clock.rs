//! The emulator's clock: an offset moves every reported time and every `Date` header, while
//! mappings still expire after their real duration.

mod common;

use common::{eventually, start, Client, BASE_FLEET};
use reqwest::Response;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const THREE_HOURS_MS: i64 = 3 * 3600 * 1000;
const IMSI: &str = "440103200000001";
const SIM: &str = "8942310022000000001";

fn machine_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The `Date` header of `resp` in unix ms (whole seconds).
fn date_ms(resp: &Response) -> i64 {
    let raw = resp
        .headers()
        .get_all("date")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert_eq!(raw.len(), 1, "exactly one Date header: {raw:?}");
    let at = httpdate::parse_http_date(&raw[0]).expect("an RFC 7231 date");
    at.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Asserts that `t` is `offset` away from the machine's clock (within 2 s).
fn assert_on_clock(what: &str, t: i64, offset: i64) {
    let expected = machine_now_ms() + offset;
    assert!(
        (t - expected).abs() <= 2000,
        "{what}: {t} is not on the emulator's clock (expected about {expected})"
    );
}

#[tokio::test]
async fn every_answer_carries_a_date_on_the_emulators_clock() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    assert_on_clock("Date, no offset", date_ms(&client.get("/v1/sims").await), 0);
    let put = client
        .http
        .put(format!("{}/_emulator/clock", emu.api_url()))
        .json(&json!({"offset_ms": THREE_HOURS_MS}))
        .send()
        .await
        .unwrap();
    assert_on_clock("Date of the admin answer", date_ms(&put), THREE_HOURS_MS);
    emu.set_faults(vec![napsh_emulator::FaultRule::new(
        "GET",
        "/v1/query/sims",
        napsh_emulator::Fault::Status { status: 503 },
        Some(1),
    )]);
    for path in [
        "/v1/sims",
        "/v1/sims/nope",
        "/v1/query/sims",
        "/v1/no-such-api",
    ] {
        let resp = client.get(path).await;
        assert_on_clock(&format!("Date of {path}"), date_ms(&resp), THREE_HOURS_MS);
    }
    let unauthenticated = reqwest::get(format!("{}/v1/sims", emu.api_url()))
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_on_clock("Date of a 401", date_ms(&unauthenticated), THREE_HOURS_MS);
    let state = common::admin_get(&emu, "/_emulator/state").await;
    assert_eq!(state["clock_offset_ms"], json!(THREE_HOURS_MS));
}

#[tokio::test]
async fn mapping_and_audit_times_follow_the_clock() {
    let emu = start(BASE_FLEET).await;
    emu.set_clock_offset_ms(-THREE_HOURS_MS);
    let client = Client::login(&emu).await;
    let resp = client
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":IMSI,"port":22},"duration":600}),
        )
        .await;
    let date = date_ms(&resp);
    let m: Value = resp.json().await.unwrap();
    let created = m["createdTime"].as_i64().unwrap();
    assert_on_clock("createdTime", created, -THREE_HOURS_MS);
    assert_eq!(m["expiredTime"].as_i64().unwrap() - created, 600_000);
    // the answer's Date is taken after the mapping was made, on the same clock
    assert!(
        date / 1000 >= created / 1000 && date <= created + 2000,
        "{date} vs {created}"
    );
    let audit = emu.audit_log();
    let entry = audit.iter().find(|e| e.entry_type == "CREATED").unwrap();
    assert!(entry.created_at >= created && entry.created_at - created < 2000);
    let sim = client.get_json(&format!("/v1/sims/{SIM}")).await;
    assert_eq!(sim["lastPortMappingCreatedTime"].as_i64(), Some(created));
    let log = emu.request_log();
    assert_on_clock("request log", log.last().unwrap().at_ms, -THREE_HOURS_MS);
    assert_on_clock("clock_ms", emu.clock_ms(), -THREE_HOURS_MS);
}

#[tokio::test]
async fn expiry_still_takes_the_real_duration() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let create = |duration: u64| {
        client.post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":IMSI,"port":22},"duration":duration}),
        )
    };
    // a clock a day ahead: a mapping made now is not expired at once
    emu.set_clock_offset_ms(86_400_000);
    let long: Value = create(600).await.json().await.unwrap();
    // a clock a day behind: a 1 s mapping still ends after about 1 s
    emu.set_clock_offset_ms(-86_400_000);
    let short: Value = create(1).await.json().await.unwrap();
    assert_eq!(
        short["expiredTime"].as_i64().unwrap() - short["createdTime"].as_i64().unwrap(),
        1000
    );
    let expired = || emu.audit_log().iter().any(|e| e.entry_type == "EXPIRED");
    assert!(eventually(expired).await, "the 1 s mapping expired");
    assert_eq!(emu.mappings().len(), 1);
    assert_eq!(
        emu.mappings()[0].port as u64,
        long["port"].as_u64().unwrap()
    );
    let expired = emu.audit_log();
    let expired = expired.iter().find(|e| e.entry_type == "EXPIRED").unwrap();
    assert_on_clock("EXPIRED entry", expired.created_at, -86_400_000);
}
