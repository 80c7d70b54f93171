//! Napter for real: mappings forward real bytes to real sshd devices, with source ranges,
//! offline refusal, expiry, host-key rotation, cleanup and the binary's ready line.

mod common;

use common::{eventually, expect_closed, start, Client};
use napsh_emulator::SshServer;
use serde_json::{json, Value};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;

const SIM: &str = "8942310099000000001";
const IMSI: &str = "440109900000001";

fn spawn_fleet(authorized_keys: Option<&Path>) -> String {
    let keys = authorized_keys
        .map(|p| format!("[ssh]\nauthorized_keys = {:?}\n", p.display().to_string()))
        .unwrap_or_default();
    format!(
        r#"
[[credentials]]
auth_key_id = "keyId-demo"
auth_key = "secret-demo"

[[devices]]
name = "pi-1"
sim_id = "{SIM}"
imsi = "{IMSI}"
online = true
ssh = "spawn"
{keys}"#
    )
}

async fn create(client: &Client, body: Value) -> Value {
    let resp = client.post("/v1/port_mappings", body).await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

fn mapping_addr(m: &Value) -> String {
    format!("{}:{}", m["ipAddress"].as_str().unwrap(), m["port"])
}

async fn read_banner(addr: &str) -> String {
    let stream = TcpStream::connect(addr).await.expect("connect to mapping");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(stream).read_line(&mut line),
    )
    .await
    .expect("banner in time")
    .expect("read banner");
    line
}

fn audit_types(emu: &napsh_emulator::Emulator) -> Vec<String> {
    emu.audit_log()
        .iter()
        .map(|e| e.entry_type.clone())
        .collect()
}

#[tokio::test]
async fn mapping_forwards_to_real_sshd_and_audits() {
    let emu = start(&spawn_fleet(None)).await;
    let device = &emu.devices()[0];
    assert!(device.ssh_port.is_some());
    assert!(device
        .host_key
        .as_deref()
        .unwrap()
        .starts_with("ssh-ed25519 "));
    let client = Client::login(&emu).await;
    let m = create(
        &client,
        json!({"destination":{"imsi":IMSI,"port":22},"duration":60,"tlsRequired":false,
               "source":{"ipRanges":["127.0.0.1/32"]}}),
    )
    .await;
    let banner = read_banner(&mapping_addr(&m)).await;
    assert!(banner.starts_with("SSH-2.0-OpenSSH"), "{banner:?}");
    assert!(eventually(|| audit_types(&emu).contains(&"CLOSED".to_string())).await);
    let connected = emu
        .audit_log()
        .into_iter()
        .find(|e| e.entry_type == "CONNECTED")
        .expect("CONNECTED entry");
    let dir = connected.direction.expect("direction");
    assert_eq!(dir.source_ip_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(dir.destination_port, m["port"].as_u64().map(|p| p as u16));
    assert_eq!(connected.imsi.as_deref(), Some(IMSI));
    assert!(connected.connection_id.is_some());
}

#[tokio::test]
async fn ssh_login_through_mapping_sees_device_host_key() {
    if Command::new("ssh").arg("-V").output().is_err() {
        eprintln!("no ssh client; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let emu = start(&spawn_fleet(Some(&key.with_extension("pub")))).await;
    let host_key = emu.devices()[0].host_key.clone().unwrap();
    let client = Client::login(&emu).await;
    let m = create(
        &client,
        json!({"destination":{"imsi":IMSI,"port":22},"duration":60}),
    )
    .await;
    let port = m["port"].to_string();
    let known = dir.path().join("known_hosts");
    std::fs::write(&known, format!("[127.0.0.1]:{port} {host_key}\n")).unwrap();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let out = tokio::task::spawn_blocking(move || {
        Command::new("ssh")
            .args(["-p", &port, "-i"])
            .arg(&key)
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .args(["-o", "IdentitiesOnly=yes"])
            .arg(format!("{user}@127.0.0.1"))
            .arg("echo through-napter")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ssh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "through-napter"
    );
}

#[tokio::test]
async fn source_outside_ip_ranges_is_denied() {
    let emu = start(&spawn_fleet(None)).await;
    let client = Client::login(&emu).await;
    let m = create(
        &client,
        json!({"destination":{"imsi":IMSI,"port":22},"source":{"ipRanges":["10.0.0.0/8"]}}),
    )
    .await;
    expect_closed(&mapping_addr(&m)).await;
    assert!(eventually(|| audit_types(&emu).contains(&"DENIED".to_string())).await);
    assert!(!audit_types(&emu).contains(&"CONNECTED".to_string()));
}

#[tokio::test]
async fn offline_device_is_refused() {
    let emu = start(&spawn_fleet(None)).await;
    let client = Client::login(&emu).await;
    let m = create(&client, json!({"destination":{"imsi":IMSI,"port":22}})).await;
    emu.set_online(SIM, false).unwrap();
    expect_closed(&mapping_addr(&m)).await;
    assert!(eventually(|| audit_types(&emu).contains(&"DENIED".to_string())).await);
    emu.set_online(SIM, true).unwrap();
    assert!(read_banner(&mapping_addr(&m)).await.starts_with("SSH-2.0-"));
}

#[tokio::test]
async fn expiry_removes_mapping_and_closes_connections() {
    let emu = start(&spawn_fleet(None)).await;
    let client = Client::login(&emu).await;
    let m = create(
        &client,
        json!({"destination":{"imsi":IMSI,"port":22},"duration":1}),
    )
    .await;
    let addr = mapping_addr(&m);
    assert_eq!(
        m["expiredTime"].as_i64().unwrap() - m["createdTime"].as_i64().unwrap(),
        1000
    );
    let mut live = BufReader::new(TcpStream::connect(&addr).await.unwrap());
    let mut banner = String::new();
    live.read_line(&mut banner).await.unwrap();
    assert!(banner.starts_with("SSH-2.0-"));
    assert!(
        eventually(|| emu.mappings().is_empty()).await,
        "mapping expired"
    );
    assert!(audit_types(&emu).contains(&"EXPIRED".to_string()));
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), live.read_to_end(&mut rest))
        .await
        .expect("live connection closed on expiry")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(TcpStream::connect(&addr).await.is_err(), "listener closed");
    let gone = client
        .get(&format!("/v1/port_mappings/subscribers/{IMSI}"))
        .await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn host_key_rotation_keeps_port_and_changes_key() {
    let emu = start(&spawn_fleet(None)).await;
    let before = emu.devices()[0].clone();
    let resp = reqwest::Client::new()
        .post(format!("{}/_emulator/devices/{SIM}", emu.api_url()))
        .json(&json!({"rotate_host_key":true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["sshPort"], before.ssh_port.unwrap());
    assert_ne!(after["hostKey"].as_str(), before.host_key.as_deref());
    assert_eq!(
        emu.devices()[0].host_key.as_deref(),
        after["hostKey"].as_str()
    );
    let banner = read_banner(&format!("127.0.0.1:{}", before.ssh_port.unwrap())).await;
    assert!(banner.starts_with("SSH-2.0-OpenSSH"));
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn sshd_pids_under(dir: &Path) -> Vec<u32> {
    let needle = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c);
                    (c.starts_with("/usr/sbin/sshd") || c.starts_with("sshd"))
                        && c.contains(&needle)
                })
                .unwrap_or(false)
        })
        .filter(|pid| alive(*pid))
        .collect()
}

#[tokio::test]
async fn dropping_the_emulator_kills_every_sshd() {
    let work = tempfile::tempdir().unwrap();
    let fleet = napsh_emulator::Fleet::from_toml_str(&spawn_fleet(None)).unwrap();
    let mut config = napsh_emulator::EmulatorConfig::new(fleet);
    config.work_dir = Some(work.path().to_path_buf());
    let emu = napsh_emulator::Emulator::start(config).await.unwrap();
    // (a just-forked pre-auth child of the readiness probe may briefly show up too)
    assert!(!sshd_pids_under(work.path()).is_empty());
    drop(emu);
    let left = sshd_pids_under(work.path());
    let info: Vec<String> = left
        .iter()
        .map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default())
        .collect();
    assert!(left.is_empty(), "{info:?}");
}

