//! What a newcomer touches first, end to end: `napsh zellij install` (the config it writes opens
//! the picker in a real Zellij, and the installed Zellij's version is checked), the demo script
//! headless under tmux, public IP detection through `ip_echo_url`, and the mapping duration
//! napsh actually sends.

use napsh_e2e::echo::EchoServer;
use napsh_e2e::zellij::{env_prefix, shell_quote, ZellijSession};
use napsh_e2e::{require_tool, TestEnv, ONE_SSH_DEVICE};
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn start() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_SSH_DEVICE)
}

/// Zellij's config as Zellij finds it in napsh's env: `~/.config/zellij/config.kdl`, although
/// the env's `XDG_CONFIG_HOME` is elsewhere (Zellij reads the one under HOME).
fn zellij_config(env: &TestEnv) -> PathBuf {
    env.path().join("home/.config/zellij/config.kdl")
}

#[test]
fn zellij_install_binds_a_key_that_opens_the_picker() {
    let env = start();
    // A user's existing config: the installer merges into it.
    napsh_e2e::write_private(
        &zellij_config(&env),
        "show_startup_tips false\nshow_release_notes false\n",
    )
    .unwrap();
    let out = env.run(&["zellij", "install"]);
    out.expect_code(0);
    assert!(
        out.stdout.contains("Zellij 0.45.1: the picker works"),
        "the installed Zellij is checked:\n{}",
        out.stdout
    );
    let zellij = ZellijSession::start_installed(&env, 160, 45).expect("starting zellij");
    zellij.send_keys(&["M-s"]);
    // Nothing was granted: the first opening asks, as it does for a user.
    zellij.wait_for_screen("Allow?", WAIT).unwrap();
    zellij.send_keys(&["y"]);
    let screen = zellij.wait_for_screen("napsh — 1 devices", WAIT).unwrap();
    assert!(screen.contains("kiosk-12"), "{screen}");
}

/// `napsh` with a fake `zellij` on PATH that says it is `version`.
fn napsh_with_zellij(env: &TestEnv, version: &str) -> std::process::Command {
    let bin = env.path().join(format!("fake-zellij-{version}"));
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("zellij");
    std::fs::write(&script, format!("#!/bin/sh\necho 'zellij {version}'\n")).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&script, executable).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut cmd = env.napsh();
    cmd.env("PATH", path);
    cmd
}

fn output(mut cmd: std::process::Command, args: &[&str]) -> napsh_e2e::Output {
    napsh_e2e::Output::from(cmd.args(args).output().expect("running napsh"))
}

