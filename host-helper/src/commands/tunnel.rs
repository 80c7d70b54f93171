//! `napsh tunnel DEVICE -p REMOTE[:[BIND:]LOCAL]…`: one local listener per forward, each
//! relaying connections to a Napter mapping of that device port; forwards to the SSH port
//! check the device's pinned host key at start (a scan) and in every connection's key
//! exchange, before the client sees the key. Mappings are renewed before they
//! expire and released (deleted when napsh created them) when the tunnel stops. Each forward
//! is one `tunnel` entry of the session journal (device port, its first mapping, how it
//! ended: the tunnel's exit code, the error that kept it from opening, or `interrupted`).

use super::reach::{lifetime, ssh_port};
use crate::app::App;
use crate::cli::reach::TunnelArgs;
use crate::error::{self, NapshError};
use crate::napter::lease::{Lease, Leases, Renewing};
use crate::output;
use crate::signals::{exit_code, Signals};
use crate::ssh::forward::{human_bytes, relay_checked};
use crate::ssh::host_key_guard::{Checked, Guard};
use crate::state::journal::Record;
use anyhow::Result;
use napsh_core::messages::ErrorKind;
use napsh_core::sanitize::for_terminal;
use napsh_core::tunnel_spec::{format_bind, TunnelSpec};
use napsh_core::Device;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

/// What a connection task needs (shared, `'static`).
struct Route {
    /// The local address connections arrive on.
    local: SocketAddr,
    /// `kiosk-12:80`, terminal-safe.
    device_port: String,
    /// The mapping, renewed before it expires; new connections go to the newest.
    renewing: Renewing,
    /// Host-key check for a forward to the SSH port.
    guard: Option<Guard>,
}

/// One working forward.
struct Forward {
    /// The listener, until serving starts.
    listener: Option<TcpListener>,
    /// The mapping it opened with.
    ensured: Lease,
    /// Shared with connection tasks.
    route: Arc<Route>,
    /// Its journal entry, written when the tunnel stops.
    record: Record,
}

/// Runs `napsh tunnel`.
pub async fn run(app: &App, args: TunnelArgs) -> Result<i32> {
    let mut signals = Signals::install()?;
    let device = crate::napter::devices::resolve_all(app, &[args.device.as_str()])
        .await?
        .remove(0);
    let session = Leases::start(app, lifetime(app, args.duration)?).await?;
    let mut forwards = Vec::new();
    let mut failures = Vec::new();
    for spec in &args.forwards {
        match open(app, &session, &device, spec, &mut signals).await {
            Ok(Ok(f)) => forwards.push(f),
            Ok(Err(e)) => {
                output::warn(&format!("-p {spec}: {}", error::one_line(&e)));
                failures.push(e);
            }
            Err(code) => {
                release_all(&session, &forwards).await;
                return Ok(code);
            }
        }
    }
    if forwards.is_empty() {
        return Err(none_works(failures, args.forwards.len()));
    }
    let user = app.config.user_for(args.user.as_deref(), &device);
    for f in &forwards {
        output::line(&describe(f, &user));
    }
    output::note("napsh: tunnel open; Ctrl-C stops it and deletes its mappings");
    let code = serve(app, &session, &mut forwards, &mut signals).await;
    release_all(&session, &forwards).await;
    for f in forwards {
        f.record.exit(code);
    }
    Ok(code)
}

/// The error when no forward works: the first failure's kind, every reason in one line.
fn none_works(failures: Vec<anyhow::Error>, asked: usize) -> anyhow::Error {
    let kind = failures
        .first()
        .map(error::kind_of)
        .unwrap_or(ErrorKind::Internal);
    let reasons: Vec<String> = failures.iter().map(error::one_line).collect();
    NapshError::new(
        kind,
        format!(
            "no forward works ({} of {asked} failed): {}",
            failures.len(),
            reasons.join("; ")
        ),
    )
    .into()
}

