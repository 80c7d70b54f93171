//! napsh under hostile conditions, end to end (emulator + real sshd + the system ssh):
//! secrets never reach a command line, an environment, a log or a file outside the token
//! cache; loose cache files are not trusted; 50 concurrent `napsh connect` make one mapping per
//! device; a Napter endpoint that later serves another device inherits no trust (and napsh
//! never deletes that other device's mapping); hostile, 10,000-character and invalid-UTF-8
//! names reach neither the terminal nor the picker raw; closing the Zellij pane that runs a
//! session, `kill -9` of the napsh in it, or of Zellij itself, leaves no mapping.

use napsh_core::picker::Picker;
use napsh_core::plugin_config::PluginConfig;
use napsh_e2e::secrets::{files_under, hits, process_tree};
use napsh_e2e::{
    fault_rule, terminal_unsafe, write_private, Fault, Output, TestEnv, AUTH_KEY, AUTH_KEY_ID,
    TWO_DEVICES,
};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use napsh_e2e::ONE_SSH_DEVICE as ONE_DEVICE;

/// The device password handed to ssh through SSH_ASKPASS.
const PASSWORD: &str = "pw-do-not-leak-7c1e";

/// `(api_key, token)` from napsh's token cache.
fn cached_session(env: &TestEnv) -> (String, String) {
    let dir = env.path().join("cache/napsh/tokens");
    let file = std::fs::read_dir(&dir)
        .expect("the token cache exists")
        .next()
        .expect("one cached token")
        .unwrap()
        .path();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    (
        v["apiKey"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    )
}

#[test]
fn secrets_never_reach_argv_environment_logs_files_or_the_plugin() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_DEVICE);
    let password_file = env.path().join("device-password");
    write_private(&password_file, PASSWORD).unwrap();
    env.write_config(&format!(
        "[[rules]]\nmatch_name = \"kiosk-*\"\npassword_command = \"cat {}\"\n",
        password_file.display()
    ))
    .unwrap();
    let sim = env.sim_id("kiosk-12");
    let log = env.path().join("napsh-vv.log");
    let mut child = env
        .napsh()
        .args(["-vv", "ssh", &sim, "--", "sleep", "20"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    assert!(env.wait_connected(), "the session never connected");
    let (api_key, token) = cached_session(&env);
    let secrets = [
        ("the auth key", AUTH_KEY),
        ("the device password", PASSWORD),
        ("the API key", api_key.as_str()),
        ("the API token", token.as_str()),
    ];

    // While the session runs: napsh, ssh and everything below them.
    let tree = process_tree(child.id());
    assert!(tree.len() >= 2, "napsh and its ssh: {tree:?}");
    let askpass_armed = tree.iter().any(|pid| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|e| String::from_utf8_lossy(&e).contains("SSH_ASKPASS="))
    });
    assert!(
        askpass_armed,
        "the password rule must hand ssh an askpass, not the password"
    );
    let mut found = Vec::new();
    for pid in &tree {
        for part in ["cmdline", "environ"] {
            if let Ok(bytes) = std::fs::read(format!("/proc/{pid}/{part}")) {
                found.extend(hits(&format!("/proc/{pid}/{part}"), &bytes, &secrets));
            }
        }
    }
    // The plugin's side: what it runs and what it reads from napsh.
    let plugin = PluginConfig::from_map(&BTreeMap::from([
        ("helper".to_string(), env.napsh_bin().display().to_string()),
        ("profile".to_string(), napsh_e2e::PROFILE.to_string()),
        ("user".to_string(), env.user.clone()),
    ]))
    .unwrap();
    for argv in [
        plugin.cached_devices_argv(),
        plugin.refresh_devices_argv(),
        plugin.connect_argv(&sim),
        plugin.ssh_argv(&sim),
        plugin.guide_argv(&sim),
    ] {
        found.extend(hits(
            "the plugin's argv",
            argv.join(" ").as_bytes(),
            &secrets,
        ));
        let out = env.napsh().args(&argv[1..]).output().unwrap();
        if argv.iter().any(|a| a == "ssh") {
            continue; // an interactive session: not run here
        }
        found.extend(hits(&format!("output of {argv:?}"), &out.stdout, &secrets));
        found.extend(hits(&format!("stderr of {argv:?}"), &out.stderr, &secrets));
    }
    let out = env.run(&["-vvv", "devices", "--refresh"]);
    found.extend(hits("-vvv devices", out.stderr.as_bytes(), &secrets));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    found.extend(hits(
        "the -vv log of the session",
        &std::fs::read(&log).unwrap(),
        &secrets,
    ));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("/v1/port_mappings"),
        "the -vv log shows the requests"
    );

    // Files: every file in napsh's cache, state and data dirs; only the token cache may hold
    // the API key and token, and it is 0600.
    for dir in ["cache", "state", "data", "config"] {
        for file in files_under(&env.path().join(dir)) {
            let bytes = std::fs::read(&file).unwrap();
            let is_token_cache = file.parent().is_some_and(|p| p.ends_with("napsh/tokens"));
            let name = file.display().to_string();
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            if is_token_cache {
                assert_eq!(mode, 0o600, "{name}");
                found.extend(hits(&name, &bytes, &secrets[..2]));
            } else {
                found.extend(hits(&name, &bytes, &secrets));
            }
        }
    }
    assert!(found.is_empty(), "secrets leaked: {found:#?}");
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

