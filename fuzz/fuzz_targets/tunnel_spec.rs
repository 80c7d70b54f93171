//! Fuzz: any bytes as a `napsh tunnel -p REMOTE[:[BIND:]LOCAL]` value. Parsing never panics,
//! errors are terminal-safe and show the accepted forms, a parsed spec has a real device port
//! and renders to text that parses back to the same spec; and every spec that can be written
//! (built from the same bytes) renders to text that parses back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::sanitize::is_unsafe;
use napsh_core::tunnel_spec::{TunnelSpec, DEFAULT_BIND};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    check_text(&String::from_utf8_lossy(data));
    if let Some(spec) = spec_from_bytes(data) {
        assert_round_trips(&spec);
    }
});

/// The text as a `-p` value.
fn check_text(text: &str) {
    match TunnelSpec::parse(text) {
        Ok(spec) => {
            assert_ne!(spec.remote, 0, "{text:?} gave device port 0");
            if spec.local.is_none() {
                assert_eq!(spec.bind, DEFAULT_BIND, "{text:?}: a bind without LOCAL");
            }
            assert_round_trips(&spec);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(
                !message.chars().any(is_unsafe),
                "unsafe message {message:?}"
            );
            assert!(message.contains("REMOTE:BIND:LOCAL"), "{message:?}");
        }
    }
}

/// `parse(render(spec)) == spec`.
fn assert_round_trips(spec: &TunnelSpec) {
    let shown = spec.to_string();
    assert_eq!(
        TunnelSpec::parse(&shown),
        Ok(*spec),
        "{spec:?} rendered as {shown:?}"
    );
}

/// A spec the `-p` syntax can express (a bind only with an explicit LOCAL), from the first
/// 22 bytes: remote (2), local flag (1) and port (2), family (1), address (16).
fn spec_from_bytes(data: &[u8]) -> Option<TunnelSpec> {
    let b: &[u8; 22] = data.get(..22)?.try_into().ok()?;
    let remote = u16::from_be_bytes([b[0], b[1]]).max(1);
    let local = (b[2] & 1 == 1).then(|| u16::from_be_bytes([b[3], b[4]]));
    let bind = match (local, b[5] & 1) {
        (None, _) => DEFAULT_BIND,
        (Some(_), 0) => IpAddr::V4(Ipv4Addr::new(b[6], b[7], b[8], b[9])),
        (Some(_), _) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(&b[6..22]).ok()?)),
    };
    Some(TunnelSpec {
        remote,
        bind,
        local,
    })
}
