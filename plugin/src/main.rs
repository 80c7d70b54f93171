//! napsh's Zellij plugin: the device picker. The plugin body only exists for wasm; the logic
//! it adapts lives in `napsh-core` and is tested natively there.

#[cfg(target_arch = "wasm32")]
include!("plugin.rs");

#[cfg(not(target_arch = "wasm32"))]
fn main() {}
