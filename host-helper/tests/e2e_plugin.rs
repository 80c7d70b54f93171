//! The Zellij plugin end to end: a real Zellij in tmux, the picker opened with its keybinding,
//! two devices selected → two named panes with working remote shells, an offline device → the
//! guide, sessions ended → their mappings deleted. Against the emulator and real sshd devices.

use napsh_e2e::zellij::{ZellijSession, PICKER_KEY};
use napsh_e2e::TestEnv;
use std::time::Duration;

const FLEET: &str = r#"
[[devices]]
name = "kiosk-alpha"
online = true
ssh = "spawn"

[[devices]]
name = "kiosk-beta"
online = true
ssh = "spawn"

[[devices]]
name = "kiosk-offline"
online = false

[[devices]]
name = "gateway-gamma"
online = true
ssh = "spawn"

[[devices]]
name = "evil-\u001b[31mred"
online = true
"#;

const WAIT: Duration = Duration::from_secs(30);

fn start() -> (TestEnv, ZellijSession) {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let zellij = ZellijSession::start(&env, 200, 50).expect("starting zellij");
    (env, zellij)
}

fn open_picker(zellij: &ZellijSession) -> String {
    zellij.send_keys(&[PICKER_KEY]);
    zellij
        .wait_for_screen("napsh — 5 devices", WAIT)
        .expect("the picker shows the fleet")
}

/// Opens the picker, filters it down to the one device matching `filter` and connects it.
fn connect_the_only_match(zellij: &ZellijSession, filter: &str) {
    open_picker(zellij);
    zellij.type_text(filter);
    zellij.wait_for_screen("1 shown", WAIT).unwrap();
    zellij.send_keys(&["Enter"]);
}

/// Waits for a terminal pane titled `title`; its id.
fn wait_for_pane(env: &TestEnv, zellij: &ZellijSession, title: &str) -> u64 {
    let ok = env.wait_until(30, || {
        zellij
            .terminal_panes_titled(title)
            .map(|p| !p.is_empty())
            .unwrap_or(false)
    });
    assert!(ok, "no pane named {title}: {:#?}", zellij.panes().unwrap());
    zellij.terminal_panes_titled(title).unwrap()[0]
}

#[test]
fn picker_opens_two_sessions_and_cleans_up() {
    let (env, zellij) = start();
    let screen = open_picker(&zellij);
    assert!(
        screen.contains("<Enter> connect"),
        "help line missing:\n{screen}"
    );
    assert!(
        screen.contains("evil-\\e[31mred"),
        "the hostile name must be shown inert:\n{screen}"
    );

    zellij.type_text("kiosk");
    zellij.wait_for_screen("3 shown", WAIT).unwrap();
    zellij.send_keys(&["Space", "Down", "Space"]);
    zellij.wait_for_screen("2 selected", WAIT).unwrap();
    zellij.send_keys(&["Enter"]);

    let mut panes = Vec::new();
    for name in ["kiosk-alpha", "kiosk-beta"] {
        panes.push(wait_for_pane(&env, &zellij, name));
    }
    assert_eq!(env.mappings().len(), 2, "one mapping per device");

    for (i, pane) in panes.iter().enumerate() {
        zellij
            .write_to_pane(*pane, &format!("echo remote-marker-$((40+{i}))\n"))
            .unwrap();
        let expected = format!("remote-marker-{}", 40 + i);
        let ok = env.wait_until(30, || {
            zellij
                .pane_screen(*pane)
                .map(|s| s.contains(&expected))
                .unwrap_or(false)
        });
        assert!(
            ok,
            "pane {pane} never showed {expected}:\n{}",
            zellij.pane_screen(*pane).unwrap_or_default()
        );
    }

    for pane in &panes {
        zellij.write_to_pane(*pane, "exit\n").unwrap();
    }
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mappings left after the sessions ended: {:?}",
        env.mappings()
    );
    if std::env::var_os("NAPSH_E2E_SHOW").is_some() {
        eprintln!("{}\nrequests: {}", zellij.screen(), env.request_log().len());
    }
}

#[test]
fn offline_device_gets_the_guide() {
    let (env, zellij) = start();
    connect_the_only_match(&zellij, "offline");
    let screen = zellij
        .wait_for_screen("Cannot connect to kiosk-offline", WAIT)
        .unwrap();
    assert!(
        screen.contains("offline"),
        "the reason is missing:\n{screen}"
    );
    assert!(
        screen.contains("On-demand remote access"),
        "the console steps are missing:\n{screen}"
    );
    assert!(screen.contains("<r> retry"), "{screen}");
    assert!(
        env.mappings().is_empty(),
        "an offline device must not get a mapping"
    );

    zellij.send_keys(&["Escape"]);
    zellij.wait_for_screen("Filter:", WAIT).unwrap();
}

