//! Running one command on many devices at once (`napsh exec`, `napsh keys`): mappings ensured
//! concurrently (at most `parallel` devices at a time), one non-interactive ssh per device,
//! output prefixed line by line, optional per-device log files, every mapping released when
//! its device is done, Ctrl-C / SIGTERM / SIGHUP ending every ssh and still cleaning up, one
//! journal entry per device.

use crate::app::App;
use crate::cli::{MappingOpts, TargetArgs};
use crate::config::{fetch_password, PasswordSource};
use crate::error;
use crate::error::NapshError;
use crate::napter::lease::{Lease, Leases};
use crate::signals::Signals;
use crate::ssh::askpass::{askpass_env, Password};
use crate::ssh::first_contact::FirstContact;
use crate::ssh::launch::{build_args, run_piped, Sinks};
use crate::ssh::log_files;
use crate::ssh::verdict::connect_failure;
use crate::state::journal::Record;
use anyhow::Result;
use napsh_core::fanout::{
    exit_code, labels, log_file_stem, prefixed_line, prefixed_line_in, prefixes, short_reason,
    summary, ExecResult, LabelSource, LineSplitter, OutputMode,
};
use napsh_core::messages::ErrorKind;
use napsh_core::targets::{parse_tag, select, SelectError, Selector};
use napsh_core::Device;
use std::io::Write;
use std::path::PathBuf;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// One device to run on.
pub struct Target {
    /// The device.
    pub device: Device,
    /// Its display label (sanitised, unique among the targets).
    pub label: String,
    /// `[label]` prefix, padded to the widest label, for its output lines.
    pub prefix: String,
    /// Remote user.
    pub user: String,
    /// Device port.
    pub port: u16,
    /// The configured password, fetched before any mapping exists, with its gate.
    pub password: Option<Password>,
}

/// Where a device's remote stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Prefixed, to napsh's stdout.
    Stdout,
    /// Prefixed, to napsh's stderr (stdout carries JSON).
    Stderr,
    /// Only kept for the caller (`Finished::stdout`), not shown.
    Capture,
}

/// What to run and how.
pub struct Spec {
    /// Journal kind (`exec`, `keys-push`…).
    pub kind: &'static str,
    /// The remote command line.
    pub command: Vec<String>,
    /// Bytes for the remote command's stdin (none: stdin is closed at once).
    pub input: Option<Vec<u8>>,
    /// Where remote stdout goes (remote stderr always goes, prefixed, to stderr).
    pub echo: Echo,
    /// How device output is shown: sanitised (default) or byte for byte (`--raw`).
    pub output: OutputMode,
    /// Directory for `<device>.stdout` / `<device>.stderr` files.
    pub log_dir: Option<PathBuf>,
    /// Devices in flight at once.
    pub parallel: usize,
    /// Mapping lifetime of new mappings, seconds.
    pub secs: u64,
}

/// How one device ended.
pub struct Finished {
    /// The result as `--json` prints it.
    pub result: ExecResult,
    /// Remote stdout, with [`Echo::Capture`].
    pub stdout: Vec<u8>,
}

/// Every device's end, in target order, and the signal that interrupted the run, if any.
pub struct Report {
    /// Per target.
    pub finished: Vec<Finished>,
    /// SIGINT/SIGTERM/SIGHUP received while running.
    pub signal: Option<i32>,
}

