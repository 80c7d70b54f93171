//! The source range a mapping allows: `NAPSH_SOURCE_CIDR`, else config `source_cidr`, else our
//! public address from an IP-echo service as a `/32` (or `/128`); the policy of
//! `napsh_core::source_range` applied to it.

use crate::config::parse_cidr;
use crate::error::NapshError;
use anyhow::Result;
use ipnet::IpNet;
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal_truncated;
use napsh_core::source_range::{self, Verdict};
use std::net::IpAddr;
use std::time::Duration;

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
    /// The source range for new mappings, with the policy applied: a world-open range only
    /// when allowed explicitly (`--allow-any-source`, `allow_any_source = true`), one warning
    /// for a wide one.
    pub async fn source_cidr(&self) -> Result<ipnet::IpNet> {
        let net = source_cidr(self.config.source_cidr.as_deref(), &self.config.ip_echo_url).await?;
        match source_range::check(&net, self.config.allow_any_source) {
            Ok(Verdict::Fine) => {}
            Ok(Verdict::Warn(w)) => warn_once(&w),
            Err(e) => {
                return Err(NapshError::config(e.message(&net.to_string()))
                    .hint("if that is really meant, pass --allow-any-source (or set allow_any_source = true in the napsh config)")
                    .into())
            }
        }
        Ok(net)
    }
}

/// Prints a source-range warning once per process (fan-out asks for the range per device).
fn warn_once(text: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| crate::output::warn(text));
}
