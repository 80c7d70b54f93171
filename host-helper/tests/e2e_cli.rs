//! The napsh binary end to end, against the Soracom/Napter emulator and real sshd devices (no
//! stubs): help texts, profiles and the token cache, the device list (pagination, cache,
//! sanitising), connect, `ssh -- CMD` (output, stdin, exit code), host-key pinning, mapping
//! reuse and cleanup (normal end, SIGTERM, `kill -9` + reaping), doctor, and the API calls one
//! `napsh ssh DEV -- true` costs. Fault injection lives in `e2e_faults.rs`.

use assert_cmd::prelude::*;
use napsh_e2e::{assert_terminal_safe, Output, TestEnv, AUTH_KEY, AUTH_KEY_ID};
use predicates::prelude::*;
use rstest::rstest;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

/// The hostile name tag: CSI colour, OSC title with BEL, a bidi override, a C1 CSI.
const EVIL: &str = "evil-\u{1b}[31mred\u{1b}]0;pwned\u{7}\u{202e}gnp.exe\u{9b}2J";

/// Eight devices (three pages at the harness's `page_size = 3`); only kiosk-12 has an sshd.
const FLEET: &str = r#"
[[devices]]
name = "kiosk-12"
online = true
ssh = "spawn"
tags = { role = "kiosk", site = "osaka" }

[[devices]]
name = "kiosk-13"
online = true

[[devices]]
name = "kiosk-off"
online = false

[[devices]]
name = "evil-\u001b[31mred\u001b]0;pwned\u0007\u202egnp.exe\u009b2J"
online = true

[[devices]]
name = "sensor-01"
online = true

[[devices]]
name = "sensor-02"
online = false

[[devices]]
name = "sensor-03"
online = true

[[devices]]
name = "sensor-04"
online = false
"#;

fn env() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET)
}

/// `POST /v1/port_mappings…` requests so far.
fn creates(env: &TestEnv) -> usize {
    env.count_requests("POST", "/v1/port_mappings")
}

#[rstest]
#[case(&["--help"])]
#[case(&["devices", "--help"])]
#[case(&["connect", "--help"])]
#[case(&["ssh", "--help"])]
#[case(&["mappings", "--help"])]
#[case(&["mappings", "close", "--help"])]
#[case(&["guide", "--help"])]
#[case(&["doctor", "--help"])]
#[case(&["known-hosts", "--help"])]
#[case(&["known-hosts", "reset", "--help"])]
#[case(&["known-hosts", "path", "--help"])]
#[case(&["completions", "--help"])]
#[case(&["web", "--help"])]
#[case(&["access", "--help"])]
#[case(&["access", "grant", "--help"])]
#[case(&["access", "list", "--help"])]
#[case(&["access", "show", "--help"])]
#[case(&["access", "revoke", "--help"])]
fn every_help_has_examples(#[case] args: &[&str]) {
    std::process::Command::new(env!("CARGO_BIN_EXE_napsh"))
        .args(args)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Examples:\n  napsh")
                .or(predicate::str::contains("Examples:\n  cat")),
        );
}

#[test]
fn askpass_mode_fetches_the_password_from_the_socket() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(&s).read_line(&mut line).unwrap();
        assert_eq!(line, "tok123\n");
        s.write_all(b"pa ss").unwrap();
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_napsh"))
        .arg("root@device's password: ")
        .env("NAPSH_ASKPASS_TOKEN", "tok123")
        .env("NAPSH_ASKPASS_SOCKET", &sock)
        .output()
        .unwrap();
    server.join().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, b"pa ss\n");
}

// ---------------------------------------------------------------------------------------------
// Profiles and the token cache

#[test]
fn loose_profile_is_refused_with_chmod_hint() {
    let env = env();
    let path = env.profile_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["devices"]);
    out.expect_code(3);
    assert!(
        out.stderr
            .contains(&format!("chmod 600 {}", path.display())),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.count_requests("*", "/v1"),
        0,
        "no API call with a loose profile: {:?}",
        env.calls()
    );
}

