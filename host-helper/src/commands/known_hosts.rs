//! `napsh known-hosts`: forget a device's pinned host key, or show where keys are kept.

use crate::app::App;
use crate::cli::KnownHostsCommand;
use crate::output;
use crate::ssh::known_hosts::reset;
use anyhow::Result;
use napsh_core::sanitize::for_terminal;

/// Runs `napsh known-hosts …`.
pub async fn run(app: &App, command: KnownHostsCommand) -> Result<i32> {
    let file = app.dirs.known_hosts();
    match command {
        KnownHostsCommand::Path => output::line(&file.display().to_string()),
        KnownHostsCommand::List { json } => list(&file, json)?,
        KnownHostsCommand::Reset { device } => {
            let (alias, label) = alias_of(app, &device).await?;
            if reset(&file, &alias)? {
                output::line(&format!(
                    "forgot the pinned host key of {label} ({alias}); the next connection pins the new one"
                ));
            } else {
                output::line(&format!("no host key is pinned for {label} ({alias})"));
            }
        }
    }
    Ok(0)
}

/// Prints the pinned keys as a table or a JSON array.
fn list(file: &std::path::Path, json: bool) -> Result<()> {
    let entries = crate::ssh::known_hosts::list(file)?;
    if json {
        output::json(&entries);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                for_terminal(&e.alias),
                for_terminal(&e.key_type),
                for_terminal(&e.fingerprint),
            ]
        })
        .collect();
    for line in output::table(&["ALIAS", "TYPE", "FINGERPRINT"], &rows) {
        output::line(&line);
    }
    Ok(())
}

/// The alias (SIM id, or `lan:ADDRESS` for a direct LAN target) of a device argument; a bare
/// SIM id and a LAN address work even without the API.
async fn alias_of(app: &App, device: &str) -> Result<(String, String)> {
    if let Some(lan) = napsh_core::lan::parse_target(device) {
        let alias =
            crate::ssh::service::lan_sim(&app.config, &lan.host).unwrap_or_else(|| lan.alias());
        return Ok((alias, for_terminal(&lan.host)));
    }
    match crate::napter::devices::resolve_all(app, &[device]).await {
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
