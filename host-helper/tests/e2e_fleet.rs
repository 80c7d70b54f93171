//! Fleet commands end to end, against the Soracom/Napter emulator and real sshd devices:
//! `napsh exec` (prefixes and alignment, partial lines, summary, exit code, log files, offline
//! and unreachable devices, --tag/--group/names selection, --json, Ctrl-C cleanup),
//! `napsh keys push/list` (password once, then key-only login; idempotent; existing keys kept)
//! on a throwaway local user, `napsh history` (the session journal) and `napsh audit`.

use napsh_e2e::fleet::{password_sshd, TempUser};
use napsh_e2e::{assert_terminal_safe, write_private, Output, TestEnv};
use rstest::rstest;
use serde_json::Value;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Three reachable devices, one online without sshd (ssh fails), one offline, one hostile name.
const FLEET: &str = r#"
[[devices]]
name = "web-1"
online = true
ssh = "spawn"
group_id = "grp-a"
tags = { role = "web" }

[[devices]]
name = "web-2"
online = true
ssh = "spawn"
group_id = "grp-b"
tags = { role = "web" }

[[devices]]
name = "db-long-name-1"
online = true
ssh = "spawn"
group_id = "grp-a"
tags = { role = "db" }

[[devices]]
name = "web-dead"
online = true
group_id = "grp-c"
tags = { role = "web" }

[[devices]]
name = "web-off"
online = false
group_id = "grp-a"
tags = { role = "web" }
"#;

fn env() -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET)
}

/// The `[label]` of every prefixed line of `text`.
fn labels_in(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| {
            l.strip_prefix('[')?
                .split_once(']')
                .map(|(n, _)| n.to_string())
        })
        .collect()
}

/// The lines of `text` prefixed with `[label]`, with the prefix (and padding) removed.
fn lines_of(text: &str, label: &str) -> Vec<String> {
    let head = format!("[{label}]");
    text.lines()
        .filter_map(|l| l.strip_prefix(&head))
        .map(|rest| rest.trim_start().to_string())
        .collect()
}

/// The journal's entries (`napsh history --json`).
fn history(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["history", "--json"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    out.expect_code(0);
    serde_json::from_str::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("history --json is not JSON ({e}): {}", out.stdout))
        .as_array()
        .cloned()
        .unwrap()
}

#[rstest]
#[case(&["exec", "--help"])]
#[case(&["keys", "--help"])]
#[case(&["keys", "push", "--help"])]
#[case(&["keys", "list", "--help"])]
#[case(&["history", "--help"])]
#[case(&["audit", "--help"])]
fn every_fleet_help_has_examples(#[case] args: &[&str]) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_napsh"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Examples:\n  napsh"), "{text}");
}

