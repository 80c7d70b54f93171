//! Everything about an ssh session to a device: the plan (`plan`: endpoint, pinned alias,
//! user, options, command), launching the system ssh (`launch`), handing it a password
//! (`askpass`), napsh's known_hosts (`known_hosts`) and the tunnel's host-key check
//! (`host_key_guard`), the first pin said in napsh's words (`pin_notice`), service targets (`service`), the verdict when ssh cannot connect
//! (`verdict`), moving bytes for `proxy` and `tunnel` (`forward`), and one command on many
//! devices at once (`fanout`).

pub mod askpass;
pub mod fanout;
pub mod forward;
pub mod host_key_guard;
pub mod known_hosts;
pub mod launch;
pub mod pin_notice;
pub mod plan;
pub mod service;
pub mod verdict;
