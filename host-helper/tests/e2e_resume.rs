//! Sessions that survive a bad link, end to end: `napsh ssh --resume` in a real terminal
//! (tmux on this side), real sshd devices with real tmux on theirs, and the emulator's
//! data-plane faults: a cut, a 30 s blackhole, a device offline for a minute, a mapping that
//! expires during the outage, Ctrl-C while reconnecting, `~.`, a device without the tool and
//! a service shell. Every wait is a poll with a deadline.

use napsh_e2e::device::FakeDocker;
use napsh_e2e::session::{max_count, Counter, NapshTerminal};
use napsh_e2e::TestEnv;
use std::time::{Duration, Instant};

const FLEET: &str = r#"
[[devices]]
name = "kiosk-12"
online = true
ssh = "spawn"
"#;

const DEVICE: &str = "kiosk-12";
/// Generous deadline for things that take a moment (a shell, a prompt).
const WAIT: Duration = Duration::from_secs(30);
/// What the terminal shows while napsh reconnects.
const RECONNECTING: &str = "link to kiosk-12 lost — reconnecting (attempt";

fn env() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET)
}

/// `napsh ssh --resume kiosk-12` (plus `extra` arguments) in a terminal, attached to the
/// device's tmux session `napsh`.
fn resumed(env: &TestEnv, extra: &[&str]) -> NapshTerminal {
    let mut args = vec!["ssh", "--resume"];
    args.extend_from_slice(extra);
    args.push(DEVICE);
    let napsh = NapshTerminal::start(env, &args).expect("starting napsh in a terminal");
    napsh
        .term
        .wait_for_screen("[napsh]", WAIT)
        .expect("the device's tmux session");
    napsh
}

/// Waits until the terminal shows counts above `above` (new output: the session is back).
fn wait_resumed(napsh: &NapshTerminal, above: u64, within: Duration) -> Duration {
    let start = Instant::now();
    napsh
        .term
        .wait_for(within, |s| {
            max_count(s) > above + 2 && !s.contains(RECONNECTING)
        })
        .expect("the session did not resume");
    start.elapsed()
}

/// Ends the session from inside (Ctrl-C ends the counter, the tmux session with it) and
/// checks napsh exits 0 and gives the mapping back.
fn end_cleanly(env: &TestEnv, napsh: &NapshTerminal) {
    napsh.term.send_keys(&["C-c"]);
    assert_eq!(napsh.wait_exit(WAIT).unwrap(), 0, "{}", napsh.term.screen());
    assert_released(env);
}

/// Waits until napsh has given its mapping back.
fn assert_released(env: &TestEnv) {
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mapping left: {:?}",
        env.mappings()
    );
}

/// A resumed session with a counter running in the device's tmux.
struct Counting {
    /// The environment.
    env: TestEnv,
    /// napsh in its terminal.
    napsh: NapshTerminal,
    /// The counting process.
    counter: Counter,
    /// Where the counter writes (removed on drop).
    _dir: tempfile::TempDir,
}

/// A fresh env, `napsh ssh --resume kiosk-12` in a terminal and a counter in its tmux.
fn counting() -> Counting {
    let env = env();
    let napsh = resumed(&env, &[]);
    let dir = tempfile::tempdir().unwrap();
    let counter = Counter::start(&napsh.term, dir.path()).unwrap();
    Counting {
        env,
        napsh,
        counter,
        _dir: dir,
    }
}

#[test]
fn a_cut_link_reconnects_within_10s_to_the_same_counting_process() {
    let c = counting();
    let (env, napsh, counter) = (&c.env, &c.napsh, &c.counter);
    let (pid, mapping) = (counter.pid(), env.mappings());

    assert!(env.cut_device(DEVICE) >= 1, "no live connection to cut");
    let at_cut = counter.value();
    napsh.term.wait_for_screen(RECONNECTING, WAIT).unwrap();
    let took = wait_resumed(napsh, at_cut, Duration::from_secs(10));
    eprintln!("resumed {took:?} after the cut");
    assert_eq!(counter.pid(), pid, "the counting process was replaced");
    assert!(counter.alive(), "the counting process died");
    assert_eq!(
        env.mappings(),
        mapping,
        "the same mapping serves the new connection"
    );

    // `~.` still quits at once; the mapping is given back.
    napsh.term.send_keys(&["Enter"]);
    napsh.term.type_text("~.");
    napsh.wait_exit(Duration::from_secs(10)).unwrap();
    assert_released(env);
}

#[test]
fn a_30s_blackhole_is_found_within_20s_and_the_session_resumes() {
    let c = counting();
    let (env, napsh, counter) = (&c.env, &c.napsh, &c.counter);
    let pid = counter.pid();

    let start = Instant::now();
    assert!(env.blackhole_device(DEVICE, 30) >= 1);
    napsh
        .term
        .wait_for_screen(RECONNECTING, Duration::from_secs(20))
        .expect("the dead link was not found within 20 s");
    let found = start.elapsed();
    let at_found = counter.value();
    wait_resumed(napsh, at_found, Duration::from_secs(60));
    let back = start.elapsed().saturating_sub(Duration::from_secs(30));
    eprintln!("blackhole found after {found:?}; resumed {back:?} after the link returned");
    assert_eq!(counter.pid(), pid);
    end_cleanly(env, napsh);
}

