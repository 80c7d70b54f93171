//! Shared emulator state: devices, tokens, live mappings, audit log, request log, faults.

use crate::faults::{FaultRule, LatencyConfig};
use crate::fleet::{Credential, Fleet, ResolvedDevice, SshTarget};
use crate::sshd::SshServer;
use napsh_core::soracom::{
    NapterAuditLogEntry, PortMapping, SessionStatus, Sim, SimProfile, SimplifiedSubscriber,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// Requests allowed per path per minute, as announced in the rate-limit headers.
pub const RATE_LIMIT_PER_MINUTE: u64 = 1000;

/// Milliseconds since the Unix epoch on the machine's clock (see [`Shared::clock_ms`] for the
/// emulator's own clock).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One entry of the request log (`GET /_emulator/requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Request path (no query).
    pub path: String,
    /// Raw query string (`""` when none).
    pub query: String,
    /// Answered status (0 when the connection was dropped without an answer).
    pub status: u16,
    /// When the request arrived (unix ms, on the emulator's clock).
    pub at_ms: i64,
    /// The request body as text (`""` when empty; never recorded for `/v1/auth`, whose body
    /// holds the credentials).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// A fleet device as the library and the ready line describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// The `name` tag.
    pub name: String,
    /// SIM id.
    pub sim_id: String,
    /// IMSI.
    pub imsi: String,
    /// Current session status.
    pub online: bool,
    /// Port of the spawned sshd (127.0.0.1), when `ssh = "spawn"`.
    pub ssh_port: Option<u16>,
    /// Host public key line of the spawned sshd.
    pub host_key: Option<String>,
}

/// An emulated SIM plus its device.
#[derive(Debug)]
pub struct Device {
    /// What the fleet file says about the device (name, ids, tags, online at start, targets);
    /// `online` is kept current. Its fields read through `Deref`.
    pub fleet: ResolvedDevice,
    /// The spawned sshd, if any.
    pub sshd: Option<Arc<Mutex<SshServer>>>,
    /// Cached host key line of the spawned sshd.
    pub host_key: Option<String>,
    /// Cached port of the spawned sshd.
    pub ssh_port: Option<u16>,
    /// SIM creation time (unix ms).
    pub created_time: i64,
    /// Last session status change (unix ms).
    pub session_updated_at: i64,
    /// Last Napter use (unix ms).
    pub last_port_mapping_created_time: Option<i64>,
    /// Index used to derive a stable UE IP address.
    pub index: usize,
}

impl std::ops::Deref for Device {
    type Target = ResolvedDevice;
    fn deref(&self) -> &ResolvedDevice {
        &self.fleet
    }
}

impl std::ops::DerefMut for Device {
    fn deref_mut(&mut self) -> &mut ResolvedDevice {
        &mut self.fleet
    }
}

impl Device {
    /// Builds a device from its fleet entry.
    pub fn from_resolved(d: ResolvedDevice, index: usize, now: i64) -> Self {
        Device {
            fleet: d,
            sshd: None,
            host_key: None,
            ssh_port: None,
            created_time: now - 86_400_000,
            session_updated_at: now,
            last_port_mapping_created_time: None,
            index,
        }
    }

    /// Where a mapping forwards to, if anything listens.
    pub fn ssh_addr(&self) -> Option<String> {
        match &self.ssh {
            SshTarget::None => None,
            SshTarget::Spawn => self.ssh_port.map(|p| format!("127.0.0.1:{p}")),
            SshTarget::Forward(a) => Some(a.clone()),
        }
    }

    /// Where a mapping to `device_port` forwards: the `ports` entry, else the SSH target.
    pub fn target_for(&self, device_port: u16) -> Option<String> {
        self.ports
            .get(&device_port)
            .cloned()
            .or_else(|| self.ssh_addr())
    }

    /// The library view of this device.
    pub fn info(&self) -> DeviceInfo {
        DeviceInfo {
            name: self.name.clone(),
            sim_id: self.sim_id.clone(),
            imsi: self.imsi.clone(),
            online: self.online,
            ssh_port: self.ssh_port,
            host_key: self.host_key.clone(),
        }
    }

