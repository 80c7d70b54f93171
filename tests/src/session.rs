//! An interactive `napsh ssh` in a terminal, for the resume tests and the link benchmark:
//! napsh runs in a private tmux (it needs a terminal), its exit code is printed after it,
//! and a counting process on the device shows whether the remote session lived on.

use crate::terminal::{command_line, shell_quote, Terminal};
use crate::TestEnv;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the terminal prints once napsh has exited (followed by its exit code).
const EXIT_MARK: &str = "napsh-exit=";

/// `napsh ARGS…` running in a terminal of its own.
pub struct NapshTerminal {
    /// The terminal (napsh, then a line with its exit code, then an idle shell).
    pub term: Terminal,
}

impl NapshTerminal {
    /// Starts `napsh ARGS…` with `env`'s environment in a 120×36 terminal.
    pub fn start(env: &TestEnv, args: &[&str]) -> Result<Self> {
        let napsh = env.napsh_bin().display().to_string();
        let command = format!(
            "{}; echo {EXIT_MARK}$?; sleep 3600",
            command_line(&env.napsh_env(), &napsh, args)
        );
        Ok(NapshTerminal {
            term: Terminal::start(&command, 120, 36)?,
        })
    }

    /// napsh's exit code once it has exited.
    pub fn exit_code(&self) -> Option<i32> {
        let screen = self.term.screen();
        let at = screen.rfind(EXIT_MARK)? + EXIT_MARK.len();
        let digits: String = screen[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    /// Waits (up to `timeout`) for napsh to exit; its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> Result<i32> {
        self.term.wait_for(timeout, |s| s.contains(EXIT_MARK))?;
        self.exit_code().context("no exit code after napsh")
    }
}

/// A process on the device counting up every 0.2 s: it prints `count=N`, writes N to a
/// file, and its PID to another (the device is a local sshd, so the files are local).
pub struct Counter {
    /// Directory of the `count` and `pid` files.
    dir: PathBuf,
}

impl Counter {
    /// A counter writing its files into `dir` (not started yet: type [`Counter::command`]).
    pub fn new(dir: &Path) -> Self {
        Counter {
            dir: dir.to_path_buf(),
        }
    }

    /// The line to type into the remote shell: it becomes the counting process.
    pub fn command(&self) -> String {
        let file = |name: &str| shell_quote(&self.dir.join(name).display().to_string());
        let script = format!(
            "echo $$ > {}; i=0; while :; do i=$((i+1)); echo $i > {}; echo count=$i; sleep 0.2; done",
            file("pid"),
            file("count"),
        );
        format!("exec sh -c {}\n", shell_quote(&script))
    }

    /// Types the counting loop into the remote shell of `term`; waits until it counts.
    pub fn start(term: &Terminal, dir: &Path) -> Result<Self> {
        let counter = Counter::new(dir);
        term.type_text(&counter.command());
        term.wait_for(Duration::from_secs(30), |s| max_count(s) > 2)
            .context("the counter never showed on the terminal")?;
        Ok(counter)
    }

    /// The counting process's PID.
    pub fn pid(&self) -> Option<u32> {
        read_number(&self.dir.join("pid")).map(|n| n as u32)
    }

    /// The last count it wrote.
    pub fn value(&self) -> u64 {
        read_number(&self.dir.join("count")).unwrap_or(0)
    }

    /// Whether the counting process still runs.
    pub fn alive(&self) -> bool {
        self.pid()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
    }
}

/// A file holding one decimal number.
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The highest `count=N` on a screen (0 when none).
pub fn max_count(screen: &str) -> u64 {
    screen
        .split("count=")
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}
