//! `napsh man`: the manual pages generated from the command line definition (clap_mangen):
//! napsh.1 on stdout, or napsh.1 plus one napsh-COMMAND.1 per command written into a
//! directory.

use crate::cli::{Cli, ManArgs};
use crate::output;
use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::Path;

/// Runs `napsh man`.
pub fn run(args: ManArgs) -> Result<i32> {
    let command = Cli::command();
    match args.dir {
        None => {
            let mut page = Vec::new();
            render(&command, &mut page)?;
            output::line(String::from_utf8_lossy(&page).trim_end());
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for written in write_pages(&command, &dir, "napsh")? {
                output::line(&written);
            }
        }
    }
    Ok(0)
}

/// Writes the page of `command` named `name` and, recursively, those of its subcommands;
/// returns the paths written.
fn write_pages(command: &clap::Command, dir: &Path, name: &str) -> Result<Vec<String>> {
    let command = command.clone().name(name.to_string());
    let path = dir.join(format!("{name}.1"));
    let mut page = Vec::new();
    render(&command, &mut page)?;
    std::fs::write(&path, &page).with_context(|| format!("writing {}", path.display()))?;
    let mut written = vec![path.display().to_string()];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_name = format!("{name}-{}", sub.get_name());
        written.extend(write_pages(sub, dir, &sub_name)?);
    }
    Ok(written)
}

/// One roff page.
fn render(command: &clap::Command, out: &mut Vec<u8>) -> Result<()> {
    clap_mangen::Man::new(command.clone())
        .render(out)
        .context("rendering the manual page")
}
