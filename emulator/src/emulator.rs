//! The `Emulator` handle: start (fleet → state, sshd devices, API server), inspection,
//! runtime control and teardown (also on drop: no sshd outlives it).

use crate::console::ConsoleMapping;
use crate::dataplane::{LinkAction, LinkTarget};
use crate::faults::{FaultRule, LatencyConfig};
use crate::fleet::{Fleet, SshTarget};
use crate::sshd::SshServer;
use crate::state::{AppState, DeviceInfo, RequestRecord, Shared};
use crate::{admin, api, server};
use anyhow::{anyhow, Context};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Router;
use napsh_core::soracom::{NapterAuditLogEntry, PortMapping};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How to start an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The parsed fleet.
    pub fleet: Fleet,
    /// Where the API listens (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// Directory for per-device sshd files; a temp dir (removed on drop) when `None`.
    pub work_dir: Option<PathBuf>,
}

impl EmulatorConfig {
    /// A config listening on 127.0.0.1:0 with a temp work dir.
    pub fn new(fleet: Fleet) -> Self {
        EmulatorConfig {
            fleet,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            work_dir: None,
        }
    }
}

/// What the binary prints once ready (and writes to `<work-dir>/ready.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyInfo {
    /// API base URL, no `/v1` suffix.
    pub api: String,
    /// Every fleet device.
    pub devices: Vec<DeviceInfo>,
}

/// A running Soracom API + Napter emulator.
pub struct Emulator {
    /// Shared state.
    state: AppState,
    /// Bound API address.
    addr: SocketAddr,
    /// The API server task.
    server: Option<JoinHandle<()>>,
    /// Owned temp work dir, when none was given.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Emulator {
    /// Builds the state, spawns every `ssh = "spawn"` sshd (ready before returning) and
    /// starts the API server.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let (work_dir, temp) = match config.work_dir {
            Some(dir) => (dir, None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("napsh-emulator-")
                    .tempdir()
                    .context("creating a temp work dir")?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&work_dir)
            .with_context(|| format!("creating work dir {}", work_dir.display()))?;
        let state: AppState = Arc::new(Shared::new(&config.fleet, work_dir)?);
        let mut emu = Emulator {
            state: state.clone(),
            addr: config.listen,
            server: None,
            _temp: temp,
        };
        spawn_devices(&state).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding the API on {}", config.listen))?;
        emu.addr = listener.local_addr().context("reading API address")?;
        *state.api_addr.lock().unwrap_or_else(|e| e.into_inner()) = Some(emu.addr);
        let app = app(state.clone());
        emu.server = Some(tokio::spawn(server::serve(
            listener,
            app,
            state.shutdown.clone(),
        )));
        tracing::info!(api = %emu.api_url(), devices = state.lock().devices.len(), "emulator ready");
        Ok(emu)
    }

    /// `http://127.0.0.1:PORT` (no `/v1` suffix, like a profile `endpoint`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound API address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every /v1 request so far.
    pub fn request_log(&self) -> Vec<RequestRecord> {
        self.state.lock().requests.clone()
    }

    /// Empties the request log.
    pub fn clear_request_log(&self) {
        self.state.lock().requests.clear();
    }

    /// Live mappings (wire form).
    pub fn mappings(&self) -> Vec<PortMapping> {
        self.state.mapping_wires()
    }

    /// Fleet devices with spawned sshd ports and host keys.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.state.device_infos()
    }

    /// The Napter audit log, oldest first.
    pub fn audit_log(&self) -> Vec<NapterAuditLogEntry> {
        self.state.lock().audit.clone()
    }

    /// Changes a SIM's session status.
    pub fn set_online(&self, sim_id: &str, online: bool) -> anyhow::Result<()> {
        self.state
            .set_online(sim_id, online)
            .then_some(())
            .ok_or_else(|| anyhow!("no such SIM: {sim_id}"))
    }

    /// Regenerates a spawned device's host key (sshd restarts on the same port); returns the
    /// new public key line.
    pub async fn rotate_host_key(&self, sim_id: &str) -> anyhow::Result<String> {
        rotate_host_key(&self.state, sim_id).await
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.state.lock().faults = rules;
    }

    /// Replaces the latency settings.
    pub fn set_latency(&self, latency: LatencyConfig) {
        self.state.lock().latency = latency;
    }

    /// Expires the mapping `ip:port` now, as if its duration had run out (mapping expired
    /// mid-session); false when there is no such mapping.
    pub fn expire_mapping(&self, ip: &str, port: u16) -> bool {
        crate::napter::expire_now(&self.state, ip, port)
    }

    /// Deletes the mapping `ip:port` as if from the Soracom console: audit `DELETED`, live
    /// connections cut, nothing in the request log. False when there is no such mapping.
    pub fn console_delete(&self, ip: &str, port: u16) -> bool {
        crate::console::delete(&self.state, ip, port)
    }

    /// Creates a mapping as someone other than napsh would (a colleague, the console), for
    /// any device, at `mapping.port` when given (a freed endpoint handed to another device).
    pub async fn console_create(&self, mapping: ConsoleMapping) -> anyhow::Result<PortMapping> {
        crate::console::create(&self.state, &mapping)
            .await
            .map_err(|e| {
                anyhow!(
                    "console create for SIM {}: {} {}",
                    mapping.sim_id,
                    e.code,
                    e.message
                )
            })
    }

    /// Runs the emulator's clock `offset_ms` ahead of the machine's (negative = behind):
    /// `createdTime`, `expiredTime`, audit times, the request log and every `Date` header
    /// move; mappings still expire after their real duration.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.state.set_clock_offset_ms(offset_ms);
    }

    /// The emulator's clock now (unix ms).
    pub fn clock_ms(&self) -> i64 {
        self.state.clock_ms()
    }

    /// Turns drift mode on or off (answers perturbed within the spec; docs/DESIGN.md).
    pub fn set_drift(&self, enabled: bool) {
        self.state.set_drift(enabled);
    }

    /// Applies a data-plane fault to every connection (live and new) to a device or through a
    /// mapping: cut, blackhole, shaping, clear. Returns how many live connections it reaches.
    pub fn link(&self, target: &LinkTarget, action: &LinkAction) -> usize {
        crate::dataplane::apply(&self.state, target, action)
    }

    /// How many live forwarded connections `target` covers.
    pub fn live_connections(&self, target: &LinkTarget) -> usize {
        crate::dataplane::live_connections(&self.state, target)
    }

    /// The next mapping created listens on `port` (e.g. the port of a deleted mapping: a Napter
    /// endpoint that later points at another device).
    pub fn reuse_port_for_next_mapping(&self, port: u16) {
        self.state.lock().next_napter_port = Some(port);
    }

    /// Expires every issued token.
    pub fn expire_tokens(&self) {
        for t in self.state.lock().tokens.values_mut() {
            t.expires_at_ms = 0;
        }
    }

    /// The ready line content.
    pub fn ready_info(&self) -> ReadyInfo {
        ReadyInfo {
            api: self.api_url(),
            devices: self.devices(),
        }
    }

    /// The work directory (per-device sshd dirs live under `devices/`).
    pub fn work_dir(&self) -> &Path {
        &self.state.work_dir
    }

    /// Stops listeners, forwarders and every sshd, and waits for the API server to stop.
    pub async fn shutdown(mut self) {
        teardown(&self.state);
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        teardown(&self.state);
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The whole HTTP app: `/v1` API and `/_emulator` admin, JSON 404 elsewhere.
fn app(state: AppState) -> Router {
    api::router(state.clone())
        .merge(admin::router(state.clone()))
        .fallback(|| async {
            crate::errors::ApiError::not_found("COM0003", "No such API.").into_response()
        })
        .method_not_allowed_fallback(|| async {
            crate::errors::ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "COM0004",
                "Method not allowed.",
            )
            .into_response()
        })
        .layer(axum::middleware::from_fn_with_state(
            state,
            api::date_header,
        ))
}

