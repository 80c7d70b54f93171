//! Harness for the `napsh web` end-to-end test: a private Zellij world (socket dir, TMPDIR) on
//! top of a [`TestEnv`], a marker in the environment of everything it starts so that leftovers
//! are found by pid, the headless-Chromium test runner (`web-e2e/`, playwright-core) and its
//! prerequisites (node, Debian chromium, `npm ci`).

use crate::{require_tool, Output, TestEnv};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Name of the variable that marks every process this world starts.
const MARKER: &str = "NAPSH_WEB_E2E_RUN";

/// `napsh web` in a private Zellij world; `Drop` stops it and kills leftovers by pid.
pub struct WebWorld<'a> {
    /// The napsh env (emulator, profile, config, XDG dirs).
    env: &'a TestEnv,
    /// The environment napsh, zellij and node run with.
    vars: Vec<(String, String)>,
    /// `NAPSH_WEB_E2E_RUN=<env dir>`, as it appears in /proc/PID/environ.
    marker: String,
    /// The port the web server gets.
    pub port: u16,
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where the browser test leaves its screenshots: `<target dir>/web-e2e`.
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("web-e2e")
}

/// Fails with an install hint unless node, Debian chromium and playwright-core are there;
/// runs `npm ci` in `web-e2e/` when its node_modules are missing.
pub fn require_browser_tools() {
    require_tool(
        "node",
        "apt-get install -y nodejs npm (Node.js 20 or newer)",
    );
    require_tool("/usr/bin/chromium", "apt-get install -y chromium");
    let dir = repo_root().join("web-e2e");
    if dir.join("node_modules/playwright-core").is_dir() {
        return;
    }
    require_tool("npm", "apt-get install -y npm");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(&dir)
        .status()
        .expect("running npm ci");
    assert!(
        status.success(),
        "`npm ci` in {} failed ({status}): playwright-core is needed (scripts/ensure-tools.sh installs it)",
        dir.display()
    );
}

/// Sends one HTTP/1.0 request to 127.0.0.1:`port`; the status code (0 when nothing answered).
fn http_status(port: u16, method: &str, path: &str, json_body: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let body = json_body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut answer = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut answer).is_err()
    {
        return 0;
    }
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Whether a Zellij web server answers `GET /info/version` on 127.0.0.1:`port`.
pub fn web_server_answers(port: u16) -> bool {
    http_status(port, "GET", "/info/version", None) == 200
}

/// The status of `POST /command/login` with `token` (200: accepted, 401: refused).
pub fn login_status(port: u16, token: &str) -> u16 {
    let body = serde_json::json!({ "auth_token": token, "remember_me": false }).to_string();
    http_status(port, "POST", "/command/login", Some(&body))
}