/// Binds the listener, then ensures the mapping, then (SSH port) checks the host key; a
/// forward that cannot open is journaled as failed. `Err(code)`: a signal arrived, stop now
/// (the forward's entry says `interrupted`).
async fn open(
    app: &App,
    session: &Leases,
    device: &Device,
    spec: &TunnelSpec,
    signals: &mut Signals,
) -> std::result::Result<Result<Forward>, i32> {
    let mut record = Record::begin(&app.dirs.state, "tunnel", device);
    record.port(spec.remote);
    record.source(&session.source);
    let listener = match listen(spec).await {
        Ok(l) => l,
        Err(e) => return failed(record, e),
    };
    let ensured = match session
        .acquire_or_signal(app, device, spec.remote, signals)
        .await?
    {
        Ok(e) => e,
        Err(e) => return failed(record, e),
    };
    record.mapping(&ensured.mapping, ensured.reused);
    let guard = (spec.remote == ssh_port(app, device)).then(|| Guard {
        known_hosts: app.dirs.known_hosts(),
        sim_id: device.sim_id.clone(),
        label: for_terminal(device.label()),
    });
    if let Some(g) = &guard {
        if let Err(e) = check_key(g, &ensured.mapping.ip_address, ensured.mapping.port).await {
            session.release(&ensured, false).await;
            return failed(record, e);
        }
    }
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            return failed(
                record,
                anyhow::Error::from(e).context("reading the listener address"),
            )
        }
    };
    let route = Arc::new(Route {
        local,
        device_port: format!("{}:{}", for_terminal(device.label()), spec.remote),
        renewing: Renewing::new(
            ensured.clone(),
            device.clone(),
            spec.remote,
            session.server_now(),
        ),
        guard,
    });
    Ok(Ok(Forward {
        listener: Some(listener),
        ensured,
        route,
        record,
    }))
}

/// A forward that cannot open: journaled with its error, which is handed back.
fn failed(record: Record, e: anyhow::Error) -> std::result::Result<Result<Forward>, i32> {
    record.fail(&e);
    Ok(Err(e))
}

/// Listens where the spec says: LOCAL, else REMOTE when free, else (saying so) any free port.
async fn listen(spec: &TunnelSpec) -> Result<TcpListener> {
    if let Some(warning) = spec.exposure_warning() {
        output::warn(&warning);
    }
    let wanted = SocketAddr::new(spec.bind, spec.preferred_local());
    match TcpListener::bind(wanted).await {
        Ok(l) => Ok(l),
        Err(e) if spec.may_pick_another() => {
            let l = TcpListener::bind(SocketAddr::new(spec.bind, 0))
                .await
                .map_err(|e2| cannot_listen(spec, e2))?;
            if let Ok(got) = l.local_addr() {
                output::note(&format!(
                    "napsh: {} is not available ({}); forwarding device port {} from {} instead",
                    shown(wanted),
                    reason(&e),
                    spec.remote,
                    shown(got)
                ));
            }
            Ok(l)
        }
        Err(e) => Err(cannot_listen(spec, e)),
    }
}

/// `127.0.0.1:80` / `[::1]:80`.
fn shown(addr: SocketAddr) -> String {
    format!("{}:{}", format_bind(addr.ip()), addr.port())
}

/// Why binding failed, in words.
fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "in use".into(),
        std::io::ErrorKind::PermissionDenied => "ports below 1024 need root".into(),
        std::io::ErrorKind::AddrNotAvailable => "no local interface has that address".into(),
        _ => e.to_string(),
    }
}

/// The error for a forward that cannot listen.
fn cannot_listen(spec: &TunnelSpec, e: std::io::Error) -> anyhow::Error {
    let addr = SocketAddr::new(spec.bind, spec.preferred_local());
    NapshError::config(format!("cannot listen on {}: {}", shown(addr), reason(&e)))
        .hint(format!(
            "pick another local port (-p {}:{}:0 takes any free one)",
            spec.remote,
            format_bind(spec.bind)
        ))
        .into()
}

/// Checks the device's host key through the mapping (blocking scan off the runtime).
async fn check_key(guard: &Guard, ip: &str, port: u16) -> Result<Checked> {
    let (guard, ip) = (guard.clone(), ip.to_string());
    match tokio::task::spawn_blocking(move || guard.check(&ip, port)).await {
        Ok(r) => r,
        Err(e) => Err(anyhow::anyhow!("the host-key check failed: {e}")),
    }
}

/// The line printed per forward (stdout): where to connect, and for SSH a pinned ssh line.
fn describe(f: &Forward, user: &str) -> String {
    let local = shown(f.route.local);
    let mut line = format!(
        "{local} ⇒ {} (mapping {}:{})",
        f.route.device_port,
        for_terminal(&f.ensured.mapping.ip_address),
        f.ensured.mapping.port
    );
    if let Some(g) = &f.route.guard {
        let kh = napsh_core::ssh_config::shell_quote(&g.known_hosts.display().to_string());
        line.push_str(&format!(
            "\n  ssh -p {} -o HostKeyAlias={} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes {}@{}",
            f.route.local.port(),
            g.sim_id,
            napsh_core::ssh_config::shell_quote(user),
            format_bind(f.route.local.ip())
        ));
    }
    line
}