#[test]
fn standalone_ssh_server_is_reusable() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = SshServer::spawn(dir.path().join("dev"), None).unwrap();
    let port = server.port();
    let pid = server.pid().unwrap();
    let mut banner = String::new();
    std::io::BufReader::new(std::net::TcpStream::connect(server.addr()).unwrap())
        .read_line(&mut banner)
        .unwrap();
    assert!(banner.starts_with("SSH-2.0-OpenSSH"));
    let old = server.host_public_key().to_string();
    let new = server.rotate_host_key().unwrap();
    assert_ne!(old, new);
    assert_eq!(server.port(), port);
    drop(server);
    assert!(!alive(pid));
}

#[test]
fn binary_prints_ready_line_and_cleans_up_on_sigterm() {
    let work = tempfile::tempdir().unwrap();
    let fleet = work.path().join("fleet.toml");
    std::fs::write(&fleet, spawn_fleet(None)).unwrap();
    let mut child = ChildGuard(
        Command::new(env!("CARGO_BIN_EXE_napsh-emulator"))
            .arg("--fleet")
            .arg(&fleet)
            .arg("--work-dir")
            .arg(work.path())
            .args(["--generate", "3"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut child.0;
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
    assert!(ready["api"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let devices = ready["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 4);
    let pi = devices.iter().find(|d| d["name"] == "pi-1").unwrap();
    for field in ["simId", "imsi", "online", "sshPort", "hostKey"] {
        assert!(!pi[field].is_null(), "{field} in {pi}");
    }
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(work.path().join("ready.json")).unwrap())
            .unwrap();
    assert_eq!(file, ready);
    assert!(!sshd_pids_under(work.path()).is_empty());
    // SAFETY: signalling the child we spawned.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(sshd_pids_under(work.path()).is_empty());
}

/// Kills the emulator binary if the test fails before it is stopped.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            // SAFETY: signalling the child we spawned; SIGTERM lets it kill its sshd.
            unsafe {
                libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
            }
            let _ = self.0.wait();
        }
    }
}
