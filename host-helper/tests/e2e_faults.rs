//! napsh against a misbehaving Soracom, end to end (emulator + real sshd, faults injected at run
//! time): an offline device, a 403 from a SAM policy, 429 (waited out once, a clear failure when
//! it persists), 500 on create (never blindly re-created), malformed and truncated bodies. Each
//! failure gives one clear line naming what failed, the documented exit code, the guide where it
//! helps, and leaks no mapping.

use napsh_e2e::{fault_rule, EnvOptions, Fault, Output, TestEnv};
use rstest::rstest;
use serde_json::Value;

const FLEET: &str = r#"
[[devices]]
name = "kiosk-12"
online = true
ssh = "spawn"

[[devices]]
name = "kiosk-off"
online = false
"#;

const CREATE: &str = "/v1/port_mappings/sims/*";

fn env() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET)
}

/// `POST /v1/port_mappings…` requests so far.
fn creates(env: &TestEnv) -> usize {
    env.count_requests("POST", "/v1/port_mappings")
}

/// No mapping is left in the emulator (and none in napsh's own view either).
fn assert_nothing_leaked(env: &TestEnv) {
    assert!(
        env.mappings().is_empty(),
        "leaked mappings: {:?}",
        env.mappings()
    );
}

/// The first line of stderr starting with `napsh:` (the failure line).
/// (`NAPSH_E2E_SHOW=1` prints the whole stderr, to review the wording.)
fn failure_line(out: &Output) -> &str {
    if std::env::var_os("NAPSH_E2E_SHOW").is_some() {
        eprintln!("--- exit {}\n{}", out.code, out.stderr);
    }
    out.stderr
        .lines()
        .find(|l| l.starts_with("napsh: "))
        .unwrap_or_else(|| panic!("no failure line in stderr:\n{}", out.stderr))
}

#[test]
fn offline_device_fails_without_a_create_and_gets_the_guide() {
    let env = env();
    let out = env.run(&["ssh", "kiosk-off", "--", "true"]);
    out.expect_code(4);
    let line = failure_line(&out);
    assert!(line.contains("kiosk-off is offline"), "{line}");
    assert!(
        out.stderr.contains("On-demand remote access"),
        "the guide is shown:\n{}",
        out.stderr
    );

    let out = env.run(&["connect", "--json", "kiosk-off"]);
    out.expect_code(4);
    let r = &out.json_lines()[0];
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["kind"], "offline");
    assert!(r["guide"]
        .as_str()
        .unwrap()
        .contains("On-demand remote access"));
    assert_eq!(creates(&env), 0, "{:?}", env.calls());
    assert_nothing_leaked(&env);

    // `guide --json` remembers why.
    let out = env.run(&["guide", "--json", "kiosk-off"]);
    out.expect_code(0);
    let g: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(g["reason"].as_str().unwrap().contains("offline"), "{g}");

    // Back online: the same command works.
    env.emulator()
        .set_online(&env.sim_id("kiosk-off"), true)
        .unwrap();
    env.run(&["connect", "kiosk-off"]).expect_code(0);
    env.run(&["mappings", "close", "--all"]).expect_code(0);
    assert_nothing_leaked(&env);
}

/// The cached list says online, the device has since gone offline: napsh asks for the SIM's
/// current state before creating anything.
#[test]
fn device_gone_offline_since_the_cached_list_is_reported_offline() {
    let env = env();
    env.run(&["devices"]).expect_code(0);
    env.emulator()
        .set_online(&env.sim_id("kiosk-12"), false)
        .unwrap();
    // The fresh list says online, so napsh creates at once; ssh cannot get through, and napsh
    // asks the SIM why: offline, with the guide, and the mapping deleted.
    let out = env.run(&["ssh", "kiosk-12", "--", "true"]);
    out.expect_code(4);
    assert!(out.stderr.contains("kiosk-12 is offline"), "{}", out.stderr);
    assert!(
        out.stderr.contains("On-demand remote access"),
        "{}",
        out.stderr
    );
    assert_nothing_leaked(&env);
}

