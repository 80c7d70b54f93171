//! Shared helpers of the emulator's integration tests: fleets, start-up, an authenticated client.
#![allow(dead_code)]

use napsh_emulator::{Emulator, EmulatorConfig, Fleet};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::Duration;

/// A fleet with page_size 3, all three credential forms, a restricted key and 7 devices.
pub const BASE_FLEET: &str = r#"
operator_id = "OP0012345678"
page_size = 3

[[credentials]]
auth_key_id = "keyId-demo"
auth_key = "secret-demo"

[[credentials]]
email = "ops@example.com"
password = "pw"

[[credentials]]
operator_id = "OP0012345678"
user_name = "napsh"
password = "pw"

[[credentials]]
auth_key_id = "keyId-readonly"
auth_key = "secret-readonly"
deny = ["PortMapping:createPortMapping", "PortMapping:createPortMappingForSim"]

[[devices]]
name = "kiosk-12"
sim_id = "8942310022000000001"
imsi = "440103200000001"
online = true
group_id = "grp-osaka"
tags = { site = "osaka", role = "kiosk" }
ssh = "127.0.0.1:1"

[[devices]]
name = "kiosk-13"
sim_id = "8942310022000000002"
imsi = "440103200000002"
online = false
group_id = "grp-osaka"
tags = { site = "osaka", role = "kiosk" }

[[devices]]
name = "Camera-Tokyo"
sim_id = "8942310022000000003"
imsi = "440103200000003"
online = true
group_id = "grp-tokyo"
tags = { site = "tokyo", role = "camera" }

[[devices]]
name = "gateway-1"
sim_id = "8942310022000000004"
imsi = "440103200000004"
online = true
tags = { site = "nagoya" }

[[devices]]
name = "sensor-a"
sim_id = "8942310022000000005"
imsi = "440103200000005"
online = false

[[devices]]
name = "sensor-b"
sim_id = "8942310022000000006"
imsi = "440103200000006"
online = true

[[devices]]
name = "unnamed-ish"
sim_id = "8942310022000000007"
imsi = "440103200000007"
online = true
"#;

/// Starts an emulator for a fleet text.
pub async fn start(fleet_toml: &str) -> Emulator {
    let fleet = Fleet::from_toml_str(fleet_toml).expect("fleet parses");
    Emulator::start(EmulatorConfig::new(fleet))
        .await
        .expect("emulator starts")
}

/// A logged-in API client.
pub struct Client {
    /// HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// `X-Soracom-API-Key`.
    pub api_key: String,
    /// `X-Soracom-Token`.
    pub token: String,
}

impl Client {
    /// Logs in with the demo AuthKey.
    pub async fn login(emu: &Emulator) -> Client {
        Self::login_with(
            emu,
            json!({"authKeyId":"keyId-demo","authKey":"secret-demo"}),
        )
        .await
    }

    /// Logs in with the given `/v1/auth` body.
    pub async fn login_with(emu: &Emulator, body: Value) -> Client {
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{}/v1/auth", emu.api_url()))
            .json(&body)
            .send()
            .await
            .expect("auth request");
        assert_eq!(resp.status(), 200, "auth with {body}");
        let auth: Value = resp.json().await.expect("auth json");
        Client {
            http,
            base: emu.api_url(),
            api_key: auth["apiKey"].as_str().unwrap().to_string(),
            token: auth["token"].as_str().unwrap().to_string(),
        }
    }

