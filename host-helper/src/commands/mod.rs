//! The commands: each submodule implements one `napsh` command on top of the concern modules.
//! A command returns the process exit code; whole-command failures are errors.

mod audit;
mod connect;
mod devices;
mod doctor;
mod exec;
mod guide;
mod history;
mod inventory;
mod keys;
mod known_hosts;
mod man;
mod mappings;
mod proxy;
mod reach;
mod ssh;
mod ssh_config;
mod ssh_lan;
mod ssh_plan;
mod tunnel;
mod web;
mod zellij;

use crate::soracom::api::Client;
use crate::app::App;
use crate::cli::{Cli, Command, MappingOpts};
use crate::config::validate_duration;
use crate::devices::fresh_cached_entry;
use crate::error;
use crate::mappings::{
    delete, ensure, known_reusable, offline_error, Ensured, Holder, Known, Want,
};
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
    if let Command::Man(args) = cli.command {
        return man::run(args);
    }
    if let Command::Web(args) = cli.command {
        return web::run(args, cli.profile).await;
    }
    let app = App::new(cli.profile.clone())?;
    if !matches!(cli.command, Command::KnownHosts(_) | Command::History(_)) {
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
        Command::Exec(a) => exec::run(&app, a).await,
        Command::Keys(c) => keys::run(&app, c).await,
        Command::History(a) => history::run(&app, a),
        Command::Audit(a) => audit::run(&app, a).await,
        Command::Tunnel(a) => tunnel::run(&app, a).await,
        Command::Proxy(a) => proxy::run(&app, a).await,
        Command::SshConfig(a) => ssh_config::run(&app, a, cli.profile.as_deref()).await,
        Command::Inventory(a) => inventory::run(&app, a, cli.profile.as_deref()).await,
        Command::Completions { .. } | Command::Zellij(_) | Command::Man(_) | Command::Web(_) => {
            unreachable!("handled above")
        }
    }
}

/// Whether the command prints JSON (errors then go to stdout as an envelope).
pub fn wants_json(command: &Command) -> bool {
    match command {
        Command::Devices(a) => a.json || a.picker,
        Command::Connect(a) => a.json,
        Command::Mappings(a) => a.json,
        Command::Guide(a) => a.json,
        Command::Exec(a) => a.json,
        Command::Keys(crate::cli::KeysCommand::List(a)) => a.json,
        Command::History(a) => a.json,
        Command::Audit(a) => a.json,
        Command::KnownHosts(crate::cli::KnownHostsCommand::List { json }) => *json,
        _ => false,
    }
}

/// Device port: `--port` > config rule > 22.
pub(crate) fn device_port(app: &App, opts: &MappingOpts, device: &Device) -> u16 {
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
        now_ms: crate::state::paths::now_ms(),
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

/// Reuse or create a mapping for `device`, asking the API as little as possible:
/// a mapping napsh recorded (live, allowing our source) costs no call; otherwise the device's
/// state comes from this process's fresh listing, else the fresh device cache, else the API;
/// a device the fresh cache shows online and without mappings is created at once (1 call).
/// A device that went offline since is caught when ssh fails (see `ssh::diagnose`).
pub(super) async fn ensure_for(
    app: &App,
    client: &Client,
    device: &Device,
    port: u16,
    secs: u64,
    source: ipnet::IpNet,
    holder: Holder,
) -> Result<Ensured> {
    let registry = app.registry();
    let mut want = Want {
        sim: sim_of(device),
        device_port: port,
        duration_secs: secs,
        source,
        holder,
    };
    if known_reusable(&registry, &client.profile().cache_key(), &want).is_some() {
        return ensure(client, &registry, &want, &Known::default()).await;
    }
    let known = match app.snapshot() {
        None if cached_online_unmapped(app, client, device) => Known::default(),
        _ => {
            want.sim = app.fresh_sim(client, &device.sim_id).await?;
            if !want.sim.session_status.as_ref().is_some_and(|s| s.online) {
                return Err(offline_error(device.label()));
            }
            app.fresh_mappings(client).await?
        }
    };
    ensure(client, &registry, &want, &known).await
}

/// Whether the fresh device cache shows `device` online and without a mapping (then a
/// mapping is created at once, without asking for the SIM or listing mappings first).
pub(super) fn cached_online_unmapped(app: &App, client: &Client, device: &Device) -> bool {
    fresh_cached_entry(app, client, &device.sim_id)
        .is_some_and(|e| e.device.online && e.mappings.is_empty())
}

/// A SIM as far as the device model knows it (id, IMSI, online): enough to create a mapping
/// and to recognise mappings that target it.
pub(super) fn sim_of(device: &Device) -> Sim {
    Sim {
        sim_id: device.sim_id.clone(),
        session_status: Some(napsh_core::soracom::SessionStatus {
            online: device.online,
            imsi: device.imsi.clone(),
            ..Default::default()
        }),
        tags: device.tags.clone(),
        group_id: device.group_id.clone(),
        ..Default::default()
    }
}

/// How a session's mapping ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Finished {
    /// Deleted now, or left for other users / `--keep`.
    Done,
    /// It was already gone: it expired or was deleted outside napsh during the session.
    AlreadyGone,
}

/// The session ended: release the mapping and delete it when this was its last user. A
/// delete that fails is recorded again under this (soon dead) process, so that the next
/// napsh command reaps it.
pub(super) async fn finish(
    app: &App,
    client: &Client,
    ensured: &Ensured,
    me: &Owner,
    keep: bool,
) -> Finished {
    let m = &ensured.mapping;
    let key = client.profile().cache_key();
    match app
        .registry()
        .release(&key, &m.ip_address, m.port, me, keep)
    {
        Ok(Release::Delete) => match delete(client, &m.ip_address, m.port).await {
            Ok(true) => Finished::Done,
            Ok(false) => Finished::AlreadyGone,
            Err(e) => {
                output::warn(&format!(
                    "{}; the next napsh command retries",
                    error::one_line(&e)
                ));
                if let Err(e) = app.registry().add(entry_to_reap(&key, ensured, me)) {
                    output::warn(&format!("updating the mapping registry: {e:#}"));
                }
                Finished::Done
            }
        },
        Ok(Release::Leave) => Finished::Done,
        Err(e) => {
            output::warn(&format!("updating the mapping registry: {e:#}"));
            Finished::Done
        }
    }
}

/// A registry entry for a mapping whose delete failed, owned by `me` only: once this process
/// has exited, the next napsh command's reaping deletes it.
fn entry_to_reap(profile_key: &str, ensured: &Ensured, me: &Owner) -> crate::registry::Entry {
    let m = &ensured.mapping;
    crate::registry::Entry {
        profile_key: profile_key.to_string(),
        ip_address: m.ip_address.clone(),
        port: m.port,
        sim_id: m.target_sim_id().unwrap_or_default().to_string(),
        device_port: m.destination.port,
        owners: vec![me.clone()],
        keep: false,
        created_at_ms: m.created_time.unwrap_or(0),
        recorded_at_ms: crate::state::paths::now_ms(),
        expires_at_ms: m.expired_time,
        source: None,
    }
}