#[test]
fn exec_fans_out_with_prefixes_summary_logs_and_no_mapping_left() {
    let env = env();
    let logs = env.path().join("logs");
    let out = env.run(&[
        "exec",
        "--all",
        "--log-dir",
        logs.to_str().unwrap(),
        "--",
        "echo \"out $((6*7))\"; echo err-line >&2; printf partial",
    ]);
    out.expect_code(1);
    assert_terminal_safe("stdout", out.stdout.as_bytes());
    let ok = ["db-long-name-1", "web-1", "web-2"];
    assert_eq!(
        labels_in(&out.stdout),
        ok.iter().map(|s| s.to_string()).collect(),
        "stdout: {}",
        out.stdout
    );
    for name in ok {
        assert_eq!(
            lines_of(&out.stdout, name),
            ["out 42", "partial"],
            "{name}: {}",
            out.stdout
        );
        assert!(
            lines_of(&out.stderr, name).contains(&"err-line".to_string()),
            "{}",
            out.stderr
        );
    }
    // Output starts in one column whatever the name's length.
    let columns: BTreeSet<usize> = out
        .stdout
        .lines()
        .filter(|l| l.ends_with("out 42"))
        .map(|l| l.len() - "out 42".len())
        .collect();
    assert_eq!(columns.len(), 1, "aligned: {}", out.stdout);
    assert!(
        out.stderr
            .contains("3 succeeded, 2 failed: web-dead (ssh failed), web-off (offline)"),
        "{}",
        out.stderr
    );
    for name in ok {
        let sim = env.sim_id(name);
        let stdout = std::fs::read_to_string(logs.join(format!("{name}_{sim}.stdout"))).unwrap();
        assert_eq!(stdout, "out 42\npartial", "raw, unprefixed log of {name}");
        let stderr = std::fs::read_to_string(logs.join(format!("{name}_{sim}.stderr"))).unwrap();
        assert!(stderr.contains("err-line\n"), "{stderr}");
        let mode = std::fs::metadata(logs.join(format!("{name}_{sim}.stdout")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(env.mappings().is_empty(), "left: {:?}", env.mappings());
    let pinned = std::fs::read_to_string(env.path().join("data/napsh/known_hosts")).unwrap();
    for name in ok {
        assert!(
            pinned.contains(&env.sim_id(name)),
            "host key of {name} pinned: {pinned}"
        );
    }
    assert_eq!(
        env.count_requests("POST", "/v1/port_mappings"),
        4,
        "no mapping for the offline device: {:?}",
        env.calls()
    );
    let journal = history(&env, &[]);
    assert_eq!(journal.len(), 5, "{journal:?}");
    assert!(journal.iter().all(|e| e["kind"] == "exec"));
}

#[test]
fn hostile_names_are_inert_in_prefixes_summary_and_log_file_names() {
    let fleet = r#"
[[devices]]
name = "../evil-\u001b[31mred\u001b]0;pwned\u0007\u202egnp"
online = true
ssh = "spawn"
group_id = "grp-evil"

[[devices]]
name = "evil-off-\u001b[2J"
online = false
group_id = "grp-evil"
"#;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), fleet);
    let logs = env.path().join("logs");
    let out = env.run(&[
        "exec",
        "--group",
        "grp-evil",
        "--log-dir",
        logs.to_str().unwrap(),
        "--",
        "echo fine",
    ]);
    out.expect_code(1);
    assert_terminal_safe("stdout", out.stdout.as_bytes());
    assert_terminal_safe("stderr", out.stderr.as_bytes());
    assert!(
        out.stdout
            .contains("[../evil-\\e[31mred\\e]0;pwned\\u{7…] fine"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr
            .contains("1 succeeded, 1 failed: evil-off-\\e[2J (offline)"),
        "{}",
        out.stderr
    );
    let files: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert!(
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !f.starts_with('.'),
            "unsafe log file name {f:?}"
        );
    }
    assert!(env.mappings().is_empty());
}

/// `text` without its SGR sequences (`ESC [` digits `;` `:` `m`), which only colour.
fn without_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\x1b[") {
        out.push_str(&rest[..at]);
        let params = &rest[at + 2..];
        let end = params
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(params.len());
        if params[end..].starts_with('m') {
            rest = &params[end + 1..];
        } else {
            out.push_str("\x1b[");
            rest = params;
        }
    }
    out + rest
}

#[test]
fn device_output_cannot_forge_lines_or_drive_the_terminal() {
    // Issue 12: a CR let a device overwrite its line with `[web-2] …`; OSC retitled the
    // window. Colours stay; the log file keeps the bytes exactly.
    let env = env();
    let logs = env.path().join("logs");
    let script =
        r"printf 'ok\r[web-2] forged\n\033]0;pwned\007\033[31mred\033[0m\n\033[1A\033[2Kup\n'";
    let out = env.run(&[
        "exec",
        "--log-dir",
        logs.to_str().unwrap(),
        "web-1",
        "--",
        script,
    ]);
    out.expect_code(0);
    assert_terminal_safe("stdout", without_sgr(&out.stdout).as_bytes());
    assert_eq!(
        lines_of(&out.stdout, "web-1"),
        [
            "ok\\r[web-2] forged",
            "\\e]0;pwned\\u{7}\x1b[31mred\x1b[0m\x1b[0m",
            "\\e[1A\\e[2Kup"
        ],
        "{}",
        out.stdout
    );
    assert_eq!(
        labels_in(&out.stdout),
        BTreeSet::from(["web-1".to_string()])
    );
    let log = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".stdout"))
        .expect("a stdout log");
    assert_eq!(
        std::fs::read(log).unwrap(),
        b"ok\r[web-2] forged\n\x1b]0;pwned\x07\x1b[31mred\x1b[0m\n\x1b[1A\x1b[2Kup\n"
    );
    assert!(env.mappings().is_empty());
}

