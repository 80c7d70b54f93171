//! The mapping lease end to end, against the emulator and real sshd devices: every mapping
//! napsh touches is proven to be this device's, from creation to deletion. Each test is one
//! case reproduced against the old code (issue 10): a stale record, an endpoint reassigned
//! at session end and at tunnel stop, a failed create beside a colleague's older mapping, a
//! vanished record, renewal with live connections, the source-range policy, a local clock
//! hours off, and signals during `connect`.

use napsh_core::soracom::PortMapping;
use napsh_e2e::reach::RunningTunnel;
use napsh_e2e::{fault_rule, ConsoleMapping, Fault, TestEnv, TWO_DEVICES};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

fn start() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), TWO_DEVICES)
}

/// The host key (`keytype base64`) the emulator's device `sim` really has.
fn real_key(env: &TestEnv, sim: &str) -> String {
    let device = env
        .emulator()
        .devices()
        .into_iter()
        .find(|d| d.sim_id == sim)
        .expect("the device");
    let key = device.host_key.expect("a spawned sshd has a host key");
    key.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The live mapping of `sim` in the emulator.
fn mapping_of(env: &TestEnv, sim: &str) -> PortMapping {
    env.mappings()
        .into_iter()
        .find(|m| m.target_sim_id() == Some(sim))
        .unwrap_or_else(|| panic!("no mapping of {sim}: {:?}", env.mappings()))
}

/// A mapping made outside napsh (a colleague, the console) for device `name`.
fn console_create(
    env: &TestEnv,
    name: &str,
    device_port: u16,
    ranges: &[&str],
    port: Option<u16>,
) -> PortMapping {
    env.console_create(ConsoleMapping {
        device_port,
        ip_ranges: ranges.iter().map(|r| r.to_string()).collect(),
        port,
        ..ConsoleMapping::new(&env.sim_id(name))
    })
}

/// Outside napsh: `map` is deleted (or expires), and Napter hands its endpoint to `to`.
fn hand_endpoint(env: &TestEnv, map: &PortMapping, to: &str, expire: bool) -> PortMapping {
    if expire {
        assert!(env.emulator().expire_mapping(&map.ip_address, map.port));
    } else {
        assert!(env.console_delete(&map.ip_address, map.port));
    }
    console_create(env, to, 22, &["127.0.0.1/32"], Some(map.port))
}

/// napsh never sent a DELETE for `ip:port`.
fn never_deleted(env: &TestEnv, map: &PortMapping) {
    let path = format!("/v1/port_mappings/{}/{}", map.ip_address, map.port);
    let deletes: Vec<_> = env
        .request_log()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.path == path)
        .collect();
    assert!(deletes.is_empty(), "napsh deleted {path}: {deletes:?}");
    assert!(
        env.mappings()
            .iter()
            .any(|m| m.port == map.port && m.target_sim_id() == map.target_sim_id()),
        "the other device's mapping survives: {:?}",
        env.mappings()
    );
}

/// Case 1: `connect` reserved dev-c's mapping; it is deleted from the console and its
/// endpoint handed to dev-b. `napsh ssh dev-c` must reach dev-c through a new mapping, pin
/// dev-c's own key, and leave dev-b's mapping alone.
#[test]
fn a_stale_record_never_leads_to_another_device() {
    let env = start();
    let (a, b) = (env.sim_id("dev-a"), env.sim_id("dev-b"));
    env.run(&["connect", "dev-a"]).expect_code(0);
    let a_map = mapping_of(&env, &a);
    let b_map = hand_endpoint(&env, &a_map, "dev-b", false);
    env.emulator().clear_request_log();

    let out = env.run(&["ssh", "dev-a", "--", "echo", "reached"]);
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "reached");
    assert_eq!(env.pinned(&a), vec![format!("{a} {}", real_key(&env, &a))]);
    assert!(env.pinned(&b).is_empty(), "dev-b's key is pinned to nobody");
    never_deleted(&env, &b_map);
    assert_eq!(env.mappings().len(), 1, "napsh's new mapping is gone again");
    assert_eq!(env.count_requests("POST", "/v1/port_mappings"), 1);
}

