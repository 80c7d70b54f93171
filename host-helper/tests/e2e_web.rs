//! `napsh web` end to end: the real napsh starts Zellij's web server and session, headless
//! Chromium logs in with the token napsh wrote, opens the picker with its key (answering the
//! permission prompt), connects to a real sshd device through the emulator, runs a command and
//! reads its output, opens the guide of an offline device; `napsh web --stop` then leaves no
//! process and no mapping. Screenshots stay in `<target>/web-e2e/`.

use napsh_e2e::web::{
    artifacts_dir, free_port, login_status, require_browser_tools, web_server_answers, Leftovers,
    WebWorld,
};
use napsh_e2e::{require_tool, TestEnv};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

const FLEET: &str = r#"
[[devices]]
name = "kiosk-osaka-01"
online = true
ssh = "spawn"

[[devices]]
name = "gateway-tokyo-02"
online = true
ssh = "spawn"

[[devices]]
name = "sensor-offline-03"
online = false
"#;

/// The token file `napsh web` reported, from its stdout.
fn reported_token_file(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find(|l| l.contains("paste the login token from "))
        .unwrap_or_else(|| panic!("no token file in napsh web's output:\n{stdout}"));
    let rest = line.split("paste the login token from ").nth(1).unwrap();
    PathBuf::from(rest.split(" (").next().unwrap())
}

#[test]
fn browser_terminal_picks_a_device_and_runs_a_command() {
    require_tool("zellij", "cargo install --locked zellij --version 0.45.1");
    require_browser_tools();
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let world = WebWorld::new(&env);
    let port = world.port.to_string();
    let url = format!("http://127.0.0.1:{port}");

    // A non-loopback address without TLS is refused before anything starts.
    let refused = world.napsh(&["web", "--bind", "0.0.0.0", "--port", &port]);
    refused.expect_code(2);
    assert!(
        refused.stderr.contains("--cert") && refused.stderr.trim().lines().count() == 1,
        "{}",
        refused.stderr
    );

    // The user's own `zellij web` on another port: napsh must neither adopt nor stop it.
    let own_config = env.path().join("own-zellij.kdl");
    std::fs::write(&own_config, "show_startup_tips false\n").unwrap();
    let own_config = own_config.display().to_string();
    let own_port = free_port().to_string();
    let own =
        |args: &[&str]| world.zellij(&[&["--config", own_config.as_str(), "web"], args].concat());
    own(&["--daemonize", "--port", &own_port]).expect_code(0);
    assert!(
        web_server_answers(own_port.parse().unwrap()),
        "the user's own zellij web"
    );
    let adopted = world.napsh(&["web", "--port", &own_port]);
    adopted.expect_code(2);
    assert!(
        adopted.stderr.contains("did not start"),
        "{}",
        adopted.stderr
    );

    // Started: stdout is not a terminal here, so the token goes to a 0600 file, never to stdout.
    let started = world.napsh(&["web", "--port", &port]);
    started.expect_code(0);
    assert!(
        started.stdout.contains(&format!("{url}/napsh")),
        "{}",
        started.stdout
    );
    assert!(started.stdout.contains("Alt s opens the device picker"));
    let token_file = reported_token_file(&started.stdout);
    let token = std::fs::read_to_string(&token_file).expect("reading the token file");
    let token = token.trim();
    assert!(token.len() >= 32, "token {token:?}");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "token file mode");
    assert!(!started.stdout.contains(token) && !started.stderr.contains(token));

    // A second run reuses the server, the session and the token.
    let again = world.napsh(&["web"]);
    again.expect_code(0);
    assert!(
        again.stdout.contains("web server already running")
            && again.stdout.contains("session \"napsh\" already running"),
        "{}",
        again.stdout
    );
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    let tokens = world.zellij(&["web", "--list-tokens"]);
    assert_eq!(
        tokens.stdout.matches("created at").count(),
        1,
        "{}",
        tokens.stdout
    );

    let artifacts = artifacts_dir();
    let passed = world.run_browser_test(
        "napsh-web.test.mjs",
        &[
            ("NAPSH_WEB_URL", url.clone()),
            ("NAPSH_WEB_SESSION", "napsh".into()),
            ("NAPSH_WEB_TOKEN_FILE", token_file.display().to_string()),
            ("NAPSH_WEB_PICKER_KEY", "Alt s".into()),
            ("NAPSH_WEB_DEVICES", "3".into()),
            ("NAPSH_WEB_DEVICE", "kiosk-osaka-01".into()),
            ("NAPSH_WEB_OFFLINE", "sensor-offline-03".into()),
            ("NAPSH_WEB_ARTIFACTS", artifacts.display().to_string()),
        ],
    );
    assert!(
        passed,
        "the browser test failed (screenshots in {}); napsh web's log: {}",
        artifacts.display(),
        std::fs::read_to_string(env.path().join("state/napsh/web/zellij.log")).unwrap_or_default()
    );
    assert_eq!(
        env.mappings().len(),
        1,
        "the device's SSH pane holds one mapping"
    );

    let stopped = world.napsh(&["web", "--stop"]);
    stopped.expect_code(0);
    assert!(
        stopped.stdout.contains("session \"napsh\" ended")
            && stopped.stdout.contains("revoked")
            && stopped.stdout.contains("web server on port"),
        "{}",
        stopped.stdout
    );
    assert!(!token_file.exists(), "the token file is removed");
    assert!(
        !web_server_answers(world.port) && web_server_answers(own_port.parse().unwrap()),
        "napsh web --stop stops its own web server, and only that one"
    );
    own(&["--stop"]);
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mappings left after napsh web --stop: {:?}",
        env.mappings()
    );
    let leftovers: Leftovers = world.leftovers();
    let left = leftovers.wait_all_gone(30, false);
    assert!(
        left.is_empty(),
        "processes left after napsh web --stop:\n{}",
        Leftovers::describe(&left)
    );
    let tokens = world.zellij(&["web", "--list-tokens"]);
    assert!(!tokens.stdout.contains("created at"), "{}", tokens.stdout);

    drop(world);
    drop(env);
    let left = leftovers.wait_all_gone(30, true);
    assert!(
        left.is_empty(),
        "processes (sshd devices?) left after the env stopped:\n{}",
        Leftovers::describe(&left)
    );
}

