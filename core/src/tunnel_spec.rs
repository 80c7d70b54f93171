//! The `-p REMOTE[:[BIND:]LOCAL]` forward specs of `napsh tunnel`: parsing (never panics, one
//! clear message per mistake) and the local address each forward listens on.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// The address a forward listens on when the spec names none.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// One parsed `-p` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunnelSpec {
    /// The device port the Napter mapping targets (1–65535).
    pub remote: u16,
    /// Local address to listen on (default 127.0.0.1).
    pub bind: IpAddr,
    /// Local port: `None` = the remote port when free, else any free port; `Some(0)` = any
    /// free port; `Some(n)` = exactly n (failing when taken).
    pub local: Option<u16>,
}

/// Why a `-p` value is not a valid spec (the message names the value and the fix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// The accepted forms, quoted in every error.
const FORMS: &str =
    "expected REMOTE, REMOTE:LOCAL or REMOTE:BIND:LOCAL (e.g. 80, 80:8080, 80:0.0.0.0:8080, 22:[::1]:2222)";

impl TunnelSpec {
    /// Parses `REMOTE[:[BIND:]LOCAL]`. BIND is an IPv4 address, `[IPv6]`, or `localhost`.
    pub fn parse(text: &str) -> Result<TunnelSpec, SpecError> {
        let shown = crate::sanitize::for_terminal_truncated(text, 60);
        let fail = |why: &str| SpecError(format!("-p {shown:?}: {why}; {FORMS}"));
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(fail("empty forward"));
        }
        let (remote, rest) = match trimmed.split_once(':') {
            Some((r, rest)) => (r, Some(rest)),
            None => (trimmed, None),
        };
        let remote = parse_port(remote, "device port").map_err(|w| fail(&w))?;
        if remote == 0 {
            return Err(fail("device port 0 is not a port"));
        }
        let (bind, local) = match rest {
            None => (DEFAULT_BIND, None),
            Some(rest) => split_bind_local(rest).map_err(|w| fail(&w))?,
        };
        Ok(TunnelSpec {
            remote,
            bind,
            local,
        })
    }

    /// The local port to try first: the explicit one, else the remote port.
    pub fn preferred_local(&self) -> u16 {
        self.local.unwrap_or(self.remote)
    }

    /// Whether another free port may be used when the preferred one is taken (only when
    /// LOCAL was not given).
    pub fn may_pick_another(&self) -> bool {
        self.local.is_none()
    }

    /// The warning for a forward listening beyond this machine: an unspecified address
    /// (`0.0.0.0`, `::`) binds every interface, any other non-loopback address one that other
    /// hosts can reach. `None` for loopback.
    pub fn exposure_warning(&self) -> Option<String> {
        if self.bind.is_loopback() {
            return None;
        }
        let reach = if self.bind.is_unspecified() {
            "every network interface"
        } else {
            "a network interface"
        };
        Some(format!(
            "-p {self} listens on {reach} ({}): anyone who can reach this machine there can reach device port {} (bind 127.0.0.1 to keep it local)",
            format_bind(self.bind),
            self.remote
        ))
    }
}

impl fmt::Display for TunnelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.local {
            None => write!(f, "{}", self.remote),
            Some(l) => write!(f, "{}:{}:{l}", self.remote, format_bind(self.bind)),
        }
    }
}

