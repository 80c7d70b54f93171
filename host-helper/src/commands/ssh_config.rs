//! `napsh ssh-config [--install]`: the OpenSSH config that makes `ssh NAME.napsh` (and scp,
//! sftp, rsync, VS Code) go through `napsh proxy` with napsh's host-key pinning; `--install`
//! writes it and includes it from ~/.ssh/config (backed up first, never twice).

use super::reach::{fleet, napsh_paths, quote_error, user_and_port};
use crate::app::App;
use crate::cli::reach::SshConfigArgs;
use crate::output;
use crate::state::paths::write_private;
use anyhow::{Context, Result};
use napsh_core::ssh_config::{include_line, render_checked, ConfigHost, ConfigInput, PinnedHost};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Runs `napsh ssh-config`.
pub async fn run(app: &App, args: SshConfigArgs, profile: Option<&str>) -> Result<i32> {
    let devices = fleet(app, args.refresh).await?;
    let hosts = devices
        .iter()
        .map(|d| {
            let (user, port) = user_and_port(app, d);
            ConfigHost {
                name: d.name.clone(),
                pinned: PinnedHost {
                    sim_id: d.sim_id.clone(),
                    user,
                    port,
                },
            }
        })
        .collect();
    let input = ConfigInput {
        paths: napsh_paths(app, profile)?,
        extra_args: app.config.ssh_extra_args.clone(),
        hosts,
    };
    let imsis: Vec<Option<&str>> = devices.iter().map(|d| d.imsi.as_deref()).collect();
    let rendered = render_checked(&input, &imsis).map_err(quote_error)?;
    for warning in &rendered.warnings {
        output::warn(warning);
    }
    let text = rendered.text;
    // ssh pins through this config on first contact: the file must exist private before.
    crate::ssh::known_hosts::ensure_private(&app.dirs.known_hosts())?;
    if !args.install {
        output::line(text.trim_end());
        return Ok(0);
    }
    let generated = app.dirs.config.join("ssh_config");
    write_private(&generated, text.as_bytes())?;
    let user_config = app.dirs.home.join(".ssh").join("config");
    let include = include_line(&generated.display().to_string()).map_err(quote_error)?;
    let added = add_include(&user_config, &include)?;
    output::line(&format!(
        "wrote {} ({} devices)",
        generated.display(),
        devices.len()
    ));
    output::line(&match added {
        Some(backup) => format!(
            "added `{include}` at the top of {} (previous version: {})",
            user_config.display(),
            backup.display()
        ),
        None => format!("{} already includes it", user_config.display()),
    });
    output::line("try: ssh NAME.napsh   (or SIMID.napsh)");
    Ok(0)
}

/// Puts `include` at the top of the ssh config (an `Include` further down would only apply
/// inside the `Host` block before it). Returns the backup's path, or `None` when the line is
/// already there. The old file is copied to `config.napsh-backup` first; the new one replaces
/// it atomically with the same permissions.
fn add_include(config: &Path, include: &str) -> Result<Option<PathBuf>> {
    let old = match std::fs::read_to_string(config) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", config.display())),
    };
    let old_text = old.as_deref().unwrap_or_default();
    if old_text.lines().any(|l| l.trim() == include) {
        return Ok(None);
    }
    let backup = config.with_file_name("config.napsh-backup");
    if old.is_some() {
        std::fs::copy(config, &backup)
            .with_context(|| format!("backing up {} to {}", config.display(), backup.display()))?;
    }
    let new_text = format!(
        "# Added by `napsh ssh-config --install`: every napsh device as NAME.napsh\n{include}\n\n{old_text}"
    );
    write_private(config, new_text.as_bytes())?;
    if old.is_some() {
        let mode = std::fs::metadata(&backup)
            .with_context(|| format!("reading {}", backup.display()))?
            .permissions()
            .mode();
        std::fs::set_permissions(config, std::fs::Permissions::from_mode(mode & 0o644))
            .with_context(|| format!("restoring the permissions of {}", config.display()))?;
    }
    Ok(Some(backup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_goes_on_top_once_with_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".ssh/config");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "Host old\n  User me\n").unwrap();
        let line = "Include \"/x/ssh_config\"";
        let backup = add_include(&config, line).unwrap().expect("added");
        assert_eq!(
            std::fs::read_to_string(&backup).unwrap(),
            "Host old\n  User me\n"
        );
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(text.starts_with("# Added by"), "{text}");
        assert!(text.contains(&format!("{line}\n\nHost old\n")), "{text}");
        assert_eq!(add_include(&config, line).unwrap(), None);
        assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    }

    #[test]
    fn a_missing_config_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(".ssh/config");
        assert!(add_include(&config, "Include \"/x\"").unwrap().is_some());
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
