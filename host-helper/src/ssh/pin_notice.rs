//! Trust on first use, said in napsh's words: ssh's own "Warning: Permanently added '8942…'
//! (ED25519) to the list of known hosts." is silenced (`LogLevel=ERROR`, see `launch`), and
//! napsh says instead which device's key is now pinned — its name, SIM id, key type and SHA256
//! fingerprint — as soon as ssh has pinned it (or, at the latest, when ssh exits).

use crate::signals::Signals;
use crate::ssh::known_hosts::{list, PinnedKey};
use crate::ssh::launch::{build_args, Outcome, SshPlan};
use anyhow::Result;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often napsh looks for the new pin while ssh connects.
const POLL: Duration = Duration::from_millis(100);

/// The notice for one connection whose alias has nothing pinned yet.
#[derive(Debug, Clone)]
pub struct PinNotice {
    /// napsh's known_hosts.
    known_hosts: PathBuf,
    /// The alias ssh pins under: the SIM id (or `lan:ADDRESS`).
    alias: String,
    /// The device as messages name it (already terminal-safe).
    label: String,
}

impl PinNotice {
    /// A notice for the connection `plan` makes, when nothing is pinned for its alias yet.
    pub fn first_connection(plan: &SshPlan, label: &str) -> Option<PinNotice> {
        let notice = PinNotice {
            known_hosts: plan.known_hosts.clone(),
            alias: plan.alias.clone(),
            label: label.to_string(),
        };
        notice.pinned().is_empty().then_some(notice)
    }

    /// The keys pinned for the alias now.
    fn pinned(&self) -> Vec<PinnedKey> {
        let keys = list(&self.known_hosts).unwrap_or_default();
        keys.into_iter().filter(|k| k.alias == self.alias).collect()
    }

    /// The sentence for `keys` (none: nothing to say yet).
    pub fn message(&self, keys: &[PinnedKey]) -> Option<String> {
        let key = keys.first()?;
        Some(format!(
            "napsh: first connection to {} ({}): its {} host key {} is now pinned; \
             a different key will be refused",
            self.label,
            self.alias,
            key_type_name(&key.key_type),
            key.fingerprint
        ))
    }

    /// Says it once, if the key is pinned by now; whether it was said.
    fn say_if_pinned(&self, said: &AtomicBool) -> bool {
        if said.load(Ordering::SeqCst) {
            return true;
        }
        let Some(text) = self.message(&self.pinned()) else {
            return false;
        };
        if !said.swap(true, Ordering::SeqCst) {
            // ssh may have put the terminal in raw mode already: end the line with CR LF.
            let end = if std::io::stderr().is_terminal() {
                "\r\n"
            } else {
                "\n"
            };
            let _ = write!(std::io::stderr(), "{text}{end}");
        }
        true
    }
}

/// The start of OpenSSH's own pin message ("Warning: Permanently added '…' (ED25519) to the
/// list of known hosts."), which napsh says in its own words instead.
const SSH_PIN_WARNING: &[u8] = b"Warning: Permanently added '";

/// `chunk` of ssh's stderr without OpenSSH's pin message line (ssh writes each message in one
/// write, so the line is whole in one chunk); every other byte as it was.
pub fn without_ssh_pin_warning(chunk: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let Some(start) = chunk
        .windows(SSH_PIN_WARNING.len())
        .position(|w| w == SSH_PIN_WARNING)
    else {
        return std::borrow::Cow::Borrowed(chunk);
    };
    let end = chunk[start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(chunk.len(), |i| start + i + 1);
    let mut rest = chunk[..start].to_vec();
    rest.extend_from_slice(&without_ssh_pin_warning(&chunk[end..]));
    std::borrow::Cow::Owned(rest)
}

/// `ssh-ed25519` → `ED25519`, `ecdsa-sha2-nistp256` → `ECDSA`, `ssh-rsa` → `RSA`: the names
/// OpenSSH's own messages use.
pub fn key_type_name(key_type: &str) -> String {
    let bare = key_type.strip_prefix("ssh-").unwrap_or(key_type);
    let bare = bare.split('-').next().unwrap_or(bare);
    bare.to_ascii_uppercase()
}

/// Watches napsh's known_hosts while one ssh connects and says the first pin once it is there.
pub struct PinWatch {
    /// The notice, when nothing was pinned for the alias before this connection.
    notice: Option<Arc<PinNotice>>,
    /// Whether the notice was said.
    said: Arc<AtomicBool>,
    /// The task polling for the pin while ssh runs.
    watcher: Option<tokio::task::JoinHandle<()>>,
}

impl PinWatch {
    /// Starts watching for the connection `plan` makes to `label` (a no-op when its alias
    /// has a key pinned already).
    pub fn start(plan: &SshPlan, label: &str) -> PinWatch {
        let notice = PinNotice::first_connection(plan, label).map(Arc::new);
        let said = Arc::new(AtomicBool::new(false));
        let watcher = notice.clone().map(|notice| {
            let said = said.clone();
            tokio::spawn(async move {
                while !notice.say_if_pinned(&said) {
                    tokio::time::sleep(POLL).await;
                }
            })
        });
        PinWatch {
            notice,
            said,
            watcher,
        }
    }

    /// After ssh exited: says the notice if ssh pinned the key and it was not said yet.
    pub fn finish(self) {
        if let Some(watcher) = self.watcher {
            watcher.abort();
        }
        if let Some(notice) = self.notice {
            notice.say_if_pinned(&self.said);
        }
    }
}

/// Runs ssh for `plan` (see `launch::run`) and, on a first connection, says in napsh's words
/// that `label`'s host key is now pinned.
pub async fn run(
    plan: &SshPlan,
    label: &str,
    env: &[(String, String)],
    signals: &mut Signals,
) -> Result<Outcome> {
    let watch = PinWatch::start(plan, label);
    let outcome = crate::ssh::launch::run(&build_args(plan), env, signals).await;
    watch.finish();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_s_own_pin_warning_is_dropped_and_nothing_else() {
        let warning = "Warning: Permanently added '8942310198413884024' (ED25519) to the list of known hosts.\r\n";
        let chunk = format!("before\r\n{warning}after\r\n");
        assert_eq!(
            &*without_ssh_pin_warning(chunk.as_bytes()),
            b"before\r\nafter\r\n"
        );
        assert_eq!(&*without_ssh_pin_warning(warning.as_bytes()), b"");
        let other = b"Warning: remote host identification has changed!\r\n";
        assert_eq!(&*without_ssh_pin_warning(other), other);
    }

    #[test]
    fn key_types_as_openssh_names_them() {
        assert_eq!(key_type_name("ssh-ed25519"), "ED25519");
        assert_eq!(key_type_name("ecdsa-sha2-nistp256"), "ECDSA");
        assert_eq!(key_type_name("ssh-rsa"), "RSA");
    }

    #[test]
    fn the_message_names_device_sim_type_and_fingerprint() {
        let notice = PinNotice {
            known_hosts: PathBuf::from("/nonexistent"),
            alias: "8942310198413884024".into(),
            label: "kiosk-12".into(),
        };
        assert_eq!(notice.message(&[]), None);
        let key = PinnedKey {
            alias: "8942310198413884024".into(),
            key_type: "ssh-ed25519".into(),
            fingerprint: "SHA256:abc".into(),
        };
        assert_eq!(
            notice.message(&[key]).unwrap(),
            "napsh: first connection to kiosk-12 (8942310198413884024): its ED25519 host key \
             SHA256:abc is now pinned; a different key will be refused"
        );
    }
}
