//! The fault matrix (a `harness = false` test): every Soracom failure the emulator can inject ×
//! `devices`, `connect`, `ssh` (the create, and the delete at session end) and `mappings
//! close`, each against a fresh emulator with a real sshd. Every cell checks: the expected exit
//! code, one clear `napsh:` line naming what failed (the guide where it helps), no raw control
//! byte on the terminal, bounded retries that wait as long as the rate-limit header asks, no
//! hang, and zero leaked mappings in the emulator once the fault has cleared. The table is
//! printed and written to `target/fault-matrix.md`; any bad cell fails the run.
//!
//! `NAPSH_MATRIX_ONLY=<row substring>` runs only the matching rows.

use napsh_e2e::{fault_rule, terminal_unsafe, Fault, FaultRule, Output, TestEnv};
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use napsh_e2e::ONE_SSH_DEVICE as FLEET;

/// A command under test never takes longer than this; past it the cell is a hang.
const HANG_AFTER: Duration = Duration::from_secs(90);
/// The most requests napsh may make for one logical call (its retry bound).
const MAX_TRIES: usize = 3;
/// The wait the injected 429s ask for.
const RATE_LIMIT_SECS: u64 = 1;
/// A SIM id no device has.
const UNKNOWN_SIM: &str = "8942310099999999999";

/// The commands of the matrix (the columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// `napsh devices --refresh`.
    Devices,
    /// `napsh connect --json SIM` (what the picker runs per device).
    Connect,
    /// `napsh ssh SIM -- true`, the fault on the create.
    Ssh,
    /// `napsh ssh SIM -- true`, the fault on the delete when the session ends.
    SshCleanup,
    /// `napsh mappings close SIM` after a `napsh connect`.
    Close,
}

const COLUMNS: [Cmd; 5] = [
    Cmd::Devices,
    Cmd::Connect,
    Cmd::Ssh,
    Cmd::SshCleanup,
    Cmd::Close,
];

impl Cmd {
    fn title(self) -> &'static str {
        match self {
            Cmd::Devices => "devices",
            Cmd::Connect => "connect",
            Cmd::Ssh => "ssh (create)",
            Cmd::SshCleanup => "ssh (delete at end)",
            Cmd::Close => "mappings close",
        }
    }

    /// The request the fault is aimed at: method and path glob.
    fn target(self) -> (&'static str, &'static str) {
        match self {
            Cmd::Devices => ("GET", "/v1/sims"),
            Cmd::Connect | Cmd::Ssh => ("POST", "/v1/port_mappings/sims/*"),
            Cmd::SshCleanup | Cmd::Close => ("DELETE", "/v1/port_mappings/*/*"),
        }
    }

    fn args(self, sim: &str) -> Vec<String> {
        let args: &[&str] = match self {
            Cmd::Devices => &["devices", "--refresh"],
            Cmd::Connect => &["connect", "--json", sim],
            Cmd::Ssh | Cmd::SshCleanup => &["ssh", sim, "--", "true"],
            Cmd::Close => &["mappings", "close", sim],
        };
        args.iter().map(|a| a.to_string()).collect()
    }
}

/// How a row disturbs the world.
#[derive(Debug, Clone)]
enum Inject {
    /// An emulator fault rule on the column's target (`times`: `None` = every request).
    Fault(Fault, Option<u32>),
    /// The same, on another request than the column's target.
    FaultOn(&'static str, &'static str, Fault),
    /// The device goes offline after the preparation.
    Offline,
    /// The mapping expires (Soracom-side) after the preparation or mid-session.
    ExpireMapping,
    /// The device argument is a SIM id nobody has.
    UnknownArgument,
}

