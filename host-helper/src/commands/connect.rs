//! `napsh connect`: ensure a mapping per device, concurrently; one result per device.

use super::guide_for;
use crate::app::App;
use crate::cli::ConnectArgs;
use crate::error;
use crate::napter::lease::{
    cached_online_unmapped, device_port, duration, fresh_mappings, sim_of, ConnectJob,
};
use crate::napter::mapping::{Ensured, Holder, Known};
use crate::output;
use anyhow::Result;
use napsh_core::messages::ConnectResult;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;
use std::sync::Arc;

/// Runs `napsh connect`.
pub async fn run(app: &App, args: ConnectArgs) -> Result<i32> {
    let secs = duration(app, &args.mapping)?;
    let source = app.source_cidr().await?;
    let client = app.client()?;
    let names: Vec<&str> = args.devices.iter().map(String::as_str).collect();
    let resolved = crate::napter::devices::resolve_each(app, &names).await?;
    let snapshot = app.snapshot();
    // Devices the fresh device cache shows online and unmapped, with no mapping recorded by
    // napsh (connect hands out endpoints: a recorded one is checked against a listing), are
    // created at once (one API call each, as `napsh ssh` does); the others need their SIM and
    // one listing for all (fresh from resolving when the device list was just fetched).
    let recorded: Vec<String> = app
        .registry()
        .entries()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.profile_key == client.profile().cache_key())
        .map(|e| e.sim_id)
        .collect();
    let fast: Vec<bool> = resolved
        .iter()
        .map(|d| {
            d.as_ref().is_ok_and(|d| {
                snapshot.is_none()
                    && !recorded.contains(&d.sim_id)
                    && cached_online_unmapped(app, &client, d)
            })
        })
        .collect();
    let needs_listing = resolved.iter().zip(&fast).any(|(d, f)| d.is_ok() && !f);
    let known = Arc::new(if needs_listing {
        fresh_mappings(app, &client).await?
    } else {
        Known::default()
    });
    let holder = if args.keep {
        Holder::Kept
    } else {
        Holder::Reserved
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (i, device) in resolved.iter().enumerate() {
        let Ok(device) = device else { continue };
        let job = ConnectJob {
            client: client.clone(),
            registry: app.registry(),
            known: known.clone(),
            device: device.clone(),
            sim: if fast[i] {
                Some(sim_of(device))
            } else {
                snapshot
                    .as_ref()
                    .and_then(|s| s.sims.iter().find(|s| s.sim_id == device.sim_id).cloned())
            },
            port: device_port(app, &args.mapping, device),
            secs,
            source,
            holder: holder.clone(),
        };
        tasks.spawn(async move { (i, job.run().await) });
    }
    let spinner = crate::progress::Spinner::start(format!(
        "ensuring mappings for {} device(s)…",
        tasks.len()
    ));
    let mut outcomes: Vec<Option<Result<Ensured>>> = resolved.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, r) = joined?;
        outcomes[i] = Some(r);
    }
    spinner.finish();
    let mut first_failure = None;
    for ((arg, device), outcome) in args.devices.iter().zip(resolved).zip(outcomes) {
        let result = match (device, outcome) {
            (Ok(d), Some(r)) => result_for(app, &args, arg, &d, r),
            (Err(e), _) => failure_without_device(arg, &e),
            (Ok(_), None) => unreachable!("every resolved device has a task"),
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
    args: &ConnectArgs,
    arg: &str,
    d: &Device,
    r: Result<Ensured>,
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
            ConnectResult {
                ok: true,
                endpoint: Some(e.endpoint()),
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
