//! The ssh invocation of a session to a device: where it connects (`Destination`, the mapping's
//! endpoint or a LAN address), the host key it pins, napsh's known_hosts, the user, the
//! config's extra arguments, and — for `napsh ssh` — the options and command from the command
//! line with the service script applied when a service was named (inside tmux or screen when
//! the session resumes).

use crate::app::App;
use crate::cli::SshArgs;
use crate::napter::lease::Lease;
use crate::ssh::launch::SshPlan;
use crate::ssh::service::ServiceTarget;
use napsh_core::resume::ResumeMode;
use napsh_core::Device;
use std::io::IsTerminal;

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
    pub fn mapped(ensured: &Lease, device: &Device) -> Self {
        Destination {
            ip: ensured.mapping.ip_address.clone(),
            port: ensured.mapping.port,
            alias: device.sim_id.clone(),
        }
    }
}

/// The ssh invocation to `to` as `user`, with napsh's known_hosts (made private now, before
/// ssh may create it world-readable) and the config's extra arguments.
pub fn plan_to(
    app: &App,
    to: Destination,
    user: &str,
    options: &[String],
    command: &[String],
    stdin_is_tty: bool,
) -> SshPlan {
    let known_hosts = app.dirs.known_hosts();
    if let Err(e) = crate::ssh::known_hosts::ensure_private(&known_hosts) {
        crate::output::warn(&crate::error::one_line(&e));
    }
    SshPlan {
        ip: to.ip,
        port: to.port,
        alias: to.alias,
        known_hosts,
        user: user.to_string(),
        extra_args: app.config.ssh_extra_args.clone(),
        options: options.to_vec(),
        command: command.to_vec(),
        stdin_is_tty,
        tty_for_command: false,
        marker: None,
    }
}

/// The ssh invocation through `ensured` for `device`, pinned to its SIM id.
pub fn plan(
    app: &App,
    ensured: &Lease,
    device: &Device,
    user: &str,
    options: &[String],
    command: &[String],
    stdin_is_tty: bool,
) -> SshPlan {
    let to = Destination::mapped(ensured, device);
    plan_to(app, to, user, options, command, stdin_is_tty)
}

/// The plan for `device` at `endpoint`, with the service target (if `service` is given)
/// and the resumed shell (unless `resume` is off) already applied.
pub fn for_ssh_args(
    app: &App,
    args: &SshArgs,
    device: &Device,
    endpoint: Destination,
    user: String,
    service: Option<String>,
    resume: ResumeMode,
) -> (SshPlan, Option<ServiceTarget>) {
    let mut plan = plan_to(
        app,
        endpoint,
        &user,
        &args.ssh_options,
        &args.command,
        std::io::stdin().is_terminal(),
    );
    let target = service.map(|s| crate::ssh::service::target_for(&app.config, device, s));
    if resume != ResumeMode::Off {
        crate::ssh::resume::apply(&mut plan, resume, target.as_ref());
    } else if let Some(target) = &target {
        crate::ssh::service::apply(&mut plan, target);
    }
    (plan, target)
}
