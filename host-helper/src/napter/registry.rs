//! The registry of mappings napsh created (XDG state dir, JSON, 0600, updated under an
//! exclusive file lock): who uses each one (PID + process start time), whether it is kept,
//! and the reaping of mappings whose users all died.

use crate::state::paths::{ensure_private_dir, now_ms, read_private, write_private_unsynced};
use anyhow::{Context, Result};
use fs2::FileExt;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A process using a mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Start time from `/proc/<pid>/stat` (clock ticks since boot), to survive PID reuse.
    pub start_time: Option<u64>,
}

impl Owner {
    /// The current process.
    pub fn me() -> Self {
        let pid = std::process::id();
        Owner {
            pid,
            start_time: process_start_time(pid),
        }
    }

    /// Whether this process still runs (same PID and same start time).
    pub fn is_alive(&self) -> bool {
        match process_start_time(self.pid) {
            None => false,
            Some(now) => self.start_time.is_none_or(|t| t == now),
        }
    }
}

/// Start time of `pid` (field 22 of `/proc/<pid>/stat`), `None` when it does not run.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// One mapping napsh created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// The profile (+ endpoint + credentials) it was created with.
    pub profile_key: String,
    /// Mapping address.
    pub ip_address: String,
    /// Mapping port.
    pub port: u16,
    /// Device SIM id.
    pub sim_id: String,
    /// Device port.
    pub device_port: u16,
    /// Sessions using it; when the last one ends, the mapping is deleted (unless `keep`).
    #[serde(default)]
    pub owners: Vec<Owner>,
    /// Left until expiry or `napsh mappings close` (`--keep`).
    #[serde(default)]
    pub keep: bool,
    /// Creation (unix ms, Soracom's clock).
    pub created_at_ms: i64,
    /// When napsh recorded it (unix ms, local clock; 0 in registries older than the field).
    #[serde(default)]
    pub recorded_at_ms: i64,
    /// Expiry (unix ms).
    pub expires_at_ms: Option<i64>,
    /// The source range it allows (CIDR), as created.
    #[serde(default)]
    pub source: Option<String>,
    /// The server's clock minus the local wall clock when it was recorded (ms): expiry is
    /// judged on the server's clock even by a later process that has not asked the API yet.
    #[serde(default)]
    pub server_skew_ms: i64,
}

impl Entry {
    /// Whether this entry is the mapping `ip:port` of `profile_key`.
    pub fn is(&self, profile_key: &str, ip: &str, port: u16) -> bool {
        self.profile_key == profile_key && self.ip_address == ip && self.port == port
    }

    /// Whether the mapping has expired (Soracom deleted it) at local wall time `now`, judged
    /// on the server's clock as recorded.
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at_ms
            .is_some_and(|t| t <= now.saturating_add(self.server_skew_ms))
    }
}

/// The file on disk.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RegistryFile {
    /// Every known mapping.
    entries: Vec<Entry>,
}

/// The registry of one user.
#[derive(Debug, Clone)]
pub struct Registry {
    /// `registry.json`.
    path: PathBuf,
    /// `registry.lock` (flock'ed while reading-modifying-writing).
    lock_path: PathBuf,
}

/// What the end of a session means for its mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Other sessions still use it, it is kept, or napsh does not own it.
    Leave,
    /// This was the last user: delete the mapping.
    Delete,
}

