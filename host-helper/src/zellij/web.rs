//! The `zellij` CLI as `napsh web` uses it: version check, the web server (start with retries,
//! stop, liveness probe over HTTP), sessions (create in the background, kill) and login tokens.
//! A token only ever travels through a pipe from `zellij web --create-token`, never into a log.

use crate::error::NapshError;
use anyhow::{bail, Context, Result};
use napsh_core::web::{
    parse_created_token, parse_token_names, session_status, CreatedToken, SessionStatus,
};
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How often `zellij web --daemonize` is tried before giving up.
const START_ATTEMPTS: u32 = 3;
/// How long a started web server gets to answer `/info/version`.
const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long a new session gets to be listed as running.
const SESSION_DEADLINE: Duration = Duration::from_secs(10);
/// How long a stopped web server gets to stop answering.
const STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Where Zellij's web server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAddress {
    /// Address it binds.
    pub bind: IpAddr,
    /// TCP port.
    pub port: u16,
    /// Certificate and key (PEM) when it serves HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl WebAddress {
    /// The base URL napsh probes: an unspecified bind is probed on loopback.
    fn probe_url(&self) -> String {
        let host = match self.bind {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        match host {
            IpAddr::V6(ip) => format!("{scheme}://[{ip}]:{}", self.port),
            IpAddr::V4(ip) => format!("{scheme}://{ip}:{}", self.port),
        }
    }
}

/// Whether Zellij's web server answers at `address` (`GET /info/version`, no credentials).
/// Certificates are not verified: this only asks a local server napsh started for its version.
pub async fn web_server_answers(address: &WebAddress) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .danger_accept_invalid_certs(true)
        .build()
    else {
        return false;
    };
    let url = format!("{}/info/version", address.probe_url());
    match client.get(&url).send().await {
        Ok(response) => response.status().is_success(),
        Err(_) => false,
    }
}