/// Case 2a: a session's mapping expires mid-session and its endpoint is handed to dev-b:
/// the session's end must not delete dev-b's mapping.
#[test]
fn an_endpoint_reassigned_during_a_session_is_not_deleted_at_its_end() {
    let env = start();
    let a = env.sim_id("dev-a");
    let mut session = env.spawn_session("dev-a");
    let a_map = mapping_of(&env, &a);
    let b_map = hand_endpoint(&env, &a_map, "dev-b", true);
    assert!(env.wait_until(30, || session.try_wait().unwrap().is_some()));
    never_deleted(&env, &b_map);
    assert_eq!(env.mappings().len(), 1);
}

/// Case 2b: the same at tunnel stop.
#[test]
fn an_endpoint_reassigned_under_a_tunnel_is_not_deleted_when_it_stops() {
    let env = start();
    let a = env.sim_id("dev-a");
    let tunnel =
        RunningTunnel::start(&env, &["dev-a", "-p", "22:0"]).unwrap_or_else(|e| panic!("{e}"));
    let a_map = mapping_of(&env, &a);
    let b_map = hand_endpoint(&env, &a_map, "dev-b", true);
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0, "{stderr}");
    never_deleted(&env, &b_map);
    assert_eq!(env.mappings().len(), 1, "{:?}", env.mappings());
}

