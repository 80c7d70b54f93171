//! Everything about an ssh session to a device: the plan (`plan`: endpoint, pinned alias,
//! user, options, command), launching the system ssh (`launch`), handing it a password
//! (`askpass`) only to a pinned device or a trusted `first_contact`, napsh's known_hosts
//! (`known_hosts`) and the tunnel's host-key check (`host_key_guard`, with a real `handshake`
//! at start), the first pin said in napsh's words (`pin_notice`), service targets (`service`),
//! sessions that survive a dropped link (`resume`), the verdict when ssh cannot connect
//! (`verdict`), moving bytes for `proxy` and `tunnel` (`forward`), and one command on many
//! devices at once (`fanout`, its `--log-dir` files in `log_files`).

pub mod askpass;
pub mod fanout;
pub mod first_contact;
pub mod forward;
pub mod handshake;
pub mod host_key_guard;
pub mod known_hosts;
pub mod launch;
pub mod log_files;
pub mod pin_notice;
pub mod plan;
pub mod resume;
pub mod service;
pub mod verdict;
