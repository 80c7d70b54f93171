//! Data-plane faults, switchable at run time per mapping or per device: cut (reset every
//! live connection), blackhole for a while (stop forwarding without closing), and cellular
//! shaping (added latency, bandwidth limit). Live connections are registered here so that a
//! fault can find them; each forwarder watches its link through a [`LinkWatch`].

use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a data-plane fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LinkTarget {
    /// Every connection to a device, through any of its mappings.
    Device {
        /// The device's SIM id.
        sim_id: String,
    },
    /// Every connection through one mapping (until the mapping ends).
    Mapping {
        /// The mapping's `ipAddress`.
        ip: String,
        /// The mapping's `port`.
        port: u16,
    },
}

impl LinkTarget {
    /// Every connection to the device `sim_id`.
    pub fn device(sim_id: &str) -> Self {
        LinkTarget::Device {
            sim_id: sim_id.to_string(),
        }
    }

    /// Every connection through the mapping `ip:port`.
    pub fn mapping(ip: &str, port: u16) -> Self {
        LinkTarget::Mapping {
            ip: ip.to_string(),
            port,
        }
    }

    fn covers(&self, conn: &LiveConn) -> bool {
        match self {
            LinkTarget::Device { sim_id } => *sim_id == conn.sim_id,
            LinkTarget::Mapping { ip, port } => *ip == conn.endpoint.0 && *port == conn.endpoint.1,
        }
    }
}

/// Cellular shaping of a link: each direction is delayed by half the round trip and paced to
/// the bandwidth (bytes then go through user space instead of splice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shaping {
    /// Added round-trip time in ms (half of it each way).
    #[serde(default)]
    pub rtt_ms: u64,
    /// Bandwidth limit of each direction in kbit/s; unlimited when absent.
    #[serde(default)]
    pub kbit_per_sec: Option<u64>,
}

/// A data-plane fault to apply (`POST /_emulator/{devices/SIM,mappings/IP/PORT}/link`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LinkAction {
    /// Reset every live connection now (new ones work).
    Cut,
    /// Forward nothing, either way, for `secs` seconds (0 ends a blackhole); connections stay
    /// open and bytes flow again afterwards, as TCP over a link that dropped packets.
    Blackhole {
        /// How long.
        secs: u64,
    },
    /// Shape the link from now on (live connections too).
    Shape(Shaping),
    /// End shaping and any blackhole.
    Clear,
}

/// The state of one target's link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// Nothing is forwarded before this instant.
    pub blackhole_until: Option<Instant>,
    /// Shaping, if on.
    pub shaping: Option<Shaping>,
}

impl Link {
    /// The blackhole's end, if one is on now.
    pub fn blackholed(&self) -> Option<Instant> {
        self.blackhole_until.filter(|u| *u > Instant::now())
    }

    /// A connection's link: the later blackhole of both; the mapping's shaping over the device's.
    fn merge(device: Link, mapping: Link) -> Link {
        Link {
            blackhole_until: device.blackhole_until.max(mapping.blackhole_until),
            shaping: mapping.shaping.or(device.shaping),
        }
    }
}

/// A live forwarded connection.
#[derive(Debug)]
pub struct LiveConn {
    /// The device it reaches.
    pub sim_id: String,
    /// The mapping it came through (`ipAddress`, `port`).
    pub endpoint: (String, u16),
    /// Cancelled to cut (reset) it; a child of its mapping's token.
    pub cut: CancellationToken,
}

/// Data-plane bookkeeping: live connections, link states, and a change signal.
#[derive(Debug)]
pub struct DataPlane {
    /// Live connections by id.
    conns: std::collections::BTreeMap<u64, LiveConn>,
    /// Next connection id.
    next_id: u64,
    /// Link state per target.
    links: std::collections::HashMap<LinkTarget, Link>,
    /// Bumped on every link change; forwarders re-read their link.
    changed: watch::Sender<u64>,
}

impl Default for DataPlane {
    fn default() -> Self {
        DataPlane {
            conns: Default::default(),
            next_id: 0,
            links: Default::default(),
            changed: watch::channel(0).0,
        }
    }
}

