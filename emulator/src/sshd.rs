//! Real OpenSSH servers for emulated devices: one temp dir, host key and sshd per device.

use anyhow::{bail, Context};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where OpenSSH's server lives on this machine.
pub const SSHD_PATH: &str = "/usr/sbin/sshd";
/// How long to wait for a fresh sshd to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `sshd -D` on 127.0.0.1 with its own host key; killed (with its sessions) on drop.
#[derive(Debug)]
pub struct SshServer {
    /// Directory holding the config, host key and authorized_keys.
    dir: PathBuf,
    /// Port sshd listens on (stable across host-key rotations).
    port: u16,
    /// `ssh-ed25519 AAAA… comment` line of the current host key.
    host_key: String,
    /// The sshd process.
    child: Option<Child>,
}

/// How a spawned sshd lets users in (beyond the defaults: public keys from its own
/// `authorized_keys` file).
#[derive(Debug, Clone, Copy, Default)]
pub struct SshdOptions<'a> {
    /// File copied as the server's own `authorized_keys` (empty when absent).
    pub authorized_keys: Option<&'a Path>,
    /// Also accept passwords, checked against the system's accounts (`/etc/shadow`).
    pub password_auth: bool,
    /// Also read each user's own `%h/.ssh/authorized_keys` (a throwaway test user's home).
    pub home_authorized_keys: bool,
}

impl SshServer {
    /// Starts sshd in `dir` (created if needed) on a free port, with a new ed25519 host key and
    /// `authorized_keys` copied from the given file; returns once the port accepts connections.
    pub fn spawn(dir: impl AsRef<Path>, authorized_keys: Option<&Path>) -> anyhow::Result<Self> {
        Self::spawn_with(
            dir,
            SshdOptions {
                authorized_keys,
                ..SshdOptions::default()
            },
        )
    }

    /// [`SshServer::spawn`] with password and per-user key authentication as `options` say.
    pub fn spawn_with(dir: impl AsRef<Path>, options: SshdOptions<'_>) -> anyhow::Result<Self> {
        let authorized_keys = options.authorized_keys;
        let dir = absolute(dir.as_ref())?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        install_authorized_keys(&dir, authorized_keys)?;
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::start_on_free_port(&dir, &options) {
                Err(e) if tries < 5 && format!("{e:#}").contains("in use") => continue,
                other => return other,
            }
        }
    }

    /// One try of [`SshServer::spawn_with`]: a free port (which another server may take
    /// before sshd binds it: then sshd fails with "in use").
    fn start_on_free_port(dir: &Path, options: &SshdOptions<'_>) -> anyhow::Result<Self> {
        let dir = dir.to_path_buf();
        let port = free_port()?;
        let mut server = SshServer {
            dir,
            port,
            host_key: String::new(),
            child: None,
        };
        server.host_key = generate_host_key(&server.dir)?;
        write_config(&server.dir, port, options)?;
        server.start()?;
        Ok(server)
    }

    /// The port sshd listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address sshd listens on.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The host public key line (`ssh-ed25519 AAAA… comment`).
    pub fn host_public_key(&self) -> &str {
        &self.host_key
    }

    /// The directory of this server (config, keys).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// OS process id of the sshd listener, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Regenerates the host key and restarts sshd on the same port; returns the new key line.
    pub fn rotate_host_key(&mut self) -> anyhow::Result<String> {
        self.stop();
        let _ = std::fs::remove_file(self.dir.join("host_ed25519"));
        let _ = std::fs::remove_file(self.dir.join("host_ed25519.pub"));
        self.host_key = generate_host_key(&self.dir)?;
        self.start()?;
        Ok(self.host_key.clone())
    }

    /// Kills sshd and every session process it forked, and the device's tmux server (its
    /// sessions' `TMUX_TMPDIR` is this server's directory; tmux leaves sshd's process tree).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_tree(child.id());
            let _ = child.kill();
            let _ = child.wait();
        }
        // SAFETY: getuid(2) cannot fail.
        let uid = unsafe { libc::getuid() };
        if self.dir.join(format!("tmux-{uid}")).exists() {
            let _ = Command::new("tmux")
                .env("TMUX_TMPDIR", &self.dir)
                .arg("kill-server")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    fn start(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all("/run/sshd").ok();
        let config = self.dir.join("sshd_config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sshd.log"))
            .context("opening sshd.log")?;
        let child = Command::new(SSHD_PATH)
            .arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting {SSHD_PATH} -f {}", config.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            // The port is ours only when sshd itself holds the listening socket: between
            // `free_port` and sshd's bind another server may have taken it.
            if self.pid().is_some_and(|pid| owns_listener(pid, self.port)) {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().context("polling sshd")? {
                    self.child = None;
                    let log =
                        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default();
                    bail!(
                        "sshd exited early with {status} (config {}): {}",
                        self.dir.display(),
                        log.trim()
                    );
                }
            }
            if Instant::now() > deadline {
                self.stop();
                bail!(
                    "sshd did not accept on port {} within {READY_TIMEOUT:?}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn absolute(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.is_absolute() {
        return Ok(dir.to_path_buf());
    }
    Ok(std::env::current_dir()
        .context("reading the current directory")?
        .join(dir))
}

/// Whether process `pid` holds the socket listening on 127.0.0.1:`port` (`/proc/net/tcp`
/// gives the socket's inode, `/proc/PID/fd` the process's sockets).
fn owns_listener(pid: u32, port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == local && f[3] == "0A").then(|| f[9].to_string())
        })
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            inodes.iter().any(|i| t == format!("socket:[{i}]"))
        })
    })
}

