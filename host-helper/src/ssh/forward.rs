//! Moving bytes for `napsh proxy` and `napsh tunnel`: the proxy's stdin/stdout ⇄ socket pipe
//! (two blocking threads, splice(2) in the kernel when a side is a pipe, else a large buffer)
//! and the tunnel's per-connection relays (plain ones spliced in the kernel; SSH ones with the
//! host key checked in passing). The kernel relay itself lives in the `napsh-relay` crate,
//! shared with the emulator's Napter forwarder.
//! All pass half-closes through and set TCP_NODELAY.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::ssh_kex::{ClientScan, KexWatch, Scan, WireHostKey};
use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::net::{Shutdown, TcpStream};
use std::os::fd::FromRawFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use napsh_relay::Moved;

/// Makes a socket to a mapping find a link that stopped carrying packets within 20 s, as ssh
/// does for a resumed session: TCP keepalive probes while idle, and `TCP_USER_TIMEOUT` for
/// bytes the device never acknowledges (see `napsh_core::resume::SOCKET_IDLE_SECS`). The
/// connection then fails, and `proxy`'s ssh or the tunnel's client sees it end.
pub fn watch_link(sock: &impl std::os::fd::AsFd) -> Result<()> {
    use napsh_core::resume::{
        KEEPALIVE_COUNT, KEEPALIVE_SECS, LINK_TIMEOUT_SECS, SOCKET_IDLE_SECS,
    };
    use std::time::Duration;
    let secs = |n: u32| Duration::from_secs(n.into());
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(secs(SOCKET_IDLE_SECS))
        .with_interval(secs(KEEPALIVE_SECS))
        .with_retries(KEEPALIVE_COUNT);
    let s = socket2::SockRef::from(sock);
    s.set_tcp_keepalive(&keepalive)
        .context("setting TCP keepalive")?;
    s.set_tcp_user_timeout(Some(secs(LINK_TIMEOUT_SECS)))
        .context("setting TCP_USER_TIMEOUT")
}

/// Standard input or output as an unbuffered `File` that is never closed by dropping it.
fn std_fd(fd: i32) -> ManuallyDrop<File> {
    // SAFETY: fds 0 and 1 are open for the life of the process (fd 1 is only ever replaced
    // by `/dev/null`, atomically, by `retire_stdout`); ManuallyDrop never closes them.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// Tells the reader of our stdout that no more bytes come (EOF) without freeing fd 1 for
/// reuse: `/dev/null` replaces it atomically.
fn retire_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto fd 1 with a valid fd; `null` is closed when dropped.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}

/// Pipes stdin → `sock` and `sock` → stdout until both directions ended (spliced in the
/// kernel by [`napsh_relay::copy`] when stdin/stdout are pipes, as ssh's ProxyCommand's
/// are). EOF on stdin half-closes the socket; EOF from the socket closes stdout. Blocking.
pub fn pipe_stdio(sock: TcpStream) -> Result<Moved> {
    sock.set_nodelay(true).context("setting TCP_NODELAY")?;
    let mut to_device = sock.try_clone().context("cloning the device socket")?;
    let mut from_device = sock;
    let up = std::thread::spawn(move || {
        let n = napsh_relay::copy(&mut *std_fd(0), &mut to_device);
        let _ = to_device.shutdown(Shutdown::Write);
        n
    });
    let down = napsh_relay::copy(&mut from_device, &mut *std_fd(1));
    retire_stdout();
    let _ = from_device.shutdown(Shutdown::Read);
    let up = up
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the stdin thread panicked")));
    Ok(Moved {
        up: up.context("piping stdin to the device")?,
        down: down.context("piping the device to stdout")?,
    })
}

/// Relays one tunnel connection both ways in the kernel ([`napsh_relay::relay`]: socket →
/// pipe → socket with splice(2), no copy through napsh), half-closes passed on. Blocking:
/// run it off the async runtime.
pub fn relay_spliced(client: TcpStream, device: TcpStream) -> Result<Moved> {
    napsh_relay::relay(client, device).context("relaying a tunnel connection")
}

/// The key-exchange watch both directions of one checked connection share.
type SharedWatch = std::sync::Arc<std::sync::Mutex<KexWatch>>;

