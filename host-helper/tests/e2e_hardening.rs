//! Hardening end to end (issue 11): what devices, API answers and other local users control
//! never reaches the terminal raw, never gets a password or a pin it should not, and never
//! redirects napsh's files. `--json` of `history`, `keys list` and `audit` stays terminal-safe
//! with hostile names, comments and answers.

use napsh_e2e::fleet::UserDevice;
use napsh_e2e::{assert_terminal_safe, write_private, TestEnv, AUTH_KEY, AUTH_KEY_ID};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

/// A name tag and a comment that a terminal would act on if printed raw: a bidi override, a
/// C1 CSI and a bidi isolate (all legal in JSON strings, so serde_json leaves them as they are).
const HOSTILE: &str = "evil\u{202e}txt.exe\u{9b}31m\u{2066}x";

/// `text` as a TOML basic string, every non-ASCII character as `\uXXXX`.
fn toml_string(text: &str) -> String {
    let body: String = text
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c.to_string(),
            c => format!("\\u{:04X}", c as u32),
        })
        .collect();
    format!("\"{body}\"")
}

/// `text` parsed as one JSON value, after checking that it is terminal-safe.
fn safe_json(what: &str, text: &str) -> Value {
    assert_terminal_safe(what, text.as_bytes());
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what} is not JSON ({e}): {text}"))
}

#[test]
fn history_json_escapes_hostile_names() {
    let fleet = format!(
        "[[devices]]\nname = {}\nonline = true\nssh = \"spawn\"\n",
        toml_string(HOSTILE)
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    let sim = env.sim_id(HOSTILE);
    env.run(&["ssh", &sim, "--", "true"]).expect_code(0);
    let out = env.run(&["history", "--json"]);
    out.expect_code(0);
    let entries = safe_json("history --json", &out.stdout);
    assert_eq!(entries[0]["device"], HOSTILE, "the same value, escaped");
}

#[test]
fn keys_list_json_escapes_hostile_comments() {
    let device = UserDevice::start("keydev").expect("a throwaway user and its sshd");
    let user = &device.user;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &device.fleet);
    let public = std::fs::read_to_string(env.key_path().with_extension("pub")).unwrap();
    let mut fields = public.split_whitespace();
    let (kind, blob) = (fields.next().unwrap(), fields.next().unwrap());
    user.write_authorized_keys(&format!("{kind} {blob} {HOSTILE}\n"))
        .unwrap();
    env.write_config(&format!(
        "[[rules]]\nmatch_name = \"keydev\"\nuser = {:?}\n",
        user.name
    ))
    .unwrap();
    let out = env.run(&["keys", "list", "keydev", "--json"]);
    out.expect_code(0);
    let keys = safe_json("keys list --json", &out.stdout);
    assert_eq!(keys[0]["comment"], HOSTILE, "the same value, escaped");
}

/// A reverse proxy in front of the emulator that answers `/v1/audit_logs/napter` itself with
/// a hostile entry: an API answer napsh cannot trust. Every other request passes through.
struct HostileApi {
    /// Where napsh connects.
    addr: SocketAddr,
}

impl HostileApi {
    /// Starts proxying to `upstream` (`http://127.0.0.1:PORT`) on a thread of the test.
    fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = proxy_one(conn, upstream);
                });
            }
        });
        HostileApi { addr }
    }
}

/// One request: read it, answer it (hostile audit) or forward it with `Connection: close`.
fn proxy_one(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        if line == "\r\n" || line.is_empty() {
            head.push("Connection: close\r\n\r\n".to_string());
            break;
        }
        head.push(line);
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    if head[0].contains("/v1/audit_logs/napter") {
        let entries = serde_json::json!([{
            "type": "CONNECTED",
            "createdAt": 1_700_000_000_000i64,
            "connectionId": HOSTILE,
        }])
        .to_string();
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{entries}",
            entries.len()
        );
        return client.write_all(answer.as_bytes());
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(head.concat().as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    client.write_all(&answer)
}

#[test]
fn audit_json_escapes_a_hostile_answer() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::ONE_SSH_DEVICE);
    let api = HostileApi::start(&env.emulator().api_url());
    let profile = serde_json::json!({
        "coverageType": "jp",
        "authKeyId": AUTH_KEY_ID,
        "authKey": AUTH_KEY,
        "endpoint": format!("http://{}", api.addr),
    });
    write_private(
        &env.profile_dir().join("hostile.json"),
        &profile.to_string(),
    )
    .unwrap();
    let out = env.run(&["--profile", "hostile", "audit", "kiosk-12", "--json"]);
    out.expect_code(0);
    let entries = safe_json("audit --json", &out.stdout);
    assert_eq!(
        entries[0]["connectionId"], HOSTILE,
        "the same value, escaped"
    );
}

