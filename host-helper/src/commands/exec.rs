//! `napsh exec`: one command on many devices at once, output prefixed per device, a summary,
//! exit 1 when any device failed (see `crate::ssh::fanout`).

use crate::app::App;
use crate::cli::ExecArgs;
use crate::napter::lease::duration;
use crate::output;
use crate::ssh::fanout::{self, Echo, Spec};
use anyhow::Result;
use napsh_core::fanout::OutputMode;

/// Runs `napsh exec`.
pub async fn run(app: &App, args: ExecArgs) -> Result<i32> {
    if let Some(dir) = &args.log_dir {
        crate::ssh::log_files::check_dir(dir)?;
    }
    let secs = duration(app, &args.mapping)?;
    let devices = fanout::select_devices(app, &args.targets).await?;
    let targets = fanout::targets(app, &devices, args.targets.user.as_deref(), &args.mapping)?;
    let spec = Spec {
        kind: "exec",
        command: args.command,
        input: None,
        echo: if args.json {
            Echo::Stderr
        } else {
            Echo::Stdout
        },
        output: if args.raw {
            OutputMode::Raw
        } else {
            OutputMode::Sanitized
        },
        log_dir: args.log_dir,
        parallel: usize::from(args.targets.parallel),
        secs,
    };
    let report = fanout::run(app, &targets, &spec).await?;
    if args.json {
        for f in &report.finished {
            output::json(&f.result);
        }
    }
    Ok(fanout::summarize(&targets, &report))
}