    /// The wire `Sim` of this device.
    pub fn to_sim(&self, operator_id: &str) -> Sim {
        let mut tags = self.tags.clone();
        tags.insert("name".to_string(), self.name.clone());
        let subscriber = SimplifiedSubscriber {
            imsi: Some(self.imsi.clone()),
            msisdn: None,
            status: Some("active".to_string()),
        };
        let profile = SimProfile {
            iccid: Some(self.sim_id.clone()),
            primary_imsi: Some(self.imsi.clone()),
            ota_supported: Some(false),
            subscribers: BTreeMap::from([(self.imsi.clone(), subscriber)]),
        };
        Sim {
            sim_id: self.sim_id.clone(),
            operator_id: Some(operator_id.to_string()),
            status: Some("active".to_string()),
            speed_class: Some(self.speed_class.clone()),
            group_id: self.group_id.clone(),
            tags,
            session_status: Some(self.session_status()),
            profiles: BTreeMap::from([(self.sim_id.clone(), profile)]),
            active_profile_id: Some(self.sim_id.clone()),
            last_port_mapping_created_time: self.last_port_mapping_created_time,
            created_time: Some(self.created_time),
            last_modified_time: Some(self.session_updated_at),
            sim_type: Some("uicc".to_string()),
        }
    }

    fn session_status(&self) -> SessionStatus {
        let i = self.index as u32;
        SessionStatus {
            online: self.online,
            imsi: self.online.then(|| self.imsi.clone()),
            ue_ip_address: self
                .online
                .then(|| format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff)),
            last_updated_at: Some(self.session_updated_at),
            imei: self.online.then(|| format!("35{:013}", i)),
            session_id: None,
            subscription: Some("plan01s".to_string()),
        }
    }
}

/// An issued API key/token pair.
#[derive(Debug, Clone)]
pub struct Token {
    /// The `X-Soracom-API-Key` value.
    pub api_key: String,
    /// Index into the fleet credentials (`None` for a SAM user's auth key).
    pub credential: Option<usize>,
    /// The SAM user it was issued to, with the permission it had then.
    pub sam: Option<crate::sam::SamIdentity>,
    /// When it stops working (unix ms).
    pub expires_at_ms: i64,
    /// Revoked by logout or `revokeUserAuthTokens`.
    pub revoked: bool,
}

/// A live Napter mapping with its listener controls.
#[derive(Debug)]
pub struct LiveMapping {
    /// Unique id (mapping keys get reused after deletion).
    pub id: u64,
    /// The wire representation.
    pub wire: PortMapping,
    /// SIM the mapping reaches.
    pub sim_id: String,
    /// IMSI the audit log files events under.
    pub imsi: String,
    /// Cancelled on delete/expiry/shutdown: closes the listener and live connections.
    pub cancel: CancellationToken,
}

/// Mutable state behind one lock (never held across an await).
#[derive(Debug, Default)]
pub struct Inner {
    /// Devices by SIM id (ordered: list endpoints page in simId order).
    pub devices: BTreeMap<String, Device>,
    /// IMSI → SIM id.
    pub imsi_index: HashMap<String, String>,
    /// Issued tokens by token value.
    pub tokens: HashMap<String, Token>,
    /// Live mappings by (ipAddress, port).
    pub mappings: BTreeMap<(String, u16), LiveMapping>,
    /// Napter audit log, in time order (createdAt strictly increasing).
    pub audit: Vec<NapterAuditLogEntry>,
    /// Request log of /v1 calls.
    pub requests: Vec<RequestRecord>,
    /// Active fault rules.
    pub faults: Vec<FaultRule>,
    /// Injected latency.
    pub latency: LatencyConfig,
    /// Rate-limit windows: path → (window start ms, count).
    pub rate: HashMap<String, (i64, u64)>,
    /// Next mapping id.
    pub next_mapping_id: u64,
    /// Port the next mapping listens on (endpoint-reuse tests); a free port when `None`.
    pub next_napter_port: Option<u16>,
    /// Live connections and data-plane faults.
    pub dataplane: crate::dataplane::DataPlane,
    /// SAM users by name.
    pub sam: crate::sam::SamUsers,
}

/// Read-only settings plus the locked state; shared by every task.
#[derive(Debug)]
pub struct Shared {
    /// Operator owning everything.
    pub operator_id: String,
    /// Page size of list endpoints.
    pub page_size: usize,
    /// `hostname` of mappings.
    pub napter_hostname: String,
    /// Accepted credentials.
    pub credentials: Vec<Credential>,
    /// Where per-device sshd directories live.
    pub work_dir: PathBuf,
    /// The fleet's authorized_keys file for spawned sshd.
    pub authorized_keys: Option<PathBuf>,
    /// Cancelled on shutdown.
    pub shutdown: CancellationToken,
    /// Address of the API server (set once bound).
    pub api_addr: Mutex<Option<SocketAddr>>,
    /// How far the emulator's clock runs ahead of the machine's (ms; negative = behind).
    clock_offset_ms: AtomicI64,
    /// Drift mode: answers perturbed within the spec (see `crate::drift`).
    drift: AtomicBool,
    /// Everything mutable.
    inner: Mutex<Inner>,
}

/// Cheap handle to the shared state.
pub type AppState = Arc<Shared>;

