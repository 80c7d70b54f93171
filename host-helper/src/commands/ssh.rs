//! `napsh ssh`: ensure a mapping, run the system ssh with the pinned host key (reconnecting
//! after link drops when the session resumes: `ssh::resume`), and delete the mapping when the
//! session ends — normally, on Ctrl-C, on a closed terminal or SIGTERM.

use super::guide_for;
use crate::app::App;
use crate::cli::SshArgs;
use crate::error::{self, NapshError};
use crate::napter::lease::{device_port, duration, Lease, Leases, Released};
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::ssh::askpass::{askpass_env, password_for};
use crate::ssh::launch::{Outcome, SshPlan};
use crate::ssh::resume::Resumer;
use crate::ssh::service::ServiceTarget;
use crate::ssh::verdict::connect_failure;
use crate::state::journal::Record;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::resolve::split_user;
use napsh_core::resume::ResumeMode;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;

/// Runs `napsh ssh`.
pub async fn run(app: &App, args: SshArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let (user_at, name) = split_user(&args.target);
    let service = crate::ssh::service::requested(args.service.as_deref())?;
    if let Some(lan) = napsh_core::lan::parse_target(name) {
        return super::ssh_lan::run(app, &args, user_at, lan, service, signals).await;
    }
    let device = crate::napter::devices::resolve_all(app, &[name])
        .await?
        .remove(0);
    let user = app
        .config
        .user_for(user_at.or(args.user.as_deref()), &device);
    let port = device_port(app, &args.mapping, &device);
    // Everything that can fail locally happens before a mapping exists.
    let (askpass, env) = askpass_env(password_for(app, &device)?)?;
    crate::state::paths::ensure_private_dir(&app.dirs.data)?;
    let leases = Leases::start(app, duration(app, &args.mapping)?).await?;
    let record = Record::begin(&app.dirs.state, "ssh", &device);
    let (lease, mut record) =
        match acquire(app, &leases, &device, port, &user, &mut signals, record).await {
            Ok(held) => held,
            Err(code) => return Ok(code),
        };
    record.mapping(&lease.mapping, lease.reused);
    crate::state::failures::record(&app.dirs.state, &device.sim_id, None);
    let session = Session {
        app,
        args: &args,
        device: &device,
        user: &user,
        port,
        leases: &leases,
        env: &env,
    };
    let (outcome, lease, plan, target) = session.launch(lease, service, &mut signals).await;
    drop(askpass);
    session.end(outcome, &lease, &plan, target, record).await
}

/// One `napsh ssh` session once its mapping is held.
struct Session<'a> {
    /// The invocation.
    app: &'a App,
    /// The command line.
    args: &'a SshArgs,
    /// The device.
    device: &'a Device,
    /// Remote user.
    user: &'a str,
    /// Device port.
    port: u16,
    /// The lease holder.
    leases: &'a Leases,
    /// ssh's extra environment (askpass).
    env: &'a [(String, String)],
}

impl Session<'_> {
    /// Runs ssh through `lease` (resumed, reconnecting after link drops, when the session's
    /// resume mode says): its outcome, the mapping it ended on, and the plan and service
    /// target (pointing at that mapping).
    async fn launch(
        &self,
        lease: Lease,
        service: Option<String>,
        signals: &mut Signals,
    ) -> (Result<Outcome>, Lease, SshPlan, Option<ServiceTarget>) {
        let (app, device) = (self.app, self.device);
        let resume = crate::ssh::resume::mode_for(app, self.args, device);
        let endpoint = crate::ssh::plan::Destination::mapped(&lease, device);
        let user = self.user.to_string();
        let (mut plan, target) =
            crate::ssh::plan::for_ssh_args(app, self.args, device, endpoint, user, service, resume);
        let (outcome, lease) = match resume {
            ResumeMode::Off => {
                let label = for_terminal(device.label());
                let outcome = crate::ssh::pin_notice::run(&plan, &label, self.env, signals).await;
                (outcome, lease)
            }
            _ => {
                let resumer = Resumer {
                    app,
                    leases: self.leases,
                    device,
                    port: self.port,
                    env: self.env,
                };
                let resumed = resumer.run(plan.clone(), lease, signals).await;
                (resumed.outcome, resumed.lease)
            }
        };
        plan.ip.clone_from(&lease.mapping.ip_address);
        plan.port = lease.mapping.port;
        (outcome, lease, plan, target)
    }

    /// After ssh: explains a missing service (while the mapping still exists), gives the
    /// mapping back, and concludes with the exit code.
    async fn end(
        &self,
        outcome: Result<Outcome>,
        lease: &Lease,
        plan: &SshPlan,
        target: Option<ServiceTarget>,
        record: Record,
    ) -> Result<i32> {
        let (app, device) = (self.app, self.device);
        let missing = match (&target, &outcome) {
            (Some(t), Ok(o)) if o.code == napsh_core::service::MISSING_EXIT => {
                let password = app.config.settings_for(device).password;
                let label = for_terminal(device.label());
                let name = split_user(&self.args.target).1;
                crate::ssh::service::explain_missing(plan, t, password.as_ref(), &label, name).await
            }
            _ => None,
        };
        let released = self.leases.release(lease, self.args.keep).await;
        if let Some(err) = missing {
            return Err(service_missing(app, device, err));
        }
        let ended = Ended {
            app,
            leases: self.leases,
            device,
            port: self.port,
            user: self.user,
            lease,
            released,
        };
        ended.conclude(outcome, record).await
    }
}

