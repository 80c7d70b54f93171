//! napsh against a drifting API (the emulator's drift mode, issue 11 #7): every answer stays
//! within the spec but carries unknown fields, `number`s as floats (`22.0`), informational
//! fields missing or of another shape (`sessionStatus.placement` an object) and audit ports
//! beyond u16. `devices`, `connect`, `mappings`, `ssh` and `audit` work as without drift, and
//! no mapping is left behind.

use napsh_e2e::{TestEnv, ONE_SSH_DEVICE};
use serde_json::Value;

/// Devices besides kiosk-12 (the harness's one sshd device): four in all, two pages at the
/// harness's `page_size = 3`.
const MORE_DEVICES: &str = r#"
[[devices]]
name = "kiosk-13"
online = true
speed_class = "s1.fast"
tags = { role = "kiosk", site = "osaka" }

[[devices]]
name = "kiosk-off"

[[devices]]
name = "sensor-01"
online = true
"#;

/// An env whose emulator drifts from the start.
fn drifting() -> TestEnv {
    let fleet = format!("{ONE_SSH_DEVICE}{MORE_DEVICES}");
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    env.set_drift(true);
    env
}

#[test]
fn devices_are_listed_under_drift() {
    let env = drifting();
    let out = env.run(&["devices", "--json", "--refresh"]);
    out.expect_code(0);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let mut names: Vec<&str> = list.iter().map(|d| d["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["kiosk-12", "kiosk-13", "kiosk-off", "sensor-01"]);
    let kiosk = list.iter().find(|d| d["name"] == "kiosk-12").unwrap();
    assert_eq!(kiosk["simId"], env.sim_id("kiosk-12").as_str());
    assert_eq!(kiosk["online"], true);
    assert!(kiosk["imsi"].is_string(), "{kiosk}");
    let fast = list.iter().find(|d| d["name"] == "kiosk-13").unwrap();
    assert_eq!(fast["tags"]["site"], "osaka");
    assert!(fast["speedClass"].is_null(), "omitted by drift: {fast}");
    let table = env.run(&["devices", "--refresh"]);
    table.expect_code(0);
    assert!(table.stdout.contains("kiosk-off"), "{}", table.stdout);
}

#[test]
fn connect_reuses_and_mappings_closes_under_drift() {
    let env = drifting();
    let out = env.run(&["connect", "--json", "kiosk-12"]);
    out.expect_code(0);
    let first = &out.json_lines()[0];
    assert_eq!(first["endpoint"]["reused"], false, "{first}");
    let port = first["endpoint"]["port"].as_u64().unwrap();
    assert!(port > 0, "{first}");
    let again = env.run(&["connect", "--json", "kiosk-12"]);
    again.expect_code(0);
    let second = &again.json_lines()[0];
    assert_eq!(second["endpoint"]["reused"], true, "{second}");
    assert_eq!(second["endpoint"]["port"].as_u64(), Some(port));
    assert_eq!(env.mappings().len(), 1);

    let out = env.run(&["mappings", "--json"]);
    out.expect_code(0);
    let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert_eq!(rows[0]["name"], "kiosk-12");
    assert_eq!(rows[0]["napsh"], "reserved");
    env.run(&["mappings"]).expect_code(0);
    env.run(&["mappings", "close", "kiosk-12"]).expect_code(0);
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

#[test]
fn ssh_and_audit_work_under_drift() {
    let env = drifting();
    let out = env.run(&["ssh", "kiosk-12", "--", "echo", "hello-through-drift"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "hello-through-drift\n", "{}", out.stderr);
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());

    let out = env.run(&["audit", "kiosk-12", "--json"]);
    out.expect_code(0);
    let entries: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"CREATED"), "{}", out.stdout);
    assert!(kinds.contains(&"CONNECTED"), "{}", out.stdout);
    assert_eq!(kinds.last(), Some(&"DELETED"), "{}", out.stdout);
    let connected = entries.iter().find(|e| e["type"] == "CONNECTED").unwrap();
    let direction = &connected["direction"];
    assert!(
        direction["sourcePort"].is_null(),
        "an int64 port beyond u16 is unknown: {connected}"
    );
    assert!(
        direction["destinationPort"].as_u64().unwrap() > 0,
        "{connected}"
    );

    let table = env.run(&["audit", "kiosk-12"]);
    table.expect_code(0);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.contains("CONNECTED") && l.contains("127.0.0.1")),
        "{}",
        table.stdout
    );
}