    /// A request with auth headers; `path` starts with `/v1/…` or is an absolute URL.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        self.http
            .request(method, url)
            .header("X-Soracom-API-Key", &self.api_key)
            .header("X-Soracom-Token", &self.token)
    }

    /// GET with auth headers.
    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await.expect("GET")
    }

    /// POST JSON with auth headers.
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.req(Method::POST, path)
            .json(&body)
            .send()
            .await
            .expect("POST")
    }

    /// GET with auth headers, the body parsed as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.get(path).await.json().await.expect("a JSON body")
    }

    /// Creates a mapping to port 22 of `sim` in the per-SIM form (201 expected); its JSON.
    pub async fn create_for_sim(&self, sim: &str, duration: u64) -> Value {
        let resp = self
            .post(
                &format!("/v1/port_mappings/sims/{sim}"),
                json!({"destination":{"port":22,"service":"air"},"duration":duration}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json().await.expect("a mapping")
    }

    /// DELETE with auth headers.
    pub async fn delete(&self, path: &str) -> Response {
        self.req(Method::DELETE, path).send().await.expect("DELETE")
    }
}

/// Asserts a Soracom error body with the given code prefix; returns the message.
pub async fn error_body(resp: Response, status: u16, prefix: &str) -> String {
    assert_eq!(resp.status(), status);
    let body: Value = resp.json().await.expect("error body is JSON");
    let code = body["code"].as_str().expect("code");
    assert!(code.starts_with(prefix) && code.len() == 7, "code {code}");
    body["message"].as_str().expect("message").to_string()
}

/// Polls `cond` for up to 5 s.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A TCP "device" on 127.0.0.1 (forwarded to with `ssh = "127.0.0.1:PORT"`): greets every
/// connection with `label\n`, then echoes. Lives as long as the test's runtime.
pub async fn label_device(label: &'static str) -> u16 {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a device");
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                if sock
                    .write_all(format!("{label}\n").as_bytes())
                    .await
                    .is_ok()
                {
                    let (mut r, mut w) = sock.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                }
            });
        }
    });
    port
}

/// `ipAddress:port` of a wire mapping (JSON).
pub fn endpoint_of(m: &Value) -> String {
    format!("{}:{}", m["ipAddress"].as_str().unwrap(), m["port"])
}

/// Connects to `addr` and reads the greeting line of the device behind it.
pub async fn greeting(addr: &str) -> (tokio::io::BufReader<tokio::net::TcpStream>, String) {
    use tokio::io::AsyncBufReadExt;
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the mapping");
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("greeting in time")
        .expect("read the greeting");
    (reader, line.trim_end().to_string())
}

/// Asserts that `conn` gets reset within 5 s (a cut connection: RST, not a clean close).
pub async fn assert_cut(conn: &mut tokio::io::BufReader<tokio::net::TcpStream>) {
    use tokio::io::AsyncReadExt;
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest))
        .await
        .expect("the live connection was not cut");
    let err = ended.expect_err("a reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
}

/// Starts an emulator whose fleet is one online device per (name, SIM id, IMSI), each
/// forwarding to a [`label_device`] that greets with the device's name.
pub async fn label_fleet(devices: &[(&'static str, &str, &str)]) -> Emulator {
    let mut fleet =
        String::from("[[credentials]]\nauth_key_id = \"keyId-demo\"\nauth_key = \"secret-demo\"\n");
    for (name, sim_id, imsi) in devices {
        let port = label_device(name).await;
        fleet.push_str(&format!(
            "\n[[devices]]\nname = \"{name}\"\nsim_id = \"{sim_id}\"\nimsi = \"{imsi}\"\n\
             online = true\nssh = \"127.0.0.1:{port}\"\n"
        ));
    }
    start(&fleet).await
}

/// An admin request (`/_emulator/…`) with a JSON body.
pub async fn admin_send(emu: &Emulator, method: Method, path: &str, body: Value) -> Response {
    reqwest::Client::new()
        .request(method, format!("{}{path}", emu.api_url()))
        .json(&body)
        .send()
        .await
        .expect("admin request")
}

/// An admin GET (`/_emulator/…`), the body parsed as JSON.
pub async fn admin_get(emu: &Emulator, path: &str) -> Value {
    reqwest::get(format!("{}{path}", emu.api_url()))
        .await
        .expect("admin GET")
        .json()
        .await
        .expect("a JSON body")
}

/// Connects and expects the emulator to close at once without sending anything.
pub async fn expect_closed(addr: &str) {
    use tokio::io::AsyncReadExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("listener still accepts");
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "expected an immediate close");
}

/// Asserts a 403 whose message names `operation`.
pub async fn assert_denied(resp: Response, operation: &str) {
    let msg = error_body(resp, 403, "AUM").await;
    assert!(msg.contains(&format!("`{operation}`")), "{msg}");
}
