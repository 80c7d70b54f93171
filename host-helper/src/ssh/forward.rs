//! Moving bytes for `napsh proxy` and `napsh tunnel`: the proxy's stdin/stdout ⇄ socket pipe
//! (two blocking threads, splice(2) in the kernel when a side is a pipe, else a large buffer)
//! and the tunnel's per-connection relays (plain ones spliced in the kernel; SSH ones with the
//! host key checked in passing). The kernel relay itself lives in the `napsh-relay` crate,
//! shared with the emulator's Napter forwarder.
//! All pass half-closes through and set TCP_NODELAY.

use crate::error::NapshError;
use anyhow::{Context, Result};
use napsh_core::messages::ErrorKind;
use napsh_core::ssh_kex::{Scan, ServerWatch, WireHostKey};
use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::net::{Shutdown, TcpStream};
use std::os::fd::FromRawFd;

pub use napsh_relay::Moved;

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

/// Relays an SSH connection whose server side is watched until the host key passes:
/// `check` sees the key before the client does; when it fails (or the stream is no SSH key
/// exchange) the connection is closed and the error returned.
pub async fn relay_checked(
    client: tokio::net::TcpStream,
    device: tokio::net::TcpStream,
    check: impl FnOnce(&WireHostKey) -> Result<()>,
) -> Result<Moved> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = client.set_nodelay(true);
    let _ = device.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_device, mut to_device) = device.into_split();
    let up = tokio::spawn(async move {
        let n = tokio::io::copy(&mut from_client, &mut to_device).await;
        let _ = to_device.shutdown().await;
        n
    });
    let mut watch = ServerWatch::default();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut down = 0u64;
    let mut check = Some(check);
    let outcome: Result<()> = loop {
        let n = match from_device.read(&mut chunk).await {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(anyhow::Error::from(e).context("reading from the device")),
        };
        pending.extend_from_slice(&chunk[..n]);
        let pass = match watch.scan(&pending) {
            Scan::Pending { safe } => safe,
            Scan::Key { key, end } => match check.take().map(|c| c(&key)) {
                Some(Err(e)) => break Err(e),
                _ => end,
            },
            Scan::Refuse(why) => {
                break Err(NapshError::new(ErrorKind::Ssh, format!("not relayed: {why}")).into())
            }
        };
        to_client
            .write_all(&pending[..pass])
            .await
            .context("writing to the client")?;
        down += pass as u64;
        pending.drain(..pass);
        if check.is_none() {
            to_client
                .write_all(&pending)
                .await
                .context("writing to the client")?;
            down += pending.len() as u64;
            break Ok(());
        }
    };
    if let Err(e) = outcome {
        up.abort();
        return Err(e);
    }
    if check.is_none() {
        down += tokio::io::copy(&mut from_device, &mut to_client)
            .await
            .unwrap_or(0);
    }
    let _ = to_client.shutdown().await;
    let up = up.await.ok().and_then(|r| r.ok()).unwrap_or(0);
    Ok(Moved { up, down })
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
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1500), "1.5 kB");
        assert_eq!(human_bytes(200_000_000), "200.0 MB");
    }
}