/// A token cache or device cache readable by others is ignored with a warning (napsh signs in
/// again / fetches again), then rewritten 0600.
#[test]
fn loose_cache_files_are_not_trusted() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_DEVICE);
    env.run(&["devices"]).expect_code(0);
    let cache = env.path().join("cache/napsh");
    let loose: Vec<PathBuf> = files_under(&cache);
    assert!(loose.len() >= 2, "token and device caches: {loose:?}");
    for f in &loose {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    env.emulator().clear_request_log();
    let out = env.run(&["devices"]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("ignoring") && out.stderr.contains("chmod 600"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_exact("POST", "/v1/auth"), 1, "{:?}", env.calls());
    assert!(env.count_exact("GET", "/v1/sims") >= 1, "{:?}", env.calls());
    for f in files_under(&cache) {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} rewritten private", f.display());
    }
}

/// Ten online devices (nothing needs to answer SSH for `connect`).
fn ten_devices() -> String {
    (0..10)
        .map(|i| format!("[[devices]]\nname = \"dev-{i:02}\"\nonline = true\n\n"))
        .collect()
}

/// 50 `napsh connect` at once, five per device, half through the picker's argv: every one
/// succeeds, and each device ends with exactly one mapping.
#[test]
fn fifty_concurrent_connects_make_one_mapping_per_device() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &ten_devices());
    env.run(&["devices"]).expect_code(0);
    let sims: Vec<String> = (0..10)
        .map(|i| env.sim_id(&format!("dev-{i:02}")))
        .collect();
    let plugin = PluginConfig::from_map(&BTreeMap::from([(
        "helper".to_string(),
        env.napsh_bin().display().to_string(),
    )]))
    .unwrap();
    let children: Vec<_> = (0..50)
        .map(|i| {
            let sim = &sims[i % 10];
            let args = if i % 2 == 0 {
                plugin.connect_argv(sim)[1..].to_vec()
            } else {
                vec!["connect".to_string(), "--json".to_string(), sim.clone()]
            };
            env.napsh()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| Output::from(c.wait_with_output().unwrap()))
        .collect();
    for out in &outputs {
        out.expect_code(0);
        assert_eq!(out.json_lines()[0]["ok"], true, "{}", out.stdout);
    }
    let mappings = env.mappings();
    let targets: Vec<String> = mappings
        .iter()
        .map(|m| m.target_sim_id().unwrap().to_string())
        .collect();
    let distinct: BTreeSet<&String> = targets.iter().collect();
    assert_eq!(targets.len(), 10, "one mapping per device: {targets:?}");
    assert_eq!(distinct.len(), 10, "{targets:?}");
    assert_eq!(
        env.count_requests("POST", "/v1/port_mappings"),
        10,
        "{:?}",
        env.calls()
    );
    // Every process reported an endpoint that exists.
    for out in &outputs {
        let port = out.json_lines()[0]["endpoint"]["port"].as_u64().unwrap();
        assert!(
            mappings.iter().any(|m| m.port as u64 == port),
            "{}",
            out.stdout
        );
    }
    env.run(&["mappings", "close", "--all"]).expect_code(0);
    assert!(env.mappings().is_empty());
}

