//! "Console" actions: what someone other than napsh does to the fleet's mappings (the Soracom
//! console, a colleague's tool): create a mapping for any device, optionally at an exact
//! endpoint, and delete one. None of it goes through `/v1`, so none of it is in the request log.

use crate::api::port_mappings::sim_spec;
use crate::errors::{ApiError, ApiResult};
use crate::napter;
use crate::state::AppState;
use axum::http::StatusCode;
use napsh_core::soracom::{
    CreatePortMappingRequest, PortMapping, PortMappingDestination, PortMappingSource,
};
use serde::{Deserialize, Serialize};

/// A mapping made outside napsh (`Emulator::console_create`, `POST /_emulator/mappings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleMapping {
    /// SIM the mapping reaches (created in the per-SIM form, `service` air, as the console does).
    pub sim_id: String,
    /// Device port (default 22).
    pub device_port: u16,
    /// Source ranges (CIDR); empty = every source.
    pub ip_ranges: Vec<String>,
    /// Lifetime in seconds (default 3600, at most 28800 like the API).
    pub duration_secs: u64,
    /// The exact endpoint port to listen on, e.g. one just freed: the way a test hands a freed
    /// `ip:port` to another device. Any free port when `None`.
    pub port: Option<u16>,
}

impl Default for ConsoleMapping {
    fn default() -> Self {
        ConsoleMapping {
            sim_id: String::new(),
            device_port: 22,
            ip_ranges: Vec::new(),
            duration_secs: 3600,
            port: None,
        }
    }
}

impl ConsoleMapping {
    /// A one-hour mapping to port 22 of `sim_id`, open to every source, at any free endpoint.
    pub fn new(sim_id: &str) -> Self {
        ConsoleMapping {
            sim_id: sim_id.to_string(),
            ..Default::default()
        }
    }

    /// The same request as napsh would send for it (validated like one).
    fn request(&self) -> CreatePortMappingRequest {
        CreatePortMappingRequest {
            destination: PortMappingDestination {
                port: self.device_port,
                sim_id: Some(self.sim_id.clone()),
                service: Some("air".to_string()),
                ..Default::default()
            },
            duration: Some(self.duration_secs),
            tls_required: Some(false),
            source: (!self.ip_ranges.is_empty()).then(|| PortMappingSource {
                ip_ranges: self.ip_ranges.clone(),
            }),
        }
    }
}

/// Creates `mapping` as the console would (audit `CREATED`); 404 for an unknown SIM, 400 for
/// what the API would refuse, 409 when the endpoint port is held by a live mapping.
pub async fn create(state: &AppState, mapping: &ConsoleMapping) -> ApiResult<PortMapping> {
    let spec = sim_spec(state, &mapping.sim_id, &mapping.request())?;
    napter::open(state, spec, mapping.port)
        .await
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "SBX0006", format!("{e:#}")))
}

/// Deletes the mapping `ip:port` as the console would (audit `DELETED`, live connections cut);
/// false when there is none.
pub fn delete(state: &AppState, ip: &str, port: u16) -> bool {
    napter::delete(state, ip, port).is_some()
}
