//! Reading the host key an SSH server presents, from the server's side of a connection as it
//! passes through: the version line, then clear-text binary packets up to the key-exchange
//! reply (`SSH_MSG_KEX_ECDH_REPLY` / `KEXDH_REPLY` = 31, `KEX_DH_GEX_REPLY` = 33) whose first
//! field is the host key. Lets `napsh tunnel` check the key before the client sees it. Never
//! panics on any input.

/// Longest packet accepted before the key exchange ends (RFC 4253 asks for 35000 at least).
const MAX_PACKET: usize = 256 * 1024;
/// Bytes of pre-version lines and version accepted before giving up.
const MAX_PREAMBLE: usize = 16 * 1024;
/// Message numbers that carry the host key first (31: DH, ECDH and hybrid replies; 33: DH
/// group exchange reply). In group exchange, 31 is the group (two mpints): not a key blob.
const KEY_REPLIES: [u8; 2] = [31, 33];
/// `SSH_MSG_NEWKEYS`: encryption starts; a key must have been seen by then.
const NEWKEYS: u8 = 21;

/// A host key as it appears on the wire: its type and the raw blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireHostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub kind: String,
    /// The public key blob (known_hosts holds it base64-encoded).
    pub blob: Vec<u8>,
}

/// What the bytes seen so far allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The first `safe` bytes hold no host key: pass them on, drop them, feed more.
    Pending {
        /// Bytes that may be forwarded now.
        safe: usize,
    },
    /// The host key is in the first `end` bytes (`..end` ends with the reply packet): check
    /// it before passing them on; after that the watch is over.
    Key {
        /// The key.
        key: WireHostKey,
        /// End of the reply packet.
        end: usize,
    },
    /// Not an SSH key exchange napsh can read: do not pass anything more on.
    Refuse(String),
}

/// Watches the server→client bytes of one SSH connection.
#[derive(Debug, Clone, Default)]
pub struct ServerWatch {
    /// The `SSH-…` version line has been passed.
    version_seen: bool,
    /// Preamble bytes passed so far.
    preamble: usize,
}

impl ServerWatch {
    /// Scans `buf` (the bytes not yet passed on, oldest first).
    pub fn scan(&mut self, buf: &[u8]) -> Scan {
        let mut at = 0;
        while !self.version_seen {
            let Some(nl) = buf[at..].iter().position(|b| *b == b'\n') else {
                return self.pending_preamble(at, buf.len() - at);
            };
            let line = &buf[at..at + nl + 1];
            self.version_seen = line.starts_with(b"SSH-");
            self.preamble += line.len();
            at += line.len();
            if self.preamble > MAX_PREAMBLE {
                return Scan::Refuse("no SSH version line from the device".into());
            }
        }
        loop {
            let rest = &buf[at..];
            let Some(len) = rest.get(..4).map(be_u32) else {
                return Scan::Pending { safe: at };
            };
            let len = len as usize;
            if !(5..=MAX_PACKET).contains(&len) {
                return Scan::Refuse(format!(
                    "an SSH packet of {len} bytes before the key exchange ended"
                ));
            }
            let Some(packet) = rest.get(..4 + len) else {
                return Scan::Pending { safe: at };
            };
            let padding = packet[4] as usize;
            let Some(payload) = packet.get(5..(4 + len).saturating_sub(padding)) else {
                return Scan::Refuse("an SSH packet with more padding than payload".into());
            };
            match payload.first() {
                Some(&NEWKEYS) => {
                    return Scan::Refuse(
                        "the device started encryption without presenting a host key".into(),
                    )
                }
                Some(kind) if KEY_REPLIES.contains(kind) => {
                    if let Some(key) = parse_key(&payload[1..]) {
                        return Scan::Key {
                            key,
                            end: at + 4 + len,
                        };
                    }
                    if *kind == 33 {
                        return Scan::Refuse(
                            "a key-exchange reply without a readable host key".into(),
                        );
                    }
                }
                _ => {}
            }
            at += 4 + len;
        }
    }

    /// An unfinished preamble line: pass nothing of it yet, unless it is already too long.
    fn pending_preamble(&self, safe: usize, unfinished: usize) -> Scan {
        if self.preamble + unfinished > MAX_PREAMBLE {
            return Scan::Refuse("no SSH version line from the device".into());
        }
        Scan::Pending { safe }
    }
}

/// Big-endian u32 of the first four bytes (the caller guarantees four).
fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// An SSH `string` at the start of `b`: (contents, rest).
fn ssh_string(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = be_u32(b.get(..4)?) as usize;
    let body = b.get(4..4usize.checked_add(len)?)?;
    Some((body, &b[4 + len..]))
}

