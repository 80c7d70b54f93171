//! Moving bytes between two file descriptors in the kernel: the one relay shared by
//! `napsh tunnel` / `napsh proxy` (host-helper's `ssh/forward.rs`) and the emulator's Napter
//! forwarder, so a benchmark of the tunnel measures napsh rather than a slower stand-in.
//!
//! - [`relay`] joins two TCP connections both ways, each direction on its own blocking
//!   thread: socket → pipe → socket with splice(2), the payload never copied through user
//!   memory. Half-closes are passed on (EOF from one side shuts down writing on the other).
//! - [`copy`] moves one direction until EOF between any two fds: spliced when one side is a
//!   pipe (ssh's ProxyCommand stdin/stdout), else — or when the kernel refuses before the
//!   first byte — through one large buffer.
//! - [`Cutoff`] ends a running relay from elsewhere (a Napter mapping deleted or expired).
//!
//! One subtlety shapes both: a splice to a socket that asks for more bytes than the source
//! holds makes Linux treat the write as "more to come" and hold the last segment back, which
//! stalls ping-pong protocols such as SSH's key exchange. So every splice into a socket moves
//! exactly the bytes already available (what the pipe holds, or what FIONREAD reports).
//!
//! A peer that goes away (reset, broken pipe) ends its direction normally: the bytes moved
//! until then are reported, not an error.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[cfg(test)]
mod tests;

/// Most bytes one splice(2) call moves, and the size pipes are widened to.
const SPLICE_CHUNK: usize = 1 << 20;
/// The buffer of the user-space fallback.
const PUMP_BUFFER: usize = 256 * 1024;

/// Bytes moved by one relayed connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    /// Client → server (the side that connected first → the side connected to).
    pub up: u64,
    /// Server → client.
    pub down: u64,
}

/// Relays `client` ⇄ `server` until both directions reached EOF (or a peer went away),
/// then returns the bytes moved each way. Sockets are made blocking and TCP_NODELAY; the
/// up direction runs on a new thread, the down direction on the caller's. Blocking: call it
/// from a thread of its own (`tokio::task::spawn_blocking`).
pub fn relay(client: TcpStream, server: TcpStream) -> io::Result<Moved> {
    for s in [&client, &server] {
        s.set_nonblocking(false)?;
        s.set_nodelay(true)?;
    }
    let client_out = client.try_clone()?;
    let server_out = server.try_clone()?;
    let up = std::thread::Builder::new()
        .name("napsh-relay-up".into())
        .spawn(move || one_way(&client, &server_out))?;
    let down = one_way(&server, &client_out);
    let up = up
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the relay thread panicked")));
    Ok(Moved {
        up: up?,
        down: down?,
    })
}

/// Ends a [`relay`] from another thread: shuts both sockets down, so each direction sees
/// EOF or an error and the relay returns. Dropping it cuts too, so a relay never outlives
/// whoever watches it (e.g. an async task dropped with its runtime).
#[derive(Debug)]
pub struct Cutoff {
    /// A handle on each relayed socket (clones: the relay owns the originals).
    sockets: [TcpStream; 2],
}

impl Cutoff {
    /// A cutoff for the relay of `client` and `server` (call before handing them over).
    pub fn new(client: &TcpStream, server: &TcpStream) -> io::Result<Self> {
        Ok(Self {
            sockets: [client.try_clone()?, server.try_clone()?],
        })
    }

    /// Shuts both connections down both ways; the relay ends promptly.
    pub fn cut(&self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Cutoff {
    fn drop(&mut self) {
        self.cut();
    }
}

/// `from` → `to` through a pipe of our own until EOF, then half-closes `to`.
fn one_way(from: &TcpStream, to: &TcpStream) -> io::Result<u64> {
    let spliced = Pipe::new().map(|pipe| spliced_through(&pipe, from.as_raw_fd(), to.as_raw_fd()));
    let result = match spliced {
        Ok(Err((0, e))) if unsupported(&e) => pump(&mut &*from, &mut &*to),
        Ok(progress) => progress,
        Err(_) => pump(&mut &*from, &mut &*to),
    };
    let _ = to.shutdown(Shutdown::Write);
    peer_gone_is_eof(result)
}

/// Moves socket → `pipe` → socket until EOF; every splice into `dst` moves exactly what the
/// pipe holds, so the last segment is pushed rather than held back.
fn spliced_through(pipe: &Pipe, src: RawFd, dst: RawFd) -> Progress {
    let mut total = 0u64;
    loop {
        let n = match splice(src, pipe.write.as_raw_fd(), SPLICE_CHUNK) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) => return Err((total, e)),
        };
        let mut left = n;
        while left > 0 {
            match splice(pipe.read.as_raw_fd(), dst, left) {
                Ok(0) => return Err((total, io::ErrorKind::WriteZero.into())),
                Ok(m) => {
                    left -= m;
                    total += m as u64;
                }
                Err(e) => return Err((total, e)),
            }
        }
    }
}

