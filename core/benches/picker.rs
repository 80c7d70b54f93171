//! Picker benchmarks over 10,000 devices: one filter keystroke, and the first paint from a
//! cached device list (parse the helper's JSON, build the picker, lay out one screen).

use criterion::{criterion_group, criterion_main, Criterion};
use napsh_core::device::Device;
use napsh_core::messages::DeviceEntry;
use napsh_core::picker::{Picker, PickerKey};
use napsh_core::picker_feed::{self, PickerDevice};
use napsh_core::soracom::TagSet;

const FLEET: usize = 10_000;

fn fleet() -> Vec<DeviceEntry> {
    let sites = ["osaka", "tokyo", "sapporo", "naha", "kyoto", "nagoya"];
    let roles = ["kiosk", "sensor", "gateway", "camera"];
    (0..FLEET)
        .map(|i| {
            let (site, role) = (sites[i % sites.len()], roles[i % roles.len()]);
            let name = format!("{role}-{site}-{i:05}");
            let mut tags = TagSet::new();
            tags.insert("name".into(), name.clone());
            tags.insert("site".into(), site.into());
            tags.insert("role".into(), role.into());
            DeviceEntry {
                device: Device {
                    sim_id: format!("89811000{i:011}"),
                    imsi: Some(format!("44010{i:010}")),
                    name,
                    online: i % 3 != 0,
                    tags,
                    group_id: Some(format!("grp-{site}")),
                    speed_class: Some("s1.standard".into()),
                    last_seen: Some(1_700_000_000_000 - i as i64 * 1000),
                    status: Some("active".into()),
                    ue_ip_address: None,
                },
                mappings: vec![],
            }
        })
        .collect()
}

fn devices() -> Vec<PickerDevice> {
    fleet().iter().map(PickerDevice::from).collect()
}

fn keystroke(c: &mut Criterion) {
    // Typing: the previous query's matches are the only candidates.
    let mut picker = Picker::new(devices(), false);
    for ch in "kios".chars() {
        picker.handle_key(PickerKey::Char(ch));
    }
    c.bench_function(
        "typing keystroke, 10k devices ('kios' + 'o', then layout)",
        |b| {
            b.iter(|| {
                picker.handle_key(PickerKey::Char('o'));
                let rows = picker.window(40, 160, 1_700_000_000_000);
                picker.handle_key(PickerKey::Backspace);
                rows.len()
            })
        },
    );
    // The worst case: the first character, scored against every device.
    let mut picker = Picker::new(devices(), false);
    c.bench_function(
        "first keystroke, 10k devices (full scan for 'k', then layout)",
        |b| {
            b.iter(|| {
                picker.handle_key(PickerKey::Char('k'));
                let rows = picker.window(40, 160, 1_700_000_000_000);
                picker.handle_key(PickerKey::Backspace);
                rows.len()
            })
        },
    );
}

fn first_paint(c: &mut Criterion) {
    let feed = picker_feed::encode(&fleet());
    println!("picker feed for {FLEET} devices: {} bytes", feed.len());
    c.bench_function(
        "first paint from cache, 10k devices (parse feed + build + layout)",
        |b| {
            b.iter(|| {
                let devices = picker_feed::decode(&feed).unwrap();
                let mut picker = Picker::new(devices, false);
                picker.window(40, 160, 1_700_000_000_000).len()
            })
        },
    );
}

criterion_group!(benches, keystroke, first_paint);
criterion_main!(benches);