#[test]
fn permission_denied_names_the_operation_and_shows_the_guide() {
    let env = TestEnv::start_with(
        env!("CARGO_BIN_EXE_napsh"),
        FLEET,
        EnvOptions {
            // The per-SIM create napsh uses is its own SAM operation.
            deny: vec![
                "PortMapping:createPortMapping".into(),
                "PortMapping:createPortMappingForSim".into(),
            ],
            ..Default::default()
        },
    );
    let sim = env.sim_id("kiosk-12");
    let out = env.run(&["ssh", "kiosk-12", "--", "true"]);
    out.expect_code(3);
    let line = failure_line(&out);
    assert!(
        line.contains(&format!("denied POST /v1/port_mappings/sims/{sim}")),
        "{line}"
    );
    assert!(line.contains("permission"), "says what to do: {line}");
    assert!(
        out.stderr.contains("On-demand remote access"),
        "the guide is shown:\n{}",
        out.stderr
    );
    assert_eq!(creates(&env), 1, "a 403 is not retried: {:?}", env.calls());
    assert_nothing_leaked(&env);

    let out = env.run(&["connect", "--json", "kiosk-12"]);
    out.expect_code(3);
    let r = &out.json_lines()[0];
    assert_eq!(r["error"]["kind"], "permission_denied", "{r}");
    assert!(r["guide"].is_string(), "{r}");
    assert_nothing_leaked(&env);
}

/// A single 429 (on the list or on the create) is waited out and the command succeeds.
#[rstest]
#[case::on_the_sim_list(&["devices", "--refresh"], "GET", "/v1/sims")]
#[case::on_create(&["ssh", "kiosk-12", "--", "true"], "POST", CREATE)]
fn one_rate_limit_is_waited_out(#[case] args: &[&str], #[case] method: &str, #[case] path: &str) {
    let env = env();
    env.set_faults(vec![fault_rule(
        method,
        path,
        Fault::RateLimit {
            retry_after_secs: 1,
        },
        Some(1),
    )]);
    let started = std::time::Instant::now();
    env.run(args).expect_code(0);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "napsh waits the advertised time before retrying"
    );
    let log = env.request_log();
    assert_eq!(log.iter().filter(|r| r.status == 429).count(), 1, "{log:?}");
    if method == "POST" {
        assert_eq!(
            creates(&env),
            2,
            "a 429 create is retried: {:?}",
            env.calls()
        );
    }
    assert_nothing_leaked(&env);
}

/// A 429 that does not clear: a clear failure (exit 5) after a bounded number of tries.
#[rstest]
#[case::on_the_sim_list(&["devices", "--refresh"], "GET", "/v1/sims", "GET /v1/sims")]
#[case::on_create(&["ssh", "kiosk-12", "--", "true"], "POST", CREATE, "POST /v1/port_mappings/sims/")]
fn persistent_rate_limit_fails_clearly(
    #[case] args: &[&str],
    #[case] method: &str,
    #[case] path: &str,
    #[case] names: &str,
) {
    let env = env();
    if method == "POST" {
        // Resolve the device first, so the fault only meets the create.
        env.run(&["devices"]).expect_code(0);
    }
    env.set_faults(vec![fault_rule(
        method,
        path,
        Fault::RateLimit {
            retry_after_secs: 1,
        },
        None,
    )]);
    let out = env.run(args);
    out.expect_code(5);
    let line = failure_line(&out);
    assert!(
        line.contains("rate-limited") && line.contains(names),
        "{line}"
    );
    assert!(line.contains("wait"), "says what to do: {line}");
    let limited = env.request_log().iter().filter(|r| r.status == 429).count();
    assert_eq!(limited, 3, "bounded retries: {:?}", env.calls());
    assert_nothing_leaked(&env);
}

