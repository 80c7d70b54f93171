//! `napsh guide`: the manual connection guide for a device, with the live mapping's ssh line
//! when there is one. Works when the API does not: then it says so and gives the generic steps.

use super::known_source;
use crate::app::App;
use crate::cli::GuideArgs;
use crate::error;
use crate::napter::mapping::{endpoint_of, list_all_if_permitted, live_for};
use crate::output;
use crate::state::paths::now_ms;
use anyhow::Result;
use napsh_core::guide::{guide_text, GuideInput};
use napsh_core::messages::{Endpoint, ErrorKind, GuideReport};
use napsh_core::Device;

/// Runs `napsh guide`.
pub async fn run(app: &App, args: GuideArgs) -> Result<i32> {
    let (device, mut reason) = match crate::napter::devices::resolve_all(app, &[&args.device]).await
    {
        Ok(mut d) => (Some(d.remove(0)), None),
        Err(e)
            if matches!(
                error::kind_of(&e),
                ErrorKind::UnknownDevice | ErrorKind::AmbiguousDevice
            ) =>
        {
            return Err(e)
        }
        Err(e) => (None, Some(api_down(&e))),
    };
    let mut endpoint = None;
    if let Some(d) = &device {
        let port = crate::napter::lease::device_port(
            app,
            &crate::cli::MappingOpts {
                port: args.port,
                duration: None,
            },
            d,
        );
        match live_endpoint(app, d, port).await {
            Ok(ep) => endpoint = ep,
            Err(e) => reason = Some(api_down(&e)),
        }
        if reason.is_none() {
            reason = crate::state::failures::last(&app.dirs.state, &d.sim_id).map(|f| f.message);
        }
    }
    let port = args.port.unwrap_or_else(|| {
        device
            .as_ref()
            .and_then(|d| app.config.settings_for(d).port)
            .unwrap_or(22)
    });
    let user = match &device {
        Some(d) => app.config.user_for(args.user.as_deref(), d),
        None => args
            .user
            .clone()
            .or_else(|| app.config.default_user.clone())
            .unwrap_or_else(|| "pi".into()),
    };
    let label = device
        .as_ref()
        .map(|d| d.label().to_string())
        .unwrap_or_else(|| args.device.clone());
    let text = guide_text(&GuideInput {
        device_label: label.clone(),
        sim_id: device.as_ref().map(|d| d.sim_id.clone()),
        reason: reason.clone(),
        device_port: port,
        duration_secs: app.config.mapping_duration_secs,
        source_cidr: known_source(app),
        user,
        endpoint: endpoint.clone(),
        // Expiries are on the server's clock (the local one when no API call was made).
        now_ms: app
            .client()
            .map_or_else(|_| now_ms(), |c| c.server_now_ms()),
    });
    if args.json {
        output::json(&GuideReport {
            device: label,
            sim_id: device.map(|d| d.sim_id),
            reason,
            endpoint,
            text,
        });
    } else {
        output::line(&text);
    }
    Ok(0)
}

/// The freshest live mapping to the device's port, if any.
async fn live_endpoint(app: &App, d: &Device, port: u16) -> Result<Option<Endpoint>> {
    let client = app.client()?;
    let (sim, maps) = tokio::try_join!(
        crate::napter::devices::fetch_sim(&client, &d.sim_id),
        list_all_if_permitted(&client)
    )?;
    let maps = match maps {
        Some(m) => m,
        None => crate::napter::mapping::list_for_sim(&client, &d.sim_id).await?,
    };
    Ok(live_for(&maps, &sim, Some(port), client.server_now_ms())
        .first()
        .map(|m| endpoint_of(m, true)))
}

fn api_down(e: &anyhow::Error) -> String {
    format!(
        "napsh could not ask the Soracom API ({}), so these are the generic steps",
        error::one_line(e)
    )
}
