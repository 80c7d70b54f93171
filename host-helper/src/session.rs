//! What every SSH session to a device needs, shared by `napsh ssh`, `exec` and `keys`: the
//! askpass environment for a configured password, the ssh plan for an ensured mapping, and the
//! verdict on an ssh that could not connect (changed host key, offline device, or ssh's own).

use crate::soracom::api::Client;
use crate::app::App;
use crate::askpass::AskpassServer;
use crate::config::fetch_password;
use crate::error::NapshError;
use crate::napter::mapping::Ensured;
use crate::ssh::SshPlan;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;

/// The password the config rules give `device`, fetched now (`None` without a rule).
pub fn password_for(app: &App, device: &Device) -> Result<Option<String>> {
    app.config
        .settings_for(device)
        .password
        .map(|source| fetch_password(&source))
        .transpose()
}

/// A password server (to keep alive while ssh runs) and the variables pointing ssh at it.
pub type Askpass = (Option<AskpassServer>, Vec<(String, String)>);

/// The password server and the variables that point ssh at it; neither holds the password
/// itself (no password: no server, no variables).
pub fn askpass_env(password: Option<String>) -> Result<Askpass> {
    let Some(password) = password else {
        return Ok((None, Vec::new()));
    };
    let server = AskpassServer::start(password)?;
    let exe = std::env::current_exe().context("finding napsh's own path (for SSH_ASKPASS)")?;
    let env = server.env(&exe);
    Ok((Some(server), env))
}

/// Where an ssh session connects and which host key it pins.
pub struct Destination {
    /// Address ssh connects to.
    pub ip: String,
    /// Port there.
    pub port: u16,
    /// Host-key alias (SIM id or `lan:ADDRESS`).
    pub alias: String,
}

impl Destination {
    /// The mapping's endpoint, pinned to the device's SIM id.
    pub fn mapped(ensured: &Ensured, device: &Device) -> Self {
        Destination {
            ip: ensured.mapping.ip_address.clone(),
            port: ensured.mapping.port,
            alias: device.sim_id.clone(),
        }
    }
}

/// The ssh invocation to `to` as `user`, with napsh's known_hosts and the config's extra
/// arguments.
pub fn plan_to(
    app: &App,
    to: Destination,
    user: &str,
    options: &[String],
    command: &[String],
    stdin_is_tty: bool,
) -> SshPlan {
    SshPlan {
        ip: to.ip,
        port: to.port,
        alias: to.alias,
        known_hosts: app.dirs.known_hosts(),
        user: user.to_string(),
        extra_args: app.config.ssh_extra_args.clone(),
        options: options.to_vec(),
        command: command.to_vec(),
        stdin_is_tty,
        tty_for_command: false,
    }
}

/// The ssh invocation through `ensured` for `device`, pinned to its SIM id.
pub fn plan(
    app: &App,
    ensured: &Ensured,
    device: &Device,
    user: &str,
    options: &[String],
    command: &[String],
    stdin_is_tty: bool,
) -> SshPlan {
    let to = Destination::mapped(ensured, device);
    plan_to(app, to, user, options, command, stdin_is_tty)
}

/// Why ssh exited 255: a changed pinned host key, a device that went offline, or else ssh's
/// own failure (its message was printed).
pub async fn connect_failure(
    app: &App,
    client: &Client,
    device: &Device,
    host_key_failed: bool,
) -> anyhow::Error {
    let pinned =
        crate::known_hosts::pinned(&app.dirs.known_hosts(), &device.sim_id).unwrap_or_default();
    if host_key_failed && !pinned.is_empty() {
        return crate::known_hosts::host_key_changed(
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
        client.get(&format!("/sims/{}", device.sim_id), &[]).await;
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
