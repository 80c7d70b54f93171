//! The ssh plan of a `napsh ssh` session, shared by the Napter and the direct LAN paths: the
//! endpoint, the pinned alias, the user, the options and command from the command line, and
//! the service script when a service was named.

use crate::app::App;
use crate::cli::SshArgs;
use crate::service::ServiceTarget;
use crate::session::Destination;
use crate::ssh::SshPlan;
use napsh_core::Device;
use std::io::IsTerminal;

/// The plan for `device` at `endpoint`, with the service target (if `service` is given)
/// already applied.
pub(super) fn plan(
    app: &App,
    args: &SshArgs,
    device: &Device,
    endpoint: Destination,
    user: String,
    service: Option<String>,
) -> (SshPlan, Option<ServiceTarget>) {
    let mut plan = crate::session::plan_to(
        app,
        endpoint,
        &user,
        &args.ssh_options,
        &args.command,
        std::io::stdin().is_terminal(),
    );
    let target = service.map(|s| crate::service::target_for(&app.config, device, s));
    if let Some(target) = &target {
        crate::service::apply(&mut plan, target);
    }
    (plan, target)
}
