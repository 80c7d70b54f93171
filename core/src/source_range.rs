//! The source range policy of Napter mappings: parsing a CIDR strictly (host bits set is an
//! error that names the network meant), refusing a world-open range unless allowed, warning
//! about wide ones, and deciding whether a live mapping's ranges lie within ours.

use ipnet::IpNet;
use std::net::IpAddr;

/// An IPv4 range wider than this prefix gets a warning.
pub const WIDE_V4_PREFIX: u8 = 24;
/// An IPv6 range wider than this prefix (a site) gets a warning.
pub const WIDE_V6_PREFIX: u8 = 56;

/// Why a source range is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// Neither a CIDR nor an address.
    NotCidr,
    /// The address has bits set beyond the prefix: `given` means `network`.
    HostBits {
        /// The range as written.
        given: String,
        /// The network the prefix selects.
        network: IpNet,
    },
    /// `0.0.0.0/0` or `::/0` without the explicit permission.
    WorldOpen(IpNet),
}

impl SourceError {
    /// One line saying what is wrong and what to do (`text` is terminal-safe already).
    pub fn message(&self, text: &str) -> String {
        match self {
            SourceError::NotCidr => {
                format!("\"{text}\" is not a CIDR range; write it like 198.51.100.7/32")
            }
            SourceError::HostBits { network, .. } => format!(
                "\"{text}\" has host bits set beyond its prefix: write {network} for that network, or {}/{} for the single address",
                text.split('/').next().unwrap_or(text),
                max_prefix(network)
            ),
            SourceError::WorldOpen(net) => format!(
                "the source range {net} lets anyone on the internet connect to the device"
            ),
        }
    }
}

/// Parses a source range: `198.51.100.7/32`, or a bare address meaning that single host.
/// A range whose address has host bits set (`127.0.0.1/1`) is refused, never truncated.
pub fn parse(text: &str) -> Result<IpNet, SourceError> {
    let t = text.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = t.parse().map_err(|_| SourceError::NotCidr)?;
    if net.trunc() != net {
        return Err(SourceError::HostBits {
            given: t.to_string(),
            network: net.trunc(),
        });
    }
    Ok(net)
}

/// Whether `net` admits every address of its family.
pub fn is_world_open(net: &IpNet) -> bool {
    net.prefix_len() == 0
}

/// Whether `net` is wide enough to deserve a warning (wider than /24, or /56 for IPv6).
pub fn is_wide(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => n.prefix_len() < WIDE_V4_PREFIX,
        IpNet::V6(n) => n.prefix_len() < WIDE_V6_PREFIX,
    }
}

/// What the policy says of a range napsh is about to put on new mappings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Use it as it is.
    Fine,
    /// Use it, with one warning line.
    Warn(String),
}

/// Applies the policy: world-open only with `allow_world_open`, a warning for wide ranges.
pub fn check(net: &IpNet, allow_world_open: bool) -> Result<Verdict, SourceError> {
    if is_world_open(net) && !allow_world_open {
        return Err(SourceError::WorldOpen(*net));
    }
    if is_world_open(net) {
        return Ok(Verdict::Warn(format!(
            "the source range {net} lets anyone on the internet connect to the device (allowed explicitly)"
        )));
    }
    if is_wide(net) {
        return Ok(Verdict::Warn(format!(
            "the source range {net} is wide: anyone in it may connect to the device; prefer your own address (/32)"
        )));
    }
    Ok(Verdict::Fine)
}

/// Whether a mapping allowing `ranges` admits nobody outside `ours`: every range parses and
/// lies within ours, and there is at least one. A mapping with a wider or unreadable range,
/// or with none (every source), is never reused.
pub fn within(ranges: &[String], ours: &IpNet) -> bool {
    !ranges.is_empty()
        && ranges.iter().all(|r| match r.trim().parse::<IpNet>() {
            Ok(net) => ours.contains(&net),
            Err(_) => r
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| ours.contains(&ip)),
        })
}

