//! Where napsh keeps its files (XDG config, cache, state and data dirs) and how private files
//! are read and written: created 0600, replaced atomically, refused when others can read them.

use crate::error::NapshError;
use anyhow::{Context, Result};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// napsh's directories, resolved once from the environment.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `$XDG_CONFIG_HOME/napsh`.
    pub config: PathBuf,
    /// `$XDG_CACHE_HOME/napsh`: token cache and device list cache.
    pub cache: PathBuf,
    /// `$XDG_STATE_HOME/napsh`: the mapping registry and last failures.
    pub state: PathBuf,
    /// `$XDG_DATA_HOME/napsh`: the pinned host keys (`known_hosts`).
    pub data: PathBuf,
    /// The user's home directory.
    pub home: PathBuf,
}

impl Dirs {
    /// Resolves the directories from `HOME` and the XDG variables.
    pub fn from_env() -> Result<Self> {
        let project = directories::ProjectDirs::from("", "", "napsh").ok_or_else(|| {
            NapshError::config("cannot find your home directory").hint("set HOME")
        })?;
        let base = directories::BaseDirs::new()
            .ok_or_else(|| NapshError::config("cannot find your home directory"))?;
        let state = project
            .state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| base.home_dir().join(".local/state/napsh"));
        Ok(Dirs {
            config: project.config_dir().to_path_buf(),
            cache: project.cache_dir().to_path_buf(),
            state,
            data: project.data_dir().to_path_buf(),
            home: base.home_dir().to_path_buf(),
        })
    }

    /// napsh's own known_hosts file (host keys pinned per SIM id).
    pub fn known_hosts(&self) -> PathBuf {
        self.data.join("known_hosts")
    }
}

/// Creates `dir` (and parents) with mode 0700 when missing.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))
}

/// Whether group or others may read or write `path`.
pub fn is_loose(path: &Path) -> Result<bool> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(meta.permissions().mode() & 0o066 != 0)
}

/// Writes `bytes` to `path` atomically (temp file in the same dir, created 0600, then rename).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    write_private_with(path, bytes, true)
}

/// [`write_private`] without the fsync: still atomic for every reader and safe across a
/// crash of napsh, but a power cut may lose the write. For state rewritten on every connect
/// (the mapping registry, the last failures, the device cache), where an fsync (~8 ms,
/// serialised under the registry lock) made connecting 20 devices at once 150 ms slower; a
/// mapping whose record a power cut lost expires by itself.
pub fn write_private_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    write_private_with(path, bytes, false)
}

fn write_private_with(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    ensure_private_dir(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".napsh-tmp-")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| {
            if sync {
                tmp.as_file().sync_all()
            } else {
                Ok(())
            }
        })
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Reads a private file: `Ok(None)` when missing; a warning and `Ok(None)` when group or
/// others can read or write it (the file is then ignored and will be replaced).
pub fn read_private(path: &Path) -> Result<Option<Vec<u8>>> {
    if !path.exists() {
        return Ok(None);
    }
    if is_loose(path)? {
        crate::output::warn(&format!(
            "ignoring {}: it is readable or writable by other users (napsh writes it 0600; run `chmod 600 {}` or delete it)",
            path.display(),
            path.display()
        ));
        return Ok(None);
    }
    fs::read(path)
        .map(Some)
        .with_context(|| format!("reading {}", path.display()))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Milliseconds on this process's monotonic clock (from its first reading): what server
/// times are anchored to, immune to wall-clock jumps.
pub fn mono_ms() -> u64 {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A short, stable hex digest of `parts` (identifies a profile/credential without the secret).
pub fn digest(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_0600_and_loose_ones_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.json");
        write_private(&path, b"{}").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_private(&path).unwrap().unwrap(), b"{}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&path).unwrap().is_none());
    }

    #[test]
    fn digest_is_stable_and_separates_parts() {
        assert_eq!(digest(&["a", "bc"]), digest(&["a", "bc"]));
        assert_ne!(digest(&["a", "bc"]), digest(&["ab", "c"]));
        assert_eq!(digest(&["x"]).len(), 24);
    }
}