#[test]
fn zellij_install_refuses_a_zellij_the_plugin_cannot_run_on() {
    let env = start();
    let out = output(napsh_with_zellij(&env, "0.40.1"), &["zellij", "install"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Zellij 0.40.1 cannot run napsh's picker")
            && out
                .stderr
                .contains("cargo install --locked zellij --version 0.45.1"),
        "{}",
        out.stderr
    );
    assert!(
        !zellij_config(&env).exists(),
        "nothing is installed for a Zellij that cannot run it"
    );
}

#[test]
fn zellij_install_says_what_works_with_older_and_newer_zellij() {
    let env = start();
    for (version, says) in [
        (
            "0.43.1",
            "except the `panes \"tab\"` setting (Zellij 0.44.0+)",
        ),
        (
            "0.47.2",
            "newer than the 0.45.1 the plugin is built and tested for",
        ),
    ] {
        let out = output(napsh_with_zellij(&env, version), &["zellij", "install"]);
        out.expect_code(0);
        assert!(
            out.stderr
                .contains(&format!("napsh: warning: Zellij {version}"))
                && out.stderr.contains(says),
            "{version}: {}",
            out.stderr
        );
        let config = std::fs::read_to_string(zellij_config(&env)).unwrap();
        assert!(config.contains("bind \"Alt s\""), "{config}");
    }
}

#[test]
fn napsh_web_refuses_a_zellij_without_the_web_client() {
    let env = start();
    for (version, says) in [
        (
            "0.42.2",
            "Zellij 0.42.2 has no web client: napsh web needs Zellij 0.43.0",
        ),
        ("0.40.1", "Zellij 0.40.1 cannot run napsh's picker"),
    ] {
        let out = output(napsh_with_zellij(&env, version), &["web"]);
        assert_ne!(out.code, 0, "{out:?}");
        assert!(out.stderr.contains(says), "{version}: {}", out.stderr);
        assert!(
            !env.path().join("state/napsh/web").exists(),
            "napsh web started nothing for Zellij {version}"
        );
    }
}

/// Whether `path` creates a mapping (`POST /v1/port_mappings[/sims/{sim_id}]`).
fn is_create(path: &str) -> bool {
    path == "/v1/port_mappings" || path.starts_with("/v1/port_mappings/sims/")
}

/// The body of the only create request so far, as JSON.
fn create_body(env: &TestEnv) -> serde_json::Value {
    let creates: Vec<_> = env
        .request_log()
        .into_iter()
        .filter(|r| r.method == "POST" && is_create(&r.path))
        .collect();
    assert_eq!(creates.len(), 1, "one create request: {:?}", env.calls());
    serde_json::from_str(&creates[0].body).expect("the create body is JSON")
}

#[test]
fn the_create_request_carries_the_duration_asked_for() {
    let env = start();
    env.run(&["ssh", "kiosk-12", "--duration", "900", "--", "true"])
        .expect_code(0);
    assert_eq!(create_body(&env)["duration"], 900, "--duration");

    let clear = || env.emulator().clear_request_log();
    for (config, want) in [("mapping_duration_secs = 1200\n", 1200), ("", 3600)] {
        clear();
        env.write_config(config).unwrap();
        env.run(&["connect", "kiosk-12"]).expect_code(0);
        assert_eq!(create_body(&env)["duration"], want, "config {config:?}");
        env.run(&["mappings", "close", "kiosk-12"]).expect_code(0);
    }
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

#[test]
fn public_ip_detection_asks_ip_echo_url() {
    let env = start();
    let echo = EchoServer::start("198.51.100.7\n");
    env.write_config_without_source(&format!("ip_echo_url = {:?}\n", echo.url))
        .unwrap();
    let out = env.run(&["connect", "kiosk-12"]);
    out.expect_code(0);
    assert!(echo.hits() >= 1, "the echo service was never asked");
    assert_eq!(
        create_body(&env)["source"]["ipRanges"],
        serde_json::json!(["198.51.100.7/32"]),
        "the detected address, as a /32"
    );
    env.run(&["mappings", "close", "kiosk-12"]).expect_code(0);
}

#[test]
fn a_bad_ip_echo_answer_fails_clearly_and_creates_nothing() {
    let env = start();
    let echo = EchoServer::start("<html>rate limited, try later</html>");
    env.write_config_without_source(&format!("ip_echo_url = {:?}\n", echo.url))
        .unwrap();
    let out = env.run(&["connect", "kiosk-12"]);
    assert_ne!(out.code, 0, "{out:?}");
    for needle in [
        format!("could not detect your public IP address via {}", echo.url),
        "not an IP address".to_string(),
        "source_cidr".to_string(),
    ] {
        assert!(
            out.stderr.contains(&needle),
            "missing {needle:?}:\n{}",
            out.stderr
        );
    }
    let creates = env
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("POST ") && is_create(&c[5..]));
    assert_eq!(creates.count(), 0, "{:?}", env.calls());
    assert!(env.mappings().is_empty());
}

/// The repository's root (scripts/ lives there).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The directory holding `napsh` and `napsh-emulator` (built by `cargo test --workspace`).
fn demo_bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_napsh")).parent().unwrap();
    assert!(
        dir.join("napsh-emulator").exists(),
        "napsh-emulator is not built beside napsh in {}: cargo build -p napsh-emulator",
        dir.display()
    );
    dir.to_path_buf()
}

/// Pids of processes whose environment holds `needle` (the demo's own directories).
fn processes_with_env(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if environ
            .split(|b| *b == 0)
            .any(|var| String::from_utf8_lossy(var).contains(needle))
        {
            pids.push(pid);
        }
    }
    pids
}

