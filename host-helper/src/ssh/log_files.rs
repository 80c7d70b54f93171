//! `napsh exec --log-dir`'s files, safe in a directory other local users could reach: the
//! directory must be the user's own and writable by nobody else (else a planted symlink would
//! redirect a write to any file of the user, and a planted 0666 file would leak device
//! output), and each log file is created anew (`O_CREAT|O_EXCL|O_NOFOLLOW`, 0600) after an
//! old one of the same name is removed — a symlink is removed, never followed.

use crate::error::NapshError;
use anyhow::{Context, Result};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Checks a `--log-dir` before anything runs: a directory of the user's own that neither the
/// group nor others may write, or a path that does not exist yet (created 0700 later).
pub fn check_dir(dir: &Path) -> Result<()> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading --log-dir {}", dir.display())),
    };
    let refuse = |why: String| -> Result<()> {
        Err(NapshError::config(format!("--log-dir {}: {why}", dir.display()))
            .hint("use a directory of your own that only you can write (a missing one is created 0700)")
            .into())
    };
    if !meta.is_dir() {
        return refuse("exists and is not a directory".into());
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return refuse(format!(
            "is owned by another user (uid {}), who could plant links or read device output there",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse(format!(
            "is writable by others (mode {:o}), who could plant links or read device output there",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Creates `dir/name` as a new private file: an existing entry of that name (an old log, or a
/// symlink) is removed first, and the file is opened `O_CREAT|O_EXCL|O_NOFOLLOW`, so that
/// nothing planted there is ever followed or kept.
pub fn create(dir: &Path, name: &str) -> Result<std::fs::File> {
    let path = dir.join(name);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("replacing the log file {}", path.display()))
        }
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating the log file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_missing_or_private_directory_passes_a_loose_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_dir(&dir.path().join("new")).is_ok());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_dir(dir.path()).is_ok());
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = check_dir(dir.path()).unwrap_err();
        assert!(crate::error::one_line(&err).contains("writable by others"));
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        assert!(check_dir(&file).is_err());
    }

    #[test]
    fn creating_replaces_a_link_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("a.stdout")).unwrap();
        use std::io::Write;
        create(dir.path(), "a.stdout")
            .unwrap()
            .write_all(b"log")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.stdout")).unwrap(),
            "log"
        );
    }
}
