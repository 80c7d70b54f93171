//! Moving bytes for `napsh proxy` and `napsh tunnel`: the proxy's stdin/stdout ⇄ socket pipe
//! (two blocking threads, splice(2) in the kernel when a side is a pipe, else a large buffer)
//! and the tunnel's per-connection relays (plain ones spliced in the kernel; SSH ones with the
//! host key checked in passing).
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

/// Buffer per direction of the proxy pipe.
const PIPE_BUFFER: usize = 256 * 1024;

/// Bytes moved by one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Client → device.
    pub up: u64,
    /// Device → client.
    pub down: u64,
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

/// Pipes stdin → `sock` and `sock` → stdout until both directions ended. EOF on stdin
/// half-closes the socket; EOF from the socket closes stdout. Blocking.
pub fn pipe_stdio(sock: TcpStream) -> Result<Moved> {
    sock.set_nodelay(true).context("setting TCP_NODELAY")?;
    let mut to_device = sock.try_clone().context("cloning the device socket")?;
    let mut from_device = sock;
    let up = std::thread::spawn(move || {
        let n = splice_or_pump(&mut *std_fd(0), &mut to_device);
        let _ = to_device.shutdown(Shutdown::Write);
        n
    });
    let down = {
        let n = splice_or_pump(&mut from_device, &mut *std_fd(1));
        retire_stdout();
        let _ = from_device.shutdown(Shutdown::Read);
        n
    };
    let up = up.join().unwrap_or(Ok(0));
    Ok(Moved {
        up: quiet(up)?,
        down: quiet(down)?,
    })
}

/// Copies until EOF: in the kernel with splice(2) when one side is a pipe (as ssh's
/// ProxyCommand stdin/stdout are; no copy through napsh, no flag that would hold data back),
/// else — or when the kernel refuses before the first byte — with [`pump`].
fn splice_or_pump<R, W>(from: &mut R, to: &mut W) -> io::Result<u64>
where
    R: io::Read + std::os::fd::AsRawFd,
    W: io::Write + std::os::fd::AsRawFd,
{
    let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
    widen_pipe(src);
    widen_pipe(dst);
    let mut total = 0u64;
    loop {
        // Asking for more than is there makes the kernel mark the write to a socket "more
        // to come" and hold the last segment back (SSH's key exchange would stall): splice
        // exactly what is readable.
        let len = readable(src)?;
        match splice(src, dst, len) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e)
                if total == 0 && matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) =>
            {
                return pump(from, to)
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `fd` is readable; how many bytes it holds (at most [`SPLICE_CHUNK`]; the
/// chunk size when the kernel cannot tell, and at EOF, where splice then returns 0).
fn readable(fd: i32) -> io::Result<usize> {
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one pollfd we own.
    while unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
    let mut available: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int.
    let ok = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut available) } == 0;
    Ok(if ok && available > 0 {
        (available as usize).min(SPLICE_CHUNK)
    } else {
        SPLICE_CHUNK
    })
}

/// Most bytes one splice(2) call moves.
const SPLICE_CHUNK: usize = 1 << 20;

/// Grows a pipe's buffer to 1 MiB (fewer wake-ups between ssh and napsh); not a pipe or not
/// allowed: nothing happens.
fn widen_pipe(fd: i32) {
    // SAFETY: fcntl(2) on an fd this process owns; fails harmlessly on non-pipes.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, SPLICE_CHUNK as libc::c_int) };
}

/// Copies until EOF with one large buffer, writing each chunk as soon as it is read (no
/// batching: SSH's key exchange is a ping-pong of small packets).
fn pump(from: &mut impl io::Read, to: &mut impl io::Write) -> io::Result<u64> {
    let mut buf = vec![0u8; PIPE_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// A copy's byte count; a peer that went away (reset, broken pipe) is a normal end.
fn quiet(result: io::Result<u64>) -> Result<u64> {
    match result {
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(0)
        }
        Err(e) => Err(anyhow::Error::from(e).context("piping bytes to the device")),
    }
}

/// Relays one tunnel connection both ways in the kernel (socket → pipe → socket with
/// splice(2), no copy through napsh), each direction on its own thread, half-closes passed
/// on. Blocking: run it off the async runtime.
pub fn relay_spliced(client: TcpStream, device: TcpStream) -> Result<Moved> {
    for s in [&client, &device] {
        s.set_nonblocking(false)
            .context("making a relayed socket blocking")?;
        let _ = s.set_nodelay(true);
    }
    let client_out = client.try_clone().context("cloning the client socket")?;
    let device_out = device.try_clone().context("cloning the device socket")?;
    let up = std::thread::spawn(move || one_way(&client, &device_out));
    let down = one_way(&device, &client_out);
    let up = up.join().unwrap_or(Ok(0));
    Ok(Moved {
        up: quiet(up)?,
        down: quiet(down)?,
    })
}

/// `from` → `to` through a pipe until EOF, then half-closes `to`.
fn one_way(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2(2) fills two fds, owned right below.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned here only.
    let (pipe_r, pipe_w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    widen_pipe(pipe_w.as_raw_fd());
    let mut total = 0u64;
    let result = loop {
        let n = match splice(from.as_raw_fd(), pipe_w.as_raw_fd(), SPLICE_CHUNK) {
            Ok(0) => break Ok(total),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        // Exactly what the pipe holds: the last segment is pushed, not held back.
        let mut left = n;
        while left > 0 {
            match splice(pipe_r.as_raw_fd(), to.as_raw_fd(), left) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(m) => left -= m,
                Err(e) => return Err(e),
            }
        }
        total += n as u64;
    };
    let _ = to.shutdown(Shutdown::Write);
    result
}

/// One splice(2) call, retried on EINTR.
fn splice(src: i32, dst: i32, len: usize) -> io::Result<usize> {
    loop {
        // SAFETY: splice(2) between two fds the caller owns; no user memory.
        let n = unsafe {
            libc::splice(
                src,
                std::ptr::null_mut(),
                dst,
                std::ptr::null_mut(),
                len,
                libc::SPLICE_F_MOVE,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
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

    #[test]
    fn spliced_relay_passes_half_close_both_ways() {
        let device_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let entry_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let device_addr = device_l.local_addr().unwrap();
        let entry_addr = entry_l.local_addr().unwrap();
        let relaying = std::thread::spawn(move || {
            let (c, _) = entry_l.accept().unwrap();
            let d = TcpStream::connect(device_addr).unwrap();
            relay_spliced(c, d).unwrap()
        });
        let echo = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = device_l.accept().unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
            s.write_all(b"!").unwrap();
        });
        use std::io::{Read, Write};
        let mut c = TcpStream::connect(entry_addr).unwrap();
        let big = vec![7u8; 3_000_000];
        c.write_all(&big).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), big.len() + 1);
        echo.join().unwrap();
        assert_eq!(
            relaying.join().unwrap(),
            Moved {
                up: 3_000_000,
                down: 3_000_001
            }
        );
    }
}
