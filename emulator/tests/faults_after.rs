//! Faults after the operation: the handler runs (the mapping IS created or deleted), then the
//! client gets the fault. Plain rules still answer instead of the handler.

mod common;

use common::{eventually, start, Client, BASE_FLEET};
use napsh_emulator::{Emulator, Fault, FaultRule};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const CREATE: &str = "/v1/port_mappings";

fn create_body() -> Value {
    json!({"destination":{"imsi":"440103200000001","port":22},"duration":60})
}

fn statuses(emu: &Emulator, path: &str) -> Vec<u16> {
    emu.request_log()
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect()
}

/// An emulator with one fault rule for creates (`times` 1; after the operation when `after`),
/// and a logged-in client.
async fn with_create_fault(fault: Fault, after: bool) -> (Emulator, Client) {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let rule = FaultRule::new("POST", CREATE, fault, Some(1));
    emu.set_faults(vec![if after { rule.after() } else { rule }]);
    (emu, client)
}

#[tokio::test]
async fn a_create_that_succeeded_server_side_answers_500() {
    let (emu, client) = with_create_fault(Fault::Status { status: 500 }, true).await;
    common::error_body(client.post(CREATE, create_body()).await, 500, "COM").await;
    assert_eq!(emu.mappings().len(), 1, "the mapping was created anyway");
    assert!(emu.audit_log().iter().any(|e| e.entry_type == "CREATED"));
    assert_eq!(statuses(&emu, CREATE), [500]);
}

#[tokio::test]
async fn a_plain_fault_still_skips_the_operation() {
    let (emu, client) = with_create_fault(Fault::Status { status: 500 }, false).await;
    common::error_body(client.post(CREATE, create_body()).await, 500, "COM").await;
    assert!(emu.mappings().is_empty());
}

#[tokio::test]
async fn a_dropped_answer_after_the_create() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let rule = json!({"rules":[{"method":"POST","path":CREATE,"times":1,"after":true,
                                "fault":{"kind":"drop_connection"}}]});
    let admin = format!("{}/_emulator/faults", emu.api_url());
    let put = client.http.put(&admin).json(&rule).send().await.unwrap();
    assert_eq!(put.status(), 204);
    let got = common::admin_get(&emu, "/_emulator/faults").await;
    assert_eq!(got["rules"][0]["after"], json!(true));
    let sent = client
        .req(Method::POST, CREATE)
        .json(&create_body())
        .send()
        .await;
    assert!(sent.is_err(), "expected a connection error, got {sent:?}");
    assert_eq!(emu.mappings().len(), 1);
    assert_eq!(statuses(&emu, CREATE), [0]);
}

#[tokio::test]
async fn an_answer_delayed_beyond_the_client_timeout() {
    let (emu, client) = with_create_fault(Fault::Delay { ms: 3000 }, true).await;
    let sent = client
        .req(Method::POST, CREATE)
        .json(&create_body())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(sent.unwrap_err().is_timeout());
    assert_eq!(
        emu.mappings().len(),
        1,
        "created before the answer was held back"
    );
    assert!(eventually(|| statuses(&emu, CREATE) == [0]).await);
}

#[tokio::test]
async fn a_delete_that_happened_but_answered_503() {
    let emu = start(BASE_FLEET).await;
    let client = Client::login(&emu).await;
    let m: Value = client
        .post(CREATE, create_body())
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/port_mappings/127.0.0.1/{}", m["port"]);
    emu.set_faults(vec![FaultRule::new(
        "DELETE",
        "/v1/port_mappings/*/*",
        Fault::Status { status: 503 },
        None,
    )
    .after()]);
    common::error_body(client.delete(&path).await, 503, "COM").await;
    assert!(emu.mappings().is_empty());
    assert!(emu.audit_log().iter().any(|e| e.entry_type == "DELETED"));
}
