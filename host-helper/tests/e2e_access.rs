//! Delegated maintenance end to end (`napsh access`, issue 13): the owner grants two of four
//! devices to a SAM user; the contractor's generated profile lists and connects to those two
//! through real sshd; a third device is refused with the permission named and the guide;
//! adding a device keeps the earlier ones; revoking refuses the contractor's next call. The
//! permission document is the golden file, and no key or secret reaches argv, the
//! environment, logs or files.

use napsh_e2e::secrets::{files_under, hits, in_processes};
use napsh_e2e::{Output, TestEnv, AUTH_KEY};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

/// Four online devices with real sshd and fixed SIM ids (the golden file names them).
const FOUR_DEVICES: &str = r#"
[[devices]]
name = "dev-a"
sim_id = "8942310000000000001"
online = true
ssh = "spawn"

[[devices]]
name = "dev-b"
sim_id = "8942310000000000002"
online = true
ssh = "spawn"

[[devices]]
name = "dev-c"
sim_id = "8942310000000000003"
online = true
ssh = "spawn"

[[devices]]
name = "dev-d"
sim_id = "8942310000000000004"
online = true
ssh = "spawn"
"#;

const GOLDEN: &str = include_str!("golden/access-permission.json");

/// The contractor's napsh: the profile `acme` that `access grant` wrote.
fn contractor(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["--profile", "acme"];
    all.extend_from_slice(args);
    env.run(&all)
}

/// The permission documents napsh sent (`PUT …/permission`), pretty-printed.
fn sent_permissions(env: &TestEnv) -> Vec<String> {
    env.request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with("/users/acme/permission"))
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let doc: serde_json::Value =
                serde_json::from_str(body["permission"].as_str().unwrap()).unwrap();
            serde_json::to_string_pretty(&doc).unwrap() + "\n"
        })
        .collect()
}

/// The contractor's secret, read from the profile napsh wrote (mode 0600).
fn profile_secret(env: &TestEnv) -> String {
    let path = env.profile_dir().join("acme.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the contractor's profile is private");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(v["authKeyId"].as_str().unwrap().starts_with("keyId-"));
    v["authKey"].as_str().unwrap().to_string()
}

#[test]
fn dry_run_prints_the_document_and_calls_and_changes_nothing() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FOUR_DEVICES);
    let out = env.run(&["access", "grant", "acme", "dev-a", "dev-b", "--dry-run"]);
    out.expect_code(0);
    assert!(out.stdout.contains(GOLDEN.trim_end()), "{}", out.stdout);
    for call in [
        "GET    /v1/operators/OP0000E2E000/users/acme  (getUser)",
        "POST   /v1/operators/OP0000E2E000/users/acme  (createUser)",
        "(updateUserPermission)",
        "(generateUserAuthKey)",
    ] {
        assert!(out.stdout.contains(call), "{call} missing:\n{}", out.stdout);
    }
    let writes = env
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/users") && r.method != "GET")
        .count();
    assert_eq!(writes, 0, "a dry run changes nothing");
    assert!(!env.profile_dir().join("acme.json").exists());
}

#[test]
fn the_owner_grants_two_of_four_devices_and_revokes() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FOUR_DEVICES);
    let mut outputs = Vec::new();
    let grant = env.run(&["access", "grant", "acme", "dev-a", "dev-b"]);
    grant.expect_code(0);
    assert_eq!(
        sent_permissions(&env),
        vec![GOLDEN.to_string()],
        "the golden permission document"
    );
    let secret = profile_secret(&env);
    outputs.push(grant);

    // The contractor lists the fleet and reaches the two devices, with real sshd.
    let devices = contractor(&env, &["devices", "--refresh"]);
    devices.expect_code(0);
    for name in ["dev-a", "dev-b"] {
        assert!(devices.stdout.contains(name), "{}", devices.stdout);
        let ran = contractor(&env, &["ssh", name, "--", "echo", &format!("hello-{name}")]);
        ran.expect_code(0);
        assert!(
            ran.stdout.contains(&format!("hello-{name}")),
            "{}",
            ran.stderr
        );
        outputs.push(ran);
    }
    assert!(
        env.mappings().is_empty(),
        "sessions delete their mappings: {:?}",
        env.mappings()
    );
    outputs.push(devices);

    // While a session runs, nothing of the key is in any command line or environment.
    let session = contractor_session(&env, &secret);
    outputs.extend(session);

    // A third device: refused, the permission named, what to ask the owner; no mapping.
    let denied = contractor(&env, &["ssh", "dev-c", "--", "true"]);
    denied.expect_code(3);
    let line = denied.stderr.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("napsh: "),
        "one error line first: {}",
        denied.stderr
    );
    assert!(
        denied.stderr.contains("Manual connection guide for dev-c"),
        "{}",
        denied.stderr
    );
    assert!(
        line.contains("PortMapping:createPortMappingForSim") || line.contains("Sim:getSim"),
        "{line}"
    );
    assert!(line.contains("napsh access grant"), "{line}");
    let connect = contractor(&env, &["connect", "--json", "dev-c"]);
    let result = &connect.json_lines()[0];
    assert_eq!(result["ok"], false);
    assert_eq!(result["error"]["kind"], "permission_denied", "{result}");
    let guide = result["guide"].as_str().expect("the guide for the picker");
    assert!(
        guide.contains("Why:") && guide.contains("createPortMappingForSim"),
        "{guide}"
    );
    assert!(env.mappings().is_empty());
    let body_form = env
        .request_log()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/port_mappings")
        .count();
    assert_eq!(body_form, 0, "napsh never uses the body-form create");
    outputs.extend([denied, connect]);

    outputs.extend(extend_then_revoke(&env));
    assert_no_secret(&env, &secret, &outputs);
}