/// Stops every mapping and kills every sshd (synchronously).
fn teardown(state: &AppState) {
    for sshd in state.teardown() {
        sshd.lock().unwrap_or_else(|e| e.into_inner()).stop();
    }
}

/// Starts an sshd for every `ssh = "spawn"` device, in parallel; fails if any fails.
async fn spawn_devices(state: &AppState) -> anyhow::Result<()> {
    let targets: Vec<String> = state
        .lock()
        .devices
        .values()
        .filter(|d| d.ssh == SshTarget::Spawn)
        .map(|d| d.sim_id.clone())
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for sim_id in targets {
        let dir = device_dir(&state.work_dir, &sim_id);
        let keys = state.authorized_keys.clone();
        tasks.spawn_blocking(move || {
            let server = SshServer::spawn(&dir, keys.as_deref());
            (sim_id, server)
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (sim_id, server) = joined.context("sshd spawn task panicked")?;
        match server {
            Ok(server) => attach(state, &sim_id, server),
            Err(e) => {
                first_error.get_or_insert(e.context(format!("spawning sshd for SIM {sim_id}")));
            }
        }
    }
    match first_error {
        Some(e) => {
            teardown(state);
            Err(e)
        }
        None => Ok(()),
    }
}

fn device_dir(work_dir: &Path, sim_id: &str) -> PathBuf {
    let safe: String = sim_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    work_dir.join("devices").join(safe)
}

fn attach(state: &AppState, sim_id: &str, server: SshServer) {
    let mut inner = state.lock();
    if let Some(d) = inner.devices.get_mut(sim_id) {
        d.ssh_port = Some(server.port());
        d.host_key = Some(server.host_public_key().to_string());
        d.sshd = Some(Arc::new(Mutex::new(server)));
    }
}

/// Rotates the host key of a spawned device (see [`Emulator::rotate_host_key`]).
pub async fn rotate_host_key(state: &AppState, sim_id: &str) -> anyhow::Result<String> {
    let sshd = state
        .lock()
        .devices
        .get(sim_id)
        .ok_or_else(|| anyhow!("no such SIM: {sim_id}"))?
        .sshd
        .clone()
        .ok_or_else(|| anyhow!("device {sim_id} has no spawned sshd"))?;
    let key = tokio::task::spawn_blocking(move || {
        sshd.lock()
            .unwrap_or_else(|e| e.into_inner())
            .rotate_host_key()
    })
    .await
    .context("host key rotation task panicked")??;
    if let Some(d) = state.lock().devices.get_mut(sim_id) {
        d.host_key = Some(key.clone());
    }
    Ok(key)
}
