//! Direct LAN targets: a device argument that is an IP address (v4, v6 with an optional
//! `%zone`, brackets allowed) or an mDNS `.local` name is connected to straight, without the
//! Soracom API. Its host key is pinned under a stable alias: `lan:<address>`, or the SIM id the
//! config says the address belongs to.

use std::net::IpAddr;

/// Prefix of the host-key alias of an address that belongs to no known SIM.
pub const ALIAS_PREFIX: &str = "lan:";

/// A device reached directly on the local network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanTarget {
    /// What ssh connects to: the canonical address (`192.168.1.5`, `fe80::1%eth0`) or the
    /// lower-cased `.local` name without a trailing dot.
    pub host: String,
}

impl LanTarget {
    /// The host-key alias when no SIM is known for the address: `lan:<host>`.
    pub fn alias(&self) -> String {
        format!("{ALIAS_PREFIX}{}", self.host)
    }
}

/// The LAN target an argument names, or `None` when it is a device name, SIM id or IMSI.
pub fn parse_target(arg: &str) -> Option<LanTarget> {
    let bare = arg
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(arg);
    if let Some(host) = parse_ip(bare) {
        return Some(LanTarget { host });
    }
    parse_mdns(arg).map(|host| LanTarget { host })
}

/// An IP address in canonical form; a v6 zone (`%eth0`) is kept.
fn parse_ip(text: &str) -> Option<String> {
    let (addr, zone) = match text.split_once('%') {
        Some((addr, zone)) if valid_zone(zone) => (addr, Some(zone)),
        Some(_) => return None,
        None => (text, None),
    };
    match (addr.parse::<IpAddr>().ok()?, zone) {
        (IpAddr::V6(v6), Some(zone)) => Some(format!("{v6}%{zone}")),
        (_, Some(_)) => None,
        (ip, None) => Some(ip.to_string()),
    }
}

fn valid_zone(zone: &str) -> bool {
    !zone.is_empty()
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A `.local` host name (RFC 6762), lower-cased, without a trailing dot.
fn parse_mdns(text: &str) -> Option<String> {
    let name = text.strip_suffix('.').unwrap_or(text).to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 || labels.last() != Some(&"local") || name.len() > 253 {
        return None;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    labels.iter().all(label_ok).then_some(name)
}

/// The canonical form of an address key in the config's `lan_sims` table (so that
/// `"FE80::0001"` and `fe80::1` are the same address); `None` when it is not a LAN target.
pub fn canonical(address: &str) -> Option<String> {
    parse_target(address).map(|t| t.host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::v4("192.168.1.20", Some("192.168.1.20"))]
    #[case::loopback("127.0.0.1", Some("127.0.0.1"))]
    #[case::v6("fe80::0001", Some("fe80::1"))]
    #[case::v6_upper("FE80::1", Some("fe80::1"))]
    #[case::v6_brackets("[::1]", Some("::1"))]
    #[case::v6_zone("fe80::1%eth0", Some("fe80::1%eth0"))]
    #[case::mdns("Kiosk-12.local", Some("kiosk-12.local"))]
    #[case::mdns_dot("raspberrypi.local.", Some("raspberrypi.local"))]
    #[case::mdns_sub("a.b.local", Some("a.b.local"))]
    #[case::name("kiosk-12", None)]
    #[case::sim_id("8981200000000000001", None)]
    #[case::imsi("440103212345678", None)]
    #[case::bare_local("local", None)]
    #[case::bad_label("bad_name.local", None)]
    #[case::empty_label("a..local", None)]
    #[case::other_domain("kiosk.example.com", None)]
    #[case::v4_zone("10.0.0.1%eth0", None)]
    #[case::bad_zone("fe80::1%", None)]
    #[case::hostile_zone("fe80::1%a;b", None)]
    #[case::short_v4("1.2.3", None)]
    fn parses(#[case] arg: &str, #[case] host: Option<&str>) {
        assert_eq!(parse_target(arg).map(|t| t.host), host.map(str::to_string));
    }

    #[test]
    fn alias_is_stable_per_address() {
        assert_eq!(
            parse_target("192.168.1.20").unwrap().alias(),
            "lan:192.168.1.20"
        );
        assert_eq!(
            parse_target("[FE80::0:1]").unwrap().alias(),
            parse_target("fe80::1").unwrap().alias()
        );
        assert_eq!(canonical("PI.LOCAL"), Some("pi.local".into()));
    }
}
