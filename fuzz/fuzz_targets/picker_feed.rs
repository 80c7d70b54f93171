//! Fuzz: any text as the picker feed (`napsh devices --picker`), then keys typed into the
//! picker. Decoding and every key never panic; every rendered row is terminal-safe and fits
//! the pane's width — what the Zellij plugin draws.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::picker::{Picker, PickerKey};
use napsh_core::picker_feed::decode;
use napsh_core::sanitize::is_unsafe;

const WIDTH: usize = 100;

fn key(b: u8) -> PickerKey {
    match b % 16 {
        0 => PickerKey::Backspace,
        1 => PickerKey::Up,
        2 => PickerKey::Down,
        3 => PickerKey::PageUp,
        4 => PickerKey::PageDown,
        5 => PickerKey::Home,
        6 => PickerKey::End,
        7 => PickerKey::ToggleSelect,
        8 => PickerKey::SelectAllVisible,
        9 => PickerKey::ToggleOnlineOnly,
        10 => PickerKey::Escape,
        _ => PickerKey::Char(char::from(b'a' + b % 26)),
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0xff).unwrap_or(data.len());
    let (feed, keys) = data.split_at(split);
    let Ok(devices) = decode(&String::from_utf8_lossy(feed)) else {
        return;
    };
    let mut picker = Picker::new(devices, false);
    for b in keys.iter().skip(1).take(64) {
        let _ = picker.handle_key(key(*b));
        for row in picker.window(10, WIDTH, 1_700_000_000_000) {
            assert!(!row.text.chars().any(is_unsafe), "unsafe row {:?}", row.text);
            let width = unicode_width::UnicodeWidthStr::width(row.text.as_str());
            assert!(width <= WIDTH, "row of width {width}: {:?}", row.text);
        }
    }
});
