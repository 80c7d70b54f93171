//! The napsh binary against a Soracom API stub and a real sshd: help texts, profile and config
//! errors, the device list and its cache, connect, ssh with host-key pinning and cleanup,
//! reaping after a crash, and the askpass round trip.

mod common;

use assert_cmd::prelude::*;
use common::{sim_json, World};
use predicates::prelude::*;
use rstest::rstest;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

const SIM: &str = "8981000000000000001";
const OFF: &str = "8981000000000000002";

fn world() -> World {
    World::new(vec![
        sim_json(SIM, "kiosk-12", true),
        sim_json(OFF, "kiosk-off", false),
        sim_json("8981000000000000003", "evil-\u{1b}[31mred", true),
    ])
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
fn loose_profile_is_refused_with_chmod_hint() {
    let w = world();
    let path = w.path("soracom/test.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    w.napsh()
        .args(["devices"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "chmod 600 {}",
            path.display()
        )));
}

#[test]
fn json_errors_are_envelopes_on_stdout() {
    let w = world();
    let out = w
        .napsh()
        .args(["--profile", "missing", "devices", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "no_credentials");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing.json"));
}

#[test]
fn unknown_config_key_is_named() {
    let w = world();
    w.write_config("colour = true\n");
    w.napsh()
        .args(["devices"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("colour").and(predicate::str::contains("config.toml")));
}

#[test]
fn duration_in_minutes_is_refused_before_any_create() {
    let w = world();
    w.napsh()
        .args(["connect", "kiosk-12", "--duration", "86400"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("seconds, not minutes"));
    assert!(!w
        .log()
        .iter()
        .any(|l| l.starts_with("POST /v1/port_mappings")));
}

#[test]
fn devices_are_listed_cached_and_sanitised() {
    let w = world();
    let out = w.napsh().args(["devices", "--json"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[2]["simId"], OFF, "offline last");
    let sims_calls = |w: &World| w.log().iter().filter(|l| *l == "GET /v1/sims").count();
    assert_eq!(sims_calls(&w), 1, "{:?}", w.log());
    // Second call: from the cache, identical output.
    let again = w.napsh().args(["devices", "--json"]).output().unwrap();
    assert_eq!(again.stdout, out.stdout);
    assert_eq!(sims_calls(&w), 1);
    // The table never carries a control character.
    let table = w.napsh().args(["devices"]).output().unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}') && text.contains("evil-\\e[31mred"),
        "{text}"
    );
    // Filter and --online; --refresh asks the API.
    let out = w
        .napsh()
        .args(["devices", "--json", "--online", "--refresh", "KIOSK-1"])
        .output()
        .unwrap();
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(sims_calls(&w), 2);
}

#[test]
fn unknown_device_suggests_names() {
    let w = world();
    w.napsh()
        .args(["connect", "kiosk12"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean: kiosk-12"));
}

#[test]
fn offline_device_fails_without_a_create_and_gets_the_guide() {
    let w = world();
    let out = w
        .napsh()
        .args(["connect", "--json", "kiosk-off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["kind"], "offline");
    assert!(r["guide"]
        .as_str()
        .unwrap()
        .contains("On-demand remote access"));
    assert!(!w
        .log()
        .iter()
        .any(|l| l.starts_with("POST /v1/port_mappings")));
    // `guide --json` remembers why.
    let out = w
        .napsh()
        .args(["guide", "--json", "kiosk-off"])
        .output()
        .unwrap();
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(g["reason"].as_str().unwrap().contains("offline"), "{g}");
}

#[test]
fn connect_creates_then_reuses() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    let out = w
        .napsh()
        .args(["connect", "--json", "kiosk-12"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["endpoint"]["reused"], false);
    assert_eq!(w.mappings()[0]["source"]["ipRanges"][0], "127.0.0.1/32");
    let out = w.napsh().args(["connect", "--json", SIM]).output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["endpoint"]["reused"], true);
    assert_eq!(w.mappings().len(), 1);
    // mappings shows it as napsh's, close deletes it.
    let out = w.napsh().args(["mappings", "--json"]).output().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["napsh"], "reserved");
    assert_eq!(rows[0]["name"], "kiosk-12");
    w.napsh()
        .args(["mappings", "close", "kiosk-12"])
        .assert()
        .success();
    assert!(w.mappings().is_empty());
}

#[test]
fn ssh_pins_the_host_key_runs_the_command_and_cleans_up() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    let out = w
        .napsh()
        .args(["ssh", "kiosk-12", "--", "echo", "hello;", "exit", "7"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hello");
    assert!(w.mappings().is_empty(), "the session's mapping is deleted");
    let known_hosts = std::fs::read_to_string(w.path("data/napsh/known_hosts")).unwrap();
    assert!(
        known_hosts.starts_with(SIM),
        "pinned under the SIM id: {known_hosts}"
    );

    // The same device with another host key: napsh refuses and says how to reset.
    w.stop_sshds();
    w.start_sshd(SIM, "b");
    let out = w
        .napsh()
        .args(["ssh", "kiosk-12", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("napsh known-hosts reset {SIM}")),
        "{stderr}"
    );
    assert!(w.mappings().is_empty());
    w.napsh()
        .args(["known-hosts", "reset", "kiosk-12"])
        .assert()
        .success();
    w.napsh()
        .args(["ssh", "root@kiosk-12", "--", "true"])
        .assert()
        .success();
}

#[test]
fn ssh_keep_leaves_the_mapping() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    w.napsh()
        .args(["ssh", "--keep", "kiosk-12", "--", "true"])
        .assert()
        .success();
    assert_eq!(w.mappings().len(), 1);
    w.napsh()
        .args(["mappings", "close", "--all"])
        .assert()
        .success();
    assert!(w.mappings().is_empty());
}

#[test]
fn mappings_of_crashed_sessions_are_reaped() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    let mut child = w
        .napsh()
        .args(["ssh", "kiosk-12", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if !w.mappings().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(w.mappings().len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL: no cleanup possible
    child.wait().unwrap();
    assert_eq!(w.mappings().len(), 1);
    w.napsh().args(["devices", "--json"]).assert().success();
    assert!(w.mappings().is_empty(), "any command reaps it");
}

#[test]
fn sigterm_ends_the_session_and_deletes_the_mapping() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    let mut child = w
        .napsh()
        .args(["ssh", "kiosk-12", "--", "sleep", "30"])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if !w.mappings().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(w.mappings().is_empty());
}

#[test]
fn doctor_walks_every_step() {
    let mut w = world();
    w.start_sshd(SIM, "a");
    let out = w.napsh().args(["doctor", "kiosk-12"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
        assert!(text.contains(step), "{step} missing:\n{text}");
    }
    assert!(w.mappings().is_empty(), "the check's mapping is deleted");
    let out = w.napsh().args(["doctor", "kiosk-off"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("✗ device"));
}

#[test]
fn askpass_mode_fetches_the_password_from_the_socket() {
    use std::io::{BufRead, Write};
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

#[test]
fn verbose_output_shows_requests_but_never_secrets() {
    let w = world();
    let out = w
        .napsh()
        .args(["-vvv", "devices", "--refresh"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/v1/sims") && stderr.contains("/v1/auth"),
        "{stderr}"
    );
    for secret in ["secret-test", "APIKEY-SECRET-1", "TOKEN-SECRET-2"] {
        assert!(!stderr.contains(secret), "{secret} leaked:\n{stderr}");
    }
    let cache = std::fs::read_dir(w.path("cache/napsh/tokens"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}
