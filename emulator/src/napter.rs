//! Napter for real: one TCP listener per mapping, forwarding to the device's SSH target
//! (`forward`, under the data-plane faults of `dataplane`), with source-range, online and
//! expiry enforcement and audit entries.

use crate::dataplane::{self, LinkWatch, LiveConn};
use crate::forward::{self, Relayed};
use crate::state::{AppState, LiveMapping};
use anyhow::Context;
use ipnet::IpNet;
use napsh_core::soracom::{
    NapterAuditLogDirection, NapterAuditLogEntry, PortMapping, PortMappingDestination,
    PortMappingSource,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Address every mapping listens on (the emulator's "public" Napter address).
pub const NAPTER_IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// Rendezvous point reported in mappings.
const PLACEMENT: &str = "aws:ap-northeast-1";
/// How long a just-freed endpoint port may take to become bindable again.
const REBIND_GRACE: Duration = Duration::from_secs(2);

/// Everything needed to open a mapping (validated by the API layer).
#[derive(Debug, Clone)]
pub struct MappingSpec {
    /// Target SIM.
    pub sim_id: String,
    /// IMSI of the target (audit entries are filed under it).
    pub imsi: String,
    /// Created with the IMSI form (`IMSI_PRIORITIZED`): the IMSI is reported instead of simId.
    pub by_imsi: bool,
    /// `destinationChoosingStrategy` to report.
    pub strategy: &'static str,
    /// Device port.
    pub device_port: u16,
    /// Lifetime in seconds.
    pub duration: u64,
    /// `tlsRequired` as requested.
    pub tls_required: bool,
    /// The `source` as requested (echoed back), if any.
    pub source: Option<PortMappingSource>,
    /// Parsed allow-list; empty = allow every source.
    pub ranges: Vec<IpNet>,
}

/// Opens a listener for `spec`, registers the mapping and starts forwarding. The endpoint's
/// port is `at` when given (the console choosing an endpoint), else the one set with
/// `reuse_port_for_next_mapping`, else any free port.
pub async fn open(
    state: &AppState,
    spec: MappingSpec,
    at: Option<u16>,
) -> anyhow::Result<PortMapping> {
    let port = at
        .or_else(|| state.lock().next_napter_port.take())
        .unwrap_or(0);
    let listener = bind_endpoint(state, port).await?;
    let addr = listener.local_addr().context("reading listener address")?;
    let wire = wire_for(state, &spec, addr);
    let cancel = state.shutdown.child_token();
    let key = (wire.ip_address.clone(), wire.port);
    let id = register(state, &spec, &wire, cancel.clone());
    state.audit(event("CREATED", &spec.imsi, &wire, None));
    tracing::info!(endpoint = %addr, sim_id = %spec.sim_id, "mapping created");
    let ctx = ForwardCtx {
        state: state.clone(),
        spec: spec.clone(),
        wire: wire.clone(),
        cancel: cancel.clone(),
    };
    tokio::spawn(accept_loop(listener, ctx));
    tokio::spawn(expire_after(state.clone(), key, id, cancel, spec.duration));
    Ok(wire)
}

/// Binds a Napter listener on `port` (0 = any). A port that no live mapping holds but that is
/// still bound was freed a moment ago (its listener closes as its task notices the end), so
/// binding is retried for up to [`REBIND_GRACE`].
async fn bind_endpoint(state: &AppState, port: u16) -> anyhow::Result<TcpListener> {
    let deadline = tokio::time::Instant::now() + REBIND_GRACE;
    loop {
        match TcpListener::bind((NAPTER_IP, port)).await {
            Ok(listener) => return Ok(listener),
            Err(e)
                if port != 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && !state.lock().mappings.keys().any(|(_, p)| *p == port)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                return Err(e).with_context(|| format!("binding a Napter listener on port {port}"))
            }
        }
    }
}

fn wire_for(state: &AppState, spec: &MappingSpec, addr: SocketAddr) -> PortMapping {
    let now = state.clock_ms();
    let ip = addr.ip().to_string();
    PortMapping {
        ip_address: ip.clone(),
        port: addr.port(),
        hostname: Some(state.napter_hostname.clone()),
        endpoint: Some(format!("{ip}:{}", addr.port())),
        destination: PortMappingDestination {
            port: spec.device_port,
            imsi: spec.by_imsi.then(|| spec.imsi.clone()),
            sim_id: (!spec.by_imsi).then(|| spec.sim_id.clone()),
            service: None,
            destination_choosing_strategy: Some(spec.strategy.to_string()),
        },
        imsi: spec.by_imsi.then(|| spec.imsi.clone()),
        sim_id: (!spec.by_imsi).then(|| spec.sim_id.clone()),
        source: spec.source.clone(),
        duration: Some(spec.duration),
        created_time: Some(now),
        expired_time: Some(now + spec.duration as i64 * 1000),
        expired: Some(false),
        tls_required: Some(spec.tls_required),
        operator_id: Some(state.operator_id.clone()),
        placement: Some(PLACEMENT.to_string()),
    }
}

fn register(
    state: &AppState,
    spec: &MappingSpec,
    wire: &PortMapping,
    cancel: CancellationToken,
) -> u64 {
    let mut inner = state.lock();
    let id = inner.next_mapping_id;
    inner.next_mapping_id += 1;
    if let Some(d) = inner.devices.get_mut(&spec.sim_id) {
        d.last_port_mapping_created_time = wire.created_time;
    }
    inner.mappings.insert(
        (wire.ip_address.clone(), wire.port),
        LiveMapping {
            id,
            wire: wire.clone(),
            sim_id: spec.sim_id.clone(),
            imsi: spec.imsi.clone(),
            cancel,
        },
    );
    id
}

/// Why a mapping ends; both cut its live connections the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Deleted through the API or the console (audit `DELETED`).
    Deleted,
    /// Its duration ran out (audit `EXPIRED`).
    Expired,
}

