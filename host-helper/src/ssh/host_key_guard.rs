//! The host-key check of `napsh tunnel` forwards to a device's SSH port: the key the device
//! presents through the mapping (proved in a real handshake at start, read from each
//! connection's key exchange after) must be the one pinned for its SIM id in napsh's
//! known_hosts (the first check pins the one key the handshake proved, like `napsh ssh`'s
//! trust on first use).

use crate::ssh::handshake::{prove, Handshake};
use crate::ssh::known_hosts::{host_key_changed, pinned, verify, HostKey};
use anyhow::{Context, Result};
use napsh_core::ssh_kex::WireHostKey;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What the check needs to know about the device.
#[derive(Debug, Clone)]
pub struct Guard {
    /// napsh's known_hosts.
    pub known_hosts: PathBuf,
    /// The alias the key is pinned under: the SIM id.
    pub sim_id: String,
    /// How the device is named in messages (already terminal-safe).
    pub label: String,
}

/// How the check ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// The presented key is the pinned one.
    Matches,
    /// Nothing was pinned: the presented keys are pinned now.
    PinnedNow,
}

impl Guard {
    /// Checks the key the endpoint `ip:port` proves in a real handshake (blocking: ssh).
    /// Pinned → it must prove a pinned key; nothing pinned → the one key it proved (of the
    /// host-key algorithm ssh negotiated) is pinned, never every key it could show.
    pub fn check(&self, ip: &str, port: u16) -> Result<Checked> {
        let known = pinned(&self.known_hosts, &self.sim_id)?;
        match prove(ip, port, &self.sim_id, &known)? {
            Handshake::Pinned => Ok(Checked::Matches),
            Handshake::Proved(key) => self.check_keys(&[key]),
            Handshake::Changed => Err(host_key_changed(
                &format!("{} (SIM {})", self.label, self.sim_id),
                &format!("napsh known-hosts reset {}", self.sim_id),
            )),
        }
    }

    /// Compares presented keys with the pinned ones; pins them when none are.
    fn check_keys(&self, scanned: &[HostKey]) -> Result<Checked> {
        let known = pinned(&self.known_hosts, &self.sim_id)?;
        let reset = format!("napsh known-hosts reset {}", self.sim_id);
        let label = format!("{} (SIM {})", self.label, self.sim_id);
        if verify(&known, scanned, &label, &reset)? {
            return Ok(Checked::Matches);
        }
        pin(&self.known_hosts, &self.sim_id, scanned)?;
        Ok(Checked::PinnedNow)
    }
}

impl Guard {
    /// Checks a key seen in the connection itself (no extra connection): pinned → ok,
    /// nothing pinned → pinned now, another key → HostKeyChanged.
    pub fn check_wire(&self, key: &WireHostKey) -> Result<Checked> {
        use base64::Engine;
        let seen = vec![(
            key.kind.clone(),
            base64::engine::general_purpose::STANDARD.encode(&key.blob),
        )];
        self.check_keys(&seen)
    }
}

/// Appends `alias type key` lines to napsh's known_hosts (0600).
fn pin(file: &Path, alias: &str, keys: &[HostKey]) -> Result<()> {
    crate::ssh::known_hosts::ensure_private(file)?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let lines: String = keys
        .iter()
        .map(|(kind, key)| format!("{alias} {kind} {key}\n"))
        .collect();
    f.write_all(lines.as_bytes())
        .with_context(|| format!("pinning the host key of SIM {alias} in {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_in_known_hosts_format_readable_by_ssh_keygen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/known_hosts");
        let key = (
            "ssh-ed25519".to_string(),
            "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl".to_string(),
        );
        pin(&file, "8981", std::slice::from_ref(&key)).unwrap();
        assert_eq!(pinned(&file, "8981").unwrap(), vec![key]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
