//! The contractor's soracom-cli profile: where it goes, refusing to replace a file unless
//! asked, written whole (temp file 0600 in the same directory, then renamed) so that no
//! half-written key is ever left, and the key never printed.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::soracom::users::GeneratedAuthKey;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The file the profile goes to: `--profile-out`, else `<profile dir>/NAME.json`; refused
/// (before any API call) when it exists and `force` is not set.
pub fn target(
    explicit: Option<&Path>,
    profile_dir: &Path,
    name: &str,
    force: bool,
) -> Result<PathBuf> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => profile_dir.join(format!("{name}.json")),
    };
    if !force && std::fs::symlink_metadata(&path).is_ok() {
        return Err(
            NapshError::config(format!("{} already exists", path.display()))
                .hint("choose another file with --profile-out FILE, or replace it with --force")
                .into(),
        );
    }
    Ok(path)
}

/// The profile text: the owner's endpoint and coverage, the new key.
pub fn body(endpoint: &str, key: &GeneratedAuthKey) -> String {
    let coverage = if endpoint.contains("://g.") {
        "g"
    } else {
        "jp"
    };
    let value = serde_json::json!({
        "coverageType": coverage,
        "endpoint": endpoint,
        "authKeyId": key.auth_key_id,
        "authKey": key.auth_key,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&value).expect("a profile serialises")
    )
}

/// Writes `text` to `path` as a new 0600 file (a temp file renamed into place; an existing
/// file is replaced only with `force`).
pub fn write(path: &Path, text: &str, force: bool) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    crate::state::paths::ensure_private_dir(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".napsh-profile-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    let placed = if force {
        tmp.persist(path).map(drop)
    } else {
        tmp.persist_noclobber(path).map(drop)
    };
    placed.map_err(|e| {
        anyhow::Error::from(
            NapshError::config(format!("could not write {}: {}", path.display(), e.error))
                .hint("choose another file with --profile-out FILE, or replace it with --force"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> GeneratedAuthKey {
        GeneratedAuthKey {
            auth_key_id: "keyId-1".into(),
            auth_key: "secret-1".into(),
        }
    }

    #[test]
    fn a_profile_is_written_0600_and_never_replaced_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let path = target(None, dir.path(), "acme", false).unwrap();
        let text = body("http://127.0.0.1:1", &key());
        write(&path, &text, false).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let parsed =
            napsh_core::profile_file::ProfileFile::parse(&std::fs::read_to_string(&path).unwrap())
                .unwrap();
        assert!(parsed.credentials().unwrap().is_some());
        assert!(target(None, dir.path(), "acme", false).is_err());
        assert!(write(&path, "other", false).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        write(&path, "other", true).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "other");
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file left behind");
    }
}
