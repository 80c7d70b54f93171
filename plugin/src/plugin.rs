// The Zellij adapter (wasm only; `include!`d at the crate root by main.rs so that
// `register_plugin!` expands there). `update` only routes events: screens decide, core holds
// the state, and this file turns intents into Zellij calls.

mod keys;
mod panes;
mod screens;

use napsh_core::fleet_tab::PendingFleet;
use napsh_core::messages::{ConnectResult, ErrorEnvelope, GuideReport};
use napsh_core::picker_feed;
use napsh_core::picker::{Picker, PickerIntent, Progress};
use napsh_core::plugin_config::PluginConfig;
use napsh_core::sanitize::bytes_for_terminal;
use screens::{GuideScreen, KeyResponse, ListScreen, MessageScreen, Screen, ServiceScreen};
use std::collections::BTreeMap;
use zellij_tile::prelude::*;

/// Context key naming what a helper command was for.
const CTX_KIND: &str = "napsh_kind";
/// Context key carrying the SIM id a command or pane is about.
const CTX_SIM: &str = "napsh_sim";

/// The plugin's state.
struct State {
    /// Parsed plugin block.
    config: PluginConfig,
    /// Whether permissions were granted (None while waiting).
    granted: Option<bool>,
    /// Events that arrived before permissions were answered.
    pending: Vec<Event>,
    /// The device list, filter and selection.
    picker: Picker,
    /// What is on screen.
    screen: Screen,
    /// List status: loading, refreshing, or the last refresh error.
    status: screens::ListStatus,
    /// Open device panes: terminal pane id → SIM id.
    panes: panes::SessionPanes,
    /// Guides waiting to be shown after the current one.
    queued_guides: Vec<GuideScreen>,
    /// SIM ids whose `napsh connect` has not answered yet.
    pending_connects: std::collections::BTreeSet<String>,
    /// SIM id → the service its pending connection opens (absent: the host OS).
    pending_services: BTreeMap<String, String>,
    /// Fleet tabs waiting for their devices' connect answers.
    fleets: Vec<PendingFleet>,
    /// The fleet tab to go back to once the guides shown over it are dismissed.
    fleet_tab: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            config: PluginConfig::default(),
            granted: None,
            pending: Vec::new(),
            picker: Picker::new(Vec::new(), false),
            screen: Screen::List(ListScreen),
            status: screens::ListStatus::Loading,
            panes: panes::SessionPanes::default(),
            queued_guides: Vec::new(),
            pending_connects: Default::default(),
            pending_services: BTreeMap::new(),
            fleets: Vec::new(),
            fleet_tab: None,
        }
    }
}

register_plugin!(State);

impl ZellijPlugin for State {
    fn load(&mut self, configuration: BTreeMap<String, String>) {
        match PluginConfig::from_map(&configuration) {
            Ok(config) => self.config = config,
            Err(err) => self.screen = Screen::Message(MessageScreen::config_error(&err)),
        }
        self.picker = Picker::new(Vec::new(), self.config.online_only);
        request_permission(&[
            PermissionType::RunCommands,
            PermissionType::ReadApplicationState,
            PermissionType::ChangeApplicationState,
        ]);
        subscribe(&[
            EventType::PermissionRequestResult,
            EventType::Key,
            EventType::Mouse,
            EventType::RunCommandResult,
            EventType::CommandPaneOpened,
            EventType::CommandPaneExited,
            EventType::PaneClosed,
            EventType::Timer,
        ]);
    }

    fn update(&mut self, event: Event) -> bool {
        if let Event::PermissionRequestResult(status) = event {
            return self.on_permission(status);
        }
        if self.granted != Some(true) {
            if self.granted.is_none() {
                self.pending.push(event);
            }
            return false;
        }
        self.route(event)
    }