/// Relays an SSH connection whose key exchange is followed in both directions until the
/// server's host key passes: `check` sees the key of the reply the client asked for before
/// the client does; when it fails, or either side steps out of the transport's order (a
/// reply the client never asked for: issue 11 #2), the connection is closed and the error
/// returned. The reply's signature is left to the client: a relay cannot check it.
pub async fn relay_checked(
    client: tokio::net::TcpStream,
    device: tokio::net::TcpStream,
    check: impl FnOnce(&WireHostKey) -> Result<()>,
) -> Result<Moved> {
    let _ = client.set_nodelay(true);
    let _ = device.set_nodelay(true);
    let (from_client, to_client) = client.into_split();
    let (from_device, to_device) = device.into_split();
    let watch = SharedWatch::default();
    let mut up = tokio::spawn(watch_up(from_client, to_device, watch.clone()));
    let down = watch_down(from_device, to_client, &watch, check);
    tokio::pin!(down);
    let (down, up_early) = tokio::select! {
        down = &mut down => (down, None),
        up_done = &mut up => match up_done {
            Ok(Err(e)) => return Err(e),
            up_done => (down.await, Some(up_done)),
        },
    };
    let down = match down {
        Ok(n) => n,
        Err(e) => {
            up.abort();
            return Err(e);
        }
    };
    let up = match up_early {
        Some(done) => done,
        None => up.await,
    };
    Ok(Moved {
        up: up.ok().and_then(|r| r.ok()).unwrap_or(0),
        down,
    })
}

/// Client → device: the client's key-exchange messages are followed (and must come in
/// order), then everything is copied. Returns the bytes moved.
async fn watch_up(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    watch: SharedWatch,
) -> Result<u64> {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut moved = 0u64;
    loop {
        let n = from
            .read(&mut chunk)
            .await
            .context("reading from the client")?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        let scan = watch.lock().expect("kex watch lock").client(&pending);
        let (pass, done) = match scan {
            ClientScan::Pending { safe } => (safe, false),
            ClientScan::Done { .. } => (pending.len(), true),
            ClientScan::Refuse(why) => return Err(not_relayed(why)),
        };
        to.write_all(&pending[..pass])
            .await
            .context("writing to the device")?;
        moved += pass as u64;
        pending.drain(..pass);
        if done {
            moved += tokio::io::copy(&mut from, &mut to).await.unwrap_or(0);
            break;
        }
    }
    let _ = to.shutdown().await;
    Ok(moved)
}

/// Device → client: held back at the key-exchange reply until `check` passes its host key,
/// then everything is copied; the client's side is half-closed at the end. Returns the bytes
/// moved.
async fn watch_down(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    watch: &SharedWatch,
    check: impl FnOnce(&WireHostKey) -> Result<()>,
) -> Result<u64> {
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut moved = 0u64;
    let mut check = Some(check);
    while check.is_some() {
        let n = from
            .read(&mut chunk)
            .await
            .context("reading from the device")?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(moved);
        }
        pending.extend_from_slice(&chunk[..n]);
        let scan = watch.lock().expect("kex watch lock").server(&pending);
        let pass = match scan {
            Scan::Pending { safe } => safe,
            Scan::Key { key, .. } => {
                check.take().map(|c| c(&key)).transpose()?;
                pending.len()
            }
            Scan::Refuse(why) => return Err(not_relayed(why)),
        };
        to.write_all(&pending[..pass])
            .await
            .context("writing to the client")?;
        moved += pass as u64;
        pending.drain(..pass);
    }
    moved += tokio::io::copy(&mut from, &mut to).await.unwrap_or(0);
    let _ = to.shutdown().await;
    Ok(moved)
}

/// The error of a connection cut because its key exchange is out of order.
fn not_relayed(why: String) -> anyhow::Error {
    NapshError::new(ErrorKind::Ssh, format!("not relayed: {why}")).into()
}

/// `12.3 MB`-style size for connection logs.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_to_a_mapping_find_a_dead_link_within_20_seconds() {
        use napsh_core::resume::LINK_TIMEOUT_SECS;
        use std::time::Duration;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let sock = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        watch_link(&sock).unwrap();
        let s = socket2::SockRef::from(&sock);
        assert!(s.keepalive().unwrap());
        let probes = s.tcp_keepalive_time().unwrap()
            + s.tcp_keepalive_interval().unwrap() * s.tcp_keepalive_retries().unwrap();
        assert!(probes <= Duration::from_secs(20), "{probes:?}");
        let timeout = s.tcp_user_timeout().unwrap().expect("TCP_USER_TIMEOUT set");
        assert_eq!(timeout, Duration::from_secs(LINK_TIMEOUT_SECS.into()));
        assert!(timeout <= Duration::from_secs(20), "{timeout:?}");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(200_000_000), "200.0 MB");
    }
}