/// What a cell must end with.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Exit 0.
    Ok,
    /// This exit code and a failure line containing this phrase.
    Fail(i32, &'static str),
    /// The combination does not exist (with the reason, shown in the table).
    NotApplicable(&'static str),
}

/// A row: a fault and what each column must do.
struct Row {
    /// Row title.
    name: &'static str,
    /// The disturbance.
    inject: Inject,
    /// Expectations in `COLUMNS` order.
    expect: [Expect; 5],
    /// Drop the cached device list before the command (so the list is fetched through the
    /// fault).
    fresh_list: bool,
    /// `request_timeout_secs` for this row (napsh's client timeout).
    timeout_secs: Option<u64>,
}

fn rows() -> Vec<Row> {
    use Expect::{Fail, NotApplicable as Na, Ok};
    let rate_limit = Fault::RateLimit {
        retry_after_secs: RATE_LIMIT_SECS,
    };
    let no_delete_body = "a DELETE's 200 body is never read";
    vec![
        Row {
            name: "429 once (rate-limit headers)",
            inject: Inject::Fault(rate_limit.clone(), Some(1)),
            expect: [Ok, Ok, Ok, Ok, Ok],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "429 persistent",
            inject: Inject::Fault(rate_limit, None),
            expect: [
                Fail(5, "rate-limited"),
                Fail(5, "rate-limited"),
                Fail(5, "rate-limited"),
                Ok,
                Fail(5, "rate-limited"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "500",
            inject: Inject::Fault(Fault::Status { status: 500 }, None),
            expect: [
                Fail(5, "500"),
                Fail(5, "500"),
                Fail(5, "500"),
                Ok,
                Fail(5, "500"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "503",
            inject: Inject::Fault(Fault::Status { status: 503 }, None),
            expect: [
                Fail(5, "503"),
                Fail(5, "503"),
                Fail(5, "503"),
                Ok,
                Fail(5, "503"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "client timeout (3 s answer, 1 s timeout)",
            inject: Inject::Fault(Fault::Delay { ms: 3000 }, None),
            expect: [
                Fail(5, "timed out"),
                Fail(5, "timed out"),
                Fail(5, "timed out"),
                Ok,
                Fail(5, "timed out"),
            ],
            fresh_list: false,
            timeout_secs: Some(1),
        },
        Row {
            name: "connection reset",
            inject: Inject::Fault(Fault::DropConnection, None),
            expect: [
                Fail(5, "could not reach Soracom"),
                Fail(5, "could not reach Soracom"),
                Fail(5, "could not reach Soracom"),
                Ok,
                Fail(5, "could not reach Soracom"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "malformed JSON",
            inject: Inject::Fault(Fault::MalformedJson, None),
            expect: [
                Fail(5, "malformed"),
                Fail(5, "malformed"),
                Fail(5, "malformed"),
                Na(no_delete_body),
                Na(no_delete_body),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "malformed JSON in the mapping list",
            inject: Inject::FaultOn("GET", "/v1/port_mappings", Fault::MalformedJson),
            expect: [
                Fail(5, "malformed"),
                Fail(5, "malformed"),
                Fail(5, "malformed"),
                Na("covered by ssh (create)"),
                Fail(5, "malformed"),
            ],
            fresh_list: true,
            timeout_secs: None,
        },
        Row {
            name: "truncated body",
            inject: Inject::Fault(Fault::TruncatedBody, None),
            expect: [
                Fail(5, "cut short"),
                Fail(5, "cut short"),
                Fail(5, "cut short"),
                Ok,
                Fail(5, "cut short"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "invalid UTF-8 in name tags",
            inject: Inject::FaultOn("GET", "/v1/sims/**", Fault::InvalidUtf8),
            expect: [Ok, Ok, Ok, Na("covered by ssh (create)"), Ok],
            fresh_list: true,
            timeout_secs: None,
        },
        Row {
            name: "expired token (401)",
            inject: Inject::Fault(Fault::ExpireToken, Some(1)),
            expect: [Ok, Ok, Ok, Ok, Ok],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "SAM permission denied (403)",
            inject: Inject::Fault(Fault::PermissionDenied, None),
            expect: [
                Fail(3, "denied"),
                Fail(3, "denied"),
                Fail(3, "denied"),
                Ok,
                Fail(3, "denied"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "unknown SIM (404 from the API)",
            inject: Inject::Fault(Fault::Status { status: 404 }, None),
            expect: [
                Fail(4, "not found"),
                Fail(4, "not found"),
                Fail(4, "not found"),
                Na("a 404 on DELETE means already gone"),
                Na("see the next row"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "unknown SIM (argument)",
            inject: Inject::UnknownArgument,
            expect: [
                Na("takes no device"),
                Fail(2, "no device named"),
                Fail(2, "no device named"),
                Na("covered by ssh (create)"),
                Fail(2, "no device named"),
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "device offline",
            inject: Inject::Offline,
            expect: [
                Ok,
                Fail(4, "offline"),
                Fail(4, "offline"),
                Na("covered by ssh (create)"),
                Ok,
            ],
            fresh_list: true,
            timeout_secs: None,
        },
        Row {
            // connect and ssh trust a device list younger than 60 s that says online and
            // unmapped (one API call instead of three): connect hands out the endpoint, and
            // the session that uses it finds the device offline.
            name: "device offline since the list was cached",
            inject: Inject::Offline,
            expect: [
                Ok,
                Ok,
                Fail(4, "offline"),
                Na("covered by ssh (create)"),
                Ok,
            ],
            fresh_list: false,
            timeout_secs: None,
        },
        Row {
            name: "mapping expired mid-session",
            inject: Inject::ExpireMapping,
            expect: [
                Ok,
                Ok,
                Fail(255, "expired or was deleted outside napsh"),
                Na("covered by ssh (create)"),
                Ok,
            ],
            fresh_list: false,
            timeout_secs: None,
        },
    ]
}

/// The outcome of one cell.
struct CellResult {
    /// Short text for the table.
    summary: String,
    /// What was wrong (empty: the cell is good).
    problems: Vec<String>,
    /// The failure line (or warning) the user saw, if any.
    said: Option<String>,
}

/// What a command run left behind.
struct Run {
    /// Exit code and streams (`None` when it hung and was killed).
    output: Option<Output>,
    /// Wall time.
    took: Duration,
}

fn main() {
    let only = std::env::var("NAPSH_MATRIX_ONLY").ok();
    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| only.as_deref().is_none_or(|o| r.name.contains(o)))
        .collect();
    let started = Instant::now();
    let mut table = vec![header()];
    // Not-applicable cells run nothing: they are counted apart, not as passed tests.
    let (mut good, mut bad, mut not_applicable) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut messages = Vec::new();
    for row in &rows {
        let mut cells = Vec::new();
        for (i, cmd) in COLUMNS.iter().enumerate() {
            let result = match row.expect[i] {
                Expect::NotApplicable(why) => {
                    not_applicable += 1;
                    cells.push(format!("— ({why})"));
                    continue;
                }
                expect => run_cell(row, *cmd, expect),
            };
            if result.problems.is_empty() {
                good += 1;
                cells.push(format!("✓ {}", result.summary));
            } else {
                bad += 1;
                cells.push(format!(
                    "✗ {}: {}",
                    result.summary,
                    result.problems.join("; ")
                ));
                failures.push(format!(
                    "{} × {}: {}",
                    row.name,
                    cmd.title(),
                    result.problems.join("; ")
                ));
            }
            eprintln!("{} × {}: {}", row.name, cmd.title(), cells.last().unwrap());
            if let Some(said) = result.said {
                messages.push(format!("- **{} × {}**: `{said}`", row.name, cmd.title()));
            }
        }
        table.push(format!("| {} | {} |", row.name, cells.join(" | ")));
    }
    let report = format!(
        "# napsh fault matrix\n\nEach cell: exit code · requests to the faulted call · wall time. \
         ✓ = expected exit code, one clear `napsh:` line (the guide where it helps), no raw \
         control bytes, at most {MAX_TRIES} tries waiting as long as the rate-limit headers ask, no \
         hang, and zero leaked mappings once the fault cleared.\n\n{}\n\n{good} good, {bad} bad \
         cells ({not_applicable} not applicable) in {:.0} s.\n\n## What napsh said\n\n{}\n",
        table.join("\n"),
        started.elapsed().as_secs_f64(),
        messages.join("\n")
    );
    println!("\n{report}");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../fault-matrix.md");
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("could not write {}: {e}", out.display());
    }
    for f in &failures {
        eprintln!("BAD CELL: {f}");
    }
    println!("fault matrix: {not_applicable} cells not applicable (not counted as tests)");
    let status = if bad == 0 { "ok" } else { "FAILED" };
    println!(
        "test result: {status}. {good} passed; {bad} failed; 0 ignored; 0 measured; 0 filtered out"
    );
    std::process::exit(if bad == 0 { 0 } else { 1 });
}

fn header() -> String {
    let titles: Vec<&str> = COLUMNS.iter().map(|c| c.title()).collect();
    format!(
        "| fault | {} |\n|---|{}",
        titles.join(" | "),
        "---|".repeat(COLUMNS.len())
    )
}

/// Runs one cell in a fresh environment and checks it.
fn run_cell(row: &Row, cmd: Cmd, expect: Expect) -> CellResult {
    let env = TestEnv::start(env!("CARGO_BIN_EXE_napsh"), FLEET);
    let mut extra = String::new();
    if let Some(secs) = row.timeout_secs {
        extra.push_str(&format!("request_timeout_secs = {secs}\n"));
    }
    env.write_config(&extra).expect("writing the config");
    let sim = env.sim_id("kiosk-12");
    let mut problems = Vec::new();
    prepare(&env, row, cmd, &sim);
    if row.fresh_list {
        drop_device_cache(&env);
    }
    env.emulator().clear_request_log();
    let mappings_before = env.mappings().len();
    let mut sim_arg = sim.clone();
    let rule = match &row.inject {
        Inject::Fault(fault, times) => {
            let (method, path) = cmd.target();
            Some(fault_rule(method, path, fault.clone(), *times))
        }
        Inject::FaultOn(method, path, fault) => Some(fault_rule(method, path, fault.clone(), None)),
        Inject::Offline => {
            env.emulator().set_online(&sim, false).unwrap();
            None
        }
        Inject::ExpireMapping => {
            if cmd != Cmd::Ssh {
                expire_all(&env);
            }
            None
        }
        Inject::UnknownArgument => {
            sim_arg = UNKNOWN_SIM.to_string();
            None
        }
    };
    if let Some(rule) = &rule {
        env.set_faults(vec![rule.clone()]);
    }
    let mid_session = matches!(row.inject, Inject::ExpireMapping) && cmd == Cmd::Ssh;
    let run = if mid_session {
        run_expiring_session(&env, &sim)
    } else {
        run_with_deadline(&env, &cmd.args(&sim_arg))
    };
    let Some(out) = run.output else {
        env.set_faults(vec![]);
        return CellResult {
            summary: "hang".into(),
            problems: vec![format!("no exit after {} s", HANG_AFTER.as_secs())],
            said: None,
        };
    };
    let tries = rule.as_ref().map(|r| matching(&env, r));
    let device_specific = matches!(row.inject, Inject::Fault(..) | Inject::Offline);
    check_exit(&out, cmd, expect, device_specific, &mut problems);
    if let Some(unsafe_text) = terminal_unsafe(format!("{}{}", out.stdout, out.stderr).as_bytes()) {
        problems.push(format!("terminal: {unsafe_text}"));
    }
    if let (Some(rule), Some(times)) = (&rule, &tries) {
        check_retries(&env, rule, times.len(), &mut problems);
    }
    check_immediate_leaks(&env, cmd, expect, mappings_before, &mut problems);
    if matches!(row.inject, Inject::ExpireMapping) && cmd == Cmd::Connect {
        check_endpoint_is_live(&env, &out, &mut problems);
    }
    check_recovers_without_leaks(&env, &mut problems);
    let said = failure_of(&out, cmd).0.or_else(|| {
        out.stderr
            .lines()
            .find(|l| l.starts_with("napsh: warning:"))
            .map(str::to_string)
    });
    let tries_text = tries
        .map(|t| format!(" · {}×", t.len()))
        .unwrap_or_default();
    CellResult {
        summary: format!(
            "exit {}{tries_text} · {:.1}s",
            out.code,
            run.took.as_secs_f64()
        ),
        problems,
        said,
    }
}

/// The world before the fault: a cached device list (and a token); for `mappings close`, and
/// for the expiry row outside a session, a live mapping made by `napsh connect`.
fn prepare(env: &TestEnv, row: &Row, cmd: Cmd, sim: &str) {
    env.run(&["devices"]).expect_code(0);
    let expiring = matches!(row.inject, Inject::ExpireMapping) && cmd != Cmd::Ssh;
    if cmd == Cmd::Close || expiring {
        env.run(&["connect", sim]).expect_code(0);
    }
}

/// Removes the cached device lists (the next command fetches the list).
fn drop_device_cache(env: &TestEnv) {
    let dir = env.path().join("cache/napsh");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("devices-") {
            std::fs::remove_file(entry.path()).expect("removing the device cache");
        }
    }
}

/// Expires every live mapping in the emulator now.
fn expire_all(env: &TestEnv) {
    for m in env.mappings() {
        assert!(env.emulator().expire_mapping(&m.ip_address, m.port));
    }
}

/// Runs napsh, killing it after [`HANG_AFTER`].
fn run_with_deadline(env: &TestEnv, args: &[String]) -> Run {
    let child = env
        .napsh()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning napsh");
    wait_with_deadline(child)
}

/// `napsh ssh SIM -- sleep 30`; once connected, its mapping expires.
fn run_expiring_session(env: &TestEnv, sim: &str) -> Run {
    let child = env
        .napsh()
        .args(["ssh", sim, "--", "sleep", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning napsh");
    let connected = env.wait_until(30, || {
        env.emulator()
            .audit_log()
            .iter()
            .any(|e| e.entry_type == "CONNECTED")
    });
    assert!(connected, "the session never connected");
    expire_all(env);
    wait_with_deadline(child)
}

fn wait_with_deadline(mut child: std::process::Child) -> Run {
    let started = Instant::now();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    loop {
        if let Some(status) = child.try_wait().expect("waiting for napsh") {
            return Run {
                output: Some(Output {
                    code: status.code().unwrap_or(-1),
                    stdout: stdout.join().unwrap(),
                    stderr: stderr.join().unwrap(),
                }),
                took: started.elapsed(),
            };
        }
        if started.elapsed() > HANG_AFTER {
            let _ = child.kill();
            let _ = child.wait();
            return Run {
                output: None,
                took: started.elapsed(),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drain(stream: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut s) = stream {
            let _ = s.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Arrival times (ms) of the requests the rule matches.
fn matching(env: &TestEnv, rule: &FaultRule) -> Vec<i64> {
    env.request_log()
        .iter()
        .filter(|r| rule.method.as_deref().is_none_or(|m| m == r.method))
        .filter(|r| napsh_e2e::path_matches(&rule.path, &r.path))
        .map(|r| r.at_ms)
        .collect()
}

/// The exit code, and for a failure one clear line (with the guide where it helps).
fn check_exit(
    out: &Output,
    cmd: Cmd,
    expect: Expect,
    device_specific: bool,
    problems: &mut Vec<String>,
) {
    let (code, phrase) = match expect {
        Expect::Ok => (0, None),
        Expect::Fail(code, phrase) => (code, Some(phrase)),
        Expect::NotApplicable(_) => return,
    };
    if out.code != code {
        problems.push(format!(
            "exit {} instead of {code}: {}",
            out.code,
            first_lines(&format!("{}{}", out.stdout, out.stderr))
        ));
    }
    let Some(phrase) = phrase else { return };
    let (message, guide) = failure_of(out, cmd);
    match message {
        None => problems.push(format!("no failure line: {}", first_lines(&out.stderr))),
        Some(m) if !m.contains(phrase) => problems.push(format!("{m:?} lacks {phrase:?}")),
        Some(_) => {}
    }
    // The guide is about a device: given when the device's own call failed (a failed
    // device list has no device to guide to).
    let guide_helps = matches!(code, 3..=5) && device_specific;
    if guide_helps && matches!(cmd, Cmd::Connect | Cmd::Ssh) && !guide {
        problems.push("no guide".into());
    }
}

/// The failure message (connect: from its JSON line; else the one `napsh:` line of stderr)
/// and whether the guide was given.
fn failure_of(out: &Output, cmd: Cmd) -> (Option<String>, bool) {
    if cmd == Cmd::Connect {
        let line = out.json_lines().into_iter().next();
        let message = line
            .as_ref()
            .and_then(|l| l["error"]["message"].as_str().map(str::to_string));
        let guide = line.as_ref().is_some_and(|l| l["guide"].is_string());
        return (message, guide);
    }
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("napsh: ") && !l.starts_with("napsh: warning:"))
        .collect();
    let message = match lines.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    };
    (message, out.stderr.contains("On-demand remote access"))
}

/// At most [`MAX_TRIES`] requests to the faulted call; after a 429 the next try waited at
/// least the advertised time.
fn check_retries(env: &TestEnv, rule: &FaultRule, tries: usize, problems: &mut Vec<String>) {
    if tries == 0 {
        problems.push(format!(
            "the fault on {} {} was never hit",
            rule.method.as_deref().unwrap_or("*"),
            rule.path
        ));
    }
    if tries > MAX_TRIES {
        problems.push(format!("{tries} tries (more than {MAX_TRIES})"));
    }
    if matches!(rule.fault, Fault::RateLimit { .. }) {
        let times = matching(env, rule);
        let floor = RATE_LIMIT_SECS as i64 * 1000 - 50;
        if let Some(w) = times.windows(2).find(|w| w[1] - w[0] < floor) {
            problems.push(format!(
                "retried after {} ms, not the advertised {RATE_LIMIT_SECS} s",
                w[1] - w[0]
            ));
        }
    }
}

/// Right after the command: a session's mapping is gone (unless its delete was the faulted
/// call), a failed connect created nothing, a failed close left the mapping it could not
/// delete and nothing else.
fn check_immediate_leaks(
    env: &TestEnv,
    cmd: Cmd,
    expect: Expect,
    before: usize,
    problems: &mut Vec<String>,
) {
    let now = env.mappings().len();
    let failed = matches!(expect, Expect::Fail(..));
    let allowed = match cmd {
        Cmd::Ssh => 0,
        Cmd::SshCleanup => 1,
        Cmd::Connect if failed => before,
        Cmd::Connect => before.max(1),
        Cmd::Close if failed => before,
        Cmd::Close => 0,
        Cmd::Devices => before,
    };
    if now > allowed {
        problems.push(format!("{now} mappings right after (at most {allowed})"));
    }
}

/// connect after the mapping expired outside napsh: the endpoint it reports is live.
fn check_endpoint_is_live(env: &TestEnv, out: &Output, problems: &mut Vec<String>) {
    let Some(line) = out.json_lines().into_iter().next() else {
        return problems.push("no JSON line".into());
    };
    let port = line["endpoint"]["port"].as_u64();
    if !env.mappings().iter().any(|m| Some(m.port as u64) == port) {
        problems.push(format!("reported a dead endpoint: {}", line["endpoint"]));
    }
}

/// Once the fault clears: the next napsh command reaps what a session left, and closing
/// napsh's mappings leaves the emulator with none.
fn check_recovers_without_leaks(env: &TestEnv, problems: &mut Vec<String>) {
    env.set_faults(vec![]);
    let sim = env.sim_id("kiosk-12");
    env.emulator().set_online(&sim, true).unwrap();
    env.write_config("").expect("writing the config");
    let next = env.run(&["devices"]);
    if next.code != 0 {
        problems.push(format!(
            "the next command failed: {}",
            first_lines(&next.stderr)
        ));
    }
    let close = env.run(&["mappings", "close", "--all"]);
    if close.code != 0 {
        problems.push(format!(
            "mappings close --all failed: {}",
            first_lines(&close.stderr)
        ));
    }
    let left = env.mappings();
    if !left.is_empty() {
        let endpoints: Vec<String> = left
            .iter()
            .map(|m| format!("{}:{}", m.ip_address, m.port))
            .collect();
        problems.push(format!("leaked mappings: {}", endpoints.join(", ")));
    }
}

fn first_lines(text: &str) -> String {
    text.lines().take(3).collect::<Vec<_>>().join(" / ")
}