#[rstest]
#[case::tag(&["--tag", "role=db"], &["db-long-name-1"])]
#[case::group(&["--group", "grp-b"], &["web-2"])]
#[case::names(&["web-2", "web-1"], &["web-1", "web-2"])]
#[case::tag_online_only(&["--tag", "role=web", "--online", "--parallel", "1"], &["web-1", "web-2", "web-dead"])]
fn exec_selects_targets(#[case] selection: &[&str], #[case] expected: &[&str]) {
    let env = env();
    let mut args = vec!["exec"];
    args.extend_from_slice(selection);
    args.extend_from_slice(&["--", "echo hi"]);
    let out = env.run(&args);
    let mentioned: BTreeSet<String> = labels_in(&out.stdout)
        .union(&labels_in(&out.stderr))
        .cloned()
        .collect();
    let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        mentioned, want,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    let failing = expected.contains(&"web-dead");
    out.expect_code(if failing { 1 } else { 0 });
    assert!(env.mappings().is_empty());
}

#[rstest]
#[case::unknown_group(&["--group", "nope"], 2, "no device matches group nope")]
#[case::offline_only(&["--online", "web-off"], 4, "no online device matches web-off")]
#[case::bad_tag(&["--tag", "role"], 2, "KEY=VALUE")]
#[case::two_selectors(&["--all", "--group", "grp-a"], 2, "cannot be used with")]
fn exec_refuses_bad_selections(#[case] selection: &[&str], #[case] code: i32, #[case] says: &str) {
    let env = env();
    let mut args = vec!["exec"];
    args.extend_from_slice(selection);
    args.extend_from_slice(&["--", "true"]);
    let out = env.run(&args);
    out.expect_code(code);
    assert!(out.stderr.contains(says), "{}", out.stderr);
    assert_eq!(env.count_requests("POST", "/v1/port_mappings"), 0);
}

#[test]
fn exec_json_reports_each_device() {
    let env = env();
    let out = env.run(&["exec", "--json", "web-1", "web-off", "--", "echo x; exit 3"]);
    out.expect_code(1);
    let results = out.json_lines();
    assert_eq!(results.len(), 2, "{}", out.stdout);
    assert_eq!(results[0]["name"], "web-1");
    assert_eq!(results[0]["exitCode"], 3);
    assert_eq!(results[0]["reason"], "exit 3");
    assert_eq!(results[0]["ok"], false);
    assert_eq!(results[1]["name"], "web-off");
    assert_eq!(results[1]["errorKind"], "offline");
    assert!(
        lines_of(&out.stderr, "web-1").contains(&"x".to_string()),
        "with --json the device output goes to stderr: {}",
        out.stderr
    );
}

