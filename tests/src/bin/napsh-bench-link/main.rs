//! The link benchmark (`scripts/bench-link.sh`): `napsh ssh` over a bad cellular link, against
//! the emulator's data-plane faults with real sshd devices running real tmux. Measured: how
//! soon a blackholed link is found and how soon the session is back once the link returns, how
//! soon a cut link is resumed, the output lost in a long session cut three times, and keystroke
//! echo and a 10 MB transfer through `napsh ssh` against plain `ssh` under cellular shaping.
//! Markdown on stdout; nothing is asserted.
//!
//! `napsh-bench-link [--napsh PATH] [--runs N] [--session-secs S] [--mb M]`

mod pty;

use anyhow::{bail, Context, Result};
use napsh_e2e::session::{max_count, Counter, NapshTerminal};
use napsh_e2e::TestEnv;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The device every figure uses.
const DEVICE: &str = "kiosk-12";
/// What the terminal shows while napsh reconnects.
const RECONNECTING: &str = "lost — reconnecting (attempt";
/// Cellular shaping of the last figure: round trip and bandwidth.
const RTT_MS: u64 = 300;
/// Bandwidth of the shaped link, kbit/s.
const KBIT: u64 = 1000;
/// Keystrokes timed per client.
const KEYSTROKES: usize = 15;
/// Deadline for anything that should take seconds.
const WAIT: Duration = Duration::from_secs(60);

/// Command-line options.
struct Options {
    /// The napsh binary under test.
    napsh: PathBuf,
    /// Runs of the blackhole and cut figures.
    runs: usize,
    /// Length of the long session (three cuts inside it).
    session_secs: u64,
    /// Megabytes of the shaped transfer.
    mb: u64,
}

fn main() -> Result<()> {
    let options = parse_args()?;
    println!("## Link benchmarks\n");
    println!(
        "napsh {}; {} runs per timing; emulator data-plane faults; devices are real sshd with tmux.\n",
        options.napsh.display(),
        options.runs
    );
    blackhole_figure(&options)?;
    cut_figure(&options)?;
    long_session_figure(&options)?;
    shaped_figure(&options)?;
    Ok(())
}

fn parse_args() -> Result<Options> {
    let here = std::env::current_exe()?;
    let dir = here.parent().context("the bench binary has no directory")?;
    let mut options = Options {
        napsh: dir.join("napsh"),
        runs: 3,
        session_secs: 300,
        mb: 10,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--napsh" => options.napsh = PathBuf::from(value()?),
            "--runs" => options.runs = value()?.parse()?,
            "--session-secs" => options.session_secs = value()?.parse()?,
            "--mb" => options.mb = value()?.parse()?,
            other => bail!("unknown argument {other:?}"),
        }
    }
    anyhow::ensure!(
        options.napsh.exists(),
        "{} does not exist",
        options.napsh.display()
    );
    Ok(options)
}

/// A fresh env with one spawned device.
fn env(options: &Options) -> TestEnv {
    let fleet = format!("[[devices]]\nname = {DEVICE:?}\nonline = true\nssh = \"spawn\"\n");
    TestEnv::start(options.napsh.to_str().expect("UTF-8 path"), &fleet)
}

/// `napsh ssh --resume DEVICE` in a terminal, a counter running in the device's tmux.
fn resumed_with_counter(env: &TestEnv, dir: &std::path::Path) -> Result<(NapshTerminal, Counter)> {
    let napsh = NapshTerminal::start(env, &["ssh", "--resume", DEVICE])?;
    napsh.term.wait_for_screen("[napsh]", WAIT)?;
    let counter = Counter::start(&napsh.term, dir)?;
    Ok((napsh, counter))
}

/// Waits until the terminal shows counts above `above` and no status line: resumed.
fn wait_resumed(napsh: &NapshTerminal, above: u64) -> Result<()> {
    napsh
        .term
        .wait_for(WAIT, |s| {
            max_count(s) > above + 2 && !s.contains(RECONNECTING)
        })
        .map(|_| ())
}

/// Ends a resumed session from inside (Ctrl-C ends the counter, tmux, ssh and napsh).
fn finish(napsh: &NapshTerminal) -> Result<()> {
    napsh.term.send_keys(&["C-c"]);
    napsh.wait_exit(WAIT).map(|_| ())
}

/// Median and spread of durations, in seconds.
fn summary(mut values: Vec<Duration>) -> String {
    values.sort();
    let s = |d: &Duration| format!("{:.1}", d.as_secs_f64());
    format!(
        "{} s (min {}, max {}, n = {})",
        s(&values[values.len() / 2]),
        s(&values[0]),
        s(&values[values.len() - 1]),
        values.len()
    )
}