/// `path`'s permission bits.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn exec_log_dir_refuses_a_directory_others_control() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::ONE_SSH_DEVICE);
    let shared = env.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let foreign = env.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::set_permissions(&foreign, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    for (dir, says) in [
        (&shared, "writable by others"),
        (&foreign, "owned by another user"),
    ] {
        let out = env.run(&[
            "exec",
            "--log-dir",
            dir.to_str().unwrap(),
            "kiosk-12",
            "--",
            "echo hi",
        ]);
        out.expect_code(2);
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "nothing written"
        );
    }
    assert!(env.mappings().is_empty(), "refused before any mapping");
}

#[test]
fn exec_log_files_never_follow_a_planted_link_or_keep_a_loose_mode() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::ONE_SSH_DEVICE);
    let logs = env.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let stem = napsh_core::fanout::log_file_stem("kiosk-12", &env.sim_id("kiosk-12"));
    let victim = env.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, logs.join(format!("{stem}.stdout"))).unwrap();
    let loose = logs.join(format!("{stem}.stderr"));
    std::fs::write(&loose, "old\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = env.run(&[
        "exec",
        "--log-dir",
        logs.to_str().unwrap(),
        "kiosk-12",
        "--",
        "echo out; echo err >&2",
    ]);
    out.expect_code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let stdout_log = logs.join(format!("{stem}.stdout"));
    assert!(std::fs::symlink_metadata(&stdout_log).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&stdout_log).unwrap(), "out\n");
    let stderr_log = std::fs::read_to_string(&loose).unwrap();
    assert!(
        stderr_log.ends_with("err\n") && !stderr_log.contains("old"),
        "{stderr_log}"
    );
    assert_eq!(mode(&stdout_log), 0o600);
    assert_eq!(
        mode(&loose),
        0o600,
        "a loose old file is replaced by a private one"
    );
}

#[test]
fn known_hosts_is_private_from_the_first_pin_and_a_loose_one_is_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::TWO_DEVICES);
    let known_hosts = env.path().join("data/napsh/known_hosts");
    env.run(&["ssh", "dev-a", "--", "true"]).expect_code(0);
    assert_eq!(
        env.pinned(&env.sim_id("dev-a")).len(),
        1,
        "ssh pinned the key"
    );
    assert_eq!(
        mode(&known_hosts),
        0o600,
        "created private, before ssh wrote it"
    );
    std::fs::set_permissions(&known_hosts, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.run(&["ssh", "dev-b", "--", "true"]).expect_code(0);
    assert_eq!(mode(&known_hosts), 0o600, "a loose one is made private");
    assert_eq!(env.pinned(&env.sim_id("dev-a")).len(), 1, "and kept");
}

/// A device command printing a CR line forgery, an OSC title, CSI cursor movement, a colour
/// and a CRLF line end.
const FORGING: &str =
    r"printf 'ok\r[other] forged\n\033]0;pwned\007\033[2A\033[31mred\033[0m\ncrlf\r\n'";
/// What it prints, byte for byte.
const FORGED_BYTES: &[u8] =
    b"ok\r[other] forged\n\x1b]0;pwned\x07\x1b[2A\x1b[31mred\x1b[0m\ncrlf\r\n";

/// `bytes` without SGR sequences (`ESC [` digits `;` `:` `m`), which only colour.
fn without_sgr(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\x1b[") {
            let end = bytes[i + 2..]
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';' || *b == b':'))
                .map(|p| i + 2 + p);
            if let Some(end) = end.filter(|e| bytes[*e] == b'm') {
                i = end + 1;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[test]
fn exec_output_is_inert_by_default_and_byte_exact_with_raw() {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), napsh_e2e::ONE_SSH_DEVICE);
    let shown = env
        .napsh()
        .args(["exec", "kiosk-12", "--", FORGING])
        .output()
        .unwrap();
    assert!(shown.status.success());
    assert_terminal_safe("exec stdout", &without_sgr(&shown.stdout));
    assert!(!shown.stdout.contains(&b'\r') && !shown.stdout.windows(2).any(|w| w == b"\x1b]"));
    let raw = env
        .napsh()
        .args(["exec", "--raw", "kiosk-12", "--", FORGING])
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    let prefix = b"[kiosk-12] ";
    let mut expected = Vec::new();
    for line in FORGED_BYTES.split_inclusive(|b| *b == b'\n') {
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(line);
    }
    assert_eq!(
        String::from_utf8_lossy(&raw.stdout),
        String::from_utf8_lossy(&expected),
        "every byte the device printed, after its prefix"
    );
    let help = env.run(&["exec", "--help"]);
    assert!(help.stdout.contains("--raw"), "{}", help.stdout);
}

