//! `napsh doctor`: walks profile → auth → SIM online → mapping → TCP → SSH banner → host key →
//! login, printing ✓/✗ per step, and explains the first failure (its exit code is napsh's).

use crate::app::App;
use crate::cli::DoctorArgs;
use crate::error::{self, NapshError};
use crate::napter::lease::{device_port, duration, Lease, Leases};
use crate::napter::mapping::Holder;
use crate::output;
use crate::ssh::known_hosts::{host_key_changed, keyscan, pinned, verify};
use crate::ssh::launch::build_args;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::resolve::split_user;
use napsh_core::sanitize::{bytes_for_terminal, for_terminal, for_terminal_truncated};
use napsh_core::Device;
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

/// Steps in order (for the "skipped" lines).
const STEPS: [&str; 8] = [
    "profile",
    "authentication",
    "device",
    "mapping",
    "TCP reach",
    "SSH banner",
    "host key",
    "login",
];

/// Prints the outcome of step `i`.
fn step(i: usize, r: &Result<String>) {
    match r {
        Ok(detail) => output::line(&format!("✓ {}: {detail}", STEPS[i])),
        Err(e) => output::line(&format!("✗ {}: {}", STEPS[i], error::one_line(e))),
    }
}

/// Prints the failure summary and the skipped steps; returns the exit code.
fn fail_at(i: usize, e: &anyhow::Error) -> i32 {
    for name in &STEPS[i + 1..] {
        output::line(&format!("· {name}: skipped"));
    }
    output::line("");
    output::line(&format!(
        "The first failing step is \"{}\". {}",
        STEPS[i],
        error::find(e)
            .and_then(|t| t.hint.clone())
            .map(|h| format!("What to do: {h}."))
            .unwrap_or_default()
    ));
    error::kind_of(e).exit_code()
}

/// Runs a step; on failure returns early with its exit code.
macro_rules! check {
    ($i:expr, $e:expr) => {{
        let r: Result<_> = $e;
        match r {
            Ok((detail, value)) => {
                step($i, &Ok(detail));
                value
            }
            Err(e) => {
                step($i, &Err(anyhow::anyhow!("{}", error::one_line(&e))));
                return Ok(fail_at($i, &e));
            }
        }
    }};
}

/// Runs `napsh doctor`.
pub async fn run(app: &App, args: DoctorArgs) -> Result<i32> {
    let (user_at, name) = split_user(&args.target);
    check!(
        0,
        app.load_profile().map(|p| (
            format!(
                "'{}' from {} → {}",
                p.name,
                p.path.display(),
                for_terminal(&p.endpoint)
            ),
            ()
        ))
    );
    let client = app.client()?;
    check!(
        1,
        client
            .ensure_session()
            .await
            .map(|op| (format!("signed in (operator {op})"), ()))
    );
    let device: Device = check!(2, device_step(app, &client, name).await);
    let user = app
        .config
        .user_for(user_at.or(args.user.as_deref()), &device);
    let port = device_port(app, &args.mapping, &device);
    let (leases, ensured): (Leases, Lease) = check!(
        3,
        async {
            let leases = Leases::start(app, duration(app, &args.mapping)?).await?;
            let holder = Holder::Probe(leases.me.clone());
            let e = leases.acquire(app, &device, port, holder).await?;
            let how = if e.reused {
                "reusing"
            } else {
                "created for this check (deleted afterwards)"
            };
            Ok((
                format!(
                    "{}:{} → device port {port} ({how})",
                    for_terminal(&e.mapping.ip_address),
                    e.mapping.port
                ),
                (leases, e),
            ))
        }
        .await
    );
    let code = reach_and_login(app, &device, &ensured, &user).await;
    leases.release(&ensured, false).await;
    code
}

async fn device_step(
    app: &App,
    client: &crate::soracom::api::Client,
    name: &str,
) -> Result<(String, Device)> {
    let d = crate::napter::devices::resolve_all(app, &[name])
        .await?
        .remove(0);
    let sim = crate::napter::devices::fetch_sim(client, &d.sim_id).await?;
    let label = for_terminal(d.label());
    if !sim.session_status.as_ref().is_some_and(|s| s.online) {
        return Err(crate::napter::mapping::offline_error(d.label()));
    }
    Ok((format!("{label} (SIM {}) is online", d.sim_id), d))
}

