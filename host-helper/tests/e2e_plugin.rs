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

/// The sshd port of each fleet device named in `names` (what `$SSH_CONNECTION` ends with on
/// that device: each emulated device is its own sshd).
fn device_ports(env: &TestEnv, names: &[&str]) -> Vec<u16> {
    let devices = env.emulator().devices();
    names
        .iter()
        .map(|n| {
            devices
                .iter()
                .find(|d| d.name == *n)
                .and_then(|d| d.ssh_port)
                .expect("a spawned device")
        })
        .collect()
}

/// Whether a pane shows a shell prompt (the remote shell is ready for input).
fn shows_prompt(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| matches!(l.trim_end().chars().last(), Some('#' | '$')))
}

#[test]
fn ctrl_f_opens_a_fleet_tab_whose_input_reaches_every_device() {
    let (env, zellij) = start();
    let out = tempfile::tempdir().expect("a directory for the devices' files");
    let screen = open_picker(&zellij);
    assert!(
        screen.contains("<Ctrl f> fleet tab"),
        "help line missing:\n{screen}"
    );

    // The three online devices and an offline one: the offline one gets the guide, the
    // others still open.
    for (i, filter) in ["kiosk-al", "kiosk-be", "gamma", "offline"]
        .iter()
        .enumerate()
    {
        zellij.type_text(filter);
        zellij.wait_for_screen("1 shown", WAIT).unwrap();
        zellij.send_keys(&["Space"]);
        zellij
            .wait_for_screen(&format!("{} selected", i + 1), WAIT)
            .unwrap();
        zellij.send_keys(&["Escape"]);
        zellij.wait_for(WAIT, |s| !s.contains("shown")).unwrap();
    }
    zellij.send_keys(&["C-f"]);
    zellij
        .wait_for_screen("Cannot connect to kiosk-offline", WAIT)
        .unwrap();

    let names = ["kiosk-alpha", "kiosk-beta", "gateway-gamma"];
    let panes: Vec<u64> = names
        .iter()
        .map(|n| wait_for_pane(&env, &zellij, n))
        .collect();
    let tabs: Vec<serde_json::Value> =
        serde_json::from_str(&zellij.action(&["list-tabs", "--json"]).unwrap()).unwrap();
    let fleet = tabs
        .iter()
        .find(|t| t["name"] == "fleet (3)")
        .unwrap_or_else(|| panic!("no tab named fleet (3): {tabs:#?}"));
    assert_eq!(fleet["is_sync_panes_active"], true, "{fleet:#?}");
    let in_fleet = zellij.panes().unwrap();
    for pane in &panes {
        let p = in_fleet
            .iter()
            .find(|p| p["id"] == *pane && p["is_plugin"] == false)
            .unwrap();
        assert_eq!(
            p["tab_id"], fleet["tab_id"],
            "pane {pane} is outside the fleet tab: {p:#?}"
        );
    }
    // The tab bar says sync is on; leaving the guide and the picker goes back to the fleet tab.
    zellij.wait_for_screen("fleet (3) (SYNC)", WAIT).unwrap();
    zellij.send_keys(&["Escape"]);
    zellij.wait_for_screen("Filter: _", WAIT).unwrap();
    zellij.send_keys(&["Escape"]);
    let focused = env.wait_until(30, || {
        zellij
            .action(&["current-tab-info", "--json"])
            .is_ok_and(|t| t.contains("fleet (3)"))
    });
    assert!(
        focused,
        "the fleet tab is not focused:\n{}",
        zellij.screen()
    );

    for pane in &panes {
        let ready = env.wait_until(30, || {
            zellij.pane_screen(*pane).is_ok_and(|s| shows_prompt(&s))
        });
        assert!(
            ready,
            "pane {pane} has no prompt:\n{}",
            zellij.pane_screen(*pane).unwrap_or_default()
        );
    }
    // Typed once, run on every device: each writes a file named after its own sshd port.
    let dir = out.path().display().to_string();
    zellij.type_text(&format!("hostname > {dir}/fleet-${{SSH_CONNECTION##* }}\n"));
    let files: Vec<_> = device_ports(&env, &names)
        .iter()
        .map(|port| out.path().join(format!("fleet-{port}")))
        .collect();
    let all = env.wait_until(30, || files.iter().all(|f| f.exists()));
    assert!(
        all,
        "the command did not run everywhere: {:?}\n{}",
        std::fs::read_dir(out.path()).unwrap().collect::<Vec<_>>(),
        zellij.screen()
    );
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        3,
        "exactly once per device"
    );
    if std::env::var_os("NAPSH_E2E_SHOW").is_some() {
        eprintln!("{}", zellij.screen());
    }

    zellij.type_text("exit\n");
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mappings left after the fleet's sessions ended: {:?}",
        env.mappings()
    );
}
