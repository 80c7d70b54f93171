//! napsh's own known_hosts file: host keys pinned per device under the alias = SIM id
//! (never the shared Napter address). Read and edited with `ssh-keygen`.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use std::path::Path;
use std::process::Command;

/// A public host key: (`ssh-ed25519`, base64).
pub type HostKey = (String, String);

/// Makes napsh's known_hosts private before ssh first writes it: created 0600 (empty) when
/// missing — ssh appends to an existing file and keeps its mode, but creates a new one 0644 —
/// and set to 0600 when group or others may read or write it. Never follows a symlink.
pub fn ensure_private(file: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = file.parent() {
        crate::state::paths::ensure_private_dir(dir)?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let mode = f
        .metadata()
        .with_context(|| format!("reading {}", file.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", file.display()))?;
    }
    Ok(())
}

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
    /// Key type (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`).
    pub key_type: String,
    /// `SHA256:…` fingerprint.
    pub fingerprint: String,
}

/// Every key in napsh's known_hosts (empty when the file does not exist). Parsed here, not by
/// `ssh-keygen -l`, which mistakes a line starting with a SIM id for an SSH1 key.
pub fn list(file: &Path) -> Result<Vec<PinnedKey>> {
    if !file.exists() {
        return Ok(vec![]);
    }
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    Ok(pinned_keys(&text))
}

/// The entries of known_hosts text: alias, type and SHA256 fingerprint (comments, markers and
/// undecodable keys skipped).
pub fn pinned_keys(text: &str) -> Vec<PinnedKey> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('@'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let alias = parts.next()?.to_string();
            let key_type = parts.next()?.to_string();
            let fingerprint = fingerprint(parts.next()?)?;
            Some(PinnedKey {
                alias,
                key_type,
                fingerprint,
            })
        })
        .collect()
}

/// OpenSSH's `SHA256:…` fingerprint of a base64 key blob.
pub fn fingerprint(blob_base64: &str) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_base64)
        .ok()?;
    let digest = sha2::Sha256::digest(&blob);
    Some(format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
    ))
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
    fn lists_pinned_keys_with_openssh_fingerprints() {
        let blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
        let text = format!("# c\n8981 ssh-ed25519 {blob}\nlan:192.168.1.5 ssh-ed25519 {blob}\n@revoked x ssh-rsa AAAA\n");
        let keys = pinned_keys(&text);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].alias, "8981");
        assert_eq!(keys[1].alias, "lan:192.168.1.5");
        assert_eq!(keys[0].key_type, "ssh-ed25519");
        // What `ssh-keygen -l` prints for this key.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k.pub");
        std::fs::write(&file, format!("ssh-ed25519 {blob}\n")).unwrap();
        let out = Command::new("ssh-keygen")
            .arg("-l")
            .arg("-f")
            .arg(&file)
            .output()
            .unwrap();
        let expected = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string();
        assert_eq!(keys[0].fingerprint, expected);
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
    fn ensure_private_creates_0600_and_tightens_a_loose_file_keeping_its_keys() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data/known_hosts");
        let mode = |f: &Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        ensure_private(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, "8981 ssh-ed25519 AAAA\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        ensure_private(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "8981 ssh-ed25519 AAAA\n"
        );
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
