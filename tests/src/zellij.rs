//! A real Zellij, driven through a private tmux server, with napsh's plugin pre-granted its
//! permissions: the harness for the plugin's end-to-end tests (recipe: shared/zellij/E2E.md).

pub use crate::terminal::shell_quote;
use crate::terminal::{unique, Terminal};
use crate::{require_tool, TestEnv};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The key that opens the picker in the test config.
pub const PICKER_KEY: &str = "M-y";

/// A Zellij session inside a detached tmux session of fixed size.
pub struct ZellijSession {
    /// The terminal Zellij runs in (a private tmux server).
    terminal: Terminal,
    /// Zellij session name.
    session: String,
    /// ZELLIJ_SOCKET_DIR and friends.
    env: Vec<(String, String)>,
}

/// Path of the release plugin build the tests load.
pub fn plugin_wasm() -> PathBuf {
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugin/target/wasm32-wasip1/release/napsh.wasm");
    assert!(
        wasm.exists(),
        "the plugin is not built at {}: run `scripts/build-plugin.sh` (scripts/test.sh does it first)",
        wasm.display()
    );
    wasm.canonicalize().expect("canonical plugin path")
}

impl ZellijSession {
    /// Starts Zellij for `env` with the picker bound to Alt-y and the plugin pre-granted.
    pub fn start(env: &TestEnv, width: u16, height: u16) -> Result<Self> {
        Self::start_with_settings(env, width, height, "")
    }

    /// [`ZellijSession::start`] with extra plugin settings (KDL nodes such as
    /// `services "web db";`) in the picker's block.
    pub fn start_with_settings(
        env: &TestEnv,
        width: u16,
        height: u16,
        plugin_settings: &str,
    ) -> Result<Self> {
        let wasm = plugin_wasm();
        let vars = zellij_vars(env)?;
        write_permissions(Path::new(&var(&vars, "XDG_CACHE_HOME")), &wasm)?;
        let config = env.path().join("zellij/config.kdl");
        std::fs::write(&config, config_kdl(&wasm, env.napsh_bin(), plugin_settings))?;
        let config_arg = format!("--config {}", shell_quote(&config.display().to_string()));
        Self::launch(vars, width, height, &config_arg)
    }

    /// Zellij as a user starts it after `napsh zellij install`: the config and plugin the
    /// installer wrote under the env's `XDG_CONFIG_HOME`, found by Zellij itself (no
    /// `--config`), and no permission granted yet.
    pub fn start_installed(env: &TestEnv, width: u16, height: u16) -> Result<Self> {
        Self::launch(zellij_vars(env)?, width, height, "")
    }

    /// Starts `zellij [config_arg] --session …` with `vars` in a new private tmux server.
    fn launch(
        vars: Vec<(String, String)>,
        width: u16,
        height: u16,
        config_arg: &str,
    ) -> Result<Self> {
        require_tool("zellij", "cargo install --locked zellij --version 0.45.1");
        let session = format!("napsh-e2e-{}-{}", std::process::id(), unique());
        let command = format!(
            "{} zellij {config_arg} --session {session}",
            env_prefix(&vars)
        );
        Self::run_in_tmux(vars, width, height, &session, &command, "Zellij")
    }

    /// Runs the shell command `command` in a new private tmux server (a terminal of
    /// `width`×`height`) and waits until the screen shows `ready`; `session` is the Zellij
    /// session it starts, reached with `vars` (for a script that starts Zellij itself).
    pub fn run_in_tmux(
        vars: Vec<(String, String)>,
        width: u16,
        height: u16,
        session: &str,
        command: &str,
        ready: &str,
    ) -> Result<Self> {
        let z = ZellijSession {
            terminal: Terminal::start(command, width, height)?,
            session: session.to_string(),
            env: vars,
        };
        z.wait_for_screen(ready, Duration::from_secs(120))
            .with_context(|| format!("`{command}` did not show {ready:?}"))?;
        Ok(z)
    }

    /// Sends tmux key names (`M-y`, `Enter`, `Space`, `Down`) or literal text.
    pub fn send_keys(&self, keys: &[&str]) {
        self.terminal.send_keys(keys)
    }

    /// Types literal text.
    pub fn type_text(&self, text: &str) {
        self.terminal.type_text(text)
    }

    /// The whole terminal as text.
    pub fn screen(&self) -> String {
        self.terminal.screen()
    }

    /// The whole terminal with SGR escapes kept (to check what reaches the terminal).
    pub fn screen_with_escapes(&self) -> String {
        self.terminal.screen_with_escapes()
    }

    /// Polls the screen until it contains `needle`; errors with the last screen.
    pub fn wait_for_screen(&self, needle: &str, timeout: Duration) -> Result<String> {
        self.terminal.wait_for_screen(needle, timeout)
    }

    /// Polls the screen until `cond` holds.
    pub fn wait_for(&self, timeout: Duration, cond: impl Fn(&str) -> bool) -> Result<String> {
        self.terminal.wait_for(timeout, cond)
    }

