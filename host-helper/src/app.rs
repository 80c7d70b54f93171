//! The per-invocation context: directories, config, the selected profile and the API client
//! (both loaded lazily, so commands that need neither work without a profile), and the SIMs and
//! mappings this process just listed. Its mapping registry and source range accessors live in
//! `napter`.

use crate::config::{self, Config};
use crate::soracom::api::Client;
use crate::soracom::auth::TokenCache;
use crate::soracom::profile::{self, Profile, ProfileEnv};
use crate::state::paths::Dirs;
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

impl Snapshot {
    /// How long ago it was fetched.
    pub fn age(&self) -> Duration {
        self.taken.elapsed()
    }
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
    /// `--trust-first-contact`: a configured password may go to a device whose host key is
    /// not pinned yet (it is pinned then).
    pub trust_first_contact: bool,
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
            trust_first_contact: false,
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
}
