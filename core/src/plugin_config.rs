//! The Zellij plugin's configuration (the KDL plugin block, as a string map) and the helper
//! commands it runs: parsed and built here so that they are tested natively.

use std::collections::BTreeMap;

/// Where device panes open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanePlacement {
    /// Tiled in the current tab.
    Tiled,
    /// Floating over the current tab.
    Floating,
    /// The first device in a new tab, the rest tiled beside it.
    NewTab,
}

/// The plugin block of `config.kdl`, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    /// The `napsh` binary the plugin runs (absolute path recommended).
    pub helper: String,
    /// soracom-cli profile name to pass as `--profile`.
    pub profile: Option<String>,
    /// User to log in as (passed as `--user`); napsh's own rules apply when absent.
    pub user: Option<String>,
    /// Start with offline devices hidden.
    pub online_only: bool,
    /// Where device panes open.
    pub placement: PanePlacement,
    /// Service names the "open in a service" prompt offers (`services "web db"`).
    pub services: Vec<String>,
}

impl Default for PluginConfig {
    fn default() -> Self {
        PluginConfig {
            helper: "napsh".into(),
            profile: None,
            user: None,
            online_only: false,
            placement: PanePlacement::Tiled,
            services: Vec::new(),
        }
    }
}

impl PluginConfig {
    /// Parses the plugin block; unknown keys are ignored (Zellij adds its own), bad values
    /// are errors naming the key and the accepted values.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut config = PluginConfig::default();
        if let Some(helper) = non_empty(map, "helper") {
            config.helper = helper;
        }
        config.profile = non_empty(map, "profile");
        config.user = non_empty(map, "user");
        if let Some(v) = map.get("online_only") {
            config.online_only = parse_bool("online_only", v)?;
        }
        if let Some(v) = map.get("services") {
            config.services = parse_services(v)?;
        }
        if let Some(v) = map.get("panes") {
            config.placement = match v.trim() {
                "tiled" => PanePlacement::Tiled,
                "floating" => PanePlacement::Floating,
                "tab" => PanePlacement::NewTab,
                other => {
                    return Err(format!(
                        "panes \"{other}\" is not one of: tiled, floating, tab"
                    ))
                }
            };
        }
        Ok(config)
    }

    /// `napsh [--profile P] ARGS…` as an argv.
    fn helper_argv(&self, args: &[&str]) -> Vec<String> {
        let mut argv = vec![self.helper.clone()];
        if let Some(profile) = &self.profile {
            argv.extend(["--profile".to_string(), profile.clone()]);
        }
        argv.extend(args.iter().map(|a| a.to_string()));
        argv
    }

    /// The device list from napsh's cache only (instant first paint; no API call).
    pub fn cached_devices_argv(&self) -> Vec<String> {
        self.helper_argv(&["devices", "--picker", "--cache-only"])
    }

    /// A fresh device list from the API.
    pub fn refresh_devices_argv(&self) -> Vec<String> {
        self.helper_argv(&["devices", "--picker", "--refresh"])
    }

    /// Ensures a mapping for one device, reserved for the session pane that follows.
    pub fn connect_argv(&self, sim_id: &str) -> Vec<String> {
        self.helper_argv(&["connect", "--json", "--", sim_id])
    }

    /// The interactive session run in a device's pane.
    pub fn ssh_argv(&self, sim_id: &str) -> Vec<String> {
        let mut argv = self.helper_argv(&["ssh"]);
        if let Some(user) = &self.user {
            argv.extend(["--user".to_string(), user.clone()]);
        }
        argv.push(sim_id.to_string());
        argv
    }

    /// The interactive session inside a service of a device (`napsh ssh SIM SERVICE`).
    pub fn ssh_service_argv(&self, sim_id: &str, service: &str) -> Vec<String> {
        let mut argv = self.ssh_argv(sim_id);
        argv.push(service.to_string());
        argv
    }

    /// The manual guide for a device, with the last failure napsh recorded for it.
    pub fn guide_argv(&self, sim_id: &str) -> Vec<String> {
        self.helper_argv(&["guide", "--json", "--", sim_id])
    }
}

fn non_empty(map: &BTreeMap<String, String>, key: &str) -> Option<String> {
    map.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `services "web db,worker"`: names separated by spaces or commas, each a valid service name.
fn parse_services(value: &str) -> Result<Vec<String>, String> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            crate::service::validate_name(s)
                .map(|()| s.to_string())
                .map_err(|why| format!("services: {why}"))
        })
        .collect()
}

fn parse_bool(key: &str, value: &str) -> Result<bool, String> {
    match value.trim() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        other => Err(format!("{key} \"{other}\" is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_when_empty() {
        assert_eq!(
            PluginConfig::from_map(&map(&[])).unwrap(),
            PluginConfig::default()
        );
    }

    #[test]
    fn parses_every_key() {
        let c = PluginConfig::from_map(&map(&[
            ("helper", "/usr/local/bin/napsh"),
            ("profile", "prod"),
            ("user", "admin"),
            ("online_only", "true"),
            ("panes", "floating"),
            ("floating", "true"),
        ]))
        .unwrap();
        assert_eq!(c.helper, "/usr/local/bin/napsh");
        assert_eq!(c.placement, PanePlacement::Floating);
        assert!(c.online_only);
        assert_eq!(
            c.ssh_argv("898"),
            [
                "/usr/local/bin/napsh",
                "--profile",
                "prod",
                "ssh",
                "--user",
                "admin",
                "898"
            ]
        );
        assert_eq!(
            c.connect_argv("898"),
            [
                "/usr/local/bin/napsh",
                "--profile",
                "prod",
                "connect",
                "--json",
                "--",
                "898"
            ]
        );
    }

    #[test]
    fn service_sessions_name_the_service_after_the_device() {
        let c = PluginConfig::from_map(&map(&[("user", "admin")])).unwrap();
        assert_eq!(
            c.ssh_service_argv("898", "web"),
            ["napsh", "ssh", "--user", "admin", "898", "web"]
        );
    }

    #[test]
    fn services_are_a_list_of_valid_names() {
        let c = PluginConfig::from_map(&map(&[("services", "web, db  worker")])).unwrap();
        assert_eq!(c.services, ["web", "db", "worker"]);
        let err = PluginConfig::from_map(&map(&[("services", "web -x")])).unwrap_err();
        assert!(err.contains("services") && err.contains("-x"), "{err}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = PluginConfig::from_map(&map(&[("panes", "sideways")])).unwrap_err();
        assert!(err.contains("panes") && err.contains("tiled"), "{err}");
        let err = PluginConfig::from_map(&map(&[("online_only", "maybe")])).unwrap_err();
        assert!(err.contains("online_only"), "{err}");
    }
}
