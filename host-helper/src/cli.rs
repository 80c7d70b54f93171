//! The command line: every command, flag and `--help` text (with examples).

use clap::{Args, Parser, Subcommand};

const MAIN_AFTER: &str = "\
Examples:
  napsh devices                     list the fleet
  napsh ssh kiosk-12                open a shell (mapping created, deleted on exit)
  napsh ssh admin@kiosk-12 -- uptime
  napsh connect --json kiosk-12 kiosk-13
  napsh doctor kiosk-12             find out why a device cannot be reached

Files:
  profiles     $SORACOM_PROFILE_DIR/<name>.json or ~/.soracom/<name>.json (soracom-cli)
  config       $NAPSH_CONFIG or $XDG_CONFIG_HOME/napsh/config.toml
  cache        $XDG_CACHE_HOME/napsh (API token, device list; 0600)
  state        $XDG_STATE_HOME/napsh (mapping registry, last failures; 0600)
  host keys    $XDG_DATA_HOME/napsh/known_hosts (pinned per SIM id)

Exit codes: 0 ok, 2 usage/config/unknown device, 3 credentials/permission,
4 offline/not found, 5 API/network/rate limit/timeout, 6 ssh/host key, 70 bug;
`napsh ssh DEV -- CMD` exits with the remote command's code.";

/// Get a shell on a device behind a Soracom SIM, via Napter, with pinned host keys.
#[derive(Debug, Parser)]
#[command(name = "napsh", version, after_help = MAIN_AFTER)]
pub struct Cli {
    /// More output on stderr: -v API requests, -vv details, -vvv everything.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// soracom-cli profile (default: $SORACOM_PROFILE, else "default").
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// napsh's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List devices (SIMs) with status and live mappings.
    #[command(after_help = "\
Examples:
  napsh devices                 every device (cached for 60 s)
  napsh devices kiosk --online  online devices whose name, SIM id, IMSI or tags contain \"kiosk\"
  napsh devices --json --refresh")]
    Devices(DevicesArgs),
    /// Ensure a mapping per device (concurrently) and print where to connect.
    #[command(after_help = "\
Mappings created by `connect` stay open for the next `napsh ssh` to the device, which deletes it
when its session ends; if no session uses it, it expires after mapping_duration_secs. With
--keep, sessions never delete it: it stays until it expires or `napsh mappings close`.

Examples:
  napsh connect kiosk-12
  napsh connect --json kiosk-12 kiosk-13 8981200000000000001
  napsh connect --keep --port 8080 kiosk-12")]
    Connect(ConnectArgs),
    /// Open an SSH session (the system ssh) to a device through a Napter mapping.
    #[command(after_help = "\
The host key is pinned to the SIM id in napsh's own known_hosts (first use trusts it). The
mapping napsh creates is deleted when the session ends (exit, Ctrl-C, closed terminal); with
--keep it is left for reuse until it expires. Your ~/.ssh/config, keys and agent still apply.
User: USER@ > --user > config rule > default_user > pi.

Examples:
  napsh ssh kiosk-12
  napsh ssh admin@kiosk-12
  napsh ssh kiosk-12 -- sudo systemctl restart kiosk
  napsh ssh --keep --ssh-option ForwardAgent=yes 8981200000000000001")]
    Ssh(SshArgs),
    /// List live mappings, or close them.
    #[command(after_help = "\
Examples:
  napsh mappings                 every live mapping of the operator, marked when napsh owns it
  napsh mappings --json
  napsh mappings close kiosk-12  delete every mapping to kiosk-12
  napsh mappings close --all     delete the mappings napsh created
  napsh mappings close --all --any   delete every mapping of the operator")]
    Mappings(MappingsArgs),
    /// Print the manual connection guide for a device (works without the API).
    #[command(after_help = "\
Examples:
  napsh guide kiosk-12
  napsh guide --json --port 8022 kiosk-12")]
    Guide(GuideArgs),
    /// Check every step from profile to SSH login and explain the first failure.
    #[command(after_help = "\
Steps: profile, authentication, SIM exists and is online, mapping (a mapping created for the
check is deleted afterwards), TCP reach, SSH banner, host key against the pinned one, login
(ssh -o BatchMode=yes ... true).

Examples:
  napsh doctor kiosk-12
  napsh doctor --user admin --port 2222 kiosk-12")]
    Doctor(DoctorArgs),
    /// Manage napsh's pinned host keys.
    #[command(
        subcommand,
        name = "known-hosts",
        after_help = "\
Examples:
  napsh known-hosts reset kiosk-12
  napsh known-hosts path"
    )]
    KnownHosts(KnownHostsCommand),
    /// Set up the Zellij device picker: install the plugin and its keybinding.
    #[command(subcommand)]
    Zellij(ZellijCommand),
    /// Forward local TCP ports to device ports through Napter mappings (any TCP protocol).
    #[command(after_help = crate::cli_reach::TUNNEL_AFTER)]
    Tunnel(crate::cli_reach::TunnelArgs),
    /// Pipe stdin/stdout to a device port: the ProxyCommand behind `napsh ssh-config`.
    #[command(after_help = crate::cli_reach::PROXY_AFTER)]
    Proxy(crate::cli_reach::ProxyArgs),
    /// Print (or --install) an OpenSSH config so plain ssh, scp, sftp, rsync reach every device.
    #[command(name = "ssh-config", after_help = crate::cli_reach::SSH_CONFIG_AFTER)]
    SshConfig(crate::cli_reach::SshConfigArgs),
    /// Ansible dynamic inventory of the fleet (--list / --host NAME).
    #[command(after_help = crate::cli_reach::INVENTORY_AFTER)]
    Inventory(crate::cli_reach::InventoryArgs),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  napsh completions bash > ~/.local/share/bash-completion/completions/napsh
  napsh completions zsh > ~/.zfunc/_napsh")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `napsh zellij …`.
