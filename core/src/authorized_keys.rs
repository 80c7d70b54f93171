//! SSH public keys for `napsh keys`: parsing a `.pub` file and `authorized_keys` lines
//! (options, type, key, comment), the listing table, and the remote shell snippets that
//! install a key idempotently (read from stdin) and list the installed ones. Hashing and
//! base64 decoding (fingerprints) are left to the caller, so that core stays dependency-light
//! for the plugin.

use crate::sanitize::for_terminal;
use serde::{Deserialize, Serialize};

/// Key types OpenSSH accepts in `authorized_keys`.
pub const KEY_TYPES: [&str; 8] = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
];

/// Public key files tried, in order, when neither `--key` nor the config names one
/// (relative to `~/.ssh`).
pub const DEFAULT_KEY_FILES: [&str; 3] = ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"];

/// Remote `sh` program for `napsh keys push`: reads one public key line on stdin and appends
/// it to `~/.ssh/authorized_keys` unless that key is already active there (its type and blob
/// as two consecutive words of a line that is not a comment, whatever its comment or
/// options: a key only mentioned in a `#` line or a comment does not count); makes `~/.ssh`
/// 0700 and the file 0600; never rewrites existing lines (adds a missing final newline
/// first). Prints `added` or `present`; exits 65 without a key.
/// Contains no single quote, so that it can be sent as `sh -c '…'`.
pub const PUSH_SNIPPET: &str = r#"set -eu; set -f; umask 077
line=; IFS= read -r line || true
set -- $line
if [ $# -lt 2 ]; then echo "napsh: no public key on stdin" >&2; exit 65; fi
kt=$1; blob=$2; d="$HOME/.ssh"; f="$d/authorized_keys"
mkdir -p "$d"; chmod 700 "$d"
if [ ! -f "$f" ]; then : > "$f"; fi
chmod 600 "$f"
while IFS= read -r l || [ -n "$l" ]; do
  set -- $l
  case ${1:-#} in \#*) continue;; esac
  while [ $# -ge 2 ]; do
    if [ "$1" = "$kt" ] && [ "$2" = "$blob" ]; then echo present; exit 0; fi
    shift
  done
done < "$f"
if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then echo >> "$f"; fi
printf "%s\n" "$line" >> "$f"
echo added"#;

/// Remote `sh` program for `napsh keys list`: prints `~/.ssh/authorized_keys` (nothing when
/// it does not exist).
pub const LIST_SNIPPET: &str = r#"cat "$HOME/.ssh/authorized_keys" 2>/dev/null || true"#;

/// `sh -c '<snippet>'`: the remote command line for a snippet (which holds no `'`).
pub fn remote_command(snippet: &str) -> String {
    debug_assert!(!snippet.contains('\''));
    format!("sh -c '{snippet}'")
}

/// A public key as written in a `.pub` file or an `authorized_keys` line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicKey {
    /// Key type (`ssh-ed25519`…).
    pub key_type: String,
    /// The base64 key blob.
    pub blob: String,
    /// Comment (may be empty; untrusted when read from a device).
    pub comment: String,
    /// `authorized_keys` options before the type (`from="…",no-pty`), if any.
    pub options: Option<String>,
}

impl PublicKey {
    /// The line napsh installs: `type blob comment` (comment stripped of control characters).
    pub fn install_line(&self) -> String {
        let comment: String = self
            .comment
            .chars()
            .filter(|c| !crate::sanitize::is_unsafe(*c))
            .collect();
        if comment.trim().is_empty() {
            format!("{} {}", self.key_type, self.blob)
        } else {
            format!("{} {} {}", self.key_type, self.blob, comment.trim())
        }
    }
}

/// Whether `blob` looks like a base64 key blob (alphabet, padding, length); the caller
/// decodes it to be sure.
fn looks_like_blob(blob: &str) -> bool {
    let body = blob.trim_end_matches('=');
    blob.len() >= 16
        && blob.len() & 3 == 0
        && blob.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// Parses one `authorized_keys` line (`[options] type blob [comment]`); `None` for blank
/// lines, comments and anything that is not a key.
pub fn parse_line(line: &str) -> Option<PublicKey> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let at = tokens
        .iter()
        .position(|t| KEY_TYPES.contains(t))
        .filter(|i| tokens.get(i + 1).is_some_and(|b| looks_like_blob(b)))?;
    let options = (at > 0).then(|| {
        let type_start = line.find(&format!(" {}", tokens[at])).unwrap_or(0);
        line[..type_start].trim().to_string()
    });
    Some(PublicKey {
        key_type: tokens[at].to_string(),
        blob: tokens[at + 1].to_string(),
        comment: tokens[at + 2..].join(" "),
        options,
    })
}

/// Parses the text of a `.pub` file: exactly one key, no options; a private key is refused.
pub fn parse_public_key_file(text: &str) -> Result<PublicKey, String> {
    if text.contains("PRIVATE KEY") {
        return Err("this is a PRIVATE key; pass the .pub file next to it".into());
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let [line] = lines.as_slice() else {
        return Err(format!(
            "expected one public key line, found {} lines",
            lines.len()
        ));
    };
    match parse_line(line) {
        Some(k) if k.options.is_none() => Ok(k),
        Some(_) => Err("a public key file must not carry authorized_keys options".into()),
        None => Err("not an OpenSSH public key (like `ssh-ed25519 AAAA… comment`)".into()),
    }
}

/// One row of `napsh keys list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyListing {
    /// Key type.
    #[serde(rename = "type")]
    pub key_type: String,
    /// `SHA256:…`.
    pub fingerprint: String,
    /// Comment (untrusted; JSON-escaped only).
    pub comment: String,
    /// Whether the line carries options (`from=`, `command=`…).
    pub has_options: bool,
}

/// Every key in the text of an `authorized_keys` file, in file order; `fingerprint` turns
/// a key into its `SHA256:…` form.
pub fn list_keys(text: &str, fingerprint: impl Fn(&PublicKey) -> String) -> Vec<KeyListing> {
    text.lines()
        .filter_map(parse_line)
        .map(|k| KeyListing {
            fingerprint: fingerprint(&k),
            has_options: k.options.is_some(),
            key_type: k.key_type,
            comment: k.comment,
        })
        .collect()
}

/// The `napsh keys list` table cells (sanitised).
pub fn listing_rows(keys: &[KeyListing]) -> Vec<Vec<String>> {
    keys.iter()
        .map(|k| {
            vec![
                for_terminal(&k.key_type),
                k.fingerprint.clone(),
                if k.comment.is_empty() {
                    "-".into()
                } else {
                    crate::sanitize::for_terminal_truncated(&k.comment, 48)
                },
                if k.has_options { "yes" } else { "-" }.into(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// A real ed25519 public key (from ssh-keygen).
    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFtcFJXPZE24fSG54NGVBRa4+6kYx0mAmyGYJgunqxXB alice@laptop";

    /// A stand-in fingerprint: the blob's tail.
    fn fp(k: &PublicKey) -> String {
        format!("fp:{}", &k.blob[k.blob.len() - 4..])
    }

    #[test]
    fn pub_file_parses_into_type_blob_comment() {
        let k = parse_public_key_file(&format!("{ED}\n")).unwrap();
        assert_eq!(k.key_type, "ssh-ed25519");
        assert_eq!(k.comment, "alice@laptop");
        assert_eq!(k.options, None);
        assert_eq!(k.install_line(), ED);
    }

    #[test]
    fn options_and_odd_comments_are_understood() {
        let line = format!("from=\"10.0.0.0/8\",no-pty {ED} with  spaces");
        let k = parse_line(&line).unwrap();
        assert_eq!(k.options.as_deref(), Some("from=\"10.0.0.0/8\",no-pty"));
        assert_eq!(k.comment, "alice@laptop with spaces");
        let listed = list_keys(&format!("# comment\n\n{line}\ngarbage here\n{ED}\n"), fp);
        assert_eq!(listed.len(), 2);
        assert!(listed[0].has_options && !listed[1].has_options);
        assert_eq!(listed[1].fingerprint, "fp:qxXB");
    }

    #[rstest]
    #[case::private("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "PRIVATE")]
    #[case::two(&format!("{ED}\n{ED}\n"), "one public key line")]
    #[case::empty("", "one public key line")]
    #[case::junk("ssh-ed25519 notbase64!!", "not an OpenSSH public key")]
    #[case::short_blob("ssh-rsa AAAA", "not an OpenSSH")]
    #[case::options(
        "no-pty ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFtcFJXPZE24fSG54NGVBRa4+6kYx0mAmyGYJgunqxXB",
        "options"
    )]
    fn bad_key_files_are_refused(#[case] text: &str, #[case] why: &str) {
        let err = parse_public_key_file(text).unwrap_err();
        assert!(err.contains(why), "{err}");
    }

    #[test]
    fn control_characters_leave_the_installed_comment() {
        let k = parse_line(&format!("{ED}\x1b[2J")).unwrap();
        assert!(!k.install_line().contains('\x1b'));
        let rows = listing_rows(&list_keys(&format!("{ED}\x1b[2J"), fp));
        assert!(!rows[0][2].contains('\x1b'));
    }

    /// Runs [`PUSH_SNIPPET`] with `key` on stdin against an `authorized_keys` holding
    /// `existing`; returns what it printed and the file afterwards.
    fn push_into(existing: &str, key: &str) -> (String, String) {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        let file = home.path().join(".ssh/authorized_keys");
        std::fs::write(&file, existing).unwrap();
        let mut child = std::process::Command::new("sh")
            .args(["-c", PUSH_SNIPPET])
            .env("HOME", home.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{key}\n").as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (said, std::fs::read_to_string(&file).unwrap())
    }

    #[rstest]
    #[case::commented_out(&format!("# {ED}\n"))]
    #[case::indented_comment(&format!("  #{ED}\n"))]
    #[case::inside_another_comment(&format!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB x {}\n", ED.split(' ').nth(1).unwrap()))]
    fn a_key_only_mentioned_is_not_present(#[case] existing: &str) {
        let (said, after) = push_into(existing, ED);
        assert_eq!(said, "added");
        assert_eq!(after, format!("{existing}{ED}\n"));
    }

    #[rstest]
    #[case::plain(&format!("{ED}\n"))]
    #[case::other_comment(&format!("{} other@host\n", &ED[..ED.rfind(' ').unwrap()]))]
    #[case::with_options(&format!("from=\"10.0.0.0/8\",no-pty {ED}\n"))]
    #[case::indented_no_newline(&format!("  {ED}"))]
    fn an_active_key_is_present(#[case] existing: &str) {
        let (said, after) = push_into(existing, ED);
        assert_eq!(said, "present");
        assert_eq!(after, existing);
    }

    #[test]
    fn snippets_fit_in_single_quotes() {
        for s in [PUSH_SNIPPET, LIST_SNIPPET] {
            assert!(!s.contains('\''));
            assert!(remote_command(s).starts_with("sh -c '"));
        }
    }
}