/// Copies `from` → `to` until EOF: in the kernel with splice(2) when one side is a pipe (no
/// flag that would hold data back: exactly the readable bytes each time), else — or when
/// the kernel refuses before the first byte — with one large buffer, each chunk written as
/// soon as it is read. Does not close or shut down either side. A peer that went away ends
/// the copy normally.
pub fn copy<R, W>(from: &mut R, to: &mut W) -> io::Result<u64>
where
    R: io::Read + AsRawFd,
    W: io::Write + AsRawFd,
{
    let (src, dst) = (from.as_raw_fd(), to.as_raw_fd());
    widen_pipe(src);
    widen_pipe(dst);
    peer_gone_is_eof(match spliced_direct(src, dst) {
        Err((0, e)) if unsupported(&e) => pump(from, to),
        other => other,
    })
}

/// Splices `src` → `dst` (one of them a pipe) until EOF, exactly the readable bytes each time.
fn spliced_direct(src: RawFd, dst: RawFd) -> Progress {
    let mut total = 0u64;
    loop {
        let len = readable(src).map_err(|e| (total, e))?;
        match splice(src, dst, len) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => continue,
            Err(e) => return Err((total, e)),
        }
    }
}

/// The kernel cannot splice between these fds (neither is a pipe, or no splice support).
fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS))
}

/// Bytes moved, or the bytes moved before an error and the error.
type Progress = Result<u64, (u64, io::Error)>;

/// A direction's outcome: a peer that went away (reset, broken pipe) is a normal end.
fn peer_gone_is_eof(progress: Progress) -> io::Result<u64> {
    match progress {
        Ok(n) => Ok(n),
        Err((n, e))
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::NotConnected
            ) =>
        {
            Ok(n)
        }
        Err((_, e)) => Err(e),
    }
}

/// Waits until `fd` is readable; how many bytes it holds (at most [`SPLICE_CHUNK`]; the
/// chunk size when the kernel cannot tell, and at EOF, where splice then returns 0).
fn readable(fd: RawFd) -> io::Result<usize> {
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

/// Copies until EOF with one large buffer, writing each chunk as soon as it is read (no
/// batching: SSH's key exchange is a ping-pong of small packets).
fn pump(from: &mut impl io::Read, to: &mut impl io::Write) -> Progress {
    let mut buf = vec![0u8; PUMP_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((total, e)),
        };
        to.write_all(&buf[..n]).map_err(|e| (total, e))?;
        total += n as u64;
    }
}

/// An anonymous pipe, widened, both ends closed when dropped.
struct Pipe {
    /// The end splice reads from.
    read: OwnedFd,
    /// The end splice writes into.
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Self> {
        let mut fds = [0; 2];
        // SAFETY: pipe2(2) fills two fds, owned right below.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds were just created and are owned here only.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        widen_pipe(write.as_raw_fd());
        Ok(Self { read, write })
    }
}

/// Grows a pipe's buffer to [`SPLICE_CHUNK`] (fewer wake-ups); not a pipe or not allowed:
/// nothing happens.
fn widen_pipe(fd: RawFd) {
    // SAFETY: fcntl(2) on an fd the caller owns; fails harmlessly on non-pipes.
    unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, SPLICE_CHUNK as libc::c_int) };
}

/// One splice(2) call, retried on EINTR.
fn splice(src: RawFd, dst: RawFd, len: usize) -> io::Result<usize> {
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