/// Builds the targets: labels and prefixes, user and port per device, and each distinct
/// configured password fetched once (each gated on its device's pin).
pub fn targets(
    app: &App,
    devices: &[Device],
    user: Option<&str>,
    opts: &MappingOpts,
) -> Result<Vec<Target>> {
    let sources: Vec<LabelSource> = devices
        .iter()
        .map(|d| LabelSource {
            name: &d.name,
            sim_id: &d.sim_id,
        })
        .collect();
    let labels = labels(&sources);
    let prefixes = prefixes(&labels);
    let mut fetched: Vec<(PasswordSource, String)> = Vec::new();
    let mut out = Vec::new();
    for ((device, prefix), label) in devices.iter().zip(prefixes).zip(labels) {
        let password = match app.config.settings_for(device).password {
            Some(source) => Some(Password {
                secret: password_once(&mut fetched, source)?,
                gate: FirstContact::for_device(app, device)?,
            }),
            None => None,
        };
        out.push(Target {
            user: app.config.user_for(user, device),
            port: crate::napter::lease::device_port(app, opts, device),
            device: device.clone(),
            label,
            prefix,
            password,
        });
    }
    Ok(out)
}

/// The devices the arguments select, from a fresh device list (one listing of SIMs and
/// mappings, which the mapping step then reuses instead of asking per device).
pub async fn select_devices(app: &App, t: &TargetArgs) -> Result<Vec<Device>> {
    let selector = match (t.all, &t.tag, &t.group) {
        (true, _, _) => Selector::All,
        (_, Some(tag), _) => parse_tag(tag).map_err(NapshError::config)?,
        (_, _, Some(group)) => Selector::Group(group.clone()),
        _ => Selector::Names(t.devices.clone()),
    };
    let list = crate::napter::devices::list(app, true, false).await?;
    let all: Vec<Device> = list.entries.into_iter().map(|e| e.device).collect();
    match select(&all, &selector, t.online) {
        Ok(picked) => Ok(picked.into_iter().cloned().collect()),
        Err(SelectError::Resolve(e)) => Err(crate::napter::devices::resolve_error(e)),
        Err(
            e @ SelectError::Nothing {
                online_filtered, ..
            },
        ) => {
            let kind = if online_filtered {
                ErrorKind::Offline
            } else {
                ErrorKind::UnknownDevice
            };
            Err(NapshError::new(kind, e.to_string()).into())
        }
    }
}

/// Prints the summary line on stderr; returns the exit code: the signal's when interrupted,
/// else 0 when every device succeeded and 1 otherwise.
pub fn summarize(targets: &[Target], report: &Report) -> i32 {
    let labels: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
    let results: Vec<ExecResult> = report.finished.iter().map(|f| f.result.clone()).collect();
    crate::output::note(&format!("napsh: {}", summary(&labels, &results)));
    match report.signal {
        Some(sig) => crate::signals::exit_code(sig),
        None => exit_code(&results),
    }
}

/// The password of `source`, running its command only the first time.
fn password_once(
    fetched: &mut Vec<(PasswordSource, String)>,
    source: PasswordSource,
) -> Result<String> {
    if let Some((_, pw)) = fetched.iter().find(|(s, _)| *s == source) {
        return Ok(pw.clone());
    }
    let pw = fetch_password(&source)?;
    fetched.push((source, pw.clone()));
    Ok(pw)
}

/// Runs `spec` on every target; returns when every device is done and its mapping released.
pub async fn run(app: &App, targets: &[Target], spec: &Spec) -> Result<Report> {
    let mut signals = Signals::install()?;
    // napsh's known_hosts lives there: ssh pins a first-seen host key only if it can write it.
    crate::state::paths::ensure_private_dir(&app.dirs.data)?;
    if let Some(dir) = &spec.log_dir {
        log_files::check_dir(dir)?;
        crate::state::paths::ensure_private_dir(dir)?;
    }
    let leases = Leases::start(app, spec.secs).await?;
    let ctx = Ctx {
        app,
        leases,
        cancel: CancellationToken::new(),
        slots: Semaphore::new(spec.parallel.max(1)),
        spec,
    };
    let all = futures_util::future::join_all(targets.iter().map(|t| ctx.run_one(t)));
    tokio::pin!(all);
    let mut signal = None;
    let finished = loop {
        tokio::select! {
            done = &mut all => break done,
            sig = signals.recv() => {
                tracing::info!(sig, "interrupted: ending every device's ssh");
                signal.get_or_insert(sig);
                ctx.cancel.cancel();
            }
        }
    };
    Ok(Report { finished, signal })
}

