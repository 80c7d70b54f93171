//! The command line: every command, flag and `--help` text (with examples); the commands that
//! reach devices for other tools are in `reach`.

pub mod access;
pub mod reach;

use clap::{Args, Parser, Subcommand};

const MAIN_AFTER: &str = "\
Examples:
  napsh devices                     list the fleet
  napsh ssh kiosk-12                open a shell (mapping created, deleted on exit)
  napsh ssh admin@kiosk-12 -- uptime
  napsh connect --json kiosk-12 kiosk-13
  napsh doctor kiosk-12             find out why a device cannot be reached
  napsh exec --tag role=kiosk -- uptime   run on many devices, lines prefixed [name]
  napsh web                         the picker in a browser (Zellij's web client)

Files:
  profiles     $SORACOM_PROFILE_DIR/<name>.json or ~/.soracom/<name>.json (soracom-cli)
  config       $NAPSH_CONFIG or $XDG_CONFIG_HOME/napsh/config.toml
  cache        $XDG_CACHE_HOME/napsh (API token, device list; 0600)
  state        $XDG_STATE_HOME/napsh (mapping registry, last failures; 0600)
  host keys    $XDG_DATA_HOME/napsh/known_hosts (pinned per SIM id)

Exit codes: 0 ok, 2 usage/config/unknown device, 3 credentials/permission,
4 offline/not found, 5 API/network/rate limit/timeout, 6 ssh/host key, 70 bug;
`napsh ssh DEV -- CMD` exits with the remote command's code; `napsh exec` and
`napsh keys push` exit 1 when at least one device failed.";

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
    /// Allow a world-open source range (0.0.0.0/0, ::/0) on new mappings: anyone on the
    /// internet may then connect to the device's port.
    #[arg(long, global = true)]
    pub allow_any_source: bool,
    /// Send a configured password to a device whose host key is not pinned yet, and pin the
    /// key it presents (first contact). Without it, such a password goes only to a pinned
    /// device, or after "y" at a terminal prompt showing the key.
    #[arg(long, global = true)]
    pub trust_first_contact: bool,
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

A SERVICE after the device opens the shell (or runs the command) inside that service
(container): config `service_exec`, default `docker exec {tty} {service} sh -c {command}`;
a service that is not running is reported with the running ones (`service_list`, default
`docker ps --format '{{.Names}}'`). `--` always starts the command: `napsh ssh dev -- ls` runs
ls on the device, `napsh ssh dev web -- ls` inside the service web.

A DEVICE that is an IP address (v4/v6) or a `.local` name is connected to directly on the LAN
(no mapping, no Soracom API call); its host key is pinned as `lan:ADDRESS`, or as the SIM's
when config `lan_sims` maps the address to a SIM id. Config rules match the address as name.

--resume (config `resume = \"auto\"`, per rule too) keeps an interactive session across link
drops: the shell runs in `tmux new-session -A -s napsh` (or `screen -xRR -S napsh`) on the
device when it has one (else a plain shell, with a notice); when the link drops napsh keeps the
terminal, gets the mapping back, reconnects with backoff and reattaches. Ctrl-C gives up; `~.`
quits at once.

Examples:
  napsh ssh kiosk-12
  napsh ssh --resume kiosk-12            survive link drops (tmux or screen on the device)
  napsh ssh admin@kiosk-12
  napsh ssh kiosk-12 -- sudo systemctl restart kiosk
  napsh ssh kiosk-12 web                 a shell inside the container web
  napsh ssh kiosk-12 web -- nginx -t     a command inside it
  napsh ssh pi@192.168.1.20              straight over the LAN
  napsh ssh raspberrypi.local db -- psql -c 'select 1'
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
    /// Run a command on many devices at once; output lines prefixed with the device name.
    #[command(after_help = EXEC_AFTER)]
    Exec(ExecArgs),
    /// Install your SSH public key on devices, or list the keys a device accepts.
    #[command(
        subcommand,
        after_help = "\
Examples:
  napsh keys push kiosk-12          install ~/.ssh/id_ed25519.pub with the configured password
  napsh keys push --tag role=kiosk --online
  napsh keys list kiosk-12"
    )]
    Keys(KeysCommand),
    /// Show napsh's local journal of sessions: who reached which device, when, how it ended.
    #[command(after_help = HISTORY_AFTER)]
    History(HistoryArgs),
    /// Show Soracom's Napter audit log of a device (mappings created, connections, denials).
    #[command(after_help = AUDIT_AFTER)]
    Audit(AuditArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    #[command(after_help = "\
Examples:
  napsh man | man -l -
  napsh man --dir ~/.local/share/man/man1     napsh.1, napsh-ssh.1, …")]
    Man(ManArgs),
    /// Open the fleet in a browser: Zellij's web client with the napsh picker.
    #[command(after_help = WEB_AFTER)]
    Web(WebArgs),
    /// Forward local TCP ports to device ports through Napter mappings (any TCP protocol).
    #[command(after_help = crate::cli::reach::TUNNEL_AFTER)]
    Tunnel(crate::cli::reach::TunnelArgs),
    /// Pipe stdin/stdout to a device port: the ProxyCommand behind `napsh ssh-config`.
    #[command(after_help = crate::cli::reach::PROXY_AFTER)]
    Proxy(crate::cli::reach::ProxyArgs),
    /// Print (or --install) an OpenSSH config so plain ssh, scp, sftp, rsync reach every device.
    #[command(name = "ssh-config", after_help = crate::cli::reach::SSH_CONFIG_AFTER)]
    SshConfig(crate::cli::reach::SshConfigArgs),
    /// Ansible dynamic inventory of the fleet (--list / --host NAME).
    #[command(after_help = crate::cli::reach::INVENTORY_AFTER)]
    Inventory(crate::cli::reach::InventoryArgs),
    /// Delegated maintenance: let a contractor's SAM user reach only chosen devices.
    #[command(
        subcommand,
        after_help = "\
The owner grants a SAM user access to chosen devices; napsh writes the contractor a
soracom-cli profile that reaches only those (README: Delegated maintenance).

Examples:
  napsh access grant acme-maint kiosk-12 kiosk-13
  napsh access show acme-maint
  napsh access revoke acme-maint"
    )]
    Access(access::AccessCommand),
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  napsh completions bash > ~/.local/share/bash-completion/completions/napsh
  napsh completions zsh > ~/.zfunc/_napsh
  napsh completions fish > ~/.config/fish/completions/napsh.fish")]
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
    /// [USER@]DEVICE: name tag, SIM id or IMSI; or an IP address / `.local` name for a direct
    /// LAN connection (no Soracom API call).
    #[arg(value_name = "[USER@]DEVICE")]
    pub target: String,
    /// A service (container) on the device: the shell or command runs inside it
    /// (config `service_exec`, default `docker exec`).
    #[arg(value_name = "SERVICE")]
    pub service: Option<String>,
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
    /// Keep the session across link drops: the shell runs in tmux (else screen) on the device
    /// and napsh reconnects and reattaches; `--resume=tmux|screen|off` picks (config `resume`).
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true, default_missing_value = "auto")]
    pub resume: Option<napsh_core::resume::ResumeMode>,
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
    /// List the pinned host keys: alias (SIM id or lan:ADDRESS), key type, fingerprint.
    #[command(after_help = "\
