//! Napter port mappings on the wire: the calls (list all, list one SIM's, create, delete),
//! who holds a mapping napsh uses, and how a mapping is shown. Only `napter::lease` decides
//! when to create or delete; this module only speaks to the API.

use crate::error::{self, NapshError};
use crate::napter::registry::Owner;
use crate::soracom::api::Client;
use crate::soracom::path::segment;
use anyhow::{Context, Result};
use ipnet::IpNet;
use napsh_core::messages::{Endpoint, ErrorKind};
use napsh_core::sanitize::for_terminal;
use napsh_core::soracom::{
    CreatePortMappingRequest, PortMapping, PortMappingDestination, PortMappingSource, Sim,
};

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

impl Holder {
    /// The process recorded as the mapping's user, if any.
    pub fn owner(&self) -> Option<&Owner> {
        match self {
            Holder::Session(o) | Holder::Probe(o) => Some(o),
            Holder::Reserved | Holder::Kept => None,
        }
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

/// Every mapping of the operator, or `None` when the profile may not list them all (a SAM
/// user of `napsh access`, which has only the per-SIM listing): callers then ask per SIM.
pub async fn list_all_if_permitted(client: &Client) -> Result<Option<Vec<PortMapping>>> {
    match list_all(client).await {
        Ok(maps) => Ok(Some(maps)),
        Err(e) if error::kind_of(&e) == ErrorKind::PermissionDenied => {
            tracing::info!("no permission to list every mapping: per-SIM lists only");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The mappings created for SIM `sim_id` (`GET /port_mappings/sims/{id}`; its 404 means
/// "none").
pub async fn list_for_sim(client: &Client, sim_id: &str) -> Result<Vec<PortMapping>> {
    let path = format!("/port_mappings/sims/{}", segment(sim_id));
    // Read entry by entry: one broken mapping never hides the others.
    match client.list::<PortMapping>(&path).await {
        Ok(maps) => Ok(maps),
        Err(e) if error::kind_of(&e) == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
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
    let imsis: Vec<String> = sim.all_imsis().iter().map(|s| s.to_string()).collect();
    napsh_core::lease::targets(m, &sim.sim_id, &imsis)
}

/// `POST /v1/port_mappings/sims/{sim}` for `device_port`, `secs` long, allowing `source`
/// (never retried by the client after a failure: the lease decides what the failure means).
pub async fn post_create(
    client: &Client,
    sim_id: &str,
    device_port: u16,
    secs: u64,
    source: IpNet,
) -> Result<PortMapping> {
    let body = CreatePortMappingRequest {
        destination: PortMappingDestination {
            port: device_port,
            service: Some("air".into()),
            ..Default::default()
        },
        duration: Some(secs),
        tls_required: Some(false),
        source: Some(PortMappingSource {
            ip_ranges: vec![source.to_string()],
        }),
    };
    client
        .post(&format!("/port_mappings/sims/{}", segment(sim_id)), &body)
        .await
}

/// `DELETE /v1/port_mappings/{ip}/{port}`. `Ok(false)` when it was already gone (expired,
/// or deleted outside napsh).
pub async fn delete(client: &Client, ip: &str, port: u16) -> Result<bool> {
    let deleted = client
        .delete(&format!("/port_mappings/{}/{port}", segment(ip)))
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
