//! The commands: each submodule implements one `napsh` command on top of the concern modules.
//! A command returns the process exit code; whole-command failures are errors.

mod access;
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
mod tunnel;
mod web;
mod zellij;

use crate::app::App;
use crate::cli::{Cli, Command};
use anyhow::Result;
use napsh_core::guide::{guide_text, GuideInput};
use napsh_core::messages::Endpoint;
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
    let mut app = App::new(cli.profile.clone())?;
    app.config.allow_any_source |= cli.allow_any_source;
    app.trust_first_contact = cli.trust_first_contact;
    if !matches!(cli.command, Command::KnownHosts(_) | Command::History(_)) {
        crate::napter::lease::reap(&app).await;
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
        Command::Access(c) => access::run(&app, c).await,
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
        Command::Access(crate::cli::access::AccessCommand::List(a)) => a.json,
        Command::Access(crate::cli::access::AccessCommand::Show(a)) => a.json,
        _ => false,
    }
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
        .and_then(|c| crate::config::parse_cidr(&c).ok())
        .map(|n| n.to_string())
}