#[test]
fn on_a_terminal_the_token_is_shown_once_and_stored_nowhere() {
    require_tool("zellij", "cargo install --locked zellij --version 0.45.1");
    require_tool("script", "apt-get install -y bsdutils");
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let world = WebWorld::new(&env);
    let port = world.port;
    // `script` gives napsh a terminal as stdout.
    let command = format!("{} web --port {port}", env.napsh_bin().display());
    let shown = world.run_command("script", &["-qec", &command, "/dev/null"]);
    shown.expect_code(0);
    let token = shown
        .stdout
        .lines()
        .skip_while(|l| !l.contains("paste this login token"))
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no token shown:\n{}", shown.stdout))
        .to_string();
    assert!(token.len() >= 32, "{token:?}");
    let web_dir = env.path().join("state/napsh/web");
    assert!(
        !web_dir.join("token").exists(),
        "a shown token is not stored"
    );
    for entry in std::fs::read_dir(&web_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains(&token),
            "the token is in {}",
            path.display()
        );
    }
    assert_eq!(login_status(port, &token), 200, "the shown token logs in");
    assert_eq!(login_status(port, "0000-not-a-token"), 401);

    // Reused: no new token, and none shown.
    let again = world.run_command("script", &["-qec", &command, "/dev/null"]);
    assert!(
        again
            .stdout
            .contains("login token shown when napsh web started")
            && !again.stdout.contains(&token),
        "{}",
        again.stdout
    );

    world.napsh(&["web", "--stop"]).expect_code(0);
    assert_eq!(
        login_status(port, &token),
        0,
        "nothing listens after --stop"
    );
    let tokens = world.zellij(&["web", "--list-tokens"]);
    assert!(
        !tokens.stdout.contains("created at"),
        "revoked: {}",
        tokens.stdout
    );
}
