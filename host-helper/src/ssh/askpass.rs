//! Handing a device password to `ssh` without putting it on a command line or in ssh's
//! environment: napsh serves it once over a Unix socket in a private (0700) temp dir to a
//! child presenting a one-time token; ssh runs napsh itself as `SSH_ASKPASS` to fetch it.
//! Also which password the config gives a device, and the environment that points ssh here.
//! A password follows the config rules, which match names and tags anyone with tag
//! permission (or the device itself) can set: it is served only to a device whose host key
//! was pinned before this connection, or on a trusted first contact (see `first_contact`).

use crate::app::App;
use crate::config::fetch_password;
use crate::ssh::first_contact::FirstContact;
use anyhow::{Context, Result};
use napsh_core::Device;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Environment variable holding the one-time token (its presence selects askpass mode).
pub const TOKEN_VAR: &str = "NAPSH_ASKPASS_TOKEN";
/// Environment variable holding the socket path.
pub const SOCKET_VAR: &str = "NAPSH_ASKPASS_SOCKET";

/// The running password server; stops and removes its socket when dropped.
pub struct AskpassServer {
    /// Private directory holding the socket.
    _dir: tempfile::TempDir,
    /// Socket path.
    socket: PathBuf,
    /// One-time token a child must present.
    token: String,
    /// The accept loop.
    task: tokio::task::JoinHandle<()>,
}

/// A configured password and the device it is meant for (no `Debug`: never printed).
#[derive(Clone)]
pub struct Password {
    /// The secret.
    pub secret: String,
    /// Whether the device on the other end may have it.
    pub gate: FirstContact,
}

impl AskpassServer {
    /// Starts serving `password` once, if its gate allows (needs a tokio runtime).
    pub fn start(password: Password) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("napsh-askpass-")
            .tempdir()
            .context("creating a private directory for the password socket")?;
        let socket = dir.path().join("s");
        let listener = tokio::net::UnixListener::bind(&socket)
            .with_context(|| format!("listening on {}", socket.display()))?;
        let token: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let served = Arc::new(AtomicBool::new(false));
        let expected = token.clone();
        let task = tokio::spawn(async move {
            let mut allowed = None;
            while let Ok((stream, _)) = listener.accept().await {
                serve_one(stream, &expected, &password, &served, &mut allowed).await;
            }
        });
        Ok(AskpassServer {
            _dir: dir,
            socket,
            token,
            task,
        })
    }

    /// The variables to give `ssh` (none of them is the password).
    pub fn env(&self, exe: &std::path::Path) -> Vec<(String, String)> {
        vec![
            ("SSH_ASKPASS".into(), exe.display().to_string()),
            ("SSH_ASKPASS_REQUIRE".into(), "force".into()),
            (SOCKET_VAR.into(), self.socket.display().to_string()),
            (TOKEN_VAR.into(), self.token.clone()),
        ]
    }
}

impl Drop for AskpassServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one connection: the password, once, to a same-user peer with the right token,
/// when its gate allows (decided at the first request: ssh asks only once the host key is
/// known to it, so a first-contact prompt can show that key).
async fn serve_one(
    mut stream: tokio::net::UnixStream,
    token: &str,
    password: &Password,
    served: &AtomicBool,
    allowed: &mut Option<bool>,
) {
    let same_user = stream
        .peer_cred()
        .map(|c| c.uid() == nix::unistd::getuid().as_raw())
        .unwrap_or(false);
    let mut buf = [0u8; 128];
    let mut len = 0;
    while len < buf.len() {
        match tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read(&mut buf[len..]),
        )
        .await
        {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                len += n;
                if buf[..len].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    let presented = String::from_utf8_lossy(&buf[..len]);
    let mut ok = same_user
        && constant_time_eq(presented.trim_end().as_bytes(), token.as_bytes())
        && !served.load(Ordering::SeqCst);
    if ok {
        ok = gate_decision(&password.gate, allowed).await;
    }
    if ok && !served.swap(true, Ordering::SeqCst) {
        let _ = stream.write_all(password.secret.as_bytes()).await;
    } else {
        tracing::info!("refused an askpass request");
    }
    let _ = stream.shutdown().await;
}

/// The gate's answer, asked once (it may prompt on the terminal: off the runtime).
async fn gate_decision(gate: &FirstContact, allowed: &mut Option<bool>) -> bool {
    if let Some(decided) = *allowed {
        return decided;
    }
    let gate = gate.clone();
    let decided = tokio::task::spawn_blocking(move || gate.allows())
        .await
        .unwrap_or(false);
    *allowed = Some(decided);
    decided
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether napsh was started by ssh as its askpass program.
pub fn invoked_as_askpass() -> bool {
    std::env::var_os(TOKEN_VAR).is_some() && std::env::var_os(SOCKET_VAR).is_some()
}

/// Askpass mode: for a password prompt, fetch the password and print it; exit code for ssh.
pub fn run_client(prompt: &str) -> i32 {
    if !prompt.to_lowercase().contains("password") {
        // A key passphrase or a yes/no question: not ours to answer.
        return 1;
    }
    match fetch() {
        Ok(Some(pw)) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{pw}").and_then(|_| out.flush()).is_ok() {
                0
            } else {
                1
            }
        }
        _ => 1,
    }
}

fn fetch() -> Result<Option<String>> {
    let socket = std::env::var_os(SOCKET_VAR).context("no socket")?;
    let token = std::env::var(TOKEN_VAR).context("no token")?;
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    stream.write_all(format!("{token}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(Some(answer).filter(|a| !a.is_empty()))
}

/// The password the config rules give `device`, fetched now (`None` without a rule), gated
/// on its host key being pinned now (or `--trust-first-contact`).
pub fn password_for(app: &App, device: &Device) -> Result<Option<Password>> {
    let Some(source) = app.config.settings_for(device).password else {
        return Ok(None);
    };
    Ok(Some(Password {
        secret: fetch_password(&source)?,
        gate: FirstContact::for_device(app, device)?,
    }))
}

/// A password server (to keep alive while ssh runs) and the variables pointing ssh at it.
pub type Askpass = (Option<AskpassServer>, Vec<(String, String)>);

/// The password server and the variables that point ssh at it; neither holds the password
/// itself (no password: no server, no variables).
pub fn askpass_env(password: Option<Password>) -> Result<Askpass> {
    let Some(password) = password else {
        return Ok((None, Vec::new()));
    };
    let server = AskpassServer::start(password)?;
    let exe = std::env::current_exe().context("finding napsh's own path (for SSH_ASKPASS)")?;
    let env = server.env(&exe);
    Ok((Some(server), env))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ask(socket: &std::path::Path, token: &str) -> String {
        let socket = socket.to_path_buf();
        let token = token.to_string();
        tokio::task::spawn_blocking(move || {
            let mut s = UnixStream::connect(socket).unwrap();
            s.write_all(format!("{token}\n").as_bytes()).unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn serves_the_password_once_and_only_for_the_token() {
        let server = AskpassServer::start(Password {
            secret: "s3cr3t pw".into(),
            gate: FirstContact::trusted(),
        })
        .unwrap();
        let env = server.env(std::path::Path::new("/bin/napsh"));
        assert!(env.iter().all(|(_, v)| !v.contains("s3cr3t")));
        assert_eq!(ask(&server.socket, "wrong").await, "");
        assert_eq!(ask(&server.socket, &server.token).await, "s3cr3t pw");
        assert_eq!(ask(&server.socket, &server.token).await, "", "only once");
    }

    #[test]
    fn prompts_other_than_password_are_declined() {
        assert_eq!(run_client("Enter passphrase for key '/k': "), 1);
    }
}
