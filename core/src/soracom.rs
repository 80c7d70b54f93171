//! Soracom API wire types: the JSON bodies of the operations napsh and its emulator speak,
//! with the field names of the official OpenAPI spec (`soracom-api.en.yaml`).
//!
//! Optional fields are skipped when absent so that what we serialise matches what the real
//! API sends; unknown fields are ignored when parsing so that new API fields never break us.
//! Reading is tolerant ([`lenient`]): a field napsh needs accepts every form the spec allows
//! and is otherwise refused by name ([`answer`]); a field napsh only shows reads as unknown
//! when it comes in another shape.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod answer;
pub mod lenient;
pub mod users;

/// The tag set of a SIM: always has `name` (`""` when unnamed), plus any custom tags.
pub type TagSet = BTreeMap<String, String>;

/// Body of `POST /v1/auth`: exactly one of the three credential forms is filled in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthRequest {
    /// AuthKey id (root or SAM user auth key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_key_id: Option<String>,
    /// AuthKey secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_key: Option<String>,
    /// Root account e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Operator id, for SAM user password login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
    /// SAM user name (note: `userName` on the wire, `username` in soracom-cli profiles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Password for the root account or SAM user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Token lifetime in seconds (180–172800, default 86400).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_timeout_seconds: Option<u64>,
}

/// Body of a successful `POST /v1/auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthResponse {
    /// Sent back as `X-Soracom-API-Key`.
    pub api_key: String,
    /// Sent back as `X-Soracom-Token`.
    pub token: String,
    /// The operator the credentials belong to.
    pub operator_id: String,
    /// Present only for SAM users.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_name: Option<String>,
}

/// The error body Soracom returns on 4xx/5xx: `{"code":"COM0001","message":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Component-prefixed error code, e.g. `AUM0001`, `SEM0002`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Current session of a SIM (`Sim.sessionStatus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatus {
    /// Whether the SIM has an active data session.
    #[serde(default, deserialize_with = "lenient::flag_or_false")]
    pub online: bool,
    /// IMSI of the attached subscriber.
    #[serde(
        default,
        deserialize_with = "lenient::imsi_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imsi: Option<String>,
    /// Device address inside the Soracom network.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub ue_ip_address: Option<String>,
    /// When the session status last changed (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_updated_at: Option<i64>,
    /// IMEI of the device.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imei: Option<String>,
    /// Session id.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    /// Subscription name (e.g. `plan01s`).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub subscription: Option<String>,
}

/// One subscriber (IMSI) inside a SIM profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimplifiedSubscriber {
    /// The subscriber's IMSI.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imsi: Option<String>,
    /// MSISDN, when the subscription has one.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub msisdn: Option<String>,
    /// Subscription status.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
}

/// One profile (ICCID) of a SIM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimProfile {
    /// The profile's ICCID.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub iccid: Option<String>,
    /// The profile's primary IMSI.
    #[serde(
        default,
        deserialize_with = "lenient::imsi_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_imsi: Option<String>,
    /// Whether over-the-air updates are supported.
    #[serde(
        default,
        deserialize_with = "lenient::flag_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub ota_supported: Option<bool>,
    /// Subscribers keyed by IMSI.
    #[serde(
        default,
        deserialize_with = "lenient::part_or_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub subscribers: BTreeMap<String, SimplifiedSubscriber>,
}