    /// `zellij action ARGS…` against this session; its stdout.
    pub fn action(&self, args: &[&str]) -> Result<String> {
        // A busy server (2 cores, parallel tests) occasionally misses the CLI's connection and
        // the CLI says "There is no active session!": ask again a few times before failing.
        let mut last_error = String::new();
        for attempt in 0..4 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250));
            }
            let out = Command::new("zellij")
                .envs(self.env.iter().cloned())
                .args(["--session", &self.session, "action"])
                .args(args)
                .output()
                .context("running zellij action")?;
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            last_error = String::from_utf8_lossy(&out.stderr).into_owned();
        }
        bail!("zellij action {args:?} failed: {last_error}")
    }

    /// Every pane of the session, as `list-panes --json` reports them.
    pub fn panes(&self) -> Result<Vec<serde_json::Value>> {
        let json = self.action(&["list-panes", "--json"])?;
        serde_json::from_str(&json).with_context(|| format!("list-panes output: {json}"))
    }

    /// Terminal panes whose title is `title`: their numeric ids.
    pub fn terminal_panes_titled(&self, title: &str) -> Result<Vec<u64>> {
        Ok(self
            .panes()?
            .iter()
            .filter(|p| p["is_plugin"] == false && p["title"] == title)
            .filter_map(|p| p["id"].as_u64())
            .collect())
    }

    /// Types into a terminal pane (no focus needed).
    pub fn write_to_pane(&self, pane_id: u64, text: &str) -> Result<()> {
        self.action(&[
            "write-chars",
            "--pane-id",
            &format!("terminal_{pane_id}"),
            text,
        ])
        .map(|_| ())
    }

    /// A terminal pane's screen as text.
    pub fn pane_screen(&self, pane_id: u64) -> Result<String> {
        self.action(&["dump-screen", "--pane-id", &format!("terminal_{pane_id}")])
    }

    /// Opens the picker (the test binding), waits for `header` (`napsh — N devices`), types
    /// `filter`, waits until it leaves one device and presses Enter on it.
    pub fn pick(&self, header: &str, filter: &str) {
        let wait = Duration::from_secs(30);
        self.send_keys(&[PICKER_KEY]);
        self.wait_for_screen(header, wait).unwrap();
        self.type_text(filter);
        self.wait_for_screen("1 shown", wait).unwrap();
        self.send_keys(&["Enter"]);
    }

    /// Waits (up to a minute) for a terminal pane titled `title`; its id.
    pub fn wait_for_pane(&self, title: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = self.terminal_panes_titled(title).ok();
            if let Some(&id) = found.as_ref().and_then(|p| p.first()) {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no pane named {title}: {:#?}",
                self.panes()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `list-panes --json` entry of the terminal pane `id`.
    pub fn pane(&self, id: u64) -> serde_json::Value {
        self.panes()
            .unwrap()
            .into_iter()
            .find(|p| p["is_plugin"] == false && p["id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("no terminal pane {id}"))
    }
}

impl ZellijSession {
    /// Closes the terminal (the tmux server) as a user closing the window would: what runs in
    /// it gets SIGHUP; the Zellij session is left to end by itself.
    pub fn close_terminal(&self) {
        self.terminal.close()
    }
}

impl Drop for ZellijSession {
    fn drop(&mut self) {
        let _ = Command::new("zellij")
            .envs(self.env.iter().cloned())
            .args(["kill-session", &self.session])
            .output();
        let _ = Command::new("zellij")
            .envs(self.env.iter().cloned())
            .args(["delete-session", "--force", &self.session])
            .output();
        // The terminal (tmux) goes when `terminal` drops.
    }
}

/// napsh's environment for `env` plus Zellij's own directories (socket, temp) under the env.
fn zellij_vars(env: &TestEnv) -> Result<Vec<(String, String)>> {
    let root = env.path().join("zellij");
    let mut vars = env.napsh_env();
    for (name, sub) in [("ZELLIJ_SOCKET_DIR", "sock"), ("TMPDIR", "tmp")] {
        let dir = root.join(sub);
        std::fs::create_dir_all(&dir)?;
        vars.push((name.into(), dir.display().to_string()));
    }
    Ok(vars)
}

/// `env NAME='value' …` setting `vars` for a shell command.
pub fn env_prefix(vars: &[(String, String)]) -> String {
    let assignments: Vec<String> = vars
        .iter()
        .map(|(k, v)| format!("{k}={}", shell_quote(v)))
        .collect();
    format!("env {}", assignments.join(" "))
}

/// The value of `name` in `vars` (empty when absent).
fn var(vars: &[(String, String)], name: &str) -> String {
    vars.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn write_permissions(cache_home: &Path, wasm: &Path) -> Result<()> {
    let dir = cache_home.join("zellij");
    std::fs::create_dir_all(&dir)?;
    let body = format!(
        "{:?} {{\n    RunCommands\n    ReadApplicationState\n    ChangeApplicationState\n}}\n",
        wasm.display().to_string()
    );
    std::fs::write(dir.join("permissions.kdl"), body).context("writing permissions.kdl")
}

fn config_kdl(wasm: &Path, napsh: &Path, plugin_settings: &str) -> String {
    format!(
        "show_startup_tips false\nshow_release_notes false\nkeybinds {{\n    shared_except \"locked\" {{\n        \
         bind \"Alt y\" {{ LaunchOrFocusPlugin \"file:{}\" {{ floating true; move_to_focused_tab true; helper {:?}; {plugin_settings} }}; }}\n    }}\n}}\n",
        wasm.display(),
        napsh.display().to_string()
    )
}