/// The host key blob at the start of a reply: a string holding a blob that itself starts with
/// a plausible key-type name.
fn parse_key(fields: &[u8]) -> Option<WireHostKey> {
    let (blob, _) = ssh_string(fields)?;
    let (kind, _) = ssh_string(blob)?;
    let plausible = (3..=64).contains(&kind.len())
        && kind
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.@".contains(c));
    if !plausible {
        return None;
    }
    Some(WireHostKey {
        kind: String::from_utf8(kind.to_vec()).ok()?,
        blob: blob.to_vec(),
    })
}

#[cfg(test)]
mod tests {
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

    fn blob() -> Vec<u8> {
        let mut b = string(b"ssh-ed25519");
        b.extend(string(&[7u8; 32]));
        b
    }

    fn reply(kind: u8) -> Vec<u8> {
        let mut p = vec![kind];
        p.extend(string(&blob()));
        p.extend(string(&[9u8; 32]));
        packet(&p)
    }

    fn stream() -> Vec<u8> {
        let mut s = b"SSH-2.0-OpenSSH_9.2\r\n".to_vec();
        s.extend(packet(&[20, 1, 2, 3]));
        s
    }

    #[test]
    fn finds_the_key_of_an_ecdh_reply_and_where_it_ends() {
        let mut s = stream();
        let before = s.len();
        s.extend(reply(31));
        s.extend(packet(&[21]));
        let mut w = ServerWatch::default();
        match w.scan(&s) {
            Scan::Key { key, end } => {
                assert_eq!(key.kind, "ssh-ed25519");
                assert_eq!(key.blob, blob());
                assert_eq!(end, before + reply(31).len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn passes_complete_packets_and_waits_for_the_rest_byte_by_byte() {
        let mut s = stream();
        s.extend(reply(33));
        let mut w = ServerWatch::default();
        let mut pending = Vec::new();
        let mut passed = 0;
        for b in &s {
            pending.push(*b);
            match w.scan(&pending) {
                Scan::Pending { safe } => {
                    passed += safe;
                    pending.drain(..safe);
                }
                Scan::Key { end, .. } => {
                    assert_eq!(passed + end, s.len());
                    return;
                }
                Scan::Refuse(why) => panic!("{why}"),
            }
        }
        panic!("no key found");
    }

    #[test]
    fn a_group_exchange_group_is_not_mistaken_for_a_key() {
        let mut p = vec![31u8];
        let mut prime = vec![0u8, 0xff];
        prime.extend([0xab; 255]);
        p.extend(string(&prime));
        p.extend(string(&[2]));
        let mut s = stream();
        s.extend(packet(&p));
        let first = s.len();
        assert_eq!(
            ServerWatch::default().scan(&s),
            Scan::Pending { safe: first }
        );
        s.extend(reply(33));
        assert!(matches!(ServerWatch::default().scan(&s), Scan::Key { .. }));
    }

    #[rstest]
    #[case::newkeys_first(packet(&[21]), "without presenting a host key")]
    #[case::huge_packet(vec![0x7f, 0xff, 0xff, 0xff, 0], "before the key exchange ended")]
    #[case::tiny_packet(vec![0, 0, 0, 1, 0], "before the key exchange ended")]
    #[case::padding_overflow(vec![0, 0, 0, 5, 200, 1, 2, 3, 4], "more padding")]
    #[case::bad_gex_reply(packet(&[33, 0, 0, 0, 1, 0]), "without a readable host key")]
    fn refuses_what_is_not_a_key_exchange(#[case] tail: Vec<u8>, #[case] why: &str) {
        let mut s = stream();
        s.extend(tail);
        match ServerWatch::default().scan(&s) {
            Scan::Refuse(msg) => assert!(msg.contains(why), "{msg}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_an_endless_preamble() {
        let junk = vec![b'x'; MAX_PREAMBLE + 1];
        assert!(matches!(
            ServerWatch::default().scan(&junk),
            Scan::Refuse(_)
        ));
        let lines = b"hello\n".repeat(MAX_PREAMBLE / 6 + 1);
        assert!(matches!(
            ServerWatch::default().scan(&lines),
            Scan::Refuse(_)
        ));
    }

    #[test]
    fn never_panics_on_truncations_and_noise() {
        let mut s = stream();
        s.extend(reply(31));
        for cut in 0..s.len() {
            let _ = ServerWatch::default().scan(&s[..cut]);
            let mut noisy = s.clone();
            noisy[cut] ^= 0xa5;
            let _ = ServerWatch::default().scan(&noisy);
        }
    }
}
