//! Presenting a command run on many devices at once (`napsh exec`): per-device labels
//! (sanitised, unique, padded for alignment), splitting output into lines (partial lines
//! kept until complete) shown sanitised (colours only) or raw, the summary line, safe log file
//! names and the exit code.

use crate::sanitize::{for_terminal, output_for_terminal, truncate};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use unicode_width::UnicodeWidthStr;

/// `napsh exec` exits with this code when at least one device failed (offline, unreachable,
/// or its command exited non-zero).
pub const SOME_FAILED_EXIT: i32 = 1;
/// Longest label shown in a line prefix (characters).
pub const LABEL_MAX_CHARS: usize = 32;
/// A line longer than this many bytes without a newline is emitted in pieces.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// What the caller knows about one target when building labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelSource<'a> {
    /// Name tag (untrusted; may be empty).
    pub name: &'a str,
    /// SIM id.
    pub sim_id: &'a str,
}

/// One display label per target: the sanitised name (or SIM id when unnamed), cut to
/// [`LABEL_MAX_CHARS`]; labels that would collide get their SIM id appended.
pub fn labels(targets: &[LabelSource<'_>]) -> Vec<String> {
    let base: Vec<String> = targets
        .iter()
        .map(|t| {
            let raw = if t.name.is_empty() { t.sim_id } else { t.name };
            truncate(&for_terminal(raw), LABEL_MAX_CHARS)
        })
        .collect();
    base.iter()
        .zip(targets)
        .map(|(label, t)| {
            if base.iter().filter(|b| *b == label).count() > 1 {
                format!("{label}@{}", for_terminal(t.sim_id))
            } else {
                label.clone()
            }
        })
        .collect()
}

/// The line prefix of every label: `[label]` padded with spaces so that output starts in the
/// same column for every device, followed by one space.
pub fn prefixes(labels: &[String]) -> Vec<String> {
    let width = labels.iter().map(|l| l.width()).max().unwrap_or(0);
    labels
        .iter()
        .map(|l| format!("[{l}]{} ", " ".repeat(width - l.width())))
        .collect()
}

/// Splits a byte stream into lines; bytes after the last newline wait for the next chunk.
#[derive(Debug, Default)]
pub struct LineSplitter {
    /// Bytes of the line not yet terminated.
    pending: Vec<u8>,
    /// Keep the `\r` of a `\r\n` line end ([`OutputMode::Raw`]: byte for byte).
    keep_cr: bool,
}

impl LineSplitter {
    /// A splitter for lines shown as `mode` says: [`OutputMode::Raw`] keeps every byte but
    /// the `\n` (a `\r\n` line end keeps its `\r`).
    pub fn for_mode(mode: OutputMode) -> Self {
        LineSplitter {
            pending: Vec::new(),
            keep_cr: mode == OutputMode::Raw,
        }
    }

    /// Adds a chunk; returns the lines it completed, without their `\n` or `\r\n` (a
    /// carriage return there would send the cursor back over the prefix; kept by a raw
    /// splitter). A line reaching [`MAX_LINE_BYTES`] is returned in pieces.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for &b in chunk {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.pending);
                if line.last() == Some(&b'\r') && !self.keep_cr {
                    line.pop();
                }
                lines.push(line);
            } else {
                self.pending.push(b);
                if self.pending.len() >= MAX_LINE_BYTES {
                    lines.push(std::mem::take(&mut self.pending));
                }
            }
        }
        lines
    }

    /// The unterminated rest at end of stream, if any.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// How `napsh exec` shows what devices print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Colours kept, every other control shown escaped: a device can neither move the cursor
    /// (to forge another device's line) nor retitle the window or write the clipboard.
    #[default]
    Sanitized,
    /// Byte for byte (`--raw`), for output the user trusts.
    Raw,
}

/// `prefix` + `line` (sanitised) + `\n`, ready to write in one call (so lines of devices
/// never mix): [`prefixed_line_in`] with [`OutputMode::Sanitized`].
pub fn prefixed_line(prefix: &str, line: &[u8]) -> Vec<u8> {
    prefixed_line_in(OutputMode::Sanitized, prefix, line)
}

/// `prefix` + `line` shown as `mode` says + `\n`, ready to write in one call.
pub fn prefixed_line_in(mode: OutputMode, prefix: &str, line: &[u8]) -> Vec<u8> {
    let shown = match mode {
        OutputMode::Sanitized => Cow::Owned(output_for_terminal(line)),
        OutputMode::Raw => Cow::Borrowed(line),
    };
    let mut out = Vec::with_capacity(prefix.len() + shown.len() + 1);
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(&shown);
    out.push(b'\n');
    out
}

