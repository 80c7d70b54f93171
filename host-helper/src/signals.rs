//! The signals that end a session (SIGINT, SIGHUP from a closed pane, SIGTERM): caught
//! while napsh works so that it can let ssh finish and delete the mapping before exiting.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Registered handlers for the three signals.
pub struct Signals {
    /// SIGINT.
    int: Signal,
    /// SIGHUP.
    hup: Signal,
    /// SIGTERM.
    term: Signal,
}

impl Signals {
    /// Installs the handlers (from now on the signals no longer kill napsh).
    pub fn install() -> Result<Self> {
        let mk = |k: SignalKind| signal(k).context("installing a signal handler");
        Ok(Signals {
            int: mk(SignalKind::interrupt())?,
            hup: mk(SignalKind::hangup())?,
            term: mk(SignalKind::terminate())?,
        })
    }

    /// Waits for the next signal; returns its number.
    pub async fn recv(&mut self) -> i32 {
        tokio::select! {
            _ = self.int.recv() => libc::SIGINT,
            _ = self.hup.recv() => libc::SIGHUP,
            _ = self.term.recv() => libc::SIGTERM,
        }
    }
}

/// The conventional exit code for death by `signal`.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}
