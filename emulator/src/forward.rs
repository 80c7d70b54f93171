//! The Napter forwarder's byte relay, one async task per connection: each direction moves
//! bytes in the kernel (socket → pipe → socket with non-blocking splice(2), every splice into
//! a socket moving exactly what the pipe holds) and watches its link between moves, so a
//! data-plane fault applies to live connections: a blackhole stops both directions without
//! closing, shaping switches the direction to a user-space copy with a delay line and pacing,
//! a cut resets the client's connection.

use crate::dataplane::{Link, LinkWatch, Shaping};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Most bytes one splice moves into the pipe, and the size the pipe is widened to.
const SPLICE_CHUNK: usize = 1 << 20;
/// Most bytes one shaped read takes without a bandwidth limit.
const SHAPED_CHUNK: usize = 1 << 16;
/// Most chunks a shaped direction holds in its delay line.
const DELAY_LINE_CHUNKS: usize = 256;

/// How a forwarded connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relayed {
    /// Both sides finished: bytes moved up (client → device) and down.
    Finished {
        /// Client → device.
        up: u64,
        /// Device → client.
        down: u64,
    },
    /// Cut (mapping ended or a data-plane cut): the client's connection was reset.
    Cut,
}

/// Relays `client` ⇄ `device` until both directions end or `cut` fires, which resets the
/// client's connection (no FIN first) and closes the device's.
pub async fn relay(
    client: TcpStream,
    device: TcpStream,
    link: LinkWatch,
    cut: &CancellationToken,
) -> io::Result<Relayed> {
    client.set_nodelay(true)?;
    device.set_nodelay(true)?;
    let both = async {
        let up = one_way(&client, &device, link.clone());
        let down = one_way(&device, &client, link);
        let (up, down) = tokio::join!(up, down);
        Ok::<_, io::Error>(Relayed::Finished {
            up: up?,
            down: down?,
        })
    };
    let ended = tokio::select! {
        r = both => r,
        _ = cut.cancelled() => Ok(Relayed::Cut),
    };
    if ended.as_ref().is_ok_and(|r| *r == Relayed::Cut) {
        reset_on_close(&client);
    }
    ended
}

/// What a stretch of forwarding in one mode ended with.
enum Flow {
    /// The source reached EOF (or went away).
    Eof,
    /// The link changed: look at it again.
    Recheck,
}

/// `from` → `to` until EOF, following the link; then half-closes `to`.
async fn one_way(from: &TcpStream, to: &TcpStream, mut link: LinkWatch) -> io::Result<u64> {
    let mut moved = 0u64;
    let ended = async {
        let pipe = Pipe::new()?;
        loop {
            let now: Link = link.current();
            if let Some(until) = now.blackholed() {
                link.sit_out(until).await;
                continue;
            }
            let flow = match now.shaping {
                Some(shaping) => shaped(from, to, shaping, &mut link, &mut moved).await,
                None => spliced(from, to, &pipe, &mut link, &mut moved).await,
            };
            if let Flow::Eof = peer_gone_is_eof(flow)? {
                return Ok(());
            }
        }
    }
    .await;
    // SAFETY: shutting down the write side of a socket we hold (even after an error, so the
    // other direction ends too).
    unsafe { libc::shutdown(to.as_raw_fd(), libc::SHUT_WR) };
    ended.map(|()| moved)
}

