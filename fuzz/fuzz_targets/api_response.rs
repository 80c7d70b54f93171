//! Fuzz: any bytes as a Soracom API response body. Parsing never panics; every SIM that
//! parses becomes a `Device` whose displayed label is terminal-safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::sanitize::{for_terminal, is_unsafe};
use napsh_core::soracom::{from_api_bytes, ApiErrorBody, AuthResponse, PortMapping, Sim};
use napsh_core::Device;

fuzz_target!(|body: &[u8]| {
    if let Ok(sims) = from_api_bytes::<Vec<Sim>>(body) {
        for sim in &sims {
            let device = Device::from_sim(sim);
            let shown = for_terminal(device.label());
            assert!(!shown.chars().any(is_unsafe), "unsafe label {shown:?}");
            let _ = sim.all_imsis();
        }
    }
    if let Ok(maps) = from_api_bytes::<Vec<PortMapping>>(body) {
        for m in &maps {
            let _ = (m.target_sim_id(), m.target_imsi(), m.is_expired(0));
        }
    }
    let _ = from_api_bytes::<Sim>(body);
    let _ = from_api_bytes::<AuthResponse>(body);
    let _ = from_api_bytes::<ApiErrorBody>(body);
});
