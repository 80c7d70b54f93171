//! `napsh ssh` with resume on (`--resume`, config `resume`): the remote shell kept in tmux or
//! screen on the device, and the loop that keeps the terminal when the link drops — the status
//! line with its countdown, the mapping got back through the lease (a new one when the old one
//! expired, the old one given back), reconnection with backoff, and the end: the session's
//! own, a refusal, or Ctrl-C. The decisions are `napsh_core::resume`'s.

use crate::app::App;
use crate::cli::SshArgs;
use crate::error;
use crate::napter::lease::{Lease, Leases};
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::ssh::launch::{build_args, run_watched, Outcome, SshPlan};
use crate::ssh::pin_notice::PinWatch;
use crate::ssh::service::ServiceTarget;
use anyhow::{Context, Result};
use napsh_core::resume::{self as rules, Next, ResumeMode, StderrSigns};
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// This session's resume mode: `--resume` > config rule > config `resume` > off. Off for a
/// command or without a terminal (tmux and screen need one), with a warning when asked for.
pub fn mode_for(app: &App, args: &SshArgs, device: &Device) -> ResumeMode {
    let wanted = args
        .resume
        .or_else(|| app.config.settings_for(device).resume)
        .or(app.config.resume)
        .unwrap_or(ResumeMode::Off);
    if wanted == ResumeMode::Off {
        return ResumeMode::Off;
    }
    if !args.command.is_empty() || !std::io::stdin().is_terminal() {
        if args.resume.is_some_and(|m| m != ResumeMode::Off) {
            output::warn("--resume keeps an interactive shell: it does nothing with a command or without a terminal");
        }
        return ResumeMode::Off;
    }
    wanted
}

/// Puts the resumed shell into `plan`: the device's own shell, or the service's, inside the
/// tmux or screen session `mode` allows (the service is checked first, as without resume).
pub fn apply(plan: &mut SshPlan, mode: ResumeMode, target: Option<&ServiceTarget>) {
    plan.tty_for_command = true;
    plan.command = vec![match target {
        Some(t) => crate::ssh::service::resuming_script(t, mode),
        None => rules::remote_command(mode, rules::HOST_SESSION, None),
    }];
}

/// What a resumed session needs besides its plan: who holds the mapping, for which device
/// and port, and ssh's environment.
pub struct Resumer<'a> {
    /// The invocation.
    pub app: &'a App,
    /// The lease holder.
    pub leases: &'a Leases,
    /// The device.
    pub device: &'a Device,
    /// The device port.
    pub port: u16,
    /// ssh's extra environment (askpass).
    pub env: &'a [(String, String)],
}

/// How a resumed session ended, and the mapping it ended on (to release).
pub struct Resumed {
    /// The last ssh run's outcome (or the signal that ended the reconnecting).
    pub outcome: Result<Outcome>,
    /// The mapping held at the end.
    pub lease: Lease,
}

/// The session's moving parts: its ssh plan and its mapping (both change on a new mapping).
struct Held {
    /// The ssh invocation.
    plan: SshPlan,
    /// The mapping in use.
    lease: Lease,
}