/// Runs a contractor session to dev-a and checks its process tree for the key; its outputs.
fn contractor_session(env: &TestEnv, secret: &str) -> Vec<Output> {
    let mut child = env
        .napsh()
        .args(["--profile", "acme", "ssh", "dev-a", "--", "sleep", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        env.wait_connected(),
        "the contractor's session never connected"
    );
    let found = in_processes(
        child.id(),
        &[
            ("the contractor's auth key", secret),
            ("the owner's auth key", AUTH_KEY),
        ],
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    assert!(found.is_empty(), "secrets in argv/environment: {found:?}");
    assert!(
        env.wait_until(20, || env.mappings().is_empty()),
        "{:?}",
        env.mappings()
    );
    Vec::new()
}

/// Adds dev-d (keeping dev-a and dev-b), shows and lists, then revokes: the contractor's
/// next call is refused.
fn extend_then_revoke(env: &TestEnv) -> Vec<Output> {
    let more = env.run(&["access", "grant", "acme", "dev-d"]);
    more.expect_code(0);
    let last = sent_permissions(env).pop().unwrap();
    for sim in [
        "8942310000000000001",
        "8942310000000000002",
        "8942310000000000004",
    ] {
        assert!(last.contains(sim), "{sim} kept:\n{last}");
    }
    assert!(!last.contains("8942310000000000003"));
    let reach_d = contractor(env, &["ssh", "dev-d", "--", "echo", "hello-d"]);
    reach_d.expect_code(0);
    let show = env.run(&["access", "show", "acme"]);
    show.expect_code(0);
    for name in ["dev-a", "dev-b", "dev-d"] {
        assert!(show.stdout.contains(name), "{}", show.stdout);
    }
    let list = env.run(&["access", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(list.stdout.trim()).unwrap();
    assert_eq!(listed[0]["userName"], "acme");
    assert_eq!(listed[0]["devices"], 3);
    let revoke = env.run(&["access", "revoke", "acme"]);
    revoke.expect_code(0);
    let refused = contractor(env, &["devices", "--refresh"]);
    refused.expect_code(3);
    let refused_ssh = contractor(env, &["ssh", "dev-a", "--", "true"]);
    assert_ne!(refused_ssh.code, 0);
    assert!(env.mappings().is_empty());
    vec![more, reach_d, show, list, revoke, refused, refused_ssh]
}

/// No output, no request body the emulator logged and no file of napsh's (outside the
/// contractor's profile and the token caches) holds the key or the owner's.
fn assert_no_secret(env: &TestEnv, secret: &str, outputs: &[Output]) {
    let secrets = [
        ("the contractor's auth key", secret),
        ("the owner's auth key", AUTH_KEY),
    ];
    let mut found = Vec::new();
    for o in outputs {
        found.extend(hits("napsh's stdout", o.stdout.as_bytes(), &secrets));
        found.extend(hits("napsh's stderr", o.stderr.as_bytes(), &secrets));
    }
    let verbose = env.run(&[
        "-vvv",
        "access",
        "grant",
        "acme",
        "dev-a",
        "--profile-out",
        &env.path().join("acme2.json").display().to_string(),
    ]);
    verbose.expect_code(0);
    found.extend(hits(
        "-vvv access grant",
        verbose.stderr.as_bytes(),
        &secrets,
    ));
    for r in env.request_log() {
        found.extend(hits(
            &format!("the logged body of {} {}", r.method, r.path),
            r.body.as_bytes(),
            &secrets,
        ));
    }
    for dir in ["cache", "state", "data", "config"] {
        for file in files_under(&env.path().join(dir)) {
            let name = file.display().to_string();
            found.extend(hits(&name, &std::fs::read(&file).unwrap(), &secrets));
        }
    }
    assert!(found.is_empty(), "secrets leaked: {found:#?}");
}