impl Registry {
    /// The registry in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        Registry {
            path: state_dir.join("registry.json"),
            lock_path: state_dir.join("registry.lock"),
        }
    }

    /// Runs `f` on the entries under an exclusive lock, then saves them.
    pub fn update<R>(&self, f: impl FnOnce(&mut Vec<Entry>) -> R) -> Result<R> {
        let dir = self.path.parent().context("registry path has no parent")?;
        ensure_private_dir(dir)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&self.lock_path)
            .with_context(|| format!("opening {}", self.lock_path.display()))?;
        make_private(&lock, &self.lock_path)?;
        lock.lock_exclusive()
            .with_context(|| format!("locking {}", self.lock_path.display()))?;
        let mut file = self.load()?;
        let before = serde_json::to_vec(&file.entries)?;
        let out = f(&mut file.entries);
        if serde_json::to_vec(&file.entries)? != before || !self.path.exists() {
            write_private_unsynced(&self.path, &serde_json::to_vec_pretty(&file)?)?;
        }
        let _ = FileExt::unlock(&lock);
        Ok(out)
    }

    /// Reads the file (under the lock). A file other users can write, or one that does not
    /// parse, is kept aside (never silently overwritten) with a warning; the entries of a
    /// private file that still parse one by one are salvaged, so their mappings still get
    /// reaped.
    fn load(&self) -> Result<RegistryFile> {
        if !self.path.exists() {
            return Ok(RegistryFile::default());
        }
        let loose = crate::state::paths::is_loose(&self.path)?;
        let bytes = if loose {
            None
        } else {
            read_private(&self.path)?
        };
        if let Some(file) = bytes
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
        {
            return Ok(file);
        }
        let entries = bytes.as_deref().map(salvage).unwrap_or_default();
        let aside = self.path.with_extension(format!("json.bad-{}", now_ms()));
        std::fs::rename(&self.path, &aside)
            .with_context(|| format!("moving the unreadable {} aside", self.path.display()))?;
        crate::output::warn(&format!(
            "{} was {}: kept aside as {}; {} of its mappings salvaged",
            self.path.display(),
            if loose {
                "writable by other users (not trusted)"
            } else {
                "corrupt"
            },
            aside.display(),
            entries.len()
        ));
        Ok(RegistryFile { entries })
    }

    /// A copy of the entries.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        self.update(|e| e.clone())
    }

    /// Records a mapping napsh just created.
    pub fn add(&self, entry: Entry) -> Result<()> {
        self.update(|entries| {
            entries.retain(|e| !e.is(&entry.profile_key, &entry.ip_address, entry.port));
            entries.push(entry);
        })
    }

    /// Adds `owner` to an owned mapping; `false` when napsh does not own it.
    pub fn adopt(&self, profile_key: &str, ip: &str, port: u16, owner: Owner) -> Result<bool> {
        self.update(
            |entries| match entries.iter_mut().find(|e| e.is(profile_key, ip, port)) {
                Some(e) => {
                    if !e.owners.contains(&owner) {
                        e.owners.push(owner);
                    }
                    true
                }
                None => false,
            },
        )
    }

    /// A session using the mapping ended. With `keep`, the mapping is marked kept.
    pub fn release(
        &self,
        profile_key: &str,
        ip: &str,
        port: u16,
        owner: &Owner,
        keep: bool,
    ) -> Result<Release> {
        self.update(|entries| {
            let Some(e) = entries.iter_mut().find(|e| e.is(profile_key, ip, port)) else {
                return Release::Leave;
            };
            if !e.owners.contains(owner) {
                // Not ours to end (reused without adopting it).
                return Release::Leave;
            }
            e.owners.retain(|o| o != owner && o.is_alive());
            e.keep |= keep;
            if e.owners.is_empty() && !e.keep {
                entries.retain(|e| !e.is(profile_key, ip, port));
                Release::Delete
            } else {
                Release::Leave
            }
        })
    }

    /// Forgets a mapping (deleted or gone).
    pub fn forget(&self, profile_key: &str, ip: &str, port: u16) -> Result<()> {
        self.update(|entries| entries.retain(|e| !e.is(profile_key, ip, port)))
    }

    /// Takes the per-device lock of `sim_id`:`device_port` under `profile_key` (a file in
    /// `locks/`, flock'ed until the returned file is dropped). Concurrent napsh processes
    /// ensuring a mapping for the same device take turns, so the second one finds the first
    /// one's mapping in the registry instead of creating a duplicate.
    pub async fn lock_device(
        &self,
        profile_key: &str,
        sim_id: &str,
        device_port: u16,
    ) -> Result<std::fs::File> {
        let dir = self
            .path
            .parent()
            .context("registry path has no parent")?
            .join("locks");
        ensure_private_dir(&dir)?;
        let safe: String = sim_id.chars().filter(char::is_ascii_alphanumeric).collect();
        let path = dir.join(format!("{profile_key}-{safe}-{device_port}.lock"));
        tokio::task::spawn_blocking(move || -> Result<std::fs::File> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            make_private(&file, &path)?;
            file.lock_exclusive()
                .with_context(|| format!("locking {}", path.display()))?;
            Ok(file)
        })
        .await
        .context("the device lock task panicked")?
    }

    /// Applies [`plan_reap`] with real process liveness.
    pub fn reap(&self, profile_key: &str) -> Result<Vec<Entry>> {
        self.update(|entries| plan_reap(entries, profile_key, now_ms(), Owner::is_alive))
    }
}

/// Defined here rather than in `app.rs`, so that the per-invocation context does not
/// depend on the napter modules that use it.
impl crate::app::App {
    /// The registry of mappings napsh created.
    pub fn registry(&self) -> Registry {
        Registry::new(&self.dirs.state)
    }
}

/// Makes an open lock file 0600 (one created by an older napsh may be 0644).
fn make_private(file: &std::fs::File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("making {} private", path.display()))
}

