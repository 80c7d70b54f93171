//! napsh-core: the pure, I/O-free logic shared by the `napsh` CLI and its Zellij plugin.
//!
//! Everything here compiles for the host and for `wasm32-wasip1`, and is tested natively.

pub mod access;
pub mod alias;
pub mod device;
pub mod filter;
pub mod fleet_tab;
pub mod guide;
pub mod ids;
pub mod lan;
pub mod messages;
pub mod picker;
pub mod picker_feed;
pub mod plugin_config;
pub mod profile_file;
pub mod resolve;
pub mod resume;
pub mod sam;
pub mod sanitize;
pub mod server_clock;
pub mod service;
pub mod service_prompt;
pub mod shell;
pub mod soracom;
pub mod source_range;
pub mod wrap;
pub mod zellij_compat;

pub use device::Device;
pub mod audit;
pub mod authorized_keys;
pub mod fanout;
pub mod inventory;
pub mod journal;
pub mod lease;
pub mod ssh_config;
pub mod ssh_kex;
pub mod targets;
pub mod tunnel_spec;
pub mod web;
