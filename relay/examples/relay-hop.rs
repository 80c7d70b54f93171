//! One bare relay hop over [`napsh_relay::relay`], to measure the kernel relay alone (the
//! floor of `napsh tunnel`, used by `scripts/bench-reach.sh`):
//! `relay-hop TARGET_ADDR` listens on a free loopback port, prints it (`127.0.0.1:PORT`)
//! and relays every connection to TARGET_ADDR until killed.

use std::io::Write;
use std::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let Some(target) = std::env::args().nth(1) else {
        eprintln!("usage: relay-hop TARGET_ADDR   (e.g. relay-hop 127.0.0.1:8080)");
        std::process::exit(2);
    };
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut out = std::io::stdout();
    writeln!(out, "{}", listener.local_addr()?)?;
    out.flush()?;
    for client in listener.incoming() {
        let client = client?;
        let target = target.clone();
        std::thread::spawn(move || {
            let server = TcpStream::connect(&target)?;
            napsh_relay::relay(client, server)
        });
    }
    Ok(())
}