/// `--profile` > `SORACOM_PROFILE` > `default`. Only the profile that should win holds working
/// credentials: the command succeeds only when napsh picks it, and with the roles swapped the
/// refusal names it.
#[rstest]
#[case::flag_beats_env_and_default(Some("flagged"), Some("from-env"), "flagged")]
#[case::env_beats_default(None, Some("from-env"), "from-env")]
#[case::default_last(None, None, "default")]
fn profile_precedence(
    #[case] flag: Option<&str>,
    #[case] env_profile: Option<&str>,
    #[case] winner: &str,
) {
    let env = env();
    let run = |winner_works: bool| -> Output {
        for name in ["flagged", "from-env", "default"] {
            let good = (name == winner) == winner_works;
            if good {
                env.write_named_profile(name, AUTH_KEY_ID, AUTH_KEY);
            } else {
                env.write_named_profile(name, &format!("keyId-wrong-{name}"), "wrong");
            }
        }
        let mut cmd = env.napsh();
        cmd.env_remove("SORACOM_PROFILE");
        if let Some(p) = env_profile {
            cmd.env("SORACOM_PROFILE", p);
        }
        if let Some(p) = flag {
            cmd.args(["--profile", p]);
        }
        // A fresh token cache for each run: it is keyed by profile + credentials anyway.
        let _ = std::fs::remove_dir_all(env.path().join("cache"));
        Output::from(cmd.args(["devices", "--refresh"]).output().unwrap())
    };
    run(true).expect_code(0);
    let out = run(false);
    out.expect_code(3);
    assert!(
        out.stderr.contains(&format!("profile '{winner}'")),
        "the refusal must name profile {winner}: {}",
        out.stderr
    );
}

#[test]
fn json_errors_are_envelopes_on_stdout() {
    let env = env();
    let out = env.run(&["--profile", "missing", "devices", "--json"]);
    out.expect_code(3);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "no_credentials");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing.json"));
}

#[test]
fn token_is_reused_then_renewed_once_after_expiry() {
    let env = env();
    env.run(&["devices", "--refresh"]).expect_code(0);
    env.run(&["devices", "--refresh"]).expect_code(0);
    assert_eq!(
        env.count_exact("POST", "/v1/auth"),
        1,
        "the second command reuses the cached token: {:?}",
        env.calls()
    );
    env.emulator().expire_tokens();
    env.emulator().clear_request_log();
    env.run(&["devices", "--refresh"]).expect_code(0);
    assert_eq!(
        env.count_exact("POST", "/v1/auth"),
        1,
        "an expired token means exactly one re-authentication: {:?}",
        env.calls()
    );
    // The requests that met the expired token were refused (the list and the mapping listing
    // run concurrently, so one or two of them), yet one sign-in served them all.
    let refused = env.request_log().iter().filter(|r| r.status == 401).count();
    assert!((1..=2).contains(&refused), "{:?}", env.request_log());
    // And the renewed token is cached again.
    env.emulator().clear_request_log();
    env.run(&["devices", "--refresh"]).expect_code(0);
    assert_eq!(env.count_exact("POST", "/v1/auth"), 0, "{:?}", env.calls());
}

