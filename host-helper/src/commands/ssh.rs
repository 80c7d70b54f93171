//! `napsh ssh`: ensure a mapping, run the system ssh with the pinned host key, and delete the
//! mapping when the session ends — normally, on Ctrl-C, on a closed terminal or SIGTERM.

use super::guide_for;
use crate::app::App;
use crate::cli::SshArgs;
use crate::error::{self, NapshError};
use crate::napter::lease::{device_port, duration, ensure_for, finish, forget_if_gone, Finished};
use crate::napter::mapping::Holder;
use crate::napter::registry::Owner;
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::ssh::askpass::{askpass_env, password_for};
use crate::ssh::launch::build_args;
use crate::ssh::verdict::connect_failure;
use crate::state::journal::Record;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::resolve::split_user;
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
    let secs = duration(app, &args.mapping)?;
    let label = for_terminal(device.label());
    // Everything that can fail locally happens before a mapping exists.
    let (askpass, env) = askpass_env(password_for(app, &device)?)?;
    crate::state::paths::ensure_private_dir(&app.dirs.data)?;
    let source = app.source_cidr().await?;
    let client = app.client()?;
    let me = Owner::me();
    let mut record = Record::begin(&app.dirs.state, "ssh", &device);
    record.source(&source);

    let ensuring = ensure_for(
        app,
        &client,
        &device,
        port,
        secs,
        source,
        Holder::Session(me.clone()),
    );
    tokio::pin!(ensuring);
    let spinner = crate::progress::Spinner::start(format!("opening a Napter mapping to {label}…"));
    let mut interrupted = None;
    let ensured = tokio::select! {
        r = &mut ensuring => r,
        sig = signals.recv() => {
            // Never abandon a create half-way: finish it, then clean up.
            interrupted = Some(sig);
            ensuring.await
        }
    };
    spinner.finish();
    let ensured = match ensured {
        Ok(e) => e,
        Err(err) => {
            record.fail(&err);
            return Ok(report(app, &device, port, &user, &err));
        }
    };
    record.mapping(&ensured.mapping, ensured.reused);
    if let Some(sig) = interrupted {
        finish(app, &client, &ensured, &me, args.keep).await;
        record.interrupted();
        return Ok(exit_code(sig));
    }
    crate::state::failures::record(&app.dirs.state, &device.sim_id, None);
    let endpoint = crate::ssh::plan::Destination::mapped(&ensured, &device);
    let (plan, target) =
        crate::ssh::plan::for_ssh_args(app, &args, &device, endpoint, user.clone(), service);
    let outcome = crate::ssh::launch::run(&build_args(&plan), &env, &mut signals).await;
    drop(askpass);
    let failed_to_connect = matches!(&outcome, Ok(o) if o.code == 255 && o.signal.is_none());
    if failed_to_connect && forget_if_gone(app, &client, &device, &ensured).await {
        // A recorded mapping that is gone: its endpoint may already serve another device, so
        // it is forgotten, never deleted (that would delete the other device's mapping).
        let err = mapping_gone(&label, &ensured);
        record.fail(&err);
        report(app, &device, port, &user, &err);
        return Ok(255);
    }
    // Asked while the mapping still exists: the running services, when the service was missing.
    let missing = match (&target, &outcome) {
        (Some(t), Ok(o)) if o.code == napsh_core::service::MISSING_EXIT => {
            let password = app.config.settings_for(&device).password;
            crate::ssh::service::explain_missing(&plan, t, password.as_ref(), &label, name).await
        }
        _ => None,
    };
    let finished = finish(app, &client, &ensured, &me, args.keep).await;
    if let Some(err) = missing {
        // The picker's guide for this device then says which services are running.
        crate::state::failures::record(
            &app.dirs.state,
            &device.sim_id,
            Some(&error::one_line(&err)),
        );
        return Err(err);
    }
    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            record.fail(&err);
            return Ok(report(app, &device, port, &user, &err));
        }
    };
    if outcome.code == 255 && outcome.signal.is_none() {
        let err = if finished == Finished::AlreadyGone && !outcome.host_key_failed {
            mapping_gone(&label, &ensured)
        } else {
            connect_failure(app, &client, &device, outcome.host_key_failed).await
        };
        record.fail_kind(error::kind_of(&err), Some(255));
        let code = report(app, &device, port, &user, &err);
        // A changed host key or an offline device is napsh's own verdict; otherwise keep
        // ssh's code.
        return Ok(
            if matches!(
                error::kind_of(&err),
                ErrorKind::HostKeyChanged | ErrorKind::Offline
            ) {
                code
            } else {
                255
            },
        );
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

/// ssh lost (or never got) its connection and the mapping was found gone: it expired, or
/// someone deleted it, outside napsh.
fn mapping_gone(label: &str, ensured: &crate::napter::mapping::Ensured) -> anyhow::Error {
    let m = &ensured.mapping;
    NapshError::new(
        ErrorKind::Ssh,
        format!(
            "the mapping {}:{} to {label} expired or was deleted outside napsh",
            napsh_core::sanitize::for_terminal(&m.ip_address),
            m.port
        ),
    )
    .hint("run the command again: napsh creates a new mapping (a longer one: --duration SECS)")
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
