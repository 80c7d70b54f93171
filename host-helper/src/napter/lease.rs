//! A mapping's life in one napsh process: its device port and lifetime (`--port`, `--duration`,
//! the config), ensuring it for a device (reused or created, asking the API as little as
//! possible), holding it for this process's session, releasing it when the session ends
//! (deleted by its last user), reaping the ones whose sessions all died, forgetting recorded
//! ones that are gone, and closing them (`napsh mappings close`).

use crate::app::App;
use crate::cli::MappingOpts;
use crate::config::validate_duration;
use crate::error;
use crate::napter::devices::fresh_cached_entry;
use crate::napter::mapping::{
    delete, ensure, known_reusable, list_all, offline_error, Ensured, Holder, Known, Want,
};
use crate::napter::registry::{Owner, Registry, Release};
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::soracom::api::Client;
use crate::state::paths::now_ms;
use anyhow::Result;
use ipnet::IpNet;
use napsh_core::soracom::Sim;
use napsh_core::Device;
use std::sync::Arc;

/// Device port: `--port` > config rule > 22.
pub fn device_port(app: &App, opts: &MappingOpts, device: &Device) -> u16 {
    opts.port
        .or_else(|| app.config.settings_for(device).port)
        .unwrap_or(22)
}

/// Mapping lifetime: `--duration` > config, validated.
pub fn duration(app: &App, opts: &MappingOpts) -> Result<u64> {
    let secs = opts.duration.unwrap_or(app.config.mapping_duration_secs);
    validate_duration(secs).map_err(|e| {
        let e = crate::error::NapshError {
            why: format!("--duration: {}", e.why),
            ..e
        };
        e.into()
    })
}

/// Who asks for mappings in this process, and for how long.
pub struct Session {
    /// The API client.
    pub client: Arc<Client>,
    /// Source range of new mappings.
    pub source: ipnet::IpNet,
    /// This process, as the registry records it.
    pub me: Owner,
    /// Lifetime of new mappings, seconds.
    pub secs: u64,
}

impl Session {
    /// Client, source range and owner for this process.
    pub async fn start(app: &App, secs: u64) -> Result<Self> {
        Ok(Session {
            source: app.source_cidr().await?,
            client: app.client()?,
            me: Owner::me(),
            secs,
        })
    }

    /// Ensures a mapping held by this process. A signal while it is being created does not
    /// abandon it: the create finishes, the mapping is released, and `Err(exit code)` says the
    /// command must end.
    pub async fn ensure(
        &self,
        app: &App,
        device: &Device,
        port: u16,
        signals: &mut Signals,
    ) -> std::result::Result<Result<Ensured>, i32> {
        let ensuring = ensure_for(
            app,
            &self.client,
            device,
            port,
            self.secs,
            self.source,
            Holder::Session(self.me.clone()),
        );
        tokio::pin!(ensuring);
        tokio::select! {
            r = &mut ensuring => Ok(r),
            sig = signals.recv() => {
                if let Ok(ensured) = ensuring.await {
                    self.release(app, &ensured, false).await;
                }
                Err(exit_code(sig))
            }
        }
    }

    /// This process is done with the mapping: deleted when it was the last user.
    pub async fn release(&self, app: &App, ensured: &Ensured, keep: bool) {
        finish(app, &self.client, ensured, &self.me, keep).await;
    }
}

/// Reuse or create a mapping for `device`, asking the API as little as possible:
/// a mapping napsh recorded (live, allowing our source) costs no call; otherwise the device's
/// state comes from this process's fresh listing, else the fresh device cache, else the API;
/// a device the fresh cache shows online and without mappings is created at once (1 call).
/// A device that went offline since is caught when ssh fails (see `ssh::verdict::diagnose`).
pub async fn ensure_for(
    app: &App,
    client: &Client,
    device: &Device,
    port: u16,
    secs: u64,
    source: ipnet::IpNet,
    holder: Holder,
) -> Result<Ensured> {
    let registry = app.registry();
    let mut want = Want {
        sim: sim_of(device),
        device_port: port,
        duration_secs: secs,
        source,
        holder,
    };
    if known_reusable(&registry, &client.profile().cache_key(), &want).is_some() {
        return ensure(client, &registry, &want, &Known::default()).await;
    }
    let known = match app.snapshot() {
        None if cached_online_unmapped(app, client, device) => Known::default(),
        _ => {
            want.sim = fresh_sim(app, client, &device.sim_id).await?;
            if !want.sim.session_status.as_ref().is_some_and(|s| s.online) {
                return Err(offline_error(device.label()));
            }
            fresh_mappings(app, client).await?
        }
    };
    ensure(client, &registry, &want, &known).await
}

/// Whether the fresh device cache shows `device` online and without a mapping (then a
/// mapping is created at once, without asking for the SIM or listing mappings first).
pub fn cached_online_unmapped(app: &App, client: &Client, device: &Device) -> bool {
    fresh_cached_entry(app, client, &device.sim_id)
        .is_some_and(|e| e.device.online && e.mappings.is_empty())
}

