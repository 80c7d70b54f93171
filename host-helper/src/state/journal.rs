//! The session journal (`$XDG_STATE_HOME/napsh/journal.jsonl`): one JSON line per session to
//! a device, appended under an exclusive lock (safe with concurrent napsh processes), file
//! 0600, never rewritten, never holding a secret. Commands record through [`Record`]:
//!
//! ```ignore
//! let mut rec = journal::Record::begin(&app.dirs.state, "proxy", &device);
//! rec.source(&source);
//! rec.mapping(&ensured.mapping, ensured.reused); // after the mapping is ensured
//! rec.exit(code);                   // or rec.fail(&err); dropping it records "interrupted"
//! ```

use crate::state::paths::{ensure_private_dir, now_ms};
use anyhow::{Context, Result};
use fs2::FileExt;
use napsh_core::journal::{error_name, to_line, JournalEntry, FORMAT_VERSION};
use napsh_core::messages::ErrorKind;
use napsh_core::soracom::PortMapping;
use napsh_core::Device;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The journal file inside napsh's state directory.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("journal.jsonl")
}

/// Appends one entry: opened for append (created 0600), locked exclusively, one write.
pub fn append(state_dir: &Path, entry: &JournalEntry) -> Result<()> {
    ensure_private_dir(state_dir)?;
    let path = path(state_dir);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening the journal {}", path.display()))?;
    let mode = file.metadata().map(|m| m.permissions().mode()).unwrap_or(0);
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("making {} private", path.display()))?;
    }
    file.lock_exclusive()
        .with_context(|| format!("locking the journal {}", path.display()))?;
    let written = file.write_all(to_line(entry).as_bytes());
    let _ = FileExt::unlock(&file);
    written.with_context(|| format!("appending to the journal {}", path.display()))
}

/// Every entry of the journal (none when it does not exist yet).
pub fn read(state_dir: &Path) -> Result<Vec<JournalEntry>> {
    let path = path(state_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(napsh_core::journal::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading the journal {}", path.display())),
    }
}

/// The local user running napsh.
pub fn local_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()))
}

/// One session being recorded; written when it ends ([`Record::exit`], [`Record::fail`]) or,
/// when dropped unfinished (a panic, an early return), as `interrupted`.
pub struct Record {
    /// napsh's state directory.
    state_dir: PathBuf,
    /// The entry so far.
    entry: JournalEntry,
    /// Already written.
    written: bool,
}

impl Record {
    /// Starts recording a session of `kind` (`ssh`, `exec`, `proxy`…) to `device`, now.
    pub fn begin(state_dir: &Path, kind: &str, device: &Device) -> Self {
        let now = now_ms();
        Record {
            state_dir: state_dir.to_path_buf(),
            entry: JournalEntry {
                v: FORMAT_VERSION,
                local_user: local_user(),
                pid: std::process::id(),
                device: device.name.clone(),
                sim_id: device.sim_id.clone(),
                kind: kind.to_string(),
                started_at: now,
                ended_at: now,
                duration_ms: 0,
                source: None,
                mapping: None,
                mapping_reused: None,
                port: None,
                exit_code: None,
                error: None,
            },
            written: false,
        }
    }

    /// The source range the mapping allows.
    pub fn source(&mut self, source: &ipnet::IpNet) {
        self.entry.source = Some(source.to_string());
    }

    /// The device port the session reaches (`proxy`, `tunnel`).
    pub fn port(&mut self, port: u16) {
        self.entry.port = Some(port);
    }

    /// The mapping the session goes through (`reused`: napsh did not create it for this session).
    pub fn mapping(&mut self, m: &PortMapping, reused: bool) {
        self.entry.mapping = Some(format!("{}:{}", m.ip_address, m.port));
        self.entry.mapping_reused = Some(reused);
    }

    /// The session ended with exit code `code`.
    pub fn exit(mut self, code: i32) {
        self.entry.exit_code = Some(code);
        self.write();
    }

    /// The session failed with `kind` (and the exit code, when something ran).
    pub fn fail_kind(mut self, kind: ErrorKind, code: Option<i32>) {
        self.entry.error = Some(error_name(kind));
        self.entry.exit_code = code;
        self.write();
    }

    /// The session failed with `err`.
    pub fn fail(self, err: &anyhow::Error) {
        self.fail_kind(crate::error::kind_of(err), None);
    }

    /// The session was interrupted (Ctrl-C, SIGTERM, a closed terminal).
    pub fn interrupted(mut self) {
        self.mark_interrupted();
        self.write();
    }

    fn mark_interrupted(&mut self) {
        self.entry.error = Some("interrupted".into());
    }

    fn write(&mut self) {
        if self.written {
            return;
        }
        self.written = true;
        let end = now_ms();
        self.entry.ended_at = end;
        self.entry.duration_ms = end - self.entry.started_at;
        if let Err(e) = append(&self.state_dir, &self.entry) {
            crate::output::warn(&format!("could not write the session journal: {e:#}"));
        }
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if !self.written {
            self.mark_interrupted();
            self.write();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::named("8981", "kiosk")
    }

    #[test]
    fn concurrent_writers_leave_whole_private_lines() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::thread::scope(|s| {
            for i in 0..8 {
                let state = state.clone();
                s.spawn(move || {
                    for _ in 0..25 {
                        Record::begin(&state, "exec", &device()).exit(i);
                    }
                });
            }
        });
        let entries = read(&state).unwrap();
        assert_eq!(entries.len(), 200);
        let mode = std::fs::metadata(path(&state))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn dropped_record_says_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        drop(Record::begin(dir.path(), "ssh", &device()));
        Record::begin(dir.path(), "ssh", &device()).fail_kind(ErrorKind::Offline, None);
        let entries = read(dir.path()).unwrap();
        assert_eq!(entries[0].error.as_deref(), Some("interrupted"));
        assert_eq!(entries[1].error.as_deref(), Some("offline"));
        assert!(read(&dir.path().join("none")).unwrap().is_empty());
    }
}