/// How a device's attempt ended.
enum Verdict {
    /// The remote command ran and exited with this code.
    Exited(i32),
    /// napsh could not run it (and ssh's code, when ssh ran).
    Failed(anyhow::Error, Option<i32>),
    /// Ctrl-C or SIGTERM ended it.
    Interrupted,
}

/// Everything the device tasks share.
struct Ctx<'a> {
    /// The invocation.
    app: &'a App,
    /// Client, source range and owner of this process's mappings.
    leases: Leases,
    /// Fired by a signal.
    cancel: CancellationToken,
    /// Bounds the devices in flight.
    slots: Semaphore,
    /// What to run.
    spec: &'a Spec,
}

impl Ctx<'_> {
    /// Runs on one device and records it in the journal.
    async fn run_one(&self, target: &Target) -> Finished {
        let mut record = Record::begin(&self.app.dirs.state, self.spec.kind, &target.device);
        record.source(&self.leases.source);
        let mut stdout = Vec::new();
        let verdict = self.attempt(target, &mut record, &mut stdout).await;
        Finished {
            result: self.conclude(target, verdict, record),
            stdout,
        }
    }

    /// Waits for a slot, ensures the mapping, runs ssh, releases the mapping.
    async fn attempt(&self, target: &Target, record: &mut Record, stdout: &mut Vec<u8>) -> Verdict {
        let slot = tokio::select! {
            slot = self.slots.acquire() => slot.ok(),
            _ = self.cancel.cancelled() => None,
        };
        if slot.is_none() || self.cancel.is_cancelled() {
            return Verdict::Interrupted;
        }
        let ensured = self
            .leases
            .acquire_session(self.app, &target.device, target.port)
            .await;
        let ensured = match ensured {
            Ok(e) => e,
            Err(e) => return Verdict::Failed(e, None),
        };
        record.mapping(&ensured.mapping, ensured.reused);
        let verdict = if self.cancel.is_cancelled() {
            Verdict::Interrupted
        } else {
            self.ssh(target, &ensured, stdout).await
        };
        self.leases.release(&ensured, false).await;
        verdict
    }

    /// One piped ssh through `ensured`.
    async fn ssh(&self, target: &Target, ensured: &Lease, captured: &mut Vec<u8>) -> Verdict {
        let (askpass, env) = match askpass_env(target.password.clone()) {
            Ok(a) => a,
            Err(e) => return Verdict::Failed(e, None),
        };
        let (out_log, err_log) = match self.log_files(&target.device) {
            Ok(files) => files,
            Err(e) => return Verdict::Failed(e, None),
        };
        let plan = crate::ssh::plan::plan(
            self.app,
            ensured,
            &target.device,
            &target.user,
            &[],
            &self.spec.command,
            false,
        );
        let mode = self.spec.output;
        let mut out = LineSink {
            prefix: &target.prefix,
            echo: self.spec.echo,
            mode,
            log: out_log,
            capture: (self.spec.echo == Echo::Capture).then_some(captured),
            splitter: LineSplitter::for_mode(mode),
        };
        let mut err = LineSink {
            prefix: &target.prefix,
            echo: Echo::Stderr,
            mode,
            log: err_log,
            capture: None,
            splitter: LineSplitter::for_mode(mode),
        };
        let outcome = run_piped(
            &build_args(&plan),
            &env,
            self.spec.input.as_deref(),
            Sinks {
                stdout: &mut |b: &[u8]| out.push(b),
                stderr: &mut |b: &[u8]| err.push(b),
            },
            &self.cancel,
        )
        .await;
        out.finish();
        err.finish();
        drop(askpass);
        match outcome {
            Err(e) => Verdict::Failed(e, None),
            Ok(_) if self.cancel.is_cancelled() => Verdict::Interrupted,
            Ok(o) if o.code == 255 => Verdict::Failed(
                connect_failure(
                    self.app,
                    &self.leases.client,
                    &target.device,
                    o.host_key_failed,
                )
                .await,
                Some(255),
            ),
            Ok(o) => Verdict::Exited(o.code),
        }
    }

    /// The device's log files (new, 0600, never through a link), with `--log-dir`.
    fn log_files(&self, device: &Device) -> Result<(Option<std::fs::File>, Option<std::fs::File>)> {
        let Some(dir) = &self.spec.log_dir else {
            return Ok((None, None));
        };
        let stem = log_file_stem(&device.name, &device.sim_id);
        let open = |ext: &str| log_files::create(dir, &format!("{stem}.{ext}"));
        Ok((Some(open("stdout")?), Some(open("stderr")?)))
    }

    /// The result line of a device, its journal entry and the last-failure record.
    fn conclude(&self, target: &Target, verdict: Verdict, record: Record) -> ExecResult {
        let d = &target.device;
        let mut result = ExecResult {
            name: d.name.clone(),
            sim_id: d.sim_id.clone(),
            ok: false,
            exit_code: None,
            reason: None,
            error_kind: None,
        };
        match verdict {
            Verdict::Exited(code) => {
                record.exit(code);
                crate::state::failures::record(&self.app.dirs.state, &d.sim_id, None);
                result.ok = code == 0;
                result.exit_code = Some(code);
                result.reason = (code != 0).then(|| format!("exit {code}"));
            }
            Verdict::Failed(err, code) => {
                let info = error::info(&err);
                record.fail_kind(info.kind, code);
                crate::state::failures::record(
                    &self.app.dirs.state,
                    &d.sim_id,
                    Some(&info.message),
                );
                write_to(
                    Echo::Stderr,
                    &prefixed_line(
                        &target.prefix,
                        format!("napsh: {}", info.message).as_bytes(),
                    ),
                );
                result.reason = Some(short_reason(info.kind).to_string());
                result.error_kind = Some(info.kind);
            }
            Verdict::Interrupted => {
                record.interrupted();
                result.reason = Some("interrupted".into());
            }
        }
        result
    }
}

