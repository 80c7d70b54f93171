//! SIM ids and IMSIs are validated once, where the API's answers come in: a SIM whose id is
//! not letters and digits (`*`, an address, a `.local` name) is skipped with a warning, and
//! the rest of the fleet lists, connects, and gets inventory and ssh_config entries; no such id
//! ever reaches known_hosts, a `Host` line or a command line.

use napsh_e2e::TestEnv;

const ODD_IDS: &str = r#"
[[devices]]
name = "good"
online = true
ssh = "spawn"

[[devices]]
name = "star"
sim_id = "*"
online = true
ssh = "spawn"

[[devices]]
name = "lan-lookalike"
sim_id = "192.168.1.20"
online = true

[[devices]]
name = "mdns-lookalike"
sim_id = "pi.local"
online = true
"#;

#[test]
fn an_invalid_sim_id_is_skipped_and_the_rest_of_the_fleet_works() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ODD_IDS);
    let out = env.run(&["devices", "--json", "--refresh"]);
    out.expect_code(0);
    let listed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["simId"].as_str())
        .collect();
    assert_eq!(ids, [env.sim_id("good").as_str()], "{}", out.stdout);
    assert!(
        out.stderr.contains("simId"),
        "a warning names the field: {}",
        out.stderr
    );

    env.run(&["inventory", "--list"]).expect_code(0);
    let config = env.run(&["ssh-config"]);
    config.expect_code(0);
    for bad in ["*.napsh", "192.168.1.20", "pi.local"] {
        let hosts = config
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("Host ") && l.trim() != "Host *.napsh");
        assert!(
            hosts
                .clone()
                .all(|l| !l.split_whitespace().any(|w| w == bad)),
            "{bad} in:\n{}",
            config.stdout
        );
    }
    env.run(&["ssh", "good", "--", "true"]).expect_code(0);
    let known = std::fs::read_to_string(env.path().join("data/napsh/known_hosts")).unwrap();
    assert!(known.lines().all(|l| !l.starts_with('*')), "{known}");
    assert_eq!(env.pinned(&env.sim_id("good")).len(), 1);
}

/// A device name is resolved only from a fresh device list: a cached list older than a minute
/// may name a SIM that has since been renamed, or whose name another device took.
#[test]
fn a_name_is_never_resolved_from_a_stale_list() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::TWO_DEVICES);
    env.run(&["devices"]).expect_code(0);
    let cache = std::fs::read_dir(env.path().join("cache/napsh"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("devices-")
        })
        .expect("the device cache");
    let mut list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    // Ten minutes ago, dev-b was called "victim" (since renamed).
    list["fetchedAtMs"] = serde_json::json!(list["fetchedAtMs"].as_i64().unwrap() - 600_000);
    for e in list["entries"].as_array_mut().unwrap() {
        if e["name"] == "dev-b" {
            e["name"] = serde_json::json!("victim");
        }
    }
    napsh_e2e::write_private(&cache, &list.to_string()).unwrap();
    let out = env.run(&["ssh", "victim", "--", "true"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no device named"), "{}", out.stderr);
    // A SIM id is the SIM's identity: a stale list still resolves it.
    env.run(&["ssh", &env.sim_id("dev-b"), "--", "true"])
        .expect_code(0);
}
