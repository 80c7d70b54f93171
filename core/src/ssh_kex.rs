//! Following an SSH connection's clear-text start (RFC 4253: version lines, then binary
//! packets up to `NEWKEYS`) in both directions as it passes through a relay, to read the host
//! key the server presents before the client sees it (`napsh tunnel`). The key counts only in
//! the reply that the transport state machine expects: after the server's `KEXINIT` (its first
//! packet, as strict KEX requires), the client's `KEXINIT` and the client's key-exchange init
//! (30, or 34 then 32 for DH group exchange), of the type the negotiated host-key algorithm
//! names. Anything out of order — a reply before the client asked (OpenSSH without strict KEX
//! would log it and go on), an unknown method, a guessed first packet — refuses the
//! connection. A relay cannot check the reply's signature: the client does that.
//! Never panics on any input.

mod kexinit;

pub use kexinit::{negotiate, KexInit, Method};

/// Longest packet accepted before the key exchange ends (RFC 4253 asks for 35000 at least).
const MAX_PACKET: usize = 256 * 1024;
/// Bytes of pre-version lines and version accepted before giving up.
const MAX_PREAMBLE: usize = 16 * 1024;
/// `SSH_MSG_KEXINIT`.
const KEXINIT: u8 = 20;
/// `SSH_MSG_KEXDH_INIT` / `KEX_ECDH_INIT` (and the old `KEX_DH_GEX_REQUEST_OLD`).
const KEX_INIT: u8 = 30;
/// `SSH_MSG_KEXDH_REPLY` / `KEX_ECDH_REPLY`; in group exchange, `KEX_DH_GEX_GROUP`.
const KEX_REPLY: u8 = 31;
/// `SSH_MSG_KEX_DH_GEX_INIT`.
const GEX_INIT: u8 = 32;
/// `SSH_MSG_KEX_DH_GEX_REPLY`.
const GEX_REPLY: u8 = 33;
/// `SSH_MSG_KEX_DH_GEX_REQUEST`.
const GEX_REQUEST: u8 = 34;

/// A host key as it appears on the wire: its type and the raw blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireHostKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub kind: String,
    /// The public key blob (known_hosts holds it base64-encoded).
    pub blob: Vec<u8>,
}

/// What the server's bytes seen so far allow.
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
    /// Not an SSH key exchange napsh can follow: pass nothing more on, close.
    Refuse(String),
}

/// What the client's bytes seen so far allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientScan {
    /// The first `safe` bytes may be passed on; feed more.
    Pending {
        /// Bytes that may be forwarded now.
        safe: usize,
    },
    /// The client's last key-exchange message ends at `end`: pass everything on from now.
    Done {
        /// End of that packet.
        end: usize,
    },
    /// Out of order: close.
    Refuse(String),
}

/// Where the key exchange stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Stage {
    /// Before the client's first key-exchange message.
    #[default]
    Inits,
    /// The client sent its ECDH/DH init: the server's 31 is the reply.
    Sent,
    /// The client asked for a group-exchange group: the server's 31 is the group.
    GexRequested,
    /// The server sent the group: the client's 32 comes next.
    GexGroup,
    /// The client sent its group-exchange init: the server's 33 is the reply.
    GexSent,
}

/// One direction's framing: version line (and, from the server, lines before it), then
/// binary packets.
#[derive(Debug, Clone, Default)]
struct Framer {
    /// The `SSH-…` version line has been passed.
    version_seen: bool,
    /// Preamble bytes passed so far.
    preamble: usize,
    /// Packets passed so far.
    packets: usize,
}

/// The next unit of one direction's bytes.
enum Frame<'a> {
    /// Not complete yet.
    Need,
    /// A line before the first packet, ending at `end`.
    Line {
        /// End of the line.
        end: usize,
    },
    /// A packet's payload, the packet ending at `end`.
    Packet {
        /// Message number and fields.
        payload: &'a [u8],
        /// End of the packet.
        end: usize,
    },
    /// Unreadable.
    Bad(String),
}

impl Framer {
    /// The unit of `buf` starting at `at`.
    fn next<'a>(&mut self, buf: &'a [u8], at: usize) -> Frame<'a> {
        let rest = &buf[at..];
        if !self.version_seen {
            let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
                return match self.preamble + rest.len() > MAX_PREAMBLE {
                    true => Frame::Bad("no SSH version line".into()),
                    false => Frame::Need,
                };
            };
            self.version_seen = rest.starts_with(b"SSH-");
            self.preamble += nl + 1;
            if self.preamble > MAX_PREAMBLE {
                return Frame::Bad("no SSH version line".into());
            }
            return Frame::Line { end: at + nl + 1 };
        }
        let Some(len) = rest.get(..4).map(be_u32) else {
            return Frame::Need;
        };
        let len = len as usize;
        if !(5..=MAX_PACKET).contains(&len) {
            return Frame::Bad(format!(
                "an SSH packet of {len} bytes before the key exchange ended"
            ));
        }
        let Some(packet) = rest.get(..4 + len) else {
            return Frame::Need;
        };
        let padding = packet[4] as usize;
        match packet.get(5..(4 + len).saturating_sub(padding)) {
            Some(payload) if !payload.is_empty() => {
                self.packets += 1;
                Frame::Packet {
                    payload,
                    end: at + 4 + len,
                }
            }
            _ => Frame::Bad("an SSH packet with more padding than payload".into()),
        }
    }
}