/// One output stream of one device: split into lines, prefixed, echoed, logged, captured.
struct LineSink<'a> {
    /// `[label] `.
    prefix: &'a str,
    /// Where prefixed lines go.
    echo: Echo,
    /// Sanitised or raw.
    mode: OutputMode,
    /// Raw copy for `--log-dir`.
    log: Option<std::fs::File>,
    /// Raw copy for the caller.
    capture: Option<&'a mut Vec<u8>>,
    /// Pending partial line.
    splitter: LineSplitter,
}

impl LineSink<'_> {
    /// Takes a chunk of the stream.
    fn push(&mut self, bytes: &[u8]) {
        if let Some(log) = self.log.as_mut() {
            if let Err(e) = log.write_all(bytes) {
                tracing::warn!(error = %e, "writing a device log file");
            }
        }
        if let Some(c) = self.capture.as_mut() {
            c.extend_from_slice(bytes);
        }
        if self.echo != Echo::Capture {
            for line in self.splitter.push(bytes) {
                write_to(self.echo, &prefixed_line_in(self.mode, self.prefix, &line));
            }
        }
    }

    /// End of stream: the unterminated last line, if any, gets its prefix and a newline.
    fn finish(&mut self) {
        if let Some(rest) = self.splitter.finish() {
            write_to(self.echo, &prefixed_line_in(self.mode, self.prefix, &rest));
        }
    }
}

/// Writes a whole buffer in one call (lines of devices never interleave); a closed stream is
/// ignored so that cleanup still happens.
fn write_to(echo: Echo, bytes: &[u8]) {
    let _ = match echo {
        Echo::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|_| out.flush())
        }
        Echo::Stderr => {
            let mut err = std::io::stderr().lock();
            err.write_all(bytes).and_then(|_| err.flush())
        }
        Echo::Capture => Ok(()),
    };
}
