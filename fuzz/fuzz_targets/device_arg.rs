//! Fuzz: any text as a `[USER@]DEVICE` argument against a small fleet (hostile names
//! included). Resolution never panics, a hit really matches, and every error message is
//! terminal-safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::resolve::{resolve, split_user};
use napsh_core::sanitize::is_unsafe;
use napsh_core::Device;

fn device(sim_id: &str, imsi: &str, name: &str) -> Device {
    Device {
        sim_id: sim_id.into(),
        imsi: Some(imsi.into()),
        name: name.into(),
        online: true,
        tags: Default::default(),
        group_id: None,
        speed_class: None,
        last_seen: None,
        status: None,
        ue_ip_address: None,
    }
}

fuzz_target!(|arg: &str| {
    let fleet = [
        device("8942310022000012345", "440103212345678", "kiosk-12"),
        device("8942310022000012346", "440103212345679", "kiosk-12"),
        device("8942310022000012347", "440103212345680", "evil-\u{1b}[31m\u{202e}x"),
        device("8942310022000012348", "440103212345681", ""),
    ];
    let (user, name) = split_user(arg);
    if let Some(user) = user {
        assert!(arg.starts_with(user));
    }
    match resolve(&fleet, name) {
        Ok(d) => {
            let q = name.trim();
            assert!(d.sim_id == q || d.imsi.as_deref() == Some(q) || d.name == q);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.chars().any(is_unsafe), "unsafe message {message:?}");
        }
    }
});
