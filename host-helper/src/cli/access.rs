//! `napsh access …`: delegated maintenance (SAM users that may reach only chosen devices).

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `napsh access …`.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Create or update SAM user NAME so that it may reach only the chosen devices with napsh.
    #[command(after_help = "\
Creates the SAM user NAME (or updates it), sets its permission to exactly what napsh needs
for those devices (per-SIM operations with a `pathVariable('sim_id')` condition, the
unscopable `Sim:listSims` and `PortMapping:deletePortMapping`, and
`PortMapping:createPortMapping` denied), revokes its existing API tokens so the change applies
at once, generates an auth key and writes a soracom-cli profile for the contractor (mode 0600;
the key is never printed). Devices already granted are kept unless --replace is given.

The profile goes to --profile-out FILE, else <profile dir>/NAME.json; an existing file is
never replaced unless --force is given. When the user already has an auth key and no
--profile-out is given, no new key is made (the contractor's profile keeps working).

Examples:
  napsh access grant acme-maint kiosk-12 kiosk-13
  napsh access grant acme-maint --tag site=osaka --profile-out ./acme.json
  napsh access grant acme-maint kiosk-14 --replace
  napsh access grant acme-maint kiosk-12 --dry-run")]
    Grant(GrantArgs),
    /// List the SAM users napsh access manages, with their device count.
    #[command(after_help = "\
Examples:
  napsh access list
  napsh access list --json")]
    List(ListArgs),
    /// Show which devices a user may reach, and since when.
    #[command(after_help = "\
Examples:
  napsh access show acme-maint
  napsh access show acme-maint --json")]
    Show(ShowArgs),
    /// Take a user's access away: its auth keys, its permission and its tokens.
    #[command(after_help = "\
Deletes every auth key of NAME, deletes its permission and revokes its API tokens, so its
next call is refused; with --delete-user the SAM user itself is deleted as well.

Examples:
  napsh access revoke acme-maint
  napsh access revoke acme-maint --delete-user")]
    Revoke(RevokeArgs),
}

/// `napsh access grant`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("access_targets").required(true).multiple(false)))]
pub struct GrantArgs {
    /// The SAM user (created when missing).
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Devices: name tag, SIM id or IMSI.
    #[arg(value_name = "DEVICE", group = "access_targets")]
    pub devices: Vec<String>,
    /// Devices carrying this tag (exact value).
    #[arg(long, value_name = "KEY=VALUE", group = "access_targets")]
    pub tag: Option<String>,
    /// Devices in this SIM group.
    #[arg(long, value_name = "ID", group = "access_targets")]
    pub group: Option<String>,
    /// Grant exactly these devices, dropping the ones granted before.
    #[arg(long)]
    pub replace: bool,
    /// Print the permission document and the API calls, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where to write the contractor's soracom-cli profile.
    #[arg(long, value_name = "FILE")]
    pub profile_out: Option<PathBuf>,
    /// Replace an existing profile file.
    #[arg(long)]
    pub force: bool,
}

/// `napsh access list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `napsh access show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The SAM user.
    pub name: String,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `napsh access revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The SAM user.
    pub name: String,
    /// Delete the SAM user too.
    #[arg(long)]
    pub delete_user: bool,
}
