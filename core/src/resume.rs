//! Sessions that survive a dropped link (`napsh ssh --resume`, config `resume`): the remote
//! command that keeps the shell in tmux or screen on the device, how an ended ssh is judged
//! (the link was lost, the session ended, or the device refused us), the reconnect backoff and
//! the status line shown while reconnecting. Pure; the host side runs the loop.

use crate::messages::ErrorKind;
use crate::sanitize::for_terminal;
use crate::shell::quote;
use serde::Deserialize;

/// How a session is kept on the device across link drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResumeMode {
    /// tmux when the device has it, else screen, else a plain shell (with a notice).
    Auto,
    /// tmux only (else a plain shell, with a notice).
    Tmux,
    /// screen only (else a plain shell, with a notice).
    Screen,
    /// No resume: a plain ssh session, ended by a dropped link.
    Off,
}

impl std::str::FromStr for ResumeMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "auto" => Ok(ResumeMode::Auto),
            "tmux" => Ok(ResumeMode::Tmux),
            "screen" => Ok(ResumeMode::Screen),
            "off" => Ok(ResumeMode::Off),
            other => Err(format!(
                "resume \"{}\" is not one of: auto, tmux, screen, off",
                for_terminal(other)
            )),
        }
    }
}

/// ssh's keepalive while resuming: a probe after 5 s without a word from the server, the
/// link declared dead when 2 probes in a row go unanswered — (2 + 1) × 5 = 15 s after the
/// last packet, inside the 20 s promised (plain sessions keep 15 s × 4: a dead link there
/// ends the session, so it is given longer).
pub const KEEPALIVE_SECS: u32 = 5;
/// Unanswered keepalives before ssh gives the link up (see [`KEEPALIVE_SECS`]).
pub const KEEPALIVE_COUNT: u32 = 2;
/// How long one reconnect attempt waits for the TCP connection and the server's banner.
pub const CONNECT_TIMEOUT_SECS: u32 = 10;
/// napsh's own sockets to a mapping (`proxy`, `tunnel`): TCP keepalive probes after this many
/// idle seconds, then every [`KEEPALIVE_SECS`], [`KEEPALIVE_COUNT`] unanswered ones ending the
/// connection — and sent bytes unacknowledged for [`LINK_TIMEOUT_SECS`] end it too
/// (`TCP_USER_TIMEOUT`): a link that stopped carrying packets is found within 20 s.
pub const SOCKET_IDLE_SECS: u32 = 10;
/// See [`SOCKET_IDLE_SECS`].
pub const LINK_TIMEOUT_SECS: u32 = SOCKET_IDLE_SECS + KEEPALIVE_SECS * KEEPALIVE_COUNT;
/// The longest wait between two reconnect attempts.
pub const MAX_BACKOFF_SECS: u64 = 10;
/// The tmux / screen session of a device's own shell.
pub const HOST_SESSION: &str = "napsh";

/// The notice the device prints when it has neither tmux nor screen.
pub const PLAIN_NOTICE: &str =
    "napsh: no tmux or screen on this device: a plain shell, which a dropped link ends";

/// The session name for a service's shell (`napsh-web`): letters, digits, `-` and `_` only
/// (tmux does not allow `.` and `:` in a session name).
pub fn session_name(service: Option<&str>) -> String {
    match service {
        None => HOST_SESSION.to_string(),
        Some(s) => {
            let safe: String = s
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
                    _ => '_',
                })
                .collect();
            format!("{HOST_SESSION}-{safe}")
        }
    }
}

/// The POSIX sh script run on the device instead of a login shell: attach to (or create) the
/// session `session` in tmux or screen as `mode` allows and the device has, running `inner`
/// (a shell command; `None` = the user's shell); else a one-line notice and `inner` (or a
/// login shell) without resume. `Off` is the plain command.
pub fn remote_command(mode: ResumeMode, session: &str, inner: Option<&str>) -> String {
    let name = quote(session);
    let (tmux, screen, plain) = match inner {
        Some(cmd) => (
            format!("tmux new-session -A -s {name} {}", quote(cmd)),
            format!("screen -xRR -S {name} sh -c {}", quote(cmd)),
            format!("exec sh -c {}", quote(cmd)),
        ),
        None => (
            format!("tmux new-session -A -s {name}"),
            format!("screen -xRR -S {name}"),
            "exec \"${SHELL:-/bin/sh}\" -l".to_string(),
        ),
    };
    let try_tool = |tool: &str, run: &str| {
        format!("if command -v {tool} >/dev/null 2>&1; then exec {run}; fi\n")
    };
    let mut script = String::new();
    if matches!(mode, ResumeMode::Auto | ResumeMode::Tmux) {
        script.push_str(&try_tool("tmux", &tmux));
    }
    if matches!(mode, ResumeMode::Auto | ResumeMode::Screen) {
        script.push_str(&try_tool("screen", &screen));
    }
    if mode != ResumeMode::Off {
        script.push_str(&format!("printf '%s\\n' {} >&2\n", quote(PLAIN_NOTICE)));
    }
    script.push_str(&plain);
    script
}

