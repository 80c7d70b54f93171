//! The `napsh-emulator` binary: parse flags, start the emulator, print the ready line,
//! run until SIGINT/SIGTERM/SIGHUP, then kill every sshd.

use anyhow::Context;
use clap::Parser;
use napsh_emulator::fleet::Generate;
use napsh_emulator::{Emulator, EmulatorConfig, Fleet, LatencyConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The demo fleet, used when no `--fleet` is given.
const DEMO_FLEET: &str = include_str!("../../demo/fleet.toml");

/// Soracom API + Napter emulator with real sshd devices.
#[derive(Debug, Parser)]
#[command(name = "napsh-emulator", version, about)]
struct Cli {
    /// Fleet file (TOML, see docs/DESIGN.md); without it, the embedded demo fleet
    /// (demo/fleet.toml: a dozen devices, credential keyId-demo / secret-demo-0123456789).
    #[arg(long, value_name = "FILE")]
    fleet: Option<PathBuf>,
    /// Public key file every spawned device accepts (overrides the fleet's `[ssh]
    /// authorized_keys`).
    #[arg(long, value_name = "FILE")]
    authorized_keys: Option<PathBuf>,
    /// API listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Work directory (per-device sshd files, ready.json); a temp dir when absent.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// Add N synthetic devices (overrides the fleet's [generate] count).
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// Default latency added to every /v1 call, in milliseconds.
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Drift mode: every answer valid per the spec but perturbed like a drifting API
    /// (unknown fields, floats for `number`s, informational fields missing or reshaped).
    #[arg(long)]
    drift: bool,
    /// More logging on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let fleet = load_fleet(&cli)?;
    let emu = Emulator::start(EmulatorConfig {
        fleet,
        listen: cli.listen,
        work_dir: cli.work_dir.clone(),
    })
    .await
    .context("starting the emulator")?;
    if let Some(ms) = cli.latency_ms {
        emu.set_latency(LatencyConfig {
            default_ms: ms,
            ..Default::default()
        });
    }
    emu.set_drift(cli.drift);
    let signals = Signals::install()?;
    announce(&emu, cli.work_dir.as_deref())?;
    signals.wait().await;
    tracing::info!("shutting down");
    emu.shutdown().await;
    Ok(())
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn load_fleet(cli: &Cli) -> anyhow::Result<Fleet> {
    let mut fleet = match &cli.fleet {
        Some(path) => Fleet::load(path)?,
        None => Fleet::from_toml_str(DEMO_FLEET).context("parsing the embedded demo fleet")?,
    };
    if let Some(keys) = &cli.authorized_keys {
        anyhow::ensure!(
            keys.is_file(),
            "--authorized-keys {}: no such file",
            keys.display()
        );
        fleet.ssh.authorized_keys = Some(keys.clone());
    }
    if let Some(count) = cli.generate {
        let online_ratio = fleet.generate.as_ref().map_or(0.7, |g| g.online_ratio);
        fleet.generate = Some(Generate {
            count,
            online_ratio,
        });
    }
    Ok(fleet)
}

/// Prints the one-line ready JSON on stdout and writes `<work-dir>/ready.json`.
fn announce(emu: &Emulator, work_dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let line = serde_json::to_string(&emu.ready_info()).context("serialising ready line")?;
    if let Some(dir) = work_dir {
        let path = dir.join("ready.json");
        std::fs::write(&path, format!("{line}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing ready line")?;
    out.flush().context("flushing stdout")
}

/// SIGINT/SIGTERM/SIGHUP handlers, installed before the ready line so that a supervisor may
/// signal as soon as it has read it. SIGHUP (the demo's terminal closed) also stops every sshd
/// instead of killing the emulator without.
struct Signals {
    /// SIGTERM stream.
    term: tokio::signal::unix::Signal,
    /// SIGINT stream.
    int: tokio::signal::unix::Signal,
    /// SIGHUP stream.
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing SIGHUP handler")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fleet `napsh-emulator` runs without `--fleet` (and so scripts/demo.sh): it parses,
    /// and holds what the demo's welcome text and profile rely on.
    #[test]
    fn the_embedded_demo_fleet_parses() {
        let fleet = load_fleet(&Cli::parse_from(["napsh-emulator"])).expect("the demo fleet");
        assert!(fleet.devices.len() >= 12, "{} devices", fleet.devices.len());
        let names: Vec<&str> = fleet.devices.iter().map(|d| d.name.as_str()).collect();
        for name in ["kiosk-osaka-01", "gateway-factory-a"] {
            assert!(
                names.contains(&name),
                "the welcome text names {name}: {names:?}"
            );
        }
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "duplicate names: {names:?}");
        assert!(
            fleet.devices.iter().any(|d| !d.online),
            "an offline device shows the guide"
        );
        assert!(
            fleet
                .devices
                .iter()
                .any(|d| d.online && d.ssh.as_deref() == Some("spawn")),
            "an online device with a real sshd"
        );
        assert!(fleet.credentials.iter().any(|c| {
            c.auth_key_id.as_deref() == Some("keyId-demo")
                && c.auth_key.as_deref() == Some("secret-demo-0123456789")
        }));
    }
}