/// `1.2.3.4` or `[::1]`: how an address is written before `:PORT`.
pub fn format_bind(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Splits `LOCAL`, `BIND:LOCAL` or `[V6]:LOCAL`.
fn split_bind_local(rest: &str) -> Result<(IpAddr, Option<u16>), String> {
    let (bind, local) = if let Some(after) = rest.strip_prefix('[') {
        let (v6, tail) = after
            .split_once(']')
            .ok_or_else(|| "an IPv6 bind address needs its closing `]`".to_string())?;
        let local = tail
            .strip_prefix(':')
            .ok_or_else(|| "`]` must be followed by `:LOCAL`".to_string())?;
        let v6 = v6.parse::<std::net::Ipv6Addr>().map_err(|_| {
            format!(
                "bind address [{}] is not an IPv6 address",
                crate::sanitize::for_terminal_truncated(v6, 40)
            )
        })?;
        (IpAddr::V6(v6), local)
    } else {
        match rest.rsplit_once(':') {
            Some((b, l)) => (parse_bind(b)?, l),
            None => (DEFAULT_BIND, rest),
        }
    };
    let local = parse_port(local, "local port")?;
    Ok((bind, Some(local)))
}

/// A bind address: IPv4, IPv6 (already unbracketed) or `localhost`.
fn parse_bind(text: &str) -> Result<IpAddr, String> {
    if text.eq_ignore_ascii_case("localhost") {
        return Ok(DEFAULT_BIND);
    }
    if text.is_empty() {
        return Err("empty bind address".into());
    }
    if text.contains(':') {
        return Err("an IPv6 bind address goes in brackets, e.g. 22:[::1]:2222".into());
    }
    text.parse::<IpAddr>().map_err(|_| {
        format!(
            "bind address {:?} is not an IP address (an IPv6 one goes in brackets)",
            crate::sanitize::for_terminal_truncated(text, 40)
        )
    })
}

/// A decimal port 0–65535 (`what` names it in the message).
fn parse_port(text: &str, what: &str) -> Result<u16, String> {
    let shown = crate::sanitize::for_terminal_truncated(text, 20);
    if text.is_empty() {
        return Err(format!("missing {what}"));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {shown:?} is not a number"));
    }
    text.parse::<u16>()
        .map_err(|_| format!("{what} {shown} is above 65535"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::net::Ipv6Addr;

    #[rstest]
    #[case("22:0.0.0.0:2222", Some("every network interface (0.0.0.0)"))]
    #[case("22:[::]:2222", Some("every network interface ([::])"))]
    #[case("22:192.0.2.7:2222", Some("a network interface (192.0.2.7)"))]
    #[case("22:2222", None)]
    #[case("22:[::1]:2222", None)]
    fn only_a_bind_beyond_loopback_warns(#[case] spec: &str, #[case] says: Option<&str>) {
        let warning = TunnelSpec::parse(spec).unwrap().exposure_warning();
        match (says, warning) {
            (Some(s), Some(w)) => assert!(w.contains(s) && w.contains("device port 22"), "{w}"),
            (None, None) => {}
            (s, w) => panic!("{s:?} vs {w:?}"),
        }
    }

    const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

    #[rstest]
    #[case("80", 80, DEFAULT_BIND, None)]
    #[case(" 22 ", 22, DEFAULT_BIND, None)]
    #[case("80:8080", 80, DEFAULT_BIND, Some(8080))]
    #[case("80:0", 80, DEFAULT_BIND, Some(0))]
    #[case("80:0.0.0.0:8080", 80, ANY4, Some(8080))]
    #[case("80:localhost:8080", 80, DEFAULT_BIND, Some(8080))]
    #[case("22:[::1]:2222", 22, IpAddr::V6(Ipv6Addr::LOCALHOST), Some(2222))]
    #[case("65535:65535", 65535, DEFAULT_BIND, Some(65535))]
    #[case("0080:08080", 80, DEFAULT_BIND, Some(8080))]
    fn parses_valid_specs(
        #[case] text: &str,
        #[case] remote: u16,
        #[case] bind: IpAddr,
        #[case] local: Option<u16>,
    ) {
        assert_eq!(
            TunnelSpec::parse(text),
            Ok(TunnelSpec {
                remote,
                bind,
                local
            })
        );
    }

    #[rstest]
    #[case("", "empty forward")]
    #[case("   ", "empty forward")]
    #[case("0", "device port 0")]
    #[case("http", "device port \"http\" is not a number")]
    #[case("-1", "is not a number")]
    #[case("+80", "is not a number")]
    #[case("65536", "above 65535")]
    #[case("99999999999999999999999", "above 65535")]
    #[case("80:", "missing local port")]
    #[case(":80", "missing device port")]
    #[case("80:x", "local port \"x\" is not a number")]
    #[case("80:1.2.3:8080", "is not an IP address")]
    #[case("80::8080", "empty bind address")]
    #[case("80:::1:8080", "goes in brackets")]
    #[case("80:[::1:8080", "closing `]`")]
    #[case("80:[::1]8080", "followed by `:LOCAL`")]
    #[case("80:[nope]:8080", "is not an IPv6 address")]
    #[case("80:[1.2.3.4]:8080", "is not an IPv6 address")]
    #[case("80:127.0.0.1:70000", "above 65535")]
    #[case("8\u{1b}[31m0", "is not a number")]
    fn rejects_bad_specs_with_a_clear_reason(#[case] text: &str, #[case] why: &str) {
        let err = TunnelSpec::parse(text).unwrap_err().to_string();
        assert!(err.contains(why), "{err:?} should mention {why:?}");
        assert!(
            err.contains("REMOTE:BIND:LOCAL"),
            "{err:?} should show the forms"
        );
        assert!(!err.contains('\u{1b}'), "{err:?} must be terminal-safe");
    }

    #[rstest]
    #[case("80", 80, true)]
    #[case("80:8080", 8080, false)]
    #[case("80:0", 0, false)]
    fn preferred_local_port(#[case] text: &str, #[case] port: u16, #[case] flexible: bool) {
        let spec = TunnelSpec::parse(text).unwrap();
        assert_eq!(spec.preferred_local(), port);
        assert_eq!(spec.may_pick_another(), flexible);
    }

    #[rstest]
    #[case("80", "80")]
    #[case("80:8080", "80:127.0.0.1:8080")]
    #[case("22:[::1]:2222", "22:[::1]:2222")]
    fn display_round_trips(#[case] text: &str, #[case] shown: &str) {
        let spec = TunnelSpec::parse(text).unwrap();
        assert_eq!(spec.to_string(), shown);
        assert_eq!(TunnelSpec::parse(shown), Ok(spec));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let samples = [
            ":",
            "::",
            ":::",
            "[",
            "]",
            "[]:",
            "[]:1",
            "1:[",
            "1:]",
            "1:[]",
            "1:[]:",
            "1:[]:2",
            "\u{0}",
            "1:\u{202e}:2",
            "١٢",
            "1:2:3:4",
            "1:2:3",
            "𝟙",
            "1 :2",
        ];
        for s in samples {
            let _ = TunnelSpec::parse(s);
        }
    }
}
