//! The napsh benchmark driver (run by `scripts/bench.sh`): the emulator in-process with 100 ms
//! of latency on every API call and real sshd devices, the `napsh` binary under test, every
//! figure measured side by side in one run and printed as a ratio (markdown on stdout).
//!
//! `napsh-bench [--napsh PATH] [--runs N]`; PATH defaults to the `napsh` next to this binary.

use anyhow::{bail, Context, Result};
use napsh_e2e::{EnvOptions, TestEnv};
use napsh_emulator::LatencyConfig;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Latency the emulator adds to every /v1 call.
const LATENCY_MS: u64 = 100;
/// Devices in the fleet of the list-refresh figure.
const LIST_SIMS: usize = 10_000;
/// Items per page of the emulator's list endpoints (Soracom's usual page).
const PAGE_SIZE: usize = 100;
/// Devices connected at once.
const FANOUT: usize = 20;

/// Command-line options.
struct Options {
    /// The napsh binary under test.
    napsh: PathBuf,
    /// Timed runs per figure (the median is reported).
    runs: usize,
}

fn main() -> Result<()> {
    let options = parse_args()?;
    println!("## napsh benchmarks\n");
    println!(
        "Emulator latency {LATENCY_MS} ms on every API call; medians of {} runs; napsh {}.\n",
        options.runs,
        options.napsh.display()
    );
    ssh_figures(&options)?;
    fanout_figures(&options)?;
    list_figures(&options)?;
    startup_figures(&options)?;
    Ok(())
}

fn parse_args() -> Result<Options> {
    let mut napsh = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .join("napsh");
    let mut runs = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--napsh" => napsh = PathBuf::from(args.next().context("--napsh PATH")?),
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            other => bail!("unknown argument {other:?} (use --napsh PATH, --runs N)"),
        }
    }
    anyhow::ensure!(
        napsh.exists(),
        "{} does not exist: build it with `cargo build --release -p napsh`",
        napsh.display()
    );
    Ok(Options { napsh, runs })
}

/// An env over `fleet` with latency on every API call.
fn env(options: &Options, fleet: &str) -> TestEnv {
    let env = TestEnv::start_with(
        options.napsh.to_str().expect("UTF-8 path"),
        fleet,
        EnvOptions {
            page_size: Some(PAGE_SIZE),
            ..Default::default()
        },
    );
    env.emulator().set_latency(LatencyConfig {
        default_ms: LATENCY_MS,
        ..Default::default()
    });
    env
}

/// Runs napsh and fails unless it exits 0.
fn napsh_ok(env: &TestEnv, args: &[&str]) -> Result<()> {
    let out = env.run(args);
    anyhow::ensure!(out.code == 0, "napsh {args:?} failed: {}", out.stderr);
    Ok(())
}

/// Wall time of `f`.
fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let started = Instant::now();
    f()?;
    Ok(started.elapsed())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Puts the env in the state a figure measures.
type Prepare = fn(&TestEnv) -> Result<()>;

/// 1 and 2: API calls and wall time of `napsh ssh DEV -- true` against a direct ssh.
fn ssh_figures(options: &Options) -> Result<()> {
    let env = env(options, napsh_e2e::ONE_SSH_DEVICE);
    let direct = median(
        (0..options.runs)
            .map(|_| timed(|| direct_ssh(&env)))
            .collect::<Result<_>>()?,
    );
    println!("### 1–2. `napsh ssh DEV -- true`\n");
    println!("Direct `ssh -- true` to the same sshd: {}.\n", ms(direct));
    println!("| state | API calls before the session (goal) | + after | wall time | ÷ (calls × {LATENCY_MS} ms + direct ssh) (goal ≤ 1.15) |");
    println!("|---|---|---|---|---|");
    let states: [(&str, &str, Prepare); 3] = [
        ("cold token (device list cached)", "2", |env| {
            napsh_ok(env, &["devices"])?;
            std::fs::remove_dir_all(env.path().join("cache/napsh/tokens"))
                .context("dropping the token cache")
        }),
        ("cached token", "1", |env| napsh_ok(env, &["devices"])),
        ("live mapping (`connect --keep` before)", "≤ 1", |env| {
            napsh_ok(env, &["devices"])?;
            napsh_ok(env, &["connect", "--keep", "kiosk-12"])
        }),
    ];
    for (state, goal, prepare) in states {
        let mut walls = Vec::new();
        let mut calls = (0, 0);
        for _ in 0..options.runs {
            prepare(&env)?;
            env.emulator().clear_request_log();
            walls.push(timed(|| {
                napsh_ok(&env, &["ssh", "kiosk-12", "--", "true"])
            })?);
            let log = env.calls();
            let after = log.iter().filter(|c| c.starts_with("DELETE ")).count();
            calls = (log.len() - after, after);
        }
        napsh_ok(&env, &["mappings", "close", "--all"])?;
        let wall = median(walls);
        let expected = Duration::from_millis((calls.0 + calls.1) as u64 * LATENCY_MS) + direct;
        println!(
            "| {state} | {} ({goal}) | {} | {} | {:.2} |",
            calls.0,
            calls.1,
            ms(wall),
            wall.as_secs_f64() / expected.as_secs_f64()
        );
    }
    println!();
    Ok(())
}

/// `ssh -- true` straight to the device's sshd, with the env's key.
fn direct_ssh(env: &TestEnv) -> Result<()> {
    let port = env.emulator().devices()[0]
        .ssh_port
        .context("the device has an sshd")?;
    let status = Command::new("ssh")
        .args(["-i"])
        .arg(env.key_path())
        .args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-p",
            &port.to_string(),
            "-l",
            &env.user,
            "127.0.0.1",
            "true",
        ])
        .stdin(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "direct ssh failed: {status}");
    Ok(())
}

