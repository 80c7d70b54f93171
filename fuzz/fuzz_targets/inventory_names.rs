//! Fuzz: any text as device names, SIM groups and tags for the Ansible inventory. Group names
//! are valid Ansible identifiers (`[a-z_][a-z0-9_]*`) and stable; distinct SIMs always get
//! distinct inventory host names. Input: devices separated by U+001E, fields (name, group,
//! tag key, tag value) by U+001F.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::inventory::{group_name, groups_of, host_names, InventoryDevice};
use napsh_core::Device;
use std::collections::BTreeSet;

fuzz_target!(|text: &str| {
    let devices: Vec<InventoryDevice> = text
        .split('\u{1e}')
        .enumerate()
        .map(|(i, fields)| device(i, fields))
        .collect();
    for d in &devices {
        for g in groups_of(&d.device) {
            assert_valid_group(&g);
        }
    }
    let parts: Vec<&str> = text.split('\u{1f}').collect();
    assert_valid_group(&group_name(&parts));
    let names = host_names(&devices);
    assert_eq!(names.len(), devices.len());
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "host names {names:?}");
});

/// Device `i` from `name␟group␟key␟value`; SIM ids are distinct (some look like names).
fn device(i: usize, fields: &str) -> InventoryDevice {
    let mut f = fields.split('\u{1f}');
    let name = f.next().unwrap_or_default();
    let sim = if i % 2 == 0 {
        format!("89420000{i}")
    } else {
        format!("dev{i}")
    };
    let mut device = Device::named(&sim, name);
    device.group_id = f.next().map(String::from);
    if let (Some(k), Some(v)) = (f.next(), f.next()) {
        device.tags.insert(k.into(), v.into());
    }
    InventoryDevice {
        device,
        user: "pi".into(),
        port: 22,
    }
}

/// `[a-z_][a-z0-9_]*`, and sanitising it again changes nothing.
fn assert_valid_group(g: &str) {
    let mut cs = g.chars();
    let first = cs.next().expect("a group name is never empty");
    assert!(first.is_ascii_lowercase() || first == '_', "{g:?}");
    assert!(
        cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "{g:?}"
    );
    assert_eq!(group_name(&[g]), g);
}
