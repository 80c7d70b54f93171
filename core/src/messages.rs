//! The JSON messages napsh prints for machines (`--json`) and the Zellij plugin reads.
//!
//! Field names are camelCase like the Soracom API. Every message is one JSON value per line.

use crate::device::Device;
use serde::{Deserialize, Serialize};

/// What kind of failure happened: lets callers (the plugin, scripts) react without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The device argument matched nothing.
    UnknownDevice,
    /// The device argument matched several devices.
    AmbiguousDevice,
    /// The SIM has no data session.
    Offline,
    /// No usable soracom-cli profile or credentials.
    NoCredentials,
    /// Credentials rejected (401 from `/auth`).
    AuthFailed,
    /// SAM user lacks a permission (403).
    PermissionDenied,
    /// Soracom said 404 for something that should exist.
    NotFound,
    /// 429 that did not clear within our retry budget.
    RateLimited,
    /// Any other API error (400, 5xx, malformed body).
    Api,
    /// Could not reach the API or the endpoint (DNS, refused, reset).
    Network,
    /// Something took longer than its deadline.
    Timeout,
    /// The device presented a host key other than the pinned one.
    HostKeyChanged,
    /// The SSH connection or authentication failed.
    Ssh,
    /// Bad configuration or command-line input.
    Config,
    /// A bug or an unexpected local failure.
    Internal,
}

impl ErrorKind {
    /// The process exit code napsh uses for this kind (documented in the README).
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Config | ErrorKind::UnknownDevice | ErrorKind::AmbiguousDevice => 2,
            ErrorKind::NoCredentials | ErrorKind::AuthFailed | ErrorKind::PermissionDenied => 3,
            ErrorKind::Offline | ErrorKind::NotFound => 4,
            ErrorKind::RateLimited | ErrorKind::Api | ErrorKind::Network | ErrorKind::Timeout => 5,
            ErrorKind::HostKeyChanged | ErrorKind::Ssh => 6,
            ErrorKind::Internal => 70,
        }
    }

    /// Whether showing the manual connection guide can help the user past this failure.
    pub fn guide_helps(self) -> bool {
        !matches!(
            self,
            ErrorKind::UnknownDevice | ErrorKind::AmbiguousDevice | ErrorKind::Config
        )
    }
}

/// A failure, as printed by `--json` commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// Machine-readable category.
    pub kind: ErrorKind,
    /// Soracom error code (`SEM0095`…) when the API gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One line: what failed and what to do.
    pub message: String,
}

/// A usable Napter endpoint for one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// Address to connect to.
    pub ip_address: String,
    /// Port to connect to.
    pub port: u16,
    /// DNS name of the endpoint, when Soracom gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Device port it forwards to.
    pub device_port: u16,
    /// Expiry (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whether an existing mapping was reused rather than created.
    pub reused: bool,
}

impl Endpoint {
    /// The host a user should type: the hostname when known, else the address.
    pub fn host(&self) -> &str {
        self.hostname.as_deref().unwrap_or(&self.ip_address)
    }
}

/// One line of `napsh connect --json`: the outcome for one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectResult {
    /// The argument as the user gave it.
    pub device: String,
    /// SIM id, when the argument resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_id: Option<String>,
    /// Device name tag, when the argument resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `true` when `endpoint` is set.
    pub ok: bool,
    /// The endpoint, on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// What went wrong, on failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    /// The manual connection guide, on failure where it helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guide: Option<String>,
}

/// A mapping as napsh lists it next to a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingSummary {
    /// `ip:port` to connect to.
    pub endpoint: String,
    /// DNS name of the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Device port.
    pub device_port: u16,
    /// Expiry (unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whether this napsh created it (and will delete it).
    pub owned: bool,
}

/// One element of `napsh devices --json`: the device plus its live mappings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceEntry {
    /// The device.
    #[serde(flatten)]
    pub device: Device,
    /// Live (non-expired) mappings to it.
    #[serde(default)]
    pub mappings: Vec<MappingSummary>,
}

/// `napsh guide --json DEVICE`: the manual guide for one device, with the reason napsh last
/// recorded for a failure to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuideReport {
    /// The device as the user knows it (name tag or SIM id).
    pub device: String,
    /// SIM id, when the device resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_id: Option<String>,
    /// One sentence: the last failure napsh saw for this device, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The live mapping, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// The guide text (already sanitised), lines separated by `\n`.
    pub text: String,
}

/// The top-level error object `--json` commands print when the whole command failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The failure.
    pub error: ErrorInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_result_round_trips_with_camel_case() {
        let r = ConnectResult {
            device: "kiosk".into(),
            sim_id: Some("898".into()),
            name: Some("kiosk".into()),
            ok: false,
            endpoint: None,
            error: Some(ErrorInfo {
                kind: ErrorKind::Offline,
                code: None,
                message: "offline".into(),
            }),
            guide: Some("steps".into()),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.contains(r#""simId":"898""#) && text.contains(r#""kind":"offline""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ConnectResult>(&text).unwrap(), r);
    }

    #[test]
    fn exit_codes_are_distinct_per_family() {
        assert_eq!(ErrorKind::UnknownDevice.exit_code(), 2);
        assert_eq!(ErrorKind::PermissionDenied.exit_code(), 3);
        assert_eq!(ErrorKind::Offline.exit_code(), 4);
        assert_eq!(ErrorKind::RateLimited.exit_code(), 5);
        assert_eq!(ErrorKind::HostKeyChanged.exit_code(), 6);
    }
}
