//! `napsh proxy DEVICE PORT`: a byte pipe between stdin/stdout and a mapping of the device
//! port, for ssh's ProxyCommand. stdout carries the device's bytes and nothing else; every
//! message goes to stderr. The mapping is released (deleted when napsh created it for this
//! pipe) when the pipe ends or ssh hangs up. Each run is one `proxy` entry of the session
//! journal (device port, mapping, how it ended).

use super::reach::lifetime;
use crate::app::App;
use crate::cli::reach::ProxyArgs;
use crate::error::{self, NapshError};
use crate::napter::lease::Leases;
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::state::journal::Record;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long connecting to the mapping may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `napsh proxy`.
pub async fn run(app: &App, args: ProxyArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    // ssh records a first-use host key in napsh's known_hosts: its directory must exist.
    crate::state::paths::ensure_private_dir(&app.dirs.data)?;
    crate::ssh::known_hosts::ensure_private(&app.dirs.known_hosts())?;
    let device = crate::napter::devices::resolve_all(app, &[args.device.as_str()])
        .await?
        .remove(0);
    let session = Leases::start(app, lifetime(app, args.duration)?).await?;
    let mut record = Record::begin(&app.dirs.state, "proxy", &device);
    record.port(args.port);
    record.source(&session.source);
    let ensured = match session
        .acquire_or_signal(app, &device, args.port, &mut signals)
        .await
    {
        Ok(Ok(ensured)) => ensured,
        Ok(Err(e)) => {
            record.fail(&e);
            return Err(e);
        }
        Err(code) => {
            record.interrupted();
            return Ok(code);
        }
    };
    record.mapping(&ensured.mapping, ensured.reused);
    let (ip, port) = (ensured.mapping.ip_address.clone(), ensured.mapping.port);
    tracing::info!(%ip, port, reused = ensured.reused, "piping through the mapping");
    let piping = tokio::task::spawn_blocking(move || {
        let sock = connect(&ip, port)?;
        crate::ssh::forward::pipe_stdio(sock)
    });
    let ended = tokio::select! {
        done = piping => match done.context("the pipe thread failed") {
            Ok(Ok(moved)) => {
                tracing::info!(up = moved.up, down = moved.down, "pipe ended");
                Ended::Exit(0)
            }
            Ok(Err(e)) | Err(e) => {
                output::note(&format!("napsh proxy: {}: {}", for_terminal(device.label()), error::one_line(&e)));
                Ended::Failed(e)
            }
        },
        // ssh ends its ProxyCommand with SIGHUP once the session is over: a normal end.
        sig = signals.recv() => match sig {
            libc::SIGHUP => Ended::Exit(0),
            sig => Ended::Signal(sig),
        },
    };
    session.release(&ensured, args.keep).await;
    Ok(ended.record(record))
}

/// How the pipe ended.
enum Ended {
    /// The device closed, or ssh hung up (SIGHUP): napsh exits with this code.
    Exit(i32),
    /// The pipe could not be set up or broke.
    Failed(anyhow::Error),
    /// Another signal (SIGINT, SIGTERM) stopped it.
    Signal(i32),
}

impl Ended {
    /// Writes the journal entry; the exit code of `napsh proxy`.
    fn record(self, record: Record) -> i32 {
        match self {
            Ended::Exit(code) => {
                record.exit(code);
                code
            }
            Ended::Failed(e) => {
                record.fail(&e);
                error::kind_of(&e).exit_code()
            }
            Ended::Signal(sig) => {
                record.interrupted();
                exit_code(sig)
            }
        }
    }
}

/// Connects to the mapping endpoint (blocking, bounded by [`CONNECT_TIMEOUT`]).
fn connect(ip: &str, port: u16) -> Result<TcpStream> {
    let addr: SocketAddr = (ip, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            NapshError::new(
                ErrorKind::Network,
                format!(
                    "the mapping address {}:{port} is not an address",
                    for_terminal(ip)
                ),
            )
        })?;
    let sock = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| {
        NapshError::new(
            ErrorKind::Network,
            format!("cannot connect to the mapping {addr}: {e}"),
        )
        .hint("your address may no longer match the mapping's source range (set source_cidr)")
    })?;
    // A link that stops carrying packets ends the proxy (and so ssh) within 20 s.
    crate::ssh::forward::watch_link(&sock)?;
    Ok(sock)
}
