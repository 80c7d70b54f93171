//! The per-invocation context: directories, config, the selected profile and the API client
//! (both loaded lazily, so commands that need neither work without a profile).

use crate::soracom::api::Client;
use crate::soracom::auth::TokenCache;
use crate::config::{self, Config};
use crate::state::paths::Dirs;
use crate::soracom::profile::{self, Profile, ProfileEnv};
use crate::registry::Registry;
use anyhow::Result;
use napsh_core::soracom::{PortMapping, Sim};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A snapshot is reused by the same invocation for this long (it is a few ms old when a
/// command resolves a device and then ensures its mapping).
const SNAPSHOT_TTL: Duration = Duration::from_secs(10);

/// Every SIM and mapping, as this process just fetched them for the device list: the command
/// that follows uses them instead of asking the API again.
#[derive(Debug)]
pub struct Snapshot {
    /// Every SIM (all pages).
    pub sims: Vec<Sim>,
    /// Every mapping (all pages).
    pub mappings: Vec<PortMapping>,
    /// When it was fetched.
    taken: Instant,
    /// When the listing started (unix ms): registry entries recorded before then and absent
    /// from `mappings` are gone.
    pub listed_at_ms: i64,
}

/// What every command has access to.
pub struct App {
    /// napsh's directories.
    pub dirs: Dirs,
    /// The parsed config.
    pub config: Config,
    /// `--profile`.
    profile_arg: Option<String>,
    /// The loaded profile and client, once needed.
    client: Mutex<Option<Arc<Client>>>,
    /// What this process last fetched for the device list.
    snapshot: Mutex<Option<Arc<Snapshot>>>,
}

impl App {
    /// Reads directories and config (not the profile yet).
    pub fn new(profile_arg: Option<String>) -> Result<Self> {
        let dirs = Dirs::from_env()?;
        let config_path = config::config_path(&dirs.config);
        let config = config::load(&config_path)?;
        Ok(App {
            dirs,
            config,
            profile_arg,
            client: Mutex::new(None),
            snapshot: Mutex::new(None),
        })
    }

    /// Loads the selected soracom-cli profile.
    pub fn load_profile(&self) -> Result<Profile> {
        profile::load(
            self.profile_arg.as_deref(),
            &ProfileEnv::from_process(&self.dirs.home),
        )
    }

    /// The API client for the selected profile (created on first use).
    pub fn client(&self) -> Result<Arc<Client>> {
        let mut guard = self.client.lock().expect("client lock");
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let profile = self.load_profile()?;
        let cache = TokenCache::for_profile(&self.dirs.cache, &profile);
        let timeout = Duration::from_secs(self.config.request_timeout_secs);
        let client = Arc::new(Client::new(profile, cache, timeout)?);
        *guard = Some(client.clone());
        Ok(client)
    }

    /// Remembers SIMs and mappings just fetched from the API.
    pub fn remember(&self, sims: Vec<Sim>, mappings: Vec<PortMapping>, listed_at_ms: i64) {
        *self.snapshot.lock().expect("snapshot lock") = Some(Arc::new(Snapshot {
            sims,
            mappings,
            listed_at_ms,
            taken: Instant::now(),
        }));
    }

    /// The SIMs and mappings this process fetched moments ago, if it did.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .lock()
            .expect("snapshot lock")
            .clone()
            .filter(|s| s.taken.elapsed() < SNAPSHOT_TTL)
    }

    /// The SIM `sim_id` from a fresh snapshot, else from the API.
    pub async fn fresh_sim(&self, client: &Client, sim_id: &str) -> Result<Sim> {
        let known = self
            .snapshot()
            .and_then(|s| s.sims.iter().find(|s| s.sim_id == sim_id).cloned());
        match known {
            Some(sim) => Ok(sim),
            None => client.get(&format!("/sims/{sim_id}"), &[]).await,
        }
    }

    /// Every mapping, from a fresh snapshot, else from the API.
    pub async fn fresh_mappings(&self, client: &Client) -> Result<crate::mappings::Known> {
        match self.snapshot() {
            Some(s) => Ok(crate::mappings::Known::listed(
                s.mappings.clone(),
                s.listed_at_ms,
            )),
            None => {
                let listed_at_ms = crate::state::paths::now_ms();
                let mappings = crate::mappings::list_all(client).await?;
                Ok(crate::mappings::Known::listed(mappings, listed_at_ms))
            }
        }
    }

    /// The registry of mappings napsh created.
    pub fn registry(&self) -> Registry {
        Registry::new(&self.dirs.state)
    }

    /// The source range for new mappings.
    pub async fn source_cidr(&self) -> Result<ipnet::IpNet> {
        crate::source_ip::source_cidr(self.config.source_cidr.as_deref(), &self.config.ip_echo_url)
            .await
    }

    /// Deletes mappings whose napsh sessions all died (crash, kill -9). Never fails the
    /// command: problems are warnings.
    pub async fn reap(&self) {
        let Ok(client) = self.client() else { return };
        let key = client.profile().cache_key();
        let doomed = match self.registry().reap(&key) {
            Ok(d) => d,
            Err(e) => return crate::output::warn(&format!("reading the mapping registry: {e:#}")),
        };
        for entry in doomed {
            let (ip, port) = (&entry.ip_address, entry.port);
            match crate::mappings::still_leads_to(&client, &entry.sim_id, ip, port).await {
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
                    let _ = self.registry().add(entry);
                    continue;
                }
            }
            tracing::info!(%ip, port, "reaping an abandoned mapping");
            if let Err(e) = crate::mappings::delete(&client, &entry.ip_address, entry.port).await {
                crate::output::warn(&format!(
                    "could not delete the abandoned mapping {}:{} of SIM {}: {}",
                    entry.ip_address,
                    entry.port,
                    entry.sim_id,
                    crate::error::one_line(&e)
                ));
                let _ = self.registry().add(entry);
            }
        }
    }
}