/// An IoT SIM as returned by `GET /v1/sims` and friends (the fields napsh uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sim {
    /// The SIM id (validated: letters and digits only, see `ids::SimId`).
    #[serde(deserialize_with = "lenient::sim_id")]
    pub sim_id: String,
    /// Operator owning the SIM.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_id: Option<String>,
    /// SIM status (`active`, `inactive`, …).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Speed class, e.g. `s1.standard`.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub speed_class: Option<String>,
    /// Group the SIM belongs to.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<String>,
    /// Tags; `name` is the device name (untrusted text).
    #[serde(default, deserialize_with = "lenient::tags")]
    pub tags: TagSet,
    /// Current session.
    #[serde(
        default,
        deserialize_with = "lenient::part_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_status: Option<SessionStatus>,
    /// Profiles keyed by ICCID.
    #[serde(
        default,
        deserialize_with = "lenient::part_or_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub profiles: BTreeMap<String, SimProfile>,
    /// Id of the active profile (ICCID).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub active_profile_id: Option<String>,
    /// Last time Napter was used with this SIM (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_port_mapping_created_time: Option<i64>,
    /// Creation time (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<i64>,
    /// Last modification time (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified_time: Option<i64>,
    /// SIM type (`uicc`, `euicc`, `virtual`).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        rename = "type",
        skip_serializing_if = "Option::is_none"
    )]
    pub sim_type: Option<String>,
}

impl Sim {
    /// The IMSI napsh addresses the SIM by: the attached one when online, else the active
    /// profile's primary IMSI, else any profile's.
    pub fn primary_imsi(&self) -> Option<&str> {
        let attached = self.session_status.as_ref().and_then(|s| s.imsi.as_deref());
        let active = self
            .active_profile_id
            .as_ref()
            .and_then(|iccid| self.profiles.get(iccid))
            .and_then(|p| p.primary_imsi.as_deref());
        let any = self
            .profiles
            .values()
            .find_map(|p| p.primary_imsi.as_deref());
        attached.or(active).or(any)
    }

    /// Every IMSI the SIM has, in profile order (a subscriber key that is not an IMSI is
    /// left out).
    pub fn all_imsis(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for profile in self.profiles.values() {
            let subscribers = profile
                .subscribers
                .keys()
                .map(String::as_str)
                .filter(|k| crate::ids::Imsi::try_from(*k).is_ok());
            for imsi in profile
                .primary_imsi
                .as_deref()
                .into_iter()
                .chain(subscribers)
            {
                if !out.contains(&imsi) {
                    out.push(imsi);
                }
            }
        }
        if let Some(imsi) = self.session_status.as_ref().and_then(|s| s.imsi.as_deref()) {
            if !out.contains(&imsi) {
                out.push(imsi);
            }
        }
        out
    }
}

/// `destination` of a port mapping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMappingDestination {
    /// Device port.
    #[serde(deserialize_with = "lenient::whole")]
    pub port: u16,
    /// IMSI (for IMSI-addressed mappings).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imsi: Option<String>,
    /// SIM id (for SIM-addressed mappings).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub sim_id: Option<String>,
    /// `air` or `arc`; request only, never in responses.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub service: Option<String>,
    /// How the destination was chosen (`AIR_PRIORITIZED`, `IMSI_PRIORITIZED`, …); response only.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_choosing_strategy: Option<String>,
}

/// `source` of a port mapping: who may connect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMappingSource {
    /// CIDR allow-list.
    #[serde(default, deserialize_with = "lenient::part_or_default")]
    pub ip_ranges: Vec<String>,
}

/// Body of `POST /v1/port_mappings` and `POST /v1/port_mappings/sims/{sim_id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePortMappingRequest {
    /// Where to connect.
    pub destination: PortMappingDestination,
    /// Lifetime in **seconds** (max 28800).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Must be `false` for SSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_required: Option<bool>,
    /// Allowed sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<PortMappingSource>,
}

