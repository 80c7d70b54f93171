//! Ansible dynamic inventory: the `--list` JSON (groups by SIM group, tag and online state,
//! `_meta.hostvars`) and the `--host` vars, every host reached through `napsh proxy` with its
//! host key pinned to the SIM id. Group names are sanitised to Ansible's rules; every string
//! variable is an Ansible unsafe value, never rendered as a template.

use crate::alias::{name_aliases, AliasClaim, NameAlias};
use crate::device::Device;
use crate::ssh_config::{pinned_args, shell_join, NapshPaths, PinnedHost, QuoteError};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One device with what connecting to it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryDevice {
    /// The device.
    pub device: Device,
    /// Remote user (napsh's rules).
    pub user: String,
    /// Device SSH port (napsh's rules, else 22).
    pub port: u16,
}

/// What every host shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryInput {
    /// napsh's binary, profile and known_hosts.
    pub paths: NapshPaths,
    /// napsh's `ssh_extra_args`, passed to ssh before the pinning options.
    pub extra_args: Vec<String>,
}

/// An Ansible group name: letters, digits and `_` (anything else becomes `_`), never starting
/// with a digit.
pub fn group_name(parts: &[&str]) -> String {
    let joined = parts.join("_");
    let mut out: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// What each device could be called by.
fn claims(devices: &[InventoryDevice]) -> Vec<AliasClaim<'_>> {
    devices
        .iter()
        .map(|d| AliasClaim {
            name: &d.device.name,
            sim_id: &d.device.sim_id,
            imsi: d.device.imsi.as_deref(),
        })
        .collect()
}

/// The inventory hostname of each device: its `.napsh` alias without the suffix, or the SIM
/// id when the name gives none (empty, shared with another device, or another device's SIM
/// id or IMSI: see [`name_aliases`]).
pub fn host_names(devices: &[InventoryDevice]) -> Vec<String> {
    name_aliases(&claims(devices))
        .into_iter()
        .zip(devices)
        .map(|(alias, d)| match alias {
            NameAlias::Own(alias) => alias,
            _ => d.device.sim_id.clone(),
        })
        .collect()
}

/// One terminal-safe sentence per device whose name could have been its host name but is
/// not (shared, or another device's SIM id or IMSI).
pub fn warnings(devices: &[InventoryDevice]) -> Vec<String> {
    let claims = claims(devices);
    name_aliases(&claims)
        .iter()
        .zip(&claims)
        .filter_map(|(alias, claim)| alias.warning(claim, ""))
        .collect()
}

/// A string Ansible must never render as a template: `{"__ansible_unsafe": text}`, the JSON
/// form of an unsafe value that Ansible's script inventory reads (in `--list` hostvars and in
/// `--host` answers). Name tags and tags are written by anyone with tag permission, and
/// Ansible renders `{{ … }}` in inventory variables.
pub fn unsafe_value(text: &str) -> Value {
    json!({ "__ansible_unsafe": text })
}

/// The vars of one host: every string is an [`unsafe_value`] (but the constant
/// `ansible_connection`); the tag keys are plain (Ansible does not render keys).
pub fn host_vars(input: &InventoryInput, d: &InventoryDevice) -> Result<Value, QuoteError> {
    let pinned = PinnedHost {
        sim_id: d.device.sim_id.clone(),
        user: d.user.clone(),
        port: d.port,
    };
    let mut args = input.extra_args.clone();
    args.extend(pinned_args(&input.paths, &pinned)?);
    let optional = |v: &Option<String>| v.as_deref().map_or(Value::Null, unsafe_value);
    let tags: Map<String, Value> = d
        .device
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), unsafe_value(v)))
        .collect();
    let host = format!("{}{}", d.device.sim_id, crate::ssh_config::ALIAS_SUFFIX);
    Ok(json!({
        "ansible_host": unsafe_value(&host),
        "ansible_user": unsafe_value(&d.user),
        "ansible_port": d.port,
        "ansible_connection": "ssh",
        "ansible_ssh_common_args": unsafe_value(&shell_join(&args)),
        "napsh_sim_id": unsafe_value(&d.device.sim_id),
        "napsh_name": unsafe_value(&d.device.name),
        "napsh_imsi": optional(&d.device.imsi),
        "napsh_online": d.device.online,
        "napsh_group": optional(&d.device.group_id),
        "napsh_tags": tags,
    }))
}

