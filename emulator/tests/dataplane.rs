//! Data-plane faults at run time, per device or per mapping: cut resets live connections,
//! blackhole holds bytes without closing, shaping adds latency and paces bandwidth, and an
//! offline device refuses new connections.

mod common;

use common::{
    admin_send, assert_cut, endpoint_of, eventually, expect_closed, greeting, label_fleet, Client,
};
use napsh_emulator::{Emulator, LinkAction, LinkTarget, Shaping};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SIM_A: &str = "8942310066000000001";
const SIM_B: &str = "8942310066000000002";

type Conn = BufReader<TcpStream>;

async fn two_devices() -> (Emulator, Client) {
    let emu = label_fleet(&[
        ("dev-a", SIM_A, "440106600000001"),
        ("dev-b", SIM_B, "440106600000002"),
    ])
    .await;
    let client = Client::login(&emu).await;
    (emu, client)
}

async fn mapping(client: &Client, sim: &str) -> Value {
    client.create_for_sim(sim, 600).await
}

/// Sends `line` and reads its echo (within 10 s).
async fn echo(conn: &mut Conn, line: &str) -> String {
    conn.get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .await
        .unwrap();
    let mut got = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_line(&mut got))
        .await
        .expect("echo in time")
        .unwrap();
    got.trim_end().to_string()
}

async fn live(emu: &Emulator, target: &LinkTarget, n: usize) {
    assert!(eventually(|| emu.live_connections(target) == n).await);
}

#[tokio::test]
async fn cut_resets_every_live_connection_of_a_device() {
    let (emu, client) = two_devices().await;
    let (a1, a2, b) = (
        mapping(&client, SIM_A).await,
        mapping(&client, SIM_A).await,
        mapping(&client, SIM_B).await,
    );
    let (mut c1, _) = greeting(&endpoint_of(&a1)).await;
    let (mut c2, _) = greeting(&endpoint_of(&a2)).await;
    let (mut cb, _) = greeting(&endpoint_of(&b)).await;
    let dev_a = LinkTarget::device(SIM_A);
    live(&emu, &dev_a, 2).await;
    assert_eq!(emu.link(&dev_a, &LinkAction::Cut), 2);
    for conn in [&mut c1, &mut c2] {
        assert_cut(conn).await;
    }
    assert_eq!(echo(&mut cb, "b lives").await, "b lives");
    let (mut again, hello) = greeting(&endpoint_of(&a1)).await;
    assert_eq!(hello, "dev-a", "new connections work after a cut");
    assert_eq!(echo(&mut again, "x").await, "x");
}

#[tokio::test]
async fn cut_of_one_mapping_over_http() {
    let (emu, client) = two_devices().await;
    let (a1, a2) = (mapping(&client, SIM_A).await, mapping(&client, SIM_A).await);
    let (mut c1, _) = greeting(&endpoint_of(&a1)).await;
    let (mut c2, _) = greeting(&endpoint_of(&a2)).await;
    live(&emu, &LinkTarget::device(SIM_A), 2).await;
    let cut = json!({"action": "cut"});
    let url = format!("/_emulator/mappings/127.0.0.1/{}/link", a1["port"]);
    let resp = admin_send(&emu, Method::POST, &url, cut.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"connections": 1})
    );
    assert_cut(&mut c1).await;
    assert_eq!(echo(&mut c2, "other mapping").await, "other mapping");
    let unknown = admin_send(&emu, Method::POST, "/_emulator/devices/nope/link", cut).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn blackhole_holds_bytes_without_closing_then_lets_them_through() {
    let (emu, client) = two_devices().await;
    let m = mapping(&client, SIM_A).await;
    let (mut conn, _) = greeting(&endpoint_of(&m)).await;
    assert_eq!(echo(&mut conn, "before").await, "before");
    let dev_a = LinkTarget::device(SIM_A);
    assert_eq!(emu.link(&dev_a, &LinkAction::Blackhole { secs: 60 }), 1);
    conn.get_mut().write_all(b"held\n").await.unwrap();
    let mut got = String::new();
    let held = tokio::time::timeout(Duration::from_millis(500), conn.read_line(&mut got)).await;
    assert!(
        held.is_err(),
        "nothing gets through a blackhole (got {got:?})"
    );
    assert_eq!(emu.live_connections(&dev_a), 1, "the connection stays open");
    emu.link(&dev_a, &LinkAction::Clear);
    tokio::time::timeout(Duration::from_secs(10), conn.read_line(&mut got))
        .await
        .expect("held bytes delivered once the blackhole ends")
        .unwrap();
    assert_eq!(got, "held\n");
    // a short blackhole ends by itself
    emu.link(&dev_a, &LinkAction::Blackhole { secs: 1 });
    assert_eq!(echo(&mut conn, "after").await, "after");
}

#[tokio::test]
async fn shaping_adds_latency_and_paces_bandwidth() {
    let (emu, client) = two_devices().await;
    let m = mapping(&client, SIM_A).await;
    let (mut conn, _) = greeting(&endpoint_of(&m)).await;
    let mapping_target = LinkTarget::mapping("127.0.0.1", m["port"].as_u64().unwrap() as u16);
    let slow = Shaping {
        rtt_ms: 400,
        kbit_per_sec: None,
    };
    assert_eq!(emu.link(&mapping_target, &LinkAction::Shape(slow)), 1);
    let t = Instant::now();
    assert_eq!(echo(&mut conn, "slow").await, "slow");
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let narrow = Shaping {
        rtt_ms: 0,
        kbit_per_sec: Some(200),
    };
    emu.link(&mapping_target, &LinkAction::Shape(narrow));
    let payload = "x".repeat(50_000);
    let t = Instant::now();
    assert_eq!(echo(&mut conn, &payload).await.len(), payload.len());
    // 50 kB each way at 25 kB/s: about 2 s each way, pipelined
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    emu.link(&mapping_target, &LinkAction::Clear);
    let big = "y".repeat(2_000_000);
    assert_eq!(
        echo(&mut conn, &big).await.len(),
        big.len(),
        "spliced again"
    );
}

#[tokio::test]
async fn an_offline_device_refuses_new_connections_only() {
    let (emu, client) = two_devices().await;
    let m = mapping(&client, SIM_A).await;
    let (mut conn, _) = greeting(&endpoint_of(&m)).await;
    emu.set_online(SIM_A, false).unwrap();
    expect_closed(&endpoint_of(&m)).await;
    assert_eq!(echo(&mut conn, "still up").await, "still up");
    emu.set_online(SIM_A, true).unwrap();
    assert_eq!(greeting(&endpoint_of(&m)).await.1, "dev-a");
}
