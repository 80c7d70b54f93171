//! The mapping lease: the one owner of a Napter mapping's life in napsh. Every command
//! acquires (reuse with evidence, create, adopt after a failed create), holds (shared through
//! the registry), renews and releases mappings here, and reaping and `mappings close` delete
//! here; no other module creates or deletes one. The decisions are `napsh_core::lease`'s pure
//! functions; this module gathers what they need (the registry, the SIM's own mapping list,
//! the server's clock) and carries them out.

mod create;
mod renew;
mod settle;

pub use renew::Renewing;
pub use settle::{close_listed, every_live, of_devices, reap, recorded_live};

use crate::app::App;
use crate::cli::MappingOpts;
use crate::config::validate_duration;
use crate::error;
use crate::napter::devices::fresh_cached_entry;
use crate::napter::mapping::{self, endpoint_of, offline_error, Holder};
use crate::napter::registry::{Entry, Owner, Registry, Release};
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::soracom::api::Client;
use crate::state::paths::now_ms;
use anyhow::Result;
use ipnet::IpNet;
use napsh_core::lease::{self as decide, Acquire, Evidence, Recorded, Want};
use napsh_core::messages::Endpoint;
use napsh_core::soracom::{PortMapping, Sim};
use napsh_core::Device;
use std::sync::Arc;

/// A complete listing this process made is evidence for this long.
const LISTING_EVIDENCE_MS: u128 = 5_000;

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

/// A mapping napsh holds for a device.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The mapping, as the API showed it.
    pub mapping: PortMapping,
    /// `true` when an existing mapping was reused.
    pub reused: bool,
    /// `true` when this process created (or adopted) it.
    pub created: bool,
    /// The SIM it leads to.
    pub sim_id: String,
    /// That SIM's IMSIs, as far as known.
    pub imsis: Vec<String>,
}

impl Lease {
    /// The endpoint as the JSON messages describe it.
    pub fn endpoint(&self) -> Endpoint {
        endpoint_of(&self.mapping, self.reused)
    }

    /// Its expiry on the server's clock (unix ms), when known.
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.mapping.expired_time
    }
}

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Deleted now, or left for other users / `--keep` / its creator.
    Done,
    /// It was already gone (expired, deleted, or its endpoint handed on) outside napsh.
    AlreadyGone,
}

/// Who asks for mappings in this process, from where, and for how long.
pub struct Leases {
    /// The API client.
    pub client: Arc<Client>,
    /// Source range of new mappings (the policy applied).
    pub source: IpNet,
    /// This process, as the registry records it.
    pub me: Owner,
    /// Lifetime of new mappings, seconds.
    pub secs: u64,
    /// The registry of the mappings napsh created.
    registry: Registry,
    /// The profile's registry key.
    key: String,
}

impl Leases {
    /// Client, source range (policy checked) and owner for this process.
    pub async fn start(app: &App, secs: u64) -> Result<Self> {
        let source = app.source_cidr().await?;
        let client = app.client()?;
        Ok(Leases {
            key: client.profile().cache_key(),
            registry: app.registry(),
            client,
            source,
            me: Owner::me(),
            secs,
        })
    }

    /// The server's time now (its clock as last read, else the local one).
    pub fn server_now(&self) -> i64 {
        self.client.server_now_ms()
    }

    /// The lifetime of new mappings, ms.
    pub fn lifetime_ms(&self) -> i64 {
        i64::try_from(self.secs).unwrap_or(i64::MAX / 1000) * 1000
    }

    /// A mapping held by this process ([`Holder::Session`]).
    pub async fn acquire_session(&self, app: &App, device: &Device, port: u16) -> Result<Lease> {
        self.acquire(app, device, port, Holder::Session(self.me.clone()))
            .await
    }

    /// [`Leases::acquire_session`] that a signal cannot leak: the create finishes, the
    /// mapping is released, and `Err(exit code)` says the command must end.
    pub async fn acquire_or_signal(
        &self,
        app: &App,
        device: &Device,
        port: u16,
        signals: &mut Signals,
    ) -> std::result::Result<Result<Lease>, i32> {
        let acquiring = self.acquire_session(app, device, port);
        tokio::pin!(acquiring);
        tokio::select! {
            r = &mut acquiring => Ok(r),
            sig = signals.recv() => {
                if let Ok(lease) = acquiring.await {
                    self.release(&lease, false).await;
                }
                Err(exit_code(sig))
            }
        }
    }