/// What ssh's standard error showed, as far as judging its end goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StderrSigns {
    /// The host key did not verify.
    pub host_key_failed: bool,
    /// Authentication failed (`Permission denied (…)`, too many failures).
    pub auth_failed: bool,
    /// ssh said the connection broke, timed out, was refused or reset, or the server stopped
    /// answering keepalives.
    pub link_failed: bool,
}

/// Phrases of ssh's messages about a connection that broke or could not be made.
const LINK_PHRASES: [&str; 14] = [
    "connection reset",
    "broken pipe",
    "closed by remote host",
    "not responding",
    "timed out",
    "connection refused",
    "no route to host",
    "network is unreachable",
    "host is down",
    "kex_exchange_identification",
    "connection closed by",
    "software caused connection abort",
    "read from remote host",
    "write failed",
];

/// Phrases of ssh's messages about a failed authentication.
const AUTH_PHRASES: [&str; 3] = [
    "permission denied (",
    "too many authentication failures",
    "no more authentication methods",
];

/// Phrases of ssh's messages about a host key that does not verify.
const HOST_KEY_PHRASES: [&str; 2] = [
    "remote host identification has changed",
    "host key verification failed",
];

impl StderrSigns {
    /// The signs in (a tail of) ssh's standard error.
    pub fn of(stderr: &str) -> Self {
        let text = stderr.to_lowercase();
        let any = |phrases: &[&str]| phrases.iter().any(|p| text.contains(p));
        StderrSigns {
            host_key_failed: any(&HOST_KEY_PHRASES),
            auth_failed: any(&AUTH_PHRASES),
            link_failed: any(&LINK_PHRASES),
        }
    }
}

/// How one ssh run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// The session ended (exit, detach, `~.`, the remote code) or napsh was signalled: done.
    Finished,
    /// The link broke (ssh's 255 with a broken-link message, or its keepalives went
    /// unanswered): reconnect when the session had been up.
    LinkLost,
    /// The device refused us (host key, authentication): done, with ssh's verdict.
    Refused,
}

/// Judges an ssh run: exit `code`, a `signal` napsh received meanwhile, and `signs` from its
/// stderr. A 255 without a broken-link message is the session's own end — `~.` and a remote
/// `exit 255` print only "Connection to … closed." — so both still end napsh at once.
pub fn classify(code: i32, signal: Option<i32>, signs: StderrSigns) -> SessionEnd {
    if signal.is_some() || code != 255 {
        return SessionEnd::Finished;
    }
    if signs.host_key_failed || signs.auth_failed {
        SessionEnd::Refused
    } else if signs.link_failed {
        SessionEnd::LinkLost
    } else {
        SessionEnd::Finished
    }
}

/// What to do after an ssh run of a resumed session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The session is over (or never came up): conclude with this run's outcome.
    Done,
    /// Reconnect: wait, get the mapping back and run ssh again; this is attempt N.
    Reconnect(u32),
}

/// The step after a run that ended as `end`, given whether this run authenticated (`up`),
/// whether any run did (`up_once`), whether napsh was signalled, and the attempt this run was
/// (0 when it was not a reconnect attempt). A session that never came up fails as a plain one
/// does (with its verdict and guide); once up, a lost link is retried until the user gives up.
pub fn after_run(end: SessionEnd, up: bool, up_once: bool, signalled: bool, attempt: u32) -> Next {
    if signalled || !up_once {
        return Next::Done;
    }
    match (up, end) {
        (true, SessionEnd::LinkLost) => Next::Reconnect(1),
        (true, _) | (false, SessionEnd::Refused) => Next::Done,
        (false, _) => Next::Reconnect(attempt.saturating_add(1)),
    }
}

/// Seconds to wait before reconnect attempt `attempt` (1-based): 1, 2, 4, 8, then 10.
pub fn backoff_secs(attempt: u32) -> u64 {
    let doubled = 1u64 << attempt.saturating_sub(1).min(16);
    doubled.min(MAX_BACKOFF_SECS)
}

/// Whether a failure to get the mapping back is worth another attempt: the device offline, the
/// API or the network failing, a rate limit or a timeout pass; missing credentials or
/// permissions, a bad config or an unknown device do not.
pub fn retry_after(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Offline
            | ErrorKind::RateLimited
            | ErrorKind::Api
            | ErrorKind::Network
            | ErrorKind::Timeout
            | ErrorKind::NotFound
    )
}

/// The line shown while reconnecting (`label` already safe for the terminal).
pub fn status_line(label: &str, attempt: u32, next_in_secs: u64) -> String {
    format!(
        "link to {label} lost — reconnecting (attempt {attempt}, next in {next_in_secs}s) — Ctrl-C gives up"
    )
}

/// Escape sequences that put a terminal back into its everyday state after a remote tmux or
/// screen lost its link (alternate screen, mouse reporting, bracketed paste, application
/// cursor keys, hidden cursor), for when napsh gives up reconnecting.
pub const TERMINAL_RESET: &str =
    "\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>\x1b[?25h";

#[cfg(test)]
#[path = "resume_tests.rs"]
mod tests;
