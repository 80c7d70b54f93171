//! Fuzz: what a device prints under `napsh exec` (core::fanout), split into lines at any
//! chunk boundary and prefixed. A sanitised line is UTF-8, starts with the prefix, ends with
//! its only newline, and holds nothing a terminal acts on but SGR colours (no CR to forge
//! another device's line, no cursor movement, OSC, DCS, C1, bidi); a raw line is byte-exact.
//! Input: the first byte picks where the stream is cut into two chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use napsh_core::fanout::{prefixed_line, prefixed_line_in, LineSplitter, OutputMode};
use napsh_core::sanitize::is_unsafe;

const PREFIX: &str = "[dev] ";

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let (a, b) = stream.split_at(usize::from(cut).min(stream.len()));
    let mut splitter = LineSplitter::default();
    let mut lines = splitter.push(a);
    lines.extend(splitter.push(b));
    lines.extend(splitter.finish());
    for line in &lines {
        assert_inert(&prefixed_line(PREFIX, line));
        let raw = prefixed_line_in(OutputMode::Raw, PREFIX, line);
        assert_eq!(raw, [PREFIX.as_bytes(), line, b"\n"].concat());
    }
});

/// A sanitised line: prefix, then text whose only escape sequences are SGR, then `\n`.
fn assert_inert(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("sanitised output is UTF-8");
    let body = text
        .strip_prefix(PREFIX)
        .and_then(|t| t.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{text:?}"));
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b' {
            let params = rest
                .strip_prefix("\x1b[")
                .unwrap_or_else(|| panic!("{body:?}"));
            let end = params
                .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
                .unwrap_or_else(|| panic!("{body:?}"));
            assert_eq!(params.as_bytes()[end], b'm', "{body:?}");
            rest = &params[end + 1..];
            continue;
        }
        assert!(c == '\t' || !is_unsafe(c), "{c:?} in {body:?}");
        rest = &rest[c.len_utf8()..];
    }
}