    fn render(&mut self, rows: usize, cols: usize) {
        let now = now_ms();
        match &mut self.screen {
            Screen::List(list) => list.render(&mut self.picker, &self.status, rows, cols, now),
            Screen::Guide(guide) => guide.render(rows, cols),
            Screen::Message(message) => message.render(rows, cols),
            Screen::Service(service) => service.render(rows, cols),
        }
    }
}

impl State {
    fn on_permission(&mut self, status: PermissionStatus) -> bool {
        match status {
            PermissionStatus::Granted => {
                self.granted = Some(true);
                rename_plugin_pane(get_plugin_ids().plugin_id, "napsh devices");
                self.load_devices();
                let pending = std::mem::take(&mut self.pending);
                for event in pending {
                    self.route(event);
                }
            }
            PermissionStatus::Denied => {
                self.granted = Some(false);
                self.pending.clear();
                self.screen = Screen::Message(MessageScreen::permissions_denied());
            }
        }
        true
    }

    fn route(&mut self, event: Event) -> bool {
        match event {
            Event::Key(key) => {
                let response = self.screen.handle_key(&key, &mut self.picker);
                self.apply(response)
            }
            Event::Mouse(mouse) => {
                let response = self.screen.handle_mouse(mouse, &mut self.picker);
                self.apply(response)
            }
            Event::RunCommandResult(code, stdout, stderr, context) => {
                self.on_command_result(code, &stdout, &stderr, &context)
            }
            Event::CommandPaneOpened(pane_id, context) => self.on_pane_opened(pane_id, &context),
            Event::CommandPaneExited(pane_id, code, context) => self.on_pane_exited(pane_id, code, &context),
            Event::PaneClosed(PaneId::Terminal(pane_id)) => self.on_pane_closed(pane_id),
            _ => false,
        }
    }

    /// Applies a screen's answer to a key: a new screen and/or a picker intent.
    fn apply(&mut self, response: KeyResponse) -> bool {
        if let Some(screen) = response.new_screen {
            self.screen = screen;
        }
        match response.intent {
            PickerIntent::Nothing => response.render,
            PickerIntent::Redraw => true,
            PickerIntent::Refresh => {
                self.status = screens::ListStatus::Refreshing;
                run_helper(&self.config.refresh_devices_argv(), "refresh", None);
                true
            }
            PickerIntent::Close => {
                self.show_next_guide_or_hide();
                true
            }
            PickerIntent::Connect(sim_ids) => {
                self.connect(&sim_ids);
                true
            }
            PickerIntent::OpenFleet(sim_ids) => {
                self.fleets.push(PendingFleet::new(&sim_ids));
                self.connect(&sim_ids);
                true
            }
            PickerIntent::AskService(sim_id) => {
                let label = self.picker.device(&sim_id).map(|d| d.label().to_string()).unwrap_or_else(|| sim_id.clone());
                self.screen = Screen::Service(ServiceScreen::new(&sim_id, &label, &self.config.services));
                true
            }
            PickerIntent::ConnectService { sim_id, service } => {
                self.connect(std::slice::from_ref(&sim_id));
                self.pending_services.insert(sim_id, service);
                true
            }
        }
    }

    fn load_devices(&mut self) {
        self.status = screens::ListStatus::Loading;
        run_helper(&self.config.cached_devices_argv(), "cached", None);
        run_helper(&self.config.refresh_devices_argv(), "refresh", None);
    }

    /// Asks napsh for each device's mapping; its pane opens when the answer comes (on the
    /// host OS unless a service is recorded after this call).
    fn connect(&mut self, sim_ids: &[String]) {
        self.fleet_tab = None;
        for sim_id in sim_ids {
            self.pending_services.remove(sim_id);
            self.pending_connects.insert(sim_id.clone());
            self.picker.set_progress(sim_id, Progress::Connecting);
            run_helper(&self.config.connect_argv(sim_id), "connect", Some(sim_id));
        }
        self.picker.clear_selection();
    }