#[derive(Debug, Subcommand)]
pub enum ZellijCommand {
    /// Put the plugin where Zellij finds it and bind a key to open the picker.
    #[command(after_help = "\
Writes the plugin (embedded in this napsh) to <zellij config dir>/plugins/napsh.wasm and adds a
keybinding to config.kdl inside its `keybinds` block, between `// napsh:begin` and `// napsh:end`
markers. The previous config.kdl is backed up first; running it again changes nothing; a new
--key replaces the old binding. The picker runs this napsh binary as its helper.

Examples:
  napsh zellij install                 bind Alt s (then press it in Zellij)
  napsh zellij install --key \"Alt d\"
  napsh zellij install --print         only show the KDL to add by hand
  napsh zellij install --config-dir ~/dotfiles/zellij")]
    Install(ZellijInstallArgs),
}

/// `napsh zellij install`.
#[derive(Debug, Args)]
pub struct ZellijInstallArgs {
    /// The key that opens the picker, in Zellij's notation.
    #[arg(long, default_value = "Alt s")]
    pub key: String,
    /// Only print the keybinding block (and where the plugin would go); change nothing.
    #[arg(long)]
    pub print: bool,
    /// Zellij's config directory (default: $ZELLIJ_CONFIG_DIR, else ~/.config/zellij).
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<std::path::PathBuf>,
}

/// `napsh devices`.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Case-insensitive substring of name, SIM id, IMSI or a tag.
    pub filter: Option<String>,
    /// Only online devices.
    #[arg(long)]
    pub online: bool,
    /// JSON array of devices instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The compact line feed the Zellij picker reads (napsh_core::picker_feed), instead of a
    /// table; failures are still reported as JSON.
    #[arg(long, hide = true, conflicts_with = "json")]
    pub picker: bool,
    /// Ask the API even when the cached list is fresh.
    #[arg(long, conflicts_with = "cache_only")]
    pub refresh: bool,
    /// Only print the cached list, whatever its age (fails when there is none).
    #[arg(long)]
    pub cache_only: bool,
}