impl Ending {
    fn audit_type(self) -> &'static str {
        match self {
            Ending::Deleted => "DELETED",
            Ending::Expired => "EXPIRED",
        }
    }
}

/// Ends the mapping `ip:port` now: removes it, closes its listener, cuts every live
/// connection through it and audits the ending. `only_id` guards against ending a newer
/// mapping that reuses the endpoint. The one path for delete, console delete and expiry.
pub fn end(
    state: &AppState,
    ip: &str,
    port: u16,
    only_id: Option<u64>,
    how: Ending,
) -> Option<PortMapping> {
    let key = (ip.to_string(), port);
    let removed = {
        let mut inner = state.lock();
        match inner.mappings.get(&key) {
            Some(m) if only_id.is_none_or(|id| id == m.id) => inner.mappings.remove(&key),
            _ => None,
        }
    }?;
    removed.cancel.cancel();
    dataplane::forget_mapping(state, ip, port);
    state.audit(event(how.audit_type(), &removed.imsi, &removed.wire, None));
    tracing::info!(%ip, port, ending = ?how, "mapping ended");
    Some(removed.wire)
}

/// Removes a mapping (DELETE): see [`end`].
pub fn delete(state: &AppState, ip: &str, port: u16) -> Option<PortMapping> {
    end(state, ip, port, None, Ending::Deleted)
}

/// Expires the mapping `ip:port` now, as Soracom does at its expiry time (see [`end`]);
/// false when there is no such mapping.
pub fn expire_now(state: &AppState, ip: &str, port: u16) -> bool {
    end(state, ip, port, None, Ending::Expired).is_some()
}

async fn expire_after(
    state: AppState,
    key: (String, u16),
    id: u64,
    cancel: CancellationToken,
    secs: u64,
) {
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_secs(secs)) => {
            end(&state, &key.0, key.1, Some(id), Ending::Expired);
        }
    }
}

/// What a forwarding task needs.
#[derive(Clone)]
struct ForwardCtx {
    /// Shared state (device status, audit log).
    state: AppState,
    /// The mapping's spec.
    spec: MappingSpec,
    /// The mapping as reported.
    wire: PortMapping,
    /// Closes the listener and live connections.
    cancel: CancellationToken,
}

