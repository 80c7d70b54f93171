//! The verdict on an ssh that could not connect (exit 255): a changed pinned host key, a
//! device that went offline, or else ssh's own failure.

use crate::app::App;
use crate::error::NapshError;
use crate::soracom::api::Client;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;

/// Why ssh exited 255: a changed pinned host key, a device that went offline, or else ssh's
/// own failure (its message was printed).
pub async fn connect_failure(
    app: &App,
    client: &Client,
    device: &Device,
    host_key_failed: bool,
) -> anyhow::Error {
    let pinned = crate::ssh::known_hosts::pinned(&app.dirs.known_hosts(), &device.sim_id)
        .unwrap_or_default();
    if host_key_failed && !pinned.is_empty() {
        return crate::ssh::known_hosts::host_key_changed(
            &format!("{} (SIM {})", for_terminal(device.label()), device.sim_id),
            &format!("napsh known-hosts reset {}", device.sim_id),
        );
    }
    diagnose(client, device).await
}

/// Why ssh could not connect, when it was not the host key: napsh may have trusted a cached
/// "online" that is no longer true, so the SIM is asked once; otherwise ssh's own message
/// (printed above) stands and `napsh doctor` finds the failing step.
async fn diagnose(client: &Client, device: &Device) -> anyhow::Error {
    let label = for_terminal(device.label());
    let sim: Result<napsh_core::soracom::Sim> =
        crate::napter::devices::fetch_sim(client, &device.sim_id).await;
    if let Ok(sim) = sim {
        if !sim.session_status.as_ref().is_some_and(|s| s.online) {
            return crate::napter::mapping::offline_error(device.label());
        }
    }
    NapshError::new(
        ErrorKind::Ssh,
        format!("ssh to {label} failed (exit 255; see ssh's message above)"),
    )
    .hint(format!(
        "run `napsh doctor {}` to find the failing step",
        device.sim_id
    ))
    .into()
}