/// Spliced forwarding until EOF or a link change.
async fn spliced(
    from: &TcpStream,
    to: &TcpStream,
    pipe: &Pipe,
    link: &mut LinkWatch,
    moved: &mut u64,
) -> io::Result<Flow> {
    loop {
        if link.has_changed() {
            return Ok(Flow::Recheck);
        }
        tokio::select! {
            r = from.readable() => r?,
            _ = link.changed() => return Ok(Flow::Recheck),
        }
        let read = from.try_io(Interest::READABLE, || {
            splice(from.as_raw_fd(), pipe.write.as_raw_fd(), SPLICE_CHUNK)
        });
        let n = match read {
            Ok(0) => return Ok(Flow::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut left = n;
        while left > 0 {
            to.writable().await?;
            match to.try_io(Interest::WRITABLE, || {
                splice(pipe.read.as_raw_fd(), to.as_raw_fd(), left)
            }) {
                Ok(m) => left -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        *moved += n as u64;
    }
}

/// User-space forwarding through a delay line of half the round trip, paced to the
/// bandwidth, until EOF or the shaping changes (the line drained first). A blackhole that
/// starts meanwhile holds the line.
async fn shaped(
    from: &TcpStream,
    to: &TcpStream,
    shaping: Shaping,
    link: &mut LinkWatch,
    moved: &mut u64,
) -> io::Result<Flow> {
    let delay = Duration::from_millis(shaping.rtt_ms / 2);
    let rate = shaping.kbit_per_sec.map(|k| (k.max(1) * 1000 / 8) as usize);
    let chunk = rate.map_or(SHAPED_CHUNK, |r| (r / 50).clamp(512, 16 * 1024));
    let mut line: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut next_read = Instant::now();
    let mut eof = false;
    loop {
        let now = link.current();
        let still = now.shaping == Some(shaping);
        if (eof || !still) && line.is_empty() {
            return Ok(if eof { Flow::Eof } else { Flow::Recheck });
        }
        if let Some(until) = now.blackholed() {
            link.sit_out(until).await;
            continue;
        }
        let due = line.front().map(|(at, _)| *at);
        let reading = still && !eof && line.len() < DELAY_LINE_CHUNKS;
        tokio::select! {
            _ = tokio::time::sleep_until(due.unwrap_or(next_read)), if due.is_some() => {
                if let Some((_, bytes)) = line.pop_front() {
                    write_all(to, &bytes).await?;
                    *moved += bytes.len() as u64;
                }
            }
            r = paced_read(from, next_read, chunk), if reading => match r? {
                None => {}
                Some(bytes) if bytes.is_empty() => eof = true,
                Some(bytes) => {
                    let at = Instant::now();
                    next_read = rate.map_or(at, |r| at + pace(bytes.len(), r));
                    line.push_back((at + delay, bytes));
                }
            },
            _ = link.changed() => {}
        }
    }
}

/// How long `n` bytes take at `rate` bytes/s.
fn pace(n: usize, rate: usize) -> Duration {
    Duration::from_micros((n as u64).saturating_mul(1_000_000) / rate.max(1) as u64)
}

/// Waits for `at`, then reads up to `max` bytes: `Some(empty)` at EOF, `None` when the
/// readiness was spurious.
async fn paced_read(from: &TcpStream, at: Instant, max: usize) -> io::Result<Option<Vec<u8>>> {
    tokio::time::sleep_until(at).await;
    from.readable().await?;
    let mut buf = vec![0u8; max];
    match from.try_read(&mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

async fn write_all(to: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        to.writable().await?;
        match to.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A peer that went away (reset, broken pipe) ends its direction like an EOF.
fn peer_gone_is_eof(flow: io::Result<Flow>) -> io::Result<Flow> {
    match flow {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::NotConnected
            ) =>
        {
            Ok(Flow::Eof)
        }
        other => other,
    }
}

/// A non-blocking pipe of our own (both ends closed on drop).
struct Pipe {
    /// Read end.
    read: OwnedFd,
    /// Write end.
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // Best effort: a wider pipe moves more per splice (the default 64 KiB works too).
        // SAFETY: F_SETPIPE_SZ on a pipe we own.
        unsafe {
            libc::fcntl(
                write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                SPLICE_CHUNK as libc::c_int,
            )
        };
        Ok(Pipe { read, write })
    }
}

/// One non-blocking splice(2) of up to `len` bytes.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: plain descriptors, no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Makes the close of `sock` send a reset instead of a FIN (a cut connection).
fn reset_on_close(sock: &TcpStream) {
    if let Err(e) = sock.set_zero_linger() {
        tracing::debug!(error = %e, "SO_LINGER");
    }
}
