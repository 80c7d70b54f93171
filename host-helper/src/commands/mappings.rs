//! `napsh mappings`: every live mapping of the operator (with device names, time left and
//! whether napsh owns it), and `napsh mappings close`.

use crate::app::App;
use crate::cli::{CloseArgs, MappingsAction, MappingsArgs};
use crate::error;
use crate::napter::devices::summary;
use crate::napter::lease;
use crate::napter::mapping::{list_all, targets};
use crate::napter::registry::Entry;
use crate::output;
use anyhow::Result;
use napsh_core::device::format_duration;
use napsh_core::messages::MappingSummary;
use napsh_core::sanitize::{for_terminal, for_terminal_truncated};
use napsh_core::soracom::{PortMapping, Sim};
use serde::Serialize;

/// One row of `napsh mappings --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct MappingRow {
    /// Device name tag, when the SIM is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    /// SIM id the mapping targets, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_id: Option<String>,
    /// The mapping.
    mapping: MappingSummary,
    /// Source ranges allowed.
    source_ranges: Vec<String>,
    /// napsh's relation to it: `session` (in use), `kept`, `reserved` or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    napsh: Option<&'static str>,
}

/// One result of `napsh mappings close --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Closed {
    /// `ip:port`.
    endpoint: String,
    /// SIM id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    sim_id: Option<String>,
    /// Whether it is gone now.
    deleted: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs `napsh mappings [close …]`.
pub async fn run(app: &App, args: MappingsArgs) -> Result<i32> {
    match args.action {
        None => list(app, args.json).await,
        Some(MappingsAction::Close(c)) => close(app, c, args.json).await,
    }
}

async fn list(app: &App, json: bool) -> Result<i32> {
    let client = app.client()?;
    let (maps, sims) = tokio::try_join!(list_all(&client), client.list::<Sim>("/sims"))?;
    let key = client.profile().cache_key();
    let owned = app.registry().entries().unwrap_or_default();
    let now = client.server_now_ms();
    let rows: Vec<MappingRow> = maps
        .iter()
        .filter(|m| !m.is_expired(now))
        .map(|m| row(m, &sims, &owned, &key))
        .collect();
    if json {
        output::json(&rows);
        return Ok(0);
    }
    if rows.is_empty() {
        output::note("no live mappings");
        return Ok(0);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name
                    .as_deref()
                    .map(|n| for_terminal_truncated(n, 28))
                    .unwrap_or_else(|| "-".into()),
                r.sim_id
                    .as_deref()
                    .map(for_terminal)
                    .unwrap_or_else(|| "-".into()),
                for_terminal(&r.mapping.endpoint),
                r.mapping.device_port.to_string(),
                r.mapping
                    .expires_at
                    .map(|t| format_duration((t - now) / 1000))
                    .unwrap_or_else(|| "-".into()),
                for_terminal_truncated(&r.source_ranges.join(","), 40),
                r.napsh.unwrap_or("-").to_string(),
            ]
        })
        .collect();
    for line in output::table(
        &[
            "DEVICE", "SIM ID", "ENDPOINT", "PORT", "LEFT", "SOURCE", "NAPSH",
        ],
        &cells,
    ) {
        output::line(&line);
    }
    Ok(0)
}

fn row(m: &PortMapping, sims: &[Sim], owned: &[Entry], key: &str) -> MappingRow {
    let sim = sims.iter().find(|s| targets(m, s));
    let entry = owned.iter().find(|e| e.is(key, &m.ip_address, m.port));
    let napsh = entry.map(|e| {
        if e.keep {
            "kept"
        } else if e.owners.is_empty() {
            "reserved"
        } else {
            "session"
        }
    });
    MappingRow {
        name: sim.and_then(|s| s.tags.get("name").cloned()),
        sim_id: sim
            .map(|s| s.sim_id.clone())
            .or_else(|| m.target_sim_id().map(str::to_string)),
        mapping: summary(m, entry.is_some()),
        source_ranges: m
            .source
            .as_ref()
            .map(|s| s.ip_ranges.clone())
            .unwrap_or_default(),
        napsh,
    }
}

async fn close(app: &App, args: CloseArgs, json: bool) -> Result<i32> {
    let client = app.client()?;
    let targets_list = if args.all && args.any {
        lease::every_live(&client).await?
    } else if args.all {
        lease::recorded_live(app, &client).await?
    } else {
        lease::of_devices(app, &client, &args.devices).await?
    };
    if targets_list.is_empty() {
        output::note("no live mappings to close");
    }
    let mut failed = None;
    for m in targets_list {
        let endpoint = format!("{}:{}", m.ip_address, m.port);
        let spinner = crate::progress::Spinner::start(format!(
            "deleting the mapping {}…",
            for_terminal(&endpoint)
        ));
        let result = lease::close_listed(app, &client, &m).await;
        spinner.finish();
        let closed = Closed {
            endpoint,
            sim_id: m.target_sim_id().map(str::to_string),
            deleted: result.is_ok(),
            error: result.as_ref().err().map(error::one_line),
        };
        if let Err(e) = &result {
            failed.get_or_insert(error::kind_of(e).exit_code());
        }
        if json {
            output::json(&closed);
        } else if closed.deleted {
            output::line(&format!("closed {}", for_terminal(&closed.endpoint)));
        } else {
            output::note(&format!("napsh: {}", closed.error.unwrap_or_default()));
        }
    }
    Ok(failed.unwrap_or(0))
}
