//! A mapping's end, whoever causes it: a `/v1` delete and a console delete both cut live
//! connections like expiry; a console create hands a freed endpoint to another device.

mod common;

use common::{admin_send, assert_cut, endpoint_of, greeting, label_fleet, Client};
use napsh_emulator::{ConsoleMapping, Emulator};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

const SIM_A: &str = "8942310077000000001";
const IMSI_A: &str = "440107700000001";
const SIM_B: &str = "8942310077000000002";

/// Two online devices, `dev-a` and `dev-b`, each a label device of the test.
async fn two_devices() -> Emulator {
    label_fleet(&[
        ("dev-a", SIM_A, IMSI_A),
        ("dev-b", SIM_B, "440107700000002"),
    ])
    .await
}

/// napsh's mapping to dev-a, deleted from the console at once: its port is free.
async fn freed_endpoint(emu: &Emulator, client: &Client) -> (Value, u16) {
    let mine = napsh_mapping(client).await;
    let port = mine["port"].as_u64().unwrap() as u16;
    assert!(emu.console_delete("127.0.0.1", port));
    (mine, port)
}

/// napsh's own mapping to dev-a (IMSI form).
async fn napsh_mapping(client: &Client) -> Value {
    let resp = client
        .post(
            "/v1/port_mappings",
            json!({"destination":{"imsi":IMSI_A,"port":22},"duration":600,
                   "source":{"ipRanges":["127.0.0.1/32"]}}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

fn audit_count(emu: &Emulator, kind: &str) -> usize {
    emu.audit_log()
        .iter()
        .filter(|e| e.entry_type == kind)
        .count()
}

fn v1_calls(emu: &Emulator) -> Vec<String> {
    emu.request_log()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn deleting_a_mapping_cuts_its_live_connections() {
    let emu = two_devices().await;
    let client = Client::login(&emu).await;
    let m = napsh_mapping(&client).await;
    let (mut conn, hello) = greeting(&endpoint_of(&m)).await;
    assert_eq!(hello, "dev-a");
    conn.get_mut().write_all(b"still here\n").await.unwrap();
    let mut echo = String::new();
    conn.read_line(&mut echo).await.unwrap();
    assert_eq!(
        echo, "still here\n",
        "the connection works before the delete"
    );
    let path = format!(
        "/v1/port_mappings/{}/{}",
        m["ipAddress"].as_str().unwrap(),
        m["port"]
    );
    assert_eq!(client.delete(&path).await.status(), 204);
    assert_cut(&mut conn).await;
    assert!(common::eventually(|| audit_count(&emu, "CLOSED") == 1).await);
    assert_eq!(audit_count(&emu, "DELETED"), 1);
    assert_eq!(audit_count(&emu, "EXPIRED"), 0);
}

#[tokio::test]
async fn console_delete_cuts_connections_outside_the_request_log() {
    let emu = two_devices().await;
    let client = Client::login(&emu).await;
    let (first, second) = (napsh_mapping(&client).await, napsh_mapping(&client).await);
    let (mut conn, _) = greeting(&endpoint_of(&first)).await;
    emu.clear_request_log();
    let port = first["port"].as_u64().unwrap() as u16;
    assert!(emu.console_delete("127.0.0.1", port));
    assert!(!emu.console_delete("127.0.0.1", port), "already gone");
    assert_cut(&mut conn).await;
    // the same through the admin API
    let admin = format!("/_emulator/mappings/127.0.0.1/{}", second["port"]);
    let delete = || admin_send(&emu, Method::DELETE, &admin, Value::Null);
    assert_eq!(delete().await.status(), 204);
    assert_eq!(delete().await.status(), 404);
    assert!(emu.mappings().is_empty());
    assert_eq!(audit_count(&emu, "DELETED"), 2);
    assert!(v1_calls(&emu).is_empty(), "{:?}", v1_calls(&emu));
    let listed = client.get("/v1/port_mappings").await;
    assert_eq!(listed.json::<Value>().await.unwrap(), json!([]));
}

#[tokio::test]
async fn console_create_hands_a_freed_endpoint_to_another_device() {
    let emu = two_devices().await;
    let client = Client::login(&emu).await;
    let (mine, port) = freed_endpoint(&emu, &client).await;
    // at once: the freed port is taken again without waiting for anything
    let theirs = emu
        .console_create(ConsoleMapping {
            ip_ranges: vec!["127.0.0.0/8".to_string()],
            duration_secs: 120,
            port: Some(port),
            ..ConsoleMapping::new(SIM_B)
        })
        .await
        .expect("console create");
    assert_eq!(
        (theirs.ip_address.as_str(), theirs.port),
        ("127.0.0.1", port)
    );
    assert_eq!(theirs.sim_id.as_deref(), Some(SIM_B));
    assert_eq!(theirs.duration, Some(120));
    let (_conn, hello) = greeting(&endpoint_of(&mine)).await;
    assert_eq!(
        hello, "dev-b",
        "the old endpoint now leads to another device"
    );
    let listed = client
        .get_json(&format!("/v1/port_mappings/sims/{SIM_B}"))
        .await;
    assert_eq!(listed[0]["port"], json!(port));
    let posts: Vec<String> = v1_calls(&emu)
        .into_iter()
        .filter(|c| c.starts_with("POST /v1/port_mappings"))
        .collect();
    assert_eq!(posts, ["POST /v1/port_mappings"], "only napsh's own create");
}

#[tokio::test]
async fn console_create_over_http_and_its_refusals() {
    let emu = two_devices().await;
    let post = |body: Value| admin_send(&emu, Method::POST, "/_emulator/mappings", body);
    let resp = post(json!({"sim_id": SIM_A, "device_port": 22})).await;
    assert_eq!(resp.status(), 201);
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["destination"]["simId"], SIM_A);
    assert_eq!(m["duration"], 3600);
    assert_eq!(greeting(&endpoint_of(&m)).await.1, "dev-a");
    let busy = post(json!({"sim_id": SIM_B, "port": m["port"]})).await;
    assert_eq!(busy.status(), 409, "the endpoint is held by a live mapping");
    assert_eq!(post(json!({"sim_id": "nope"})).await.status(), 404);
    let long = post(json!({"sim_id": SIM_B, "duration_secs": 99999})).await;
    assert_eq!(long.status(), 400);
    assert_eq!(emu.mappings().len(), 1);
    assert_eq!(audit_count(&emu, "CREATED"), 1);
    assert!(emu.request_log().is_empty());
}

#[tokio::test]
async fn reuse_port_for_next_mapping_still_picks_the_endpoint() {
    let emu = two_devices().await;
    let client = Client::login(&emu).await;
    let (_, port) = freed_endpoint(&emu, &client).await;
    emu.reuse_port_for_next_mapping(port);
    let second = client.create_for_sim(SIM_B, 60).await;
    assert_eq!(second["port"], json!(port));
    assert_eq!(greeting(&endpoint_of(&second)).await.1, "dev-b");
}