Examples:
  napsh known-hosts list
  napsh known-hosts list --json")]
    List {
        /// JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the path of napsh's known_hosts file.
    #[command(after_help = "\
Examples:
  napsh known-hosts path
  cat \"$(napsh known-hosts path)\"")]
    Path,
}

const EXEC_AFTER: &str = "\
Targets: DEVICE… (name tag, SIM id or IMSI), or --all, --tag KEY=VALUE, --group ID; --online
drops offline devices (without it, an offline device counts as failed). Up to --parallel
devices run at once: a mapping is ensured (reused or created), the command runs through the
system ssh (non-interactive; stdin is NOT forwarded: the command's stdin is empty), and the
mapping napsh created is deleted when the device is done — also on Ctrl-C.

Every output line is prefixed with [device]: remote stdout to stdout, remote stderr to stderr
(with --json, both to stderr and one JSON result per device on stdout). A summary goes to
stderr: \"N succeeded, M failed: name (reason), …\". --log-dir DIR also writes each device's
raw output to DIR/<name>_<SIM id>.stdout and .stderr (0600, names made file-safe; DIR must be
yours and writable by nobody else; files of the same name are replaced).

Device output is shown inert by default: colours (SGR) are kept, every other control character
or escape sequence (CR, cursor movement, window title, clipboard…) is shown escaped, like \\r
or \\e]0;…, so that a device can neither overwrite a line to forge another device's output nor
drive your terminal. --raw shows every byte as the device sent it (after the prefix): only for
output you trust.

