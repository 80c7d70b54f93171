//! Napter port mappings: listing, which SIM one leads to, finding a reusable one (same device and
//! port, not about to expire, source range covering us), creating one (never blindly retried),
//! deleting one.

use crate::error::{self, NapshError};
use crate::napter::registry::{Entry, Owner, Registry};
use crate::napter::source_range::covers;
use crate::soracom::api::Client;
use crate::state::paths::now_ms;
use anyhow::{Context, Result};
use ipnet::IpNet;
use napsh_core::messages::{Endpoint, ErrorKind};
use napsh_core::sanitize::for_terminal;
use napsh_core::soracom::{
    CreatePortMappingRequest, PortMapping, PortMappingDestination, PortMappingSource, Sim,
};

/// A mapping is not reused when it expires within this many milliseconds.
const REUSE_MARGIN_MS: i64 = 2 * 60 * 1000;

/// Who holds a mapping napsh creates or reuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// This process (an ssh session): deleted when its last session ends.
    Session(Owner),
    /// Nobody yet (`napsh connect`): the next session that uses it deletes it when done;
    /// otherwise it expires.
    Reserved,
    /// Kept until expiry or `napsh mappings close` (`--keep`).
    Kept,
    /// A check (`napsh doctor`): a mapping it creates is deleted afterwards; one it reuses
    /// is left alone.
    Probe(Owner),
}

/// What to ensure for one device.
#[derive(Debug, Clone)]
pub struct Want {
    /// The SIM (fresh from the API).
    pub sim: Sim,
    /// Device port.
    pub device_port: u16,
    /// Lifetime of a new mapping, seconds.
    pub duration_secs: u64,
    /// Source range that must be allowed.
    pub source: IpNet,
    /// Who holds it.
    pub holder: Holder,
}

/// What napsh knows of the operator's mappings when it ensures one.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Mappings listed recently (empty when nothing was listed).
    pub mappings: Vec<PortMapping>,
    /// When that listing started (unix ms); `None` when `mappings` is not a complete listing.
    pub listed_at_ms: Option<i64>,
}

impl Known {
    /// A complete listing that started at `listed_at_ms`.
    pub fn listed(mappings: Vec<PortMapping>, listed_at_ms: i64) -> Self {
        Known {
            mappings,
            listed_at_ms: Some(listed_at_ms),
        }
    }
}

/// The mapping ensured for a device.
#[derive(Debug, Clone)]
pub struct Ensured {
    /// The mapping.
    pub mapping: PortMapping,
    /// `true` when an existing mapping was reused.
    pub reused: bool,
}

impl Ensured {
    /// The endpoint as the JSON messages describe it.
    pub fn endpoint(&self) -> Endpoint {
        endpoint_of(&self.mapping, self.reused)
    }
}

/// The `Endpoint` message of a mapping.
pub fn endpoint_of(m: &PortMapping, reused: bool) -> Endpoint {
    Endpoint {
        ip_address: m.ip_address.clone(),
        port: m.port,
        hostname: m.hostname.clone(),
        device_port: m.destination.port,
        expires_at: m.expired_time,
        reused,
    }
}

/// Every mapping of the operator (all pages).
pub async fn list_all(client: &Client) -> Result<Vec<PortMapping>> {
    client.list::<PortMapping>("/port_mappings").await
}

/// The live mappings of `sim` (any source range), latest expiry first.
pub fn live_for<'a>(
    maps: &'a [PortMapping],
    sim: &Sim,
    port: Option<u16>,
    now: i64,
) -> Vec<&'a PortMapping> {
    let mut out: Vec<&PortMapping> = maps
        .iter()
        .filter(|m| targets(m, sim) && !m.is_expired(now))
        .filter(|m| port.is_none_or(|p| m.destination.port == p))
        .collect();
    out.sort_by_key(|m| std::cmp::Reverse(m.expired_time.unwrap_or(i64::MAX)));
    out
}