/// The entries of a registry file that no longer parses as a whole, one by one.
fn salvage(bytes: &[u8]) -> Vec<Entry> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    value
        .get("entries")
        .and_then(|e| e.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| serde_json::from_value(i.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Drops expired entries and dead owners; returns (and removes) the entries of `profile_key`
/// whose owners are all dead and which are not kept: their mappings should be deleted.
/// Entries that never had an owner (reserved by `napsh connect`) are left to expiry.
pub fn plan_reap(
    entries: &mut Vec<Entry>,
    profile_key: &str,
    now: i64,
    alive: impl Fn(&Owner) -> bool,
) -> Vec<Entry> {
    entries.retain(|e| !e.expired(now));
    let mut doomed = Vec::new();
    entries.retain_mut(|e| {
        if e.profile_key != profile_key || e.owners.is_empty() {
            return true;
        }
        e.owners.retain(&alive);
        if e.owners.is_empty() && !e.keep {
            doomed.push(e.clone());
            return false;
        }
        true
    });
    doomed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ip: &str, owners: Vec<Owner>, keep: bool) -> Entry {
        Entry {
            profile_key: "p".into(),
            ip_address: ip.into(),
            port: 40000,
            sim_id: "8981".into(),
            device_port: 22,
            owners,
            keep,
            created_at_ms: 0,
            recorded_at_ms: 0,
            expires_at_ms: Some(10_000),
            source: None,
            server_skew_ms: 0,
        }
    }

    /// A PID that does not run: spawn a process and wait for it.
    fn dead_owner() -> Owner {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        Owner {
            pid,
            start_time: Some(1),
        }
    }

    #[test]
    fn my_start_time_is_read_and_i_am_alive() {
        let me = Owner::me();
        assert!(me.start_time.is_some());
        assert!(me.is_alive());
        let reused = Owner {
            pid: me.pid,
            start_time: Some(me.start_time.unwrap() + 1),
        };
        assert!(!reused.is_alive(), "PID reuse is detected by start time");
        assert!(!dead_owner().is_alive());
    }

    #[test]
    fn reaps_dead_owned_entries_only() {
        let dead = dead_owner();
        let mut entries = vec![
            entry("1.1.1.1", vec![dead.clone()], false),
            entry("2.2.2.2", vec![dead.clone(), Owner::me()], false),
            entry("3.3.3.3", vec![dead.clone()], true),
            entry("4.4.4.4", vec![], false),
            Entry {
                expires_at_ms: Some(5),
                ..entry("5.5.5.5", vec![dead.clone()], false)
            },
            Entry {
                profile_key: "other".into(),
                ..entry("6.6.6.6", vec![dead.clone()], false)
            },
        ];
        let doomed = plan_reap(&mut entries, "p", 100, Owner::is_alive);
        let ips: Vec<_> = doomed.iter().map(|e| e.ip_address.as_str()).collect();
        assert_eq!(ips, ["1.1.1.1"]);
        let left: Vec<_> = entries.iter().map(|e| e.ip_address.as_str()).collect();
        assert_eq!(left, ["2.2.2.2", "3.3.3.3", "4.4.4.4", "6.6.6.6"]);
        assert_eq!(entries[0].owners, vec![Owner::me()]);
    }

    #[test]
    fn release_deletes_after_the_last_owner_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        reg.add(entry("1.1.1.1", vec![], false)).unwrap();
        let me = Owner::me();
        assert!(reg.adopt("p", "1.1.1.1", 40000, me.clone()).unwrap());
        assert!(!reg.adopt("p", "9.9.9.9", 40000, me.clone()).unwrap());
        assert_eq!(
            reg.release("p", "1.1.1.1", 40000, &me, false).unwrap(),
            Release::Delete
        );
        assert!(reg.entries().unwrap().is_empty());
        reg.add(entry("1.1.1.1", vec![me.clone()], false)).unwrap();
        assert_eq!(
            reg.release("p", "1.1.1.1", 40000, &me, true).unwrap(),
            Release::Leave
        );
        assert!(reg.entries().unwrap()[0].keep);
        reg.add(entry("2.2.2.2", vec![], false)).unwrap();
        assert_eq!(
            reg.release("p", "2.2.2.2", 40000, &me, false).unwrap(),
            Release::Leave,
            "a reserved mapping this process never adopted is left alone"
        );
    }

    /// The `registry.json.bad-*` files beside the registry.
    fn kept_aside(dir: &Path) -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("registry.json.bad-"))
            .collect()
    }

    #[test]
    fn a_corrupt_registry_is_kept_aside_and_its_readable_entries_salvaged() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        let good = serde_json::to_value(entry("1.1.1.1", vec![], false)).unwrap();
        let body = serde_json::json!({ "entries": [good, {"ipAddress": 7}] });
        let path = dir.path().join("registry.json");
        std::fs::write(&path, body.to_string()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let entries = reg.entries().unwrap();
        assert_eq!(entries.len(), 1, "the readable entry is salvaged");
        assert_eq!(kept_aside(dir.path()).len(), 1, "the bad file is kept");
    }

    #[test]
    fn a_registry_others_can_write_is_kept_aside_and_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::new(dir.path());
        reg.add(entry("1.1.1.1", vec![], false)).unwrap();
        let path = dir.path().join("registry.json");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(reg.entries().unwrap().is_empty());
        assert_eq!(kept_aside(dir.path()).len(), 1);
        let lock = std::fs::metadata(dir.path().join("registry.lock")).unwrap();
        assert_eq!(
            lock.permissions().mode() & 0o777,
            0o600,
            "the lock file is private"
        );
    }

    #[test]
    fn lock_files_an_older_napsh_left_loose_are_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("registry.lock");
        std::fs::write(&lock, b"").unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o644)).unwrap();
        Registry::new(dir.path()).entries().unwrap();
        let mode = std::fs::metadata(&lock).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