/// A device's SSH port behind a crafted endpoint: a transparent relay to the real sshd until
/// `attack` is set; then each new connection first gets the sshd's version line, then a
/// forged KEX reply (msg 31) carrying `forged` (the device's pinned public key) before any
/// KEXINIT, then the rest of the sshd's bytes — the host-key guard bypass of issue 11 #2.
struct CraftedEndpoint {
    /// Where the fleet device's ssh points.
    addr: SocketAddr,
    /// The real sshd, once known.
    upstream: std::sync::Arc<std::sync::Mutex<Option<SocketAddr>>>,
    /// Forge from now on.
    attack: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The public key blob to forge with.
    forged: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

/// An SSH binary packet holding `payload`.
fn ssh_packet(payload: &[u8]) -> Vec<u8> {
    let padding = 8 - (5 + payload.len()) % 8 + 4;
    let mut out = ((1 + payload.len() + padding) as u32)
        .to_be_bytes()
        .to_vec();
    out.push(padding as u8);
    out.extend_from_slice(payload);
    out.extend(std::iter::repeat_n(0u8, padding));
    out
}

/// An SSH `string`.
fn ssh_string(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

/// The forged `SSH_MSG_KEX_ECDH_REPLY`: the key blob, an ephemeral key, a junk signature.
fn forged_reply(blob: &[u8]) -> Vec<u8> {
    let mut p = vec![31u8];
    p.extend(ssh_string(blob));
    p.extend(ssh_string(&[7u8; 32]));
    p.extend(ssh_string(
        &[ssh_string(b"ssh-ed25519"), ssh_string(&[1u8; 64])].concat(),
    ));
    ssh_packet(&p)
}

impl CraftedEndpoint {
    /// Starts listening (the upstream is set later).
    fn start() -> Self {
        use std::sync::{atomic::AtomicBool, Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = CraftedEndpoint {
            addr: listener.local_addr().unwrap(),
            upstream: Arc::new(Mutex::new(None)),
            attack: Arc::new(AtomicBool::new(false)),
            forged: Arc::new(Mutex::new(Vec::new())),
        };
        let (upstream, attack, forged) =
            (me.upstream.clone(), me.attack.clone(), me.forged.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Some(up) = *upstream.lock().unwrap() else {
                    continue;
                };
                let forged = attack
                    .load(std::sync::atomic::Ordering::SeqCst)
                    .then(|| forged_reply(&forged.lock().unwrap()));
                std::thread::spawn(move || {
                    let _ = Self::serve(client, up, forged);
                });
            }
        });
        me
    }

    /// One connection: relayed, with the forged reply after the version line when attacking.
    fn serve(client: TcpStream, up: SocketAddr, forged: Option<Vec<u8>>) -> std::io::Result<()> {
        let server = TcpStream::connect(up)?;
        let mut from_server = BufReader::new(server.try_clone()?);
        let mut to_client = client.try_clone()?;
        if let Some(forged) = forged {
            let mut version = Vec::new();
            from_server.read_until(b'\n', &mut version)?;
            to_client.write_all(&[version, forged].concat())?;
        }
        let (mut from_client, mut to_server) = (client, server);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_server);
            let _ = to_server.shutdown(std::net::Shutdown::Write);
        });
        std::io::copy(&mut from_server, &mut to_client)?;
        to_client.shutdown(std::net::Shutdown::Write)
    }
}

