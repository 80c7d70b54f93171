//! Running the system `ssh` against a mapping: the argument list (per-device host-key alias,
//! napsh's own known_hosts, cellular keepalives — faster for a resumed session, which also
//! marks its authentication with a `LocalCommand` — -T/-t), the environment (askpass, never
//! the password), forwarding signals to it, and watching its stderr (host-key mismatch, the
//! tail a resumed session is judged by).

use crate::error::NapshError;
use crate::signals::Signals;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncReadExt;

/// Everything needed to build the ssh command line.
#[derive(Debug, Clone, PartialEq)]
pub struct SshPlan {
    /// Mapping address (not the hostname: the alias pins the key, the address connects).
    pub ip: String,
    /// Mapping port.
    pub port: u16,
    /// Host-key alias: the SIM id.
    pub alias: String,
    /// napsh's known_hosts file.
    pub known_hosts: PathBuf,
    /// Remote user.
    pub user: String,
    /// Config `ssh_extra_args` (verbatim, first so their `-o` values win).
    pub extra_args: Vec<String>,
    /// `--ssh-option` values (each becomes `-o VALUE`).
    pub options: Vec<String>,
    /// Remote command (empty: interactive shell).
    pub command: Vec<String>,
    /// Whether stdin is a terminal (asks for `-t` in interactive mode).
    pub stdin_is_tty: bool,
    /// The command starts an interactive shell (a service shell): `-t` when stdin is a
    /// terminal, as without a command.
    pub tty_for_command: bool,
    /// A resumed session: this file is created (`LocalCommand`) once ssh has authenticated,
    /// and keepalives find a dead link within 20 s (`napsh_core::resume`).
    pub marker: Option<PathBuf>,
}

/// What ssh did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Exit code (128+N when ssh died of signal N).
    pub code: i32,
    /// ssh reported a host-key mismatch / verification failure.
    pub host_key_failed: bool,
    /// The signal napsh received (and forwarded) while ssh ran, if any.
    pub signal: Option<i32>,
}

/// Phrases ssh prints when the host key does not verify.
const HOST_KEY_MARKERS: [&str; 2] = [
    "REMOTE HOST IDENTIFICATION HAS CHANGED",
    "Host key verification failed",
];

/// `accept-new` only while nothing is pinned for the SIM; once a key is, `yes`: a key of
/// another type from the endpoint is refused, never added beside the pinned one.
fn strictness(plan: &SshPlan) -> &'static str {
    match crate::ssh::known_hosts::pinned(&plan.known_hosts, &plan.alias) {
        Ok(keys) if keys.is_empty() => "accept-new",
        Err(_) => "accept-new",
        Ok(_) => "yes",
    }
}

/// ssh's argv (without the program name).
pub fn build_args(plan: &SshPlan) -> Vec<String> {
    let mut args: Vec<String> = plan.extra_args.clone();
    for o in &plan.options {
        args.extend(["-o".to_string(), o.clone()]);
    }
    // Quoted for ssh's option parser: spaces, quotes and `%` (a token to ssh) survive.
    let raw = plan.known_hosts.display().to_string();
    let known_hosts =
        napsh_core::ssh_config::config_path("napsh's known_hosts path", &raw).unwrap_or(raw);
    args.extend(["-p".to_string(), plan.port.to_string()]);
    for o in [
        format!("HostKeyAlias={}", plan.alias),
        format!("UserKnownHostsFile={known_hosts}"),
        format!("StrictHostKeyChecking={}", strictness(plan)),
        "CheckHostIP=no".into(),
        // SIM ids are not secret; plain entries keep napsh's known_hosts readable.
        "HashKnownHosts=no".into(),
    ]
    .into_iter()
    .chain(link_options(plan.marker.as_deref()))
    {
        args.extend(["-o".to_string(), o]);
    }
    args.extend(["-l".to_string(), plan.user.clone()]);
    if !plan.command.is_empty() && !plan.tty_for_command {
        args.push("-T".into());
    } else if plan.stdin_is_tty {
        args.push("-t".into());
    }
    args.push("--".into());
    args.push(plan.ip.clone());
    args.extend(plan.command.iter().cloned());
    args
}