/// Acquires the device's mapping behind a spinner; a failure (with the guide) or an
/// interruption is journaled and `Err` carries the exit code.
async fn acquire(
    app: &App,
    leases: &Leases,
    device: &Device,
    port: u16,
    user: &str,
    signals: &mut Signals,
    mut record: Record,
) -> std::result::Result<(Lease, Record), i32> {
    record.source(&leases.source);
    let label = for_terminal(device.label());
    let spinner = crate::progress::Spinner::start(format!("opening a Napter mapping to {label}…"));
    let acquired = leases.acquire_or_signal(app, device, port, signals).await;
    spinner.finish();
    match acquired {
        Ok(Ok(lease)) => Ok((lease, record)),
        Ok(Err(err)) => {
            record.fail(&err);
            Err(report(app, device, port, user, &err))
        }
        Err(code) => {
            record.interrupted();
            Err(code)
        }
    }
}

/// A missing service: recorded as the device's last failure (the picker's guide then says
/// which services are running), and the command's error.
fn service_missing(app: &App, device: &Device, err: anyhow::Error) -> anyhow::Error {
    crate::state::failures::record(
        &app.dirs.state,
        &device.sim_id,
        Some(&error::one_line(&err)),
    );
    err
}

/// How a session ended, for its verdict.
struct Ended<'a> {
    /// The invocation.
    app: &'a App,
    /// The lease holder (its client diagnoses).
    leases: &'a Leases,
    /// The device.
    device: &'a Device,
    /// Device port.
    port: u16,
    /// Remote user.
    user: &'a str,
    /// The mapping used.
    lease: &'a Lease,
    /// What releasing it found.
    released: Released,
}

impl Ended<'_> {
    /// The exit code: the remote command's, napsh's verdict on a failed connection, or the
    /// signal's; journaled.
    async fn conclude(self, outcome: Result<Outcome>, record: Record) -> Result<i32> {
        let outcome = match outcome {
            Ok(o) => o,
            Err(err) => {
                record.fail(&err);
                return Ok(report(self.app, self.device, self.port, self.user, &err));
            }
        };
        if outcome.code == 255 && outcome.signal.is_none() {
            return Ok(self.failed(&outcome, record).await);
        }
        match outcome.signal {
            Some(sig) => {
                record.interrupted();
                Ok(exit_code(sig))
            }
            None => {
                record.exit(outcome.code);
                Ok(outcome.code)
            }
        }
    }

    /// ssh exited 255 on its own: why, in one line with the guide.
    async fn failed(&self, outcome: &Outcome, record: Record) -> i32 {
        let label = for_terminal(self.device.label());
        let err = if self.released == Released::AlreadyGone && !outcome.host_key_failed {
            mapping_gone(&label, self.lease)
        } else {
            connect_failure(
                self.app,
                &self.leases.client,
                self.device,
                outcome.host_key_failed,
            )
            .await
        };
        record.fail_kind(error::kind_of(&err), Some(255));
        let code = report(self.app, self.device, self.port, self.user, &err);
        // A changed host key or an offline device is napsh's own verdict; otherwise keep
        // ssh's code.
        if matches!(
            error::kind_of(&err),
            ErrorKind::HostKeyChanged | ErrorKind::Offline
        ) {
            code
        } else {
            255
        }
    }
}

/// ssh lost (or never got) its connection and the mapping was found gone: it expired, or
/// someone deleted it, outside napsh.
fn mapping_gone(label: &str, ensured: &Lease) -> anyhow::Error {
    let m = &ensured.mapping;
    NapshError::new(
        ErrorKind::Ssh,
        format!(
            "the mapping {}:{} to {label} expired or was deleted outside napsh during the session",
            napsh_core::sanitize::for_terminal(&m.ip_address),
            m.port
        ),
    )
    .hint("napsh makes a new mapping on the next connection (a longer-lived one with --duration SECS)")
    .into()
}

/// Prints a failure with the manual guide and records it; returns the exit code.
fn report(app: &App, device: &Device, port: u16, user: &str, err: &anyhow::Error) -> i32 {
    let info = error::info(err);
    crate::state::failures::record(&app.dirs.state, &device.sim_id, Some(&info.message));
    output::note(&format!("napsh: {}", info.message));
    if info.kind.guide_helps() && info.kind != ErrorKind::HostKeyChanged {
        output::note("");
        output::note(&guide_for(
            app,
            device,
            port,
            user,
            Some(info.message.clone()),
            None,
        ));
    }
    info.kind.exit_code()
}