/// Asks the kernel for a free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn install_authorized_keys(dir: &Path, source: Option<&Path>) -> anyhow::Result<()> {
    let target = dir.join("authorized_keys");
    match source {
        Some(src) => std::fs::copy(src, &target)
            .map(|_| ())
            .with_context(|| format!("copying authorized_keys from {}", src.display())),
        None => std::fs::write(&target, b"").context("writing empty authorized_keys"),
    }
}

/// Runs `ssh-keygen -t ed25519` in `dir`; returns the public key line.
fn generate_host_key(dir: &Path) -> anyhow::Result<String> {
    let key = dir.join("host_ed25519");
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "napsh-emulator",
            "-f",
        ])
        .arg(&key)
        .stdin(Stdio::null())
        .output()
        .context("running ssh-keygen")?;
    if !out.status.success() {
        bail!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let public = std::fs::read_to_string(key.with_extension("pub"))
        .context("reading generated host public key")?;
    Ok(public.trim().to_string())
}

fn write_config(dir: &Path, port: u16, options: &SshdOptions<'_>) -> anyhow::Result<()> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let home_keys = if options.home_authorized_keys {
        " %h/.ssh/authorized_keys"
    } else {
        ""
    };
    let config = format!(
        "ListenAddress 127.0.0.1\nPort {port}\nHostKey {key}\nPidFile none\nUsePAM no\n\
         StrictModes no\nPermitRootLogin yes\nPasswordAuthentication {pw}\n\
         KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         AuthorizedKeysFile {ak}{home_keys}\nLogLevel ERROR\nSubsystem sftp internal-sftp\n\
         SetEnv TMUX_TMPDIR={dir}\n",
        dir = dir.display(),
        key = dir.join("host_ed25519").display(),
        ak = dir.join("authorized_keys").display(),
        pw = yes_no(options.password_auth),
    );
    std::fs::write(dir.join("sshd_config"), config).context("writing sshd_config")
}

/// SIGKILLs every descendant of `pid` (sshd session processes call setsid, so a process
/// group kill would miss them) and waits until they are gone; reads parent links from /proc.
fn kill_tree(pid: u32) {
    let victims = descendants(pid);
    for child in &victims {
        // SAFETY: plain kill(2) on a pid we just found as our descendant.
        unsafe {
            libc::kill(*child as libc::pid_t, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while victims.iter().any(|p| is_running(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `pid` exists and is not a zombie.
fn is_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat.get(i + 2..i + 3))
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn descendants(root: u32) -> Vec<u32> {
    let parents = process_parents();
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid) in &parents {
            if *ppid == p && !out.contains(pid) {
                out.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    out
}

fn process_parents() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the parenthesised command: state ppid …
            let rest = &stat[stat.rfind(')')? + 2..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}
