//! Service targets, direct LAN connections and CLI polish, end to end: the napsh binary
//! against the emulator, real sshd devices with a fake `docker` on the device side, and a
//! plain real sshd on 127.0.0.1 that Soracom knows nothing about. Also shell completions, the
//! man pages, `known-hosts list --json` and the progress spinner (only on a terminal).

use napsh_e2e::device::{lan_sshd, FakeDocker, SshServer};
use napsh_e2e::{require_tool, Output, TestEnv};
use rstest::rstest;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

/// One device with a real sshd (its "docker" is the fake one), one offline.
const FLEET: &str = r#"
[[devices]]
name = "kiosk-svc"
online = true
ssh = "spawn"

[[devices]]
name = "kiosk-off"
online = false
"#;

/// A service name full of shell syntax (no whitespace: that is refused before connecting).
const HOSTILE_SERVICE: &str = "x'$(touch${IFS}pwned-name);\"`id`y";

/// An env whose config points the service templates at a fake docker with the services
/// `web` and `db` running, `old` stopped and [`HOSTILE_SERVICE`] running.
fn service_env(extra_config: &str) -> (TestEnv, FakeDocker) {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let docker = FakeDocker::install(&env).expect("installing the fake docker");
    for (name, running) in [
        ("web", true),
        ("db", true),
        ("old", false),
        (HOSTILE_SERVICE, true),
    ] {
        docker.add_service(name, running).unwrap();
    }
    env.write_config(&format!("{}{extra_config}", docker.config()))
        .unwrap();
    (env, docker)
}

/// Runs napsh with `args` and `stdin` as its standard input.
fn run_with_stdin(env: &TestEnv, args: &[&str], stdin: &str) -> Output {
    let mut child = env
        .napsh()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running napsh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    Output::from(child.wait_with_output().unwrap())
}

