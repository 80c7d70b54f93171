//! The command line of napsh's reach for other tools: `tunnel`, `proxy`, `ssh-config` and
//! `inventory` (their flags and `--help` texts; the variants live in `cli::Command`).

use clap::{ArgGroup, Args};
use napsh_core::tunnel_spec::TunnelSpec;

/// `--help` of `napsh tunnel`.
pub const TUNNEL_AFTER: &str = "\
One local listener per -p, each forwarding to a Napter mapping of that device port. LOCAL
defaults to REMOTE; when that port is taken (or needs root) napsh says so and listens on a free
port instead — an explicit LOCAL is never changed. BIND defaults to 127.0.0.1. A forward that
cannot listen or get its mapping is a warning; the command fails only when none works. Each
connection is logged on stderr as `client → local ⇒ device:port`. Forwards to the device's
SSH port check the device's host key against the one napsh pinned for its SIM (first use pins
it) and print an ssh line that pins it too. Ctrl-C, SIGTERM or SIGHUP stop the tunnel and
delete the mappings it created.

Examples:
  napsh tunnel kiosk-12 -p 80                 http://127.0.0.1:80 (or a free port, printed)
  napsh tunnel kiosk-12 -p 80:8080 -p 22:2222
  napsh tunnel kiosk-12 -p 5432:0.0.0.0:15432 share a device's database on every interface
  napsh tunnel kiosk-12 -p 8080:0             any free local port";

/// `--help` of `napsh proxy`.
pub const PROXY_AFTER: &str = "\
A pure byte pipe between stdin/stdout and the device port, for ssh's ProxyCommand (nothing but
the device's bytes ever goes to stdout; messages go to stderr). The mapping is created or reused
like `napsh ssh` does and deleted when the pipe ends, unless it was reused from another session
or is kept (--keep). `napsh ssh-config` writes the ProxyCommand lines for every device.

Examples:
  ssh -o ProxyCommand='napsh proxy kiosk-12 %p' -o HostKeyAlias=8942… pi@kiosk-12
  napsh proxy kiosk-12 80 < request.http";

/// `--help` of `napsh ssh-config`.
pub const SSH_CONFIG_AFTER: &str = "\
Prints an OpenSSH config with a `Host NAME.napsh SIMID.napsh` block per device: ProxyCommand
`napsh proxy`, the user and port napsh's rules give, and the host key pinned exactly as `napsh
ssh` pins it (HostKeyAlias=<SIM id>, napsh's own known_hosts, trust on first use, then strict).
napsh's ssh_extra_args are translated (-i, -o, -l). Then plain ssh, scp, sftp, rsync -e ssh and
VS Code Remote-SSH work for every device.

--install writes it to $XDG_CONFIG_HOME/napsh/ssh_config and puts one `Include` line at the top
of ~/.ssh/config (backed up first to ~/.ssh/config.napsh-backup; a second run only refreshes the
generated file). Run it again after devices are added or renamed.

Examples:
  napsh ssh-config --install && ssh kiosk-12.napsh
  scp firmware.bin kiosk-12.napsh:/tmp/
  rsync -a -e ssh ./site/ kiosk-12.napsh:/srv/www/
  napsh ssh-config > ~/.ssh/napsh.conf           to manage the Include yourself";

/// `--help` of `napsh inventory`.
pub const INVENTORY_AFTER: &str = "\
Ansible's dynamic inventory JSON: every device as a host (its name, else its SIM id), grouped by
SIM group (group_<id>), by tag (tag_<key>_<value>) and by state (napsh_online, napsh_offline).
Each host is reached through `napsh proxy` (ansible_ssh_common_args: ProxyCommand plus the
host-key pinning of `napsh ssh`), so no mapping exists until Ansible connects, and each one is
deleted when its connection ends. Ansible runs an inventory script with --list, so point -i at a
two-line wrapper:

  printf '#!/bin/sh\\nexec napsh inventory \"$@\"\\n' > napsh-inventory && chmod +x napsh-inventory

Examples:
  ansible -i ./napsh-inventory napsh_online -m ping
  ansible-playbook -i ./napsh-inventory -l tag_role_kiosk site.yml
  napsh inventory --host kiosk-12";

/// `napsh tunnel`.
#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// Device: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// A forward REMOTE[:[BIND:]LOCAL] (repeatable): device port, local address, local port.
    #[arg(
        short = 'p',
        long = "forward",
        value_name = "REMOTE[:[BIND:]LOCAL]",
        required = true,
        value_parser = parse_spec
    )]
    pub forwards: Vec<TunnelSpec>,
    /// Lifetime of new mappings in seconds (default: config, else 3600; renewed on demand).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Remote user shown in the ssh line for an SSH forward.
    #[arg(long, short = 'l')]
    pub user: Option<String>,
}

/// clap's adapter over the pure parser.
fn parse_spec(text: &str) -> Result<TunnelSpec, String> {
    TunnelSpec::parse(text).map_err(|e| e.to_string())
}

/// `napsh proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Device: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Device port (ssh passes %p).
    #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Lifetime of a new mapping in seconds (default: config, else 3600).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Leave the mapping open after the pipe ends (reused until it expires).
    #[arg(long)]
    pub keep: bool,
}

/// `napsh ssh-config`.
#[derive(Debug, Args)]
pub struct SshConfigArgs {
    /// Write the config and include it from ~/.ssh/config (idempotent, backs up first).
    #[arg(long)]
    pub install: bool,
    /// Ask the API for the device list even when the cached one is fresh.
    #[arg(long)]
    pub refresh: bool,
}

/// `napsh inventory`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["list", "host"])))]
pub struct InventoryArgs {
    /// Every host and group, with `_meta.hostvars` (what Ansible asks for).
    #[arg(long)]
    pub list: bool,
    /// The vars of one host (inventory name, NAME.napsh or SIM id).
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Ask the API for the device list even when the cached one is fresh.
    #[arg(long)]
    pub refresh: bool,
}
