//! napsh's own known_hosts file: host keys pinned per device under the alias = SIM id
//! (never the shared Napter address). Read and edited with `ssh-keygen`.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use std::path::Path;
use std::process::Command;

/// A public host key: (`ssh-ed25519`, base64).
pub type HostKey = (String, String);

/// The keys pinned for `alias` (empty when none or when the file does not exist).
pub fn pinned(file: &Path, alias: &str) -> Result<Vec<HostKey>> {
    if !file.exists() {
        return Ok(vec![]);
    }
    let out = Command::new("ssh-keygen")
        .arg("-F")
        .arg(alias)
        .arg("-f")
        .arg(file)
        .output()
        .map_err(|e| missing_tool("ssh-keygen", e))?;
    // Exit 1 means "not found".
    Ok(parse_keys(&String::from_utf8_lossy(&out.stdout)))
}

/// Removes every key pinned for `alias`; `true` when something was removed.
pub fn reset(file: &Path, alias: &str) -> Result<bool> {
    if pinned(file, alias)?.is_empty() {
        return Ok(false);
    }
    let out = Command::new("ssh-keygen")
        .arg("-R")
        .arg(alias)
        .arg("-f")
        .arg(file)
        .output()
        .map_err(|e| missing_tool("ssh-keygen", e))?;
    if !out.status.success() {
        return Err(NapshError::new(
            ErrorKind::Internal,
            format!(
                "ssh-keygen -R {alias} -f {} failed: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        )
        .into());
    }
    let _ = std::fs::remove_file(file.with_extension("old"));
    Ok(true)
}

/// One pinned key, as `napsh known-hosts list` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinnedKey {
    /// The alias it is pinned under: a SIM id, or `lan:ADDRESS`.
    pub alias: String,
    /// Key type as ssh-keygen names it (`ED25519`, `ECDSA`, `RSA`).
    pub key_type: String,
    /// `SHA256:…` fingerprint.
    pub fingerprint: String,
}

/// Every key in napsh's known_hosts (empty when the file does not exist), via `ssh-keygen -l`.
pub fn list(file: &Path) -> Result<Vec<PinnedKey>> {
    if !file.exists() {
        return Ok(vec![]);
    }
    let out = Command::new("ssh-keygen")
        .arg("-l")
        .arg("-f")
        .arg(file)
        .output()
        .map_err(|e| missing_tool("ssh-keygen", e))?;
    Ok(parse_fingerprints(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ssh-keygen -l` lines: `BITS FINGERPRINT HOST (TYPE)`.
pub fn parse_fingerprints(text: &str) -> Vec<PinnedKey> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let _bits = parts.next()?;
            let fingerprint = parts.next()?.to_string();
            let alias = parts.next()?.to_string();
            let key_type = parts
                .next()?
                .trim_matches(|c| c == '(' || c == ')')
                .to_string();
            Some(PinnedKey {
                alias,
                key_type,
                fingerprint,
            })
        })
        .collect()
}

/// Parses known_hosts / ssh-keyscan lines (`host type key [comment]`), skipping comments.
pub fn parse_keys(text: &str) -> Vec<HostKey> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let first = parts.next()?;
            // Marker lines (`@cert-authority host type key`) shift the fields.
            if first.starts_with('@') {
                parts.next()?;
            }
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

/// Compares scanned keys with pinned ones: `Ok(true)` when a scanned key is pinned,
/// `Ok(false)` when nothing is pinned yet, `Err` (HostKeyChanged) when they differ.
pub fn verify(
    pinned: &[HostKey],
    scanned: &[HostKey],
    label: &str,
    reset_cmd: &str,
) -> Result<bool> {
    if pinned.is_empty() {
        return Ok(false);
    }
    if scanned.iter().any(|k| pinned.contains(k)) {
        return Ok(true);
    }
    Err(host_key_changed(label, reset_cmd))
}

/// The error for a device whose host key differs from the pinned one.
pub fn host_key_changed(label: &str, reset_cmd: &str) -> anyhow::Error {
    NapshError::new(
        ErrorKind::HostKeyChanged,
        format!(
            "the SSH host key of {label} is not the one pinned the first time napsh connected (reinstalled device, swapped SIM — or someone in between)"
        ),
    )
    .hint(format!(
        "if you know why it changed, forget the old key with `{reset_cmd}` and connect again"
    ))
    .into()
}

fn missing_tool(tool: &str, e: std::io::Error) -> anyhow::Error {
    anyhow::Error::from(
        NapshError::new(ErrorKind::Ssh, format!("cannot run {tool}: {e}"))
            .hint("install the OpenSSH client (apt-get install openssh-client)"),
    )
}

/// Runs `ssh-keyscan` against an endpoint and returns the keys it saw.
pub fn keyscan(ip: &str, port: u16, timeout_secs: u64) -> Result<Vec<HostKey>> {
    let out = Command::new("ssh-keyscan")
        .args(["-T", &timeout_secs.to_string(), "-p", &port.to_string()])
        .args(["-t", "ed25519,ecdsa,rsa", ip])
        .output()
        .map_err(|e| missing_tool("ssh-keyscan", e))
        .context("scanning the device's host keys")?;
    Ok(parse_keys(&String::from_utf8_lossy(&out.stdout)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: &str, b: &str) -> HostKey {
        (t.into(), b.into())
    }

    #[test]
    fn parses_keyscan_and_known_hosts_lines() {
        let text = "# 127.0.0.1:22 SSH-2.0-OpenSSH_9\n[127.0.0.1]:2222 ssh-ed25519 AAAA1\n|1|abc=|def= ecdsa-sha2-nistp256 BBBB comment\n@revoked h ssh-rsa CCCC\n";
        assert_eq!(
            parse_keys(text),
            vec![
                k("ssh-ed25519", "AAAA1"),
                k("ecdsa-sha2-nistp256", "BBBB"),
                k("ssh-rsa", "CCCC")
            ]
        );
    }

    #[test]
    fn parses_fingerprint_lines() {
        let text = "256 SHA256:abc 8981 (ED25519)\n3072 SHA256:def lan:192.168.1.5 (RSA)\n\n";
        let keys = parse_fingerprints(text);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].alias, "lan:192.168.1.5");
        assert_eq!(keys[1].key_type, "RSA");
        assert_eq!(keys[0].fingerprint, "SHA256:abc");
    }

    #[test]
    fn verify_detects_changes() {
        let pinned = vec![k("ssh-ed25519", "A")];
        assert!(!verify(&[], &pinned, "d", "r").unwrap());
        assert!(verify(
            &pinned,
            &[k("ssh-ed25519", "A"), k("ssh-rsa", "X")],
            "d",
            "r"
        )
        .unwrap());
        let err = verify(
            &pinned,
            &[k("ssh-ed25519", "B")],
            "kiosk",
            "napsh known-hosts reset kiosk",
        )
        .unwrap_err();
        assert_eq!(crate::error::kind_of(&err), ErrorKind::HostKeyChanged);
        assert!(crate::error::one_line(&err).contains("napsh known-hosts reset kiosk"));
    }

    #[test]
    fn reset_removes_only_that_alias() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, "8981 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n8982 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n").unwrap();
        assert_eq!(pinned(&file, "8981").unwrap().len(), 1);
        assert!(reset(&file, "8981").unwrap());
        assert!(pinned(&file, "8981").unwrap().is_empty());
        assert_eq!(pinned(&file, "8982").unwrap().len(), 1);
        assert!(!reset(&file, "8981").unwrap());
    }
}