/// Outside napsh: `map` expires and a colleague's napsh (its own state) gets its endpoint for
/// the device `to`.
fn hand_endpoint_to(env: &TestEnv, map: &napsh_core::soracom::PortMapping, to: &str) {
    assert!(env.emulator().expire_mapping(&map.ip_address, map.port));
    env.emulator().reuse_port_for_next_mapping(map.port);
    let colleague = env.path().join("colleague-state");
    let out = Output::from(
        env.napsh()
            .env("XDG_STATE_HOME", &colleague)
            .args(["connect", "--keep", "--json", to])
            .output()
            .unwrap(),
    );
    out.expect_code(0);
    assert_eq!(out.json_lines()[0]["endpoint"]["port"], map.port);
}

/// napsh deleted nothing since the request log was cleared: the one mapping left is `sim`'s.
fn assert_only_mapping_survives(env: &TestEnv, sim: &str) {
    assert_eq!(
        env.count_requests("DELETE", "/v1/port_mappings"),
        0,
        "{:?}",
        env.calls()
    );
    let maps = env.mappings();
    assert_eq!(
        maps.len(),
        1,
        "the other device's mapping survives: {maps:?}"
    );
    assert_eq!(maps[0].target_sim_id(), Some(sim));
}

/// dev-a's recorded mapping 127.0.0.1:P is deleted outside napsh and P is handed to dev-b
/// (by someone else's napsh). `napsh ssh dev-a` asks the SIM's own list before using the
/// record: the record is forgotten (never deleted: that would delete dev-b's mapping), a new
/// mapping reaches dev-a itself, and dev-a's pin is untouched; dev-b at the reused endpoint is
/// trusted as itself, on first use, without a false alarm.
#[test]
fn a_reused_endpoint_inherits_no_trust() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), TWO_DEVICES);
    let (a, b) = (env.sim_id("dev-a"), env.sim_id("dev-b"));
    env.run(&["connect", "--keep", "dev-a"]).expect_code(0);
    env.run(&["ssh", "dev-a", "--", "true"]).expect_code(0);
    let a_pin = env.pinned(&a);
    assert_eq!(a_pin.len(), 1);
    let a_map = env.mappings().remove(0);

    // Outside napsh: dev-a's mapping goes, and its endpoint is reused for dev-b by a colleague.
    hand_endpoint_to(&env, &a_map, "dev-b");

    env.emulator().clear_request_log();
    let out = env.run(&["ssh", "dev-a", "--", "true"]);
    out.expect_code(0);
    assert!(
        !out.stderr.contains("known-hosts reset"),
        "never advise resetting the pin here: {}",
        out.stderr
    );
    assert_eq!(
        env.count_exact(
            "DELETE",
            &format!("/v1/port_mappings/{}/{}", a_map.ip_address, a_map.port)
        ),
        0,
        "{:?}",
        env.calls()
    );
    assert_eq!(env.pinned(&a), a_pin, "dev-a's pin is untouched");
    assert!(env
        .mappings()
        .iter()
        .any(|m| m.target_sim_id() == Some(b.as_str())));

    // dev-a again: a new mapping, its own key.
    env.run(&["ssh", "dev-a", "--", "true"]).expect_code(0);
    // dev-b at the reused endpoint: trusted as itself on first use.
    env.run(&["ssh", "dev-b", "--", "true"]).expect_code(0);
    let b_pin = env.pinned(&b);
    assert_eq!(b_pin.len(), 1);
    assert_ne!(
        b_pin[0].split_whitespace().nth(2),
        a_pin[0].split_whitespace().nth(2)
    );
    let known = std::fs::read_to_string(env.path().join("data/napsh/known_hosts")).unwrap();
    assert!(
        !known.contains("127.0.0.1") && !known.contains(&a_map.port.to_string()),
        "nothing is pinned to the endpoint: {known}"
    );
    env.run(&["mappings", "close", "--all", "--any"])
        .expect_code(0);
    assert!(env.mappings().is_empty());
}