/// The demo started headless in a private tmux server (run from a fresh temp dir, its own
/// Zellij socket dir and session name); the temp dir holds everything it writes.
struct Demo {
    /// The terminal and the demo's Zellij session.
    zellij: ZellijSession,
    /// TMPDIR of the demo (its `napsh-demo.*` directory goes there).
    tmp: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        require_tool("zellij", "scripts/ensure-tools.sh --demo");
        let tmp = tempfile::Builder::new()
            .prefix("napsh-demo-e2e-")
            .tempdir()
            .unwrap();
        let dir = |name: &str| {
            let p = tmp.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            p.display().to_string()
        };
        let session = format!("napsh-demo-e2e-{}", std::process::id());
        let vars = vec![
            ("TMPDIR".to_string(), dir("tmp")),
            ("ZELLIJ_SOCKET_DIR".to_string(), dir("sock")),
            ("NAPSH_DEMO_SESSION".to_string(), session.clone()),
            (
                "NAPSH_DEMO_BIN".to_string(),
                demo_bin_dir().display().to_string(),
            ),
        ];
        let script = repo_root().join("scripts/demo.sh");
        // After the demo the pane keeps its last words on screen (`cat` waits for nothing).
        let command = format!(
            "{} bash {} ; echo demo-exit=$? ; exec cat",
            env_prefix(&vars),
            shell_quote(&script.display().to_string())
        );
        let zellij = ZellijSession::run_in_tmux(vars, 160, 45, &session, &command, "napsh demo:")
            .expect("the demo starts");
        Demo { zellij, tmp }
    }

    /// Processes the demo started that still run (their environment names its directory).
    fn processes(&self) -> Vec<u32> {
        processes_with_env(&format!(
            "{}/napsh-demo.",
            self.tmp.path().join("tmp").display()
        ))
    }

    /// Asserts that the demo left no process and no directory behind.
    fn assert_nothing_left(&self) {
        let gone = wait_until(|| self.processes().is_empty().then_some(()));
        assert!(
            gone.is_some(),
            "the demo's processes still run: {:?}",
            self.processes()
        );
        let leftovers = || -> Vec<_> {
            std::fs::read_dir(self.tmp.path().join("tmp"))
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().starts_with("napsh-demo."))
                .collect()
        };
        // The script itself removes its directory last.
        let removed = wait_until(|| leftovers().is_empty().then_some(()));
        assert!(removed.is_some(), "the demo left {:?}", leftovers());
    }
}

#[test]
fn the_demo_connects_a_device_and_quits_leaving_nothing() {
    let demo = Demo::start();
    let z = &demo.zellij;
    z.send_keys(&["M-s"]);
    z.wait_for_screen("napsh — 12 devices", WAIT).unwrap();
    // The best match comes first and is highlighted: Enter connects it.
    z.type_text("kiosk-osaka-01");
    z.wait_for_screen("Filter: kiosk-osaka-01", WAIT).unwrap();
    z.send_keys(&["Enter"]);
    let pane = z.wait_for_pane("kiosk-osaka-01");
    z.write_to_pane(pane, "echo demo-marker-$((6*7))\n")
        .unwrap();
    let answered = wait_until(|| {
        let s = z.pane_screen(pane).unwrap_or_default();
        s.contains("demo-marker-42").then_some(())
    });
    assert!(answered.is_some(), "the device's shell never answered");

    z.send_keys(&["C-q"]);
    let last = z.wait_for_screen("demo-exit=", WAIT).unwrap();
    for said in [
        "demo: no mapping left",
        "demo: the emulator and every device stopped",
        "demo-exit=0",
    ] {
        assert!(last.contains(said), "missing {said:?}:\n{last}");
    }
    demo.assert_nothing_left();
}

#[test]
fn the_demo_stops_everything_when_its_terminal_closes() {
    let demo = Demo::start();
    assert!(!demo.processes().is_empty(), "the demo runs");
    // Closing the terminal: tmux's server goes, the demo gets SIGHUP.
    demo.zellij.close_terminal();
    demo.assert_nothing_left();
}

/// Polls `probe` (every 100 ms, up to a minute) until it yields something.
fn wait_until<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
