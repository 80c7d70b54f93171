//! napsh's reach for other tools, end to end against the emulator and real sshd devices:
//! `napsh tunnel` (HTTP and SSH through local forwards, port choice, partial failure, host-key
//! refusal), `napsh proxy` (a pure pipe with half-close), `napsh ssh-config` (the real scp,
//! sftp and rsync through the generated config, from paths with spaces and `%`; per-SIM trust)
//! and `napsh inventory` (the real `ansible -m ping`). Every test ends with no mapping left.
//! The session journal (`napsh history --json`) holds one `proxy` entry per ssh connection
//! and one `tunnel` entry per forward, with how each ended and no secret.

use napsh_e2e::journal;
use napsh_e2e::reach::{AwkwardInstall, Behaviour, LoopbackServer, RunningTunnel};
use napsh_e2e::{require_tool, Output, TestEnv};
use rstest::rstest;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

/// A fleet with one web device (`web-1`: real sshd + an HTTP server on device port 8080), a
/// second sshd device and an offline one.
fn fleet(http: &LoopbackServer) -> String {
    format!(
        r#"
[[devices]]
name = "web-1"
online = true
ssh = "spawn"
group_id = "grp-osaka"
tags = {{ role = "kiosk", site = "osaka" }}
ports = {{ 8080 = "{}" }}

[[devices]]
name = "cam-2"
online = true
ssh = "spawn"
tags = {{ role = "camera", site = "tokyo" }}

[[devices]]
name = "gone-3"
online = false
ssh = "spawn"
"#,
        http.addr()
    )
}

/// An env with the standard fleet; the HTTP server must outlive it.
fn start(http: &LoopbackServer) -> TestEnv {
    TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet(http))
}

/// Waits until the emulator has no mapping left (napsh deletes after its peer is gone).
fn assert_no_mapping_left(env: &TestEnv) {
    assert!(
        env.wait_until(20, || env.mappings().is_empty()),
        "mappings left behind: {:?}",
        env.mappings()
    );
}

/// An HTTP GET through `addr`, answered body.
fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connecting to the forward");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("reading the answer");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Runs a command, returning its output.
fn run(cmd: &mut Command) -> Output {
    Output::from(
        cmd.output()
            .unwrap_or_else(|e| panic!("running {cmd:?}: {e}")),
    )
}

/// The journal entries of `kind` once there are `count` of them (napsh writes an entry just
/// after deleting its mapping), checked free of secrets.
fn journaled(env: &TestEnv, kind: &str, count: usize) -> Vec<Value> {
    env.wait_until(20, || journal::entries(env, kind).len() >= count);
    let entries = journal::entries(env, kind);
    assert_eq!(entries.len(), count, "{kind} entries: {entries:#?}");
    entries
}

/// An entry of a session to `web-1` that went through a mapping of device port `port`.
fn assert_mapped_entry(env: &TestEnv, e: &Value, port: u16) {
    assert_eq!(e["device"], "web-1", "{e}");
    assert_eq!(e["simId"], env.sim_id("web-1").as_str(), "{e}");
    assert_eq!(e["port"], port, "{e}");
    assert!(
        e["mapping"].as_str().is_some_and(|m| m.contains(':')),
        "{e}"
    );
    assert!(e["source"].as_str().is_some_and(|s| s.contains('/')), "{e}");
}