#[test]
fn tunnel_refuses_a_forged_kex_reply_sent_before_the_client_asked() {
    use base64::Engine;
    let crafted = CraftedEndpoint::start();
    let fleet = format!(
        "[[devices]]\nname = \"real\"\nonline = true\nssh = \"spawn\"\n\n\
         [[devices]]\nname = \"evil\"\nonline = true\nssh = \"{}\"\n",
        crafted.addr
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
    let real = env
        .emulator()
        .devices()
        .into_iter()
        .find(|d| d.name == "real")
        .unwrap();
    *crafted.upstream.lock().unwrap() =
        Some(SocketAddr::from(([127, 0, 0, 1], real.ssh_port.unwrap())));
    let tunnel = napsh_e2e::reach::RunningTunnel::start(&env, &["evil", "-p", "22:0"])
        .unwrap_or_else(|e| panic!("{e}"));
    let pinned = env.pinned(&env.sim_id("evil"));
    assert_eq!(
        pinned.len(),
        1,
        "one key pinned, from a real handshake: {pinned:?}"
    );
    let blob = pinned[0].split_whitespace().nth(2).unwrap();
    *crafted.forged.lock().unwrap() = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    crafted
        .attack
        .store(true, std::sync::atomic::Ordering::SeqCst);

    let forged = forged_reply(&crafted.forged.lock().unwrap());
    let mut client = TcpStream::connect(tunnel.local_for(22)).unwrap();
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    client.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").unwrap();
    let mut received = Vec::new();
    let _ = client.read_to_end(&mut received);
    assert!(
        !received
            .windows(forged.len())
            .any(|w| w == forged.as_slice()),
        "the forged reply reached the client: {:?}",
        String::from_utf8_lossy(&received)
    );
    let (code, stderr) = tunnel.stop();
    assert_eq!(code, 0);
    assert!(
        stderr.contains("refused: not relayed: the device sent message 31"),
        "{stderr}"
    );
}

/// A device whose sshd takes the password of a throwaway user, a config rule giving that
/// password to the device by name, and no key login: the password is the only way in.
fn password_device() -> (TestEnv, UserDevice) {
    let device = UserDevice::start("pwdev").expect("a throwaway user and its sshd");
    let user = &device.user;
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &device.fleet);
    let pw_file = env.path().join("device-password");
    write_private(&pw_file, &format!("{}\n", user.password)).unwrap();
    let config = format!(
        "default_user = {:?}\nsource_cidr = \"127.0.0.1/32\"\n\
         ssh_extra_args = [\"-o\", \"PubkeyAuthentication=no\", \"-o\", \"NumberOfPasswordPrompts=1\"]\n\
         [[rules]]\nmatch_name = \"pwdev\"\npassword_command = \"cat {}\"\n",
        user.name,
        pw_file.display()
    );
    write_private(&env.config_path(), &config).unwrap();
    (env, device)
}

#[test]
fn a_configured_password_goes_only_to_a_pinned_device_or_after_first_contact_is_trusted() {
    let (env, _device) = password_device();
    let sim = env.sim_id("pwdev");
    for args in [
        &["ssh", "pwdev", "--", "echo via-password"][..],
        &["exec", "pwdev", "--", "echo via-password"][..],
    ] {
        let refused = env.run(args);
        assert_ne!(refused.code, 0, "{}", refused.stdout);
        assert!(
            !refused.stdout.contains("via-password"),
            "{}",
            refused.stdout
        );
        assert!(
            refused
                .stderr
                .contains("not sending the configured password to pwdev")
                && refused.stderr.contains("--trust-first-contact"),
            "{}",
            refused.stderr
        );
        assert!(
            env.pinned(&sim).is_empty(),
            "nothing pinned by a refused first contact"
        );
    }
    let trusted = env.run(&[
        "ssh",
        "--trust-first-contact",
        "pwdev",
        "--",
        "echo via-password",
    ]);
    trusted.expect_code(0);
    assert_eq!(trusted.stdout, "via-password\n");
    assert_eq!(env.pinned(&sim).len(), 1, "first contact pinned the key");
    let pinned = env.run(&["exec", "pwdev", "--", "echo via-password"]);
    pinned.expect_code(0);
    assert!(pinned.stdout.contains("via-password"), "{}", pinned.stdout);
}

/// A `zellij` that only says its version and records every other call (no Zellij runs).
fn fake_zellij(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("zellij");
    let log = dir.join("zellij-calls");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a; do [ \"$a\" = --version ] && echo 'zellij 0.43.1' && exit 0; done\necho \"$*\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn web_refuses_a_server_on_its_port_that_it_did_not_start() {
    // Another local user took 127.0.0.1:PORT after a reboot and answers like Zellij.
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = fake.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in fake.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\n0.43.1",
            );
        }
    });
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), "");
    let state = serde_json::json!({
        "settings": {"bind": "127.0.0.1", "port": port, "cert": null, "key": null,
                     "session": "napsh", "picker_key": "Alt s", "profile": null},
        "started_server": true, "started_session": true, "token_name": null, "token_file": null,
    });
    write_private(
        &env.path().join("state/napsh/web/state.json"),
        &state.to_string(),
    )
    .unwrap();
    let bin = fake_zellij(env.path());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = napsh_e2e::Output::from(env.napsh().arg("web").env("PATH", path).output().unwrap());
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("port {port}"))
            && out
                .stderr
                .contains("not the Zellij web server napsh started"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("token"), "{}", out.stdout);
    let calls = std::fs::read_to_string(env.path().join("zellij-calls")).unwrap_or_default();
    assert!(!calls.contains("create-token"), "{calls}");
}