/// A napsh killed outright leaves dev-a's mapping recorded; the mapping then expires and its
/// endpoint is handed to dev-b. Reaping the record must not delete dev-b's mapping by
/// `ip:port`: napsh asks whether the endpoint still leads to dev-a first and only forgets it.
/// `mappings close --all` treats a stale record the same way.
#[test]
fn reaping_never_deletes_a_reused_endpoint() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), TWO_DEVICES);
    let b = env.sim_id("dev-b");
    let mut session = env.spawn_session("dev-a");
    let a_map = env.mappings().remove(0);
    let pgid = session.id() as i32;
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
    session.wait().unwrap();
    hand_endpoint_to(&env, &a_map, "dev-b");

    env.emulator().clear_request_log();
    env.run(&["devices", "--json"]).expect_code(0);
    env.run(&["mappings", "close", "--all"]).expect_code(0);
    assert_only_mapping_survives(&env, &b);
}

/// Name tags that try to drive the terminal, 10,000 characters long, or with bidi controls.
fn hostile_fleet() -> String {
    let long = "L".repeat(10_000);
    format!(
        r#"
[[devices]]
name = "osc-\u001b]0;pwned\u0007-\u001b[2J\u009b31m"
online = true
tags = {{ role = "\u001b[5mblink", site = "\u202egnp.exe" }}

[[devices]]
name = "{long}"
online = true
group_id = "\u001b]8;;http://evil\u0007link"

[[devices]]
name = "bidi-\u202e\u2066\u200bx"
online = false
"#
    )
}