/// Serves every forward until a signal; renews mappings before they expire.
async fn serve(
    app: &App,
    session: &Leases,
    forwards: &mut [Forward],
    signals: &mut Signals,
) -> i32 {
    let mut tasks = tokio::task::JoinSet::new();
    for f in forwards.iter_mut() {
        if let Some(listener) = f.listener.take() {
            tasks.spawn(accept_loop(listener, f.route.clone()));
        }
    }
    let mut tick = tokio::time::interval(Renewing::tick_every(session.secs));
    let sig = loop {
        tokio::select! {
            sig = signals.recv() => break sig,
            _ = tick.tick() => {
                for f in forwards.iter() {
                    f.route.renewing.tick(app, session).await;
                }
            }
        }
    };
    tasks.abort_all();
    output::note(&format!("napsh: stopping the tunnel (signal {sig})"));
    if sig == libc::SIGINT || sig == libc::SIGTERM || sig == libc::SIGHUP {
        0
    } else {
        exit_code(sig)
    }
}

/// Accepts connections and relays each in its own task.
async fn accept_loop(listener: TcpListener, route: Arc<Route>) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((client, peer)) => {
                conns.spawn(handle(client, peer, route.clone()));
            }
            Err(e) => {
                output::warn(&format!("accepting on {}: {e}", shown(route.local)));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        while conns.try_join_next().is_some() {}
    }
}

/// One connection: connect to the mapping, relay (for the SSH port with the device's host
/// key checked in the key exchange before the client sees it), log.
async fn handle(client: TcpStream, peer: SocketAddr, route: Arc<Route>) {
    let arrow = format!(
        "{} → {} ⇒ {}",
        shown(peer),
        shown(route.local),
        route.device_port
    );
    // Held until the connection ends: a renewal keeps this mapping until then.
    let ticket = route.renewing.checkout();
    let device = match TcpStream::connect((ticket.ip.as_str(), ticket.port)).await {
        Ok(s) => {
            // A link that stops carrying packets ends this connection within 20 s.
            if let Err(e) = crate::ssh::forward::watch_link(&s) {
                tracing::warn!("{e:#}");
            }
            s
        }
        Err(e) => {
            output::note(&format!(
                "napsh: {arrow} failed: cannot reach the mapping: {e}"
            ));
            return;
        }
    };
    output::note(&format!("napsh: {arrow}"));
    let relayed = match &route.guard {
        Some(guard) => {
            let check = |key: &napsh_core::ssh_kex::WireHostKey| {
                tokio::task::block_in_place(|| guard.check_wire(key)).map(|_| ())
            };
            relay_checked(client, device, check).await
        }
        None => relay_in_kernel(client, device).await,
    };
    match relayed {
        Ok(m) => output::note(&format!(
            "napsh: {arrow} closed (↑{} ↓{})",
            human_bytes(m.up),
            human_bytes(m.down)
        )),
        Err(e) => {
            let verdict = match error::kind_of(&e) {
                ErrorKind::HostKeyChanged | ErrorKind::Ssh => "refused",
                _ => "ended",
            };
            output::note(&format!(
                "napsh: {arrow} {verdict}: {}",
                error::one_line(&e)
            ));
        }
    }
}

/// A plain forward's connection, spliced in the kernel on blocking threads (the async relay
/// when the sockets cannot be handed over).
async fn relay_in_kernel(
    client: TcpStream,
    device: TcpStream,
) -> Result<crate::ssh::forward::Moved> {
    let (client, device) = match (client.into_std(), device.into_std()) {
        (Ok(c), Ok(d)) => (c, d),
        (c, d) => {
            let lost = c
                .err()
                .or(d.err())
                .map(|e| e.to_string())
                .unwrap_or_default();
            return Err(anyhow::anyhow!(
                "handing the connection to the relay: {lost}"
            ));
        }
    };
    match tokio::task::spawn_blocking(move || crate::ssh::forward::relay_spliced(client, device))
        .await
    {
        Ok(r) => r,
        Err(e) => Err(anyhow::anyhow!("the relay thread failed: {e}")),
    }
}

/// Releases every mapping of every forward (the first release of a shared one deletes it;
/// the others find it no longer theirs).
async fn release_all(session: &Leases, forwards: &[Forward]) {
    for f in forwards {
        f.route.renewing.release_all(session).await;
    }
}