    /// Gets a mapping of `device`'s `port` for `holder`: a recorded one only when fresh
    /// evidence shows it still leads there, else a live one whose source ranges lie within
    /// ours, else a new one. Concurrent napsh processes take turns per device and port.
    pub async fn acquire(
        &self,
        app: &App,
        device: &Device,
        port: u16,
        holder: Holder,
    ) -> Result<Lease> {
        let _turn = self
            .registry
            .lock_device(&self.key, &device.sim_id, port)
            .await?;
        let records = self.records(&device.sim_id, port);
        let fast = records.is_empty()
            && app.snapshot().is_none()
            && cached_online_unmapped(app, &self.client, device);
        let mut imsis: Vec<String> = device.imsi.iter().cloned().collect();
        let evidence = if fast {
            None
        } else {
            Some(self.gather(app, device, &mut imsis, &records).await?)
        };
        let want = self.want(&device.sim_id, &imsis, port);
        let plan = decide::plan_acquire(
            &want,
            &records,
            evidence.as_ref().map(Gathered::view).as_ref(),
        );
        self.forget(&plan.forget);
        match plan.acquire {
            Acquire::Reuse { mapping, recorded } => self.hold(*mapping, recorded, &holder, &want),
            Acquire::Create | Acquire::NeedEvidence => {
                if !fast {
                    let sim = evidence.and_then(|g| g.sim);
                    self.require_online(app, device, sim).await?;
                }
                self.create(&want, &holder).await
            }
        }
    }

    /// What the lease wants for `sim_id`'s `port`.
    fn want<'a>(&self, sim_id: &'a str, imsis: &'a [String], port: u16) -> Want<'a> {
        Want {
            sim_id,
            imsis,
            device_port: port,
            source: self.source,
            lifetime_ms: self.lifetime_ms(),
        }
    }

    /// napsh's records of `sim_id`'s `port` under this profile.
    fn records(&self, sim_id: &str, port: u16) -> Vec<Recorded> {
        self.registry
            .entries()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.profile_key == self.key && e.sim_id == sim_id && e.device_port == port)
            .map(|e| Recorded {
                ip: e.ip_address,
                port: e.port,
                sim_id: e.sim_id,
                device_port: e.device_port,
                recorded_at_ms: e.recorded_at_ms,
            })
            .collect()
    }

    /// The evidence: this process's complete listing when a few seconds young (and started
    /// after every record was made: an older one cannot show them), else the SIM's own list
    /// (and, unless a record needs only the list, the SIM itself, for its state).
    async fn gather(
        &self,
        app: &App,
        device: &Device,
        imsis: &mut Vec<String>,
        records: &[Recorded],
    ) -> Result<Gathered> {
        let recorded = !records.is_empty();
        let newest = records.iter().map(|r| r.recorded_at_ms).max();
        if let Some(s) = app.snapshot().filter(|s| {
            s.age().as_millis() < LISTING_EVIDENCE_MS && newest.is_none_or(|t| t < s.listed_at_ms)
        }) {
            let sim = s.sims.iter().find(|x| x.sim_id == device.sim_id).cloned();
            add_imsis(imsis, sim.as_ref());
            return Ok(Gathered {
                mappings: s.mappings.clone(),
                server_now_ms: self.server_now(),
                listed_at_ms: s.listed_at_ms,
                sim,
            });
        }
        let sim = match recorded {
            true => None,
            false => Some(fresh_sim(app, &self.client, &device.sim_id).await?),
        };
        add_imsis(imsis, sim.as_ref());
        let listed_at_ms = now_ms();
        let mappings = mapping::list_for_sim(&self.client, &device.sim_id).await?;
        Ok(Gathered {
            mappings,
            server_now_ms: self.server_now(),
            listed_at_ms,
            sim,
        })
    }

    /// An error when the SIM (as fetched, else fetched now) has no data session: creating a
    /// mapping for it would be pointless.
    async fn require_online(&self, app: &App, device: &Device, sim: Option<Sim>) -> Result<()> {
        let sim = match sim {
            Some(s) => s,
            None => fresh_sim(app, &self.client, &device.sim_id).await?,
        };
        if sim.session_status.as_ref().is_some_and(|st| st.online) {
            Ok(())
        } else {
            Err(offline_error(device.label()))
        }
    }

    /// Forgets records the evidence proved stale (never deletes them).
    fn forget(&self, stale: &[(String, u16)]) {
        for (ip, port) in stale {
            tracing::info!(%ip, port, "forgetting a recorded mapping that no longer leads to its device");
            if let Err(e) = self.registry.forget(&self.key, ip, *port) {
                output::warn(&format!("updating the mapping registry: {e:#}"));
            }
        }
    }

    /// Holds a reused mapping: a session joins the users of one napsh recorded.
    fn hold(
        &self,
        mapping: PortMapping,
        recorded: bool,
        holder: &Holder,
        want: &Want,
    ) -> Result<Lease> {
        tracing::info!(ip = %mapping.ip_address, port = mapping.port, recorded, "reusing a mapping");
        if let (true, Holder::Session(owner)) = (recorded, holder) {
            self.registry
                .adopt(&self.key, &mapping.ip_address, mapping.port, owner.clone())?;
        }
        Ok(Lease {
            mapping,
            reused: true,
            created: false,
            sim_id: want.sim_id.to_string(),
            imsis: want.imsis.to_vec(),
        })
    }

    /// This process is done with the mapping: released, and deleted when it was the last
    /// user and evidence shows it still leads to its SIM. A check or delete that fails is
    /// recorded again under this (soon dead) process, so that the next command reaps it.
    pub async fn release(&self, lease: &Lease, keep: bool) -> Released {
        let m = &lease.mapping;
        match self
            .registry
            .release(&self.key, &m.ip_address, m.port, &self.me, keep)
        {
            Ok(Release::Delete) => match self.delete_checked(lease).await {
                Ok(true) => Released::Done,
                Ok(false) => Released::AlreadyGone,
                Err(e) => {
                    output::warn(&format!(
                        "{}; the next napsh command retries",
                        error::one_line(&e)
                    ));
                    self.record_or_warn(lease, vec![self.me.clone()]);
                    Released::Done
                }
            },
            Ok(Release::Leave) => Released::Done,
            Err(e) => {
                output::warn(&format!("updating the mapping registry: {e:#}"));
                Released::Done
            }
        }
    }

    /// Gives back a mapping this process created and no one else uses (an interrupted
    /// `connect`), checked like a release.
    pub async fn discard(&self, lease: &Lease) {
        if !lease.created {
            return;
        }
        let m = &lease.mapping;
        let _ = self.registry.forget(&self.key, &m.ip_address, m.port);
        if let Err(e) = self.delete_checked(lease).await {
            output::warn(&format!(
                "{}; the next napsh command retries",
                error::one_line(&e)
            ));
            self.record_or_warn(lease, vec![self.me.clone()]);
        }
    }

    /// Deletes `lease`'s mapping if the SIM's own list shows it still leads there and it is
    /// not about to expire; `Ok(false)` when it was gone (or is left to expire).
    async fn delete_checked(&self, lease: &Lease) -> Result<bool> {
        let m = &lease.mapping;
        settle::delete_if_still_leads(
            &self.client,
            &lease.sim_id,
            &lease.imsis,
            m.destination.port,
            &m.ip_address,
            m.port,
        )
        .await
    }

    /// Records `lease` under `owners` so that the next command reaps it; a failure is a
    /// warning (the mapping then expires by itself).
    fn record_or_warn(&self, lease: &Lease, owners: Vec<Owner>) {
        if let Err(e) = self.record(lease, owners, false) {
            output::warn(&format!("updating the mapping registry: {e:#}"));
        }
    }

    /// Records `lease` in the registry with `owners`.
    fn record(&self, lease: &Lease, owners: Vec<Owner>, keep: bool) -> Result<()> {
        let m = &lease.mapping;
        let skew = self.server_now() - now_ms();
        let entry = Entry {
            profile_key: self.key.clone(),
            ip_address: m.ip_address.clone(),
            port: m.port,
            sim_id: lease.sim_id.clone(),
            device_port: m.destination.port,
            owners,
            keep,
            created_at_ms: m.created_time.unwrap_or_else(|| self.server_now()),
            recorded_at_ms: now_ms(),
            expires_at_ms: m.expired_time,
            source: Some(self.source.to_string()),
            server_skew_ms: skew,
        };
        self.registry.add(entry)
    }
}

