//! Harness pieces for the fleet-command tests (`napsh exec`, `keys`, `history`, `audit`): a
//! throwaway local user with a password and a home of its own, and a real sshd that accepts
//! that password and the keys in `~/.ssh/authorized_keys` of the user who logs in — so that
//! `napsh keys push` never touches the real `/root/.ssh/authorized_keys`.

use anyhow::{Context, Result};
use napsh_emulator::sshd::{SshServer, SshdOptions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tempfile::TempDir;

/// A local user that exists for one test: created with `useradd`, given a random password
/// with `chpasswd` (on stdin), its home in a temp dir; removed (user and home) on drop.
pub struct TempUser {
    /// Login name (unique per test: `nk` + random hex).
    pub name: String,
    /// Its password.
    pub password: String,
    /// Parent of the home (0755 so that the user can reach its home).
    dir: TempDir,
}

impl TempUser {
    /// Creates the user (needs root: `useradd`, `chpasswd`).
    pub fn create() -> Result<Self> {
        crate::require_tool("useradd", "apt-get install -y passwd");
        crate::require_tool("chpasswd", "apt-get install -y passwd");
        let name = format!("nk{}", &random_hex()?[..10]);
        let password = format!("pw-{}", random_hex()?);
        let dir = tempfile::Builder::new().prefix("napsh-user-").tempdir()?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
        let home = dir.path().join("home");
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name)
            .status()
            .context("running useradd")?;
        anyhow::ensure!(status.success(), "useradd {name} failed with {status}");
        let user = TempUser {
            name,
            password,
            dir,
        };
        user.set_password()?;
        Ok(user)
    }

    fn set_password(&self) -> Result<()> {
        use std::io::Write;
        let mut child = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .context("running chpasswd")?;
        child
            .stdin
            .take()
            .context("chpasswd stdin")?
            .write_all(format!("{}:{}\n", self.name, self.password).as_bytes())?;
        let status = child.wait()?;
        anyhow::ensure!(status.success(), "chpasswd failed with {status}");
        Ok(())
    }

    /// The user's home directory.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `~/.ssh/authorized_keys` of the user.
    pub fn authorized_keys(&self) -> PathBuf {
        self.home().join(".ssh/authorized_keys")
    }

    /// Writes `body` as the user's `~/.ssh/authorized_keys`, owned by the user.
    pub fn write_authorized_keys(&self, body: &str) -> Result<()> {
        let ssh = self.home().join(".ssh");
        std::fs::create_dir_all(&ssh)?;
        std::fs::write(self.authorized_keys(), body)?;
        let status = Command::new("chown")
            .args(["-R", &format!("{0}:{0}", self.name)])
            .arg(&ssh)
            .status()?;
        anyhow::ensure!(status.success(), "chown failed with {status}");
        Ok(())
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        // Any session process of the user is gone with its sshd; the home goes with `dir`.
        let _ = Command::new("userdel")
            .arg("-f")
            .arg(&self.name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A real sshd accepting passwords and each user's own `~/.ssh/authorized_keys` (nothing
/// else); point a fleet device at it with `ssh = "127.0.0.1:<port>"`.
pub fn password_sshd(dir: &Path) -> Result<SshServer> {
    SshServer::spawn_with(
        dir,
        SshdOptions {
            authorized_keys: None,
            password_auth: true,
            home_authorized_keys: true,
        },
    )
}

/// A throwaway user, a [`password_sshd`] and the fleet of one online device `name` pointing at
/// it; everything goes when this is dropped.
pub struct UserDevice {
    /// The device's login user (and its password).
    pub user: TempUser,
    /// The fleet TOML for [`crate::TestEnv::start`].
    pub fleet: String,
    /// The sshd.
    _sshd: SshServer,
    /// The sshd's files.
    _dir: TempDir,
}

impl UserDevice {
    /// Creates the user and starts the sshd (needs root).
    pub fn start(name: &str) -> Result<Self> {
        let user = TempUser::create()?;
        let dir = tempfile::tempdir()?;
        let sshd = password_sshd(dir.path())?;
        let fleet = format!(
            "[[devices]]\nname = {name:?}\nonline = true\nssh = \"127.0.0.1:{}\"\n",
            sshd.port()
        );
        Ok(UserDevice {
            user,
            fleet,
            _sshd: sshd,
            _dir: dir,
        })
    }
}

/// 32 random hex digits (from the kernel's UUID source).
fn random_hex() -> Result<String> {
    let uuid = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .context("reading /proc/sys/kernel/random/uuid")?;
    Ok(uuid.trim().replace('-', ""))
}