/// No `pwned*` file appeared anywhere a broken quoting could have created one.
fn assert_nothing_injected(env: &TestEnv, docker: &FakeDocker) {
    let home = env.path().join("home");
    for dir in [env.path(), home.as_path(), docker.root()] {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with("pwned"),
                "injected file {name} in {}",
                dir.display()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Service targets through Napter

#[rstest]
#[case::marker_expands_inside("web", &["echo in:$NAPSH_FAKE_SERVICE"], "in:web\n")]
#[case::other_service("db", &["echo in:$NAPSH_FAKE_SERVICE"], "in:db\n")]
#[case::working_dir("db", &["basename \"$PWD\""], "db\n")]
#[case::semicolon_stays_inside("web", &["echo a:$NAPSH_FAKE_SERVICE; echo b:$NAPSH_FAKE_SERVICE"], "a:web\nb:web\n")]
#[case::newline_stays_inside("web", &["echo one\necho two:$NAPSH_FAKE_SERVICE"], "one\ntwo:web\n")]
#[case::quotes_and_spaces("web", &["printf", "'%s|'", "\"it's\"", "'a  b'"], "it's|a  b|")]
#[case::words_joined_like_ssh("web", &["echo", "$NAPSH_FAKE_SERVICE", "&&", "echo", "ok"], "web\nok\n")]
#[case::substitution_runs_inside("web", &["echo $(echo $NAPSH_FAKE_SERVICE | tr a-z A-Z)"], "WEB\n")]
#[case::hostile_name(HOSTILE_SERVICE, &["echo in:\"$NAPSH_FAKE_SERVICE\""], "in:x'$(touch${IFS}pwned-name);\"`id`y\n")]
fn a_command_runs_inside_the_named_service(
    #[case] service: &str,
    #[case] command: &[&str],
    #[case] expected: &str,
) {
    let (env, docker) = service_env("");
    let mut args = vec!["ssh", "kiosk-svc", service, "--"];
    args.extend(command);
    let out = env.run(&args);
    out.expect_code(0);
    assert_eq!(out.stdout, expected, "stderr:\n{}", out.stderr);
    assert_eq!(
        docker.execs(),
        [(service.to_string(), "-i".to_string())],
        "exactly one docker exec, without a terminal"
    );
    assert_nothing_injected(&env, &docker);
    assert!(env.mappings().is_empty(), "the mapping must be deleted");
}

#[rstest]
#[case::plain(&["exit 3"], 3)]
#[case::the_missing_code_from_a_running_service(&["exit 125"], 125)]
fn the_remote_exit_code_comes_back(#[case] command: &[&str], #[case] code: i32) {
    let (env, _docker) = service_env("");
    let mut args = vec!["ssh", "kiosk-svc", "web", "--"];
    args.extend(command);
    let out = env.run(&args);
    out.expect_code(code);
    assert!(
        !out.stderr.contains("no service"),
        "a running service is never reported missing:\n{}",
        out.stderr
    );
}

#[rstest]
#[case::unknown("nope")]
#[case::stopped("old")]
#[case::hostile("web';touch${IFS}pwned-missing;'")]
fn a_missing_service_lists_the_running_ones(#[case] service: &str) {
    let (env, docker) = service_env("");
    let out = env.run(&["ssh", "kiosk-svc", service, "--", "touch", "pwned-ran"]);
    out.expect_code(4);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("is running on kiosk-svc"))
        .unwrap_or_else(|| panic!("no missing-service message:\n{}", out.stderr));
    assert!(
        line.contains("running: db, web, x'$(touch${IFS}pwned-name)"),
        "the running services must be listed:\n{line}"
    );
    assert!(line.contains("napsh ssh kiosk-svc db"), "{line}");
    assert!(
        docker.execs().is_empty(),
        "nothing may run: {:?}",
        docker.execs()
    );
    assert_nothing_injected(&env, &docker);
    assert!(env.mappings().is_empty(), "the mapping must be deleted");
}

#[test]
fn double_dash_separates_the_command_from_the_service() {
    let (env, docker) = service_env("");
    let out = env.run(&["ssh", "kiosk-svc", "--", "echo", "host:$NAPSH_FAKE_SERVICE"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "host:\n", "`-- CMD` runs on the device itself");
    assert!(docker.execs().is_empty());
    let out = env.run(&[
        "ssh",
        "kiosk-svc",
        "web",
        "--",
        "echo",
        "svc:$NAPSH_FAKE_SERVICE",
    ]);
    assert_eq!(out.stdout, "svc:web\n", "{}", out.stderr);
}

#[test]
fn an_interactive_shell_in_a_service_without_a_terminal_uses_dash_i() {
    let (env, docker) = service_env("");
    let out = run_with_stdin(
        &env,
        &["ssh", "kiosk-svc", "db"],
        "echo shell:$NAPSH_FAKE_SERVICE:$NAPSH_FAKE_TTY\nexit 0\n",
    );
    out.expect_code(0);
    assert!(
        out.stdout.contains("shell:db:no"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(docker.execs(), [("db".to_string(), "-i".to_string())]);
}

#[test]
fn an_interactive_shell_in_a_service_on_a_terminal_uses_dash_it() {
    require_tool("script", "apt-get install -y util-linux (for `script`)");
    let (env, docker) = service_env("");
    let napsh = env.napsh_bin().display().to_string();
    let out = std::process::Command::new("script")
        .args([
            "-qefc",
            &format!("'{napsh}' ssh kiosk-svc web"),
            "/dev/null",
        ])
        .env_clear()
        .envs(env.napsh_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"echo term:$NAPSH_FAKE_TTY:$((6*7))\nexit\n")?;
            child.wait_with_output()
        })
        .expect("running napsh under script");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("term:yes:42"), "{text}");
    assert_eq!(docker.execs(), [("web".to_string(), "-it".to_string())]);
}

#[rstest]
#[case::whitespace("my web", "whitespace")]
#[case::newline("web\nrm", "control")]
#[case::empty("", "empty")]
fn a_bad_service_name_is_refused_before_any_api_call(#[case] service: &str, #[case] why: &str) {
    let (env, docker) = service_env("");
    let out = env.run(&["ssh", "kiosk-svc", service, "--", "true"]);
    out.expect_code(2);
    assert!(out.stderr.contains(why), "{}", out.stderr);
    assert_eq!(env.count_requests("*", "/v1"), 0, "{:?}", env.calls());
    assert!(docker.execs().is_empty());
}

#[test]
fn a_rule_can_give_a_device_its_own_template() {
    // The rule's exec template tags the command, proving it (not the global one) was used.
    let (env, docker) = service_env("");
    let script = docker.script().display().to_string();
    env.write_config(&format!(
        "{}[[rules]]\nmatch_name = \"kiosk-*\"\nservice_exec = \"NAPSH_RULE=1 {script} exec {{tty}} {{service}} sh -c {{command}}\"\n",
        docker.config()
    ))
    .unwrap();
    let out = env.run(&["ssh", "kiosk-svc", "web", "--", "echo rule:$NAPSH_RULE"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "rule:1\n", "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// Direct LAN connections

/// A LAN sshd for `env` (plain real sshd, unknown to Soracom).
fn lan(env: &TestEnv, name: &str) -> SshServer {
    lan_sshd(env, name).expect("starting a LAN sshd")
}

fn pinned_aliases(env: &TestEnv) -> Vec<String> {
    let out = env.run(&["known-hosts", "list", "--json"]);
    out.expect_code(0);
    let list: Value = serde_json::from_str(out.stdout.trim()).expect("known-hosts list --json");
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| k["alias"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_ip_address_connects_directly_without_any_api_call() {
    let (env, docker) = service_env("");
    let server = lan(&env, "pi");
    let port = server.port().to_string();
    let out = env.run(&[
        "ssh",
        "127.0.0.1",
        "-p",
        &port,
        "--",
        "echo",
        "lan-$((40+2))",
    ]);
    out.expect_code(0);
    assert_eq!(out.stdout, "lan-42\n", "{}", out.stderr);
    // A service target works over the LAN too.
    let out = env.run(&[
        "ssh",
        "127.0.0.1",
        "web",
        "-p",
        &port,
        "--",
        "echo in:$NAPSH_FAKE_SERVICE",
    ]);
    out.expect_code(0);
    assert_eq!(out.stdout, "in:web\n", "{}", out.stderr);
    assert_eq!(docker.execs().len(), 1);
    assert!(
        env.request_log().is_empty(),
        "a LAN connection must not call the Soracom API: {:?}",
        env.calls()
    );
    assert_eq!(pinned_aliases(&env), ["lan:127.0.0.1"]);
}

#[test]
fn a_changed_lan_host_key_is_refused_until_reset() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let mut server = lan(&env, "pi");
    let port = server.port().to_string();
    let args = ["ssh", "127.0.0.1", "-p", &port, "--", "echo", "ok"];
    env.run(&args).expect_code(0);
    server.rotate_host_key().unwrap();
    let out = env.run(&args);
    out.expect_code(6);
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
    assert!(
        out.stderr.contains("napsh known-hosts reset 127.0.0.1"),
        "{}",
        out.stderr
    );
    env.run(&["known-hosts", "reset", "127.0.0.1"])
        .expect_code(0);
    let out = env.run(&args);
    out.expect_code(0);
    assert_eq!(out.stdout, "ok\n");
    assert!(env.request_log().is_empty(), "{:?}", env.calls());
}

#[test]
fn config_rules_apply_to_lan_addresses() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let server = lan(&env, "pi");
    // The rule's port is used (no -p) …
    env.write_config(&format!(
        "[[rules]]\nmatch_name = \"127.0.0.*\"\nport = {}\n",
        server.port()
    ))
    .unwrap();
    let out = env.run(&["ssh", "127.0.0.1", "--", "echo", "by-rule"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "by-rule\n", "{}", out.stderr);
    // … and so is its user (one the device does not accept: ssh names it).
    env.write_config(&format!(
        "[[rules]]\nmatch_name = \"127.0.0.1\"\nport = {}\nuser = \"napsh-no-such-user\"\n",
        server.port()
    ))
    .unwrap();
    let out = env.run(&["ssh", "127.0.0.1", "--", "true"]);
    out.expect_code(255);
    assert!(out.stderr.contains("napsh-no-such-user@"), "{}", out.stderr);
}

#[test]
fn lan_sims_pins_the_address_to_the_sims_host_key() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let sim_id = env.sim_id("kiosk-svc");
    let device_port = env
        .emulator()
        .devices()
        .into_iter()
        .find(|d| d.name == "kiosk-svc")
        .and_then(|d| d.ssh_port)
        .expect("kiosk-svc has an sshd");
    env.write_config(&format!("[lan_sims]\n\"127.0.0.1\" = \"{sim_id}\"\n"))
        .unwrap();
    // Pinned through Napter first …
    env.run(&["ssh", "kiosk-svc", "--", "true"]).expect_code(0);
    env.emulator().clear_request_log();
    // … the same device on the LAN matches that key: no new alias.
    let port = device_port.to_string();
    let out = env.run(&["ssh", "127.0.0.1", "-p", &port, "--", "echo", "same-device"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "same-device\n", "{}", out.stderr);
    assert_eq!(pinned_aliases(&env), std::slice::from_ref(&sim_id));
    // Another machine answering on that address is refused.
    let impostor = lan(&env, "impostor");
    let port = impostor.port().to_string();
    let out = env.run(&["ssh", "127.0.0.1", "-p", &port, "--", "echo", "impostor"]);
    out.expect_code(6);
    assert!(!out.stdout.contains("impostor"));
    assert!(out.stderr.contains(&sim_id), "{}", out.stderr);
    assert!(env.request_log().is_empty(), "{:?}", env.calls());
}

// ---------------------------------------------------------------------------------------------
// Completions, man pages, JSON listings, progress

fn napsh_plain(args: &[&str]) -> Output {
    Output::from(
        std::process::Command::new(env!("CARGO_BIN_EXE_napsh"))
            .args(args)
            .output()
            .unwrap(),
    )
}

#[rstest]
#[case::bash("bash", "complete -F _napsh")]
#[case::zsh("zsh", "#compdef napsh")]
#[case::fish("fish", "complete -c napsh")]
fn completion_scripts_are_produced(#[case] shell: &str, #[case] marker: &str) {
    let out = napsh_plain(&["completions", shell]);
    out.expect_code(0);
    assert!(out.stdout.contains(marker), "{}", out.stdout);
    for sub in ["ssh", "devices", "known-hosts", "man"] {
        assert!(out.stdout.contains(sub), "{shell} completion lacks {sub}");
    }
}

#[rstest]
#[case::subcommand("napsh ss", "ssh")]
#[case::known_hosts_sub("napsh known-hosts l", "list")]
#[case::option("napsh ssh --ke", "--keep")]
fn bash_completion_completes(#[case] line: &str, #[case] expected: &str) {
    require_tool("bash", "apt-get install -y bash");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("napsh.bash");
    std::fs::write(&script, napsh_plain(&["completions", "bash"]).stdout).unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "source {script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT={point}\n_napsh napsh '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = words.join(" "),
        cword = words.len() - 1,
        point = line.len(),
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    let replies = String::from_utf8_lossy(&out.stdout);
    assert!(
        replies.lines().any(|l| l.trim() == expected),
        "completing {line:?} gave {replies:?} (stderr {})",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_man_page_renders() {
    require_tool("man", "apt-get install -y man-db groff-base");
    let out = napsh_plain(&["man"]);
    out.expect_code(0);
    assert!(out.stdout.contains(".TH napsh 1"), "{}", out.stdout);
    assert!(out.stdout.contains(".SH SYNOPSIS"));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("napsh.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    assert!(
        text.contains("SYNOPSIS") && text.contains("napsh-ssh(1)"),
        "{text}"
    );
}

#[test]
fn man_dir_writes_one_page_per_command() {
    require_tool("groff", "apt-get install -y groff-base");
    let dir = tempfile::tempdir().unwrap();
    let out = napsh_plain(&["man", "--dir", &dir.path().display().to_string()]);
    out.expect_code(0);
    for page in [
        "napsh.1",
        "napsh-ssh.1",
        "napsh-devices.1",
        "napsh-known-hosts-list.1",
        "napsh-man.1",
    ] {
        assert!(
            dir.path().join(page).exists(),
            "{page} missing; wrote:\n{}",
            out.stdout
        );
    }
    let rendered = std::process::Command::new("groff")
        .args(["-man", "-Tutf8"])
        .arg(dir.path().join("napsh-ssh.1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        text.contains("SERVICE") && text.contains("lan_sims"),
        "{text}"
    );
}

#[test]
fn known_hosts_list_is_json_and_a_table() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    assert!(pinned_aliases(&env).is_empty());
    env.run(&["ssh", "kiosk-svc", "--", "true"]).expect_code(0);
    let sim_id = env.sim_id("kiosk-svc");
    assert_eq!(pinned_aliases(&env), std::slice::from_ref(&sim_id));
    let out = env.run(&["known-hosts", "list"]);
    out.expect_code(0);
    let row = out.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        row.starts_with(&sim_id) && row.contains("ssh-ed25519") && row.contains("SHA256:"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_spinner_shows_only_on_a_terminal() {
    require_tool("script", "apt-get install -y util-linux (for `script`)");
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    env.emulator().set_latency(napsh_emulator_latency(1500));
    // Not a terminal: nothing on stderr at all.
    let out = env.run(&["devices", "--refresh"]);
    out.expect_code(0);
    assert!(
        out.stderr.is_empty(),
        "stderr must stay clean: {:?}",
        out.stderr
    );
    // A terminal: the spinner's message is drawn (and the table still printed).
    let napsh = env.napsh_bin().display().to_string();
    let run = |args: &str| {
        let out = std::process::Command::new("script")
            .args(["-qefc", &format!("'{napsh}' {args}"), "/dev/null"])
            .env_clear()
            .envs(env.napsh_env())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = run("devices --refresh");
    assert!(text.contains("fetching the device list"), "{text:?}");
    assert!(text.contains("kiosk-svc"), "{text:?}");
    // --json never gets one, even on a terminal.
    let text = run("devices --refresh --json");
    assert!(!text.contains("fetching"), "{text:?}");
    assert!(text.trim_start().starts_with('['), "{text:?}");
}

/// Latency added to every /v1 call.
fn napsh_emulator_latency(ms: u64) -> napsh_e2e::device::LatencyConfig {
    napsh_e2e::device::LatencyConfig {
        default_ms: ms,
        ..Default::default()
    }
}

#[rstest]
#[case(&["man", "--help"])]
#[case(&["known-hosts", "list", "--help"])]
#[case(&["ssh", "--help"])]
fn new_help_texts_have_examples(#[case] args: &[&str]) {
    let out = napsh_plain(args);
    out.expect_code(0);
    assert!(out.stdout.contains("Examples:\n  napsh"), "{}", out.stdout);
    if args[0] == "ssh" {
        for needle in [
            "napsh ssh kiosk-12 web",
            "napsh ssh pi@192.168.1.20",
            "lan_sims",
        ] {
            assert!(out.stdout.contains(needle), "ssh --help lacks {needle}");
        }
    }
}

#[test]
fn a_lan_connection_needs_no_soracom_profile() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    std::fs::remove_file(env.profile_path()).unwrap();
    let server = lan(&env, "bench");
    let port = server.port().to_string();
    let out = env.run(&["ssh", "127.0.0.1", "-p", &port, "--", "echo", "bench-ok"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "bench-ok\n", "{}", out.stderr);
    // A Soracom device still needs the profile (the check above could not pass by accident).
    env.run(&["ssh", "kiosk-svc", "--", "true"]).expect_code(3);
    assert!(env.request_log().is_empty(), "{:?}", env.calls());
}