/// Polls until the web server answers (`want` true) or stops answering (`want` false).
async fn wait_for_web_server(address: &WebAddress, want: bool, deadline: Duration) -> bool {
    let until = Instant::now() + deadline;
    loop {
        if web_server_answers(address).await == want {
            return true;
        }
        if Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `zellij` with one config file, outside any Zellij session, from the home directory.
#[derive(Debug, Clone)]
pub struct Zellij {
    /// The config every command (and so the web server and the session) uses.
    pub config: PathBuf,
    /// Where the output of the long-lived servers goes (no secrets are ever written there).
    pub log: PathBuf,
    /// Working directory of the servers, so of the session's panes.
    pub cwd: PathBuf,
    /// `SORACOM_PROFILE` for the servers, so for the napsh the picker and the panes run.
    pub profile: Option<String>,
}

impl Zellij {
    /// A `zellij --config CONFIG` command; the variables that tie a process to the Zellij
    /// session it runs in are removed, so `napsh web` also works from inside Zellij.
    fn command(&self) -> Command {
        let mut cmd = Command::new("zellij");
        cmd.arg("--config")
            .arg(&self.config)
            .env_remove("ZELLIJ")
            .env_remove("ZELLIJ_SESSION_NAME")
            .env_remove("ZELLIJ_PANE_ID")
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        if let Some(profile) = &self.profile {
            cmd.env("SORACOM_PROFILE", profile);
        }
        cmd
    }

    /// Runs `zellij ARGS` and returns its output (any status).
    fn output(&self, args: &[&str]) -> Result<Output> {
        self.command()
            .args(args)
            .output()
            .with_context(|| format!("running zellij {}", args.join(" ")))
    }

    /// Runs a command that may leave a server behind: its output goes to the log file (a pipe
    /// would stay open as long as that server lives).
    fn run_logged(&self, mut cmd: Command, what: &str) -> Result<bool> {
        let log = File::options()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let err = log
            .try_clone()
            .with_context(|| format!("opening {}", self.log.display()))?;
        let status = cmd
            .stdout(log)
            .stderr(err)
            .status()
            .with_context(|| format!("running {what}"))?;
        Ok(status.success())
    }

    /// The last line Zellij wrote to the log, made safe for a terminal.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        napsh_core::sanitize::for_terminal(last.trim())
    }

    /// Starts the web server at `address` in the background and waits until it answers; tries
    /// again when it did not come up (a busy machine can miss Zellij's own start-up window).
    pub async fn start_web_server(&self, address: &WebAddress) -> Result<()> {
        for attempt in 1..=START_ATTEMPTS {
            let mut cmd = self.command();
            cmd.args(["web", "--daemonize", "--ip", &address.bind.to_string()])
                .args(["--port", &address.port.to_string()]);
            if let Some((cert, key)) = &address.tls {
                cmd.arg("--cert").arg(cert).arg("--key").arg(key);
            }
            let started = self.run_logged(cmd, "zellij web --daemonize")?;
            if started && wait_for_web_server(address, true, START_DEADLINE).await {
                return Ok(());
            }
            tracing::info!("zellij web did not come up (attempt {attempt} of {START_ATTEMPTS})");
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
        Err(NapshError::new(
            napsh_core::messages::ErrorKind::Network,
            format!(
                "Zellij's web server did not start on {}: {} (more in {})",
                address.probe_url(),
                self.log_tail(),
                self.log.display()
            ),
        )
        .hint("is the port taken, or is another `zellij web` running? (`zellij web --stop`, or choose --port)")
        .into())
    }

    /// Stops the web server napsh started (the one running with napsh's config; not another
    /// `zellij web` of the user's, which `zellij web --stop` would stop too) and waits until
    /// `address` no longer answers. Where /proc cannot be read, falls back to `zellij web --stop`.
    pub async fn stop_web_server(&self, address: &WebAddress) -> Result<()> {
        match self.own_web_server_pids() {
            Some(pids) => {
                for pid in pids {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGTERM,
                    );
                }
            }
            None => {
                self.output(&["web", "--stop"])?;
            }
        }
        if !wait_for_web_server(address, false, STOP_DEADLINE).await {
            bail!(
                "Zellij's web server still answers on {} after being asked to stop",
                address.probe_url()
            );
        }
        Ok(())
    }

    /// Pids of this user's `zellij --config <napsh's config> web …` processes; `None` without
    /// /proc.
    fn own_web_server_pids(&self) -> Option<Vec<i32>> {
        use std::os::unix::fs::MetadataExt;
        let config = self.config.as_os_str().as_encoded_bytes();
        let me = nix::unistd::getuid().as_raw();
        let entries = std::fs::read_dir("/proc").ok()?;
        let pids = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                let mine = std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == me);
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                mine && is_web_server_of(&cmdline, config)
            })
            .collect();
        Some(pids)
    }

    /// Whether the server listening on `port` is the web server napsh started: one of this
    /// user's `zellij --config <napsh's config> web` processes holds the listening socket
    /// (its inode in `/proc/net/tcp{,6}` among the process's open files). Anything else that
    /// answers there — another local user's server after a reboot — is not.
    pub fn owns_listener(&self, port: u16) -> bool {
        let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .flat_map(|text| listening_inodes(&text, port))
            .collect();
        let pids = self.own_web_server_pids().unwrap_or_default();
        !inodes.is_empty() && pids.iter().any(|pid| holds_socket(*pid, &inodes))
    }

    /// Whether `session` runs, has exited, or is absent.
    pub fn session_status(&self, session: &str) -> Result<SessionStatus> {
        let out = self.output(&["list-sessions", "--no-formatting"])?;
        Ok(session_status(
            &String::from_utf8_lossy(&out.stdout),
            session,
        ))
    }

    /// Creates `session` in the background with `layout` (an exited one of that name is
    /// deleted first); true when napsh created it, false when it was already running. Tried
    /// again when the new session is not seen running: on a busy machine Zellij 0.45.1's server
    /// can die as the creating client leaves (a panic in its client removal).
    pub fn ensure_session(&self, session: &str, layout: &Path) -> Result<bool> {
        if self.session_status(session)? == SessionStatus::Running {
            return Ok(false);
        }
        for attempt in 1..=START_ATTEMPTS {
            if self.session_status(session)? == SessionStatus::Exited {
                self.output(&["delete-session", session])?;
            }
            let mut cmd = self.command();
            cmd.args(["attach", "--create-background", session])
                .args(["options", "--default-layout"])
                .arg(layout);
            let launched = self.run_logged(cmd, "zellij attach --create-background")?;
            if launched && self.session_stays_up(session)? {
                return Ok(true);
            }
            tracing::info!(
                "session {session} did not come up (attempt {attempt} of {START_ATTEMPTS})"
            );
            std::thread::sleep(Duration::from_millis(300 * u64::from(attempt)));
        }
        bail!(
            "zellij could not create the session {session:?}: {} (more in {})",
            self.log_tail(),
            self.log.display()
        )
    }

    /// Whether `session` is listed as running, and still is a moment later.
    fn session_stays_up(&self, session: &str) -> Result<bool> {
        let until = Instant::now() + SESSION_DEADLINE;
        let mut seen_running = 0;
        while Instant::now() < until {
            match self.session_status(session)? {
                SessionStatus::Running => seen_running += 1,
                SessionStatus::Exited => return Ok(false),
                SessionStatus::Absent => seen_running = 0,
            }
            if seen_running == 2 {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(false)
    }

    /// Ends `session` and forgets it (no resurrection entry left behind).
    pub fn kill_session(&self, session: &str) -> Result<()> {
        self.output(&["kill-session", session])?;
        self.output(&["delete-session", "--force", session])?;
        Ok(())
    }

    /// A new read-write login token (the secret stays in memory; only its hash is stored).
    pub fn create_token(&self) -> Result<CreatedToken> {
        let out = self.output(&["web", "--create-token"])?;
        parse_created_token(&String::from_utf8_lossy(&out.stdout)).with_context(|| {
            format!(
                "`zellij web --create-token` printed no token: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }

    /// Names of the login tokens Zellij knows.
    pub fn token_names(&self) -> Result<Vec<String>> {
        let out = self.output(&["web", "--list-tokens"])?;
        Ok(parse_token_names(&String::from_utf8_lossy(&out.stdout)))
    }

    /// Revokes the login token `name`.
    pub fn revoke_token(&self, name: &str) -> Result<()> {
        let out = self.output(&["web", "--revoke-token", name])?;
        if !out.status.success() {
            bail!(
                "`zellij web --revoke-token {name}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }
}

/// The inodes of the sockets listening (state `0A`) on `port` in `/proc/net/tcp{,6}` text.
fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = u16::from_str_radix(fields.get(1)?.rsplit(':').next()?, 16).ok()?;
            let listening = local == port && *fields.get(3)? == "0A";
            listening.then(|| fields.get(9)?.parse().ok())?
        })
        .collect()
}

/// Whether process `pid` has one of the sockets `inodes` open.
fn holds_socket(pid: i32, inodes: &[u64]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    fds.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|link| wanted.iter().any(|w| link.as_os_str() == w.as_str()))
}

/// Whether a NUL-separated command line is `… --config CONFIG web …`.
fn is_web_server_of(cmdline: &[u8], config: &[u8]) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(3)
        .any(|w| w[0] == b"--config" && w[1] == config && w[2] == b"web")
}

/// Fails with an install hint unless the `zellij` on PATH has the web client and can run the
/// picker (`zellij::install::check_zellij`); warns about a caveat of its version.
pub fn require_zellij() -> Result<()> {
    use crate::zellij::install::{check_zellij, ZellijNews};
    if let ZellijNews::Warning(text) = check_zellij(napsh_core::zellij_compat::ZellijUse::Web)? {
        crate::output::warn(&text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_web_server_of_napsh_config() {
        let config = b"/s/napsh/web/config.kdl";
        let ours = b"zellij\0--config\0/s/napsh/web/config.kdl\0web\0--daemonize\0--port\08082\0";
        assert!(is_web_server_of(ours, config));
        let session = b"zellij\0--config\0/s/napsh/web/config.kdl\0attach\0napsh\0";
        assert!(!is_web_server_of(session, config));
        let users = b"zellij\0web\0--daemonize\0";
        assert!(!is_web_server_of(users, config));
    }

    #[test]
    fn finds_the_listening_socket_of_a_port() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0
   1: 0100007F:1F92 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0
";
        assert_eq!(listening_inodes(text, 8082), [4242]);
        assert_eq!(listening_inodes(text, 22), [77]);
        assert!(listening_inodes(text, 80).is_empty());
        let v6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F92 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0 100 0 0 10 0
";
        assert_eq!(listening_inodes(v6, 8082), [99]);
    }

    #[test]
    fn probe_urls_use_loopback_for_unspecified_binds() {
        let address = |bind: &str, tls: bool| WebAddress {
            bind: bind.parse().unwrap(),
            port: 8082,
            tls: tls.then(|| (PathBuf::from("c"), PathBuf::from("k"))),
        };
        assert_eq!(
            address("0.0.0.0", true).probe_url(),
            "https://127.0.0.1:8082"
        );
        assert_eq!(address("::", false).probe_url(), "http://[::1]:8082");
        assert_eq!(
            address("192.0.2.1", true).probe_url(),
            "https://192.0.2.1:8082"
        );
    }
}