/// Keepalive and timeout options: cellular defaults, or for a resumed session (`marker`)
/// a dead link found within 20 s, shorter connection attempts, and the marker file created by
/// a `LocalCommand` once authenticated.
fn link_options(marker: Option<&Path>) -> Vec<String> {
    use napsh_core::resume::{CONNECT_TIMEOUT_SECS, KEEPALIVE_COUNT, KEEPALIVE_SECS};
    let Some(marker) = marker else {
        return vec![
            "ServerAliveInterval=15".into(),
            "ServerAliveCountMax=4".into(),
            "ConnectTimeout=20".into(),
            // ssh's "Permanently added … to the list of known hosts" is said by napsh instead
            // (`pin_notice`); errors, a changed host key among them, still show.
            "LogLevel=ERROR".into(),
        ];
    };
    // ssh expands `%` tokens and `${VAR}` in LocalCommand: the marker's path has neither.
    let path = napsh_core::shell::quote(&marker.display().to_string());
    vec![
        format!("ServerAliveInterval={KEEPALIVE_SECS}"),
        format!("ServerAliveCountMax={KEEPALIVE_COUNT}"),
        format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
        // A resumed session tells a lost link ("Timeout, server … not responding") from its
        // own end (`~.`: "Connection to … closed.") by ssh's INFO messages; the pin warning
        // among them is dropped on the way to the terminal (`tee_stderr`).
        "LogLevel=INFO".into(),
        "PermitLocalCommand=yes".into(),
        format!("LocalCommand=touch {path}"),
    ]
}

/// Starts `ssh args` with `env` added and the given standard streams.
fn spawn(
    args: &[String],
    env: &[(String, String)],
    stdin: Stdio,
    stdout: Stdio,
) -> Result<tokio::process::Child> {
    tracing::info!(?args, "running ssh");
    let child = tokio::process::Command::new("ssh")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            NapshError::new(ErrorKind::Ssh, format!("cannot run ssh: {e}"))
                .hint("install the OpenSSH client and make sure `ssh` is on PATH")
        })?;
    Ok(child)
}

/// The exit code of a finished ssh (128+N when it died of signal N).
fn code_of(status: std::io::Result<std::process::ExitStatus>) -> Result<i32> {
    use std::os::unix::process::ExitStatusExt;
    let status =
        status.map_err(|e| NapshError::new(ErrorKind::Ssh, format!("waiting for ssh: {e}")))?;
    Ok(status
        .code()
        .or_else(|| status.signal().map(crate::signals::exit_code))
        .unwrap_or(255))
}

/// Sends `sig` to our child `pid` (plain kill(2)).
fn signal_child(pid: Option<u32>, sig: i32) {
    if let Some(pid) = pid {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

/// Runs ssh with inherited stdin/stdout, stderr teed (to spot host-key failures), `env`
/// added, and the signals napsh receives forwarded to it. Returns when ssh has exited.
pub async fn run(
    args: &[String],
    env: &[(String, String)],
    signals: &mut Signals,
) -> Result<Outcome> {
    Ok(run_watched(args, env, signals, None).await?.0)
}

/// What ssh wrote on its stderr, as napsh watched it.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    /// The last few KiB (what the end of a session is judged by).
    pub tail: String,
    /// What was held back because the session never authenticated (see [`run_watched`]).
    pub held: Vec<u8>,
}

/// [`run`], also returning ssh's stderr tail. With `hold_until`, stderr is held back until
/// that file exists (a reconnect attempt shows nothing of a failed connection) and returned.
pub async fn run_watched(
    args: &[String],
    env: &[(String, String)],
    signals: &mut Signals,
    hold_until: Option<&Path>,
) -> Result<(Outcome, Watched)> {
    let mut child = spawn(args, env, Stdio::inherit(), Stdio::inherit())?;
    let stderr = child.stderr.take();
    let hold = hold_until.map(Path::to_path_buf);
    let tee = tokio::spawn(async move {
        match stderr {
            Some(s) => tee_stderr(s, hold).await,
            None => (HostKeyWatch::default(), Vec::new()),
        }
    });
    let pid = child.id();
    let mut received = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            sig = signals.recv() => {
                tracing::info!(sig, "forwarding a signal to ssh");
                received = Some(sig);
                signal_child(pid, sig);
            }
        }
    };
    let code = code_of(status)?;
    let (watch, held) = tee.await.unwrap_or_default();
    let outcome = Outcome {
        code,
        host_key_failed: watch.seen,
        signal: received,
    };
    Ok((
        outcome,
        Watched {
            tail: watch.tail,
            held,
        },
    ))
}

