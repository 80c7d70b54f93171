//! The commands: each submodule implements one `napsh` command on top of the concern modules.
//! A command returns the process exit code; whole-command failures are errors.

mod connect;
mod devices;
mod doctor;
mod guide;
mod known_hosts;
mod mappings;
mod ssh;
mod zellij;

use crate::api::Client;
use crate::app::App;
use crate::cli::{Cli, Command, MappingOpts};
use crate::config::validate_duration;
use crate::error;
use crate::mappings::{delete, ensure, offline_error, Ensured, Holder, Want};
use crate::output;
use crate::registry::{Owner, Release};
use anyhow::Result;
use napsh_core::guide::{guide_text, GuideInput};
use napsh_core::messages::Endpoint;
use napsh_core::soracom::Sim;
use napsh_core::Device;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<i32> {
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut Cli::command(), "napsh", &mut std::io::stdout());
        return Ok(0);
    }
    if let Command::Zellij(command) = cli.command {
        return zellij::run(command);
    }
    let app = App::new(cli.profile.clone())?;
    if !matches!(cli.command, Command::KnownHosts(_)) {
        app.reap().await;
    }
    match cli.command {
        Command::Devices(a) => devices::run(&app, a).await,
        Command::Connect(a) => connect::run(&app, a).await,
        Command::Ssh(a) => ssh::run(&app, a).await,
        Command::Mappings(a) => mappings::run(&app, a).await,
        Command::Guide(a) => guide::run(&app, a).await,
        Command::Doctor(a) => doctor::run(&app, a).await,
        Command::KnownHosts(c) => known_hosts::run(&app, c).await,
        Command::Completions { .. } | Command::Zellij(_) => unreachable!("handled above"),
    }
}

/// Whether the command prints JSON (errors then go to stdout as an envelope).
pub fn wants_json(command: &Command) -> bool {
    match command {
        Command::Devices(a) => a.json || a.picker,
        Command::Connect(a) => a.json,
        Command::Mappings(a) => a.json,
        Command::Guide(a) => a.json,
        _ => false,
    }
}

/// Device port: `--port` > config rule > 22.
fn device_port(app: &App, opts: &MappingOpts, device: &Device) -> u16 {
    opts.port
        .or_else(|| app.config.settings_for(device).port)
        .unwrap_or(22)
}

/// Mapping lifetime: `--duration` > config, validated.
fn duration(app: &App, opts: &MappingOpts) -> Result<u64> {
    let secs = opts.duration.unwrap_or(app.config.mapping_duration_secs);
    validate_duration(secs).map_err(|e| {
        let e = crate::error::NapshError {
            why: format!("--duration: {}", e.why),
            ..e
        };
        e.into()
    })
}

/// The manual guide for `device`, explaining `reason`.
fn guide_for(
    app: &App,
    device: &Device,
    port: u16,
    user: &str,
    reason: Option<String>,
    endpoint: Option<Endpoint>,
) -> String {
    guide_text(&GuideInput {
        device_label: device.label().to_string(),
        sim_id: Some(device.sim_id.clone()),
        reason,
        device_port: port,
        duration_secs: app.config.mapping_duration_secs,
        source_cidr: known_source(app),
        user: user.to_string(),
        endpoint,
        now_ms: crate::paths::now_ms(),
    })
}

/// The source range when configured (no network detection for guides).
fn known_source(app: &App) -> Option<String> {
    std::env::var("NAPSH_SOURCE_CIDR")
        .ok()
        .or_else(|| app.config.source_cidr.clone())
        .and_then(|c| crate::source_ip::parse_cidr(&c).ok())
        .map(|n| n.to_string())
}

/// Fresh SIM → online check → reuse or create, held by this session (or kept with --keep).
pub(super) async fn ensure_for(
    app: &App,
    client: &Client,
    device: &Device,
    port: u16,
    secs: u64,
    source: ipnet::IpNet,
    holder: Holder,
) -> Result<Ensured> {
    // When this process has just listed the fleet (to resolve the device), that listing is
    // the fresh SIM and mapping state: no need to ask again.
    let sim: Sim = app.fresh_sim(client, &device.sim_id).await?;
    if !sim.session_status.as_ref().is_some_and(|s| s.online) {
        return Err(offline_error(device.label()));
    }
    let known = app.fresh_mappings(client).await?;
    let want = Want {
        sim,
        device_port: port,
        duration_secs: secs,
        source,
        holder,
    };
    ensure(client, &app.registry(), &want, &known).await
}

/// The session ended: release the mapping and delete it when this was its last user.
pub(super) async fn finish(app: &App, client: &Client, ensured: &Ensured, me: &Owner, keep: bool) {
    let m = &ensured.mapping;
    let key = client.profile().cache_key();
    match app
        .registry()
        .release(&key, &m.ip_address, m.port, me, keep)
    {
        Ok(Release::Delete) => {
            if let Err(e) = delete(client, &m.ip_address, m.port).await {
                output::warn(&format!("{}; it expires by itself", error::one_line(&e)));
            }
        }
        Ok(Release::Leave) => {}
        Err(e) => output::warn(&format!("updating the mapping registry: {e:#}")),
    }
}