/// Case 3: a colleague's mapping of dev-a (same port, same source range) existed before
/// napsh's create, which fails with a 500. napsh must not take it for its own: it reports
/// the failure and the colleague's mapping survives. A create that did happen server-side
/// (the answer lost after the fact) is adopted, used and deleted.
#[test]
fn a_failed_create_adopts_only_what_it_created() {
    let env = start();
    let a = env.sim_id("dev-a");
    env.run(&["devices"]).expect_code(0); // the fast path: dev-a cached online and unmapped
    let colleague = console_create(&env, "dev-a", 22, &["127.0.0.1/32"], None);
    // createdTime and the Date header have a resolution of a second.
    std::thread::sleep(Duration::from_millis(2100));
    env.set_faults(vec![fault_rule(
        "POST",
        "/v1/port_mappings/sims/*",
        Fault::Status { status: 500 },
        Some(1),
    )]);
    let out = env.run(&["ssh", "dev-a", "--", "true"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    never_deleted(&env, &colleague);
    assert_eq!(env.mappings().len(), 1);

    let mut after = fault_rule(
        "POST",
        "/v1/port_mappings/sims/*",
        Fault::Status { status: 500 },
        Some(1),
    );
    after.after = true;
    env.set_faults(vec![after]);
    env.emulator().clear_request_log();
    let out = env.run(&["ssh", "dev-a", "--", "echo", "adopted"]);
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "adopted");
    never_deleted(&env, &colleague);
    assert_eq!(
        env.mappings().len(),
        1,
        "the adopted mapping was deleted: {:?}",
        env.mappings()
    );
    assert_eq!(mapping_of(&env, &a).port, colleague.port);
}

/// Case 4: a reserved mapping vanished outside napsh: `napsh ssh` makes a new one and
/// connects, without an error and without "run the command again".
#[test]
fn a_vanished_record_is_recreated_at_once() {
    let env = start();
    let a = env.sim_id("dev-a");
    env.run(&["connect", "dev-a"]).expect_code(0);
    let gone = mapping_of(&env, &a);
    assert!(env.console_delete(&gone.ip_address, gone.port));
    let out = env.run(&["ssh", "dev-a", "--", "echo", "again"]);
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "again");
    assert!(!out.stderr.contains("again:"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("run the command again"),
        "{}",
        out.stderr
    );
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

/// An ssh session through a tunnel that answers each line it reads.
struct LineSession {
    /// The ssh process.
    child: Child,
    /// Its stdin.
    stdin: ChildStdin,
    /// Its stdout lines.
    lines: Receiver<String>,
}

impl LineSession {
    fn open(env: &TestEnv, local: std::net::SocketAddr, sim: &str) -> Self {
        let known = env.path().join("data/napsh/known_hosts");
        let mut child = Command::new("ssh")
            .args(["-p", &local.port().to_string(), "-i"])
            .arg(env.key_path())
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"])
            .args([
                "-o",
                &format!("HostKeyAlias={sim}"),
                "-o",
                "StrictHostKeyChecking=yes",
            ])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known.display()))
            .arg(format!("{}@127.0.0.1", env.user))
            .arg("while read l; do echo \"got $l\"; done")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        LineSession {
            child,
            stdin,
            lines,
        }
    }

    /// Whether the session still answers.
    fn answers(&mut self, what: &str) -> bool {
        if writeln!(self.stdin, "{what}").is_err() {
            return false;
        }
        self.lines.recv_timeout(Duration::from_secs(30)).ok() == Some(format!("got {what}"))
    }

    fn close(mut self) {
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

/// The number of mapping creates the emulator answered.
fn creates(env: &TestEnv) -> usize {
    env.count_requests("POST", "/v1/port_mappings")
}

/// Case 5: a 120 s tunnel renews twice. Each renewal creates the new mapping first and sends
/// new connections to it; a session on the old mapping keeps running; the old mapping is
/// deleted once its last connection has ended; one create per renewal period.
#[test]
fn renewal_never_cuts_a_live_connection() {
    let env = start();
    let a = env.sim_id("dev-a");
    let tunnel = RunningTunnel::start(&env, &["dev-a", "-p", "22:0", "--duration", "120"])
        .unwrap_or_else(|e| panic!("{e}"));
    let local = tunnel.local_for(22);
    let first = mapping_of(&env, &a);
    let mut old = LineSession::open(&env, local, &a);
    assert!(old.answers("1"));
    for round in 1..=2 {
        let before = env.mappings();
        assert!(
            env.wait_until(150, || env.mappings().len() > before.len()),
            "round {round}: no renewal: {}",
            tunnel.stderr()
        );
        assert!(
            old.answers(&format!("{round}-survives")),
            "round {round}: the renewal cut the session"
        );
        let mut new = LineSession::open(&env, local, &a);
        assert!(new.answers(&format!("{round}-new")));
        let retired = before.iter().find(|m| m.port != 0).cloned().unwrap();
        old.close();
        assert!(
            env.wait_until(40, || !env
                .mappings()
                .iter()
                .any(|m| m.port == retired.port)),
            "round {round}: the old mapping outlived its last connection: {:?}",
            env.mappings()
        );
        old = new;
    }
    assert_eq!(creates(&env), 3, "one create per renewal period");
    assert!(env.mappings().iter().all(|m| m.port != first.port));
    old.close();
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

/// Case 7: the source-range policy.
#[test]
fn world_open_and_host_bit_ranges_are_refused_and_wider_mappings_never_reused() {
    let env = start();
    let a = env.sim_id("dev-a");
    let with = |cidr: &str, args: &[&str]| {
        napsh_e2e::Output::from(
            env.napsh()
                .env("NAPSH_SOURCE_CIDR", cidr)
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let out = with("0.0.0.0/0", &["connect", "dev-a"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("anyone on the internet") && out.stderr.contains("--allow-any-source"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let out = with("127.0.0.1/1", &["connect", "dev-a"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("0.0.0.0/1"),
        "names the network meant: {}",
        out.stderr
    );
    assert!(env.mappings().is_empty());

    let out = with("127.0.0.0/16", &["connect", "dev-a"]);
    out.expect_code(0);
    assert_eq!(out.stderr.matches("is wide").count(), 1, "{}", out.stderr);
    env.run(&["mappings", "close", "--all"]).expect_code(0);

    // Someone else's world-open mapping of dev-a is never reused.
    let open = console_create(&env, "dev-a", 22, &["0.0.0.0/0"], None);
    env.run(&["ssh", "dev-a", "--", "true"]).expect_code(0);
    assert_eq!(creates(&env), 2, "a mapping of our own was created");
    never_deleted(&env, &open);
    let out = with("0.0.0.0/0", &["--allow-any-source", "connect", "dev-a"]);
    out.expect_code(0);
    assert!(out.stderr.contains("allowed explicitly"), "{}", out.stderr);
    let _ = a;
}

/// Case 6: the local clock is hours off the server's (here: the server runs 3 h behind, as if
/// the local clock ran 3 h fast). A tunnel with a 1 h lifetime must not renew at every tick,
/// and a reserved mapping with an hour left is still reused.
#[test]
fn a_local_clock_hours_off_changes_nothing() {
    let env = start();
    env.set_clock_offset_ms(-3 * 3_600_000);
    env.run(&["connect", "dev-a"]).expect_code(0);
    env.run(&["ssh", "dev-a", "--", "true"]).expect_code(0);
    assert_eq!(creates(&env), 1, "the reserved mapping was reused");
    assert!(env.mappings().is_empty());

    let tunnel =
        RunningTunnel::start(&env, &["dev-a", "-p", "22:0"]).unwrap_or_else(|e| panic!("{e}"));
    // Old napsh renewed every 20 s tick here; three ticks pass.
    std::thread::sleep(Duration::from_secs(65));
    assert_eq!(creates(&env), 2, "{}", tunnel.stderr());
    let out = env.run(&["connect", "--json", "dev-b"]);
    let left = out.json_lines()[0]["endpoint"]["expiresAt"]
        .as_i64()
        .unwrap();
    assert!(left > 0);
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// Case 8: `connect` interrupted while it creates: the create completes, the mapping is
/// deleted again, and napsh exits 128+signal.
#[test]
fn connect_interrupted_during_the_create_leaves_nothing() {
    let env = start();
    env.set_faults(vec![fault_rule(
        "POST",
        "/v1/port_mappings/sims/*",
        Fault::Delay { ms: 3000 },
        Some(1),
    )]);
    let mut child = env
        .napsh()
        .args(["connect", "dev-a"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The create is the first request after the listing; it then takes 3 s to answer.
    assert!(env.wait_until(20, || env.count_requests("GET", "/v1/port_mappings") > 0));
    std::thread::sleep(Duration::from_millis(700));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(
        env.wait_until(10, || env.mappings().is_empty()),
        "{:?}",
        env.mappings()
    );
}

/// Finding 11.8: a create answer that is not the mapping asked for (port 0, another device
/// port, flagged or already expired, another source range) is never used: napsh deletes
/// what its request made (as the SIM's own list shows it) and fails with one clear line.
#[rstest::rstest]
#[case::port_zero(serde_json::json!({ "port": 0 }))]
#[case::other_device_port(serde_json::json!({ "destination": { "port": 2222 } }))]
#[case::flagged_expired(serde_json::json!({ "expired": true }))]
#[case::expiry_past(serde_json::json!({ "expiredTime": 1000 }))]
#[case::world_open(serde_json::json!({ "source": { "ipRanges": ["0.0.0.0/0"] } }))]
fn a_create_answer_that_is_not_what_was_asked_is_refused_and_undone(
    #[case] fields: serde_json::Value,
) {
    let env = start();
    let fields = fields.as_object().unwrap().clone();
    env.set_faults(vec![fault_rule(
        "POST",
        "/v1/port_mappings/sims/*",
        Fault::Override { fields },
        Some(1),
    )]);
    let out = env.run(&["ssh", "dev-a", "--", "true"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    assert!(
        out.stderr.contains("not what was asked") && out.stderr.contains("deleted the 1"),
        "{}",
        out.stderr
    );
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
    assert!(
        env.pinned(&env.sim_id("dev-a")).is_empty(),
        "nothing was connected to"
    );
}