#[test]
fn verbose_output_shows_requests_but_never_secrets() {
    let env = env();
    let out = env.run(&["-vvv", "devices", "--refresh"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("/v1/sims") && out.stderr.contains("/v1/auth"),
        "{}",
        out.stderr
    );
    let tokens = env.path().join("cache/napsh/tokens");
    let cache = std::fs::read_dir(&tokens)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let session: Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    let api_key = session["apiKey"].as_str().unwrap();
    let token = session["token"].as_str().unwrap();
    for secret in [AUTH_KEY, api_key, token] {
        assert!(
            !out.stderr.contains(secret),
            "{secret} leaked:\n{}",
            out.stderr
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Config and arguments

#[test]
fn unknown_config_key_is_named() {
    let env = env();
    env.write_config("colour = true\n").unwrap();
    let out = env.run(&["devices"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("colour") && out.stderr.contains("config.toml"),
        "{}",
        out.stderr
    );
}

#[test]
fn duration_in_minutes_is_refused_before_any_create() {
    let env = env();
    let out = env.run(&["connect", "kiosk-12", "--duration", "86400"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("seconds, not minutes"),
        "{}",
        out.stderr
    );
    assert_eq!(creates(&env), 0);
}

#[test]
fn unknown_device_suggests_names() {
    let env = env();
    let out = env.run(&["connect", "kiosk12"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("did you mean:") && out.stderr.contains("kiosk-12"),
        "{}",
        out.stderr
    );
    assert_eq!(creates(&env), 0);
}

// ---------------------------------------------------------------------------------------------
// The device list

#[test]
fn pagination_follows_every_page() {
    let env = env();
    let out = env.run(&["devices", "--json", "--refresh"]);
    out.expect_code(0);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let mut names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    names.sort();
    let mut want = vec![
        "kiosk-12",
        "kiosk-13",
        "kiosk-off",
        EVIL,
        "sensor-01",
        "sensor-02",
        "sensor-03",
        "sensor-04",
    ];
    want.sort();
    assert_eq!(names, want);
    // 8 SIMs at 3 per page: 3 pages, each after the first asking for the next key.
    let pages: Vec<_> = env
        .request_log()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/v1/sims")
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(!pages[0].query.contains("last_evaluated_key"), "{pages:?}");
    assert!(
        pages[1..]
            .iter()
            .all(|p| p.query.contains("last_evaluated_key=")),
        "{pages:?}"
    );
    for entry in &list {
        for field in [
            "simId",
            "imsi",
            "name",
            "online",
            "tags",
            "speedClass",
            "lastSeen",
        ] {
            assert!(entry.get(field).is_some(), "{field} missing in {entry}");
        }
    }
}

#[test]
fn devices_are_listed_cached_and_filtered() {
    let env = env();
    let out = env.run(&["devices", "--json"]);
    out.expect_code(0);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.len(), 8);
    let online: Vec<bool> = list
        .iter()
        .map(|d| d["online"].as_bool().unwrap())
        .collect();
    assert!(
        online.windows(2).all(|w| w[0] >= w[1]),
        "online devices first: {online:?}"
    );
    let kiosk = list.iter().find(|d| d["name"] == "kiosk-12").unwrap();
    assert_eq!(kiosk["simId"], env.sim_id("kiosk-12").as_str());
    assert_eq!(kiosk["tags"]["site"], "osaka");
    let pages = env.count_exact("GET", "/v1/sims");
    // Second call: from the cache, identical output, no API call for the list.
    let again = env.run(&["devices", "--json"]);
    assert_eq!(again.stdout, out.stdout);
    assert_eq!(
        env.count_exact("GET", "/v1/sims"),
        pages,
        "{:?}",
        env.calls()
    );
    // Filter and --online; --refresh asks the API.
    let out = env.run(&["devices", "--json", "--online", "--refresh", "KIOSK-1"]);
    out.expect_code(0);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["kiosk-12", "kiosk-13"]);
    assert_eq!(env.count_exact("GET", "/v1/sims"), 2 * pages);
}

#[test]
fn hostile_name_prints_no_control_characters() {
    let env = env();
    let sim = env.sim_id(EVIL);
    let mut outputs = vec![
        ("devices", env.run(&["devices", "--refresh"])),
        ("devices (cached)", env.run(&["devices"])),
        ("devices FILTER", env.run(&["devices", "evil"])),
        ("guide", env.run(&["guide", &sim])),
        ("connect", env.run(&["connect", &sim])),
    ];
    outputs.push(("mappings", env.run(&["mappings"])));
    outputs.push(("guide (mapping)", env.run(&["guide", &sim])));
    outputs.push(("mappings close", env.run(&["mappings", "close", &sim])));
    for (what, out) in &outputs {
        out.expect_code(0);
        assert_terminal_safe(&format!("napsh {what}: stdout"), out.stdout.as_bytes());
        assert_terminal_safe(&format!("napsh {what}: stderr"), out.stderr.as_bytes());
    }
    // Shown inert but recognisable.
    assert!(
        outputs[0].1.stdout.contains("evil-\\e[31mred"),
        "{}",
        outputs[0].1.stdout
    );
    assert!(
        outputs[3].1.stdout.contains("evil-\\e[31mred"),
        "{}",
        outputs[3].1.stdout
    );
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

// ---------------------------------------------------------------------------------------------
// connect and mappings

#[test]
fn connect_creates_then_reuses() {
    let env = env();
    let sim = env.sim_id("kiosk-12");
    let out = env.run(&["connect", "--json", "kiosk-12"]);
    out.expect_code(0);
    let r = &out.json_lines()[0];
    assert_eq!(r["endpoint"]["reused"], false, "{r}");
    let maps = env.mappings();
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].source.as_ref().unwrap().ip_ranges, ["127.0.0.1/32"]);
    assert_eq!(maps[0].tls_required, Some(false));
    let out = env.run(&["connect", "--json", &sim]);
    out.expect_code(0);
    assert_eq!(out.json_lines()[0]["endpoint"]["reused"], true);
    assert_eq!(env.mappings().len(), 1);
    assert_eq!(creates(&env), 1, "{:?}", env.calls());
    // `mappings` shows it as napsh's; `close` deletes it.
    let out = env.run(&["mappings", "--json"]);
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["napsh"], "reserved");
    assert_eq!(rows[0]["name"], "kiosk-12");
    env.run(&["mappings", "close", "kiosk-12"]).expect_code(0);
    assert!(env.mappings().is_empty());
}

// ---------------------------------------------------------------------------------------------
// ssh

/// `napsh ssh DEV -- CMD`: remote stdout on stdout, stdin passed through, the remote exit code.
#[rstest]
#[case::output(&["echo", "hello-from-device"], None, "hello-from-device\n", 0)]
#[case::stdin_passthrough(&["cat"], Some("hello\n"), "hello\n", 0)]
#[case::stdin_word_count(&["wc", "-l"], Some("a\nb\nc\n"), "3\n", 0)]
#[case::exit_code(&["sh", "-c", "'exit 7'"], None, "", 7)]
#[case::output_then_exit_code(&["echo out; exit 3"], None, "out\n", 3)]
fn ssh_command_output_stdin_and_exit_code(
    #[case] command: &[&str],
    #[case] stdin: Option<&str>,
    #[case] stdout: &str,
    #[case] code: i32,
) {
    let env = env();
    let mut cmd = env.napsh();
    cmd.args(["ssh", "kiosk-12", "--"])
        .args(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        // Dropping it closes stdin: the remote `cat` sees EOF.
    }
    let out = Output::from(child.wait_with_output().unwrap());
    out.expect_code(code);
    assert_eq!(out.stdout.trim_start(), stdout, "stderr: {}", out.stderr);
    assert!(
        env.mappings().is_empty(),
        "the session's mapping is deleted"
    );
}

#[test]
fn host_key_is_pinned_then_a_changed_key_is_refused_until_reset() {
    let env = env();
    let sim = env.sim_id("kiosk-12");
    let known_hosts = env.path().join("data/napsh/known_hosts");
    let host_key = |env: &TestEnv| {
        let d = env.emulator().devices();
        let key = d.iter().find(|d| d.sim_id == sim).unwrap().host_key.clone();
        let key = key.expect("spawned device has a host key");
        key.split_whitespace().nth(1).unwrap().to_string()
    };

    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    let pinned = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        pinned.starts_with(&format!("{sim} ")),
        "pinned under the SIM id: {pinned}"
    );
    assert!(pinned.contains(&host_key(&env)), "{pinned}");
    assert!(
        !pinned.contains("127.0.0.1") && !pinned.contains("localhost"),
        "never under the shared Napter address: {pinned}"
    );

    let old = host_key(&env);
    env.block_on(env.emulator().rotate_host_key(&sim)).unwrap();
    assert_ne!(host_key(&env), old);
    let out = env.run(&["ssh", "kiosk-12", "--", "true"]);
    out.expect_code(6);
    assert!(out.stderr.contains("kiosk-12"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("napsh known-hosts reset {sim}")),
        "{}",
        out.stderr
    );
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());

    env.run(&["known-hosts", "reset", "kiosk-12"])
        .expect_code(0);
    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    let pinned = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(pinned.contains(&host_key(&env)), "{pinned}");
    assert!(!pinned.contains(&old), "{pinned}");
    assert!(env.mappings().is_empty());
}

#[test]
fn mapping_is_deleted_after_the_session() {
    let env = env();
    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    assert_eq!(creates(&env), 1);
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
    assert_eq!(
        env.count_requests("DELETE", "/v1/port_mappings/"),
        1,
        "{:?}",
        env.calls()
    );
    let audit: Vec<String> = env
        .emulator()
        .audit_log()
        .into_iter()
        .map(|e| e.entry_type)
        .collect();
    assert!(audit.contains(&"DELETED".to_string()), "{audit:?}");
}

#[test]
fn ssh_keep_leaves_the_mapping() {
    let env = env();
    env.run(&["ssh", "--keep", "kiosk-12", "--", "true"])
        .expect_code(0);
    assert_eq!(env.mappings().len(), 1);
    env.run(&["mappings", "close", "--all"]).expect_code(0);
    assert!(env.mappings().is_empty());
}

#[test]
fn a_live_mapping_is_reused() {
    let env = env();
    env.run(&["connect", "--keep", "kiosk-12"]).expect_code(0);
    let before = env.mappings();
    assert_eq!(before.len(), 1);
    assert_eq!(creates(&env), 1);
    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    assert_eq!(
        creates(&env),
        1,
        "no new POST /v1/port_mappings…: {:?}",
        env.calls()
    );
    let after = env.mappings();
    assert_eq!(after.len(), 1, "a kept mapping outlives the session");
    assert_eq!(
        (after[0].ip_address.as_str(), after[0].port),
        (before[0].ip_address.as_str(), before[0].port)
    );
    env.run(&["mappings", "close", "--all"]).expect_code(0);
    assert!(env.mappings().is_empty());
}

#[test]
fn kill_9_mid_session_then_any_command_reaps_the_orphan() {
    let env = env();
    let mut child = env.spawn_session("kiosk-12");
    let pgid = child.id() as i32;
    // SIGKILL napsh and its ssh child: no cleanup code can run.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
    child.wait().unwrap();
    assert!(
        env.wait_until(10, || unsafe { libc::kill(-pgid, 0) } != 0),
        "the session's process group is still alive"
    );
    assert_eq!(env.mappings().len(), 1, "the crash left the mapping");
    env.run(&["devices", "--json"]).expect_code(0);
    assert!(
        env.mappings().is_empty(),
        "any napsh command reaps the orphan: {:?}",
        env.mappings()
    );
}

#[test]
fn sigterm_ends_the_session_and_deletes_the_mapping() {
    let env = env();
    let mut child = env.spawn_session("kiosk-12");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

#[test]
fn doctor_walks_every_step() {
    let env = env();
    let out = env.run(&["doctor", "kiosk-12"]);
    out.expect_code(0);
    for step in [
        "✓ profile",
        "✓ authentication",
        "✓ device",
        "✓ mapping",
        "✓ TCP reach",
        "✓ SSH banner: SSH-2.0-",
        "✓ host key",
        "✓ login",
    ] {
        assert!(out.stdout.contains(step), "{step} missing:\n{}", out.stdout);
    }
    assert!(env.mappings().is_empty(), "the check's mapping is deleted");
    let out = env.run(&["doctor", "kiosk-off"]);
    out.expect_code(4);
    assert!(out.stdout.contains("✗ device"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------------
// API call counts

/// A one-device fleet, so the counts do not depend on list pagination.
const SMALL_FLEET: &str = r#"
[[devices]]
name = "kiosk-12"
online = true
ssh = "spawn"
"#;

fn measured(env: &TestEnv, state: &str) -> Vec<String> {
    env.emulator().clear_request_log();
    env.run(&["ssh", "kiosk-12", "--", "true"]).expect_code(0);
    let sim = env.sim_id("kiosk-12");
    let calls: Vec<String> = env
        .calls()
        .into_iter()
        .map(|c| {
            if c.starts_with("DELETE /v1/port_mappings/") {
                "DELETE /v1/port_mappings/{ip}/{port}".to_string()
            } else {
                c.replace(&sim, "{sim}")
            }
        })
        .collect();
    eprintln!(
        "napsh ssh DEV -- true, {state}: {} /v1 calls\n  {}",
        calls.len(),
        calls.join("\n  ")
    );
    calls
}

/// How many API calls `napsh ssh DEV -- true` costs, read from the emulator's request log.
/// Before the session: 2 / 1 / 1 for a cold token / a cached token / a live mapping (with the
/// device list cached; the live one needs the SIM's own list as evidence that it still leads
/// there). After it, the release: the SIM's list (evidence that the mapping is still this
/// device's) and the DELETE.
#[test]
fn api_calls_of_one_ssh_command() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), SMALL_FLEET);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    const CREATE: &str = "POST /v1/port_mappings/sims/{sim}";
    const DELETE: &str = "DELETE /v1/port_mappings/{ip}/{port}";
    const EVIDENCE: &str = "GET /v1/port_mappings/sims/{sim}";

    let nothing_cached = measured(&env, "nothing cached (no token, no device list)");
    assert_eq!(
        sorted(nothing_cached),
        [
            DELETE,
            "GET /v1/port_mappings",
            EVIDENCE,
            "GET /v1/sims",
            "POST /v1/auth",
            CREATE
        ]
    );

    env.run(&["devices"]).expect_code(0);
    std::fs::remove_dir_all(env.path().join("cache/napsh/tokens"))
        .expect("dropping the token cache");
    let cold_token = measured(&env, "cold token, device list cached");
    assert_eq!(
        sorted(cold_token),
        [DELETE, EVIDENCE, "POST /v1/auth", CREATE]
    );

    env.run(&["devices"]).expect_code(0);
    let cached_token = measured(&env, "cached token, device list cached");
    assert_eq!(sorted(cached_token), [DELETE, EVIDENCE, CREATE]);

    env.run(&["connect", "kiosk-12"]).expect_code(0);
    let live = measured(&env, "live mapping (napsh connect before)");
    assert_eq!(
        live,
        [EVIDENCE, EVIDENCE, DELETE],
        "the reserved mapping is checked, used, checked again and deleted"
    );

    env.run(&["connect", "--keep", "kiosk-12"]).expect_code(0);
    let kept = measured(&env, "kept mapping (napsh connect --keep before)");
    assert_eq!(
        kept,
        [EVIDENCE],
        "a kept mapping is checked and used, never deleted"
    );
    env.run(&["mappings", "close", "--all"]).expect_code(0);
}
