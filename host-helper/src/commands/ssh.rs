//! `napsh ssh`: ensure a mapping, run the system ssh with the pinned host key, and delete the
//! mapping when the session ends — normally, on Ctrl-C, on a closed terminal or SIGTERM.

use super::{device_port, duration, ensure_for, finish, guide_for, Finished};
use crate::app::App;
use crate::askpass::AskpassServer;
use crate::cli::SshArgs;
use crate::config::fetch_password;
use crate::error::{self, NapshError};
use crate::mappings::Holder;
use crate::output;
use crate::registry::Owner;
use crate::signals::{exit_code, Signals};
use crate::ssh::{build_args, SshPlan};
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::resolve::split_user;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;
use std::io::IsTerminal;

/// Runs `napsh ssh`.
pub async fn run(app: &App, args: SshArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let (user_at, name) = split_user(&args.target);
    let device = crate::devices::resolve_all(app, &[name]).await?.remove(0);
    let user = app
        .config
        .user_for(user_at.or(args.user.as_deref()), &device);
    let port = device_port(app, &args.mapping, &device);
    let secs = duration(app, &args.mapping)?;
    let label = for_terminal(device.label());
    // Everything that can fail locally happens before a mapping exists.
    let askpass = match app.config.settings_for(&device).password {
        Some(source) => Some(AskpassServer::start(fetch_password(&source)?)?),
        None => None,
    };
    let exe = std::env::current_exe().context("finding napsh's own path (for SSH_ASKPASS)")?;
    let env = askpass.as_ref().map(|s| s.env(&exe)).unwrap_or_default();
    let known_hosts = app.dirs.known_hosts();
    crate::paths::ensure_private_dir(&app.dirs.data)?;
    let source = app.source_cidr().await?;
    let client = app.client()?;
    let me = Owner::me();

    let ensuring = ensure_for(
        app,
        &client,
        &device,
        port,
        secs,
        source,
        Holder::Session(me.clone()),
    );
    tokio::pin!(ensuring);
    let mut interrupted = None;
    let ensured = tokio::select! {
        r = &mut ensuring => r,
        sig = signals.recv() => {
            // Never abandon a create half-way: finish it, then clean up.
            interrupted = Some(sig);
            ensuring.await
        }
    };
    let ensured = match ensured {
        Ok(e) => e,
        Err(err) => return Ok(report(app, &device, port, &user, &err)),
    };
    if let Some(sig) = interrupted {
        finish(app, &client, &ensured, &me, args.keep).await;
        return Ok(exit_code(sig));
    }
    crate::failures::record(&app.dirs.state, &device.sim_id, None);
    let plan = SshPlan {
        ip: ensured.mapping.ip_address.clone(),
        port: ensured.mapping.port,
        alias: device.sim_id.clone(),
        known_hosts: known_hosts.clone(),
        user: user.clone(),
        extra_args: app.config.ssh_extra_args.clone(),
        options: args.ssh_options.clone(),
        command: args.command.clone(),
        stdin_is_tty: std::io::stdin().is_terminal(),
    };
    let outcome = crate::ssh::run(&build_args(&plan), &env, &mut signals).await;
    drop(askpass);
    let failed_to_connect = matches!(&outcome, Ok(o) if o.code == 255 && o.signal.is_none());
    if failed_to_connect && ensured.reused && !still_mapped(&client, &device, &ensured).await {
        // A recorded mapping that is gone: its endpoint may already serve another device, so
        // it is forgotten, never deleted (that would delete the other device's mapping).
        let m = &ensured.mapping;
        let key = client.profile().cache_key();
        if let Err(e) = app.registry().forget(&key, &m.ip_address, m.port) {
            output::warn(&format!("updating the mapping registry: {e:#}"));
        }
        report(app, &device, port, &user, &mapping_gone(&label, &ensured));
        return Ok(255);
    }
    let finished = finish(app, &client, &ensured, &me, args.keep).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => return Ok(report(app, &device, port, &user, &err)),
    };
    if outcome.code == 255 && outcome.signal.is_none() {
        let pinned = crate::known_hosts::pinned(&known_hosts, &device.sim_id).unwrap_or_default();
        let err = if outcome.host_key_failed && !pinned.is_empty() {
            crate::known_hosts::host_key_changed(
                &format!("{label} (SIM {})", device.sim_id),
                &format!("napsh known-hosts reset {}", device.sim_id),
            )
        } else if finished == Finished::AlreadyGone {
            mapping_gone(&label, &ensured)
        } else {
            diagnose(&client, &device).await
        };
        let code = report(app, &device, port, &user, &err);
        // A changed host key or an offline device is napsh's own verdict; otherwise keep
        // ssh's code.
        return Ok(
            if matches!(
                error::kind_of(&err),
                ErrorKind::HostKeyChanged | ErrorKind::Offline
            ) {
                code
            } else {
                255
            },
        );
    }
    Ok(outcome.signal.map(exit_code).unwrap_or(outcome.code))
}

/// Why ssh could not connect, when it was not the host key: napsh may have trusted a cached
/// "online" that is no longer true, so the SIM is asked once; otherwise ssh's own message
/// (printed above) stands and `napsh doctor` finds the failing step.
async fn diagnose(client: &crate::api::Client, device: &Device) -> anyhow::Error {
    let label = for_terminal(device.label());
    let sim: Result<napsh_core::soracom::Sim> =
        client.get(&format!("/sims/{}", device.sim_id), &[]).await;
    if let Ok(sim) = sim {
        if !sim.session_status.as_ref().is_some_and(|s| s.online) {
            return crate::mappings::offline_error(device.label());
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

/// Whether the mapping still targets the device (`GET /port_mappings/sims/{id}`, a 404 when
/// the SIM has none); true when that cannot be asked (the usual diagnosis follows).
async fn still_mapped(
    client: &crate::api::Client,
    device: &Device,
    ensured: &crate::mappings::Ensured,
) -> bool {
    let path = format!("/port_mappings/sims/{}", device.sim_id);
    match client
        .get::<Vec<napsh_core::soracom::PortMapping>>(&path, &[])
        .await
    {
        Ok(maps) => maps
            .iter()
            .any(|m| m.ip_address == ensured.mapping.ip_address && m.port == ensured.mapping.port),
        Err(e) => error::kind_of(&e) != ErrorKind::NotFound,
    }
}

/// ssh lost (or never got) its connection and the mapping was found gone: it expired, or
/// someone deleted it, outside napsh.
fn mapping_gone(label: &str, ensured: &crate::mappings::Ensured) -> anyhow::Error {
    let m = &ensured.mapping;
    NapshError::new(
        ErrorKind::Ssh,
        format!(
            "the mapping {}:{} to {label} expired or was deleted outside napsh",
            napsh_core::sanitize::for_terminal(&m.ip_address),
            m.port
        ),
    )
    .hint("run the command again: napsh creates a new mapping (a longer one: --duration SECS)")
    .into()
}

/// Prints a failure with the manual guide and records it; returns the exit code.
fn report(app: &App, device: &Device, port: u16, user: &str, err: &anyhow::Error) -> i32 {
    let info = error::info(err);
    crate::failures::record(&app.dirs.state, &device.sim_id, Some(&info.message));
    output::note(&format!("napsh: {}", info.message));
    if info.kind.guide_helps() && info.kind != ErrorKind::HostKeyChanged {
        output::note("");
        output::note(&guide_for(
            app,
            device,
            port,
            user,
            Some(info.message.clone()),
            None,
        ));
    }
    info.kind.exit_code()
}
