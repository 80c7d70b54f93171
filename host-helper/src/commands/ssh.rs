//! `napsh ssh`: ensure a mapping, run the system ssh with the pinned host key, and delete the
//! mapping when the session ends — normally, on Ctrl-C, on a closed terminal or SIGTERM.

use super::{device_port, duration, ensure_for, finish, guide_for};
use crate::app::App;
use crate::cli::SshArgs;
use crate::error;
use crate::journal::Record;
use crate::mappings::Holder;
use crate::output;
use crate::registry::Owner;
use crate::session::{askpass_env, connect_failure, password_for};
use crate::signals::{exit_code, Signals};
use crate::ssh::build_args;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::resolve::split_user;
use napsh_core::Device;
use std::io::IsTerminal;

/// Runs `napsh ssh`.
pub async fn run(app: &App, args: SshArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let (user_at, name) = split_user(&args.target);
    let device = crate::devices::resolve_all(app, &[name]).await?.remove(0);
    let user = app
        .config
        .user_for(user_at.or(args.user.as_deref()), &device);
    let port = device_port(app, &args.mapping, &device);
    let secs = duration(app, &args.mapping)?;
    // Everything that can fail locally happens before a mapping exists.
    let (askpass, env) = askpass_env(password_for(app, &device)?)?;
    crate::paths::ensure_private_dir(&app.dirs.data)?;
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
    let mut interrupted = None;
    let ensured = tokio::select! {
        r = &mut ensuring => r,
        sig = signals.recv() => {
            // Never abandon a create half-way: finish it, then clean up.
            interrupted = Some(sig);
            ensuring.await
        }
    };
    let ensured = match ensured {
        Ok(e) => e,
        Err(err) => {
            record.fail(&err);
            return Ok(report(app, &device, port, &user, &err));
        }
    };
    record.mapping(&ensured);
    if let Some(sig) = interrupted {
        finish(app, &client, &ensured, &me, args.keep).await;
        record.interrupted();
        return Ok(exit_code(sig));
    }
    crate::failures::record(&app.dirs.state, &device.sim_id, None);
    let plan = crate::session::plan(
        app,
        &ensured,
        &device,
        &user,
        &args.ssh_options,
        &args.command,
        std::io::stdin().is_terminal(),
    );
    let outcome = crate::ssh::run(&build_args(&plan), &env, &mut signals).await;
    drop(askpass);
    finish(app, &client, &ensured, &me, args.keep).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(err) => {
            record.fail(&err);
            return Ok(report(app, &device, port, &user, &err));
        }
    };
    if outcome.code == 255 && outcome.signal.is_none() {
        let err = connect_failure(app, &client, &device, outcome.host_key_failed).await;
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

/// Prints a failure with the manual guide and records it; returns the exit code.
fn report(app: &App, device: &Device, port: u16, user: &str, err: &anyhow::Error) -> i32 {
    let info = error::info(err);
    crate::failures::record(&app.dirs.state, &device.sim_id, Some(&info.message));
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
