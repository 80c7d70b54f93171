//! A real Zellij, driven through a private tmux server, with napsh's plugin pre-granted its
//! permissions: the harness for the plugin's end-to-end tests (recipe: shared/zellij/E2E.md).

use crate::terminal::{command_line, unique, Terminal};
use crate::{require_tool, TestEnv};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
        require_tool("zellij", "cargo install --locked zellij --version 0.45.1");
        require_tool("tmux", "apt-get install -y tmux");
        let wasm = plugin_wasm();
        let root = env.path().join("zellij");
        let mut vars = env.napsh_env();
        let dir = |name: &str| -> Result<String> {
            let p = root.join(name);
            std::fs::create_dir_all(&p)?;
            Ok(p.display().to_string())
        };
        // Zellij's own state goes under the env too; napsh keeps its XDG dirs from napsh_env.
        vars.push(("ZELLIJ_SOCKET_DIR".into(), dir("sock")?));
        vars.push(("TMPDIR".into(), dir("tmp")?));
        let cache = vars
            .iter()
            .find(|(k, _)| k == "XDG_CACHE_HOME")
            .map(|(_, v)| v.clone())
            .unwrap();
        write_permissions(Path::new(&cache), &wasm)?;
        let config = root.join("config.kdl");
        std::fs::write(&config, config_kdl(&wasm, env.napsh_bin(), plugin_settings))?;
        let session = format!("napsh-e2e-{}-{}", std::process::id(), unique());
        let config = config.display().to_string();
        let command = command_line(
            &vars,
            "zellij",
            &["--config", &config, "--session", &session],
        );
        let z = ZellijSession {
            terminal: Terminal::start(&command, width, height)?,
            session,
            env: vars,
        };
        z.wait_for_screen("Zellij", Duration::from_secs(30))
            .context("Zellij did not start")?;
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