#[test]
fn a_session_that_cannot_connect_gets_the_guide() {
    // "evil-…red" is online but nothing answers SSH behind its mapping: the pane's napsh ssh
    // fails with ssh's 255, and the picker comes back with that device's guide.
    let (env, zellij) = start();
    connect_the_only_match(&zellij, "evil");
    let screen = zellij
        .wait_for_screen("Cannot connect to evil-\\e[31mred", WAIT)
        .unwrap();
    assert!(
        screen.contains("ssh to evil-\\e[31mred failed"),
        "the reason is missing:\n{screen}"
    );
    assert!(screen.contains("<r> retry"), "{screen}");
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "the failed session's mapping must be deleted: {:?}",
        env.mappings()
    );
}

#[test]
fn ctrl_e_opens_a_pane_inside_a_service() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let docker = napsh_e2e::device::FakeDocker::install(&env).expect("installing the fake docker");
    docker.add_service("web", true).unwrap();
    env.write_config(&docker.config()).unwrap();
    let zellij = ZellijSession::start_with_settings(&env, 200, 50, "services \"db web\";")
        .expect("starting zellij");
    let screen = open_picker(&zellij);
    assert!(
        screen.contains("<Ctrl e> service"),
        "help line missing:\n{screen}"
    );

    zellij.type_text("alpha");
    zellij.wait_for_screen("1 shown", WAIT).unwrap();
    zellij.send_keys(&["C-e"]);
    zellij
        .wait_for_screen("Open kiosk-alpha in a service", WAIT)
        .unwrap();
    zellij.wait_for_screen("Tab: db, web", WAIT).unwrap();
    // Tab picks the offered services in turn: db, then web.
    zellij.send_keys(&["Tab"]);
    zellij.wait_for_screen("Service: db_", WAIT).unwrap();
    zellij.send_keys(&["Tab"]);
    zellij.wait_for_screen("Service: web_", WAIT).unwrap();
    zellij.send_keys(&["Enter"]);

    let pane = wait_for_pane(&env, &zellij, "kiosk-alpha/web");
    zellij
        .write_to_pane(
            pane,
            "echo svc:$NAPSH_FAKE_SERVICE:$NAPSH_FAKE_TTY:$((6*7))\n",
        )
        .unwrap();
    let ok = env.wait_until(30, || {
        zellij
            .pane_screen(pane)
            .map(|s| s.contains("svc:web:yes:42"))
            .unwrap_or(false)
    });
    assert!(
        ok,
        "the pane's shell is not inside the service:\n{}",
        zellij.pane_screen(pane).unwrap_or_default()
    );
    assert_eq!(docker.execs(), [("web".to_string(), "-it".to_string())]);

    zellij.write_to_pane(pane, "exit\n").unwrap();
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mapping left after the service session ended: {:?}",
        env.mappings()
    );
}

#[test]
fn hostile_names_reach_pane_titles_inert() {
    // Issue 13: Zellij draws a pane's title into its frame unfiltered, so a device named
    // `evil-ESC[31mred` coloured the user's terminal (and OSC 52 could write the clipboard).
    // That device is online with nothing behind SSH: its pane opens, is named, and stays.
    let (env, zellij) = start();
    connect_the_only_match(&zellij, "evil");
    let evil_titles = || -> Vec<String> {
        let panes = zellij.panes().unwrap_or_default();
        panes
            .iter()
            .filter(|p| p["is_plugin"] == false)
            .filter_map(|p| p["title"].as_str())
            .filter(|t| t.starts_with("evil-"))
            .map(String::from)
            .collect()
    };
    assert!(
        env.wait_until(30, || !evil_titles().is_empty()),
        "no pane for evil-…"
    );
    let title = "evil-\\e[31mred";
    assert_eq!(evil_titles(), [title]);
    // The frame of the held pane shows the name inert: its text, never the colour it asks
    // for (raw, the frame read `evil-red  [ EXIT CODE: 255 ]` with `red` in red).
    let screen = zellij
        .wait_for(WAIT, |s| {
            s.lines()
                .any(|l| l.contains(title) && l.contains("EXIT CODE"))
        })
        .expect("the pane frame titled with the inert name");
    assert!(!screen.contains("evil-red"), "{screen}");
    let raw = zellij.screen_with_escapes();
    assert!(!raw.contains("\u{1b}[31mred"), "{raw:?}");
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "the failed session's mapping must be deleted: {:?}",
        env.mappings()
    );
}
