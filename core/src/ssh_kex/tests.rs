//! The KEX watch against hand-built byte streams: the expected order passes, every reply out
//! of order (the forged-reply bypass) is refused.

use super::*;
use rstest::rstest;

fn string(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

fn packet(payload: &[u8]) -> Vec<u8> {
    let padding = 4u8;
    let len = (1 + payload.len() + padding as usize) as u32;
    let mut out = len.to_be_bytes().to_vec();
    out.push(padding);
    out.extend_from_slice(payload);
    out.extend(std::iter::repeat_n(0u8, padding as usize));
    out
}

/// A KEXINIT offering `kex` and `host_key` (comma-separated lists).
fn kexinit(kex: &str, host_key: &str, follows: bool) -> Vec<u8> {
    let mut p = vec![KEXINIT];
    p.extend([0x5a; 16]);
    p.extend(string(kex.as_bytes()));
    p.extend(string(host_key.as_bytes()));
    for _ in 0..8 {
        p.extend(string(b"none"));
    }
    p.push(follows as u8);
    p.extend([0, 0, 0, 0]);
    packet(&p)
}

fn blob(kind: &str, fill: u8) -> Vec<u8> {
    let mut b = string(kind.as_bytes());
    b.extend(string(&[fill; 32]));
    b
}

/// A reply (31 or 33) carrying a `kind` key.
fn reply(msg: u8, kind: &str, fill: u8) -> Vec<u8> {
    let mut p = vec![msg];
    p.extend(string(&blob(kind, fill)));
    p.extend(string(&[9u8; 32]));
    p.extend(string(b"signature"));
    packet(&p)
}

const ECDH: &str = "curve25519-sha256";
const GEX: &str = "diffie-hellman-group-exchange-sha256";

fn server_start(kex: &str) -> Vec<u8> {
    let mut s = b"banner line\r\nSSH-2.0-OpenSSH_9.2\r\n".to_vec();
    s.extend(kexinit(
        &format!("{kex},kex-strict-s-v00@openssh.com"),
        "ssh-ed25519",
        false,
    ));
    s
}

fn client_start(kex: &str) -> Vec<u8> {
    let mut c = b"SSH-2.0-OpenSSH_9.6\r\n".to_vec();
    c.extend(kexinit(
        &format!("{kex},ext-info-c"),
        "ssh-ed25519,rsa-sha2-512",
        false,
    ));
    c
}

/// A watch that has seen both KEXINITs of an ECDH exchange (nothing of the client's init).
fn after_kexinits() -> KexWatch {
    let mut w = KexWatch::default();
    let s = server_start(ECDH);
    assert_eq!(w.server(&s), Scan::Pending { safe: s.len() });
    let c = client_start(ECDH);
    assert_eq!(w.client(&c), ClientScan::Pending { safe: c.len() });
    w
}

#[test]
fn the_reply_after_the_clients_init_carries_the_key() {
    let mut w = after_kexinits();
    let init = packet(&[KEX_INIT, 1, 2, 3]);
    assert_eq!(w.client(&init), ClientScan::Done { end: init.len() });
    let mut s = reply(KEX_REPLY, "ssh-ed25519", 7);
    let end = s.len();
    s.extend(packet(&[21]));
    match w.server(&s) {
        Scan::Key { key, end: at } => {
            assert_eq!(key.kind, "ssh-ed25519");
            assert_eq!(key.blob, blob("ssh-ed25519", 7));
            assert_eq!(at, end);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_forged_reply_before_the_clients_init_is_refused() {
    // Issue 11 #2: the device's public key in a reply the client never asked for, then a real
    // exchange with another key. OpenSSH without strict KEX ignores the first reply.
    let mut w = after_kexinits();
    match w.server(&reply(KEX_REPLY, "ssh-ed25519", 7)) {
        Scan::Refuse(why) => assert!(why.contains("out of order"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[rstest]
#[case::before_any_kexinit(reply(KEX_REPLY, "ssh-ed25519", 7))]
#[case::newkeys_first(packet(&[21]))]
#[case::ignore_first(packet(&[2, 0, 0, 0, 0]))]
fn the_servers_first_packet_must_be_its_kexinit(#[case] first: Vec<u8>) {
    let mut s = b"SSH-2.0-x\r\n".to_vec();
    s.extend(first);
    assert!(matches!(KexWatch::default().server(&s), Scan::Refuse(_)));
}

#[test]
fn group_exchange_follows_request_group_init_reply() {
    let mut w = KexWatch::default();
    let s = server_start(GEX);
    assert_eq!(w.server(&s), Scan::Pending { safe: s.len() });
    let mut c = client_start(GEX);
    c.extend(packet(&[GEX_REQUEST, 0, 0, 8, 0]));
    assert_eq!(w.client(&c), ClientScan::Pending { safe: c.len() });
    // The group (two mpints) is no key; a 33 before the client's 32 is out of order.
    let mut group = vec![KEX_REPLY];
    group.extend(string(&[0xab; 64]));
    group.extend(string(&[2]));
    let group = packet(&group);
    assert_eq!(
        w.clone().server(&[group.clone(), reply(GEX_REPLY, "ssh-ed25519", 1)].concat()),
        Scan::Refuse("the device sent key-exchange message 33 out of order (before the client asked for it): not relayed".into())
    );
    assert_eq!(w.server(&group), Scan::Pending { safe: group.len() });
    let init = packet(&[GEX_INIT, 5]);
    assert_eq!(w.client(&init), ClientScan::Done { end: init.len() });
    assert!(matches!(
        w.server(&reply(GEX_REPLY, "ssh-ed25519", 1)),
        Scan::Key { .. }
    ));
}

#[test]
fn a_key_of_another_type_than_negotiated_is_refused() {
    let mut w = after_kexinits();
    w.client(&packet(&[KEX_INIT, 1]));
    match w.server(&reply(KEX_REPLY, "ssh-rsa", 7)) {
        Scan::Refuse(why) => assert!(why.contains("ssh-rsa key"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[rstest]
#[case::guessed_packet(kexinit(ECDH, "ssh-ed25519", true), "first_kex_packet_follows")]
#[case::unknown_method(
    kexinit("gss-group14-sha256-x", "ssh-ed25519", false),
    "napsh can follow"
)]
fn the_client_side_refuses_what_it_cannot_follow(#[case] init: Vec<u8>, #[case] why: &str) {
    let mut w = KexWatch::default();
    let s = b"SSH-2.0-x\r\n".to_vec();
    let server_init = kexinit(
        &format!("{ECDH},gss-group14-sha256-x"),
        "ssh-ed25519",
        false,
    );
    w.server(&[s.clone(), server_init].concat());
    let mut c = s;
    c.extend(init);
    c.extend(packet(&[KEX_INIT, 1]));
    match w.client(&c) {
        ClientScan::Refuse(msg) => assert!(msg.contains(why), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn passes_complete_packets_and_waits_for_the_rest_byte_by_byte() {
    let mut w = after_kexinits();
    w.client(&packet(&[KEX_INIT, 1]));
    let s = reply(KEX_REPLY, "ssh-ed25519", 3);
    let mut pending = Vec::new();
    for b in &s {
        pending.push(*b);
        match w.server(&pending) {
            Scan::Pending { safe } => assert_eq!(safe, 0),
            Scan::Key { end, .. } => return assert_eq!(end, s.len()),
            Scan::Refuse(why) => panic!("{why}"),
        }
    }
    panic!("no key found");
}

#[rstest]
#[case::huge_packet(vec![0x7f, 0xff, 0xff, 0xff, 0], "before the key exchange ended")]
#[case::tiny_packet(vec![0, 0, 0, 1, 0], "before the key exchange ended")]
#[case::padding_overflow(vec![0, 0, 0, 5, 200, 1, 2, 3, 4], "more padding")]
fn refuses_unreadable_packets(#[case] tail: Vec<u8>, #[case] why: &str) {
    let mut s = b"SSH-2.0-x\r\n".to_vec();
    s.extend(tail);
    match KexWatch::default().server(&s) {
        Scan::Refuse(msg) => assert!(msg.contains(why), "{msg}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn refuses_an_endless_preamble() {
    let junk = vec![b'x'; MAX_PREAMBLE + 1];
    assert!(matches!(KexWatch::default().server(&junk), Scan::Refuse(_)));
    let lines = b"hello\n".repeat(MAX_PREAMBLE / 6 + 1);
    assert!(matches!(
        KexWatch::default().server(&lines),
        Scan::Refuse(_)
    ));
}

#[test]
fn never_panics_on_truncations_and_noise() {
    let s = [server_start(ECDH), reply(KEX_REPLY, "ssh-ed25519", 1)].concat();
    let c = [client_start(ECDH), packet(&[KEX_INIT, 1])].concat();
    for cut in 0..s.len().max(c.len()) {
        let mut w = KexWatch::default();
        let _ = w.server(&s[..cut.min(s.len())]);
        let _ = w.client(&c[..cut.min(c.len())]);
        let (mut ns, mut nc) = (s.clone(), c.clone());
        ns[cut % s.len()] ^= 0xa5;
        nc[cut % c.len()] ^= 0x5a;
        let mut w = KexWatch::default();
        let _ = w.server(&ns);
        let _ = w.client(&nc);
        let _ = w.server(&ns);
    }
}
