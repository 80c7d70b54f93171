//! The ssh plan of a `napsh ssh` session, shared by the Napter and the direct LAN paths: the
//! endpoint, the pinned alias, the user, the options and command from the command line, and
//! the service script when a service was named.

use crate::app::App;
use crate::cli::SshArgs;
use crate::service::ServiceTarget;
use crate::ssh::SshPlan;
use napsh_core::Device;
use std::io::IsTerminal;

/// Where a session connects and which host key it pins.
pub(super) struct Endpoint {
    /// Address ssh connects to.
    pub ip: String,
    /// Port there.
    pub port: u16,
    /// Host-key alias (SIM id or `lan:ADDRESS`).
    pub alias: String,
}

/// The plan for `device` at `endpoint`, with the service target (if `service` is given)
/// already applied.
pub(super) fn plan(
    app: &App,
    args: &SshArgs,
    device: &Device,
    endpoint: Endpoint,
    user: String,
    service: Option<String>,
) -> (SshPlan, Option<ServiceTarget>) {
    let mut plan = SshPlan {
        ip: endpoint.ip,
        port: endpoint.port,
        alias: endpoint.alias,
        known_hosts: app.dirs.known_hosts(),
        user,
        extra_args: app.config.ssh_extra_args.clone(),
        options: args.ssh_options.clone(),
        command: args.command.clone(),
        stdin_is_tty: std::io::stdin().is_terminal(),
        tty_for_command: false,
    };
    let target = service.map(|s| crate::service::target_for(&app.config, device, s));
    if let Some(target) = &target {
        crate::service::apply(&mut plan, target);
    }
    (plan, target)
}
