//! napsh-emulator: a Soracom API + Napter emulator with real TCP forwarding to real sshd
//! devices and run-time fault injection (see docs/DESIGN.md "Emulator contract").

pub mod admin;
pub mod api;
pub mod console;
pub mod dataplane;
pub mod drift;
pub mod emulator;
pub mod errors;
pub mod faults;
pub mod fleet;
pub mod forward;
pub mod napter;
pub mod pagination;
pub mod sam;
pub mod server;
pub mod sshd;
pub mod state;

pub use console::ConsoleMapping;
pub use dataplane::{LinkAction, LinkTarget, Shaping};
pub use emulator::{Emulator, EmulatorConfig, ReadyInfo};
pub use faults::{Fault, FaultRule, LatencyConfig};
pub use fleet::Fleet;
pub use sshd::SshServer;
pub use state::{DeviceInfo, RequestRecord};