/// 3: connecting 20 devices at once ÷ connecting one: `napsh connect D…` in one process, and
/// the picker's way (one `napsh connect --json SIM` per device, concurrently).
fn fanout_figures(options: &Options) -> Result<()> {
    let fleet: String = (0..FANOUT)
        .map(|i| format!("[[devices]]\nname = \"dev-{i:02}\"\nonline = true\n\n"))
        .collect();
    let env = env(options, &fleet);
    let sims: Vec<String> = (0..FANOUT)
        .map(|i| env.sim_id(&format!("dev-{i:02}")))
        .collect();
    let mut rows = Vec::new();
    for (way, n) in [("napsh connect D…", 1), ("napsh connect D…", FANOUT)] {
        let args: Vec<&str> = std::iter::once("connect")
            .chain(sims[..n].iter().map(String::as_str))
            .collect();
        let (wall, calls) = fanout_run(&env, options, |env| napsh_ok(env, &args))?;
        rows.push((way, n, wall, calls));
    }
    for n in [1, FANOUT] {
        let (wall, calls) = fanout_run(&env, options, |env| picker_connects(env, &sims[..n]))?;
        rows.push(("picker: `connect --json SIM` per device", n, wall, calls));
    }
    println!("### 3. Connecting {FANOUT} devices at once\n");
    println!("| how | devices | wall time | API calls | ÷ one device (goal ≤ 1.5) |");
    println!("|---|---|---|---|---|");
    for (i, (way, n, wall, calls)) in rows.iter().enumerate() {
        let one = rows[i - i % 2].2;
        println!(
            "| {way} | {n} | {} | {calls} | {:.2} |",
            ms(*wall),
            wall.as_secs_f64() / one.as_secs_f64()
        );
    }
    println!();
    Ok(())
}

/// Median wall time and the API calls of one run of `connect` (fresh device list and token
/// before each; the mappings closed after each).
fn fanout_run(
    env: &TestEnv,
    options: &Options,
    connect: impl Fn(&TestEnv) -> Result<()>,
) -> Result<(Duration, usize)> {
    let mut walls = Vec::new();
    let mut calls = 0;
    for _ in 0..options.runs {
        napsh_ok(env, &["devices", "--refresh"])?;
        env.emulator().clear_request_log();
        walls.push(timed(|| connect(env))?);
        calls = env.calls().len();
        napsh_ok(env, &["mappings", "close", "--all"])?;
    }
    Ok((median(walls), calls))
}

/// What the plugin does on Enter: one `napsh connect --json SIM` per device, all at once.
fn picker_connects(env: &TestEnv, sims: &[String]) -> Result<()> {
    let children: Vec<_> = sims
        .iter()
        .map(|sim| {
            env.napsh()
                .args(["connect", "--json", sim])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    for child in children {
        let out = child.wait_with_output()?;
        anyhow::ensure!(
            out.status.success(),
            "connect failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// 4: refreshing the device list of 10,000 SIMs: requests made ÷ the fewest the pagination
/// allows.
fn list_figures(options: &Options) -> Result<()> {
    let env = env(
        options,
        &format!("[generate]\ncount = {LIST_SIMS}\nonline_ratio = 0.7\n"),
    );
    napsh_ok(&env, &["devices", "--refresh"])?;
    env.emulator().clear_request_log();
    let wall = timed(|| napsh_ok(&env, &["devices", "--refresh"]))?;
    let sims = env.count_exact("GET", "/v1/sims");
    let maps = env.count_exact("GET", "/v1/port_mappings");
    let fewest = LIST_SIMS.div_ceil(PAGE_SIZE) + 1;
    println!("### 4. Device list refresh, {LIST_SIMS} SIMs ({PAGE_SIZE} per page)\n");
    println!("| requests (sims + mappings) | fewest possible | ratio (goal 1.00) | wall time |");
    println!("|---|---|---|---|");
    println!(
        "| {} ({sims} + {maps}) | {fewest} | {:.2} | {} |\n",
        sims + maps,
        (sims + maps) as f64 / fewest as f64,
        ms(wall)
    );
    Ok(())
}

/// 7: start-up time of `napsh --help` and of a cached `napsh devices --json`.
fn startup_figures(options: &Options) -> Result<()> {
    let env = env(options, "[[devices]]\nname = \"kiosk-12\"\nonline = true\n");
    napsh_ok(&env, &["devices"])?;
    env.emulator().clear_request_log();
    let runs = options.runs.max(20);
    let help = repeat(runs, || run_quiet(&["--help"], &env))?;
    let cached = repeat(runs, || run_quiet(&["devices", "--json"], &env))?;
    let calls = env.calls().len();
    println!("### 7. Start-up\n");
    println!("| command | median | fastest | API calls |");
    println!("|---|---|---|---|");
    println!(
        "| `napsh --help` | {} | {} | 0 |",
        ms(median(help.clone())),
        ms(*help.iter().min().unwrap())
    );
    println!(
        "| `napsh devices --json` (cached list, {runs} runs) | {} | {} | {calls} |\n",
        ms(median(cached.clone())),
        ms(*cached.iter().min().unwrap())
    );
    Ok(())
}

fn repeat(n: usize, f: impl Fn() -> Result<()>) -> Result<Vec<Duration>> {
    (0..n).map(|_| timed(&f)).collect()
}

/// Runs napsh in `env` with its output discarded; fails unless it exits 0.
fn run_quiet(args: &[&str], env: &TestEnv) -> Result<()> {
    let status = env
        .napsh()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "napsh {args:?} failed: {status}");
    Ok(())
}
