//! `SSH_MSG_KEXINIT` (RFC 4253 §7.1): the algorithm lists each side offers, how the two lists
//! negotiate one algorithm, which message flow a key-exchange method follows, and which key
//! type a host-key algorithm signs with.

use super::ssh_string;

/// The parts of a KEXINIT the watch needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInit {
    /// `kex_algorithms`, in preference order.
    pub kex: Vec<String>,
    /// `server_host_key_algorithms`, in preference order.
    pub host_key: Vec<String>,
    /// The sender's guessed key-exchange packet follows.
    pub first_kex_packet_follows: bool,
}

/// Name-lists in a KEXINIT after the cookie: kex, host key, 2 ciphers, 2 MACs, 2
/// compressions, 2 languages.
const NAME_LISTS: usize = 10;

impl KexInit {
    /// Parses a KEXINIT payload (message number first).
    pub fn parse(payload: &[u8]) -> Option<KexInit> {
        let mut rest = payload.get(17..)?;
        let mut lists = Vec::with_capacity(NAME_LISTS);
        for _ in 0..NAME_LISTS {
            let (list, next) = ssh_string(rest)?;
            lists.push(std::str::from_utf8(list).ok()?);
            rest = next;
        }
        let split = |l: &str| -> Vec<String> {
            l.split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        };
        Some(KexInit {
            kex: split(lists[0]),
            host_key: split(lists[1]),
            first_kex_packet_follows: *rest.first()? != 0,
        })
    }
}

/// The algorithm both sides use: the client's first that the server also offers.
pub fn negotiate(client: &[String], server: &[String]) -> Option<String> {
    client.iter().find(|c| server.contains(c)).cloned()
}

/// The message flow of a key-exchange method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Client init (30), server reply with the host key (31): DH groups, ECDH, curve25519,
    /// curve448 and the post-quantum hybrids.
    Single,
    /// Client request (34), server group (31), client init (32), server reply with the host
    /// key (33).
    GroupExchange,
}

impl Method {
    /// The flow of method `name`; `None` for a method napsh does not know (GSS-API…).
    pub fn of(name: &str) -> Option<Method> {
        const SINGLE: [&str; 6] = [
            "diffie-hellman-group",
            "ecdh-sha2-",
            "curve25519-",
            "curve448-",
            "sntrup761x25519-",
            "mlkem",
        ];
        if name.starts_with("diffie-hellman-group-exchange-") {
            Some(Method::GroupExchange)
        } else if SINGLE.iter().any(|p| name.starts_with(p)) {
            Some(Method::Single)
        } else {
            None
        }
    }
}

/// The key type a host-key algorithm signs with: the RSA SHA-2 signatures use `ssh-rsa`
/// keys (and certificates); every other algorithm is named after its key type.
pub fn key_type_of(alg: &str) -> String {
    for sha2 in ["rsa-sha2-256", "rsa-sha2-512"] {
        if let Some(rest) = alg.strip_prefix(sha2) {
            return format!("ssh-rsa{rest}");
        }
    }
    alg.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_key_types() {
        assert_eq!(Method::of("curve25519-sha256"), Some(Method::Single));
        assert_eq!(
            Method::of("sntrup761x25519-sha512@openssh.com"),
            Some(Method::Single)
        );
        assert_eq!(Method::of("mlkem768x25519-sha256"), Some(Method::Single));
        assert_eq!(
            Method::of("diffie-hellman-group14-sha256"),
            Some(Method::Single)
        );
        assert_eq!(
            Method::of("diffie-hellman-group-exchange-sha256"),
            Some(Method::GroupExchange)
        );
        assert_eq!(Method::of("gss-gex-sha1-x"), None);
        assert_eq!(key_type_of("rsa-sha2-512"), "ssh-rsa");
        assert_eq!(
            key_type_of("rsa-sha2-256-cert-v01@openssh.com"),
            "ssh-rsa-cert-v01@openssh.com"
        );
        assert_eq!(key_type_of("ssh-ed25519"), "ssh-ed25519");
    }

    #[test]
    fn the_clients_first_common_choice_wins() {
        let l = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(negotiate(&l("a,b,c"), &l("c,b")), Some("b".to_string()));
        assert_eq!(negotiate(&l("a"), &l("b")), None);
    }
}
