//! napsh-core: the pure, I/O-free logic shared by the `napsh` CLI and its Zellij plugin.
//!
//! Everything here compiles for the host and for `wasm32-wasip1`, and is tested natively.

pub mod device;
pub mod filter;
pub mod guide;
pub mod messages;
pub mod picker;
pub mod picker_feed;
pub mod plugin_config;
pub mod resolve;
pub mod sanitize;
pub mod soracom;

pub use device::Device;
pub mod inventory;
pub mod ssh_config;
pub mod ssh_kex;
pub mod tunnel_spec;