#[test]
fn ctrl_c_ends_every_ssh_and_deletes_every_mapping() {
    let env = env();
    let child = env
        .napsh()
        .args(["exec", "web-1", "web-2", "--", "sleep 120"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let connected = env.wait_until(60, || {
        env.emulator()
            .audit_log()
            .iter()
            .filter(|e| e.entry_type == "CONNECTED")
            .count()
            >= 2
    });
    assert!(connected, "both sessions should be up");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = Output::from(child.wait_with_output().unwrap());
    out.expect_code(130);
    assert!(env.mappings().is_empty(), "left: {:?}", env.mappings());
    assert!(
        out.stderr
            .contains("0 succeeded, 2 failed: web-1 (interrupted), web-2 (interrupted)"),
        "{}",
        out.stderr
    );
    let journal = history(&env, &[]);
    assert_eq!(journal.len(), 2);
    assert!(
        journal.iter().all(|e| e["error"] == "interrupted"),
        "{journal:?}"
    );
}

#[test]
fn history_records_ssh_and_exec_sessions() {
    let env = env();
    env.run(&["ssh", "web-1", "--", "true"]).expect_code(0);
    env.run(&["exec", "web-2", "--", "exit 4"]).expect_code(1);
    env.run(&["exec", "web-off", "--", "true"]).expect_code(1);
    let journal = history(&env, &[]);
    assert_eq!(journal.len(), 3, "{journal:?}");
    let ssh = &journal[0];
    assert_eq!(ssh["kind"], "ssh");
    assert_eq!(ssh["device"], "web-1");
    assert_eq!(ssh["simId"], env.sim_id("web-1"));
    assert_eq!(ssh["localUser"], env.user);
    assert_eq!(ssh["exitCode"], 0);
    assert_eq!(ssh["source"], "127.0.0.1/32");
    assert_eq!(ssh["mappingReused"], false);
    assert!(
        ssh["mapping"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{ssh}"
    );
    assert!(ssh["endedAt"].as_i64() >= ssh["startedAt"].as_i64());
    assert_eq!(journal[1]["kind"], "exec");
    assert_eq!(journal[1]["exitCode"], 4);
    assert_eq!(journal[2]["error"], "offline");
    assert!(journal[2].get("mapping").is_none());

    let file = env.path().join("state/napsh/journal.jsonl");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(napsh_e2e::AUTH_KEY),
        "no secret in the journal"
    );

    assert_eq!(history(&env, &["--limit", "1"])[0]["device"], "web-off");
    let table = env.run(&["history", "web-2"]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "header + one session: {}", table.stdout);
    assert!(lines[0].starts_with("START (UTC)"));
    assert!(
        lines[1].contains("web-2") && lines[1].contains("exit 4") && lines[1].contains("(created)")
    );
}

#[test]
fn audit_shows_the_device_napter_log_across_pages() {
    let env = env();
    env.run(&["ssh", "web-1", "--", "true"]).expect_code(0);
    env.run(&["ssh", "web-2", "--", "true"]).expect_code(0);
    let imsi = env
        .emulator()
        .devices()
        .into_iter()
        .find(|d| d.name == "web-1")
        .unwrap()
        .imsi;
    env.emulator().clear_request_log();
    let out = env.run(&["audit", "web-1", "--json"]);
    out.expect_code(0);
    let entries: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    let kinds: BTreeSet<&str> = entries
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["CREATED", "CONNECTED", "CLOSED", "DELETED"]),
        "{}",
        out.stdout
    );
    assert_eq!(entries.len(), 4, "{}", out.stdout);
    assert_eq!(entries[0]["type"], "CREATED", "oldest first");
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["createdAt"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(
        entries.iter().all(|e| e["imsi"] == imsi.as_str()),
        "only web-1: {entries:?}"
    );
    let pages = env.count_exact("GET", "/v1/audit_logs/napter");
    assert!(
        pages >= 2,
        "4 entries at page_size 3 take two pages: {:?}",
        env.calls()
    );
    assert!(env
        .request_log()
        .iter()
        .filter(|r| r.path == "/v1/audit_logs/napter")
        .all(|r| r.query.contains("resource_type=Subscriber")
            && r.query.contains(&format!("resource_id={imsi}"))));

    let newest = env.run(&["audit", "web-1", "--json", "--limit", "2"]);
    newest.expect_code(0);
    let newest: Vec<Value> = serde_json::from_str(&newest.stdout).unwrap();
    assert_eq!(newest, entries[2..], "the two newest");

    let table = env.run(&["audit", "web-1"]);
    table.expect_code(0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)"), "{}", table.stdout);
    assert_eq!(lines.len(), 5, "{}", table.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("CONNECTED") && l.contains("127.0.0.1:")),
        "{}",
        table.stdout
    );
}

