//! `napsh keys push|list`: install the user's public key on devices (idempotently, the key on
//! ssh's stdin, a configured password used once) and list a device's authorized keys.

use crate::app::App;
use crate::cli::{KeysCommand, KeysListArgs, KeysPushArgs};
use crate::error::NapshError;
use crate::napter::lease::duration;
use crate::output;
use crate::ssh::fanout::{self, Echo, Spec};
use anyhow::{Context, Result};
use base64::Engine;
use napsh_core::authorized_keys::{
    list_keys, listing_rows, parse_public_key_file, remote_command, PublicKey, DEFAULT_KEY_FILES,
    LIST_SNIPPET, PUSH_SNIPPET,
};
use napsh_core::fanout::{prefixed_line, OutputMode};
use napsh_core::messages::ErrorKind;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Runs `napsh keys …`.
pub async fn run(app: &App, command: KeysCommand) -> Result<i32> {
    match command {
        KeysCommand::Push(a) => push(app, a).await,
        KeysCommand::List(a) => list(app, a).await,
    }
}

/// `napsh keys push`.
async fn push(app: &App, args: KeysPushArgs) -> Result<i32> {
    let secs = duration(app, &args.mapping)?;
    let (path, key) = public_key(app, args.key.as_deref())?;
    let fingerprint = fingerprint(&key);
    let devices = fanout::select_devices(app, &args.targets).await?;
    let targets = fanout::targets(app, &devices, args.targets.user.as_deref(), &args.mapping)?;
    output::note(&format!(
        "napsh: installing {} {fingerprint} ({}) on {} device(s)",
        key.key_type,
        path.display(),
        targets.len()
    ));
    let spec = Spec {
        kind: "keys-push",
        command: vec![remote_command(PUSH_SNIPPET)],
        input: Some(format!("{}\n", key.install_line()).into_bytes()),
        echo: Echo::Capture,
        output: OutputMode::Sanitized,
        log_dir: None,
        parallel: usize::from(args.targets.parallel),
        secs,
    };
    let report = fanout::run(app, &targets, &spec).await?;
    for (target, f) in targets.iter().zip(&report.finished) {
        if f.result.ok {
            let said = String::from_utf8_lossy(&f.stdout);
            let what = if said.lines().last().map(str::trim) == Some("present") {
                "already present"
            } else {
                "added"
            };
            output::line(&String::from_utf8_lossy(&prefixed_line(
                &target.prefix,
                format!("{what} {fingerprint}").as_bytes(),
            )));
        }
    }
    Ok(fanout::summarize(&targets, &report))
}

/// `napsh keys list`.
async fn list(app: &App, args: KeysListArgs) -> Result<i32> {
    let secs = duration(app, &args.mapping)?;
    let devices = crate::napter::devices::resolve_all(app, &[args.device.as_str()]).await?;
    let targets = fanout::targets(app, &devices, args.user.as_deref(), &args.mapping)?;
    let spec = Spec {
        kind: "keys-list",
        command: vec![remote_command(LIST_SNIPPET)],
        input: None,
        echo: Echo::Capture,
        output: OutputMode::Sanitized,
        log_dir: None,
        parallel: 1,
        secs,
    };
    let report = fanout::run(app, &targets, &spec).await?;
    let finished = &report.finished[0];
    if let Some(sig) = report.signal {
        return Ok(crate::signals::exit_code(sig));
    }
    if !finished.result.ok {
        let kind = finished.result.error_kind.unwrap_or(ErrorKind::Ssh);
        return Err(NapshError::new(
            kind,
            format!(
                "could not read the authorized keys of {}: {}",
                targets[0].label,
                finished.result.reason.as_deref().unwrap_or("failed")
            ),
        )
        .into());
    }
    let keys = list_keys(&String::from_utf8_lossy(&finished.stdout), fingerprint);
    if args.json {
        output::json(&keys);
        return Ok(0);
    }
    if keys.is_empty() {
        output::note(&format!(
            "napsh: {} has no authorized keys for {}",
            targets[0].label,
            napsh_core::sanitize::for_terminal(&targets[0].user)
        ));
        return Ok(0);
    }
    for line in output::table(
        &["TYPE", "FINGERPRINT", "COMMENT", "OPTIONS"],
        &listing_rows(&keys),
    ) {
        output::line(&line);
    }
    Ok(0)
}

/// `SHA256:…` of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key.blob)
        .unwrap_or_default();
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(Sha256::digest(raw))
    )
}

/// Whether the key blob decodes and names the same type as the line (a real key).
fn blob_is_consistent(key: &PublicKey) -> bool {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(&key.blob) else {
        return false;
    };
    let Some(len) = raw.get(..4) else {
        return false;
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    raw.get(4..4 + len) == Some(key.key_type.as_bytes())
}

/// The public key to push and where it came from: `--key` > config `ssh_public_key` > the
/// first default file in ~/.ssh that exists.
fn public_key(app: &App, given: Option<&Path>) -> Result<(PathBuf, PublicKey)> {
    let path = match (given, &app.config.ssh_public_key) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(configured)) => expand_home(configured, &app.dirs.home),
        (None, None) => DEFAULT_KEY_FILES
            .iter()
            .map(|f| app.dirs.home.join(".ssh").join(f))
            .find(|p| p.exists())
            .ok_or_else(|| {
                NapshError::config("no public key found (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub)")
                    .hint("pass --key FILE, set ssh_public_key in the config, or create one with `ssh-keygen -t ed25519`")
            })?,
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| NapshError::config(format!("cannot read the key {}: {e}", path.display())))
        .context("loading the public key to push")?;
    let key = parse_public_key_file(&text)
        .map_err(|why| NapshError::config(format!("{}: {why}", path.display())))?;
    if !blob_is_consistent(&key) {
        return Err(NapshError::config(format!(
            "{}: the key data is damaged (it does not decode to a {} key)",
            path.display(),
            napsh_core::sanitize::for_terminal(&key.key_type)
        ))
        .into());
    }
    Ok((path, key))
}

/// `~/x` → `<home>/x`; other paths as they are.
fn expand_home(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ed25519 public key and its `ssh-keygen -l` fingerprint.
    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFtcFJXPZE24fSG54NGVBRa4+6kYx0mAmyGYJgunqxXB alice@laptop";
    const ED_FP: &str = "SHA256:1Gp0kCUtgNIV6AHLNvD1lNpew9PeRWXIQBJ/sbQ0tEQ";

    #[test]
    fn fingerprint_matches_ssh_keygen_and_blob_is_checked() {
        let key = parse_public_key_file(ED).unwrap();
        assert_eq!(fingerprint(&key), ED_FP);
        assert!(blob_is_consistent(&key));
        let lying = PublicKey {
            key_type: "ssh-rsa".into(),
            ..key
        };
        assert!(!blob_is_consistent(&lying));
    }

    #[test]
    fn home_is_expanded() {
        let home = Path::new("/home/a");
        assert_eq!(expand_home("~/.ssh/k.pub", home), home.join(".ssh/k.pub"));
        assert_eq!(expand_home("/k.pub", home), PathBuf::from("/k.pub"));
    }
}
