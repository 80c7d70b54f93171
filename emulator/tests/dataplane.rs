//! Data-plane faults at run time, per device or per mapping: cut resets live connections,
//! blackhole holds bytes without closing, shaping adds latency and paces bandwidth, and an
//! offline device refuses new connections.

mod common;

use common::{assert_cut, endpoint_of, eventually, greeting, label_device, start, Client};
use napsh_emulator::{Emulator, LinkAction, LinkTarget, Shaping};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SIM_A: &str = "8942310066000000001";
const SIM_B: &str = "8942310066000000002";

type Conn = BufReader<TcpStream>;

async fn two_devices() -> (Emulator, Client) {
    let (a, b) = (label_device("dev-a").await, label_device("dev-b").await);
    let emu = start(&format!(
        r#"
[[credentials]]
auth_key_id = "keyId-demo"
auth_key = "secret-demo"

[[devices]]
name = "dev-a"
sim_id = "{SIM_A}"
online = true
ssh = "127.0.0.1:{a}"

[[devices]]
name = "dev-b"
sim_id = "{SIM_B}"
online = true
ssh = "127.0.0.1:{b}"
"#
    ))
    .await;
    let client = Client::login(&emu).await;
    (emu, client)
}

async fn mapping(client: &Client, sim: &str) -> Value {
    let resp = client
        .post(
            &format!("/v1/port_mappings/sims/{sim}"),
            json!({"destination":{"port":22,"service":"air"},"duration":600}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
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
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("cut in time");
        let err = read.expect_err("a reset, not a clean close");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
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
    let url = format!(
        "{}/_emulator/mappings/127.0.0.1/{}/link",
        emu.api_url(),
        a1["port"]
    );
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&json!({"action":"cut"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"connections": 1})
    );
    assert_cut(&mut c1).await;
    assert_eq!(echo(&mut c2, "other mapping").await, "other mapping");
    let unknown = format!("{}/_emulator/devices/nope/link", emu.api_url());
    let resp = reqwest::Client::new()
        .post(&unknown)
        .json(&json!({"action":"cut"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
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
    let mut refused = TcpStream::connect(endpoint_of(&m)).await.unwrap();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), refused.read(&mut buf))
        .await
        .expect("refused in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "a new connection is closed at once");
    assert_eq!(echo(&mut conn, "still up").await, "still up");
    emu.set_online(SIM_A, true).unwrap();
    assert_eq!(greeting(&endpoint_of(&m)).await.1, "dev-a");
}