Exit codes: 0 every device succeeded; 1 at least one failed (offline, unreachable, or its
command exited non-zero); 130/143/129 interrupted; 2-6 the whole command failed before running.

Examples:
  napsh exec kiosk-12 kiosk-13 -- uptime
  napsh exec --all --online -- systemctl is-active kiosk
  napsh exec --tag role=camera --log-dir ./logs -- journalctl -n 50
  napsh exec --group grp-osaka --parallel 4 --json -- df -h /
  napsh exec --raw kiosk-12 -- journalctl -n 20 -o cat";

const HISTORY_AFTER: &str = "\
The journal is $XDG_STATE_HOME/napsh/journal.jsonl (JSON lines, 0600, append-only): one line per
session of `napsh ssh`, `exec` and `keys`, per `napsh proxy` run (each scp, sftp, rsync, ssh or
Ansible connection through `napsh ssh-config`) and per `napsh tunnel` forward, with the local
user, device name and SIM id, start, end and duration, the source range, the mapping (ip:port,
created or reused), the kind (with the device port for proxy and tunnel: `tunnel:8080`) and how
it ended (exit code or error kind). It never holds a password or token.

Examples:
  napsh history
  napsh history kiosk-12 --limit 5
  napsh history --json";

const AUDIT_AFTER: &str = "\
Asks GET /v1/audit_logs/napter for the device's IMSI (resource_type=Subscriber), following
pages (last_evaluated_key); the API answers newest first, napsh shows the newest --limit
entries oldest first. Needs the AuditLog:getNapterAuditLogs permission.

Examples:
  napsh audit kiosk-12
  napsh audit kiosk-12 --limit 200 --json";

/// Which devices a fleet command targets (DEVICE…, --all, --tag or --group: exactly one).
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("targets").required(true).multiple(false)))]
pub struct TargetArgs {
    /// Devices: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE", group = "targets")]
    pub devices: Vec<String>,
    /// Every device of the operator.
    #[arg(long, group = "targets")]
    pub all: bool,
    /// Devices carrying this tag (exact value).
    #[arg(long, value_name = "KEY=VALUE", group = "targets")]
    pub tag: Option<String>,
    /// Devices in this SIM group.
    #[arg(long, value_name = "ID", group = "targets")]
    pub group: Option<String>,
    /// Only online devices (otherwise an offline device counts as failed).
    #[arg(long)]
    pub online: bool,
    /// Devices handled at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub parallel: u16,
    /// Remote user (default: config rules, else default_user, else pi).
    #[arg(long, short = 'l')]
    pub user: Option<String>,
}

/// `napsh exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Target selection.
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
    /// Also write each device's raw stdout/stderr to DIR/<name>_<SIM id>.stdout/.stderr.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<std::path::PathBuf>,
    /// One JSON result per device on stdout (device output then goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Show device output byte for byte after each prefix (default: colours kept, every other
    /// control character and escape sequence shown inert, so that a device can neither forge
    /// another device's line nor drive your terminal). Only for output you trust.
    #[arg(long)]
    pub raw: bool,
    /// The command to run on every device.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `napsh keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Install your public key in the devices' ~/.ssh/authorized_keys (idempotent).
    #[command(after_help = "\
Logs in once per device with the configured password (a password_command rule; key auth works
too) and appends the key to ~/.ssh/authorized_keys unless that key is already there: no
duplicate on a second run, existing keys untouched, ~/.ssh 0700 and the file 0600. The key
travels on ssh's stdin, never on a command line. Key: --key FILE, else ssh_public_key in the
config, else the first of ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub. Targets and exit
codes as for `napsh exec` (1 when a device failed).