impl Shared {
    /// Builds the state for a fleet (devices without sshd yet).
    pub fn new(fleet: &Fleet, work_dir: PathBuf) -> anyhow::Result<Self> {
        let now = now_ms();
        let mut inner = Inner::default();
        for (i, d) in fleet.resolved_devices()?.into_iter().enumerate() {
            let device = Device::from_resolved(d, i, now);
            inner
                .imsi_index
                .insert(device.imsi.clone(), device.sim_id.clone());
            inner.devices.insert(device.sim_id.clone(), device);
        }
        Ok(Shared {
            operator_id: fleet.operator_id.clone(),
            page_size: fleet.page_size,
            napter_hostname: fleet.napter_hostname.clone(),
            credentials: fleet.credentials.clone(),
            work_dir,
            authorized_keys: fleet.ssh.authorized_keys.clone(),
            shutdown: CancellationToken::new(),
            api_addr: Mutex::new(None),
            clock_offset_ms: AtomicI64::new(0),
            drift: AtomicBool::new(false),
            inner: Mutex::new(inner),
        })
    }

    /// Locks the mutable state (recovering from a poisoned lock: a panicking test must not
    /// wedge the emulator's cleanup).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The emulator's clock (unix ms): the machine's clock plus the offset set with
    /// [`Shared::set_clock_offset_ms`]. Every time the emulator reports is on this clock.
    pub fn clock_ms(&self) -> i64 {
        now_ms() + self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// The emulator's clock as a `SystemTime` (for the HTTP `Date` header).
    pub fn clock_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.clock_ms().max(0) as u64)
    }

    /// Moves the emulator's clock `offset_ms` away from the machine's (0 = in step). Only
    /// reported times move; mappings still expire after their real duration.
    pub fn set_clock_offset_ms(&self, offset_ms: i64) {
        self.clock_offset_ms.store(offset_ms, Ordering::Relaxed);
    }

    /// The offset set with [`Shared::set_clock_offset_ms`].
    pub fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }

    /// Turns drift mode on or off.
    pub fn set_drift(&self, enabled: bool) {
        self.drift.store(enabled, Ordering::Relaxed);
    }

    /// Whether drift mode is on.
    pub fn drift(&self) -> bool {
        self.drift.load(Ordering::Relaxed)
    }

    /// Files a Napter audit entry stamped now on the emulator's clock. The log stays sorted by
    /// createdAt and createdAt stays unique (bumped by 1 ms on a tie) so that it can serve as
    /// a pagination key, even after the clock was set back.
    pub fn audit(&self, mut entry: NapterAuditLogEntry) {
        let mut at = self.clock_ms();
        entry.operator_id = Some(self.operator_id.clone());
        let mut inner = self.lock();
        let mut pos = inner.audit.partition_point(|e| e.created_at < at);
        while inner.audit.get(pos).is_some_and(|e| e.created_at == at) {
            at += 1;
            pos += 1;
        }
        entry.created_at = at;
        inner.audit.insert(pos, entry);
    }

    /// Every device's library view, in simId order.
    pub fn device_infos(&self) -> Vec<DeviceInfo> {
        self.lock().devices.values().map(Device::info).collect()
    }

    /// Every live mapping, in (ipAddress, port) order.
    pub fn mapping_wires(&self) -> Vec<PortMapping> {
        self.lock()
            .mappings
            .values()
            .map(|m| m.wire.clone())
            .collect()
    }

    /// Sets a device's session status; false when the SIM is unknown.
    pub fn set_online(&self, sim_id: &str, online: bool) -> bool {
        let mut inner = self.lock();
        let Some(device) = inner.devices.get_mut(sim_id) else {
            return false;
        };
        if device.online != online {
            device.online = online;
            device.session_updated_at = self.clock_ms();
        }
        true
    }

    /// Counts a request against its path's rate-limit window: (limit, remaining, seconds left).
    pub fn count_rate(&self, path: &str) -> (u64, u64, u64) {
        let now = now_ms();
        let mut inner = self.lock();
        let window = inner.rate.entry(path.to_string()).or_insert((now, 0));
        if now - window.0 >= 60_000 {
            *window = (now, 0);
        }
        window.1 += 1;
        let remaining = RATE_LIMIT_PER_MINUTE.saturating_sub(window.1);
        let secs = ((60_000 - (now - window.0)) / 1000).max(1) as u64;
        (RATE_LIMIT_PER_MINUTE, remaining, secs)
    }

    /// Stops every mapping and takes every sshd out of the state (dropping them kills them).
    pub fn teardown(&self) -> Vec<Arc<Mutex<SshServer>>> {
        self.shutdown.cancel();
        let mut inner = self.lock();
        for (_, m) in std::mem::take(&mut inner.mappings) {
            m.cancel.cancel();
        }
        inner
            .devices
            .values_mut()
            .filter_map(|d| d.sshd.take())
            .collect()
    }
}
