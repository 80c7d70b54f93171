//! `napsh inventory --list | --host NAME`: the fleet as an Ansible dynamic inventory, every
//! host reached through `napsh proxy` with its host key pinned (no mapping until Ansible
//! connects).

use super::reach::{fleet, napsh_paths, quote_error, user_and_port};
use crate::app::App;
use crate::cli::reach::InventoryArgs;
use crate::error::NapshError;
use crate::output;
use anyhow::Result;
use napsh_core::inventory::{host, list, warnings, InventoryDevice, InventoryInput};
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;

/// Runs `napsh inventory`.
pub async fn run(app: &App, args: InventoryArgs, profile: Option<&str>) -> Result<i32> {
    let devices: Vec<InventoryDevice> = fleet(app, args.refresh)
        .await?
        .into_iter()
        .map(|device| {
            let (user, port) = user_and_port(app, &device);
            InventoryDevice { device, user, port }
        })
        .collect();
    let input = InventoryInput {
        paths: napsh_paths(app, profile)?,
        extra_args: app.config.ssh_extra_args.clone(),
    };
    for warning in warnings(&devices) {
        output::warn(&warning);
    }
    let doc = match &args.host {
        None => list(&input, &devices).map_err(quote_error)?,
        Some(name) => host(&input, &devices, name)
            .ok_or_else(|| {
                NapshError::new(
                    ErrorKind::UnknownDevice,
                    format!("no inventory host named {:?}", for_terminal(name)),
                )
                .hint("`napsh inventory --list` shows every host")
            })?
            .map_err(quote_error)?,
    };
    output::line(&napsh_core::sanitize::json_for_terminal(
        &serde_json::to_string_pretty(&doc)?,
    ));
    Ok(0)
}