/// Whether mapping `m` points at `sim` (by SIM id or any of its IMSIs).
pub fn targets(m: &PortMapping, sim: &Sim) -> bool {
    m.target_sim_id() == Some(sim.sim_id.as_str())
        || m.target_imsi()
            .is_some_and(|i| sim.all_imsis().contains(&i))
}

/// A mapping we can reuse for `want`: same device and port, plain TCP, not about to expire,
/// and allowing our source range.
pub fn find_reusable<'a>(
    maps: &'a [PortMapping],
    want: &Want,
    now: i64,
) -> Option<&'a PortMapping> {
    live_for(
        maps,
        &want.sim,
        Some(want.device_port),
        now + REUSE_MARGIN_MS,
    )
    .into_iter()
    .find(|m| {
        m.tls_required != Some(true)
            && m.source
                .as_ref()
                .is_some_and(|s| covers(&s.ip_ranges, &want.source))
    })
}

/// The create body for `want`.
pub fn create_request(want: &Want) -> CreatePortMappingRequest {
    CreatePortMappingRequest {
        destination: PortMappingDestination {
            port: want.device_port,
            service: Some("air".into()),
            ..Default::default()
        },
        duration: Some(want.duration_secs),
        tls_required: Some(false),
        source: Some(PortMappingSource {
            ip_ranges: vec![want.source.to_string()],
        }),
    }
}

/// Reuses or creates a mapping for `want`; `known` is what napsh knows of the mappings.
pub async fn ensure(
    client: &Client,
    registry: &Registry,
    want: &Want,
    known: &Known,
) -> Result<Ensured> {
    let key = client.profile().cache_key();
    // Held until the mapping is recorded: a concurrent napsh for this device waits, then
    // finds it in the registry below.
    let _device_lock = registry
        .lock_device(&key, &want.sim.sim_id, want.device_port)
        .await?;
    if let Some(listed_at_ms) = known.listed_at_ms {
        // Mappings deleted or expired early outside napsh must not be handed out again.
        registry.forget_unlisted(&key, &want.sim.sim_id, &known.mappings, listed_at_ms)?;
    }
    let known = known.mappings.as_slice();
    let recorded = known_reusable(registry, &key, want);
    if let Some(m) = recorded
        .as_ref()
        .or_else(|| find_reusable(known, want, now_ms()))
    {
        tracing::info!(ip = %m.ip_address, port = m.port, "reusing a mapping");
        if let Holder::Session(owner) = &want.holder {
            registry.adopt(&key, &m.ip_address, m.port, owner.clone())?;
        }
        return Ok(Ensured {
            mapping: m.clone(),
            reused: true,
        });
    }
    let mapping = create(client, want, known).await?;
    let owners = match &want.holder {
        Holder::Session(o) | Holder::Probe(o) => vec![o.clone()],
        _ => vec![],
    };
    let entry = Entry {
        profile_key: key,
        ip_address: mapping.ip_address.clone(),
        port: mapping.port,
        sim_id: want.sim.sim_id.clone(),
        device_port: want.device_port,
        owners,
        keep: want.holder == Holder::Kept,
        created_at_ms: mapping.created_time.unwrap_or_else(now_ms),
        recorded_at_ms: now_ms(),
        expires_at_ms: mapping.expired_time,
        source: Some(want.source.to_string()),
    };
    if let Err(e) = registry.add(entry) {
        let _ = delete(client, &mapping.ip_address, mapping.port).await;
        return Err(e.context("recording the new mapping in the registry (it was deleted again)"));
    }
    Ok(Ensured {
        mapping,
        reused: false,
    })
}