/// ssh options of the env's key (what `ssh_extra_args` gives napsh).
fn key_args(env: &TestEnv) -> Vec<String> {
    vec![
        "-i".into(),
        env.key_path().display().to_string(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "BatchMode=yes".into(),
    ]
}

#[test]
fn tunnel_relays_http_and_ssh_logs_each_connection_and_deletes_its_mappings() {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let sim = env.sim_id("web-1");
    let tunnel = RunningTunnel::start(&env, &["web-1", "-p", "8080:0", "-p", "22:0"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(env.mappings().len(), 2, "one mapping per forward");

    let web = tunnel.local_for(8080);
    assert!(web.ip().is_loopback(), "default bind is 127.0.0.1: {web}");
    let answer = http_get(web, "/status");
    assert!(answer.starts_with("HTTP/1.0 200 OK"), "{answer}");
    assert!(
        answer.ends_with("hello from web-1 path=/status\n"),
        "{answer}"
    );

    let ssh_line = tunnel
        .lines
        .iter()
        .find(|l| l.trim_start().starts_with("ssh "))
        .expect("an ssh line for the SSH forward")
        .trim()
        .to_string();
    assert!(
        ssh_line.contains(&format!("HostKeyAlias={sim}")),
        "{ssh_line}"
    );
    let with_key = ssh_line.replacen("ssh ", &format!("ssh {} ", key_args(&env).join(" ")), 1);
    let out = run(Command::new("sh").args([
        "-c",
        &format!("timeout 15 {with_key} echo through-the-tunnel"),
    ]));
    out.expect_code(0);
    assert_eq!(out.stdout.trim(), "through-the-tunnel");

    let ssh_local = tunnel.local_for(22);
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0, "{stderr}");
    for (local, port) in [(web, 8080), (ssh_local, 22)] {
        let arrow = format!(" → {local} ⇒ web-1:{port}");
        assert!(stderr.contains(&arrow), "no `{arrow}` in:\n{stderr}");
    }
    assert_no_mapping_left(&env);
    assert!(TcpStream::connect(web).is_err(), "the listener is gone");

    let mut entries = journaled(&env, "tunnel", 2);
    entries.sort_by_key(|e| e["port"].as_u64());
    for (e, port) in entries.iter().zip([22, 8080]) {
        assert_mapped_entry(&env, e, port);
        assert_eq!(e["mappingReused"], false, "{e}");
        assert_eq!(e["exitCode"], 0, "stopped with SIGINT: {e}");
        assert!(e.get("error").is_none(), "{e}");
    }
}

#[test]
fn tunnel_takes_a_free_port_when_the_default_is_taken_and_warns_about_a_broken_forward() {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    // Device port `busy` (its sshd: no `ports` entry) with no LOCAL: the same local port is
    // taken, so another is picked and named; an explicit LOCAL that is taken is a warning.
    let busy_spec = busy.to_string();
    let explicit = format!("8080:127.0.0.1:{busy}");
    let tunnel = RunningTunnel::start(&env, &["web-1", "-p", &busy_spec, "-p", &explicit])
        .unwrap_or_else(|e| panic!("{e}"));
    let picked = tunnel.local_for(busy);
    assert_ne!(picked.port(), busy);
    let mut banner = [0u8; 8];
    TcpStream::connect(picked)
        .unwrap()
        .read_exact(&mut banner)
        .unwrap();
    assert_eq!(&banner, b"SSH-2.0-", "the forward reaches the device");
    let stderr = tunnel.stderr();
    assert!(
        stderr.contains(&format!("127.0.0.1:{busy} is not available (in use)"))
            && stderr.contains(&format!("from {picked} instead")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: -p 8080:127.0.0.1:{busy}: cannot listen on 127.0.0.1:{busy}: in use"
        )),
        "{stderr}"
    );
    assert_eq!(
        env.mappings().len(),
        1,
        "no mapping for the forward that cannot listen"
    );
    let (code, _) = tunnel.stop();
    assert_eq!(code, 0);
    assert_no_mapping_left(&env);

    let entries = journaled(&env, "tunnel", 2);
    let by_port = |p: u16| entries.iter().find(|e| e["port"] == p).expect("an entry");
    assert_mapped_entry(&env, by_port(busy), busy);
    assert_eq!(by_port(busy)["exitCode"], 0, "{entries:#?}");
    let broken = by_port(8080);
    assert_eq!(
        broken["error"], "config",
        "the forward that cannot listen: {broken}"
    );
    assert!(broken.get("mapping").is_none() && broken.get("exitCode").is_none());
}

#[rstest]
#[case::nothing_can_listen(&["web-1", "-p", "8080:127.0.0.1:BUSY"], 2, "no forward works (1 of 1 failed): cannot listen")]
#[case::offline_device(&["gone-3", "-p", "8080:0"], 4, "gone-3 is offline")]
#[case::bad_spec(&["web-1", "-p", "8080:[::1"], 2, "closing `]`")]
#[case::unknown_device(&["nope", "-p", "80"], 2, "nope")]
fn tunnel_fails_clearly_when_no_forward_works(
    #[case] args: &[&str],
    #[case] code: i32,
    #[case] message: &str,
) {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port().to_string();
    let args: Vec<String> = args.iter().map(|a| a.replace("BUSY", &busy)).collect();
    let mut full = vec!["tunnel".to_string()];
    full.extend(args);
    let out = env.run(&full.iter().map(String::as_str).collect::<Vec<_>>());
    out.expect_code(code);
    assert!(out.stderr.contains(message), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(env.mappings().is_empty(), "{:?}", env.mappings());
}

#[test]
fn tunnel_to_the_ssh_port_refuses_a_changed_host_key_at_start_and_per_connection() {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let sim = env.sim_id("web-1");
    // First use pins the key (through the tunnel's own check).
    let tunnel =
        RunningTunnel::start(&env, &["web-1", "-p", "22:0"]).unwrap_or_else(|e| panic!("{e}"));
    let local = tunnel.local_for(22);
    let known_hosts = env.path().join("data/napsh/known_hosts");
    let pinned = std::fs::read_to_string(&known_hosts).unwrap();
    assert!(
        pinned.lines().all(|l| l.starts_with(&format!("{sim} "))),
        "{pinned}"
    );

    env.block_on(env.emulator().rotate_host_key(&sim)).unwrap();
    // A connection through the running tunnel is now refused before any byte reaches ssh.
    let mut ssh = Command::new("ssh");
    ssh.args(key_args(&env))
        .args([
            "-p",
            &local.port().to_string(),
            "-o",
            &format!("HostKeyAlias={sim}"),
        ])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args([
            "-o",
            "StrictHostKeyChecking=yes",
            &format!("{}@127.0.0.1", env.user),
            "true",
        ]);
    run(&mut ssh).expect_code(255);
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0);
    assert!(
        stderr.contains("refused: the SSH host key of web-1"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("napsh known-hosts reset {sim}")),
        "{stderr}"
    );

    // A new tunnel does not even start its SSH forward.
    let out = env.run(&["tunnel", "web-1", "-p", "22:0"]);
    out.expect_code(6);
    assert!(
        out.stderr.contains("is not the one pinned"),
        "{}",
        out.stderr
    );
    assert_no_mapping_left(&env);
    // The journal: the first tunnel ran (exit 0), the second was refused at its key check
    // (with the mapping it checked through).
    let entries = journaled(&env, "tunnel", 2);
    assert_eq!(entries[0]["exitCode"], 0, "{entries:#?}");
    assert_mapped_entry(&env, &entries[1], 22);
    assert_eq!(entries[1]["error"], "host_key_changed", "{entries:#?}");
}

#[test]
fn proxy_is_a_pure_pipe_that_passes_half_close_and_respects_kept_mappings() {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let counter = LoopbackServer::start("counter", Behaviour::CountUntilEof);
    let body = format!(
        "{}\n[[devices]]\nname = \"count-4\"\nonline = true\nports = {{ 9000 = \"{}\" }}\n",
        fleet(&http),
        counter.addr()
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &body);
    let payload = vec![b'x'; 3 * 1024 * 1024 + 17];
    let pipe = |env: &TestEnv, args: &[&str]| {
        let mut child = env
            .napsh()
            .arg("proxy")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = payload.clone();
        // A proxy that fails never reads: the write may break, the exit code tells.
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().unwrap();
        let _ = writer.join();
        Output::from(out)
    };
    // stdin EOF → the device sees EOF → answers → its close ends our stdout: both ways.
    let out = pipe(&env, &["count-4", "9000"]);
    out.expect_code(0);
    assert_eq!(
        out.stdout,
        format!("got {} bytes", payload.len()),
        "stdout is the device's bytes only"
    );
    assert_no_mapping_left(&env);

    // stdin a regular file (no pipe for the kernel to splice from): the same bytes.
    let file = env.path().join("payload");
    std::fs::write(&file, &payload).unwrap();
    let out = run(env
        .napsh()
        .args(["proxy", "count-4", "9000"])
        .stdin(std::fs::File::open(&file).unwrap()));
    out.expect_code(0);
    assert_eq!(out.stdout, format!("got {} bytes", payload.len()));
    assert_no_mapping_left(&env);

    // A kept mapping is reused and left alone.
    env.run(&["connect", "--keep", "-p", "9000", "count-4"])
        .expect_code(0);
    let kept = env.mappings();
    let out = pipe(&env, &["count-4", "9000"]);
    out.expect_code(0);
    assert_eq!(out.stdout, format!("got {} bytes", payload.len()));
    assert_eq!(env.mappings().len(), 1);
    assert_eq!(
        env.mappings()[0].port,
        kept[0].port,
        "reused, not recreated"
    );
    env.run(&["mappings", "close", "--all"]).expect_code(0);

    let out = pipe(&env, &["gone-3", "22"]);
    out.expect_code(4);
    assert!(
        out.stdout.is_empty() && out.stderr.contains("gone-3 is offline"),
        "{}",
        out.stderr
    );
    assert_no_mapping_left(&env);
}

/// Installs the generated config (twice: the second run must change nothing) and returns the
/// `-F` file ssh tools are pointed at (ssh reads the real user's ~/.ssh, not $HOME's).
fn install_config(env: &TestEnv, install: &AwkwardInstall) -> std::path::PathBuf {
    let user_config = install.ssh_config();
    std::fs::create_dir_all(user_config.parent().unwrap()).unwrap();
    std::fs::write(&user_config, "Host example\n    User someone\n").unwrap();
    let first = run(install.napsh().args(["ssh-config", "--install"]));
    first.expect_code(0);
    let after_first = std::fs::read_to_string(&user_config).unwrap();
    run(install.napsh().args(["ssh-config", "--install"])).expect_code(0);
    let after_second = std::fs::read_to_string(&user_config).unwrap();
    assert_eq!(
        after_first, after_second,
        "a second install changes nothing"
    );
    assert_eq!(
        after_second.matches("Include ").count(),
        1,
        "{after_second}"
    );
    assert!(
        after_second.ends_with("Host example\n    User someone\n"),
        "{after_second}"
    );
    let backup = user_config.with_file_name("config.napsh-backup");
    assert_eq!(
        std::fs::read_to_string(backup).unwrap(),
        "Host example\n    User someone\n"
    );
    let generated = env.path().join("config/napsh/ssh_config");
    let text = std::fs::read_to_string(&generated).unwrap();
    assert!(
        text.contains("bin dir 100%%/napsh' --profile e2e proxy"),
        "{text}"
    );
    assert!(text.contains("data 50%% off/napsh/known_hosts\""), "{text}");
    user_config
}

/// `TOOL ARGS` with the install's environment; panics with both streams unless it succeeds.
fn tool(install: &AwkwardInstall, program: &str, args: &[&str]) -> Output {
    let out = run(install.command(program).args(args));
    assert_eq!(
        out.code, 0,
        "{program} {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

#[test]
fn scp_sftp_and_rsync_work_through_the_generated_config_from_awkward_paths() {
    for (t, hint) in [
        ("scp", "apt-get install -y openssh-client"),
        ("sftp", "apt-get install -y openssh-client"),
        ("rsync", "apt-get install -y rsync"),
    ] {
        require_tool(t, hint);
    }
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let install = AwkwardInstall::new(&env);
    let config = install_config(&env, &install);
    let cfg = config.display().to_string();
    let work = env.path().join("files");
    std::fs::create_dir_all(work.join("tree/sub")).unwrap();
    let payload: Vec<u8> = (0..2_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(work.join("payload.bin"), &payload).unwrap();
    std::fs::write(work.join("tree/a.txt"), "alpha\n").unwrap();
    std::fs::write(work.join("tree/sub/b.txt"), "beta\n").unwrap();
    let p = |name: &str| work.join(name).display().to_string();

    tool(
        &install,
        "scp",
        &[
            "-F",
            &cfg,
            &p("payload.bin"),
            &format!("web-1.napsh:{}", p("up.bin")),
        ],
    );
    assert_eq!(
        std::fs::read(work.join("up.bin")).unwrap(),
        payload,
        "scp upload"
    );
    let batch = work.join("batch");
    std::fs::write(&batch, format!("get {} {}\n", p("up.bin"), p("down.bin"))).unwrap();
    tool(
        &install,
        "sftp",
        &["-F", &cfg, "-b", &p("batch"), "web-1.napsh"],
    );
    assert_eq!(
        std::fs::read(work.join("down.bin")).unwrap(),
        payload,
        "sftp download"
    );
    let ssh = format!("ssh -F '{cfg}'");
    tool(
        &install,
        "rsync",
        &[
            "-a",
            "-e",
            &ssh,
            &format!("{}/", p("tree")),
            &format!("web-1.napsh:{}/", p("copy")),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(work.join("copy/sub/b.txt")).unwrap(),
        "beta\n",
        "rsync"
    );
    assert_eq!(
        std::fs::read_to_string(work.join("copy/a.txt")).unwrap(),
        "alpha\n"
    );
    let sim = env.sim_id("web-1");
    let out = tool(
        &install,
        "ssh",
        &["-F", &cfg, &format!("{sim}.napsh"), "echo", "by-sim-id"],
    );
    assert_eq!(out.stdout.trim(), "by-sim-id");

    let pinned = std::fs::read_to_string(install.known_hosts()).unwrap();
    assert!(
        pinned.lines().all(|l| l.starts_with(&format!("{sim} "))),
        "pinned per SIM only: {pinned}"
    );
    assert_no_mapping_left(&env);

    // scp, sftp, rsync and ssh: one `napsh proxy` each, ended when ssh hung up.
    for e in journaled(&env, "proxy", 4) {
        assert_mapped_entry(&env, &e, 22);
        assert_eq!(e["exitCode"], 0, "{e}");
        assert!(e.get("error").is_none(), "{e}");
    }
}

#[test]
fn trust_follows_the_sim_not_the_endpoint_and_a_changed_key_is_refused_on_the_proxy_path() {
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let install = AwkwardInstall::new(&env);
    let config = install_config(&env, &install);
    let cfg = config.display().to_string();
    let ssh = |host: &str| {
        run(install
            .command("ssh")
            .args(["-F", &cfg, host, "echo", "hi"]))
    };
    // `napsh ssh` and the generated config share one pin per SIM, in the same awkward file.
    run(install.napsh().args(["ssh", "web-1", "--", "true"])).expect_code(0);
    let pinned_by_napsh_ssh = std::fs::read_to_string(install.known_hosts()).unwrap();
    ssh("web-1.napsh").expect_code(0);
    assert_eq!(
        std::fs::read_to_string(install.known_hosts()).unwrap(),
        pinned_by_napsh_ssh
    );
    ssh("cam-2.napsh").expect_code(0);

    // web-1's recorded mapping now leads to cam-2 (as a Napter endpoint may later serve
    // another device): napsh never routes web-1 there. The lease asks web-1's own mapping list
    // first, forgets the record and makes web-1 a mapping of its own; cam-2's is left alone.
    run(install
        .napsh()
        .args(["connect", "--keep", "web-1", "cam-2"]))
    .expect_code(0);
    let registry_path = env.path().join("state/napsh/registry.json");
    let mut registry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&registry_path).unwrap()).unwrap();
    let entries = registry["entries"].as_array_mut().unwrap();
    let port_of = |entries: &Vec<serde_json::Value>, sim: &str| {
        entries.iter().find(|e| e["simId"] == sim).unwrap()["port"].clone()
    };
    let cam_port = port_of(entries, &env.sim_id("cam-2"));
    let web_sim = env.sim_id("web-1");
    for e in entries
        .iter_mut()
        .filter(|e| e["simId"] == web_sim.as_str())
    {
        e["port"] = cam_port.clone();
    }
    std::fs::write(&registry_path, serde_json::to_vec(&registry).unwrap()).unwrap();
    ssh("web-1.napsh").expect_code(0);
    assert!(
        env.mappings()
            .iter()
            .any(|m| Some(u64::from(m.port)) == cam_port.as_u64()),
        "cam-2's mapping survives: {:?}",
        env.mappings()
    );
    run(install
        .napsh()
        .args(["mappings", "close", "--all", "--any"]))
    .expect_code(0);
    std::fs::write(&registry_path, b"{\"entries\":[]}").unwrap();

    // A device whose own key changed is refused too.
    let cam_sim = env.sim_id("cam-2");
    env.block_on(env.emulator().rotate_host_key(&cam_sim))
        .unwrap();
    let out = ssh("cam-2.napsh");
    out.expect_code(255);
    assert!(
        out.stderr.contains("Host key verification failed"),
        "{}",
        out.stderr
    );
    ssh("web-1.napsh").expect_code(0);
    assert_no_mapping_left(&env);
}

/// A two-line inventory script, as the README shows.
fn inventory_script(install: &AwkwardInstall, dir: &Path) -> std::path::PathBuf {
    let script = dir.join("napsh-inventory");
    let quoted = format!(
        "'{}'",
        install.napsh.display().to_string().replace('\'', r"'\''")
    );
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {quoted} inventory \"$@\"\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// `program` (ansible, ansible-playbook) with this install's environment and its temporary
/// files, control sockets and Python inside the env.
fn ansible_command(env: &TestEnv, install: &AwkwardInstall, program: &str) -> Command {
    let mut cmd = install.command(program);
    cmd.env("LANG", "C.UTF-8")
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", env.path().join("cp"))
        .env("ANSIBLE_LOCAL_TEMP", env.path().join("ansible-tmp"))
        .env(
            "ANSIBLE_SSH_ARGS",
            "-o ControlMaster=auto -o ControlPersist=2s",
        )
        .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
        .env("ANSIBLE_TIMEOUT", "30")
        .env("ANSIBLE_NOCOLOR", "1");
    cmd
}

#[test]
fn ansible_pings_every_online_device_through_the_inventory() {
    require_tool("ansible", "apt-get install -y ansible-core");
    let http = LoopbackServer::start("web-1", Behaviour::Http);
    let env = start(&http);
    let install = AwkwardInstall::new(&env);
    let script = inventory_script(&install, env.path());
    let listed: serde_json::Value =
        serde_json::from_str(&tool(&install, script.to_str().unwrap(), &["--list"]).stdout)
            .unwrap();
    assert_eq!(
        listed["group_grp_osaka"]["hosts"],
        serde_json::json!(["web-1"])
    );
    assert_eq!(
        listed["tag_role_camera"]["hosts"],
        serde_json::json!(["cam-2"])
    );
    assert_eq!(
        listed["napsh_offline"]["hosts"],
        serde_json::json!(["gone-3"])
    );
    assert!(env.mappings().is_empty(), "listing creates no mapping");

    let mut cmd = ansible_command(&env, &install, "ansible");
    cmd.args(["-i", script.to_str().unwrap(), "all", "-m", "ping"]);
    let out = run(&mut cmd);
    assert_eq!(
        out.code, 4,
        "only the offline host is unreachable\n{}\n{}",
        out.stdout, out.stderr
    );
    for host in ["web-1", "cam-2"] {
        assert!(
            out.stdout.contains(&format!("{host} | SUCCESS")),
            "{host} should answer ping:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    assert_eq!(
        out.stdout.matches("\"ping\": \"pong\"").count(),
        2,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gone-3 | UNREACHABLE"),
        "{}",
        out.stdout
    );
    assert_no_mapping_left(&env);
}

#[test]
fn ansible_never_renders_templates_from_device_names_or_tags() {
    // Issue 1: Ansible renders `{{ … }}` in inventory variables, so a device named like this
    // ran a command on the operator's machine as soon as a playbook used `napsh_name`.
    require_tool("ansible-playbook", "apt-get install -y ansible-core");
    let dir = tempfile::Builder::new()
        .prefix("napsh-pwned-")
        .tempdir()
        .unwrap();
    let marker = |what: &str| dir.path().join(format!("pwned-by-{what}"));
    let evil = |what: &str| {
        format!(
            "{{{{ lookup('pipe','touch {}') }}}}",
            marker(what).display()
        )
    };
    let fleet = format!(
        "[[devices]]\nname = {:?}\nonline = false\ngroup_id = {:?}\ntags = {{ {:?} = {:?} }}\n",
        evil("name"),
        evil("group"),
        evil("tag-key"),
        evil("tag-value"),
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    let install = AwkwardInstall::new(&env);
    let script = inventory_script(&install, env.path());
    let playbook = env.path().join("show.yml");
    std::fs::write(
        &playbook,
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: var=napsh_name\n    \
         - debug:\n        msg: \"{{ napsh_name }} / {{ napsh_group }} / {{ napsh_tags }}\"\n    \
         - debug: var=hostvars[inventory_hostname]\n",
    )
    .unwrap();
    let mut cmd = ansible_command(&env, &install, "ansible-playbook");
    cmd.args(["-i", script.to_str().unwrap(), playbook.to_str().unwrap()]);
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for what in ["name", "group", "tag-key", "tag-value"] {
        assert!(
            !marker(what).exists(),
            "the {what} was rendered as a template:\n{}",
            out.stdout
        );
    }
    let literal = format!("\"napsh_name\": \"{}\"", evil("name"));
    assert!(out.stdout.contains(&literal), "{}", out.stdout);
    assert!(out.stdout.contains(&evil("tag-value")), "{}", out.stdout);
}
