//! The picker's markers and pane modes on a real screen (a real Zellij in tmux): a live
//! mapping with its time left (`⇄ 29m…`), `● session` for a device whose pane is open, and
//! device panes opened floating (`panes "floating"`) or in a new tab (`panes "tab"`).

use napsh_e2e::zellij::{ZellijSession, PICKER_KEY};
use napsh_e2e::{ConsoleMapping, TestEnv, TWO_DEVICES};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn start(settings: &str) -> (TestEnv, ZellijSession) {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), TWO_DEVICES);
    let zellij = ZellijSession::start_with_settings(&env, 200, 50, settings).expect("zellij");
    (env, zellij)
}

/// The screen line of the picker row naming `device` (its online mark, then its name; a pane
/// title elsewhere on the screen may name it too).
fn row<'a>(screen: &'a str, device: &str) -> &'a str {
    screen
        .lines()
        .find(|l| {
            ["●", "○"]
                .iter()
                .any(|m| l.contains(&format!("] {m} {device} ")))
        })
        .unwrap_or_else(|| panic!("no row for {device}:\n{screen}"))
}

/// Ends the device pane `pane` and waits until no mapping is left.
fn end_session(env: &TestEnv, zellij: &ZellijSession, pane: u64) {
    zellij.write_to_pane(pane, "exit\n").unwrap();
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "{:?}",
        env.mappings()
    );
}

#[test]
fn rows_show_a_live_mapping_with_time_left_and_an_open_session() {
    let (env, zellij) = start("");
    // A colleague's mapping to dev-b, half an hour long.
    let theirs = env.console_create(ConsoleMapping {
        duration_secs: 1800,
        ip_ranges: vec!["127.0.0.1/32".into()],
        ..ConsoleMapping::new(&env.sim_id("dev-b"))
    });
    zellij.pick("napsh — 2 devices", "dev-a");
    let pane = zellij.wait_for_pane("dev-a");

    zellij.send_keys(&[PICKER_KEY]);
    let screen = zellij
        .wait_for(WAIT, |s| s.contains("● session") && s.contains("⇄ 29m"))
        .expect("both markers");
    assert!(row(&screen, "dev-a").contains("● session"), "{screen}");
    assert!(row(&screen, "dev-b").contains("⇄ 29m"), "{screen}");
    assert!(!row(&screen, "dev-b").contains("● session"), "{screen}");

    env.console_delete(&theirs.ip_address, theirs.port);
    zellij.send_keys(&["Escape"]);
    end_session(&env, &zellij, pane);
}

#[test]
fn panes_floating_opens_device_panes_floating() {
    let (env, zellij) = start("panes \"floating\";");
    zellij.pick("napsh — 2 devices", "dev-a");
    let pane = zellij.wait_for_pane("dev-a");
    assert_eq!(
        zellij.pane(pane)["is_floating"],
        true,
        "{:#?}",
        zellij.pane(pane)
    );
    end_session(&env, &zellij, pane);
}

#[test]
fn panes_tab_opens_the_first_device_in_a_new_tab_and_the_next_beside_it() {
    let (env, zellij) = start("panes \"tab\";");
    zellij.send_keys(&[PICKER_KEY]);
    zellij.wait_for_screen("napsh — 2 devices", WAIT).unwrap();
    zellij.send_keys(&["C-a"]);
    zellij.wait_for_screen("2 selected", WAIT).unwrap();
    zellij.send_keys(&["Enter"]);
    let panes = [zellij.wait_for_pane("dev-a"), zellij.wait_for_pane("dev-b")];
    let tabs: Vec<_> = panes
        .iter()
        .map(|p| zellij.pane(*p)["tab_position"].clone())
        .collect();
    assert_ne!(tabs[0], 0, "a new tab, not the first one: {tabs:?}");
    assert_eq!(
        tabs[0], tabs[1],
        "the second device beside the first: {tabs:?}"
    );
    for pane in panes {
        zellij.write_to_pane(pane, "exit\n").unwrap();
    }
    assert!(env.wait_until(30, || env.mappings().is_empty()));
}
