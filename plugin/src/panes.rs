//! Opening one SSH pane per device where the configuration says, and remembering which
//! pane belongs to which device.

use crate::{CTX_KIND, CTX_SIM};
use napsh_core::fleet_tab::ReadyFleet;
use napsh_core::plugin_config::{PanePlacement, PluginConfig};
use napsh_core::sanitize::pane_title;
use std::collections::BTreeMap;
use zellij_tile::prelude::*;

/// Device session panes opened by this plugin.
#[derive(Default)]
pub struct SessionPanes {
    /// Terminal pane id → SIM id.
    by_pane: BTreeMap<u32, String>,
    /// SIM id → pane title, set when the pane is requested.
    titles: BTreeMap<String, String>,
    /// Whether the device tab was already opened (placement `tab`).
    tab_opened: bool,
}

impl SessionPanes {
    /// Records a pane that Zellij reports opened; returns its title (inert: see [`title`]).
    pub fn opened(&mut self, pane_id: u32, sim_id: &str) -> String {
        self.by_pane.insert(pane_id, sim_id.to_string());
        self.titles.get(sim_id).cloned().unwrap_or_else(|| title(sim_id, None))
    }

    /// Forgets a closed pane; returns its device.
    pub fn closed(&mut self, pane_id: u32) -> Option<String> {
        self.by_pane.remove(&pane_id)
    }
}

/// The title of a device's pane, `device` or `device/service`: every pane title goes through
/// here, made inert by [`pane_title`] (Zellij draws titles into pane frames unfiltered, and a
/// device name is written by anyone with tag permission).
pub fn title(label: &str, service: Option<&str>) -> String {
    match service {
        Some(service) => pane_title(&format!("{label}/{service}")),
        None => pane_title(label),
    }
}

/// The `napsh ssh` command of one device's pane (inside `service` when given) and the context
/// that routes its pane events back to the device.
fn session_command(config: &PluginConfig, sim_id: &str, service: Option<&str>) -> (CommandToRun, BTreeMap<String, String>) {
    let argv = match service {
        Some(service) => config.ssh_service_argv(sim_id, service),
        None => config.ssh_argv(sim_id),
    };
    let command = CommandToRun::new_with_args(&argv[0], argv[1..].to_vec());
    let context = BTreeMap::from([
        (CTX_KIND.to_string(), "session".to_string()),
        (CTX_SIM.to_string(), sim_id.to_string()),
    ]);
    (command, context)
}

/// Opens the `napsh ssh` pane for one device (inside `service` when given), named after it
/// (`device/service`).
pub fn open_session_pane(config: &PluginConfig, panes: &mut SessionPanes, sim_id: &str, label: &str, service: Option<&str>) {
    let (command, context) = session_command(config, sim_id, service);
    panes.titles.insert(sim_id.to_string(), title(label, service));
    match config.placement {
        PanePlacement::Tiled => {
            open_command_pane(command, context);
        }
        PanePlacement::Floating => {
            open_command_pane_floating(command, None, context);
        }
        PanePlacement::NewTab if !panes.tab_opened => {
            panes.tab_opened = true;
            open_command_pane_in_new_tab(command, context);
        }
        PanePlacement::NewTab => {
            open_command_pane(command, context);
        }
    }
}

/// Opens a fleet tab: a new tab named `fleet (N)` with one tiled `napsh ssh` pane per device
/// (Zellij tiles them), then turns on synchronized input for it (it is the focused tab).
pub fn open_fleet_tab(config: &PluginConfig, panes: &mut SessionPanes, fleet: &ReadyFleet) {
    let Some((first, rest)) = fleet.panes.split_first() else { return };
    for pane in &fleet.panes {
        panes.titles.insert(pane.sim_id.clone(), pane.title.clone());
    }
    let (command, context) = session_command(config, &first.sim_id, None);
    let (tab_id, _) = open_command_pane_in_new_tab(command, context);
    if let Some(tab_id) = tab_id {
        rename_tab_with_id(tab_id as u64, &fleet.name);
    }
    for pane in rest {
        let (command, context) = session_command(config, &pane.sim_id, None);
        open_command_pane(command, context);
    }
    toggle_active_tab_sync();
}

/// Whether a session pane's exit code means napsh or ssh could not connect (rather than the
/// user ending a session): ssh's 255, napsh's own failure codes (3–6, 70).
pub fn exit_means_connection_failure(code: Option<i32>) -> bool {
    matches!(code, Some(255) | Some(3..=6) | Some(70))
}