#[test]
fn a_device_offline_for_a_minute_is_retried_with_backoff_and_resumed() {
    let c = counting();
    let (env, napsh, counter) = (&c.env, &c.napsh, &c.counter);
    let pid = counter.pid();

    env.set_device_online(DEVICE, false);
    env.cut_device(DEVICE);
    let offline = Instant::now();
    let mut highest = 0;
    while offline.elapsed() < Duration::from_secs(60) {
        highest = highest.max(attempt_shown(&napsh.term.screen()));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(highest >= 4, "too few attempts in a minute: {highest}");
    assert!(highest <= 15, "no backoff: {highest} attempts in a minute");
    env.set_device_online(DEVICE, true);
    let took = wait_resumed(napsh, counter.value(), WAIT);
    eprintln!("offline 60 s: {highest} attempts; resumed {took:?} after it came back");
    assert_eq!(counter.pid(), pid);
    end_cleanly(env, napsh);
}

/// The attempt number in the status line on a screen (0 when none).
fn attempt_shown(screen: &str) -> u32 {
    screen
        .split("(attempt ")
        .skip(1)
        .filter_map(|rest| rest.split(',').next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

#[test]
fn a_mapping_that_expires_during_the_outage_is_replaced_and_not_leaked() {
    let c = counting();
    let (env, napsh, counter) = (&c.env, &c.napsh, &c.counter);
    let old = env.mappings().remove(0);

    env.set_device_online(DEVICE, false);
    env.cut_device(DEVICE);
    napsh.term.wait_for_screen(RECONNECTING, WAIT).unwrap();
    assert!(env.emulator().expire_mapping(&old.ip_address, old.port));
    napsh.term.wait_for_screen("(attempt 3", WAIT).unwrap();
    env.set_device_online(DEVICE, true);
    wait_resumed(napsh, counter.value(), WAIT);

    let now = env.mappings();
    assert_eq!(now.len(), 1, "one mapping, the new one: {now:?}");
    assert_ne!(
        (&now[0].ip_address, now[0].port),
        (&old.ip_address, old.port)
    );
    end_cleanly(env, napsh);
}

#[test]
fn ctrl_c_while_reconnecting_exits_and_releases_the_mapping() {
    let env = env();
    let napsh = resumed(&env, &[]);
    env.set_device_online(DEVICE, false);
    env.cut_device(DEVICE);
    napsh.term.wait_for_screen(RECONNECTING, WAIT).unwrap();
    napsh.term.send_keys(&["C-c"]);
    assert_eq!(
        napsh.wait_exit(WAIT).unwrap(),
        130,
        "{}",
        napsh.term.screen()
    );
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "mapping left: {:?}",
        env.mappings()
    );
}

#[test]
fn without_the_tool_on_the_device_the_shell_is_plain_with_a_notice() {
    // The devices have tmux but no screen: `resume = "screen"` finds nothing to resume in.
    let env = env();
    env.write_config("resume = \"screen\"\n").unwrap();
    let napsh = NapshTerminal::start(&env, &["ssh", DEVICE]).unwrap();
    napsh
        .term
        .wait_for_screen("napsh: no tmux or screen on this device", WAIT)
        .unwrap();
    napsh.term.type_text("exit\n");
    assert_eq!(napsh.wait_exit(WAIT).unwrap(), 0, "{}", napsh.term.screen());
    assert_released(&env);
}

#[test]
fn a_service_shell_resumes_inside_the_hosts_tmux() {
    let env = env();
    let docker = FakeDocker::install(&env).unwrap();
    docker.add_service("web", true).unwrap();
    env.write_config(&format!("resume = \"auto\"\n{}", docker.config()))
        .unwrap();
    let napsh = NapshTerminal::start(&env, &["ssh", DEVICE, "web"]).unwrap();
    napsh.term.wait_for_screen("[napsh-web", WAIT).unwrap();
    let dir = tempfile::tempdir().unwrap();
    napsh
        .term
        .type_text("echo svc:$NAPSH_FAKE_SERVICE:$NAPSH_FAKE_TTY\n");
    napsh.term.wait_for_screen("svc:web:yes", WAIT).unwrap();
    let counter = Counter::start(&napsh.term, dir.path()).unwrap();

    env.cut_device(DEVICE);
    napsh.term.wait_for_screen(RECONNECTING, WAIT).unwrap();
    wait_resumed(&napsh, counter.value(), WAIT);
    assert!(counter.alive());
    assert_eq!(
        docker.execs(),
        [("web".to_string(), "-it".to_string())],
        "one exec, resumed"
    );
    end_cleanly(&env, &napsh);
}