async fn accept_loop(listener: TcpListener, ctx: ForwardCtx) {
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let conn_id = uuid::Uuid::new_v4().to_string();
                    let span = tracing::info_span!("napter_conn", endpoint = ?ctx.wire.endpoint,
                        sim_id = %ctx.spec.sim_id, %peer, %conn_id);
                    tokio::spawn(handle(sock, peer, conn_id, ctx.clone()).instrument(span));
                }
                Err(e) => tracing::warn!(error = %e, "napter accept failed"),
            }
        }
    }
}

/// Why a connection is refused before forwarding, if it is.
fn refusal(ctx: &ForwardCtx, peer: &SocketAddr) -> Option<&'static str> {
    let ip = peer.ip();
    if !ctx.spec.ranges.is_empty() && !ctx.spec.ranges.iter().any(|r| r.contains(&ip)) {
        return Some("source address outside source.ipRanges");
    }
    let online = ctx
        .state
        .lock()
        .devices
        .get(&ctx.spec.sim_id)
        .is_some_and(|d| d.online);
    (!online).then_some("device offline")
}

fn target_of(ctx: &ForwardCtx) -> Option<String> {
    let inner = ctx.state.lock();
    let device = inner.devices.get(&ctx.spec.sim_id)?;
    // The device port selects the service: a `ports` entry of the fleet, else the device's
    // SSH target (whatever the port).
    device.target_for(ctx.spec.device_port)
}

async fn handle(sock: TcpStream, peer: SocketAddr, conn_id: String, ctx: ForwardCtx) {
    let direction = direction(&peer, &ctx.wire);
    let audit = |kind: &str| {
        let mut e = event(kind, &ctx.spec.imsi, &ctx.wire, Some(direction.clone()));
        e.connection_id = Some(conn_id.clone());
        ctx.state.audit(e);
    };
    if let Some(reason) = refusal(&ctx, &peer) {
        tracing::info!(reason, "connection denied");
        audit("DENIED");
        return;
    }
    let Some(target) = target_of(&ctx) else {
        tracing::info!("nothing listens on the device; closing");
        audit("CLOSED");
        return;
    };
    let upstream = match TcpStream::connect(&target).await {
        Ok(s) => s,
        Err(e) => {
            tracing::info!(%target, error = %e, "device refused the connection");
            audit("CLOSED");
            return;
        }
    };
    audit("CONNECTED");
    tracing::info!(%target, "forwarding");
    forward_live(sock, upstream, &ctx).await;
    audit("CLOSED");
}

/// Forwards a client to its device until both finish or the connection is cut (mapping
/// ended, data-plane cut), registered as live meanwhile so data-plane faults reach it.
async fn forward_live(client: TcpStream, device: TcpStream, ctx: &ForwardCtx) {
    let cut = ctx.cancel.child_token();
    let endpoint = (ctx.wire.ip_address.clone(), ctx.wire.port);
    let link = LinkWatch::new(&ctx.state, &ctx.spec.sim_id, &endpoint.0, endpoint.1);
    let _live = dataplane::register(
        &ctx.state,
        LiveConn {
            sim_id: ctx.spec.sim_id.clone(),
            endpoint,
            cut: cut.clone(),
        },
    );
    match forward::relay(client, device, link, &cut).await {
        Ok(Relayed::Finished { up, down }) => tracing::info!(up, down, "connection finished"),
        Ok(Relayed::Cut) => tracing::info!("connection cut"),
        Err(e) => tracing::info!(error = %e, "connection ended with error"),
    }
}

fn direction(peer: &SocketAddr, wire: &PortMapping) -> NapterAuditLogDirection {
    NapterAuditLogDirection {
        source_ip_address: Some(peer.ip().to_string()),
        source_port: Some(peer.port()),
        destination_ip_address: Some(wire.ip_address.clone()),
        destination_port: Some(wire.port),
    }
}

fn event(
    kind: &str,
    imsi: &str,
    wire: &PortMapping,
    direction: Option<NapterAuditLogDirection>,
) -> NapterAuditLogEntry {
    NapterAuditLogEntry {
        entry_type: kind.to_string(),
        // stamped by `Shared::audit` on the emulator's clock
        created_at: 0,
        imsi: Some(imsi.to_string()),
        operator_id: None,
        connection_id: None,
        direction,
        tls: wire.tls_required,
    }
}