/// 500 on the create: napsh does not blindly create again; it lists the mappings (the create
/// may have happened anyway), then fails cleanly. Either way nothing leaks.
#[test]
fn server_error_on_create_is_not_blindly_retried() {
    let env = env();
    env.set_faults(vec![fault_rule(
        "POST",
        CREATE,
        Fault::Status { status: 500 },
        Some(1),
    )]);
    let out = env.run(&["ssh", "kiosk-12", "--", "true"]);
    let calls = env.calls();
    let post = calls
        .iter()
        .position(|c| c.starts_with("POST /v1/port_mappings"))
        .expect("a create was attempted");
    assert!(
        calls[post + 1..]
            .iter()
            .any(|c| c.starts_with("GET /v1/port_mappings/sims/")),
        "the SIM's mappings are listed after the failed create: {calls:?}"
    );
    if out.code == 0 {
        // A retry after checking is fine too.
        assert!(creates(&env) <= 2, "{calls:?}");
    } else {
        out.expect_code(5);
        assert_eq!(creates(&env), 1, "no blind re-create: {calls:?}");
        let line = failure_line(&out);
        assert!(
            line.contains("POST /v1/port_mappings/sims/") && line.contains("500"),
            "{line}"
        );
    }
    assert_nothing_leaked(&env);
    // The next attempt works.
    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    assert_nothing_leaked(&env);
}

/// A body that is not the JSON it should be: one clear line naming the request, exit 5.
#[rstest]
#[case::malformed_sim_list(Fault::MalformedJson, "GET", "/v1/sims", &["devices", "--refresh"], "GET /v1/sims", "malformed")]
#[case::truncated_sim_list(Fault::TruncatedBody, "GET", "/v1/sims", &["devices", "--refresh"], "GET /v1/sims", "cut short")]
#[case::malformed_sim_list_on_ssh(Fault::MalformedJson, "GET", "/v1/sims", &["ssh", "kiosk-12", "--", "true"], "GET /v1/sims", "malformed")]
#[case::truncated_sim_list_on_ssh(Fault::TruncatedBody, "GET", "/v1/sims", &["ssh", "kiosk-12", "--", "true"], "GET /v1/sims", "cut short")]
#[case::malformed_mapping_list_on_ssh(Fault::MalformedJson, "GET", "/v1/port_mappings", &["ssh", "kiosk-12", "--", "true"], "GET /v1/port_mappings", "malformed")]
fn broken_bodies_fail_with_one_clear_line(
    #[case] fault: Fault,
    #[case] method: &str,
    #[case] path: &str,
    #[case] args: &[&str],
    #[case] names: &str,
    #[case] says: &str,
) {
    let env = env();
    env.set_faults(vec![fault_rule(method, path, fault, None)]);
    let out = env.run(args);
    out.expect_code(5);
    let line = failure_line(&out);
    assert!(line.contains(names) && line.contains(says), "{line}");
    if args[0] == "devices" {
        assert_eq!(
            out.stderr.trim_end().lines().count(),
            1,
            "one line:\n{}",
            out.stderr
        );
    }
    assert_eq!(creates(&env), 0, "{:?}", env.calls());
    assert_nothing_leaked(&env);
}

/// A create slower than napsh's request timeout: a clear timeout (exit 5), the SIM's mappings
/// are listed afterwards in case it happened anyway, and nothing is left behind. (The emulator drops a request
/// whose client went away; a server that completes it anyway is not covered here.)
#[test]
fn create_slower_than_the_client_timeout_fails_cleanly() {
    let env = env();
    env.write_config("request_timeout_secs = 1\n").unwrap();
    env.run(&["devices"]).expect_code(0);
    env.set_faults(vec![fault_rule(
        "POST",
        CREATE,
        Fault::Delay { ms: 2500 },
        Some(1),
    )]);
    env.emulator().clear_request_log();
    let out = env.run(&["ssh", "kiosk-12", "--", "true"]);
    out.expect_code(5);
    let line = failure_line(&out);
    assert!(
        line.contains("POST /v1/port_mappings/sims/") && line.contains("timed out"),
        "{line}"
    );
    let calls = env.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("GET /v1/port_mappings/sims/"))
            .count(),
        1,
        "the SIM's mappings are listed after the uncertain create: {calls:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(2000));
    assert_nothing_leaked(&env);
}