/// A mapping napsh itself created for this device and port, allowing `source` and not about
/// to expire: reusable without asking the API (its address, port and expiry are recorded).
pub fn known_reusable(registry: &Registry, profile_key: &str, want: &Want) -> Option<PortMapping> {
    let horizon = now_ms() + REUSE_MARGIN_MS;
    let source = want.source.to_string();
    let entries = registry.entries().ok()?;
    let entry = entries.into_iter().find(|e| {
        e.profile_key == profile_key
            && e.sim_id == want.sim.sim_id
            && e.device_port == want.device_port
            && e.source.as_deref() == Some(source.as_str())
            && e.expires_at_ms.is_some_and(|t| t > horizon)
    })?;
    Some(PortMapping {
        ip_address: entry.ip_address.clone(),
        port: entry.port,
        endpoint: Some(format!("{}:{}", entry.ip_address, entry.port)),
        destination: PortMappingDestination {
            port: entry.device_port,
            sim_id: Some(entry.sim_id.clone()),
            ..Default::default()
        },
        sim_id: Some(entry.sim_id),
        source: Some(PortMappingSource {
            ip_ranges: vec![source],
        }),
        created_time: Some(entry.created_at_ms),
        expired_time: entry.expires_at_ms,
        tls_required: Some(false),
        ..Default::default()
    })
}

/// `POST /v1/port_mappings/sims/{sim}`. After an uncertain failure (5xx, timeout, connection
/// lost), the mappings are listed to find one the request may have created anyway.
async fn create(client: &Client, want: &Want, known: &[PortMapping]) -> Result<PortMapping> {
    let path = format!("/port_mappings/sims/{}", want.sim.sim_id);
    let err = match client
        .post::<_, PortMapping>(&path, &create_request(want))
        .await
    {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    if !matches!(
        error::kind_of(&err),
        ErrorKind::Api | ErrorKind::Network | ErrorKind::Timeout
    ) {
        return Err(err);
    }
    tracing::info!("create failed uncertainly: checking whether the mapping exists anyway");
    let Ok(after) = list_all(client).await else {
        return Err(err);
    };
    let appeared = after.into_iter().find(|m| {
        !known
            .iter()
            .any(|k| k.ip_address == m.ip_address && k.port == m.port)
            && targets(m, &want.sim)
            && m.destination.port == want.device_port
            && !m.is_expired(now_ms())
    });
    match appeared {
        Some(m) => {
            tracing::info!(ip = %m.ip_address, port = m.port, "the failed create did create a mapping");
            Ok(m)
        }
        None => Err(err),
    }
}

/// Whether the mapping `ip:port` still leads to SIM `sim_id` (`GET /port_mappings/sims/{id}`,
/// a 404 when the SIM has none). A recorded endpoint that expired may already serve another
/// device: napsh deletes by `ip:port`, so it asks before deleting from an old record.
pub async fn still_leads_to(client: &Client, sim_id: &str, ip: &str, port: u16) -> Result<bool> {
    let path = format!("/port_mappings/sims/{sim_id}");
    match client.get::<Vec<PortMapping>>(&path, &[]).await {
        Ok(maps) => Ok(maps.iter().any(|m| m.ip_address == ip && m.port == port)),
        Err(e) if error::kind_of(&e) == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `DELETE /v1/port_mappings/{ip}/{port}`; a mapping already gone counts as deleted.
/// `Ok(false)` when it was already gone (expired, or deleted outside napsh).
pub async fn delete(client: &Client, ip: &str, port: u16) -> Result<bool> {
    let deleted = client
        .delete(&format!("/port_mappings/{ip}/{port}"))
        .await
        .with_context(|| format!("deleting the mapping {}:{port}", for_terminal(ip)))?;
    if !deleted {
        tracing::info!(ip, port, "mapping was already gone");
    }
    Ok(deleted)
}

/// The error for a device that has no data session.
pub fn offline_error(label: &str) -> anyhow::Error {
    NapshError::new(
        ErrorKind::Offline,
        format!("{} is offline (no data session)", for_terminal(label)),
    )
    .hint("power it on / check its cellular signal, then try again")
    .into()
}
