//! `napsh ssh ADDRESS [SERVICE]`: a direct LAN connection to an IP address or `.local` name —
//! no mapping and no Soracom API call — with the same host-key pinning (alias `lan:ADDRESS`,
//! or the SIM's when config `lan_sims` names it), users, ports and passwords from the config
//! rules, and service targets.

use crate::app::App;
use crate::cli::SshArgs;
use crate::signals::{exit_code, Signals};
use anyhow::Result;
use napsh_core::lan::LanTarget;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;

/// Runs a LAN session; returns the exit code (the remote command's, or napsh's own).
pub(super) async fn run(
    app: &App,
    args: &SshArgs,
    user_at: Option<&str>,
    lan: LanTarget,
    service: Option<String>,
    mut signals: Signals,
) -> Result<i32> {
    let device = lan_device(app, &lan);
    let settings = app.config.settings_for(&device);
    let user = app
        .config
        .user_for(user_at.or(args.user.as_deref()), &device);
    let password = crate::ssh::askpass::password_for(app, &device)?;
    let (askpass, env) = crate::ssh::askpass::askpass_env(password)?;
    let known_hosts = app.dirs.known_hosts();
    crate::state::paths::ensure_private_dir(&app.dirs.data)?;
    let endpoint = crate::ssh::plan::Destination {
        ip: lan.host.clone(),
        port: crate::napter::lease::device_port(app, &args.mapping, &device),
        alias: device.sim_id.clone(),
    };
    let (plan, target) = crate::ssh::plan::for_ssh_args(
        app,
        args,
        &device,
        endpoint,
        user,
        service,
        napsh_core::resume::ResumeMode::Off,
    );
    tracing::info!(host = %lan.host, alias = %plan.alias, "direct LAN connection");
    let label = label(&device, &lan);
    let outcome = crate::ssh::pin_notice::run(&plan, &label, &env, &mut signals).await?;
    drop(askpass);
    if outcome.code == 255 && outcome.host_key_failed {
        let pinned = crate::ssh::known_hosts::pinned(&known_hosts, &plan.alias).unwrap_or_default();
        if !pinned.is_empty() {
            return Err(crate::ssh::known_hosts::host_key_changed(
                &format!("{label} ({})", plan.alias),
                &format!("napsh known-hosts reset {}", lan.host),
            ));
        }
    }
    if let Some(target) = target.filter(|_| outcome.code == napsh_core::service::MISSING_EXIT) {
        let password = settings.password.as_ref();
        if let Some(err) =
            crate::ssh::service::explain_missing(&plan, &target, password, &label, &lan.host).await
        {
            return Err(err);
        }
    }
    Ok(outcome.signal.map(exit_code).unwrap_or(outcome.code))
}

/// The device the rules see: the SIM's cached entry when `lan_sims` names one and napsh's
/// device cache knows it (any age: no API call), else the address as its name, keyed by the
/// SIM id or `lan:ADDRESS`.
fn lan_device(app: &App, lan: &LanTarget) -> Device {
    let sim_id = crate::ssh::service::lan_sim(&app.config, &lan.host);
    let cached = sim_id.as_deref().and_then(|id| cached_device(app, id));
    cached.unwrap_or_else(|| {
        let mut device = Device::from_sim(&Default::default());
        device.sim_id = sim_id.unwrap_or_else(|| lan.alias());
        device.name = lan.host.clone();
        device.online = true;
        device
    })
}

/// The device `sim_id` in the selected profile's device cache, whatever its age.
fn cached_device(app: &App, sim_id: &str) -> Option<Device> {
    let client = app.client().ok()?;
    crate::napter::devices::read_cache(&crate::napter::devices::cache_path(app, &client))?
        .entries
        .into_iter()
        .find(|e| e.device.sim_id == sim_id)
        .map(|e| e.device)
}

/// How messages name the target: the address, with the device name when known.
fn label(device: &Device, lan: &LanTarget) -> String {
    if device.name.is_empty() || device.name == lan.host {
        for_terminal(&lan.host)
    } else {
        format!(
            "{} at {}",
            for_terminal(device.label()),
            for_terminal(&lan.host)
        )
    }
}