/// A Napter port mapping (on-demand remote access entry). Identified by (`ipAddress`, `port`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    /// Public IP address to connect to.
    pub ip_address: String,
    /// Public port to connect to.
    #[serde(deserialize_with = "lenient::whole")]
    pub port: u16,
    /// DNS name of the endpoint.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub hostname: Option<String>,
    /// `ip:port`.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint: Option<String>,
    /// The device side.
    pub destination: PortMappingDestination,
    /// IMSI (IMSI-addressed mappings only).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imsi: Option<String>,
    /// SIM id (SIM-addressed mappings only).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub sim_id: Option<String>,
    /// Allowed sources.
    #[serde(
        default,
        deserialize_with = "lenient::part_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<PortMappingSource>,
    /// Lifetime in seconds.
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<u64>,
    /// Creation time (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_time: Option<i64>,
    /// Expiry time (unix ms).
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub expired_time: Option<i64>,
    /// Whether it has expired.
    #[serde(
        default,
        deserialize_with = "lenient::flag_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub expired: Option<bool>,
    /// Whether the source side uses TLS.
    #[serde(
        default,
        deserialize_with = "lenient::flag_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls_required: Option<bool>,
    /// Owning operator.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_id: Option<String>,
    /// Rendezvous point.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub placement: Option<String>,
}

impl PortMapping {
    /// The SIM id this mapping points at, from either the top level or the destination.
    pub fn target_sim_id(&self) -> Option<&str> {
        self.sim_id
            .as_deref()
            .or(self.destination.sim_id.as_deref())
    }

    /// The IMSI this mapping points at, from either the top level or the destination.
    pub fn target_imsi(&self) -> Option<&str> {
        self.imsi.as_deref().or(self.destination.imsi.as_deref())
    }

    /// Seconds left before expiry at `now_ms`, or `None` when no expiry is known.
    pub fn seconds_left(&self, now_ms: i64) -> Option<i64> {
        self.expired_time.map(|t| ((t - now_ms) / 1000).max(0))
    }

    /// Whether the mapping is unusable at `now_ms` (flagged expired or past its expiry).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expired == Some(true) || self.expired_time.is_some_and(|t| t <= now_ms)
    }
}

/// `direction` of a Napter audit log entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NapterAuditLogDirection {
    /// Where the connection came from.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        rename = "sourceIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_ip_address: Option<String>,
    /// Client port.
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_port: Option<u16>,
    /// Mapping address that was contacted.
    #[serde(
        rename = "destinationIPAddress",
        skip_serializing_if = "Option::is_none"
    )]
    #[serde(default, deserialize_with = "lenient::text_or_unknown")]
    pub destination_ip_address: Option<String>,
    /// Mapping port that was contacted.
    #[serde(
        default,
        deserialize_with = "lenient::whole_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_port: Option<u16>,
}

/// One entry of `GET /v1/audit_logs/napter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NapterAuditLogEntry {
    /// CREATED, ACCESS, CONNECTED, DENIED, REFUSED, CLOSED, DELETED or EXPIRED.
    #[serde(rename = "type")]
    pub entry_type: String,
    /// When it happened (unix ms).
    #[serde(deserialize_with = "lenient::whole")]
    pub created_at: i64,
    /// Subscriber concerned.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub imsi: Option<String>,
    /// Owning operator.
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub operator_id: Option<String>,
    /// Connection id (connection events only).
    #[serde(
        default,
        deserialize_with = "lenient::text_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub connection_id: Option<String>,
    /// Endpoints of the connection.
    #[serde(
        default,
        deserialize_with = "lenient::part_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub direction: Option<NapterAuditLogDirection>,
    /// Whether TLS was used.
    #[serde(
        default,
        deserialize_with = "lenient::flag_or_unknown",
        skip_serializing_if = "Option::is_none"
    )]
    pub tls: Option<bool>,
}

/// Rate-limit response headers.
pub mod headers {
    /// Pagination cursor header.
    pub const NEXT_KEY: &str = "x-soracom-next-key";
    /// API key request header.
    pub const API_KEY: &str = "X-Soracom-API-Key";
    /// Token request header.
    pub const TOKEN: &str = "X-Soracom-Token";
    /// Requests allowed per window.
    pub const RATELIMIT_LIMIT: &str = "X-Soracom-Ratelimit-Limit";
    /// Requests left in this window.
    pub const RATELIMIT_REMAINING: &str = "X-Soracom-Ratelimit-Remaining";
    /// Seconds before the window refreshes.
    pub const RATELIMIT_REFRESH: &str = "X-Soracom-Ratelimit-Seconds-Before-Refresh";
}