/// Unregisters a connection when dropped.
#[derive(Debug)]
pub struct ConnGuard {
    /// Where it is registered.
    state: AppState,
    /// Its id.
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.state.lock().dataplane.conns.remove(&self.id);
    }
}

/// Registers a live connection; it stays registered while the guard lives.
pub fn register(state: &AppState, conn: LiveConn) -> ConnGuard {
    let mut inner = state.lock();
    let id = inner.dataplane.next_id;
    inner.dataplane.next_id += 1;
    inner.dataplane.conns.insert(id, conn);
    ConnGuard {
        state: state.clone(),
        id,
    }
}

/// Applies `action` to `target`; returns how many live connections it reaches now.
pub fn apply(state: &AppState, target: &LinkTarget, action: &LinkAction) -> usize {
    let mut inner = state.lock();
    let plane = &mut inner.dataplane;
    let reached: Vec<&LiveConn> = plane.conns.values().filter(|c| target.covers(c)).collect();
    let count = reached.len();
    if *action == LinkAction::Cut {
        reached.iter().for_each(|c| c.cut.cancel());
        return count;
    }
    let link = plane.links.entry(target.clone()).or_default();
    match action {
        LinkAction::Blackhole { secs } => {
            link.blackhole_until = (*secs > 0).then(|| Instant::now() + Duration::from_secs(*secs));
        }
        LinkAction::Shape(shaping) => link.shaping = Some(*shaping),
        LinkAction::Clear | LinkAction::Cut => *link = Link::default(),
    }
    plane.changed.send_modify(|n| *n += 1);
    count
}

/// Forgets the link state of a mapping that ended (its endpoint may serve another device).
pub fn forget_mapping(state: &AppState, ip: &str, port: u16) {
    state
        .lock()
        .dataplane
        .links
        .remove(&LinkTarget::mapping(ip, port));
}

/// How many live connections `target` covers.
pub fn live_connections(state: &AppState, target: &LinkTarget) -> usize {
    let inner = state.lock();
    inner
        .dataplane
        .conns
        .values()
        .filter(|c| target.covers(c))
        .count()
}

/// One forwarder's view of its connection's link, re-read whenever a link changes.
#[derive(Debug, Clone)]
pub struct LinkWatch {
    /// Shared state (link table).
    state: AppState,
    /// The device side of the connection.
    device: LinkTarget,
    /// The mapping side of the connection.
    mapping: LinkTarget,
    /// Change signal.
    rx: watch::Receiver<u64>,
    /// The link as last read.
    link: Link,
}

impl LinkWatch {
    /// A watch on the link of a connection to `sim_id` through `ip:port`.
    pub fn new(state: &AppState, sim_id: &str, ip: &str, port: u16) -> Self {
        let rx = state.lock().dataplane.changed.subscribe();
        let mut watch = LinkWatch {
            state: state.clone(),
            device: LinkTarget::device(sim_id),
            mapping: LinkTarget::mapping(ip, port),
            rx,
            link: Link::default(),
        };
        watch.reread();
        watch
    }

    fn reread(&mut self) {
        self.rx.borrow_and_update();
        let inner = self.state.lock();
        let of = |t: &LinkTarget| inner.dataplane.links.get(t).copied().unwrap_or_default();
        self.link = Link::merge(of(&self.device), of(&self.mapping));
    }

    /// The link now.
    pub fn current(&mut self) -> Link {
        if self.rx.has_changed().unwrap_or(false) {
            self.reread();
        }
        self.link
    }

    /// Whether a link changed since the last read.
    pub fn has_changed(&self) -> bool {
        self.rx.has_changed().unwrap_or(false)
    }

    /// Waits for the next link change (for ever when the emulator is gone) and reads it.
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        self.reread();
    }

    /// Waits until the blackhole on now ends (or the link changes).
    pub async fn sit_out(&mut self, until: Instant) {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => {}
            _ = self.changed() => {}
        }
    }
}