/// Where a piped ssh's output goes, chunk by chunk.
pub struct Sinks<'a> {
    /// Receives stdout bytes.
    pub stdout: &'a mut (dyn FnMut(&[u8]) + Send),
    /// Receives stderr bytes.
    pub stderr: &'a mut (dyn FnMut(&[u8]) + Send),
}

/// Runs ssh non-interactively: `input` (if any) written to its stdin which is then closed,
/// stdout and stderr handed to `sinks`. When `cancel` fires, ssh gets SIGTERM and is waited
/// for. Returns when ssh has exited and both streams are drained.
pub async fn run_piped(
    args: &[String],
    env: &[(String, String)],
    input: Option<&[u8]>,
    sinks: Sinks<'_>,
    cancel: &tokio_util::sync::CancellationToken,
) -> Result<Outcome> {
    let stdin = if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    };
    let mut child = spawn(args, env, stdin, Stdio::piped())?;
    let pid = child.id();
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let feed = async move {
        if let (Some(mut pipe), Some(data)) = (stdin, input) {
            use tokio::io::AsyncWriteExt;
            // A command that does not read its stdin closes the pipe: not an error.
            let _ = pipe.write_all(data).await;
        }
    };
    let mut watch = HostKeyWatch::default();
    let err_sink = sinks.stderr;
    let mut on_err = |b: &[u8]| {
        watch.see(b);
        err_sink(b)
    };
    let wait = async {
        let mut signalled = false;
        loop {
            tokio::select! {
                status = child.wait() => break status,
                _ = cancel.cancelled(), if !signalled => {
                    signalled = true;
                    signal_child(pid, libc::SIGTERM);
                }
            }
        }
    };
    let (_, _, _, status) = tokio::join!(
        feed,
        pump(stdout, sinks.stdout),
        pump(stderr, &mut on_err),
        wait
    );
    Ok(Outcome {
        code: code_of(status)?,
        host_key_failed: watch.seen,
        signal: None,
    })
}

/// Reads `from` to its end, handing each chunk to `sink`.
async fn pump<R: tokio::io::AsyncRead + Unpin>(
    from: Option<R>,
    sink: &mut (dyn FnMut(&[u8]) + Send),
) {
    let Some(mut from) = from else { return };
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => sink(&buf[..n]),
        }
    }
}

/// Notices ssh's host-key failure messages in its stderr, across chunk boundaries.
#[derive(Debug, Default)]
struct HostKeyWatch {
    /// The last few KiB of stderr.
    tail: String,
    /// A marker was seen.
    seen: bool,
}

impl HostKeyWatch {
    /// Takes the next stderr chunk.
    fn see(&mut self, chunk: &[u8]) {
        self.tail.push_str(&String::from_utf8_lossy(chunk));
        self.seen |= HOST_KEY_MARKERS.iter().any(|m| self.tail.contains(m));
        if self.tail.len() > 8192 {
            let cut = self.tail.len() - 256;
            let cut = (cut..self.tail.len())
                .find(|i| self.tail.is_char_boundary(*i))
                .unwrap_or(0);
            self.tail.drain(..cut);
        }
    }
}

