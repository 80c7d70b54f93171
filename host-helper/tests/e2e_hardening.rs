//! Hardening end to end (issue 11): what devices, API answers and other local users control
//! never reaches the terminal raw, never gets a password or a pin it should not, and never
//! redirects napsh's files. `--json` of `history`, `keys list` and `audit` stays terminal-safe
//! with hostile names, comments and answers.

use napsh_e2e::fleet::{password_sshd, TempUser};
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
    let user = TempUser::create().expect("creating a throwaway user");
    let sshd_dir = tempfile::tempdir().unwrap();
    let sshd = password_sshd(sshd_dir.path()).unwrap();
    let fleet = format!(
        "[[devices]]\nname = \"keydev\"\nonline = true\nssh = \"127.0.0.1:{}\"\n",
        sshd.port()
    );
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), &fleet);
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
    drop(env);
    drop(sshd);
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
