//! Whether a configured password may go to the device on the other end of an ssh connection.
//! Config rules match names and tags, which anyone with tag permission — or a compromised
//! device renaming itself — can set, so a rule alone is not enough: the password goes only to
//! a device whose host key napsh's known_hosts pinned before this connection, or on a first
//! contact the user trusts (`--trust-first-contact`, or "y" at a terminal prompt that shows
//! the key ssh has just seen). A refused first contact forgets the key ssh pinned meanwhile,
//! so that trying again does not turn it into a pinned device.

use crate::app::App;
use crate::ssh::known_hosts::{fingerprint, pinned, reset};
use anyhow::Result;
use napsh_core::sanitize::for_terminal;
use napsh_core::Device;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// One prompt at a time on the terminal (fan-outs run many devices at once).
static PROMPT: Mutex<()> = Mutex::new(());

/// The device a password is meant for, as the gate sees it.
#[derive(Debug, Clone)]
pub struct FirstContact {
    /// napsh's known_hosts.
    known_hosts: PathBuf,
    /// The alias its key is pinned under (SIM id, or `lan:ADDRESS`).
    alias: String,
    /// How messages name it (terminal-safe).
    label: String,
    /// Its key was pinned before this connection.
    pinned_before: bool,
    /// `--trust-first-contact`.
    trusted: bool,
}

impl FirstContact {
    /// The gate for `device` now (reads napsh's known_hosts).
    pub fn for_device(app: &App, device: &Device) -> Result<Self> {
        let known_hosts = app.dirs.known_hosts();
        let pinned_before = !pinned(&known_hosts, &device.sim_id)?.is_empty();
        Ok(FirstContact {
            known_hosts,
            alias: device.sim_id.clone(),
            label: for_terminal(device.label()),
            pinned_before,
            trusted: app.trust_first_contact,
        })
    }

    /// The gate for the key pinned under `alias` now, with no trust given on the command
    /// line (a second connection of the same session: the first pinned the key, or not).
    pub fn for_alias(known_hosts: PathBuf, alias: &str, label: &str) -> Result<Self> {
        let pinned_before = !pinned(&known_hosts, alias)?.is_empty();
        Ok(FirstContact {
            known_hosts,
            alias: alias.to_string(),
            label: label.to_string(),
            pinned_before,
            trusted: false,
        })
    }

    /// A gate that always lets the password through (tests).
    #[cfg(test)]
    pub fn trusted() -> Self {
        FirstContact {
            known_hosts: PathBuf::new(),
            alias: String::new(),
            label: String::new(),
            pinned_before: true,
            trusted: true,
        }
    }

    /// Whether the password may go (blocking: may prompt on the terminal). Asked when ssh
    /// wants the password, i.e. after it accepted — and with `accept-new` pinned — the key.
    pub fn allows(&self) -> bool {
        self.decide(std::io::stdin().is_terminal())
    }

    /// [`FirstContact::allows`], prompting only when `interactive`.
    fn decide(&self, interactive: bool) -> bool {
        if self.pinned_before || self.trusted {
            return true;
        }
        let keys = pinned(&self.known_hosts, &self.alias).unwrap_or_default();
        let confirmed = !keys.is_empty() && interactive && self.ask(&keys);
        if !confirmed {
            self.refuse();
        }
        confirmed
    }

    /// The y/N question on the terminal, with the key ssh has just seen.
    fn ask(&self, keys: &[(String, String)]) -> bool {
        let _one = PROMPT.lock().unwrap_or_else(|e| e.into_inner());
        let Ok(tty) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        else {
            return false;
        };
        let mut out = &tty;
        let shown: Vec<String> = keys
            .iter()
            .map(|(kind, key)| {
                let fp = fingerprint(key).unwrap_or_else(|| "(unreadable key)".into());
                format!("  {} {fp}", for_terminal(kind))
            })
            .collect();
        let _ = write!(
            out,
            "napsh: first contact with {} (SIM {}); its host key:\n{}\nSend it the configured password and keep this key pinned? [y/N] ",
            self.label,
            for_terminal(&self.alias),
            shown.join("\n")
        );
        let _ = out.flush();
        let mut answer = String::new();
        let _ = std::io::BufReader::new(&tty).read_line(&mut answer);
        matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }

    /// Says why the password is withheld and forgets the key ssh pinned meanwhile.
    fn refuse(&self) {
        if let Err(e) = reset(&self.known_hosts, &self.alias) {
            tracing::warn!(error = %e, "forgetting an untrusted first-contact key");
        }
        crate::output::note(&format!(
            "napsh: not sending the configured password to {} (SIM {}): its host key was not pinned before this connection, and a config rule matches names and tags that anyone with tag permission can set — check the device, then connect once with --trust-first-contact (or answer y at the prompt on a terminal)",
            self.label,
            for_terminal(&self.alias)
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(dir: &std::path::Path, pinned_before: bool, trusted: bool) -> FirstContact {
        FirstContact {
            known_hosts: dir.join("known_hosts"),
            alias: "8981".into(),
            label: "kiosk".into(),
            pinned_before,
            trusted,
        }
    }

    #[test]
    fn a_pinned_or_trusted_device_gets_it_an_untrusted_first_contact_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let line = "8981 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
        std::fs::write(dir.path().join("known_hosts"), line).unwrap();
        assert!(gate(dir.path(), true, false).decide(false));
        assert!(gate(dir.path(), false, true).decide(false));
        // No terminal: refused, and the key ssh just pinned is forgotten.
        assert!(!gate(dir.path(), false, false).decide(false));
        assert!(pinned(&dir.path().join("known_hosts"), "8981")
            .unwrap()
            .is_empty());
    }
}