/// How one device's run ended, as `napsh exec --json` prints it (one line per device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecResult {
    /// Device name tag (untrusted; JSON-escaped only).
    pub name: String,
    /// SIM id.
    pub sim_id: String,
    /// Whether the remote command ran and exited 0.
    pub ok: bool,
    /// The remote command's exit code, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it failed, in a few words (`offline`, `exit 3`, `ssh failed`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The napsh error kind, when napsh (not the command) failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<crate::messages::ErrorKind>,
}

/// A failure kind in a few words, for the summary line.
pub fn short_reason(kind: crate::messages::ErrorKind) -> &'static str {
    use crate::messages::ErrorKind as K;
    match kind {
        K::Offline => "offline",
        K::HostKeyChanged => "host key changed",
        K::Ssh => "ssh failed",
        K::PermissionDenied => "permission denied",
        K::RateLimited => "rate limited",
        K::NotFound => "not found",
        K::Timeout => "timed out",
        K::Network => "network error",
        K::NoCredentials | K::AuthFailed => "credentials",
        K::Config | K::UnknownDevice | K::AmbiguousDevice => "configuration",
        K::Api => "API error",
        K::Internal => "internal error",
    }
}

/// `"N succeeded, M failed: a (reason), b (reason)"`; `labels` and `results` are parallel.
/// Reasons are sanitised here.
pub fn summary(labels: &[String], results: &[ExecResult]) -> String {
    let failed: Vec<String> = labels
        .iter()
        .zip(results)
        .filter(|(_, r)| !r.ok)
        .map(|(l, r)| {
            format!(
                "{l} ({})",
                for_terminal(r.reason.as_deref().unwrap_or("failed"))
            )
        })
        .collect();
    let ok = results.len() - failed.len();
    if failed.is_empty() {
        return format!("{ok} succeeded, 0 failed");
    }
    format!(
        "{ok} succeeded, {} failed: {}",
        failed.len(),
        failed.join(", ")
    )
}

/// The exit code of a fan-out: 0 when every device succeeded, else [`SOME_FAILED_EXIT`].
pub fn exit_code(results: &[ExecResult]) -> i32 {
    if results.iter().all(|r| r.ok) {
        0
    } else {
        SOME_FAILED_EXIT
    }
}