/// A SIM as far as the device model knows it (id, IMSI, online): enough to create a mapping
/// and to recognise mappings that target it.
pub fn sim_of(device: &Device) -> Sim {
    Sim {
        sim_id: device.sim_id.clone(),
        session_status: Some(napsh_core::soracom::SessionStatus {
            online: device.online,
            imsi: device.imsi.clone(),
            ..Default::default()
        }),
        tags: device.tags.clone(),
        group_id: device.group_id.clone(),
        ..Default::default()
    }
}

/// The SIM `sim_id` from a fresh snapshot, else from the API.
pub async fn fresh_sim(app: &App, client: &Client, sim_id: &str) -> Result<Sim> {
    let known = app
        .snapshot()
        .and_then(|s| s.sims.iter().find(|s| s.sim_id == sim_id).cloned());
    match known {
        Some(sim) => Ok(sim),
        None => client.get(&format!("/sims/{sim_id}"), &[]).await,
    }
}

/// Every mapping, from a fresh snapshot, else from the API.
pub async fn fresh_mappings(app: &App, client: &Client) -> Result<crate::napter::mapping::Known> {
    match app.snapshot() {
        Some(s) => Ok(crate::napter::mapping::Known::listed(
            s.mappings.clone(),
            s.listed_at_ms,
        )),
        None => {
            let listed_at_ms = crate::state::paths::now_ms();
            let mappings = crate::napter::mapping::list_all(client).await?;
            Ok(crate::napter::mapping::Known::listed(
                mappings,
                listed_at_ms,
            ))
        }
    }
}

/// How a session's mapping ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Deleted now, or left for other users / `--keep`.
    Done,
    /// It was already gone: it expired or was deleted outside napsh during the session.
    AlreadyGone,
}

/// The session ended: release the mapping and delete it when this was its last user. A
/// delete that fails is recorded again under this (soon dead) process, so that the next
/// napsh command reaps it.
pub async fn finish(
    app: &App,
    client: &Client,
    ensured: &Ensured,
    me: &Owner,
    keep: bool,
) -> Finished {
    let m = &ensured.mapping;
    let key = client.profile().cache_key();
    match app
        .registry()
        .release(&key, &m.ip_address, m.port, me, keep)
    {
        Ok(Release::Delete) => match delete(client, &m.ip_address, m.port).await {
            Ok(true) => Finished::Done,
            Ok(false) => Finished::AlreadyGone,
            Err(e) => {
                output::warn(&format!(
                    "{}; the next napsh command retries",
                    error::one_line(&e)
                ));
                if let Err(e) = app.registry().add(entry_to_reap(&key, ensured, me)) {
                    output::warn(&format!("updating the mapping registry: {e:#}"));
                }
                Finished::Done
            }
        },
        Ok(Release::Leave) => Finished::Done,
        Err(e) => {
            output::warn(&format!("updating the mapping registry: {e:#}"));
            Finished::Done
        }
    }
}

/// A registry entry for a mapping whose delete failed, owned by `me` only: once this process
/// has exited, the next napsh command's reaping deletes it.
pub fn entry_to_reap(
    profile_key: &str,
    ensured: &Ensured,
    me: &Owner,
) -> crate::napter::registry::Entry {
    let m = &ensured.mapping;
    crate::napter::registry::Entry {
        profile_key: profile_key.to_string(),
        ip_address: m.ip_address.clone(),
        port: m.port,
        sim_id: m.target_sim_id().unwrap_or_default().to_string(),
        device_port: m.destination.port,
        owners: vec![me.clone()],
        keep: false,
        created_at_ms: m.created_time.unwrap_or(0),
        recorded_at_ms: crate::state::paths::now_ms(),
        expires_at_ms: m.expired_time,
        source: None,
    }
}

/// After ssh could not connect through a reused mapping: whether that recorded mapping is gone
/// (`true`), in which case it is forgotten, never deleted — its endpoint may already serve
/// another device, and deleting it would delete that device's mapping.
pub async fn forget_if_gone(
    app: &App,
    client: &Client,
    device: &Device,
    ensured: &Ensured,
) -> bool {
    if !ensured.reused {
        return false;
    }
    let leads = crate::napter::mapping::still_leads_to(
        client,
        &device.sim_id,
        &ensured.mapping.ip_address,
        ensured.mapping.port,
    )
    .await
    .unwrap_or(true);
    if leads {
        return false;
    }
    let m = &ensured.mapping;
    let key = client.profile().cache_key();
    if let Err(e) = app.registry().forget(&key, &m.ip_address, m.port) {
        output::warn(&format!("updating the mapping registry: {e:#}"));
    }
    true
}

