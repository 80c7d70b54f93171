//! The device list: every SIM (paginated) joined with the live mappings, normalised into
//! `DeviceEntry`s, cached for instant display, filtered, and resolved from device arguments
//! (cache first, the API once when the cache does not know the argument).

use crate::app::App;
use crate::error::NapshError;
use crate::napter::mapping::targets;
use crate::napter::registry::Entry;
use crate::soracom::api::Client;
use crate::state::paths::{now_ms, read_private, write_private_unsynced};
use anyhow::Result;
use napsh_core::messages::{DeviceEntry, ErrorKind, MappingSummary};
use napsh_core::resolve::{resolve, ResolveError};
use napsh_core::soracom::{PortMapping, Sim};
use napsh_core::Device;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The cache is used without asking the API when younger than this.
pub const CACHE_TTL_MS: i64 = 60_000;

/// The cached device list of one profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedList {
    /// When it was fetched (unix ms).
    pub fetched_at_ms: i64,
    /// The list, in display order.
    pub entries: Vec<DeviceEntry>,
}

/// Cache file of the selected profile.
pub fn cache_path(app: &App, client: &Client) -> PathBuf {
    app.dirs
        .cache
        .join(format!("devices-{}.json", client.profile().cache_key()))
}

/// Reads the cached list (any age).
pub fn read_cache(path: &std::path::Path) -> Option<CachedList> {
    let bytes = read_private(path).ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}

/// The entry of `sim_id` in the cached list when that list is fresh (younger than the TTL).
pub fn fresh_cached_entry(app: &App, client: &Client, sim_id: &str) -> Option<DeviceEntry> {
    let cached = read_cache(&cache_path(app, client))?;
    if now_ms() - cached.fetched_at_ms >= CACHE_TTL_MS {
        return None;
    }
    cached
        .entries
        .into_iter()
        .find(|e| e.device.sim_id == sim_id)
}

/// `GET /v1/sims/{id}`: one SIM, fresh from the API.
pub async fn fetch_sim(client: &Client, sim_id: &str) -> Result<Sim> {
    client
        .get(
            &format!("/sims/{}", crate::soracom::path::segment(sim_id)),
            &[],
        )
        .await
}

/// Fetches SIMs and mappings, builds the list and refreshes the cache.
pub async fn fetch(app: &App, client: &Client) -> Result<CachedList> {
    let listed_at_ms = now_ms();
    let spinner = crate::progress::Spinner::start("fetching the device list…");
    let (sims, maps) = tokio::try_join!(
        client.list::<Sim>("/sims"),
        crate::napter::mapping::list_all_if_permitted(client)
    )?;
    spinner.finish();
    let owned = app.registry().entries().unwrap_or_default();
    let key = client.profile().cache_key();
    let list = CachedList {
        fetched_at_ms: now_ms(),
        entries: build_entries(
            &sims,
            maps.as_deref().unwrap_or_default(),
            &owned,
            &key,
            client.server_now_ms(),
        ),
    };
    // Only a complete listing is evidence for the lease; without one it asks per SIM.
    if let Some(maps) = maps {
        app.remember(sims, maps, listed_at_ms);
    }
    let path = cache_path(app, client);
    if let Err(e) = serde_json::to_vec(&list)
        .map_err(anyhow::Error::from)
        .and_then(|b| write_private_unsynced(&path, &b))
    {
        crate::output::warn(&format!("could not write the device cache: {e:#}"));
    }
    Ok(list)
}

/// The list: from the cache when fresh enough (or `cache_only`), else from the API.
pub async fn list(app: &App, refresh: bool, cache_only: bool) -> Result<CachedList> {
    let client = app.client()?;
    let path = cache_path(app, &client);
    if !refresh {
        if let Some(cached) = read_cache(&path) {
            if cache_only || now_ms() - cached.fetched_at_ms < CACHE_TTL_MS {
                return Ok(cached);
            }
        }
        if cache_only {
            return Err(
                NapshError::new(ErrorKind::NotFound, "no cached device list yet")
                    .hint("run `napsh devices --refresh`")
                    .into(),
            );
        }
    }
    fetch(app, &client).await
}

/// Joins SIMs with their live mappings, in display order.
pub fn build_entries(
    sims: &[Sim],
    maps: &[PortMapping],
    owned: &[Entry],
    profile_key: &str,
    now: i64,
) -> Vec<DeviceEntry> {
    let mut devices: Vec<(Device, Vec<MappingSummary>)> = sims
        .iter()
        .map(|sim| {
            let summaries = maps
                .iter()
                .filter(|m| !m.is_expired(now) && targets(m, sim))
                .map(|m| summary(m, is_owned(m, owned, profile_key)))
                .collect();
            (Device::from_sim(sim), summaries)
        })
        .collect();
    devices.sort_by(|a, b| Device::display_order(&a.0, &b.0));
    devices
        .into_iter()
        .map(|(device, mappings)| DeviceEntry { device, mappings })
        .collect()
}

/// Whether napsh created mapping `m` (it is in the registry).
pub fn is_owned(m: &PortMapping, owned: &[Entry], profile_key: &str) -> bool {
    owned
        .iter()
        .any(|e| e.is(profile_key, &m.ip_address, m.port))
}

/// The summary shown next to a device.
pub fn summary(m: &PortMapping, owned: bool) -> MappingSummary {
    MappingSummary {
        endpoint: m
            .endpoint
            .clone()
            .unwrap_or_else(|| format!("{}:{}", m.ip_address, m.port)),
        hostname: m.hostname.clone(),
        device_port: m.destination.port,
        expires_at: m.expired_time,
        owned,
    }
}

