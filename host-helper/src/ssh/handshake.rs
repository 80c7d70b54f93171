//! A real SSH handshake with an endpoint, to learn the host key it *proves* (unlike
//! `ssh-keyscan`, which prints every key it is shown and aborts the key exchange before any
//! signature is checked). The system ssh runs with no user config, a throwaway known_hosts
//! holding the keys pinned for the alias, no credentials and `BatchMode`: the exchange
//! completes (the server's signature verified, the user-auth service accepted) and the login
//! then fails. Only a key of the host-key algorithm ssh negotiated ends up in that file.

use crate::error::NapshError;
use crate::ssh::known_hosts::{parse_keys, HostKey};
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use std::process::Command;

/// What ssh prints (with `-v`) once the key exchange is over and the server speaks through
/// the new keys: the server's signature was verified before.
const COMPLETED: &str = "SSH2_MSG_SERVICE_ACCEPT received";
/// What ssh prints when the key is not the pinned one (or of a type not pinned).
const REFUSED: [&str; 2] = [
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "Host key verification failed",
];

/// How the handshake ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// The endpoint proved a pinned key.
    Pinned,
    /// Nothing was pinned: the key it proved.
    Proved(HostKey),
    /// It presented a key that is not pinned.
    Changed,
}

/// Runs the handshake against `ip:port` for `alias`, with `pinned` its pinned keys (blocking).
pub fn prove(ip: &str, port: u16, alias: &str, pinned: &[HostKey]) -> Result<Handshake> {
    let dir = tempfile::Builder::new()
        .prefix("napsh-handshake-")
        .tempdir()
        .context("creating a private directory for the handshake")?;
    let file = dir.path().join("known_hosts");
    let lines: String = pinned
        .iter()
        .map(|(kind, key)| format!("{alias} {kind} {key}\n"))
        .collect();
    std::fs::write(&file, lines).with_context(|| format!("writing {}", file.display()))?;
    let strict = if pinned.is_empty() {
        "accept-new"
    } else {
        "yes"
    };
    let out = Command::new("ssh")
        .args(["-F", "/dev/null", "-v", "-T", "-p", &port.to_string()])
        .args(options(alias, &file.display().to_string(), strict))
        .args(["-l", "napsh-hostkey-check", "--", ip, "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| NapshError::new(ErrorKind::Ssh, format!("cannot run ssh: {e}")))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if REFUSED.iter().any(|m| stderr.contains(m)) {
        return Ok(Handshake::Changed);
    }
    if !stderr.contains(COMPLETED) {
        return Err(incomplete(&stderr));
    }
    if !pinned.is_empty() {
        return Ok(Handshake::Pinned);
    }
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    match parse_keys(&text).as_slice() {
        [key] => Ok(Handshake::Proved(key.clone())),
        _ => Err(incomplete(&stderr)),
    }
}

/// ssh's `-o` options for the handshake: the alias and throwaway file, no credentials.
fn options(alias: &str, known_hosts: &str, strict: &str) -> Vec<String> {
    [
        format!("HostKeyAlias={alias}"),
        format!("UserKnownHostsFile={known_hosts}"),
        "GlobalKnownHostsFile=/dev/null".into(),
        format!("StrictHostKeyChecking={strict}"),
        "HashKnownHosts=no".into(),
        "CheckHostIP=no".into(),
        "BatchMode=yes".into(),
        "ConnectTimeout=15".into(),
        "PreferredAuthentications=publickey".into(),
        "PubkeyAuthentication=no".into(),
        "IdentitiesOnly=yes".into(),
        "IdentityAgent=none".into(),
    ]
    .into_iter()
    .flat_map(|o| ["-o".to_string(), o])
    .collect()
}

/// The error for a handshake that did not complete: ssh's last non-debug line.
fn incomplete(stderr: &str) -> anyhow::Error {
    let said = stderr
        .lines()
        .rev()
        .find(|l| !l.starts_with("debug") && !l.trim().is_empty())
        .unwrap_or("no answer");
    NapshError::new(
        ErrorKind::Ssh,
        format!(
            "the device's SSH port did not complete a key exchange ({})",
            napsh_core::sanitize::for_terminal(said.trim())
        ),
    )
    .hint("check that sshd runs on the device, or forward another port")
    .into()
}
