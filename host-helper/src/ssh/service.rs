//! Service targets on the host side: which templates apply to a device (config + rules), the
//! remote script put into the ssh plan, and — when that script says the service is not
//! running — asking the device for the running ones to explain it.

use crate::config::{fetch_password, Config, PasswordSource};
use crate::error::NapshError;
use crate::ssh::askpass::Password;
use crate::ssh::first_contact::FirstContact;
use crate::ssh::launch::{build_args, SshPlan};
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::resume::{self, ResumeMode};
use napsh_core::sanitize::for_terminal;
use napsh_core::service::{self, ServiceRun};
use napsh_core::Device;
use std::process::Stdio;

/// A validated service to open a shell or run a command in, with its device's templates.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceTarget {
    /// The service (container) name, validated.
    pub name: String,
    /// `service_exec` for the device.
    pub exec_template: String,
    /// `service_list` for the device.
    pub list_template: String,
}

/// The service named on the command line, validated before anything else happens.
pub fn requested(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    service::validate_name(name).map_err(|why| {
        NapshError::config(why).hint(
            "give the service (container) name as it is listed on the device; a command goes after `--`",
        )
    })?;
    Ok(Some(name.to_string()))
}

/// The templates for `device`: rule > global > Docker defaults.
pub fn target_for(config: &Config, device: &Device, name: String) -> ServiceTarget {
    let settings = config.settings_for(device);
    ServiceTarget {
        name,
        exec_template: settings
            .service_exec
            .or_else(|| config.service_exec.clone())
            .unwrap_or_else(|| service::DEFAULT_EXEC.into()),
        list_template: settings
            .service_list
            .or_else(|| config.service_list.clone())
            .unwrap_or_else(|| service::DEFAULT_LIST.into()),
    }
}

/// Replaces the plan's command with the service script (a shell in the service gets a
/// terminal when stdin is one, like a plain session).
pub fn apply(plan: &mut SshPlan, target: &ServiceTarget) {
    let tty = plan.command.is_empty() && plan.stdin_is_tty;
    plan.tty_for_command = plan.command.is_empty();
    let script = run_of(target, &plan.command, tty).remote_script();
    plan.command = vec![script];
}

/// The service's remote script for a resumed session: the service checked as without
/// resume, then its shell run inside the tmux or screen session `napsh-SERVICE`.
pub fn resuming_script(target: &ServiceTarget, mode: ResumeMode) -> String {
    let run = run_of(target, &[], true);
    let session = resume::session_name(Some(&target.name));
    run.remote_script_running(&resume::remote_command(
        mode,
        &session,
        Some(&run.exec_command()),
    ))
}

fn run_of<'a>(target: &'a ServiceTarget, command: &'a [String], tty: bool) -> ServiceRun<'a> {
    ServiceRun {
        exec_template: &target.exec_template,
        list_template: &target.list_template,
        service: &target.name,
        command,
        tty,
    }
}

/// After a session ended with [`service::MISSING_EXIT`]: asks the device for its running
/// services. `Some(error)` when the service is really not running (the message lists the
/// running ones) or the list cannot be had; `None` when it is running after all (the exit
/// code was the command's own).
pub async fn explain_missing(
    plan: &SshPlan,
    target: &ServiceTarget,
    password: Option<&PasswordSource>,
    device_label: &str,
    device_arg: &str,
) -> Option<anyhow::Error> {
    let running = match list_running(plan, &target.list_template, password, device_label).await {
        Ok(running) => running,
        Err(e) => return Some(e),
    };
    if running.iter().any(|r| r == &target.name) {
        return None;
    }
    let hint = match running.first() {
        Some(first) => format!(
            "open one of them: napsh ssh {} {}",
            for_terminal(device_arg),
            for_terminal(first)
        ),
        None => "start the service on the device, or set service_list/service_exec in config.toml"
            .into(),
    };
    Some(
        NapshError::new(
            ErrorKind::NotFound,
            service::missing_message(&target.name, device_label, &running),
        )
        .hint(hint)
        .into(),
    )
}