/// Copies ssh's stderr to ours (ignoring a closed stderr) — held back while `hold_until` is
/// given and does not exist yet — watching it; returns the watch and what was held back.
async fn tee_stderr(
    from: tokio::process::ChildStderr,
    hold_until: Option<PathBuf>,
) -> (HostKeyWatch, Vec<u8>) {
    let mut watch = HostKeyWatch::default();
    let mut held = Vec::new();
    let mut copy = |b: &[u8]| {
        watch.see(b);
        let b = &*crate::ssh::pin_notice::without_ssh_pin_warning(b);
        if hold_until.as_deref().is_some_and(|p| !p.exists()) {
            held.extend_from_slice(b);
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err
            .write_all(&std::mem::take(&mut held))
            .and_then(|_| err.write_all(b))
            .and_then(|_| err.flush());
    };
    pump(Some(from), &mut copy).await;
    (watch, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SshPlan {
        SshPlan {
            ip: "203.0.113.45".into(),
            port: 40123,
            alias: "8981200000000000001".into(),
            known_hosts: "/home/u/.local/share/napsh/known_hosts".into(),
            user: "pi".into(),
            extra_args: vec!["-i".into(), "/k".into()],
            options: vec!["ForwardAgent=no".into()],
            command: vec![],
            stdin_is_tty: true,
            tty_for_command: false,
            marker: None,
        }
    }

    fn pairs(args: &[String]) -> Vec<String> {
        args.windows(2)
            .filter(|w| w[0] == "-o")
            .map(|w| w[1].clone())
            .collect()
    }

    #[test]
    fn a_pinned_sim_is_checked_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let known = dir.path().join("known_hosts");
        let mut p = plan();
        p.known_hosts = known.clone();
        assert!(pairs(&build_args(&p)).contains(&"StrictHostKeyChecking=accept-new".to_string()));
        std::fs::write(
            &known,
            "8981200000000000001 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFsKjX3jydjet9xLNqFmvYhN1ZU06JAFCRyoqDFl9r0E\n",
        )
        .unwrap();
        assert!(pairs(&build_args(&p)).contains(&"StrictHostKeyChecking=yes".to_string()));
    }

    #[test]
    fn pins_by_alias_and_uses_own_known_hosts_with_keepalives() {
        let args = build_args(&plan());
        let opts = pairs(&args);
        for want in [
            "HostKeyAlias=8981200000000000001",
            "UserKnownHostsFile=\"/home/u/.local/share/napsh/known_hosts\"",
            "StrictHostKeyChecking=accept-new",
            "CheckHostIP=no",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
            "ConnectTimeout=20",
            "LogLevel=ERROR",
            "ForwardAgent=no",
        ] {
            assert!(
                opts.contains(&want.to_string()),
                "{want} missing in {args:?}"
            );
        }
        assert_eq!(&args[..2], ["-i", "/k"], "extra args first");
        let p = args.iter().position(|a| a == "-p").unwrap();
        assert_eq!(args[p + 1], "40123");
        let l = args.iter().position(|a| a == "-l").unwrap();
        assert_eq!(args[l + 1], "pi");
        assert_eq!(&args[args.len() - 3..], ["-t", "--", "203.0.113.45"]);
        assert!(!args.iter().any(|a| a == "-F"));
    }

    #[test]
    fn command_means_no_tty_and_no_tty_without_terminal() {
        let mut p = plan();
        p.command = vec!["uname".into(), "-a".into()];
        let args = build_args(&p);
        assert!(args.contains(&"-T".to_string()) && !args.contains(&"-t".to_string()));
        assert_eq!(
            &args[args.len() - 4..],
            ["--", "203.0.113.45", "uname", "-a"]
        );
        let mut p = plan();
        p.stdin_is_tty = false;
        let args = build_args(&p);
        assert!(!args.contains(&"-t".to_string()) && !args.contains(&"-T".to_string()));
    }

    #[test]
    fn a_shell_command_gets_a_terminal_only_from_a_terminal() {
        let mut p = plan();
        p.command = vec!["docker exec -it web sh".into()];
        p.tty_for_command = true;
        let args = build_args(&p);
        assert!(args.contains(&"-t".to_string()) && !args.contains(&"-T".to_string()));
        p.stdin_is_tty = false;
        let args = build_args(&p);
        assert!(!args.contains(&"-t".to_string()) && !args.contains(&"-T".to_string()));
    }

    #[test]
    fn a_resumed_session_finds_dead_links_fast_and_marks_its_login() {
        let mut p = plan();
        p.marker = Some("/tmp/napsh-resume-x/up".into());
        let opts = pairs(&build_args(&p));
        for want in [
            "ServerAliveInterval=5",
            "ServerAliveCountMax=2",
            "ConnectTimeout=10",
            "PermitLocalCommand=yes",
            "LocalCommand=touch '/tmp/napsh-resume-x/up'",
            // ssh's words tell a lost link from `~.`; they are hidden at ERROR.
            "LogLevel=INFO",
        ] {
            assert!(
                opts.contains(&want.to_string()),
                "{want} missing in {opts:?}"
            );
        }
        assert!(!opts.iter().any(|o| o == "ServerAliveInterval=15"));
        assert!(!opts.iter().any(|o| o == "LogLevel=ERROR"));
    }

    #[test]
    fn known_hosts_with_percent_is_escaped() {
        let mut p = plan();
        p.known_hosts = "/home/50% off/known_hosts".into();
        assert!(pairs(&build_args(&p))
            .contains(&"UserKnownHostsFile=\"/home/50%% off/known_hosts\"".to_string()));
    }

    #[test]
    fn known_hosts_with_spaces_is_quoted() {
        let mut p = plan();
        p.known_hosts = "/home/a b/known_hosts".into();
        assert!(pairs(&build_args(&p))
            .contains(&"UserKnownHostsFile=\"/home/a b/known_hosts\"".to_string()));
    }
}