/// A file name stem for a device's logs that is safe whatever the name tag holds: ASCII
/// letters, digits, `-`, `_` and `.` kept (others become `_`), no leading dot, at most 40
/// characters, then `_` and the SIM id's safe form (unique per device).
pub fn log_file_stem(name: &str, sim_id: &str) -> String {
    let safe = |s: &str, max: usize| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .take(max)
            .collect::<String>()
            .trim_start_matches('.')
            .to_string()
    };
    let name = safe(name, 40);
    let sim = safe(sim_id, 40);
    if name.is_empty() {
        sim
    } else {
        format!("{name}_{sim}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raw_splitter_keeps_the_cr_of_a_crlf_line_end() {
        let mut raw = LineSplitter::for_mode(OutputMode::Raw);
        assert_eq!(
            raw.push(b"a\r\nb\rc\n"),
            [b"a\r".to_vec(), b"b\rc".to_vec()]
        );
        let mut shown = LineSplitter::for_mode(OutputMode::Sanitized);
        assert_eq!(shown.push(b"a\r\n"), [b"a".to_vec()]);
    }
    use rstest::rstest;

    fn src<'a>(name: &'a str, sim_id: &'a str) -> LabelSource<'a> {
        LabelSource { name, sim_id }
    }

    #[test]
    fn labels_are_sanitised_unique_and_fall_back_to_sim_id() {
        let got = labels(&[
            src("a\x1b[31mred", "1"),
            src("", "8981"),
            src("twin", "2"),
            src("twin", "3"),
            src(&"x".repeat(100), "4"),
        ]);
        assert_eq!(got[0], "a\\e[31mred");
        assert_eq!(got[1], "8981");
        assert_eq!(got[2], "twin@2");
        assert_eq!(got[3], "twin@3");
        assert_eq!(got[4].chars().count(), LABEL_MAX_CHARS);
    }

    #[test]
    fn prefixes_align_by_display_width() {
        let p = prefixes(&["a".into(), "東京".into(), "abc".into()]);
        assert_eq!(p, ["[a]    ", "[東京] ", "[abc]  "]);
    }

    #[test]
    fn splitter_keeps_partial_lines_until_complete() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"hel"), Vec::<Vec<u8>>::new());
        assert_eq!(s.push(b"lo\nwor"), vec![b"hello".to_vec()]);
        assert_eq!(s.push(b"ld\r\n\nx"), vec![b"world".to_vec(), b"".to_vec()]);
        assert_eq!(s.finish(), Some(b"x".to_vec()));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn splitter_cuts_endless_lines() {
        let mut s = LineSplitter::default();
        let lines = s.push(&vec![b'a'; MAX_LINE_BYTES + 10]);
        assert_eq!(lines.len(), 1);
        assert_eq!(s.finish().map(|r| r.len()), Some(10));
    }

    #[test]
    fn prefixed_line_is_one_buffer() {
        assert_eq!(prefixed_line("[a] ", b"x"), b"[a] x\n");
    }

    // Issue 12: what a device prints must not move the cursor, retitle the window or write
    // the clipboard; SGR colours are kept (and reset at the end of the line).
    #[rstest]
    #[case::carriage_return_forgery(b"ok\r[other] fake", b"[a] ok\\r[other] fake\n")]
    #[case::osc_title(b"\x1b]0;pwned\x07x", b"[a] \\e]0;pwned\\u{7}x\n")]
    #[case::osc52_clipboard(b"\x1b]52;c;ZXZpbA==\x1b\\", b"[a] \\e]52;c;ZXZpbA==\\e\\\n")]
    #[case::cursor_up(b"\x1b[1A\x1b[2K[b] x", b"[a] \\e[1A\\e[2K[b] x\n")]
    #[case::sgr_kept(b"\x1b[1;31mred\x1b[0m", b"[a] \x1b[1;31mred\x1b[0m\x1b[0m\n")]
    #[case::truecolour_kept(b"\x1b[38;2;1;2;3mc", b"[a] \x1b[38;2;1;2;3mc\x1b[0m\n")]
    #[case::c1_csi("a\u{9b}2J".as_bytes(), b"[a] a\\u{9b}2J\n")]
    #[case::raw_c1_byte(b"a\x9b2J", b"[a] a\\x9b2J\n")]
    #[case::backspace_bell_dcs(b"\x08\x07\x1bPq\x1b\\", b"[a] \\u{8}\\u{7}\\ePq\\e\\\n")]
    #[case::tab_and_unicode("\t東京 \u{202e}x".as_bytes(), "[a] \t東京 \\u{202e}x\n".as_bytes())]
    #[case::unfinished_sgr(b"x\x1b[31", b"[a] x\\e[31\n")]
    fn prefixed_lines_keep_only_colours(#[case] line: &[u8], #[case] want: &[u8]) {
        let got = prefixed_line("[a] ", line);
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
        assert_eq!(prefixed_line_in(OutputMode::Sanitized, "[a] ", line), got);
    }

    #[test]
    fn raw_mode_is_byte_exact() {
        let line = b"\x1b]0;t\x07\r\xff";
        let mut want = b"[a] ".to_vec();
        want.extend_from_slice(line);
        want.push(b'\n');
        assert_eq!(prefixed_line_in(OutputMode::Raw, "[a] ", line), want);
    }

    fn result(ok: bool, reason: Option<&str>) -> ExecResult {
        ExecResult {
            name: "n".into(),
            sim_id: "s".into(),
            ok,
            exit_code: None,
            reason: reason.map(Into::into),
            error_kind: None,
        }
    }

    #[test]
    fn summary_names_failures_with_reasons() {
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let results = [
            result(true, None),
            result(false, Some("offline")),
            result(false, Some("exit 3\x1b")),
        ];
        assert_eq!(
            summary(&labels, &results),
            "1 succeeded, 2 failed: b (offline), c (exit 3\\e)"
        );
        assert_eq!(exit_code(&results), SOME_FAILED_EXIT);
        assert_eq!(
            summary(&labels[..1], &results[..1]),
            "1 succeeded, 0 failed"
        );
        assert_eq!(exit_code(&results[..1]), 0);
    }

    #[test]
    fn reasons_are_short() {
        use crate::messages::ErrorKind;
        assert_eq!(short_reason(ErrorKind::Offline), "offline");
        assert_eq!(short_reason(ErrorKind::Ssh), "ssh failed");
    }

    #[rstest]
    #[case::plain("kiosk-12", "8981", "kiosk-12_8981")]
    #[case::traversal("../../etc/passwd", "8981", "_.._etc_passwd_8981")]
    #[case::hidden(".bashrc", "1", "bashrc_1")]
    #[case::control("a\x1b[2J/b", "1", "a__2J_b_1")]
    #[case::unnamed("", "8981", "8981")]
    #[case::unicode("東京", "1", "___1")]
    fn log_file_stems_are_safe(#[case] name: &str, #[case] sim: &str, #[case] want: &str) {
        let stem = log_file_stem(name, sim);
        assert_eq!(stem, want);
        assert!(!stem.contains('/') && !stem.starts_with('.'));
    }
}