/// Whether a mapping allows exactly `ours` and nothing else.
pub fn exactly(ranges: &[String], ours: &IpNet) -> bool {
    !ranges.is_empty()
        && ranges.iter().all(|r| {
            r.trim()
                .parse::<IpNet>()
                .ok()
                .or_else(|| r.trim().parse::<IpAddr>().ok().map(IpNet::from))
                == Some(*ours)
        })
}

fn max_prefix(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(_) => 32,
        IpNet::V6(_) => 128,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("198.51.100.7/32", "198.51.100.7/32")]
    #[case(" 198.51.100.7 ", "198.51.100.7/32")]
    #[case("2001:db8::1", "2001:db8::1/128")]
    #[case("10.0.0.0/8", "10.0.0.0/8")]
    #[case("0.0.0.0/0", "0.0.0.0/0")]
    fn parses(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(parse(input).unwrap().to_string(), expected);
    }

    #[rstest]
    #[case("127.0.0.1/1", "0.0.0.0/1")]
    #[case("10.1.2.3/8", "10.0.0.0/8")]
    #[case("2001:db8::1/32", "2001:db8::/32")]
    fn host_bits_are_an_error_naming_the_network(#[case] input: &str, #[case] network: &str) {
        let err = parse(input).unwrap_err();
        assert!(
            matches!(&err, SourceError::HostBits { network: n, .. } if n.to_string() == network)
        );
        let msg = err.message(input);
        assert!(msg.contains(network) && msg.contains("host bits"), "{msg}");
    }

    #[rstest]
    #[case("300.1.1.1/32")]
    #[case("1.2.3.4/33")]
    #[case("example.com")]
    #[case("")]
    fn rejects_garbage(#[case] input: &str) {
        assert_eq!(parse(input), Err(SourceError::NotCidr));
    }

    #[rstest]
    #[case("0.0.0.0/0", false, Err(()))]
    #[case("::/0", false, Err(()))]
    #[case("0.0.0.0/0", true, Ok(true))]
    #[case("198.51.100.0/23", false, Ok(true))]
    #[case("198.51.100.0/24", false, Ok(false))]
    #[case("198.51.100.7/32", false, Ok(false))]
    #[case("2001:db8::/48", false, Ok(true))]
    #[case("2001:db8::/64", false, Ok(false))]
    fn policy(#[case] range: &str, #[case] allow: bool, #[case] warns: Result<bool, ()>) {
        let got = check(&parse(range).unwrap(), allow)
            .map(|v| matches!(v, Verdict::Warn(_)))
            .map_err(|_| ());
        assert_eq!(got, warns);
    }

    #[rstest]
    #[case(&["198.51.100.7/32"], "198.51.100.7/32", true)]
    #[case(&["198.51.100.7"], "198.51.100.7/32", true)]
    #[case(&["198.51.100.7/32"], "198.51.100.0/24", true)]
    #[case(&["198.51.100.0/24"], "198.51.100.7/32", false)] // wider than ours: never
    #[case(&["0.0.0.0/0"], "198.51.100.7/32", false)]
    #[case(&["198.51.100.7/32", "203.0.113.1/32"], "198.51.100.7/32", false)]
    #[case(&["garbage"], "198.51.100.7/32", false)]
    #[case(&[], "198.51.100.7/32", false)]
    fn within_ours(#[case] ranges: &[&str], #[case] ours: &str, #[case] expected: bool) {
        let ranges: Vec<String> = ranges.iter().map(|s| s.to_string()).collect();
        assert_eq!(within(&ranges, &parse(ours).unwrap()), expected);
    }

    #[rstest]
    #[case(&["198.51.100.7/32"], true)]
    #[case(&["198.51.100.7"], true)]
    #[case(&["198.51.100.7/32", "198.51.100.7/32"], true)]
    #[case(&["198.51.100.0/24"], false)]
    #[case(&["198.51.100.7/32", "203.0.113.1/32"], false)]
    #[case(&[], false)]
    fn exactly_ours(#[case] ranges: &[&str], #[case] expected: bool) {
        let ranges: Vec<String> = ranges.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            exactly(&ranges, &parse("198.51.100.7/32").unwrap()),
            expected
        );
    }
}