    fn on_command_result(
        &mut self,
        code: Option<i32>,
        stdout: &[u8],
        stderr: &[u8],
        context: &BTreeMap<String, String>,
    ) -> bool {
        let sim = context.get(CTX_SIM).cloned().unwrap_or_default();
        match context.get(CTX_KIND).map(String::as_str) {
            Some("cached") => self.on_devices(code, stdout, stderr, false),
            Some("refresh") => self.on_devices(code, stdout, stderr, true),
            Some("connect") => self.on_connect_result(&sim, code, stdout, stderr),
            Some("guide") => self.on_guide(&sim, code, stdout, stderr),
            _ => false,
        }
    }

    fn on_devices(&mut self, code: Option<i32>, stdout: &[u8], stderr: &[u8], is_refresh: bool) -> bool {
        let feed = std::str::from_utf8(stdout).map_err(|e| e.to_string()).and_then(picker_feed::decode);
        match (code, feed) {
            (Some(0), Ok(entries)) => {
                self.picker.set_devices(entries);
                if is_refresh {
                    self.status = screens::ListStatus::Fresh;
                }
            }
            // A missing cache is normal on first use: wait for the refresh.
            _ if !is_refresh => {}
            _ => self.status = screens::ListStatus::Failed(helper_error(code, stdout, stderr)),
        }
        true
    }