/// Kills what a world started, also when the test process dies without unwinding (Ctrl-C,
/// SIGTERM, SIGKILL: no `Drop` runs, and Zellij's daemons would outlive it). A detached `sh`
/// waits for the test process to end, then KILLs every process carrying `marker` in its
/// environment or naming `dir` on its command line (the sshd devices), and removes `dir`. It
/// carries neither itself, and after a normal end finds nothing left to do.
fn start_watchdog(marker: &str, dir: &str) {
    const SCRIPT: &str = r#"
while kill -0 "$WATCHED" 2>/dev/null; do sleep 1; done
for f in /proc/[0-9]*/cmdline; do
    p=${f#/proc/}; p=${p%/cmdline}
    [ "$p" = "$$" ] && continue
    if grep -qzxF -- "$MARK" "/proc/$p/environ" 2>/dev/null || grep -qF -- "$DIR" "$f" 2>/dev/null; then
        kill -KILL "$p" 2>/dev/null
    fi
done
rm -rf -- "$DIR"
"#;
    let spawned = Command::new("sh")
        .args(["-c", SCRIPT])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WATCHED", std::process::id().to_string())
        .env("MARK", marker)
        .env("DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    assert!(
        spawned.is_ok(),
        "starting the cleanup watchdog: {spawned:?}"
    );
}

/// A free TCP port on 127.0.0.1 (bound, then released for the web server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl<'a> WebWorld<'a> {
    /// A world on `env`: Zellij's socket dir and TMPDIR under the env, the marker, a port.
    pub fn new(env: &'a TestEnv) -> Self {
        let dir = |name: &str| {
            let path = env.path().join(name);
            std::fs::create_dir_all(&path).expect("creating a dir");
            path.display().to_string()
        };
        let mut vars = env.napsh_env();
        vars.push(("ZELLIJ_SOCKET_DIR".into(), dir("zsock")));
        vars.push(("TMPDIR".into(), dir("tmp")));
        vars.push(("SHELL".into(), "/bin/sh".into()));
        vars.push((MARKER.into(), env.path().display().to_string()));
        let marker = format!("{MARKER}={}", env.path().display());
        start_watchdog(&marker, &env.path().display().to_string());
        WebWorld {
            env,
            vars,
            marker,
            port: free_port(),
        }
    }

    /// The environment of the world's processes.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// Runs `napsh ARGS` in the world (stdin closed, stdout and stderr captured).
    pub fn napsh(&self, args: &[&str]) -> Output {
        self.run(Command::new(self.env.napsh_bin()).args(args))
    }

    /// Runs `zellij ARGS` in the world.
    pub fn zellij(&self, args: &[&str]) -> Output {
        self.run_command("zellij", args)
    }

    /// Runs `program ARGS` in the world.
    pub fn run_command(&self, program: &str, args: &[&str]) -> Output {
        self.run(Command::new(program).args(args))
    }

    fn run(&self, cmd: &mut Command) -> Output {
        let out = cmd
            .env_clear()
            .envs(self.vars.iter().cloned())
            .current_dir(self.env.path())
            .stdin(Stdio::null())
            .output()
            .expect("running a command");
        Output::from(out)
    }

    /// Runs `node --test-reporter=spec web-e2e/SCRIPT` with the world's environment plus
    /// `extra` (and `NAPSH_WEB_E2E_TIMEOUT_MS`, the per-wait deadline, when set); its output goes
    /// to the test's output. True when it passed.
    pub fn run_browser_test(&self, script: &str, extra: &[(&str, String)]) -> bool {
        let dir = repo_root().join("web-e2e");
        let status = Command::new("node")
            .arg("--test-reporter=spec")
            .arg(dir.join(script))
            .env_clear()
            .envs(self.vars.iter().cloned())
            .envs(extra.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .envs(
                std::env::var("NAPSH_WEB_E2E_TIMEOUT_MS").map(|v| ("NAPSH_WEB_E2E_TIMEOUT_MS", v)),
            )
            .current_dir(&dir)
            .stdin(Stdio::null())
            .status()
            .expect("running node");
        status.success()
    }

    /// What to look for when checking that nothing of this world is left (usable after the
    /// world and its env are gone).
    pub fn leftovers(&self) -> Leftovers {
        Leftovers {
            marker: self.marker.clone(),
            dir: self.env.path().display().to_string(),
        }
    }
}

/// Finds the processes of a [`WebWorld`]: the marker in their environment (napsh, zellij, the
/// panes, node, chromium), or the env's directory on their command line (the sshd devices).
#[derive(Debug, Clone)]
pub struct Leftovers {
    /// `NAPSH_WEB_E2E_RUN=<env dir>`, as it appears in /proc/PID/environ.
    marker: String,
    /// The env's directory.
    dir: String,
}

impl Leftovers {
    /// Live pids carrying the marker (`with_cmdline`: or naming the env's directory).
    pub fn pids(&self, with_cmdline: bool) -> Vec<u32> {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me)
            .filter(|pid| {
                let read =
                    |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).unwrap_or_default();
                let marked = read("environ")
                    .split(|b| *b == 0)
                    .any(|var| var == self.marker.as_bytes());
                marked
                    || (with_cmdline
                        && String::from_utf8_lossy(&read("cmdline")).contains(&self.dir))
            })
            .collect()
    }

    /// Waits up to `secs` until [`Leftovers::pids`] is empty; the pids left otherwise.
    pub fn wait_all_gone(&self, secs: u64, with_cmdline: bool) -> Vec<u32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = self.pids(with_cmdline);
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `pid: command line` of each pid, for failure messages.
    pub fn describe(pids: &[u32]) -> String {
        pids.iter()
            .map(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                format!(
                    "{pid}: {}",
                    String::from_utf8_lossy(&cmd).replace('\0', " ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for WebWorld<'_> {
    /// Whatever happened: `napsh web --stop`, then TERM and KILL to what is left, by pid
    /// (the sshd devices are the env's: they stop with it).
    fn drop(&mut self) {
        let _ = self.napsh(&["web", "--stop"]);
        let leftovers = self.leftovers();
        for signal in [libc::SIGTERM, libc::SIGKILL] {
            let left = leftovers.wait_all_gone(3, false);
            for pid in left {
                // SAFETY: kill(2) on a pid this world started; no memory is involved.
                unsafe { libc::kill(pid as i32, signal) };
            }
        }
    }
}
