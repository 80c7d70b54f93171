//! A terminal for tests: one command in a detached tmux session of fixed size on a private
//! tmux server, typed into and read back as text, killed on drop. The Zellij harness runs
//! Zellij in one; the resume tests run `napsh ssh` in one (napsh needs a terminal).

use anyhow::{bail, Context, Result};
use std::process::Command;
use std::time::{Duration, Instant};

/// The tmux session (and window) every terminal uses on its private server.
const SESSION: &str = "napsh";

/// One command in a private tmux server.
pub struct Terminal {
    /// tmux server socket name (private to this terminal).
    socket: String,
}

impl Terminal {
    /// Runs `command` (a shell command line) in a `width`×`height` terminal.
    pub fn start(command: &str, width: u16, height: u16) -> Result<Self> {
        crate::require_tool("tmux", "apt-get install -y tmux");
        let socket = format!("napsh-e2e-{}-{}", std::process::id(), unique());
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                SESSION,
            ])
            .args(["-x", &width.to_string(), "-y", &height.to_string(), command])
            .status()
            .context("starting tmux")?;
        anyhow::ensure!(status.success(), "tmux new-session failed: {status}");
        Ok(Terminal { socket })
    }

    /// Sends tmux key names (`M-y`, `Enter`, `C-c`) or literal text.
    pub fn send_keys(&self, keys: &[&str]) {
        let status = self.tmux(&["send-keys", "-t", SESSION]).args(keys).status();
        assert!(status.expect("tmux send-keys").success());
    }

    /// Types literal text.
    pub fn type_text(&self, text: &str) {
        let status = self
            .tmux(&["send-keys", "-t", SESSION, "-l", text])
            .status();
        assert!(status.expect("tmux send-keys -l").success());
    }

    /// The whole terminal as text.
    pub fn screen(&self) -> String {
        self.capture(&["-p"])
    }

    /// The whole terminal with SGR escapes kept (to check what reaches the terminal).
    pub fn screen_with_escapes(&self) -> String {
        self.capture(&["-p", "-e"])
    }

    /// Whether the command still runs.
    pub fn running(&self) -> bool {
        self.tmux(&["has-session", "-t", SESSION])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Polls the screen until it contains `needle`; errors with the last screen.
    pub fn wait_for_screen(&self, needle: &str, timeout: Duration) -> Result<String> {
        self.wait_for(timeout, |s| s.contains(needle))
            .with_context(|| format!("waiting for {needle:?}"))
    }

    /// Polls the screen until `cond` holds.
    pub fn wait_for(&self, timeout: Duration, cond: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return Ok(screen);
            }
            if Instant::now() > deadline {
                bail!("timed out; the screen was:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `tmux -L SOCKET ARGS…`.
    fn tmux(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket]).args(args);
        cmd
    }

    /// `capture-pane` with `flags`, as text.
    fn capture(&self, flags: &[&str]) -> String {
        let out = self
            .tmux(&["capture-pane", "-t", SESSION])
            .args(flags)
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Terminal {
    /// Closes the terminal as a user closing the window would: the tmux server goes and what
    /// runs in it gets SIGHUP.
    pub fn close(&self) {
        let _ = self.tmux(&["kill-server"]).output();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.close();
    }
}

/// `env K=V… PROGRAM ARGS…` as one shell command line, every word quoted.
pub fn command_line(env: &[(String, String)], program: &str, args: &[&str]) -> String {
    let vars = env.iter().map(|(k, v)| format!("{k}={}", shell_quote(v)));
    let words = std::iter::once(shell_quote(program)).chain(args.iter().map(|a| shell_quote(a)));
    std::iter::once("env".to_string())
        .chain(vars)
        .chain(words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` as one POSIX shell word.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A short string unique within this process.
pub fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{}{}",
        nanos % 100_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
