//! `napsh connect`: ensure a mapping per device, concurrently; one result per device.

use super::guide_for;
use crate::app::App;
use crate::cli::ConnectArgs;
use crate::error;
use crate::napter::lease::{device_port, duration, Lease, Leases};
use crate::napter::mapping::Holder;
use crate::output;
use crate::signals::{exit_code, Signals};
use anyhow::Result;
use futures_util::future::join_all;
use napsh_core::messages::ConnectResult;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;

/// Runs `napsh connect`. A signal while mappings are being made does not abandon them: every
/// acquire finishes, what this run created is given back, and napsh exits 128+signal.
pub async fn run(app: &App, args: ConnectArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let leases = Leases::start(app, duration(app, &args.mapping)?).await?;
    let names: Vec<&str> = args.devices.iter().map(String::as_str).collect();
    let resolved = crate::napter::devices::resolve_each(app, &names).await?;
    let holder = if args.keep {
        Holder::Kept
    } else {
        Holder::Reserved
    };
    let spinner = crate::progress::Spinner::start(format!(
        "ensuring mappings for {} device(s)…",
        resolved.len()
    ));
    let mapping_opts = &args.mapping;
    let all = join_all(resolved.iter().map(|d| {
        let (leases, holder) = (&leases, holder.clone());
        async move {
            let d = d.as_ref().ok()?;
            let port = device_port(app, mapping_opts, d);
            Some(leases.acquire(app, d, port, holder).await)
        }
    }));
    tokio::pin!(all);
    let (outcomes, interrupted) = tokio::select! {
        done = &mut all => (done, None),
        sig = signals.recv() => (all.await, Some(sig)),
    };
    spinner.finish();
    if let Some(sig) = interrupted {
        for lease in outcomes.iter().flatten().flatten() {
            leases.discard(lease).await;
        }
        return Ok(exit_code(sig));
    }
    let mut first_failure = None;
    for ((arg, device), outcome) in args.devices.iter().zip(&resolved).zip(outcomes) {
        let result = match (device, outcome) {
            (Ok(d), Some(r)) => result_for(app, &leases, &args, arg, d, r),
            (Err(e), _) => failure_without_device(arg, e),
            (Ok(_), None) => unreachable!("every resolved device was acquired"),
        };
        if let (None, Some(e)) = (first_failure, &result.error) {
            first_failure = Some(e.kind);
        }
        print(&result, args.json);
    }
    // Exit with the code of the first failing device (the lines carry every detail).
    Ok(first_failure.map_or(0, |k| k.exit_code()))
}

fn result_for(
    app: &App,
    leases: &Leases,
    args: &ConnectArgs,
    arg: &str,
    d: &Device,
    r: Result<Lease>,
) -> ConnectResult {
    let base = ConnectResult {
        device: arg.to_string(),
        sim_id: Some(d.sim_id.clone()),
        name: Some(d.name.clone()),
        ok: false,
        endpoint: None,
        error: None,
        guide: None,
    };
    match r {
        Ok(e) => {
            crate::state::failures::record(&app.dirs.state, &d.sim_id, None);
            // Shown against the local clock: the expiry is the server's, moved by the skew.
            let skew = leases.server_now() - crate::state::paths::now_ms();
            let mut endpoint = e.endpoint();
            endpoint.expires_at = endpoint.expires_at.map(|t| t - skew);
            ConnectResult {
                ok: true,
                endpoint: Some(endpoint),
                ..base
            }
        }
        Err(err) => {
            let info = error::info(&err);
            crate::state::failures::record(&app.dirs.state, &d.sim_id, Some(&info.message));
            let port = device_port(app, &args.mapping, d);
            let user = app.config.user_for(None, d);
            let guide = info
                .kind
                .guide_helps()
                .then(|| guide_for(app, d, port, &user, Some(info.message.clone()), None));
            ConnectResult {
                error: Some(info),
                guide,
                ..base
            }
        }
    }
}

fn failure_without_device(arg: &str, err: &anyhow::Error) -> ConnectResult {
    ConnectResult {
        device: arg.to_string(),
        sim_id: None,
        name: None,
        ok: false,
        endpoint: None,
        error: Some(error::info(err)),
        guide: None,
    }
}

fn print(r: &ConnectResult, json: bool) {
    if json {
        return output::json(r);
    }
    let label = for_terminal(
        r.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&r.device),
    );
    match (&r.endpoint, &r.error) {
        (Some(ep), _) => {
            let how = if ep.reused { "reused" } else { "created" };
            let left = ep
                .expires_at
                .map(|t| {
                    format!(
                        ", expires in {}",
                        napsh_core::device::format_duration(
                            (t - crate::state::paths::now_ms()) / 1000
                        )
                    )
                })
                .unwrap_or_default();
            output::line(&format!(
                "{label}: {}:{} → device port {} ({how}{left})",
                for_terminal(&ep.ip_address),
                ep.port,
                ep.device_port
            ));
        }
        (None, Some(e)) => {
            output::note(&format!("napsh: {label}: {}", e.message));
            if let Some(g) = &r.guide {
                output::note(g);
            }
        }
        (None, None) => {}
    }
}
