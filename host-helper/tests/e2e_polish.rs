//! Polish seen while trying the demo, end to end: the first connection says in napsh's words
//! which key it pinned (not OpenSSH's "Permanently added" warning); the guide's reason wraps
//! in a narrow picker instead of being cut; reopening the picker after a connect starts with
//! an empty filter.

use napsh_e2e::zellij::{ZellijSession, PICKER_KEY};
use napsh_e2e::{TestEnv, ONE_SSH_DEVICE, TWO_DEVICES};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_first_connection_says_which_key_it_pinned() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_SSH_DEVICE);
    let sim = env.sim_id("kiosk-12");
    let first = env.run(&["ssh", "kiosk-12", "--", "true"]);
    first.expect_code(0);
    assert!(
        !first.stderr.contains("Permanently added"),
        "OpenSSH's own warning is gone:\n{}",
        first.stderr
    );
    let pinned = env.pinned(&sim);
    assert_eq!(pinned.len(), 1, "{pinned:?}");
    let blob = pinned[0].split_whitespace().nth(2).unwrap();
    let fingerprint = ssh_keygen_fingerprint(&sim, blob);
    let said = format!(
        "napsh: first connection to kiosk-12 ({sim}): its ED25519 host key {fingerprint} is now \
         pinned; a different key will be refused"
    );
    assert!(first.stderr.contains(&said), "{}", first.stderr);

    let again = env.run(&["ssh", "kiosk-12", "--", "true"]);
    again.expect_code(0);
    assert!(
        !again.stderr.contains("first connection"),
        "said once only:\n{}",
        again.stderr
    );
}

/// OpenSSH's own SHA256 fingerprint of a pinned ed25519 key.
fn ssh_keygen_fingerprint(sim: &str, blob: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key.pub");
    std::fs::write(&file, format!("ssh-ed25519 {blob} {sim}\n")).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().nth(1).unwrap().to_string()
}

/// `dev-a` and `dev-b` (real sshd) and `dev-offline`, in a picker `width` columns wide, opened
/// and filtered down to the one device matching `filter`, whose connection is started.
fn connect_in_picker(width: u16, filter: &str) -> (TestEnv, ZellijSession) {
    let fleet = format!("{TWO_DEVICES}\n[[devices]]\nname = \"dev-offline\"\nonline = false\n");
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    let zellij = ZellijSession::start(&env, width, 45).expect("starting zellij");
    zellij.pick("napsh — 3 devices", filter);
    (env, zellij)
}

#[test]
fn the_guide_reason_wraps_in_a_narrow_picker() {
    // The floating picker takes about half of a 150-column terminal.
    let (_env, zellij) = connect_in_picker(150, "offline");
    zellij
        .wait_for_screen("Cannot connect to dev-offline", WAIT)
        .unwrap();
    // The hint ends the reason: it is on screen in full, on a line of its own.
    let screen = zellij.wait_for_screen("then try again", WAIT).unwrap();
    assert!(
        !screen
            .lines()
            .any(|l| l.contains("signa…") || l.contains("cellular…")),
        "the reason was cut:\n{screen}"
    );
    // The guide's paragraphs wrap as wholes: no stub of a sentence broken for 80 columns.
    assert!(screen.contains("Common causes"), "{screen}");
    let stub = |l: &str| l.trim_matches(|c: char| c == '│' || c == ' ') == "does not";
    assert!(!screen.lines().any(stub), "a stub line:\n{screen}");
}

#[test]
fn reopening_the_picker_after_a_connect_starts_with_an_empty_filter() {
    let (env, zellij) = connect_in_picker(200, "dev-a");
    let pane = zellij.wait_for_pane("dev-a");
    zellij.send_keys(&[PICKER_KEY]);
    zellij.type_text("dev-b");
    let screen = zellij.wait_for_screen("Filter: dev-b", WAIT).unwrap();
    assert!(!screen.contains("dev-adev-b"), "{screen}");
    zellij.write_to_pane(pane, "exit\n").unwrap();
    assert!(env.wait_until(30, || env.mappings().is_empty()));
}