/// Parses an API response body as JSON. Invalid UTF-8 (a tag written with raw bytes) is
/// replaced with U+FFFD instead of failing the whole answer; anything else that is not the
/// expected JSON is an error.
pub fn from_api_bytes<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_str(&String::from_utf8_lossy(body)),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_sim_id_that_is_not_letters_and_digits_is_refused_naming_the_field() {
        for bad in [
            "*",
            "192.168.1.20",
            "pi.local",
            "-oProxyCommand=x",
            "",
            "a b",
        ] {
            let body = serde_json::json!({ "simId": bad }).to_string();
            let err = serde_json::from_str::<Sim>(&body).unwrap_err().to_string();
            assert!(err.contains("SIM id"), "{bad:?}: {err}");
        }
        assert!(serde_json::from_str::<Sim>(r#"{"simId":"8981100000000000001"}"#).is_ok());
    }

    #[test]
    fn an_imsi_that_is_not_one_is_unknown_not_matched() {
        let body = r#"{"simId":"898","sessionStatus":{"imsi":"*"},
            "profiles":{"p":{"primaryImsi":"x y","subscribers":{"*":{},"440100000000001":{}}}}}"#;
        let sim: Sim = serde_json::from_str(body).unwrap();
        assert_eq!(sim.all_imsis(), ["440100000000001"]);
        assert_eq!(sim.session_status.unwrap().imsi, None);
    }

    use super::*;

    #[test]
    fn invalid_utf8_in_a_tag_is_replaced_not_fatal() {
        let body = b"[{\"simId\":\"1\",\"tags\":{\"name\":\"\xff\xfekiosk\"}}]";
        let sims: Vec<Sim> = from_api_bytes(body).unwrap();
        assert_eq!(sims[0].tags["name"], "\u{fffd}\u{fffd}kiosk");
        assert!(from_api_bytes::<Vec<Sim>>(b"[{\"simId\":").is_err());
    }

    #[test]
    fn sim_parses_spec_shape_and_ignores_unknown_fields() {
        let json = r#"{"simId":"8981100000000000001","tags":{"name":"kiosk-12","site":"osaka"},
            "sessionStatus":{"online":true,"imsi":"440101234567890","lastUpdatedAt":1700000000000,"cell":{}},
            "profiles":{"8981100000000000001":{"iccid":"8981100000000000001","primaryImsi":"440101234567890",
            "subscribers":{"440101234567890":{"imsi":"440101234567890","status":"active"}}}},
            "speedClass":"s1.standard","groupId":"g-1","futureField":42}"#;
        let sim: Sim = serde_json::from_str(json).unwrap();
        assert_eq!(sim.tags["name"], "kiosk-12");
        assert_eq!(sim.primary_imsi(), Some("440101234567890"));
        assert_eq!(sim.all_imsis(), vec!["440101234567890"]);
    }

    #[test]
    fn create_request_serialises_without_absent_fields() {
        let req = CreatePortMappingRequest {
            destination: PortMappingDestination {
                port: 22,
                service: Some("air".into()),
                ..Default::default()
            },
            duration: Some(3600),
            tls_required: Some(false),
            source: Some(PortMappingSource {
                ip_ranges: vec!["198.51.100.7/32".into()],
            }),
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"destination":{"port":22,"service":"air"},"duration":3600,"tlsRequired":false,"source":{"ipRanges":["198.51.100.7/32"]}}"#
        );
    }

    #[test]
    fn audit_direction_uses_upper_case_ip() {
        let d = NapterAuditLogDirection {
            source_ip_address: Some("1.2.3.4".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"sourceIPAddress":"1.2.3.4"}"#
        );
    }
}

#[cfg(test)]
mod drift_tests;
