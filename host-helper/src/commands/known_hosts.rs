//! `napsh known-hosts`: forget a device's pinned host key, or show where keys are kept.

use crate::app::App;
use crate::cli::KnownHostsCommand;
use crate::known_hosts::reset;
use crate::output;
use anyhow::Result;
use napsh_core::sanitize::for_terminal;

/// Runs `napsh known-hosts …`.
pub async fn run(app: &App, command: KnownHostsCommand) -> Result<i32> {
    let file = app.dirs.known_hosts();
    match command {
        KnownHostsCommand::Path => output::line(&file.display().to_string()),
        KnownHostsCommand::Reset { device } => {
            let (alias, label) = alias_of(app, &device).await?;
            if reset(&file, &alias)? {
                output::line(&format!(
                    "forgot the pinned host key of {label} (SIM {alias}); the next connection pins the new one"
                ));
            } else {
                output::line(&format!("no host key is pinned for {label} (SIM {alias})"));
            }
        }
    }
    Ok(0)
}

/// The alias (SIM id) of a device argument; a bare SIM id works even without the API.
async fn alias_of(app: &App, device: &str) -> Result<(String, String)> {
    match crate::devices::resolve_all(app, &[device]).await {
        Ok(mut d) => {
            let d = d.remove(0);
            Ok((d.sim_id.clone(), for_terminal(d.label())))
        }
        Err(_) if !device.is_empty() && device.chars().all(|c| c.is_ascii_digit()) => {
            Ok((device.to_string(), device.to_string()))
        }
        Err(e) => Err(e),
    }
}
