//! The relay over real loopback sockets: byte counts, half-closes, prompt small segments,
//! cutting a live relay, the splice and fallback paths of `copy`, a peer that resets.

use super::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;
use std::time::Duration;

/// A relay between a fresh client and whatever `server` does with the accepted connection;
/// returns the client's socket and the relay's thread.
fn relayed<S>(server: S) -> (TcpStream, JoinHandle<io::Result<Moved>>, JoinHandle<()>)
where
    S: FnOnce(TcpStream) + Send + 'static,
{
    let server_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let entry_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server_l.local_addr().unwrap();
    let entry_addr = entry_l.local_addr().unwrap();
    let relaying = std::thread::spawn(move || {
        let (c, _) = entry_l.accept().unwrap();
        relay(c, TcpStream::connect(server_addr).unwrap())
    });
    let serving = std::thread::spawn(move || server(server_l.accept().unwrap().0));
    let client = TcpStream::connect(entry_addr).unwrap();
    // A stall fails the test instead of hanging it.
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (client, relaying, serving)
}

/// A connected TCP pair on loopback.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    (a, l.accept().unwrap().0)
}

/// An anonymous pipe as two `File`s (read end, write end).
fn pipe_files() -> (std::fs::File, std::fs::File) {
    let pipe = Pipe::new().unwrap();
    (pipe.read.into(), pipe.write.into())
}

#[test]
fn relay_passes_half_close_both_ways_and_counts_bytes() {
    let (mut client, relaying, echo) = relayed(|mut s| {
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        s.write_all(&got).unwrap();
        s.write_all(b"!").unwrap();
    });
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    client.write_all(&big).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut back = Vec::new();
    client.read_to_end(&mut back).unwrap();
    assert_eq!(&back[..big.len()], &big[..], "bytes changed on the way");
    assert_eq!(&back[big.len()..], b"!");
    echo.join().unwrap();
    let moved = relaying.join().unwrap().unwrap();
    assert_eq!(
        moved,
        Moved {
            up: 3_000_000,
            down: 3_000_001
        }
    );
}

#[test]
fn relay_pushes_small_segments_at_once() {
    // A ping-pong of small packets (as SSH's key exchange) needs every last segment sent
    // without waiting for more: a held-back segment would stall here.
    let (mut client, relaying, server) = relayed(|mut s| {
        let mut ping = [0u8; 5];
        for _ in 0..50 {
            s.read_exact(&mut ping).unwrap();
            s.write_all(b"pong!").unwrap();
        }
    });
    let mut pong = [0u8; 5];
    for _ in 0..50 {
        client.write_all(b"ping?").unwrap();
        client.read_exact(&mut pong).unwrap();
        assert_eq!(&pong, b"pong!");
    }
    server.join().unwrap();
    drop(client);
    assert_eq!(
        relaying.join().unwrap().unwrap(),
        Moved { up: 250, down: 250 }
    );
}

#[test]
fn dropping_the_cutoff_ends_a_relay_whose_peers_stay_open() {
    let (a, a_far) = tcp_pair();
    let (b, b_far) = tcp_pair();
    let cutoff = Cutoff::new(&a_far, &b_far).unwrap();
    let relaying = std::thread::spawn(move || relay(a_far, b_far));
    let mut a = a;
    a.write_all(b"hello").unwrap();
    let mut b = b;
    let mut got = [0u8; 5];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hello");
    drop(cutoff);
    let moved = relaying.join().unwrap().unwrap();
    assert_eq!(moved.up, 5);
    // Both ends see the connection end.
    let mut rest = Vec::new();
    assert_eq!(a.read_to_end(&mut rest).unwrap_or(0), 0);
    assert_eq!(b.read_to_end(&mut rest).unwrap_or(0), 0);
}

#[test]
fn copy_splices_a_pipe_into_a_socket_and_back() {
    let (mut pipe_in_r, mut pipe_in_w) = pipe_files();
    let (mut pipe_out_r, mut pipe_out_w) = pipe_files();
    let (mut near, far) = tcp_pair();
    let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 241) as u8).collect();
    let feeding = {
        let data = data.clone();
        std::thread::spawn(move || pipe_in_w.write_all(&data).unwrap())
    };
    let echoing = std::thread::spawn(move || {
        let far_w = far.try_clone().unwrap();
        let mut far = far;
        let n = copy(&mut far, &mut pipe_out_w).unwrap();
        far_w.shutdown(Shutdown::Both).ok();
        n
    });
    let up = copy(&mut pipe_in_r, &mut near).unwrap();
    near.shutdown(Shutdown::Write).unwrap();
    feeding.join().unwrap();
    let mut got = Vec::new();
    pipe_out_r.read_to_end(&mut got).unwrap();
    assert_eq!(up, data.len() as u64);
    assert_eq!(echoing.join().unwrap(), data.len() as u64);
    assert_eq!(got, data, "bytes changed on the way");
}

#[test]
fn copy_falls_back_to_a_buffer_when_neither_side_is_a_pipe() {
    let (mut unix_w, mut unix_r) = UnixStream::pair().unwrap();
    let (mut near, mut far) = tcp_pair();
    let data = vec![9u8; 700_000];
    let writing = {
        let data = data.clone();
        std::thread::spawn(move || {
            unix_w.write_all(&data).unwrap();
            unix_w.shutdown(Shutdown::Write).unwrap();
        })
    };
    let reading = std::thread::spawn(move || {
        let mut got = Vec::new();
        far.read_to_end(&mut got).unwrap();
        got
    });
    assert_eq!(copy(&mut unix_r, &mut near).unwrap(), data.len() as u64);
    near.shutdown(Shutdown::Write).unwrap();
    writing.join().unwrap();
    assert_eq!(reading.join().unwrap(), data);
}

#[test]
fn a_peer_that_resets_ends_the_relay_normally() {
    let (mut client, relaying, server) = relayed(|s| {
        let mut buf = [0u8; 4];
        (&s).read_exact(&mut buf).unwrap();
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt with a linger struct on a socket we own; closing then resets.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
    });
    client.write_all(b"ping").unwrap();
    server.join().unwrap();
    let mut rest = Vec::new();
    let _ = client.read_to_end(&mut rest);
    drop(client);
    let moved = relaying.join().unwrap().expect("a reset is a normal end");
    assert_eq!(moved.up, 4);
}
