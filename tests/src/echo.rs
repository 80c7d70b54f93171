//! A local IP-echo service for `ip_echo_url`: a loopback HTTP server answering every request
//! with one fixed body, counting the requests. Stopped when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The running server.
pub struct EchoServer {
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
    /// Requests answered so far.
    hits: Arc<AtomicUsize>,
    /// Set when dropped; the accept loop then ends.
    stop: Arc<AtomicBool>,
    /// The accept loop.
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Starts a server answering `200 OK` with `body` (`text/plain`) on a free loopback port.
    pub fn start(body: &str) -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the echo server");
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (body, counter, stopped) = (body.to_string(), hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    counter.fetch_add(1, Ordering::SeqCst);
                    answer(stream, &body);
                }
            }
        });
        EchoServer {
            url,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// Reads the request head and answers with `body`.
fn answer(mut stream: TcpStream, body: &str) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop up so that it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://").trim_end_matches('/'));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