/// Case-insensitive substring filter over name, SIM id, IMSI and tags.
pub fn matches_filter(entry: &DeviceEntry, filter: &str) -> bool {
    let f = filter.to_lowercase();
    let d = &entry.device;
    let hit = |s: &str| s.to_lowercase().contains(&f);
    hit(&d.name)
        || hit(&d.sim_id)
        || d.imsi.as_deref().is_some_and(hit)
        || d.tags
            .iter()
            .any(|(k, v)| hit(v) || hit(&format!("{k}={v}")))
}

/// Resolves device arguments: against the cache first, then (once) a fresh list. Each
/// argument gets its own result; the outer error means the list could not be fetched.
pub async fn resolve_each(app: &App, args: &[&str]) -> Result<Vec<Result<Device>>> {
    let client = app.client()?;
    if let Some(list) = read_cache(&cache_path(app, &client)) {
        // A name, tag or IMSI may have moved to another SIM since: only a fresh cache answers
        // those; an exact SIM id (the SIM's identity) may come from a cache of any age.
        let fresh = now_ms() - list.fetched_at_ms < CACHE_TTL_MS;
        let by_id = args
            .iter()
            .all(|a| list.entries.iter().any(|e| e.device.sim_id == *a));
        if fresh || by_id {
            if let Ok(found) = resolve_in(&list.entries, args) {
                return Ok(found.into_iter().map(Ok).collect());
            }
        }
    }
    let fresh = fetch(app, &client).await?;
    let devices: Vec<Device> = fresh.entries.iter().map(|e| e.device.clone()).collect();
    Ok(args
        .iter()
        .map(|a| resolve(&devices, a).cloned().map_err(resolve_error))
        .collect())
}

/// Resolves device arguments, failing on the first that names no single device.
pub async fn resolve_all(app: &App, args: &[&str]) -> Result<Vec<Device>> {
    resolve_each(app, args).await?.into_iter().collect()
}

/// A resolution failure as a typed napsh error.
pub fn resolve_error(e: ResolveError) -> anyhow::Error {
    let kind = match e {
        ResolveError::Ambiguous { .. } => ErrorKind::AmbiguousDevice,
        _ => ErrorKind::UnknownDevice,
    };
    NapshError::new(kind, e.to_string()).into()
}

/// Resolves every argument against `entries`.
fn resolve_in(entries: &[DeviceEntry], args: &[&str]) -> Result<Vec<Device>, ResolveError> {
    let devices: Vec<Device> = entries.iter().map(|e| e.device.clone()).collect();
    args.iter().map(|a| resolve(&devices, a).cloned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use napsh_core::soracom::{PortMappingDestination, SessionStatus, SimProfile, TagSet};

    fn sim(id: &str, imsi: &str, name: &str, online: bool) -> Sim {
        let mut tags = TagSet::new();
        tags.insert("name".into(), name.into());
        tags.insert("role".into(), "kiosk".into());
        let mut profiles = std::collections::BTreeMap::new();
        profiles.insert(
            id.to_string(),
            SimProfile {
                primary_imsi: Some(imsi.into()),
                ..Default::default()
            },
        );
        Sim {
            sim_id: id.into(),
            tags,
            profiles,
            session_status: Some(SessionStatus {
                online,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn mapping(ip: &str, sim: Option<&str>, imsi: Option<&str>, expires: i64) -> PortMapping {
        PortMapping {
            ip_address: ip.into(),
            port: 40000,
            destination: PortMappingDestination {
                port: 22,
                sim_id: sim.map(Into::into),
                imsi: imsi.map(Into::into),
                ..Default::default()
            },
            expired_time: Some(expires),
            ..Default::default()
        }
    }

    #[test]
    fn joins_live_mappings_by_sim_id_or_imsi_and_marks_owned() {
        let sims = [sim("1", "4401", "b", false), sim("2", "4402", "a", true)];
        let maps = [
            mapping("9.9.9.1", Some("1"), None, 10_000),
            mapping("9.9.9.2", None, Some("4402"), 10_000),
            mapping("9.9.9.3", Some("2"), None, 50),
        ];
        let owned = [Entry {
            profile_key: "k".into(),
            ip_address: "9.9.9.2".into(),
            port: 40000,
            sim_id: "2".into(),
            device_port: 22,
            owners: vec![],
            keep: false,
            created_at_ms: 0,
            recorded_at_ms: 0,
            expires_at_ms: None,
            source: None,
            server_skew_ms: 0,
        }];
        let entries = build_entries(&sims, &maps, &owned, "k", 100);
        assert_eq!(entries[0].device.sim_id, "2", "online first");
        assert_eq!(entries[0].mappings.len(), 1, "expired mapping hidden");
        assert!(entries[0].mappings[0].owned);
        assert_eq!(entries[1].mappings[0].endpoint, "9.9.9.1:40000");
        assert!(!entries[1].mappings[0].owned);
    }

    #[test]
    fn filter_is_case_insensitive_over_ids_and_tags() {
        let e = build_entries(&[sim("8981", "4401", "Kiosk-12", true)], &[], &[], "k", 0);
        for f in ["kiosk", "898", "4401", "role=kiosk", "KIOSK"] {
            assert!(matches_filter(&e[0], f), "{f}");
        }
        assert!(!matches_filter(&e[0], "weather"));
    }

    #[test]
    fn resolution_reports_unknown_with_suggestions() {
        let e = build_entries(&[sim("8981", "4401", "kiosk-12", true)], &[], &[], "k", 0);
        assert_eq!(resolve_in(&e, &["4401"]).unwrap()[0].sim_id, "8981");
        let err = resolve_in(&e, &["kiosk12"]).unwrap_err().to_string();
        assert!(err.contains("kiosk-12"), "{err}");
    }
}
