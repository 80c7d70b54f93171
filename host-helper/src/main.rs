//! napsh: a shell on a device behind a Soracom SIM, through a Napter mapping, with the system
//! ssh and per-device pinned host keys. `main` only parses, dispatches and renders failures.

mod app;
mod cli;
mod commands;
mod config;
mod error;
mod napter;
mod output;
mod progress;
mod signals;
mod soracom;
mod ssh;
mod state;
mod zellij;

use clap::Parser;

fn main() {
    if ssh::askpass::invoked_as_askpass() {
        let prompt = std::env::args().nth(1).unwrap_or_default();
        std::process::exit(ssh::askpass::run_client(&prompt));
    }
    let cli = cli::Cli::parse();
    init_tracing(cli.verbose);
    let json = commands::wants_json(&cli.command);
    progress::init(json, cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::note(&format!("napsh: cannot start the async runtime: {e}"));
            std::process::exit(70);
        }
    };
    let code = match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            if json {
                output::json(&error::envelope(&err));
            } else {
                output::note(&format!("napsh: {}", error::one_line(&err)));
            }
            error::kind_of(&err).exit_code()
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    std::process::exit(code);
}

/// `-v` shows API requests, `-vv` details, `-vvv` everything (stderr; never secrets).
fn init_tracing(verbose: u8) {
    let filter = match verbose {
        0 => "off",
        1 => "napsh=info",
        2 => "napsh=debug",
        _ => "napsh=trace,reqwest=debug",
    };
    let filter = std::env::var("NAPSH_LOG").unwrap_or_else(|_| filter.to_string());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .try_init();
}