/// A 30 s blackhole: time until napsh shows the link lost, and from the link's return until
/// the session shows new output.
fn blackhole_figure(options: &Options) -> Result<()> {
    let (mut found, mut back) = (Vec::new(), Vec::new());
    for _ in 0..options.runs {
        let env = env(options);
        let dir = tempfile::tempdir()?;
        let (napsh, counter) = resumed_with_counter(&env, dir.path())?;
        let start = Instant::now();
        env.blackhole_device(DEVICE, 30);
        napsh.term.wait_for_screen(RECONNECTING, WAIT)?;
        found.push(start.elapsed());
        wait_resumed(&napsh, counter.value())?;
        back.push(start.elapsed().saturating_sub(Duration::from_secs(30)));
        finish(&napsh)?;
    }
    println!("### Blackhole (30 s: nothing forwarded, nothing closed; TCP still ACKed)\n");
    println!("| what | time |\n|---|---|");
    println!(
        "| link found dead (blackhole start → status line) | {} |",
        summary(found)
    );
    println!(
        "| link back → session shows new output | {} |\n",
        summary(back)
    );
    Ok(())
}

/// A cut (every connection reset): time until the session shows new output.
fn cut_figure(options: &Options) -> Result<()> {
    let env = env(options);
    let dir = tempfile::tempdir()?;
    let (napsh, counter) = resumed_with_counter(&env, dir.path())?;
    let mut back = Vec::new();
    for _ in 0..options.runs.max(3) {
        let start = Instant::now();
        env.cut_device(DEVICE);
        napsh.term.wait_for_screen(RECONNECTING, WAIT)?;
        wait_resumed(&napsh, counter.value())?;
        back.push(start.elapsed());
        std::thread::sleep(Duration::from_secs(1));
    }
    finish(&napsh)?;
    println!("### Cut (every connection reset)\n");
    println!("| what | time |\n|---|---|");
    println!(
        "| cut → session shows new output (first retry after 1 s) | {} |\n",
        summary(back)
    );
    Ok(())
}

/// A long session cut three times: counts missing from the device's tmux history (what the
/// user scrolls back to), whether the counting process survived — and, for contrast, the same
/// counter in a session without resume after one cut.
fn long_session_figure(options: &Options) -> Result<()> {
    let env = env(options);
    let dir = tempfile::tempdir()?;
    let (napsh, counter) = resumed_with_counter(&env, dir.path())?;
    let pid = counter.pid();
    let quarter = Duration::from_secs(options.session_secs / 4);
    for _ in 0..3 {
        std::thread::sleep(quarter);
        env.cut_device(DEVICE);
        napsh.term.wait_for_screen(RECONNECTING, WAIT)?;
        wait_resumed(&napsh, counter.value())?;
    }
    std::thread::sleep(quarter);
    let history = device_history(&env)?;
    let last = counter.value();
    let missing = (1..=last).filter(|n| !history.contains(n)).count();
    let survived = counter.pid() == pid && counter.alive();
    finish(&napsh)?;
    println!(
        "### {} s session, 3 cuts, a line of output every 0.2 s\n",
        options.session_secs
    );
    println!(
        "| | lines printed | lines missing from the device's tmux history | counting process |"
    );
    println!("|---|---|---|---|");
    println!(
        "| `napsh ssh --resume` | {last} | **{missing}** | {} |",
        if survived {
            "the same one throughout"
        } else {
            "REPLACED"
        }
    );
    println!(
        "| `napsh ssh` (no resume), one cut | {} |\n",
        plain_session_after_cut(&env)?
    );
    Ok(())
}

/// The `count=N` numbers in the device's tmux history of session `napsh`.
fn device_history(env: &TestEnv) -> Result<std::collections::BTreeSet<u64>> {
    let out = env.run(&["ssh", DEVICE, "--", "tmux capture-pane -p -J -S - -t napsh"]);
    anyhow::ensure!(out.code == 0, "capture-pane failed: {}", out.stderr);
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("count=")?.trim().parse().ok())
        .collect())
}

/// The counter in a plain session, then one cut: what became of it (one table row's cells).
fn plain_session_after_cut(env: &TestEnv) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let napsh = NapshTerminal::start(env, &["ssh", DEVICE])?;
    napsh
        .term
        .wait_for(WAIT, |s| s.trim_end().ends_with(['#', '$']))?;
    let counter = Counter::start(&napsh.term, dir.path())?;
    env.cut_device(DEVICE);
    let code = napsh.wait_exit(WAIT)?;
    std::thread::sleep(Duration::from_secs(2));
    let state = if counter.alive() {
        "alive, detached"
    } else {
        "killed with the session"
    };
    Ok(format!(
        "{} | everything after the cut (napsh exited {code}) | {state}",
        counter.value()
    ))
}

