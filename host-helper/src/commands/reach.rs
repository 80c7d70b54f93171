//! What `tunnel`, `proxy`, `ssh-config` and `inventory` share: where napsh and its
//! known_hosts are (for generated ProxyCommands), the device's SSH port and mapping lifetime,
//! the fleet, and each device's user. (Their mappings are held through `napter::lease::Session`.)

use crate::app::App;
use crate::cli::MappingOpts;
use crate::error::NapshError;
use crate::napter::lease::{device_port, duration};
use anyhow::{Context, Result};
use napsh_core::ssh_config::{NapshPaths, QuoteError};
use napsh_core::Device;

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

/// Every device of the fleet (the cached list when fresh, else the API).
pub async fn fleet(app: &App, refresh: bool) -> Result<Vec<Device>> {
    let list = crate::napter::devices::list(app, refresh, false).await?;
    Ok(list.entries.into_iter().map(|e| e.device).collect())
}

/// User and SSH port napsh's rules give a device.
pub fn user_and_port(app: &App, device: &Device) -> (String, u16) {
    (app.config.user_for(None, device), ssh_port(app, device))
}