/// Runs `service_list` on the device over the same endpoint (no terminal, output captured;
/// the password only if the device's key is pinned by now).
async fn list_running(
    plan: &SshPlan,
    list_template: &str,
    password: Option<&PasswordSource>,
    label: &str,
) -> Result<Vec<String>> {
    let password = match password {
        Some(source) => Some(Password {
            secret: fetch_password(source)?,
            gate: FirstContact::for_alias(plan.known_hosts.clone(), &plan.alias, label)?,
        }),
        None => None,
    };
    let (_askpass, env) = crate::ssh::askpass::askpass_env(password)?;
    let list_plan = SshPlan {
        command: vec![list_template.to_string()],
        tty_for_command: false,
        stdin_is_tty: false,
        marker: None,
        ..plan.clone()
    };
    let out = tokio::process::Command::new("ssh")
        .args(build_args(&list_plan))
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .await
        .context("running ssh to list the services")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(NapshError::new(
            ErrorKind::Ssh,
            format!(
                "listing the running services failed ({}): {}",
                out.status,
                for_terminal(first.trim())
            ),
        )
        .hint("check service_list in config.toml (default: docker ps --format '{{.Names}}')")
        .into());
    }
    Ok(service::parse_list(&String::from_utf8_lossy(&out.stdout)))
}

/// The SIM id the config says a LAN host belongs to.
pub fn lan_sim(config: &Config, host: &str) -> Option<String> {
    config
        .lan_sims
        .iter()
        .find(|(address, _)| napsh_core::lan::canonical(address).as_deref() == Some(host))
        .map(|(_, sim)| sim.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::Path;

    fn p() -> &'static Path {
        Path::new("/etc/napsh.toml")
    }

    fn device(name: &str) -> Device {
        let mut d = Device::from_sim(&Default::default());
        d.name = name.into();
        d
    }

    #[test]
    fn rule_beats_global_beats_default() {
        let c = crate::config::parse(
            r#"
service_list = "podman ps --format '{{.Names}}'"
[[rules]]
match_name = "edge-*"
service_exec = "podman exec {tty} {service} sh -c {command}"
"#,
            p(),
        )
        .unwrap();
        let edge = target_for(&c, &device("edge-1"), "web".into());
        assert!(edge.exec_template.starts_with("podman exec"));
        assert!(edge.list_template.starts_with("podman ps"));
        let other = target_for(&c, &device("kiosk"), "web".into());
        assert_eq!(other.exec_template, service::DEFAULT_EXEC);
        let none = target_for(&Config::default(), &device("x"), "web".into());
        assert_eq!(none.list_template, service::DEFAULT_LIST);
    }

    #[rstest]
    #[case::exec_without_command("service_exec = \"docker exec {service}\"", "{command}")]
    #[case::rule_template(
        "[[rules]]\nmatch_name = \"*\"\nservice_exec = \"x {command}\"",
        "rules[0]"
    )]
    #[case::lan_key("[lan_sims]\n\"kiosk\" = \"8981\"", "not an IP address")]
    #[case::lan_value("[lan_sims]\n\"10.0.0.5\" = \"kiosk\"", "not a SIM id")]
    fn bad_config_is_named(#[case] text: &str, #[case] part: &str) {
        let err = crate::config::parse(text, p()).unwrap_err();
        let line = crate::error::one_line(&err);
        assert!(
            line.contains(part) && line.contains("/etc/napsh.toml"),
            "{line}"
        );
    }

    #[test]
    fn lan_sims_match_canonical_addresses() {
        let c = crate::config::parse(
            "[lan_sims]\n\"FE80::0001\" = \"8981\"\n\"Pi.Local\" = \"8982\"",
            p(),
        )
        .unwrap();
        assert_eq!(lan_sim(&c, "fe80::1").as_deref(), Some("8981"));
        assert_eq!(lan_sim(&c, "pi.local").as_deref(), Some("8982"));
        assert_eq!(lan_sim(&c, "10.0.0.1"), None);
    }

    #[test]
    fn requested_names_are_validated() {
        assert_eq!(requested(None).unwrap(), None);
        assert_eq!(requested(Some("web")).unwrap().as_deref(), Some("web"));
        let err = requested(Some("-it")).unwrap_err();
        assert_eq!(crate::error::kind_of(&err), ErrorKind::Config);
    }
}