/// Under cellular shaping: keystroke echo and a transfer through `napsh ssh` and plain `ssh`
/// over the same mapping.
fn shaped_figure(options: &Options) -> Result<()> {
    let env = env(options);
    let out = env.run(&["connect", "--keep", DEVICE]);
    anyhow::ensure!(out.code == 0, "connect failed: {}", out.stderr);
    let mapping = env.mappings().remove(0);
    env.shape_device(DEVICE, RTT_MS, Some(KBIT));
    let plain = PlainSsh {
        env: &env,
        port: mapping.port,
    };
    println!("### Cellular shaping: {RTT_MS} ms round trip, {KBIT} kbit/s\n");
    println!("| client | keystroke echo, median of {KEYSTROKES} (min–max) | {} MB from the device | throughput |", options.mb);
    println!("|---|---|---|---|");
    let bytes = options.mb * 1_000_000;
    let rows: [(&str, Command, Option<Command>); 3] = [
        (
            "plain `ssh` to the mapping",
            plain.interactive(),
            Some(plain.command(bytes)),
        ),
        (
            "`napsh ssh`",
            napsh_cmd(&env, &["ssh", DEVICE]),
            Some(napsh_download(&env, bytes)),
        ),
        (
            "`napsh ssh --resume` (inside tmux)",
            napsh_cmd(&env, &["ssh", "--resume", DEVICE]),
            None,
        ),
    ];
    for (name, interactive, download) in rows {
        let echo = echo_latency(interactive, download.is_none())?;
        let (took, rate) = match download {
            Some(d) => transfer(d, bytes)?,
            None => {
                println!("| {name} | {echo} | (a command: as `napsh ssh`) | |");
                continue;
            }
        };
        println!(
            "| {name} | {echo} | {:.1} s | {rate:.0} kbit/s |",
            took.as_secs_f64()
        );
    }
    println!(
        "\n(A command never resumes: `napsh ssh --resume DEV -- CMD` transfers as `napsh ssh`.)\n"
    );
    Ok(())
}

/// ssh straight to the mapping endpoint, pinned nowhere (the reference).
struct PlainSsh<'a> {
    /// The env (its key and user).
    env: &'a TestEnv,
    /// The mapping's port on 127.0.0.1.
    port: u16,
}

impl PlainSsh<'_> {
    /// `ssh` with the env's key to the mapping, `-t` or with `remote` as command.
    fn base(&self, tty: bool) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-i").arg(self.env.key_path());
        for o in [
            "IdentitiesOnly=yes",
            "BatchMode=yes",
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "LogLevel=ERROR",
        ] {
            cmd.args(["-o", o]);
        }
        cmd.args(["-p", &self.port.to_string(), "-l", &self.env.user]);
        cmd.arg(if tty { "-t" } else { "-T" }).arg("127.0.0.1");
        cmd
    }

    /// An interactive session.
    fn interactive(&self) -> Command {
        self.base(true)
    }

    /// `head -c BYTES /dev/zero` on the device.
    fn command(&self, bytes: u64) -> Command {
        let mut cmd = self.base(false);
        cmd.arg(format!("head -c {bytes} /dev/zero"));
        cmd
    }
}

/// `napsh ARGS…` with the env's environment.
fn napsh_cmd(env: &TestEnv, args: &[&str]) -> Command {
    let mut cmd = Command::new(env.napsh_bin());
    cmd.env_clear().envs(env.napsh_env()).args(args);
    cmd
}

/// `napsh ssh DEVICE -- head -c BYTES /dev/zero`.
fn napsh_download(env: &TestEnv, bytes: u64) -> Command {
    let command = format!("head -c {bytes} /dev/zero");
    napsh_cmd(env, &["ssh", DEVICE, "--", &command])
}

/// Keystroke echo of an interactive session on a pty: each key typed at the prompt, timed
/// until its echo arrives.
fn echo_latency(command: Command, in_tmux: bool) -> Result<String> {
    let mut session = pty::Pty::spawn(command)?;
    let ready: &[u8] = if in_tmux { b"napsh" } else { b"# " };
    session.wait_for(ready, 0, WAIT).context("no prompt")?;
    std::thread::sleep(Duration::from_secs(2));
    let mut samples = Vec::new();
    // Letters tmux's status line (`[napsh] 0:bash*  "vm" 21:26 23-Nov-26`) never shows.
    for key in b"QWXZJKYQWXZJKYQWXZJKY".iter().copied().take(KEYSTROKES) {
        let from = session.printed();
        session.type_bytes(&[key])?;
        samples.push(session.wait_for(&[key], from, WAIT)?);
        std::thread::sleep(Duration::from_millis(300));
    }
    session.type_bytes(b"\x15exit\r")?;
    std::thread::sleep(Duration::from_secs(2));
    session.close();
    samples.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    Ok(format!(
        "{:.0} ms ({:.0}–{:.0})",
        ms(&samples[samples.len() / 2]),
        ms(&samples[0]),
        ms(&samples[samples.len() - 1])
    ))
}

/// Runs a download command, counting its stdout; wall time and kbit/s.
fn transfer(mut command: Command, bytes: u64) -> Result<(Duration, f64)> {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let got = std::io::copy(
        &mut child.stdout.take().context("stdout")?,
        &mut std::io::sink(),
    )?;
    child.wait()?;
    let took = start.elapsed();
    anyhow::ensure!(got == bytes, "transferred {got} of {bytes} bytes");
    Ok((took, got as f64 * 8.0 / 1000.0 / took.as_secs_f64()))
}