/// Steps 4–7 against a mapping.
async fn reach_and_login(app: &App, device: &Device, ensured: &Lease, user: &str) -> Result<i32> {
    let ip = ensured.mapping.ip_address.clone();
    let port = ensured.mapping.port;
    let label = format!("{} (SIM {})", for_terminal(device.label()), device.sim_id);
    let stream = check!(
        4,
        tcp(&ip, port)
            .await
            .map(|s| (format!("{ip}:{port} accepts connections"), s))
    );
    check!(5, banner(stream).await.map(|b| (b, ())));
    check!(6, host_key(app, device, &ip, port, &label));
    check!(
        7,
        login(app, device, &ip, port, user).await.map(|d| (d, ()))
    );
    output::line("");
    output::line(&format!(
        "Everything works: `napsh ssh {}` should get you a shell.",
        device.sim_id
    ));
    Ok(0)
}

async fn tcp(ip: &str, port: u16) -> Result<tokio::net::TcpStream> {
    let hint = "the device may be off the network, sshd not listening on the device port, a firewall on the device, or the mapping's source range not matching your IP (VPN/proxy)";
    match tokio::time::timeout(
        Duration::from_secs(15),
        tokio::net::TcpStream::connect((ip, port)),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(NapshError::new(
            ErrorKind::Network,
            format!("cannot connect to {ip}:{port}: {e}"),
        )
        .hint(hint)
        .into()),
        Err(_) => Err(NapshError::new(
            ErrorKind::Timeout,
            format!("connecting to {ip}:{port} took more than 15 s"),
        )
        .hint(hint)
        .into()),
    }
}

async fn banner(stream: tokio::net::TcpStream) -> Result<String> {
    let hint = "something answers on the device port but it is not sshd: check the device port (--port / config rule)";
    let mut reader = tokio::io::BufReader::new(stream);
    for _ in 0..20 {
        let mut line = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(15), reader.read_until(b'\n', &mut line))
                .await;
        match read {
            Ok(Ok(0)) => break,
            Ok(Ok(_)) if line.starts_with(b"SSH-") => {
                return Ok(for_terminal_truncated(
                    bytes_for_terminal(&line)
                        .trim_end_matches("\\n")
                        .trim_end_matches("\\r"),
                    80,
                ));
            }
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => {
                return Err(
                    NapshError::new(ErrorKind::Ssh, format!("reading the SSH banner: {e}"))
                        .hint(hint)
                        .into(),
                )
            }
            Err(_) => {
                return Err(
                    NapshError::new(ErrorKind::Timeout, "no SSH banner within 15 s")
                        .hint(hint)
                        .into(),
                )
            }
        }
    }
    Err(NapshError::new(
        ErrorKind::Ssh,
        "the connection closed without an SSH banner",
    )
    .hint(hint)
    .into())
}

fn host_key(app: &App, device: &Device, ip: &str, port: u16, label: &str) -> Result<(String, ())> {
    let scanned = keyscan(ip, port, 15)?;
    if scanned.is_empty() {
        return Err(
            NapshError::new(ErrorKind::Ssh, "ssh-keyscan saw no host key")
                .hint("run with -v and try `napsh ssh` to see ssh's own error")
                .into(),
        );
    }
    let pins = pinned(&app.dirs.known_hosts(), &device.sim_id)?;
    let reset = format!("napsh known-hosts reset {}", device.sim_id);
    let matched =
        verify(&pins, &scanned, label, &reset).map_err(|_| host_key_changed(label, &reset))?;
    let detail = if matched {
        "matches the pinned key".to_string()
    } else {
        format!(
            "{} offered; none pinned yet (the first login pins it)",
            scanned
                .iter()
                .map(|k| k.0.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok((detail, ()))
}

async fn login(app: &App, device: &Device, ip: &str, port: u16, user: &str) -> Result<String> {
    let (askpass, env) =
        crate::ssh::askpass::askpass_env(crate::ssh::askpass::password_for(app, device)?)?;
    let mut options = vec!["ConnectTimeout=20".to_string()];
    if askpass.is_none() {
        options.insert(0, "BatchMode=yes".into());
    }
    let to = crate::ssh::plan::Destination {
        ip: ip.to_string(),
        port,
        alias: device.sim_id.clone(),
    };
    let plan = crate::ssh::plan::plan_to(app, to, user, &options, &["true".into()], false);
    let out = tokio::process::Command::new("ssh")
        .args(build_args(&plan))
        .envs(env)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| {
            NapshError::new(ErrorKind::Ssh, format!("cannot run ssh: {e}"))
                .hint("install the OpenSSH client")
        })?;
    if out.status.success() {
        return Ok(format!(
            "logged in as {} and ran `true`",
            for_terminal(user)
        ));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    Err(NapshError::new(ErrorKind::Ssh, format!("login as {} failed: {}", for_terminal(user), for_terminal_truncated(last.trim(), 200)))
        .hint("check the user (USER@, --user or a config rule) and that your key is in the device's authorized_keys (or configure a password_command)")
        .into())
}