/// The `ssh-keygen -l` fingerprint of a public key file.
fn keygen_fingerprint(pub_key: &Path) -> String {
    let out = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(pub_key)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn keys_push_installs_once_with_the_password_then_key_login_works() {
    let user = TempUser::create().expect("creating a throwaway user");
    let sshd_dir = tempfile::tempdir().unwrap();
    let sshd = password_sshd(sshd_dir.path()).unwrap();
    let fleet = format!(
        "[[devices]]\nname = \"keydev\"\nonline = true\nssh = \"127.0.0.1:{}\"\n",
        sshd.port()
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    let old_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFtcFJXPZE24fSG54NGVBRa4+6kYx0mAmyGYJgunqxXB old@laptop";
    // An existing key without a final newline must survive, on its own line.
    user.write_authorized_keys(old_key).unwrap();
    let pw_file = env.path().join("device-password");
    write_private(&pw_file, &format!("{}\n", user.password)).unwrap();
    let key = env.key_path().with_extension("pub");
    let password_config = format!(
        "default_user = {:?}\nsource_cidr = \"127.0.0.1/32\"\n\
         ssh_extra_args = [\"-i\", {:?}, \"-o\", \"IdentitiesOnly=yes\", \"-o\", \"NumberOfPasswordPrompts=1\"]\n\
         [[rules]]\nmatch_name = \"keydev\"\npassword_command = \"cat {}\"\n",
        user.name,
        env.key_path().display().to_string(),
        pw_file.display()
    );
    write_private(&env.config_path(), &password_config).unwrap();
    // Key-only login fails before the push.
    let batch_config = format!(
        "[[rules]]\nmatch_name = \"keydev\"\nuser = {:?}\n",
        user.name
    );
    env.write_config(&batch_config).unwrap();
    let before = env.run(&["ssh", "keydev", "--", "echo via-key"]);
    assert_ne!(before.code, 0, "no key installed yet: {}", before.stdout);
    write_private(&env.config_path(), &password_config).unwrap();

    let fingerprint = keygen_fingerprint(&key);
    let push = env.run(&["keys", "push", "keydev", "--key", key.to_str().unwrap()]);
    push.expect_code(0);
    assert_eq!(
        lines_of(&push.stdout, "keydev"),
        [format!("added {fingerprint}")],
        "{}",
        push.stderr
    );
    let installed = std::fs::read_to_string(user.authorized_keys()).unwrap();
    let public = std::fs::read_to_string(&key).unwrap();
    assert_eq!(installed, format!("{old_key}\n{}\n", public.trim()));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&user.home().join(".ssh")), 0o700);
    assert_eq!(mode(&user.authorized_keys()), 0o600);

    let again = env.run(&["keys", "push", "keydev", "--key", key.to_str().unwrap()]);
    again.expect_code(0);
    assert_eq!(
        lines_of(&again.stdout, "keydev"),
        [format!("already present {fingerprint}")]
    );
    assert_eq!(
        std::fs::read_to_string(user.authorized_keys()).unwrap(),
        installed
    );

    let list = env.run(&["keys", "list", "keydev", "--json"]);
    list.expect_code(0);
    let keys: Vec<Value> = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(keys.len(), 2, "{}", list.stdout);
    assert_eq!(keys[0]["comment"], "old@laptop");
    assert_eq!(keys[1]["fingerprint"], fingerprint.as_str());
    assert_eq!(keys[1]["type"], "ssh-ed25519");
    let table = env.run(&["keys", "list", "keydev"]);
    assert!(table.stdout.contains(&fingerprint), "{}", table.stdout);

    // Now without any password rule and with BatchMode: the key alone gets in.
    env.write_config(&batch_config).unwrap();
    let after = env.run(&["ssh", "keydev", "--", "echo via-key"]);
    after.expect_code(0);
    assert_eq!(after.stdout, "via-key\n");
    let kinds: Vec<String> = history(&env, &[])
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "ssh",
            "keys-push",
            "keys-push",
            "keys-list",
            "keys-list",
            "ssh"
        ]
    );
    drop(env);
    drop(sshd);
}