/// Watches both directions of one SSH connection until the server's host key is read.
#[derive(Debug, Clone, Default)]
pub struct KexWatch {
    /// Client → server framing.
    client: Framer,
    /// Server → client framing.
    server: Framer,
    /// The client's KEXINIT, once seen.
    client_init: Option<KexInit>,
    /// The server's KEXINIT, once seen.
    server_init: Option<KexInit>,
    /// Where the exchange stands.
    stage: Stage,
}

impl KexWatch {
    /// Scans the client's bytes not yet passed on (oldest first).
    pub fn client(&mut self, buf: &[u8]) -> ClientScan {
        let mut at = 0;
        loop {
            match self.client.next(buf, at) {
                Frame::Need => return ClientScan::Pending { safe: at },
                Frame::Bad(why) => return ClientScan::Refuse(format!("the client sent {why}")),
                Frame::Line { end } => at = end,
                Frame::Packet { payload, end } => match self.client_packet(payload) {
                    Err(why) => return ClientScan::Refuse(why),
                    Ok(true) => return ClientScan::Done { end },
                    Ok(false) => at = end,
                },
            }
        }
    }

    /// Scans the server's bytes not yet passed on (oldest first).
    pub fn server(&mut self, buf: &[u8]) -> Scan {
        let mut at = 0;
        loop {
            match self.server.next(buf, at) {
                Frame::Need => return Scan::Pending { safe: at },
                Frame::Bad(why) => return Scan::Refuse(format!("the device sent {why}")),
                Frame::Line { end } => at = end,
                Frame::Packet { payload, end } => match self.server_packet(payload) {
                    Err(why) => return Scan::Refuse(why),
                    Ok(Some(key)) => return Scan::Key { key, end },
                    Ok(None) => at = end,
                },
            }
        }
    }

    /// One client packet; `Ok(true)` after its last key-exchange message.
    fn client_packet(&mut self, payload: &[u8]) -> Result<bool, String> {
        let kind = payload[0];
        if self.client.packets == 1 {
            self.client_init = Some(first_kexinit(payload, "client")?);
            return Ok(false);
        }
        let method = self.method()?;
        match (self.stage, method, kind) {
            (Stage::Inits, Method::Single, KEX_INIT) => self.stage = Stage::Sent,
            (Stage::Inits, Method::GroupExchange, GEX_REQUEST | KEX_INIT) => {
                self.stage = Stage::GexRequested;
                return Ok(false);
            }
            (Stage::GexGroup, Method::GroupExchange, GEX_INIT) => self.stage = Stage::GexSent,
            _ => return Err(format!("the client sent message {kind} out of order")),
        }
        Ok(true)
    }

    /// One server packet: the host key when it is the expected reply.
    fn server_packet(&mut self, payload: &[u8]) -> Result<Option<WireHostKey>, String> {
        let kind = payload[0];
        if self.server.packets == 1 {
            self.server_init = Some(first_kexinit(payload, "device")?);
            return Ok(None);
        }
        let out_of_order = || {
            format!("the device sent key-exchange message {kind} out of order (before the client asked for it): not relayed")
        };
        match (self.stage, kind) {
            (Stage::Sent, KEX_REPLY) | (Stage::GexSent, GEX_REPLY) => {
                self.reply_key(&payload[1..]).map(Some)
            }
            (Stage::GexRequested, KEX_REPLY) => {
                self.stage = Stage::GexGroup;
                Ok(None)
            }
            _ => Err(out_of_order()),
        }
    }

    /// The negotiated method (both KEXINITs seen).
    fn method(&self) -> Result<Method, String> {
        let (Some(c), Some(s)) = (&self.client_init, &self.server_init) else {
            return Err("the client started the key exchange before the device's KEXINIT".into());
        };
        let kex = negotiate(&c.kex, &s.kex).ok_or("no key-exchange method in common")?;
        Method::of(&kex).ok_or_else(|| format!("key exchange {kex} is not one napsh can follow"))
    }

    /// The host key of a reply, of the type the negotiated host-key algorithm names.
    fn reply_key(&self, fields: &[u8]) -> Result<WireHostKey, String> {
        let key = parse_key(fields).ok_or("a key-exchange reply without a readable host key")?;
        let (Some(c), Some(s)) = (&self.client_init, &self.server_init) else {
            return Err("a key-exchange reply before both KEXINITs".into());
        };
        let alg = negotiate(&c.host_key, &s.host_key).ok_or("no host-key algorithm in common")?;
        if kexinit::key_type_of(&alg) != key.kind {
            return Err(format!(
                "the device presented a {} key for host-key algorithm {alg}",
                key.kind
            ));
        }
        Ok(key)
    }
}

/// The first packet of a side: its KEXINIT, without a guessed packet after it.
fn first_kexinit(payload: &[u8], side: &str) -> Result<KexInit, String> {
    if payload[0] != KEXINIT {
        return Err(format!(
            "the {side} sent message {} before its KEXINIT",
            payload[0]
        ));
    }
    let init = KexInit::parse(payload).ok_or(format!("the {side} sent an unreadable KEXINIT"))?;
    if init.first_kex_packet_follows {
        return Err(format!(
            "the {side} guesses the key exchange (first_kex_packet_follows)"
        ));
    }
    Ok(init)
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
mod tests;