impl Resumer<'_> {
    /// Runs the session through `lease`, reconnecting after link drops, until it ends.
    pub async fn run(&self, plan: SshPlan, lease: Lease, signals: &mut Signals) -> Resumed {
        let mut held = Held { plan, lease };
        let outcome = match Marker::new() {
            Ok(marker) => {
                held.plan.marker = Some(marker.path());
                self.drive(&mut held, &marker, signals).await
            }
            Err(e) => Err(e),
        };
        Resumed {
            outcome,
            lease: held.lease,
        }
    }

    /// Runs ssh, and again after each lost link, until the session is over.
    async fn drive(
        &self,
        held: &mut Held,
        marker: &Marker,
        signals: &mut Signals,
    ) -> Result<Outcome> {
        let (mut attempt, mut up_once) = (0u32, false);
        loop {
            marker.clear();
            let quiet = (attempt > 0).then(|| marker.path());
            let args = build_args(&held.plan);
            let label = for_terminal(self.device.label());
            let pin = PinWatch::start(&held.plan, &label);
            let watched = run_watched(&args, self.env, signals, quiet.as_deref()).await;
            pin.finish();
            let (outcome, watched) = watched?;
            let up = marker.exists();
            up_once |= up;
            let end = rules::classify(outcome.code, outcome.signal, StderrSigns::of(&watched.tail));
            tracing::info!(?end, up, attempt, code = outcome.code, "ssh ended");
            match rules::after_run(end, up, up_once, outcome.signal.is_some(), attempt) {
                Next::Done => {
                    if attempt > 0 && !up {
                        // A refused reconnect: show why (held back while connecting).
                        let _ = std::io::stderr().write_all(&watched.held);
                        reset_terminal();
                    }
                    return Ok(outcome);
                }
                Next::Reconnect(n) => attempt = n,
            }
            match self.reconnect(held, &mut attempt, signals).await {
                Ok(None) => {}
                other => {
                    reset_terminal();
                    return other.map(|gave_up| gave_up.unwrap_or(outcome));
                }
            }
        }
    }

    /// Waits out the backoff (the status line counting down), then gets the mapping back
    /// through the lease, as long as that fails in a passing way. `Ok(None)`: run ssh again;
    /// `Ok(Some(outcome))`: a signal ended it (the mapping is released by the caller).
    async fn reconnect(
        &self,
        held: &mut Held,
        attempt: &mut u32,
        signals: &mut Signals,
    ) -> Result<Option<Outcome>> {
        loop {
            if let Some(sig) = self.countdown(*attempt, signals).await {
                return Ok(Some(interrupted(sig)));
            }
            discard_typed_input();
            let acquired = self
                .leases
                .acquire_or_signal(self.app, self.device, self.port, signals)
                .await;
            match acquired {
                Ok(Ok(lease)) => {
                    self.switch(held, lease).await;
                    return Ok(None);
                }
                Ok(Err(e)) if rules::retry_after(error::kind_of(&e)) => {
                    tracing::info!(error = %error::one_line(&e), "getting the mapping back failed; trying again");
                    *attempt = attempt.saturating_add(1);
                }
                Ok(Err(e)) => return Err(e),
                Err(code) => return Ok(Some(interrupted(code - 128))),
            }
        }
    }

    /// Shows the status line for `attempt`, counting its backoff down; the signal that
    /// interrupted the wait, if one did.
    async fn countdown(&self, attempt: u32, signals: &mut Signals) -> Option<i32> {
        let label = for_terminal(self.device.label());
        let mut left = rules::backoff_secs(attempt);
        if attempt == 1 {
            status("\r\n");
        }
        loop {
            status(&format!(
                "\r\x1b[Knapsh: {}",
                rules::status_line(&label, attempt, left)
            ));
            if left == 0 {
                return None;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => left -= 1,
                sig = signals.recv() => return Some(sig),
            }
        }
    }

    /// Uses `lease` from now on; a different mapping than before means the old one is given
    /// back (deleted when it still leads to the device, forgotten when it expired).
    async fn switch(&self, held: &mut Held, lease: Lease) {
        let (old, new) = (&held.lease.mapping, &lease.mapping);
        if (&old.ip_address, old.port) != (&new.ip_address, new.port) {
            tracing::info!(old = %old.ip_address, old_port = old.port, new = %new.ip_address, new_port = new.port, "reconnecting through a new mapping");
            self.leases.release(&held.lease, false).await;
            held.plan.ip = new.ip_address.clone();
            held.plan.port = new.port;
        }
        held.lease = lease;
    }
}

/// The outcome of a session given up by signal `sig`.
fn interrupted(sig: i32) -> Outcome {
    Outcome {
        code: exit_code(sig),
        host_key_failed: false,
        signal: Some(sig),
    }
}

/// Writes status text on stderr (never fails: the terminal may be gone).
fn status(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|_| err.flush());
}

/// After giving up on a session whose remote tmux held the terminal: back to a plain screen.
fn reset_terminal() {
    if std::io::stdout().is_terminal() {
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all(rules::TERMINAL_RESET.as_bytes())
            .and_then(|_| out.flush());
    }
    status("\r\n");
}

/// Drops what was typed into the dead link, so that it is not run blind on reconnecting.
fn discard_typed_input() {
    if std::io::stdin().is_terminal() {
        // SAFETY: tcflush(2) on our own standard input.
        unsafe { libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH) };
    }
}

/// The file ssh's `LocalCommand` creates once it has authenticated (so napsh knows the
/// session came up), in a private temporary directory removed on drop.
struct Marker {
    /// The directory (0700).
    dir: tempfile::TempDir,
}

impl Marker {
    /// A fresh marker directory under a temp dir whose path ssh's `LocalCommand` expansion
    /// leaves alone (else under /tmp).
    fn new() -> Result<Self> {
        let base = std::env::temp_dir();
        let plain = base.to_str().is_some_and(|p| {
            p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
        });
        let base = if plain { base } else { PathBuf::from("/tmp") };
        let dir = tempfile::Builder::new()
            .prefix("napsh-resume-")
            .tempdir_in(&base)
            .with_context(|| format!("creating a private directory in {}", base.display()))?;
        Ok(Marker { dir })
    }

    /// The marker file.
    fn path(&self) -> PathBuf {
        self.dir.path().join("up")
    }

    /// Removes it before a new ssh run.
    fn clear(&self) {
        let _ = std::fs::remove_file(self.path());
    }

    /// Whether the last ssh run authenticated.
    fn exists(&self) -> bool {
        self.path().exists()
    }
}