    fn on_connect_result(&mut self, sim_id: &str, code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> bool {
        self.pending_connects.remove(sim_id);
        self.record_connect_result(sim_id, code, stdout, stderr);
        if self.pending_connects.is_empty() {
            self.surface_after_connecting();
        }
        true
    }

    /// Once every device answered: step aside for the new panes, or stay up with a guide.
    fn surface_after_connecting(&mut self) {
        if matches!(self.screen, Screen::Guide(_)) {
            show_self(true);
        } else {
            hide_self();
        }
    }

    fn record_connect_result(&mut self, sim_id: &str, code: Option<i32>, stdout: &[u8], stderr: &[u8]) {
        let service = self.pending_services.remove(sim_id);
        let result = stdout
            .split(|b| *b == b'\n')
            .find_map(|line| serde_json::from_slice::<ConnectResult>(line).ok());
        match result {
            Some(r) if r.ok => {
                let label = r.name.filter(|n| !n.is_empty()).unwrap_or_else(|| sim_id.to_string());
                if !self.answer_fleet(sim_id, Some(&label)) {
                    panes::open_session_pane(&self.config, &mut self.panes, sim_id, &label, service.as_deref());
                }
            }
            Some(r) => {
                self.answer_fleet(sim_id, None);
                let reason = r.error.map(|e| e.message).unwrap_or_else(|| "napsh could not connect".into());
                self.picker.set_progress(sim_id, Progress::Failed(reason.clone()));
                let guide = GuideReport {
                    device: r.name.unwrap_or_else(|| r.device.clone()),
                    sim_id: r.sim_id,
                    reason: Some(reason),
                    endpoint: r.endpoint,
                    text: r.guide.unwrap_or_default(),
                };
                self.show_guide(GuideScreen::new(guide));
            }
            None => {
                self.answer_fleet(sim_id, None);
                let reason = helper_error(code, stdout, stderr);
                self.picker.set_progress(sim_id, Progress::Failed(reason));
                run_helper(&self.config.guide_argv(sim_id), "guide", Some(sim_id));
            }
        }
    }

    /// Gives a fleet device's connect answer to its fleet (`label` when it connected); opens
    /// the fleet's tab once every device answered. `false` when the device is in no fleet.
    fn answer_fleet(&mut self, sim_id: &str, label: Option<&str>) -> bool {
        let Some(fleet) = self.fleets.iter_mut().find(|f| f.awaits(sim_id)) else { return false };
        if let Some(ready) = fleet.answer(sim_id, label) {
            panes::open_fleet_tab(&self.config, &mut self.panes, &ready);
            self.fleet_tab = Some(ready.name);
        }
        self.fleets.retain(|f| !f.complete());
        true
    }

    fn on_guide(&mut self, sim_id: &str, code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> bool {
        let guide = serde_json::from_slice::<GuideReport>(stdout).unwrap_or_else(|_| GuideReport {
            device: sim_id.to_string(),
            sim_id: Some(sim_id.to_string()),
            reason: Some(helper_error(code, stdout, stderr)),
            endpoint: None,
            text: String::new(),
        });
        self.show_guide(GuideScreen::new(guide));
        true
    }

    fn on_pane_opened(&mut self, pane_id: u32, context: &BTreeMap<String, String>) -> bool {
        let Some(sim_id) = context.get(CTX_SIM) else { return false };
        let label = self.panes.opened(pane_id, sim_id);
        rename_pane_with_id(PaneId::Terminal(pane_id), label);
        self.picker.set_progress(sim_id, Progress::Connected);
        // A new tiled pane takes focus and hides the floating picker: bring a guide back up.
        if matches!(self.screen, Screen::Guide(_)) {
            show_self(true);
        }
        true
    }

    fn on_pane_exited(&mut self, pane_id: u32, code: Option<i32>, context: &BTreeMap<String, String>) -> bool {
        let Some(sim_id) = context.get(CTX_SIM).cloned() else { return false };
        self.picker.session_closed(&sim_id);
        if panes::exit_means_connection_failure(code) {
            self.picker.set_progress(&sim_id, Progress::Failed(format!("session ended with exit code {}", code.unwrap_or(-1))));
            run_helper(&self.config.guide_argv(&sim_id), "guide", Some(&sim_id));
        } else {
            // A session that ended normally: drop the held pane.
            close_terminal_pane(pane_id);
        }
        true
    }

    fn on_pane_closed(&mut self, pane_id: u32) -> bool {
        match self.panes.closed(pane_id) {
            Some(sim_id) => {
                self.picker.session_closed(&sim_id);
                true
            }
            None => false,
        }
    }

    /// Shows a guide now (popping the picker up if hidden), or after the current one.
    fn show_guide(&mut self, guide: GuideScreen) {
        if matches!(self.screen, Screen::Guide(_)) {
            self.queued_guides.push(guide);
        } else {
            self.screen = Screen::Guide(guide);
        }
        show_self(true);
    }

    fn show_next_guide_or_hide(&mut self) {
        if self.queued_guides.is_empty() {
            self.screen = Screen::List(ListScreen);
            hide_self();
            // A guide popped the picker up over a fleet tab it had just opened (and nothing was
            // connected since): back there.
            if let Some(tab) = self.fleet_tab.take() {
                go_to_tab_name(&tab);
            }
        } else {
            self.screen = Screen::Guide(self.queued_guides.remove(0));
        }
    }
}

/// Runs a helper command in the background, tagged for routing its result.
fn run_helper(argv: &[String], kind: &str, sim_id: Option<&str>) {
    let mut context = BTreeMap::from([(CTX_KIND.to_string(), kind.to_string())]);
    if let Some(sim) = sim_id {
        context.insert(CTX_SIM.to_string(), sim.to_string());
    }
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    run_command(&args, context);
}

/// One sentence from a failed helper run: its JSON error, else its stderr, else the code.
fn helper_error(code: Option<i32>, stdout: &[u8], stderr: &[u8]) -> String {
    if let Ok(envelope) = serde_json::from_slice::<ErrorEnvelope>(stdout) {
        return envelope.error.message;
    }
    let stderr = bytes_for_terminal(stderr);
    let first = stderr.split("\\n").find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    if !first.is_empty() {
        return first;
    }
    match code {
        Some(2) if stdout.is_empty() => "the napsh helper was not found: set `helper` in the plugin block".into(),
        Some(0) => "napsh printed nothing it could read".into(),
        Some(c) => format!("napsh exited with code {c}"),
        None => "napsh was killed".into(),
    }
}

/// Milliseconds since the Unix epoch (WASI clock).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