/// The groups a device belongs to: `group_<id>`, `tag_<key>_<value>` (not the `name` tag),
/// and `napsh_online` / `napsh_offline`.
pub fn groups_of(device: &Device) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(g) = &device.group_id {
        out.push(group_name(&["group", g]));
    }
    for (k, v) in device.tags.iter().filter(|(k, _)| k.as_str() != "name") {
        out.push(group_name(&["tag", k, v]));
    }
    out.push(
        if device.online {
            "napsh_online"
        } else {
            "napsh_offline"
        }
        .to_string(),
    );
    out
}

/// The whole `--list` document.
pub fn list(input: &InventoryInput, devices: &[InventoryDevice]) -> Result<Value, QuoteError> {
    let names = host_names(devices);
    let mut hostvars = Map::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (d, name) in devices.iter().zip(&names) {
        hostvars.insert(name.clone(), host_vars(input, d)?);
        for g in groups_of(&d.device) {
            groups.entry(g).or_default().push(name.clone());
        }
    }
    let mut doc = Map::new();
    doc.insert(
        "all".into(),
        json!({ "hosts": names, "children": groups.keys().collect::<Vec<_>>() }),
    );
    for (g, hosts) in groups {
        doc.insert(g, json!({ "hosts": hosts }));
    }
    doc.insert("_meta".into(), json!({ "hostvars": hostvars }));
    Ok(Value::Object(doc))
}