/// Deletes mappings whose napsh sessions all died (crash, kill -9). Never fails the
/// command: problems are warnings.
pub async fn reap(app: &App) {
    let Ok(client) = app.client() else { return };
    let key = client.profile().cache_key();
    let doomed = match app.registry().reap(&key) {
        Ok(d) => d,
        Err(e) => return crate::output::warn(&format!("reading the mapping registry: {e:#}")),
    };
    for entry in doomed {
        let (ip, port) = (&entry.ip_address, entry.port);
        match crate::napter::mapping::still_leads_to(&client, &entry.sim_id, ip, port).await {
            Ok(true) => {}
            Ok(false) => {
                // Expired or deleted outside napsh; the endpoint may serve another device now.
                tracing::info!(%ip, port, "an abandoned mapping is already gone: forgotten");
                continue;
            }
            Err(e) => {
                crate::output::warn(&format!(
                    "could not check the abandoned mapping {ip}:{port} of SIM {} (the next napsh command retries): {}",
                    entry.sim_id,
                    crate::error::one_line(&e)
                ));
                let _ = app.registry().add(entry);
                continue;
            }
        }
        tracing::info!(%ip, port, "reaping an abandoned mapping");
        if let Err(e) = crate::napter::mapping::delete(&client, &entry.ip_address, entry.port).await
        {
            crate::output::warn(&format!(
                "could not delete the abandoned mapping {}:{} of SIM {}: {}",
                entry.ip_address,
                entry.port,
                entry.sim_id,
                crate::error::one_line(&e)
            ));
            let _ = app.registry().add(entry);
        }
    }
}

/// Everything one device's task of `napsh connect` needs.
pub struct ConnectJob {
    /// API client.
    pub client: Arc<Client>,
    /// Registry of owned mappings.
    pub registry: Registry,
    /// Mappings listed before the tasks started.
    pub known: Arc<Known>,
    /// The device.
    pub device: Device,
    /// Its SIM, when this process fetched it moments ago.
    pub sim: Option<Sim>,
    /// Device port.
    pub port: u16,
    /// Mapping lifetime.
    pub secs: u64,
    /// Our source range.
    pub source: IpNet,
    /// Who holds a new mapping.
    pub holder: Holder,
}

impl ConnectJob {
    /// Ensures the device's mapping: its SIM (fetched unless known), online, then reused or
    /// created.
    pub async fn run(self) -> Result<Ensured> {
        let sim: Sim = match self.sim {
            Some(sim) => sim,
            None => {
                self.client
                    .get(&format!("/sims/{}", self.device.sim_id), &[])
                    .await?
            }
        };
        if !sim.session_status.as_ref().is_some_and(|s| s.online) {
            return Err(offline_error(self.device.label()));
        }
        let want = Want {
            sim,
            device_port: self.port,
            duration_secs: self.secs,
            source: self.source,
            holder: self.holder,
        };
        ensure(&self.client, &self.registry, &want, &self.known).await
    }
}

/// The mappings napsh recorded for this profile that still lead to their SIM; a record whose
/// endpoint is gone (or now serves another device) is forgotten, never deleted.
pub async fn recorded_live(
    app: &App,
    client: &crate::soracom::api::Client,
    key: &str,
    now: i64,
) -> Result<Vec<(String, u16, Option<String>)>> {
    let live = list_all(client).await?;
    let mut out = Vec::new();
    for e in app.registry().entries()? {
        if e.profile_key != key || e.expired(now) {
            continue;
        }
        let leads = live.iter().any(|m| {
            m.ip_address == e.ip_address
                && m.port == e.port
                && m.target_sim_id() == Some(e.sim_id.as_str())
        });
        if leads {
            out.push((e.ip_address, e.port, Some(e.sim_id)));
        } else {
            let _ = app.registry().forget(key, &e.ip_address, e.port);
        }
    }
    Ok(out)
}

/// Every live mapping of the given devices.
pub async fn of_devices(
    app: &App,
    client: &Client,
    args: &[String],
) -> Result<Vec<(String, u16, Option<String>)>> {
    let names: Vec<&str> = args.iter().map(String::as_str).collect();
    let devices = crate::napter::devices::resolve_all(app, &names).await?;
    let now = now_ms();
    let maps = list_all(client).await?;
    let key = client.profile().cache_key();
    let mut out = Vec::new();
    for d in devices {
        // Recorded mappings that expired or were deleted outside napsh are forgotten.
        app.registry()
            .forget_unlisted(&key, &d.sim_id, &maps, now)?;
        let sim: Sim = client.get(&format!("/sims/{}", d.sim_id), &[]).await?;
        for m in crate::napter::mapping::live_for(&maps, &sim, None, now) {
            out.push((m.ip_address.clone(), m.port, Some(d.sim_id.clone())));
        }
    }
    if out.is_empty() {
        output::note("no live mappings to close");
    }
    Ok(out)
}

/// Deletes the mapping `ip:port` for `napsh mappings close`; once it is gone, napsh forgets
/// its record.
pub async fn close(app: &App, client: &Client, key: &str, ip: &str, port: u16) -> Result<bool> {
    let result = delete(client, ip, port).await;
    if result.is_ok() {
        let _ = app.registry().forget(key, ip, port);
    }
    result
}
