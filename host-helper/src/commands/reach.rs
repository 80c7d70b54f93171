//! What `tunnel`, `proxy`, `ssh-config` and `inventory` share: where napsh and its
//! known_hosts are (for generated ProxyCommands), the device's SSH port, and ensuring a
//! session mapping that a signal cannot leak.

use super::{device_port, duration, ensure_for, finish};
use crate::soracom::api::Client;
use crate::app::App;
use crate::cli::MappingOpts;
use crate::error::NapshError;
use crate::mappings::{Ensured, Holder};
use crate::registry::Owner;
use crate::signals::{exit_code, Signals};
use anyhow::{Context, Result};
use napsh_core::ssh_config::{NapshPaths, QuoteError};
use napsh_core::Device;
use std::sync::Arc;

/// napsh's binary, profile and known_hosts as generated ssh options name them. The profile
/// is `--profile`, else `$SORACOM_PROFILE`, else none (soracom-cli's default).
pub fn napsh_paths(app: &App, profile_arg: Option<&str>) -> Result<NapshPaths> {
    let exe = std::env::current_exe().context("finding napsh's own path (for ProxyCommand)")?;
    let profile = profile_arg
        .map(str::to_string)
        .or_else(|| std::env::var("SORACOM_PROFILE").ok())
        .filter(|p| !p.is_empty());
    Ok(NapshPaths {
        napsh: exe.display().to_string(),
        profile,
        known_hosts: app.dirs.known_hosts().display().to_string(),
    })
}

/// A quoting failure as a config error (exit 2) with the one-line reason.
pub fn quote_error(e: QuoteError) -> anyhow::Error {
    NapshError::config(e.0).into()
}

/// The device's SSH port: config rule, else 22.
pub fn ssh_port(app: &App, device: &Device) -> u16 {
    device_port(
        app,
        &MappingOpts {
            port: None,
            duration: None,
        },
        device,
    )
}

/// Mapping lifetime from `--duration` / config, validated.
pub fn lifetime(app: &App, secs: Option<u64>) -> Result<u64> {
    duration(
        app,
        &MappingOpts {
            port: None,
            duration: secs,
        },
    )
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

/// Every device of the fleet (the cached list when fresh, else the API).
pub async fn fleet(app: &App, refresh: bool) -> Result<Vec<Device>> {
    let list = crate::devices::list(app, refresh, false).await?;
    Ok(list.entries.into_iter().map(|e| e.device).collect())
}

/// User and SSH port napsh's rules give a device.
pub fn user_and_port(app: &App, device: &Device) -> (String, u16) {
    (app.config.user_for(None, device), ssh_port(app, device))
}
