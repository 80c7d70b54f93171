//! The source range a mapping allows: `NAPSH_SOURCE_CIDR`, else config `source_cidr`, else our
//! public address from an IP-echo service as a `/32` (or `/128`).

use crate::config::parse_cidr;
use crate::error::NapshError;
use anyhow::Result;
use ipnet::IpNet;
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal_truncated;
use std::net::IpAddr;
use std::time::Duration;

/// Whether a mapping allowing `ranges` lets `ours` connect.
pub fn covers(ranges: &[String], ours: &IpNet) -> bool {
    ranges
        .iter()
        .filter_map(|r| r.trim().parse::<IpNet>().ok())
        .any(|r| r.contains(ours))
}

/// The source range to use (env > config > detection via `echo_url`).
pub async fn source_cidr(config_cidr: Option<&str>, echo_url: &str) -> Result<IpNet> {
    if let Some(env) = std::env::var("NAPSH_SOURCE_CIDR")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return parse_cidr(&env).map_err(|e| e.context("NAPSH_SOURCE_CIDR"));
    }
    if let Some(c) = config_cidr {
        return parse_cidr(c);
    }
    detect(echo_url).await
}

/// Asks an IP-echo service for our public address.
pub async fn detect(echo_url: &str) -> Result<IpNet> {
    let _span = tracing::info_span!("ip_echo", url = echo_url).entered();
    let unreachable = |why: String| {
        NapshError::new(
            ErrorKind::Network,
            format!("could not detect your public IP address via {echo_url}: {why}"),
        )
        .hint("set source_cidr in the napsh config or NAPSH_SOURCE_CIDR (e.g. 198.51.100.7/32)")
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let resp = client
        .get(echo_url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| unreachable(e.to_string()))?;
    let text = resp.text().await.map_err(|e| unreachable(e.to_string()))?;
    let ip: IpAddr = text.trim().parse().map_err(|_| {
        unreachable(format!(
            "it answered \"{}\", not an IP address",
            for_terminal_truncated(text.trim(), 60)
        ))
    })?;
    tracing::info!(%ip, "detected public address");
    Ok(IpNet::from(ip))
}

/// Defined here rather than in `app.rs`, so that the per-invocation context does not
/// depend on the napter modules that use it.
impl crate::app::App {
    /// The source range for new mappings.
    pub async fn source_cidr(&self) -> Result<ipnet::IpNet> {
        crate::napter::source_range::source_cidr(
            self.config.source_cidr.as_deref(),
            &self.config.ip_echo_url,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["198.51.100.7/32"], "198.51.100.7/32", true)]
    #[case(&["198.51.100.0/24"], "198.51.100.7/32", true)]
    #[case(&["198.51.100.8/32"], "198.51.100.7/32", false)]
    #[case(&["198.51.100.7/32"], "198.51.100.0/24", false)]
    #[case(&["garbage", "0.0.0.0/0"], "203.0.113.1/32", true)]
    #[case(&[], "203.0.113.1/32", false)]
    fn coverage(#[case] ranges: &[&str], #[case] ours: &str, #[case] expected: bool) {
        let ranges: Vec<String> = ranges.iter().map(|s| s.to_string()).collect();
        assert_eq!(covers(&ranges, &parse_cidr(ours).unwrap()), expected);
    }
}
