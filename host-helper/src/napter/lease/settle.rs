//! The lease's clean-up: reaping the mappings whose napsh sessions all died (deleted only when
//! the SIM's own list shows they still lead there), and `napsh mappings close` (which of the
//! listed mappings to close, each deleted only while the listing shows it live and not about
//! to expire).

use crate::app::App;
use crate::error;
use crate::napter::mapping::{self, list_all, live_for};
use crate::napter::registry::Entry;
use crate::soracom::api::Client;
use crate::state::paths::now_ms;
use anyhow::Result;
use ipnet::IpNet;
use napsh_core::lease::{self as decide, Evidence, Want, RELEASE_MIN_LEFT_MS};
use napsh_core::soracom::{PortMapping, Sim};

/// Deletes mappings whose napsh sessions all died (crash, kill -9), each only when the SIM's
/// own list shows it still leads there. Never fails the command: problems are warnings.
pub async fn reap(app: &App) {
    let Ok(client) = app.client() else { return };
    let key = client.profile().cache_key();
    let doomed = match app.registry().reap(&key) {
        Ok(d) => d,
        Err(e) => return crate::output::warn(&format!("reading the mapping registry: {e:#}")),
    };
    for entry in doomed {
        if let Err(e) = reap_one(&client, &entry).await {
            crate::output::warn(&format!(
                "could not reap the abandoned mapping {}:{} of SIM {} (the next napsh command retries): {}",
                entry.ip_address,
                entry.port,
                entry.sim_id,
                error::one_line(&e)
            ));
            let _ = app.registry().add(entry);
        }
    }
}

/// Deletes one abandoned mapping when it still leads to its SIM; forgets it otherwise.
async fn reap_one(client: &Client, entry: &Entry) -> Result<()> {
    let deleted = delete_if_still_leads(
        client,
        &entry.sim_id,
        &[],
        entry.device_port,
        &entry.ip_address,
        entry.port,
    )
    .await?;
    tracing::info!(ip = %entry.ip_address, port = entry.port, deleted, "reaped an abandoned mapping");
    Ok(())
}

/// Deletes `ip:port` only when the SIM's own list, asked now, shows it leading to `sim_id`'s
/// `device_port` with more than a few seconds left; `Ok(false)` when it is gone, serves
/// another device, or is left to expire. The one place napsh deletes from a record.
pub(super) async fn delete_if_still_leads(
    client: &Client,
    sim_id: &str,
    imsis: &[String],
    device_port: u16,
    ip: &str,
    port: u16,
) -> Result<bool> {
    let listed_at_ms = now_ms();
    let listed = mapping::list_for_sim(client, sim_id).await?;
    let want = Want {
        sim_id,
        imsis,
        device_port,
        source: IpNet::default(),
        lifetime_ms: 0,
    };
    let evidence = Evidence {
        mappings: &listed,
        server_now_ms: client.server_now_ms(),
        listed_at_ms,
    };
    match decide::plan_release(&want, ip, port, &evidence) {
        decide::Release::Delete => mapping::delete(client, ip, port).await,
        decide::Release::Forget => {
            tracing::info!(
                ip,
                port,
                "the mapping is gone or serves another device: not deleted"
            );
            Ok(false)
        }
    }
}

/// The mappings napsh recorded for this profile that the listing shows leading to their SIM;
/// a record whose endpoint is gone (or now serves another device) is forgotten, never deleted.
pub async fn recorded_live(app: &App, client: &Client) -> Result<Vec<PortMapping>> {
    let key = client.profile().cache_key();
    let live = list_all(client).await?;
    let now = client.server_now_ms();
    let mut out = Vec::new();
    for e in app.registry().entries()? {
        if e.profile_key != key {
            continue;
        }
        let leads = live.iter().find(|m| {
            decide::is_endpoint(m, &e.ip_address, e.port)
                && m.destination.port == e.device_port
                && decide::targets(m, &e.sim_id, &[])
                && !m.is_expired(now)
        });
        match leads {
            Some(m) => out.push(m.clone()),
            None => {
                let _ = app.registry().forget(&key, &e.ip_address, e.port);
            }
        }
    }
    Ok(out)
}

/// Every live mapping of the given devices, from one listing.
pub async fn of_devices(app: &App, client: &Client, args: &[String]) -> Result<Vec<PortMapping>> {
    let names: Vec<&str> = args.iter().map(String::as_str).collect();
    let devices = crate::napter::devices::resolve_all(app, &names).await?;
    let maps = list_all(client).await?;
    let now = client.server_now_ms();
    let mut out = Vec::new();
    for d in devices {
        let sim: Sim = crate::napter::devices::fetch_sim(client, &d.sim_id).await?;
        out.extend(live_for(&maps, &sim, None, now).into_iter().cloned());
    }
    Ok(out)
}

/// Every live mapping of the operator, napsh's or not (`mappings close --all --any`).
pub async fn every_live(client: &Client) -> Result<Vec<PortMapping>> {
    let now = client.server_now_ms();
    Ok(list_all(client)
        .await?
        .into_iter()
        .filter(|m| !m.is_expired(now))
        .collect())
}

/// Closes one listed mapping: deleted unless it expires within seconds (its endpoint may
/// then be handed on before the delete arrives), and forgotten. `Ok(false)`: it was gone,
/// or is left to expire.
pub async fn close_listed(app: &App, client: &Client, m: &PortMapping) -> Result<bool> {
    let left = m
        .expired_time
        .map(|t| t - client.server_now_ms())
        .unwrap_or(i64::MAX);
    let key = client.profile().cache_key();
    let deleted = if left <= RELEASE_MIN_LEFT_MS {
        false
    } else {
        mapping::delete(client, &m.ip_address, m.port).await?
    };
    let _ = app.registry().forget(&key, &m.ip_address, m.port);
    Ok(deleted)
}