/// Evidence gathered for an acquire, and the SIM when it was fetched.
struct Gathered {
    /// The mappings listed.
    mappings: Vec<PortMapping>,
    /// The server's time when they were.
    server_now_ms: i64,
    /// When the listing started (local wall clock).
    listed_at_ms: i64,
    /// The SIM, when known.
    sim: Option<Sim>,
}

impl Gathered {
    /// The evidence the decisions read.
    fn view(&self) -> Evidence<'_> {
        Evidence {
            mappings: &self.mappings,
            server_now_ms: self.server_now_ms,
            listed_at_ms: self.listed_at_ms,
        }
    }
}

/// Adds the IMSIs of `sim` to `imsis`.
fn add_imsis(imsis: &mut Vec<String>, sim: Option<&Sim>) {
    for i in sim.map(Sim::all_imsis).unwrap_or_default() {
        if !imsis.iter().any(|k| k == i) {
            imsis.push(i.to_string());
        }
    }
}

/// Whether the fresh device cache shows `device` online and without a mapping (then a
/// mapping is created at once, without asking for the SIM or listing mappings first).
pub fn cached_online_unmapped(app: &App, client: &Client, device: &Device) -> bool {
    fresh_cached_entry(app, client, &device.sim_id)
        .is_some_and(|e| e.device.online && e.mappings.is_empty())
}

/// The SIM `sim_id` from a fresh snapshot, else from the API.
pub async fn fresh_sim(app: &App, client: &Client, sim_id: &str) -> Result<Sim> {
    let known = app
        .snapshot()
        .and_then(|s| s.sims.iter().find(|s| s.sim_id == sim_id).cloned());
    match known {
        Some(sim) => Ok(sim),
        None => crate::napter::devices::fetch_sim(client, sim_id).await,
    }
}