/// Mapping options shared by `connect`, `ssh` and `doctor`.
#[derive(Debug, Args, Clone)]
pub struct MappingOpts {
    /// Device port (default: config rule, else 22).
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Lifetime of a new mapping in seconds (default: config, else 3600; at most 28800).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
}

/// `napsh connect`.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Devices: name tag, SIM id or IMSI.
    #[arg(required = true, value_name = "DEVICE")]
    pub devices: Vec<String>,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
    /// One JSON ConnectResult per line.
    #[arg(long)]
    pub json: bool,
    /// Never delete these mappings when a session ends (expiry or `mappings close` do).
    #[arg(long)]
    pub keep: bool,
}

/// `napsh ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// [USER@]DEVICE: name tag, SIM id or IMSI.
    #[arg(value_name = "[USER@]DEVICE")]
    pub target: String,
    /// Remote user.
    #[arg(long, short = 'l')]
    pub user: Option<String>,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
    /// Leave the mapping open after the session (reused until it expires).
    #[arg(long)]
    pub keep: bool,
    /// Extra ssh option, as `-o OPTION` (repeatable).
    #[arg(long = "ssh-option", short = 'o', value_name = "OPTION")]
    pub ssh_options: Vec<String>,
    /// Command to run instead of a shell (non-interactive; napsh exits with its code).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `napsh mappings`.
#[derive(Debug, Args)]
pub struct MappingsArgs {
    /// JSON array instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Close mappings.
    #[command(subcommand)]
    pub action: Option<MappingsAction>,
}

/// `napsh mappings close`.
#[derive(Debug, Subcommand)]
pub enum MappingsAction {
    /// Delete mappings: every mapping to the given devices, or with --all those napsh created.
    #[command(after_help = "\
Examples:
  napsh mappings close kiosk-12 kiosk-13
  napsh mappings close --all
  napsh mappings close --all --any")]
    Close(CloseArgs),
}

/// `napsh mappings close`.
#[derive(Debug, Args)]
pub struct CloseArgs {
    /// Devices whose mappings to delete (all of them, whoever created them).
    #[arg(
        value_name = "DEVICE",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub devices: Vec<String>,
    /// Delete every mapping napsh created with this profile.
    #[arg(long)]
    pub all: bool,
    /// With --all: every live mapping of the operator, not only napsh's.
    #[arg(long, requires = "all")]
    pub any: bool,
}

/// `napsh guide`.
#[derive(Debug, Args)]
pub struct GuideArgs {
    /// Device: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Device port.
    #[arg(long, short = 'p')]
    pub port: Option<u16>,
    /// Remote user shown in the ssh line.
    #[arg(long, short = 'l')]
    pub user: Option<String>,
    /// JSON GuideReport.
    #[arg(long)]
    pub json: bool,
}

/// `napsh doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// [USER@]DEVICE: name tag, SIM id or IMSI.
    #[arg(value_name = "[USER@]DEVICE")]
    pub target: String,
    /// Remote user.
    #[arg(long, short = 'l')]
    pub user: Option<String>,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
}

/// `napsh known-hosts`.
#[derive(Debug, Subcommand)]
pub enum KnownHostsCommand {
    /// Forget the pinned host key of a device (the next connection pins the new one).
    #[command(after_help = "\
Examples:
  napsh known-hosts reset kiosk-12
  napsh known-hosts reset 8981200000000000001")]
    Reset {
        /// Device: name tag, SIM id or IMSI (a SIM id works offline).
        #[arg(value_name = "DEVICE")]
        device: String,
    },
    /// Print the path of napsh's known_hosts file.
    #[command(after_help = "\
Examples:
  napsh known-hosts path
  cat \"$(napsh known-hosts path)\"")]
    Path,
}