/// Every screen the CLI prints and every row the picker renders from napsh's feed stay free
/// of raw control bytes and bidi controls; the API's invalid UTF-8 is replaced, not fatal.
#[test]
fn hostile_long_and_invalid_utf8_names_stay_inert() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &hostile_fleet());
    env.set_faults(vec![fault_rule(
        "GET",
        "/v1/sims/**",
        Fault::InvalidUtf8,
        None,
    )]);
    let long_sim = env.sim_id(&"L".repeat(10_000));
    let mut outputs = [
        ("devices", env.run(&["devices", "--refresh"])),
        ("devices --json", env.run(&["devices", "--json"])),
        ("connect", env.run(&["connect", &long_sim])),
        ("mappings", env.run(&["mappings"])),
        ("guide", env.run(&["guide", &long_sim])),
        (
            "ssh (nothing answers)",
            env.run(&["ssh", &long_sim, "--", "true"]),
        ),
        ("mappings close", env.run(&["mappings", "close", "--all"])),
    ];
    let feed = env.run(&["devices", "--picker", "--refresh"]);
    feed.expect_code(0);
    for (what, out) in outputs.iter_mut() {
        assert!(
            out.code == 0 || *what == "ssh (nothing answers)",
            "{what}: {}",
            out.stderr
        );
        for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if let Some(problem) = terminal_unsafe(text.as_bytes()) {
                panic!("napsh {what} {stream}: {problem}");
            }
        }
    }
    assert!(
        outputs[0].1.stdout.contains('\u{fffd}'),
        "invalid UTF-8 is shown replaced: {}",
        outputs[0].1.stdout
    );
    let table_width = outputs[0]
        .1
        .stdout
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(
        table_width < 300,
        "a 10,000-character name is cut: {table_width}"
    );

    // The plugin's view: napsh's feed, decoded and rendered by core like the plugin does.
    let devices = napsh_core::picker_feed::decode(&feed.stdout).expect("the feed decodes");
    assert_eq!(devices.len(), 3);
    let mut picker = Picker::new(devices, false);
    let rows = picker.window(20, 120, now_ms());
    assert_eq!(rows.len(), 3);
    for row in rows {
        if let Some(problem) = terminal_unsafe(row.text.as_bytes()) {
            panic!("picker row {:?}: {problem}", row.text);
        }
        let width = unicode_width::UnicodeWidthStr::width(row.text.as_str());
        assert!(
            width <= 120,
            "row wider than the pane ({width}): {}",
            row.text
        );
    }
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A session in a Zellij pane: closing the pane deletes its mapping; SIGKILL of the napsh in
/// a pane leaves the mapping to the next napsh command, which reaps it; SIGKILL of the Zellij
/// server hangs the pane's napsh up, which deletes its mapping (or, had napsh died with it,
/// the next command would reap it).
#[test]
fn closing_or_killing_the_zellij_pane_leaves_no_mapping() {
    use napsh_e2e::zellij::ZellijSession;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_DEVICE);
    let zellij = ZellijSession::start(&env, 160, 40).expect("starting zellij");
    let napsh = env.napsh_bin().display().to_string();
    let open_session = |nth: usize| {
        zellij
            .action(&[
                "new-pane", "--name", "victim", "--", &napsh, "ssh", "kiosk-12",
            ])
            .unwrap();
        assert!(
            env.wait_until(30, || env.mappings().len() == 1),
            "no mapping"
        );
        assert!(
            env.wait_until(30, || env
                .emulator()
                .audit_log()
                .iter()
                .filter(|e| e.entry_type == "CONNECTED")
                .count()
                >= nth),
            "session {nth} never connected"
        );
    };
    open_session(1);
    zellij.action(&["close-pane"]).unwrap();
    assert!(
        env.wait_until(30, || env.mappings().is_empty()),
        "closing the pane left {:?}",
        env.mappings()
    );

    // kill -9 of the napsh in the pane: nothing of napsh runs to clean up; the next napsh
    // command reaps the orphan.
    open_session(2);
    let server = zellij_server_pid(&env).expect("the zellij server process");
    let victim = process_tree(server)
        .into_iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).starts_with(&format!("{napsh}\0ssh")))
        })
        .expect("napsh ssh runs in the pane");
    assert_eq!(unsafe { libc::kill(victim as i32, libc::SIGKILL) }, 0);
    assert!(
        env.wait_until(10, || !Path::new(&format!("/proc/{victim}")).exists()),
        "napsh survived SIGKILL"
    );
    assert_eq!(env.mappings().len(), 1, "the crash left the mapping");
    env.run(&["devices"]).expect_code(0);
    assert!(
        env.mappings().is_empty(),
        "the next command reaps the orphan: {:?}",
        env.mappings()
    );
    zellij.action(&["close-pane"]).unwrap();

    // kill -9 of Zellij itself while a session runs in it.
    open_session(3);
    assert_eq!(unsafe { libc::kill(server as i32, libc::SIGKILL) }, 0);
    assert!(
        env.wait_until(10, || zellij_server_pid(&env).is_none()),
        "the zellij server survived SIGKILL"
    );
    let gone = env.wait_until(30, || env.mappings().is_empty());
    if !gone {
        env.run(&["devices"]).expect_code(0);
    }
    assert!(
        env.mappings().is_empty(),
        "killing Zellij left {:?}",
        env.mappings()
    );
}

/// The pid of this env's Zellij server (its environment names the env's directory).
fn zellij_server_pid(env: &TestEnv) -> Option<u32> {
    let marker = env.path().display().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        let environ = std::fs::read(e.path().join("environ")).ok()?;
        let is_server = String::from_utf8_lossy(&cmdline).contains("--server");
        let ours = String::from_utf8_lossy(&environ).contains(&marker);
        (is_server && ours).then_some(pid)
    })
}

#[test]
fn auth_key_id_alone_is_not_a_secret_but_appears_nowhere_unexpected() {
    // The key id names the credential in errors (that is useful); it must never come with
    // the key itself.
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), ONE_DEVICE);
    env.write_named_profile("wrong", AUTH_KEY_ID, "not-the-key");
    let out = env.run(&["--profile", "wrong", "devices", "--refresh"]);
    out.expect_code(3);
    assert!(out.stderr.contains(AUTH_KEY_ID), "{}", out.stderr);
    assert!(!out.stderr.contains("not-the-key"), "{}", out.stderr);
}
