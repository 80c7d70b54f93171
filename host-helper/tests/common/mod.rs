//! Test fixtures for the CLI tests: an isolated home (profile, config, XDG dirs), a small
//! Soracom API stub (only what the CLI mechanics need; the emulator is the real thing) whose
//! mappings point straight at a real sshd, and that sshd.

#![allow(dead_code)]

use axum::extract::{Path as AxPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// The stub's state.
#[derive(Default)]
pub struct Api {
    /// SIM objects by id.
    pub sims: Vec<Value>,
    /// Live mappings.
    pub mappings: Vec<Value>,
    /// Where a mapping to each SIM goes (sshd port).
    pub device_ports: HashMap<String, u16>,
    /// `METHOD path` of every request.
    pub log: Vec<String>,
}

type Shared = Arc<Mutex<Api>>;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn auth(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    s.lock().unwrap().log.push("POST /v1/auth".into());
    if body["authKey"] != "secret-test" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code":"AUM0004","message":"bad"})),
        )
            .into_response();
    }
    Json(json!({"apiKey":"APIKEY-SECRET-1","token":"TOKEN-SECRET-2","operatorId":"OP1"}))
        .into_response()
}

async fn list_sims(State(s): State<Shared>) -> Response {
    let mut api = s.lock().unwrap();
    api.log.push("GET /v1/sims".into());
    Json(api.sims.clone()).into_response()
}

async fn sim(State(s): State<Shared>, AxPath(id): AxPath<String>) -> Response {
    let mut api = s.lock().unwrap();
    api.log.push(format!("GET /v1/sims/{id}"));
    match api.sims.iter().find(|s| s["simId"] == id.as_str()) {
        Some(sim) => Json(sim.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"code":"SEM0001","message":"no sim"})),
        )
            .into_response(),
    }
}

async fn list_mappings(State(s): State<Shared>) -> Response {
    let mut api = s.lock().unwrap();
    api.log.push("GET /v1/port_mappings".into());
    Json(api.mappings.clone()).into_response()
}

async fn create(
    State(s): State<Shared>,
    AxPath(id): AxPath<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut api = s.lock().unwrap();
    api.log.push(format!("POST /v1/port_mappings/sims/{id}"));
    assert_eq!(body["tlsRequired"], false);
    assert_eq!(body["destination"]["service"], "air");
    let port = *api
        .device_ports
        .get(&id)
        .expect("no device port for this SIM");
    let duration = body["duration"].as_i64().unwrap();
    let m = json!({
        "ipAddress": "127.0.0.1", "port": port, "hostname": "localhost",
        "endpoint": format!("127.0.0.1:{port}"),
        "destination": {"simId": id, "port": body["destination"]["port"]},
        "simId": id, "source": body["source"], "duration": duration,
        "createdTime": now_ms(), "expiredTime": now_ms() + duration * 1000, "tlsRequired": false
    });
    api.mappings.push(m.clone());
    (StatusCode::CREATED, Json(m)).into_response()
}

async fn remove(State(s): State<Shared>, AxPath((ip, port)): AxPath<(String, u16)>) -> Response {
    let mut api = s.lock().unwrap();
    api.log
        .push(format!("DELETE /v1/port_mappings/{ip}/{port}"));
    let before = api.mappings.len();
    api.mappings
        .retain(|m| !(m["ipAddress"] == ip.as_str() && m["port"] == port));
    if api.mappings.len() == before {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"code":"SEM0002","message":"no mapping"})),
        )
            .into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A SIM object.
pub fn sim_json(id: &str, name: &str, online: bool) -> Value {
    json!({
        "simId": id, "status": "active", "speedClass": "s1.standard",
        "tags": {"name": name, "role": "kiosk"},
        "sessionStatus": {"online": online, "imsi": format!("4401{id}")},
        "profiles": {id: {"iccid": id, "primaryImsi": format!("4401{id}")}}
    })
}

/// One isolated world: home, profile, config, stub API, optional sshd.
pub struct World {
    /// Root of every file.
    pub dir: TempDir,
    /// Keeps the stub running.
    runtime: tokio::runtime::Runtime,
    /// The stub's state.
    pub api: Shared,
    /// Stub URL.
    pub url: String,
    /// Running sshd processes.
    sshds: Vec<Child>,
}

impl World {
    /// Starts the stub with `sims` and writes a profile and config.
    pub fn new(sims: Vec<Value>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let api: Shared = Arc::new(Mutex::new(Api {
            sims,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/auth", post(auth))
            .route("/v1/sims", get(list_sims))
            .route("/v1/sims/{id}", get(sim))
            .route("/v1/port_mappings", get(list_mappings))
            .route("/v1/port_mappings/sims/{id}", post(create))
            .route("/v1/port_mappings/{ip}/{port}", delete(remove))
            .with_state(api.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        let world = World {
            dir,
            runtime,
            api,
            url,
            sshds: vec![],
        };
        world.write_profile("test", &json!({"coverageType":"jp","authKeyId":"keyId-test","authKey":"secret-test","endpoint": world.url}));
        world.write_config("");
        world
    }

    /// Path under the world's root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a 0600 profile.
    pub fn write_profile(&self, name: &str, body: &Value) -> PathBuf {
        let path = self.path(&format!("soracom/{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, body.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// Writes the napsh config (the user key and root user, plus `extra`).
    pub fn write_config(&self, extra: &str) {
        let path = self.path("config/napsh/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body = format!(
            "default_user = \"root\"\nssh_extra_args = [\"-i\", {:?}, \"-o\", \"IdentitiesOnly=yes\", \"-o\", \"BatchMode=yes\"]\n{extra}",
            self.path("id_ed25519").display().to_string()
        );
        std::fs::write(path, body).unwrap();
    }

    /// `napsh` with this world's environment.
    pub fn napsh(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_napsh"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_CACHE_HOME", self.path("cache"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("SORACOM_PROFILE_DIR", self.path("soracom"))
            .env("SORACOM_PROFILE", "test")
            .env("NAPSH_SOURCE_CIDR", "127.0.0.1/32")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// The request log.
    pub fn log(&self) -> Vec<String> {
        self.api.lock().unwrap().log.clone()
    }

    /// Live mappings in the stub.
    pub fn mappings(&self) -> Vec<Value> {
        self.api.lock().unwrap().mappings.clone()
    }

    /// Starts a real sshd for SIM `sim_id` (mappings to it point at this sshd); `key_name`
    /// selects its host key (a new name = a new key).
    pub fn start_sshd(&mut self, sim_id: &str, key_name: &str) -> u16 {
        let user_key = self.path("id_ed25519");
        if !user_key.exists() {
            keygen(&user_key);
        }
        let host_key = self.path(&format!("host_{key_name}"));
        if !host_key.exists() {
            keygen(&host_key);
        }
        let port = free_port();
        let cfg = self.path(&format!("sshd_{port}.conf"));
        std::fs::write(
            &cfg,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nUsePAM no\nStrictModes no\nPermitRootLogin yes\nPidFile none\nPasswordAuthentication no\n",
                host_key.display(),
                user_key.with_extension("pub").display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").ok();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting sshd");
        self.sshds.push(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.api
            .lock()
            .unwrap()
            .device_ports
            .insert(sim_id.to_string(), port);
        port
    }

    /// Stops every sshd.
    pub fn stop_sshds(&mut self) {
        for mut c in self.sshds.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stop_sshds();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
