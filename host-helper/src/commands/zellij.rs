//! `napsh zellij install`: the plugin and its keybinding, or just the snippet with `--print`.

use crate::cli::{ZellijCommand, ZellijInstallArgs};
use crate::output;
use crate::zellij::install::{check_zellij, install, keybinding_block, InstallPaths, ZellijNews};
use anyhow::{Context, Result};
use napsh_core::zellij_compat::ZellijUse;

/// Runs `napsh zellij …`.
pub fn run(command: ZellijCommand) -> Result<i32> {
    match command {
        ZellijCommand::Install(args) => run_install(&args),
    }
}

fn run_install(args: &ZellijInstallArgs) -> Result<i32> {
    let paths = InstallPaths::detect(args.config_dir.as_deref())?;
    let helper = std::env::current_exe().context("finding this napsh binary")?;
    // A Zellij the plugin cannot run on is refused before anything is written.
    let news = check_zellij(ZellijUse::Picker)?;
    if let ZellijNews::Warning(text) = &news {
        output::warn(text);
    }
    if args.print {
        output::line(&format!(
            "// Copy napsh.wasm to {}, then add to the keybinds block of {}:",
            paths.wasm_file.display(),
            paths.config_file.display()
        ));
        output::line(&format!(
            "keybinds {{\n{}}}",
            keybinding_block(&args.key, &paths.wasm_file, &helper, "    ")
        ));
        return Ok(0);
    }
    let report = install(&paths, &args.key, &helper)?;
    if let ZellijNews::Fine(text) = &news {
        output::line(text);
    }
    output::line(&format!("plugin: {}", report.wasm_file.display()));
    if report.unchanged {
        output::line(&format!(
            "{} already binds {} to the picker: nothing to change",
            report.config_file.display(),
            args.key
        ));
    } else {
        if let Some(backup) = &report.backup {
            output::line(&format!("backup: {}", backup.display()));
        }
        output::line(&format!(
            "{}: {} opens the napsh picker (restart Zellij or open a new session)",
            report.config_file.display(),
            args.key
        ));
    }
    Ok(0)
}