/// The `--host NAME` vars: by inventory hostname, `.napsh` alias or SIM id; `None` when no
/// device has that name.
pub fn host(
    input: &InventoryInput,
    devices: &[InventoryDevice],
    wanted: &str,
) -> Option<Result<Value, QuoteError>> {
    let wanted = wanted
        .strip_suffix(crate::ssh_config::ALIAS_SUFFIX)
        .unwrap_or(wanted);
    let names = host_names(devices);
    devices
        .iter()
        .zip(&names)
        .find(|(d, n)| n.as_str() == wanted || d.device.sim_id == wanted)
        .map(|(d, _)| host_vars(input, d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn dev(
        name: &str,
        sim: &str,
        online: bool,
        group: Option<&str>,
        tags: &[(&str, &str)],
    ) -> InventoryDevice {
        let mut all_tags: crate::soracom::TagSet = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all_tags.insert("name".into(), name.into());
        InventoryDevice {
            device: Device {
                online,
                tags: all_tags,
                group_id: group.map(String::from),
                ..Device::named(sim, name)
            },
            user: "pi".into(),
            port: 22,
        }
    }

    fn input() -> InventoryInput {
        InventoryInput {
            paths: NapshPaths {
                napsh: "/opt/my tools/napsh".into(),
                profile: Some("prod".into()),
                known_hosts: "/home/u/kh".into(),
            },
            extra_args: vec!["-i".into(), "/k/id".into()],
        }
    }

    #[rstest]
    #[case(&["group", "grp-osaka"], "group_grp_osaka")]
    #[case(&["tag", "Site", "Osaka West"], "tag_site_osaka_west")]
    #[case(&["9lives"], "_9lives")]
    #[case(&[""], "_")]
    #[case(&["tag", "é", "x;rm"], "tag___x_rm")]
    fn group_names_are_valid(#[case] parts: &[&str], #[case] want: &str) {
        assert_eq!(group_name(parts), want);
    }

    #[test]
    fn lists_hosts_groups_and_pinned_ssh_args() {
        let devices = vec![
            dev(
                "kiosk-12",
                "111",
                true,
                Some("grp-osaka"),
                &[("role", "kiosk")],
            ),
            dev("cam", "222", false, None, &[("role", "camera")]),
        ];
        let doc = list(&input(), &devices).unwrap();
        assert_eq!(doc["group_grp_osaka"]["hosts"], json!(["kiosk-12"]));
        assert_eq!(doc["tag_role_kiosk"]["hosts"], json!(["kiosk-12"]));
        assert_eq!(doc["tag_role_camera"]["hosts"], json!(["cam"]));
        assert_eq!(doc["napsh_online"]["hosts"], json!(["kiosk-12"]));
        assert_eq!(doc["napsh_offline"]["hosts"], json!(["cam"]));
        assert!(doc.get("tag_name_kiosk_12").is_none());
        let vars = &doc["_meta"]["hostvars"]["kiosk-12"];
        assert_eq!(vars["ansible_user"], unsafe_value("pi"));
        assert_eq!(vars["napsh_sim_id"], unsafe_value("111"));
        let args = vars["ansible_ssh_common_args"]["__ansible_unsafe"]
            .as_str()
            .unwrap();
        assert!(args.starts_with("-i /k/id -o "), "{args}");
        assert!(
            args.contains(
                r"'ProxyCommand='\''/opt/my tools/napsh'\'' --profile prod proxy 111 %p'"
            ),
            "{args}"
        );
        assert!(args.contains("-o HostKeyAlias=111"), "{args}");
        assert!(
            args.contains(r#"'UserKnownHostsFile="/home/u/kh"'"#),
            "{args}"
        );
    }

    #[test]
    fn shared_or_empty_names_fall_back_to_sim_ids() {
        let devices = vec![
            dev("cam", "1", true, None, &[]),
            dev("CAM", "2", true, None, &[]),
            dev("", "3", true, None, &[]),
            dev("ok", "4", true, None, &[]),
        ];
        assert_eq!(host_names(&devices), ["1", "2", "3", "ok"]);
    }

    /// Every string in `value` that Ansible would template, with where it is.
    fn templatable_strings(value: &Value, at: &str, out: &mut Vec<String>) {
        match value {
            Value::String(s) => out.push(format!("{at} = {s:?}")),
            Value::Array(items) => items
                .iter()
                .for_each(|v| templatable_strings(v, &format!("{at}[]"), out)),
            Value::Object(map) if map.len() == 1 && map.contains_key("__ansible_unsafe") => {}
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| templatable_strings(v, &format!("{at}.{k}"), out)),
            _ => {}
        }
    }

    // Issue 1: Ansible renders `{{ … }}` in inventory variables, so a device name ran a
    // command on the operator's machine. Every string napsh emits is an unsafe value.
    #[test]
    fn every_host_variable_string_is_ansible_unsafe() {
        let evil = "{{ lookup('pipe','id > /tmp/x') }}";
        let devices = vec![dev(evil, "111", true, Some(evil), &[("{{ k }}", evil)])];
        let doc = list(&input(), &devices).unwrap();
        let name = &host_names(&devices)[0];
        let vars = &doc["_meta"]["hostvars"][name];
        assert_eq!(vars["napsh_name"], json!({ "__ansible_unsafe": evil }));
        assert_eq!(vars["napsh_group"], unsafe_value(evil));
        assert_eq!(
            vars["napsh_tags"]["{{ k }}"],
            json!({ "__ansible_unsafe": evil })
        );
        let mut found = Vec::new();
        templatable_strings(vars, "", &mut found);
        assert_eq!(found, [".ansible_connection = \"ssh\""], "{vars:#}");
        let by_host = host(&input(), &devices, "111").unwrap().unwrap();
        assert_eq!(&by_host, vars);
    }

    #[test]
    fn names_that_are_another_devices_ids_fall_back_to_sim_ids() {
        let mut with_imsi = dev("victim", "2", true, None, &[]);
        with_imsi.device.imsi = Some("440100000000002".into());
        let devices = vec![
            dev("2", "1", true, None, &[]),
            with_imsi,
            dev("440100000000002", "3", true, None, &[]),
            dev("3", "3x", true, None, &[]),
        ];
        assert_eq!(host_names(&devices), ["1", "victim", "3", "3x"]);
        let warned = warnings(&devices);
        assert_eq!(warned.len(), 3, "{warned:?}");
        assert!(warned.iter().all(|w| w.contains("SIM id or IMSI")));
    }

    #[rstest]
    #[case("ok", Some("4"))]
    #[case("ok.napsh", Some("4"))]
    #[case("4", Some("4"))]
    #[case("nope", None)]
    fn host_finds_by_name_alias_or_sim(#[case] wanted: &str, #[case] sim: Option<&str>) {
        let devices = vec![
            dev("cam", "1", true, None, &[]),
            dev("ok", "4", true, None, &[]),
        ];
        let found = host(&input(), &devices, wanted).map(|r| r.unwrap()["napsh_sim_id"].clone());
        assert_eq!(found, sim.map(unsafe_value));
    }
}