Examples:
  napsh keys push kiosk-12
  napsh keys push --tag role=kiosk --key ~/.ssh/fleet_ed25519.pub
  napsh keys push --all --online --user admin")]
    Push(KeysPushArgs),
    /// List the keys in a device's ~/.ssh/authorized_keys: type, fingerprint, comment.
    #[command(after_help = "\
Examples:
  napsh keys list kiosk-12
  napsh keys list --json --user admin kiosk-12")]
    List(KeysListArgs),
}

/// `napsh keys push`.
#[derive(Debug, Args)]
pub struct KeysPushArgs {
    /// Target selection.
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
    /// The public key file to install.
    #[arg(long, value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
}

/// `napsh keys list`.
#[derive(Debug, Args)]
pub struct KeysListArgs {
    /// Device: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Remote user.
    #[arg(long, short = 'l')]
    pub user: Option<String>,
    /// Mapping options.
    #[command(flatten)]
    pub mapping: MappingOpts,
    /// JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `napsh history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only sessions to this device (exact name tag or SIM id).
    #[arg(value_name = "DEVICE")]
    pub device: Option<String>,
    /// JSON array of journal entries instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show the last N sessions.
    #[arg(long, default_value_t = napsh_core::journal::DEFAULT_LIMIT, value_name = "N")]
    pub limit: usize,
}

/// `napsh audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Device: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// JSON array of audit entries (oldest first) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show the newest N entries.
    #[arg(long, default_value_t = napsh_core::audit::DEFAULT_LIMIT, value_name = "N")]
    pub limit: usize,
}

/// `napsh man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write napsh.1 and one napsh-COMMAND.1 per command into this directory instead of
    /// printing napsh.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

const WEB_AFTER: &str = "\
Starts (or reuses) Zellij's web server and a Zellij session whose first pane shows the picker's
key; in the browser, that key opens the napsh device picker, and each device opens in its own
pane running `napsh ssh` on THIS machine. The plugin is the one embedded in this napsh (written
where `napsh zellij install` puts it); your own config.kdl is read, never changed: napsh web uses
a copy with the picker's keybinding in $XDG_STATE_HOME/napsh/web/.

Login: a new login token is shown once on stdout when stdout is a terminal; otherwise (or with
--token-file) it is written to a 0600 file and only its path is printed. napsh does not keep a
token it showed. A second `napsh web` reuses the server, the session and the token.
`napsh web --stop` stops the server and the session napsh started and revokes napsh's token.

The server listens on 127.0.0.1 unless --bind says otherwise; any other address needs --cert and
--key (HTTPS). Anyone with the token gets a shell as you on this machine.

Examples:
  napsh web                              http://127.0.0.1:8082/napsh, token shown once
  napsh web --port 9000 --token-file ~/.napsh-web-token
  napsh web --new-token                  revoke napsh's token and make a new one
  napsh web --bind 0.0.0.0 --cert cert.pem --key key.pem
  napsh web --stop";

/// `napsh web`.
#[derive(Debug, Args)]
pub struct WebArgs {
    /// Stop the web server and the session napsh started, and revoke napsh's login token.
    #[arg(long, conflicts_with_all = ["bind", "port", "cert", "key", "session", "picker_key", "token_file", "new_token"])]
    pub stop: bool,
    /// Address to listen on (default 127.0.0.1); any non-loopback address needs --cert/--key.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Port to listen on (default 8082).
    #[arg(long)]
    pub port: Option<u16>,
    /// TLS certificate (PEM) for HTTPS, passed to Zellij's web server.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// TLS private key (PEM) for HTTPS, passed to Zellij's web server.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// Zellij session the browser attaches to (default "napsh").
    #[arg(long, value_name = "NAME")]
    pub session: Option<String>,
    /// The key that opens the picker, in Zellij's notation (default "Alt s").
    #[arg(long, value_name = "KEY")]
    pub picker_key: Option<String>,
    /// Write a new login token to this file (0600) instead of showing it.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<std::path::PathBuf>,
    /// Revoke napsh's login token and create a new one.
    #[arg(long)]
    pub new_token: bool,
}
